/* libFuzzer target: the auth library's parsers (auth/src). The first byte picks
 * one: a JWT checked against an HS secret and a real RSA + P-256 JWKS, a JWKS
 * document, a service-tokens file, or a claims object read for scopes and
 * tenants. Never a crash, a leak, an over-read, or a token accepted that no key
 * signed (a random token verifying would abort). */
#include "../../auth/src/auth.c"
#include "../../auth/src/jwk.c"
#include "../../auth/src/jwt.c"
#include "../../auth/src/tokens.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char jwks_text[] = "{\"keys\": [{\"kty\": \"RSA\", \"key_ops\": [\"verify\"], \"n\": \"53N51NEQVAcfDzCQj4qqTfmT6A3nfnUOvH_JLkzUSsFbFqrcMInYwimUpIsrkj23jJA4XIIFiuuND6Ou7NwLJYApr8j9_svWrwUEW9o-vzXAs8XQMw0ZR3AJzjnbA-0NLtHmG_2zWREXmVNte6SZ9UOgUSrWONlFzF5HifW-13NSsMQpWBiIf-N0u2WzStc7F1MDJWQbYIrmVK5CU16E-oFWwqBmlmvKiPmdNSpC-Lj93MJaYBqkaYiJjSNfHovlzuozDFXmdIJylhGD4LzIa3--Gvqr41YocCyGKJVHlcYcUqFVXUGqFzB-WZIzmRICRLDOyRzmBx2F81wO75ffyQ\", \"e\": \"AQAB\", \"kid\": \"rsa-1\", \"use\": \"sig\"}, {\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"exJSxI-BwUZpSo7K466tUjmBOd7mrvDk1EemjfIeZfs\", \"y\": \"fq1Yg8dUD_6gkZUQSgabVxlMqV8wRddc1PgRcQvzDfw\", \"kid\": \"ec-1\", \"use\": \"sig\"}]}";
static const char *const fuzz_algs[] = {"HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "ES384", "ES512", NULL};

static void fuzz_jwt(const char *s, size_t n)
{
    static jwk_set_t set;
    static int loaded;
    char err[256];
    if (!loaded && jwks_parse(jwks_text, sizeof jwks_text - 1, &set, err, sizeof err) == 0)
        loaded = 1;
    const char *aud[] = {"arbor", NULL};
    jwt_verifier_t v = {"fuzz-secret", 11, &set, fuzz_algs, NULL, aud, 60, (int)(n & 1)};
    json_t *claims = NULL;
    if (jwt_verify(&v, s, n, 1800000000u, &claims) == JWT_OK)
        abort(); /* nothing here was signed with these keys */
    json_decref(claims);
}

static void fuzz_claims(const char *s, size_t n)
{
    static arbor_auth_t *a;
    char err[256];
    if (a == NULL) {
        arbor_auth_config_t cfg = {.required = 1, .multitenancy = 1, .jwt_secret = "fuzz-secret", .algorithms = "HS256",
                                   .read_scopes = "traces:read", .tenant_claim = "org.ids"};
        if (arbor_auth_open(&cfg, &a, err, sizeof err) != 0)
            abort();
    }
    json_t *claims = json_loadb(s, n, 0, NULL);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return;
    }
    arbor_auth_result_t out;
    memset(&out, 0, sizeof out);
    check_jwt_claims(a, claims, n > 3 ? arbor_iov(s, 3) : ARBOR_IOV_NULL, ARBOR_AUTH_READ, &out);
    json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = malloc(size); /* exactly sized: ASan sees any over-read */
    memcpy(s, data + 1, size - 1);
    size_t n = size - 1;
    char err[256];
    switch (data[0] % 4) {
    case 0:
        fuzz_jwt(s, n);
        break;
    case 1: {
        jwk_set_t set;
        if (jwks_parse(s, n, &set, err, sizeof err) == 0)
            jwks_free(&set);
        break;
    }
    case 2: {
        token_set_t set;
        if (tokens_parse(s, n, &set, err, sizeof err) == 0) {
            tokens_find(&set, s, n);
            tokens_free(&set);
        }
        break;
    }
    default:
        fuzz_claims(s, n);
    }
    free(s);
    return 0;
}
