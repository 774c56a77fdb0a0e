/* Span bytes compression: zstd or LZ4, each against the built-in dictionary of
 * semantic-convention keys (span_dict.c). Spans are small and coded by the
 * thousand, so each thread keeps its own contexts, made on first use and freed
 * by the thread-exit destructors; the digested dictionaries are made once per
 * process and shared read-only. */
#include "store_internal.h"

#include <errno.h>
#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

static pthread_key_t dctx_key, cctx_key, lz4_key;
static pthread_once_t codec_once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *span_cdict;
static ZSTD_DDict *span_ddict;
/* A stream with the dictionary loaded: copied into a thread's working stream
 * before each block (LZ4's documented way to reuse a loaded dictionary; its
 * attach call is not exported by the shared library). */
static LZ4_stream_t *lz4_dict_stream;

static void dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void cctx_free(void *p)
{
    ZSTD_freeCCtx(p);
}

static void codec_init(void)
{
    pthread_key_create(&dctx_key, dctx_free);
    pthread_key_create(&cctx_key, cctx_free);
    pthread_key_create(&lz4_key, free);
    /* kept for the life of the process (still reachable at exit) */
    span_cdict = ZSTD_createCDict(arbor__span_dict, arbor__span_dict_len, SPAN_ZSTD_LEVEL);
    span_ddict = ZSTD_createDDict(arbor__span_dict, arbor__span_dict_len);
    if ((lz4_dict_stream = malloc(sizeof *lz4_dict_stream)) != NULL &&
        LZ4_initStream(lz4_dict_stream, sizeof *lz4_dict_stream) != NULL)
        LZ4_loadDict(lz4_dict_stream, arbor__span_dict, (int)arbor__span_dict_len);
}

/* The thread's context for @p key, made by @p make on first use (NULL: ENOMEM). */
static void *thread_ctx(pthread_key_t key, void *(*make)(void))
{
    void *c = pthread_getspecific(key);
    if (c == NULL && (c = make()) != NULL)
        pthread_setspecific(key, c);
    return c;
}

static void *make_dctx(void)
{
    return ZSTD_createDCtx();
}

static void *make_cctx(void)
{
    return ZSTD_createCCtx();
}

static void *make_lz4(void)
{
    return malloc(sizeof(LZ4_stream_t));
}

/* What @p in (LZ4 or zstd) decompresses to: 0 with *n, or ARBOR_EDECODE when
 * it says nothing readable or more than @p max bytes. */
static int unpacked_size(arbor_span_codec_t codec, arbor_iov_t in, size_t max, size_t *n)
{
    if (codec == ARBOR_SPAN_LZ4) {
        if (in.len < 4 || in.len - 4 > INT32_MAX || le32_get((const uint8_t *)in.base) > max)
            return ARBOR_EDECODE;
        *n = le32_get((const uint8_t *)in.base);
        return 0;
    }
    unsigned long long z = codec == ARBOR_SPAN_ZSTD ? ZSTD_getFrameContentSize(in.base, in.len) : ZSTD_CONTENTSIZE_ERROR;
    if (z == ZSTD_CONTENTSIZE_ERROR || z == ZSTD_CONTENTSIZE_UNKNOWN || z > max)
        return ARBOR_EDECODE;
    *n = (size_t)z;
    return 0;
}

/* Decompress @p in into exactly @p n bytes at @p dst (n from unpacked_size). */
static int unpack_into(arbor_span_codec_t codec, arbor_iov_t in, char *dst, size_t n)
{
    pthread_once(&codec_once, codec_init);
    if (codec == ARBOR_SPAN_LZ4) {
        int got = LZ4_decompress_safe_usingDict(in.base + 4, dst, (int)(in.len - 4), (int)n, arbor__span_dict,
                                                (int)arbor__span_dict_len);
        return got < 0 || (size_t)got != n ? ARBOR_EDECODE : 0;
    }
    ZSTD_DCtx *d = thread_ctx(dctx_key, make_dctx);
    if (d == NULL || span_ddict == NULL)
        return ENOMEM;
    size_t got = ZSTD_decompress_usingDDict(d, dst, n, in.base, in.len, span_ddict);
    return ZSTD_isError(got) || got != n ? ARBOR_EDECODE : 0;
}

int arbor__unpack(arbor_span_codec_t codec, arbor_iov_t in, size_t max, arbor_arena_t *arena, arbor_iov_t *out)
{
    size_t n;
    if (codec == ARBOR_SPAN_PLAIN) {
        *out = in;
        return 0;
    }
    int rc = unpacked_size(codec, in, max, &n);
    char *buf = rc ? NULL : arbor_arena_alloc(arena, n ? n : 1);
    if (rc == 0 && buf == NULL)
        rc = ENOMEM;
    if (rc == 0 && (rc = unpack_into(codec, in, buf, n)) == 0)
        *out = arbor_iov(buf, n);
    return rc;
}

