/* Federation: the shards, the parallel fan-out (libcurl multi, one connection
 * cache per worker thread), per-shard counters, and the route dispatch. */
#include "fed_internal.h"

#include "params.h"

#include "arbor/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Connections one thread keeps open to one shard (more requests to it wait
 * for one): a batch of conflicting list entries must not open hundreds. */
#define FED_HOST_CONNECTIONS 8L

typedef struct {
    char *base; /* no trailing slash */
    atomic_uint_fast64_t requests, timeouts, transport_errors, status_errors, too_large, invalid;
} shard_t;

static struct {
    shard_t shards[FED_MAX_SHARDS];
    size_t n;
    long timeout_ms;
    size_t max_bytes;
    char *ca_file;
    pthread_key_t conns_key;
    int keyed; /* conns_key exists (a failed fed_init never made it) */
} fed;

/* Per thread: a multi handle, whose connection cache keeps the shards'
 * connections open between requests, and easy handles to reuse. */
typedef struct {
    CURLM *multi;
    CURL **easy;
    size_t n_easy;
} conns_t;

static void conns_free(void *p)
{
    conns_t *c = p;
    for (size_t i = 0; i < c->n_easy; i++)
        curl_easy_cleanup(c->easy[i]);
    free(c->easy);
    curl_multi_cleanup(c->multi);
    free(c);
}

/* This thread's connections, with at least @p n easy handles. */
static conns_t *thread_conns(size_t n)
{
    conns_t *c = pthread_getspecific(fed.conns_key);
    if (c == NULL) {
        c = arbor_xcalloc(1, sizeof *c);
        c->multi = arbor_xcheck(curl_multi_init());
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, FED_HOST_CONNECTIONS);
        pthread_setspecific(fed.conns_key, c);
    }
    if (n > c->n_easy) {
        c->easy = arbor_xrealloc(c->easy, n * sizeof *c->easy);
        for (; c->n_easy < n; c->n_easy++)
            c->easy[c->n_easy] = arbor_xcheck(curl_easy_init());
    }
    return c;
}

int fed_init(const char *shards, uint64_t timeout_ms, uint64_t max_bytes, const char *ca_file, char *err,
             size_t errlen)
{
    if (shards == NULL || shards[0] == '\0')
        return 0;
    char *copy = arbor_xstrdup(shards), *save = NULL;
    for (char *s = strtok_r(copy, ", ", &save); s != NULL; s = strtok_r(NULL, ", ", &save)) {
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
            snprintf(err, errlen, "ARBOR_SHARDS: '%.200s' is not an http:// or https:// URL", s);
            goto fail;
        }
        if (fed.n == FED_MAX_SHARDS) {
            snprintf(err, errlen, "ARBOR_SHARDS: more than %d shards", FED_MAX_SHARDS);
            goto fail;
        }
        size_t len = strlen(s);
        while (len > 0 && s[len - 1] == '/')
            len--;
        fed.shards[fed.n++].base = arbor_xcheck(strndup(s, len));
    }
    free(copy);
    if (fed.n == 0) {
        snprintf(err, errlen, "ARBOR_SHARDS: no URL");
        return -1;
    }
    fed.timeout_ms = (long)timeout_ms;
    fed.max_bytes = (size_t)max_bytes;
    fed.ca_file = ca_file && ca_file[0] ? arbor_xstrdup(ca_file) : NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fed.keyed = pthread_key_create(&fed.conns_key, conns_free) == 0;
    if (fed.keyed)
        return 0;
    snprintf(err, errlen, "ARBOR_SHARDS: no thread key for the shard connections");
    fed_shutdown();
    return -1;
fail:
    free(copy);
    fed_shutdown();
    return -1;
}

int fed_enabled(void)
{
    return fed.n > 0;
}

size_t fed_shard_count(void)
{
    return fed.n;
}

const char *fed_shard_base(size_t i)
{
    return fed.shards[i].base;
}

const char *fed_shard_ca_file(void)
{
    return fed.ca_file;
}

