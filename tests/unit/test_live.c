/* The live sequence filter (query/live.c, included to reach its static helpers):
 * which spans and placeholders a client resuming after a sequence lacks, and which
 * change-feed entries are news to a subscriber (newer than its snapshot, not
 * superseded by a later write of the same span). Built on a real store, so the
 * sequences are the ones the writer assigns. */
#include "../../query/live.c"

#include "store_fixture.h"
#include "tap.h"


static const uint8_t TRACE[16] = {0x11, 0x7e};

static arbor_span_in_t node(uint32_t id, uint32_t parent, uint64_t end)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    memcpy(in.trace_id, TRACE, 16);
    in.span_id[0] = 1;
    memcpy(in.span_id + 4, &id, 4);
    if (parent) {
        in.parent_span_id[0] = 1;
        memcpy(in.parent_span_id + 4, &parent, 4);
        in.has_parent = 1;
    }
    in.start_ns = 100 + id;
    in.end_ns = end;
    in.name = ARBOR_IOV("n");
    in.span_bytes = ARBOR_IOV("");
    return in;
}

/* Put one batch; the sequence the store has reached after it (0 on failure). */
static uint64_t put(arbor_store_t *s, arbor_span_in_t *spans, size_t n)
{
    arbor_reader_t *r;
    uint64_t last = 0;
    if (fixture_put(s, spans, n) == 0 && arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r) == 0) {
        last = arbor_reader_last_seq(r);
        arbor_reader_end(r);
    }
    return last;
}

static const tree_node_t *find(const tree_t *t, uint32_t id, int placeholder)
{
    for (size_t i = 0; i < t->n; i++) {
        uint32_t got;
        memcpy(&got, t->nodes[i].rec.span_id + 4, 4);
        if (got == id && t->nodes[i].placeholder == placeholder)
            return &t->nodes[i];
    }
    return NULL;
}

/* A: 2 (parent 1 not yet there) and 3 under 2.  B: the root 1, and 4 under 5, which never
 * arrives.  C: 3 again, finished later (a new version of the span). */
static uint64_t seq_a, seq_b, seq_c;

static void test_resume(arbor_reader_t *r)
{
    tree_t t;
    is_int(tree_load(&t, r, &TRACE, 1), 0, "tree loads");
    const tree_node_t *n1 = find(&t, 1, 0), *n2 = find(&t, 2, 0), *n3 = find(&t, 3, 0), *n4 = find(&t, 4, 0),
                      *p5 = find(&t, 5, 1);
    ok(n1 && n2 && n3 && n4 && p5, "four spans and the placeholder for 5");
    if (!(n1 && n2 && n3 && n4 && p5)) {
        tree_free(&t);
        return;
    }
    /* a client that received the trace after A holds 1 as a placeholder, 2 for real */
    ok(parent_missing_at(&t, n2, seq_a), "after A: 2's parent 1 was a placeholder");
    ok(!parent_missing_at(&t, n3, seq_a), "after A: 3's parent 2 was real");
    ok(!parent_missing_at(&t, n1, seq_a), "a root has no parent to miss");
    ok(!parent_missing_at(&t, n4, seq_a), "4 was not there after A, so it says nothing about 5");
    ok(parent_missing_at(&t, n4, seq_b), "after B: 4's parent 5 is a placeholder");
    ok(!parent_missing_at(&t, n2, seq_b), "after B: 1 has arrived");

    ok(resume_needs(n1, seq_a, 0), "resuming after A: 1 arrived since");
    ok(!resume_needs(n2, seq_a, 0), "resuming after A: 2 is held");
    ok(resume_needs(n3, seq_a, 0), "resuming after A: 3 changed since");
    ok(resume_needs(n4, seq_a, 0), "resuming after A: 4 arrived since");
    ok(!resume_needs(n3, seq_c, 0), "resuming after C: nothing real is new");
    ok(resume_needs(p5, seq_c, 0), "a placeholder the client does not hold is sent");
    ok(!resume_needs(p5, seq_a, 1), "a placeholder the client holds is not");
    tree_free(&t);
}

static void test_feed(arbor_reader_t *r)
{
    changes_t ch = {0};
    is_int(arbor_reader_changes(r, 0, collect_change, &ch), 0, "feed reads");
    qsort(ch.v, ch.n, sizeof *ch.v, cmp_change);
    int ordered = 1;
    for (size_t i = 1; i < ch.n; i++)
        ordered &= ch.v[i - 1].seq < ch.v[i].seq;
    ok(ch.n >= 4 && ordered, "one trace's entries sorted by sequence (%zu entries)", ch.n);
    size_t news_from_0 = 0, news_from_b = 0, news_3 = 0;
    for (size_t i = 0; i < ch.n; i++) {
        arbor_span_rec_t rec;
        const arbor_span_rec_t *stored =
            arbor_reader_span(r, ch.v[i].trace, ch.v[i].span, &rec) == 0 ? &rec : NULL;
        uint32_t id;
        memcpy(&id, ch.v[i].span + 4, 4);
        news_from_0 += change_is_news(ch.v[i].seq, 0, stored);
        news_from_b += change_is_news(ch.v[i].seq, seq_b, stored);
        news_3 += id == 3 && change_is_news(ch.v[i].seq, 0, stored);
        if (id == 3 && stored && ch.v[i].seq < stored->seq)
            ok(!change_is_news(ch.v[i].seq, 0, stored), "3's first version is superseded by C");
    }
    is_int((long)news_from_0, 4, "from an empty snapshot: each span once, at its latest version");
    is_int((long)news_3, 1, "3 once, not twice");
    is_int((long)news_from_b, 1, "from a snapshot after B: only C's 3");
    arbor_span_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.seq = seq_c;
    ok(!change_is_news(seq_c, 0, NULL), "a span gone from the store is not news");
    ok(!change_is_news(seq_c, seq_c, &rec), "an entry inside the snapshot is not news");
    ok(change_is_news(seq_c, seq_b, &rec), "an entry after the snapshot is");
    free(ch.v);
}

int main(void)
{
    store_fixture_t f;
    if (fixture_open(&f, "live", 64 << 20) != 0)
        return 1;
    arbor_store_t *s = f.store;
    arbor_span_in_t a[] = {node(2, 1, 500), node(3, 2, 400)}, b[] = {node(1, 0, 900), node(4, 5, 600)},
                    c[] = {node(3, 2, 450)};
    seq_a = put(s, a, 2);
    seq_b = put(s, b, 2);
    seq_c = put(s, c, 1);
    ok(seq_a > 0 && seq_a < seq_b && seq_b < seq_c, "each batch moves the sequence on (%llu, %llu, %llu)",
       (unsigned long long)seq_a, (unsigned long long)seq_b, (unsigned long long)seq_c);
    arbor_reader_t *r;
    if (arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r) == 0) {
        test_resume(r);
        test_feed(r);
        arbor_reader_end(r);
    }
    fixture_close(&f);
    return tap_done();
}
