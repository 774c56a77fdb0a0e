/* The read side: one read-only snapshot per reader, zero-copy results. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct arbor_reader {
    arbor_store_t *store;
    MDB_txn *txn;
    uint32_t tenant; /* 0: tenant unknown, every lookup finds nothing */
};

int arbor_reader_begin(arbor_store_t *s, arbor_iov_t tenant, arbor_reader_t **out)
{
    int rc;
    *out = NULL;
    arbor_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return ENOMEM;
    r->store = s;
    arbor__late_dbis_open(s); /* an older store's newer indexes may have appeared: open them first */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc == MDB_MAP_RESIZED) { /* the writer grew the map: adopt its size */
        mdb_env_set_mapsize(s->env, 0);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    }
    if (rc)
        goto fail_free;
    if ((rc = arbor__tenant_id(r->txn, s, tenant, 0, &r->tenant)) != 0)
        goto fail_txn;
    *out = r;
    return 0;
fail_txn:
    mdb_txn_abort(r->txn);
fail_free:
    free(r);
    return rc;
}

int arbor_reader_set_tenant(arbor_reader_t *r, arbor_iov_t tenant)
{
    return arbor__tenant_id(r->txn, r->store, tenant, 0, &r->tenant);
}

void arbor_reader_end(arbor_reader_t *r)
{
    if (r == NULL)
        return;
    mdb_txn_abort(r->txn);
    free(r);
}

int arbor__reader_block_cut(arbor_reader_t *r, const uint8_t *trace_id, const arbor_block_ref_t *ref,
                            arbor_arena_t *arena, arbor_iov_t *out)
{
    uint8_t k[BLOCK_KEY_LEN];
    block_key(k, r->tenant, trace_id, ref->id);
    arbor_block_cache_t *cache = r->store->block_cache;
    int rc = arbor__block_cache_cut(cache, k, ref, arena, out);
    if (rc != ARBOR_ENOTFOUND)
        return rc;
    MDB_val key = {sizeof k, k}, val;
    MDB_dbi dbi;
    if ((rc = r->tenant ? arbor__late_dbi(r->store, DBI_BLOCKS, &dbi) : ARBOR_ENOTFOUND) != 0)
        return rc;
    rc = mdb_get(r->txn, dbi, &key, &val);
    if (rc == EINVAL) /* the handle was opened after this snapshot began (an upgrade's first moments) */
        rc = MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? ARBOR_ENOTFOUND : rc;
    if (val.mv_size >= BLOCK_HDR_LEN && ((const uint8_t *)val.mv_data)[1] == ARBOR_SPAN_PLAIN) {
        arbor_iov_t raw; /* nothing to decompress: cut it from the map */
        rc = arbor__block_unpack(&val, arena, &raw);
        return rc ? rc : arbor__block_cut((const uint8_t *)raw.base, raw.len, ref, arena, out);
    }
    uint8_t *raw;
    size_t len;
    if ((rc = arbor__block_unpack_owned(&val, &raw, &len)) != 0)
        return rc;
    rc = arbor__block_cut(raw, len, ref, arena, out);
    arbor__block_cache_put(cache, k, raw, len);
    return rc;
}

uint32_t arbor_reader_tenant_id(const arbor_reader_t *r)
{
    return r->tenant;
}

uint64_t arbor_reader_txn_id(arbor_reader_t *r)
{
    return (uint64_t)mdb_txn_id(r->txn);
}

