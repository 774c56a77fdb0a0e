/* One stored span as JSON in the Orcheo TraceSpanResponse shape (plus additive
 * fields), and OTLP values as plain JSON. */
#ifndef ARBOR_QUERY_SPAN_JSON_H
#define ARBOR_QUERY_SPAN_JSON_H

#include "arbor/store.h"
#include "jsonw.h"
#include "otlp.h"

/** An OTLP AnyValue as plain JSON (bytes as base64). */
void span_json_value(jsonw_t *w, const otlp_value_t *v);
/** Attributes as a JSON object (key order kept). */
void span_json_attrs(jsonw_t *w, const otlp_attrs_t *attrs);

/**
 * Write one span. @p rec comes from the store; @p arena is scratch for decoding
 * (the caller resets it). A span whose bytes do not decode is still written
 * from its header, with attribute `arbor.decode_error`.
 */
void span_json_write(jsonw_t *w, arbor_arena_t *arena, const arbor_span_rec_t *rec);

/** A placeholder for a parent that has not arrived: ID, children's time range. */
void span_json_placeholder(jsonw_t *w, const uint8_t trace_id[16], const uint8_t span_id[8], uint64_t start_ns,
                           uint64_t end_ns);

#endif
