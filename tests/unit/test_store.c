/* Store library: put/get/scan, idempotent re-put, change feed order, late
 * execution mapping, record dedup, snapshot isolation, reopen, check. */
#include "arbor/store.h"
#include "tap.h"

#include <lmdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static const arbor_iov_t T = {ARBOR_DEFAULT_TENANT, sizeof ARBOR_DEFAULT_TENANT - 1};

static arbor_store_t *open_store(int ro)
{
    arbor_store_t *s = NULL;
    arbor_store_options_t o = {.path = dir, .map_size = 64 << 20, .read_only = ro};
    int rc = arbor_store_open(&o, &s);
    ok(rc == 0, "open store (read_only=%d): %s", ro, arbor_strerror(rc));
    return s;
}

static arbor_span_in_t span(uint8_t trace, uint8_t id, uint8_t parent, uint64_t start)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    memset(in.trace_id, trace, 16);
    memset(in.span_id, 0, 8);
    in.span_id[7] = id;
    if (parent) {
        in.has_parent = 1;
        in.parent_span_id[7] = parent;
    }
    in.start_ns = start;
    in.end_ns = start + 1000;
    in.name = ARBOR_IOV("op");
    in.service_name = ARBOR_IOV("svc");
    in.span_bytes = ARBOR_IOV("\x2a\x02op"); /* Span{name:"op"} */
    return in;
}

static int put_spans_in(arbor_store_t *s, arbor_iov_t tenant, arbor_span_in_t *spans, size_t n)
{
    arbor_batch_t *b;
    uint64_t rref, sref;
    int rc = arbor_batch_begin(s, tenant, &b);
    if (rc)
        return rc;
    if ((rc = arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("res"), &rref)) ||
        (rc = arbor_batch_put_record(b, ARBOR_RECORD_SCOPE, ARBOR_IOV("scope"), &sref))) {
        arbor_batch_abort(b);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        spans[i].resource_ref = rref;
        spans[i].scope_ref = sref;
        if ((rc = arbor_batch_put_span(b, &spans[i])) != 0) {
            arbor_batch_abort(b);
            return rc;
        }
    }
    return arbor_batch_commit(b);
}

static int put_spans(arbor_store_t *s, arbor_span_in_t *spans, size_t n)
{
    return put_spans_in(s, T, spans, n);
}

typedef struct {
    int n;
    uint8_t ids[16];
    uint64_t seqs[16];
} visit_t;

static int visit_span(void *ctx, const arbor_span_rec_t *s)
{
    visit_t *v = ctx;
    if (v->n < 16)
        v->ids[v->n] = s->span_id[7], v->seqs[v->n] = s->seq;
    v->n++;
    return 0;
}

static int visit_change(void *ctx, uint64_t seq, const uint8_t *trace, const uint8_t *span)
{
    visit_t *v = ctx;
    (void)trace;
    if (v->n < 16)
        v->ids[v->n] = span[7], v->seqs[v->n] = seq;
    v->n++;
    return 0;
}

static void print_problem(void *ctx, const char *p)
{
    (void)ctx;
    printf("# %s\n", p);
}

static uint64_t check_problems(arbor_store_t *s)
{
    uint64_t problems = 99;
    int rc = arbor_store_check(s, print_problem, NULL, &problems);
    return rc ? 999 : problems;
}

static void test_put_scan(arbor_store_t *s)
{
    arbor_span_in_t sp[3] = {span(1, 3, 1, 300), span(1, 1, 0, 100), span(1, 2, 1, 200)};
    sp[2].status_code = 2;
    sp[0].has_tokens = 1, sp[0].tokens_in = 10, sp[0].tokens_out = 5;
    is_int(put_spans(s, sp, 3), 0, "batch of 3 spans commits");
    arbor_reader_t *r;
    uint8_t tid[16];
    memset(tid, 1, 16);
    is_int(arbor_reader_begin(s, T, &r), 0, "reader begins");
    visit_t v = {0};
    is_int(arbor_reader_trace_spans(r, tid, visit_span, &v), 0, "range scan of the trace");
    is_int(v.n, 3, "scan sees 3 spans");
    ok(v.ids[0] == 1 && v.ids[1] == 2 && v.ids[2] == 3, "spans come in span-ID order");
    arbor_trace_summary_t t;
    is_int(arbor_reader_trace_summary(r, tid, &t), 0, "summary exists");
    is_int(t.span_count, 3, "summary span_count");
    is_int(t.error_count, 1, "summary error_count");
    is_int(t.tokens_in, 10, "summary tokens_in");
    is_int(t.start_ns, 100, "summary start is the earliest span");
    is_int(t.end_ns, 1300, "summary end is the latest end");
    ok(t.has_root && t.root_span_id[7] == 1, "root recognised");
    ok(arbor_iov_eq_str(t.root_name, "op") && arbor_iov_eq_str(t.root_service, "svc"), "root name and service");
    arbor_span_rec_t one;
    uint8_t sid[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    is_int(arbor_reader_span(r, tid, sid, &one), 0, "point lookup of one span");
    ok(one.has_parent && one.parent_span_id[7] == 1 && one.status_code == 2, "span header round-trips");
    ok(arbor_iov_eq(one.span_bytes, ARBOR_IOV("\x2a\x02op")) && one.span_codec == ARBOR_SPAN_PLAIN,
       "small span bytes stored verbatim");
    ok(arbor_iov_eq_str(one.name, "op"), "span name readable without decoding");
    arbor_iov_t rec;
    is_int(arbor_reader_record(r, ARBOR_RECORD_RESOURCE, one.resource_ref, &rec), 0, "resource record found");
    ok(arbor_iov_eq_str(rec, "res"), "resource record bytes");
    uint8_t missing[16] = {9};
    is_int(arbor_reader_trace_summary(r, missing, &t), ARBOR_ENOTFOUND, "unknown trace is ENOTFOUND");
    arbor_reader_end(r);
}

static void test_idempotent(arbor_store_t *s)
{
    arbor_span_in_t sp[1] = {span(1, 2, 1, 200)};
    sp[0].status_code = 1; /* the re-sent copy is no longer an error */
    is_int(put_spans(s, sp, 1), 0, "re-put of an existing span commits");
    arbor_reader_t *r;
    uint8_t tid[16];
    memset(tid, 1, 16);
    arbor_reader_begin(s, T, &r);
    visit_t v = {0};
    arbor_reader_trace_spans(r, tid, visit_span, &v);
    is_int(v.n, 3, "still 3 spans after re-put");
    arbor_trace_summary_t t;
    arbor_reader_trace_summary(r, tid, &t);
    is_int(t.span_count, 3, "summary count unchanged by re-put");
    is_int(t.error_count, 0, "later copy wins: error count updated");
    is_int(v.seqs[1], 4, "replaced span got a new sequence");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "check finds no problems after re-put");
}

