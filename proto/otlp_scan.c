/* A schema-aware walk over a binary ExportTraceServiceRequest that checks
 * structure and nesting depth, and notes where each span's bytes are. protobuf-c
 * recurses without a limit, so a body of arrays nested a million deep would
 * exhaust the stack; this walk refuses it first. The span ranges let ingest store
 * the bytes as received instead of packing each span again. */
#include "otlp_internal.h"

#include <errno.h>

enum msg { M_NONE, M_REQ, M_RS, M_RES, M_SS, M_SCOPE, M_SPAN, M_EVENT, M_LINK, M_KV, M_ANY, M_ARRAY, M_KVLIST };

/* Which message type a length-delimited field of @p m holds (M_NONE: a leaf). */
static enum msg child(enum msg m, uint32_t field)
{
    switch (m) {
    case M_REQ:
        return field == 1 ? M_RS : M_NONE;
    case M_RS:
        return field == 1 ? M_RES : field == 2 ? M_SS : M_NONE;
    case M_RES:
        return field == 1 ? M_KV : M_NONE;
    case M_SS:
        return field == 1 ? M_SCOPE : field == 2 ? M_SPAN : M_NONE;
    case M_SCOPE:
        return field == 3 ? M_KV : M_NONE;
    case M_SPAN:
        return field == 9 ? M_KV : field == 11 ? M_EVENT : field == 13 ? M_LINK : M_NONE;
    case M_EVENT:
        return field == 3 ? M_KV : M_NONE;
    case M_LINK:
        return field == 4 ? M_KV : M_NONE;
    case M_KV:
        return field == 2 ? M_ANY : M_NONE;
    case M_ANY:
        return field == 5 ? M_ARRAY : field == 6 ? M_KVLIST : M_NONE;
    case M_ARRAY:
        return field == 1 ? M_ANY : M_NONE;
    case M_KVLIST:
        return field == 1 ? M_KV : M_NONE;
    default:
        return M_NONE;
    }
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

typedef struct {
    int max_depth;
    otlp_wire_spans_t *spans; /* NULL: depth check only */
    arbor_arena_t *arena;
} walk_t;

/* Append one span's byte range, growing the array in the arena. */
static int note_span(walk_t *w, const uint8_t *p, size_t len)
{
    otlp_wire_spans_t *s = w->spans;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        arbor_iov_t *n = arbor_arena_alloc(w->arena, cap * sizeof *n);
        if (n == NULL)
            return ENOMEM;
        if (s->count)
            memcpy(n, s->items, s->count * sizeof *n);
        s->items = n;
        s->cap = cap;
    }
    s->items[s->count++] = arbor_iov(p, len);
    return 0;
}

static int walk(walk_t *w, const uint8_t *p, const uint8_t *end, enum msg m, int value_depth)
{
    while (p < end) {
        uint64_t key, len;
        if (varint(&p, end, &key) != 0)
            return ARBOR_EDECODE;
        uint32_t field = (uint32_t)(key >> 3);
        if (field == 0)
            return ARBOR_EDECODE;
        switch (key & 7) {
        case 0:
            if (varint(&p, end, &len) != 0)
                return ARBOR_EDECODE;
            break;
        case 1:
            if (end - p < 8)
                return ARBOR_EDECODE;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return ARBOR_EDECODE;
            p += 4;
            break;
        case 2: {
            if (varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
                return ARBOR_EDECODE;
            enum msg c = child(m, field);
            if (c != M_NONE) {
                int d = value_depth + (c == M_ARRAY || c == M_KVLIST);
                if (d > w->max_depth)
                    return ARBOR_ETOOBIG;
                if (c == M_SPAN && w->spans != NULL && note_span(w, p, (size_t)len) != 0)
                    return ENOMEM;
                int rc = walk(w, p, p + len, c, d);
                if (rc)
                    return rc;
            }
            p += len;
            break;
        }
        default: /* groups and reserved wire types are not used by OTLP */
            return ARBOR_EDECODE;
        }
    }
    return 0;
}

int otlp_scan(const uint8_t *buf, size_t len, int max_depth, arbor_arena_t *arena, otlp_wire_spans_t *spans)
{
    walk_t w = {max_depth, spans, arena};
    if (spans != NULL)
        memset(spans, 0, sizeof *spans);
    return walk(&w, buf, buf + len, M_REQ, 0);
}
