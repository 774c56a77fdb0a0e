/* Subscriptions. Each subscriber remembers which traces it follows (an execution
 * subscriber adopts a trace the moment the trace is mapped to its execution, and
 * then receives that trace whole) and which placeholder IDs it holds, so that the
 * real span can overwrite "arbor.placeholder" when it arrives (the Canvas merges
 * attributes shallowly). Writes are queued in wslay and flushed at the end of
 * each tick, because h2o_websocket_proceed() may free a connection in place. */
#include "live.h"

#include "metrics.h"
#include "tree.h"

#include "arbor/auth.h"
#include "arbor/log.h"
#include "arbor/map64.h"

#include "h2o/websocket.h"

#include <errno.h>
#include <stdlib.h>

#define CHUNK_SPANS 1000

typedef struct sub sub_t;
struct sub {
    sub_t *prev, *next;
    h2o_websocket_conn_t *conn;
    arbor_iov_t exec;  /* owned copy; base NULL for a trace subscription */
    uint8_t (*traces)[16];
    size_t n_traces, cap_traces;
    arbor_map64_t ph; /* placeholder span IDs the client holds (value 1; 0 once released) */
    uint64_t last_change_ns, last_send_ns, closing_since_ns;
    uint64_t behind_since_ns; /* over the queue bound since then (0: not over) */
    size_t behind_queued;     /* queued bytes then */
    uint64_t queued_total;    /* bytes ever queued for this client */
    uint64_t behind_total;    /* queued_total then */
    size_t grace; /* bytes of the initial snapshot still queued: not "behind" */
    /* the feed position of this subscriber's snapshot: it may be ahead of the
     * ticks' (L.last_seq), and what it already holds is not sent again */
    uint64_t snapshot_seq;
    int complete_sent, closing;
    char tenant[ARBOR_TENANT_MAX + 1]; /* whose data this subscriber may see */
    uint64_t close_after_s;            /* Unix time its token stops being valid (0: never) */
};

static struct {
    live_options_t o;
    sub_t *head;
    size_t count;
    uint64_t last_txn, last_seq;
    int primed;
} L;

/* ---- per-subscriber sets ---- */

static uint64_t id64(const uint8_t *span_id)
{
    uint64_t v;
    memcpy(&v, span_id, 8);
    return v;
}

static int ph_has(const sub_t *s, const uint8_t *span_id)
{
    const uint64_t *held = arbor_map64_get(&s->ph, id64(span_id));
    return held != NULL && *held;
}

static void ph_add(sub_t *s, const uint8_t *span_id)
{
    int added;
    *(uint64_t *)arbor_xcheck(arbor_map64_put(&s->ph, id64(span_id), &added)) = 1;
}

/* 1 if the client held a placeholder with this ID (it no longer does after). */
static int ph_take(sub_t *s, const uint8_t *span_id)
{
    uint64_t *held = arbor_map64_get(&s->ph, id64(span_id));
    if (held == NULL || !*held)
        return 0;
    *held = 0;
    return 1;
}

static int follows(const sub_t *s, const uint8_t *trace_id)
{
    for (size_t i = 0; i < s->n_traces; i++)
        if (memcmp(s->traces[i], trace_id, 16) == 0)
            return 1;
    return 0;
}

static void follow(sub_t *s, const uint8_t *trace_id)
{
    if (s->n_traces == s->cap_traces) {
        s->cap_traces = s->cap_traces ? s->cap_traces * 2 : 4;
        s->traces = arbor_xrealloc(s->traces, s->cap_traces * 16);
    }
    memcpy(s->traces[s->n_traces++], trace_id, 16);
}

/* ---- messages ---- */

static void msg_begin(jsonw_t *w, const sub_t *s, const uint8_t *trace_id, arbor_iov_t exec)
{
    jsonw_init(w);
    jsonw_object(w);
    jsonw_key_lit(w, "type");
    jsonw_cstr(w, "trace:update");
    jsonw_key_lit(w, "execution_id");
    if (s->exec.base)
        jsonw_str(w, s->exec);
    else if (exec.len)
        jsonw_str(w, exec);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "trace_id");
    if (trace_id)
        jsonw_hex(w, trace_id, 16);
    else
        jsonw_null(w);
    jsonw_key_lit(w, "spans");
    jsonw_array(w);
}

