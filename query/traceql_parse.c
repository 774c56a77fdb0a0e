/* TraceQL: the recursive-descent parser. Errors say where (column) and what was
 * expected; operators and nesting are bounded (evaluation recurses on them). */
#include "traceql_ast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
        return tq__fail(p, t.pos, "expected an attribute (span.x, resource.x, .x) or an intrinsic");
    e->name = t.text;
    for (size_t i = 0; i < sizeof intrinsics / sizeof intrinsics[0]; i++)
        if (arbor_iov_eq_str(t.text, intrinsics[i].name)) {
            e->field = intrinsics[i].kind;
            return tq__next(p);
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
                return tq__fail(p, t.pos, "empty attribute name");
            p->q->needs_attrs = 1;
            return tq__next(p);
        }
    }
    static const char *const unsupported[] = {"event.", "link.", "instrumentation.", "event:", "link:",
                                              "instrumentation:", "span:", "trace:"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (t.text.len >= strlen(unsupported[i]) && memcmp(t.text.base, unsupported[i], strlen(unsupported[i])) == 0)
            return tq__fail(p, t.pos, "'%.*s' is not supported", (int)t.text.len, t.text.base);
    return tq__fail(p, t.pos, "unknown field '%.*s' (attributes need a scope: span., resource. or .)", (int)t.text.len,
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
            return tq__fail(p, t.pos, "expected a value, got '%.*s'", (int)t.text.len, t.text.base);
        break;
    default:
        return tq__fail(p, t.pos, "expected a value");
    }
    return tq__next(p);
}

/* Reject comparisons that can never be true, and compile regexes. */
static int check_cmp(parser_t *p, expr_t *e, size_t pos)
{
    int is_re = e->cmp == T_RE || e->cmp == T_NRE;
    lit_kind_t k = e->lit.kind;
    if (is_re && k != L_STRING)
        return tq__fail(p, pos, "a regular expression must be a string");
    if (k == L_NIL && e->cmp != T_EQ && e->cmp != T_NE)
        return tq__fail(p, pos, "nil only compares with = or !=");
    if ((k == L_BOOL || k == L_STATUS || k == L_KIND) && e->cmp != T_EQ && e->cmp != T_NE)
        return tq__fail(p, pos, "this value only compares with = or !=");
    if (e->field == F_STATUS && k != L_STATUS && k != L_NIL)
        return tq__fail(p, pos, "status compares with ok, error or unset");
    if (e->field == F_KIND && k != L_KIND && k != L_NIL)
        return tq__fail(p, pos, "kind compares with server, client, producer, consumer, internal or unspecified");
    if ((e->field == F_DURATION || e->field == F_TRACE_DURATION) && k != L_DURATION && k != L_INT && k != L_FLOAT)
        return tq__fail(p, pos, "durations compare with a duration such as 100ms");
    if (is_re) {
        int errcode;
        PCRE2_SIZE erroff;
        /* fully anchored, as TraceQL's (Go RE2) regexes are */
        e->re = pcre2_compile((PCRE2_SPTR)e->lit.str, e->lit.str_len, PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF,
                              &errcode, &erroff, NULL);
        if (e->re == NULL) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(errcode, msg, sizeof msg);
            return tq__fail(p, pos, "invalid regular expression: %s", (char *)msg);
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
        tq__fail(p, p->tok.pos, "expression nested too deeply");
        return NULL;
    }
    expr_t *e = tq__alloc(p->q, sizeof *e);
    size_t pos = p->tok.pos;
    if (p->tok.kind == T_NOT) {
        if (tq__next(p) != 0)
            return NULL;
        e->op = E_NOT;
        e->l = parse_unary(p);
        p->depth--;
        return e->l ? e : NULL;
    }
    if (p->tok.kind == T_LPAREN) {
        if (tq__next(p) != 0)
            return NULL;
        expr_t *in = parse_expr(p);
        if (in == NULL || tq__expect(p, T_RPAREN, "')'") != 0)
            return NULL;
        p->depth--;
        return in;
    }
    if (p->tok.kind == T_WORD && (arbor_iov_eq_str(p->tok.text, "true") || arbor_iov_eq_str(p->tok.text, "false"))) {
        e->op = E_CONST;
        e->value = arbor_iov_eq_str(p->tok.text, "true");
        p->depth--;
        return tq__next(p) == 0 ? e : NULL;
    }
    e->op = E_CMP;
    if (parse_field(p, e) != 0)
        return NULL;
    tok_kind_t k = p->tok.kind;
    if (k != T_EQ && k != T_NE && k != T_GT && k != T_GE && k != T_LT && k != T_LE && k != T_RE && k != T_NRE) {
        tq__fail(p, p->tok.pos, "expected a comparison (= != > >= < <= =~ !~) after '%.*s'", (int)e->name.len,
             e->name.base);
        return NULL;
    }
    e->cmp = k;
    if (tq__next(p) != 0 || parse_literal(p, e) != 0 || check_cmp(p, e, pos) != 0)
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
        return tq__fail(p, p->tok.pos, "more than %d operators in one query", TQ_MAX_OPERATORS);
    return tq__next(p);
}

static expr_t *binary(parser_t *p, expr_op_t op, expr_t *l, expr_t *r)
{
    if (l == NULL || r == NULL)
        return NULL;
    expr_t *e = tq__alloc(p->q, sizeof *e);
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
        tq__fail(p, p->tok.pos, "query nested too deeply");
        return NULL;
    }
    if (p->tok.kind == T_LPAREN) {
        if (tq__next(p) != 0)
            return NULL;
        set_t *s = parse_sets(p);
        if (s == NULL || tq__expect(p, T_RPAREN, "')'") != 0)
            return NULL;
        p->depth--;
        return s;
    }
    if (p->tok.kind != T_LBRACE) {
        tq__fail(p, p->tok.pos, "expected '{'");
        return NULL;
    }
    if (tq__next(p) != 0)
        return NULL;
    set_t *s = tq__alloc(p->q, sizeof *s);
    s->op = S_FILTER;
    if (p->tok.kind != T_RBRACE && (s->filter = parse_expr(p)) == NULL)
        return NULL;
    if (tq__expect(p, T_RBRACE, "'}' or '&&' / '||'") != 0)
        return NULL;
    p->depth--;
    return s;
}

static set_t *set_binary(parser_t *p, set_op_t op, set_t *l, set_t *r)
{
    if (l == NULL || r == NULL)
        return NULL;
    set_t *s = tq__alloc(p->q, sizeof *s);
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
    char *src = tq__alloc(q, text.len + 1);
    if (text.len)
        memcpy(src, text.base, text.len);
    parser_t p = {q, src, text.len, 0, {0}, err, errlen, 0, 0, 0};
    if (tq__next(&p) == 0) {
        if (p.tok.kind == T_EOF)
            tq__fail(&p, 0, "empty query (use {} to match every span)");
        else
            q->root = filter_only ? parse_primary_set(&p) : parse_sets(&p);
    }
    if (!p.failed && q->root != NULL && p.tok.kind == T_PIPE)
        tq__fail(&p, p.tok.pos, "pipelines (| count(), | select(), ...) are not supported");
    else if (!p.failed && q->root != NULL && p.tok.kind != T_EOF)
        tq__fail(&p, p.tok.pos, filter_only ? "only one spanset filter { ... } is allowed here" : "unexpected input after the query");
    if (p.failed || q->root == NULL) {
        if (!p.failed)
            tq__fail(&p, p.tok.pos, "invalid query");
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

