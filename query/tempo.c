/* Tempo-compatible endpoints. Trace-by-ID protobuf bodies are packed from the
 * stored bytes without decoding a span; JSON follows Tempo's "mostly OTLP" style
 * (base64 IDs, enum names, 64-bit integers as strings). Search walks the time
 * index newest first, skips traces whose bloom proves a pinned equality absent,
 * and evaluates TraceQL on the rest. */
#include "tempo.h"

#include "textmatch.h"

#include "span_json.h"
#include "tempo_internal.h"
#include "tree.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>


int tempo_parse_trace_id(arbor_iov_t hex, uint8_t id[16])
{
    char padded[32];
    if (hex.len == 0 || hex.len > 32)
        return -1;
    memset(padded, '0', sizeof padded);
    memcpy(padded + 32 - hex.len, hex.base, hex.len);
    return arbor_hex_decode(id, 16, padded, 32) == 0 ? 0 : -1;
}

/* ---- Tempo JSON ----
 * As Tempo writes it (gogo jsonpb, default settings): a field at its zero value
 * is left out, any other is there; an enum value outside the enum is its number,
 * unquoted. Attributes are an OTLP pass-through: repeated keys stay repeated, as
 * in the protobuf answer (docs/api.md). */

static const char *const kind_enum[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                                        "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
static const char *const status_enum[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

/* An enum value by name, or its number when the enum has no such name. */
static void tj_enum(jsonw_t *w, const char *key, const char *const *names, int n_names, int value)
{
    jsonw_key(w, key);
    if (value >= 0 && value < n_names)
        jsonw_cstr(w, names[value]);
    else
        jsonw_int(w, value);
}

/* A uint32 field, left out at 0. */
static void tj_count(jsonw_t *w, const char *key, uint32_t n)
{
    if (n == 0)
        return;
    jsonw_key(w, key);
    jsonw_uint(w, n);
}

/* A string field, left out when empty. */
static void tj_text(jsonw_t *w, const char *key, arbor_iov_t s)
{
    if (s.len == 0)
        return;
    jsonw_key(w, key);
    jsonw_str(w, s);
}

static void tj_attrs(jsonw_t *w, const otlp_attrs_t *a);

static void tj_value(jsonw_t *w, const otlp_value_t *v)
{
    char num[24];
    jsonw_object(w);
    switch (v->type) {
    case OTLP_VALUE_STRING:
        jsonw_key_lit(w, "stringValue");
        jsonw_str(w, v->u.str);
        break;
    case OTLP_VALUE_BOOL:
        jsonw_key_lit(w, "boolValue");
        jsonw_bool(w, v->u.boolean);
        break;
    case OTLP_VALUE_INT:
        jsonw_key_lit(w, "intValue");
        snprintf(num, sizeof num, "%lld", (long long)v->u.i);
        jsonw_cstr(w, num);
        break;
    case OTLP_VALUE_DOUBLE:
        jsonw_key_lit(w, "doubleValue");
        jsonw_double(w, v->u.d);
        break;
    case OTLP_VALUE_BYTES:
        jsonw_key_lit(w, "bytesValue");
        span_json_base64(w, v->u.str);
        break;
    case OTLP_VALUE_ARRAY:
        jsonw_key_lit(w, "arrayValue");
        jsonw_object(w);
        jsonw_key_lit(w, "values");
        jsonw_array(w);
        for (size_t i = 0; i < v->u.array.count; i++)
            tj_value(w, &v->u.array.items[i]);
        jsonw_array_end(w);
        jsonw_object_end(w);
        break;
    case OTLP_VALUE_KVLIST:
        jsonw_key_lit(w, "kvlistValue");
        jsonw_object(w);
        jsonw_key_lit(w, "values");
        tj_attrs(w, &v->u.kvlist);
        jsonw_object_end(w);
        break;
    default:
        break;
    }
    jsonw_object_end(w);
}

static void tj_attrs(jsonw_t *w, const otlp_attrs_t *a)
{
    jsonw_array(w);
    for (size_t i = 0; i < a->count; i++) {
        jsonw_object(w);
        jsonw_key_lit(w, "key");
        jsonw_str(w, a->items[i].key);
        jsonw_key_lit(w, "value");
        tj_value(w, &a->items[i].value);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

static void tj_ns(jsonw_t *w, const char *key, uint64_t ns)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)ns);
    jsonw_key(w, key);
    jsonw_cstr(w, num);
}

static void tj_span(jsonw_t *w, const otlp_span_t *s)
{
    jsonw_object(w);
    jsonw_key_lit(w, "traceId");
    span_json_base64(w, s->trace_id);
    jsonw_key_lit(w, "spanId");
    span_json_base64(w, s->span_id);
    if (s->parent_span_id.len) {
        jsonw_key_lit(w, "parentSpanId");
        span_json_base64(w, s->parent_span_id);
    }
    tj_text(w, "traceState", s->trace_state);
    jsonw_key_lit(w, "name");
    jsonw_str(w, s->name);
    tj_enum(w, "kind", kind_enum, 6, s->kind);
    tj_ns(w, "startTimeUnixNano", s->start_ns);
    tj_ns(w, "endTimeUnixNano", s->end_ns);
    jsonw_key_lit(w, "attributes");
    tj_attrs(w, &s->attrs);
    tj_count(w, "droppedAttributesCount", s->dropped_attrs);
    jsonw_key_lit(w, "events");
    jsonw_array(w);
    for (size_t i = 0; i < s->n_events; i++) {
        jsonw_object(w);
        tj_ns(w, "timeUnixNano", s->events[i].time_ns);
        jsonw_key_lit(w, "name");
        jsonw_str(w, s->events[i].name);
        jsonw_key_lit(w, "attributes");
        tj_attrs(w, &s->events[i].attrs);
        tj_count(w, "droppedAttributesCount", s->events[i].dropped_attrs);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    tj_count(w, "droppedEventsCount", s->dropped_events);
    jsonw_key_lit(w, "links");
    jsonw_array(w);
    for (size_t i = 0; i < s->n_links; i++) {
        const otlp_link_t *l = &s->links[i];
        jsonw_object(w);
        jsonw_key_lit(w, "traceId");
        span_json_base64(w, l->trace_id);
        jsonw_key_lit(w, "spanId");
        span_json_base64(w, l->span_id);
        tj_text(w, "traceState", l->trace_state);
        jsonw_key_lit(w, "attributes");
        tj_attrs(w, &l->attrs);
        tj_count(w, "droppedAttributesCount", l->dropped_attrs);
        tj_count(w, "flags", l->flags);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    tj_count(w, "droppedLinksCount", s->dropped_links);
    jsonw_key_lit(w, "status");
    jsonw_object(w);
    tj_text(w, "message", s->status_message);
    if (s->status_code != 0)
        tj_enum(w, "code", status_enum, 3, s->status_code);
    jsonw_object_end(w);
    tj_count(w, "flags", s->flags);
    jsonw_object_end(w);
}

static void tj_resource_spans(jsonw_t *w, const otlp_request_t *req)
{
    jsonw_array(w);
    for (size_t r = 0; r < req->count; r++) {
        const otlp_resource_spans_t *rs = &req->items[r];
        jsonw_object(w);
        jsonw_key_lit(w, "resource");
        jsonw_object(w);
        jsonw_key_lit(w, "attributes");
        tj_attrs(w, &rs->resource.attrs);
        tj_count(w, "droppedAttributesCount", rs->resource.dropped_attrs);
        jsonw_object_end(w);
        tj_text(w, "schemaUrl", rs->resource.schema_url);
        jsonw_key_lit(w, "scopeSpans");
        jsonw_array(w);
        for (size_t s = 0; s < rs->n_scopes; s++) {
            const otlp_scope_spans_t *ss = &rs->scopes[s];
            jsonw_object(w);
            jsonw_key_lit(w, "scope");
            jsonw_object(w);
            jsonw_key_lit(w, "name");
            jsonw_str(w, ss->scope.name);
            tj_text(w, "version", ss->scope.version);
            if (ss->scope.attrs.count) {
                jsonw_key_lit(w, "attributes");
                tj_attrs(w, &ss->scope.attrs);
            }
            tj_count(w, "droppedAttributesCount", ss->scope.dropped_attrs);
            jsonw_object_end(w);
            jsonw_key_lit(w, "spans");
            jsonw_array(w);
            for (size_t i = 0; i < ss->n_spans; i++)
                tj_span(w, &ss->spans[i]);
            jsonw_array_end(w);
            tj_text(w, "schemaUrl", ss->scope.schema_url);
            jsonw_object_end(w);
        }
        jsonw_array_end(w);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* ---- evaluating TraceQL over one stored trace ---- */

typedef struct {
    arbor_reader_t *r;
    tree_t tree;
    tq_span_t *spans;
    arbor_arena_t arena;
    /* resources decoded for this trace (few), by reference */
    struct {
        uint64_t ref;
        otlp_resource_t res;
        int ok;
    } res[16];
    size_t n_res;
    uint64_t bytes;
} trace_eval_t;

static int decode_span(void *ctx, size_t i)
{
    trace_eval_t *e = ctx;
    tq_span_t *sp = &e->spans[i];
    const arbor_span_rec_t *rec = sp->rec;
    otlp_span_t *s = arbor_arena_alloc(&e->arena, sizeof *s);
    arbor_iov_t bytes;
    if (s == NULL || arbor_span_bytes(rec, &e->arena, &bytes) != 0 ||
        otlp_span_decode(&e->arena, bytes.base, bytes.len, s) != 0)
        return -1;
    e->bytes += bytes.len;
    sp->span = s;
    for (size_t k = 0; k < e->n_res; k++)
        if (e->res[k].ref == rec->resource_ref) {
            sp->resource = e->res[k].ok ? &e->res[k].res : NULL;
            return 0;
        }
    otlp_resource_t *res = NULL;
    if (e->n_res < sizeof e->res / sizeof e->res[0]) {
        size_t k = e->n_res++;
        e->res[k].ref = rec->resource_ref;
        e->res[k].ok = arbor_reader_record(e->r, ARBOR_RECORD_RESOURCE, rec->resource_ref, &bytes) == 0 &&
                       otlp_resource_record_decode(&e->arena, bytes.base, bytes.len, &e->res[k].res) == 0;
        res = e->res[k].ok ? &e->res[k].res : NULL;
    } else if (arbor_reader_record(e->r, ARBOR_RECORD_RESOURCE, rec->resource_ref, &bytes) == 0) {
        res = arbor_arena_alloc(&e->arena, sizeof *res);
        if (res && otlp_resource_record_decode(&e->arena, bytes.base, bytes.len, res) != 0)
            res = NULL;
    }
    sp->resource = res;
    return 0;
}

static int trace_eval_load(trace_eval_t *e, arbor_reader_t *r, const uint8_t *trace_id, tq_trace_t *t,
                           const arbor_trace_summary_t *sum)
{
    memset(e, 0, sizeof *e);
    memset(t, 0, sizeof *t);
    e->r = r;
    arbor_arena_init(&e->arena, 64 * 1024, 0);
    int rc = tree_load(&e->tree, r, (const uint8_t(*)[16])trace_id, 1);
    if (rc)
        return rc;
    e->spans = arbor_xcalloc(e->tree.n ? e->tree.n : 1, sizeof *e->spans);
    for (size_t i = 0; i < e->tree.n; i++) {
        e->spans[i].rec = e->tree.nodes[i].placeholder ? NULL : &e->tree.nodes[i].rec;
        e->spans[i].parent = e->tree.nodes[i].parent;
    }
    t->spans = e->spans;
    t->n = e->tree.n;
    t->order = e->tree.order;
    t->summary = sum;
    t->decode = decode_span;
    t->ctx = e;
    return 0;
}

static void trace_eval_free(trace_eval_t *e)
{
    tree_free(&e->tree);
    free(e->spans);
    arbor_arena_free(&e->arena);
}

/* ---- trace by ID ---- */

/* Which spans of the trace q keeps (all of them without q): @p keep gets 1 per
 * kept span. 0, or ARBOR_ETIMEDOUT with @p err when q ran out of its budget. */
static int spans_kept(const tq_query_t *q, tq_trace_t *t, const tempo_budget_t *budget, uint8_t *keep, char *err,
                      size_t errlen)
{
    if (q == NULL) {
        memset(keep, 1, t->n);
        return 0;
    }
    t->deadline_ns = budget->deadline_ns;
    t->cancel = budget->cancel;
    tq_eval(q, t, keep);
    if (!t->aborted)
        return 0;
    snprintf(err, errlen, t->aborted == TQ_ABORT_REGEX
                              ? "a regular expression of q ran past its match limit on this trace"
                              : "q ran past the search timeout (ARBOR_SEARCH_TIMEOUT) on this trace");
    return ARBOR_ETIMEDOUT;
}

/* The kept spans, in tree pre-order, into the builder with their resource and
 * scope records (spans of a trace nearly always share one of each: each is
 * looked up once per change). A span whose stored frame is corrupt is left out
 * rather than failing the trace. */
static int add_spans(arbor_reader_t *r, otlp_trace_builder_t *b, arbor_arena_t *arena, const tq_trace_t *t,
                     const uint8_t *keep)
{
    uint64_t last_rref = 0, last_sref = 0;
    int cached = 0, rc = 0;
    arbor_iov_t rrec = ARBOR_IOV_NULL, srec = ARBOR_IOV_NULL, bytes;
    for (size_t k = 0; k < t->n && rc == 0; k++) {
        uint32_t i = t->order[k];
        const arbor_span_rec_t *s = t->spans[i].rec;
        if (s == NULL || !keep[i])
            continue;
        if (!cached || s->resource_ref != last_rref) {
            if (arbor_reader_record(r, ARBOR_RECORD_RESOURCE, s->resource_ref, &rrec) != 0)
                rrec = ARBOR_IOV_NULL;
            last_rref = s->resource_ref;
        }
        if (!cached || s->scope_ref != last_sref) {
            if (arbor_reader_record(r, ARBOR_RECORD_SCOPE, s->scope_ref, &srec) != 0)
                srec = ARBOR_IOV_NULL;
            last_sref = s->scope_ref;
        }
        cached = 1;
        if (arbor_span_bytes(s, arena, &bytes) == 0)
            rc = otlp_trace_builder_add(b, s->resource_ref, rrec, s->scope_ref, srec, bytes);
    }
    return rc;
}

/* The packed Trace in Tempo's JSON: v2 {"trace": {...}, "metrics": {}, "status"?},
 * v1 {"batches": [...]}. */
static int write_trace_json(jsonw_t *body, arbor_arena_t *arena, arbor_iov_t trace, int v2, int found, int partial)
{
    otlp_request_t req;
    memset(&req, 0, sizeof req);
    int rc = trace.len ? otlp_trace_decode(arena, trace, &req) : 0;
    if (rc)
        return rc;
    jsonw_object(body);
    if (v2) {
        jsonw_key_lit(body, "trace");
        jsonw_object(body);
        if (found) {
            jsonw_key_lit(body, "resourceSpans");
            tj_resource_spans(body, &req);
        }
        jsonw_object_end(body);
        jsonw_key_lit(body, "metrics");
        jsonw_object(body);
        jsonw_object_end(body);
        if (partial) {
            jsonw_key_lit(body, "status");
            jsonw_cstr(body, "PARTIAL");
        }
    } else {
        jsonw_key_lit(body, "batches");
        tj_resource_spans(body, &req);
    }
    jsonw_object_end(body);
    return 0;
}

int tempo_trace(arbor_reader_t *r, const uint8_t id[16], const tempo_trace_params_t *p, jsonw_t *body, char *err,
                size_t errlen)
{
    arbor_trace_summary_t sum;
    arbor_arena_t arena;
    tq_query_t *q = NULL;
    int found = arbor_reader_trace_summary(r, id, &sum) == 0;
    /* a window that misses the trace: as if it were not there */
    if (found && p->start_s && sum.end_ns < p->start_s * 1000000000ull)
        found = 0;
    if (found && p->end_s && sum.start_ns > p->end_s * 1000000000ull)
        found = 0;
    if (!found && !p->v2)
        return ARBOR_ENOTFOUND;
    if (p->v2 && p->q.len) {
        if ((q = tq_parse_filter(p->q, err, errlen)) == NULL)
            return ARBOR_EDECODE;
        if (tq_matches_all(q)) {
            tq_free(q);
            q = NULL;
        }
    }
    arbor_arena_init(&arena, 64 * 1024, 0);
    otlp_trace_builder_t *b = otlp_trace_builder_new(&arena);
    int rc = 0;
    if (found) {
        trace_eval_t e;
        tq_trace_t t;
        if ((rc = trace_eval_load(&e, r, id, &t, &sum)) == 0) {
            uint8_t *keep = arbor_xcalloc(t.n, 1);
            if ((rc = spans_kept(q, &t, &p->budget, keep, err, errlen)) == 0)
                rc = add_spans(r, b, &arena, &t, keep);
            free(keep);
            trace_eval_free(&e);
        }
    }
    if (rc == 0) {
        arbor_iov_t trace = otlp_trace_pack(b);
        int partial = found && q != NULL; /* a filtered trace is a part of it */
        if (p->format == TEMPO_JSON)
            rc = write_trace_json(body, &arena, trace, p->v2, found, partial);
        else if (p->v2 && found)
            trace = otlp_trace_by_id_response(&arena, trace, partial, ARBOR_IOV_NULL);
        else if (p->v2)
            trace = arbor_iov("", 0);
        if (p->format == TEMPO_PROTOBUF)
            jsonw_append(body, trace.base ? trace.base : "", trace.len);
    }
    tq_free(q);
    arbor_arena_free(&arena);
    return rc;
}

/* ---- search ---- */

typedef struct {
    arbor_iov_t key, value;
} tag_t;

/* logfmt: k=v k2="v 2"; 0 or -1 with err. */
static int parse_tags(arbor_iov_t text, tag_t *tags, size_t max, size_t *n, char *err, size_t errlen)
{
    const char *s = text.base, *end = text.base + text.len;
    *n = 0;
    while (s < end) {
        while (s < end && isspace((unsigned char)*s))
            s++;
        if (s >= end)
            break;
        const char *k = s;
        while (s < end && *s != '=' && !isspace((unsigned char)*s))
            s++;
        if (s >= end || *s != '=' || s == k) {
            snprintf(err, errlen, "invalid tags: expected key=value at offset %zu", (size_t)(k - text.base));
            return -1;
        }
        arbor_iov_t key = arbor_iov(k, (size_t)(s - k));
        s++;
        arbor_iov_t value;
        if (s < end && *s == '"') {
            const char *v = ++s;
            while (s < end && *s != '"')
                s++;
            if (s >= end) {
                snprintf(err, errlen, "invalid tags: unterminated quote");
                return -1;
            }
            value = arbor_iov(v, (size_t)(s - v));
            s++;
        } else {
            const char *v = s;
            while (s < end && !isspace((unsigned char)*s))
                s++;
            value = arbor_iov(v, (size_t)(s - v));
        }
        for (size_t i = 0; i < *n; i++)
            if (arbor_iov_eq(tags[i].key, key)) {
                snprintf(err, errlen, "invalid tags: duplicate key '%.*s'", (int)key.len, key.base);
                return -1;
            }
        if (*n == max) {
            snprintf(err, errlen, "invalid tags: too many");
            return -1;
        }
        tags[*n].key = key;
        tags[(*n)++].value = value;
    }
    return 0;
}

/* Old-style tag search: every tag found (case-insensitive substring) on some span. */
static size_t eval_tags(const tag_t *tags, size_t n, tq_trace_t *t, uint8_t *matched)
{
    size_t hits = 0;
    for (size_t i = 0; i < t->n; i++) {
        matched[i] = 0;
        if (t->spans[i].rec == NULL || t->decode(t->ctx, i) != 0)
            continue;
        int all = 1;
        for (size_t k = 0; k < n && all; k++) {
            char key[ARBOR_ATTR_MAX_KEY + 1];
            size_t kl = tags[k].key.len < ARBOR_ATTR_MAX_KEY ? tags[k].key.len : ARBOR_ATTR_MAX_KEY;
            memcpy(key, tags[k].key.base, kl);
            key[kl] = '\0';
            const tq_span_t *sp = &t->spans[i];
            if (strcmp(key, "name") == 0)
                all = text_contains(sp->rec->name, tags[k].value);
            else if (strcmp(key, "status.code") == 0 || strcmp(key, "status") == 0) {
                static const char *const names[] = {"unset", "ok", "error"};
                int c = sp->rec->status_code;
                all = c >= 0 && c <= 2 && text_contains(arbor_iov(names[c], strlen(names[c])), tags[k].value);
            } else
                all = text_value_contains(otlp_attrs_get(&sp->span->attrs, key), tags[k].value) ||
                      (sp->resource && text_value_contains(otlp_attrs_get(&sp->resource->attrs, key), tags[k].value));
        }
        matched[i] = (uint8_t)all;
        hits += (size_t)all;
    }
    return hits;
}

/* ---- walking the traces a query matches: search, and the tag routes with q ---- */

/* From the time index alone: the window, the walk's bounds, and the bloom. */
static int prefilter(void *ctx, uint64_t start_ns, const uint8_t *bloom)
{
    tempo_walk_t *wk = ctx;
    if (wk->start_s && start_ns < wk->start_s * 1000000000ull)
        return 1; /* newest first: everything further is older than the window */
    if (++wk->walked > SEARCH_MAX_WALK)
        return 1;
    const tempo_budget_t *b = &wk->budget;
    if ((wk->walked & 63) == 0 && ((b->cancel && *b->cancel) || (b->deadline_ns && arbor_mono_ns() > b->deadline_ns))) {
        wk->aborted = TQ_ABORT_DEADLINE;
        return 1;
    }
    /* the bloom proves a required value absent: not worth its summary */
    return tq_hints_may_match(wk->hints, wk->n_hints, bloom) ? 0 : -1;
}

/* Evaluate one trace in the window; hand it to wk->hit if it matches. Non-zero
 * stops the walk (the hit said so, a bound, the deadline). */
static int walk_trace(void *ctx, const arbor_trace_summary_t *sum)
{
    tempo_walk_t *wk = ctx;
    uint64_t dur = sum->end_ns - sum->start_ns;
    if ((wk->start_s && sum->start_ns < wk->start_s * 1000000000ull) ||
        (wk->end_s && sum->start_ns > wk->end_s * 1000000000ull) || dur < wk->min_ns || (wk->max_ns && dur > wk->max_ns))
        return 0;
    if (++wk->inspected > SEARCH_MAX_INSPECT)
        return 1;
    trace_eval_t e;
    tq_trace_t t;
    if (trace_eval_load(&e, wk->r, sum->trace_id, &t, sum) != 0)
        return 0;
    t.deadline_ns = wk->budget.deadline_ns;
    t.cancel = wk->budget.cancel;
    wk->spans += e.tree.n_real;
    uint8_t *matched = arbor_xcalloc(t.n ? t.n : 1, 1);
    size_t n = wk->eval ? wk->eval(wk->eval_ctx, &t, matched) : tq_eval(wk->q, &t, matched);
    if (t.aborted && wk->aborted != TQ_ABORT_DEADLINE)
        wk->aborted = t.aborted;
    int stop = n > 0 && wk->hit(wk->hit_ctx, &t, matched, n, sum);
    wk->bytes += e.bytes; /* what the hit decoded too */
    free(matched);
    trace_eval_free(&e);
    return stop || wk->aborted == TQ_ABORT_DEADLINE;
}

int tempo_walk(arbor_reader_t *r, tempo_walk_t *wk)
{
    wk->r = r;
    if (wk->q != NULL)
        wk->n_hints = tq_index_hints(wk->q, wk->hints, sizeof wk->hints / sizeof wk->hints[0]);
    uint64_t before = wk->end_s ? wk->end_s * 1000000000ull + 999999999ull : 0;
    int rc = arbor_reader_recent_traces_filtered(r, before, prefilter, walk_trace, wk);
    return rc == 1 ? 0 : rc;
}

void tempo_write_partial(jsonw_t *w, int aborted, const char *what)
{
    char reason[160];
    if (!aborted)
        return;
    if (aborted == TQ_ABORT_DEADLINE)
        snprintf(reason, sizeof reason, "the search ran past ARBOR_SEARCH_TIMEOUT: %s found so far", what);
    else
        snprintf(reason, sizeof reason, "a regular expression ran past its match limit on some traces: they are left out");
    jsonw_key_lit(w, "partial");
    jsonw_bool(w, 1);
    jsonw_key_lit(w, "partialReason");
    jsonw_cstr(w, reason);
}

/* ---- search ---- */

typedef struct {
    const tempo_search_params_t *p;
    const tq_query_t *q;
    jsonw_t *w;
    size_t found;
} search_t;

static void span_attr_cb(void *ctx, arbor_iov_t name, const otlp_value_t *v)
{
    jsonw_t *w = ctx;
    jsonw_object(w);
    jsonw_key_lit(w, "key");
    jsonw_str(w, name);
    jsonw_key_lit(w, "value");
    tj_value(w, v);
    jsonw_object_end(w);
}

static void write_spanset(search_t *s, tq_trace_t *t, const uint8_t *matched, size_t n_matched)
{
    jsonw_t *w = s->w;
    jsonw_object(w);
    jsonw_key_lit(w, "spans");
    jsonw_array(w);
    size_t shown = 0;
    for (size_t k = 0; k < t->n && shown < s->p->spss; k++) {
        uint32_t i = t->order[k];
        const arbor_span_rec_t *rec = t->spans[i].rec;
        if (!matched[i] || rec == NULL)
            continue;
        char id[17];
        arbor_hex_encode(id, rec->span_id, 8);
        jsonw_object(w);
        jsonw_key_lit(w, "spanID");
        jsonw_cstr(w, id);
        jsonw_key_lit(w, "name");
        jsonw_str(w, rec->name);
        tj_ns(w, "startTimeUnixNano", rec->start_ns);
        tj_ns(w, "durationNanos", rec->end_ns - rec->start_ns);
        jsonw_key_lit(w, "attributes");
        jsonw_array(w);
        if (s->q != NULL)
            tq_span_fields(s->q, t, i, span_attr_cb, w);
        jsonw_array_end(w);
        jsonw_object_end(w);
        shown++;
    }
    jsonw_array_end(w);
    jsonw_key_lit(w, "matched");
    jsonw_uint(w, n_matched);
    jsonw_object_end(w);
}

/* A matching trace, as Tempo lists it. 1 when the limit is reached. */
static int search_hit(void *ctx, tq_trace_t *t, const uint8_t *matched, size_t n, const arbor_trace_summary_t *sum)
{
    search_t *s = ctx;
    jsonw_t *w = s->w;
    char id[33];
    size_t skip = 0;
    arbor_hex_encode(id, sum->trace_id, 16);
    while (skip < 31 && id[skip] == '0') /* Tempo trims leading zeros */
        skip++;
    jsonw_object(w);
    jsonw_key_lit(w, "traceID");
    jsonw_cstr(w, id + skip);
    jsonw_key_lit(w, "rootServiceName"); /* as Tempo: the text only while the root is missing */
    if (sum->has_root)
        jsonw_str(w, sum->root_service);
    else
        jsonw_cstr(w, "<root span not yet received>");
    if (sum->has_root) {
        jsonw_key_lit(w, "rootTraceName");
        jsonw_str(w, sum->root_name);
    }
    tj_ns(w, "startTimeUnixNano", sum->start_ns);
    jsonw_key_lit(w, "durationMs");
    jsonw_uint(w, (sum->end_ns - sum->start_ns) / 1000000u);
    jsonw_key_lit(w, "spanSet");
    write_spanset(s, t, matched, n);
    jsonw_key_lit(w, "spanSets");
    jsonw_array(w);
    write_spanset(s, t, matched, n);
    jsonw_array_end(w);
    jsonw_object_end(w);
    return ++s->found >= s->p->limit;
}

typedef struct {
    const tag_t *tags;
    size_t n;
} tags_eval_t;

static size_t eval_logfmt(void *ctx, tq_trace_t *t, uint8_t *matched)
{
    const tags_eval_t *e = ctx;
    return eval_tags(e->tags, e->n, t, matched);
}

int tempo_search(arbor_reader_t *r, const tempo_search_params_t *p, jsonw_t *w, char *err, size_t errlen)
{
    tag_t tags[32];
    size_t n_tags = 0;
    tq_query_t *q = NULL;
    if (p->q.len && p->tags.len) {
        snprintf(err, errlen, "invalid request: can't specify tags and q");
        return ARBOR_EDECODE;
    }
    if (p->tags.len && parse_tags(p->tags, tags, 32, &n_tags, err, errlen) != 0)
        return ARBOR_EDECODE;
    if (p->q.len && (q = tq_parse(p->q, err, errlen)) == NULL)
        return ARBOR_EDECODE;
    if (q == NULL && n_tags == 0 && (q = tq_parse(ARBOR_IOV("{}"), err, errlen)) == NULL)
        return ARBOR_EDECODE;
    search_t s = {.p = p, .q = q, .w = w};
    tags_eval_t logfmt = {tags, n_tags};
    tempo_walk_t wk = {.q = q, .eval = q ? NULL : eval_logfmt, .eval_ctx = &logfmt, .start_s = p->start_s,
                       .end_s = p->end_s, .min_ns = p->min_ns, .max_ns = p->max_ns, .budget = p->budget,
                       .hit = search_hit, .hit_ctx = &s};
    jsonw_object(w);
    jsonw_key_lit(w, "traces");
    jsonw_array(w);
    int rc = tempo_walk(r, &wk);
    jsonw_array_end(w);
    tempo_write_partial(w, wk.aborted, "traces");
    jsonw_key_lit(w, "metrics");
    jsonw_object(w);
    jsonw_key_lit(w, "inspectedTraces");
    jsonw_uint(w, wk.inspected > SEARCH_MAX_INSPECT ? SEARCH_MAX_INSPECT : wk.inspected);
    tj_ns(w, "inspectedBytes", wk.bytes);
    tj_ns(w, "inspectedSpans", wk.spans);
    jsonw_key_lit(w, "totalBlocks");
    jsonw_uint(w, 0);
    jsonw_object_end(w);
    jsonw_object_end(w);
    tq_free(q);
    return rc;
}
