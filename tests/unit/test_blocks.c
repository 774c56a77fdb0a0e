/* Blocks (format 4): a request's spans of one trace stored as one compressed
 * block. Each span reads back to its exact message; a replaced span counts its
 * block down and the last one deletes it; retention and tenant deletion take
 * blocks with their traces; check notices a block that disagrees; a store from
 * before blocks is read as it is, and a reader opened on it finds the blocks a
 * new writer adds; the store's cache of decompressed blocks (block_cache.c,
 * included to see its slots) keeps within its budget. */
#include "../../store/src/block_cache.c"

#include "store_fixture.h"
#include "tap.h"

static const uint8_t TRACE[16] = {0xb1, 0x0c};

static arbor_span_in_t span(uint8_t id, arbor_iov_t message)
{
    arbor_span_in_t in;
    memset(&in, 0, sizeof in);
    memcpy(in.trace_id, TRACE, 16);
    in.span_id[0] = 9;
    in.span_id[7] = id;
    in.has_parent = id > 1;
    in.parent_span_id[0] = 9;
    in.parent_span_id[7] = 1;
    in.start_ns = 1000 + id;
    in.end_ns = 2000;
    in.name = ARBOR_IOV("op");
    in.span_bytes = message;
    return in;
}

static void print_problem(void *ctx, const char *p)
{
    (*(int *)ctx)++;
    printf("# check: %s\n", p);
}

static uint64_t problems(arbor_store_t *s)
{
    uint64_t n = 99;
    int printed = 0;
    return arbor_store_check(s, print_problem, &printed, &n) == 0 ? n : 999;
}

static uint64_t entries(arbor_store_t *s, const char *index)
{
    arbor_store_stat_t st;
    if (arbor_store_stat(s, &st) != 0)
        return 999;
    for (size_t i = 0; i < st.n_indexes; i++)
        if (strcmp(st.indexes[i].name, index) == 0)
            return st.indexes[i].entries;
    return 999;
}

/* Put @p n spans of TRACE, the first @p in_block of them as one block (codec LZ4). */
static int put(arbor_store_t *s, arbor_span_in_t *sp, size_t n, size_t in_block, arbor_arena_t *a)
{
    arbor_batch_t *b;
    uint64_t ref, sref, id;
    char raw[8192];
    size_t at = 0;
    for (size_t i = 0; i < in_block; i++) {
        memcpy(raw + at, sp[i].span_bytes.base, sp[i].span_bytes.len);
        sp[i].block = (arbor_block_ref_t){0, (uint32_t)at, (uint32_t)sp[i].span_bytes.len, 10};
        at += sp[i].span_bytes.len;
    }
    arbor_iov_t packed;
    arbor_span_codec_t codec = ARBOR_SPAN_PLAIN;
    int rc = in_block ? arbor_block_pack(arbor_iov(raw, at), ARBOR_SPAN_LZ4, a, &packed, &codec) : 0;
    if (rc == 0)
        rc = arbor_batch_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &b);
    if (rc)
        return rc;
    rc = arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("r"), &ref);
    rc = rc ? rc : arbor_batch_put_record(b, ARBOR_RECORD_SCOPE, ARBOR_IOV("s"), &sref);
    if (rc == 0 && in_block)
        rc = arbor_batch_put_block(b, TRACE, packed, codec, (uint32_t)at, (uint32_t)in_block, &id);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sp[i].block.id = i < in_block ? id : 0;
        sp[i].resource_ref = ref;
        sp[i].scope_ref = sref;
        rc = arbor_batch_put_span(b, &sp[i]);
    }
    if (rc) {
        arbor_batch_abort(b);
        return rc;
    }
    return arbor_batch_commit(b);
}

static int same_message(arbor_reader_t *r, uint8_t id, arbor_iov_t want, arbor_arena_t *a)
{
    arbor_span_in_t key = span(id, want);
    arbor_span_rec_t rec;
    arbor_iov_t got;
    return arbor_reader_span(r, key.trace_id, key.span_id, &rec) == 0 && arbor_span_bytes(&rec, a, &got) == 0 &&
           arbor_iov_eq(got, want);
}

static char prose[3][700];

