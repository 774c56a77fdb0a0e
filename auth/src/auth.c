/* The auth handle: settings, the current keys and tokens, and the check that
 * turns a credential and an X-Scope-OrgID into a tenant or a refusal. */
#include "auth_internal.h"

#include "arbor/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *const arbor_auth_modes[] = {"off", "required", NULL};

struct arbor_auth {
    int required, multitenancy, allow_no_exp;
    uint64_t leeway_s;
    char *secret, *jwks_path, *issuer, *tokens_path, *tenant_claim;
    jwks_remote_t *remote; /* jwks_path is an https:// URL: its keys come from here */
    char **algorithms, **audience, **read_scopes, **write_scopes;
    pthread_rwlock_t lock; /* guards jwks and tokens: reload swaps them */
    jwk_set_t jwks;
    token_set_t tokens;
};

/* A whole file the settings name, or NULL with @p err saying which setting. */
static char *read_setting_file(const char *path, size_t *len, char *err, size_t errlen, const char *setting)
{
    char *buf = auth_read_file(path, len);
    if (buf == NULL)
        snprintf(err, errlen, "%s=%s: %s", setting, path,
                 access(path, R_OK) != 0 ? "cannot be read" : "unreadable or over 4 MiB");
    return buf;
}

static int is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* The refresher's new keys replace the set between checks. */
static void install_keys(void *ctx, jwk_set_t *fresh)
{
    arbor_auth_t *a = ctx;
    pthread_rwlock_wrlock(&a->lock);
    jwk_set_t old = a->jwks;
    a->jwks = *fresh;
    pthread_rwlock_unlock(&a->lock);
    jwks_free(&old);
}

