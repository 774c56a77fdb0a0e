/* arbor-collector: parse settings, open the store, start the writer and the
 * receivers, wait for SIGINT/SIGTERM (SIGHUP re-reads the auth, TLS and limits files), then shut
 * down losing nothing acknowledged. */
#include "config.h"
#include "grpc.h"
#include "http.h"
#include "ingest.h"
#include "writer.h"

#include "arbor/auth.h"
#include "arbor/listen.h"
#include "arbor/log.h"
#include "arbor/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What SPEC §8 adds to a collector: who may write (auth, tls), how much
 * (limits) and what is kept of it (redactor). Opened together, closed together. */
typedef struct {
    arbor_auth_t *auth;
    arbor_tls_t *tls;
    limits_t *limits;
    otlp_redactor_t *redactor;
} security_t;

/* Open the store (its writer lock taken) and start the writer: 0, or non-zero
 * with the reason logged and nothing left open. */
static int start_store(const collector_config_t *cfg, limits_t *limits, arbor_store_t **store, writer_t **writer)
{
    arbor_store_options_t so = {.path = cfg->data_dir, .map_size = cfg->map_size,
                                .sync = cfg->sync == 1 ? ARBOR_SYNC_NONE : ARBOR_SYNC_COMMIT};
    int rc = arbor_store_open(&so, store);
    if (rc == ARBOR_ELOCKED)
        arbor_error("store_open_failed", "data_dir=%s error=\"%s\" holder_pid=%ld", cfg->data_dir, arbor_strerror(rc),
                    arbor_store_writer_pid(cfg->data_dir));
    else if (rc != 0)
        arbor_error("store_open_failed", "data_dir=%s error=\"%s\"", cfg->data_dir, arbor_strerror(rc));
    if (rc != 0)
        return rc;
    writer_options_t wo = {.max_queue_spans = (size_t)cfg->max_queue_spans, .max_spans_per_commit = 50000,
                           .retention_ms = cfg->retention_ms, .announce_ttl_ms = cfg->announce_ttl_ms,
                           .reader_check_ms = cfg->reader_check_ms,
                           .commit_interval_ms = cfg->commit_interval_ms,
                           .limits = limits};
    if ((rc = writer_start(*store, &wo, writer)) != 0) {
        arbor_error("writer_start_failed", "error=\"%s\"", arbor_strerror(rc));
        arbor_store_close(*store);
    }
    return rc;
}

/* "host:port" a listener bound (the configured address with the port it got). */
static void bound_addr(arbor_addr_t addr, uint16_t port, char *out, size_t len)
{
    addr.port = port;
    arbor_addr_format(&addr, out, len);
}

/* Start the enabled receivers; their bound addresses (or "off") into the buffers.
 * 0, or non-zero with whatever started stopped again. */
static int start_receivers(const collector_config_t *cfg, const ingest_options_t *ingest, writer_t *writer,
                           const security_t *sec, otlp_http_server_t **http, otlp_grpc_receiver_t **grpc, char *http_addr, char *grpc_addr,
                           size_t len)
{
    uint16_t port;
    snprintf(http_addr, len, "off");
    snprintf(grpc_addr, len, "off");
    if (cfg->otlp_http_addr.enabled) {
        otlp_http_options_t ho = {.addr = cfg->otlp_http_addr, .threads = (int)cfg->http_threads,
                                  .max_request_bytes = cfg->max_request_bytes, .ingest = ingest, .writer = writer,
                                  .auth = sec->auth, .tls = sec->tls, .limits = sec->limits,
                                  .max_connections = (size_t)cfg->max_connections};
        if (otlp_http_start(&ho, http, &port) != 0)
            return -1;
        bound_addr(cfg->otlp_http_addr, port, http_addr, len);
    }
    if (cfg->otlp_grpc_addr.enabled) {
        otlp_grpc_options_t go = {.addr = cfg->otlp_grpc_addr, .threads = (int)cfg->grpc_threads,
                                  .max_request_bytes = cfg->max_request_bytes, .ingest = ingest, .writer = writer,
                                  .auth = sec->auth, .tls = sec->tls, .limits = sec->limits,
                                  .max_connection_idle_ms = cfg->grpc_max_connection_idle_ms,
                                  .max_connection_age_ms = cfg->grpc_max_connection_age_ms,
                                  .max_connection_age_grace_ms = cfg->grpc_max_connection_age_grace_ms,
                                  .keepalive_time_ms = cfg->grpc_keepalive_time_ms,
                                  .max_connections = (size_t)cfg->max_connections};
        if (otlp_grpc_start(&go, grpc, &port) != 0) {
            if (*http != NULL)
                otlp_http_stop(*http);
            *http = NULL;
            return -1;
        }
        bound_addr(cfg->otlp_grpc_addr, port, grpc_addr, len);
    }
    return 0;
}

/* Commit and answer everything queued, then stop the writer and say what it did. */
static void stop_writer(writer_t *writer)
{
    arbor_ingest_stats_t st;
    writer_get_stats(writer, &st);
    writer_stop(writer);
    arbor_log_lifecycle("writer_stopped",
                        "requests=%llu spans_stored=%llu spans_rejected=%llu commits=%llu failures=%llu",
                        (unsigned long long)st.requests, (unsigned long long)st.spans_stored,
                        (unsigned long long)st.spans_rejected, (unsigned long long)st.commits,
                        (unsigned long long)st.write_failures);
}

