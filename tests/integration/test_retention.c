/*
 * Retention through the real stack: the worker's retention duty runs every
 * second here (scripts/test.sh) with the production lifetimes, and rows
 * are made old by moving their timestamps back.  Rows past their lifetime
 * go (expired idempotency keys, delivered and discarded outbox rows,
 * finished commands of expired contexts, contexts long expired with their
 * commands and submissions, dead refresh-token families); rows inside it
 * and rows still needed stay (pending and dead deliveries and the
 * contexts whose submissions they deliver, live contexts' finished commands,
 * unfinished commands, live token families).  A replay after its key was
 * purged is a new request; a big purge never makes a submit wait; the
 * refresh child count is an index lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"
#include "outbox.h"
#include "people.h"
#include "seed.h"
#include "stacklog.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

/* Rounds run every second: a row due to go is gone well within this. */
#define GONE_MS		20000

static long
count_of(const char *sql, const char *id)
{
	return testdb_long(sql, 1, (const char *[]){ id });
}

/* Wait until the query (one parameter) counts zero; 1 if it did within ms. */
static int
wait_zero(const char *sql, const char *id, int ms)
{
	int	 waited;

	for (waited = 0; waited <= ms; waited += 200) {
		if (count_of(sql, id) == 0)
			return 1;
		test_sleep_ms(200);
	}
	return 0;
}

#define CTX_N		"SELECT count(*) FROM contexts WHERE id = $1::uuid"
#define SUB_N		"SELECT count(*) FROM submissions WHERE id = $1::uuid"
#define CMD_N		"SELECT count(*) FROM commands WHERE id = $1::uuid"
#define CTX_CMDS_N	"SELECT count(*) FROM commands WHERE ctx_id = $1::uuid"
#define OUTBOX_N	"SELECT count(*) FROM outbox WHERE id = $1::bigint"
#define OUTBOX_REF_N	"SELECT count(*) FROM outbox WHERE ref_id = $1::uuid"
#define IDEM_N		"SELECT count(*) FROM idempotency_keys WHERE idem_key = $1"
#define FAMILY_N	"SELECT count(*) FROM refresh_tokens WHERE user_id = $1::uuid"

static void
expect_gone(const char *what, const char *sql, const char *id)
{
	ck_assert_msg(wait_zero(sql, id, GONE_MS), "%s %s is still there", what, id);
}

static void
expect_kept(const char *what, const char *sql, const char *id, long n)
{
	long	 got = count_of(sql, id);

	ck_assert_msg(got == n, "%s %s: %ld rows, want %ld", what, id, got, n);
}

/* A command on ctx through the real route (202); its id into out. */
static void
command(const struct seed *s, const char *ctx, const char *nonce, char out[40])
{
	struct http_resp r;
	char		 path[160], a[128], body[256];
	const char	*h[] = { "Content-Type: application/json", a, NULL };

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", s->api_key);
	snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"%s\"}",
	    nonce);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "command: %ld %s", r.status, r.body);
	util_strlcpy(out, http_json_str(&r, "id"), 40);
	http_free(&r);
}

/* A finished command, finished `ago` (an SQL interval) ago. */
static void
finish(const char *cmd, const char *ago)
{
	testdb_exec("UPDATE commands SET state = 'applied', finished_at = now() - $2::interval"
	    " WHERE id = $1::uuid", 2, (const char *[]){ cmd, ago });
}

static void
expire_ctx(const char *ctx, const char *ago)
{
	testdb_exec("UPDATE contexts SET expires_at = now() - $2::interval WHERE id = $1::uuid",
	    2, (const char *[]){ ctx, ago });
}

/* An outbox row of the org in a given state, its timestamps `ago` back; id into out. */
static void
outbox_row(const char *org, const char *state, const char *ago, char out[24])
{
	testdb_one(NULL, out, 24, "INSERT INTO outbox (org_id, kind, ref_id, payload, state,"
	    " created_at, run_after, done_at, dead_at)"
	    " VALUES ($1::bigint, 'salesforce.upsert', gen_random_uuid(), '{}'::jsonb, $2,"
	    "  now() - $3::interval, now() + interval '1 day',"
	    "  CASE WHEN $2 IN ('done', 'discarded') THEN now() - $3::interval END,"
	    "  CASE WHEN $2 = 'dead' THEN now() - $3::interval END) RETURNING id", 3,
	    (const char *[]){ org, state, ago });
}