static void test_feed(arbor_store_t *s)
{
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    is_int(arbor_reader_last_seq(r), 4, "last_seq counts every committed span");
    visit_t v = {0};
    is_int(arbor_reader_changes(r, 0, visit_change, &v), 0, "feed from 0");
    is_int(v.n, 4, "feed has one entry per put");
    ok(v.seqs[0] == 1 && v.seqs[1] == 2 && v.seqs[2] == 3 && v.seqs[3] == 4, "feed is in sequence order");
    visit_t after = {0};
    arbor_reader_changes(r, 3, visit_change, &after);
    ok(after.n == 1 && after.seqs[0] == 4 && after.ids[0] == 2, "changes after 3: only the re-put span");
    arbor_reader_end(r);
}

static void test_late_execution(arbor_store_t *s)
{
    /* children first, the root carrying the execution ID last (Orcheo's order) */
    arbor_span_in_t kids[2] = {span(2, 2, 1, 20), span(2, 3, 1, 30)};
    is_int(put_spans(s, kids, 2), 0, "children of trace 2 stored");
    uint8_t ids[4][16];
    size_t n = 9;
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    arbor_reader_execution_traces(r, ARBOR_IOV("exec-42"), ids, 4, &n);
    is_int(n, 0, "no execution mapping before the root");
    arbor_reader_end(r);
    arbor_span_in_t root[1] = {span(2, 1, 0, 10)};
    root[0].execution_id = ARBOR_IOV("exec-42");
    root[0].workflow_id = ARBOR_IOV("wf-9");
    is_int(put_spans(s, root, 1), 0, "root with execution ID stored");
    arbor_reader_begin(s, T, &r);
    arbor_reader_execution_traces(r, ARBOR_IOV("exec-42"), ids, 4, &n);
    is_int(n, 1, "execution maps to one trace");
    ok(n == 1 && ids[0][0] == 2, "execution maps to trace 2, including earlier children");
    arbor_trace_summary_t t;
    arbor_reader_trace_summary(r, ids[0], &t);
    is_int(t.span_count, 3, "trace 2 summary counts all 3 spans");
    ok(arbor_iov_eq_str(t.execution_id, "exec-42"), "summary carries the execution ID");
    ok(arbor_iov_eq_str(t.workflow_id, "wf-9"), "summary carries the workflow ID");
    arbor_reader_end(r);
    /* a resumed run: a second trace of the same execution */
    arbor_span_in_t resumed[1] = {span(3, 1, 0, 500)};
    resumed[0].execution_id = ARBOR_IOV("exec-42");
    put_spans(s, resumed, 1);
    arbor_reader_begin(s, T, &r);
    arbor_reader_execution_traces(r, ARBOR_IOV("exec-42"), ids, 4, &n);
    is_int(n, 2, "an execution may span two traces");
    arbor_reader_end(r);
}

/* A backend announces (trace, execution) as a run starts: the execution maps to
 * the trace before any span, and spans arriving without the ID belong to it. */
static void test_announce(arbor_store_t *s)
{
    const arbor_iov_t X = ARBOR_IOV("announce-tenant"); /* its own tenant: other counts stay */
    uint8_t tid[16], ids[4][16];
    size_t n = 0;
    memset(tid, 0x44, 16);
    arbor_batch_t *b;
    arbor_batch_begin(s, X, &b);
    is_int(arbor_batch_announce_execution(b, tid, ARBOR_IOV(""), 100), ARBOR_EDECODE, "announce: empty ID refused");
    is_int(arbor_batch_announce_execution(b, tid, ARBOR_IOV("exec-early"), 100), 0, "announce: mapped");
    is_int(arbor_batch_commit(b), 0, "announce: committed");
    arbor_reader_t *r;
    arbor_reader_begin(s, X, &r);
    arbor_reader_execution_traces(r, ARBOR_IOV("exec-early"), ids, 4, &n);
    ok(n == 1 && memcmp(ids[0], tid, 16) == 0, "announce: the execution maps to the trace with no span yet");
    arbor_trace_summary_t t;
    ok(arbor_reader_trace_summary(r, tid, &t) == 0 && t.span_count == 0 && !t.has_root, "announce: an empty summary");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "announce: check accepts an announced trace");
    arbor_span_in_t node[1] = {span(0x44, 2, 1, 700)}; /* no execution ID on it */
    is_int(put_spans_in(s, X, node, 1), 0, "announce: a node span without the ID");
    arbor_batch_begin(s, X, &b);
    arbor_batch_announce_execution(b, tid, ARBOR_IOV("exec-other"), 200);
    arbor_batch_commit(b);
    arbor_reader_begin(s, X, &r);
    ok(arbor_reader_trace_summary(r, tid, &t) == 0 && t.span_count == 1 && t.start_ns == 700 &&
           arbor_iov_eq_str(t.execution_id, "exec-early"),
       "announce: the span joins the announced execution; a second announcement does not move it");
    n = 0;
    arbor_reader_execution_traces(r, ARBOR_IOV("exec-other"), ids, 4, &n);
    is_int(n, 0, "announce: first mapping wins");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "announce: check agrees once spans arrived");
    arbor_expire_t ex;
    ok(arbor_store_expire_announced(s, X, UINT64_MAX, 100, &ex) == 0 && ex.traces == 0,
       "announce: a trace that got its span never expires as an announcement");
}

/* Announcements that never get a span leave the store after their time
 * (ARBOR_ANNOUNCE_TTL), oldest or not, in bounded transactions. */
