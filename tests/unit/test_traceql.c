/* TraceQL: the canonical examples parse; invalid queries fail with a column;
 * each operator evaluates as specified on a small synthetic trace. */
#include "tap.h"
#include "traceql.h"

#include <stdlib.h>
#include <string.h>

static tq_query_t *parse(const char *q, char *err)
{
    return tq_parse(arbor_iov(q, strlen(q)), err, 256);
}

static void test_parse(void)
{
    static const char *const good[] = {
        "{}", "{ }", "{ true }",
        "{ resource.service.name = \"frontend\" && name = \"POST /api/orders\" }",
        "{ resource.service.name=\"frontend\" && name = \"POST /api/orders\" && status = error }",
        "{ span.http.status_code >= 500 }",
        "{ resource.deployment.environment =~ \"prod-.*\" && span.http.status_code = 200 }",
        "{ span.db.system =~ \"postgresql|mysql\" }",
        "{ trace:duration > 5s }", "{ traceDuration > 100ms }", "{ rootServiceName = \"gateway\" }",
        "{ resource.cloud.region = \"us-east-1\" } && { resource.cloud.region = \"us-west-1\" }",
        "{ resource.service.name=\"frontend\" } >> { status = error }",
        "{ span.http.url = \"/path/of/api\" } >> { span.db.name = \"db-shard-001\" }",
        "{ .x != nil } || ({ kind = server } ~ { name !~ \"a.*\" })",
        "{ !(status = ok) && (duration > 1.5ms || span.\"odd name\" = -3) }",
        "{ span:name = \"x\" } > { trace:rootService = \"y\" } < { span:kind = client } << { span:duration <= 1h }",
        "{ span.flag = true && span.ratio < 0.5 && statusMessage = \"boom\" }",
    };
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tq_query_t *q = parse(good[i], err);
        ok(q != NULL, "parses: %s%s%s", good[i], q ? "" : " -- ", q ? "" : err);
        tq_free(q);
    }
    static const struct {
        const char *q;
        const char *msg;
        int col;
    } bad[] = {
        {"{ span.http.status_code = 200 } | count() > 3", "pipelines", 33},
        {"{ span.foo = }", "expected a value", 14},
        {"{ span.foo = \"x\"", "expected '}'", 17},
        {"{ foo = 1 }", "unknown field", 3},
        {"{ status = 5 }", "status compares", 3},
        {"{ .a =~ \"(\" }", "invalid regular expression", 3},
        {"{ .a =~ 5 }", "must be a string", 3},
        {"{ event.name = \"x\" }", "not supported", 3},
        {"{ .a = \"x\" } junk", "unexpected input after the query", 14},
        {"", "empty query", 1},
        {"{ .a & .b }", "'&&'", 6},
        {"{ .a = \"unterminated }", "unterminated string", 8},
        {"{ duration > \"x\" }", "durations compare", 3},
        {"{ .a = nil && .b > nil }", "nil only", 15},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        tq_query_t *q = parse(bad[i].q, err);
        char col[32];
        snprintf(col, sizeof col, "col %d:", bad[i].col);
        ok(q == NULL && strstr(err, bad[i].msg) && strstr(err, col), "rejects %s (%s)", bad[i].q, err);
        tq_free(q);
    }
    tq_query_t *deep = NULL;
    char nested[1000] = "{ ";
    for (int i = 0; i < 200; i++)
        strcat(nested, "(");
    strcat(nested, ".a = 1");
    for (int i = 0; i < 200; i++)
        strcat(nested, ")");
    strcat(nested, " }");
    deep = parse(nested, err);
    ok(deep == NULL && strstr(err, "nested too deeply"), "rejects absurd nesting (%s)", err);
    tq_query_t *f = tq_parse_filter(ARBOR_IOV("{ .a = 1 } && { .b = 2 }"), err, sizeof err);
    ok(f == NULL && strstr(err, "only one spanset filter"), "filter-only parse refuses spanset operators");
}

