/* Opening and closing the environment, tenants, codecs and statistics. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Callers know LMDB's codes by Arbor's names (base.h): they must be the same. */
_Static_assert(ARBOR_ESTORE_FIRST == MDB_KEYEXIST && ARBOR_ESTORE_LAST == MDB_BAD_DBI, "storage code range");
_Static_assert(ARBOR_EFULL == MDB_MAP_FULL && ARBOR_EREADERS == MDB_READERS_FULL && ARBOR_ETXNFULL == MDB_TXN_FULL,
               "named storage codes");

const char *const arbor_dbi_names[DBI_COUNT] = {"meta", "spans",   "traces",    "time",   "executions", "feed",
                                                "records", "tags", "blocks", "artifacts", "pending"};

static const char META_FORMAT[] = "format";
static const char META_SEQ[] = "seq";

static int read_u64_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return ARBOR_EFORMAT;
    *out = le64_get(v.mv_data);
    return 0;
}

/* Open every DBI (creating them in a writer) and check the format version. */
static int open_dbis(arbor_store_t *s)
{
    MDB_txn *txn;
    unsigned txn_flags = s->read_only ? MDB_RDONLY : 0;
    unsigned dbi_flags = s->read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(s->env, NULL, txn_flags, &txn);
    if (rc)
        return rc;
    MDB_dbi probe; /* a writer that makes the pending index finds what was announced before it */
    int pending_is_new = !s->read_only && mdb_dbi_open(txn, arbor_dbi_names[DBI_PENDING], 0, &probe) == MDB_NOTFOUND;
    for (int i = 0; i < DBI_COUNT; i++) {
        if ((rc = mdb_dbi_open(txn, arbor_dbi_names[i], dbi_flags, &s->dbi[i])) != 0) {
            if (rc == MDB_NOTFOUND && i >= DBI_FIRST_LATE) /* an older store: found once a writer makes it */
                continue;
            if (rc == MDB_NOTFOUND)
                rc = ARBOR_ENOSTORE;
            goto fail;
        }
        s->have[i] = 1;
    }
    uint64_t format = 0, seq = 0;
    if ((rc = read_u64_meta(txn, s->dbi[DBI_META], META_FORMAT, &format)) != 0 ||
        (rc = read_u64_meta(txn, s->dbi[DBI_META], META_SEQ, &seq)) != 0)
        goto fail;
    if (format == 0 && s->read_only) {
        rc = ARBOR_ENOSTORE;
        goto fail;
    }
    if (format != 0 && (format < ARBOR_FORMAT_OLDEST || format > ARBOR_FORMAT_VERSION)) {
        rc = ARBOR_EFORMAT;
        goto fail;
    }
    if (format != ARBOR_FORMAT_VERSION && !s->read_only) { /* new, or older and now written by us */
        uint8_t buf[8];
        le64_put(buf, ARBOR_FORMAT_VERSION);
        MDB_val k = {sizeof META_FORMAT - 1, (void *)META_FORMAT}, v = {8, buf};
        if ((rc = mdb_put(txn, s->dbi[DBI_META], &k, &v, 0)) != 0)
            goto fail;
        uint32_t tid;
        if (format == 0 && (rc = arbor__tenant_id(txn, s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), 1, &tid)) != 0)
            goto fail;
    }
    if (pending_is_new && (rc = arbor__pending_backfill(txn, s, arbor_now_ns())) != 0)
        goto fail;
    s->next_seq = seq + 1;
    /* commit even a read-only txn: an aborted txn would close the fresh DBI handles */
    return mdb_txn_commit(txn);
fail:
    mdb_txn_abort(txn);
    return rc;
}

/* One writer per data directory. LMDB's lock file lets a second writer open the
 * environment (and corrupt it), so a writer holds an exclusive flock on
 * DIR/writer.lock for its lifetime. The kernel drops it when the process dies, so
 * a crash never leaves it stale; the file holds the PID for the error message. */
