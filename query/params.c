#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t params_percent_decode(char *out, const char *s, size_t n, int plus_is_space)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        if (s[i] == '%' && i + 2 < n && arbor_hex_decode(&b, 1, s + i + 1, 2) == 0) {
            out[j++] = (char)b;
            i += 2;
        } else {
            out[j++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = '\0';
    return j;
}

arbor_iov_t params_find(arbor_iov_t q, const char *name)
{
    const char *p = q.base, *end = q.base + q.len;
    size_t nl = strlen(name);
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end, *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nl && memcmp(p, name, nl) == 0)
            return eq ? arbor_iov(eq + 1, (size_t)(stop - eq - 1)) : arbor_iov("", 0);
        p = stop + 1;
    }
    return ARBOR_IOV_NULL;
}

/* A NUL-terminated copy of a short value (strto* need one); -1 if too long. */
static int terminated(arbor_iov_t v, char *buf, size_t cap)
{
    if (v.len == 0 || v.len >= cap || memchr(v.base, '\0', v.len) != NULL)
        return -1;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    return 0;
}

int params_int(arbor_iov_t v, long lo, long hi, long *out)
{
    char buf[32], *end;
    if (terminated(v, buf, sizeof buf) != 0 || !(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return -1;
    errno = 0;
    long x = strtol(buf, &end, 10);
    if (*end != '\0' || errno != 0 || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int params_double_to_ns(double d, uint64_t *ns)
{
    if (!isfinite(d) || d < 0 || d >= 9.2e18)
        return -1;
    *ns = (uint64_t)d;
    return 0;
}

/* Digits, at most one '.', and at least one digit: what strtod may read here
 * (it would also take "inf", "nan", hex floats and exponents). */
static size_t decimal_len(const char *s, const char *end)
{
    size_t n = 0, digits = 0, dots = 0;
    for (; s + n < end; n++) {
        if (s[n] >= '0' && s[n] <= '9')
            digits++;
        else if (s[n] == '.' && dots++ == 0)
            continue;
        else
            break;
    }
    return digits ? n : 0;
}

/* Seconds written as "S[.F]" (digits only, at most 11 before the point) in
 * nanoseconds, exactly: fractions past nanoseconds are dropped. 0 or -1. */
static int decimal_seconds_ns(const char *s, size_t n, uint64_t *ns)
{
    uint64_t secs = 0, frac = 0, scale = 1000000000u;
    size_t i = 0, int_digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, int_digits++) {
        if (int_digits == 11)
            return -1;
        secs = secs * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        size_t frac_digits = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++)
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(s[i] - '0') * scale;
            }
        if (frac_digits == 0)
            return -1;
    }
    if (i != n || secs >= 9223372036u)
        return -1;
    *ns = secs * 1000000000u + frac;
    return 0;
}

int params_time(arbor_iov_t v, uint64_t *ns)
{
    char buf[64];
    if (terminated(v, buf, sizeof buf) != 0)
        return -1;
    if (decimal_len(buf, buf + v.len) == v.len) /* Unix seconds */
        return decimal_seconds_ns(buf, v.len, ns);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL || tm.tm_year < 70 || tm.tm_year > 361)
        return -1;
    uint64_t frac_ns = 0;
    if (*rest == '.') {
        size_t n = decimal_len(rest, buf + v.len);
        if (n < 2 || decimal_seconds_ns(rest, n, &frac_ns) != 0)
            return -1;
        rest += n;
    }
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0 && *rest != '\0')
        return -1;
    *ns = (uint64_t)timegm(&tm) * 1000000000u + frac_ns;
    return 0;
}

int params_go_duration(arbor_iov_t v, uint64_t *ns)
{
    static const struct {
        const char *u;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    char buf[64];
    if (terminated(v, buf, sizeof buf) != 0)
        return -1;
    const char *s = buf, *end = buf + v.len;
    if (v.len == 1 && s[0] == '0') {
        *ns = 0;
        return 0;
    }
    double total = 0;
    while (s < end) {
        size_t n = decimal_len(s, end);
        if (n == 0)
            return -1;
        double x = strtod(s, NULL);
        s += n;
        size_t best = 0;
        double mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t ul = strlen(units[i].u);
            if ((size_t)(end - s) >= ul && strncmp(s, units[i].u, ul) == 0 && ul > best) {
                best = ul;
                mult = units[i].ns;
            }
        }
        if (best == 0)
            return -1;
        s += best;
        total += x * mult;
    }
    return params_double_to_ns(total, ns);
}
