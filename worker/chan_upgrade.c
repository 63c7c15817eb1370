/*
 * chan_upgrade: the tab channel's door, before any WebSocket exists.  It
 * reads the upgrade request (path, query, subprotocol, X-Request-Id,
 * traceparent, the client's address) and decides whether it may become a
 * WebSocket: a wrong path or subprotocol, a query string (the token never
 * travels in the URL) or a connection over its caps (per context, per
 * client address) is answered here as an HTTP refusal with a problem+json
 * body, never libwebsockets' own pages and never a dropped connection.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "buf.h"
#include "chan.h"
#include "errs.h"
#include "log.h"
#include "trace.h"
#include "util.h"

/*
 * "/ws/ctx/<uuid>": 0 and the lower-cased uuid in ref; "/ws/calls": 0 and
 * CHAN_FEED_REF (the call feed); 404 for any other path, 400 for a
 * malformed ctx_ref.
 */
static int
chan_parse_path(const char *uri, char ref[CHAN_UUID_LEN + 1])
{
	const char	*p;
	size_t		 i, plen = strlen(CHAN_PATH_PREFIX);
	char		 c;

	if (strcmp(uri, CHAN_FEED_PATH) == 0) {
		util_strlcpy(ref, CHAN_FEED_REF, CHAN_UUID_LEN + 1);
		return 0;
	}
	if (strncmp(uri, CHAN_PATH_PREFIX, plen) != 0)
		return 404;
	p = uri + plen;
	if (strchr(p, '/') != NULL)
		return 404;
	if (strlen(p) != CHAN_UUID_LEN)
		return 400;
	for (i = 0; i < CHAN_UUID_LEN; i++) {
		c = p[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 400;
			ref[i] = c;
			continue;
		}
		if (c >= '0' && c <= '9')
			ref[i] = c;
		else if (c >= 'a' && c <= 'f')
			ref[i] = c;
		else if (c >= 'A' && c <= 'F')
			ref[i] = (char)(c - 'A' + 'a');
		else
			return 400;
	}
	ref[CHAN_UUID_LEN] = '\0';
	return 0;
}

/* Check the upgrade request's path; 0 to accept, else the HTTP status. */
int
chan_request_status(struct lws *wsi, char ref[CHAN_UUID_LEN + 1])
{
	char	 uri[512];
	int	 st;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return 404;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0)
		return 400;
	if ((st = chan_parse_path(uri, ref)) != 0)
		return st;
	/* The token never travels in the URL: refuse any query string. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0)
		return 400;
	return 0;
}

void
chan_request_id(struct lws *wsi, char *out, size_t outsz)
{
	char	 v[64];
	size_t	 i;
	int	 n;

	util_strlcpy(out, "-", outsz);
	n = lws_hdr_custom_copy(wsi, v, (int)sizeof(v), "x-request-id:", 13);
	if (n <= 0)
		return;
	/* nginx makes it hex; keep the log line clean whatever arrives. */
	for (i = 0; v[i]; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '-'))
			return;
	util_strlcpy(out, v, outsz);
}

/*
 * The trace id of the upgrade request (the traceparent nginx sets on /ws/,
 * checked strictly: lib/trace.h), for the connect line; "" when there is
 * none or tracing is off.
 */
void
chan_trace_id(struct lws *wsi, int on, char *out, size_t outsz)
{
	char		 v[TRACE_HEADER_LEN + 2];
	struct trace	 t;

	out[0] = '\0';
	if (on && lws_hdr_custom_copy(wsi, v, (int)sizeof(v), "traceparent:", 12) > 0 &&
	    trace_parse(v, &t) == CB_OK)
		util_strlcpy(out, t.id, outsz);
}

/*
 * The client's address for the per-address cap: what nginx forwards
 * (X-Forwarded-For, set to its $remote_addr) when the peer is nginx on
 * loopback; anyone else is counted by its own address, whatever it claims.
 */
