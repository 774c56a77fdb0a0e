#include "textmatch.h"

#include <stdio.h>
#include <strings.h>

int text_contains(arbor_iov_t hay, arbor_iov_t needle)
{
    if (needle.len == 0)
        return 1;
    for (size_t i = 0; i + needle.len <= hay.len; i++)
        if (strncasecmp(hay.base + i, needle.base, needle.len) == 0)
            return 1;
    return 0;
}

static int attrs_mention(const otlp_attrs_t *a, arbor_iov_t needle, int keys)
{
    for (size_t i = 0; i < a->count; i++)
        if ((keys && text_contains(a->items[i].key, needle)) || text_value_contains(&a->items[i].value, needle))
            return 1;
    return 0;
}

int text_value_contains(const otlp_value_t *v, arbor_iov_t needle)
{
    char num[40];
    if (v == NULL)
        return 0;
    switch (v->type) {
    case OTLP_VALUE_STRING:
        return text_contains(v->u.str, needle);
    case OTLP_VALUE_INT:
        return text_contains(arbor_iov(num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i)), needle);
    case OTLP_VALUE_DOUBLE:
        return text_contains(arbor_iov(num, (size_t)snprintf(num, sizeof num, "%g", v->u.d)), needle);
    case OTLP_VALUE_BOOL:
        return text_contains(v->u.boolean ? ARBOR_IOV("true") : ARBOR_IOV("false"), needle);
    case OTLP_VALUE_ARRAY:
        for (size_t i = 0; i < v->u.array.count; i++)
            if (text_value_contains(&v->u.array.items[i], needle))
                return 1;
        return 0;
    case OTLP_VALUE_KVLIST:
        return attrs_mention(&v->u.kvlist, needle, 1);
    default:
        return 0;
    }
}

int text_span_mentions(const otlp_span_t *s, arbor_iov_t needle)
{
    if (text_contains(s->name, needle) || text_contains(s->status_message, needle) || attrs_mention(&s->attrs, needle, 1))
        return 1;
    for (size_t i = 0; i < s->n_events; i++)
        if (text_contains(s->events[i].name, needle) || attrs_mention(&s->events[i].attrs, needle, 1))
            return 1;
    return 0;
}
