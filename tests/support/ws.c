/*
 * ws: see ws.h.  Test code, but written like the rest: every buffer grown
 * from what the peer sends has a cap, and every read has a deadline.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "http.h"
#include "util.h"
#include "ws.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HDR_MAX	16384
#define WS_OPEN_MS	5000

static double
ws_deadline(int ms)
{
	return util_now_ms() + (double)ms;
}

static int
ws_left(double deadline)
{
	double	 left = deadline - util_now_ms();

	return left <= 0 ? 0 : (int)left + 1;
}

static int
ws_write_all(int fd, const void *p, size_t n)
{
	const unsigned char	*b = p;
	ssize_t			 w;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read what is there (waiting up to the deadline) into w->in; 0, 1 timeout, -1 EOF/error. */
static int
ws_fill(struct ws *w, double deadline, size_t cap)
{
	struct pollfd	 pfd = { w->fd, POLLIN, 0 };
	size_t		 ncap;
	ssize_t		 r;
	int		 n;

	if (w->fd < 0)
		return -1;
	for (;;) {
		n = poll(&pfd, 1, ws_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 1;
		break;
	}
	if (w->in_len >= cap)
		return -1;
	if (w->in_cap - w->in_len < 4096) {
		ncap = w->in_cap ? w->in_cap * 2 : 8192;
		if (ncap > cap)
			ncap = cap;
		if (ncap <= w->in_len)
			return -1;
		w->in = realloc(w->in, ncap);
		if (w->in == NULL)
			util_oom();
		w->in_cap = ncap;
	}
	r = read(w->fd, w->in + w->in_len, w->in_cap - w->in_len);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return -1;
	w->in_len += (size_t)r;
	return 0;
}

static void
ws_consume(struct ws *w, size_t n)
{
	memmove(w->in, w->in + n, w->in_len - n);
	w->in_len -= n;
}

static void
ws_b64(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	unsigned char	 tmp[64];

	if (n > 40 || outsz < 4 * ((n + 2) / 3) + 1) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock(tmp, in, (int)n);
	util_strlcpy(out, (const char *)tmp, outsz);
}

/* The value of header `name` in a raw header block, copied into out. */
static int
ws_header(const char *hdrs, const char *name, char *out, size_t outsz)
{
	const char	*p = hdrs, *e, *v;
	size_t		 nl = strlen(name);

	while ((e = strstr(p, "\r\n")) != NULL && e != p) {
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			if ((size_t)(e - v) >= outsz)
				return -1;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			while (e > v && (out[e - v - 1] == ' ' || out[e - v - 1] == '\t'))
				out[--e - v] = '\0';
			return 0;
		}
		p = e + 2;
	}
	return -1;
}

static int
ws_connect_tcp(void)
{
	const char	*url = test_env("CB_HTTP_URL"), *h, *colon;
	char		 host[256], port[16];
	struct addrinfo	 hints, *res = NULL;
	size_t		 hl;
	int		 fd;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	colon = strchr(h, ':');
	hl = colon ? (size_t)(colon - h) : strcspn(h, "/");
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon) {
		util_strlcpy(port, colon + 1, sizeof(port));
		port[strcspn(port, "/")] = '\0';
	} else
		util_strlcpy(port, "80", sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return -1;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd >= 0 && http_source_addr() != NULL && res->ai_family == AF_INET) {
		struct sockaddr_in	 src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, http_source_addr(), &src.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
ws_reset(struct ws *w)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

int
ws_open(struct ws *w, const char *path, const char *const *extra)
{
	unsigned char	 key_raw[16], digest[SHA_DIGEST_LENGTH];
	char		 key[32], cat[128], want[64], got[128], req[4096], *end;
	const char	*hp;
	double		 deadline = ws_deadline(WS_OPEN_MS);
	size_t		 hlen, i;
	int		 n, rc;

	ws_reset(w);
	if ((w->fd = ws_connect_tcp()) < 0)
		return -1;
	if (RAND_bytes(key_raw, sizeof(key_raw)) != 1)
		goto fail;
	ws_b64(key_raw, sizeof(key_raw), key, sizeof(key));
	/* The call feed speaks its own subprotocol; every other path the tab's. */
	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n",
	    path, key, strcmp(path, "/ws/calls") == 0 ? "cb.calls.v1" : "cb.tab.v1");
	if (n < 0 || (size_t)n >= sizeof(req))
		goto fail;
	for (i = 0; extra && extra[i]; i++) {
		rc = snprintf(req + n, sizeof(req) - (size_t)n, "%s\r\n", extra[i]);
		if (rc < 0 || (size_t)rc >= sizeof(req) - (size_t)n)
			goto fail;
		n += rc;
	}
	if ((size_t)n + 2 >= sizeof(req))
		goto fail;
	memcpy(req + n, "\r\n", 3);
	n += 2;
	if (ws_write_all(w->fd, req, (size_t)n) != 0)
		goto fail;

	/* The answer's head; anything after it is already WebSocket data. */
	for (;;) {
		if (w->in_len >= 4 && (end = memmem(w->in, w->in_len, "\r\n\r\n", 4)) != NULL)
			break;
		if (ws_fill(w, deadline, WS_HDR_MAX) != 0)
			goto fail;
	}
	hlen = (size_t)(end - (char *)w->in) + 4;
	{
		char	*head = util_strndup((const char *)w->in, hlen);

		if (sscanf(head, "HTTP/1.%*d %d", &w->http_status) != 1)
			w->http_status = 0;
		hp = strstr(head, "\r\n");
		rc = -1;
		if (w->http_status == 101 && hp != NULL &&
		    ws_header(hp + 2, "Sec-WebSocket-Accept", got, sizeof(got)) == 0) {
			snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
			SHA1((const unsigned char *)cat, strlen(cat), digest);
			ws_b64(digest, sizeof(digest), want, sizeof(want));
			rc = strcmp(want, got) == 0 ? 0 : -1;
			if (ws_header(hp + 2, "Sec-WebSocket-Protocol", w->protocol,
			    sizeof(w->protocol)) != 0)
				w->protocol[0] = '\0';
		}
		free(head);
	}
	ws_consume(w, hlen);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	{
		int	 st = w->http_status;

		ws_free(w);
		w->http_status = st;
	}
	return -1;
}

