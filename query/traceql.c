/* TraceQL: lexer, recursive-descent parser, evaluator. */
#include "traceql.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- tokens ---- */

typedef enum {
    T_EOF, T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_EQ, T_NE, T_GT, T_GE, T_LT, T_LE,
    T_RE, T_NRE, T_DESC, T_ANC, T_TILDE, T_PIPE, T_STRING, T_NUMBER, T_DURATION, T_WORD,
} tok_kind_t;

typedef struct {
    tok_kind_t kind;
    size_t pos; /* 0-based offset */
    arbor_iov_t text;
    char *str;  /* decoded string literal / attribute name (owned by the query) */
    double num;
    int is_int;
    int64_t i;
} tok_t;

/* ---- AST ---- */

typedef enum {
    F_ATTR, F_NAME, F_STATUS, F_STATUS_MESSAGE, F_KIND, F_DURATION, F_TRACE_DURATION, F_ROOT_NAME,
    F_ROOT_SERVICE, F_SPAN_ID, F_PARENT_ID, F_TRACE_ID,
} field_kind_t;

typedef enum { SC_SPAN, SC_RESOURCE, SC_ANY } attr_scope_t;

typedef enum { L_STRING, L_INT, L_FLOAT, L_DURATION, L_BOOL, L_NIL, L_STATUS, L_KIND } lit_kind_t;

typedef struct {
    lit_kind_t kind;
    char *str;
    size_t str_len;
    int64_t i; /* INT, DURATION (ns), BOOL, STATUS code, KIND */
    double d;
} lit_t;

typedef enum { E_AND, E_OR, E_NOT, E_CMP, E_CONST } expr_op_t;

typedef struct expr {
    expr_op_t op;
    struct expr *l, *r;
    /* E_CMP */
    field_kind_t field;
    attr_scope_t scope;
    arbor_iov_t name; /* attribute name, or the field's text for spanSet attributes */
    tok_kind_t cmp;
    lit_t lit;
    pcre2_code *re;
    pcre2_match_data *md;         /* the query's, shared by its regexes */
    pcre2_match_context *mctx;    /* the query's: match and depth limits */
    /* E_CONST */
    int value;
} expr_t;

typedef enum { S_FILTER, S_AND, S_OR, S_DESC, S_CHILD, S_SIB, S_ANC, S_PARENT } set_op_t;

typedef struct set {
    set_op_t op;
    expr_t *filter; /* NULL: matches every span */
    struct set *l, *r;
} set_t;

struct tq_query {
    set_t *root;
    arbor_arena_t arena; /* every node and string of the query, freed together */
    expr_t **regexes; /* to free their compiled patterns */
    size_t n_regexes, cap_regexes;
    pcre2_match_data *md;      /* one query is evaluated on one thread at a time */
    pcre2_match_context *mctx;
    int needs_attrs;
};

typedef struct {
    tq_query_t *q;
    const char *src;
    size_t len, at;
    tok_t tok;
    char *err;
    size_t errlen;
    int failed;
    int depth;
    int operators;
} parser_t;

static void *qalloc(tq_query_t *q, size_t n)
{
    return arbor_xcheck(arbor_arena_calloc(&q->arena, n));
}

static int fail(parser_t *p, size_t pos, const char *fmt, ...)
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
    char *out = qalloc(p->q, p->len - start + 1);
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
        return fail(p, start, "unterminated string");
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

static int lex_number(parser_t *p, tok_t *t)
{
    const char *s = p->src + p->at;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0)
        return fail(p, p->at, "invalid number");
    size_t used = (size_t)(end - s);
    int is_int = 1;
    for (size_t i = 0; i < used; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
            is_int = 0;
    /* beyond int64 (as an integer, or as a float where an integer is needed):
     * an error, not a cast with undefined results (found by tests/fuzz) */
    if (!arbor_double_fits_int64(v))
        return fail(p, p->at, "number out of range");
    t->num = v;
    t->is_int = is_int;
    errno = 0;
    t->i = is_int ? strtoll(s, NULL, 10) : (int64_t)v;
    if (errno != 0)
        return fail(p, p->at, "number out of range");
    t->kind = T_NUMBER;
    /* a unit right after the number makes it a duration */
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u].unit);
        if (p->at + used + ul <= p->len && strncmp(end, units[u].unit, ul) == 0 &&
            !(p->at + used + ul < p->len && isalnum((unsigned char)end[ul]))) {
            double ns = v * units[u].ns;
            if (!arbor_double_fits_int64(ns))
                return fail(p, p->at, "duration out of range");
            t->kind = T_DURATION;
            t->i = (int64_t)llround(ns);
            used += ul;
            break;
        }
    }
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

