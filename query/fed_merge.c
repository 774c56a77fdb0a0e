/* Federated lists, Tempo answers and span details. Each shard's answer is
 * parsed once and checked into typed entries (an answer of the wrong shape is
 * the shard's failure: "partial"); entries are found by hash (fed_keys_t), so
 * a merge is linear in the answers, and sorted once at the end.
 * With the Collector's loadbalancing exporter a trace lives on one shard (two
 * with replicas), so an entry seen on several shards is a copy: the fullest
 * copy wins. An execution whose traces sit on different shards is summed. */
#include "fed_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mark_partial_n(json_t *o, size_t failed, size_t n)
{
    if (failed == 0)
        return;
    char why[96];
    snprintf(why, sizeof why, "%zu of %zu shards did not answer", failed, n);
    json_object_set_new(o, "partial", json_true());
    json_object_set_new(o, "partialReason", json_string(why));
}

static void mark_partial(json_t *o, const fed_answers_t *as)
{
    mark_partial_n(o, fed_failed(as), as->n);
}

/* ---- list entries, typed ---- */

typedef enum { LIST_EXECUTIONS, LIST_TRACES, LIST_SEARCH } list_kind_t;

/* One entry of a shard's list (or Tempo search), as the merges read it. */
typedef struct {
    json_t *obj;      /* the entry as the shard wrote it; merged fields are set before it goes out */
    const char *id;   /* execution_id, trace_id or traceID */
    uint64_t started_ns, finished_ns, last_started_ns;
    int64_t spans, errors, tokens_in, tokens_out, last_seq, fullness;
    uint8_t (*traces)[16]; /* executions: the trace IDs, sorted */
    size_t n_traces;
    size_t next_part;      /* 1 + the entry of the execution's next part (another trace set), 0 none */
    int conflict, summed, settled;
} entry_t;

/* The entries of every shard, merged: one per ID (the head of its parts). */
typedef struct {
    list_kind_t kind;
    entry_t *e;
    size_t n, cap;
    fed_keys_t ids;   /* ID -> group */
    size_t *groups;   /* group -> its first entry */
    fed_keys_t parts; /* executions: ID and trace set -> part (an index into e) */
    size_t *part_at;
    arbor_arena_t mem;
} list_t;

static int cmp_trace_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* How much of a trace an entry saw: its spans (lists) or matched spans (search). */
static int64_t search_fullness(const json_t *item)
{
    /* a copy with the root names the trace as Tempo would */
    return fed_int(json_object_get(item, "spanSet"), "matched") + (json_object_get(item, "rootTraceName") ? 1 << 30 : 0);
}

/* The typed fields of a list entry; -1 when a member is missing or of the wrong type. */
static int read_list_entry(list_t *l, json_t *o, entry_t *e)
{
    const int time = FED_T_STR | FED_T_NULL, name = FED_T_STR | FED_T_NULL;
    const json_t *tok = json_object_get(o, "token_usage");
    memset(e, 0, sizeof *e);
    e->obj = o;
    e->id = fed_str(o, l->kind == LIST_EXECUTIONS ? "execution_id" : "trace_id");
    if (e->id == NULL || !fed_has(o, "status", FED_T_STR) || !fed_has(o, "span_count", FED_T_INT) ||
        !fed_has(o, "error_count", FED_T_INT | FED_T_ABSENT) || !fed_has(o, "started_at", time) ||
        !fed_has(o, "finished_at", time) || !fed_has(o, "root_name", name | FED_T_ABSENT) ||
        !fed_has(o, "service_name", name | FED_T_ABSENT) || !fed_has(o, "last_seq", FED_T_INT | FED_T_ABSENT) ||
        !fed_is(tok, FED_T_OBJ | FED_T_ABSENT) || !fed_has(tok, "input", FED_T_INT | FED_T_ABSENT) ||
        !fed_has(tok, "output", FED_T_INT | FED_T_ABSENT))
        return -1;
    e->started_ns = fed_time_ns(fed_str(o, "started_at"));
    e->finished_ns = fed_time_ns(fed_str(o, "finished_at"));
    e->last_started_ns = fed_time_ns(fed_str(o, "last_started_at"));
    e->spans = e->fullness = fed_int(o, "span_count");
    e->errors = fed_int(o, "error_count");
    e->tokens_in = fed_int(tok, "input");
    e->tokens_out = fed_int(tok, "output");
    e->last_seq = fed_int(o, "last_seq");
    if (l->kind == LIST_TRACES)
        return json_string_length(json_object_get(o, "trace_id")) == 32 ? 0 : -1;
    const json_t *ids = json_object_get(o, "trace_ids");
    if (!fed_string_array(ids, 32) || !fed_has(o, "last_started_at", time) || !fed_has(o, "workflow_id", name) ||
        !fed_has(o, "trace_id", name))
        return -1;
    e->n_traces = json_array_size(ids);
    e->traces = arbor_xcheck(arbor_arena_alloc(&l->mem, e->n_traces * 16 + 1));
    for (size_t i = 0; i < e->n_traces; i++)
        arbor_hex_decode(e->traces[i], 16, json_string_value(json_array_get(ids, i)), 32);
    qsort(e->traces, e->n_traces, 16, cmp_trace_id);
    return 0;
}

