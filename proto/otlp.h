/**
 * @file otlp.h
 * @brief Arbor's one OTLP codec API. Nothing outside proto/ includes generated
 *        protobuf-c headers; everything sees these plain views instead.
 *
 * Ownership: every view, string and array returned here lives in the caller's
 * arena (arbor_arena_t) and is released with it. Strings point into the arena,
 * never into the input buffer, so the input may be freed after decoding (the
 * one exception, otlp_span_t.wire, says so).
 * Strings are NOT validated as UTF-8 (renderers replace bad bytes).
 */
#ifndef ARBOR_OTLP_H
#define ARBOR_OTLP_H

#include "arbor/base.h"

#include <stdint.h>

typedef enum { OTLP_ENC_PROTOBUF = 0, OTLP_ENC_JSON = 1 } otlp_encoding_t;

typedef enum {
    OTLP_VALUE_EMPTY = 0,
    OTLP_VALUE_STRING,
    OTLP_VALUE_BOOL,
    OTLP_VALUE_INT,
    OTLP_VALUE_DOUBLE,
    OTLP_VALUE_ARRAY,
    OTLP_VALUE_KVLIST,
    OTLP_VALUE_BYTES,
} otlp_value_type_t;

typedef struct otlp_value otlp_value_t;
typedef struct otlp_kv otlp_kv_t;

typedef struct {
    otlp_kv_t *items;
    size_t count;
} otlp_attrs_t;

struct otlp_value {
    otlp_value_type_t type;
    union {
        arbor_iov_t str; /* STRING and BYTES */
        int boolean;
        int64_t i;
        double d;
        struct {
            otlp_value_t *items;
            size_t count;
        } array;
        otlp_attrs_t kvlist;
    } u;
};

struct otlp_kv {
    arbor_iov_t key;
    otlp_value_t value;
};

typedef struct {
    uint64_t time_ns;
    arbor_iov_t name;
    otlp_attrs_t attrs;
    uint32_t dropped_attrs;
} otlp_event_t;

typedef struct {
    arbor_iov_t trace_id, span_id, trace_state;
    otlp_attrs_t attrs;
    uint32_t dropped_attrs;
    uint32_t flags;
} otlp_link_t;

enum { OTLP_STATUS_UNSET = 0, OTLP_STATUS_OK = 1, OTLP_STATUS_ERROR = 2 };

typedef struct {
    arbor_iov_t trace_id, span_id, parent_span_id, trace_state, name;
    uint32_t flags;
    int kind;
    uint64_t start_ns, end_ns;
    otlp_attrs_t attrs;
    uint32_t dropped_attrs;
    otlp_event_t *events;
    size_t n_events;
    uint32_t dropped_events;
    otlp_link_t *links;
    size_t n_links;
    uint32_t dropped_links;
    int status_code;
    arbor_iov_t status_message;
    /* the span's protobuf bytes as received (binary requests only, else empty):
     * unlike everything else here they point into the caller's input buffer and
     * are valid only while it is */
    arbor_iov_t wire;
    int unread_bytes; /* the wire decoder passed over strings the views do not hold: a length-delimited
                         field OTLP does not define, or a string sent twice (the last one is read) */
    const void *pb; /* private: the generated message, for packing */
} otlp_span_t;

typedef struct {
    otlp_attrs_t attrs;
    uint32_t dropped_attrs;
    arbor_iov_t schema_url; /* of the enclosing ResourceSpans */
    arbor_iov_t record;     /* the stored record's bytes when cut from a binary request (or
                               redacted); empty: encoded from the message */
    const void *pb;         /* private */
} otlp_resource_t;

typedef struct {
    arbor_iov_t name, version;
    otlp_attrs_t attrs;
    uint32_t dropped_attrs;
    arbor_iov_t schema_url; /* of the enclosing ScopeSpans */
    arbor_iov_t record;     /* as otlp_resource_t.record */
    const void *pb;         /* private */
} otlp_scope_t;

typedef struct {
    otlp_scope_t scope;
    otlp_span_t *spans;
    size_t n_spans;
} otlp_scope_spans_t;

typedef struct {
    otlp_resource_t resource;
    otlp_scope_spans_t *scopes;
    size_t n_scopes;
} otlp_resource_spans_t;

typedef struct {
    otlp_resource_spans_t *items;
    size_t count;
    size_t n_spans; /* total over all scopes */
} otlp_request_t;

/** Deepest AnyValue nesting accepted (arrays/kvlists inside values). */
#define OTLP_MAX_VALUE_DEPTH 32

/**
 * Decode an ExportTraceServiceRequest (binary protobuf or OTLP/JSON).
 * @param[out] err a short English reason on failure (NUL-terminated, truncated to errlen)
 * @return 0; ARBOR_EDECODE for malformed input (including nesting deeper than
 *         OTLP_MAX_VALUE_DEPTH); ARBOR_ETOOBIG when the arena limit was reached;
 *         ENOMEM. On failure @p out is unspecified; the arena still owns what was allocated.
 */
