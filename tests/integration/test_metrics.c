/*
 * test_metrics: GET /metrics and the stack's Prometheus.
 *
 *   - /metrics is served on the operator listener only: the public HTTP and
 *     HTTPS listeners answer 404; the operator listener asks for
 *     CB_METRICS_TOKEN (401 without it or with another), and answers the
 *     text format with it; every process kind keeps its segment in
 *     CB_METRICS_DIR; the stack's Prometheus scrapes that listener every
 *     CB_PROM_SCRAPE_INTERVAL.
 *   - a responder child killed -9 takes none of its counts with it: its
 *     respawn adds to the same slot.
 *   - after a scripted workload through nginx (a form load, a submit
 *     delivered to the fake Salesforce, a dead letter from an injected
 *     fault, a quota refusal, a WebSocket tab applying a command) the
 *     Prometheus the stack runs (its HTTP API, /api/v1/query) sees the
 *     counters of the responders and of the worker move, the histograms'
 *     buckets fill, the outbox gauges read from Postgres, and the
 *     DeadLettersPresent alert firing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "../support/fakesf.h"
#include "../support/http.h"
#include "../support/outbox.h"
#include "../support/seed.h"
#include "../support/submit.h"
#include "../support/testdb.h"
#include "../support/ws.h"
#include "util.h"

#define FAULT_400	"{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400," \
			"\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"count\":3}"

/* GET /metrics on the operator listener with this Authorization (NULL: none). */
static void
scrape(const char *auth, struct http_resp *r)
{
	char		 a[160];
	const char	*h[] = { a, NULL };

	if (auth)
		snprintf(a, sizeof(a), "Authorization: %s", auth);
	ck_assert_int_eq(http_do("GET", test_env("CB_METRICS_URL"), auth ? h : NULL, NULL, 0, r),
	    0);
}

/*
 * The value of the first line of a scrape with the token that starts with
 * `key`: the whole series name (exact) or, when prefix, any series whose
 * name and first labels it is; `none` when there is no such line.
 */
static double
scrape_find(const char *key, int prefix, double none)
{
	struct http_resp r;
	char		 bearer[128];
	const char	*p, *v;
	double		 x = none;
	size_t		 n = strlen(key);

	snprintf(bearer, sizeof(bearer), "Bearer %s", test_env("CB_METRICS_TOKEN"));
	scrape(bearer, &r);
	ck_assert_int_eq(r.status, 200);
	for (p = r.body; (p = strstr(p, key)) != NULL; p += n) {
		if (p != r.body && p[-1] != '\n')
			continue;
		/* v + 2: the value, after "} " or after the exact name and its space. */
		v = prefix ? strstr(p + n, "} ") : (p[n] == ' ' ? p + n - 1 : NULL);
		if (v != NULL) {
			x = strtod(v + 2, NULL);
			break;
		}
	}
	http_free(&r);
	return x;
}

/* The value of one exact series of a scrape; 0 when absent. */
static double
scrape_value(const char *series)
{
	return scrape_find(series, 0, 0);
}

/* The sum of an instant query's results in the stack's Prometheus (0: none). */
static double
prom_value(const char *q)
{
	struct http_resp r;
	char		 url[2048], enc[1536];
	const cJSON	*res, *x, *v;
	double		 sum = 0;

	http_urlencode(q, enc, sizeof(enc));
	snprintf(url, sizeof(url), "%s/api/v1/query?query=%s", test_env("CB_PROM_URL"), enc);
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "prometheus %ld: %s", r.status, r.body);
	res = cJSON_GetObjectItem(cJSON_GetObjectItem(http_json(&r), "data"), "result");
	ck_assert_msg(cJSON_IsArray(res), "%s", r.body);
	cJSON_ArrayForEach(x, res) {
		v = cJSON_GetArrayItem(cJSON_GetObjectItem(x, "value"), 1);
		ck_assert(cJSON_IsString(v));
		sum += strtod(v->valuestring, NULL);
	}
	http_free(&r);
	return sum;
}

/* Poll Prometheus until q reaches at least min (scrape and rules every second). */
static void
prom_expect_ge(const char *q, double min)
{
	double	 t0 = test_now_s(), v;

	while ((v = prom_value(q)) < min && test_now_s() - t0 < 15)
		test_sleep_ms(200);
	ck_assert_msg(v >= min, "%s: %g in Prometheus, expected at least %g", q, v, min);
}

