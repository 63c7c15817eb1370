/*
 * chan_rows: the tab channel's Postgres side of delivery, the round (the
 * single statements are in chan_late.c, the sweeps in chan_sweep.c), each
 * statement sent and answered asynchronously (chan_pg.c): what follows a
 * statement is its answer's callback.  The hot path is batched: one round (chan_round) stores the
 * receipts of every connection in one statement, reads the next commands
 * of every ready tab in one query (each within its tab's window, in seq
 * order), records in one statement what becomes of them (delivered; or
 * expired, dead, failed when met so), and only then hands the frames to
 * the connections.  One round runs at a time; news that arrives meanwhile
 * makes the next.  A connection named by a statement outstanding is held
 * (chan_conn_hold) so its answer never meets freed memory.
 *
 * Postgres first: a frame goes to its tab only after the statement that
 * records it as delivered (never after its expires_at, never past
 * CHAN_MAX_ATTEMPTS); a receipt releases its slot only once stored.  Rows
 * another session holds locked are skipped, never waited for.  Arrays
 * travel as parameters (Postgres array literals), never as SQL text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "chan_sql.h"
#include "db.h"
#include "errs.h"
#include "events.h"
#include "keyring.h"
#include "log.h"
#include "metrics.h"
#include "reseal.h"
#include "util.h"

#define CHAN_ARR_MAX	((size_t)1 << 24)	/* one array parameter, bytes */

/* ------------------------------------------------------------- arrays */

/* realloc for n elements of sz, or abort (out of memory). */
static void *
chan_grow(void *p, size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz)
		util_oom();
	if ((p = realloc(p, n * sz)) == NULL)
		util_oom();
	return p;
}

/* A Postgres array literal being built: "{", elements, "}". */
struct chan_arr {
	struct buf	 b;
	size_t		 n;
};

static void
chan_arr_init(struct chan_arr *a)
{
	buf_init(&a->b, CHAN_ARR_MAX);
	a->n = 0;
	if (buf_putc(&a->b, '{') != CB_OK)
		abort();
}

/* One element, quoted (NULL for SQL NULL); CB_ERR_TOO_LARGE past the cap. */
static int
chan_arr_add(struct chan_arr *a, const char *v)
{
	const char	*p;
	int		 rc;

	if (a->n++ > 0 && (rc = buf_putc(&a->b, ',')) != CB_OK)
		return rc;
	if (v == NULL)
		return buf_puts(&a->b, "NULL");
	if ((rc = buf_putc(&a->b, '"')) != CB_OK)
		return rc;
	for (p = v; *p; p++) {
		if ((*p == '"' || *p == '\\') && (rc = buf_putc(&a->b, '\\')) != CB_OK)
			return rc;
		if ((rc = buf_putc(&a->b, *p)) != CB_OK)
			return rc;
	}
	return buf_putc(&a->b, '"');
}

static int
chan_arr_add_ll(struct chan_arr *a, long long v)
{
	char	 s[24];

	chan_lld(s, sizeof(s), v);
	return chan_arr_add(a, s);
}

static const char *
chan_arr_end(struct chan_arr *a)
{
	if (buf_putc(&a->b, '}') != CB_OK)
		return NULL;
	return buf_cstr(&a->b);
}

static void
chan_arr_free(struct chan_arr *a)
{
	buf_free(&a->b);
}

/* ----------------------------------------------------------- the round */

/* 1 if (ctx_id, seq) is a row of r (ctx_id text, seq). */
static int
chan_settled(const struct db_res *r, const char *ctx_id, long long seq)
{
	long long	 s;
	size_t		 i;

	for (i = 0; i < db_rows(r); i++)
		if (strcmp(db_val(r, i, 0), ctx_id) == 0 &&
		    util_parse_ll(db_val(r, i, 1), 1, 1LL << 62, &s) == CB_OK && s == seq)
			return 1;
	return 0;
}

struct chan_step;
/* The round under way: its connections (held) and what it read of them. */
struct chan_rnd {
	struct chan_conn	**list;
	size_t			 nlist, cap;
	struct chan_step	*v;		/* steps */
	size_t			 n, vcap;
};

