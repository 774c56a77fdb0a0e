/* Redaction at ingest (SPEC §8): built-in patterns (Orcheo's and the shapes
 * they miss), operator PCRE2 patterns and key globs, applied before anything
 * indexes or stores a span, resource or scope.
 *
 * The decision is made on the bytes that will be stored, never on a view: a
 * walk over the protobuf encoding, guided by the OTLP schema, judges every
 * string a message carries (names, status messages, trace_state, attribute
 * string and bytes values of spans, events, links, resources and scopes, at
 * any depth), every byte of each, NULs included. A length-delimited field the
 * schema does not know (from a newer OTLP, or smuggled in) cannot be read as
 * anything; its raw bytes are judged by the patterns and the field is dropped
 * when one matches. When nothing changes the bytes are kept as they are (no
 * copy); otherwise the message is written again around the replaced fields, and
 * the views are decoded from the new bytes, so indexes see what is stored. */
#include "otlp_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RULES 64
#define REDACTED "[REDACTED]"
/* Deeper than any message the decoders take (they bound AnyValue nesting; a
 * level of it is up to three messages: AnyValue, KeyValueList, KeyValue). */
#define MAX_WALK_DEPTH (3 * OTLP_MAX_VALUE_DEPTH + 16)

/* What every match of a rule holds, so most values skip the regex: a byte of
 * each group (bitmasks over the redactor's needle bytes; none: no filter), and
 * a literal in any case (NULL: none). */
typedef struct {
    pcre2_code *re;
    const char *replacement; /* "$1$2 [REDACTED]" keeps a secret's label */
    uint32_t need[2];
    const char *literal;
} rule_t;

#define MAX_NEEDLES 32

struct otlp_redactor {
    rule_t rules[MAX_RULES];
    size_t n_rules;
    char needle[MAX_NEEDLES]; /* the distinct needle bytes of all rules (bit i of need: needle[i]) */
    size_t n_needles;
    uint32_t needle_bit[256]; /* by byte: its bit in need (0: no rule asks for it) */
    uint32_t first_needles;   /* every rule's first group, when every rule has one (0: some rule has none) */
    char **globs; /* NULL-terminated (arbor_split_list) */
    size_t n_globs;
};

/* The built-in rules: Orcheo's patterns (reference/orcheo-contract.md §1.6),
 * in its order, then, under `secrets`, the shapes Orcheo's pattern misses: a
 * value with '/', '+', '.' or '~' (base64, paths), a password, a JSON- or
 * Python-quoted key ("api_key": "…"), and an Authorization header's
 * credentials (Bearer, Basic, or bare) inside a value. Needles: groups
 * of bytes separated by '|', each group one a match must hold a byte of. */
static const struct {
    const char *name, *pattern, *replacement, *needles, *literal;
} builtin[] = {
    {"emails", "[A-Z0-9._%+-]+@[A-Z0-9.-]+\\.[A-Z]{2,}", REDACTED, "@", NULL},
    {"ssn", "\\b\\d{3}[-.\\s]?\\d{2}[-.\\s]?\\d{4}\\b", REDACTED, "0123456789", NULL},
    {"cards", "\\b(?:\\d[ -.]?){13,16}\\b", REDACTED, "0123456789", NULL},
    {"secrets", "\\b((?:api|secret|token|key|passw(?:or)?d)[\\w-]*)\\s*([:=])\\s*[A-Z0-9\\-_=+/.~]{8,}",
     "$1$2 " REDACTED, ":=", NULL},
    {"secrets",
     "((['\"])[\\w.-]*(?:api[_-]?key|secret|token|passw(?:or)?d|credential|private[_-]?key)[\\w.-]*\\2\\s*[:=]\\s*"
     "(['\"]))(?!\\[REDACTED\\])(?:(?!\\3)[^\\\\]|\\\\.){8,}?(?=\\3)",
     "$1" REDACTED, ":=|'\"", NULL},
    {"secrets", "\\b((?:proxy-)?authorization['\"]?\\s*[:=]\\s*['\"]?(?:(?:bearer|basic|token|apikey)\\s+)?)"
                "[A-Z0-9\\-._~+/]{8,}=*",
     "$1" REDACTED, ":=", "authorization"},
};

