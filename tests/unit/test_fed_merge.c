/* Federation's merges over shard answers made up here (no shard is asked):
 * the typed checks that make a garbage answer the shard's failure, the hash
 * index, list parts (copies, parts of one execution, overlapping trace sets),
 * tag names and values, search order, tree holders and replicas. */
#include "tap.h"

#include "../../query/fed_merge.c"

#include "arbor/log.h"

#include <stdarg.h>

/* An ok 200 answer of shard @p shard with @p body (copied). */
static fed_answer_t answer(size_t shard, const char *body)
{
    fed_answer_t a;
    memset(&a, 0, sizeof a);
    a.shard = shard;
    a.asked = a.ok = 1;
    a.status = 200;
    a.len = strlen(body);
    a.cap = a.len + 1;
    a.body = arbor_xstrdup(body);
    snprintf(a.type, sizeof a.type, "application/json");
    return a;
}

static char trace_hex[8][33];

/* An execution entry: @p traces a string of trace numbers ("12" = traces 1 and 2). */
static void execution_json(char *out, size_t size, const char *id, const char *traces, int spans, const char *status)
{
    size_t n = (size_t)snprintf(out, size, "{\"execution_id\":\"%s\",\"workflow_id\":null,\"status\":\"%s\","
                                           "\"started_at\":\"2023-11-14T22:13:2%cZ\",\"finished_at\":null,"
                                           "\"duration_ms\":null,\"span_count\":%d,\"error_count\":0,"
                                           "\"token_usage\":{\"input\":1,\"output\":2},\"trace_id\":\"%s\",\"trace_ids\":[",
                                id, status, traces[0], spans, trace_hex[traces[0] - '0']);
    for (const char *t = traces; *t; t++)
        n += (size_t)snprintf(out + n, size - n, "%s\"%s\"", t == traces ? "" : ",", trace_hex[*t - '0']);
    snprintf(out + n, size - n, "],\"root_name\":null,\"service_name\":\"svc\",\"last_started_at\":\"2023-11-14T22:13:2%cZ\","
                                "\"last_seq\":1}", traces[strlen(traces) - 1]);
}

/* The merged executions of shard answers, each a list of "id:traces:spans:status" entries. */
static entry_t **merge_executions(list_t *l, size_t *n, int n_answers, ...)
{
    va_list ap;
    va_start(ap, n_answers);
    list_init(l, LIST_EXECUTIONS);
    for (int s = 0; s < n_answers; s++) {
        const char *spec = va_arg(ap, const char *);
        char body[8192] = "{\"executions\":[", entry[2048], id[32], traces[16], status[16];
        int spans;
        for (const char *p = spec; *p;) {
            if (sscanf(p, "%31[^:]:%15[^:]:%d:%15[a-z]", id, traces, &spans, status) != 4)
                break;
            execution_json(entry, sizeof entry, id, traces, spans, status);
            strcat(body, body[15] ? "," : "");
            strcat(body, entry);
            p += strcspn(p, " ");
            p += *p == ' ';
        }
        strcat(body, "],\"seq\":7}");
        fed_answer_t a = answer((size_t)s, body);
        json_t *o = fed_parse(&a);
        ok(o != NULL && list_read(l, &a, o, "executions") == 0, "answer %d read", s);
        json_decref(o);
        fed_answer_free(&a);
    }
    va_end(ap);
    return list_merged(l, n);
}

static const char *ids_of(const entry_t *e, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < e->n_traces; i++)
        for (int k = 0; k < 8; k++) {
            uint8_t b[16];
            arbor_hex_decode(b, 16, trace_hex[k], 32);
            if (!memcmp(b, e->traces[i], 16) && n + 1 < size)
                buf[n++] = (char)('0' + k), buf[n] = '\0';
        }
    return buf;
}