static void test_announce_expiry(arbor_store_t *s)
{
    const arbor_iov_t X = ARBOR_IOV("announce-ttl");
    uint8_t tid[3][16];
    arbor_batch_t *b;
    arbor_batch_begin(s, X, &b);
    for (int i = 0; i < 3; i++) {
        memset(tid[i], 0x60 + i, 16);
        char exec[16];
        snprintf(exec, sizeof exec, "exec-ttl-%d", i);
        arbor_batch_announce_execution(b, tid[i], arbor_iov(exec, strlen(exec)), 1000 + (uint64_t)i * 1000);
    }
    is_int(arbor_batch_commit(b), 0, "announce-ttl: three announced at 1,000, 2,000, 3,000");
    arbor_span_in_t late[1] = {span(0x62, 1, 0, 5000)};
    is_int(put_spans_in(s, X, late, 1), 0, "announce-ttl: the third gets a span");
    is_int(check_problems(s), 0, "announce-ttl: check agrees with the pending entries");
    arbor_expire_t ex;
    ok(arbor_store_expire_announced(s, X, 1500, 100, &ex) == 0 && ex.traces == 1 && !ex.more,
       "announce-ttl: the one announced before the cutoff goes (%llu)", (unsigned long long)ex.traces);
    ok(arbor_store_expire_announced(s, X, 10000, 0, &ex) == 0 && ex.traces == 0 && ex.more,
       "announce-ttl: a bound of 0 takes none and says more remain");
    ok(arbor_store_expire_announced(s, X, 10000, 100, &ex) == 0 && ex.traces == 1 && !ex.more,
       "announce-ttl: later, the second; the one with a span stays");
    arbor_reader_t *r;
    arbor_reader_begin(s, X, &r);
    arbor_trace_summary_t t;
    uint8_t ids[4][16];
    size_t n = 9;
    ok(arbor_reader_trace_summary(r, tid[0], &t) == ARBOR_ENOTFOUND &&
           arbor_reader_trace_summary(r, tid[1], &t) == ARBOR_ENOTFOUND,
       "announce-ttl: their summaries are gone");
    ok(arbor_reader_execution_traces(r, ARBOR_IOV("exec-ttl-0"), ids, 4, &n) == 0 && n == 0,
       "announce-ttl: and their executions map to nothing");
    ok(arbor_reader_trace_summary(r, tid[2], &t) == 0 && t.span_count == 1, "announce-ttl: the trace with a span stays");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "announce-ttl: check agrees after");
}

/* Artifacts a span names are indexed per tenant, and leave with their trace. */
static void test_artifacts(arbor_store_t *s)
{
    const arbor_iov_t A = ARBOR_IOV("art-a"), B = ARBOR_IOV("art-b");
    char long_id[300];
    memset(long_id, 'x', sizeof long_id);
    const arbor_iov_t ids[] = {ARBOR_IOV("3f2b6c1e-8d5a-4c3b-9e7f-0a1b2c3d4e5f"), ARBOR_IOV("art-2"),
                               ARBOR_IOV(""), arbor_iov(long_id, sizeof long_id)};
    arbor_span_in_t sp[2] = {span(0x70, 1, 0, 100), span(0x70, 2, 1, 100)};
    sp[0].artifact_ids = ids, sp[0].n_artifact_ids = 4;
    sp[1].artifact_ids = ids + 1, sp[1].n_artifact_ids = 1; /* named twice in the trace */
    is_int(put_spans_in(s, A, sp, 2), 0, "artifacts: stored for tenant a");
    is_int(put_spans_in(s, A, sp, 2), 0, "artifacts: sent again");
    arbor_reader_t *r;
    arbor_reader_begin(s, A, &r);
    ok(arbor_reader_artifact_referenced(r, ids[0]) == 0 && arbor_reader_artifact_referenced(r, ids[1]) == 0,
       "artifacts: a UUID and a short ID are known to their tenant");
    ok(arbor_reader_artifact_referenced(r, ARBOR_IOV("art")) == ARBOR_ENOTFOUND &&
           arbor_reader_artifact_referenced(r, ARBOR_IOV("art-22")) == ARBOR_ENOTFOUND,
       "artifacts: a prefix or a longer ID is not");
    ok(arbor_reader_artifact_referenced(r, ids[2]) == ARBOR_ENOTFOUND &&
           arbor_reader_artifact_referenced(r, ids[3]) == ARBOR_ENOTFOUND,
       "artifacts: an empty ID and one of 300 bytes are never known");
    arbor_reader_end(r);
    arbor_reader_begin(s, B, &r);
    is_int(arbor_reader_artifact_referenced(r, ids[0]), ARBOR_ENOTFOUND, "artifacts: another tenant does not know it");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "artifacts: check agrees with the index");
    arbor_expire_t ex;
    ok(arbor_store_expire(s, A, 1000000, 1000, &ex) == 0 && ex.traces == 1, "artifacts: the trace expires");
    arbor_reader_begin(s, A, &r);
    is_int(arbor_reader_artifact_referenced(r, ids[0]), ARBOR_ENOTFOUND, "artifacts: and its artifacts with it");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "artifacts: check agrees after");
}

static int visit_trace(void *ctx, const arbor_trace_summary_t *t)
{
    visit_t *v = ctx;
    if (v->n < 16)
        v->ids[v->n] = t->trace_id[0];
    v->n++;
    return 0;
}

/* Prefilter: pass the second trace by, stop at the third; note the starts seen. */
typedef struct {
    visit_t v;
    int calls, blooms;
    uint64_t starts[4];
} pre_t;

static int prefilter(void *ctx, uint64_t start_ns, const uint8_t *bloom)
{
    pre_t *p = ctx;
    p->starts[p->calls & 3] = start_ns;
    p->blooms += bloom != NULL;
    return ++p->calls == 2 ? -1 : p->calls == 3 ? 7 : 0;
}

static int visit_pre(void *ctx, const arbor_trace_summary_t *t)
{
    return visit_trace(&((pre_t *)ctx)->v, t);
}

static void test_recent_and_snapshot(arbor_store_t *s)
{
    arbor_reader_t *r, *old;
    visit_t v = {0};
    arbor_reader_begin(s, T, &r);
    arbor_reader_recent_traces(r, 0, visit_trace, &v);
    is_int(v.n, 3, "recent lists three traces");
    ok(v.ids[0] == 3 && v.ids[1] == 1 && v.ids[2] == 2, "recent traces newest start first");
    pre_t p = {0};
    is_int(arbor_reader_recent_traces_filtered(r, 0, prefilter, visit_pre, &p), 7, "a prefilter stops the walk");
    ok(p.v.n == 1 && p.v.ids[0] == 3 && p.calls == 3 && p.blooms == 3 && p.starts[0] > p.starts[1] &&
           p.starts[1] > p.starts[2],
       "it saw three starts and blooms, newest first, and passed the second by without a visit");
    arbor_reader_end(r);
    /* a snapshot does not see later commits */
    arbor_reader_begin(s, T, &old);
    arbor_span_in_t sp[1] = {span(4, 1, 0, 900)};
    put_spans(s, sp, 1);
    visit_t v2 = {0};
    arbor_reader_recent_traces(old, 0, visit_trace, &v2);
    is_int(v2.n, 3, "an open snapshot does not see a later commit");
    arbor_reader_end(old);
    arbor_reader_begin(s, T, &r);
    visit_t v3 = {0};
    arbor_reader_recent_traces(r, 0, visit_trace, &v3);
    is_int(v3.n, 4, "a new snapshot sees it");
    arbor_reader_end(r);
}

