/* Recent executions and traces, newest first, from the time index. Every list is
 * bounded: at most `limit` items, and at most LIST_MAX_SCAN traces examined. */
#ifndef ARBOR_QUERY_LISTS_H
#define ARBOR_QUERY_LISTS_H

#include "arbor/store.h"
#include "jsonw.h"

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 1000
#define LIST_MAX_SCAN 20000

typedef struct {
    size_t limit;
    uint64_t since_ns;       /* 0 = any: only traces starting at or after */
    arbor_iov_t workflow_id; /* empty = any */
    const char *status;      /* NULL = any */
} list_params_t;

int lists_render_executions(arbor_reader_t *r, const list_params_t *p, jsonw_t *w);
int lists_render_traces(arbor_reader_t *r, const list_params_t *p, jsonw_t *w);

#endif