/* The bitmask of needle bytes of one group, registering new bytes; -1 when the
 * redactor has room for no more (the rule then goes unfiltered). */
static int64_t needle_mask(otlp_redactor_t *r, const char *group, size_t len)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < len; i++) {
        const char *at = memchr(r->needle, group[i], r->n_needles);
        if (at == NULL && r->n_needles == MAX_NEEDLES)
            return -1;
        if (at == NULL) {
            at = &r->needle[r->n_needles++];
            r->needle[r->n_needles - 1] = group[i];
            r->needle_bit[(unsigned char)group[i]] = 1u << (r->n_needles - 1);
        }
        mask |= 1u << (at - r->needle);
    }
    return mask;
}

/* A rule's needle groups ("ab|cd"): at most two. */
static void set_needles(otlp_redactor_t *r, rule_t *rule, const char *needles)
{
    for (int g = 0; needles && *needles && g < 2; g++) {
        size_t len = strcspn(needles, "|");
        int64_t mask = needle_mask(r, needles, len);
        if (mask < 0) { /* unfiltered: correct, only slower */
            rule->need[0] = rule->need[1] = 0;
            return;
        }
        rule->need[g] = (uint32_t)mask;
        needles += len + (needles[len] == '|');
    }
}

static int add_rule(otlp_redactor_t *r, const char *pattern, const char *replacement, const char *needles,
                    const char *literal, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE at;
    if (r->n_rules == MAX_RULES) {
        snprintf(err, errlen, "at most %d redaction patterns", MAX_RULES);
        return -1;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "pattern \"%.80s\" at offset %zu: %s", pattern, (size_t)at, (const char *)msg);
        return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter is the fallback */
    rule_t *rule = &r->rules[r->n_rules++];
    *rule = (rule_t){re, replacement, {0, 0}, literal};
    set_needles(r, rule, needles);
    return 0;
}

static int add_builtins(otlp_redactor_t *r, const char *names, char *err, size_t errlen)
{
    char **list = arbor_split_list(names, ", ");
    int rc = 0;
    for (char **p = list; *p && rc == 0; p++) {
        const char *n = *p;
        int found = 0;
        for (size_t i = 0; i < sizeof builtin / sizeof builtin[0] && rc == 0; i++)
            if (strcmp(builtin[i].name, n) == 0) {
                found = 1;
                rc = add_rule(r, builtin[i].pattern, builtin[i].replacement, builtin[i].needles, builtin[i].literal,
                              err, errlen);
            }
        if (!found && strcmp(n, "none") != 0) {
            snprintf(err, errlen, "ARBOR_REDACT: unknown rule \"%.40s\" (secrets, emails, cards, ssn, none)", n);
            rc = -1;
        }
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
        if ((rc = add_rule(r, line, REDACTED, NULL, NULL, why, sizeof why)) != 0)
            snprintf(err, errlen, "ARBOR_REDACT_PATTERNS=%s line %d: %s", path, n, why);
    }
    fclose(f);
    return rc;
}

/* The needle bytes one of which every match of every rule holds (0: a rule has
 * no filter, so a text cannot be ruled out this way). */
