/*
 * channel: the tab channel duty, the one file that calls libwebsockets.
 *
 * One WebSocket per browser tab at /ws/ctx/{ctx_ref} (protocol cb.tab.v1,
 * docs/channel.md), served on 127.0.0.1:CB_PORT_WS behind nginx.  The lws
 * event loop is the process's only loop and never waits for Postgres: the
 * one libpq connection's socket (a dup) is adopted into the loop, and every
 * statement is sent and its answer read asynchronously (chan_pg.c), so a
 * slow statement delays only what waits for its answer, never the frames,
 * pings and upgrades of every tab.  Wake-ups come from Redis (PUBLISH cb:cmd
 * <ctx_id> by the command route after its commit; a dup of the
 * subscription's socket is adopted too), and a sweep every
 * CB_CHANNEL_SWEEP_MS asks Postgres, in one query for every connected tab,
 * what a lost wake-up did not announce: Postgres is the truth.
 *
 * Guarantees, per connection:
 *  - nothing is served before a valid auth frame naming this URL's context;
 *  - commands go out once each, in seq order, after the presented position;
 *    a position the broker cannot serve (ahead of the context, or a missing
 *    row after it) gets an explicit resync and close 4009, never a skip;
 *  - per tab, across all its connections in this process, at most the
 *    form's agent policy max_in_flight commands are sent and unreceipted;
 *    a pending_approval command blocks every later one;
 *  - a command is never sent after its expires_at (it ends `expired`, tab
 *    or no tab: a sweep finds them), nor in more than CHAN_MAX_ATTEMPTS
 *    delivery rounds (it ends `dead`, with the reason; the sockets of one
 *    tab carrying it share a round: chan_flight.c);
 *  - every state change is written to Postgres before the frame leaves
 *    (queued -> delivered), and a receipt's outcome is written before its
 *    slot in the window is released; a receipt that cannot be written yet
 *    (Postgres down) is kept and written after the reconnect;
 *  - input is capped: 16 KiB per message (close 1009 beyond), a bounded
 *    outgoing queue (close 1008 when a peer does not read), and open
 *    WebSockets per context and per client address (429 at the upgrade).
 * When the Postgres connection drops, the channel reconnects with backoff
 * and re-checks every authenticated connection, since commands may have
 * arrived in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "buf.h"
#include "chan.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "tab.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

#define CHAN_PROTOCOL		"cb.tab.v1"
#define CHAN_FEED_PROTOCOL	"cb.calls.v1"	/* the call feed, /ws/calls (chan_feed.c) */
#define CHAN_FEED_PATH		"/ws/calls"
#define CHAN_PG_PROTOCOL	"cb-pg-listen"
#define CHAN_KV_PROTOCOL	"cb-kv-wake"
#define CHAN_WAKE_CHANNEL	"cb:cmd"	/* Redis: PUBLISH cb:cmd <ctx_id> */
#define CHAN_PATH_PREFIX	"/ws/ctx/"

#define CHAN_AUTH_TIMEOUT_MS	5000.0
#define CHAN_CLOSE_GRACE_MS	5000.0		/* a closing peer that never reads */
#define CHAN_QUEUE_FRAMES	64		/* outgoing queue caps */
#define CHAN_QUEUE_BYTES	(256u * 1024u)
#define CHAN_TICK_US		(1 * LWS_USEC_PER_SEC)
#define CHAN_PG_BACKOFF_MIN_MS	250
#define CHAN_PG_BACKOFF_MAX_MS	5000
#define CHAN_STOP_GRACE_MS	3000.0
#define CHAN_KV_RETRY_MS	2000		/* re-subscribe after Redis went away */

/* One queued outgoing text frame, with the LWS_PRE headroom lws_write needs. */
struct chan_frame {
	struct chan_frame	*next;
	size_t			 len;
	unsigned char		 data[];
};

/* lws per-session data: the connection, created at ESTABLISHED. */
struct chan_pss {
	struct chan_conn	*c;
};

static void	 chan_settle(struct chan *);
static void	 chan_settle_sul(lws_sorted_usec_list_t *);
static void	 chan_pg_connect(lws_sorted_usec_list_t *);

/* ------------------------------------------------------------------ misc */

