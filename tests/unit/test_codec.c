/* OTLP codec: both encodings, every AnyValue kind, JSON's hex IDs and string
 * int64s, unknown fields, truncated and hostile input, token conventions,
 * plus the collector's inflate limit. */
#include "ingest.h"
#include "arbor/map64.h"
#include "otlp.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static arbor_arena_t arena;

static const char full_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}}]},"
    "\"unknownTopField\":{\"x\":1},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},\"spans\":[{"
    "\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\"parentSpanId\":\"eee19b7ec3c1b173\","
    "\"name\":\"chat\",\"kind\":3,\"startTimeUnixNano\":\"1544712660000000000\",\"endTimeUnixNano\":1544712661000000000,"
    "\"flags\":257,\"someNewField\":[1,2,3],"
    "\"attributes\":["
    "{\"key\":\"s\",\"value\":{\"stringValue\":\"h\\u00e9llo\"}},"
    "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
    "{\"key\":\"i\",\"value\":{\"intValue\":\"-9007199254740993\"}},"
    "{\"key\":\"i2\",\"value\":{\"intValue\":12}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":2.5}},"
    "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},{\"intValue\":1}]}}},"
    "{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\",\"value\":{\"boolValue\":false}}]}}},"
    "{\"key\":\"by\",\"value\":{\"bytesValue\":\"AAEC/w==\"}},"
    "{\"key\":\"empty\",\"value\":{}},"
    "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":7}}],"
    "\"events\":[{\"name\":\"e\",\"timeUnixNano\":\"5\",\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]}],"
    "\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\"}],"
    "\"status\":{\"code\":2,\"message\":\"boom\"}}]}]}]}";

static otlp_span_t *only_span(otlp_request_t *req)
{
    if (req->count != 1 || req->items[0].n_scopes != 1 || req->items[0].scopes[0].n_spans != 1)
        return NULL;
    return &req->items[0].scopes[0].spans[0];
}

static const otlp_value_t *attr(const otlp_span_t *s, const char *k)
{
    return otlp_attrs_get(&s->attrs, k);
}

static void check_full_span(const otlp_span_t *s, const char *how)
{
    static const uint8_t tid[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                    0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
    ok(s && s->trace_id.len == 16 && memcmp(s->trace_id.base, tid, 16) == 0, "%s: uppercase hex trace ID", how);
    ok(s && s->parent_span_id.len == 8 && (uint8_t)s->parent_span_id.base[7] == 0x73, "%s: parent ID", how);
    ok(s && s->start_ns == 1544712660000000000ull, "%s: start as a string", how);
    ok(s && s->end_ns == 1544712661000000000ull, "%s: end as a number", how);
    ok(s && s->kind == 3 && s->flags == 257, "%s: kind and flags", how);
    if (s == NULL)
        return;
    const otlp_value_t *v = attr(s, "s");
    ok(v && v->type == OTLP_VALUE_STRING && arbor_iov_eq_str(v->u.str, "h\xc3\xa9llo"), "%s: string value", how);
    v = attr(s, "b");
    ok(v && v->type == OTLP_VALUE_BOOL && v->u.boolean == 1, "%s: bool value", how);
    v = attr(s, "i");
    ok(v && v->type == OTLP_VALUE_INT && v->u.i == -9007199254740993ll, "%s: int64 beyond 2^53 as a string", how);
    v = attr(s, "i2");
    ok(v && v->type == OTLP_VALUE_INT && v->u.i == 12, "%s: int as a number", how);
    v = attr(s, "d");
    ok(v && v->type == OTLP_VALUE_DOUBLE && v->u.d == 2.5, "%s: double value", how);
    v = attr(s, "nan");
    ok(v && v->type == OTLP_VALUE_DOUBLE && v->u.d != v->u.d, "%s: NaN double", how);
    v = attr(s, "a");
    ok(v && v->type == OTLP_VALUE_ARRAY && v->u.array.count == 2 && v->u.array.items[1].u.i == 1,
       "%s: array value", how);
    v = attr(s, "kv");
    ok(v && v->type == OTLP_VALUE_KVLIST && v->u.kvlist.count == 1 &&
           arbor_iov_eq_str(v->u.kvlist.items[0].key, "in"),
       "%s: kvlist value", how);
    v = attr(s, "by");
    ok(v && v->type == OTLP_VALUE_BYTES && v->u.str.len == 4 && (uint8_t)v->u.str.base[3] == 0xff,
       "%s: bytes value", how);
    v = attr(s, "empty");
    ok(v && v->type == OTLP_VALUE_EMPTY, "%s: empty value", how);
    ok(s->n_events == 1 && s->events[0].time_ns == 5 && s->events[0].attrs.count == 1, "%s: event", how);
    ok(s->n_links == 1 && s->links[0].span_id.len == 8, "%s: link", how);
    ok(s->status_code == 2 && arbor_iov_eq_str(s->status_message, "boom"), "%s: status", how);
    int64_t in, out;
    ok(otlp_span_tokens(&s->attrs, &in, &out) && in == 7 && out == 0, "%s: gen_ai token convention", how);
}

static void test_json_and_roundtrip(void)
{
    otlp_request_t req;
    char err[256];
    int rc = otlp_request_decode(&arena, OTLP_ENC_JSON, full_json, strlen(full_json), &req, err, sizeof err);
    ok(rc == 0, "full JSON request decodes (%s)", rc ? err : "ok");
    if (rc)
        return;
    otlp_span_t *s = only_span(&req);
    check_full_span(s, "json");
    ok(s && s->wire.len == 0, "JSON spans have no wire bytes (they are packed for storage)");
    /* pack the span, decode the bytes: every field survives */
    size_t n = otlp_span_packed_size(s);
    uint8_t *bytes = arbor_arena_alloc(&arena, n);
    otlp_span_pack(s, bytes);
    otlp_span_t back;
    ok(otlp_span_decode(&arena, bytes, n, &back) == 0, "packed span decodes");
    check_full_span(&back, "protobuf round trip");
    /* resource and scope records */
    size_t rn = otlp_resource_record_size(&req.items[0].resource);
    uint8_t *rb = arbor_arena_alloc(&arena, rn);
    otlp_resource_record_pack(&req.items[0].resource, rb);
    otlp_resource_t res;
    ok(otlp_resource_record_decode(&arena, rb, rn, &res) == 0 && res.attrs.count == 1 &&
           arbor_iov_eq_str(res.attrs.items[0].key, "service.name"),
       "resource record round-trips");
}

/* A hand-built binary request: ResourceSpans{ScopeSpans{Span{trace,span,name}}}
 * with an unknown field (number 99, varint) inside the span. */
static void test_protobuf(void)
{
    uint8_t span[] = {0x0a, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* trace_id */
                      0x12, 8,  1, 2, 3, 4, 5, 6, 7, 8,                              /* span_id */
                      0x2a, 2,  'h', 'i',                                            /* name */
                      0x98, 0x06, 0x01};                                             /* field 99 = 1 */
    uint8_t buf[128];
    size_t n = 0;
    buf[n++] = 0x0a, buf[n++] = (uint8_t)(sizeof span + 4); /* resource_spans */
    buf[n++] = 0x12, buf[n++] = (uint8_t)(sizeof span + 2); /* scope_spans */
    buf[n++] = 0x12, buf[n++] = (uint8_t)sizeof span;       /* spans */
    memcpy(buf + n, span, sizeof span);
    n += sizeof span;
    otlp_request_t req;
    char err[256];
    int rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, buf, n, &req, err, sizeof err);
    ok(rc == 0, "binary request with an unknown field decodes (%s)", rc ? err : "ok");
    otlp_span_t *s = rc == 0 ? only_span(&req) : NULL;
    ok(s && arbor_iov_eq_str(s->name, "hi") && s->span_id.len == 8, "binary span fields read");
    ok(s && s->wire.len == sizeof span && memcmp(s->wire.base, span, sizeof span) == 0,
       "binary span keeps its bytes as received, unknown field included");
    for (size_t cut = 1; cut < n; cut++) { /* every one: the outer field spans the whole body */
        rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, buf, n - cut, &req, err, sizeof err);
        if (rc != ARBOR_EDECODE) {
            ok(0, "truncated by %zu bytes is rejected", cut);
            return;
        }
    }
    ok(1, "every truncation of the request is rejected with ARBOR_EDECODE");
    rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, "\xff\xff\xff", 3, &req, err, sizeof err);
    is_int(rc, ARBOR_EDECODE, "garbage bytes are ARBOR_EDECODE");
    rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, "", 0, &req, err, sizeof err);
    ok(rc == 0 && req.n_spans == 0, "empty body is an empty request");
}

