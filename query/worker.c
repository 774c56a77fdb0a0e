/* A small pool of render threads and the hand-back to the event loop. */
#include "worker.h"

#include "arbor/log.h"

#include "h2o/multithread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct worker_job {
    h2o_multithread_message_t msg; /* first: the loop's receiver gets it back */
    worker_job_t *next;            /* queue link */
    h2o_req_t *req;                /* NULL once the request is gone */
    worker_job_t **guard;          /* in req's pool: tells us when it goes */
    arbor_store_t *store;
    arbor_iov_t tenant; /* kept with the job */
    worker_render_fn render;
    worker_reply_fn reply;
    int rc;
    uint64_t queued_ns;
    jsonw_t out;
    arbor_arena_t kept; /* strings kept with the job */
    _Alignas(16) unsigned char arg[];
};

/* Jobs wait in one of two lanes: renders from the store on a fixed number of
 * threads (the CPU is their limit), and jobs with no store (federation, which
 * waits on the shards, not the CPU) on threads started as they are needed, up
 * to their own limit, so one slow shard holds up no other request. */
typedef struct {
    pthread_cond_t cv;
    worker_job_t *head, *tail;
    pthread_t *threads;
    size_t n_threads, max_threads;
    size_t idle, queued; /* threads waiting for a job; jobs waiting for a thread */
} lane_t;

static struct {
    pthread_mutex_t mu;
    lane_t store, net;
    volatile int stopping;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done_rx;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .store = {.cv = PTHREAD_COND_INITIALIZER},
          .net = {.cv = PTHREAD_COND_INITIALIZER}};

static void job_free(worker_job_t *j)
{
    jsonw_free(&j->out);
    arbor_arena_free(&j->kept);
    free(j);
}

/* Loop thread: results. */
static void on_done(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    (void)rx;
    while (!h2o_linklist_is_empty(messages)) {
        worker_job_t *j = H2O_STRUCT_FROM_MEMBER(worker_job_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        if (j->req != NULL) {
            *j->guard = NULL;
            j->reply(j->req, j->arg, j->rc, &j->out);
        }
        job_free(j);
    }
}

static void *worker_main(void *arg)
{
    lane_t *lane = arg;
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        lane->idle++;
        while (lane->head == NULL && !pool.stopping)
            pthread_cond_wait(&lane->cv, &pool.mu);
        lane->idle--;
        worker_job_t *j = lane->head;
        if (j == NULL) { /* stopping and nothing queued */
            pthread_mutex_unlock(&pool.mu);
            return NULL;
        }
        lane->head = j->next;
        if (lane->head == NULL)
            lane->tail = NULL;
        lane->queued--;
        pthread_mutex_unlock(&pool.mu);
        arbor_debug("render_started", "queued_us=%llu", (unsigned long long)((arbor_mono_ns() - j->queued_ns) / 1000));
        arbor_reader_t *r = NULL;
        j->rc = j->store != NULL ? arbor_reader_begin(j->store, j->tenant, &r) : 0;
        if (j->rc == 0) {
            j->rc = j->render(r, j->arg, &j->out);
            arbor_reader_end(r);
        }
        h2o_multithread_send_message(&pool.done_rx, &j->msg);
    }
}

/* One more thread for @p lane; pool.mu held. 0 or an errno. */
static int lane_grow(lane_t *lane)
{
    int rc = pthread_create(&lane->threads[lane->n_threads], NULL, worker_main, lane);
    if (rc == 0)
        lane->n_threads++;
    return rc;
}

int worker_pool_start(h2o_loop_t *loop, size_t threads, size_t net_threads)
{
    pool.queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(pool.queue, &pool.done_rx, on_done);
    pool.store.threads = arbor_xcalloc(threads, sizeof *pool.store.threads);
    pool.store.max_threads = threads;
    pool.net.threads = arbor_xcalloc(net_threads, sizeof *pool.net.threads);
    pool.net.max_threads = net_threads;
    pthread_mutex_lock(&pool.mu);
    int rc = 0;
    while (rc == 0 && pool.store.n_threads < threads)
        rc = lane_grow(&pool.store);
    pthread_mutex_unlock(&pool.mu);
    return rc;
}

/* Drop @p lane's queued jobs and join its threads (pool.stopping is set). */
static void lane_stop(lane_t *lane)
{
    pthread_mutex_lock(&pool.mu);
    worker_job_t *queued = lane->head;
    lane->head = lane->tail = NULL;
    lane->queued = 0;
    pthread_cond_broadcast(&lane->cv);
    pthread_mutex_unlock(&pool.mu);
    while (queued != NULL) {
        worker_job_t *next = queued->next;
        if (queued->req != NULL)
            *queued->guard = NULL;
        job_free(queued);
        queued = next;
    }
    for (size_t i = 0; i < lane->n_threads; i++)
        pthread_join(lane->threads[i], NULL);
    free(lane->threads);
    lane->threads = NULL;
    lane->n_threads = 0;
}

void worker_pool_stop(h2o_loop_t *loop)
{
    pthread_mutex_lock(&pool.mu);
    pool.stopping = 1;
    pthread_mutex_unlock(&pool.mu);
    lane_stop(&pool.store);
    lane_stop(&pool.net);
    h2o_evloop_run(loop, 0); /* deliver what finished */
    h2o_multithread_unregister_receiver(pool.queue, &pool.done_rx);
    h2o_multithread_destroy_queue(pool.queue);
    pool.queue = NULL;
}

const volatile int *worker_cancel_flag(void)
{
    return &pool.stopping;
}

/* The request's pool is being released: the job must not touch it any more. */
static void on_req_gone(void *p)
{
    worker_job_t *j = *(worker_job_t **)p;
    if (j != NULL)
        j->req = NULL;
}

worker_job_t *worker_job_new(h2o_req_t *req, const void *arg, size_t arg_size)
{
    worker_job_t *j = arbor_xcalloc(1, sizeof *j + arg_size);
    memcpy(j->arg, arg, arg_size);
    j->req = req;
    j->guard = h2o_mem_alloc_shared(&req->pool, sizeof *j->guard, on_req_gone);
    *j->guard = j;
    jsonw_init(&j->out);
    arbor_arena_init(&j->kept, 1024, 0);
    return j;
}

void *worker_job_arg(worker_job_t *j)
{
    return j->arg;
}

arbor_iov_t worker_job_keep(worker_job_t *j, arbor_iov_t s)
{
    char *copy = arbor_xcheck(arbor_arena_dup(&j->kept, s.base ? s.base : "", s.len));
    return arbor_iov(copy, s.len);
}

void worker_job_submit(worker_job_t *j, arbor_store_t *store, arbor_iov_t tenant, worker_render_fn render,
                       worker_reply_fn reply)
{
    j->store = store;
    j->tenant = worker_job_keep(j, tenant);
    j->render = render;
    j->reply = reply;
    j->queued_ns = arbor_mono_ns();
    lane_t *lane = store != NULL ? &pool.store : &pool.net;
    pthread_mutex_lock(&pool.mu);
    if (lane->tail)
        lane->tail->next = j;
    else
        lane->head = j;
    lane->tail = j;
    lane->queued++;
    /* a thread for it, unless one is waiting that no other queued job will take
     * first (or the lane is full: it queues) */
    int rc = lane->queued > lane->idle && lane->n_threads < lane->max_threads ? lane_grow(lane) : 0;
    if (rc != 0)
        arbor_warn("worker_start_failed", "error=\"%s\" threads=%zu", strerror(rc), lane->n_threads);
    pthread_cond_signal(&lane->cv);
    pthread_mutex_unlock(&pool.mu);
}
