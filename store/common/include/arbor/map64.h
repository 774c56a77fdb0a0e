/**
 * @file map64.h
 * @brief Arbor's one hash table: 64-bit keys to 64-bit values, open addressing
 *        with linear probing, power-of-two capacity, grown at half full. Every
 *        key is allowed (0 too). Keys longer than 64 bits are hashed by the caller
 *        (arbor_hash_id) and, where a collision matters, checked against the
 *        full key it names.
 *
 * Ownership: the table owns its arrays; arbor_map64_free() releases them. Not
 * thread-safe. Nothing here aborts: growth failing is ENOMEM, the table intact.
 */
#ifndef ARBOR_MAP64_H
#define ARBOR_MAP64_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys, *vals; /* cap slots; a key of 0 in keys[] marks an empty slot */
    size_t cap, n;         /* n counts every entry, the zero key's included */
    int has_zero;          /* the key 0 lives here, not in the arrays */
    uint64_t zero_val;
} arbor_map64_t;

/** An empty table (nothing allocated until the first put). Cannot fail. */
void arbor_map64_init(arbor_map64_t *m);
/** Release the arrays; the table is empty and usable again. */
void arbor_map64_free(arbor_map64_t *m);
/** Forget every entry, keep the capacity. */
void arbor_map64_clear(arbor_map64_t *m);
/** Room for @p n entries without growing: 0 or ENOMEM. */
int arbor_map64_reserve(arbor_map64_t *m, size_t n);
/** The value of @p key, writable, or NULL when absent (valid until the next put). */
uint64_t *arbor_map64_get(const arbor_map64_t *m, uint64_t key);
/** The value of @p key, added as 0 when absent (then *added = 1, else 0); NULL on
 *  ENOMEM. Valid until the next put. */
uint64_t *arbor_map64_put(arbor_map64_t *m, uint64_t key, int *added);
/** Remove @p key (absent: nothing happens). Pointers from get/put are invalid after. */
void arbor_map64_del(arbor_map64_t *m, uint64_t key);

/** FNV-1a, 64 bits: stable across versions, for hashes the store keeps on disk
 *  (content-addressed records). In memory, arbor_hash_id mixes better. */
uint64_t arbor_hash_fnv1a64(const void *p, size_t n);

#endif
