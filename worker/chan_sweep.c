/*
 * chan_sweep: what the channel finds without being told.  Every
 * CB_CHANNEL_SWEEP_MS one query reads the newest seq of every connected
 * tab (a lost wake-up, Redis down, an approval, receipts a failed batch
 * left behind); once a second the commands past their expires_at, tab or
 * no tab, end `expired` in small batches (SKIP LOCKED: several workers
 * share the work) and free their slots in the windows.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "db.h"
#include "errs.h"
#include "util.h"

#define CHAN_SWEEP_IDS_MAX	((size_t)1 << 24)	/* the uuid[] parameter, bytes */

/* The newest seq of every tab asked about: a tab behind it has news. */
static void
chan_rows_swept(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	struct chan_conn	*c;
	long long		 last;
	size_t			 i;
	int			 k;

	(void)arg;
	if (rc != CB_OK)
		return;		/* the next sweep asks again */
	for (i = 0; i < db_rows(r); i++) {
		if (util_parse_ll(db_val(r, i, 1), 0, 1LL << 62, &last) != CB_OK)
			continue;
		for (c = ch->conns; c != NULL; c = c->next)
			if (c->authed && strcmp(c->tab.ctx_id, db_val(r, i, 0)) == 0 &&
			    (last > c->cursor || c->blocked))
				c->dirty = 1;
	}
	/* Receipts a failed batch left behind are tried again. */
	for (c = ch->conns; c != NULL; c = c->next)
		for (k = 0; c->authed && k < c->nfl; k++)
			if (c->fl[k].rcpt)
				c->dirty = 1;
	chan_settle_soon(ch);
}

/* A connection's context, once authenticated and until it closes. */
static const char *
chan_sweep_ctx(const struct chan_conn *c)
{
	return c->authed && !c->closing ? c->tab.ctx_id : NULL;
}

void
chan_rows_sweep(struct chan *ch)
{
	/* A uuid[] literal: uuids need no quoting. */
	chan_submit_each(ch, "SELECT id::text, last_seq FROM contexts"
	    " WHERE id = ANY ($1::uuid[])", CHAN_SWEEP_IDS_MAX, chan_sweep_ctx, chan_rows_swept);
}

/* A command the expiry sweep ended: its slot in a window is free. */
static void
chan_expired_flight(struct chan *ch, const char *ctx_id, const char *seqs)
{
	struct chan_conn	*c;
	long long		 seq;
	int			 i;

	if (util_parse_ll(seqs, 1, 1LL << 62, &seq) != CB_OK)
		return;
	for (c = ch->conns; c != NULL; c = c->next) {
		if (!c->authed || strcmp(c->tab.ctx_id, ctx_id) != 0)
			continue;
		if ((i = chan_flight_find(c, seq)) >= 0 && !c->fl[i].rcpt) {
			chan_log_seq(LOG_LVL_INFO, "command_expired", c, seq, "state", "expired");
			chan_flight_drop(c, i);
		}
		c->dirty = 1;
	}
}

#define CHAN_EXPIRE_SQL \
	"WITH x AS (SELECT id FROM commands" \
	" WHERE state IN ('pending_approval', 'queued', 'delivered')" \
	" AND expires_at IS NOT NULL AND expires_at <= now()" \
	" ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED)" \
	" UPDATE commands m SET state = 'expired', finished_at = now()," \
	" reason = CASE WHEN m.delivered_at IS NULL THEN 'expired before it could be sent'" \
	" ELSE 'expired while waiting for a receipt' END" \
	" FROM x WHERE m.id = x.id RETURNING m.ctx_id::text, m.seq"

static int	 chan_expire_batch(struct chan *);

/*
 * One batch answered: free the slots; a full batch is followed by another,
 * up to CHAN_EXPIRE_ROUNDS a tick.
 */
static void
chan_expire_done(struct chan *ch, int rc, struct db_res *r, void *arg)
{
	char		 cnt[24];
	size_t		 i, n;

	(void)arg;
	if (rc != CB_OK) {
		ch->sweeping = 0;
		return;
	}
	n = db_rows(r);
	for (i = 0; i < n; i++)
		chan_expired_flight(ch, db_val(r, i, 0), db_val(r, i, 1));
	if (n > 0) {
		chan_lld(cnt, sizeof(cnt), (long long)n);
		log_kv(LOG_LVL_INFO, "commands_expired", "count", cnt, NULL);
		chan_settle_soon(ch);
	}
	if ((long long)n < ch->s->channel_expire_batch || ++ch->sweeping > CHAN_EXPIRE_ROUNDS ||
	    chan_expire_batch(ch) != CB_OK)
		ch->sweeping = 0;
}

static int
chan_expire_batch(struct chan *ch)
{
	char		 lim[24];
	const char	*p[1] = { lim };

	chan_lld(lim, sizeof(lim), ch->s->channel_expire_batch);
	return chan_submit(ch, CHAN_EXPIRE_SQL, 1, p, chan_expire_done, NULL);
}

void
chan_expire_sweep(struct chan *ch)
{
	/* The last tick's batches are still out: they carry on. */
	if (ch->sweeping)
		return;
	ch->sweeping = 1;
	if (chan_expire_batch(ch) != CB_OK)
		ch->sweeping = 0;
}
