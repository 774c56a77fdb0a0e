/* TraceResponse pages, skeleton pages and span details. Pages continue one
 * pre-order walk: the cursor is "<position>.<span id>" of the next span, so a
 * span's parent is always on its page or an earlier one, and new spans arriving
 * between pages do not shift the walk. */
#include "trace.h"

#include "otlp.h"
#include "textmatch.h"
#include "tree_cache.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- executions ---- */

static void execution_finish_load(execution_t *x)
{
    x->root = x->first = -1;
    x->all_rooted = x->n > 0;
    for (size_t i = 0; i < x->n; i++) {
        const arbor_trace_summary_t *s = &x->sums[i];
        if (!s->has_root)
            x->all_rooted = 0;
        else if (x->root < 0 || s->start_ns > x->sums[x->root].start_ns)
            x->root = (int)i;
        if (x->first < 0 || s->start_ns < x->sums[x->first].start_ns)
            x->first = (int)i;
    }
}

int execution_load(arbor_reader_t *r, arbor_iov_t exec_id, execution_t *x)
{
    x->id = exec_id;
    int rc = arbor_reader_execution_traces(r, exec_id, x->ids, TRACE_MAX_PER_EXECUTION, &x->n);
    for (size_t i = 0; rc == 0 && i < x->n; i++)
        rc = arbor_reader_trace_summary(r, x->ids[i], &x->sums[i]);
    execution_finish_load(x);
    return rc;
}

static int execution_load_trace(arbor_reader_t *r, const uint8_t *trace_id, execution_t *x)
{
    int rc = arbor_reader_trace_summary(r, trace_id, &x->sums[0]);
    if (rc)
        return rc;
    memcpy(x->ids[0], trace_id, 16);
    x->n = 1;
    x->id = x->sums[0].execution_id.len ? x->sums[0].execution_id : ARBOR_IOV_NULL;
    execution_finish_load(x);
    return 0;
}

/* Decode the latest root span (its events and attributes say more). */
static int decode_root(arbor_reader_t *r, const execution_t *x, arbor_arena_t *a, otlp_span_t *s)
{
    arbor_span_rec_t rec;
    if (x->root < 0)
        return -1;
    const arbor_trace_summary_t *root = &x->sums[x->root];
    if (arbor_reader_span(r, root->trace_id, root->root_span_id, &rec) != 0)
        return -1;
    arbor_iov_t bytes;
    if (arbor_span_bytes(&rec, a, &bytes) != 0)
        return -1;
    return otlp_span_decode(a, bytes.base, bytes.len, s) == 0 ? 0 : -1;
}

const char *execution_status(arbor_reader_t *r, const execution_t *x)
{
    if (x->n == 0)
        return "unknown";
    if (!x->all_rooted)
        return "running";
    const char *status = x->sums[x->root].root_status == 2 ? "error" : "completed";
    arbor_arena_t a;
    otlp_span_t s;
    arbor_arena_init(&a, 16384, 0);
    if (decode_root(r, x, &a, &s) == 0)
        for (size_t i = 0; i < s.n_events; i++)
            if (arbor_iov_eq_str(s.events[i].name, "workflow.cancelled"))
                status = "cancelled";
    arbor_arena_free(&a);
    return status;
}

uint64_t execution_finished_ns(arbor_reader_t *r, const execution_t *x)
{
    /* the roots' own ends: a trace summary's end is its latest span's, and a
     * child may end after the root (detached work, clock skew) */
    uint64_t end = 0;
    for (size_t i = 0; x->all_rooted && i < x->n; i++) {
        arbor_span_rec_t rec;
        const arbor_trace_summary_t *s = &x->sums[i];
        if (arbor_reader_span(r, s->trace_id, s->root_span_id, &rec) == 0 && rec.end_ns > end)
            end = rec.end_ns;
    }
    return end;
}

static void write_thread_id(jsonw_t *w, arbor_reader_t *r, const execution_t *x)
{
    static const char *const keys[] = {"orcheo.execution.thread_id", "thread_id", "threadId"};
    arbor_arena_t a;
    otlp_span_t s;
    const otlp_value_t *v = NULL;
    arbor_arena_init(&a, 16384, 0);
    if (decode_root(r, x, &a, &s) == 0)
        for (size_t i = 0; i < 3 && (v == NULL || v->type != OTLP_VALUE_STRING); i++)
            v = otlp_attrs_get(&s.attrs, keys[i]);
    jsonw_key_lit(w, "thread_id");
    if (v != NULL && v->type == OTLP_VALUE_STRING)
        jsonw_str(w, v->u.str);
    else
        jsonw_null(w);
    arbor_arena_free(&a);
}

