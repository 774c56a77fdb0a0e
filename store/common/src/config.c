/* The declarative configuration table: environment, flags, validation, help. */
#include "arbor/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "arbor/log.h"

extern char **environ;

static void env_name(const char *name, char *out, size_t len)
{
    size_t i = 0, j = snprintf(out, len, "ARBOR_");
    for (; name[i] && j + 1 < len; i++, j++)
        out[j] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    out[j] = '\0';
}

typedef struct {
    const char *suffix;
    uint64_t mult;
} unit_t;

static int parse_uint_suffix(const char *text, const unit_t *units, size_t n_units, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0]))
        return -1;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || v < 0)
        return -1;
    for (size_t i = 0; i < n_units; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            double r = v * (double)units[i].mult;
            if (r > 1.8e19)
                return -1;
            *out = (uint64_t)r;
            return 0;
        }
    }
    return -1;
}

static const unit_t size_units[] = {
    {"", 1},           {"b", 1},
    {"k", 1000},       {"kb", 1000},
    {"kib", 1ull << 10}, {"m", 1000000},
    {"mb", 1000000},   {"mib", 1ull << 20},
    {"g", 1000000000}, {"gb", 1000000000},
    {"gib", 1ull << 30}, {"t", 1000000000000ull},
    {"tb", 1000000000000ull}, {"tib", 1ull << 40},
};
static const unit_t duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

static int parse_addr(const char *text, arbor_addr_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strcasecmp(text, "off") == 0)
        return 0;
    const char *colon = strrchr(text, ':');
    char *end;
    if (colon == NULL || colon == text || (size_t)(colon - text) >= sizeof a->host) {
        snprintf(err, errlen, "'%s' is not host:port or off", text);
        return -1;
    }
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535) {
        snprintf(err, errlen, "'%s' has an invalid port", text);
        return -1;
    }
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') /* [::1]:4318 */
        h++, hl -= 2;
    memcpy(a->host, h, hl);
    a->host[hl] = '\0';
    a->port = (uint16_t)port;
    a->enabled = 1;
    return 0;
}

static int parse_size_or_duration(const arbor_cfg_entry_t *e, const char *text, uint64_t *out, char *err,
                                  size_t errlen)
{
    uint64_t v;
    int is_size = e->type == ARBOR_CFG_SIZE;
    int rc = is_size ? parse_uint_suffix(text, size_units, sizeof size_units / sizeof size_units[0], &v)
                     : parse_uint_suffix(text, duration_units, sizeof duration_units / sizeof duration_units[0], &v);
    if (rc != 0) {
        snprintf(err, errlen, is_size ? "'%s' is not a size like 64MiB" : "'%s' is not a duration like 30s or 72h",
                 text);
        return -1;
    }
    if (e->max > 0 && (v < (uint64_t)e->min || v > (uint64_t)e->max)) {
        snprintf(err, errlen, "'%s' is out of range: from %" PRId64 "%s to %" PRId64 "%s", text, e->min,
                 is_size ? " bytes" : "ms", e->max, is_size ? " bytes" : "ms");
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_bool(const char *text, int *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return 0;
        }
    }
    snprintf(err, errlen, "'%s' is not true or false", text);
    return -1;
}

