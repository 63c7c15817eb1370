/*
 * cb-bench-tabs' HTTP senders: keep-alive connections to nginx, one
 * request in flight each, written and read without blocking so one thread
 * drives them all; http_once for the setup's blocking requests.  A broken
 * connection is reconnected and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs.h"
#include "util.h"
#include "ws.h"

void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("cb-bench-tabs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int
snd_connect(struct bench *b, struct sender *s)
{
	struct sockaddr_in	 sa;
	int			 one = 1;

	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)(s->port ? s->port : b->port));
	if (inet_pton(AF_INET, s->host ? s->host : b->host, &sa.sin_addr) != 1 ||
	    connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	s->in_len = 0;
	s->out_len = s->out_off = 0;
	return 0;
}

void
snd_close(struct sender *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * Queue one request (headers: whole lines, each ended by CRLF; NULL for a
 * JSON body with no credentials); 0, or -1 when it does not fit.
 */
int
snd_request_h(struct sender *s, const char *method, const char *path, const char *headers,
    const char *body)
{
	int	 n;

	n = snprintf(s->out, sizeof(s->out), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "%sContent-Length: %zu\r\n\r\n%s", method, path,
	    headers ? headers : "Content-Type: application/json\r\n", strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(s->out))
		return -1;
	s->out_len = (size_t)n;
	s->out_off = 0;
	return 0;
}

/* A JSON request, with the agent's API key when auth is not NULL. */
int
snd_request(struct sender *s, const char *method, const char *path, const char *auth,
    const char *body)
{
	char	 h[512];

	if (auth == NULL)
		return snd_request_h(s, method, path, NULL, body);
	if ((size_t)snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n"
	    "Content-Type: application/json\r\n", auth) >= sizeof(h))
		return -1;
	return snd_request_h(s, method, path, h, body);
}

/*
 * One send (out) or recv of up to n bytes on a non-blocking socket, again
 * when a signal cut it short: the bytes moved, 0 when it would block, -1 on
 * error or EOF.
 */
static ssize_t
sock_move(int fd, char *p, size_t n, int out)
{
	ssize_t	 r;

	do
		r = out ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return r > 0 ? r : -1;
}

/* Write what the socket takes: 0 (maybe partly), -1 on error. */
int
snd_flush(struct sender *s)
{
	ssize_t	 w;

	while (s->out_off < s->out_len) {
		if ((w = sock_move(s->fd, s->out + s->out_off, s->out_len - s->out_off, 1)) <= 0)
			return (int)w;
		s->out_off += (size_t)w;
	}
	return 0;
}

/*
 * One complete response at the start of s->in?  1 with *status, *body,
 * *blen and *used (its bytes, head included); 0 when more bytes are needed;
 * -1 when it cannot be parsed (no Content-Length, too large).  *close is
 * set when the server said Connection: close.
 */
int
http_parse(struct sender *s, int *status, char **body, size_t *blen, size_t *used,
    int *close_)
{
	char		*end, *p, *line;
	long		 clen = -1;
	size_t		 hlen;

	s->in[s->in_len] = '\0';
	if ((end = strstr(s->in, "\r\n\r\n")) == NULL)
		return s->in_len >= s->in_cap ? -1 : 0;
	hlen = (size_t)(end - s->in) + 4;
	if (sscanf(s->in, "HTTP/1.%*d %d", status) != 1)
		return -1;
	*close_ = 0;
	for (line = strstr(s->in, "\r\n") + 2; line < end; line = p + 2) {
		p = strstr(line, "\r\n");
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close") != NULL &&
		    strstr(line, "close") < p)
			*close_ = 1;
	}
	if (clen < 0 || (size_t)clen > s->in_cap - hlen)
		return -1;
	if (s->in_len < hlen + (size_t)clen)
		return 0;
	*body = s->in + hlen;
	*blen = (size_t)clen;
	*used = hlen + (size_t)clen;
	return 1;
}

void
snd_consume(struct sender *s, size_t n)
{
	memmove(s->in, s->in + n, s->in_len - n);
	s->in_len -= n;
}

/* Read what is there: 0, or -1 on EOF/error. */
int
snd_read(struct sender *s)
{
	ssize_t	 r;

	for (;;) {
		if (s->in_len >= s->in_cap)
			return -1;
		if ((r = sock_move(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0)) <= 0)
			return (int)r;
		s->in_len += (size_t)r;
	}
}

/* A blocking round trip for the setup: the status, the body (caller frees). */
int
http_once(struct bench *b, struct sender *s, const char *method, const char *path,
    const char *auth, const char *body, char **out)
{
	struct pollfd	 pfd;
	double		 deadline = util_now_ms() + SETUP_MS;
	char		*rb;
	size_t		 used, blen;
	int		 st, cl, rc;

	*out = NULL;
	if (s->fd < 0 && snd_connect(b, s) != 0)
		return -1;
	if (snd_request(s, method, path, auth, body) != 0)
		return -1;
	for (;;) {
		if (snd_flush(s) != 0)
			return -1;
		if ((rc = http_parse(s, &st, &rb, &blen, &used, &cl)) < 0)
			return -1;
		if (rc == 1)
			break;
		pfd.fd = s->fd;
		pfd.events = POLLIN | (s->out_off < s->out_len ? POLLOUT : 0);
		pfd.revents = 0;
		if (util_now_ms() > deadline || poll(&pfd, 1, 100) < 0 ||
		    ((pfd.revents & POLLIN) && snd_read(s) != 0))
			return -1;
	}
	*out = util_strndup(rb, blen);
	snd_consume(s, used);
	if (cl)
		snd_close(s);
	return st;
}
