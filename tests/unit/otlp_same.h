/* Test helper: are two decoded OTLP requests the same, field for field? The
 * wire decoder (otlp_wire.c) must give exactly what protobuf-c gives; unit
 * test otlp-wire and the fuzz target fuzz-otlp compare them with this. Returns
 * NULL, or the path of the first difference (a static buffer). */
#ifndef ARBOR_TEST_OTLP_SAME_H
#define ARBOR_TEST_OTLP_SAME_H

#include "otlp_wire.h"

#include <stdio.h>
#include <string.h>

static char same_where[256];

static int same_fail(const char *what)
{
    snprintf(same_where, sizeof same_where, "%s", what);
    return 0;
}

/* A string's bytes up to its first NUL: protobuf-c's char * strings end there,
 * while the wire path keeps every byte (test_otlp_wire.c checks that apart). */
static size_t same_upto_nul(arbor_iov_t s)
{
    const char *z = s.len ? memchr(s.base, '\0', s.len) : NULL;
    return z ? (size_t)(z - s.base) : s.len;
}

/* Strings: the bytes (up to a NUL), and whether present (protobuf-c's "" and an
 * absent message's NULL differ). Bytes fields: the bytes only. */
static int same_str(arbor_iov_t a, arbor_iov_t b, const char *what)
{
    size_t na = same_upto_nul(a), nb = same_upto_nul(b);
    if (na != nb || (na && memcmp(a.base, b.base, na) != 0) || (a.base == NULL) != (b.base == NULL))
        return same_fail(what);
    return 1;
}

static int same_bytes(arbor_iov_t a, arbor_iov_t b, const char *what)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0) ? 1 : same_fail(what);
}

static int same_attrs(const otlp_attrs_t *a, const otlp_attrs_t *b);

static int same_value(const otlp_value_t *a, const otlp_value_t *b)
{
    if (a->type != b->type)
        return same_fail("value type");
    switch (a->type) {
    case OTLP_VALUE_STRING: return same_str(a->u.str, b->u.str, "string value");
    case OTLP_VALUE_BYTES: return same_bytes(a->u.str, b->u.str, "bytes value");
    case OTLP_VALUE_BOOL: return a->u.boolean == b->u.boolean ? 1 : same_fail("bool value");
    case OTLP_VALUE_INT: return a->u.i == b->u.i ? 1 : same_fail("int value");
    case OTLP_VALUE_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0 ? 1 : same_fail("double value");
    case OTLP_VALUE_KVLIST: return same_attrs(&a->u.kvlist, &b->u.kvlist);
    case OTLP_VALUE_ARRAY:
        if (a->u.array.count != b->u.array.count)
            return same_fail("array length");
        for (size_t i = 0; i < a->u.array.count; i++)
            if (!same_value(&a->u.array.items[i], &b->u.array.items[i]))
                return 0;
        return 1;
    default: return 1;
    }
}

static int same_attrs(const otlp_attrs_t *a, const otlp_attrs_t *b)
{
    if (a->count != b->count)
        return same_fail("attribute count");
    for (size_t i = 0; i < a->count; i++)
        if (!same_str(a->items[i].key, b->items[i].key, "attribute key") ||
            !same_value(&a->items[i].value, &b->items[i].value))
            return 0;
    return 1;
}

static int same_span(const otlp_span_t *a, const otlp_span_t *b)
{
    if (!same_bytes(a->trace_id, b->trace_id, "trace_id") || !same_bytes(a->span_id, b->span_id, "span_id") ||
        !same_bytes(a->parent_span_id, b->parent_span_id, "parent_span_id") ||
        !same_str(a->trace_state, b->trace_state, "trace_state") || !same_str(a->name, b->name, "name") ||
        !same_str(a->status_message, b->status_message, "status message") ||
        !same_bytes(a->wire, b->wire, "wire bytes") || !same_attrs(&a->attrs, &b->attrs))
        return 0;
    if (a->flags != b->flags || a->kind != b->kind || a->start_ns != b->start_ns || a->end_ns != b->end_ns ||
        a->dropped_attrs != b->dropped_attrs || a->dropped_events != b->dropped_events ||
        a->dropped_links != b->dropped_links || a->status_code != b->status_code)
        return same_fail("span scalar");
    if (a->n_events != b->n_events || a->n_links != b->n_links)
        return same_fail("event or link count");
    for (size_t i = 0; i < a->n_events; i++) {
        const otlp_event_t *x = &a->events[i], *y = &b->events[i];
        if (x->time_ns != y->time_ns || x->dropped_attrs != y->dropped_attrs)
            return same_fail("event scalar");
        if (!same_str(x->name, y->name, "event name") || !same_attrs(&x->attrs, &y->attrs))
            return 0;
    }
    for (size_t i = 0; i < a->n_links; i++) {
        const otlp_link_t *x = &a->links[i], *y = &b->links[i];
        if (x->flags != y->flags || x->dropped_attrs != y->dropped_attrs)
            return same_fail("link scalar");
        if (!same_bytes(x->trace_id, y->trace_id, "link trace_id") || !same_bytes(x->span_id, y->span_id, "link span_id") ||
            !same_str(x->trace_state, y->trace_state, "link trace_state") || !same_attrs(&x->attrs, &y->attrs))
            return 0;
    }
    return 1;
}

