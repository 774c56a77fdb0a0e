/* Federated trees (TraceResponse and skeleton pages). The request goes to every
 * shard as it is. When one shard holds the execution or trace (the Collector
 * routes by trace ID), or every shard holding it has the same spans (replicas),
 * that shard's answer is the answer. Otherwise (an execution whose traces sit on
 * several shards, a trace split while the ring changed, a replica behind) every
 * page of every holder is fetched, the spans merged by span ID, and the tree
 * built by tree.c itself (placeholders, sibling order, pre-order, depths, child
 * counts, subtree sums); then the page is cut with the same "<position>.<span
 * id>" cursors (trace_parse_cursor). */
#include "fed_internal.h"
#include "trace.h"
#include "tree.h"

#include "arbor/map64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX TRACE_MAX_LIMIT

/* The shards' spans as tree.c builds a tree, each real node's JSON beside it. */
typedef struct {
    int skeleton;
    tree_t tree;
    json_t **objs;       /* per stored node (the first tree.n_real), owned */
    size_t cap;
    arbor_map64_t seen;  /* span IDs taken: a copy from another shard is dropped */
    json_t *matches;     /* ?match=: the holders' "matches", united (NULL: not asked) */
} ftree_t;

static uint64_t id64(const uint8_t *id)
{
    uint64_t v;
    memcpy(&v, id, 8);
    return v;
}

static int hex_field(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = fed_str(o, key);
    return s != NULL && arbor_hex_decode(out, n, s, strlen(s)) == 0;
}

