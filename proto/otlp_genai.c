/* Attribute lookups, the GenAI token conventions and which values are prompt /
 * response / message content (reference/otlp.md §3), shared by the collector
 * (trace summaries, ARBOR_CAPTURE_CONTENT) and the query service (per span,
 * previews). */
#include "otlp_internal.h"

#include <errno.h>
#include <stdlib.h>

const otlp_value_t *otlp_attrs_get(const otlp_attrs_t *attrs, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = attrs->count; i-- > 0;) { /* from the end: a repeated key's last value counts */
        const otlp_kv_t *kv = &attrs->items[i];
        if (kv->key.len == kl && memcmp(kv->key.base, key, kl) == 0)
            return &kv->value;
    }
    return NULL;
}

/* Keys of one span often share a length and a prefix ("orcheo.node.id"): the
 * last byte tells most of them apart before memcmp is called. */
static int same_key(const otlp_kv_t *a, const otlp_kv_t *b)
{
    size_t n = a->key.len;
    return n == b->key.len &&
           (n == 0 || (a->key.base[n - 1] == b->key.base[n - 1] && memcmp(a->key.base, b->key.base, n) == 0));
}

/* By key, then by place (items are one array: their addresses are their order). */
static int cmp_kv_key(const void *pa, const void *pb)
{
    const otlp_kv_t *a = *(const otlp_kv_t *const *)pa, *b = *(const otlp_kv_t *const *)pb;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = n ? memcmp(a->key.base, b->key.base, n) : 0;
    if (c == 0)
        c = (a->key.len > b->key.len) - (a->key.len < b->key.len);
    return c ? c : (a > b) - (a < b);
}

/* Few attributes (nearly every span): compare each pair, allocate nothing. */
#define UNIQUE_PAIRWISE_MAX 16

static int pairwise_repeat(const otlp_attrs_t *in)
{
    for (size_t i = 1; i < in->count; i++)
        for (size_t j = 0; j < i; j++)
            if (same_key(&in->items[i], &in->items[j]))
                return 1;
    return 0;
}

/* Keys almost never repeat: a 128-bit set of a cheap key signature (length,
 * middle and last byte) rules that out in one pass; only when two signatures
 * meet are the keys compared pair by pair. */
static int any_repeat(const otlp_attrs_t *in)
{
    uint64_t seen[2] = {0, 0};
    for (size_t i = 0; i < in->count; i++) {
        arbor_iov_t k = in->items[i].key;
        uint32_t h = (uint32_t)k.len * 0x9e3779b1u;
        if (k.len)
            h ^= (uint32_t)(uint8_t)k.base[k.len - 1] * 0x85ebca6bu ^ (uint32_t)(uint8_t)k.base[k.len / 2] * 0xc2b2ae35u;
        h >>= 25; /* 0..127 */
        uint64_t bit = 1ull << (h & 63);
        if (seen[h >> 6] & bit)
            return pairwise_repeat(in);
        seen[h >> 6] |= bit;
    }
    return 0;
}

int otlp_attrs_unique(arbor_arena_t *arena, const otlp_attrs_t *in, otlp_attrs_t *out)
{
    size_t n = in->count;
    *out = *in;
    if (n < 2 || (n <= UNIQUE_PAIRWISE_MAX && !any_repeat(in)))
        return 0;
    /* sorted by key then place: each run of one key gives its first place and last value */
    const otlp_kv_t **by_key = arbor_arena_alloc(arena, n * sizeof *by_key);
    const otlp_kv_t **shown = arbor_arena_calloc(arena, n * sizeof *shown); /* per place: whose value, or NULL */
    if (by_key == NULL || shown == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++)
        by_key[i] = &in->items[i];
    qsort(by_key, n, sizeof *by_key, cmp_kv_key);
    size_t kept = 0;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && same_key(by_key[i], by_key[j]); j++)
            ;
        shown[by_key[i] - in->items] = by_key[j - 1];
        kept++;
    }
    if (kept == n)
        return 0;
    otlp_kv_t *items = arbor_arena_alloc(arena, kept * sizeof *items);
    if (items == NULL)
        return ENOMEM;
    for (size_t i = 0, k = 0; i < n; i++)
        if (shown[i] != NULL)
            items[k++] = (otlp_kv_t){in->items[i].key, shown[i]->value};
    out->items = items;
    out->count = kept;
    return 0;
}

