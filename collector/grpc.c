/* The gRPC receiver. Each completion-queue thread keeps several request_call
 * slots armed and runs a small state machine per call:
 *   NEW  -> (Export) send initial metadata + receive the message   -> READ
 *        -> (other method) UNIMPLEMENTED                            -> DONE
 *   READ -> receive again: a unary call ends after one message      -> READ_END
 *   READ_END -> (a second message) INVALID_ARGUMENT                 -> DONE
 *        -> decode on this thread, queue for the writer; the writer's done
 *           callback starts the final batch (message + status)     -> DONE
 *   DONE -> free.
 * Error statuses carry SEND_INITIAL_METADATA in the same batch when it was not
 * sent yet: without it chttp2 never writes the trailers and clients hang. */
#include "grpc.h"

#include "accept_cap.h"
#include "arbor/listen.h"
#include "arbor/log.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define SLOTS_PER_CQ 16

enum { GRPC_CODE_OK = 0, GRPC_CODE_INVALID_ARGUMENT = 3, GRPC_CODE_RESOURCE_EXHAUSTED = 8,
       GRPC_CODE_UNIMPLEMENTED = 12, GRPC_CODE_INTERNAL = 13, GRPC_CODE_UNAVAILABLE = 14 };

typedef struct cq_thread cq_thread_t;

struct otlp_grpc_receiver {
    otlp_grpc_options_t opts;
    grpc_server *server;
    accept_cap_t *acceptor;                 /* plaintext: connections accepted here */
    grpc_server_credentials *plain_creds; /* for the connections it hands over */
    grpc_completion_queue *shutdown_cq;
    cq_thread_t *threads;
    int n_threads;
};

struct cq_thread {
    otlp_grpc_receiver_t *recv;
    grpc_completion_queue *cq;
    pthread_t tid;
};

typedef enum { CALL_NEW, CALL_READ, CALL_READ_END, CALL_DONE } call_state_t;

typedef struct {
    call_state_t state;
    cq_thread_t *thread;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array request_md;
    grpc_byte_buffer *in, *out;
    grpc_byte_buffer *extra; /* a second request message: an error in a unary call */
    int cancelled;
    int initial_md_sent;
    ingest_job_t *job;
    grpc_slice status_details;
    grpc_metadata trailer; /* grpc-status-details-bin, when set */
    int has_trailer;
    char tenant[ARBOR_TENANT_MAX + 1]; /* settled by the auth check in on_new */
} call_t;

static void arm(cq_thread_t *t)
{
    call_t *c = arbor_xcalloc(1, sizeof *c);
    c->thread = t;
    c->state = CALL_NEW;
    c->status_details = grpc_empty_slice();
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->request_md);
    grpc_call_error e = grpc_server_request_call(t->recv->server, &c->call, &c->details, &c->request_md, t->cq,
                                                 t->cq, c);
    if (e != GRPC_CALL_OK) {
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->request_md);
        free(c);
    }
}

static void call_free(call_t *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->request_md);
    if (c->in)
        grpc_byte_buffer_destroy(c->in);
    if (c->extra)
        grpc_byte_buffer_destroy(c->extra);
    if (c->out)
        grpc_byte_buffer_destroy(c->out);
    grpc_slice_unref(c->status_details);
    if (c->has_trailer) {
        grpc_slice_unref(c->trailer.key);
        grpc_slice_unref(c->trailer.value);
    }
    ingest_job_free(c->job);
    free(c);
}

/* Final batch: [initial metadata] + [message] + status + close. May be called from
 * the writer thread: grpc_call_start_batch is thread-safe. */
