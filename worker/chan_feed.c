/*
 * chan_feed: a tenant's live call activity on the channel, the call feed
 * (WebSocket /ws/calls, protocol cb.calls.v1, docs/channel.md "The call
 * feed"): streaming, not polling.
 *
 * A feed connection authenticates with its first frame, an agent API key
 * of the tenant holding the scope calls:read (never in the URL; checked by
 * one asynchronous statement, the key's keyed hash compared in constant
 * time; an agent bound to mutual TLS is refused: the channel cannot see a
 * client certificate), or a person's access JWT whose role is operator or
 * admin (the operator console: the signing key it names read by one
 * asynchronous statement, the signature and claims checked here, then the
 * person, their session and tenant by a second one).  It then receives one
 * frame per accepted call event of that tenant, and of no other:
 * correlation id, event type, times, phones masked.
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
#include "jwt.h"
#include "log.h"
#include "signkeys.h"
#include "userauth.h"
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
	{ "token", JV_STRING, JV_REQUIRED, 1, JWT_MAX_TOKEN, offsetof(struct feed_auth_msg, token),
	  NULL },
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
 * A person's feed.  First the trusted signing key the token names
 * ($1 kid); then, once the token checks out, the person ($1 sub) enabled in
 * the token's tenant ($2 org) with role operator or admin, their session
 * ($3, the jti's family) not revoked, and the tenant's head and next event
 * as above ($4 the position): columns org, role allowed, head, next exists.
 */
static const char feed_person_key_sql[] =
    "SELECT encode(public_key, 'hex') FROM signing_keys WHERE kid = $1 AND "
    SIGNKEYS_TRUSTED_WHERE;

static const char feed_person_sql[] =
    "SELECT u.org_id::text, u.role IN ('operator', 'admin'),"
    " coalesce((SELECT last_seq FROM call_feed_heads h WHERE h.org_id = u.org_id), 0),"
    " EXISTS (SELECT 1 FROM call_events e WHERE e.org_id = u.org_id"
    "   AND e.feed_seq = $4::bigint + 1)"
    " FROM users u WHERE u.id = $1::uuid AND u.org_id::text = $2 AND u.disabled_at IS NULL"
    " AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = $3::uuid"
    "   AND t.user_id = u.id AND t.revoked_at IS NULL)";

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

/* Postgres is away: the client may retry later. */
static void
feed_db_away(struct chan_conn *c)
{
	chan_fail(c, "unavailable", "the broker cannot reach its database; retry later",
	    CHAN_CLOSE_TRY_LATER);
}

static void
feed_refuse(struct chan_conn *c, const char *why, const char *detail)
{
	log_kv(LOG_LVL_WARN, "feed_auth_failed", "why", why, "request_id", c->request_id, NULL);
	chan_fail(c, "unauthorized", detail, CHAN_CLOSE_UNAUTHORIZED);
}

/*
 * A caller of tenant `org` is known (by `how`: key or person): within the
 * tenant's cap, its position against the tenant's head (`head`, and
 * whether the event after the position exists, `next` "t"), then ready.
 */
static void
feed_admit(struct chan *ch, struct chan_conn *c, const char *org, const char *head_s,
    const char *next, const char *how)
{
	struct buf	 b;
	long long	 head, pos;
	char		 ps[24];

	if (util_parse_ll(head_s, 0, FEED_SEQ_MAX, &head) != CB_OK) {
		chan_fail(c, "internal", "unexpected feed head", CHAN_CLOSE_INTERNAL);
		return;
	}
	if (feed_count(ch, org) >= ch->s->ws_max_feeds_per_org) {
		log_kv(LOG_LVL_WARN, "feed_refused", "org", org, "cap", "per_org",
		    "request_id", c->request_id, NULL);
		chan_fail(c, "too_many_feeds", "this tenant already holds as many call feeds as it "
		    "may; close one or retry later", CHAN_CLOSE_TRY_LATER);
		return;
	}
	pos = c->position < 0 ? head : c->position;
	c->position = pos;
	if (pos > head) {
		chan_resync(c, "position_ahead", head);
		return;
	}
	if (pos < head && strcmp(next, "t") != 0) {
		chan_resync(c, "gap", head);
		return;
	}
	util_strlcpy(c->feed_org, org, sizeof(c->feed_org));
	c->feed_authed = 1;
	c->cursor = pos;
	c->dirty = pos < head;
	chan_lld(ps, sizeof(ps), pos);
	log_kv(LOG_LVL_INFO, "feed_auth", "org", c->feed_org, "by", how, "resume_from", ps,
	    "request_id", c->request_id, NULL);
	buf_init(&b, CHAN_MAX_MSG);
	if (buf_printf(&b, "{\"type\":\"ready\",\"feed\":\"calls\",\"last_seq\":%lld,"
	    "\"resume_from\":%lld}", head, pos) == CB_OK)
		(void)chan_send_buf(c, &b);
	buf_free(&b);
	chan_settle_soon(ch);
}

