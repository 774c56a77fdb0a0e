/* The OTLP/HTTP receiver. Each loop thread decodes its own requests (so decoding
 * runs beside the writer, not on it) and gets its completions back through an
 * h2o multithread queue. A client that disconnects while its spans are being
 * committed is detected through a guard in the request's memory pool. */
#include "http.h"

#include "arbor/http1.h"
#include "arbor/listen.h"
#include "arbor/log.h"

#include "h2o.h"
#include "h2o/multithread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

typedef struct http_thread http_thread_t;

struct otlp_http_server {
    h2o_globalconf_t config;
    otlp_http_options_t opts;
    http_thread_t *threads;
    int n_threads;
};

struct http_thread {
    otlp_http_server_t *server;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done_rx, stop_rx;
    h2o_socket_t *listener;
    int fd;
    size_t pending; /* requests handed to the writer, not yet answered */
    int stopping;
    size_t conns, max_conns; /* open connections; this thread's share of the cap */
    int accepting;           /* the listener is being read */
    h2o_timeout_t pause;     /* out of descriptors: accept again after it */
    h2o_timeout_entry_t pause_entry;
};

typedef struct pending pending_t;
typedef struct {
    pending_t *p; /* NULL once answered */
} req_guard_t;

struct pending {
    h2o_multithread_message_t super;
    http_thread_t *thread;
    h2o_req_t *req; /* NULL when the client went away */
    req_guard_t *guard;
    ingest_job_t *job;
    otlp_encoding_t enc;
};

static otlp_http_server_t *retained_server;

static const char *const content_types[] = {"application/x-protobuf", "application/json"};

static void respond(h2o_req_t *req, int status, const char *reason, otlp_encoding_t enc, arbor_iov_t body,
                    int retry_after)
{
    req->res.status = status;
    req->res.reason = reason;
    const char *ct = content_types[enc];
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    if (retry_after > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    req->res.content_length = body.len;
    h2o_send_inline(req, body.base, body.len);
}

/* An error answer: a google.rpc.Status in the request's encoding. */
static void respond_status(h2o_req_t *req, int status, const char *reason, otlp_encoding_t enc, int grpc_code,
                           const char *message, int retry_after)
{
    arbor_arena_t a;
    arbor_arena_init(&a, 1024, 0);
    arbor_iov_t body = otlp_status_encode(&a, enc, grpc_code, arbor_iov(message, strlen(message)), retry_after);
    respond(req, status, reason, enc, body, retry_after);
    arbor_arena_free(&a);
    char safe[512];
    arbor_debug("otlp_http_error", "status=%d message=\"%s\"", status,
                arbor_log_escape(safe, sizeof safe, message, strlen(message)));
}

/* The answer ingest_answer() gives to @p rc; @p detail when the row has no message. */
static void respond_rc(h2o_req_t *req, otlp_encoding_t enc, int rc, const char *detail)
{
    char buf[200];
    ingest_answer_t a = ingest_answer(rc, buf, sizeof buf);
    respond_status(req, a.http_status, a.http_reason, enc, a.grpc_code, a.message ? a.message : detail,
                   a.retry_after_s);
}

static void respond_job(h2o_req_t *req, ingest_job_t *job, otlp_encoding_t enc)
{
    if (job->result != 0) {
        respond_rc(req, enc, job->result, NULL);
        return;
    }
    arbor_iov_t body = otlp_export_response(&job->arena, enc, job->rejected,
                                            arbor_iov(job->error_message, strlen(job->error_message)));
    respond(req, 200, "OK", enc, body, 0);
}

static void on_guard_dispose(void *p)
{
    req_guard_t *g = p;
    if (g->p != NULL) /* the request died before the writer finished */
        g->p->req = NULL;
}

/* Writer thread: hand the finished job back to its loop. */
static void on_job_done(ingest_job_t *job)
{
    pending_t *p = job->owner;
    h2o_multithread_send_message(&p->thread->done_rx, &p->super);
}

static void on_done_messages(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    (void)rx;
    while (!h2o_linklist_is_empty(messages)) {
        pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, super.link, messages->next);
        h2o_linklist_unlink(&p->super.link);
        p->thread->pending--;
        if (p->req != NULL) {
            p->guard->p = NULL;
            respond_job(p->req, p->job, p->enc);
        }
        ingest_job_free(p->job);
        free(p);
    }
}