static int read_search_entry(json_t *o, entry_t *e)
{
    const char *start = fed_str(o, "startTimeUnixNano");
    memset(e, 0, sizeof *e);
    e->obj = o;
    e->id = fed_str(o, "traceID");
    if (e->id == NULL || !fed_has(o, "startTimeUnixNano", FED_T_STR | FED_T_ABSENT) ||
        (start != NULL && (start[0] == '\0' || strspn(start, "0123456789") != strlen(start) || strlen(start) > 20)) ||
        !fed_has(o, "rootTraceName", FED_T_STR | FED_T_ABSENT) || !fed_has(o, "spanSet", FED_T_OBJ | FED_T_ABSENT) ||
        !fed_has(json_object_get(o, "spanSet"), "matched", FED_T_INT | FED_T_ABSENT))
        return -1;
    e->started_ns = start ? strtoull(start, NULL, 10) : 0;
    e->fullness = search_fullness(o);
    return 0;
}

static void list_init(list_t *l, list_kind_t kind)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    fed_keys_init(&l->ids);
    fed_keys_init(&l->parts);
    arbor_arena_init(&l->mem, 65536, 0);
}

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->e[i].obj);
    free(l->e);
    free(l->groups);
    free(l->part_at);
    fed_keys_free(&l->ids);
    fed_keys_free(&l->parts);
    arbor_arena_free(&l->mem);
}

/* Two copies of one entry that differ: the root's copy names it, the earliest
 * start orders it; settle_conflicts does the counts. */
static void settle_names(entry_t *kept, const entry_t *other)
{
    kept->conflict = 1;
    if (json_is_null(json_object_get(kept->obj, "root_name")) && json_is_string(json_object_get(other->obj, "root_name"))) {
        json_object_set(kept->obj, "root_name", json_object_get(other->obj, "root_name"));
        json_object_set(kept->obj, "service_name", json_object_get(other->obj, "service_name"));
    }
    if (other->last_started_ns && other->last_started_ns < kept->last_started_ns) {
        kept->last_started_ns = other->last_started_ns;
        json_object_set(kept->obj, "last_started_at", json_object_get(other->obj, "last_started_at"));
    }
}

/* @p copy holds what @p kept holds (the same trace, or the same traces of an
 * execution): the fuller stays in @p kept; if they differ the entry is settled
 * later from its merged tree (settle_conflicts), since a replica behind and a
 * trace split over two shards look alike here. */
static void merge_copy(entry_t *kept, entry_t *copy)
{
    const char *a = fed_str(kept->obj, "status"), *b = fed_str(copy->obj, "status");
    int differ = kept->spans != copy->spans || ((a || b) && (!a || !b || strcmp(a, b) != 0));
    if (copy->fullness > kept->fullness) {
        entry_t t = *kept;
        size_t next = kept->next_part;
        *kept = *copy;
        *copy = t;
        kept->next_part = next;
        kept->conflict |= copy->conflict;
    }
    if (differ)
        settle_names(kept, copy);
}

/* Where entry @p i goes: a new ID, a copy of a part seen before, or (an
 * execution) another part: other traces of the same execution. */
static void list_place(list_t *l, size_t i)
{
    entry_t *e = &l->e[i];
    int added;
    size_t g = fed_keys_put(&l->ids, e->id, strlen(e->id), &added);
    if (added) {
        l->groups = arbor_xrealloc(l->groups, l->ids.n * sizeof *l->groups);
        l->groups[g] = i;
    }
    if (l->kind != LIST_EXECUTIONS) {
        if (!added)
            merge_copy(&l->e[l->groups[g]], e);
        return;
    }
    /* the part's key: the execution's ID and its sorted trace IDs */
    size_t id_len = strlen(e->id), key_len = id_len + 1 + e->n_traces * 16;
    char *key = arbor_xmalloc(key_len);
    memcpy(key, e->id, id_len + 1);
    memcpy(key + id_len + 1, e->traces, e->n_traces * 16);
    size_t p = fed_keys_put(&l->parts, key, key_len, &added);
    free(key);
    if (!added) {
        merge_copy(&l->e[l->part_at[p]], e);
        return;
    }
    l->part_at = arbor_xrealloc(l->part_at, l->parts.n * sizeof *l->part_at);
    l->part_at[p] = i;
    if (l->groups[g] != i) { /* another part: linked after the group's first */
        entry_t *head = &l->e[l->groups[g]];
        e->next_part = head->next_part;
        head->next_part = i + 1;
    }
}

