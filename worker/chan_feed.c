/*
 * chan_feed: a tenant's live call activity on the channel, the call feed
 * (WebSocket /ws/calls, protocol cb.calls.v1, docs/channel.md "The call
 * feed"): streaming, not polling.
 *
 * A feed connection authenticates with its first frame, an agent API key
 * of the tenant holding the scope calls:read (never in the URL; checked by
 * one asynchronous statement, the key's keyed hash compared in constant
 * time; an agent bound to mutual TLS is refused: the channel cannot see a
 * client certificate).  It then receives one frame per accepted call event
 * of that tenant, and of no other: correlation id, event type, times,
 * phones masked.
 *
 * Positions.  Each accepted event gets a dense position in its tenant's
 * feed after its commit: the sequencer here numbers, in one statement,
 * the events still without one (SKIP LOCKED: several workers share it) and
 * moves their tenants' heads (call_feed_heads, migration 0018).  A reader
 * presents the last position it processed (last_seq) and gets what
 * follows, in order, once each on the connection; a position ahead of the
 * head, or one whose successor no longer exists, gets an explicit resync
 * (close 4009), as the tab channel does.  No last_seq: live from the head.
 *
 * Wake-ups as for tabs: the call route publishes "calls:<org>" on cb:cmd
 * after its commit, which runs the sequencer and marks the tenant's feeds;
 * every sweep runs the sequencer too and reads the heads of the connected
 * tenants, so a lost wake-up delays a frame by at most CB_CHANNEL_SWEEP_MS.
 * Every statement goes through chan_submit: the loop never waits.  A feed
 * reads a page at a time, and only while its outgoing queue has room: a
 * slow reader is served at its pace, never closed for a backlog.
 * Caps: the per-address cap of every WebSocket, and CB_WS_MAX_FEEDS_PER_ORG
 * feeds per tenant (counted at auth, when the tenant is known).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "chan.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#define FEED_PAGE		32	/* events a read; the queue holds 64 frames */
#define FEED_PAGE_S		"32"
#define FEED_ROOM		(64 - FEED_PAGE)	/* queued frames below which a page is read */
#define FEED_SEQ_BATCH		"1000"	/* events the sequencer numbers a statement */
#define FEED_SEQ_BATCH_N	1000
#define FEED_SEQ_MAX		9007199254740991LL
#define FEED_SCOPE		"calls:read"
#define FEED_ORGS_MAX		((size_t)1 << 20)	/* the bigint[] parameter, bytes */

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define TSMS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

struct feed_auth_msg {
	const char	*type;
	const char	*token;
	long long	 last_seq;
};

static const struct jv_field feed_auth_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct feed_auth_msg, type), NULL },
	{ "token", JV_STRING, JV_REQUIRED, 1, 128, offsetof(struct feed_auth_msg, token), NULL },
	{ "last_seq", JV_INT, 0, 0, FEED_SEQ_MAX, offsetof(struct feed_auth_msg, last_seq), NULL },
};

/*
 * The key's row, its tenant's head and whether the event after the
 * presented position still exists, in one snapshot.
 *   $1 the key's prefix  $2 the position (0 when none was presented)
 */
static const char feed_auth_sql[] =
    "SELECT k.org_id::text, '\\x' || encode(k.key_hash, 'hex'), '" FEED_SCOPE "' = ANY (k.scopes),"
    " coalesce(a.mtls_subject, '') <> '' OR coalesce(cardinality(a.mtls_sha256), 0) > 0,"
    " coalesce((SELECT last_seq FROM call_feed_heads h WHERE h.org_id = k.org_id), 0),"
    " EXISTS (SELECT 1 FROM call_events e WHERE e.org_id = k.org_id"
    "   AND e.feed_seq = $2::bigint + 1)"
    " FROM api_keys k JOIN agents a ON a.id = k.agent_id AND a.org_id = k.org_id"
    " WHERE k.prefix = $1 AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.disabled_at IS NULL";

