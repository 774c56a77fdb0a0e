/* Federated trees (TraceResponse and skeleton pages). The request goes to every
 * shard as it is. When one shard holds the execution or trace (the Collector
 * routes by trace ID), or every shard holding it answered the same bytes
 * (replicas), that shard's answer is the answer. Otherwise (an execution whose
 * traces sit on several shards, a trace split while the ring changed, a replica
 * behind) every page of every holder is fetched and checked, the spans merged
 * by span ID, and the tree built by tree.c itself (placeholders, sibling order,
 * pre-order, depths, child counts, subtree sums); then the page is cut with the
 * same "<position>.<span id>" cursors (trace_parse_cursor). Pages are read in
 * rounds, one batch per round over every tree and shard still going (the list
 * merges settle many trees at once), all by the request's deadline; a shard
 * whose pages fail, do not move on, or pass FED_MAX_PAGES is left out. */
#include "fed_internal.h"
#include "trace.h"
#include "tree.h"

#include "arbor/log.h"
#include "arbor/map64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX TRACE_MAX_LIMIT
/* Pages read of one tree from one shard (a million spans): a shard that says
 * there is more is left out past it. */
#define FED_MAX_PAGES 100

/* One tree: the shards' spans as tree.c builds it, each real node's JSON
 * beside it, and where each shard's pages stand. */
typedef struct {
    char *route;         /* the tree's path, without query */
    int skeleton;
    tree_t tree;
    json_t **objs;       /* per stored node (the first tree.n_real), owned */
    size_t cap;
    arbor_map64_t seen;  /* span IDs taken: a copy from another shard is dropped */
    json_t *ex[FED_MAX_SHARDS]; /* the holders' execution objects (first pages) */
    size_t n_ex;
    fed_set_t matches;   /* ?match=: the holders' "matches", united */
    int matched, matches_truncated;
    uint8_t more[FED_MAX_SHARDS], failed[FED_MAX_SHARDS];
    unsigned pages[FED_MAX_SHARDS];
    char cursor[FED_MAX_SHARDS][64];
} ftree_t;

static ftree_t *ftree_new(const char *route, int skeleton)
{
    ftree_t *t = arbor_xcalloc(1, sizeof *t);
    t->route = arbor_xstrdup(route);
    t->skeleton = skeleton;
    tree_init(&t->tree);
    arbor_map64_init(&t->seen);
    fed_set_init(&t->matches);
    return t;
}

static void ftree_free(ftree_t *t)
{
    for (size_t i = 0; i < t->tree.n_real; i++)
        json_decref(t->objs[i]);
    for (size_t i = 0; i < t->n_ex; i++)
        json_decref(t->ex[i]);
    free(t->objs);
    tree_free(&t->tree);
    arbor_map64_free(&t->seen);
    fed_set_free(&t->matches);
    free(t->route);
    free(t);
}

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

/* ---- checking a shard's page ---- */

static int tokens_ok(const json_t *tok)
{
    return fed_is(tok, FED_T_OBJ | FED_T_ABSENT) && fed_has(tok, "input", FED_T_INT | FED_T_ABSENT) &&
           fed_has(tok, "output", FED_T_INT | FED_T_ABSENT);
}

/* An execution object as the store writes it (what the merges read, typed). */
static int execution_ok(const json_t *x)
{
    const int name = FED_T_STR | FED_T_NULL | FED_T_ABSENT;
    return json_is_object(x) && fed_has(x, "status", FED_T_STR) && fed_has(x, "span_count", FED_T_INT) &&
           fed_has(x, "error_count", FED_T_INT) && fed_string_array(json_object_get(x, "trace_ids"), 32) &&
           tokens_ok(json_object_get(x, "token_usage")) && fed_has(x, "started_at", FED_T_STR | FED_T_NULL) &&
           fed_has(x, "finished_at", FED_T_STR | FED_T_NULL) && fed_has(x, "id", name) && fed_has(x, "trace_id", name) &&
           fed_has(x, "workflow_id", name) && fed_has(x, "thread_id", name);
}

