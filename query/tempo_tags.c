/* Tempo's tag routes: tag names (v1 one list, v2 by scope) and a tag's values
 * (v1 strings, v2 typed). Without q they come from the tag catalog; with q, from
 * the spans q matches, walked as search walks traces (window, bloom hints,
 * budget, "partial"), so Grafana's dependent dropdowns narrow as they should. */
#include "tempo_internal.h"

#include "arbor/map64.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- distinct names and values, sorted when written ---- */

typedef struct {
    char type; /* names: 0; values: 'b' bool, 'f' float, 'i' int, 'k' keyword, 's' string */
    int64_t i; /* bool, int: for numeric order */
    double d;  /* float */
    char *text;
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap, limit;
    arbor_map64_t seen; /* hash of (type, text) -> index + 1 (a colliding entry is just kept twice) */
} distinct_t;

static void distinct_init(distinct_t *s, size_t limit)
{
    memset(s, 0, sizeof *s);
    s->limit = limit;
    arbor_map64_init(&s->seen);
}

static void distinct_free(distinct_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    free(s->v);
    arbor_map64_free(&s->seen);
    memset(s, 0, sizeof *s);
}

static int is_same(const entry_t *e, char type, arbor_iov_t text)
{
    return e->type == type && strlen(e->text) == text.len && memcmp(e->text, text.base, text.len) == 0;
}

/* Take @p text unless it is there; 1 once the set holds its limit (then it takes nothing more). */
static int distinct_add(distinct_t *s, char type, arbor_iov_t text, int64_t i, double d)
{
    if (s->n >= s->limit)
        return 1;
    int added;
    uint64_t *slot = arbor_map64_put(&s->seen, arbor_hash_id(text.base, text.len) ^ (uint64_t)(uint8_t)type, &added);
    if (slot != NULL && !added && is_same(&s->v[*slot - 1], type, text))
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = arbor_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    entry_t *e = &s->v[s->n];
    *e = (entry_t){type, i, d, arbor_xmalloc(text.len + 1)};
    if (text.len)
        memcpy(e->text, text.base, text.len);
    e->text[text.len] = '\0';
    if (slot != NULL && added)
        *slot = ++s->n;
    else
        s->n++;
    return s->n >= s->limit;
}

static int add_name(void *ctx, arbor_iov_t key)
{
    return distinct_add(ctx, 0, key, 0, 0);
}

/* Names alphabetically; values by type (bool, float, int, keyword, string),
 * numbers by value, strings alphabetically. */
static int cmp_entries(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->type == 'b' || a->type == 'i')
        return (a->i > b->i) - (a->i < b->i);
    if (a->type == 'f')
        return (a->d > b->d) - (a->d < b->d);
    return strcmp(a->text, b->text);
}

/* Sorted and unique, as a JSON array: names, v1 values as strings, v2 values as
 * {"type", "value"}. */
static void write_entries(jsonw_t *w, distinct_t *s, int typed)
{
    static const struct {
        char t;
        const char *name;
    } types[] = {{'b', "bool"}, {'f', "float"}, {'i', "int"}, {'k', "keyword"}, {'s', "string"}};
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_entries);
    jsonw_array(w);
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0 && cmp_entries(&s->v[i], &s->v[i - 1]) == 0)
            continue;
        if (!typed) {
            jsonw_cstr(w, s->v[i].text);
            continue;
        }
        const char *type = "string";
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            if (types[k].t == s->v[i].type)
                type = types[k].name;
        jsonw_object(w);
        jsonw_key_lit(w, "type");
        jsonw_cstr(w, type);
        jsonw_key_lit(w, "value");
        jsonw_cstr(w, s->v[i].text);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* ---- values as the tag routes print them ---- */

static int add_catalog_value(void *ctx, const arbor_attr_value_t *v)
{
    char buf[40];
    switch (v->type) {
    case ARBOR_VAL_STRING:
        return distinct_add(ctx, 's', v->str, 0, 0);
    case ARBOR_VAL_INT:
        return distinct_add(ctx, 'i', arbor_iov(buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)v->i)), v->i, 0);
    case ARBOR_VAL_DOUBLE: { /* the shortest text that reads back as the same double */
        int n = snprintf(buf, sizeof buf, "%.15g", v->d);
        if (strtod(buf, NULL) != v->d)
            n = snprintf(buf, sizeof buf, "%.17g", v->d);
        return distinct_add(ctx, 'f', arbor_iov(buf, (size_t)n), 0, v->d);
    }
    case ARBOR_VAL_BOOL:
        return distinct_add(ctx, 'b', v->i ? ARBOR_IOV("true") : ARBOR_IOV("false"), v->i != 0, 0);
    default:
        return 0;
    }
}

