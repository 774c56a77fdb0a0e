/* arbor-query's HTTP layer: one h2o event loop, routing, query parameters, CORS,
 * request logs and metrics. The store is opened read-only and lazily: until the
 * collector has created it, API calls answer 503 and /ready says not ready. */
#include "server.h"

#include "fed.h"
#include "fed_live.h"
#include "jsonw.h"
#include "lists.h"
#include "live.h"
#include "metrics.h"
#include "params.h"
#include "prices.h"
#include "tempo.h"
#include "ui.h"
#include "trace.h"
#include "tree_cache.h"
#include "worker.h"

#include "arbor/auth.h"
#include "arbor/http1.h"
#include "arbor/listen.h"
#include "arbor/log.h"
#include "arbor/store.h"

#include "h2o.h"
#include "h2o/websocket.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINKS 16
#define MAX_ORIGINS 32

static struct {
    const query_config_t *cfg;
    arbor_store_t *store;
    uint64_t next_open_try_ns;
    int store_error; /* why the last open failed (0: it did not) */
    trace_options_t opts;
    trace_link_t links[MAX_LINKS];
    char *origins[MAX_ORIGINS];
    size_t n_origins;
    int any_origin;
    char *hosts[MAX_ORIGINS]; /* allowed Host names; none and !any_host: loopback names only */
    size_t n_hosts;
    int any_host;
    arbor_auth_t *auth;
    arbor_tls_t *tls; /* NULL: plaintext */
    prices_t *prices; /* ARBOR_PRICES (an empty table when unset) */
} state;

/* A store the collector has not created yet is waited for quietly; any other
 * cause (permissions, a damaged or foreign file) is an error an operator must
 * see: logged when it appears or changes, then once a minute while it lasts. */
static void store_failed(int rc, uint64_t now)
{
    static uint64_t logged_ns;
    if (rc == ARBOR_ENOSTORE) {
        arbor_debug("store_not_ready", "data_dir=%s error=\"%s\"", state.cfg->data_dir, arbor_strerror(rc));
    } else if (rc != state.store_error || now - logged_ns >= 60000000000u) {
        arbor_error("store_open_failed", "data_dir=%s error=\"%s\" action=retrying", state.cfg->data_dir,
                    arbor_strerror(rc));
        logged_ns = now;
    }
    state.store_error = rc;
}

/* Open the store lazily: the collector may start after us. */
static arbor_store_t *store_get(void)
{
    if (state.store != NULL || fed_enabled())
        return state.store;
    uint64_t now = arbor_mono_ns();
    if (now < state.next_open_try_ns)
        return NULL;
    arbor_store_options_t o = {.path = state.cfg->data_dir, .map_size = state.cfg->map_size, .read_only = 1,
                              .block_cache_bytes = (size_t)state.cfg->block_cache_size};
    int rc = arbor_store_open(&o, &state.store);
    if (rc != 0) {
        state.next_open_try_ns = now + 200000000u; /* retry at most 5 times a second */
        store_failed(rc, now);
        return NULL;
    }
    state.store_error = 0;
    arbor_info("store_opened", "data_dir=%s", state.cfg->data_dir);
    return state.store;
}

/* ---- responses ---- */

static const char *allowed_origin(h2o_req_t *req, h2o_iovec_t *origin)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return NULL;
    *origin = req->headers.entries[i].value;
    if (state.any_origin)
        return "*";
    for (size_t k = 0; k < state.n_origins; k++)
        if (strlen(state.origins[k]) == origin->len && memcmp(state.origins[k], origin->base, origin->len) == 0)
            return state.origins[k];
    return NULL;
}

/* A listed origin is echoed back with credentials allowed; "*" answers "*" and
 * never allows credentials, so no page anywhere can read a response the browser
 * sent with the user's cookies or HTTP auth. */
static void add_cors(h2o_req_t *req)
{
    h2o_iovec_t origin;
    const char *allowed = allowed_origin(req, &origin);
    if (allowed == NULL)
        return;
    if (strcmp(allowed, "*") == 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
        return;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base,
                   origin.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-credentials"), 0, NULL,
                          H2O_STRLIT("true"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
}

static void send_body(h2o_req_t *req, int status, const char *reason, const char *type, const char *body,
                      size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    add_cors(req);
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

static void send_detail(h2o_req_t *req, int status, const char *reason, const char *detail)
{
    jsonw_t w;
    size_t len;
    jsonw_init(&w);
    jsonw_object(&w);
    jsonw_key_lit(&w, "detail");
    jsonw_cstr(&w, detail);
    jsonw_object_end(&w);
    char *body = jsonw_take(&w, &len);
    send_body(req, status, reason, "application/json", body, len);
    free(body);
}

static void send_writer(h2o_req_t *req, jsonw_t *w, const char *type)
{
    size_t len;
    char *body = jsonw_take(w, &len);
    send_body(req, 200, "OK", type, body, len);
    free(body);
}

/* ---- Host and Origin: DNS rebinding, cross-site WebSocket hijacking ---- */

/* The Host header without its port ("[::1]:3200" -> "::1"). */
static h2o_iovec_t host_name(h2o_iovec_t authority)
{
    const char *s = authority.base;
    size_t n = authority.len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        return close ? h2o_iovec_init(s + 1, (size_t)(close - s - 1)) : h2o_iovec_init(s, n);
    }
    const char *colon = memchr(s, ':', n);
    return h2o_iovec_init(s, colon ? (size_t)(colon - s) : n);
}

static int host_allowed(h2o_req_t *req)
{
    if (state.any_host)
        return 1;
    h2o_iovec_t h = host_name(req->input.authority);
    static const char *const loopback[] = {"localhost", "127.0.0.1", "::1"};
    const char *const *list = state.n_hosts ? (const char *const *)state.hosts : loopback;
    size_t n = state.n_hosts ? state.n_hosts : 3;
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == h.len && strncasecmp(list[i], h.base, h.len) == 0)
            return 1;
    return 0;
}

/* A browser's WebSocket carries the page's Origin: it must be one of the CORS
 * origins or the service's own (its UI), or any page could read traces. */
static int ws_origin_allowed(h2o_req_t *req)
{
    h2o_iovec_t origin;
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1) < 0)
        return 1; /* not a browser */
    if (allowed_origin(req, &origin) != NULL)
        return 1;
    const char *scheme = state.tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    return origin.len == sl + req->input.authority.len && memcmp(origin.base, scheme, sl) == 0 &&
           strncasecmp(origin.base + sl, req->input.authority.base, req->input.authority.len) == 0;
}

/* ---- request parsing ---- */

static arbor_iov_t percent_decode(h2o_mem_pool_t *pool, const char *s, size_t n, int plus_is_space)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    return arbor_iov(out, params_percent_decode(out, s, n, plus_is_space));
}

#define MAX_SEGMENTS 8
typedef struct {
    arbor_iov_t seg[MAX_SEGMENTS];
    size_t n;
} path_t;

/* Split the raw path (before '?') into decoded segments; -1 if too many. */
static int split_path(h2o_req_t *req, path_t *p)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *s = req->path.base;
    p->n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && s[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && s[i] != '/')
            i++;
        if (p->n == MAX_SEGMENTS)
            return -1;
        p->seg[p->n++] = percent_decode(&req->pool, s + start, i - start, 0);
    }
    return 0;
}