/*
 * The sequencer: the oldest events without a position, numbered per
 * tenant after its head, in the order they were accepted.  The heads are
 * moved in tenant order (two sequencers never wait for each other in a
 * circle); a head's row lock orders two sequencers' commits as their
 * positions.  Answers the tenants it moved and how many events each.
 */
static const char feed_sequence_sql[] =
    "WITH c AS (SELECT id, org_id, created_at FROM call_events WHERE feed_seq IS NULL"
    "   ORDER BY created_at, id LIMIT " FEED_SEQ_BATCH " FOR UPDATE SKIP LOCKED),"
    " n AS (SELECT id, org_id, row_number() OVER (PARTITION BY org_id"
    "   ORDER BY created_at, id) AS k FROM c),"
    " g AS (SELECT org_id, count(*) AS cnt FROM n GROUP BY org_id),"
    " h AS (INSERT INTO call_feed_heads AS fh (org_id, last_seq)"
    "   SELECT org_id, cnt FROM g ORDER BY org_id"
    "   ON CONFLICT (org_id) DO UPDATE SET last_seq = fh.last_seq + EXCLUDED.last_seq"
    "   RETURNING org_id, last_seq),"
    " u AS (UPDATE call_events e SET feed_seq = h.last_seq - g.cnt + n.k"
    "   FROM n JOIN g USING (org_id) JOIN h USING (org_id) WHERE e.id = n.id"
    "   RETURNING e.org_id)"
    " SELECT org_id::text, count(*) FROM u GROUP BY org_id";

/* A page of a tenant's feed after a position.  $1 org  $2 position */
static const char feed_read_sql[] =
    "SELECT feed_seq, id::text, correlation_id, event_type, " TS("started_at") ", "
    TS("ended_at") ", duration_s, from_masked, to_masked, " TSMS("created_at")
    " FROM call_events WHERE org_id = $1::bigint AND feed_seq > $2::bigint"
    " ORDER BY feed_seq LIMIT " FEED_PAGE_S;

/* The heads of the connected tenants.  $1 bigint[] */
static const char feed_heads_sql[] =
    "SELECT org_id::text, last_seq FROM call_feed_heads WHERE org_id = ANY ($1::bigint[])";

static int
feed_live(const struct chan_conn *c)
{
	return c->feed && c->feed_authed && !c->closing;
}

/*
 * Every live feed of org whose cursor is behind head (head < 0: any) looks
 * again; how many.
 */
static int
feed_mark(struct chan *ch, const char *org, long long head)
{
	struct chan_conn	*c;
	int			 n = 0;

	for (c = ch->conns; c != NULL; c = c->next)
		if (feed_live(c) && strcmp(c->feed_org, org) == 0 &&
		    (head < 0 || head > c->cursor)) {
			c->dirty = 1;
			n++;
		}
	return n;
}

/* ---- auth --------------------------------------------------------------- */

static int
feed_count(const struct chan *ch, const char *org)
{
	const struct chan_conn	*c;
	int			 n = 0;

	for (c = ch->conns; c != NULL; c = c->next)
		if (feed_live(c) && strcmp(c->feed_org, org) == 0)
			n++;
	return n;
}

static void
feed_refuse(struct chan_conn *c, const char *why, const char *detail)
{
	log_kv(LOG_LVL_WARN, "feed_auth_failed", "why", why, "request_id", c->request_id, NULL);
	chan_fail(c, "unauthorized", detail, CHAN_CLOSE_UNAUTHORIZED);
}

