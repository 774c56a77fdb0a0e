/* Service tokens: the file lists SHA-256 hashes, never tokens, so reading it
 * (or a backup of it) gives no credential away. */
#include "auth_internal.h"

#include "arbor/base.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_FILE_MAX (4u << 20)

char *auth_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(AUTH_FILE_MAX + 1) : NULL;
    size_t n = buf ? fread(buf, 1, AUTH_FILE_MAX + 1, f) : 0;
    int bad = f == NULL || buf == NULL || ferror(f) || n > AUTH_FILE_MAX;
    if (f)
        fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void token_free(service_token_t *t)
{
    free(t->tenants);
    free(t->scopes);
}

/* One "hash tenants scopes [name]" line into @p t; 0 or -1 with @p why. */
static int parse_line(char *line, service_token_t *t, const char **why)
{
    char *save = NULL, *hash = strtok_r(line, " \t", &save), *tenants = strtok_r(NULL, " \t", &save);
    char *scopes = strtok_r(NULL, " \t", &save), *name = strtok_r(NULL, " \t", &save);
    if (scopes == NULL || strtok_r(NULL, " \t", &save) != NULL) {
        *why = "want `<sha256 hex> <tenants> <scopes> [name]`";
        return -1;
    }
    if (strlen(hash) != 64 || arbor_hex_decode(t->sha256, 32, hash, 64) != 0) {
        *why = "the first field is not 64 hex digits (a SHA-256 of the token, not the token)";
        return -1;
    }
    t->tenants = arbor_split_list(tenants, ",");
    t->scopes = arbor_split_list(strcmp(scopes, "-") == 0 ? "" : scopes, ",");
    for (char **p = t->tenants; p && *p; p++)
        if (strcmp(*p, "*") != 0 && !arbor_tenant_valid(arbor_iov(*p, strlen(*p)))) {
            *why = "a tenant is not a valid tenant ID";
            return -1;
        }
    snprintf(t->name, sizeof t->name, "%s", name ? name : "service-token");
    return 0;
}

int tokens_parse(const char *text, size_t len, token_set_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    size_t lines = 1, line_no = 0;
    for (size_t i = 0; i < len; i++)
        lines += copy[i] == '\n';
    out->tokens = calloc(lines, sizeof *out->tokens);
    char *save = NULL;
    int rc = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && rc == 0 && out->tokens; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        line[strcspn(line, "#\r")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        const char *why = NULL;
        service_token_t *t = &out->tokens[out->n];
        if (parse_line(line, t, &why) != 0) {
            token_free(t);
            snprintf(err, errlen, "line %zu: %s", line_no, why);
            rc = -1;
        } else {
            out->n++;
        }
    }
    free(copy);
    if (rc != 0 || out->tokens == NULL)
        tokens_free(out);
    return out->tokens ? 0 : -1;
}

void tokens_free(token_set_t *set)
{
    for (size_t i = 0; set->tokens && i < set->n; i++)
        token_free(&set->tokens[i]);
    free(set->tokens);
    memset(set, 0, sizeof *set);
}

const service_token_t *tokens_find(const token_set_t *set, const char *token, size_t len)
{
    unsigned char h[32];
    SHA256((const unsigned char *)token, len, h);
    const service_token_t *found = NULL;
    for (size_t i = 0; i < set->n; i++) /* every entry, whether or not one matched */
        if (CRYPTO_memcmp(h, set->tokens[i].sha256, 32) == 0)
            found = &set->tokens[i];
    return found;
}
