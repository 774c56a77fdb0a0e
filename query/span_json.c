#include "span_json.h"

#include <openssl/evp.h>
#include <stdlib.h>

static const char *const kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"};
static const char *const status_names[] = {"UNSET", "OK", "ERROR"};

void span_json_value(jsonw_t *w, const otlp_value_t *v)
{
    switch (v->type) {
    case OTLP_VALUE_STRING:
        jsonw_str(w, v->u.str);
        break;
    case OTLP_VALUE_BOOL:
        jsonw_bool(w, v->u.boolean);
        break;
    case OTLP_VALUE_INT:
        jsonw_int(w, v->u.i);
        break;
    case OTLP_VALUE_DOUBLE:
        jsonw_double(w, v->u.d);
        break;
    case OTLP_VALUE_ARRAY:
        jsonw_array(w);
        for (size_t i = 0; i < v->u.array.count; i++)
            span_json_value(w, &v->u.array.items[i]);
        jsonw_array_end(w);
        break;
    case OTLP_VALUE_KVLIST:
        span_json_attrs(w, &v->u.kvlist);
        break;
    case OTLP_VALUE_BYTES: {
        size_t n = 4 * ((v->u.str.len + 2) / 3);
        char *b = malloc(n + 1);
        if (b == NULL)
            abort();
        EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)v->u.str.base, (int)v->u.str.len);
        jsonw_str(w, arbor_iov(b, n));
        free(b);
        break;
    }
    default:
        jsonw_null(w);
    }
}

void span_json_attrs(jsonw_t *w, const otlp_attrs_t *attrs)
{
    jsonw_object(w);
    for (size_t i = 0; i < attrs->count; i++) {
        jsonw_key_iov(w, attrs->items[i].key);
        span_json_value(w, &attrs->items[i].value);
    }
    jsonw_object_end(w);
}

static void write_status(jsonw_t *w, int code, arbor_iov_t message)
{
    jsonw_key(w, "status");
    jsonw_object(w);
    jsonw_key(w, "code");
    jsonw_cstr(w, status_names[code >= 0 && code <= 2 ? code : 0]);
    jsonw_key(w, "message");
    if (message.len)
        jsonw_str(w, message);
    else
        jsonw_null(w);
    jsonw_object_end(w);
}

static void write_token_usage(jsonw_t *w, int64_t in, int64_t out)
{
    jsonw_key(w, "token_usage");
    jsonw_object(w);
    jsonw_key(w, "input");
    jsonw_int(w, in);
    jsonw_key(w, "output");
    jsonw_int(w, out);
    jsonw_object_end(w);
}

