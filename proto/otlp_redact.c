/* Redaction at ingest (SPEC §8): Orcheo's built-in patterns, operator PCRE2
 * patterns and key globs, applied to every string value of a span's attributes
 * and its events' attributes (nested arrays and maps too) before anything
 * indexes or stores the span. The view and protobuf-c's message change together,
 * and the span is packed again, so its bytes as received are never stored. */
#include "otlp_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 64
#define REDACTED "[REDACTED]"

typedef struct {
    pcre2_code *re;
    const char *replacement; /* "$1$2 [REDACTED]" keeps a secret's label */
    const char *needles;     /* every match holds one of these bytes (NULL: no filter): most values skip the regex */
} rule_t;

struct otlp_redactor {
    rule_t rules[MAX_RULES];
    size_t n_rules;
    char **globs; /* NULL-terminated (arbor_split_list) */
    size_t n_globs;
};

/* Orcheo's patterns (reference/orcheo-contract.md §1.6), in its order. */
static const struct {
    const char *name, *pattern, *replacement, *needles;
} builtin[] = {
    {"emails", "[A-Z0-9._%+-]+@[A-Z0-9.-]+\\.[A-Z]{2,}", REDACTED, "@"},
    {"ssn", "\\b\\d{3}[-.\\s]?\\d{2}[-.\\s]?\\d{4}\\b", REDACTED, "0123456789"},
    {"cards", "\\b(?:\\d[ -.]?){13,16}\\b", REDACTED, "0123456789"},
    {"secrets", "\\b((?:api|secret|token|key)[\\w-]*)\\s*([:=])\\s*[A-Z0-9\\-_=]{8,}", "$1$2 " REDACTED, ":="},
};

static int add_rule(otlp_redactor_t *r, const char *pattern, const char *replacement, const char *needles, char *err,
                    size_t errlen)
{
    int code;
    PCRE2_SIZE at;
    if (r->n_rules == MAX_RULES) {
        snprintf(err, errlen, "at most %d redaction patterns", MAX_RULES);
        return -1;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at,
                                   NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "pattern \"%.80s\" at offset %zu: %s", pattern, (size_t)at, (const char *)msg);
        return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter is the fallback */
    r->rules[r->n_rules++] = (rule_t){re, replacement, needles};
    return 0;
}

static int add_builtins(otlp_redactor_t *r, const char *names, char *err, size_t errlen)
{
    char **list = arbor_split_list(names, ", ");
    int rc = 0;
    for (char **p = list; *p && rc == 0; p++) {
        const char *n = *p;
        size_t i = 0;
        while (i < sizeof builtin / sizeof builtin[0] && strcmp(builtin[i].name, n) != 0)
            i++;
        if (i == sizeof builtin / sizeof builtin[0]) {
            snprintf(err, errlen, "ARBOR_REDACT: unknown rule \"%.40s\" (secrets, emails, cards, ssn, none)", n);
            rc = strcmp(n, "none") == 0 ? 0 : -1;
            continue;
        }
        rc = add_rule(r, builtin[i].pattern, builtin[i].replacement, builtin[i].needles, err, errlen);
    }
    free(list);
    return rc;
}

static int add_pattern_file(otlp_redactor_t *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096], why[300];
    int rc = 0, n = 0;
    if (f == NULL) {
        snprintf(err, errlen, "ARBOR_REDACT_PATTERNS=%s: cannot be read", path);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        n++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if ((rc = add_rule(r, line, REDACTED, NULL, why, sizeof why)) != 0)
            snprintf(err, errlen, "ARBOR_REDACT_PATTERNS=%s line %d: %s", path, n, why);
    }
    fclose(f);
    return rc;
}

int otlp_redactor_new(const char *rules, const char *patterns_file, const char *key_globs, otlp_redactor_t **out,
                      char *err, size_t errlen)
{
    otlp_redactor_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL || add_builtins(r, rules, err, errlen) != 0 ||
        (patterns_file && patterns_file[0] && add_pattern_file(r, patterns_file, err, errlen) != 0)) {
        otlp_redactor_free(r);
        return ARBOR_ECONFIG;
    }
    r->globs = arbor_split_list(key_globs, ", ");
    while (r->globs[r->n_globs])
        r->n_globs++;
    if (r->n_rules == 0 && r->n_globs == 0) { /* nothing to do: no redactor at all */
        otlp_redactor_free(r);
        return 0;
    }
    *out = r;
    return 0;
}

void otlp_redactor_free(otlp_redactor_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_rules; i++)
        pcre2_code_free(r->rules[i].re);
    free(r->globs);
    free(r);
}

/* ---- applying ---- */

typedef struct {
    const otlp_redactor_t *r;
    arbor_arena_t *arena;
    size_t count;
    int failed; /* ENOMEM */
} walk_t;

static int key_matches(const otlp_redactor_t *r, arbor_iov_t key)
{
    char k[256];
    if (r->n_globs == 0 || key.len >= sizeof k)
        return 0;
    memcpy(k, key.base, key.len);
    k[key.len] = '\0';
    for (size_t i = 0; i < r->n_globs; i++)
        if (fnmatch(r->globs[i], k, 0) == 0)
            return 1;
    return 0;
}

