/**
 * @file auth.h
 * @brief Who is calling, and which tenant they act for (SPEC §8).
 *
 * A request carries a bearer token: a JWT as Orcheo issues them (HS256/384/512
 * with a shared secret, RS/PS/ES with keys from a JWKS file), or a service token
 * listed, hashed, in a tokens file. arbor_auth_check() verifies it, reads its
 * scopes and tenants by Orcheo's claim conventions, and settles the request's
 * tenant (with X-Scope-OrgID when multitenancy is on).
 *
 * Threads: an arbor_auth_t is shared by every thread of a daemon; checks run in
 * parallel, and arbor_auth_reload() swaps in freshly read keys and tokens between
 * them (a check sees the old set or the new one, never a mix).
 *
 * Ownership: arbor_auth_open() copies what it needs of the config; the caller
 * owns the handle and releases it with arbor_auth_close(). Results are plain
 * values in the caller's storage.
 */
#ifndef ARBOR_AUTH_H
#define ARBOR_AUTH_H

#include "arbor/base.h"
#include "arbor/config.h"

#include <stddef.h>
#include <stdint.h>

/** Tempo's rule: tenant IDs are at most 150 bytes. */
#define ARBOR_TENANT_MAX 150

typedef struct arbor_auth arbor_auth_t;

/** The settings both daemons share (strings point into argv/environ). */
typedef struct {
    int required;             /**< ARBOR_AUTH: 0 off, 1 required */
    int multitenancy;         /**< ARBOR_MULTITENANCY */
    const char *jwt_secret;   /**< HS256/384/512 key */
    const char *jwks;         /**< JWKS file path, or an https:// URL */
    const char *jwks_ca;      /**< PEM CA to trust for the JWKS URL (NULL: the system's) */
    const char *issuer;       /**< required iss, or NULL */
    const char *audience;     /**< comma list; one must be in aud, or NULL */
    const char *algorithms;   /**< comma list of accepted algs */
    const char *tenant_claim; /**< extra claim naming tenants, or NULL */
    const char *tokens_file;  /**< service tokens, or NULL */
    const char *read_scopes;  /**< comma list; empty: any valid token reads */
    const char *write_scopes; /**< comma list; empty: any valid token writes */
    uint64_t leeway_ms;       /**< clock skew allowed on exp and nbf */
    int allow_no_exp;         /**< ARBOR_AUTH_ALLOW_NO_EXP: a JWT without exp is valid (and never expires) */
} arbor_auth_config_t;

/** What a request needs its token to allow. */
typedef enum {
    ARBOR_AUTH_READ = 1,
    ARBOR_AUTH_WRITE = 2,
} arbor_auth_need_t;

/** The outcome of one check. */
typedef struct {
    int status;          /**< 0 allowed; 401 unauthenticated; 403 forbidden */
    const char *code;    /**< Orcheo's code: "auth.missing_token", "auth.invalid_scheme",
                              "auth.invalid_token", "auth.token_expired", "auth.missing_tenant",
                              "auth.forbidden"; NULL when allowed */
    char message[160];   /**< for the caller: never the token, never another tenant's name */
    char tenant[ARBOR_TENANT_MAX + 1]; /**< the request's tenant when allowed */
    char subject[128];   /**< JWT sub, the service token's name, or "anonymous" */
    char token_id[128];  /**< JWT jti, the service token's name, or "" */
    uint64_t expires_s;  /**< the token's exp (Unix s); 0: none */
} arbor_auth_result_t;

/**
 * Read keys and tokens as @p cfg says.
 * @return 0, or ARBOR_ECONFIG with @p err naming the setting and the problem.
 */
int arbor_auth_open(const arbor_auth_config_t *cfg, arbor_auth_t **out, char *err, size_t errlen);
/** For a config table's validate(): open and close (a JWKS URL is not fetched),
 *  so a bad key file fails --check-config. 0 or -1 with @p err. */
