/* Redaction (proto/otlp_redact.c): every rule's shape and its near misses,
 * every string a span, resource or scope carries, NUL bytes and fields OTLP
 * does not define, key globs of any length, and rules that cannot run. Spans
 * are written here byte by byte, so the test says exactly what was sent, and
 * what would be stored is read back from the bytes otlp_span_redact() leaves. */
#include "otlp.h"
#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static arbor_arena_t arena;

/* ---- a tiny protobuf writer ---- */

typedef struct {
    uint8_t b[8192];
    size_t n;
} pb_t;

static void put_varint(pb_t *p, uint64_t v)
{
    do {
        p->b[p->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void put_bytes(pb_t *p, uint32_t field, const void *s, size_t len)
{
    put_varint(p, (uint64_t)field << 3 | 2);
    put_varint(p, len);
    memcpy(p->b + p->n, s, len);
    p->n += len;
}

static void put_str(pb_t *p, uint32_t field, const char *s)
{
    put_bytes(p, field, s, strlen(s));
}

static void put_msg(pb_t *p, uint32_t field, const pb_t *m)
{
    put_bytes(p, field, m->b, m->n);
}

/* KeyValue{key, AnyValue{string_value}} */
static void put_kv_str(pb_t *p, uint32_t field, const char *key, const void *val, size_t len)
{
    pb_t any = {.n = 0}, kv = {.n = 0};
    put_bytes(&any, 1, val, len);
    put_str(&kv, 1, key);
    put_msg(&kv, 2, &any);
    put_msg(p, field, &kv);
}

/* The IDs every span needs. */
static void span_ids(pb_t *s)
{
    static const uint8_t trace[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t span[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    put_bytes(s, 1, trace, 16);
    put_bytes(s, 2, span, 8);
}

static int has(arbor_iov_t hay, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay.len; i++)
        if (memcmp(hay.base + i, needle, n) == 0)
            return 1;
    return 0;
}

static otlp_redactor_t *redactor(const char *rules, const char *patterns, const char *globs)
{
    otlp_redactor_t *r = NULL;
    char err[300] = "";
    if (otlp_redactor_new(rules, patterns, globs, &r, err, sizeof err) != 0 || r == NULL) {
        printf("Bail out! redactor: %s\n", err);
        exit(1);
    }
    return r;
}

/* Redact a span; the bytes that would be stored, and the count. */
static arbor_iov_t redact_span(const otlp_redactor_t *r, const pb_t *span, size_t *count, otlp_span_t *s)
{
    char *copy = arbor_arena_dup(&arena, span->b, span->n);
    if (otlp_span_decode(&arena, copy, span->n, s) != 0) {
        printf("Bail out! the test span does not decode\n");
        exit(1);
    }
    int rc = otlp_span_redact(r, s, &arena, count);
    return rc == 0 ? s->wire : ARBOR_IOV_NULL;
}

/* One value of one attribute through the rules: what is stored. */
static arbor_iov_t one_value(const otlp_redactor_t *r, const char *value, size_t *count)
{
    pb_t s = {.n = 0};
    span_ids(&s);
    put_kv_str(&s, 9, "text", value, strlen(value));
    otlp_span_t v;
    arbor_iov_t out = redact_span(r, &s, count, &v);
    return v.attrs.count == 1 ? v.attrs.items[0].value.u.str : out;
}

static void expect_value(const otlp_redactor_t *r, const char *in, const char *want, const char *name)
{
    size_t count;
    arbor_iov_t got = one_value(r, in, &count);
    ok(got.len == strlen(want) && memcmp(got.base, want, got.len) == 0, "%s: \"%.*s\"", name, (int)got.len, got.base);
}

static void test_builtin_shapes(void)
{
    otlp_redactor_t *r = redactor("secrets,emails,ssn,cards", NULL, NULL);
    expect_value(r, "api_key=ABCDEFGH12345678", "api_key= [REDACTED]", "Orcheo's secret assignment, label kept");
    expect_value(r, "mail ana@example.com now", "mail [REDACTED] now", "an email");
    expect_value(r, "ssn 123-45-6789", "ssn [REDACTED]", "an SSN");
    expect_value(r, "card 4111 1111 1111 1111", "card [REDACTED]", "a card number");
    /* the shapes Orcheo's pattern misses (issue 22, item 35) */
    expect_value(r, "token=AKIAIOSFODNN7/EXAMPLEKEY+x", "token= [REDACTED]", "a value with / and +");
    expect_value(r, "password=hunter2hunter2", "password= [REDACTED]", "a password");
    expect_value(r, "{\"api_key\": \"sk-abcdefgh1234\", \"n\": 1}", "{\"api_key\": \"[REDACTED]\", \"n\": 1}",
                 "a JSON-quoted key");
    expect_value(r, "{'client_secret': 'xyz/abc+def=='}", "{'client_secret': '[REDACTED]'}", "a Python-quoted key");
    expect_value(r, "{\"openai_api_key\":\"sk-proj-Ab1/cD2\"}", "{\"openai_api_key\":\"[REDACTED]\"}",
                 "a quoted key with the secret word inside");
    expect_value(r, "Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [REDACTED]",
                 "an Authorization header inside a value");
    expect_value(r, "headers={'authorization': 'Basic dXNlcjpwYXNzd29yZA=='}",
                 "headers={'authorization': 'Basic [REDACTED]'}", "a quoted Basic header");
    expect_value(r, "curl -H 'authorization: bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln'",
                 "curl -H 'authorization: bearer [REDACTED]'", "a bearer JWT in a curl command");
    expect_value(r, "Proxy-Authorization=abcdefgh12345678", "Proxy-Authorization=[REDACTED]", "a bare credential");
    /* near misses stay */
    expect_value(r, "a basic understanding of the bearer instrument", "a basic understanding of the bearer instrument",
                 "prose with basic and bearer");
    expect_value(r, "max_tokens: 1024, monkey=bananas12", "max_tokens: 1024, monkey=bananas12",
                 "labels that only contain the words");
    expect_value(r, "{\"api_key\": \"short\"}", "{\"api_key\": \"short\"}", "a quoted value under 8 characters");
    size_t count;
    one_value(r, "{\"api_key\": \"[REDACTED]\"}", &count);
    is_int(count, 0, "redacted text is not redacted again");
    otlp_redactor_free(r);
}

/* A secret in every string a span carries: each is judged. */
static void test_every_string(void)
{
    otlp_redactor_t *r = redactor("secrets", NULL, NULL);
    const char *secret = "api_key=SECRET00000001";
    pb_t s = {.n = 0}, ev = {.n = 0}, link = {.n = 0}, st = {.n = 0}, any = {.n = 0}, arr = {.n = 0}, kvl = {.n = 0};
    span_ids(&s);
    put_str(&s, 3, "vendor=api_key=SECRET00000002");           /* trace_state */
    put_str(&s, 5, "call api_key=SECRET00000003");             /* name */
    put_kv_str(&s, 9, "plain", secret, strlen(secret));        /* attribute */
    put_str(&ev, 2, "event api_key=SECRET00000004");           /* event name */
    put_kv_str(&ev, 3, "e", "token: SECRET00000005", 21);      /* event attribute */
    put_msg(&s, 11, &ev);
    put_str(&link, 3, "k=token:SECRET00000006");               /* link trace_state */
    put_kv_str(&link, 4, "l", "secret=SECRET00000007", 21);    /* link attribute */
    put_msg(&s, 13, &link);
    put_str(&st, 2, "failed with api_key=SECRET00000008");     /* status message */
    put_msg(&s, 15, &st);
    put_bytes(&any, 7, "bytes api_key=SECRET00000009", 28);    /* bytes value */
    pb_t kv = {.n = 0};
    put_str(&kv, 1, "bin");
    put_msg(&kv, 2, &any);
    put_msg(&s, 9, &kv);
    put_kv_str(&kvl, 1, "deep", "key=SECRET00000010", 18);     /* in a kvlist, in an array */
    pb_t kvl_any = {.n = 0};
    put_msg(&kvl_any, 6, &kvl);
    put_msg(&arr, 1, &kvl_any);
    pb_t arr_any = {.n = 0}, nested = {.n = 0};
    put_msg(&arr_any, 5, &arr);
    put_str(&nested, 1, "nested");
    put_msg(&nested, 2, &arr_any);
    put_msg(&s, 9, &nested);
    size_t count = 0;
    otlp_span_t v;
    arbor_iov_t out = redact_span(r, &s, &count, &v);
    ok(out.base != NULL && !has(out, "SECRET"), "no secret left in the stored bytes");
    is_int(count, 10, "ten values replaced");
    ok(has(v.name, "[REDACTED]") && has(v.status_message, "[REDACTED]") && has(v.trace_state, "[REDACTED]") &&
           has(v.events[0].name, "[REDACTED]") && has(v.links[0].trace_state, "[REDACTED]"),
       "the views are decoded from what is stored");
    otlp_redactor_free(r);
}

static void test_nul_and_unknown_fields(void)
{
    otlp_redactor_t *r = redactor("secrets", NULL, NULL);
    static const char nul[] = "ok\0api_key=SECRET00000001";
    pb_t s = {.n = 0};
    span_ids(&s);
    put_kv_str(&s, 9, "v", nul, sizeof nul - 1);
    size_t count;
    otlp_span_t v;
    arbor_iov_t out = redact_span(r, &s, &count, &v);
    ok(out.base && !has(out, "SECRET") && count == 1, "a secret after a NUL byte is found");
    ok(v.attrs.items[0].value.u.str.len == 22 && memcmp(v.attrs.items[0].value.u.str.base, "ok\0api_key= [REDACTED]", 22) == 0,
       "and the bytes around it are kept, NUL included");

    /* a field OTLP does not define, inside an AnyValue and in the span */
    pb_t any = {.n = 0}, kv = {.n = 0}, s2 = {.n = 0};
    put_str(&any, 1, "visible");
    put_str(&any, 12, "api_key=SECRET00000002");
    put_str(&kv, 1, "k");
    put_msg(&kv, 2, &any);
    span_ids(&s2);
    put_msg(&s2, 9, &kv);
    put_str(&s2, 40, "nothing to see here");
    put_str(&s2, 41, "token=SECRET00000003");
    out = redact_span(r, &s2, &count, &v);
    ok(out.base && !has(out, "SECRET") && count == 2, "unknown fields holding secrets are dropped (%zu)", count);
    ok(has(out, "nothing to see here") && has(out, "visible"), "an unknown field without one is kept as sent");

    pb_t twice = {.n = 0}; /* protobuf reads the last name; the first is stored all the same */
    span_ids(&twice);
    put_str(&twice, 5, "api_key=SECRET00000004");
    put_str(&twice, 5, "fine");
    out = redact_span(r, &twice, &count, &v);
    ok(out.base && !has(out, "SECRET") && count == 1, "a string sent twice: the one the views do not hold is judged");

    pb_t quiet = {.n = 0};
    span_ids(&quiet);
    put_kv_str(&quiet, 9, "q", "nothing here", 12);
    otlp_span_t q;
    char *copy = arbor_arena_dup(&arena, quiet.b, quiet.n);
    otlp_span_decode(&arena, copy, quiet.n, &q);
    ok(otlp_span_redact(r, &q, &arena, &count) == 0 && count == 0 && q.wire.base == copy,
       "nothing to redact: the bytes are stored as received, not copied");
    otlp_redactor_free(r);
}

/* Bytes the views do not hold are judged or go: an ID or a key sent twice (the
 * first copy is not what protobuf reads), a key that is itself a secret, and
 * nesting as deep as the decoders take. */
static void test_ids_keys_depth(void)
{
    otlp_redactor_t *r = redactor("secrets", NULL, NULL);
    static const uint8_t trace[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    pb_t s = {.n = 0}, kv = {.n = 0}, any = {.n = 0};
    put_str(&s, 1, "api_key=SECRET00000001"); /* trace_id twice: the second is read */
    put_bytes(&s, 1, trace, 16);
    put_bytes(&s, 2, trace, 8);
    put_str(&s, 4, "token=SECRET00000002"); /* parent_span_id twice */
    put_bytes(&s, 4, trace + 8, 8);
    put_kv_str(&s, 9, "api_key=SECRET00000003", "fine", 4); /* a key that is a secret */
    put_str(&any, 1, "fine");
    put_str(&kv, 1, "password=SECRET00000004"); /* a key sent twice */
    put_str(&kv, 1, "k");
    put_msg(&kv, 2, &any);
    put_msg(&s, 9, &kv);
    size_t count;
    otlp_span_t v;
    arbor_iov_t out = redact_span(r, &s, &count, &v);
    ok(out.base && !has(out, "SECRET"), "IDs and keys sent twice, and a secret key: nothing left (%zu)", count);
    ok(v.trace_id.len == 16 && memcmp(v.trace_id.base, trace, 16) == 0 && v.parent_span_id.len == 8 &&
           v.attrs.count == 2 && arbor_iov_eq_str(v.attrs.items[1].key, "k"),
       "what protobuf read is what is kept");
    ok(has(v.attrs.items[0].key, "api_key= [REDACTED]"), "the secret key keeps its label");

    pb_t deep = {.n = 0}; /* a value 31 maps deep: as deep as the decoders take */
    put_str(&deep, 1, "api_key=SECRET00000005");
    for (int i = 0; i < 31; i++) {
        pb_t kv1 = {.n = 0}, list = {.n = 0}, wrap = {.n = 0};
        put_str(&kv1, 1, "m");
        put_msg(&kv1, 2, &deep);
        put_msg(&list, 1, &kv1);
        put_msg(&wrap, 6, &list);
        deep = wrap;
    }
    pb_t d = {.n = 0}, dkv = {.n = 0};
    span_ids(&d);
    put_str(&dkv, 1, "deep");
    put_msg(&dkv, 2, &deep);
    put_msg(&d, 9, &dkv);
    out = redact_span(r, &d, &count, &v);
    ok(out.base && !has(out, "SECRET") && count == 1, "31 maps deep: walked, and redacted");
    otlp_redactor_free(r);
}

static void test_key_globs(void)
{
    otlp_redactor_t *r = redactor("none", NULL, "*.api_key,http.request.header.authorization");
    char long_key[400];
    memset(long_key, 'k', sizeof long_key);
    strcpy(long_key + 300, ".api_key");
    pb_t s = {.n = 0}, intkv = {.n = 0}, intany = {.n = 0};
    span_ids(&s);
    put_kv_str(&s, 9, "svc.api_key", "anything", 8);
    put_kv_str(&s, 9, long_key, "anything", 8);
    pb_t nulkv = {.n = 0}, nulany = {.n = 0};
    put_str(&nulany, 1, "anything");
    put_bytes(&nulkv, 1, "x\0y.api_key", 11); /* fnmatch would see "x" */
    put_msg(&nulkv, 2, &nulany);
    put_msg(&s, 9, &nulkv);
    put_varint(&intany, 3 << 3);
    put_varint(&intany, 42);
    put_str(&intkv, 1, "http.request.header.authorization");
    put_msg(&intkv, 2, &intany);
    put_msg(&s, 9, &intkv);
    put_kv_str(&s, 9, "other", "anything", 8);
    size_t count;
    otlp_span_t v;
    arbor_iov_t out = redact_span(r, &s, &count, &v);
    ok(out.base && count == 4, "four values go whole (%zu)", count);
    ok(v.attrs.count == 5 && v.attrs.items[1].key.len == 308 && has(v.attrs.items[1].value.u.str, "[REDACTED]"),
       "a 308-byte key is matched by its glob");
    ok(has(v.attrs.items[2].value.u.str, "[REDACTED]"), "a key with a NUL fails closed");
    ok(v.attrs.items[3].value.type == OTLP_VALUE_STRING && has(v.attrs.items[3].value.u.str, "[REDACTED]"),
       "an integer value goes whole too");
    ok(has(v.attrs.items[4].value.u.str, "anything"), "an unlisted key keeps its value");
    const char *stored = out.base;
    ok(otlp_span_redact(r, &v, &arena, &count) == 0 && count == 0 && v.wire.base == stored,
       "redacted values are not redacted again");
    otlp_redactor_free(r);
}

/* A pattern that cannot finish within its match limit: the value goes. */
static void test_fails_closed(void)
{
    char path[] = "/tmp/arbor-test-patterns-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "(*LIMIT_MATCH=20)(*NO_START_OPT)(a+)+b\n"; /* no shortcut past the backtracking */
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        printf("Bail out! patterns file\n");
    close(fd);
    otlp_redactor_t *r = redactor("none", path, NULL);
    size_t count;
    arbor_iov_t got = one_value(r, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", &count);
    ok(got.len == 10 && memcmp(got.base, "[REDACTED]", 10) == 0 && count == 1,
       "a match limit: the whole value is replaced (\"%.*s\")", (int)got.len, got.base);
    got = one_value(r, "xxab", &count);
    ok(got.len == 12 && memcmp(got.base, "xx[REDACTED]", 12) == 0 && count == 1, "within the limit the rule runs as usual");
    otlp_redactor_free(r);
    unlink(path);
}

static void test_resource_and_scope(void)
{
    otlp_redactor_t *r = redactor("secrets", NULL, NULL);
    pb_t res = {.n = 0}, rs = {.n = 0}, entity = {.n = 0};
    put_kv_str(&res, 1, "service.name", "checkout", 8);
    put_kv_str(&res, 1, "deploy", "token=SECRET00000001", 20);
    put_str(&entity, 2, "api_key=SECRET00000002");
    put_msg(&res, 3, &entity);
    put_msg(&rs, 1, &res);
    put_str(&rs, 3, "https://x/?api_key=SECRET00000003");
    otlp_resource_t rv;
    size_t count;
    ok(otlp_resource_record_decode(&arena, arbor_arena_dup(&arena, rs.b, rs.n), rs.n, &rv) == 0 &&
           otlp_resource_redact(r, &rv, &arena, &count) == 0,
       "a resource record redacted");
    ok(!has(rv.record, "SECRET") && count == 3, "attributes, entity references and the schema URL (%zu)", count);
    ok(rv.attrs.count == 2 && has(rv.attrs.items[0].value.u.str, "checkout") &&
           has(rv.attrs.items[1].value.u.str, "[REDACTED]"),
       "the views are what is stored");

    pb_t sc = {.n = 0}, ss = {.n = 0};
    put_str(&sc, 1, "lib api_key=SECRET00000004");
    put_str(&sc, 2, "secret=SECRET00000005");
    put_kv_str(&sc, 3, "a", "key=SECRET00000006", 18);
    put_msg(&ss, 1, &sc);
    otlp_scope_t sv;
    ok(otlp_scope_record_decode(&arena, arbor_arena_dup(&arena, ss.b, ss.n), ss.n, &sv) == 0 &&
           otlp_scope_redact(r, &sv, &arena, &count) == 0 && !has(sv.record, "SECRET") && count == 3,
       "a scope's name, version and attributes (%zu)", count);
    otlp_redactor_free(r);
}

int main(void)
{
    arbor_arena_init(&arena, 64 * 1024, 0);
    test_builtin_shapes();
    test_every_string();
    test_nul_and_unknown_fields();
    test_ids_keys_depth();
    test_key_globs();
    test_fails_closed();
    test_resource_and_scope();
    arbor_arena_free(&arena);
    return tap_done();
}