static void finish(call_t *c, grpc_status_code code, const char *message, int retry_delay_s, arbor_iov_t response)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = 1;
    }
    if (code == GRPC_STATUS_OK) {
        grpc_slice s = grpc_slice_from_copied_buffer(response.base, response.len);
        c->out = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->out;
    }
    grpc_slice_unref(c->status_details);
    c->status_details = message ? grpc_slice_from_copied_string(message) : grpc_empty_slice();
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &c->status_details;
    if (code != GRPC_STATUS_OK && message != NULL) {
        /* rich status: google.rpc.Status (+ RetryInfo when retryable) */
        arbor_arena_t a;
        arbor_arena_init(&a, 1024, 0);
        arbor_iov_t st = otlp_status_encode(&a, OTLP_ENC_PROTOBUF, (int)code, arbor_iov(message, strlen(message)),
                                            retry_delay_s);
        c->trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
        c->trailer.value = grpc_slice_from_copied_buffer(st.base, st.len);
        c->has_trailer = 1;
        arbor_arena_free(&a);
        ops[n].data.send_status_from_server.trailing_metadata_count = 1;
        ops[n].data.send_status_from_server.trailing_metadata = &c->trailer;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->state = CALL_DONE;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
        arbor_warn("grpc_batch_failed", "stage=finish");
        call_free(c); /* no completion will come for a refused batch */
    }
}

/* The status ingest_answer() gives to @p rc; @p detail when the row has no message. */
static void finish_rc(call_t *c, int rc, const char *detail)
{
    char buf[200];
    ingest_answer_t a = ingest_answer(rc, buf, sizeof buf);
    finish(c, (grpc_status_code)a.grpc_code, a.message ? a.message : detail, a.retry_after_s, ARBOR_IOV_NULL);
}

static void finish_job(call_t *c)
{
    ingest_job_t *job = c->job;
    if (job->result != 0) {
        finish_rc(c, job->result, NULL);
        return;
    }
    arbor_iov_t resp = otlp_export_response(&job->arena, OTLP_ENC_PROTOBUF, job->rejected,
                                            arbor_iov(job->error_message, strlen(job->error_message)));
    finish(c, GRPC_STATUS_OK, NULL, 0, resp);
}

/* Writer thread: the spans are committed (or failed); answer the call. */
static void on_job_done(ingest_job_t *job)
{
    finish_job(job->owner);
}

/* A request metadata value (keys arrive lowercase), or empty. */
/* The value of metadata @p key; *twice set when the call carries it more than once. */
static arbor_iov_t metadata_value(const grpc_metadata_array *md, const char *key, int *twice)
{
    arbor_iov_t v = ARBOR_IOV_NULL;
    int seen = 0;
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
            *twice |= seen++ > 0;
            v = arbor_iov(GRPC_SLICE_START_PTR(md->metadata[i].value), GRPC_SLICE_LENGTH(md->metadata[i].value));
        }
    return v;
}

/* Metadata `authorization` and `x-scope-orgid`, as the HTTP receiver's headers:
 * 0 with c->tenant set, or -1 with the call finished UNAUTHENTICATED (401),
 * PERMISSION_DENIED (403) or INVALID_ARGUMENT (a bad tenant ID). */
static int authorize(call_t *c)
{
    arbor_auth_t *auth = c->thread->recv->opts.auth;
    arbor_auth_result_t who;
    int twice = 0;
    arbor_iov_t authorization = metadata_value(&c->request_md, "authorization", &twice);
    arbor_iov_t org = metadata_value(&c->request_md, "x-scope-orgid", &twice);
    if (twice) { /* which one counted would depend on who read it */
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, "authorization or x-scope-orgid given more than once", 0,
               ARBOR_IOV_NULL);
        return -1;
    }
    arbor_auth_check_header(auth, authorization, org, ARBOR_AUTH_WRITE,
                            arbor_now_ns() / 1000000000u, &who);
    if (who.status == 0) {
        snprintf(c->tenant, sizeof c->tenant, "%s", who.tenant);
        return 0;
    }
    char msg[220];
    snprintf(msg, sizeof msg, "%s (%s)", who.message, who.code);
    if (arbor_auth_required(auth))
        arbor_auth_audit(&who, EXPORT_METHOD, "", who.status);
    finish(c, who.status == 401 ? GRPC_STATUS_UNAUTHENTICATED
              : who.status == 403 ? GRPC_STATUS_PERMISSION_DENIED
                                  : GRPC_STATUS_INVALID_ARGUMENT,
           msg, 0, ARBOR_IOV_NULL);
    return -1;
}

