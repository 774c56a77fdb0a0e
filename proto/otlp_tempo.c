/* Tempo's Trace and TraceByIDResponse, packed by protobuf-c from stored bytes:
 * spans are never decoded on this path (see proto/arbor/raw.proto). */
#include "otlp_internal.h"

#include "arbor/raw.pb-c.h"

#include <errno.h>

typedef struct scope_group {
    uint64_t ref;
    arbor_iov_t record;
    ProtobufCBinaryData *spans;
    size_t n, cap;
} scope_group_t;

typedef struct {
    uint64_t ref;
    arbor_iov_t record;
    scope_group_t *scopes;
    size_t n, cap;
} resource_group_t;

struct otlp_trace_builder {
    arbor_arena_t *arena;
    resource_group_t *res;
    size_t n, cap;
};

/* Grow an arena array (arenas do not realloc: copy into a bigger block). */
static void *grow(arbor_arena_t *a, void *old, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return old;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = arbor_arena_alloc(a, ncap * size);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, old, n * size);
    *cap = ncap;
    return p;
}

otlp_trace_builder_t *otlp_trace_builder_new(arbor_arena_t *arena)
{
    otlp_trace_builder_t *b = arbor_arena_calloc(arena, sizeof *b);
    if (b != NULL)
        b->arena = arena;
    return b;
}

int otlp_trace_builder_add(otlp_trace_builder_t *b, uint64_t rref, arbor_iov_t rrec, uint64_t sref, arbor_iov_t srec,
                           arbor_iov_t span)
{
    resource_group_t *r = NULL;
    for (size_t i = 0; i < b->n && r == NULL; i++)
        if (b->res[i].ref == rref)
            r = &b->res[i];
    if (r == NULL) {
        resource_group_t *res = grow(b->arena, b->res, &b->cap, b->n, sizeof *res);
        if (res == NULL)
            return ENOMEM;
        b->res = res;
        r = &b->res[b->n++];
        memset(r, 0, sizeof *r);
        r->ref = rref;
        r->record = rrec;
    }
    scope_group_t *s = NULL;
    for (size_t i = 0; i < r->n && s == NULL; i++)
        if (r->scopes[i].ref == sref)
            s = &r->scopes[i];
    if (s == NULL) {
        scope_group_t *sc = grow(b->arena, r->scopes, &r->cap, r->n, sizeof *sc);
        if (sc == NULL)
            return ENOMEM;
        r->scopes = sc;
        s = &r->scopes[r->n++];
        memset(s, 0, sizeof *s);
        s->ref = sref;
        s->record = srec;
    }
    ProtobufCBinaryData *spans = grow(b->arena, s->spans, &s->cap, s->n, sizeof *spans);
    if (spans == NULL)
        return ENOMEM;
    s->spans = spans;
    s->spans[s->n].data = (uint8_t *)span.base;
    s->spans[s->n++].len = span.len;
    return 0;
}

/* record ++ packed tail, as one byte string in the arena */
static int concat(arbor_arena_t *a, arbor_iov_t record, const ProtobufCMessage *tail, ProtobufCBinaryData *out)
{
    size_t tn = protobuf_c_message_get_packed_size(tail);
    uint8_t *p = arbor_arena_alloc(a, record.len + tn + 1);
    if (p == NULL)
        return ENOMEM;
    if (record.len)
        memcpy(p, record.base, record.len);
    protobuf_c_message_pack(tail, p + record.len);
    out->data = p;
    out->len = record.len + tn;
    return 0;
}

arbor_iov_t otlp_trace_pack(otlp_trace_builder_t *b)
{
    Arbor__Raw__RawTrace t = ARBOR__RAW__RAW_TRACE__INIT;
    t.resource_spans = arbor_arena_alloc(b->arena, (b->n + 1) * sizeof *t.resource_spans);
    if (t.resource_spans == NULL)
        return ARBOR_IOV_NULL;
    for (size_t i = 0; i < b->n; i++) {
        resource_group_t *r = &b->res[i];
        Arbor__Raw__RawResourceSpansTail rt = ARBOR__RAW__RAW_RESOURCE_SPANS_TAIL__INIT;
        rt.scope_spans = arbor_arena_alloc(b->arena, (r->n + 1) * sizeof *rt.scope_spans);
        if (rt.scope_spans == NULL)
            return ARBOR_IOV_NULL;
        for (size_t j = 0; j < r->n; j++) {
            Arbor__Raw__RawScopeSpansTail st = ARBOR__RAW__RAW_SCOPE_SPANS_TAIL__INIT;
            st.n_spans = r->scopes[j].n;
            st.spans = r->scopes[j].spans;
            if (concat(b->arena, r->scopes[j].record, &st.base, &rt.scope_spans[rt.n_scope_spans++]) != 0)
                return ARBOR_IOV_NULL;
        }
        if (concat(b->arena, r->record, &rt.base, &t.resource_spans[t.n_resource_spans++]) != 0)
            return ARBOR_IOV_NULL;
    }
    size_t n = arbor__raw__raw_trace__get_packed_size(&t);
    uint8_t *out = arbor_arena_alloc(b->arena, n + 1);
    if (out == NULL)
        return ARBOR_IOV_NULL;
    arbor__raw__raw_trace__pack(&t, out);
    return arbor_iov(out, n);
}

arbor_iov_t otlp_trace_by_id_response(arbor_arena_t *arena, arbor_iov_t trace, int partial, arbor_iov_t message)
{
    Arbor__Raw__RawTraceByIDResponse r = ARBOR__RAW__RAW_TRACE_BY_IDRESPONSE__INIT;
    r.trace.data = (uint8_t *)trace.base;
    r.trace.len = trace.len;
    r.status = partial ? 1 : 0;
    r.message = arbor_arena_dup(arena, message.base ? message.base : "", message.len);
    if (r.message == NULL)
        return ARBOR_IOV_NULL;
    size_t n = arbor__raw__raw_trace_by_idresponse__get_packed_size(&r);
    uint8_t *out = arbor_arena_alloc(arena, n + 1);
    if (out == NULL)
        return ARBOR_IOV_NULL;
    arbor__raw__raw_trace_by_idresponse__pack(&r, out);
    return arbor_iov(out, n);
}

int otlp_trace_decode(arbor_arena_t *arena, arbor_iov_t trace, otlp_request_t *out)
{
    /* tempopb.Trace and ExportTraceServiceRequest share field 1 = ResourceSpans:
     * read as a request is, so strings keep every byte (NULs included) */
    char err[128];
    int rc = otlp_request_decode(arena, OTLP_ENC_PROTOBUF, trace.base, trace.len, out, err, sizeof err);
    return rc == ENOMEM || rc == 0 ? rc : ARBOR_EDECODE;
}