START_TEST(past_lifetime_gone_the_rest_kept)
{
	struct seed	 s;
	struct tuser	 u_dead, u_live, u_revoked;
	char		 org[24], tok[64], refresh[80], access[TOKSZ];
	char		 ctx_old[40], ctx_pending[40], ctx_dead[40], ctx_recent[40], ctx_live[40];
	char		 tok_old[64], tok_pending[64], tok_dead[64];
	char		 sub_old[40], sub_pending[40], sub_dead[40];
	char		 c_old[40], c_recent_old[40], c_recent_new[40], c_recent_queued[40];
	char		 c_live_old[40], c_pending[40];
	char		 o_done_old[24], o_done_new[24], o_disc_old[24], o_pend_old[24], o_dead_old[24];
	char		 key_old[64], key_live[64], *line = NULL, path[512];
	int		 failed0;

	/* Batches that failed before (another suite restarting Postgres) are not ours. */
	stacklog_path("cb-worker", path, sizeof(path));
	failed0 = stacklog_lines(path, "retention_batch_failed", NULL, NULL);
	seed_tenant(&s);
	seed_context(s.form_id, ctx_old, tok_old);
	seed_context(s.form_id, ctx_pending, tok_pending);
	seed_context(s.form_id, ctx_dead, tok_dead);
	seed_context(s.form_id, ctx_recent, tok);
	seed_context(s.form_id, ctx_live, tok);
	testdb_val(org, sizeof(org), "SELECT org_id FROM contexts WHERE id = $1::uuid", 1,
	    (const char *[]){ ctx_old });

	/* Submissions, delivered by the worker to the fake Salesforce. */
	snprintf(key_old, sizeof(key_old), "ret-old-%s", s.slug);
	snprintf(key_live, sizeof(key_live), "ret-live-%s", s.slug);
	submit_form(s.form_id, tok_old, key_old, NULL, sub_old);
	submit_form(s.form_id, tok_pending, key_live, NULL, sub_pending);
	submit_form(s.form_id, tok_dead, "ret-dead", NULL, sub_dead);
	ck_assert(outbox_wait(sub_old, "done", 20000, NULL, NULL, 0));
	ck_assert(outbox_wait(sub_pending, "done", 20000, NULL, NULL, 0));
	ck_assert(outbox_wait(sub_dead, "done", 20000, NULL, NULL, 0));
	/* One delivery back to pending (not due for a day), one dead letter. */
	testdb_exec("UPDATE outbox SET state = 'pending', done_at = NULL,"
	    " run_after = now() + interval '1 day' WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub_pending });
	testdb_exec("UPDATE outbox SET state = 'dead', done_at = NULL,"
	    " dead_at = now() - interval '30 days' WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub_dead });
	testdb_exec("UPDATE outbox SET done_at = now() - interval '30 days' WHERE ref_id = $1::uuid",
	    1, (const char *[]){ sub_old });

	/* Commands, finished long ago or recently, or not at all. */
	command(&s, ctx_old, "ret-nonce-old-1", c_old);
	command(&s, ctx_pending, "ret-nonce-pend-1", c_pending);
	command(&s, ctx_recent, "ret-nonce-rec-1", c_recent_old);
	command(&s, ctx_recent, "ret-nonce-rec-2", c_recent_new);
	command(&s, ctx_recent, "ret-nonce-rec-3", c_recent_queued);
	command(&s, ctx_live, "ret-nonce-live-1", c_live_old);
	finish(c_old, "30 days");
	finish(c_pending, "30 days");
	finish(c_recent_old, "2 days");
	finish(c_recent_new, "1 hour");
	finish(c_live_old, "30 days");

	/* Outbox rows of every state, old and new. */
	outbox_row(org, "done", "30 days", o_done_old);
	outbox_row(org, "done", "1 hour", o_done_new);
	outbox_row(org, "discarded", "30 days", o_disc_old);
	outbox_row(org, "pending", "30 days", o_pend_old);
	outbox_row(org, "dead", "30 days", o_dead_old);

	/* Refresh-token families: one expired (with a child), one live, one revoked. */
	new_user(s.slug, "viewer", &u_dead);
	new_user(s.slug, "viewer", &u_live);
	new_user(s.slug, "viewer", &u_revoked);
	reset_limits(NULL, NULL);
	login_ok(&u_dead, access, refresh);
	login_ok(&u_live, access, refresh);
	login_ok(&u_revoked, access, refresh);
	testdb_exec("INSERT INTO refresh_tokens (org_id, user_id, family_id, parent_id, token_hash,"
	    " expires_at, idle_expires_at)"
	    " SELECT org_id, user_id, family_id, id, sha256(convert_to(id::text, 'UTF8')),"
	    "  expires_at, idle_expires_at FROM refresh_tokens WHERE user_id = $1::uuid", 1,
	    (const char *[]){ u_dead.id });
	ck_assert_int_eq(count_of(FAMILY_N, u_dead.id), 2);
	testdb_exec("UPDATE refresh_tokens SET expires_at = now() - interval '30 days',"
	    " idle_expires_at = now() - interval '30 days' WHERE user_id = $1::uuid", 1,
	    (const char *[]){ u_dead.id });
	testdb_exec("UPDATE refresh_tokens SET revoked_at = now() - interval '30 days'"
	    " WHERE user_id = $1::uuid", 1, (const char *[]){ u_revoked.id });

	/* The idempotency key of the old submission is past its expiry. */
	testdb_exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
	    " WHERE idem_key = $1", 1, (const char *[]){ key_old });

	/* Last, the contexts: long expired, or an hour ago (inside the grace). */
	expire_ctx(ctx_old, "30 days");
	expire_ctx(ctx_pending, "30 days");
	expire_ctx(ctx_dead, "30 days");
	expire_ctx(ctx_recent, "1 hour");

	/* Gone. */
	expect_gone("idempotency key", IDEM_N, key_old);
	expect_gone("outbox row (done, old)", OUTBOX_N, o_done_old);
	expect_gone("outbox row (discarded, old)", OUTBOX_N, o_disc_old);
	expect_gone("outbox row of the old submission", OUTBOX_REF_N, sub_old);
	expect_gone("context (long expired)", CTX_N, ctx_old);
	expect_gone("its submission", SUB_N, sub_old);
	expect_gone("its command", CMD_N, c_old);
	expect_gone("finished command of an expired context", CMD_N, c_recent_old);
	expect_gone("finished command of a context kept for its delivery", CMD_N, c_pending);
	expect_gone("expired refresh family", FAMILY_N, u_dead.id);
	expect_gone("revoked refresh family", FAMILY_N, u_revoked.id);

	/* Two more rounds, then what must stay is still there. */
	test_sleep_ms(2500);
	expect_kept("idempotency key (live)", IDEM_N, key_live, 1);
	expect_kept("outbox row (done, recent)", OUTBOX_N, o_done_new, 1);
	expect_kept("outbox row (pending, old)", OUTBOX_N, o_pend_old, 1);
	expect_kept("outbox row (dead, old)", OUTBOX_N, o_dead_old, 1);
	expect_kept("context with a pending delivery", CTX_N, ctx_pending, 1);
	expect_kept("its submission", SUB_N, sub_pending, 1);
	expect_kept("its pending delivery", OUTBOX_REF_N, sub_pending, 1);
	expect_kept("context with a dead letter", CTX_N, ctx_dead, 1);
	expect_kept("its submission", SUB_N, sub_dead, 1);
	expect_kept("context inside the grace", CTX_N, ctx_recent, 1);
	expect_kept("recently finished command", CMD_N, c_recent_new, 1);
	expect_kept("unfinished command", CMD_N, c_recent_queued, 1);
	expect_kept("live context", CTX_N, ctx_live, 1);
	expect_kept("old finished command of a live context", CMD_N, c_live_old, 1);
	expect_kept("live refresh family", FAMILY_N, u_live.id, 1);

	/* One line per round, counts only; no batch failed. */
	ck_assert_int_gt(stacklog_lines(path, "retention_round", "\"errors\":\"0\"", &line), 0);
	ck_assert_ptr_nonnull(strstr(line, "\"contexts\":"));
	ck_assert_ptr_nonnull(strstr(line, "\"refresh_tokens\":"));
	ck_assert_int_eq(stacklog_lines(path, "retention_round", "Jane", NULL), 0);
	ck_assert_int_eq(stacklog_lines(path, "retention_batch_failed", NULL, NULL), failed0);
	free(line);
}
END_TEST

/* Submit with key; status, submission id and whether it was a replay. */
static long
submit_raw(const char *form_id, const char *tok, const char *key, char id[40], int *replayed)
{
	struct http_resp r;
	char		 p[160], a[128], k[160], body[256];
	const char	*h[] = { "Content-Type: application/json", a, k, NULL };
	const char	*rep;
	long		 st;

	snprintf(p, sizeof(p), "/api/v1/forms/%s/submit", form_id);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
	/* The content follows the key: one key, one content (never a duplicate). */
	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Jane %s\","
	    "\"email\":\"jane@example.com\"}}", key);
	http_do("POST", p, h, body, strlen(body), &r);
	st = r.status;
	util_strlcpy(id, http_json_str(&r, "submission_id") ? http_json_str(&r, "submission_id") :
	    "", 40);
	rep = http_header(&r, "Idempotent-Replayed");
	*replayed = rep != NULL && strcmp(rep, "true") == 0;
	http_free(&r);
	return st;
}