/* Read the JWKS and tokens files into @p jwks and @p tokens (empty when unset). */
static int load_sets(const arbor_auth_t *a, jwk_set_t *jwks, token_set_t *tokens, char *err, size_t errlen)
{
    char why[200];
    size_t len;
    char *text;
    memset(jwks, 0, sizeof *jwks);
    memset(tokens, 0, sizeof *tokens);
    if (a->jwks_path && !is_url(a->jwks_path)) {
        if ((text = read_setting_file(a->jwks_path, &len, err, errlen, "ARBOR_AUTH_JWKS")) == NULL)
            return ARBOR_ECONFIG;
        int rc = jwks_parse(text, len, jwks, why, sizeof why);
        free(text);
        if (rc != 0) {
            snprintf(err, errlen, "ARBOR_AUTH_JWKS=%s: %s", a->jwks_path, why);
            return ARBOR_ECONFIG;
        }
    }
    if (a->tokens_path) {
        if ((text = read_setting_file(a->tokens_path, &len, err, errlen, "ARBOR_AUTH_TOKENS_FILE")) == NULL) {
            jwks_free(jwks);
            return ARBOR_ECONFIG;
        }
        int rc = tokens_parse(text, len, tokens, why, sizeof why);
        free(text);
        if (rc != 0) {
            snprintf(err, errlen, "ARBOR_AUTH_TOKENS_FILE=%s: %s", a->tokens_path, why);
            jwks_free(jwks);
            return ARBOR_ECONFIG;
        }
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? arbor_xstrdup(s) : NULL;
}

static int open_handle(const arbor_auth_config_t *cfg, arbor_auth_t **out, int fetch, char *err, size_t errlen);

int arbor_auth_open(const arbor_auth_config_t *cfg, arbor_auth_t **out, char *err, size_t errlen)
{
    return open_handle(cfg, out, 1, err, errlen);
}

static int open_handle(const arbor_auth_config_t *cfg, arbor_auth_t **out, int fetch, char *err, size_t errlen)
{
    arbor_auth_t *a = arbor_xcalloc(1, sizeof *a);
    a->required = cfg->required;
    a->multitenancy = cfg->multitenancy;
    a->leeway_s = cfg->leeway_ms / 1000;
    a->allow_no_exp = cfg->allow_no_exp;
    a->secret = dup_or_null(cfg->jwt_secret);
    a->jwks_path = dup_or_null(cfg->jwks);
    a->issuer = dup_or_null(cfg->issuer);
    a->tokens_path = dup_or_null(cfg->tokens_file);
    a->tenant_claim = dup_or_null(cfg->tenant_claim);
    a->algorithms = arbor_split_list(cfg->algorithms, ", ");
    a->audience = arbor_split_list(cfg->audience, ", ");
    a->read_scopes = arbor_split_list(cfg->read_scopes, ", ");
    a->write_scopes = arbor_split_list(cfg->write_scopes, ", ");
    pthread_rwlock_init(&a->lock, NULL);
    *out = NULL;
    for (char **p = a->algorithms; *p; p++)
        if (jws_alg_find(*p) == NULL) {
            snprintf(err, errlen, "ARBOR_AUTH_ALGORITHMS: unknown or refused algorithm \"%.20s\"", *p);
            goto fail;
        }
    if (a->required && !a->secret && !a->jwks_path && !a->tokens_path) {
        snprintf(err, errlen, "ARBOR_AUTH=required needs ARBOR_AUTH_JWT_SECRET, ARBOR_AUTH_JWKS or "
                              "ARBOR_AUTH_TOKENS_FILE: no token could ever be valid");
        goto fail;
    }
    if (a->jwks_path && strncmp(a->jwks_path, "http://", 7) == 0) {
        snprintf(err, errlen, "ARBOR_AUTH_JWKS: keys over plaintext http could be anyone's; use https://");
        goto fail;
    }
    if (load_sets(a, &a->jwks, &a->tokens, err, errlen) != 0)
        goto fail;
    if (fetch && a->jwks_path && is_url(a->jwks_path))
        a->remote = jwks_remote_start(a->jwks_path, cfg->jwks_ca, install_keys, a);
    *out = a;
    return 0;
fail:
    arbor_auth_close(a);
    return ARBOR_ECONFIG;
}

int arbor_auth_validate(const arbor_auth_config_t *cfg, char *err, size_t errlen)
{
    arbor_auth_t *a;
    if (open_handle(cfg, &a, 0, err, errlen) != 0)
        return -1;
    arbor_auth_close(a);
    return 0;
}

int arbor_auth_reload(arbor_auth_t *a, char *err, size_t errlen)
{
    jwk_set_t jwks;
    token_set_t tokens;
    int rc = load_sets(a, &jwks, &tokens, err, errlen);
    if (rc != 0)
        return rc;
    if (a->remote != NULL) /* the URL's keys stay; fetch them again now */
        jwks_remote_refresh(a->remote, 1);
    pthread_rwlock_wrlock(&a->lock);
    jwk_set_t old_jwks = a->remote ? jwks : a->jwks;
    token_set_t old_tokens = a->tokens;
    if (a->remote == NULL)
        a->jwks = jwks;
    a->tokens = tokens;
    pthread_rwlock_unlock(&a->lock);
    jwks_free(&old_jwks);
    tokens_free(&old_tokens);
    return 0;
}

void arbor_auth_close(arbor_auth_t *a)
{
    if (a == NULL)
        return;
    jwks_remote_stop(a->remote); /* before the keys it installs go */
    jwks_free(&a->jwks);
    tokens_free(&a->tokens);
    pthread_rwlock_destroy(&a->lock);
    if (a->secret)
        OPENSSL_cleanse(a->secret, strlen(a->secret));
    free(a->secret);
    free(a->jwks_path);
    free(a->issuer);
    free(a->tokens_path);
    free(a->tenant_claim);
    free(a->algorithms);
    free(a->audience);
    free(a->read_scopes);
    free(a->write_scopes);
    free(a);
}

int arbor_auth_required(const arbor_auth_t *a)
{
    return a != NULL && a->required;
}

uint64_t arbor_auth_leeway_s(const arbor_auth_t *a)
{
    return a ? a->leeway_s : 0;
}

int arbor_tenant_valid(arbor_iov_t t)
{
    if (t.len == 0 || t.len > ARBOR_TENANT_MAX || arbor_iov_eq_str(t, ".") || arbor_iov_eq_str(t, ".."))
        return 0;
    for (size_t i = 0; i < t.len; i++) {
        char c = t.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!-_.*'()", c)))
            return 0;
    }
    return 1;
}

void arbor_auth_json_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, len - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o < len ? o : len - 1] = '\0';
}

