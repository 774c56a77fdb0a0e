/* Building Orcheo's TraceResponse from the store: one read snapshot, every span
 * of every trace of an execution, ordered as a tree in pre-order. */
#ifndef ARBOR_QUERY_TRACE_H
#define ARBOR_QUERY_TRACE_H

#include "arbor/store.h"
#include "jsonw.h"

/** Most traces one execution may merge (resumed runs). */
#define TRACE_MAX_PER_EXECUTION 64

typedef struct {
    size_t preview_max; /* reserved for preview truncation (0 = off) */
} trace_options_t;

/**
 * Render GET /api/executions/{id}/trace into @p out. An unknown execution renders
 * status "unknown" with no spans (the Canvas retries forever on 404).
 * @return 0 or a store error (nothing useful in @p out then).
 */
int trace_render_execution(arbor_reader_t *r, arbor_iov_t execution_id, const trace_options_t *o, jsonw_t *out);

/** Render GET /api/traces/{trace_id}/trace. ARBOR_ENOTFOUND when the trace is unknown. */
int trace_render_trace(arbor_reader_t *r, const uint8_t trace_id[16], const trace_options_t *o, jsonw_t *out);

#endif