static void
feed_auth_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c = arg;
	struct buf		 b;
	long long		 head, pos;
	char			 ps[24];

	buf_init(&b, CHAN_MAX_MSG);
	c->authing = 0;
	if (c->gone || c->closing)
		goto out;
	if (rc != CB_OK) {
		chan_fail(c, "unavailable", "the broker cannot reach its database; retry later",
		    CHAN_CLOSE_TRY_LATER);
		goto out;
	}
	if (db_rows(r) != 1 || !apikey_hash_eq(db_val(r, 0, 1), c->feed_hash)) {
		feed_refuse(c, "key", "the API key is not valid");
		goto out;
	}
	if (strcmp(db_val(r, 0, 2), "t") != 0) {
		feed_refuse(c, "scope", "the API key lacks the scope " FEED_SCOPE);
		goto out;
	}
	if (strcmp(db_val(r, 0, 3), "t") == 0) {
		feed_refuse(c, "mtls", "this agent must present a client certificate, which the "
		    "call feed cannot see: use a key of an agent without one");
		goto out;
	}
	if (util_parse_ll(db_val(r, 0, 4), 0, FEED_SEQ_MAX, &head) != CB_OK) {
		chan_fail(c, "internal", "unexpected feed head", CHAN_CLOSE_INTERNAL);
		goto out;
	}
	if (feed_count(ch, db_val(r, 0, 0)) >= ch->s->ws_max_feeds_per_org) {
		log_kv(LOG_LVL_WARN, "feed_refused", "org", db_val(r, 0, 0), "cap", "per_org",
		    "request_id", c->request_id, NULL);
		chan_fail(c, "too_many_feeds", "this tenant already holds as many call feeds as it "
		    "may; close one or retry later", CHAN_CLOSE_TRY_LATER);
		goto out;
	}
	pos = c->position < 0 ? head : c->position;
	c->position = pos;
	if (pos > head) {
		chan_resync(c, "position_ahead", head);
		goto out;
	}
	if (pos < head && strcmp(db_val(r, 0, 5), "t") != 0) {
		chan_resync(c, "gap", head);
		goto out;
	}
	util_strlcpy(c->feed_org, db_val(r, 0, 0), sizeof(c->feed_org));
	c->feed_authed = 1;
	c->cursor = pos;
	c->dirty = pos < head;
	chan_lld(ps, sizeof(ps), pos);
	log_kv(LOG_LVL_INFO, "feed_auth", "org", c->feed_org, "resume_from", ps,
	    "request_id", c->request_id, NULL);
	if (buf_printf(&b, "{\"type\":\"ready\",\"feed\":\"calls\",\"last_seq\":%lld,"
	    "\"resume_from\":%lld}", head, pos) == CB_OK)
		(void)chan_send_buf(c, &b);
	chan_settle_soon(ch);
out:
	sodium_memzero(c->feed_hash, sizeof(c->feed_hash));
	buf_free(&b);
	chan_conn_release(c);
}

static void
feed_auth(struct chan_conn *c, const struct feed_auth_msg *m, int has_pos)
{
	char		 prefix[APIKEY_PREFIX_LEN + 1], ps[24];
	const char	*p[2];
	int		 rc;

	if (c->authing) {
		chan_fail(c, "bad_message", "one auth message, then wait for ready",
		    CHAN_CLOSE_BAD_MESSAGE);
		return;
	}
	if ((rc = apikey_lookup(c->ch->s->api_key_pepper, m->token, prefix,
	    c->feed_hash)) != CB_OK) {
		feed_refuse(c, rc == CB_ERR_CONFIG ? "pepper" : "key", "the API key is not valid");
		return;
	}
	c->position = has_pos ? m->last_seq : -1;
	chan_lld(ps, sizeof(ps), has_pos ? m->last_seq : 0);
	p[0] = prefix;
	p[1] = ps;
	c->authing = 1;
	chan_conn_hold(c);
	if (chan_submit(c->ch, feed_auth_sql, 2, p, feed_auth_done, c) != CB_OK) {
		c->authing = 0;
		chan_conn_release(c);
		sodium_memzero(c->feed_hash, sizeof(c->feed_hash));
		chan_fail(c, "unavailable", "the broker cannot reach its database; retry later",
		    CHAN_CLOSE_TRY_LATER);
	}
}