static int media_type_is(h2o_iovec_t v, const char *type)
{
    size_t n = 0;
    while (n < v.len && v.base[n] != ';')
        n++;
    while (n > 0 && (v.base[n - 1] == ' ' || v.base[n - 1] == '\t'))
        n--;
    size_t i = 0;
    while (i < n && (v.base[i] == ' ' || v.base[i] == '\t'))
        i++;
    return n - i == strlen(type) && strncasecmp(v.base + i, type, n - i) == 0;
}

/* Hand a decoded job to the writer; the answer goes out once it has committed. */
static void submit(h2o_req_t *req, http_thread_t *t, ingest_job_t *job, otlp_encoding_t enc)
{
    pending_t *p = arbor_xcalloc(1, sizeof *p);
    p->thread = t;
    p->req = req;
    p->job = job;
    p->enc = enc;
    job->owner = p;
    job->done = on_job_done;
    int rc = writer_submit(t->server->opts.writer, job);
    if (rc != 0) {
        free(p);
        ingest_job_free(job);
        respond_rc(req, enc, rc, NULL);
        return;
    }
    p->guard = h2o_mem_alloc_shared(&req->pool, sizeof *p->guard, on_guard_dispose);
    p->guard->p = p;
    t->pending++;
}

/* The body, inflated when Content-Encoding says so, within the size limit; 0,
 * or -1 with the answer sent. */
static int request_body(h2o_req_t *req, otlp_http_server_t *s, ingest_job_t *job, otlp_encoding_t enc, arbor_iov_t *body)
{
    *body = arbor_iov(req->entity.base ? req->entity.base : "", req->entity.len);
    ssize_t ce = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_ENCODING, -1);
    if (ce >= 0) {
        h2o_iovec_t v = req->headers.entries[ce].value;
        if (media_type_is(v, "gzip") || media_type_is(v, "x-gzip") || media_type_is(v, "deflate")) {
            int rc = ingest_inflate(&job->arena, body->base, body->len, s->opts.max_request_bytes, body);
            if (rc != 0) {
                respond_rc(req, enc, rc,
                           rc == ARBOR_ETOOBIG ? "request body exceeds the size limit after decompression"
                                               : "request body is not valid compressed data");
                return -1;
            }
        } else if (!media_type_is(v, "identity")) {
            respond_status(req, 415, "Unsupported Media Type", enc, 3,
                           "unsupported content encoding: use gzip, deflate or none", 0);
            return -1;
        }
    }
    if (body->len > s->opts.max_request_bytes) {
        respond_rc(req, enc, ARBOR_ETOOBIG, "request body exceeds the size limit");
        return -1;
    }
    return 0;
}

/* A new job for @p tenant and the request's body (in it when inflated); NULL
 * with the answer sent. */
static ingest_job_t *job_with_body(h2o_req_t *req, otlp_http_server_t *s, otlp_encoding_t enc, const char *tenant,
                                   arbor_iov_t *body)
{
    ingest_job_t *job = ingest_job_new(s->opts.ingest, tenant);
    if (request_body(req, s, job, enc, body) != 0) {
        ingest_job_free(job);
        return NULL;
    }
    return job;
}

/* Charge @p units to the job's tenant (ARBOR_TENANT_LIMITS) and queue it, or
 * refuse it whole (429, or 413 past the burst): nothing of it is stored. */
static void submit_within_limits(h2o_req_t *req, http_thread_t *t, ingest_job_t *job, otlp_encoding_t enc,
                                 size_t units)
{
    int retry_s = 0, rc = limits_take(t->server->opts.limits, job->tenant, units, arbor_mono_ns(), &retry_s);
    if (rc == 0) {
        submit(req, t, job, enc);
        return;
    }
    ingest_job_free(job);
    if (rc == ARBOR_ERATE)
        respond_status(req, 429, "Too Many Requests", enc, 8, "tenant's span rate limit exceeded; retry later", retry_s);
    else
        respond_rc(req, enc, rc, "request holds more spans than the tenant's burst (ARBOR_TENANT_LIMITS)");
}

