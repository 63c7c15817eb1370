/*
 * chan_late: the tab channel's single statements, outside the batched
 * round (chan_rows.c): a receipt for a command no longer in the window,
 * the auth lookup (one snapshot: the context, its newest seq, the rows
 * after the presented position, the window), and a late receipt: the
 * command goes out again on every socket of its tab that carries it, or,
 * out of attempts or past its expiry, ends dead or expired.  Each is sent
 * and answered asynchronously (chan_pg.c); a connection its answer names is
 * held (chan_conn_hold) until then.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "chan_sql.h"
#include "db.h"
#include "errs.h"
#include "metrics.h"
#include "util.h"

/* How many rows a CHAN_FINISH statement moved (its one column), or 0. */
static long long
chan_changed(const struct db_res *r)
{
	long long	 n = 0;

	if (r != NULL && db_rows(r) == 1)
		(void)util_parse_ll(db_val(r, 0, 0), 0, 1LL << 62, &n);
	return n;
}

struct chan_rcpt_job {
	struct chan_conn	*c;
	long long		 seq;
	char			 status[8];
};

static void
chan_receipt_stored(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_rcpt_job	*j = arg;

	(void)ch;
	if (rc != CB_OK)
		chan_log_seq(LOG_LVL_WARN, "receipt_not_stored", j->c, j->seq, "status",
		    j->status);
	else {
		chan_log_seq(LOG_LVL_INFO, chan_changed(r) ? "receipt" : "receipt_again", j->c,
		    j->seq, "status", j->status);
		if (chan_changed(r))
			metrics_add(MF_COMMANDS, strcmp(j->status, "applied") == 0 ? MC_APPLIED :
			    MC_FAILED, 0, 1);
	}
	chan_conn_release(j->c);
	free(j);
}

/* One receipt's statement: the commands it may finish are `takes`. */
#define CHAN_RECEIPT_SQL(takes) CHAN_FINISH("UPDATE commands SET state = $4, reason = $5," \
	" finished_at = now() WHERE ctx_id = $1::uuid AND org_id = $2::bigint AND seq = $3::bigint" \
	" AND " takes, CHAN_BY_TAB)

void
chan_store_receipt(struct chan_conn *c, long long seq, const char *status,
    const char *reason, int resent)
{
	/* Sent again: only a command that reached a tab (Postgres first: delivered_at). */
	static const char *const sql[2] = {
		CHAN_RECEIPT_SQL("(state IN ('queued', 'delivered')"
		    " OR (state = 'expired' AND delivered_at IS NOT NULL))"),
		CHAN_RECEIPT_SQL("state IN ('delivered', 'expired') AND delivered_at IS NOT NULL"),
	};
	struct chan_rcpt_job	*j;
	char			 s[24];
	const char		*p[5];

	chan_lld(s, sizeof(s), seq);
	p[0] = c->tab.ctx_id;
	p[1] = c->tab.org;
	p[2] = s;
	p[3] = status;
	p[4] = reason;
	j = util_calloc(1, sizeof(*j));
	j->c = c;
	j->seq = seq;
	util_strlcpy(j->status, status, sizeof(j->status));
	chan_conn_hold(c);
	if (chan_submit(c->ch, sql[resent != 0], 5, p, chan_receipt_stored, j) != CB_OK)
		chan_receipt_stored(c->ch, CB_ERR_DB_DOWN, NULL, j);
}

int
chan_rows_auth(struct chan_conn *c, const char *token_hash, long long pos,
    chan_done_fn done)
{
	const char	*p[2];
	char		 ps[24];
	int		 rc;

	/*
	 * One statement, one snapshot: the token's live context, its newest
	 * seq and how many rows exist after the position (commands are
	 * inserted together with the last_seq bump, so a missing row is a
	 * real gap), and the window the form's agent policy gives the tab.
	 */
	chan_lld(ps, sizeof(ps), pos);
	p[0] = token_hash;
	p[1] = ps;
	chan_conn_hold(c);
	rc = chan_submit(c->ch, CHAN_AUTH_SQL, 2, p, done, c);
	if (rc != CB_OK)
		chan_conn_release(c);
	return rc;
}

/*
 * c and every other live connection of its tab holding seq in flight: the
 * sockets one round goes out on (at most CHAN_ROUND_MAX; the per-context
 * cap keeps it far below).  *rcpt: one of them holds a receipt for it.
 */
#define CHAN_ROUND_MAX	64
static int
chan_round_members(struct chan_conn *c, long long seq, struct chan_conn **who, int *rcpt)
{
	struct chan_conn	*o;
	int			 n = 0, k;

	*rcpt = 0;
	who[n++] = c;
	for (o = c->ch->conns; o != NULL && n < CHAN_ROUND_MAX; o = o->next) {
		if (o == c || !o->authed || o->closing ||
		    strcmp(o->tab.ctx_id, c->tab.ctx_id) != 0 ||
		    (k = chan_flight_find(o, seq)) < 0)
			continue;
		if (o->fl[k].rcpt)
			*rcpt = 1;
		who[n++] = o;
	}
	return n;
}

