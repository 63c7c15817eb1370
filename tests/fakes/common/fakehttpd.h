/*
 * fakehttpd: the HTTP/1.1 server under every fake (cb-fake-sf,
 * cb-fake-hooks).  A fake is a handler: it gets one parsed request and
 * fills one response; the core does the rest.
 *
 * The core binds 127.0.0.1 only (control planes have no authentication),
 * runs one thread per connection, and serves many requests per connection
 * (HTTP/1.1 keep-alive and pipelining; `Connection: close` and HTTP/1.0
 * close after the answer).  Request bodies come with Content-Length or
 * `Transfer-Encoding: chunked` (chunk extensions and trailers are read and
 * ignored; malformed framing is a 400).  Caps: request line and headers
 * 16 KiB (431), decoded body 1 MiB (413), 256 connections at once.  Every
 * read and write is bounded by the I/O timeout: a slow request is answered
 * 408, an idle kept connection is closed, nothing holds a thread longer.
 * One JSON log line per request: method, path (through the fake's mask),
 * status and milliseconds; never a header value or a body.
 */
#ifndef CB_FAKEHTTPD_H
#define CB_FAKEHTTPD_H

#include <stddef.h>

#include "buf.h"

#define FH_HEAD_MAX	(16 * 1024)
#define FH_BODY_MAX	(1024 * 1024)
#define FH_OUT_MAX	(64u * 1024u * 1024u)
#define FH_CONN_MAX	256
#define FH_HEADERS_MAX	100

struct fh_header {
	const char	*name;		/* NUL-terminated copies, value trimmed */
	const char	*value;
};

struct fh_req {
	char		 method[16];
	char		 path[FH_HEAD_MAX];	/* without the query */
	char		 query[FH_HEAD_MAX];	/* after '?', raw; "" if none */
	struct fh_header headers[FH_HEADERS_MAX];
	size_t		 nheaders;
	char		*body;		/* NUL-terminated; "" when empty */
	size_t		 body_len;
	int		 chunked;	/* the body came chunked */
	int		 close;		/* the client asked to close */
	char		*arena;		/* private: holds the header copies */
};

struct fh_resp {
	int		 status;
	struct buf	 body;
	const char	*ctype;		/* NULL: application/json;charset=UTF-8 */
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	int		 close;		/* close after answering */
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
	 * on a test's private network (tests/scripts/twonode.sh): the control
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
 * finished (the caller may free what handlers use); 2: stopped with threads
 * still running after 3 s (leave shared state alone); 1: could not start
 * (logged).  Installs the signal handlers and ignores SIGPIPE.
 */
int	 fh_serve(const struct fh_config *);

/* Is s a dotted IPv4 address (for fh_config.bind)? */
int	 fh_ipv4_ok(const char *s);
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
