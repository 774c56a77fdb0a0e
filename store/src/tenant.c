/* A tenant as a whole: what it holds (arbor-admin stat --tenant) and deleting
 * all of it (arbor-admin delete-tenant). Every key of a tenant's data starts
 * with its 4-byte ID, so both are prefix walks over the indexes. */
#include "store_internal.h"

#include <errno.h>
#include <string.h>

/* The indexes whose keys start with the tenant ID. */
static const int tenant_dbis[] = {DBI_SPANS,   DBI_BLOCKS, DBI_TRACES,    DBI_TIME,   DBI_EXECS,
                                  DBI_FEED,    DBI_RECORDS, DBI_TAGS, DBI_ARTIFACTS, DBI_PENDING};

int arbor_store_tenant_stat(arbor_store_t *s, arbor_iov_t tenant, arbor_tenant_stat_t *out)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    uint32_t tid = 0;
    memset(out, 0, sizeof *out);
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    if ((rc = arbor__tenant_id(txn, s, tenant, 0, &tid)) != 0 || tid == 0)
        goto done; /* an unknown tenant holds nothing */
    out->exists = 1;
    if ((rc = mdb_cursor_open(txn, s->dbi[DBI_TRACES], &cur)) != 0)
        goto done;
    uint8_t prefix[4];
    be32_put(prefix, tid);
    MDB_val key = {4, prefix}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        arbor_trace_summary_t t;
        if (key.mv_size != TRACE_KEY_LEN || be32_get(key.mv_data) != tid)
            break;
        if (arbor__summary_decode(&val, &t) != 0)
            continue;
        out->traces++;
        out->spans += t.span_count;
        out->stored_bytes += t.stored_bytes;
        out->executions += t.execution_id.len > 0;
        if (t.span_count > 0 && (out->oldest_start_ns == 0 || t.start_ns < out->oldest_start_ns))
            out->oldest_start_ns = t.start_ns;
        if (t.end_ns > out->newest_end_ns)
            out->newest_end_ns = t.end_ns;
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;
done:
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

/* Delete up to *budget keys of @p tid from @p dbi; *budget goes down. */
static int delete_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t tid, size_t *budget, uint64_t *deleted)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    uint8_t prefix[4];
    be32_put(prefix, tid);
    MDB_val key = {4, prefix}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0 && *budget > 0;) {
        if (key.mv_size < 4 || be32_get(key.mv_data) != tid)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*budget)--;
        (*deleted)++;
        rc = arbor__cursor_after_del(cur, &key, &val);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int arbor_store_delete_tenant(arbor_store_t *s, arbor_iov_t tenant, size_t max_keys, int *more, uint64_t *deleted)
{
    MDB_txn *txn;
    uint32_t tid = 0;
    size_t budget = max_keys;
    *more = 0;
    *deleted = 0;
    if (s->read_only)
        return EACCES;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if ((rc = arbor__tenant_id(txn, s, tenant, 0, &tid)) != 0 || tid == 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    for (size_t i = 0; i < sizeof tenant_dbis / sizeof tenant_dbis[0] && rc == 0; i++)
        rc = delete_prefix(txn, s->dbi[tenant_dbis[i]], tid, &budget, deleted);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    *more = budget == 0;
    arbor_map64_clear(&s->tags_known); /* it may hold the tenant's catalog entries */
    return arbor__txn_commit(s, txn);
}