static int hex_ok(const json_t *v, size_t bytes)
{
    uint8_t id[16];
    return json_is_string(v) && json_string_length(v) == 2 * bytes &&
           arbor_hex_decode(id, bytes, json_string_value(v), 2 * bytes) == 0;
}

/* A span of a page, with the members add_span reads of the types it reads. */
static int span_ok(const ftree_t *t, const json_t *span)
{
    const json_t *parent = json_object_get(span, "parent_span_id");
    const json_t *status = json_object_get(span, "status");
    if (!json_is_object(span) || !hex_ok(json_object_get(span, "span_id"), 8) ||
        !hex_ok(json_object_get(span, "trace_id"), 16) || !(parent == NULL || json_is_null(parent) || hex_ok(parent, 8)) ||
        !fed_has(span, "start_time", FED_T_STR | FED_T_NULL) || !fed_has(span, "end_time", FED_T_STR | FED_T_NULL) ||
        !tokens_ok(json_object_get(span, t->skeleton ? "tokens" : "token_usage")))
        return 0;
    if (t->skeleton)
        return fed_has(span, "placeholder", FED_T_BOOL | FED_T_ABSENT) && fed_is(status, FED_T_STR | FED_T_ABSENT);
    return fed_has(span, "attributes", FED_T_OBJ | FED_T_ABSENT) && fed_is(status, FED_T_OBJ | FED_T_ABSENT) &&
           fed_has(status, "code", FED_T_STR | FED_T_NULL | FED_T_ABSENT);
}

/* What is wrong with a tree page (its execution object, spans, page_info and
 * matches), or NULL. */
static const char *page_problem(const ftree_t *t, const json_t *o)
{
    const json_t *info = json_object_get(o, "page_info"), *spans = json_object_get(o, "spans"), *span, *m;
    const json_t *matches = json_object_get(o, "matches");
    size_t i;
    if (!execution_ok(json_object_get(o, "execution")))
        return "an execution object of the wrong shape";
    if (!json_is_array(spans) || !json_is_object(info) || !fed_has(info, "has_next_page", FED_T_BOOL) ||
        !fed_has(info, "cursor", FED_T_STR | FED_T_NULL))
        return "no spans or page_info";
    json_array_foreach(spans, i, span) if (!span_ok(t, span)) return "a span of the wrong shape";
    if (!fed_is(matches, FED_T_ARR | FED_T_ABSENT) || !fed_has(o, "matches_truncated", FED_T_BOOL | FED_T_ABSENT))
        return "matches of the wrong shape";
    json_array_foreach(matches, i, m) if (!hex_ok(m, 8)) return "matches of the wrong shape";
    return NULL;
}

/* ---- the tree ---- */

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
                         fed_time_value(p->start_ns), "end_time", fed_time_value(p->end_ns), "status", "UNSET", "kind",
                         "UNSPECIFIED", "tokens", tokens_value(0, 0), "subtree_tokens", tokens_value(0, 0),
                         "error_count", 0, "child_count", 0, "depth", 0, "placeholder", 1);
    return json_pack("{s:s,s:n,s:s,s:o,s:o,s:{s:b},s:[],s:{s:s,s:n},s:[],s:s,s:s,s:o}", "span_id", id,
                     "parent_span_id", "name", "(span not received yet)", "start_time", fed_time_value(p->start_ns),
                     "end_time", fed_time_value(p->end_ns), "attributes", "arbor.placeholder", 1, "events", "status",
                     "code", "UNSET", "message", "links", "trace_id", trace, "kind", "UNSPECIFIED", "token_usage",
                     tokens_value(0, 0));
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

/* Each trace of the holders' execution objects once (in the order first seen,
 * @p ids their hex), and whether every one has its root in the tree: then the
 * latest root's end (*end) finishes the execution. */
