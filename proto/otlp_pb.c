/* Binary protobuf side of the codec: unpack into an arena, convert to views,
 * pack stored records, encode responses and statuses. */
#include "otlp_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static void *arena_pb_alloc(void *data, size_t size)
{
    return arbor_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCAllocator otlp_arena_allocator(arbor_arena_t *arena)
{
    return (ProtobufCAllocator){arena_pb_alloc, arena_pb_free, arena};
}

/* ---- protobuf-c -> views ---------------------------------------------- */

static arbor_iov_t str_iov(const char *s)
{
    return s ? arbor_iov(s, strlen(s)) : ARBOR_IOV_NULL;
}

static arbor_iov_t bin_iov(ProtobufCBinaryData b)
{
    return arbor_iov(b.data, b.len);
}

static int attrs_from_pb(arbor_arena_t *a, pb_kv_t **kvs, size_t n, otlp_attrs_t *out, int depth);

static int value_from_pb(arbor_arena_t *a, const pb_any_t *v, otlp_value_t *out, int depth)
{
    memset(out, 0, sizeof(*out));
    if (v == NULL)
        return 0;
    if (depth > OTLP_MAX_VALUE_DEPTH)
        return ARBOR_EDECODE;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        out->type = OTLP_VALUE_STRING;
        out->u.str = str_iov(v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        out->type = OTLP_VALUE_BOOL;
        out->u.boolean = v->bool_value != 0;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        out->type = OTLP_VALUE_INT;
        out->u.i = v->int_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        out->type = OTLP_VALUE_DOUBLE;
        out->u.d = v->double_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        out->type = OTLP_VALUE_BYTES;
        out->u.str = bin_iov(v->bytes_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        out->type = OTLP_VALUE_ARRAY;
        size_t n = v->array_value ? v->array_value->n_values : 0;
        if (n == 0)
            break;
        out->u.array.items = arbor_arena_alloc(a, n * sizeof(otlp_value_t));
        if (out->u.array.items == NULL)
            return ENOMEM;
        out->u.array.count = n;
        for (size_t i = 0; i < n; i++) {
            int rc = value_from_pb(a, v->array_value->values[i], &out->u.array.items[i], depth + 1);
            if (rc)
                return rc;
        }
        break;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        out->type = OTLP_VALUE_KVLIST;
        if (v->kvlist_value == NULL)
            break;
        return attrs_from_pb(a, v->kvlist_value->values, v->kvlist_value->n_values, &out->u.kvlist, depth + 1);
    default: /* not set, or the profiles-only string index: treated as empty */
        break;
    }
    return 0;
}

static int attrs_from_pb(arbor_arena_t *a, pb_kv_t **kvs, size_t n, otlp_attrs_t *out, int depth)
{
    out->items = NULL;
    out->count = 0;
    if (n == 0)
        return 0;
    out->items = arbor_arena_alloc(a, n * sizeof(otlp_kv_t));
    if (out->items == NULL)
        return ENOMEM;
    out->count = n;
    for (size_t i = 0; i < n; i++) {
        out->items[i].key = str_iov(kvs[i]->key);
        int rc = value_from_pb(a, kvs[i]->value, &out->items[i].value, depth);
        if (rc)
            return rc;
    }
    return 0;
}

static int span_from_pb(arbor_arena_t *a, const pb_span_t *s, otlp_span_t *o)
{
    int rc;
    memset(o, 0, sizeof(*o));
    o->pb = s;
    o->trace_id = bin_iov(s->trace_id);
    o->span_id = bin_iov(s->span_id);
    o->parent_span_id = bin_iov(s->parent_span_id);
    o->trace_state = str_iov(s->trace_state);
    o->name = str_iov(s->name);
    o->flags = s->flags;
    o->kind = (int)s->kind;
    o->start_ns = s->start_time_unix_nano;
    o->end_ns = s->end_time_unix_nano;
    o->dropped_attrs = s->dropped_attributes_count;
    o->dropped_events = s->dropped_events_count;
    o->dropped_links = s->dropped_links_count;
    if (s->status != NULL) {
        o->status_code = (int)s->status->code;
        o->status_message = str_iov(s->status->message);
    }
    if ((rc = attrs_from_pb(a, s->attributes, s->n_attributes, &o->attrs, 0)) != 0)
        return rc;
    if (s->n_events) {
        if ((o->events = arbor_arena_alloc(a, s->n_events * sizeof(otlp_event_t))) == NULL)
            return ENOMEM;
        o->n_events = s->n_events;
        for (size_t i = 0; i < s->n_events; i++) {
            const pb_event_t *e = s->events[i];
            o->events[i].time_ns = e->time_unix_nano;
            o->events[i].name = str_iov(e->name);
            o->events[i].dropped_attrs = e->dropped_attributes_count;
            if ((rc = attrs_from_pb(a, e->attributes, e->n_attributes, &o->events[i].attrs, 0)) != 0)
                return rc;
        }
    }
    if (s->n_links) {
        if ((o->links = arbor_arena_alloc(a, s->n_links * sizeof(otlp_link_t))) == NULL)
            return ENOMEM;
        o->n_links = s->n_links;
        for (size_t i = 0; i < s->n_links; i++) {
            const pb_link_t *l = s->links[i];
            o->links[i].trace_id = bin_iov(l->trace_id);
            o->links[i].span_id = bin_iov(l->span_id);
            o->links[i].trace_state = str_iov(l->trace_state);
            o->links[i].flags = l->flags;
            o->links[i].dropped_attrs = l->dropped_attributes_count;
            if ((rc = attrs_from_pb(a, l->attributes, l->n_attributes, &o->links[i].attrs, 0)) != 0)
                return rc;
        }
    }
    return 0;
}

static int resource_from_pb(arbor_arena_t *a, const pb_resource_spans_t *rs, otlp_resource_t *o)
{
    memset(o, 0, sizeof(*o));
    o->pb = rs;
    o->schema_url = str_iov(rs->schema_url);
    if (rs->resource == NULL)
        return 0;
    o->dropped_attrs = rs->resource->dropped_attributes_count;
    return attrs_from_pb(a, rs->resource->attributes, rs->resource->n_attributes, &o->attrs, 0);
}

static int scope_from_pb(arbor_arena_t *a, const pb_scope_spans_t *ss, otlp_scope_t *o)
{
    memset(o, 0, sizeof(*o));
    o->pb = ss;
    o->schema_url = str_iov(ss->schema_url);
    if (ss->scope == NULL)
        return 0;
    o->name = str_iov(ss->scope->name);
    o->version = str_iov(ss->scope->version);
    o->dropped_attrs = ss->scope->dropped_attributes_count;
    return attrs_from_pb(a, ss->scope->attributes, ss->scope->n_attributes, &o->attrs, 0);
}

int otlp_request_from_pb(arbor_arena_t *a, const pb_request_t *req, otlp_request_t *out)
{
    int rc;
    memset(out, 0, sizeof(*out));
    if (req->n_resource_spans == 0)
        return 0;
    out->items = arbor_arena_calloc(a, req->n_resource_spans * sizeof(otlp_resource_spans_t));
    if (out->items == NULL)
        return ENOMEM;
    out->count = req->n_resource_spans;
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const pb_resource_spans_t *rs = req->resource_spans[r];
        otlp_resource_spans_t *ro = &out->items[r];
        if ((rc = resource_from_pb(a, rs, &ro->resource)) != 0)
            return rc;
        if (rs->n_scope_spans == 0)
            continue;
        ro->scopes = arbor_arena_calloc(a, rs->n_scope_spans * sizeof(otlp_scope_spans_t));
        if (ro->scopes == NULL)
            return ENOMEM;
        ro->n_scopes = rs->n_scope_spans;
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const pb_scope_spans_t *ss = rs->scope_spans[s];
            otlp_scope_spans_t *so = &ro->scopes[s];
            if ((rc = scope_from_pb(a, ss, &so->scope)) != 0)
                return rc;
            if (ss->n_spans == 0)
                continue;
            if ((so->spans = arbor_arena_alloc(a, ss->n_spans * sizeof(otlp_span_t))) == NULL)
                return ENOMEM;
            so->n_spans = ss->n_spans;
            for (size_t i = 0; i < ss->n_spans; i++)
                if ((rc = span_from_pb(a, ss->spans[i], &so->spans[i])) != 0)
                    return rc;
            out->n_spans += ss->n_spans;
        }
    }
    return 0;
}

