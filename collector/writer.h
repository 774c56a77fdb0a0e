/* The single writer: one thread that group-commits queued ingest jobs into the
 * store, many requests per LMDB transaction, and completes each job only after
 * the transaction holding its spans has committed. */
#ifndef ARBOR_COLLECTOR_WRITER_H
#define ARBOR_COLLECTOR_WRITER_H

#include "ingest.h"

typedef struct writer writer_t;

typedef struct {
    uint64_t jobs, spans, commits, failures;
    uint64_t commit_ns_total; /* time inside commit (incl. fsync) */
} writer_stats_t;

/** Start the writer thread. @p max_queue_spans bounds spans waiting for a commit. */
int writer_start(arbor_store_t *store, size_t max_queue_spans, size_t max_spans_per_commit, writer_t **out);
/**
 * Queue @p job (with n_spans > 0). On 0 the writer owns the job until it calls
 * job->done. ARBOR_EBUSY when the queue is full, ARBOR_ESHUTDOWN after writer_stop.
 */
int writer_submit(writer_t *w, ingest_job_t *job);
/** Commit everything queued, complete those jobs, stop the thread and free @p w. */
void writer_stop(writer_t *w);
void writer_get_stats(writer_t *w, writer_stats_t *out);

#endif