/* Two ResourceSpans, the second with two ScopeSpans: each decoded span gets the
 * bytes of the span at its place in the request. */
static void test_wire_order(void)
{
    uint8_t spans[3][12];
    for (int i = 0; i < 3; i++) {
        uint8_t *p = spans[i];
        p[0] = 0x12, p[1] = 8; /* span_id = i+1 repeated */
        memset(p + 2, i + 1, 8);
        p[10] = 0x2a, p[11] = 0; /* empty name */
    }
    uint8_t buf[256];
    size_t n = 0;
    int layout[2][2] = {{1, 0}, {1, 1}}; /* spans per scope, per resource */
    int next = 0;
    for (int r = 0; r < 2; r++) {
        size_t scopes = (size_t)(layout[r][0] + layout[r][1]) * (2 + 12) + (layout[r][1] ? 2 : 0) + 2;
        buf[n++] = 0x0a, buf[n++] = (uint8_t)scopes;
        for (int sc = 0; sc < 2; sc++) {
            if (!layout[r][sc])
                continue;
            buf[n++] = 0x12, buf[n++] = 2 + 12;
            buf[n++] = 0x12, buf[n++] = 12;
            memcpy(buf + n, spans[next++], 12);
            n += 12;
        }
    }
    otlp_request_t req;
    char err[256];
    int rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, buf, n, &req, err, sizeof err);
    ok(rc == 0 && req.n_spans == 3, "three spans over two resources and three scopes (%s)", rc ? err : "ok");
    int k = 0, good = rc == 0;
    for (size_t r = 0; good && r < req.count; r++)
        for (size_t sc = 0; sc < req.items[r].n_scopes; sc++)
            for (size_t i = 0; i < req.items[r].scopes[sc].n_spans; i++, k++) {
                const otlp_span_t *s = &req.items[r].scopes[sc].spans[i];
                good &= s->wire.len == 12 && memcmp(s->wire.base, spans[k], 12) == 0 &&
                        (uint8_t)s->span_id.base[0] == k + 1;
            }
    ok(good && k == 3, "each span's wire bytes are its own, in request order");
}

/* ARBOR_CAPTURE_CONTENT=false: content attributes and the attributes of content
 * events go, from the view and from what is packed; everything else stays. */