/* Give each span its bytes as received: the scan saw spans in wire order, which
 * is the order of the repeated fields protobuf-c filled. */
static void attach_wire(otlp_request_t *req, const otlp_wire_spans_t *wire)
{
    size_t k = 0;
    for (size_t r = 0; r < req->count; r++)
        for (size_t s = 0; s < req->items[r].n_scopes; s++) {
            otlp_scope_spans_t *ss = &req->items[r].scopes[s];
            for (size_t i = 0; i < ss->n_spans; i++)
                ss->spans[i].wire = wire->items[k++];
        }
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* A failed decode's code and reason: an arena that hit its limit says the
 * request was too big, whatever the step. */
static int decode_error(arbor_arena_t *arena, int rc, char *err, size_t errlen)
{
    if (rc == ENOMEM && arena->overflowed) {
        set_err(err, errlen, "request needs more memory than allowed to decode");
        return ARBOR_ETOOBIG;
    }
    if (rc == ENOMEM)
        set_err(err, errlen, "out of memory");
    else if (rc == ARBOR_EDECODE)
        set_err(err, errlen, "attribute values nested too deeply");
    return rc;
}

static int decode_json(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out, char *err,
                       size_t errlen)
{
    pb_request_t *req = NULL;
    int rc = otlp_json_to_pb(arena, buf, len, &req, err, errlen);
    if (rc)
        return rc;
    return decode_error(arena, otlp_request_from_pb(arena, req, out), err, errlen);
}

int otlp_request_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out, char *err,
                            size_t errlen)
{
    otlp_wire_spans_t wire = {NULL, 0, 0};
    int rc = otlp_scan(buf, len, OTLP_MAX_VALUE_DEPTH, arena, &wire);
    if (rc == ENOMEM)
        return decode_error(arena, rc, err, errlen);
    if (rc) {
        set_err(err, errlen, rc == ARBOR_ETOOBIG ? "attribute values nested too deeply" : "malformed protobuf message");
        return ARBOR_EDECODE;
    }
    ProtobufCAllocator alloc = otlp_arena_allocator(arena);
    pb_request_t *req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&alloc, len, buf);
    if (req == NULL) {
        if (arena->overflowed)
            return decode_error(arena, ENOMEM, err, errlen);
        set_err(err, errlen, "malformed protobuf ExportTraceServiceRequest");
        return ARBOR_EDECODE;
    }
    rc = otlp_request_from_pb(arena, req, out);
    if (rc == 0 && wire.count == out->n_spans) /* always, for a request protobuf-c accepted */
        attach_wire(out, &wire);
    return decode_error(arena, rc, err, errlen);
}

