/* Case-insensitive text search in decoded spans: Tempo's tag search and the
 * in-trace search ("matches" of a tree request) look the same way. ASCII case
 * folding; numbers and booleans as they print. */
#ifndef ARBOR_QUERY_TEXTMATCH_H
#define ARBOR_QUERY_TEXTMATCH_H

#include "otlp.h"

/** 1 if @p hay contains @p needle (an empty needle is everywhere). */
int text_contains(arbor_iov_t hay, arbor_iov_t needle);
/** 1 if the value's text (arrays and key-value lists: any item) contains @p needle. */
int text_value_contains(const otlp_value_t *v, arbor_iov_t needle);
/** 1 if the span's name, status message, an attribute key or value, an event's
 *  name or one of its attributes contains @p needle. */
int text_span_mentions(const otlp_span_t *s, arbor_iov_t needle);

#endif