/* A span's value: a scalar, or each scalar element of an array (a map has none). */
static int add_span_value(distinct_t *s, const otlp_value_t *v)
{
    arbor_attr_value_t a = {0};
    switch (v->type) {
    case OTLP_VALUE_STRING:
        a.type = ARBOR_VAL_STRING, a.str = v->u.str;
        break;
    case OTLP_VALUE_INT:
        a.type = ARBOR_VAL_INT, a.i = v->u.i;
        break;
    case OTLP_VALUE_DOUBLE:
        a.type = ARBOR_VAL_DOUBLE, a.d = v->u.d;
        break;
    case OTLP_VALUE_BOOL:
        a.type = ARBOR_VAL_BOOL, a.i = v->u.boolean;
        break;
    case OTLP_VALUE_ARRAY: {
        int full = 0;
        for (size_t i = 0; i < v->u.array.count && !full; i++)
            if (v->u.array.items[i].type != OTLP_VALUE_ARRAY)
                full = add_span_value(s, &v->u.array.items[i]);
        return full;
    }
    default:
        return 0;
    }
    return add_catalog_value(s, &a);
}

/* ---- what q narrows to ---- */

enum { SC_RESOURCE, SC_SPAN, SC_EVENT, SC_LINK, N_SCOPES };
static const struct {
    const char *name;
    arbor_attr_scope_t scope;
} scopes[N_SCOPES] = {{"resource", ARBOR_SCOPE_RESOURCE},
                      {"span", ARBOR_SCOPE_SPAN},
                      {"event", ARBOR_SCOPE_EVENT},
                      {"link", ARBOR_SCOPE_LINK}};

/* The query that narrows the answer, or NULL: none, one that matches every span,
 * or one that does not parse (Grafana sends incomplete ones while a person
 * types, { resource.cluster = }; Tempo answers those from everything). */
static tq_query_t *narrowing_query(arbor_iov_t text)
{
    char err[256];
    tq_query_t *q = text.len ? tq_parse(text, err, sizeof err) : NULL;
    if (q != NULL && tq_matches_all(q)) {
        tq_free(q);
        q = NULL;
    }
    return q;
}

/* Each matched span, decoded; NULL past the last. *i is the cursor. */
static const tq_span_t *next_matched(tq_trace_t *t, const uint8_t *matched, size_t *i)
{
    for (; *i < t->n; (*i)++) {
        const tq_span_t *sp = &t->spans[*i];
        if (matched[*i] && sp->rec != NULL && (sp->span != NULL || t->decode(t->ctx, *i) == 0))
            return &t->spans[(*i)++];
    }
    return NULL;
}

static int walk(arbor_reader_t *r, const tempo_tags_params_t *p, const tq_query_t *q,
                int (*hit)(void *, tq_trace_t *, const uint8_t *, size_t, const arbor_trace_summary_t *), void *ctx,
                int *aborted)
{
    tempo_walk_t wk = {.q = q, .start_s = p->start_s, .end_s = p->end_s, .budget = p->budget, .hit = hit, .hit_ctx = ctx};
    int rc = tempo_walk(r, &wk);
    *aborted = wk.aborted;
    return rc;
}

/* ---- tag names ---- */

static const char *const intrinsic_tags[] = {
    "duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration",
    "span:duration", "span:kind", "span:name", "span:status", "span:statusMessage", "trace:duration",
    "trace:rootName", "trace:rootService", NULL};

typedef struct {
    distinct_t *into[N_SCOPES]; /* where each scope's keys go; NULL: not asked for */
} names_walk_t;

static int add_keys(distinct_t *s, const otlp_attrs_t *attrs)
{
    int full = 0;
    for (size_t i = 0; i < attrs->count && !full; i++)
        full = add_name(s, attrs->items[i].key);
    return full;
}

/* Keys of the matched spans' attributes, by scope. 1 once every list is full. */
static int names_hit(void *ctx, tq_trace_t *t, const uint8_t *matched, size_t n, const arbor_trace_summary_t *sum)
{
    names_walk_t *nw = ctx;
    const otlp_resource_t *last_res = NULL; /* spans of a trace share a resource: its keys once */
    const tq_span_t *sp;
    (void)n, (void)sum;
    for (size_t i = 0; (sp = next_matched(t, matched, &i)) != NULL;) {
        if (nw->into[SC_SPAN])
            add_keys(nw->into[SC_SPAN], &sp->span->attrs);
        if (nw->into[SC_RESOURCE] && sp->resource != NULL && sp->resource != last_res)
            add_keys(nw->into[SC_RESOURCE], &sp->resource->attrs), last_res = sp->resource;
        for (size_t e = 0; nw->into[SC_EVENT] && e < sp->span->n_events; e++)
            add_keys(nw->into[SC_EVENT], &sp->span->events[e].attrs);
        for (size_t l = 0; nw->into[SC_LINK] && l < sp->span->n_links; l++)
            add_keys(nw->into[SC_LINK], &sp->span->links[l].attrs);
    }
    int full = 1;
    for (int k = 0; k < N_SCOPES; k++)
        full &= nw->into[k] == NULL || nw->into[k]->n >= nw->into[k]->limit;
    return full;
}

