/* TraceQL: the lexer (and the parser state's allocation and errors). */
#include "traceql_ast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void *tq__alloc(tq_query_t *q, size_t n)
{
    return arbor_xcheck(arbor_arena_calloc(&q->arena, n));
}

int tq__fail(parser_t *p, size_t pos, const char *fmt, ...)
{
    if (!p->failed) {
        va_list ap;
        int n = snprintf(p->err, p->errlen, "parse error at line 1 col %zu: ", pos + 1);
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < p->errlen)
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        p->failed = 1;
    }
    return -1;
}

/* ---- lexer ---- */

static int is_name_char(char c)
{
    return !(isspace((unsigned char)c) || strchr("{}()=!<>~&|\",", c) != NULL || c == '\0');
}

static int lex_string(parser_t *p, tok_t *t)
{
    size_t start = p->at++;
    char *out = tq__alloc(p->q, p->len - start + 1);
    size_t n = 0;
    while (p->at < p->len && p->src[p->at] != '"') {
        char c = p->src[p->at++];
        if (c == '\\' && p->at < p->len) {
            char e = p->src[p->at++];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
        out[n++] = c;
    }
    if (p->at >= p->len)
        return tq__fail(p, start, "unterminated string");
    p->at++;
    out[n] = '\0';
    t->kind = T_STRING;
    t->str = out;
    t->i = (int64_t)n;
    return 0;
}

static const struct {
    const char *unit;
    double ns;
} units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};

/* The length of a decimal number at @p s: [+-] digits [. digits] [(e|E) [+-]
 * digits], at least one digit before the exponent; 0 when there is none.
 * *is_int: neither a fraction nor an exponent. */
static size_t number_length(const char *s, size_t n, int *is_int)
{
    size_t i = 0, digits = 0;
    *is_int = 1;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && isdigit((unsigned char)s[i]); i++)
        digits++;
    if (i < n && s[i] == '.') {
        *is_int = 0;
        for (i++; i < n && isdigit((unsigned char)s[i]); i++)
            digits++;
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && isdigit((unsigned char)s[j])) { /* else the 'e' is not part of the number */
            *is_int = 0;
            for (i = j; i < n && isdigit((unsigned char)s[i]); i++)
                ;
        }
    }
    return i;
}

/* A unit right after the number makes it a duration (in nanoseconds, exact for
 * an integer); @p used grows by the unit's length. */
static int lex_unit(parser_t *p, tok_t *t, size_t *used)
{
    const char *end = p->src + p->at + *used;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u].unit);
        if (p->at + *used + ul > p->len || strncmp(end, units[u].unit, ul) != 0 ||
            (p->at + *used + ul < p->len && isalnum((unsigned char)end[ul])))
            continue;
        double ns = t->num * units[u].ns;
        int64_t exact;
        if (t->is_int ? __builtin_mul_overflow(t->i, (int64_t)units[u].ns, &exact) : !arbor_double_fits_int64(ns))
            return tq__fail(p, p->at, "duration out of range");
        t->kind = T_DURATION;
        t->i = t->is_int ? exact : (int64_t)llround(ns);
        *used += ul;
        break;
    }
    return 0;
}

/* Integers take the whole int64 range, exactly (-9223372036854775808 too);
 * floats any finite double. Beyond either: an error, never a cast with
 * undefined results (found by tests/fuzz). */
static int lex_number(parser_t *p, tok_t *t)
{
    char text[400];
    int is_int;
    size_t used = number_length(p->src + p->at, p->len - p->at, &is_int);
    if (used == 0)
        return tq__fail(p, p->at, "invalid number");
    if (used >= sizeof text)
        return tq__fail(p, p->at, "number too long");
    memcpy(text, p->src + p->at, used); /* strtod and strtoll see the number and nothing after it */
    text[used] = '\0';
    errno = 0;
    if (is_int) {
        t->i = strtoll(text, NULL, 10);
        t->num = (double)t->i;
    } else {
        t->num = strtod(text, NULL);
        t->i = arbor_double_fits_int64(t->num) ? (int64_t)t->num : 0;
    }
    if (errno == ERANGE || !isfinite(t->num))
        return tq__fail(p, p->at, "number out of range");
    t->is_int = is_int;
    t->kind = T_NUMBER;
    if (lex_unit(p, t, &used) != 0)
        return -1;
    p->at += used;
    return 0;
}

/* A field or keyword: letters, digits, '.', '_', ':', '-', and the quoted form
 * span."name with spaces". */
static int lex_word(parser_t *p, tok_t *t)
{
    size_t start = p->at;
    while (p->at < p->len && is_name_char(p->src[p->at]))
        p->at++;
    t->kind = T_WORD;
    t->text = arbor_iov(p->src + start, p->at - start);
    t->str = NULL;
    /* span."quoted name" / resource."..." / ."..." */
    if (p->at < p->len && p->src[p->at] == '"' && t->text.len > 0 && t->text.base[t->text.len - 1] == '.') {
        tok_t q;
        if (lex_string(p, &q) != 0)
            return -1;
        t->str = q.str;
        t->i = q.i;
    }
    return 0;
}

int tq__next(parser_t *p)
{
    tok_t *t = &p->tok;
    while (p->at < p->len && isspace((unsigned char)p->src[p->at]))
        p->at++;
    memset(t, 0, sizeof *t);
    t->pos = p->at;
    if (p->at >= p->len) {
        t->kind = T_EOF;
        return 0;
    }
    const char *s = p->src + p->at;
    char c = s[0], d = p->at + 1 < p->len ? s[1] : '\0';
    struct {
        const char *text;
        tok_kind_t kind;
    } ops[] = {{"&&", T_AND}, {"||", T_OR}, {"!=", T_NE}, {"!~", T_NRE}, {"=~", T_RE}, {">>", T_DESC},
               {"<<", T_ANC}, {">=", T_GE}, {"<=", T_LE}, {"{", T_LBRACE}, {"}", T_RBRACE}, {"(", T_LPAREN},
               {")", T_RPAREN}, {"!", T_NOT}, {"=", T_EQ}, {">", T_GT}, {"<", T_LT}, {"~", T_TILDE}, {"|", T_PIPE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (p->at + n <= p->len && strncmp(s, ops[i].text, n) == 0) {
            t->kind = ops[i].kind;
            p->at += n;
            return 0;
        }
    }
    if (c == '"')
        return lex_string(p, t);
    if (isdigit((unsigned char)c) || ((c == '-' || c == '+') && (isdigit((unsigned char)d) || d == '.')))
        return lex_number(p, t);
    if (c == '&')
        return tq__fail(p, p->at, "unexpected '&' (did you mean '&&'?)");
    return lex_word(p, t);
}

int tq__expect(parser_t *p, tok_kind_t k, const char *what)
{
    if (p->tok.kind != k)
        return tq__fail(p, p->tok.pos, "expected %s", what);
    return tq__next(p);
}

