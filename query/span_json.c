#include "span_json.h"

#include "arbor/auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"};
static const char *const status_names[] = {"UNSET", "OK", "ERROR"};

void span_json_base64(jsonw_t *w, arbor_iov_t bytes)
{
    size_t n = 4 * ((bytes.len + 2) / 3);
    char small[64], *b = n < sizeof small ? small : arbor_xmalloc(n + 1);
    EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)bytes.base, (int)bytes.len);
    jsonw_str(w, arbor_iov(b, n));
    if (b != small)
        free(b);
}

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
    case OTLP_VALUE_BYTES:
        span_json_base64(w, v->u.str);
        break;
    default:
        jsonw_null(w);
    }
}

/* An object has each key once: a repeated attribute key shows its last value
 * (otlp_attrs_unique; the scratch arena allocates only when a key repeats). */
void span_json_attrs(jsonw_t *w, const otlp_attrs_t *attrs)
{
    arbor_arena_t scratch;
    otlp_attrs_t unique;
    arbor_arena_init(&scratch, 4096, 0);
    if (otlp_attrs_unique(&scratch, attrs, &unique) != 0)
        unique = *attrs;
    jsonw_object(w);
    for (size_t i = 0; i < unique.count; i++) {
        jsonw_key_iov(w, unique.items[i].key);
        span_json_value(w, &unique.items[i].value);
    }
    jsonw_object_end(w);
    arbor_arena_free(&scratch);
}

/* A value, cut to @p max code points when it is a string that should be. */
static void value_cut(jsonw_t *w, const otlp_value_t *v, size_t max, int cut_it)
{
    if (cut_it && max > 0 && v->type == OTLP_VALUE_STRING)
        jsonw_str_cut(w, v->u.str, max);
    else
        span_json_value(w, v);
}

static int needs_cut(const otlp_kv_t *kv, size_t max, int content_event)
{
    if (max == 0 || kv->value.type != OTLP_VALUE_STRING || kv->value.u.str.len <= max)
        return 0; /* fewer bytes than the limit: fewer code points too */
    if (!content_event && !otlp_is_content_key(kv->key))
        return 0;
    return utf8_longer_than(kv->value.u.str, max);
}

const char *span_json_status_name(int code)
{
    return status_names[code >= 0 && code <= 2 ? code : 0];
}

const char *span_json_kind_name(int kind)
{
    return kind_names[kind >= 0 && kind <= 5 ? kind : 0];
}

static void write_status(jsonw_t *w, int code, arbor_iov_t message)
{
    jsonw_key_lit(w, "status");
    jsonw_object(w);
    jsonw_key_lit(w, "code");
    jsonw_cstr(w, span_json_status_name(code));
    jsonw_key_lit(w, "message");
    if (message.len)
        jsonw_str(w, message);
    else
        jsonw_null(w);
    jsonw_object_end(w);
}

void span_json_tokens(jsonw_t *w, const char *key, int64_t in, int64_t out)
{
    jsonw_key(w, key);
    jsonw_object(w);
    jsonw_key_lit(w, "input");
    jsonw_int(w, in);
    jsonw_key_lit(w, "output");
    jsonw_int(w, out);
    jsonw_object_end(w);
}

arbor_iov_t span_json_service(span_services_t *c, arbor_reader_t *r, uint64_t resource_ref, arbor_arena_t *arena)
{
    size_t i = 0;
    while (i < 8 && !(c->svc[i].used && c->svc[i].ref == resource_ref))
        i++;
    if (i == 8) {
        i = c->next++ % 8;
        c->svc[i].used = 1;
        c->svc[i].ref = resource_ref;
        c->svc[i].len = 0;
        arbor_iov_t bytes;
        otlp_resource_t res;
        if (arbor_reader_record(r, ARBOR_RECORD_RESOURCE, resource_ref, &bytes) == 0 &&
            otlp_resource_record_decode(arena, bytes.base, bytes.len, &res) == 0) {
            const otlp_value_t *v = otlp_attrs_get(&res.attrs, "service.name");
            if (v != NULL && v->type == OTLP_VALUE_STRING) {
                c->svc[i].len = v->u.str.len < sizeof c->svc[i].name ? v->u.str.len : sizeof c->svc[i].name - 1;
                memcpy(c->svc[i].name, v->u.str.base, c->svc[i].len);
            }
        }
    }
    return arbor_iov(c->svc[i].name, c->svc[i].len);
}