static void test_drop_content(void)
{
    static const char body[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
        "\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"chat\",\"attributes\":["
        "{\"key\":\"gen_ai.prompt.0.content\",\"value\":{\"stringValue\":\"secret question\"}},"
        "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":7}},"
        "{\"key\":\"input.value\",\"value\":{\"stringValue\":\"secret input\"}},"
        "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o\"}}],"
        "\"events\":[{\"name\":\"prompt\",\"timeUnixNano\":\"5\",\"attributes\":["
        "{\"key\":\"preview\",\"value\":{\"stringValue\":\"secret preview\"}}]},"
        "{\"name\":\"retry\",\"attributes\":[{\"key\":\"attempt\",\"value\":{\"intValue\":2}}]}]}]}]}]}";
    for (int enc = 0; enc < 2; enc++) {
        otlp_request_t req;
        char err[256];
        const void *in = body;
        size_t len = strlen(body);
        if (enc == 1) { /* the same request as binary protobuf: pack what JSON decoded */
            int rc = otlp_request_decode(&arena, OTLP_ENC_JSON, body, len, &req, err, sizeof err);
            otlp_span_t *s0 = rc == 0 ? only_span(&req) : NULL;
            if (s0 == NULL) {
                ok(0, "drop content: JSON decodes (%s)", err);
                return;
            }
            size_t n = otlp_span_packed_size(s0);
            uint8_t *span = arbor_arena_alloc(&arena, n), *buf = arbor_arena_alloc(&arena, n + 16);
            otlp_span_pack(s0, span);
            size_t m = 0; /* ResourceSpans{ScopeSpans{span}}, lengths below 2^14 */
            size_t l3 = n, l2 = 1 + (l3 > 127 ? 2 : 1) + l3, l1 = 1 + (l2 > 127 ? 2 : 1) + l2;
            size_t lens[3] = {l1, l2, l3};
            uint8_t tags[3] = {0x0a, 0x12, 0x12};
            for (int i = 0; i < 3; i++) {
                buf[m++] = tags[i];
                if (lens[i] > 127)
                    buf[m++] = (uint8_t)(lens[i] | 0x80), buf[m++] = (uint8_t)(lens[i] >> 7);
                else
                    buf[m++] = (uint8_t)lens[i];
            }
            memcpy(buf + m, span, n);
            in = buf;
            len = m + n;
        }
        int rc = otlp_request_decode(&arena, enc ? OTLP_ENC_PROTOBUF : OTLP_ENC_JSON, in, len, &req, err, sizeof err);
        otlp_span_t *s = rc == 0 ? only_span(&req) : NULL;
        const char *how = enc ? "protobuf" : "json";
        if (!ok(s != NULL, "%s: decodes (%s)", how, rc ? err : "ok"))
            continue;
        ok(enc == 0 || s->wire.len > 0, "%s: wire bytes before", how);
        size_t dropped = 0;
        ok(otlp_span_drop_content(s, &arena, &dropped) == 0, "%s: content dropped", how);
        is_int(dropped, 3, "three content values dropped");
        ok(s->wire.len == 0, "%s: wire bytes cleared, so the span is packed again", how);
        size_t n = otlp_span_packed_size(s);
        uint8_t *bytes = arbor_arena_alloc(&arena, n);
        otlp_span_pack(s, bytes);
        otlp_span_t back;
        ok(otlp_span_decode(&arena, bytes, n, &back) == 0, "%s: packed span decodes", how);
        ok(back.attrs.count == 2 && otlp_attrs_get(&back.attrs, "gen_ai.usage.input_tokens") &&
               otlp_attrs_get(&back.attrs, "gen_ai.request.model") && !otlp_attrs_get(&back.attrs, "input.value"),
           "%s: tokens and model kept, content attributes gone", how);
        ok(back.n_events == 2 && back.events[0].attrs.count == 0 && back.events[0].time_ns == 5 &&
               arbor_iov_eq_str(back.events[0].name, "prompt") && back.events[1].attrs.count == 1,
           "%s: the prompt event stays without its text; other events keep theirs", how);
        int leaked = 0;
        for (size_t i = 0; i + 6 <= n; i++)
            leaked |= memcmp(bytes + i, "secret", 6) == 0;
        ok(!leaked, "%s: no content left anywhere in the packed bytes", how);
    }
}

/* Arrays nested far beyond the limit, in both encodings. */
static int nested_json(int depth, char *err, size_t errlen)
{
    static char json[5000 * 40 + 400];
    size_t n = (size_t)sprintf(json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"x\",\"value\":");
    for (int i = 0; i < depth; i++)
        n += (size_t)sprintf(json + n, "{\"arrayValue\":{\"values\":[");
    n += (size_t)sprintf(json + n, "{\"intValue\":1}");
    for (int i = 0; i < depth; i++)
        n += (size_t)sprintf(json + n, "]}}");
    n += (size_t)sprintf(json + n, "}]}]}]}]}");
    otlp_request_t req;
    return otlp_request_decode(&arena, OTLP_ENC_JSON, json, n, &req, err, errlen);
}

