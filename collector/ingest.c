/* Normalisation between the codec and the store. */
#include "ingest.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

ingest_job_t *ingest_job_new(const ingest_options_t *opts, const char *tenant)
{
    ingest_job_t *job = arbor_xcalloc(1, sizeof *job);
    snprintf(job->tenant, sizeof job->tenant, "%s", tenant);
    arbor_arena_init(&job->arena, 64 * 1024, opts->arena_limit);
    return job;
}

void ingest_job_free(ingest_job_t *job)
{
    if (job == NULL)
        return;
    arbor_arena_free(&job->arena);
    free(job);
}

int ingest_decode_announcement(ingest_job_t *job, const ingest_options_t *o, const void *body, size_t len, char *err,
                               size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *exec = json_object_get(root, "execution_id"), *trace = json_object_get(root, "trace_id");
    int rc = ARBOR_EDECODE;
    if (root == NULL)
        snprintf(err, errlen, "body is not JSON: %s (line %d)", jerr.text, jerr.line);
    else if (!json_is_string(exec) || json_string_length(exec) == 0 || json_string_length(exec) > ARBOR_MAX_EXECUTION_ID)
        snprintf(err, errlen, "execution_id must be a string of 1 to %d bytes", ARBOR_MAX_EXECUTION_ID);
    else if (!json_is_string(trace) ||
             arbor_hex_decode(job->announce_trace, 16, json_string_value(trace), json_string_length(trace)) != 0 ||
             arbor_is_zero(job->announce_trace, 16))
        snprintf(err, errlen, "trace_id must be 32 hex characters, not all zero");
    else if ((job->announce_execution.base =
                  arbor_arena_dup(&job->arena, json_string_value(exec), json_string_length(exec))) == NULL)
        snprintf(err, errlen, "out of memory");
    else {
        job->announce_execution.len = json_string_length(exec);
        /* as the same ID on a span would be: the two then map alike */
        otlp_text_redact(o->redactor, job->announce_execution, &job->arena, &job->announce_execution, &job->redacted);
        job->has_announcement = job->announce_execution.len <= ARBOR_MAX_EXECUTION_ID;
        rc = job->has_announcement ? 0 : ARBOR_EDECODE;
        if (rc)
            snprintf(err, errlen, "execution_id is longer than %d bytes once redacted", ARBOR_MAX_EXECUTION_ID);
    }
    json_decref(root);
    return rc;
}

ingest_answer_t ingest_answer(int rc, char *buf, size_t len)
{
    static const struct {
        int rc;
        ingest_answer_t a;
    } table[] = {
        {0, {200, "OK", 0, 0, NULL}},
        {ARBOR_EDECODE, {400, "Bad Request", 3, 0, NULL}},
        {ARBOR_ETOOBIG, {413, "Content Too Large", 8, 0, NULL}},
        {ARBOR_ENOTSUP, {415, "Unsupported Media Type", 12, 0, NULL}},
        {ARBOR_EBUSY, {503, "Service Unavailable", 14, 1, "writer queue is full; retry later"}},
        {ARBOR_ESHUTDOWN, {503, "Service Unavailable", 14, 1, "collector is shutting down"}},
        {ENOMEM, {503, "Service Unavailable", 14, 1, "out of memory"}},
        {ARBOR_ERATE, {429, "Too Many Requests", 8, 1, "tenant's span rate limit exceeded; retry later"}},
        {ARBOR_ELIMIT, {413, "Content Too Large", 8, 0,
                        "trace exceeds the tenant's max_spans_per_trace or max_bytes_per_trace (ARBOR_TENANT_LIMITS)"}},
        {ARBOR_EFULL, {503, "Service Unavailable", 14, 30, "store is full; retry after retention frees space"}},
        {ENOSPC, {503, "Service Unavailable", 14, 30,
                  "store disk is full (No space left on device); retry once space is freed"}},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].rc == rc)
            return table[i].a;
    snprintf(buf, len, "write failed: %s", arbor_strerror(rc));
    return (ingest_answer_t){503, "Service Unavailable", 14, 5, buf};
}

