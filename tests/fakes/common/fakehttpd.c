/*
 * fakehttpd: the loopback HTTP/1.1 server the fakes share, on GNU
 * libmicrohttpd; see fakehttpd.h.
 *
 * libmicrohttpd parses requests (framing, chunked bodies, 100-continue,
 * keep-alive, pipelining) and writes answers; this file turns its
 * per-request callbacks into the fakes' one call per whole request.  The
 * URI is taken raw from the URI log callback, before libmicrohttpd splits
 * and decodes it: the fakes route on encoded paths (a Salesforce external
 * ID's own '/' arrives as %2F) and read their query strings themselves.
 * A fault that hangs up unanswered is the access handler saying MHD_NO,
 * which makes libmicrohttpd close the connection without a byte written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "errs.h"
#include "log.h"
#include "trace.h"
#include "util.h"

#include "fakehttpd.h"

#define FH_SLICE_MS	200	/* how often sleepers look at the stop flag */
#define FH_STACK_SIZE	(1024 * 1024)
#define FH_POOL_SIZE	(32 * 1024)	/* request line and headers live here */

static atomic_int	 fh_stop;
static struct fh_config	 fh_cfg;	/* written before the daemon starts */
static unsigned int	 fh_timeout_s;

int
fh_stopping(void)
{
	return atomic_load(&fh_stop);
}

void
fh_sleep_ms(long ms)
{
	struct timespec	 ts;
	long		 step;

	/* In slices, so a stopping server does not wait out a latency fault. */
	while (ms > 0 && !atomic_load(&fh_stop)) {
		step = ms > FH_SLICE_MS ? FH_SLICE_MS : ms;
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* ---- answers ------------------------------------------------------------ */

void
fh_resp_set(struct fh_resp *rs, int status, const char *ctype, const char *body)
{
	rs->status = status;
	rs->ctype = ctype;
	buf_reset(&rs->body);
	if (body != NULL && buf_puts(&rs->body, body) != CB_OK)
		util_oom();	/* bodies set this way are ours and small */
}

void
fh_resp_error(struct fh_resp *rs, int status, const char *msg)
{
	rs->status = status;
	rs->ctype = NULL;
	buf_reset(&rs->body);
	buf_puts(&rs->body, "{\"error\":");
	buf_json_str(&rs->body, msg);
	buf_putc(&rs->body, '}');
}

int
fh_resp_header(struct fh_resp *rs, const char *name, const char *fmt, ...)
{
	struct buf	 v;
	va_list		 ap;
	int		 rc;

	buf_init(&v, 8192);
	va_start(ap, fmt);
	rc = buf_vprintf(&v, fmt, ap);
	va_end(ap);
	if (rc == CB_OK && (strpbrk(buf_cstr(&v), "\r\n") != NULL ||
	    strpbrk(name, "\r\n: ") != NULL))
		rc = CB_ERR_VALIDATION;
	if (rc == CB_OK)
		rc = buf_printf(&rs->headers, "%s: %s\r\n", name, buf_cstr(&v));
	buf_free(&v);
	return rc;
}

/* ---- request helpers ------------------------------------------------------ */

int
fh_ctype_is(const struct fh_req *rq, const char *type)
{
	const char	*ct = fh_header(rq, "Content-Type");
	size_t		 n = strlen(type);

	return ct != NULL && strncasecmp(ct, type, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

int
fh_pct_decode(const char *s, size_t n, int form, struct buf *out)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = util_hexval((unsigned char)s[i + 1]);
			lo = util_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && form)
			c = ' ';
		if (buf_putc(out, c) != CB_OK)
			return -1;
	}
	return 0;
}

int
fh_form_get(const char *s, size_t len, const char *key, struct buf *out)
{
	struct buf	 k;
	size_t		 i = 0, j, eq;
	int		 found = 0, rc = 0;

	buf_init(&k, 1024);
	while (i < len && rc == 0) {
		for (j = i; j < len && s[j] != '&'; j++)
			;
		for (eq = i; eq < j && s[eq] != '='; eq++)
			;
		buf_reset(&k);
		if (fh_pct_decode(s + i, eq - i, 1, &k) != 0)
			rc = -1;
		else if (strcmp(buf_cstr(&k), key) == 0) {
			if (found++)
				rc = -1;
			else if (eq < j &&
			    fh_pct_decode(s + eq + 1, j - eq - 1, 1, out) != 0)
				rc = -1;
		}
		i = j + 1;
	}
	buf_free(&k);
	return rc < 0 ? -1 : found;
}

int
fh_write_pidfile(const char *path)
{
	char	 tmp[4096];
	FILE	*fp;
	int	 ok;

	/* Written whole and renamed, so a reader never sees half a pid. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    (fp = fopen(tmp, "we")) == NULL)
		return -1;
	ok = fprintf(fp, "%ld\n", (long)getpid()) > 0;
	ok = (fclose(fp) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- requests ---------------------------------------------------------------- */

const char *
fh_header(const struct fh_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

struct fh_count {
	const char	*name;
	size_t		 n;
};

static enum MHD_Result
fh_count_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct fh_count	*c = cls;

	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, c->name) == 0)
		c->n++;
	return MHD_YES;
}