static void test_deep_nesting(void)
{
    enum { DEPTH = 5000 };
    otlp_request_t req;
    char err[256];
    int rc = nested_json(DEPTH, err, sizeof err);
    is_int(rc, ARBOR_EDECODE, "JSON nested 5000 deep is rejected, not a crash");
    rc = nested_json(OTLP_MAX_VALUE_DEPTH + 5, err, sizeof err);
    ok(rc == ARBOR_EDECODE && strstr(err, "nested") != NULL, "JSON values nested past the limit rejected (%s)", err);
    is_int(nested_json(5, err, sizeof err), 0, "JSON values nested 5 deep are fine");

    /* binary: AnyValue{array_value{values{AnyValue{...}}}} built inside out */
    static uint8_t pb[DEPTH * 16 + 64], tmp[DEPTH * 16 + 64];
    size_t len = 2;
    pb[0] = 0x18, pb[1] = 1; /* int_value = 1 */
    for (int i = 0; i < 200000 / 8 && len + 16 < sizeof pb; i++) {
        /* wrap: ArrayValue{values=1: AnyValue} then AnyValue{array_value=5: ArrayValue} */
        size_t m = 0;
        uint8_t hdr[12];
        size_t h = 0, l = len;
        hdr[h++] = 0x0a;
        do {
            hdr[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
            l >>= 7;
        } while (l);
        memcpy(tmp, hdr, h);
        memcpy(tmp + h, pb, len);
        m = h + len;
        h = 0, l = m;
        hdr[h++] = 0x2a;
        do {
            hdr[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
            l >>= 7;
        } while (l);
        if (h + m > sizeof pb)
            break;
        memcpy(pb, hdr, h);
        memcpy(pb + h, tmp, m);
        len = h + m;
    }
    /* the value alone is not a request; wrap minimal KV/span/scope/resource envelopes */
    uint8_t *req_buf = arbor_arena_alloc(&arena, len + 64);
    size_t at = 0;
    const uint8_t fields[] = {0x12 /* kv.value */, 0x4a /* span.attributes */, 0x12 /* scope.spans */,
                              0x12 /* rs.scope_spans */, 0x0a /* req.resource_spans */};
    memcpy(req_buf + 32, pb, len);
    at = 32;
    for (size_t f = 0; f < sizeof fields; f++) {
        uint8_t hdr[12];
        size_t h = 0, l = len;
        hdr[h++] = fields[f];
        do {
            hdr[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
            l >>= 7;
        } while (l);
        at -= h;
        memcpy(req_buf + at, hdr, h);
        len += h;
    }
    rc = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, req_buf + at, len, &req, err, sizeof err);
    ok(rc == ARBOR_EDECODE && strstr(err, "nested") != NULL,
       "deeply nested protobuf is rejected before protobuf-c recurses (%s)", err);
}

static void test_json_errors(void)
{
    otlp_request_t req;
    char err[256];
    static const char *const bad[] = {
        "{", "[1,2]", "{\"resourceSpans\":5}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"12x\"}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_SERVER\"}]}]}]}",
        "\xff\xfe{}",
        /* beyond int64 as JSON reals: the cast was undefined (UBSan) */
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1e19}}]}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":-1e19}}]}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":2e19}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1.5}}]}]}]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = otlp_request_decode(&arena, OTLP_ENC_JSON, bad[i], strlen(bad[i]), &req, err, sizeof err);
        ok(rc == ARBOR_EDECODE && err[0] != '\0', "bad JSON #%zu rejected with a reason (%s)", i, err);
    }
    const char *big = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":1.7e19,"
                      "\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":9.1e18}}]}]}]}]}";
    ok(otlp_request_decode(&arena, OTLP_ENC_JSON, big, strlen(big), &req, err, sizeof err) == 0 && only_span(&req) &&
           only_span(&req)->start_ns == 17000000000000000000ull && only_span(&req)->attrs.items[0].value.u.i == 9100000000000000000ll,
       "integral reals within range still decode (%s)", err);
    const char *badid = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\",\"spanId\":\"0102030405060708\"}]}]}]}";
    int rc = otlp_request_decode(&arena, OTLP_ENC_JSON, badid, strlen(badid), &req, err, sizeof err);
    ok(rc == 0 && only_span(&req) && only_span(&req)->trace_id.len == 1,
       "a non-hex trace ID decodes to an invalid ID (rejected per span later)");
}

/* The one hash table: growth, the key 0, misses, clear, against a plain array. */
static void test_map64(void)
{
    arbor_map64_t m;
    arbor_map64_init(&m);
    ok(arbor_map64_get(&m, 5) == NULL && arbor_map64_get(&m, 0) == NULL, "map64: an empty table finds nothing");
    int added, all = 1;
    enum { N = 100000 };
    for (uint64_t i = 0; i < N; i++) { /* sequential keys, 0 included: the worst case for a weak mix */
        uint64_t *v = arbor_map64_put(&m, i * 8, &added);
        all &= v != NULL && added;
        if (v)
            *v = i + 1;
    }
    ok(all && m.n == N, "map64: 100,000 keys put (n = %zu, capacity %zu)", m.n, m.cap);
    for (uint64_t i = 0; i < N && all; i++) {
        uint64_t *v = arbor_map64_get(&m, i * 8);
        all &= v != NULL && *v == i + 1 && arbor_map64_get(&m, i * 8 + 1) == NULL;
    }
    ok(all, "map64: every key found with its value, every other key missed");
    uint64_t *again = arbor_map64_put(&m, 0, &added);
    ok(again && !added && *again == 1, "map64: putting a present key (0 here) finds it");
    arbor_map64_clear(&m);
    ok(m.n == 0 && arbor_map64_get(&m, 8) == NULL && arbor_map64_get(&m, 0) == NULL, "map64: clear forgets all");
    arbor_map64_free(&m);
    ok(arbor_hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a64 of \"a\" is FNV-1a's (stable on disk)");
}

/* One table answers every result code, for both receivers. */
static void test_answers(void)
{
    char buf[200];
    ingest_answer_t a = ingest_answer(ARBOR_EFULL, buf, sizeof buf);
    ok(a.http_status == 503 && a.grpc_code == 14 && a.retry_after_s == 30 && strstr(a.message, "full"),
       "a full store: 503 / UNAVAILABLE, retry in 30 s");
    a = ingest_answer(ARBOR_EDECODE, buf, sizeof buf);
    ok(a.http_status == 400 && a.grpc_code == 3 && a.retry_after_s == 0 && a.message == NULL,
       "a bad body: 400 / INVALID_ARGUMENT, not retried, the decoder's own message");
    a = ingest_answer(ARBOR_ETOOBIG, buf, sizeof buf);
    ok(a.http_status == 413 && a.grpc_code == 8 && a.retry_after_s == 0, "too big: 413 / RESOURCE_EXHAUSTED, no RetryInfo");
    a = ingest_answer(EIO, buf, sizeof buf);
    ok(a.http_status == 503 && a.grpc_code == 14 && a.retry_after_s == 5 && strstr(a.message, "write failed: "),
       "anything else: a failed write, retried (%s)", a.message);
    a = ingest_answer(0, buf, sizeof buf);
    ok(a.http_status == 200 && a.grpc_code == 0, "success");
}

