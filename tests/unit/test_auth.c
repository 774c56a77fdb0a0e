/* The auth library: JWT checks (HS tokens minted here with OpenSSL's HMAC; RS,
 * PS and ES tokens from PyJWT are in tests/integration/auth.test.mjs), claims,
 * tenants, the tokens file and JWKS parsing. Includes the sources for their
 * static functions. */
#include "../../auth/src/auth.c"
#include "../../auth/src/jwk.c"
#include "../../auth/src/jwt.c"
#include "../../auth/src/tokens.c"
#include "tap.h"

#include <openssl/sha.h>
#include <fcntl.h>
#include <unistd.h>

#define NOW 1800000000u
static const char secret[] = "unit-test-secret-of-32-bytes-len";

static void b64url(const unsigned char *in, size_t len, char *out)
{
    unsigned char tmp[4096];
    int n = EVP_EncodeBlock(tmp, in, (int)len);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        char c = (char)tmp[i];
        if (c == '=')
            break;
        out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[o] = '\0';
}

/* header.payload.HMAC-SHA256(key) */
static void mint(char *out, const char *header, const char *payload, const char *key)
{
    char h[1024], p[2048];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    int n = sprintf(out, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int ml;
    HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)out, (size_t)n, mac, &ml);
    out[n] = '.';
    b64url(mac, ml, out + n + 1);
}

/* The checks of other claims mint tokens without exp: those suites allow them
 * (test_expiry checks the default, which refuses them). */
static int allow_no_exp = 1;

static arbor_auth_t *open_auth(int multitenancy, const char *issuer, const char *audience, const char *read_scopes,
                               const char *tokens_file)
{
    arbor_auth_config_t cfg = {.required = 1, .multitenancy = multitenancy, .jwt_secret = secret,
                               .issuer = issuer, .audience = audience, .algorithms = "HS256,RS256,ES256",
                               .tokens_file = tokens_file, .read_scopes = read_scopes, .write_scopes = "traces:write",
                               .leeway_ms = 60000, .allow_no_exp = allow_no_exp};
    arbor_auth_t *a = NULL;
    char err[256] = "";
    int rc = arbor_auth_open(&cfg, &a, err, sizeof err);
    if (rc != 0)
        printf("# open: %s\n", err);
    return a;
}

static arbor_auth_result_t check(arbor_auth_t *a, const char *token, const char *org, unsigned need)
{
    arbor_auth_result_t r;
    arbor_auth_check(a, arbor_iov(token, strlen(token)), arbor_iov(org, strlen(org)), need, NOW, &r);
    return r;
}

#define HS "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static void expect(arbor_auth_t *a, const char *payload, const char *org, int status, const char *code,
                   const char *name)
{
    char tok[4096];
    mint(tok, HS, payload, secret);
    arbor_auth_result_t r = check(a, tok, org, ARBOR_AUTH_READ);
    ok(r.status == status && (code ? r.code && strcmp(r.code, code) == 0 : r.code == NULL), "%s: %d %s", name,
       r.status, r.code ? r.code : "-");
}