static void	 chan_read_start(struct chan *, struct chan_rnd *);
static void	 chan_round_end(struct chan *, struct chan_rnd *);

#define CHAN_RECEIPTS_SQL \
	"WITH r AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[]," \
	"  $5::text[]) AS r(r_ctx, r_org, r_seq, r_status, r_reason))," \
	" l AS (SELECT m.id AS l_id, m.ctx_id AS l_ctx, m.seq AS l_seq, r.r_status," \
	"  r.r_reason FROM commands m" \
	"  JOIN r ON m.ctx_id = r.r_ctx AND m.org_id = r.r_org AND m.seq = r.r_seq" \
	"  FOR UPDATE OF m SKIP LOCKED)," \
	" u AS (UPDATE commands m SET state = l.r_status, reason = l.r_reason," \
	"  finished_at = now() FROM l WHERE m.id = l.l_id" \
	"  AND (m.state IN ('queued', 'delivered')" \
	"   OR (m.state = 'expired' AND m.delivered_at IS NOT NULL))" \
	CHAN_FINISHED_COLS ")," \
	" ev AS (" EVENTS_INSERT_FROM(EVENTS_COMMAND_SRC("u")) ")," \
	" au AS (" CHAN_AUDIT_FROM("u", CHAN_BY_TAB) ")" \
	" SELECT DISTINCT l_ctx::text, l_seq FROM l"

/*
 * The receipts' statement answered.  Rows another session held locked were
 * skipped: their receipts wait for a later round.  Every row returned is
 * settled (stored now, or finished already: a receipt that changes
 * nothing), so its slot comes free.  Receipts that arrived meanwhile are
 * not among them and wait for the next round.
 */
static void
chan_receipts_done(struct chan *ch, int rc, struct db_res *res, void *arg)
{
	struct chan_conn	*c;
	int			 i;

	if (rc != CB_OK) {
		/* Kept, slots held: a later round (the sweep, a reconnect) stores them. */
		if (rc != CB_ERR_DB_DOWN)
			log_kv(LOG_LVL_WARN, "receipts_deferred", "error", "the batch failed",
			    NULL);
	} else {
		for (c = ch->conns; c != NULL; c = c->next) {
			if (!c->authed)
				continue;
			for (i = 0; i < c->nfl; i++) {
				if (!c->fl[i].rcpt ||
				    !chan_settled(res, c->tab.ctx_id, c->fl[i].seq))
					continue;
				chan_log_seq(LOG_LVL_INFO, "receipt", c, c->fl[i].seq, "status",
				    c->fl[i].rcpt_status);
				chan_flight_drop(c, i);
				i--;
				chan_tab_dirty(ch, c->tab.ctx_id);
			}
		}
	}
	if (ch->pg_up)
		chan_read_start(ch, arg);
	else
		chan_round_end(ch, arg);
}

/* The receipts that arrived on every connection, in one statement (with their events). */
static void
chan_receipts_start(struct chan *ch, struct chan_rnd *R)
{
	struct chan_conn	*c;
	struct chan_arr		 a[5];
	const char		*p[5];
	int			 i, k, n = 0;

	for (k = 0; k < 5; k++)
		chan_arr_init(&a[k]);
	for (c = ch->conns; c != NULL; c = c->next) {
		if (!c->authed)
			continue;
		for (i = 0; i < c->nfl; i++) {
			if (!c->fl[i].rcpt)
				continue;
			if (chan_arr_add(&a[0], c->tab.ctx_id) != CB_OK ||
			    chan_arr_add(&a[1], c->tab.org) != CB_OK ||
			    chan_arr_add_ll(&a[2], c->fl[i].seq) != CB_OK ||
			    chan_arr_add(&a[3], c->fl[i].rcpt_status) != CB_OK ||
			    chan_arr_add(&a[4], c->fl[i].rcpt_reason) != CB_OK)
				goto send;	/* past 16 MiB: the next round takes the rest */
			n++;
		}
	}
send:
	for (k = 0; k < 5 && n > 0; k++)
		if ((p[k] = chan_arr_end(&a[k])) == NULL)
			n = 0;
	if (n == 0 || chan_submit(ch, CHAN_RECEIPTS_SQL, 5, p, chan_receipts_done, R) != CB_OK) {
		if (ch->pg_up)
			chan_read_start(ch, R);
		else
			chan_round_end(ch, R);
	}
	for (k = 0; k < 5; k++)
		chan_arr_free(&a[k]);
}