/* v1: one list (span and resource keys without a scope); v2: one per scope. */
static void write_tag_names(jsonw_t *w, const tempo_tags_params_t *p, distinct_t *sets, distinct_t *into[N_SCOPES],
                            distinct_t *intrinsics)
{
    if (!p->v2) {
        jsonw_key_lit(w, "tagNames");
        write_entries(w, p->scope && !strcmp(p->scope, "intrinsic") ? intrinsics : &sets[0], 0);
        return;
    }
    jsonw_key_lit(w, "scopes");
    jsonw_array(w);
    for (int k = 0; k <= N_SCOPES; k++) {
        const char *name = k < N_SCOPES ? scopes[k].name : "intrinsic";
        if (k < N_SCOPES ? into[k] == NULL : p->scope && strcmp(p->scope, "intrinsic") != 0)
            continue;
        jsonw_object(w);
        jsonw_key_lit(w, "name");
        jsonw_cstr(w, name);
        jsonw_key_lit(w, "tags");
        write_entries(w, k < N_SCOPES ? into[k] : intrinsics, 0);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

int tempo_tags(arbor_reader_t *r, const tempo_tags_params_t *p, jsonw_t *w)
{
    distinct_t sets[N_SCOPES], intrinsics;
    distinct_t *into[N_SCOPES] = {0};
    names_walk_t nw;
    int rc = 0, aborted = 0;
    distinct_init(&intrinsics, p->limit);
    for (int i = 0; intrinsic_tags[i]; i++)
        add_name(&intrinsics, arbor_iov(intrinsic_tags[i], strlen(intrinsic_tags[i])));
    for (int k = 0; k < N_SCOPES; k++) {
        distinct_init(&sets[k], p->limit);
        int wanted = p->scope ? !strcmp(p->scope, scopes[k].name) : p->v2 || k == SC_SPAN || k == SC_RESOURCE;
        if (wanted) /* v1 lists every scope asked for in one list */
            into[k] = p->v2 ? &sets[k] : &sets[0];
    }
    tq_query_t *q = narrowing_query(p->q);
    memcpy(nw.into, into, sizeof nw.into);
    if (q != NULL)
        rc = walk(r, p, q, names_hit, &nw, &aborted);
    for (int k = 0; q == NULL && k < N_SCOPES && rc >= 0; k++) /* 1: that list is full, the next is not */
        if (into[k] != NULL)
            rc = arbor_reader_attr_keys(r, scopes[k].scope, add_name, into[k]);
    jsonw_object(w);
    write_tag_names(w, p, sets, into, &intrinsics);
    tempo_write_partial(w, aborted, "tags");
    jsonw_key_lit(w, "metrics");
    jsonw_object(w);
    jsonw_object_end(w);
    jsonw_object_end(w);
    for (int k = 0; k < N_SCOPES; k++)
        distinct_free(&sets[k]);
    distinct_free(&intrinsics);
    tq_free(q);
    return rc < 0 ? rc : 0;
}

/* ---- tag values ---- */

typedef enum { TAG_ATTR, TAG_NAME, TAG_STATUS, TAG_KIND } tag_kind_t;

typedef struct {
    tag_kind_t kind;
    unsigned scopes; /* TAG_ATTR: a bit per SC_* */
    arbor_iov_t key;
    char *key_c;     /* the key as a C string, for lookups */
    distinct_t *values;
} tag_ref_t;

/* span.x, resource.x, event.x, link.x, .x or x (span or resource), and the
 * intrinsics whose values are listed: name, status, kind (and their span: forms). */
static void parse_tag(arbor_iov_t tag, tag_ref_t *t)
{
    static const struct {
        const char *prefix;
        unsigned scopes;
    } prefixes[] = {{"span.", 1u << SC_SPAN},   {"resource.", 1u << SC_RESOURCE}, {"event.", 1u << SC_EVENT},
                    {"link.", 1u << SC_LINK}, {".", 1u << SC_SPAN | 1u << SC_RESOURCE}};
    memset(t, 0, sizeof *t);
    t->kind = TAG_ATTR;
    t->key = tag;
    t->scopes = 1u << SC_SPAN | 1u << SC_RESOURCE;
    if (arbor_iov_eq_str(tag, "name") || arbor_iov_eq_str(tag, "span:name"))
        t->kind = TAG_NAME;
    else if (arbor_iov_eq_str(tag, "status") || arbor_iov_eq_str(tag, "span:status"))
        t->kind = TAG_STATUS;
    else if (arbor_iov_eq_str(tag, "kind") || arbor_iov_eq_str(tag, "span:kind"))
        t->kind = TAG_KIND;
    for (size_t i = 0; t->kind == TAG_ATTR && i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i].prefix);
        if (tag.len > n && memcmp(tag.base, prefixes[i].prefix, n) == 0) {
            t->key = arbor_iov(tag.base + n, tag.len - n);
            t->scopes = prefixes[i].scopes;
            break;
        }
    }
    t->key_c = arbor_xmalloc(t->key.len + 1);
    memcpy(t->key_c, t->key.base, t->key.len);
    t->key_c[t->key.len] = '\0';
}