/* Value of query parameter @p name (decoded), or base NULL when absent. */
static arbor_iov_t query_param(h2o_req_t *req, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return ARBOR_IOV_NULL;
    arbor_iov_t q = arbor_iov(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    arbor_iov_t raw = params_find(q, name);
    return raw.base ? percent_decode(&req->pool, raw.base, raw.len, 1) : raw;
}

/* Integer parameter within [lo, hi]; default when absent; -1 (and a 400 sent) when bad. */
static int int_param(h2o_req_t *req, const char *name, long lo, long hi, long def, long *out)
{
    arbor_iov_t v = query_param(req, name);
    *out = def;
    if (v.base == NULL)
        return 0;
    if (params_int(v, lo, hi, out) != 0) {
        *out = def;
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be an integer from %ld to %ld", name, lo, hi);
        send_detail(req, 400, "Bad Request", msg);
        return -1;
    }
    return 0;
}

/* ---- who is asking (SPEC §8) ---- */

enum {
    ROUTE_PUBLIC = 1, /* health and metrics: answered to anyone (SPEC §8) */
    ROUTE_TENANT = 2, /* reads a tenant's data: scoped to the caller's tenant */
    ROUTE_STREAM = 4, /* upgrades to a WebSocket */
    ROUTE_SIGNED = 8, /* a signed link (ARBOR_ARTIFACT_URL_SECRET) stands in for a token */
};


/* The caller of the request being dispatched. dispatch() fills it from the
 * route's flags before the handler runs, and every store read of a handler takes
 * its tenant from here (respond_with, the worker jobs, live subscriptions), so no
 * handler can read a tenant's data the route table did not authorise. Outside a
 * dispatch it names no tenant, and reads find nothing. */
typedef struct {
    arbor_auth_result_t who;
    int authorized;     /* the route's check passed */
    int audit;          /* an authenticated read: logged once answered */
    const char *route;  /* the route's pattern */
    char ids[200];      /* the path's ID segments, escaped for the log */
} caller_t;

static caller_t current;

/* A tenant name no store has: reads outside an authorised dispatch find nothing. */
static const arbor_iov_t no_tenant = {"\x01unauthorised", 14};

static arbor_iov_t current_tenant(void)
{
    return current.authorized ? arbor_iov(current.who.tenant, strlen(current.who.tenant)) : no_tenant;
}

static arbor_iov_t header_value(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? ARBOR_IOV_NULL : arbor_iov(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

static void audit_line(const caller_t *c, int status)
{
    arbor_auth_audit(&c->who, c->route, c->ids, status);
}

/* Orcheo's failure shape: {"detail":{"message","code"}}, WWW-Authenticate on 401. */
static void send_auth_error(h2o_req_t *req, const arbor_auth_result_t *who)
{
    char body[600];
    const char *reason;
    size_t n = arbor_auth_error_body(who, body, sizeof body, &reason);
    if (who->status == 401)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    send_body(req, who->status, reason, "application/json", body, n);
}

/* A WebSocket's token when it has no Authorization header (browsers cannot set
 * one): a Sec-WebSocket-Protocol item "bearer.<token>" (the answer then selects
 * "orcheo-auth", as Orcheo's does), else ?access_token=. */
static arbor_iov_t stream_token(h2o_req_t *req, const char **subprotocol)
{
    arbor_iov_t protocols = header_value(req, "sec-websocket-protocol");
    for (size_t i = 0; i < protocols.len;) {
        while (i < protocols.len && (protocols.base[i] == ' ' || protocols.base[i] == ','))
            i++;
        size_t start = i;
        while (i < protocols.len && protocols.base[i] != ',' && protocols.base[i] != ' ')
            i++;
        if (i - start > 7 && strncasecmp(protocols.base + start, "bearer.", 7) == 0) {
            *subprotocol = "orcheo-auth";
            return arbor_iov(protocols.base + start + 7, i - start - 7);
        }
    }
    arbor_iov_t q = query_param(req, "access_token");
    return q.base ? q : ARBOR_IOV_NULL;
}

/* A signed download link: its signature, not a token, says who may fetch it;
 * the tenant it names is the one it was signed for. */
static void check_signed_link(h2o_req_t *req, arbor_iov_t id, uint64_t now_s)
{
    arbor_iov_t tenant = query_param(req, "tenant"), exp = query_param(req, "exp"), sig = query_param(req, "sig");
    long long exp_s = 0;
    char *end = NULL;
    if (exp.base != NULL && exp.len > 0 && exp.len < 20) {
        char tmp[24];
        memcpy(tmp, exp.base, exp.len);
        tmp[exp.len] = '\0';
        exp_s = strtoll(tmp, &end, 10);
        end = *end ? NULL : end;
    }
    int rc = state.opts.span.link_secret == NULL || tenant.base == NULL || end == NULL || exp_s <= 0 ||
                     !arbor_tenant_valid(tenant)
                 ? -1
                 : arbor_link_check(state.opts.span.link_secret, tenant, id, (uint64_t)exp_s, sig, now_s);
    memset(&current.who, 0, sizeof current.who);
    if (rc != 0) {
        current.who.status = 403;
        current.who.code = "auth.forbidden";
        snprintf(current.who.message, sizeof current.who.message, "%s",
                 rc == -2 ? "download link expired" : "download link signature is not valid");
        return;
    }
    snprintf(current.who.tenant, sizeof current.who.tenant, "%.*s", (int)tenant.len, tenant.base);
    snprintf(current.who.subject, sizeof current.who.subject, "signed-link");
}

/* The route's check: 0 to go on as current.who.tenant, -1 when refused (answered). */
static int authorize(h2o_req_t *req, unsigned flags, const char *pattern, const arbor_iov_t *args, size_t n_args,
                     const char **subprotocol)
{
    memset(&current, 0, sizeof current);
    current.route = pattern;
    for (size_t i = 0, o = 0; i < n_args && o + 4 < sizeof current.ids; i++) {
        char one[100];
        arbor_log_escape(one, sizeof one, args[i].base, args[i].len);
        o += (size_t)snprintf(current.ids + o, sizeof current.ids - o, "%s%s", i ? "," : "", one);
    }
    *subprotocol = NULL;
    arbor_iov_t authorization = header_value(req, "authorization"), org = header_value(req, "x-scope-orgid");
    uint64_t now_s = arbor_now_ns() / 1000000000u;
    if ((flags & ROUTE_STREAM) && org.len == 0) /* a browser's WebSocket cannot send headers */
        org = query_param(req, "org");
    if ((flags & ROUTE_SIGNED) && n_args > 0 && query_param(req, "sig").base != NULL)
        check_signed_link(req, args[0], now_s);
    else if ((flags & ROUTE_STREAM) && authorization.len == 0)
        arbor_auth_check(state.auth, stream_token(req, subprotocol), org, ARBOR_AUTH_READ, now_s, &current.who);
    else
        arbor_auth_check_header(state.auth, authorization, org, ARBOR_AUTH_READ, now_s, &current.who);
    if (current.who.status != 0) {
        if (arbor_auth_required(state.auth))
            audit_line(&current, current.who.status);
        send_auth_error(req, &current.who);
        return -1;
    }
    current.authorized = 1;
    current.audit = arbor_auth_required(state.auth) && (flags & ROUTE_TENANT);
    state.opts.span.tenant = current.who.tenant; /* the links this request renders are its tenant's */
    return 0;
}

/* ---- endpoints ---- */

typedef int (*render_fn)(arbor_reader_t *r, void *arg, jsonw_t *w);

/* How a rendered answer goes out: its content type, the detail of a 400
 * (ARBOR_EDECODE), and whether a 404 has an empty body (Tempo v1) or a detail. */
typedef struct {
    const char *type;
    const char *bad_request; /* NULL: "invalid cursor" */
    int empty_404;
} render_opts_t;

/* A render's result: 404 for ARBOR_ENOTFOUND, 400 for ARBOR_EDECODE, 503 for
 * ARBOR_ETIMEDOUT (with the detail in o->bad_request), 500 otherwise. */
static void send_rendered(h2o_req_t *req, int rc, jsonw_t *w, const render_opts_t *o)
{
    if (rc == ARBOR_ENOTFOUND && o->empty_404)
        send_body(req, 404, "Not Found", "text/plain", "", 0);
    else if (rc == ARBOR_ENOTFOUND)
        send_detail(req, 404, "Not Found", "not found");
    else if (rc == ARBOR_EDECODE)
        send_detail(req, 400, "Bad Request", o->bad_request ? o->bad_request : "invalid cursor");
    else if (rc == ARBOR_ETIMEDOUT)
        send_detail(req, 503, "Service Unavailable", o->bad_request ? o->bad_request : arbor_strerror(rc));
    else if (rc)
        send_detail(req, 500, "Internal Server Error", arbor_strerror(rc));
    else
        send_writer(req, w, o->type);
}

/* Render a body from one read snapshot: 503 while the store is not available,
 * then as send_rendered says. */
static void respond_with(h2o_req_t *req, render_fn render, void *arg, const render_opts_t *o)
{
    arbor_store_t *st = store_get();
    arbor_reader_t *r;
    jsonw_t w;
    if (st == NULL) {
        send_detail(req, 503, "Service Unavailable", "store not available yet");
        return;
    }
    int rc = arbor_reader_begin(st, current_tenant(), &r);
    if (rc) {
        send_detail(req, 503, "Service Unavailable", arbor_strerror(rc));
        return;
    }
    jsonw_init(&w);
    rc = render(r, arg, &w);
    arbor_reader_end(r);
    send_rendered(req, rc, &w, o);
    jsonw_free(&w);
}

static void respond_rendered(h2o_req_t *req, render_fn render, void *arg)
{
    static const render_opts_t json = {"application/json", NULL, 0};
    respond_with(req, render, arg, &json);
}

typedef struct {
    render_kind_t kind;
    arbor_iov_t execution_id;
    uint8_t trace_id[16];
    int by_trace;
    page_params_t page;
} tree_request_t;

static int render_tree(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    tree_request_t *t = arg;
    return trace_render(r, t->kind, t->execution_id, t->by_trace ? t->trace_id : NULL, &state.opts, &t->page, w);
}

static int decode_trace_id(h2o_req_t *req, arbor_iov_t hex, uint8_t id[16])
{
    if (arbor_hex_decode(id, 16, hex.base, hex.len) == 0)
        return 0;
    send_detail(req, 400, "Bad Request", "trace ID must be 32 hex characters");
    return -1;
}

static void api_tree_match(h2o_req_t *req, const tree_request_t *t);

/* /api/executions/{id}/(trace|tree) and /api/traces/{trace_id}/(trace|tree) */
static void api_tree(h2o_req_t *req, render_kind_t kind, int by_trace, arbor_iov_t id)
{
    tree_request_t t;
    long limit, depth;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.by_trace = by_trace;
    t.execution_id = id;
    if (by_trace && decode_trace_id(req, id, t.trace_id) != 0)
        return;
    long default_limit = kind == RENDER_TRACE && !by_trace ? TRACE_CANVAS_DEFAULT_LIMIT : TRACE_DEFAULT_LIMIT;
    if (int_param(req, "limit", 1, TRACE_MAX_LIMIT, default_limit, &limit) != 0 ||
        int_param(req, "depth", 1, 100000, 0, &depth) != 0)
        return;
    t.page.limit = (size_t)limit;
    t.page.max_depth = (uint32_t)depth;
    arbor_iov_t cursor = query_param(req, "cursor");
    t.page.cursor = cursor.base ? cursor : arbor_iov("", 0);
    arbor_iov_t parent = query_param(req, "parent");
    if (parent.base != NULL && kind == RENDER_SKELETON) {
        if (arbor_hex_decode(t.page.parent, 8, parent.base, parent.len) != 0) {
            send_detail(req, 400, "Bad Request", "parent must be a 16-hex-character span ID");
            return;
        }
        t.page.has_parent = 1;
    }
    arbor_iov_t events = query_param(req, "events");
    t.page.events = kind == RENDER_SKELETON && events.base != NULL && arbor_iov_eq_str(events, "1");
    arbor_iov_t match = query_param(req, "match");
    if (match.base != NULL && match.len > 0 && kind == RENDER_SKELETON) { /* in-trace search: every span decoded */
        if (match.len > 256) {
            send_detail(req, 400, "Bad Request", "match is at most 256 characters");
            return;
        }
        t.page.match = match;
        api_tree_match(req, &t);
        return;
    }
    respond_rendered(req, render_tree, &t);
}

typedef struct {
    uint8_t trace_id[16], span_id[8];
} span_request_t;

static int render_span(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    span_request_t *s = arg;
    return trace_render_span(r, s->trace_id, s->span_id, &state.opts, w);
}

static void api_span(h2o_req_t *req, arbor_iov_t trace_hex, arbor_iov_t span_hex)
{
    span_request_t s;
    if (decode_trace_id(req, trace_hex, s.trace_id) != 0)
        return;
    if (arbor_hex_decode(s.span_id, 8, span_hex.base, span_hex.len) != 0) {
        send_detail(req, 400, "Bad Request", "span ID must be 16 hex characters");
        return;
    }
    respond_rendered(req, render_span, &s);
}

typedef struct {
    list_params_t p;
    int executions;
} list_request_t;

static int render_list(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    list_request_t *l = arg;
    return l->executions ? lists_render_executions(r, &l->p, w) : lists_render_traces(r, &l->p, w);
}

static void api_list(h2o_req_t *req, int executions)
{
    static const char *const statuses[] = {"running", "completed", "error", "cancelled", NULL};
    list_request_t l;
    long limit;
    memset(&l, 0, sizeof l);
    l.executions = executions;
    if (int_param(req, "limit", 1, LIST_MAX_LIMIT, LIST_DEFAULT_LIMIT, &limit) != 0)
        return;
    l.p.limit = (size_t)limit;
    arbor_iov_t wf = query_param(req, "workflow_id"), status = query_param(req, "status"),
                since = query_param(req, "since");
    l.p.workflow_id = wf.base ? wf : ARBOR_IOV_NULL;
    if (status.base != NULL) {
        for (int i = 0; statuses[i] && l.p.status == NULL; i++)
            if (arbor_iov_eq_str(status, statuses[i]))
                l.p.status = statuses[i];
        if (l.p.status == NULL) {
            send_detail(req, 400, "Bad Request", "status must be running, completed, error or cancelled");
            return;
        }
    }
    if (since.base != NULL && params_time(since, &l.p.since_ns) != 0) {
        send_detail(req, 400, "Bad Request", "since must be an ISO-8601 UTC time or Unix seconds");
        return;
    }
    respond_rendered(req, render_list, &l);
}

static void api_metrics(h2o_req_t *req)
{
    jsonw_t w;
    jsonw_init(&w);
    metrics_render(store_get(), &w);
    fed_metrics(&w);
    send_writer(req, &w, "text/plain; version=0.0.4; charset=utf-8");
    jsonw_free(&w);
}

/* CORS preflight: allowed origins get the methods and whatever headers they ask
 * for (Authorization included); others get 403. */
static void preflight(h2o_req_t *req)
{
    h2o_iovec_t origin;
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1) < 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD, OPTIONS"));
        send_body(req, 204, "No Content", "text/plain", "", 0);
        return;
    }
    if (allowed_origin(req, &origin) == NULL) {
        send_detail(req, 403, "Forbidden", "origin not allowed");
        return;
    }
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-headers"), -1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("GET, HEAD, OPTIONS"));
    if (h >= 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                              req->headers.entries[h].value.base, req->headers.entries[h].value.len);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                              H2O_STRLIT("Authorization, Content-Type"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT("600"));
    send_body(req, 204, "No Content", "text/plain", "", 0);
}

/* A NUL-terminated copy in the request's pool; NULL when @p v has control bytes
 * (it becomes a header line of the upstream requests). */
static const char *pool_cstr(h2o_req_t *req, arbor_iov_t v)
{
    char *s = h2o_mem_alloc_pool(&req->pool, v.len + 1);
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.base[i] < 0x20 || v.base[i] == 0x7f)
            return NULL;
    if (v.len)
        memcpy(s, v.base, v.len);
    s[v.len] = '\0';
    return s;
}

