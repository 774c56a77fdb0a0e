#include "lists.h"

#include "trace.h"

#include "arbor/map64.h"

#include <stdlib.h>

#define STOP 1 /* visitor return: enough items or scanned enough */

typedef struct {
    arbor_reader_t *r;
    const list_params_t *p;
    jsonw_t *w;
    size_t emitted, scanned;
    arbor_map64_t seen; /* hashes of the execution IDs already listed */
} list_ctx_t;

/* 1 if first time seen. A 64-bit hash collision would hide one execution from a
 * list; acceptable for a bounded "recent" view. */
static int first_sighting(list_ctx_t *c, arbor_iov_t id)
{
    int added;
    arbor_xcheck(arbor_map64_put(&c->seen, arbor_hash_id(id.base, id.len), &added));
    return added;
}

static void write_common(jsonw_t *w, const char *status, uint64_t start, uint64_t end, uint32_t spans,
                         uint32_t errors, int64_t tin, int64_t tout)
{
    jsonw_key_lit(w, "status");
    jsonw_cstr(w, status);
    jsonw_key_lit(w, "started_at");
    jsonw_time(w, start);
    jsonw_key_lit(w, "finished_at");
    jsonw_time(w, end);
    jsonw_key_lit(w, "duration_ms");
    if (end >= start && end)
        jsonw_double(w, (double)(end - start) / 1e6);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "span_count");
    jsonw_uint(w, spans);
    jsonw_key_lit(w, "error_count");
    jsonw_uint(w, errors);
    span_json_tokens(w, "token_usage", tin, tout);
}

static int visit_execution(void *ctx, const arbor_trace_summary_t *t)
{
    list_ctx_t *c = ctx;
    if (++c->scanned > LIST_MAX_SCAN || (c->p->since_ns && t->start_ns < c->p->since_ns))
        return STOP;
    if (t->execution_id.len == 0 || !first_sighting(c, t->execution_id))
        return 0;
    execution_t *x = arbor_xmalloc(sizeof *x);
    int rc = execution_load(c->r, t->execution_id, x);
    if (rc || x->n == 0) {
        free(x);
        return rc;
    }
    const arbor_trace_summary_t *first = &x->sums[x->first];
    const char *status = execution_status(c->r, x);
    if ((c->p->workflow_id.len && !arbor_iov_eq(first->workflow_id, c->p->workflow_id)) ||
        (c->p->status && strcmp(c->p->status, status) != 0)) {
        free(x);
        return 0;
    }
    uint32_t spans = 0, errors = 0;
    int64_t tin = 0, tout = 0;
    uint64_t start = UINT64_MAX, latest = 0, last_seq = 0;
    for (size_t i = 0; i < x->n; i++) {
        spans += x->sums[i].span_count;
        errors += x->sums[i].error_count;
        tin += x->sums[i].tokens_in;
        tout += x->sums[i].tokens_out;
        start = x->sums[i].start_ns < start ? x->sums[i].start_ns : start;
        if (x->sums[i].span_count > 0 && x->sums[i].start_ns > latest)
            latest = x->sums[i].start_ns;
        last_seq = x->sums[i].last_seq > last_seq ? x->sums[i].last_seq : last_seq;
    }
    jsonw_t *w = c->w;
    jsonw_object(w);
    jsonw_key_lit(w, "execution_id");
    jsonw_str(w, x->id);
    jsonw_key_lit(w, "workflow_id");
    if (first->workflow_id.len)
        jsonw_str(w, first->workflow_id);
    else
        jsonw_null(w);
    write_common(w, status, start, execution_finished_ns(c->r, x), spans, errors, tin, tout);
    jsonw_key_lit(w, "trace_id");
    jsonw_hex(w, first->trace_id, 16);
    jsonw_key_lit(w, "trace_ids");
    jsonw_array(w);
    for (size_t i = 0; i < x->n; i++)
        jsonw_hex(w, x->ids[i], 16);
    jsonw_array_end(w);
    jsonw_key_lit(w, "root_name");
    if (x->root >= 0)
        jsonw_str(w, x->sums[x->root].root_name);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "service_name");
    jsonw_str(w, first->root_service);
    jsonw_key_lit(w, "last_started_at"); /* the list's order: its latest trace's start */
    jsonw_time(w, latest);
    jsonw_key_lit(w, "last_seq");
    jsonw_uint(w, last_seq);
    jsonw_object_end(w);
    free(x);
    return ++c->emitted >= c->p->limit ? STOP : 0;
}

static int visit_trace(void *ctx, const arbor_trace_summary_t *t)
{
    list_ctx_t *c = ctx;
    if (++c->scanned > LIST_MAX_SCAN || (c->p->since_ns && t->start_ns < c->p->since_ns))
        return STOP;
    const char *status = !t->has_root ? "running" : t->root_status == 2 ? "error" : "completed";
    if ((c->p->status && strcmp(c->p->status, status) != 0) ||
        (c->p->workflow_id.len && !arbor_iov_eq(t->workflow_id, c->p->workflow_id)))
        return 0;
    jsonw_t *w = c->w;
    jsonw_object(w);
    jsonw_key_lit(w, "trace_id");
    jsonw_hex(w, t->trace_id, 16);
    jsonw_key_lit(w, "execution_id");
    if (t->execution_id.len)
        jsonw_str(w, t->execution_id);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "root_name");
    if (t->has_root)
        jsonw_str(w, t->root_name);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "service_name");
    jsonw_str(w, t->root_service);
    write_common(w, status, t->start_ns, t->has_root ? t->end_ns : 0, t->span_count, t->error_count, t->tokens_in,
                 t->tokens_out);
    jsonw_key_lit(w, "last_seq");
    jsonw_uint(w, t->last_seq);
    jsonw_object_end(w);
    return ++c->emitted >= c->p->limit ? STOP : 0;
}

static int render(arbor_reader_t *r, const list_params_t *p, jsonw_t *w, const char *key, arbor_trace_visit_fn fn)
{
    list_ctx_t c = {.r = r, .p = p, .w = w};
    arbor_map64_init(&c.seen);
    jsonw_object(w);
    jsonw_key(w, key);
    jsonw_array(w);
    int rc = arbor_reader_recent_traces(r, 0, fn, &c);
    jsonw_array_end(w);
    jsonw_key_lit(w, "seq");
    jsonw_uint(w, arbor_reader_last_seq(r));
    jsonw_object_end(w);
    arbor_map64_free(&c.seen);
    return rc == STOP ? 0 : rc;
}

int lists_render_executions(arbor_reader_t *r, const list_params_t *p, jsonw_t *w)
{
    return render(r, p, w, "executions", visit_execution);
}

int lists_render_traces(arbor_reader_t *r, const list_params_t *p, jsonw_t *w)
{
    return render(r, p, w, "traces", visit_trace);
}
