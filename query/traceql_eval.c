/* TraceQL: index hints and evaluation over one trace's spans, within a budget. */
#include "traceql_ast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
    for (size_t i = 0; i < hs.n; i++) { /* a search tests them on every trace's bloom */
        arbor_bloom_probe(&hints[i].probe, hints[i].scope, hints[i].key, &hints[i].value);
        arbor_bloom_probe(&hints[i].resource_probe, ARBOR_SCOPE_RESOURCE, hints[i].key, &hints[i].value);
    }
    return hs.n;
}

int tq_hints_may_match(const tq_index_hint_t *hints, size_t n, const uint8_t *bloom)
{
    for (size_t i = 0; i < n; i++) {
        const tq_index_hint_t *h = &hints[i];
        if (!arbor_bloom_probe_test(bloom, &h->probe) &&
            !(h->span_or_resource && arbor_bloom_probe_test(bloom, &h->resource_probe)))
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

/* Integers compare as integers: as doubles, 2^63 - 1 and 2^63 - 2 are one number. */
static int cmp_int(int64_t a, tok_kind_t op, int64_t b)
{
    return cmp_num((a > b) - (a < b), op, 0);
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
        if (v->type == OTLP_VALUE_INT && l->kind != L_FLOAT)
            return cmp_int(v->u.i, e->cmp, l->i);
        if (v->type == OTLP_VALUE_INT)
            return cmp_num((double)v->u.i, e->cmp, l->d);
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

