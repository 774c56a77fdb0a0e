/* loadgen: an OTLP load generator and latency probe for Arbor's benchmarks.
 *
 * One epoll loop drives N connections: HTTP/1.1 keep-alive (framed by hand: one
 * request per connection at a time; a server that answers "Connection: close"
 * gets a new connection per request, counted in its latency), h2c and gRPC (libnghttp2, many streams per
 * connection), in plaintext or, for an https:// URL, TLS (OpenSSL; the handshake,
 * with ALPN, happens at connect, before the clock starts; certificates are not
 * verified: this measures, it does not trust). Closed loop (a fixed number in flight) or open loop (--rate: a
 * fixed schedule; latency counts from the scheduled send time, so queueing in
 * the server is not hidden). POST bodies come from a template whose trace and
 * span IDs are rewritten for every request (fresh IDs: no idempotent rewrites).
 *
 *   loadgen --url http[s]://127.0.0.1:4318/v1/traces --proto h1|h2|grpc
 *           [--body FILE --offsets FILE --spans N] [--connections C] [--streams S]
 *           [--duration SEC | --requests N] [--rate R] [--warmup SEC] [--name NAME]
 *           [--method GET] [--header 'accept: application/protobuf']
 *
 * Prints "NAME_metric value unit" lines and a final JSON object. */
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum { P_H1, P_H2, P_GRPC } proto_t;

static struct {
    char host[256], port[16], path[1024], name[64], method[8], extra_header[4096];
    proto_t proto;
    int tls;
    int connections, streams, spans;
    double duration, warmup, rate;
    long requests;
    uint8_t *tmpl;
    size_t tmpl_len;
    size_t *off_t_, *off_r, *off_s;
    size_t n_t, n_r, n_s;
} opt = {.connections = 8, .streams = 4, .duration = 10, .warmup = 1, .spans = 0, .method = "POST", .name = "load"};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill_rand(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = next_rand() | 1; /* never an all-zero ID */
        memcpy(p + i, &r, n - i < 8 ? n - i : 8);
    }
}

/* A fresh copy of the template with new IDs; gRPC adds its 5-byte frame prefix. */
static uint8_t *make_body(size_t *len)
{
    size_t pre = opt.proto == P_GRPC ? 5 : 0;
    uint8_t *b = malloc(opt.tmpl_len + pre + 1);
    if (b == NULL)
        abort();
    if (pre) {
        b[0] = 0;
        b[1] = (uint8_t)(opt.tmpl_len >> 24), b[2] = (uint8_t)(opt.tmpl_len >> 16);
        b[3] = (uint8_t)(opt.tmpl_len >> 8), b[4] = (uint8_t)opt.tmpl_len;
    }
    if (opt.tmpl_len)
        memcpy(b + pre, opt.tmpl, opt.tmpl_len);
    uint8_t trace[16], root[8];
    fill_rand(trace, 16);
    fill_rand(root, 8);
    for (size_t i = 0; i < opt.n_t; i++)
        memcpy(b + pre + opt.off_t_[i], trace, 16);
    for (size_t i = 0; i < opt.n_r; i++)
        memcpy(b + pre + opt.off_r[i], root, 8);
    for (size_t i = 0; i < opt.n_s; i++)
        fill_rand(b + pre + opt.off_s[i], 8);
    *len = opt.tmpl_len + pre;
    return b;
}

/* ---- statistics ---- */

static struct {
    uint64_t *lat; /* ns */
    size_t n, cap;
    long ok, errors, started, completed, reconnects;
    uint64_t t_begin, t_measure, t_stop, t_end;
    int last_status;
} st;

static void record(uint64_t start, int ok)
{
    uint64_t t = now_ns();
    st.completed++;
    if (start < st.t_measure)
        return; /* warm-up */
    if (!ok) {
        st.errors++;
        return;
    }
    st.ok++;
    if (st.n == st.cap) {
        st.cap = st.cap ? st.cap * 2 : 65536;
        st.lat = realloc(st.lat, st.cap * sizeof *st.lat);
        if (st.lat == NULL)
            abort();
    }
    st.lat[st.n++] = t - start;
}

/* ---- scheduling: closed loop, or open loop at --rate ---- */

static uint64_t next_due; /* open loop: next scheduled start */
static uint64_t *queue;   /* scheduled starts waiting for a free slot */
static size_t q_head, q_tail, q_cap;

static int may_start(void)
{
    if (st.t_stop && now_ns() >= st.t_stop)
        return 0;
    if (opt.requests && st.started >= opt.requests)
        return 0;
    return 1;
}

