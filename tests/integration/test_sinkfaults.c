/*
 * The fault matrix of the two HTTP sinks besides Salesforce (whose matrix
 * is in test_delivery and test_engine): tenants' webhooks and operators'
 * Slack alerts, through the real worker into the bundled fake receivers,
 * with faults injected at the fake.  Each case asserts the row's end state,
 * the attempts charged, the calls that reached the fake and, where the
 * engine had to wait, that it did: the time from the row's creation to its
 * end (done_at or dead_at - created_at, Postgres' clock) is at least the
 * waits the schedule or a Retry-After asks for.
 *
 * The stack runs with short clocks (scripts/test.sh): the schedule
 * 0,100ms,200ms,400ms (four attempts, +-10% jitter), CB_WEBHOOK_TIMEOUT_MS
 * and CB_SLACK_TIMEOUT_MS 1500.  A timeout case's slow answer would come
 * after 3 s: a row done sooner, at its second attempt, proves the short
 * timeout is in force (with the 15 s and 10 s defaults the first attempt
 * would have waited and succeeded).
 *
 * Webhook cases run at once: one endpoint per case, each fault matched to
 * its endpoint, one submission making a row for every endpoint.  Slack
 * faults cannot be told apart by endpoint, so Slack cases run one after
 * the other, each with its own alert text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "check_util.h"
#include "fakehooks.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "people.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"

#define WAIT_MS		15000
#define TIMEOUT_MS	1500	/* CB_WEBHOOK_TIMEOUT_MS and CB_SLACK_TIMEOUT_MS in scripts/test.sh */
#define SLOW_MS		3000	/* a latency fault's answer, longer than TIMEOUT_MS */

/* The test schedule's waits before attempts 2, 3 and 4, less the 10% jitter. */
static long
sched_min_ms(long attempts)
{
	static const long	 wait_ms[] = { 0, 90, 180, 360 };
	long			 i, ms = 0;

	for (i = 1; i < attempts && i < (long)CU_NELEM(wait_ms); i++)
		ms += wait_ms[i];
	return ms;
}

/* One case of a sink's matrix. */
struct fcase {
	const char	*name;
	const char	*fault;		/* the fault's JSON members after target (and endpoint) */
	const char	*state;		/* the row's end state */
	long		 att_min;	/* attempts charged, at least and at most */
	long		 att_max;
	long		 calls;		/* requests that reached the fake */
	long		 min_ms;	/* the row's creation to its end: at least */
	long		 max_ms;	/* and less than (0: no bound) */
	const char	*error;		/* in last_error (NULL: not checked) */
};

/*
 * Webhooks (worker/sink_webhook.c): 2xx is done, 410 Gone is dead (and
 * disables the endpoint: test_webhooks), everything else, 400 and 401
 * included, is retried on the schedule with Retry-After honoured.
 */
static const struct fcase hook_cases[] = {
	{ "503 then success", "\"kind\":\"status\",\"status\":503,\"count\":1",
	    "done", 2, 2, 2, 90, 0, NULL },
	{ "429 with Retry-After 2", "\"kind\":\"status\",\"status\":429,\"retry_after_s\":2,"
	    "\"count\":1", "done", 2, 2, 2, 2000, 0, NULL },
	{ "401 refused by the receiver", "\"kind\":\"status\",\"status\":401,\"count\":1",
	    "done", 2, 2, 2, 90, 0, NULL },
	{ "400 is retried, not permanent", "\"kind\":\"status\",\"status\":400,\"count\":1",
	    "done", 2, 2, 2, 90, 0, NULL },
	/* libcurl re-sends at once when a reused connection dies unanswered. */
	{ "dropped connection", "\"kind\":\"drop\",\"count\":1",
	    "done", 1, 2, 2, 0, 0, NULL },
	{ "timeout", "\"kind\":\"latency\",\"latency_ms\":3000,\"count\":1",
	    "done", 2, 2, 2, TIMEOUT_MS + 90, SLOW_MS, NULL },
	{ "persistent 500", "\"kind\":\"status\",\"status\":500,\"count\":10",
	    "dead", 4, 4, 4, 90 + 180 + 360, 0, "HTTP_500" },
};

