/**
 * @file store.h
 * @brief Arbor's span store: an LMDB environment holding lossless OTLP spans,
 *        indexed by trace, execution and time, with a change feed.
 *
 * Processes: exactly one writer process (arbor-collector) opens the store
 * read-write; any number of reader processes (arbor-query, arbor-admin) open it
 * read-only. LMDB's MVCC means readers never block the writer and see a
 * consistent snapshot per read transaction.
 *
 * Threads: one arbor_batch_t exists at a time and stays on the thread that began
 * it. Readers may be used from any thread, one thread at a time each (MDB_NOTLS).
 *
 * Ownership: handles are created by *_open / *_begin and released by the
 * matching *_close / *_commit / *_abort / *_end. Every pointer a reader hands out
 * (span bytes, names, record bytes) is a zero-copy borrow from the memory map,
 * valid until that reader ends. Nothing here aborts on bad input; every function
 * returns 0 or an error code of arbor/base.h (LMDB codes pass through).
 */
#ifndef ARBOR_STORE_H
#define ARBOR_STORE_H

#include "arbor/base.h"

#include <stdint.h>

#define ARBOR_TRACE_ID_LEN 16
#define ARBOR_SPAN_ID_LEN 8
/** Longest execution ID that is indexed (longer IDs stay in span attributes only). */
#define ARBOR_MAX_EXECUTION_ID 255
/** Longest artifact ID that is indexed (a longer one can never be downloaded). */
#define ARBOR_MAX_ARTIFACT_ID 255

typedef struct arbor_store arbor_store_t;
typedef struct arbor_batch arbor_batch_t;
typedef struct arbor_reader arbor_reader_t;

typedef enum {
    ARBOR_SYNC_COMMIT = 0, /**< fsync every commit before it returns (durable) */
    ARBOR_SYNC_NONE = 1,   /**< leave flushing to the OS; arbor_store_sync() bounds the loss */
} arbor_sync_mode_t;

typedef struct {
    const char *path;        /**< directory; created (0700) if missing and writable */
    uint64_t map_size;       /**< LMDB map size in bytes; 0 = 16 GiB */
    int read_only;           /**< open as a reader process */
    arbor_sync_mode_t sync;  /**< writer only */
    unsigned max_readers;    /**< 0 = 512 */
    size_t block_cache_bytes; /**< decompressed blocks kept for readers; 0 = 8 MiB */
} arbor_store_options_t;

/**
 * Open (and for a writer, create) the store. A writer takes DIR/writer.lock for
 * as long as the store is open: a second writer on the same directory, in this
 * process or another, gets ARBOR_ELOCKED.
 * @return 0; ARBOR_ELOCKED; ARBOR_ENOSTORE when read_only and no writer has created it yet;
 *         ARBOR_EFORMAT for a store of another format version; errno / LMDB codes.
 *         On failure *out is NULL and nothing is left open.
 */
int arbor_store_open(const arbor_store_options_t *opts, arbor_store_t **out);
/** PID written by the process holding @p path's writer lock (0 if unknown). */
long arbor_store_writer_pid(const char *path);
/** Close the store. All batches and readers must have ended. Cannot fail. */
void arbor_store_close(arbor_store_t *store);
/**
 * Free the reader slots of processes that died inside a read transaction (a
 * killed arbor-query): their snapshots would otherwise keep old pages from being
 * reused until the map fills. Writer only; safe beside live readers.
 * @param[out] cleared slots freed.
 */
int arbor_store_reader_check(arbor_store_t *store, int *cleared);
/** Flush OS buffers to disk (useful with ARBOR_SYNC_NONE). */
int arbor_store_sync(arbor_store_t *store);
/**
 * ID of the last committed write transaction, read from the meta page without a
 * transaction or lock (a few nanoseconds): a reader process polls it to learn
 * that the writer committed something.
 */
