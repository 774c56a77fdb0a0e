/* Query-string and path parameters: pure parsers, no HTTP stack, so unit tests
 * and the fuzzer (tests/fuzz/fuzz_params.c) reach them directly. Every number is
 * range-checked before it is converted: no input makes an undefined cast. */
#ifndef ARBOR_QUERY_PARAMS_H
#define ARBOR_QUERY_PARAMS_H

#include "arbor/base.h"

#include <stdint.h>

/** Percent-decode @p s into @p out (room for n + 1 bytes; NUL-terminated);
 *  '+' becomes a space when @p plus_is_space. Returns the decoded length. */
size_t params_percent_decode(char *out, const char *s, size_t n, int plus_is_space);

/** The raw (still encoded) value of @p name in query string @p q (after '?'):
 *  base NULL when absent, "" for a bare "name". */
arbor_iov_t params_find(arbor_iov_t q, const char *name);

/** A decimal integer in [lo, hi], the whole of @p v. 0 or -1. */
int params_int(arbor_iov_t v, long lo, long hi, long *out);

/** ISO-8601 UTC ("2026-11-21T08:57:25.5Z", "+00:00" or no zone) or Unix seconds
 *  (fraction allowed), from 1970 to 2262, in nanoseconds. 0 or -1. */
int params_time(arbor_iov_t v, uint64_t *ns);

/** A Go duration as Grafana sends them ("100ms", "1.5s", "1h30m", "0"), decimal
 *  numbers only, below 2^63 ns. 0 or -1. */
int params_go_duration(arbor_iov_t v, uint64_t *ns);

/** Nanoseconds from a finite, non-negative double below 2^63, else -1. */
int params_double_to_ns(double d, uint64_t *ns);

#endif
