/* Federated trees (TraceResponse and skeleton pages). The request goes to every
 * shard as it is. When one shard holds the execution or trace (the Collector
 * routes by trace ID), or every shard holding it has the same spans (replicas),
 * that shard's answer is the answer. Otherwise (an execution whose traces sit on
 * several shards, a trace split while the ring changed, a replica behind) every
 * page of every holder is fetched and the tree is rebuilt here as tree.c builds
 * it: spans merged by span ID, placeholders for missing parents, siblings by
 * start then span ID, pre-order, depths, child counts, subtree sums; then the
 * page is cut with the same "<position>.<span id>" cursors. */
#include "fed_internal.h"

#include "arbor/map64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define PAGE_MAX 10000

typedef struct {
    json_t *obj; /* owned */
    uint8_t id[8], parent_id[8], trace[16];
    int has_parent, placeholder, error;
    uint64_t start, end;
    int64_t tin, tout;
    uint32_t parent, first_child, n_children, depth, sub_err;
    int64_t sub_in, sub_out;
} node_t;

typedef struct {
    int skeleton;
    node_t *n;
    size_t len, cap, real;
    arbor_map64_t by_id;
    uint32_t *kids, *roots, *order, *pos;
    size_t n_roots;
    json_t *matches; /* ?match=: the holders' "matches", united (NULL: not asked) */
} ftree_t;

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static uint64_t id64(const uint8_t *id)
{
    uint64_t v;
    memcpy(&v, id, 8);
    return v;
}

static uint32_t find(const ftree_t *t, const uint8_t *id)
{
    const uint64_t *v = arbor_map64_get(&t->by_id, id64(id));
    return v ? (uint32_t)*v : NONE;
}

static node_t *push(ftree_t *t)
{
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->n = arbor_xrealloc(t->n, t->cap * sizeof *t->n);
    }
    node_t *x = &t->n[t->len++];
    memset(x, 0, sizeof *x);
    x->parent = NONE;
    return x;
}

static void index_node(ftree_t *t, uint32_t i)
{
    int added;
    *(uint64_t *)arbor_xcheck(arbor_map64_put(&t->by_id, id64(t->n[i].id), &added)) = i;
}

static int hex_field(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = str_of(o, key);
    return s != NULL && arbor_hex_decode(out, n, s, strlen(s)) == 0;
}

/* One span of a shard's page; placeholders and copies already here are dropped. */
static void add_span(ftree_t *t, json_t *span)
{
    int placeholder = t->skeleton ? json_is_true(json_object_get(span, "placeholder"))
                                  : json_is_true(json_object_get(json_object_get(span, "attributes"), "arbor.placeholder"));
    uint8_t id[8];
    if (placeholder || !hex_field(span, "span_id", id, 8) || find(t, id) != NONE)
        return;
    node_t *x = push(t);
    memcpy(x->id, id, 8);
    x->obj = json_incref(span);
    x->has_parent = hex_field(span, "parent_span_id", x->parent_id, 8);
    hex_field(span, "trace_id", x->trace, 16);
    x->start = fed_time_ns(str_of(span, "start_time"));
    x->end = fed_time_ns(str_of(span, "end_time"));
    const json_t *tok = json_object_get(span, t->skeleton ? "tokens" : "token_usage");
    x->tin = json_integer_value(json_object_get(tok, "input"));
    x->tout = json_integer_value(json_object_get(tok, "output"));
    const char *status = t->skeleton ? str_of(span, "status") : str_of(json_object_get(span, "status"), "code");
    x->error = status != NULL && strcmp(status, "ERROR") == 0;
    index_node(t, (uint32_t)(t->len - 1));
}

static json_t *time_value(uint64_t ns)
{
    jsonw_t w;
    jsonw_init(&w);
    jsonw_time(&w, ns);
    json_t *v = ns ? json_stringn(w.buf + 1, w.len - 2) : json_null();
    jsonw_free(&w);
    return v;
}