long fed_shard_timeout_ms(void)
{
    return fed.timeout_ms;
}

size_t fed_shard_max_bytes(void)
{
    return fed.max_bytes;
}

void fed_shard_count_request(size_t i, int failed_status)
{
    atomic_fetch_add(&fed.shards[i].requests, 1);
    if (failed_status > 0)
        atomic_fetch_add(&fed.shards[i].status_errors, 1);
    else if (failed_status < 0)
        atomic_fetch_add(&fed.shards[i].transport_errors, 1);
}

void fed_shutdown(void)
{
    if (fed.n == 0)
        return;
    conns_t *c = fed.keyed ? pthread_getspecific(fed.conns_key) : NULL;
    if (c != NULL) {
        conns_free(c);
        pthread_setspecific(fed.conns_key, NULL);
    }
    if (fed.keyed)
        pthread_key_delete(fed.conns_key);
    for (size_t i = 0; i < fed.n; i++)
        free(fed.shards[i].base);
    free(fed.ca_file);
    memset(&fed, 0, sizeof fed);
}

/* ---- the fan-out ---- */

/* Past ARBOR_SHARD_MAX_BYTES the transfer stops (curl reports a write error)
 * and the answer is failed: its bytes are not kept. */
static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    fed_answer_t *a = ctx;
    size_t len = size * n;
    if (a->len + len > fed.max_bytes) {
        a->too_large = 1;
        return 0;
    }
    if (a->len + len + 1 > a->cap) {
        size_t want = (a->len + len + 1) * 2;
        a->cap = want < fed.max_bytes + 1 ? want : fed.max_bytes + 1;
        a->body = arbor_xrealloc(a->body, a->cap);
    }
    memcpy(a->body + a->len, data, len);
    a->len += len;
    a->body[a->len] = '\0';
    return len;
}

/* Room for the whole body once its length is known; one announced over the
 * limit ends the transfer before any of it is read. */
static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    fed_answer_t *a = ctx;
    size_t len = size * n;
    if (len > 16 && strncasecmp(data, "content-length:", 15) == 0) {
        unsigned long long want = strtoull(data + 15, NULL, 10);
        if (want > fed.max_bytes) {
            a->too_large = 1;
            return 0;
        }
        if (want > a->cap) {
            a->cap = (size_t)want + 1;
            a->body = arbor_xrealloc(a->body, a->cap);
        }
    }
    return len;
}

int fed_header_value_ok(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

static struct curl_slist *request_headers(const fed_request_t *r)
{
    struct curl_slist *h = NULL;
    char line[8300];
    if (r->authorization[0]) {
        snprintf(line, sizeof line, "Authorization: %s", r->authorization);
        h = curl_slist_append(h, line);
    }
    if (r->org[0]) {
        snprintf(line, sizeof line, "X-Scope-OrgID: %s", r->org);
        h = curl_slist_append(h, line);
    }
    snprintf(line, sizeof line, "Accept: %s", r->accept[0] ? r->accept : "application/json");
    return curl_slist_append(h, line);
}

/* Milliseconds left before the request's deadline (0 when past it). */
static long ms_left(const fed_request_t *r)
{
    uint64_t now = arbor_mono_ns();
    return r->deadline_ns > now ? (long)((r->deadline_ns - now + 999999) / 1000000) : 0;
}

int fed_out_of_time(const fed_request_t *r)
{
    return ms_left(r) == 0 || (r->cancel != NULL && *r->cancel);
}

static void setup_easy(CURL *e, const char *url, struct curl_slist *headers, long timeout_ms, fed_answer_t *a)
{
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "arbor-query-federation/" ARBOR_VERSION);
    if (fed.ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, fed.ca_file);
}

static void warn_failed(const shard_t *s, const fed_answer_t *a, const char *why)
{
    arbor_warn("shard_failed", "shard=%s status=%ld error=\"%s\"", s->base, a->status, why);
}

/* Record how the shard answered @p a, and count its failure. @p e is NULL
 * when the transfer never ended: the deadline passed first. */
