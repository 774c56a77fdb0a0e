/* A TCP acceptor with a connection cap: see accept_cap.h. One thread, one epoll
 * set: the listener, a stop eventfd, and a dup of every connection handed over,
 * watched for nothing but the hang-up the server's shutdown(2) gives it. */
#include "accept_cap.h"

#include "arbor/base.h"
#include "arbor/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define EV_LISTEN 0
#define EV_STOP 1
#define EV_CONN 2          /* + the connection's slot */
#define PAUSE_NS 100000000 /* out of slots or descriptors: wait this long before accepting again */
#define LOG_EVERY_NS 60000000000ull

struct accept_cap {
    int listen_fd, epfd, stop_fd;
    size_t max;     /* the cap */
    size_t open;    /* connections counted against it */
    size_t n_slots; /* twice the cap: a closed connection holds its slot until its hang-up is seen */
    size_t used;
    int *fds;       /* per slot: the dup, or -1 */
    char *evicted;  /* per slot: closed by us, no longer counted */
    uint64_t *accepted_ns; /* per slot: when we took it */
    int listening;  /* the listener is in the epoll set's interest */
    uint64_t paused_until_ns;
    uint64_t evict_logged_ns, pause_logged_ns; /* each logged once a minute at most */
    accept_cap_hand_fn hand;
    void *arg;
    pthread_t tid;
    int running; /* tid is a thread to join */
};

static void watch_listener(accept_cap_t *a, int on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u64 = EV_LISTEN};
    if (a->listening != on && epoll_ctl(a->epfd, EPOLL_CTL_MOD, a->listen_fd, &ev) == 0)
        a->listening = on;
}

/* The server is done with the connection in @p slot. */
static void release(accept_cap_t *a, size_t slot)
{
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->fds[slot], NULL);
    close(a->fds[slot]);
    a->fds[slot] = -1;
    if (!a->evicted[slot])
        __atomic_sub_fetch(&a->open, 1, __ATOMIC_RELAXED);
    a->evicted[slot] = 0;
    a->used--;
}

/* Milliseconds the connection in @p slot has been idle: since it last received
 * data, but no longer than we have had it (a connection that waited in the
 * kernel's queue got its data before the server could read any of it). */
static uint64_t idle_ms(const accept_cap_t *a, size_t slot, uint64_t now)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    uint64_t held = (now - a->accepted_ns[slot]) / 1000000;
    if (getsockopt(a->fds[slot], IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return 0;
    return ti.tcpi_last_data_recv < held ? ti.tcpi_last_data_recv : held;
}

/* Close the counted connection that has received nothing for the longest: the
 * server sees the shutdown and lets it go. -1 when there is none. */
static int evict_idlest(accept_cap_t *a)
{
    size_t victim = SIZE_MAX;
    uint64_t longest = 0, now = arbor_mono_ns();
    for (size_t i = 0; i < a->n_slots; i++) {
        if (a->fds[i] < 0 || a->evicted[i])
            continue;
        uint64_t idle = idle_ms(a, i, now);
        if (victim == SIZE_MAX || idle > longest)
            victim = i, longest = idle;
    }
    if (victim == SIZE_MAX)
        return -1;
    shutdown(a->fds[victim], SHUT_RDWR);
    a->evicted[victim] = 1;
    __atomic_sub_fetch(&a->open, 1, __ATOMIC_RELAXED);
    if (a->evict_logged_ns == 0 || now - a->evict_logged_ns >= LOG_EVERY_NS) {
        arbor_warn("connection_closed", "proto=otlp_grpc reason=connection_cap max_connections=%zu idle_ms=%llu",
                   a->max, (unsigned long long)longest);
        a->evict_logged_ns = now;
    }
    return 0;
}

/* Keep a dup of @p fd in a free slot and hand @p fd over; 0, or -1 when there is
 * no descriptor for the dup (fd is closed). */
static int take(accept_cap_t *a, int fd)
{
    int one = 1, dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    size_t slot = 0;
    while (a->fds[slot] >= 0)
        slot++;
    struct epoll_event ev = {.events = 0, .data.u64 = EV_CONN + slot}; /* hang-ups are always reported */
    if (dup < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, dup, &ev) != 0) {
        if (dup >= 0)
            close(dup);
        close(fd);
        return -1;
    }
    a->fds[slot] = dup;
    a->accepted_ns[slot] = arbor_mono_ns();
    a->used++;
    __atomic_add_fetch(&a->open, 1, __ATOMIC_RELAXED);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    a->hand(a->arg, fd);
    return 0;
}

