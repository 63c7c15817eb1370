/*
 * fakehttpd: the loopback HTTP/1.1 server the fakes share; see fakehttpd.h.
 *
 * One thread per connection reads a request into a per-connection buffer
 * (capped), hands it to the fake's handler, writes the answer and goes on
 * with the next request on the same connection until the client closes,
 * asks to close, errs, or stays silent for the I/O timeout.  Anything after
 * a request's end stays buffered: it is the next pipelined request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

#include "errs.h"
#include "log.h"
#include "trace.h"
#include "util.h"

#include "fakehttpd.h"

#define FH_IN_MAX		(FH_HEAD_MAX + FH_BODY_MAX + 8192)
#define FH_CHUNK_LINE_MAX	4096	/* size line with its extensions */
#define FH_SLICE_MS		200	/* how often blocked threads look at the stop flag */
#define FH_STACK_SIZE		(1024 * 1024)
#define FH_DRAIN_MS		3000

static atomic_int	 fh_stop;
static pthread_mutex_t	 fh_lock = PTHREAD_MUTEX_INITIALIZER;
static int		 fh_conns;
static struct fh_config	 fh_cfg;	/* written before any thread starts */

struct fh_conn {
	int		 fd;
	struct buf	 in;
};

/* Read outcomes. */
#define FH_READY	0	/* a request is ready for the handler */
#define FH_ANSWER	1	/* answer rs (an error), then close */
#define FH_QUIET	(-1)	/* close without a word */

static const char *
fh_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default:  return errs_reason(status);
	}
}

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

const char *
fh_header(const struct fh_req *rq, const char *name)
{
	size_t	 i;

	for (i = 0; i < rq->nheaders; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value;
	return NULL;
}

size_t
fh_header_count(const struct fh_req *rq, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < rq->nheaders; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			n++;
	return n;
}

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

/* ---- socket I/O ------------------------------------------------------------ */

/* 1 ready, 0 deadline passed or stopping, -1 error. */
static int
fh_wait(int fd, short ev, double deadline)
{
	struct pollfd	 pfd;
	double		 left;
	int		 n, slice;

	for (;;) {
		left = deadline - util_now_ms();
		if (left <= 0 || atomic_load(&fh_stop))
			return 0;
		slice = left > FH_SLICE_MS ? FH_SLICE_MS : (int)left + 1;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, slice);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			return 1;
	}
}

/* Read more into c->in: 1 got bytes, 0 peer closed, -1 error, -2 timeout. */
static int
fh_fill(struct fh_conn *c, double deadline)
{
	char	 tmp[16384];
	ssize_t	 n;
	int	 w;

	for (;;) {
		if ((w = fh_wait(c->fd, POLLIN, deadline)) <= 0)
			return w == 0 ? -2 : -1;
		n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (buf_append(&c->in, tmp, (size_t)n) != CB_OK)
			return -1;
		return 1;
	}
}