static json_t *tokens_value(int64_t in, int64_t out)
{
    return json_pack("{s:I,s:I}", "input", (json_int_t)in, "output", (json_int_t)out);
}

/* The placeholder of a parent no shard has, in the shape the store renders it. */
static json_t *placeholder_obj(const ftree_t *t, const node_t *p)
{
    char id[17], trace[33];
    arbor_hex_encode(id, p->id, 8);
    arbor_hex_encode(trace, p->trace, 16);
    if (t->skeleton)
        return json_pack("{s:s,s:n,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:b}", "span_id", id,
                         "parent_span_id", "trace_id", trace, "name", "(span not received yet)", "start_time",
                         time_value(p->start), "end_time", time_value(p->end), "status", "UNSET", "kind",
                         "UNSPECIFIED", "tokens", tokens_value(0, 0), "subtree_tokens", tokens_value(0, 0),
                         "error_count", 0, "child_count", 0, "depth", 0, "placeholder", 1);
    return json_pack("{s:s,s:n,s:s,s:o,s:o,s:{s:b},s:[],s:{s:s,s:n},s:[],s:s,s:s,s:o}", "span_id", id,
                     "parent_span_id", "name", "(span not received yet)", "start_time", time_value(p->start),
                     "end_time", time_value(p->end), "attributes", "arbor.placeholder", 1, "events", "status",
                     "code", "UNSET", "message", "links", "trace_id", trace, "kind", "UNSPECIFIED", "token_usage",
                     tokens_value(0, 0));
}

/* Parents by span ID; one placeholder per missing parent, covering its children. */
static void link_parents(ftree_t *t)
{
    t->real = t->len;
    for (uint32_t i = 0; i < t->real; i++) {
        if (!t->n[i].has_parent)
            continue;
        uint32_t p = find(t, t->n[i].parent_id);
        if (p == NONE) {
            node_t *ph = push(t);
            p = (uint32_t)(t->len - 1);
            memcpy(ph->id, t->n[i].parent_id, 8);
            memcpy(ph->trace, t->n[i].trace, 16);
            ph->start = t->n[i].start;
            ph->end = t->n[i].end;
            ph->placeholder = 1;
            index_node(t, p);
        }
        if (p == i)
            continue;
        node_t *pn = &t->n[p], *n = &t->n[i];
        if (pn->placeholder) {
            pn->start = n->start < pn->start ? n->start : pn->start;
            pn->end = n->end > pn->end ? n->end : pn->end;
        }
        n->parent = p;
    }
}

static int cmp_siblings(const void *a, const void *b, void *ctx)
{
    const ftree_t *t = ctx;
    const node_t *x = &t->n[*(const uint32_t *)a], *y = &t->n[*(const uint32_t *)b];
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    int c = memcmp(x->id, y->id, 8);
    return c ? c : memcmp(x->trace, y->trace, 16);
}

static void build_children(ftree_t *t)
{
    size_t n = t->len;
    t->kids = arbor_xmalloc((n + 1) * sizeof *t->kids);
    t->roots = arbor_xmalloc((n + 1) * sizeof *t->roots);
    for (size_t i = 0; i < n; i++)
        if (t->n[i].parent != NONE)
            t->n[t->n[i].parent].n_children++;
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        t->n[i].first_child = at;
        at += t->n[i].n_children;
        t->n[i].n_children = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = t->n[i].parent;
        if (p == NONE)
            t->roots[t->n_roots++] = i;
        else
            t->kids[t->n[p].first_child + t->n[p].n_children++] = i;
    }
    qsort_r(t->roots, t->n_roots, sizeof *t->roots, cmp_siblings, t);
    for (size_t i = 0; i < n; i++)
        if (t->n[i].n_children > 1)
            qsort_r(t->kids + t->n[i].first_child, t->n[i].n_children, sizeof *t->kids, cmp_siblings, t);
}