START_TEST(replay_after_purge_is_a_new_request)
{
	struct seed	 s;
	char		 ctx[40], tok[64], key[64], id1[40], id2[40], id3[40];
	int		 replayed;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(key, sizeof(key), "ret-replay-%s", s.slug);
	ck_assert_int_eq(submit_raw(s.form_id, tok, key, id1, &replayed), 201);
	ck_assert(!replayed);
	ck_assert_int_eq(submit_raw(s.form_id, tok, key, id2, &replayed), 201);
	ck_assert(replayed);
	ck_assert_str_eq(id1, id2);
	/* A day later: the key and the de-duplication digest are both past their time. */
	testdb_exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
	    " WHERE idem_key = $1", 1, (const char *[]){ key });
	testdb_exec("UPDATE submission_digests SET created_at = now() - interval '1 day'"
	    " WHERE ctx_id = $1::uuid", 1, (const char *[]){ ctx });
	expect_gone("idempotency key", IDEM_N, key);
	expect_gone("submission digest", "SELECT count(*) FROM submission_digests"
	    " WHERE ctx_id = $1::uuid", ctx);
	/* The key is free again: a new submission, not the stored answer. */
	ck_assert_int_eq(submit_raw(s.form_id, tok, key, id3, &replayed), 201);
	ck_assert(!replayed);
	ck_assert_str_ne(id3, id1);
	ck_assert_int_eq(count_of(SUB_N, id1), 1);
	ck_assert_int_eq(count_of(SUB_N, id3), 1);
}
END_TEST

