/*
 * The operator console's routes through the real stack (cgi/console.c):
 * GET /api/v1/admin/outbox, /api/v1/admin/approvals and /api/v1/admin/live.
 *
 * Two tenants, A and B, each with outbox rows written straight into the
 * table (dead ones, and pending ones due tomorrow with a last_error, so
 * the worker leaves them alone and the counts are exact) and A with a real
 * approval (an agent's set_field its policy holds).  An operator and an
 * admin of A see A's rows only, counted by sink and state with the
 * oldest's age; B's operator sees B's only; a viewer and an approver get
 * 403 naming the roles; no token or a bad one 401; bad query values 400
 * naming the parameter.  The live count follows a WebSocket opened and
 * closed.  The call feed (/ws/calls) takes an operator's or an admin's
 * access token and streams that tenant's events only; a viewer's, an
 * approver's, a forged one, a signed-out session's and a disabled
 * person's are refused (4401).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "fakehooks.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"
#include "ws.h"

/* The people of a tenant, by role: P_OPERATOR is users[P_OPERATOR], tok[P_OPERATOR]. */
enum { P_OPERATOR, P_ADMIN, P_VIEWER, P_APPROVER, P__COUNT };
static const char *const roles[] = { "operator", "admin", "viewer", "approver", NULL };

struct org {
	struct seed	 s;
	char		 org_id[24];
	struct tuser	 users[P__COUNT];
	char		 tok[P__COUNT][TOKSZ];
	char		 ctx[40], tab[64];
	char		 approval[40];
	char		 dead_id[24], failing_id[24];
	char		 source[40], secret[128];	/* its voice platform's call source */
};

static struct org A, B;

static void
call(const char *path, const char *token, struct http_resp *r)
{
	char		 a[TOKSZ + 32];
	const char	*h[2] = { NULL, NULL };

	if (token) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", token);
		h[0] = a;
	}
	http_do("GET", path, h, NULL, 0, r);
}

/*
 * `n` outbox rows of org `o` of `kind` in `state` whose last attempt failed
 * with `err`: dead ones 5 minutes old, pending ones due tomorrow (the worker
 * leaves both alone).  The newest id into `last`.
 */
static void
rows(struct org *o, const char *kind, const char *state, int n, const char *err, char last[24])
{
	char	 ns[16];

	snprintf(ns, sizeof(ns), "%d", n);
	testdb_val(last, 24,
	    "WITH i AS (INSERT INTO outbox (org_id, kind, payload, state, attempts, last_error,"
	    "  created_at, run_after, dead_at)"
	    " SELECT $1::bigint, $2, '{}', $3, 2, $5,"
	    "  CASE WHEN $3 = 'dead' THEN now() - interval '5 minutes' ELSE now() END,"
	    "  CASE WHEN $3 = 'dead' THEN now() ELSE now() + interval '1 day' END,"
	    "  CASE WHEN $3 = 'dead' THEN now() END"
	    " FROM generate_series(1, $4::int) RETURNING id)"
	    " SELECT max(id) FROM i", 5, (const char *[]){ o->org_id, kind, state, ns, err });
}

/* An agent's set_field the policy holds: its approval's id into o->approval. */
static void
approval(struct org *o)
{
	struct http_resp r;
	char		 args[512], out[4096], path[128], auth[160], body[256], cmd[40];
	const char	*h[] = { auth, "Content-Type: application/json", NULL };

	snprintf(args, sizeof(args), "policy-set %s set_field,focus,highlight,show_message "
	    "'#full_name,#email,#topic,#message,#subscribe' 600 set_field", o->s.form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_context(o->s.form_id, o->ctx, o->tab);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", o->ctx);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->s.api_key);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"console.secret@example.com\",\"nonce\":\"console-%ld\"}", (long)getpid());
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "command: %ld %s", r.status, r.body);
	util_strlcpy(cmd, http_json_str(&r, "id"), sizeof(cmd));
	http_free(&r);
	testdb_val(o->approval, sizeof(o->approval),
	    "SELECT id FROM approvals WHERE command_id = $1::uuid", 1, (const char *[]){ cmd });
	ck_assert(util_uuid_ok(o->approval));
}

/* A call source of the tenant, for signed call events. */
static void
call_source(struct org *o)
{
	char	 args[256], out[2048];

	snprintf(args, sizeof(args), "call-source-add %s voice --country-code 1", o->s.slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "source_id", o->source, sizeof(o->source));
	seed_take(out, "secret", o->secret, sizeof(o->secret));
	test_record_secret(o->secret);
}

