/* TraceQL, the subset Grafana's Tempo datasource sends: spanset filters over
 * span./resource./unscoped attributes and the intrinsics, all comparison
 * operators (regex fully anchored, PCRE2), && || ! and parentheses inside a
 * filter, and && || >> > ~ << < between spansets. A real parser: errors say
 * where (column) and what was expected. */
#ifndef ARBOR_QUERY_TRACEQL_H
#define ARBOR_QUERY_TRACEQL_H

#include "arbor/store.h"
#include "otlp.h"

typedef struct tq_query tq_query_t;

/** Parse @p text. NULL on error, with a message naming the column in @p err. */
tq_query_t *tq_parse(arbor_iov_t text, char *err, size_t errlen);
void tq_free(tq_query_t *q);

/** Parse a single spanset filter (for /api/v2/traces?q=); pipelines and spanset
 *  operators are errors there. */
tq_query_t *tq_parse_filter(arbor_iov_t text, char *err, size_t errlen);

/** 1 when the query is one filter that matches every span ({} or { true }). */
int tq_matches_all(const tq_query_t *q);

/** An equality every matching trace must contain: tested against trace blooms. */
typedef struct {
    int span_or_resource; /**< unscoped attribute: either scope will do */
    arbor_attr_scope_t scope;
    arbor_iov_t key;
    arbor_attr_value_t value;
    arbor_bloom_probe_t probe, resource_probe; /* hashed once by tq_index_hints */
} tq_index_hint_t;
/** Up to @p max such equalities (all must hold); returns how many were filled. */
size_t tq_index_hints(const tq_query_t *q, tq_index_hint_t *hints, size_t max);
/** 1 unless the bloom proves the trace lacks one of the hinted values. */
int tq_hints_may_match(const tq_index_hint_t *hints, size_t n, const uint8_t *bloom);

/** One span as the evaluator sees it. Attributes are decoded lazily. */
typedef struct {
    const arbor_span_rec_t *rec;
    uint32_t parent;        /* index in the trace, or UINT32_MAX */
    const otlp_span_t *span;          /* NULL until decoded */
    const otlp_resource_t *resource;  /* NULL until decoded */
} tq_span_t;

typedef struct {
    tq_span_t *spans;       /* rec NULL: a placeholder (never matches a filter) */
    size_t n;
    const uint32_t *order;  /* a pre-order of spans (parents before children) */
    const arbor_trace_summary_t *summary;
    /* decoder for attributes; returns 0 when spans[i].span/resource are set */
    int (*decode)(void *ctx, size_t i);
    void *ctx;
    /* budget: evaluation gives up past deadline_ns (arbor_mono_ns(); 0: none) or
     * once *cancel is non-zero (NULL: never) */
    uint64_t deadline_ns;
    const volatile int *cancel;
    int aborted; /* TQ_ABORT_* once evaluation gave up: its result means nothing */
} tq_trace_t;

enum { TQ_ABORT_DEADLINE = 1, TQ_ABORT_REGEX = 2 };

/** Each regular-expression match may take this many backtracking steps before
 *  the evaluation gives up with TQ_ABORT_REGEX (PCRE2's match limit). */
#define TQ_REGEX_MATCH_LIMIT 100000

/** Does the query need span attributes (otherwise headers suffice)? */
int tq_needs_attributes(const tq_query_t *q);

/**
 * Evaluate over one trace. @p matched (n bytes) gets 1 for the spans in the
 * resulting spanset. @return the number of matched spans (0: no match, or the
 * budget ran out: t->aborted says which).
 */
size_t tq_eval(const tq_query_t *q, tq_trace_t *t, uint8_t *matched);

/** Attribute/intrinsic names the query references, for spanSet attributes:
 *  calls @p fn for each condition with the span's value. */
typedef void (*tq_field_fn)(void *ctx, arbor_iov_t name, const otlp_value_t *v);
void tq_span_fields(const tq_query_t *q, tq_trace_t *t, size_t i, tq_field_fn fn, void *ctx);

#endif
