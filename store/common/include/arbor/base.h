/**
 * @file base.h
 * @brief Shared vocabulary of every Arbor module: pointer+length strings, the one
 *        error-code space, and the per-request arena.
 *
 * Error codes: functions return int. 0 is success, a positive value is an errno
 * passed through, and everything else is an Arbor code: the storage engine's
 * (-30799 .. -30780, LMDB's values, which the store returns as they are; the ones
 * callers act on are named below) and Arbor's own (-31000 and below).
 * arbor_strerror() names them all; nothing outside store/ needs <lmdb.h>.
 */
#ifndef ARBOR_BASE_H
#define ARBOR_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** A borrowed byte string: not NUL-terminated, owned by whoever handed it out. */
typedef struct {
    const char *base;
    size_t len;
} arbor_iov_t;

/** The tenant of a store without multitenancy (Tempo's name for it). */
#define ARBOR_DEFAULT_TENANT "single-tenant"

#define ARBOR_IOV(lit) ((arbor_iov_t){(lit), sizeof(lit) - 1})
#define ARBOR_IOV_NULL ((arbor_iov_t){NULL, 0})

static inline arbor_iov_t arbor_iov(const void *base, size_t len)
{
    return (arbor_iov_t){(const char *)base, len};
}

static inline int arbor_iov_eq(arbor_iov_t a, arbor_iov_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static inline int arbor_iov_eq_str(arbor_iov_t a, const char *s)
{
    return arbor_iov_eq(a, arbor_iov(s, strlen(s)));
}

/** @defgroup storage_errors Storage engine codes callers act on (LMDB's values) @{ */
#define ARBOR_ESTORE_FIRST (-30799) /**< the storage engine's range: ARBOR_ESTORE_FIRST..ARBOR_ESTORE_LAST */
#define ARBOR_EFULL (-30792)        /**< the store's map is full (MDB_MAP_FULL): retention or a larger map */
#define ARBOR_EREADERS (-30790)     /**< every reader slot is taken (MDB_READERS_FULL) */
#define ARBOR_ETXNFULL (-30788)     /**< one transaction holds too many pages (MDB_TXN_FULL) */
#define ARBOR_ESTORE_LAST (-30780)
/** @} */

/** @defgroup errors Arbor return codes (below the storage engine's range) @{ */
#define ARBOR_EDECODE (-31000)   /**< input could not be decoded */
#define ARBOR_ETOOBIG (-31001)   /**< input exceeds a configured limit */
#define ARBOR_EBUSY (-31002)     /**< writer queue full: retry later */
#define ARBOR_ENOTFOUND (-31003) /**< no such trace / execution / span */
#define ARBOR_ECONFIG (-31004)   /**< invalid configuration value */
#define ARBOR_ESHUTDOWN (-31005) /**< component is shutting down */
#define ARBOR_EFORMAT (-31006)   /**< store written by an incompatible version */
#define ARBOR_ENOSTORE (-31007)  /**< store not created yet (reader before writer) */
#define ARBOR_ELOCKED (-31008)   /**< another process holds the data directory's writer lock */
#define ARBOR_ENOTSUP (-31009)   /**< a valid request asks for something not implemented */
#define ARBOR_ETIMEDOUT (-31010) /**< a query ran out of its time or work budget */
#define ARBOR_ERATE (-31011)     /**< a tenant's spans-per-second limit: retry later */
#define ARBOR_ELIMIT (-31012)    /**< a tenant's per-trace limit (spans or bytes): retrying will not help */
/** @} */

/** Human-readable text for any code of the space above; never NULL. */
const char *arbor_strerror(int rc);

/**
 * The daemons' allocation policy (c-style §7.11): these abort on out-of-memory,
 * so request paths carry no failure branch for it. The store library never uses
 * them (it returns ENOMEM and leaves its state as it was). A size of 0 asks for 1.
 */
void *arbor_xmalloc(size_t n);
void *arbor_xcalloc(size_t n, size_t size);
void *arbor_xrealloc(void *p, size_t n);
char *arbor_xstrdup(const char *s);
/** @p p, or abort when it is NULL: for allocations made through other APIs. */
void *arbor_xcheck(void *p);

/**
 * Split @p csv (NULL: empty) at any byte of @p seps into a NULL-terminated
 * array, empty items skipped ("a, b,,c" with ", " is a b c). One allocation
 * holds the array and the strings: free() releases both. Aborts on OOM.
 */
char **arbor_split_list(const char *csv, const char *seps);

/**
 * Arena: a bump allocator for everything one request or batch needs, released in
 * one call. Not thread-safe; one arena per request.
 * The limit bounds total bytes so hostile input cannot exhaust memory.
 */
typedef struct arbor_arena_chunk arbor_arena_chunk_t;
typedef struct {
    arbor_arena_chunk_t *head;
    size_t chunk_size;
    size_t used;  /**< bytes handed out plus chunk overhead */
    size_t limit; /**< 0 = unlimited */
    int overflowed; /**< set once an allocation was refused for the limit */
} arbor_arena_t;

/** Initialise an empty arena; cannot fail (first chunk is allocated lazily). */
void arbor_arena_init(arbor_arena_t *a, size_t chunk_size, size_t limit);
/** 16-byte aligned block, or NULL on ENOMEM / limit. Freed by reset or free. */
void *arbor_arena_alloc(arbor_arena_t *a, size_t n);
void *arbor_arena_calloc(arbor_arena_t *a, size_t n);
/** Copy of [p, p+n) plus a NUL; NULL on failure. */
char *arbor_arena_dup(arbor_arena_t *a, const void *p, size_t n);
/** Release everything allocated; the arena stays usable. */
void arbor_arena_free(arbor_arena_t *a);
/** Forget everything allocated but keep the first ordinary chunk for reuse: for
 *  loops that allocate per item (per span), instead of a free and a malloc each. */
void arbor_arena_reset(arbor_arena_t *a);

/** Lowercase hex of @p n bytes into @p out (2n chars + NUL). */
void arbor_hex_encode(char *out, const void *bytes, size_t n);
/** Decode exactly 2n hex chars (either case) into @p out; 0 or ARBOR_EDECODE. */
int arbor_hex_decode(void *out, size_t n, const char *hex, size_t hexlen);
/** 1 if all @p n bytes are zero. */
int arbor_is_zero(const void *p, size_t n);

/**
 * 64-bit hash of a short byte string (IDs). IDs are usually random, but some
 * senders use sequential ones; a full avalanche mix keeps hash tables flat
 * either way (splitmix64's finalizer over 8-byte words).
 */
static inline uint64_t arbor_hash_id(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i < 8 ? n - i : 8);
        h ^= w;
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebull;
        h ^= h >> 31;
    }
    return h;
}

/** 1 if @p d converts to int64_t without undefined behaviour (a margin below
 * 2^63 keeps rounding out of it; NaN is 0). */
static inline int arbor_double_fits_int64(double d)
{
    return d > -9.2e18 && d < 9.2e18;
}

/** Wall clock in nanoseconds since the epoch. */
uint64_t arbor_now_ns(void);
/** Monotonic clock in nanoseconds. */
uint64_t arbor_mono_ns(void);

#endif