/* Pre-order with an explicit stack; spans in a parent cycle become roots. */
static void build_order(ftree_t *t)
{
    size_t n = t->len, out = 0;
    uint32_t *stack = arbor_xmalloc((n + 1) * sizeof *stack);
    t->order = arbor_xmalloc((n + 1) * sizeof *t->order);
    t->pos = arbor_xmalloc((n + 1) * sizeof *t->pos);
    for (size_t i = 0; i < n; i++)
        t->pos[i] = NONE;
    for (size_t r = 0; r <= n && out < n; r++) {
        size_t sp = 0;
        if (r < t->n_roots) {
            stack[sp++] = t->roots[r];
        } else {
            uint32_t i = 0;
            while (i < n && t->pos[i] != NONE)
                i++;
            if (i == n)
                break;
            t->n[i].parent = NONE;
            t->n[i].depth = 0;
            stack[sp++] = i;
        }
        while (sp > 0) {
            uint32_t v = stack[--sp];
            if (t->pos[v] != NONE)
                continue;
            t->pos[v] = (uint32_t)out;
            t->order[out++] = v;
            for (uint32_t k = t->n[v].n_children; k-- > 0;) {
                uint32_t c = t->kids[t->n[v].first_child + k];
                if (t->pos[c] == NONE) {
                    t->n[c].depth = t->n[v].depth + 1;
                    stack[sp++] = c;
                }
            }
        }
    }
    free(stack);
}

static void build_aggregates(ftree_t *t)
{
    for (size_t i = 0; i < t->len; i++) {
        t->n[i].sub_in = t->n[i].tin;
        t->n[i].sub_out = t->n[i].tout;
        t->n[i].sub_err = (uint32_t)t->n[i].error;
    }
    for (size_t k = t->len; k-- > 0;) {
        node_t *x = &t->n[t->order[k]];
        if (x->parent == NONE || t->pos[x->parent] >= k)
            continue;
        t->n[x->parent].sub_in += x->sub_in;
        t->n[x->parent].sub_out += x->sub_out;
        t->n[x->parent].sub_err += x->sub_err;
    }
}

static void ftree_build(ftree_t *t)
{
    link_parents(t);
    build_children(t);
    build_order(t);
    build_aggregates(t);
}

static void ftree_free(ftree_t *t)
{
    json_decref(t->matches);
    for (size_t i = 0; i < t->len; i++)
        json_decref(t->n[i].obj);
    free(t->n);
    free(t->kids);
    free(t->roots);
    free(t->order);
    free(t->pos);
    arbor_map64_free(&t->by_id);
}

/* A node as it goes out: its tree fields set as the store would. */
static json_t *node_json(const ftree_t *t, uint32_t i)
{
    const node_t *x = &t->n[i];
    json_t *o = x->placeholder ? placeholder_obj(t, x) : json_copy(x->obj);
    if (t->skeleton) {
        char pid[17];
        if (x->parent != NONE)
            arbor_hex_encode(pid, t->n[x->parent].id, 8);
        json_object_set_new(o, "parent_span_id", x->parent != NONE ? json_string(pid) : json_null());
        json_object_set_new(o, "subtree_tokens", tokens_value(x->sub_in, x->sub_out));
        json_object_set_new(o, "error_count", json_integer(x->sub_err));
    }
    json_object_set_new(o, "child_count", json_integer(x->n_children));
    json_object_set_new(o, "depth", json_integer(x->depth));
    return o;
}

/* ---- the execution header ---- */

/* The shards' execution objects for one merged tree: the earliest names it, the
 * latest root finishes it, the spans count it. */
