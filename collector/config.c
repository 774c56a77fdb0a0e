#include "config.h"

#include "arbor/log.h"
#include "tenant_limits.h"
#include "otlp.h"

#include <stddef.h>
#include <stdio.h>

static const char *const sync_modes[] = {"commit", "none", NULL};
static const char *const compression_modes[] = {"lz4", "zstd", "none", NULL};

#define F(field) offsetof(collector_config_t, field)
static const arbor_cfg_entry_t entries[] = {
    {"data-dir", ARBOR_CFG_STRING, "./data", F(data_dir), "LMDB environment directory (created if missing).",
     NULL, 0, 0},
    {"otlp-http-addr", ARBOR_CFG_ADDR, "127.0.0.1:4318", F(otlp_http_addr),
     "OTLP/HTTP listener (POST /v1/traces); `off` disables.", NULL, 0, 0},
    {"otlp-grpc-addr", ARBOR_CFG_ADDR, "127.0.0.1:4317", F(otlp_grpc_addr),
     "OTLP/gRPC listener (TraceService/Export); `off` disables.", NULL, 0, 0},
    {"execution-id-keys", ARBOR_CFG_STRING, "orcheo.execution.id,execution.id,workflow.execution.id",
     F(execution_id_keys),
     "Attribute keys (span attributes first, then resource) whose value is the execution ID, comma separated.",
     NULL, 0, 0},
    {"map-size", ARBOR_CFG_SIZE, "16GiB", F(map_size), "LMDB map size: the most the store can hold.", NULL,
     1 << 20, INT64_MAX},
    {"sync", ARBOR_CFG_ENUM, "commit", F(sync),
     "`commit`: fsync each group commit before acknowledging; `none`: the OS flushes (faster, may lose the "
     "last seconds on power loss).",
     sync_modes, 0, 0},
    {"span-compression", ARBOR_CFG_ENUM, "lz4", F(span_compression),
     "How span bytes are stored: a request's spans of one trace as one block (a lone span by itself), "
     "compressed against a built-in dictionary of semantic-convention keys when that saves over 1/9. `lz4`: "
     "about 0.3 of the size for a block of workflow spans (0.67 span by span); `zstd` (level -1): smaller "
     "and slower; `none`: as received. Stores may mix them: each block and span says how it was stored.",
     compression_modes, 0, 0},
    {"retention", ARBOR_CFG_DURATION, "72h", F(retention_ms),
     "Traces whose last span ended longer ago than this are deleted by a background sweep in the writer "
     "(every 1/100 of it, between 1 s and 60 s; bounded transactions between commits). `0s` keeps everything.",
     NULL, 0, 0},
    {"announce-ttl", ARBOR_CFG_DURATION, "1h", F(announce_ttl_ms),
     "An announced trace (`POST /v1/executions`) that has received no span this long after its announcement "
     "is deleted by the same sweep (or by retention, when that is shorter), so it stops holding its execution "
     "as running. `0s`: only retention deletes them.",
     NULL, 0, 0},
    {"reader-check-interval", ARBOR_CFG_DURATION, "10s", F(reader_check_ms),
     "How often the writer frees the LMDB reader slots of processes that died inside a read transaction "
     "(a killed arbor-query): their old snapshot would keep freed pages from reuse until the map is full. "
     "`0s`: only at start.",
     NULL, 0, 0},
    {"capture-content", ARBOR_CFG_BOOL, "true", F(capture_content),
     "`false` drops prompt/response/message content at ingest: content attributes (gen_ai.prompt, "
     "gen_ai.input.messages, input.value, llm.input_messages, ...) and the attributes of prompt, response "
     "and message events. Names, times, token counts and everything else are kept.",
     NULL, 0, 0},
    {"redact", ARBOR_CFG_STRING, "secrets", F(redact),
     "Built-in redaction at ingest, before indexing and storage, comma separated: `secrets` (Orcheo's secret "
     "assignments: `api_key=…` becomes `api_key= [REDACTED]`), `emails`, `cards`, `ssn` (Orcheo's patterns), or "
     "`none`. `secrets` also takes quoted keys (`\"api_key\": \"…\"`), values with `/ + . ~`, passwords and "
     "Authorization headers inside a value. Applied to every string a span, its resource and its scope carry "
     "(names, status messages, trace_state, attribute string and bytes values, at any depth), on the bytes "
     "stored; counted in `arbor_values_redacted_total`.",
     NULL, 0, 0},
    {"redact-patterns", ARBOR_CFG_STRING, NULL, F(redact_patterns),
     "File of PCRE2 patterns (case-insensitive), one per line, `#` comments: every match becomes `[REDACTED]`.",
     NULL, 0, 0},
    {"redact-keys", ARBOR_CFG_STRING, NULL, F(redact_keys),
     "Attribute key globs, comma separated (`*.api_key,http.request.header.authorization`): the whole value "
     "becomes `[REDACTED]`.",
     NULL, 0, 0},
    {"tenant-limits", ARBOR_CFG_STRING, NULL, F(tenant_limits),
     "Per-tenant limits, one line per tenant: `tenant spans_per_second burst max_spans_per_trace "
     "max_bytes_per_trace` (`*`: every tenant without its own line, each with its own bucket; 0: unlimited; "
     "bytes take size suffixes). Over the rate: 429 + `Retry-After` / `RESOURCE_EXHAUSTED` + `RetryInfo`; over a "
     "per-trace cap: 413 / `RESOURCE_EXHAUSTED` without retry. A refused request stores nothing. Re-read on SIGHUP "
     "(new limits; every bucket keeps its fill).",
     NULL, 0, 0},
    {"tenant-buckets", ARBOR_CFG_INT, "10000", F(tenant_buckets),
     "Most tenants whose rate buckets `tenant-limits` keeps in memory (about 190 bytes each). Past it the "
     "longest-idle bucket is forgotten: its tenant starts again with a full burst, as a new one would.",
     NULL, 16, 100000000},
    {"max-request-bytes", ARBOR_CFG_SIZE, "64MiB", F(max_request_bytes),
     "Decompressed request size limit (HTTP 413 / gRPC RESOURCE_EXHAUSTED above it).", NULL, 1024,
     INT32_MAX},
    {"max-connections", ARBOR_CFG_INT, "2048", F(max_connections),
     "Most open connections on each receiver. OTLP/HTTP stops accepting at the cap until one closes (an idle "
     "one closes after 10 s); OTLP/gRPC without TLS closes the connection that has received nothing for the "
     "longest to take the new one (gRPC's TLS listener has no cap: its idle and age bounds close what it "
     "holds). The soft limit on open files is raised to the hard one at start.",
     NULL, 16, 1000000},
    {"grpc-max-connection-idle", ARBOR_CFG_DURATION, "5m", F(grpc_max_connection_idle_ms),
     "An OTLP/gRPC connection without a call for this long is closed (GOAWAY); its client reconnects when it "
     "next exports. Also bounds, at 10 s at most, the wait for a new connection's TLS handshake or first "
     "SETTINGS. `0s`: never.",
     NULL, 0, 0},
    {"grpc-max-connection-age", ARBOR_CFG_DURATION, "1h", F(grpc_max_connection_age_ms),
     "An OTLP/gRPC connection is asked to go away (GOAWAY) after this long, busy or not; calls in flight get "
     "`grpc-max-connection-age-grace` to finish. `0s`: never.",
     NULL, 0, 0},
    {"grpc-max-connection-age-grace", ARBOR_CFG_DURATION, "30s", F(grpc_max_connection_age_grace_ms),
     "How long calls in flight may run on a connection past its age before it is closed. `0s`: no limit.",
     NULL, 0, 0},
    {"grpc-keepalive-time", ARBOR_CFG_DURATION, "1m", F(grpc_keepalive_time_ms),
     "An OTLP/gRPC connection quiet this long gets a ping; no answer within 20 s closes it (a client that "
     "vanished without closing). `0s`: no pings.",
     NULL, 0, 0},
    {"log-level", ARBOR_CFG_ENUM, "info", F(log_level), "Log verbosity.", arbor_log_level_names, 0, 0},
    {"http-threads", ARBOR_CFG_INT, "2", F(http_threads),
     "Event-loop threads decoding OTLP/HTTP requests.", NULL, 1, 64},
    {"grpc-threads", ARBOR_CFG_INT, "2", F(grpc_threads),
     "Completion-queue threads decoding OTLP/gRPC calls.", NULL, 1, 64},
    {"max-queue-spans", ARBOR_CFG_INT, "262144", F(max_queue_spans),
     "Spans waiting for the writer before requests get 503 + Retry-After.", NULL, 1000, 100000000},
    {"commit-interval", ARBOR_CFG_DURATION, "0ms", F(commit_interval_ms),
     "Least time between two group commits: requests arriving meanwhile share the next commit and its fsync "
     "(fewer, larger commits on a slow disk, for that much more latency). 0: commit as soon as the previous "
     "commit is done. Past `max-queue-spans` waiting, requests still get 503.",
     NULL, 0, 10000},
    ARBOR_AUTH_CFG_ROWS(collector_config_t, auth),
    ARBOR_TLS_CFG_ROWS(collector_config_t, tls),
};