static void
org_setup(struct org *o, int ndead, int npending, const char *err)
{
	seed_tenant(&o->s);
	call_source(o);
	new_staff(o->s.slug, roles, o->users, o->tok);
	util_strlcpy(o->org_id, o->users[P_OPERATOR].org, sizeof(o->org_id));
	rows(o, "salesforce.upsert", "dead", ndead, err, o->dead_id);
	rows(o, "webhook.event", "pending", npending, err, o->failing_id);
}

static void
setup(void)
{
	org_setup(&A, 3, 2, "A: HTTP 400 from the sink");
	org_setup(&B, 1, 4, "B: HTTP 503 from the sink");
	approval(&A);
}

/* The member {sink, state} of an outbox answer, or NULL. */
static const cJSON *
depth(struct http_resp *r, const char *sink, const char *state)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(http_json(r), "sinks"))
		if (strcmp(cJSON_GetObjectItem(it, "sink")->valuestring, sink) == 0 &&
		    strcmp(cJSON_GetObjectItem(it, "state")->valuestring, state) == 0)
			return it;
	return NULL;
}

static int
num(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItem(o, k);

	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", k);
	return v->valueint;
}

START_TEST(outbox_counts_own_tenant_only)
{
	struct http_resp r;
	const cJSON	*d, *it;
	const char	*toks[] = { A.tok[P_OPERATOR], A.tok[P_ADMIN] };
	int		 i, n;

	for (i = 0; i < 2; i++) {
		call("/api/v1/admin/outbox", toks[i], &r);
		ck_assert_msg(r.status == 200, "outbox: %ld %s", r.status, r.body);
		ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
		ck_assert_ptr_nonnull(d = depth(&r, "salesforce", "dead"));
		ck_assert_int_eq(num(d, "rows"), 3);
		/* Five minutes old, give or take a slow machine. */
		ck_assert_int_ge(num(d, "oldest_age_s"), 299);
		ck_assert_int_le(num(d, "oldest_age_s"), 600);
		ck_assert_ptr_nonnull(d = depth(&r, "webhook", "pending"));
		ck_assert_int_eq(num(d, "rows"), 2);
		/* (The approval's Slack message is A's too, should it fail.) */
		n = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(http_json(&r), "failures")) {
			ck_assert_ptr_null(cJSON_GetObjectItem(it, "payload"));
			if (strcmp(cJSON_GetObjectItem(it, "last_error")->valuestring,
			    "A: HTTP 400 from the sink") == 0)
				n++;
		}
		ck_assert_int_eq(n, 5);
		ck_assert_ptr_null(strstr(r.body, "B: HTTP"));
		http_free(&r);
	}
	call("/api/v1/admin/outbox?failures=1", B.tok[P_OPERATOR], &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(num(depth(&r, "salesforce", "dead"), "rows"), 1);
	ck_assert_int_eq(num(depth(&r, "webhook", "pending"), "rows"), 4);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(http_json(&r), "failures"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "failures")), 1);
	/* Newest first. */
	ck_assert_str_eq(cJSON_GetObjectItem(it, "id")->valuestring, B.failing_id);
	ck_assert_ptr_null(strstr(r.body, "A: HTTP"));
	http_free(&r);
}
END_TEST

START_TEST(approvals_pending_own_tenant_masked)
{
	struct http_resp r;
	const cJSON	*arr, *it;

	call("/api/v1/admin/approvals?state=pending", A.tok[P_OPERATOR], &r);
	ck_assert_msg(r.status == 200, "approvals: %ld %s", r.status, r.body);
	arr = cJSON_GetObjectItem(http_json(&r), "approvals");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 1);
	it = cJSON_GetArrayItem(arr, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(it, "id")->valuestring, A.approval);
	ck_assert_str_eq(cJSON_GetObjectItem(it, "type")->valuestring, "set_field");
	ck_assert_str_eq(cJSON_GetObjectItem(it, "selector")->valuestring, "#email");
	ck_assert_str_eq(cJSON_GetObjectItem(it, "state")->valuestring, "pending");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(it, "value")->valuestring, "***"));
	ck_assert_ptr_null(strstr(r.body, "console.secret"));
	http_free(&r);
	/* The default state is pending; none decided yet. */
	call("/api/v1/admin/approvals", A.tok[P_ADMIN], &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "approvals")), 1);
	http_free(&r);
	call("/api/v1/admin/approvals?state=approved&limit=5", A.tok[P_OPERATOR], &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "approvals")), 0);
	http_free(&r);
	/* B has none, and never sees A's. */
	call("/api/v1/admin/approvals?state=pending", B.tok[P_OPERATOR], &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "approvals")), 0);
	ck_assert_ptr_null(strstr(r.body, A.approval));
	http_free(&r);
}
END_TEST

