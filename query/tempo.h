/* The Grafana Tempo datasource API (reference/tempo-jaeger.md §1): echo,
 * buildinfo, trace by ID (v1, v2), search (TraceQL or tags), tag names and
 * values (v1, v2). Renders bodies from one read snapshot. */
#ifndef ARBOR_QUERY_TEMPO_H
#define ARBOR_QUERY_TEMPO_H

#include "arbor/store.h"
#include "jsonw.h"

typedef enum { TEMPO_JSON, TEMPO_PROTOBUF } tempo_format_t;

/** Parse a Tempo trace ID: hex, at most 32 characters, left-padded. 0 or -1. */
int tempo_parse_trace_id(arbor_iov_t hex, uint8_t id[16]);

/** How long a query may run: TraceQL evaluation stops past @p deadline_ns
 *  (arbor_mono_ns(); 0: none) or once *cancel is non-zero (NULL: never). */
typedef struct {
    uint64_t deadline_ns;
    const volatile int *cancel;
} tempo_budget_t;

typedef struct {
    int v2;
    tempo_format_t format;
    uint64_t start_s, end_s; /* 0: unbounded */
    arbor_iov_t q;           /* v2: spanset filter (empty: all) */
    tempo_budget_t budget;
} tempo_trace_params_t;

/**
 * Trace by ID. @p body receives JSON text or protobuf bytes (caller frees with
 * jsonw_free). @return 0, ARBOR_ENOTFOUND (v1 only: v2 renders an empty trace),
 * ARBOR_EDECODE with @p err for a bad q, ARBOR_ETIMEDOUT with @p err when q ran
 * out of its budget.
 */
int tempo_trace(arbor_reader_t *r, const uint8_t id[16], const tempo_trace_params_t *p, jsonw_t *body, char *err,
                size_t errlen);

typedef struct {
    arbor_iov_t q, tags;      /* TraceQL or logfmt; at most one */
    uint64_t min_ns, max_ns;  /* trace duration bounds; max 0 = none */
    size_t limit, spss;
    uint64_t start_s, end_s;  /* window on trace start; 0 = unbounded */
    tempo_budget_t budget;
} tempo_search_params_t;

/** Search. ARBOR_EDECODE with @p err (400) for a bad query. A search that runs
 *  out of its budget answers what it found so far with "partial": true (and
 *  why, in "partialReason"); traces a regex gave up on are left out. */
int tempo_search(arbor_reader_t *r, const tempo_search_params_t *p, jsonw_t *w, char *err, size_t errlen);

typedef struct {
    int v2;
    const char *scope;       /* tags: NULL (every scope; v1: span and resource), "resource", "span", "event",
                                "link", "intrinsic" */
    arbor_iov_t tag;         /* tag values: the (decoded) path segment: span.x, resource.x, event.x, link.x, .x,
                                x, name, status, kind */
    size_t limit;            /* names per list / values, at most */
    arbor_iov_t q;           /* TraceQL: only the spans it matches count. Empty, matching every span, or not
                                parsing (Grafana sends half-typed ones): the tag catalog answers */
    uint64_t start_s, end_s; /* with q: window on trace start, as search's; 0 = unbounded */
    tempo_budget_t budget;   /* with q: as search's */
} tempo_tags_params_t;

/** /api/search/tags (v1: tagNames) and /api/v2/search/tags (scopes). With q, a
 *  walk cut short by the budget answers what it found with "partial": true. */
int tempo_tags(arbor_reader_t *r, const tempo_tags_params_t *p, jsonw_t *w);

/** /api/search/tag/{tag}/values and /api/v2/…: v1 strings, v2 typed values. */
int tempo_tag_values(arbor_reader_t *r, const tempo_tags_params_t *p, jsonw_t *w);

#endif