static void test_parts(void)
{
    list_t l;
    size_t n;
    char ids[16];
    entry_t **m = merge_executions(&l, &n, 2, "e:12:10:completed", "e:13:10:completed");
    ok(n == 1 && m[0]->conflict, "{T1,T2} and {T1,T3} with the same counts are no copies: settled from the tree");
    is_int(m[0]->spans, 20, "(their sum is only a first guess)");
    ok(!strcmp(ids_of(m[0], ids, sizeof ids), "123"), "the traces united: %s", ids);
    free(m);
    list_free(&l);

    m = merge_executions(&l, &n, 2, "e:1:5:completed", "e:2:7:completed");
    ok(n == 1 && !m[0]->conflict && m[0]->spans == 12, "disjoint parts of an execution add up");
    is_int(json_integer_value(json_object_get(m[0]->obj, "span_count")), 12, "and are written out");
    is_int(json_array_size(json_object_get(m[0]->obj, "trace_ids")), 2, "with both traces");
    free(m);
    list_free(&l);

    m = merge_executions(&l, &n, 3, "e:1:5:completed", "e:2:7:completed", "e:1:5:completed");
    ok(n == 1 && !m[0]->conflict && m[0]->spans == 12, "a replica of one part after another part: counted once (%d)",
       (int)m[0]->spans);
    free(m);
    list_free(&l);

    m = merge_executions(&l, &n, 2, "e:1:3:running", "e:1:5:completed");
    ok(n == 1 && m[0]->conflict && m[0]->spans == 5, "a replica behind: the fuller copy kept, settled later");
    ok(!strcmp(fed_str(m[0]->obj, "status"), "completed"), "the fuller copy's status");
    free(m);
    list_free(&l);

    m = merge_executions(&l, &n, 2, "e:1:5:completed f:2:4:running", "f:2:4:running e:1:5:completed g:3:1:running");
    ok(n == 3 && !m[0]->conflict && !m[1]->conflict && m[0]->spans == 5, "identical replicas: copies, no conflict");
    json_t *arr = sorted_array(m, n, LIST_EXECUTIONS, NULL, 2);
    ok(json_array_size(arr) == 2 && !strcmp(fed_str(json_array_get(arr, 0), "execution_id"), "g"),
       "newest first (by last_started_at), cut at the limit");
    json_decref(arr);
    arr = sorted_array(m, n, LIST_EXECUTIONS, "running", 50);
    ok(json_array_size(arr) == 2, "the status filter after merging");
    json_decref(arr);
    free(m);
    list_free(&l);
}

/* Answers of the wrong shape fail (the answer is no longer ok) and add nothing. */
static void test_garbage(void)
{
    static const char *const bad[] = {
        "{\"executions\":\"nope\"}",
        "{\"executions\":[5]}",
        "{\"executions\":[{\"execution_id\":5,\"status\":\"running\",\"span_count\":1,\"trace_ids\":[]}]}",
        "{\"executions\":[{\"execution_id\":\"e\",\"status\":\"running\",\"span_count\":\"1\",\"trace_ids\":[]}]}",
        "{\"executions\":[{\"execution_id\":\"e\",\"status\":\"running\",\"span_count\":1,\"trace_ids\":[5]}]}",
        "{\"executions\":[{\"execution_id\":\"e\",\"status\":\"running\",\"span_count\":1,\"trace_ids\":[\"abc\"]}]}",
        "{\"executions\":[{\"execution_id\":\"e\",\"status\":\"running\",\"span_count\":1,\"trace_ids\":[],"
        "\"token_usage\":3,\"started_at\":null,\"finished_at\":null,\"last_started_at\":null,\"workflow_id\":null,"
        "\"trace_id\":null}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        list_t l;
        list_init(&l, LIST_EXECUTIONS);
        fed_answer_t a = answer(0, bad[i]);
        json_t *o = fed_parse(&a);
        ok(o != NULL && list_read(&l, &a, o, "executions") != 0 && !a.ok && l.n == 0, "garbage %zu refused", i);
        json_decref(o);
        fed_answer_free(&a);
        list_free(&l);
    }
    fed_answer_t a = answer(1, "{\"executions\":[");
    ok(fed_parse(&a) == NULL && !a.ok, "malformed JSON: the shard failed");
    fed_answer_free(&a);
    a = answer(1, "[1,2]");
    ok(fed_parse(&a) == NULL && !a.ok, "not an object: the shard failed");
    fed_answer_free(&a);
}

