/* OTLP/JSON (proto3 JSON with OTLP's deviations: hex trace/span IDs, integer
 * enums, 64-bit integers as strings or numbers, unknown keys ignored) parsed with
 * jansson into the generated structs, so JSON and protobuf share one path after. */
#include "otlp_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    arbor_arena_t *arena;
    char *err;
    size_t errlen;
} jctx_t;

static int fail(jctx_t *c, const char *what, const char *expected)
{
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s: expected %s", what, expected);
    return ARBOR_EDECODE;
}

static void *jalloc(jctx_t *c, size_t n)
{
    return arbor_arena_alloc(c->arena, n);
}

/* Look a key up by its lowerCamelCase name, then the snake_case original
 * (senders must not use it, but being lenient costs nothing). Null = absent. */
static json_t *field(const json_t *obj, const char *camel, const char *snake)
{
    json_t *v = json_object_get(obj, camel);
    if (v == NULL && snake != NULL)
        v = json_object_get(obj, snake);
    return json_is_null(v) ? NULL : v;
}

static int get_string(jctx_t *c, const json_t *v, const char *what, char **out)
{
    if (v == NULL)
        return 0; /* keep the generated default (empty string) */
    if (!json_is_string(v))
        return fail(c, what, "a string");
    if ((*out = arbor_arena_dup(c->arena, json_string_value(v), json_string_length(v))) == NULL)
        return ENOMEM;
    return 0;
}

/* 64-bit integers arrive as JSON numbers or decimal strings. */
static int get_i64(jctx_t *c, const json_t *v, const char *what, int64_t *out, int is_unsigned)
{
    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (is_unsigned && i < 0)
            return fail(c, what, "a non-negative integer");
        *out = i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* NaN and infinities fail the first test; the ranges keep the casts defined */
        if (d != floor(d) || (is_unsigned ? d < 0 || d >= 1.8e19 : !arbor_double_fits_int64(d)))
            return fail(c, what, is_unsigned ? "an integer from 0 to 2^64" : "an integer from -2^63 to 2^63");
        *out = is_unsigned ? (int64_t)(uint64_t)d : (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        if (s[0] == '\0' || (is_unsigned && s[0] == '-'))
            return fail(c, what, "an integer");
        if (is_unsigned)
            *out = (int64_t)strtoull(s, &end, 10);
        else
            *out = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return fail(c, what, "an integer");
        return 0;
    }
    return fail(c, what, "an integer");
}

static int get_u32(jctx_t *c, const json_t *v, const char *what, uint32_t *out)
{
    int64_t i = 0;
    int rc = get_i64(c, v, what, &i, 1);
    if (rc == 0 && v != NULL) {
        if (i > UINT32_MAX)
            return fail(c, what, "a 32-bit integer");
        *out = (uint32_t)i;
    }
    return rc;
}

static int get_double(jctx_t *c, const json_t *v, const char *what, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else {
            char *end;
            *out = strtod(s, &end);
            if (*s == '\0' || *end != '\0')
                return fail(c, what, "a number");
        }
        return 0;
    }
    return fail(c, what, "a number");
}

/* Trace and span IDs are hex in OTLP/JSON. A malformed ID becomes a 1-byte ID so
 * that span validation rejects that span (partial success), not the request. */
static int get_id(jctx_t *c, const json_t *v, const char *what, ProtobufCBinaryData *out)
{
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return fail(c, what, "a hex string");
    size_t hl = json_string_length(v);
    if (hl == 0)
        return 0;
    uint8_t *b = jalloc(c, hl / 2 + 1);
    if (b == NULL)
        return ENOMEM;
    if (hl % 2 != 0 || arbor_hex_decode(b, hl / 2, json_string_value(v), hl) != 0) {
        b[0] = 0;
        out->data = b;
        out->len = 1;
        return 0;
    }
    out->data = b;
    out->len = hl / 2;
    return 0;
}

