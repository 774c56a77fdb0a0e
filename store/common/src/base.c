/* Error strings, arena, hex and clock helpers shared by every binary. */
#include "arbor/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *arbor_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case ARBOR_EDECODE:
        return "input could not be decoded";
    case ARBOR_ETOOBIG:
        return "input exceeds the configured size limit";
    case ARBOR_EBUSY:
        return "writer queue is full";
    case ARBOR_ENOTFOUND:
        return "not found";
    case ARBOR_ECONFIG:
        return "invalid configuration";
    case ARBOR_ESHUTDOWN:
        return "shutting down";
    case ARBOR_EFORMAT:
        return "store format is not supported by this version";
    case ARBOR_ENOSTORE:
        return "store has not been created yet";
    case ARBOR_ELOCKED:
        return "data directory is in use by another writer";
    case ARBOR_ENOTSUP:
        return "not supported";
    case ARBOR_ETIMEDOUT:
        return "query ran out of its time or work budget";
    case ARBOR_ERATE:
        return "tenant's span rate limit exceeded";
    case ARBOR_ELIMIT:
        return "trace exceeds the tenant's per-trace limit";
    }
    /* the storage engine's codes, ARBOR_ESTORE_FIRST upwards (LMDB's, in its order) */
    static const char *const storage[] = {
        "key exists",           "not found",           "storage page not found",    "store is corrupted",
        "storage engine panic", "storage version mismatch", "not a store file",     "store is full (map size reached)",
        "too many databases",   "every reader slot is taken", "thread-local storage full", "transaction too large",
        "too many cursors",     "storage page full",   "store was resized by another process", "incompatible operation",
        "invalid reader slot",  "transaction no longer valid", "invalid key or value size", "database handle changed"};
    if (rc >= ARBOR_ESTORE_FIRST && rc <= ARBOR_ESTORE_LAST)
        return storage[rc - ARBOR_ESTORE_FIRST];
    return rc > 0 ? strerror(rc) : "unknown error";
}

void *arbor_xcheck(void *p)
{
    if (p == NULL)
        abort(); /* out of memory in a daemon: nothing sensible is left to do */
    return p;
}

void *arbor_xmalloc(size_t n)
{
    return arbor_xcheck(malloc(n ? n : 1));
}

void *arbor_xcalloc(size_t n, size_t size)
{
    return arbor_xcheck(calloc(n ? n : 1, size ? size : 1));
}

void *arbor_xrealloc(void *p, size_t n)
{
    return arbor_xcheck(realloc(p, n ? n : 1));
}

char *arbor_xstrdup(const char *s)
{
    return arbor_xcheck(strdup(s));
}

struct arbor_arena_chunk {
    arbor_arena_chunk_t *next;
    size_t size, off;
    _Alignas(16) unsigned char data[];
};

void arbor_arena_init(arbor_arena_t *a, size_t chunk_size, size_t limit)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 16384;
    a->used = 0;
    a->limit = limit;
    a->overflowed = 0;
}

void *arbor_arena_alloc(arbor_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arbor_arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->off < n) {
        size_t size = n > a->chunk_size / 2 ? n : a->chunk_size;
        if (a->limit != 0 && a->used + size + sizeof(*c) > a->limit) {
            a->overflowed = 1;
            return NULL;
        }
        arbor_arena_chunk_t *nc = malloc(sizeof(*nc) + size);
        if (nc == NULL)
            return NULL;
        nc->size = size;
        nc->off = 0;
        a->used += size + sizeof(*nc);
        if (c != NULL && size == n && c->size - c->off >= 256) {
            /* a big one-off block: keep the current chunk at the head for small allocations */
            nc->next = c->next;
            c->next = nc;
            nc->off = n;
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->off;
    c->off += n;
    return p;
}

void *arbor_arena_calloc(arbor_arena_t *a, size_t n)
{
    void *p = arbor_arena_alloc(a, n);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

char *arbor_arena_dup(arbor_arena_t *a, const void *p, size_t n)
{
    char *d = arbor_arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void arbor_arena_free(arbor_arena_t *a)
{
    arbor_arena_chunk_t *c = a->head;
    while (c != NULL) {
        arbor_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
    a->overflowed = 0;
}

void arbor_arena_reset(arbor_arena_t *a)
{
    arbor_arena_chunk_t *keep = NULL, *c = a->head;
    while (c != NULL) {
        arbor_arena_chunk_t *next = c->next;
        if (next == NULL && c->size == a->chunk_size) /* the oldest, of the ordinary size */
            keep = c;
        else
            free(c);
        c = next;
    }
    a->head = keep;
    a->used = keep ? keep->size + sizeof *keep : 0;
    a->overflowed = 0;
    if (keep) {
        keep->next = NULL;
        keep->off = 0;
    }
}

void arbor_hex_encode(char *out, const void *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int arbor_hex_decode(void *out, size_t n, const char *hex, size_t hexlen)
{
    unsigned char *o = out;
    if (hexlen != 2 * n)
        return ARBOR_EDECODE;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ARBOR_EDECODE;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int arbor_is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

uint64_t arbor_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t arbor_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char **arbor_split_list(const char *csv, const char *seps)
{
    size_t len = csv ? strlen(csv) : 0, n = 1;
    for (size_t i = 0; i < len; i++)
        n += strchr(seps, csv[i]) != NULL;
    /* at most n items: the pointers, then one copy of the text they point into */
    char **out = arbor_xmalloc((n + 1) * sizeof *out + len + 1);
    char *text = (char *)(out + n + 1), *save = NULL;
    memcpy(text, csv ? csv : "", len + 1);
    size_t k = 0;
    for (char *t = strtok_r(text, seps, &save); t; t = strtok_r(NULL, seps, &save))
        out[k++] = t;
    out[k] = NULL;
    return out;
}