/* Start time of the next request, or 0 when none is due. */
static uint64_t take_start(void)
{
    if (!may_start())
        return 0;
    if (opt.rate <= 0)
        return now_ns();
    if (q_head == q_tail)
        return 0;
    return queue[q_head++ % q_cap];
}

static void schedule(void)
{
    if (opt.rate <= 0)
        return;
    uint64_t t = now_ns(), step = (uint64_t)(1e9 / opt.rate);
    while (next_due <= t && may_start()) {
        if (q_tail - q_head == q_cap) {
            size_t ncap = q_cap ? q_cap * 2 : 4096;
            uint64_t *nq = malloc(ncap * sizeof *nq);
            if (nq == NULL)
                abort();
            for (size_t i = q_head; i < q_tail; i++)
                nq[i - q_head] = queue[i % q_cap];
            q_tail -= q_head;
            q_head = 0;
            free(queue);
            queue = nq;
            q_cap = ncap;
        }
        queue[q_tail++ % q_cap] = next_due;
        next_due += step;
    }
}

/* ---- connections ---- */

typedef struct conn conn_t;

typedef struct {
    conn_t *c;
    uint8_t *body;
    size_t len, off;
    uint64_t start;
    int status, grpc_status;
} stream_t;

struct conn {
    int fd, epfd;
    SSL *ssl; /* NULL: plaintext */
    int want_out;
    /* HTTP/1.1 */
    char *out;
    size_t out_len, out_off;
    char in[1 << 16];
    size_t in_len;
    size_t body_left; /* bytes of the current response body still to skip */
    int status;
    int busy;
    int closing; /* the response said "Connection: close": a new connection for the next request */
    uint64_t start;
    /* h2 */
    nghttp2_session *h2;
    int inflight;
};

static int epfd;