/* The entries of shard answer @p a (member @p key of @p o, its parsed body)
 * into @p l; -1 when they are not a list of entries (then the answer is
 * invalid and nothing of it is taken). */
static int list_read(list_t *l, fed_answer_t *a, json_t *o, const char *key)
{
    json_t *items = json_object_get(o, key), *item;
    size_t i, first = l->n;
    if (!json_is_array(items)) {
        fed_answer_invalid(a, "the list is not an array");
        return -1;
    }
    json_array_foreach(items, i, item) {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 256;
            l->e = arbor_xrealloc(l->e, l->cap * sizeof *l->e);
        }
        entry_t *e = &l->e[l->n];
        if (!json_is_object(item) ||
            (l->kind == LIST_SEARCH ? read_search_entry(item, e) : read_list_entry(l, item, e)) != 0) {
            while (l->n > first)
                json_decref(l->e[--l->n].obj);
            fed_answer_invalid(a, "a list entry is not what the route returns");
            return -1;
        }
        json_incref(item);
        l->n++;
    }
    for (i = first; i < l->n; i++)
        list_place(l, i);
    return 0;
}

/* The union of two sorted trace ID arrays into @p into (from @p mem); non-zero
 * when they share one. */
static int union_traces(entry_t *into, const entry_t *from, arbor_arena_t *mem)
{
    uint8_t(*u)[16] = arbor_xcheck(arbor_arena_alloc(mem, (into->n_traces + from->n_traces) * 16 + 1));
    size_t i = 0, j = 0, n = 0;
    int shared = 0;
    while (i < into->n_traces || j < from->n_traces) {
        int c = i == into->n_traces ? 1 : j == from->n_traces ? -1 : memcmp(into->traces[i], from->traces[j], 16);
        shared |= c == 0;
        memcpy(u[n++], c <= 0 ? into->traces[i] : from->traces[j], 16);
        i += c <= 0;
        j += c >= 0;
    }
    into->traces = u;
    into->n_traces = n;
    return shared;
}

/* Another part of one execution (other traces, on another shard) into @p into:
 * counts add up, the earliest trace names it, the latest root finishes it.
 * Parts sharing a trace (a replica and a split) cannot simply add up: the
 * entry is settled from its merged tree. */
static void sum_part(entry_t *into, const entry_t *from, arbor_arena_t *mem)
{
    int running = !strcmp(fed_str(into->obj, "status"), "running") || !strcmp(fed_str(from->obj, "status"), "running");
    into->spans += from->spans;
    into->errors += from->errors;
    into->last_seq += from->last_seq;
    into->tokens_in += from->tokens_in;
    into->tokens_out += from->tokens_out;
    into->conflict |= from->conflict | union_traces(into, from, mem);
    if (from->started_ns < into->started_ns) {
        into->started_ns = from->started_ns;
        for (const char *const *k = (const char *const[]){"trace_id", "workflow_id", "service_name", NULL}; *k; k++)
            json_object_set(into->obj, *k, json_object_get(from->obj, *k));
    }
    if (from->last_started_ns > into->last_started_ns)
        into->last_started_ns = from->last_started_ns;
    if (from->finished_ns > into->finished_ns) {
        json_object_set(into->obj, "status", json_object_get(from->obj, "status"));
        json_object_set(into->obj, "root_name", json_object_get(from->obj, "root_name"));
        into->finished_ns = from->finished_ns;
    }
    if (running) {
        json_object_set_new(into->obj, "status", json_string("running"));
        into->finished_ns = 0;
    }
    into->summed = 1;
}

static json_t *duration_value(uint64_t start, uint64_t end)
{
    return end >= start && end ? json_real((double)(end - start) / 1e6) : json_null();
}

/* A summed entry's fields as it goes out. */
static void write_summed(entry_t *e)
{
    json_t *o = e->obj, *ids = json_array();
    char hex[33];
    json_object_set_new(o, "span_count", json_integer(e->spans));
    json_object_set_new(o, "error_count", json_integer(e->errors));
    json_object_set_new(o, "last_seq", json_integer(e->last_seq));
    json_object_set_new(o, "token_usage", json_pack("{s:I,s:I}", "input", (json_int_t)e->tokens_in, "output",
                                                    (json_int_t)e->tokens_out));
    for (size_t i = 0; i < e->n_traces; i++) {
        arbor_hex_encode(hex, e->traces[i], 16);
        json_array_append_new(ids, json_string(hex));
    }
    json_object_set_new(o, "trace_ids", ids);
    json_object_set_new(o, "started_at", fed_time_value(e->started_ns));
    json_object_set_new(o, "last_started_at", fed_time_value(e->last_started_ns));
    json_object_set_new(o, "finished_at", fed_time_value(e->finished_ns));
    json_object_set_new(o, "duration_ms", duration_value(e->started_ns, e->finished_ns));
}