void
chan_feed_message(struct chan_conn *c, const cJSON *root, const char *type)
{
	struct feed_auth_msg	 m = { 0 };
	struct jv_error		 e;
	char			 detail[256];

	memset(&e, 0, sizeof(e));
	if (c->feed_authed) {
		chan_send_error(c, "bad_message", strcmp(type, "auth") == 0 ?
		    "already authenticated" : "the call feed takes ping only after auth");
		return;
	}
	if (strcmp(type, "auth") != 0) {
		chan_fail(c, "bad_message", "the first message must be auth", CHAN_CLOSE_BAD_MESSAGE);
		return;
	}
	if (jv_validate(root, feed_auth_fields, sizeof(feed_auth_fields) /
	    sizeof(feed_auth_fields[0]), &m, &e) != CB_OK) {
		snprintf(detail, sizeof(detail), "%s%s%s", e.field, e.field[0] ? ": " : "",
		    e.reason);
		chan_fail(c, "bad_message", detail, CHAN_CLOSE_BAD_MESSAGE);
		return;
	}
	feed_auth(c, &m, cJSON_GetObjectItemCaseSensitive(root, "last_seq") != NULL);
}

/* ---- delivery ----------------------------------------------------------- */

/* A text column as a JSON member: null when NULL. */
static int
feed_put(struct buf *b, const char *k, struct db_res *r, size_t i, int col)
{
	if (buf_printf(b, ",\"%s\":", k) != CB_OK)
		return CB_ERR_TOO_LARGE;
	return db_isnull(r, i, col) ? buf_puts(b, "null") : buf_json_str(b, db_val(r, i, col));
}

static void
feed_read_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c = arg;
	struct buf		 b;
	long long		 seq;
	size_t			 i;

	(void)ch;
	buf_init(&b, CHAN_MAX_MSG);
	c->feed_reading = 0;
	if (c->gone || c->closing)
		goto out;
	if (rc != CB_OK) {
		c->dirty = 1;	/* the next round, or after the reconnect */
		goto out;
	}
	for (i = 0; i < db_rows(r) && !c->closing; i++) {
		if (util_parse_ll(db_val(r, i, 0), 1, FEED_SEQ_MAX, &seq) != CB_OK ||
		    seq != c->cursor + 1) {
			/* A missing position: never a silent skip. */
			chan_resync(c, "gap", c->cursor);
			goto out;
		}
		buf_reset(&b);
		if (buf_printf(&b, "{\"type\":\"call_event\",\"seq\":%lld", seq) != CB_OK ||
		    feed_put(&b, "event_id", r, i, 1) != CB_OK ||
		    feed_put(&b, "correlation_id", r, i, 2) != CB_OK ||
		    feed_put(&b, "event_type", r, i, 3) != CB_OK ||
		    feed_put(&b, "started_at", r, i, 4) != CB_OK ||
		    feed_put(&b, "ended_at", r, i, 5) != CB_OK ||
		    buf_puts(&b, ",\"duration_s\":") != CB_OK ||
		    buf_puts(&b, db_isnull(r, i, 6) ? "null" : db_val(r, i, 6)) != CB_OK ||
		    feed_put(&b, "from", r, i, 7) != CB_OK ||
		    feed_put(&b, "to", r, i, 8) != CB_OK ||
		    feed_put(&b, "accepted_at", r, i, 9) != CB_OK ||
		    buf_putc(&b, '}') != CB_OK || chan_send_buf(c, &b) != CB_OK)
			goto out;	/* the queue's cap closed it, or the frame cannot be */
		c->cursor = seq;
	}
	/* A full page: more wait, read when the queue has room. */
	if (db_rows(r) == FEED_PAGE) {
		c->feed_more = 1;
		chan_feed_drained(c);
	}
