/* libFuzzer target: redaction's walk over a span's bytes (proto/otlp_redact.c).
 * Any input that decodes as a span must be judged without a crash or leak; the
 * shortcut on the views must leave exactly what the walk over the bytes
 * leaves; and what is left must be a span that decodes and that a second pass
 * changes no more (it aborts otherwise, so the fuzzer keeps the input). */
#include "otlp_wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static otlp_redactor_t *redactor;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256];
    if (otlp_redactor_new("secrets,emails,ssn,cards", NULL, "*.api_key,*password*", &redactor, err, sizeof err) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arbor_arena_t a;
    otlp_span_t s, again;
    size_t count, second;
    arbor_arena_init(&a, 1 << 16, 64u << 20);
    char *copy = arbor_arena_dup(&a, data, size);
    if (copy != NULL && otlp_span_decode(&a, copy, size, &s) == 0) {
        otlp_span_t walked = s;
        size_t walked_count;
        int rc = otlp_span_redact(redactor, &s, &a, &count);
        int wrc = otlp_span_redact_walk(redactor, &walked, &a, &walked_count);
        if (rc != wrc || (rc == 0 && (count != walked_count || s.wire.len != walked.wire.len ||
                                      memcmp(s.wire.base, walked.wire.base, s.wire.len) != 0)))
            abort(); /* the shortcut skipped what the walk changes */
        if (rc != 0 && rc != ENOMEM && rc != ARBOR_EDECODE)
            abort();
        if (rc == 0) {
            arbor_iov_t stored = s.wire;
            if (otlp_span_decode(&a, stored.base, stored.len, &again) != 0)
                abort(); /* what would be stored must read back */
            if (otlp_span_redact(redactor, &again, &a, &second) != 0 || second != 0 || again.wire.base != stored.base)
                abort(); /* one pass leaves nothing for a second */
        }
    }
    arbor_arena_free(&a);
    return 0;
}
