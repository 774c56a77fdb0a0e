/* Building the tree. Everything is arrays and indexes: a 100,000-span trace costs
 * one range scan, one hash and a sort per sibling group, and no recursion (a
 * chain 100,000 deep must not overflow the C stack). */
#include "tree.h"

#include <stdlib.h>


void tree_init(tree_t *t)
{
    memset(t, 0, sizeof *t);
    t->min_start = UINT64_MAX;
}

void tree_add(tree_t *t, const arbor_span_rec_t *rec)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->nodes = arbor_xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    tree_node_t *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->rec = *rec;
    n->parent = TREE_NONE;
}

static int collect(void *ctx, const arbor_span_rec_t *rec)
{
    tree_add(ctx, rec);
    return 0;
}

static uint64_t id64(const uint8_t *id)
{
    uint64_t v;
    memcpy(&v, id, 8);
    return v;
}

uint32_t tree_find(const tree_t *t, const uint8_t *id)
{
    const uint64_t *idx = arbor_map64_get(&t->by_id, id64(id));
    return idx ? (uint32_t)*idx : TREE_NONE;
}

static void map_insert(tree_t *t, uint32_t idx)
{
    int added;
    *(uint64_t *)arbor_xcheck(arbor_map64_put(&t->by_id, id64(t->nodes[idx].rec.span_id), &added)) = idx;
}

/* Resolve parents, adding one placeholder per missing parent ID. */
static void link_parents(tree_t *t)
{
    size_t real = t->n;
    arbor_map64_init(&t->by_id);
    /* room for every real span (placeholders are few; more grow the table) */
    arbor_xcheck(arbor_map64_reserve(&t->by_id, real) == 0 ? t->by_id.keys : NULL);
    for (uint32_t i = 0; i < real; i++)
        if (tree_find(t, t->nodes[i].rec.span_id) == TREE_NONE)
            map_insert(t, i);
    for (uint32_t i = 0; i < real; i++) {
        if (!t->nodes[i].rec.has_parent)
            continue;
        uint32_t p = tree_find(t, t->nodes[i].rec.parent_span_id);
        if (p == TREE_NONE) {
            if (t->n == t->cap) {
                t->cap *= 2;
                t->nodes = arbor_xrealloc(t->nodes, t->cap * sizeof *t->nodes);
            }
            p = (uint32_t)t->n++;
            tree_node_t *ph = &t->nodes[p], *child = &t->nodes[i];
            memset(ph, 0, sizeof *ph);
            memcpy(ph->rec.trace_id, child->rec.trace_id, 16);
            memcpy(ph->rec.span_id, child->rec.parent_span_id, 8);
            ph->rec.start_ns = child->rec.start_ns;
            ph->rec.end_ns = child->rec.end_ns;
            ph->rec.name = ARBOR_IOV("(span not received yet)");
            ph->parent = TREE_NONE;
            ph->placeholder = 1;
            map_insert(t, p);
        }
        if (p == i) /* a span naming itself as parent stays a root */
            continue;
        tree_node_t *pn = &t->nodes[p], *n = &t->nodes[i];
        if (pn->placeholder) { /* a placeholder covers its children's time range */
            if (n->rec.start_ns < pn->rec.start_ns)
                pn->rec.start_ns = n->rec.start_ns;
            if (n->rec.end_ns > pn->rec.end_ns)
                pn->rec.end_ns = n->rec.end_ns;
        }
        n->parent = p;
    }
}

static int cmp_siblings(const void *a, const void *b, void *ctx)
{
    const tree_t *t = ctx;
    const tree_node_t *x = &t->nodes[*(const uint32_t *)a], *y = &t->nodes[*(const uint32_t *)b];
    if (x->rec.start_ns != y->rec.start_ns)
        return x->rec.start_ns < y->rec.start_ns ? -1 : 1;
    int c = memcmp(x->rec.span_id, y->rec.span_id, 8);
    if (c != 0)
        return c;
    return memcmp(x->rec.trace_id, y->rec.trace_id, 16);
}

/* Children lists by counting sort on the parent, then each list sorted. */
static void build_children(tree_t *t)
{
    size_t n = t->n;
    t->kids = arbor_xmalloc(n * sizeof *t->kids);
    t->roots = arbor_xmalloc(n * sizeof *t->roots);
    t->n_roots = 0;
    for (size_t i = 0; i < n; i++)
        if (t->nodes[i].parent != TREE_NONE)
            t->nodes[t->nodes[i].parent].n_children++;
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        t->nodes[i].first_child = at;
        at += t->nodes[i].n_children;
        t->nodes[i].n_children = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = t->nodes[i].parent;
        if (p == TREE_NONE)
            t->roots[t->n_roots++] = i;
        else
            t->kids[t->nodes[p].first_child + t->nodes[p].n_children++] = i;
    }
    qsort_r(t->roots, t->n_roots, sizeof *t->roots, cmp_siblings, t);
    for (size_t i = 0; i < n; i++)
        if (t->nodes[i].n_children > 1)
            qsort_r(t->kids + t->nodes[i].first_child, t->nodes[i].n_children, sizeof *t->kids, cmp_siblings, t);
}

