/* Private to store/: the environment handle, key layouts and value codecs.
 * docs/storage.md describes the same layout for people. */
#ifndef ARBOR_STORE_INTERNAL_H
#define ARBOR_STORE_INTERNAL_H

#include "arbor/map64.h"
#include "arbor/store.h"

#include <endian.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <string.h>

/* 4: a request's spans of one trace may share one compressed block (the blocks
 * index; span flag 16). 3: spans may be LZ4 blocks (flag 8). Formats 2 and 3
 * are the same layout without them: this version reads them as they are, and a
 * writer opening one marks it 4 (a format-3 binary would take a block
 * reference for span bytes). */
#define ARBOR_FORMAT_VERSION 4
#define ARBOR_FORMAT_OLDEST 2

/* DBI_BLOCKS came with format 4, DBI_ARTIFACTS and DBI_PENDING later (without a
 * format change: a store without them reads as having none of their entries). */
enum {
    DBI_META, DBI_SPANS, DBI_TRACES, DBI_TIME, DBI_EXECS, DBI_FEED, DBI_RECORDS, DBI_TAGS, DBI_BLOCKS,
    DBI_ARTIFACTS, DBI_PENDING, DBI_COUNT
};
#define DBI_FIRST_LATE DBI_BLOCKS
extern const char *const arbor_dbi_names[DBI_COUNT];

typedef struct arbor_block_cache arbor_block_cache_t;

struct arbor_store {
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
    int read_only;
    int lock_fd; /* writer only: holds DIR/writer.lock (flock) for the store's lifetime */
    arbor_sync_mode_t sync;
    uint64_t next_seq; /* writer only: sequence the next span gets */
    /* writer only: tag-catalog entries known to exist (by hash), and values added
     * per key since start; bounded, rebuilt lazily after a restart */
    arbor_map64_t tags_known;
    arbor_map64_t key_counts; /* values added per tag key since start */
    /* a reader of an older store finds no blocks, artifacts or pending index
     * until a writer makes it: arbor__late_dbi() opens it then (atomic; lock below) */
    int have[DBI_COUNT];
    pthread_mutex_t dbi_lock;
    arbor_block_cache_t *block_cache; /* decompressed blocks, shared by the readers */
};

/* block_cache.c: decompressed blocks by key (BLOCK_KEY_LEN bytes), within a byte budget. Thread-safe. */
arbor_block_cache_t *arbor__block_cache_new(size_t max_bytes);
void arbor__block_cache_free(arbor_block_cache_t *c);
/* Copy a span's bytes out of a cached block into @p arena: 0, ARBOR_ENOTFOUND (not cached), ARBOR_EDECODE, ENOMEM. */
int arbor__block_cache_cut(arbor_block_cache_t *c, const uint8_t *key, const arbor_block_ref_t *ref,
                           arbor_arena_t *arena, arbor_iov_t *out);
/* A span's part of a block's raw bytes, copied into @p arena: 0, ARBOR_EDECODE (it does not fit), ENOMEM. */
int arbor__block_cut(const uint8_t *raw, size_t raw_len, const arbor_block_ref_t *ref, arbor_arena_t *arena,
                     arbor_iov_t *out);
/* Keep @p raw (malloc'd; taken over, freed if not kept). */
void arbor__block_cache_put(arbor_block_cache_t *c, const uint8_t *key, uint8_t *raw, size_t len);

/* An index newer than the store may be (DBI_FIRST_LATE and after), opened on
 * first need in a reader: 0 with *dbi set, or ARBOR_ENOTFOUND while no writer
 * has made it. */
int arbor__late_dbi(arbor_store_t *s, int which, MDB_dbi *dbi);
/* Open every late index that now exists, before a snapshot that will use them
 * begins (a handle opened after cannot be used in it). */
void arbor__late_dbis_open(arbor_store_t *s);

/* Tenant ids: 4 bytes at the front of every key. 0 = tenant unknown to the store. */
int arbor__tenant_id(MDB_txn *txn, arbor_store_t *s, arbor_iov_t name, int create, uint32_t *id);
/* Visit each span entry of one trace in key order. @p next moves the cursor on:
 * MDB_NEXT, or MDB_GET_CURRENT when @p fn deleted the entry it was given (LMDB
 * then leaves the cursor on the following one). A non-zero return stops the walk
 * and is returned. */
typedef int (*arbor__span_kv_fn)(void *ctx, MDB_cursor *cur, const MDB_val *key, MDB_val *val);
int arbor__walk_trace(MDB_txn *txn, arbor_store_t *s, uint32_t tenant, const uint8_t *trace_id, MDB_cursor_op next,
                      arbor__span_kv_fn fn, void *ctx);