/* The node's open WebSockets as the console reads them. */
static int
live(void)
{
	struct http_resp r;
	const cJSON	*v;
	int		 n;

	call("/api/v1/admin/live", A.tok[P_OPERATOR], &r);
	ck_assert_msg(r.status == 200, "live: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "scope"), "node");
	v = cJSON_GetObjectItem(http_json(&r), "ws_connections");
	ck_assert_msg(cJSON_IsNumber(v), "ws_connections: %s", r.body);
	n = v->valueint;
	http_free(&r);
	return n;
}

static int
live_becomes(int want)
{
	int	 i;

	for (i = 0; i < 200; i++) {
		if (live() == want)
			return 1;
		test_sleep_ms(50);
	}
	return 0;
}

START_TEST(live_counts_websockets)
{
	struct ws	 w;
	char		 path[96];
	int		 before = live();

	ck_assert_int_ge(before, 0);
	snprintf(path, sizeof(path), "/ws/ctx/%s", A.ctx);
	ck_assert_msg(ws_open(&w, path, NULL) == 0, "WebSocket %s: %d", path, w.http_status);
	ck_assert_msg(live_becomes(before + 1), "the open socket was not counted");
	ws_close(&w, 1000);
	ws_free(&w);
	ck_assert_msg(live_becomes(before), "the closed socket is still counted");
}
END_TEST

/* ---- the call feed with a person's access token (worker/chan_feed.c) */

static void
post_event(const struct org *o, const char *corr)
{
	struct http_resp r;
	char		 id[96], body[512];

	snprintf(body, sizeof(body), "{\"correlation_id\":\"%s\",\"event_type\":\"call_started\","
	    "\"from\":\"(415) 555-2671\",\"to\":\"+44 20 7946 0958\","
	    "\"started_at\":\"2025-10-18T14:03:07+02:00\"}", corr);
	snprintf(id, sizeof(id), "msg_%s", corr);
	fakehooks_post_call(o->secret, o->source, id, body, &r);
	ck_assert_msg(r.status == 202, "%ld: %s", r.status, r.body ? r.body : "");
	http_free(&r);
}

/* A feed sent `token` in its auth frame: its first answer (NULL: none). */
static cJSON *
feed_auth(struct ws *w, const char *token)
{
	ck_assert_msg(ws_open(w, "/ws/calls", NULL) == 0, "open failed (%d)", w->http_status);
	ck_assert_str_eq(w->protocol, "cb.calls.v1");
	ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\"}", token);
	return ws_next(w, 5000);
}

/* `token` is refused, the error's detail saying `want`. */
static void
feed_refused(const char *token, const char *why, const char *want)
{
	struct ws	 w;
	cJSON		*j = feed_auth(&w, token);

	ck_assert_msg(j != NULL, "%s: no answer", why);
	ck_assert_msg(strcmp(ws_str(j, "type"), "error") == 0 &&
	    strcmp(ws_str(j, "code"), "unauthorized") == 0, "%s: got %s", why, ws_str(j, "type"));
	ck_assert_msg(strstr(ws_str(j, "detail"), want) != NULL, "%s: detail %s", why,
	    ws_str(j, "detail"));
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(&w, 5000), 4401);
	ws_free(&w);
}

/* An operator's and an admin's session each follow their tenant's calls, and no other's. */
START_TEST(person_feed_streams_own_tenant)
{
	struct ws	 w[2];
	cJSON		*j;
	char		 mine[64], theirs[64];
	int		 i;

	for (i = 0; i < 2; i++) {
		j = feed_auth(&w[i], A.tok[i == 0 ? P_OPERATOR : P_ADMIN]);
		ck_assert_msg(j != NULL && strcmp(ws_str(j, "type"), "ready") == 0,
		    "not ready: %s", j ? ws_str(j, "type") : "(nothing)");
		cJSON_Delete(j);
	}
	snprintf(theirs, sizeof(theirs), "console-b-%ld", (long)getpid());
	snprintf(mine, sizeof(mine), "console-a-%ld", (long)getpid());
	post_event(&B, theirs);
	post_event(&A, mine);
	for (i = 0; i < 2; i++) {
		j = ws_next_type(&w[i], "call_event", 10000);
		ck_assert_msg(j != NULL, "feed %d: no call_event", i);
		ck_assert_str_eq(ws_str(j, "correlation_id"), mine);
		ck_assert_str_eq(ws_str(j, "from"), "+*******2671");
		cJSON_Delete(j);
		ck_assert_ptr_null(ws_next(&w[i], 300));
		ws_close(&w[i], 1000);
		ws_free(&w[i]);
	}
}
END_TEST

