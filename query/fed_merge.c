/* Federated lists, Tempo answers and span details: the shards' JSON merged.
 * With the Collector's loadbalancing exporter a trace lives on one shard (two
 * with replicas), so an entry seen on several shards is a copy: the fullest
 * copy wins. An execution whose traces sit on different shards is summed. */
#include "fed_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mark_partial(json_t *o, const fed_answers_t *as)
{
    size_t failed = fed_failed(as);
    if (failed == 0)
        return;
    char why[96];
    snprintf(why, sizeof why, "%zu of %zu shards did not answer", failed, as->n);
    json_object_set_new(o, "partial", json_true());
    json_object_set_new(o, "partialReason", json_string(why));
}


/* ---- lists ---- */

/* Newest first, as the store's time index: by the (latest) start, then trace ID, descending. */
static int cmp_list_items(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *kx = fed_str(x, "last_started_at") ? fed_str(x, "last_started_at") : fed_str(x, "started_at");
    const char *ky = fed_str(y, "last_started_at") ? fed_str(y, "last_started_at") : fed_str(y, "started_at");
    uint64_t tx = fed_time_ns(kx), ty = fed_time_ns(ky);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    const char *ix = fed_str(x, "trace_id"), *iy = fed_str(y, "trace_id");
    return -strcmp(ix ? ix : "", iy ? iy : "");
}

static int same_trace_set(const json_t *x, const json_t *y)
{
    const json_t *a = json_object_get(x, "trace_ids"), *b = json_object_get(y, "trace_ids");
    return json_equal((json_t *)a, (json_t *)b);
}

static void add_int(json_t *into, const json_t *from, const char *key)
{
    json_object_set_new(into, key, json_integer(fed_int(into, key) + fed_int(from, key)));
}

/* The execution's traces on either shard, listed by ID as the execution index lists them. */
static void union_ids(json_t *into, const json_t *from)
{
    fed_json_union(json_object_get(into, "trace_ids"), json_object_get(from, "trace_ids"));
    fed_json_sort(json_object_get(into, "trace_ids"), NULL);
}

/* One execution seen on two shards: different traces add up; the earliest trace
 * names it, the latest root finishes it. */
static void merge_execution(json_t *into, const json_t *from)
{
    uint64_t s_into = fed_time_ns(fed_str(into, "started_at")), s_from = fed_time_ns(fed_str(from, "started_at"));
    int running = !strcmp(fed_str(into, "status") ? fed_str(into, "status") : "", "running") ||
                  !strcmp(fed_str(from, "status") ? fed_str(from, "status") : "", "running");
    uint64_t f_into = fed_time_ns(fed_str(into, "finished_at")), f_from = fed_time_ns(fed_str(from, "finished_at"));
    add_int(into, from, "span_count");
    add_int(into, from, "error_count");
    add_int(into, from, "last_seq");
    json_t *ti = json_object_get(into, "token_usage"), *tf = json_object_get(from, "token_usage");
    add_int(ti, tf, "input");
    add_int(ti, tf, "output");
    union_ids(into, from);
    if (s_from < s_into)
        for (const char *const *k = (const char *const[]){"started_at", "trace_id", "workflow_id", "service_name", NULL};
             *k; k++)
            json_object_set(into, *k, json_object_get(from, *k));
    if (fed_time_ns(fed_str(from, "last_started_at")) > fed_time_ns(fed_str(into, "last_started_at")))
        json_object_set(into, "last_started_at", json_object_get(from, "last_started_at"));
    if (f_from > f_into) {
        json_object_set(into, "status", json_object_get(from, "status"));
        json_object_set(into, "root_name", json_object_get(from, "root_name"));
        json_object_set(into, "finished_at", json_object_get(from, "finished_at"));
    }
    if (running) {
        json_object_set_new(into, "status", json_string("running"));
        json_object_set_new(into, "finished_at", json_null());
    }
    uint64_t s = fed_time_ns(fed_str(into, "started_at")), f = fed_time_ns(fed_str(into, "finished_at"));
    json_object_set_new(into, "duration_ms", f >= s && f ? json_real((double)(f - s) / 1e6) : json_null());
}