int otlp_request_decode(arbor_arena_t *arena, otlp_encoding_t enc, const void *buf, size_t len,
                        otlp_request_t *out, char *err, size_t errlen)
{
    if (enc == OTLP_ENC_JSON)
        return decode_json(arena, buf, len, out, err, errlen);
    int rc = otlp_wire_request(arena, buf, len, out);
    if (rc == OTLP_WIRE_FALLBACK)
        return otlp_request_decode_pbc(arena, buf, len, out, err, errlen);
    return decode_error(arena, rc, err, errlen);
}

/* ---- stored records ----------------------------------------------------- */

/* A span from the wire path has no message until it must change
 * (otlp_span_ensure_pb): until then its bytes are the ones received. */
size_t otlp_span_packed_size(const otlp_span_t *s)
{
    return s->pb ? opentelemetry__proto__trace__v1__span__get_packed_size(s->pb) : s->wire.len;
}

size_t otlp_span_pack(const otlp_span_t *s, uint8_t *out)
{
    if (s->pb == NULL) {
        memcpy(out, s->wire.base, s->wire.len);
        return s->wire.len;
    }
    return opentelemetry__proto__trace__v1__span__pack(s->pb, out);
}

int otlp_span_ensure_pb(arbor_arena_t *arena, otlp_span_t *s)
{
    if (s->pb != NULL)
        return 0;
    otlp_span_t with_pb;
    int rc = otlp_span_decode_pbc(arena, s->wire.base, s->wire.len, &with_pb);
    if (rc)
        return rc;
    with_pb.wire = s->wire;
    *s = with_pb;
    return 0;
}

