/*
 * chan_adopt: the two sockets the tab channel's loop adopts besides its
 * WebSockets.  Postgres: the one libpq connection, (re)made with backoff;
 * while it is away every statement is answered CB_ERR_DB_DOWN at once, and
 * once back every authenticated connection looks again, since commands may
 * have arrived in between.  Redis: the cb:cmd subscription, whose wake-ups
 * mark a tab's connections to look in Postgres; while it is away the sweep
 * carries delivery.  Each socket is adopted as a duplicate, so lws and its
 * owner (libpq, hiredis) each close exactly their own descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "chan.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "util.h"

#define CHAN_PG_BACKOFF_MIN_MS	250
#define CHAN_PG_BACKOFF_MAX_MS	5000
#define CHAN_KV_RETRY_MS	2000		/* re-subscribe after Redis went away */
#define CHAN_WAKE_CHANNEL	"cb:cmd"	/* Redis: PUBLISH cb:cmd <ctx_id> */

/*
 * Adopt a duplicate of fd into the loop under `protocol`: lws closes what
 * it adopts and the owner closes its own socket.  NULL, with *why, when
 * that cannot be done.
 */
static struct lws *
chan_adopt(struct chan *ch, int fd, const char *protocol, const char **why)
{
	lws_sock_file_fd_type	 desc;
	struct lws		*w;
	int			 dupfd;

	if ((dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		*why = strerror(errno);
		return NULL;
	}
	memset(&desc, 0, sizeof(desc));
	desc.filefd = dupfd;
	w = lws_adopt_descriptor_vhost(ch->vh, LWS_ADOPT_RAW_FILE_DESC, desc, protocol, NULL);
	if (w == NULL) {
		close(dupfd);
		*why = NULL;
	}
	return w;
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

void
chan_pg_connect(lws_sorted_usec_list_t *sul)
{
	struct chan		*ch = lws_container_of(sul, struct chan, sul_pg);
	struct chan_conn	*c;
	struct lws		*w;
	const char		*why;
	int			 fd;
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
	if ((w = chan_adopt(ch, fd, CHAN_PG_PROTOCOL, &why)) == NULL) {
		if (why != NULL)
			log_msg(LOG_LVL_ERROR, "pg_dup_failed", "%s", why);
		else
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

/* --------------------------------------------------------------- Redis */

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
void
chan_kv_connect(lws_sorted_usec_list_t *sul)
{
	struct chan		*ch = lws_container_of(sul, struct chan, sul_kv);
	const struct settings	*s = ch->s;
	struct lws		*w;
	const char		*why;
	int			 fd;

	if (ch->kv_sub != NULL || ch->stopping)
		return;
	ch->kv_sub = kv_sub_open(s->redis_host, (int)s->redis_port, s->redis_password,
	    (int)s->redis_timeout_ms, CHAN_WAKE_CHANNEL);
	if (ch->kv_sub == NULL || (fd = kv_sub_fd(ch->kv_sub)) < 0 ||
	    (w = chan_adopt(ch, fd, CHAN_KV_PROTOCOL, &why)) == NULL)
		goto retry;
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

/* --------------------------------------------------------------- both */

/*
 * The lws callback of both adopted sockets: readable (the Postgres answer,
 * or wake-ups), or closed under us.  A socket that is no longer the current
 * one is hung up.
 */
int
chan_adopted_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct chan	*ch = lws_context_user(lws_get_context(wsi));

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == ch->pg_wsi) {
			chan_pg_readable(ch);
			return 0;
		}
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
		if (wsi == ch->pg_wsi) {
			ch->pg_wsi = NULL;
			chan_pg_lost(ch, "socket closed");
		} else if (wsi == ch->kv_wsi) {
			ch->kv_wsi = NULL;
			chan_kv_lost(ch, "socket closed");
		}
		return 0;
	default:
		return 0;
	}
}