static int next(parser_t *p)
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
        return fail(p, p->at, "unexpected '&' (did you mean '&&'?)");
    return lex_word(p, t);
}

static int expect(parser_t *p, tok_kind_t k, const char *what)
{
    if (p->tok.kind != k)
        return fail(p, p->tok.pos, "expected %s", what);
    return next(p);
}

/* ---- fields and literals ---- */

static const struct {
    const char *name;
    field_kind_t kind;
} intrinsics[] = {
    {"name", F_NAME},           {"span:name", F_NAME},
    {"status", F_STATUS},       {"span:status", F_STATUS},
    {"statusMessage", F_STATUS_MESSAGE}, {"span:statusMessage", F_STATUS_MESSAGE},
    {"kind", F_KIND},           {"span:kind", F_KIND},
    {"duration", F_DURATION},   {"span:duration", F_DURATION},
    {"traceDuration", F_TRACE_DURATION}, {"trace:duration", F_TRACE_DURATION},
    {"rootName", F_ROOT_NAME},  {"trace:rootName", F_ROOT_NAME},
    {"rootServiceName", F_ROOT_SERVICE}, {"trace:rootService", F_ROOT_SERVICE},
    {"span:id", F_SPAN_ID},     {"span:parentID", F_PARENT_ID},
    {"trace:id", F_TRACE_ID},
};

