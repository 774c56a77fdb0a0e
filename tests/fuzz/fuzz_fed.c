/* libFuzzer target: federation's reading and merging of shard answers
 * (query/fed_merge.c, query/fed_tree.c) with no shard asked. The first byte
 * picks the route; the rest, split at NUL bytes (JSON has none raw), is up to
 * four shards' answers, each parsed, checked and merged as that route does:
 * never a crash, an out-of-bounds read, a leak or an undefined conversion,
 * whatever a shard says. */
#include "../../query/fed_merge.c"
#include "../../query/fed_tree.c"

#include "arbor/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 4

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    arbor_log_level = ARBOR_LOG_ERROR + 1; /* every refusal warns: not here */
    return fed_init("http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3,http://127.0.0.1:4", 1000, 1 << 20,
                    NULL, err, sizeof err);
}

/* Answer @p k of the input: an ok 200 of shard k, its body an exact copy (ASan
 * sees any read past it). */
static fed_answer_t shard_answer(size_t k, const uint8_t *p, size_t len)
{
    fed_answer_t a;
    memset(&a, 0, sizeof a);
    a.shard = k;
    a.asked = a.ok = 1;
    a.status = 200;
    a.body = malloc(len + 1);
    memcpy(a.body, p, len);
    a.body[len] = '\0';
    a.len = len;
    a.cap = len + 1;
    return a;
}

static void drop(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    free(text);
    json_decref(v);
}

static void fuzz_lists(fed_answer_t *as, size_t n, list_kind_t kind)
{
    list_t l;
    size_t m;
    list_init(&l, kind);
    for (size_t k = 0; k < n; k++) {
        json_t *o = fed_parse(&as[k]);
        if (o != NULL)
            list_read(&l, &as[k], o, kind == LIST_EXECUTIONS ? "executions" : "traces");
        json_decref(o);
    }
    entry_t **items = list_merged(&l, &m);
    drop(sorted_array(items, m, kind, kind == LIST_SEARCH ? NULL : "running", 50));
    drop(sorted_array(items, m, kind, NULL, 3));
    free(items);
    list_free(&l);
}

static void fuzz_tags(fed_answer_t *as, size_t n)
{
    fed_set_t names, scopes, tags, values;
    fed_set_init(&names);
    fed_set_init(&scopes);
    fed_set_init(&tags);
    fed_set_init(&values);
    for (size_t k = 0; k < n; k++) {
        json_t *o = fed_parse(&as[k]);
        if (o != NULL) {
            add_tag_names(o, &names, &scopes, &tags, &as[k]);
            as[k].ok = 1;
            add_tag_values(o, &values, &as[k]);
        }
        json_decref(o);
    }
    fed_json_sort(names.values, NULL);
    drop(scopes_value(&scopes, &tags, 5));
    drop(sorted_tag_values(values.values, 100));
    fed_set_free(&names);
    fed_set_free(&scopes);
    fed_set_free(&tags);
    fed_set_free(&values);
}

/* Each answer a page of one tree (first pages, then next pages of the same
 * shard), then the tree built, its header merged and a page written. */
static void fuzz_tree(fed_answer_t *as, size_t n, int skeleton)
{
    ftree_t *t = ftree_new("/api/executions/e/tree", skeleton);
    fed_request_t *r = calloc(1, sizeof *r);
    r->route = skeleton ? FED_SKELETON : FED_TREE;
    snprintf(r->path, sizeof r->path, "/api/executions/e/trace?limit=3&depth=2");
    for (size_t k = 0; k < n; k++) {
        fed_tree_held(&as[k]);
        as[k].ok = 1;
        read_page(t, k % 2, &as[k]);
    }
    tree_build(&t->tree);
    if (t->n_ex > 0)
        drop(merged_execution(t));
    json_t *res = json_object();
    write_page(res, t, t->tree.order, t->tree.n, r);
    drop(res);
    free(r);
    ftree_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fed_answer_t as[SHARDS];
    size_t n = 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (n < SHARDS && p <= end) {
        const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
        const uint8_t *stop = nul ? nul : end;
        as[n] = shard_answer(n, p, (size_t)(stop - p));
        n++;
        p = stop + 1;
    }
    switch (data[0] % 6) {
    case 0:
        fuzz_lists(as, n, LIST_EXECUTIONS);
        break;
    case 1:
        fuzz_lists(as, n, LIST_TRACES);
        break;
    case 2:
        fuzz_lists(as, n, LIST_SEARCH);
        break;
    case 3:
        fuzz_tags(as, n);
        break;
    default:
        fuzz_tree(as, n, data[0] % 6 == 4);
    }
    for (size_t k = 0; k < n; k++)
        fed_answer_free(&as[k]);
    return 0;
}