/* The same over every entry of @p dbi whose key starts with @p prefix. */
int arbor__walk_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len, MDB_cursor_op next,
                       arbor__span_kv_fn fn, void *ctx);
/* After mdb_cursor_del the cursor already sits on the following entry: read it
 * with GET_CURRENT. Deleting a database's last entry leaves the cursor
 * uninitialised, which GET_CURRENT reports as EINVAL: that is the end too
 * (retention could never delete a store's last trace). */
static inline int arbor__cursor_after_del(MDB_cursor *cur, MDB_val *key, MDB_val *val)
{
    int rc = mdb_cursor_get(cur, key, val, MDB_GET_CURRENT);
    return rc == EINVAL ? MDB_NOTFOUND : rc;
}

/* mdb_txn_commit, with a full disk told apart: LMDB reports a short write as
 * EIO, which the filesystem having no space left turns into ENOSPC. */
int arbor__txn_commit(arbor_store_t *s, MDB_txn *txn);

/* A store from before the pending index: give every announced trace that still
 * has no span a pending entry made at @p now_ns (its TTL runs from there). */
int arbor__pending_backfill(MDB_txn *txn, arbor_store_t *s, uint64_t now_ns);

/* Highest sequence retention has deleted (meta/expired_seq), 0 if none. */
uint64_t arbor__expired_seq(MDB_txn *txn, arbor_store_t *s);

/* ---- byte order: keys are big-endian so that LMDB's memcmp order is numeric order;
 * values are little-endian. */
/* One load or store each: the byte-at-a-time loops they replace were not merged
 * by the compiler at -O2 (a span header's eleven fields cost ~500 instructions). */
static inline void be32_put(uint8_t *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, 4);
}
static inline uint32_t be32_get(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return be32toh(v);
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, 8);
}
static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}
static inline void le64_put(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}
static inline uint64_t le64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}
static inline void le32_put(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}
static inline uint32_t le32_get(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}
static inline void le16_put(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, 2);
}
static inline uint16_t le16_get(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return le16toh(v);
}

/* ---- key layouts ---- */
#define SPAN_KEY_LEN (4 + 16 + 8)   /* tenant | trace_id | span_id */
#define TRACE_KEY_LEN (4 + 16)      /* tenant | trace_id */
#define TIME_KEY_LEN (4 + 8 + 16)   /* tenant | start_ns | trace_id */
#define FEED_KEY_LEN (4 + 8)        /* tenant | seq  -> trace_id | span_id */
#define RECORD_KEY_LEN (4 + 1 + 8)  /* tenant | kind | ref */
#define BLOCK_KEY_LEN (4 + 16 + 8)  /* tenant | trace_id | block id */
#define EXEC_KEY_MAX (4 + 1 + ARBOR_MAX_EXECUTION_ID + 16) /* tenant | len | id | trace_id */
/* artifacts: tenant | 'a' | len | artifact id | trace_id (who may download it), and
 * the same pair as tenant | 't' | trace_id | len | artifact id (what a trace's deletion takes) */
#define ARTIFACT_KEY_MAX (4 + 1 + 1 + ARBOR_MAX_ARTIFACT_ID + 16)
#define ARTIFACT_BY_ID 'a'
#define ARTIFACT_BY_TRACE 't'
/* pending: tenant | trace_id -> announced_ns (u64 LE): announced traces without a span yet */
#define PENDING_KEY_LEN TRACE_KEY_LEN

/* An artifacts key (ARTIFACT_BY_ID or ARTIFACT_BY_TRACE) into @p k; its length. */
static inline size_t arbor__artifact_key(uint8_t *k, uint32_t tenant, uint8_t by, arbor_iov_t id,
                                         const uint8_t *trace_id)
{
    be32_put(k, tenant);
    k[4] = by;
    if (by == ARTIFACT_BY_ID) {
        k[5] = (uint8_t)id.len;
        memcpy(k + 6, id.base, id.len);
        memcpy(k + 6 + id.len, trace_id, 16);
    } else {
        memcpy(k + 5, trace_id, 16);
        k[21] = (uint8_t)id.len;
        memcpy(k + 22, id.base, id.len);
    }
    return 6 + id.len + 16;
}
static inline void block_key(uint8_t *k, uint32_t tenant, const uint8_t *trace_id, uint64_t id)
{
    be32_put(k, tenant);
    memcpy(k + 4, trace_id, 16);
    be64_put(k + 20, id);
}
/* tag catalog: tenant | scope | klen | key | vtype | vlen | value */
#define ATTR_KEY_MAX (4 + 1 + 1 + ARBOR_ATTR_MAX_KEY + 1 + 1 + ARBOR_ATTR_MAX_VALUE)
/* Set the bloom bits of one attribute value (and its integer form for integral
 * doubles); 1 if any bit was new. */
