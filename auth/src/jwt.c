/* JWS compact tokens (RFC 7515/7519): split, decode, pick the key the header's
 * alg allows, let OpenSSL verify, then check the registered claims. The alg
 * decides the key *type* (HS: the secret only; RS/PS: RSA keys; ES: the EC key
 * of that curve), so a public key can never be used as an HMAC secret. */
#include "auth_internal.h"

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <stdlib.h>
#include <string.h>

#define JWT_MAX_BYTES 16384

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *out_len)
{
    if (len % 4 == 1)
        return -1;
    size_t padded = (len + 3) / 4 * 4;
    char *std = malloc(padded + 1);
    if (std == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(std);
            return -1;
        }
        std[i] = c;
    }
    memset(std + len, '=', padded - len);
    int n = padded ? EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded) : 0;
    free(std);
    if (n < 0)
        return -1;
    *out_len = (size_t)n - (padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
    return 0;
}

/* One base64url part holding a JSON object; NULL when it is not one. */
static json_t *decode_json_part(const char *p, size_t len)
{
    unsigned char *buf = malloc(len * 3 / 4 + 3);
    size_t n;
    json_t *obj = NULL;
    if (buf && b64url_decode(p, len, buf, &n) == 0)
        obj = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

static int hmac_ok(const jws_alg_t *alg, const jwt_verifier_t *v, const char *msg, size_t msg_len,
                   const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const EVP_MD *md = EVP_get_digestbyname(alg->digest);
    if (md == NULL || HMAC(md, v->secret, (int)v->secret_len, (const unsigned char *)msg, msg_len, mac, &mac_len) == NULL)
        return 0;
    return mac_len == sig_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

/* JWS carries ES signatures as r | s; OpenSSL verifies DER. */
static unsigned char *es_to_der(const jws_alg_t *alg, const unsigned char *sig, size_t sig_len, size_t *der_len)
{
    if (sig_len != 2 * alg->es_half)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)alg->es_half, NULL), *s = BN_bin2bn(sig + alg->es_half, (int)alg->es_half, NULL);
    unsigned char *der = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, &der);
        *der_len = n > 0 ? (size_t)n : 0;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

static int pkey_ok(const jws_alg_t *alg, EVP_PKEY *pkey, const char *msg, size_t msg_len, const unsigned char *sig,
                   size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    int ok = 0;
    if (alg->family == ALG_ES) {
        if ((der = es_to_der(alg, sig, sig_len, &sig_len)) == NULL)
            goto out;
        sig = der;
    }
    if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, &pctx, alg->digest, NULL, NULL, pkey, NULL) != 1)
        goto out;
    if (alg->family == ALG_PS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto out;
    ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)msg, msg_len) == 1;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* May @p k verify a token of @p alg naming @p kid (NULL: none)? */
static int key_fits(const jwk_t *k, const jws_alg_t *alg, const char *kid)
{
    if (kid && strcmp(k->kid, kid) != 0)
        return 0;
    if (k->alg[0] && strcmp(k->alg, alg->name) != 0)
        return 0;
    if (alg->family == ALG_ES)
        return !k->is_rsa && strcmp(k->curve_alg, alg->name) == 0;
    return k->is_rsa;
}

static jwt_status_t check_signature(const jwt_verifier_t *v, const jws_alg_t *alg, const char *kid, const char *msg,
                                    size_t msg_len, const unsigned char *sig, size_t sig_len)
{
    if (alg->family == ALG_HS) {
        if (v->secret == NULL || v->secret_len == 0)
            return JWT_BAD_ALG;
        return hmac_ok(alg, v, msg, msg_len, sig, sig_len) ? JWT_OK : JWT_BAD_SIG;
    }
    if (v->jwks == NULL)
        return JWT_BAD_ALG;
    int kid_known = kid == NULL;
    for (size_t i = 0; i < v->jwks->n; i++) {
        const jwk_t *k = &v->jwks->keys[i];
        kid_known |= kid != NULL && strcmp(k->kid, kid) == 0;
        if (key_fits(k, alg, kid) && pkey_ok(alg, k->pkey, msg, msg_len, sig, sig_len))
            return JWT_OK;
    }
    return kid_known ? JWT_BAD_SIG : JWT_UNKNOWN_KID;
}

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (s && strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static jwt_status_t check_claims(const jwt_verifier_t *v, json_t *claims, uint64_t now_s)
{
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)))
        return JWT_BAD_TIME;
    if (exp == NULL && !v->allow_no_exp) /* a token that never expires cannot be taken back */
        return JWT_NO_EXP;
    double now = (double)now_s;
    if (exp && !(now <= json_number_value(exp) + (double)v->leeway_s)) /* NaN-safe: NaN fails */
        return JWT_EXPIRED;
    if (nbf && !(now + (double)v->leeway_s >= json_number_value(nbf)))
        return JWT_IMMATURE;
    if (v->issuer && v->issuer[0]) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (iss == NULL || strcmp(iss, v->issuer) != 0)
            return JWT_BAD_ISSUER;
    }
    json_t *aud = json_object_get(claims, "aud");
    if (v->audience == NULL || v->audience[0] == NULL)
        return aud ? JWT_BAD_AUDIENCE : JWT_OK; /* as PyJWT: an aud nobody asked to accept */
    if (json_is_string(aud))
        return in_list(v->audience, json_string_value(aud)) ? JWT_OK : JWT_BAD_AUDIENCE;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) {
        if (in_list(v->audience, json_string_value(item)))
            return JWT_OK;
    }
    return JWT_BAD_AUDIENCE;
}

jwt_status_t jwt_verify(const jwt_verifier_t *v, const char *token, size_t len, uint64_t now_s, json_t **claims)
{
    *claims = NULL;
    if (len > JWT_MAX_BYTES)
        return JWT_MALFORMED;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return JWT_MALFORMED;
    json_t *header = decode_json_part(token, (size_t)(d1 - token));
    json_t *payload = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t sig_b64 = len - (size_t)(d2 + 1 - token), sig_len = 0;
    unsigned char *sig = malloc(sig_b64 * 3 / 4 + 3);
    jwt_status_t st = JWT_MALFORMED;
    if (header == NULL || payload == NULL || sig == NULL || b64url_decode(d2 + 1, sig_b64, sig, &sig_len) != 0 ||
        json_object_get(header, "crit") != NULL) /* no extension is understood here */
        goto out;
    json_t *kid_json = json_object_get(header, "kid");
    if (kid_json && !json_is_string(kid_json))
        goto out;
    const jws_alg_t *alg = jws_alg_find(json_string_value(json_object_get(header, "alg")));
    if (alg == NULL || !in_list(v->algorithms, alg->name)) {
        st = JWT_BAD_ALG;
        goto out;
    }
    st = check_signature(v, alg, json_string_value(kid_json), token, (size_t)(d2 - token), sig, sig_len);
    if (st == JWT_OK && (st = check_claims(v, payload, now_s)) == JWT_OK) {
        *claims = payload;
        payload = NULL;
    }
out:
    free(sig);
    json_decref(header);
    json_decref(payload);
    return st;
}
