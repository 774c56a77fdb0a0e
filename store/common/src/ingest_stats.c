/* The collector's counters as the bytes it writes into the store's meta index. */
#include "arbor/ingest_stats.h"

const double arbor_commit_bucket_le[ARBOR_COMMIT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                             0.025,  0.05,  0.1,    0.25,  0};

void arbor_ingest_stats_encode(const arbor_ingest_stats_t *s, uint8_t *out)
{
    const uint64_t *w = (const uint64_t *)s;
    for (size_t i = 0; i < ARBOR_INGEST_STATS_WORDS; i++)
        for (int b = 0; b < 8; b++)
            out[i * 8 + b] = (uint8_t)(w[i] >> (8 * b));
}

int arbor_ingest_stats_decode(const uint8_t *in, size_t len, arbor_ingest_stats_t *s)
{
    uint64_t *w = (uint64_t *)s;
    if (len % 8 != 0 || len > ARBOR_INGEST_STATS_WORDS * 8)
        return -1;
    for (size_t i = 0; i < ARBOR_INGEST_STATS_WORDS; i++) {
        w[i] = 0;
        for (int b = 7; b >= 0 && i < len / 8; b--)
            w[i] = w[i] << 8 | in[i * 8 + b];
    }
    return 0;
}

void arbor_ingest_stats_observe_commit(arbor_ingest_stats_t *s, uint64_t ns)
{
    s->commits++;
    s->commit_ns_sum += ns;
    for (int i = 0; i < ARBOR_COMMIT_BUCKETS; i++)
        if (i == ARBOR_COMMIT_BUCKETS - 1 || (double)ns / 1e9 <= arbor_commit_bucket_le[i])
            s->commit_buckets[i]++;
}
