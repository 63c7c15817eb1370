/*
 * The delivery engine under load and faults: the real worker drains the
 * real outbox into the bundled fake Salesforce over sObject Collections.
 * The stack runs with short clocks (scripts/test.sh): the schedule
 * 0,100ms,200ms,400ms (four attempts), 3 s leases, a 2 s call timeout and a
 * 2 s configuration probe.
 *
 * Rules proven here:
 *   - rows of one object share a Collections call; one bad record is
 *     dead-lettered alone and the rest are delivered by the same call;
 *   - Retry-After is honoured, a timeout is retried, the schedule's delays
 *     are waited;
 *   - one tenant's flood does not delay another tenant's row;
 *   - kill -9 of the worker, a Postgres restart and a paused Redis lose and
 *     duplicate nothing: every submission that got a 201 is in the fake
 *     exactly once, within the time allowed after recovery;
 *   - two outbox processes mint one token between them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"

static struct seed	 s;
static char		 ctx[40], tok[64];

static void
setup(void)
{
	/* Whatever an earlier test left: no faults, no pause. */
	fakesf_clear();
	outbox_pause("salesforce", 0);
	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
}

static void
submit(const char *key, char out[40])
{
	submit_form(s.form_id, tok, key, NULL, out);
}

/* This tenant's outbox rows in any of these states ("{pending,running}"). */
static long
tenant_rows(const char *slug, const char *states)
{
	return testdb_long("SELECT count(*) FROM outbox o JOIN orgs g ON g.id = o.org_id"
	    " WHERE g.slug = $1 AND o.state = ANY ($2::text[])", 2,
	    (const char *[]){ slug, states });
}

/* Wait until none of this tenant's outbox rows is pending or running. */
static int
drained(const char *slug, int ms)
{
	int	 waited;

	for (waited = 0; waited <= ms; waited += 200) {
		if (tenant_rows(slug, "{pending,running}") == 0)
			return 1;
		test_sleep_ms(200);
	}
	return 0;
}

static void
pause_sf(int on)
{
	outbox_pause("salesforce", on);
}

START_TEST(one_bad_record_dead_alone)
{
	char	 subs[5][40], key[32], err[400], fault[256];
	long	 calls, att;
	int	 i, missing, dupes;

	/* Queue five while the sink is paused, so that one call carries them all. */
	pause_sf(1);
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "coll-%d", i);
		submit(key, subs[i]);
	}
	snprintf(fault, sizeof(fault), "{\"target\":\"collections\",\"kind\":\"record\","
	    "\"match\":\"%s\",\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"count\":5}",
	    subs[2]);
	fakesf_fault(fault);
	calls = fakesf_stat("collections_calls");
	pause_sf(0);
	ck_assert_msg(outbox_wait(subs[2], "dead", 10000, &att, err, sizeof(err)), "not dead");
	ck_assert_int_eq(att, 1);
	ck_assert_ptr_nonnull(strstr(err, "FIELD_CUSTOM_VALIDATION_EXCEPTION"));
	for (i = 0; i < 5; i++)
		if (i != 2)
			ck_assert_msg(outbox_wait(subs[i], "done", 10000, &att, NULL, 0),
			    "row %d not delivered", i);
	/* All five went in one call; the other four are in the fake once each. */
	ck_assert_int_eq(fakesf_stat("collections_calls") - calls, 1);
	fakesf_count(subs, 5, &missing, &dupes);
	ck_assert_int_eq(missing, 1);
	ck_assert_int_eq(dupes, 0);
}
END_TEST

START_TEST(lock_contention_retried_alone)
{
	char	 subs[3][40], key[32], fault[256];
	long	 att;
	int	 i;

	pause_sf(1);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "lock-%d", i);
		submit(key, subs[i]);
	}
	snprintf(fault, sizeof(fault), "{\"target\":\"collections\",\"kind\":\"record\","
	    "\"match\":\"%s\",\"error_code\":\"UNABLE_TO_LOCK_ROW\",\"count\":1}", subs[1]);
	fakesf_fault(fault);
	pause_sf(0);
	ck_assert(outbox_wait(subs[1], "done", 10000, &att, NULL, 0));
	ck_assert_int_eq(att, 2);
	ck_assert(outbox_wait(subs[0], "done", 10000, &att, NULL, 0));
	ck_assert_int_eq(att, 1);
	ck_assert(outbox_wait(subs[2], "done", 10000, &att, NULL, 0));
	ck_assert_int_eq(att, 1);
}
END_TEST

