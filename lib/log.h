/*
 * log: JSON lines on stderr, one write(2) per line.
 *
 * Each line carries ts, level, svc, pid, and the request context (route and
 * request id, nginx's, passed through, and the trace id) when one is set.  There is no call to
 * log a request body, a header or a credential: callers log events and
 * chosen fields only.  Personal data goes through log_mask_* first.
 */
#ifndef CB_LOG_H
#define CB_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR
};

void	 log_init(const char *service, enum log_level min);
int	 log_level_parse(const char *, enum log_level *);
void	 log_set_min(enum log_level);
/* The request context stamped on every line; NULLs clear it. */
void	 log_set_context(const char *route, const char *request_id);
/*
 * The trace id (32 hex digits, lib/trace.h) stamped on every line as
 * "trace_id" while set: the request's, or the outbox row's a worker is
 * delivering.  NULL or "" clears it; log_set_context leaves it alone.
 */
void	 log_set_trace(const char *trace_id);
/* A free-text message (never interpolate secrets or personal data). */
void	 log_msg(enum log_level, const char *event, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * Key/value pairs of strings, ending with NULL:
 *   log_kv(LOG_LVL_INFO, "request", "status", "200", NULL);
 */
void	 log_kv(enum log_level, const char *event, ...)
	    __attribute__((sentinel));

/* "jane.doe@example.com" -> "j***@example.com"; non-emails mask fully. */
void	 log_mask_email(const char *in, char *out, size_t outsz);
/* Keep the first character, mask the rest: "Jane" -> "J***". */
void	 log_mask(const char *in, char *out, size_t outsz);

#endif