uint64_t arbor_store_last_txn(arbor_store_t *store);
/** Bytes the data file occupies. */
uint64_t arbor_store_file_size(arbor_store_t *store);

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/** Record kinds for shared, deduplicated resource/scope bytes. */
typedef enum { ARBOR_RECORD_RESOURCE = 1, ARBOR_RECORD_SCOPE = 2 } arbor_record_kind_t;

/** Attribute scopes (of trace blooms and the tag catalog). Event and link values
 *  are catalogued (tag names and values) but never put in a bloom. */
typedef enum {
    ARBOR_SCOPE_SPAN = 's',
    ARBOR_SCOPE_RESOURCE = 'r',
    ARBOR_SCOPE_INTRINSIC = 'i',
    ARBOR_SCOPE_EVENT = 'e',
    ARBOR_SCOPE_LINK = 'l',
} arbor_attr_scope_t;
/** Value types (their order is the tag catalog's order). ARBOR_VAL_OTHER is a
 *  value the catalog does not list and a bloom does not hold (a map, an array with
 *  no scalar in it, bytes): catalogued so that its key is listed. It sorts after
 *  every listed type, so a reader that stops at a type it does not know has
 *  listed every value first. */
typedef enum {
    ARBOR_VAL_BOOL = 'b',
    ARBOR_VAL_DOUBLE = 'd',
    ARBOR_VAL_INT = 'i',
    ARBOR_VAL_STRING = 's',
    ARBOR_VAL_OTHER = 'x',
} arbor_val_type_t;

/** Longest key / value kept in the tag catalog (blooms take any length). */
#define ARBOR_ATTR_MAX_KEY 128
#define ARBOR_ATTR_MAX_VALUE 64
/** Size of a trace's attribute bloom filter. */
#define ARBOR_BLOOM_BYTES 128
/** New values the tag catalog takes per key before it stops listing more. */
#define ARBOR_TAG_VALUES_PER_KEY 1000

/** One attribute value of a span: goes into its trace's bloom filter and the tag
 *  catalog (event and link scopes, and ARBOR_VAL_OTHER, into the catalog only).
 *  An array gives one entry per element, all with its key. */
typedef struct {
    arbor_attr_scope_t scope;
    arbor_val_type_t type;
    arbor_iov_t key;
    arbor_iov_t str;  /* STRING */
    int64_t i;        /* INT, BOOL (0/1) */
    double d;         /* DOUBLE */
} arbor_attr_in_t;

/** How stored span bytes are encoded (see arbor_span_pack()). */
typedef enum {
    ARBOR_SPAN_PLAIN = 0, /**< the OTLP Span message as it is */
    ARBOR_SPAN_ZSTD = 1,  /**< one zstd frame (level -1) against the built-in dictionary */
    ARBOR_SPAN_LZ4 = 2,   /**< the raw length (u32 LE), then one LZ4 block against the same dictionary */
} arbor_span_codec_t;

/** Where a span's message is when it shares a block with other spans of its trace
 *  (arbor_batch_put_block()). */
typedef struct {
    uint64_t id;          /**< the block's; 0: the span has its own bytes (span_bytes) */
    uint32_t offset, len; /**< the message within the block's raw bytes */
    uint32_t share;       /**< its part of the block's stored size (trace summaries and limits count it) */
} arbor_block_ref_t;

