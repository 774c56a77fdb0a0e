/* arbor/map64.h against a plain array, through random puts and deletes (keys
 * from a small range so runs of probes collide, wrap and get holes). */
#include "arbor/map64.h"

#include "tap.h"

#include <string.h>

#define KEYS 512

int main(void)
{
    arbor_map64_t m;
    uint64_t want[KEYS];
    int present[KEYS];
    memset(present, 0, sizeof present);
    arbor_map64_init(&m);
    uint64_t x = 42;
    int wrong = 0;
    for (int step = 0; step < 200000 && !wrong; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* keys 0..KEYS-1 scaled apart, 0 included */
        uint64_t k = (x >> 8) % KEYS, key = k * 0x10001ull;
        if (x & 1) {
            int added;
            uint64_t *v = arbor_map64_put(&m, key, &added);
            wrong |= added == present[k];
            *v = want[k] = x;
            present[k] = 1;
        } else {
            arbor_map64_del(&m, key);
            present[k] = 0;
        }
        if (step % 97 == 0) {
            size_t n = 0;
            for (int i = 0; i < KEYS; i++) {
                uint64_t *v = arbor_map64_get(&m, (uint64_t)i * 0x10001ull);
                n += present[i];
                wrong |= present[i] ? v == NULL || *v != want[i] : v != NULL;
            }
            wrong |= n != m.n;
        }
    }
    ok(!wrong, "200,000 random puts and deletes agree with an array (gets, values, counts)");
    arbor_map64_del(&m, 12345);
    ok(arbor_map64_get(&m, 12345) == NULL, "deleting an absent key does nothing");
    arbor_map64_free(&m);
    return tap_done();
}
