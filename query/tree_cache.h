/* Trees of large traces kept across requests. A tree is named by its tenant and,
 * for each of its traces, the trace ID and the trace's last change sequence: the
 * sequence is one counter for the whole store that every write advances, so a
 * tree under that name never changes, and a page, the next page and the skeleton
 * of an unchanged trace reuse one tree instead of scanning 100,000 spans each.
 * A trace that changed is a new name; the old tree ages out (least recently used
 * first, within ARBOR_TREE_CACHE_SIZE bytes).
 *
 * Ownership: tree_cache_acquire hands out a reference that the caller releases
 * with tree_cache_release; the tree it holds is read-only and stays valid until
 * then, whatever the cache evicts meanwhile. Thread-safe. */
#ifndef ARBOR_QUERY_TREE_CACHE_H
#define ARBOR_QUERY_TREE_CACHE_H

#include "tree.h"

/* Trees with fewer spans are built per request: a few milliseconds at most. */
#define TREE_CACHE_MIN_SPANS 1000

typedef struct tree_ref tree_ref_t;

/** Set the byte budget (0: nothing is kept). Call before serving; safe to call again. */
void tree_cache_configure(size_t max_bytes);
/** Drop every unreferenced tree (shutdown; tests). */
void tree_cache_clear(void);
/**
 * The tree of @p n traces (@p last_seqs from their summaries in @p r's snapshot):
 * a cached one, or loaded from @p r (and cached when it has at least
 * TREE_CACHE_MIN_SPANS spans). 0 or a store error.
 */
int tree_cache_acquire(arbor_reader_t *r, const uint8_t (*trace_ids)[ARBOR_TRACE_ID_LEN], const uint64_t *last_seqs,
                       size_t n, tree_ref_t **out);
const tree_t *tree_ref_tree(const tree_ref_t *ref);
void tree_cache_release(tree_ref_t *ref);

/** Counters for /metrics. */
typedef struct {
    uint64_t hits, misses, bytes, trees;
} tree_cache_stats_t;
void tree_cache_stats(tree_cache_stats_t *out);

#endif
