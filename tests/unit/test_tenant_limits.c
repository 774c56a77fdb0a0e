/* Per-tenant limits (collector/tenant_limits.c, included to reach its statics):
 * token buckets kept across reloads, a bounded bucket table that forgets the
 * longest-idle tenant, and tenants whose names hash alike kept apart. */
#include "../../collector/tenant_limits.c"

#include "tap.h"

#include <unistd.h>

#define SEC 1000000000ull

static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static limits_t *open_limits(const char *text, size_t max_buckets)
{
    char err[256];
    limits_t *l = NULL;
    write_file(text);
    if (limits_open(path, max_buckets, &l, err, sizeof err) != 0)
        printf("# limits_open: %s\n", err);
    return l;
}

static int take(limits_t *l, const char *tenant, size_t n, uint64_t now)
{
    int retry = 0;
    return limits_take(l, tenant, n, now, &retry);
}

/* Every bucket the table holds, over its stripes. */
static size_t buckets_held(limits_t *l)
{
    size_t n = 0;
    for (int i = 0; i < STRIPES; i++)
        n += l->stripes[i].n;
    return n;
}

static void test_rate_and_burst(void)
{
    limits_t *l = open_limits("acme 10 20 0 0\n", 1000);
    is_int(take(l, "acme", 20, SEC), 0, "a full burst is taken at once");
    is_int(take(l, "acme", 1, SEC), ARBOR_ERATE, "then the bucket is empty");
    int retry = 0;
    is_int(limits_take(l, "acme", 15, SEC, &retry), ARBOR_ERATE, "15 more do not fit");
    is_int(retry, 2, "and would in 2 s (10 per second)");
    is_int(take(l, "acme", 10, 2 * SEC), 0, "a second later 10 fit");
    is_int(take(l, "acme", 21, 100 * SEC), ARBOR_ETOOBIG, "more than the burst never fits");
    is_int(take(l, "other", 1000000, SEC), 0, "a tenant without a line and no `*` is unlimited");
    limits_close(l);
}

/* SIGHUP re-reads the file: the limits change, the buckets keep their fill, for
 * tenants of their own line and for those `*` covers alike. */
static void test_reload_keeps_fill(void)
{
    char err[256];
    limits_t *l = open_limits("acme 10 20 0 0\n* 10 20 0 0\n", 1000);
    is_int(take(l, "acme", 20, SEC), 0, "acme takes its burst");
    is_int(take(l, "minted", 20, SEC), 0, "a tenant under `*` takes its burst");
    write_file("acme 10 20 0 0\n* 10 20 0 0\n# touched\n");
    is_int(limits_reload(l, err, sizeof err), 0, "reload");
    is_int(take(l, "acme", 1, SEC), ARBOR_ERATE, "acme's bucket is still empty after the reload");
    is_int(take(l, "minted", 1, SEC), ARBOR_ERATE, "so is the `*` tenant's: a reload is no refill");
    write_file("acme 1000 5 0 0\n* 1 100 0 0\n");
    is_int(limits_reload(l, err, sizeof err), 0, "reload with new limits");
    is_int(take(l, "acme", 5, SEC + SEC / 100), 0, "acme refills at its new rate (10 in 10 ms), up to its new burst");
    is_int(take(l, "acme", 1, SEC + SEC / 100), ARBOR_ERATE, "and no further");
    is_int(take(l, "minted", 50, SEC), ARBOR_ERATE, "the `*` tenant's bigger burst is not handed out by the reload");
    is_int(take(l, "minted", 1, 2 * SEC), 0, "it refills at its new rate");
    write_file("acme 10 oops 0 0\n");
    ok(limits_reload(l, err, sizeof err) == ARBOR_ECONFIG && strstr(err, "line 1"), "a bad file is refused: %s", err);
    is_int(take(l, "acme", 1, SEC + SEC / 100), ARBOR_ERATE, "and the table in force stays, fills and all");
    limits_close(l);
}

