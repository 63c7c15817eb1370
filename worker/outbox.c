/*
 * outbox: the delivery engine, the worker's delivery duty.  Everything that
 * leaves the broker is an outbox row written in the transaction that caused
 * it; this duty drains the rows into their sinks (worker/sink.h):
 *
 *   lease    rows due, round-robin across tenants: each organisation's due
 *            rows are numbered and the union is taken in number order, so
 *            one tenant's flood of 20,000 rows cannot push another's one
 *            row behind it.  FOR UPDATE SKIP LOCKED: several processes
 *            drain one outbox.  Rows of a paused sink stay where they are.
 *   batch    rows of one sink with the same group key share a call (up to
 *            the sink's batch_max: 200 records per Salesforce Collections
 *            call), and up to CB_OUTBOX_CONCURRENCY calls are in flight at
 *            once over one libcurl multi handle (lib/httpc).
 *   record   each row's outcome in one statement per batch: done; pending
 *            again on the schedule (CB_OUTBOX_SCHEDULE, jitter, Retry-After
 *            honoured); dead (the dead letter, with last_error) when out of
 *            attempts or at once for a permanent error; given back without
 *            charge when the sink, not the row, is at fault.
 *
 * Leases that do not strand work.  The process registers in
 * delivery_workers with the Postgres backend it leases through; a running
 * row whose holder's backend is gone (the process was killed, or its
 * connection died with a Postgres restart) is taken back at once by any
 * delivery process, and any row whose short lease ran out (a process hung
 * but connected) too.  A live process renews its leases every third of
 * CB_OUTBOX_LEASE_S.  After a reconnect it registers its new backend before
 * anything else, so its own rows stay its own.  An outcome that could not be
 * written (Postgres away) is kept and written after the reconnect; if the
 * row was taken back meanwhile, the write matches nothing and the row is
 * delivered again, which an upsert by external id (Salesforce) or a stable
 * webhook-id (receivers deduplicate) makes harmless.
 *
 * Wake-ups: a Redis subscription ("cb:outbox", published by writers after
 * commit) and, whatever Redis does, a sweep once a second: a lost wake-up
 * delays, never loses.
 *
 * SIGTERM: no new lease; calls in flight get up to ENGINE_STOP_GRACE_MS to
 * finish and are recorded; what is left is handed back uncharged.
 *
 * This file is the loop and its batches; the statements are in
 * worker/outbox_rows.c, the services to sinks in worker/sinks.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "httpc.h"
#include "kv.h"
#include "log.h"
#include "outbox_int.h"
#include "retry.h"
#include "sink.h"
#include "util.h"
#include "worker.h"

double
eng_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- batches --------------------------------------------------------- */

static void
eng_batch_free(struct eng_batch *eb)
{
	size_t	 i;

	if (eb == NULL)
		return;
	/* The rows' strings are the copies eng_enqueue made. */
	for (i = 0; i < eb->b.n; i++) {
		free((void *)(uintptr_t)eb->b.rows[i].kind);
		free((void *)(uintptr_t)eb->b.rows[i].ref_id);
		free((void *)(uintptr_t)eb->b.rows[i].payload);
		free((void *)(uintptr_t)eb->b.rows[i].sealed);
	}
	free(eb->b.rows);
	free(eb);
}

struct eng_sink *
eng_sink_for(struct engine *e, const char *kind)
{
	const char	*dot = strchr(kind, '.');
	size_t		 n = dot ? (size_t)(dot - kind) : strlen(kind), i;

	for (i = 0; i < e->nsinks; i++)
		if (strlen(e->sinks[i].sink->name) == n &&
		    strncmp(e->sinks[i].sink->name, kind, n) == 0)
			return &e->sinks[i];
	return NULL;
}

static char *
eng_dup(const char *s)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		util_oom();
	return p;
}

/* Rows one call of this sink carries. */
static size_t
eng_rows_per_call(const struct eng_sink *es)
{
	size_t	 n = es->sink->batch_max > 0 ? es->sink->batch_max : 1;

	if (es->sink->max_rows != NULL && es->sink->max_rows(es->state) > 0 &&
	    es->sink->max_rows(es->state) < n)
		n = es->sink->max_rows(es->state);
	return n;
}