/* The pause's reason ("" when not paused). */
static void
pause_reason(char *out, size_t outsz)
{
	outbox_pause_reason("salesforce", out, outsz);
}

START_TEST(api_allocation_pauses_the_sink)
{
	char	 sub[40], sub2[40], reason[128];
	long	 att = -1;

	/* Past CB_SF_LIMIT_PAUSE_PCT (95%): the call that reads it still counts... */
	fakesf_api_usage(14300, 15000);
	submit("limit-near", sub);
	ck_assert(outbox_wait(sub, "done", 10000, NULL, NULL, 0));
	pause_reason(reason, sizeof(reason));
	ck_assert_str_eq(reason, "API allocation nearly spent");
	/* ...and the next row waits, uncharged. */
	submit("limit-wait", sub2);
	test_sleep_ms(2500);
	ck_assert(outbox_wait(sub2, "pending", 100, &att, NULL, 0));
	ck_assert_int_eq(att, 0);

	/* Out of calls: REQUEST_LIMIT_EXCEEDED pauses the sink, the row is given back. */
	pause_sf(0);
	fakesf_api_usage(15000, 15000);
	ck_assert(outbox_wait(sub2, "pending", 3000, &att, NULL, 0));
	test_sleep_ms(1500);
	pause_reason(reason, sizeof(reason));
	ck_assert_str_eq(reason, "REQUEST_LIMIT_EXCEEDED");
	ck_assert(outbox_wait(sub2, "pending", 100, &att, NULL, 0));
	ck_assert_int_eq(att, 0);

	/* A new day: the allocation is back, the pause lifted, the row goes. */
	fakesf_api_usage(0, 15000);
	pause_sf(0);
	ck_assert(outbox_wait(sub2, "done", 10000, &att, NULL, 0));
	ck_assert_int_eq(att, 1);
}
END_TEST

START_TEST(retry_after_is_honoured)
{
	char	 sub[40];
	long	 att = 0;
	double	 t0 = test_now_s();

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":429,"
	    "\"retry_after_s\":2,\"count\":1}");
	submit("retry-after", sub);
	/* After the 429 the row waits at least Retry-After, not the schedule's 100 ms. */
	ck_assert(outbox_wait(sub, "pending", 5000, NULL, NULL, 0));
	ck_assert_int_ge(testdb_long("SELECT (extract(epoch FROM run_after - now()) * 1000)::int"
	    " FROM outbox WHERE ref_id = $1::uuid", 1, (const char *[]){ sub }), 1200);
	ck_assert(outbox_wait(sub, "done", 10000, &att, NULL, 0));
	ck_assert_int_eq(att, 2);
	ck_assert_msg(test_now_s() - t0 >= 1.9, "delivered after %.2f s", test_now_s() - t0);
}
END_TEST

START_TEST(timeout_is_retried)
{
	char	 sub[40], err[400];
	long	 att = 0;

	/* Longer than CB_SF_TIMEOUT_MS (2 s): the first attempt times out. */
	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"latency\",\"latency_ms\":3500,\"count\":1}");
	submit("timeout", sub);
	ck_assert(outbox_wait(sub, "done", 15000, &att, err, sizeof(err)));
	ck_assert_int_eq(att, 2);
}
END_TEST

START_TEST(schedule_delays_are_waited)
{
	char	 sub[40], err[400];
	long	 att = 0;
	double	 t0 = test_now_s(), took;

	/* Three 503s: attempts 1-3 fail, the 4th succeeds after 100+200+400 ms (+-10%). */
	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,\"count\":3}");
	submit("schedule", sub);
	ck_assert(outbox_wait(sub, "done", 15000, &att, err, sizeof(err)));
	took = test_now_s() - t0;
	ck_assert_int_eq(att, 4);
	ck_assert_msg(took >= 0.63, "the three waits took %.3f s in all", took);
}
END_TEST