static int parse_field(parser_t *p, expr_t *e)
{
    tok_t t = p->tok;
    if (t.kind != T_WORD || t.text.len == 0)
        return fail(p, t.pos, "expected an attribute (span.x, resource.x, .x) or an intrinsic");
    e->name = t.text;
    for (size_t i = 0; i < sizeof intrinsics / sizeof intrinsics[0]; i++)
        if (arbor_iov_eq_str(t.text, intrinsics[i].name)) {
            e->field = intrinsics[i].kind;
            return next(p);
        }
    static const struct {
        const char *prefix;
        attr_scope_t scope;
    } scopes[] = {{"span.", SC_SPAN}, {"resource.", SC_RESOURCE}, {".", SC_ANY}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(scopes[i].prefix);
        if (t.text.len >= n && memcmp(t.text.base, scopes[i].prefix, n) == 0) {
            e->field = F_ATTR;
            e->scope = scopes[i].scope;
            if (t.str != NULL) /* quoted name */
                e->name = arbor_iov(t.str, (size_t)t.i);
            else
                e->name = arbor_iov(t.text.base + n, t.text.len - n);
            if (e->name.len == 0)
                return fail(p, t.pos, "empty attribute name");
            p->q->needs_attrs = 1;
            return next(p);
        }
    }
    static const char *const unsupported[] = {"event.", "link.", "instrumentation.", "event:", "link:",
                                              "instrumentation:", "span:", "trace:"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (t.text.len >= strlen(unsupported[i]) && memcmp(t.text.base, unsupported[i], strlen(unsupported[i])) == 0)
            return fail(p, t.pos, "'%.*s' is not supported", (int)t.text.len, t.text.base);
    return fail(p, t.pos, "unknown field '%.*s' (attributes need a scope: span., resource. or .)", (int)t.text.len,
                t.text.base);
}

static int keyword(arbor_iov_t w, lit_t *l)
{
    static const char *const statuses[] = {"unset", "ok", "error"};
    static const char *const kinds[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
    for (int i = 0; i < 3; i++)
        if (arbor_iov_eq_str(w, statuses[i])) {
            l->kind = L_STATUS;
            l->i = i;
            return 1;
        }
    for (int i = 0; i < 6; i++)
        if (arbor_iov_eq_str(w, kinds[i])) {
            l->kind = L_KIND;
            l->i = i;
            return 1;
        }
    if (arbor_iov_eq_str(w, "true") || arbor_iov_eq_str(w, "false")) {
        l->kind = L_BOOL;
        l->i = arbor_iov_eq_str(w, "true");
        return 1;
    }
    if (arbor_iov_eq_str(w, "nil")) {
        l->kind = L_NIL;
        return 1;
    }
    return 0;
}

static int parse_literal(parser_t *p, expr_t *e)
{
    tok_t t = p->tok;
    lit_t *l = &e->lit;
    switch (t.kind) {
    case T_STRING:
        l->kind = L_STRING;
        l->str = t.str;
        l->str_len = (size_t)t.i;
        break;
    case T_NUMBER:
        l->kind = t.is_int ? L_INT : L_FLOAT;
        l->i = t.i;
        l->d = t.num;
        break;
    case T_DURATION:
        l->kind = L_DURATION;
        l->i = t.i;
        l->d = (double)t.i;
        break;
    case T_WORD:
        if (!keyword(t.text, l))
            return fail(p, t.pos, "expected a value, got '%.*s'", (int)t.text.len, t.text.base);
        break;
    default:
        return fail(p, t.pos, "expected a value");
    }
    return next(p);
}

/* Reject comparisons that can never be true, and compile regexes. */
static int check_cmp(parser_t *p, expr_t *e, size_t pos)
{
    int is_re = e->cmp == T_RE || e->cmp == T_NRE;
    lit_kind_t k = e->lit.kind;
    if (is_re && k != L_STRING)
        return fail(p, pos, "a regular expression must be a string");
    if (k == L_NIL && e->cmp != T_EQ && e->cmp != T_NE)
        return fail(p, pos, "nil only compares with = or !=");
    if ((k == L_BOOL || k == L_STATUS || k == L_KIND) && e->cmp != T_EQ && e->cmp != T_NE)
        return fail(p, pos, "this value only compares with = or !=");
    if (e->field == F_STATUS && k != L_STATUS && k != L_NIL)
        return fail(p, pos, "status compares with ok, error or unset");
    if (e->field == F_KIND && k != L_KIND && k != L_NIL)
        return fail(p, pos, "kind compares with server, client, producer, consumer, internal or unspecified");
    if ((e->field == F_DURATION || e->field == F_TRACE_DURATION) && k != L_DURATION && k != L_INT && k != L_FLOAT)
        return fail(p, pos, "durations compare with a duration such as 100ms");
    if (is_re) {
        int errcode;
        PCRE2_SIZE erroff;
        /* fully anchored, as TraceQL's (Go RE2) regexes are */
        e->re = pcre2_compile((PCRE2_SPTR)e->lit.str, e->lit.str_len, PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF,
                              &errcode, &erroff, NULL);
        if (e->re == NULL) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(errcode, msg, sizeof msg);
            return fail(p, pos, "invalid regular expression: %s", (char *)msg);
        }
        pcre2_jit_compile(e->re, PCRE2_JIT_COMPLETE); /* where JIT is not available, the interpreter runs */
        tq_query_t *q = p->q;
        if (q->n_regexes == q->cap_regexes) {
            q->cap_regexes = q->cap_regexes ? q->cap_regexes * 2 : 4;
            q->regexes = arbor_xrealloc(q->regexes, q->cap_regexes * sizeof *q->regexes);
        }
        q->regexes[q->n_regexes++] = e;
    }
    if (e->field == F_STATUS_MESSAGE)
        p->q->needs_attrs = 1;
    return 0;
}

static expr_t *parse_expr(parser_t *p);

static expr_t *parse_unary(parser_t *p)
{
    if (++p->depth > 64) {
        fail(p, p->tok.pos, "expression nested too deeply");
        return NULL;
    }
    expr_t *e = qalloc(p->q, sizeof *e);
    size_t pos = p->tok.pos;
    if (p->tok.kind == T_NOT) {
        if (next(p) != 0)
            return NULL;
        e->op = E_NOT;
        e->l = parse_unary(p);
        p->depth--;
        return e->l ? e : NULL;
    }
    if (p->tok.kind == T_LPAREN) {
        if (next(p) != 0)
            return NULL;
        expr_t *in = parse_expr(p);
        if (in == NULL || expect(p, T_RPAREN, "')'") != 0)
            return NULL;
        p->depth--;
        return in;
    }
    if (p->tok.kind == T_WORD && (arbor_iov_eq_str(p->tok.text, "true") || arbor_iov_eq_str(p->tok.text, "false"))) {
        e->op = E_CONST;
        e->value = arbor_iov_eq_str(p->tok.text, "true");
        p->depth--;
        return next(p) == 0 ? e : NULL;
    }
    e->op = E_CMP;
    if (parse_field(p, e) != 0)
        return NULL;
    tok_kind_t k = p->tok.kind;
    if (k != T_EQ && k != T_NE && k != T_GT && k != T_GE && k != T_LT && k != T_LE && k != T_RE && k != T_NRE) {
        fail(p, p->tok.pos, "expected a comparison (= != > >= < <= =~ !~) after '%.*s'", (int)e->name.len,
             e->name.base);
        return NULL;
    }
    e->cmp = k;
    if (next(p) != 0 || parse_literal(p, e) != 0 || check_cmp(p, e, pos) != 0)
        return NULL;
    p->depth--;
    return e;
}

/* Evaluation and hint collection recurse once per binary operator, and each level
 * of a spanset operator holds two spansets of the trace's size: bounding the
 * operators bounds both the stack and the memory one query can take. */
#define TQ_MAX_OPERATORS 128

/* Count the binary operator at the current token; fails past the bound. */
static int take_operator(parser_t *p)
{
    if (++p->operators > TQ_MAX_OPERATORS)
        return fail(p, p->tok.pos, "more than %d operators in one query", TQ_MAX_OPERATORS);
    return next(p);
}

static expr_t *binary(parser_t *p, expr_op_t op, expr_t *l, expr_t *r)
{
    if (l == NULL || r == NULL)
        return NULL;
    expr_t *e = qalloc(p->q, sizeof *e);
    e->op = op;
    e->l = l;
    e->r = r;
    return e;
}

static expr_t *parse_and(parser_t *p)
{
    expr_t *e = parse_unary(p);
    while (e != NULL && p->tok.kind == T_AND) {
        if (take_operator(p) != 0)
            return NULL;
        e = binary(p, E_AND, e, parse_unary(p));
    }
    return e;
}

static expr_t *parse_expr(parser_t *p)
{
    expr_t *e = parse_and(p);
    while (e != NULL && p->tok.kind == T_OR) {
        if (take_operator(p) != 0)
            return NULL;
        e = binary(p, E_OR, e, parse_and(p));
    }
    return e;
}

static set_t *parse_sets(parser_t *p);

static set_t *parse_primary_set(parser_t *p)
{
    if (++p->depth > 64) {
        fail(p, p->tok.pos, "query nested too deeply");
        return NULL;
    }
    if (p->tok.kind == T_LPAREN) {
        if (next(p) != 0)
            return NULL;
        set_t *s = parse_sets(p);
        if (s == NULL || expect(p, T_RPAREN, "')'") != 0)
            return NULL;
        p->depth--;
        return s;
    }
    if (p->tok.kind != T_LBRACE) {
        fail(p, p->tok.pos, "expected '{'");
        return NULL;
    }
    if (next(p) != 0)
        return NULL;
    set_t *s = qalloc(p->q, sizeof *s);
    s->op = S_FILTER;
    if (p->tok.kind != T_RBRACE && (s->filter = parse_expr(p)) == NULL)
        return NULL;
    if (expect(p, T_RBRACE, "'}' or '&&' / '||'") != 0)
        return NULL;
    p->depth--;
    return s;
}

static set_t *set_binary(parser_t *p, set_op_t op, set_t *l, set_t *r)
{
    if (l == NULL || r == NULL)
        return NULL;
    set_t *s = qalloc(p->q, sizeof *s);
    s->op = op;
    s->l = l;
    s->r = r;
    return s;
}

static set_t *parse_structural(parser_t *p)
{
    set_t *s = parse_primary_set(p);
    for (;;) {
        set_op_t op;
        switch (p->tok.kind) {
        case T_DESC: op = S_DESC; break;
        case T_GT: op = S_CHILD; break;
        case T_TILDE: op = S_SIB; break;
        case T_ANC: op = S_ANC; break;
        case T_LT: op = S_PARENT; break;
        default: return s;
        }
        if (s == NULL || take_operator(p) != 0)
            return NULL;
        s = set_binary(p, op, s, parse_primary_set(p));
    }
}

static set_t *parse_set_and(parser_t *p)
{
    set_t *s = parse_structural(p);
    while (s != NULL && p->tok.kind == T_AND) {
        if (take_operator(p) != 0)
            return NULL;
        s = set_binary(p, S_AND, s, parse_structural(p));
    }
    return s;
}

static set_t *parse_sets(parser_t *p)
{
    set_t *s = parse_set_and(p);
    while (s != NULL && p->tok.kind == T_OR) {
        if (take_operator(p) != 0)
            return NULL;
        s = set_binary(p, S_OR, s, parse_set_and(p));
    }
    return s;
}

/* A regex like (a+)+$ backtracks exponentially: bound every match (steps,
 * depth, heap) and let the evaluator give the whole trace up when one runs out. */
static void prepare_regexes(tq_query_t *q)
{
    q->mctx = arbor_xcheck(pcre2_match_context_create(NULL));
    q->md = arbor_xcheck(pcre2_match_data_create(1, NULL)); /* match or not: no captures wanted */
    pcre2_set_match_limit(q->mctx, TQ_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(q->mctx, 1000);
    pcre2_set_heap_limit(q->mctx, 8192); /* KiB */
    for (size_t i = 0; i < q->n_regexes; i++) {
        q->regexes[i]->md = q->md;
        q->regexes[i]->mctx = q->mctx;
    }
}

static tq_query_t *parse(arbor_iov_t text, char *err, size_t errlen, int filter_only)
{
    tq_query_t *q = arbor_xcalloc(1, sizeof *q);
    arbor_arena_init(&q->arena, 4096, 0);
    /* a NUL-terminated copy that lives with the query: strtod/strtoll in the
     * lexer would otherwise read past a query string that is not terminated
     * (found by tests/fuzz) */
    char *src = qalloc(q, text.len + 1);
    if (text.len)
        memcpy(src, text.base, text.len);
    parser_t p = {q, src, text.len, 0, {0}, err, errlen, 0, 0, 0};
    if (next(&p) == 0) {
        if (p.tok.kind == T_EOF)
            fail(&p, 0, "empty query (use {} to match every span)");
        else
            q->root = filter_only ? parse_primary_set(&p) : parse_sets(&p);
    }
    if (!p.failed && q->root != NULL && p.tok.kind == T_PIPE)
        fail(&p, p.tok.pos, "pipelines (| count(), | select(), ...) are not supported");
    else if (!p.failed && q->root != NULL && p.tok.kind != T_EOF)
        fail(&p, p.tok.pos, filter_only ? "only one spanset filter { ... } is allowed here" : "unexpected input after the query");
    if (p.failed || q->root == NULL) {
        if (!p.failed)
            fail(&p, p.tok.pos, "invalid query");
        tq_free(q);
        return NULL;
    }
    if (q->n_regexes > 0)
        prepare_regexes(q);
    return q;
}

tq_query_t *tq_parse(arbor_iov_t text, char *err, size_t errlen)
{
    return parse(text, err, errlen, 0);
}

tq_query_t *tq_parse_filter(arbor_iov_t text, char *err, size_t errlen)
{
    return parse(text, err, errlen, 1);
}

void tq_free(tq_query_t *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n_regexes; i++)
        pcre2_code_free(q->regexes[i]->re);
    free(q->regexes);
    pcre2_match_data_free(q->md);
    pcre2_match_context_free(q->mctx);
    arbor_arena_free(&q->arena);
    free(q);
}

int tq_matches_all(const tq_query_t *q)
{
    const set_t *s = q->root;
    return s->op == S_FILTER && (s->filter == NULL || (s->filter->op == E_CONST && s->filter->value));
}

int tq_needs_attributes(const tq_query_t *q)
{
    return q->needs_attrs;
}

/* ---- index hints ---- */

typedef struct {
    tq_index_hint_t *v;
    size_t n, max;
} hints_t;

/* Collect the equalities an expression requires of any span it matches. */
static void expr_hints(const expr_t *e, hints_t *hs)
{
    if (e == NULL || hs->n == hs->max)
        return;
    if (e->op == E_AND) {
        expr_hints(e->l, hs);
        expr_hints(e->r, hs);
        return;
    }
    if (e->op != E_CMP || e->cmp != T_EQ)
        return;
    tq_index_hint_t *h = &hs->v[hs->n];
    memset(h, 0, sizeof *h);
    if (e->field == F_NAME) {
        h->scope = ARBOR_SCOPE_INTRINSIC;
        h->key = ARBOR_IOV("name");
    } else if (e->field == F_ATTR) {
        h->span_or_resource = e->scope == SC_ANY;
        h->scope = e->scope == SC_RESOURCE ? ARBOR_SCOPE_RESOURCE : ARBOR_SCOPE_SPAN;
        h->key = e->name;
    } else {
        return;
    }
    switch (e->lit.kind) {
    case L_STRING:
        h->value.type = ARBOR_VAL_STRING;
        h->value.str = arbor_iov(e->lit.str, e->lit.str_len);
        break;
    case L_INT:
    case L_BOOL:
        if (e->field != F_ATTR)
            return;
        h->value.type = e->lit.kind == L_INT ? ARBOR_VAL_INT : ARBOR_VAL_BOOL;
        h->value.i = e->lit.i;
        break;
    case L_FLOAT: /* blooms answer integral doubles as integers too */
        if (e->field != F_ATTR)
            return;
        h->value.type = ARBOR_VAL_DOUBLE;
        h->value.d = e->lit.d;
        break;
    default:
        return;
    }
    hs->n++;
}

static void set_hints(const set_t *s, hints_t *hs)
{
    switch (s->op) {
    case S_FILTER:
        expr_hints(s->filter, hs);
        return;
    case S_OR:
        return;
    default: /* &&, structural: both sides must match somewhere in the trace */
        set_hints(s->l, hs);
        set_hints(s->r, hs);
    }
}

size_t tq_index_hints(const tq_query_t *q, tq_index_hint_t *hints, size_t max)
{
    hints_t hs = {hints, 0, max};
    set_hints(q->root, &hs);
    return hs.n;
}

int tq_hints_may_match(const tq_index_hint_t *hints, size_t n, const uint8_t *bloom)
{
    for (size_t i = 0; i < n; i++) {
        const tq_index_hint_t *h = &hints[i];
        if (!arbor_bloom_may_contain(bloom, h->scope, h->key, &h->value) &&
            !(h->span_or_resource && arbor_bloom_may_contain(bloom, ARBOR_SCOPE_RESOURCE, h->key, &h->value)))
            return 0;
    }
    return 1;
}

/* ---- evaluation ---- */

typedef struct {
    otlp_value_t v;   /* value (strings point into spans or buf) */
    char buf[40];
    int present;
} value_t;

static int decode(tq_trace_t *t, size_t i)
{
    if (t->spans[i].span != NULL)
        return 0;
    return t->decode ? t->decode(t->ctx, i) : -1;
}

static void set_string(value_t *v, arbor_iov_t s)
{
    v->present = 1;
    v->v.type = OTLP_VALUE_STRING;
    v->v.u.str = s;
}

static void set_int(value_t *v, int64_t i)
{
    v->present = 1;
    v->v.type = OTLP_VALUE_INT;
    v->v.u.i = i;
}

static void set_hex(value_t *v, const void *bytes, size_t n)
{
    arbor_hex_encode(v->buf, bytes, n);
    set_string(v, arbor_iov(v->buf, 2 * n));
}

/* Intrinsics from headers and the summary; attributes by decoding the span. */
static void field_value(const expr_t *e, tq_trace_t *t, size_t i, int use_resource, value_t *out)
{
    const tq_span_t *sp = &t->spans[i];
    const arbor_span_rec_t *r = sp->rec;
    const arbor_trace_summary_t *sum = t->summary;
    memset(out, 0, sizeof *out);
    switch (e->field) {
    case F_NAME:
        set_string(out, r->name);
        break;
    case F_STATUS:
        set_int(out, r->status_code);
        break;
    case F_KIND:
        set_int(out, r->kind);
        break;
    case F_DURATION:
        set_int(out, (int64_t)(r->shown_duration_ns ? r->shown_duration_ns : r->end_ns - r->start_ns));
        break;
    case F_TRACE_DURATION:
        set_int(out, (int64_t)(sum->end_ns - sum->start_ns));
        break;
    case F_ROOT_NAME:
        if (sum->has_root)
            set_string(out, sum->root_name);
        break;
    case F_ROOT_SERVICE:
        if (sum->root_service.len)
            set_string(out, sum->root_service);
        break;
    case F_SPAN_ID:
        set_hex(out, r->span_id, 8);
        break;
    case F_PARENT_ID:
        if (r->has_parent)
            set_hex(out, r->parent_span_id, 8);
        break;
    case F_TRACE_ID:
        set_hex(out, r->trace_id, 16);
        break;
    case F_STATUS_MESSAGE:
        if (decode(t, i) == 0)
            set_string(out, sp->span->status_message);
        break;
    case F_ATTR: {
        if (decode(t, i) != 0)
            break;
        char key[ARBOR_ATTR_MAX_KEY * 4];
        size_t kl = e->name.len < sizeof key - 1 ? e->name.len : sizeof key - 1;
        memcpy(key, e->name.base, kl);
        key[kl] = '\0';
        const otlp_attrs_t *attrs = use_resource ? (sp->resource ? &sp->resource->attrs : NULL) : &sp->span->attrs;
        const otlp_value_t *v = attrs ? otlp_attrs_get(attrs, key) : NULL;
        if (v != NULL) {
            out->v = *v;
            out->present = 1;
        }
        break;
    }
    }
}

static int cmp_num(double a, tok_kind_t op, double b)
{
    switch (op) {
    case T_EQ: return a == b;
    case T_NE: return a != b;
    case T_GT: return a > b;
    case T_GE: return a >= b;
    case T_LT: return a < b;
    case T_LE: return a <= b;
    default: return 0;
    }
}

static int cmp_str(const expr_t *e, arbor_iov_t s, tq_trace_t *t)
{
    if (e->cmp == T_RE || e->cmp == T_NRE) {
        int rc = pcre2_match(e->re, (PCRE2_SPTR)s.base, s.len, 0, 0, e->md, e->mctx);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
            rc == PCRE2_ERROR_JIT_STACKLIMIT)
            t->aborted = TQ_ABORT_REGEX; /* neither a match nor a non-match: the trace is given up */
        return rc >= 0;
    }
    size_t n = s.len < e->lit.str_len ? s.len : e->lit.str_len;
    int c = n ? memcmp(s.base, e->lit.str, n) : 0;
    if (c == 0)
        c = s.len < e->lit.str_len ? -1 : s.len > e->lit.str_len;
    return cmp_num(c, e->cmp, 0);
}