static void security_close(security_t *sec)
{
    otlp_redactor_free(sec->redactor);
    limits_close(sec->limits);
    arbor_tls_close(sec->tls);
    arbor_auth_close(sec->auth);
}

static int security_open(const collector_config_t *cfg, security_t *sec)
{
    char err[512];
    memset(sec, 0, sizeof *sec);
    if (arbor_auth_open(&cfg->auth, &sec->auth, err, sizeof err) == 0 &&
        arbor_tls_open(&cfg->tls, &sec->tls, err, sizeof err) == 0 &&
        limits_open(cfg->tenant_limits, (size_t)cfg->tenant_buckets, &sec->limits, err, sizeof err) == 0 &&
        otlp_redactor_new(cfg->redact, cfg->redact_patterns, cfg->redact_keys, &sec->redactor, err, sizeof err) == 0)
        return 0;
    arbor_error("config_invalid", "error=\"%s\"", err);
    security_close(sec);
    return -1;
}

/* SIGHUP: the auth files, the certificates and the limits again; a bad file
 * keeps what was in use. */
static void reload(security_t *sec)
{
    char err[512];
    const char *what = "auth";
    int rc = arbor_auth_reload(sec->auth, err, sizeof err);
    if (rc == 0 && (rc = arbor_tls_reload(sec->tls, err, sizeof err)) != 0)
        what = "tls";
    if (rc == 0 && (rc = limits_reload(sec->limits, err, sizeof err)) != 0)
        what = "tenant_limits";
    if (rc != 0)
        arbor_error("reload_failed", "what=%s error=\"%s\" action=kept_previous", what, err);
    else
        arbor_log_lifecycle("reloaded", "what=auth,tls,tenant_limits");
}

/* Connections are files: a gRPC one takes two (ours is a dup, to see it close;
 * and a closed one may linger until gRPC lets go), an HTTP one one. */
static void check_fd_limit(const collector_config_t *cfg)
{
    uint64_t limit = arbor_raise_fd_limit(), need = 5 * (uint64_t)cfg->max_connections + 256;
    if (limit < need)
        arbor_warn("open_file_limit_low", "limit=%llu max_connections=%lld needs=%llu advice=\"raise LimitNOFILE / "
                   "ulimit -n, or lower ARBOR_MAX_CONNECTIONS\"",
                   (unsigned long long)limit, (long long)cfg->max_connections, (unsigned long long)need);
}

int main(int argc, char **argv)
{
    collector_config_t cfg;
    arbor_store_t *store = NULL;
    writer_t *writer = NULL;
    otlp_http_server_t *http = NULL;
    otlp_grpc_receiver_t *grpc = NULL;
    security_t sec;
    char http_addr[160], grpc_addr[160];

    arbor_cfg_result_t r = arbor_config_parse(&collector_config_table, &cfg, argc, argv);
    if (r != ARBOR_CFG_RUN)
        return r == ARBOR_CFG_EXIT_OK ? 0 : 2;
    arbor_log_level = cfg.log_level;
    arbor_log_warn_if_root("arbor-collector");

    /* every thread inherits this mask; the main thread alone takes the signals */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (security_open(&cfg, &sec) != 0)
        return 2;
    check_fd_limit(&cfg);
    const char **keys = (const char **)arbor_split_list(cfg.execution_id_keys, ", ");
    /* in the order of the span-compression choices: lz4, zstd, none */
    static const arbor_span_codec_t codecs[] = {ARBOR_SPAN_LZ4, ARBOR_SPAN_ZSTD, ARBOR_SPAN_PLAIN};
    ingest_options_t ingest = {
        .execution_id_keys = keys, .span_codec = codecs[cfg.span_compression], .capture_content = cfg.capture_content,
        .arena_limit = INGEST_ARENA_PER_BODY_BYTE * cfg.max_request_bytes + INGEST_ARENA_BASE_BYTES,
        .redactor = sec.redactor};
    int rc = start_store(&cfg, sec.limits, &store, &writer) != 0 ? 1 : 0;
    if (rc == 0 && start_receivers(&cfg, &ingest, writer, &sec, &http, &grpc, http_addr, grpc_addr,
                                   sizeof http_addr) != 0) {
        stop_writer(writer);
        arbor_store_close(store);
        rc = 1;
    }
    if (rc != 0) {
        security_close(&sec);
        free(keys);
        return rc;
    }
    arbor_log_lifecycle("ready", "otlp_http=%s otlp_grpc=%s data_dir=%s sync=%s version=%s", http_addr, grpc_addr,
                        cfg.data_dir, cfg.sync == 1 ? "none" : "commit", ARBOR_VERSION);

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        reload(&sec);
    arbor_log_lifecycle("shutdown", "signal=%d", sig);
    /* receivers first (they finish what is in flight), then the writer drains */
    if (grpc != NULL)
        otlp_grpc_stop(grpc);
    if (http != NULL)
        otlp_http_stop(http);
    stop_writer(writer);
    arbor_store_close(store);
    security_close(&sec);
    free(keys);
    return 0;
}
