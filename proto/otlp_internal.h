/* Private to proto/: short names for the generated types and the shared
 * protobuf-c <-> view conversion used by both decoders. */
#ifndef ARBOR_OTLP_INTERNAL_H
#define ARBOR_OTLP_INTERNAL_H

#include "otlp.h"
#include "otlp_wire.h"

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_t;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array_t;
typedef Opentelemetry__Proto__Common__V1__KeyValueList pb_kvlist_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope_t;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans_t;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans_t;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link_t;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status_t;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request_t;

/* protobuf-c allocator that draws from an arena (free is a no-op). */
ProtobufCAllocator otlp_arena_allocator(arbor_arena_t *arena);

/* Convert a decoded request tree into views. 0, ENOMEM or ARBOR_EDECODE (too deep). */
int otlp_request_from_pb(arbor_arena_t *arena, const pb_request_t *req, otlp_request_t *out);

/* Parse OTLP/JSON into generated structs allocated in the arena. */
int otlp_json_to_pb(arbor_arena_t *arena, const void *buf, size_t len, pb_request_t **out, char *err,
                    size_t errlen);

/* Where each span's bytes are in a binary request, in wire order (the order of
 * protobuf-c's repeated fields): ranges point into the request buffer. */
typedef struct {
    arbor_iov_t *items;
    size_t count, cap;
} otlp_wire_spans_t;

/* Check AnyValue nesting of a binary request without recursing past the limit
 * (protobuf-c itself has no depth limit and would exhaust the stack) and, when
 * @p spans is not NULL, note each span's byte range (arrays in @p arena).
 * 0, ARBOR_EDECODE (malformed), ARBOR_ETOOBIG (too deep) or ENOMEM. */
int otlp_scan(const uint8_t *buf, size_t len, int max_depth, arbor_arena_t *arena, otlp_wire_spans_t *spans);

/* The GenAI conventions, generated from proto/genai_conventions.json (genai_gen.py). */
typedef struct {
    const char *in, *out;
} otlp_token_pair_t;
extern const otlp_token_pair_t otlp_token_pairs[]; /* the first pair a span carries wins */
extern const size_t otlp_n_token_pairs;
extern const char *const otlp_content_keys[]; /* a key and anything below it */
extern const size_t otlp_n_content_keys;
extern const char *const otlp_content_events[];
extern const size_t otlp_n_content_events;

#endif