static void set_out(conn_t *c, int on)
{
    if (c->want_out == on)
        return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static SSL_CTX *ssl_ctx;

/* read()/write() of the connection, through TLS when it has it: -1 with errno
 * EAGAIN when it would block (TLS's want-read/want-write included). */
static ssize_t io_read(conn_t *c, void *buf, size_t len)
{
    if (c->ssl == NULL)
        return read(c->fd, buf, len);
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t io_write(conn_t *c, const void *buf, size_t len)
{
    if (c->ssl == NULL)
        return write(c->fd, buf, len);
    int n = SSL_write(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
    return -1;
}

/* The TLS handshake on the still-blocking socket, offering h2 or http/1.1. */
static int handshake(conn_t *c)
{
    static const unsigned char h2[] = "\x02h2", h1[] = "\x08http/1.1";
    if (ssl_ctx == NULL) {
        ssl_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (opt.proto == P_H1)
            SSL_CTX_set_alpn_protos(ssl_ctx, h1, sizeof h1 - 1);
        else
            SSL_CTX_set_alpn_protos(ssl_ctx, h2, sizeof h2 - 1);
    }
    c->ssl = SSL_new(ssl_ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1) {
        fprintf(stderr, "loadgen: TLS handshake failed\n");
        ERR_print_errors_fp(stderr);
        return -1;
    }
    return 0;
}

static int dial(conn_t *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(opt.host, opt.port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        perror("connect");
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (opt.tls && handshake(c) != 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* -- HTTP/1.1 -- */

static void h1_start(conn_t *c)
{
    uint64_t start = take_start();
    if (start == 0)
        return;
    size_t blen = 0;
    uint8_t *body = strcmp(opt.method, "GET") ? make_body(&blen) : NULL;
    char head[8192];
    int hl = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n%s%s%s", opt.method, opt.path, opt.host,
                      opt.port, opt.extra_header[0] ? opt.extra_header : "", opt.extra_header[0] ? "\r\n" : "",
                      body ? "Content-Type: application/x-protobuf\r\n" : "");
    hl += snprintf(head + hl, sizeof head - (size_t)hl, body ? "Content-Length: %zu\r\n\r\n" : "\r\n", blen);
    free(c->out);
    c->out = malloc((size_t)hl + blen);
    memcpy(c->out, head, (size_t)hl);
    if (blen)
        memcpy(c->out + hl, body, blen);
    free(body);
    c->out_len = (size_t)hl + blen;
    c->out_off = 0;
    c->busy = 1;
    c->start = start;
    st.started++;
    set_out(c, 1);
}

static void h1_write(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            perror("write");
            exit(1);
        }
        c->out_off += (size_t)n;
    }
    set_out(c, 0);
}

/* Consume what is buffered: headers are parsed, bodies skipped as they arrive
 * (responses may be far larger than the buffer). 1 when a response completed. */
static int h1_parse(conn_t *c)
{
    if (c->body_left == 0 && c->status == 0) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->in_len == sizeof c->in) {
                fprintf(stderr, "loadgen: response headers too large\n");
                exit(1);
            }
            return 0;
        }
        size_t head = (size_t)(end - c->in) + 4;
        c->status = atoi(c->in + 9);
        for (char *p = c->in; p < end; p++) {
            if ((p == c->in || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
                c->body_left = strtoul(p + 15, NULL, 10);
            if ((p == c->in || p[-1] == '\n') && strncasecmp(p, "connection: close", 17) == 0)
                c->closing = 1;
        }
        memmove(c->in, c->in + head, c->in_len - head);
        c->in_len -= head;
    }
    size_t take = c->in_len < c->body_left ? c->in_len : c->body_left;
    memmove(c->in, c->in + take, c->in_len - take);
    c->in_len -= take;
    c->body_left -= take;
    if (c->body_left > 0)
        return 0;
    st.last_status = c->status;
    record(c->start, c->status == 200);
    c->status = 0;
    c->busy = 0;
    return 1;
}

/* A server that closes after each response (Jaeger v1's OTLP/HTTP says
 * "Connection: close"): the next request goes on a new connection, as an
 * exporter's would. The dial is part of that request's latency. */
static void h1_redial(conn_t *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->in_len = 0;
    c->closing = 0;
    if (dial(c) < 0)
        exit(1);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    st.reconnects++;
}

static void h1_read(conn_t *c)
{
    for (;;) {
        ssize_t n = io_read(c, c->in + c->in_len, sizeof c->in - c->in_len);
        if (n == 0 && !c->busy && c->closing) { /* closed after its answer, as it said it would */
            h1_redial(c);
            h1_start(c);
            return;
        }
        if (n == 0) {
            fprintf(stderr, "loadgen: server closed the connection\n");
            exit(1);
        }
        if (n < 0)
            break;
        c->in_len += (size_t)n;
        while (c->busy && h1_parse(c) && !c->closing)
            h1_start(c);
        if (c->busy)
            h1_parse(c); /* skip body bytes even when no response completed */
    }
}

/* -- h2c / gRPC -- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s, (void)flags;
    conn_t *c = ud;
    ssize_t n = io_write(c, data, len);
    if (n < 0 && errno == EAGAIN) {
        set_out(c, 1);
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
    (void)s, (void)sid, (void)ud;
    stream_t *t = src->ptr;
    size_t n = t->len - t->off < len ? t->len - t->off : len;
    memcpy(buf, t->body + t->off, n);
    t->off += n;
    if (t->off == t->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)flags, (void)ud;
    stream_t *t = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    char v[16] = {0};
    memcpy(v, value, vl < 15 ? vl : 15);
    if (t && nl == 7 && memcmp(name, ":status", 7) == 0)
        t->status = atoi(v);
    else if (t && nl == 11 && memcmp(name, "grpc-status", 11) == 0)
        t->grpc_status = atoi(v);
    return 0;
}

static void h2_start(conn_t *c);

static int h2_on_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
    (void)err;
    conn_t *c = ud;
    stream_t *t = nghttp2_session_get_stream_user_data(s, sid);
    if (t == NULL)
        return 0;
    int ok = t->status == 200 && (opt.proto != P_GRPC || t->grpc_status == 0);
    st.last_status = opt.proto == P_GRPC && t->status == 200 ? 1000 + t->grpc_status : t->status;
    record(t->start, ok);
    free(t->body);
    free(t);
    c->inflight--;
    return 0;
}

static void h2_start(conn_t *c)
{
    while (c->inflight < opt.streams) {
        uint64_t start = take_start();
        if (start == 0)
            return;
        stream_t *t = calloc(1, sizeof *t);
        t->c = c;
        t->start = start;
        t->grpc_status = -1;
        int post = strcmp(opt.method, "GET") != 0;
        if (post)
            t->body = make_body(&t->len);
        char authority[300];
        snprintf(authority, sizeof authority, "%s:%s", opt.host, opt.port);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
        nghttp2_nv hdrs[8] = {NV(":method", opt.method), NV(":scheme", opt.tls ? "https" : "http"),
                              NV(":authority", authority), NV(":path", opt.path),
                              NV("content-type", opt.proto == P_GRPC ? "application/grpc" : "application/x-protobuf"),
                              NV("te", "trailers"), NV("accept", "*/*")};
        size_t nh = opt.proto == P_GRPC ? 6 : post ? 5 : 4;
        char xname[128];
        const char *colon = strchr(opt.extra_header, ':');
        if (colon != NULL && (size_t)(colon - opt.extra_header) < sizeof xname) { /* --header, lowercased for h2 */
            size_t nl = (size_t)(colon - opt.extra_header);
            for (size_t i = 0; i < nl; i++)
                xname[i] = (char)(opt.extra_header[i] | (opt.extra_header[i] >= 'A' && opt.extra_header[i] <= 'Z' ? 32 : 0));
            xname[nl] = '\0';
            const char *v = colon + 1 + strspn(colon + 1, " ");
            hdrs[nh++] = (nghttp2_nv){(uint8_t *)xname, (uint8_t *)v, nl, strlen(v), NGHTTP2_NV_FLAG_NONE};
        }
        nghttp2_data_provider prd = {.source.ptr = t, .read_callback = h2_read_body};
        if (nghttp2_submit_request(c->h2, NULL, hdrs, nh, post ? &prd : NULL, t) < 0) {
            fprintf(stderr, "loadgen: submit failed\n");
            exit(1);
        }
        c->inflight++;
        st.started++;
    }
}