static void test_round_trip(arbor_store_t *s, arbor_arena_t *a)
{
    arbor_span_in_t sp[3];
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < sizeof prose[i]; k++)
            prose[i][k] = "the model answered the question about the quarter "[(k * (i + 1)) % 51];
        sp[i] = span((uint8_t)(i + 1), arbor_iov(prose[i], sizeof prose[i]));
    }
    is_int(put(s, sp, 3, 3, a), 0, "three spans of one trace stored as one LZ4 block");
    arbor_reader_t *r;
    arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    ok(same_message(r, 1, sp[0].span_bytes, a) && same_message(r, 2, sp[1].span_bytes, a) &&
           same_message(r, 3, sp[2].span_bytes, a),
       "each span reads back to its exact message");
    arbor_trace_summary_t sum;
    arbor_reader_trace_summary(r, TRACE, &sum);
    ok(sum.span_count == 3 && sum.stored_bytes == 3 * (SPAN_HDR_LEN + 2 + SPAN_REF_LEN + 10),
       "the summary counts each span's header, reference and share (%u bytes)", sum.stored_bytes);
    arbor_reader_end(r);
    arbor_block_cache_t *c = s->block_cache;
    ok(c->bytes == 2100, "the block was decompressed once and kept for the next reader (%zu bytes)", c->bytes);
    is_int(entries(s, "blocks"), 1, "one block entry");
    is_int(problems(s), 0, "check agrees");
}

static void test_replacement(arbor_store_t *s, arbor_arena_t *a)
{
    arbor_span_in_t again = span(2, ARBOR_IOV("\x2a\x03new"));
    is_int(put(s, &again, 1, 0, a), 0, "span 2 re-sent on its own");
    is_int(problems(s), 0, "check agrees: the block counts two live spans");
    arbor_reader_t *r;
    arbor_reader_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    ok(same_message(r, 2, again.span_bytes, a) && same_message(r, 1, arbor_iov(prose[0], sizeof prose[0]), a),
       "the new copy wins; the block still serves span 1");
    arbor_reader_end(r);
    arbor_span_in_t rest[2] = {span(1, ARBOR_IOV("\x2a\x01x")), span(3, ARBOR_IOV("\x2a\x01y"))};
    is_int(put(s, rest, 2, 0, a), 0, "spans 1 and 3 re-sent");
    is_int(entries(s, "blocks"), 0, "the block nobody refers to is gone");
    is_int(problems(s), 0, "check agrees");
    arbor_span_in_t dup[2] = {span(4, arbor_iov(prose[0], 500)), span(4, arbor_iov(prose[1], 500))};
    is_int(put(s, dup, 2, 2, a), 0, "a block holding the same span twice");
    is_int(problems(s), 0, "check agrees: the block counts one live span");
}

static void test_check_and_expire(arbor_store_t *s, arbor_arena_t *a)
{
    arbor_span_in_t sp[2] = {span(5, arbor_iov(prose[2], 600)), span(6, arbor_iov(prose[1], 600))};
    is_int(put(s, sp, 2, 2, a), 0, "another block");
    uint8_t k[BLOCK_KEY_LEN]; /* break it by hand: one live span too many */
    block_key(k, 1, TRACE, sp[0].block.id);
    MDB_txn *txn;
    mdb_txn_begin(s->env, NULL, 0, &txn);
    MDB_val key = {sizeof k, k}, val;
    int got = mdb_get(txn, s->dbi[DBI_BLOCKS], &key, &val) == 0;
    uint8_t *copy = malloc(val.mv_size);
    memcpy(copy, val.mv_data, val.mv_size);
    copy[4]++;
    MDB_val nv = {val.mv_size, copy};
    ok(got && mdb_put(txn, s->dbi[DBI_BLOCKS], &key, &nv, 0) == 0 && mdb_txn_commit(txn) == 0, "block miscounted by hand");
    free(copy);
    is_int(problems(s), 1, "check reports it");
    arbor_expire_t ex;
    is_int(arbor_store_expire(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), 1u << 30, 100000, &ex), 0, "the trace expires");
    ok(ex.traces == 1 && entries(s, "blocks") == 0 && entries(s, "spans") == 0, "its blocks went with its spans");
    is_int(problems(s), 0, "check agrees");
}

/* A store from before blocks: no blocks index. A reader opened on it keeps
 * working when a writer adds the index and fills it. */
