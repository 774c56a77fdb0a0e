/* A streaming JSON writer into a growable buffer. Strings are escaped and any
 * invalid UTF-8 is replaced with U+FFFD, so output is always valid UTF-8 JSON.
 * Commas are placed automatically. Allocation failure aborts (daemon policy). */
#ifndef ARBOR_QUERY_JSONW_H
#define ARBOR_QUERY_JSONW_H

#include "arbor/base.h"

#include <stdint.h>
#include <string.h>

#define JSONW_MAX_DEPTH 128

typedef struct {
    char *buf;
    size_t len, cap;
    int depth;
    uint8_t need_comma[JSONW_MAX_DEPTH];
} jsonw_t;

void jsonw_init(jsonw_t *w);
void jsonw_free(jsonw_t *w);
/** Take the buffer (caller frees with free()); the writer is reset. */
char *jsonw_take(jsonw_t *w, size_t *len);

void jsonw_object(jsonw_t *w);
void jsonw_object_end(jsonw_t *w);
void jsonw_array(jsonw_t *w);
void jsonw_array_end(jsonw_t *w);
/** Object key; the next call writes its value. */
void jsonw_key(jsonw_t *w, const char *key);
/* A key written as a C string literal (the compiler refuses anything else): its
 * length is known and Arbor's own keys need no escaping, so the quoted key and
 * its colon are copied in one go. Most keys of every answer go this way. */
#define jsonw_key_lit(w, lit) jsonw_key_raw((w), "\"" lit "\":", sizeof(lit) + 2)
/* Room for @p n more bytes (the slow path of every write). */
void jsonw_grow(jsonw_t *w, size_t n);
/* @p quoted: a key already quoted and followed by its colon (jsonw_key_lit).
 * Inline, so a literal's length is a constant and the copy a few moves. */
static inline void jsonw_key_raw(jsonw_t *w, const char *quoted, size_t len)
{
    if (w->len + len + 1 > w->cap)
        jsonw_grow(w, len + 1);
    if (w->need_comma[w->depth])
        w->buf[w->len++] = ',';
    memcpy(w->buf + w->len, quoted, len);
    w->len += len;
    w->need_comma[w->depth] = 0; /* the value that follows needs no comma */
}
void jsonw_key_iov(jsonw_t *w, arbor_iov_t key);
void jsonw_str(jsonw_t *w, arbor_iov_t s);
void jsonw_cstr(jsonw_t *w, const char *s);
/** A string the caller knows is longer than @p max_chars code points
 * (utf8_longer_than()), cut to max_chars of them, the last being "…". */
void jsonw_str_cut(jsonw_t *w, arbor_iov_t s, size_t max_chars);
void jsonw_int(jsonw_t *w, int64_t v);
void jsonw_uint(jsonw_t *w, uint64_t v);
void jsonw_double(jsonw_t *w, double v);
void jsonw_bool(jsonw_t *w, int v);
void jsonw_null(jsonw_t *w);
/** Lowercase hex of bytes, as a string. */
void jsonw_hex(jsonw_t *w, const void *bytes, size_t n);
/** ISO-8601 UTC timestamp with microseconds ("…Z"), or null for 0. */
void jsonw_time(jsonw_t *w, uint64_t unix_ns);
/** Raw, already valid JSON text as a value. */
void jsonw_raw(jsonw_t *w, const char *json, size_t len);
/** Append bytes with no JSON structure at all (for non-JSON bodies built here). */
void jsonw_append(jsonw_t *w, const char *text, size_t len);

/** Number of code points in valid-or-repaired UTF-8 @p s. */
size_t utf8_length(arbor_iov_t s);
/** 1 if @p s has more than @p max_chars code points (stops counting past them). */
int utf8_longer_than(arbor_iov_t s, size_t max_chars);

#endif