static uint32_t first_needles_of(const otlp_redactor_t *r)
{
    uint32_t any = 0;
    for (size_t i = 0; i < r->n_rules; i++) {
        if (r->rules[i].need[0] == 0)
            return 0;
        any |= r->rules[i].need[0];
    }
    return any;
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
    r->first_needles = first_needles_of(r);
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

/* ---- judging one value ---- */

typedef struct {
    const otlp_redactor_t *r;
    arbor_arena_t *arena;
    size_t count; /* values replaced, or fields dropped */
} walk_t;

/* Does a key glob take this key's whole value? A key with a NUL cannot be
 * matched as it is (fnmatch would see a part of it): it fails closed. */
static int key_matches(walk_t *w, arbor_iov_t key)
{
    if (w->r->n_globs == 0)
        return 0;
    if (memchr(key.base, '\0', key.len) != NULL)
        return 1;
    char *k = arbor_arena_dup(w->arena, key.base, key.len); /* any length: NUL-terminated copy */
    if (k == NULL)
        return 1; /* out of memory: cannot judge, so redact */
    for (size_t i = 0; i < w->r->n_globs; i++)
        if (fnmatch(w->r->globs[i], k, 0) == 0)
            return 1;
    return 0;
}

/* Which needle bytes a text holds, found once per text as rules ask. */
typedef struct {
    uint32_t known, present;
} needles_seen_t;

/* Texts this short (attribute keys, names, most values) are read once for
 * every needle byte: cheaper than one memchr per byte asked for. */
#define SHORT_TEXT 48

static needles_seen_t needles_of(const otlp_redactor_t *r, arbor_iov_t text)
{
    needles_seen_t seen = {0, 0};
    if (text.len > SHORT_TEXT)
        return seen; /* found as asked (holds_any) */
    const unsigned char *p = (const unsigned char *)text.base;
    for (size_t i = 0; i < text.len; i++)
        seen.present |= r->needle_bit[p[i]];
    seen.known = ~0u;
    return seen;
}

/* The needle bytes of @p ask not yet looked for, looked for (long texts). */
static void find_needles(const otlp_redactor_t *r, arbor_iov_t text, needles_seen_t *seen, uint32_t ask)
{
    for (; ask; ask &= ask - 1) {
        int i = __builtin_ctz(ask);
        seen->known |= 1u << i;
        if (memchr(text.base, r->needle[i], text.len) != NULL)
            seen->present |= 1u << i;
    }
}

static inline int holds_any(const otlp_redactor_t *r, arbor_iov_t text, needles_seen_t *seen, uint32_t mask)
{
    if (mask & ~seen->known)
        find_needles(r, text, seen, mask & ~seen->known);
    return (seen->present & mask) != 0;
}

/* @p lit (lowercase ASCII) in @p text, in any case. */
static int holds_literal(arbor_iov_t text, const char *lit)
{
    size_t n = strlen(lit);
    for (int c = 0; c < 2; c++) { /* each case of its first letter */
        char first = (char)(c ? lit[0] - 'a' + 'A' : lit[0]);
        for (const char *p = text.base, *end = text.base + text.len; p + n <= end; p++) {
            if ((p = memchr(p, first, (size_t)(end - p))) == NULL || p + n > end)
                break;
            if (strncasecmp(p + 1, lit + 1, n - 1) == 0)
                return 1;
        }
    }
    return 0;
}

/* Could @p rule match @p text at all? (An absent string is judged as "".) */
static inline int may_match(const otlp_redactor_t *r, const rule_t *rule, arbor_iov_t text, needles_seen_t *seen)
{
    if (text.base == NULL)
        text = ARBOR_IOV("");
    for (int g = 0; g < 2; g++)
        if (rule->need[g] && !holds_any(r, text, seen, rule->need[g]))
            return 0;
    return rule->literal == NULL || holds_literal(text, rule->literal);
}

/* One rule over @p text: 1 and *out (arena) when it matched, 0 when it did not,
 * -1 when it could not run (a match or JIT limit, no memory): fail closed. */
static int apply_rule(walk_t *w, const rule_t *rule, arbor_iov_t text, arbor_iov_t *out)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(rule->re, NULL);
    size_t cap = text.len + 64;
    int n = PCRE2_ERROR_NOMEMORY;
    for (int attempt = 0; md && attempt < 2 && n == PCRE2_ERROR_NOMEMORY; attempt++) {
        char *buf = arbor_arena_alloc(w->arena, cap);
        PCRE2_SIZE len = cap;
        if (buf == NULL)
            break;
        n = pcre2_substitute(rule->re, (PCRE2_SPTR)(text.base ? text.base : ""), text.len, 0,
                             PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, md, NULL,
                             (PCRE2_SPTR)rule->replacement, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)buf, &len);
        if (n == PCRE2_ERROR_NOMEMORY) /* len says what it needs */
            cap = len + 1;
        else if (n > 0)
            *out = arbor_iov(buf, len);
    }
    pcre2_match_data_free(md);
    if (n > 0)
        w->count += (size_t)n;
    return n > 0 ? 1 : n == 0 || n == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* Every rule over a string's bytes, in order: 1 and *out when it changed. */
