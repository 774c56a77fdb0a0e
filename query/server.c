/* Routing and responses for arbor-query. The store is opened read-only; until
 * the collector has created it, API calls answer 503 and /ready says not ready. */
#include "server.h"

#include "jsonw.h"
#include "trace.h"

#include "arbor/listen.h"
#include "arbor/log.h"
#include "arbor/store.h"

#include "h2o.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    const query_config_t *cfg;
    arbor_store_t *store;
    uint64_t next_open_try_ns;
} query_state_t;

static query_state_t state;

/* Open the store lazily: the collector may start after us. */
static arbor_store_t *store_get(void)
{
    if (state.store != NULL)
        return state.store;
    uint64_t now = arbor_mono_ns();
    if (now < state.next_open_try_ns)
        return NULL;
    arbor_store_options_t o = {.path = state.cfg->data_dir, .map_size = state.cfg->map_size, .read_only = 1};
    int rc = arbor_store_open(&o, &state.store);
    if (rc != 0) {
        state.next_open_try_ns = now + 200000000u; /* retry at most 5 times a second */
        arbor_debug("store_not_ready", "data_dir=%s error=\"%s\"", state.cfg->data_dir, arbor_strerror(rc));
        return NULL;
    }
    arbor_info("store_opened", "data_dir=%s", state.cfg->data_dir);
    return state.store;
}

static void send_json(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

static void send_detail(h2o_req_t *req, int status, const char *reason, const char *detail)
{
    jsonw_t w;
    size_t len;
    jsonw_init(&w);
    jsonw_object(&w);
    jsonw_key(&w, "detail");
    jsonw_cstr(&w, detail);
    jsonw_object_end(&w);
    char *body = jsonw_take(&w, &len);
    send_json(req, status, reason, body, len);
    free(body);
}

static void send_writer(h2o_req_t *req, jsonw_t *w)
{
    size_t len;
    char *body = jsonw_take(w, &len);
    send_json(req, 200, "OK", body, len);
    free(body);
}

/* Percent-decode one path segment into @p pool. */
static arbor_iov_t decode_segment(h2o_mem_pool_t *pool, const char *s, size_t n)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        if (s[i] == '%' && i + 2 < n && arbor_hex_decode(&b, 1, s + i + 1, 2) == 0) {
            out[j++] = (char)b;
            i += 2;
            continue;
        }
        out[j++] = s[i];
    }
    out[j] = '\0';
    return arbor_iov(out, j);
}

#define MAX_SEGMENTS 8
typedef struct {
    arbor_iov_t seg[MAX_SEGMENTS];
    size_t n;
} path_t;

/* Split the raw path (before '?') into decoded segments; 0 or -1 if too many. */
static int split_path(h2o_req_t *req, path_t *p)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *s = req->path.base;
    p->n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && s[i] != '/')
            i++;
        if (p->n == MAX_SEGMENTS)
            return -1;
        p->seg[p->n++] = decode_segment(&req->pool, s + start, i - start);
    }
    return 0;
}

static int seg_is(const path_t *p, size_t i, const char *lit)
{
    return i < p->n && arbor_iov_eq_str(p->seg[i], lit);
}

/* Render a JSON body from one read snapshot and send it: 503 while the store
 * is not available, 404 for ARBOR_ENOTFOUND, 500 for other store errors. */
typedef int (*render_fn)(arbor_reader_t *r, const void *arg, jsonw_t *w);

static void respond_rendered(h2o_req_t *req, render_fn render, const void *arg)
{
    arbor_store_t *st = store_get();
    arbor_reader_t *r;
    jsonw_t w;
    if (st == NULL) {
        send_detail(req, 503, "Service Unavailable", "store not available yet");
        return;
    }
    int rc = arbor_reader_begin(st, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r);
    if (rc) {
        send_detail(req, 503, "Service Unavailable", arbor_strerror(rc));
        return;
    }
    jsonw_init(&w);
    rc = render(r, arg, &w);
    arbor_reader_end(r);
    if (rc == ARBOR_ENOTFOUND)
        send_detail(req, 404, "Not Found", "not found");
    else if (rc)
        send_detail(req, 500, "Internal Server Error", arbor_strerror(rc));
    else
        send_writer(req, &w);
    jsonw_free(&w);
}

static int render_execution(arbor_reader_t *r, const void *arg, jsonw_t *w)
{
    trace_options_t o = {0};
    return trace_render_execution(r, *(const arbor_iov_t *)arg, &o, w);
}

static int render_trace(arbor_reader_t *r, const void *arg, jsonw_t *w)
{
    trace_options_t o = {0};
    return trace_render_trace(r, arg, &o, w);
}

static void api_trace_tree(h2o_req_t *req, arbor_iov_t hex)
{
    uint8_t id[16];
    if (arbor_hex_decode(id, 16, hex.base, hex.len) != 0) {
        send_detail(req, 400, "Bad Request", "trace ID must be 32 hex characters");
        return;
    }
    respond_rendered(req, render_trace, id);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    path_t p;
    uint64_t t0 = arbor_mono_ns();
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        send_detail(req, 405, "Method Not Allowed", "method not allowed");
    } else if (split_path(req, &p) != 0) {
        send_detail(req, 404, "Not Found", "Not Found");
    } else if (p.n == 1 && seg_is(&p, 0, "healthz")) {
        send_json(req, 200, "OK", H2O_STRLIT("{\"status\":\"ok\"}"));
    } else if (p.n == 1 && seg_is(&p, 0, "ready")) {
        if (store_get() != NULL)
            send_json(req, 200, "OK", H2O_STRLIT("{\"status\":\"ready\"}"));
        else
            send_detail(req, 503, "Service Unavailable", "store not available yet");
    } else if (p.n == 4 && seg_is(&p, 0, "api") && seg_is(&p, 1, "executions") && seg_is(&p, 3, "trace")) {
        respond_rendered(req, render_execution, &p.seg[2]);
    } else if (p.n == 4 && seg_is(&p, 0, "api") && seg_is(&p, 1, "traces") && seg_is(&p, 3, "trace")) {
        api_trace_tree(req, p.seg[2]);
    } else {
        send_detail(req, 404, "Not Found", "Not Found");
    }
    arbor_debug("request", "method=%.*s path=\"%.*s\" status=%d duration_us=%llu", (int)req->method.len,
                req->method.base, (int)req->path.len, req->path.base, req->res.status,
                (unsigned long long)((arbor_mono_ns() - t0) / 1000));
    return 0;
}

static h2o_accept_ctx_t accept_ctx;

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(&accept_ctx, sock);
}

int query_server_run(const query_config_t *cfg, volatile int *stop)
{
    static h2o_globalconf_t config;
    static h2o_context_t ctx;
    uint16_t port;
    state.cfg = cfg;
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("arbor-query"));
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    int fd = arbor_listen(&cfg->query_addr, 0, &port);
    if (fd < 0) {
        arbor_error("listen_failed", "error=\"%s\"", strerror(-fd));
        return 1;
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    store_get();
    arbor_addr_t bound = cfg->query_addr;
    char addr[160];
    bound.port = port;
    arbor_addr_format(&bound, addr, sizeof addr);
    arbor_info("ready", "query=%s data_dir=%s store=%s version=%s", addr, cfg->data_dir,
               state.store ? "open" : "waiting", ARBOR_VERSION);
    while (!*stop)
        h2o_evloop_run(ctx.loop, 100);
    arbor_info("shutdown", "reason=signal");
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    arbor_store_close(state.store);
    state.store = NULL;
    return 0;
}
