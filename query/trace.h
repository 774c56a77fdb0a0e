/* Rendering from one read snapshot: Orcheo's TraceResponse (paged pre-order),
 * the compact skeleton for large traces, and one span in full. */
#ifndef ARBOR_QUERY_TRACE_H
#define ARBOR_QUERY_TRACE_H

#include "arbor/store.h"
#include "jsonw.h"
#include "span_json.h"

/** Most traces one execution may merge (resumed runs). */
#define TRACE_MAX_PER_EXECUTION 64
#define TRACE_DEFAULT_LIMIT 1000
/** /api/executions/{id}/trace: the Canvas never asks for a second page (SPEC §6.1). */
#define TRACE_CANVAS_DEFAULT_LIMIT 10000
#define TRACE_MAX_LIMIT 10000

typedef struct {
    char name[64];
    char url[512]; /* with {trace_id} / {execution_id} placeholders */
} trace_link_t;

typedef struct {
    span_render_t span;
    const trace_link_t *links;
    size_t n_links;
} trace_options_t;

typedef struct {
    size_t limit;       /* spans per page, 1..TRACE_MAX_LIMIT */
    uint32_t max_depth; /* 0 = whole tree; N = spans at depth < N */
    arbor_iov_t cursor; /* empty = first page */
    int has_parent;     /* skeleton: page the children of this span */
    uint8_t parent[ARBOR_SPAN_ID_LEN];
    arbor_iov_t match;  /* non-empty: also list every span mentioning it ("matches", in-trace search) */
    int events;         /* skeleton: each entry lists its events' names and times (decodes every span) */
    uint64_t match_deadline_ns; /* monotonic; past it the list stops ("matches_truncated"); 0: none */
} page_params_t;

typedef enum { RENDER_TRACE, RENDER_SKELETON } render_kind_t;

/**
 * Render an execution (all its traces) or one trace, as a TraceResponse page or
 * a skeleton page. An unknown execution renders status "unknown" with no spans.
 * @return 0; ARBOR_ENOTFOUND (unknown trace, or unknown parent span);
 *         ARBOR_EDECODE (bad cursor); or a store error.
 */
int trace_render(arbor_reader_t *r, render_kind_t kind, arbor_iov_t execution_id, const uint8_t *trace_id,
                 const trace_options_t *o, const page_params_t *page, jsonw_t *w);

/** A page cursor, "<position>[.<span id hex>]" (empty: the first page): 0, or
 *  ARBOR_EDECODE. Federation reads the same cursors. */
int trace_parse_cursor(arbor_iov_t c, size_t *pos, uint8_t span[8], int *has_span);

/** One span in full. ARBOR_ENOTFOUND when absent. */
int trace_render_span(arbor_reader_t *r, const uint8_t trace_id[16], const uint8_t span_id[8],
                      const trace_options_t *o, jsonw_t *w);

/* ---- executions shared with the lists ---- */

typedef struct {
    arbor_iov_t id; /* base NULL: a trace without execution */
    uint8_t ids[TRACE_MAX_PER_EXECUTION][ARBOR_TRACE_ID_LEN];
    arbor_trace_summary_t sums[TRACE_MAX_PER_EXECUTION];
    size_t n;
    int root, first; /* index of the latest root / earliest trace, -1 if none */
    int all_rooted;
} execution_t;

int execution_load(arbor_reader_t *r, arbor_iov_t execution_id, execution_t *x);
/** "running", "completed", "error", "cancelled" or "unknown". */
const char *execution_status(arbor_reader_t *r, const execution_t *x);
/** The (latest) root span's end once every trace's root has arrived, else 0. */
uint64_t execution_finished_ns(arbor_reader_t *r, const execution_t *x);

#endif
