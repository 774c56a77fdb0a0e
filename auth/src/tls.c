/* TLS contexts: OpenSSL does the protocol; this file loads the PEM files and
 * hands each handshake the set current at that moment. */
#include "arbor/tls.h"

#include "auth_internal.h"

#include "arbor/base.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One loaded generation of the files. */
typedef struct {
    X509 *cert;
    STACK_OF(X509) *chain;
    EVP_PKEY *key;
    X509_STORE *ca_store;          /* NULL without a client CA */
    STACK_OF(X509_NAME) *ca_names; /* sent in the CertificateRequest */
    char *cert_pem, *key_pem, *ca_pem;
} tls_files_t;

struct arbor_tls {
    char *cert_path, *key_path, *ca_path;
    SSL_CTX *ctx;
    pthread_mutex_t mu; /* guards files and generation */
    tls_files_t files;
    uint64_t generation;
};

static void files_free(tls_files_t *f)
{
    X509_free(f->cert);
    sk_X509_pop_free(f->chain, X509_free);
    EVP_PKEY_free(f->key);
    X509_STORE_free(f->ca_store);
    sk_X509_NAME_pop_free(f->ca_names, X509_NAME_free);
    if (f->key_pem)
        OPENSSL_cleanse(f->key_pem, strlen(f->key_pem));
    free(f->cert_pem);
    free(f->key_pem);
    free(f->ca_pem);
    memset(f, 0, sizeof *f);
}

static char *slurp(const char *path)
{
    size_t len;
    return auth_read_file(path, &len);
}

/* The leaf and the rest of a PEM chain. */
static int load_chain(tls_files_t *f)
{
    BIO *bio = BIO_new_mem_buf(f->cert_pem, -1);
    f->cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    f->chain = sk_X509_new_null();
    X509 *extra;
    while (bio && f->chain && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(f->chain, extra);
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(bio);
    return f->cert && f->chain ? 0 : -1;
}

static int load_ca(tls_files_t *f)
{
    BIO *bio = BIO_new_mem_buf(f->ca_pem, -1);
    f->ca_store = X509_STORE_new();
    f->ca_names = sk_X509_NAME_new_null();
    X509 *c;
    int n = 0;
    while (bio && f->ca_store && f->ca_names && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_cert(f->ca_store, c);
        sk_X509_NAME_push(f->ca_names, X509_NAME_dup(X509_get_subject_name(c)));
        X509_free(c);
        n++;
    }
    ERR_clear_error();
    BIO_free(bio);
    return n > 0 ? 0 : -1;
}

/* Read the three files; on failure @p err names the setting and what is wrong with it. */
static int load_files(const arbor_tls_t *t, tls_files_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    const char *what = "ARBOR_TLS_CERT", *why = "cannot be read";
    if ((f->cert_pem = slurp(t->cert_path)) == NULL)
        goto fail;
    why = "cannot be read as PEM certificates";
    if (load_chain(f) != 0)
        goto fail;
    what = "ARBOR_TLS_KEY", why = "cannot be read";
    if ((f->key_pem = slurp(t->key_path)) == NULL)
        goto fail;
    BIO *bio = BIO_new_mem_buf(f->key_pem, -1);
    f->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    why = "cannot be read as a PEM private key";
    if (f->key == NULL)
        goto fail;
    why = "is not the private key of ARBOR_TLS_CERT's certificate";
    if (X509_check_private_key(f->cert, f->key) != 1)
        goto fail;
    what = "ARBOR_TLS_CLIENT_CA", why = "cannot be read";
    if (t->ca_path && (f->ca_pem = slurp(t->ca_path)) == NULL)
        goto fail;
    why = "cannot be read as PEM certificates";
    if (t->ca_path && load_ca(f) != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", what, why);
    ERR_clear_error();
    files_free(f);
    return ARBOR_ECONFIG;
}

/* Each handshake: the certificate, key and client CA loaded last. */
static int on_cert(SSL *ssl, void *arg)
{
    arbor_tls_t *t = arg;
    int ok;
    pthread_mutex_lock(&t->mu);
    ok = SSL_use_cert_and_key(ssl, t->files.cert, t->files.key, t->files.chain, 1) == 1;
    if (ok && t->files.ca_store) {
        STACK_OF(X509_NAME) *names = SSL_dup_CA_list(t->files.ca_names);
        ok = SSL_set1_verify_cert_store(ssl, t->files.ca_store) == 1 && names != NULL;
        if (names)
            SSL_set_client_CA_list(ssl, names);
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? arbor_xstrdup(s) : NULL;
}

int arbor_tls_open(const arbor_tls_config_t *cfg, arbor_tls_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!(cfg->cert && cfg->cert[0]) && !(cfg->key && cfg->key[0])) {
        if (cfg->client_ca && cfg->client_ca[0]) {
            snprintf(err, errlen, "ARBOR_TLS_CLIENT_CA needs ARBOR_TLS_CERT and ARBOR_TLS_KEY");
            return ARBOR_ECONFIG;
        }
        return 0;
    }
    if (!(cfg->cert && cfg->cert[0]) || !(cfg->key && cfg->key[0])) {
        snprintf(err, errlen, "ARBOR_TLS_CERT and ARBOR_TLS_KEY go together");
        return ARBOR_ECONFIG;
    }
    arbor_tls_t *t = arbor_xcalloc(1, sizeof *t);
    t->cert_path = dup_or_null(cfg->cert);
    t->key_path = dup_or_null(cfg->key);
    t->ca_path = dup_or_null(cfg->client_ca);
    pthread_mutex_init(&t->mu, NULL);
    if (load_files(t, &t->files, err, errlen) != 0) {
        arbor_tls_close(t);
        return ARBOR_ECONFIG;
    }
    t->ctx = arbor_xcheck(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cert_cb(t->ctx, on_cert, t);
    if (t->ca_path)
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    *out = t;
    return 0;
}

int arbor_tls_reload(arbor_tls_t *t, char *err, size_t errlen)
{
    tls_files_t fresh, old;
    if (t == NULL)
        return 0;
    int rc = load_files(t, &fresh, err, errlen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->mu);
    old = t->files;
    t->files = fresh;
    t->generation++;
    pthread_mutex_unlock(&t->mu);
    files_free(&old); /* connections hold their own references */
    return 0;
}

void arbor_tls_close(arbor_tls_t *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    files_free(&t->files);
    pthread_mutex_destroy(&t->mu);
    free(t->cert_path);
    free(t->key_path);
    free(t->ca_path);
    free(t);
}

int arbor_tls_validate(const arbor_tls_config_t *cfg, char *err, size_t errlen)
{
    arbor_tls_t *t;
    if (arbor_tls_open(cfg, &t, err, errlen) != 0)
        return -1;
    arbor_tls_close(t);
    return 0;
}

SSL_CTX *arbor_tls_ssl_ctx(arbor_tls_t *t)
{
    return t ? t->ctx : NULL;
}

int arbor_tls_client_auth(const arbor_tls_t *t)
{
    return t && t->ca_path;
}

uint64_t arbor_tls_generation(arbor_tls_t *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t g = t->generation;
    pthread_mutex_unlock(&t->mu);
    return g;
}

void arbor_tls_pems(arbor_tls_t *t, char **cert, char **key, char **ca, uint64_t *generation)
{
    pthread_mutex_lock(&t->mu);
    *cert = arbor_xstrdup(t->files.cert_pem);
    *key = arbor_xstrdup(t->files.key_pem);
    *ca = t->files.ca_pem ? arbor_xstrdup(t->files.ca_pem) : NULL;
    *generation = t->generation;
    pthread_mutex_unlock(&t->mu);
}
