/*
 * log: see log.h.  The only mutable state is the service name, the minimum
 * level and the current request context: one request at a time per process.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

static char		 log_service[32] = "cb";
static enum log_level	 log_min = LOG_LVL_INFO;
static char		 log_route[128];
static char		 log_reqid[72];
static char		 log_trace[40];

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *service, enum log_level min)
{
	util_strlcpy(log_service, service, sizeof(log_service));
	log_min = min;
}

void
log_set_min(enum log_level min)
{
	log_min = min;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_set_context(const char *route, const char *request_id)
{
	util_strlcpy(log_route, route ? route : "", sizeof(log_route));
	util_strlcpy(log_reqid, request_id ? request_id : "", sizeof(log_reqid));
}

void
log_set_trace(const char *trace_id)
{
	util_strlcpy(log_trace, trace_id ? trace_id : "", sizeof(log_trace));
}

static void
log_head(struct buf *b, enum log_level lvl, const char *event)
{
	char	 ts[40];

	util_iso8601(ts, sizeof(ts));
	buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"svc\":", ts, log_names[lvl]);
	buf_json_str(b, log_service);
	buf_printf(b, ",\"pid\":%ld,\"event\":", (long)getpid());
	buf_json_str(b, event);
	if (log_route[0]) {
		buf_puts(b, ",\"route\":");
		buf_json_str(b, log_route);
	}
	if (log_reqid[0]) {
		buf_puts(b, ",\"request_id\":");
		buf_json_str(b, log_reqid);
	}
	if (log_trace[0]) {
		buf_puts(b, ",\"trace_id\":");
		buf_json_str(b, log_trace);
	}
}

/*
 * Values longer than this are cut (at a character boundary, marked) so a
 * line always fits the line buffer and stays one valid JSON object.
 */
#define LOG_VALUE_MAX	2048

static void
log_value(struct buf *b, const char *v)
{
	size_t	 n = strlen(v);

	if (n <= LOG_VALUE_MAX) {
		buf_json_strn(b, v, n);
		return;
	}
	n = LOG_VALUE_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	buf_json_strn(b, v, n);
	b->len--;			/* reopen the literal to mark the cut */
	buf_puts(b, "...[truncated]\"");
}

static void
log_emit(struct buf *b)
{
	const char	*p;
	size_t		 left;
	ssize_t		 n;

	if (buf_puts(b, "}\n") != 0) {
		/* Over the cap: never emit a torn line. */
		buf_reset(b);
		buf_puts(b, "{\"level\":\"error\",\"event\":\"log_line_too_long\"}\n");
	}
	p = b->data;
	left = b->len;
	while (left > 0) {
		n = write(STDERR_FILENO, p, left);
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
}

void
log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
{
	struct buf	 b, m;
	va_list		 ap;

	if (lvl < log_min)
		return;
	buf_init(&b, 65536);
	buf_init(&m, 8192);
	log_head(&b, lvl, event);
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	buf_puts(&b, ",\"msg\":");
	log_value(&b, buf_cstr(&m));
	log_emit(&b);
	buf_free(&m);
	buf_free(&b);
}

void
log_kv(enum log_level lvl, const char *event, ...)
{
	struct buf	 b;
	va_list		 ap;
	const char	*k, *v;

	if (lvl < log_min)
		return;
	buf_init(&b, 1024 * 1024);
	log_head(&b, lvl, event);
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		buf_putc(&b, ',');
		log_value(&b, k);
		buf_putc(&b, ':');
		log_value(&b, v ? v : "");
	}
	va_end(ap);
	log_emit(&b);
	buf_free(&b);
}

/* Bytes of the first UTF-8 character of s (1 for anything malformed). */
static size_t
log_first_char(const char *s)
{
	unsigned char	 c = (unsigned char)s[0];
	size_t		 n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1, i;

	for (i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

void
log_mask_email(const char *in, char *out, size_t outsz)
{
	const char	*at;

	if (outsz == 0)
		return;
	at = in ? strrchr(in, '@') : NULL;
	if (at == NULL || at == in) {
		util_strlcpy(out, "***", outsz);
		return;
	}
	snprintf(out, outsz, "%.*s***%s", (int)log_first_char(in), in, at);
}

void
log_mask(const char *in, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	if (in == NULL || in[0] == '\0') {
		util_strlcpy(out, "", outsz);
		return;
	}
	snprintf(out, outsz, "%.*s***", (int)log_first_char(in), in);
}
