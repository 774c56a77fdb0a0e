/* The WebSocket client of ws_client.h. */
#include "ws_client.h"

#include "arbor/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX 16384

struct ws_client {
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    wslay_event_context_ptr ws;
    ws_client_msg_fn on_msg;
    void *ctx;
    uint8_t *pre; /* bytes read past the upgrade answer: the first frames */
    size_t pre_len, pre_at;
    int eof;
};

typedef struct {
    int tls, ip; /* ip: the host is an address, not a name */
    char host[256], port[8], prefix[1024];
    char authority[300]; /* the Host header: host (IPv6 in brackets) and port */
} url_t;

static int parse_url(const char *base, url_t *u)
{
    const char *p = base;
    memset(u, 0, sizeof *u);
    if (strncmp(p, "https://", 8) == 0)
        u->tls = 1, p += 8;
    else if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else
        return -1;
    int v6 = *p == '[';
    size_t hl = v6 ? strcspn(++p, "]") : strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof u->host || (v6 && p[hl] != ']'))
        return -1;
    memcpy(u->host, p, hl);
    p += hl + v6;
    snprintf(u->port, sizeof u->port, "%s", u->tls ? "443" : "80");
    if (*p == ':') {
        size_t pl = strcspn(++p, "/");
        if (pl == 0 || pl >= sizeof u->port)
            return -1;
        memcpy(u->port, p, pl);
        u->port[pl] = '\0';
        p += pl;
    } else if (*p != '\0' && *p != '/') {
        return -1;
    }
    unsigned char addr[16];
    u->ip = inet_pton(v6 ? AF_INET6 : AF_INET, u->host, addr) == 1;
    if (v6 && !u->ip)
        return -1;
    snprintf(u->authority, sizeof u->authority, v6 ? "[%s]:%s" : "%s:%s", u->host, u->port);
    snprintf(u->prefix, sizeof u->prefix, "%s", p);
    size_t n = strlen(u->prefix);
    while (n > 0 && u->prefix[n - 1] == '/')
        u->prefix[--n] = '\0';
    return 0;
}

/* Wait until @p fd is ready for @p events, @p timeout_ms at most; -1 when the
 * time is up or @p cancel_fd became readable first. */
static int wait_fd(int fd, short events, int timeout_ms, int cancel_fd)
{
    struct pollfd pf[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    int rc;
    do
        rc = poll(pf, cancel_fd >= 0 ? 2 : 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc > 0 && pf[0].revents && !(cancel_fd >= 0 && pf[1].revents) ? 0 : -1;
}

/* A TCP connection within @p timeout_ms; blocking afterwards, with that timeout on reads and writes. */
static int dial(const url_t *u, int timeout_ms, int cancel_fd, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        int so = errno == EINPROGRESS ? 0 : errno;
        socklen_t sl = sizeof so;
        if (so == 0 && (wait_fd(fd, POLLOUT, timeout_ms, cancel_fd) != 0 ||
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0))
            so = ETIMEDOUT;
        if (so != 0) {
            snprintf(err, errlen, "connect %s:%s: %s", u->host, u->port, strerror(so));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int start_tls(ws_client_t *c, const url_t *u, const char *ca_file, char *err, size_t errlen)
{
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (c->ssl_ctx == NULL)
        return -1;
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if ((ca_file ? SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(c->ssl_ctx)) != 1) {
        snprintf(err, errlen, "cannot load the CA bundle %s", ca_file ? ca_file : "(system)");
        return -1;
    }
    c->ssl = SSL_new(c->ssl_ctx);
    if (u->ip) { /* an address: no SNI (RFC 6066), the certificate must name the address */
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, u->host);
        SSL_set1_host(c->ssl, u->host);
    }
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
        snprintf(err, errlen, "TLS with %s:%s failed (certificate or protocol)", u->host, u->port);
        return -1;
    }
    return 0;
}

static ssize_t io_write(ws_client_t *c, const void *buf, size_t len)
{
    if (c->ssl != NULL) {
        int n = SSL_write(c->ssl, buf, (int)len);
        if (n > 0)
            return n;
        int e = SSL_get_error(c->ssl, n);
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
        return -1;
    }
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t io_read(ws_client_t *c, void *buf, size_t len)
{
    if (c->ssl != NULL) {
        int n = SSL_read(c->ssl, buf, (int)len);
        if (n > 0)
            return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
        return -1;
    }
    return recv(c->fd, buf, len, 0);
}

/* The Sec-WebSocket-Accept the server must answer for @p key. */
static void accept_for(const char *key, char out[64])
{
    char both[128];
    unsigned char sha[SHA_DIGEST_LENGTH];
    snprintf(both, sizeof both, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)both, strlen(both), sha);
    EVP_EncodeBlock((unsigned char *)out, sha, SHA_DIGEST_LENGTH);
}

/* Is @p name: @p value among the answer's header lines? */
static int has_header(const char *head, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r");
            return strlen(value) == vl && strncasecmp(v, value, vl) == 0;
        }
    }
    return 0;
}

