/* A do-nothing OTLP/HTTP endpoint on h2o: the same listener setup and thread
 * count as arbor-collector, but it decodes nothing and answers 200 at once.
 * The benchmark's baseline for what the transport alone can do.
 * Usage: null_h2o PORT [THREADS=2] */
#include "h2o.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static h2o_globalconf_t config;
static int port;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/x-protobuf"));
    req->res.content_length = 0;
    h2o_send_inline(req, "", 0);
    return 0;
}

typedef struct {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
} thread_t;

static void on_accept(h2o_socket_t *listener, const char *err)
{
    thread_t *t = listener->data;
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&t->accept, sock);
}

static void *run(void *arg)
{
    thread_t *t = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("bind");
        exit(1);
    }
    h2o_context_init(&t->ctx, h2o_evloop_create(), &config);
    t->accept.ctx = &t->ctx;
    t->accept.hosts = config.hosts;
    h2o_socket_t *ls = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = t;
    h2o_socket_read_start(ls, on_accept);
    for (;;)
        h2o_evloop_run(t->ctx.loop, INT32_MAX);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    port = atoi(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 2;
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.max_request_entity_size = 64 << 20;
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(h2o_handler_t))->on_req = on_req;
    thread_t *ts = calloc((size_t)n, sizeof *ts);
    pthread_t tid;
    for (int i = 1; i < n; i++)
        pthread_create(&tid, NULL, run, &ts[i]);
    fprintf(stderr, "event=ready null_h2o=127.0.0.1:%d\n", port);
    run(&ts[0]);
    return 0;
}
