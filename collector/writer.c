/* Group commit. Receivers queue jobs; this thread takes everything queued (up to
 * a span cap), writes it in one transaction, commits (fsync with ARBOR_SYNC=commit),
 * then completes each job. Should a group fail (e.g. ARBOR_EFULL), every job of
 * it is retried alone, so one request's failure never loses another's spans and a
 * failed request leaves nothing behind. Retention runs here too, between groups:
 * the store has one writer. */
#include "writer.h"

#include "arbor/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct writer {
    arbor_store_t *store;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ingest_job_t *head, *tail;
    size_t queued_spans, max_queue_spans, max_spans_per_commit;
    int stopping;
    arbor_ingest_stats_t stats; /* under mu */
    uint64_t retention_ns, announce_ttl_ns;               /* 0: keep (traces / announcements) */
    uint64_t sweep_every_ns, next_sweep_ns;               /* monotonic clock; 0: no sweep */
    uint64_t reader_check_ns, next_reader_check_ns;        /* 0: no periodic reader check */
    uint64_t commit_interval_ns, last_commit_ns;           /* least time between group commits */
    limits_t *limits;
};

/* Put the counters /metrics serves into batch @p b (arbor-query reads them from
 * the store). */
static int put_stats(arbor_batch_t *b, const arbor_ingest_stats_t *st)
{
    uint8_t enc[ARBOR_INGEST_STATS_WORDS * 8];
    arbor_ingest_stats_encode(st, enc);
    return arbor_batch_put_meta(b, ARBOR_INGEST_STATS_KEY, arbor_iov(enc, sizeof enc));
}

/* The counters in a transaction of their own, after a sweep (ingest commits
 * carry them otherwise). */
static void publish_stats(writer_t *w)
{
    arbor_batch_t *b;
    pthread_mutex_lock(&w->mu);
    arbor_ingest_stats_t now = w->stats;
    pthread_mutex_unlock(&w->mu);
    if (arbor_batch_begin(w->store, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &b) != 0)
        return;
    if (put_stats(b, &now) != 0) {
        arbor_batch_abort(b);
        return;
    }
    arbor_batch_commit(b); /* best effort: the next commit writes them again */
}

/* Spans deleted per retention transaction, so a sweep never holds ingest up long. */
#define SWEEP_SPANS_PER_TXN 20000

