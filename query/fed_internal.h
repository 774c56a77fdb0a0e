/* Between fed.c (the shards, the fan-out, the dispatch) and the merges
 * (fed_merge.c: lists, Tempo; fed_tree.c: trees). */
#ifndef ARBOR_QUERY_FED_INTERNAL_H
#define ARBOR_QUERY_FED_INTERNAL_H

#include "fed.h"

#include "arbor/map64.h"

#include <jansson.h>

/** One shard's answer to one request. */
typedef struct {
    size_t shard;  /* who was asked */
    int asked;     /* a request went out (or would have, had the deadline not passed) */
    int ok;        /* an HTTP answer came back below 500, whole, and (once parsed) valid */
    int too_large; /* it passed ARBOR_SHARD_MAX_BYTES: reading stopped there */
    long status;   /* HTTP status, 0 when none came */
    char *body;    /* NUL-terminated; owned */
    size_t len, cap;
    char type[64];
} fed_answer_t;

/** One request of a batch: @p path (and query) of shard @p shard. */
typedef struct {
    size_t shard;
    const char *path;
} fed_ask_t;

/** The shards' answers to one fan-out. */
typedef struct {
    size_t n;
    fed_answer_t a[FED_MAX_SHARDS];
} fed_answers_t;

size_t fed_shard_count(void);
const char *fed_shard_base(size_t i);
const char *fed_shard_ca_file(void);
long fed_shard_timeout_ms(void);
size_t fed_shard_max_bytes(void);
/** Count a request to shard @p i made outside fed_fetch (the live streams):
 *  @p failed_status > 0 an HTTP refusal, < 0 no answer, 0 fine. */
void fed_shard_count_request(size_t i, int failed_status);
/** Ask every shard i with @p paths[i] non-NULL (path and query) in parallel;
 *  headers from @p r. Answers the shard did not give have ok = 0. */
void fed_fetch(const fed_request_t *r, const char *const *paths, fed_answers_t *out);
/** The @p n requests of @p asks at once (several may go to one shard), each
 *  answer into *out[i]; all end by r->deadline_ns, or when *r->cancel is set. */
void fed_fetch_asks(const fed_request_t *r, const fed_ask_t *asks, size_t n, fed_answer_t *const *out);
/** The deadline passed, or the request is cancelled: ask no more. */
int fed_out_of_time(const fed_request_t *r);
/** An answer that is not what the route returns: it counts as the shard's
 *  failure (reason "invalid"), logged with @p why, and its body is dropped. */
void fed_answer_invalid(fed_answer_t *a, const char *why);
void fed_answer_free(fed_answer_t *a);
/** Ask every shard for r->path. */
void fed_fetch_same(const fed_request_t *r, fed_answers_t *out);
/** fed_fetch_same, then answer at once when every shard would refuse the
 *  caller (400, 401, 403, 413, 429: passed on) or none answered (503).
 *  0 to go on merging @p as, -1 when the answer is given (free @p as either way). */
int fed_gather(fed_request_t *r, fed_answers_t *as, jsonw_t *out);
void fed_answers_free(fed_answers_t *as);
/** Shards asked that gave no usable answer (transport error, timeout, 5xx). */
size_t fed_failed(const fed_answers_t *as);

/** Answer with one shard's body as it is. */
void fed_pass(fed_request_t *r, fed_answer_t *a, jsonw_t *out);
/** fed_pass, and a JSON object answer gets "partial": true when a shard of
 *  @p as failed (it may have held more of the answer). */
void fed_pass_marked(fed_request_t *r, fed_answer_t *a, const fed_answers_t *as, jsonw_t *out);
/** The "seq" ending a JSON answer (0 when none). */
uint64_t fed_answer_seq(const fed_answer_t *a);
/** The resume point over every shard, "f<seq0>.<seq1>…", from their answers. */
void fed_seq_cursor(const fed_answers_t *as, char *buf, size_t size);
/** Answer {"detail": ...} with @p status. */
void fed_detail(fed_request_t *r, int status, const char *detail, jsonw_t *out);
/** Answer a JSON value (200, application/json); takes @p v. */
void fed_json(fed_request_t *r, json_t *v, jsonw_t *out);
/** The first answer of the refusals every caller must see (400, 401, 403,
 *  413, 429), or NULL. */
fed_answer_t *fed_refusal(fed_answers_t *as);
/** The answer parsed as a JSON object; NULL when it is not one (an ok 200
 *  answer is then marked invalid) or when no 200 came. */