static void finish_answer(CURL *e, CURLcode code, fed_answer_t *a)
{
    shard_t *s = &fed.shards[a->shard];
    char *type = NULL;
    if (e != NULL) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type);
    }
    snprintf(a->type, sizeof a->type, "%s", type ? type : "application/json");
    a->ok = e != NULL && code == CURLE_OK && a->status > 0 && a->status < 500;
    if (a->ok)
        return;
    free(a->body); /* a part of an answer is no answer */
    a->body = NULL;
    a->len = a->cap = 0;
    if (a->too_large) {
        atomic_fetch_add(&s->too_large, 1);
        warn_failed(s, a, "answer over ARBOR_SHARD_MAX_BYTES");
    } else if (e == NULL || code == CURLE_OPERATION_TIMEDOUT) {
        atomic_fetch_add(&s->timeouts, 1);
        warn_failed(s, a, "no answer within ARBOR_SHARD_TIMEOUT");
    } else if (code != CURLE_OK) {
        atomic_fetch_add(&s->transport_errors, 1);
        warn_failed(s, a, curl_easy_strerror(code));
    } else {
        atomic_fetch_add(&s->status_errors, 1);
        warn_failed(s, a, "server error");
    }
}

/* Drive the added transfers until they end, the deadline passes or the request
 * is cancelled; then every answer is finished and every handle removed. */
static void run_transfers(conns_t *c, const fed_request_t *r, fed_answer_t *const *out, size_t n)
{
    int running = 1;
    while (running) {
        curl_multi_perform(c->multi, &running);
        long left = ms_left(r);
        if (!running || left == 0 || (r->cancel != NULL && *r->cancel))
            break;
        curl_multi_poll(c->multi, NULL, 0, left < 100 ? (int)left : 100, NULL);
    }
    CURLMsg *m;
    int queued;
    uint8_t *done = arbor_xcalloc(n ? n : 1, 1);
    while ((m = curl_multi_info_read(c->multi, &queued)) != NULL) {
        char *at = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &at);
        size_t k = (size_t)(uintptr_t)at;
        if (m->msg == CURLMSG_DONE && k < n) {
            finish_answer(m->easy_handle, m->data.result, out[k]);
            done[k] = 1;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (!out[k]->asked)
            continue;
        curl_multi_remove_handle(c->multi, c->easy[k]);
        if (!done[k])
            finish_answer(NULL, CURLE_OPERATION_TIMEDOUT, out[k]);
    }
    free(done);
}

void fed_fetch_asks(const fed_request_t *r, const fed_ask_t *asks, size_t n, fed_answer_t *const *out)
{
    conns_t *c = thread_conns(n);
    struct curl_slist *headers = request_headers(r);
    long left = ms_left(r);
    int go = left > 0 && !(r->cancel != NULL && *r->cancel);
    for (size_t k = 0; k < n; k++) {
        fed_answer_t *a = out[k];
        memset(a, 0, sizeof *a);
        a->shard = asks[k].shard;
        a->asked = 1;
        atomic_fetch_add(&fed.shards[a->shard].requests, 1);
        if (!go)
            continue; /* out of time: failed below, as a timeout */
        const char *base = fed.shards[a->shard].base;
        char *url = arbor_xmalloc(strlen(base) + strlen(asks[k].path) + 1);
        strcpy(url, base);
        strcat(url, asks[k].path);
        setup_easy(c->easy[k], url, headers, left, a);
        curl_easy_setopt(c->easy[k], CURLOPT_PRIVATE, (void *)(uintptr_t)k); /* which answer it fills */
        free(url); /* curl copies the URL */
        curl_multi_add_handle(c->multi, c->easy[k]);
    }
    if (go) {
        run_transfers(c, r, out, n);
    } else {
        for (size_t k = 0; k < n; k++)
            finish_answer(NULL, CURLE_OPERATION_TIMEDOUT, out[k]);
    }
    curl_slist_free_all(headers);
}