/* One scalar value against the literal (the operator's sense, negations aside). */
static int match_scalar(const expr_t *e, const otlp_value_t *v, tq_trace_t *t)
{
    const lit_t *l = &e->lit;
    switch (l->kind) {
    case L_STRING:
        return v->type == OTLP_VALUE_STRING && cmp_str(e, v->u.str, t);
    case L_INT:
    case L_FLOAT:
    case L_DURATION:
        if (v->type == OTLP_VALUE_INT)
            return cmp_num((double)v->u.i, e->cmp, l->kind == L_INT || l->kind == L_DURATION ? (double)l->i : l->d);
        if (v->type == OTLP_VALUE_DOUBLE)
            return cmp_num(v->u.d, e->cmp, l->kind == L_FLOAT ? l->d : (double)l->i);
        return 0;
    case L_BOOL:
        return v->type == OTLP_VALUE_BOOL && cmp_num(v->u.boolean, e->cmp, (double)l->i);
    case L_STATUS:
    case L_KIND:
        return v->type == OTLP_VALUE_INT && cmp_num((double)v->u.i, e->cmp, (double)l->i);
    default:
        return 0;
    }
}

static int match_value(const expr_t *e, const value_t *val, tq_trace_t *t)
{
    if (e->lit.kind == L_NIL)
        return e->cmp == T_EQ ? !val->present : val->present;
    if (!val->present)
        return 0;
    const otlp_value_t *v = &val->v;
    int negated = e->cmp == T_NE || e->cmp == T_NRE;
    if (v->type == OTLP_VALUE_ARRAY) { /* = and =~: any element; != and !~: none */
        expr_t pos = *e;
        pos.cmp = e->cmp == T_NE ? T_EQ : e->cmp == T_NRE ? T_RE : e->cmp;
        int any = 0;
        for (size_t i = 0; i < v->u.array.count && !any; i++)
            any = match_scalar(&pos, &v->u.array.items[i], t);
        return negated ? !any && v->u.array.count > 0 : any;
    }
    if (negated && e->cmp == T_NRE) {
        expr_t pos = *e;
        pos.cmp = T_RE;
        return v->type == OTLP_VALUE_STRING && !match_scalar(&pos, v, t);
    }
    return match_scalar(e, v, t);
}