static void test_old_store(arbor_store_t *s, store_fixture_t *f, arbor_arena_t *a)
{
    MDB_txn *txn;
    MDB_val k = {6, "format"}, v = {8, "\x03\0\0\0\0\0\0\0"};
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    rc = rc ? rc : mdb_drop(txn, s->dbi[DBI_BLOCKS], 1);
    rc = rc ? rc : mdb_put(txn, s->dbi[DBI_META], &k, &v, 0);
    rc = rc ? rc : mdb_txn_commit(txn);
    arbor_store_close(s);
    is_int(rc, 0, "the blocks index dropped and the store marked format 3, as older versions left it");
    arbor_store_t *ro = NULL, *rw = NULL;
    arbor_store_options_t o = {.path = f->dir, .map_size = 256 << 20, .read_only = 1};
    is_int(arbor_store_open(&o, &ro), 0, "a reader opens it");
    ok(!ro->have[DBI_BLOCKS] && entries(ro, "blocks") == 0, "and finds no blocks");
    o.read_only = 0;
    is_int(arbor_store_open(&o, &rw), 0, "a writer opens it, making the index");
    arbor_span_in_t sp[2] = {span(7, arbor_iov(prose[0], 400)), span(8, arbor_iov(prose[2], 400))};
    is_int(put(rw, sp, 2, 2, a), 0, "and stores a block");
    arbor_reader_t *r;
    arbor_reader_begin(ro, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    ok(same_message(r, 7, sp[0].span_bytes, a) && same_message(r, 8, sp[1].span_bytes, a),
       "the reader opened before finds the new block's spans");
    arbor_reader_end(r);
    is_int(problems(rw), 0, "check agrees");
    arbor_store_close(ro);
    f->store = rw;
}

/* A store from before the pending index: the announcements it holds get pending
 * entries when a writer makes the index, so they expire too. */
static void test_old_announcements(store_fixture_t *f)
{
    arbor_store_t *s = f->store;
    arbor_batch_t *b;
    uint8_t tid[16];
    memset(tid, 0x5a, 16);
    int rc = arbor_batch_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &b);
    rc = rc ? rc : arbor_batch_announce_execution(b, tid, ARBOR_IOV("exec-before-pending"), 1);
    rc = rc ? rc : arbor_batch_commit(b);
    MDB_txn *txn;
    rc = rc ? rc : mdb_txn_begin(s->env, NULL, 0, &txn);
    rc = rc ? rc : mdb_drop(txn, s->dbi[DBI_PENDING], 1);
    rc = rc ? rc : mdb_txn_commit(txn);
    arbor_store_close(s);
    is_int(rc, 0, "an announcement, then the pending index dropped, as older versions left the store");
    arbor_store_options_t o = {.path = f->dir, .map_size = 256 << 20};
    is_int(arbor_store_open(&o, &f->store), 0, "a writer opens it, making the index");
    s = f->store;
    is_int(entries(s, "pending"), 1, "the announcement without a span got its pending entry");
    is_int(problems(s), 0, "check agrees");
    arbor_expire_t ex;
    ok(arbor_store_expire_announced(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), UINT64_MAX, 100, &ex) == 0 && ex.traces == 1,
       "and it expires like a new one");
}

static void test_cache_budget(void)
{
    arbor_block_cache_t *c = arbor__block_cache_new(4000);
    uint8_t key[BLOCK_KEY_LEN] = {0};
    for (uint8_t i = 0; i < 10; i++) {
        key[27] = i;
        arbor__block_cache_put(c, key, calloc(1, 900), 900);
        if (i >= 1) { /* block 0 is read again each time: it keeps its place */
            arbor_arena_t a;
            arbor_iov_t out;
            arbor_block_ref_t ref = {1, 10, 20, 0};
            uint8_t zero[BLOCK_KEY_LEN] = {0};
            arbor_arena_init(&a, 1024, 0);
            arbor__block_cache_cut(c, zero, &ref, &a, &out);
            arbor_arena_free(&a);
        }
    }
    ok(c->bytes <= 4000, "ten 900-byte blocks in a 4,000-byte cache: %zu bytes kept", c->bytes);
    uint8_t zero[BLOCK_KEY_LEN] = {0};
    key[27] = 1;
    ok(find(c, zero) != NULL && find(c, key) == NULL, "the block read all along stayed; an unread one went");
    arbor_arena_t a;
    arbor_iov_t out;
    arbor_block_ref_t past = {1, 890, 20, 0};
    arbor_arena_init(&a, 1024, 0);
    is_int(arbor__block_cache_cut(c, zero, &past, &a, &out), ARBOR_EDECODE, "a reference past the end is refused");
    arbor_arena_free(&a);
    arbor__block_cache_put(c, key, calloc(1, 1001), 1001);
    ok(find(c, key) == NULL, "a block over a quarter of the budget is not kept");
    arbor__block_cache_free(c);
}

int main(void)
{
    store_fixture_t f;
    arbor_arena_t a;
    if (fixture_open(&f, "blocks", 256 << 20) != 0)
        return 1;
    arbor_arena_init(&a, 64 * 1024, 0);
    test_round_trip(f.store, &a);
    test_replacement(f.store, &a);
    test_check_and_expire(f.store, &a);
    test_old_store(f.store, &f, &a);
    test_old_announcements(&f);
    test_cache_budget();
    arbor_arena_free(&a);
    fixture_close(&f);
    return tap_done();
}