int
ws_open_retry(struct ws *w, const char *path, int ms)
{
	double	 deadline = ws_deadline(ms);

	for (;;) {
		if (ws_open(w, path, NULL) == 0)
			return 0;
		if (util_now_ms() >= deadline)
			return -1;
		test_sleep_ms(100);
	}
}

int
ws_send_frame(struct ws *w, int opcode, int fin, const void *p, size_t n)
{
	unsigned char	 hdr[14], mask[4], *buf;
	const unsigned char *in = p;
	size_t		 h = 0, i;
	int		 rc;

	if (w->fd < 0)
		return -1;
	hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126)
		hdr[h++] = (unsigned char)(0x80 | n);
	else if (n <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[h++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	}
	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return -1;
	memcpy(hdr + h, mask, 4);
	h += 4;
	buf = util_malloc(h + n + 1);
	memcpy(buf, hdr, h);
	for (i = 0; i < n; i++)
		buf[h + i] = in[i] ^ mask[i & 3];
	rc = ws_write_all(w->fd, buf, h + n);
	free(buf);
	return rc;
}

int
ws_send_textn(struct ws *w, const char *s, size_t n)
{
	return ws_send_frame(w, 0x1, 1, s, n);
}

int
ws_send_text(struct ws *w, const char *s)
{
	return ws_send_textn(w, s, strlen(s));
}

int
ws_sendf(struct ws *w, const char *fmt, ...)
{
	char	 buf[8192];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return ws_send_textn(w, buf, (size_t)n);
}

static void
ws_mark_closed(struct ws *w, int code)
{
	if (!w->closed) {
		w->closed = 1;
		w->close_code = code;
	}
}

/*
 * Parse one frame from w->in if complete: 1 = a message is ready in w->msg,
 * 0 = need more bytes or handled a control frame, 2 = closed, -1 = error.
 */
