/* The wire decoder (proto/otlp_wire.c) against protobuf-c: a request with every
 * field and value kind, the shapes it leaves to protobuf-c, tens of thousands of
 * mutants of it (whatever the wire path accepts, protobuf-c accepts and reads
 * the same), and the paths that unpack a wire-path span again (redaction,
 * capture-content off). */
#include "otlp_wire.h"
#include "otlp_same.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static arbor_arena_t arena;

#define BAIL_OUT(...) do { printf("Bail out! "); printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)

/* Every field the views carry, two resources (one with no Resource message), a
 * scope with no scope message, nesting five deep, events, links, dropped counts. */
static const char rich_json[] =
    "{\"resourceSpans\":["
    "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
    "{\"key\":\"host\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"n\",\"value\":{\"intValue\":3}}]}}}],"
    "\"droppedAttributesCount\":2},\"schemaUrl\":\"https://opentelemetry.io/schemas/1.21.0\","
    "\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":\"1.0\",\"attributes\":[{\"key\":\"sa\",\"value\":"
    "{\"boolValue\":true}}],\"droppedAttributesCount\":1},\"schemaUrl\":\"s\",\"spans\":[{"
    "\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\"parentSpanId\":\"eee19b7ec3c1b173\","
    "\"traceState\":\"k=v\",\"name\":\"chat\",\"kind\":3,\"startTimeUnixNano\":\"1544712660000000000\","
    "\"endTimeUnixNano\":1544712661000000000,\"flags\":257,\"droppedAttributesCount\":4,\"droppedEventsCount\":5,"
    "\"droppedLinksCount\":6,\"attributes\":["
    "{\"key\":\"s\",\"value\":{\"stringValue\":\"h\\u00e9llo\"}},"
    "{\"key\":\"b\",\"value\":{\"boolValue\":false}},"
    "{\"key\":\"i\",\"value\":{\"intValue\":\"-9007199254740993\"}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":2.5}},"
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},{\"arrayValue\":{\"values\":["
    "{\"kvlistValue\":{\"values\":[{\"key\":\"deep\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1}]}}}]}}]}}]}}},"
    "{\"key\":\"by\",\"value\":{\"bytesValue\":\"AAEC/w==\"}},"
    "{\"key\":\"empty\",\"value\":{}},{\"key\":\"novalue\"},"
    "{\"key\":\"api_key\",\"value\":{\"stringValue\":\"plain words\"}}],"
    "\"events\":[{\"name\":\"e\",\"timeUnixNano\":\"5\",\"droppedAttributesCount\":1,"
    "\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]},{\"name\":\"bare\"}],"
    "\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\",\"traceState\":\"t\","
    "\"flags\":1,\"droppedAttributesCount\":2,\"attributes\":[{\"key\":\"l\",\"value\":{\"doubleValue\":-0.5}}]}],"
    "\"status\":{\"code\":2,\"message\":\"boom\"}},"
    "{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"0000000000000001\",\"name\":\"second\"}]},"
    "{\"spans\":[{\"traceId\":\"01010101010101010101010101010101\",\"spanId\":\"0101010101010101\",\"status\":{}}]}]},"
    "{\"scopeSpans\":[{\"scope\":{},\"spans\":[{\"spanId\":\"0202020202020202\"}]}]}]}";

/* Field @p field holding @p n bytes at @p inner (may overlap @p out): tag, varint length, bytes. */
static size_t put_msg(uint8_t *out, uint32_t field, const uint8_t *inner, size_t n)
{
    uint8_t head[8];
    size_t k = 0, v = n;
    head[k++] = (uint8_t)(field << 3 | 2);
    for (; v >= 0x80; v >>= 7)
        head[k++] = (uint8_t)(v | 0x80);
    head[k++] = (uint8_t)v;
    memmove(out + k, inner, n);
    memcpy(out, head, k);
    return k + n;
}

/* Append @p n bytes to @p out at *k, as field @p field. */
static void append_msg(uint8_t *out, size_t *k, uint32_t field, const void *bytes, size_t n)
{
    memcpy(out + *k + 8, bytes, n); /* room for the tag and length */
    size_t m = put_msg(out + *k, field, out + *k + 8, n);
    *k += m;
}

/* The binary protobuf of an OTLP/JSON request, built from what the JSON side
 * decodes (stored records and packed spans are messages; appending fields to
 * one is protobuf's own concatenation). */
static uint8_t *binary_of_json(const char *json, size_t *len)
{
    otlp_request_t req;
    char err[128];
    if (otlp_request_decode(&arena, OTLP_ENC_JSON, json, strlen(json), &req, err, sizeof err) != 0)
        BAIL_OUT("JSON request: %s", err);
    uint8_t *out = arbor_arena_alloc(&arena, 1 << 16), *rs = arbor_arena_alloc(&arena, 1 << 15),
            *ss = arbor_arena_alloc(&arena, 1 << 14), *tmp = arbor_arena_alloc(&arena, 1 << 13);
    size_t k = 0;
    for (size_t r = 0; r < req.count; r++) {
        size_t nrs = otlp_resource_record_pack(&req.items[r].resource, rs);
        for (size_t c = 0; c < req.items[r].n_scopes; c++) {
            const otlp_scope_spans_t *sc = &req.items[r].scopes[c];
            size_t nss = otlp_scope_record_pack(&sc->scope, ss);
            for (size_t i = 0; i < sc->n_spans; i++)
                append_msg(ss, &nss, 2, tmp, otlp_span_pack(&sc->spans[i], tmp));
            append_msg(rs, &nrs, 2, ss, nss);
        }
        append_msg(out, &k, 1, rs, nrs);
    }
    *len = k;
    return out;
}

static uint8_t *rich(size_t *len)
{
    return binary_of_json(rich_json, len);
}

/* Decode @p buf both ways: the wire path's code, and whether the two agree
 * (the wire path accepted and protobuf-c read the same; or it fell back). */
static int both(const void *buf, size_t len, const char **why)
{
    otlp_request_t w, p;
    char err[128];
    int rc = otlp_wire_request(&arena, buf, len, &w);
    *why = NULL;
    if (rc == 0) {
        if (otlp_request_decode_pbc(&arena, buf, len, &p, err, sizeof err) != 0)
            *why = "protobuf-c refused what the wire path accepted";
        else
            *why = otlp_same(&arena, &w, &p);
    } else if (rc != OTLP_WIRE_FALLBACK) {
        *why = "neither decoded nor fell back";
    }
    return rc;
}

static void test_rich(void)
{
    size_t len;
    uint8_t *b = rich(&len);
    const char *why;
    otlp_request_t req;
    char err[128];
    is_int(both(b, len, &why), 0, "the rich request takes the wire path");
    ok(why == NULL, "and reads as protobuf-c reads it (%s)", why ? why : "same");
    ok(otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, b, len, &req, err, sizeof err) == 0 && req.n_spans == 4 &&
           req.items[0].scopes[0].spans[0].pb == NULL && req.items[0].resource.pb != NULL,
       "otlp_request_decode: 4 spans, no message per span, the resource's for its record");
    const otlp_span_t *s = &req.items[0].scopes[0].spans[0];
    size_t n = otlp_span_packed_size(s);
    uint8_t *out = arbor_arena_alloc(&arena, n);
    ok(otlp_span_pack(s, out) == n && n == s->wire.len && memcmp(out, s->wire.base, n) == 0,
       "a wire-path span packs to its bytes as received");
    otlp_span_t one, ref;
    ok(otlp_span_decode(&arena, s->wire.base, s->wire.len, &one) == 0 &&
           otlp_span_decode_pbc(&arena, s->wire.base, s->wire.len, &ref) == 0 && same_span(&one, &ref),
       "otlp_span_decode (stored spans) reads as protobuf-c does");
}