/* Each ID's parts summed into its first entry; those are the merged list. */
static entry_t **list_merged(list_t *l, size_t *n)
{
    entry_t **out = arbor_xmalloc((l->ids.n ? l->ids.n : 1) * sizeof *out);
    for (size_t g = 0; g < l->ids.n; g++) {
        entry_t *head = &l->e[l->groups[g]];
        for (size_t p = head->next_part; p != 0; p = l->e[p - 1].next_part)
            sum_part(head, &l->e[p - 1], &l->mem);
        if (head->summed)
            write_summed(head);
        out[g] = head;
    }
    *n = l->ids.n;
    return out;
}

/* Entries two shards disagree on: their execution (or trace) header, from the
 * tree merged over every shard, gives the counts and status a single store
 * would. Every conflict's tree is fetched at once (fed_tree_headers). */
static void settle_conflicts(const fed_request_t *r, entry_t **items, size_t n, int executions, uint8_t *failed)
{
    size_t n_conf = 0;
    entry_t **conf = arbor_xmalloc((n ? n : 1) * sizeof *conf);
    char **routes = arbor_xmalloc((n ? n : 1) * sizeof *routes);
    for (size_t i = 0; i < n; i++)
        if (items[i]->conflict) {
            char *id = curl_easy_escape(NULL, items[i]->id, 0);
            routes[n_conf] = arbor_xmalloc(strlen(id) + 32);
            sprintf(routes[n_conf], "/api/%s/%s/tree", executions ? "executions" : "traces", id);
            curl_free(id);
            conf[n_conf++] = items[i];
        }
    json_t **headers = arbor_xcalloc(n_conf ? n_conf : 1, sizeof *headers);
    fed_tree_headers(r, (const char *const *)routes, n_conf, headers, failed);
    for (size_t i = 0; i < n_conf; i++) {
        json_t *x = headers[i], *item = conf[i]->obj;
        if (x != NULL) {
            static const char *const keys[] = {"status", "started_at", "finished_at", "span_count", "error_count",
                                               "token_usage", NULL};
            for (const char *const *k = keys; *k; k++)
                json_object_set(item, *k, json_object_get(x, *k));
            if (executions)
                json_object_set(item, "trace_ids", json_object_get(x, "trace_ids"));
            json_object_set_new(item, "duration_ms", duration_value(fed_time_ns(fed_str(item, "started_at")),
                                                                    fed_time_ns(fed_str(item, "finished_at"))));
        }
        json_decref(x);
        free(routes[i]);
    }
    free(headers);
    free(routes);
    free(conf);
}

/* ---- sorting the merged entries ---- */

typedef struct {
    uint64_t ns;
    const char *id;
    json_t *obj;
} sort_key_t;

/* Newest first, as the store's time index: by the (latest) start, then ID, descending. */
static int cmp_sort_keys(const void *a, const void *b)
{
    const sort_key_t *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns > y->ns ? -1 : 1;
    size_t lx = strlen(x->id), ly = strlen(y->id); /* Tempo's IDs lose leading zeros */
    return lx != ly ? (lx > ly ? -1 : 1) : -strcmp(x->id, y->id);
}

/* The entries (with status @p status, when given) as a JSON array, newest
 * first, cut at @p limit. */
static json_t *sorted_array(entry_t **items, size_t n, list_kind_t kind, const char *status, size_t limit)
{
    sort_key_t *k = arbor_xmalloc((n ? n : 1) * sizeof *k);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = items[i]->obj;
        const char *st = fed_str(o, "status");
        if (status != NULL && (st == NULL || strcmp(st, status) != 0))
            continue;
        const char *at = fed_str(o, "last_started_at") ? fed_str(o, "last_started_at") : fed_str(o, "started_at");
        k[m++] = (sort_key_t){kind == LIST_SEARCH ? items[i]->started_ns : fed_time_ns(at), items[i]->id, o};
    }
    qsort(k, m, sizeof *k, cmp_sort_keys);
    json_t *arr = json_array();
    for (size_t i = 0; i < m && i < limit; i++)
        json_array_append(arr, k[i].obj);
    free(k);
    return arr;
}

/* @p path without its "status" and "limit" parameters, asking for the most a
 * shard lists: the status of an entry two shards hold parts of is only known
 * once merged, so the filter runs here. */
static void unfiltered_path(const char *path, char *buf, size_t size)
{
    const char *q = strchr(path, '?');
    size_t n = (size_t)snprintf(buf, size, "%.*s?limit=1000", (int)(q ? q - path : (long)strlen(path)), path);
    for (const char *p = q ? q + 1 : NULL; p != NULL && *p && n < size; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        size_t len = strcspn(p, "&");
        if (len == 0 || !strncmp(p, "status=", 7) || !strncmp(p, "limit=", 6) || !strcmp(p, "status") ||
            !strcmp(p, "limit"))
            continue;
        n += (size_t)snprintf(buf + n, size - n, "&%.*s", (int)len, p);
    }
}

