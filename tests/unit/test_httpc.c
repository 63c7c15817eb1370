/*
 * test_httpc: the outbound HTTP layer (lib/httpc) against a tiny HTTP/1.1
 * server running on threads of the test process itself, bound to
 * 127.0.0.1 on an ephemeral port.  No packet in this suite goes anywhere
 * but loopback: internal and public ranges are checked through
 * httpc_addr_public only, and every refusal asserted here happens before
 * a connect (the server counts accepted connections to prove it).
 *
 * The server's paths:
 *   /hello          200 "hello" (keep-alive)
 *   /status/NNN     that status, body "status"
 *   /echo           200 "<method> <body>", X-Echo: the request's X-Test
 *   /trace          200, the request's traceparent as the body ("-": none)
 *   /delay/MS       200 "late" after MS milliseconds
 *   /hold           200 after 300 ms, counting requests held at once
 *   /redirect       302 Location: /hello
 *   /retry          503 with Retry-After: 120 and X-Limit
 *   /drop           closes without a byte
 *   /partial        promises 1000 bytes, sends 3, closes
 *   /huge           4 MiB with Content-Length
 *   /stream         4 MiB without Content-Length, then closes
 * A TLS ClientHello is answered with a plain 400 and a close.
 *
 * Each test runs in its own forked child (Check's fork mode) with its own
 * server, started and stopped by a checked fixture.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "errs.h"
#include "httpc.h"
#include "trace.h"
#include "util.h"

#define T_CONN_MAX	64
#define T_BIG		(4u * 1024u * 1024u)
#define T_REQ_MAX	16384u

/* ---- the test server -------------------------------------------------- */

struct t_server {
	int		 lfd;
	int		 port;
	int		 wake[2];
	pthread_t	 acceptor;
	pthread_mutex_t	 mu;
	atomic_int	 stop;
	int		 accepted;
	int		 requests;
	int		 holding, max_holding;
	int		 conns[T_CONN_MAX];
	pthread_t	 threads[T_CONN_MAX];
	int		 nthreads;
	char		 last_path[256];
};

static struct t_server	 srv;

static void
t_sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}


/* Status line, Content-Length, extra header lines, body; 0 keeps the connection. */
static int
t_reply(int fd, int status, const char *extra, const char *body)
{
	char	 head[1024];
	int	 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d Test\r\nContent-Length: "
	    "%zu\r\n%s\r\n", status, strlen(body), extra);
	if (n < 0 || (size_t)n >= sizeof(head) || cu_send_all(fd, head, (size_t)n) ||
	    cu_send_all(fd, body, strlen(body)))
		return -1;
	return 0;
}

/* Sleep in small steps so stopping the server never waits long. */
static void
t_server_wait(long ms)
{
	for (; ms > 0 && !atomic_load(&srv.stop); ms -= 10)
		t_sleep_ms(ms < 10 ? ms : 10);
}

static int
t_big(int fd, int with_length)
{
	static char	 chunk[65536];
	char		 head[128];
	size_t		 sent;
	int		 n;

	memset(chunk, 'x', sizeof(chunk));
	if (with_length)
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %u\r\n\r\n", T_BIG);
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		    "Connection: close\r\n\r\n");
	if (cu_send_all(fd, head, (size_t)n))
		return -1;
	for (sent = 0; sent < T_BIG; sent += sizeof(chunk))
		if (cu_send_all(fd, chunk, sizeof(chunk)))
			break;
	return -1;
}

/* The value of a request header (name without the colon) into out. */
static void
t_req_header(const char *req, const char *name, char *out, size_t outsz)
{
	const char	*p = req;
	size_t		 nl = strlen(name), n;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			n = strcspn(p, "\r\n");
			if (n >= outsz)
				n = outsz - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
	}
}

