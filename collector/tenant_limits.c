/* Per-tenant limits: see tenant_limits.h. */
#include "tenant_limits.h"

#include "arbor/config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char tenant[256];
    double rate, burst; /* spans per second, bucket size (0: unlimited) */
    uint64_t max_spans, max_bytes;
    double level;       /* spans the bucket holds now */
    uint64_t last_ns;   /* when it was last filled */
} limit_t;

struct limits {
    char *path;
    pthread_mutex_t mu;
    limit_t *v;
    size_t n;
};

/* "123", or with a size suffix for the bytes column. */
static int parse_number(const char *text, int size, uint64_t *out)
{
    char err[64];
    arbor_cfg_entry_t e = {"limit", size ? ARBOR_CFG_SIZE : ARBOR_CFG_INT, NULL, 0, "", NULL, 0, INT64_MAX};
    int64_t i;
    if (size)
        return arbor_config_parse_value(&e, text, out, err, sizeof err);
    if (arbor_config_parse_value(&e, text, &i, err, sizeof err) != 0 || i < 0)
        return -1;
    *out = (uint64_t)i;
    return 0;
}

static int parse_line(char *line, limit_t *l)
{
    char *save = NULL, *f[6];
    size_t n = 0;
    for (char *t = strtok_r(line, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
        f[n++] = t;
    uint64_t rate, burst;
    if (n != 5 || strlen(f[0]) >= sizeof l->tenant || parse_number(f[1], 0, &rate) != 0 ||
        parse_number(f[2], 0, &burst) != 0 || parse_number(f[3], 0, &l->max_spans) != 0 ||
        parse_number(f[4], 1, &l->max_bytes) != 0)
        return -1;
    snprintf(l->tenant, sizeof l->tenant, "%s", f[0]);
    l->rate = (double)rate;
    l->burst = (double)(burst ? burst : rate); /* no burst given: one second's worth */
    l->level = l->burst;
    return 0;
}

static int load(const char *path, limit_t **out, size_t *n_out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t n = 0, cap = 0, line_no = 0;
    limit_t *v = NULL;
    if (f == NULL) {
        snprintf(err, errlen, "ARBOR_TENANT_LIMITS=%s: cannot be read", path);
        return ARBOR_ECONFIG;
    }
    while (fgets(line, sizeof line, f)) {
        line_no++;
        line[strcspn(line, "#\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        if (n == cap)
            v = arbor_xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
        memset(&v[n], 0, sizeof v[n]);
        if (parse_line(line, &v[n]) != 0) {
            snprintf(err, errlen, "ARBOR_TENANT_LIMITS=%s line %zu: want `tenant spans_per_second burst "
                     "max_spans_per_trace max_bytes_per_trace` (0: unlimited)", path, line_no);
            fclose(f);
            free(v);
            return ARBOR_ECONFIG;
        }
        n++;
    }
    fclose(f);
    *out = v;
    *n_out = n;
    return 0;
}

int limits_open(const char *path, limits_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    limits_t *l = arbor_xcalloc(1, sizeof *l);
    l->path = arbor_xstrdup(path);
    pthread_mutex_init(&l->mu, NULL);
    if (load(path, &l->v, &l->n, err, errlen) != 0) {
        limits_close(l);
        return ARBOR_ECONFIG;
    }
    *out = l;
    return 0;
}

/* The line for @p tenant, else the "*" line, else NULL. */
static limit_t *find(limit_t *v, size_t n, const char *tenant)
{
    limit_t *any = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].tenant, tenant) == 0)
            return &v[i];
        if (strcmp(v[i].tenant, "*") == 0)
            any = &v[i];
    }
    return any;
}

int limits_reload(limits_t *l, char *err, size_t errlen)
{
    limit_t *v;
    size_t n;
    if (l == NULL)
        return 0;
    int rc = load(l->path, &v, &n, err, errlen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) { /* a reload is no free refill */
        limit_t *old = find(l->v, l->n, v[i].tenant);
        if (old && strcmp(old->tenant, v[i].tenant) == 0) {
            v[i].level = fmin(old->level, v[i].burst);
            v[i].last_ns = old->last_ns;
        }
    }
    free(l->v);
    l->v = v;
    l->n = n;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void limits_close(limits_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->v);
    free(l->path);
    free(l);
}

/* "*" is one bucket per tenant it covers: such tenants get a line of their own
 * (a copy of "*") the first time they write. */
static limit_t *bucket_of(limits_t *l, const char *tenant)
{
    limit_t *x = find(l->v, l->n, tenant);
    if (x == NULL || strcmp(x->tenant, "*") != 0)
        return x;
    limit_t copy = *x;
    snprintf(copy.tenant, sizeof copy.tenant, "%s", tenant);
    copy.level = copy.burst;
    copy.last_ns = 0;
    l->v = arbor_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n] = copy;
    return &l->v[l->n++];
}

int limits_take(limits_t *l, const char *tenant, size_t spans, uint64_t now_ns, int *retry_after_s)
{
    int rc = 0;
    if (l == NULL)
        return 0;
    pthread_mutex_lock(&l->mu);
    limit_t *b = bucket_of(l, tenant);
    if (b != NULL && b->rate > 0) {
        if (b->last_ns != 0 && now_ns > b->last_ns)
            b->level = fmin(b->burst, b->level + b->rate * (double)(now_ns - b->last_ns) / 1e9);
        b->last_ns = now_ns;
        if ((double)spans > b->burst) {
            rc = ARBOR_ETOOBIG;
        } else if ((double)spans > b->level) {
            *retry_after_s = (int)ceil(((double)spans - b->level) / b->rate);
            if (*retry_after_s < 1)
                *retry_after_s = 1;
            rc = ARBOR_ERATE;
        } else {
            b->level -= (double)spans;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void limits_trace_caps(limits_t *l, const char *tenant, uint64_t *max_spans, uint64_t *max_bytes)
{
    *max_spans = *max_bytes = 0;
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    limit_t *x = find(l->v, l->n, tenant);
    if (x != NULL) {
        *max_spans = x->max_spans;
        *max_bytes = x->max_bytes;
    }
    pthread_mutex_unlock(&l->mu);
}