static json_t *merged_execution(const ftree_t *t, json_t *const *ex, size_t n_ex)
{
    json_t *first = NULL, *last = NULL, *ids = json_array();
    for (size_t i = 0; i < n_ex; i++) {
        uint64_t s = fed_time_ns(str_of(ex[i], "started_at"));
        if (first == NULL || (s && s < fed_time_ns(str_of(first, "started_at"))))
            first = ex[i];
        const char *st = str_of(ex[i], "status");
        if (st && strcmp(st, "running") && (last == NULL || fed_time_ns(str_of(ex[i], "finished_at")) >
                                                                 fed_time_ns(str_of(last, "finished_at"))))
            last = ex[i];
        fed_json_union(ids, json_object_get(ex[i], "trace_ids"));
    }
    json_t *e = json_copy(first);
    /* every trace rooted? the latest root's end finishes the execution */
    int all_rooted = json_array_size(ids) > 0;
    uint64_t end = 0;
    int64_t tin = 0, tout = 0;
    uint32_t errors = 0;
    size_t k;
    json_t *id;
    json_array_foreach(ids, k, id) {
        uint8_t tr[16];
        int rooted = 0;
        arbor_hex_decode(tr, 16, json_string_value(id), 32);
        for (size_t i = 0; i < t->real; i++)
            if (!t->n[i].has_parent && !memcmp(t->n[i].trace, tr, 16)) {
                rooted = 1;
                end = t->n[i].end > end ? t->n[i].end : end;
            }
        all_rooted &= rooted;
    }
    for (size_t i = 0; i < t->real; i++) {
        tin += t->n[i].tin;
        tout += t->n[i].tout;
        errors += (uint32_t)t->n[i].error;
    }
    fed_json_sort(ids, NULL); /* as the execution index lists them */
    if (!all_rooted) {
        json_object_set_new(e, "status", json_string("running"));
    } else if (last != NULL) {
        json_object_set(e, "status", json_object_get(last, "status"));
        json_object_set(e, "thread_id", json_object_get(last, "thread_id"));
    } else {
        json_object_set_new(e, "status", json_string(errors ? "error" : "completed"));
    }
    json_object_set_new(e, "finished_at", all_rooted ? time_value(end) : json_null());
    json_object_set_new(e, "token_usage", tokens_value(tin, tout));
    json_object_set_new(e, "trace_ids", ids);
    json_object_set_new(e, "span_count", json_integer((json_int_t)t->real));
    json_object_set_new(e, "error_count", json_integer(errors));
    return e;
}

/* ---- pages ---- */

static int parse_cursor(const char *c, size_t *pos, uint8_t span[8], int *has_span)
{
    char *end;
    *has_span = 0;
    *pos = 0;
    if (c == NULL || *c == '\0')
        return 0;
    unsigned long long p = strtoull(c, &end, 10);
    if (end == c || (*end != '\0' && *end != '.') || p > UINT32_MAX || c[0] == '-')
        return -1;
    if (*end == '.') {
        if (arbor_hex_decode(span, 8, end + 1, strlen(end + 1)) != 0)
            return -1;
        *has_span = 1;
    }
    *pos = (size_t)p;
    return 0;
}

/* "spans" and "page_info" of one page of @p seq, as trace.c's write_page. */
static int write_page(json_t *res, const ftree_t *t, const uint32_t *seq, size_t n, const fed_request_t *r)
{
    char buf[64];
    size_t start, limit = (size_t)fed_int_param(r->path, "limit", r->route == FED_TREE && strstr(r->path, "/api/executions/") == r->path ? 10000 : 1000);
    long max_depth = fed_int_param(r->path, "depth", 0);
    uint8_t span[8];
    int has_span;
    if (parse_cursor(fed_query_param(r->path, "cursor", buf, sizeof buf), &start, span, &has_span) != 0)
        return -1;
    if (has_span) {
        uint32_t idx = find(t, span);
        for (size_t i = 0; idx != NONE && i < n; i++)
            if (seq[i] == idx) {
                start = i;
                break;
            }
    }
    json_t *spans = json_array();
    size_t emitted = 0, i = start;
    for (; i < n; i++) {
        if (max_depth > 0 && t->n[seq[i]].depth >= (uint32_t)max_depth)
            continue;
        if (emitted == limit)
            break;
        json_array_append_new(spans, node_json(t, seq[i]));
        emitted++;
    }
    json_object_set_new(res, "spans", spans);
    json_t *info = json_object();
    json_object_set_new(info, "has_next_page", json_boolean(i < n));
    if (i < n) {
        char c[48], hex[17];
        arbor_hex_encode(hex, t->n[seq[i]].id, 8);
        snprintf(c, sizeof c, "%zu.%s", i, hex);
        json_object_set_new(info, "cursor", json_string(c));
    } else {
        json_object_set_new(info, "cursor", json_null());
    }
    json_object_set_new(res, "page_info", info);
    return 0;
}