/* A row read this round, in a connection's seq order: a frame or a skip. */
struct chan_step {
	struct chan_conn	*c;
	long long		 seq;
	char			 id[CHAN_UUID_LEN + 1];
	char			*frame;		/* NULL: skipped (cursor moves past) */
	size_t			 len;
	int			 need;		/* CHAN_NEED_*: what the write must do first */
	int			 join;		/* in flight on a sibling: its round */
	const char		*event;		/* for a skip: why, for the log */
	char			 state[20];
};

/* What the round's one write does to a step's row before the step goes on. */
enum {
	CHAN_NEED_NONE,		/* a skip of a finished row, or a resend as it is */
	CHAN_NEED_DELIVER,	/* queued/delivered: becomes delivered */
	CHAN_NEED_EXPIRE,	/* past its expires_at: expired */
	CHAN_NEED_DEAD,		/* out of attempts: dead */
	CHAN_NEED_FAIL,		/* too large for a frame: failed */
	CHAN_NEED__COUNT
};

static struct chan_step *
chan_step_new(struct chan_rnd *s, struct chan_conn *c, long long seq, const char *id,
    const char *state)
{
	struct chan_step	*st;

	if (s->n == s->vcap) {
		s->vcap = s->vcap ? s->vcap * 2 : 64;
		s->v = chan_grow(s->v, s->vcap, sizeof(s->v[0]));
	}
	st = &s->v[s->n++];
	memset(st, 0, sizeof(*st));
	st->c = c;
	st->seq = seq;
	util_strlcpy(st->id, id, sizeof(st->id));
	util_strlcpy(st->state, state, sizeof(st->state));
	return st;
}

static int	 chan_command_json(struct buf *, const char *id, const char *seq,
		    const char *type, const char *sel, const char *val, const char *trace);

/* Recheck the keyring's rows at most this often for a value that does not open. */
#define CHAN_KEYS_RECHECK_MS	1000.0

/*
 * Open a command's sealed value (sql/0024) into plain: with the keyring as
 * kept in step with data_keys (a look at its rows every KEYRING_CHECK_MS at
 * most, on the channel's second connection, so retired keys leave this
 * process too), and once more after reloading it when the value names a key
 * made since (another process rotated).  CB_ERR_CRYPTO when it still does
 * not open.
 */
static int
chan_open_value(struct chan *ch, const char *id, const char *sealed, struct buf *plain)
{
	struct seal_keyring	*kr = keyring_get(ch->keys, ch->kdb);
	int			 rc = CB_ERR_CRYPTO;

	if (kr != NULL)
		rc = reseal_open_value(kr, "commands", id, sealed, plain);
	if (rc == CB_ERR_CRYPTO &&
	    util_now_ms() - ch->keys->checked_ms >= CHAN_KEYS_RECHECK_MS &&
	    (kr = keyring_recheck(ch->keys, ch->kdb)) != NULL)
		rc = reseal_open_value(kr, "commands", id, sealed, plain);
	return rc;
}

/*
 * The command frame of one row; CB_ERR_TOO_LARGE past the frame cap,
 * CB_ERR_CRYPTO when its sealed value does not open.  A command accepted
 * with tracing on carries its traceparent (docs/channel.md).  The value is
 * the clear one of a row written before sealing, else the sealed one
 * opened: the tab gets it in clear, as the agent sent it.
 */
