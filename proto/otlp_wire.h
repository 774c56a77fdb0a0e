/* Private to proto/ and its tests: the wire decoder and the protobuf-c decoder
 * it stands beside. No generated header here, so tests can include it. */
#ifndef ARBOR_OTLP_WIRE_H
#define ARBOR_OTLP_WIRE_H

#include "otlp.h"

#include <stdint.h>

/* Binary OTLP decoded straight into views (otlp_wire.c). Spans get pb = NULL and
 * their bytes as received; resources and scopes get pb as protobuf-c's. 0,
 * ENOMEM, or OTLP_WIRE_FALLBACK: the input is outside the shape this decoder
 * reads exactly as protobuf-c does (malformed ones included), and the caller
 * decodes it with protobuf-c, which also gives the error. */
#define OTLP_WIRE_FALLBACK ARBOR_ENOTSUP
int otlp_wire_request(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out);
int otlp_wire_span(arbor_arena_t *arena, arbor_iov_t bytes, otlp_span_t *out);
/* A stored resource / scope record (a ResourceSpans / ScopeSpans without children). */
int otlp_wire_resource_record(arbor_arena_t *arena, arbor_iov_t bytes, otlp_resource_t *out);
int otlp_wire_scope_record(arbor_arena_t *arena, arbor_iov_t bytes, otlp_scope_t *out);
/* The protobuf-c decoder alone (otlp_request_decode() without the wire path):
 * the fallback, and the reference test_otlp_wire.c compares the wire path with. */
int otlp_request_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_request_t *out, char *err,
                            size_t errlen);
int otlp_span_decode_pbc(arbor_arena_t *arena, const void *buf, size_t len, otlp_span_t *out);

/* otlp_span_redact() without its shortcut for wire-path spans: the walk over
 * the span's bytes always runs (the fuzz target checks the two agree). */
int otlp_span_redact_walk(const otlp_redactor_t *r, otlp_span_t *s, arbor_arena_t *arena, size_t *count);

/* Give a wire-path span its protobuf-c message (unpacked from s->wire), for a
 * change that must be encoded again. 0, ENOMEM or ARBOR_EDECODE. */
int otlp_span_ensure_pb(arbor_arena_t *arena, otlp_span_t *s);

/* ---- reading the wire format: shared by the decoder and the redactor ---- */

typedef struct {
    const uint8_t *p, *end;
} cur_t;

typedef struct {
    uint32_t field;
    int type;     /* wire type */
    uint64_t num; /* types 0, 1, 5 */
    arbor_iov_t bytes; /* type 2 */
} field_t;

/* A varint of at most @p max_bytes; -1 past the end or the limit. */
static inline int rd_varint(cur_t *c, int max_bytes, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes && c->p < c->end; i++) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* The next field of the message, or 1 at its end; OTLP_WIRE_FALLBACK for
 * anything protobuf-c reads differently or refuses (tags and lengths of over
 * five bytes, field 0 or past 2^29, groups, truncation). */
static inline __attribute__((always_inline)) int next_field(cur_t *c, field_t *f)
{
    uint64_t key, len;
    f->num = 0;
    f->bytes = ARBOR_IOV_NULL;
    if (c->p >= c->end)
        return 1;
    if (rd_varint(c, 5, &key) != 0 || key > UINT32_MAX || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return OTLP_WIRE_FALLBACK;
    f->field = (uint32_t)(key >> 3);
    f->type = (int)(key & 7);
    switch (f->type) {
    case 0:
        return rd_varint(c, 10, &f->num) == 0 ? 0 : OTLP_WIRE_FALLBACK;
    case 1:
    case 5: {
        size_t n = f->type == 1 ? 8 : 4;
        if ((size_t)(c->end - c->p) < n)
            return OTLP_WIRE_FALLBACK;
        f->num = 0;
        for (size_t i = 0; i < n; i++)
            f->num |= (uint64_t)c->p[i] << (8 * i);
        c->p += n;
        return 0;
    }
    case 2:
        if (rd_varint(c, 5, &len) != 0 || len > UINT32_MAX || len > (uint64_t)(c->end - c->p))
            return OTLP_WIRE_FALLBACK;
        f->bytes = arbor_iov(c->p, (size_t)len);
        c->p += len;
        return 0;
    default:
        return OTLP_WIRE_FALLBACK;
    }
}

static inline cur_t cursor(arbor_iov_t m)
{
    return (cur_t){(const uint8_t *)m.base, (const uint8_t *)m.base + m.len};
}

#endif