/* A link template with {trace_id} and {execution_id} filled in. */
static void write_link_url(jsonw_t *w, const char *tmpl, const execution_t *x)
{
    char buf[1024], hex[33] = "";
    size_t n = 0;
    if (x->first >= 0)
        arbor_hex_encode(hex, x->sums[x->first].trace_id, 16);
    for (const char *p = tmpl; *p && n + 1 < sizeof buf;) {
        arbor_iov_t sub = ARBOR_IOV_NULL;
        if (strncmp(p, "{trace_id}", 10) == 0)
            sub = arbor_iov(hex, strlen(hex)), p += 10;
        else if (strncmp(p, "{execution_id}", 14) == 0)
            sub = x->id, p += 14;
        else {
            buf[n++] = *p++;
            continue;
        }
        for (size_t i = 0; i < sub.len && n + 1 < sizeof buf; i++)
            buf[n++] = sub.base[i];
    }
    jsonw_str(w, arbor_iov(buf, n));
}

static void write_execution(jsonw_t *w, arbor_reader_t *r, const execution_t *x, const tree_t *t,
                            const trace_options_t *o)
{
    jsonw_key_lit(w, "execution");
    jsonw_object(w);
    jsonw_key_lit(w, "id");
    if (x->id.base != NULL)
        jsonw_str(w, x->id);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "status");
    jsonw_cstr(w, execution_status(r, x));
    write_thread_id(w, r, x);
    jsonw_key_lit(w, "started_at");
    jsonw_time(w, t->n_real ? t->min_start : 0);
    jsonw_key_lit(w, "finished_at");
    jsonw_time(w, execution_finished_ns(r, x));
    jsonw_key_lit(w, "trace_id");
    if (x->first >= 0)
        jsonw_hex(w, x->sums[x->first].trace_id, 16);
    else
        jsonw_null(w);
    span_json_tokens(w, "token_usage", t->tokens_in, t->tokens_out);
    /* additive */
    jsonw_key_lit(w, "trace_ids");
    jsonw_array(w);
    for (size_t i = 0; i < x->n; i++)
        jsonw_hex(w, x->ids[i], 16);
    jsonw_array_end(w);
    jsonw_key_lit(w, "workflow_id");
    if (x->first >= 0 && x->sums[x->first].workflow_id.len)
        jsonw_str(w, x->sums[x->first].workflow_id);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "span_count");
    jsonw_uint(w, t->n_real);
    jsonw_key_lit(w, "error_count");
    jsonw_uint(w, t->errors);
    jsonw_key_lit(w, "external_links");
    jsonw_array(w);
    for (size_t i = 0; x->n > 0 && i < o->n_links; i++) {
        jsonw_object(w);
        jsonw_key_lit(w, "name");
        jsonw_cstr(w, o->links[i].name);
        jsonw_key_lit(w, "url");
        write_link_url(w, o->links[i].url, x);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
    jsonw_object_end(w);
}

/* ---- cursors ---- */

int trace_parse_cursor(arbor_iov_t c, size_t *pos, uint8_t span[8], int *has_span)
{
    char buf[64];
    *has_span = 0;
    if (c.len == 0 || c.len >= sizeof buf)
        return c.len == 0 ? 0 : ARBOR_EDECODE;
    memcpy(buf, c.base, c.len);
    buf[c.len] = '\0';
    char *dot = strchr(buf, '.'), *end;
    unsigned long long p = strtoull(buf, &end, 10);
    if (end == buf || (dot ? end != dot : *end != '\0') || p > UINT32_MAX)
        return ARBOR_EDECODE;
    if (dot != NULL) {
        if (arbor_hex_decode(span, 8, dot + 1, strlen(dot + 1)) != 0)
            return ARBOR_EDECODE;
        *has_span = 1;
    }
    *pos = (size_t)p;
    return 0;
}

static void write_page_info(jsonw_t *w, int more, size_t next_pos, const uint8_t *next_span)
{
    jsonw_key_lit(w, "page_info");
    jsonw_object(w);
    jsonw_key_lit(w, "has_next_page");
    jsonw_bool(w, more);
    jsonw_key_lit(w, "cursor");
    if (more) {
        char c[48];
        int n = snprintf(c, sizeof c, "%zu.", next_pos);
        arbor_hex_encode(c + n, next_span, 8);
        jsonw_cstr(w, c);
    } else {
        jsonw_null(w);
    }
    jsonw_object_end(w);
}

