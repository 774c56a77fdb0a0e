/* The one hash table (arbor/map64.h). */
#include "arbor/map64.h"

#include "arbor/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void arbor_map64_init(arbor_map64_t *m)
{
    memset(m, 0, sizeof *m);
}

void arbor_map64_free(arbor_map64_t *m)
{
    free(m->keys);
    free(m->vals);
    arbor_map64_init(m);
}

void arbor_map64_clear(arbor_map64_t *m)
{
    if (m->keys)
        memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->n = 0;
    m->has_zero = 0;
}

static size_t slot_of(const arbor_map64_t *m, uint64_t key)
{
    return (size_t)arbor_hash_id(&key, 8) & (m->cap - 1);
}

/* Move every entry into arrays of @p cap slots. */
static int rehash(arbor_map64_t *m, size_t cap)
{
    uint64_t *keys = calloc(cap, sizeof *keys), *vals = malloc(cap * sizeof *vals);
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return ENOMEM;
    }
    arbor_map64_t grown = {keys, vals, cap, m->n, m->has_zero, m->zero_val};
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0)
            continue;
        size_t j = slot_of(&grown, m->keys[i]);
        while (keys[j] != 0)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = grown;
    return 0;
}

int arbor_map64_reserve(arbor_map64_t *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    return cap == m->cap ? 0 : rehash(m, cap);
}

uint64_t *arbor_map64_get(const arbor_map64_t *m, uint64_t key)
{
    if (key == 0)
        return m->has_zero ? (uint64_t *)&m->zero_val : NULL;
    if (m->cap == 0)
        return NULL;
    for (size_t j = slot_of(m, key);; j = (j + 1) & (m->cap - 1)) {
        if (m->keys[j] == key)
            return &m->vals[j];
        if (m->keys[j] == 0)
            return NULL;
    }
}

uint64_t *arbor_map64_put(arbor_map64_t *m, uint64_t key, int *added)
{
    uint64_t *v = arbor_map64_get(m, key);
    *added = v == NULL;
    if (v != NULL)
        return v;
    if (key == 0) {
        m->has_zero = 1;
        m->zero_val = 0;
        m->n++;
        return &m->zero_val;
    }
    if ((m->n + 1) * 2 > m->cap && arbor_map64_reserve(m, m->n + 1) != 0) {
        *added = 0;
        return NULL;
    }
    size_t j = slot_of(m, key);
    while (m->keys[j] != 0)
        j = (j + 1) & (m->cap - 1);
    m->keys[j] = key;
    m->vals[j] = 0;
    m->n++;
    return &m->vals[j];
}

/* Linear probing without tombstones: after emptying a slot, move back every
 * later entry of the run that would no longer be found past the gap. */
void arbor_map64_del(arbor_map64_t *m, uint64_t key)
{
    if (key == 0) {
        m->n -= m->has_zero;
        m->has_zero = 0;
        return;
    }
    uint64_t *v = arbor_map64_get(m, key);
    if (v == NULL)
        return;
    size_t gap = (size_t)(v - m->vals), mask = m->cap - 1;
    m->keys[gap] = 0;
    m->n--;
    for (size_t j = (gap + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->keys[j]);
        /* the entry stays unless its home lies cyclically in (gap, j] */
        if (((j - home) & mask) < ((j - gap) & mask))
            continue;
        m->keys[gap] = m->keys[j];
        m->vals[gap] = m->vals[j];
        m->keys[j] = 0;
        gap = j;
    }
}

uint64_t arbor_hash_fnv1a64(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