/* A trace: 0 root "GET /" (server, ok, 2s, svc frontend)
 *            1 child "db" (client, error, db.system=postgresql, 100ms)
 *              3 grandchild "cache" (internal, ok, hits=[a,b])
 *            2 child "db2" (client, unset, db.system=mysql)          */
static arbor_span_rec_t recs[4];
static otlp_span_t spans[4];
static otlp_kv_t kvs[4][2];
static otlp_value_t arr[2];
static otlp_resource_t res;
static otlp_kv_t res_kv[1];
static tq_span_t tspans[4];
static uint32_t order[4] = {0, 1, 3, 2};
static arbor_trace_summary_t sum;

static int decode(void *ctx, size_t i)
{
    (void)ctx;
    tspans[i].span = &spans[i];
    tspans[i].resource = &res;
    return 0;
}

static void setup(tq_trace_t *t)
{
    static const char *const names[] = {"GET /", "db", "db2", "cache"};
    static const int kinds[] = {2, 3, 3, 1}, statuses[] = {1, 2, 0, 1};
    static const uint32_t parents[] = {UINT32_MAX, 0, 0, 1};
    static const uint64_t durs[] = {2000000000ull, 100000000ull, 5000000ull, 1000000ull};
    memset(kvs, 0, sizeof kvs);
    for (int i = 0; i < 4; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].name = arbor_iov(names[i], strlen(names[i]));
        recs[i].kind = kinds[i];
        recs[i].status_code = statuses[i];
        recs[i].start_ns = 1000;
        recs[i].end_ns = 1000 + durs[i];
        recs[i].span_id[7] = (uint8_t)(i + 1);
        memset(&spans[i], 0, sizeof spans[i]);
        spans[i].name = recs[i].name;
        tspans[i].rec = &recs[i];
        tspans[i].parent = parents[i];
        tspans[i].span = NULL;
    }
    kvs[1][0].key = ARBOR_IOV("db.system");
    kvs[1][0].value.type = OTLP_VALUE_STRING, kvs[1][0].value.u.str = ARBOR_IOV("postgresql");
    kvs[2][0].key = ARBOR_IOV("db.system");
    kvs[2][0].value.type = OTLP_VALUE_STRING, kvs[2][0].value.u.str = ARBOR_IOV("mysql");
    kvs[0][0].key = ARBOR_IOV("http.status_code");
    kvs[0][0].value.type = OTLP_VALUE_INT, kvs[0][0].value.u.i = 200;
    arr[0].type = arr[1].type = OTLP_VALUE_STRING;
    arr[0].u.str = ARBOR_IOV("a"), arr[1].u.str = ARBOR_IOV("b");
    kvs[3][0].key = ARBOR_IOV("hits");
    kvs[3][0].value.type = OTLP_VALUE_ARRAY, kvs[3][0].value.u.array.items = arr, kvs[3][0].value.u.array.count = 2;
    for (int i = 0; i < 4; i++)
        spans[i].attrs.items = kvs[i], spans[i].attrs.count = 1;
    spans[1].status_message = ARBOR_IOV("connection refused");
    res_kv[0].key = ARBOR_IOV("service.name");
    res_kv[0].value.type = OTLP_VALUE_STRING, res_kv[0].value.u.str = ARBOR_IOV("frontend");
    res.attrs.items = res_kv, res.attrs.count = 1;
    memset(&sum, 0, sizeof sum);
    sum.has_root = 1, sum.start_ns = 1000, sum.end_ns = 1000 + 2000000000ull;
    sum.root_name = ARBOR_IOV("GET /"), sum.root_service = ARBOR_IOV("frontend");
    memset(t, 0, sizeof *t);
    t->spans = tspans, t->n = 4, t->order = order, t->summary = &sum, t->decode = decode, t->ctx = NULL;
}

