/* Query parameters: durations, times, integers and percent-decoding, with the
 * inputs that used to reach undefined float-to-int casts (1e400s, inf, NaN). */
#include "params.h"
#include "tap.h"

#include <string.h>

static arbor_iov_t S(const char *s)
{
    return arbor_iov(s, strlen(s));
}

static void test_durations(void)
{
    static const struct {
        const char *in;
        uint64_t ns;
    } good[] = {{"0", 0}, {"100ms", 100000000}, {"1.5s", 1500000000}, {"1h30m", 5400000000000ull}, {"250us", 250000},
                {"3\xc2\xb5s", 3000}, {"7ns", 7}, {".5s", 500000000}, {"2555000h", 9198000000000000000ull}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t ns = 1;
        ok(params_go_duration(S(good[i].in), &ns) == 0 && ns == good[i].ns, "duration %s", good[i].in);
    }
    static const char *const bad[] = {"1e400s", "inf", "infs", "nans", "NaNs", "-1s", "1e3s", "0x10s", "5", "",
                                      "s", "1.2.3s", "2562048h", "2556000h", "99999999999999999999h", "1s ", " 1s", "1.s5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ns = 42;
        ok(params_go_duration(S(bad[i]), &ns) == -1 && ns == 42, "duration refused: \"%s\"", bad[i]);
    }
}

static void test_times(void)
{
    uint64_t ns = 0;
    ok(params_time(S("2026-11-21T08:57:25Z"), &ns) == 0 && ns == 1795251445000000000ull, "ISO-8601 with Z");
    ok(params_time(S("2026-11-21T08:57:25.5+00:00"), &ns) == 0 && ns == 1795251445500000000ull, "fraction, +00:00");
    ok(params_time(S("1795251445"), &ns) == 0 && ns == 1795251445000000000ull, "Unix seconds");
    ok(params_time(S("1795251445.25"), &ns) == 0 && ns == 1795251445250000000ull, "Unix seconds with a fraction");
    static const char *const bad[] = {"1e30", "1e400", "inf", "nan", "-1", "-0.5", "0x20", "yesterday", "",
                                      "2026-11-21T08:57:25+02:00", "2300-01-01T00:00:00Z", "2026-11-21T08:57:25.Z",
                                      "2026-11-21T08:57:25.1e9Z", "99999999999", "9999999999", ".", "1.", "1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns = 42;
        ok(params_time(S(bad[i]), &ns) == -1 && ns == 42, "time refused: \"%s\"", bad[i]);
    }
}

static void test_ints_and_decoding(void)
{
    long x = 0;
    ok(params_int(S("42"), 1, 100, &x) == 0 && x == 42, "integer in range");
    ok(params_int(S("0"), 1, 100, &x) == -1 && params_int(S("101"), 1, 100, &x) == -1, "out of range refused");
    ok(params_int(S("12abc"), 1, 100, &x) == -1 && params_int(S(" 12"), 1, 100, &x) == -1 &&
           params_int(S(""), 1, 100, &x) == -1 && params_int(S("99999999999999999999999"), 1, 100, &x) == -1,
       "junk, spaces, empty and overflow refused");
    char out[64];
    size_t n = params_percent_decode(out, "a%20b+c%2", 9, 1);
    ok(n == 7 && memcmp(out, "a b c%2", 7) == 0, "percent and plus decoded; a cut escape kept (%s)", out);
    n = params_percent_decode(out, "%zz%41", 6, 0);
    ok(n == 4 && memcmp(out, "%zzA", 4) == 0, "a bad escape kept as is");
    arbor_iov_t q = S("a=1&limit=20&flag&x=%41");
    arbor_iov_t v = params_find(q, "limit");
    ok(v.len == 2 && memcmp(v.base, "20", 2) == 0, "params_find: value");
    v = params_find(q, "flag");
    ok(v.base != NULL && v.len == 0, "params_find: a bare name is empty, not absent");
    ok(params_find(q, "lim").base == NULL && params_find(S(""), "a").base == NULL, "params_find: absent");
}

int main(void)
{
    test_durations();
    test_times();
    test_ints_and_decoding();
    return tap_done();
}