/* String form of an execution ID attribute: strings as they are, integers in decimal. */
static arbor_iov_t exec_value(arbor_arena_t *a, const otlp_value_t *v)
{
    if (v == NULL)
        return ARBOR_IOV_NULL;
    if (v->type == OTLP_VALUE_STRING)
        return v->u.str;
    if (v->type == OTLP_VALUE_INT) {
        char *s = arbor_arena_alloc(a, 24);
        if (s != NULL)
            return arbor_iov(s, (size_t)snprintf(s, 24, "%lld", (long long)v->u.i));
    }
    return ARBOR_IOV_NULL;
}

static arbor_iov_t find_exec_id(arbor_arena_t *a, const ingest_options_t *o, const otlp_attrs_t *attrs)
{
    for (size_t i = 0; o->execution_id_keys && o->execution_id_keys[i]; i++) {
        arbor_iov_t v = exec_value(a, otlp_attrs_get(attrs, o->execution_id_keys[i]));
        if (v.len > 0)
            return v;
    }
    return ARBOR_IOV_NULL;
}

/* Per span, its trace's bloom and the tag catalog get the name, span and
 * resource attributes, and (the catalog only) event and link attributes. Counts
 * are bounded, so a span with 20,000 attributes costs no more than one with 64;
 * such a span is marked incomplete and its trace's bloom then rules nothing out.
 * Event and link values are in no bloom: past their bound they go unlisted. */
#define INDEX_SPAN_ATTRS 64
#define INDEX_RESOURCE_ATTRS 32
#define INDEX_EVENT_LINK_ATTRS 32

/* The entry of one scalar value: 1, or 0 (nothing written) for anything else. */
static size_t scalar_entry(arbor_attr_in_t *a, arbor_attr_scope_t scope, arbor_iov_t key, const otlp_value_t *v)
{
    arbor_attr_in_t e = {.scope = scope, .key = key};
    switch (v->type) {
    case OTLP_VALUE_STRING:
        e.type = ARBOR_VAL_STRING;
        e.str = v->u.str;
        break;
    case OTLP_VALUE_INT:
        e.type = ARBOR_VAL_INT;
        e.i = v->u.i;
        break;
    case OTLP_VALUE_DOUBLE:
        e.type = ARBOR_VAL_DOUBLE;
        e.d = v->u.d;
        break;
    case OTLP_VALUE_BOOL:
        e.type = ARBOR_VAL_BOOL;
        e.i = v->u.boolean;
        break;
    default:
        return 0;
    }
    *a = e;
    return 1;
}

/* At most how many entries index_attrs() writes for @p attrs, and no more than @p max. */
static size_t index_room(const otlp_attrs_t *attrs, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < attrs->count && n < max; i++) {
        const otlp_value_t *v = &attrs->items[i].value;
        n += v->type == OTLP_VALUE_ARRAY && v->u.array.count > 1 ? v->u.array.count : 1;
    }
    return n < max ? n : max;
}

/* Up to @p room entries for @p attrs: a scalar's value; each scalar element of an
 * array (TraceQL matches an array when any element does, so the bloom must hold
 * them all); for a value TraceQL cannot compare (a map, bytes, an array without a
 * scalar) the key alone, so that tags list it. *incomplete when values did not fit. */
static size_t index_attrs(arbor_attr_in_t *out, size_t room, arbor_attr_scope_t scope, const otlp_attrs_t *attrs,
                          int *incomplete)
{
    size_t n = 0, i;
    for (i = 0; i < attrs->count && n < room; i++) {
        const otlp_kv_t *kv = &attrs->items[i];
        size_t before = n;
        if (kv->value.type == OTLP_VALUE_ARRAY) {
            size_t e, count = kv->value.u.array.count;
            for (e = 0; e < count && n < room; e++)
                n += scalar_entry(&out[n], scope, kv->key, &kv->value.u.array.items[e]);
            if (e < count)
                *incomplete = 1;
        } else {
            n += scalar_entry(&out[n], scope, kv->key, &kv->value);
        }
        if (n == before)
            out[n++] = (arbor_attr_in_t){.scope = scope, .type = ARBOR_VAL_OTHER, .key = kv->key};
    }
    if (i < attrs->count)
        *incomplete = 1;
    return n;
}

