/* Federation (SPEC §9): with ARBOR_SHARDS set, arbor-query reads no store and
 * answers every tenant route by asking each shard's arbor-query in parallel
 * and merging the answers: trees rebuilt over every shard's spans (cursors keep
 * the single-store form), lists and Tempo searches merged newest first and cut
 * at their limit, tag catalogs united, a span or trace from whichever shard has
 * it. A shard that fails or does not answer within ARBOR_SHARD_TIMEOUT leaves
 * the answer 200 with "partial": true; /metrics counts errors per shard.
 *
 * A bad shard costs only itself: the whole request (every page and fan-out of
 * it) ends by one deadline, ARBOR_SHARD_TIMEOUT after it started; an answer
 * over ARBOR_SHARD_MAX_BYTES is cut off; an answer that is not what the route
 * returns (malformed JSON, members of the wrong type) is left out. Each of
 * these makes its shard one that did not answer ("partial": true).
 *
 * Threads: fed_init/fed_shutdown on the loop thread; fed_serve runs on a worker
 * thread (it blocks on the shards: worker.c gives these jobs threads of their
 * own, so they queue behind no one) and keeps one connection cache per thread.
 * Ownership: a fed_request_t is plain data (copied into the worker job); the
 * answer goes into the caller's writer. */
#ifndef ARBOR_QUERY_FED_H
#define ARBOR_QUERY_FED_H

#include "jsonw.h"

#include <stddef.h>
#include <stdint.h>

#define FED_MAX_SHARDS 64

/** How a route is answered under federation: every route of the table names one. */
typedef enum {
    FED_LOCAL = 0,   /* answered here as without federation (health, UI, echo, artifacts) */
    FED_EXECUTIONS,  /* /api/executions: merged newest first, one entry per execution */
    FED_TRACES,      /* /api/traces */
    FED_TREE,        /* TraceResponse pages, by execution or trace */
    FED_SKELETON,    /* skeleton pages */
    FED_SPAN,        /* one span: the first shard that has it */
    FED_TEMPO_TRACE, /* Tempo trace by ID, v1 and v2, JSON or protobuf */
    FED_SEARCH,      /* Tempo search */
    FED_TAGS,        /* tag names, v1 and v2 */
    FED_TAG_VALUES,  /* tag values, v1 and v2 */
    FED_LIVE,        /* live WebSockets */
} fed_route_t;

typedef struct {
    fed_route_t route;
    int v2;                 /* Tempo routes: the v2 shape */
    char path[8192];        /* path and query string as the client sent them */
    char authorization[8192]; /* forwarded as is ("" = none) */
    char org[256];          /* X-Scope-OrgID as sent ("" = none) */
    char accept[256];
    uint64_t deadline_ns;        /* monotonic; 0: fed_serve sets it ARBOR_SHARD_TIMEOUT ahead */
    const volatile int *cancel;  /* non-zero: stop asking and answer (shutdown); may be NULL */
    /* the answer */
    int status;
    char type[64];
} fed_request_t;

/** @p shards: comma-separated base URLs (http:// or https://); a shard answer
 *  longer than @p max_bytes is a failed one. 0, or -1 with @p err. */
int fed_init(const char *shards, uint64_t timeout_ms, uint64_t max_bytes, const char *ca_file, char *err,
             size_t errlen);
/** Non-zero when ARBOR_SHARDS is set. */
int fed_enabled(void);
void fed_shutdown(void);

/** Non-zero when @p v may be sent as a header value (no CR or LF: it cannot end the line). */
int fed_header_value_ok(const char *v);
/** Fan @p r out and merge the answers into @p out; sets r->status and r->type.
 *  Worker threads only. */
void fed_serve(fed_request_t *r, jsonw_t *out);

/** Append the per-shard counters to /metrics (Prometheus text). */
void fed_metrics(jsonw_t *w);

#endif
