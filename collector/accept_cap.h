/* A TCP acceptor with a connection cap, for a server that cannot bound its own
 * connections: gRPC C core 1.51 has no such setting, and its listener stops for
 * good at the first failed accept (EMFILE), so connections it never closes could
 * end all ingest. This thread accepts instead and hands each connection over
 * (grpc_server_add_channel_from_fd), keeping a dup of it to see when the
 * connection ends (the server shuts the socket down before closing it).
 *
 * At the cap, a new connection closes (shutdown) the one that has received
 * nothing for the longest (TCP_INFO, and no longer than it has been accepted), so
 * idle connections can never lock clients out. When descriptors run out,
 * accepting pauses briefly: the server gives back those of closed connections. */
#ifndef ARBOR_COLLECTOR_ACCEPT_CAP_H
#define ARBOR_COLLECTOR_ACCEPT_CAP_H

#include <stddef.h>

typedef struct accept_cap accept_cap_t;

/** Takes @p fd, a connected socket, for good. */
typedef void (*accept_cap_hand_fn)(void *arg, int fd);

/** Accept on @p listen_fd (non-blocking; taken, closed by stop) on a thread of its
 *  own, at most @p max_connections open at once. 0 or errno. */
int accept_cap_start(int listen_fd, size_t max_connections, accept_cap_hand_fn hand, void *arg, accept_cap_t **out);
/** Stop accepting and join the thread; the connections handed over stay open. */
void accept_cap_stop(accept_cap_t *a);
/** Connections open now (handed over and not yet closed). */
size_t accept_cap_open(accept_cap_t *a);

#endif