/* POST /v1/traces: OTLP/HTTP, protobuf or JSON. */
static void handle_traces(h2o_req_t *req, http_thread_t *t, otlp_encoding_t enc, const char *tenant)
{
    otlp_http_server_t *s = t->server;
    arbor_iov_t body;
    ingest_job_t *job = job_with_body(req, s, enc, tenant, &body);
    if (job == NULL)
        return;
    char err[256] = "";
    int rc = ingest_decode(job, s->opts.ingest, enc, body.base, body.len, err, sizeof err);
    if (rc != 0) {
        ingest_job_free(job);
        respond_rc(req, enc, rc, err);
        return;
    }
    writer_count_request(s->opts.writer, job->n_spans + (size_t)job->rejected, (size_t)job->rejected, job->redacted);
    if (job->n_spans == 0) { /* nothing to write: empty request or every span rejected */
        job->result = 0;
        respond_job(req, job, enc);
        ingest_job_free(job);
        return;
    }
    submit_within_limits(req, t, job, enc, job->n_spans);
}

/* POST /v1/executions: {"execution_id", "trace_id"} announced as a run starts. */
static void handle_announcement(h2o_req_t *req, http_thread_t *t, const char *tenant)
{
    arbor_iov_t body;
    char err[256] = "";
    ingest_job_t *job = job_with_body(req, t->server, OTLP_ENC_JSON, tenant, &body);
    if (job == NULL)
        return;
    int rc = ingest_decode_announcement(job, t->server->opts.ingest, body.base, body.len, err, sizeof err);
    if (rc != 0) {
        ingest_job_free(job);
        respond_rc(req, OTLP_ENC_JSON, rc, err);
        return;
    }
    submit_within_limits(req, t, job, OTLP_ENC_JSON, 1); /* a write like a span: the tenant's rate counts it */
}