static void test_meta(arbor_store_t *s)
{
    arbor_batch_t *b;
    arbor_reader_t *r;
    arbor_iov_t v;
    arbor_batch_begin(s, T, &b);
    is_int(arbor_batch_put_meta(b, "collector/stats", ARBOR_IOV("abc")), 0, "meta put");
    is_int(arbor_batch_commit(b), 0, "meta commit");
    arbor_reader_begin(s, T, &r);
    ok(arbor_reader_meta(r, "collector/stats", &v) == 0 && arbor_iov_eq_str(v, "abc"), "meta read back");
    is_int(arbor_reader_meta(r, "nope", &v), ARBOR_ENOTFOUND, "missing meta key");
    arbor_reader_end(r);
}

typedef struct {
    int n;
    char items[16][80];
} strs_t;

static int visit_key(void *ctx, arbor_iov_t key)
{
    strs_t *v = ctx;
    if (v->n < 16)
        snprintf(v->items[v->n], 80, "%.*s", (int)key.len, key.base);
    v->n++;
    return 0;
}

static int visit_value(void *ctx, const arbor_attr_value_t *a)
{
    strs_t *v = ctx;
    if (v->n < 16) {
        if (a->type == ARBOR_VAL_STRING)
            snprintf(v->items[v->n], 80, "s:%.*s", (int)a->str.len, a->str.base);
        else if (a->type == ARBOR_VAL_DOUBLE)
            snprintf(v->items[v->n], 80, "d:%g", a->d);
        else
            snprintf(v->items[v->n], 80, "%c:%lld", a->type, (long long)a->i);
    }
    v->n++;
    return 0;
}

static void test_blooms_and_tags(arbor_store_t *s)
{
    char longv[100];
    memset(longv, 'x', sizeof longv);
    arbor_attr_in_t a1[] = {
        {ARBOR_SCOPE_RESOURCE, ARBOR_VAL_STRING, ARBOR_IOV("service.name"), ARBOR_IOV("frontend"), 0, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_INT, ARBOR_IOV("http.status_code"), ARBOR_IOV_NULL, 500, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_INT, ARBOR_IOV("http.status_code"), ARBOR_IOV_NULL, -3, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_STRING, ARBOR_IOV("long"), arbor_iov(longv, sizeof longv), 0, 0},
    };
    arbor_attr_in_t a2[] = {
        {ARBOR_SCOPE_RESOURCE, ARBOR_VAL_STRING, ARBOR_IOV("service.name"), ARBOR_IOV("backend"), 0, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_INT, ARBOR_IOV("http.status_code"), ARBOR_IOV_NULL, 200, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_DOUBLE, ARBOR_IOV("ratio"), ARBOR_IOV_NULL, 0, -0.5},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_BOOL, ARBOR_IOV("cached"), ARBOR_IOV_NULL, 1, 0},
    };
    arbor_span_in_t sp[3] = {span(0x61, 1, 0, 5), span(0x61, 2, 1, 6), span(0x62, 1, 0, 7)};
    sp[0].attrs = a1, sp[0].n_attrs = 4;
    sp[1].attrs = a1, sp[1].n_attrs = 2; /* repeats: indexed once */
    sp[2].attrs = a2, sp[2].n_attrs = 4;
    is_int(put_spans(s, sp, 3), 0, "spans with indexed attributes");
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    uint8_t t61[16], t62[16];
    memset(t61, 0x61, 16), memset(t62, 0x62, 16);
    arbor_trace_summary_t s61, s62;
    ok(arbor_reader_trace_summary(r, t61, &s61) == 0 && arbor_reader_trace_bloom(r, &s61) == 0 && s61.bloom &&
           arbor_reader_trace_summary(r, t62, &s62) == 0 && arbor_reader_trace_bloom(r, &s62) == 0 && s62.bloom,
       "every trace has a bloom in its time entry");
    arbor_attr_value_t fe = {ARBOR_VAL_STRING, ARBOR_IOV("frontend"), 0, 0};
    ok(arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_RESOURCE, ARBOR_IOV("service.name"), &fe),
       "bloom: trace 61 may have resource.service.name = frontend");
    /* a bloom has false positives; at 4 values in 1024 bits these specific probes are negatives */
    ok(!arbor_bloom_may_contain(s62.bloom, ARBOR_SCOPE_RESOURCE, ARBOR_IOV("service.name"), &fe),
       "bloom: trace 62 has not");
    ok(!arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("service.name"), &fe),
       "bloom: scope is part of the hash");
    arbor_attr_value_t code = {ARBOR_VAL_INT, ARBOR_IOV_NULL, 200, 0};
    arbor_attr_value_t code_d = {ARBOR_VAL_DOUBLE, ARBOR_IOV_NULL, 0, 200.0};
    ok(arbor_bloom_may_contain(s62.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("http.status_code"), &code) &&
           arbor_bloom_may_contain(s62.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("http.status_code"), &code_d) &&
           !arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("http.status_code"), &code),
       "bloom: int 200 found as 200 and 200.0, only in trace 62");
    arbor_attr_value_t lv = {ARBOR_VAL_STRING, arbor_iov(longv, sizeof longv), 0, 0};
    ok(arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("long"), &lv), "bloom: long values too");
    arbor_reader_end(r);

    /* a later batch adds to an existing trace's bloom; an incomplete span makes it rule nothing out */
    arbor_attr_in_t a3[] = {{ARBOR_SCOPE_SPAN, ARBOR_VAL_DOUBLE, ARBOR_IOV("ratio"), ARBOR_IOV_NULL, 0, 3.0}};
    arbor_span_in_t late[2] = {span(0x61, 3, 1, 8), span(0x62, 3, 1, 9)};
    late[0].attrs = a3, late[0].n_attrs = 1;
    late[1].attrs_incomplete = 1;
    is_int(put_spans(s, late, 2), 0, "later spans");
    arbor_reader_begin(s, T, &r);
    arbor_attr_value_t three = {ARBOR_VAL_INT, ARBOR_IOV_NULL, 3, 0}, miss = {ARBOR_VAL_STRING, ARBOR_IOV("zz"), 0, 0};
    ok(arbor_reader_trace_summary(r, t61, &s61) == 0 && arbor_reader_trace_bloom(r, &s61) == 0 &&
           arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("ratio"), &three) &&
           arbor_bloom_may_contain(s61.bloom, ARBOR_SCOPE_RESOURCE, ARBOR_IOV("service.name"), &fe),
       "bloom grows across batches (3.0 answers as 3) and keeps earlier values");
    ok(arbor_reader_trace_summary(r, t62, &s62) == 0 && arbor_reader_trace_bloom(r, &s62) == 0 &&
           arbor_bloom_may_contain(s62.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("anything"), &miss),
       "a span with unlisted values saturates its trace's bloom");
    strs_t keys = {0};
    arbor_reader_attr_keys(r, ARBOR_SCOPE_SPAN, visit_key, &keys);
    ok(keys.n == 3 && !strcmp(keys.items[0], "ratio") && !strcmp(keys.items[1], "cached") &&
           !strcmp(keys.items[2], "http.status_code"),
       "distinct span keys, each once, by length then bytes (the long-valued one not catalogued)");
    strs_t vals = {0};
    arbor_reader_attr_values(r, ARBOR_SCOPE_SPAN, ARBOR_IOV("http.status_code"), visit_value, &vals);
    ok(vals.n == 3 && !strcmp(vals.items[0], "i:-3") && !strcmp(vals.items[1], "i:200") && !strcmp(vals.items[2], "i:500"),
       "distinct int values in numeric order (negative first)");
    strs_t svals = {0};
    arbor_reader_attr_values(r, ARBOR_SCOPE_RESOURCE, ARBOR_IOV("service.name"), visit_value, &svals);
    ok(svals.n == 2 && !strcmp(svals.items[0], "s:backend") && !strcmp(svals.items[1], "s:frontend"), "string values");
    strs_t dv = {0};
    arbor_reader_attr_values(r, ARBOR_SCOPE_SPAN, ARBOR_IOV("ratio"), visit_value, &dv);
    ok(dv.n == 2 && !strcmp(dv.items[0], "d:-0.5") && !strcmp(dv.items[1], "d:3"), "double values round-trip");
    arbor_reader_end(r);
}

