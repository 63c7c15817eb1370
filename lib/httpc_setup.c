/*
 * httpc_setup: one transfer's easy handle, configured (lib/httpc.c drives
 * it): the request checked before anything is allocated, the URL parsed
 * once and handed to libcurl as parsed (so the guard sees the URL libcurl
 * uses), every option set, proxies from the environment ignored, and the
 * callbacks that read the answer within its caps and hold every socket
 * libcurl opens, and every connection a request is about to be sent on,
 * to the egress guard (lib/egress.h).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "egress.h"
#include "errs.h"
#include "httpc.h"
#include "httpc_int.h"
#include "util.h"

/* ---- libcurl callbacks ------------------------------------------------ */

static size_t
httpc_write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct httpc_xfer	*x = ud;

	/* Returning short makes libcurl stop the transfer with a write error. */
	if (buf_append(&x->resp.body, p, sz * n) != CB_OK) {
		x->too_large = 1;
		return 0;
	}
	return sz * n;
}

static size_t
httpc_header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct httpc_xfer	*x = ud;
	size_t			 len = sz * n, k;
	char			 v[HTTPC_HEADER_VALUE_MAX];

	x->hdr_bytes += len;
	if (x->hdr_bytes > HTTPC_HEADERS_IN_MAX) {
		x->too_large = 1;
		return 0;
	}
	/* A new status line (after a 100 Continue) starts a new answer. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		memset(x->resp.captured, 0, sizeof(x->resp.captured));
		x->resp.retry_after_s = -1;
		return len;
	}
	if (egress_header_value(p, len, "Retry-After", v, sizeof(v)))
		x->resp.retry_after_s = egress_retry_after(v, (double)time(NULL));
	for (k = 0; k < HTTPC_CAPTURE_MAX && x->capture[k] != NULL; k++)
		if (egress_header_value(p, len, x->capture[k], x->resp.captured[k],
		    sizeof(x->resp.captured[k])))
			break;
	return len;
}

/*
 * The egress guard proper: libcurl asks us for every socket it would
 * connect, with the address already resolved, so a DNS answer (or a
 * rebinding one) pointing inside is refused before a packet leaves.
 */
