/*
 * Operators' alerts through the slack sink, into the bundled fake Slack
 * (its incoming webhook, CB_SLACK_WEBHOOK_URL set by the stack), and the
 * Salesforce sink's pause on a broken configuration.
 *
 * Rules proven here:
 *   - invalid_grant pauses the Salesforce sink: the row waits uncharged,
 *     /api/health/salesforce answers 503 naming the pause, one alert is
 *     posted however many probes fail, repeated OAuth failures add one more
 *     alert, and delivery resumes by itself once the grant works;
 *   - an organisation's third dead letter in 24 h posts one message naming
 *     it, with the counts and the action; the fourth posts nothing more;
 *   - Slack's 429 pauses the sink for Retry-After and the message arrives
 *     once; Slack's refusal of a message is a dead letter, not a retry loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "fakehooks.h"
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
	fakesf_clear();
	fakehooks_clear();
	outbox_pause(NULL, 0);
	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
}

static void
submit(const char *key, char out[40])
{
	submit_form(s.form_id, tok, key, NULL, out);
}

START_TEST(invalid_grant_pauses_alerts_once_and_resumes)
{
	struct http_resp r;
	char		 sub[40];
	long		 since = fakehooks_last_message(), att = -1;
	const cJSON	*pause;

	/* No usable token anywhere, and the login host refuses the grant. */
	fakesf_fault("{\"target\":\"token\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"invalid_grant\",\"message\":\"user hasn't approved this consumer\","
	    "\"count\":1000}");
	testdb_exec("DELETE FROM sf_tokens", 0, NULL);
	fakesf_revoke_tokens();
	submit("grant-1", sub);

	ck_assert_msg(fakehooks_wait_messages_with(since, "refused the JWT bearer grant", 1,
	    10000) == 1, "no invalid_grant alert");
	/* Paused, visible, and the row is not charged while it waits. */
	http_do("GET", "/api/health/salesforce", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	pause = cJSON_GetObjectItem(http_json(&r), "pause");
	ck_assert_ptr_nonnull(pause);
	ck_assert_str_eq(cJSON_GetObjectItem(pause, "reason")->valuestring, "invalid_grant");
	http_free(&r);
	ck_assert(outbox_wait(sub, "pending", 2000, &att, NULL, 0));
	ck_assert_int_eq(att, 0);

	/* Probes every 2 s go on failing: still one invalid_grant alert, and
	 * the fifth OAuth failure within the hour adds one more. */
	ck_assert_msg(fakehooks_wait_messages_with(since, "OAuth failures", 1, 20000) == 1,
	    "no OAuth failures alert");
	test_sleep_ms(3000);
	ck_assert_int_eq(fakehooks_messages_with(since, "refused the JWT bearer grant"), 1);
	ck_assert_int_eq(fakehooks_messages_with(since, "OAuth failures"), 1);
	ck_assert(outbox_wait(sub, "pending", 100, &att, NULL, 0));
	ck_assert_int_eq(att, 0);

	/* The connected app is fixed: delivery resumes by itself. */
	fakesf_clear();
	ck_assert_msg(outbox_wait(sub, "done", 15000, &att, NULL, 0), "not resumed");
	ck_assert_int_eq(att, 1);
	http_do("GET", "/api/health/salesforce", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "status"), "ok");
	ck_assert_str_eq(http_json_str(&r, "last_outcome"), "ok");
	http_free(&r);
}
END_TEST