static int lock_writer(arbor_store_t *s, const char *dir)
{
    char file[4096];
    if ((size_t)snprintf(file, sizeof file, "%s/writer.lock", dir) >= sizeof file)
        return ENAMETOOLONG;
    int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? ARBOR_ELOCKED : e;
    }
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return e;
    }
    s->lock_fd = fd;
    return 0;
}

long arbor_store_writer_pid(const char *path)
{
    char file[4096], buf[24];
    if ((size_t)snprintf(file, sizeof file, "%s/writer.lock", path) >= sizeof file)
        return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int arbor_store_open(const arbor_store_options_t *opts, arbor_store_t **out)
{
    int rc;
    *out = NULL;
    arbor_store_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->read_only = opts->read_only;
    s->sync = opts->sync;
    s->lock_fd = -1;
    pthread_mutex_init(&s->dbi_lock, NULL);
    s->block_cache = arbor__block_cache_new(opts->block_cache_bytes ? opts->block_cache_bytes : 8u << 20);
    if (s->block_cache == NULL) {
        pthread_mutex_destroy(&s->dbi_lock);
        free(s);
        return ENOMEM;
    }
    /* prompts and responses live here: owner only */
    if (!opts->read_only && mkdir(opts->path, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        goto fail_free;
    }
    if (!opts->read_only && (rc = lock_writer(s, opts->path)) != 0)
        goto fail_free;
    if ((rc = mdb_env_create(&s->env)) != 0)
        goto fail_free;
    if ((rc = mdb_env_set_maxdbs(s->env, DBI_COUNT + 1)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, opts->map_size ? opts->map_size : (uint64_t)16 << 30)) != 0 ||
        (rc = mdb_env_set_maxreaders(s->env, opts->max_readers ? opts->max_readers : 512)) != 0)
        goto fail_env;
    /* NOTLS: a reader may outlive one callback or move between threads.
     * NORDAHEAD: lookups are random; readahead only evicts useful pages. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (opts->read_only)
        flags |= MDB_RDONLY;
    else if (opts->sync == ARBOR_SYNC_NONE)
        flags |= MDB_NOSYNC;
    if ((rc = mdb_env_open(s->env, opts->path, flags, 0600)) != 0) {
        if (opts->read_only && rc == ENOENT)
            rc = ARBOR_ENOSTORE;
        goto fail_env;
    }
    if (!opts->read_only) {
        int dead = 0;
        mdb_reader_check(s->env, &dead); /* free slots of crashed readers */
    }
    if ((rc = open_dbis(s)) != 0)
        goto fail_env;
    *out = s;
    return 0;
fail_env:
    mdb_env_close(s->env);
fail_free:
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    arbor__block_cache_free(s->block_cache);
    pthread_mutex_destroy(&s->dbi_lock);
    free(s);
    return rc;
}

int arbor__late_dbi(arbor_store_t *s, int which, MDB_dbi *dbi)
{
    if (!__atomic_load_n(&s->have[which], __ATOMIC_ACQUIRE)) {
        /* LMDB: one mdb_dbi_open at a time per process, and a read-only
         * transaction keeps the handle only if it commits */
        MDB_txn *txn;
        pthread_mutex_lock(&s->dbi_lock);
        if (!s->have[which] && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
            if (mdb_dbi_open(txn, arbor_dbi_names[which], 0, &s->dbi[which]) != 0)
                mdb_txn_abort(txn);
            else if (mdb_txn_commit(txn) == 0) /* a commit frees the transaction, failing or not */
                __atomic_store_n(&s->have[which], 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&s->dbi_lock);
        if (!__atomic_load_n(&s->have[which], __ATOMIC_ACQUIRE))
            return ARBOR_ENOTFOUND;
    }
    *dbi = s->dbi[which];
    return 0;
}

void arbor__late_dbis_open(arbor_store_t *s)
{
    MDB_dbi dbi;
    for (int i = DBI_FIRST_LATE; i < DBI_COUNT; i++)
        (void)arbor__late_dbi(s, i, &dbi);
}

void arbor_store_close(arbor_store_t *s)
{
    if (s == NULL)
        return;
    if (!s->read_only)
        mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the writer lock */
    arbor_map64_free(&s->tags_known);
    arbor_map64_free(&s->key_counts);
    pthread_mutex_destroy(&s->dbi_lock);
    arbor__block_cache_free(s->block_cache);
    free(s);
}

int arbor__txn_commit(arbor_store_t *s, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    const char *path;
    struct statvfs fs;
    if (rc == EIO && mdb_env_get_path(s->env, &path) == 0 && statvfs(path, &fs) == 0 &&
        (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20))
        rc = ENOSPC;
    return rc;
}

int arbor_store_reader_check(arbor_store_t *s, int *cleared)
{
    *cleared = 0;
    return s->read_only ? 0 : mdb_reader_check(s->env, cleared);
}

int arbor_store_sync(arbor_store_t *s)
{
    return s->read_only ? 0 : mdb_env_sync(s->env, 1);
}

uint64_t arbor_store_last_txn(arbor_store_t *s)
{
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) == 0 ? (uint64_t)info.me_last_txnid : 0;
}