static size_t event_link_room(const otlp_span_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_events && n < INDEX_EVENT_LINK_ATTRS; i++)
        n += index_room(&s->events[i].attrs, INDEX_EVENT_LINK_ATTRS);
    for (size_t i = 0; i < s->n_links && n < INDEX_EVENT_LINK_ATTRS; i++)
        n += index_room(&s->links[i].attrs, INDEX_EVENT_LINK_ATTRS);
    return n < INDEX_EVENT_LINK_ATTRS ? n : INDEX_EVENT_LINK_ATTRS;
}

/* Event and link attributes into @p out (room entries; *n of them used), each
 * key once per event or link. 0 or ENOMEM. */
static int index_events_links(arbor_arena_t *a, const otlp_span_t *s, arbor_attr_in_t *out, size_t room, size_t *n)
{
    int unbloomed = 0; /* no bloom holds these: nothing to mark */
    otlp_attrs_t u;
    for (size_t i = 0; i < s->n_events + s->n_links && *n < room; i++) {
        const otlp_attrs_t *attrs = i < s->n_events ? &s->events[i].attrs : &s->links[i - s->n_events].attrs;
        if (otlp_attrs_unique(a, attrs, &u) != 0)
            return ENOMEM;
        *n += index_attrs(out + *n, room - *n, i < s->n_events ? ARBOR_SCOPE_EVENT : ARBOR_SCOPE_LINK, &u, &unbloomed);
    }
    return 0;
}

/* The span's message: as received when the request was binary protobuf (no
 * second encoding), else packed from the decoded message. pack_spans() below
 * decides how it is stored. */
static int span_bytes(arbor_arena_t *a, const otlp_span_t *s, arbor_span_in_t *in)
{
    if (s->wire.len > 0) {
        in->span_bytes = s->wire;
        return 0;
    }
    size_t n = otlp_span_packed_size(s);
    uint8_t *bytes = arbor_arena_alloc(a, n ? n : 1);
    if (bytes == NULL)
        return ENOMEM;
    in->span_bytes = arbor_iov(bytes, otlp_span_pack(s, bytes));
    return 0;
}

/* A span stored by itself: compressed alone, and always arena-owned in the end
 * (the writer must not depend on the request @p body living until the commit:
 * bytes still in it are copied out). */
static int pack_alone(arbor_arena_t *a, const ingest_options_t *o, arbor_span_in_t *in, arbor_iov_t body)
{
    if (arbor_span_pack(in, o->span_codec, a) != 0)
        return ENOMEM;
    uintptr_t p = (uintptr_t)in->span_bytes.base, from = (uintptr_t)body.base;
    if (p >= from && p < from + body.len) {
        void *copy = arbor_arena_dup(a, in->span_bytes.base, in->span_bytes.len);
        if (copy == NULL && in->span_bytes.len > 0)
            return ENOMEM;
        in->span_bytes = arbor_iov(copy, in->span_bytes.len);
    }
    return 0;
}