static void
chan_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
chan_lws_log(int level, const char *line)
{
	char	 msg[512];
	size_t	 n;

	n = util_strlcpy(msg, line, sizeof(msg));
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_msg(level & LLL_ERR ? LOG_LVL_ERROR : LOG_LVL_WARN, "lws", "%s", msg);
}

void
chan_lld(char *out, size_t outsz, long long v)
{
	snprintf(out, outsz, "%lld", v);
}

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
static int
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

static void
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
static void
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
static void
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

/* ------------------------------------------------------- outgoing frames */

static void
chan_close(struct chan_conn *c, int code, const char *reason)
{
	char	 cs[24];

	if (c->closing)
		return;
	c->closing = 1;
	c->close_code = code;
	util_strlcpy(c->close_reason, reason, sizeof(c->close_reason));
	c->closing_at = util_now_ms();
	chan_lld(cs, sizeof(cs), code);
	log_kv(LOG_LVL_INFO, "ws_closing", "ctx", c->ctx_ref, "code", cs,
	    "reason", reason, NULL);
	lws_callback_on_writable(c->wsi);
}

int
chan_send(struct chan_conn *c, const char *text, size_t len)
{
	struct chan_frame	*f;

	if (c->closing)
		return CB_ERR_CONFLICT;
	if (len > CHAN_MAX_MSG)
		return CB_ERR_TOO_LARGE;
	if (c->qcount >= CHAN_QUEUE_FRAMES || c->qbytes + len > CHAN_QUEUE_BYTES) {
		log_kv(LOG_LVL_WARN, "ws_queue_full", "ctx", c->ctx_ref, NULL);
		chan_close(c, CHAN_CLOSE_POLICY, "peer does not read");
		return CB_ERR_TOO_LARGE;
	}
	f = util_malloc(sizeof(*f) + LWS_PRE + len);
	f->next = NULL;
	f->len = len;
	memcpy(f->data + LWS_PRE, text, len);
	if (c->qtail)
		c->qtail->next = f;
	else
		c->qhead = f;
	c->qtail = f;
	c->qcount++;
	c->qbytes += len;
	lws_callback_on_writable(c->wsi);
	return CB_OK;
}

int
chan_send_buf(struct chan_conn *c, struct buf *b)
{
	return chan_send(c, buf_cstr(b), b->len);
}

void
chan_send_error(struct chan_conn *c, const char *code, const char *detail)
{
	struct buf	 b;

	buf_init(&b, CHAN_MAX_MSG);
	if (buf_puts(&b, "{\"type\":\"error\",\"code\":") == CB_OK &&
	    buf_json_str(&b, code) == CB_OK &&
	    buf_puts(&b, ",\"detail\":") == CB_OK &&
	    buf_json_str(&b, detail) == CB_OK &&
	    buf_putc(&b, '}') == CB_OK)
		(void)chan_send_buf(c, &b);
	buf_free(&b);
}

/* An error frame, then the close that goes with it. */
void
chan_fail(struct chan_conn *c, const char *code, const char *detail, int close_code)
{
	chan_send_error(c, code, detail);
	chan_close(c, close_code, code);
}

void
chan_resync(struct chan_conn *c, const char *reason, long long last_seq)
{
	struct buf	 b;
	char		 pos[24], ls[24];

	chan_lld(pos, sizeof(pos), c->position);
	chan_lld(ls, sizeof(ls), last_seq);
	log_kv(LOG_LVL_WARN, "ws_resync", "ctx", c->ctx_ref, "reason", reason,
	    "position", pos, "last_seq", ls, NULL);
	buf_init(&b, CHAN_MAX_MSG);
	if (buf_printf(&b, "{\"type\":\"resync\",\"reason\":\"%s\",\"last_seq\":%lld}",
	    reason, last_seq) == CB_OK)
		(void)chan_send_buf(c, &b);
	buf_free(&b);
	chan_close(c, CHAN_CLOSE_RESYNC, "resync");
}