static void on_new(call_t *c)
{
    arm(c->thread); /* keep the slot count constant */
    if (grpc_slice_str_cmp(c->details.method, EXPORT_METHOD) != 0) {
        finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method: this server implements TraceService/Export", 0,
               ARBOR_IOV_NULL);
        return;
    }
    if (authorize(c) != 0)
        return;
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &c->in;
    c->initial_md_sent = 1;
    c->state = CALL_READ;
    if (grpc_call_start_batch(c->call, ops, 2, c, NULL) != GRPC_CALL_OK) {
        arbor_warn("grpc_batch_failed", "stage=read");
        call_free(c);
    }
}

/* The request message, inflated here rather than by gRPC (whose inflate has no
 * output bound: a 4.7 MB gzip of 1 GiB took 1.2 GB before the size check) with
 * the bounded inflate the HTTP receiver uses. Borrowed from c->in when it is one
 * uncompressed slice, else in the job's arena. */
static int read_message(call_t *c, uint64_t limit, arbor_iov_t *out, char *err, size_t errlen)
{
    grpc_compression_algorithm alg = c->in->data.raw.compression;
    grpc_slice_buffer *sb = &c->in->data.raw.slice_buffer;
    if (alg != GRPC_COMPRESS_NONE && alg != GRPC_COMPRESS_GZIP && alg != GRPC_COMPRESS_DEFLATE) {
        snprintf(err, errlen, "message compression is not supported: use gzip, deflate or identity");
        return ARBOR_ENOTSUP;
    }
    size_t len = sb->length;
    arbor_iov_t raw;
    if (sb->count == 1) {
        raw = arbor_iov(GRPC_SLICE_START_PTR(sb->slices[0]), len);
    } else {
        char *joined = arbor_arena_alloc(&c->job->arena, len ? len : 1);
        if (joined == NULL)
            return ENOMEM;
        for (size_t i = 0, at = 0; i < sb->count; at += GRPC_SLICE_LENGTH(sb->slices[i]), i++)
            memcpy(joined + at, GRPC_SLICE_START_PTR(sb->slices[i]), GRPC_SLICE_LENGTH(sb->slices[i]));
        raw = arbor_iov(joined, len);
    }
    int rc = 0;
    if (alg == GRPC_COMPRESS_NONE)
        *out = raw;
    else if ((rc = ingest_inflate(&c->job->arena, raw.base, raw.len, limit, out)) == ARBOR_EDECODE)
        snprintf(err, errlen, "message could not be decompressed");
    if (rc == 0 && out->len > limit)
        rc = ARBOR_ETOOBIG;
    if (rc == ARBOR_ETOOBIG)
        snprintf(err, errlen, "message exceeds the size limit after decompression");
    return rc;
}

/* The one request message arrived: make sure it was the only one (the client's
 * half-close usually comes with it, so this completes at once). */
static void on_read(call_t *c)
{
    if (c->in == NULL) { /* client cancelled or half-closed without a message */
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, "no request message", 0, ARBOR_IOV_NULL);
        return;
    }
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->extra;
    c->state = CALL_READ_END;
    if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) {
        arbor_warn("grpc_batch_failed", "stage=read_end");
        call_free(c);
    }
}

static void on_message(call_t *c)
{
    otlp_grpc_receiver_t *r = c->thread->recv;
    if (c->extra != NULL) {
        finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a unary Export call carries exactly one request message", 0,
               ARBOR_IOV_NULL);
        return;
    }
    char err[256] = "";
    arbor_iov_t msg;
    c->job = ingest_job_new(r->opts.ingest, c->tenant);
    int rc = read_message(c, r->opts.max_request_bytes, &msg, err, sizeof err);
    if (rc == 0)
        rc = ingest_decode(c->job, r->opts.ingest, OTLP_ENC_PROTOBUF, msg.base, msg.len, err, sizeof err);
    if (rc != 0) {
        finish_rc(c, rc, err);
        return;
    }
    writer_count_request(r->opts.writer, c->job->n_spans + (size_t)c->job->rejected, (size_t)c->job->rejected,
                         c->job->redacted);
    if (c->job->n_spans == 0) {
        c->job->result = 0;
        finish_job(c);
        return;
    }
    int retry_s = 0;
    if ((rc = limits_take(r->opts.limits, c->job->tenant, c->job->n_spans, arbor_mono_ns(), &retry_s)) != 0) {
        if (rc == ARBOR_ERATE) /* RESOURCE_EXHAUSTED with RetryInfo: retried after the delay */
            finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "tenant's span rate limit exceeded; retry later", retry_s,
                   ARBOR_IOV_NULL);
        else
            finish_rc(c, rc, "request holds more spans than the tenant's burst (ARBOR_TENANT_LIMITS)");
        return;
    }
    c->job->owner = c;
    c->job->done = on_job_done;
    rc = writer_submit(r->opts.writer, c->job);
    if (rc != 0)
        finish_rc(c, rc, NULL);
    /* else: the writer owns the job until on_job_done */
}