/* How much of a trace an entry saw: its spans (lists) or matched spans (search). */
static json_int_t fullness(const json_t *item)
{
    const json_t *n = json_object_get(item, "span_count");
    if (n != NULL)
        return json_integer_value(n);
    /* a copy with the root names the trace as Tempo would */
    return fed_int(json_object_get(item, "spanSet"), "matched") + (json_object_get(item, "rootTraceName") ? 1 << 30 : 0);
}

/* Two copies of one entry that differ: the root's copy names it, the earliest
 * start orders it; settle_conflicts does the counts. */
static void settle_names(json_t *kept, const json_t *other)
{
    json_object_set_new(kept, "\x01conflict", json_true());
    if (json_is_null(json_object_get(kept, "root_name")) && json_is_string(json_object_get(other, "root_name"))) {
        json_object_set(kept, "root_name", json_object_get(other, "root_name"));
        json_object_set(kept, "service_name", json_object_get(other, "service_name"));
    }
    uint64_t a = fed_time_ns(fed_str(kept, "last_started_at")), b = fed_time_ns(fed_str(other, "last_started_at"));
    if (b && b < a)
        json_object_set(kept, "last_started_at", json_object_get(other, "last_started_at"));
}

/* @p item into @p items. An entry already there with other traces is another
 * part of the same execution (added up); with the same traces, a copy: the
 * fuller one stays, and if they differ the entry is settled later from its
 * merged tree (settle_conflicts), since a replica behind and a trace split
 * over two shards look alike here. */
static void add_list_item(json_t *items, json_t *item, const char *id_key, int executions)
{
    const char *id = fed_str(item, id_key);
    size_t i;
    json_t *have;
    json_array_foreach(items, i, have) {
        const char *hid = fed_str(have, id_key);
        if (id == NULL || hid == NULL || strcmp(id, hid) != 0)
            continue;
        if (executions && !same_trace_set(have, item)) {
            merge_execution(have, item);
            return;
        }
        int differ = !json_equal(json_object_get(have, "span_count"), json_object_get(item, "span_count")) ||
                     !json_equal(json_object_get(have, "status"), json_object_get(item, "status"));
        json_t *other;
        if (fullness(item) > fullness(have)) {
            other = json_incref(have); /* the array held it alone */
            json_array_set(items, i, item);
        } else {
            other = json_incref(item);
        }
        if (differ)
            settle_names(json_array_get(items, i), other);
        json_decref(other);
        return;
    }
    json_array_append(items, item);
}

/* Entries two shards disagree on: their execution (or trace) header, from the
 * tree merged over every shard, gives the counts and status a single store would. */
static void settle_conflicts(const fed_request_t *r, json_t *items, const char *id_key, int executions)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        if (json_object_get(item, "\x01conflict") == NULL)
            continue;
        json_object_del(item, "\x01conflict");
        fed_request_t *sub = arbor_xmalloc(sizeof *sub);
        *sub = *r;
        sub->route = FED_SKELETON;
        sub->status = 0;
        char *id = curl_easy_escape(NULL, fed_str(item, id_key), 0);
        snprintf(sub->path, sizeof sub->path, "/api/%s/%s/tree?limit=1", executions ? "executions" : "traces", id);
        curl_free(id);
        jsonw_t w;
        jsonw_init(&w);
        fed_merge_tree(sub, &w);
        json_t *tree = sub->status == 200 ? json_loadb(w.buf, w.len, 0, NULL) : NULL;
        json_t *x = json_object_get(tree, "execution");
        if (x != NULL) {
            static const char *const keys[] = {"status", "started_at", "finished_at", "span_count", "error_count",
                                               "token_usage", NULL};
            for (const char *const *k = keys; *k; k++)
                json_object_set(item, *k, json_object_get(x, *k));
            if (executions)
                json_object_set(item, "trace_ids", json_object_get(x, "trace_ids"));
            uint64_t s = fed_time_ns(fed_str(item, "started_at")), f = fed_time_ns(fed_str(item, "finished_at"));
            json_object_set_new(item, "duration_ms", f >= s && f ? json_real((double)(f - s) / 1e6) : json_null());
        }
        json_decref(tree);
        jsonw_free(&w);
        free(sub);
    }
}

