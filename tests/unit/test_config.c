/* The config table's value parsers, reached directly (the test includes the .c,
 * as h2o's do): addresses, sizes and durations with their bounds, booleans,
 * enums, integers, and the edit distance behind "did you mean". */
#include "../../store/common/src/config.c"

#include "tap.h"

static void test_addresses(void)
{
    arbor_addr_t a;
    char err[256];
    ok(parse_addr("127.0.0.1:4318", &a, err, sizeof err) == 0 && a.enabled && a.port == 4318 &&
           strcmp(a.host, "127.0.0.1") == 0,
       "host:port");
    ok(parse_addr("[::1]:0", &a, err, sizeof err) == 0 && a.port == 0 && strcmp(a.host, "::1") == 0,
       "[v6]:port, port 0");
    ok(parse_addr("OFF", &a, err, sizeof err) == 0 && !a.enabled, "off, any case");
    static const char *const bad[] = {"nowhere", ":80", "h:", "h:65536", "h:-1", "h:12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(parse_addr(bad[i], &a, err, sizeof err) == -1 && err[0], "refused: %s (%s)", bad[i], err);
}

static void test_sizes_and_durations(void)
{
    arbor_cfg_entry_t size = {"map-size", ARBOR_CFG_SIZE, NULL, 0, "", NULL, 1 << 20, (int64_t)1 << 40};
    arbor_cfg_entry_t dur = {"retention", ARBOR_CFG_DURATION, NULL, 0, "", NULL, 0, 0};
    uint64_t v;
    char err[256];
    ok(parse_size_or_duration(&size, "16GiB", &v, err, sizeof err) == 0 && v == (uint64_t)16 << 30, "16GiB");
    ok(parse_size_or_duration(&size, "1.5MiB", &v, err, sizeof err) == 0 && v == 1572864, "1.5MiB");
    ok(parse_size_or_duration(&size, "2MB", &v, err, sizeof err) == 0 && v == 2000000, "decimal MB");
    ok(parse_size_or_duration(&size, "12", &v, err, sizeof err) == -1 && strstr(err, "from 1048576 bytes"),
       "below the bound: the bounds named (%s)", err);
    ok(parse_size_or_duration(&size, "lots", &v, err, sizeof err) == -1, "not a size");
    ok(parse_size_or_duration(&dur, "72h", &v, err, sizeof err) == 0 && v == 72u * 3600000, "72h");
    ok(parse_size_or_duration(&dur, "250ms", &v, err, sizeof err) == 0 && v == 250, "250ms");
    ok(parse_size_or_duration(&dur, "7d", &v, err, sizeof err) == 0 && v == 7u * 86400000, "7d");
    ok(parse_size_or_duration(&dur, "1e30h", &v, err, sizeof err) == -1, "beyond 64 bits: refused");
    ok(parse_size_or_duration(&dur, "-1s", &v, err, sizeof err) == -1 && parse_size_or_duration(&dur, "5", &v, err,
                                                                                                     sizeof err) == -1,
       "negative, or without a unit: refused");
}

static void test_bools_enums_ints(void)
{
    static const char *const modes[] = {"commit", "none", NULL};
    arbor_cfg_entry_t e = {"sync", ARBOR_CFG_ENUM, NULL, 0, "", modes, 0, 0};
    arbor_cfg_entry_t n = {"threads", ARBOR_CFG_INT, NULL, 0, "", NULL, 1, 64};
    int b = -1, i = -1;
    int64_t x = 0;
    char err[256];
    ok(parse_bool("Yes", &b, err, sizeof err) == 0 && b == 1 && parse_bool("off", &b, err, sizeof err) == 0 && b == 0,
       "booleans");
    ok(parse_bool("maybe", &b, err, sizeof err) == -1, "not a boolean");
    ok(parse_enum(&e, "NONE", &i, err, sizeof err) == 0 && i == 1, "an enum, any case");
    ok(parse_enum(&e, "sometimes", &i, err, sizeof err) == -1 && strstr(err, "not one of: commit none"),
       "an enum error lists the choices (%s)", err);
    ok(parse_int(&n, "64", &x, err, sizeof err) == 0 && x == 64, "an integer at its bound");
    ok(parse_int(&n, "65", &x, err, sizeof err) == -1 && parse_int(&n, "", &x, err, sizeof err) == -1 &&
           parse_int(&n, "3x", &x, err, sizeof err) == -1,
       "out of range, empty, junk: refused");
}

static void test_edit_distance(void)
{
    ok(edit_distance("ARBOR_MAP_SIZ", "ARBOR_MAP_SIZE") == 1, "one deletion");
    ok(edit_distance("ARBOR_RETENTON", "ARBOR_RETENTION") == 1, "one insertion");
    ok(edit_distance("ARBOR_SNYC", "ARBOR_SYNC") == 2, "a swap is two");
    ok(edit_distance("", "abc") == 3 && edit_distance("same", "same") == 0, "empty and equal");
}

int main(void)
{
    test_addresses();
    test_sizes_and_durations();
    test_bools_enums_ints();
    test_edit_distance();
    return tap_done();
}
