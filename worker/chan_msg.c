/*
 * chan_msg: what a tab says, acted on.  lib/chanframe parses each frame
 * once at the boundary against field tables (docs/channel.md): auth (the
 * tab token, never logged, wiped from the parsed tree), receipts, pings;
 * a call feed's own messages go to chan_feed.  Before auth a bad frame
 * ends the connection; after it, it only gets an error frame.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chan.h"
#include "chanframe.h"
#include "db.h"
#include "errs.h"
#include "metrics.h"
#include "tab.h"
#include "util.h"

/* A malformed frame: before auth it ends the connection, after it does not. */
static void
chan_bad(struct chan_conn *c, const char *detail)
{
	log_kv(LOG_LVL_INFO, "ws_bad_message", "ctx", c->ctx_ref, "detail", detail, NULL);
	if (c->authed)
		chan_send_error(c, "bad_message", detail);
	else
		chan_fail(c, "bad_message", detail, CHAN_CLOSE_BAD_MESSAGE);
}

static void
chan_pong(struct chan_conn *c)
{
	static const char pong[] = "{\"type\":\"pong\"}";

	(void)chan_send(c, pong, sizeof(pong) - 1);
}

static void
chan_unavailable(struct chan_conn *c)
{
	chan_fail(c, "unavailable", "the broker cannot reach its database; retry later",
	    CHAN_CLOSE_TRY_LATER);
}

int
chan_auth_answered(struct chan_conn *c)
{
	c->authing = 0;
	return !c->gone && !c->closing;
}

/*
 * The auth statement's answer (chan_rows_auth): one row with the context
 * (id, org_id, form_id, form_version, expires_at), its newest seq, the rows
 * after the presented position and the policy's window; no row when the
 * token opens no live context.
 */
static void
chan_auth_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c = arg;
	struct buf		 b;
	char			 pos[24];
	long long		 last_seq, present, mif = CHAN_FLIGHT_DEFAULT;

	(void)ch;
	buf_init(&b, CHAN_MAX_MSG);
	if (!chan_auth_answered(c))
		goto out;
	if (rc != CB_OK) {
		chan_unavailable(c);
		goto out;
	}
	if (db_rows(r) != 1 || tab_from_fields(&c->tab, db_val(r, 0, 0), db_val(r, 0, 1),
	    db_val(r, 0, 2), db_val(r, 0, 3), db_val(r, 0, 4)) != 0 ||
	    strcmp(c->tab.ctx_id, c->ctx_ref) != 0) {
		/* No live context, or another context's token. */
		memset(&c->tab, 0, sizeof(c->tab));
		log_kv(LOG_LVL_WARN, "ws_auth_failed", "ctx", c->ctx_ref,
		    "request_id", c->request_id, NULL);
		chan_fail(c, "unauthorized", "the tab token is not valid for this context",
		    CHAN_CLOSE_UNAUTHORIZED);
		goto out;
	}
	if (util_parse_ll(db_val(r, 0, 5), 0, 1LL << 62, &last_seq) != CB_OK ||
	    util_parse_ll(db_val(r, 0, 6), 0, 1LL << 62, &present) != CB_OK) {
		memset(&c->tab, 0, sizeof(c->tab));
		chan_unavailable(c);
		goto out;
	}
	if (!db_isnull(r, 0, 7) &&
	    util_parse_ll(db_val(r, 0, 7), 1, CHAN_FLIGHT_MAX, &mif) != CB_OK)
		mif = CHAN_FLIGHT_DEFAULT;
	if (c->position > last_seq) {
		chan_resync(c, "position_ahead", last_seq);
		goto out;
	}
	if (present < last_seq - c->position) {
		chan_resync(c, "gap", last_seq);
		goto out;
	}
	/* The form's agent policy sets the tab's window. */
	c->max_in_flight = (int)mif;
	c->authed = 1;
	c->cursor = c->position;
	c->dirty = 1;
	chan_lld(pos, sizeof(pos), c->position);
	log_kv(LOG_LVL_INFO, "ws_auth", "ctx", c->tab.ctx_id, "resume_from", pos,
	    "request_id", c->request_id, NULL);
	if (buf_puts(&b, "{\"type\":\"ready\",\"ctx_ref\":") == CB_OK &&
	    buf_json_str(&b, c->tab.ctx_id) == CB_OK &&
	    buf_printf(&b, ",\"last_seq\":%lld,\"resume_from\":%lld}", last_seq,
	    c->position) == CB_OK)
		(void)chan_send_buf(c, &b);
	chan_settle_soon(c->ch);