/** One span to store. All pointers are borrowed for the duration of the call. */
typedef struct {
    uint8_t trace_id[ARBOR_TRACE_ID_LEN];
    uint8_t span_id[ARBOR_SPAN_ID_LEN];
    uint8_t parent_span_id[ARBOR_SPAN_ID_LEN];
    int has_parent;
    uint64_t start_ns, end_ns;
    int kind;        /**< OTLP SpanKind */
    int status_code; /**< OTLP StatusCode: 0 unset, 1 ok, 2 error */
    int has_tokens;
    int64_t tokens_in, tokens_out;
    uint64_t shown_duration_ns; /**< non-zero: show the span as ending at end_ns and lasting this long
                                     (zero-length spans that carry their real latency elsewhere) */
    arbor_iov_t name;         /**< span name, kept in the trace summary for roots */
    arbor_iov_t service_name; /**< resource service.name */
    arbor_iov_t execution_id; /**< empty when the span carries none */
    arbor_iov_t workflow_id;  /**< empty when the span carries none (kept per trace) */
    uint64_t resource_ref, scope_ref; /**< from arbor_batch_put_record() */
    arbor_iov_t span_bytes;   /**< the OTLP Span message, encoded as span_codec says (block.id 0) */
    arbor_span_codec_t span_codec;
    arbor_block_ref_t block;  /**< block.id set: the message is in that block, span_bytes unused */
    const arbor_attr_in_t *attrs; /**< values for the trace's bloom filter and the tag catalog */
    size_t n_attrs;
    int attrs_incomplete;     /**< the span has values not in attrs: its trace's bloom must rule nothing out */
    const arbor_iov_t *artifact_ids; /**< artifacts the span names: downloads are served only for these,
                                          per tenant (arbor_reader_artifact_referenced) */
    size_t n_artifact_ids;
} arbor_span_in_t;

/**
 * Begin the write transaction of one group commit.
 * @return 0 or an LMDB error; *out is NULL on failure.
 */
int arbor_batch_begin(arbor_store_t *store, arbor_iov_t tenant, arbor_batch_t **out);
/**
 * Write what follows for @p tenant (created if new), in the same transaction: one
 * group commit may carry several tenants' requests. Records are per tenant, so
 * put_record references from before the switch are not valid after it.
 * @return 0, ARBOR_EDECODE for a name over 255 bytes, or an LMDB error (abort then).
 */
int arbor_batch_set_tenant(arbor_batch_t *b, arbor_iov_t tenant);
/**
 * What @p trace_id holds so far for the batch's tenant, this batch's puts
 * included: spans, and bytes as stored (arbor_trace_summary_t.stored_bytes).
 * 0 (zeros for a new trace) or an LMDB error.
 */
int arbor_batch_trace_usage(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN], uint32_t *spans,
                            uint64_t *bytes);
/** The bytes @p span's value will take in the store (what stored_bytes adds up); a span
 *  bound for a block counts its block.share (set before its block has an id). */
size_t arbor_span_stored_size(const arbor_span_in_t *span);
/** Largest raw block arbor_batch_put_block() takes; callers split longer runs. */
#define ARBOR_BLOCK_MAX_RAW (1u << 20)
/** What a stored block takes besides its packed bytes (its spans' shares add up to both). */
#define ARBOR_BLOCK_HEADER_BYTES 12
/**
 * Pack the concatenated span messages of one trace, @p raw, as one block: with
 * @p codec when that saves more than 1/9 (*used says which), into @p arena. One
 * codec call for the lot, and far better compression than span by span (their
 * keys, resources and prose repeat). Thread-safe, for the decoding threads.
 * 0, ENOMEM, or EINVAL for more than ARBOR_BLOCK_MAX_RAW bytes.
 */
int arbor_block_pack(arbor_iov_t raw, arbor_span_codec_t codec, arbor_arena_t *arena, arbor_iov_t *out,
                     arbor_span_codec_t *used);
/**
 * Store a block from arbor_block_pack() for @p n_spans spans of @p trace_id, to
 * be put next with block.id = *id (their offsets into @p raw_len bytes). The
 * block goes when its last span is replaced or its trace expires.
 * @return 0, ARBOR_EDECODE (no spans, or raw_len over ARBOR_BLOCK_MAX_RAW) or an LMDB error.
 */
int arbor_batch_put_block(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN], arbor_iov_t packed,
                          arbor_span_codec_t codec, uint32_t raw_len, uint32_t n_spans, uint64_t *id);
/**
 * Store @p bytes once per tenant (content-addressed) and return its reference.
 * Identical bytes always yield the same reference.
 */
int arbor_batch_put_record(arbor_batch_t *b, arbor_record_kind_t kind, arbor_iov_t bytes, uint64_t *ref);
/**
 * Store one span: replaces an earlier copy with the same (trace ID, span ID),
 * assigns the next change-feed sequence, updates summary and indexes.
 * On error the batch must be aborted (LMDB leaves the transaction unusable).
 */