static const char *const status_words[] = {"unset", "ok", "error"};
static const char *const kind_words[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};

static int add_keyword(distinct_t *s, const char *word)
{
    return distinct_add(s, 'k', arbor_iov(word, strlen(word)), 0, 0);
}

/* Without q: the catalog's values, or every keyword of status and kind. */
static int catalog_values(arbor_reader_t *r, tag_ref_t *t)
{
    int rc = 0;
    for (int i = 0; t->kind == TAG_STATUS && i < 3; i++)
        add_keyword(t->values, status_words[i]);
    for (int i = 0; t->kind == TAG_KIND && i < 6; i++)
        add_keyword(t->values, kind_words[i]);
    if (t->kind == TAG_NAME)
        rc = arbor_reader_attr_values(r, ARBOR_SCOPE_INTRINSIC, ARBOR_IOV("name"), add_catalog_value, t->values);
    for (int k = 0; t->kind == TAG_ATTR && k < N_SCOPES && rc >= 0; k++)
        if (t->scopes & 1u << k)
            rc = arbor_reader_attr_values(r, scopes[k].scope, t->key, add_catalog_value, t->values);
    return rc;
}

/* The tag's value on one matched span (the last of a repeated key, otlp.h). */
static void span_values(tag_ref_t *t, const tq_span_t *sp)
{
    const otlp_span_t *s = sp->span;
    const otlp_value_t *v;
    int code = sp->rec->status_code, kind = sp->rec->kind;
    if (t->kind == TAG_NAME)
        distinct_add(t->values, 's', sp->rec->name, 0, 0);
    if (t->kind == TAG_STATUS && code >= 0 && code <= 2)
        add_keyword(t->values, status_words[code]);
    if (t->kind == TAG_KIND && kind >= 0 && kind <= 5)
        add_keyword(t->values, kind_words[kind]);
    if (t->kind != TAG_ATTR)
        return;
    if ((t->scopes & 1u << SC_SPAN) && (v = otlp_attrs_get(&s->attrs, t->key_c)) != NULL)
        add_span_value(t->values, v);
    if ((t->scopes & 1u << SC_RESOURCE) && sp->resource && (v = otlp_attrs_get(&sp->resource->attrs, t->key_c)))
        add_span_value(t->values, v);
    for (size_t e = 0; (t->scopes & 1u << SC_EVENT) && e < s->n_events; e++)
        if ((v = otlp_attrs_get(&s->events[e].attrs, t->key_c)) != NULL)
            add_span_value(t->values, v);
    for (size_t l = 0; (t->scopes & 1u << SC_LINK) && l < s->n_links; l++)
        if ((v = otlp_attrs_get(&s->links[l].attrs, t->key_c)) != NULL)
            add_span_value(t->values, v);
}

static int values_hit(void *ctx, tq_trace_t *t, const uint8_t *matched, size_t n, const arbor_trace_summary_t *sum)
{
    tag_ref_t *tag = ctx;
    const tq_span_t *sp;
    (void)n, (void)sum;
    for (size_t i = 0; (sp = next_matched(t, matched, &i)) != NULL && tag->values->n < tag->values->limit;)
        span_values(tag, sp);
    return tag->values->n >= tag->values->limit;
}

int tempo_tag_values(arbor_reader_t *r, const tempo_tags_params_t *p, jsonw_t *w)
{
    distinct_t values;
    tag_ref_t tag;
    int rc, aborted = 0;
    distinct_init(&values, p->limit);
    parse_tag(p->tag, &tag);
    tag.values = &values;
    tq_query_t *q = narrowing_query(p->q);
    rc = q != NULL ? walk(r, p, q, values_hit, &tag, &aborted) : catalog_values(r, &tag);
    jsonw_object(w);
    jsonw_key_lit(w, "tagValues");
    write_entries(w, &values, p->v2);
    tempo_write_partial(w, aborted, "values");
    jsonw_key_lit(w, "metrics");
    jsonw_object(w);
    jsonw_object_end(w);
    jsonw_object_end(w);
    distinct_free(&values);
    free(tag.key_c);
    tq_free(q);
    return rc < 0 ? rc : 0;
}
