#include "config.h"

#include "arbor/log.h"
#include "prices.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define F(field) offsetof(query_config_t, field)
static const arbor_cfg_entry_t entries[] = {
    {"data-dir", ARBOR_CFG_STRING, "./data", F(data_dir),
     "LMDB environment directory written by arbor-collector (opened read-only).", NULL, 0, 0},
    {"query-addr", ARBOR_CFG_ADDR, "127.0.0.1:3200", F(query_addr), "Query API listener.", NULL, 0, 0},
    {"map-size", ARBOR_CFG_SIZE, "16GiB", F(map_size), "LMDB map size (at least the collector's).", NULL,
     1 << 20, INT64_MAX},
    {"preview-max-length", ARBOR_CFG_INT, "512", F(preview_max_length),
     "Characters kept of prompt/response/message values in tree responses (the span endpoint returns them "
     "whole).",
     NULL, 1, 1 << 20},
    {"artifact-url-template", ARBOR_CFG_STRING, "/api/artifacts/{id}/download", F(artifact_url_template),
     "How artifact IDs become download links (`{id}` is replaced, URL-encoded).", NULL, 0, 0},
    {"artifact-url-secret", ARBOR_CFG_STRING, NULL, F(artifact_url_secret),
     "Sign download links: each `download_url` gets `?tenant=&exp=&sig=` (HMAC-SHA256 over tenant, artifact ID "
     "and expiry), and `/api/artifacts/{id}/download` accepts a valid, unexpired signature instead of a bearer "
     "token (the Canvas opens links as plain navigations).",
     NULL, 0, 0},
    {"artifact-url-ttl", ARBOR_CFG_DURATION, "15m", F(artifact_url_ttl_ms),
     "How long a signed download link stays valid.", NULL, 1000, 604800000},
    {"artifact-upstream", ARBOR_CFG_STRING, NULL, F(artifact_upstream),
     "Base URL of the workflow backend; when set, `/api/artifacts/*` is reverse-proxied to it.", NULL, 0, 0},
    {"artifact-forward-credentials", ARBOR_CFG_BOOL, "false", F(artifact_forward_credentials),
     "Forward the caller's `Authorization` and `Cookie` headers to `artifact-upstream` (only GET and HEAD of "
     "`/api/artifacts/{id}/download` are ever proxied). Off: the upstream sees no credentials of Arbor's callers.",
     NULL, 0, 0},
    {"trace-links", ARBOR_CFG_STRING, NULL, F(trace_links),
     "`Name=https://…{trace_id}…` pairs, comma separated: links to external dashboards "
     "(`{execution_id}` works too).",
     NULL, 0, 0},
    {"cors-origins", ARBOR_CFG_STRING, "http://localhost:5173,http://127.0.0.1:5173", F(cors_origins),
     "Browser origins allowed to call the API, comma separated. A listed origin is echoed back with "
     "`Access-Control-Allow-Credentials: true`; `*` answers `Access-Control-Allow-Origin: *` and never allows "
     "credentials, so no foreign page can read an answer sent with the user's cookies or HTTP auth.",
     NULL, 0, 0},
    {"allowed-hosts", ARBOR_CFG_STRING, NULL, F(allowed_hosts),
     "Host names (the Host header, port aside) the query service answers, comma separated; `*` for any. "
     "Unset: when the listener is a loopback address, only `localhost`, `127.0.0.1` and `::1` (a web page "
     "cannot reach a local install through DNS rebinding); otherwise any.",
     NULL, 0, 0},
    {"live-quiet", ARBOR_CFG_DURATION, "3s", F(live_quiet_ms),
     "A live stream says `complete: true` once the root span has arrived and no span came for this long.",
     NULL, 0, 0},
    {"live-ping-interval", ARBOR_CFG_DURATION, "20s", F(live_ping_ms),
     "Idle WebSocket connections get a ping this often.", NULL, 100, 3600000},
    {"live-max-queued-bytes", ARBOR_CFG_SIZE, "8MiB", F(live_max_queued_bytes),
     "A live client further behind than this for `live-slow-timeout`, having drained less than this "
     "meanwhile, is closed with code 1013 instead of buffered without bound; at 16 times this (64 MiB at "
     "least), at once.",
     NULL, 4096, (int64_t)1 << 32},
    {"live-slow-timeout", ARBOR_CFG_DURATION, "5s", F(live_slow_timeout_ms),
     "How long a live client may stay behind (see `live-max-queued-bytes`) without catching up.", NULL, 10,
     3600000},
    {"live-max-subscribers", ARBOR_CFG_INT, "10000", F(live_max_subscribers),
     "Concurrent live subscriptions; more are refused with 503.", NULL, 1, 1000000},
    {"live-poll-interval", ARBOR_CFG_DURATION, "5ms", F(live_poll_ms),
     "While anyone is subscribed, how often the store is polled for new commits (a few nanoseconds each: "
     "the writer's last transaction ID). Requests wake the loop too.",
     NULL, 1, 60000},
    {"search-timeout", ARBOR_CFG_DURATION, "10s", F(search_timeout_ms),
     "How long a Tempo search (or a TraceQL-filtered trace) may run. Past it, a search answers what it "
     "found with `\"partial\": true`; a filtered trace answers 503. Every regular-expression match is "
     "bounded too (PCRE2 match limit; JIT where available).",
     NULL, 1, 3600000},
    {"search-threads", ARBOR_CFG_INT, "2", F(search_threads),
     "Threads running searches and filtered traces, so that health checks and every other request are "
     "answered while they run.",
     NULL, 1, 64},
    {"tree-cache-size", ARBOR_CFG_SIZE, "64MiB", F(tree_cache_size),
     "Memory for span trees of large traces (1,000 spans or more) kept between requests: the pages and the "
     "skeleton of an unchanged trace reuse one tree instead of reading every span again. A trace that changes "
     "gets a new tree; the least recently used go first. 0 turns the cache off.",
     NULL, 0, (int64_t)1 << 40},
    {"block-cache-size", ARBOR_CFG_SIZE, "64MiB", F(block_cache_size),
     "Memory for decompressed span blocks (docs/storage.md), shared by every request: the pages, skeleton and "
     "Tempo answer of a trace decompress each of its blocks once. Blocks over a quarter of this are not kept.",
     NULL, 1 << 20, (int64_t)1 << 40},
    {"shards", ARBOR_CFG_STRING, NULL, F(shards),
     "Federation (docs/scaling.md): the query URLs of the shards, comma separated (`http://shard-0:3200,…`). "
     "Set, this service reads no store: every API route asks each shard in parallel and merges the answers. "
     "Credentials and `X-Scope-OrgID` are forwarded, so shards check them again.",
     NULL, 0, 0},
    {"shard-timeout", ARBOR_CFG_DURATION, "5s", F(shard_timeout_ms),
     "How long federation waits for the shards, for the whole request: every page and every fan-out of it. A "
     "shard that fails or takes longer is left out and the answer says `\"partial\": true`; "
     "`arbor_shard_errors_total` counts it.",
     NULL, 10, 600000},
    {"shard-max-bytes", ARBOR_CFG_SIZE, "64MiB", F(shard_max_bytes),
     "The longest answer federation reads from a shard. Past it the shard's answer is dropped as it arrives (the "
     "answer says `\"partial\": true`; `arbor_shard_errors_total{reason=\"too_large\"}`): one shard cannot grow "
     "the federating process by more than this per request it answers.",
     NULL, 4096, (int64_t)1 << 40},
    {"shard-threads", ARBOR_CFG_INT, "128", F(shard_threads),
     "Federated requests worked on at once. Each waits for the shards on a thread of its own (started when first "
     "needed, not one of `search-threads`), so a shard that hangs delays no other request until this many wait "
     "on it; more wait for a thread.",
     NULL, 1, 4096},
    {"shard-ca-file", ARBOR_CFG_STRING, NULL, F(shard_ca_file),
     "PEM CA bundle to verify `https://` shards with (default: the system's).", NULL, 0, 0},
    {"prices", ARBOR_CFG_STRING, NULL, F(prices),
     "Price table for the Trace tab's cost figures: a file of `model-glob input output` lines, prices per million "
     "tokens (first matching glob wins; an optional `currency CODE` line, default USD; deploy/prices.example). "
     "Served at `/api/prices`; re-read on SIGHUP.",
     NULL, 0, 0},
    {"log-level", ARBOR_CFG_ENUM, "info", F(log_level), "Log verbosity.", arbor_log_level_names, 0, 0},
    ARBOR_AUTH_CFG_ROWS(query_config_t, auth),
    ARBOR_TLS_CFG_ROWS(query_config_t, tls),
};