void fed_merge_list(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    int executions = r->route == FED_EXECUTIONS;
    const char *key = executions ? "executions" : "traces";
    char status_buf[32], asked[sizeof r->path];
    const char *status = fed_query_param(r->path, "status", status_buf, sizeof status_buf);
    memcpy(asked, r->path, sizeof asked);
    if (status != NULL)
        unfiltered_path(asked, r->path, sizeof r->path);
    int rc = fed_gather(r, &as, out);
    memcpy(r->path, asked, sizeof asked);
    if (rc != 0)
        goto done;
    list_t l;
    char seq[16 + 21 * FED_MAX_SHARDS];
    uint8_t failed[FED_MAX_SHARDS] = {0};
    size_t n, n_failed = 0;
    fed_seq_cursor(&as, seq, sizeof seq);
    list_init(&l, executions ? LIST_EXECUTIONS : LIST_TRACES);
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        if (o != NULL)
            list_read(&l, &as.a[s], o, key);
        json_decref(o);
    }
    entry_t **items = list_merged(&l, &n);
    settle_conflicts(r, items, n, executions, failed);
    for (size_t s = 0; s < as.n; s++)
        n_failed += failed[s] || (as.a[s].asked && !as.a[s].ok);
    json_t *res = json_object();
    json_object_set_new(res, key, sorted_array(items, n, l.kind, status, (size_t)fed_int_param(r->path, "limit", 50)));
    json_object_set_new(res, "seq", json_string(seq));
    mark_partial_n(res, n_failed, as.n);
    free(items);
    list_free(&l);
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* ---- Tempo search ---- */

/* Tempo writes the byte and span counts as decimal strings. */
static void add_decimal(json_t *into, const json_t *from, const char *key)
{
    const char *a = fed_str(into, key), *b = fed_str(from, key);
    char sum[24];
    snprintf(sum, sizeof sum, "%llu", strtoull(a ? a : "0", NULL, 10) + strtoull(b ? b : "0", NULL, 10));
    json_object_set_new(into, key, json_string(sum));
}

static int search_metrics_ok(const json_t *m)
{
    return fed_is(m, FED_T_OBJ | FED_T_ABSENT) && fed_has(m, "inspectedTraces", FED_T_INT | FED_T_ABSENT) &&
           fed_has(m, "inspectedBytes", FED_T_STR | FED_T_ABSENT) && fed_has(m, "inspectedSpans", FED_T_STR | FED_T_ABSENT);
}

void fed_merge_search(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    json_t *metrics = json_object(), *res = json_object();
    list_t l;
    list_init(&l, LIST_SEARCH);
    json_object_set_new(metrics, "inspectedTraces", json_integer(0));
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]), *m = json_object_get(o, "metrics");
        if (o != NULL && !search_metrics_ok(m))
            fed_answer_invalid(&as.a[s], "search metrics of the wrong type");
        else if (o != NULL && list_read(&l, &as.a[s], o, "traces") == 0) {
            json_object_set_new(metrics, "inspectedTraces",
                                json_integer(fed_int(metrics, "inspectedTraces") + fed_int(m, "inspectedTraces")));
            add_decimal(metrics, m, "inspectedBytes");
            add_decimal(metrics, m, "inspectedSpans");
            if (json_is_true(json_object_get(o, "partial"))) {
                json_object_set_new(res, "partial", json_true());
                if (json_is_string(json_object_get(o, "partialReason")))
                    json_object_set(res, "partialReason", json_object_get(o, "partialReason"));
            }
        }
        json_decref(o);
    }
    json_object_set_new(metrics, "totalBlocks", json_integer(0));
    json_object_set_new(metrics, "totalJobs", json_integer((json_int_t)as.n));
    json_object_set_new(metrics, "completedJobs", json_integer((json_int_t)(as.n - fed_failed(&as))));
    size_t n;
    entry_t **items = list_merged(&l, &n); /* search entries are not settled */
    json_object_set_new(res, "traces", sorted_array(items, n, LIST_SEARCH, NULL, (size_t)fed_int_param(r->path, "limit", 20)));
    free(items);
    list_free(&l);
    mark_partial(res, &as);
    json_object_set_new(res, "metrics", metrics);
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* ---- tags ---- */

/* A shard's own partial answer (its q walk ran out of budget): the first one's
 * reason, kept for the merged answer (@p reason: the one kept so far, or NULL). */
static json_t *shard_partial(json_t *reason, json_t *o)
{
    if (reason != NULL || !json_is_true(json_object_get(o, "partial")))
        return reason;
    json_t *why = json_object_get(o, "partialReason");
    return json_is_string(why) ? json_incref(why) : json_string("a shard answered partially");
}

