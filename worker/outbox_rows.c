/*
 * outbox_rows: the delivery engine's Postgres side (see worker/outbox.c for
 * the guarantees): registering the process with its backend, taking back
 * rows whose holder is gone or whose lease ran out, renewing leases, the
 * fair lease of one sink's due rows, and recording a batch's outcomes with
 * the tenants' webhook events and the dead-letter alerts in one statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alert.h"
#include "db.h"
#include "errs.h"
#include "events.h"
#include "jsonv.h"
#include "log.h"
#include "metrics.h"
#include "outbox_int.h"
#include "util.h"

/* Who we are to the other delivery processes: this session's backend. */
int
eng_register(struct engine *e)
{
	if (db_exec(e->db, "INSERT INTO delivery_workers (id, backend_pid, backend_start)"
	    " SELECT $1, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
	    " ON CONFLICT (id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid,"
	    "   backend_start = EXCLUDED.backend_start, seen_at = now()", 1,
	    (const char *[]){ e->me }) != CB_OK || db_affected(e->db) != 1)
		return -1;
	e->gen = db_generation(e->db);
	/* Registrations of processes long gone: once per session is enough. */
	(void)db_exec(e->db, "DELETE FROM delivery_workers w WHERE seen_at < now() - interval '1 day'"
	    " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.backend_pid"
	    "   AND a.backend_start = w.backend_start)", 0, NULL);
	log_kv(LOG_LVL_INFO, "outbox_registered", "worker", e->me, NULL);
	return 0;
}

/* Take back rows whose holder is gone or whose lease ran out. */
void
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
}

void
eng_renew(struct engine *e)
{
	char	 lease[24];

	snprintf(lease, sizeof(lease), "%lld", e->s->outbox_lease_s);
	(void)db_exec(e->db, "UPDATE outbox SET locked_until = now() + make_interval(secs => $2::int)"
	    " WHERE locked_by = $1 AND state = 'running'", 2, (const char *[]){ e->me, lease });
	(void)db_exec(e->db, "UPDATE delivery_workers SET seen_at = now() WHERE id = $1", 1,
	    (const char *[]){ e->me });
}

/*
 * Lease up to `want` (at most ENGINE_LEASE_CAP) rows of one sink, fairly
 * across tenants; returns rows leased, -1 if Postgres is away.  Nothing of
 * a tenant while the pause that holds it is on: the sink's, or its own
 * Salesforce connection's (sink_scope in sql/0017; the check is a filter
 * per tenant: its scan does not even start).  Rows of
 * a kind no sink here knows are left alone: a newer worker's.
 */