static int upgrade(ws_client_t *c, const url_t *u, const char *path, const char *headers,
                   const ws_client_options_t *o, int *status, char *err, size_t errlen)
{
    unsigned char raw[16];
    char key[32], want[64], *head = arbor_xmalloc(HEAD_MAX + 1);
    RAND_bytes(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    accept_for(key, want);
    size_t reqcap = strlen(path) + strlen(headers) + strlen(u->prefix) + 512, n = 0;
    char *req = arbor_xmalloc(reqcap);
    int len = snprintf(req, reqcap,
                       "GET %s%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                       u->prefix, path, u->authority, key, headers);
    int rc = -1;
    if (len < 0 || io_write(c, req, (size_t)len) != len) {
        snprintf(err, errlen, "sending the upgrade to %s:%s failed", u->host, u->port);
        goto out;
    }
    char *end = NULL;
    while (end == NULL && n < HEAD_MAX) {
        int buffered = c->ssl != NULL && SSL_pending(c->ssl) > 0;
        ssize_t got = buffered || wait_fd(c->fd, POLLIN, o->timeout_ms, o->cancel_fd) == 0
                          ? io_read(c, head + n, HEAD_MAX - n) : -1;
        if (got <= 0) {
            snprintf(err, errlen, "no upgrade answer from %s:%s", u->host, u->port);
            goto out;
        }
        n += (size_t)got;
        head[n] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end == NULL || sscanf(head, "HTTP/1.1 %d", status) != 1 || *status != 101 ||
        !has_header(head, "sec-websocket-accept", want)) {
        snprintf(err, errlen, "%s:%s refused the upgrade: %.*s", u->host, u->port, (int)strcspn(head, "\r"), head);
        goto out;
    }
    size_t used = (size_t)(end + 4 - head);
    c->pre_len = n - used;
    if (c->pre_len > 0) { /* frames that came with the answer */
        c->pre = arbor_xmalloc(c->pre_len);
        memcpy(c->pre, head + used, c->pre_len);
    }
    rc = 0;
out:
    free(req);
    free(head);
    return rc;
}

/* ---- wslay ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    ws_client_t *c = user;
    (void)flags;
    if (c->pre_at < c->pre_len) {
        size_t n = c->pre_len - c->pre_at < len ? c->pre_len - c->pre_at : len;
        memcpy(buf, c->pre + c->pre_at, n);
        c->pre_at += n;
        return (ssize_t)n;
    }
    ssize_t n = io_read(c, buf, len);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    c->eof = 1;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    ws_client_t *c = user;
    (void)flags;
    ssize_t n = io_write(c, data, len);
    if (n >= 0)
        return n;
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    ws_client_t *c = user;
    (void)ctx;
    if (arg->opcode == WSLAY_TEXT_FRAME)
        c->on_msg(c->ctx, arg->msg, arg->msg_length);
}

int ws_client_open(const char *base, const char *path_query, const char *headers, const ws_client_options_t *o,
                   ws_client_msg_fn on_msg, void *ctx, ws_client_t **out, int *http_status, char *err, size_t errlen)
{
    url_t u;
    *out = NULL;
    *http_status = 0;
    if (parse_url(base, &u) != 0) {
        snprintf(err, errlen, "not an http(s) URL: %s", base);
        return -1;
    }
    ws_client_t *c = arbor_xcalloc(1, sizeof *c);
    c->on_msg = on_msg;
    c->ctx = ctx;
    if ((c->fd = dial(&u, o->timeout_ms, o->cancel_fd, err, errlen)) < 0 ||
        (u.tls && start_tls(c, &u, o->ca_file, err, errlen) != 0) ||
        upgrade(c, &u, path_query, headers, o, http_status, err, errlen) != 0) {
        ws_client_close(c);
        return -1;
    }
    static const struct wslay_event_callbacks cb = {on_recv, on_send, on_genmask, NULL, NULL, NULL, on_message};
    wslay_event_context_client_init(&c->ws, &cb, c);
    wslay_event_config_set_max_recv_msg_length(c->ws, o->max_message);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    *out = c;
    return 0;
}

int ws_client_fd(const ws_client_t *c)
{
    return c->fd;
}

int ws_client_pending(const ws_client_t *c)
{
    return c->pre_at < c->pre_len || (c->ssl != NULL && SSL_pending(c->ssl) > 0);
}

int ws_client_read(ws_client_t *c)
{
    if (wslay_event_recv(c->ws) != 0 || c->eof)
        return -1;
    if (wslay_event_want_write(c->ws))
        wslay_event_send(c->ws); /* pongs, the close answer */
    if (wslay_event_get_close_received(c->ws)) {
        uint16_t code = wslay_event_get_status_code_received(c->ws);
        return code ? code : 1005;
    }
    return 0;
}

void ws_client_close(ws_client_t *c)
{
    if (c == NULL)
        return;
    if (c->ws != NULL)
        wslay_event_context_free(c->ws);
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ssl_ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->pre);
    free(c);
}