static int
chan_command_frame(struct chan *ch, struct buf *b, const struct db_res *r, size_t row)
{
	const char	*id = db_val(r, row, 2), *seq = db_val(r, row, 3);
	const char	*type = db_val(r, row, 6), *sel = db_val(r, row, 7);
	const char	*val = db_val(r, row, 8), *trace = db_val(r, row, 11);
	const char	*sealed = db_val(r, row, 12);
	struct buf	 plain;
	int		 rc;

	buf_init(&plain, CHAN_MAX_MSG);
	if (val == NULL && sealed != NULL) {
		if ((rc = chan_open_value(ch, id, sealed, &plain)) != CB_OK) {
			buf_wipe(&plain);
			return rc == CB_ERR_TOO_LARGE ? rc : CB_ERR_CRYPTO;
		}
		val = buf_cstr(&plain);
	}
	rc = chan_command_json(b, id, seq, type, sel, val, trace);
	buf_wipe(&plain);
	return rc;
}

static int
chan_command_json(struct buf *b, const char *id, const char *seq, const char *type,
    const char *sel, const char *val, const char *trace)
{
	int		 rc;

	if ((rc = buf_puts(b, "{\"type\":\"command\",\"id\":")) != CB_OK ||
	    (rc = buf_json_str(b, id)) != CB_OK ||
	    (rc = buf_printf(b, ",\"seq\":%s,\"command\":", seq)) != CB_OK ||
	    (rc = buf_json_str(b, type)) != CB_OK)
		return rc;
	if (sel != NULL && ((rc = buf_puts(b, ",\"selector\":")) != CB_OK ||
	    (rc = buf_json_str(b, sel)) != CB_OK))
		return rc;
	/*
	 * jsonb text from Postgres is valid JSON, and so is a sealed value
	 * (the route sealed its canonical JSON): it goes out as it is.
	 */
	if (val != NULL && ((rc = buf_puts(b, ",\"value\":")) != CB_OK ||
	    (rc = buf_puts(b, val)) != CB_OK))
		return rc;
	if (trace != NULL && ((rc = buf_puts(b, ",\"traceparent\":")) != CB_OK ||
	    (rc = buf_json_str(b, trace)) != CB_OK))
		return rc;
	return buf_putc(b, '}');
}

/*
 * Walk one connection's rows (rows [from, to) of the read, in seq order)
 * into steps.  Returns nothing: a connection that must look again is left
 * dirty, one that cannot go on is failed or resynced here.
 */
