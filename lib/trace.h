/*
 * trace: W3C Trace Context (the `traceparent` header, version 00) for one
 * request's trace across nginx, the responders, the worker and the
 * services it calls (docs/tracing.md).
 *
 *   traceparent = "00-" trace-id "-" parent-id "-" trace-flags
 *   trace-id    32 lower-case hex digits, not all zeros
 *   parent-id   16 lower-case hex digits, not all zeros
 *   trace-flags  2 lower-case hex digits
 *
 * The parser is strict: exactly 55 characters in that shape, nothing
 * around them.  Anything else is not a traceparent, and the caller starts
 * a new trace (a bad header is never a reason to refuse a request).
 */
#ifndef CB_TRACE_H
#define CB_TRACE_H

#include <stddef.h>

#define TRACE_ID_HEX		32
#define TRACE_SPAN_HEX		16
#define TRACE_HEADER_LEN	55	/* "00-" + 32 + "-" + 16 + "-" + 2 */
#define TRACE_FLAG_SAMPLED	0x01u

struct trace {
	char		 id[TRACE_ID_HEX + 1];		/* "" when there is none */
	char		 span[TRACE_SPAN_HEX + 1];	/* the parent (caller's) span */
	unsigned	 flags;
};

/* CB_OK and *out filled, or CB_ERR_VALIDATION (and *out cleared). */
int	 trace_parse(const char *, struct trace *out);
/*
 * The trace nginx started for a request that came without a valid
 * traceparent (nginx/trace.conf): its $request_id (32 lower-case hex
 * digits, not all zeros) is the trace id, and its last 16 digits (not all
 * zeros) are nginx's span id; sampled.  CB_OK and *out filled, or
 * CB_ERR_VALIDATION (and *out cleared).
 */
int	 trace_from_request_id(const char *, struct trace *out);
/* A new trace: random trace id and span id, sampled. */
void	 trace_start(struct trace *out);
/* The same trace with a new random span id: what an outbound call sends. */
void	 trace_child(const struct trace *parent, struct trace *out);
/* The header value (TRACE_HEADER_LEN characters and a NUL); "" for no trace. */
void	 trace_format(const struct trace *, char out[TRACE_HEADER_LEN + 1]);
/* 1 if the trace has an id. */
int	 trace_set(const struct trace *);

#endif