START_TEST(flood_does_not_delay_another_tenant)
{
	struct seed	 b;
	char		 bctx[40], btok[64], sub[40];
	double		 t0;
	long		 left;

	seed_tenant(&b);
	seed_context(b.form_id, bctx, btok);
	/* Tenant A floods: 20,000 rows at once, each call slowed to 1 s. */
	pause_sf(1);
	testdb_exec("INSERT INTO outbox (org_id, kind, ref_id, payload)"
	    " SELECT g.id, 'salesforce.upsert', u, jsonb_build_object('sobject', 'Form_Submission__c',"
	    "  'ext_field', 'Broker_Submission_Id__c', 'ext_value', u::text,"
	    "  'fields', jsonb_build_object('Full_Name__c', 'Flood ' || i))"
	    " FROM orgs g, (SELECT gen_random_uuid() AS u, i FROM generate_series(1, 20000) i) x"
	    " WHERE g.slug = $1", 1, (const char *[]){ s.slug });
	fakesf_fault("{\"target\":\"collections\",\"kind\":\"latency\",\"latency_ms\":1000,\"count\":1000}");
	pause_sf(0);
	test_sleep_ms(300);
	/* Tenant B submits one form while A's backlog is being drained. */
	t0 = test_now_s();
	submit_form(b.form_id, btok, "b-one", NULL, sub);
	ck_assert_msg(outbox_wait(sub, "done", 5000, NULL, NULL, 0),
	    "tenant B's row not delivered within 5 s of a flood by tenant A");
	left = tenant_rows(s.slug, "{pending,running}");
	/* B overtook A: A still had rows waiting when B's was done. */
	ck_assert_msg(left > 0, "A's flood drained before B's row (%.2f s): not a test of fairness",
	    test_now_s() - t0);
	fakesf_clear();
	ck_assert_msg(drained(s.slug, 60000), "A's flood not drained");
}
END_TEST

/* Submit n, slowly delivered; the ids into subs. */
static void
submit_many(const char *prefix, char (*subs)[40], int n)
{
	char	 key[64];
	int	 i;

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s-%d", prefix, i);
		submit(key, subs[i]);
	}
}

/* Every one delivered exactly once within ms; returns seconds taken. */
static double
all_delivered_once(char (*subs)[40], int n, int ms)
{
	double	 t0 = test_now_s();
	int	 missing, dupes;

	ck_assert_msg(drained(s.slug, ms), "rows still pending after %d ms", ms);
	fakesf_count(subs, n, &missing, &dupes);
	ck_assert_msg(missing == 0 && dupes == 0, "%d of %d missing, %d duplicated", missing, n,
	    dupes);
	ck_assert_int_eq(tenant_rows(s.slug, "{done}"), n);
	return test_now_s() - t0;
}

#define CHAOS_N	300

START_TEST(chaos_worker_killed)
{
	static char	 subs[CHAOS_N][40];
	char		 pidfile[512];
	long		 master;
	double		 took;

	fakesf_fault("{\"target\":\"collections\",\"kind\":\"latency\",\"latency_ms\":800,\"count\":20}");
	pause_sf(1);
	submit_many("kill9", subs, CHAOS_N);
	pause_sf(0);
	/* Wait until calls are in flight, then kill the whole worker at once. */
	ck_assert(outbox_wait(subs[0], "running", 5000, NULL, NULL, 0));
	snprintf(pidfile, sizeof(pidfile), "%s/cb-worker.pid", test_env("CB_RUN_DIR"));
	master = test_pidfile(pidfile);
	ck_assert_int_gt(master, 0);
	ck_assert_int_eq(kill((pid_t)-master, SIGKILL), 0);
	test_sleep_ms(200);
	test_stack("restart-worker");
	took = all_delivered_once(subs, CHAOS_N, 30000);
	fprintf(stderr, "chaos kill -9: %d submissions, all delivered once, %.1f s after restart\n",
	    CHAOS_N, took);
}
END_TEST