static void msg_send(sub_t *s, jsonw_t *w, int complete, uint64_t seq)
{
    size_t len;
    jsonw_array_end(w);
    jsonw_key_lit(w, "complete");
    jsonw_bool(w, complete);
    jsonw_key_lit(w, "seq");
    jsonw_uint(w, seq);
    jsonw_object_end(w);
    char *buf = jsonw_take(w, &len);
    if (!s->closing) {
        struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)buf, len};
        wslay_event_queue_msg(s->conn->ws_ctx, &m); /* copies; flushed and checked at the end of the tick */
        s->last_send_ns = arbor_mono_ns();
        s->queued_total += len;
    }
    free(buf);
}

static void placeholder(jsonw_t *w, sub_t *s, const arbor_span_rec_t *child)
{
    arbor_span_rec_t ph;
    memset(&ph, 0, sizeof ph);
    memcpy(ph.trace_id, child->trace_id, 16);
    memcpy(ph.span_id, child->parent_span_id, 8);
    ph.start_ns = child->start_ns;
    ph.end_ns = child->end_ns;
    ph.name = ARBOR_IOV("(span not received yet)");
    span_json_placeholder(w, &ph, NULL);
    ph_add(s, child->parent_span_id);
}

/* One real span, overwriting a placeholder the client holds, with its service
 * (the Trace tab colours it by service, as it does what it loaded). */
static void real_span(jsonw_t *w, arbor_arena_t *a, sub_t *s, arbor_reader_t *r, span_services_t *services,
                      const arbor_span_rec_t *rec)
{
    span_extra_t extra = {.replaces_placeholder = ph_take(s, rec->span_id),
                          .service = span_json_service(services, r, rec->resource_ref, a)};
    span_render_t o = L.o.render->span;
    o.tenant = s->tenant; /* its links are signed for the subscriber's tenant */
    span_json_write(w, a, rec, &o, &extra);
    arbor_arena_reset(a);
}

static int all_rooted(arbor_reader_t *r, const sub_t *s)
{
    if (s->n_traces == 0)
        return 0;
    for (size_t i = 0; i < s->n_traces; i++) {
        arbor_trace_summary_t t;
        if (arbor_reader_trace_summary(r, s->traces[i], &t) != 0 || !t.has_root)
            return 0;
    }
    return 1;
}

/* ---- the sequence filter: what a client holding the trace as of a sequence lacks ---- */

/* Whether a client that received the trace as of @p since holds @p n's parent as a
 * placeholder: @p n was there, and its parent was missing then (or still is). */
static int parent_missing_at(const tree_t *t, const tree_node_t *n, uint64_t since)
{
    return n->rec.seq <= since && n->parent != TREE_NONE &&
           (t->nodes[n->parent].placeholder || t->nodes[n->parent].rec.seq > since);
}

/* Whether a client resuming after @p since needs @p n: a real span written after
 * it, or a placeholder the client does not hold. */
static int resume_needs(const tree_node_t *n, uint64_t since, int client_holds_placeholder)
{
    return n->placeholder ? !client_holds_placeholder : n->rec.seq > since;
}

/* Whether a change-feed entry is news to a subscriber whose snapshot was taken at
 * @p snapshot_seq: newer than the snapshot, and not superseded by a later write of
 * the same span (@p stored is the span as it is now, NULL if gone). */
static int change_is_news(uint64_t change_seq, uint64_t snapshot_seq, const arbor_span_rec_t *stored)
{
    return change_seq > snapshot_seq && stored && stored->seq == change_seq;
}

/* A trace whole, in pre-order chunks. @p since: only spans changed after it (and
 * the placeholder set as of @p since is rebuilt first). */