static void
chan_plan(struct chan *ch, struct chan_conn *c, const struct db_res *r, size_t from,
    size_t to, long long lim, struct chan_rnd *steps)
{
	struct buf	 b;
	const char	*state, *id;
	long long	 last_seq, seq, next = c->cursor, attempts;
	size_t		 row, nrows = 0;
	int		 taken = 0, expired, delivered_before, joining, rc;

	buf_init(&b, CHAN_MAX_MSG);
	c->blocked = 0;
	for (row = from; row < to; row++) {
		if (db_isnull(r, row, 1)) {
			log_kv(LOG_LVL_WARN, "ws_ctx_gone", "ctx", c->tab.ctx_id, NULL);
			chan_fail(c, "unauthorized", "the context no longer exists",
			    CHAN_CLOSE_UNAUTHORIZED);
			goto out;
		}
		if (util_parse_ll(db_val(r, row, 1), 0, 1LL << 62, &last_seq) != CB_OK)
			goto bad_row;
		if (db_isnull(r, row, 2)) {
			/* Nothing after the cursor: caught up, unless rows vanished. */
			if (last_seq > next)
				chan_resync(c, "gap", last_seq);
			goto out;
		}
		if (util_parse_ll(db_val(r, row, 3), 1, 1LL << 62, &seq) != CB_OK ||
		    util_parse_ll(db_val(r, row, 10), 0, 1LL << 30, &attempts) != CB_OK)
			goto bad_row;
		if (seq != next + 1) {
			chan_resync(c, "gap", last_seq);
			goto out;
		}
		nrows++;
		id = db_val(r, row, 2);
		state = db_val(r, row, 4);
		delivered_before = strcmp(db_val(r, row, 5), "t") == 0;
		expired = !db_isnull(r, row, 9) && strcmp(db_val(r, row, 9), "t") == 0;
		if (expired) {
			/* Never sent after its expires_at, whatever its state. */
			if (strcmp(state, "pending_approval") == 0 ||
			    strcmp(state, "queued") == 0 || strcmp(state, "delivered") == 0) {
				struct chan_step *st = chan_step_new(steps, c, seq, id, "expired");

				st->event = "command_expired";
				st->need = CHAN_NEED_EXPIRE;
			} else
				chan_step_new(steps, c, seq, id, state)->event = "command_skipped";
			next = seq;
			continue;
		}
		if (strcmp(state, "pending_approval") == 0) {
			/* Order is kept: nothing after it goes before it. */
			chan_log_seq(LOG_LVL_DEBUG, "ws_blocked", c, seq, "state", state);
			c->blocked = 1;
			goto out;
		}
		if (strcmp(state, "dead") == 0 || strcmp(state, "expired") == 0 ||
		    (!delivered_before && strcmp(state, "queued") != 0 &&
		    strcmp(state, "delivered") != 0)) {
			/*
			 * Finished before it ever reached a tab (denied,
			 * expired, dead-lettered): it was never meant for one.
			 */
			chan_step_new(steps, c, seq, id, state)->event = "command_skipped";
			next = seq;
			continue;
		}
		/*
		 * Another socket of this tab carries it now: this one joins
		 * that round (one attempt for the tab), even the last one.
		 */
		joining = strcmp(state, "delivered") == 0 &&
		    chan_flight_sibling(ch, c, seq) != NULL;
		if ((strcmp(state, "queued") == 0 || strcmp(state, "delivered") == 0) &&
		    attempts >= CHAN_MAX_ATTEMPTS && !joining) {
			/* Sent as often as it may be, over reconnects too: dead. */
			struct chan_step *st = chan_step_new(steps, c, seq, id, "dead");

			st->event = "command_dead";
			st->need = CHAN_NEED_DEAD;
			next = seq;
			continue;
		}
		buf_reset(&b);
		if ((rc = chan_command_frame(ch, &b, r, row)) == CB_ERR_CRYPTO) {
			/*
			 * Its value does not open: nothing of this tab goes
			 * past it (order is kept) until it does or it expires
			 * (the sweep).  The id only, never the value.
			 */
			log_kv(LOG_LVL_ERROR, "command_value_unopened", "command", id, NULL);
			goto out;
		}
		if (rc != CB_OK) {
			struct chan_step *st = chan_step_new(steps, c, seq, id, "failed");

			st->event = "command_too_large";
			st->need = CHAN_NEED_FAIL;
			next = seq;
			continue;
		}
		if (taken >= c->want)
			goto out;	/* the window is full: a receipt marks it again */
		{
			struct chan_step	*st = chan_step_new(steps, c, seq, id, state);

			st->frame = util_strndup(buf_cstr(&b), b.len);
			st->len = b.len;
			/* A finished command that had reached a tab goes again as it is. */
			st->need = strcmp(state, "queued") == 0 ||
			    strcmp(state, "delivered") == 0 ? CHAN_NEED_DELIVER : CHAN_NEED_NONE;
			st->join = st->need == CHAN_NEED_DELIVER && joining;
		}
		taken++;
		next = seq;
	}
	/* As many rows as asked for: there may be more. */
	if ((long long)nrows >= lim)
		c->dirty = 1;
	goto out;
bad_row:
	log_kv(LOG_LVL_ERROR, "ws_bad_row", "ctx", c->tab.ctx_id, NULL);
	chan_fail(c, "internal", "the broker could not read the commands", CHAN_CLOSE_INTERNAL);
out:
	buf_free(&b);
}

/* 1 if id is among the rows (uuid text) of r. */
static int
chan_returned(const struct db_res *r, const char *id)
{
	size_t	 i;

	for (i = 0; r != NULL && i < db_rows(r); i++)
		if (strcmp(db_val(r, i, 0), id) == 0)
			return 1;
	return 0;
}

/*
 * What becomes of the rows read, in one statement: delivered ($1 a new
 * round, an attempt; $3 a socket joining the round a sibling carries,
 * none), expired ($4), dead ($5), failed ($6), each with its events.  A
 * row another session holds locked, or that changed since it was read,
 * is not returned: its step holds its connection (the sweep reads it
 * again; not at once, a lock would make that spin).
 */