/* Which spans match, as a string like "0110". */
static const char *eval(const char *text)
{
    static char out[8];
    char err[256];
    tq_trace_t t;
    uint8_t m[4];
    setup(&t);
    tq_query_t *q = parse(text, err);
    if (q == NULL) {
        snprintf(out, sizeof out, "ERR");
        return out;
    }
    tq_eval(q, &t, m);
    for (int i = 0; i < 4; i++)
        out[i] = (char)('0' + m[i]);
    out[4] = '\0';
    tq_free(q);
    return out;
}

static void check(const char *q, const char *want)
{
    const char *got = eval(q);
    ok(strcmp(got, want) == 0, "%s -> %s (got %s)", q, want, got);
}

static void test_eval(void)
{
    check("{}", "1111");
    check("{ name = \"db\" }", "0100");
    check("{ status = error }", "0100");
    check("{ status != error }", "1011");
    check("{ kind = client }", "0110");
    check("{ duration > 50ms }", "1100");
    check("{ duration <= 5ms }", "0011");
    check("{ traceDuration > 1s }", "1111");
    check("{ rootServiceName = \"frontend\" && rootName = \"GET /\" }", "1111");
    check("{ span.db.system = \"mysql\" }", "0010");
    check("{ span.db.system =~ \"postgres\" }", "0000"); /* fully anchored */
    check("{ span.db.system =~ \"postgres.*|mysql\" }", "0110");
    check("{ span.db.system !~ \"my.*\" }", "0100");
    check("{ span.db.system != \"mysql\" }", "0100"); /* missing attribute never matches != */
    check("{ span.db.system = nil }", "1001");
    check("{ span.db.system != nil }", "0110");
    check("{ span.http.status_code >= 200 && span.http.status_code < 300 }", "1000");
    check("{ span.http.status_code = 200.0 }", "1000");
    check("{ span.db.system > \"n\" }", "0100"); /* lexicographic */
    check("{ resource.service.name = \"frontend\" }", "1111");
    check("{ .service.name = \"frontend\" }", "1111");
    check("{ .db.system = \"mysql\" }", "0010");
    check("{ span.service.name = \"frontend\" }", "0000");
    check("{ span.hits = \"b\" }", "0001");  /* arrays: any element */
    check("{ span.hits != \"c\" }", "0001"); /* none equal */
    check("{ span.hits != \"a\" }", "0000");
    check("{ statusMessage = \"connection refused\" }", "0100");
    check("{ !(kind = client) && status = ok }", "1001");
    check("{ kind = server || span.hits =~ \"a\" }", "1001");
    check("{ name = \"GET /\" } >> { status = ok }", "0001");
    check("{ name = \"GET /\" } > { kind = client }", "0110");
    check("{ name = \"db\" } ~ { name = \"db2\" }", "0010");
    check("{ name = \"db\" } ~ { name = \"db\" }", "0000"); /* a span is not its own sibling */
    check("{ name = \"cache\" } << { kind = server }", "1000");
    check("{ name = \"cache\" } < { }", "0100");
    check("{ name = \"db\" } && { name = \"db2\" }", "0110");
    check("{ name = \"db\" } && { name = \"nope\" }", "0000");
    check("{ name = \"db\" } || { name = \"nope\" }", "0100");
    check("({ name = \"db\" } || { name = \"db2\" }) >> { }", "0001");
}

/* Which spans @p text matches on the trace as @p t now is (not set up again). */
static const char *eval_on(tq_trace_t *t, const char *text)
{
    static char out[8];
    char err[256];
    uint8_t m[4];
    tq_query_t *q = parse(text, err);
    if (q == NULL)
        return "ERR";
    for (int i = 0; i < 4; i++)
        tspans[i].span = NULL;
    tq_eval(q, t, m);
    for (int i = 0; i < 4; i++)
        out[i] = (char)('0' + m[i]);
    out[4] = '\0';
    tq_free(q);
    return out;
}

/* The whole int64 range as literals, compared exactly (as doubles, 2^63 - 1 and
 * 2^63 - 2 are one number); past it, an error. A key sent twice: the last value
 * counts. Arrays of every scalar type match on any element. */