/* ---- page walks ---- */

/* What skeleton entries carry besides the span header: the service (resource
 * records are few per trace: a small cache), the model of spans with tokens and,
 * asked for, the events (both from the decoded span). */
typedef struct {
    arbor_reader_t *r;
    int events;
    span_services_t services;
} skel_ctx_t;

static void write_service(jsonw_t *w, skel_ctx_t *c, const arbor_span_rec_t *rec, arbor_arena_t *arena)
{
    jsonw_key_lit(w, "service");
    jsonw_str(w, span_json_service(&c->services, c->r, rec->resource_ref, arena));
}

static void write_model(jsonw_t *w, const otlp_span_t *s)
{
    static const char *const keys[] = {"gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                                       "orcheo.ai.model.actual", "orcheo.ai.model.requested", "orcheo.model", "model"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const otlp_value_t *v = otlp_attrs_get(&s->attrs, keys[i]);
        if (v != NULL && v->type == OTLP_VALUE_STRING && v->u.str.len) {
            jsonw_key_lit(w, "model");
            jsonw_str(w, v->u.str);
            return;
        }
    }
}

static void write_events(jsonw_t *w, const otlp_span_t *s)
{
    jsonw_key_lit(w, "events");
    jsonw_array(w);
    for (size_t i = 0; i < s->n_events && i < 50; i++) {
        jsonw_object(w);
        jsonw_key_lit(w, "name");
        jsonw_str(w, s->events[i].name);
        jsonw_key_lit(w, "time");
        jsonw_time(w, s->events[i].time_ns);
        jsonw_object_end(w);
    }
    jsonw_array_end(w);
}

/* The service, and from the decoded span the model (spans with tokens; every span on
 * the full load, where compare matches LLM calls by it) and the events (when asked). */
static void write_span_facts(jsonw_t *w, skel_ctx_t *c, const arbor_span_rec_t *rec, arbor_arena_t *arena)
{
    arbor_iov_t bytes;
    otlp_span_t s;
    write_service(w, c, rec, arena);
    if (!rec->has_tokens && !c->events)
        return;
    if (arbor_span_bytes(rec, arena, &bytes) != 0 || otlp_span_decode(arena, bytes.base, bytes.len, &s) != 0)
        return;
    if (rec->has_tokens || c->events)
        write_model(w, &s);
    if (c->events) { /* the UI's full load: the workflow node too, which runs are compared by */
        const otlp_value_t *node = otlp_attrs_get(&s.attrs, "orcheo.node.id");
        if (node != NULL && node->type == OTLP_VALUE_STRING && node->u.str.len) {
            jsonw_key_lit(w, "node_id");
            jsonw_str(w, node->u.str);
        }
        write_events(w, &s);
    }
}

static void skeleton_entry(jsonw_t *w, const tree_t *t, uint32_t idx, const arbor_span_rec_t *stored,
                           skel_ctx_t *c, arbor_arena_t *arena)
{
    const tree_node_t *n = &t->nodes[idx];
    const arbor_span_rec_t *s = &n->rec;
    jsonw_object(w);
    jsonw_key_lit(w, "span_id");
    jsonw_hex(w, s->span_id, 8);
    jsonw_key_lit(w, "parent_span_id");
    if (n->parent != TREE_NONE)
        jsonw_hex(w, t->nodes[n->parent].rec.span_id, 8);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "trace_id");
    jsonw_hex(w, s->trace_id, 16);
    jsonw_key_lit(w, "name");
    jsonw_str(w, s->name);
    jsonw_key_lit(w, "start_time");
    jsonw_time(w, span_json_shown_start(s));
    jsonw_key_lit(w, "end_time");
    jsonw_time(w, s->end_ns);
    jsonw_key_lit(w, "status");
    jsonw_cstr(w, span_json_status_name(s->status_code));
    jsonw_key_lit(w, "kind");
    jsonw_cstr(w, span_json_kind_name(s->kind));
    span_json_tokens(w, "tokens", s->tokens_in, s->tokens_out);
    span_json_tokens(w, "subtree_tokens", n->subtree_in, n->subtree_out);
    jsonw_key_lit(w, "error_count");
    jsonw_uint(w, n->subtree_errors);
    jsonw_key_lit(w, "child_count");
    jsonw_uint(w, n->n_children);
    jsonw_key_lit(w, "depth");
    jsonw_uint(w, n->depth);
    if (n->placeholder) {
        jsonw_key_lit(w, "placeholder");
        jsonw_bool(w, 1);
    } else if (stored != NULL) {
        write_span_facts(w, c, stored, arena);
    }
    jsonw_object_end(w);
}