static int eval_expr(const expr_t *e, tq_trace_t *t, size_t i)
{
    switch (e->op) {
    case E_CONST:
        return e->value;
    case E_NOT:
        return !eval_expr(e->l, t, i);
    case E_AND:
        return eval_expr(e->l, t, i) && eval_expr(e->r, t, i);
    case E_OR:
        return eval_expr(e->l, t, i) || eval_expr(e->r, t, i);
    case E_CMP: {
        value_t v, vr;
        if (e->field != F_ATTR || e->scope != SC_ANY) {
            field_value(e, t, i, e->field == F_ATTR && e->scope == SC_RESOURCE, &v);
            return match_value(e, &v, t);
        }
        /* unscoped: the span's attribute or its resource's */
        field_value(e, t, i, 0, &v);
        field_value(e, t, i, 1, &vr);
        if (e->lit.kind == L_NIL)
            return e->cmp == T_EQ ? !(v.present || vr.present) : v.present || vr.present;
        return match_value(e, &v, t) || match_value(e, &vr, t);
    }
    }
    return 0;
}

/* Spanset results are byte arrays over the trace's spans. */
static size_t count(const uint8_t *m, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += m[i];
    return c;
}

/* 1 once the evaluation must stop: past its deadline, cancelled, or a regex
 * out of its budget (checked every 64 spans: a clock read is not free). */
