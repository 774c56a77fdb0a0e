/* libFuzzer target: the HTTP/1.x framing check (store/common/src/http1.c) on
 * any bytes as a request head: never a crash or an out-of-bounds read, and the
 * verdict on a complete head does not change with what follows it (a body, the
 * next pipelined request). */
#include "arbor/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *head = malloc(size ? size : 1); /* exactly sized: ASan sees any over-read */
    memcpy(head, data, size);
    const char *alone = arbor_http1_framing_error(head, size);
    static const char more[] = "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n";
    char *longer = malloc(size + sizeof more);
    memcpy(longer, data, size);
    memcpy(longer + size, more, sizeof more);
    const char *followed = arbor_http1_framing_error(longer, size + sizeof more - 1);
    /* a complete head (a verdict, or none with a blank line ending it) stays as judged */
    if (alone != NULL && followed != alone)
        abort();
    free(longer);
    free(head);
    return 0;
}