static arbor_iov_t header_value(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? ARBOR_IOV_NULL : arbor_iov(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

/* Who writes, as which tenant: 0, or -1 with Orcheo's answer sent
 * ({"detail":{"message","code"}}, WWW-Authenticate on 401) and an audit line. */
static int authorize(h2o_req_t *req, arbor_auth_t *auth, const char *route, arbor_auth_result_t *who)
{
    arbor_auth_check_header(auth, header_value(req, "authorization"), header_value(req, "x-scope-orgid"),
                            ARBOR_AUTH_WRITE, arbor_now_ns() / 1000000000u, who);
    if (who->status == 0)
        return 0;
    char body[600];
    size_t n = arbor_auth_error_body(who, body, sizeof body, &req->res.reason);
    if (who->status == 401)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    if (arbor_auth_required(auth))
        arbor_auth_audit(who, route, "", who->status);
    req->res.status = who->status;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    req->res.content_length = n;
    h2o_send_inline(req, body, n);
    return -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    http_thread_t *t = H2O_STRUCT_FROM_MEMBER(http_thread_t, ctx, req->conn->ctx);
    otlp_encoding_t enc = OTLP_ENC_JSON;
    int traces = h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/v1/traces"));
    int executions = h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/v1/executions"));

    if (!traces && !executions) {
        respond_status(req, 404, "Not Found", OTLP_ENC_JSON, 5,
                       "not found: OTLP/HTTP traces are at /v1/traces (execution announcements at /v1/executions)", 0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        respond_status(req, 405, "Method Not Allowed", OTLP_ENC_JSON, 12, "method not allowed: use POST", 0);
        return 0;
    }
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (t->stopping) { /* draining: finish what the writer has, take nothing new */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONNECTION, NULL, H2O_STRLIT("close"));
        respond_rc(req, OTLP_ENC_JSON, ARBOR_ESHUTDOWN, NULL);
        return 0;
    }
    if (ct >= 0 && traces && media_type_is(req->headers.entries[ct].value, "application/x-protobuf"))
        enc = OTLP_ENC_PROTOBUF;
    else if (!(ct >= 0 && media_type_is(req->headers.entries[ct].value, "application/json"))) {
        respond_status(req, 415, "Unsupported Media Type", OTLP_ENC_JSON, 3,
                       traces ? "unsupported content type: use application/x-protobuf or application/json"
                              : "unsupported content type: use application/json",
                       0);
        return 0;
    }
    arbor_auth_result_t who;
    if (authorize(req, t->server->opts.auth, traces ? "/v1/traces" : "/v1/executions", &who) != 0)
        return 0;
    if (traces)
        handle_traces(req, t, enc, who.tenant);
    else
        handle_announcement(req, t, who.tenant);
    return 0;
}

/* An HTTP/1.x request framed two ways (arbor/http1.h): 400, and the guard closes
 * the connection after it. */
static void refuse_framing(h2o_req_t *req, const char *why)
{
    respond_status(req, 400, "Bad Request", OTLP_ENC_JSON, 3, why, 0);
}

/* h2o refuses a body over max_request_entity_size itself, with a text/plain 413
 * sent before any handler sees the request. This filter rewrites that answer
 * into the google.rpc.Status every other error of the receiver carries. */
typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} status_ostream_t;

static void status_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                           h2o_send_state_t state)
{
    (void)bufs, (void)bufcnt; /* h2o's text is replaced */
    status_ostream_t *o = (status_ostream_t *)self;
    if (h2o_send_state_is_in_progress(state))
        h2o_ostream_send_next(self, req, NULL, 0, state);
    else
        h2o_ostream_send_next(self, req, &o->body, 1, state);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    ssize_t type = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (req->res.status == 413 && type >= 0 &&
        h2o_memis(req->res.headers.entries[type].value.base, 10, H2O_STRLIT("text/plain"))) {
        ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        otlp_encoding_t enc = ct >= 0 && media_type_is(req->headers.entries[ct].value, "application/x-protobuf")
                                  ? OTLP_ENC_PROTOBUF
                                  : OTLP_ENC_JSON;
        arbor_arena_t a;
        arbor_arena_init(&a, 1024, 0);
        arbor_iov_t st = otlp_status_encode(&a, enc, 8, ARBOR_IOV("request body exceeds the size limit"), 0);
        status_ostream_t *o = (status_ostream_t *)h2o_add_ostream(req, sizeof(*o), slot);
        o->super.do_send = status_do_send;
        o->body = h2o_strdup(&req->pool, st.base, st.len);
        arbor_arena_free(&a);
        const char *mt = enc == OTLP_ENC_PROTOBUF ? "application/x-protobuf" : "application/json";
        req->res.headers.entries[type].value = h2o_iovec_init(mt, strlen(mt));
        req->res.content_length = o->body.len;
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

static void on_accept(h2o_socket_t *listener, const char *err);

/* The connection cap: a thread at its share stops reading its listener (new
 * connections wait in the kernel's backlog) until one of its connections closes. */
static void accept_more(http_thread_t *t, int on)
{
    if (t->listener == NULL || t->accepting == on)
        return;
    if (on)
        h2o_socket_read_start(t->listener, on_accept);
    else
        h2o_socket_read_stop(t->listener);
    t->accepting = on;
}

static void on_connection_closed(void *data)
{
    http_thread_t *t = data;
    t->conns--;
    if (t->conns < t->max_conns && !h2o_timeout_is_linked(&t->pause_entry))
        accept_more(t, 1);
}

static void on_pause_over(h2o_timeout_entry_t *entry)
{
    http_thread_t *t = H2O_STRUCT_FROM_MEMBER(http_thread_t, pause_entry, entry);
    if (t->conns < t->max_conns)
        accept_more(t, 1);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    http_thread_t *t = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            accept_more(t, 0); /* not a busy loop on a listener that stays readable */
            h2o_timeout_link(t->ctx.loop, &t->pause, &t->pause_entry);
        }
        return;
    }
    t->conns++;
    sock->on_close.cb = on_connection_closed;
    sock->on_close.data = t;
    if (t->conns >= t->max_conns)
        accept_more(t, 0);
    h2o_accept(&t->accept_ctx, sock);
}