static int
fh_send_all(int fd, const char *p, size_t n, double deadline)
{
	ssize_t	 w;

	while (n > 0) {
		if (fh_wait(fd, POLLOUT, deadline) <= 0)
			return -1;
		/* MSG_NOSIGNAL: a client that hung up must not kill us. */
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Drop the first n bytes of the connection's buffer. */
static void
fh_consume(struct fh_conn *c, size_t n)
{
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	c->in.len -= n;
	c->in.data[c->in.len] = '\0';
}

/* ---- parsing ------------------------------------------------------------- */

static int
fh_is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does a comma-separated header value hold `tok` (case-insensitive)? */
static int
fh_has_token(const char *v, const char *tok)
{
	size_t	 i = 0, j, k, n = strlen(v), tl = strlen(tok);

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (j = i; j < n && v[j] != ','; j++)
			;
		for (k = j; k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'); k--)
			;
		if (k - i == tl && strncasecmp(v + i, tok, tl) == 0)
			return 1;
		i = j;
	}
	return 0;
}

/* One header field line [p, eol): check it and copy it into the arena. */
static int
fh_parse_field(struct fh_req *rq, const char *p, const char *eol, char **arena)
{
	const char	*colon, *v, *ve, *c;
	size_t		 n, vl;

	if (*p == ' ' || *p == '\t')
		return 400;	/* obsolete line folding */
	if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL || colon == p)
		return 400;
	for (c = p; c < colon; c++)
		if (!fh_is_tchar((unsigned char)*c))
			return 400;
	for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	for (c = v; c < ve; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return 400;
	if (rq->nheaders >= FH_HEADERS_MAX)
		return 431;
	n = (size_t)(colon - p);
	vl = (size_t)(ve - v);
	memcpy(*arena, p, n);
	(*arena)[n] = '\0';
	rq->headers[rq->nheaders].name = *arena;
	*arena += n + 1;
	memcpy(*arena, v, vl);
	(*arena)[vl] = '\0';
	rq->headers[rq->nheaders].value = *arena;
	*arena += vl + 1;
	rq->nheaders++;
	return 0;
}

/*
 * Parse the head: hlen bytes ending in CRLF CRLF.  0, or the status to
 * answer before closing.  On 0, *length is the Content-Length (-1: none).
 */
static int
fh_parse_head(const char *h, size_t hlen, struct fh_req *rq, long long *length)
{
	const char	*end = h + hlen - 2, *p = h, *eol, *sp1, *sp2, *q, *c;
	const char	*v;
	char		*arena;
	size_t		 n, tl;
	int		 st, http10 = 0;

	*length = -1;
	eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
	if ((sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (n = (size_t)(sp1 - p)) == 0 || n >= sizeof(rq->method))
		return 400;
	for (c = p; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return 400;
	memcpy(rq->method, p, n);
	rq->method[n] = '\0';
	if ((sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return 400;
	tl = (size_t)(sp2 - sp1 - 1);
	if (tl == 0 || sp1[1] != '/' || tl >= sizeof(rq->path))
		return 400;
	for (c = sp1 + 1; c < sp2; c++)
		if (*c < 0x21 || *c > 0x7e)
			return 400;
	q = memchr(sp1 + 1, '?', tl);
	n = q ? (size_t)(q - sp1 - 1) : tl;
	memcpy(rq->path, sp1 + 1, n);
	rq->path[n] = '\0';
	if (q != NULL) {
		memcpy(rq->query, q + 1, tl - n - 1);
		rq->query[tl - n - 1] = '\0';
	}
	n = (size_t)(eol - sp2 - 1);
	if (n == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)
		;
	else if (n == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		rq->close = http10 = 1;	/* no keep-alive for 1.0 */
	else
		return 400;
	/* Every field fits: name + value + 2 NULs is at most its line. */
	rq->arena = arena = util_malloc(hlen + 1);
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if ((st = fh_parse_field(rq, p, eol, &arena)) != 0)
			return st;
	}
	/* Framing: one length, or chunked alone; both is a smuggling attempt. */
	if (fh_header_count(rq, "Content-Length") > 1 ||
	    fh_header_count(rq, "Authorization") > 1)
		return 400;
	if ((v = fh_header(rq, "Content-Length")) != NULL &&
	    util_parse_ll(v, 0, 999999999999LL, length) != CB_OK)
		return 400;
	if ((n = fh_header_count(rq, "Transfer-Encoding")) > 0) {
		v = fh_header(rq, "Transfer-Encoding");
		if (*length >= 0 || http10)
			return 400;
		if (n > 1 || strcasecmp(v, "chunked") != 0)
			return 501;
		rq->chunked = 1;
	}
	if ((v = fh_header(rq, "Connection")) != NULL && fh_has_token(v, "close"))
		rq->close = 1;
	return 0;
}

/* A line ending in CRLF from the start of c->in: its length, or < 0. */
static int
fh_line(struct fh_conn *c, size_t max, double deadline, size_t *len,
    struct fh_resp *rs)
{
	const char	*eol;
	int		 r;

	for (;;) {
		eol = memmem(buf_cstr(&c->in), c->in.len, "\r\n", 2);
		if (eol != NULL && (size_t)(eol - c->in.data) <= max) {
			*len = (size_t)(eol - c->in.data);
			return FH_READY;
		}
		if (eol != NULL || c->in.len > max) {
			fh_resp_error(rs, 400, "malformed chunked body");
			return FH_ANSWER;
		}
		if ((r = fh_fill(c, deadline)) == 1)
			continue;
		if (r == -2) {
			fh_resp_error(rs, 408, "request body not received in time");
			return FH_ANSWER;
		}
		return FH_QUIET;
	}
}

/* At least n bytes in c->in. */
static int
fh_need(struct fh_conn *c, size_t n, double deadline, struct fh_resp *rs)
{
	int	 r;

	while (c->in.len < n) {
		if ((r = fh_fill(c, deadline)) == 1)
			continue;
		if (r == -2) {
			fh_resp_error(rs, 408, "request body not received in time");
			return FH_ANSWER;
		}
		return FH_QUIET;
	}
	return FH_READY;
}

/*
 * RFC 9112 §7.1: size [; ext] CRLF data CRLF ... 0 [; ext] CRLF
 * [trailer-field CRLF]... CRLF.  Extensions and trailers are ignored.
 */
static int
fh_read_chunked(struct fh_conn *c, struct buf *body, double deadline,
    struct fh_resp *rs)
{
	size_t		 len, i, size, trailers = 0;
	const char	*s;
	int		 r, digits, h;

	for (;;) {
		if ((r = fh_line(c, FH_CHUNK_LINE_MAX, deadline, &len, rs)) != 0)
			return r;
		s = c->in.data;
		size = 0;
		for (i = 0, digits = 0; i < len && (h = util_hexval(
		    (unsigned char)s[i])) >= 0; i++, digits++) {
			size = size * 16 + (size_t)h;
			if (size > FH_BODY_MAX) {
				fh_resp_error(rs, 413, "body exceeds 1 MiB");
				return FH_ANSWER;
			}
		}
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (digits == 0 || (i < len && s[i] != ';')) {
			fh_resp_error(rs, 400, "malformed chunk size");
			return FH_ANSWER;
		}
		for (; i < len; i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
			    s[i] == 0x7f) {
				fh_resp_error(rs, 400, "malformed chunk extension");
				return FH_ANSWER;
			}
		fh_consume(c, len + 2);
		if (size == 0)
			break;
		if (body->len + size > FH_BODY_MAX) {
			fh_resp_error(rs, 413, "body exceeds 1 MiB");
			return FH_ANSWER;
		}
		if ((r = fh_need(c, size + 2, deadline, rs)) != 0)
			return r;
		if (c->in.data[size] != '\r' || c->in.data[size + 1] != '\n') {
			fh_resp_error(rs, 400, "chunk data not followed by CRLF");
			return FH_ANSWER;
		}
		if (buf_append(body, c->in.data, size) != CB_OK)
			util_oom();
		fh_consume(c, size + 2);
	}
	/* Trailer fields until the empty line, read and ignored. */
	for (;;) {
		if ((r = fh_line(c, FH_HEAD_MAX, deadline, &len, rs)) != 0)
			return r;
		trailers += len + 2;
		if (trailers > FH_HEAD_MAX) {
			fh_resp_error(rs, 431, "trailers exceed 16 KiB");
			return FH_ANSWER;
		}
		if (len > 0 && (memchr(c->in.data, ':', len) == NULL ||
		    c->in.data[0] == ':' || c->in.data[0] == ' ')) {
			fh_resp_error(rs, 400, "malformed trailer field");
			return FH_ANSWER;
		}
		fh_consume(c, len + 2);
		if (len == 0)
			return FH_READY;
	}
}

static int
fh_read_request(struct fh_conn *c, struct fh_req *rq, struct fh_resp *rs)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char		*end, *expect;
	struct buf		 body;
	double			 deadline;
	long long		 cl;
	size_t			 hlen;
	int			 r, st;

	/* Idle keep-alive and a slow request get the same bounded wait. */
	deadline = util_now_ms() + (double)fh_cfg.io_timeout_ms;
	rs->close = 1;
	for (;;) {
		end = memmem(buf_cstr(&c->in), c->in.len, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (c->in.len >= FH_HEAD_MAX) {
			fh_resp_error(rs, 431, "request line and headers "
			    "exceed 16 KiB");
			return FH_ANSWER;
		}
		if ((r = fh_fill(c, deadline)) == 1)
			continue;
		if (r == -2 && c->in.len > 0) {
			fh_resp_error(rs, 408, "request not received in time");
			return FH_ANSWER;
		}
		return FH_QUIET;
	}
	hlen = (size_t)(end - c->in.data) + 4;
	if (hlen > FH_HEAD_MAX) {
		fh_resp_error(rs, 431, "request line and headers exceed 16 KiB");
		return FH_ANSWER;
	}
	if ((st = fh_parse_head(c->in.data, hlen, rq, &cl)) != 0) {
		fh_resp_error(rs, st, st == 501 ? "transfer coding not "
		    "supported: send Content-Length or chunked" : st == 431 ?
		    "too many header fields" : "malformed request");
		return FH_ANSWER;
	}
	if (cl > FH_BODY_MAX) {
		fh_resp_error(rs, 413, "body exceeds 1 MiB");
		return FH_ANSWER;
	}
	fh_consume(c, hlen);
	/* The interim answer only when the body has not started coming. */
	expect = fh_header(rq, "Expect");
	if (expect != NULL && fh_has_token(expect, "100-continue") &&
	    (rq->chunked ? c->in.len == 0 : c->in.len < (size_t)(cl > 0 ? cl : 0)) &&
	    fh_send_all(c->fd, cont, sizeof(cont) - 1, deadline) != 0)
		return FH_QUIET;
	buf_init(&body, FH_BODY_MAX + 1);
	r = FH_READY;
	if (rq->chunked)
		r = fh_read_chunked(c, &body, deadline, rs);
	else if (cl > 0 && (r = fh_need(c, (size_t)cl, deadline, rs)) == FH_READY) {
		if (buf_append(&body, c->in.data, (size_t)cl) != CB_OK)
			util_oom();
		fh_consume(c, (size_t)cl);
	}
	if (r != FH_READY) {
		buf_free(&body);
		return r;
	}
	buf_cstr(&body);
	rq->body = body.data;		/* the request owns it now */
	rq->body_len = body.len;
	rs->close = 0;
	return FH_READY;
}

/* ---- answering ------------------------------------------------------------ */

static void
fh_respond(struct fh_conn *c, const struct fh_req *rq, struct fh_resp *rs)
{
	struct buf	 out;
	int		 rc, bodyless = rs->status < 200 || rs->status == 204 ||
			    rs->status == 304;

	buf_init(&out, FH_OUT_MAX + 1024 * 1024);
	rc = buf_printf(&out, "HTTP/1.1 %d %s\r\n", rs->status,
	    fh_reason(rs->status));
	if (rc == CB_OK && !bodyless)
		rc = buf_printf(&out, "Content-Type: %s\r\n", rs->ctype ?
		    rs->ctype : "application/json;charset=UTF-8");
	if (rc == CB_OK)
		rc = buf_append(&out, buf_cstr(&rs->headers), rs->headers.len);
	if (rc == CB_OK && !bodyless)
		rc = buf_printf(&out, "Content-Length: %zu\r\n", rs->body.len);
	if (rc == CB_OK)
		rc = buf_printf(&out, "%s\r\n", rs->close || rq->close ?
		    "Connection: close\r\n" : "");
	if (rc == CB_OK && !bodyless)
		rc = buf_append(&out, buf_cstr(&rs->body), rs->body.len);
	if (rc != CB_OK || fh_send_all(c->fd, out.data, out.len,
	    util_now_ms() + (double)fh_cfg.io_timeout_ms) != 0)
		rs->close = 1;
	buf_free(&out);
}

static void
fh_log(const struct fh_req *rq, const struct fh_resp *rs, double t0)
{
	char		 path[512], st[16], ms[32];
	const char	*tp;
	struct trace	 t;

	memset(&t, 0, sizeof(t));
	if (rq->path[0] == '\0')
		util_strlcpy(path, "-", sizeof(path));
	else if (fh_cfg.log_path != NULL)
		fh_cfg.log_path(rq, path, sizeof(path));
	else
		util_strlcpy(path, rq->path, sizeof(path));
	if (rs->drop)
		util_strlcpy(st, "drop", sizeof(st));
	else
		snprintf(st, sizeof(st), "%d", rs->status);
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
	/*
	 * The W3C traceparent the broker sent, as received: the line carries
	 * its trace id like the broker's own lines (one id greppable across
	 * nginx, responder, worker and upstream; docs/tracing.md).  As a
	 * field of its own: the log context is one per process, and this
	 * server has a thread per connection.
	 */
	tp = rq->path[0] ? fh_header(rq, "traceparent") : NULL;
	if (tp != NULL && trace_parse(tp, &t) != CB_OK)
		tp = "malformed";
	log_kv(LOG_LVL_INFO, "request", "method",
	    rq->method[0] ? rq->method : "-", "path", path, "status", st,
	    "ms", ms, tp ? "traceparent" : NULL, tp, "trace_id", t.id, NULL);
}

static void
fh_req_clear(struct fh_req *rq)
{
	free(rq->body);
	free(rq->arena);
	rq->method[0] = rq->path[0] = rq->query[0] = '\0';
	rq->nheaders = 0;
	rq->body = rq->arena = NULL;
	rq->body_len = 0;
	rq->chunked = rq->close = 0;
}

static void *
fh_conn_main(void *arg)
{
	struct fh_conn	*c = arg;
	struct fh_req	*rq = util_calloc(1, sizeof(*rq));
	struct fh_resp	 rs;
	double		 t0;
	int		 r, done = 0;

	buf_cstr(&c->in);
	while (!done && !atomic_load(&fh_stop)) {
		fh_req_clear(rq);
		memset(&rs, 0, sizeof(rs));
		buf_init(&rs.body, FH_OUT_MAX);
		buf_init(&rs.headers, FH_HEAD_MAX);
		t0 = util_now_ms();
		r = fh_read_request(c, rq, &rs);
		if (r == FH_READY) {
			static const char	 empty[] = "";

			/* Handlers may treat the body as a C string. */
			if (rq->body == NULL)
				rq->body = util_strdup(empty);
			rs.status = 500;
			fh_cfg.handler(rq, &rs, fh_cfg.arg);
		}
		if (r == FH_QUIET)
			done = 1;
		else if (rs.drop) {
			/* The fault: read the request, then hang up unanswered. */
			fh_log(rq, &rs, t0);
			done = 1;
		} else {
			fh_respond(c, rq, &rs);
			fh_log(rq, &rs, t0);
			done = rs.close || rq->close;
		}
		buf_free(&rs.body);
		buf_free(&rs.headers);
	}
	fh_req_clear(rq);
	free(rq);
	close(c->fd);
	buf_free(&c->in);
	free(c);
	pthread_mutex_lock(&fh_lock);
	fh_conns--;
	pthread_mutex_unlock(&fh_lock);
	return NULL;
}

/* ---- the accept loop --------------------------------------------------------- */

static void
fh_on_signal(int sig)
{
	(void)sig;
	atomic_store(&fh_stop, 1);
}

int
fh_ipv4_ok(const char *s)
{
	struct in_addr	 a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static int
fh_listen(const char *addr, int port)
{
	struct sockaddr_in	 sa;
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	/* Loopback unless told (fh_config.bind): no authentication. */
	if (addr == NULL)
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, FH_CONN_MAX) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
fh_accept_one(int lfd, pthread_attr_t *attr)
{
	struct fh_conn	*c;
	pthread_t	 th;
	int		 fd, one = 1;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&fh_lock);
	if (fh_conns >= FH_CONN_MAX) {
		pthread_mutex_unlock(&fh_lock);
		close(fd);
		log_kv(LOG_LVL_WARN, "too_many_connections", NULL);
		return;
	}
	fh_conns++;
	pthread_mutex_unlock(&fh_lock);
	c = util_calloc(1, sizeof(*c));
	c->fd = fd;
	buf_init(&c->in, FH_IN_MAX);
	if (pthread_create(&th, attr, fh_conn_main, c) != 0) {
		close(fd);
		buf_free(&c->in);
		free(c);
		pthread_mutex_lock(&fh_lock);
		fh_conns--;
		pthread_mutex_unlock(&fh_lock);
	}
}

int
fh_serve(const struct fh_config *cfg)
{
	struct sigaction	 act;
	struct pollfd		 pfd;
	pthread_attr_t		 attr;
	struct timespec		 nap = { 0, 20 * 1000000L };
	char			 url[64];
	double			 t;
	int			 lfd, n, rc = 1, pid_written = 0;

	fh_cfg = *cfg;
	if (fh_cfg.io_timeout_ms <= 0)
		fh_cfg.io_timeout_ms = 10000;
	snprintf(url, sizeof(url), "http://%s:%d",
	    cfg->bind != NULL ? cfg->bind : "127.0.0.1", cfg->port);
	memset(&act, 0, sizeof(act));
	sigemptyset(&act.sa_mask);
	act.sa_handler = fh_on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	act.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &act, NULL);

	if ((lfd = fh_listen(cfg->bind, cfg->port)) < 0) {
		log_kv(LOG_LVL_ERROR, "listen_failed", "url", url, "error",
		    strerror(errno), NULL);
		return 1;
	}
	if (cfg->pidfile != NULL) {
		if (fh_write_pidfile(cfg->pidfile) != 0) {
			log_kv(LOG_LVL_ERROR, "pidfile_failed", "path",
			    cfg->pidfile, NULL);
			goto out;
		}
		pid_written = 1;
	}
	log_kv(LOG_LVL_INFO, "listening", "url", url, NULL);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, FH_STACK_SIZE);
	while (!atomic_load(&fh_stop)) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, FH_SLICE_MS) > 0)
			fh_accept_one(lfd, &attr);
	}
	pthread_attr_destroy(&attr);
	log_kv(LOG_LVL_INFO, "stopping", NULL);
	close(lfd);
	lfd = -1;
	/* Threads see the flag within a slice; let them finish with the state. */
	t = util_now_ms();
	do {
		pthread_mutex_lock(&fh_lock);
		n = fh_conns;
		pthread_mutex_unlock(&fh_lock);
		if (n > 0)
			nanosleep(&nap, NULL);
	} while (n > 0 && util_now_ms() - t < FH_DRAIN_MS);
	rc = n == 0 ? 0 : 2;
out:
	if (lfd >= 0)
		close(lfd);
	if (pid_written)
		unlink(cfg->pidfile);
	return rc;
}