void fed_fetch(const fed_request_t *r, const char *const *paths, fed_answers_t *out)
{
    fed_ask_t asks[FED_MAX_SHARDS];
    fed_answer_t *to[FED_MAX_SHARDS];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    out->n = fed.n;
    for (size_t i = 0; i < fed.n; i++)
        if (paths[i] != NULL) {
            asks[n] = (fed_ask_t){i, paths[i]};
            to[n++] = &out->a[i];
        }
    fed_fetch_asks(r, asks, n, to);
}

void fed_fetch_same(const fed_request_t *r, fed_answers_t *out)
{
    const char *paths[FED_MAX_SHARDS];
    for (size_t i = 0; i < fed.n; i++)
        paths[i] = r->path;
    fed_fetch(r, paths, out);
}

void fed_answer_free(fed_answer_t *a)
{
    free(a->body);
    a->body = NULL;
    a->len = a->cap = 0;
}

void fed_answer_invalid(fed_answer_t *a, const char *why)
{
    if (!a->ok)
        return;
    a->ok = 0;
    fed_answer_free(a);
    atomic_fetch_add(&fed.shards[a->shard].invalid, 1);
    warn_failed(&fed.shards[a->shard], a, why);
}

void fed_answers_free(fed_answers_t *as)
{
    for (size_t i = 0; i < as->n; i++)
        free(as->a[i].body);
    memset(as, 0, sizeof *as);
}

size_t fed_failed(const fed_answers_t *as)
{
    size_t n = 0;
    for (size_t i = 0; i < as->n; i++)
        n += as->a[i].asked && !as->a[i].ok;
    return n;
}

int fed_gather(fed_request_t *r, fed_answers_t *as, jsonw_t *out)
{
    fed_fetch_same(r, as);
    fed_answer_t *refused = fed_refusal(as);
    if (refused != NULL) {
        fed_pass(r, refused, out);
        return -1;
    }
    if (fed_failed(as) == as->n) {
        fed_detail(r, 503, "no shard answered", out);
        return -1;
    }
    return 0;
}

/* ---- answers ---- */

void fed_pass(fed_request_t *r, fed_answer_t *a, jsonw_t *out)
{
    r->status = (int)a->status;
    snprintf(r->type, sizeof r->type, "%s", a->type);
    if (out->len == 0 && a->body != NULL) { /* the answer's buffer becomes the body: no copy of a megabyte */
        free(out->buf);
        out->buf = a->body;
        out->len = a->len;
        out->cap = a->cap;
        a->body = NULL;
        a->len = a->cap = 0;
        return;
    }
    jsonw_append(out, a->body ? a->body : "", a->len);
}

/* Where "seq":N} ends a JSON answer (its last key), or SIZE_MAX. */
static size_t trailing_seq(const fed_answer_t *a)
{
    if (a->body == NULL || a->len < 8 || a->body[a->len - 1] != '}')
        return SIZE_MAX;
    size_t i = a->len - 1;
    while (i > 0 && a->body[i - 1] >= '0' && a->body[i - 1] <= '9')
        i--;
    return i >= 6 && i < a->len - 1 && memcmp(a->body + i - 6, "\"seq\":", 6) == 0 ? i - 6 : SIZE_MAX;
}

uint64_t fed_answer_seq(const fed_answer_t *a)
{
    size_t at = trailing_seq(a);
    return at == SIZE_MAX ? 0 : strtoull(a->body + at + 6, NULL, 10);
}

void fed_seq_cursor(const fed_answers_t *as, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "f");
    for (size_t i = 0; i < as->n && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%llu", i ? "." : "", (unsigned long long)fed_answer_seq(&as->a[i]));
}

int fed_same_but_seq(const fed_answer_t *a, const fed_answer_t *b)
{
    size_t la = trailing_seq(a), lb = trailing_seq(b);
    la = la == SIZE_MAX ? a->len : la;
    lb = lb == SIZE_MAX ? b->len : lb;
    return a->body != NULL && b->body != NULL && la == lb && memcmp(a->body, b->body, la) == 0;
}

