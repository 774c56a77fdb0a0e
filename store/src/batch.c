/* The write side: one LMDB write transaction per group commit. Trace summaries
 * touched by the batch are cached here and written once at commit, so a request
 * of 100 spans of one trace costs one summary put, not 100. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct cached_summary cached_summary_t;
struct cached_summary {
    cached_summary_t *same_hash; /* the rare other trace whose ID hashes alike */
    cached_summary_t *next;      /* every cached summary, for commit and free */
    arbor_trace_summary_t t;
    uint64_t indexed_start; /* start_ns of the time-index entry on disk, if existed */
    uint64_t announced_at;  /* announced in this batch, at this time (0: not) */
    int existed;
    int was_empty;          /* existed with no span: an announcement waiting for its first */
    int bloom_dirty;
    uint8_t bloom[ARBOR_BLOOM_BYTES]; /* the trace's attribute bloom (time-index value) */
    /* owned copies of the summary's strings (t.* point here) */
    char name[SUMMARY_MAX_NAME], service[SUMMARY_MAX_NAME], exec[ARBOR_MAX_EXECUTION_ID];
    char workflow[SUMMARY_MAX_NAME];
};

struct arbor_batch {
    arbor_store_t *store;
    MDB_txn *txn;
    MDB_cursor *feed_cur;
    uint32_t tenant;
    uint64_t seq;      /* next sequence to assign */
    arbor_map64_t by_trace;   /* hash of the trace ID -> first cached_summary_t */
    cached_summary_t *summaries, **summaries_tail; /* in first-touch order */
    /* blocks that lost spans to replacements: their live counts go down at commit */
    struct block_drop {
        uint8_t key[BLOCK_KEY_LEN];
        uint32_t spans;
    } *drops;
    size_t n_drops, drops_cap;
};

static int summary_flush(arbor_batch_t *b, cached_summary_t *c);

static void tenant_prefix(uint8_t *k, uint32_t tenant)
{
    be32_put(k, tenant);
}

int arbor_batch_begin(arbor_store_t *s, arbor_iov_t tenant, arbor_batch_t **out)
{
    int rc;
    *out = NULL;
    if (s->read_only)
        return EACCES;
    arbor_batch_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ENOMEM;
    b->store = s;
    arbor_map64_init(&b->by_trace);
    b->summaries_tail = &b->summaries;
    b->seq = s->next_seq;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &b->txn)) != 0)
        goto fail_free;
    if ((rc = arbor__tenant_id(b->txn, s, tenant, 1, &b->tenant)) != 0)
        goto fail_txn;
    if ((rc = mdb_cursor_open(b->txn, s->dbi[DBI_FEED], &b->feed_cur)) != 0)
        goto fail_txn;
    *out = b;
    return 0;
fail_txn:
    mdb_txn_abort(b->txn);
fail_free:
    free(b);
    return rc;
}

/* Write the cached summaries (they belong to the current tenant) and forget them. */
static int summaries_flush_all(arbor_batch_t *b)
{
    int rc = 0;
    for (cached_summary_t *c = b->summaries, *next; c; c = next) {
        next = c->next;
        if (rc == 0)
            rc = summary_flush(b, c);
        free(c);
    }
    b->summaries = NULL;
    b->summaries_tail = &b->summaries;
    arbor_map64_clear(&b->by_trace);
    return rc;
}

int arbor_batch_set_tenant(arbor_batch_t *b, arbor_iov_t tenant)
{
    uint32_t id;
    int rc = arbor__tenant_id(b->txn, b->store, tenant, 1, &id);
    if (rc != 0 || id == b->tenant)
        return rc;
    if ((rc = summaries_flush_all(b)) != 0)
        return rc;
    b->tenant = id;
    return 0;
}

/* Entries put by an aborted transaction never existed: forget every cached one. */
static void tags_forget(arbor_store_t *s)
{
    arbor_map64_clear(&s->tags_known);
}