START_TEST(test_metrics_on_the_operator_listener_only)
{
	struct http_resp r;
	char		 url[256], seg[512], pidf[512], bad[128];
	const char	*kinds[] = { "forms", "submit", "commands", "cb-worker" };
	size_t		 i;

	/* The public listeners have no /metrics at all. */
	snprintf(url, sizeof(url), "%s/metrics", http_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_null(strstr(r.body, "cb_http_requests_total"));
	http_free(&r);
	snprintf(url, sizeof(url), "%s/metrics", https_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 404);
	http_free(&r);

	/* CB_METRICS_TOKEN: nothing without it, nothing with another. */
	scrape(NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	snprintf(bad, sizeof(bad), "Bearer %sx", test_env("CB_METRICS_TOKEN"));
	scrape(bad, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	snprintf(bad, sizeof(bad), "Bearer %s", test_env("CB_METRICS_TOKEN"));
	scrape(bad, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "content-type"), "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE cb_http_requests_total counter\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "cb_process_starts_total{service=\"cb-worker\"} "));
	http_free(&r);

	/*
	 * The stack's Prometheus scrapes the operator listener at
	 * CB_PROM_SCRAPE_INTERVAL (1s here: the workload test below relies on it).
	 */
	snprintf(url, sizeof(url), "%s/api/v1/targets", test_env("CB_PROM_URL"));
	{
		const cJSON *t = NULL;
		char want[96];

		/* A Prometheus just started lists its target once discovery has run. */
		for (int w = 0; w < 300; w++) {
			ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
			ck_assert_int_eq(r.status, 200);
			t = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
			    http_json(&r), "data"), "activeTargets"), 0);
			if (t != NULL)
				break;
			http_free(&r);
			usleep(100000);
		}

		ck_assert_msg(t != NULL, "no scrape target: %s", r.body);
		ck_assert_str_eq(cJSON_GetObjectItem(t, "scrapeInterval")->valuestring,
		    test_env("CB_PROM_SCRAPE_INTERVAL"));
		snprintf(want, sizeof(want), "%s", test_env("CB_METRICS_URL"));
		ck_assert_str_eq(cJSON_GetObjectItem(t, "scrapeUrl")->valuestring, want);
	}
	http_free(&r);

	/* CB_METRICS_DIR: a segment per responder master and one for the worker. */
	for (i = 0; i < CU_NELEM(kinds); i++) {
		snprintf(pidf, sizeof(pidf), "%s/%s.pid", test_env("CB_RUN_DIR"), kinds[i]);
		snprintf(seg, sizeof(seg), "%s/%s.%ld.seg", test_env("CB_METRICS_DIR"), kinds[i],
		    test_pidfile(pidf));
		ck_assert_msg(access(seg, R_OK) == 0, "no segment %s", seg);
	}
}
END_TEST

#define FORMS_200 "cb_http_requests_total{service=\"forms\",method=\"GET\"," \
		  "route=\"/api/v1/forms/{form_id}\",status=\"200\"}"