/* Accept what is waiting; 0, or -1 to pause (out of slots or descriptors). */
static int accept_waiting(accept_cap_t *a)
{
    for (;;) {
        if (a->used == a->n_slots) /* closed connections not let go yet */
            return -1;
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (fd < 0 || take(a, fd) != 0) {
            /* EMFILE, ENFILE, ENOBUFS: descriptors come back as gRPC lets go of
             * connections closed before (evicting more would not make room sooner) */
            uint64_t now = arbor_mono_ns();
            if (a->pause_logged_ns == 0 || now - a->pause_logged_ns >= LOG_EVERY_NS) {
                arbor_warn("accept_paused", "proto=otlp_grpc reason=out_of_descriptors error=\"%s\"", strerror(errno));
                a->pause_logged_ns = now;
            }
            return -1;
        }
        /* over the cap: the newcomer (idle for no time yet) stays, the idlest goes */
        if (__atomic_load_n(&a->open, __ATOMIC_RELAXED) > a->max)
            evict_idlest(a);
    }
}

static void *run(void *arg)
{
    accept_cap_t *a = arg;
    struct epoll_event ev[64];
    for (;;) {
        uint64_t now = arbor_mono_ns();
        int wait_ms = a->paused_until_ns > now ? (int)((a->paused_until_ns - now) / 1000000) + 1 : -1;
        int n = epoll_wait(a->epfd, ev, 64, wait_ms);
        int ready = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == EV_STOP)
                return NULL;
            if (ev[i].data.u64 == EV_LISTEN)
                ready = 1;
            else
                release(a, (size_t)(ev[i].data.u64 - EV_CONN));
        }
        if (a->paused_until_ns != 0 && arbor_mono_ns() >= a->paused_until_ns) {
            a->paused_until_ns = 0;
            watch_listener(a, 1);
            ready = 1;
        }
        if (ready && accept_waiting(a) != 0) {
            a->paused_until_ns = arbor_mono_ns() + PAUSE_NS;
            watch_listener(a, 0);
        }
    }
}

int accept_cap_start(int listen_fd, size_t max_connections, accept_cap_hand_fn hand, void *arg, accept_cap_t **out)
{
    accept_cap_t *a = arbor_xcalloc(1, sizeof *a);
    a->listen_fd = listen_fd;
    a->max = max_connections ? max_connections : 1;
    a->n_slots = 2 * a->max;
    a->fds = arbor_xcalloc(a->n_slots, sizeof *a->fds);
    a->evicted = arbor_xcalloc(a->n_slots, 1);
    a->accepted_ns = arbor_xcalloc(a->n_slots, sizeof *a->accepted_ns);
    memset(a->fds, -1, a->n_slots * sizeof *a->fds);
    a->hand = hand;
    a->arg = arg;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event stop = {.events = EPOLLIN, .data.u64 = EV_STOP}, listen = {.events = EPOLLIN, .data.u64 = EV_LISTEN};
    a->listening = 1;
    int rc = a->epfd < 0 || a->stop_fd < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->stop_fd, &stop) != 0 ||
                     epoll_ctl(a->epfd, EPOLL_CTL_ADD, listen_fd, &listen) != 0
                 ? errno
                 : pthread_create(&a->tid, NULL, run, a);
    if (rc != 0) {
        accept_cap_stop(a);
        return rc;
    }
    a->running = 1;
    *out = a;
    return 0;
}

void accept_cap_stop(accept_cap_t *a)
{
    if (a == NULL)
        return;
    if (a->running) {
        uint64_t one = 1;
        if (write(a->stop_fd, &one, sizeof one) != sizeof one)
            arbor_warn("accept_stop_failed", "error=\"%s\"", strerror(errno));
        pthread_join(a->tid, NULL);
    }
    for (size_t i = 0; i < a->n_slots; i++)
        if (a->fds[i] >= 0)
            close(a->fds[i]);
    if (a->epfd >= 0)
        close(a->epfd);
    if (a->stop_fd >= 0)
        close(a->stop_fd);
    close(a->listen_fd);
    free(a->fds);
    free(a->evicted);
    free(a->accepted_ns);
    free(a);
}

size_t accept_cap_open(accept_cap_t *a)
{
    return __atomic_load_n(&a->open, __ATOMIC_RELAXED);
}