/* A block value's codec and payload: 0 or ARBOR_EDECODE. */
static int block_payload(const MDB_val *v, arbor_span_codec_t *codec, arbor_iov_t *payload)
{
    const uint8_t *h = v->mv_data;
    if (v->mv_size < BLOCK_HDR_LEN || h[0] != 1 || h[1] > ARBOR_SPAN_LZ4)
        return ARBOR_EDECODE;
    *codec = (arbor_span_codec_t)h[1];
    *payload = arbor_iov(h + BLOCK_HDR_LEN, v->mv_size - BLOCK_HDR_LEN);
    return 0;
}

int arbor__block_unpack(const MDB_val *v, arbor_arena_t *arena, arbor_iov_t *raw)
{
    arbor_span_codec_t codec;
    arbor_iov_t payload;
    int rc = block_payload(v, &codec, &payload);
    return rc ? rc : arbor__unpack(codec, payload, ARBOR_BLOCK_MAX_BYTES, arena, raw);
}

int arbor__block_unpack_owned(const MDB_val *v, uint8_t **raw, size_t *len)
{
    arbor_span_codec_t codec;
    arbor_iov_t payload;
    int rc = block_payload(v, &codec, &payload);
    if (rc == 0 && codec == ARBOR_SPAN_PLAIN)
        rc = EINVAL; /* nothing to decompress: read it from the map */
    if (rc == 0)
        rc = unpacked_size(codec, payload, ARBOR_BLOCK_MAX_BYTES, len);
    if (rc == 0 && (*raw = malloc(*len ? *len : 1)) == NULL)
        rc = ENOMEM;
    if (rc == 0 && (rc = unpack_into(codec, payload, (char *)*raw, *len)) != 0)
        free(*raw);
    return rc;
}

int arbor_span_bytes(const arbor_span_rec_t *rec, arbor_arena_t *arena, arbor_iov_t *out)
{
    if (rec->block.id == 0)
        return arbor__unpack(rec->span_codec, rec->span_bytes, ARBOR_SPAN_MAX_BYTES, arena, out);
    if (rec->reader == NULL)
        return ARBOR_ENOTFOUND;
    return arbor__reader_block_cut(rec->reader, rec->trace_id, &rec->block, arena, out);
}

/* Compressed size into @p dst (capacity @p cap), or 0 when it did not work. */
static size_t zstd_pack(arbor_iov_t src, void *dst, size_t cap)
{
    ZSTD_CCtx *c = thread_ctx(cctx_key, make_cctx);
    if (c == NULL || span_cdict == NULL)
        return 0;
    size_t n = ZSTD_compress_usingCDict(c, dst, cap, src.base, src.len, span_cdict);
    return ZSTD_isError(n) ? 0 : n;
}

static size_t lz4_pack(arbor_iov_t src, uint8_t *dst, size_t cap)
{
    LZ4_stream_t *s = thread_ctx(lz4_key, make_lz4);
    if (s == NULL || lz4_dict_stream == NULL || src.len > INT32_MAX || cap - 4 > INT32_MAX)
        return 0;
    memcpy(s, lz4_dict_stream, sizeof *s);
    int n = LZ4_compress_fast_continue(s, src.base, (char *)dst + 4, (int)src.len, (int)(cap - 4), 1);
    if (n <= 0)
        return 0;
    le32_put(dst, (uint32_t)src.len);
    return (size_t)n + 4;
}

/* Compress @p src with @p codec into @p arena when that saves more than 1/9:
 * then *out and *used say so; otherwise they are @p src and plain. 0 or ENOMEM. */
static int pack(arbor_iov_t src, arbor_span_codec_t codec, arbor_arena_t *arena, arbor_iov_t *out,
                arbor_span_codec_t *used)
{
    *out = src;
    *used = ARBOR_SPAN_PLAIN;
    if (codec == ARBOR_SPAN_PLAIN || src.len < SPAN_COMPRESS_MIN)
        return 0;
    pthread_once(&codec_once, codec_init);
    size_t cap = codec == ARBOR_SPAN_LZ4 ? 4 + (size_t)LZ4_compressBound((int)src.len) : ZSTD_compressBound(src.len);
    uint8_t *dst = arbor_arena_alloc(arena, cap);
    if (dst == NULL)
        return ENOMEM;
    size_t n = codec == ARBOR_SPAN_LZ4 ? lz4_pack(src, dst, cap) : zstd_pack(src, dst, cap);
    if (n == 0 || n + n / 8 >= src.len) /* failed, or under 1/9 saved: keep it plain */
        return 0;
    *out = arbor_iov(dst, n);
    *used = codec;
    return 0;
}

int arbor_span_pack(arbor_span_in_t *in, arbor_span_codec_t codec, arbor_arena_t *arena)
{
    if (in->span_codec != ARBOR_SPAN_PLAIN || in->span_bytes.len > ARBOR_SPAN_MAX_BYTES)
        return 0;
    return pack(in->span_bytes, codec, arena, &in->span_bytes, &in->span_codec);
}

int arbor_block_pack(arbor_iov_t raw, arbor_span_codec_t codec, arbor_arena_t *arena, arbor_iov_t *out,
                     arbor_span_codec_t *used)
{
    *out = raw;
    *used = ARBOR_SPAN_PLAIN;
    return raw.len > ARBOR_BLOCK_MAX_RAW ? EINVAL : pack(raw, codec, arena, out, used);
}