START_TEST(chaos_postgres_restarted)
{
	static char	 subs[CHAOS_N][40];
	double		 took;

	fakesf_fault("{\"target\":\"collections\",\"kind\":\"latency\",\"latency_ms\":800,\"count\":20}");
	pause_sf(1);
	submit_many("pgrestart", subs, CHAOS_N);
	pause_sf(0);
	ck_assert(outbox_wait(subs[0], "running", 5000, NULL, NULL, 0));
	test_stack("restart-postgres");
	took = all_delivered_once(subs, CHAOS_N, 60000);
	fprintf(stderr, "chaos postgres restart: %d submissions, all delivered once, %.1f s after\n",
	    CHAOS_N, took);
}
END_TEST

START_TEST(chaos_redis_paused)
{
	static char	 subs[CHAOS_N][40];
	double		 took;

	fakesf_fault("{\"target\":\"collections\",\"kind\":\"latency\",\"latency_ms\":500,\"count\":20}");
	pause_sf(1);
	submit_many("redispause", subs, CHAOS_N - 10);
	test_stack("pause-redis");
	pause_sf(0);
	/* Submissions go on while Redis is frozen (their wake-ups are lost). */
	submit_many("redispause-during", subs + CHAOS_N - 10, 10);
	test_sleep_ms(2000);
	test_stack("resume-redis");
	took = all_delivered_once(subs, CHAOS_N, 60000);
	fprintf(stderr, "chaos redis paused: %d submissions, all delivered once, %.1f s after\n",
	    CHAOS_N, took);
}
END_TEST

START_TEST(two_workers_one_mint)
{
	long	 mints0, left;
	int	 waited;

	test_stack("start-outbox2");
	/* No token anywhere: neither in the cache row nor valid at the fake. */
	testdb_exec("DELETE FROM sf_tokens", 0, NULL);
	fakesf_revoke_tokens();
	mints0 = fakesf_stat("token_requests");
	fakesf_fault("{\"target\":\"collections\",\"kind\":\"latency\",\"latency_ms\":200,\"count\":40}");
	testdb_exec("INSERT INTO outbox (org_id, kind, ref_id, payload)"
	    " SELECT g.id, 'salesforce.upsert', u, jsonb_build_object('sobject', 'Form_Submission__c',"
	    "  'ext_field', 'Broker_Submission_Id__c', 'ext_value', u::text,"
	    "  'fields', jsonb_build_object('Full_Name__c', 'Mint ' || i))"
	    " FROM orgs g, (SELECT gen_random_uuid() AS u, i FROM generate_series(1, 1000) i) x"
	    " WHERE g.slug = $1", 1, (const char *[]){ s.slug });
	for (waited = 0, left = 1; waited < 30000 && left > 0; waited += 200) {
		test_sleep_ms(200);
		left = tenant_rows(s.slug, "{pending,running,dead,discarded}");
	}
	test_stack("stop-outbox2");
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(fakesf_stat("token_requests") - mints0, 1);
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite	*su = suite_create("engine");
	TCase	*tc = tcase_create("batches");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, one_bad_record_dead_alone);
	tcase_add_test(tc, lock_contention_retried_alone);
	tcase_add_test(tc, retry_after_is_honoured);
	tcase_add_test(tc, timeout_is_retried);
	tcase_add_test(tc, schedule_delays_are_waited);
	tcase_add_test(tc, api_allocation_pauses_the_sink);
	suite_add_tcase(su, tc);

	tc = tcase_create("fairness");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, flood_does_not_delay_another_tenant);
	suite_add_tcase(su, tc);

	tc = tcase_create("chaos");
	tcase_set_timeout(tc, 180);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, chaos_worker_killed);
	tcase_add_test(tc, chaos_postgres_restarted);
	tcase_add_test(tc, chaos_redis_paused);
	tcase_add_test(tc, two_workers_one_mint);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(engine_suite());
}