/* The merged answer is partial when a shard's was, or a shard did not answer. */
static void mark_partial_all(json_t *res, json_t *reason, const fed_answers_t *as)
{
    if (reason != NULL) {
        json_object_set_new(res, "partial", json_true());
        json_object_set_new(res, "partialReason", reason);
    }
    mark_partial(res, as);
}

static void cut_array(json_t *arr, size_t limit)
{
    while (json_array_size(arr) > limit)
        json_array_remove(arr, json_array_size(arr) - 1);
}

/* v2 scopes: [{"name": ..., "tags": [names]}]; -1 when not that shape. */
static int scopes_ok(const json_t *scopes)
{
    size_t i;
    json_t *sc;
    if (!fed_is(scopes, FED_T_ARR | FED_T_ABSENT))
        return -1;
    json_array_foreach(scopes, i, sc) if (!json_is_object(sc) || !fed_has(sc, "name", FED_T_STR) ||
                                          !fed_string_array(json_object_get(sc, "tags"), 0)) return -1;
    return 0;
}

/* Tag names of one shard into @p names (v1) or, per scope, into @p tags (each
 * [scope index, name] pair once, found by the scope's name, NUL, the tag's)
 * and @p scopes (each scope once). */
static void add_tag_names(json_t *o, fed_set_t *names, fed_set_t *scopes, fed_set_t *tags, fed_answer_t *a)
{
    json_t *list = json_object_get(o, "tagNames"), *v, *sc, *all = json_object_get(o, "scopes");
    size_t i, k;
    if ((list != NULL && !fed_string_array(list, 0)) || scopes_ok(all) != 0) {
        fed_answer_invalid(a, "tag names that are not strings");
        return;
    }
    json_array_foreach(list, i, v) fed_set_add(names, json_string_value(v), json_string_length(v), v);
    json_array_foreach(all, i, sc) {
        const char *scope = fed_str(sc, "name");
        size_t sl = strlen(scope);
        size_t at = fed_set_add(scopes, scope, sl, json_object_get(sc, "name"));
        json_array_foreach(json_object_get(sc, "tags"), k, v) {
            size_t vl = json_string_length(v);
            char *key = arbor_xmalloc(sl + 1 + vl);
            memcpy(key, scope, sl + 1);
            memcpy(key + sl + 1, json_string_value(v), vl);
            json_t *pair = json_pack("[I,O]", (json_int_t)at, v);
            fed_set_add(tags, key, sl + 1 + vl, pair);
            json_decref(pair);
            free(key);
        }
    }
}

/* The v2 answer's scopes: each with its tags, sorted, cut at @p limit. */
static json_t *scopes_value(const fed_set_t *scopes, const fed_set_t *tags, size_t limit)
{
    json_t *out = json_array(), *pair;
    size_t n = json_array_size(scopes->values), i;
    for (i = 0; i < n; i++)
        json_array_append_new(out, json_pack("{s:O,s:[]}", "name", json_array_get(scopes->values, i), "tags"));
    json_array_foreach(tags->values, i, pair) {
        json_t *scope = json_array_get(out, (size_t)json_integer_value(json_array_get(pair, 0)));
        json_array_append(json_object_get(scope, "tags"), json_array_get(pair, 1));
    }
    json_array_foreach(out, i, pair) {
        fed_json_sort(json_object_get(pair, "tags"), NULL);
        cut_array(json_object_get(pair, "tags"), limit);
    }
    return out;
}

void fed_merge_tags(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    fed_set_t names, scopes, tags;
    json_t *reason = NULL;
    fed_set_init(&names);
    fed_set_init(&scopes);
    fed_set_init(&tags);
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        if (o != NULL)
            add_tag_names(o, &names, &scopes, &tags, &as.a[s]);
        if (as.a[s].ok)
            reason = shard_partial(reason, o);
        json_decref(o);
    }
    json_t *res = json_object();
    size_t limit = (size_t)fed_int_param(r->path, "limit", 10000);
    if (r->v2) {
        json_object_set_new(res, "scopes", scopes_value(&scopes, &tags, limit));
    } else {
        fed_json_sort(names.values, NULL);
        cut_array(names.values, limit);
        json_object_set(res, "tagNames", names.values);
    }
    fed_set_free(&names);
    fed_set_free(&scopes);
    fed_set_free(&tags);
    mark_partial_all(res, reason, &as);
    json_object_set_new(res, "metrics", json_object());
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* A tag value is a string (v1) or {"type": ..., "value": ...} (v2). */
static int tag_values_ok(const json_t *list)
{
    size_t i;
    json_t *v;
    if (!fed_is(list, FED_T_ARR | FED_T_ABSENT))
        return 0;
    json_array_foreach(list, i, v) if (!json_is_string(v) && !(json_is_object(v) && fed_has(v, "type", FED_T_STR) &&
                                                               fed_has(v, "value", FED_T_STR))) return 0;
    return 1;
}

