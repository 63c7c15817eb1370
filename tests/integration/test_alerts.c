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
 *     once; Slack's refusal of a message is a dead letter, not a retry loop;
 *   - through the Web API (chat.postMessage with the bot token, a worker of
 *     its own): a message carries its row's id as metadata and its first
 *     attempt reads no history; a message Slack took whose answer was lost
 *     is found in conversations.history on the retry and not posted again,
 *     also when the worker was killed (-9) while Slack held the answer;
 *     with a channel name (no id to read the history by) it is posted
 *     again, and the log says why.
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
#include "stacklog.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

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

/* ------------------------------------------- the Web API (own worker) */

/* A slack.alert row with this text; its id. */
static void
alert_row(const char *text, char id[24])
{
	char		 payload[256];

	snprintf(payload, sizeof(payload), "{\"alert_id\":0,\"kind\":\"test\",\"text\":\"%s\"}",
	    text);
	testdb_val(id, 24, "INSERT INTO outbox (kind, payload) VALUES ('slack.alert', $1::jsonb)"
	    " RETURNING id", 1, (const char *[]){ payload });
}

/* The fake's messages since `since` with this text: how many; the last into *out. */
static int
messages_of(long since, const char *text, cJSON **out)
{
	cJSON		*arr = fakehooks_messages(since);
	const cJSON	*m, *t;
	int		 n = 0;

	*out = NULL;
	cJSON_ArrayForEach(m, arr) {
		t = cJSON_GetObjectItem(m, "text");
		if (!cJSON_IsString(t) || strcmp(t->valuestring, text) != 0)
			continue;
		n++;
		cJSON_Delete(*out);
		*out = cJSON_Duplicate(m, 1);
	}
	cJSON_Delete(arr);
	return n;
}

static const char *
metadata_id(const cJSON *m)
{
	const cJSON	*md = cJSON_GetObjectItem(m, "metadata");
	const cJSON	*t = cJSON_GetObjectItem(md, "event_type");
	const cJSON	*id = cJSON_GetObjectItem(cJSON_GetObjectItem(md, "event_payload"), "outbox_id");

	ck_assert_msg(cJSON_IsString(t) && strcmp(t->valuestring, "cb_outbox_row") == 0,
	    "no cb_outbox_row metadata");
	ck_assert(cJSON_IsString(id));
	return id->valuestring;
}

/*
 * The row `sel` done on its second attempt, its message once in Slack
 * (after `since`) with its id, and one history read more than `reads`.
 */
static void
found_not_posted_again(const struct outbox_sel *sel, long since, long reads, const char *id,
    int ms)
{
	struct outbox_row	 row;
	cJSON			*m;

	ck_assert(outbox_wait_sel(sel, "done", 2, ms, &row));
	ck_assert_int_eq(row.attempts, 2);
	ck_assert_int_eq(messages_of(since, sel->text, &m), 1);
	ck_assert_str_eq(metadata_id(m), id);
	cJSON_Delete(m);
	ck_assert_int_eq(fakehooks_stat("slack_history_calls") - reads, 1);
}

START_TEST(web_api_posts_once_with_its_id)
{
	struct outbox_sel	 sel = { .kind = "slack.alert", .text = "web-api-once" };
	struct outbox_row	 row;
	long			 since = fakehooks_last_message(), reads;
	char			 id[24];
	cJSON			*m;

	fakehooks_clear();
	reads = fakehooks_stat("slack_history_calls");
	alert_row("web-api-once", id);
	ck_assert(outbox_wait_sel(&sel, "done", 1, 10000, &row));
	ck_assert_int_eq(row.attempts, 1);
	ck_assert_int_eq(messages_of(since, "web-api-once", &m), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "via")->valuestring, "chat.postMessage");
	ck_assert_str_eq(cJSON_GetObjectItem(m, "channel")->valuestring, FAKEHOOKS_WEB_CHANNEL);
	ck_assert_str_eq(metadata_id(m), id);
	cJSON_Delete(m);
	/* A first attempt posts at once: no history read. */
	ck_assert_int_eq(fakehooks_stat("slack_history_calls"), reads);
}
END_TEST