/* Put a leased row into a queued batch of its sink and group (or a new one). */
void
eng_enqueue(struct engine *e, struct eng_sink *es, const struct db_res *res, size_t r)
{
	struct eng_batch	*eb, **tail;
	struct sink_row		 row;
	char			 key[ENGINE_GROUP_MAX] = "";
	long long		 v;

	memset(&row, 0, sizeof(row));
	util_strlcpy(row.id, db_val(res, r, 0), sizeof(row.id));
	util_strlcpy(row.org_id, db_isnull(res, r, 1) ? "" : db_val(res, r, 1), sizeof(row.org_id));
	row.kind = db_val(res, r, 2);
	row.payload = db_val(res, r, 3);
	row.ref_id = db_val(res, r, 6);
	row.sealed = db_isnull(res, r, 7) ? NULL : db_val(res, r, 7);
	if (e->s->trace && !db_isnull(res, r, 9))
		util_strlcpy(row.trace, db_val(res, r, 9), sizeof(row.trace));
	(void)util_parse_ll(db_val(res, r, 4), 0, 1 << 30, &v);
	row.attempt = (int)v;
	(void)util_parse_ll(db_val(res, r, 10), 0, 1LL << 40, &row.created_s);
	(void)util_parse_ll(db_val(res, r, 5), 1, 1 << 30, &v);
	row.max_attempts = retry_attempts(&e->sched, (int)v);
	if (es->sink->group_key != NULL)
		es->sink->group_key(&row, key, sizeof(key));

	for (tail = &e->queued, eb = e->queued; eb != NULL; tail = &eb->next, eb = eb->next)
		if (eb->es == es && eb->b.n < eb->cap && strcmp(eb->group, key) == 0)
			break;
	if (eb == NULL) {
		if ((eb = calloc(1, sizeof(*eb))) == NULL)
			util_oom();
		eb->es = es;
		eb->cap = eng_rows_per_call(es);
		if ((eb->b.rows = calloc(eb->cap, sizeof(*eb->b.rows))) == NULL)
			util_oom();
		eb->b.sink = es->sink;
		eb->b.state = es->state;
		eb->b.engine = eb;
		util_strlcpy(eb->group, key, sizeof(eb->group));
		*tail = eb;
	}
	row.kind = eng_dup(row.kind);
	row.payload = eng_dup(row.payload);
	row.ref_id = eng_dup(row.ref_id);
	row.sealed = eng_dup(row.sealed);
	eb->b.rows[eb->b.n++] = row;
}

static int
eng_queued_for(const struct engine *e, const struct eng_sink *es)
{
	const struct eng_batch	*eb;

	for (eb = e->queued; eb != NULL; eb = eb->next)
		if (eb->es == es)
			return 1;
	return 0;
}

/* Calls one sink may have in flight: three quarters of all, at least one. */
static long long
eng_sink_cap(const struct engine *e)
{
	long long	 c = e->s->outbox_concurrency * 3 / 4;

	return c > 0 ? c : 1;
}

/* Move finished batches to the unrecorded list, then write what we can. */
static void
eng_collect(struct engine *e)
{
	struct eng_batch	**pp = &e->flying, *eb, **tail;

	while ((eb = *pp) != NULL) {
		if (!eb->finished) {
			pp = &eb->next;
			continue;
		}
		*pp = eb->next;
		eb->es->in_flight--;
		e->in_flight--;
		for (tail = &e->unrecorded; *tail != NULL; tail = &(*tail)->next)
			;
		eb->next = NULL;
		*tail = eb;
	}
	while ((eb = e->unrecorded) != NULL) {
		if (db_generation(e->db) != e->gen && eng_register(e) != 0)
			return;
		if (eng_record(e, eb) != 0)
			return;		/* Postgres away: keep it for later */
		e->unrecorded = eb->next;
		eng_batch_free(eb);
	}
}

static int
eng_any_finished(const struct engine *e)
{
	const struct eng_batch	*eb;

	for (eb = e->flying; eb != NULL; eb = eb->next)
		if (eb->finished)
			return 1;
	return 0;
}

/*
 * Work for the trace of batch b (NULL: none): its first row's with one
 * (a batch of several requests' rows can send only one traceparent per
 * call; the outbox_batch line names the others).  Sets the trace id of
 * the log lines and the trace httpc sends upstream (lib/httpc.h).
 */
void
eng_trace(struct engine *e, const struct sink_batch *b)
{
	struct trace	 t;
	size_t		 i;

	memset(&t, 0, sizeof(t));
	for (i = 0; b != NULL && i < b->n; i++)
		if (b->rows[i].trace[0] && trace_parse(b->rows[i].trace, &t) == CB_OK)
			break;
	httpc_trace(e->http, &t);
	log_set_trace(t.id);
}

