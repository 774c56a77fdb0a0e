/* Per-tenant limits: see tenant_limits.h.
 *
 * Two tables. The rules are the file's lines, looked up by tenant name and
 * replaced whole on reload. The buckets are the token buckets of tenants that
 * have written, kept across reloads (a reload changes limits, not fills). They
 * live in STRIPES stripes chosen by the name's hash, each with its own lock,
 * hash index and least-recently-used order: receiver threads rarely wait on each
 * other, and a stripe at its bound forgets its longest-idle bucket, whose tenant
 * starts again with a full burst (as a new tenant under `*` would).
 *
 * Names are indexed by arbor_hash_id in the project's hash table; a hash maps to
 * the first entry with it and entries of one hash chain through `next`, so two
 * names that hash alike (anyone can pick tenant names when auth is off) never
 * share a rule or a bucket. */
#include "tenant_limits.h"

#include "arbor/auth.h"
#include "arbor/config.h"
#include "arbor/log.h"
#include "arbor/map64.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 16
#define NONE UINT32_MAX

typedef struct {
    char name[ARBOR_TENANT_MAX + 1];
    uint32_t next; /* the next entry of the same hash, or NONE */
} named_t;

typedef struct {
    named_t key;
    double rate, burst; /* spans per second, bucket size (0: unlimited) */
    uint64_t max_spans, max_bytes;
} rule_t;

typedef struct {
    rule_t *v;
    size_t n;
    arbor_map64_t index;
} rules_t;

typedef struct {
    named_t key;
    uint64_t hash;
    double level;          /* spans the bucket holds */
    uint64_t last_ns;      /* when it was last filled */
    uint32_t newer, older; /* least-recently-used order */
} bucket_t;

typedef struct {
    pthread_mutex_t mu;
    arbor_map64_t index;
    bucket_t *v;
    uint32_t n, cap, max;
    uint32_t newest, oldest;
} stripe_t;

struct limits {
    char *path;
    rules_t *rules; /* replaced by reload with every stripe locked */
    int evicted;    /* a bucket was forgotten (logged once) */
    stripe_t stripes[STRIPES];
};

/* ---- names to entries: a hash index with chains ---- */

static named_t *entry_at(void *base, size_t stride, uint32_t i)
{
    return (named_t *)((char *)base + (size_t)i * stride);
}

static uint32_t index_find(const arbor_map64_t *m, void *base, size_t stride, const char *name, uint64_t hash)
{
    uint64_t *head = arbor_map64_get(m, hash);
    for (uint32_t i = head ? (uint32_t)*head : NONE; i != NONE; i = entry_at(base, stride, i)->next)
        if (strcmp(entry_at(base, stride, i)->name, name) == 0)
            return i;
    return NONE;
}

/* 0 or ENOMEM. */
static int index_add(arbor_map64_t *m, void *base, size_t stride, uint32_t i, uint64_t hash)
{
    int added;
    uint64_t *head = arbor_map64_put(m, hash, &added);
    if (head == NULL)
        return ENOMEM;
    entry_at(base, stride, i)->next = added ? NONE : (uint32_t)*head;
    *head = i;
    return 0;
}

static void index_remove(arbor_map64_t *m, void *base, size_t stride, uint32_t i, uint64_t hash)
{
    uint64_t *head = arbor_map64_get(m, hash);
    uint32_t next = entry_at(base, stride, i)->next;
    if (*head == i) {
        if (next == NONE)
            arbor_map64_del(m, hash);
        else
            *head = next;
        return;
    }
    uint32_t p = (uint32_t)*head;
    while (entry_at(base, stride, p)->next != i)
        p = entry_at(base, stride, p)->next;
    entry_at(base, stride, p)->next = next;
}

static uint64_t hash_name(const char *name)
{
    return arbor_hash_id(name, strlen(name));
}

/* ---- the file ---- */

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