#define CHAN_WRITE_SQL \
	"WITH d AS (UPDATE commands SET state = 'delivered'," \
	"  attempts = attempts + CASE WHEN id = ANY ($3::uuid[]) THEN 0 ELSE 1 END," \
	"  delivered_at = CASE WHEN id = ANY ($3::uuid[]) THEN delivered_at ELSE now() END" \
	"  WHERE id IN (SELECT id FROM commands" \
	"   WHERE (id = ANY ($1::uuid[]) OR id = ANY ($3::uuid[]))" \
	"   AND state IN ('queued', 'delivered')" \
	"   AND (attempts < $2::int OR id = ANY ($3::uuid[]))" \
	"   AND (expires_at IS NULL OR expires_at > now())" \
	"   FOR UPDATE SKIP LOCKED) RETURNING id)," \
	" x AS (UPDATE commands SET state = 'expired', finished_at = now()," \
	"  reason = CASE WHEN delivered_at IS NULL THEN 'expired before it could be sent'" \
	"  ELSE 'expired while waiting for a receipt' END" \
	"  WHERE id IN (SELECT id FROM commands WHERE id = ANY ($4::uuid[])" \
	"   AND state IN ('pending_approval', 'queued', 'delivered') AND expires_at <= now()" \
	"   FOR UPDATE SKIP LOCKED) RETURNING id)," \
	CHAN_FINISH_CTES("k", "UPDATE commands SET state = 'dead', finished_at = now()," \
	    "  reason = 'no receipt after ' || attempts || ' attempts'" \
	    "  WHERE id IN (SELECT id FROM commands WHERE id = ANY ($5::uuid[])" \
	    "   AND state IN ('queued', 'delivered') AND attempts >= $2::int" \
	    "   FOR UPDATE SKIP LOCKED)", CHAN_DEAD_SRC("k")) "," \
	CHAN_FINISH_CTES("f", "UPDATE commands SET state = 'failed', finished_at = now()," \
	    "  reason = 'command too large for the tab channel'" \
	    "  WHERE id IN (SELECT id FROM commands WHERE id = ANY ($6::uuid[])" \
	    "   AND state IN ('queued', 'delivered') FOR UPDATE SKIP LOCKED)", \
	    EVENTS_COMMAND_SRC("f")) \
	" SELECT id::text FROM d UNION ALL SELECT id::text FROM x" \
	" UNION ALL SELECT id::text FROM k UNION ALL SELECT id::text FROM f"

#define CHAN_READ_SQL \
	"SELECT t.i, c.last_seq, m.id, m.seq, m.state, m.delivered_at IS NOT NULL," \
	" m.type, m.selector, m.value::text, m.expires_at <= now(), m.attempts, m.trace," \
	" m.value_sealed" \
	" FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::int[])" \
	"  WITH ORDINALITY AS t(ctx, org, cur, lim, i)" \
	" LEFT JOIN contexts c ON c.id = t.ctx AND c.org_id = t.org" \
	" LEFT JOIN LATERAL (SELECT id, seq, state, delivered_at, type, selector, value," \
	"  value_sealed, expires_at, attempts, trace FROM commands WHERE ctx_id = c.id AND org_id = c.org_id" \
	"  AND seq > t.cur ORDER BY seq LIMIT t.lim) m ON true" \
	" ORDER BY t.i, m.seq"

/* The steps in each connection's order; one the write did not return holds it. */
static void
chan_frames(struct chan *ch, struct chan_rnd *R, const struct db_res *u)
{
	struct chan_conn	*o;
	size_t			 i;

	for (i = 0; i < R->n; i++) {
		struct chan_step	*st = &R->v[i];

		o = st->c;
		if (o->held || o->closing)
			continue;
		if (st->need != CHAN_NEED_NONE && !chan_returned(u, st->id)) {
			o->held = 1;
			continue;
		}
		if (st->frame == NULL) {
			chan_log_seq(LOG_LVL_INFO, st->event, o, st->seq, "state", st->state);
			o->cursor = st->seq;
			continue;
		}
		o->cursor = st->seq;
		chan_log_seq(LOG_LVL_DEBUG, "command_sent", o, st->seq, "state", st->state);
		if (chan_send(o, st->frame, st->len) != CB_OK) {
			o->held = 1;
			continue;
		}
		chan_flight_add(o, st->seq, st->id, st->frame, st->len);
		st->frame = NULL;
		if (st->join) {
			const struct chan_flight	*round = chan_flight_sibling(ch, o, st->seq);

			if (round != NULL)
				chan_flight_join(o, round);
		}
	}
}

