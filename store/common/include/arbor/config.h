/**
 * @file config.h
 * @brief One declarative table per binary drives environment parsing, flags,
 *        validation, --help, --check-config and the docs/configuration.md text.
 *
 * Every entry "foo-bar" is read from ARBOR_FOO_BAR and --foo-bar=VALUE
 * (or --foo-bar VALUE); the flag wins. Values are parsed into the binary's
 * config struct at the entry's offset.
 */
#ifndef ARBOR_CONFIG_H
#define ARBOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ARBOR_CFG_STRING,   /**< const char * (points into argv/environ or the default) */
    ARBOR_CFG_ADDR,     /**< arbor_addr_t: host:port or "off" */
    ARBOR_CFG_SIZE,     /**< uint64_t bytes: 512, 64KiB, 16GiB, 1MB */
    ARBOR_CFG_DURATION, /**< uint64_t milliseconds: 500ms, 30s, 5m, 72h, 7d */
    ARBOR_CFG_BOOL,     /**< int: true/false/1/0/yes/no/on/off */
    ARBOR_CFG_ENUM,     /**< int: index into choices */
    ARBOR_CFG_INT,      /**< int64_t within [min, max] */
} arbor_cfg_type_t;

typedef struct {
    int enabled;
    char host[128];
    uint16_t port; /**< 0 = ephemeral (the bound port is logged) */
} arbor_addr_t;

typedef struct {
    const char *name; /**< kebab-case; env var is ARBOR_ + upper snake case */
    arbor_cfg_type_t type;
    const char *default_value; /**< NULL = unset */
    size_t offset;
    const char *help;
    const char *const *choices; /**< ENUM: NULL-terminated */
    int64_t min, max;           /**< INT/SIZE/DURATION bounds when max > 0 */
} arbor_cfg_entry_t;

typedef enum {
    ARBOR_CFG_RUN = 0,   /**< start the program */
    ARBOR_CFG_EXIT_OK,   /**< --help / --version / --check-config done */
    ARBOR_CFG_EXIT_FAIL, /**< invalid configuration (message printed) */
} arbor_cfg_result_t;

typedef struct {
    const char *program; /**< "arbor-collector" */
    const char *summary; /**< one line for --help */
    const arbor_cfg_entry_t *entries;
    size_t n_entries;
    size_t size; /**< sizeof the binary's config struct: zeroed before parsing */
    /** Checks across settings and against the machine, after parsing (NULL: none):
     *  0, or -1 with @p err naming the setting and what is allowed. */
    int (*validate)(const void *cfg, char *err, size_t errlen);
} arbor_cfg_table_t;

/**
 * Parse env + argv into @p cfg (zeroed first). Prints help/version/errors itself;
 * warns about ARBOR_* variables that look like a misspelled setting;
 * --check-config validates, prints every setting and exits.
 */
arbor_cfg_result_t arbor_config_parse(const arbor_cfg_table_t *t, void *cfg, int argc, char **argv);

/** Print the table as Markdown (the docs/configuration.md section of this binary). */
void arbor_config_markdown(const arbor_cfg_table_t *t);

/** Parse one value of @p type (exposed for tests); 0 or -1 with @p err filled. */
int arbor_config_parse_value(const arbor_cfg_entry_t *e, const char *text, void *dst, char *err, size_t errlen);

/** For validate(): -1 with @p err unless @p path is a directory this user may
 *  read and write (LMDB's lock file), or is missing and can be: created (@p creates:
 *  its parent exists and is writable) or, for a reader, waited for (it can still
 *  appear: nothing in the way, such as a regular file or a closed directory). */
int arbor_config_check_dir(const char *setting, const char *path, int creates, char *err, size_t errlen);
/** For validate(): -1 with @p err when this process cannot map @p bytes of address space. */
int arbor_config_check_mappable(const char *setting, uint64_t bytes, char *err, size_t errlen);

/** Format an address as host:port into @p out. */
void arbor_addr_format(const arbor_addr_t *a, char *out, size_t len);

#endif