/* order[from..to) (spans of one trace, at most ARBOR_BLOCK_MAX_RAW bytes) as one block. */
static int pack_block(ingest_job_t *job, const ingest_options_t *o, size_t from, size_t to, size_t raw_len)
{
    arbor_arena_t *a = &job->arena;
    uint8_t *raw = arbor_arena_alloc(a, raw_len ? raw_len : 1);
    if (raw == NULL)
        return ENOMEM;
    size_t at = 0;
    for (size_t k = from; k < to; k++) {
        arbor_span_in_t *in = &job->spans[job->order[k]];
        memcpy(raw + at, in->span_bytes.base, in->span_bytes.len);
        in->block.offset = (uint32_t)at;
        in->block.len = (uint32_t)in->span_bytes.len;
        in->span_bytes = arbor_iov(raw + at, in->span_bytes.len);
        at += in->span_bytes.len;
    }
    struct ingest_block *b = &job->blocks[job->n_blocks++];
    if (arbor_block_pack(arbor_iov(raw, raw_len), o->span_codec, a, &b->packed, &b->codec) != 0)
        return ENOMEM;
    b->raw_len = (uint32_t)raw_len;
    b->n_spans = (uint32_t)(to - from);
    b->first = from;
    for (size_t k = from; k < to; k++) { /* each span's part of the block as stored, at least 1 */
        arbor_span_in_t *in = &job->spans[job->order[k]];
        uint64_t share = (uint64_t)(b->packed.len + ARBOR_BLOCK_HEADER_BYTES) * in->block.len / (raw_len ? raw_len : 1);
        in->block.share = share ? (uint32_t)share : 1;
    }
    return 0;
}

/* After ordering: runs of two or more spans of one trace become blocks (split
 * at ARBOR_BLOCK_MAX_RAW); other spans are compressed alone. */
static int pack_spans(ingest_job_t *job, const ingest_options_t *o, arbor_iov_t body)
{
    job->blocks = arbor_arena_alloc(&job->arena, (job->n_spans / 2 + 1) * sizeof *job->blocks);
    if (job->blocks == NULL)
        return ENOMEM;
    for (size_t k = 0; k < job->n_spans;) {
        const uint8_t *trace = job->spans[job->order[k]].trace_id;
        size_t e = k, raw = 0;
        while (e < job->n_spans && memcmp(job->spans[job->order[e]].trace_id, trace, 16) == 0 &&
               raw + job->spans[job->order[e]].span_bytes.len <= ARBOR_BLOCK_MAX_RAW)
            raw += job->spans[job->order[e++]].span_bytes.len;
        int rc = e - k >= 2 ? pack_block(job, o, k, e, raw)
                            : pack_alone(&job->arena, o, &job->spans[job->order[k]], body);
        if (rc)
            return rc;
        k = e > k + 1 ? e : k + 1;
    }
    return 0;
}

static void note_rejection(ingest_job_t *job, const char *why)
{
    if (job->rejected++ == 0)
        snprintf(job->error_message, sizeof job->error_message, "%s", why);
}

/* Validate one span; returns NULL if valid, else the reason it is rejected. */
static const char *invalid_reason(const otlp_span_t *s)
{
    if (s->trace_id.len != 16 || arbor_is_zero(s->trace_id.base, 16))
        return "span rejected: trace_id must be 16 bytes and not all zero";
    if (s->span_id.len != 8 || arbor_is_zero(s->span_id.base, 8))
        return "span rejected: span_id must be 8 bytes and not all zero";
    if (s->parent_span_id.len != 0 && s->parent_span_id.len != 8)
        return "span rejected: parent_span_id must be empty or 8 bytes";
    for (size_t i = 0; i < s->n_links; i++) /* IDs are not text: nothing else may hide in them */
        if ((s->links[i].trace_id.len != 0 && s->links[i].trace_id.len != 16) ||
            (s->links[i].span_id.len != 0 && s->links[i].span_id.len != 8))
            return "span rejected: a link's trace_id must be empty or 16 bytes, its span_id empty or 8 bytes";
    return NULL;
}

/* Key order for the writer: LMDB fills pages well when keys arrive in order (a
 * split then leaves the old page full), half-empty when they arrive at random,
 * and span IDs are random. Equal keys keep their arrival order: a re-sent span
 * later in the request still wins. */
static int span_key_cmp(const void *pa, const void *pb, void *arg)
{
    const arbor_span_in_t *spans = arg;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    const arbor_span_in_t *x = &spans[a], *y = &spans[b];
    int c = memcmp(x->trace_id, y->trace_id, 16);
    if (c == 0)
        c = memcmp(x->span_id, y->span_id, 8);
    return c != 0 ? c : (a > b) - (a < b);
}

