/* Decompressed blocks shared by every reader of a store: a trace's pages, its
 * skeleton and its Tempo answer each need the same few blocks, and a block never
 * changes (its ID is a change sequence, never reused). Slots are a hash table
 * whose lookups scan a window of WINDOW slots, so emptying a slot is all a
 * removal takes; a clock hand evicts what was not used since it last passed,
 * keeping the raw bytes within the budget. */
#include "store_internal.h"

#include <stdlib.h>

#define SLOTS 1024
#define WINDOW 8

typedef struct {
    uint8_t key[BLOCK_KEY_LEN];
    uint8_t *raw; /* NULL: empty slot */
    size_t len;
    int used; /* touched since the clock hand last passed */
} slot_t;

struct arbor_block_cache {
    pthread_mutex_t lock;
    slot_t slots[SLOTS];
    size_t bytes, max_bytes, hand;
};

arbor_block_cache_t *arbor__block_cache_new(size_t max_bytes)
{
    arbor_block_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
    return c;
}

void arbor__block_cache_free(arbor_block_cache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(c->slots[i].raw);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t home(const uint8_t *key)
{
    return (size_t)arbor_hash_fnv1a64(key, BLOCK_KEY_LEN) % SLOTS;
}

static slot_t *find(arbor_block_cache_t *c, const uint8_t *key)
{
    for (size_t i = 0, h = home(key); i < WINDOW; i++) {
        slot_t *s = &c->slots[(h + i) % SLOTS];
        if (s->raw && memcmp(s->key, key, BLOCK_KEY_LEN) == 0)
            return s;
    }
    return NULL;
}

static void drop(arbor_block_cache_t *c, slot_t *s)
{
    c->bytes -= s->len;
    free(s->raw);
    s->raw = NULL;
    s->len = 0;
}

int arbor__block_cut(const uint8_t *raw, size_t raw_len, const arbor_block_ref_t *ref, arbor_arena_t *arena,
                     arbor_iov_t *out)
{
    if (ref->offset > raw_len || ref->len > raw_len - ref->offset)
        return ARBOR_EDECODE;
    char *copy = arbor_arena_dup(arena, raw + ref->offset, ref->len);
    if (copy == NULL && ref->len > 0)
        return ENOMEM;
    *out = arbor_iov(copy, ref->len);
    return 0;
}

int arbor__block_cache_cut(arbor_block_cache_t *c, const uint8_t *key, const arbor_block_ref_t *ref,
                           arbor_arena_t *arena, arbor_iov_t *out)
{
    pthread_mutex_lock(&c->lock);
    slot_t *s = find(c, key);
    int rc = ARBOR_ENOTFOUND;
    if (s) {
        s->used = 1;
        rc = arbor__block_cut(s->raw, s->len, ref, arena, out);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Takes @p raw (malloc'd) over; frees it when it is not kept. */
void arbor__block_cache_put(arbor_block_cache_t *c, const uint8_t *key, uint8_t *raw, size_t len)
{
    pthread_mutex_lock(&c->lock);
    if (len > c->max_bytes / 4 || find(c, key)) { /* too big to keep, or another reader was quicker */
        pthread_mutex_unlock(&c->lock);
        free(raw);
        return;
    }
    slot_t *room = NULL;
    size_t h = home(key);
    for (size_t i = 0; i < WINDOW && room == NULL; i++)
        if (c->slots[(h + i) % SLOTS].raw == NULL)
            room = &c->slots[(h + i) % SLOTS];
    if (room == NULL) /* a full window: its first slot goes */
        drop(c, room = &c->slots[h]);
    memcpy(room->key, key, BLOCK_KEY_LEN);
    room->raw = raw;
    room->len = len;
    room->used = 1;
    c->bytes += len;
    for (size_t turns = 0; c->bytes > c->max_bytes && turns < 2 * SLOTS; turns++) {
        slot_t *s = &c->slots[c->hand++ % SLOTS];
        if (s->raw == NULL || s == room)
            continue;
        if (s->used) /* a second chance */
            s->used = 0;
        else
            drop(c, s);
    }
    pthread_mutex_unlock(&c->lock);
}
