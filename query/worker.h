/* Worker threads for renders that may run long (Tempo searches, TraceQL-filtered
 * traces): the event loop hands them over and goes on answering /healthz and
 * every other request; each result comes back to the loop as a message.
 *
 * Ownership: a job owns a copy of its argument and of every string kept with
 * worker_job_keep(). The request may go away while its job runs (the client hung
 * up): the result is then dropped. Everything but the render runs on the loop
 * thread. */
#ifndef ARBOR_QUERY_WORKER_H
#define ARBOR_QUERY_WORKER_H

#include "arbor/store.h"
#include "jsonw.h"

#include "h2o.h"

typedef struct worker_job worker_job_t;
/** On a worker thread, from its own read snapshot. */
typedef int (*worker_render_fn)(arbor_reader_t *r, void *arg, jsonw_t *w);
/** On the loop thread, once rendered, only if the request is still there. */
typedef void (*worker_reply_fn)(h2o_req_t *req, void *arg, int rc, jsonw_t *w);

/** Start @p threads workers for renders from the store, answering to @p loop,
 *  and allow up to @p net_threads for jobs with no store (started as they are
 *  needed: such a job waits on the network, and queues behind no other). 0 or
 *  an errno. */
int worker_pool_start(h2o_loop_t *loop, size_t threads, size_t net_threads);
/** Cancel running renders (they see worker_cancel_flag()), join the threads and
 *  deliver what finished; jobs not started are dropped. */
void worker_pool_stop(h2o_loop_t *loop);
/** Non-zero once the pool is stopping: renders pass it to their budget. */
const volatile int *worker_cancel_flag(void);

/** A job for @p req carrying a copy of @p arg (@p arg_size bytes). */
worker_job_t *worker_job_new(h2o_req_t *req, const void *arg, size_t arg_size);
/** The job's copy of the argument. */
void *worker_job_arg(worker_job_t *job);
/** A copy of @p s that lives as long as the job. */
arbor_iov_t worker_job_keep(worker_job_t *job, arbor_iov_t s);
/** Queue the job: @p render runs on a worker against @p tenant's data in @p store
 *  (the name is copied), then @p reply on the loop. A NULL @p store renders with
 *  no reader (federation: the data is elsewhere), on the threads for jobs that
 *  wait on the network. */
void worker_job_submit(worker_job_t *job, arbor_store_t *store, arbor_iov_t tenant, worker_render_fn render,
                       worker_reply_fn reply);

#endif
