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

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alert.h"
#include "db.h"
#include "errs.h"
#include "events.h"
#include "httpc.h"
#include "kv.h"
#include "log.h"
#include "retry.h"
#include "sink.h"
#include "util.h"
#include "worker.h"

#define ENGINE_SINKS_MAX	8
#define ENGINE_SWEEP_MS		1000	/* look for due rows at least this often */
#define ENGINE_TICK_MS		1000
#define ENGINE_RECLAIM_MS	1000
#define ENGINE_STOP_GRACE_MS	10000
#define ENGINE_DOWN_MAX_MS	2000
#define ENGINE_GROUP_MAX	160
#define ENGINE_LEASE_CAP	4000	/* rows in one lease statement */

struct eng_sink {
	const struct sink	*sink;
	void			*state;
	int			 in_flight;
	int			 blocked;	/* room() said 0 this round */
};

struct eng_batch {
	struct sink_batch	 b;
	struct eng_sink		*es;
	char			 group[ENGINE_GROUP_MAX];
	size_t			 cap;
	int			 started;
	int			 finished;
	struct eng_batch	*next;
};

struct engine {
	const struct settings	*s;
	struct worker		*w;
	struct db		*db;
	struct httpc		*http;
	struct kv_sub		*sub;
	struct sink_env		 env;
	struct retry_schedule	 sched;
	struct eng_sink		 sinks[ENGINE_SINKS_MAX];
	size_t			 nsinks;
	struct eng_batch	*queued;	/* leased, not started */
	struct eng_batch	*flying;	/* started */
	struct eng_batch	*unrecorded;	/* finished, outcome not yet written */
	int			 in_flight;
	unsigned long		 gen;		/* db generation we registered on */
	double			 next_renew, next_tick, next_reclaim;
	double			 next_retry;	/* earliest retry we scheduled */
	char			 me[128];
};

static double
eng_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
eng_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

/* ---- the sinks' side of the engine ----------------------------------- */

void
sink_batch_done(struct sink_batch *b)
{
	struct eng_batch	*eb = b->engine;

	eb->finished = 1;
}

void
sink_batch_fail(struct sink_batch *b, int outcome, long retry_after_s, const char *code,
    const char *error)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		if (b->rows[i].outcome != SINK_UNSET)
			continue;
		b->rows[i].outcome = outcome;
		b->rows[i].retry_after_s = retry_after_s;
		util_strlcpy(b->rows[i].code, code, sizeof(b->rows[i].code));
		util_strlcpy(b->rows[i].error, error, sizeof(b->rows[i].error));
	}
}

void
sink_pause(struct sink_env *env, const char *sink, long secs, const char *reason)
{
	char	 s[24];

	snprintf(s, sizeof(s), "%ld", secs);
	(void)db_exec(env->db, "INSERT INTO sink_pauses (sink, until, reason)"
	    " VALUES ($1, now() + make_interval(secs => $2::int), $3)"
	    " ON CONFLICT (sink) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason,"
	    " since = CASE WHEN sink_pauses.until > now() THEN sink_pauses.since ELSE now() END",
	    3, (const char *[]){ sink, s, reason });
	log_kv(LOG_LVL_WARN, "sink_paused", "sink", sink, "seconds", s, "reason", reason, NULL);
}

void
sink_resume(struct sink_env *env, const char *sink)
{
	(void)db_exec(env->db, "DELETE FROM sink_pauses WHERE sink = $1", 1,
	    (const char *[]){ sink });
	if (db_affected(env->db) > 0)
		log_kv(LOG_LVL_INFO, "sink_resumed", "sink", sink, NULL);
}

