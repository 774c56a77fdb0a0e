/* arbor-collector settings: the struct and its declarative table. */
#ifndef ARBOR_COLLECTOR_CONFIG_H
#define ARBOR_COLLECTOR_CONFIG_H

#include "arbor/auth.h"
#include "arbor/config.h"
#include "arbor/tls.h"

typedef struct {
    const char *data_dir;
    arbor_addr_t otlp_http_addr;
    arbor_addr_t otlp_grpc_addr;
    const char *execution_id_keys;
    uint64_t map_size;
    int sync;
    int span_compression; /* 0 lz4, 1 zstd, 2 none */
    int capture_content;
    const char *redact;          /* built-in rules */
    const char *redact_patterns; /* PCRE2 file */
    const char *redact_keys;     /* key globs */
    const char *tenant_limits;   /* per-tenant limits file */
    int64_t tenant_buckets;      /* most tenants' buckets kept */
    uint64_t retention_ms;
    uint64_t announce_ttl_ms;
    uint64_t reader_check_ms;
    uint64_t max_request_bytes;
    int log_level;
    int64_t http_threads;
    int64_t grpc_threads;
    int64_t max_queue_spans;
    uint64_t commit_interval_ms;
    int64_t max_connections; /* per receiver */
    uint64_t grpc_max_connection_idle_ms, grpc_max_connection_age_ms, grpc_max_connection_age_grace_ms;
    uint64_t grpc_keepalive_time_ms;
    arbor_auth_config_t auth; /* SPEC §8: the auth library's settings */
    arbor_tls_config_t tls;
} collector_config_t;

extern const arbor_cfg_table_t collector_config_table;

#endif