static int parse_line(char *line, rule_t *r)
{
    char *save = NULL, *f[6];
    size_t n = 0;
    for (char *t = strtok_r(line, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
        f[n++] = t;
    uint64_t rate, burst;
    if (n != 5 || strlen(f[0]) >= sizeof r->key.name || parse_number(f[1], 0, &rate) != 0 ||
        parse_number(f[2], 0, &burst) != 0 || parse_number(f[3], 0, &r->max_spans) != 0 ||
        parse_number(f[4], 1, &r->max_bytes) != 0)
        return -1;
    snprintf(r->key.name, sizeof r->key.name, "%s", f[0]);
    r->rate = (double)rate;
    r->burst = (double)(burst ? burst : rate); /* no burst given: one second's worth */
    return 0;
}

static void rules_free(rules_t *r)
{
    if (r == NULL)
        return;
    arbor_map64_free(&r->index);
    free(r->v);
    free(r);
}

/* The lines of @p f, indexed by tenant (a later line for the same tenant wins). */
static int read_rules(FILE *f, const char *path, rules_t *r, char *err, size_t errlen)
{
    char line[1024];
    size_t cap = 0, line_no = 0;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        line[strcspn(line, "#\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        if (r->n == cap)
            r->v = arbor_xrealloc(r->v, (cap = cap ? cap * 2 : 8) * sizeof *r->v);
        memset(&r->v[r->n], 0, sizeof r->v[r->n]);
        if (parse_line(line, &r->v[r->n]) != 0) {
            snprintf(err, errlen,
                     "ARBOR_TENANT_LIMITS=%s line %zu: want `tenant spans_per_second burst max_spans_per_trace "
                     "max_bytes_per_trace` (0: unlimited; tenant IDs are at most %d bytes)",
                     path, line_no, ARBOR_TENANT_MAX);
            return ARBOR_ECONFIG;
        }
        r->n++;
    }
    for (size_t i = 0; i < r->n; i++)
        if (index_add(&r->index, r->v, sizeof *r->v, (uint32_t)i, hash_name(r->v[i].key.name)) != 0)
            return ENOMEM;
    return 0;
}

static int load(const char *path, rules_t **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "ARBOR_TENANT_LIMITS=%s: cannot be read", path);
        return ARBOR_ECONFIG;
    }
    rules_t *r = arbor_xcalloc(1, sizeof *r);
    int rc = read_rules(f, path, r, err, errlen);
    fclose(f);
    if (rc == ENOMEM)
        snprintf(err, errlen, "ARBOR_TENANT_LIMITS=%s: out of memory", path);
    if (rc != 0) {
        rules_free(r);
        return ARBOR_ECONFIG;
    }
    *out = r;
    return 0;
}

/* @p tenant's line, else the "*" line, else NULL. */
static const rule_t *rule_of(const rules_t *r, const char *tenant, uint64_t hash)
{
    uint32_t i = index_find(&r->index, r->v, sizeof *r->v, tenant, hash);
    if (i == NONE)
        i = index_find(&r->index, r->v, sizeof *r->v, "*", hash_name("*"));
    return i == NONE ? NULL : &r->v[i];
}

/* ---- the handle ---- */

int limits_open(const char *path, size_t max_buckets, limits_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    limits_t *l = arbor_xcalloc(1, sizeof *l);
    l->path = arbor_xstrdup(path);
    uint32_t per_stripe = (uint32_t)((max_buckets + STRIPES - 1) / STRIPES);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&l->stripes[i].mu, NULL);
        l->stripes[i].max = per_stripe ? per_stripe : 1;
        l->stripes[i].newest = l->stripes[i].oldest = NONE;
    }
    if (load(path, &l->rules, err, errlen) != 0) {
        limits_close(l);
        return ARBOR_ECONFIG;
    }
    *out = l;
    return 0;
}

int limits_reload(limits_t *l, char *err, size_t errlen)
{
    rules_t *fresh;
    if (l == NULL)
        return 0;
    int rc = load(l->path, &fresh, err, errlen);
    if (rc != 0)
        return rc;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_lock(&l->stripes[i].mu);
    rules_t *old = l->rules;
    l->rules = fresh; /* buckets stay as they are: a new burst caps them at their next take */
    for (int i = STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&l->stripes[i].mu);
    rules_free(old);
    return 0;
}

void limits_close(limits_t *l)
{
    if (l == NULL)
        return;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&l->stripes[i].mu);
        arbor_map64_free(&l->stripes[i].index);
        free(l->stripes[i].v);
    }
    rules_free(l->rules);
    free(l->path);
    free(l);
}

/* ---- buckets ---- */

static void lru_unlink(stripe_t *s, uint32_t i)
{
    bucket_t *b = &s->v[i];
    if (b->newer != NONE)
        s->v[b->newer].older = b->older;
    else
        s->newest = b->older;
    if (b->older != NONE)
        s->v[b->older].newer = b->newer;
    else
        s->oldest = b->newer;
}

