/* Federated live streams: see fed_live.h. */
#include "fed_live.h"

#include "fed_internal.h"
#include "metrics.h"
#include "ws_client.h"

#include "arbor/log.h"

#include "h2o/multithread.h"
#include "h2o/websocket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MSG_FRAME, MSG_CLOSE, MSG_DONE };

typedef struct fsub fsub_t;

typedef struct {
    h2o_multithread_message_t msg; /* first: the receiver gets it back */
    fsub_t *sub;
    int kind;
    uint16_t code;
    size_t len;
    char data[];
} fmsg_t;

struct fsub {
    h2o_websocket_conn_t *conn; /* NULL once the client is gone */
    pthread_t thread;
    int wake[2];                /* the loop's "stop" to the thread */
    int thread_running;
    volatile int stopping;      /* set with wake: the thread's lookups end early */
    char *path, *headers;       /* the upstream request: path (query without since) and header lines */
    fed_request_t *lookup;      /* the tree's path and the caller's credentials, to ask who holds spans */
    int has_since, closing;
    uint64_t last_send_ns, close_after_s;
    fsub_t *next, *prev;
    /* the thread's own: where each shard's stream stands */
    uint64_t seq[FED_MAX_SHARDS];
    uint8_t open[FED_MAX_SHARDS], holds[FED_MAX_SHARDS], complete[FED_MAX_SHARDS];
    int was_complete;
};

static struct {
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t rx;
    fsub_t *head;
    size_t count, max;
    uint64_t ping_ns;
} F;

/* ---- the upstream thread ---- */

typedef struct {
    fsub_t *sub;
    size_t shard;
} upstream_ctx_t;

static void post(fsub_t *s, int kind, uint16_t code, const char *data, size_t len)
{
    fmsg_t *m = arbor_xmalloc(sizeof *m + len);
    memset(m, 0, sizeof *m);
    m->sub = s;
    m->kind = kind;
    m->code = code;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    h2o_multithread_send_message(&F.rx, &m->msg);
}

/* Every shard holding spans (whose stream is open) has said complete. */
static int stream_complete(const fsub_t *s)
{
    int any = 0, all = 1;
    for (size_t k = 0; k < fed_shard_count(); k++)
        if (s->holds[k] && s->open[k]) {
            any = 1;
            all &= s->complete[k];
        }
    return any && all;
}

/* Before the stream says complete: which shards hold spans of it now? A
 * shard's first frame may still be on its way (its spans came just before
 * another shard's "complete"); its REST answer counts them already. */
static void confirm_holders(fsub_t *s)
{
    fed_answers_t *as = arbor_xmalloc(sizeof *as);
    s->lookup->deadline_ns = arbor_mono_ns() + (uint64_t)fed_shard_timeout_ms() * 1000000u;
    fed_fetch_same(s->lookup, as);
    for (size_t k = 0; k < as->n; k++)
        if (s->open[k] && fed_tree_held(&as->a[k]))
            s->holds[k] = 1;
    fed_answers_free(as);
    free(as);
}

/* The frame of shard @p i with "complete" and "seq" made the stream's own:
 * complete once every shard holding spans is, seq the cursor over all shards. */
static char *restamp(fsub_t *s, size_t i, const char *data, size_t len, size_t *out_len)
{
    const char *tail = NULL;
    for (const char *p = data; (p = memmem(p, (size_t)(data + len - p), ",\"complete\":", 12)) != NULL; p++)
        tail = p;
    if (tail == NULL)
        return NULL;
    const char *spans = memmem(data, (size_t)(tail - data), "\"spans\":[", 9);
    if (spans != NULL && spans[9] != ']')
        s->holds[i] = 1;
    s->complete[i] = strncmp(tail + 12, "true", 4) == 0;
    const char *seq = memmem(tail, (size_t)(data + len - tail), "\"seq\":", 6);
    if (seq != NULL)
        s->seq[i] = strtoull(seq + 6, NULL, 10);
    int complete = stream_complete(s); /* shards holding nothing never complete: they do not count */
    if (complete && !s->was_complete) {
        confirm_holders(s);
        complete = stream_complete(s);
    }
    s->was_complete = complete;
    size_t head = (size_t)(tail - data), cap = head + 64 + 21 * fed_shard_count();
    char *out = arbor_xmalloc(cap);
    memcpy(out, data, head);
    size_t n = head + (size_t)snprintf(out + head, cap - head, ",\"complete\":%s,\"seq\":\"f", complete ? "true" : "false");
    for (size_t k = 0; k < fed_shard_count(); k++)
        n += (size_t)snprintf(out + n, cap - n, "%s%llu", k ? "." : "", (unsigned long long)s->seq[k]);
    n += (size_t)snprintf(out + n, cap - n, "\"}");
    *out_len = n;
    return out;
}