static void send_trace(arbor_reader_t *r, sub_t *s, const uint8_t *trace_id, int has_since, uint64_t since,
                       uint64_t seq)
{
    tree_t t;
    arbor_arena_t a;
    span_services_t services = {0};
    jsonw_t w;
    arbor_trace_summary_t sum;
    arbor_iov_t exec = ARBOR_IOV_NULL;
    if (arbor_reader_trace_summary(r, trace_id, &sum) == 0)
        exec = sum.execution_id;
    if (tree_load(&t, r, (const uint8_t(*)[16])trace_id, 1) != 0)
        return;
    if (has_since) /* what the client held at `since`: parents missing then */
        for (size_t i = 0; i < t.n_real; i++)
            if (parent_missing_at(&t, &t.nodes[i], since))
                ph_add(s, t.nodes[t.nodes[i].parent].rec.span_id);
    arbor_arena_init(&a, 64 * 1024, 0);
    size_t in_msg = 0;
    int open = 0;
    for (size_t k = 0; k < t.n; k++) {
        const tree_node_t *n = &t.nodes[t.order[k]];
        if (has_since && !resume_needs(n, since, n->placeholder && ph_has(s, n->rec.span_id)))
            continue;
        if (!open) {
            msg_begin(&w, s, trace_id, exec);
            open = 1;
        }
        if (n->placeholder) {
            span_json_placeholder(&w, &n->rec, NULL);
            ph_add(s, n->rec.span_id);
        } else {
            real_span(&w, &a, s, r, &services, &n->rec);
        }
        if (++in_msg == CHUNK_SPANS) {
            msg_send(s, &w, 0, seq);
            in_msg = 0;
            open = 0;
        }
    }
    if (open)
        msg_send(s, &w, 0, seq);
    arbor_arena_free(&a);
    tree_free(&t);
}

/* ---- subscribing ---- */

static void sub_free(sub_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        L.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    L.count--;
    metrics_set_live_subscribers(L.count);
    free((void *)s->exec.base);
    free(s->traces);
    arbor_map64_free(&s->ph);
    free(s);
}

static void on_ws_message(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
    if (arg != NULL)
        return; /* clients have nothing to say; pongs and closes are wslay's */
    /* closed: by the peer, a read error or a write error */
    sub_free(conn->data);
    h2o_websocket_close(conn);
}

/* Close with @p code after what is already queued. */
static void close_sub(sub_t *s, uint16_t code, const char *reason)
{
    wslay_event_queue_close(s->conn->ws_ctx, code, (const uint8_t *)reason, strlen(reason));
    s->closing = 1;
    s->closing_since_ns = arbor_mono_ns();
}

/* After a flush: a client that has stayed beyond the queue bound (its initial
 * snapshot aside) for slow_ms and drained less than the bound meanwhile is not
 * keeping up, and is closed with 1013; one that is behind but draining (a burst
 * on a busy machine) goes on, up to 16 times the bound (64 MiB at least). One
 * that will not even take its close frame within 10 s is dropped, so a stalled
 * peer cannot pin memory. */
static int police(sub_t *s, uint64_t now)
{
    size_t queued = wslay_event_get_queued_msg_length(s->conn->ws_ctx), bound = L.o.max_queued_bytes;
    size_t hard = 16 * bound > ((size_t)64 << 20) ? 16 * bound : (size_t)64 << 20;
    if (queued < s->grace)
        s->grace = queued;
    if (s->closing) {
        if (now < s->closing_since_ns || now - s->closing_since_ns <= 10000000000u)
            return 0;
        h2o_websocket_conn_t *conn = s->conn; /* will not even take its close frame */
        sub_free(s);
        h2o_websocket_close(conn);
        return 1;
    }
    if (queued <= bound + s->grace) {
        s->behind_since_ns = 0;
        return 0;
    }
    if (queued > hard + s->grace) {
        arbor_warn("live_client_slow", "queued_bytes=%zu action=close_1013 reason=hard_limit", queued);
        close_sub(s, 1013, "client too slow");
    } else if (s->behind_since_ns == 0 || now - s->behind_since_ns > L.o.slow_ms * 1000000u) {
        /* drained = what was queued then, plus what came since, minus what is left */
        uint64_t drained = s->behind_queued + (s->queued_total - s->behind_total) - queued;
        if (s->behind_since_ns != 0 && drained < bound) {
            arbor_warn("live_client_slow", "queued_bytes=%zu drained_bytes=%llu action=close_1013", queued,
                       (unsigned long long)drained);
            close_sub(s, 1013, "client too slow");
        }
        s->behind_since_ns = now; /* a new window */
        s->behind_queued = queued;
        s->behind_total = s->queued_total;
    }
    return 0;
}