static int order_spans(ingest_job_t *job)
{
    job->order = arbor_arena_alloc(&job->arena, (job->n_spans + 1) * sizeof *job->order);
    if (job->order == NULL)
        return ENOMEM;
    for (size_t i = 0; i < job->n_spans; i++)
        job->order[i] = (uint32_t)i;
    qsort_r(job->order, job->n_spans, sizeof *job->order, span_key_cmp, job->spans);
    return 0;
}

/* What of a span the store keeps in its header and indexes, from the decoded
 * span (ids, times, tokens, shown duration, names, execution and workflow). */
static void span_header(const ingest_options_t *o, arbor_arena_t *a, const otlp_span_t *s, arbor_iov_t service,
                        arbor_span_in_t *in)
{
    memset(in, 0, sizeof *in);
    memcpy(in->trace_id, s->trace_id.base, 16);
    memcpy(in->span_id, s->span_id.base, 8);
    /* an all-zero parent is how some SDKs write "no parent" */
    if (s->parent_span_id.len == 8 && !arbor_is_zero(s->parent_span_id.base, 8)) {
        memcpy(in->parent_span_id, s->parent_span_id.base, 8);
        in->has_parent = 1;
    }
    in->start_ns = s->start_ns;
    in->end_ns = s->end_ns < s->start_ns ? s->start_ns : s->end_ns;
    in->kind = s->kind;
    in->status_code = s->status_code;
    in->has_tokens = otlp_span_tokens(&s->attrs, &in->tokens_in, &in->tokens_out);
    /* Orcheo's node spans are zero-length; their latency is an attribute */
    int64_t latency_ms;
    if (in->end_ns - in->start_ns < 1000000 &&
        otlp_value_as_int(otlp_attrs_get(&s->attrs, "orcheo.node.latency_ms"), &latency_ms) && latency_ms > 0 &&
        (uint64_t)latency_ms * 1000000u <= in->end_ns)
        in->shown_duration_ns = (uint64_t)latency_ms * 1000000u;
    in->name = s->name;
    in->service_name = service;
    const otlp_value_t *wf = otlp_attrs_get(&s->attrs, "orcheo.workflow.id");
    if (wf == NULL)
        wf = otlp_attrs_get(&s->attrs, "workflow.id");
    in->workflow_id = wf && wf->type == OTLP_VALUE_STRING ? wf->u.str : ARBOR_IOV_NULL;
    in->execution_id = find_exec_id(a, o, &s->attrs);
}

/* The span's entries for its trace's bloom and the tag catalog: the name (every
 * name, "" too: { name = "" } is answered from the bloom), span attributes, the
 * resource's once per run of spans of one trace (*res_trace remembers it: a batch
 * is usually one trace), event and link attributes. 0 or ENOMEM. */
static int span_index(arbor_arena_t *a, const otlp_span_t *s, const otlp_attrs_t *res_attrs, const uint8_t **res_trace,
                      arbor_span_in_t *in)
{
    otlp_attrs_t span_attrs; /* a repeated key: only its last value counts (otlp.h) */
    if (otlp_attrs_unique(a, &s->attrs, &span_attrs) != 0)
        return ENOMEM;
    int with_res = *res_trace == NULL || memcmp(*res_trace, in->trace_id, 16) != 0;
    size_t span_room = index_room(&span_attrs, INDEX_SPAN_ATTRS);
    size_t res_room = with_res ? index_room(res_attrs, INDEX_RESOURCE_ATTRS) : 0, el_room = event_link_room(s);
    arbor_attr_in_t *idx = arbor_arena_alloc(a, (1 + span_room + res_room + el_room) * sizeof *idx);
    if (idx == NULL)
        return ENOMEM;
    idx[0] = (arbor_attr_in_t){.scope = ARBOR_SCOPE_INTRINSIC, .type = ARBOR_VAL_STRING, .key = ARBOR_IOV("name"),
                               .str = s->name};
    size_t ni = 1 + index_attrs(idx + 1, span_room, ARBOR_SCOPE_SPAN, &span_attrs, &in->attrs_incomplete);
    if (with_res) {
        ni += index_attrs(idx + ni, res_room, ARBOR_SCOPE_RESOURCE, res_attrs, &in->attrs_incomplete);
        *res_trace = in->trace_id;
    }
    size_t el = 0;
    if (index_events_links(a, s, idx + ni, el_room, &el) != 0)
        return ENOMEM;
    in->attrs = idx;
    in->n_attrs = ni + el;
    return 0;
}

