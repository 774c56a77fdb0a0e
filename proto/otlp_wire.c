/* Binary OTLP straight into views, without protobuf-c's generic unpack (which
 * builds a message per KeyValue and AnyValue only for the views to be built from
 * it again: two thirds of a span's decode). It reads the one common shape and
 * nothing else: a singular message sent twice (protobuf-c merges them), a wire
 * type that does not fit its field, a tag or length protobuf-c would refuse,
 * nesting near the limit: each is OTLP_WIRE_FALLBACK, and the caller decodes the
 * request with protobuf-c as before. The views match protobuf-c's field for
 * field (test_otlp_wire.c and the fuzz target compare the two); spans keep pb = NULL
 * and their bytes as received, and otlp_span_ensure_pb() unpacks one with
 * protobuf-c when it must be encoded again (redaction, capture-content off).
 * Resource and scope records, which are stored re-encoded, still come from
 * protobuf-c: once per request. */
#include "otlp_internal.h"

#include <errno.h>

static const char empty_string[] = ""; /* protobuf-c's default for an absent string */

/* Set when a span's decode passes over bytes its views will not hold: a
 * length-delimited field OTLP does not define, or a string sent twice (the last
 * is read, as protobuf-c does). Redaction then judges the bytes themselves
 * (otlp_span_t.unread_bytes). Per thread: one span is decoded on one thread. */
static __thread int unread_seen;

static inline void note_unread(const field_t *f)
{
    if (f->type == 2)
        unread_seen = 1;
}

/* ArrayValue and KeyValueList hold their field 1 alone: any other is not read. */
static void note_unread_besides_1(arbor_iov_t m)
{
    cur_t c = cursor(m);
    field_t f;
    while (next_field(&c, &f) == 0)
        if (f.field != 1)
            note_unread(&f);
}

/* How many times message field @p field occurs in @p m (arrays are sized before
 * they are filled, as protobuf-c does); one of another wire type is left to
 * protobuf-c. */
static int count(arbor_iov_t m, uint32_t field, size_t *n)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    *n = 0;
    while ((rc = next_field(&c, &f)) == 0)
        if (f.field == field && (f.type != 2 || ++*n == 0))
            return OTLP_WIRE_FALLBACK;
    return rc == 1 ? 0 : rc;
}

/* Decode every occurrence of message field FIELD of M into ARR (sized first by
 * count(), which also vouches each has wire type 2), N counting them; ONE(A, bytes,
 * element, ...) decodes one. Returns from the calling function. */