static int budget_spent(tq_trace_t *t)
{
    if (!t->aborted && ((t->cancel && *t->cancel) || (t->deadline_ns && arbor_mono_ns() > t->deadline_ns)))
        t->aborted = TQ_ABORT_DEADLINE;
    return t->aborted;
}

static void eval_set(const set_t *s, tq_trace_t *t, uint8_t *out)
{
    size_t n = t->n;
    if (s->op == S_FILTER) {
        memset(out, 0, n);
        for (size_t i = 0; i < n && !t->aborted; i++) {
            if ((i & 63) == 0 && budget_spent(t))
                break;
            out[i] = t->spans[i].rec != NULL && (s->filter == NULL || eval_expr(s->filter, t, i));
        }
        return;
    }
    uint8_t *a = arbor_xcalloc(n, 1), *b = arbor_xcalloc(n, 1);
    eval_set(s->l, t, a);
    eval_set(s->r, t, b);
    memset(out, 0, n);
    switch (s->op) {
    case S_AND:
        if (count(a, n) && count(b, n))
            for (size_t i = 0; i < n; i++)
                out[i] = a[i] | b[i];
        break;
    case S_OR:
        for (size_t i = 0; i < n; i++)
            out[i] = a[i] | b[i];
        break;
    case S_CHILD:
        for (size_t i = 0; i < n; i++)
            out[i] = b[i] && t->spans[i].parent != UINT32_MAX && a[t->spans[i].parent];
        break;
    case S_PARENT: /* {A} < {B}: B spans that are parents of an A span */
        for (size_t i = 0; i < n; i++)
            if (a[i] && t->spans[i].parent != UINT32_MAX && b[t->spans[i].parent])
                out[t->spans[i].parent] = 1;
        break;
    case S_DESC: { /* B spans with an ancestor in A: one pass in pre-order */
        uint8_t *under = arbor_xcalloc(n, 1);
        for (size_t k = 0; k < n; k++) {
            uint32_t i = t->order[k], p = t->spans[i].parent;
            under[i] = p != UINT32_MAX && (a[p] || under[p]);
            out[i] = b[i] && under[i];
        }
        free(under);
        break;
    }
    case S_ANC: { /* B spans that are ancestors of an A span: one pass in reverse pre-order */
        uint8_t *above = arbor_xcalloc(n, 1);
        for (size_t k = n; k-- > 0;) {
            uint32_t i = t->order[k], p = t->spans[i].parent;
            if (p != UINT32_MAX && (a[i] || above[i]))
                above[p] = 1;
        }
        for (size_t i = 0; i < n; i++)
            out[i] = b[i] && above[i];
        free(above);
        break;
    }
    case S_SIB: { /* B spans with a different A span under the same parent */
        uint32_t *per_parent = arbor_xcalloc(n, sizeof *per_parent);
        for (size_t i = 0; i < n; i++)
            if (a[i] && t->spans[i].parent != UINT32_MAX)
                per_parent[t->spans[i].parent]++;
        for (size_t i = 0; i < n; i++) {
            uint32_t p = t->spans[i].parent;
            out[i] = b[i] && p != UINT32_MAX && per_parent[p] > (uint32_t)a[i];
        }
        free(per_parent);
        break;
    }
    default:
        break;
    }
    free(a);
    free(b);
}

