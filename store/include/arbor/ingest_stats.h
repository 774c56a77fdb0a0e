/**
 * @file ingest_stats.h
 * @brief The collector's counters, written into the store's meta index with each
 *        commit (key ARBOR_INGEST_STATS_KEY) so that arbor-query, another process,
 *        can serve them on /metrics. Counters restart from 0 with the collector.
 */
#ifndef ARBOR_INGEST_STATS_H
#define ARBOR_INGEST_STATS_H

#include <stdint.h>
#include <string.h>

#define ARBOR_INGEST_STATS_KEY "collector/stats"
#define ARBOR_COMMIT_BUCKETS 10

/** Upper bounds (seconds) of the commit-latency histogram buckets; the last is +Inf. */
static const double arbor_commit_bucket_le[ARBOR_COMMIT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                    0.025,  0.05,  0.1,    0.25,  0};

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
} arbor_ingest_stats_t;

#define ARBOR_INGEST_STATS_WORDS (sizeof(arbor_ingest_stats_t) / sizeof(uint64_t))

static inline void arbor_ingest_stats_encode(const arbor_ingest_stats_t *s, uint8_t *out)
{
    const uint64_t *w = (const uint64_t *)s;
    for (size_t i = 0; i < ARBOR_INGEST_STATS_WORDS; i++)
        for (int b = 0; b < 8; b++)
            out[i * 8 + b] = (uint8_t)(w[i] >> (8 * b));
}

/** 0, or -1 when @p len does not match (a collector of another version). */
static inline int arbor_ingest_stats_decode(const uint8_t *in, size_t len, arbor_ingest_stats_t *s)
{
    uint64_t *w = (uint64_t *)s;
    if (len != ARBOR_INGEST_STATS_WORDS * 8)
        return -1;
    for (size_t i = 0; i < ARBOR_INGEST_STATS_WORDS; i++) {
        w[i] = 0;
        for (int b = 7; b >= 0; b--)
            w[i] = w[i] << 8 | in[i * 8 + b];
    }
    return 0;
}

static inline void arbor_ingest_stats_observe_commit(arbor_ingest_stats_t *s, uint64_t ns)
{
    s->commits++;
    s->commit_ns_sum += ns;
    for (int i = 0; i < ARBOR_COMMIT_BUCKETS; i++)
        if (i == ARBOR_COMMIT_BUCKETS - 1 || (double)ns / 1e9 <= arbor_commit_bucket_le[i])
            s->commit_buckets[i]++;
}

#endif