/* ---- fetching every page ---- */

/* Does the shard hold anything of it? (an unknown execution answers status
 * "unknown", an unknown trace 404) */
static int holds(const fed_answer_t *a)
{
    if (!a->ok || a->status != 200 || a->body == NULL)
        return 0;
    size_t head = a->len < 4096 ? a->len : 4096;
    return memmem(a->body, head, "\"status\":\"unknown\"", 18) == NULL;
}

/* The execution object's span count and trace IDs, as text: equal for
 * replicas that hold the same spans. */
static int same_content(const fed_answer_t *x, const fed_answer_t *y)
{
    static const char *const keys[] = {"\"span_count\":", "\"trace_ids\":", "\"error_count\":"};
    for (size_t k = 0; k < 3; k++) {
        const char *a = memmem(x->body, x->len, keys[k], strlen(keys[k]));
        const char *b = memmem(y->body, y->len, keys[k], strlen(keys[k]));
        if (a == NULL || b == NULL)
            return 0;
        size_t la = strcspn(a, "]},"), lb = strcspn(b, "]},");
        if (la != lb || memcmp(a, b, la) != 0)
            return 0;
    }
    return 1;
}

/* The path of one page: the request's ?events= (every page) and ?match= (the
 * first), raw as sent. */
static int page_path(char *buf, size_t size, const char *route, const char *cursor, const char *full_path)
{
    int n = snprintf(buf, size, "%s?limit=%d", route, PAGE_MAX);
    if (n > 0 && cursor[0])
        n += snprintf(buf + n, size > (size_t)n ? size - (size_t)n : 0, "&cursor=%s", cursor);
    for (const char *p = strchr(full_path, '?'); p != NULL && n > 0 && (size_t)n < size; p = strchr(p + 1, '&')) {
        int keep = strncmp(p + 1, "events=", 7) == 0 || (!cursor[0] && strncmp(p + 1, "match=", 6) == 0);
        if (keep)
            n += snprintf(buf + n, size - (size_t)n, "&%.*s", (int)strcspn(p + 1, "&"), p + 1);
    }
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Every page of each holder into @p t; the execution objects (first pages)
 * into @p ex. 0, or -1 if a shard failed or answered out of turn midway. */
static int fetch_all_pages(const fed_request_t *r, const int *holder, ftree_t *t, json_t **ex, size_t *n_ex)
{
    char route[4096], cursors[FED_MAX_SHARDS][64], paths[FED_MAX_SHARDS][4300];
    const char *want[FED_MAX_SHARDS];
    int more[FED_MAX_SHARDS];
    size_t n = fed_shard_count();
    fed_route_path(r->path, route, sizeof route);
    for (size_t s = 0; s < n; s++) {
        more[s] = holder[s];
        cursors[s][0] = '\0';
    }
    *n_ex = 0;
    for (int round = 0;; round++) {
        size_t asking = 0;
        for (size_t s = 0; s < n; s++) {
            want[s] = NULL;
            if (!more[s])
                continue;
            if (page_path(paths[s], sizeof paths[s], route, cursors[s], r->path) != 0)
                return -1;
            want[s] = paths[s];
            asking++;
        }
        if (asking == 0)
            return 0;
        fed_answers_t as;
        fed_fetch(r, want, &as);
        for (size_t s = 0; s < n; s++) {
            if (want[s] == NULL)
                continue;
            json_t *o = fed_parse(&as.a[s]);
            if (o == NULL) {
                fed_answers_free(&as);
                return -1;
            }
            size_t i;
            json_t *span;
            json_array_foreach(json_object_get(o, "spans"), i, span) add_span(t, span);
            if (round == 0)
                ex[(*n_ex)++] = json_incref(json_object_get(o, "execution"));
            if (round == 0 && json_is_array(json_object_get(o, "matches"))) {
                if (t->matches == NULL)
                    t->matches = json_array();
                fed_json_union(t->matches, json_object_get(o, "matches"));
            }
            json_t *info = json_object_get(o, "page_info");
            const char *c = str_of(info, "cursor");
            more[s] = json_is_true(json_object_get(info, "has_next_page")) && c && strlen(c) < sizeof cursors[s];
            if (more[s])
                snprintf(cursors[s], sizeof cursors[s], "%s", c);
            json_decref(o);
        }
        fed_answers_free(&as);
    }
}

/* Rebuild the tree from every holder's spans and answer the requested page. */
static void merge_holders(fed_request_t *r, const int *holder, const char *seq, size_t failed, jsonw_t *out)
{
    ftree_t t;
    json_t *ex[FED_MAX_SHARDS];
    size_t n_ex = 0;
    char buf[64];
    memset(&t, 0, sizeof t);
    t.skeleton = r->route == FED_SKELETON;
    arbor_map64_init(&t.by_id);
    if (fetch_all_pages(r, holder, &t, ex, &n_ex) != 0) {
        fed_detail(r, 502, "a shard failed while its pages were read", out);
        goto done;
    }
    ftree_build(&t);
    const uint32_t *seq_nodes = t.order;
    size_t n = t.len;
    const char *parent = fed_query_param(r->path, "parent", buf, sizeof buf);
    if (parent != NULL && t.skeleton) {
        uint8_t pid[8];
        uint32_t p = arbor_hex_decode(pid, 8, parent, strlen(parent)) == 0 ? find(&t, pid) : NONE;
        if (p == NONE) {
            fed_detail(r, 404, "not found", out);
            goto done;
        }
        seq_nodes = t.kids + t.n[p].first_child;
        n = t.n[p].n_children;
    }
    json_t *res = json_object();
    json_object_set_new(res, "execution", merged_execution(&t, ex, n_ex));
    if (write_page(res, &t, seq_nodes, n, r) != 0) {
        json_decref(res);
        fed_detail(r, 400, "invalid cursor", out);
        goto done;
    }
    if (t.matches != NULL) {
        fed_json_sort(t.matches, NULL);
        json_object_set(res, "matches", t.matches);
    }
    json_object_set_new(res, "seq", json_string(seq));
    if (failed) {
        json_object_set_new(res, "partial", json_true());
        json_object_set_new(res, "partialReason", json_string("some shards did not answer"));
    }
    fed_json(r, res, out);
done:
    for (size_t i = 0; i < n_ex; i++)
        json_decref(ex[i]);
    ftree_free(&t);
}

void fed_merge_tree(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    int holder[FED_MAX_SHARDS] = {0};
    size_t n_holders = 0, first = SIZE_MAX, failed;
    char seq[16 + 21 * FED_MAX_SHARDS];
    fed_fetch_same(r, &as);
    fed_answer_t *refused = fed_refusal(&as);
    failed = fed_failed(&as);
    if (refused != NULL) {
        fed_pass(r, refused, out);
        goto done;
    }
    if (failed == as.n) {
        fed_detail(r, 503, "no shard answered", out);
        goto done;
    }
    int same = 1;
    fed_seq_cursor(&as, seq, sizeof seq);
    for (size_t s = 0; s < as.n; s++) {
        if (!(holder[s] = holds(&as.a[s])))
            continue;
        n_holders++;
        if (first == SIZE_MAX)
            first = s;
        else
            same &= same_content(&as.a[first], &as.a[s]);
    }
    if (n_holders == 0) { /* unknown everywhere: any shard's "unknown" (or 404) answer */
        for (size_t s = 0; s < as.n && r->status == 0; s++)
            if (as.a[s].ok)
                fed_pass_marked(r, &as.a[s], &as, out);
    } else if (n_holders == 1 || same) {
        fed_pass_marked(r, &as.a[first], &as, out);
    } else {
        merge_holders(r, holder, seq, failed, out);
    }
done:
    fed_answers_free(&as);
}