static void test_keys(void)
{
    fed_keys_t k;
    int added, all_new = 1, all_found = 1;
    char key[32];
    fed_keys_init(&k);
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        all_new &= fed_keys_put(&k, key, (size_t)n, &added) == (size_t)i && added;
    }
    for (int i = 19999; i >= 0; i--) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        all_found &= fed_keys_put(&k, key, (size_t)n, &added) == (size_t)i && !added;
    }
    ok(all_new && all_found && k.n == 20000, "20,000 keys, each found again at its index");
    ok(fed_keys_put(&k, "a\0b", 3, &added) == 20000 && added && fed_keys_put(&k, "a\0c", 3, &added) == 20001 && added,
       "bytes after a NUL count");
    ok(fed_keys_put(&k, "", 0, &added) == 20002 && added && fed_keys_put(&k, "", 0, &added) == 20002 && !added,
       "the empty key");
    fed_keys_free(&k);
}

static void test_tags(void)
{
    fed_set_t names, scopes, tags;
    fed_set_init(&names);
    fed_set_init(&scopes);
    fed_set_init(&tags);
    const char *bodies[] = {"{\"tagNames\":[\"b\",\"a\"],\"scopes\":[{\"name\":\"span\",\"tags\":[\"x\",\"y\"]}]}",
                            "{\"tagNames\":[\"c\",\"a\"],\"scopes\":[{\"name\":\"resource\",\"tags\":[\"x\"]},"
                            "{\"name\":\"span\",\"tags\":[\"y\",\"z\"]}]}",
                            "{\"tagNames\":[1,\"evil\"]}", "{\"scopes\":[{\"name\":5,\"tags\":[\"evil\"]}]}",
                            "{\"scopes\":[{\"name\":\"span\",\"tags\":[false]}]}"};
    for (size_t i = 0; i < 5; i++) {
        fed_answer_t a = answer(i % 2, bodies[i]);
        json_t *o = fed_parse(&a);
        add_tag_names(o, &names, &scopes, &tags, &a);
        ok(a.ok == (i < 2), "tag answer %zu %s", i, i < 2 ? "taken" : "refused");
        json_decref(o);
        fed_answer_free(&a);
    }
    fed_json_sort(names.values, NULL);
    char *text = json_dumps(names.values, JSON_COMPACT);
    ok(!strcmp(text, "[\"a\",\"b\",\"c\"]"), "tag names united and sorted: %s", text);
    free(text);
    json_t *sc = scopes_value(&scopes, &tags, 10);
    text = json_dumps(sc, JSON_COMPACT);
    ok(!strcmp(text, "[{\"name\":\"span\",\"tags\":[\"x\",\"y\",\"z\"]},{\"name\":\"resource\",\"tags\":[\"x\"]}]"),
       "scopes in the order seen, their tags united: %s", text);
    free(text);
    json_decref(sc);
    fed_set_free(&names);
    fed_set_free(&scopes);
    fed_set_free(&tags);

    json_t *list = json_loads("[\"b\",{\"type\":\"int\",\"value\":\"2\"},\"a\",{\"type\":\"int\",\"value\":\"1\"},"
                              "{\"type\":\"string\",\"value\":\"0\"}]", 0, NULL);
    ok(tag_values_ok(list), "strings and {type, value} are tag values");
    json_t *out = sorted_tag_values(list, 10);
    text = json_dumps(out, JSON_COMPACT);
    ok(!strcmp(text, "[{\"type\":\"int\",\"value\":\"2\"},{\"type\":\"int\",\"value\":\"1\"},{\"type\":\"string\","
                     "\"value\":\"0\"},\"a\",\"b\"]"),
       "typed values first in the order seen, then strings sorted: %s", text);
    free(text);
    json_decref(out);
    json_decref(list);
    list = json_loads("[1]", 0, NULL);
    ok(!tag_values_ok(list), "a number is no tag value");
    json_decref(list);
    list = json_loads("[{\"type\":5,\"value\":\"x\"}]", 0, NULL);
    ok(!tag_values_ok(list), "nor a value whose type is not a string");
    json_decref(list);
}

