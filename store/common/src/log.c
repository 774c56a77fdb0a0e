#include "arbor/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

const char *const arbor_log_level_names[] = {"debug", "info", "warn", "error", NULL};
int arbor_log_level = ARBOR_LOG_INFO;

static void vlog(int level, const char *event, const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)tv.tv_usec / 1000, arbor_log_level_names[level], event);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* one write(2) per line keeps lines from different threads whole */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void arbor_log(int level, const char *event, const char *fmt, ...)
{
    va_list ap;
    if (level < arbor_log_level)
        return;
    va_start(ap, fmt);
    vlog(level, event, fmt, ap);
    va_end(ap);
}

const char *arbor_log_escape(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    if (cap < 8)
        return cap ? (buf[0] = '\0', buf) : buf;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 || c >= 0x7f ? 4 : 1;
        if (j + need + 4 > cap) { /* room for "..." and the NUL */
            memcpy(buf + j, "...", 3);
            j += 3;
            break;
        }
        if (need == 2) {
            buf[j++] = '\\';
            buf[j++] = (char)c;
        } else if (need == 4) {
            buf[j++] = '\\', buf[j++] = 'x', buf[j++] = hex[c >> 4], buf[j++] = hex[c & 15];
        } else {
            buf[j++] = (char)c;
        }
    }
    buf[j] = '\0';
    return buf;
}

void arbor_log_lifecycle(const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(ARBOR_LOG_INFO, event, fmt, ap);
    va_end(ap);
}

void arbor_log_warn_if_root(const char *program)
{
    if (geteuid() == 0)
        arbor_warn("running_as_root", "program=%s advice=\"run as an unprivileged user (deploy/systemd: user arbor): "
                   "the store holds every prompt and response, and nothing here needs root\"", program);
}