static void on_upstream_message(void *ctx, const uint8_t *data, size_t len)
{
    upstream_ctx_t *u = ctx;
    size_t n;
    char *frame = restamp(u->sub, u->shard, (const char *)data, len, &n);
    if (frame != NULL)
        post(u->sub, MSG_FRAME, 0, frame, n);
    free(frame);
}

/* Shard @p i's stream: the path with its own resume point. */
static ws_client_t *open_upstream(fsub_t *s, size_t i, upstream_ctx_t *ctx)
{
    char *path = arbor_xmalloc(strlen(s->path) + 48), err[512];
    ws_client_t *c = NULL;
    int status = 0;
    ws_client_options_t o = {fed_shard_ca_file(), (int)fed_shard_timeout_ms(), s->wake[0], fed_shard_max_bytes()};
    if (s->has_since)
        sprintf(path, "%s%ssince=%llu", s->path, strchr(s->path, '?') ? "&" : "?", (unsigned long long)s->seq[i]);
    else
        strcpy(path, s->path);
    ctx->sub = s;
    ctx->shard = i;
    if (ws_client_open(fed_shard_base(i), path, s->headers, &o, on_upstream_message, ctx, &c, &status, err,
                       sizeof err) != 0) {
        arbor_warn("shard_failed", "shard=%s what=live error=\"%s\"", fed_shard_base(i), err);
        fed_shard_count_request(i, status ? status : -1);
        if (status == 401 || status == 403) /* the shard refuses the caller: so does the stream */
            post(s, MSG_CLOSE, status == 401 ? 4401 : 4403, NULL, 0);
    } else {
        fed_shard_count_request(i, 0);
    }
    free(path);
    return c;
}

static void *upstream_main(void *arg)
{
    fsub_t *s = arg;
    size_t n = fed_shard_count(), open = 0;
    ws_client_t **up = arbor_xcalloc(n, sizeof *up);
    upstream_ctx_t *ctx = arbor_xcalloc(n, sizeof *ctx);
    struct pollfd *pf = arbor_xcalloc(n + 1, sizeof *pf);
    for (size_t i = 0; i < n; i++)
        open += s->open[i] = (up[i] = open_upstream(s, i, &ctx[i])) != NULL;
    if (open == 0)
        post(s, MSG_CLOSE, 1011, NULL, 0);
    while (open > 0) {
        int pending = 0;
        for (size_t i = 0; i < n; i++) {
            pf[i] = (struct pollfd){up[i] ? ws_client_fd(up[i]) : -1, POLLIN, 0};
            pending |= up[i] && ws_client_pending(up[i]);
        }
        pf[n] = (struct pollfd){s->wake[0], POLLIN, 0};
        if (poll(pf, n + 1, pending ? 0 : 1000) < 0 && errno != EINTR)
            break;
        if (pf[n].revents)
            break; /* the client is gone, or shutdown */
        for (size_t i = 0; i < n; i++) {
            if (up[i] == NULL || !(pf[i].revents || ws_client_pending(up[i])))
                continue;
            int rc = ws_client_read(up[i]);
            if (rc == 0)
                continue;
            arbor_info("shard_stream_closed", "shard=%s code=%d", fed_shard_base(i), rc);
            if (rc == 4401 || rc == 4403 || rc == 1013)
                post(s, MSG_CLOSE, (uint16_t)rc, NULL, 0);
            ws_client_close(up[i]);
            up[i] = NULL;
            s->open[i] = 0;
            if (--open == 0)
                post(s, MSG_CLOSE, 1011, NULL, 0);
        }
    }
    for (size_t i = 0; i < n; i++)
        ws_client_close(up[i]);
    free(up);
    free(ctx);
    free(pf);
    post(s, MSG_DONE, 0, NULL, 0);
    return NULL;
}

/* ---- the client side, on the loop ---- */

static void sub_free(fsub_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        F.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    F.count--;
    metrics_set_live_subscribers(F.count);
    close(s->wake[0]);
    close(s->wake[1]);
    free(s->path);
    free(s->headers);
    free(s->lookup);
    free(s);
}

