/*
 * Dead letters through the real stack: real dead letters are made by
 * submitting forms while the fake Salesforce answers a permanent 400 (the
 * worker dead-letters those at the first attempt), then an operator lists,
 * shows, replays and discards them over HTTP and with `cb-admin
 * dead-letters`.  A replay delivers exactly once and a second one is a
 * 409; a discarded row is never delivered; another organisation's ids,
 * malformed ids and rows that never were dead letters are 404; viewers get
 * 403, strangers 401, bad query values 400 naming the parameter.  No answer
 * and no audit line holds a field value.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "people.h"
#include "seed.h"
#include "stacklog.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define NAME		"Jane Deadletter"
#define EMAIL		"jane.deadletter@example.com"
/* Salesforce's message echoes the submitted email: it must never be stored. */
#define FAULT_400	"{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400," \
			"\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"count\":50," \
			"\"message\":\"Email: not accepted: " EMAIL "\"}"

struct dl {
	char	 sub[40];	/* the submission (the record's external id) */
	char	 id[24];	/* its outbox row */
};

struct org {
	struct seed	 s;
	char		 org_id[24];
	struct tuser	 op, admin, viewer;
	char		 tok_op[TOKSZ], tok_admin[TOKSZ], tok_viewer[TOKSZ];
	struct dl	 d[2];
};

/* A: d[0] replayed, d[1] discarded.  B: d[0] stays dead, d[1] replayed by the CLI. */
static struct org A, B;

static void
call(const char *method, const char *path, const char *token, struct http_resp *r)
{
	char		 a[TOKSZ + 32];
	const char	*h[2] = { NULL, NULL };

	if (token) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", token);
		h[0] = a;
	}
	http_do(method, path, h, NULL, 0, r);
}

static void
dl_path(char *out, size_t outsz, const char *id, const char *action)
{
	snprintf(out, outsz, "/api/v1/admin/dead-letters/%s%s%s", id, action ? "/" : "",
	    action ? action : "");
}

/* A submission from a new tab; its id into out. */
static void
submit(struct org *o, const char *key, char out[40])
{
	submit_form_new_tab(o->s.form_id, key,
	    "{\"data\":{\"full_name\":\"" NAME "\",\"email\":\"" EMAIL "\"}}", out);
}

/* The outbox row of a submission. */
static void
outbox_id(const char *sub, char *out, size_t outsz)
{
	testdb_one(NULL, out, outsz, "SELECT id FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub });
}

static void
org_setup(struct org *o)
{
	char	 refresh[80];

	seed_tenant(&o->s);
	new_user(o->s.slug, "operator", &o->op);
	new_user(o->s.slug, "admin", &o->admin);
	new_user(o->s.slug, "viewer", &o->viewer);
	util_strlcpy(o->org_id, o->op.org, sizeof(o->org_id));
	reset_limits(NULL, NULL);
	login_ok(&o->op, o->tok_op, refresh);
	login_ok(&o->admin, o->tok_admin, refresh);
	login_ok(&o->viewer, o->tok_viewer, refresh);
}

/* Two organisations, each with two real dead letters. */
static void
setup(void)
{
	struct org	*orgs[] = { &A, &B };
	char		 key[64], err[400];
	long		 att = 0;
	int		 i, j;

	org_setup(&A);
	org_setup(&B);
	fakesf_clear();
	fakesf_fault(FAULT_400);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			snprintf(key, sizeof(key), "dead-%s-%d", orgs[i]->s.slug, j);
			submit(orgs[i], key, orgs[i]->d[j].sub);
		}
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			ck_assert_msg(outbox_wait(orgs[i]->d[j].sub, "dead", 15000, &att, err,
			    sizeof(err)), "submission %s not dead-lettered", orgs[i]->d[j].sub);
			ck_assert_ptr_nonnull(strstr(err, "FIELD_CUSTOM_VALIDATION_EXCEPTION"));
			outbox_id(orgs[i]->d[j].sub, orgs[i]->d[j].id, sizeof(orgs[i]->d[j].id));
		}
	fakesf_clear();
}

/* Position of dead letter `id` in a list answer, -1 if absent. */
static int
list_index(struct http_resp *r, const char *id)
{
	const cJSON	*it, *v;
	int		 i = 0;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(http_json(r), "dead_letters")) {
		v = cJSON_GetObjectItem(it, "id");
		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
			return i;
		i++;
	}
	return -1;
}

static int
list_size(struct http_resp *r)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(http_json(r), "dead_letters"));
}