/* A ResourceSpans / ScopeSpans copy without its children. */
static pb_resource_spans_t resource_record(const otlp_resource_t *r)
{
    const pb_resource_spans_t *rs = r->pb;
    pb_resource_spans_t rec = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rec.resource = rs->resource;
    rec.schema_url = rs->schema_url;
    return rec;
}

static pb_scope_spans_t scope_record(const otlp_scope_t *s)
{
    const pb_scope_spans_t *ss = s->pb;
    pb_scope_spans_t rec = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    rec.scope = ss->scope;
    rec.schema_url = ss->schema_url;
    return rec;
}

/* A record cut from the request (or redacted) is stored as those bytes. */
size_t otlp_resource_record_size(const otlp_resource_t *r)
{
    if (r->record.base != NULL)
        return r->record.len;
    pb_resource_spans_t rec = resource_record(r);
    return opentelemetry__proto__trace__v1__resource_spans__get_packed_size(&rec);
}

size_t otlp_resource_record_pack(const otlp_resource_t *r, uint8_t *out)
{
    if (r->record.base != NULL) {
        memcpy(out, r->record.base, r->record.len);
        return r->record.len;
    }
    pb_resource_spans_t rec = resource_record(r);
    return opentelemetry__proto__trace__v1__resource_spans__pack(&rec, out);
}

size_t otlp_scope_record_size(const otlp_scope_t *s)
{
    if (s->record.base != NULL)
        return s->record.len;
    pb_scope_spans_t rec = scope_record(s);
    return opentelemetry__proto__trace__v1__scope_spans__get_packed_size(&rec);
}

size_t otlp_scope_record_pack(const otlp_scope_t *s, uint8_t *out)
{
    if (s->record.base != NULL) {
        memcpy(out, s->record.base, s->record.len);
        return s->record.len;
    }
    pb_scope_spans_t rec = scope_record(s);
    return opentelemetry__proto__trace__v1__scope_spans__pack(&rec, out);
}

int otlp_span_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_span_t *out)
{
    int rc = otlp_wire_span(arena, arbor_iov(buf ? buf : "", len), out);
    return rc == OTLP_WIRE_FALLBACK ? otlp_span_decode_pbc(arena, buf, len, out) : rc;
}

int otlp_span_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_span_t *out)
{
    ProtobufCAllocator alloc = otlp_arena_allocator(arena);
    pb_span_t *s = opentelemetry__proto__trace__v1__span__unpack(&alloc, len, buf);
    if (s == NULL)
        return arena->overflowed ? ENOMEM : ARBOR_EDECODE;
    int rc = span_from_pb(arena, s, out);
    out->wire = arbor_iov(buf, len);
    return rc;
}

/* Records are read as spans are: the wire decoder keeps every byte of their
 * strings; protobuf-c takes what it does not read. */
int otlp_resource_record_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_resource_t *out)
{
    int rc = otlp_wire_resource_record(arena, arbor_iov(buf ? buf : "", len), out);
    if (rc != OTLP_WIRE_FALLBACK)
        return rc;
    ProtobufCAllocator alloc = otlp_arena_allocator(arena);
    pb_resource_spans_t *rs = opentelemetry__proto__trace__v1__resource_spans__unpack(&alloc, len, buf);
    if (rs == NULL)
        return ARBOR_EDECODE;
    return resource_from_pb(arena, rs, out);
}