/* A live stream under federation: one upstream stream per shard (fed_live.h),
 * with the caller's credentials and tenant. */
static void live_federated(h2o_req_t *req, const char *key)
{
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    arbor_iov_t since = query_param(req, "since"), org = header_value(req, "x-scope-orgid");
    arbor_iov_t auth = header_value(req, "authorization");
    const char *subprotocol = NULL;
    if (org.len == 0)
        org = query_param(req, "org");
    arbor_iov_t token = auth.len ? ARBOR_IOV_NULL : stream_token(req, &subprotocol);
    fed_live_params_t p = {pool_cstr(req, arbor_iov(req->path.base, plen)), since.base ? pool_cstr(req, since) : NULL,
                           pool_cstr(req, auth), pool_cstr(req, token), pool_cstr(req, org),
                           current.who.expires_s == 0 ? 0 : current.who.expires_s + arbor_auth_leeway_s(state.auth)};
    if (p.path == NULL || (since.base && p.since == NULL) || p.authorization == NULL || p.token == NULL || p.org == NULL) {
        send_detail(req, 400, "Bad Request", "control characters in the path, since, token or tenant");
        return;
    }
    int rc = fed_live_subscribe(req, key, &p);
    if (rc == ARBOR_EDECODE)
        send_detail(req, 400, "Bad Request", "since must be a resume cursor (the seq of a response), and the token "
                                              "and tenant one line each");
    else if (rc == ARBOR_EBUSY)
        send_detail(req, 503, "Service Unavailable", "too many live subscribers");
}

/* /api/executions/{id}/trace/live and /api/traces/{trace_id}/live */
static void api_live(h2o_req_t *req, int by_trace, arbor_iov_t id)
{
    uint8_t trace_id[16];
    const char *key = NULL;
    if (by_trace && decode_trace_id(req, id, trace_id) != 0)
        return;
    if (req->version >= 0x200 || h2o_is_websocket_handshake(req, &key) != 0 || key == NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
        send_detail(req, 426, "Upgrade Required", "this is a WebSocket endpoint: connect over HTTP/1.1 with Upgrade: websocket");
        return;
    }
    if (!ws_origin_allowed(req)) {
        send_detail(req, 403, "Forbidden", "origin not allowed: add it to ARBOR_CORS_ORIGINS");
        return;
    }
    if (fed_enabled()) {
        live_federated(req, key);
        return;
    }
    arbor_iov_t since_text = query_param(req, "since");
    uint64_t since = 0;
    if (since_text.base != NULL) {
        char *end;
        errno = 0;
        since = strtoull(since_text.base, &end, 10);
        if (since_text.len == 0 || *end != '\0' || errno != 0 || since_text.base[0] == '-') {
            send_detail(req, 400, "Bad Request", "since must be a sequence number (the seq of a response)");
            return;
        }
    }
    live_caller_t caller = {current_tenant(), current.who.expires_s == 0 ? 0
                                              : current.who.expires_s + arbor_auth_leeway_s(state.auth)};
    int rc = live_subscribe(req, key, &caller, id, by_trace ? trace_id : NULL, since_text.base != NULL, since);
    if (rc == ARBOR_EBUSY)
        send_detail(req, 503, "Service Unavailable", "too many live subscribers");
    else if (rc == ARBOR_ENOSTORE)
        send_detail(req, 503, "Service Unavailable", "store not available yet");
    else if (rc)
        send_detail(req, 500, "Internal Server Error", arbor_strerror(rc));
}

/* ---- Tempo API ---- */

