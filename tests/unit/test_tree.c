/* The tree built from span headers (query/tree.c, included to reach its static
 * helpers): a placeholder per missing parent covering its children, siblings by
 * start then span ID, depths and child counts, a self-parented span as a root,
 * and a chain 100,000 deep without recursion. */
#include "../../query/tree.c"

#include "store_fixture.h"
#include "tap.h"


static const uint8_t TRACE[16] = {0x7e};

static arbor_span_in_t node(uint32_t id, uint32_t parent, uint64_t start)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    memcpy(in.trace_id, TRACE, 16);
    in.span_id[0] = 1; /* never the all-zero ID */
    memcpy(in.span_id + 4, &id, 4);
    if (parent) {
        in.parent_span_id[0] = 1;
        memcpy(in.parent_span_id + 4, &parent, 4);
        in.has_parent = 1;
    }
    in.start_ns = start;
    in.end_ns = start + 10;
    in.name = ARBOR_IOV("n");
    in.span_bytes = ARBOR_IOV("");
    return in;
}

static uint32_t id_of(const tree_t *t, uint32_t idx)
{
    uint32_t id;
    memcpy(&id, t->nodes[idx].rec.span_id + 4, 4);
    return id;
}

static void test_shape(arbor_store_t *s)
{
    /* 1 root; 2, 3 children of 1 (3 starts first); 5 child of 4, which never arrived; 6 names itself */
    arbor_span_in_t spans[] = {node(1, 0, 100), node(2, 1, 300), node(3, 1, 200), node(5, 4, 250), node(6, 6, 50)};
    is_int(fixture_put(s, spans, 5), 0, "five spans stored");
    arbor_reader_t *r;
    tree_t t;
    arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    is_int(tree_load(&t, r, &TRACE, 1), 0, "tree loads");
    ok(t.n_real == 5 && t.n == 6, "one placeholder for the missing parent (n %zu, real %zu)", t.n, t.n_real);
    uint32_t ph = tree_find(&t, spans[3].parent_span_id);
    ok(ph != TREE_NONE && t.nodes[ph].placeholder && t.nodes[ph].rec.start_ns == 250 && t.nodes[ph].rec.end_ns == 260,
       "the placeholder covers its child's time range");
    char order[64] = "";
    for (size_t k = 0; k < t.n; k++)
        snprintf(order + strlen(order), sizeof order - strlen(order), "%u ", id_of(&t, t.order[k]));
    ok(strcmp(order, "6 1 3 2 4 5 ") == 0, "pre-order: roots by start, siblings by start (%s)", order);
    uint32_t one = tree_find(&t, spans[0].span_id), five = tree_find(&t, spans[3].span_id);
    ok(t.nodes[one].n_children == 2 && t.nodes[one].depth == 0 && t.nodes[five].depth == 1,
       "child counts and depths");
    ok(t.nodes[tree_find(&t, spans[4].span_id)].parent == TREE_NONE, "a span naming itself as parent is a root");
    tree_free(&t);
    arbor_reader_end(r);
}

static void test_deep_chain(arbor_store_t *s)
{
    enum { DEPTH = 100000 };
    static const uint8_t CHAIN[16] = {0x7f};
    arbor_span_in_t *spans = malloc(DEPTH * sizeof *spans);
    for (uint32_t i = 0; i < DEPTH; i++) {
        spans[i] = node(i + 1, i, 1000 + i);
        memcpy(spans[i].trace_id, CHAIN, 16);
    }
    is_int(fixture_put(s, spans, DEPTH), 0, "a chain 100,000 deep stored");
    arbor_reader_t *r;
    tree_t t;
    arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    is_int(tree_load(&t, r, &CHAIN, 1), 0, "and loaded, no recursion");
    uint32_t last = tree_find(&t, spans[DEPTH - 1].span_id);
    ok(t.n == DEPTH && last != TREE_NONE && t.nodes[last].depth == DEPTH - 1 && t.order[DEPTH - 1] == last,
       "depth 99,999 at the end of the pre-order");
    tree_free(&t);
    arbor_reader_end(r);
    free(spans);
}

int main(void)
{
    store_fixture_t f;
    if (fixture_open(&f, "tree", 256 << 20) != 0)
        return 1;
    test_shape(f.store);
    test_deep_chain(f.store);
    fixture_close(&f);
    return tap_done();
}
