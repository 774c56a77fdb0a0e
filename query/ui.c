#include "ui.h"

#include <string.h>

const ui_asset_t *ui_find(const char *path, size_t len)
{
    if (len == 1 && path[0] == '/') {
        path = "/ui/index.html";
        len = strlen(path);
    }
    for (const ui_asset_t *a = ui_assets; a->path; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    return NULL;
}