static int judge_text(walk_t *w, arbor_iov_t text, arbor_iov_t *out)
{
    int changed = 0;
    needles_seen_t seen = needles_of(w->r, text);
    if (w->r->first_needles && !holds_any(w->r, text, &seen, w->r->first_needles)) {
        *out = text; /* no rule's needle: no rule can match (most texts) */
        return 0;
    }
    for (size_t i = 0; i < w->r->n_rules; i++) {
        const rule_t *rule = &w->r->rules[i];
        if (!may_match(w->r, rule, text, &seen))
            continue;
        int rc = apply_rule(w, rule, text, &text);
        if (rc < 0) { /* a rule that cannot run decides nothing: the value goes */
            *out = ARBOR_IOV(REDACTED);
            w->count++;
            return 1;
        }
        if (rc > 0) { /* new text: what it holds is found again */
            changed = 1;
            seen = needles_of(w->r, text);
        }
    }
    *out = text;
    return changed;
}

/* ---- would anything change? (the views of a wire-path span) ---- */

/* Could a rule match @p text? Any answer but "no" (a match, or a rule that
 * cannot run) sends the span to the walk over its bytes, which decides. */
static int text_may_change(walk_t *w, arbor_iov_t text)
{
    needles_seen_t seen = needles_of(w->r, text);
    if (w->r->first_needles && !holds_any(w->r, text, &seen, w->r->first_needles))
        return 0; /* no rule's needle: no rule can match (most texts) */
    for (size_t i = 0; i < w->r->n_rules; i++) {
        const rule_t *rule = &w->r->rules[i];
        if (!may_match(w->r, rule, text, &seen))
            continue;
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        int n = md ? pcre2_match(rule->re, (PCRE2_SPTR)(text.base ? text.base : ""), text.len, 0, 0, md, NULL)
                   : PCRE2_ERROR_NOMEMORY;
        pcre2_match_data_free(md);
        if (n != PCRE2_ERROR_NOMATCH)
            return 1;
    }
    return 0;
}

static int attrs_may_change(walk_t *w, const otlp_attrs_t *attrs);

static int value_may_change(walk_t *w, const otlp_value_t *v)
{
    switch (v->type) {
    case OTLP_VALUE_STRING:
    case OTLP_VALUE_BYTES:
        return text_may_change(w, v->u.str);
    case OTLP_VALUE_ARRAY:
        for (size_t i = 0; i < v->u.array.count; i++)
            if (value_may_change(w, &v->u.array.items[i]))
                return 1;
        return 0;
    case OTLP_VALUE_KVLIST:
        return attrs_may_change(w, &v->u.kvlist);
    default:
        return 0;
    }
}

static int attrs_may_change(walk_t *w, const otlp_attrs_t *attrs)
{
    for (size_t i = 0; i < attrs->count; i++)
        if (key_matches(w, attrs->items[i].key) || text_may_change(w, attrs->items[i].key) ||
            value_may_change(w, &attrs->items[i].value))
            return 1;
    return 0;
}

/* Every string the walk over the bytes judges (span_s and its sub-schemas),
 * read from the views instead: the same set, so that "no" is the walk's "no". */