uint64_t arbor_store_file_size(arbor_store_t *s)
{
    const char *path;
    struct stat st;
    char file[4096];
    if (mdb_env_get_path(s->env, &path) != 0)
        return 0;
    snprintf(file, sizeof file, "%s/data.mdb", path);
    return stat(file, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Tenants map to small integers in the meta index ("tenant/<name>" -> u32) so that
 * every key carries 4 bytes of tenant, not the name. */
int arbor__tenant_id(MDB_txn *txn, arbor_store_t *s, arbor_iov_t name, int create, uint32_t *id)
{
    char kbuf[300];
    if (name.len == 0)
        name = ARBOR_IOV(ARBOR_DEFAULT_TENANT);
    if (name.len > 255)
        return ARBOR_EDECODE;
    int kl = snprintf(kbuf, sizeof kbuf, "tenant/%.*s", (int)name.len, name.base);
    MDB_val k = {(size_t)kl, kbuf}, v;
    int rc = mdb_get(txn, s->dbi[DBI_META], &k, &v);
    if (rc == 0 && v.mv_size == 4) {
        *id = le32_get(v.mv_data);
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc ? rc : ARBOR_EFORMAT;
    if (!create) {
        *id = 0;
        return 0;
    }
    uint64_t next;
    if ((rc = read_u64_meta(txn, s->dbi[DBI_META], "tenant_next", &next)) != 0)
        return rc;
    if (next == 0)
        next = 1;
    uint8_t idb[4], nb[8];
    le32_put(idb, (uint32_t)next);
    le64_put(nb, next + 1);
    MDB_val iv = {4, idb}, nk = {11, "tenant_next"}, nv = {8, nb};
    if ((rc = mdb_put(txn, s->dbi[DBI_META], &k, &iv, 0)) != 0 ||
        (rc = mdb_put(txn, s->dbi[DBI_META], &nk, &nv, 0)) != 0)
        return rc;
    *id = (uint32_t)next;
    return 0;
}

int arbor_store_tenants(arbor_store_t *s, arbor_tenant_fn visit, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi[DBI_META], &cur)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val k = {7, "tenant/"}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 7 || memcmp(k.mv_data, "tenant/", 7) != 0)
            break;
        if ((rc = visit(ctx, arbor_iov((const char *)k.mv_data + 7, k.mv_size - 7))) != 0)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- value codecs ---- */

size_t arbor__span_name_len(const arbor_span_in_t *in)
{
    return in->name.len > SPAN_MAX_NAME ? SPAN_MAX_NAME : in->name.len;
}

/* The header flag of each arbor_span_codec_t, indexed by it. */
static const uint8_t codec_flags[3] = {[ARBOR_SPAN_PLAIN] = 0, [ARBOR_SPAN_ZSTD] = SPAN_F_ZSTD,
                                       [ARBOR_SPAN_LZ4] = SPAN_F_LZ4};

void arbor__span_hdr_encode(uint8_t *h, const arbor_span_in_t *in, uint64_t seq)
{
    size_t nl = arbor__span_name_len(in);
    memset(h, 0, SPAN_HDR_LEN);
    h[0] = 1;
    le16_put(h + 4, (uint16_t)nl);
    if (nl)
        memcpy(h + SPAN_HDR_LEN, in->name.base, nl);
    h[1] = (uint8_t)((in->has_parent ? SPAN_F_PARENT : 0) | (in->has_tokens ? SPAN_F_TOKENS : 0) |
                     (in->block.id ? SPAN_F_BLOCK : codec_flags[in->span_codec]));
    h[2] = (uint8_t)in->kind;
    h[3] = (uint8_t)in->status_code;
    le64_put(h + 8, seq);
    le64_put(h + 16, in->start_ns);
    le64_put(h + 24, in->end_ns);
    le64_put(h + 32, in->resource_ref);
    le64_put(h + 40, in->scope_ref);
    if (in->has_parent)
        memcpy(h + 48, in->parent_span_id, 8);
    le64_put(h + 56, (uint64_t)in->tokens_in);
    le64_put(h + 64, (uint64_t)in->tokens_out);
    le64_put(h + 72, in->shown_duration_ns);
}

int arbor__span_hdr_decode(const MDB_val *v, arbor_span_rec_t *o)
{
    const uint8_t *h = v->mv_data;
    if (v->mv_size < SPAN_HDR_LEN || h[0] != 1)
        return ARBOR_EDECODE;
    o->has_parent = (h[1] & SPAN_F_PARENT) != 0;
    o->has_tokens = (h[1] & SPAN_F_TOKENS) != 0;
    o->kind = h[2];
    o->status_code = h[3];
    o->seq = le64_get(h + 8);
    o->start_ns = le64_get(h + 16);
    o->end_ns = le64_get(h + 24);
    o->resource_ref = le64_get(h + 32);
    o->scope_ref = le64_get(h + 40);
    memcpy(o->parent_span_id, h + 48, 8);
    o->tokens_in = (int64_t)le64_get(h + 56);
    o->tokens_out = (int64_t)le64_get(h + 64);
    o->shown_duration_ns = le64_get(h + 72);
    size_t nl = le16_get(h + 4);
    if (SPAN_HDR_LEN + nl > v->mv_size)
        return ARBOR_EDECODE;
    o->name = arbor_iov(h + SPAN_HDR_LEN, nl);
    o->span_bytes = arbor_iov(h + SPAN_HDR_LEN + nl, v->mv_size - SPAN_HDR_LEN - nl);
    o->reader = NULL;
    memset(&o->block, 0, sizeof o->block);
    if (h[1] & SPAN_F_BLOCK) { /* a block reference instead of span bytes */
        const uint8_t *ref = h + SPAN_HDR_LEN + nl;
        if (o->span_bytes.len != SPAN_REF_LEN || (h[1] & (SPAN_F_ZSTD | SPAN_F_LZ4)) || le64_get(ref) == 0)
            return ARBOR_EDECODE;
        o->block = (arbor_block_ref_t){le64_get(ref), le32_get(ref + 8), le32_get(ref + 12), le32_get(ref + 16)};
        o->span_bytes = arbor_iov(ref, 0);
        o->span_codec = ARBOR_SPAN_PLAIN;
        return 0;
    }
    int flags = h[1] & (SPAN_F_ZSTD | SPAN_F_LZ4), codec = 0;
    while (codec < 3 && codec_flags[codec] != flags)
        codec++;
    if (codec == 3) /* both flags: no such encoding */
        return ARBOR_EDECODE;
    o->span_codec = (arbor_span_codec_t)codec;
    return 0;
}

static size_t clamp_name(size_t n)
{
    return n > SUMMARY_MAX_NAME ? SUMMARY_MAX_NAME : n;
}

size_t arbor__summary_size(const arbor_trace_summary_t *t)
{
    return SUMMARY_FIXED_LEN + clamp_name(t->root_name.len) + clamp_name(t->root_service.len) +
           t->execution_id.len + clamp_name(t->workflow_id.len);
}

void arbor__summary_encode(uint8_t *o, const arbor_trace_summary_t *t)
{
    size_t nl = clamp_name(t->root_name.len), sl = clamp_name(t->root_service.len), el = t->execution_id.len;
    size_t wl = clamp_name(t->workflow_id.len);
    memset(o, 0, SUMMARY_FIXED_LEN);
    o[0] = 1;
    o[1] = (uint8_t)(t->has_root ? 1 : 0);
    o[2] = (uint8_t)t->root_status;
    le32_put(o + 4, t->span_count);
    le32_put(o + 8, t->error_count);
    le32_put(o + 12, t->stored_bytes); /* bytes 12..15 were zero before they counted */
    le64_put(o + 16, t->start_ns);
    le64_put(o + 24, t->end_ns);
    le64_put(o + 32, t->last_seq);
    le64_put(o + 40, (uint64_t)t->tokens_in);
    le64_put(o + 48, (uint64_t)t->tokens_out);
    memcpy(o + 56, t->root_span_id, 8);
    le16_put(o + 64, (uint16_t)nl);
    le16_put(o + 66, (uint16_t)sl);
    le16_put(o + 68, (uint16_t)el);
    le16_put(o + 70, (uint16_t)wl);
    uint8_t *p = o + SUMMARY_FIXED_LEN;
    if (nl)
        memcpy(p, t->root_name.base, nl);
    if (sl)
        memcpy(p + nl, t->root_service.base, sl);
    if (el)
        memcpy(p + nl + sl, t->execution_id.base, el);
    if (wl)
        memcpy(p + nl + sl + el, t->workflow_id.base, wl);
}

int arbor__summary_decode(const MDB_val *v, arbor_trace_summary_t *t)
{
    const uint8_t *o = v->mv_data;
    if (v->mv_size < SUMMARY_FIXED_LEN || o[0] != 1)
        return ARBOR_EDECODE;
    size_t nl = le16_get(o + 64), sl = le16_get(o + 66), el = le16_get(o + 68), wl = le16_get(o + 70);
    if (SUMMARY_FIXED_LEN + nl + sl + el + wl != v->mv_size)
        return ARBOR_EDECODE;
    t->has_root = o[1] & 1;
    t->root_status = o[2];
    t->span_count = le32_get(o + 4);
    t->error_count = le32_get(o + 8);
    t->stored_bytes = le32_get(o + 12);
    t->start_ns = le64_get(o + 16);
    t->end_ns = le64_get(o + 24);
    t->last_seq = le64_get(o + 32);
    t->tokens_in = (int64_t)le64_get(o + 40);
    t->tokens_out = (int64_t)le64_get(o + 48);
    memcpy(t->root_span_id, o + 56, 8);
    const char *p = (const char *)o + SUMMARY_FIXED_LEN;
    t->root_name = arbor_iov(p, nl);
    t->root_service = arbor_iov(p + nl, sl);
    t->execution_id = arbor_iov(p + nl + sl, el);
    t->workflow_id = arbor_iov(p + nl + sl + el, wl);
    return 0;
}

/* ---- statistics ---- */

int arbor_store_stat(arbor_store_t *s, arbor_store_stat_t *out)
{
    MDB_txn *txn;
    MDB_envinfo info;
    MDB_stat st;
    memset(out, 0, sizeof *out);
    arbor__late_dbis_open(s); /* before the snapshot, which can then use them */
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    mdb_env_info(s->env, &info);
    out->map_bytes = info.me_mapsize;
    out->last_txn = info.me_last_txnid;
    out->readers_used = info.me_numreaders;
    out->readers_max = info.me_maxreaders;
    out->file_bytes = arbor_store_file_size(s);
    if ((rc = read_u64_meta(txn, s->dbi[DBI_META], META_SEQ, &out->last_seq)) != 0)
        goto out;
    for (int i = 0; i < DBI_COUNT && i < ARBOR_STAT_MAX_INDEXES; i++) {
        memset(&st, 0, sizeof st);
        if (__atomic_load_n(&s->have[i], __ATOMIC_ACQUIRE) && (rc = mdb_stat(txn, s->dbi[i], &st)) != 0)
            goto out;
        arbor_index_stat_t *x = &out->indexes[out->n_indexes++];
        x->name = arbor_dbi_names[i];
        x->entries = st.ms_entries;
        x->depth = st.ms_depth;
        x->bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    }
out:
    mdb_txn_abort(txn);
    return rc;
}

int arbor_store_backup(arbor_store_t *s, const char *dir, int compact)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return errno;
    return mdb_env_copy2(s->env, dir, compact ? MDB_CP_COMPACT : 0);
}

/* ---- attribute keys ---- */

/* Integers are stored big-endian with the sign bit flipped, doubles in their
 * order-preserving transform, so the index sorts numerically within a type. */
static uint64_t double_order(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return (u & 0x8000000000000000ull) ? ~u : u | 0x8000000000000000ull;
}

static double double_unorder(uint64_t u)
{
    double d;
    u = (u & 0x8000000000000000ull) ? u & ~0x8000000000000000ull : ~u;
    memcpy(&d, &u, 8);
    return d;
}

size_t arbor__attr_prefix(uint8_t *out, uint32_t tenant, int scope, arbor_iov_t key, int with_value, int vtype,
                          arbor_iov_t str, int64_t i, double d)
{
    if (key.len == 0 || key.len > ARBOR_ATTR_MAX_KEY || (with_value && vtype == ARBOR_VAL_STRING && str.len > ARBOR_ATTR_MAX_VALUE))
        return 0; /* not catalogued: known before anything is copied (prompts are long) */
    size_t n = 0;
    be32_put(out, tenant);
    n = 4;
    out[n++] = (uint8_t)scope;
    out[n++] = (uint8_t)key.len;
    memcpy(out + n, key.base, key.len);
    n += key.len;
    if (!with_value)
        return n;
    out[n++] = (uint8_t)vtype;
    switch (vtype) {
    case ARBOR_VAL_STRING:
        out[n++] = (uint8_t)str.len;
        if (str.len)
            memcpy(out + n, str.base, str.len);
        n += str.len;
        break;
    case ARBOR_VAL_BOOL:
        out[n++] = 1;
        out[n++] = i ? 1 : 0;
        break;
    case ARBOR_VAL_INT:
        out[n++] = 8;
        be64_put(out + n, (uint64_t)i ^ 0x8000000000000000ull);
        n += 8;
        break;
    case ARBOR_VAL_DOUBLE:
        out[n++] = 8;
        be64_put(out + n, double_order(d));
        n += 8;
        break;
    case ARBOR_VAL_OTHER:
        out[n++] = 0;
        break;
    default:
        return 0;
    }
    return n;
}

int arbor__attr_value(const uint8_t *p, size_t n, arbor_attr_value_t *v, size_t *used)
{
    if (n < 2 || (size_t)p[1] + 2 > n)
        return ARBOR_EDECODE;
    size_t vl = p[1];
    memset(v, 0, sizeof *v);
    v->type = (arbor_val_type_t)p[0];
    switch (p[0]) {
    case ARBOR_VAL_STRING:
        v->str = arbor_iov(p + 2, vl);
        break;
    case ARBOR_VAL_BOOL:
        if (vl != 1)
            return ARBOR_EDECODE;
        v->i = p[2];
        break;
    case ARBOR_VAL_INT:
        if (vl != 8)
            return ARBOR_EDECODE;
        v->i = (int64_t)(be64_get(p + 2) ^ 0x8000000000000000ull);
        break;
    case ARBOR_VAL_DOUBLE:
        if (vl != 8)
            return ARBOR_EDECODE;
        v->d = double_unorder(be64_get(p + 2));
        break;
    case ARBOR_VAL_OTHER:
        if (vl != 0)
            return ARBOR_EDECODE;
        break;
    default:
        return ARBOR_EDECODE;
    }
    *used = 2 + vl;
    return 0;
}

/* ---- bloom filters ---- */

static uint64_t bloom_hash(int scope, arbor_iov_t key, int vtype, const void *v, size_t vlen)
{
    uint64_t a = arbor_hash_id(key.base, key.len), b = arbor_hash_id(v, vlen);
    uint8_t mix[18];
    mix[0] = (uint8_t)scope;
    mix[1] = (uint8_t)vtype;
    memcpy(mix + 2, &a, 8);
    memcpy(mix + 10, &b, 8);
    return arbor_hash_id(mix, sizeof mix);
}

static uint64_t value_hash(int scope, arbor_iov_t key, int vtype, arbor_iov_t str, int64_t i, double d)
{
    uint8_t num[8];
    switch (vtype) {
    case ARBOR_VAL_STRING:
        return bloom_hash(scope, key, vtype, str.base, str.len);
    case ARBOR_VAL_DOUBLE:
        memcpy(num, &d, 8);
        return bloom_hash(scope, key, vtype, num, 8);
    default: /* INT, BOOL */
        be64_put(num, (uint64_t)i);
        return bloom_hash(scope, key, vtype, num, 8);
    }
}

#define BLOOM_BITS (ARBOR_BLOOM_BYTES * 8)

/* 1 if a bit was newly set. */
static int bloom_set(uint8_t *bloom, uint64_t h)
{
    int changed = 0;
    for (int k = 0; k < 3; k++, h >>= 10) {
        unsigned bit = (unsigned)(h % BLOOM_BITS);
        uint8_t mask = (uint8_t)(1u << (bit % 8));
        changed |= !(bloom[bit / 8] & mask);
        bloom[bit / 8] |= mask;
    }
    return changed;
}

static int bloom_test(const uint8_t *bloom, uint64_t h)
{
    for (int k = 0; k < 3; k++, h >>= 10) {
        unsigned bit = (unsigned)(h % BLOOM_BITS);
        if (!(bloom[bit / 8] & (1u << (bit % 8))))
            return 0;
    }
    return 1;
}

static int integral(double d)
{
    return arbor_double_fits_int64(d) && d == (double)(int64_t)d;
}

int arbor__bloom_add(uint8_t *bloom, int scope, arbor_iov_t key, int vtype, arbor_iov_t str, int64_t i, double d)
{
    int changed = bloom_set(bloom, value_hash(scope, key, vtype, str, i, d));
    if (vtype == ARBOR_VAL_DOUBLE && integral(d)) /* { x = 200 } must find 200.0 */
        changed |= bloom_set(bloom, value_hash(scope, key, ARBOR_VAL_INT, ARBOR_IOV_NULL, (int64_t)d, 0));
    return changed;
}

void arbor_bloom_probe(arbor_bloom_probe_t *p, arbor_attr_scope_t scope, arbor_iov_t key, const arbor_attr_value_t *v)
{
    int type = v->type;
    int64_t i = v->i;
    if (type == ARBOR_VAL_DOUBLE && integral(v->d)) /* { x = 200.0 } must find the integer 200 */
        type = ARBOR_VAL_INT, i = (int64_t)v->d;
    p->hash = value_hash(scope, key, type, v->str, i, v->d);
}

int arbor_bloom_probe_test(const uint8_t *bloom, const arbor_bloom_probe_t *p)
{
    return bloom == NULL || bloom_test(bloom, p->hash);
}

int arbor_bloom_may_contain(const uint8_t *bloom, arbor_attr_scope_t scope, arbor_iov_t key, const arbor_attr_value_t *v)
{
    arbor_bloom_probe_t p;
    if (bloom == NULL)
        return 1;
    arbor_bloom_probe(&p, scope, key, v);
    return arbor_bloom_probe_test(bloom, &p);
}