void
sink_note(struct sink_env *env, const char *sink, const char *outcome, const char *code)
{
	int	 ok = strcmp(outcome, "ok") == 0;

	(void)db_exec(env->db, "INSERT INTO sink_status (sink, last_outcome, last_error, last_at,"
	    "   last_ok_at) VALUES ($1, $2, $3, now(), CASE WHEN $4 = '1' THEN now() END)"
	    " ON CONFLICT (sink) DO UPDATE SET last_outcome = EXCLUDED.last_outcome,"
	    "   last_error = EXCLUDED.last_error, last_at = now(),"
	    "   last_ok_at = coalesce(EXCLUDED.last_ok_at, sink_status.last_ok_at)", 4,
	    (const char *[]){ sink, outcome, ok ? NULL : code, ok ? "1" : "0" });
	if (!ok && code != NULL)
		(void)db_exec(env->db, "INSERT INTO sink_failures (sink, code) VALUES ($1, $2)", 2,
		    (const char *[]){ sink, code });
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

static struct eng_sink *
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
static void
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
	(void)util_parse_ll(db_val(res, r, 4), 0, 1 << 30, &v);
	row.attempt = (int)v;
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

/* ---- Postgres: registration, leases, outcomes ------------------------ */

/* Who we are to the other delivery processes: this session's backend. */
static int
eng_register(struct engine *e)
{
	if (db_exec(e->db, "INSERT INTO delivery_workers (id, backend_pid, backend_start)"
	    " SELECT $1, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
	    " ON CONFLICT (id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid,"
	    "   backend_start = EXCLUDED.backend_start, seen_at = now()", 1,
	    (const char *[]){ e->me }) != CB_OK || db_affected(e->db) != 1)
		return -1;
	e->gen = db_generation(e->db);
	log_kv(LOG_LVL_INFO, "outbox_registered", "worker", e->me, NULL);
	return 0;
}

/* Take back rows whose holder is gone or whose lease ran out. */
static void
eng_reclaim(struct engine *e)
{
	char	 n[24];

	if (db_exec(e->db, "UPDATE outbox o SET state = 'pending', locked_by = NULL,"
	    " locked_until = NULL, run_after = now()"
	    " WHERE o.state = 'running' AND (o.locked_until < now() OR NOT EXISTS ("
	    "   SELECT 1 FROM delivery_workers w JOIN pg_stat_activity a"
	    "     ON a.pid = w.backend_pid AND a.backend_start = w.backend_start"
	    "   WHERE w.id = o.locked_by))", 0, NULL) != CB_OK)
		return;
	if (db_affected(e->db) > 0) {
		snprintf(n, sizeof(n), "%lld", db_affected(e->db));
		log_kv(LOG_LVL_WARN, "outbox_reclaimed", "rows", n, NULL);
	}
	/* Registrations of processes long gone. */
	(void)db_exec(e->db, "DELETE FROM delivery_workers w WHERE seen_at < now() - interval '1 day'"
	    " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.backend_pid"
	    "   AND a.backend_start = w.backend_start)", 0, NULL);
}

static void
eng_renew(struct engine *e)
{
	char	 lease[24];

	snprintf(lease, sizeof(lease), "%lld", e->s->outbox_lease_s);
	(void)db_exec(e->db, "UPDATE outbox SET locked_until = now() + make_interval(secs => $2::int)"
	    " WHERE locked_by = $1 AND state = 'running'", 2, (const char *[]){ e->me, lease });
	(void)db_exec(e->db, "UPDATE delivery_workers SET seen_at = now() WHERE id = $1", 1,
	    (const char *[]){ e->me });
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

/*
 * Lease up to `want` rows of one sink, fairly across tenants; returns rows
 * leased, -1 if Postgres is away.  Nothing while the sink is paused (the
 * pause check is a one-time filter: the scan does not even start).  Rows of
 * a kind no sink here knows are left alone: a newer worker's.
 */
static int
eng_lease(struct engine *e, struct eng_sink *want_sink, int want)
{
	struct db_res	*res = NULL;
	char		 lease[24], lim[24];
	size_t		 i, n;
	struct eng_sink	*es;

	if (want > ENGINE_LEASE_CAP)
		want = ENGINE_LEASE_CAP;
	snprintf(lease, sizeof(lease), "%lld", e->s->outbox_lease_s);
	snprintf(lim, sizeof(lim), "%d", want);
	if (db_query(e->db, &res,
	    "WITH c AS ("
	    "  SELECT x.id, x.rn FROM orgs g CROSS JOIN LATERAL ("
	    "    SELECT i.id, row_number() OVER () AS rn FROM ("
	    "      SELECT o.id FROM outbox o WHERE o.org_id = g.id AND o.state = 'pending'"
	    "        AND o.run_after <= now() AND split_part(o.kind, '.', 1) = $4"
	    "        AND NOT EXISTS (SELECT 1 FROM sink_pauses p WHERE p.sink = $4 AND p.until > now())"
	    "      ORDER BY o.run_after, o.id LIMIT $3::int FOR UPDATE SKIP LOCKED) i) x"
	    "  UNION ALL"
	    "  SELECT i.id, row_number() OVER () FROM ("
	    "      SELECT o.id FROM outbox o WHERE o.org_id IS NULL AND o.state = 'pending'"
	    "        AND o.run_after <= now() AND split_part(o.kind, '.', 1) = $4"
	    "        AND NOT EXISTS (SELECT 1 FROM sink_pauses p WHERE p.sink = $4 AND p.until > now())"
	    "      ORDER BY o.run_after, o.id LIMIT $3::int FOR UPDATE SKIP LOCKED) i"
	    "  ORDER BY 2, 1 LIMIT $3::int)"
	    " UPDATE outbox o SET state = 'running', locked_by = $1, attempts = o.attempts + 1,"
	    "   locked_until = now() + make_interval(secs => $2::int)"
	    " FROM c WHERE o.id = c.id"
	    " RETURNING o.id, o.org_id, o.kind, o.payload::text, o.attempts, o.max_attempts,"
	    "   coalesce(o.ref_id::text, ''), o.payload_sealed, c.rn", 4,
	    (const char *[]){ e->me, lease, lim, want_sink->sink->name }) != CB_OK)
		return -1;
	n = db_rows(res);
	/* Round-robin order: every tenant's first row, then every second... */
	{
		size_t		*ord = calloc(n ? n : 1, sizeof(*ord));
		long long	*rn = calloc(n ? n : 1, sizeof(*rn)), *idv = calloc(n ? n : 1, sizeof(*idv));
		size_t		 a, b, t;

		if (ord == NULL || rn == NULL || idv == NULL)
			util_oom();
		for (i = 0; i < n; i++) {
			ord[i] = i;
			(void)util_parse_ll(db_val(res, i, 8), 0, 1LL << 40, &rn[i]);
			(void)util_parse_ll(db_val(res, i, 0), 0, 1LL << 62, &idv[i]);
		}
		/* Insertion sort by (rn, id): n is a few thousand at most, mostly ordered. */
		for (a = 1; a < n; a++)
			for (b = a; b > 0 && (rn[ord[b - 1]] > rn[ord[b]] ||
			    (rn[ord[b - 1]] == rn[ord[b]] && idv[ord[b - 1]] > idv[ord[b]])); b--) {
				t = ord[b];
				ord[b] = ord[b - 1];
				ord[b - 1] = t;
			}
		for (i = 0; i < n; i++) {
			size_t r = ord[i];

			/* The statement filtered on the sink: anything else is a bug. */
			if ((es = eng_sink_for(e, db_val(res, r, 2))) != want_sink)
				abort();
			eng_enqueue(e, es, res, r);
		}
		free(ord);
		free(rn);
		free(idv);
	}
	db_res_free(res);
	return (int)n;
}

static const char *
eng_state_of(int outcome)
{
	switch (outcome) {
	case SINK_DONE:
		return "done";
	case SINK_DEAD:
		return "dead";
	default:
		return "pending";
	}
}

/* Dead letters of these orgs: alert when one passes the 24 h threshold. */
static void
eng_dead_alerts(struct engine *e, cJSON *orgs)
{
	const cJSON	*o;
	struct db_res	*res = NULL;
	char		 th[24], key[128], text[1024];

	snprintf(th, sizeof(th), "%lld", e->s->alert_dead_letters);
	cJSON_ArrayForEach(o, orgs) {
		if (!cJSON_IsString(o))
			continue;
		if (db_query(e->db, &res,
		    "SELECT g.slug, count(*), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
		    "  (SELECT string_agg(k || ': ' || n, ', ') FROM (SELECT kind AS k, count(*) AS n"
		    "     FROM outbox WHERE org_id = g.id AND state = 'dead'"
		    "     AND dead_at > now() - interval '24 hours' GROUP BY kind ORDER BY kind) t),"
		    "  (SELECT string_agg(r, ', ') FROM (SELECT coalesce(ref_id::text, id::text) AS r"
		    "     FROM outbox WHERE org_id = g.id AND state = 'dead'"
		    "     AND dead_at > now() - interval '24 hours' ORDER BY dead_at DESC LIMIT 10) t)"
		    " FROM orgs g JOIN outbox x ON x.org_id = g.id AND x.state = 'dead'"
		    "   AND x.dead_at > now() - interval '24 hours'"
		    " WHERE g.id = $1::bigint GROUP BY g.id, g.slug HAVING count(*) >= $2::int", 2,
		    (const char *[]){ o->valuestring, th }) != CB_OK)
			continue;
		if (db_rows(res) == 1) {
			snprintf(key, sizeof(key), "dead_letters:%s:%s", o->valuestring,
			    db_val(res, 0, 2));
			snprintf(text, sizeof(text),
			    ":rotating_light: %s dead letters in 24 h for org `%s` (%s). "
			    "Correlation ids: %s. Action: fix the cause (see last_error with "
			    "`cb-admin dead-letters show`), then replay with "
			    "`cb-admin dead-letters replay`.", db_val(res, 0, 1), db_val(res, 0, 0),
			    db_val(res, 0, 3), db_val(res, 0, 4));
			(void)alert_raise(e->db, o->valuestring, "dead_letters", key, text, NULL, NULL);
		}
		db_res_free(res);
		res = NULL;
	}
}

/* Write a finished batch's outcomes.  0, or -1 if Postgres is away (keep it). */
static int
eng_record(struct engine *e, struct eng_batch *eb)
{
	cJSON		*arr = cJSON_CreateArray(), *orgs = cJSON_CreateArray(), *o;
	struct db_res	*res = NULL;
	char		*js;
	size_t		 i, ndone = 0, nretry = 0, ndead = 0, nback = 0;
	int		 rc;
	char		 c1[16], c2[16], c3[16], c4[16];

	for (i = 0; i < eb->b.n; i++) {
		struct sink_row	*r = &eb->b.rows[i];
		long long	 ms = 0;
		int		 dec = 0;

		if (r->outcome == SINK_UNSET) {
			/* A sink that forgot a row: never silently drop it. */
			r->outcome = SINK_RETRY;
			util_strlcpy(r->code, "CB_NO_OUTCOME", sizeof(r->code));
		}
		if (r->outcome == SINK_RETRY && r->attempt >= r->max_attempts)
			r->outcome = SINK_DEAD;
		if (r->outcome == SINK_RETRY)
			ms = retry_delay_ms(&e->sched, r->attempt, r->retry_after_s,
			    (double)randombytes_uniform(10001) / 10000.0);
		else if (r->outcome == SINK_GIVE_BACK) {
			ms = r->retry_after_s > 0 ? r->retry_after_s * 1000LL : 1000;
			dec = 1;
		}
		if (r->outcome == SINK_RETRY || r->outcome == SINK_GIVE_BACK) {
			double due = eng_now_ms() + (double)ms;

			if (e->next_retry == 0 || due < e->next_retry)
				e->next_retry = due;
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "st", eng_state_of(r->outcome));
		if (r->outcome == SINK_DONE) {
			cJSON_AddNullToObject(o, "err");
			cJSON_AddRawToObject(o, "res", r->result[0] ? r->result : "{}");
		} else {
			char err[512];

			snprintf(err, sizeof(err), "%.63s (attempt %d of %d): %.399s", r->code, r->attempt,
			    r->max_attempts, r->error);
			cJSON_AddStringToObject(o, "err", err);
			cJSON_AddNullToObject(o, "res");
		}
		cJSON_AddNumberToObject(o, "ms", (double)ms);
		cJSON_AddNumberToObject(o, "dec", dec);
		cJSON_AddItemToArray(arr, o);
		switch (r->outcome) {
		case SINK_DONE: ndone++; break;
		case SINK_RETRY: nretry++; break;
		case SINK_DEAD: ndead++; break;
		default: nback++; break;
		}
	}
	if ((js = cJSON_PrintUnformatted(arr)) == NULL)
		util_oom();
	cJSON_Delete(arr);
	/*
	 * One statement: the outcomes, and the tenants' webhook events for
	 * submissions delivered or dead-lettered (lib/events.h: a webhook-id
	 * derived from the event, so a re-recorded outcome can never announce
	 * itself under a second id).
	 */
	rc = db_query(e->db, &res,
	    "WITH upd AS (UPDATE outbox o SET state = v.st, attempts = o.attempts - v.dec,"
	    "  run_after = CASE WHEN v.st = 'pending'"
	    "    THEN now() + make_interval(secs => v.ms / 1000.0) ELSE o.run_after END,"
	    "  last_error = v.err,"
	    "  result = CASE WHEN v.st = 'done' THEN v.res ELSE o.result END,"
	    "  done_at = CASE WHEN v.st = 'done' THEN now() ELSE o.done_at END,"
	    "  dead_at = CASE WHEN v.st = 'dead' THEN now() ELSE o.dead_at END,"
	    "  locked_by = NULL, locked_until = NULL"
	    " FROM jsonb_to_recordset($1::jsonb) AS v(id bigint, st text, err text, ms float8,"
	    "   res jsonb, dec int)"
	    " WHERE o.id = v.id AND o.locked_by = $2 AND o.state = 'running'"
	    " RETURNING o.id, o.org_id, o.state, o.kind, o.ref_id, o.result),"
	    " ev AS (" EVENTS_INSERT_FROM("(SELECT u.org_id, CASE u.state"
	    "   WHEN 'done' THEN '" EVENTS_SUBMISSION_DELIVERED "'"
	    "   ELSE '" EVENTS_SUBMISSION_DEAD "' END AS type, u.ref_id, u.id::text AS source_id,"
	    "   jsonb_strip_nulls(jsonb_build_object('submission_id', u.ref_id,"
	    "   'record_id', u.result->>'record_id')) AS data FROM upd u"
	    "   WHERE u.kind = 'salesforce.upsert' AND u.state IN ('done', 'dead'))") " RETURNING 1)"
	    " SELECT u.id, u.org_id::text, u.state, u.kind, (SELECT count(*) FROM ev)"
	    " FROM upd u", 2,
	    (const char *[]){ js, e->me });
	free(js);
	if (rc != CB_OK) {
		cJSON_Delete(orgs);
		return rc == CB_ERR_DB_DOWN ? -1 : 0;
	}
	for (i = 0; i < db_rows(res); i++) {
		const char *org = db_isnull(res, i, 1) ? NULL : db_val(res, i, 1);
		const cJSON *x;
		int seen = 0;

		if (strcmp(db_val(res, i, 2), "dead") != 0)
			continue;
		log_kv(LOG_LVL_ERROR, "outbox_dead_letter", "outbox_id", db_val(res, i, 0),
		    "kind", db_val(res, i, 3), NULL);
		if (org == NULL)
			continue;
		cJSON_ArrayForEach(x, orgs)
			if (strcmp(x->valuestring, org) == 0)
				seen = 1;
		if (!seen)
			cJSON_AddItemToArray(orgs, cJSON_CreateString(org));
	}
	/* Events written: look for due rows at once, not at the next sweep. */
	if (db_rows(res) > 0 && strcmp(db_val(res, 0, 4), "0") != 0)
		e->next_retry = eng_now_ms();
	if (db_rows(res) < eb->b.n)
		log_kv(LOG_LVL_WARN, "outbox_outcome_stale", "sink", eb->es->sink->name,
		    "note", "some rows were taken back while in flight", NULL);
	db_res_free(res);
	snprintf(c1, sizeof(c1), "%zu", ndone);
	snprintf(c2, sizeof(c2), "%zu", nretry);
	snprintf(c3, sizeof(c3), "%zu", ndead);
	snprintf(c4, sizeof(c4), "%zu", nback);
	log_kv(nretry + ndead + nback ? LOG_LVL_WARN : LOG_LVL_INFO, "outbox_batch",
	    "sink", eb->es->sink->name, "done", c1, "retry", c2, "dead", c3, "given_back", c4,
	    NULL);
	for (i = 0; i < eb->b.n; i++)
		if (eb->b.rows[i].outcome == SINK_RETRY)
			log_kv(LOG_LVL_WARN, "outbox_retry", "outbox_id", eb->b.rows[i].id,
			    "kind", eb->b.rows[i].kind, "error_code", eb->b.rows[i].code, NULL);
	if (cJSON_GetArraySize(orgs) > 0)
		eng_dead_alerts(e, orgs);
	cJSON_Delete(orgs);
	return 0;
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
		eb->es->sink->start(eb->es->state, &eb->b);
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
	struct sigaction sa;
	struct pollfd	 pfd;
	double		 now, stop_at = 0;
	int		 wait_ms, got, ready, down_ms = 100, fd, full, room;
	size_t		 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = eng_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
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