/* arbor_split_list, which splits the execution ID keys (and every other comma
 * list): spaces used to overflow the array (it was sized by commas) and a leading
 * separator made main() free a pointer into the middle of the copy. */
static void test_split_keys(void)
{
    static const struct {
        const char *in;
        const char *want[6];
    } cases[] = {
        {"orcheo.execution.id,execution.id", {"orcheo.execution.id", "execution.id"}},
        {"a b c d e", {"a", "b", "c", "d", "e"}},
        {",a,,b , c,", {"a", "b", "c"}},
        {" , ,", {NULL}},
        {"", {NULL}},
        {"x", {"x"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **keys = arbor_split_list(cases[i].in, ", ");
        int same = keys != NULL;
        size_t k = 0;
        for (; same && cases[i].want[k] != NULL; k++)
            same = keys[k] != NULL && strcmp(keys[k], cases[i].want[k]) == 0;
        ok(same && keys[k] == NULL, "split keys \"%s\"", cases[i].in);
        free(keys); /* one allocation: ASan checks the free and the bounds */
    }
}

static void test_tokens(void)
{
    otlp_kv_t kvs[3];
    otlp_attrs_t a = {kvs, 0};
    int64_t in, out;
    memset(kvs, 0, sizeof kvs);
    kvs[0].key = ARBOR_IOV("llm.token_count.prompt");
    kvs[0].value.type = OTLP_VALUE_INT, kvs[0].value.u.i = 3;
    kvs[1].key = ARBOR_IOV("orcheo.token.output");
    kvs[1].value.type = OTLP_VALUE_STRING, kvs[1].value.u.str = ARBOR_IOV("11");
    a.count = 2;
    ok(otlp_span_tokens(&a, &in, &out) && in == 0 && out == 11, "orcheo.* wins over llm.* (first convention)");
    a.items = kvs, a.count = 1;
    ok(otlp_span_tokens(&a, &in, &out) && in == 3 && out == 0, "llm.token_count.* alone");
    a.count = 0;
    ok(!otlp_span_tokens(&a, &in, &out) && in == 0, "no tokens");
}

/* A key sent twice (OTLP says keys MUST be unique; the value that counts is the
 * last, at the first one's place): lookups and the unique view agree. */
static void test_duplicate_keys(void)
{
    enum { N = 40 };
    otlp_kv_t kvs[N];
    char keys[N][8];
    otlp_attrs_t a = {kvs, 0}, u;
    memset(kvs, 0, sizeof kvs);
    for (int i = 0; i < N; i++) { /* k0 k1 k2 k0 k1 k2 ...: each key 13 or 14 times over */
        snprintf(keys[i], sizeof keys[i], "k%d", i % 3);
        kvs[i].key = arbor_iov(keys[i], strlen(keys[i]));
        kvs[i].value.type = OTLP_VALUE_INT;
        kvs[i].value.u.i = i;
    }
    a.count = 4; /* k0=0 k1=1 k2=2 k0=3 */
    const otlp_value_t *v = otlp_attrs_get(&a, "k0");
    ok(v && v->u.i == 3, "otlp_attrs_get: the last of a repeated key");
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.count == 3, "small: three keys once each");
    ok(u.count == 3 && arbor_iov_eq_str(u.items[0].key, "k0") && u.items[0].value.u.i == 3 &&
           u.items[1].value.u.i == 1 && u.items[2].value.u.i == 2,
       "small: k0 at its first place with its last value");
    a.count = N;
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.count == 3, "large (sorted): three keys once each");
    ok(u.count == 3 && u.items[0].value.u.i == 39 && u.items[1].value.u.i == 37 && u.items[2].value.u.i == 38 &&
           arbor_iov_eq_str(u.items[1].key, "k1"),
       "large: first places, last values");
    for (int i = 0; i < N; i++) { /* 40 distinct keys: the view is the input itself */
        snprintf(keys[i], sizeof keys[i], "u%d", i);
        kvs[i].key = arbor_iov(keys[i], strlen(keys[i]));
    }
    size_t used = arena.used;
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.items == kvs && u.count == N, "no repeats: the same array");
    a.count = 10;
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.items == kvs && arena.used == used,
       "no repeats among few: nothing allocated");
    kvs[0].key = ARBOR_IOV("ab"), kvs[1].key = ARBOR_IOV("cb"); /* same length, middle and last byte */
    a.count = 2;
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.items == kvs && u.count == 2, "look-alike keys are not repeats");
    kvs[1].key = ARBOR_IOV("ab");
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.count == 1 && u.items[0].value.u.i == 1, "two of one key: one");
    a.count = 0;
    ok(otlp_attrs_unique(&arena, &a, &u) == 0 && u.count == 0, "none");
    /* token conventions read the same way */
    kvs[0].key = ARBOR_IOV("orcheo.token.input"), kvs[0].value.u.i = 5;
    kvs[1].key = ARBOR_IOV("orcheo.token.input"), kvs[1].value.u.i = 8;
    a.count = 2;
    int64_t in, out;
    ok(otlp_span_tokens(&a, &in, &out) && in == 8, "tokens: the last of a repeated key");
}