static void write_extra(jsonw_t *w, const span_extra_t *extra)
{
    if (extra == NULL)
        return;
    if (extra->service.base != NULL) {
        jsonw_key_lit(w, "service");
        jsonw_str(w, extra->service);
    }
    if (!extra->has_tree)
        return;
    jsonw_key_lit(w, "child_count");
    jsonw_uint(w, extra->child_count);
    jsonw_key_lit(w, "depth");
    jsonw_uint(w, extra->depth);
}

/* ---- artifacts ---- */

/* Append @p s percent-encoded (RFC 3986 unreserved bytes kept). */
static size_t url_encode(char *buf, size_t n, size_t cap, arbor_iov_t s)
{
    for (size_t i = 0; i < s.len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, cap - n, "%%%02X", c);
    }
    return n;
}

/* The Canvas opens download links as plain navigations, without a bearer
 * header: with a secret they carry their own proof, good for link_ttl_s. */
static size_t sign_url(char *buf, size_t n, size_t cap, const span_render_t *o, arbor_iov_t id)
{
    if (o->link_secret == NULL || o->tenant == NULL || n + 200 + 3 * strlen(o->tenant) > cap)
        return n;
    uint64_t exp = arbor_now_ns() / 1000000000u + o->link_ttl_s;
    char sig[65];
    arbor_iov_t tenant = arbor_iov(o->tenant, strlen(o->tenant));
    arbor_link_sign(o->link_secret, tenant, id, exp, sig);
    n += (size_t)snprintf(buf + n, cap - n, "%ctenant=", memchr(buf, '?', n) ? '&' : '?');
    n = url_encode(buf, n, cap, tenant);
    return n + (size_t)snprintf(buf + n, cap - n, "&exp=%llu&sig=%s", (unsigned long long)exp, sig);
}

static void write_url(jsonw_t *w, const span_render_t *o, arbor_iov_t id)
{
    char buf[2048];
    size_t n = 0;
    const char *p = o->artifact_url_template ? o->artifact_url_template : "/api/artifacts/{id}/download";
    while (*p && n + 4 < sizeof buf) {
        if (strncmp(p, "{id}", 4) == 0) {
            n = url_encode(buf, n, sizeof buf, id);
            p += 4;
        } else {
            buf[n++] = *p++;
        }
    }
    n = sign_url(buf, n, sizeof buf, o, id);
    jsonw_str(w, arbor_iov(buf, n));
}

static const otlp_value_t *event_attr(const otlp_event_t *e, const char *a, const char *b)
{
    const otlp_value_t *v = otlp_attrs_get(&e->attrs, a);
    return v ? v : otlp_attrs_get(&e->attrs, b);
}

/* One artifact: its ID, a download link when the ID can be indexed (the only
 * ones a download is served for), and whatever an artifact event says of it. */
static void write_artifact(jsonw_t *w, const otlp_span_t *s, arbor_iov_t id, const span_render_t *o)
{
    jsonw_object(w);
    jsonw_key_lit(w, "id");
    jsonw_str(w, id);
    jsonw_key_lit(w, "download_url");
    if (id.len <= ARBOR_MAX_ARTIFACT_ID)
        write_url(w, o, id);
    else
        jsonw_null(w);
    const otlp_event_t *e = otlp_span_artifact_event(s, id);
    static const char *const fields[][2] = {{"name", "artifact.name"}, {"mime_type", "artifact.mime_type"},
                                            {"size", "artifact.size"}, {"preview", "artifact.preview"}};
    for (size_t f = 0; e != NULL && f < 4; f++) {
        const otlp_value_t *v = event_attr(e, fields[f][1], fields[f][0]);
        if (v == NULL)
            continue;
        jsonw_key(w, fields[f][0]);
        value_cut(w, v, o->preview_max, f == 3);
    }
    jsonw_object_end(w);
}