void fed_pass_marked(fed_request_t *r, fed_answer_t *a, const fed_answers_t *as, jsonw_t *out)
{
    size_t failed = fed_failed(as), seq_at = trailing_seq(a);
    int json = a->status == 200 && strncmp(a->type, "application/json", 16) == 0 && a->len >= 2 &&
               a->body[a->len - 1] == '}';
    if (!json || (failed == 0 && seq_at == SIZE_MAX)) {
        fed_pass(r, a, out);
        return;
    }
    char tail[128 + 21 * FED_MAX_SHARDS], cursor[16 + 21 * FED_MAX_SHARDS];
    size_t n = 0;
    if (seq_at != SIZE_MAX) { /* one resume point over every shard, for ?since= of the live streams */
        fed_seq_cursor(as, cursor, sizeof cursor);
        n += (size_t)snprintf(tail + n, sizeof tail - n, "\"seq\":\"%s\"", cursor);
    }
    if (failed)
        n += (size_t)snprintf(tail + n, sizeof tail - n, "%s\"partial\":true,\"partialReason\":\"%zu of %zu shards did not answer\"",
                              seq_at != SIZE_MAX || a->len > 2 ? "," : "", failed, as->n);
    n += (size_t)snprintf(tail + n, sizeof tail - n, "}");
    a->len = seq_at != SIZE_MAX ? seq_at : a->len - 1; /* the tail is written again */
    fed_pass(r, a, out);
    jsonw_append(out, tail, n);
}

void fed_detail(fed_request_t *r, int status, const char *detail, jsonw_t *out)
{
    r->status = status;
    snprintf(r->type, sizeof r->type, "application/json");
    jsonw_object(out);
    jsonw_key_lit(out, "detail");
    jsonw_cstr(out, detail);
    jsonw_object_end(out);
}

void fed_json(fed_request_t *r, json_t *v, jsonw_t *out)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    r->status = 200;
    snprintf(r->type, sizeof r->type, "application/json");
    jsonw_append(out, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

fed_answer_t *fed_refusal(fed_answers_t *as)
{
    for (size_t i = 0; i < as->n; i++) {
        long s = as->a[i].status;
        if (as->a[i].ok && (s == 400 || s == 401 || s == 403 || s == 413 || s == 429))
            return &as->a[i];
    }
    return NULL;
}

json_t *fed_parse(fed_answer_t *a)
{
    if (!a->ok || a->status != 200 || a->body == NULL)
        return NULL;
    json_t *v = json_loadb(a->body, a->len, 0, NULL);
    if (v == NULL)
        fed_answer_invalid(a, "not JSON");
    else if (!json_is_object(v)) {
        json_decref(v);
        v = NULL;
        fed_answer_invalid(a, "not a JSON object");
    }
    return v;
}

int fed_is(const json_t *v, int kinds)
{
    int kind = v == NULL ? FED_T_ABSENT : json_is_string(v) ? FED_T_STR : json_is_null(v) ? FED_T_NULL
             : json_is_integer(v) ? FED_T_INT | FED_T_NUM : json_is_real(v) ? FED_T_NUM : json_is_object(v) ? FED_T_OBJ
             : json_is_array(v) ? FED_T_ARR : FED_T_BOOL;
    return (kind & kinds) != 0;
}

int fed_string_array(const json_t *arr, size_t hex_len)
{
    size_t i;
    json_t *v;
    uint8_t bytes[64];
    if (!json_is_array(arr))
        return 0;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return 0;
        if (hex_len && (hex_len > 2 * sizeof bytes || json_string_length(v) != hex_len ||
                        arbor_hex_decode(bytes, hex_len / 2, json_string_value(v), hex_len) != 0))
            return 0;
    }
    return 1;
}

/* ---- keys found by hash ---- */

void fed_keys_init(fed_keys_t *k)
{
    memset(k, 0, sizeof *k);
    arbor_map64_init(&k->slots);
    arbor_arena_init(&k->text, 16384, 0);
}