/* The space-delimited word at p (of the request line) into out. */
static int
t_token(const char *p, char *out, size_t outsz)
{
	size_t	 n = strcspn(p, " \r\n");

	if (n == 0 || n >= outsz || p[n] != ' ')
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int
t_answer(int fd, const char *method, const char *path, const char *req,
    const char *body)
{
	char		 extra[512], text[1024], v[256];
	long long	 ms;

	if (strcmp(path, "/hello") == 0)
		return t_reply(fd, 200, "", "hello");
	if (strncmp(path, "/status/", 8) == 0 &&
	    util_parse_ll(path + 8, 100, 599, &ms) == CB_OK)
		return t_reply(fd, (int)ms, "", "status");
	if (strcmp(path, "/echo") == 0) {
		t_req_header(req, "X-Test", v, sizeof(v));
		snprintf(extra, sizeof(extra), "X-Echo: %s\r\n", v);
		snprintf(text, sizeof(text), "%.15s %.900s", method, body);
		return t_reply(fd, 200, extra, text);
	}
	if (strcmp(path, "/trace") == 0) {
		t_req_header(req, "traceparent", v, sizeof(v));
		return t_reply(fd, 200, "", v[0] ? v : "-");
	}
	if (strncmp(path, "/delay/", 7) == 0 &&
	    util_parse_ll(path + 7, 0, 60000, &ms) == CB_OK) {
		t_server_wait((long)ms);
		return t_reply(fd, 200, "", "late");
	}
	if (strcmp(path, "/hold") == 0) {
		pthread_mutex_lock(&srv.mu);
		if (++srv.holding > srv.max_holding)
			srv.max_holding = srv.holding;
		pthread_mutex_unlock(&srv.mu);
		t_server_wait(300);
		pthread_mutex_lock(&srv.mu);
		srv.holding--;
		pthread_mutex_unlock(&srv.mu);
		return t_reply(fd, 200, "", "held");
	}
	if (strcmp(path, "/redirect") == 0)
		return t_reply(fd, 302, "Location: /hello\r\n", "");
	if (strcmp(path, "/retry") == 0)
		return t_reply(fd, 503, "Retry-After: 120\r\n"
		    "X-Limit: api-usage=5/100\r\n", "busy");
	if (strcmp(path, "/drop") == 0)
		return -1;
	if (strcmp(path, "/partial") == 0) {
		cu_send_all(fd, CU_LIT("HTTP/1.1 200 OK\r\nContent-Length: 1000"
		    "\r\n\r\nabc"));
		return -1;
	}
	if (strcmp(path, "/huge") == 0)
		return t_big(fd, 1);
	if (strcmp(path, "/stream") == 0)
		return t_big(fd, 0);
	return t_reply(fd, 404, "", "no such path");
}

static void *
t_conn_main(void *arg)
{
	int		 slot = (int)(intptr_t)arg, fd;
	char		*req = malloc(T_REQ_MAX + 1);
	char		 method[16], path[256], cl[32];
	size_t		 have = 0, hlen, blen;
	long long	 clen;
	ssize_t		 n;
	char		*end, *body;
	int		 keep = 1;

	pthread_mutex_lock(&srv.mu);
	fd = srv.conns[slot];
	pthread_mutex_unlock(&srv.mu);
	if (req == NULL)
		goto out;
	while (keep) {
		while ((end = memmem(req, have, "\r\n\r\n", 4)) == NULL) {
			if (have == T_REQ_MAX)
				goto out;
			if ((n = recv(fd, req + have, T_REQ_MAX - have, 0)) <= 0)
				goto out;
			have += (size_t)n;
			/* A TLS ClientHello: answer in plain text, as a web server would. */
			if ((unsigned char)req[0] == 0x16) {
				cu_send_all(fd, CU_LIT("HTTP/1.1 400 Bad Request\r\n"
				    "Connection: close\r\nContent-Length: 0\r\n\r\n"));
				goto out;
			}
		}
		hlen = (size_t)(end - req) + 4;
		req[hlen - 2] = '\0';	/* the header block as a string */
		if (t_token(req, method, sizeof(method)) != 0 ||
		    t_token(req + strlen(method) + 1, path, sizeof(path)) != 0)
			goto out;
		t_req_header(req, "Content-Length", cl, sizeof(cl));
		clen = 0;
		if (cl[0] != '\0' && util_parse_ll(cl, 0, T_REQ_MAX / 2, &clen))
			goto out;
		while (have < hlen + (size_t)clen) {
			if (have == T_REQ_MAX)
				goto out;
			if ((n = recv(fd, req + have, T_REQ_MAX - have, 0)) <= 0)
				goto out;
			have += (size_t)n;
		}
		body = req + hlen;
		blen = (size_t)clen;
		{
			char	 b[1024];

			snprintf(b, sizeof(b), "%.*s", (int)(blen < 1000 ? blen : 1000), body);
			pthread_mutex_lock(&srv.mu);
			srv.requests++;
			util_strlcpy(srv.last_path, path, sizeof(srv.last_path));
			pthread_mutex_unlock(&srv.mu);
			if (strcasestr(req, "\r\nConnection: close") != NULL)
				keep = 0;
			if (t_answer(fd, method, path, req, b) != 0)
				keep = 0;
		}
		memmove(req, req + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
out:
	free(req);
	pthread_mutex_lock(&srv.mu);
	close(fd);
	srv.conns[slot] = -1;
	pthread_mutex_unlock(&srv.mu);
	return NULL;
}

static void *
t_accept_main(void *arg)
{
	struct pollfd	 p[2];
	int		 fd, slot;

	(void)arg;
	p[0].fd = srv.lfd;
	p[0].events = POLLIN;
	p[1].fd = srv.wake[0];
	p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents != 0)
			break;
		if ((fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		pthread_mutex_lock(&srv.mu);
		srv.accepted++;
		if (srv.nthreads == T_CONN_MAX) {
			pthread_mutex_unlock(&srv.mu);
			close(fd);
			continue;
		}
		slot = srv.nthreads++;
		srv.conns[slot] = fd;
		pthread_mutex_unlock(&srv.mu);
		if (pthread_create(&srv.threads[slot], NULL, t_conn_main,
		    (void *)(intptr_t)slot) != 0)
			abort();
	}
	return NULL;
}

/* A free loopback port: bound, read back, closed. */
static int
t_closed_port(void)
{
	struct sockaddr_in	 a;
	socklen_t		 len = sizeof(a);
	int			 fd, port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
t_server_start(void)
{
	struct sockaddr_in	 a;
	socklen_t		 len = sizeof(a);
	int			 one = 1;

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(srv.lfd, 128), 0);
	ck_assert_int_eq(getsockname(srv.lfd, (struct sockaddr *)&a, &len), 0);
	srv.port = ntohs(a.sin_port);
	ck_assert_int_eq(pipe2(srv.wake, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&srv.acceptor, NULL, t_accept_main, NULL), 0);
}

static void
t_server_stop(void)
{
	int	 i;

	atomic_store(&srv.stop, 1);
	if (write(srv.wake[1], "x", 1) != 1)
		abort();
	pthread_join(srv.acceptor, NULL);
	pthread_mutex_lock(&srv.mu);
	for (i = 0; i < srv.nthreads; i++)
		if (srv.conns[i] >= 0)
			shutdown(srv.conns[i], SHUT_RDWR);
	pthread_mutex_unlock(&srv.mu);
	for (i = 0; i < srv.nthreads; i++)
		pthread_join(srv.threads[i], NULL);
	close(srv.lfd);
	close(srv.wake[0]);
	close(srv.wake[1]);
	pthread_mutex_destroy(&srv.mu);
}

static int
t_count(const int *field)
{
	int	 v;

	pthread_mutex_lock(&srv.mu);
	v = *field;
	pthread_mutex_unlock(&srv.mu);
	return v;
}

/*
 * Connections the server accepted.  A connect that had happened would be
 * in the listen queue already; the pause lets the acceptor take it.
 */
static int
t_accepted_settled(void)
{
	t_sleep_ms(100);
	return t_count(&srv.accepted);
}

/* ---- client helpers --------------------------------------------------- */

static char	 t_allow[64];

static void
t_url(char *out, size_t outsz, const char *scheme, const char *host,
    const char *path)
{
	snprintf(out, outsz, "%s://%s:%d%s", scheme, host, srv.port, path);
}

static struct httpc *
t_client(void)
{
	struct httpc	*h;

	snprintf(t_allow, sizeof(t_allow), "127.0.0.1:%d", srv.port);
	ck_assert_ptr_nonnull(h = httpc_new(t_allow, NULL));
	return h;
}

/* GET path on the test server, driven to its end, into r. */
static void
t_get(struct httpc *h, const char *path, struct httpc_resp *r)
{
	struct httpc_req	 q;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", path);
	q.method = "GET";
	q.url = url;
	httpc_do(h, &q, r);
}

struct t_seen {
	int	 calls;
	int	 err;
	long	 status;
	char	 body[64];
};

static void
t_done(const struct httpc_resp *r, void *ud)
{
	struct t_seen	*s = ud;

	s->calls++;
	s->err = r->err;
	s->status = r->status;
	ck_assert_ptr_nonnull(r->body.data);
	util_strlcpy(s->body, r->body.data, sizeof(s->body));
}

static void
t_drain(struct httpc *h)
{
	double	 t0 = util_now_ms();

	while (httpc_run(h, 1000, -1, NULL) > 0)
		ck_assert_msg(util_now_ms() - t0 < 20000, "transfers never ended");
}

/* ---- the address classifier ------------------------------------------ */

static const struct {
	const char	*addr;
	int		 want;
} addr_cases[] = {
	/* public IPv4, including the edges next to internal ranges */
	{ "8.8.8.8", 1 },
	{ "1.1.1.1", 1 },
	{ "93.184.216.34", 1 },
	{ "9.255.255.255", 1 },
	{ "11.0.0.0", 1 },
	{ "100.63.255.255", 1 },
	{ "100.128.0.0", 1 },
	{ "126.255.255.255", 1 },
	{ "128.0.0.0", 1 },
	{ "169.253.255.255", 1 },
	{ "169.255.0.0", 1 },
	{ "172.15.255.255", 1 },
	{ "172.32.0.0", 1 },
	{ "192.167.255.255", 1 },
	{ "192.169.0.0", 1 },
	{ "198.17.255.255", 1 },
	{ "198.20.0.0", 1 },
	{ "223.255.255.255", 1 },
	/* internal IPv4 */
	{ "0.0.0.0", 0 },
	{ "0.1.2.3", 0 },
	{ "10.0.0.1", 0 },
	{ "10.255.255.255", 0 },
	{ "100.64.0.0", 0 },
	{ "100.127.255.255", 0 },
	{ "127.0.0.1", 0 },
	{ "127.255.255.254", 0 },
	{ "169.254.0.1", 0 },
	{ "169.254.169.254", 0 },
	{ "172.16.0.1", 0 },
	{ "172.31.255.255", 0 },
	{ "192.0.0.8", 0 },
	{ "192.0.2.1", 0 },
	{ "192.88.99.1", 0 },
	{ "192.168.0.1", 0 },
	{ "192.168.255.255", 0 },
	{ "198.18.0.1", 0 },
	{ "198.19.255.255", 0 },
	{ "198.51.100.7", 0 },
	{ "203.0.113.9", 0 },
	{ "224.0.0.1", 0 },
	{ "239.255.255.250", 0 },
	{ "240.0.0.1", 0 },
	{ "255.255.255.255", 0 },
	/* public IPv6, and public IPv4 reached through IPv6 forms */
	{ "2001:4860:4860::8888", 1 },
	{ "2606:4700:4700::1111", 1 },
	{ "2a00:1450:4001:82b::200e", 1 },
	{ "2001:200::1", 1 },
	{ "::ffff:8.8.8.8", 1 },
	{ "64:ff9b::808:808", 1 },
	{ "2002:808:808::1", 1 },
	/* internal IPv6 */
	{ "::", 0 },
	{ "::1", 0 },
	{ "fe80::1", 0 },
	{ "febf:ffff::1", 0 },
	{ "fec0::1", 0 },
	{ "fc00::1", 0 },
	{ "fd12:3456:789a::1", 0 },
	{ "ff02::1", 0 },
	{ "ff0e::1", 0 },
	{ "100::1", 0 },
	{ "2001::1", 0 },
	{ "2001:db8::1", 0 },
	{ "3fff::1", 0 },
	{ "::127.0.0.1", 0 },
	{ "64:ff9b:1::1", 0 },
	/* IPv4-mapped, NAT64 and 6to4 forms of internal IPv4 */
	{ "::ffff:127.0.0.1", 0 },
	{ "::ffff:7f00:1", 0 },
	{ "::ffff:10.1.2.3", 0 },
	{ "::ffff:169.254.169.254", 0 },
	{ "::ffff:100.64.0.1", 0 },
	{ "::ffff:192.168.1.1", 0 },
	{ "::ffff:0.0.0.0", 0 },
	{ "::ffff:224.0.0.1", 0 },
	{ "64:ff9b::7f00:1", 0 },
	{ "64:ff9b::a9fe:a9fe", 0 },
	{ "64:ff9b::10.0.0.1", 0 },
	{ "2002:7f00:1::", 0 },
	{ "2002:c0a8:101::1", 0 },
	/* not an address */
	{ "", -1 },
	{ "localhost", -1 },
	{ "1.2.3", -1 },
	{ "1.2.3.4.5", -1 },
	{ "256.1.1.1", -1 },
	{ "0x7f.0.0.1", -1 },
	{ " 8.8.8.8", -1 },
	{ "8.8.8.8 ", -1 },
	{ "[::1]", -1 },
	{ "fe80::1%eth0", -1 },
	{ "::ffff:1.2.3", -1 },
	{ "1:2:3:4:5:6:7:8:9", -1 },
	{ "gggg::1", -1 },
};

START_TEST(test_addr_public_classifies_every_range)
{
	ck_assert_msg(httpc_addr_public(addr_cases[_i].addr) == addr_cases[_i].want,
	    "%s: got %d, want %d", addr_cases[_i].addr,
	    httpc_addr_public(addr_cases[_i].addr), addr_cases[_i].want);
}
END_TEST

START_TEST(test_addr_public_null_is_not_an_address)
{
	ck_assert_int_eq(httpc_addr_public(NULL), -1);
}
END_TEST

/* ---- host allowlist ----------------------------------------------------- */

static const char *const allow_api[] = { "api.example.com", NULL };
static const char *const allow_wild[] = { "*.example.com", NULL };
static const char *const allow_both[] = { "hooks.slack.com", "*.my.salesforce.com", NULL };
static const char *const allow_empty[] = { NULL };
static const char *const allow_star[] = { "*", "*.", NULL };
static const char *const allow_ip[] = { "127.0.0.1", "[::1]", NULL };
static const char *const allow_ip_wild[] = { "*.0.0.1", "*.1]", "*.0.1", NULL };

static const struct {
	const char		*host;
	const char *const	*allow;
	int			 want;
} host_cases[] = {
	{ "api.example.com", allow_api, 1 },
	{ "API.Example.COM", allow_api, 1 },
	{ "api.example.com.", allow_api, 1 },
	{ "example.com", allow_api, 0 },
	{ "xapi.example.com", allow_api, 0 },
	{ "v2.api.example.com", allow_api, 0 },
	{ "api.example.com.evil.net", allow_api, 0 },
	{ "api.example.co", allow_api, 0 },
	{ "a.example.com", allow_wild, 1 },
	{ "a.b.example.com", allow_wild, 1 },
	{ "A.EXAMPLE.COM", allow_wild, 1 },
	{ "example.com", allow_wild, 0 },
	{ "badexample.com", allow_wild, 0 },
	{ "example.com.evil.net", allow_wild, 0 },
	{ ".example.com", allow_wild, 0 },
	{ "hooks.slack.com", allow_both, 1 },
	{ "acme.my.salesforce.com", allow_both, 1 },
	{ "my.salesforce.com", allow_both, 0 },
	{ "slack.com", allow_both, 0 },
	{ "127.0.0.1", allow_ip, 1 },
	{ "127.0.0.1", allow_ip_wild, 0 },
	{ "10.0.0.1", allow_ip_wild, 0 },
	{ "[::1]", allow_ip, 1 },
	{ "[::1]", allow_ip_wild, 0 },
	{ "anything.example", NULL, 1 },
	{ "anything.example", allow_empty, 1 },
	{ "anything.example", allow_star, 0 },
	{ "", NULL, 0 },
	{ NULL, allow_api, 0 },
};

START_TEST(test_host_allowlist_matches_exact_names_and_subdomains_only)
{
	ck_assert_msg(httpc_host_allowed(host_cases[_i].host,
	    host_cases[_i].allow) == host_cases[_i].want, "case %d (%s)", _i,
	    host_cases[_i].host ? host_cases[_i].host : "NULL");
}
END_TEST

/* ---- Retry-After ------------------------------------------------------- */

#define T_NOW	1445412480.0	/* Wed, 21 Oct 2015 07:28:00 GMT */

static const struct {
	const char	*value;
	long		 want;
} retry_cases[] = {
	{ "120", 120 },
	{ "0", 0 },
	{ " 5 ", 5 },
	{ "007", 7 },
	{ "86400", 86400 },
	{ "86401", 86400 },
	{ "99999999999999999999999999999999", 86400 },
	{ "Wed, 21 Oct 2015 07:30:00 GMT", 120 },
	{ "Wednesday, 21-Oct-15 07:30:00 GMT", 120 },
	{ "Wed Oct 21 07:30:00 2015", 120 },
	{ "Wed, 21 Oct 2015 07:28:00 GMT", 0 },
	{ "Wed, 21 Oct 2015 07:00:00 GMT", 0 },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
	{ "Wed, 21 Oct 2025 07:28:00 GMT", 86400 },
	{ "", -1 },
	{ "   ", -1 },
	{ "-1", -1 },
	{ "+5", -1 },
	{ "1.5", -1 },
	{ "12abc", -1 },
	{ "soon", -1 },
	{ "Wed, 32 Oct 2015 07:28:00 GMT", -1 },
	{ "Wed, 21 Oct 2015 25:28:00 GMT", -1 },
	{ "Mon, 99 Foo", -1 },
	/* parsed without libcurl since the split into lib/egress */
	{ "wed, 21 oct 2015 07:30:00 gmt", 120 },
	{ "Wed Oct  1 07:30:00 2015", 0 },
	{ "Wed, 21 Oct 2015 07:30:00", 120 },
	{ "Wed, 21 Oct 2015 07:30:00 UTC", 120 },
	{ "Wed, 21 Oct 2015 07:30:00 GMT x", -1 },
	{ "Sun, 29 Feb 2015 07:30:00 GMT", -1 },
	{ "Mon, 29 Feb 2016 07:30:00 GMT", 86400 },
	{ "Wed, 21 Oct 2015 07:60:00 GMT", -1 },
	{ "Xyz, 21 Oct 2015 07:30:00 GMT", -1 },
	{ "Wed, 21 Okt 2015 07:30:00 GMT", -1 },
	{ "Wed, 21 Oct 015 07:30:00 GMT", -1 },
};

START_TEST(test_retry_after_is_seconds_or_a_date_capped_at_a_day)
{
	ck_assert_msg(httpc_retry_after(retry_cases[_i].value, T_NOW) ==
	    retry_cases[_i].want, "\"%s\": got %ld, want %ld",
	    retry_cases[_i].value, httpc_retry_after(retry_cases[_i].value, T_NOW),
	    retry_cases[_i].want);
}
END_TEST

START_TEST(test_retry_after_null_is_malformed)
{
	ck_assert_int_eq(httpc_retry_after(NULL, T_NOW), -1);
}
END_TEST

/* ---- construction and request validation ------------------------------ */

static const struct {
	const char	*allow;
	int		 ok;
} private_cases[] = {
	{ NULL, 1 },
	{ "", 1 },
	{ "127.0.0.1:8095", 1 },
	{ "127.0.0.1:8095, localhost:80 [::1]:9000,FAKE.local:443", 1 },
	{ " ,, 127.0.0.1:1 ", 1 },
	{ "127.0.0.1", 0 },
	{ "127.0.0.1:", 0 },
	{ ":80", 0 },
	{ "127.0.0.1:0", 0 },
	{ "127.0.0.1:65536", 0 },
	{ "127.0.0.1:+80", 0 },
	{ "127.0.0.1:80x", 0 },
	{ "ho/st:80", 0 },
	{ "[::1:80", 0 },
	{ "127.0.0.1:8095,evil", 0 },
};

START_TEST(test_malformed_private_allowlist_refuses_to_build)
{
	struct httpc	*h;
	char		*log;

	cu_stderr_begin();
	h = httpc_new(private_cases[_i].allow, "test/1");
	log = cu_stderr_end();
	ck_assert_msg((h != NULL) == private_cases[_i].ok, "\"%s\"",
	    private_cases[_i].allow ? private_cases[_i].allow : "NULL");
	/* The operator is told which entry is wrong. */
	if (!private_cases[_i].ok)
		ck_assert_ptr_nonnull(strstr(log, "httpc_private_allow_invalid"));
	else
		ck_assert_str_eq(log, "");
	free(log);
	httpc_free(h);
}
END_TEST

START_TEST(test_too_many_private_entries_refuse_to_build)
{
	struct buf	 b;
	int		 i;

	buf_init(&b, 0);
	for (i = 1; i <= 65; i++)
		ck_assert_int_eq(buf_printf(&b, "h%d.local:80,", i), CB_OK);
	cu_stderr_begin();
	ck_assert_ptr_null(httpc_new(b.data, NULL));
	free(cu_stderr_end());
	buf_free(&b);
}
END_TEST

enum { BAD_NO_METHOD, BAD_NO_URL, BAD_LOWER_METHOD, BAD_EMPTY_URL,
	BAD_HEADER_CRLF, BAD_HEADER_NO_COLON, BAD_TOO_MANY_HEADERS,
	BAD_CAPTURE_COLON, BAD_BODYLEN_WITHOUT_BODY, BAD__N };

START_TEST(test_request_that_cannot_start_never_calls_back)
{
	struct httpc		*h = httpc_new(NULL, NULL);
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct t_seen		 seen = { 0 };
	int			 i;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = "https://api.example.com/";
	switch (_i) {
	case BAD_NO_METHOD:		q.method = NULL; break;
	case BAD_NO_URL:		q.url = NULL; break;
	case BAD_LOWER_METHOD:		q.method = "get"; break;
	case BAD_EMPTY_URL:		q.url = ""; break;
	case BAD_HEADER_CRLF:		q.headers[0] = "X-A: 1\r\nX-B: 2"; break;
	case BAD_HEADER_NO_COLON:	q.headers[0] = "X-A 1"; break;
	case BAD_TOO_MANY_HEADERS:
		for (i = 0; i <= HTTPC_HEADERS_MAX; i++)
			q.headers[i] = "X-A: 1";
		break;
	case BAD_CAPTURE_COLON:		q.capture[0] = "X-A:"; break;
	case BAD_BODYLEN_WITHOUT_BODY:	q.method = "POST"; q.bodylen = 5; break;
	default:			break;
	}
	ck_assert_int_eq(httpc_start(h, &q, t_done, &seen), CB_ERR_VALIDATION);
	ck_assert_uint_eq(httpc_in_flight(h), 0);
	ck_assert_int_eq(httpc_run(h, 10, -1, NULL), 0);
	ck_assert_int_eq(seen.calls, 0);
	/* httpc_do fills the response all the same. */
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_BAD_URL);
	ck_assert_int_eq(r.status, 0);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

static const char *const bad_urls[] = {
	"ftp://127.0.0.1/",
	"file:///etc/passwd",
	"gopher://127.0.0.1:70/",
	"dict://127.0.0.1:11211/stat",
	"not a url",
	"example.com/no-scheme",
	"http://",
	"https://exa mple.com/",
};

START_TEST(test_bad_url_ends_on_the_next_run_not_inside_start)
{
	struct httpc		*h = httpc_new(NULL, NULL);
	struct httpc_req	 q;
	struct t_seen		 seen = { 0 };

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = bad_urls[_i];
	ck_assert_int_eq(httpc_start(h, &q, t_done, &seen), CB_OK);
	ck_assert_int_eq(seen.calls, 0);
	ck_assert_uint_eq(httpc_in_flight(h), 1);
	ck_assert_int_eq(httpc_run(h, 1000, -1, NULL), 0);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_msg(seen.err == HTTPC_BAD_URL, "%s: %s", bad_urls[_i],
	    httpc_err_name(seen.err));
	httpc_free(h);
	ck_assert_int_eq(seen.calls, 1);
}
END_TEST

START_TEST(test_run_with_nothing_in_flight_returns_at_once)
{
	struct httpc	*h = httpc_new(NULL, NULL);
	double		 t0 = util_now_ms();
	int		 ready = 7;

	ck_assert_int_eq(httpc_run(h, 5000, -1, &ready), 0);
	ck_assert_int_eq(ready, 0);
	ck_assert_double_lt(util_now_ms() - t0, 1000);
	httpc_free(h);
}
END_TEST

START_TEST(test_every_error_has_a_name)
{
	int	 e;

	for (e = HTTPC_OK; e <= HTTPC_ABORTED; e++)
		ck_assert_str_ne(httpc_err_name(e), "unknown");
	ck_assert_str_eq(httpc_err_name(HTTPC_ABORTED + 1), "unknown");
}
END_TEST

/* ---- against the test server: answers ---------------------------------- */

START_TEST(test_answer_is_read_whole)
{
	struct httpc		*h = t_client();
	struct httpc_resp	 r;

	t_get(h, "/hello", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "hello");
	ck_assert_int_eq(r.retry_after_s, -1);
	ck_assert_str_eq(r.message, "");
	ck_assert_double_ge(r.elapsed_ms, 0);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_any_status_is_an_answer)
{
	struct httpc		*h = t_client();
	struct httpc_resp	 r;

	t_get(h, "/status/500", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body.data, "status");
	httpc_resp_free(&r);
	t_get(h, "/status/404", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 404);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

static const char *const echo_methods[] = { "POST", "PATCH", "PUT", "DELETE" };

START_TEST(test_method_headers_and_body_are_sent)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128], body[32], want[64];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/echo");
	/* The copies are httpc's: the caller's buffer changes right after. */
	util_strlcpy(body, "{\"secret\":1}", sizeof(body));
	q.method = echo_methods[_i];
	q.url = url;
	q.headers[0] = "X-Test: abc";
	q.headers[1] = "Content-Type: application/json";
	q.body = body;
	q.bodylen = strlen(body);
	q.capture[0] = "x-echo";
	httpc_do(h, &q, &r);
	memset(body, 0, sizeof(body));
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 200);
	snprintf(want, sizeof(want), "%s {\"secret\":1}", echo_methods[_i]);
	ck_assert_str_eq(r.body.data, want);
	ck_assert_str_eq(r.captured[0], "abc");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_redirect_is_an_answer_never_followed)
{
	struct httpc		*h = t_client();
	struct httpc_resp	 r;

	t_get(h, "/redirect", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 302);
	ck_assert_str_eq(r.body.data, "");
	ck_assert_int_eq(t_count(&srv.requests), 1);
	ck_assert_str_eq(srv.last_path, "/redirect");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_retry_after_and_asked_headers_are_captured)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/retry");
	q.method = "GET";
	q.url = url;
	q.capture[0] = "Sforce-Limit-Info";
	q.capture[1] = "x-LIMIT";
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 503);
	ck_assert_int_eq(r.retry_after_s, 120);
	ck_assert_str_eq(r.captured[0], "");
	ck_assert_str_eq(r.captured[1], "api-usage=5/100");
	ck_assert_str_eq(r.body.data, "busy");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_second_request_reuses_the_connection)
{
	struct httpc		*h = t_client();
	struct httpc_resp	 r;
	int			 i;

	for (i = 0; i < 3; i++) {
		t_get(h, "/hello", &r);
		ck_assert_int_eq(r.err, HTTPC_OK);
		httpc_resp_free(&r);
	}
	ck_assert_int_eq(t_count(&srv.requests), 3);
	ck_assert_int_eq(t_count(&srv.accepted), 1);
	httpc_free(h);
}
END_TEST