static void
feed_auth_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c = arg;

	if (!chan_auth_answered(c))
		goto out;
	if (rc != CB_OK) {
		feed_db_away(c);
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
	feed_admit(ch, c, db_val(r, 0, 0), db_val(r, 0, 4), db_val(r, 0, 5), "key");
out:
	sodium_memzero(c->feed_hash, sizeof(c->feed_hash));
	chan_conn_release(c);
}

/* ---- a person's feed ---------------------------------------------------- */

struct feed_person {
	struct chan_conn	*c;		/* held until the last answer */
	char			*token;		/* the presented JWT, wiped when done */
	char			 kid[JWT_KID_BUFSZ];
};

/* The one key the first statement found, for jwt_verify's lookup. */
struct feed_key {
	const char		*kid;
	unsigned char		 pk[JWT_PUBLICKEYBYTES];
};

/*
 * jwt_verify's key lookup on a first pass over the token: the header has
 * been checked (alg, typ, a well-formed kid) when it is called, so the kid
 * it is handed is the one to look up; it knows no key, so that pass fails.
 */
static int
feed_kid_probe(const char *kid, unsigned char pk[JWT_PUBLICKEYBYTES], void *ud)
{
	(void)pk;
	util_strlcpy(ud, kid, JWT_KID_BUFSZ);
	return -1;
}

static int
feed_kid_found(const char *kid, unsigned char pk[JWT_PUBLICKEYBYTES], void *ud)
{
	const struct feed_key	*k = ud;

	if (strcmp(kid, k->kid) != 0)
		return -1;
	memcpy(pk, k->pk, JWT_PUBLICKEYBYTES);
	return 0;
}

/* A person's access token, as the responders check one (lib/userauth.c). */
static int
feed_jwt_verify(const struct chan *ch, const char *token, jwt_key_for_kid_fn fn, void *ud,
    struct jwt_claims *cl)
{
	struct jwt_verify_opts	 o;

	memset(&o, 0, sizeof(o));
	o.iss = ch->s->public_url;
	o.aud = USERAUTH_AUDIENCE;
	o.typ = USERAUTH_TYP_ACCESS;
	o.leeway = USERAUTH_LEEWAY_S;
	o.key_for_kid = fn;
	o.ud = ud;
	return jwt_verify(token, &o, cl);
}

static void
feed_person_end(struct feed_person *p)
{
	p->c->authing = 0;
	chan_conn_release(p->c);
	sodium_memzero(p->token, strlen(p->token));
	free(p->token);
	free(p);
}

#define FEED_PERSON_REFUSED	"the access token is not valid"

static void
feed_person_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c = arg;

	if (!chan_auth_answered(c))
		goto out;
	if (rc != CB_OK)
		feed_db_away(c);
	else if (db_rows(r) != 1)
		feed_refuse(c, "session", "the session is signed out or the person disabled");
	else if (strcmp(db_val(r, 0, 1), "t") != 0)
		feed_refuse(c, "role", "the call feed takes a person whose role is operator or admin");
	else
		feed_admit(ch, c, db_val(r, 0, 0), db_val(r, 0, 2), db_val(r, 0, 3), "person");
out:
	chan_conn_release(c);
}