/* ---- decode memory: hand-built protobuf for dense but valid shapes ---- */
typedef struct { uint8_t *p; size_t n, cap; } pbuf_t;
static void pb_raw(pbuf_t *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 64; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, d, n); b->n += n;
}
static void pb_varint(pbuf_t *b, uint64_t v)
{
    uint8_t t[10]; size_t n = 0;
    do { t[n++] = (uint8_t)((v & 127) | (v > 127 ? 128 : 0)); v >>= 7; } while (v);
    pb_raw(b, t, n);
}
static void pb_bytes(pbuf_t *b, int field, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2); pb_varint(b, n); pb_raw(b, d, n);
}
static void pb_msg(pbuf_t *b, int field, pbuf_t *m) { pb_bytes(b, field, m->p, m->n); m->n = 0; }

static void span_ids(pbuf_t *s, uint32_t i)
{
    uint8_t tid[16] = {1}, sid[8] = {1};
    memcpy(sid + 1, &i, 4);
    pb_bytes(s, 1, tid, 16);
    pb_bytes(s, 2, sid, 8);
}

/* Decode spans (Span messages as ScopeSpans.spans) with the collector's budget;
 * returns the decode result and reports the bytes used per body byte. */
static int decode_with_budget(const char *what, pbuf_t *spans, size_t want_spans)
{
    pbuf_t ss = {0}, rs = {0}, req = {0};
    pb_raw(&ss, spans->p, spans->n);
    pb_msg(&rs, 2, &ss);
    pb_msg(&req, 1, &rs);
    spans->n = 0;
    static const char *const keys[] = {"orcheo.execution.id", NULL};
    ingest_options_t o = {.execution_id_keys = keys,
                          .arena_limit = INGEST_ARENA_PER_BODY_BYTE * req.n + INGEST_ARENA_BASE_BYTES};
    ingest_job_t *j = ingest_job_new(&o, ARBOR_DEFAULT_TENANT);
    char err[256] = "";
    int rc = ingest_decode(j, &o, OTLP_ENC_PROTOBUF, req.p, req.n, err, sizeof err);
    /* within the per-byte part alone: the base only covers small requests */
    ok(rc == 0 && j->n_spans == want_spans && j->arena.used <= INGEST_ARENA_PER_BODY_BYTE * req.n, "decode memory: %s (%zu bytes) decodes within the budget: %.1f bytes/byte %s",
       what, req.n, (double)j->arena.used / (double)req.n, err);
    ingest_job_free(j);
    free(ss.p), free(rs.p), free(req.p);
    return rc;
}

/* Ingest's packing: two spans of one trace become one block, a lone span keeps
 * its own bytes; with no compression, every byte is copied out of the request
 * body (the writer commits after the body may be gone). */
static void test_ingest_blocks(void)
{
    pbuf_t sp[3] = {{0}}, ss = {0}, rs = {0}, req = {0};
    for (uint8_t i = 0; i < 3; i++) {
        uint8_t tid[16] = {i < 2 ? 7 : 9}, sid[8] = {1, i};
        pb_bytes(&sp[i], 1, tid, 16);
        pb_bytes(&sp[i], 2, sid, 8);
        pb_bytes(&sp[i], 5, "a span name long enough to matter", 33);
        pb_bytes(&ss, 2, sp[i].p, sp[i].n);
    }
    pb_msg(&rs, 2, &ss);
    pb_msg(&req, 1, &rs);
    static const char *const keys[] = {"orcheo.execution.id", NULL};
    ingest_options_t o = {.execution_id_keys = keys, .span_codec = ARBOR_SPAN_PLAIN};
    ingest_job_t *j = ingest_job_new(&o, ARBOR_DEFAULT_TENANT);
    char err[256] = "";
    int rc = ingest_decode(j, &o, OTLP_ENC_PROTOBUF, req.p, req.n, err, sizeof err);
    memset(req.p, 0xaa, req.n); /* the body is gone */
    const arbor_span_in_t *lone = &j->spans[j->order[2]];
    int good = rc == 0 && j->n_spans == 3 && j->n_blocks == 1 && j->blocks[0].first == 0 && j->blocks[0].n_spans == 2;
    good = good && j->blocks[0].raw_len == sp[0].n + sp[1].n && j->blocks[0].codec == ARBOR_SPAN_PLAIN &&
           memcmp(j->blocks[0].packed.base, sp[0].p, sp[0].n) == 0 &&
           memcmp(j->blocks[0].packed.base + sp[0].n, sp[1].p, sp[1].n) == 0;
    ok(good, "two spans of one trace in one block, in key order, their bytes kept (%s)", rc ? err : "decoded");
    ok(rc == 0 && lone->block.len == 0 && lone->block.share == 0 && lone->span_bytes.len == sp[2].n &&
           memcmp(lone->span_bytes.base, sp[2].p, sp[2].n) == 0,
       "a lone span keeps its own bytes, copied out of the body");
    ok(rc == 0 && j->spans[j->order[0]].block.share > 0 && j->spans[j->order[1]].block.offset == sp[0].n,
       "block spans carry their offset and share");
    ingest_job_free(j);
    for (int i = 0; i < 3; i++)
        free(sp[i].p);
    free(ss.p), free(rs.p), free(req.p);
}

/* Count the index entries of @p in with @p scope, @p type and @p key. */
static int entries(const arbor_span_in_t *in, arbor_attr_scope_t scope, arbor_val_type_t type, const char *key)
{
    int n = 0;
    for (size_t i = 0; i < in->n_attrs; i++)
        n += in->attrs[i].scope == scope && in->attrs[i].type == type && arbor_iov_eq_str(in->attrs[i].key, key);
    return n;
}

/* What a span gives its trace's bloom and the tag catalog: each scalar element
 * of an array, a map's key alone, a repeated key's last value, event and link
 * attributes in their scopes; an array past the bound saturates the bloom. */