/* One rule over @p text (NUL-terminated, in the arena); the result replaces it. */
static char *apply_rule(walk_t *w, const rule_t *rule, char *text, size_t *len)
{
    if (rule->needles && strcspn(text, rule->needles) >= *len) /* NUL-terminated: no byte of them */
        return text;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(rule->re, NULL);
    size_t cap = *len + 64;
    for (int attempt = 0; md && attempt < 2; attempt++) {
        char *out = arbor_arena_alloc(w->arena, cap);
        PCRE2_SIZE out_len = cap;
        if (out == NULL)
            break;
        int n = pcre2_substitute(rule->re, (PCRE2_SPTR)text, *len, 0,
                                 PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, md, NULL,
                                 (PCRE2_SPTR)rule->replacement, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)out, &out_len);
        if (n == PCRE2_ERROR_NOMEMORY) { /* out_len says what it needs */
            cap = out_len + 1;
            continue;
        }
        pcre2_match_data_free(md);
        if (n <= 0) /* no match, or a UTF error: the value stays */
            return text;
        w->count += (size_t)n;
        *len = out_len;
        return out;
    }
    pcre2_match_data_free(md);
    w->failed = 1;
    return text;
}

static void redact_value(walk_t *w, otlp_value_t *v, pb_any_t *pb, int whole);

static void redact_attrs(walk_t *w, otlp_attrs_t *view, pb_kv_t **pb, size_t n_pb)
{
    for (size_t i = 0; i < view->count && i < n_pb; i++)
        redact_value(w, &view->items[i].value, pb[i]->value, key_matches(w->r, view->items[i].key));
}

/* @p whole: the key matched a glob, so the value goes entirely (any type). */
static void redact_value(walk_t *w, otlp_value_t *v, pb_any_t *pb, int whole)
{
    if (pb == NULL)
        return;
    if (whole) {
        pb->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        pb->string_value = REDACTED;
        memset(v, 0, sizeof *v);
        v->type = OTLP_VALUE_STRING;
        v->u.str = ARBOR_IOV(REDACTED);
        w->count++;
        return;
    }
    if (v->type == OTLP_VALUE_ARRAY && pb->array_value) {
        for (size_t i = 0; i < v->u.array.count && i < pb->array_value->n_values; i++)
            redact_value(w, &v->u.array.items[i], pb->array_value->values[i], 0);
    } else if (v->type == OTLP_VALUE_KVLIST && pb->kvlist_value) {
        redact_attrs(w, &v->u.kvlist, pb->kvlist_value->values, pb->kvlist_value->n_values);
    } else if (v->type == OTLP_VALUE_STRING && v->u.str.len > 0) {
        char *text = pb->string_value;
        size_t len = v->u.str.len;
        for (size_t i = 0; i < w->r->n_rules; i++)
            text = apply_rule(w, &w->r->rules[i], text, &len);
        pb->string_value = text;
        v->u.str = arbor_iov(text, len);
    }
}

/* ---- would anything change? (the views alone, for a wire-path span) ---- */

static void count_attrs(walk_t *w, const otlp_attrs_t *view);

/* Stops at the first match: that sends the span to protobuf-c for its message
 * and to the walk above, which changes both. */
static void count_value(walk_t *w, const otlp_value_t *v, int whole)
{
    if (w->count > 0)
        return;
    if (whole) {
        w->count++;
    } else if (v->type == OTLP_VALUE_ARRAY) {
        for (size_t i = 0; i < v->u.array.count; i++)
            count_value(w, &v->u.array.items[i], 0);
    } else if (v->type == OTLP_VALUE_KVLIST) {
        count_attrs(w, &v->u.kvlist);
    } else if (v->type == OTLP_VALUE_STRING && v->u.str.len > 0) {
        size_t len = v->u.str.len; /* strings are NUL-terminated arena copies, as the rules need */
        for (size_t i = 0; i < w->r->n_rules && w->count == 0; i++)
            apply_rule(w, &w->r->rules[i], (char *)v->u.str.base, &len);
    }
}

static void count_attrs(walk_t *w, const otlp_attrs_t *view)
{
    for (size_t i = 0; i < view->count && w->count == 0; i++)
        count_value(w, &view->items[i].value, key_matches(w->r, view->items[i].key));
}

/* Would redaction change the span? 0 or ENOMEM. */
static int would_redact(const otlp_redactor_t *r, const otlp_span_t *s, arbor_arena_t *arena, int *yes)
{
    walk_t w = {r, arena, 0, 0};
    count_attrs(&w, &s->attrs);
    for (size_t e = 0; e < s->n_events && w.count == 0; e++)
        count_attrs(&w, &s->events[e].attrs);
    *yes = w.count > 0;
    return w.failed ? ENOMEM : 0;
}

int otlp_span_redact(const otlp_redactor_t *r, otlp_span_t *s, arbor_arena_t *arena, size_t *count)
{
    int rc, yes;
    *count = 0;
    if (r == NULL)
        return 0;
    if (s->pb == NULL) { /* a wire-path span: unpacked only if something changes */
        if ((rc = would_redact(r, s, arena, &yes)) != 0 || !yes)
            return rc;
        if ((rc = otlp_span_ensure_pb(arena, s)) != 0)
            return rc;
    }
    pb_span_t *pb = (pb_span_t *)s->pb;
    walk_t w = {r, arena, 0, 0};
    redact_attrs(&w, &s->attrs, pb->attributes, pb->n_attributes);
    for (size_t e = 0; e < s->n_events && e < pb->n_events; e++)
        redact_attrs(&w, &s->events[e].attrs, pb->events[e]->attributes, pb->events[e]->n_attributes);
    if (w.count > 0)
        s->wire = ARBOR_IOV_NULL; /* the bytes as received still hold it: pack the span again */
    *count = w.count;
    return w.failed ? ENOMEM : 0;
}
