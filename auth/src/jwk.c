/* JWKS: RSA and EC public keys (RFC 7517/7518) into OpenSSL keys. OpenSSL
 * builds and checks the keys; this file only maps JSON members to its params. */
#include "auth_internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const jws_alg_t algs[] = {
    {"HS256", ALG_HS, "SHA256", 0},  {"HS384", ALG_HS, "SHA384", 0},  {"HS512", ALG_HS, "SHA512", 0},
    {"RS256", ALG_RS, "SHA256", 0},  {"RS384", ALG_RS, "SHA384", 0},  {"RS512", ALG_RS, "SHA512", 0},
    {"PS256", ALG_PS, "SHA256", 0},  {"PS384", ALG_PS, "SHA384", 0},  {"PS512", ALG_PS, "SHA512", 0},
    {"ES256", ALG_ES, "SHA256", 32}, {"ES384", ALG_ES, "SHA384", 48}, {"ES512", ALG_ES, "SHA512", 66},
};

const jws_alg_t *jws_alg_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof algs / sizeof algs[0]; i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

/* A base64url member of @p jwk as a big-endian byte string; NULL if absent or bad. */
static unsigned char *member_bytes(json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (s == NULL || s[0] == '\0' || strlen(s) > 4096)
        return NULL;
    unsigned char *out = malloc(strlen(s) * 3 / 4 + 3);
    if (out && b64url_decode(s, strlen(s), out, len) == 0 && *len > 0)
        return out;
    free(out);
    return NULL;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey == NULL)
        return NULL;
    /* a point off its curve, or a degenerate modulus, is no key */
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = check && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
    size_t nl = 0, el = 0;
    unsigned char *n = member_bytes(jwk, "n", &nl), *e = member_bytes(jwk, "e", &el);
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nl, NULL) : NULL, *be = e ? BN_bin2bn(e, (int)el, NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    /* under 2048 bits is refused: such keys are factorable */
    if (bn && be && bld && BN_num_bits(bn) >= 2048 && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = pkey_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk, const char **curve_alg)
{
    static const struct {
        const char *crv, *group, *alg;
        size_t len;
    } curves[] = {{"P-256", "prime256v1", "ES256", 32}, {"P-384", "secp384r1", "ES384", 48},
                  {"P-521", "secp521r1", "ES512", 66}};
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t c = 0;
    while (c < 3 && !(crv && strcmp(crv, curves[c].crv) == 0))
        c++;
    if (c == 3)
        return NULL;
    size_t xl = 0, yl = 0;
    unsigned char *x = member_bytes(jwk, "x", &xl), *y = member_bytes(jwk, "y", &yl);
    EVP_PKEY *pkey = NULL;
    size_t n = curves[c].len;
    /* RFC 7518 wants x and y at full length, but PyJWT 2.6 (Debian's, Orcheo's)
     * writes them as minimal integers: one key in ~128 has a shorter coordinate.
     * Left-padding gives the same point; the on-curve check still decides. */
    if (x && y && xl <= n && yl <= n) {
        unsigned char point[1 + 2 * 66] = {0};
        point[0] = 0x04; /* uncompressed: 04 | x | y (SEC 1) */
        memcpy(point + 1 + n - xl, x, xl);
        memcpy(point + 1 + 2 * n - yl, y, yl);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[c].group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n))
            pkey = pkey_from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
        *curve_alg = curves[c].alg;
    }
    free(x);
    free(y);
    return pkey;
}

/* One JWK, or 0 when it is not a public signing key we can use. */
static int jwk_load(json_t *jwk, jwk_t *out)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    if (kty == NULL || (use && strcmp(use, "sig") != 0) || (alg && jws_alg_find(alg) == NULL))
        return 0;
    memset(out, 0, sizeof *out);
    if (strcmp(kty, "RSA") == 0) {
        out->is_rsa = 1;
        out->pkey = rsa_key(jwk);
    } else if (strcmp(kty, "EC") == 0) {
        out->pkey = ec_key(jwk, &out->curve_alg);
    }
    if (out->pkey == NULL)
        return 0;
    snprintf(out->kid, sizeof out->kid, "%s", kid ? kid : "");
    snprintf(out->alg, sizeof out->alg, "%s", alg ? alg : "");
    return 1;
}

int jwks_parse(const char *json, size_t len, jwk_set_t *out, char *err, size_t errlen)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "not a JWKS document (%s)", doc ? "no \"keys\" array" : jerr.text);
        json_decref(doc);
        return -1;
    }
    out->keys = calloc(json_array_size(keys) + 1, sizeof *out->keys);
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk) {
        if (out->keys && jwk_load(jwk, &out->keys[out->n]))
            out->n++;
    }
    json_decref(doc);
    if (out->n == 0) {
        snprintf(err, errlen, "no usable public signing key (RSA of 2048+ bits, or EC P-256/384/521)");
        jwks_free(out);
        return -1;
    }
    return 0;
}

void jwks_free(jwk_set_t *set)
{
    for (size_t i = 0; set->keys && i < set->n; i++)
        EVP_PKEY_free(set->keys[i].pkey);
    free(set->keys);
    memset(set, 0, sizeof *set);
}