uint64_t writer_sweep_interval_ms(uint64_t retention_ms, uint64_t announce_ttl_ms)
{
    uint64_t shorter = retention_ms && (announce_ttl_ms == 0 || retention_ms < announce_ttl_ms) ? retention_ms
                                                                                              : announce_ttl_ms;
    uint64_t ms = shorter / 100;
    return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

/* Before when a setting of @p keep_ns (0: forever) deletes, at @p now: 0 for nothing. */
static uint64_t cutoff_of(uint64_t now, uint64_t keep_ns)
{
    return keep_ns == 0 || now <= keep_ns ? 0 : now - keep_ns; /* a time beyond 1970 keeps all */
}

typedef struct {
    char **names;
    size_t n;
} tenant_list_t;

static int add_tenant(void *ctx, arbor_iov_t name)
{
    tenant_list_t *l = ctx;
    l->names = arbor_xrealloc(l->names, (l->n + 1) * sizeof *l->names);
    char *copy = arbor_xmalloc(name.len + 1);
    memcpy(copy, name.base, name.len);
    copy[name.len] = '\0';
    l->names[l->n++] = copy;
    return 0;
}

/* What one sweep deleted. */
typedef struct {
    uint64_t traces, spans, announcements;
} swept_t;

/* One tenant's expired traces and announcements, in bounded transactions, until
 * done or requests wait (*more: stopped with more to delete). */
static int sweep_tenant(writer_t *w, arbor_iov_t tenant, uint64_t cutoff, uint64_t announce_cutoff, swept_t *total,
                        int *more)
{
    arbor_expire_t ex = {0};
    int rc = 0, again;
    for (int announced = 0; announced < 2 && rc == 0; announced++) {
        uint64_t before = announced ? announce_cutoff : cutoff;
        do {
            ex = (arbor_expire_t){0};
            if (before && !announced)
                rc = arbor_store_expire(w->store, tenant, before, SWEEP_SPANS_PER_TXN, &ex);
            else if (before)
                rc = arbor_store_expire_announced(w->store, tenant, before, SWEEP_SPANS_PER_TXN / 10, &ex);
            *(announced ? &total->announcements : &total->traces) += ex.traces;
            total->spans += ex.spans;
            pthread_mutex_lock(&w->mu);
            again = rc == 0 && ex.more && w->head == NULL && !w->stopping;
            pthread_mutex_unlock(&w->mu);
        } while (again);
        *more |= rc == 0 && ex.more; /* requests wait: they go first, the rest next time */
    }
    return rc;
}

/* Delete what has expired, every tenant's: traces past retention, and
 * announcements past their TTL (or retention, when shorter) without a span. */
static void sweep(writer_t *w)
{
    uint64_t now = arbor_now_ns(), keep_announced = w->announce_ttl_ns;
    if (w->retention_ns && (keep_announced == 0 || w->retention_ns < keep_announced))
        keep_announced = w->retention_ns;
    uint64_t cutoff = cutoff_of(now, w->retention_ns), announce_cutoff = cutoff_of(now, keep_announced);
    swept_t total = {0, 0, 0};
    tenant_list_t tenants = {0};
    int rc = arbor_store_tenants(w->store, add_tenant, &tenants), more = 0;
    for (size_t t = 0; t < tenants.n && rc == 0 && !more; t++)
        rc = sweep_tenant(w, arbor_iov(tenants.names[t], strlen(tenants.names[t])), cutoff, announce_cutoff, &total,
                          &more);
    for (size_t t = 0; t < tenants.n; t++)
        free(tenants.names[t]);
    free(tenants.names);
    if (rc != 0)
        arbor_warn("retention_failed", "error=\"%s\"", arbor_strerror(rc));
    if (total.traces > 0 || total.announcements > 0) {
        arbor_info("retention", "traces_deleted=%llu spans_deleted=%llu announcements_deleted=%llu more=%d",
                   (unsigned long long)total.traces, (unsigned long long)total.spans,
                   (unsigned long long)total.announcements, more);
        pthread_mutex_lock(&w->mu);
        w->stats.traces_expired += total.traces;
        w->stats.spans_expired += total.spans;
        pthread_mutex_unlock(&w->mu);
        publish_stats(w);
    }
    /* stopped for waiting requests with more to delete: come back right after them */
    w->next_sweep_ns = arbor_mono_ns() + (rc == 0 && more ? 0 : w->sweep_every_ns);
}

/* A reader process killed inside a read transaction leaves its slot behind, and
 * its snapshot keeps every later-freed page from reuse until the map is full:
 * free such slots now and then (LMDB checks whether each slot's PID is alive). */
static void check_readers(writer_t *w)
{
    int cleared = 0, rc = arbor_store_reader_check(w->store, &cleared);
    w->next_reader_check_ns = arbor_mono_ns() + w->reader_check_ns;
    if (rc != 0) {
        arbor_warn("reader_check_failed", "error=\"%s\"", arbor_strerror(rc));
        return;
    }
    if (cleared == 0)
        return;
    arbor_warn("stale_readers_cleared", "count=%d reason=\"reader process died inside a read transaction\"",
               cleared);
    pthread_mutex_lock(&w->mu);
    w->stats.stale_readers += (uint64_t)cleared;
    pthread_mutex_unlock(&w->mu);
    publish_stats(w);
}

/* Monotonic time of the next housekeeping task (UINT64_MAX: none). */
static uint64_t next_housekeeping(const writer_t *w)
{
    uint64_t at = w->reader_check_ns > 0 ? w->next_reader_check_ns : UINT64_MAX;
    if (w->sweep_every_ns > 0 && w->next_sweep_ns < at)
        at = w->next_sweep_ns;
    return at;
}

/* Between groups: whatever housekeeping is due. */
static void housekeeping(writer_t *w)
{
    uint64_t now = arbor_mono_ns();
    if (w->sweep_every_ns > 0 && now >= w->next_sweep_ns)
        sweep(w);
    if (w->reader_check_ns > 0 && now >= w->next_reader_check_ns)
        check_readers(w);
}

/* Would @p job take a trace past its tenant's caps? Its spans are in key order,
 * so each trace's are together. 0, ARBOR_ELIMIT, or a store error. */
static int check_trace_caps(writer_t *w, arbor_batch_t *b, const ingest_job_t *job)
{
    uint64_t max_spans, max_bytes;
    limits_trace_caps(w->limits, job->tenant, &max_spans, &max_bytes);
    if (max_spans == 0 && max_bytes == 0)
        return 0;
    for (size_t k = 0; k < job->n_spans;) {
        const uint8_t *trace = job->spans[job->order[k]].trace_id;
        uint64_t spans = 0, bytes = 0, stored_bytes;
        uint32_t stored_spans;
        for (; k < job->n_spans && memcmp(job->spans[job->order[k]].trace_id, trace, 16) == 0; k++) {
            spans++;
            bytes += arbor_span_stored_size(&job->spans[job->order[k]]);
        }
        int rc = arbor_batch_trace_usage(b, trace, &stored_spans, &stored_bytes);
        if (rc != 0)
            return rc;
        if ((max_spans && stored_spans + spans > max_spans) || (max_bytes && stored_bytes + bytes > max_bytes))
            return ARBOR_ELIMIT;
    }
    return 0;
}

/* A block goes in just before its spans, which then refer to it by its id. */
static int put_block(arbor_batch_t *b, ingest_job_t *job, const struct ingest_block *blk)
{
    const uint8_t *trace = job->spans[job->order[blk->first]].trace_id;
    uint64_t id;
    int rc = arbor_batch_put_block(b, trace, blk->packed, blk->codec, blk->raw_len, blk->n_spans, &id);
    for (size_t k = blk->first; rc == 0 && k < blk->first + blk->n_spans; k++)
        job->spans[job->order[k]].block.id = id;
    return rc;
}

static int write_job(writer_t *w, arbor_batch_t *b, ingest_job_t *job)
{
    int rc;
    if ((rc = check_trace_caps(w, b, job)) != 0)
        return rc;
    if (job->has_announcement)
        return arbor_batch_announce_execution(b, job->announce_trace, job->announce_execution, arbor_now_ns());
    uint64_t res_refs[64], scope_refs[64];
    uint64_t *rr = job->n_resources <= 64 ? res_refs : arbor_xmalloc(job->n_resources * sizeof *rr);
    uint64_t *sr = job->n_scopes <= 64 ? scope_refs : arbor_xmalloc(job->n_scopes * sizeof *sr);
    for (size_t i = 0; i < job->n_resources; i++)
        if ((rc = arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, job->resources[i], &rr[i])) != 0)
            goto out;
    for (size_t i = 0; i < job->n_scopes; i++)
        if ((rc = arbor_batch_put_record(b, ARBOR_RECORD_SCOPE, job->scopes[i], &sr[i])) != 0)
            goto out;
    for (size_t k = 0, blk = 0; k < job->n_spans; k++) {
        size_t i = job->order[k];
        arbor_span_in_t *in = &job->spans[i];
        if (blk < job->n_blocks && job->blocks[blk].first == k && (rc = put_block(b, job, &job->blocks[blk++])) != 0)
            goto out;
        in->resource_ref = rr[job->span_resource[i]];
        in->scope_ref = sr[job->span_scope[i]];
        if ((rc = arbor_batch_put_span(b, in)) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rr != res_refs)
        free(rr);
    if (sr != scope_refs)
        free(sr);
    return rc;
}

/* Jobs [first, stop) into @p b, one tenant after another (each switch writes the
 * tenant's cached summaries, so a group is taken tenant by tenant, not in
 * arrival order: the jobs of a group are independent). */
static int write_by_tenant(writer_t *w, arbor_batch_t *b, ingest_job_t *first, ingest_job_t *stop, uint64_t *spans)
{
    int rc;
    for (ingest_job_t *j = first; j != stop; j = j->next)
        j->written = 0;
    for (ingest_job_t *lead = first; lead != stop; lead = lead->next) {
        if (lead->written)
            continue;
        if ((rc = arbor_batch_set_tenant(b, arbor_iov(lead->tenant, strlen(lead->tenant)))) != 0)
            return rc;
        for (ingest_job_t *j = lead; j != stop; j = j->next) {
            if (j->written || strcmp(j->tenant, lead->tenant) != 0)
                continue;
            if ((rc = write_job(w, b, j)) != 0)
                return rc;
            j->written = 1;
            *spans += j->n_spans;
        }
    }
    return 0;
}

/* Write jobs [first, stop) in one transaction; 0 only if all committed. The
 * counters go into the same transaction, as they will be if it commits. */
static int write_group(writer_t *w, ingest_job_t *first, ingest_job_t *stop)
{
    arbor_batch_t *b;
    uint64_t spans = 0;
    int rc = arbor_batch_begin(w->store, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &b);
    if (rc)
        return rc;
    if ((rc = write_by_tenant(w, b, first, stop, &spans)) != 0) {
        arbor_batch_abort(b);
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    arbor_ingest_stats_t next = w->stats;
    pthread_mutex_unlock(&w->mu);
    next.spans_stored += spans;
    if ((rc = put_stats(b, &next)) != 0) {
        arbor_batch_abort(b);
        return rc;
    }
    uint64_t t0 = arbor_mono_ns();
    rc = arbor_batch_commit(b);
    uint64_t took = arbor_mono_ns() - t0;
    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
        w->stats.spans_stored += spans;
        arbor_ingest_stats_observe_commit(&w->stats, took);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void complete(writer_t *w, ingest_job_t *first, ingest_job_t *stop, int rc)
{
    ingest_job_t *j = first;
    while (j != stop) {
        ingest_job_t *next = j->next; /* done() hands the job away: read next first */
        j->result = rc;
        if (rc != 0 && rc != ARBOR_ELIMIT) { /* a limit is the tenant's, not a failure */
            pthread_mutex_lock(&w->mu);
            w->stats.write_failures++;
            pthread_mutex_unlock(&w->mu);
        }
        j->done(j);
        j = next;
    }
}

/* ARBOR_COMMIT_INTERVAL: hold the next commit until the interval since the last
 * one has passed, so the requests arriving meanwhile share it (and its fsync).
 * Shutdown does not wait. */
static void linger(writer_t *w)
{
    if (w->commit_interval_ns == 0 || w->last_commit_ns == 0)
        return;
    uint64_t until = w->last_commit_ns + w->commit_interval_ns;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && arbor_mono_ns() < until) {
        struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    for (;;) {
        linger(w);
        housekeeping(w);
        pthread_mutex_lock(&w->mu);
        uint64_t at = next_housekeeping(w);
        while (w->head == NULL && !w->stopping && arbor_mono_ns() < at) {
            if (at == UINT64_MAX) {
                pthread_cond_wait(&w->cv, &w->mu);
            } else { /* idle: wake for the next housekeeping */
                struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            }
        }
        if (w->head == NULL && !w->stopping) { /* woken for housekeeping */
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        if (w->head == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&w->mu);
            break;
        }
        /* take a group: whole queue, up to the span cap (at least one job) */
        ingest_job_t *first = w->head, *last = first;
        size_t spans = first->n_spans;
        while (last->next != NULL && spans + last->next->n_spans <= w->max_spans_per_commit) {
            last = last->next;
            spans += last->n_spans;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued_spans -= spans;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);

        int rc = write_group(w, first, NULL);
        w->last_commit_ns = arbor_mono_ns();
        if (rc == 0 || first->next == NULL) {
            if (rc && rc != ARBOR_ELIMIT)
                arbor_warn("write_failed", "spans=%zu error=\"%s\"", spans, arbor_strerror(rc));
            complete(w, first, NULL, rc);
            continue;
        }
        arbor_warn("group_commit_failed", "spans=%zu error=\"%s\" action=retry_each_request", spans,
                   arbor_strerror(rc));
        for (ingest_job_t *j = first; j != NULL;) {
            ingest_job_t *next = j->next;
            int one = write_group(w, j, next);
            complete(w, j, next, one);
            j = next;
        }
    }
    return NULL;
}

int writer_start(arbor_store_t *store, const writer_options_t *opts, writer_t **out)
{
    writer_t *w = arbor_xcalloc(1, sizeof *w);
    w->store = store;
    w->limits = opts->limits;
    w->max_queue_spans = opts->max_queue_spans;
    w->max_spans_per_commit = opts->max_spans_per_commit;
    uint64_t retention_ms = opts->retention_ms < 10000000000000u ? opts->retention_ms : 10000000000000u; /* <= 317 y */
    uint64_t ttl_ms = opts->announce_ttl_ms < 10000000000000u ? opts->announce_ttl_ms : 10000000000000u;
    w->retention_ns = retention_ms * 1000000u;
    w->announce_ttl_ns = ttl_ms * 1000000u;
    w->sweep_every_ns = retention_ms || ttl_ms ? writer_sweep_interval_ms(retention_ms, ttl_ms) * 1000000u : 0;
    w->commit_interval_ns = opts->commit_interval_ms * 1000000u;
    w->next_sweep_ns = arbor_mono_ns() + 1000000000u; /* the first sweep a second after start */
    uint64_t check_ms = opts->reader_check_ms < 86400000u ? opts->reader_check_ms : 86400000u;
    w->reader_check_ns = check_ms * 1000000u;
    w->next_reader_check_ns = arbor_mono_ns() + w->reader_check_ns;
    pthread_mutex_init(&w->mu, NULL);
    /* timed waits on the monotonic clock, like arbor_mono_ns() */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int writer_submit(writer_t *w, ingest_job_t *job)
{
    int rc = 0;
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        rc = ARBOR_ESHUTDOWN;
    } else if (w->queued_spans > 0 && w->queued_spans + job->n_spans > w->max_queue_spans) {
        rc = ARBOR_EBUSY; /* an empty queue always takes a job, however big */
    } else {
        if (w->tail)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        w->queued_spans += job->n_spans;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void writer_stop(writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void writer_count_request(writer_t *w, size_t received, size_t rejected, size_t redacted)
{
    pthread_mutex_lock(&w->mu);
    w->stats.values_redacted += redacted;
    w->stats.requests++;
    w->stats.spans_received += received;
    w->stats.spans_rejected += rejected;
    pthread_mutex_unlock(&w->mu);
}

void writer_get_stats(writer_t *w, arbor_ingest_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