int live_subscribe(h2o_req_t *req, const char *key, const live_caller_t *caller, arbor_iov_t exec,
                   const uint8_t *trace_id, int has_since, uint64_t since)
{
    arbor_store_t *st = L.o.store();
    arbor_reader_t *r;
    if (L.count >= L.o.max_subscribers)
        return ARBOR_EBUSY;
    if (st == NULL)
        return ARBOR_ENOSTORE;
    int rc = arbor_reader_begin(st, caller->tenant, &r);
    if (rc)
        return rc;
    sub_t *s = arbor_xcalloc(1, sizeof *s);
    snprintf(s->tenant, sizeof s->tenant, "%.*s", (int)caller->tenant.len, caller->tenant.base);
    s->close_after_s = caller->close_after_s;
    if (trace_id == NULL) {
        char *copy = arbor_xmalloc(exec.len + 1);
        memcpy(copy, exec.base, exec.len);
        s->exec = arbor_iov(copy, exec.len);
        execution_t *x = arbor_xmalloc(sizeof *x);
        if (execution_load(r, exec, x) == 0)
            for (size_t i = 0; i < x->n; i++)
                follow(s, x->ids[i]);
        free(x);
    } else {
        follow(s, trace_id);
    }
    s->conn = h2o_upgrade_to_websocket(req, key, s, on_ws_message);
    s->next = L.head;
    if (L.head)
        L.head->prev = s;
    L.head = s;
    L.count++;
    metrics_set_live_subscribers(L.count);
    if (!L.primed) { /* first subscriber: start following the feed from here */
        L.last_seq = arbor_reader_last_seq(r);
        L.last_txn = arbor_reader_txn_id(r); /* the snapshot, not the environment (see live_tick) */
        L.primed = 1;
    }
    /* The snapshot goes now, as of its own feed position; the ticks send what
     * commits after it (they skip what the snapshot held, when it is ahead of
     * them), so the two meet without gap or overlap. */
    uint64_t now = arbor_mono_ns();
    s->last_change_ns = now;
    s->snapshot_seq = arbor_reader_last_seq(r);
    for (size_t i = 0; i < s->n_traces; i++)
        send_trace(r, s, s->traces[i], has_since, since, s->snapshot_seq);
    s->grace = wslay_event_get_queued_msg_length(s->conn->ws_ctx);
    /* nothing new, finished long ago: complete at once */
    arbor_trace_summary_t t;
    uint64_t latest_end = 0;
    for (size_t i = 0; i < s->n_traces; i++)
        if (arbor_reader_trace_summary(r, s->traces[i], &t) == 0 && t.end_ns > latest_end)
            latest_end = t.end_ns;
    if (all_rooted(r, s) && arbor_now_ns() > latest_end + L.o.quiet_ms * 1000000u) {
        jsonw_t w;
        msg_begin(&w, s, s->traces[0], ARBOR_IOV_NULL);
        msg_send(s, &w, 1, s->snapshot_seq);
        s->complete_sent = 1;
    }
    arbor_reader_end(r);
    /* conn->sock is NULL until the 101 is written; the queue flushes then */
    return 0;
}

/* ---- ticks ---- */

typedef struct {
    uint8_t trace[16], span[8];
    uint64_t seq;
} change_t;

typedef struct {
    change_t *v;
    size_t n, cap;
} changes_t;

static int collect_change(void *ctx, uint64_t seq, const uint8_t *trace, const uint8_t *span)
{
    changes_t *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->v = arbor_xrealloc(c->v, c->cap * sizeof *c->v);
    }
    memcpy(c->v[c->n].trace, trace, 16);
    memcpy(c->v[c->n].span, span, 8);
    c->v[c->n++].seq = seq;
    return 0;
}