static int parse_enum(const arbor_cfg_entry_t *e, const char *text, int *out, char *err, size_t errlen)
{
    for (int i = 0; e->choices[i]; i++) {
        if (strcasecmp(text, e->choices[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    int n = snprintf(err, errlen, "'%s' is not one of:", text);
    for (int i = 0; e->choices[i] && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, " %s", e->choices[i]);
    return -1;
}

static int parse_int(const arbor_cfg_entry_t *e, const char *text, int64_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || (e->max > 0 && (v < e->min || v > e->max))) {
        snprintf(err, errlen, "'%s' is not an integer in [%" PRId64 ", %" PRId64 "]", text, e->min, e->max);
        return -1;
    }
    *out = v;
    return 0;
}

int arbor_config_parse_value(const arbor_cfg_entry_t *e, const char *text, void *dst, char *err, size_t errlen)
{
    switch (e->type) {
    case ARBOR_CFG_STRING:
        *(const char **)dst = text;
        return 0;
    case ARBOR_CFG_ADDR:
        return parse_addr(text, dst, err, errlen);
    case ARBOR_CFG_SIZE:
    case ARBOR_CFG_DURATION:
        return parse_size_or_duration(e, text, dst, err, errlen);
    case ARBOR_CFG_BOOL:
        return parse_bool(text, dst, err, errlen);
    case ARBOR_CFG_ENUM:
        return parse_enum(e, text, dst, err, errlen);
    case ARBOR_CFG_INT:
        return parse_int(e, text, dst, err, errlen);
    }
    return -1;
}

static const char *type_hint(const arbor_cfg_entry_t *e)
{
    static const char *const hints[] = {"string", "host:port|off", "size", "duration", "bool", "enum", "integer"};
    return hints[e->type];
}

static void print_help(const arbor_cfg_table_t *t)
{
    printf("Usage: %s [--flag=value ...]\n%s\n\nSettings (flag, environment variable, default):\n", t->program,
           t->summary);
    for (size_t i = 0; i < t->n_entries; i++) {
        const arbor_cfg_entry_t *e = &t->entries[i];
        char env[128];
        env_name(e->name, env, sizeof env);
        printf("  --%s=<%s>  (%s, default: %s)\n      %s", e->name, type_hint(e), env,
               e->default_value ? e->default_value : "unset", e->help);
        if (e->type == ARBOR_CFG_ENUM) {
            printf(" One of:");
            for (int c = 0; e->choices[c]; c++)
                printf(" %s", e->choices[c]);
            printf(".");
        }
        printf("\n");
    }
    printf("\nOther flags:\n  --help          this text\n  --version       print the version\n"
           "  --check-config  validate the settings, print them and exit\n");
}

void arbor_config_markdown(const arbor_cfg_table_t *t)
{
    printf("### %s\n\n%s\n\n| variable | flag | default | meaning |\n|---|---|---|---|\n", t->program, t->summary);
    for (size_t i = 0; i < t->n_entries; i++) {
        const arbor_cfg_entry_t *e = &t->entries[i];
        char env[128];
        env_name(e->name, env, sizeof env);
        printf("| `%s` | `--%s` | %s%s%s | %s", env, e->name, e->default_value ? "`" : "",
               e->default_value ? e->default_value : "unset", e->default_value ? "`" : "", e->help);
        if (e->type == ARBOR_CFG_ENUM) {
            printf(" One of:");
            for (int c = 0; e->choices[c]; c++)
                printf(" `%s`", e->choices[c]);
            printf(".");
        }
        printf(" |\n");
    }
    printf("\n");
}

void arbor_addr_format(const arbor_addr_t *a, char *out, size_t len)
{
    if (!a->enabled)
        snprintf(out, len, "off");
    else if (strchr(a->host, ':'))
        snprintf(out, len, "[%s]:%u", a->host, a->port);
    else
        snprintf(out, len, "%s:%u", a->host, a->port);
}

/* Each setting as it will be used, one "ARBOR_NAME=value" line each. */
static void print_settings(const arbor_cfg_table_t *t, const void *cfg)
{
    for (size_t i = 0; i < t->n_entries; i++) {
        const arbor_cfg_entry_t *e = &t->entries[i];
        const char *p = (const char *)cfg + e->offset;
        char env[128], addr[160];
        env_name(e->name, env, sizeof env);
        printf("%s=", env);
        switch (e->type) {
        case ARBOR_CFG_STRING:
            printf("%s\n", *(const char *const *)p ? *(const char *const *)p : "");
            break;
        case ARBOR_CFG_ADDR:
            arbor_addr_format((const arbor_addr_t *)p, addr, sizeof addr);
            printf("%s\n", addr);
            break;
        case ARBOR_CFG_SIZE:
            printf("%" PRIu64 "B\n", *(const uint64_t *)p);
            break;
        case ARBOR_CFG_DURATION:
            printf("%" PRIu64 "ms\n", *(const uint64_t *)p);
            break;
        case ARBOR_CFG_BOOL:
            printf("%s\n", *(const int *)p ? "true" : "false");
            break;
        case ARBOR_CFG_ENUM:
            printf("%s\n", e->choices[*(const int *)p]);
            break;
        case ARBOR_CFG_INT:
            printf("%" PRId64 "\n", *(const int64_t *)p);
            break;
        }
    }
}

/* Levenshtein distance, for "did you mean" (names are short). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[128];
    if (la >= sizeof row / sizeof row[0] || lb >= sizeof row / sizeof row[0])
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* An ARBOR_* variable that is not a setting of this binary but close to one is
 * most likely a typo that would silently be ignored. (Far ones are left alone:
 * they may belong to the other daemon, sharing one environment file.) */
static void warn_unknown_env(const arbor_cfg_table_t *t)
{
    for (char **v = environ; v != NULL && *v != NULL; v++) {
        const char *eq = strchr(*v, '=');
        char name[128], env[128], best[128] = "";
        size_t best_d = SIZE_MAX;
        if (strncmp(*v, "ARBOR_", 6) != 0 || eq == NULL || (size_t)(eq - *v) >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(eq - *v), *v);
        for (size_t i = 0; i < t->n_entries && best_d > 0; i++) {
            env_name(t->entries[i].name, env, sizeof env);
            size_t d = edit_distance(name, env);
            if (d < best_d)
                best_d = d, snprintf(best, sizeof best, "%s", env);
        }
        if (best_d > 0 && best_d <= 3)
            arbor_warn("unknown_setting", "program=%s variable=%s closest=%s action=ignored", t->program, name, best);
    }
}

/* The directory @p path names ("." for a bare name), into @p out. */
static void parent_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    while (slash != NULL && slash > out && slash[1] == '\0') { /* "a/b/" */
        *slash = '\0';
        slash = strrchr(out, '/');
    }
    if (slash == NULL)
        snprintf(out, len, ".");
    else if (slash == out)
        out[1] = '\0'; /* "/data" */
    else
        *slash = '\0';
}

int arbor_config_check_dir(const char *setting, const char *path, int creates, char *err, size_t errlen)
{
    struct stat st;
    char parent[4096];
    if (path == NULL)
        return 0;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: '%s' exists and is not a directory", setting, path);
            return -1;
        }
        /* LMDB writes lock.mdb even to read */
        if (faccessat(AT_FDCWD, path, R_OK | W_OK | X_OK, AT_EACCESS) != 0) {
            snprintf(err, errlen, "%s: '%s' cannot be %s by this user: %s", setting, path,
                     creates ? "written" : "read", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) { /* under a regular file, behind a directory this user may not enter, ... */
        snprintf(err, errlen, "%s: '%s' cannot be reached: %s", setting, path, strerror(errno));
        return -1;
    }
    if (!creates) /* the collector creates it: the query waits */
        return 0;
    parent_of(path, parent, sizeof parent);
    int why = 0;
    if (stat(parent, &st) != 0)
        why = errno;
    else if (!S_ISDIR(st.st_mode))
        why = ENOTDIR;
    else if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) != 0)
        why = errno;
    if (why != 0)
        snprintf(err, errlen, "%s: '%s' cannot be created: '%s': %s", setting, path, parent,
                 why == ENOENT ? "does not exist (only the last directory is created)" : strerror(why));
    return why != 0 ? -1 : 0;
}

