/**
 * @file log.h
 * @brief One line per event on stderr: `ts=… level=… event=… key=value …`.
 */
#ifndef ARBOR_LOG_H
#define ARBOR_LOG_H

#include <stddef.h>

enum { ARBOR_LOG_DEBUG = 0, ARBOR_LOG_INFO, ARBOR_LOG_WARN, ARBOR_LOG_ERROR };
extern const char *const arbor_log_level_names[]; /* NULL-terminated, for the config enum */
extern int arbor_log_level;

/** Log @p event with a printf-style tail of key=value pairs. Thread-safe (one write). */
void arbor_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Lifecycle events (ready, shutdown): printed at level info whatever the log level,
 *  because supervisors and tests read them. */
void arbor_log_lifecycle(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * @p s made safe to print inside a quoted log value: `"` and `\\` escaped, control
 * and non-ASCII bytes as \\xNN, so input can never forge a field or a line. Cut
 * to fit @p cap (ending in "..."). Returns @p buf.
 */
const char *arbor_log_escape(char *buf, size_t cap, const char *s, size_t len);

/** Warn (event=running_as_root) when the process runs with effective UID 0. */
void arbor_log_warn_if_root(const char *program);

#define arbor_debug(ev, ...) arbor_log(ARBOR_LOG_DEBUG, ev, __VA_ARGS__)
#define arbor_info(ev, ...) arbor_log(ARBOR_LOG_INFO, ev, __VA_ARGS__)
#define arbor_warn(ev, ...) arbor_log(ARBOR_LOG_WARN, ev, __VA_ARGS__)
#define arbor_error(ev, ...) arbor_log(ARBOR_LOG_ERROR, ev, __VA_ARGS__)

#endif