size_t
fh_header_count(const struct fh_req *rq, const char *name)
{
	struct fh_count	 c = { name, 0 };

	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, fh_count_one, &c);
	return c.n;
}

/* The URI as the client sent it: the request is born here. */
static void *
fh_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct fh_req	*rq = util_calloc(1, sizeof(*rq));
	char		*q;

	(void)cls;
	(void)conn;
	rq->t0 = util_now_ms();
	rq->uri = util_strdup(uri);
	rq->path = rq->uri;
	rq->query = "";
	if ((q = strchr(rq->uri, '?')) != NULL) {
		*q = '\0';
		rq->query = q + 1;
	}
	buf_init(&rq->in, FH_BODY_MAX);
	return rq;
}

static void
fh_on_done(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct fh_req	*rq = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	buf_free(&rq->in);
	free(rq->uri);
	free(rq);
	*req_cls = NULL;
}

/* libmicrohttpd decodes nothing of ours: the fakes decode what they read. */
static size_t
fh_no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

/*
 * The checks once the head is in: 0, or the status to refuse with (and
 * *why).  Framing is libmicrohttpd's; what it lets through and the real
 * services refuse is refused here.
 */
static int
fh_check_head(struct fh_req *rq, const char **why)
{
	const char	*te;
	size_t		 nte;
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH",
	    "DELETE", "OPTIONS" };
	size_t		 i;

	/* Methods are case-sensitive (RFC 9110 9.1): "get" is none of ours. */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(rq->method, methods[i]) == 0)
			break;
	if (i == sizeof(methods) / sizeof(methods[0])) {
		*why = "method not implemented";
		return 501;
	}
	*why = "malformed request";
	/* Two lengths, or a length and chunked, is a smuggling attempt. */
	nte = fh_header_count(rq, "Transfer-Encoding");
	if (fh_header_count(rq, "Content-Length") > 1 ||
	    fh_header_count(rq, "Authorization") > 1 ||
	    (nte > 0 && fh_header(rq, "Content-Length") != NULL))
		return 400;
	if (nte > 0) {
		te = fh_header(rq, "Transfer-Encoding");
		if (nte > 1 || strcasecmp(te, "chunked") != 0) {
			*why = "transfer coding not supported: send Content-Length or chunked";
			return 501;
		}
		rq->chunked = 1;
	}
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

/* Copy the handler's "Name: value\r\n" lines onto the response. */
static int
fh_add_headers(struct MHD_Response *r, struct buf *h)
{
	char	*p, *eol, *colon;

	buf_cstr(h);
	for (p = h->data; *p != '\0'; p = eol + 2) {
		if ((eol = strstr(p, "\r\n")) == NULL ||
		    (colon = memchr(p, ':', (size_t)(eol - p))) == NULL)
			return -1;
		*colon = *eol = '\0';
		if (MHD_add_response_header(r, p, colon + 2) != MHD_YES)
			return -1;
	}
	return 0;
}