int arbor_auth_validate(const arbor_auth_config_t *cfg, char *err, size_t errlen);
/** Re-read the JWKS and tokens files (SIGHUP). On error the old set stays. */
int arbor_auth_reload(arbor_auth_t *a, char *err, size_t errlen);
void arbor_auth_close(arbor_auth_t *a);

/** 1 when every request but the public ones needs a token. */
int arbor_auth_required(const arbor_auth_t *a);
/** Seconds allowed past a token's exp (ARBOR_AUTH_LEEWAY). */
uint64_t arbor_auth_leeway_s(const arbor_auth_t *a);

/**
 * Check @p token (the credential alone, no scheme; empty: none presented) for
 * @p need, with @p org the X-Scope-OrgID value (empty: none), at Unix time
 * @p now_s. Fills @p out; status 0 means go on as out->tenant.
 */
void arbor_auth_check(arbor_auth_t *a, arbor_iov_t token, arbor_iov_t org, unsigned need, uint64_t now_s,
                      arbor_auth_result_t *out);

/**
 * The same, from an Authorization header value (empty: none): "Bearer <token>",
 * scheme in any case; any other scheme is auth.invalid_scheme.
 */
void arbor_auth_check_header(arbor_auth_t *a, arbor_iov_t authorization, arbor_iov_t org, unsigned need,
                             uint64_t now_s, arbor_auth_result_t *out);

/**
 * Signed, expiring links (SPEC §8 artifacts): the lowercase hex HMAC-SHA256,
 * keyed by @p secret, of "tenant \n id \n exp" into @p out (65 bytes).
 */
void arbor_link_sign(const char *secret, arbor_iov_t tenant, arbor_iov_t id, uint64_t exp_s, char out[65]);
/** 0 when @p sig is the signature of (tenant, id, exp) and @p now_s <= exp;
 *  -1 when it is not (compared in constant time); -2 when it expired. */
int arbor_link_check(const char *secret, arbor_iov_t tenant, arbor_iov_t id, uint64_t exp_s, arbor_iov_t sig,
                     uint64_t now_s);

/** 1 when @p t is a tenant ID Tempo would take: 1..150 bytes of [A-Za-z0-9!-_.*'()], not "." or "..". */
int arbor_tenant_valid(arbor_iov_t t);

/** Escape @p s for a JSON string body into @p out (always terminated). */
void arbor_auth_json_escape(char *out, size_t len, const char *s);

/**
 * Orcheo's answer to a refused check: {"detail":{"message","code"}} into
 * @p out; returns its length. *reason gets the HTTP reason phrase of
 * @p r->status (the caller adds `WWW-Authenticate: Bearer` to a 401).
 */
size_t arbor_auth_error_body(const arbor_auth_result_t *r, char *out, size_t len, const char **reason);

/**
 * One `event=audit` line (printed at every log level): the caller of @p r,
 * @p route, the IDs it named (already escaped, "" for none) and @p status, with
 * Orcheo's code when refused. Never a token, never content.
 */
void arbor_auth_audit(const arbor_auth_result_t *r, const char *route, const char *ids, int status);

/**
 * The config-table rows of the settings above, for a binary whose config struct
 * @p type holds an arbor_auth_config_t at @p member and an int at @p mt_member.
 */
