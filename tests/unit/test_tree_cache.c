/* The tree cache (query/tree_cache.c, included to reach its list): a tree is
 * reused while its traces' last sequences hold, rebuilt when a span arrives,
 * never shared between tenants, kept within its byte budget, and valid for its
 * holder after eviction; a detached tree reads its span bytes again. */
#include "../../query/tree_cache.c"

#include "store_fixture.h"
#include "tap.h"

static const uint8_t TRACE[16] = {0x51, 0xca};

static arbor_span_in_t span(uint32_t id, uint64_t start)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    memcpy(in.trace_id, TRACE, 16);
    in.span_id[0] = 2;
    memcpy(in.span_id + 4, &id, 4);
    if (id > 1) {
        in.parent_span_id[0] = 2;
        in.parent_span_id[4] = 1;
        in.has_parent = 1;
    }
    in.start_ns = start;
    in.end_ns = start + 10;
    in.name = ARBOR_IOV("cached-name");
    in.span_bytes = ARBOR_IOV("\x0a\x02hi"); /* trace_id field, as any bytes would do */
    return in;
}

static int put_range(arbor_store_t *s, const char *tenant, uint32_t from, uint32_t to)
{
    arbor_batch_t *b;
    uint64_t ref;
    int rc = arbor_batch_begin(s, arbor_iov(tenant, strlen(tenant)), &b);
    if (rc == 0)
        rc = arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("r"), &ref);
    for (uint32_t i = from; rc == 0 && i < to; i++) {
        arbor_span_in_t in = span(i, 1000 + i);
        in.resource_ref = ref;
        rc = arbor_batch_put_span(b, &in);
    }
    if (rc) {
        arbor_batch_abort(b);
        return rc;
    }
    return arbor_batch_commit(b);
}

/* Acquire the tree of TRACE as @p tenant sees it now. */
static tree_ref_t *acquire(arbor_store_t *s, const char *tenant, arbor_reader_t **r)
{
    arbor_trace_summary_t sum;
    tree_ref_t *ref = NULL;
    arbor_reader_begin(s, arbor_iov(tenant, strlen(tenant)), r);
    uint64_t seq = arbor_reader_trace_summary(*r, TRACE, &sum) == 0 ? sum.last_seq : 0;
    if (tree_cache_acquire(*r, &TRACE, &seq, 1, &ref) != 0)
        return NULL;
    return ref;
}

static void test_reuse_and_change(arbor_store_t *s)
{
    arbor_reader_t *r1, *r2, *r3;
    tree_cache_configure(64 << 20);
    is_int(put_range(s, ARBOR_DEFAULT_TENANT, 1, 1501), 0, "1,500 spans stored");
    tree_ref_t *a = acquire(s, ARBOR_DEFAULT_TENANT, &r1), *b = acquire(s, ARBOR_DEFAULT_TENANT, &r2);
    ok(a != NULL && a == b, "the second request reuses the first one's tree");
    ok(cache.hits == 1 && cache.misses == 1 && cache.trees == 1, "one miss, one hit, one tree kept");
    const tree_t *t = tree_ref_tree(a);
    ok(t->n_real == 1500 && t->names != NULL, "the cached tree holds every span and owns its names");
    arbor_reader_end(r1); /* the tree outlives the reader it was built from */
    uint32_t idx = tree_find(t, span(700, 0).span_id);
    arbor_span_rec_t rec;
    ok(idx != TREE_NONE && arbor_iov_eq_str(t->nodes[idx].rec.name, "cached-name"), "names copied out of the map");
    uint8_t found = 0;
    rec = t->nodes[idx].rec;
    ok(rec.reader == NULL && arbor_reader_spans_fill(r2, &rec, 1, &found) == 0 && found && rec.span_bytes.len == 4 &&
           rec.seq == t->nodes[idx].rec.seq,
       "the tree forgot the ended reader; span bytes found again through a later one");
    tree_cache_release(a);
    tree_cache_release(b);
    arbor_reader_end(r2);

    is_int(put_range(s, ARBOR_DEFAULT_TENANT, 1501, 1502), 0, "one more span arrives");
    tree_ref_t *c = acquire(s, ARBOR_DEFAULT_TENANT, &r3);
    ok(c != NULL && c != a && tree_ref_tree(c)->n_real == 1501, "the changed trace gets a new tree (1,501 spans)");
    tree_cache_release(c);
    arbor_reader_end(r3);

    is_int(put_range(s, "other", 1, 1501), 0, "another tenant stores the same trace ID");
    tree_ref_t *d = acquire(s, "other", &r3);
    ok(d != NULL && d != c && cache.trees == 3, "its tree is its own");
    tree_cache_release(d);
    arbor_reader_end(r3);
}

static void test_budget(arbor_store_t *s)
{
    arbor_reader_t *r1, *r2;
    tree_ref_t *a = acquire(s, ARBOR_DEFAULT_TENANT, &r1);
    size_t one = a->bytes;
    tree_cache_configure(one + one / 2); /* room for one tree */
    ok(cache.trees == 1 && cache.head == a, "a smaller budget evicts the least recently used");
    tree_cache_configure(one - 1);
    ok(cache.trees == 0 && a->refs == 1, "below one tree nothing is kept; the holder's reference stays");
    ok(tree_ref_tree(a)->n_real == 1501, "and its tree is still whole");
    tree_cache_release(a);
    tree_ref_t *b = acquire(s, ARBOR_DEFAULT_TENANT, &r2);
    ok(b != NULL && cache.trees == 0, "a tree over the budget is built but not kept");
    tree_cache_release(b);
    arbor_reader_end(r1);
    arbor_reader_end(r2);
    tree_cache_configure(0);
}

int main(void)
{
    store_fixture_t f;
    if (fixture_open(&f, "tree-cache", 256 << 20) != 0)
        return 1;
    test_reuse_and_change(f.store);
    test_budget(f.store);
    tree_cache_clear();
    fixture_close(&f);
    return tap_done();
}
