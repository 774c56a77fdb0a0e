/* The JSON writer's UTF-8 handling: code point counts (with the eight-bytes-at-a-
 * time ASCII path), preview cuts that never split a character, and repair of
 * invalid bytes. */
#include "jsonw.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static arbor_iov_t S(const char *s)
{
    return arbor_iov(s, strlen(s));
}

/* What one string renders as, quotes included. */
static int renders(arbor_iov_t s, size_t cut_at, const char *want)
{
    jsonw_t w;
    jsonw_init(&w);
    if (cut_at)
        jsonw_str_cut(&w, s, cut_at);
    else
        jsonw_str(&w, s);
    int same = w.len == strlen(want) && memcmp(w.buf, want, w.len) == 0;
    if (!same)
        printf("#   got %.*s, want %s\n", (int)w.len, w.buf, want);
    jsonw_free(&w);
    return same;
}

/* Literal keys (jsonw_key_lit) write what jsonw_key writes, commas included. */
static void test_literal_keys(void)
{
    jsonw_t a, b;
    jsonw_init(&a);
    jsonw_init(&b);
    jsonw_object(&a);
    jsonw_object(&b);
    jsonw_key(&a, "span_id");
    jsonw_key_lit(&b, "span_id");
    jsonw_cstr(&a, "x");
    jsonw_cstr(&b, "x");
    jsonw_key(&a, "n");
    jsonw_key_lit(&b, "n");
    jsonw_object(&a);
    jsonw_object(&b);
    jsonw_key(&a, "");
    jsonw_key_lit(&b, "");
    jsonw_null(&a);
    jsonw_null(&b);
    jsonw_object_end(&a);
    jsonw_object_end(&b);
    jsonw_object_end(&a);
    jsonw_object_end(&b);
    ok(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0 && a.len == strlen("{\"span_id\":\"x\",\"n\":{\"\":null}}") &&
           memcmp(b.buf, "{\"span_id\":\"x\",\"n\":{\"\":null}}", b.len) == 0,
       "literal keys: the same bytes as jsonw_key, commas and nesting included (%.*s)", (int)b.len, b.buf);
    jsonw_free(&a);
    jsonw_free(&b);
}

/* Doubles print as the shortest decimal of 15 to 17 digits that reads back as
 * the same double (what JavaScript and Python print, denormals aside). */