#define BULK_N	"20000"

/*
 * 20,000 expired keys take the duty many batches; submits made meanwhile
 * never wait on a lock and stay fast.  And the purge is paced as set: at
 * most CB_RETAIN_BATCH rows a statement with CB_RETAIN_PAUSE_MS between
 * two statements, so it cannot finish sooner than (20,000 / batch - 1)
 * pauses (one unbounded statement would take well under a second).
 */
START_TEST(big_purge_never_blocks_submits)
{
	struct seed	 s;
	struct db	*db = testdb_open();
	char		 org[24], ctx[40], tok[64], key[64], id[40], scope[64];
	long		 left_start, left, lock_waits = 0, during = 0;
	double		 t0, ms, worst = 0, started;
	int		 i, replayed;
	long long	 batch, pause_ms, bulk;
	double		 floor_s, took_s;

	ck_assert_int_eq(util_parse_ll(test_env("CB_RETAIN_BATCH"), 10, 10000, &batch), CB_OK);
	ck_assert_int_eq(util_parse_ll(test_env("CB_RETAIN_PAUSE_MS"), 0, 10000, &pause_ms), CB_OK);
	ck_assert_int_eq(util_parse_ll(BULK_N, 1, 1000000, &bulk), CB_OK);
	floor_s = (double)(bulk / batch - 1) * (double)pause_ms / 1000.0;
	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	testdb_val(org, sizeof(org), "SELECT org_id FROM contexts WHERE id = $1::uuid", 1,
	    (const char *[]){ ctx });
	snprintf(scope, sizeof(scope), "bulk-%s", s.slug);
	testdb_exec("INSERT INTO idempotency_keys (org_id, scope, idem_key, method, path,"
	    " fingerprint, status, response, created_at, expires_at)"
	    " SELECT $1::bigint, $2, 'bulk-' || i, 'POST', '/bulk', '\\x00'::bytea, 201, '{}',"
	    "  now() - interval '2 days', now() - interval '1 day'"
	    " FROM generate_series(1, " BULK_N ") i", 2, (const char *[]){ org, scope });
	left_start = count_of("SELECT count(*) FROM idempotency_keys WHERE scope = $1", scope);
	ck_assert_int_gt(left_start, 1000);
	started = test_now_s();
	for (i = 0; i < 400; i++) {
		left = count_of("SELECT count(*) FROM idempotency_keys WHERE scope = $1", scope);
		if (left == 0)
			break;
		snprintf(key, sizeof(key), "bulk-submit-%d", i);
		t0 = test_now_s();
		ck_assert_int_eq(submit_raw(s.form_id, tok, key, id, &replayed), 201);
		ms = (test_now_s() - t0) * 1000.0;
		if (ms > worst)
			worst = ms;
		during++;
		lock_waits += testdb_long("SELECT count(*) FROM pg_stat_activity"
		    " WHERE wait_event_type = 'Lock' AND datname = current_database()", 0, NULL);
	}
	fprintf(stderr, "retention: %ld expired keys purged in %.1f s; %ld submits meanwhile,"
	    " slowest %.0f ms, lock waits seen %ld\n", left_start, test_now_s() - started,
	    during, worst, lock_waits);
	ck_assert_msg(wait_zero("SELECT count(*) FROM idempotency_keys WHERE scope = $1", scope,
	    60000), "the purge did not finish");
	took_s = test_now_s() - started;
	ck_assert_msg(took_s >= floor_s * 0.95, "%ld rows purged in %.2f s: faster than"
	    " %lld-row batches %lld ms apart allow (%.2f s)", left_start, took_s, batch, pause_ms, floor_s);
	/* The purge took many batches, and submits went on through it. */
	ck_assert_int_ge(during, 5);
	ck_assert_int_eq(lock_waits, 0);
	/* Loose: a submit that waited on a purge's lock would wait out lock timeouts. */
	ck_assert_msg(worst < 2000, "slowest submit during the purge: %.0f ms", worst);
	db_close(db);
}
END_TEST

