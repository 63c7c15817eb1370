/*
 * retention: the worker's retention duty.  Operational data that has served
 * its purpose is deleted, in small batches that never make a request wait:
 *
 *   idempotency_keys  past expires_at (set at write time from CB_IDEM_TTL_S);
 *   submission_digests past the de-duplication window (CB_SUBMIT_DEDUPE_S);
 *   outbox            delivered (done) or discarded rows, CB_RETAIN_OUTBOX_S
 *                     after done_at; pending, running and dead rows never;
 *   commands          finished (applied, failed, timeout, dead, denied)
 *                     commands of an expired context, CB_RETAIN_COMMANDS_S after they
 *                     finished (while a context lives, its commands are the
 *                     guard against a replayed nonce, so they stay);
 *   contexts          CB_RETAIN_CONTEXTS_S after expiry, with their commands
 *                     and submissions, unless a submission still has a
 *                     delivery pending, running or dead (a dead letter an
 *                     operator may replay): then the whole context stays;
 *   refresh_tokens    whole families, CB_RETAIN_REFRESH_S after the family
 *                     expired or was revoked;
 *   call_webhook_ids  a day after they were seen (the inbound call events'
 *                     replay cache: older messages fail their timestamp);
 *   by data class     each tenant's period per class of form field
 *                     (retention_class.c): expired fields out of
 *                     submissions, expired command values, call events.
 *
 * Why it never blocks traffic: each batch is one statement that picks at
 * most CB_RETAIN_BATCH rows with FOR UPDATE SKIP LOCKED (a row a request
 * holds is left for the next round), under this session's own short
 * statement_timeout and lock_timeout (CB_RETAIN_TIMEOUT_MS); the duty pauses
 * CB_RETAIN_PAUSE_MS between batches and moves on when a batch comes back
 * short.  A failed batch is logged and retried next round.
 *
 * One log line per round (retention_round) with the counts per table,
 * never a row's content.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "errs.h"
#include "log.h"
#include "util.h"
#include "worker.h"
#include "retention_class.h"

/* The rows a batch deleted: the first column of its one row, then extras. */
#define RET_COLS	3

struct ret_target {
	const char	*name;		/* log key (a table) */
	const char	*extra[RET_COLS - 1];	/* log keys of the other columns */
	size_t		 age;		/* offsetof(struct settings, ...), or AGE_NONE: 0 s */
	/* $1: the age in seconds past which a row goes; $2: the batch size. */
	const char	*sql;
};

#define AGE(f)		offsetof(struct settings, f)
#define AGE_NONE	((size_t)-1)