size_t tq_eval(const tq_query_t *q, tq_trace_t *t, uint8_t *matched)
{
    eval_set(q->root, t, matched);
    if (t->aborted) {
        memset(matched, 0, t->n);
        return 0;
    }
    return count(matched, t->n);
}

/* ---- spanSet attributes ---- */

static void expr_fields(const expr_t *e, tq_trace_t *t, size_t i, tq_field_fn fn, void *ctx)
{
    if (e == NULL)
        return;
    if (e->op != E_CMP) {
        expr_fields(e->l, t, i, fn, ctx);
        expr_fields(e->r, t, i, fn, ctx);
        return;
    }
    if (e->field == F_NAME || e->field == F_DURATION || e->field == F_TRACE_DURATION || e->field == F_ROOT_NAME ||
        e->field == F_ROOT_SERVICE)
        return; /* reported elsewhere in the span / trace */
    static const char *const statuses[] = {"unset", "ok", "error"};
    static const char *const kinds[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
    value_t v;
    field_value(e, t, i, 0, &v);
    if (!v.present && e->field == F_ATTR && e->scope != SC_SPAN)
        field_value(e, t, i, 1, &v);
    if (!v.present)
        return;
    if (e->field == F_STATUS && v.v.u.i >= 0 && v.v.u.i <= 2)
        set_string(&v, arbor_iov(statuses[v.v.u.i], strlen(statuses[v.v.u.i])));
    else if (e->field == F_KIND && v.v.u.i >= 0 && v.v.u.i <= 5)
        set_string(&v, arbor_iov(kinds[v.v.u.i], strlen(kinds[v.v.u.i])));
    fn(ctx, e->field == F_ATTR ? e->name : e->name, &v.v);
}

static void set_fields(const set_t *s, tq_trace_t *t, size_t i, tq_field_fn fn, void *ctx)
{
    if (s->op == S_FILTER)
        expr_fields(s->filter, t, i, fn, ctx);
    else {
        set_fields(s->l, t, i, fn, ctx);
        set_fields(s->r, t, i, fn, ctx);
    }
}

void tq_span_fields(const tq_query_t *q, tq_trace_t *t, size_t i, tq_field_fn fn, void *ctx)
{
    set_fields(q->root, t, i, fn, ctx);
}