static tempo_format_t wanted_format(h2o_req_t *req)
{
    ssize_t a = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (a >= 0 && h2o_strstr(req->headers.entries[a].value.base, req->headers.entries[a].value.len,
                             H2O_STRLIT("application/protobuf")) != SIZE_MAX)
        return TEMPO_PROTOBUF;
    return TEMPO_JSON;
}

/* start/end in Unix seconds; -1 (and a 400) when malformed. */
static int window_params(h2o_req_t *req, uint64_t *start, uint64_t *end)
{
    long s, e;
    if (int_param(req, "start", 0, 4102444800L, 0, &s) != 0 || int_param(req, "end", 0, 4102444800L, 0, &e) != 0)
        return -1;
    if (s && e && e < s) {
        send_detail(req, 400, "Bad Request", "invalid start/end: end must be after start");
        return -1;
    }
    *start = (uint64_t)s;
    *end = (uint64_t)e;
    return 0;
}

/* ---- renders on worker threads (worker.h) ---- */

static uint64_t request_t0; /* when the request being dispatched came in */
static void request_done(h2o_req_t *req, route_t route, uint64_t t0, const caller_t *caller);

/* Requests that may run long (searches, TraceQL-filtered traces) go to the worker
 * threads so /healthz and everything else stay answered. Their arguments start
 * with this header: what the reply on the loop thread needs. */
typedef struct {
    route_t route;
    uint64_t t0;
    caller_t caller; /* for the audit line */
    render_opts_t o; /* o.bad_request points at err once the job has its copy */
    char err[512];
} async_head_t;

static void reply_async(h2o_req_t *req, void *arg, int rc, jsonw_t *w)
{
    async_head_t *h = arg;
    h->o.bad_request = h->err;
    send_rendered(req, rc, w, &h->o);
    request_done(req, h->route, h->t0, &h->caller);
}

/* The budget every worker render runs under. */
static tempo_budget_t search_budget(void)
{
    tempo_budget_t b = {arbor_mono_ns() + state.cfg->search_timeout_ms * 1000000u, worker_cancel_flag()};
    return b;
}

/* A skeleton with ?match=: it decodes every span, so it runs on a worker. */
typedef struct {
    async_head_t h;
    tree_request_t t;
} tree_match_request_t;

static int render_tree_match(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    return render_tree(r, &((tree_match_request_t *)arg)->t, w);
}

static void api_tree_match(h2o_req_t *req, const tree_request_t *t)
{
    arbor_store_t *st = store_get();
    if (st == NULL) {
        send_detail(req, 503, "Service Unavailable", "store not available yet");
        return;
    }
    tree_match_request_t m;
    memset(&m, 0, sizeof m);
    m.t = *t;
    m.h = (async_head_t){.route = t->by_trace ? ROUTE_TRACE_TREE : ROUTE_EXECUTION_TREE, .t0 = request_t0,
                         .caller = current, .o = {"application/json", NULL, 0}};
    snprintf(m.h.err, sizeof m.h.err, "invalid cursor");
    m.t.page.match_deadline_ns = search_budget().deadline_ns;
    worker_job_t *job = worker_job_new(req, &m, sizeof m);
    tree_match_request_t *copy = worker_job_arg(job);
    copy->t.execution_id = worker_job_keep(job, t->execution_id);
    copy->t.page.cursor = worker_job_keep(job, t->page.cursor);
    copy->t.page.match = worker_job_keep(job, t->page.match);
    worker_job_submit(job, st, current_tenant(), render_tree_match, reply_async);
}

typedef struct {
    async_head_t h;
    uint8_t id[16];
    tempo_trace_params_t p;
} tempo_trace_request_t;

static int render_tempo_trace(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    tempo_trace_request_t *t = arg;
    return tempo_trace(r, t->id, &t->p, w, t->h.err, sizeof t->h.err);
}

static void api_tempo_trace(h2o_req_t *req, arbor_iov_t hex, int v2)
{
    tempo_trace_request_t t;
    memset(&t, 0, sizeof t);
    if (tempo_parse_trace_id(hex, t.id) != 0) {
        send_detail(req, 400, "Bad Request", "trace ID must be at most 32 hex characters");
        return;
    }
    if (window_params(req, &t.p.start_s, &t.p.end_s) != 0)
        return;
    t.p.v2 = v2;
    t.p.format = wanted_format(req);
    arbor_iov_t q = query_param(req, "q");
    t.p.q = q.base ? q : arbor_iov("", 0);
    render_opts_t o = {t.p.format == TEMPO_PROTOBUF ? "application/protobuf" : "application/json", t.h.err, 1};
    arbor_store_t *st = store_get();
    if (!v2 || t.p.q.len == 0 || st == NULL) { /* no filter to evaluate: quick, answer here */
        respond_with(req, render_tempo_trace, &t, &o);
        return;
    }
    t.h = (async_head_t){.route = ROUTE_TEMPO_TRACE, .t0 = request_t0, .caller = current, .o = o};
    t.p.budget = search_budget();
    worker_job_t *job = worker_job_new(req, &t, sizeof t);
    tempo_trace_request_t *copy = worker_job_arg(job);
    copy->p.q = worker_job_keep(job, t.p.q);
    worker_job_submit(job, st, current_tenant(), render_tempo_trace, reply_async);
}

typedef struct {
    async_head_t h;
    tempo_search_params_t p;  /* search */
    tempo_tags_params_t tags; /* tags, tag values */
    int kind;                 /* 0 search, 1 tags, 2 tag values */
    char scope[16];
} tempo_search_request_t;

static int render_tempo_search(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    tempo_search_request_t *t = arg;
    t->tags.scope = t->scope[0] ? t->scope : NULL; /* into this copy of the request */
    switch (t->kind) {
    case 1:
        return tempo_tags(r, &t->tags, w);
    case 2:
        return tempo_tag_values(r, &t->tags, w);
    default:
        return tempo_search(r, &t->p, w, t->h.err, sizeof t->h.err);
    }
}

static void api_search(h2o_req_t *req)
{
    tempo_search_request_t t;
    long limit, spss;
    memset(&t, 0, sizeof t);
    if (int_param(req, "limit", 1, 10000, 20, &limit) != 0 || int_param(req, "spss", 1, 100, 3, &spss) != 0 ||
        window_params(req, &t.p.start_s, &t.p.end_s) != 0)
        return;
    t.p.limit = (size_t)limit;
    t.p.spss = (size_t)spss;
    arbor_iov_t q = query_param(req, "q"), tags = query_param(req, "tags");
    arbor_iov_t mind = query_param(req, "minDuration"), maxd = query_param(req, "maxDuration");
    if ((mind.base && mind.len && params_go_duration(mind, &t.p.min_ns) != 0) ||
        (maxd.base && maxd.len && params_go_duration(maxd, &t.p.max_ns) != 0)) {
        send_detail(req, 400, "Bad Request", "minDuration/maxDuration must be durations such as 100ms or 1.5s");
        return;
    }
    if (t.p.max_ns && t.p.min_ns > t.p.max_ns) {
        send_detail(req, 400, "Bad Request", "invalid maxDuration: must be greater than minDuration");
        return;
    }
    arbor_store_t *st = store_get();
    if (st == NULL) {
        send_detail(req, 503, "Service Unavailable", "store not available yet");
        return;
    }
    t.h = (async_head_t){.route = ROUTE_TEMPO_SEARCH, .t0 = request_t0, .caller = current,
                         .o = {"application/json", NULL, 0}};
    t.p.budget = search_budget();
    worker_job_t *job = worker_job_new(req, &t, sizeof t);
    tempo_search_request_t *copy = worker_job_arg(job);
    copy->p.q = worker_job_keep(job, q.base ? q : arbor_iov("", 0));
    copy->p.tags = worker_job_keep(job, tags.base ? tags : arbor_iov("", 0));
    worker_job_submit(job, st, current_tenant(), render_tempo_search, reply_async);
}

static void respond_tempo(h2o_req_t *req, tempo_search_request_t *t)
{
    render_opts_t o = {"application/json", t->h.err, 0};
    respond_with(req, render_tempo_search, t, &o);
}

/* Tag names and values: from the catalog at once, or with q= (the spans it
 * matches, within start/end) on a worker under the search budget. */
