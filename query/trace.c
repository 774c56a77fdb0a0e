/* Tree building. Spans of all the execution's traces are collected from one
 * snapshot (zero-copy), parents are resolved through a hash on span ID, spans
 * whose parent has not arrived hang under a placeholder (the Canvas drops
 * orphans), and the output walks the tree in pre-order with an explicit stack so
 * a chain 100,000 deep cannot overflow the C stack. */
#include "trace.h"

#include "otlp.h"
#include "span_json.h"

#include <stdlib.h>

#define NONE UINT32_MAX

typedef struct {
    arbor_span_rec_t rec;
    uint32_t parent;   /* index, or NONE for roots */
    int placeholder;
} node_t;

typedef struct {
    node_t *nodes;
    size_t n, cap;
    uint32_t *map; /* open addressing on span ID -> node index */
    size_t map_cap;
    int64_t tokens_in, tokens_out;
    uint64_t min_start;
} tree_t;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

static int collect(void *ctx, const arbor_span_rec_t *rec)
{
    tree_t *t = ctx;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->nodes = xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    node_t *n = &t->nodes[t->n++];
    n->rec = *rec;
    n->parent = NONE;
    n->placeholder = 0;
    t->tokens_in += rec->tokens_in;
    t->tokens_out += rec->tokens_out;
    if (rec->start_ns < t->min_start)
        t->min_start = rec->start_ns;
    return 0;
}