/* A request of one span whose bytes are @p span. */
static size_t request_of(const uint8_t *span, size_t n, uint8_t *out)
{
    /* request{1: ResourceSpans{2: ScopeSpans{2: span}}}, lengths under 128 */
    size_t k = 0;
    out[k++] = 0x0a, out[k++] = (uint8_t)(n + 4);
    out[k++] = 0x12, out[k++] = (uint8_t)(n + 2);
    out[k++] = 0x12, out[k++] = (uint8_t)n;
    memcpy(out + k, span, n);
    return k + n;
}

static void test_shapes(void)
{
    static const struct {
        const char *what;
        uint8_t span[24];
        size_t n;
        int fallback;
    } cases[] = {
        {"unknown fields of each wire type", {0x2a, 1, 'x', 0xa8, 0x06, 7, 0xb5, 0x06, 1, 2, 3, 4, 0xba, 0x06, 1, 'z'}, 16, 0},
        {"a name with a NUL inside (protobuf-c stops there)", {0x2a, 3, 'a', 0, 'b'}, 5, 0},
        {"a name sent twice (the last wins)", {0x2a, 1, 'a', 0x2a, 1, 'b'}, 6, 0},
        {"kind as a ten-byte varint", {0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11, 0},
        {"the status twice (protobuf-c merges)", {0x7a, 0, 0x7a, 2, 0x18, 2}, 6, 1},
        {"an AnyValue with two values", {0x4a, 6, 0x12, 4, 0x08, 1, 0x18, 2}, 8, 1},
        {"a name as a varint", {0x28, 1}, 2, 1},
        {"start time as a varint", {0x38, 1}, 2, 1},
        {"a six-byte tag", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}, 7, 1},
        {"field 0", {0x02, 0}, 2, 1},
        {"a group", {0x0b, 0x0c}, 2, 1},
        {"a length past the end", {0x2a, 9, 'a'}, 3, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t req[64];
        size_t n = request_of(cases[i].span, cases[i].n, req);
        const char *why;
        int rc = both(req, n, &why);
        ok(rc == (cases[i].fallback ? OTLP_WIRE_FALLBACK : 0), "%s: %s", cases[i].what,
           cases[i].fallback ? "left to protobuf-c" : "read on the wire path");
        ok(why == NULL, "%s: the same as protobuf-c (%s)", cases[i].what, why ? why : "same");
    }
}

/* A request whose one span has one attribute: arrays @p depth deep. */
static size_t nested_request(int depth, uint8_t *out)
{
    size_t n = 0;
    for (int i = 0; i < depth; i++) { /* AnyValue{5: ArrayValue{1: AnyValue}} */
        n = put_msg(out, 1, out, n);
        n = put_msg(out, 5, out, n);
    }
    n = put_msg(out, 2, out, n); /* KeyValue.value */
    n = put_msg(out, 9, out, n); /* Span.attributes */
    n = put_msg(out, 2, out, n); /* ScopeSpans.spans */
    n = put_msg(out, 2, out, n); /* ResourceSpans.scope_spans */
    return put_msg(out, 1, out, n);
}

static void test_depth(void)
{
    static const int depths[] = {1, 5, 30, 31, 32, 33, 34, 40, 200};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint8_t req[4096];
        size_t n = nested_request(depths[i], req);
        const char *why;
        otlp_request_t a, b;
        char err[128];
        int rc = both(req, n, &why);
        int pub = otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, req, n, &a, err, sizeof err);
        int ref = otlp_request_decode_pbc(&arena, req, n, &b, err, sizeof err);
        ok(why == NULL && pub == ref && (depths[i] > 31 ? rc == OTLP_WIRE_FALLBACK : rc == 0),
           "arrays %d deep: %s, decoded as protobuf-c decodes it (%d)", depths[i],
           depths[i] > 31 ? "left to protobuf-c" : "on the wire path", pub);
    }
}