/* One span of a shard's page; placeholders and copies already here are dropped. */
static void add_span(ftree_t *t, json_t *span)
{
    int placeholder = t->skeleton ? json_is_true(json_object_get(span, "placeholder"))
                                  : json_is_true(json_object_get(json_object_get(span, "attributes"), "arbor.placeholder"));
    arbor_span_rec_t rec;
    int added;
    memset(&rec, 0, sizeof rec);
    if (placeholder || !hex_field(span, "span_id", rec.span_id, 8))
        return;
    arbor_xcheck(arbor_map64_put(&t->seen, id64(rec.span_id), &added));
    if (!added)
        return;
    rec.has_parent = hex_field(span, "parent_span_id", rec.parent_span_id, 8);
    hex_field(span, "trace_id", rec.trace_id, 16);
    rec.start_ns = fed_time_ns(fed_str(span, "start_time"));
    rec.end_ns = fed_time_ns(fed_str(span, "end_time"));
    const json_t *tok = json_object_get(span, t->skeleton ? "tokens" : "token_usage");
    rec.tokens_in = json_integer_value(json_object_get(tok, "input"));
    rec.tokens_out = json_integer_value(json_object_get(tok, "output"));
    const char *status = t->skeleton ? fed_str(span, "status") : fed_str(json_object_get(span, "status"), "code");
    rec.status_code = status != NULL && strcmp(status, "ERROR") == 0 ? 2 : 0; /* what the sums count */
    if (t->tree.n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->objs = arbor_xrealloc(t->objs, t->cap * sizeof *t->objs);
    }
    t->objs[t->tree.n] = json_incref(span);
    tree_add(&t->tree, &rec);
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
static json_t *placeholder_obj(const ftree_t *t, const arbor_span_rec_t *p)
{
    char id[17], trace[33];
    arbor_hex_encode(id, p->span_id, 8);
    arbor_hex_encode(trace, p->trace_id, 16);
    if (t->skeleton)
        return json_pack("{s:s,s:n,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:b}", "span_id", id,
                         "parent_span_id", "trace_id", trace, "name", "(span not received yet)", "start_time",
                         time_value(p->start_ns), "end_time", time_value(p->end_ns), "status", "UNSET", "kind",
                         "UNSPECIFIED", "tokens", tokens_value(0, 0), "subtree_tokens", tokens_value(0, 0),
                         "error_count", 0, "child_count", 0, "depth", 0, "placeholder", 1);
    return json_pack("{s:s,s:n,s:s,s:o,s:o,s:{s:b},s:[],s:{s:s,s:n},s:[],s:s,s:s,s:o}", "span_id", id,
                     "parent_span_id", "name", "(span not received yet)", "start_time", time_value(p->start_ns),
                     "end_time", time_value(p->end_ns), "attributes", "arbor.placeholder", 1, "events", "status",
                     "code", "UNSET", "message", "links", "trace_id", trace, "kind", "UNSPECIFIED", "token_usage",
                     tokens_value(0, 0));
}

static void ftree_free(ftree_t *t)
{
    json_decref(t->matches);
    for (size_t i = 0; i < t->tree.n_real; i++)
        json_decref(t->objs[i]);
    free(t->objs);
    tree_free(&t->tree);
    arbor_map64_free(&t->seen);
}

/* A node as it goes out: its tree fields set as the store would. */
static json_t *node_json(const ftree_t *t, uint32_t i)
{
    const tree_node_t *x = &t->tree.nodes[i];
    json_t *o = x->placeholder ? placeholder_obj(t, &x->rec) : json_copy(t->objs[i]);
    if (t->skeleton) {
        char pid[17];
        if (x->parent != TREE_NONE)
            arbor_hex_encode(pid, t->tree.nodes[x->parent].rec.span_id, 8);
        json_object_set_new(o, "parent_span_id", x->parent != TREE_NONE ? json_string(pid) : json_null());
        json_object_set_new(o, "subtree_tokens", tokens_value(x->subtree_in, x->subtree_out));
        json_object_set_new(o, "error_count", json_integer(x->subtree_errors));
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
        uint64_t s = fed_time_ns(fed_str(ex[i], "started_at"));
        if (first == NULL || (s && s < fed_time_ns(fed_str(first, "started_at"))))
            first = ex[i];
        const char *st = fed_str(ex[i], "status");
        if (st && strcmp(st, "running") && (last == NULL || fed_time_ns(fed_str(ex[i], "finished_at")) >
                                                                 fed_time_ns(fed_str(last, "finished_at"))))
            last = ex[i];
        fed_json_union(ids, json_object_get(ex[i], "trace_ids"));
    }
    json_t *e = json_copy(first);
    /* every trace rooted? the latest root's end finishes the execution */
    const tree_t *tr = &t->tree;
    int all_rooted = json_array_size(ids) > 0;
    uint64_t end = 0;
    size_t k;
    json_t *id;
    json_array_foreach(ids, k, id) {
        uint8_t trace[16];
        int rooted = 0;
        arbor_hex_decode(trace, 16, json_string_value(id), 32);
        for (size_t i = 0; i < tr->n_real; i++)
            if (!tr->nodes[i].rec.has_parent && !memcmp(tr->nodes[i].rec.trace_id, trace, 16)) {
                rooted = 1;
                end = tr->nodes[i].rec.end_ns > end ? tr->nodes[i].rec.end_ns : end;
            }
        all_rooted &= rooted;
    }
    fed_json_sort(ids, NULL); /* as the execution index lists them */
    if (!all_rooted) {
        json_object_set_new(e, "status", json_string("running"));
    } else if (last != NULL) {
        json_object_set(e, "status", json_object_get(last, "status"));
        json_object_set(e, "thread_id", json_object_get(last, "thread_id"));
    } else {
        json_object_set_new(e, "status", json_string(tr->errors ? "error" : "completed"));
    }
    json_object_set_new(e, "finished_at", all_rooted ? time_value(end) : json_null());
    json_object_set_new(e, "token_usage", tokens_value(tr->tokens_in, tr->tokens_out));
    json_object_set_new(e, "trace_ids", ids);
    json_object_set_new(e, "span_count", json_integer((json_int_t)tr->n_real));
    json_object_set_new(e, "error_count", json_integer(tr->errors));
    return e;
}

/* ---- pages ---- */

/* "spans" and "page_info" of one page of @p seq, as trace.c's write_page. */
static int write_page(json_t *res, const ftree_t *t, const uint32_t *seq, size_t n, const fed_request_t *r)
{
    char buf[64];
    int canvas = r->route == FED_TREE && strstr(r->path, "/api/executions/") == r->path;
    size_t start = 0, pos = 0, limit = (size_t)fed_int_param(r->path, "limit", canvas ? TRACE_CANVAS_DEFAULT_LIMIT : TRACE_DEFAULT_LIMIT);
    long max_depth = fed_int_param(r->path, "depth", 0);
    uint8_t span[8];
    int has_span;
    const char *cursor = fed_query_param(r->path, "cursor", buf, sizeof buf);
    arbor_iov_t c = cursor ? arbor_iov(cursor, strlen(cursor)) : arbor_iov("", 0);
    if (trace_parse_cursor(c, &pos, span, &has_span) != 0)
        return -1;
    if (c.len)
        start = pos;
    if (has_span) {
        uint32_t idx = tree_find(&t->tree, span);
        for (size_t i = 0; idx != TREE_NONE && i < n; i++)
            if (seq[i] == idx) {
                start = i;
                break;
            }
    }
    json_t *spans = json_array();
    size_t emitted = 0, i = start;
    for (; i < n; i++) {
        if (max_depth > 0 && t->tree.nodes[seq[i]].depth >= (uint32_t)max_depth)
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
        arbor_hex_encode(hex, t->tree.nodes[seq[i]].rec.span_id, 8);
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
            const char *c = fed_str(info, "cursor");
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
    tree_init(&t.tree);
    arbor_map64_init(&t.seen);
    if (fetch_all_pages(r, holder, &t, ex, &n_ex) != 0) {
        fed_detail(r, 502, "a shard failed while its pages were read", out);
        goto done;
    }
    tree_build(&t.tree);
    const uint32_t *seq_nodes = t.tree.order;
    size_t n = t.tree.n;
    const char *parent = fed_query_param(r->path, "parent", buf, sizeof buf);
    if (parent != NULL && t.skeleton) {
        uint8_t pid[8];
        uint32_t p = arbor_hex_decode(pid, 8, parent, strlen(parent)) == 0 ? tree_find(&t.tree, pid) : TREE_NONE;
        if (p == TREE_NONE) {
            fed_detail(r, 404, "not found", out);
            goto done;
        }
        seq_nodes = t.tree.kids + t.tree.nodes[p].first_child;
        n = t.tree.nodes[p].n_children;
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
    size_t n_holders = 0, first = SIZE_MAX;
    char seq[16 + 21 * FED_MAX_SHARDS];
    if (fed_gather(r, &as, out) != 0)
        goto done;
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
        merge_holders(r, holder, seq, fed_failed(&as), out);
    }
done:
    fed_answers_free(&as);
}
