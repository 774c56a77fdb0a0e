/* The HTTP/1.x framing check (arbor/http1.h) on request heads: what RFC 9112
 * §6.1 and §6.3 make ambiguous is refused, the rest passes. */
#include "arbor/http1.h"

#include "tap.h"

#include <string.h>

static const char *verdict(const char *head)
{
    return arbor_http1_framing_error(head, strlen(head));
}

int main(void)
{
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") != NULL,
       "Content-Length and Transfer-Encoding");
    ok(verdict("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n") != NULL,
       "either order, any case");
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 0\r\n\r\nabc") != NULL,
       "two Content-Lengths that differ");
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\nX: y\r\nContent-Length: 03\r\n\r\n") != NULL,
       "differ as written (3 and 03): refused, not interpreted");
    ok(verdict("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") != NULL,
       "Transfer-Encoding twice");
    ok(verdict("POST / HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") != NULL, "HTTP/1.0 too");
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc") == NULL,
       "the same Content-Length twice passes (RFC 9110 §8.6)");
    ok(verdict("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") == NULL, "chunked alone");
    ok(verdict("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == NULL, "no body");
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\n") == NULL, "an incomplete head: no verdict");
    ok(verdict("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") ==
           NULL,
       "only the first request's head counts (the next is judged when it comes)");
    ok(verdict("POST / HTTP/1.1\r\nX-Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == NULL,
       "names are whole: X-Content-Length is another header");
    return tap_done();
}