static int
chan_writeable(struct chan_conn *c)
{
	struct chan_frame	*f = c->qhead;
	unsigned char		 reason[64];
	size_t			 rlen;
	int			 n;

	if (f != NULL) {
		c->qhead = f->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		c->qcount--;
		c->qbytes -= f->len;
		n = lws_write(c->wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
		free(f);
		if (n < 0)
			return -1;
		if (c->qhead != NULL || c->closing)
			lws_callback_on_writable(c->wsi);
		if (c->feed)
			chan_feed_drained(c);
		return 0;
	}
	if (c->closing) {
		rlen = util_strlcpy((char *)reason, c->close_reason, sizeof(reason));
		if (rlen >= sizeof(reason))
			rlen = sizeof(reason) - 1;
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, reason, rlen);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- Postgres */

static void
chan_pg_schedule(struct chan *ch)
{
	lws_sul_schedule(ch->ctx, 0, &ch->sul_pg, chan_pg_connect,
	    (lws_usec_t)ch->pg_backoff_ms * 1000);
}

/*
 * The connection is gone (or unusable): every statement queued on it is
 * answered CB_ERR_DB_DOWN, and a new one is made after a backoff.
 */
void
chan_pg_lost(struct chan *ch, const char *why)
{
	struct lws	*w = ch->pg_wsi;

	ch->pg_wsi = NULL;
	if (ch->stopping)
		return;		/* the context is going away with its sockets */
	if (w != NULL)
		lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	if (!ch->pg_up)
		return;
	ch->pg_up = 0;
	log_kv(LOG_LVL_WARN, "pg_lost", "error", why && *why ? why : "-", NULL);
	/* Whatever libpq was in the middle of: a new connection starts clean. */
	db_disconnect(ch->db);
	chan_pg_fail_all(ch);
	chan_pg_schedule(ch);
}

static void
chan_pg_connect(lws_sorted_usec_list_t *sul)
{
	struct chan		*ch = lws_container_of(sul, struct chan, sul_pg);
	struct chan_conn	*c;
	lws_sock_file_fd_type	 desc;
	struct lws		*w;
	int			 fd, dupfd;
	char			 ms[24], lock_ms[32];
	const char		*lp[1] = { lock_ms };

	if (ch->pg_up || ch->stopping)
		return;
	/*
	 * lock_timeout (CB_CHANNEL_LOCK_TIMEOUT_MS): a row another session
	 * holds locked costs the statement waiting for it that much, and only what waits for that
	 * statement's answer (the batches skip locked rows; the rare single
	 * statements give up and are tried again).  Connecting is the one
	 * step that waits (connect_timeout in the DSN bounds it).
	 */
	snprintf(lock_ms, sizeof(lock_ms), "%lldms", ch->s->channel_lock_timeout_ms);
	if (db_connect(ch->db) != CB_OK ||
	    db_exec(ch->db, "SELECT set_config('lock_timeout', $1, false)", 1, lp) != CB_OK ||
	    chan_rows_prepare(ch->db) != CB_OK)
		goto retry;
	if ((fd = db_socket(ch->db)) < 0)
		goto retry;
	/*
	 * lws closes what it adopts and libpq closes its own socket: give lws
	 * a duplicate, so each side closes exactly its descriptor.
	 */
	if ((dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		log_msg(LOG_LVL_ERROR, "pg_dup_failed", "%s", strerror(errno));
		goto retry;
	}
	memset(&desc, 0, sizeof(desc));
	desc.filefd = dupfd;
	w = lws_adopt_descriptor_vhost(ch->vh, LWS_ADOPT_RAW_FILE_DESC, desc,
	    CHAN_PG_PROTOCOL, NULL);
	if (w == NULL) {
		close(dupfd);
		log_kv(LOG_LVL_ERROR, "pg_adopt_failed", NULL);
		goto retry;
	}
	ch->pg_wsi = w;
	ch->pg_up = 1;
	ch->pg_backoff_ms = 0;
	log_kv(LOG_LVL_INFO, "pg_connected", NULL);
	/* Commands may have arrived while nobody listened: look at everyone. */
	for (c = ch->conns; c != NULL; c = c->next)
		if (c->authed)
			c->dirty = 1;
	chan_settle(ch);
	return;
retry:
	ch->pg_backoff_ms = ch->pg_backoff_ms ? ch->pg_backoff_ms * 2 : CHAN_PG_BACKOFF_MIN_MS;
	if (ch->pg_backoff_ms > CHAN_PG_BACKOFF_MAX_MS)
		ch->pg_backoff_ms = CHAN_PG_BACKOFF_MAX_MS;
	chan_lld(ms, sizeof(ms), ch->pg_backoff_ms);
	log_kv(LOG_LVL_WARN, "pg_reconnect_later", "in_ms", ms, NULL);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_pg, chan_pg_connect,
	    (lws_usec_t)ch->pg_backoff_ms * 1000);
}

static int
chan_pg_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct chan	*ch = lws_context_user(lws_get_context(wsi));

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi != ch->pg_wsi)
			return -1;
		chan_pg_readable(ch);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == ch->pg_wsi) {
			ch->pg_wsi = NULL;
			chan_pg_lost(ch, "socket closed");
		}
		return 0;
	default:
		return 0;
	}
}