static void batch_free(arbor_batch_t *b)
{
    for (cached_summary_t *c = b->summaries, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    arbor_map64_free(&b->by_trace);
    free(b->drops);
    free(b);
}

void arbor_batch_abort(arbor_batch_t *b)
{
    if (b == NULL)
        return;
    mdb_cursor_close(b->feed_cur);
    mdb_txn_abort(b->txn);
    tags_forget(b->store);
    batch_free(b);
}

uint64_t arbor_batch_next_seq(const arbor_batch_t *b)
{
    return b->seq;
}

/* ---- content-addressed records ---- */

int arbor_batch_put_record(arbor_batch_t *b, arbor_record_kind_t kind, arbor_iov_t bytes, uint64_t *ref)
{
    uint8_t k[RECORD_KEY_LEN];
    uint64_t h = arbor_hash_fnv1a64(bytes.base, bytes.len); /* on disk: must stay FNV-1a */
    tenant_prefix(k, b->tenant);
    k[4] = (uint8_t)kind;
    /* linear probing resolves the (unlikely) hash collision between different bytes */
    for (int probe = 0; probe < 64; probe++, h++) {
        be64_put(k + 5, h);
        MDB_val key = {sizeof k, k}, val;
        int rc = mdb_get(b->txn, b->store->dbi[DBI_RECORDS], &key, &val);
        if (rc == 0) {
            if (val.mv_size == bytes.len && memcmp(val.mv_data, bytes.base, bytes.len) == 0) {
                *ref = h;
                return 0;
            }
            continue;
        }
        if (rc != MDB_NOTFOUND)
            return rc;
        val.mv_size = bytes.len;
        val.mv_data = (void *)bytes.base;
        if ((rc = mdb_put(b->txn, b->store->dbi[DBI_RECORDS], &key, &val, MDB_NOOVERWRITE)) != 0)
            return rc;
        *ref = h;
        return 0;
    }
    return EOVERFLOW;
}

/* ---- summary cache ---- */

static void set_str(arbor_iov_t *dst, char *storage, size_t cap, arbor_iov_t src)
{
    size_t n = src.len < cap ? src.len : cap;
    if (n)
        memcpy(storage, src.base, n);
    *dst = arbor_iov(storage, n);
}

/* Find or load the summary of @p trace_id into the cache. */
static int summary_get(arbor_batch_t *b, const uint8_t *trace_id, cached_summary_t **out)
{
    int rc, added;
    uint64_t *head = arbor_map64_put(&b->by_trace, arbor_hash_id(trace_id, 16), &added);
    if (head == NULL)
        return ENOMEM;
    for (cached_summary_t *c = (cached_summary_t *)(uintptr_t)*head; c; c = c->same_hash)
        if (memcmp(c->t.trace_id, trace_id, 16) == 0) {
            *out = c;
            return 0;
        }
    cached_summary_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return ENOMEM;
    uint8_t k[TRACE_KEY_LEN];
    tenant_prefix(k, b->tenant);
    memcpy(k + 4, trace_id, 16);
    MDB_val key = {sizeof k, k}, val;
    rc = mdb_get(b->txn, b->store->dbi[DBI_TRACES], &key, &val);
    if (rc == 0) {
        arbor_trace_summary_t t;
        if ((rc = arbor__summary_decode(&val, &t)) != 0) {
            free(c);
            return rc;
        }
        c->t = t;
        set_str(&c->t.root_name, c->name, sizeof c->name, t.root_name);
        set_str(&c->t.root_service, c->service, sizeof c->service, t.root_service);
        set_str(&c->t.execution_id, c->exec, sizeof c->exec, t.execution_id);
        set_str(&c->t.workflow_id, c->workflow, sizeof c->workflow, t.workflow_id);
        c->existed = 1;
        c->was_empty = t.span_count == 0;
        c->indexed_start = t.start_ns;
        uint8_t tk[TIME_KEY_LEN];
        tenant_prefix(tk, b->tenant);
        be64_put(tk + 4, t.start_ns);
        memcpy(tk + 12, trace_id, 16);
        MDB_val tkey = {sizeof tk, tk}, tval;
        if (mdb_get(b->txn, b->store->dbi[DBI_TIME], &tkey, &tval) == 0 && tval.mv_size == ARBOR_BLOOM_BYTES)
            memcpy(c->bloom, tval.mv_data, ARBOR_BLOOM_BYTES);
    } else if (rc == MDB_NOTFOUND) {
        c->t.start_ns = UINT64_MAX;
    } else {
        free(c);
        return rc;
    }
    memcpy(c->t.trace_id, trace_id, 16);
    c->same_hash = (cached_summary_t *)(uintptr_t)*head;
    *head = (uintptr_t)c;
    *b->summaries_tail = c;
    b->summaries_tail = &c->next;
    *out = c;
    return 0;
}

static int put_exec_index(arbor_batch_t *b, arbor_iov_t exec, const uint8_t *trace_id)
{
    uint8_t k[EXEC_KEY_MAX];
    tenant_prefix(k, b->tenant);
    k[4] = (uint8_t)exec.len;
    memcpy(k + 5, exec.base, exec.len);
    memcpy(k + 5 + exec.len, trace_id, 16);
    MDB_val key = {5 + exec.len + 16, k}, val = {0, ""};
    return mdb_put(b->txn, b->store->dbi[DBI_EXECS], &key, &val, 0);
}

/* The pending index: an announced trace waits there for its first span (and
 * leaves it when it comes), so announcements that never get one can expire. */
static int pending_update(arbor_batch_t *b, const cached_summary_t *c)
{
    uint8_t k[PENDING_KEY_LEN], v[8];
    tenant_prefix(k, b->tenant);
    memcpy(k + 4, c->t.trace_id, 16);
    MDB_val key = {sizeof k, k}, val = {sizeof v, v};
    if (c->t.span_count == 0 && c->announced_at) {
        le64_put(v, c->announced_at);
        return mdb_put(b->txn, b->store->dbi[DBI_PENDING], &key, &val, 0);
    }
    if (c->t.span_count > 0 && c->was_empty) {
        int rc = mdb_del(b->txn, b->store->dbi[DBI_PENDING], &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return 0;
}

static int summary_flush(arbor_batch_t *b, cached_summary_t *c)
{
    int rc;
    uint8_t tk[TIME_KEY_LEN];
    tenant_prefix(tk, b->tenant);
    memcpy(tk + 12, c->t.trace_id, 16);
    if ((rc = pending_update(b, c)) != 0)
        return rc;
    if (c->t.span_count == 0) /* announced, no span yet: in no time-ordered list */
        goto summary;
    if (c->existed && c->indexed_start != c->t.start_ns) {
        be64_put(tk + 4, c->indexed_start);
        MDB_val key = {sizeof tk, tk};
        rc = mdb_del(b->txn, b->store->dbi[DBI_TIME], &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    if (!c->existed || c->indexed_start != c->t.start_ns || c->bloom_dirty) {
        /* the time index carries the trace's bloom: searches test it while walking time */
        be64_put(tk + 4, c->t.start_ns);
        MDB_val key = {sizeof tk, tk}, val = {ARBOR_BLOOM_BYTES, c->bloom};
        if ((rc = mdb_put(b->txn, b->store->dbi[DBI_TIME], &key, &val, 0)) != 0)
            return rc;
    }
summary:;
    uint8_t k[TRACE_KEY_LEN];
    tenant_prefix(k, b->tenant);
    memcpy(k + 4, c->t.trace_id, 16);
    MDB_val key = {sizeof k, k}, val = {arbor__summary_size(&c->t), NULL};
    /* MDB_RESERVE: LMDB hands out the space and we encode straight into the map */
    if ((rc = mdb_put(b->txn, b->store->dbi[DBI_TRACES], &key, &val, MDB_RESERVE)) != 0)
        return rc;
    arbor__summary_encode(val.mv_data, &c->t);
    return 0;
}

/* ---- tag catalog ---- */

/* Process-wide set of catalog entries known to exist, by 64-bit hash, so a value
 * seen before costs no LMDB call; at 2^19 entries it is simply cleared (a
 * forgotten entry is merely put again). 1 if @p h was not known (and now is). */
#define TAGS_KNOWN_MAX (1u << 19)
static int tag_first(arbor_store_t *s, uint64_t h)
{
    int added;
    if (s->tags_known.n >= TAGS_KNOWN_MAX)
        arbor_map64_clear(&s->tags_known);
    return arbor_map64_put(&s->tags_known, h, &added) == NULL || added;
}

/* The per-key count of values added since start (NULL on ENOMEM: not counted). */
static uint64_t *key_count(arbor_store_t *s, uint64_t key_hash)
{
    int added;
    return arbor_map64_put(&s->key_counts, key_hash, &added);
}

/* Bloom bits for the trace, catalog entries for values not seen before. */
static int put_attrs(arbor_batch_t *b, cached_summary_t *c, const arbor_span_in_t *in)
{
    uint8_t k[ATTR_KEY_MAX];
    if (in->attrs_incomplete && c->bloom[0] != 0xff) { /* unknown values: the bloom must answer "maybe" */
        memset(c->bloom, 0xff, sizeof c->bloom);
        c->bloom_dirty = 1;
    }
    for (size_t i = 0; i < in->n_attrs; i++) {
        const arbor_attr_in_t *a = &in->attrs[i];
        int bloomed = a->type != ARBOR_VAL_OTHER && (a->scope == ARBOR_SCOPE_SPAN || a->scope == ARBOR_SCOPE_RESOURCE ||
                                                     a->scope == ARBOR_SCOPE_INTRINSIC);
        if (bloomed && arbor__bloom_add(c->bloom, a->scope, a->key, a->type, a->str, a->i, a->d))
            c->bloom_dirty = 1;
        size_t n = arbor__attr_prefix(k, b->tenant, a->scope, a->key, 1, a->type, a->str, a->i, a->d);
        if (n == 0 || !tag_first(b->store, arbor_hash_id(k, n))) /* too long to list, or listed */
            continue;
        uint64_t *count = key_count(b->store, arbor_hash_id(k, 6 + a->key.len));
        if (count && *count >= ARBOR_TAG_VALUES_PER_KEY) /* this key lists enough values */
            continue;
        MDB_val key = {n, k}, val = {0, ""};
        int rc = mdb_put(b->txn, b->store->dbi[DBI_TAGS], &key, &val, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            continue;
        if (rc)
            return rc;
        if (count)
            (*count)++;
    }
    return 0;
}

/* ---- artifacts ---- */

/* Index the artifacts a span names under its trace, both ways (by ID: who may
 * download it; by trace: what the trace's deletion takes). Re-sent spans put
 * the same keys again. */
static int put_artifacts(arbor_batch_t *b, const arbor_span_in_t *in)
{
    for (size_t i = 0; i < in->n_artifact_ids; i++) {
        arbor_iov_t id = in->artifact_ids[i];
        if (id.len == 0 || id.len > ARBOR_MAX_ARTIFACT_ID)
            continue;
        uint8_t k[ARTIFACT_KEY_MAX];
        size_t n = arbor__artifact_key(k, b->tenant, ARTIFACT_BY_ID, id, in->trace_id);
        MDB_val key = {n, k}, val = {0, ""};
        int rc = mdb_put(b->txn, b->store->dbi[DBI_ARTIFACTS], &key, &val, 0);
        if (rc == 0) {
            n = arbor__artifact_key(k, b->tenant, ARTIFACT_BY_TRACE, id, in->trace_id);
            key.mv_size = n;
            rc = mdb_put(b->txn, b->store->dbi[DBI_ARTIFACTS], &key, &val, 0);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- spans ---- */

/* Take back what an earlier copy of a span (its stored value @p old) added to
 * the summary: the copy about to replace it adds its own. */
static void summary_forget(arbor_trace_summary_t *t, const arbor_span_rec_t *prev, size_t value_size)
{
    size_t size = value_size + prev->block.share; /* a block reference counts its part of the block */
    t->span_count--;
    t->stored_bytes = t->stored_bytes > size ? t->stored_bytes - (uint32_t)size : 0;
    if (prev->status_code == 2)
        t->error_count--;
    t->tokens_in -= prev->tokens_in;
    t->tokens_out -= prev->tokens_out;
}

/* What span @p in (sequence @p seq) adds to its trace's summary: counts, tokens,
 * time range, the root's name, service and status, the workflow ID. */
static void summary_add(cached_summary_t *c, const arbor_span_in_t *in, uint64_t seq, size_t stored)
{
    arbor_trace_summary_t *t = &c->t;
    t->span_count++;
    t->stored_bytes = stored > UINT32_MAX - t->stored_bytes ? UINT32_MAX : t->stored_bytes + (uint32_t)stored;
    if (in->status_code == 2)
        t->error_count++;
    t->tokens_in += in->tokens_in;
    t->tokens_out += in->tokens_out;
    t->last_seq = seq;
    if (in->start_ns < t->start_ns)
        t->start_ns = in->start_ns;
    if (in->end_ns > t->end_ns)
        t->end_ns = in->end_ns;
    if (!in->has_parent) {
        t->has_root = 1;
        t->root_status = in->status_code;
        memcpy(t->root_span_id, in->span_id, 8);
        set_str(&t->root_name, c->name, sizeof c->name, in->name);
        set_str(&t->root_service, c->service, sizeof c->service, in->service_name);
    } else if (t->root_service.len == 0) {
        /* until the root arrives, the first span's service stands in */
        set_str(&t->root_service, c->service, sizeof c->service, in->service_name);
    }
    if (in->workflow_id.len > 0 && t->workflow_id.len == 0)
        set_str(&t->workflow_id, c->workflow, sizeof c->workflow, in->workflow_id);
}

/* Remember that a span of block @p id of the batch's tenant was replaced. */
static int block_drop(arbor_batch_t *b, const uint8_t *trace_id, uint64_t id)
{
    uint8_t k[BLOCK_KEY_LEN];
    block_key(k, b->tenant, trace_id, id);
    for (size_t i = b->n_drops; i-- > 0;)
        if (memcmp(b->drops[i].key, k, sizeof k) == 0) {
            b->drops[i].spans++;
            return 0;
        }
    if (b->n_drops == b->drops_cap) {
        size_t cap = b->drops_cap ? b->drops_cap * 2 : 16;
        struct block_drop *d = realloc(b->drops, cap * sizeof *d);
        if (d == NULL)
            return ENOMEM;
        b->drops = d;
        b->drops_cap = cap;
    }
    memcpy(b->drops[b->n_drops].key, k, sizeof k);
    b->drops[b->n_drops++].spans = 1;
    return 0;
}

/* Take back what the stored copy of a re-sent span contributed: its summary
 * share, and its place in a block. */
static int forget_old(arbor_batch_t *b, cached_summary_t *c, const uint8_t *trace_id, const MDB_val *old)
{
    arbor_span_rec_t prev;
    if (arbor__span_hdr_decode(old, &prev) != 0)
        return 0; /* unreadable: nothing to take back */
    summary_forget(&c->t, &prev, old->mv_size);
    return prev.block.id != 0 ? block_drop(b, trace_id, prev.block.id) : 0;
}

/* The span's value: header, name, then its bytes or its block reference. */
static int put_span_value(arbor_batch_t *b, MDB_val *key, const arbor_span_in_t *in, uint64_t seq, size_t *size)
{
    size_t head = SPAN_HDR_LEN + arbor__span_name_len(in);
    size_t body = in->block.id ? SPAN_REF_LEN : in->span_bytes.len;
    MDB_val val = {head + body, NULL};
    int rc = mdb_put(b->txn, b->store->dbi[DBI_SPANS], key, &val, MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *v = val.mv_data;
    arbor__span_hdr_encode(v, in, seq);
    if (in->block.id) {
        le64_put(v + head, in->block.id);
        le32_put(v + head + 8, in->block.offset);
        le32_put(v + head + 12, in->block.len);
        le32_put(v + head + 16, in->block.share);
    } else {
        memcpy(v + head, in->span_bytes.base, body);
    }
    *size = arbor_span_stored_size(in);
    return 0;
}

int arbor_batch_put_span(arbor_batch_t *b, const arbor_span_in_t *in)
{
    int rc;
    arbor_store_t *s = b->store;
    cached_summary_t *c;
    uint8_t k[SPAN_KEY_LEN];
    tenant_prefix(k, b->tenant);
    memcpy(k + 4, in->trace_id, 16);
    memcpy(k + 20, in->span_id, 8);
    MDB_val key = {sizeof k, k}, old;

    if ((rc = summary_get(b, in->trace_id, &c)) != 0)
        return rc;
    /* Idempotence: a re-sent span replaces the earlier copy, so take back what the
     * earlier copy contributed to the summary before adding the new one. */
    rc = mdb_get(b->txn, s->dbi[DBI_SPANS], &key, &old);
    if (rc == 0)
        rc = forget_old(b, c, in->trace_id, &old);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        return rc;

    uint64_t seq = b->seq;
    size_t stored;
    if ((rc = put_span_value(b, &key, in, seq, &stored)) != 0)
        return rc;
    if ((rc = put_attrs(b, c, in)) != 0 || (rc = put_artifacts(b, in)) != 0)
        return rc;

    /* change feed: append-only key (tenant | seq) */
    uint8_t fk[FEED_KEY_LEN], fv[24];
    tenant_prefix(fk, b->tenant);
    be64_put(fk + 4, seq);
    memcpy(fv, in->trace_id, 16);
    memcpy(fv + 16, in->span_id, 8);
    MDB_val fkey = {sizeof fk, fk}, fval = {sizeof fv, fv};
    rc = mdb_cursor_put(b->feed_cur, &fkey, &fval, MDB_APPEND);
    if (rc == MDB_KEYEXIST) /* another tenant holds larger keys: a plain insert */
        rc = mdb_cursor_put(b->feed_cur, &fkey, &fval, 0);
    if (rc)
        return rc;
    b->seq++;
    summary_add(c, in, seq, stored);
    if (in->execution_id.len > 0 && in->execution_id.len <= ARBOR_MAX_EXECUTION_ID && c->t.execution_id.len == 0) {
        /* the first execution ID seen for a trace maps the whole trace */
        set_str(&c->t.execution_id, c->exec, sizeof c->exec, in->execution_id);
        if ((rc = put_exec_index(b, in->execution_id, in->trace_id)) != 0)
            return rc;
    }
    return 0;
}

size_t arbor_span_stored_size(const arbor_span_in_t *in)
{
    size_t head = SPAN_HDR_LEN + arbor__span_name_len(in);
    /* a span bound for a block counts its share before the block has an id */
    return in->block.id || in->block.share ? head + SPAN_REF_LEN + in->block.share : head + in->span_bytes.len;
}

int arbor_batch_put_block(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN], arbor_iov_t packed,
                          arbor_span_codec_t codec, uint32_t raw_len, uint32_t n_spans, uint64_t *id)
{
    uint8_t k[BLOCK_KEY_LEN];
    if (n_spans == 0 || raw_len > ARBOR_BLOCK_MAX_RAW || codec > ARBOR_SPAN_LZ4)
        return ARBOR_EDECODE;
    /* the sequence its first span will get: unique, and ordered like the spans */
    *id = b->seq;
    block_key(k, b->tenant, trace_id, *id);
    MDB_val key = {sizeof k, k}, val = {BLOCK_HDR_LEN + packed.len, NULL};
    int rc = mdb_put(b->txn, b->store->dbi[DBI_BLOCKS], &key, &val, MDB_RESERVE | MDB_NOOVERWRITE);
    if (rc)
        return rc == MDB_KEYEXIST ? ARBOR_EDECODE : rc; /* two blocks before a span: a caller's mistake */
    uint8_t *h = val.mv_data;
    memset(h, 0, BLOCK_HDR_LEN);
    h[0] = 1;
    h[1] = (uint8_t)codec;
    le32_put(h + 4, n_spans);
    le32_put(h + 8, n_spans);
    memcpy(h + BLOCK_HDR_LEN, packed.base, packed.len);
    return 0;
}

/* Commit time: blocks whose spans were replaced lose them; a block none refers
 * to any more is deleted. */
static int apply_block_drops(arbor_batch_t *b)
{
    MDB_dbi dbi = b->store->dbi[DBI_BLOCKS];
    for (size_t i = 0; i < b->n_drops; i++) {
        MDB_val key = {BLOCK_KEY_LEN, b->drops[i].key}, val;
        int rc = mdb_get(b->txn, dbi, &key, &val);
        if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size < BLOCK_HDR_LEN))
            continue; /* nothing to count down (check reports a broken block) */
        if (rc)
            return rc;
        uint32_t live = le32_get((const uint8_t *)val.mv_data + 4);
        if (live <= b->drops[i].spans) {
            if ((rc = mdb_del(b->txn, dbi, &key, NULL)) != 0)
                return rc;
            continue;
        }
        uint8_t *copy = malloc(val.mv_size); /* the put may move the old value's pages */
        if (copy == NULL)
            return ENOMEM;
        memcpy(copy, val.mv_data, val.mv_size);
        le32_put(copy + 4, live - b->drops[i].spans);
        MDB_val nv = {val.mv_size, copy};
        rc = mdb_put(b->txn, dbi, &key, &nv, 0);
        free(copy);
        if (rc)
            return rc;
    }
    b->n_drops = 0;
    return 0;
}

int arbor_batch_trace_usage(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN], uint32_t *spans,
                            uint64_t *bytes)
{
    cached_summary_t *c;
    int rc = summary_get(b, trace_id, &c);
    *spans = rc == 0 ? c->t.span_count : 0;
    *bytes = rc == 0 ? c->t.stored_bytes : 0;
    return rc;
}

int arbor_batch_announce_execution(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                                   arbor_iov_t execution_id, uint64_t at_ns)
{
    cached_summary_t *c;
    int rc;
    if (execution_id.len == 0 || execution_id.len > ARBOR_MAX_EXECUTION_ID)
        return ARBOR_EDECODE;
    if ((rc = summary_get(b, trace_id, &c)) != 0)
        return rc;
    if (c->t.execution_id.len > 0) /* mapped already (by a span or an earlier announcement) */
        return 0;
    set_str(&c->t.execution_id, c->exec, sizeof c->exec, execution_id);
    c->announced_at = at_ns ? at_ns : 1;
    return put_exec_index(b, execution_id, trace_id);
}

int arbor_batch_put_meta(arbor_batch_t *b, const char *key, arbor_iov_t value)
{
    char k[128];
    int kl = snprintf(k, sizeof k, "app/%s", key);
    if (kl <= 0 || (size_t)kl >= sizeof k || value.len > 4096)
        return EINVAL;
    MDB_val mk = {(size_t)kl, k}, mv = {value.len, (void *)value.base};
    return mdb_put(b->txn, b->store->dbi[DBI_META], &mk, &mv, 0);
}

int arbor_batch_commit(arbor_batch_t *b)
{
    int rc = 0;
    arbor_store_t *s = b->store;
    rc = apply_block_drops(b);
    if (rc == 0)
        rc = summaries_flush_all(b);
    if (rc == 0 && b->seq != s->next_seq) {
        uint8_t v[8];
        le64_put(v, b->seq - 1);
        MDB_val key = {3, "seq"}, val = {8, v};
        rc = mdb_put(b->txn, s->dbi[DBI_META], &key, &val, 0);
    }
    mdb_cursor_close(b->feed_cur);
    b->feed_cur = NULL;
    if (rc == 0)
        rc = arbor__txn_commit(s, b->txn); /* with ARBOR_SYNC_COMMIT this includes fsync */
    else
        mdb_txn_abort(b->txn);
    if (rc == 0)
        s->next_seq = b->seq;
    else
        tags_forget(s);
    batch_free(b);
    return rc;
}