static int span_may_change(walk_t *w, const otlp_span_t *s)
{
    if (text_may_change(w, s->name) || text_may_change(w, s->trace_state) ||
        text_may_change(w, s->status_message) || attrs_may_change(w, &s->attrs))
        return 1;
    for (size_t i = 0; i < s->n_events; i++)
        if (text_may_change(w, s->events[i].name) || attrs_may_change(w, &s->events[i].attrs))
            return 1;
    for (size_t i = 0; i < s->n_links; i++)
        if (text_may_change(w, s->links[i].trace_state) || attrs_may_change(w, &s->links[i].attrs))
            return 1;
    return 0;
}

/* ---- the walk over a message's bytes ---- */

typedef enum { F_UNKNOWN = 0, F_KEEP, F_STRING, F_MESSAGE, F_KEYVALUE } field_kind_t;

typedef struct schema schema_t;
struct schema {
    uint8_t kind[17];           /* by field number (1..16); the rest are F_UNKNOWN */
    const schema_t *sub[17];    /* F_MESSAGE: the message's schema */
    uint32_t repeated;          /* bit n: field n is repeated (else a later copy replaces an earlier one) */
};

static const schema_t any_value_s, array_s, kvlist_s, event_s, link_s, status_s, resource_s, entity_ref_s, scope_s;

static const schema_t any_value_s = {
    {[1] = F_STRING, [2] = F_KEEP, [3] = F_KEEP, [4] = F_KEEP, [5] = F_MESSAGE, [6] = F_MESSAGE, [7] = F_STRING,
     [8] = F_KEEP},
    {[5] = &array_s, [6] = &kvlist_s},
    0};
static const schema_t array_s = {{[1] = F_MESSAGE}, {[1] = &any_value_s}, 1u << 1};
static const schema_t kvlist_s = {{[1] = F_KEYVALUE}, {0}, 1u << 1};
static const schema_t keyvalue_s = {{[1] = F_STRING, [2] = F_MESSAGE, [3] = F_KEEP}, {[2] = &any_value_s}, 0};
static const schema_t event_s = {{[1] = F_KEEP, [2] = F_STRING, [3] = F_KEYVALUE, [4] = F_KEEP}, {0}, 1u << 3};
static const schema_t link_s = {
    {[1] = F_KEEP, [2] = F_KEEP, [3] = F_STRING, [4] = F_KEYVALUE, [5] = F_KEEP, [6] = F_KEEP}, {0}, 1u << 4};
static const schema_t status_s = {{[2] = F_STRING, [3] = F_KEEP}, {0}, 0};
static const schema_t span_s = {
    {[1] = F_KEEP, [2] = F_KEEP, [3] = F_STRING, [4] = F_KEEP, [5] = F_STRING, [6] = F_KEEP, [7] = F_KEEP,
     [8] = F_KEEP, [9] = F_KEYVALUE, [10] = F_KEEP, [11] = F_MESSAGE, [12] = F_KEEP, [13] = F_MESSAGE,
     [14] = F_KEEP, [15] = F_MESSAGE, [16] = F_KEEP},
    {[11] = &event_s, [13] = &link_s, [15] = &status_s},
    1u << 9 | 1u << 11 | 1u << 13};
static const schema_t entity_ref_s = {
    {[1] = F_STRING, [2] = F_STRING, [3] = F_STRING, [4] = F_STRING}, {0}, 1u << 3 | 1u << 4};
static const schema_t resource_s = {
    {[1] = F_KEYVALUE, [2] = F_KEEP, [3] = F_MESSAGE}, {[3] = &entity_ref_s}, 1u << 1 | 1u << 3};
static const schema_t scope_s = {{[1] = F_STRING, [2] = F_STRING, [3] = F_KEYVALUE, [4] = F_KEEP}, {0}, 1u << 3};
/* The stored records: a ResourceSpans / ScopeSpans without children. */
static const schema_t resource_record_s = {{[1] = F_MESSAGE, [3] = F_STRING}, {[1] = &resource_s}, 0};
static const schema_t scope_record_s = {{[1] = F_MESSAGE, [3] = F_STRING}, {[1] = &scope_s}, 0};

