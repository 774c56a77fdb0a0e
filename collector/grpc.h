/* OTLP/gRPC receiver on gRPC C core: opentelemetry.proto.collector.trace.v1.
 * TraceService/Export, answered only after the spans have committed. */
#ifndef ARBOR_COLLECTOR_GRPC_H
#define ARBOR_COLLECTOR_GRPC_H

#include "arbor/config.h"
#include "arbor/tls.h"
#include "ingest.h"
#include "tenant_limits.h"
#include "writer.h"

typedef struct otlp_grpc_receiver otlp_grpc_receiver_t;

typedef struct {
    arbor_addr_t addr;
    int threads;              /* completion-queue threads */
    size_t max_request_bytes; /* decompressed message limit (RESOURCE_EXHAUSTED above) */
    const ingest_options_t *ingest;
    writer_t *writer;
    arbor_auth_t *auth; /* who may write, and as which tenant (SPEC §8) */
    arbor_tls_t *tls;   /* NULL: plaintext */
    limits_t *limits;   /* per-tenant span rate (NULL: none) */
    /* connection bounds (SPEC §8): idle, age (then a grace for calls in flight),
     * keepalive pings; all in ms, 0 for none. The cap holds for plaintext, where
     * this receiver accepts (accept_cap.h); gRPC's TLS listener has none. */
    uint64_t max_connection_idle_ms, max_connection_age_ms, max_connection_age_grace_ms, keepalive_time_ms;
    size_t max_connections;
} otlp_grpc_options_t;

/** Start the server. Call before any other thread is created with signals unblocked
 *  (gRPC spawns threads that inherit the caller's signal mask). */
int otlp_grpc_start(const otlp_grpc_options_t *opts, otlp_grpc_receiver_t **out, uint16_t *bound_port);
/** Refuse new calls, finish the ones in flight (their spans commit and are
 *  answered), then stop and free. */
void otlp_grpc_stop(otlp_grpc_receiver_t *r);

#endif