static void stop_thread(fsub_t *s)
{
    s->stopping = 1;
    if (write(s->wake[1], "x", 1) < 0 && errno != EAGAIN)
        arbor_warn("live_wake_failed", "error=\"%s\"", strerror(errno));
}

static void on_client_message(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    if (arg != NULL)
        return; /* clients have nothing to say */
    fsub_t *s = conn->data;
    s->conn = NULL;
    h2o_websocket_close(conn);
    stop_thread(s);
    if (!s->thread_running)
        sub_free(s);
}

static void close_client(fsub_t *s, uint16_t code, const char *reason)
{
    if (s->conn == NULL || s->closing)
        return;
    wslay_event_queue_close(s->conn->ws_ctx, code, (const uint8_t *)reason, strlen(reason));
    s->closing = 1;
}

static void on_messages(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    (void)rx;
    while (!h2o_linklist_is_empty(messages)) {
        fmsg_t *m = H2O_STRUCT_FROM_MEMBER(fmsg_t, msg.link, messages->next);
        h2o_linklist_unlink(&m->msg.link);
        fsub_t *s = m->sub;
        if (m->kind == MSG_DONE) {
            pthread_join(s->thread, NULL);
            s->thread_running = 0;
            if (s->conn == NULL)
                sub_free(s);
        } else if (s->conn != NULL && !s->closing && m->kind == MSG_CLOSE) {
            close_client(s, m->code, m->code == 4401 ? "token expired or refused" : m->code == 4403 ? "forbidden"
                                     : m->code == 1013 ? "client too slow" : "no shard streams");
        } else if (s->conn != NULL && !s->closing) {
            struct wslay_event_msg w = {WSLAY_TEXT_FRAME, (const uint8_t *)m->data, m->len};
            wslay_event_queue_msg(s->conn->ws_ctx, &w); /* copies */
            s->last_send_ns = arbor_mono_ns();
        }
        free(m);
    }
    fed_live_tick(); /* flush now: frames should not wait for the loop's next turn */
}

void fed_live_init(h2o_loop_t *loop, size_t max_subscribers, uint64_t ping_ms)
{
    F.queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(F.queue, &F.rx, on_messages);
    F.max = max_subscribers;
    F.ping_ns = ping_ms * 1000000u;
}

/* "f<seq0>.<seq1>…" with one number per shard; a cursor of another shard
 * count (the shards changed) or a single store's number resumes nothing: the
 * whole tree comes again, which the client merges by span ID. */
static int parse_cursor(const char *since, uint64_t *seq)
{
    if (since == NULL || since[0] != 'f')
        return 0;
    const char *p = since + 1;
    for (size_t k = 0; k < fed_shard_count(); k++) {
        char *end;
        if (*p < '0' || *p > '9')
            return 0;
        seq[k] = strtoull(p, &end, 10);
        if (*end != (k + 1 == fed_shard_count() ? '\0' : '.'))
            return 0;
        p = end + (*end == '.');
    }
    return 1;
}

static char *upstream_headers(const fed_live_params_t *p)
{
    size_t cap = strlen(p->authorization) + strlen(p->token) + strlen(p->org) + 128;
    char *h = arbor_xmalloc(cap);
    size_t n = 0;
    h[0] = '\0';
    if (p->authorization[0])
        n += (size_t)snprintf(h + n, cap - n, "Authorization: %s\r\n", p->authorization);
    else if (p->token[0])
        n += (size_t)snprintf(h + n, cap - n, "Authorization: Bearer %s\r\n", p->token);
    if (p->org[0])
        snprintf(h + n, cap - n, "X-Scope-OrgID: %s\r\n", p->org);
    return h;
}

/* A resume point this service gave ("f<seq>.<seq>…") or a store's sequence
 * number: anything else is a client's mistake. */
static int since_well_formed(const char *since)
{
    const char *p = since[0] == 'f' ? since + 1 : since;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p == '.' && since[0] == 'f' && p[1] >= '0' && p[1] <= '9')))
            return 0;
    return 1;
}

/* The lookup of who holds spans of the stream: its tree's first page
 * ("/api/executions/{id}/trace" for ".../trace/live", "/api/traces/{id}/trace"
 * for "/api/traces/{id}/live"), with the caller's credentials. */
