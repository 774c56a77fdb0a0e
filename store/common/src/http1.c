/* Refusing ambiguously framed HTTP/1.x requests: see arbor/http1.h. */
#include "arbor/http1.h"

#include <stdlib.h>
#include <strings.h>

/* picohttpparser, as libh2o carries and exports it (Debian ships no header). */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

#define MAX_HEADERS 100 /* h2o's H2O_MAX_HEADERS: a longer head never reached a handler */

static int name_is(const struct phr_header *h, const char *name)
{
    return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

const char *arbor_http1_framing_error(const char *buf, size_t len)
{
    struct phr_header h[MAX_HEADERS];
    size_t n = MAX_HEADERS, method_len, path_len;
    const char *method, *path, *length = NULL;
    size_t length_len = 0, encodings = 0;
    int minor;
    if (phr_parse_request(buf, len, &method, &method_len, &path, &path_len, &minor, h, &n, 0) <= 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name == NULL) /* a folded line belongs to the header before it */
            continue;
        if (name_is(&h[i], "transfer-encoding")) {
            encodings++;
        } else if (name_is(&h[i], "content-length")) {
            if (length != NULL && (length_len != h[i].value_len || memcmp(length, h[i].value, length_len) != 0))
                return "conflicting Content-Length headers";
            length = h[i].value;
            length_len = h[i].value_len;
        }
    }
    if (encodings > 0 && length != NULL)
        return "both Content-Length and Transfer-Encoding: the body's length is ambiguous";
    if (encodings > 1)
        return "more than one Transfer-Encoding header";
    return NULL;
}

typedef struct {
    h2o_handler_t super;
    arbor_http1_refuse_fn refuse;
} guard_t;

/* Whose credentials, which tenant: a request that says it twice could be read
 * one way here and another way behind (an upstream, a shard). */
static const char *named_twice(h2o_req_t *req)
{
    static const char *const once[] = {"authorization", "x-scope-orgid"};
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++) {
        ssize_t at = h2o_find_header_by_str(&req->headers, once[i], strlen(once[i]), -1);
        if (at >= 0 && h2o_find_header_by_str(&req->headers, once[i], strlen(once[i]), at) >= 0)
            return i == 0 ? "more than one Authorization header" : "more than one X-Scope-OrgID header";
    }
    return NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    const char *twice = named_twice(req);
    if (twice != NULL) {
        ((guard_t *)self)->refuse(req, twice);
        return 0;
    }
    if (req->version >= 0x200) /* HTTP/2 frames bodies itself */
        return -1;
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    /* h2o consumes a request's bytes only once it is answered: its head is still
     * at the start of the connection's input (header names lowercased) */
    const char *why = sock != NULL && sock->input != NULL ? arbor_http1_framing_error(sock->input->bytes, sock->input->size)
                                                          : NULL;
    if (why == NULL)
        return -1;
    req->http1_is_persistent = 0; /* what follows on the connection cannot be told apart: close it */
    ((guard_t *)self)->refuse(req, why);
    return 0;
}

void arbor_http1_framing_guard(h2o_pathconf_t *path, arbor_http1_refuse_fn refuse)
{
    guard_t *g = (guard_t *)h2o_create_handler(path, sizeof *g);
    g->super.on_req = on_req;
    g->refuse = refuse;
}