int arbor_batch_put_span(arbor_batch_t *b, const arbor_span_in_t *span);
/**
 * Map @p trace_id to @p execution_id before (or without) any span carrying the
 * ID: a backend announcing a run as it starts, so that the execution's tree is
 * served from its first span on. Like an execution ID on a span, the first
 * mapping of a trace wins. A trace with no span yet has a summary (span_count 0,
 * start UINT64_MAX), an execution entry and a pending entry made at @p at_ns,
 * but no time entry: lists and searches see it once spans arrive, and
 * arbor_store_expire_announced() deletes it if none ever does.
 * @return 0; ARBOR_EDECODE for an empty or too long ID (> ARBOR_MAX_EXECUTION_ID).
 */
int arbor_batch_announce_execution(arbor_batch_t *b, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                                   arbor_iov_t execution_id, uint64_t at_ns);
/**
 * Store a small application value under @p key in the meta index (for example the
 * collector's counters, read by arbor-query's /metrics). Keys are namespaced
 * ("app/" is prepended); values up to 4 KiB.
 */
int arbor_batch_put_meta(arbor_batch_t *b, const char *key, arbor_iov_t value);
/** Sequence number the next stored span will get. */
uint64_t arbor_batch_next_seq(const arbor_batch_t *b);
/**
 * Commit: everything put is durable (per the sync mode) when this returns 0.
 * The batch is freed whether or not it succeeds; on failure nothing was stored.
 */
int arbor_batch_commit(arbor_batch_t *b);
/** Discard everything put since begin and free the batch. Cannot fail. */
void arbor_batch_abort(arbor_batch_t *b);

/**
 * Compress plain @p in->span_bytes with @p codec into @p arena when that saves
 * more than 1/9 (and set span_codec); otherwise leave it plain. Thread-safe, so
 * callers do it on their own threads rather than the writer's. 0 or ENOMEM
 * (then unchanged).
 */
int arbor_span_pack(arbor_span_in_t *in, arbor_span_codec_t codec, arbor_arena_t *arena);

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

/** A stored span as the reader sees it (borrowed until the reader ends). */
typedef struct {
    uint8_t trace_id[ARBOR_TRACE_ID_LEN];
    uint8_t span_id[ARBOR_SPAN_ID_LEN];
    uint8_t parent_span_id[ARBOR_SPAN_ID_LEN];
    int has_parent;
    int has_tokens;
    int kind, status_code;
    uint64_t seq, start_ns, end_ns;
    int64_t tokens_in, tokens_out;
    uint64_t shown_duration_ns; /**< see arbor_span_in_t */
    uint64_t resource_ref, scope_ref;
    arbor_iov_t name;       /**< span name, without decoding the span bytes */
    arbor_iov_t span_bytes; /**< as stored: use arbor_span_bytes() for the OTLP Span message */
    arbor_span_codec_t span_codec;
    arbor_block_ref_t block; /**< block.id set: the message is in a block, read through @p reader */
    arbor_reader_t *reader;  /**< the reader that returned the record (NULL: none) */
} arbor_span_rec_t;

/**
 * The OTLP Span message of @p rec: the stored bytes themselves, or decompressed
 * (or cut from its block, which the reader decompresses once and keeps a while)
 * into @p arena: they then live as long as the arena. 0, ENOMEM, ARBOR_EDECODE
 * (a corrupt frame or block) or ARBOR_ENOTFOUND (a block missing).
 */
int arbor_span_bytes(const arbor_span_rec_t *rec, arbor_arena_t *arena, arbor_iov_t *out);

/** Per-trace summary (strings borrowed until the reader ends). */
typedef struct {
    uint8_t trace_id[ARBOR_TRACE_ID_LEN];
    uint64_t start_ns, end_ns, last_seq;
    uint32_t span_count, error_count;
    uint32_t stored_bytes; /**< span values as stored (saturating; traces older than this count read 0) */
    int64_t tokens_in, tokens_out;
    int has_root;
    int root_status;
    uint8_t root_span_id[ARBOR_SPAN_ID_LEN];
    arbor_iov_t root_name, root_service, execution_id, workflow_id;
    const uint8_t *bloom; /**< ARBOR_BLOOM_BYTES, or NULL: set by arbor_reader_recent_traces() and
                               arbor_reader_trace_bloom() */
} arbor_trace_summary_t;