static long
num(struct http_resp *r, const char *member)
{
	const cJSON	*v = cJSON_GetObjectItem(http_json(r), member);

	ck_assert_msg(cJSON_IsNumber(v), "no number %s in %s", member, r->body);
	return (long)v->valuedouble;
}

/* Nothing a dead letter answer or audit line holds may be a field value. */
static void
assert_no_field_values(const char *text)
{
	ck_assert_msg(strstr(text, "Deadletter") == NULL && strstr(text, "deadletter@") == NULL &&
	    strstr(text, "payload") == NULL && strstr(text, "Full_Name") == NULL,
	    "personal data or payload in %s", text);
}

START_TEST(list_shows_dead_letters_newest_first)
{
	struct http_resp r;
	char		 path[200], cursor[24];
	const cJSON	*first;

	call("GET", "/api/v1/admin/dead-letters", A.tok_op, &r);
	ck_assert_msg(r.status == 200, "list: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	ck_assert_int_eq(list_size(&r), 2);
	ck_assert_int_eq(list_index(&r, A.d[1].id), 0);
	ck_assert_int_eq(list_index(&r, A.d[0].id), 1);
	ck_assert_int_eq(list_index(&r, B.d[0].id), -1);
	first = cJSON_GetArrayItem(cJSON_GetObjectItem(http_json(&r), "dead_letters"), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "kind")->valuestring, "salesforce.upsert");
	ck_assert_str_eq(cJSON_GetObjectItem(first, "ref_id")->valuestring, A.d[0].sub);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "state")->valuestring, "dead");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "next_cursor")));
	assert_no_field_values(r.body);
	http_free(&r);

	/* A page at a time: limit 1, then from the cursor. */
	call("GET", "/api/v1/admin/dead-letters?limit=1", A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_size(&r), 1);
	ck_assert_int_eq(list_index(&r, A.d[1].id), 0);
	ck_assert_ptr_nonnull(http_json_str(&r, "next_cursor"));
	util_strlcpy(cursor, http_json_str(&r, "next_cursor"), sizeof(cursor));
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters?limit=1&cursor=%s", cursor);
	call("GET", path, A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_size(&r), 1);
	ck_assert_int_eq(list_index(&r, A.d[0].id), 0);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters?cursor=%s", A.d[0].id);
	call("GET", path, A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_size(&r), 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "next_cursor")));
	http_free(&r);

	/* By kind; and an admin may list too. */
	call("GET", "/api/v1/admin/dead-letters?kind=salesforce.upsert&limit=200", A.tok_admin, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_size(&r), 2);
	http_free(&r);
	call("GET", "/api/v1/admin/dead-letters?kind=webhook.deliver", A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_size(&r), 0);
	http_free(&r);
}
END_TEST

START_TEST(show_has_no_field_values)
{
	struct http_resp r;
	char		 path[200];

	dl_path(path, sizeof(path), A.d[0].id, NULL);
	call("GET", path, A.tok_op, &r);
	ck_assert_msg(r.status == 200, "show: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "id"), A.d[0].id);
	ck_assert_str_eq(http_json_str(&r, "kind"), "salesforce.upsert");
	ck_assert_str_eq(http_json_str(&r, "ref_id"), A.d[0].sub);
	ck_assert_str_eq(http_json_str(&r, "state"), "dead");
	ck_assert_int_eq(num(&r, "attempts"), 1);
	ck_assert_int_ge(num(&r, "max_attempts"), 1);
	ck_assert_int_eq(num(&r, "replays"), 0);
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "last_error"), "400"));
	/* What Salesforce echoed of the record was withheld before it was stored. */
	ck_assert_msg(strstr(http_json_str(&r, "last_error"), "Email: [value withheld]") != NULL,
	    "%s", http_json_str(&r, "last_error"));
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE last_error LIKE '%deadletter@%'",
	    0, NULL), 0);
	ck_assert_ptr_nonnull(http_json_str(&r, "created_at"));
	ck_assert_ptr_nonnull(http_json_str(&r, "dead_at"));
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	assert_no_field_values(r.body);
	http_free(&r);
}
END_TEST

