/* A short LRU list under one mutex: a handful of large trees fit the budget, so
 * a linear lookup over the key bytes costs less than the hashing would. */
#include "tree_cache.h"

#include <pthread.h>
#include <stdlib.h>

struct tree_ref {
    tree_t tree;
    struct tree_ref *prev, *next; /* the LRU list, newest first; both NULL when not listed */
    unsigned refs;                /* holders, the list counting as one */
    int listed;
    size_t bytes, key_len;
    uint8_t *key;
};

static struct {
    pthread_mutex_t lock;
    tree_ref_t *head, *tail;
    size_t max_bytes, bytes, trees;
    uint64_t hits, misses;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* tenant(4) · per trace: trace ID(16) · last sequence(8) */
static uint8_t *make_key(arbor_reader_t *r, const uint8_t (*ids)[16], const uint64_t *seqs, size_t n, size_t *len)
{
    *len = 4 + n * 24;
    uint8_t *k = arbor_xmalloc(*len);
    uint32_t tenant = arbor_reader_tenant_id(r);
    memcpy(k, &tenant, 4);
    for (size_t i = 0; i < n; i++) {
        memcpy(k + 4 + i * 24, ids[i], 16);
        memcpy(k + 4 + i * 24 + 16, &seqs[i], 8);
    }
    return k;
}

static void ref_free(tree_ref_t *e)
{
    tree_free(&e->tree);
    free(e->key);
    free(e);
}

/* Callers hold the lock. */
static void unlist(tree_ref_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        cache.head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cache.tail = e->prev;
    e->prev = e->next = NULL;
    e->listed = 0;
    cache.bytes -= e->bytes;
    cache.trees--;
}

static void push_front(tree_ref_t *e)
{
    e->prev = NULL;
    e->next = cache.head;
    if (cache.head)
        cache.head->prev = e;
    cache.head = e;
    if (!cache.tail)
        cache.tail = e;
    e->listed = 1;
    cache.bytes += e->bytes;
    cache.trees++;
}

/* Unlist trees from the old end until the budget holds; returns those now unreferenced. */
static tree_ref_t *evict_locked(size_t budget)
{
    tree_ref_t *dead = NULL;
    while (cache.tail && cache.bytes > budget) {
        tree_ref_t *e = cache.tail;
        unlist(e);
        if (--e->refs == 0) {
            e->next = dead;
            dead = e;
        }
    }
    return dead;
}

static void free_list(tree_ref_t *dead)
{
    while (dead) {
        tree_ref_t *next = dead->next;
        ref_free(dead);
        dead = next;
    }
}

void tree_cache_configure(size_t max_bytes)
{
    pthread_mutex_lock(&cache.lock);
    cache.max_bytes = max_bytes;
    tree_ref_t *dead = evict_locked(max_bytes);
    pthread_mutex_unlock(&cache.lock);
    free_list(dead);
}

void tree_cache_clear(void)
{
    pthread_mutex_lock(&cache.lock);
    tree_ref_t *dead = evict_locked(0);
    pthread_mutex_unlock(&cache.lock);
    free_list(dead);
}

static tree_ref_t *find_locked(const uint8_t *key, size_t len)
{
    for (tree_ref_t *e = cache.head; e; e = e->next)
        if (e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

/* Keep @p e (one reference already the caller's) unless it is over the budget
 * or an equal tree got there first. */
static void insert(tree_ref_t *e)
{
    pthread_mutex_lock(&cache.lock);
    tree_ref_t *dead = NULL;
    if (e->bytes <= cache.max_bytes && find_locked(e->key, e->key_len) == NULL) {
        e->refs++;
        push_front(e);
        dead = evict_locked(cache.max_bytes);
    }
    pthread_mutex_unlock(&cache.lock);
    free_list(dead);
}

int tree_cache_acquire(arbor_reader_t *r, const uint8_t (*ids)[16], const uint64_t *seqs, size_t n,
                       tree_ref_t **out)
{
    size_t len;
    uint8_t *key = make_key(r, ids, seqs, n, &len);
    pthread_mutex_lock(&cache.lock);
    int keep = cache.max_bytes > 0;
    tree_ref_t *e = keep ? find_locked(key, len) : NULL;
    if (e) {
        unlist(e);
        push_front(e);
        e->refs++;
        cache.hits++;
    } else {
        cache.misses++;
    }
    pthread_mutex_unlock(&cache.lock);
    if (e) {
        free(key);
        *out = e;
        return 0;
    }
    e = arbor_xcalloc(1, sizeof *e);
    int rc = tree_load(&e->tree, r, ids, n);
    if (rc) {
        free(key);
        free(e);
        return rc;
    }
    e->refs = 1;
    e->key = key;
    e->key_len = len;
    if (keep && e->tree.n_real >= TREE_CACHE_MIN_SPANS) {
        tree_detach(&e->tree);
        e->bytes = tree_bytes(&e->tree) + len + sizeof *e;
        insert(e);
    }
    *out = e;
    return 0;
}

const tree_t *tree_ref_tree(const tree_ref_t *ref)
{
    return &ref->tree;
}

void tree_cache_release(tree_ref_t *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&cache.lock);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&cache.lock);
    if (last)
        ref_free(e);
}

void tree_cache_stats(tree_cache_stats_t *out)
{
    pthread_mutex_lock(&cache.lock);
    out->hits = cache.hits;
    out->misses = cache.misses;
    out->bytes = cache.bytes;
    out->trees = cache.trees;
    pthread_mutex_unlock(&cache.lock);
}