/**
 * Begin a read snapshot. Cheap (no lock, no I/O).
 * @return 0 or an LMDB error; *out is NULL on failure.
 */
int arbor_reader_begin(arbor_store_t *store, arbor_iov_t tenant, arbor_reader_t **out);
/** End the snapshot; every borrowed pointer becomes invalid. Cannot fail. */
void arbor_reader_end(arbor_reader_t *r);
/**
 * Read @p tenant's data from here on, in the same snapshot (a live tick serves
 * every tenant's subscribers from one consistent view). Borrowed pointers stay
 * valid. An unknown tenant finds nothing. 0 or an LMDB error.
 */
int arbor_reader_set_tenant(arbor_reader_t *r, arbor_iov_t tenant);
/** Last change-feed sequence committed as of this snapshot (0 = empty store). */
uint64_t arbor_reader_last_seq(arbor_reader_t *r);
/** The store's number for the reader's tenant (0: unknown, it finds nothing). Never reused for
 *  another tenant, so with trace IDs and sequences it names data across snapshots (caches). */
uint32_t arbor_reader_tenant_id(const arbor_reader_t *r);
/** The transaction ID of the reader's snapshot: compare it with arbor_store_last_txn(),
 *  which may run ahead of what a reader started just after it sees. */
uint64_t arbor_reader_txn_id(arbor_reader_t *r);

/** @return 0 or ARBOR_ENOTFOUND. */
int arbor_reader_trace_summary(arbor_reader_t *r, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                               arbor_trace_summary_t *out);

/** Visitor: return 0 to continue, anything else stops the walk and is returned. */
typedef int (*arbor_span_visit_fn)(void *ctx, const arbor_span_rec_t *span);

/** Every span of one trace in span-ID order, with one range scan. 0 when none. */
int arbor_reader_trace_spans(arbor_reader_t *r, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                             arbor_span_visit_fn fn, void *ctx);

/** One span; 0 or ARBOR_ENOTFOUND. */
int arbor_reader_span(arbor_reader_t *r, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                      const uint8_t span_id[ARBOR_SPAN_ID_LEN], arbor_span_rec_t *out);

/**
 * Read @p n spans again by key: each rec's trace_id and span_id are set by the
 * caller, the rest is filled in where found[i] becomes 1. One cursor walks them:
 * keys in ascending order mostly stay on the leaf page it is on, so this costs
 * far less than arbor_reader_span each. 0 or an LMDB error.
 */
int arbor_reader_spans_fill(arbor_reader_t *r, arbor_span_rec_t *recs, size_t n, uint8_t *found);

/**
 * Trace IDs mapped to an execution, up to @p max, in trace-ID order.
 * @param[out] n how many were written to @p ids. 0 even when none.
 */
int arbor_reader_execution_traces(arbor_reader_t *r, arbor_iov_t execution_id,
                                  uint8_t (*ids)[ARBOR_TRACE_ID_LEN], size_t max, size_t *n);

/** Does a span of the reader's tenant name artifact @p id (arbor_span_in_t.artifact_ids)?
 *  0 when one does; ARBOR_ENOTFOUND when none (or the ID is empty or too long to be indexed). */
int arbor_reader_artifact_referenced(arbor_reader_t *r, arbor_iov_t id);

/** A value stored with arbor_batch_put_meta(); 0 or ARBOR_ENOTFOUND. */
int arbor_reader_meta(arbor_reader_t *r, const char *key, arbor_iov_t *value);

/** Bytes of a resource/scope record; 0 or ARBOR_ENOTFOUND. */
int arbor_reader_record(arbor_reader_t *r, arbor_record_kind_t kind, uint64_t ref, arbor_iov_t *bytes);

