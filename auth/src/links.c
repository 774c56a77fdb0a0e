/* Signed artifact links: an HMAC-SHA256 over the tenant, the artifact ID and
 * the expiry, so a plain browser navigation (no bearer header) can be checked. */
#include "arbor/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mac(const char *secret, arbor_iov_t tenant, arbor_iov_t id, uint64_t exp_s, unsigned char out[32])
{
    char head[32];
    unsigned int len = 0;
    int n = snprintf(head, sizeof head, "\n%llu", (unsigned long long)exp_s);
    size_t total = tenant.len + 1 + id.len + (size_t)n, at = 0;
    unsigned char *msg = arbor_xmalloc(total);
    memcpy(msg + at, tenant.base, tenant.len);
    at += tenant.len;
    msg[at++] = '\n';
    memcpy(msg + at, id.base, id.len);
    at += id.len;
    memcpy(msg + at, head, (size_t)n);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, out, &len);
    free(msg);
}

void arbor_link_sign(const char *secret, arbor_iov_t tenant, arbor_iov_t id, uint64_t exp_s, char out[65])
{
    unsigned char m[32];
    mac(secret, tenant, id, exp_s, m);
    arbor_hex_encode(out, m, 32);
}

int arbor_link_check(const char *secret, arbor_iov_t tenant, arbor_iov_t id, uint64_t exp_s, arbor_iov_t sig,
                     uint64_t now_s)
{
    unsigned char want[32], got[32];
    if (sig.len != 64 || arbor_hex_decode(got, 32, sig.base, sig.len) != 0)
        return -1;
    mac(secret, tenant, id, exp_s, want);
    if (CRYPTO_memcmp(want, got, 32) != 0)
        return -1;
    return now_s <= exp_s ? 0 : -2;
}
