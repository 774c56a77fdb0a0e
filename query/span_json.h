/* One stored span as JSON: the Orcheo TraceSpanResponse shape plus additive
 * fields, with prompt/response/message values cut to a preview, artifacts, and a
 * full mode (every value whole, resource, scope) for the span endpoint. */
#ifndef ARBOR_QUERY_SPAN_JSON_H
#define ARBOR_QUERY_SPAN_JSON_H

#include "arbor/store.h"
#include "jsonw.h"
#include "otlp.h"

typedef struct {
    size_t preview_max;                /* code points kept of content values; 0 = keep all */
    const char *artifact_url_template; /* "{id}" is replaced by the URL-encoded artifact ID */
    const char *link_secret;           /* ARBOR_ARTIFACT_URL_SECRET: links signed, expiring (NULL: plain) */
    uint64_t link_ttl_s;               /* how long a signed link is good for */
    const char *tenant;                /* whose links these are: named and signed in them */
} span_render_t;

/** Extra facts about the span, written as additive fields. */
typedef struct {
    int has_tree;                   /* child_count and depth are known */
    uint32_t child_count, depth;
    int replaces_placeholder;       /* the client holds a placeholder with this ID: say it no longer is one */
    arbor_iov_t service;            /* base != NULL: "service", its resource's service.name (live frames) */
} span_extra_t;

/** The service.name of resource records, the last few remembered (a trace has
 * few resources: a page or a live tick reads and decodes each once). */
typedef struct {
    struct {
        uint64_t ref;
        char name[128];
        size_t len;
        int used;
    } svc[8];
    size_t next;
} span_services_t;

/** The service.name of @p resource_ref ("" if it has none), valid while @p c
 * is and until 8 other resources were asked for (@p arena: scratch). */
arbor_iov_t span_json_service(span_services_t *c, arbor_reader_t *r, uint64_t resource_ref, arbor_arena_t *arena);

void span_json_value(jsonw_t *w, const otlp_value_t *v);
void span_json_attrs(jsonw_t *w, const otlp_attrs_t *attrs);

/** Write one span (arena = scratch for decoding, reset by the caller). */
void span_json_write(jsonw_t *w, arbor_arena_t *arena, const arbor_span_rec_t *rec, const span_render_t *o,
                     const span_extra_t *extra);

/** Everything about one span, values whole: resource, scope, dropped counts, states. */
void span_json_full(jsonw_t *w, arbor_arena_t *arena, arbor_reader_t *r, const arbor_span_rec_t *rec,
                    const span_render_t *o);

/** A placeholder for a parent that has not arrived. */
void span_json_placeholder(jsonw_t *w, const arbor_span_rec_t *rec, const span_extra_t *extra);

/** Bytes as a standard base64 JSON string. */
void span_json_base64(jsonw_t *w, arbor_iov_t bytes);
/** {"input": in, "output": out} under @p key. */
void span_json_tokens(jsonw_t *w, const char *key, int64_t in, int64_t out);
/** "UNSET" / "OK" / "ERROR", and "INTERNAL", "SERVER", … (unknown values: the first). */
const char *span_json_status_name(int code);
const char *span_json_kind_name(int kind);
/** Start shown for a span: Orcheo's zero-length node spans last their latency. */
uint64_t span_json_shown_start(const arbor_span_rec_t *rec);

#endif