int
eng_lease(struct engine *e, struct eng_sink *want_sink, int want)
{
	struct db_res	*res = NULL;
	char		 lease[24], lim[24];
	size_t		 i, n;
	struct eng_sink	*es;

	snprintf(lease, sizeof(lease), "%lld", e->s->outbox_lease_s);
	snprintf(lim, sizeof(lim), "%d", want);
	if (db_query(e->db, &res,
	    "WITH c AS ("
	    "  SELECT x.id, x.rn FROM orgs g CROSS JOIN LATERAL ("
	    "    SELECT i.id, row_number() OVER () AS rn FROM ("
	    "      SELECT o.id FROM outbox o WHERE o.org_id = g.id AND o.state = 'pending'"
	    "        AND o.run_after <= now() AND split_part(o.kind, '.', 1) = $4"
	    "        AND NOT EXISTS (SELECT 1 FROM sink_pauses p WHERE p.sink = sink_scope($4, g.id)"
	    "          AND p.until > now())"
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
	    "   coalesce(o.ref_id::text, ''), o.payload_sealed, c.rn, o.trace,"
	    "   floor(extract(epoch FROM o.created_at))::bigint", 4,
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
/*
 * The trace ids of the batch's rows other than its first traced row's
 * (the one its calls sent), distinct, comma-separated, at most
 * ENG_OTHER_TRACES of them: "" when the batch served one trace.
 */
#define ENG_OTHER_TRACES	8
static void
eng_other_traces(const struct sink_batch *b, char *out, size_t outsz)
{
	const char	*first = NULL, *id;
	size_t		 i, n = 0, len = 0;

	out[0] = '\0';
	for (i = 0; i < b->n && n < ENG_OTHER_TRACES; i++) {
		if (b->rows[i].trace[0] == '\0')
			continue;
		id = b->rows[i].trace + 3;	/* "00-" then the 32-digit id */
		if (first == NULL) {
			first = id;
			continue;
		}
		if (strncmp(id, first, TRACE_ID_HEX) == 0 || memmem(out, len, id, TRACE_ID_HEX))
			continue;
		if (len + TRACE_ID_HEX + 2 > outsz)
			break;
		if (len > 0)
			out[len++] = ',';
		memcpy(out + len, id, TRACE_ID_HEX);
		len += TRACE_ID_HEX;
		out[len] = '\0';
		n++;
	}
}

int
eng_record(struct engine *e, struct eng_batch *eb)
{
	cJSON		*arr = cJSON_CreateArray(), *orgs = cJSON_CreateArray(), *o;
	struct db_res	*res = NULL;
	char		*js;
	size_t		 i, ndone = 0, nretry = 0, ndead = 0, nback = 0;
	unsigned	 sk;
	int		 rc;
	char		 c1[16], c2[16], c3[16], c4[16], others[ENG_OTHER_TRACES * 33 + 1];

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
	js = jv_take_text(arr);
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
	    " RETURNING o.id, o.org_id, o.state, o.kind, o.ref_id, o.result, o.trace),"
	    " ev AS (" EVENTS_INSERT_FROM("(SELECT u.org_id, CASE u.state"
	    "   WHEN 'done' THEN '" EVENTS_SUBMISSION_DELIVERED "'"
	    "   ELSE '" EVENTS_SUBMISSION_DEAD "' END AS type, u.ref_id, u.id::text AS source_id,"
	    "   jsonb_strip_nulls(jsonb_build_object('submission_id', u.ref_id,"
	    "   'record_id', u.result->>'record_id')) AS data, u.trace FROM upd u"
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
	sk = metrics_sink_of(eb->es->sink->name);
	metrics_add(MF_DELIVERIES, sk, MO_DONE, (int64_t)ndone);
	metrics_add(MF_DELIVERIES, sk, MO_RETRY, (int64_t)nretry);
	metrics_add(MF_DELIVERIES, sk, MO_DEAD, (int64_t)ndead);
	metrics_add(MF_DELIVERIES, sk, MO_GIVEN_BACK, (int64_t)nback);
	metrics_add(MF_DEAD_LETTERS, sk, 0, (int64_t)ndead);
	snprintf(c1, sizeof(c1), "%zu", ndone);
	snprintf(c2, sizeof(c2), "%zu", nretry);
	snprintf(c3, sizeof(c3), "%zu", ndead);
	snprintf(c4, sizeof(c4), "%zu", nback);
	/* The batch's line carries its trace id (eng_trace); the rows of other traces are named. */
	eng_trace(e, &eb->b);
	eng_other_traces(&eb->b, others, sizeof(others));
	log_kv(nretry + ndead + nback ? LOG_LVL_WARN : LOG_LVL_INFO, "outbox_batch",
	    "sink", eb->es->sink->name, "outbox_id", eb->b.n ? eb->b.rows[0].id : "",
	    "done", c1, "retry", c2, "dead", c3, "given_back", c4,
	    others[0] ? "other_trace_ids" : NULL, others, NULL);
	for (i = 0; i < eb->b.n; i++)
		if (eb->b.rows[i].outcome == SINK_RETRY) {
			struct trace	 t;

			(void)trace_parse(eb->b.rows[i].trace, &t);
			log_set_trace(t.id);
			log_kv(LOG_LVL_WARN, "outbox_retry", "outbox_id", eb->b.rows[i].id,
			    "kind", eb->b.rows[i].kind, "error_code", eb->b.rows[i].code, NULL);
		}
	eng_trace(e, NULL);
	if (cJSON_GetArraySize(orgs) > 0)
		eng_dead_alerts(e, orgs);
	cJSON_Delete(orgs);
	return 0;
}