void fed_keys_free(fed_keys_t *k)
{
    arbor_map64_free(&k->slots);
    arbor_arena_free(&k->text);
    free(k->keys);
    memset(k, 0, sizeof *k);
}

size_t fed_keys_put(fed_keys_t *k, const void *s, size_t len, int *added)
{
    int fresh;
    uint64_t *slot = arbor_xcheck(arbor_map64_put(&k->slots, arbor_hash_id(s, len), &fresh));
    for (size_t i = *slot; i != 0; i = k->keys[i - 1].older)
        if (k->keys[i - 1].len == len && memcmp(k->keys[i - 1].s, s, len) == 0) {
            *added = 0;
            return i - 1;
        }
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->keys = arbor_xrealloc(k->keys, k->cap * sizeof *k->keys);
    }
    k->keys[k->n] = (struct fed_key){arbor_xcheck(arbor_arena_dup(&k->text, s, len ? len : 1)), len, (size_t)*slot};
    *slot = ++k->n;
    *added = 1;
    return k->n - 1;
}

const char *fed_query_param(const char *path, const char *name, char *buf, size_t size)
{
    const char *q = strchr(path, '?');
    size_t nl = strlen(name);
    for (const char *p = q ? q + 1 : NULL; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || (p[nl] != '=' && p[nl] != '&' && p[nl] != '\0'))
            continue;
        const char *v = p[nl] == '=' ? p + nl + 1 : p + nl;
        size_t vl = strcspn(v, "&");
        if (vl >= size)
            vl = size - 1;
        buf[params_percent_decode(buf, v, vl, 1)] = '\0';
        return buf;
    }
    return NULL;
}

long fed_int_param(const char *path, const char *name, long dflt)
{
    char buf[32], *end;
    const char *v = fed_query_param(path, name, buf, sizeof buf);
    if (v == NULL || *v == '\0')
        return dflt;
    long n = strtol(v, &end, 10);
    return *end == '\0' ? n : dflt;
}

