/*
 * Delivery to Salesforce under faults: the real worker drains the real
 * outbox into the bundled fake Salesforce, whose faults are set at run time
 * through its control endpoints.  The stack runs with short clocks
 * (scripts/test.sh): backoff 100 ms, 4 attempts, 3 s leases.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "submit.h"

static struct seed	 s;
static char		 ctx[40], tok[64];

static void
setup(void)
{
	fakesf_clear();
	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
}

/* Submit once; the submission id into out. */
static void
submit(const char *key, char out[40])
{
	submit_form(s.form_id, tok, key, NULL, out);
}

START_TEST(delivered_once)
{
	char	 sub[40];
	long	 att = 0;

	submit("deliver-1", sub);
	ck_assert_msg(outbox_wait(sub, "done", 10000, &att, NULL, 0), "not delivered");
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_records(sub, NULL), 1);
	/* A replayed submit is not a second delivery. */
	submit("deliver-1", sub);
	test_sleep_ms(500);
	ck_assert_int_eq(fakesf_records(sub, NULL), 1);
}
END_TEST

START_TEST(retry_after_two_503)
{
	char	 sub[40];
	long	 att = 0, upserts = 0, served = fakesf_stat("faults_served");

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,\"count\":2}");
	submit("retry-503", sub);
	ck_assert_msg(outbox_wait(sub, "done", 15000, &att, NULL, 0), "not delivered");
	ck_assert_int_eq(att, 3);
	ck_assert_int_eq(fakesf_stat("faults_served") - served, 2);
	ck_assert_int_eq(fakesf_records(sub, &upserts), 1);
	ck_assert_int_eq(upserts, 1);
}
END_TEST

START_TEST(token_reminted_after_401)
{
	char		 sub[40];
	long		 att = 0, tokens;

	/* Make sure a token is cached first, then revoke every token. */
	submit("warm-up", sub);
	ck_assert(outbox_wait(sub, "done", 10000, NULL, NULL, 0));
	tokens = fakesf_stat("token_requests");
	fakesf_revoke_tokens();

	submit("after-401", sub);
	ck_assert_msg(outbox_wait(sub, "done", 10000, &att, NULL, 0), "not delivered");
	/* Re-minted once within the same attempt: no retry was spent. */
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_stat("token_requests") - tokens, 1);
	ck_assert_int_eq(fakesf_records(sub, NULL), 1);
}
END_TEST

START_TEST(permanent_400_is_dead_lettered)
{
	char	 sub[40], err[400];
	long	 att = 0;

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"count\":50}");
	submit("permanent-400", sub);
	ck_assert_msg(outbox_wait(sub, "dead", 10000, &att, err, sizeof(err)), "not dead-lettered");
	ck_assert_ptr_nonnull(strstr(err, "FIELD_CUSTOM_VALIDATION_EXCEPTION"));
	ck_assert_ptr_nonnull(strstr(err, "400"));
	/* A permanent error is not retried: the quota is not burnt on it. */
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_records(sub, NULL), 0);
}
END_TEST

START_TEST(persistent_503_dead_after_max_attempts)
{
	char	 sub[40], err[400];
	long	 att = 0;

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,\"count\":1000}");
	submit("persistent-503", sub);
	ck_assert_msg(outbox_wait(sub, "dead", 20000, &att, err, sizeof(err)), "not dead-lettered");
	ck_assert_int_eq(att, 4);
	ck_assert_ptr_nonnull(strstr(err, "503"));
	ck_assert_int_eq(fakesf_records(sub, NULL), 0);
}
END_TEST

START_TEST(dropped_connection_is_retried)
{
	char	 sub[40];
	long	 att = 0, served = fakesf_stat("faults_served");

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"drop\",\"count\":1}");
	submit("dropped", sub);
	ck_assert_msg(outbox_wait(sub, "done", 10000, &att, NULL, 0), "not delivered");
	ck_assert_int_eq(fakesf_stat("faults_served") - served, 1);
	/*
	 * libcurl re-sends at once on a fresh connection when a reused one
	 * dies unanswered (safe: an upsert by external id is idempotent), so
	 * the drop costs at most one outbox attempt.
	 */
	ck_assert_int_le(att, 2);
	ck_assert_int_eq(fakesf_records(sub, NULL), 1);
}
END_TEST

START_TEST(worker_killed_mid_batch)
{
	char		 subs[5][40], key[32], pidfile[512], cmd[1024], out[4096];
	long		 master, upserts;
	int		 i;

	/* Slow upserts so the kill lands while rows are leased. */
	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"latency\",\"latency_ms\":700,\"count\":3}");
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "kill-%d", i);
		submit(key, subs[i]);
	}
	ck_assert(outbox_wait(subs[0], "running", 5000, NULL, NULL, 0) ||
	    outbox_wait(subs[1], "running", 5000, NULL, NULL, 0));
	snprintf(pidfile, sizeof(pidfile), "%s/cb-worker.pid", test_env("CB_RUN_DIR"));
	master = test_pidfile(pidfile);
	ck_assert_int_gt(master, 0);
	/* The whole worker, master and duties, at once: no chance to clean up. */
	ck_assert_int_eq(kill((pid_t)-master, SIGKILL), 0);
	test_sleep_ms(300);
	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh restart-worker 2>&1", test_env("CB_REPO"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "restart-worker: %s", out);

	for (i = 0; i < 5; i++) {
		ck_assert_msg(outbox_wait(subs[i], "done", 20000, NULL, NULL, 0),
		    "submission %d not delivered after the restart", i);
		upserts = 0;
		ck_assert_int_eq(fakesf_records(subs[i], &upserts), 1);
		ck_assert_int_ge(upserts, 1);
	}
}
END_TEST

static Suite *
delivery_suite(void)
{
	Suite	*su = suite_create("delivery");
	TCase	*tc = tcase_create("faults");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, delivered_once);
	tcase_add_test(tc, retry_after_two_503);
	tcase_add_test(tc, token_reminted_after_401);
	tcase_add_test(tc, permanent_400_is_dead_lettered);
	tcase_add_test(tc, persistent_503_dead_after_max_attempts);
	tcase_add_test(tc, dropped_connection_is_retried);
	tcase_add_test(tc, worker_killed_mid_batch);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(delivery_suite());
}