static void cut_array(json_t *arr, size_t limit)
{
    while (json_array_size(arr) > limit)
        json_array_remove(arr, json_array_size(arr) - 1);
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

static void keep_status(json_t *items, const char *status)
{
    for (size_t i = json_array_size(items); status != NULL && i-- > 0;) {
        const char *s = fed_str(json_array_get(items, i), "status");
        if (s == NULL || strcmp(s, status) != 0)
            json_array_remove(items, i);
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
    json_t *items = json_array();
    char seq[16 + 21 * FED_MAX_SHARDS];
    fed_seq_cursor(&as, seq, sizeof seq);
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(o, key), i, item)
            add_list_item(items, item, executions ? "execution_id" : "trace_id", executions);
        json_decref(o);
    }
    settle_conflicts(r, items, executions ? "execution_id" : "trace_id", executions);
    keep_status(items, status);
    fed_json_sort(items, cmp_list_items);
    cut_array(items, (size_t)fed_int_param(r->path, "limit", 50));
    json_t *res = json_object();
    json_object_set_new(res, key, items);
    json_object_set_new(res, "seq", json_string(seq));
    mark_partial(res, &as);
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* ---- Tempo search ---- */

/* Newest first; startTimeUnixNano is a decimal string. */
static int cmp_search(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *sx = fed_str(x, "startTimeUnixNano"), *sy = fed_str(y, "startTimeUnixNano");
    sx = sx ? sx : "";
    sy = sy ? sy : "";
    if (strlen(sx) != strlen(sy))
        return strlen(sx) > strlen(sy) ? -1 : 1;
    int c = strcmp(sx, sy);
    if (c != 0)
        return -c;
    const char *ix = fed_str(x, "traceID"), *iy = fed_str(y, "traceID");
    ix = ix ? ix : "";
    iy = iy ? iy : "";
    return strlen(ix) != strlen(iy) ? (strlen(ix) > strlen(iy) ? -1 : 1) : -strcmp(ix, iy);
}

/* Tempo writes the byte and span counts as decimal strings. */
static void add_decimal(json_t *into, const json_t *from, const char *key)
{
    const char *a = fed_str(into, key), *b = fed_str(from, key);
    char sum[24];
    snprintf(sum, sizeof sum, "%llu", strtoull(a ? a : "0", NULL, 10) + strtoull(b ? b : "0", NULL, 10));
    json_object_set_new(into, key, json_string(sum));
}

void fed_merge_search(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    json_t *traces = json_array(), *metrics = json_object(), *res = json_object();
    json_object_set_new(metrics, "inspectedTraces", json_integer(0));
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]), *m = json_object_get(o, "metrics");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(o, "traces"), i, t)
            add_list_item(traces, t, "traceID", 0);
        for (size_t k = 0; k < json_array_size(traces); k++) /* search entries are not settled */
            json_object_del(json_array_get(traces, k), "\x01conflict");
        add_int(metrics, m, "inspectedTraces");
        add_decimal(metrics, m, "inspectedBytes");
        add_decimal(metrics, m, "inspectedSpans");
        if (json_is_true(json_object_get(o, "partial"))) {
            json_object_set_new(res, "partial", json_true());
            json_object_set(res, "partialReason", json_object_get(o, "partialReason"));
        }
        json_decref(o);
    }
    json_object_set_new(metrics, "totalBlocks", json_integer(0));
    json_object_set_new(metrics, "totalJobs", json_integer((json_int_t)as.n));
    json_object_set_new(metrics, "completedJobs", json_integer((json_int_t)(as.n - fed_failed(&as))));
    fed_json_sort(traces, cmp_search);
    cut_array(traces, (size_t)fed_int_param(r->path, "limit", 20));
    json_object_set_new(res, "traces", traces);
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