void
chan_client_addr(struct lws *wsi, char *out, size_t outsz)
{
	char		 peer[CHAN_ADDR_MAX], v[CHAN_ADDR_MAX];
	const char	*a;
	size_t		 i;
	int		 n;

	util_strlcpy(out, "-", outsz);
	if (lws_get_peer_simple(wsi, peer, sizeof(peer)) == NULL)
		return;
	util_strlcpy(out, peer, outsz);
	if (strcmp(peer, "127.0.0.1") != 0 && strcmp(peer, "::1") != 0 &&
	    strcmp(peer, "::ffff:127.0.0.1") != 0)
		return;
	n = lws_hdr_custom_copy(wsi, v, (int)sizeof(v), "x-forwarded-for:", 16);
	if (n <= 0)
		return;
	/* A list names the nearest hop last: that is the one nginx saw. */
	a = strrchr(v, ',');
	a = a ? a + 1 : v;
	while (*a == ' ')
		a++;
	for (i = 0; a[i]; i++)
		if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f') ||
		    (a[i] >= 'A' && a[i] <= 'F') || a[i] == '.' || a[i] == ':'))
			return;
	if (i > 0)
		util_strlcpy(out, a, outsz);
}

/* NULL when one more WebSocket for (ctx_ref, addr) fits its caps, else why not. */
static const char *
chan_over_cap(const struct chan *ch, const char *ref, const char *addr)
{
	const struct chan_conn	*c;
	long long		 nctx = 0, naddr = 0;

	for (c = ch->conns; c != NULL; c = c->next) {
		if (c->closing)
			continue;	/* on its way out */
		/* Call feeds are capped per tenant at their auth (chan_feed.c). */
		if (!c->feed && strcmp(c->ctx_ref, ref) == 0)
			nctx++;
		if (strcmp(c->addr, addr) == 0)
			naddr++;
	}
	if (nctx >= ch->s->ws_max_per_ctx)
		return "per_ctx";
	if (naddr >= ch->s->ws_max_per_addr)
		return "per_addr";
	return NULL;
}

/*
 * Answer an HTTP refusal at the upgrade stage (no WebSocket is made): the
 * status, an RFC 9457 problem+json body with the type and title lib/errs.c
 * gives that status, Retry-After when retry_after is set.  Never
 * libwebsockets' own text/html pages, never a dropped connection (which
 * nginx would turn into a 502).  Nonzero if it could not be written (the
 * caller hangs up).
 */
static int
chan_problem(struct lws *wsi, int status, const char *detail, const char *request_id,
    int retry_after)
{
	unsigned char	 hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char	*end = hdr + sizeof(hdr) - 1, *body = NULL;
	const char	*type, *title;
	struct buf	 b;
	int		 rc = -1;

	switch (status) {
	case 404:
		type = "/problems/not-found";
		title = "Not found";
		break;
	case 429:
		type = "/problems/rate-limited";
		title = "Too many requests";
		break;
	default:
		status = 400;
		type = "/problems/bad-request";
		title = "Malformed request";
		break;
	}
	buf_init(&b, 1024);
	if (buf_puts(&b, "{\"type\":") != CB_OK || buf_json_str(&b, type) != CB_OK ||
	    buf_puts(&b, ",\"title\":") != CB_OK || buf_json_str(&b, title) != CB_OK ||
	    buf_printf(&b, ",\"status\":%d,\"detail\":", status) != CB_OK ||
	    buf_json_str(&b, detail) != CB_OK ||
	    buf_puts(&b, ",\"request_id\":") != CB_OK ||
	    buf_json_str(&b, request_id) != CB_OK || buf_putc(&b, '}') != CB_OK)
		goto out;
	body = util_malloc(LWS_PRE + b.len);
	memcpy(body + LWS_PRE, b.data, b.len);
	if (lws_add_http_common_headers(wsi, (unsigned int)status, "application/problem+json",
	    (lws_filepos_t)b.len, &p, end) ||
	    (retry_after && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"retry-after:", (const unsigned char *)"1", 1, &p, end)) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	    (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		goto out;
	if (lws_write(wsi, body + LWS_PRE, b.len, LWS_WRITE_HTTP_FINAL) != (int)b.len)
		goto out;
	rc = 0;
out:
	free(body);
	buf_free(&b);
	return rc;
}

/* What a refused path is told, by the status chan_request_status gave. */
static const char *
chan_path_detail(int status)
{
	return status == 404 ? "the tab channel lives at /ws/ctx/{ctx_ref}, the call feed at "
	    CHAN_FEED_PATH :
	    "the tab channel takes /ws/ctx/{ctx_ref} with a UUID and no query string";
}

/*
 * The subprotocol offered (Sec-WebSocket-Protocol): absent, or a list that
 * names `want` (cb.tab.v1, or cb.calls.v1 on the call feed) and none of
 * the vhost's other protocols (which libwebsockets would otherwise bind,
 * as it takes the first it knows).  0 when acceptable.
 */
static int
chan_subprotocol_bad(struct lws *wsi, const char *want)
{
	char		 v[256];
	const char	*t = v, *e;
	size_t		 len;
	int		 n, found = 0;

	n = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
	if (n <= 0)
		return 0;
	if (n >= (int)sizeof(v) || lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_PROTOCOL) < 0)
		return 1;
	while (*t != '\0') {
		t += strspn(t, ", \t");
		len = strcspn(t, ", \t");
		e = t + len;
		if (len == strlen(want) && strncmp(t, want, len) == 0)
			found = 1;
		else if ((len == strlen(CHAN_PG_PROTOCOL) && strncmp(t, CHAN_PG_PROTOCOL, len) == 0) ||
		    (len == strlen(CHAN_KV_PROTOCOL) && strncmp(t, CHAN_KV_PROTOCOL, len) == 0) ||
		    (len == strlen(CHAN_PROTOCOL) && strncmp(t, CHAN_PROTOCOL, len) == 0) ||
		    (len == strlen(CHAN_FEED_PROTOCOL) && strncmp(t, CHAN_FEED_PROTOCOL, len) == 0))
			return 1;
		t = e;
	}
	return !found;
}

