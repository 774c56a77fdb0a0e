/* Inside the auth library: keys, JWT verification and service tokens. */
#ifndef ARBOR_AUTH_INTERNAL_H
#define ARBOR_AUTH_INTERNAL_H

#include "arbor/auth.h"

#include <jansson.h>
#include <openssl/evp.h>

/* JWS algorithms: the family decides which key may verify it. */
typedef enum { ALG_HS, ALG_RS, ALG_PS, ALG_ES } alg_family_t;

typedef struct {
    const char *name; /* "RS256" */
    alg_family_t family;
    const char *digest; /* "SHA256" */
    size_t es_half;     /* ES: bytes of r and of s in the signature */
} jws_alg_t;

/* The algorithm called @p name, or NULL ("none" included). */
const jws_alg_t *jws_alg_find(const char *name);

typedef struct {
    char kid[128];   /* "" when the JWK has none */
    char alg[16];    /* "" when the JWK does not pin one */
    int is_rsa;      /* else EC */
    const char *curve_alg; /* EC: the one ES alg of its curve ("ES256") */
    EVP_PKEY *pkey;
} jwk_t;

typedef struct {
    jwk_t *keys;
    size_t n;
} jwk_set_t;

/* Parse a JWKS document ({"keys":[...]}); keys that are not public signing keys
 * of a supported type are skipped. 0, or -1 with @p err. */
int jwks_parse(const char *json, size_t len, jwk_set_t *out, char *err, size_t errlen);
void jwks_free(jwk_set_t *set);

/* GET an https:// JWKS (libcurl; @p ca_file: trust this CA, NULL: the system's).
 * 0 with *max_age_s (-1 when the answer gave none), or -1 with @p err. */
int jwks_fetch(const char *url, const char *ca_file, jwk_set_t *out, long *max_age_s, char *err, size_t errlen);

/* A JWKS URL kept fresh by a thread of its own: install() gets each new set
 * (and owns it from then on), from that thread. */
typedef struct jwks_remote jwks_remote_t;
typedef void (*jwks_install_fn)(void *ctx, jwk_set_t *fresh);
/* Fetch once now (a failure is logged and retried), then keep refreshing. */
jwks_remote_t *jwks_remote_start(const char *url, const char *ca, jwks_install_fn install, void *ctx);
/* Ask for an early fetch: a token named an unknown key ID (at most every 30 s),
 * or @p now, an operator's SIGHUP (always, whatever the throttle says). */
void jwks_remote_refresh(jwks_remote_t *r, int now);
void jwks_remote_stop(jwks_remote_t *r);

/* A whole file (at most 4 MiB) in a malloc'd, NUL-terminated buffer; NULL when
 * it cannot be read or is larger. */
char *auth_read_file(const char *path, size_t *len);

/* Why a token is refused. */
typedef enum {
    JWT_OK = 0,
    JWT_MALFORMED,   /* not three base64url parts of JSON objects */
    JWT_BAD_ALG,     /* alg missing, "none", not accepted, or no key of its kind */
    JWT_BAD_SIG,     /* no key verifies the signature */
    JWT_UNKNOWN_KID, /* the header names a key ID no key has (a rotation the set has not caught up with) */
    JWT_EXPIRED,     /* exp + leeway passed */
    JWT_IMMATURE,    /* nbf - leeway not reached */
    JWT_BAD_TIME,    /* exp or nbf not a number */
    JWT_NO_EXP,      /* no exp, and tokens that never expire are not allowed */
    JWT_BAD_ISSUER,  /* iss is not the one required */
    JWT_BAD_AUDIENCE, /* aud names none of the accepted audiences (or one nobody asked to accept) */
} jwt_status_t;

typedef struct {
    const char *secret; /* HS key, or NULL */
    size_t secret_len;
    const jwk_set_t *jwks;
    const char *const *algorithms; /* accepted names, NULL-terminated */
    const char *issuer;            /* or NULL */
    const char *const *audience;   /* NULL-terminated, or NULL: a token must carry no aud */
    uint64_t leeway_s;             /* on exp and nbf */
    int allow_no_exp;              /* a token without exp is valid (ARBOR_AUTH_ALLOW_NO_EXP) */
} jwt_verifier_t;

/* Verify @p token; on JWT_OK *claims is the payload (the caller decrefs). */
jwt_status_t jwt_verify(const jwt_verifier_t *v, const char *token, size_t len, uint64_t now_s, json_t **claims);

/* base64url without padding into @p out (room for len*3/4+3); -1 on a bad char. */
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *out_len);

typedef struct {
    unsigned char sha256[32];
    char **tenants; /* NULL-terminated; {"*"} for any */
    char **scopes;  /* NULL-terminated; {"*"} for all */
    char name[128];
} service_token_t;

typedef struct {
    service_token_t *tokens;
    size_t n;
} token_set_t;

/* Parse a tokens file's text. 0, or -1 with @p err naming the line. */
int tokens_parse(const char *text, size_t len, token_set_t *out, char *err, size_t errlen);
void tokens_free(token_set_t *set);
/* The entry whose hash is sha256(@p token), compared in constant time over every
 * entry; NULL when none. */
const service_token_t *tokens_find(const token_set_t *set, const char *token, size_t len);

#endif
