/* arbor-collector: parse settings, open the store, start the writer and the
 * receivers, wait for SIGINT/SIGTERM, then shut down losing nothing acknowledged. */
#include "config.h"
#include "grpc.h"
#include "http.h"
#include "ingest.h"
#include "writer.h"

#include "arbor/log.h"
#include "arbor/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    collector_config_t cfg;
    arbor_store_t *store = NULL;
    writer_t *writer = NULL;
    otlp_http_server_t *http = NULL;
    otlp_grpc_receiver_t *grpc = NULL;
    int status = 1, rc;

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
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char **keys = ingest_split_keys(cfg.execution_id_keys);
    /* in the order of the span-compression choices: lz4, zstd, none */
    static const arbor_span_codec_t codecs[] = {ARBOR_SPAN_LZ4, ARBOR_SPAN_ZSTD, ARBOR_SPAN_PLAIN};
    ingest_options_t ingest = {.execution_id_keys = keys, .span_codec = codecs[cfg.span_compression],
                               .capture_content = cfg.capture_content,
                               .arena_limit = INGEST_ARENA_PER_BODY_BYTE * cfg.max_request_bytes + INGEST_ARENA_BASE_BYTES};

    arbor_store_options_t so = {.path = cfg.data_dir, .map_size = cfg.map_size,
                                .sync = cfg.sync == 1 ? ARBOR_SYNC_NONE : ARBOR_SYNC_COMMIT};
    if ((rc = arbor_store_open(&so, &store)) != 0) {
        if (rc == ARBOR_ELOCKED)
            arbor_error("store_open_failed", "data_dir=%s error=\"%s\" holder_pid=%ld", cfg.data_dir,
                        arbor_strerror(rc), arbor_store_writer_pid(cfg.data_dir));
        else
            arbor_error("store_open_failed", "data_dir=%s error=\"%s\"", cfg.data_dir, arbor_strerror(rc));
        goto out;
    }
    writer_options_t wo = {.max_queue_spans = (size_t)cfg.max_queue_spans, .max_spans_per_commit = 50000,
                           .retention_ms = cfg.retention_ms, .reader_check_ms = cfg.reader_check_ms};
    if ((rc = writer_start(store, &wo, &writer)) != 0) {
        arbor_error("writer_start_failed", "error=\"%s\"", arbor_strerror(rc));
        goto out_store;
    }
    char http_addr[160] = "off";
    if (cfg.otlp_http_addr.enabled) {
        otlp_http_options_t ho = {.addr = cfg.otlp_http_addr, .threads = (int)cfg.http_threads,
                             .max_request_bytes = cfg.max_request_bytes, .ingest = &ingest, .writer = writer};
        uint16_t port;
        if (otlp_http_start(&ho, &http, &port) != 0)
            goto out_writer;
        arbor_addr_t bound = cfg.otlp_http_addr;
        bound.port = port;
        arbor_addr_format(&bound, http_addr, sizeof http_addr);
    }
    char grpc_addr[160] = "off";
    if (cfg.otlp_grpc_addr.enabled) {
        otlp_grpc_options_t go = {.addr = cfg.otlp_grpc_addr, .threads = (int)cfg.grpc_threads,
                             .max_request_bytes = cfg.max_request_bytes, .ingest = &ingest, .writer = writer};
        uint16_t port;
        if (otlp_grpc_start(&go, &grpc, &port) != 0)
            goto out_http;
        arbor_addr_t bound = cfg.otlp_grpc_addr;
        bound.port = port;
        arbor_addr_format(&bound, grpc_addr, sizeof grpc_addr);
    }
    arbor_log_lifecycle("ready", "otlp_http=%s otlp_grpc=%s data_dir=%s sync=%s version=%s", http_addr, grpc_addr,
               cfg.data_dir,
               cfg.sync == 1 ? "none" : "commit", ARBOR_VERSION);

    int sig = 0;
    sigwait(&sigs, &sig);
    arbor_log_lifecycle("shutdown", "signal=%d", sig);
    status = 0;
    if (grpc != NULL)
        otlp_grpc_stop(grpc);
out_http:
    if (http != NULL)
        otlp_http_stop(http);
out_writer:
    if (writer != NULL) {
        arbor_ingest_stats_t st;
        writer_get_stats(writer, &st);
        writer_stop(writer);
        arbor_log_lifecycle("writer_stopped", "requests=%llu spans_stored=%llu spans_rejected=%llu commits=%llu failures=%llu",
                   (unsigned long long)st.requests, (unsigned long long)st.spans_stored,
                   (unsigned long long)st.spans_rejected, (unsigned long long)st.commits,
                   (unsigned long long)st.write_failures);
    }
out_store:
    arbor_store_close(store);
out:
    free(keys);
    return status;
}