static void
chan_write_done(struct chan *ch, int rc, struct db_res *u, void *arg)
{
	struct chan_rnd	*R = arg;
	size_t		 i;

	if (rc != CB_OK) {
		/* Nothing was recorded: nothing is sent, skips included. */
		for (i = 0; i < R->n; i++)
			R->v[i].c->dirty = rc == CB_ERR_DB_DOWN;
	} else
		chan_frames(ch, R, u);
	chan_round_end(ch, R);
}

/* The read answered: plan every connection's steps, then write what they need. */
static void
chan_read_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_rnd		*R = arg;
	struct chan_conn	*c;
	struct chan_arr		 a[CHAN_NEED__COUNT + 1];
	const char		*q[6];
	char			 max[24];
	size_t			 row, from, i, nw = 0;
	long long		 idx;
	int			 k;

	for (k = 0; k <= CHAN_NEED__COUNT; k++)
		chan_arr_init(&a[k]);
	if (rc != CB_OK) {
		for (i = 0; i < R->nlist; i++) {
			if (R->list[i]->closing)
				continue;
			if (rc == CB_ERR_DB_DOWN)
				R->list[i]->dirty = 1;
			else
				chan_fail(R->list[i], "internal",
				    "the broker could not read the commands", CHAN_CLOSE_INTERNAL);
		}
		goto end;
	}
	/* Rows come grouped by connection (t.i, 1-based), each group in seq order. */
	for (row = 0; row < db_rows(r); row = from) {
		if (util_parse_ll(db_val(r, row, 0), 1, (long long)R->nlist, &idx) != CB_OK)
			break;
		for (from = row + 1; from < db_rows(r) &&
		    strcmp(db_val(r, from, 0), db_val(r, row, 0)) == 0; from++)
			;
		c = R->list[idx - 1];
		if (!c->closing)
			chan_plan(ch, c, r, row, from, (long long)c->want + CHAN_READ_SLACK, R);
	}
	/* Postgres first: what becomes of each row, in one statement. */
	for (i = 0; i < R->n; i++) {
		struct chan_step	*st = &R->v[i];

		if (st->need == CHAN_NEED_NONE)
			continue;
		k = st->need == CHAN_NEED_DELIVER && st->join ? CHAN_NEED__COUNT : st->need;
		if (chan_arr_add(&a[k], st->id) != CB_OK)
			goto end;	/* past 16 MiB of ids: nothing sent; the sweep comes back */
		nw++;
	}
	if (nw == 0) {
		chan_frames(ch, R, NULL);
		goto end;
	}
	chan_lld(max, sizeof(max), CHAN_MAX_ATTEMPTS);
	q[0] = chan_arr_end(&a[CHAN_NEED_DELIVER]);
	q[1] = max;
	q[2] = chan_arr_end(&a[CHAN_NEED__COUNT]);
	q[3] = chan_arr_end(&a[CHAN_NEED_EXPIRE]);
	q[4] = chan_arr_end(&a[CHAN_NEED_DEAD]);
	q[5] = chan_arr_end(&a[CHAN_NEED_FAIL]);
	for (k = 0; k < 6; k++)
		if (q[k] == NULL)
			goto end;
	if (chan_submit(ch, CHAN_WRITE_SQL, 6, q, chan_write_done, R) == CB_OK) {
		R = NULL;	/* the write's answer ends the round */
		goto out;
	}
	for (i = 0; i < R->n; i++)
		R->v[i].c->dirty = 1;	/* Postgres went away: after the reconnect */
end:
	chan_round_end(ch, R);