static int
chan_receive(struct chan_conn *c, const void *in, size_t len)
{
	if (c->closing)
		return 0;
	if (!c->rx_open) {
		c->rx_open = 1;
		c->rx_binary = lws_frame_is_binary(c->wsi);
		buf_reset(&c->rx);
	}
	if (buf_append(&c->rx, in, len) != CB_OK) {
		unsigned char	 why[] = "message too big";

		log_kv(LOG_LVL_WARN, "ws_too_big", "ctx", c->ctx_ref, NULL);
		buf_wipe(&c->rx);
		c->closing = 1;
		c->close_code = CHAN_CLOSE_TOO_BIG;
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, why,
		    sizeof(why) - 1);
		return -1;
	}
	if (!lws_is_final_fragment(c->wsi))
		return 0;
	c->rx_open = 0;
	chan_message(c);
	/* Messages before auth carry the token: leave no copy behind. */
	if (!c->authed)
		buf_wipe(&c->rx);
	else
		buf_reset(&c->rx);
	chan_settle_soon(c->ch);
	return 0;
}

/* ------------------------------------------------------ connection life */

static void
chan_open(struct chan *ch, struct lws *wsi, struct chan_pss *pss)
{
	struct chan_conn	*c = util_calloc(1, sizeof(*c));
	char			 trace_id[TRACE_ID_HEX + 1];

	c->ch = ch;
	c->wsi = wsi;
	c->opened = util_now_ms();
	c->peer_code = 1006;	/* until a close frame says otherwise */
	buf_init(&c->rx, CHAN_MAX_MSG);
	chan_request_id(wsi, c->request_id, sizeof(c->request_id));
	chan_client_addr(wsi, c->addr, sizeof(c->addr));
	pss->c = c;
	c->next = ch->conns;
	if (ch->conns)
		ch->conns->prev = c;
	ch->conns = c;
	if (chan_request_status(wsi, c->ctx_ref) != 0) {
		/* The upgrade check let it through: cannot happen; refuse anyway. */
		util_strlcpy(c->ctx_ref, "-", sizeof(c->ctx_ref));
		chan_close(c, CHAN_CLOSE_POLICY, "bad path");
		return;
	}
	c->feed = strcmp(c->ctx_ref, CHAN_FEED_REF) == 0;
	chan_trace_id(wsi, ch->s->trace, trace_id, sizeof(trace_id));
	log_set_trace(trace_id);
	log_kv(LOG_LVL_INFO, "ws_connect", "ctx", c->ctx_ref, "request_id", c->request_id,
	    NULL);
	log_set_trace(NULL);
	metrics_add(MF_WS_OPENED, 0, 0, 1);
	metrics_add(MF_WS_OPEN, 0, 0, 1);
	c->counted = 1;
	if (ch->stopping)
		chan_close(c, CHAN_CLOSE_GOING_AWAY, "going away");
}

static void
chan_conn_free(struct chan *ch, struct chan_pss *pss)
{
	struct chan_conn	*c = pss->c;
	struct chan_frame	*f;
	char			 code[24];

	if (c == NULL)
		return;
	pss->c = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		ch->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (c->counted)
		metrics_add(MF_WS_OPEN, 0, 0, -1);
	chan_lld(code, sizeof(code), c->closing ? c->close_code : c->peer_code);
	log_kv(LOG_LVL_INFO, "ws_close", "ctx", c->authed ? c->tab.ctx_id : c->ctx_ref,
	    "code", code, "by", c->closing ? "broker" : "peer", NULL);
	while ((f = c->qhead) != NULL) {
		c->qhead = f->next;
		free(f);
	}
	while (c->nfl > 0)
		chan_flight_drop(c, c->nfl - 1);
	/* Its share of the tab's window goes to the tab's other connections. */
	if (c->authed && !ch->stopping) {
		chan_tab_dirty(ch, c->tab.ctx_id);
		lws_sul_schedule(ch->ctx, 0, &ch->sul_settle, chan_settle_sul, 1);
	}
	buf_wipe(&c->rx);
	/* A statement's answer still names it: it goes when that arrives. */
	c->gone = 1;
	c->closing = 1;
	c->wsi = NULL;
	if (c->refs == 0)
		free(c);
}

