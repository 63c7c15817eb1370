/*
 * fakehttpd: the HTTP/1.1 server under every fake (cb-fake-sf,
 * cb-fake-hooks), served by GNU libmicrohttpd.  A fake is a handler: it gets
 * one whole request and fills one answer; fakehttpd and libmicrohttpd do
 * the rest.
 *
 * The server binds 127.0.0.1 unless told another address (--bind: only on a
 * test's private network, control planes have no authentication),
 * runs one thread per connection, and serves many requests per connection
 * (HTTP/1.1 keep-alive and pipelining; `Connection: close` and HTTP/1.0
 * close after the answer).  Request bodies come with Content-Length or
 * `Transfer-Encoding: chunked` (extensions and trailers read and ignored;
 * malformed framing is a 400), both at once is a 400, any other transfer
 * coding a 501.  Caps: request line and headers in a 32 KiB connection
 * pool (431 or 414 past it), decoded body 1 MiB (413), 256 connections at
 * once.  A connection silent for the I/O timeout (whole seconds, rounded
 * up) is closed; the time a handler spends (a latency fault) does not count
 * against it.  One JSON log line per request: method, path (through the
 * fake's mask), status ("drop" for a connection closed unanswered) and
 * milliseconds; never a header value or a body.
 */
#ifndef CB_FAKEHTTPD_H
#define CB_FAKEHTTPD_H

#include <stddef.h>

#include "buf.h"

#define FH_HEAD_MAX	(16 * 1024)
#define FH_BODY_MAX	(1024 * 1024)
#define FH_OUT_MAX	(64u * 1024u * 1024u)
#define FH_CONN_MAX	256

struct MHD_Connection;

struct fh_req {
	char		 method[16];
	const char	*path;		/* as received (not decoded), without the query */
	const char	*query;		/* after '?', raw; "" if none */
	char		*body;		/* NUL-terminated; "" when empty */
	size_t		 body_len;
	int		 chunked;	/* the body came chunked */
	/* fakehttpd's own */
	struct MHD_Connection *conn;
	char		*uri;		/* path NUL query */
	struct buf	 in;		/* the body as it arrives */
	int		 too_large;	/* the body passed FH_BODY_MAX */
	double		 t0;
};

struct fh_resp {
	int		 status;
	struct buf	 body;
	const char	*ctype;		/* NULL: application/json;charset=UTF-8 */
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	int		 close;		/* close after answering (libmicrohttpd also
					   closes when the client asked to) */
	int		 drop;		/* close without answering (a fault) */
};

/* Called on many threads at once: the handler locks its own state. */
typedef void	(*fh_handler)(struct fh_req *, struct fh_resp *, void *arg);
/* Copy rq's path into out for the log, masking what must not be logged. */
typedef void	(*fh_log_path)(const struct fh_req *, char *out, size_t outsz);

struct fh_config {
	int		 port;
	/*
	 * The IPv4 address to listen on; NULL: 127.0.0.1.  Another one only
	 * on a test's private network (scripts/twonode.sh): the control
	 * planes have no authentication.
	 */
	const char	*bind;
	long		 io_timeout_ms;	/* 0: 10000 */
	const char	*pidfile;	/* NULL: none; written after listen */
	fh_handler	 handler;
	void		*arg;
	fh_log_path	 log_path;	/* NULL: the path as is */
};

/*
 * Serve until SIGTERM or SIGINT.  0: stopped and every connection thread
 * joined (the caller may free what handlers use); 1: could not start
 * (logged).  Installs the signal handlers and ignores SIGPIPE.
 */
int	 fh_serve(const struct fh_config *);

/*
 * The options every fake takes into cfg: --port 1..65535, --pidfile P,
 * --bind IPV4 (a dotted address, kept as given), --io-timeout-ms 100..600000.  1 taken, 0 not one of them, -1 a bad value
 * (*why says what is wanted).
 */
int	 fh_option(struct fh_config *cfg, const char *opt, const char *val,
	    const char **why);

/* First header of that name (case-insensitive), or NULL. */
const char *fh_header(const struct fh_req *, const char *name);
size_t	 fh_header_count(const struct fh_req *, const char *name);
/* Does a Content-Type header name this media type (parameters ignored)? */
int	 fh_ctype_is(const struct fh_req *, const char *type);
/* Append "Name: value\r\n" to the answer; values with CR or LF are refused. */
int	 fh_resp_header(struct fh_resp *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Replace the answer with this status and body. */
void	 fh_resp_set(struct fh_resp *, int status, const char *ctype,
	    const char *body);
/* Replace the answer with {"error":"msg"}. */
void	 fh_resp_error(struct fh_resp *, int status, const char *msg);
/* Sleep, in slices, returning early once the server is stopping. */
void	 fh_sleep_ms(long ms);
int	 fh_stopping(void);
/* Percent-decode n bytes; form=1 also turns '+' into ' '.  0 or -1. */
int	 fh_pct_decode(const char *s, size_t n, int form, struct buf *out);
/*
 * The decoded value of `key` in an x-www-form-urlencoded string: 1 found,
 * 0 absent, -1 malformed, repeated or over out's cap.
 */
int	 fh_form_get(const char *s, size_t len, const char *key, struct buf *out);
/* Write the pid whole and rename it into place; 0 or -1. */
int	 fh_write_pidfile(const char *path);

#endif
