/* arbor-admin: stat, check, backup and compact an Arbor store, list its tenants
 * and delete one. Opens the store read-only, so it is safe while the collector
 * runs, except delete-tenant, which writes and so needs the collector stopped
 * (one writer per data directory). */
#include "arbor/config.h"
#include "arbor/store.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *data_dir;
    uint64_t map_size;
    const char *tenant;
} admin_config_t;

static const arbor_cfg_entry_t admin_entries[] = {
    {"data-dir", ARBOR_CFG_STRING, "./data", offsetof(admin_config_t, data_dir),
     "LMDB environment directory.", NULL, 0, 0},
    {"map-size", ARBOR_CFG_SIZE, "16GiB", offsetof(admin_config_t, map_size),
     "LMDB map size (must be at least the collector's).", NULL, 1 << 20, INT64_MAX},
    {"tenant", ARBOR_CFG_STRING, NULL, offsetof(admin_config_t, tenant),
     "`stat` of one tenant: its traces, spans, executions, stored bytes and time range.", NULL, 0, 0},
};
static const arbor_cfg_table_t admin_table = {
    "arbor-admin",
    "Inspect and maintain an Arbor store: arbor-admin [flags] stat | check | tenants | backup DIR | compact DIR | "
    "delete-tenant NAME",
    admin_entries, sizeof admin_entries / sizeof admin_entries[0], sizeof(admin_config_t), NULL};

static void report(void *ctx, const char *problem)
{
    (void)ctx;
    printf("problem: %s\n", problem);
}

static int cmd_stat(arbor_store_t *st)
{
    arbor_store_stat_t s;
    int rc = arbor_store_stat(st, &s);
    if (rc)
        return rc;
    printf("file_bytes %llu\nmap_bytes %llu\nlast_seq %llu\nlast_txn %llu\nreaders %u/%u\n",
           (unsigned long long)s.file_bytes, (unsigned long long)s.map_bytes, (unsigned long long)s.last_seq,
           (unsigned long long)s.last_txn, s.readers_used, s.readers_max);
    for (size_t i = 0; i < s.n_indexes; i++)
        printf("index %-10s entries %-10llu bytes %-12llu depth %u\n", s.indexes[i].name,
               (unsigned long long)s.indexes[i].entries, (unsigned long long)s.indexes[i].bytes,
               s.indexes[i].depth);
    return 0;
}

static int tenant_stat(arbor_store_t *st, const char *tenant)
{
    arbor_tenant_stat_t t;
    int rc = arbor_store_tenant_stat(st, arbor_iov(tenant, strlen(tenant)), &t);
    if (rc == 0)
        printf("tenant %s exists %d traces %llu spans %llu executions %llu stored_bytes %llu oldest_start_ns %llu "
               "newest_end_ns %llu\n",
               tenant, t.exists, (unsigned long long)t.traces, (unsigned long long)t.spans,
               (unsigned long long)t.executions, (unsigned long long)t.stored_bytes,
               (unsigned long long)t.oldest_start_ns, (unsigned long long)t.newest_end_ns);
    return rc;
}

static int print_tenant(void *ctx, arbor_iov_t name)
{
    char copy[300];
    snprintf(copy, sizeof copy, "%.*s", (int)name.len, name.base);
    return tenant_stat(ctx, copy);
}

/* Deleting writes: the store opens as the writer, so a running collector (which
 * holds the writer lock) makes this fail cleanly instead of racing it. */
static int delete_tenant(const admin_config_t *cfg, const char *tenant)
{
    arbor_store_t *st;
    arbor_store_options_t opts = {.path = cfg->data_dir, .map_size = cfg->map_size};
    int rc = arbor_store_open(&opts, &st), more = 1;
    if (rc == ARBOR_ELOCKED) {
        fprintf(stderr, "arbor-admin: stop arbor-collector first: pid %ld holds the writer lock of %s\n",
                arbor_store_writer_pid(cfg->data_dir), cfg->data_dir);
        return 1;
    }
    uint64_t total = 0, n;
    while (rc == 0 && more) {
        rc = arbor_store_delete_tenant(st, arbor_iov(tenant, strlen(tenant)), 100000, &more, &n);
        total += n;
    }
    if (rc == 0)
        printf("delete-tenant %s: %llu keys deleted\n", tenant, (unsigned long long)total);
    else
        fprintf(stderr, "arbor-admin: delete-tenant failed: %s\n", arbor_strerror(rc));
    if (st != NULL)
        arbor_store_close(st);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    admin_config_t cfg;
    /* split: flags go to the config table, the first bare word is the command */
    char *flags[64];
    int nflags = 0;
    const char *cmd = NULL, *arg = NULL;
    for (int i = 0; i < argc && nflags < 64; i++) {
        if (i > 0 && argv[i][0] != '-' && (i < 2 || strchr(argv[i - 1], '=') || argv[i - 1][0] != '-' ||
                                          strcmp(argv[i - 1], "--check-config") == 0)) {
            if (cmd == NULL)
                cmd = argv[i];
            else if (arg == NULL)
                arg = argv[i];
            continue;
        }
        flags[nflags++] = argv[i];
    }
    arbor_cfg_result_t r = arbor_config_parse(&admin_table, &cfg, nflags, flags);
    if (r != ARBOR_CFG_RUN)
        return r == ARBOR_CFG_EXIT_OK ? 0 : 2;
    if (cmd == NULL) {
        fprintf(stderr, "arbor-admin: missing command (stat, check, tenants, backup DIR, compact DIR, "
                        "delete-tenant NAME)\n");
        return 2;
    }
    if (strcmp(cmd, "delete-tenant") == 0) {
        if (arg == NULL) {
            fprintf(stderr, "arbor-admin: delete-tenant needs the tenant's name\n");
            return 2;
        }
        return delete_tenant(&cfg, arg);
    }
    int is_copy = strcmp(cmd, "backup") == 0 || strcmp(cmd, "compact") == 0;
    if (!is_copy && strcmp(cmd, "stat") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "tenants") != 0) {
        fprintf(stderr, "arbor-admin: unknown command '%s'\n", cmd);
        return 2;
    }
    if (is_copy && arg == NULL) {
        fprintf(stderr, "arbor-admin: %s needs a target directory\n", cmd);
        return 2;
    }
    arbor_store_t *st;
    arbor_store_options_t opts = {.path = cfg.data_dir, .map_size = cfg.map_size, .read_only = 1};
    int rc = arbor_store_open(&opts, &st);
    if (rc) {
        fprintf(stderr, "arbor-admin: cannot open %s: %s\n", cfg.data_dir, arbor_strerror(rc));
        return 1;
    }
    int status = 0;
    if (strcmp(cmd, "stat") == 0) {
        rc = cfg.tenant ? tenant_stat(st, cfg.tenant) : cmd_stat(st);
    } else if (strcmp(cmd, "tenants") == 0) {
        rc = arbor_store_tenants(st, print_tenant, st);
    } else if (strcmp(cmd, "check") == 0) {
        uint64_t problems = 0;
        rc = arbor_store_check(st, report, NULL, &problems);
        if (rc == 0) {
            printf("check: %llu problems\n", (unsigned long long)problems);
            status = problems ? 1 : 0;
        }
    } else {
        rc = arbor_store_backup(st, arg, strcmp(cmd, "compact") == 0);
        if (rc == 0)
            printf("%s: copied to %s\n", cmd, arg);
    }
    if (rc) {
        fprintf(stderr, "arbor-admin: %s failed: %s\n", cmd, arbor_strerror(rc));
        status = 1;
    }
    arbor_store_close(st);
    return status;
}