/* The bytes of a message written again: grown in the arena. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} out_t;

static int out_put(arbor_arena_t *a, out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = (o->len + n) * 2 + 64;
        uint8_t *grown = arbor_arena_alloc(a, cap);
        if (grown == NULL)
            return ENOMEM;
        if (o->len)
            memcpy(grown, o->buf, o->len);
        o->buf = grown;
        o->cap = cap;
    }
    if (n)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

static int out_varint(arbor_arena_t *a, out_t *o, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return out_put(a, o, b, n);
}

/* A length-delimited field: its tag, its length, its bytes. */
static int out_field(arbor_arena_t *a, out_t *o, uint32_t field, arbor_iov_t bytes)
{
    int rc = out_varint(a, o, ((uint64_t)field << 3) | 2);
    if (rc == 0)
        rc = out_varint(a, o, bytes.len);
    return rc ? rc : out_put(a, o, bytes.base, bytes.len);
}

static int walk_message(walk_t *w, const schema_t *sc, arbor_iov_t in, int depth, arbor_iov_t *out);

static const uint8_t redacted_value[] = {0x0a, sizeof REDACTED - 1, '[', 'R', 'E', 'D', 'A', 'C', 'T', 'E', 'D', ']'};

/* The last key of a KeyValue (protobuf: the last occurrence wins). */
static arbor_iov_t kv_key(arbor_iov_t kv)
{
    cur_t c = cursor(kv);
    field_t f;
    arbor_iov_t key = ARBOR_IOV("");
    while (next_field(&c, &f) == 0)
        if (f.field == 1 && f.type == 2)
            key = f.bytes;
    return key;
}

/* A KeyValue whose key a glob names keeps its key and gets "[REDACTED]" for
 * its whole value, whatever its type (a KeyValue that is exactly that already
 * stays as it is); any other is walked. */
static int walk_keyvalue(walk_t *w, arbor_iov_t in, int depth, arbor_iov_t *out)
{
    arbor_iov_t key = w->r->n_globs ? kv_key(in) : ARBOR_IOV_NULL;
    if (!key_matches(w, key))
        return walk_message(w, &keyvalue_s, in, depth, out);
    out_t o = {0};
    judge_text(w, key, &key); /* the key is a string too */
    int rc = out_field(w->arena, &o, 1, key);
    if (rc == 0)
        rc = out_field(w->arena, &o, 2, arbor_iov(redacted_value, sizeof redacted_value));
    if (rc == 0 && o.len == in.len && memcmp(o.buf, in.base, in.len) == 0) {
        *out = in;
        return 0;
    }
    w->count++;
    *out = arbor_iov(o.buf, o.len);
    return rc;
}

/* One length-delimited field: 0 to keep it (*repl = its bytes), 1 with *repl
 * its new bytes, 2 to drop it, or an error. */
static int judge_field(walk_t *w, const schema_t *sc, const field_t *f, int depth, arbor_iov_t *repl)
{
    field_kind_t kind = f->field < 17 ? (field_kind_t)sc->kind[f->field] : F_UNKNOWN;
    int rc;
    *repl = f->bytes;
    switch (kind) {
    case F_KEEP:
        return 0;
    case F_STRING:
        return judge_text(w, f->bytes, repl);
    case F_MESSAGE:
        rc = walk_message(w, sc->sub[f->field], f->bytes, depth + 1, repl);
        return rc ? rc : repl->base != f->bytes.base;
    case F_KEYVALUE:
        rc = walk_keyvalue(w, f->bytes, depth + 1, repl);
        return rc ? rc : repl->base != f->bytes.base;
    default: { /* unknown to the schema: its bytes are all there is to judge */
        arbor_iov_t judged;
        size_t before = w->count;
        if (!judge_text(w, f->bytes, &judged))
            return 0;
        w->count = before + 1; /* one field dropped, however many matches */
        return 2;
    }
    }
}

/* Walk @p in by @p sc: *out is @p in itself when nothing changed, else the
 * message written again in the arena. 0, ENOMEM, or ARBOR_EDECODE when the
 * bytes cannot be read (the span is then refused: nothing unjudged is stored). */