int otlp_scope_record_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_scope_t *out)
{
    int rc = otlp_wire_scope_record(arena, arbor_iov(buf ? buf : "", len), out);
    if (rc != OTLP_WIRE_FALLBACK)
        return rc;
    ProtobufCAllocator alloc = otlp_arena_allocator(arena);
    pb_scope_spans_t *ss = opentelemetry__proto__trace__v1__scope_spans__unpack(&alloc, len, buf);
    if (ss == NULL)
        return ARBOR_EDECODE;
    return scope_from_pb(arena, ss, out);
}

/* ---- responses ------------------------------------------------------- */

/* Serialize and release @p root; the text lives in the arena. */
static arbor_iov_t dump_json(arbor_arena_t *arena, json_t *root)
{
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return ARBOR_IOV_NULL;
    size_t n = strlen(s);
    char *d = arbor_arena_dup(arena, s, n);
    free(s);
    return d ? arbor_iov(d, n) : ARBOR_IOV_NULL;
}

arbor_iov_t otlp_export_response(arbor_arena_t *arena, otlp_encoding_t enc, int64_t rejected,
                                 arbor_iov_t message)
{
    int partial = rejected != 0 || message.len != 0;
    if (enc == OTLP_ENC_JSON) {
        if (!partial)
            return ARBOR_IOV("{}");
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)rejected);
        json_t *ps = json_object();
        json_object_set_new(ps, "rejectedSpans", json_string(num));
        json_object_set_new(ps, "errorMessage", json_stringn(message.base ? message.base : "", message.len));
        json_t *root = json_object();
        json_object_set_new(root, "partialSuccess", ps);
        return dump_json(arena, root);
    }
    if (!partial)
        return arbor_iov("", 0);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = rejected;
    ps.error_message = arbor_arena_dup(arena, message.base ? message.base : "", message.len);
    if (ps.error_message == NULL)
        return ARBOR_IOV_NULL;
    resp.partial_success = &ps;
    size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(&resp);
    uint8_t *out = arbor_arena_alloc(arena, n ? n : 1);
    if (out == NULL)
        return ARBOR_IOV_NULL;
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, out);
    return arbor_iov(out, n);
}

arbor_iov_t otlp_status_encode(arbor_arena_t *arena, otlp_encoding_t enc, int code, arbor_iov_t message,
                               int retry_delay_s)
{
    if (enc == OTLP_ENC_JSON) {
        json_t *root = json_pack("{s:i, s:s%}", "code", code, "message", message.len ? message.base : "",
                                 message.len);
        if (root == NULL) /* message was not valid UTF-8: keep the code only */
            root = json_pack("{s:i, s:s}", "code", code, "message", "invalid request");
        if (retry_delay_s > 0) {
            char delay[32];
            snprintf(delay, sizeof delay, "%ds", retry_delay_s);
            json_object_set_new(root, "details",
                                json_pack("[{s:s, s:s}]", "@type", "type.googleapis.com/google.rpc.RetryInfo",
                                          "retryDelay", delay));
        }
        return dump_json(arena, root);
    }
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT, *anys[1] = {&any};
    Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
    Google__Protobuf__Duration dur = GOOGLE__PROTOBUF__DURATION__INIT;
    st.code = code;
    st.message = arbor_arena_dup(arena, message.base ? message.base : "", message.len);
    if (st.message == NULL)
        return ARBOR_IOV_NULL;
    if (retry_delay_s > 0) {
        dur.seconds = retry_delay_s;
        ri.retry_delay = &dur;
        size_t rn = google__rpc__retry_info__get_packed_size(&ri);
        uint8_t *rb = arbor_arena_alloc(arena, rn ? rn : 1);
        if (rb == NULL)
            return ARBOR_IOV_NULL;
        google__rpc__retry_info__pack(&ri, rb);
        any.type_url = "type.googleapis.com/google.rpc.RetryInfo";
        any.value.data = rb;
        any.value.len = rn;
        st.n_details = 1;
        st.details = anys;
    }
    size_t n = google__rpc__status__get_packed_size(&st);
    uint8_t *out = arbor_arena_alloc(arena, n ? n : 1);
    if (out == NULL)
        return ARBOR_IOV_NULL;
    google__rpc__status__pack(&st, out);
    return arbor_iov(out, n);
}
