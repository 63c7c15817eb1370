/*
 * chan_pg: the tab channel's statements, asynchronous.  The loop never
 * waits for Postgres: a statement is queued with what to do with its
 * answer (chan_submit), sent when the one before it has answered, and its
 * answer is read when the connection's socket (adopted into the loop by
 * chan_adopt.c) becomes readable.  Meanwhile the loop keeps reading and
 * writing frames, pings and upgrades, so one slow statement (a lock held
 * elsewhere, a busy server) delays only what depends on its answer.
 *
 * One statement is outstanding at a time, in submission order: the
 * channel's statements never wait for each other's locks, and what piles up
 * behind a slow one is batched by the next round.  When the connection is
 * lost every queued statement is answered CB_ERR_DB_DOWN, once.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "util.h"

struct chan_job {
	struct chan_job	*next;
	const char	*sql;		/* the caller's constant */
	int		 n;
	char		**p;		/* copies of the parameters */
	chan_done_fn	 done;
	void		*arg;
};

static void
chan_job_free(struct chan_job *j)
{
	int	 i;

	for (i = 0; i < j->n; i++)
		free(j->p[i]);
	free(j->p);
	free(j);
}

/* Send the head of the queue, if nothing is outstanding. */
static void
chan_pg_kick(struct chan *ch)
{
	struct chan_job	*j = ch->jobs;

	if (j == NULL || ch->job_sent || !ch->pg_up)
		return;
	if (db_send(ch->db, j->sql, j->n, (const char *const *)j->p) != CB_OK) {
		chan_pg_lost(ch, db_errmsg(ch->db));
		return;
	}
	ch->job_sent = 1;
}

int
chan_submit(struct chan *ch, const char *sql, int n, const char *const *p,
    chan_done_fn done, void *arg)
{
	struct chan_job	*j, **tail;
	int		 i;

	if (!ch->pg_up || ch->stopping)
		return CB_ERR_DB_DOWN;
	j = util_calloc(1, sizeof(*j));
	j->sql = sql;
	j->n = n;
	j->p = util_calloc(n > 0 ? (size_t)n : 1, sizeof(j->p[0]));
	for (i = 0; i < n; i++)
		j->p[i] = p[i] ? util_strdup(p[i]) : NULL;
	j->done = done;
	j->arg = arg;
	if (ch->jobs == NULL && !ch->job_sent) {
		/* Nothing outstanding: it goes now, or not at all. */
		if (db_send(ch->db, sql, n, (const char *const *)j->p) != CB_OK) {
			chan_job_free(j);
			chan_pg_lost(ch, db_errmsg(ch->db));
			return CB_ERR_DB_DOWN;
		}
		ch->job_sent = 1;
	}
	for (tail = &ch->jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = j;
	ch->njobs++;
	return CB_OK;
}

void
chan_submit_each(struct chan *ch, const char *sql, size_t max,
    const char *(*value)(const struct chan_conn *), chan_done_fn done)
{
	struct chan_conn	*c;
	struct buf		 list;
	const char		*p[1], *v;
	size_t			 n = 0;

	buf_init(&list, max);
	for (c = ch->conns; c != NULL; c = c->next) {
		if ((v = value(c)) == NULL)
			continue;
		if (buf_puts(&list, n++ ? "," : "{") != CB_OK || buf_puts(&list, v) != CB_OK)
			goto out;
	}
	if (n > 0 && buf_putc(&list, '}') == CB_OK) {
		p[0] = buf_cstr(&list);
		(void)chan_submit(ch, sql, 1, p, done, NULL);
	}
out:
	buf_free(&list);
}

/* Hand one finished statement its answer. */
static void
chan_job_done(struct chan *ch, struct chan_job *j, int rc, struct db_res *res)
{
	if (rc != CB_OK && rc != CB_ERR_DB_DOWN)
		log_kv(LOG_LVL_ERROR, "db_error", "sqlstate", db_sqlstate(ch->db),
		    "error", db_errmsg(ch->db), NULL);
	if (j->done)
		j->done(ch, rc, res, j->arg);
	db_res_free(res);
	chan_job_free(j);
}

void
chan_pg_readable(struct chan *ch)
{
	struct chan_job	*j;
	struct db_res	*res = NULL;
	int		 ready, rc;

	if (!ch->pg_up)
		return;
	if (!ch->job_sent) {
		/* Nothing asked: only a closed connection or a notice to read. */
		if (db_notifies(ch->db, NULL, NULL) != CB_OK)
			chan_pg_lost(ch, "connection lost");
		return;
	}
	rc = db_poll(ch->db, &ready, &res);
	if (!ready)
		return;
	j = ch->jobs;
	ch->jobs = j->next;
	ch->njobs--;
	ch->job_sent = 0;
	if (rc == CB_ERR_DB_DOWN) {
		chan_pg_lost(ch, db_errmsg(ch->db));	/* answers the rest */
		chan_job_done(ch, j, rc, NULL);
		return;
	}
	chan_job_done(ch, j, rc, res);
	chan_pg_kick(ch);
}

void
chan_pg_fail_all(struct chan *ch)
{
	struct chan_job	*j;

	ch->job_sent = 0;
	while ((j = ch->jobs) != NULL) {
		ch->jobs = j->next;
		ch->njobs--;
		chan_job_done(ch, j, CB_ERR_DB_DOWN, NULL);
	}
}