static void test_int64_and_repeats(void)
{
    tq_trace_t t;
    otlp_value_t nums[3] = {{.type = OTLP_VALUE_INT, .u.i = 7}, {.type = OTLP_VALUE_DOUBLE, .u.d = 2.5},
                            {.type = OTLP_VALUE_BOOL, .u.boolean = 1}};
    setup(&t);
    kvs[0][1].key = ARBOR_IOV("big"), kvs[0][1].value.type = OTLP_VALUE_INT, kvs[0][1].value.u.i = INT64_MAX;
    kvs[1][1].key = ARBOR_IOV("big"), kvs[1][1].value.type = OTLP_VALUE_INT, kvs[1][1].value.u.i = INT64_MIN;
    kvs[2][1].key = ARBOR_IOV("db.system"), kvs[2][1].value.type = OTLP_VALUE_STRING, kvs[2][1].value.u.str = ARBOR_IOV("oracle");
    kvs[3][1].key = ARBOR_IOV("mixed"), kvs[3][1].value.type = OTLP_VALUE_ARRAY;
    kvs[3][1].value.u.array.items = nums, kvs[3][1].value.u.array.count = 3;
    for (int i = 0; i < 4; i++)
        spans[i].attrs.count = 2;
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"{ span.big = 9223372036854775807 }", "1000"},
        {"{ span.big = 9223372036854775806 }", "0000"},
        {"{ span.big > 9223372036854775806 }", "1000"},
        {"{ span.big = -9223372036854775808 }", "0100"},
        {"{ span.big < -9223372036854775807 }", "0100"},
        {"{ span.big >= -9223372036854775808 && span.big <= 9223372036854775807 }", "1100"},
        {"{ span.big = 9.223372036854775807e18 }", "1000"}, /* a float literal compares as a double */
        {"{ span.db.system = \"mysql\" }", "0000"},       /* span 2 sent it, then oracle: the last counts */
        {"{ span.db.system = \"oracle\" }", "0010"},
        {"{ span.mixed = 7 }", "0001"},
        {"{ span.mixed = 2.5 }", "0001"},
        {"{ span.mixed = true }", "0001"},
        {"{ span.mixed > 6 && span.mixed < 3 }", "0001"}, /* each condition on any element */
        {"{ span.mixed != 7 }", "0000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = eval_on(&t, cases[i].q);
        ok(strcmp(got, cases[i].want) == 0, "%s -> %s (got %s)", cases[i].q, cases[i].want, got);
    }
    char err[256];
    static const char *const out_of_range[] = {"{ .a = 9223372036854775808 }", "{ .a = -9223372036854775809 }",
                                               "{ .a = 99999999999999999999 }", "{ .a = 1e400 }"};
    for (size_t i = 0; i < 4; i++) {
        tq_query_t *q = parse(out_of_range[i], err);
        ok(q == NULL && strstr(err, "out of range") && strstr(err, "col 8:"), "rejects %s (%s)", out_of_range[i], err);
        tq_free(q);
    }
    tq_index_hint_t h[2];
    tq_query_t *q = parse("{ span.big = -9223372036854775808 }", err);
    ok(q && tq_index_hints(q, h, 2) == 1 && h[0].value.type == ARBOR_VAL_INT && h[0].value.i == INT64_MIN,
       "int64 min hints the bloom exactly");
    tq_free(q);
}