int arbor_config_check_mappable(const char *setting, uint64_t bytes, char *err, size_t errlen)
{
    /* reserve the address space as LMDB will (nothing is committed), then let go */
    void *p = bytes <= SIZE_MAX ? mmap(NULL, (size_t)bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                                : MAP_FAILED;
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: this machine cannot map %" PRIu64 " bytes (%s); lower it", setting, bytes,
                 strerror(errno));
        return -1;
    }
    munmap(p, (size_t)bytes);
    return 0;
}

static int apply(const arbor_cfg_table_t *t, const arbor_cfg_entry_t *e, void *cfg, const char *text,
                 const char *source)
{
    char err[256];
    if (arbor_config_parse_value(e, text, (char *)cfg + e->offset, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "%s: invalid %s: %s\n", t->program, source, err);
    return -1;
}

arbor_cfg_result_t arbor_config_parse(const arbor_cfg_table_t *t, void *cfg, int argc, char **argv)
{
    int check = 0;
    char env[128], src[200];
    memset(cfg, 0, t->size);
    warn_unknown_env(t);
    /* defaults, then environment, then flags: later sources win */
    for (size_t i = 0; i < t->n_entries; i++) {
        const arbor_cfg_entry_t *e = &t->entries[i];
        env_name(e->name, env, sizeof env);
        if (e->default_value) {
            snprintf(src, sizeof src, "default for %s", env);
            if (apply(t, e, cfg, e->default_value, src) != 0)
                return ARBOR_CFG_EXIT_FAIL;
        }
        const char *v = getenv(env);
        if (v != NULL) {
            snprintf(src, sizeof src, "%s", env);
            if (apply(t, e, cfg, v, src) != 0)
                return ARBOR_CFG_EXIT_FAIL;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(t);
            return ARBOR_CFG_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", t->program, ARBOR_VERSION);
            return ARBOR_CFG_EXIT_OK;
        }
        if (strcmp(a, "--config-markdown") == 0) {
            arbor_config_markdown(t);
            return ARBOR_CFG_EXIT_OK;
        }
        if (strcmp(a, "--check-config") == 0) {
            check = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", t->program, a);
            return ARBOR_CFG_EXIT_FAIL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const arbor_cfg_entry_t *e = NULL;
        for (size_t j = 0; j < t->n_entries; j++)
            if (strlen(t->entries[j].name) == nl && strncmp(t->entries[j].name, name, nl) == 0)
                e = &t->entries[j];
        if (e == NULL) {
            fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", t->program, a);
            return ARBOR_CFG_EXIT_FAIL;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: flag --%s needs a value\n", t->program, e->name);
                return ARBOR_CFG_EXIT_FAIL;
            }
            value = argv[++i];
        }
        snprintf(src, sizeof src, "--%s", e->name);
        if (apply(t, e, cfg, value, src) != 0)
            return ARBOR_CFG_EXIT_FAIL;
    }
    char err[512] = "";
    if (t->validate != NULL && t->validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s: invalid configuration: %s\n", t->program, err);
        return ARBOR_CFG_EXIT_FAIL;
    }
    if (check) {
        print_settings(t, cfg);
        printf("%s: configuration is valid\n", t->program);
        return ARBOR_CFG_EXIT_OK;
    }
    return ARBOR_CFG_RUN;
}
