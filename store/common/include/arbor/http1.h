/**
 * @file http1.h
 * @brief Refusing HTTP/1.x requests whose body framing is ambiguous (RFC 9112
 *        §6.1, §6.3): both Content-Length and Transfer-Encoding, Content-Length
 *        values that differ, or Transfer-Encoding given twice. A proxy in front
 *        may frame such a request otherwise than h2o 2.2.5 does (it takes
 *        Transfer-Encoding, and the first Content-Length), which is how requests
 *        are smuggled past it. h2o keeps neither header in req->headers, so the
 *        check reads the request head itself, with the parser h2o used
 *        (picohttpparser, in libh2o). Linked with h2o: collector/ and query/ only.
 *        The same guard refuses a request of any HTTP version that names its
 *        credentials or its tenant twice (Authorization, X-Scope-OrgID): which
 *        one counted would depend on who read it.
 */
#ifndef ARBOR_HTTP1_H
#define ARBOR_HTTP1_H

#include <stddef.h>

#include "h2o.h"

/** Why the request head at the start of [@p buf, +@p len) is framed ambiguously;
 *  NULL when it is not, or when no complete request head is there. */
const char *arbor_http1_framing_error(const char *buf, size_t len);

/** Answers a refused request (the daemon's own error format). */
typedef void (*arbor_http1_refuse_fn)(h2o_req_t *req, const char *why);

/**
 * Put a handler first on @p path that refuses (via @p refuse) every HTTP/1.x
 * request framed ambiguously (the connection is then closed) and every request
 * with more than one Authorization or X-Scope-OrgID header, and passes the
 * others on to the path's next handler.
 */
void arbor_http1_framing_guard(h2o_pathconf_t *path, arbor_http1_refuse_fn refuse);

#endif
