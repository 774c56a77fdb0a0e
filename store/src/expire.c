/* Retention: delete whole traces that ended before a cutoff, walking the time
 * index from the oldest start. A trace goes with everything that names it
 * (spans, blocks, summary, time entry, execution entry, artifact entries,
 * current feed entries); the highest sequence deleted is kept in
 * meta/expired_seq so arbor-admin check knows that older feed entries may name
 * spans that are gone. Announced traces that never got a span expire from the
 * pending index. */
#include "store_internal.h"

#include <errno.h>

static const char META_EXPIRED_SEQ[] = "expired_seq";

uint64_t arbor__expired_seq(MDB_txn *txn, arbor_store_t *s)
{
    MDB_val k = {sizeof META_EXPIRED_SEQ - 1, (void *)META_EXPIRED_SEQ}, v;
    if (mdb_get(txn, s->dbi[DBI_META], &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return le64_get(v.mv_data);
}

static int del_ignore_missing(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len)
{
    MDB_val k = {len, key};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One sweep's deletes: counted across the traces it takes. */
typedef struct {
    MDB_txn *txn;
    arbor_store_t *s;
    uint32_t tenant;
    uint64_t spans, max_seq;
} expiring_t;

/* Delete one span and its current feed entry. */
static int expire_span(void *ctx, MDB_cursor *cur, const MDB_val *key, MDB_val *val)
{
    expiring_t *e = ctx;
    arbor_span_rec_t rec;
    (void)key;
    if (arbor__span_hdr_decode(val, &rec) == 0) {
        uint8_t fk[FEED_KEY_LEN];
        be32_put(fk, e->tenant);
        be64_put(fk + 4, rec.seq);
        int rc = del_ignore_missing(e->txn, e->s->dbi[DBI_FEED], fk, sizeof fk);
        if (rc)
            return rc;
        if (rec.seq > e->max_seq)
            e->max_seq = rec.seq;
    }
    e->spans++;
    return mdb_cursor_del(cur, 0);
}

static int delete_entry(void *ctx, MDB_cursor *cur, const MDB_val *key, MDB_val *val)
{
    (void)ctx, (void)key, (void)val;
    return mdb_cursor_del(cur, 0);
}

/* Delete every block of one trace (a prefix of the blocks index). */
static int expire_blocks(MDB_txn *txn, arbor_store_t *s, uint32_t tenant, const uint8_t *trace_id)
{
    uint8_t prefix[TRACE_KEY_LEN];
    be32_put(prefix, tenant);
    memcpy(prefix + 4, trace_id, 16);
    return arbor__walk_prefix(txn, s->dbi[DBI_BLOCKS], prefix, sizeof prefix, MDB_GET_CURRENT, delete_entry, NULL);
}

/* Delete the artifact entries of one trace: each by-trace key names the by-ID twin. */
static int delete_artifact(void *ctx, MDB_cursor *cur, const MDB_val *key, MDB_val *val)
{
    expiring_t *e = ctx;
    const uint8_t *k = key->mv_data;
    (void)val;
    if (key->mv_size >= 22 && key->mv_size == (size_t)22 + k[21]) {
        uint8_t twin[ARTIFACT_KEY_MAX];
        size_t n = arbor__artifact_key(twin, e->tenant, ARTIFACT_BY_ID, arbor_iov(k + 22, k[21]), k + 5);
        int rc = del_ignore_missing(e->txn, e->s->dbi[DBI_ARTIFACTS], twin, n);
        if (rc)
            return rc;
    }
    return mdb_cursor_del(cur, 0);
}

static int expire_artifacts(expiring_t *e, const uint8_t *trace_id)
{
    uint8_t prefix[4 + 1 + 16];
    be32_put(prefix, e->tenant);
    prefix[4] = ARTIFACT_BY_TRACE;
    memcpy(prefix + 5, trace_id, 16);
    return arbor__walk_prefix(e->txn, e->s->dbi[DBI_ARTIFACTS], prefix, sizeof prefix, MDB_GET_CURRENT,
                              delete_artifact, e);
}

/* The summary and execution entry of one trace (and its pending entry, if any). */
static int expire_summary(expiring_t *e, const uint8_t *trace_id, const arbor_trace_summary_t *sum)
{
    uint8_t tk[TRACE_KEY_LEN];
    int rc;
    be32_put(tk, e->tenant);
    memcpy(tk + 4, trace_id, 16);
    if (sum != NULL && sum->execution_id.len > 0 && sum->execution_id.len <= ARBOR_MAX_EXECUTION_ID) {
        uint8_t ek[EXEC_KEY_MAX];
        be32_put(ek, e->tenant);
        ek[4] = (uint8_t)sum->execution_id.len;
        memcpy(ek + 5, sum->execution_id.base, sum->execution_id.len);
        memcpy(ek + 5 + sum->execution_id.len, trace_id, 16);
        if ((rc = del_ignore_missing(e->txn, e->s->dbi[DBI_EXECS], ek, 5 + sum->execution_id.len + 16)) != 0)
            return rc;
    }
    if ((rc = del_ignore_missing(e->txn, e->s->dbi[DBI_PENDING], tk, sizeof tk)) != 0)
        return rc;
    return del_ignore_missing(e->txn, e->s->dbi[DBI_TRACES], tk, sizeof tk);
}

/* A write transaction for @p tenant's deletes and a cursor on @p dbi: 0 with
 * e->tenant 0 when the tenant is unknown (nothing to delete). */
static int expire_begin(arbor_store_t *s, arbor_iov_t tenant, int dbi, expiring_t *e, MDB_cursor **cur)
{
    *e = (expiring_t){NULL, s, 0, 0, 0};
    *cur = NULL;
    if (s->read_only)
        return EACCES;
    int rc = mdb_txn_begin(s->env, NULL, 0, &e->txn);
    if (rc == 0 && (rc = arbor__tenant_id(e->txn, s, tenant, 0, &e->tenant)) == 0 && e->tenant != 0)
        rc = mdb_cursor_open(e->txn, s->dbi[dbi], cur);
    return rc;
}

/* Commit what the deletes did, or on @p rc abort and report nothing. */
static int expire_end(expiring_t *e, MDB_cursor *cur, int rc, arbor_expire_t *out)
{
    if (cur)
        mdb_cursor_close(cur);
    if (e->txn == NULL)
        return rc;
    if (rc) {
        mdb_txn_abort(e->txn);
        memset(out, 0, sizeof *out);
        return rc;
    }
    return arbor__txn_commit(e->s, e->txn);
}

int arbor_store_expire(arbor_store_t *s, arbor_iov_t tenant, uint64_t before_ns, size_t max_spans,
                       arbor_expire_t *out)
{
    MDB_cursor *tcur;
    expiring_t e;
    memset(out, 0, sizeof *out);
    int rc = expire_begin(s, tenant, DBI_TIME, &e, &tcur);
    if (rc || e.tenant == 0)
        return expire_end(&e, tcur, rc, out);
    MDB_txn *txn = e.txn;
    uint32_t tid = e.tenant;
    uint8_t start_key[4 + 8];
    be32_put(start_key, tid);
    memset(start_key + 4, 0, 8);
    MDB_val key = {sizeof start_key, start_key}, val;
    for (rc = mdb_cursor_get(tcur, &key, &val, MDB_SET_RANGE); rc == 0;) {
        const uint8_t *k = key.mv_data;
        if (key.mv_size != TIME_KEY_LEN || be32_get(k) != tid || be64_get(k + 4) >= before_ns)
            break; /* later starts cannot have ended before the cutoff */
        uint8_t trace_id[16], tk[TRACE_KEY_LEN];
        memcpy(trace_id, k + 12, 16);
        be32_put(tk, tid);
        memcpy(tk + 4, trace_id, 16);
        MDB_val sk = {sizeof tk, tk}, sv;
        arbor_trace_summary_t sum;
        int found = mdb_get(txn, s->dbi[DBI_TRACES], &sk, &sv) == 0 && arbor__summary_decode(&sv, &sum) == 0;
        if (found && sum.end_ns >= before_ns) { /* started long ago, still going */
            rc = mdb_cursor_get(tcur, &key, &val, MDB_NEXT);
            continue;
        }
        if (found && out->traces > 0 && e.spans + sum.span_count > max_spans) {
            out->more = 1;
            break;
        }
        if ((rc = arbor__walk_trace(txn, s, tid, trace_id, MDB_GET_CURRENT, expire_span, &e)) != 0 ||
            (rc = expire_blocks(txn, s, tid, trace_id)) != 0 || (rc = expire_artifacts(&e, trace_id)) != 0 ||
            (rc = expire_summary(&e, trace_id, found ? &sum : NULL)) != 0 || (rc = mdb_cursor_del(tcur, 0)) != 0)
            goto done;
        out->traces++;
        rc = arbor__cursor_after_del(tcur, &key, &val);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto done;
    rc = 0;
    out->spans = e.spans;
    if (e.max_seq > arbor__expired_seq(txn, s)) {
        uint8_t b[8];
        le64_put(b, e.max_seq);
        MDB_val mk = {sizeof META_EXPIRED_SEQ - 1, (void *)META_EXPIRED_SEQ}, mv = {8, b};
        rc = mdb_put(txn, s->dbi[DBI_META], &mk, &mv, 0);
    }
done:
    return expire_end(&e, tcur, rc, out);
}

/* Announcements older than the cutoff whose trace still has no span go with
 * their summary and execution entry; a pending entry whose trace got spans only
 * leaves the index (the first span takes it out, so that is rare). The pending
 * index is by trace, not by time: the whole tenant's is read, and it holds
 * only announcements still waiting. */
static int expire_pending(expiring_t *e, MDB_cursor *cur, uint64_t before_ns, size_t max, size_t *done, int *more)
{
    uint8_t prefix[4];
    be32_put(prefix, e->tenant);
    MDB_val key = {sizeof prefix, prefix}, val;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size == PENDING_KEY_LEN && memcmp(key.mv_data, prefix, 4) == 0) {
        if (val.mv_size == 8 && le64_get(val.mv_data) >= before_ns) {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            continue;
        }
        if (*done == max) {
            *more = 1;
            return 0;
        }
        uint8_t trace_id[16];
        memcpy(trace_id, (const uint8_t *)key.mv_data + 4, 16);
        MDB_val sk = {TRACE_KEY_LEN, key.mv_data}, sv;
        arbor_trace_summary_t sum;
        int empty = mdb_get(e->txn, e->s->dbi[DBI_TRACES], &sk, &sv) == 0 && arbor__summary_decode(&sv, &sum) == 0 &&
                    sum.span_count == 0;
        if ((rc = mdb_cursor_del(cur, 0)) != 0 || (empty && (rc = expire_summary(e, trace_id, &sum)) != 0))
            return rc;
        *done += empty;
        rc = arbor__cursor_after_del(cur, &key, &val);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int arbor_store_expire_announced(arbor_store_t *s, arbor_iov_t tenant, uint64_t before_ns, size_t max_traces,
                                 arbor_expire_t *out)
{
    MDB_cursor *cur;
    expiring_t e;
    size_t done = 0;
    memset(out, 0, sizeof *out);
    int rc = expire_begin(s, tenant, DBI_PENDING, &e, &cur);
    if (rc == 0 && e.tenant != 0)
        rc = expire_pending(&e, cur, before_ns, max_traces, &done, &out->more);
    out->traces = done;
    return expire_end(&e, cur, rc, out);
}

int arbor__pending_backfill(MDB_txn *txn, arbor_store_t *s, uint64_t now_ns)
{
    MDB_cursor *cur;
    MDB_val key, val;
    uint8_t at[8];
    le64_put(at, now_ns);
    int rc = mdb_cursor_open(txn, s->dbi[DBI_TRACES], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        arbor_trace_summary_t t;
        if (key.mv_size != PENDING_KEY_LEN || arbor__summary_decode(&val, &t) != 0 || t.span_count != 0 ||
            t.execution_id.len == 0)
            continue;
        MDB_val pv = {sizeof at, at};
        if ((rc = mdb_put(txn, s->dbi[DBI_PENDING], &key, &pv, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