uint64_t arbor_reader_last_seq(arbor_reader_t *r)
{
    MDB_val k = {3, "seq"}, v;
    if (mdb_get(r->txn, r->store->dbi[DBI_META], &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return le64_get(v.mv_data);
}

/* The end of a cursor walk: close the cursor; running off the end is success. */
static int walk_end(MDB_cursor *cur, int rc)
{
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One point lookup in this snapshot: 0 with @p val set, ARBOR_ENOTFOUND, or LMDB's error. */
static int reader_get(arbor_reader_t *r, int dbi, const void *k, size_t klen, MDB_val *val)
{
    MDB_val key = {klen, (void *)k};
    int rc = mdb_get(r->txn, r->store->dbi[dbi], &key, val);
    return rc == MDB_NOTFOUND ? ARBOR_ENOTFOUND : rc;
}

int arbor_reader_trace_summary(arbor_reader_t *r, const uint8_t trace_id[16], arbor_trace_summary_t *out)
{
    uint8_t k[TRACE_KEY_LEN];
    if (r->tenant == 0)
        return ARBOR_ENOTFOUND;
    be32_put(k, r->tenant);
    memcpy(k + 4, trace_id, 16);
    MDB_val val;
    int rc = reader_get(r, DBI_TRACES, k, sizeof k, &val);
    if (rc == 0)
        rc = arbor__summary_decode(&val, out);
    if (rc != 0)
        return rc;
    memcpy(out->trace_id, trace_id, 16);
    out->bloom = NULL;
    return 0;
}

static int span_from_kv(const MDB_val *key, const MDB_val *val, arbor_span_rec_t *out)
{
    if (key->mv_size != SPAN_KEY_LEN)
        return ARBOR_EDECODE;
    memcpy(out->trace_id, (const uint8_t *)key->mv_data + 4, 16);
    memcpy(out->span_id, (const uint8_t *)key->mv_data + 20, 8);
    return arbor__span_hdr_decode(val, out);
}

int arbor__walk_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t len, MDB_cursor_op next,
                       arbor__span_kv_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    MDB_val key = {len, (void *)prefix}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = next == MDB_GET_CURRENT ? arbor__cursor_after_del(cur, &key, &val) : mdb_cursor_get(cur, &key, &val, next)) {
        if (key.mv_size < len || memcmp(key.mv_data, prefix, len) != 0)
            break;
        if ((rc = fn(ctx, cur, &key, &val)) != 0)
            goto out;
    }
out:
    return walk_end(cur, rc);
}

int arbor__walk_trace(MDB_txn *txn, arbor_store_t *s, uint32_t tenant, const uint8_t *trace_id, MDB_cursor_op next,
                      arbor__span_kv_fn fn, void *ctx)
{
    uint8_t prefix[TRACE_KEY_LEN];
    be32_put(prefix, tenant);
    memcpy(prefix + 4, trace_id, 16);
    return arbor__walk_prefix(txn, s->dbi[DBI_SPANS], prefix, sizeof prefix, next, fn, ctx);
}

typedef struct {
    arbor_span_visit_fn fn;
    void *ctx;
    arbor_reader_t *r;
} visit_t;

static int visit_span(void *ctx, MDB_cursor *cur, const MDB_val *key, MDB_val *val)
{
    visit_t *v = ctx;
    arbor_span_rec_t rec;
    (void)cur;
    int rc = span_from_kv(key, val, &rec);
    rec.reader = v->r;
    return rc ? rc : v->fn(v->ctx, &rec);
}

int arbor_reader_trace_spans(arbor_reader_t *r, const uint8_t trace_id[16], arbor_span_visit_fn fn, void *ctx)
{
    visit_t v = {fn, ctx, r};
    if (r->tenant == 0)
        return 0;
    return arbor__walk_trace(r->txn, r->store, r->tenant, trace_id, MDB_NEXT, visit_span, &v);
}

int arbor_reader_spans_fill(arbor_reader_t *r, arbor_span_rec_t *recs, size_t n, uint8_t *found)
{
    MDB_cursor *cur;
    memset(found, 0, n);
    if (r->tenant == 0 || n == 0)
        return 0;
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_SPANS], &cur);
    if (rc)
        return rc;
    /* a positioned cursor searches its current leaf page first: keys in order mostly stay on it */
    for (size_t i = 0; i < n; i++) {
        uint8_t k[SPAN_KEY_LEN];
        be32_put(k, r->tenant);
        memcpy(k + 4, recs[i].trace_id, 16);
        memcpy(k + 20, recs[i].span_id, 8);
        MDB_val key = {sizeof k, k}, val;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc || (rc = span_from_kv(&key, &val, &recs[i])) != 0)
            break;
        recs[i].reader = r;
        found[i] = 1;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int arbor_reader_span(arbor_reader_t *r, const uint8_t trace_id[16], const uint8_t span_id[8],
                      arbor_span_rec_t *out)
{
    uint8_t k[SPAN_KEY_LEN];
    if (r->tenant == 0)
        return ARBOR_ENOTFOUND;
    be32_put(k, r->tenant);
    memcpy(k + 4, trace_id, 16);
    memcpy(k + 20, span_id, 8);
    MDB_val key = {sizeof k, k}, val;
    int rc = reader_get(r, DBI_SPANS, k, sizeof k, &val);
    if (rc == 0 && (rc = span_from_kv(&key, &val, out)) == 0)
        out->reader = r;
    return rc;
}