/* Where the last copy of each singular string or bytes field of @p sc starts in
 * @p in: protobuf reads that one, so an earlier copy (an ID or a string the
 * views never held) is not kept, whatever it says. */
static void last_copies(const schema_t *sc, arbor_iov_t in, const uint8_t *last[17])
{
    cur_t c = cursor(in);
    field_t f;
    for (const uint8_t *at = c.p; next_field(&c, &f) == 0; at = c.p)
        if (f.type == 2 && f.field < 17 && !(sc->repeated >> f.field & 1) &&
            (sc->kind[f.field] == F_STRING || sc->kind[f.field] == F_KEEP))
            last[f.field] = at;
}

/* A field's verdict, as judge_field's; an earlier copy of a singular string or
 * bytes field is dropped (2), unless empty (it hides nothing). */
static int verdict_of(walk_t *w, const schema_t *sc, const field_t *f, const uint8_t *at, const uint8_t *last[17],
                      int depth, arbor_iov_t *repl)
{
    if (f->field < 17 && last[f->field] != NULL && last[f->field] != at && f->bytes.len > 0) {
        w->count++;
        return 2;
    }
    return judge_field(w, sc, f, depth, repl);
}

static int walk_message(walk_t *w, const schema_t *sc, arbor_iov_t in, int depth, arbor_iov_t *out)
{
    if (depth > MAX_WALK_DEPTH)
        return ARBOR_EDECODE;
    out_t o = {0};
    int changed = 0, rc;
    const uint8_t *last[17] = {0};
    last_copies(sc, in, last);
    cur_t c = cursor(in);
    const uint8_t *kept = c.p; /* bytes before this are in o, or unchanged */
    field_t f;
    for (const uint8_t *at = c.p; (rc = next_field(&c, &f)) == 0; at = c.p) {
        if (f.type != 2)
            continue; /* numbers carry no text */
        arbor_iov_t repl;
        int verdict = verdict_of(w, sc, &f, at, last, depth, &repl);
        if (verdict < 0 || verdict > 2)
            return verdict;
        if (verdict == 0)
            continue;
        changed = 1;
        if ((rc = out_put(w->arena, &o, kept, (size_t)(at - kept))) != 0 ||
            (verdict == 1 && (rc = out_field(w->arena, &o, f.field, repl)) != 0))
            return rc;
        kept = c.p;
    }
    if (rc != 1)
        return ARBOR_EDECODE;
    if (!changed) {
        *out = in;
        return 0;
    }
    if ((rc = out_put(w->arena, &o, kept, (size_t)(c.end - kept))) != 0)
        return rc;
    *out = arbor_iov(o.buf ? (const char *)o.buf : "", o.len);
    return 0;
}

/* ---- spans, resources, scopes ---- */

/* The bytes of @p bytes judged: *out, and *count replacements. */
static int redact_bytes(const otlp_redactor_t *r, const schema_t *sc, arbor_iov_t bytes, arbor_arena_t *arena,
                        arbor_iov_t *out, size_t *count)
{
    walk_t w = {r, arena, 0};
    int rc = walk_message(&w, sc, bytes, 0, out);
    *count = w.count;
    return rc;
}

/* A span's bytes as they will be stored: as received (a wire-path span has no
 * message), or encoded from its message. */
static int span_stored_bytes(otlp_span_t *s, arbor_arena_t *arena, arbor_iov_t *out)
{
    if (s->pb == NULL || s->wire.len > 0) {
        *out = s->wire;
        return 0;
    }
    size_t n = otlp_span_packed_size(s);
    uint8_t *b = arbor_arena_alloc(arena, n ? n : 1);
    if (b == NULL)
        return ENOMEM;
    *out = arbor_iov(b, otlp_span_pack(s, b));
    return 0;
}

