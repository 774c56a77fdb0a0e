#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void jsonw_grow(jsonw_t *w, size_t n)
{
    size_t cap = w->cap ? w->cap * 2 : 4096;
    while (cap < w->len + n)
        cap *= 2;
    char *b = arbor_xrealloc(w->buf, cap);
    w->buf = b;
    w->cap = cap;
}

static inline void reserve(jsonw_t *w, size_t n)
{
    if (w->len + n > w->cap)
        jsonw_grow(w, n);
}

static inline void put(jsonw_t *w, const char *s, size_t n)
{
    if (n == 0) /* memcpy into a still-NULL buffer is undefined, even for 0 bytes */
        return;
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static inline void putc_(jsonw_t *w, char c)
{
    reserve(w, 1);
    w->buf[w->len++] = c;
}

void jsonw_init(jsonw_t *w)
{
    memset(w, 0, sizeof *w);
}

void jsonw_free(jsonw_t *w)
{
    free(w->buf);
    jsonw_init(w);
}

char *jsonw_take(jsonw_t *w, size_t *len)
{
    char *b = w->buf;
    *len = w->len;
    jsonw_init(w);
    return b;
}

/* Before any value: a comma if this container already has one. */
static inline void value_start(jsonw_t *w)
{
    if (w->need_comma[w->depth])
        putc_(w, ',');
    w->need_comma[w->depth] = 1;
}

static void open_(jsonw_t *w, char c)
{
    value_start(w);
    putc_(w, c);
    if (w->depth < JSONW_MAX_DEPTH - 1)
        w->depth++;
    w->need_comma[w->depth] = 0;
}

static void close_(jsonw_t *w, char c)
{
    putc_(w, c);
    if (w->depth > 0)
        w->depth--;
}

void jsonw_object(jsonw_t *w)
{
    open_(w, '{');
}
void jsonw_object_end(jsonw_t *w)
{
    close_(w, '}');
}
void jsonw_array(jsonw_t *w)
{
    open_(w, '[');
}
void jsonw_array_end(jsonw_t *w)
{
    close_(w, ']');
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Prompts and responses are mostly plain ASCII: these measure such runs 16 bytes
 * at a time (SSE2, which every x86-64 has; eight bytes at a time elsewhere). */
static int is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if defined(__SSE2__)
/* Leading bytes of p[0, n) that need no escaping or decoding: no control
 * character, quote, backslash or byte >= 0x80 (signed, those are below 0x20). */
static size_t plain_run(const unsigned char *p, size_t n)
{
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    while (i < n && is_plain(p[i]))
        i++;
    return i;
}

/* Leading ASCII bytes of p[0, n). */
static size_t ascii_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}
#else
static size_t plain_run(const unsigned char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* the usual zero-byte tricks */
        uint64_t v;
        memcpy(&v, p + i, 8);
        uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
        if ((((v - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b) | v) & highs) != 0)
            break;
    }
    while (i < n && is_plain(p[i]))
        i++;
    return i;
}

static size_t ascii_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (uint64_t v; i + 8 <= n && (memcpy(&v, p + i, 8), (v & 0x8080808080808080ull) == 0);)
        i += 8;
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}
#endif

/* Code points in @p s, counting no further than @p limit + 1: callers asking
 * "longer than limit?" of a long prompt stop early. An invalid byte counts as
 * one (it becomes U+FFFD). */
static size_t utf8_count(arbor_iov_t s, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s.base;
    size_t i = 0, n = 0;
    while (i < s.len && n <= limit) {
        size_t k = ascii_run(p + i, s.len - i < limit + 1 - n ? s.len - i : limit + 1 - n);
        i += k;
        n += k;
        if (k || i == s.len || n > limit)
            continue;
        size_t l = utf8_seq(p + i, s.len - i);
        i += l ? l : 1;
        n++;
    }
    return n;
}

size_t utf8_length(arbor_iov_t s)
{
    return utf8_count(s, SIZE_MAX - 8);
}

int utf8_longer_than(arbor_iov_t s, size_t max_chars)
{
    return s.len > max_chars && utf8_count(s, max_chars) > max_chars;
}

/* Escaped string body of at most max_chars code points. */
static void write_escaped(jsonw_t *w, arbor_iov_t s, size_t max_chars)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s.base;
    size_t i = 0, chars = 0, run = 0;
    reserve(w, s.len + 2);
    while (i < s.len) {
        if (chars == max_chars) {
            put(w, (const char *)p + run, i - run);
            return;
        }
        size_t l = plain_run(p + i, s.len - i < max_chars - chars ? s.len - i : max_chars - chars);
        if (l) { /* plain ASCII: extend the run */
            i += l;
            chars += l;
            continue;
        }
        unsigned char c = p[i];
        put(w, (const char *)p + run, i - run);
        if (c < 0x80) {
            char esc[6] = {'\\', 0};
            switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                put(w, esc, 6);
                esc[1] = 0;
            }
            if (esc[1])
                put(w, esc, 2);
            i++;
        } else if ((l = utf8_seq(p + i, s.len - i)) != 0) {
            put(w, (const char *)p + i, l);
            i += l;
        } else {
            put(w, "\xef\xbf\xbd", 3); /* U+FFFD for each invalid byte */
            i++;
        }
        chars++;
        run = i;
    }
    put(w, (const char *)p + run, i - run);
}