/* Start queued batches while there is room, in queue (fair) order. */
static void
eng_start(struct engine *e)
{
	struct eng_batch	**pp = &e->queued, *eb;
	size_t			 i;
	int			 room;

	for (i = 0; i < e->nsinks; i++)
		e->sinks[i].blocked = 0;
	while ((eb = *pp) != NULL && e->in_flight < e->s->outbox_concurrency) {
		if (eb->es->blocked) {
			pp = &eb->next;
			continue;
		}
		room = eb->es->sink->room ? eb->es->sink->room(eb->es->state) : 1;
		if (room <= 0) {
			eb->es->blocked = 1;
			pp = &eb->next;
			continue;
		}
		*pp = eb->next;
		eb->next = e->flying;
		e->flying = eb;
		eb->started = 1;
		eb->es->in_flight++;
		e->in_flight++;
		/* The calls this batch makes, and the lines it logs, carry its trace. */
		eng_trace(e, &eb->b);
		eb->es->sink->start(eb->es->state, &eb->b);
		eng_trace(e, NULL);
	}
	/* A sink without room keeps its own queue; note it for the lease. */
	for (eb = e->queued; eb != NULL; eb = eb->next)
		if (eb->es->sink->room && eb->es->sink->room(eb->es->state) <= 0)
			eb->es->blocked = 1;
}

/* Hand every queued (not started) batch back, uncharged. */
static void
eng_give_back_queued(struct engine *e)
{
	struct eng_batch	*eb;

	while ((eb = e->queued) != NULL) {
		e->queued = eb->next;
		sink_batch_fail(&eb->b, SINK_GIVE_BACK, 0, "CB_STOPPING", "handed back at shutdown");
		eb->finished = 1;
		eb->es->in_flight++;
		e->in_flight++;
		eb->next = e->flying;
		e->flying = eb;
	}
}

/* ---- the loop -------------------------------------------------------- */

static int
eng_open(struct engine *e, struct worker *w)
{
	char	 host[64] = "", nonce[9], err[256];
	unsigned char rnd[4];
	size_t	 i;

	memset(e, 0, sizeof(*e));
	e->s = w->s;
	e->w = w;
	if (retry_parse(w->s->outbox_schedule, &e->sched, err, sizeof(err)) != CB_OK) {
		log_kv(LOG_LVL_ERROR, "config_invalid", "setting", "CB_OUTBOX_SCHEDULE",
		    "error", err, NULL);
		return -1;
	}
	gethostname(host, sizeof(host) - 1);
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(nonce, rnd, sizeof(rnd));
	snprintf(e->me, sizeof(e->me), "%s:%ld:%s", host, (long)getpid(), nonce);
	e->db = db_open(w->s->pg_dsn);
	if ((e->http = httpc_new(w->s->egress_private_allow, "context-broker/1")) == NULL) {
		log_kv(LOG_LVL_ERROR, "config_invalid", "setting", "CB_EGRESS_PRIVATE_ALLOW",
		    "error", "must be host:port entries separated by commas", NULL);
		db_close(e->db);
		return -1;
	}
	e->env.s = w->s;
	e->env.db = e->db;
	e->env.http = e->http;
	e->env.keys = &w->keys;
	e->env.me = e->me;
	for (i = 0; i < sinks_n && e->nsinks < ENGINE_SINKS_MAX; i++) {
		struct eng_sink *es = &e->sinks[e->nsinks++];

		es->sink = sinks[i];
		if (es->sink->open && es->sink->open(&e->env, &es->state) != CB_OK)
			log_kv(LOG_LVL_WARN, "sink_not_ready", "sink", es->sink->name, NULL);
	}
	return 0;
}

static void
eng_close(struct engine *e)
{
	struct eng_batch	*eb;
	size_t			 i;

	httpc_free(e->http);	/* runs the callbacks of anything still in flight */
	e->http = NULL;
	eng_collect(e);
	while ((eb = e->unrecorded) != NULL) {
		e->unrecorded = eb->next;
		eng_batch_free(eb);
	}
	for (i = 0; i < e->nsinks; i++)
		if (e->sinks[i].sink->close)
			e->sinks[i].sink->close(e->sinks[i].state);
	kv_sub_close(e->sub);
	db_close(e->db);
}

