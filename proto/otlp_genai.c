/* Attribute lookups and the GenAI token conventions (reference/otlp.md §3),
 * shared by the collector (trace summaries) and the query service (per span). */
#include "otlp.h"

#include <errno.h>
#include <stdlib.h>

const otlp_value_t *otlp_attrs_get(const otlp_attrs_t *attrs, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < attrs->count; i++) {
        const otlp_kv_t *kv = &attrs->items[i];
        if (kv->key.len == kl && memcmp(kv->key.base, key, kl) == 0)
            return &kv->value;
    }
    return NULL;
}

int otlp_value_as_int(const otlp_value_t *v, int64_t *out)
{
    if (v == NULL)
        return 0;
    switch (v->type) {
    case OTLP_VALUE_INT:
        *out = v->u.i;
        return 1;
    case OTLP_VALUE_DOUBLE:
        if (!(v->u.d > -9.2e18 && v->u.d < 9.2e18))
            return 0;
        *out = (int64_t)v->u.d;
        return 1;
    case OTLP_VALUE_STRING: {
        char buf[32];
        if (v->u.str.len == 0 || v->u.str.len >= sizeof buf)
            return 0;
        memcpy(buf, v->u.str.base, v->u.str.len);
        buf[v->u.str.len] = '\0';
        char *end;
        errno = 0;
        double d = strtod(buf, &end);
        if (errno != 0 || *end != '\0' || !(d > -9.2e18 && d < 9.2e18))
            return 0;
        *out = (int64_t)d;
        return 1;
    }
    default:
        return 0;
    }
}

static const struct {
    const char *in, *out;
} token_conventions[] = {
    {"orcheo.token.input", "orcheo.token.output"},
    {"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"},
    {"gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens"},
    {"llm.token_count.prompt", "llm.token_count.completion"},
    {"model.tokens_input", "model.tokens_output"},
};

int otlp_span_tokens(const otlp_attrs_t *attrs, int64_t *in, int64_t *out)
{
    for (size_t i = 0; i < sizeof token_conventions / sizeof token_conventions[0]; i++) {
        int64_t a = 0, b = 0;
        int has_in = otlp_value_as_int(otlp_attrs_get(attrs, token_conventions[i].in), &a);
        int has_out = otlp_value_as_int(otlp_attrs_get(attrs, token_conventions[i].out), &b);
        if (has_in || has_out) {
            *in = a > 0 ? a : 0;
            *out = b > 0 ? b : 0;
            return 1;
        }
    }
    *in = *out = 0;
    return 0;
}