static enum MHD_Result
fh_queue(struct fh_req *rq, struct fh_resp *rs)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ok;
	int			 bodyless = rs->status < 200 || rs->status == 204 ||
				    rs->status == 304;

	buf_cstr(&rs->body);
	r = MHD_create_response_from_buffer(bodyless ? 0 : rs->body.len,
	    bodyless ? NULL : rs->body.data, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		util_oom();
	if ((!bodyless && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rs->ctype ? rs->ctype : "application/json;charset=UTF-8") != MHD_YES) ||
	    fh_add_headers(r, &rs->headers) != 0 ||
	    (rs->close &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ok = MHD_queue_response(rq->conn, (unsigned int)rs->status, r);
	MHD_destroy_response(r);
	return ok;
}

static void
fh_log(const struct fh_req *rq, const struct fh_resp *rs)
{
	char		 path[512], st[16], ms[32];
	const char	*tp;
	struct trace	 t;

	memset(&t, 0, sizeof(t));
	if (fh_cfg.log_path != NULL)
		fh_cfg.log_path(rq, path, sizeof(path));
	else
		util_strlcpy(path, rq->path, sizeof(path));
	if (rs->drop)
		util_strlcpy(st, "drop", sizeof(st));
	else
		snprintf(st, sizeof(st), "%d", rs->status);
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - rq->t0);
	/*
	 * The W3C traceparent the broker sent, as received: the line carries
	 * its trace id like the broker's own lines (one id greppable across
	 * nginx, responder, worker and upstream; docs/tracing.md).  As a
	 * field of its own: the log context is one per process, and this
	 * server has a thread per connection.
	 */
	tp = fh_header(rq, "traceparent");
	if (tp != NULL && trace_parse(tp, &t) != CB_OK)
		tp = "malformed";
	log_kv(LOG_LVL_INFO, "request", "method", rq->method[0] ? rq->method : "-",
	    "path", path, "status", st, "ms", ms, tp ? "traceparent" : NULL, tp,
	    "trace_id", t.id, NULL);
}

/*
 * One request, whole: the handler's answer queued, or (a fault) MHD_NO so
 * that the connection closes unanswered.
 */
static enum MHD_Result
fh_answer(struct fh_req *rq, int refuse, const char *why)
{
	struct fh_resp	 rs;
	enum MHD_Result	 ok = MHD_YES;

	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body, FH_OUT_MAX);
	buf_init(&rs.headers, FH_HEAD_MAX);
	if (refuse != 0)
		fh_resp_error(&rs, refuse, why);
	else {
		/* Handlers may treat the body as a C string. */
		buf_cstr(&rq->in);
		rq->body = rq->in.data;
		rq->body_len = rq->in.len;
		rs.status = 500;
		fh_cfg.handler(rq, &rs, fh_cfg.arg);
		/*
		 * The handler's time (a latency fault) is not the client's
		 * silence: a timeout set from zero starts afresh.
		 */
		MHD_set_connection_option(rq->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
		MHD_set_connection_option(rq->conn, MHD_CONNECTION_OPTION_TIMEOUT,
		    fh_timeout_s);
	}
	if (rs.drop)
		ok = MHD_NO;
	else if (fh_queue(rq, &rs) != MHD_YES) {
		/* An answer the handler could not have meant: say so once, plainly. */
		fh_resp_error(&rs, 500, "answer could not be queued");
		buf_reset(&rs.headers);
		ok = fh_queue(rq, &rs);
	}
	fh_log(rq, &rs);
	buf_free(&rs.body);
	buf_free(&rs.headers);
	return ok;
}