/** Visitor over trace summaries. */
typedef int (*arbor_trace_visit_fn)(void *ctx, const arbor_trace_summary_t *trace);
/** Traces newest-start first, starting at or before @p before_ns (0 = now/any). */
int arbor_reader_recent_traces(arbor_reader_t *r, uint64_t before_ns, arbor_trace_visit_fn fn, void *ctx);
/** What the time index alone says of a trace (its start and bloom, NULL when it
 *  has none): return 0 to visit it, a negative number to pass it by without
 *  reading its summary, a positive one to stop the walk (returned). */
typedef int (*arbor_trace_prefilter_fn)(void *ctx, uint64_t start_ns, const uint8_t *bloom);
/** arbor_reader_recent_traces() with @p pre asked first: a search passes most
 *  traces by on their bloom, at the cost of a cursor step each. */
int arbor_reader_recent_traces_filtered(arbor_reader_t *r, uint64_t before_ns, arbor_trace_prefilter_fn pre,
                                        arbor_trace_visit_fn fn, void *ctx);

/** An attribute value as the tag catalog returns it, or as a bloom query (borrowed). */
typedef struct {
    arbor_val_type_t type;
    arbor_iov_t str;
    int64_t i;
    double d;
} arbor_attr_value_t;

/**
 * 1 if the trace whose bloom filter is @p bloom may have @p key = @p value in
 * @p scope; 0 if it certainly has not. Strings of any length, integers, doubles
 * (an integral double also answers as the integer) and booleans. Cannot fail.
 */
int arbor_bloom_may_contain(const uint8_t *bloom, arbor_attr_scope_t scope, arbor_iov_t key,
                            const arbor_attr_value_t *value);

/** A bloom question asked of many traces: hashed once (arbor_bloom_probe), tested
 *  per trace (arbor_bloom_probe_test) with the answers of arbor_bloom_may_contain(). */
typedef struct {
    uint64_t hash;
} arbor_bloom_probe_t;
void arbor_bloom_probe(arbor_bloom_probe_t *p, arbor_attr_scope_t scope, arbor_iov_t key,
                       const arbor_attr_value_t *value);
int arbor_bloom_probe_test(const uint8_t *bloom, const arbor_bloom_probe_t *p);

/** Fill @p t->bloom for a summary from arbor_reader_trace_summary(). 0 or ARBOR_ENOTFOUND. */
int arbor_reader_trace_bloom(arbor_reader_t *r, arbor_trace_summary_t *t);

/** Distinct catalogued keys of @p scope, ordered by length then bytes; visitor returns non-zero to stop. */
typedef int (*arbor_key_visit_fn)(void *ctx, arbor_iov_t key);
int arbor_reader_attr_keys(arbor_reader_t *r, arbor_attr_scope_t scope, arbor_key_visit_fn fn, void *ctx);

/** Distinct catalogued values of one key (at most ARBOR_TAG_VALUES_PER_KEY were added), in catalog order
 *  (ARBOR_VAL_OTHER entries are not values: never visited). */
typedef int (*arbor_value_visit_fn)(void *ctx, const arbor_attr_value_t *value);
int arbor_reader_attr_values(arbor_reader_t *r, arbor_attr_scope_t scope, arbor_iov_t key, arbor_value_visit_fn fn,
                             void *ctx);

/** Visitor over the change feed: the span that the entry names, as currently stored. */
typedef int (*arbor_change_visit_fn)(void *ctx, uint64_t seq, const uint8_t trace_id[ARBOR_TRACE_ID_LEN],
                                     const uint8_t span_id[ARBOR_SPAN_ID_LEN]);
/** Feed entries with sequence > @p after_seq, oldest first. */
int arbor_reader_changes(arbor_reader_t *r, uint64_t after_seq, arbor_change_visit_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Administration                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;   /**< index name (static string) */
    uint64_t entries;
    uint64_t bytes;     /**< pages in use x page size */
    unsigned depth;
} arbor_index_stat_t;

