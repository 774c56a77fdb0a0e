/* OTLP/HTTP receiver on h2o: POST /v1/traces over HTTP/1.1 and h2c, one event
 * loop per thread, each request answered only after its spans have committed. */
#ifndef ARBOR_COLLECTOR_HTTP_H
#define ARBOR_COLLECTOR_HTTP_H

#include "arbor/config.h"
#include "arbor/tls.h"
#include "ingest.h"
#include "tenant_limits.h"
#include "writer.h"

typedef struct otlp_http_server otlp_http_server_t;

typedef struct {
    arbor_addr_t addr;
    int threads;
    size_t max_request_bytes;
    const ingest_options_t *ingest;
    writer_t *writer;
    arbor_auth_t *auth; /* who may write, and as which tenant (SPEC §8) */
    arbor_tls_t *tls;   /* NULL: plaintext */
    limits_t *limits;   /* per-tenant span rate (NULL: none) */
    size_t max_connections; /* open at once; past it accepting waits */
} otlp_http_options_t;

/** Bind and start the loop threads. @p bound_port receives the listening port. */
int otlp_http_start(const otlp_http_options_t *opts, otlp_http_server_t **out, uint16_t *bound_port);
/** Stop accepting, answer every request already handed to the writer, join threads. */
void otlp_http_stop(otlp_http_server_t *s);

#endif