void jsonw_key_iov(jsonw_t *w, arbor_iov_t key)
{
    value_start(w);
    const unsigned char *p = (const unsigned char *)key.base;
    if (key.len < 256 && plain_run(p, key.len) == key.len) { /* the usual key: one copy, quotes and colon */
        reserve(w, key.len + 3);
        w->buf[w->len++] = '"';
        memcpy(w->buf + w->len, p, key.len);
        w->len += key.len;
        w->buf[w->len++] = '"';
        w->buf[w->len++] = ':';
    } else {
        putc_(w, '"');
        write_escaped(w, key, SIZE_MAX);
        put(w, "\":", 2);
    }
    w->need_comma[w->depth] = 0; /* the value that follows needs no comma */
}

void jsonw_key(jsonw_t *w, const char *key)
{
    jsonw_key_iov(w, arbor_iov(key, strlen(key)));
}

static void after_key_value(jsonw_t *w)
{
    value_start(w);
}

void jsonw_str(jsonw_t *w, arbor_iov_t s)
{
    after_key_value(w);
    reserve(w, s.len + 2);
    w->buf[w->len++] = '"';
    write_escaped(w, s, SIZE_MAX);
    putc_(w, '"');
}

void jsonw_str_cut(jsonw_t *w, arbor_iov_t s, size_t max_chars)
{
    after_key_value(w);
    putc_(w, '"');
    write_escaped(w, s, max_chars > 0 ? max_chars - 1 : 0);
    put(w, "\xe2\x80\xa6", 3); /* … */
    putc_(w, '"');
}

void jsonw_cstr(jsonw_t *w, const char *s)
{
    jsonw_str(w, arbor_iov(s, strlen(s)));
}

/* Decimal digits of @p v into @p out (room for 20); returns their count. Spans
 * are full of integers, and snprintf was a tenth of rendering a big tree. */
static size_t decimal(char *out, uint64_t v)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

void jsonw_int(jsonw_t *w, int64_t v)
{
    char b[24];
    after_key_value(w);
    if (v < 0) {
        b[0] = '-';
        put(w, b, 1 + decimal(b + 1, 0 - (uint64_t)v));
    } else {
        put(w, b, decimal(b, (uint64_t)v));
    }
}

void jsonw_uint(jsonw_t *w, uint64_t v)
{
    char b[24];
    after_key_value(w);
    put(w, b, decimal(b, v));
}

void jsonw_double(jsonw_t *w, double v)
{
    char b[32];
    after_key_value(w);
    if (!isfinite(v)) { /* JSON has no NaN/Infinity: proto3 JSON spells them as strings */
        const char *s = isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        put(w, s, strlen(s));
        return;
    }
    /* 17 digits always read back the same double but print 0.15 as
     * 0.14999999999999999: take the fewest of 15..17 that do */
    int n = 0;
    for (int digits = 15; digits <= 17; digits++)
        if ((n = snprintf(b, sizeof b, "%.*g", digits, v)) > 0 && strtod(b, NULL) == v)
            break;
    put(w, b, (size_t)n);
}

void jsonw_bool(jsonw_t *w, int v)
{
    after_key_value(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(jsonw_t *w)
{
    after_key_value(w);
    put(w, "null", 4);
}

void jsonw_hex(jsonw_t *w, const void *bytes, size_t n)
{
    char b[130];
    if (n > 64)
        n = 64;
    arbor_hex_encode(b, bytes, n);
    jsonw_str(w, arbor_iov(b, 2 * n));
}

/* "YYYY-MM-DDTHH:MM:SS" of one second, kept per thread: a trace's spans mostly
 * share their seconds, and strftime dominated rendering big trees. */
static void iso_seconds(time_t sec, char out[19])
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[20];
    if (sec != cached_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        if (strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
            memcpy(cached, "0000-00-00T00:00:00", 19); /* years past 9999: not from a real clock */
        cached_sec = sec;
    }
    memcpy(out, cached, 19);
}

void jsonw_time(jsonw_t *w, uint64_t ns)
{
    if (ns == 0) {
        jsonw_null(w);
        return;
    }
    char b[32];
    unsigned us = (unsigned)(ns % 1000000000u / 1000u);
    size_t n = 19;
    iso_seconds((time_t)(ns / 1000000000u), b);
    if (us) {
        b[n++] = '.';
        for (int d = 5; d >= 0; d--, us /= 10)
            b[n + (size_t)d] = (char)('0' + us % 10);
        n += 6;
    }
    b[n++] = 'Z';
    after_key_value(w);
    putc_(w, '"');
    put(w, b, n);
    putc_(w, '"');
}

void jsonw_raw(jsonw_t *w, const char *json, size_t len)
{
    after_key_value(w);
    put(w, json, len);
}

void jsonw_append(jsonw_t *w, const char *text, size_t len)
{
    put(w, text, len);
}
