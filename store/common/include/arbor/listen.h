/**
 * @file listen.h
 * @brief TCP listeners for the daemons (plain sockets; the HTTP stack is the caller's).
 */
#ifndef ARBOR_LISTEN_H
#define ARBOR_LISTEN_H

#include "arbor/config.h"

/**
 * Bind and listen on @p addr (port 0 = ephemeral). The port is this process's
 * alone (no SO_REUSEPORT): a port in use is -EADDRINUSE. Threads of one process
 * share the listener through dup().
 * @param[out] bound_port the port actually bound.
 * @return a listening, non-blocking fd, or -errno.
 */
int arbor_listen(const arbor_addr_t *addr, uint16_t *bound_port);

/** Raise this process's soft limit on open files to its hard limit (connections
 *  are files). @return the limit now in force. */
uint64_t arbor_raise_fd_limit(void);

#endif
