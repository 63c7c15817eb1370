/*
 * W3C trace context end to end (docs/tracing.md), through nginx on the
 * private stack: one client traceparent followed from a submit to its
 * outbox row, the responder's and nginx's log lines, the worker's delivery
 * line and the fake Salesforce's received headers (a span of the worker's
 * own, the same trace id); one from an agent command to the tab's command
 * frame (and the /ws/ upgrade's trace to the worker's connect line); a
 * malformed traceparent replaced by a fresh valid one, never refused; an
 * absent one started; CB_TRACE=off leaving all of it out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "stacklog.h"
#include "testdb.h"
#include "trace.h"
#include "ws.h"

#define LOG_WAIT_MS	5000

/* A fresh client trace and its header line. */
static void
client_trace(struct trace *t, char line[sizeof("traceparent: ") + TRACE_HEADER_LEN])
{
	char	 tp[TRACE_HEADER_LEN + 1];

	trace_start(t);
	trace_format(t, tp);
	snprintf(line, sizeof("traceparent: ") + TRACE_HEADER_LEN, "traceparent: %s", tp);
}

/*
 * The answer's X-Trace-Id, a valid trace id, into *t (its id only); the
 * answer carries no traceparent (docs/tracing.md).
 */
static void
answer_trace(const struct http_resp *r, struct trace *t)
{
	char		 tp[TRACE_HEADER_LEN + 1];
	const char	*id = http_header(r, "x-trace-id");

	/* http_header answers in one static buffer: one header at a time. */
	snprintf(tp, sizeof(tp), "00-%s-00f067aa0ba902b7-01", id ? id : "(none)");
	ck_assert_msg(trace_parse(tp, t) == CB_OK, "X-Trace-Id answered: %s", id ? id : "(none)");
	ck_assert_ptr_null(http_header(r, "traceparent"));
}

/* Lines of a stack log holding all of the needles, waited for up to LOG_WAIT_MS. */
static int
log_has(const char *name, const char *event, const char *n1, const char *n2, char **line)
{
	char		 path[512];
	double		 end = test_now_s() + LOG_WAIT_MS / 1000.0;
	FILE		*f;
	char		*buf = NULL;
	size_t		 cap = 0;
	int		 n;

	stacklog_path(name, path, sizeof(path));
	for (;;) {
		n = 0;
		if (event != NULL) {
			char *l = NULL;

			if (stacklog_lines(path, event, n1, &l) > 0 && (n2 == NULL || strstr(l, n2))) {
				n = 1;
				if (line)
					*line = l;
				else
					free(l);
			} else
				free(l);
		} else if ((f = fopen(path, "r")) != NULL) {
			/* nginx's access log has no "event": match the needles only. */
			while (getline(&buf, &cap, f) > 0)
				if (strstr(buf, n1) && (n2 == NULL || strstr(buf, n2)))
					n++;
			fclose(f);
		}
		if (n > 0 || test_now_s() > end)
			break;
		test_sleep_ms(100);
	}
	free(buf);
	return n;
}

/* The traceparent member of a log line into *t (asserted valid). */
static void
line_traceparent(const char *line, struct trace *t)
{
	const char	*p = strstr(line, "\"traceparent\":\"");
	char		 tp[TRACE_HEADER_LEN + 1];

	ck_assert_msg(p != NULL, "no traceparent in %s", line);
	p += strlen("\"traceparent\":\"");
	snprintf(tp, sizeof(tp), "%.*s", TRACE_HEADER_LEN, p);
	ck_assert_msg(trace_parse(tp, t) == CB_OK, "bad traceparent in %s", line);
}

