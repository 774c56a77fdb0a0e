/* The price table (ARBOR_PRICES): model name globs with the price of a million
 * input and a million output tokens, for the Trace tab's cost columns. The file:
 *   # comments and blank lines are skipped
 *   currency USD                      (optional; default USD)
 *   gpt-4o-mini*   0.15   0.60         (glob, input, output: first match wins)
 * Ownership: prices_load() returns a table prices_free() releases. */
#ifndef ARBOR_QUERY_PRICES_H
#define ARBOR_QUERY_PRICES_H

#include "jsonw.h"

#include <stddef.h>

typedef struct prices prices_t;

/** Read @p path. 0 with *out (NULL path: an empty table), or -1 with @p err naming the line. */
int prices_load(const char *path, prices_t **out, char *err, size_t errlen);
void prices_free(prices_t *p);
/** {"currency": "USD", "prices": [{"model": glob, "input": per 1M, "output": per 1M}, …]} */
void prices_render(const prices_t *p, jsonw_t *w);

#endif