int otlp_value_as_int(const otlp_value_t *v, int64_t *out)
{
    if (v == NULL)
        return 0;
    switch (v->type) {
    case OTLP_VALUE_INT:
        *out = v->u.i;
        return 1;
    case OTLP_VALUE_DOUBLE:
        if (!arbor_double_fits_int64(v->u.d))
            return 0;
        *out = (int64_t)v->u.d;
        return 1;
    case OTLP_VALUE_STRING: {
        char buf[32];
        if (v->u.str.len == 0 || v->u.str.len >= sizeof buf)
            return 0;
        memcpy(buf, v->u.str.base, v->u.str.len);
        buf[v->u.str.len] = '\0';
        char *end;
        errno = 0;
        double d = strtod(buf, &end);
        if (errno != 0 || *end != '\0' || !arbor_double_fits_int64(d))
            return 0;
        *out = (int64_t)d;
        return 1;
    }
    default:
        return 0;
    }
}

/* The tables (token_pairs, content_keys, content_events) are generated from
 * proto/genai_conventions.json, which the Trace tab reads too. */

int otlp_span_token_sides(const otlp_attrs_t *attrs, int64_t *in, int64_t *out, int *sides)
{
    for (size_t i = 0; i < otlp_n_token_pairs; i++) {
        int64_t a = 0, b = 0;
        int has_in = otlp_value_as_int(otlp_attrs_get(attrs, otlp_token_pairs[i].in), &a);
        int has_out = otlp_value_as_int(otlp_attrs_get(attrs, otlp_token_pairs[i].out), &b);
        if (has_in || has_out) {
            *in = a > 0 ? a : 0;
            *out = b > 0 ? b : 0;
            *sides = (has_in ? OTLP_TOKENS_IN : 0) | (has_out ? OTLP_TOKENS_OUT : 0);
            return 1;
        }
    }
    *in = *out = 0;
    *sides = 0;
    return 0;
}

int otlp_span_tokens(const otlp_attrs_t *attrs, int64_t *in, int64_t *out)
{
    int sides;
    return otlp_span_token_sides(attrs, in, out, &sides);
}

/* A content key matches itself or anything below it ("gen_ai.prompt.0.content"). */
int otlp_is_content_key(arbor_iov_t key)
{
    for (size_t i = 0; i < otlp_n_content_keys; i++) {
        size_t n = strlen(otlp_content_keys[i]);
        if (key.len >= n && memcmp(key.base, otlp_content_keys[i], n) == 0 && (key.len == n || key.base[n] == '.'))
            return 1;
    }
    return 0;
}

int otlp_is_content_event(arbor_iov_t name)
{
    for (size_t i = 0; i < otlp_n_content_events; i++)
        if (arbor_iov_eq_str(name, otlp_content_events[i]))
            return 1;
    return name.len > 15 && memcmp(name.base, "gen_ai.", 7) == 0 && memcmp(name.base + name.len - 8, ".message", 8) == 0;
}

/* Keep the entries of both parallel arrays (the view's and protobuf-c's) whose
 * key is not content, or none of them when @p all; returns how many went. The
 * arrays live in the request arena, so they are compacted in place. */
static size_t drop_attrs(otlp_attrs_t *view, pb_kv_t **pb, size_t *n_pb, int all)
{
    size_t kept = 0, n = view->count;
    if (pb == NULL || *n_pb != n) /* the two always match; refuse to guess otherwise */
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (all || otlp_is_content_key(view->items[i].key))
            continue;
        view->items[kept] = view->items[i];
        pb[kept++] = pb[i];
    }
    view->count = kept;
    *n_pb = kept;
    return n - kept;
}