START_TEST(person_feed_refusals)
{
	struct http_resp r;
	char		 access[TOKSZ], refresh[80], bad[TOKSZ], body[160];
	size_t		 n;

	feed_refused(A.tok[P_VIEWER], "a viewer", "operator or admin");
	feed_refused(A.tok[P_APPROVER], "an approver", "operator or admin");
	/* A forged signature. */
	util_strlcpy(bad, A.tok[P_OPERATOR], sizeof(bad));
	n = strlen(bad);
	bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
	feed_refused(bad, "a forged token", "access token is not valid");
	feed_refused("eyJhbGciOiJub25lIn0.e30.", "an unsigned token", "access token is not valid");
	/* A session signed out: its access token still verifies, the session does not. */
	reset_limits(NULL, NULL);
	login_ok(&A.users[P_OPERATOR], access, refresh);
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", refresh);
	http_as("POST", "/api/v1/auth/logout", NULL, NULL, body, &r);
	ck_assert_int_eq(r.status, 204);
	http_free(&r);
	feed_refused(access, "a signed-out session", "signed out");
	/* A disabled person. */
	reset_limits(NULL, NULL);
	login_ok(&B.users[P_ADMIN], access, refresh);
	testdb_exec("UPDATE users SET disabled_at = now() WHERE id = $1::uuid", 1,
	    (const char *[]){ B.users[P_ADMIN].id });
	feed_refused(access, "a disabled person", "disabled");
}
END_TEST

static const char *const paths[] = {
	"/api/v1/admin/outbox", "/api/v1/admin/approvals?state=pending", "/api/v1/admin/live",
};

START_TEST(wrong_role_is_403)
{
	struct http_resp r;
	const char	*toks[] = { A.tok[P_VIEWER], A.tok[P_APPROVER] };
	int		 i;

	for (i = 0; i < 2; i++) {
		call(paths[_i], toks[i], &r);
		http_expect_problem(&r, 403, "/problems/forbidden");
		ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "operator"));
		ck_assert_ptr_null(strstr(r.body, "HTTP 400"));
		http_free(&r);
	}
}
END_TEST

START_TEST(no_or_bad_token_is_401)
{
	struct http_resp r;

	call(paths[_i], NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate"));
	http_free(&r);
	call(paths[_i], "not.a.jwt", &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	/* An agent's API key is not a person. */
	call(paths[_i], A.s.api_key, &r);
	ck_assert_msg(r.status == 401 || r.status == 403, "an API key got %ld", r.status);
	http_free(&r);
}
END_TEST

static const struct {
	const char	*path;
	const char	*field;
} bad_queries[] = {
	{ "/api/v1/admin/outbox?failures=0", "failures" },
	{ "/api/v1/admin/outbox?failures=101", "failures" },
	{ "/api/v1/admin/outbox?failures=x", "failures" },
	{ "/api/v1/admin/outbox?sink=webhook", "sink" },
	{ "/api/v1/admin/approvals?state=maybe", "state" },
	{ "/api/v1/admin/approvals?limit=201", "limit" },
	{ "/api/v1/admin/approvals?state=pending&state=denied", "state" },
};

START_TEST(bad_query_is_400)
{
	struct http_resp r;

	call(bad_queries[_i].path, A.tok[P_OPERATOR], &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_msg(strstr(http_json_str(&r, "detail"), bad_queries[_i].field) != NULL,
	    "%s: %s", bad_queries[_i].path, r.body);
	http_free(&r);
}
END_TEST

static Suite *
console_suite(void)
{
	Suite	*su = suite_create("console");
	TCase	*tc = tcase_create("operator");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, outbox_counts_own_tenant_only);
	tcase_add_test(tc, approvals_pending_own_tenant_masked);
	tcase_add_test(tc, live_counts_websockets);
	tcase_add_test(tc, person_feed_streams_own_tenant);
	tcase_add_test(tc, person_feed_refusals);
	tcase_add_loop_test(tc, wrong_role_is_403, 0, sizeof(paths) / sizeof(paths[0]));
	tcase_add_loop_test(tc, no_or_bad_token_is_401, 0, sizeof(paths) / sizeof(paths[0]));
	tcase_add_loop_test(tc, bad_query_is_400, 0, sizeof(bad_queries) / sizeof(bad_queries[0]));
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(console_suite());
}