/* The child count of every refresh is an index lookup, not a scan. */
START_TEST(refresh_child_count_uses_an_index)
{
	struct db	*db = testdb_open();
	struct db_res	*res = NULL;
	char		 plan[4096] = "";
	size_t		 i;

	ck_assert_int_eq(db_exec(db, "SET enable_seqscan = off", 0, NULL), CB_OK);
	ck_assert_int_eq(db_query(db, &res, "EXPLAIN SELECT count(*) FROM refresh_tokens k"
	    " WHERE k.parent_id = $1::uuid AND k.superseded_at IS NULL AND k.revoked_at IS NULL",
	    1, (const char *[]){ "00000000-0000-4000-8000-000000000000" }), CB_OK);
	for (i = 0; i < db_rows(res); i++) {
		size_t	 len = strlen(plan);

		snprintf(plan + len, sizeof(plan) - len, "%s\n", db_val(res, i, 0));
	}
	db_res_free(res);
	ck_assert_msg(strstr(plan, "refresh_tokens_parent") != NULL, "plan:\n%s", plan);
	db_close(db);
}
END_TEST

static Suite *
retention_suite(void)
{
	Suite	*su = suite_create("retention");
	TCase	*tc = tcase_create("duty");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, refresh_child_count_uses_an_index);
	tcase_add_test(tc, past_lifetime_gone_the_rest_kept);
	tcase_add_test(tc, replay_after_purge_is_a_new_request);
	tcase_add_test(tc, big_purge_never_blocks_submits);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(retention_suite());
}