/* A checked tag value's identity (type, NUL, value; a v1 string has no type):
 * allocated, *len bytes. */
static char *tag_value_key(const json_t *v, size_t *len)
{
    const char *type = json_is_string(v) ? "" : fed_str(v, "type");
    const json_t *text = json_is_string(v) ? v : json_object_get(v, "value");
    size_t tl = strlen(type), vl = json_string_length(text);
    char *key = arbor_xmalloc(tl + 1 + vl + 1);
    memcpy(key, type, tl + 1);
    memcpy(key + tl + 1, json_string_value(text), vl);
    *len = tl + 1 + vl;
    return key;
}

typedef struct {
    const json_t *v;
    const char *text; /* strings only */
    size_t seen;      /* order first seen: typed values keep it */
} tag_value_t;

/* Strings alphabetically after the typed values, which keep the shards' order. */
static int cmp_tag_values(const void *a, const void *b)
{
    const tag_value_t *x = a, *y = b;
    if ((x->text == NULL) != (y->text == NULL))
        return x->text == NULL ? -1 : 1;
    int c = x->text ? strcmp(x->text, y->text) : 0;
    return c ? c : x->seen < y->seen ? -1 : x->seen > y->seen;
}

static json_t *sorted_tag_values(json_t *values, size_t limit)
{
    size_t n = json_array_size(values), i;
    tag_value_t *t = arbor_xmalloc((n ? n : 1) * sizeof *t);
    json_t *v, *out = json_array();
    json_array_foreach(values, i, v) {
        const char *type = json_is_string(v) ? "string" : fed_str(v, "type");
        t[i] = (tag_value_t){v, !strcmp(type, "string") ? (json_is_string(v) ? json_string_value(v) : fed_str(v, "value")) : NULL, i};
    }
    qsort(t, n, sizeof *t, cmp_tag_values);
    for (i = 0; i < n && i < limit; i++)
        json_array_append(out, (json_t *)t[i].v);
    free(t);
    return out;
}

/* The tag values of one shard's answer @p o into @p values, each once. */
static void add_tag_values(json_t *o, fed_set_t *values, fed_answer_t *a)
{
    json_t *list = json_object_get(o, "tagValues"), *v;
    size_t i;
    if (!tag_values_ok(list)) {
        fed_answer_invalid(a, "tag values that are not strings or {type, value}");
        return;
    }
    json_array_foreach(list, i, v) {
        size_t len;
        char *key = tag_value_key(v, &len);
        fed_set_add(values, key, len, v);
        free(key);
    }
}

void fed_merge_tag_values(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    fed_set_t values;
    json_t *reason = NULL;
    fed_set_init(&values);
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        if (o != NULL)
            add_tag_values(o, &values, &as.a[s]);
        if (as.a[s].ok)
            reason = shard_partial(reason, o);
        json_decref(o);
    }
    json_t *res = json_object();
    json_object_set_new(res, "tagValues", sorted_tag_values(values.values, (size_t)fed_int_param(r->path, "limit", 10000)));
    fed_set_free(&values);
    mark_partial_all(res, reason, &as);
    json_object_set_new(res, "metrics", json_object());
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* ---- one span, one trace ---- */

void fed_merge_span(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    fed_answer_t *missing = NULL;
    for (size_t s = 0; s < as.n; s++) {
        if (as.a[s].ok && as.a[s].status == 200) {
            fed_pass_marked(r, &as.a[s], &as, out);
            goto done;
        }
        if (as.a[s].ok && missing == NULL)
            missing = &as.a[s];
    }
    if (fed_failed(&as) > 0)
        fed_detail(r, 503, "not found on the shards that answered, and some did not answer", out);
    else
        fed_pass(r, missing, out);
done:
    fed_answers_free(&as);
}

/* The resource spans of a Tempo JSON answer (v2 "trace.resourceSpans", v1 "batches"). */
static json_t *resource_spans(json_t *o, int v2)
{
    return v2 ? json_object_get(json_object_get(o, "trace"), "resourceSpans") : json_object_get(o, "batches");
}

/* Append @p from's resource spans to @p into's, leaving out spans already there. */
static void merge_resource_spans(json_t *into, json_t *from, json_t *seen)
{
    size_t i, j, k;
    json_t *rs, *ss, *span;
    json_array_foreach(from, i, rs) {
        json_t *keep_ss = json_array();
        json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
            json_t *keep = json_array();
            json_array_foreach(json_object_get(ss, "spans"), k, span) {
                const char *id = fed_str(span, "spanId");
                if (id == NULL || json_object_get(seen, id) != NULL)
                    continue;
                json_object_set_new(seen, id, json_true());
                json_array_append(keep, span);
            }
            if (json_array_size(keep) > 0) {
                json_t *copy = json_copy(ss);
                json_object_set_new(copy, "spans", keep);
                json_array_append_new(keep_ss, copy);
            } else {
                json_decref(keep);
            }
        }
        if (json_array_size(keep_ss) > 0) {
            json_t *copy = json_copy(rs);
            json_object_set_new(copy, "scopeSpans", keep_ss);
            json_array_append_new(into, copy);
        } else {
            json_decref(keep_ss);
        }
    }
}