out:
	for (k = 0; k <= CHAN_NEED__COUNT; k++)
		chan_arr_free(&a[k]);
}

/* The next commands of every dirty tab with room in its window: one read. */
static void
chan_read_start(struct chan *ch, struct chan_rnd *R)
{
	struct chan_conn	*c;
	struct chan_arr		 a[4];
	const char		*p[4];
	size_t			 i;
	int			 k, room;

	for (k = 0; k < 4; k++)
		chan_arr_init(&a[k]);
	for (c = ch->conns; c != NULL; c = c->next) {
		c->held = 0;
		if (!c->dirty || !c->authed || c->closing)
			continue;
		c->dirty = 0;
		/* The tab's room, less what this round already gave its other sockets. */
		room = c->max_in_flight - chan_tab_inflight(ch, c->tab.ctx_id);
		for (i = 0; i < R->nlist; i++)
			if (strcmp(R->list[i]->tab.ctx_id, c->tab.ctx_id) == 0)
				room -= R->list[i]->want;
		if (room > CHAN_FLIGHT_MAX - c->nfl)
			room = CHAN_FLIGHT_MAX - c->nfl;
		c->want = room > 0 ? room : 0;
		if (chan_arr_add(&a[0], c->tab.ctx_id) != CB_OK ||
		    chan_arr_add(&a[1], c->tab.org) != CB_OK ||
		    chan_arr_add_ll(&a[2], c->cursor) != CB_OK ||
		    chan_arr_add_ll(&a[3], (long long)c->want + CHAN_READ_SLACK) != CB_OK) {
			c->dirty = 1;	/* the next round */
			break;
		}
		if (R->nlist == R->cap) {
			R->cap = R->cap ? R->cap * 2 : 32;
			R->list = chan_grow(R->list, R->cap, sizeof(R->list[0]));
		}
		R->list[R->nlist++] = c;
		chan_conn_hold(c);
	}
	for (k = 0; k < 4; k++)
		p[k] = chan_arr_end(&a[k]);
	if (R->nlist > 0 && p[0] && p[1] && p[2] && p[3] &&
	    chan_submit(ch, CHAN_READ_SQL, 4, p, chan_read_done, R) == CB_OK)
		R = NULL;
	else
		for (i = 0; i < R->nlist; i++)
			R->list[i]->dirty = 1;	/* Postgres went away: after the reconnect */
	for (k = 0; k < 4; k++)
		chan_arr_free(&a[k]);
	if (R != NULL)
		chan_round_end(ch, R);
}

/* The round is over: let go of it; news that came meanwhile makes the next. */
static void
chan_round_end(struct chan *ch, struct chan_rnd *R)
{
	struct chan_conn	*c;
	size_t			 i;

	for (i = 0; i < R->n; i++)
		free(R->v[i].frame);
	free(R->v);
	for (i = 0; i < R->nlist; i++)
		chan_conn_release(R->list[i]);
	free(R->list);
	free(R);
	ch->round = NULL;
	for (c = ch->conns; c != NULL; c = c->next)
		if (c->dirty && c->authed && !c->closing) {
			chan_settle_soon(ch);
			break;
		}
}

void
chan_round(struct chan *ch)
{
	struct chan_conn	*c;
	int			 any = 0;

	if (ch->round != NULL || !ch->pg_up)
		return;		/* the round under way calls for the next */
	for (c = ch->conns; c != NULL && !any; c = c->next)
		if (c->dirty && c->authed && !c->closing)
			any = 1;
	if (!any)
		return;
	ch->round = util_calloc(1, sizeof(*ch->round));
	chan_receipts_start(ch, ch->round);
}

int
chan_rows_prepare(struct db *db)
{
	int	 rc;

	/* The hot statements, parsed and planned once per connection. */
	if ((rc = db_prepare(db, CHAN_AUTH_SQL, 2)) != CB_OK ||
	    (rc = db_prepare(db, CHAN_RECEIPTS_SQL, 5)) != CB_OK ||
	    (rc = db_prepare(db, CHAN_READ_SQL, 4)) != CB_OK)
		return rc;
	return db_prepare(db, CHAN_WRITE_SQL, 6);
}
