/* Ingest: turning a decoded OTLP request into a write job (validation, execution
 * mapping, token extraction, packing), shared by the HTTP and gRPC receivers.
 *
 * Ownership: a job owns its arena and everything in it; ingest_job_free()
 * releases both. The receiver creates and frees jobs; the writer only borrows them
 * between writer_submit() and the done callback. */
#ifndef ARBOR_COLLECTOR_INGEST_H
#define ARBOR_COLLECTOR_INGEST_H

#include "arbor/auth.h"
#include "arbor/store.h"
#include "otlp.h"

typedef struct ingest_job ingest_job_t;
typedef void (*ingest_done_fn)(ingest_job_t *job);

struct ingest_job {
    arbor_arena_t arena;
    char tenant[ARBOR_TENANT_MAX + 1]; /* whose data this is: set by the receiver's auth check */
    /* the spans to store, with their packed resource / scope records */
    arbor_span_in_t *spans;
    uint32_t *span_resource, *span_scope; /* index into resources[] / scopes[] per span */
    uint32_t *order;                      /* spans[] in key order (trace ID, span ID, arrival) */
    size_t n_spans;
    /* a request's spans of one trace share a compressed block: order[first..first+n_spans) */
    struct ingest_block {
        arbor_iov_t packed;
        arbor_span_codec_t codec;
        uint32_t raw_len, n_spans;
        size_t first;
    } *blocks;
    size_t n_blocks;
    arbor_iov_t *resources, *scopes;
    size_t n_resources, n_scopes;
    /* or an execution announcement (POST /v1/executions): trace -> execution */
    int has_announcement;
    uint8_t announce_trace[ARBOR_TRACE_ID_LEN];
    arbor_iov_t announce_execution; /* in the arena */
    /* validation outcome */
    int64_t rejected;
    size_t redacted; /* values redaction replaced */
    char error_message[256];
    /* writer outcome: 0 once committed (durable), else an error code */
    int result;
    /* completion: called on the writer thread after commit or failure; must only
     * hand the job back to its receiver's thread (no blocking, no freeing) */
    ingest_done_fn done;
    void *owner;
    ingest_job_t *next; /* writer queue link */
    int written;        /* the writer's mark while it groups a commit by tenant */
};

typedef struct {
    const char *const *execution_id_keys; /* NULL-terminated, in priority order */
    size_t arena_limit;                   /* bytes a job's arena may hold (0 = unlimited) */
    arbor_span_codec_t span_codec;        /* how span bytes are stored (arbor_span_pack) */
    int capture_content;                  /* 0: drop prompt/response/message content (otlp_span_drop_content) */
    const otlp_redactor_t *redactor;      /* NULL: nothing to redact */
} ingest_options_t;

/** A new empty job for @p tenant, the one the receiver's auth check settled
 *  (aborts on OOM, the daemons' policy). */
ingest_job_t *ingest_job_new(const ingest_options_t *opts, const char *tenant);
void ingest_job_free(ingest_job_t *job);

/** Decoding may allocate this many bytes per body byte (plus
 * INGEST_ARENA_BASE_BYTES) before it gives up with ARBOR_ETOOBIG. Measured
 * (tests/unit/test_codec.c, "decode memory"): realistic spans take 12-16x, the
 * densest valid shapes (empty links, events, key-values, array items) up to 117x;
 * only all-invalid bodies of empty spans need more (~385x) and get 413. So a
 * request within ARBOR_MAX_REQUEST_BYTES that holds storable spans always decodes,
 * and one request can never take more than this times the configured limit. */
#define INGEST_ARENA_PER_BODY_BYTE 128
#define INGEST_ARENA_BASE_BYTES (16u << 20)

/**
 * Decode @p body (encoding @p enc) into the job's spans.
 * @return 0 (job->n_spans may be 0 when every span was rejected); ARBOR_EDECODE or
 *         ARBOR_ETOOBIG with @p err filled; ENOMEM.
 */
int ingest_decode(ingest_job_t *job, const ingest_options_t *opts, otlp_encoding_t enc, const void *body,
                  size_t len, char *err, size_t errlen);

/**
 * Decode an execution announcement, JSON {"execution_id": "...", "trace_id":
 * "<32 hex>"}, into the job (has_announcement). A backend sends it when a run
 * starts, so that the run is served by execution ID from its first span on. The
 * ID passes @p o's redaction, as it would on a span.
 * @return 0, or ARBOR_EDECODE with @p err.
 */
int ingest_decode_announcement(ingest_job_t *job, const ingest_options_t *o, const void *body, size_t len, char *err,
                               size_t errlen);

/**
 * Inflate a gzip / zlib / raw-deflate body into @p arena, refusing output beyond
 * @p limit (gzip bombs get ARBOR_ETOOBIG, never an allocation past the limit).
 * @return 0, ARBOR_ETOOBIG, ARBOR_EDECODE or ENOMEM.
 */
int ingest_inflate(arbor_arena_t *arena, const void *in, size_t in_len, size_t limit, arbor_iov_t *out);

/** How both receivers answer a result code: one row per code. */
typedef struct {
    int http_status;
    const char *http_reason;
    int grpc_code;           /**< google.rpc.Code, in the Status body / gRPC status */
    int retry_after_s;       /**< 0: not retryable (no RetryInfo) */
    const char *message;     /**< NULL: the caller's own detail (a decode error, say) */
} ingest_answer_t;

/**
 * The answer to result @p rc of decoding or writing a request (0: 200 OK). A full
 * map or disk waits for retention or an operator; a busy queue or a shutdown is
 * retried soon; a bad body is not retried. Unknown codes are a failed write.
 * @p buf holds the message when it is built from @p rc.
 */
ingest_answer_t ingest_answer(int rc, char *buf, size_t len);


#endif