static void
form_load(const struct seed *s, const char *tok)
{
	struct http_resp r;
	char		 path[128], a[128];
	const char	*h[] = { a, NULL };

	snprintf(path, sizeof(path), "/api/v1/forms/%s", s->form_id);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	ck_assert_int_eq(http_do("GET", path, h, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "form load %ld: %s", r.status, r.body);
	http_free(&r);
}

START_TEST(test_a_killed_childs_counts_stay)
{
	struct seed	 s;
	char		 ctx[40], tok[64], pidf[512];
	long		 master, kids[16];
	double		 before, starts;
	int		 i, n;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	for (i = 0; i < 3; i++)
		form_load(&s, tok);
	before = scrape_value(FORMS_200);
	starts = scrape_value("cb_process_starts_total{service=\"forms\"}");
	ck_assert(before >= 3);
	snprintf(pidf, sizeof(pidf), "%s/forms.pid", test_env("CB_RUN_DIR"));
	master = test_pidfile(pidf);
	n = test_children(master, kids, 16);
	ck_assert_int_ge(n, 1);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(kill((pid_t)kids[i], SIGKILL), 0);
	/* Every child respawned into its slot; nothing they counted is lost. */
	for (i = 0; i < 50 && scrape_value("cb_process_starts_total{service=\"forms\"}") <
	    starts + n; i++)
		test_sleep_ms(100);
	ck_assert(scrape_value("cb_process_starts_total{service=\"forms\"}") >= starts + n);
	ck_assert(scrape_value(FORMS_200) >= before);
	form_load(&s, tok);
	ck_assert(scrape_value(FORMS_200) >= before + 1);
}
END_TEST

/* The queries the workload moves, and their values before it. */
static const char *const moves[] = {
	/* responders */
	"sum(cb_http_requests_total{service=\"forms\",route=\"/api/v1/forms/{form_id}\",status=\"200\"})",
	"sum(cb_http_request_duration_seconds_bucket{service=\"forms\",le=\"+Inf\"})",
	"sum(cb_http_request_duration_seconds_bucket{service=\"submit\",le=\"10\"})",
	"sum(cb_http_request_duration_seconds_count{service=\"submit\"})",
	"sum(cb_http_requests_total{service=\"submit\",status=\"201\"})",
	"sum(cb_http_requests_total{service=\"submit\",status=\"429\"})",
	"sum(cb_rate_limited_total{class=\"tab\"})",
	"sum(cb_commands_total{state=\"queued\"})",
	/* the worker: outbox */
	"sum(cb_outbox_deliveries_total{sink=\"salesforce\",outcome=\"done\"})",
	"sum(cb_dead_letters_total{sink=\"salesforce\"})",
	"sum(cb_salesforce_request_duration_seconds_count)",
	"sum(cb_sf_token_cache_hits_total) + sum(cb_sf_token_mints_total)",
	/* the worker: channel */
	"sum(cb_ws_connections_opened_total)",
	"sum(cb_commands_total{state=\"applied\"})",
	"sum(cb_command_apply_seconds_count)",
};
/* How much each moves at least. */
static const double move_by[] = { 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1 };

START_TEST(test_prometheus_sees_the_workload)
{
	struct seed	 s, team;
	struct http_resp r;
	struct ws	 w;
	char		 ctx[40], tok[64], sub[40], key[96], path[160], auth[160];
	char		 body[256], err[400];
	const char	*h[] = { "Content-Type: application/json", auth, NULL };
	double		 base[CU_NELEM(moves)];
	long long	 quota = 0;
	long		 att;
	cJSON		*j;
	size_t		 i;
	int		 n429 = 0;

	_Static_assert(CU_NELEM(moves) == CU_NELEM(move_by), "one bound per query");
	prom_expect_ge("up{job=\"context-broker\"}", 1);
	for (i = 0; i < CU_NELEM(moves); i++)
		base[i] = prom_value(moves[i]);

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	/* A form load. */
	form_load(&s, tok);
	/* A dead letter: the fake refuses the next call for good. */
	fakesf_clear();
	fakesf_fault(FAULT_400);
	snprintf(key, sizeof(key), "metrics-dead-%s", s.slug);
	submit_form_new_tab(s.form_id, key, NULL, sub);
	ck_assert_msg(outbox_wait(sub, "dead", 15000, &att, err, sizeof(err)), "not dead: %s",
	    err);
	fakesf_clear();
	/* A submit delivered. */
	snprintf(key, sizeof(key), "metrics-done-%s", s.slug);
	submit_form(s.form_id, tok, key, NULL, sub);
	ck_assert(outbox_wait(sub, "done", 15000, NULL, NULL, 0));
	/* A quota refusal: the team plan's submits a minute, then one more. */
	seed_tenant(&team);
	snprintf(body, sizeof(body), "org-plan %s team", team.slug);
	ck_assert_int_eq(seed_admin(body, err, sizeof(err)), 0);
	ck_assert_int_eq(util_parse_ll(test_env("CB_QUOTA_TEAM_SUBMITS_PER_MIN"), 1, 50, &quota),
	    0);
	for (i = 0; i <= (size_t)quota; i++) {
		char c2[40], t2[64], k2[64];
		const char *h2[] = { "Content-Type: application/json", auth, k2, NULL };

		seed_context(team.form_id, c2, t2);
		snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", team.form_id);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t2);
		snprintf(k2, sizeof(k2), "Idempotency-Key: \"mq-%zu\"", i);
		ck_assert_int_eq(http_do("POST", path, h2, SUBMIT_BODY, strlen(SUBMIT_BODY), &r), 0);
		if (r.status == 429)
			n429++;
		http_free(&r);
	}
	ck_assert_int_eq(n429, 1);
	/* A tab on the WebSocket applies a command. */
	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_int_eq(ws_open(&w, path, NULL), 0);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", tok),
	    0);
	j = ws_next(&w, 5000);
	ck_assert_msg(j != NULL && strcmp(ws_str(j, "type"), "ready") == 0, "no ready");
	cJSON_Delete(j);
	prom_expect_ge("sum(cb_ws_connections)", 1);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.api_key);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"jane@example.com\",\"nonce\":\"metrics-%s\"}", s.slug);
	ck_assert_int_eq(http_do("POST", path, h, body, strlen(body), &r), 0);
	ck_assert_msg(r.status == 202, "command %ld: %s", r.status, r.body);
	http_free(&r);
	j = ws_next_type(&w, "command", 5000);
	ck_assert_msg(j != NULL, "no command frame");
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"receipt\",\"seq\":%lld,\"status\":\"applied\"}",
	    ws_num(j, "seq")), 0);
	cJSON_Delete(j);

	for (i = 0; i < CU_NELEM(moves); i++)
		prom_expect_ge(moves[i], base[i] + move_by[i]);
	/* The outbox gauges, read from Postgres at scrape time, and the alert on them. */
	prom_expect_ge("sum(cb_outbox_rows{sink=\"salesforce\",state=\"dead\"})", 1);
	prom_expect_ge("cb_outbox_scrape_ok", 1);
	prom_expect_ge("count(ALERTS{alertname=\"DeadLettersPresent\",alertstate=\"firing\"})", 1);
	ws_close(&w, 1000);
	ws_free(&w);
}
END_TEST

