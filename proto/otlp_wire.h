/* Private to proto/ and its tests: the wire decoder and the protobuf-c decoder
 * it stands beside. No generated header here, so tests can include it. */
#ifndef ARBOR_OTLP_WIRE_H
#define ARBOR_OTLP_WIRE_H

#include "otlp.h"

/* Binary OTLP decoded straight into views (otlp_wire.c). Spans get pb = NULL and
 * their bytes as received; resources and scopes get pb as protobuf-c's. 0,
 * ENOMEM, or OTLP_WIRE_FALLBACK: the input is outside the shape this decoder
 * reads exactly as protobuf-c does (malformed ones included), and the caller
 * decodes it with protobuf-c, which also gives the error. */
#define OTLP_WIRE_FALLBACK ARBOR_ENOTSUP
int otlp_wire_request(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out);
int otlp_wire_span(arbor_arena_t *arena, arbor_iov_t bytes, otlp_span_t *out);
/* The protobuf-c decoder alone (otlp_request_decode() without the wire path):
 * the fallback, and the reference test_otlp_wire.c compares the wire path with. */
int otlp_request_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out, char *err,
                            size_t errlen);
int otlp_span_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_span_t *out);

/* Give a wire-path span its protobuf-c message (unpacked from s->wire), for a
 * change that must be encoded again. 0, ENOMEM or ARBOR_EDECODE. */
int otlp_span_ensure_pb(arbor_arena_t *arena, otlp_span_t *s);
#endif
