/* Live trace updates over WebSocket (HTTP/1.1 upgrade). The store's change feed
 * drives them: the event loop polls the writer's last transaction ID (a few
 * nanoseconds, no lock) and, when it moved, reads the feed entries after the last
 * sequence handled and sends each subscriber the spans of its traces. */
#ifndef ARBOR_QUERY_LIVE_H
#define ARBOR_QUERY_LIVE_H

#include "trace.h"

#include "h2o.h"

typedef struct {
    uint64_t quiet_ms;        /* complete: root arrived and no span for this long */
    uint64_t ping_ms;         /* ping a connection idle for this long */
    size_t max_queued_bytes;  /* a client further behind ... */
    uint64_t slow_ms;         /* ... for this long, draining less than that meanwhile, is closed with 1013 */
    size_t max_subscribers;
    uint64_t poll_ms;         /* how often the store's last transaction is polled */
    const trace_options_t *render;
    arbor_store_t *(*store)(void);
} live_options_t;

void live_init(const live_options_t *o);

/** Who subscribes: the tenant whose data the stream carries (copied), and when
 *  the stream must close with 4401 because its token is no longer valid. */
typedef struct {
    arbor_iov_t tenant;
    uint64_t close_after_s; /**< Unix seconds; 0: never */
} live_caller_t;

/**
 * Upgrade @p req to a WebSocket subscription to an execution (@p trace_id NULL)
 * or a trace. @p since: send only what changed after that sequence (has_since),
 * else the whole tree first. The caller has checked the handshake and HTTP/1.1.
 * @return 0 when upgraded; ARBOR_EBUSY when at max subscribers; ENOMEM.
 */
int live_subscribe(h2o_req_t *req, const char *ws_key, const live_caller_t *caller, arbor_iov_t execution_id,
                   const uint8_t *trace_id, int has_since, uint64_t since);

/** Deliver what committed since the last call; returns the loop wait (ms) to use next. */
int32_t live_tick(void);
size_t live_subscribers(void);
/** Close every subscription (1001 going away). */
void live_shutdown(void);

#endif
