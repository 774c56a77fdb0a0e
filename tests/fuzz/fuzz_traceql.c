/* libFuzzer target: the TraceQL parser. Any text must parse or fail with a
 * message: never a crash, a leak or unbounded recursion. */
#include "traceql.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tq_query_t *q = tq_parse(arbor_iov((const char *)data, size), err, sizeof err);
    tq_free(q);
    q = tq_parse_filter(arbor_iov((const char *)data, size), err, sizeof err);
    tq_free(q);
    return 0;
}
