/* Per-tenant limits (SPEC §8, ARBOR_TENANT_LIMITS): a token bucket of spans per
 * second with a burst, checked by the receivers before a request is queued, and
 * per-trace caps (spans, stored bytes) checked by the writer inside the
 * transaction, so a refused request stores nothing.
 *
 * File: one line per tenant, `tenant spans_per_second burst max_spans_per_trace
 * max_bytes_per_trace`; `*` for every tenant without a line of its own; 0 means
 * unlimited; sizes take the config suffixes (64KiB, 1MiB); `#` comments.
 *
 * Buckets: each tenant that writes under a line with a rate gets a bucket of its
 * own (`*` too: one per tenant it covers). Reloads keep them and their fill. At
 * most about @p max_buckets are kept: past it, the longest-idle one is forgotten.
 *
 * Threads: limits_take() and limits_trace_caps() may run on any thread while
 * limits_reload() swaps the table. Ownership: the handle owns its tables. */
#ifndef ARBOR_COLLECTOR_TENANT_LIMITS_H
#define ARBOR_COLLECTOR_TENANT_LIMITS_H

#include "arbor/base.h"

#include <stddef.h>
#include <stdint.h>

typedef struct limits limits_t;

/** Read @p path (NULL or empty: *out NULL, no limits), keeping at most about
 *  @p max_buckets buckets. 0 or ARBOR_ECONFIG with @p err. */
int limits_open(const char *path, size_t max_buckets, limits_t **out, char *err, size_t errlen);
/** Re-read the file: new limits, the same buckets (a reload is no refill). A bad
 *  file: ARBOR_ECONFIG with @p err, and the limits in force stay. */
int limits_reload(limits_t *l, char *err, size_t errlen);
void limits_close(limits_t *l);

/**
 * Take @p spans from @p tenant's bucket at monotonic time @p now_ns (any other
 * unit a write is charged in works alike: a write of one item takes 1).
 * @return 0; ARBOR_ERATE with *retry_after_s, the seconds until they would fit;
 *         ARBOR_ETOOBIG when @p spans exceeds the burst (never fits); ENOMEM.
 */
int limits_take(limits_t *l, const char *tenant, size_t spans, uint64_t now_ns, int *retry_after_s);

/** @p tenant's per-trace caps (0: none). */
void limits_trace_caps(limits_t *l, const char *tenant, uint64_t *max_spans, uint64_t *max_bytes);

#endif