static void test_bounded(void)
{
    limits_t *l = open_limits("* 10 20 0 0\n", 64);
    char name[32];
    is_int(take(l, "busy", 20, SEC), 0, "a tenant empties its bucket");
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "minted-%d", i);
        if (take(l, name, 1, SEC) != 0)
            break;
        take(l, "busy", 0, SEC); /* busy keeps writing meanwhile */
    }
    ok(buckets_held(l) <= 64, "100,000 minted tenants leave at most 64 buckets (%zu)", buckets_held(l));
    is_int(take(l, "busy", 1, SEC), ARBOR_ERATE, "a tenant that kept writing keeps its (empty) bucket");
    ok(take(l, "minted-0", 20, SEC) == 0, "the longest-idle one was forgotten: it starts again with a full burst");
    limits_close(l);

    l = open_limits("* 0 0 0 0\nfree 0 0 5 0\n", 64);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "t%d", i);
        take(l, name, 1, SEC);
    }
    is_int(buckets_held(l), 0, "unlimited tenants need no bucket");
    uint64_t spans, bytes;
    limits_trace_caps(l, "free", &spans, &bytes);
    ok(spans == 5 && bytes == 0, "per-trace caps of a listed tenant");
    limits_close(l);
}

/* A tenant name of 16 bytes whose hash equals @p of's: the second 8-byte word
 * cancels the difference the first one made (arbor_hash_id mixes word by word). */
static int colliding_name(const char *of, char out[17])
{
    for (uint64_t seed = 1; seed < 1000000; seed++) {
        char first[20];
        snprintf(first, sizeof first, "%08llx", (unsigned long long)(seed * 0x9e3779b1u) & 0xffffffffull);
        memcpy(out, first, 8);
        uint64_t a, b, w2;
        uint64_t h0 = 0x9e3779b97f4a7c15ull ^ 16;
        memcpy(&a, of, 8);
        memcpy(&b, out, 8);
        memcpy(&w2, of + 8, 8);
        /* the state after the first word, for each name */
        uint64_t s[2] = {h0 ^ a, h0 ^ b};
        for (int k = 0; k < 2; k++) {
            s[k] ^= s[k] >> 30;
            s[k] *= 0xbf58476d1ce4e5b9ull;
            s[k] ^= s[k] >> 27;
            s[k] *= 0x94d049bb133111ebull;
            s[k] ^= s[k] >> 31;
        }
        w2 ^= s[0] ^ s[1];
        memcpy(out + 8, &w2, 8);
        out[16] = '\0';
        if (strlen(out) == 16 && strcmp(out, of) != 0 && arbor_hash_id(out, 16) == arbor_hash_id(of, 16))
            return 0;
    }
    return -1;
}

static void test_collisions(void)
{
    char twin[17];
    const char *acme = "acme-workspace-1";
    ok(colliding_name(acme, twin) == 0, "a name of the same hash as %s", acme);
    limits_t *l = open_limits("acme-workspace-1 10 20 7 0\n* 10 20 0 0\n", 64);
    is_int(take(l, acme, 20, SEC), 0, "acme takes its burst");
    is_int(take(l, twin, 20, SEC), 0, "its hash twin has a bucket of its own");
    is_int(take(l, twin, 1, SEC), ARBOR_ERATE, "which it emptied");
    uint64_t spans, bytes;
    limits_trace_caps(l, twin, &spans, &bytes);
    is_int(spans, 0, "the twin gets `*`'s caps, not acme's line");
    limits_trace_caps(l, acme, &spans, &bytes);
    is_int(spans, 7, "acme keeps its own");
    /* the twin's bucket goes (evicted) while acme's stays */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        take(l, name, 1, SEC);
        take(l, acme, 0, SEC);
    }
    is_int(take(l, acme, 1, SEC), ARBOR_ERATE, "acme's bucket outlived its twin's");
    is_int(take(l, twin, 20, SEC), 0, "the twin was forgotten and comes back full");
    limits_close(l);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/arbor-limits-%d", (int)getpid());
    test_rate_and_burst();
    test_reload_keeps_fill();
    test_bounded();
    test_collisions();
    unlink(path);
    return tap_done();
}
