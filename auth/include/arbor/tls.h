/**
 * @file tls.h
 * @brief TLS for every listener of a daemon (SPEC §8): one certificate and key,
 *        an optional client CA (mTLS), TLS 1.2 minimum, re-read on SIGHUP.
 *
 * The SSL_CTX is made once; each handshake takes the certificate, key and client
 * CA current at that moment (a certificate callback), so a reload never touches
 * a connection already open and never swaps a context under another thread.
 * gRPC core gets the same files as PEM through its certificate-config fetcher,
 * which asks again before each handshake (arbor_tls_pems with the generation).
 *
 * Threads: any thread may handshake or fetch while another reloads.
 * Ownership: the handle owns the SSL_CTX; callers borrow it until close.
 */
#ifndef ARBOR_TLS_H
#define ARBOR_TLS_H

#include "arbor/config.h"

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arbor_tls arbor_tls_t;

typedef struct {
    const char *cert;      /**< PEM certificate chain (leaf first); NULL: TLS off */
    const char *key;       /**< PEM private key */
    const char *client_ca; /**< PEM CA bundle: clients must present a certificate it signed */
} arbor_tls_config_t;

/**
 * Read the files. With no certificate configured *out is NULL and the result 0
 * (plaintext listeners). 0, or ARBOR_ECONFIG with @p err.
 */
int arbor_tls_open(const arbor_tls_config_t *cfg, arbor_tls_t **out, char *err, size_t errlen);
/** Re-read the files; on error the previous ones stay in use. */
int arbor_tls_reload(arbor_tls_t *t, char *err, size_t errlen);
void arbor_tls_close(arbor_tls_t *t);
/** For a config table's validate(): open and close. 0 or -1 with @p err. */
int arbor_tls_validate(const arbor_tls_config_t *cfg, char *err, size_t errlen);

/** The server context (TLS 1.2+, per-handshake certificate); ALPN is the caller's. */
SSL_CTX *arbor_tls_ssl_ctx(arbor_tls_t *t);
/** 1 when clients must present a certificate. */
int arbor_tls_client_auth(const arbor_tls_t *t);
/** Bumped by every successful reload. */
uint64_t arbor_tls_generation(arbor_tls_t *t);
/**
 * Copies of the current PEM texts (free() each; *ca NULL without a client CA)
 * and their generation, for gRPC's certificate config.
 */
void arbor_tls_pems(arbor_tls_t *t, char **cert, char **key, char **ca, uint64_t *generation);

/** The config-table rows of the settings above, at @p member of @p type. */
#define ARBOR_TLS_CFG_ROWS(type, member)                                                                             \
    {"tls-cert", ARBOR_CFG_STRING, NULL, offsetof(type, member.cert),                                                \
     "PEM certificate chain (leaf first): turns on TLS (1.2 minimum) for every listener of this binary; re-read "    \
     "on SIGHUP without dropping connections.",                                                                      \
     NULL, 0, 0},                                                                                                    \
    {"tls-key", ARBOR_CFG_STRING, NULL, offsetof(type, member.key), "PEM private key of `tls-cert`.", NULL, 0, 0},    \
    {"tls-client-ca", ARBOR_CFG_STRING, NULL, offsetof(type, member.client_ca),                                      \
     "PEM CA bundle: clients must present a certificate it signed (mTLS).", NULL, 0, 0}

#endif