static void write_artifacts(jsonw_t *w, const otlp_span_t *s, const span_render_t *o)
{
    arbor_iov_t ids[OTLP_MAX_ARTIFACTS];
    size_t n = otlp_span_artifact_ids(s, ids, OTLP_MAX_ARTIFACTS);
    if (n == 0)
        return;
    jsonw_key_lit(w, "artifacts");
    jsonw_array(w);
    for (size_t i = 0; i < n && i < OTLP_MAX_ARTIFACTS; i++)
        write_artifact(w, s, ids[i], o);
    jsonw_array_end(w);
}

/* ---- spans ---- */

/* Start shown for a span: Orcheo's node spans are zero-length, with their real
 * latency in an attribute (the collector keeps it in the span header). */
uint64_t span_json_shown_start(const arbor_span_rec_t *rec)
{
    return rec->shown_duration_ns ? rec->end_ns - rec->shown_duration_ns : rec->start_ns;
}

static void write_truncation_marker(jsonw_t *w, const otlp_span_t *s, size_t max)
{
    int any = 0;
    for (size_t i = 0; i < s->attrs.count && !any; i++)
        any = needs_cut(&s->attrs.items[i], max, 0);
    for (size_t e = 0; e < s->n_events && !any; e++)
        for (size_t i = 0; i < s->events[e].attrs.count && !any; i++)
            any = needs_cut(&s->events[e].attrs.items[i], max, otlp_is_content_event(s->events[e].name));
    if (!any)
        return;
    /* {"key": original length, "events[2].preview": original length} */
    jsonw_key_lit(w, "arbor.truncated");
    jsonw_object(w);
    for (size_t i = 0; i < s->attrs.count; i++)
        if (needs_cut(&s->attrs.items[i], max, 0)) {
            jsonw_key_iov(w, s->attrs.items[i].key);
            jsonw_uint(w, utf8_length(s->attrs.items[i].value.u.str));
        }
    for (size_t e = 0; e < s->n_events; e++) {
        int ce = otlp_is_content_event(s->events[e].name);
        for (size_t i = 0; i < s->events[e].attrs.count; i++) {
            if (!needs_cut(&s->events[e].attrs.items[i], max, ce))
                continue;
            char key[300];
            const arbor_iov_t k = s->events[e].attrs.items[i].key;
            int n = snprintf(key, sizeof key, "events[%zu].%.*s", e, (int)(k.len > 256 ? 256 : k.len), k.base);
            jsonw_key_iov(w, arbor_iov(key, (size_t)n));
            jsonw_uint(w, utf8_length(s->events[e].attrs.items[i].value.u.str));
        }
    }
    jsonw_object_end(w);
}

/* The Canvas's token badges read gen_ai.usage.*: where another convention
 * carried the counts, add the halves it really had (a SQL span gets nothing).
 * Returns the OTLP_TOKENS_* halves added. */
static int write_derived_tokens(jsonw_t *w, const arbor_span_rec_t *rec, const otlp_span_t *s)
{
    int64_t in, out;
    int sides;
    if (!rec->has_tokens || otlp_attrs_get(&s->attrs, "gen_ai.usage.input_tokens") != NULL ||
        otlp_attrs_get(&s->attrs, "gen_ai.usage.output_tokens") != NULL ||
        !otlp_span_token_sides(&s->attrs, &in, &out, &sides))
        return 0;
    if (sides & OTLP_TOKENS_IN) {
        jsonw_key_lit(w, "gen_ai.usage.input_tokens");
        jsonw_int(w, in);
    }
    if (sides & OTLP_TOKENS_OUT) {
        jsonw_key_lit(w, "gen_ai.usage.output_tokens");
        jsonw_int(w, out);
    }
    return sides;
}