static void test_ingest_index(void)
{
    char json[8192], big[4096] = "";
    for (int i = 0; i < 70; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s{\"intValue\":%d}", i ? "," : "", i);
    static const char *const keys[] = {"orcheo.execution.id", NULL};
    ingest_options_t o = {.execution_id_keys = keys, .span_codec = ARBOR_SPAN_PLAIN, .capture_content = 1};
    for (int round = 0; round < 2; round++) {
        snprintf(json, sizeof json,
                 "{\"resourceSpans\":[{\"resource\":{\"attributes\":[]},\"scopeSpans\":[{\"spans\":[{"
                 "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\",\"name\":\"s\","
                 "\"attributes\":[{\"key\":\"d\",\"value\":{\"stringValue\":\"first\"}},"
                 "{\"key\":\"sa\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"boolValue\":true},"
                 "{\"doubleValue\":1.5},{\"arrayValue\":{}},{\"kvlistValue\":{}}]}}},"
                 "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"x\",\"value\":{\"intValue\":1}}]}}},"
                 "{\"key\":\"e\",\"value\":{\"arrayValue\":{}}},"
                 "{\"key\":\"d\",\"value\":{\"stringValue\":\"last\"}}%s%s%s],"
                 "\"events\":[{\"name\":\"ev\",\"attributes\":[{\"key\":\"ek\",\"value\":{\"intValue\":3}}]}],"
                 "\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f11\",\"spanId\":\"0102030405060709\","
                 "\"attributes\":[{\"key\":\"lk\",\"value\":{\"stringValue\":\"v\"}}]}]}]}]}]}",
                 round ? ",{\"key\":\"big\",\"value\":{\"arrayValue\":{\"values\":[" : "", round ? big : "",
                 round ? "]}}}" : "");
        ingest_job_t *j = ingest_job_new(&o, ARBOR_DEFAULT_TENANT);
        char err[256] = "";
        int rc = ingest_decode(j, &o, OTLP_ENC_JSON, json, strlen(json), err, sizeof err);
        const arbor_span_in_t *in = rc == 0 && j->n_spans == 1 ? &j->spans[0] : NULL;
        if (round == 0) {
            ok(in && entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_STRING, "sa") == 1 &&
                   entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_BOOL, "sa") == 1 &&
                   entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_DOUBLE, "sa") == 1,
               "an array: one entry per scalar element, nested ones skipped (%s)", rc ? err : "decoded");
            ok(in && entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_OTHER, "m") == 1 &&
                   entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_OTHER, "e") == 1 &&
                   entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_OTHER, "sa") == 0,
               "a map and an empty array: the key alone");
            int last = 0;
            for (size_t i = 0; in && i < in->n_attrs; i++)
                last += arbor_iov_eq_str(in->attrs[i].key, "d") && arbor_iov_eq_str(in->attrs[i].str, "last");
            ok(in && entries(in, ARBOR_SCOPE_SPAN, ARBOR_VAL_STRING, "d") == 1 && last == 1, "a repeated key: its last value only");
            ok(in && entries(in, ARBOR_SCOPE_EVENT, ARBOR_VAL_INT, "ek") == 1 &&
                   entries(in, ARBOR_SCOPE_LINK, ARBOR_VAL_STRING, "lk") == 1 && !in->attrs_incomplete,
               "event and link attributes in their scopes; nothing left out");
        } else {
            ok(in && in->attrs_incomplete && in->n_attrs <= 1 + 64 + 32,
               "a 70-element array past the 64 values of a span: the bloom must rule nothing out");
        }
        ingest_job_free(j);
    }
}

/* A request within ARBOR_MAX_REQUEST_BYTES must decode: 584 spans of 10 short
 * attributes (140 KB) got 413 under the old 12x budget. Each dense shape, at a
 * size where INGEST_ARENA_BASE_BYTES no longer covers it, must fit the budget. */
/* A link's IDs are IDs: of any other length they could carry text past
 * redaction, so the span is refused (and the request's other spans kept). */
