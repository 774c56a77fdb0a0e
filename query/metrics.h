/* Prometheus text exposition for GET /metrics: the collector's ingest counters
 * (read from the store's meta index), store sizes, and this process's request
 * counts and latencies. */
#ifndef ARBOR_QUERY_METRICS_H
#define ARBOR_QUERY_METRICS_H

#include "arbor/store.h"
#include "jsonw.h"

typedef enum {
    ROUTE_EXECUTION_TRACE, ROUTE_TRACE_TRACE, ROUTE_EXECUTION_TREE, ROUTE_TRACE_TREE, ROUTE_SPAN,
    ROUTE_EXECUTIONS, ROUTE_TRACES, ROUTE_LIVE, ROUTE_TEMPO_TRACE, ROUTE_TEMPO_SEARCH, ROUTE_TEMPO_TAGS,
    ROUTE_UI, ROUTE_READY, ROUTE_HEALTHZ, ROUTE_METRICS, ROUTE_OTHER,
    ROUTE_COUNT
} route_t;

void metrics_observe(route_t route, int status, uint64_t duration_ns);
/** Subscribers currently connected to live streams (set by the live module). */
void metrics_set_live_subscribers(uint64_t n);
/** Append the exposition text to @p w's buffer (plain text, via jsonw_append). */
void metrics_render(arbor_store_t *store, jsonw_t *w);

#endif