out:
	buf_free(&b);
	chan_conn_release(c);
}

void
chan_feed_drained(struct chan_conn *c)
{
	if (!c->feed_more || !feed_live(c) || c->qcount > FEED_ROOM)
		return;
	c->feed_more = 0;
	c->dirty = 1;
	chan_settle_soon(c->ch);
}

static void
feed_sequenced(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	long long	 n, total = 0;
	size_t		 i;

	(void)arg;
	ch->feed_sequencing = 0;
	if (rc != CB_OK)
		return;		/* a lock held elsewhere, Postgres away: the next sweep */
	for (i = 0; i < db_rows(r); i++) {
		if (util_parse_ll(db_val(r, i, 1), 0, FEED_SEQ_MAX, &n) == CB_OK)
			total += n;
		feed_mark(ch, db_val(r, i, 0), -1);
	}
	if (total >= FEED_SEQ_BATCH_N)
		ch->feed_seq_due = 1;	/* more than one batch waited */
	if (db_rows(r) > 0 || ch->feed_seq_due)
		chan_settle_soon(ch);
}

/* The sequencer, when due and not out already. */
static void
feed_sequence(struct chan *ch)
{
	if (!ch->feed_seq_due || ch->feed_sequencing)
		return;
	ch->feed_seq_due = 0;
	if (chan_submit(ch, feed_sequence_sql, 0, NULL, feed_sequenced, NULL) == CB_OK)
		ch->feed_sequencing = 1;
}

void
chan_feed_round(struct chan *ch)
{
	struct chan_conn	*c;
	const char		*p[2];
	char			 ps[24];

	feed_sequence(ch);
	for (c = ch->conns; c != NULL; c = c->next) {
		if (!feed_live(c) || !c->dirty || c->feed_reading || c->qcount > FEED_ROOM)
			continue;
		c->dirty = 0;
		chan_lld(ps, sizeof(ps), c->cursor);
		p[0] = c->feed_org;
		p[1] = ps;
		chan_conn_hold(c);
		if (chan_submit(ch, feed_read_sql, 2, p, feed_read_done, c) != CB_OK) {
			chan_conn_release(c);
			c->dirty = 1;
			return;
		}
		c->feed_reading = 1;
	}
}

void
chan_feed_wake(struct chan *ch, const char *org)
{
	(void)org;	/* the sequencer's answer names the tenants with news */
	ch->feed_seq_due = 1;
}

static void
feed_heads_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	long long	 head;
	size_t		 i;

	(void)arg;
	if (rc != CB_OK)
		return;
	for (i = 0; i < db_rows(r); i++)
		if (util_parse_ll(db_val(r, i, 1), 0, FEED_SEQ_MAX, &head) == CB_OK &&
		    feed_mark(ch, db_val(r, i, 0), head) > 0)
			chan_settle_soon(ch);
}

void
chan_feed_sweep(struct chan *ch)
{
	struct chan_conn	*c;
	struct buf		 orgs;
	const char		*p[1];
	size_t			 n = 0;

	/*
	 * Events a lost wake-up did not announce get their positions (its
	 * answer calls for a round when it numbered any)...
	 */
	ch->feed_seq_due = 1;
	feed_sequence(ch);
	/* ...and the heads another worker's sequencer moved are read. */
	buf_init(&orgs, FEED_ORGS_MAX);
	for (c = ch->conns; c != NULL; c = c->next) {
		if (!feed_live(c))
			continue;
		if (buf_puts(&orgs, n++ ? "," : "{") != CB_OK ||
		    buf_puts(&orgs, c->feed_org) != CB_OK)
			goto out;
	}
	if (n > 0 && buf_putc(&orgs, '}') == CB_OK) {
		p[0] = buf_cstr(&orgs);
		(void)chan_submit(ch, feed_heads_sql, 1, p, feed_heads_done, NULL);
	}
out:
	buf_free(&orgs);
}