/* @p full: the span endpoint's "in full": every value whole, nothing added. */
/* "attributes": every value (cut to @p max unless 0), the derived token halves
 * (not in full) and "derived_attributes" naming them, the truncation marker, the
 * placeholder overwrite. */
static void write_attributes(jsonw_t *w, const arbor_span_rec_t *rec, const otlp_span_t *s, size_t max,
                            const span_extra_t *extra, int full)
{
    int derived = 0;
    jsonw_key_lit(w, "attributes");
    jsonw_object(w);
    if (s != NULL) {
        for (size_t i = 0; i < s->attrs.count; i++) {
            jsonw_key_iov(w, s->attrs.items[i].key);
            value_cut(w, &s->attrs.items[i].value, max, needs_cut(&s->attrs.items[i], max, 0));
        }
        if (!full)
            derived = write_derived_tokens(w, rec, s);
        if (max > 0)
            write_truncation_marker(w, s, max);
        if (extra != NULL && extra->replaces_placeholder) { /* the Canvas merges attributes shallowly */
            jsonw_key_lit(w, "arbor.placeholder");
            jsonw_bool(w, 0);
        }
    } else {
        jsonw_key_lit(w, "arbor.decode_error");
        jsonw_bool(w, 1);
    }
    jsonw_object_end(w);
    if (derived) { /* additive: which attributes Arbor added (the UI marks them) */
        jsonw_key_lit(w, "derived_attributes");
        jsonw_array(w);
        if (derived & OTLP_TOKENS_IN)
            jsonw_cstr(w, "gen_ai.usage.input_tokens");
        if (derived & OTLP_TOKENS_OUT)
            jsonw_cstr(w, "gen_ai.usage.output_tokens");
        jsonw_array_end(w);
    }
}

/* Exact nanoseconds as a string (a JSON number loses precision past 2^53); 0 is "0". */
static void write_unix_nano(jsonw_t *w, const char *key, uint64_t ns)
{
    char text[24];
    jsonw_key(w, key);
    jsonw_raw(w, text, (size_t)snprintf(text, sizeof text, "\"%llu\"", (unsigned long long)ns));
}