static void api_tags(h2o_req_t *req, int v2, int values, arbor_iov_t tag)
{
    static const char *const scopes[] = {"resource", "span", "event", "link", "intrinsic"};
    tempo_search_request_t t;
    long limit;
    memset(&t, 0, sizeof t);
    if (int_param(req, "limit", 1, 100000, 10000, &limit) != 0 || window_params(req, &t.tags.start_s, &t.tags.end_s) != 0)
        return;
    t.tags.limit = (size_t)limit;
    t.kind = values ? 2 : 1;
    t.tags.v2 = v2;
    arbor_iov_t scope = query_param(req, "scope");
    if (scope.base && scope.len) {
        size_t i = 0;
        while (i < 5 && !arbor_iov_eq_str(scope, scopes[i]))
            i++;
        if (i == 5) {
            send_detail(req, 400, "Bad Request", "scope must be resource, span, event, link or intrinsic");
            return;
        }
        snprintf(t.scope, sizeof t.scope, "%s", scopes[i]);
    }
    /* Grafana encodes the tag segment twice; the path split decoded it once */
    t.tags.tag = percent_decode(&req->pool, tag.base, tag.len, 0);
    arbor_iov_t q = query_param(req, "q");
    arbor_store_t *st = store_get();
    if (q.base == NULL || q.len == 0 || st == NULL) {
        respond_tempo(req, &t);
        return;
    }
    t.h = (async_head_t){.route = ROUTE_TEMPO_TAGS, .t0 = request_t0, .caller = current,
                         .o = {"application/json", NULL, 0}};
    t.tags.budget = search_budget();
    worker_job_t *job = worker_job_new(req, &t, sizeof t);
    tempo_search_request_t *copy = worker_job_arg(job);
    copy->tags.q = worker_job_keep(job, q);
    copy->tags.tag = worker_job_keep(job, t.tags.tag);
    worker_job_submit(job, st, current_tenant(), render_tempo_search, reply_async);
}

/* ---- federation (ARBOR_SHARDS) ---- */

typedef struct {
    async_head_t h;
    fed_request_t f;
} fed_job_t;

static int render_federated(arbor_reader_t *r, void *arg, jsonw_t *w)
{
    (void)r; /* no store: the shards answer */
    fed_serve(&((fed_job_t *)arg)->f, w);
    return 0;
}

static void reply_federated(h2o_req_t *req, void *arg, int rc, jsonw_t *w)
{
    fed_job_t *j = arg;
    (void)rc;
    size_t len;
    char *body = jsonw_take(w, &len);
    send_body(req, j->f.status ? j->f.status : 502, j->f.status == 200 ? "OK" : "Federated", j->f.type, body, len);
    free(body);
    request_done(req, j->h.route, j->h.t0, &j->h.caller);
}

static void copy_header(h2o_req_t *req, const char *name, char *out, size_t size)
{
    arbor_iov_t v = header_value(req, name);
    snprintf(out, size, "%.*s", (int)(v.len < size ? v.len : size - 1), v.base ? v.base : "");
}

/* Every tenant route under federation: the caller was authorised here, and the
 * shards check the forwarded credentials again. Runs on a worker thread. */
static void api_federated(h2o_req_t *req, fed_route_t how, const char *pattern, route_t metric)
{
    fed_job_t j;
    memset(&j, 0, sizeof j);
    if (req->path.len >= sizeof j.f.path) {
        send_detail(req, 414, "URI Too Long", "request path too long to federate");
        return;
    }
    j.h = (async_head_t){.route = metric, .t0 = request_t0, .caller = current};
    j.f.route = how;
    j.f.v2 = strstr(pattern, "/v2/") != NULL;
    memcpy(j.f.path, req->path.base, req->path.len);
    copy_header(req, "authorization", j.f.authorization, sizeof j.f.authorization);
    copy_header(req, "x-scope-orgid", j.f.org, sizeof j.f.org);
    copy_header(req, "accept", j.f.accept, sizeof j.f.accept);
    j.f.cancel = worker_cancel_flag();
    worker_job_submit(worker_job_new(req, &j, sizeof j), NULL, current_tenant(), render_federated, reply_federated);
}

/* ---- the route table ---- */

static void get_healthz(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    send_body(req, 200, "OK", "application/json", H2O_STRLIT("{\"status\":\"ok\"}"));
}

static void get_ready(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    if (store_get() != NULL || fed_enabled())
        send_body(req, 200, "OK", "application/json", H2O_STRLIT("{\"status\":\"ready\"}"));
    else if (state.store_error == 0 || state.store_error == ARBOR_ENOSTORE)
        send_detail(req, 503, "Service Unavailable", "store not available yet: arbor-collector has not created it");
    else { /* the cause, not the path: /ready answers anyone */
        char why[200];
        snprintf(why, sizeof why, "store cannot be opened: %s", arbor_strerror(state.store_error));
        send_detail(req, 503, "Service Unavailable", why);
    }
}

static void get_metrics(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    api_metrics(req);
}

/* The price table the Trace tab prices tokens with (not tenant data: anyone the
 * auth settings let in may read it). */
static void get_prices(h2o_req_t *req, const arbor_iov_t *arg)
{
    jsonw_t w;
    (void)arg;
    jsonw_init(&w);
    prices_render(state.prices, &w);
    send_writer(req, &w, "application/json");
    jsonw_free(&w);
}

static void get_echo(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    send_body(req, 200, "OK", "text/plain; charset=utf-8", H2O_STRLIT("echo\n"));
}

extern const char arbor_revision[]; /* revision.c, generated at build time */

static void get_buildinfo(h2o_req_t *req, const arbor_iov_t *arg)
{
    char info[256];
    int n = snprintf(info, sizeof info,
                     "{\"version\":\"" ARBOR_VERSION "\",\"revision\":\"%s\",\"branch\":\"\","
                     "\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}",
                     arbor_revision);
    (void)arg;
    send_body(req, 200, "OK", "application/json", info, (size_t)n);
}

/* The built-in UI's files (everything outside /api). */
static void get_ui(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const ui_asset_t *a = ui_find(req->path.base, plen);
    if (a == NULL) {
        send_detail(req, 404, "Not Found", "Not Found");
        return;
    }
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, a->etag, strlen(a->etag));
    if (inm >= 0 &&
        h2o_memis(req->headers.entries[inm].value.base, req->headers.entries[inm].value.len, a->etag, strlen(a->etag))) {
        send_body(req, 304, "Not Modified", a->content_type, "", 0);
        return;
    }
    /* the page only talks to this origin: say so */
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT("default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                                     "style-src 'self'; script-src 'self'; frame-ancestors 'self'"));
    send_body(req, 200, "OK", a->content_type, (const char *)a->data, a->len);
}

static void not_found(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg;
    send_detail(req, 404, "Not Found", "Not Found");
}

/* May the caller's tenant download artifact @p id? Only when a span of that
 * tenant names it: 0, ARBOR_ENOTFOUND, or why the store cannot say. */
static int artifact_referenced(arbor_iov_t id)
{
    arbor_store_t *st = store_get();
    arbor_reader_t *r;
    if (st == NULL)
        return ARBOR_ENOSTORE;
    int rc = arbor_reader_begin(st, current_tenant(), &r);
    if (rc == 0) {
        rc = arbor_reader_artifact_referenced(r, id);
        arbor_reader_end(r);
    }
    return rc;
}

/* Does a span of the caller's tenant name this artifact? What a federating query
 * asks its shards before it serves a download (FED_SPAN: the first that does). */
static void get_artifact_ref(h2o_req_t *req, const arbor_iov_t *arg)
{
    int rc = artifact_referenced(arg[0]);
    if (rc == ARBOR_ENOTFOUND) {
        send_detail(req, 404, "Not Found", "no span of this tenant names this artifact");
        return;
    }
    if (rc != 0) {
        send_detail(req, 503, "Service Unavailable", arbor_strerror(rc));
        return;
    }
    jsonw_t w;
    jsonw_init(&w);
    jsonw_object(&w);
    jsonw_key_lit(&w, "id");
    jsonw_str(&w, arg[0]);
    jsonw_key_lit(&w, "referenced");
    jsonw_bool(&w, 1);
    jsonw_object_end(&w);
    send_writer(req, &w, "application/json");
    jsonw_free(&w);
}

static void get_artifact(h2o_req_t *req, const arbor_iov_t *arg)
{
    (void)arg; /* with an upstream, the proxy in front of this handler serves downloads */
    if (state.cfg->artifact_upstream && state.cfg->artifact_upstream[0])
        send_detail(req, 404, "Not Found", "artifact downloads are /api/artifacts/{id}/download");
    else
        send_detail(req, 404, "Not Found", "artifact downloads are not configured (ARBOR_ARTIFACT_UPSTREAM)");
}

static void get_tempo_trace_v1(h2o_req_t *req, const arbor_iov_t *arg) { api_tempo_trace(req, arg[0], 0); }
static void get_tempo_trace_v2(h2o_req_t *req, const arbor_iov_t *arg) { api_tempo_trace(req, arg[0], 1); }
static void get_search(h2o_req_t *req, const arbor_iov_t *arg) { (void)arg; api_search(req); }
static void get_tags_v1(h2o_req_t *req, const arbor_iov_t *arg) { (void)arg; api_tags(req, 0, 0, ARBOR_IOV_NULL); }
static void get_tags_v2(h2o_req_t *req, const arbor_iov_t *arg) { (void)arg; api_tags(req, 1, 0, ARBOR_IOV_NULL); }
static void get_tag_values_v1(h2o_req_t *req, const arbor_iov_t *arg) { api_tags(req, 0, 1, arg[0]); }
static void get_tag_values_v2(h2o_req_t *req, const arbor_iov_t *arg) { api_tags(req, 1, 1, arg[0]); }
static void get_executions(h2o_req_t *req, const arbor_iov_t *arg) { (void)arg; api_list(req, 1); }
static void get_traces(h2o_req_t *req, const arbor_iov_t *arg) { (void)arg; api_list(req, 0); }
static void get_exec_trace(h2o_req_t *req, const arbor_iov_t *arg) { api_tree(req, RENDER_TRACE, 0, arg[0]); }
static void get_exec_tree(h2o_req_t *req, const arbor_iov_t *arg) { api_tree(req, RENDER_SKELETON, 0, arg[0]); }
static void get_trace_trace(h2o_req_t *req, const arbor_iov_t *arg) { api_tree(req, RENDER_TRACE, 1, arg[0]); }
static void get_trace_tree(h2o_req_t *req, const arbor_iov_t *arg) { api_tree(req, RENDER_SKELETON, 1, arg[0]); }
static void get_exec_live(h2o_req_t *req, const arbor_iov_t *arg) { api_live(req, 0, arg[0]); }
static void get_trace_live(h2o_req_t *req, const arbor_iov_t *arg) { api_live(req, 1, arg[0]); }
static void get_span(h2o_req_t *req, const arbor_iov_t *arg) { api_span(req, arg[0], arg[1]); }