static int count_value(void *ctx, const arbor_attr_value_t *a)
{
    (void)a;
    ++*(int *)ctx;
    return 0;
}

/* A high-cardinality key (request IDs) must not grow the catalog without bound. */
static void test_tag_catalog_cap(arbor_store_t *s)
{
    enum { N = ARBOR_TAG_VALUES_PER_KEY + 50 };
    arbor_attr_in_t *a = calloc(N, sizeof *a);
    for (int i = 0; i < N; i++)
        a[i] = (arbor_attr_in_t){ARBOR_SCOPE_SPAN, ARBOR_VAL_INT, ARBOR_IOV("request.seq"), ARBOR_IOV_NULL, i, 0};
    arbor_span_in_t sp = span(0x63, 1, 0, 10);
    sp.attrs = a, sp.n_attrs = N;
    is_int(put_spans(s, &sp, 1), 0, "span with many distinct values of one key");
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    int n = 0;
    arbor_reader_attr_values(r, ARBOR_SCOPE_SPAN, ARBOR_IOV("request.seq"), count_value, &n);
    is_int(n, ARBOR_TAG_VALUES_PER_KEY, "the catalog lists at most ARBOR_TAG_VALUES_PER_KEY values per key");
    arbor_reader_end(r);
    free(a);
}

/* What the collector catalogues besides scalar span and resource values: the
 * elements of an array (one entry each, same key), the key alone of a value the
 * catalog does not list (a map), and event and link values (catalogued for tags,
 * never in the bloom). */
static void test_tag_catalog_kinds(arbor_store_t *s)
{
    arbor_attr_in_t a[] = {
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_STRING, ARBOR_IOV("arr"), ARBOR_IOV("b"), 0, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_STRING, ARBOR_IOV("arr"), ARBOR_IOV("a"), 0, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_OTHER, ARBOR_IOV("map"), ARBOR_IOV_NULL, 0, 0},
        {ARBOR_SCOPE_SPAN, ARBOR_VAL_OTHER, ARBOR_IOV("arr"), ARBOR_IOV_NULL, 0, 0},
        {ARBOR_SCOPE_EVENT, ARBOR_VAL_STRING, ARBOR_IOV("ek"), ARBOR_IOV("ev"), 0, 0},
        {ARBOR_SCOPE_LINK, ARBOR_VAL_INT, ARBOR_IOV("lk"), ARBOR_IOV_NULL, 7, 0},
    };
    arbor_span_in_t sp = span(0x64, 1, 0, 11);
    sp.attrs = a, sp.n_attrs = sizeof a / sizeof a[0];
    is_int(put_spans(s, &sp, 1), 0, "a span with array elements, a map, event and link values");
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    strs_t keys = {0}, ev = {0}, lk = {0}, arr = {0}, map = {0}, evv = {0};
    arbor_reader_attr_keys(r, ARBOR_SCOPE_SPAN, visit_key, &keys);
    int has_map = 0, has_arr = 0;
    for (int i = 0; i < keys.n && i < 16; i++)
        has_map |= !strcmp(keys.items[i], "map"), has_arr |= !strcmp(keys.items[i], "arr");
    ok(has_map && has_arr, "span keys list the array's and the map's");
    arbor_reader_attr_values(r, ARBOR_SCOPE_SPAN, ARBOR_IOV("arr"), visit_value, &arr);
    ok(arr.n == 2 && !strcmp(arr.items[0], "s:a") && !strcmp(arr.items[1], "s:b"), "array elements are its values");
    arbor_reader_attr_values(r, ARBOR_SCOPE_SPAN, ARBOR_IOV("map"), visit_value, &map);
    is_int(map.n, 0, "a map's key has no listed value");
    arbor_reader_attr_keys(r, ARBOR_SCOPE_EVENT, visit_key, &ev);
    ok(ev.n == 1 && !strcmp(ev.items[0], "ek"), "event keys in their own scope");
    arbor_reader_attr_values(r, ARBOR_SCOPE_EVENT, ARBOR_IOV("ek"), visit_value, &evv);
    ok(evv.n == 1 && !strcmp(evv.items[0], "s:ev"), "event values");
    arbor_reader_attr_keys(r, ARBOR_SCOPE_LINK, visit_key, &lk);
    ok(lk.n == 1 && !strcmp(lk.items[0], "lk"), "link keys in their own scope");
    uint8_t t64[16];
    memset(t64, 0x64, 16);
    arbor_trace_summary_t sum;
    arbor_attr_value_t b = {ARBOR_VAL_STRING, ARBOR_IOV("b"), 0, 0}, e = {ARBOR_VAL_STRING, ARBOR_IOV("ev"), 0, 0};
    ok(arbor_reader_trace_summary(r, t64, &sum) == 0 && arbor_reader_trace_bloom(r, &sum) == 0 &&
           arbor_bloom_may_contain(sum.bloom, ARBOR_SCOPE_SPAN, ARBOR_IOV("arr"), &b) &&
           !arbor_bloom_may_contain(sum.bloom, ARBOR_SCOPE_EVENT, ARBOR_IOV("ek"), &e),
       "the bloom has the array's elements, not the event's value");
    arbor_reader_end(r);
}