static void h2_io(conn_t *c, int readable)
{
    if (readable) {
        uint8_t buf[1 << 16];
        for (;;) {
            ssize_t n = io_read(c, buf, sizeof buf);
            if (n == 0) {
                fprintf(stderr, "loadgen: server closed the connection\n");
                exit(1);
            }
            if (n < 0)
                break;
            if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
                fprintf(stderr, "loadgen: h2 protocol error\n");
                exit(1);
            }
        }
    }
    h2_start(c);
    set_out(c, 0);
    if (nghttp2_session_send(c->h2) != 0) {
        fprintf(stderr, "loadgen: h2 send failed\n");
        exit(1);
    }
}

/* ---- main ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void load_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    *out = malloc(*len + 1);
    if (fread(*out, 1, *len, f) != *len)
        exit(2);
    fclose(f);
}

static void load_offsets(const char *path)
{
    FILE *f = fopen(path, "r");
    char kind;
    size_t off;
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    opt.off_t_ = calloc(100000, sizeof(size_t));
    opt.off_r = calloc(100000, sizeof(size_t));
    opt.off_s = calloc(100000, sizeof(size_t));
    while (fscanf(f, " %c %zu", &kind, &off) == 2) {
        if (kind == 't' && opt.n_t < 100000)
            opt.off_t_[opt.n_t++] = off;
        else if (kind == 'r' && opt.n_r < 100000)
            opt.off_r[opt.n_r++] = off;
        else if (kind == 's' && opt.n_s < 100000)
            opt.off_s[opt.n_s++] = off;
    }
    fclose(f);
}

static void parse_url(const char *url)
{
    opt.tls = strncmp(url, "https://", 8) == 0;
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : opt.tls ? url + 8 : url;
    const char *slash = strchr(p, '/'), *colon = strchr(p, ':');
    if (colon == NULL || (slash && colon > slash)) {
        fprintf(stderr, "loadgen: URL needs host:port\n");
        exit(2);
    }
    snprintf(opt.host, sizeof opt.host, "%.*s", (int)(colon - p), p);
    snprintf(opt.port, sizeof opt.port, "%.*s", (int)((slash ? slash : p + strlen(p)) - colon - 1), colon + 1);
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
}

int main(int argc, char **argv)
{
    const char *body = NULL, *offsets = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--url")) parse_url(v), i++;
        else if (!strcmp(a, "--proto")) opt.proto = !strcmp(v, "h1") ? P_H1 : !strcmp(v, "h2") ? P_H2 : P_GRPC, i++;
        else if (!strcmp(a, "--body")) body = v, i++;
        else if (!strcmp(a, "--offsets")) offsets = v, i++;
        else if (!strcmp(a, "--spans")) opt.spans = atoi(v), i++;
        else if (!strcmp(a, "--connections")) opt.connections = atoi(v), i++;
        else if (!strcmp(a, "--streams")) opt.streams = atoi(v), i++;
        else if (!strcmp(a, "--duration")) opt.duration = atof(v), i++;
        else if (!strcmp(a, "--requests")) opt.requests = atol(v), i++;
        else if (!strcmp(a, "--rate")) opt.rate = atof(v), i++;
        else if (!strcmp(a, "--warmup")) opt.warmup = atof(v), i++;
        else if (!strcmp(a, "--name")) snprintf(opt.name, sizeof opt.name, "%s", v), i++;
        else if (!strcmp(a, "--method")) snprintf(opt.method, sizeof opt.method, "%s", v), i++;
        else if (!strcmp(a, "--header")) snprintf(opt.extra_header, sizeof opt.extra_header, "%s", v), i++;
        else {
            fprintf(stderr, "loadgen: unknown option %s (see the comment at the top of loadgen.c)\n", a);
            return 2;
        }
    }
    if (body)
        load_file(body, &opt.tmpl, &opt.tmpl_len);
    if (offsets)
        load_offsets(offsets);
    if (opt.proto == P_H1)
        opt.streams = 1;
    rng ^= (uint64_t)getpid() << 32 ^ now_ns();

    epfd = epoll_create1(0);
    conn_t *conns = calloc((size_t)opt.connections, sizeof *conns);
    st.t_begin = now_ns();
    st.t_measure = st.t_begin + (uint64_t)(opt.warmup * 1e9);
    if (!opt.requests)
        st.t_stop = st.t_measure + (uint64_t)(opt.duration * 1e9);
    next_due = st.t_begin;
    for (int i = 0; i < opt.connections; i++) {
        conn_t *c = &conns[i];
        if (dial(c) < 0)
            return 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        if (opt.proto != P_H1) {
            nghttp2_session_callbacks *cb;
            nghttp2_session_callbacks_new(&cb);
            nghttp2_session_callbacks_set_send_callback(cb, h2_send_cb);
            nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
            nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
            nghttp2_session_client_new(&c->h2, cb, c);
            nghttp2_session_callbacks_del(cb);
            nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                           {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1 << 30) - 1}};
            nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
            nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
        }
    }
    struct epoll_event evs[256];
    for (;;) {
        schedule();
        int idle = 1;
        for (int i = 0; i < opt.connections; i++) {
            conn_t *c = &conns[i];
            if (opt.proto == P_H1) {
                if (!c->busy && !c->closing) /* a closing one starts again once redialled */
                    h1_start(c);
                if (c->busy && c->want_out)
                    h1_write(c);
                idle &= !c->busy && !c->closing;
            } else {
                h2_io(c, 0);
                idle &= c->inflight == 0;
            }
        }
        if (idle && !may_start())
            break;
        int n = epoll_wait(epfd, evs, 256, opt.rate > 0 ? 1 : 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (opt.proto == P_H1) {
                if (evs[i].events & EPOLLOUT)
                    h1_write(c);
                if (evs[i].events & EPOLLIN)
                    h1_read(c);
            } else {
                h2_io(c, (evs[i].events & EPOLLIN) != 0);
            }
        }
    }
    st.t_end = now_ns();
    double secs = (double)((opt.requests ? st.t_end : st.t_stop) - st.t_measure) / 1e9;
    if (opt.requests)
        secs = (double)(st.t_end - (st.t_measure > st.t_begin ? st.t_measure : st.t_begin)) / 1e9;
    qsort(st.lat, st.n, sizeof *st.lat, cmp_u64);
#define PCT(q) (st.n ? (double)st.lat[(size_t)((double)(st.n - 1) * (q))] / 1e6 : 0.0)
    double rps = (double)st.ok / secs;
    printf("%s_requests %ld req\n%s_errors %ld req\n", opt.name, st.ok, opt.name, st.errors);
    printf("%s_rps %.0f req/s\n", opt.name, rps);
    if (opt.spans)
        printf("%s_spans_per_s %.0f spans/s\n", opt.name, rps * opt.spans);
    printf("%s_p50 %.3f ms\n%s_p90 %.3f ms\n%s_p99 %.3f ms\n%s_max %.3f ms\n", opt.name, PCT(0.5), opt.name, PCT(0.9),
           opt.name, PCT(0.99), opt.name, PCT(1.0));
    printf("{\"name\":\"%s\",\"requests\":%ld,\"errors\":%ld,\"rps\":%.1f,\"spans_per_s\":%.1f,\"p50_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"last_status\":%d,\"reconnects\":%ld}\n",
           opt.name, st.ok, st.errors, rps, rps * opt.spans, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0), st.last_status,
           st.reconnects);
    return st.errors && !st.ok ? 1 : 0;
}
