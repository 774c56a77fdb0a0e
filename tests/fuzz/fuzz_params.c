/* libFuzzer target: query-string and path parameters (query/params.c). The
 * input is split at its first NUL into a parameter name and a query string; the
 * value found is decoded and parsed as every kind of parameter: never a crash,
 * an out-of-bounds read or an undefined conversion. */
#include "params.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *nul = memchr(s, '\0', size);
    size_t name_len = nul ? (size_t)(nul - s) : 0;
    char name[64];
    if (name_len >= sizeof name)
        name_len = sizeof name - 1;
    memcpy(name, s, name_len);
    name[name_len] = '\0';
    arbor_iov_t q = nul ? arbor_iov(nul + 1, size - (size_t)(nul - s) - 1) : arbor_iov(s, size);
    /* the raw query string as a path segment, and the value found in it */
    char *decoded = malloc(q.len + 1);
    size_t n = params_percent_decode(decoded, q.base, q.len, 0);
    arbor_iov_t raw = params_find(q, name[0] ? name : "q");
    arbor_iov_t values[2] = {arbor_iov(decoded, n), raw};
    for (int i = 0; i < 2; i++) {
        arbor_iov_t v = values[i];
        if (v.base == NULL)
            continue;
        char *copy = malloc(v.len + 1); /* exactly sized: ASan sees any over-read */
        size_t m = params_percent_decode(copy, v.base, v.len, 1);
        uint64_t ns;
        long l;
        (void)params_time(arbor_iov(copy, m), &ns);
        (void)params_go_duration(arbor_iov(copy, m), &ns);
        (void)params_int(arbor_iov(copy, m), -1000000, 1000000, &l);
        (void)params_time(v, &ns);
        (void)params_go_duration(v, &ns);
        free(copy);
    }
    free(decoded);
    return 0;
}
