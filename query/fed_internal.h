/* Between fed.c (the shards, the fan-out, the dispatch) and the merges
 * (fed_merge.c: lists, Tempo; fed_tree.c: trees). */
#ifndef ARBOR_QUERY_FED_INTERNAL_H
#define ARBOR_QUERY_FED_INTERNAL_H

#include "fed.h"

#include <jansson.h>

/** One shard's answer to one request. */
typedef struct {
    int asked;   /* a request went out */
    int ok;      /* an HTTP answer came back below 500 */
    long status; /* HTTP status, 0 when none came */
    char *body;  /* NUL-terminated; owned */
    size_t len, cap;
    char type[64];
} fed_answer_t;

/** The shards' answers to one fan-out. */
typedef struct {
    size_t n;
    fed_answer_t a[FED_MAX_SHARDS];
} fed_answers_t;

size_t fed_shard_count(void);
const char *fed_shard_base(size_t i);
const char *fed_shard_ca_file(void);
long fed_shard_timeout_ms(void);
/** Count a request to shard @p i made outside fed_fetch (the live streams):
 *  @p failed_status > 0 an HTTP refusal, < 0 no answer, 0 fine. */
void fed_shard_count_request(size_t i, int failed_status);
/** Ask every shard i with @p paths[i] non-NULL (path and query) in parallel;
 *  headers from @p r. Answers the shard did not give have ok = 0. */
void fed_fetch(const fed_request_t *r, const char *const *paths, fed_answers_t *out);
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
/** The answer parsed as a JSON object, or NULL. */
json_t *fed_parse(const fed_answer_t *a);
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

/** Append to array @p into the items of array @p from it does not hold yet. */
void fed_json_union(json_t *into, const json_t *from);
/** Sort array @p arr with @p cmp over json_t *const * (NULL: strings, byte order). */
void fed_json_sort(json_t *arr, int (*cmp)(const void *, const void *));
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

#endif