int
outbox_run(struct worker *w)
{
	struct engine	 e;
	struct pollfd	 pfd;
	double		 now, stop_at = 0;
	int		 wait_ms, got, ready, down_ms = 100, fd, full, room;
	size_t		 i;

	duty_signals();
	if (eng_open(&e, w) != 0)
		return 2;
	log_kv(LOG_LVL_INFO, "outbox_started", "worker", e.me, NULL);

	for (;;) {
		now = eng_now_ms();
		if (worker_stop && stop_at == 0) {
			stop_at = now + ENGINE_STOP_GRACE_MS;
			eng_give_back_queued(&e);
		}
		if (worker_stop && ((e.in_flight == 0 && e.unrecorded == NULL) || now > stop_at))
			break;
		if (db_connect(e.db) != CB_OK) {
			/* Postgres is away: calls in flight go on, outcomes wait. */
			if (e.in_flight > 0)
				(void)httpc_run(e.http, down_ms, -1, NULL);
			else
				poll(NULL, 0, down_ms);
			eng_collect(&e);
			down_ms = down_ms < ENGINE_DOWN_MAX_MS ? down_ms * 2 : ENGINE_DOWN_MAX_MS;
			continue;
		}
		down_ms = 100;
		if (db_generation(e.db) != e.gen && eng_register(&e) != 0)
			continue;
		eng_collect(&e);
		if (e.unrecorded != NULL)
			continue;
		if (now >= e.next_reclaim) {
			eng_reclaim(&e);
			e.next_reclaim = now + ENGINE_RECLAIM_MS;
		}
		if (now >= e.next_renew) {
			eng_renew(&e);
			e.next_renew = now + (double)e.s->outbox_lease_s * 1000.0 / 3.0;
		}
		if (now >= e.next_tick) {
			for (i = 0; i < e.nsinks; i++)
				if (e.sinks[i].sink->tick)
					e.sinks[i].sink->tick(e.sinks[i].state);
			e.next_tick = now + ENGINE_TICK_MS;
		}
		/* Subscribe before looking, so no wake-up falls between the two. */
		if (e.sub == NULL && !worker_stop)
			e.sub = kv_sub_open(e.s->redis_host, (int)e.s->redis_port, e.s->redis_password,
			    (int)e.s->redis_timeout_ms, "cb:outbox");
		eng_start(&e);
		full = 0;
		for (i = 0; i < e.nsinks && !worker_stop; i++) {
			struct eng_sink	*es = &e.sinks[i];
			long long	 free_slots = e.s->outbox_concurrency - e.in_flight, want;

			/* A sink's own queue first; a slow sink keeps a quarter free. */
			if (free_slots <= 0 || es->blocked || eng_queued_for(&e, es) ||
			    es->in_flight >= eng_sink_cap(&e))
				continue;
			if (free_slots > eng_sink_cap(&e) - es->in_flight)
				free_slots = eng_sink_cap(&e) - es->in_flight;
			want = free_slots * (long long)eng_rows_per_call(es);
			if (want > ENGINE_LEASE_CAP)
				want = ENGINE_LEASE_CAP;
			got = eng_lease(&e, es, (int)want);
			if (got < 0)
				break;
			if (got >= want)
				full = 1;
			if (got > 0)
				eng_start(&e);
		}
		/* A retry time that has come is served by these leases. */
		if (e.next_retry > 0 && e.next_retry <= now)
			e.next_retry = 0;
		/*
		 * How long to wait: not at all if the lease came back full (more
		 * is due) or a call already ended; else until a call ends, a
		 * wake-up, a due retry (when there is room to take it) or the
		 * sweep.
		 */
		room = !worker_stop && e.in_flight < e.s->outbox_concurrency;
		wait_ms = ENGINE_SWEEP_MS;
		if (room && e.next_retry > 0) {
			double d = e.next_retry - eng_now_ms();

			wait_ms = d <= 0 ? 0 : d < wait_ms ? (int)d + 1 : wait_ms;
		}
		if ((room && full) || eng_any_finished(&e))
			wait_ms = 0;
		if (worker_stop)
			wait_ms = 100;
		fd = e.sub ? kv_sub_fd(e.sub) : -1;
		ready = 0;
		if (e.in_flight > 0)
			(void)httpc_run(e.http, wait_ms, fd, &ready);
		else if (wait_ms > 0) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			ready = poll(&pfd, fd >= 0 ? 1 : 0, wait_ms) > 0 && fd >= 0;
		}
		if (ready) {
			e.next_retry = 0;
			if (kv_sub_drain(e.sub) < 0) {
				log_kv(LOG_LVL_WARN, "outbox_wakeup_lost", "fallback", "1 s sweep", NULL);
				kv_sub_close(e.sub);
				e.sub = NULL;
			}
		}
	}
	eng_close(&e);
	log_kv(LOG_LVL_INFO, "outbox_stopped", NULL);
	return 0;
}