static int all_rooted(const ftree_t *t, json_t *ids, uint64_t *end)
{
    fed_keys_t traces;
    size_t k;
    json_t *id;
    fed_keys_init(&traces);
    for (size_t i = 0; i < t->n_ex; i++)
        json_array_foreach(json_object_get(t->ex[i], "trace_ids"), k, id) {
            uint8_t trace[16];
            int added;
            arbor_hex_decode(trace, 16, json_string_value(id), 32);
            fed_keys_put(&traces, trace, 16, &added);
            if (added)
                json_array_append(ids, id);
        }
    size_t listed = traces.n, n_rooted = 0;
    uint8_t *rooted = arbor_xcalloc(listed ? listed : 1, 1);
    for (size_t i = 0; i < t->tree.n_real; i++) {
        const arbor_span_rec_t *rec = &t->tree.nodes[i].rec;
        int added;
        size_t at = rec->has_parent ? SIZE_MAX : fed_keys_put(&traces, rec->trace_id, 16, &added);
        if (at >= listed)
            continue; /* not a root, or of a trace no holder lists */
        n_rooted += !rooted[at];
        rooted[at] = 1;
        *end = rec->end_ns > *end ? rec->end_ns : *end;
    }
    free(rooted);
    fed_keys_free(&traces);
    return listed > 0 && n_rooted == listed;
}

/* The holders' execution objects for one merged tree: the earliest names it,
 * the latest root finishes it, the spans count it. */