json_t *fed_parse(fed_answer_t *a);
/** A query parameter of @p path, percent-decoded into @p buf; NULL if absent. */
const char *fed_query_param(const char *path, const char *name, char *buf, size_t size);
/** An integer query parameter, or @p dflt. */
long fed_int_param(const char *path, const char *name, long dflt);
/** @p path without its query string, into @p buf. */
void fed_route_path(const char *path, char *buf, size_t size);

/** Merges (each fills r->status, r->type and @p out). */
void fed_merge_list(fed_request_t *r, jsonw_t *out);
void fed_merge_search(fed_request_t *r, jsonw_t *out);
void fed_merge_tags(fed_request_t *r, jsonw_t *out);
void fed_merge_tag_values(fed_request_t *r, jsonw_t *out);
void fed_merge_tempo_trace(fed_request_t *r, jsonw_t *out);
void fed_merge_span(fed_request_t *r, jsonw_t *out);
void fed_merge_tree(fed_request_t *r, jsonw_t *out);

/** Sort array @p arr with @p cmp over json_t *const * (NULL: strings, byte order). */
void fed_json_sort(json_t *arr, int (*cmp)(const void *, const void *));

/* ---- checking a parsed answer's types ---- */
enum { FED_T_STR = 1, FED_T_NULL = 2, FED_T_INT = 4, FED_T_OBJ = 8, FED_T_ARR = 16, FED_T_BOOL = 32,
       FED_T_NUM = 64, FED_T_ABSENT = 128 };
/** Non-zero when @p v is of one of the FED_T_* @p kinds (NULL is FED_T_ABSENT). */
int fed_is(const json_t *v, int kinds);
/** Non-zero when member @p key of object @p o is of one of @p kinds. */
static inline int fed_has(const json_t *o, const char *key, int kinds)
{
    return fed_is(json_object_get(o, key), kinds);
}
/** Non-zero when @p arr is an array of strings (each of @p hex_len hex digits when non-zero). */
int fed_string_array(const json_t *arr, size_t hex_len);

/* ---- keys found by hash ---- */
/** Byte strings, each given an index in the order first seen, found by their
 *  hash (arbor/map64.h), keys of one hash chained. Keys are copied. */
typedef struct {
    arbor_map64_t slots; /* arbor_hash_id(key) -> 1 + the newest index with that hash */
    struct fed_key {
        const char *s;
        size_t len, older; /* older: 1 + the index before it with the same hash, 0 none */
    } *keys;
    size_t n, cap;
    arbor_arena_t text;
} fed_keys_t;
void fed_keys_init(fed_keys_t *k);
void fed_keys_free(fed_keys_t *k);
/** The index of @p s, the next one (n) when it is new (then *added = 1). */
size_t fed_keys_put(fed_keys_t *k, const void *s, size_t len, int *added);

/** JSON values, each once by its identity (a byte string), in the order first seen. */
typedef struct {
    fed_keys_t keys;
    json_t *values; /* array: value i has key i */
} fed_set_t;
void fed_set_init(fed_set_t *s);
void fed_set_free(fed_set_t *s);
/** Add @p v (a reference is taken) under @p key, unless a value has it; its index. */
size_t fed_set_add(fed_set_t *s, const void *key, size_t len, json_t *v);

/** A member of a JSON object, as a string / an integer (NULL / 0 when absent or of another type). */
static inline const char *fed_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static inline json_int_t fed_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/** ISO-8601 "…Z" (as jsonw_time writes) to Unix ns; 0 for NULL or malformed. */
uint64_t fed_time_ns(const char *iso);
/** Unix ns as jsonw_time writes it (null for 0). */
json_t *fed_time_value(uint64_t ns);
/** Non-zero when two answers are the same bytes but for their trailing "seq". */
int fed_same_but_seq(const fed_answer_t *a, const fed_answer_t *b);

/** Does the shard of tree page @p a hold the tree? Only the answer's execution
 *  object (first in a tree page) is read and checked, not the page: an
 *  unknown execution says "unknown", an unknown trace answers 404. An answer
 *  without one is marked invalid. */
int fed_tree_held(fed_answer_t *a);
/** The execution headers a single store would give for the @p n trees of
 *  @p routes ("/api/executions/{id}/tree" or "/api/traces/{id}/tree"), each
 *  merged over every shard's spans: all fetched together, every page of every
 *  shard holding them, by r's deadline. headers[i]: NULL when no shard holds
 *  it; @p failed[shard] set for each shard that failed a request. */
void fed_tree_headers(const fed_request_t *r, const char *const *routes, size_t n, json_t **headers, uint8_t *failed);

#endif