static int validate(const void *p, char *err, size_t errlen)
{
    const collector_config_t *c = p;
    if (arbor_config_check_dir("ARBOR_DATA_DIR", c->data_dir, 1, err, errlen) != 0 ||
        arbor_config_check_mappable("ARBOR_MAP_SIZE", c->map_size, err, errlen) != 0)
        return -1;
    if (arbor_auth_validate(&c->auth, err, errlen) != 0 || arbor_tls_validate(&c->tls, err, errlen) != 0)
        return -1;
    otlp_redactor_t *r;
    if (otlp_redactor_new(c->redact, c->redact_patterns, c->redact_keys, &r, err, errlen) != 0)
        return -1;
    otlp_redactor_free(r);
    limits_t *l;
    if (limits_open(c->tenant_limits, (size_t)c->tenant_buckets, &l, err, errlen) != 0)
        return -1;
    limits_close(l);
    if (!c->otlp_http_addr.enabled && !c->otlp_grpc_addr.enabled) {
        snprintf(err, errlen, "ARBOR_OTLP_HTTP_ADDR and ARBOR_OTLP_GRPC_ADDR are both off: nothing could send spans");
        return -1;
    }
    return 0;
}

const arbor_cfg_table_t collector_config_table = {
    "arbor-collector", "Receives OTLP spans and stores them in LMDB (the only writer).", entries,
    sizeof entries / sizeof entries[0], sizeof(collector_config_t), validate};