/* Whether anything is content, judged on the views: most spans have none, and a
 * wire-path span is unpacked for its message only when something must go. */
static int attrs_have_content(const otlp_attrs_t *attrs)
{
    for (size_t i = 0; i < attrs->count; i++)
        if (otlp_is_content_key(attrs->items[i].key))
            return 1;
    return 0;
}

static int has_content(const otlp_span_t *s)
{
    if (attrs_have_content(&s->attrs))
        return 1;
    for (size_t e = 0; e < s->n_events; e++)
        if (s->events[e].attrs.count > 0 &&
            (otlp_is_content_event(s->events[e].name) || attrs_have_content(&s->events[e].attrs)))
            return 1;
    return 0;
}

int otlp_span_drop_content(otlp_span_t *s, arbor_arena_t *arena, size_t *count)
{
    *count = 0;
    if (!has_content(s))
        return 0;
    int rc = otlp_span_ensure_pb(arena, s);
    if (rc)
        return rc;
    pb_span_t *pb = (pb_span_t *)s->pb;
    size_t dropped = drop_attrs(&s->attrs, pb->attributes, &pb->n_attributes, 0);
    for (size_t e = 0; e < s->n_events && e < pb->n_events; e++)
        dropped += drop_attrs(&s->events[e].attrs, pb->events[e]->attributes, &pb->events[e]->n_attributes,
                              otlp_is_content_event(s->events[e].name));
    if (dropped > 0)
        s->wire = ARBOR_IOV_NULL; /* the bytes as received still hold it: pack the span again */
    *count = dropped;
    return 0;
}

/* ---- artifacts (Orcheo: orcheo.artifact.ids, and artifact events) ---- */

static int is_artifact_event(const otlp_event_t *e)
{
    return arbor_iov_eq_str(e->name, "artifact") || arbor_iov_eq_str(e->name, "orcheo.artifact");
}

static arbor_iov_t artifact_event_id(const otlp_event_t *e)
{
    const otlp_value_t *v = otlp_attrs_get(&e->attrs, "artifact.id");
    if (v == NULL)
        v = otlp_attrs_get(&e->attrs, "id");
    return is_artifact_event(e) && v && v->type == OTLP_VALUE_STRING ? v->u.str : ARBOR_IOV_NULL;
}

/* Add @p id unless it is empty or listed already; the count grows past @p max. */
static size_t add_artifact_id(arbor_iov_t *out, size_t n, size_t max, arbor_iov_t id)
{
    if (id.len == 0)
        return n;
    for (size_t i = 0; i < n && i < max; i++)
        if (arbor_iov_eq(out[i], id))
            return n;
    if (n < max)
        out[n] = id;
    return n + 1;
}

size_t otlp_span_artifact_ids(const otlp_span_t *s, arbor_iov_t *out, size_t max)
{
    const otlp_value_t *ids = otlp_attrs_get(&s->attrs, "orcheo.artifact.ids");
    size_t n = 0;
    if (ids && ids->type == OTLP_VALUE_STRING)
        n = add_artifact_id(out, n, max, ids->u.str);
    for (size_t i = 0; ids && ids->type == OTLP_VALUE_ARRAY && i < ids->u.array.count; i++)
        if (ids->u.array.items[i].type == OTLP_VALUE_STRING)
            n = add_artifact_id(out, n, max, ids->u.array.items[i].u.str);
    for (size_t i = 0; i < s->n_events; i++)
        n = add_artifact_id(out, n, max, artifact_event_id(&s->events[i]));
    return n;
}

const otlp_event_t *otlp_span_artifact_event(const otlp_span_t *s, arbor_iov_t id)
{
    for (size_t i = 0; i < s->n_events; i++)
        if (id.len > 0 && arbor_iov_eq(artifact_event_id(&s->events[i]), id))
            return &s->events[i];
    return NULL;
}