static size_t hash_span(const uint8_t *id, size_t cap)
{
    uint64_t h;
    memcpy(&h, id, 8);
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static uint32_t map_find(const tree_t *t, const uint8_t *id)
{
    for (size_t j = hash_span(id, t->map_cap);; j = (j + 1) & (t->map_cap - 1)) {
        uint32_t i = t->map[j];
        if (i == NONE || memcmp(t->nodes[i].rec.span_id, id, 8) == 0)
            return i;
    }
}

static void map_insert(tree_t *t, uint32_t idx)
{
    size_t j = hash_span(t->nodes[idx].rec.span_id, t->map_cap);
    while (t->map[j] != NONE)
        j = (j + 1) & (t->map_cap - 1);
    t->map[j] = idx;
}

/* Resolve parents; create one placeholder per missing parent ID. */
static void link_parents(tree_t *t)
{
    size_t real = t->n;
    t->map_cap = 16;
    while (t->map_cap < real * 4)
        t->map_cap *= 2;
    t->map = xrealloc(NULL, t->map_cap * sizeof *t->map);
    memset(t->map, 0xff, t->map_cap * sizeof *t->map);
    for (uint32_t i = 0; i < real; i++)
        if (map_find(t, t->nodes[i].rec.span_id) == NONE)
            map_insert(t, i);
    for (uint32_t i = 0; i < real; i++) {
        node_t *n = &t->nodes[i];
        if (!n->rec.has_parent)
            continue;
        uint32_t p = map_find(t, n->rec.parent_span_id);
        if (p == NONE) {
            if (t->n == t->cap) {
                t->cap *= 2;
                t->nodes = xrealloc(t->nodes, t->cap * sizeof *t->nodes);
                n = &t->nodes[i];
            }
            p = (uint32_t)t->n++;
            node_t *ph = &t->nodes[p];
            memset(ph, 0, sizeof *ph);
            memcpy(ph->rec.trace_id, n->rec.trace_id, 16);
            memcpy(ph->rec.span_id, n->rec.parent_span_id, 8);
            ph->rec.start_ns = n->rec.start_ns;
            ph->rec.end_ns = n->rec.end_ns;
            ph->parent = NONE;
            ph->placeholder = 1;
            map_insert(t, p); /* the map has room: real*4 slots, at most 2*real keys */
        }
        if (p == i) /* a span that names itself as parent is treated as a root */
            continue;
        node_t *pn = &t->nodes[p];
        if (pn->placeholder) {
            if (n->rec.start_ns < pn->rec.start_ns)
                pn->rec.start_ns = n->rec.start_ns;
            if (n->rec.end_ns > pn->rec.end_ns)
                pn->rec.end_ns = n->rec.end_ns;
        }
        n->parent = p;
    }
}

static const tree_t *sort_tree;

/* Siblings by start time, then span ID. */
static int cmp_siblings(const void *a, const void *b)
{
    const node_t *x = &sort_tree->nodes[*(const uint32_t *)a], *y = &sort_tree->nodes[*(const uint32_t *)b];
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    if (x->rec.start_ns != y->rec.start_ns)
        return x->rec.start_ns < y->rec.start_ns ? -1 : 1;
    return memcmp(x->rec.span_id, y->rec.span_id, 8);
}

/* Pre-order: returns node indexes in output order (caller frees). Spans caught
 * in a parent cycle are appended at the end so none is lost. */
static uint32_t *preorder(tree_t *t)
{
    size_t n = t->n;
    uint32_t *by_parent = xrealloc(NULL, n * sizeof *by_parent), *order = xrealloc(NULL, n * sizeof *order);
    uint32_t *first = xrealloc(NULL, (n + 1) * sizeof *first), *stack = xrealloc(NULL, (n + 1) * sizeof *stack);
    uint8_t *seen = calloc(n ? n : 1, 1);
    if (seen == NULL)
        abort();
    for (uint32_t i = 0; i < n; i++)
        by_parent[i] = i;
    sort_tree = t; /* qsort has no context argument; the query loop is single-threaded */
    qsort(by_parent, n, sizeof *by_parent, cmp_siblings);
    /* roots (parent NONE) sort last; first[p] = first position of p's children */
    for (size_t i = 0; i <= n; i++)
        first[i] = NONE;
    size_t roots_at = n;
    for (size_t i = n; i-- > 0;) {
        uint32_t p = t->nodes[by_parent[i]].parent;
        if (p == NONE)
            roots_at = i;
        else
            first[p] = (uint32_t)i;
    }
    size_t out = 0, sp = 0;
    /* push roots in reverse so the earliest pops first */
    for (size_t i = n; i-- > roots_at;)
        stack[sp++] = by_parent[i];
    while (sp > 0) {
        uint32_t v = stack[--sp];
        if (seen[v])
            continue;
        seen[v] = 1;
        order[out++] = v;
        if (first[v] == NONE)
            continue;
        size_t end = first[v];
        while (end < n && t->nodes[by_parent[end]].parent == v)
            end++;
        for (size_t i = end; i-- > first[v];)
            stack[sp++] = by_parent[i];
    }
    for (uint32_t i = 0; i < n && out < n; i++)
        if (!seen[i])
            order[out++] = i;
    free(by_parent);
    free(first);
    free(stack);
    free(seen);
    return order;
}

static void tree_free(tree_t *t)
{
    free(t->nodes);
    free(t->map);
}

static void write_spans(jsonw_t *w, tree_t *t)
{
    arbor_arena_t arena;
    arbor_arena_init(&arena, 64 * 1024, 0);
    uint32_t *order = preorder(t);
    jsonw_key(w, "spans");
    jsonw_array(w);
    for (size_t i = 0; i < t->n; i++) {
        const node_t *n = &t->nodes[order[i]];
        if (n->placeholder)
            span_json_placeholder(w, n->rec.trace_id, n->rec.span_id, n->rec.start_ns, n->rec.end_ns);
        else
            span_json_write(w, &arena, &n->rec);
        arbor_arena_free(&arena);
    }
    jsonw_array_end(w);
    free(order);
}

static void write_page_info(jsonw_t *w)
{
    jsonw_key(w, "page_info");
    jsonw_object(w);
    jsonw_key(w, "has_next_page");
    jsonw_bool(w, 0);
    jsonw_key(w, "cursor");
    jsonw_null(w);
    jsonw_object_end(w);
}

/* The thread ID Orcheo keeps on its root span. */
static void write_thread_id(jsonw_t *w, arbor_reader_t *r, const arbor_trace_summary_t *root)
{
    static const char *const keys[] = {"orcheo.execution.thread_id", "thread_id", "threadId"};
    arbor_span_rec_t rec;
    otlp_span_t s;
    arbor_arena_t a;
    jsonw_key(w, "thread_id");
    if (root == NULL || arbor_reader_span(r, root->trace_id, root->root_span_id, &rec) != 0) {
        jsonw_null(w);
        return;
    }
    arbor_arena_init(&a, 16384, 0);
    const otlp_value_t *v = NULL;
    if (otlp_span_decode(&a, rec.span_bytes.base, rec.span_bytes.len, &s) == 0)
        for (size_t i = 0; i < 3 && (v == NULL || v->type != OTLP_VALUE_STRING); i++)
            v = otlp_attrs_get(&s.attrs, keys[i]);
    if (v != NULL && v->type == OTLP_VALUE_STRING)
        jsonw_str(w, v->u.str);
    else
        jsonw_null(w);
    arbor_arena_free(&a);
}

/* Execution status from its latest root: running until every trace has its root. */
static const char *execution_status(arbor_reader_t *r, const arbor_trace_summary_t *root, int all_rooted)
{
    if (root == NULL || !all_rooted)
        return "running";
    arbor_span_rec_t rec;
    otlp_span_t s;
    arbor_arena_t a;
    const char *status = root->root_status == 2 ? "error" : "completed";
    arbor_arena_init(&a, 16384, 0);
    if (arbor_reader_span(r, root->trace_id, root->root_span_id, &rec) == 0 &&
        otlp_span_decode(&a, rec.span_bytes.base, rec.span_bytes.len, &s) == 0)
        for (size_t i = 0; i < s.n_events; i++)
            if (arbor_iov_eq_str(s.events[i].name, "workflow.cancelled"))
                status = "cancelled";
    arbor_arena_free(&a);
    return status;
}

static int render(arbor_reader_t *r, arbor_iov_t exec_id, const uint8_t (*ids)[16], size_t n_ids, jsonw_t *w)
{
    tree_t t = {.min_start = UINT64_MAX};
    arbor_trace_summary_t sums[TRACE_MAX_PER_EXECUTION], *root = NULL, *first = NULL;
    int all_rooted = n_ids > 0, rc = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if ((rc = arbor_reader_trace_summary(r, ids[i], &sums[i])) != 0)
            goto out;
        if (!sums[i].has_root)
            all_rooted = 0;
        else if (root == NULL || sums[i].start_ns > root->start_ns)
            root = &sums[i];
        if (first == NULL || sums[i].start_ns < first->start_ns)
            first = &sums[i];
        if ((rc = arbor_reader_trace_spans(r, ids[i], collect, &t)) != 0)
            goto out;
    }
    size_t real_spans = t.n;
    link_parents(&t);
    const char *status = n_ids == 0 ? "unknown" : execution_status(r, root, all_rooted);

    jsonw_object(w);
    jsonw_key(w, "execution");
    jsonw_object(w);
    jsonw_key(w, "id");
    if (exec_id.base != NULL)
        jsonw_str(w, exec_id);
    else if (first != NULL && first->execution_id.len)
        jsonw_str(w, first->execution_id);
    else
        jsonw_null(w);
    jsonw_key(w, "status");
    jsonw_cstr(w, status);
    write_thread_id(w, r, root);
    jsonw_key(w, "started_at");
    jsonw_time(w, t.n ? t.min_start : 0);
    jsonw_key(w, "finished_at");
    jsonw_time(w, root != NULL && all_rooted ? root->end_ns : 0);
    jsonw_key(w, "trace_id");
    if (first != NULL)
        jsonw_hex(w, first->trace_id, 16);
    else
        jsonw_null(w);
    jsonw_key(w, "token_usage");
    jsonw_object(w);
    jsonw_key(w, "input");
    jsonw_int(w, t.tokens_in);
    jsonw_key(w, "output");
    jsonw_int(w, t.tokens_out);
    jsonw_object_end(w);
    jsonw_key(w, "trace_ids");
    jsonw_array(w);
    for (size_t i = 0; i < n_ids; i++)
        jsonw_hex(w, ids[i], 16);
    jsonw_array_end(w);
    jsonw_key(w, "span_count");
    jsonw_uint(w, real_spans);
    jsonw_object_end(w);
    write_spans(w, &t);
    write_page_info(w);
    jsonw_key(w, "seq");
    jsonw_uint(w, arbor_reader_last_seq(r));
    jsonw_object_end(w);
out:
    tree_free(&t);
    return rc;
}

int trace_render_execution(arbor_reader_t *r, arbor_iov_t exec_id, const trace_options_t *o, jsonw_t *w)
{
    uint8_t ids[TRACE_MAX_PER_EXECUTION][16];
    size_t n;
    (void)o;
    int rc = arbor_reader_execution_traces(r, exec_id, ids, TRACE_MAX_PER_EXECUTION, &n);
    if (rc)
        return rc;
    return render(r, exec_id, (const uint8_t(*)[16])ids, n, w);
}

int trace_render_trace(arbor_reader_t *r, const uint8_t trace_id[16], const trace_options_t *o, jsonw_t *w)
{
    arbor_trace_summary_t s;
    (void)o;
    int rc = arbor_reader_trace_summary(r, trace_id, &s);
    if (rc)
        return rc;
    return render(r, ARBOR_IOV_NULL, (const uint8_t(*)[16])trace_id, 1, w);
}