/*
 * Slack (worker/sink_slack.c, its incoming webhook): 5xx, a timeout and a
 * dropped connection are retried; a 429 pauses the sink for Retry-After and
 * gives the row back uncharged; Slack's refusals of the request are dead
 * letters at once.  calls counts every request to the incoming webhook.
 */
static const struct fcase slack_cases[] = {
	{ "500 then success", "\"kind\":\"status\",\"status\":500,\"count\":1",
	    "done", 2, 2, 2, 90, 0, NULL },
	/* Given back: the posting attempt is the first one charged. */
	{ "429 with Retry-After 2", "\"kind\":\"status\",\"status\":429,\"retry_after_s\":2,"
	    "\"count\":1", "done", 1, 1, 2, 2000, 0, NULL },
	{ "invalid_token (403) is permanent", "\"kind\":\"error\",\"error\":\"invalid_token\","
	    "\"count\":5", "dead", 1, 1, 1, 0, 0, "invalid_token" },
	{ "invalid_payload (400) is permanent", "\"kind\":\"error\",\"error\":\"invalid_payload\","
	    "\"count\":5", "dead", 1, 1, 1, 0, 0, "invalid_payload" },
	{ "dropped connection", "\"kind\":\"drop\",\"count\":1",
	    "done", 1, 2, 2, 0, 0, NULL },
	{ "timeout", "\"kind\":\"latency\",\"latency_ms\":3000,\"count\":1",
	    "done", 2, 2, 2, TIMEOUT_MS + 90, SLOW_MS, NULL },
};

/*
 * The end of a row against its case: state, attempts, error and the waits
 * (where the attempts may vary, at least the schedule's for those made).
 */
static void
assert_row(const struct fcase *c, const struct outbox_row *row)
{
	long	 wait_ms = sched_min_ms(row->attempts);

	ck_assert_msg(strcmp(row->state, c->state) == 0, "%s: state %s (attempts %ld, %s)",
	    c->name, row->state, row->attempts, row->error);
	ck_assert_msg(row->attempts >= c->att_min && row->attempts <= c->att_max,
	    "%s: %ld attempts, not %ld..%ld", c->name, row->attempts, c->att_min, c->att_max);
	if (c->error != NULL)
		ck_assert_msg(strstr(row->error, c->error) != NULL, "%s: last_error %s", c->name,
		    row->error);
	if (wait_ms < c->min_ms)
		wait_ms = c->min_ms;
	ck_assert_msg(row->final_ms >= wait_ms, "%s: ended %ld ms after it was made, before %ld ms",
	    c->name, row->final_ms, wait_ms);
	if (c->max_ms > 0)
		ck_assert_msg(row->final_ms < c->max_ms, "%s: ended %ld ms after it was made, not "
		    "before the slow answer (%ld ms): the timeout is not in force", c->name,
		    row->final_ms, c->max_ms);
}

/* ---- webhooks: every case at once ------------------------------------ */

static struct seed		 wh_org;
static struct fakehooks_hook	 hooks[CU_NELEM(hook_cases)];
static char			 wh_sub[40];
/* A Retry-After case's row as first seen waiting after its first attempt. */
static struct outbox_row	 wh_waiting[CU_NELEM(hook_cases)];

static void
clear_all(void)
{
	fakehooks_clear();
	fakesf_clear();
	outbox_pause(NULL, 0);
}

/*
 * Once for all webhook cases: a tenant with an admin, an endpoint per case
 * subscribed to submission.created, each endpoint's fault, one submission.
 */