static void test_link_ids(void)
{
    static const char json[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\",\"name\":\"bad\","
        "\"links\":[{\"traceId\":\"6170695f6b65793d534543524554\",\"spanId\":\"0102030405060709\"}]},"
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060709\",\"name\":\"good\","
        "\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f11\",\"spanId\":\"0102030405060709\"},{}]}"
        "]}]}]}";
    static const char *const keys[] = {NULL};
    ingest_options_t o = {.execution_id_keys = keys, .span_codec = ARBOR_SPAN_PLAIN, .capture_content = 1};
    ingest_job_t *j = ingest_job_new(&o, ARBOR_DEFAULT_TENANT);
    char err[256] = "";
    int rc = ingest_decode(j, &o, OTLP_ENC_JSON, json, strlen(json), err, sizeof err);
    ok(rc == 0 && j->n_spans == 1 && j->rejected == 1 && strstr(j->error_message, "link") != NULL,
       "a link trace_id of 14 bytes: that span refused, the other kept (%s)", rc ? err : j->error_message);
    ingest_job_free(j);
}

static void test_decode_memory(void)
{
    pbuf_t sp = {0}, s = {0}, kv = {0}, av = {0}, arr = {0};
    for (uint32_t i = 0; i < 5840; i++) {
        span_ids(&s, i);
        pb_bytes(&s, 5, "span", 4);
        for (int a = 0; a < 10; a++) {
            char k[16];
            snprintf(k, sizeof k, "attr.%d", a);
            pb_bytes(&kv, 1, k, strlen(k));
            pb_bytes(&av, 1, "value", 5);
            pb_msg(&kv, 2, &av);
            pb_msg(&s, 9, &kv);
        }
        pb_msg(&sp, 2, &s);
    }
    decode_with_budget("5,840 spans x 10 short attributes", &sp, 5840);
    for (uint32_t i = 0; i < 50000; i++) {
        span_ids(&s, i);
        pb_msg(&sp, 2, &s);
    }
    decode_with_budget("50,000 spans with IDs only", &sp, 50000);
    static const struct {
        const char *what;
        int field; /* Span field repeated empty: 9 attributes, 11 events, 13 links */
    } empties[] = {{"400,000 empty attributes", 9}, {"400,000 empty events", 11}, {"400,000 empty links", 13}};
    for (size_t e = 0; e < sizeof empties / sizeof empties[0]; e++) {
        span_ids(&s, 1);
        for (int a = 0; a < 400000; a++)
            pb_msg(&s, empties[e].field, &av);
        pb_msg(&sp, 2, &s);
        decode_with_budget(empties[e].what, &sp, 1);
    }
    span_ids(&s, 1);
    for (int a = 0; a < 200000; a++) {
        pb_bytes(&kv, 1, "k", 1);
        pb_msg(&kv, 2, &av);
        pb_msg(&s, 9, &kv);
    }
    pb_msg(&sp, 2, &s);
    decode_with_budget("200,000 attributes {k: {}}", &sp, 1);
    span_ids(&s, 1);
    for (int a = 0; a < 400000; a++)
        pb_msg(&arr, 1, &av);
    pb_msg(&av, 5, &arr);
    pb_bytes(&kv, 1, "k", 1);
    pb_msg(&kv, 2, &av);
    pb_msg(&s, 9, &kv);
    pb_msg(&sp, 2, &s);
    decode_with_budget("an array of 400,000 empty values", &sp, 1);
    free(sp.p), free(s.p), free(kv.p), free(av.p), free(arr.p);
}

/* Per-span loops reset their arena: the first ordinary chunk stays for reuse,
 * big one-off blocks and later chunks go. */
static void test_arena_reset(void)
{
    arbor_arena_t a;
    arbor_arena_init(&a, 4096, 0);
    char *first = arbor_arena_alloc(&a, 100);
    for (int i = 0; i < 20; i++)
        arbor_arena_alloc(&a, 1000); /* more chunks */
    arbor_arena_alloc(&a, 100000);     /* a big one-off block */
    arbor_arena_reset(&a);
    ok(a.head != NULL && a.used > 4096 && a.used <= 4096 + 64, "reset keeps one ordinary chunk (used %zu)", a.used);
    ok(arbor_arena_alloc(&a, 100) == first, "the next allocation reuses the first chunk from its start");
    arbor_arena_free(&a);
    ok(a.head == NULL && a.used == 0, "free releases it");
    arbor_arena_reset(&a);
    ok(a.head == NULL && arbor_arena_alloc(&a, 10) != NULL, "reset of an empty arena, then use: fine");
    arbor_arena_free(&a);
}

static size_t gz(const void *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in, z.avail_in = (uInt)n, z.next_out = out, z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t got = z.total_out;
    deflateEnd(&z);
    return got;
}

static void test_inflate(void)
{
    static uint8_t zeros[8 << 20], packed[1 << 20];
    size_t n = gz(zeros, sizeof zeros, packed, sizeof packed);
    arbor_iov_t out;
    is_int(ingest_inflate(&arena, packed, n, 1 << 20, &out), ARBOR_ETOOBIG, "8 MiB bomb over a 1 MiB limit: ETOOBIG");
    ok(ingest_inflate(&arena, packed, n, 16 << 20, &out) == 0 && out.len == sizeof zeros, "same body within limit");
    is_int(ingest_inflate(&arena, packed, n / 2, 16 << 20, &out), ARBOR_EDECODE, "truncated gzip: EDECODE");
    is_int(ingest_inflate(&arena, "not gzip at all", 15, 1 << 20, &out), ARBOR_EDECODE, "garbage: EDECODE");

    /* gzip members back to back decode as one body (RFC 1952 §2.2); only the
     * first was stored before, though the request was acknowledged */
    static uint8_t two[256];
    size_t a = gz("first,", 6, two, sizeof two);
    size_t b = gz("second", 6, two + a, sizeof two - a);
    ok(ingest_inflate(&arena, two, a + b, 1 << 20, &out) == 0 && out.len == 12 && memcmp(out.base, "first,second", 12) == 0,
       "two gzip members: both decoded, in order");
    is_int(ingest_inflate(&arena, two, a + b, 11, &out), ARBOR_ETOOBIG, "the limit counts every member");
    memcpy(two + a + b, "junk", 4);
    is_int(ingest_inflate(&arena, two, a + b + 4, 1 << 20, &out), ARBOR_EDECODE, "trailing garbage after gzip: EDECODE");
    is_int(ingest_inflate(&arena, two, a + 1, 1 << 20, &out), ARBOR_EDECODE, "one byte of a second member: EDECODE");
    static uint8_t z[64];
    uLongf zn = sizeof z;
    compress2(z, &zn, (const Bytef *)"zlib body", 9, 6);
    ok(ingest_inflate(&arena, z, zn, 1 << 20, &out) == 0 && out.len == 9, "zlib (gRPC's deflate) body");
    memcpy(z + zn, "xy", 2);
    is_int(ingest_inflate(&arena, z, zn + 2, 1 << 20, &out), ARBOR_EDECODE, "trailing garbage after zlib: EDECODE");
}

int main(void)
{
    arbor_arena_init(&arena, 65536, 0);
    test_json_and_roundtrip();
    test_protobuf();
    test_wire_order();
    test_drop_content();
    test_deep_nesting();
    test_json_errors();
    test_tokens();
    test_duplicate_keys();
    test_split_keys();
    test_answers();
    test_map64();
    test_inflate();
    test_decode_memory();
    test_ingest_blocks();
    test_ingest_index();
    test_link_ids();
    test_arena_reset();
    arbor_arena_free(&arena);
    return tap_done();
}