/* @p stored: the span's record with its bytes, NULL for a placeholder */
static void emit(jsonw_t *w, const tree_t *t, uint32_t idx, const arbor_span_rec_t *stored, render_kind_t kind,
                 const trace_options_t *o, skel_ctx_t *c, arbor_arena_t *arena)
{
    const tree_node_t *n = &t->nodes[idx];
    span_extra_t extra = {.has_tree = 1, .child_count = n->n_children, .depth = n->depth};
    if (kind == RENDER_SKELETON)
        skeleton_entry(w, t, idx, stored, c, arena);
    else if (stored == NULL)
        span_json_placeholder(w, &n->rec, &extra);
    else
        span_json_write(w, arena, stored, &o->span, &extra);
    arbor_arena_reset(arena);
}

typedef struct {
    uint32_t node, at; /* node index; position on the page */
} page_slot_t;

static int cmp_slot(const void *a, const void *b)
{
    uint32_t x = ((const page_slot_t *)a)->node, y = ((const page_slot_t *)b)->node;
    return x < y ? -1 : x > y;
}

/* The stored records of a page's nodes, span bytes readable: the nodes' own, or
 * for a cached tree read again. Real nodes were loaded in key order, so sorted
 * by index they are in key order and one cursor reads them. recs[k] is NULL
 * where the page holds a placeholder (or a span no longer found). */
static const arbor_span_rec_t **page_recs(const tree_t *t, arbor_reader_t *r, const uint32_t *nodes, size_t n,
                                          arbor_span_rec_t **store_out)
{
    const arbor_span_rec_t **recs = arbor_xcalloc(n + 1, sizeof *recs);
    *store_out = NULL;
    if (t->names == NULL) {
        for (size_t k = 0; k < n; k++)
            recs[k] = t->nodes[nodes[k]].placeholder ? NULL : &t->nodes[nodes[k]].rec;
        return recs;
    }
    page_slot_t *slots = arbor_xmalloc((n + 1) * sizeof *slots);
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (!t->nodes[nodes[k]].placeholder)
            slots[m++] = (page_slot_t){nodes[k], (uint32_t)k};
    qsort(slots, m, sizeof *slots, cmp_slot);
    arbor_span_rec_t *got = arbor_xmalloc((m + 1) * sizeof *got);
    uint8_t *found = arbor_xmalloc(m + 1);
    for (size_t j = 0; j < m; j++)
        got[j] = t->nodes[slots[j].node].rec;
    if (arbor_reader_spans_fill(r, got, m, found) == 0)
        for (size_t j = 0; j < m; j++)
            recs[slots[j].at] = found[j] ? &got[j] : NULL;
    free(found);
    free(slots);
    *store_out = got;
    return recs;
}

/* Write "spans" and "page_info" for one page of @p seq (a list of node indexes). */
static int write_page(jsonw_t *w, arbor_reader_t *r, const tree_t *t, const uint32_t *seq, size_t n,
                      const page_params_t *page, render_kind_t kind, const trace_options_t *o)
{
    size_t start = 0, pos;
    uint8_t span[8];
    int has_span;
    int rc = trace_parse_cursor(page->cursor, &pos, span, &has_span);
    if (rc)
        return rc;
    if (page->cursor.len) {
        start = pos;
        /* the span the cursor names wins over its position: spans may have arrived */
        if (has_span) {
            uint32_t idx = tree_find(t, span);
            if (idx != TREE_NONE && seq == t->order)
                start = t->pos[idx];
            for (size_t i = 0; idx != TREE_NONE && seq != t->order && i < n; i++)
                if (seq[i] == idx) {
                    start = i;
                    break;
                }
        }
    }
    /* the page's nodes first, then their records in one pass over the store */
    uint32_t *nodes = arbor_xmalloc((page->limit + 1) * sizeof *nodes);
    size_t emitted = 0, i = start;
    for (; i < n; i++) {
        if (page->max_depth && t->nodes[seq[i]].depth >= page->max_depth)
            continue;
        if (emitted == page->limit)
            break;
        nodes[emitted++] = seq[i];
    }
    arbor_span_rec_t *held;
    const arbor_span_rec_t **recs = page_recs(t, r, nodes, emitted, &held);
    arbor_arena_t arena;
    skel_ctx_t *c = arbor_xcalloc(1, sizeof *c);
    c->r = r;
    c->events = page->events;
    arbor_arena_init(&arena, 64 * 1024, 0);
    jsonw_key_lit(w, "spans");
    jsonw_array(w);
    for (size_t k = 0; k < emitted; k++)
        emit(w, t, nodes[k], recs[k], kind, o, c, &arena);
    arbor_arena_free(&arena);
    free(c);
    free(recs);
    free(held);
    free(nodes);
    jsonw_array_end(w);
    write_page_info(w, i < n, i, i < n ? t->nodes[seq[i]].rec.span_id : NULL);
    return 0;
}