static void
hooks_setup(void)
{
	struct tuser	 admin;
	char		 tok[TOKSZ], refresh[80], fault[2048], key[48];
	size_t		 i;

	ck_assert_int_ge(sodium_init(), 0);
	clear_all();
	seed_tenant(&wh_org);
	new_user(wh_org.slug, "admin", &admin);
	reset_limits(NULL, NULL);
	login_ok(&admin, tok, refresh);
	for (i = 0; i < CU_NELEM(hook_cases); i++) {
		fakehooks_new_hook(tok, "[\"submission.created\"]", &hooks[i]);
		snprintf(fault, sizeof(fault), "{\"target\":\"hook\",\"endpoint\":\"%s\",%s}",
		    hooks[i].name, hook_cases[i].fault);
		fakehooks_fault(fault);
	}
	fakehooks_unique(key, sizeof(key), "matrix-");
	submit_form_new_tab(wh_org.form_id, key, NULL, wh_sub);
	/* Seen now, while the cases run: the tests come one after the other. */
	for (i = 0; i < CU_NELEM(hook_cases); i++) {
		struct outbox_sel sel = { .ref = wh_sub, .kind = "webhook.deliver",
		    .endpoint = hooks[i].id };

		if (strstr(hook_cases[i].fault, "retry_after_s") != NULL)
			(void)outbox_wait_sel(&sel, "pending", 1, WAIT_MS, &wh_waiting[i]);
	}
}

static void
hooks_teardown(void)
{
	fakehooks_clear();
}

START_TEST(webhook_fault)
{
	const struct fcase	*c = &hook_cases[_i];
	struct outbox_sel	 sel = { .ref = wh_sub, .kind = "webhook.deliver",
				    .endpoint = hooks[_i].id };
	struct outbox_row	 row;
	cJSON			*arr;
	const cJSON		*d, *v;
	const char		*id = NULL;

	if (strstr(c->fault, "retry_after_s") != NULL) {
		/* After the 429 the row waits for Retry-After, not the schedule's 100 ms. */
		row = wh_waiting[_i];
		ck_assert_msg(strcmp(row.state, "pending") == 0 && row.attempts == 1,
		    "%s: not waiting after its first attempt (%s, %ld)", c->name, row.state,
		    row.attempts);
		ck_assert_msg(row.run_after_ms >= 1200, "%s: run_after only %ld ms away",
		    c->name, row.run_after_ms);
	}
	outbox_wait_sel(&sel, c->state, c->att_min, WAIT_MS, &row);
	assert_row(c, &row);
	/* Every attempt reached the receiver with the same webhook-id, signed. */
	arr = fakehooks_deliveries_wait(hooks[_i].name, 0, (int)c->calls, WAIT_MS);
	test_sleep_ms(300);
	cJSON_Delete(arr);
	arr = fakehooks_deliveries(hooks[_i].name, 0);
	ck_assert_msg(cJSON_GetArraySize(arr) == c->calls, "%s: %d deliveries, not %ld", c->name,
	    cJSON_GetArraySize(arr), c->calls);
	cJSON_ArrayForEach(d, arr) {
		v = cJSON_GetObjectItem(d, "id");
		ck_assert_msg(cJSON_IsString(v), "%s: a delivery without webhook-id", c->name);
		if (id == NULL)
			id = v->valuestring;
		ck_assert_msg(strcmp(id, v->valuestring) == 0, "%s: webhook-id %s, then %s",
		    c->name, id, v->valuestring);
		ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(d, "verified")),
		    "%s: a delivery whose signature did not verify", c->name);
	}
	/* The last one was answered 2xx unless the row is dead. */
	v = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1), "status");
	ck_assert_msg(cJSON_IsNumber(v) && (strcmp(c->state, "done") == 0) ==
	    (v->valuedouble >= 200 && v->valuedouble < 300), "%s: last delivery answered %g",
	    c->name, cJSON_IsNumber(v) ? v->valuedouble : -1.0);
	cJSON_Delete(arr);
}
END_TEST

/* ---- slack: one case at a time ---------------------------------------- */

static void
slack_setup(void)
{
	int	 waited;

	clear_all();
	/* Alerts of earlier suites would take this case's fault: let them go first. */
	for (waited = 0; waited < 10000; waited += 200) {
		if (testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.alert'"
		    " AND state IN ('pending', 'running')", 0, NULL) == 0)
			break;
		test_sleep_ms(200);
	}
	ck_assert_msg(waited < 10000, "slack.alert rows of earlier tests still in the outbox");
}