/* xorshift: the same mutants every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static size_t mutate(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    memcpy(out, in, n);
    for (int m = 0, k = 1 + (int)(rnd() % 3); m < k && n > 0; m++) {
        size_t at = rnd() % n;
        switch (rnd() % 5) {
        case 0: out[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: out[at] = (uint8_t)rnd(); break;
        case 2: n = at; break; /* truncate */
        case 3:
            if (n < cap) { memmove(out + at + 1, out + at, n - at); out[at] = (uint8_t)rnd(); n++; }
            break;
        default: { /* copy a slice over another place */
            size_t from = rnd() % n, len = rnd() % 16;
            if (from + len <= n && at + len <= n)
                memmove(out + at, out + from, len);
        }
        }
    }
    return n;
}

static void test_mutants(void)
{
    size_t len, accepted = 0, fell_back = 0, bad = 0;
    uint8_t *in_arena = rich(&len), *b = malloc(len), *m = malloc(len + 64);
    const char *first = NULL;
    memcpy(b, in_arena, len); /* the arena is emptied as the mutants go */
    const char *env = getenv("ARBOR_WIRE_MUTANTS"); /* a longer run by hand */
    long total = env ? atol(env) : 40000;
    if (env && getenv("ARBOR_WIRE_SEED"))
        rnd_state = strtoull(getenv("ARBOR_WIRE_SEED"), NULL, 0);
    for (long i = 0; i < total; i++) {
        size_t n = mutate(b, len, m, len + 64);
        const char *why;
        int rc = both(m, n, &why);
        accepted += rc == 0;
        fell_back += rc == OTLP_WIRE_FALLBACK;
        if (why != NULL && bad++ == 0)
            first = why;
        if (i % 256 == 0)
            arbor_arena_free(&arena);
    }
    free(m);
    free(b);
    ok(bad == 0, "%ld mutants: none the wire path reads differently from protobuf-c (%zu; first: %s)", total, bad,
       first ? first : "none");
    ok(accepted > (size_t)total / 8 && fell_back > (size_t)total / 8, "both paths exercised: %zu read on the wire path, %zu left to protobuf-c",
       accepted, fell_back);
}

/* Strings keep every byte, NULs included (protobuf-c's stop at the first), and a
 * resource or scope record is stored as received without its children: unknown
 * fields and all. */