START_TEST(replay_delivers_exactly_once)
{
	struct http_resp r;
	char		 path[200], logf[512], needle[64], actor[64], org[64], *line = NULL;
	long		 upserts = 0;

	dl_path(path, sizeof(path), A.d[0].id, "replay");
	call("POST", path, A.tok_op, &r);
	ck_assert_msg(r.status == 202, "replay: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "state"), "pending");
	ck_assert_int_eq(num(&r, "replays"), 1);
	ck_assert_int_eq(num(&r, "attempts"), 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "last_error")));
	http_free(&r);
	/* A double click: the row is no longer dead. */
	call("POST", path, A.tok_op, &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "not dead"));
	http_free(&r);

	ck_assert_msg(outbox_wait(A.d[0].sub, "done", 15000, NULL, NULL, 0), "replay not delivered");
	ck_assert_int_eq(fakesf_records(A.d[0].sub, &upserts), 1);
	ck_assert_int_eq(upserts, 1);
	/* Delivered: a later replay is a conflict too, and nothing more arrives. */
	call("POST", path, A.tok_admin, &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	http_free(&r);
	test_sleep_ms(1000);
	ck_assert_int_eq(fakesf_records(A.d[0].sub, &upserts), 1);
	ck_assert_int_eq(upserts, 1);

	dl_path(path, sizeof(path), A.d[0].id, NULL);
	call("GET", path, A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "state"), "done");
	ck_assert_int_eq(num(&r, "replays"), 1);
	http_free(&r);

	/* One audit line, naming the row, the org, the operator and the kind. */
	snprintf(needle, sizeof(needle), "\"outbox_id\":\"%s\"", A.d[0].id);
	stacklog_path("deadletters", logf, sizeof(logf));
	ck_assert_int_eq(stacklog_lines(logf, "dead_letter_replayed", needle, &line), 1);
	snprintf(actor, sizeof(actor), "\"actor\":\"user:%s\"", A.op.id);
	snprintf(org, sizeof(org), "\"org\":\"%s\"", A.org_id);
	ck_assert_msg(strstr(line, actor) && strstr(line, org) &&
	    strstr(line, "\"kind\":\"salesforce.upsert\""), "audit line: %s", line);
	ck_assert_msg(strstr(line, "FIELD_CUSTOM") == NULL && strstr(line, "last_error") == NULL,
	    "audit line with the error: %s", line);
	assert_no_field_values(line);
	free(line);
}
END_TEST

START_TEST(discard_is_never_delivered)
{
	struct http_resp r;
	char		 path[200], logf[512], needle[64], actor[64], *line = NULL;

	dl_path(path, sizeof(path), A.d[1].id, "discard");
	call("POST", path, A.tok_admin, &r);
	ck_assert_msg(r.status == 200, "discard: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "state"), "discarded");
	ck_assert_ptr_nonnull(http_json_str(&r, "dead_at"));
	http_free(&r);
	/* Neither a second discard nor a replay moves it. */
	call("POST", path, A.tok_op, &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	http_free(&r);
	dl_path(path, sizeof(path), A.d[1].id, "replay");
	call("POST", path, A.tok_op, &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "discarded"));
	http_free(&r);

	/* Kept for the record, out of the list, never delivered. */
	test_sleep_ms(1500);
	ck_assert(outbox_wait(A.d[1].sub, "discarded", 0, NULL, NULL, 0));
	ck_assert_int_eq(fakesf_records(A.d[1].sub, NULL), 0);
	dl_path(path, sizeof(path), A.d[1].id, NULL);
	call("GET", path, A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "state"), "discarded");
	http_free(&r);
	call("GET", "/api/v1/admin/dead-letters", A.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_index(&r, A.d[1].id), -1);
	http_free(&r);

	snprintf(needle, sizeof(needle), "\"outbox_id\":\"%s\"", A.d[1].id);
	stacklog_path("deadletters", logf, sizeof(logf));
	ck_assert_int_eq(stacklog_lines(logf, "dead_letter_discarded", needle, &line), 1);
	snprintf(actor, sizeof(actor), "\"actor\":\"user:%s\"", A.admin.id);
	ck_assert_msg(strstr(line, actor) != NULL, "audit line: %s", line);
	ck_assert_msg(strstr(line, "FIELD_CUSTOM") == NULL, "audit line with the error: %s", line);
	assert_no_field_values(line);
	free(line);
}
END_TEST

