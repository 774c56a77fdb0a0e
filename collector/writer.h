/* The single writer: one thread that group-commits queued ingest jobs into the
 * store, many requests per LMDB transaction, and completes each job only after
 * the transaction holding its spans has committed. */
#ifndef ARBOR_COLLECTOR_WRITER_H
#define ARBOR_COLLECTOR_WRITER_H

#include "ingest.h"
#include "tenant_limits.h"

#include "arbor/ingest_stats.h"

typedef struct writer writer_t;

typedef struct {
    size_t max_queue_spans;      /**< spans waiting for a commit before submit says EBUSY */
    size_t max_spans_per_commit; /**< a group's span cap */
    /** > 0: between commits, and when idle at least every writer_sweep_interval_ms(),
     *  traces that ended longer ago than this are deleted (arbor_store_expire); 0 keeps all */
    uint64_t retention_ms;
    /** > 0: announced traces that got no span this long after their announcement are deleted by the
     *  same sweep (arbor_store_expire_announced); retention deletes them too when shorter */
    uint64_t announce_ttl_ms;
    /** how often the reader slots of dead processes are freed (arbor_store_reader_check);
     *  0 = only at start */
    uint64_t reader_check_ms;
    /** least time between two group commits (0: none): requests arriving meanwhile share the next */
    uint64_t commit_interval_ms;
    /** per-tenant per-trace caps (NULL: none): a job over them fails with ARBOR_ELIMIT */
    limits_t *limits;
} writer_options_t;

/** Start the writer thread on @p store (which it uses until writer_stop). */
int writer_start(arbor_store_t *store, const writer_options_t *opts, writer_t **out);
/** How often the sweep runs: a hundredth of the shorter of retention and the
 *  announcement TTL (0: not set), within 1 s .. 60 s. */
uint64_t writer_sweep_interval_ms(uint64_t retention_ms, uint64_t announce_ttl_ms);
/**
 * Queue @p job (with n_spans > 0, or an announcement). On 0 the writer owns the job until it calls
 * job->done. ARBOR_EBUSY when the queue is full, ARBOR_ESHUTDOWN after writer_stop.
 */
int writer_submit(writer_t *w, ingest_job_t *job);
/** Commit everything queued, complete those jobs, stop the thread and free @p w. */
void writer_stop(writer_t *w);
/** Count a decoded request (receivers call this for every request they decode,
 *  including those with no valid span). Thread-safe. */
void writer_count_request(writer_t *w, size_t received, size_t rejected, size_t redacted);
void writer_get_stats(writer_t *w, arbor_ingest_stats_t *out);

#endif