START_TEST(third_dead_letter_alerts_once)
{
	char	 sub[40], key[32];
	long	 since = fakehooks_last_message();
	int	 i;

	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"count\":100}");
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "dlq-%d", i);
		submit(key, sub);
		ck_assert(outbox_wait(sub, "dead", 10000, NULL, NULL, 0));
	}
	test_sleep_ms(1000);
	ck_assert_int_eq(fakehooks_messages_with(since, s.slug), 0);
	submit("dlq-2", sub);
	ck_assert(outbox_wait(sub, "dead", 10000, NULL, NULL, 0));
	ck_assert_msg(fakehooks_wait_messages_with(since, s.slug, 1, 10000) == 1,
	    "no dead-letter alert");
	/* What it says: how many, which kind, a correlation id, what to do. */
	ck_assert_int_eq(fakehooks_messages_with(since, "3 dead letters in 24 h"), 1);
	ck_assert_int_eq(fakehooks_messages_with(since, "salesforce.upsert: 3"), 1);
	ck_assert_int_eq(fakehooks_messages_with(since, sub), 1);
	ck_assert_int_eq(fakehooks_messages_with(since, "dead-letters replay"), 1);
	/* The incident goes on: no second message. */
	submit("dlq-3", sub);
	ck_assert(outbox_wait(sub, "dead", 10000, NULL, NULL, 0));
	test_sleep_ms(1500);
	ck_assert_int_eq(fakehooks_messages_with(since, s.slug), 1);
}
END_TEST

START_TEST(slack_429_pauses_and_posts_once)
{
	char	 sub[40], key[32];
	long	 since = fakehooks_last_message();
	double	 t0;
	int	 i;

	fakehooks_fault("{\"target\":\"slack_webhook\",\"kind\":\"status\",\"status\":429,"
	    "\"retry_after_s\":2,\"count\":1}");
	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"INVALID_FIELD\",\"count\":100}");
	t0 = test_now_s();
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "slack429-%d", i);
		submit(key, sub);
		ck_assert(outbox_wait(sub, "dead", 10000, NULL, NULL, 0));
	}
	ck_assert_msg(fakehooks_wait_messages_with(since, s.slug, 1, 15000) == 1,
	    "alert never posted");
	/* Not before Retry-After, and exactly once. */
	ck_assert_msg(test_now_s() - t0 >= 2.0, "posted %.2f s after, before Retry-After",
	    test_now_s() - t0);
	test_sleep_ms(1000);
	ck_assert_int_eq(fakehooks_messages_with(since, s.slug), 1);
}
END_TEST

START_TEST(slack_refusal_is_dead_not_retried)
{
	struct outbox_sel	 sel = { .kind = "slack.alert", .text = "refused-by-slack" };
	struct outbox_row	 row;
	long			 calls;

	fakehooks_fault("{\"target\":\"slack_webhook\",\"kind\":\"error\","
	    "\"error\":\"invalid_payload\",\"count\":5}");
	calls = fakehooks_stat("slack_webhook_calls");
	testdb_exec("INSERT INTO alerts (kind, dedupe_key)"
	    " VALUES ('test', 'refusal-' || gen_random_uuid())", 0, NULL);
	testdb_exec("INSERT INTO outbox (kind, payload) VALUES ('slack.alert',"
	    " '{\"alert_id\":0,\"kind\":\"test\",\"text\":\"refused-by-slack\"}')", 0, NULL);
	outbox_wait_sel(&sel, "dead", 0, 10000, &row);
	ck_assert_str_eq(row.state, "dead");
	ck_assert_ptr_nonnull(strstr(row.error, "invalid_payload"));
	ck_assert_int_eq(row.attempts, 1);
	ck_assert_int_eq(fakehooks_stat("slack_webhook_calls") - calls, 1);
	/* The four uses left must not refuse a later suite's message on this stack. */
	fakehooks_clear();
}
END_TEST

static Suite *
alerts_suite(void)
{
	Suite	*su = suite_create("alerts");
	TCase	*tc = tcase_create("alerts");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, invalid_grant_pauses_alerts_once_and_resumes);
	tcase_add_test(tc, third_dead_letter_alerts_once);
	tcase_add_test(tc, slack_429_pauses_and_posts_once);
	tcase_add_test(tc, slack_refusal_is_dead_not_retried);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(alerts_suite());
}