/* Span bytes are compressed when it pays, with either codec (one trace may mix
 * them), and come back byte for byte; corrupt stored bytes are a decode error. */
static void test_span_compression(arbor_store_t *s)
{
    char text[2000], noise[300];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "attribute value gen_ai.prompt "[i % 30];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof noise; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (char)x;
    }
    static const arbor_span_codec_t codecs[] = {ARBOR_SPAN_ZSTD, ARBOR_SPAN_LZ4};
    static const char *const names[] = {"zstd", "lz4"};
    arbor_span_in_t sp[3] = {span(0x64, 1, 0, 11), span(0x64, 2, 1, 12), span(0x64, 3, 1, 13)};
    sp[0].span_bytes = arbor_iov(text, sizeof text);
    sp[1].span_bytes = arbor_iov(text, sizeof text);
    sp[2].span_bytes = arbor_iov(noise, sizeof noise);
    arbor_arena_t arena;
    arbor_arena_init(&arena, 4096, 0);
    for (int c = 0; c < 2; c++) {
        arbor_span_in_t small = span(0x64, 9, 1, 13);
        ok(arbor_span_pack(&small, codecs[c], &arena) == 0 && small.span_codec == ARBOR_SPAN_PLAIN,
           "%s: pack leaves tiny spans alone", names[c]);
        ok(arbor_span_pack(&sp[c], codecs[c], &arena) == 0 && sp[c].span_codec == codecs[c],
           "%s: pack compresses what pays", names[c]);
        ok(arbor_span_pack(&sp[2], codecs[c], &arena) == 0 && sp[2].span_codec == ARBOR_SPAN_PLAIN,
           "%s: pack leaves incompressible bytes plain", names[c]);
    }
    arbor_span_in_t plain = span(0x64, 4, 1, 14);
    plain.span_bytes = arbor_iov(text, sizeof text);
    ok(arbor_span_pack(&plain, ARBOR_SPAN_PLAIN, &arena) == 0 && plain.span_codec == ARBOR_SPAN_PLAIN &&
           plain.span_bytes.base == text,
       "codec plain leaves the bytes where they are");
    is_int(put_spans(s, sp, 3), 0, "a zstd, an LZ4 and an incompressible span in one trace");
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    uint8_t tid[16], sid[8] = {0};
    memset(tid, 0x64, 16);
    arbor_span_rec_t rec[3];
    arbor_iov_t got;
    for (int i = 0; i < 3; i++) {
        sid[7] = (uint8_t)(i + 1);
        arbor_reader_span(r, tid, sid, &rec[i]);
    }
    for (int c = 0; c < 2; c++) {
        ok(rec[c].span_codec == codecs[c] && rec[c].span_bytes.len < sizeof text / 4,
           "%s: repetitive span bytes are stored compressed", names[c]);
        ok(arbor_span_bytes(&rec[c], &arena, &got) == 0 && arbor_iov_eq(got, arbor_iov(text, sizeof text)),
           "%s: and decompress to the exact bytes", names[c]);
        arbor_span_rec_t bad = rec[2];
        bad.span_codec = codecs[c];
        is_int(arbor_span_bytes(&bad, &arena, &got), ARBOR_EDECODE, "corrupt bytes are a decode error, not a crash");
        bad = rec[c];
        bad.span_bytes.len -= 3;
        is_int(arbor_span_bytes(&bad, &arena, &got), ARBOR_EDECODE, "truncated bytes are a decode error");
    }
    ok(rec[2].span_codec == ARBOR_SPAN_PLAIN && arbor_iov_eq(rec[2].span_bytes, arbor_iov(noise, sizeof noise)),
       "incompressible span bytes are stored as they are");
    ok(arbor_span_bytes(&rec[2], &arena, &got) == 0 && got.base == rec[2].span_bytes.base, "plain bytes are not copied");
    arbor_arena_free(&arena);
    arbor_reader_end(r);
}

static void test_records_dedup(arbor_store_t *s)
{
    arbor_batch_t *b;
    uint64_t a1, a2, b1;
    arbor_batch_begin(s, T, &b);
    arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("same"), &a1);
    arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("same"), &a2);
    arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("other"), &b1);
    arbor_batch_abort(b);
    ok(a1 == a2, "identical record bytes share one reference");
    ok(a1 != b1, "different bytes get different references");
}

static int count_spans(void *ctx, const arbor_span_rec_t *rec)
{
    (void)rec;
    (*(size_t *)ctx)++;
    return 0;
}

static int count_changes(void *ctx, uint64_t seq, const uint8_t *trace_id, const uint8_t *span_id)
{
    (void)seq, (void)trace_id, (void)span_id;
    (*(size_t *)ctx)++;
    return 0;
}

/* Retention, in a tenant of its own: whole traces that ended before the cutoff
 * go from every index (pages' worth of spans, so cursor deletes cross pages);
 * a trace still running and a newer one stay; the span bound is honoured;
 * check agrees afterwards, stale feed entries of re-sent spans included. */