int otlp_request_decode(arbor_arena_t *arena, otlp_encoding_t enc, const void *buf, size_t len,
                        otlp_request_t *out, char *err, size_t errlen);

/** Serialized size of a span / resource record / scope record (protobuf). */
size_t otlp_span_packed_size(const otlp_span_t *s);
/** Write the protobuf encoding to @p out (packed_size bytes); returns bytes written. */
size_t otlp_span_pack(const otlp_span_t *s, uint8_t *out);

/* Resource and scope records are stored as a ResourceSpans{resource, schema_url}
 * and a ScopeSpans{scope, schema_url} with no children: lossless, and a Tempo
 * batch can be rebuilt by appending span bytes. */
size_t otlp_resource_record_size(const otlp_resource_t *r);
size_t otlp_resource_record_pack(const otlp_resource_t *r, uint8_t *out);
size_t otlp_scope_record_size(const otlp_scope_t *s);
size_t otlp_scope_record_pack(const otlp_scope_t *s, uint8_t *out);

/** Decode stored records back into views (arena-owned; a span's `wire` is @p buf
 *  itself, as for a binary request). 0 or ARBOR_EDECODE / ENOMEM. */
int otlp_span_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_span_t *out);
int otlp_resource_record_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_resource_t *out);
int otlp_scope_record_decode(arbor_arena_t *arena, const void *buf, size_t len, otlp_scope_t *out);

/**
 * ExportTraceServiceResponse in @p enc. rejected == 0 and an empty message give the
 * empty success response. The bytes live in @p arena. NULL only on ENOMEM.
 */
arbor_iov_t otlp_export_response(arbor_arena_t *arena, otlp_encoding_t enc, int64_t rejected,
                                 arbor_iov_t message);

/**
 * google.rpc.Status in @p enc with @p code and @p message; when retry_delay_s > 0
 * a google.rpc.RetryInfo detail is attached. Bytes live in @p arena.
 */
arbor_iov_t otlp_status_encode(arbor_arena_t *arena, otlp_encoding_t enc, int code, arbor_iov_t message,
                               int retry_delay_s);

/* ---- Tempo traces, assembled from stored bytes without decoding spans ---- */

typedef struct otlp_trace_builder otlp_trace_builder_t;

/** A builder whose memory lives in @p arena (NULL on ENOMEM). */
otlp_trace_builder_t *otlp_trace_builder_new(arbor_arena_t *arena);
/**
 * Add one span with its resource and scope records (as stored). Spans sharing
 * (resource_ref, scope_ref) are grouped under one ResourceSpans / ScopeSpans.
 * Borrowed bytes must stay valid until otlp_trace_pack(). 0 or ENOMEM.
 */
int otlp_trace_builder_add(otlp_trace_builder_t *b, uint64_t resource_ref, arbor_iov_t resource_record,
                           uint64_t scope_ref, arbor_iov_t scope_record, arbor_iov_t span_bytes);
/** Serialized tempopb.Trace (wire-identical to OTLP TracesData), in the arena. */
arbor_iov_t otlp_trace_pack(otlp_trace_builder_t *b);
/** Serialized tempopb.TraceByIDResponse around a packed Trace. */
arbor_iov_t otlp_trace_by_id_response(arbor_arena_t *arena, arbor_iov_t trace, int partial, arbor_iov_t message);
/** Decode a packed Trace back into views (for JSON rendering and tests). */
int otlp_trace_decode(arbor_arena_t *arena, arbor_iov_t trace, otlp_request_t *out);

/** 1 if @p key names prompt / response / message content (GenAI, OpenInference,
 * Traceloop, Langfuse, Vercel AI and Orcheo keys, and anything below them). */
int otlp_is_content_key(arbor_iov_t key);
/** 1 if every attribute of an event named @p name is content (prompt, response,
 * message and the GenAI message events). */
int otlp_is_content_event(arbor_iov_t name);
/**
 * Remove content from a decoded span, in the view and in what otlp_span_pack()
 * encodes: content attributes of the span, and every attribute of content
 * events (the events themselves, their names and times stay). Clears
 * @p s->wire when anything went. A span decoded from binary protobuf is
 * unpacked again (into @p arena) only when something goes.
 * @return 0, ENOMEM or ARBOR_EDECODE; *count: how many values were removed.
 */
int otlp_span_drop_content(otlp_span_t *s, arbor_arena_t *arena, size_t *count);

/** Redaction rules: compiled patterns and key globs (immutable once built, so
 *  any number of threads may apply one). */
typedef struct otlp_redactor otlp_redactor_t;
/**
 * Build the rules: @p rules, a comma list of built-ins (secrets, emails, cards,
 * ssn, or none); @p patterns_file, PCRE2 patterns one per line (NULL: none);
 * @p key_globs, comma-separated fnmatch globs of attribute keys whose whole value
 * is replaced. *out is NULL when there is nothing to apply.
 * @return 0, or ARBOR_ECONFIG with @p err naming the setting and the problem.
 */
