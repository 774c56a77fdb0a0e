/* A do-nothing OTLP/gRPC endpoint on gRPC core: completion-queue threads with
 * request_call slots like arbor-collector, but each call is answered OK with an
 * empty message as soon as its message is received, undecoded.
 * Usage: null_grpc PORT [THREADS=2] */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int state; /* 0 new, 1 read, 2 done */
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *in, *out;
    int cancelled;
    grpc_completion_queue *cq;
} call_t;

static grpc_server *server;

static void arm(grpc_completion_queue *cq)
{
    call_t *c = calloc(1, sizeof *c);
    c->cq = cq;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    grpc_server_request_call(server, &c->call, &c->details, &c->md, cq, cq, c);
}

static void *run(void *arg)
{
    grpc_completion_queue *cq = arg;
    for (int i = 0; i < 16; i++)
        arm(cq);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        call_t *c = ev.tag;
        grpc_op ops[4];
        memset(ops, 0, sizeof ops);
        if (c->state == 0) {
            arm(cq);
            ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
            ops[1].op = GRPC_OP_RECV_MESSAGE;
            ops[1].data.recv_message.recv_message = &c->in;
            c->state = 1;
            grpc_call_start_batch(c->call, ops, 2, c, NULL);
        } else if (c->state == 1) {
            static grpc_slice details;
            details = grpc_empty_slice();
            c->out = grpc_raw_byte_buffer_create(NULL, 0);
            ops[0].op = GRPC_OP_SEND_MESSAGE;
            ops[0].data.send_message.send_message = c->out;
            ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
            ops[1].data.send_status_from_server.status = GRPC_STATUS_OK;
            ops[1].data.send_status_from_server.status_details = &details;
            ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
            ops[2].data.recv_close_on_server.cancelled = &c->cancelled;
            c->state = 2;
            grpc_call_start_batch(c->call, ops, 3, c, NULL);
        } else {
            grpc_call_unref(c->call);
            grpc_call_details_destroy(&c->details);
            grpc_metadata_array_destroy(&c->md);
            if (c->in)
                grpc_byte_buffer_destroy(c->in);
            if (c->out)
                grpc_byte_buffer_destroy(c->out);
            free(c);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char addr[64];
    if (argc < 2)
        return 2;
    int n = argc > 2 ? atoi(argv[2]) : 2;
    grpc_init();
    grpc_arg a = {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20};
    grpc_channel_args args = {1, &a};
    server = grpc_server_create(&args, NULL);
    grpc_completion_queue **cqs = calloc((size_t)n, sizeof *cqs);
    for (int i = 0; i < n; i++) {
        cqs[i] = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(server, cqs[i], NULL);
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[1]);
    grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
    if (grpc_server_add_http2_port(server, addr, cr) <= 0) {
        fprintf(stderr, "null_grpc: cannot bind %s\n", addr);
        return 1;
    }
    grpc_server_credentials_release(cr);
    grpc_server_start(server);
    pthread_t tid;
    for (int i = 1; i < n; i++)
        pthread_create(&tid, NULL, run, cqs[i]);
    fprintf(stderr, "event=ready null_grpc=%s\n", addr);
    run(cqs[0]);
    return 0;
}