/* The artifacts a span names: downloads are served only for these, per tenant.
 * 0 or ENOMEM. */
static int span_artifacts(arbor_arena_t *a, const otlp_span_t *s, arbor_span_in_t *in)
{
    size_t n = otlp_span_artifact_ids(s, NULL, 0);
    n = n < OTLP_MAX_ARTIFACTS ? n : OTLP_MAX_ARTIFACTS;
    if (n == 0)
        return 0;
    arbor_iov_t *ids = arbor_arena_alloc(a, n * sizeof *ids);
    if (ids == NULL)
        return ENOMEM;
    otlp_span_artifact_ids(s, ids, n);
    in->artifact_ids = ids;
    in->n_artifact_ids = n;
    return 0;
}

/* The scope's / resource's record, packed into the arena: 0 or ENOMEM. */
static int pack_scope(arbor_arena_t *a, const otlp_scope_t *scope, arbor_iov_t *out)
{
    size_t n = otlp_scope_record_size(scope);
    uint8_t *bytes = arbor_arena_alloc(a, n ? n : 1);
    if (bytes == NULL)
        return ENOMEM;
    *out = arbor_iov(bytes, otlp_scope_record_pack(scope, bytes));
    return 0;
}

static int pack_resource(arbor_arena_t *a, const otlp_resource_t *res, arbor_iov_t *out)
{
    size_t n = otlp_resource_record_size(res);
    uint8_t *bytes = arbor_arena_alloc(a, n ? n : 1);
    if (bytes == NULL)
        return ENOMEM;
    *out = arbor_iov(bytes, otlp_resource_record_pack(res, bytes));
    return 0;
}

/* Redact a span (after content capture is applied), and refuse it when its
 * bytes cannot be judged: nothing unjudged is stored. 0, 1 (refused) or ENOMEM. */
static int judge_span(ingest_job_t *job, const ingest_options_t *o, otlp_span_t *s)
{
    arbor_arena_t *a = &job->arena;
    size_t redacted = 0, dropped;
    if (!o->capture_content && otlp_span_drop_content(s, a, &dropped) != 0)
        return ENOMEM;
    int rc = otlp_span_redact(o->redactor, s, a, &redacted);
    job->redacted += redacted;
    if (rc == ARBOR_EDECODE) {
        note_rejection(job, "span rejected: its bytes could not be read for redaction");
        return 1;
    }
    return rc;
}

/* The valid spans of one ResourceSpans into the job, with the resource and scope
 * records they use. The resource and each scope are redacted first, so the
 * service name and indexes see what is stored. 0, ENOMEM or ARBOR_EDECODE. */