static const struct ret_target ret_targets[] = {
	{ "idempotency_keys", { NULL, NULL }, AGE_NONE,
	  "WITH d AS (DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY("
	  "   SELECT ctid FROM idempotency_keys"
	  "   WHERE expires_at < now() - make_interval(secs => $1::int)"
	  "   ORDER BY expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED)) RETURNING 1)"
	  " SELECT count(*) FROM d" },
	{ "outbox", { NULL, NULL }, AGE(retain_outbox_s),
	  "WITH d AS (DELETE FROM outbox WHERE id IN ("
	  "   SELECT id FROM outbox WHERE state IN ('done', 'discarded')"
	  "   AND done_at < now() - make_interval(secs => $1::int)"
	  "   ORDER BY done_at LIMIT $2::int FOR UPDATE SKIP LOCKED) RETURNING 1)"
	  " SELECT count(*) FROM d" },
	{ "commands", { NULL, NULL }, AGE(retain_commands_s),
	  "WITH d AS (DELETE FROM commands WHERE id IN ("
	  "   SELECT m.id FROM contexts c JOIN commands m ON m.ctx_id = c.id"
	  "   WHERE c.expires_at < now()"
	  "   AND m.state IN ('applied', 'failed', 'timeout', 'dead', 'denied')"
	  "   AND m.finished_at < now() - make_interval(secs => $1::int)"
	  "   LIMIT $2::int FOR UPDATE OF m SKIP LOCKED) RETURNING 1)"
	  " SELECT count(*) FROM d" },
	/*
	 * A context locked FOR UPDATE also keeps a concurrent insert of a
	 * command or submission referring to it out (its foreign-key check
	 * needs a share lock on the row): nothing new can hang off a context
	 * once it is picked.
	 */
	{ "contexts", { "context_commands", "submissions" }, AGE(retain_contexts_s),
	  "WITH c AS (SELECT x.id FROM contexts x"
	  "   WHERE x.expires_at < now() - make_interval(secs => $1::int)"
	  "   AND NOT EXISTS (SELECT 1 FROM submissions s JOIN outbox o ON o.ref_id = s.id"
	  "     AND o.state IN ('pending', 'running', 'dead') WHERE s.ctx_id = x.id)"
	  "   ORDER BY x.expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	  " dm AS (DELETE FROM commands WHERE ctx_id IN (SELECT id FROM c) RETURNING 1),"
	  " ds AS (DELETE FROM submissions WHERE ctx_id IN (SELECT id FROM c) RETURNING 1),"
	  " dc AS (DELETE FROM contexts WHERE id IN (SELECT id FROM c) RETURNING 1)"
	  " SELECT (SELECT count(*) FROM dc), (SELECT count(*) FROM dm),"
	  "   (SELECT count(*) FROM ds)" },
	/*
	 * A family goes whole (a child refers to its parent).  Its root is the
	 * row a rotation locks first (lib/refresh.c): a family being rotated
	 * is skipped.  Every token of a family shares its absolute expiry, and
	 * a revocation marks them all, so the root tells the family's end.
	 */
	{ "refresh_tokens", { NULL, NULL }, AGE(retain_refresh_s),
	  "WITH f AS (SELECT r.family_id FROM refresh_tokens r WHERE r.parent_id IS NULL"
	  "   AND least(r.expires_at, r.revoked_at) < now() - make_interval(secs => $1::int)"
	  "   ORDER BY least(r.expires_at, r.revoked_at) LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	  " d AS (DELETE FROM refresh_tokens WHERE family_id IN (SELECT family_id FROM f)"
	  "   RETURNING 1)"
	  " SELECT count(*) FROM d" },
	/* Past the de-duplication window a digest refuses nothing: it goes. */
	{ "submission_digests", { NULL, NULL }, AGE(submit_dedupe_s),
	  "WITH d AS (DELETE FROM submission_digests WHERE ctid = ANY (ARRAY("
	  "   SELECT ctid FROM submission_digests"
	  "   WHERE created_at < now() - make_interval(secs => $1::int)"
	  "   ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)) RETURNING 1)"
	  " SELECT count(*) FROM d" },
	/*
	 * The call events' replay cache: an id older than a day can come back
	 * only in a message its timestamp already refuses (5 minutes).
	 */
	{ "call_webhook_ids", { NULL, NULL }, AGE_NONE,
	  "WITH d AS (DELETE FROM call_webhook_ids WHERE ctid = ANY (ARRAY("
	  "   SELECT ctid FROM call_webhook_ids"
	  "   WHERE seen_at < now() - interval '1 day' - make_interval(secs => $1::int)"
	  "   ORDER BY seen_at LIMIT $2::int FOR UPDATE SKIP LOCKED)) RETURNING 1)"
	  " SELECT count(*) FROM d" },
};

#define RET_NTARGETS	(sizeof(ret_targets) / sizeof(ret_targets[0]))

static long long
ret_age(const struct settings *s, const struct ret_target *t)
{
	if (t->age == AGE_NONE)
		return 0;
	return *(const long long *)(const void *)((const char *)s + t->age);
}

/*
 * One target, batch after batch until one comes back short: the counts
 * into n[], CB_OK or the error of the batch that failed.
 */
static int
ret_purge(struct db *db, const struct settings *s, const struct ret_target *t,
    long long n[RET_COLS])
{
	struct db_res	*res = NULL;
	char		 age[24], lim[24];
	long long	 v, got;
	int		 rc = CB_OK, col;

	/* A moved clock (CB_RETAIN_CLOCK_S): now() - (age - moved) = (now() + moved) - age. */
	snprintf(age, sizeof(age), "%lld", ret_age(s, t) - s->retain_clock_s);
	snprintf(lim, sizeof(lim), "%lld", s->retain_batch);
	while (!worker_stop) {
		rc = db_query(db, &res, t->sql, 2, (const char *[]){ age, lim });
		if (rc != CB_OK)
			break;
		got = 0;
		for (col = 0; col < RET_COLS; col++) {
			v = 0;
			if (col == 0 || t->extra[col - 1] != NULL)
				(void)util_parse_ll(db_val(res, 0, col), 0, 1LL << 62, &v);
			n[col] += v;
			if (col == 0)
				got = v;
		}
		db_res_free(res);
		res = NULL;
		/* A short batch: nothing more is due (or the rest is locked). */
		if (got < s->retain_batch)
			break;
		duty_sleep(s->retain_pause_ms);
	}
	return rc;
}

/* The log line below names the seven targets and the two extra counts. */
_Static_assert(RET_NTARGETS == 7, "retention_round logs seven targets");

static void
ret_round(struct db *db, struct keyring *keys, const struct settings *s)
{
	long long	 n[RET_NTARGETS][RET_COLS], nc[RC_NTARGETS] = { 0 };
	const char	*failed;
	char		 v[RET_NTARGETS + 2][24], c[RC_NTARGETS][24], e[12], ms[24];
	double		 t0 = util_now_ms();
	size_t		 i;
	int		 errors = 0, rc = CB_OK;

	memset(n, 0, sizeof(n));
	for (i = 0; i < RET_NTARGETS && !worker_stop; i++) {
		rc = ret_purge(db, s, &ret_targets[i], n[i]);
		if (rc != CB_OK) {
			errors++;
			log_kv(LOG_LVL_WARN, "retention_batch_failed", "table", ret_targets[i].name,
			    "error", errs_name(rc), "sqlstate", db_sqlstate(db), NULL);
			/* Postgres is away: the other tables wait for the next round. */
			if (rc == CB_ERR_DB_DOWN)
				break;
		}
	}
	/* After the tables above: a context purged whole needs no stripping first. */
	if (!worker_stop && (errors == 0 || rc != CB_ERR_DB_DOWN) &&
	    (rc = retention_class_purge(db, keys, s, nc, &failed)) != CB_OK) {
		errors++;
		log_kv(LOG_LVL_WARN, "retention_batch_failed", "table", failed,
		    "error", errs_name(rc), "sqlstate", db_sqlstate(db), NULL);
	}
	for (i = 0; i < RC_NTARGETS; i++)
		snprintf(c[i], sizeof(c[i]), "%lld", nc[i]);
	for (i = 0; i < RET_NTARGETS; i++)
		snprintf(v[i], sizeof(v[i]), "%lld", n[i][0]);
	snprintf(v[RET_NTARGETS], sizeof(v[0]), "%lld", n[3][1]);
	snprintf(v[RET_NTARGETS + 1], sizeof(v[0]), "%lld", n[3][2]);
	snprintf(e, sizeof(e), "%d", errors);
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
	log_kv(errors ? LOG_LVL_WARN : LOG_LVL_INFO, "retention_round",
	    ret_targets[0].name, v[0], ret_targets[1].name, v[1], ret_targets[2].name, v[2],
	    ret_targets[3].name, v[3], ret_targets[3].extra[0], v[RET_NTARGETS],
	    ret_targets[3].extra[1], v[RET_NTARGETS + 1], ret_targets[4].name, v[4],
	    ret_targets[5].name, v[5], ret_targets[6].name, v[6],
	    "class_submissions", c[RC_SUBMISSIONS], "class_command_values", c[RC_COMMANDS],
	    "class_call_events", c[RC_CALL_EVENTS], "errors", e, "ms", ms, NULL);
}

int
retention_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct db		*db;

	duty_signals();

	db = db_open(s->pg_dsn);
	/* Its own session limits: a purge gives up long before a request would. */
	db_set_timeouts(db, (long)s->retain_timeout_ms, (long)s->retain_timeout_ms);
	log_kv(LOG_LVL_INFO, "retention_started", NULL);
	if (s->retain_clock_s != 0) {
		char	 v[24];

		/* A test's setting: never a quiet one. */
		snprintf(v, sizeof(v), "%lld", s->retain_clock_s);
		log_kv(LOG_LVL_WARN, "retention_clock_moved", "seconds", v, NULL);
	}
	while (!worker_stop) {
		ret_round(db, &w->keys, s);
		duty_sleep(s->retain_interval_s * 1000);
	}
	db_close(db);
	log_kv(LOG_LVL_INFO, "retention_stopped", NULL);
	return 0;
}