void
chan_conn_hold(struct chan_conn *c)
{
	c->refs++;
}

void
chan_conn_release(struct chan_conn *c)
{
	if (--c->refs > 0 || !c->gone)
		return;
	while (c->nfl > 0)
		chan_flight_drop(c, c->nfl - 1);
	free(c);
}

static int
chan_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct chan_pss	*pss = user;
	struct chan	*ch = lws_context_user(lws_get_context(wsi));
	char		 ref[CHAN_UUID_LEN + 1], addr[CHAN_ADDR_MAX], rid[64];
	const char	*cap;
	int		 st;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
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
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP: the channel only speaks WebSocket. */
		st = chan_request_status(wsi, ref);
		chan_request_id(wsi, rid, sizeof(rid));
		if (chan_problem(wsi, st == 0 ? 400 : st, st == 0 ?
		    "the tab channel speaks WebSocket only (subprotocol " CHAN_PROTOCOL ")" :
		    chan_path_detail(st), rid, 0) ||
		    lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		if (pss == NULL)
			return -1;
		chan_open(ch, wsi, pss);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (pss == NULL || pss->c == NULL)
			return -1;
		return chan_receive(pss->c, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss == NULL || pss->c == NULL)
			return -1;
		return chan_writeable(pss->c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (pss != NULL && pss->c != NULL && len >= 2)
			pss->c->peer_code = ((const unsigned char *)in)[0] << 8 |
			    ((const unsigned char *)in)[1];
		return 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (pss != NULL)
			chan_conn_free(ch, pss);
		return 0;
	default:
		return 0;
	}
}

/* -------------------------------------------------------------- wake-ups */

static void	 chan_kv_connect(lws_sorted_usec_list_t *);

/*
 * PUBLISH cb:cmd <ctx_id>: that tab's connections look in Postgres.
 * "calls:<org>": a call event was accepted (the call feed's).
 */
static void
chan_on_wake(const char *ctx_id, void *arg)
{
	struct chan		*ch = arg;
	struct chan_conn	*c;

	if (strncmp(ctx_id, "calls:", 6) == 0) {
		chan_feed_wake(ch, ctx_id + 6);
		return;
	}
	for (c = ch->conns; c != NULL; c = c->next)
		if (c->authed && strcasecmp(c->tab.ctx_id, ctx_id) == 0)
			c->dirty = 1;
}

/* Redis went away: the sweep carries delivery until we subscribe again. */
static void
chan_kv_lost(struct chan *ch, const char *why)
{
	struct lws	*w = ch->kv_wsi;

	ch->kv_wsi = NULL;
	kv_sub_close(ch->kv_sub);
	ch->kv_sub = NULL;
	if (ch->stopping)
		return;
	if (w != NULL)
		lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	log_kv(LOG_LVL_WARN, "wakeup_lost", "why", why, "fallback", "sweep", NULL);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_kv, chan_kv_connect,
	    (lws_usec_t)CHAN_KV_RETRY_MS * 1000);
}

/*
 * Subscribe to cb:cmd.  Like the Postgres socket, a dup of the
 * subscription's socket is adopted into the loop, so a wake-up wakes it.
 */