static void test_hints(void)
{
    char err[256];
    tq_index_hint_t h[8];
    tq_query_t *q = parse("{ span.http.status_code >= 500 && resource.service.name = \"frontend\" }", err);
    ok(tq_index_hints(q, h, 8) == 1 && h[0].scope == ARBOR_SCOPE_RESOURCE && !h[0].span_or_resource &&
           arbor_iov_eq_str(h[0].key, "service.name") && arbor_iov_eq_str(h[0].value.str, "frontend"),
       "equality inside && gives a hint, a range none");
    tq_free(q);
    q = parse("{ .a = \"x\" || span.b = \"y\" }", err);
    ok(tq_index_hints(q, h, 8) == 0, "|| gives no hint");
    tq_free(q);
    q = parse("{ name = \"x\" } >> { span.c = 3 }", err);
    ok(tq_index_hints(q, h, 8) == 2 && h[0].scope == ARBOR_SCOPE_INTRINSIC && h[1].value.type == ARBOR_VAL_INT &&
           h[1].value.i == 3,
       "structural: both sides hint");
    tq_free(q);
    q = parse("{ .service.name = \"x\" && .ratio = 0.5 && .ok = true }", err);
    ok(tq_index_hints(q, h, 8) == 3 && h[0].span_or_resource && h[1].value.type == ARBOR_VAL_DOUBLE &&
           h[2].value.type == ARBOR_VAL_BOOL,
       "unscoped, float and bool equalities hint");
    ok(tq_index_hints(q, h, 2) == 2, "hints stop at the caller's room");

        uint8_t bloom[ARBOR_BLOOM_BYTES] = {0};
    ok(tq_hints_may_match(h, 1, bloom) == 0 && tq_hints_may_match(h, 1, NULL) == 1,
       "an empty bloom rules a trace out; no bloom rules nothing out");
    tq_free(q);
}

/* Query text is pointer + length, not a C string: the lexer must not read past
 * it (a number at the very end once went to strtod unterminated; ASan in the
 * sanitizer build catches any over-read). */
static void test_unterminated_text(void)
{
    char err[256];
    static const char buf[] = "{ .a = 5" "00 }";
    tq_query_t *q = tq_parse(arbor_iov(buf, 8), err, sizeof err);
    ok(q == NULL && strstr(err, "col") != NULL, "a query cut after a number fails inside its length (%s)", err);
    tq_free(q);
    char *heap = malloc(5);
    memcpy(heap, "{ 500", 5);
    q = tq_parse(arbor_iov(heap, 5), err, sizeof err);
    ok(q == NULL, "a number at the end of an unterminated heap buffer: an error, no over-read (%s)", err);
    tq_free(q);
    free(heap);
    static const char *const huge[] = {"{ .a = 21e500 }", "{ .a = 99999999999999999999 }", "{ duration > 9e20s }",
                                       "{ .a = -1e300000 }", "{ duration > 9223372036854775807s }"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        err[0] = '\0';
        q = tq_parse(arbor_iov(huge[i], strlen(huge[i])), err, sizeof err);
        ok(q == NULL && strstr(err, "out of range") != NULL, "%s: out of range (%s)", huge[i], err);
        tq_free(q);
    }
    /* a float past int64 is still a double: it compares as one */
    q = tq_parse(ARBOR_IOV("{ .a = 21e50 || .a = -1e300 || .a = 0x10 }"), err, sizeof err);
    ok(q == NULL && strstr(err, "col 38:"), "finite floats parse; hex does not (%s)", err);
    tq_free(q);
    q = tq_parse(ARBOR_IOV("{ .a = 21e50 || .a = -1e300 || .a = 5e || .a = 1.e3 }"), err, sizeof err);
    ok(q == NULL && strstr(err, "col 38:"), "an exponent needs digits: 5e is 5 and a word (%s)", err);
    tq_free(q);
    q = tq_parse(ARBOR_IOV("{ .a = 21e50 || .a = -1e300 || .a = 1.e3 || .a = -.5 }"), err, sizeof err);
    ok(q != NULL, "finite floats of every shape parse");
    tq_free(q);
    q = tq_parse(arbor_iov("{ .a = \"x\\", 10), err, sizeof err);
    ok(q == NULL, "a backslash at the very end of a string: unterminated (%s)", err);
    tq_free(q);
}

/* Long flat chains recursed without bound in evaluation (45,000 `||` terms took the
 * stack; 60,000 took 594 MB on a 5,000-span trace): the parser bounds operators. */