/*
 * A POST on a kept connection that the server closes before answering:
 * libcurl sends it again on a new connection by itself, so the server may
 * take it twice; fresh_connect takes a new connection for it, and the
 * close is the caller's error, once.
 */
static int
t_post_drop_after_hello(int fresh)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	t_get(h, "/hello", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	httpc_resp_free(&r);
	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/drop");
	q.method = "POST";
	q.url = url;
	q.body = "once";
	q.bodylen = 4;
	q.fresh_connect = fresh;
	httpc_do(h, &q, &r);
	ck_assert_msg(r.err == HTTPC_DROPPED, "%s (%s)", httpc_err_name(r.err), r.message);
	httpc_resp_free(&r);
	httpc_free(h);
	return t_count(&srv.requests) - 1;
}

START_TEST(test_fresh_connect_sends_a_post_once)
{
	ck_assert_int_eq(t_post_drop_after_hello(1), 1);
	ck_assert_int_eq(t_count(&srv.accepted), 2);
}
END_TEST

START_TEST(test_kept_connection_may_send_a_post_twice)
{
	/* Why fresh_connect exists: without it the server took the POST twice. */
	ck_assert_int_eq(t_post_drop_after_hello(0), 2);
}
END_TEST

/* ---- the egress guard --------------------------------------------------- */

