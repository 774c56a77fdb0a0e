/* arbor_store_check: walk every index in one snapshot and confirm it agrees with
 * the span data. Used by `arbor-admin check` and by the tests as an oracle. */
#include "store_internal.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    arbor_store_t *s;
    MDB_txn *txn;
    arbor_check_report_fn fn;
    void *ctx;
    uint64_t problems;
    uint64_t blocks_seen; /* blocks visited trace by trace: the rest belong to no stored span */
} check_t;

static void problem(check_t *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->fn)
        c->fn(c->ctx, msg);
}

static const char *hex16(const uint8_t *id, char *buf)
{
    arbor_hex_encode(buf, id, 16);
    return buf;
}

static int exists(check_t *c, int dbi, const void *k, size_t kl, MDB_val *val)
{
    MDB_val key = {kl, (void *)k}, v;
    int rc = mdb_get(c->txn, c->s->dbi[dbi], &key, val ? val : &v);
    return rc == 0;
}

typedef struct {
    uint8_t tenant_trace[TRACE_KEY_LEN];
    uint32_t count, errors;
    int64_t tin, tout;
    uint64_t min_start, max_end, max_seq;
    int has_root;
    arbor_map64_t blocks; /* block id -> spans referring to it (low 32 bits), furthest end (high 32) */
} trace_acc_t;

static void note_block_ref(trace_acc_t *a, const arbor_block_ref_t *ref)
{
    int added;
    uint64_t *v = arbor_map64_put(&a->blocks, ref->id, &added);
    if (v == NULL)
        return;
    uint64_t end = (uint64_t)ref->offset + ref->len, far = *v >> 32;
    *v = (end > far ? end : far) << 32 | ((*v & 0xffffffffu) + 1);
}

/* The trace's blocks: each referred to by as many spans as it counts, long
 * enough for them, and every reference found. */
static int check_blocks_of(check_t *c, const trace_acc_t *a, const char *hx)
{
    MDB_cursor *cur;
    MDB_val key = {TRACE_KEY_LEN, (void *)a->tenant_trace}, val;
    arbor_arena_t arena;
    size_t found = 0;
    MDB_dbi dbi;
    if (arbor__late_dbi(c->s, DBI_BLOCKS, &dbi) != 0) { /* an older store: no block at all */
        if (a->blocks.n)
            problem(c, "trace %s: spans refer to %zu missing blocks", hx, a->blocks.n);
        return 0;
    }
    int rc = mdb_cursor_open(c->txn, dbi, &cur);
    if (rc)
        return rc;
    arbor_arena_init(&arena, 64 * 1024, 0);
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size != BLOCK_KEY_LEN || memcmp(key.mv_data, a->tenant_trace, TRACE_KEY_LEN) != 0)
            break;
        c->blocks_seen++;
        uint64_t id = be64_get((const uint8_t *)key.mv_data + 20), *refs = arbor_map64_get(&a->blocks, id);
        arbor_iov_t raw;
        found += refs != NULL;
        if (arbor__block_unpack(&val, &arena, &raw) != 0)
            problem(c, "trace %s: block %llu is malformed", hx, (unsigned long long)id);
        else if (refs == NULL || le32_get((const uint8_t *)val.mv_data + 4) != (uint32_t)*refs)
            problem(c, "trace %s: block %llu counts %u live spans, %u refer to it", hx, (unsigned long long)id,
                    le32_get((const uint8_t *)val.mv_data + 4), refs ? (uint32_t)*refs : 0);
        else if ((*refs >> 32) > raw.len)
            problem(c, "trace %s: a span reaches past the end of block %llu", hx, (unsigned long long)id);
        arbor_arena_reset(&arena);
    }
    arbor_arena_free(&arena);
    mdb_cursor_close(cur);
    if (found != a->blocks.n)
        problem(c, "trace %s: spans refer to %zu missing blocks", hx, a->blocks.n - found);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Compare one trace's accumulated span data with its summary. */
static void check_trace(check_t *c, const trace_acc_t *a)
{
    char hx[33];
    MDB_val v;
    arbor_trace_summary_t t;
    hex16(a->tenant_trace + 4, hx);
    if (check_blocks_of(c, a, hx) != 0)
        problem(c, "trace %s: its blocks could not be read", hx);
    if (!exists(c, DBI_TRACES, a->tenant_trace, TRACE_KEY_LEN, &v)) {
        problem(c, "trace %s: spans stored but no summary", hx);
        return;
    }
    if (arbor__summary_decode(&v, &t) != 0) {
        problem(c, "trace %s: summary is malformed", hx);
        return;
    }
    if (t.span_count != a->count)
        problem(c, "trace %s: summary says %u spans, %u stored", hx, t.span_count, a->count);
    if (t.error_count != a->errors)
        problem(c, "trace %s: summary says %u errors, %u stored", hx, t.error_count, a->errors);
    if (t.tokens_in != a->tin || t.tokens_out != a->tout)
        problem(c, "trace %s: summary tokens %lld/%lld, spans %lld/%lld", hx, (long long)t.tokens_in,
                (long long)t.tokens_out, (long long)a->tin, (long long)a->tout);
    if (t.start_ns > a->min_start || t.end_ns < a->max_end)
        problem(c, "trace %s: summary time range does not cover its spans", hx);
    if (t.last_seq != a->max_seq)
        problem(c, "trace %s: summary last_seq %llu, newest span %llu", hx, (unsigned long long)t.last_seq,
                (unsigned long long)a->max_seq);
    if (t.has_root != a->has_root)
        problem(c, "trace %s: summary root flag disagrees with spans", hx);
}

