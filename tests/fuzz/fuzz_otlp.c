/* libFuzzer target: the OTLP request decoder (binary protobuf, then OTLP/JSON) and
 * ingest's normalisation of what it decodes. Any input must come back as 0 or an
 * error code: never a crash, a leak, or memory beyond the arena's limit. And
 * whatever the wire decoder accepts, protobuf-c must read the same (it aborts
 * otherwise, so the fuzzer keeps the input). */
#include "../unit/otlp_same.h"
#include "ingest.h"
#include "otlp_wire.h"

#include <stdint.h>
#include <stdlib.h>

static const char *const keys[] = {"orcheo.execution.id", "execution.id", NULL};

static void wire_matches_protobuf_c(const uint8_t *data, size_t size)
{
    arbor_arena_t a;
    otlp_request_t w, p;
    char err[256];
    arbor_arena_init(&a, 1 << 16, 0);
    if (otlp_wire_request(&a, data, size, &w) == 0) {
        int rc = otlp_request_decode_pbc(&a, data, size, &p, err, sizeof err);
        if (rc != 0 || otlp_same(&a, &w, &p) != NULL)
            abort();
    }
    arbor_arena_free(&a);
}

static otlp_redactor_t *redactor; /* the default rules, on every other input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256];
    if (otlp_redactor_new("secrets", NULL, NULL, &redactor, err, sizeof err) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    wire_matches_protobuf_c(data, size);
    ingest_options_t o = {.execution_id_keys = keys, .arena_limit = 64u << 20, .span_codec = ARBOR_SPAN_LZ4,
                          .capture_content = (int)(size & 1), /* both ways, by length */
                          .redactor = size & 2 ? redactor : NULL};
    for (int enc = 0; enc < 2; enc++) {
        ingest_job_t *job = ingest_job_new(&o, ARBOR_DEFAULT_TENANT);
        if (job == NULL)
            return 0;
        ingest_decode(job, &o, enc == 0 ? OTLP_ENC_PROTOBUF : OTLP_ENC_JSON, data, size, err, sizeof err);
        ingest_job_free(job);
    }
    return 0;
}