static void test_expire(arbor_store_t *s)
{
    const arbor_iov_t X = ARBOR_IOV("expire-tenant");
    static char big[600];
    memset(big, 'b', sizeof big);
    arbor_span_in_t sp[302];
    size_t n = 0;
    for (uint8_t t = 0; t < 3; t++) /* traces 0x80, 0x81: 100 spans ending by 2,000; 0x82 ends far later */
        for (int i = 1; i <= 100; i++) {
            sp[n] = span((uint8_t)(0x80 + t), (uint8_t)i, i == 1 ? 0 : 1, 1000);
            sp[n].span_bytes = arbor_iov(big, sizeof big);
            if (t == 2 && i == 100)
                sp[n].end_ns = 5000000;
            if (i == 1)
                sp[n].execution_id = t == 0 ? ARBOR_IOV("exec-old") : ARBOR_IOV("exec-other");
            n++;
        }
    sp[n++] = span(0x83, 1, 0, 4000000); /* starts after the cutoff */
    is_int(put_spans_in(s, X, sp, n), 0, "expire: four traces stored");
    arbor_span_in_t again[1] = {span(0x80, 5, 1, 1000)}; /* a re-sent span leaves a stale feed entry */
    is_int(put_spans_in(s, X, again, 1), 0, "expire: one span sent again");

    arbor_expire_t ex;
    is_int(arbor_store_expire(s, X, 3000, 150, &ex), 0, "expire with a 150-span bound");
    ok(ex.traces == 1 && ex.spans == 100 && ex.more, "one whole trace went, more remain (%llu traces, %llu spans)",
       (unsigned long long)ex.traces, (unsigned long long)ex.spans);
    is_int(arbor_store_expire(s, X, 3000, 100000, &ex), 0, "expire again");
    ok(ex.traces == 1 && ex.spans == 100 && !ex.more, "the second old trace went; the running one stayed");
    is_int(arbor_store_expire(s, X, 3000, 100000, &ex), 0, "expire once more");
    ok(ex.traces == 0 && ex.spans == 0, "nothing left to expire");

    arbor_reader_t *r;
    arbor_reader_begin(s, X, &r);
    uint8_t tid[16];
    arbor_trace_summary_t sum;
    size_t spans = 0, changes = 0;
    memset(tid, 0x80, 16);
    ok(arbor_reader_trace_summary(r, tid, &sum) == ARBOR_ENOTFOUND, "expired trace: no summary");
    arbor_reader_trace_spans(r, tid, count_spans, &spans);
    is_int(spans, 0, "expired trace: no spans");
    uint8_t ids[4][16];
    size_t n_ids = 9;
    ok(arbor_reader_execution_traces(r, ARBOR_IOV("exec-old"), ids, 4, &n_ids) == 0 && n_ids == 0,
       "expired trace: its execution maps to nothing");
    memset(tid, 0x82, 16);
    spans = 0;
    arbor_reader_trace_spans(r, tid, count_spans, &spans);
    ok(arbor_reader_trace_summary(r, tid, &sum) == 0 && spans == 100, "a trace still running stays whole");
    memset(tid, 0x83, 16);
    ok(arbor_reader_trace_summary(r, tid, &sum) == 0, "a newer trace stays");
    arbor_reader_changes(r, 0, count_changes, &changes);
    arbor_reader_end(r);
    is_int(changes, 101 + 1, "feed: the kept spans' entries and one stale entry of the re-sent span");
    is_int(check_problems(s), 0, "check: no problems after retention");
}

/* A store whose only trace expires: deleting the last entry of an index left
 * LMDB's cursor uninitialised, and every sweep failed with EINVAL. Also: one
 * writer per directory, even within one process. */
static void test_expire_last_and_lock(void)
{
    char dir2[300];
    snprintf(dir2, sizeof dir2, "%s-last", dir);
    arbor_store_options_t o = {.path = dir2, .map_size = 64 << 20};
    arbor_store_t *s = NULL, *second = NULL;
    is_int(arbor_store_open(&o, &s), 0, "expire-last: a fresh store");
    is_int(arbor_store_open(&o, &second), ARBOR_ELOCKED, "a second writer on the same directory: ELOCKED");
    ok(second == NULL && arbor_store_writer_pid(dir2) == (long)getpid(), "the lock file names the holder");
    arbor_span_in_t sp[3] = {span(0x90, 1, 0, 1000), span(0x90, 2, 1, 1000), span(0x90, 3, 1, 1000)};
    sp[0].execution_id = ARBOR_IOV("exec-last");
    is_int(put_spans_in(s, T, sp, 3), 0, "expire-last: one trace stored");
    arbor_expire_t ex;
    is_int(arbor_store_expire(s, T, 1000000, 100000, &ex), 0, "expire-last: the only trace expires");
    ok(ex.traces == 1 && ex.spans == 3, "expire-last: all of it (%llu traces, %llu spans)",
       (unsigned long long)ex.traces, (unsigned long long)ex.spans);
    is_int(arbor_store_expire(s, T, 1000000, 100000, &ex), 0, "expire-last: an empty store sweeps cleanly");
    is_int(check_problems(s), 0, "expire-last: check agrees");
    arbor_store_close(s);
    is_int(arbor_store_open(&o, &second), 0, "closed: the directory is free again");
    arbor_store_close(second);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir2);
}

/* Set meta/format behind the library's back, as an older or newer binary would
 * have left it (little-endian u64). */
static void set_format(uint64_t version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(version >> (8 * i));
    MDB_val k = {6, "format"}, v = {8, buf};
    int rc = mdb_env_create(&env);
    if (rc == 0 && (rc = mdb_env_set_maxdbs(env, 16)) == 0 && (rc = mdb_env_set_mapsize(env, 64 << 20)) == 0 &&
        (rc = mdb_env_open(env, dir, 0, 0644)) == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi)) == 0 && (rc = mdb_put(txn, dbi, &k, &v, 0)) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    ok(rc == 0, "meta/format set to %llu by hand", (unsigned long long)version);
}

