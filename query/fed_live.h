/* Federated live streams (SPEC §9): a client's WebSocket on the federating
 * query is fed by one upstream WebSocket per shard. Each shard's frames are
 * relayed as they come, with "seq" replaced by one resume cursor over every
 * shard ("f<seq0>.<seq1>…", given back as ?since=) and "complete" true only once
 * every shard holding spans of the stream has said so.
 *
 * Threads: everything here is called on the loop thread. Each subscription has
 * one thread of its own that holds the upstream connections (blocking connect
 * and handshake, then poll) and hands frames to the loop as messages.
 * Ownership: a subscription frees itself once its client is gone and its thread
 * has ended. */
#ifndef ARBOR_QUERY_FED_LIVE_H
#define ARBOR_QUERY_FED_LIVE_H

#include "h2o.h"

#include <stdint.h>

typedef struct {
    const char *path;          /* the stream's path without query: /api/executions/{id}/trace/live */
    const char *since;         /* the client's ?since= (NULL: whole tree from every shard) */
    const char *authorization; /* forwarded as is (may be empty) */
    const char *token;         /* a token from the subprotocol or ?access_token= (may be empty) */
    const char *org;           /* the tenant asked for (X-Scope-OrgID or ?org=; may be empty) */
    uint64_t close_after_s;    /* the caller's token expiry plus leeway (0: never): closed with 4401 */
} fed_live_params_t;

/** Start relaying for the loop @p loop (once). */
void fed_live_init(h2o_loop_t *loop, size_t max_subscribers, uint64_t ping_ms);
/** Upgrade @p req and start its upstreams. 0; ARBOR_EDECODE for a malformed
 *  since (nothing upgraded); ARBOR_EBUSY at the subscriber limit. */
int fed_live_subscribe(h2o_req_t *req, const char *ws_key, const fed_live_params_t *p);
/** Pings, token expiry, flushing: call from the loop. */
void fed_live_tick(void);
size_t fed_live_subscribers(void);
/** Close every stream (1001) and end the upstream threads. */
void fed_live_shutdown(h2o_loop_t *loop);

#endif