static int get_base64(jctx_t *c, const json_t *v, const char *what, ProtobufCBinaryData *out)
{
    if (!json_is_string(v))
        return fail(c, what, "a base64 string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    /* normalise the URL-safe alphabet and restore padding for OpenSSL */
    char *norm = jalloc(c, n + 4);
    if (norm == NULL)
        return ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        norm[m++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (m % 4 != 0)
        norm[m++] = '=';
    uint8_t *b = jalloc(c, m / 4 * 3 + 1);
    if (b == NULL)
        return ENOMEM;
    int got = m ? EVP_DecodeBlock(b, (const unsigned char *)norm, (int)m) : 0;
    if (got < 0)
        return fail(c, what, "a base64 string");
    size_t pad = 0;
    while (pad < 2 && m > pad && norm[m - 1 - pad] == '=')
        pad++;
    out->data = b;
    out->len = (size_t)got - pad;
    return 0;
}

static int kvs_from_json(jctx_t *c, const json_t *arr, const char *what, size_t *n_out, pb_kv_t ***out,
                         int depth);

static int any_from_json(jctx_t *c, const json_t *o, pb_any_t *v, int depth)
{
    json_t *x;
    int rc = 0;
    opentelemetry__proto__common__v1__any_value__init(v);
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return fail(c, "value", "an AnyValue object");
    if (depth > OTLP_MAX_VALUE_DEPTH) {
        snprintf(c->err, c->errlen, "attribute values nested too deeply");
        return ARBOR_EDECODE;
    }
    if ((x = field(o, "stringValue", "string_value")) != NULL) {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        rc = get_string(c, x, "stringValue", &v->string_value);
    } else if ((x = field(o, "boolValue", "bool_value")) != NULL) {
        if (!json_is_boolean(x))
            return fail(c, "boolValue", "a boolean");
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        v->bool_value = json_is_true(x);
    } else if ((x = field(o, "intValue", "int_value")) != NULL) {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        rc = get_i64(c, x, "intValue", &v->int_value, 0);
    } else if ((x = field(o, "doubleValue", "double_value")) != NULL) {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        rc = get_double(c, x, "doubleValue", &v->double_value);
    } else if ((x = field(o, "bytesValue", "bytes_value")) != NULL) {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        rc = get_base64(c, x, "bytesValue", &v->bytes_value);
    } else if ((x = field(o, "arrayValue", "array_value")) != NULL) {
        if (!json_is_object(x))
            return fail(c, "arrayValue", "an object");
        pb_array_t *arr = jalloc(c, sizeof *arr);
        if (arr == NULL)
            return ENOMEM;
        opentelemetry__proto__common__v1__array_value__init(arr);
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        v->array_value = arr;
        json_t *vals = field(x, "values", NULL);
        if (vals == NULL)
            return 0;
        if (!json_is_array(vals))
            return fail(c, "arrayValue.values", "an array");
        size_t n = json_array_size(vals);
        if (n == 0)
            return 0;
        arr->values = jalloc(c, n * sizeof(pb_any_t *));
        if (arr->values == NULL)
            return ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if ((arr->values[i] = jalloc(c, sizeof(pb_any_t))) == NULL)
                return ENOMEM;
            if ((rc = any_from_json(c, json_array_get(vals, i), arr->values[i], depth + 1)) != 0)
                return rc;
            arr->n_values++;
        }
    } else if ((x = field(o, "kvlistValue", "kvlist_value")) != NULL) {
        if (!json_is_object(x))
            return fail(c, "kvlistValue", "an object");
        pb_kvlist_t *kl = jalloc(c, sizeof *kl);
        if (kl == NULL)
            return ENOMEM;
        opentelemetry__proto__common__v1__key_value_list__init(kl);
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        v->kvlist_value = kl;
        rc = kvs_from_json(c, field(x, "values", NULL), "kvlistValue.values", &kl->n_values, &kl->values,
                           depth + 1);
    }
    return rc;
}

static int kvs_from_json(jctx_t *c, const json_t *arr, const char *what, size_t *n_out, pb_kv_t ***out,
                         int depth)
{
    int rc;
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return fail(c, what, "an array");
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    pb_kv_t **kvs = jalloc(c, n * sizeof(*kvs));
    if (kvs == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        if (!json_is_object(o))
            return fail(c, what, "KeyValue objects");
        pb_kv_t *kv = jalloc(c, sizeof *kv);
        if (kv == NULL)
            return ENOMEM;
        opentelemetry__proto__common__v1__key_value__init(kv);
        if ((rc = get_string(c, field(o, "key", NULL), "key", &kv->key)) != 0)
            return rc;
        json_t *val = field(o, "value", NULL);
        if (val != NULL) {
            if ((kv->value = jalloc(c, sizeof(pb_any_t))) == NULL)
                return ENOMEM;
            if ((rc = any_from_json(c, val, kv->value, depth)) != 0)
                return rc;
        }
        kvs[i] = kv;
    }
    *n_out = n;
    *out = kvs;
    return 0;
}

/* Allocate a pointer array for a JSON array field; *n = 0 when absent. */
static int array_of(jctx_t *c, const json_t *arr, const char *what, size_t *n, void ***out)
{
    *n = 0;
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return fail(c, what, "an array");
    if (json_array_size(arr) == 0)
        return 0;
    if ((*out = jalloc(c, json_array_size(arr) * sizeof(void *))) == NULL)
        return ENOMEM;
    *n = json_array_size(arr);
    for (size_t i = 0; i < *n; i++)
        if (!json_is_object(json_array_get(arr, i)))
            return fail(c, what, "objects");
    return 0;
}

static int event_from_json(jctx_t *c, const json_t *o, pb_event_t *e)
{
    int rc;
    opentelemetry__proto__trace__v1__span__event__init(e);
    if ((rc = get_i64(c, field(o, "timeUnixNano", "time_unix_nano"), "timeUnixNano", (int64_t *)&e->time_unix_nano,
                      1)) != 0 ||
        (rc = get_string(c, field(o, "name", NULL), "event name", &e->name)) != 0 ||
        (rc = kvs_from_json(c, field(o, "attributes", NULL), "event attributes", &e->n_attributes,
                            &e->attributes, 0)) != 0)
        return rc;
    return get_u32(c, field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount",
                   &e->dropped_attributes_count);
}

static int link_from_json(jctx_t *c, const json_t *o, pb_link_t *l)
{
    int rc;
    opentelemetry__proto__trace__v1__span__link__init(l);
    if ((rc = get_id(c, field(o, "traceId", "trace_id"), "link traceId", &l->trace_id)) != 0 ||
        (rc = get_id(c, field(o, "spanId", "span_id"), "link spanId", &l->span_id)) != 0 ||
        (rc = get_string(c, field(o, "traceState", "trace_state"), "traceState", &l->trace_state)) != 0 ||
        (rc = kvs_from_json(c, field(o, "attributes", NULL), "link attributes", &l->n_attributes, &l->attributes,
                            0)) != 0 ||
        (rc = get_u32(c, field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount",
                      &l->dropped_attributes_count)) != 0)
        return rc;
    return get_u32(c, field(o, "flags", NULL), "link flags", &l->flags);
}

static int span_from_json(jctx_t *c, const json_t *o, pb_span_t *s)
{
    int rc;
    uint32_t kind = 0;
    opentelemetry__proto__trace__v1__span__init(s);
    if ((rc = get_id(c, field(o, "traceId", "trace_id"), "traceId", &s->trace_id)) != 0 ||
        (rc = get_id(c, field(o, "spanId", "span_id"), "spanId", &s->span_id)) != 0 ||
        (rc = get_id(c, field(o, "parentSpanId", "parent_span_id"), "parentSpanId", &s->parent_span_id)) != 0 ||
        (rc = get_string(c, field(o, "traceState", "trace_state"), "traceState", &s->trace_state)) != 0 ||
        (rc = get_u32(c, field(o, "flags", NULL), "flags", &s->flags)) != 0 ||
        (rc = get_string(c, field(o, "name", NULL), "name", &s->name)) != 0 ||
        (rc = get_u32(c, field(o, "kind", NULL), "kind (an integer enum)", &kind)) != 0 ||
        (rc = get_i64(c, field(o, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano",
                      (int64_t *)&s->start_time_unix_nano, 1)) != 0 ||
        (rc = get_i64(c, field(o, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano",
                      (int64_t *)&s->end_time_unix_nano, 1)) != 0 ||
        (rc = kvs_from_json(c, field(o, "attributes", NULL), "attributes", &s->n_attributes, &s->attributes, 0)) !=
            0 ||
        (rc = get_u32(c, field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount",
                      &s->dropped_attributes_count)) != 0 ||
        (rc = get_u32(c, field(o, "droppedEventsCount", "dropped_events_count"), "droppedEventsCount",
                      &s->dropped_events_count)) != 0 ||
        (rc = get_u32(c, field(o, "droppedLinksCount", "dropped_links_count"), "droppedLinksCount",
                      &s->dropped_links_count)) != 0)
        return rc;
    s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;

    json_t *events = field(o, "events", NULL), *links = field(o, "links", NULL), *st = field(o, "status", NULL);
    if ((rc = array_of(c, events, "events", &s->n_events, (void ***)&s->events)) != 0)
        return rc;
    for (size_t i = 0; i < s->n_events; i++) {
        if ((s->events[i] = jalloc(c, sizeof(pb_event_t))) == NULL)
            return ENOMEM;
        if ((rc = event_from_json(c, json_array_get(events, i), s->events[i])) != 0)
            return rc;
    }
    if ((rc = array_of(c, links, "links", &s->n_links, (void ***)&s->links)) != 0)
        return rc;
    for (size_t i = 0; i < s->n_links; i++) {
        if ((s->links[i] = jalloc(c, sizeof(pb_link_t))) == NULL)
            return ENOMEM;
        if ((rc = link_from_json(c, json_array_get(links, i), s->links[i])) != 0)
            return rc;
    }
    if (st != NULL) {
        uint32_t code = 0;
        if (!json_is_object(st))
            return fail(c, "status", "an object");
        if ((s->status = jalloc(c, sizeof(pb_status_t))) == NULL)
            return ENOMEM;
        opentelemetry__proto__trace__v1__status__init(s->status);
        if ((rc = get_string(c, field(st, "message", NULL), "status.message", &s->status->message)) != 0 ||
            (rc = get_u32(c, field(st, "code", NULL), "status.code (an integer enum)", &code)) != 0)
            return rc;
        s->status->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    }
    return 0;
}

static int scope_spans_from_json(jctx_t *c, const json_t *o, pb_scope_spans_t *ss)
{
    int rc;
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    json_t *scope = field(o, "scope", NULL), *spans = field(o, "spans", NULL);
    if (scope != NULL) {
        if (!json_is_object(scope))
            return fail(c, "scope", "an object");
        if ((ss->scope = jalloc(c, sizeof(pb_scope_t))) == NULL)
            return ENOMEM;
        opentelemetry__proto__common__v1__instrumentation_scope__init(ss->scope);
        if ((rc = get_string(c, field(scope, "name", NULL), "scope.name", &ss->scope->name)) != 0 ||
            (rc = get_string(c, field(scope, "version", NULL), "scope.version", &ss->scope->version)) != 0 ||
            (rc = kvs_from_json(c, field(scope, "attributes", NULL), "scope.attributes", &ss->scope->n_attributes,
                                &ss->scope->attributes, 0)) != 0 ||
            (rc = get_u32(c, field(scope, "droppedAttributesCount", "dropped_attributes_count"),
                          "droppedAttributesCount", &ss->scope->dropped_attributes_count)) != 0)
            return rc;
    }
    if ((rc = get_string(c, field(o, "schemaUrl", "schema_url"), "schemaUrl", &ss->schema_url)) != 0)
        return rc;
    if ((rc = array_of(c, spans, "spans", &ss->n_spans, (void ***)&ss->spans)) != 0)
        return rc;
    for (size_t i = 0; i < ss->n_spans; i++) {
        if ((ss->spans[i] = jalloc(c, sizeof(pb_span_t))) == NULL)
            return ENOMEM;
        if ((rc = span_from_json(c, json_array_get(spans, i), ss->spans[i])) != 0)
            return rc;
    }
    return 0;
}

static int resource_spans_from_json(jctx_t *c, const json_t *o, pb_resource_spans_t *rs)
{
    int rc;
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    json_t *res = field(o, "resource", NULL), *scopes = field(o, "scopeSpans", "scope_spans");
    if (res != NULL) {
        if (!json_is_object(res))
            return fail(c, "resource", "an object");
        if ((rs->resource = jalloc(c, sizeof(pb_resource_t))) == NULL)
            return ENOMEM;
        opentelemetry__proto__resource__v1__resource__init(rs->resource);
        if ((rc = kvs_from_json(c, field(res, "attributes", NULL), "resource.attributes",
                                &rs->resource->n_attributes, &rs->resource->attributes, 0)) != 0 ||
            (rc = get_u32(c, field(res, "droppedAttributesCount", "dropped_attributes_count"),
                          "droppedAttributesCount", &rs->resource->dropped_attributes_count)) != 0)
            return rc;
    }
    if ((rc = get_string(c, field(o, "schemaUrl", "schema_url"), "schemaUrl", &rs->schema_url)) != 0)
        return rc;
    if ((rc = array_of(c, scopes, "scopeSpans", &rs->n_scope_spans, (void ***)&rs->scope_spans)) != 0)
        return rc;
    for (size_t i = 0; i < rs->n_scope_spans; i++) {
        if ((rs->scope_spans[i] = jalloc(c, sizeof(pb_scope_spans_t))) == NULL)
            return ENOMEM;
        if ((rc = scope_spans_from_json(c, json_array_get(scopes, i), rs->scope_spans[i])) != 0)
            return rc;
    }
    return 0;
}

int otlp_json_to_pb(arbor_arena_t *arena, const void *buf, size_t len, pb_request_t **out, char *err,
                    size_t errlen)
{
    char dummy[2];
    jctx_t c = {arena, err ? err : dummy, err ? errlen : sizeof dummy};
    json_error_t jerr;
    int rc;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(c.err, c.errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return ARBOR_EDECODE;
    }
    pb_request_t *req = NULL;
    if (!json_is_object(root)) {
        rc = fail(&c, "request", "a JSON object");
        goto out;
    }
    if ((req = jalloc(&c, sizeof *req)) == NULL) {
        rc = ENOMEM;
        goto out;
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    json_t *rss = field(root, "resourceSpans", "resource_spans");
    if ((rc = array_of(&c, rss, "resourceSpans", &req->n_resource_spans, (void ***)&req->resource_spans)) != 0)
        goto out;
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        if ((req->resource_spans[i] = jalloc(&c, sizeof(pb_resource_spans_t))) == NULL) {
            rc = ENOMEM;
            goto out;
        }
        if ((rc = resource_spans_from_json(&c, json_array_get(rss, i), req->resource_spans[i])) != 0)
            goto out;
    }
    *out = req;
out:
    json_decref(root);
    if (rc == ENOMEM && arena->overflowed) {
        snprintf(c.err, c.errlen, "request needs more memory than allowed to decode");
        rc = ARBOR_ETOOBIG;
    }
    return rc;
}