/* Segments of a pattern are literals or "*" (any one segment, handed to the
 * handler in order); a final "**" takes whatever follows, none included. The
 * first route that matches wins. Every GET route of the service is here. */
typedef struct {
    const char *pattern;
    void (*handler)(h2o_req_t *req, const arbor_iov_t *args);
    route_t metric;
    unsigned flags;
    fed_route_t fed; /* how federation (ARBOR_SHARDS) answers it */
} route_def_t;

static const route_def_t routes[] = {
    {"/healthz", get_healthz, ROUTE_HEALTHZ, ROUTE_PUBLIC, FED_LOCAL},
    {"/ready", get_ready, ROUTE_READY, ROUTE_PUBLIC, FED_LOCAL},
    {"/metrics", get_metrics, ROUTE_METRICS, ROUTE_PUBLIC, FED_LOCAL},
    {"/api/echo", get_echo, ROUTE_OTHER, 0, FED_LOCAL},
    {"/api/status/buildinfo", get_buildinfo, ROUTE_OTHER, 0, FED_LOCAL},
    {"/api/prices", get_prices, ROUTE_OTHER, 0, FED_LOCAL},
    {"/api/executions", get_executions, ROUTE_EXECUTIONS, ROUTE_TENANT, FED_EXECUTIONS},
    {"/api/traces", get_traces, ROUTE_TRACES, ROUTE_TENANT, FED_TRACES},
    {"/api/executions/*/trace", get_exec_trace, ROUTE_EXECUTION_TRACE, ROUTE_TENANT, FED_TREE},
    {"/api/executions/*/tree", get_exec_tree, ROUTE_EXECUTION_TREE, ROUTE_TENANT, FED_SKELETON},
    {"/api/executions/*/trace/live", get_exec_live, ROUTE_LIVE, ROUTE_TENANT | ROUTE_STREAM, FED_LIVE},
    {"/api/traces/*/trace", get_trace_trace, ROUTE_TRACE_TRACE, ROUTE_TENANT, FED_TREE},
    {"/api/traces/*/tree", get_trace_tree, ROUTE_TRACE_TREE, ROUTE_TENANT, FED_SKELETON},
    {"/api/traces/*/live", get_trace_live, ROUTE_LIVE, ROUTE_TENANT | ROUTE_STREAM, FED_LIVE},
    {"/api/traces/*/spans/*", get_span, ROUTE_SPAN, ROUTE_TENANT, FED_SPAN},
    {"/api/traces/*", get_tempo_trace_v1, ROUTE_TEMPO_TRACE, ROUTE_TENANT, FED_TEMPO_TRACE},
    {"/api/v2/traces/*", get_tempo_trace_v2, ROUTE_TEMPO_TRACE, ROUTE_TENANT, FED_TEMPO_TRACE},
    {"/api/search", get_search, ROUTE_TEMPO_SEARCH, ROUTE_TENANT, FED_SEARCH},
    {"/api/search/tags", get_tags_v1, ROUTE_TEMPO_TAGS, ROUTE_TENANT, FED_TAGS},
    {"/api/v2/search/tags", get_tags_v2, ROUTE_TEMPO_TAGS, ROUTE_TENANT, FED_TAGS},
    {"/api/search/tag/*/values", get_tag_values_v1, ROUTE_TEMPO_TAGS, ROUTE_TENANT, FED_TAG_VALUES},
    {"/api/v2/search/tag/*/values", get_tag_values_v2, ROUTE_TEMPO_TAGS, ROUTE_TENANT, FED_TAG_VALUES},
    {"/api/artifacts/*", get_artifact_ref, ROUTE_OTHER, ROUTE_TENANT | ROUTE_SIGNED, FED_SPAN},
    {"/api/artifacts/**", get_artifact, ROUTE_OTHER, ROUTE_TENANT | ROUTE_SIGNED, FED_LOCAL},
    {"/api/**", not_found, ROUTE_OTHER, 0, FED_LOCAL},
    {"/**", get_ui, ROUTE_UI, ROUTE_PUBLIC, FED_LOCAL},
};

#define MAX_ROUTE_ARGS 2

/* Does @p p match @p pattern? The "*" segments go to @p args (*n_args_out of them). */
static int route_match(const char *pattern, const path_t *p, arbor_iov_t *args, size_t *n_args_out)
{
    size_t i = 0, n_args = 0;
    for (const char *s = pattern; *s == '/'; i++) {
        const char *seg = s + 1, *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        s = seg + len;
        if (len == 2 && memcmp(seg, "**", 2) == 0) { /* its first segment goes too (the audit's ID) */
            if (i < p->n && n_args < MAX_ROUTE_ARGS)
                args[n_args++] = p->seg[i];
            *n_args_out = n_args;
            return 1;
        }
        if (i >= p->n)
            return 0;
        if (len == 1 && seg[0] == '*') {
            if (n_args < MAX_ROUTE_ARGS)
                args[n_args++] = p->seg[i];
        } else if (p->seg[i].len != len || memcmp(p->seg[i].base, seg, len) != 0) {
            return 0;
        }
    }
    *n_args_out = n_args;
    return i == p->n;
}

static route_t dispatch(h2o_req_t *req)
{
    memset(&current, 0, sizeof current); /* nobody, until the route's check says who */
    state.opts.span.tenant = NULL;
    path_t p;
    arbor_iov_t args[MAX_ROUTE_ARGS];
    if (!host_allowed(req)) {
        send_detail(req, 403, "Forbidden", "host not allowed: add it to ARBOR_ALLOWED_HOSTS");
        return ROUTE_OTHER;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
        preflight(req);
        return ROUTE_OTHER;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD, OPTIONS"));
        send_detail(req, 405, "Method Not Allowed", "method not allowed");
        return ROUTE_OTHER;
    }
    if (split_path(req, &p) != 0) {
        send_detail(req, 404, "Not Found", "Not Found");
        return ROUTE_OTHER;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n_args = 0;
        if (route_match(routes[i].pattern, &p, args, &n_args)) {
            const char *subprotocol = NULL;
            if (!(routes[i].flags & ROUTE_PUBLIC) &&
                authorize(req, routes[i].flags, routes[i].pattern, args, n_args, &subprotocol) != 0)
                return routes[i].metric;
            if (subprotocol != NULL)
                h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-protocol"), 0, NULL,
                                      subprotocol, strlen(subprotocol));
            if (fed_enabled() && routes[i].fed != FED_LOCAL && routes[i].fed != FED_LIVE) /* live: api_live */
                api_federated(req, routes[i].fed, routes[i].pattern, routes[i].metric);
            else
                routes[i].handler(req, args);
            return routes[i].metric;
        }
    }
    send_detail(req, 404, "Not Found", "Not Found"); /* unreachable: the last route takes the rest */
    return ROUTE_OTHER;
}

static uint64_t last_request_ns; /* when the last request finished */