int otlp_redactor_new(const char *rules, const char *patterns_file, const char *key_globs, otlp_redactor_t **out,
                      char *err, size_t errlen);
void otlp_redactor_free(otlp_redactor_t *r);
/**
 * Judge the span's bytes as they will be stored (as received, or encoded from
 * its message) and replace every match of the rules in every string it carries
 * — name, status message, trace_state, event names, link trace_states, string
 * and bytes values of span, event and link attributes at any depth — with
 * "[REDACTED]" (a secret keeps its label: "api_key= [REDACTED]"); a value whose
 * key a glob names is replaced whole; a length-delimited field OTLP does not
 * define is dropped when a rule matches its bytes. A rule that cannot run (a
 * match or JIT limit) fails closed: the value is replaced. When anything changed,
 * s->wire becomes the new bytes (in @p arena) and the views are decoded from them.
 * @return 0, ENOMEM, or ARBOR_EDECODE for bytes that cannot be walked (the span
 *         must then be refused); *count: replacements made and fields dropped.
 */
int otlp_span_redact(const otlp_redactor_t *r, otlp_span_t *s, arbor_arena_t *arena, size_t *count);
/** The same for a resource / scope: every string of its record (attributes,
 *  scope name and version, schema URLs, entity references). Sets ->record to the
 *  bytes to store (encoded first when it had none) and, when anything changed,
 *  decodes the views again from them. */
int otlp_resource_redact(const otlp_redactor_t *r, otlp_resource_t *res, arbor_arena_t *arena, size_t *count);
int otlp_scope_redact(const otlp_redactor_t *r, otlp_scope_t *scope, arbor_arena_t *arena, size_t *count);
/** The rules over one string that is not in a span (an announced execution ID):
 *  *out is @p text itself when nothing changed, else new bytes in @p arena.
 *  0 or ENOMEM; *count: replacements made. */
int otlp_text_redact(const otlp_redactor_t *r, arbor_iov_t text, arbor_arena_t *arena, arbor_iov_t *out,
                     size_t *count);

/** Most artifact IDs a span is taken to name (indexed, and rendered with links). */
#define OTLP_MAX_ARTIFACTS 256
/**
 * The artifact IDs a span names, each once, in order: `orcheo.artifact.ids` (a
 * string, or an array of strings), then the `artifact.id` (else `id`) of each
 * event named `artifact` or `orcheo.artifact`. Empty IDs name nothing. Writes
 * at most @p max into @p out (borrowed from the span); returns how many there
 * are, which may be more.
 */
size_t otlp_span_artifact_ids(const otlp_span_t *s, arbor_iov_t *out, size_t max);
/** The artifact event that describes @p id (name, type, size, preview), or NULL. */
const otlp_event_t *otlp_span_artifact_event(const otlp_span_t *s, arbor_iov_t id);

/* Repeated keys. OTLP says keys MUST be unique; when a sender repeats one, Arbor
 * takes the LAST value everywhere (an SDK setting a key again overwrites it, and
 * JSON.parse reads an object with a repeated key the same way): lookups here,
 * TraceQL, tag values, the collector's execution ID, workflow and tokens, and
 * every JSON object (otlp_attrs_unique). Stored bytes keep what was sent. */

/** Find an attribute by key (the last, when the key repeats) or NULL. */
const otlp_value_t *otlp_attrs_get(const otlp_attrs_t *attrs, const char *key);
/**
 * Attributes with each key once: the value is the key's last, the place its first
 * (where JSON.parse puts a repeated key). When no key repeats, *out is *in and
 * nothing is allocated; otherwise the items live in @p arena. @p out may be @p in.
 * 0 or ENOMEM.
 */
int otlp_attrs_unique(arbor_arena_t *arena, const otlp_attrs_t *in, otlp_attrs_t *out);
/** Integer view of a value: INT, DOUBLE (truncated) or a decimal STRING. 1 if found. */
int otlp_value_as_int(const otlp_value_t *v, int64_t *out);

/**
 * Token usage of one span: the first convention present wins, in this order:
 * orcheo.token.*, gen_ai.usage.{input,output}_tokens, gen_ai.usage.{prompt,completion}_tokens,
 * llm.token_count.{prompt,completion}, model.tokens_{input,output}.
 * @return 1 if any convention matched (missing half counts as 0), else 0.
 */
int otlp_span_tokens(const otlp_attrs_t *attrs, int64_t *in, int64_t *out);

enum { OTLP_TOKENS_IN = 1, OTLP_TOKENS_OUT = 2 };
/** As otlp_span_tokens(); @p sides gets which halves the matched convention
 *  really carried (OTLP_TOKENS_IN | OTLP_TOKENS_OUT). */
int otlp_span_token_sides(const otlp_attrs_t *attrs, int64_t *in, int64_t *out, int *sides);

#endif