static json_t *merged_execution(const ftree_t *t)
{
    json_t *first = NULL, *last = NULL, *ids = json_array();
    for (size_t i = 0; i < t->n_ex; i++) {
        json_t *x = t->ex[i];
        uint64_t s = fed_time_ns(fed_str(x, "started_at"));
        if (first == NULL || (s && s < fed_time_ns(fed_str(first, "started_at"))))
            first = x;
        if (strcmp(fed_str(x, "status"), "running") != 0 &&
            (last == NULL || fed_time_ns(fed_str(x, "finished_at")) > fed_time_ns(fed_str(last, "finished_at"))))
            last = x;
    }
    json_t *e = json_copy(first);
    const tree_t *tr = &t->tree;
    uint64_t end = 0;
    int rooted = all_rooted(t, ids, &end);
    fed_json_sort(ids, NULL); /* as the execution index lists them */
    if (!rooted) {
        json_object_set_new(e, "status", json_string("running"));
    } else if (last != NULL) {
        json_object_set(e, "status", json_object_get(last, "status"));
        json_object_set(e, "thread_id", json_object_get(last, "thread_id"));
    } else {
        json_object_set_new(e, "status", json_string(tr->errors ? "error" : "completed"));
    }
    json_object_set_new(e, "finished_at", rooted ? fed_time_value(end) : json_null());
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

/* The path of one page: the request's ?events= (every page) and ?match= (the
 * first), raw as sent; allocated. */
static char *page_path(const char *route, const char *cursor, const char *full_path)
{
    const char *q = full_path ? strchr(full_path, '?') : NULL;
    size_t size = strlen(route) + strlen(cursor) + (q ? strlen(q) : 0) + 64, n;
    char *buf = arbor_xmalloc(size);
    n = (size_t)snprintf(buf, size, "%s?limit=%d", route, PAGE_MAX);
    if (cursor[0])
        n += (size_t)snprintf(buf + n, size - n, "&cursor=%s", cursor);
    for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
        if (strncmp(p + 1, "events=", 7) == 0 || (!cursor[0] && strncmp(p + 1, "match=", 6) == 0))
            n += (size_t)snprintf(buf + n, size - n, "&%.*s", (int)strcspn(p + 1, "&"), p + 1);
    return buf;
}

/* A page's spans, execution object and matches into @p t, and where shard
 * @p s's next page starts (a cursor that does not move on is a broken page). */
static const char *take_page(ftree_t *t, size_t s, json_t *o, int first)
{
    const json_t *info = json_object_get(o, "page_info");
    const char *cursor = fed_str(info, "cursor");
    int more = json_is_true(json_object_get(info, "has_next_page"));
    if (more && (cursor == NULL || strlen(cursor) >= sizeof t->cursor[s] || strcmp(cursor, t->cursor[s]) == 0))
        return "a next page that does not move on";
    size_t i;
    json_t *span, *m;
    json_array_foreach(json_object_get(o, "spans"), i, span) add_span(t, span);
    if (first) {
        t->ex[t->n_ex++] = json_incref(json_object_get(o, "execution"));
        t->matched |= json_is_array(json_object_get(o, "matches"));
        t->matches_truncated |= json_is_true(json_object_get(o, "matches_truncated"));
        json_array_foreach(json_object_get(o, "matches"), i, m) fed_set_add(&t->matches, json_string_value(m), 16, m);
    }
    if (more && t->pages[s] >= FED_MAX_PAGES) {
        arbor_warn("shard_failed", "shard=%s error=\"more than %d pages of one tree\"", fed_shard_base(s), FED_MAX_PAGES);
        t->failed[s] = 1;
    } else if (more) {
        t->more[s] = 1;
        snprintf(t->cursor[s], sizeof t->cursor[s], "%s", cursor);
    }
    return NULL;
}

/* Shard @p s's answer @p a for a page of @p t. A shard that does not hold the
 * tree (an unknown trace answers 404, an unknown execution "unknown") has no
 * pages; one whose page failed or is not a tree page is left out. */
static void read_page(ftree_t *t, size_t s, fed_answer_t *a)
{
    int first = t->pages[s]++ == 0;
    t->more[s] = 0;
    if (first && a->ok && a->status == 404)
        return;
    json_t *o = a->status == 200 ? fed_parse(a) : NULL;
    const char *problem = o != NULL ? page_problem(t, o) : NULL;
    if (o != NULL && problem == NULL && first && !strcmp(fed_str(json_object_get(o, "execution"), "status"), "unknown")) {
        json_decref(o);
        return;
    }
    if (o != NULL && problem == NULL)
        problem = take_page(t, s, o, first);
    if (problem != NULL)
        fed_answer_invalid(a, problem);
    t->failed[s] |= o == NULL || problem != NULL;
    json_decref(o);
}

/* Every page of trees @p trees from the shards each says has more (t->more),
 * one batch per round. @p full_path: the request whose ?events= and ?match=
 * the pages keep (NULL: none). */
static void fetch_pages(const fed_request_t *r, ftree_t *const *trees, size_t n_trees, const char *full_path)
{
    size_t n_shards = fed_shard_count(), cap = n_trees * n_shards;
    fed_ask_t *asks = arbor_xmalloc((cap ? cap : 1) * sizeof *asks);
    fed_answer_t *answers = arbor_xmalloc((cap ? cap : 1) * sizeof *answers), **to = arbor_xmalloc((cap ? cap : 1) * sizeof *to);
    size_t *of_tree = arbor_xmalloc((cap ? cap : 1) * sizeof *of_tree);
    for (;;) {
        size_t n = 0;
        for (size_t i = 0; i < n_trees; i++)
            for (size_t s = 0; s < n_shards; s++)
                if (trees[i]->more[s]) {
                    asks[n] = (fed_ask_t){s, page_path(trees[i]->route, trees[i]->cursor[s], full_path)};
                    to[n] = &answers[n];
                    of_tree[n++] = i;
                }
        if (n == 0)
            break;
        fed_fetch_asks(r, asks, n, to);
        for (size_t k = 0; k < n; k++) {
            read_page(trees[of_tree[k]], asks[k].shard, &answers[k]);
            fed_answer_free(&answers[k]);
            free((char *)asks[k].path);
        }
    }
    free(asks);
    free(answers);
    free(to);
    free(of_tree);
}

void fed_tree_headers(const fed_request_t *r, const char *const *routes, size_t n, json_t **headers, uint8_t *failed)
{
    ftree_t **trees = arbor_xmalloc((n ? n : 1) * sizeof *trees);
    for (size_t i = 0; i < n; i++) {
        trees[i] = ftree_new(routes[i], 1);
        memset(trees[i]->more, 1, fed_shard_count());
    }
    fetch_pages(r, trees, n, NULL);
    for (size_t i = 0; i < n; i++) {
        ftree_t *t = trees[i];
        tree_build(&t->tree);
        headers[i] = t->n_ex > 0 ? merged_execution(t) : NULL;
        for (size_t s = 0; s < fed_shard_count(); s++)
            failed[s] |= t->failed[s];
        ftree_free(t);
    }
    free(trees);
}

/* Rebuild the tree from every holder's spans and answer the requested page. */
static void merge_holders(fed_request_t *r, const int *holder, const char *seq, size_t failed, jsonw_t *out)
{
    char buf[64], route[sizeof r->path];
    fed_route_path(r->path, route, sizeof route);
    ftree_t *t = ftree_new(route, r->route == FED_SKELETON);
    for (size_t s = 0; s < fed_shard_count(); s++)
        t->more[s] = (uint8_t)holder[s];
    fetch_pages(r, &t, 1, r->path);
    for (size_t s = 0; s < fed_shard_count(); s++)
        failed += t->failed[s];
    tree_build(&t->tree);
    const uint32_t *seq_nodes = t->tree.order;
    size_t n = t->tree.n;
    const char *parent = fed_query_param(r->path, "parent", buf, sizeof buf);
    if (parent != NULL && t->skeleton) {
        uint8_t pid[8];
        uint32_t p = arbor_hex_decode(pid, 8, parent, strlen(parent)) == 0 ? tree_find(&t->tree, pid) : TREE_NONE;
        if (p == TREE_NONE) {
            fed_detail(r, 404, "not found", out);
            goto done;
        }
        seq_nodes = t->tree.kids + t->tree.nodes[p].first_child;
        n = t->tree.nodes[p].n_children;
    }
    json_t *res = json_object();
    json_object_set_new(res, "execution", t->n_ex ? merged_execution(t) : json_null());
    if (write_page(res, t, seq_nodes, n, r) != 0) {
        json_decref(res);
        fed_detail(r, 400, "invalid cursor", out);
        goto done;
    }
    if (t->matched) {
        fed_json_sort(t->matches.values, NULL);
        json_object_set(res, "matches", t->matches.values);
        if (t->matches_truncated)
            json_object_set_new(res, "matches_truncated", json_true());
    }
    json_object_set_new(res, "seq", json_string(seq));
    if (failed) {
        json_object_set_new(res, "partial", json_true());
        json_object_set_new(res, "partialReason", json_string("some shards did not answer"));
    }
    fed_json(r, res, out);
done:
    ftree_free(t);
}

int fed_tree_held(fed_answer_t *a)
{
    static const char head[] = "{\"execution\":";
    const size_t hl = sizeof head - 1;
    if (!a->ok || a->status != 200)
        return 0;
    json_t *x = a->len > hl && !memcmp(a->body, head, hl)
                    ? json_loadb(a->body + hl, a->len - hl, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    int ok = execution_ok(x), held = ok && strcmp(fed_str(x, "status"), "unknown") != 0;
    json_decref(x);
    if (!ok)
        fed_answer_invalid(a, "not a tree page");
    return held;
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
        if (!(holder[s] = fed_tree_held(&as.a[s])))
            continue;
        n_holders++;
        if (first == SIZE_MAX)
            first = s;
        else
            same &= fed_same_but_seq(&as.a[first], &as.a[s]); /* replicas: the very same page */
    }
    if (fed_failed(&as) == as.n) {
        fed_detail(r, 503, "no shard answered", out);
    } else if (n_holders == 0) { /* unknown everywhere: any shard's "unknown" (or 404) answer */
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
