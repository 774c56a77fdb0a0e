/**
 * @file ingest_stats.h
 * @brief The collector's counters, written into the store's meta index with each
 *        commit (key ARBOR_INGEST_STATS_KEY) so that arbor-query, another process,
 *        can serve them on /metrics. Counters restart from 0 with the collector.
 */
#ifndef ARBOR_INGEST_STATS_H
#define ARBOR_INGEST_STATS_H

#include <stddef.h>
#include <stdint.h>

#define ARBOR_INGEST_STATS_KEY "collector/stats"
#define ARBOR_COMMIT_BUCKETS 10

/** Upper bounds (seconds) of the commit-latency histogram buckets; the last is +Inf. */
extern const double arbor_commit_bucket_le[ARBOR_COMMIT_BUCKETS];

typedef struct {
    uint64_t requests;        /* decoded export requests (HTTP + gRPC) */
    uint64_t spans_received;  /* spans in those requests */
    uint64_t spans_rejected;  /* invalid spans (partial success) */
    uint64_t spans_stored;    /* spans committed */
    uint64_t commits;
    uint64_t commit_ns_sum;
    uint64_t commit_buckets[ARBOR_COMMIT_BUCKETS]; /* cumulative counts, Prometheus style */
    uint64_t write_failures;  /* requests answered 503 by the writer */
    uint64_t traces_expired;  /* deleted by retention */
    uint64_t spans_expired;
    uint64_t stale_readers;   /* reader slots of dead processes freed by the writer */
    uint64_t values_redacted; /* matches replaced by redaction at ingest (ARBOR_REDACT*) */
} arbor_ingest_stats_t;

#define ARBOR_INGEST_STATS_WORDS (sizeof(arbor_ingest_stats_t) / sizeof(uint64_t))

/** Little-endian words into @p out (ARBOR_INGEST_STATS_WORDS * 8 bytes). Cannot fail. */
void arbor_ingest_stats_encode(const arbor_ingest_stats_t *s, uint8_t *out);

/** 0, or -1 when @p len is not whole words or longer than this version's
 *  (counters an older collector did not have read as 0). */
int arbor_ingest_stats_decode(const uint8_t *in, size_t len, arbor_ingest_stats_t *s);

/** Count one commit that took @p ns into the histogram. */
void arbor_ingest_stats_observe_commit(arbor_ingest_stats_t *s, uint64_t ns);

#endif