#define ARBOR_AUTH_CFG_ROWS(type, member)                                                                            \
    {"auth", ARBOR_CFG_ENUM, "off", offsetof(type, member.required),                                                 \
     "`off`: anonymous callers (Orcheo's disabled mode); `required`: every request but /healthz, /ready and "        \
     "/metrics needs `Authorization: Bearer <token>` (a JWT or a service token).",                                   \
     arbor_auth_modes, 0, 0},                                                                                        \
    {"multitenancy", ARBOR_CFG_BOOL, "false", offsetof(type, member.multitenancy),                                   \
     "`true`: the tenant comes from `X-Scope-OrgID` (required without auth; with auth it must be one of the "        \
     "token's tenants, and a token with one tenant needs no header). `false`: one tenant, `single-tenant`.",         \
     NULL, 0, 0},                                                                                                    \
    {"auth-jwt-secret", ARBOR_CFG_STRING, NULL, offsetof(type, member.jwt_secret),                                   \
     "Shared secret of HS256/HS384/HS512 JWTs (Orcheo's `ORCHEO_AUTH_JWT_SECRET`).", NULL, 0, 0},                    \
    {"auth-jwks", ARBOR_CFG_STRING, NULL, offsetof(type, member.jwks),                                               \
     "Public keys of RS*/PS*/ES* JWTs (RSA 2048+ and P-256/384/521): a JWKS file (re-read on SIGHUP), or an "        \
     "`https://` URL, fetched at start and again when its `Cache-Control: max-age` runs out (1 min .. 24 h; 5 min "  \
     "without one), on SIGHUP, and early (at most every 30 s) when a token names an unknown `kid`.",                 \
     NULL, 0, 0},                                                                                                    \
    {"auth-jwks-ca", ARBOR_CFG_STRING, NULL, offsetof(type, member.jwks_ca),                                         \
     "PEM CA bundle to verify the JWKS URL's server with (unset: the system's trust store).", NULL, 0, 0},           \
    {"auth-issuer", ARBOR_CFG_STRING, NULL, offsetof(type, member.issuer),                                           \
     "Required `iss` of JWTs (unset: not checked).", NULL, 0, 0},                                                    \
    {"auth-audience", ARBOR_CFG_STRING, NULL, offsetof(type, member.audience),                                       \
     "Accepted `aud` values, comma separated: a JWT must name one. Unset: a JWT must carry no `aud` (as PyJWT).",    \
     NULL, 0, 0},                                                                                                    \
    {"auth-algorithms", ARBOR_CFG_STRING, "HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512", \
     offsetof(type, member.algorithms),                                                                              \
     "JWT algorithms accepted, comma separated. HS* verify with the secret only, the others with JWKS keys of "      \
     "their own type only; `none` is never accepted.",                                                               \
     NULL, 0, 0},                                                                                                    \
    {"auth-tenant-claim", ARBOR_CFG_STRING, NULL, offsetof(type, member.tenant_claim),                               \
     "Another JWT claim naming the token's tenants, read before `workspace_ids`, `workspaces`, `workspace`, "        \
     "`workspace_id` and `orcheo.workspace_ids` (a string, an array, or a dotted path into objects).",               \
     NULL, 0, 0},                                                                                                    \
    {"auth-tokens-file", ARBOR_CFG_STRING, NULL, offsetof(type, member.tokens_file),                                 \
     "Service tokens, one per line: `<sha256 hex of the token> <tenant[,tenant]|*> <scope[,scope]|*|-> [name]`; "    \
     "`#` comments. Tokens are never stored in clear; re-read on SIGHUP.",                                           \
     NULL, 0, 0},                                                                                                    \
    {"auth-leeway", ARBOR_CFG_DURATION, "60s", offsetof(type, member.leeway_ms),                                     \
     "Clock skew allowed on a JWT's `exp` and `nbf` (an open live stream is closed with 4401 this long after "       \
     "its token's `exp`).",                                                                                          \
     NULL, 0, 86400000},                                                                                             \
    {"auth-allow-no-exp", ARBOR_CFG_BOOL, "false", offsetof(type, member.allow_no_exp),                              \
     "`true`: a JWT without `exp` is accepted and never expires (nor is its live stream closed). `false`: it is "    \
     "refused, since nothing could take it back.",                                                                    \
     NULL, 0, 0},                                                                                                    \
    {"auth-read-scopes", ARBOR_CFG_STRING, "", offsetof(type, member.read_scopes),                                   \
     "A token needs one of these scopes to read (comma separated; empty: any valid token). A JWT's `*` scope "       \
     "grants nothing: only service tokens may hold every scope.", NULL, 0, 0},                                       \
    {"auth-write-scopes", ARBOR_CFG_STRING, "", offsetof(type, member.write_scopes),                                 \
     "A token needs one of these scopes to ingest (comma separated; empty: any valid token). A JWT's `*` scope "     \
     "grants nothing.", NULL, 0, 0}

extern const char *const arbor_auth_modes[]; /**< "off", "required" */

#endif
