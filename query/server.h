/* The arbor-query HTTP server: one h2o event loop, routing, responses. */
#ifndef ARBOR_QUERY_SERVER_H
#define ARBOR_QUERY_SERVER_H

#include "config.h"

/** Run until *stop becomes non-zero (set from a signal handler); re-read the
 *  auth files whenever *reload does (SIGHUP; reset here). Returns exit status. */
int query_server_run(const query_config_t *cfg, volatile int *stop, volatile int *reload);

#endif