#define ARBOR_STAT_MAX_INDEXES 12
typedef struct {
    uint64_t file_bytes, map_bytes, last_seq, last_txn;
    unsigned readers_used, readers_max;
    size_t n_indexes;
    arbor_index_stat_t indexes[ARBOR_STAT_MAX_INDEXES];
} arbor_store_stat_t;

int arbor_store_stat(arbor_store_t *store, arbor_store_stat_t *out);

/** Called with each tenant's name (valid during the call); non-zero stops. */
typedef int (*arbor_tenant_fn)(void *ctx, arbor_iov_t name);
/** Every tenant the store has ever written, in name order, from one snapshot.
 *  0, the callback's non-zero, or an LMDB error. */
int arbor_store_tenants(arbor_store_t *store, arbor_tenant_fn visit, void *ctx);

/** What one tenant holds (arbor-admin stat --tenant). */
typedef struct {
    int exists;                     /**< the store has written this tenant */
    uint64_t traces, spans, executions;
    uint64_t stored_bytes;          /**< span values as stored (traces written before it counted add 0) */
    uint64_t oldest_start_ns, newest_end_ns;
} arbor_tenant_stat_t;
/** Sum @p tenant's trace summaries, in one read snapshot. 0 or an LMDB error. */
int arbor_store_tenant_stat(arbor_store_t *store, arbor_iov_t tenant, arbor_tenant_stat_t *out);
/**
 * Delete @p tenant's data: every key under its ID in every index (spans,
 * summaries, time, executions, feed, records, tag catalog), at most
 * @p max_keys in one write transaction; *more says to call again. Writer side
 * only (the caller holds the writer lock: the collector must be stopped).
 * 0 or an error (nothing of that transaction deleted then).
 */
int arbor_store_delete_tenant(arbor_store_t *store, arbor_iov_t tenant, size_t max_keys, int *more,
                              uint64_t *deleted);

/** Problem report for arbor_store_check(): one line of text per problem. */
typedef void (*arbor_check_report_fn)(void *ctx, const char *problem);
/**
 * Verify that every index agrees with the span data, in one read snapshot.
 * @param[out] problems number of disagreements found (each reported through @p fn).
 * @return 0 when the check ran (whatever it found), else an error code.
 */
int arbor_store_check(arbor_store_t *store, arbor_check_report_fn fn, void *ctx, uint64_t *problems);

/** What one arbor_store_expire() call deleted. */
typedef struct {
    uint64_t traces, spans;
    int more; /**< it stopped at max_spans: older traces remain to expire */
} arbor_expire_t;

/**
 * Retention: delete, in one write transaction of its own, the traces of
 * @p tenant whose every span ended before @p before_ns (summary end time),
 * oldest start first: their spans, summary, time and execution entries and each
 * span's current change-feed entry. Stops before exceeding @p max_spans spans
 * (one bigger trace is still taken whole). The tag catalog and the shared
 * resource/scope records are kept. Writer side only (like a batch; never while
 * a batch is open on the same thread).
 * @return 0 (see @p out) or an LMDB / store error (nothing deleted then).
 */
int arbor_store_expire(arbor_store_t *store, arbor_iov_t tenant, uint64_t before_ns, size_t max_spans,
                       arbor_expire_t *out);

/**
 * Announcements that never got a span: delete, in one write transaction of its
 * own, @p tenant's traces announced before @p before_ns that still have no span
 * (summary, execution and pending entries), at most @p max_traces of them
 * (out->more: some remain). Writer side only, as arbor_store_expire().
 * @return 0 (out->traces counts them; out->spans is 0) or an LMDB / store error.
 */
int arbor_store_expire_announced(arbor_store_t *store, arbor_iov_t tenant, uint64_t before_ns, size_t max_traces,
                                 arbor_expire_t *out);

/**
 * Hot, consistent copy of the whole store into the empty or new directory @p dir
 * (one read snapshot; the writer keeps running). @p compact omits free pages.
 */
int arbor_store_backup(arbor_store_t *store, const char *dir, int compact);

#endif