static void
feed_person_key_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct feed_person	*p = arg;
	struct chan_conn	*c = p->c;
	struct feed_key		 k;
	struct jwt_claims	 cl;
	char			 session[37], ps[24];
	const char		*hex;
	size_t			 i;

	memset(&k, 0, sizeof(k));
	if (c->gone || c->closing)
		goto out;
	if (rc != CB_OK) {
		feed_db_away(c);
		goto out;
	}
	hex = db_rows(r) == 1 ? db_val(r, 0, 0) : "";
	if (strlen(hex) != 2 * JWT_PUBLICKEYBYTES) {
		feed_refuse(c, "token", FEED_PERSON_REFUSED);
		goto out;
	}
	for (i = 0; i < JWT_PUBLICKEYBYTES; i++)
		k.pk[i] = (unsigned char)(util_hexval(hex[2 * i]) * 16 + util_hexval(hex[2 * i + 1]));
	k.kid = p->kid;
	if (feed_jwt_verify(ch, p->token, feed_kid_found, &k, &cl) != CB_OK ||
	    !util_uuid_ok(cl.sub) || !userauth_jti_ref(cl.jti, session) || cl.org[0] == '\0') {
		feed_refuse(c, "token", FEED_PERSON_REFUSED);
		goto out;
	}
	chan_lld(ps, sizeof(ps), c->position < 0 ? 0 : c->position);
	if (chan_submit(ch, feed_person_sql, 4, (const char *[]){ cl.sub, cl.org, session, ps },
	    feed_person_done, c) != CB_OK) {
		feed_db_away(c);
		goto out;
	}
	/* The hold (and authing) pass to the second statement's answer. */
	sodium_memzero(&cl, sizeof(cl));
	sodium_memzero(p->token, strlen(p->token));
	free(p->token);
	free(p);
	return;
out:
	sodium_memzero(&cl, sizeof(cl));
	feed_person_end(p);
}

/* A person's access JWT: its signing key first, asynchronously. */
static void
feed_person_auth(struct chan_conn *c, const char *token)
{
	struct feed_person	*p;
	struct jwt_claims	 cl;
	char			 kid[JWT_KID_BUFSZ] = "";

	/* The first pass only reads the checked header's kid. */
	(void)feed_jwt_verify(c->ch, token, feed_kid_probe, kid, &cl);
	if (kid[0] == '\0') {
		feed_refuse(c, "token", FEED_PERSON_REFUSED);
		return;
	}
	p = util_calloc(1, sizeof(*p));
	p->c = c;
	p->token = util_strdup(token);
	util_strlcpy(p->kid, kid, sizeof(p->kid));
	c->authing = 1;
	chan_conn_hold(c);
	if (chan_submit(c->ch, feed_person_key_sql, 1, (const char *[]){ kid },
	    feed_person_key_done, p) != CB_OK) {
		feed_db_away(c);
		feed_person_end(p);
	}
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
	c->position = has_pos ? m->last_seq : -1;
	/* An API key is "cbk_…"; anything else is taken for a person's JWT. */
	if (strncmp(m->token, "cbk_", 4) != 0) {
		feed_person_auth(c, m->token);
		return;
	}
	if ((rc = apikey_lookup(c->ch->s->api_key_pepper, m->token, prefix,
	    c->feed_hash)) != CB_OK) {
		feed_refuse(c, rc == CB_ERR_CONFIG ? "pepper" : "key", "the API key is not valid");
		return;
	}
	chan_lld(ps, sizeof(ps), has_pos ? m->last_seq : 0);
	p[0] = prefix;
	p[1] = ps;
	c->authing = 1;
	chan_conn_hold(c);
	if (chan_submit(c->ch, feed_auth_sql, 2, p, feed_auth_done, c) != CB_OK) {
		c->authing = 0;
		chan_conn_release(c);
		sodium_memzero(c->feed_hash, sizeof(c->feed_hash));
		feed_db_away(c);
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

/* A connection's org, while its feed is live. */
static const char *
feed_live_org(const struct chan_conn *c)
{
	return feed_live(c) ? c->feed_org : NULL;
}

void
chan_feed_sweep(struct chan *ch)
{
	/*
	 * Events a lost wake-up did not announce get their positions (its
	 * answer calls for a round when it numbered any)...
	 */
	ch->feed_seq_due = 1;
	feed_sequence(ch);
	/* ...and the heads another worker's sequencer moved are read. */
	chan_submit_each(ch, feed_heads_sql, FEED_ORGS_MAX, feed_live_org, feed_heads_done);
}
