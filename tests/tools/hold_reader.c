/* Test helper: open a store read-only, begin a read transaction, say "holding"
 * and wait to be killed. Killed with SIGKILL it leaves a stale reader slot
 * behind, as an arbor-query killed in the middle of a request does. */
#include "arbor/store.h"

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hold-reader DATA_DIR\n");
        return 2;
    }
    arbor_store_options_t o = {.path = argv[1], .read_only = 1};
    arbor_store_t *st;
    arbor_reader_t *r;
    int rc = arbor_store_open(&o, &st);
    if (rc == 0 && (rc = arbor_reader_begin(st, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r)) != 0)
        arbor_store_close(st);
    if (rc != 0) {
        fprintf(stderr, "hold-reader: %s\n", arbor_strerror(rc));
        return 1;
    }
    printf("holding pid=%ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