START_TEST(test_loopback_is_refused_unless_private_allowlisted)
{
	struct httpc		*h;
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128], allow[64];

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = url;
	/* https, so the refusal is the resolved address's, not plain http's. */
	t_url(url, sizeof(url), "https", "127.0.0.1", "/secret-path");
	ck_assert_ptr_nonnull(h = httpc_new(NULL, NULL));
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.message, "127.0.0.1"));
	ck_assert_ptr_null(strstr(r.message, "secret-path"));
	httpc_resp_free(&r);
	httpc_free(h);
	ck_assert_int_eq(t_accepted_settled(), 0);

	/* Listed, plain http is allowed too. */
	snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv.port);
	ck_assert_ptr_nonnull(h = httpc_new(allow, NULL));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hello");
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_int_eq(r.status, 200);
	httpc_resp_free(&r);
	httpc_free(h);
	ck_assert_int_eq(t_count(&srv.accepted), 1);
}
END_TEST

START_TEST(test_name_resolving_to_loopback_is_refused_when_not_listed)
{
	struct httpc		*h = t_client();	/* 127.0.0.1:port only */
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = url;
	t_url(url, sizeof(url), "https", "localhost", "/hello");
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	ck_assert_ptr_nonnull(strstr(r.message, "resolved to the internal"));
	httpc_resp_free(&r);
	/* Plain http to the unlisted name is refused before any lookup. */
	t_url(url, sizeof(url), "http", "localhost", "/hello");
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	ck_assert_ptr_nonnull(strstr(r.message, "plain http"));
	httpc_resp_free(&r);
	httpc_free(h);
	ck_assert_int_eq(t_accepted_settled(), 0);
}
END_TEST

