#include "ui.h"

#include <string.h>

const ui_asset_t *ui_find(const char *path, size_t len)
{
    /* the page's own routes (app.js): the page itself */
    if ((len == 1 && path[0] == '/') || (len == 7 && memcmp(path, "/search", 7) == 0) ||
        (len == 8 && memcmp(path, "/compare", 8) == 0)) {
        path = "/ui/index.html";
        len = strlen(path);
    }
    for (const ui_asset_t *a = ui_assets; a->path; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    return NULL;
}