static void test_doubles(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {{0.15, "0.15"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {2.5e-6, "2.5e-06"},
                 {1.0 / 3, "0.3333333333333333"},
                 {3, "3"},
                 {-0.0, "-0"},
                 {1e300, "1e+300"},
                 {5e-324, "4.94065645841247e-324"}, /* a denormal: 15 digits, not 1 */
                 {1.7976931348623157e308, "1.7976931348623157e+308"},
                 {123456789.123, "123456789.123"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jsonw_t w;
        jsonw_init(&w);
        jsonw_double(&w, cases[i].v);
        int same = w.len == strlen(cases[i].want) && memcmp(w.buf, cases[i].want, w.len) == 0;
        char text[40];
        snprintf(text, sizeof text, "%.*s", (int)w.len, w.buf);
        ok(same && strtod(text, NULL) == cases[i].v, "%s prints as the shortest round trip", cases[i].want);
        if (!same)
            printf("#   got %.*s\n", (int)w.len, w.buf);
        jsonw_free(&w);
    }
}

int main(void)
{
    test_literal_keys();
    test_doubles();
    is_int(utf8_length(S("")), 0, "empty string: 0 code points");
    is_int(utf8_length(S("abcdefghijklmnopqrstuvw")), 23, "ASCII past two 8-byte words");
    is_int(utf8_length(S("h\xc3\xa9llo")), 5, "two-byte character");
    is_int(utf8_length(S("abcdefg\xe2\x82\xac" "abcdefgh")), 16, "a euro sign across an 8-byte boundary");
    is_int(utf8_length(S("\xf0\x9f\x98\x80\xf0\x9f\x98\x80")), 2, "four-byte characters");
    is_int(utf8_length(S("abc\xff" "def")), 7, "an invalid byte counts as one (it becomes U+FFFD)");
    is_int(utf8_length(S("abcdefgh\xe2\x82")), 10, "a truncated sequence counts its bytes as replacements");

    char long_ascii[600];
    memset(long_ascii, 'q', sizeof long_ascii);
    arbor_iov_t q = arbor_iov(long_ascii, sizeof long_ascii);
    ok(utf8_longer_than(q, 512) && !utf8_longer_than(q, 600) && utf8_longer_than(q, 599),
       "longer_than at and around the exact length");
    ok(!utf8_longer_than(S("\xc3\xa9\xc3\xa9\xc3\xa9"), 3) && utf8_longer_than(S("\xc3\xa9\xc3\xa9\xc3\xa9"), 2),
       "longer_than counts code points, not bytes");

    ok(renders(S("abcdef"), 4, "\"abc\xe2\x80\xa6\""), "cut to 4: three characters and an ellipsis");
    ok(renders(S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 3, "\"\xc3\xa9\xc3\xa9\xe2\x80\xa6\""),
       "a cut never splits a two-byte character");
    ok(renders(S("abcdefghij\xf0\x9f\x98\x80xyz"), 12, "\"abcdefghij\xf0\x9f\x98\x80\xe2\x80\xa6\""),
       "a four-byte character after an ASCII run is kept whole");
    ok(renders(S("a\"b\\c\n"), 0, "\"a\\\"b\\\\c\\n\""), "quotes, backslashes and control characters escaped");
    ok(renders(S("a\xff" "b"), 0, "\"a\xef\xbf\xbd" "b\""), "an invalid byte is written as U+FFFD");
    /* the same inside long runs, where eight plain bytes are copied at a time */
    ok(renders(S("0123456789\"12345\\789012\x01" "45678901234\x7f!"), 0,
               "\"0123456789\\\"12345\\\\789012\\u000145678901234\x7f!\""),
       "quote, backslash and control byte found inside 8-byte runs");
    ok(renders(S("abcdefghijklmnop\xc3\xa9qrstuvwxyz012345"), 0, "\"abcdefghijklmnop\xc3\xa9qrstuvwxyz012345\""),
       "a two-byte character between 8-byte runs");
    ok(renders(S("abcdefghijklmnopqrstuvwxyz"), 11, "\"abcdefghij\xe2\x80\xa6\""),
       "a cut inside an 8-byte run lands on the exact character");
    char ctl[40];
    int all = 1;
    for (int at = 0; at < 24; at++) { /* one control byte at every offset of three words */
        memset(ctl, 'x', 24);
        ctl[at] = '\t';
        char want[60];
        int n = snprintf(want, sizeof want, "\"%.*s\\t%.*s\"", at, ctl, 23 - at, ctl + at + 1);
        (void)n;
        all &= renders(arbor_iov(ctl, 24), 0, want);
    }
    ok(all, "a tab is escaped at every offset of a 24-byte string");
    /* 16-byte runs (SSE2): every special byte at every offset of three blocks, and cuts inside a block */
    static const char *const specials[] = {"\"", "\\", "\x01", "\xc3\xa9", "\xff"};
    static const char *const escaped[] = {"\\\"", "\\\\", "\\u0001", "\xc3\xa9", "\xef\xbf\xbd"};
    all = 1;
    for (int k = 0; k < 5; k++)
        for (int at = 0; at < 48; at++) {
            char in[64], want[80];
            size_t sl = strlen(specials[k]);
            memset(in, 'y', at);
            memcpy(in + at, specials[k], sl);
            memset(in + at + sl, 'z', 47 - at);
            snprintf(want, sizeof want, "\"%.*s%s%.*s\"", at, in, escaped[k], 47 - at, in + at + sl);
            all &= renders(arbor_iov(in, (size_t)at + sl + (size_t)(47 - at)), 0, want);
            all &= utf8_length(arbor_iov(in, (size_t)at + sl + (size_t)(47 - at))) == 48;
        }
    ok(all, "quote, backslash, control byte, two-byte character and invalid byte at every offset of 48 bytes");
    char long_run[100];
    memset(long_run, 'r', sizeof long_run);
    all = 1;
    for (size_t cut = 2; cut < 40; cut++) {
        char want[64];
        snprintf(want, sizeof want, "\"%.*s\xe2\x80\xa6\"", (int)(cut - 1), long_run);
        all &= renders(arbor_iov(long_run, sizeof long_run), cut, want) && utf8_longer_than(arbor_iov(long_run, 100), cut) &&
               !utf8_longer_than(arbor_iov(long_run, cut), cut);
    }
    ok(all, "cuts at every length inside and across 16-byte runs");
    {
        jsonw_t w;
        char big[300];
        memset(big, 'k', sizeof big);
        jsonw_init(&w);
        jsonw_object(&w);
        jsonw_key(&w, "plain");
        jsonw_int(&w, 1);
        jsonw_key_iov(&w, S("user \"key\"\n"));
        jsonw_int(&w, 2);
        jsonw_key_iov(&w, arbor_iov(big, sizeof big));
        jsonw_int(&w, 3);
        jsonw_object_end(&w);
        char want[400];
        snprintf(want, sizeof want, "{\"plain\":1,\"user \\\"key\\\"\\n\":2,\"%.300s\":3}", big);
        ok(w.len == strlen(want) && memcmp(w.buf, want, w.len) == 0, "keys: plain ones copied, others escaped (got %.*s)",
           (int)(w.len > 60 ? 60 : w.len), w.buf);
        jsonw_free(&w);
    }
    {
        jsonw_t w;
        jsonw_init(&w);
        jsonw_array(&w);
        jsonw_int(&w, 0);
        jsonw_int(&w, -7);
        jsonw_int(&w, INT64_MIN);
        jsonw_int(&w, INT64_MAX);
        jsonw_uint(&w, UINT64_MAX);
        jsonw_uint(&w, 10);
        jsonw_array_end(&w);
        const char *want = "[0,-7,-9223372036854775808,9223372036854775807,18446744073709551615,10]";
        ok(w.len == strlen(want) && memcmp(w.buf, want, w.len) == 0, "integers at their limits (got %.*s)", (int)w.len,
           w.buf);
        jsonw_free(&w);
    }
    static const struct {
        uint64_t ns;
        const char *want;
    } times[] = {
        {1544712660123456789ull, "\"2018-12-13T14:51:00.123456Z\""},
        {1544712660000001000ull, "\"2018-12-13T14:51:00.000001Z\""}, /* same second: the cached text */
        {1544712661000000000ull, "\"2018-12-13T14:51:01Z\""},
        {1000ull, "\"1970-01-01T00:00:00.000001Z\""},
        {0, "null"},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        jsonw_t w;
        jsonw_init(&w);
        jsonw_time(&w, times[i].ns);
        ok(w.len == strlen(times[i].want) && memcmp(w.buf, times[i].want, w.len) == 0, "time %llu is %s (got %.*s)",
           (unsigned long long)times[i].ns, times[i].want, (int)w.len, w.buf);
        jsonw_free(&w);
    }
    return tap_done();
}
