/*
 * httpc: the one outbound HTTP layer.  Every byte the broker sends to
 * another service (Salesforce, webhook receivers, Slack) goes through it.
 *
 * One struct httpc is one libcurl multi handle: many transfers in flight
 * from one process and one thread, connections kept alive and reused per
 * host.  Each transfer has a connect timeout and a total timeout, a capped
 * response body, no redirects (a 3xx is an answer, never followed), TLS
 * verification on, and only http and https.
 *
 * The egress guard runs on the address libcurl is about to connect to
 * (CURLOPT_OPENSOCKETFUNCTION), after DNS, so a name that resolves (or
 * re-resolves: DNS rebinding) to an internal address is refused there:
 *   - the URL's host must match the transfer's allowlist (exact names, or
 *     "*.example.com" for any subdomain; an empty list allows any host);
 *   - the resolved address must be public, unless "host:port" is in the
 *     process's private allowlist (httpc_new): loopback, RFC 1918,
 *     CGNAT 100.64/10, link-local (169.254/16, fe80::/10, which includes the
 *     cloud metadata address 169.254.169.254), unique-local fc00::/7,
 *     0.0.0.0/8, multicast and reserved ranges, and IPv4-mapped IPv6 forms
 *     of all of these are refused;
 *   - plain http is spoken only to a host:port on the private allowlist.
 * A refused transfer completes with HTTPC_EGRESS and no packet sent.
 * The rules themselves are lib/egress (egress.h); this layer applies them,
 * and is the only code in the broker that calls libcurl.
 *
 * Guarantees: every buffer grown from a response is capped; request
 * headers and bodies may hold secrets, so httpc wipes its copies of them;
 * nothing here logs a header or a body.  Not thread-safe: one struct httpc
 * belongs to one thread.
 */
#ifndef CB_HTTPC_H
#define CB_HTTPC_H

#include <stddef.h>

#include "buf.h"
#include "egress.h"
#include "trace.h"

#define HTTPC_DEFAULT_CONNECT_MS	5000L
#define HTTPC_DEFAULT_TIMEOUT_MS	30000L
#define HTTPC_DEFAULT_RESPONSE_MAX	(1024u * 1024u)
#define HTTPC_HEADERS_MAX		32	/* request headers per transfer */
#define HTTPC_CAPTURE_MAX		4	/* response headers captured per transfer */
#define HTTPC_HEADER_VALUE_MAX		256u	/* longest captured header value */

/* How a transfer ended, apart from the HTTP status. */
enum httpc_err {
	HTTPC_OK = 0,		/* an HTTP answer (any status) was read whole */
	HTTPC_TIMEOUT,		/* connect or total timeout */
	HTTPC_CONNECT,		/* refused, unreachable, DNS failure */
	HTTPC_DROPPED,		/* connection closed or reset mid-exchange */
	HTTPC_TLS,		/* certificate or handshake refused */
	HTTPC_TOO_LARGE,	/* response body over the cap */
	HTTPC_EGRESS,		/* refused by the egress guard: nothing was sent */
	HTTPC_BAD_URL,		/* malformed URL, unsupported scheme */
	HTTPC_ABORTED		/* httpc_free() or httpc_abort_all() ended it */
};

struct httpc_req {
	const char	*method;	/* "GET", "POST", "PATCH", ... */
	const char	*url;
	const char	*headers[HTTPC_HEADERS_MAX + 1]; /* "Name: value", NULL-terminated */
	const char	*body;		/* NULL: none; copied at start, wiped after */
	size_t		 bodylen;
	long		 connect_timeout_ms;	/* <= 0: HTTPC_DEFAULT_CONNECT_MS */
	long		 timeout_ms;		/* <= 0: HTTPC_DEFAULT_TIMEOUT_MS */
	size_t		 response_max;		/* 0: HTTPC_DEFAULT_RESPONSE_MAX */
	const char	*const *allow_hosts;	/* NULL-terminated; NULL or empty: any host */
	/* Response headers to capture (case-insensitive), e.g. "Sforce-Limit-Info". */
	const char	*capture[HTTPC_CAPTURE_MAX + 1];
	/*
	 * 1: a new connection, never a kept one.  libcurl sends a request
	 * again by itself when a kept connection turns out closed before any
	 * byte of the answer, and the first one may have been taken: a call
	 * that must not happen twice (a Slack message) asks for this.
	 */
	int		 fresh_connect;
};

struct httpc_resp {
	int		 err;		/* enum httpc_err */
	long		 status;	/* 0 without an HTTP answer */
	int		 tls_cert;	/* with HTTPC_TLS: 1 if a certificate was
					   refused (the peer's, or our CA or client
					   certificate files): a setup problem that
					   no retry fixes; 0 for a handshake that
					   failed otherwise */
	struct buf	 body;		/* capped at response_max; data is always a
					   NUL-terminated string, "" unless err is
					   HTTPC_OK (a partial answer is dropped) */
	long		 retry_after_s;	/* Retry-After (delay-seconds or HTTP-date), -1 if absent */
	char		 captured[HTTPC_CAPTURE_MAX][HTTPC_HEADER_VALUE_MAX]; /* "" if absent */
	char		 message[256];	/* what went wrong, for logs: never holds a header or body */
	double		 elapsed_ms;
};

