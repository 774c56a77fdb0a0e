#include "prices.h"

#include "arbor/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRICES_MAX 1000

typedef struct {
    char *glob;
    double input, output;
} price_t;

struct prices {
    char currency[16];
    price_t *items;
    size_t n;
};

void prices_free(prices_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].glob);
    free(p->items);
    free(p);
}

static int price_value(const char *text, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    return *end == '\0' && errno == 0 && isfinite(*out) && *out >= 0 ? 0 : -1;
}

/* One line of the file into @p p: 0, or -1 with @p err. */
static int parse_line(prices_t *p, char *line, int lineno, const char *path, char *err, size_t errlen)
{
    char *save = NULL, *a = strtok_r(line, " \t\r\n", &save), *b = strtok_r(NULL, " \t\r\n", &save);
    char *c = strtok_r(NULL, " \t\r\n", &save), *extra = strtok_r(NULL, " \t\r\n", &save);
    if (a == NULL || a[0] == '#')
        return 0;
    if (strcmp(a, "currency") == 0 && b != NULL && c == NULL && strlen(b) < sizeof p->currency) {
        snprintf(p->currency, sizeof p->currency, "%s", b);
        return 0;
    }
    price_t x;
    if (b == NULL || c == NULL || extra != NULL || strlen(a) > 200 || price_value(b, &x.input) != 0 ||
        price_value(c, &x.output) != 0 || p->n == PRICES_MAX) {
        snprintf(err, errlen, "ARBOR_PRICES: %s line %d: want 'model-glob input-per-million output-per-million' "
                              "(or 'currency CODE'), at most %d models", path, lineno, PRICES_MAX);
        return -1;
    }
    p->items = arbor_xrealloc(p->items, (p->n + 1) * sizeof *p->items);
    x.glob = arbor_xstrdup(a);
    p->items[p->n++] = x;
    return 0;
}

int prices_load(const char *path, prices_t **out, char *err, size_t errlen)
{
    prices_t *p = arbor_xcalloc(1, sizeof *p);
    snprintf(p->currency, sizeof p->currency, "USD");
    *out = p;
    if (path == NULL || path[0] == '\0')
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "ARBOR_PRICES: cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL)
        rc = parse_line(p, line, ++lineno, path, err, errlen);
    fclose(f);
    if (rc == 0)
        return 0;
fail:
    prices_free(p);
    *out = NULL;
    return -1;
}

void prices_render(const prices_t *p, jsonw_t *w)
{
    jsonw_object(w);
    jsonw_key_lit(w, "currency");
    jsonw_cstr(w, p ? p->currency : "USD");
    jsonw_key_lit(w, "prices");
    jsonw_array(w);
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        jsonw_object(w);
        jsonw_key_lit(w, "model");
        jsonw_cstr(w, p->items[i].glob);
        jsonw_key_lit(w, "input");
        jsonw_double(w, p->items[i].input);
        jsonw_key_lit(w, "output");
        jsonw_double(w, p->items[i].output);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}