static json_t *scope_named(json_t *scopes, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(scopes, i, s) if (fed_str(s, "name") && !strcmp(fed_str(s, "name"), name)) return s;
    s = json_object();
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "tags", json_array());
    json_array_append_new(scopes, s);
    return s;
}

void fed_merge_tags(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    json_t *names = json_array(), *scopes = json_array(), *reason = NULL;
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        size_t i;
        json_t *sc;
        reason = shard_partial(reason, o);
        fed_json_union(names, json_object_get(o, "tagNames"));
        json_array_foreach(json_object_get(o, "scopes"), i, sc) if (fed_str(sc, "name"))
            fed_json_union(json_object_get(scope_named(scopes, fed_str(sc, "name")), "tags"), json_object_get(sc, "tags"));
        json_decref(o);
    }
    json_t *res = json_object();
    size_t limit = (size_t)fed_int_param(r->path, "limit", 10000), i;
    json_t *sc;
    if (r->v2) {
        json_array_foreach(scopes, i, sc) {
            fed_json_sort(json_object_get(sc, "tags"), NULL);
            cut_array(json_object_get(sc, "tags"), limit);
        }
        json_object_set_new(res, "scopes", scopes);
        json_decref(names);
    } else {
        fed_json_sort(names, NULL);
        cut_array(names, limit);
        json_object_set_new(res, "tagNames", names);
        json_decref(scopes);
    }
    mark_partial_all(res, reason, &as);
    json_object_set_new(res, "metrics", json_object());
    fed_json(r, res, out);
done:
    fed_answers_free(&as);
}

/* Strings alphabetically after the typed values, which keep the shards' order. */
static int cmp_tag_value(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *vx = json_is_string(x) ? json_string_value(x) : fed_str(x, "value");
    const char *vy = json_is_string(y) ? json_string_value(y) : fed_str(y, "value");
    const char *tx = json_is_string(x) ? "string" : fed_str(x, "type"), *ty = json_is_string(y) ? "string" : fed_str(y, "type");
    int sx = tx && !strcmp(tx, "string"), sy = ty && !strcmp(ty, "string");
    if (sx != sy)
        return sx - sy;
    if (!sx)
        return 0;
    return strcmp(vx ? vx : "", vy ? vy : "");
}

void fed_merge_tag_values(fed_request_t *r, jsonw_t *out)
{
    fed_answers_t as;
    if (fed_gather(r, &as, out) != 0)
        goto done;
    json_t *values = json_array(), *reason = NULL;
    for (size_t s = 0; s < as.n; s++) {
        json_t *o = fed_parse(&as.a[s]);
        reason = shard_partial(reason, o);
        fed_json_union(values, json_object_get(o, "tagValues"));
        json_decref(o);
    }
    /* a stable sort: the typed values keep their order */
    size_t n = json_array_size(values);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_array_get(values, b - 1), *y = json_array_get(values, b);
            if (cmp_tag_value(&x, &y) <= 0)
                break;
            json_incref(x);
            json_array_set(values, b - 1, y);
            json_array_set_new(values, b, x);
        }
    cut_array(values, (size_t)fed_int_param(r->path, "limit", 10000));
    json_t *res = json_object();
    json_object_set_new(res, "tagValues", values);
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
static void tempo_merge_found(fed_request_t *r, const fed_answers_t *as, const int *found, int protobuf, jsonw_t *out)
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