static curl_socket_t
httpc_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct httpc_xfer	*x = ud;
	char			 text[INET6_ADDRSTRLEN];

	(void)purpose;
	if (!egress_sockaddr_public(&a->addr, a->addrlen, text, sizeof(text)) &&
	    !x->private_ok) {
		x->egress_refused = 1;
		util_strlcpy(x->refused_addr, text, sizeof(x->refused_addr));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/*
 * The second look, before any request byte is written: the peer of the
 * connection about to carry the request, whether new or reused.
 */
static int
httpc_prereq(void *ud, char *peer, char *local, int peer_port, int local_port)
{
	struct httpc_xfer	*x = ud;

	(void)local;
	(void)peer_port;
	(void)local_port;
	if (x->private_ok || egress_addr_public(peer) == 1)
		return CURL_PREREQFUNC_OK;
	x->egress_refused = 1;
	util_strlcpy(x->refused_addr, peer ? peer : "?", sizeof(x->refused_addr));
	return CURL_PREREQFUNC_ABORT;
}

int
httpc_check_req(const struct httpc_req *r)
{
	size_t	 i;

	if (r == NULL || r->method == NULL || !egress_method_ok(r->method) ||
	    r->url == NULL || r->url[0] == '\0' ||
	    strlen(r->url) > HTTPC_URL_MAX ||
	    r->headers[HTTPC_HEADERS_MAX] != NULL ||
	    r->capture[HTTPC_CAPTURE_MAX] != NULL ||
	    (r->body == NULL && r->bodylen != 0))
		return CB_ERR_VALIDATION;
	for (i = 0; r->headers[i] != NULL; i++)
		if (!egress_header_line_ok(r->headers[i]))
			return CB_ERR_VALIDATION;
	for (i = 0; r->capture[i] != NULL; i++)
		if (r->capture[i][0] == '\0' || strpbrk(r->capture[i], ":\r\n"))
			return CB_ERR_VALIDATION;
	return CB_OK;
}

/*
 * Parse the URL once, the way libcurl will use it, and apply the checks
 * that need no DNS: scheme, host allowlist, plain http.  HTTPC_OK to go on,
 * else the error the transfer ends with (message set).
 */
int
httpc_target(struct httpc_xfer *x, const struct httpc_req *r)
{
	char	*scheme = NULL, *host = NULL, *port = NULL;
	size_t	 i;
	int	 err = HTTPC_BAD_URL, plain;

	if ((x->url = curl_url()) == NULL)
		util_oom();
	if (curl_url_set(x->url, CURLUPART_URL, r->url, 0) != CURLUE_OK ||
	    curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
	    != CURLUE_OK) {
		httpc_message(&x->resp, "malformed URL");
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		plain = 0;
	else if (strcasecmp(scheme, "http") == 0)
		plain = 1;
	else {
		httpc_message(&x->resp, "only http and https are spoken");
		goto out;
	}
	for (i = 0; host[i] != '\0'; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			host[i] = (char)(host[i] + 32);
	if ((size_t)snprintf(x->hostport, sizeof(x->hostport), "%s:%s", host,
	    port) >= sizeof(x->hostport)) {
		httpc_message(&x->resp, "host name too long");
		goto out;
	}
	err = HTTPC_EGRESS;
	if (!egress_host_allowed(host, r->allow_hosts)) {
		snprintf(x->resp.message, sizeof(x->resp.message), "egress: %.160s "
		    "is not on this request's host allowlist", host);
		goto out;
	}
	x->private_ok = egress_private_has(&x->h->priv, x->hostport);
	/* A credential in plain text may only travel to a known local peer. */
	if (plain && !x->private_ok) {
		snprintf(x->resp.message, sizeof(x->resp.message), "egress: "
		    "plain http to %.160s, which is not on the private allowlist",
		    x->hostport);
		goto out;
	}
	err = HTTPC_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return err;
}

static void
httpc_add_header(struct httpc_xfer *x, const char *hd)
{
	struct curl_slist	*n = curl_slist_append(x->hdrs, hd);

	if (n == NULL)
		util_oom();
	x->hdrs = n;
}

/* Every option of one transfer.  CURLE_OK, or the option libcurl refused. */
CURLcode
httpc_setup(struct httpc_xfer *x, const struct httpc_req *r)
{
	CURL		*e = x->easy;
	CURLcode	 cc;
	long		 cto, to;
	int		 expect = 0, get, head;
	size_t		 i;

	for (i = 0; r->headers[i] != NULL; i++) {
		httpc_add_header(x, r->headers[i]);
		if (strncasecmp(r->headers[i], "Expect", 6) == 0 &&
		    (r->headers[i][6] == ':' || r->headers[i][6] == ';'))
			expect = 1;
	}
	/* A 100-continue round trip only delays every POST: off unless asked. */
	if (!expect)
		httpc_add_header(x, "Expect:");
	/* The trace the caller is working for, under a new span per call. */
	if (trace_set(&x->h->trace)) {
		struct trace	 span;
		char		 line[sizeof("traceparent: ") + TRACE_HEADER_LEN];

		trace_child(&x->h->trace, &span);
		memcpy(line, "traceparent: ", sizeof("traceparent: ") - 1);
		trace_format(&span, line + sizeof("traceparent: ") - 1);
		httpc_add_header(x, line);
	}
	cto = r->connect_timeout_ms > 0 ? r->connect_timeout_ms :
	    HTTPC_DEFAULT_CONNECT_MS;
	to = r->timeout_ms > 0 ? r->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
	get = strcmp(r->method, "GET") == 0 && r->body == NULL;
	head = strcmp(r->method, "HEAD") == 0;

	if ((cc = curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_CURLU, x->url)) ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    (cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")) ||
	    (cc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) ||
#else
	    (cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) ||
	    (cc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) ||
#endif
	    /* A redirect would carry the request's credentials elsewhere. */
	    (cc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L)) ||
	    /* "" turns off http_proxy and friends from the environment. */
	    (cc = curl_easy_setopt(e, CURLOPT_PROXY, "")) ||
	    (cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cto)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_USERAGENT, x->h->user_agent)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_SHARE, x->h->share)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_write_cb)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, httpc_header_cb)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)x->resp.body.max)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION,
	    httpc_opensocket)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *)x)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, httpc_prereq)) ||
	    (cc = curl_easy_setopt(e, CURLOPT_PREREQDATA, (void *)x)))
		return cc;
	if (r->fresh_connect && (cc = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L)))
		return cc;
	if (head)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (get)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (strcmp(r->method, "POST") != 0 &&
	    (cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method)))
		return cc;
	if (r->body == NULL && strcmp(r->method, "POST") != 0)
		return CURLE_OK;
	/* Our own copy, not COPYPOSTFIELDS: libcurl would not wipe its copy. */
	x->bodylen = r->body ? r->bodylen : 0;
	x->body = util_malloc(x->bodylen + 1);
	if (x->bodylen > 0)
		memcpy(x->body, r->body, x->bodylen);
	x->body[x->bodylen] = '\0';
	if ((cc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)x->bodylen)))
		return cc;
	return curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
}