static enum MHD_Result
fh_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *data, size_t *data_size, void **req_cls)
{
	struct fh_req	*rq = *req_cls;
	const char	*why;
	const char	*cl;
	long long	 len;
	int		 st;

	(void)cls;
	(void)url;
	(void)version;
	if (rq == NULL)
		return MHD_NO;	/* no URI seen: cannot happen */
	if (rq->conn == NULL) {
		/* The head is in: refuse now what must not be read further. */
		rq->conn = conn;
		if (strlen(method) >= sizeof(rq->method))
			return fh_answer(rq, 400, "malformed request");
		util_strlcpy(rq->method, method, sizeof(rq->method));
		if ((st = fh_check_head(rq, &why)) != 0)
			return fh_answer(rq, st, why);
		if ((cl = fh_header(rq, "Content-Length")) != NULL &&
		    util_parse_ll(cl, 0, 999999999999LL, &len) == CB_OK && len > FH_BODY_MAX)
			return fh_answer(rq, 413, "body exceeds 1 MiB");
		return MHD_YES;
	}
	if (*data_size > 0) {
		/* A chunked body over the cap is read to its end, then refused. */
		if (!rq->too_large && buf_append(&rq->in, data, *data_size) != CB_OK) {
			rq->too_large = 1;
			buf_reset(&rq->in);
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (rq->too_large)
		return fh_answer(rq, 413, "body exceeds 1 MiB");
	return fh_answer(rq, 0, NULL);
}

int
fh_option(struct fh_config *cfg, const char *opt, const char *val, const char **why)
{
	long long	 v;

	if (strcmp(opt, "--port") == 0) {
		*why = "--port must be 1..65535";
		if (util_parse_ll(val, 1, 65535, &v) != CB_OK)
			return -1;
		cfg->port = (int)v;
	} else if (strcmp(opt, "--pidfile") == 0)
		cfg->pidfile = val;
	else if (strcmp(opt, "--bind") == 0) {
		struct in_addr	 a;

		*why = "--bind wants an IPv4 address";
		if (inet_pton(AF_INET, val, &a) != 1)
			return -1;
		cfg->bind = val;
	} else if (strcmp(opt, "--io-timeout-ms") == 0) {
		*why = "--io-timeout-ms must be 100..600000";
		if (util_parse_ll(val, 100, 600000, &v) != CB_OK)
			return -1;
		cfg->io_timeout_ms = (long)v;
	} else
		return 0;
	return 1;
}

/* ---- the daemon ------------------------------------------------------------------ */

static void
fh_on_signal(int sig)
{
	(void)sig;
	atomic_store(&fh_stop, 1);
}

int
fh_serve(const struct fh_config *cfg)
{
	struct sigaction	 act;
	struct sockaddr_in	 sa;
	struct MHD_Daemon	*d;
	struct timespec		 nap = { 0, FH_SLICE_MS * 1000000L };
	char			 url[64];
	int			 rc = 1;

	fh_cfg = *cfg;
	if (fh_cfg.io_timeout_ms <= 0)
		fh_cfg.io_timeout_ms = 10000;
	fh_timeout_s = (unsigned int)((fh_cfg.io_timeout_ms + 999) / 1000);
	snprintf(url, sizeof(url), "http://%s:%d",
	    cfg->bind != NULL ? cfg->bind : "127.0.0.1", cfg->port);
	memset(&act, 0, sizeof(act));
	sigemptyset(&act.sa_mask);
	act.sa_handler = fh_on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	act.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &act, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg->port);
	/* Loopback unless told (fh_config.bind): no authentication. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (cfg->bind != NULL && inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1) {
		log_kv(LOG_LVL_ERROR, "listen_failed", "url", url, "error",
		    "not an IPv4 address", NULL);
		return 1;
	}
	/*
	 * The pidfile before the first answer: whoever polls the fake until it
	 * answers may read the pidfile next.  (No MHD_OPTION_LISTENING_ADDRESS_REUSE:
	 * on Linux it sets SO_REUSEPORT, and a second fake given the same port
	 * would share it silently instead of failing to bind.)
	 */
	if (cfg->pidfile != NULL && fh_write_pidfile(cfg->pidfile) != 0) {
		log_kv(LOG_LVL_ERROR, "pidfile_failed", "path", cfg->pidfile, NULL);
		return 1;
	}
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL, (uint16_t)cfg->port, NULL, NULL, fh_access, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)FH_CONN_MAX,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)FH_CONN_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, fh_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FH_POOL_SIZE,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)FH_STACK_SIZE,
	    MHD_OPTION_URI_LOG_CALLBACK, fh_on_uri, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, fh_on_done, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, fh_no_unescape, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		log_kv(LOG_LVL_ERROR, "listen_failed", "url", url, "error",
		    strerror(errno), NULL);
		if (cfg->pidfile != NULL)
			unlink(cfg->pidfile);
		return 1;
	}
	log_kv(LOG_LVL_INFO, "listening", "url", url, NULL);
	while (!atomic_load(&fh_stop))
		nanosleep(&nap, NULL);
	log_kv(LOG_LVL_INFO, "stopping", NULL);
	/* Sleeping handlers see the flag within a slice; every thread is joined. */
	MHD_stop_daemon(d);
	rc = 0;
	if (cfg->pidfile != NULL)
		unlink(cfg->pidfile);
	return rc;
}