static void test_operator_bound(void)
{
    static const char *const ops[] = {" || ", " && "};
    char err[256];
    for (size_t o = 0; o < 2; o++) {
        size_t cap = 50000 * 8 + 16, n = 0;
        char *buf = malloc(cap);
        n += (size_t)snprintf(buf + n, cap - n, "{ true");
        for (int i = 0; i < 45000; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%strue", ops[o]);
        snprintf(buf + n, cap - n, " }");
        tq_query_t *q = tq_parse(arbor_iov(buf, strlen(buf)), err, sizeof err);
        /* the 129th operator starts at column 7 + 128 * 8 (each term is "<op>true") */
        char col[32];
        snprintf(col, sizeof col, "col %d:", 7 + 128 * 8 + 1);
        ok(q == NULL && strstr(err, "more than 128 operators") && strstr(err, col),
           "45,000-term%schain refused with its position (%s)", ops[o], err);
        tq_free(q);
        free(buf);
    }
    char *sets = malloc(200 * 8 + 16);
    strcpy(sets, "{}");
    for (int i = 0; i < 200; i++)
        strcat(sets, " > {}");
    tq_query_t *q = tq_parse(arbor_iov(sets, strlen(sets)), err, sizeof err);
    ok(q == NULL && strstr(err, "more than 128 operators"), "200 spanset operators refused (%s)", err);
    tq_free(q);
    free(sets);
    char at_limit[128 * 8 + 16] = "{ true";
    for (int i = 0; i < 128; i++)
        strcat(at_limit, " || true");
    strcat(at_limit, " }");
    q = tq_parse(arbor_iov(at_limit, strlen(at_limit)), err, sizeof err);
    ok(q != NULL, "128 operators still parse");
    tq_free(q);
}

/* A catastrophic regex on a long value stops at PCRE2's match limit and gives the
 * trace up (neither =~ nor !~ may claim an answer); a deadline or a cancel flag
 * stops evaluation too. */
static void test_budget(void)
{
    static char evil[128];
    memset(evil, 'a', 100);
    evil[100] = '!';
    char err[256];
    tq_trace_t t;
    uint8_t m[4];
    static const char *const evil_queries[] = {"{ span.payload =~ \"(a+)+$\" }", "{ span.payload !~ \"(a+)+$\" }"};
    for (size_t i = 0; i < 2; i++) {
        setup(&t); /* span 2 gets a payload that makes (a+)+$ backtrack exponentially */
        kvs[2][1].key = ARBOR_IOV("payload");
        kvs[2][1].value.type = OTLP_VALUE_STRING, kvs[2][1].value.u.str = arbor_iov(evil, 101);
        spans[2].attrs.count = 2;
        tq_query_t *q = parse(evil_queries[i], err);
        uint64_t t0 = arbor_mono_ns();
        size_t n = tq_eval(q, &t, m);
        uint64_t ms = (arbor_mono_ns() - t0) / 1000000;
        ok(q && n == 0 && t.aborted == TQ_ABORT_REGEX, "%s on 100 a's and a '!': given up at the match limit (%llu ms)",
           evil_queries[i], (unsigned long long)ms);
        tq_free(q);
    }
    setup(&t);
    tq_query_t *q = parse("{ span.db.system =~ \"my.*\" }", err);
    ok(tq_eval(q, &t, m) == 1 && t.aborted == 0, "a cheap regex within its budget matches");
    setup(&t);
    t.deadline_ns = 1; /* long past */
    ok(tq_eval(q, &t, m) == 0 && t.aborted == TQ_ABORT_DEADLINE, "past the deadline: no answer, aborted");
    static volatile int cancel = 1;
    setup(&t);
    t.cancel = &cancel;
    ok(tq_eval(q, &t, m) == 0 && t.aborted == TQ_ABORT_DEADLINE, "cancelled: no answer, aborted");
    tq_free(q);
}

int main(void)
{
    test_budget();
    test_operator_bound();
    test_unterminated_text();
    test_parse();
    test_eval();
    test_int64_and_repeats();
    test_hints();
    return tap_done();
}