static fed_request_t *lookup_request(const fed_live_params_t *p, fsub_t *s)
{
    fed_request_t *r = arbor_xcalloc(1, sizeof *r);
    size_t len = strlen(p->path);
    if (len > 5 && strcmp(p->path + len - 5, "/live") == 0)
        len -= 5;
    int trace = len >= 6 && strncmp(p->path + len - 6, "/trace", 6) == 0;
    r->route = FED_TREE;
    snprintf(r->path, sizeof r->path, "%.*s%s?limit=1", (int)len, p->path, trace ? "" : "/trace");
    if (p->authorization[0])
        snprintf(r->authorization, sizeof r->authorization, "%s", p->authorization);
    else if (p->token[0])
        snprintf(r->authorization, sizeof r->authorization, "Bearer %s", p->token);
    snprintf(r->org, sizeof r->org, "%s", p->org);
    r->cancel = &s->stopping;
    return r;
}

int fed_live_subscribe(h2o_req_t *req, const char *key, const fed_live_params_t *p)
{
    if ((p->since != NULL && !since_well_formed(p->since)) || !fed_header_value_ok(p->authorization) ||
        !fed_header_value_ok(p->token) || !fed_header_value_ok(p->org))
        return ARBOR_EDECODE; /* no header line of the upstream requests may be split */
    if (F.count >= F.max)
        return ARBOR_EBUSY;
    fsub_t *s = arbor_xcalloc(1, sizeof *s);
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(s);
        return errno;
    }
    s->has_since = parse_cursor(p->since, s->seq);
    s->path = arbor_xstrdup(p->path);
    s->headers = upstream_headers(p);
    s->lookup = lookup_request(p, s);
    s->close_after_s = p->close_after_s;
    s->last_send_ns = arbor_mono_ns();
    s->next = F.head;
    if (F.head)
        F.head->prev = s;
    F.head = s;
    F.count++;
    metrics_set_live_subscribers(F.count);
    s->conn = h2o_upgrade_to_websocket(req, key, s, on_client_message);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 << 10); /* libcurl and OpenSSL for the lookups */
    s->thread_running = pthread_create(&s->thread, &attr, upstream_main, s) == 0;
    pthread_attr_destroy(&attr);
    if (!s->thread_running)
        close_client(s, 1011, "cannot start the stream");
    return 0;
}

void fed_live_tick(void)
{
    uint64_t now = arbor_mono_ns(), now_s = arbor_now_ns() / 1000000000u;
    for (fsub_t *s = F.head, *next; s; s = next) {
        next = s->next;
        if (s->conn == NULL)
            continue;
        if (!s->closing && s->close_after_s != 0 && now_s > s->close_after_s)
            close_client(s, 4401, "token expired");
        if (!s->closing && wslay_event_get_queued_msg_length(s->conn->ws_ctx) > ((size_t)64 << 20))
            close_client(s, 1013, "client too slow");
        if (!s->closing && now - s->last_send_ns > F.ping_ns) {
            struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
            wslay_event_queue_msg(s->conn->ws_ctx, &ping);
            s->last_send_ns = now;
        }
        if (s->conn->sock != NULL && wslay_event_want_write(s->conn->ws_ctx))
            h2o_websocket_proceed(s->conn); /* may end the client (on_client_message): next was read first */
    }
}

size_t fed_live_subscribers(void)
{
    return F.count;
}

void fed_live_shutdown(h2o_loop_t *loop)
{
    if (F.queue == NULL)
        return;
    for (fsub_t *s = F.head; s; s = s->next) {
        close_client(s, 1001, "server shutting down");
        stop_thread(s);
    }
    /* every wait of the threads ends by ARBOR_SHARD_TIMEOUT, most at once */
    uint64_t give_up = arbor_mono_ns() + ((uint64_t)fed_shard_timeout_ms() + 2000) * 1000000u;
    while (F.head != NULL && arbor_mono_ns() < give_up) {
        fed_live_tick();
        h2o_evloop_run(loop, 10); /* close frames out, threads' DONE in */
        for (fsub_t *s = F.head, *next; s; s = next) {
            next = s->next;
            if (!s->thread_running && s->conn != NULL) {
                h2o_websocket_conn_t *conn = s->conn;
                s->conn = NULL;
                h2o_websocket_close(conn);
                sub_free(s);
            }
        }
    }
    if (F.head != NULL) { /* a thread still running would post into a freed queue: leave it */
        arbor_warn("live_shutdown_incomplete", "streams=%zu", F.count);
        return;
    }
    h2o_multithread_unregister_receiver(F.queue, &F.rx);
    h2o_multithread_destroy_queue(F.queue);
    F.queue = NULL;
}