/* Resource spans as merge_resource_spans reads them: objects whose
 * "scopeSpans" are objects whose "spans" are objects with a "spanId". */
static int resource_spans_ok(const json_t *all)
{
    size_t i, j, k;
    json_t *rs, *ss, *span;
    if (!json_is_array(all))
        return 0;
    json_array_foreach(all, i, rs) {
        if (!json_is_object(rs) || !fed_has(rs, "scopeSpans", FED_T_ARR | FED_T_ABSENT))
            return 0;
        json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
            if (!json_is_object(ss) || !fed_has(ss, "spans", FED_T_ARR | FED_T_ABSENT))
                return 0;
            json_array_foreach(json_object_get(ss, "spans"), k, span) if (!fed_has(span, "spanId", FED_T_STR)) return 0;
        }
    }
    return 1;
}

/* Does the answer hold spans? Without parsing a megabyte: an absent trace is
 * v2 {"trace":{},…} (or an empty protobuf body), v1 a 404. */
static int tempo_found(const fed_answer_t *a, int v2, int protobuf)
{
    if (!a->ok || a->status != 200)
        return 0;
    if (protobuf || !v2)
        return a->len > 0 && !(a->len >= 13 && !memcmp(a->body, "{\"batches\":[]", 13));
    return a->len >= 26 && !memcmp(a->body, "{\"trace\":{\"resourceSpans\":", 26);
}

/* Several shards hold spans of the trace: JSON merged by span ID; protobuf
 * bodies concatenated, which protobuf defines as merging the messages (the
 * repeated resource spans add up). */
static void tempo_merge_found(fed_request_t *r, fed_answers_t *as, const int *found, int protobuf, jsonw_t *out)
{
    if (protobuf) {
        r->status = 200;
        snprintf(r->type, sizeof r->type, "application/protobuf");
        for (size_t s = 0; s < as->n; s++)
            if (found[s])
                jsonw_append(out, as->a[s].body, as->a[s].len);
        return;
    }
    json_t *res = NULL, *seen = json_object();
    for (size_t s = 0; s < as->n; s++) {
        if (!found[s])
            continue;
        json_t *o = fed_parse(&as->a[s]);
        if (o != NULL && !resource_spans_ok(resource_spans(o, r->v2))) {
            fed_answer_invalid(&as->a[s], "resource spans of the wrong shape");
            json_decref(o);
            o = NULL;
        }
        if (o == NULL)
            continue;
        if (res == NULL) {
            res = o;
            json_t *all = resource_spans(res, r->v2);
            json_t *copy = json_array();
            merge_resource_spans(copy, all, seen);
            json_array_clear(all);
            json_array_extend(all, copy);
            json_decref(copy);
            continue;
        }
        merge_resource_spans(resource_spans(res, r->v2), resource_spans(o, r->v2), seen);
        json_decref(o);
    }
    json_decref(seen);
    if (res == NULL) {
        fed_detail(r, 503, "no shard answered", out);
        return;
    }
    mark_partial(res, as);
    fed_json(r, res, out);
}

void fed_merge_tempo_trace(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    int found[FED_MAX_SHARDS] = {0}, protobuf = strstr(r->accept, "application/protobuf") != NULL;
    size_t n_found = 0, first = SIZE_MAX;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    for (size_t s = 0; s < as.n; s++)
        if ((found[s] = tempo_found(&as.a[s], r->v2, protobuf)) != 0) {
            n_found++;
            if (first == SIZE_MAX)
                first = s;
            else if (as.a[s].len == as.a[first].len && !memcmp(as.a[s].body, as.a[first].body, as.a[s].len))
                found[s] = 0, n_found--; /* a replica's identical copy */
        }
    if (n_found == 1) {
        fed_pass_marked(r, &as.a[first], &as, out);
    } else if (n_found > 1) {
        tempo_merge_found(r, &as, found, protobuf, out);
    } else if (!r->v2) { /* Tempo v1: 404 with no body */
        if (fed_failed(&as) > 0)
            fed_detail(r, 503, "not found on the shards that answered, and some did not answer", out);
        else
            r->status = 404, snprintf(r->type, sizeof r->type, "text/plain");
    } else {
        for (size_t s = 0; s < as.n; s++)
            if (as.a[s].ok && as.a[s].status == 200) {
                fed_pass_marked(r, &as.a[s], &as, out);
                break;
            }
        if (r->status == 0)
            fed_detail(r, 503, "no shard answered", out);
    }
done:
    fed_answers_free(&as);
}
