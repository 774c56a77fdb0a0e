/* The Trace tab's static files, embedded into the binary at build time (no
 * runtime fetches from anywhere else). */
#ifndef ARBOR_QUERY_UI_H
#define ARBOR_QUERY_UI_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/ui/app.js"; index.html is also served at "/" */
    const char *content_type;
    const char *etag;
    const unsigned char *data;
    size_t len;
} ui_asset_t;

/** NULL-path terminated. */
extern const ui_asset_t ui_assets[];

/** The asset for a request path ("/" is index.html), or NULL. */
const ui_asset_t *ui_find(const char *path, size_t len);

#endif