struct chan_late {
	struct chan_conn	*c;
	long long		 seq;
	char			 id[CHAN_UUID_LEN + 1];
};

/* The flight the late job is about, still waiting on its statement; or NULL. */
static struct chan_flight *
chan_late_flight(struct chan_late *l)
{
	int	 i;

	if (l->c->gone || (i = chan_flight_find(l->c, l->seq)) < 0)
		return NULL;
	l->c->fl[i].timing = 0;
	return &l->c->fl[i];
}

static void
chan_late_free(struct chan_late *l)
{
	chan_conn_release(l->c);
	free(l);
}

/* The give-up statement answered: the round ends on every socket that carried it. */
static void
chan_late_ended(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_late	*l = arg;
	struct chan_conn	*who[CHAN_ROUND_MAX];
	long long		 affected = chan_changed(r);
	int			 n, k, j, rcpt;

	if (chan_late_flight(l) == NULL || rc != CB_OK)
		goto out;	/* gone, or the next tick tries again */
	chan_log_seq(affected ? LOG_LVL_WARN : LOG_LVL_INFO,
	    affected ? "command_given_up" : "receipt_wait_ended", l->c, l->seq,
	    "state", affected ? "dead_or_expired" : "finished");
	if (affected)
		metrics_add(MF_COMMANDS, MC_GIVEN_UP, 0, affected);
	n = chan_round_members(l->c, l->seq, who, &rcpt);
	for (k = n - 1; k >= 0; k--)
		if ((j = chan_flight_find(who[k], l->seq)) >= 0)
			chan_flight_drop(who[k], j);
	chan_tab_dirty(ch, l->c->tab.ctx_id);
	chan_settle_soon(ch);
out:
	chan_late_free(l);
}

/* The resend statement answered: send again on the round's sockets, or give up. */
static void
chan_late_counted(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_late	*l = arg;
	struct chan_flight	*f, *g;
	struct chan_conn	*who[CHAN_ROUND_MAX];
	const char		*p[2];
	double			 deadline;
	int			 n, k, j, rcpt, sends;

	if ((f = chan_late_flight(l)) == NULL || rc != CB_OK)
		goto out;
	if (db_rows(r) == 1) {
		sends = f->sends + 1;
		deadline = chan_receipt_due(l->c, sends);
		chan_log_seq(LOG_LVL_INFO, "receipt_timeout_resend", l->c, l->seq,
		    "attempts", db_val(r, 0, 0));
		n = chan_round_members(l->c, l->seq, who, &rcpt);
		for (k = 0; k < n; k++) {
			if ((j = chan_flight_find(who[k], l->seq)) < 0)
				continue;
			g = &who[k]->fl[j];
			g->sends = sends;
			g->deadline = deadline;
			(void)chan_send(who[k], g->frame, g->len);
		}
		goto out;
	}
	/* Out of attempts or expired: it ends (dead or expired) unless finished. */
	p[0] = l->id;
	p[1] = l->c->tab.org;
	f->timing = 1;
	if (chan_submit(ch, CHAN_FINISH_DEAD(
	    "UPDATE commands SET finished_at = now(),"
	    " state = CASE WHEN expires_at <= now() THEN 'expired' ELSE 'dead' END,"
	    " reason = CASE WHEN expires_at <= now() THEN 'expired while waiting for a receipt'"
	    " ELSE 'no receipt after ' || attempts || ' attempts' END"
	    " WHERE id = $1::uuid AND org_id = $2::bigint AND state = 'delivered'"), 2, p,
	    chan_late_ended, l) == CB_OK)
		return;
	f->timing = 0;
out:
	chan_late_free(l);
}

void
chan_receipt_timeout(struct chan_conn *c, int i)
{
	struct chan_flight	*f = &c->fl[i];
	struct chan_conn	*who[CHAN_ROUND_MAX];
	struct chan_late	*l;
	const char		*p[3];
	char			 max[24];
	int			 rcpt;

	/*
	 * The round is the tab's: every socket that carries the command
	 * shares this attempt, and the next one goes out on all of them.
	 */
	(void)chan_round_members(c, f->seq, who, &rcpt);
	if (rcpt) {
		/* A sibling's receipt waits to be stored: that settles it. */
		f->deadline = chan_receipt_due(c, f->sends);
		return;
	}
	l = util_calloc(1, sizeof(*l));
	l->c = c;
	l->seq = f->seq;
	util_strlcpy(l->id, f->id, sizeof(l->id));
	chan_conn_hold(c);
	chan_lld(max, sizeof(max), CHAN_MAX_ATTEMPTS);
	p[0] = f->id;
	p[1] = c->tab.org;
	p[2] = max;
	f->timing = 1;
	if (chan_submit(c->ch,
	    "UPDATE commands SET attempts = attempts + 1, delivered_at = now()"
	    " WHERE id = $1::uuid AND org_id = $2::bigint AND state = 'delivered'"
	    " AND attempts < $3::int AND (expires_at IS NULL OR expires_at > now())"
	    " RETURNING attempts", 3, p, chan_late_counted, l) != CB_OK) {
		f->timing = 0;
		chan_late_free(l);
	}
}