START_TEST(test_plain_http_only_to_private_allowlisted_host_port)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = url;
	/* Refused at start: no DNS query, no packet. */
	util_strlcpy(url, "http://example.com/", sizeof(url));
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	ck_assert_ptr_nonnull(strstr(r.message, "plain http"));
	httpc_resp_free(&r);
	/* The listed host on another port is another destination. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", t_closed_port());
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	httpc_resp_free(&r);
	httpc_free(h);
	ck_assert_int_eq(t_accepted_settled(), 0);
}
END_TEST

START_TEST(test_host_allowlist_applies_per_request)
{
	static const char *const others[] = { "api.example.com", "*.0.0.1", NULL };
	static const char *const ours[] = { "api.example.com", "127.0.0.1", NULL };
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hello");
	q.method = "GET";
	q.url = url;
	q.allow_hosts = others;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_EGRESS);
	ck_assert_ptr_nonnull(strstr(r.message, "allowlist"));
	httpc_resp_free(&r);
	ck_assert_int_eq(t_accepted_settled(), 0);
	q.allow_hosts = ours;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_str_eq(r.body.data, "hello");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

/* ---- transport failures -------------------------------------------------- */

START_TEST(test_total_timeout_ends_a_slow_answer)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/delay/3000");
	q.method = "GET";
	q.url = url;
	q.timeout_ms = 200;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_TIMEOUT);
	ck_assert_int_eq(r.status, 0);
	ck_assert_double_lt(r.elapsed_ms, 2500);
	ck_assert_str_eq(r.body.data, "");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_refused_connection_is_connect)
{
	struct httpc		*h;
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128], allow[64];
	int			 port = t_closed_port();

	snprintf(allow, sizeof(allow), "127.0.0.1:%d", port);
	ck_assert_ptr_nonnull(h = httpc_new(allow, NULL));
	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	q.method = "GET";
	q.url = url;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_CONNECT);
	ck_assert_str_ne(r.message, "");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