START_TEST(submit_followed_to_salesforce)
{
	struct seed	 s;
	struct trace	 c, ans, row, up;
	struct http_resp r;
	char		 ctx[40], tok[64], sub[40], stored[80], path[160], a[128], need[64];
	char		 tline[sizeof("traceparent: ") + TRACE_HEADER_LEN], *line = NULL;
	const char	*body = "{\"data\":{\"full_name\":\"Tracy Trace\",\"email\":\"tracy@example.com\"}}";
	const char	*h[] = { "Content-Type: application/json", a, "Idempotency-Key: \"trace-1\"",
	    tline, NULL };

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	client_trace(&c, tline);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 201, "submit: %ld %s", r.status, r.body);
	answer_trace(&r, &ans);
	ck_assert_str_eq(ans.id, c.id);
	snprintf(sub, sizeof(sub), "%s", http_json_str(&r, "submission_id"));
	http_free(&r);

	/* The outbox row keeps the trace under the responder's own span. */
	testdb_val(stored, sizeof(stored), "SELECT coalesce(trace, '') FROM outbox"
	    " WHERE ref_id = $1::uuid AND kind = 'salesforce.upsert'", 1, (const char *[]){ sub });
	ck_assert_int_eq(trace_parse(stored, &row), CB_OK);
	ck_assert_str_eq(row.id, c.id);
	ck_assert_str_ne(row.span, c.span);
	ck_assert_msg(outbox_wait(sub, "done", 15000, NULL, NULL, 0), "not delivered");

	snprintf(need, sizeof(need), "\"trace_id\":\"%s\"", c.id);
	/* nginx's access line and the responder's. */
	ck_assert_int_ge(log_has("nginx-access", NULL, need, path, NULL), 1);
	ck_assert_int_eq(log_has("submit", "submission_created", need, sub, NULL), 1);
	/* The worker's delivery line. */
	ck_assert_int_ge(log_has("cb-worker", "outbox_batch", need, NULL, NULL), 1);
	/* The fake Salesforce received the trace id under a span of the worker's call. */
	ck_assert_msg(log_has("cb-fake-sf", "request", need, "/composite/sobjects/", &line) == 1,
	    "the fake Salesforce logged no upsert with trace %s", c.id);
	line_traceparent(line, &up);
	ck_assert_str_eq(up.id, c.id);
	ck_assert_str_ne(up.span, row.span);
	ck_assert_str_ne(up.span, c.span);
	free(line);
}
END_TEST