/* A request was answered: its latency, its log line. */
static void request_done(h2o_req_t *req, route_t route, uint64_t t0, const caller_t *caller)
{
    uint64_t took = arbor_mono_ns() - t0;
    last_request_ns = t0 + took;
    metrics_observe(route, req->res.status, took);
    if (caller != NULL && caller->audit)
        audit_line(caller, req->res.status);
    if (arbor_log_level > ARBOR_LOG_INFO)
        return;
    /* the path only: query strings carry search values and tokens (debug shows
     * them); every value escaped, so a request cannot forge log fields */
    char method[48], path[640], query[1024] = "";
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    arbor_log_escape(method, sizeof method, req->method.base, req->method.len);
    arbor_log_escape(path, sizeof path, req->path.base, path_len);
    if (arbor_log_level == ARBOR_LOG_DEBUG && req->query_at != SIZE_MAX)
        arbor_log_escape(query, sizeof query, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    arbor_info("request", "method=\"%s\" path=\"%s\"%s%s%s status=%d duration_us=%llu", method, path,
               query[0] ? " query=\"" : "", query, query[0] ? "\"" : "", req->res.status,
               (unsigned long long)(took / 1000));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    request_t0 = arbor_mono_ns();
    route_t route = dispatch(req);
    if (req->res.status != 0) /* else a worker answers it later (reply_async) */
        request_done(req, route, request_t0, &current);
    return 0;
}

/* ---- setup ---- */

/* "a, b,c" into owned copies (at most MAX_ORIGINS); "*" sets *any instead. */
static void parse_name_list(const char *csv, char **out, size_t *n, int *any)
{
    char *copy = arbor_xstrdup(csv), *save = NULL;
    for (char *o = strtok_r(copy, ", ", &save); o && *n < MAX_ORIGINS; o = strtok_r(NULL, ", ", &save)) {
        if (strcmp(o, "*") == 0)
            *any = 1;
        else
            out[(*n)++] = arbor_xstrdup(o);
    }
    free(copy);
}

static void parse_settings(const query_config_t *cfg)
{
    state.opts.span.preview_max = (size_t)cfg->preview_max_length;
    state.opts.span.artifact_url_template = cfg->artifact_url_template;
    state.opts.span.link_secret = cfg->artifact_url_secret && cfg->artifact_url_secret[0] ? cfg->artifact_url_secret
                                                                                           : NULL;
    state.opts.span.link_ttl_s = cfg->artifact_url_ttl_ms / 1000;
    state.opts.links = state.links;
    if (cfg->trace_links) {
        char *copy = arbor_xstrdup(cfg->trace_links), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item && state.opts.n_links < MAX_LINKS;
             item = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(item, '=');
            if (eq == NULL)
                continue;
            *eq = '\0';
            trace_link_t *l = &state.links[state.opts.n_links++];
            snprintf(l->name, sizeof l->name, "%s", item);
            snprintf(l->url, sizeof l->url, "%s", eq + 1);
        }
        free(copy);
    }
    if (cfg->allowed_hosts) {
        parse_name_list(cfg->allowed_hosts, state.hosts, &state.n_hosts, &state.any_host);
    } else { /* unset: loopback names only on a loopback listener, else any */
        const char *h = cfg->query_addr.host;
        state.any_host = !(strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0);
    }
    if (cfg->cors_origins)
        parse_name_list(cfg->cors_origins, state.origins, &state.n_origins, &state.any_origin);
}

static h2o_accept_ctx_t accept_ctx;

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(&accept_ctx, sock);
}

/* Does @p id hold a "." or ".." segment (between '/' or '\\', or at an end)? An
 * upstream that decodes the path before it routes would leave its artifacts. */
static int has_dot_segment(arbor_iov_t id)
{
    for (size_t i = 0, start = 0; i <= id.len; i++)
        if (i == id.len || id.base[i] == '/' || id.base[i] == '\\') {
            arbor_iov_t seg = arbor_iov(id.base + start, i - start);
            if (arbor_iov_eq_str(seg, ".") || arbor_iov_eq_str(seg, ".."))
                return 1;
            start = i + 1;
        }
    return 0;
}

/* The artifact ID of /api/artifacts/{id}/download, decoded (any length, in the
 * request's pool); base NULL when the path is not that, the ID is empty, or it
 * has a dot segment (even encoded). */
static arbor_iov_t artifact_id_of(h2o_req_t *req)
{
    static const char prefix[] = "/api/artifacts/", suffix[] = "/download";
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    size_t pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    const char *p = req->path.base;
    if (len <= pl + sl || memcmp(p, prefix, pl) != 0 || memcmp(p + len - sl, suffix, sl) != 0 ||
        memchr(p + pl, '/', len - pl - sl) != NULL)
        return ARBOR_IOV_NULL;
    arbor_iov_t id = percent_decode(&req->pool, p + pl, len - pl - sl, 0);
    if (id.len == 0 || has_dot_segment(id))
        return ARBOR_IOV_NULL;
    return id;
}

/* On to the upstream: the caller's credentials stay here unless the operator
 * asked to forward them (a token for Arbor is not one for it), and the upstream
 * is told the tenant, so it can refuse what is not that tenant's. */
static void artifact_forward(h2o_req_t *req, const char *tenant)
{
    if (!state.cfg->artifact_forward_credentials) {
        static const char *const private_headers[] = {"authorization", "cookie", "proxy-authorization"};
        for (size_t i = 0; i < sizeof private_headers / sizeof private_headers[0]; i++) {
            ssize_t at;
            while ((at = h2o_find_header_by_str(&req->headers, private_headers[i], strlen(private_headers[i]), -1)) >= 0)
                h2o_delete_header(&req->headers, at);
        }
    }
    ssize_t at; /* every one the caller sent goes (the request guard refuses two; this does not rely on it) */
    while ((at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-scope-orgid"), -1)) >= 0)
        h2o_delete_header(&req->headers, at);
    h2o_iovec_t value = h2o_strdup(&req->pool, tenant, SIZE_MAX); /* h2o keeps the pointer */
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-scope-orgid"), 0, NULL, value.base, value.len);
}

/* Under federation the shards hold the spans: they are asked whether one of the
 * caller's tenant names the artifact (GET /api/artifacts/{id}, with the caller's
 * credentials or signed link), and the download goes on only if one does. */
typedef struct {
    fed_job_t j; /* first: reply_federated answers a refusal */
    h2o_handler_t *self;
    char tenant[ARBOR_TENANT_MAX + 1];
} artifact_check_t;

static void reply_artifact_check(h2o_req_t *req, void *arg, int rc, jsonw_t *w)
{
    artifact_check_t *a = arg;
    if (a->j.f.status != 200) {
        reply_federated(req, &a->j, rc, w);
        return;
    }
    if (a->j.h.caller.audit)
        audit_line(&a->j.h.caller, 0);
    artifact_forward(req, a->tenant);
    h2o_delegate_request(req, a->self); /* on to the proxy */
}

/* Queue the shards' check: 0, or -1 when the path cannot be forwarded. */
static int artifact_check_federated(h2o_req_t *req, h2o_handler_t *self)
{
    artifact_check_t a;
    static const char suffix[] = "/download";
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    memset(&a, 0, sizeof a);
    if (req->path.len >= sizeof a.j.f.path)
        return -1;
    a.self = self;
    snprintf(a.tenant, sizeof a.tenant, "%s", current.who.tenant);
    a.j.h = (async_head_t){.route = ROUTE_OTHER, .t0 = request_t0, .caller = current};
    a.j.f.route = FED_SPAN;
    /* /api/artifacts/{id}/download?… becomes /api/artifacts/{id}?… (the signed link's parameters kept) */
    int n = snprintf(a.j.f.path, sizeof a.j.f.path, "%.*s%.*s", (int)(path_len - (sizeof suffix - 1)), req->path.base,
                     (int)(req->path.len - path_len), req->path.base + path_len);
    if (n < 0 || (size_t)n >= sizeof a.j.f.path)
        return -1;
    copy_header(req, "authorization", a.j.f.authorization, sizeof a.j.f.authorization);
    copy_header(req, "x-scope-orgid", a.j.f.org, sizeof a.j.f.org);
    a.j.f.cancel = worker_cancel_flag();
    worker_job_submit(worker_job_new(req, &a, sizeof a), NULL, current_tenant(), render_federated,
                      reply_artifact_check);
    memset(&current, 0, sizeof current);
    return 0;
}

/* The caller is authorised: @p id goes on to the proxy (-1) only if a span of its
 * tenant names it; else it is answered here (0), or by the shards' verdict. */
static int artifact_allowed(h2o_req_t *req, h2o_handler_t *self, arbor_iov_t id)
{
    if (fed_enabled()) {
        if (artifact_check_federated(req, self) == 0)
            return 0; /* reply_artifact_check goes on */
        send_detail(req, 414, "URI Too Long", "request path too long to federate");
    } else {
        int rc = artifact_referenced(id);
        if (rc == 0) {
            if (current.audit) /* the upstream answers: the status is not ours to know */
                audit_line(&current, 0);
            artifact_forward(req, current.who.tenant);
            memset(&current, 0, sizeof current);
            return -1;
        }
        if (rc == ARBOR_ENOTFOUND)
            send_detail(req, 404, "Not Found", "no span of this tenant names this artifact");
        else
            send_detail(req, 503, "Service Unavailable", arbor_strerror(rc));
    }
    if (current.audit)
        audit_line(&current, req->res.status);
    return 0;
}

/* In front of the proxy: only GET/HEAD of /api/artifacts/{id}/download goes on,
 * from an allowed Host, authorised by a token or a link signed for the full ID,
 * and only for an artifact a span of the caller's tenant names. Anything else is
 * answered here. */
static int on_req(h2o_handler_t *self, h2o_req_t *req);

static int on_artifact_req(h2o_handler_t *self, h2o_req_t *req)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (len < 9 || memcmp(req->path.base + len - 9, "/download", 9) != 0)
        return on_req(self, req); /* not a download: the route table's (GET /api/artifacts/{id}) */
    request_t0 = arbor_mono_ns();
    arbor_iov_t id = artifact_id_of(req);
    int rc = 0;
    if (!host_allowed(req)) {
        send_detail(req, 403, "Forbidden", "host not allowed: add it to ARBOR_ALLOWED_HOSTS");
    } else if (id.base == NULL) {
        send_detail(req, 404, "Not Found", "artifact downloads are /api/artifacts/{id}/download");
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
               !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        send_detail(req, 405, "Method Not Allowed", "artifact downloads are GET or HEAD");
    } else if (authorize(req, ROUTE_TENANT | ROUTE_SIGNED, "/api/artifacts/*/download", &id, 1,
                         &(const char *){NULL}) == 0) {
        rc = artifact_allowed(req, self, id);
    }
    if (req->res.status != 0)
        request_done(req, ROUTE_OTHER, request_t0, NULL);
    memset(&current, 0, sizeof current);
    return rc;
}

/* An HTTP/1.x request framed two ways (arbor/http1.h): 400, connection closed. */
static void refuse_framing(h2o_req_t *req, const char *why)
{
    send_detail(req, 400, "Bad Request", why);
}

/* /api/artifacts/{id}/download is reverse-proxied to
 * ARBOR_ARTIFACT_UPSTREAM/api/artifacts/{id}/download by h2o, behind on_artifact_req. */
static int register_artifact_proxy(h2o_hostconf_t *host, const char *upstream)
{
    static h2o_url_t url;
    static h2o_proxy_config_vars_t vars;
    char full[1024];
    size_t n = strlen(upstream);
    while (n > 0 && upstream[n - 1] == '/')
        n--;
    snprintf(full, sizeof full, "%.*s/api/artifacts", (int)n, upstream);
    if (h2o_url_parse(arbor_xstrdup(full), SIZE_MAX, &url) != 0) {
        arbor_error("config_invalid", "setting=ARBOR_ARTIFACT_UPSTREAM value=\"%s\"", upstream);
        return -1;
    }
    memset(&vars, 0, sizeof vars);
    vars.io_timeout = 30000;
    vars.keepalive_timeout = 2000;
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/api/artifacts", 0);
    arbor_http1_framing_guard(pc, refuse_framing); /* nothing framed two ways reaches the upstream */
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = on_artifact_req; /* runs next */
    h2o_proxy_register_reverse_proxy(pc, &url, &vars);
    return 0;
}

/* A 100,000-span trace leaves tens of MB freed but kept by malloc. Once requests
 * have stopped for a second and over 8 MiB lies free, hand it back so an idle
 * service stays small; never while busy (trimming then re-faulting costs ms). */
static void return_idle_memory(void)
{
    static uint64_t trimmed_after;
    if (last_request_ns == trimmed_after || arbor_mono_ns() - last_request_ns < 1000000000u)
        return;
    trimmed_after = last_request_ns;
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks > (8u << 20))
        malloc_trim(0);
}