struct httpc;
struct httpc_xfer;

/*
 * Called once per transfer when it ends, whatever the outcome, from
 * httpc_run, httpc_abort_all or httpc_free: never from inside httpc_start
 * (a transfer refused at start ends on the next httpc_run), nor from
 * httpc_do.
 * The response and its body live only for the call: copy what you keep.
 * A callback may start transfers and drive the handle, but never free it.
 */
typedef void	(*httpc_done_fn)(const struct httpc_resp *, void *ud);

/*
 * private_allow: "host:port" entries (comma or space separated, may be NULL)
 * that may resolve to non-public addresses and may use plain http: the
 * bundled fakes, an on-premises proxy.  user_agent: NULL for a default.
 * Initialises libcurl globally (reference counted): call before threads.
 * NULL (and the bad entry logged) if private_allow is malformed or there
 * are more than 64 entries, or if libcurl fails to initialise.  Proxies
 * named in the environment (http_proxy, ...) are never used.
 */
struct httpc	*httpc_new(const char *private_allow, const char *user_agent);
void		 httpc_free(struct httpc *);	/* aborts what is in flight (callbacks run) */
/* End every transfer in flight now: each callback runs with HTTPC_ABORTED. */
void		 httpc_abort_all(struct httpc *);

/*
 * Start a transfer.  CB_OK, or CB_ERR_VALIDATION for a request that cannot
 * be started (no method or URL, too many headers; also a method that is not
 * 1-16 capital letters, a header line with CR/LF or without a name, a URL
 * over 8 KiB, a capture name with ':', bodylen without body): then done is
 * not called.
 * CB_ERR_UNAVAILABLE (done not called either) from a callback run by
 * httpc_abort_all or httpc_free.
 * The request's strings are copied; the caller may free them on return.
 */
int		 httpc_start(struct httpc *, const struct httpc_req *,
		    httpc_done_fn done, void *ud)
		    __attribute__((warn_unused_result));

/*
 * Drive transfers for up to timeout_ms: wait on their sockets (and on
 * extra_fd for POLLIN when >= 0), make progress, run the done callbacks of
 * those that ended.  Returns early when any transfer ended or extra_fd is
 * readable; *extra_ready (if not NULL) says whether it was.  Returns the
 * number of transfers still in flight.
 */
int		 httpc_run(struct httpc *, int timeout_ms, int extra_fd, int *extra_ready);

size_t		 httpc_in_flight(const struct httpc *);

/*
 * The trace (lib/trace.h) the transfers started from now on work for:
 * each is sent with a `traceparent` header of that trace id under a new
 * span id of its own (W3C Trace Context).  A transfer's done callback runs
 * under the trace the transfer was started with (and the log lines' trace
 * id, log_set_trace), so a resend or a next step it starts carries it too.
 * NULL (or a trace without an id) stops it.  The delivery engine sets it
 * around each batch it starts (worker/outbox.c), so every sink and its
 * token calls send it without a line of their own.
 */
void		 httpc_trace(struct httpc *, const struct trace *);

/*
 * Start one transfer and drive it to its end.  Others in flight progress
 * too, but no callback runs: those that end meanwhile are delivered by the
 * dispatch in progress (when httpc_do is called from a done callback, which
 * is allowed) or by the next httpc_run.  A request that cannot start ends
 * with HTTPC_BAD_URL.
 */
void		 httpc_do(struct httpc *, const struct httpc_req *, struct httpc_resp *);

/* Release a response filled by httpc_do (wipes the body). */
void		 httpc_resp_free(struct httpc_resp *);

/*
 * The guard's rules under their first names, kept for their callers: each
 * is its egress_* function (egress.h), which says what it does.
 *
 * httpc_addr_public: 1 if the address (an IPv4 or IPv6 literal) is public,
 * 0 if it is internal, -1 if not an address.
 * httpc_host_allowed: 1 if host matches one of the patterns (exact, or
 * "*.suffix"), case-insensitive.  "*.suffix" matches subdomains only, never
 * the bare suffix, and never an address literal (127.0.0.1 only matches
 * "127.0.0.1").  NULL or an empty list allows any host, as on a request.
 * httpc_retry_after: delay-seconds, or an HTTP-date (RFC 9110) turned into
 * seconds from now (0 if past).  -1 if malformed.  Capped at one day.
 */
static inline int
httpc_addr_public(const char *addr)
{
	return egress_addr_public(addr);
}

static inline int
httpc_host_allowed(const char *host, const char *const *allow)
{
	return egress_host_allowed(host, allow);
}

static inline long
httpc_retry_after(const char *value, double now_s)
{
	return egress_retry_after(value, now_s);
}

const char	*httpc_err_name(int err);

#endif
