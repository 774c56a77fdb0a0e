/* A throwaway store for unit tests that need real sequences and summaries: opened
 * under /tmp by name and pid, removed on close; spans put in one batch of the
 * default tenant with one resource record. Header-only, like tap.h. */
#ifndef ARBOR_TEST_STORE_FIXTURE_H
#define ARBOR_TEST_STORE_FIXTURE_H

#include "arbor/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    char dir[256];
    arbor_store_t *store;
} store_fixture_t;

/* 0, or the store's error (nothing to close then). */
static inline int fixture_open(store_fixture_t *f, const char *name, size_t map_size)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/arbor-test-%s-%d", name, (int)getpid());
    arbor_store_options_t o = {.path = f->dir, .map_size = map_size};
    return arbor_store_open(&o, &f->store);
}

static inline void fixture_close(store_fixture_t *f)
{
    arbor_store_close(f->store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", f->dir);
}

/* Put @p n spans in one committed batch: 0 or the first error (the batch aborted). */
static inline int fixture_put(arbor_store_t *s, const arbor_span_in_t *spans, size_t n)
{
    arbor_batch_t *b;
    uint64_t ref;
    int rc = arbor_batch_begin(s, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &b);
    if (rc != 0)
        return rc;
    if ((rc = arbor_batch_put_record(b, ARBOR_RECORD_RESOURCE, ARBOR_IOV("r"), &ref)) == 0)
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = arbor_batch_put_span(b, &spans[i]);
    if (rc != 0) {
        arbor_batch_abort(b);
        return rc;
    }
    return arbor_batch_commit(b);
}

#endif