static int check_spans(check_t *c, uint64_t *n_spans)
{
    MDB_cursor *cur;
    MDB_val key, val;
    trace_acc_t a;
    int have = 0, rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_SPANS], &cur);
    char hx[33];
    if (rc)
        return rc;
    *n_spans = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        arbor_span_rec_t s;
        if (key.mv_size != SPAN_KEY_LEN || arbor__span_hdr_decode(&val, &s) != 0) {
            problem(c, "span entry with malformed key or value");
            continue;
        }
        (*n_spans)++;
        const uint8_t *k = key.mv_data;
        if (!have || memcmp(a.tenant_trace, k, TRACE_KEY_LEN) != 0) {
            if (have) {
                check_trace(c, &a);
                arbor_map64_free(&a.blocks);
            }
            memset(&a, 0, sizeof a);
            arbor_map64_init(&a.blocks);
            memcpy(a.tenant_trace, k, TRACE_KEY_LEN);
            a.min_start = UINT64_MAX;
            have = 1;
        }
        a.count++;
        a.errors += s.status_code == 2;
        a.tin += s.tokens_in;
        a.tout += s.tokens_out;
        a.min_start = s.start_ns < a.min_start ? s.start_ns : a.min_start;
        a.max_end = s.end_ns > a.max_end ? s.end_ns : a.max_end;
        a.max_seq = s.seq > a.max_seq ? s.seq : a.max_seq;
        a.has_root |= !s.has_parent;
        if (s.block.id)
            note_block_ref(&a, &s.block);
        /* its feed entry must exist and name this span */
        uint8_t fk[FEED_KEY_LEN];
        memcpy(fk, k, 4);
        be64_put(fk + 4, s.seq);
        MDB_val fv;
        if (!exists(c, DBI_FEED, fk, sizeof fk, &fv) || fv.mv_size != 24 || memcmp(fv.mv_data, k + 4, 24) != 0)
            problem(c, "trace %s: span seq %llu has no matching feed entry", hex16(k + 4, hx),
                    (unsigned long long)s.seq);
        uint8_t rk[RECORD_KEY_LEN];
        memcpy(rk, k, 4);
        rk[4] = ARBOR_RECORD_RESOURCE;
        be64_put(rk + 5, s.resource_ref);
        if (!exists(c, DBI_RECORDS, rk, sizeof rk, NULL))
            problem(c, "trace %s: span refers to a missing resource record", hex16(k + 4, hx));
        rk[4] = ARBOR_RECORD_SCOPE;
        be64_put(rk + 5, s.scope_ref);
        if (!exists(c, DBI_RECORDS, rk, sizeof rk, NULL))
            problem(c, "trace %s: span refers to a missing scope record", hex16(k + 4, hx));
    }
    if (have)
        check_trace(c, &a);
    if (have)
        arbor_map64_free(&a.blocks);
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    MDB_stat st;
    MDB_dbi dbi;
    if (arbor__late_dbi(c->s, DBI_BLOCKS, &dbi) != 0)
        return 0;
    if ((rc = mdb_stat(c->txn, dbi, &st)) != 0)
        return rc;
    if (st.ms_entries != c->blocks_seen)
        problem(c, "%llu blocks belong to no stored span", (unsigned long long)(st.ms_entries - c->blocks_seen));
    return 0;
}

