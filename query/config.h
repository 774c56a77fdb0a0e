/* arbor-query settings: the struct and its declarative table. */
#ifndef ARBOR_QUERY_CONFIG_H
#define ARBOR_QUERY_CONFIG_H

#include "arbor/auth.h"
#include "arbor/config.h"
#include "arbor/tls.h"

typedef struct {
    const char *data_dir;
    arbor_addr_t query_addr;
    uint64_t map_size;
    int log_level;
    int64_t preview_max_length;
    const char *artifact_url_template;
    const char *artifact_url_secret;
    uint64_t artifact_url_ttl_ms;
    const char *artifact_upstream;
    int artifact_forward_credentials;
    const char *trace_links;
    const char *cors_origins;
    const char *allowed_hosts;
    uint64_t live_quiet_ms;
    uint64_t live_ping_ms;
    uint64_t live_max_queued_bytes;
    int64_t live_max_subscribers;
    uint64_t live_poll_ms;
    uint64_t live_slow_timeout_ms;
    uint64_t search_timeout_ms;
    int64_t search_threads;
    uint64_t tree_cache_size;
    uint64_t block_cache_size;
    const char *shards;
    uint64_t shard_timeout_ms;
    uint64_t shard_max_bytes;
    int64_t shard_threads;
    const char *shard_ca_file;
    const char *prices;
    arbor_auth_config_t auth; /* SPEC §8: the auth library's settings */
    arbor_tls_config_t tls;
} query_config_t;

extern const arbor_cfg_table_t query_config_table;

#endif
