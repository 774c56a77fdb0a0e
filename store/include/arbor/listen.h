/**
 * @file listen.h
 * @brief TCP listeners for the daemons (plain sockets; the HTTP stack is the caller's).
 */
#ifndef ARBOR_LISTEN_H
#define ARBOR_LISTEN_H

#include "arbor/config.h"

/**
 * Bind and listen on @p addr (port 0 = ephemeral). With @p reuseport, several
 * sockets may share the port so each event-loop thread accepts on its own.
 * @param[out] bound_port the port actually bound.
 * @return a listening, non-blocking fd, or -errno.
 */
int arbor_listen(const arbor_addr_t *addr, int reuseport, uint16_t *bound_port);

#endif