size_t arbor_auth_error_body(const arbor_auth_result_t *r, char *out, size_t len, const char **reason)
{
    char msg[400];
    arbor_auth_json_escape(msg, sizeof msg, r->message);
    int n = snprintf(out, len, "{\"detail\":{\"message\":\"%s\",\"code\":\"%s\"}}", msg, r->code ? r->code : "");
    *reason = r->status == 401 ? "Unauthorized" : r->status == 403 ? "Forbidden" : "Bad Request";
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

void arbor_auth_audit(const arbor_auth_result_t *r, const char *route, const char *ids, int status)
{
    char sub[200], tid[200];
    arbor_log_escape(sub, sizeof sub, r->subject, strlen(r->subject));
    arbor_log_escape(tid, sizeof tid, r->token_id, strlen(r->token_id));
    arbor_log_lifecycle("audit", "subject=\"%s\" token=\"%s\" tenant=\"%s\" route=\"%s\" ids=\"%s\" status=%d%s%s", sub,
                        tid, r->tenant, route, ids, status, r->code ? " code=" : "", r->code ? r->code : "");
}

/* ---- the check ---- */

static void refuse(arbor_auth_result_t *out, int status, const char *code, const char *message)
{
    out->status = status;
    out->code = code;
    snprintf(out->message, sizeof out->message, "%s", message);
}

#define MAX_CLAIM_VALUES 64

typedef struct {
    const char *v[MAX_CLAIM_VALUES];
    size_t n;
    char *owned[8]; /* split copies of space-separated strings */
    size_t n_owned;
} values_t;

static void values_free(values_t *vals)
{
    for (size_t i = 0; i < vals->n_owned; i++)
        free(vals->owned[i]);
}

/* A claim by name, or by dotted path through objects ("orcheo.scopes"). */
static json_t *claim_get(json_t *claims, const char *name)
{
    json_t *direct = json_object_get(claims, name);
    if (direct || strchr(name, '.') == NULL)
        return direct;
    char path[128];
    snprintf(path, sizeof path, "%s", name);
    json_t *at = claims;
    char *save = NULL;
    for (char *part = strtok_r(path, ".", &save); part && at; part = strtok_r(NULL, ".", &save))
        at = json_object_get(at, part);
    return at;
}

/* The strings of a claim: an array's strings, or a string split on @p seps. */
static void claim_values(json_t *claims, const char *name, const char *seps, values_t *out)
{
    json_t *c = name ? claim_get(claims, name) : NULL;
    if (json_is_string(c) && out->n_owned < 8) {
        char **parts = arbor_split_list(json_string_value(c), seps);
        out->owned[out->n_owned++] = (char *)parts;
        for (char **p = parts; *p && out->n < MAX_CLAIM_VALUES; p++)
            out->v[out->n++] = *p;
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(c, i, item) {
        if (json_is_string(item) && out->n < MAX_CLAIM_VALUES)
            out->v[out->n++] = json_string_value(item);
    }
}

/* Does a token with scopes @p have satisfy @p need? Empty required lists take
 * any. "*" (every scope) is a service-token convention: @p star_ok is set for
 * those only, so a JWT claiming "*" is granted nothing by it. */
static int scopes_allow(const arbor_auth_t *a, unsigned need, const values_t *have, int star_ok)
{
    char **want[2] = {need & ARBOR_AUTH_READ ? a->read_scopes : NULL, need & ARBOR_AUTH_WRITE ? a->write_scopes : NULL};
    for (int w = 0; w < 2; w++) {
        if (want[w] == NULL || want[w][0] == NULL)
            continue;
        int ok = 0;
        for (size_t i = 0; i < have->n && !ok; i++)
            for (char **s = want[w]; *s && !ok; s++)
                ok = (star_ok && strcmp(have->v[i], "*") == 0) || strcmp(have->v[i], *s) == 0;
        if (!ok)
            return 0;
    }
    return 1;
}

/* Settle the tenant from the token's tenants @p have and the header @p org. */
static void settle_tenant(const arbor_auth_t *a, const values_t *have, int authenticated, arbor_iov_t org,
                          arbor_auth_result_t *out)
{
    if (!a->multitenancy) {
        snprintf(out->tenant, sizeof out->tenant, "%s", ARBOR_DEFAULT_TENANT);
        return;
    }
    if (org.len > 0 && !arbor_tenant_valid(org)) {
        refuse(out, 400, "auth.invalid_tenant",
               "X-Scope-OrgID must be 1-150 characters of A-Z a-z 0-9 ! - _ . * ' ( ), not . or ..");
        return;
    }
    if (org.len == 0) {
        if (!authenticated || have->n != 1 || strcmp(have->v[0], "*") == 0) {
            refuse(out, 401, "auth.missing_tenant", authenticated ? "X-Scope-OrgID is required: the token does not "
                                                                    "name exactly one tenant"
                                                                  : "X-Scope-OrgID is required");
            return;
        }
        snprintf(out->tenant, sizeof out->tenant, "%s", have->v[0]);
        return;
    }
    int ok = !authenticated;
    for (size_t i = 0; i < have->n && !ok; i++)
        ok = strcmp(have->v[i], "*") == 0 || arbor_iov_eq_str(org, have->v[i]);
    if (!ok) {
        refuse(out, 403, "auth.forbidden", "the token does not grant this tenant");
        return;
    }
    snprintf(out->tenant, sizeof out->tenant, "%.*s", (int)org.len, org.base);
}

static const char *const tenant_claims[] = {"workspace_ids", "workspaces", "workspace", "workspace_id",
                                            "orcheo.workspace_ids"};
static const char *const scope_claims[] = {"scope", "scopes", "scp", "orcheo.scopes"};

/* A verified JWT's identity, scopes and tenants. */
static void check_jwt_claims(arbor_auth_t *a, json_t *claims, arbor_iov_t org, unsigned need, arbor_auth_result_t *out)
{
    values_t scopes = {0}, tenants = {0};
    for (size_t i = 0; i < sizeof scope_claims / sizeof scope_claims[0]; i++)
        claim_values(claims, scope_claims[i], " ,", &scopes);
    claim_values(claims, a->tenant_claim, " ,", &tenants);
    for (size_t i = 0; i < sizeof tenant_claims / sizeof tenant_claims[0]; i++)
        claim_values(claims, tenant_claims[i], " ,", &tenants);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    snprintf(out->subject, sizeof out->subject, "%s", sub ? sub : "jwt");
    snprintf(out->token_id, sizeof out->token_id, "%s", jti ? jti : "");
    json_t *exp = json_object_get(claims, "exp");
    out->expires_s = json_is_number(exp) && json_number_value(exp) > 0 ? (uint64_t)json_number_value(exp) : 0;
    size_t kept = 0; /* "*" is a service-token convention, never a claim; invalid IDs match nothing */
    for (size_t i = 0; i < tenants.n; i++)
        if (strcmp(tenants.v[i], "*") != 0 && arbor_tenant_valid(arbor_iov(tenants.v[i], strlen(tenants.v[i]))))
            tenants.v[kept++] = tenants.v[i];
    tenants.n = kept;
    if (!scopes_allow(a, need, &scopes, 0))
        refuse(out, 403, "auth.forbidden", "the token lacks the scope this needs");
    else
        settle_tenant(a, &tenants, 1, org, out);
    values_free(&scopes);
    values_free(&tenants);
}

static void check_service_token(arbor_auth_t *a, const service_token_t *t, arbor_iov_t org, unsigned need,
                                arbor_auth_result_t *out)
{
    values_t scopes = {0}, tenants = {0};
    for (char **p = t->scopes; *p && scopes.n < MAX_CLAIM_VALUES; p++)
        scopes.v[scopes.n++] = *p;
    for (char **p = t->tenants; *p && tenants.n < MAX_CLAIM_VALUES; p++)
        tenants.v[tenants.n++] = *p;
    snprintf(out->subject, sizeof out->subject, "%s", t->name);
    snprintf(out->token_id, sizeof out->token_id, "%s", t->name);
    if (!scopes_allow(a, need, &scopes, 1))
        refuse(out, 403, "auth.forbidden", "the token lacks the scope this needs");
    else
        settle_tenant(a, &tenants, 1, org, out);
}

static const char *const jwt_messages[] = {
    [JWT_MALFORMED] = "Invalid bearer token",
    [JWT_BAD_ALG] = "Invalid bearer token: algorithm not accepted",
    [JWT_BAD_SIG] = "Invalid bearer token",
    [JWT_EXPIRED] = "Token has expired",
    [JWT_UNKNOWN_KID] = "Invalid bearer token: unknown key ID",
    [JWT_IMMATURE] = "Token is not yet valid",
    [JWT_BAD_TIME] = "Invalid bearer token: exp and nbf must be numbers (seconds since 1970)",
    [JWT_NO_EXP] = "Invalid bearer token: it has no exp, and tokens that never expire are not accepted",
    [JWT_BAD_ISSUER] = "Invalid bearer token: issuer not accepted",
    [JWT_BAD_AUDIENCE] = "Invalid bearer token: audience not accepted",
};

void arbor_auth_check(arbor_auth_t *a, arbor_iov_t token, arbor_iov_t org, unsigned need, uint64_t now_s,
                      arbor_auth_result_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->subject, sizeof out->subject, "anonymous");
    if (!a->required) {
        settle_tenant(a, &(values_t){0}, 0, org, out);
        return;
    }
    if (token.len == 0) {
        refuse(out, 401, "auth.missing_token", "Missing bearer token");
        return;
    }
    pthread_rwlock_rdlock(&a->lock);
    const service_token_t *st = tokens_find(&a->tokens, token.base, token.len);
    if (st != NULL) {
        check_service_token(a, st, org, need, out);
    } else {
        jwt_verifier_t v = {a->secret, a->secret ? strlen(a->secret) : 0, &a->jwks, (const char *const *)a->algorithms,
                            a->issuer, a->audience[0] ? (const char *const *)a->audience : NULL, a->leeway_s,
                            a->allow_no_exp};
        json_t *claims = NULL;
        jwt_status_t js = jwt_verify(&v, token.base, token.len, now_s, &claims);
        if (js == JWT_UNKNOWN_KID && a->remote != NULL) /* a rotation: fetch the set again, soon */
            jwks_remote_refresh(a->remote, 0);
        if (js != JWT_OK)
            refuse(out, 401, js == JWT_EXPIRED ? "auth.token_expired" : "auth.invalid_token", jwt_messages[js]);
        else
            check_jwt_claims(a, claims, org, need, out);
        json_decref(claims);
    }
    pthread_rwlock_unlock(&a->lock);
}

void arbor_auth_check_header(arbor_auth_t *a, arbor_iov_t authorization, arbor_iov_t org, unsigned need,
                             uint64_t now_s, arbor_auth_result_t *out)
{
    if (a->required && authorization.len > 0 &&
        !(authorization.len > 7 && strncasecmp(authorization.base, "bearer ", 7) == 0)) {
        memset(out, 0, sizeof *out);
        refuse(out, 401, "auth.invalid_scheme", "Authorization must use the Bearer scheme");
        return;
    }
    arbor_iov_t token = authorization.len > 7 ? arbor_iov(authorization.base + 7, authorization.len - 7) : ARBOR_IOV_NULL;
    while (token.len > 0 && token.base[0] == ' ')
        token = arbor_iov(token.base + 1, token.len - 1);
    while (token.len > 0 && token.base[token.len - 1] == ' ')
        token.len--;
    arbor_auth_check(a, token, org, need, now_s, out);
}