#define REPEATED(A, M, FIELD, ARR, N, ONE, ...)                                                                    \
    do {                                                                                                           \
        size_t n_;                                                                                                 \
        int rc_ = count(M, FIELD, &n_);                                                                            \
        if (rc_ || n_ == 0)                                                                                        \
            return rc_;                                                                                            \
        if (((ARR) = arbor_arena_alloc(A, n_ * sizeof *(ARR))) == NULL)                                            \
            return ENOMEM;                                                                                         \
        cur_t c_ = cursor(M);                                                                                      \
        field_t f_;                                                                                                \
        while ((rc_ = next_field(&c_, &f_)) == 0)                                                                  \
            if (f_.field == (FIELD) && (rc_ = ONE(A, f_.bytes, &(ARR)[(N)++], ##__VA_ARGS__)) != 0)                \
                return rc_;                                                                                        \
        return rc_ == 1 ? 0 : rc_;                                                                                 \
    } while (0)

/* A string: a NUL-terminated copy of every byte. protobuf-c's char * strings
 * end at the first NUL; views keep the bytes that are stored, NULs included,
 * so redaction judges them and renderers escape them. */
static int string_of(arbor_arena_t *a, const field_t *f, arbor_iov_t *out)
{
    if (f->type != 2)
        return OTLP_WIRE_FALLBACK;
    char *s = arbor_arena_dup(a, f->bytes.base, f->bytes.len);
    if (s == NULL)
        return ENOMEM;
    *out = arbor_iov(s, f->bytes.len);
    return 0;
}

static int bytes_of(arbor_arena_t *a, const field_t *f, arbor_iov_t *out)
{
    if (f->type != 2)
        return OTLP_WIRE_FALLBACK;
    *out = ARBOR_IOV_NULL;
    if (f->bytes.len == 0)
        return 0;
    void *b = arbor_arena_dup(a, f->bytes.base, f->bytes.len);
    if (b == NULL)
        return ENOMEM;
    *out = arbor_iov(b, f->bytes.len);
    return 0;
}

/* A string or bytes field of a span's views read again: the earlier one is not
 * in the views (protobuf reads the last), yet it is in the bytes stored. */
static int string_again(arbor_arena_t *a, const field_t *f, arbor_iov_t *out)
{
    if (out->base != NULL && out->base != empty_string)
        unread_seen = 1;
    return string_of(a, f, out);
}

static int bytes_again(arbor_arena_t *a, const field_t *f, arbor_iov_t *out)
{
    if (out->base != NULL)
        unread_seen = 1;
    return bytes_of(a, f, out);
}

static int kv(arbor_arena_t *a, arbor_iov_t m, otlp_kv_t *out, int depth);

/* The repeated KeyValue field @p field of @p m into @p out. */
static int attrs(arbor_arena_t *a, arbor_iov_t m, uint32_t field, otlp_attrs_t *out, int depth)
{
    out->items = NULL;
    out->count = 0;
    REPEATED(a, m, field, out->items, out->count, kv, depth);
}

static int any_value(arbor_arena_t *a, arbor_iov_t m, otlp_value_t *out, int depth);

static int array_value(arbor_arena_t *a, arbor_iov_t m, otlp_value_t *out, int depth)
{
    out->type = OTLP_VALUE_ARRAY;
    REPEATED(a, m, 1, out->u.array.items, out->u.array.count, any_value, depth + 1);
}

/* One AnyValue; a second value field (protobuf-c keeps the last, or merges two
 * messages) is left to protobuf-c. */
static int any_value(arbor_arena_t *a, arbor_iov_t m, otlp_value_t *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (depth >= OTLP_MAX_VALUE_DEPTH) /* near the limit: protobuf-c and the scan judge it */
        return OTLP_WIRE_FALLBACK;
    cur_t c = cursor(m);
    field_t f;
    int rc, seen = 0;
    while ((rc = next_field(&c, &f)) == 0) {
        if (f.field == 0 || f.field > 8) {
            note_unread(&f);
            continue;
        }
        static const int8_t type_of[9] = {-1, 2, 0, 0, 1, 2, 2, 2, 0};
        if (seen++ || f.type != type_of[f.field])
            return OTLP_WIRE_FALLBACK;
        switch (f.field) {
        case 1: out->type = OTLP_VALUE_STRING; rc = string_of(a, &f, &out->u.str); break;
        case 2: out->type = OTLP_VALUE_BOOL; out->u.boolean = f.num != 0; break;
        case 3: out->type = OTLP_VALUE_INT; out->u.i = (int64_t)f.num; break;
        case 4: out->type = OTLP_VALUE_DOUBLE; memcpy(&out->u.d, &f.num, sizeof out->u.d); break;
        case 5: note_unread_besides_1(f.bytes); rc = array_value(a, f.bytes, out, depth); break;
        case 6:
            note_unread_besides_1(f.bytes);
            out->type = OTLP_VALUE_KVLIST;
            rc = attrs(a, f.bytes, 1, &out->u.kvlist, depth + 1);
            break;
        case 7: out->type = OTLP_VALUE_BYTES; rc = bytes_of(a, &f, &out->u.str); break;
        default: break; /* 8, the profiles' string index: read as empty */
        }
        if (rc)
            return rc;
    }
    return rc == 1 ? 0 : rc;
}

static int kv(arbor_arena_t *a, arbor_iov_t m, otlp_kv_t *out, int depth)
{
    cur_t c = cursor(m);
    field_t f;
    int rc, has_value = 0;
    out->key = arbor_iov(empty_string, 0);
    memset(&out->value, 0, sizeof out->value);
    while ((rc = next_field(&c, &f)) == 0) {
        if (f.field == 1)
            rc = string_again(a, &f, &out->key);
        else if (f.field == 2)
            rc = has_value++ || f.type != 2 ? OTLP_WIRE_FALLBACK : any_value(a, f.bytes, &out->value, depth);
        else if (f.field == 3 && f.type != 0)
            rc = OTLP_WIRE_FALLBACK;
        else if (f.field > 3)
            note_unread(&f);
        if (rc)
            return rc;
    }
    return rc == 1 ? 0 : rc;
}

/* 0 when a field has the wire type its declaration gives it; else protobuf-c decides. */
static int scalar_ok(const field_t *f, int want)
{
    return f->type == want ? 0 : OTLP_WIRE_FALLBACK;
}

static int event(arbor_arena_t *a, arbor_iov_t m, otlp_event_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    memset(out, 0, sizeof *out);
    out->name = arbor_iov(empty_string, 0);
    while ((rc = next_field(&c, &f)) == 0) {
        switch (f.field) {
        case 1: rc = scalar_ok(&f, 1); out->time_ns = f.num; break;
        case 2: rc = string_again(a, &f, &out->name); break;
        case 4: rc = scalar_ok(&f, 0); out->dropped_attrs = (uint32_t)f.num; break;
        case 3: break; /* the attributes, below */
        default: note_unread(&f); break;
        }
        if (rc)
            return rc;
    }
    return rc == 1 ? attrs(a, m, 3, &out->attrs, 0) : rc;
}

static int link(arbor_arena_t *a, arbor_iov_t m, otlp_link_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    memset(out, 0, sizeof *out);
    out->trace_state = arbor_iov(empty_string, 0);
    while ((rc = next_field(&c, &f)) == 0) {
        switch (f.field) {
        case 1: rc = bytes_again(a, &f, &out->trace_id); break;
        case 2: rc = bytes_again(a, &f, &out->span_id); break;
        case 3: rc = string_again(a, &f, &out->trace_state); break;
        case 5: rc = scalar_ok(&f, 0); out->dropped_attrs = (uint32_t)f.num; break;
        case 6: rc = scalar_ok(&f, 5); out->flags = (uint32_t)f.num; break;
        case 4: break; /* the attributes, below */
        default: note_unread(&f); break;
        }
        if (rc)
            return rc;
    }
    return rc == 1 ? attrs(a, m, 4, &out->attrs, 0) : rc;
}

static int status(arbor_arena_t *a, arbor_iov_t m, otlp_span_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    out->status_code = 0;
    out->status_message = arbor_iov(empty_string, 0);
    while ((rc = next_field(&c, &f)) == 0) {
        if (f.field == 2)
            rc = string_again(a, &f, &out->status_message);
        else if (f.field == 3 && (rc = scalar_ok(&f, 0)) == 0)
            out->status_code = (int)(int32_t)f.num;
        else if (f.field != 3)
            note_unread(&f);
        if (rc)
            return rc;
    }
    return rc == 1 ? 0 : rc;
}


/* The span's scalar and string fields, the status once (twice: protobuf-c
 * merges), and how many attributes, events and links follow: one pass. */
static int span_fields(arbor_arena_t *a, arbor_iov_t m, otlp_span_t *out, size_t n[3])
{
    cur_t c = cursor(m);
    field_t f;
    int rc, has_status = 0;
    while ((rc = next_field(&c, &f)) == 0) {
        switch (f.field) {
        case 1: rc = bytes_again(a, &f, &out->trace_id); break;
        case 2: rc = bytes_again(a, &f, &out->span_id); break;
        case 3: rc = string_again(a, &f, &out->trace_state); break;
        case 4: rc = bytes_again(a, &f, &out->parent_span_id); break;
        case 5: rc = string_again(a, &f, &out->name); break;
        case 6: rc = scalar_ok(&f, 0); out->kind = (int)(int32_t)f.num; break;
        case 7: rc = scalar_ok(&f, 1); out->start_ns = f.num; break;
        case 8: rc = scalar_ok(&f, 1); out->end_ns = f.num; break;
        case 9: rc = scalar_ok(&f, 2); n[0]++; break;
        case 10: rc = scalar_ok(&f, 0); out->dropped_attrs = (uint32_t)f.num; break;
        case 11: rc = scalar_ok(&f, 2); n[1]++; break;
        case 12: rc = scalar_ok(&f, 0); out->dropped_events = (uint32_t)f.num; break;
        case 13: rc = scalar_ok(&f, 2); n[2]++; break;
        case 14: rc = scalar_ok(&f, 0); out->dropped_links = (uint32_t)f.num; break;
        case 15: rc = has_status++ || f.type != 2 ? OTLP_WIRE_FALLBACK : status(a, f.bytes, out); break;
        case 16: rc = scalar_ok(&f, 5); out->flags = (uint32_t)f.num; break;
        default: note_unread(&f); break;
        }
        if (rc)
            return rc;
    }
    return rc == 1 ? 0 : rc;
}

/* Attributes, events and links, counted by span_fields(): a second pass. */
static int span_repeated(arbor_arena_t *a, arbor_iov_t m, otlp_span_t *out, const size_t n[3])
{
    if ((n[0] && (out->attrs.items = arbor_arena_alloc(a, n[0] * sizeof *out->attrs.items)) == NULL) ||
        (n[1] && (out->events = arbor_arena_alloc(a, n[1] * sizeof *out->events)) == NULL) ||
        (n[2] && (out->links = arbor_arena_alloc(a, n[2] * sizeof *out->links)) == NULL))
        return ENOMEM;
    cur_t c = cursor(m);
    field_t f;
    int rc;
    while ((rc = next_field(&c, &f)) == 0) {
        if (f.field == 9)
            rc = kv(a, f.bytes, &out->attrs.items[out->attrs.count++], 0);
        else if (f.field == 11)
            rc = event(a, f.bytes, &out->events[out->n_events++]);
        else if (f.field == 13)
            rc = link(a, f.bytes, &out->links[out->n_links++]);
        if (rc)
            return rc;
    }
    return rc == 1 ? 0 : rc;
}

int otlp_wire_span(arbor_arena_t *a, arbor_iov_t m, otlp_span_t *out)
{
    size_t n[3] = {0, 0, 0};
    int rc;
    memset(out, 0, sizeof *out);
    out->trace_state = out->name = arbor_iov(empty_string, 0);
    unread_seen = 0;
    if ((rc = span_fields(a, m, out, n)) != 0 || ((n[0] | n[1] | n[2]) && (rc = span_repeated(a, m, out, n)) != 0))
        return rc;
    out->wire = m;
    out->unread_bytes = unread_seen;
    return 0;
}

/* The one occurrence of singular message field @p field in @p m (absent: base
 * NULL); two are left to protobuf-c, which merges them. */
static int singular(arbor_iov_t m, uint32_t field, arbor_iov_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    *out = ARBOR_IOV_NULL;
    while ((rc = next_field(&c, &f)) == 0)
        if (f.field == field) {
            if (out->base != NULL || f.type != 2)
                return OTLP_WIRE_FALLBACK;
            *out = f.bytes; /* base set even when empty: present */
        }
    return rc == 1 ? 0 : rc;
}

/* The last string field @p field of @p m ("" when absent), NUL-terminated in the
 * arena for protobuf-c, and as a view of all its bytes. */
static int last_string(arbor_arena_t *a, arbor_iov_t m, uint32_t field, char **out, arbor_iov_t *view)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    *out = (char *)protobuf_c_empty_string;
    *view = arbor_iov(*out, 0);
    while ((rc = next_field(&c, &f)) == 0)
        if (f.field == field) {
            if ((rc = string_of(a, &f, view)) != 0)
                return rc;
            *out = (char *)view->base;
        }
    return rc == 1 ? 0 : rc;
}

/* The stored record of a ResourceSpans or ScopeSpans: its bytes as received
 * without field 2 (its scope spans / spans), so it is stored as sent, unknown
 * fields and NULs in strings included, with no encoding again. */
static int record_bytes(arbor_arena_t *a, arbor_iov_t m, arbor_iov_t *out)
{
    uint8_t *buf = arbor_arena_alloc(a, m.len ? m.len : 1);
    size_t n = 0;
    cur_t c = cursor(m);
    field_t f;
    int rc;
    if (buf == NULL)
        return ENOMEM;
    for (const uint8_t *at = c.p; (rc = next_field(&c, &f)) == 0; at = c.p)
        if (f.field != 2) {
            memcpy(buf + n, at, (size_t)(c.p - at));
            n += (size_t)(c.p - at);
        }
    *out = arbor_iov(buf, n);
    return rc == 1 ? 0 : rc;
}

/* What a ResourceSpans and a ScopeSpans share: the one message of field 1 (its
 * bytes; base NULL when absent), schema_url (field 3) and the stored record. */
static int record_parts(arbor_arena_t *a, arbor_iov_t bytes, arbor_iov_t *m, char **schema_url, arbor_iov_t *view,
                        arbor_iov_t *record)
{
    int rc = singular(bytes, 1, m);
    if (rc == 0 && (rc = last_string(a, bytes, 3, schema_url, view)) == 0)
        rc = record_bytes(a, bytes, record);
    return rc;
}

static int resource_fields(arbor_arena_t *a, arbor_iov_t m, otlp_resource_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    while ((rc = next_field(&c, &f)) == 0)
        if (f.field == 2 && (rc = scalar_ok(&f, 0)) == 0)
            out->dropped_attrs = (uint32_t)f.num;
        else if (rc)
            return rc;
    return rc == 1 ? attrs(a, m, 1, &out->attrs, 0) : rc;
}

/* A Resource: views from the wire, the message itself (for the stored record)
 * from protobuf-c, now that the walk has bounded its nesting. */
static int resource(arbor_arena_t *a, arbor_iov_t rs_bytes, otlp_resource_t *out)
{
    arbor_iov_t m;
    pb_resource_spans_t *rec = arbor_arena_alloc(a, sizeof *rec);
    int rc;
    if (rec == NULL)
        return ENOMEM;
    *rec = (pb_resource_spans_t)OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    memset(out, 0, sizeof *out);
    out->pb = rec;
    if ((rc = record_parts(a, rs_bytes, &m, &rec->schema_url, &out->schema_url, &out->record)) != 0 || m.base == NULL ||
        (rc = resource_fields(a, m, out)) != 0)
        return rc;
    ProtobufCAllocator alloc = otlp_arena_allocator(a);
    rec->resource = opentelemetry__proto__resource__v1__resource__unpack(&alloc, m.len, (const uint8_t *)m.base);
    return rec->resource ? 0 : a->overflowed ? ENOMEM : OTLP_WIRE_FALLBACK;
}

static int scope_fields(arbor_arena_t *a, arbor_iov_t m, otlp_scope_t *out)
{
    cur_t c = cursor(m);
    field_t f;
    int rc;
    out->name = out->version = arbor_iov(empty_string, 0);
    while ((rc = next_field(&c, &f)) == 0) {
        switch (f.field) {
        case 1: rc = string_of(a, &f, &out->name); break;
        case 2: rc = string_of(a, &f, &out->version); break;
        case 4: rc = scalar_ok(&f, 0); out->dropped_attrs = (uint32_t)f.num; break;
        default: break;
        }
        if (rc)
            return rc;
    }
    return rc == 1 ? attrs(a, m, 3, &out->attrs, 0) : rc;
}

/* A ScopeSpans' scope, as resource() does a Resource. */
static int scope(arbor_arena_t *a, arbor_iov_t ss_bytes, otlp_scope_t *out)
{
    arbor_iov_t m;
    pb_scope_spans_t *rec = arbor_arena_alloc(a, sizeof *rec);
    int rc;
    if (rec == NULL)
        return ENOMEM;
    *rec = (pb_scope_spans_t)OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    memset(out, 0, sizeof *out);
    out->pb = rec;
    if ((rc = record_parts(a, ss_bytes, &m, &rec->schema_url, &out->schema_url, &out->record)) != 0 || m.base == NULL ||
        (rc = scope_fields(a, m, out)) != 0)
        return rc;
    ProtobufCAllocator alloc = otlp_arena_allocator(a);
    rec->scope = opentelemetry__proto__common__v1__instrumentation_scope__unpack(&alloc, m.len,
                                                                                 (const uint8_t *)m.base);
    return rec->scope ? 0 : a->overflowed ? ENOMEM : OTLP_WIRE_FALLBACK;
}

int otlp_wire_resource_record(arbor_arena_t *a, arbor_iov_t bytes, otlp_resource_t *out)
{
    return resource(a, bytes, out);
}

int otlp_wire_scope_record(arbor_arena_t *a, arbor_iov_t bytes, otlp_scope_t *out)
{
    return scope(a, bytes, out);
}

static int scope_spans(arbor_arena_t *a, arbor_iov_t m, otlp_scope_spans_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = scope(a, m, &out->scope);
    if (rc)
        return rc;
    REPEATED(a, m, 2, out->spans, out->n_spans, otlp_wire_span);
}

static int resource_spans(arbor_arena_t *a, arbor_iov_t m, otlp_resource_spans_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = resource(a, m, &out->resource);
    if (rc)
        return rc;
    REPEATED(a, m, 2, out->scopes, out->n_scopes, scope_spans);
}

static int request(arbor_arena_t *a, arbor_iov_t m, otlp_request_t *out)
{
    REPEATED(a, m, 1, out->items, out->count, resource_spans);
}

int otlp_wire_request(arbor_arena_t *a, const void *buf, size_t len, otlp_request_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = request(a, arbor_iov(buf ? buf : "", len), out);
    for (size_t r = 0; rc == 0 && r < out->count; r++)
        for (size_t s = 0; s < out->items[r].n_scopes; s++)
            out->n_spans += out->items[r].scopes[s].n_spans;
    return rc;
}