static int cmp_change(const void *a, const void *b)
{
    const change_t *x = a, *y = b;
    int c = memcmp(x->trace, y->trace, 16);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Send the changed spans [from, to) of one trace to one subscriber. */
static void send_changes(arbor_reader_t *r, sub_t *s, const change_t *from, const change_t *to, arbor_iov_t exec,
                         uint64_t seq)
{
    jsonw_t w;
    arbor_arena_t a;
    span_services_t services = {0};
    size_t in_msg = 0;
    int open = 0;
    arbor_arena_init(&a, 64 * 1024, 0);
    for (const change_t *c = from; c < to; c++) {
        arbor_span_rec_t rec, parent;
        /* in the subscriber's snapshot already (skipped before any lookup), superseded
         * (the span was replaced later) or a duplicate: skipped */
        const arbor_span_rec_t *stored =
            c->seq > s->snapshot_seq && arbor_reader_span(r, c->trace, c->span, &rec) == 0 ? &rec : NULL;
        if (!change_is_news(c->seq, s->snapshot_seq, stored))
            continue;
        if (!open) {
            msg_begin(&w, s, c->trace, exec);
            open = 1;
        }
        if (rec.has_parent && !ph_has(s, rec.parent_span_id) &&
            arbor_reader_span(r, c->trace, rec.parent_span_id, &parent) == ARBOR_ENOTFOUND)
            placeholder(&w, s, &rec);
        real_span(&w, &a, s, r, &services, &rec);
        if (++in_msg == CHUNK_SPANS) {
            msg_send(s, &w, 0, seq);
            open = 0;
            in_msg = 0;
        }
    }
    if (open)
        msg_send(s, &w, 0, seq);
    arbor_arena_free(&a);
}

static void deliver(arbor_reader_t *r, const char *tenant, changes_t *ch, uint64_t seq)
{
    uint64_t now = arbor_mono_ns();
    if (ch->n > 1) /* v is NULL when a tenant had no change: qsort's argument must not be */
        qsort(ch->v, ch->n, sizeof *ch->v, cmp_change);
    for (size_t i = 0; i < ch->n;) {
        size_t j = i;
        while (j < ch->n && memcmp(ch->v[j].trace, ch->v[i].trace, 16) == 0)
            j++;
        const uint8_t *trace = ch->v[i].trace;
        arbor_trace_summary_t sum;
        arbor_iov_t exec = ARBOR_IOV_NULL;
        if (arbor_reader_trace_summary(r, trace, &sum) == 0)
            exec = sum.execution_id;
        for (sub_t *s = L.head; s; s = s->next) {
            if (s->closing || strcmp(s->tenant, tenant) != 0)
                continue;
            if (follows(s, trace)) {
                send_changes(r, s, &ch->v[i], &ch->v[j], exec, seq);
            } else if (s->exec.base && exec.len && arbor_iov_eq(s->exec, exec)) {
                /* the trace was just mapped to this execution: send it whole */
                follow(s, trace);
                send_trace(r, s, trace, 0, 0, seq);
            } else {
                continue;
            }
            s->last_change_ns = now;
            s->complete_sent = 0;
        }
        i = j;
    }
}

/* The feed is per tenant: from one snapshot, each subscribed tenant's changes
 * since the last tick go to that tenant's subscribers only. */
static void deliver_each_tenant(arbor_reader_t *r, uint64_t seq)
{
    for (sub_t *s = L.head; s; s = s->next) {
        sub_t *first = L.head; /* the first subscriber of s's tenant does it */
        while (strcmp(first->tenant, s->tenant) != 0)
            first = first->next;
        if (first != s || arbor_reader_set_tenant(r, arbor_iov(s->tenant, strlen(s->tenant))) != 0)
            continue;
        changes_t ch = {0};
        arbor_reader_changes(r, L.last_seq, collect_change, &ch);
        deliver(r, s->tenant, &ch, seq);
        free(ch.v);
    }
}

/* A stream outlives its token's validity: closed with 4401, as Orcheo's. */
static void close_expired(void)
{
    uint64_t now_s = arbor_now_ns() / 1000000000u;
    for (sub_t *s = L.head; s; s = s->next)
        if (!s->closing && s->close_after_s != 0 && now_s > s->close_after_s)
            close_sub(s, 4401, "token expired");
}

/* complete: every followed trace has its root and nothing came for quiet_ms. */
static void check_complete(arbor_reader_t **r, arbor_store_t *st, uint64_t now)
{
    for (sub_t *s = L.head; s; s = s->next) {
        if (s->complete_sent || s->closing || s->n_traces == 0 || now - s->last_change_ns < L.o.quiet_ms * 1000000u)
            continue;
        if (*r == NULL && arbor_reader_begin(st, ARBOR_IOV(ARBOR_DEFAULT_TENANT), r) != 0)
            return;
        if (arbor_reader_set_tenant(*r, arbor_iov(s->tenant, strlen(s->tenant))) != 0)
            return;
        /* A snapshot newer than what was delivered could see a root whose span has
         * not been sent yet: "complete" would overtake it. Judge on the next tick. */
        if (arbor_reader_last_seq(*r) != L.last_seq)
            return;
        if (!all_rooted(*r, s)) {
            s->last_change_ns = now; /* look again after another quiet period */
            continue;
        }
        jsonw_t w;
        msg_begin(&w, s, s->traces[0], ARBOR_IOV_NULL);
        msg_send(s, &w, 1, L.last_seq > s->snapshot_seq ? L.last_seq : s->snapshot_seq);
        s->complete_sent = 1;
    }
}

int32_t live_tick(void)
{
    if (L.head == NULL) {
        L.primed = 0; /* nobody listening: the next subscriber starts from its snapshot */
        return 100;
    }
    arbor_store_t *st = L.o.store();
    if (st == NULL)
        return (int32_t)L.o.poll_ms;
    arbor_reader_t *r = NULL;
    uint64_t now = arbor_mono_ns(), txn = arbor_store_last_txn(st);
    if (txn != L.last_txn && arbor_reader_begin(st, ARBOR_IOV(ARBOR_DEFAULT_TENANT), &r) == 0) {
        /* the snapshot's own ID: the environment's may be ahead of the snapshot
         * (meta page written, reader table not yet), and remembering that would
         * hide the newest commit until the next one came (a lost live frame) */
        L.last_txn = arbor_reader_txn_id(r);
        uint64_t seq = arbor_reader_last_seq(r);
        if (seq > L.last_seq) {
            deliver_each_tenant(r, seq);
            L.last_seq = seq;
        }
    }
    check_complete(&r, st, now);
    if (r != NULL)
        arbor_reader_end(r);
    close_expired();
    /* pings for idle connections, then flush; proceed may free a subscriber */
    for (sub_t *s = L.head, *next; s; s = next) {
        next = s->next;
        if (!s->closing && now - s->last_send_ns > L.o.ping_ms * 1000000u) {
            struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
            wslay_event_queue_msg(s->conn->ws_ctx, &ping);
            s->last_send_ns = now;
        }
        if (s->conn->sock == NULL)
            continue;
        if (wslay_event_want_write(s->conn->ws_ctx)) {
            h2o_websocket_conn_t *conn = s->conn;
            /* may close and free the subscriber (our callback): look it up again */
            h2o_websocket_proceed(conn);
            sub_t *still = L.head;
            while (still && still != s)
                still = still->next;
            if (still == NULL)
                continue;
        }
        police(s, now);
    }
    return (int32_t)L.o.poll_ms;
}

size_t live_subscribers(void)
{
    return L.count;
}

void live_init(const live_options_t *o)
{
    L.o = *o;
}

void live_shutdown(void)
{
    for (sub_t *s = L.head, *next; s; s = next) {
        next = s->next;
        if (!s->closing)
            close_sub(s, 1001, "server shutting down");
        if (s->conn->sock != NULL)
            h2o_websocket_proceed(s->conn); /* may free s: next was read first */
    }
}