START_TEST(web_api_lost_answer_found_not_posted_again)
{
	struct outbox_sel	 sel = { .kind = "slack.alert", .text = "web-api-lost" };
	long			 since = fakehooks_last_message(), reads;
	char			 id[24], found[64];

	fakehooks_clear();
	reads = fakehooks_stat("slack_history_calls");
	/* Slack takes the message and the answer never comes back. */
	fakehooks_fault("{\"target\":\"slack_api\",\"kind\":\"lost_answer\"}");
	alert_row("web-api-lost", id);
	/* Once in Slack, found there by its id: the retry read, and did not post. */
	found_not_posted_again(&sel, since, reads, id, 15000);
	testdb_val(found, sizeof(found), "SELECT result->>'found' FROM outbox WHERE id = $1::bigint",
	    1, (const char *[]){ id });
	ck_assert_str_eq(found, "conversations.history");
}
END_TEST

START_TEST(web_api_worker_killed_after_the_post_is_found)
{
	struct outbox_sel	 sel = { .kind = "slack.alert", .text = "web-api-killed" };
	long			 since = fakehooks_last_message(), reads;
	char			 id[24];

	fakehooks_clear();
	reads = fakehooks_stat("slack_history_calls");
	/* Slack takes the message and holds the answer while the worker dies. */
	fakehooks_fault("{\"target\":\"slack_api\",\"kind\":\"lost_answer\",\"latency_ms\":4000}");
	alert_row("web-api-killed", id);
	ck_assert_int_eq(fakehooks_wait_messages_with(since, "web-api-killed", 1, 10000), 1);
	test_kill_children("cb-worker");
	/* Its lease ends (CB_OUTBOX_LEASE_S), a new duty tries again: found, not posted. */
	found_not_posted_again(&sel, since, reads, id, 20000);
}
END_TEST

START_TEST(web_api_channel_name_posts_again)
{
	struct outbox_sel	 sel = { .kind = "slack.alert", .text = "web-api-named" };
	struct outbox_row	 row;
	long			 since = fakehooks_last_message(), reads;
	char			 id[24], path[512];
	cJSON			*m;
	int			 logged;

	fakehooks_worker_web_api("#alerts");
	stacklog_path("cb-worker", path, sizeof(path));
	logged = stacklog_lines(path, "slack_history_unchecked", NULL, NULL);
	fakehooks_clear();
	reads = fakehooks_stat("slack_history_calls");
	fakehooks_fault("{\"target\":\"slack_api\",\"kind\":\"lost_answer\"}");
	alert_row("web-api-named", id);
	ck_assert(outbox_wait_sel(&sel, "done", 2, 15000, &row));
	/* No id to read the history by: at least once, and said. */
	ck_assert_int_eq(messages_of(since, "web-api-named", &m), 2);
	cJSON_Delete(m);
	ck_assert_int_eq(fakehooks_stat("slack_history_calls"), reads);
	ck_assert_int_eq(stacklog_lines(path, "slack_history_unchecked", id, NULL), 1);
	ck_assert_int_gt(stacklog_lines(path, "slack_history_unchecked", NULL, NULL), logged);
}
END_TEST

static Suite *
alerts_suite(void)
{
	Suite	*su = suite_create("alerts");
	TCase	*tc = tcase_create("alerts");
	TCase	*tw = tcase_create("web api");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, invalid_grant_pauses_alerts_once_and_resumes);
	tcase_add_test(tc, third_dead_letter_alerts_once);
	tcase_add_test(tc, slack_429_pauses_and_posts_once);
	tcase_add_test(tc, slack_refusal_is_dead_not_retried);
	suite_add_tcase(su, tc);

	/* Its own worker, posting through the fake's Web API; the hook again after. */
	tcase_set_timeout(tw, 90);
	tcase_add_unchecked_fixture(tw, fakehooks_worker_web_api_default, fakehooks_worker_webhook);
	tcase_add_checked_fixture(tw, setup, NULL);
	tcase_add_test(tw, web_api_posts_once_with_its_id);
	tcase_add_test(tw, web_api_lost_answer_found_not_posted_again);
	tcase_add_test(tw, web_api_worker_killed_after_the_post_is_found);
	/* Last: it leaves the worker on a channel name. */
	tcase_add_test(tw, web_api_channel_name_posts_again);
	suite_add_tcase(su, tw);
	return su;
}

int
main(void)
{
	return cu_run(alerts_suite());
}