static void
chan_kv_connect(lws_sorted_usec_list_t *sul)
{
	struct chan		*ch = lws_container_of(sul, struct chan, sul_kv);
	const struct settings	*s = ch->s;
	lws_sock_file_fd_type	 desc;
	struct lws		*w;
	int			 fd, dupfd;

	if (ch->kv_sub != NULL || ch->stopping)
		return;
	ch->kv_sub = kv_sub_open(s->redis_host, (int)s->redis_port, s->redis_password,
	    (int)s->redis_timeout_ms, CHAN_WAKE_CHANNEL);
	if (ch->kv_sub == NULL || (fd = kv_sub_fd(ch->kv_sub)) < 0 ||
	    (dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		goto retry;
	memset(&desc, 0, sizeof(desc));
	desc.filefd = dupfd;
	w = lws_adopt_descriptor_vhost(ch->vh, LWS_ADOPT_RAW_FILE_DESC, desc,
	    CHAN_KV_PROTOCOL, NULL);
	if (w == NULL) {
		close(dupfd);
		goto retry;
	}
	ch->kv_wsi = w;
	ch->kv_warned = 0;
	log_kv(LOG_LVL_INFO, "wakeup_subscribed", "channel", CHAN_WAKE_CHANNEL, NULL);
	return;
retry:
	kv_sub_close(ch->kv_sub);
	ch->kv_sub = NULL;
	if (!ch->kv_warned)
		log_kv(LOG_LVL_WARN, "wakeup_unavailable", "fallback", "sweep", NULL);
	ch->kv_warned = 1;
	lws_sul_schedule(ch->ctx, 0, &ch->sul_kv, chan_kv_connect,
	    (lws_usec_t)CHAN_KV_RETRY_MS * 1000);
}

static int
chan_kv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct chan	*ch = lws_context_user(lws_get_context(wsi));

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi != ch->kv_wsi || ch->kv_sub == NULL)
			return -1;
		if (kv_sub_read(ch->kv_sub, chan_on_wake, ch) < 0) {
			ch->kv_wsi = NULL;	/* lws closes this one */
			chan_kv_lost(ch, "connection lost");
			return -1;
		}
		chan_settle_soon(ch);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == ch->kv_wsi) {
			ch->kv_wsi = NULL;
			chan_kv_lost(ch, "socket closed");
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * The sweep: one query for every connected tab finds what no wake-up
 * announced (a lost PUBLISH, Redis down, an approval).  Postgres is the
 * truth; a connection with news, or blocked on an approval, looks again.
 */
static void
chan_sweep(lws_sorted_usec_list_t *sul)
{
	struct chan	*ch = lws_container_of(sul, struct chan, sul_sweep);

	/* Its answer marks the tabs with news and calls for a round. */
	if (ch->pg_up) {
		chan_rows_sweep(ch);
		chan_feed_sweep(ch);
	}
	if (!ch->stopping)
		lws_sul_schedule(ch->ctx, 0, &ch->sul_sweep, chan_sweep,
		    (lws_usec_t)ch->s->channel_sweep_ms * 1000);
}

/* --------------------------------------------------------------- timers */

/*
 * A delivery round (chan_rows.c) for every tab with news; one at a time:
 * news that arrives during a round makes the next one.
 */
static void
chan_settle(struct chan *ch)
{
	if (ch->pg_up && !ch->stopping) {
		chan_round(ch);
		chan_feed_round(ch);
	}
}

static void
chan_settle_sul(lws_sorted_usec_list_t *sul)
{
	chan_settle(lws_container_of(sul, struct chan, sul_settle));
}

/*
 * After the loop has read what is ready on every socket: the receipts and
 * wake-ups of one poll pass share one round.
 */
void
chan_settle_soon(struct chan *ch)
{
	lws_sul_schedule(ch->ctx, 0, &ch->sul_settle, chan_settle_sul, 1);
}

static void
chan_tick(lws_sorted_usec_list_t *sul)
{
	struct chan		*ch = lws_container_of(sul, struct chan, sul_tick);
	struct chan_conn	*c;
	double			 now = util_now_ms();
	int			 i;

	for (c = ch->conns; c != NULL; c = c->next) {
		if (c->closing) {
			if (now - c->closing_at > CHAN_CLOSE_GRACE_MS)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				    LWS_TO_KILL_ASYNC);
			continue;
		}
		if (!c->authed && !c->feed_authed) {
			if (now - c->opened >= CHAN_AUTH_TIMEOUT_MS) {
				log_kv(LOG_LVL_INFO, "ws_auth_timeout", "ctx", c->ctx_ref, NULL);
				chan_fail(c, "auth_timeout", "no auth message within 5 s",
				    CHAN_CLOSE_AUTH_TIMEOUT);
			}
			continue;
		}
		for (i = 0; i < c->nfl && ch->pg_up && !c->closing; i++)
			if (!c->fl[i].rcpt && !c->fl[i].timing && now >= c->fl[i].deadline)
				chan_receipt_timeout(c, i);
	}
	if (ch->pg_up)
		chan_expire_sweep(ch);
	chan_settle(ch);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_tick, chan_tick, CHAN_TICK_US);
}

