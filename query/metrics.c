#include "metrics.h"
#include "tree_cache.h"

#include "arbor/ingest_stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const route_names[ROUTE_COUNT] = {
    "execution_trace", "trace_trace", "execution_tree", "trace_tree", "span", "executions",
    "traces", "live", "tempo_trace", "tempo_search", "tempo_tags", "ui", "ready", "healthz", "metrics", "other"};

static const int status_codes[] = {101, 200, 204, 304, 400, 403, 404, 405, 426, 500, 503, 0};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0])
static const double latency_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
#define N_LE (sizeof latency_le / sizeof latency_le[0])

/* The query service is one event loop: no locking needed. */
static struct {
    uint64_t requests[ROUTE_COUNT][N_STATUS];
    uint64_t buckets[ROUTE_COUNT][N_LE + 1];
    uint64_t sum_ns[ROUTE_COUNT];
    uint64_t live_subscribers;
} m;

void metrics_observe(route_t route, int status, uint64_t ns)
{
    size_t s = 0;
    while (status_codes[s] != 0 && status_codes[s] != status)
        s++;
    m.requests[route][s]++;
    m.sum_ns[route] += ns;
    for (size_t i = 0; i <= N_LE; i++)
        if (i == N_LE || (double)ns / 1e9 <= latency_le[i])
            m.buckets[route][i]++;
}

void metrics_set_live_subscribers(uint64_t n)
{
    m.live_subscribers = n;
}

static void line(jsonw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(jsonw_t *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        jsonw_append(w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void counter(jsonw_t *w, const char *name, const char *help, unsigned long long v)
{
    line(w, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static void gauge(jsonw_t *w, const char *name, const char *help, unsigned long long v)
{
    line(w, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, v);
}

static void render_tree_cache(jsonw_t *w)
{
    tree_cache_stats_t tc;
    tree_cache_stats(&tc);
    counter(w, "arbor_tree_cache_hits_total", "Tree requests answered from a cached tree.", tc.hits);
    counter(w, "arbor_tree_cache_misses_total", "Tree requests that read every span of their traces.", tc.misses);
    gauge(w, "arbor_tree_cache_bytes", "Memory held by cached trees.", tc.bytes);
    gauge(w, "arbor_tree_cache_trees", "Trees cached.", tc.trees);
}

void metrics_render(arbor_store_t *store, jsonw_t *w)
{
    arbor_ingest_stats_t st;
    memset(&st, 0, sizeof st);
    arbor_store_stat_t ss;
    memset(&ss, 0, sizeof ss);
    if (store != NULL) {
        arbor_reader_t *r;
        arbor_iov_t v;
        if (arbor_reader_begin(store, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r) == 0) {
            if (arbor_reader_meta(r, ARBOR_INGEST_STATS_KEY, &v) == 0)
                arbor_ingest_stats_decode((const uint8_t *)v.base, v.len, &st);
            arbor_reader_end(r);
        }
        arbor_store_stat(store, &ss);
    }
    counter(w, "arbor_ingest_requests_total", "OTLP export requests decoded by the collector.", st.requests);
    counter(w, "arbor_spans_received_total", "Spans received by the collector.", st.spans_received);
    counter(w, "arbor_spans_rejected_total", "Spans rejected as invalid (partial success).", st.spans_rejected);
    counter(w, "arbor_spans_stored_total", "Spans committed to the store.", st.spans_stored);
    counter(w, "arbor_write_failures_total", "Requests the writer could not store (answered 503).",
            st.write_failures);
    counter(w, "arbor_traces_expired_total", "Traces deleted by retention (ARBOR_RETENTION).", st.traces_expired);
    counter(w, "arbor_spans_expired_total", "Spans deleted by retention (ARBOR_RETENTION).", st.spans_expired);
    counter(w, "arbor_values_redacted_total", "Matches replaced with [REDACTED] at ingest (ARBOR_REDACT*).",
            st.values_redacted);
    counter(w, "arbor_stale_readers_cleared_total",
            "LMDB reader slots of dead processes freed by the collector (ARBOR_READER_CHECK_INTERVAL).",
            st.stale_readers);
    line(w, "# HELP arbor_commit_duration_seconds Group commit duration, fsync included.\n"
            "# TYPE arbor_commit_duration_seconds histogram\n");
    for (int i = 0; i < ARBOR_COMMIT_BUCKETS; i++) {
        if (i == ARBOR_COMMIT_BUCKETS - 1)
            line(w, "arbor_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                 (unsigned long long)st.commit_buckets[i]);
        else
            line(w, "arbor_commit_duration_seconds_bucket{le=\"%g\"} %llu\n", arbor_commit_bucket_le[i],
                 (unsigned long long)st.commit_buckets[i]);
    }
    line(w, "arbor_commit_duration_seconds_sum %.9f\narbor_commit_duration_seconds_count %llu\n",
         (double)st.commit_ns_sum / 1e9, (unsigned long long)st.commits);

    gauge(w, "arbor_store_file_bytes", "Size of the LMDB data file.", ss.file_bytes);
    gauge(w, "arbor_store_map_bytes", "LMDB map size (the most the store can hold).", ss.map_bytes);
    gauge(w, "arbor_store_last_seq", "Change-feed sequence of the newest committed span.", ss.last_seq);
    line(w, "# HELP arbor_store_entries Entries per store index.\n# TYPE arbor_store_entries gauge\n");
    for (size_t i = 0; i < ss.n_indexes; i++)
        line(w, "arbor_store_entries{index=\"%s\"} %llu\n", ss.indexes[i].name,
             (unsigned long long)ss.indexes[i].entries);
    render_tree_cache(w);
    gauge(w, "arbor_live_subscribers", "WebSocket subscribers connected to live streams.", m.live_subscribers);

    line(w, "# HELP arbor_query_requests_total Query API requests by route and status.\n"
            "# TYPE arbor_query_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (size_t s = 0; s < N_STATUS; s++) {
            char code[12] = "other";
            if (m.requests[r][s] == 0)
                continue;
            if (status_codes[s])
                snprintf(code, sizeof code, "%d", status_codes[s]);
            line(w, "arbor_query_requests_total{route=\"%s\",code=\"%s\"} %llu\n", route_names[r], code,
                 (unsigned long long)m.requests[r][s]);
        }
    line(w, "# HELP arbor_query_request_duration_seconds Query API latency by route.\n"
            "# TYPE arbor_query_request_duration_seconds histogram\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        if (m.buckets[r][N_LE] == 0)
            continue;
        for (size_t i = 0; i <= N_LE; i++) {
            if (i == N_LE)
                line(w, "arbor_query_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                     route_names[r], (unsigned long long)m.buckets[r][i]);
            else
                line(w, "arbor_query_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                     route_names[r], latency_le[i], (unsigned long long)m.buckets[r][i]);
        }
        line(w, "arbor_query_request_duration_seconds_sum{route=\"%s\"} %.9f\n", route_names[r],
             (double)m.sum_ns[r] / 1e9);
        line(w, "arbor_query_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r],
             (unsigned long long)m.buckets[r][N_LE]);
    }
}