START_TEST(command_followed_to_frame)
{
	struct seed	 s;
	struct trace	 c, w, f, ans;
	struct ws	 ws;
	struct http_resp r;
	cJSON		*j;
	char		 ctx[40], tok[64], path[160], a[160], need[64], stored[80];
	char		 tline[sizeof("traceparent: ") + TRACE_HEADER_LEN];
	char		 wline[sizeof("traceparent: ") + TRACE_HEADER_LEN];
	const char	*body = "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"trace-n1\"}";
	const char	*h[] = { "Content-Type: application/json", a, tline, NULL };
	const char	*wh[] = { wline, NULL };

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	/* The tab's WebSocket, opened with a trace of its own: the worker's connect line. */
	client_trace(&w, wline);
	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_msg(ws_open(&ws, path, wh) == 0, "WebSocket open failed (%d)", ws.http_status);
	ck_assert_int_eq(ws_sendf(&ws, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", tok), 0);
	j = ws_next(&ws, 5000);
	ck_assert_msg(j != NULL, "no ready message (close %d)", ws.close_code);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	cJSON_Delete(j);
	snprintf(need, sizeof(need), "\"trace_id\":\"%s\"", w.id);
	ck_assert_int_ge(log_has("cb-worker", "ws_connect", need, ctx, NULL), 1);

	client_trace(&c, tline);
	test_record_secret(s.api_key);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", s.api_key);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "command: %ld %s", r.status, r.body);
	answer_trace(&r, &ans);
	ck_assert_str_eq(ans.id, c.id);
	http_free(&r);
	testdb_val(stored, sizeof(stored), "SELECT coalesce(trace, '') FROM commands"
	    " WHERE ctx_id = $1 AND nonce = 'trace-n1'", 1, (const char *[]){ ctx });
	ck_assert_int_eq(trace_parse(stored, &f), CB_OK);
	ck_assert_str_eq(f.id, c.id);

	j = ws_next_type(&ws, "command", 5000);
	ck_assert_msg(j != NULL, "no command frame (close %d)", ws.close_code);
	ck_assert_pstr_eq(ws_str(j, "traceparent"), stored);
	cJSON_Delete(j);
	ws_close(&ws, 1000);
	ws_free(&ws);
}
END_TEST

/* Not traceparents: each is replaced by a new trace, and the request still served. */
static const char *const malformed[] = {
	"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
	"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
	"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
	"not a trace",
};

START_TEST(malformed_replaced_absent_started)
{
	struct seed	 s;
	struct trace	 t, prev;
	struct http_resp r;
	char		 body[128], line[128], need[64];
	const char	*h[] = { "Content-Type: application/json", line, NULL };
	const char	*plain[] = { "Content-Type: application/json", NULL };
	size_t		 i;

	seed_tenant(&s);
	snprintf(body, sizeof(body), "{\"form_id\":\"%s\"}", s.form_id);
	memset(&prev, 0, sizeof(prev));
	for (i = 0; i < CU_NELEM(malformed); i++) {
		snprintf(line, sizeof(line), "traceparent: %s", malformed[i]);
		http_do("POST", "/api/v1/contexts", h, body, strlen(body), &r);
		ck_assert_msg(r.status == 201, "%s: %ld %s", malformed[i], r.status, r.body);
		answer_trace(&r, &t);
		ck_assert_str_ne(t.id, "4bf92f3577b34da6a3ce929d0e0e4736");
		ck_assert_str_ne(t.id, prev.id);
		prev = t;
		http_free(&r);
	}
	/* Absent: started; nginx logs the id it answered. */
	http_do("POST", "/api/v1/contexts", plain, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 201);
	answer_trace(&r, &t);
	ck_assert_str_ne(t.id, prev.id);
	http_free(&r);
	snprintf(need, sizeof(need), "\"trace_id\":\"%s\"", t.id);
	ck_assert_int_eq(log_has("nginx-access", NULL, need, "/api/v1/contexts", NULL), 1);
	/* A problem answer names the trace too. */
	http_do("POST", "/api/v1/contexts", plain, "{\"form_id\":7}", 13, &r);
	ck_assert_int_eq(r.status, 400);
	answer_trace(&r, &t);
	ck_assert_pstr_eq(http_json_str(&r, "trace_id"), t.id);
	http_free(&r);
}
END_TEST

/* Wait until nginx's answers carry X-Trace-Id (on) or not (off): the reload is asynchronous. */
static int
wait_tracing(int on)
{
	struct http_resp r;
	double		 end = test_now_s() + 15;
	int		 seen;

	do {
		http_do("GET", "/api/health", NULL, NULL, 0, &r);
		seen = r.status == 200 && (http_header(&r, "x-trace-id") != NULL) == on;
		http_free(&r);
		if (seen)
			return 1;
		test_sleep_ms(100);
	} while (test_now_s() < end);
	return 0;
}

START_TEST(off_means_none)
{
	struct seed	 s;
	struct trace	 c;
	struct http_resp r;
	char		 ctx[40], tok[64], sub[40], stored[80], path[160], a[128];
	char		 tline[sizeof("traceparent: ") + TRACE_HEADER_LEN];
	const char	*body = "{\"data\":{\"full_name\":\"Una Traced\",\"email\":\"una@example.com\"}}";
	const char	*h[] = { "Content-Type: application/json", a, "Idempotency-Key: \"trace-off\"",
	    tline, NULL };

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	setenv("CB_TRACE", "off", 1);
	test_stack("restart-edge");
	ck_assert_msg(wait_tracing(0), "X-Trace-Id still sent with CB_TRACE=off");
	client_trace(&c, tline);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 201, "submit: %ld %s", r.status, r.body);
	ck_assert_ptr_null(http_header(&r, "traceparent"));
	ck_assert_ptr_null(http_header(&r, "x-trace-id"));
	snprintf(sub, sizeof(sub), "%s", http_json_str(&r, "submission_id"));
	http_free(&r);
	/* The responder ignores the client's header (it reads nginx's parameter only). */
	testdb_val(stored, sizeof(stored), "SELECT coalesce(trace, 'none') FROM outbox"
	    " WHERE ref_id = $1::uuid AND kind = 'salesforce.upsert'", 1, (const char *[]){ sub });
	ck_assert_str_eq(stored, "none");
	http_do("POST", "/api/v1/contexts", NULL, "{}", 2, &r);
	ck_assert_int_ge(r.status, 400);
	ck_assert_ptr_null(http_json_str(&r, "trace_id"));
	http_free(&r);

	unsetenv("CB_TRACE");
	test_stack("restart-edge");
	ck_assert_msg(wait_tracing(1), "X-Trace-Id not sent again with CB_TRACE on");
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite	*s = suite_create("trace");
	TCase	*tc = tcase_create("e2e");

	tcase_add_test(tc, submit_followed_to_salesforce);
	tcase_add_test(tc, command_followed_to_frame);
	tcase_add_test(tc, malformed_replaced_absent_started);
	tcase_add_test(tc, off_means_none);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(trace_suite());
}