static int reload_prices(char *err, size_t errlen)
{
    prices_t *fresh;
    if (prices_load(state.cfg->prices, &fresh, err, errlen) != 0)
        return -1;
    prices_free(state.prices);
    state.prices = fresh;
    return 0;
}

/* SIGHUP: re-read the JWKS and service tokens; a bad file keeps the old set. */
static void reload_auth(volatile int *reload)
{
    char err[512];
    *reload = 0;
    if (arbor_auth_reload(state.auth, err, sizeof err) != 0)
        arbor_error("reload_failed", "what=auth error=\"%s\" action=kept_previous", err);
    else if (arbor_tls_reload(state.tls, err, sizeof err) != 0)
        arbor_error("reload_failed", "what=tls error=\"%s\" action=kept_previous", err);
    else if (reload_prices(err, sizeof err) != 0)
        arbor_error("reload_failed", "what=prices error=\"%s\" action=kept_previous", err);
    else
        arbor_log_lifecycle("reloaded", "what=auth,tls,prices");
}

/* The auth, TLS and federation settings, opened; -1 (logged) if one is invalid. */
static int open_auth_and_tls(const query_config_t *cfg)
{
    char err[512];
    if (arbor_auth_open(&cfg->auth, &state.auth, err, sizeof err) == 0 &&
        arbor_tls_open(&cfg->tls, &state.tls, err, sizeof err) == 0 &&
        fed_init(cfg->shards, cfg->shard_timeout_ms, cfg->shard_max_bytes, cfg->shard_ca_file, err, sizeof err) == 0 &&
        prices_load(cfg->prices, &state.prices, err, sizeof err) == 0) {
        if (state.tls != NULL) /* h2 or http/1.1, as the client offers */
            h2o_ssl_register_alpn_protocols(arbor_tls_ssl_ctx(state.tls), h2o_alpn_protocols);
        return 0;
    }
    arbor_error("config_invalid", "error=\"%s\"", err);
    return -1;
}

/* Live streams: from the store, or under federation from the shards. */
static void start_live(const query_config_t *cfg, h2o_loop_t *loop)
{
    live_options_t lo = {.quiet_ms = cfg->live_quiet_ms, .ping_ms = cfg->live_ping_ms,
                         .max_queued_bytes = cfg->live_max_queued_bytes,
                         .max_subscribers = (size_t)cfg->live_max_subscribers, .poll_ms = cfg->live_poll_ms,
                         .slow_ms = cfg->live_slow_timeout_ms,
                         .render = &state.opts,
                         .store = store_get};
    live_init(&lo);
    if (fed_enabled())
        fed_live_init(loop, (size_t)cfg->live_max_subscribers, cfg->live_ping_ms);
}

/* The ready line tests and operators wait for, with the bound port. */
static void log_ready(const query_config_t *cfg, uint16_t port)
{
    arbor_addr_t bound = cfg->query_addr;
    char addr[160];
    bound.port = port;
    arbor_addr_format(&bound, addr, sizeof addr);
    arbor_log_lifecycle("ready", "query=%s %s%s store=%s version=%s", addr, fed_enabled() ? "shards=" : "data_dir=",
                        fed_enabled() ? cfg->shards : cfg->data_dir,
                        fed_enabled()                                               ? "federated"
                        : state.store                                               ? "open"
                        : state.store_error && state.store_error != ARBOR_ENOSTORE ? "failed"
                                                                                    : "waiting",
                        ARBOR_VERSION);
}

int query_server_run(const query_config_t *cfg, volatile int *stop, volatile int *reload)
{
    static h2o_globalconf_t config;
    static h2o_context_t ctx;
    uint16_t port;
    /* Responses of a 1,000-span trace need blocks of ~1 MB. Left to glibc, such
     * blocks come from fresh mmaps or a heap top trimmed after every request, and
     * page faults on new zeroed pages were a third of a Tempo trace-by-ID; keep
     * them in the heap for reuse instead, and give memory back only when idle
     * (return_idle_memory). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    state.cfg = cfg;
    parse_settings(cfg);
    if (open_auth_and_tls(cfg) != 0)
        return 2;
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("arbor-query"));
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    /* first registered prefix wins: the proxy path goes before "/" */
    if (cfg->artifact_upstream && cfg->artifact_upstream[0] && register_artifact_proxy(host, cfg->artifact_upstream))
        return 2;
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    arbor_http1_framing_guard(path, refuse_framing);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    accept_ctx.ssl_ctx = arbor_tls_ssl_ctx(state.tls);

    int fd = arbor_listen(&cfg->query_addr, &port);
    if (fd < 0) {
        char where[160];
        arbor_addr_format(&cfg->query_addr, where, sizeof where);
        arbor_error("listen_failed", "proto=query addr=%s error=\"%s\"", where, strerror(-fd));
        return 1;
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    start_live(cfg, ctx.loop);
    tree_cache_configure((size_t)cfg->tree_cache_size);
    if (worker_pool_start(ctx.loop, (size_t)cfg->search_threads, (size_t)cfg->shard_threads) != 0) {
        arbor_error("worker_start_failed", "threads=%lld", (long long)cfg->search_threads);
        return 1;
    }
    store_get();
    log_ready(cfg, port);
    int32_t wait_ms = 100;
    while (!*stop) {
        h2o_evloop_run(ctx.loop, wait_ms);
        if (*reload)
            reload_auth(reload);
        wait_ms = live_tick(); /* short waits only while someone is subscribed */
        if (fed_enabled())
            fed_live_tick();
        return_idle_memory();
    }
    arbor_log_lifecycle("shutdown", "reason=signal");
    worker_pool_stop(ctx.loop); /* running searches see the cancel flag and stop */
    live_shutdown();
    tree_cache_clear();
    fed_live_shutdown(ctx.loop);
    for (int i = 0; i < 10 && live_subscribers() > 0; i++)
        h2o_evloop_run(ctx.loop, 10); /* let the close frames go out */
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    arbor_store_close(state.store);
    state.store = NULL;
    fed_shutdown();
    prices_free(state.prices);
    state.prices = NULL;
    arbor_auth_close(state.auth);
    state.auth = NULL;
    arbor_tls_close(state.tls);
    state.tls = NULL;
    for (size_t i = 0; i < state.n_origins; i++)
        free(state.origins[i]);
    for (size_t i = 0; i < state.n_hosts; i++)
        free(state.hosts[i]);
    return 0;
}