/*
 * Key ages: the current pii data key made 100 days older shows so in the
 * scrape (cb_key_age_seconds, the KeyRotationDue alert's series), and
 * `cb-admin key-ages` names it and exits 3; with CB_KEY_WARN_DAYS past its
 * age it does not.
 */
START_TEST(test_key_ages_scraped_and_warned)
{
	char	 cmd[1024], out[8192];
	double	 before, after;
	int	 rc;

	before = scrape_find("cb_key_age_seconds{kind=\"data\",purpose=\"pii\"", 1, -1);
	ck_assert_msg(before >= 0 && before < 90 * 86400.0, "pii key age %g", before);
	ck_assert_double_ge(scrape_find("cb_key_age_seconds{kind=\"signing\",purpose=\"jwt\"", 1, -1), 0);
	testdb_exec("UPDATE data_keys SET created_at = created_at - interval '100 days'"
	    " WHERE purpose = 'pii' AND state = 'current'", 0, NULL);
	after = scrape_find("cb_key_age_seconds{kind=\"data\",purpose=\"pii\"", 1, -1);
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin key-ages 2>&1", test_env("CB_BUILD"));
	rc = test_run(cmd, out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "CB_KEY_WARN_DAYS=200 %s/bin/cb-admin key-ages 2>&1",
	    test_env("CB_BUILD"));
	testdb_exec("UPDATE data_keys SET created_at = created_at + interval '100 days'"
	    " WHERE purpose = 'pii' AND state = 'current'", 0, NULL);
	ck_assert_msg(after > 100 * 86400.0 && after < 101 * 86400.0, "pii key age %g", after);
	ck_assert_msg(rc == 3, "key-ages exited %d: %s", rc, out);
	ck_assert_msg(strstr(out, "ROTATE") != NULL && strstr(out, "older than 90 days") != NULL,
	    "%s", out);
	testdb_exec("UPDATE data_keys SET created_at = created_at - interval '100 days'"
	    " WHERE purpose = 'pii' AND state = 'current'", 0, NULL);
	rc = test_run(cmd, out, sizeof(out));
	testdb_exec("UPDATE data_keys SET created_at = created_at + interval '100 days'"
	    " WHERE purpose = 'pii' AND state = 'current'", 0, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "ROTATE") == NULL, "key-ages exited %d: %s", rc, out);
	ck_assert_ptr_nonnull(strstr(out, "signing  jwt"));
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("stack");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_metrics_on_the_operator_listener_only);
	tcase_add_test(tc, test_a_killed_childs_counts_stay);
	tcase_add_test(tc, test_prometheus_sees_the_workload);
	tcase_add_test(tc, test_key_ages_scraped_and_warned);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(metrics_suite());
}