START_TEST(other_org_is_404)
{
	static const char *const actions[] = { NULL, "replay", "discard" };
	struct http_resp r;
	char		 path[200];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		/* B's operator on A's rows (already moved) and A's on B's dead one. */
		dl_path(path, sizeof(path), A.d[0].id, actions[i]);
		call(i ? "POST" : "GET", path, B.tok_op, &r);
		http_expect_problem(&r, 404, "/problems/not-found");
		http_free(&r);
		dl_path(path, sizeof(path), B.d[0].id, actions[i]);
		call(i ? "POST" : "GET", path, A.tok_op, &r);
		http_expect_problem(&r, 404, "/problems/not-found");
		http_free(&r);
	}
	call("GET", "/api/v1/admin/dead-letters", B.tok_op, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(list_index(&r, A.d[0].id), -1);
	ck_assert_int_ge(list_index(&r, B.d[0].id), 0);
	http_free(&r);
	/* Untouched by A's attempts. */
	ck_assert(outbox_wait(B.d[0].sub, "dead", 0, NULL, NULL, 0));
}
END_TEST

/* Every route, for the role and authentication cases. */
static const struct {
	const char	*method;
	const char	*action;	/* NULL with id: show; id NULL: the list */
	int		 with_id;
} routes[] = {
	{ "GET", NULL, 0 },
	{ "GET", NULL, 1 },
	{ "POST", "replay", 1 },
	{ "POST", "discard", 1 },
};

static void
route_path(int i, char *path, size_t pathsz)
{
	if (routes[i].with_id)
		dl_path(path, pathsz, B.d[0].id, routes[i].action);
	else
		util_strlcpy(path, "/api/v1/admin/dead-letters", pathsz);
}

START_TEST(viewer_is_403)
{
	struct http_resp r;
	char		 path[200];

	route_path(_i, path, sizeof(path));
	call(routes[_i].method, path, B.tok_viewer, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "operator"));
	http_free(&r);
	ck_assert(outbox_wait(B.d[0].sub, "dead", 0, NULL, NULL, 0));
}
END_TEST