static void on_stop_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    http_thread_t *t = H2O_STRUCT_FROM_MEMBER(http_thread_t, stop_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    if (!t->stopping) {
        t->stopping = 1;
        accept_more(t, 0);
        if (h2o_timeout_is_linked(&t->pause_entry))
            h2o_timeout_unlink(&t->pause_entry);
        h2o_socket_close(t->listener);
        t->listener = NULL;
    }
}

static void *thread_main(void *arg)
{
    http_thread_t *t = arg;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &t->server->config);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = t->server->config.hosts;
    t->accept_ctx.ssl_ctx = arbor_tls_ssl_ctx(t->server->opts.tls); /* NULL: plaintext */
    t->listener = h2o_evloop_socket_create(t->ctx.loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_timeout_init(t->ctx.loop, &t->pause, 100);
    t->pause_entry.cb = on_pause_over;
    accept_more(t, 1);
    h2o_multithread_queue_t *q = h2o_multithread_create_queue(t->ctx.loop);
    h2o_multithread_register_receiver(q, &t->done_rx, on_done_messages);
    h2o_multithread_register_receiver(q, &t->stop_rx, on_stop_message);
    __atomic_store_n(&t->queue, q, __ATOMIC_RELEASE); /* now otlp_http_stop may message us */
    /* run until told to stop and every committed request has been answered */
    while (!(t->stopping && t->pending == 0))
        h2o_evloop_run(t->ctx.loop, 100);
    /* let the final responses flush */
    for (int i = 0; i < 5; i++)
        h2o_evloop_run(t->ctx.loop, 10);
    return NULL;
}

int otlp_http_start(const otlp_http_options_t *opts, otlp_http_server_t **out, uint16_t *bound_port)
{
    otlp_http_server_t *s = arbor_xcalloc(1, sizeof *s);
    s->opts = *opts;
    s->n_threads = opts->threads > 0 ? opts->threads : 1;
    s->threads = arbor_xcalloc((size_t)s->n_threads, sizeof *s->threads);
    h2o_config_init(&s->config);
    s->config.server_name = h2o_iovec_init(H2O_STRLIT("arbor-collector"));
    if (opts->tls != NULL) /* h2 or http/1.1, as the client offers */
        h2o_ssl_register_alpn_protocols(arbor_tls_ssl_ctx(opts->tls), h2o_alpn_protocols);
    /* h2o refuses (413) bodies above this before we see them; compressed bodies are
     * limited again after inflating */
    s->config.max_request_entity_size = opts->max_request_bytes;
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    arbor_http1_framing_guard(path, refuse_framing); /* first: before anything is read or stored */
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;
    /* h2o's own 413 is sent on the request's path or, before one is chosen, the fallback */
    h2o_create_filter(path, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;

    /* one listening socket, dup()ed for each event-loop thread: the kernel hands
     * each connection to one of them, and no other process can share the port */
    int fd = arbor_listen(&opts->addr, bound_port);
    if (fd < 0) {
        char where[160];
        arbor_addr_format(&opts->addr, where, sizeof where);
        arbor_error("listen_failed", "proto=otlp_http addr=%s error=\"%s\"", where, strerror(-fd));
        return -fd;
    }
    size_t share = (opts->max_connections + (size_t)s->n_threads - 1) / (size_t)s->n_threads;
    for (int i = 0; i < s->n_threads; i++) {
        s->threads[i].fd = i == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
        s->threads[i].server = s;
        s->threads[i].max_conns = share ? share : 1;
    }
    for (int i = 0; i < s->n_threads; i++)
        pthread_create(&s->threads[i].tid, NULL, thread_main, &s->threads[i]);
    *out = s;
    return 0;
}

void otlp_http_stop(otlp_http_server_t *s)
{
    for (int i = 0; i < s->n_threads; i++) {
        h2o_multithread_message_t *m = arbor_xcalloc(1, sizeof *m);
        /* the thread may still be starting; its queue exists once it runs */
        while (__atomic_load_n(&s->threads[i].queue, __ATOMIC_ACQUIRE) == NULL)
            usleep(1000);
        h2o_multithread_send_message(&s->threads[i].stop_rx, m);
    }
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i].tid, NULL);
    /* contexts stay allocated (and reachable, for leak checkers): idle keep-alive
     * connections may still reference them, and the process is about to exit */
    retained_server = s;
}