static int check_summaries(check_t *c)
{
    MDB_cursor *cur;
    MDB_val key, val;
    char hx[33];
    int rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_TRACES], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        arbor_trace_summary_t t;
        const uint8_t *k = key.mv_data;
        if (key.mv_size != TRACE_KEY_LEN || arbor__summary_decode(&val, &t) != 0) {
            problem(c, "summary entry with malformed key or value");
            continue;
        }
        hex16(k + 4, hx);
        if (t.span_count == 0 && t.execution_id.len > 0 && t.start_ns == UINT64_MAX) {
            /* announced (arbor_batch_announce_execution), no span yet: no time entry */
            continue;
        }
        /* at least one span: the first key of the trace's range */
        MDB_cursor *sc;
        MDB_val sk = {TRACE_KEY_LEN, (void *)k}, sv;
        if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_SPANS], &sc)) != 0)
            break;
        int x = mdb_cursor_get(sc, &sk, &sv, MDB_SET_RANGE);
        if (x != 0 || memcmp(sk.mv_data, k, TRACE_KEY_LEN) != 0)
            problem(c, "trace %s: summary without spans", hx);
        mdb_cursor_close(sc);
        uint8_t tk[TIME_KEY_LEN];
        memcpy(tk, k, 4);
        be64_put(tk + 4, t.start_ns);
        memcpy(tk + 12, k + 4, 16);
        if (!exists(c, DBI_TIME, tk, sizeof tk, NULL))
            problem(c, "trace %s: no time-index entry at its start time", hx);
        if (t.execution_id.len > 0) {
            uint8_t ek[EXEC_KEY_MAX];
            memcpy(ek, k, 4);
            ek[4] = (uint8_t)t.execution_id.len;
            memcpy(ek + 5, t.execution_id.base, t.execution_id.len);
            memcpy(ek + 5 + t.execution_id.len, k + 4, 16);
            if (!exists(c, DBI_EXECS, ek, 5 + t.execution_id.len + 16, NULL))
                problem(c, "trace %s: execution index lacks its execution", hx);
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Time and execution entries must point at summaries that agree with them. */
static int check_back_refs(check_t *c)
{
    MDB_cursor *cur;
    MDB_val key, val;
    char hx[33];
    int rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_TIME], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const uint8_t *k = key.mv_data;
        uint8_t tk[TRACE_KEY_LEN];
        arbor_trace_summary_t t;
        MDB_val sv;
        memcpy(tk, k, 4);
        memcpy(tk + 4, k + 12, 16);
        if (val.mv_size != ARBOR_BLOOM_BYTES)
            problem(c, "time index entry for trace %s has no bloom filter", hex16(k + 12, hx));
        if (key.mv_size != TIME_KEY_LEN || !exists(c, DBI_TRACES, tk, sizeof tk, &sv) ||
            arbor__summary_decode(&sv, &t) != 0 || t.start_ns != be64_get(k + 4))
            problem(c, "time index entry for trace %s is stale", hex16(k + 12, hx));
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_EXECS], &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const uint8_t *k = key.mv_data;
        size_t el = key.mv_size > 5 ? k[4] : 0;
        uint8_t tk[TRACE_KEY_LEN];
        arbor_trace_summary_t t;
        MDB_val sv;
        if (key.mv_size != 5 + el + 16) {
            problem(c, "execution index entry with malformed key");
            continue;
        }
        memcpy(tk, k, 4);
        memcpy(tk + 4, k + 5 + el, 16);
        if (!exists(c, DBI_TRACES, tk, sizeof tk, &sv) || arbor__summary_decode(&sv, &t) != 0 ||
            !arbor_iov_eq(t.execution_id, arbor_iov(k + 5, el)))
            problem(c, "execution index entry for trace %s disagrees with its summary", hex16(tk + 4, hx));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every tag-catalog key must decode: tenant | scope | klen | key | value. */
