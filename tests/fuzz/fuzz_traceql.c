/* libFuzzer target: the TraceQL parser and evaluator. Any text must parse or fail
 * with a message, and every query that parses is evaluated, with index hints,
 * against a small in-memory trace (a root, two children, a grandchild and a
 * placeholder; attributes of every type, the int64 bounds, a key sent twice, an
 * array of mixed scalars, a resource): never a crash, a leak, an undefined
 * operation or unbounded recursion. */
#include "traceql.h"

#include <stdint.h>
#include <string.h>

enum { N = 5 };
static arbor_span_rec_t recs[N];
static otlp_span_t spans[N];
static otlp_kv_t kvs[N][6];
static otlp_value_t arr[3];
static otlp_kv_t res_kv[2];
static otlp_resource_t res;
static tq_span_t tspans[N];
static const uint32_t order[N] = {0, 1, 3, 2, 4};
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
    static const char *const names[] = {"GET /", "db", "chat", "cache", ""};
    static const uint32_t parents[] = {UINT32_MAX, 0, 0, 1, 4};
    static const char payload[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
    memset(t, 0, sizeof *t);
    for (int i = 0; i < N; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].name = arbor_iov(names[i], strlen(names[i]));
        recs[i].kind = i % 6;
        recs[i].status_code = i % 3;
        recs[i].start_ns = 1000;
        recs[i].end_ns = 1000 + (uint64_t)i * 1000000000u;
        recs[i].span_id[7] = (uint8_t)(i + 1);
        memset(&spans[i], 0, sizeof spans[i]);
        spans[i].name = recs[i].name;
        spans[i].status_message = ARBOR_IOV("failed");
        kvs[i][0] = (otlp_kv_t){ARBOR_IOV("http.status_code"), {.type = OTLP_VALUE_INT, .u.i = 200 + i * 100}};
        kvs[i][1] = (otlp_kv_t){ARBOR_IOV("ratio"), {.type = OTLP_VALUE_DOUBLE, .u.d = 0.5 * i}};
        kvs[i][2] = (otlp_kv_t){ARBOR_IOV("payload"), {.type = OTLP_VALUE_STRING, .u.str = ARBOR_IOV(payload)}};
        kvs[i][3] = (otlp_kv_t){ARBOR_IOV("flag"), {.type = OTLP_VALUE_BOOL, .u.boolean = i & 1}};
        kvs[i][4] = (otlp_kv_t){ARBOR_IOV("big"), {.type = OTLP_VALUE_INT, .u.i = i & 1 ? INT64_MIN : INT64_MAX}};
        kvs[i][5] = (otlp_kv_t){ARBOR_IOV("ratio"), {.type = OTLP_VALUE_INT, .u.i = -i}}; /* repeated: the last counts */
        spans[i].attrs = (otlp_attrs_t){kvs[i], 6};
        tspans[i].rec = i == 4 ? NULL : &recs[i]; /* span 4: a placeholder */
        tspans[i].parent = parents[i];
        tspans[i].span = NULL;
        tspans[i].resource = NULL;
    }
    arr[0] = (otlp_value_t){.type = OTLP_VALUE_STRING, .u.str = ARBOR_IOV("a")};
    arr[1] = (otlp_value_t){.type = OTLP_VALUE_INT, .u.i = 7};
    arr[2] = (otlp_value_t){.type = OTLP_VALUE_BOOL, .u.boolean = 1};
    kvs[3][3] = (otlp_kv_t){ARBOR_IOV("hits"), {.type = OTLP_VALUE_ARRAY, .u.array = {arr, 3}}};
    res_kv[0] = (otlp_kv_t){ARBOR_IOV("service.name"), {.type = OTLP_VALUE_STRING, .u.str = ARBOR_IOV("frontend")}};
    res_kv[1] = (otlp_kv_t){ARBOR_IOV("cloud.region"), {.type = OTLP_VALUE_STRING, .u.str = ARBOR_IOV("us-east-1")}};
    res.attrs = (otlp_attrs_t){res_kv, 2};
    memset(&sum, 0, sizeof sum);
    sum.has_root = 1, sum.start_ns = 1000, sum.end_ns = 1000 + 4000000000ull;
    sum.root_name = ARBOR_IOV("GET /"), sum.root_service = ARBOR_IOV("frontend");
    t->spans = tspans, t->n = N, t->order = order, t->summary = &sum, t->decode = decode;
}

static void field_cb(void *ctx, arbor_iov_t name, const otlp_value_t *v)
{
    (void)name, (void)v;
    (*(size_t *)ctx)++;
}

static void evaluate(const tq_query_t *q)
{
    tq_trace_t t;
    uint8_t matched[N];
    tq_index_hint_t hints[8];
    uint8_t bloom[ARBOR_BLOOM_BYTES];
    setup(&t);
    size_t n = tq_eval(q, &t, matched), fields = 0;
    for (size_t i = 0; i < N && n > 0; i++)
        if (matched[i] && tspans[i].rec != NULL)
            tq_span_fields(q, &t, i, field_cb, &fields);
    size_t nh = tq_index_hints(q, hints, 8);
    memset(bloom, 0xa5, sizeof bloom);
    (void)tq_hints_may_match(hints, nh, bloom);
    (void)tq_matches_all(q);
    (void)tq_needs_attributes(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tq_query_t *q = tq_parse(arbor_iov((const char *)data, size), err, sizeof err);
    if (q != NULL)
        evaluate(q);
    tq_free(q);
    q = tq_parse_filter(arbor_iov((const char *)data, size), err, sizeof err);
    if (q != NULL)
        evaluate(q);
    tq_free(q);
    return 0;
}
