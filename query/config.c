#include "config.h"

#include "arbor/log.h"

#include <stddef.h>

#define F(field) offsetof(query_config_t, field)
static const arbor_cfg_entry_t entries[] = {
    {"data-dir", ARBOR_CFG_STRING, "./data", F(data_dir),
     "LMDB environment directory written by arbor-collector (opened read-only).", NULL, 0, 0},
    {"query-addr", ARBOR_CFG_ADDR, "127.0.0.1:3200", F(query_addr), "Query API listener.", NULL, 0, 0},
    {"map-size", ARBOR_CFG_SIZE, "16GiB", F(map_size), "LMDB map size (at least the collector's).", NULL,
     1 << 20, INT64_MAX},
    {"log-level", ARBOR_CFG_ENUM, "info", F(log_level), "Log verbosity.", arbor_log_level_names, 0, 0},
};

const arbor_cfg_table_t query_config_table = {
    "arbor-query", "Serves span trees and trace lookups from the store arbor-collector writes.", entries,
    sizeof entries / sizeof entries[0]};