static void
slack_teardown(void)
{
	fakehooks_clear();
	outbox_pause(NULL, 0);
}

/* An alert as lib/alert raises one: its alerts row and its slack.alert row. */
static void
raise_alert(const char *text)
{
	testdb_exec("INSERT INTO alerts (kind, dedupe_key)"
	    " VALUES ('test', 'sinkfaults-' || gen_random_uuid())", 0, NULL);
	testdb_exec("INSERT INTO outbox (kind, payload) VALUES ('slack.alert',"
	    " jsonb_build_object('alert_id', 0, 'kind', 'test', 'text', $1::text))", 1,
	    (const char *[]){ text });
}

START_TEST(slack_fault)
{
	const struct fcase	*c = &slack_cases[_i];
	struct outbox_sel	 sel = { .kind = "slack.alert" };
	struct outbox_row	 row;
	char			 text[64], fault[512];
	long			 calls, since = fakehooks_last_message(), posted;
	int			 waited;

	fakehooks_unique(text, sizeof(text), "sinkfaults-");
	sel.text = text;
	snprintf(fault, sizeof(fault), "{\"target\":\"slack_webhook\",%s}", c->fault);
	fakehooks_fault(fault);
	calls = fakehooks_stat("slack_webhook_calls");
	raise_alert(text);
	if (strstr(c->fault, "retry_after_s") != NULL) {
		/* Paused for every worker, the row given back uncharged. */
		for (waited = 0; waited < WAIT_MS && outbox_pause_left_ms("slack") == 0;
		    waited += 50)
			test_sleep_ms(50);
		ck_assert_msg(outbox_wait_sel(&sel, "pending", 0, WAIT_MS, &row),
		    "%s: not given back (%s)", c->name, row.state);
		ck_assert_msg(row.attempts == 0, "%s: %ld attempts charged while paused", c->name,
		    row.attempts);
		ck_assert_msg(row.run_after_ms >= 1200, "%s: run_after only %ld ms away", c->name,
		    row.run_after_ms);
		ck_assert_msg(outbox_pause_left_ms("slack") >= 1200, "%s: paused for %ld ms only",
		    c->name, outbox_pause_left_ms("slack"));
	}
	outbox_wait_sel(&sel, c->state, c->att_min, WAIT_MS, &row);
	assert_row(c, &row);
	/*
	 * Every call reached the fake; a slow one is still posted when its
	 * latency ends (an incoming webhook has no idempotency key: a timed-out
	 * post can appear once more), every other failed call posted nothing.
	 */
	posted = strcmp(c->state, "done") != 0 ? 0 : c->max_ms > 0 ? 2 : 1;
	if (c->max_ms > 0)
		fakehooks_wait_messages_with(since, text, (int)posted, SLOW_MS + 2000);
	test_sleep_ms(300);
	ck_assert_msg(fakehooks_stat("slack_webhook_calls") - calls == c->calls,
	    "%s: %ld calls reached Slack, not %ld", c->name,
	    fakehooks_stat("slack_webhook_calls") - calls, c->calls);
	ck_assert_msg(fakehooks_messages_with(since, text) == posted, "%s: posted %d times, not %ld",
	    c->name, fakehooks_messages_with(since, text), posted);
}
END_TEST

static Suite *
sinkfaults_suite(void)
{
	Suite	*su = suite_create("sinkfaults");
	TCase	*tc = tcase_create("webhook");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, hooks_setup, hooks_teardown);
	tcase_add_loop_test(tc, webhook_fault, 0, (int)CU_NELEM(hook_cases));
	suite_add_tcase(su, tc);

	tc = tcase_create("slack");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, slack_setup, slack_teardown);
	tcase_add_loop_test(tc, slack_fault, 0, (int)CU_NELEM(slack_cases));
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(sinkfaults_suite());
}