static uint64_t get_format(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {6, "format"}, v;
    uint64_t f = 0;
    if (mdb_env_create(&env) != 0)
        return 0;
    if (mdb_env_set_maxdbs(env, 16) == 0 && mdb_env_open(env, dir, MDB_RDONLY, 0644) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
            for (int i = 7; i >= 0; i--)
                f = f << 8 | ((const uint8_t *)v.mv_data)[i];
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return f;
}

/* Formats 2 (no LZ4 spans) and 3 (no blocks) are read as they are and marked 4
 * once a writer opens them; formats this version does not know are refused. */
static void test_format_versions(void)
{
    arbor_store_t *s = NULL;
    arbor_store_options_t ro = {.path = dir, .map_size = 64 << 20, .read_only = 1};
    arbor_store_options_t rw = ro;
    rw.read_only = 0;
    set_format(2);
    is_int(arbor_store_open(&ro, &s), 0, "a reader opens a format-2 store");
    arbor_store_close(s);
    is_int(get_format(), 2, "and leaves it format 2");
    is_int(arbor_store_open(&rw, &s), 0, "a writer opens a format-2 store");
    arbor_store_close(s);
    is_int(get_format(), 4, "and marks it format 4 (its spans may now share blocks)");
    set_format(1);
    is_int(arbor_store_open(&rw, &s), ARBOR_EFORMAT, "format 1 is refused");
    set_format(5);
    is_int(arbor_store_open(&ro, &s), ARBOR_EFORMAT, "a newer format is refused");
    set_format(4);
}

/* One group commit carrying two tenants' requests for the same trace ID: each
 * tenant sees only its own spans, summary and feed, within one snapshot. */
static void test_tenant_switch(void)
{
    char tdir[300];
    snprintf(tdir, sizeof tdir, "%.250s-tenants", dir);
    arbor_store_options_t o = {.path = tdir, .map_size = 64u << 20};
    arbor_store_t *s;
    if (!ok(arbor_store_open(&o, &s) == 0, "tenant store opens"))
        return;
    arbor_batch_t *b;
    uint64_t ref = 0;
    arbor_span_in_t a1 = span(7, 1, 0, 100), a2 = span(7, 2, 1, 150), b1 = span(7, 1, 0, 500);
    b1.status_code = 2;
    int rc = arbor_batch_begin(s, ARBOR_IOV("acme"), &b);
    rc = rc ? rc : arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("res-a"), &ref);
    a1.resource_ref = a2.resource_ref = ref;
    rc = rc ? rc : arbor_batch_put_record(b, ARBOR_RECORD_SCOPE, ARBOR_IOV("scope"), &ref);
    a1.scope_ref = a2.scope_ref = ref;
    rc = rc ? rc : arbor_batch_put_span(b, &a1);
    rc = rc ? rc : arbor_batch_set_tenant(b, ARBOR_IOV("beta"));
    rc = rc ? rc : arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("res-b"), &ref);
    b1.resource_ref = ref;
    rc = rc ? rc : arbor_batch_put_record(b, ARBOR_RECORD_SCOPE, ARBOR_IOV("scope"), &ref);
    b1.scope_ref = ref;
    rc = rc ? rc : arbor_batch_put_span(b, &b1);
    rc = rc ? rc : arbor_batch_set_tenant(b, ARBOR_IOV("acme")); /* back: acme's summary is reloaded */
    rc = rc ? rc : arbor_batch_put_span(b, &a2);
    is_int(rc ? rc : arbor_batch_commit(b), 0, "one batch, two tenants, commits");
    arbor_reader_t *r;
    arbor_trace_summary_t t;
    uint8_t tid[16];
    memset(tid, 7, 16);
    arbor_reader_begin(s, ARBOR_IOV("acme"), &r);
    ok(arbor_reader_trace_summary(r, tid, &t) == 0 && t.span_count == 2 && t.error_count == 0 && t.start_ns == 100,
       "acme: its two spans, no error");
    visit_t v = {0};
    arbor_reader_changes(r, 0, visit_change, &v);
    ok(v.n == 2 && v.seqs[0] == 1 && v.seqs[1] == 3, "acme's feed holds its own changes only");
    is_int(arbor_reader_set_tenant(r, ARBOR_IOV("beta")), 0, "same snapshot, other tenant");
    ok(arbor_reader_trace_summary(r, tid, &t) == 0 && t.span_count == 1 && t.error_count == 1 && t.start_ns == 500,
       "beta: its one span, in error");
    arbor_span_rec_t rec;
    uint8_t sid2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    is_int(arbor_reader_span(r, tid, sid2, &rec), ARBOR_ENOTFOUND, "beta cannot read acme's span");
    is_int(arbor_reader_set_tenant(r, ARBOR_IOV("nobody")), 0, "an unknown tenant");
    is_int(arbor_reader_trace_summary(r, tid, &t), ARBOR_ENOTFOUND, "an unknown tenant finds nothing");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "check clean with two tenants");
    arbor_store_close(s);
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tdir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/arbor-test-store-%d", (int)getpid());
    arbor_store_t *ro = NULL;
    arbor_store_options_t o = {.path = dir, .read_only = 1};
    is_int(arbor_store_open(&o, &ro), ARBOR_ENOSTORE, "reader before any writer gets ENOSTORE");

    arbor_store_t *s = open_store(0);
    test_put_scan(s);
    test_idempotent(s);
    test_feed(s);
    test_late_execution(s);
    test_announce(s);
    test_announce_expiry(s);
    test_artifacts(s);
    test_recent_and_snapshot(s);
    test_records_dedup(s);
    test_meta(s);
    test_blooms_and_tags(s);
    test_tag_catalog_cap(s);
    test_tag_catalog_kinds(s);
    test_span_compression(s);
    is_int(check_problems(s), 0, "check: every index agrees with the spans");
    test_expire(s);
    test_expire_last_and_lock();

    /* a reader process view while the writer is open: one sequence number per span put above */
    arbor_reader_t *r;
    arbor_reader_begin(s, T, &r);
    uint64_t written = arbor_reader_last_seq(r);
    arbor_reader_end(r);
    is_int(written, 19 + 302 + 1 + 1 + 4, "the writer's handle counts every span put (all tenants, expired ones too)");
    ro = open_store(1);
    arbor_reader_begin(ro, T, &r);
    is_int(arbor_reader_last_seq(r), written, "read-only handle sees the writer's commits");
    arbor_reader_end(r);
    arbor_store_close(ro);

    arbor_store_close(s);
    s = open_store(0);
    arbor_reader_begin(s, T, &r);
    is_int(arbor_reader_last_seq(r), written, "sequence survives reopen");
    arbor_reader_end(r);
    arbor_span_in_t sp[1] = {span(5, 1, 0, 1)};
    put_spans(s, sp, 1);
    arbor_reader_begin(s, T, &r);
    is_int(arbor_reader_last_seq(r), written + 1, "sequence continues after reopen");
    arbor_reader_end(r);
    is_int(check_problems(s), 0, "check clean after reopen");
    arbor_store_close(s);
    test_format_versions();
    test_tenant_switch();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