static const char *const large_paths[] = { "/huge", "/stream" };

START_TEST(test_body_over_the_cap_is_too_large)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", large_paths[_i]);
	q.method = "GET";
	q.url = url;
	q.response_max = 1024;
	httpc_do(h, &q, &r);
	ck_assert_msg(r.err == HTTPC_TOO_LARGE, "%s: %s (%s)", large_paths[_i],
	    httpc_err_name(r.err), r.message);
	ck_assert_uint_eq(r.body.len, 0);
	httpc_resp_free(&r);
	/* The default cap (1 MiB) holds too. */
	q.response_max = 0;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_TOO_LARGE);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

static const char *const drop_paths[] = { "/drop", "/partial" };

START_TEST(test_connection_closed_mid_answer_is_dropped)
{
	struct httpc		*h = t_client();
	struct httpc_resp	 r;

	t_get(h, drop_paths[_i], &r);
	ck_assert_msg(r.err == HTTPC_DROPPED, "%s: %s (%s)", drop_paths[_i],
	    httpc_err_name(r.err), r.message);
	ck_assert_uint_eq(r.body.len, 0);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_tls_handshake_refused_is_tls)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "https", "127.0.0.1", "/hello");
	q.method = "GET";
	q.url = url;
	httpc_do(h, &q, &r);
	ck_assert_msg(r.err == HTTPC_TLS, "%s (%s)", httpc_err_name(r.err),
	    r.message);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_failed_handshake_is_not_a_refused_certificate)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "https", "127.0.0.1", "/hello");
	q.method = "GET";
	q.url = url;
	httpc_do(h, &q, &r);
	ck_assert_int_eq(r.err, HTTPC_TLS);
	/* No certificate was ever seen: a retry may succeed. */
	ck_assert_int_eq(r.tls_cert, 0);
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