static void write_events(jsonw_t *w, const otlp_span_t *s, size_t max, int full)
{
    jsonw_key_lit(w, "events");
    jsonw_array(w);
    for (size_t e = 0; s && e < s->n_events; e++) {
        const otlp_event_t *ev = &s->events[e];
        int ce = otlp_is_content_event(ev->name);
        jsonw_object(w);
        jsonw_key_lit(w, "name");
        jsonw_str(w, ev->name);
        jsonw_key_lit(w, "time");
        jsonw_time(w, ev->time_ns);
        jsonw_key_lit(w, "attributes");
        jsonw_object(w);
        for (size_t i = 0; i < ev->attrs.count; i++) {
            jsonw_key_iov(w, ev->attrs.items[i].key);
            value_cut(w, &ev->attrs.items[i].value, max, needs_cut(&ev->attrs.items[i], max, ce));
        }
        jsonw_object_end(w);
        if (full) { /* the time whole, as the span's own start_time_unix_nano */
            write_unix_nano(w, "time_unix_nano", ev->time_ns);
            jsonw_key_lit(w, "dropped_attributes_count");
            jsonw_uint(w, ev->dropped_attrs);
        }
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

static void write_links(jsonw_t *w, const otlp_span_t *s, int full)
{
    jsonw_key_lit(w, "links");
    jsonw_array(w);
    for (size_t i = 0; s && i < s->n_links; i++) {
        const otlp_link_t *l = &s->links[i];
        jsonw_object(w);
        jsonw_key_lit(w, "trace_id");
        jsonw_hex(w, l->trace_id.base, l->trace_id.len);
        jsonw_key_lit(w, "span_id");
        jsonw_hex(w, l->span_id.base, l->span_id.len);
        jsonw_key_lit(w, "attributes");
        span_json_attrs(w, &l->attrs);
        if (full) {
            jsonw_key_lit(w, "trace_state");
            jsonw_str(w, l->trace_state);
            jsonw_key_lit(w, "flags");
            jsonw_uint(w, l->flags);
            jsonw_key_lit(w, "dropped_attributes_count");
            jsonw_uint(w, l->dropped_attrs);
        }
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

static void write_span(jsonw_t *w, const arbor_span_rec_t *rec, const otlp_span_t *s, const span_render_t *o,
                       const span_extra_t *extra, int full)
{
    size_t max = full ? 0 : o->preview_max;
    jsonw_object(w);
    jsonw_key_lit(w, "span_id");
    jsonw_hex(w, rec->span_id, 8);
    jsonw_key_lit(w, "parent_span_id");
    if (rec->has_parent)
        jsonw_hex(w, rec->parent_span_id, 8);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "name");
    jsonw_str(w, s ? s->name : rec->name);
    jsonw_key_lit(w, "start_time");
    jsonw_time(w, span_json_shown_start(rec));
    jsonw_key_lit(w, "end_time");
    jsonw_time(w, rec->end_ns);
    write_attributes(w, rec, s, max, extra, full);
    write_events(w, s, max, full);
    write_status(w, rec->status_code, s ? s->status_message : ARBOR_IOV_NULL);
    write_links(w, s, full);
    /* additive fields */
    jsonw_key_lit(w, "trace_id");
    jsonw_hex(w, rec->trace_id, 16);
    jsonw_key_lit(w, "kind");
    jsonw_cstr(w, span_json_kind_name(rec->kind));
    span_json_tokens(w, "token_usage", rec->tokens_in, rec->tokens_out);
    if (s != NULL)
        write_artifacts(w, s, o);
    jsonw_key_lit(w, "seq");
    jsonw_uint(w, rec->seq);
    write_extra(w, extra);
}

/* 1 when the stored span decodes. Its span, event and link attributes come with
 * each key once (the last value of a repeated one): every object written from
 * them, and everything read from them (tokens, artifacts), agree. */
static int decode(arbor_arena_t *arena, const arbor_span_rec_t *rec, otlp_span_t *s)
{
    arbor_iov_t bytes;
    if (arbor_span_bytes(rec, arena, &bytes) != 0 || otlp_span_decode(arena, bytes.base, bytes.len, s) != 0)
        return 0;
    int rc = otlp_attrs_unique(arena, &s->attrs, &s->attrs);
    for (size_t i = 0; rc == 0 && i < s->n_events; i++)
        rc = otlp_attrs_unique(arena, &s->events[i].attrs, &s->events[i].attrs);
    for (size_t i = 0; rc == 0 && i < s->n_links; i++)
        rc = otlp_attrs_unique(arena, &s->links[i].attrs, &s->links[i].attrs);
    return rc == 0;
}

void span_json_write(jsonw_t *w, arbor_arena_t *arena, const arbor_span_rec_t *rec, const span_render_t *o,
                     const span_extra_t *extra)
{
    otlp_span_t s;
    int ok = decode(arena, rec, &s);
    write_span(w, rec, ok ? &s : NULL, o, extra, 0);
    jsonw_object_end(w);
}

void span_json_full(jsonw_t *w, arbor_arena_t *arena, arbor_reader_t *r, const arbor_span_rec_t *rec,
                    const span_render_t *o)
{
    otlp_span_t s;
    otlp_resource_t res;
    otlp_scope_t scope;
    arbor_iov_t bytes;
    int ok = decode(arena, rec, &s);
    write_span(w, rec, ok ? &s : NULL, o, NULL, 1);
    if (ok) {
        jsonw_key_lit(w, "trace_state");
        jsonw_str(w, s.trace_state);
        jsonw_key_lit(w, "flags");
        jsonw_uint(w, s.flags);
        write_unix_nano(w, "start_time_unix_nano", s.start_ns);
        write_unix_nano(w, "end_time_unix_nano", s.end_ns);
        jsonw_key_lit(w, "dropped_attributes_count");
        jsonw_uint(w, s.dropped_attrs);
        jsonw_key_lit(w, "dropped_events_count");
        jsonw_uint(w, s.dropped_events);
        jsonw_key_lit(w, "dropped_links_count");
        jsonw_uint(w, s.dropped_links);
    }
    jsonw_key_lit(w, "resource");
    if (arbor_reader_record(r, ARBOR_RECORD_RESOURCE, rec->resource_ref, &bytes) == 0 &&
        otlp_resource_record_decode(arena, bytes.base, bytes.len, &res) == 0) {
        jsonw_object(w);
        jsonw_key_lit(w, "attributes");
        span_json_attrs(w, &res.attrs);
        jsonw_key_lit(w, "dropped_attributes_count");
        jsonw_uint(w, res.dropped_attrs);
        jsonw_key_lit(w, "schema_url");
        jsonw_str(w, res.schema_url);
        jsonw_object_end(w);
    } else {
        jsonw_null(w);
    }
    jsonw_key_lit(w, "scope");
    if (arbor_reader_record(r, ARBOR_RECORD_SCOPE, rec->scope_ref, &bytes) == 0 &&
        otlp_scope_record_decode(arena, bytes.base, bytes.len, &scope) == 0) {
        jsonw_object(w);
        jsonw_key_lit(w, "name");
        jsonw_str(w, scope.name);
        jsonw_key_lit(w, "version");
        jsonw_str(w, scope.version);
        jsonw_key_lit(w, "attributes");
        span_json_attrs(w, &scope.attrs);
        jsonw_key_lit(w, "dropped_attributes_count");
        jsonw_uint(w, scope.dropped_attrs);
        jsonw_key_lit(w, "schema_url");
        jsonw_str(w, scope.schema_url);
        jsonw_object_end(w);
    } else {
        jsonw_null(w);
    }
    jsonw_object_end(w);
}

void span_json_placeholder(jsonw_t *w, const arbor_span_rec_t *rec, const span_extra_t *extra)
{
    jsonw_object(w);
    jsonw_key_lit(w, "span_id");
    jsonw_hex(w, rec->span_id, 8);
    jsonw_key_lit(w, "parent_span_id");
    jsonw_null(w);
    jsonw_key_lit(w, "name");
    jsonw_str(w, rec->name);
    jsonw_key_lit(w, "start_time");
    jsonw_time(w, rec->start_ns);
    jsonw_key_lit(w, "end_time");
    jsonw_time(w, rec->end_ns);
    jsonw_key_lit(w, "attributes");
    jsonw_object(w);
    jsonw_key_lit(w, "arbor.placeholder");
    jsonw_bool(w, 1);
    jsonw_object_end(w);
    jsonw_key_lit(w, "events");
    jsonw_array(w);
    jsonw_array_end(w);
    write_status(w, 0, ARBOR_IOV_NULL);
    jsonw_key_lit(w, "links");
    jsonw_array(w);
    jsonw_array_end(w);
    jsonw_key_lit(w, "trace_id");
    jsonw_hex(w, rec->trace_id, 16);
    jsonw_key_lit(w, "kind");
    jsonw_cstr(w, "UNSPECIFIED");
    span_json_tokens(w, "token_usage", 0, 0);
    write_extra(w, extra);
    jsonw_object_end(w);
}