void span_json_write(jsonw_t *w, arbor_arena_t *arena, const arbor_span_rec_t *rec)
{
    otlp_span_t s;
    int ok = otlp_span_decode(arena, rec->span_bytes.base, rec->span_bytes.len, &s) == 0;
    uint64_t start = rec->start_ns, end = rec->end_ns;
    int64_t latency_ms = 0;
    /* Orcheo's node spans are zero-length; their real latency is an attribute */
    if (ok && end - start < 1000000 &&
        otlp_value_as_int(otlp_attrs_get(&s.attrs, "orcheo.node.latency_ms"), &latency_ms) && latency_ms > 0 &&
        (uint64_t)latency_ms * 1000000u <= end)
        start = end - (uint64_t)latency_ms * 1000000u;

    jsonw_object(w);
    jsonw_key(w, "span_id");
    jsonw_hex(w, rec->span_id, 8);
    jsonw_key(w, "parent_span_id");
    if (rec->has_parent)
        jsonw_hex(w, rec->parent_span_id, 8);
    else
        jsonw_null(w);
    jsonw_key(w, "name");
    if (ok)
        jsonw_str(w, s.name);
    else
        jsonw_null(w);
    jsonw_key(w, "start_time");
    jsonw_time(w, start);
    jsonw_key(w, "end_time");
    jsonw_time(w, end);

    jsonw_key(w, "attributes");
    jsonw_object(w);
    if (ok) {
        for (size_t i = 0; i < s.attrs.count; i++) {
            jsonw_key_iov(w, s.attrs.items[i].key);
            span_json_value(w, &s.attrs.items[i].value);
        }
        /* the Canvas's token badges read gen_ai.usage.*: add them where another
         * convention carried the counts */
        if (rec->has_tokens && otlp_attrs_get(&s.attrs, "gen_ai.usage.input_tokens") == NULL &&
            otlp_attrs_get(&s.attrs, "gen_ai.usage.output_tokens") == NULL) {
            jsonw_key(w, "gen_ai.usage.input_tokens");
            jsonw_int(w, rec->tokens_in);
            jsonw_key(w, "gen_ai.usage.output_tokens");
            jsonw_int(w, rec->tokens_out);
        }
    } else {
        jsonw_key(w, "arbor.decode_error");
        jsonw_bool(w, 1);
    }
    jsonw_object_end(w);

    jsonw_key(w, "events");
    jsonw_array(w);
    for (size_t i = 0; ok && i < s.n_events; i++) {
        jsonw_object(w);
        jsonw_key(w, "name");
        jsonw_str(w, s.events[i].name);
        jsonw_key(w, "time");
        jsonw_time(w, s.events[i].time_ns);
        jsonw_key(w, "attributes");
        span_json_attrs(w, &s.events[i].attrs);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);

    write_status(w, rec->status_code, ok ? s.status_message : ARBOR_IOV_NULL);

    jsonw_key(w, "links");
    jsonw_array(w);
    for (size_t i = 0; ok && i < s.n_links; i++) {
        jsonw_object(w);
        jsonw_key(w, "trace_id");
        jsonw_hex(w, s.links[i].trace_id.base, s.links[i].trace_id.len);
        jsonw_key(w, "span_id");
        jsonw_hex(w, s.links[i].span_id.base, s.links[i].span_id.len);
        jsonw_key(w, "attributes");
        span_json_attrs(w, &s.links[i].attrs);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);

    /* additive fields */
    jsonw_key(w, "trace_id");
    jsonw_hex(w, rec->trace_id, 16);
    jsonw_key(w, "kind");
    jsonw_cstr(w, kind_names[rec->kind >= 0 && rec->kind <= 5 ? rec->kind : 0]);
    write_token_usage(w, rec->tokens_in, rec->tokens_out);
    jsonw_key(w, "seq");
    jsonw_uint(w, rec->seq);
    jsonw_object_end(w);
}

void span_json_placeholder(jsonw_t *w, const uint8_t trace_id[16], const uint8_t span_id[8], uint64_t start_ns,
                           uint64_t end_ns)
{
    jsonw_object(w);
    jsonw_key(w, "span_id");
    jsonw_hex(w, span_id, 8);
    jsonw_key(w, "parent_span_id");
    jsonw_null(w);
    jsonw_key(w, "name");
    jsonw_cstr(w, "(span not received yet)");
    jsonw_key(w, "start_time");
    jsonw_time(w, start_ns);
    jsonw_key(w, "end_time");
    jsonw_time(w, end_ns);
    jsonw_key(w, "attributes");
    jsonw_object(w);
    jsonw_key(w, "arbor.placeholder");
    jsonw_bool(w, 1);
    jsonw_object_end(w);
    jsonw_key(w, "events");
    jsonw_array(w);
    jsonw_array_end(w);
    write_status(w, 0, ARBOR_IOV_NULL);
    jsonw_key(w, "links");
    jsonw_array(w);
    jsonw_array_end(w);
    jsonw_key(w, "trace_id");
    jsonw_hex(w, trace_id, 16);
    jsonw_key(w, "kind");
    jsonw_cstr(w, "UNSPECIFIED");
    write_token_usage(w, 0, 0);
    jsonw_object_end(w);
}