static int take_resource_spans(ingest_job_t *job, const ingest_options_t *o, otlp_resource_spans_t *rs)
{
    arbor_arena_t *a = &job->arena;
    size_t redacted = 0;
    int rc = otlp_resource_redact(o->redactor, &rs->resource, a, &redacted);
    job->redacted += redacted;
    if (rc)
        return rc;
    const otlp_value_t *svc = otlp_attrs_get(&rs->resource.attrs, "service.name");
    arbor_iov_t service = svc && svc->type == OTLP_VALUE_STRING ? svc->u.str : ARBOR_IOV_NULL;
    arbor_iov_t resource_exec = find_exec_id(a, o, &rs->resource.attrs);
    otlp_attrs_t res_attrs; /* indexed with each key once, the last value of a repeated one */
    if (otlp_attrs_unique(a, &rs->resource.attrs, &res_attrs) != 0)
        return ENOMEM;
    uint32_t res_idx = (uint32_t)job->n_resources;
    int res_used = 0;
    const uint8_t *res_trace = NULL; /* trace whose spans last carried the resource attributes */
    for (size_t sc = 0; sc < rs->n_scopes; sc++) {
        otlp_scope_spans_t *ss = &rs->scopes[sc];
        int scope_used = 0;
        for (size_t i = 0; i < ss->n_spans; i++) {
            otlp_span_t *s = &ss->spans[i];
            const char *why = invalid_reason(s);
            if (why != NULL) {
                note_rejection(job, why);
                continue;
            }
            if ((rc = judge_span(job, o, s)) == 1) /* before anything reads, indexes or stores it */
                continue;
            if (rc)
                return rc;
            arbor_span_in_t *in = &job->spans[job->n_spans];
            span_header(o, a, s, service, in);
            if (span_index(a, s, &res_attrs, &res_trace, in) != 0 || span_artifacts(a, s, in) != 0)
                return ENOMEM;
            if (in->execution_id.len == 0)
                in->execution_id = resource_exec;
            if (span_bytes(a, s, in) != 0)
                return ENOMEM;
            job->span_resource[job->n_spans] = res_idx;
            job->span_scope[job->n_spans] = (uint32_t)job->n_scopes;
            job->n_spans++;
            scope_used = res_used = 1;
        }
        if (!scope_used)
            continue;
        if ((rc = otlp_scope_redact(o->redactor, &ss->scope, a, &redacted)) != 0)
            return rc;
        job->redacted += redacted;
        if (pack_scope(a, &ss->scope, &job->scopes[job->n_scopes++]) != 0)
            return ENOMEM;
    }
    if (res_used && pack_resource(a, &rs->resource, &job->resources[job->n_resources++]) != 0)
        return ENOMEM;
    return 0;
}

int ingest_decode(ingest_job_t *job, const ingest_options_t *o, otlp_encoding_t enc, const void *body, size_t len,
                  char *err, size_t errlen)
{
    otlp_request_t req;
    arbor_arena_t *a = &job->arena;
    size_t budget = a->used + INGEST_ARENA_PER_BODY_BYTE * len + INGEST_ARENA_BASE_BYTES;
    if (o->arena_limit == 0 || budget < o->arena_limit)
        a->limit = budget;
    int rc = otlp_request_decode(a, enc, body, len, &req, err, errlen);
    if (rc)
        return rc;
    size_t n_scopes = 0;
    for (size_t r = 0; r < req.count; r++)
        n_scopes += req.items[r].n_scopes;
    job->spans = arbor_arena_alloc(a, (req.n_spans + 1) * sizeof *job->spans);
    job->span_resource = arbor_arena_alloc(a, (req.n_spans + 1) * sizeof(uint32_t));
    job->span_scope = arbor_arena_alloc(a, (req.n_spans + 1) * sizeof(uint32_t));
    job->resources = arbor_arena_alloc(a, (req.count + 1) * sizeof(arbor_iov_t));
    job->scopes = arbor_arena_alloc(a, (n_scopes + 1) * sizeof(arbor_iov_t));
    rc = job->spans && job->span_resource && job->span_scope && job->resources && job->scopes ? 0 : ENOMEM;
    for (size_t r = 0; r < req.count && rc == 0; r++)
        rc = take_resource_spans(job, o, &req.items[r]);
    if (rc == ARBOR_EDECODE) {
        snprintf(err, errlen, "a resource or scope could not be read for redaction");
        return rc;
    }
    if (rc == 0)
        rc = order_spans(job);
    if (rc == 0)
        rc = pack_spans(job, o, arbor_iov(body, len));
    if (rc == 0)
        return 0;
    if (a->overflowed) {
        snprintf(err, errlen, "request needs more memory than allowed to decode");
        return ARBOR_ETOOBIG;
    }
    snprintf(err, errlen, "out of memory");
    return ENOMEM;
}

