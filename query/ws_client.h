/* A small WebSocket client (RFC 6455 over wslay, TLS with OpenSSL) for the
 * federated live streams: a blocking connect and upgrade, then non-blocking
 * reads when the caller's poll() says the socket is readable.
 * Ownership: the client owns its socket, TLS session and buffers;
 * ws_client_close() releases them. One thread uses a client at a time. */
#ifndef ARBOR_QUERY_WS_CLIENT_H
#define ARBOR_QUERY_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_client ws_client_t;
/** A text message, whole (wslay reassembles fragments). */
typedef void (*ws_client_msg_fn)(void *ctx, const uint8_t *data, size_t len);

typedef struct {
    const char *ca_file;  /* PEM CAs for https (NULL: the system's) */
    int timeout_ms;       /* connect, TLS and the upgrade each wait at most this */
    int cancel_fd;        /* readable: give up the connect or the upgrade at once (-1: none) */
    uint64_t max_message; /* a longer message closes the stream (1009) */
} ws_client_options_t;

/**
 * Connect to @p base (http:// or https://host[:port][/prefix], host a name,
 * an IPv4 address or a bracketed IPv6 one) and upgrade @p path_query (appended
 * to the prefix), sending @p headers (complete "Name: value\r\n" lines, may be
 * ""). @return 0 with *out; -1 with @p err, and *http_status the refusal's
 * status (0 when no HTTP answer came).
 */
int ws_client_open(const char *base, const char *path_query, const char *headers, const ws_client_options_t *o,
                   ws_client_msg_fn on_msg, void *ctx, ws_client_t **out, int *http_status, char *err, size_t errlen);
/** The socket to poll for reading. */
int ws_client_fd(const ws_client_t *c);
/** Non-zero when bytes are buffered already (TLS): read without waiting for poll. */
int ws_client_pending(const ws_client_t *c);
/** Read and handle what arrived (messages go to on_msg; pings are answered).
 *  @return 0 to go on; the peer's close code (> 0), or -1 on an error or EOF. */
int ws_client_read(ws_client_t *c);
void ws_client_close(ws_client_t *c);

#endif