void fed_route_path(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", (int)strcspn(path, "?"), path);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int cmp_json_strings(const void *a, const void *b)
{
    const char *x = json_string_value(*(json_t *const *)a), *y = json_string_value(*(json_t *const *)b);
    return strcmp(x ? x : "", y ? y : "");
}

void fed_json_sort(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    json_t **v = arbor_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp ? cmp : cmp_json_strings);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

/* The shards write times one way (jsonw_time: "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"),
 * read here without strptime, which costs microseconds a call (merges read
 * thousands); anything else goes the long way. */
uint64_t fed_time_ns(const char *iso)
{
    unsigned y, mo, d, h, mi, se, us = 0;
    size_t len = iso ? strlen(iso) : 0;
    if (len == 20 || len == 27) {
        if (iso[4] == '-' && iso[7] == '-' && iso[10] == 'T' && iso[13] == ':' && iso[16] == ':' && iso[len - 1] == 'Z' &&
            (len == 20 || iso[19] == '.') && !digits(iso, 4, &y) && !digits(iso + 5, 2, &mo) && !digits(iso + 8, 2, &d) &&
            !digits(iso + 11, 2, &h) && !digits(iso + 14, 2, &mi) && !digits(iso + 17, 2, &se) &&
            (len == 20 || !digits(iso + 20, 6, &us)) && y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31)
            return ((uint64_t)days_from_civil(y, mo, d) * 86400 + h * 3600u + mi * 60u + se) * 1000000000u +
                   us * 1000ull;
    }
    uint64_t ns = 0;
    if (iso == NULL || params_time(arbor_iov(iso, strlen(iso)), &ns) != 0)
        return 0;
    return ns;
}

json_t *fed_time_value(uint64_t ns)
{
    jsonw_t w;
    jsonw_init(&w);
    jsonw_time(&w, ns);
    json_t *v = ns ? json_stringn(w.buf + 1, w.len - 2) : json_null();
    jsonw_free(&w);
    return v;
}

void fed_set_init(fed_set_t *s)
{
    fed_keys_init(&s->keys);
    s->values = json_array();
}

void fed_set_free(fed_set_t *s)
{
    fed_keys_free(&s->keys);
    json_decref(s->values);
}

size_t fed_set_add(fed_set_t *s, const void *key, size_t len, json_t *v)
{
    int added;
    size_t at = fed_keys_put(&s->keys, key, len, &added);
    if (added)
        json_array_append(s->values, v);
    return at;
}

/* ---- dispatch ---- */

void fed_serve(fed_request_t *r, jsonw_t *out)
{
    if (r->deadline_ns == 0)
        r->deadline_ns = arbor_mono_ns() + (uint64_t)fed.timeout_ms * 1000000u;
    if (!fed_header_value_ok(r->authorization) || !fed_header_value_ok(r->org) || !fed_header_value_ok(r->accept)) {
        fed_detail(r, 400, "a header to forward has control characters", out);
        return;
    }
    switch (r->route) {
    case FED_EXECUTIONS:
    case FED_TRACES:
        fed_merge_list(r, out);
        break;
    case FED_TREE:
    case FED_SKELETON:
        fed_merge_tree(r, out);
        break;
    case FED_SPAN:
        fed_merge_span(r, out);
        break;
    case FED_TEMPO_TRACE:
        fed_merge_tempo_trace(r, out);
        break;
    case FED_SEARCH:
        fed_merge_search(r, out);
        break;
    case FED_TAGS:
        fed_merge_tags(r, out);
        break;
    case FED_TAG_VALUES:
        fed_merge_tag_values(r, out);
        break;
    default:
        fed_detail(r, 501, "not served through federation", out);
    }
}

/* ---- /metrics ---- */

static void metric_line(jsonw_t *w, const char *name, const char *base, const char *reason, uint64_t v)
{
    char line[1024], label[600];
    size_t o = 0;
    for (const char *p = base; *p && o + 3 < sizeof label; p++) { /* Prometheus label escaping */
        if (*p == '"' || *p == '\\')
            label[o++] = '\\';
        label[o++] = *p;
    }
    label[o] = '\0';
    int n = reason ? snprintf(line, sizeof line, "%s{shard=\"%s\",reason=\"%s\"} %llu\n", name, label, reason,
                              (unsigned long long)v)
                   : snprintf(line, sizeof line, "%s{shard=\"%s\"} %llu\n", name, label, (unsigned long long)v);
    jsonw_append(w, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0);
}

void fed_metrics(jsonw_t *w)
{
    if (fed.n == 0)
        return;
    static const char head[] =
        "# HELP arbor_shard_requests_total Requests federation sent to each shard.\n"
        "# TYPE arbor_shard_requests_total counter\n";
    jsonw_append(w, head, sizeof head - 1);
    for (size_t i = 0; i < fed.n; i++)
        metric_line(w, "arbor_shard_requests_total", fed.shards[i].base, NULL, atomic_load(&fed.shards[i].requests));
    static const char errs[] =
        "# HELP arbor_shard_errors_total Shard requests that failed: no answer in ARBOR_SHARD_TIMEOUT, a transport "
        "error, a 5xx answer, an answer over ARBOR_SHARD_MAX_BYTES, or one that is not what the route returns.\n"
        "# TYPE arbor_shard_errors_total counter\n";
    jsonw_append(w, errs, sizeof errs - 1);
    for (size_t i = 0; i < fed.n; i++) {
        shard_t *s = &fed.shards[i];
        metric_line(w, "arbor_shard_errors_total", s->base, "timeout", atomic_load(&s->timeouts));
        metric_line(w, "arbor_shard_errors_total", s->base, "transport", atomic_load(&s->transport_errors));
        metric_line(w, "arbor_shard_errors_total", s->base, "status", atomic_load(&s->status_errors));
        metric_line(w, "arbor_shard_errors_total", s->base, "too_large", atomic_load(&s->too_large));
        metric_line(w, "arbor_shard_errors_total", s->base, "invalid", atomic_load(&s->invalid));
    }
}
