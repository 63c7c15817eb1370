/*
 * chan_msg: what a tab says, parsed once at the boundary against field
 * tables (docs/channel.md): auth (the tab token, never logged, wiped from
 * the parsed tree), receipts, pings.  Before auth a bad frame ends the
 * connection; after it, it only gets an error frame.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chan.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "metrics.h"
#include "tab.h"
#include "util.h"

#define CHAN_REASON_MAX		200		/* receipt reason, bytes */

struct chan_auth_msg {
	const char	*type;
	const char	*token;
	long long	 last_seq;
};

struct chan_receipt_msg {
	const char	*type;
	long long	 seq;
	const char	*status;
	const char	*reason;
};

struct chan_ping_msg {
	const char	*type;
};

static int
chan_check_status(const cJSON *v, const char **why)
{
	if (strcmp(v->valuestring, "applied") != 0 && strcmp(v->valuestring, "failed") != 0) {
		*why = "must be \"applied\" or \"failed\"";
		return -1;
	}
	return 0;
}

#define CHAN_SEQ_MAX	9007199254740991LL

static const struct jv_field chan_auth_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct chan_auth_msg, type), NULL },
	{ "token", JV_STRING, JV_REQUIRED, 1, 128, offsetof(struct chan_auth_msg, token), NULL },
	{ "last_seq", JV_INT, 0, 0, CHAN_SEQ_MAX, offsetof(struct chan_auth_msg, last_seq), NULL },
};

static const struct jv_field chan_receipt_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct chan_receipt_msg, type), NULL },
	{ "seq", JV_INT, JV_REQUIRED, 1, CHAN_SEQ_MAX, offsetof(struct chan_receipt_msg, seq), NULL },
	{ "status", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct chan_receipt_msg, status),
	  chan_check_status },
	{ "reason", JV_STRING, 0, 0, CHAN_REASON_MAX, offsetof(struct chan_receipt_msg, reason), NULL },
};

static const struct jv_field chan_ping_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct chan_ping_msg, type), NULL },
};

#define CHAN_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

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
chan_bad_field(struct chan_conn *c, const struct jv_error *e)
{
	char	 detail[256];

	if (e->field[0])
		snprintf(detail, sizeof(detail), "%s: %s", e->field, e->reason);
	else
		util_strlcpy(detail, e->reason, sizeof(detail));
	chan_bad(c, detail);
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
	c->authing = 0;
	if (c->gone || c->closing)
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
chan_auth(struct chan_conn *c, const struct chan_auth_msg *m)
{
	char	 hash[2 + TAB_HASH_HEX];

	if (c->authing) {
		chan_fail(c, "bad_message", "one auth message, then wait for ready",
		    CHAN_CLOSE_BAD_MESSAGE);
		return;
	}
	if (tab_token_hash(m->token, hash) != CB_OK) {
		log_kv(LOG_LVL_WARN, "ws_auth_failed", "ctx", c->ctx_ref,
		    "request_id", c->request_id, NULL);
		chan_fail(c, "unauthorized", "the tab token is not valid for this context",
		    CHAN_CLOSE_UNAUTHORIZED);
		return;
	}
	c->position = m->last_seq;
	c->authing = 1;
	if (chan_rows_auth(c, hash, m->last_seq, chan_auth_done) != CB_OK) {
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
chan_receipt(struct chan_conn *c, const struct chan_receipt_msg *m)
{
	struct chan_flight	*f;
	int			 i;

	if (m->seq <= c->position || m->seq > c->cursor) {
		chan_bad(c, "receipt for a command not sent on this connection");
		return;
	}
	if ((i = chan_flight_find(c, m->seq)) >= 0) {
		f = &c->fl[i];
		if (f->rcpt)
			return;	/* the same receipt again, still waiting to be stored */
		/*
		 * Stored by the round's batch (kept over a Postgres outage);
		 * its slot is held until then.
		 */
		f->rcpt = 1;
		chan_receipt_count(m->status, f->sent_ms);
		util_strlcpy(f->rcpt_status, m->status, sizeof(f->rcpt_status));
		f->rcpt_reason = m->reason ? util_strdup(m->reason) : NULL;
		c->dirty = 1;
		return;
	}
	/* Not in the window (finished, or sent again to a new position): one statement. */
	chan_store_receipt(c, m->seq, m->status, m->reason);
}

void
chan_message(struct chan_conn *c)
{
	struct jv_error		 e;
	cJSON			*root = NULL, *t;
	const char		*type;

	memset(&e, 0, sizeof(e));
	if (c->rx_binary) {
		chan_bad(c, "frames must be JSON text");
		goto out;
	}
	if (jv_parse(c->rx.data ? c->rx.data : "", c->rx.len, &root, &e) != CB_OK) {
		chan_bad_field(c, &e);
		goto out;
	}
	t = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsObject(root) || !cJSON_IsString(t)) {
		chan_bad(c, "a message is an object with a string \"type\"");
		goto out;
	}
	type = t->valuestring;
	if (strcmp(type, "ping") == 0) {
		struct chan_ping_msg	 m = { 0 };

		if (jv_validate(root, chan_ping_fields, CHAN_NELEM(chan_ping_fields), &m,
		    &e) != CB_OK)
			chan_bad_field(c, &e);
		else
			chan_pong(c);
	} else if (c->feed)
		chan_feed_message(c, root, type);
	else if (!c->authed) {
		struct chan_auth_msg	 m = { 0 };

		if (strcmp(type, "auth") != 0)
			chan_bad(c, "the first message must be auth");
		else if (jv_validate(root, chan_auth_fields, CHAN_NELEM(chan_auth_fields), &m,
		    &e) != CB_OK)
			chan_bad_field(c, &e);
		else
			chan_auth(c, &m);
	} else if (strcmp(type, "receipt") == 0) {
		struct chan_receipt_msg	 m = { 0 };

		if (jv_validate(root, chan_receipt_fields, CHAN_NELEM(chan_receipt_fields),
		    &m, &e) != CB_OK)
			chan_bad_field(c, &e);
		else
			chan_receipt(c, &m);
	} else if (strcmp(type, "auth") == 0)
		chan_bad(c, "already authenticated");
	else
		chan_bad(c, "unknown message type");
out:
	if (root != NULL) {
		/* The tree may hold the tab token: wipe it before it is freed. */
		t = cJSON_GetObjectItemCaseSensitive(root, "token");
		if (cJSON_IsString(t) && t->valuestring)
			sodium_memzero(t->valuestring, strlen(t->valuestring));
		cJSON_Delete(root);
	}
}