static void lru_push_newest(stripe_t *s, uint32_t i)
{
    s->v[i].newer = NONE;
    s->v[i].older = s->newest;
    if (s->newest != NONE)
        s->v[s->newest].newer = i;
    s->newest = i;
    if (s->oldest == NONE)
        s->oldest = i;
}

/* A slot for a new bucket: a fresh one below the stripe's bound, else the
 * longest-idle bucket's, forgotten. NONE when memory runs out. */
static uint32_t free_slot(limits_t *l, stripe_t *s)
{
    if (s->n < s->max) {
        if (s->n == s->cap) {
            uint32_t cap = s->cap ? s->cap * 2 : 8;
            bucket_t *v = realloc(s->v, (size_t)(cap < s->max ? cap : s->max) * sizeof *v);
            if (v == NULL)
                return NONE;
            s->v = v;
            s->cap = cap < s->max ? cap : s->max;
        }
        return s->n++;
    }
    uint32_t i = s->oldest;
    lru_unlink(s, i);
    index_remove(&s->index, s->v, sizeof *s->v, i, s->v[i].hash);
    if (!__atomic_exchange_n(&l->evicted, 1, __ATOMIC_RELAXED))
        arbor_warn("tenant_buckets_full", "max=%u action=forget_longest_idle setting=ARBOR_TENANT_BUCKETS",
                   s->max * STRIPES);
    return i;
}

/* @p tenant's bucket, made (full) when it has none: NULL without memory. */
static bucket_t *bucket_of(limits_t *l, stripe_t *s, const char *tenant, uint64_t hash, const rule_t *rule,
                           uint64_t now_ns)
{
    uint32_t i = index_find(&s->index, s->v, sizeof *s->v, tenant, hash);
    if (i != NONE) {
        lru_unlink(s, i);
    } else {
        if ((i = free_slot(l, s)) == NONE)
            return NULL;
        bucket_t *b = &s->v[i];
        snprintf(b->key.name, sizeof b->key.name, "%s", tenant);
        b->hash = hash;
        b->level = rule->burst;
        b->last_ns = now_ns;
        if (index_add(&s->index, s->v, sizeof *s->v, i, hash) != 0) {
            s->n--; /* the slot was the last (a table at its bound always finds room) */
            return NULL;
        }
    }
    lru_push_newest(s, i);
    return &s->v[i];
}

static stripe_t *stripe_of(limits_t *l, uint64_t hash)
{
    return &l->stripes[hash >> 60];
}

/* Fill @p b for the time since it was last filled, then take @p spans from it. */
static int take_from(bucket_t *b, const rule_t *rule, size_t spans, uint64_t now_ns, int *retry_after_s)
{
    if (now_ns > b->last_ns)
        b->level = fmin(rule->burst, b->level + rule->rate * (double)(now_ns - b->last_ns) / 1e9);
    b->level = fmin(b->level, rule->burst); /* a reload may have made it smaller */
    b->last_ns = now_ns > b->last_ns ? now_ns : b->last_ns;
    if ((double)spans > rule->burst)
        return ARBOR_ETOOBIG;
    if ((double)spans > b->level) {
        *retry_after_s = (int)ceil(((double)spans - b->level) / rule->rate);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
        return ARBOR_ERATE;
    }
    b->level -= (double)spans;
    return 0;
}

int limits_take(limits_t *l, const char *tenant, size_t spans, uint64_t now_ns, int *retry_after_s)
{
    if (l == NULL)
        return 0;
    uint64_t hash = hash_name(tenant);
    stripe_t *s = stripe_of(l, hash);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    const rule_t *rule = rule_of(l->rules, tenant, hash);
    if (rule != NULL && rule->rate > 0) {
        bucket_t *b = bucket_of(l, s, tenant, hash, rule, now_ns);
        rc = b == NULL ? ENOMEM : take_from(b, rule, spans, now_ns, retry_after_s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void limits_trace_caps(limits_t *l, const char *tenant, uint64_t *max_spans, uint64_t *max_bytes)
{
    *max_spans = *max_bytes = 0;
    if (l == NULL)
        return;
    uint64_t hash = hash_name(tenant);
    stripe_t *s = stripe_of(l, hash);
    pthread_mutex_lock(&s->mu);
    const rule_t *rule = rule_of(l->rules, tenant, hash);
    if (rule != NULL) {
        *max_spans = rule->max_spans;
        *max_bytes = rule->max_bytes;
    }
    pthread_mutex_unlock(&s->mu);
}