/* Pre-order with an explicit stack. Spans caught in a parent cycle are never
 * reached from a root; they are appended as roots so none is lost. */
static void build_order(tree_t *t)
{
    size_t n = t->n, out = 0;
    uint32_t *stack = arbor_xmalloc((n + 1) * sizeof *stack);
    t->order = arbor_xmalloc(n * sizeof *t->order);
    t->pos = arbor_xmalloc(n * sizeof *t->pos);
    for (size_t i = 0; i < n; i++)
        t->pos[i] = TREE_NONE;
    for (size_t r = 0; r <= n && out < n; r++) {
        size_t sp = 0;
        if (r < t->n_roots) {
            stack[sp++] = t->roots[r];
        } else { /* cycle leftovers */
            uint32_t i = 0;
            while (i < n && t->pos[i] != TREE_NONE)
                i++;
            if (i == n)
                break;
            t->nodes[i].parent = TREE_NONE;
            t->nodes[i].depth = 0;
            stack[sp++] = i;
        }
        while (sp > 0) {
            uint32_t v = stack[--sp];
            if (t->pos[v] != TREE_NONE)
                continue;
            t->pos[v] = (uint32_t)out;
            t->order[out++] = v;
            tree_node_t *nv = &t->nodes[v];
            for (uint32_t k = nv->n_children; k-- > 0;) {
                uint32_t c = t->kids[nv->first_child + k];
                if (t->pos[c] == TREE_NONE) {
                    t->nodes[c].depth = nv->depth + 1;
                    stack[sp++] = c;
                }
            }
        }
    }
    free(stack);
}

/* Subtree aggregates: children come after their parent in pre-order, so one
 * backwards pass adds each node into its parent. */
static void build_aggregates(tree_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        tree_node_t *x = &t->nodes[i];
        x->subtree_in = x->rec.tokens_in;
        x->subtree_out = x->rec.tokens_out;
        x->subtree_errors = x->rec.status_code == 2;
    }
    for (size_t k = t->n; k-- > 0;) {
        tree_node_t *x = &t->nodes[t->order[k]];
        if (x->parent == TREE_NONE || t->pos[x->parent] >= k)
            continue;
        tree_node_t *p = &t->nodes[x->parent];
        p->subtree_in += x->subtree_in;
        p->subtree_out += x->subtree_out;
        p->subtree_errors += x->subtree_errors;
    }
}

void tree_build(tree_t *t)
{
    t->n_real = t->n;
    for (size_t i = 0; i < t->n; i++) {
        const arbor_span_rec_t *s = &t->nodes[i].rec;
        t->tokens_in += s->tokens_in;
        t->tokens_out += s->tokens_out;
        t->errors += s->status_code == 2;
        if (s->start_ns < t->min_start)
            t->min_start = s->start_ns;
        if (s->end_ns > t->max_end)
            t->max_end = s->end_ns;
    }
    link_parents(t);
    build_children(t);
    build_order(t);
    build_aggregates(t);
}

int tree_load(tree_t *t, arbor_reader_t *r, const uint8_t (*ids)[16], size_t n_ids)
{
    tree_init(t);
    for (size_t i = 0; i < n_ids; i++) {
        int rc = arbor_reader_trace_spans(r, ids[i], collect, t);
        if (rc) {
            tree_free(t);
            return rc;
        }
    }
    tree_build(t);
    return 0;
}

void tree_detach(tree_t *t)
{
    size_t total = 0, at = 0;
    for (size_t i = 0; i < t->n; i++)
        total += t->nodes[i].rec.name.len;
    t->names = arbor_xmalloc(total + 1);
    for (size_t i = 0; i < t->n; i++) {
        arbor_span_rec_t *rec = &t->nodes[i].rec;
        if (rec->name.len)
            memcpy(t->names + at, rec->name.base, rec->name.len);
        rec->name.base = t->names + at;
        at += rec->name.len;
        rec->span_bytes = ARBOR_IOV_NULL;
        rec->reader = NULL; /* it ends before the tree does */
    }
}

size_t tree_bytes(const tree_t *t)
{
    size_t names = 0;
    for (size_t i = 0; t->names != NULL && i < t->n; i++)
        names += t->nodes[i].rec.name.len;
    return sizeof *t + t->cap * sizeof *t->nodes + t->n * 3 * sizeof(uint32_t) + t->n_roots * sizeof(uint32_t) +
           t->by_id.cap * 2 * sizeof(uint64_t) + names;
}

void tree_free(tree_t *t)
{
    free(t->names);
    free(t->nodes);
    free(t->kids);
    free(t->roots);
    free(t->order);
    free(t->pos);
    arbor_map64_free(&t->by_id);
    memset(t, 0, sizeof *t);
}