/* Output of one inflate call, grown by doubling up to limit + 1 bytes (one past
 * the limit tells "too big" from "exactly the limit"). */
typedef struct {
    uint8_t *buf;
    size_t cap, used, limit;
} inflate_out_t;

/* Inflate one stream (one gzip member) from @p zs into @p o: 0 at its end,
 * ARBOR_ETOOBIG past the limit, ARBOR_EDECODE for corrupt or truncated input. */
static int inflate_member(z_stream *zs, inflate_out_t *o)
{
    for (;;) {
        if (o->used == o->cap) {
            if (o->cap > o->limit) /* produced more than the limit: a bomb or simply too big */
                return ARBOR_ETOOBIG;
            size_t ncap = o->cap * 2 > o->limit + 1 ? o->limit + 1 : o->cap * 2;
            uint8_t *nb = realloc(o->buf, ncap);
            if (nb == NULL)
                return ENOMEM;
            o->buf = nb;
            o->cap = ncap;
        }
        zs->next_out = o->buf + o->used;
        zs->avail_out = (uInt)(o->cap - o->used);
        int zrc = inflate(zs, Z_NO_FLUSH);
        o->used = o->cap - zs->avail_out;
        if (zrc == Z_STREAM_END)
            return o->used > o->limit ? ARBOR_ETOOBIG : 0;
        if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && zs->avail_out == 0))
            return zrc == Z_MEM_ERROR ? ENOMEM : ARBOR_EDECODE;
        if (zs->avail_in == 0 && zs->avail_out != 0) /* input ended before the stream did */
            return ARBOR_EDECODE;
    }
}

static int is_gzip_header(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Inflate all of @p in with zlib window bits @p wbits. A gzip body may hold
 * several members back to back (RFC 1952 §2.2: they decode as one): each is
 * inflated; anything else after the end of the stream is an error. */
static int inflate_all(const uint8_t *in, size_t in_len, int wbits, inflate_out_t *o, uLong *total_out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, wbits) != Z_OK)
        return ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    int rc;
    while ((rc = inflate_member(&zs, o)) == 0 && zs.avail_in > 0) {
        if (!is_gzip_header(in, in_len) || !is_gzip_header(zs.next_in, zs.avail_in)) {
            rc = ARBOR_EDECODE; /* trailing bytes that are not another gzip member */
            break;
        }
        inflateReset(&zs);
    }
    *total_out = zs.total_out;
    inflateEnd(&zs);
    return rc;
}

int ingest_inflate(arbor_arena_t *arena, const void *in, size_t in_len, size_t limit, arbor_iov_t *out)
{
    if (in_len > UINT_MAX)
        return ARBOR_ETOOBIG;
    /* 15+32: zlib detects gzip or zlib headers itself; raw deflate (some clients
     * send it as "deflate") is tried when that fails on the header */
    static const int wbits[] = {15 + 32, -15};
    int rc = ARBOR_EDECODE;
    for (size_t attempt = 0; attempt < 2; attempt++) {
        size_t cap = in_len * 4 + 4096;
        inflate_out_t o = {malloc(cap > limit + 1 ? limit + 1 : cap), cap > limit + 1 ? limit + 1 : cap, 0, limit};
        if (o.buf == NULL)
            return ENOMEM;
        uLong total_out = 0;
        rc = inflate_all(in, in_len, wbits[attempt], &o, &total_out);
        if (rc == 0) {
            char *copy = arbor_arena_alloc(arena, o.used ? o.used : 1);
            if (copy == NULL)
                rc = arena->overflowed ? ARBOR_ETOOBIG : ENOMEM;
            else
                *out = arbor_iov(memcpy(copy, o.buf, o.used), o.used);
        }
        free(o.buf);
        if (!(rc == ARBOR_EDECODE && total_out == 0 && attempt == 0))
            break;
    }
    return rc;
}