START_TEST(no_auth_is_401)
{
	struct http_resp r;
	char		 path[200];

	route_path(_i, path, sizeof(path));
	call(routes[_i].method, path, NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate"));
	http_free(&r);
	call(routes[_i].method, path, "not.a.jwt", &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

static const char *const bad_ids[] = {
	"abc", "0", "-1", "01", "1.5", "1e3", "%2B1", "99999999999999999999",
	"9223372036854775807",		/* well-formed, no such row */
};

START_TEST(malformed_id_is_404)
{
	static const char *const actions[] = { NULL, "replay", "discard" };
	struct http_resp r;
	char		 path[200];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		dl_path(path, sizeof(path), bad_ids[_i], actions[i]);
		call(i ? "POST" : "GET", path, A.tok_op, &r);
		http_expect_problem(&r, 404, "/problems/not-found");
		http_free(&r);
	}
}
END_TEST

START_TEST(never_dead_is_404)
{
	struct http_resp r;
	char		 sub[40], id[24], path[200];

	/* A row delivered at once never was a dead letter. */
	submit(&A, "never-dead", sub);
	ck_assert(outbox_wait(sub, "done", 15000, NULL, NULL, 0));
	outbox_id(sub, id, sizeof(id));
	dl_path(path, sizeof(path), id, NULL);
	call("GET", path, A.tok_op, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	dl_path(path, sizeof(path), id, "replay");
	call("POST", path, A.tok_op, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	ck_assert_int_eq(fakesf_records(sub, NULL), 1);
}
END_TEST

static const struct {
	const char	*query;
	const char	*field;
} bad_queries[] = {
	{ "limit=0", "limit" },
	{ "limit=1000", "limit" },
	{ "limit=201", "limit" },
	{ "limit=ten", "limit" },
	{ "limit=", "limit" },
	{ "limit=1&limit=2", "limit" },
	{ "cursor=garbage", "cursor" },
	{ "cursor=0", "cursor" },
	{ "cursor=-5", "cursor" },
	{ "kind=Sales%20Force", "kind" },
	{ "kind=", "kind" },
	{ "bogus=1", "bogus" },
	{ "limit=10&state=dead", "state" },
};

START_TEST(bad_query_is_400)
{
	struct http_resp r;
	char		 path[200];

	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters?%s", bad_queries[_i].query);
	call("GET", path, A.tok_op, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), bad_queries[_i].field);
	http_free(&r);
}
END_TEST

/* cb-admin as an operator runs it: stdout (one JSON object) and stderr apart. */
static int
cli(const char *args, char *out, size_t outsz, char *err, size_t errsz)
{
	char	 cmd[1024], errf[512];
	FILE	*f;
	size_t	 n = 0;
	int	 rc;

	snprintf(errf, sizeof(errf), "%s/dlq-cli-%ld.err", test_env("CB_STATE"), (long)getpid());
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin dead-letters %s 2>%s", test_env("CB_BUILD"),
	    args, errf);
	rc = test_run(cmd, out, outsz);
	err[0] = '\0';
	if ((f = fopen(errf, "r")) != NULL) {
		n = fread(err, 1, errsz - 1, f);
		fclose(f);
	}
	err[n] = '\0';
	unlink(errf);
	return rc;
}

START_TEST(cli_list_and_replay)
{
	struct passwd	*pw = getpwuid(getuid());
	char		 args[256], out[8192], err[8192], want[96];
	cJSON		*j;
	long		 upserts = 0;

	/* list, by slug: B's two dead letters, newest first. */
	snprintf(args, sizeof(args), "list %s", B.s.slug);
	ck_assert_msg(cli(args, out, sizeof(out), err, sizeof(err)) == 0, "list: %s %s", out, err);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "list printed %s", out);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "dead_letters")), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "dead_letters"), 0), "id")->valuestring, B.d[1].id);
	cJSON_Delete(j);
	assert_no_field_values(out);
	/* ...by id, a page of one. */
	snprintf(args, sizeof(args), "list %s --limit 1", B.org_id);
	ck_assert_int_eq(cli(args, out, sizeof(out), err, sizeof(err)), 0);
	j = cJSON_Parse(out);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "dead_letters")), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "next_cursor")->valuestring, B.d[1].id);
	cJSON_Delete(j);
	snprintf(args, sizeof(args), "list %s --limit 0", B.s.slug);
	ck_assert_int_ne(cli(args, out, sizeof(out), err, sizeof(err)), 0);

	/* Another organisation's row: not found, nothing moved. */
	snprintf(args, sizeof(args), "replay %s %s", A.s.slug, B.d[1].id);
	ck_assert_int_ne(cli(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "no dead letter") != NULL, "stderr: %s", err);

	/* replay: delivered once, audited with the unix user who ran it. */
	snprintf(args, sizeof(args), "replay %s %s", B.s.slug, B.d[1].id);
	ck_assert_msg(cli(args, out, sizeof(out), err, sizeof(err)) == 0, "replay: %s %s", out, err);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "replay printed %s", out);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "pending");
	cJSON_Delete(j);
	ck_assert_msg(strstr(err, "\"event\":\"dead_letter_replayed\"") != NULL, "stderr: %s", err);
	snprintf(want, sizeof(want), "\"actor\":\"cli:%s\"", pw ? pw->pw_name : "?");
	ck_assert_msg(strstr(err, want) != NULL, "no %s in %s", want, err);
	snprintf(want, sizeof(want), "\"outbox_id\":\"%s\"", B.d[1].id);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in %s", want, err);
	ck_assert_msg(strstr(err, "FIELD_CUSTOM") == NULL, "stderr holds the error: %s", err);
	ck_assert_msg(outbox_wait(B.d[1].sub, "done", 15000, NULL, NULL, 0), "not delivered");
	ck_assert_int_eq(fakesf_records(B.d[1].sub, &upserts), 1);
	ck_assert_int_eq(upserts, 1);

	/* Twice: a conflict, still one record. */
	ck_assert_int_ne(cli(args, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "not dead") != NULL, "stderr: %s", err);
	ck_assert_int_eq(fakesf_records(B.d[1].sub, NULL), 1);
	/* B's other dead letter is still there for the operator. */
	ck_assert(outbox_wait(B.d[0].sub, "dead", 0, NULL, NULL, 0));
}
END_TEST

static Suite *
deadletters_suite(void)
{
	Suite	*su = suite_create("deadletters");
	TCase	*tc = tcase_create("operator");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, list_shows_dead_letters_newest_first);
	tcase_add_test(tc, show_has_no_field_values);
	tcase_add_test(tc, replay_delivers_exactly_once);
	tcase_add_test(tc, discard_is_never_delivered);
	tcase_add_test(tc, other_org_is_404);
	tcase_add_loop_test(tc, viewer_is_403, 0, sizeof(routes) / sizeof(routes[0]));
	tcase_add_loop_test(tc, no_auth_is_401, 0, sizeof(routes) / sizeof(routes[0]));
	tcase_add_loop_test(tc, malformed_id_is_404, 0, sizeof(bad_ids) / sizeof(bad_ids[0]));
	tcase_add_test(tc, never_dead_is_404);
	tcase_add_loop_test(tc, bad_query_is_400, 0, sizeof(bad_queries) / sizeof(bad_queries[0]));
	tcase_add_test(tc, cli_list_and_replay);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(deadletters_suite());
}