out:
	buf_free(&b);
	chan_conn_release(c);
}

static void
chan_auth(struct chan_conn *c, const struct chanframe *m)
{
	char	 hash[2 + TAB_HASH_HEX];

	if (c->authing) {
		chan_fail(c, "bad_message", "one auth message, then wait for ready",
		    CHAN_CLOSE_BAD_MESSAGE);
		return;
	}
	if (tab_token_hash(m->auth.token, hash) != CB_OK) {
		log_kv(LOG_LVL_WARN, "ws_auth_failed", "ctx", c->ctx_ref,
		    "request_id", c->request_id, NULL);
		chan_fail(c, "unauthorized", "the tab token is not valid for this context",
		    CHAN_CLOSE_UNAUTHORIZED);
		return;
	}
	c->position = m->auth.last_seq;
	c->authing = 1;
	if (chan_rows_auth(c, hash, m->auth.last_seq, chan_auth_done) != CB_OK) {
		c->authing = 0;
		chan_unavailable(c);
	}
	sodium_memzero(hash, sizeof(hash));
}

/* A tab's first receipt for a command: its state, and how long it took when applied. */
static void
chan_receipt_count(const char *status, double sent_ms)
{
	int	 applied = strcmp(status, "applied") == 0;

	metrics_add(MF_COMMANDS, applied ? MC_APPLIED : MC_FAILED, 0, 1);
	if (applied && sent_ms > 0)
		metrics_observe(MH_CMD_APPLY, (util_now_ms() - sent_ms) / 1000.0);
}

static void
chan_receipt(struct chan_conn *c, const struct chanframe *m)
{
	struct chan_flight	*f;
	int			 i;

	/* Sent again after ready: a worker that died may not have stored it. */
	if (m->receipt.seq <= c->position && m->receipt.seq > c->position - CHAN_RESENT_RECEIPTS) {
		chan_store_receipt(c, m->receipt.seq, m->receipt.status, m->receipt.reason, 1);
		return;
	}
	if (m->receipt.seq <= c->position || m->receipt.seq > c->cursor) {
		chan_bad(c, "receipt for a command not sent on this connection");
		return;
	}
	if ((i = chan_flight_find(c, m->receipt.seq)) >= 0) {
		f = &c->fl[i];
		if (f->rcpt)
			return;	/* the same receipt again, still waiting to be stored */
		/*
		 * Stored by the round's batch (kept over a Postgres outage);
		 * its slot is held until then.
		 */
		f->rcpt = 1;
		chan_receipt_count(m->receipt.status, f->sent_ms);
		util_strlcpy(f->rcpt_status, m->receipt.status, sizeof(f->rcpt_status));
		f->rcpt_reason = m->receipt.reason ? util_strdup(m->receipt.reason) : NULL;
		c->dirty = 1;
		return;
	}
	/* Not in the window (finished, or sent again to a new position): one statement. */
	chan_store_receipt(c, m->receipt.seq, m->receipt.status, m->receipt.reason, 0);
}

void
chan_message(struct chan_conn *c)
{
	struct chanframe	 f;

	switch (chanframe_parse(c->rx.data, c->rx.len, c->rx_binary, c->feed ? CHANFRAME_FEED :
	    c->authed ? CHANFRAME_TAB_AUTHED : CHANFRAME_TAB_NEW, &f)) {
	case CHANFRAME_PING:
		chan_pong(c);
		break;
	case CHANFRAME_OTHER:
		chan_feed_message(c, f.root, f.type);
		break;
	case CHANFRAME_AUTH:
		chan_auth(c, &f);
		break;
	case CHANFRAME_RECEIPT:
		chan_receipt(c, &f);
		break;
	case CHANFRAME_BAD:
		chan_bad(c, f.why);
		break;
	}
	chanframe_free(&f);
}