/* ---- many transfers, callbacks, shutdown --------------------------------- */

START_TEST(test_do_runs_no_other_callback)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct t_seen		 seen = { 0 };
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hello");
	q.method = "GET";
	q.url = url;
	ck_assert_int_eq(httpc_start(h, &q, t_done, &seen), CB_OK);
	/* /hello ends long before /delay/300 does, yet its callback waits. */
	t_get(h, "/delay/300", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	ck_assert_str_eq(r.body.data, "late");
	httpc_resp_free(&r);
	ck_assert_int_eq(seen.calls, 0);
	ck_assert_uint_eq(httpc_in_flight(h), 1);
	/* The next run delivers it at once. */
	ck_assert_int_eq(httpc_run(h, 0, -1, NULL), 0);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.status, 200);
	ck_assert_str_eq(seen.body, "hello");
	httpc_free(h);
}
END_TEST

struct t_nested {
	struct httpc	*h;
	struct t_seen	 third;
	int		 calls, third_calls_inside;
	long		 inner_status;
};

/* A callback that makes a synchronous call, as the engine does on a 401. */
static void
t_nested_done(const struct httpc_resp *r, void *ud)
{
	struct t_nested		*n = ud;
	struct httpc_resp	 inner;

	(void)r;
	n->calls++;
	t_get(n->h, "/delay/200", &inner);
	n->inner_status = inner.status;
	n->third_calls_inside = n->third.calls;
	httpc_resp_free(&inner);
}

START_TEST(test_do_inside_a_callback_leaves_others_to_the_dispatch)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct t_nested		 n;
	char			 url[128], url2[128];

	memset(&n, 0, sizeof(n));
	n.h = h;
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hello");
	q.url = url;
	ck_assert_int_eq(httpc_start(h, &q, t_nested_done, &n), CB_OK);
	t_url(url2, sizeof(url2), "http", "127.0.0.1", "/delay/50");
	q.url = url2;
	ck_assert_int_eq(httpc_start(h, &q, t_done, &n.third), CB_OK);
	t_drain(h);
	ck_assert_int_eq(n.calls, 1);
	ck_assert_int_eq(n.inner_status, 200);
	/* The third ended during the inner call but ran only after it. */
	ck_assert_int_eq(n.third_calls_inside, 0);
	ck_assert_int_eq(n.third.calls, 1);
	ck_assert_int_eq(n.third.status, 200);
	httpc_free(h);
}
END_TEST

#define T_MANY	20

START_TEST(test_twenty_transfers_are_in_flight_at_once)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct t_seen		 seen[T_MANY];
	char			 url[128];
	int			 i;

	memset(seen, 0, sizeof(seen));
	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hold");
	q.method = "GET";
	q.url = url;
	for (i = 0; i < T_MANY; i++)
		ck_assert_int_eq(httpc_start(h, &q, t_done, &seen[i]), CB_OK);
	ck_assert_uint_eq(httpc_in_flight(h), T_MANY);
	t_drain(h);
	for (i = 0; i < T_MANY; i++) {
		ck_assert_int_eq(seen[i].calls, 1);
		ck_assert_int_eq(seen[i].err, HTTPC_OK);
		ck_assert_str_eq(seen[i].body, "held");
	}
	ck_assert_int_ge(t_count(&srv.max_holding), 10);
	httpc_free(h);
	for (i = 0; i < T_MANY; i++)
		ck_assert_int_eq(seen[i].calls, 1);
}
END_TEST

START_TEST(test_free_ends_transfers_in_flight_as_aborted)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct t_seen		 seen[3];
	char			 url[128];
	int			 i;

	memset(seen, 0, sizeof(seen));
	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/delay/5000");
	q.method = "POST";
	q.url = url;
	q.body = "token=secret";
	q.bodylen = strlen(q.body);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(httpc_start(h, &q, t_done, &seen[i]), CB_OK);
	ck_assert_int_eq(httpc_run(h, 200, -1, NULL), 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(seen[i].calls, 0);
	httpc_free(h);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(seen[i].calls, 1);
		ck_assert_int_eq(seen[i].err, HTTPC_ABORTED);
	}
}
END_TEST

START_TEST(test_abort_all_leaves_the_client_usable)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct t_seen		 seen = { 0 };
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/delay/5000");
	q.method = "GET";
	q.url = url;
	ck_assert_int_eq(httpc_start(h, &q, t_done, &seen), CB_OK);
	httpc_run(h, 50, -1, NULL);
	httpc_abort_all(h);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.err, HTTPC_ABORTED);
	ck_assert_uint_eq(httpc_in_flight(h), 0);
	t_get(h, "/hello", &r);
	ck_assert_int_eq(r.err, HTTPC_OK);
	httpc_resp_free(&r);
	httpc_free(h);
	ck_assert_int_eq(seen.calls, 1);
}
END_TEST

struct t_chain {
	struct httpc		*h;
	struct httpc_req	*q;
	struct t_seen		 first, second;
};

static void
t_chain_done(const struct httpc_resp *r, void *ud)
{
	struct t_chain	*c = ud;

	t_done(r, &c->first);
	ck_assert_int_eq(httpc_start(c->h, c->q, t_done, &c->second), CB_OK);
}

START_TEST(test_callback_may_start_the_next_transfer)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct t_chain		 c;
	char			 url[128];

	memset(&c, 0, sizeof(c));
	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/hello");
	q.method = "GET";
	q.url = url;
	c.h = h;
	c.q = &q;
	ck_assert_int_eq(httpc_start(h, &q, t_chain_done, &c), CB_OK);
	t_drain(h);
	ck_assert_int_eq(c.first.calls, 1);
	ck_assert_int_eq(c.second.calls, 1);
	ck_assert_int_eq(c.second.err, HTTPC_OK);
	ck_assert_str_eq(c.second.body, "hello");
	httpc_free(h);
}
END_TEST

/*
 * httpc_trace: every call sends the trace under a span of its own; a
 * transfer's callback works for the trace the transfer was started with
 * (the next step it starts carries it, whatever the caller set since);
 * without a trace, no header.
 */