int arbor_reader_execution_traces(arbor_reader_t *r, arbor_iov_t exec, uint8_t (*ids)[16], size_t max,
                                  size_t *n)
{
    MDB_cursor *cur;
    uint8_t prefix[5 + ARBOR_MAX_EXECUTION_ID];
    *n = 0;
    if (r->tenant == 0 || exec.len == 0 || exec.len > ARBOR_MAX_EXECUTION_ID)
        return 0;
    be32_put(prefix, r->tenant);
    prefix[4] = (uint8_t)exec.len;
    memcpy(prefix + 5, exec.base, exec.len);
    size_t pl = 5 + exec.len;
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_EXECS], &cur);
    if (rc)
        return rc;
    MDB_val key = {pl, prefix}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size != pl + 16 || memcmp(key.mv_data, prefix, pl) != 0)
            break;
        memcpy(ids[(*n)++], (const uint8_t *)key.mv_data + pl, 16);
    }
    return walk_end(cur, rc);
}

int arbor_reader_artifact_referenced(arbor_reader_t *r, arbor_iov_t id)
{
    uint8_t k[ARTIFACT_KEY_MAX];
    MDB_dbi dbi;
    MDB_cursor *cur;
    if (r->tenant == 0 || id.len == 0 || id.len > ARBOR_MAX_ARTIFACT_ID ||
        arbor__late_dbi(r->store, DBI_ARTIFACTS, &dbi) != 0)
        return ARBOR_ENOTFOUND;
    static const uint8_t any_trace[16];
    size_t n = arbor__artifact_key(k, r->tenant, ARTIFACT_BY_ID, id, any_trace) - 16; /* the prefix */
    int rc = mdb_cursor_open(r->txn, dbi, &cur);
    if (rc)
        return rc == EINVAL ? ARBOR_ENOTFOUND : rc; /* the index appeared after this snapshot began */
    MDB_val key = {n, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    int found = rc == 0 && key.mv_size == n + 16 && memcmp(key.mv_data, k, n) == 0;
    mdb_cursor_close(cur);
    return found ? 0 : rc == 0 || rc == MDB_NOTFOUND ? ARBOR_ENOTFOUND : rc;
}

int arbor_reader_meta(arbor_reader_t *r, const char *key, arbor_iov_t *value)
{
    char k[128];
    int kl = snprintf(k, sizeof k, "app/%s", key);
    if (kl <= 0 || (size_t)kl >= sizeof k)
        return EINVAL;
    MDB_val mv;
    int rc = reader_get(r, DBI_META, k, (size_t)kl, &mv);
    if (rc == 0)
        *value = arbor_iov(mv.mv_data, mv.mv_size);
    return rc;
}

int arbor_reader_record(arbor_reader_t *r, arbor_record_kind_t kind, uint64_t ref, arbor_iov_t *bytes)
{
    uint8_t k[RECORD_KEY_LEN];
    be32_put(k, r->tenant);
    k[4] = (uint8_t)kind;
    be64_put(k + 5, ref);
    MDB_val val;
    int rc = reader_get(r, DBI_RECORDS, k, sizeof k, &val);
    if (rc == 0)
        *bytes = arbor_iov(val.mv_data, val.mv_size);
    return rc;
}

int arbor_reader_recent_traces(arbor_reader_t *r, uint64_t before_ns, arbor_trace_visit_fn fn, void *ctx)
{
    return arbor_reader_recent_traces_filtered(r, before_ns, NULL, fn, ctx);
}

int arbor_reader_recent_traces_filtered(arbor_reader_t *r, uint64_t before_ns, arbor_trace_prefilter_fn pre,
                                        arbor_trace_visit_fn fn, void *ctx)
{
    MDB_cursor *cur;
    uint8_t k[TIME_KEY_LEN];
    if (r->tenant == 0)
        return 0;
    /* position just past the newest key we may return, then walk backwards */
    be32_put(k, r->tenant);
    be64_put(k + 4, before_ns ? before_ns : UINT64_MAX);
    memset(k + 12, 0xff, 16);
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_TIME], &cur);
    if (rc)
        return rc;
    MDB_val key = {sizeof k, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    else if (rc == 0 && memcmp(key.mv_data, k, sizeof k) > 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_PREV)) {
        if (key.mv_size != TIME_KEY_LEN || be32_get(key.mv_data) != r->tenant)
            break;
        const uint8_t *bloom = val.mv_size == ARBOR_BLOOM_BYTES ? val.mv_data : NULL;
        int x = pre ? pre(ctx, be64_get((const uint8_t *)key.mv_data + 4), bloom) : 0;
        if (x > 0) {
            rc = x;
            goto out;
        }
        if (x < 0)
            continue;
        arbor_trace_summary_t t;
        x = arbor_reader_trace_summary(r, (const uint8_t *)key.mv_data + 12, &t);
        if (x == ARBOR_ENOTFOUND)
            continue;
        t.bloom = bloom;
        if (x != 0 || (x = fn(ctx, &t)) != 0) {
            rc = x;
            goto out;
        }
    }