static int check_tags(check_t *c)
{
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_TAGS], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const uint8_t *k = key.mv_data;
        arbor_attr_value_t v;
        size_t used;
        if (key.mv_size < 6 || key.mv_size < 6u + k[5] ||
            arbor__attr_value(k + 6 + k[5], key.mv_size - 6 - k[5], &v, &used) != 0 ||
            6 + k[5] + used != key.mv_size)
            problem(c, "tag catalog entry with malformed key");
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int check_feed(check_t *c, uint64_t n_spans)
{
    MDB_cursor *cur;
    MDB_val key, val;
    uint64_t current = 0, max_seq = 0;
    /* retention deleted spans up to this sequence: feed entries left by earlier
     * copies of those spans (re-sent spans) may name spans that are gone */
    uint64_t expired = arbor__expired_seq(c->txn, c->s);
    int rc = mdb_cursor_open(c->txn, c->s->dbi[DBI_FEED], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const uint8_t *k = key.mv_data;
        uint8_t sk[SPAN_KEY_LEN];
        MDB_val sv;
        arbor_span_rec_t s;
        if (key.mv_size != FEED_KEY_LEN || val.mv_size != 24) {
            problem(c, "feed entry with malformed key or value");
            continue;
        }
        uint64_t seq = be64_get(k + 4);
        max_seq = seq > max_seq ? seq : max_seq;
        memcpy(sk, k, 4);
        memcpy(sk + 4, val.mv_data, 24);
        if (!exists(c, DBI_SPANS, sk, sizeof sk, &sv)) {
            if (seq > expired)
                problem(c, "feed entry %llu names a span that is missing", (unsigned long long)seq);
        } else if (arbor__span_hdr_decode(&sv, &s) != 0 || s.seq < seq)
            problem(c, "feed entry %llu names a span that is older", (unsigned long long)seq);
        else if (s.seq == seq)
            current++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    if (current != n_spans)
        problem(c, "feed has %llu current entries for %llu spans", (unsigned long long)current,
                (unsigned long long)n_spans);
    MDB_val mk = {3, "seq"}, mv;
    uint64_t meta_seq = 0;
    if (mdb_get(c->txn, c->s->dbi[DBI_META], &mk, &mv) == 0 && mv.mv_size == 8)
        meta_seq = le64_get(mv.mv_data);
    if (meta_seq != max_seq && !(max_seq < meta_seq && meta_seq <= expired)) /* the newest spans expired */
        problem(c, "meta sequence %llu but newest feed entry %llu", (unsigned long long)meta_seq,
                (unsigned long long)max_seq);
    return 0;
}

/* One artifacts entry: its twin exists, and its trace has a summary. */
static void check_artifact(check_t *c, const uint8_t *k, size_t len)
{
    char hx[33];
    int by_id = len >= 6 && k[4] == ARTIFACT_BY_ID && len == (size_t)6 + k[5] + 16;
    int by_trace = len >= 22 && k[4] == ARTIFACT_BY_TRACE && len == (size_t)22 + k[21];
    if (!by_id && !by_trace) {
        problem(c, "artifact index entry with malformed key");
        return;
    }
    arbor_iov_t id = by_id ? arbor_iov(k + 6, k[5]) : arbor_iov(k + 22, k[21]);
    const uint8_t *trace = by_id ? k + 6 + k[5] : k + 5;
    uint8_t twin[ARTIFACT_KEY_MAX], tk[TRACE_KEY_LEN];
    size_t n = arbor__artifact_key(twin, be32_get(k), by_id ? ARTIFACT_BY_TRACE : ARTIFACT_BY_ID, id, trace);
    MDB_val key = {n, twin}, val;
    if (mdb_get(c->txn, c->s->dbi[DBI_ARTIFACTS], &key, &val) != 0)
        problem(c, "trace %s: artifact entry without its twin", hex16(trace, hx));
    memcpy(tk, k, 4);
    memcpy(tk + 4, trace, 16);
    if (by_id && !exists(c, DBI_TRACES, tk, sizeof tk, NULL))
        problem(c, "trace %s: artifact entry for a trace that is gone", hex16(trace, hx));
}

/* One pending entry: an announced trace with no span yet. */
static void check_pending_entry(check_t *c, const MDB_val *key, const MDB_val *val)
{
    char hx[33];
    arbor_trace_summary_t t;
    MDB_val sv;
    if (key->mv_size != PENDING_KEY_LEN || val->mv_size != 8) {
        problem(c, "pending entry with malformed key or value");
        return;
    }
    if (!exists(c, DBI_TRACES, key->mv_data, PENDING_KEY_LEN, &sv) || arbor__summary_decode(&sv, &t) != 0 ||
        t.span_count != 0 || t.execution_id.len == 0)
        problem(c, "trace %s: pending entry for a trace that is not an announcement waiting for spans",
                hex16((const uint8_t *)key->mv_data + 4, hx));
}

/* The indexes a store may have gained after it was made: each entry agrees with the rest. */
static int check_late_indexes(check_t *c)
{
    static const int which[] = {DBI_ARTIFACTS, DBI_PENDING};
    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
        MDB_dbi dbi;
        MDB_cursor *cur;
        MDB_val key, val;
        if (arbor__late_dbi(c->s, which[i], &dbi) != 0)
            continue;
        int rc = mdb_cursor_open(c->txn, dbi, &cur);
        if (rc)
            return rc;
        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
            if (which[i] == DBI_ARTIFACTS)
                check_artifact(c, key.mv_data, key.mv_size);
            else
                check_pending_entry(c, &key, &val);
        mdb_cursor_close(cur);
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

int arbor_store_check(arbor_store_t *s, arbor_check_report_fn fn, void *ctx, uint64_t *problems)
{
    check_t c = {s, NULL, fn, ctx, 0, 0};
    uint64_t n_spans = 0;
    arbor__late_dbis_open(s); /* opened before the snapshot, which can then use them */
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c.txn);
    if (rc)
        return rc;
    if ((rc = check_spans(&c, &n_spans)) == 0 && (rc = check_summaries(&c)) == 0 &&
        (rc = check_back_refs(&c)) == 0 && (rc = check_tags(&c)) == 0 && (rc = check_late_indexes(&c)) == 0)
        rc = check_feed(&c, n_spans);
    mdb_txn_abort(c.txn);
    *problems = c.problems;
    return rc;
}