START_TEST(test_trace_sent_under_new_spans_and_follows_callbacks)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct trace		 t, a, b;
	struct t_chain		 c;
	char			 url[128];

	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/trace");
	q.method = "GET";
	q.url = url;
	httpc_do(h, &q, &r);
	ck_assert_str_eq(r.body.data, "-");
	httpc_resp_free(&r);
	trace_start(&t);
	httpc_trace(h, &t);
	httpc_do(h, &q, &r);
	ck_assert_int_eq(trace_parse(r.body.data, &a), CB_OK);
	httpc_resp_free(&r);
	httpc_do(h, &q, &r);
	ck_assert_int_eq(trace_parse(r.body.data, &b), CB_OK);
	httpc_resp_free(&r);
	ck_assert_str_eq(a.id, t.id);
	ck_assert_str_eq(b.id, t.id);
	ck_assert_str_ne(a.span, t.span);
	ck_assert_str_ne(a.span, b.span);

	memset(&c, 0, sizeof(c));
	c.h = h;
	c.q = &q;
	ck_assert_int_eq(httpc_start(h, &q, t_chain_done, &c), CB_OK);
	httpc_trace(h, NULL);
	t_drain(h);
	ck_assert_int_eq(c.second.calls, 1);
	ck_assert_int_eq(trace_parse(c.first.body, &a), CB_OK);
	ck_assert_int_eq(trace_parse(c.second.body, &b), CB_OK);
	ck_assert_str_eq(b.id, t.id);
	ck_assert_str_ne(b.span, a.span);
	/* The caller's (no trace) is back after the callback. */
	httpc_do(h, &q, &r);
	ck_assert_str_eq(r.body.data, "-");
	httpc_resp_free(&r);
	httpc_free(h);
}
END_TEST

START_TEST(test_readable_extra_fd_ends_the_wait)
{
	struct httpc		*h = t_client();
	struct httpc_req	 q;
	struct t_seen		 seen = { 0 };
	char			 url[128];
	double			 t0;
	int			 p[2], ready = 0;

	ck_assert_int_eq(pipe(p), 0);
	memset(&q, 0, sizeof(q));
	t_url(url, sizeof(url), "http", "127.0.0.1", "/delay/5000");
	q.method = "GET";
	q.url = url;
	ck_assert_int_eq(httpc_start(h, &q, t_done, &seen), CB_OK);
	/* Not readable: the full wait, the transfer still in flight. */
	ck_assert_int_eq(httpc_run(h, 100, p[0], &ready), 1);
	ck_assert_int_eq(ready, 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	t0 = util_now_ms();
	ck_assert_int_eq(httpc_run(h, 4000, p[0], &ready), 1);
	ck_assert_int_eq(ready, 1);
	ck_assert_double_lt(util_now_ms() - t0, 2000);
	ck_assert_int_eq(seen.calls, 0);
	httpc_free(h);
	ck_assert_int_eq(seen.calls, 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *
httpc_suite(void)
{
	Suite	*s = suite_create("httpc");
	TCase	*tc;

	tc = tcase_create("rules");
	tcase_add_loop_test(tc, test_addr_public_classifies_every_range, 0,
	    (int)CU_NELEM(addr_cases));
	tcase_add_test(tc, test_addr_public_null_is_not_an_address);
	tcase_add_loop_test(tc,
	    test_host_allowlist_matches_exact_names_and_subdomains_only, 0,
	    (int)CU_NELEM(host_cases));
	tcase_add_loop_test(tc, test_retry_after_is_seconds_or_a_date_capped_at_a_day,
	    0, (int)CU_NELEM(retry_cases));
	tcase_add_test(tc, test_retry_after_null_is_malformed);
	tcase_add_loop_test(tc, test_malformed_private_allowlist_refuses_to_build,
	    0, (int)CU_NELEM(private_cases));
	tcase_add_test(tc, test_too_many_private_entries_refuse_to_build);
	tcase_add_loop_test(tc, test_request_that_cannot_start_never_calls_back,
	    0, BAD__N);
	tcase_add_loop_test(tc, test_bad_url_ends_on_the_next_run_not_inside_start,
	    0, (int)CU_NELEM(bad_urls));
	tcase_add_test(tc, test_run_with_nothing_in_flight_returns_at_once);
	tcase_add_test(tc, test_every_error_has_a_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_checked_fixture(tc, t_server_start, t_server_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_answer_is_read_whole);
	tcase_add_test(tc, test_any_status_is_an_answer);
	tcase_add_loop_test(tc, test_method_headers_and_body_are_sent, 0,
	    (int)CU_NELEM(echo_methods));
	tcase_add_test(tc, test_redirect_is_an_answer_never_followed);
	tcase_add_test(tc, test_retry_after_and_asked_headers_are_captured);
	tcase_add_test(tc, test_second_request_reuses_the_connection);
	tcase_add_test(tc, test_fresh_connect_sends_a_post_once);
	tcase_add_test(tc, test_kept_connection_may_send_a_post_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("egress");
	tcase_add_checked_fixture(tc, t_server_start, t_server_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_loopback_is_refused_unless_private_allowlisted);
	tcase_add_test(tc, test_name_resolving_to_loopback_is_refused_when_not_listed);
	tcase_add_test(tc, test_plain_http_only_to_private_allowlisted_host_port);
	tcase_add_test(tc, test_host_allowlist_applies_per_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_add_checked_fixture(tc, t_server_start, t_server_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_total_timeout_ends_a_slow_answer);
	tcase_add_test(tc, test_refused_connection_is_connect);
	tcase_add_loop_test(tc, test_body_over_the_cap_is_too_large, 0,
	    (int)CU_NELEM(large_paths));
	tcase_add_loop_test(tc, test_connection_closed_mid_answer_is_dropped, 0,
	    (int)CU_NELEM(drop_paths));
	tcase_add_test(tc, test_tls_handshake_refused_is_tls);
	tcase_add_test(tc, test_failed_handshake_is_not_a_refused_certificate);
	suite_add_tcase(s, tc);

	tc = tcase_create("multi");
	tcase_add_checked_fixture(tc, t_server_start, t_server_stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_twenty_transfers_are_in_flight_at_once);
	tcase_add_test(tc, test_free_ends_transfers_in_flight_as_aborted);
	tcase_add_test(tc, test_abort_all_leaves_the_client_usable);
	tcase_add_test(tc, test_callback_may_start_the_next_transfer);
	tcase_add_test(tc, test_trace_sent_under_new_spans_and_follows_callbacks);
	tcase_add_test(tc, test_do_runs_no_other_callback);
	tcase_add_test(tc, test_do_inside_a_callback_leaves_others_to_the_dispatch);
	tcase_add_test(tc, test_readable_extra_fd_ends_the_wait);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(httpc_suite());
}