static int
ws_parse_one(struct ws *w, int *progress)
{
	unsigned char	*b = w->in;
	uint64_t	 len;
	size_t		 h = 2, i;
	int		 op, fin;

	*progress = 0;
	if (w->in_len < 2)
		return 0;
	fin = b[0] & 0x80;
	op = b[0] & 0x0f;
	if (b[1] & 0x80)
		return -1;		/* servers never mask */
	len = b[1] & 0x7f;
	if (len == 126) {
		if (w->in_len < 4)
			return 0;
		len = (uint64_t)b[2] << 8 | b[3];
		h = 4;
	} else if (len == 127) {
		if (w->in_len < 10)
			return 0;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | b[2 + i];
		h = 10;
	}
	if (len > WS_MAX_MSG)
		return -1;
	if (w->in_len < h + len)
		return 0;
	*progress = 1;
	switch (op) {
	case 0x0:
	case 0x1:
	case 0x2:
		if ((op == 0 && !w->msg_open) || (op != 0 && w->msg_open) ||
		    w->msg_len + len > WS_MAX_MSG)
			return -1;
		w->msg = realloc(w->msg, w->msg_len + len + 1);
		if (w->msg == NULL)
			util_oom();
		memcpy(w->msg + w->msg_len, b + h, len);
		w->msg_len += len;
		w->msg[w->msg_len] = '\0';
		w->msg_open = !fin;
		ws_consume(w, h + len);
		return fin ? 1 : 0;
	case 0x8:
		if (len >= 2) {
			int	 code = b[h] << 8 | b[h + 1];
			size_t	 rl = len - 2 < sizeof(w->close_reason) - 1 ?
			    len - 2 : sizeof(w->close_reason) - 1;

			memcpy(w->close_reason, b + h + 2, rl);
			w->close_reason[rl] = '\0';
			ws_mark_closed(w, code);
		} else
			ws_mark_closed(w, 1005);
		/* Answer the close, as the protocol asks. */
		(void)ws_send_frame(w, 0x8, 1, b + h, len >= 2 ? 2 : 0);
		ws_consume(w, h + len);
		return 2;
	case 0x9:
		(void)ws_send_frame(w, 0xA, 1, b + h, len);
		ws_consume(w, h + len);
		return 0;
	case 0xA:
		ws_consume(w, h + len);
		return 0;
	default:
		return -1;
	}
}

int
ws_recv(struct ws *w, int timeout_ms, char **msg, size_t *len)
{
	double	 deadline = ws_deadline(timeout_ms);
	int	 rc, progress, f;

	*msg = NULL;
	*len = 0;
	for (;;) {
		if (w->closed)
			return WS_CLOSED;
		do {
			rc = ws_parse_one(w, &progress);
			if (rc == 1) {
				*msg = w->msg;
				*len = w->msg_len;
				w->msg = NULL;
				w->msg_len = 0;
				return WS_MSG;
			}
			if (rc == 2)
				return WS_CLOSED;
			if (rc < 0)
				return WS_ERROR;
		} while (progress);
		if (w->fd < 0) {
			ws_mark_closed(w, WS_CODE_ABNORMAL);
			return WS_CLOSED;
		}
		f = ws_fill(w, deadline, WS_MAX_MSG + 16);
		if (f == 1)
			return WS_TIMEOUT;
		if (f < 0) {
			ws_mark_closed(w, WS_CODE_ABNORMAL);
			return WS_CLOSED;
		}
	}
}

cJSON *
ws_next(struct ws *w, int timeout_ms)
{
	char	*m;
	size_t	 n;
	cJSON	*j;

	if (ws_recv(w, timeout_ms, &m, &n) != WS_MSG)
		return NULL;
	j = cJSON_ParseWithLength(m, n);
	free(m);
	return j;
}

cJSON *
ws_next_type(struct ws *w, const char *type, int timeout_ms)
{
	double	 deadline = ws_deadline(timeout_ms);
	cJSON	*j;
	const char *t;

	for (;;) {
		j = ws_next(w, ws_left(deadline));
		if (j == NULL)
			return NULL;
		t = ws_str(j, "type");
		if (t != NULL && strcmp(t, type) == 0)
			return j;
		cJSON_Delete(j);
		if (util_now_ms() >= deadline)
			return NULL;
	}
}

int
ws_wait_close(struct ws *w, int timeout_ms)
{
	double	 deadline = ws_deadline(timeout_ms);
	char	*m;
	size_t	 n;
	int	 rc;

	for (;;) {
		rc = ws_recv(w, ws_left(deadline), &m, &n);
		free(m);
		if (rc == WS_CLOSED)
			return w->close_code;
		if (rc == WS_TIMEOUT)
			return -1;
		if (rc == WS_ERROR)
			return -1;
	}
}

void
ws_close(struct ws *w, int code)
{
	unsigned char	 p[2] = { (unsigned char)(code >> 8), (unsigned char)code };

	if (w->fd >= 0) {
		(void)ws_send_frame(w, 0x8, 1, p, sizeof(p));
		shutdown(w->fd, SHUT_WR);
	}
	ws_drop(w);
}

void
ws_drop(struct ws *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void
ws_free(struct ws *w)
{
	ws_drop(w);
	free(w->in);
	free(w->msg);
	ws_reset(w);
}

const char *
ws_str(const cJSON *j, const char *member)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(j, member);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long
ws_num(const cJSON *j, const char *member)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(j, member);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}
