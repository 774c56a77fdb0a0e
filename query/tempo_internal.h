/* Private to tempo.c and tempo_tags.c: walking the traces a TraceQL query
 * matches, newest first, within the search budget. Search lists what it finds;
 * the tag routes with q= collect the keys and values of the spans it matched. */
#ifndef ARBOR_QUERY_TEMPO_INTERNAL_H
#define ARBOR_QUERY_TEMPO_INTERNAL_H

#include "tempo.h"
#include "traceql.h"

/* Traces evaluated / time-index entries visited per walk, at most. */
#define SEARCH_MAX_INSPECT 50000
#define SEARCH_MAX_WALK 5000000

typedef struct {
    /* in */
    const tq_query_t *q; /* what matches (and the equalities tested on blooms first) */
    size_t (*eval)(void *ctx, tq_trace_t *t, uint8_t *matched); /* instead of q (logfmt tags): no bloom test */
    void *eval_ctx;
    uint64_t start_s, end_s; /* window on trace start, Unix seconds; 0: unbounded */
    uint64_t min_ns, max_ns; /* trace duration bounds; max 0: none */
    tempo_budget_t budget;
    /* each matching trace, with its matched spans (n of them): non-zero stops the walk */
    int (*hit)(void *ctx, tq_trace_t *t, const uint8_t *matched, size_t n, const arbor_trace_summary_t *sum);
    void *hit_ctx;
    /* out */
    size_t inspected, spans, walked;
    uint64_t bytes;
    int aborted; /* TQ_ABORT_DEADLINE: stopped early; TQ_ABORT_REGEX: traces left out */
    /* private */
    arbor_reader_t *r;
    tq_index_hint_t hints[8];
    size_t n_hints;
} tempo_walk_t;

/** Walk the traces newest first (tempo.c). 0 or a store error; wk->aborted says
 *  whether the walk was cut short. */
int tempo_walk(arbor_reader_t *r, tempo_walk_t *wk);

/** "partial": true and "partialReason" when @p aborted (TQ_ABORT_*); @p what
 *  names what was found so far ("traces", "tags"). Nothing otherwise. */
void tempo_write_partial(jsonw_t *w, int aborted, const char *what);

#endif