/*
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on; otherwise
 * the refusal is written and the callback's answer returned (1 when it
 * was, -1 to hang up).
 */
int
chan_upgrade_confirm(struct chan *ch, struct lws *wsi)
{
	char		 ref[CHAN_UUID_LEN + 1], addr[CHAN_ADDR_MAX], rid[64];
	const char	*cap;
	int		 st;

	/*
	 * Wrong paths and subprotocols never become WebSockets: the
	 * answer is an HTTP refusal, problem+json like every other.
	 */
	chan_request_id(wsi, rid, sizeof(rid));
	if ((st = chan_request_status(wsi, ref)) != 0) {
		log_msg(LOG_LVL_INFO, "ws_rejected", "status %d", st);
		return chan_problem(wsi, st, chan_path_detail(st), rid, 0) ? -1 : 1;
	}
	if (chan_subprotocol_bad(wsi, strcmp(ref, CHAN_FEED_REF) == 0 ?
	    CHAN_FEED_PROTOCOL : CHAN_PROTOCOL)) {
		log_kv(LOG_LVL_INFO, "ws_rejected", "why", "subprotocol",
		    "request_id", rid, NULL);
		return chan_problem(wsi, 400, "the WebSocket subprotocol must be "
		    CHAN_PROTOCOL " (" CHAN_FEED_PROTOCOL " on " CHAN_FEED_PATH ")", rid, 0) ?
		    -1 : 1;
	}
	chan_client_addr(wsi, addr, sizeof(addr));
	if ((cap = chan_over_cap(ch, ref, addr)) == NULL)
		return 0;
	/* The address is personal data: the log names the cap only. */
	log_kv(LOG_LVL_WARN, "ws_refused", "ctx", ref, "cap", cap,
	    "request_id", rid, NULL);
	return chan_problem(wsi, 429, strcmp(cap, "per_ctx") == 0 ?
	    "this tab already holds as many WebSockets as it may; close one or retry later" :
	    "this address already holds as many WebSockets as it may; retry later",
	    rid, 1) ? -1 : 1;
}

/* LWS_CALLBACK_HTTP: plain HTTP, refused, since the channel only speaks WebSocket. */
int
chan_upgrade_plain(struct lws *wsi)
{
	char	 ref[CHAN_UUID_LEN + 1], rid[64];
	int	 st;

	st = chan_request_status(wsi, ref);
	chan_request_id(wsi, rid, sizeof(rid));
	if (chan_problem(wsi, st == 0 ? 400 : st, st == 0 ?
	    "the tab channel speaks WebSocket only (subprotocol " CHAN_PROTOCOL ")" :
	    chan_path_detail(st), rid, 0) ||
	    lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}