static void test_every_byte(void)
{
    /* request{ResourceSpans{resource{attr k="a\0b"}, scope_spans{spans{name="n\0m"}}, 9: "x"}} */
    static const uint8_t req[] = {
        0x0a, 30,
        0x0a, 11, 0x0a, 9, 0x0a, 1, 'k', 0x12, 4, 0x0a, 2, 'a', 0,
        0x12, 12, 0x12, 10, 0x2a, 3, 'n', 0, 'm', 0x12, 3, 'x', 'y', 'z',
        0x4a, 1, 'x',
    };
    otlp_request_t r;
    const char *why;
    int rc = both(req, sizeof req, &why);
    ok(rc == 0 && why == NULL, "a NUL in a name and a value: the wire path, read as protobuf-c reads up to it");
    ok(otlp_wire_request(&arena, req, sizeof req, &r) == 0 && r.n_spans == 1, "decoded");
    const otlp_span_t *s = &r.items[0].scopes[0].spans[0];
    ok(s->name.len == 3 && memcmp(s->name.base, "n\0m", 3) == 0, "the span name keeps the bytes after its NUL");
    arbor_iov_t v = r.items[0].resource.attrs.items[0].value.u.str;
    ok(v.len == 2 && memcmp(v.base, "a\0", 2) == 0, "so does a resource attribute");
    static const uint8_t record[] = {0x0a, 11, 0x0a, 9, 0x0a, 1, 'k', 0x12, 4, 0x0a, 2, 'a', 0, 0x4a, 1, 'x'};
    size_t n = otlp_resource_record_size(&r.items[0].resource);
    uint8_t *out = arbor_arena_alloc(&arena, n + 1);
    ok(n == sizeof record && otlp_resource_record_pack(&r.items[0].resource, out) == n && memcmp(out, record, n) == 0,
       "the resource record is the bytes received, less the scope spans (unknown field 9 kept)");
}

static void test_changes_unpack(void)
{
    static const char body[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"01010101010101010101010101010101\",\"spanId\":\"0101010101010101\",\"name\":\"quiet\","
        "\"attributes\":[{\"key\":\"q\",\"value\":{\"stringValue\":\"nothing here\"}}]},"
        "{\"traceId\":\"01010101010101010101010101010101\",\"spanId\":\"0101010101010102\",\"name\":\"loud\","
        "\"attributes\":[{\"key\":\"cfg\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":"
        "\"api_key=ABCDEFGH12345678\"}]}}},{\"key\":\"gen_ai.prompt\",\"value\":{\"stringValue\":\"hi\"}}]}"
        "]}]}]}";
    char err[128];
    otlp_request_t req;
    otlp_redactor_t *r = NULL;
    size_t len;
    uint8_t *b = binary_of_json(body, &len);
    if (otlp_redactor_new("secrets", NULL, NULL, &r, err, sizeof err) != 0)
        BAIL_OUT("setup: %s", err);
    ok(otlp_request_decode(&arena, OTLP_ENC_PROTOBUF, b, len, &req, err, sizeof err) == 0, "decoded");
    otlp_span_t *quiet = &req.items[0].scopes[0].spans[0], *loud = &req.items[0].scopes[0].spans[1];
    size_t count = 9;
    ok(otlp_span_redact(r, quiet, &arena, &count) == 0 && count == 0 && quiet->pb == NULL && quiet->wire.len > 0,
       "nothing to redact: the span is not unpacked again and keeps its bytes");
    ok(otlp_span_drop_content(quiet, &arena, &count) == 0 && count == 0 && quiet->pb == NULL,
       "no content: not unpacked again");
    const char *received = loud->wire.base;
    ok(otlp_span_redact(r, loud, &arena, &count) == 0 && count == 1 && loud->pb == NULL && loud->wire.len > 0 &&
           loud->wire.base != received,
       "a secret: new bytes, with views read from them");
    ok(otlp_span_drop_content(loud, &arena, &count) == 0 && count == 1, "and its prompt dropped");
    size_t n = otlp_span_packed_size(loud);
    uint8_t *out = arbor_arena_alloc(&arena, n);
    otlp_span_t back;
    otlp_span_pack(loud, out);
    ok(otlp_span_decode(&arena, out, n, &back) == 0 && back.attrs.count == 1 &&
           back.attrs.items[0].value.u.array.items[0].u.str.len == strlen("api_key= [REDACTED]") &&
           memcmp(back.attrs.items[0].value.u.array.items[0].u.str.base, "api_key= [REDACTED]", 19) == 0,
       "what is stored holds the redaction and not the prompt");
    otlp_redactor_free(r);
}

int main(void)
{
    arbor_arena_init(&arena, 1 << 16, 0);
    test_rich();
    test_shapes();
    test_depth();
    test_mutants();
    test_every_byte();
    test_changes_unpack();
    arbor_arena_free(&arena);
    return tap_done();
}