static void test_jwt_claims(void)
{
    arbor_auth_t *a = open_auth(0, "orcheo", "arbor,other", "", NULL);
    expect(a, "{\"sub\":\"u\",\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":1800000100}", "", 0, NULL, "valid HS256");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":[\"x\",\"other\"]}", "", 0, NULL, "aud array naming an accepted one");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":1799999950}", "", 0, NULL, "expired within leeway");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":1799999939}", "", 401, "auth.token_expired", "expired");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"nbf\":1800000061}", "", 401, "auth.invalid_token", "not yet");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"nbf\":1800000059}", "", 0, NULL, "nbf within leeway");
    expect(a, "{\"iss\":\"evil\",\"aud\":\"arbor\"}", "", 401, "auth.invalid_token", "wrong issuer");
    expect(a, "{\"aud\":\"arbor\"}", "", 401, "auth.invalid_token", "no issuer");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"nope\"}", "", 401, "auth.invalid_token", "wrong audience");
    expect(a, "{\"iss\":\"orcheo\"}", "", 401, "auth.invalid_token", "no audience");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":\"never\"}", "", 401, "auth.invalid_token", "exp not a number");

    arbor_auth_result_t r;
    char tok[4096];
    mint(tok, HS, "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", "another-secret");
    r = check(a, tok, "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "signed with another secret");
    mint(tok, "{\"alg\":\"none\"}", "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", secret);
    *strrchr(tok, '.') = '\0';
    strcat(tok, ".");
    r = check(a, tok, "", ARBOR_AUTH_READ);
    ok(r.status == 401 && strcmp(r.code, "auth.invalid_token") == 0, "alg none with an empty signature");
    mint(tok, "{\"alg\":\"HS512\"}", "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", secret);
    r = check(a, tok, "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "an algorithm outside ARBOR_AUTH_ALGORITHMS");
    mint(tok, "{\"alg\":\"RS256\"}", "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", secret);
    r = check(a, tok, "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "RS256 header over an HMAC signature (no JWKS: no RSA key)");
    mint(tok, HS, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"sub\":\"ana\",\"jti\":\"j-1\"}", secret);
    tok[strlen(tok) - 2] ^= 1; /* tamper with the signature */
    r = check(a, tok, "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "tampered signature");
    mint(tok, HS, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"sub\":\"ana\",\"jti\":\"j-1\"}", secret);
    char *dot = strchr(tok, '.');
    dot[3] ^= 1; /* tamper with the payload */
    r = check(a, tok, "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "tampered payload");
    mint(tok, HS, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"sub\":\"ana\",\"jti\":\"j-1\",\"exp\":1800000500}", secret);
    r = check(a, tok, "", ARBOR_AUTH_READ);
    ok(r.status == 0 && strcmp(r.subject, "ana") == 0 && strcmp(r.token_id, "j-1") == 0 &&
           strcmp(r.tenant, ARBOR_DEFAULT_TENANT) == 0 && r.expires_s == 1800000500u,
       "subject, jti, exp and the single tenant");
    r = check(a, "", "", ARBOR_AUTH_READ);
    ok(r.status == 401 && strcmp(r.code, "auth.missing_token") == 0, "no token: auth.missing_token");
    r = check(a, "a.b", "", ARBOR_AUTH_READ);
    ok(r.status == 401 && strcmp(r.code, "auth.invalid_token") == 0, "two parts: auth.invalid_token");
    arbor_auth_check_header(a, ARBOR_IOV("Basic dXNlcjpwYXNz"), ARBOR_IOV_NULL, ARBOR_AUTH_READ, NOW, &r);
    ok(r.status == 401 && strcmp(r.code, "auth.invalid_scheme") == 0, "Basic: auth.invalid_scheme");
    char hdr[4200];
    sprintf(hdr, "bearer  %s ", tok);
    arbor_auth_check_header(a, arbor_iov(hdr, strlen(hdr)), ARBOR_IOV_NULL, ARBOR_AUTH_READ, NOW, &r);
    is_int(r.status, 0, "\"bearer\" in any case, extra spaces");
    arbor_auth_close(a);
}

/* The refusal says what is wrong with the token, in its own words. */
static void expect_message(arbor_auth_t *a, const char *payload, const char *want, const char *name)
{
    char tok[4096];
    mint(tok, HS, payload, secret);
    arbor_auth_result_t r = check(a, tok, "", ARBOR_AUTH_READ);
    ok(r.status == 401 && strstr(r.message, want) != NULL, "%s: %d \"%s\"", name, r.status, r.message);
}

static void test_expiry_and_messages(void)
{
    allow_no_exp = 0;
    arbor_auth_t *a = open_auth(0, "orcheo", "arbor", "", NULL);
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":1800000100}", "", 0, NULL, "with exp");
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", "", 401, "auth.invalid_token", "no exp: refused by default");
    expect_message(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", "no exp", "no exp: says so");
    expect_message(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":\"1800000100\"}", "must be numbers",
                   "a string exp");
    expect_message(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\",\"exp\":1800000100,\"nbf\":true}", "must be numbers",
                   "a boolean nbf");
    expect_message(a, "{\"iss\":\"evil\",\"aud\":\"arbor\",\"exp\":1800000100}", "issuer not accepted",
                   "wrong issuer");
    expect_message(a, "{\"iss\":\"orcheo\",\"aud\":\"x\",\"exp\":1800000100}", "audience not accepted",
                   "wrong audience");
    arbor_auth_close(a);
    allow_no_exp = 1;
    a = open_auth(0, "orcheo", "arbor", "", NULL);
    expect(a, "{\"iss\":\"orcheo\",\"aud\":\"arbor\"}", "", 0, NULL, "no exp, ARBOR_AUTH_ALLOW_NO_EXP=true");
    arbor_auth_close(a);
}

static void test_scopes(void)
{
    arbor_auth_t *a = open_auth(0, NULL, NULL, "traces:read,admin", NULL);
    expect(a, "{\"scope\":\"openid traces:read\"}", "", 0, NULL, "scope, space separated");
    expect(a, "{\"scopes\":[\"x\",\"admin\"]}", "", 0, NULL, "scopes array");
    expect(a, "{\"scp\":\"traces:read\"}", "", 0, NULL, "scp string");
    expect(a, "{\"orcheo\":{\"scopes\":[\"traces:read\"]}}", "", 0, NULL, "orcheo.scopes nested");
    expect(a, "{\"orcheo.scopes\":[\"traces:read\"]}", "", 0, NULL, "orcheo.scopes flat");
    expect(a, "{\"scope\":\"traces:write\"}", "", 403, "auth.forbidden", "wrong scope");
    expect(a, "{}", "", 403, "auth.forbidden", "no scope");
    char tok[4096];
    mint(tok, HS, "{\"scope\":\"traces:read\"}", secret);
    arbor_auth_result_t r = check(a, tok, "", ARBOR_AUTH_WRITE);
    ok(r.status == 403 && strcmp(r.code, "auth.forbidden") == 0, "a read scope does not write");
    expect(a, "{\"scope\":\"*\"}", "", 403, "auth.forbidden", "a JWT's \"*\" scope does not read");
    expect(a, "{\"scopes\":[\"*\"]}", "", 403, "auth.forbidden", "nor as an array item");
    mint(tok, HS, "{\"scope\":\"*\"}", secret);
    r = check(a, tok, "", ARBOR_AUTH_WRITE);
    ok(r.status == 403 && strcmp(r.code, "auth.forbidden") == 0, "a JWT's \"*\" scope does not write");
    arbor_auth_close(a);
}

static void test_tenants(void)
{
    arbor_auth_t *a = open_auth(1, NULL, NULL, "", NULL);
    expect(a, "{\"workspace_ids\":[\"acme\"]}", "", 0, NULL, "one tenant needs no header");
    expect(a, "{\"workspace_ids\":[\"acme\",\"beta\"]}", "", 401, "auth.missing_tenant", "two tenants need a header");
    expect(a, "{\"workspace_ids\":[\"acme\",\"beta\"]}", "beta", 0, NULL, "the header picks one of them");
    expect(a, "{\"workspace_ids\":[\"acme\"]}", "beta", 403, "auth.forbidden", "a tenant the token lacks");
    expect(a, "{\"workspace\":\"acme\"}", "acme", 0, NULL, "workspace string");
    expect(a, "{\"workspace_id\":\"acme\"}", "acme", 0, NULL, "workspace_id");
    expect(a, "{\"workspaces\":[\"acme\"]}", "acme", 0, NULL, "workspaces");
    expect(a, "{\"orcheo\":{\"workspace_ids\":[\"acme\"]}}", "acme", 0, NULL, "orcheo.workspace_ids");
    expect(a, "{\"workspace_ids\":[\"*\"]}", "acme", 403, "auth.forbidden", "\"*\" in a claim grants nothing");
    expect(a, "{}", "acme", 403, "auth.forbidden", "no tenant claim");
    expect(a, "{\"workspace_ids\":[\"acme\"]}", "..", 400, "auth.invalid_tenant", "\"..\" is no tenant");
    char tok[4096];
    mint(tok, HS, "{\"workspace_ids\":[\"acme\"]}", secret);
    arbor_auth_result_t r = check(a, tok, "", ARBOR_AUTH_READ);
    ok(r.status == 0 && strcmp(r.tenant, "acme") == 0, "tenant from the token");
    arbor_auth_close(a);

    arbor_auth_config_t off = {.multitenancy = 1, .algorithms = "HS256"};
    char err[200];
    ok(arbor_auth_open(&off, &a, err, sizeof err) == 0, "auth off, multitenancy on");
    r = check(a, "", "", ARBOR_AUTH_READ);
    ok(r.status == 401 && strcmp(r.code, "auth.missing_tenant") == 0, "no X-Scope-OrgID: 401");
    r = check(a, "ignored", "team-a", ARBOR_AUTH_READ);
    ok(r.status == 0 && strcmp(r.tenant, "team-a") == 0 && strcmp(r.subject, "anonymous") == 0,
       "the header names the tenant");
    arbor_auth_close(a);
    ok(arbor_tenant_valid(ARBOR_IOV("a-b_c.d!*'()9")) && !arbor_tenant_valid(ARBOR_IOV("a b")) &&
           !arbor_tenant_valid(ARBOR_IOV("a/b")) && !arbor_tenant_valid(ARBOR_IOV(".")) &&
           !arbor_tenant_valid(ARBOR_IOV("")),
       "tenant ID characters (Tempo's)");
}

static void test_tokens_file(void)
{
    unsigned char h[32];
    char hex[65], text[1024], path[] = "/tmp/arbor-test-tokens-XXXXXX";
    SHA256((const unsigned char *)"svc-secret-1", 12, h);
    arbor_hex_encode(hex, h, 32);
    snprintf(text, sizeof text, "# collector\n%s acme,beta traces:write,traces:read otel-gw\n\n", hex);
    int fd = mkstemp(path);
    ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "tokens file written");
    close(fd);
    arbor_auth_t *a = open_auth(1, NULL, NULL, "traces:read", path);
    ok(a != NULL, "tokens file read");
    arbor_auth_result_t r = check(a, "svc-secret-1", "beta", ARBOR_AUTH_WRITE);
    ok(r.status == 0 && strcmp(r.tenant, "beta") == 0 && strcmp(r.token_id, "otel-gw") == 0, "service token writes");
    r = check(a, "svc-secret-1", "", ARBOR_AUTH_READ);
    is_int(r.status, 401, "two tenants, no header");
    r = check(a, "svc-secret-2", "beta", ARBOR_AUTH_READ);
    is_int(r.status, 401, "an unlisted token");
    r = check(a, hex, "beta", ARBOR_AUTH_READ);
    is_int(r.status, 401, "the hash itself is no token");

    unsigned char h2[32];
    char hex2[65];
    SHA256((const unsigned char *)"svc-admin", 9, h2);
    arbor_hex_encode(hex2, h2, 32);
    snprintf(text, sizeof text, "%s * - reader\n%s acme * admin\n", hex, hex2);
    fd = open(path, O_WRONLY | O_TRUNC);
    ok(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "tokens file rewritten");
    close(fd);
    char err[256] = "";
    ok(arbor_auth_reload(a, err, sizeof err) == 0, "reload");
    r = check(a, "svc-secret-1", "anyone", ARBOR_AUTH_WRITE);
    ok(r.status == 403 && strcmp(r.code, "auth.forbidden") == 0, "after reload: no scopes, no write");
    r = check(a, "svc-admin", "acme", ARBOR_AUTH_READ);
    arbor_auth_result_t w = check(a, "svc-admin", "acme", ARBOR_AUTH_WRITE);
    ok(r.status == 0 && w.status == 0, "a service token's \"*\" scope reads and writes");
    fd = open(path, O_WRONLY | O_TRUNC);
    ok(write(fd, "zz acme\n", 8) == 8, "broken tokens file");
    close(fd);
    ok(arbor_auth_reload(a, err, sizeof err) != 0 && strstr(err, "line 1") != NULL, "a bad line is named: %s", err);
    r = check(a, "svc-secret-1", "anyone", ARBOR_AUTH_READ);
    is_int(r.status, 403, "a failed reload keeps the previous tokens");
    arbor_auth_close(a);

    token_set_t set;
    ok(tokens_parse("x y z\n", 6, &set, err, sizeof err) != 0, "a short hash is refused");
    snprintf(text, sizeof text, "%s a/b x\n", hex);
    ok(tokens_parse(text, strlen(text), &set, err, sizeof err) != 0, "a bad tenant is refused");
    snprintf(text, sizeof text, "%s a x n extra\n", hex);
    ok(tokens_parse(text, strlen(text), &set, err, sizeof err) != 0, "five fields are refused");
    unlink(path);
}

static void test_jwks_and_b64(void)
{
    unsigned char out[16];
    size_t n;
    ok(b64url_decode("aGk", 3, out, &n) == 0 && n == 2 && memcmp(out, "hi", 2) == 0, "base64url without padding");
    ok(b64url_decode("a+b=", 4, out, &n) != 0, "standard alphabet and padding refused");
    ok(b64url_decode("abcde", 5, out, &n) != 0, "a length of 4n+1 refused");
    jwk_set_t set;
    char err[200];
    ok(jwks_parse("{\"keys\":[]}", 11, &set, err, sizeof err) != 0, "empty JWKS refused");
    ok(jwks_parse("[1]", 3, &set, err, sizeof err) != 0, "not a JWKS");
    const char *small_rsa = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
    ok(jwks_parse(small_rsa, strlen(small_rsa), &set, err, sizeof err) != 0, "a tiny RSA modulus is no key");
    const char *off_curve = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                            "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                            "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}";
    ok(jwks_parse(off_curve, strlen(off_curve), &set, err, sizeof err) != 0, "a point off the curve is no key");
    arbor_auth_config_t bad = {.required = 1, .algorithms = "HS256,none"};
    arbor_auth_t *a;
    ok(arbor_auth_open(&bad, &a, err, sizeof err) != 0 && strstr(err, "none"), "\"none\" cannot be configured");
    arbor_auth_config_t nokeys = {.required = 1, .algorithms = "HS256"};
    ok(arbor_auth_open(&nokeys, &a, err, sizeof err) != 0, "required without any key is a config error");
}

/* PyJWT 2.6 writes EC coordinates as minimal integers (RFC 7518 wants full
 * length): a key whose x starts with a zero byte comes with a 31-byte x. */
static void test_short_ec_coordinate(void)
{
    unsigned char x[32], y[32];
    EVP_PKEY *k = NULL;
    for (int i = 0; i < 20000; i++) {
        EVP_PKEY_free(k);
        k = EVP_EC_gen("P-256");
        BIGNUM *bx = NULL, *by = NULL;
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by);
        int short_x = BN_num_bytes(bx) < 32;
        BN_bn2binpad(bx, x, 32);
        BN_bn2binpad(by, y, 32);
        BN_free(bx);
        BN_free(by);
        if (short_x)
            break;
    }
    ok(x[0] == 0, "found a P-256 key whose x has a leading zero byte");
    char bx[64], by[64], doc[300];
    b64url(x + 1, 31, bx); /* minimal, as PyJWT writes it */
    b64url(y, 32, by);
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", bx, by);
    jwk_set_t set;
    char err[200] = "";
    ok(jwks_parse(doc, strlen(doc), &set, err, sizeof err) == 0 && set.n == 1, "a 31-byte x is the same point: %s", err);
    if (set.keys)
        jwks_free(&set);
    EVP_PKEY_free(k);
}

int main(void)
{
    test_jwt_claims();
    test_expiry_and_messages();
    test_scopes();
    test_tenants();
    test_tokens_file();
    test_jwks_and_b64();
    test_short_ec_coordinate();
    return tap_done();
}
