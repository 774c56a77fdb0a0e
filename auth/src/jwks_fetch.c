/* JWKS from an https:// URL (libcurl): fetched at start, then again when the
 * answer's Cache-Control max-age runs out (within 1 min .. 24 h; 5 min without
 * one), soon after a failure, and early when a token names a key ID the set
 * lacks (a key rotation), at most every 30 s. Fetching runs on a thread of its
 * own, so a slow identity provider never holds up a request. */
#include "auth_internal.h"

#include "arbor/log.h"

#include <curl/curl.h>
#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JWKS_MAX_BYTES (1u << 20)

typedef struct {
    char *buf;
    size_t len;
    long max_age; /* -1: none given */
} fetch_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    fetch_t *f = arg;
    size_t add = size * n;
    if (f->len + add > JWKS_MAX_BYTES)
        return 0; /* too big: libcurl fails the transfer */
    char *grown = realloc(f->buf, f->len + add + 1);
    if (grown == NULL)
        return 0;
    f->buf = grown;
    memcpy(f->buf + f->len, data, add);
    f->len += add;
    f->buf[f->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    fetch_t *f = arg;
    size_t len = size * n;
    char line[512];
    if (len >= sizeof line || len < 14 || strncasecmp(data, "cache-control:", 14) != 0)
        return len;
    memcpy(line, data, len);
    line[len] = '\0';
    const char *m = strstr(line, "max-age=");
    if (m != NULL)
        f->max_age = strtol(m + 8, NULL, 10);
    return len;
}

int jwks_fetch(const char *url, const char *ca_file, jwk_set_t *out, long *max_age_s, char *err, size_t errlen)
{
    fetch_t f = {NULL, 0, -1};
    err[0] = '\0';
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "libcurl could not start");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https"); /* keys over plaintext could be anyone's */
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ca_file && ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    int result = -1;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "fetching %s: %s", url, curl_easy_strerror(rc));
    else if (f.buf == NULL || jwks_parse(f.buf, f.len, out, err, errlen) != 0)
        snprintf(err + strlen(err), errlen - strlen(err), "%s(from %s)", f.buf ? " " : "empty answer ", url);
    else
        result = 0;
    *max_age_s = f.max_age;
    free(f.buf);
    return result;
}

/* ---- the refresher ---- */

struct jwks_remote {
    char *url, *ca;
    jwks_install_fn install;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, asked;
    uint64_t next_s, last_asked_s;
};

static uint64_t mono_s(void)
{
    return arbor_mono_ns() / 1000000000u;
}

/* One fetch; returns when to fetch next (monotonic seconds). */
static uint64_t fetch_once(jwks_remote_t *r)
{
    jwk_set_t set;
    long max_age;
    char err[512];
    if (jwks_fetch(r->url, r->ca, &set, &max_age, err, sizeof err) != 0) {
        arbor_warn("jwks_fetch_failed", "error=\"%s\" retry_s=10", err);
        return mono_s() + 10;
    }
    size_t n = set.n;
    r->install(r->ctx, &set);
    long every = max_age < 0 ? 300 : max_age < 60 ? 60 : max_age > 86400 ? 86400 : max_age;
    arbor_info("jwks_fetched", "keys=%zu next_s=%ld", n, every);
    return mono_s() + (uint64_t)every;
}

static void *refresher_main(void *arg)
{
    jwks_remote_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        if (!r->asked && mono_s() < r->next_s) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1; /* wake each second: cheap, and no clock arithmetic to get wrong */
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
            continue;
        }
        r->asked = 0;
        pthread_mutex_unlock(&r->mu);
        uint64_t next = fetch_once(r);
        pthread_mutex_lock(&r->mu);
        r->next_s = next;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

jwks_remote_t *jwks_remote_start(const char *url, const char *ca, jwks_install_fn install, void *ctx)
{
    jwks_remote_t *r = arbor_xcalloc(1, sizeof *r);
    r->url = arbor_xstrdup(url);
    r->ca = ca && ca[0] ? arbor_xstrdup(ca) : NULL;
    r->install = install;
    r->ctx = ctx;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca_attr;
    pthread_condattr_init(&ca_attr);
    pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca_attr);
    pthread_condattr_destroy(&ca_attr);
    r->next_s = fetch_once(r); /* before the first request, when the provider answers */
    if (pthread_create(&r->thread, NULL, refresher_main, r) != 0)
        abort(); /* the daemons' policy for resources at start */
    return r;
}

void jwks_remote_refresh(jwks_remote_t *r, int now_please)
{
    pthread_mutex_lock(&r->mu);
    uint64_t now = mono_s();
    /* a flood of unknown kids is one fetch; an operator's SIGHUP always is one */
    if (now_please || r->last_asked_s == 0 || now >= r->last_asked_s + 30) {
        r->last_asked_s = now;
        r->asked = 1;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

void jwks_remote_stop(jwks_remote_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->url);
    free(r->ca);
    free(r);
}