/* Resource and scope records as stored: the packed bytes must match too. */
static int same_record(arbor_arena_t *arena, size_t (*size)(const void *), size_t (*pack)(const void *, uint8_t *),
                       const void *a, const void *b, const char *what)
{
    size_t na = size(a), nb = size(b);
    uint8_t *x = arbor_arena_alloc(arena, na + 1), *y = arbor_arena_alloc(arena, nb + 1);
    if (x == NULL || y == NULL || na != nb || pack(a, x) != na || pack(b, y) != nb || memcmp(x, y, na) != 0)
        return same_fail(what);
    return 1;
}

/* Each side's record as protobuf-c encodes its message: the wire path stores the
 * bytes it received instead (test_otlp_wire.c checks those apart), which
 * protobuf-c reads as this same message. */
static otlp_resource_t same_res_msg(const void *r)
{
    otlp_resource_t c = *(const otlp_resource_t *)r;
    c.record = ARBOR_IOV_NULL;
    return c;
}
static otlp_scope_t same_scope_msg(const void *s)
{
    otlp_scope_t c = *(const otlp_scope_t *)s;
    c.record = ARBOR_IOV_NULL;
    return c;
}
static size_t same_res_size(const void *r) { otlp_resource_t c = same_res_msg(r); return otlp_resource_record_size(&c); }
static size_t same_res_pack(const void *r, uint8_t *o) { otlp_resource_t c = same_res_msg(r); return otlp_resource_record_pack(&c, o); }
static size_t same_scope_size(const void *s) { otlp_scope_t c = same_scope_msg(s); return otlp_scope_record_size(&c); }
static size_t same_scope_pack(const void *s, uint8_t *o) { otlp_scope_t c = same_scope_msg(s); return otlp_scope_record_pack(&c, o); }

static int same_scope(arbor_arena_t *arena, const otlp_scope_spans_t *a, const otlp_scope_spans_t *b)
{
    if (!same_str(a->scope.name, b->scope.name, "scope name") ||
        !same_str(a->scope.version, b->scope.version, "scope version") ||
        !same_str(a->scope.schema_url, b->scope.schema_url, "scope schema_url") ||
        !same_attrs(&a->scope.attrs, &b->scope.attrs))
        return 0;
    if (a->scope.dropped_attrs != b->scope.dropped_attrs || a->n_spans != b->n_spans)
        return same_fail("scope scalar or span count");
    if (!same_record(arena, same_scope_size, same_scope_pack, &a->scope, &b->scope, "scope record"))
        return 0;
    for (size_t i = 0; i < a->n_spans; i++)
        if (!same_span(&a->spans[i], &b->spans[i]))
            return 0;
    return 1;
}

static const char *otlp_same(arbor_arena_t *arena, const otlp_request_t *a, const otlp_request_t *b)
{
    if (a->count != b->count || a->n_spans != b->n_spans)
        return "resource or span count";
    for (size_t r = 0; r < a->count; r++) {
        const otlp_resource_spans_t *x = &a->items[r], *y = &b->items[r];
        if (!same_str(x->resource.schema_url, y->resource.schema_url, "resource schema_url") ||
            !same_attrs(&x->resource.attrs, &y->resource.attrs))
            return same_where;
        if (x->resource.dropped_attrs != y->resource.dropped_attrs || x->n_scopes != y->n_scopes)
            return "resource scalar or scope count";
        if (!same_record(arena, same_res_size, same_res_pack, &x->resource, &y->resource, "resource record"))
            return same_where;
        for (size_t s = 0; s < x->n_scopes; s++)
            if (!same_scope(arena, &x->scopes[s], &y->scopes[s]))
                return same_where;
    }
    return NULL;
}

#endif
