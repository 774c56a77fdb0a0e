/* The span tree of one execution or trace, built from span headers only (no span
 * bytes decoded): parents resolved by span ID, a placeholder for each parent that
 * has not arrived, children sorted by start time then span ID, the pre-order,
 * depths, child counts and subtree aggregates. Every page, skeleton and list of
 * children is a view of this. Node records borrow from the reader: the tree is
 * valid until the reader ends. */
#ifndef ARBOR_QUERY_TREE_H
#define ARBOR_QUERY_TREE_H

#include "arbor/map64.h"
#include "arbor/store.h"

#define TREE_NONE UINT32_MAX

typedef struct {
    arbor_span_rec_t rec;
    uint32_t parent;      /* TREE_NONE for roots */
    uint32_t first_child; /* into tree_t.kids */
    uint32_t n_children;
    uint32_t depth;       /* roots are 0 */
    uint32_t subtree_errors;
    int64_t subtree_in, subtree_out;
    uint8_t placeholder;
} tree_node_t;

typedef struct {
    tree_node_t *nodes;
    size_t n;          /* nodes, placeholders included */
    size_t n_real;     /* stored spans */
    uint32_t *kids;    /* children of each node, contiguous, sorted */
    uint32_t *roots;   /* sorted */
    size_t n_roots;
    uint32_t *order;   /* pre-order of all n nodes */
    uint32_t *pos;     /* node -> position in order */
    arbor_map64_t by_id; /* span ID (its 8 bytes) -> node index */
    size_t cap;
    int64_t tokens_in, tokens_out;
    uint32_t errors;
    uint64_t min_start, max_end;
    char *names; /* tree_detach: the span names, owned; NULL while they are borrowed */
} tree_t;

/** Load every span of the given traces. 0 or a store error (tree freed then). */
int tree_load(tree_t *t, arbor_reader_t *r, const uint8_t (*trace_ids)[ARBOR_TRACE_ID_LEN], size_t n_traces);
void tree_free(tree_t *t);
/** The same from records gathered elsewhere (federation: the shards' spans):
 *  tree_init, tree_add each stored span (copied; its strings stay borrowed),
 *  then tree_build links, sorts, orders and sums as tree_load does. */
void tree_init(tree_t *t);
void tree_add(tree_t *t, const arbor_span_rec_t *rec);
void tree_build(tree_t *t);
/** Make the tree outlive its reader (the tree cache): the names are copied into
 *  the tree, the nodes' span bytes and reader forgotten (arbor_reader_spans_fill
 *  reads them again from a later reader of the same data). */
void tree_detach(tree_t *t);
/** Bytes the tree takes in memory (the cache's budget). */
size_t tree_bytes(const tree_t *t);
/** Node index of a span ID, or TREE_NONE. */
uint32_t tree_find(const tree_t *t, const uint8_t *span_id);

#endif