/* gRPC asks before each handshake: a new config when SIGHUP loaded new files. */
static grpc_ssl_certificate_config_reload_status fetch_certificates(void *arg, grpc_ssl_server_certificate_config **out)
{
    static uint64_t delivered = UINT64_MAX; /* one receiver per process */
    arbor_tls_t *tls = arg;
    if (arbor_tls_generation(tls) == __atomic_load_n(&delivered, __ATOMIC_ACQUIRE))
        return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    char *cert, *key, *ca;
    uint64_t generation;
    arbor_tls_pems(tls, &cert, &key, &ca, &generation);
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    /* gRPC 1.51 asserts on NULL roots when a fetcher replaces the config; with no
     * client CA they are never used (no client certificate is requested), so the
     * server's own chain stands in */
    *out = grpc_ssl_server_certificate_config_create(ca ? ca : cert, &pair, 1); /* copies the texts */
    free(cert);
    free(key);
    free(ca);
    __atomic_store_n(&delivered, generation, __ATOMIC_RELEASE);
    return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

static grpc_server_credentials *server_credentials(arbor_tls_t *tls)
{
    if (tls == NULL)
        return grpc_insecure_server_credentials_create();
    grpc_ssl_client_certificate_request_type request = arbor_tls_client_auth(tls)
                                                           ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                           : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    return grpc_ssl_server_credentials_create_with_options(
        grpc_ssl_server_credentials_create_options_using_config_fetcher(request, fetch_certificates, tls));
}

static void *cq_main(void *arg)
{
    cq_thread_t *t = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        call_t *c = ev.tag;
        switch (c->state) {
        case CALL_NEW:
            if (!ev.success) { /* server shutting down: the slot was never filled */
                call_free(c);
                break;
            }
            on_new(c);
            break;
        case CALL_READ:
            on_read(c);
            break;
        case CALL_READ_END:
            on_message(c);
            break;
        case CALL_DONE:
            call_free(c);
            break;
        }
    }
    return NULL;
}

static grpc_arg int_arg(const char *key, int value)
{
    grpc_arg a;
    memset(&a, 0, sizeof a);
    a.type = GRPC_ARG_INTEGER;
    a.key = (char *)key;
    a.value.integer = value;
    return a;
}

/* A duration in ms; 0 (none) is gRPC's INT_MAX. */
static grpc_arg ms_arg(const char *key, uint64_t ms)
{
    return int_arg(key, ms == 0 || ms > INT32_MAX ? INT32_MAX : (int)ms);
}

static grpc_server *server_create(const otlp_grpc_options_t *o)
{
    uint64_t idle = o->max_connection_idle_ms;
    grpc_arg args[] = {
        int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                o->max_request_bytes > INT32_MAX ? INT32_MAX : (int)o->max_request_bytes),
        int_arg(GRPC_ARG_ALLOW_REUSEPORT, 0),                 /* a second collector on the port fails */
        int_arg(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0), /* read_message inflates, bounded */
        ms_arg(GRPC_ARG_MAX_CONNECTION_IDLE_MS, idle),
        ms_arg(GRPC_ARG_MAX_CONNECTION_AGE_MS, o->max_connection_age_ms),
        ms_arg(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, o->max_connection_age_grace_ms),
        ms_arg(GRPC_ARG_KEEPALIVE_TIME_MS, o->keepalive_time_ms),
        ms_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000),
        /* a TLS handshake, or the client's first SETTINGS, within the idle bound (10 s at most) */
        ms_arg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, idle && idle < 10000 ? idle : 10000),
    };
    grpc_channel_args chargs = {sizeof args / sizeof args[0], args};
    return grpc_server_create(&chargs, NULL);
}