typedef struct {
    jsonw_t *w;
    const page_params_t *page;
    arbor_arena_t arena;
    size_t seen;
    int truncated;
} match_ctx_t;

static int match_span(void *ctx, const arbor_span_rec_t *rec)
{
    match_ctx_t *m = ctx;
    arbor_iov_t bytes;
    otlp_span_t s;
    if ((++m->seen & 255) == 0 && m->page->match_deadline_ns && arbor_mono_ns() > m->page->match_deadline_ns) {
        m->truncated = 1;
        return 1;
    }
    if (text_contains(rec->name, m->page->match) ||
        (arbor_span_bytes(rec, &m->arena, &bytes) == 0 && otlp_span_decode(&m->arena, bytes.base, bytes.len, &s) == 0 &&
         text_span_mentions(&s, m->page->match)))
        jsonw_hex(m->w, rec->span_id, 8);
    arbor_arena_reset(&m->arena);
    return 0;
}

/* "matches": every stored span of the execution whose name, attributes, events
 * or status message mention page->match (the in-trace search), in storage
 * order, read straight from the store (a cached tree keeps no span bytes);
 * bounded by page->match_deadline_ns. */
static void write_matches(jsonw_t *w, arbor_reader_t *r, const execution_t *x, const page_params_t *page)
{
    match_ctx_t m = {.w = w, .page = page};
    arbor_arena_init(&m.arena, 64 * 1024, 0);
    jsonw_key_lit(w, "matches");
    jsonw_array(w);
    for (size_t i = 0; i < x->n && !m.truncated; i++)
        arbor_reader_trace_spans(r, x->ids[i], match_span, &m);
    jsonw_array_end(w);
    if (m.truncated) {
        jsonw_key_lit(w, "matches_truncated");
        jsonw_bool(w, 1);
    }
    arbor_arena_free(&m.arena);
}

int trace_render(arbor_reader_t *r, render_kind_t kind, arbor_iov_t exec_id, const uint8_t *trace_id,
                 const trace_options_t *o, const page_params_t *page, jsonw_t *w)
{
    execution_t *x = arbor_xmalloc(sizeof *x);
    tree_ref_t *ref = NULL;
    int rc = trace_id ? execution_load_trace(r, trace_id, x) : execution_load(r, exec_id, x);
    if (rc == 0) {
        uint64_t seqs[TRACE_MAX_PER_EXECUTION];
        for (size_t i = 0; i < x->n; i++)
            seqs[i] = x->sums[i].last_seq;
        rc = tree_cache_acquire(r, (const uint8_t(*)[16])x->ids, seqs, x->n, &ref);
    }
    if (rc) {
        free(x);
        return rc;
    }
    const tree_t *t = tree_ref_tree(ref);
    const uint32_t *seq = t->order;
    size_t n = t->n;
    if (page->has_parent) {
        uint32_t p = tree_find(t, page->parent);
        if (p == TREE_NONE) {
            rc = ARBOR_ENOTFOUND;
            goto out;
        }
        seq = t->kids + t->nodes[p].first_child;
        n = t->nodes[p].n_children;
    }
    jsonw_object(w);
    write_execution(w, r, x, t, o);
    if ((rc = write_page(w, r, t, seq, n, page, kind, o)) != 0)
        goto out;
    if (page->match.len)
        write_matches(w, r, x, page);
    jsonw_key_lit(w, "seq");
    jsonw_uint(w, arbor_reader_last_seq(r));
    jsonw_object_end(w);
out:
    tree_cache_release(ref);
    free(x);
    return rc;
}

int trace_render_span(arbor_reader_t *r, const uint8_t trace_id[16], const uint8_t span_id[8],
                      const trace_options_t *o, jsonw_t *w)
{
    arbor_span_rec_t rec;
    arbor_arena_t arena;
    int rc = arbor_reader_span(r, trace_id, span_id, &rec);
    if (rc)
        return rc;
    arbor_arena_init(&arena, 64 * 1024, 0);
    span_render_t full = o->span;
    full.preview_max = 0;
    span_json_full(w, &arena, r, &rec, &full);
    arbor_arena_free(&arena);
    return 0;
}