/* ----------------------------------------------------------------- run */

static const struct lws_protocols chan_protocols[] = {
	{ CHAN_PROTOCOL, chan_ws_cb, sizeof(struct chan_pss), 4096, 0, NULL, 0 },
	{ CHAN_FEED_PROTOCOL, chan_ws_cb, sizeof(struct chan_pss), 4096, 0, NULL, 0 },
	{ CHAN_PG_PROTOCOL, chan_pg_cb, 0, 0, 0, NULL, 0 },
	{ CHAN_KV_PROTOCOL, chan_kv_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* WebSocket pings to idle tabs; a tab silent for too long is hung up. */
static const lws_retry_bo_t chan_idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

int
channel_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct lws_context_creation_info info;
	struct sigaction	 sa;
	struct chan		*ch = NULL;
	struct chan_conn	*c;
	char			 port[24], rt[24];
	double			 deadline;
	int			 rc = CB_ERR_IO;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = chan_on_term;	/* no SA_RESTART: poll must wake up */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	ch = util_calloc(1, sizeof(*ch));
	ch->s = s;
	ch->db = db_open(s->pg_dsn);
	/* CB_RECEIPT_TIMEOUT_S, bounded by the settings table (lib/settings.c). */
	ch->receipt_timeout_ms = s->receipt_timeout_s * 1000;
	lws_set_log_level(LLL_ERR | LLL_WARN, chan_lws_log);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.gid = -1;
	info.uid = -1;
	info.user = ch;
	if ((ch->ctx = lws_create_context(&info)) == NULL) {
		log_kv(LOG_LVL_ERROR, "ws_context_failed", NULL);
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = (int)s->ws_port;
	info.iface = "127.0.0.1";
	info.protocols = chan_protocols;
	info.vhost_name = "cb-channel";
	info.retry_and_idle_policy = &chan_idle_policy;
	info.gid = -1;
	info.uid = -1;
	info.user = ch;
	if ((ch->vh = lws_create_vhost(ch->ctx, &info)) == NULL) {
		chan_lld(port, sizeof(port), s->ws_port);
		log_kv(LOG_LVL_ERROR, "ws_listen_failed", "port", port, NULL);
		goto out;
	}
	chan_lld(port, sizeof(port), s->ws_port);
	chan_lld(rt, sizeof(rt), ch->receipt_timeout_ms / 1000);
	log_kv(LOG_LVL_INFO, "channel_listening", "port", port, "receipt_timeout_s", rt, NULL);

	chan_pg_connect(&ch->sul_pg);
	chan_kv_connect(&ch->sul_kv);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_tick, chan_tick, CHAN_TICK_US);
	lws_sul_schedule(ch->ctx, 0, &ch->sul_sweep, chan_sweep,
	    (lws_usec_t)s->channel_sweep_ms * 1000);
	while (!worker_stop)
		if (lws_service(ch->ctx, 1000) < 0)
			break;

	/* Stop: tell every tab we are going away, give them a moment, go. */
	ch->stopping = 1;
	chan_pg_fail_all(ch);
	for (c = ch->conns; c != NULL; c = c->next)
		chan_close(c, CHAN_CLOSE_GOING_AWAY, "going away");
	deadline = util_now_ms() + CHAN_STOP_GRACE_MS;
	while (ch->conns != NULL && util_now_ms() < deadline)
		if (lws_service(ch->ctx, 100) < 0)
			break;
	log_kv(LOG_LVL_INFO, "channel_stopped", NULL);
	rc = CB_OK;
out:
	ch->stopping = 1;
	chan_pg_fail_all(ch);
	if (ch->ctx) {
		lws_sul_cancel(&ch->sul_tick);
		lws_sul_cancel(&ch->sul_pg);
		lws_sul_cancel(&ch->sul_settle);
		lws_sul_cancel(&ch->sul_kv);
		lws_sul_cancel(&ch->sul_sweep);
		lws_context_destroy(ch->ctx);
	}
	kv_sub_close(ch->kv_sub);
	while (ch->conns != NULL) {
		struct chan_pss	 pss = { ch->conns };

		chan_conn_free(ch, &pss);
	}
	db_close(ch->db);
	free(ch);
	return rc;
}