/* accept_cap hands a plaintext connection over. */
static void hand_over(void *arg, int fd)
{
    otlp_grpc_receiver_t *r = arg;
    grpc_server_add_channel_from_fd(r->server, fd, r->plain_creds);
}

/* Listen: on our own socket behind the connection cap for plaintext (gRPC 1.51
 * bounds nothing itself, and its listener dies at its first EMFILE), through
 * gRPC for TLS. The bound port, or 0 with the reason logged. */
static int add_listener(otlp_grpc_receiver_t *r, int *fd)
{
    char target[160];
    arbor_addr_format(&r->opts.addr, target, sizeof target);
    if (r->opts.tls == NULL) {
        uint16_t port = 0;
        *fd = arbor_listen(&r->opts.addr, &port);
        if (*fd < 0)
            arbor_error("listen_failed", "proto=otlp_grpc addr=%s error=\"%s\"", target, strerror(-*fd));
        return *fd < 0 ? 0 : port;
    }
    grpc_server_credentials *creds = server_credentials(r->opts.tls);
    int port = grpc_server_add_http2_port(r->server, target, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0)
        arbor_error("listen_failed", "proto=otlp_grpc addr=%s", target);
    return port > 0 ? port : 0;
}

int otlp_grpc_start(const otlp_grpc_options_t *opts, otlp_grpc_receiver_t **out, uint16_t *bound_port)
{
    otlp_grpc_receiver_t *r = arbor_xcalloc(1, sizeof *r);
    r->opts = *opts;
    r->n_threads = opts->threads > 0 ? opts->threads : 1;
    r->threads = arbor_xcalloc((size_t)r->n_threads, sizeof *r->threads);
    grpc_init();
    r->server = server_create(opts);
    r->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
    for (int i = 0; i < r->n_threads; i++) {
        r->threads[i].recv = r;
        r->threads[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(r->server, r->threads[i].cq, NULL);
    }
    int fd = -1, port = add_listener(r, &fd);
    if (port == 0) {
        grpc_server_destroy(r->server);
        for (int i = 0; i < r->n_threads; i++)
            grpc_completion_queue_destroy(r->threads[i].cq);
        grpc_completion_queue_destroy(r->shutdown_cq);
        grpc_shutdown();
        free(r->threads);
        free(r);
        return EADDRINUSE;
    }
    *bound_port = (uint16_t)port;
    grpc_server_start(r->server);
    for (int i = 0; i < r->n_threads; i++) {
        for (int s = 0; s < SLOTS_PER_CQ; s++)
            arm(&r->threads[i]);
        pthread_create(&r->threads[i].tid, NULL, cq_main, &r->threads[i]);
    }
    if (fd >= 0) { /* the server runs: connections may come */
        r->plain_creds = grpc_insecure_server_credentials_create();
        int rc = accept_cap_start(fd, opts->max_connections, hand_over, r, &r->acceptor);
        if (rc != 0) {
            arbor_error("listen_failed", "proto=otlp_grpc error=\"%s\"", strerror(rc));
            otlp_grpc_stop(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void otlp_grpc_stop(otlp_grpc_receiver_t *r)
{
    int tag;
    accept_cap_stop(r->acceptor); /* no new connections */
    /* no new calls; calls in flight run to completion (the writer still runs) */
    grpc_server_shutdown_and_notify(r->server, r->shutdown_cq, &tag);
    grpc_event ev = grpc_completion_queue_pluck(r->shutdown_cq, &tag, gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                                gpr_time_from_seconds(10, GPR_TIMESPAN)), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        arbor_warn("grpc_shutdown_slow", "action=cancel_remaining_calls");
        grpc_server_cancel_all_calls(r->server);
        grpc_completion_queue_pluck(r->shutdown_cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    for (int i = 0; i < r->n_threads; i++)
        grpc_completion_queue_shutdown(r->threads[i].cq);
    for (int i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i].tid, NULL);
    grpc_server_destroy(r->server);
    for (int i = 0; i < r->n_threads; i++)
        grpc_completion_queue_destroy(r->threads[i].cq);
    grpc_completion_queue_shutdown(r->shutdown_cq);
    grpc_completion_queue_destroy(r->shutdown_cq);
    if (r->plain_creds != NULL)
        grpc_server_credentials_release(r->plain_creds);
    grpc_shutdown();
    free(r->threads);
    free(r);
}