int otlp_span_redact(const otlp_redactor_t *r, otlp_span_t *s, arbor_arena_t *arena, size_t *count)
{
    *count = 0;
    if (r == NULL)
        return 0;
    /* A span read by the wire decoder has views of every string byte it carries
     * unless it says otherwise (unread_bytes): when no rule could match them,
     * the walk would change nothing, and is skipped. Anything else is walked. */
    walk_t w = {r, arena, 0};
    if (s->pb == NULL && !s->unread_bytes && !span_may_change(&w, s))
        return 0;
    return otlp_span_redact_walk(r, s, arena, count);
}

int otlp_span_redact_walk(const otlp_redactor_t *r, otlp_span_t *s, arbor_arena_t *arena, size_t *count)
{
    arbor_iov_t bytes, judged;
    int rc;
    *count = 0;
    if ((rc = span_stored_bytes(s, arena, &bytes)) != 0 ||
        (rc = redact_bytes(r, &span_s, bytes, arena, &judged, count)) != 0)
        return rc;
    if (judged.base == bytes.base) {
        s->wire = bytes; /* stored as judged (an encoded message is not encoded twice) */
        return 0;
    }
    otlp_span_t again; /* the views of what is stored: indexes and tokens read them */
    if ((rc = otlp_span_decode(arena, judged.base, judged.len, &again)) != 0)
        return rc;
    *s = again;
    return 0;
}

/* A record's bytes judged in place: *changed says whether *record is new bytes. */
static int redact_record(const otlp_redactor_t *r, const schema_t *sc, arbor_iov_t *record, arbor_arena_t *arena,
                         size_t *count, int *changed)
{
    arbor_iov_t judged;
    int rc = redact_bytes(r, sc, *record, arena, &judged, count);
    *changed = rc == 0 && judged.base != record->base;
    if (*changed)
        *record = judged;
    return rc;
}

/* A record's bytes in the arena: @p n of them, written by @p pack. */
#define RECORD_BYTES(ARENA, REC, SIZE_FN, PACK_FN)                                                                \
    do {                                                                                                           \
        if ((REC)->record.base == NULL) {                                                                          \
            size_t n_ = SIZE_FN(REC);                                                                              \
            uint8_t *b_ = arbor_arena_alloc(ARENA, n_ ? n_ : 1);                                                   \
            if (b_ == NULL)                                                                                        \
                return ENOMEM;                                                                                     \
            (REC)->record = arbor_iov(b_, PACK_FN(REC, b_));                                                       \
        }                                                                                                          \
    } while (0)

int otlp_resource_redact(const otlp_redactor_t *r, otlp_resource_t *res, arbor_arena_t *arena, size_t *count)
{
    int rc, changed;
    *count = 0;
    if (r == NULL)
        return 0;
    RECORD_BYTES(arena, res, otlp_resource_record_size, otlp_resource_record_pack);
    arbor_iov_t record = res->record;
    if ((rc = redact_record(r, &resource_record_s, &record, arena, count, &changed)) != 0 || !changed)
        return rc;
    rc = otlp_resource_record_decode(arena, record.base, record.len, res); /* the views of what is stored */
    res->record = record;
    return rc;
}

int otlp_scope_redact(const otlp_redactor_t *r, otlp_scope_t *scope, arbor_arena_t *arena, size_t *count)
{
    int rc, changed;
    *count = 0;
    if (r == NULL)
        return 0;
    RECORD_BYTES(arena, scope, otlp_scope_record_size, otlp_scope_record_pack);
    arbor_iov_t record = scope->record;
    if ((rc = redact_record(r, &scope_record_s, &record, arena, count, &changed)) != 0 || !changed)
        return rc;
    rc = otlp_scope_record_decode(arena, record.base, record.len, scope);
    scope->record = record;
    return rc;
}

int otlp_text_redact(const otlp_redactor_t *r, arbor_iov_t text, arbor_arena_t *arena, arbor_iov_t *out,
                     size_t *count)
{
    walk_t w = {r, arena, 0};
    *out = text;
    *count = 0;
    if (r != NULL)
        judge_text(&w, text, out);
    *count = w.count;
    return 0;
}
