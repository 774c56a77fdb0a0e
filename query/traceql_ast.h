/* Private to the TraceQL files (traceql_lex.c, traceql_parse.c, traceql_eval.c):
 * tokens, the syntax tree, the query object and the parser state. */
#ifndef ARBOR_QUERY_TRACEQL_AST_H
#define ARBOR_QUERY_TRACEQL_AST_H

#include "traceql.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

/* Every node and string of a query, freed with it. Aborts on OOM (a daemon's). */
void *tq__alloc(tq_query_t *q, size_t n);
/* Record the first error, at column pos + 1; returns -1. */
int tq__fail(parser_t *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Lex the next token into p->tok: 0, or -1 after tq__fail. */
int tq__next(parser_t *p);
/* The current token must be @p k (then the next one is read): 0 or -1. */
int tq__expect(parser_t *p, tok_kind_t k, const char *what);

#endif