static void test_search(void)
{
    list_t l;
    size_t n;
    list_init(&l, LIST_SEARCH);
    const char *bodies[] = {
        "{\"traces\":[{\"traceID\":\"a1\",\"startTimeUnixNano\":\"999\",\"spanSet\":{\"matched\":1}},"
        "{\"traceID\":\"b2\",\"startTimeUnixNano\":\"1000\",\"spanSet\":{\"matched\":1}}]}",
        "{\"traces\":[{\"traceID\":\"a1\",\"startTimeUnixNano\":\"999\",\"rootTraceName\":\"root\",\"spanSet\":{\"matched\":3}}]}",
        "{\"traces\":[{\"traceID\":\"c3\",\"startTimeUnixNano\":\"12x\"}]}",
    };
    for (size_t i = 0; i < 3; i++) {
        fed_answer_t a = answer(i, bodies[i]);
        json_t *o = fed_parse(&a);
        ok((list_read(&l, &a, o, "traces") == 0) == (i < 2), "search answer %zu %s", i, i < 2 ? "taken" : "refused");
        json_decref(o);
        fed_answer_free(&a);
    }
    entry_t **m = list_merged(&l, &n);
    json_t *arr = sorted_array(m, n, LIST_SEARCH, NULL, 20);
    ok(json_array_size(arr) == 2 && !strcmp(fed_str(json_array_get(arr, 0), "traceID"), "b2"),
       "newest first, startTimeUnixNano compared as a number (1000 after 999)");
    ok(fed_str(json_array_get(arr, 1), "rootTraceName") != NULL, "of two copies, the one with the root");
    json_decref(arr);
    free(m);
    list_free(&l);
}

static void test_trees(void)
{
    const char *page = "{\"execution\":{\"id\":\"e\",\"status\":\"%s\",\"thread_id\":null,\"started_at\":null,"
                       "\"finished_at\":null,\"trace_id\":null,\"token_usage\":{\"input\":0,\"output\":0},\"trace_ids\":[],"
                       "\"workflow_id\":null,\"span_count\":0,\"error_count\":0,\"external_links\":[]},\"spans\":[],"
                       "\"page_info\":{\"has_next_page\":false,\"cursor\":null},\"seq\":%d}";
    char body[1024];
    snprintf(body, sizeof body, page, "completed", 5);
    fed_answer_t a = answer(0, body);
    snprintf(body, sizeof body, page, "completed", 12345);
    fed_answer_t b = answer(1, body);
    ok(fed_tree_held(&a) && a.ok, "a tree page's execution object says it holds the tree");
    ok(fed_same_but_seq(&a, &b), "replicas: the same bytes but for seq");
    fed_answer_free(&b);
    snprintf(body, sizeof body, page, "unknown", 1);
    b = answer(1, body);
    ok(!fed_tree_held(&b) && b.ok, "\"unknown\": not a holder, and no failure");
    fed_answer_free(&b);
    b = answer(1, "{\"execution\":{\"id\":\"e\",\"status\":\"completed\",\"span_count\":\"7\",\"error_count\":0,"
                  "\"trace_ids\":[5]},\"spans\":[],\"seq\":1}");
    ok(!fed_tree_held(&b) && !b.ok, "an execution object of the wrong types: the shard failed");
    fed_answer_free(&b);
    b = answer(1, "{\"spans\":[]}");
    ok(!fed_tree_held(&b) && !b.ok, "no execution object first: the shard failed");
    fed_answer_free(&b);
    fed_answer_free(&a);
}

int main(void)
{
    char err[256];
    if (fed_init("http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3", 1000, 1 << 20, NULL, err, sizeof err) != 0) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    for (int k = 0; k < 8; k++)
        snprintf(trace_hex[k], sizeof trace_hex[k], "%032x", k * 17 + 1);
    arbor_log_level = ARBOR_LOG_ERROR; /* the refusals warn: expected here */
    test_keys();
    test_parts();
    test_garbage();
    test_tags();
    test_search();
    test_trees();
    fed_shutdown();
    return tap_done();
}