out:
    return walk_end(cur, rc);
}

int arbor_reader_changes(arbor_reader_t *r, uint64_t after_seq, arbor_change_visit_fn fn, void *ctx)
{
    MDB_cursor *cur;
    uint8_t k[FEED_KEY_LEN];
    if (r->tenant == 0)
        return 0;
    be32_put(k, r->tenant);
    be64_put(k + 4, after_seq + 1);
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_FEED], &cur);
    if (rc)
        return rc;
    MDB_val key = {sizeof k, k}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size != FEED_KEY_LEN || be32_get(key.mv_data) != r->tenant || val.mv_size != 24)
            break;
        const uint8_t *v = val.mv_data;
        if ((rc = fn(ctx, be64_get((const uint8_t *)key.mv_data + 4), v, v + 16)) != 0)
            goto out;
    }
out:
    return walk_end(cur, rc);
}

/* ---- trace blooms and the tag catalog ---- */

int arbor_reader_trace_bloom(arbor_reader_t *r, arbor_trace_summary_t *t)
{
    uint8_t k[TIME_KEY_LEN];
    be32_put(k, r->tenant);
    be64_put(k + 4, t->start_ns);
    memcpy(k + 12, t->trace_id, 16);
    MDB_val val;
    int rc = reader_get(r, DBI_TIME, k, sizeof k, &val);
    if (rc == 0)
        t->bloom = val.mv_size == ARBOR_BLOOM_BYTES ? val.mv_data : NULL;
    return rc;
}

int arbor_reader_attr_keys(arbor_reader_t *r, arbor_attr_scope_t scope, arbor_key_visit_fn fn, void *ctx)
{
    uint8_t seek[ATTR_KEY_MAX];
    MDB_cursor *cur;
    if (r->tenant == 0)
        return 0;
    be32_put(seek, r->tenant);
    seek[4] = (uint8_t)scope;
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_TAGS], &cur);
    if (rc)
        return rc;
    MDB_val k = {5, seek}, val;
    /* skip-scan: after each key, seek past all of its entries */
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size < 6 || memcmp(p, seek, 5) != 0 || k.mv_size < 6u + p[5])
            break;
        size_t kl = p[5];
        if ((rc = fn(ctx, arbor_iov(p + 6, kl))) != 0)
            goto out;
        memmove(seek + 5, p + 5, 1 + kl);
        seek[6 + kl] = 0xff; /* beyond any value type */
        k.mv_size = 7 + kl;
        k.mv_data = seek;
    }
out:
    return walk_end(cur, rc);
}

int arbor_reader_attr_values(arbor_reader_t *r, arbor_attr_scope_t scope, arbor_iov_t key, arbor_value_visit_fn fn,
                             void *ctx)
{
    uint8_t prefix[ATTR_KEY_MAX];
    MDB_cursor *cur;
    if (r->tenant == 0)
        return 0;
    size_t pl = arbor__attr_prefix(prefix, r->tenant, scope, key, 0, 0, ARBOR_IOV_NULL, 0, 0);
    if (pl == 0)
        return 0;
    int rc = mdb_cursor_open(r->txn, r->store->dbi[DBI_TAGS], &cur);
    if (rc)
        return rc;
    MDB_val k = {pl, prefix}, val;
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        arbor_attr_value_t v;
        size_t used;
        if (k.mv_size < pl || memcmp(p, prefix, pl) != 0 || arbor__attr_value(p + pl, k.mv_size - pl, &v, &used) != 0)
            break;
        if (v.type == ARBOR_VAL_OTHER) /* the key's entry for a map: no value to list */
            continue;
        if ((rc = fn(ctx, &v)) != 0)
            goto out;
    }
out:
    return walk_end(cur, rc);
}