int arbor__bloom_add(uint8_t *bloom, int scope, arbor_iov_t key, int vtype, arbor_iov_t str, int64_t i, double d);
/* Encode the attribute-key prefix up to and including the value; returns its
 * length, or 0 when key or value is too long to be indexed. */
size_t arbor__attr_prefix(uint8_t *out, uint32_t tenant, int scope, arbor_iov_t key, int with_value, int vtype,
                          arbor_iov_t str, int64_t i, double d);
/* Decode the value part of an attribute key at @p p (after klen|key). */
int arbor__attr_value(const uint8_t *p, size_t n, arbor_attr_value_t *v, size_t *used);

/* ---- span value: a fixed header, the span name, then the OTLP Span bytes ---- */
#define SPAN_HDR_LEN 80
#define SPAN_MAX_NAME 1024
size_t arbor__span_name_len(const arbor_span_in_t *in);
enum {
    SPAN_F_PARENT = 1,
    SPAN_F_TOKENS = 2,
    SPAN_F_ZSTD = 4, /* span bytes are one zstd frame against arbor__span_dict */
    SPAN_F_LZ4 = 8,  /* span bytes are u32le raw length + one LZ4 block against arbor__span_dict */
    SPAN_F_BLOCK = 16, /* instead of span bytes: a block reference (SPAN_REF_LEN) */
};
/* block reference after the name: block id u64 | offset u32 | length u32 | share u32 (all LE) */
#define SPAN_REF_LEN 20
/* block value: version(1) | codec(1) | 0(2) | live spans u32 | spans u32 | payload (as span bytes of that codec) */
#define BLOCK_HDR_LEN ARBOR_BLOCK_HEADER_BYTES
#define ARBOR_BLOCK_MAX_BYTES (64u << 20) /* a decompressed block larger than this is corrupt */
/* A span's message from its block, copied into @p arena: from the store's block
 * cache, else read in @p r's snapshot (and, when compressed, decompressed once
 * and cached). 0, ARBOR_ENOTFOUND, ARBOR_EDECODE or ENOMEM. */
int arbor__reader_block_cut(arbor_reader_t *r, const uint8_t *trace_id, const arbor_block_ref_t *ref,
                            arbor_arena_t *arena, arbor_iov_t *out);
/* The raw bytes of a block as stored (decompressed into @p arena when packed). */
int arbor__block_unpack(const MDB_val *v, arbor_arena_t *arena, arbor_iov_t *raw);
/* A compressed block decompressed into a buffer of its own (*raw, malloc'd: the
 * block cache keeps it): 0, ARBOR_EDECODE, ENOMEM, or EINVAL for a plain block. */
int arbor__block_unpack_owned(const MDB_val *v, uint8_t **raw, size_t *len);
#define ARBOR_SPAN_MAX_BYTES (64u << 20) /* a decompressed span larger than this is corrupt */
/* Span bytes (or a block payload) of @p codec decompressed into @p arena; at most @p max bytes. */
int arbor__unpack(arbor_span_codec_t codec, arbor_iov_t in, size_t max, arbor_arena_t *arena, arbor_iov_t *out);
#define SPAN_COMPRESS_MIN 128 /* smaller span messages are stored as they are */
/* On an 800-byte span with the dictionary: zstd level -1 takes ~2.9 us to
 * compress and ~0.5 us to decompress for 0.645 of the size (level 1: 6.4 us for
 * 0.60; its Huffman tables are most of the cost); LZ4 takes ~1.2 / 0.14 us for
 * 0.67. */
#define SPAN_ZSTD_LEVEL (-1)
extern const char arbor__span_dict[];
extern const size_t arbor__span_dict_len;
/* Header and name into @p hdr (SPAN_HDR_LEN + arbor__span_name_len bytes). */
void arbor__span_hdr_encode(uint8_t *hdr, const arbor_span_in_t *in, uint64_t seq);
/* Fill @p out (except trace/span id) from a stored value; ARBOR_EDECODE if malformed. */
int arbor__span_hdr_decode(const MDB_val *v, arbor_span_rec_t *out);

/* ---- trace summary value ---- */
#define SUMMARY_FIXED_LEN 72
#define SUMMARY_MAX_NAME 1024
size_t arbor__summary_size(const arbor_trace_summary_t *t);
void arbor__summary_encode(uint8_t *out, const arbor_trace_summary_t *t);
int arbor__summary_decode(const MDB_val *v, arbor_trace_summary_t *out); /* strings borrowed from v */

#endif
