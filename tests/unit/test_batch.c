/* The batch's per-trace summary cache (store/src/batch.c, included) when trace IDs
 * collide in the hash table: every 16-byte key hashes alike here, so all traces of
 * the batch share one map64 entry and are told apart by their full IDs. A cache
 * that trusted the hash would merge them into one summary. */
#include "arbor/base.h" /* arbor_hash_id, before the macro below renames it */

#include <stdint.h>

static uint64_t real_hash(const void *p, size_t n)
{
    return arbor_hash_id(p, n);
}

/* trace IDs collide; tag and key hashes (other lengths) stay real */
static uint64_t colliding_hash(const void *p, size_t n)
{
    return n == 16 ? 42 : real_hash(p, n);
}
#define arbor_hash_id colliding_hash

#include "../../store/src/batch.c"

#include "store_fixture.h"
#include "tap.h"


enum { TRACES = 40, SPANS_PER_TRACE = 25 };

static arbor_span_in_t span(uint32_t trace, uint32_t id)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    in.trace_id[0] = 0xc0;
    memcpy(in.trace_id + 8, &trace, 4);
    in.span_id[0] = 1;
    memcpy(in.span_id + 4, &id, 4);
    in.start_ns = 1000 * (uint64_t)trace + id;
    in.end_ns = in.start_ns + 10 + trace;
    if (id == 0) {
        in.name = ARBOR_IOV("root");
    } else {
        in.has_parent = 1;
        in.parent_span_id[0] = 1;
        in.name = ARBOR_IOV("child");
    }
    in.span_bytes = ARBOR_IOV("");
    return in;
}

static void check_summaries(arbor_reader_t *r)
{
    int counts = 1, ranges = 1, roots = 1;
    for (uint32_t t = 0; t < TRACES; t++) {
        arbor_span_in_t first = span(t, 0), last = span(t, SPANS_PER_TRACE - 1);
        arbor_trace_summary_t sum;
        if (arbor_reader_trace_summary(r, first.trace_id, &sum) != 0) {
            counts = ranges = roots = 0;
            continue;
        }
        counts &= sum.span_count == SPANS_PER_TRACE;
        ranges &= sum.start_ns == first.start_ns && sum.end_ns == last.end_ns;
        roots &= sum.has_root && arbor_iov_eq(sum.root_name, ARBOR_IOV("root"));
    }
    ok(counts, "each trace's summary counts its own 25 spans");
    ok(ranges, "each trace's summary spans its own start and end");
    ok(roots, "each trace has its own root");
}

int main(void)
{
    store_fixture_t f;
    if (fixture_open(&f, "batch", 64 << 20) != 0)
        return 1;
    /* interleaved, so every lookup walks a chain of other traces */
    static arbor_span_in_t spans[TRACES * SPANS_PER_TRACE];
    size_t n = 0;
    for (uint32_t id = 0; id < SPANS_PER_TRACE; id++)
        for (uint32_t t = 0; t < TRACES; t++)
            spans[n++] = span(t, id);
    is_int(fixture_put(f.store, spans, n), 0, "1,000 spans of 40 colliding traces stored in one batch");

    arbor_reader_t *r;
    if (arbor_reader_begin(f.store, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r) == 0) {
        check_summaries(r);
        arbor_reader_end(r);
    }
    fixture_close(&f);
    return tap_done();
}
