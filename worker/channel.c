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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "buf.h"
#include "chan.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "sigs.h"
#include "tab.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

#define CHAN_AUTH_TIMEOUT_MS	5000.0
#define CHAN_CLOSE_GRACE_MS	5000.0		/* a closing peer that never reads */
#define CHAN_QUEUE_FRAMES	64		/* outgoing queue caps */
#define CHAN_QUEUE_BYTES	(256u * 1024u)
#define CHAN_TICK_US		(1 * LWS_USEC_PER_SEC)
#define CHAN_STOP_GRACE_MS	3000.0

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

static void	 chan_settle_sul(lws_sorted_usec_list_t *);

/* ------------------------------------------------------------------ misc */

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

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* Refused upgrades and plain HTTP get problem+json (chan_upgrade.c). */
		return chan_upgrade_confirm(ch, wsi);
	case LWS_CALLBACK_HTTP:
		return chan_upgrade_plain(wsi);
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
void
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
	{ CHAN_PG_PROTOCOL, chan_adopted_cb, 0, 0, 0, NULL, 0 },
	{ CHAN_KV_PROTOCOL, chan_adopted_cb, 0, 0, 0, NULL, 0 },
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
	struct chan		*ch = NULL;
	struct chan_conn	*c;
	char			 port[24], rt[24];
	double			 deadline;
	int			 rc = CB_ERR_IO;

	duty_signals();		/* poll wakes up for a stop */
	sigs_set(SIGPIPE, SIG_IGN);

	ch = util_calloc(1, sizeof(*ch));
	ch->s = s;
	ch->db = db_open(s->pg_dsn);
	ch->keys = &w->keys;
	ch->kdb = db_open(s->pg_dsn);
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
	db_close(ch->kdb);
	free(ch);
	return rc;
}