/* ARBOR_TRACE_LINKS: Name=URL pairs, comma separated, each URL http(s) or a
 * path; a malformed item is an error, not a link silently dropped. */
static int check_trace_links(const char *links, char *err, size_t errlen)
{
    for (const char *p = links; p != NULL && *p;) {
        const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t len = (size_t)(stop - p);
        const char *url = eq ? eq + 1 : NULL;
        size_t url_len = url ? (size_t)(stop - url) : 0;
        if (len > 0 && (eq == NULL || eq == p ||
                        !(strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0 || url[0] == '/') ||
                        url_len > 1000 || (size_t)(eq - p) > 63)) {
            snprintf(err, errlen,
                     "ARBOR_TRACE_LINKS: '%.*s' is not Name=URL (an http(s):// URL or a /path, {trace_id} and "
                     "{execution_id} filled in)",
                     (int)(len > 100 ? 100 : len), p);
            return -1;
        }
        p = comma ? comma + 1 : stop;
    }
    return 0;
}

static int check_prices(const char *path, char *err, size_t errlen)
{
    prices_t *p;
    if (prices_load(path, &p, err, errlen) != 0)
        return -1;
    prices_free(p);
    return 0;
}

static int validate(const void *p, char *err, size_t errlen)
{
    const query_config_t *c = p;
    if (!c->query_addr.enabled) {
        snprintf(err, errlen, "ARBOR_QUERY_ADDR: off is not allowed (the query service is its listener)");
        return -1;
    }
    /* federated: no local store to read */
    int local = c->shards == NULL || c->shards[0] == '\0';
    return (local && arbor_config_check_dir("ARBOR_DATA_DIR", c->data_dir, 0, err, errlen) != 0) ||
                   arbor_auth_validate(&c->auth, err, errlen) != 0 ||
                   arbor_tls_validate(&c->tls, err, errlen) != 0 ||
                   arbor_config_check_mappable("ARBOR_MAP_SIZE", c->map_size, err, errlen) != 0 ||
                   check_trace_links(c->trace_links, err, errlen) != 0 || check_prices(c->prices, err, errlen) != 0
               ? -1
               : 0;
}

const arbor_cfg_table_t query_config_table = {
    "arbor-query", "Serves span trees and trace lookups from the store arbor-collector writes.", entries,
    sizeof entries / sizeof entries[0], sizeof(query_config_t), validate};
