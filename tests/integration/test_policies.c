/*
 * Agent policy governance through nginx (seed 004): PUT and GET
 * /api/v1/admin/forms/{form_id}/policy.  A valid change makes version n+1
 * with its history row and its audit row in the same transaction; a change
 * identical to the policy makes none; the schema (command types the broker
 * knows, selectors of the form's current version, rate, in-flight and
 * approval bounds, approval types among the allowed ones) and the
 * governance limits (CB_POLICY_MAX_CHANGES, CB_POLICY_MAX_LIST, as
 * scripts/test.sh sets them: 20 and 12) answer 422 naming the field or the
 * limit, and write nothing; another tenant's form is 404, a viewer or an
 * operator writing 403, an agent 401; If-Match guards against lost
 * updates (412).  `cb-admin policy-set` refuses with the route's words
 * and versions the same way.  Every command type a policy may allow is
 * one the commands route accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "http.h"
#include "people.h"
#include "policygov.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

/* scripts/test.sh: CB_POLICY_MAX_CHANGES=20 CB_POLICY_MAX_LIST=12. */
#define MAX_CHANGES	20
#define MAX_LIST	12

struct org {
	char		 slug[64];
	struct tuser	 admin, operator_, viewer;
	char		 tok_admin[TOKSZ], tok_op[TOKSZ], tok_viewer[TOKSZ];
};

static struct org A, B;
/* A form of twelve fields f1..f12 (the limits need more than the contact form's five). */
static char big_def[256];

static void
org_setup(struct org *o)
{
	char	 refresh[80];

	new_org(o->slug, sizeof(o->slug));
	new_user(o->slug, "admin", &o->admin);
	new_user(o->slug, "operator", &o->operator_);
	new_user(o->slug, "viewer", &o->viewer);
	login_ok(&o->admin, o->tok_admin, refresh);
	login_ok(&o->operator_, o->tok_op, refresh);
	login_ok(&o->viewer, o->tok_viewer, refresh);
}

static void
setup(void)
{
	char	 def[2048];
	size_t	 off;
	int	 i;

	org_setup(&A);
	org_setup(&B);
	off = (size_t)snprintf(def, sizeof(def), "{\"title\":\"Big\",\"fields\":[");
	for (i = 1; i <= 12; i++)
		off += (size_t)snprintf(def + off, sizeof(def) - off,
		    "%s{\"name\":\"f%d\",\"label\":\"F%d\",\"type\":\"string\","
		    "\"class\":\"internal\"}", i > 1 ? "," : "", i, i);
	snprintf(def + off, sizeof(def) - off, "]}");
	cu_tmpfile(def, big_def, sizeof(big_def));
}

static void
teardown(void)
{
	if (big_def[0])
		unlink(big_def);
}

/* A new form of org `slug` (no policy yet): the contact form, or the big one. */
static void
new_form(const char *slug, int big, char form[40])
{
	char	 args[1024], out[1024];
	cJSON	*j;

	if (big)
		snprintf(args, sizeof(args), "form-create %s 'Policy test' %s", slug, big_def);
	else
		snprintf(args, sizeof(args), "form-create %s 'Policy test' "
		    "%s/docs/examples/contact-form.json", slug, test_env("CB_REPO"));
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	j = cJSON_Parse(out);
	ck_assert_ptr_nonnull(j);
	util_strlcpy(form, cJSON_GetObjectItem(j, "form_id")->valuestring, 40);
	cJSON_Delete(j);
}

static void
call(const char *method, const char *form, const char *token, const char *idem,
    const char *if_match, const char *body, struct http_resp *r)
{
	char		 a[TOKSZ + 32], k[160], m[64], path[160];
	const char	*h[5];
	int		 n = 0;

	snprintf(path, sizeof(path), "/api/v1/admin/forms/%s/policy", form);
	if (token) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", token);
		h[n++] = a;
	}
	if (body)
		h[n++] = "Content-Type: application/json";
	if (idem) {
		snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", idem);
		h[n++] = k;
	}
	if (if_match) {
		snprintf(m, sizeof(m), "If-Match: %s", if_match);
		h[n++] = m;
	}
	h[n] = NULL;
	http_do(method, path, h, body, body ? strlen(body) : 0, r);
}

/* A fresh Idempotency-Key. */
static const char *
key(void)
{
	static char	 k[40];
	static int	 n;

	snprintf(k, sizeof(k), "pol-%ld-%d", (long)getpid(), ++n);
	return k;
}

static void
expect(struct http_resp *r, long status)
{
	ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status, r->body);
}

static long
num(struct http_resp *r, const char *member)
{
	cJSON	*v = cJSON_GetObjectItem(http_json(r), member);

	ck_assert_msg(cJSON_IsNumber(v), "no number %s in %s", member, r->body);
	return (long)v->valuedouble;
}

/* A 422 naming the field (and the limit, when one is given), nothing else said. */
static void
expect_422(struct http_resp *r, const char *field, const char *limit, const char *says)
{
	const char	*f = http_json_str(r, "field"), *l = http_json_str(r, "limit");

	http_expect_problem(r, 422, "/problems/unprocessable");
	if (field)
		ck_assert_msg(f && strcmp(f, field) == 0, "field %s in %s", field, r->body);
	if (limit)
		ck_assert_msg(l && strcmp(l, limit) == 0, "limit %s in %s", limit, r->body);
	else
		ck_assert_ptr_null(l);
	ck_assert_msg(strstr(http_json_str(r, "detail"), says) != NULL, "'%s' in %s", says,
	    r->body);
}

static long
policy_version(const char *form)
{
	return testdb_long("SELECT coalesce((SELECT version FROM agent_policies"
	    " WHERE form_id = $1::uuid), 0)", 1, (const char *[]){ form });
}

static long
history_rows(const char *form)
{
	return testdb_long("SELECT count(*) FROM agent_policy_versions WHERE form_id = $1::uuid", 1,
	    (const char *[]){ form });
}

static long
audit_rows(const char *form)
{
	return testdb_long("SELECT count(*) FROM audit_log WHERE action = 'policy.changed'"
	    " AND subject = $1", 1, (const char *[]){ form });
}

static const char valid[] = "{\"allowed_types\":[\"set_field\",\"focus\"],"
    "\"selectors\":[\"#email\",\"#full_name\"],\"rate_per_minute\":120,"
    "\"approval_types\":[\"set_field\"],\"approval_ttl_s\":300}";
/* The same policy as the canonical text lib/policygov.c hashes. */
static const char valid_canonical[] = "{\"allowed_types\":[\"focus\",\"set_field\"],"
    "\"approval_ttl_s\":300,\"approval_types\":[\"set_field\"],\"max_in_flight\":2,"
    "\"rate_per_minute\":120,\"selectors\":[\"#email\",\"#full_name\"]}";

START_TEST(change_makes_a_version)
{
	struct http_resp r;
	char		 form[40], v[200], actor[160], sha[80];
	cJSON		*j;

	new_form(A.slug, 0, form);
	/* No policy yet: GET says so. */
	call("GET", form, A.tok_admin, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "no agent policy"));
	http_free(&r);

	call("PUT", form, A.tok_admin, key(), NULL, valid, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 1);
	ck_assert_int_eq(num(&r, "previous_version"), 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(http_json(&r), "changed")));
	ck_assert_str_eq(http_header(&r, "ETag"), "\"1\"");
	ck_assert_int_eq(num(&r, "max_in_flight"), 2);		/* omitted: the default */
	util_strlcpy(sha, http_json_str(&r, "policy_sha256"), sizeof(sha));
	http_free(&r);

	/* The version, its history row (the policy and its hash) and its audit row. */
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
	testdb_one(NULL, v, sizeof(v), "SELECT encode(policy_sha256, 'hex') FROM agent_policy_versions"
	    " WHERE form_id = $1::uuid AND version = 1", 1, (const char *[]){ form });
	ck_assert_str_eq(v, sha);
	testdb_one(NULL, v, sizeof(v), "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", 1,
	    (const char *[]){ valid_canonical });
	ck_assert_str_eq(v, sha);
	testdb_one(NULL, v, sizeof(v), "SELECT policy = $2::jsonb FROM agent_policy_versions"
	    " WHERE form_id = $1::uuid AND version = 1", 2, (const char *[]){ form, valid_canonical });
	ck_assert_str_eq(v, "t");
	snprintf(actor, sizeof(actor), "user:%s", A.admin.id);
	testdb_one(NULL, v, sizeof(v), "SELECT changed_by FROM agent_policy_versions"
	    " WHERE form_id = $1::uuid AND version = 1", 1, (const char *[]){ form });
	ck_assert_str_eq(v, actor);
	ck_assert_int_eq(audit_rows(form), 1);
	testdb_one(NULL, v, sizeof(v), "SELECT actor FROM audit_log WHERE action = 'policy.changed'"
	    " AND subject = $1", 1, (const char *[]){ form });
	ck_assert_str_eq(v, actor);
	testdb_one(NULL, v, sizeof(v), "SELECT (detail->>'version') || '/' ||"
	    " (detail->>'previous_version') || '/' || (detail->>'policy_sha256')"
	    " || '/' || (detail::text LIKE '%#email%')::text FROM audit_log"
	    " WHERE action = 'policy.changed' AND subject = $1", 1, (const char *[]){ form });
	snprintf(actor, sizeof(actor), "1/0/%s/false", sha);
	ck_assert_str_eq(v, actor);

	/* Migration 0015 builds the same text in SQL for the policies it found. */
	testdb_one(NULL, v, sizeof(v), "SELECT '{\"allowed_types\":' || array_to_json(ARRAY(SELECT x"
	    " FROM unnest(p.allowed_types) x ORDER BY x COLLATE \"C\"))::text ||"
	    " ',\"approval_ttl_s\":' || p.approval_ttl_s::text || ',\"approval_types\":' ||"
	    " array_to_json(ARRAY(SELECT x FROM unnest(p.approval_types) x ORDER BY x"
	    " COLLATE \"C\"))::text || ',\"max_in_flight\":' || p.max_in_flight::text ||"
	    " ',\"rate_per_minute\":' || p.rate_per_minute::text || ',\"selectors\":' ||"
	    " array_to_json(ARRAY(SELECT x FROM unnest(p.selectors) x ORDER BY x"
	    " COLLATE \"C\"))::text || '}' FROM agent_policies p WHERE p.form_id = $1::uuid", 1,
	    (const char *[]){ form });
	ck_assert_str_eq(v, valid_canonical);

	/* A second change: version 2 on top of 1. */
	call("PUT", form, A.tok_admin, key(), NULL, "{\"allowed_types\":[\"focus\"],"
	    "\"selectors\":[\"#email\"],\"rate_per_minute\":60,\"max_in_flight\":4}", &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 2);
	ck_assert_int_eq(num(&r, "previous_version"), 1);
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 2);
	ck_assert_int_eq(history_rows(form), 2);
	ck_assert_int_eq(audit_rows(form), 2);

	/* GET: the current version, readable by an operator too. */
	call("GET", form, A.tok_op, NULL, NULL, NULL, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 2);
	ck_assert_int_eq(num(&r, "max_in_flight"), 4);
	ck_assert_int_eq(num(&r, "approval_ttl_s"), 900);
	ck_assert_str_eq(http_header(&r, "ETag"), "\"2\"");
	j = cJSON_GetObjectItem(http_json(&r), "selectors");
	ck_assert_int_eq(cJSON_GetArraySize(j), 1);
	ck_assert_str_eq(cJSON_GetArrayItem(j, 0)->valuestring, "#email");
	http_free(&r);
}
END_TEST

START_TEST(identical_change_makes_no_version)
{
	struct http_resp r;
	const char	*k;
	char		 form[40];

	new_form(A.slug, 0, form);
	k = key();
	call("PUT", form, A.tok_admin, k, NULL, valid, &r);
	expect(&r, 200);
	http_free(&r);
	/* The same key again: the stored answer. */
	call("PUT", form, A.tok_admin, k, NULL, valid, &r);
	expect(&r, 200);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_int_eq(num(&r, "version"), 1);
	http_free(&r);
	/* The same policy, lists in another order, under a new key: no new version. */
	call("PUT", form, A.tok_admin, key(), NULL, "{\"selectors\":[\"#full_name\",\"#email\"],"
	    "\"allowed_types\":[\"focus\",\"set_field\"],\"rate_per_minute\":120,"
	    "\"approval_types\":[\"set_field\"],\"approval_ttl_s\":300}", &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 1);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(http_json(&r), "changed")));
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "note"), "no new version"));
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
	ck_assert_int_eq(audit_rows(form), 1);
}
END_TEST

/* Each refusal of the schema: 422 naming the field, nothing written. */
static const struct {
	const char	*body;
	const char	*field;
	const char	*says;
} refused[] = {
	{ "{\"allowed_types\":[\"focus\",\"submit\"],\"selectors\":[],\"rate_per_minute\":60}",
	  "allowed_types", "'submit' is not a command type the broker knows" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[\"#email\",\"#ssn\"],\"rate_per_minute\":60}",
	  "selectors", "'#ssn' is not a field of the form's current version (1)" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[\"input[name=email]\"],"
	  "\"rate_per_minute\":60}", "selectors", "is not a field selector" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[],\"rate_per_minute\":6001}",
	  "rate_per_minute", "6001 is outside 1..6000" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[],\"rate_per_minute\":0}",
	  "rate_per_minute", "0 is outside 1..6000" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[],\"rate_per_minute\":60,"
	  "\"max_in_flight\":17}", "max_in_flight", "17 is outside 1..16" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[],\"rate_per_minute\":60,"
	  "\"approval_types\":[\"set_field\"]}", "approval_types", "'set_field' is not in allowed_types" },
	{ "{\"allowed_types\":[\"focus\"],\"selectors\":[],\"rate_per_minute\":60,"
	  "\"approval_ttl_s\":10}", "approval_ttl_s", "10 is outside 30..86400" },
	{ "{\"allowed_types\":[\"focus\",\"focus\"],\"selectors\":[],\"rate_per_minute\":60}",
	  "allowed_types", "'focus' is listed twice" },
};

START_TEST(schema_refusals)
{
	struct http_resp r;
	char		 form[40];

	new_form(A.slug, 0, form);
	call("PUT", form, A.tok_admin, key(), NULL, valid, &r);
	expect(&r, 200);
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), NULL, refused[_i].body, &r);
	expect_422(&r, refused[_i].field, NULL, refused[_i].says);
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
	ck_assert_int_eq(audit_rows(form), 1);
}
END_TEST

/* Malformed bodies and headers: 400 naming what is wrong. */
START_TEST(malformed_is_400)
{
	struct http_resp r;
	char		 form[40];

	new_form(A.slug, 0, form);
	call("PUT", form, A.tok_admin, key(), NULL, "{\"allowed_types\":[],\"selectors\":[],"
	    "\"rate_per_minute\":60,\"patterns\":[\".*\"]}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "patterns");
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), NULL, "{\"allowed_types\":[\"focus\",1],"
	    "\"selectors\":[],\"rate_per_minute\":60}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "allowed_types");
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), NULL, "{\"selectors\":[],\"rate_per_minute\":60}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "allowed_types");
	http_free(&r);
	call("PUT", form, A.tok_admin, NULL, NULL, valid, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), "W/\"1\"", valid, &r);
	http_expect_problem(&r, 400, "/problems/bad-request");
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 0);
}
END_TEST

/* The governance limits, at and over each (scripts/test.sh sets them). */
START_TEST(governance_limits)
{
	struct http_resp r;
	char		 form[40], body[2048], sels[512], args[1024], out[2048];
	size_t		 off = 0;
	int		 i, rc;

	new_form(A.slug, 1, form);
	for (i = 1; i <= 12; i++)
		off += (size_t)snprintf(sels + off, sizeof(sels) - off, "%s\"#f%d\"", i > 1 ? "," : "", i);
	/* 4 types + 12 selectors + 4 approval types + 3 numbers = 23 > 20. */
	snprintf(body, sizeof(body), "{\"allowed_types\":[\"set_field\",\"focus\",\"highlight\","
	    "\"show_message\"],\"selectors\":[%s],\"rate_per_minute\":61,\"max_in_flight\":3,"
	    "\"approval_types\":[\"set_field\",\"focus\",\"highlight\",\"show_message\"],"
	    "\"approval_ttl_s\":60}", sels);
	call("PUT", form, A.tok_admin, key(), NULL, body, &r);
	expect_422(&r, NULL, "CB_POLICY_MAX_CHANGES", "the change touches 23 entries, more than "
	    "CB_POLICY_MAX_CHANGES (20)");
	http_free(&r);
	/* Thirteen selectors: over CB_POLICY_MAX_LIST, whatever they name. */
	snprintf(body, sizeof(body), "{\"allowed_types\":[\"focus\"],\"selectors\":[%s,\"#f13\"],"
	    "\"rate_per_minute\":60}", sels);
	call("PUT", form, A.tok_admin, key(), NULL, body, &r);
	expect_422(&r, "selectors", "CB_POLICY_MAX_LIST", "13 entries, more than "
	    "CB_POLICY_MAX_LIST (12)");
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 0);
	/* Exactly at both limits: 4 + 12 + 4 = 20 changes, a list of 12. */
	snprintf(body, sizeof(body), "{\"allowed_types\":[\"set_field\",\"focus\",\"highlight\","
	    "\"show_message\"],\"selectors\":[%s],\"rate_per_minute\":60,"
	    "\"approval_types\":[\"set_field\",\"focus\",\"highlight\",\"show_message\"]}", sels);
	call("PUT", form, A.tok_admin, key(), NULL, body, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 1);
	http_free(&r);
	/*
	 * cb-admin is held to the same limit: 3 types, 11 selectors and 4
	 * approval types removed, 3 numbers changed: 21.
	 */
	snprintf(args, sizeof(args), "%s/bin/cb-admin policy-set %s focus '#f1' 61 "
	    "--max-in-flight 3 --approval-ttl 60 2>&1", test_env("CB_BUILD"), form);
	rc = test_run(args, out, sizeof(out));
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(out, "CB_POLICY_MAX_CHANGES") != NULL, "cb-admin said: %s", out);
	ck_assert_int_eq(policy_version(form), 1);
}
END_TEST

START_TEST(tenancy_roles_and_agents)
{
	struct http_resp r;
	struct seed	 s;
	char		 form[40];

	new_form(A.slug, 0, form);
	call("PUT", form, A.tok_admin, key(), NULL, valid, &r);
	expect(&r, 200);
	http_free(&r);
	/* Another tenant's admin: 404 both ways, as for no form at all. */
	call("PUT", form, B.tok_admin, key(), NULL, valid, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	call("GET", form, B.tok_admin, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	call("GET", "00000000-0000-4000-8000-000000000000", A.tok_admin, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	call("GET", "not-a-uuid", A.tok_admin, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	/* A viewer reads nothing, an operator reads but writes nothing. */
	call("PUT", form, A.tok_viewer, key(), NULL, valid, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	call("GET", form, A.tok_viewer, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	call("PUT", form, A.tok_op, key(), NULL, "{\"allowed_types\":[],\"selectors\":[],"
	    "\"rate_per_minute\":60}", &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	/* An agent's API key is not a person's token; nor is none. */
	seed_tenant(&s);
	call("PUT", s.form_id, s.api_key, key(), NULL, valid, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	call("GET", s.form_id, s.api_key, NULL, NULL, NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	call("PUT", form, NULL, key(), NULL, valid, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
}
END_TEST

START_TEST(if_match_prevents_lost_updates)
{
	struct http_resp r;
	char		 form[40];
	static const char other[] = "{\"allowed_types\":[\"focus\"],\"selectors\":[\"#email\"],"
	    "\"rate_per_minute\":60}";

	new_form(A.slug, 0, form);
	/* If-Match: * needs a policy to match. */
	call("PUT", form, A.tok_admin, key(), "*", valid, &r);
	http_expect_problem(&r, 412, "/problems/precondition-failed");
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), NULL, valid, &r);
	expect(&r, 200);
	http_free(&r);
	call("PUT", form, A.tok_admin, key(), "\"1\"", other, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 2);
	http_free(&r);
	/* A writer still holding version 1 is told, and changes nothing. */
	call("PUT", form, A.tok_admin, key(), "\"1\"", valid, &r);
	http_expect_problem(&r, 412, "/problems/precondition-failed");
	ck_assert_int_eq(num(&r, "version"), 2);
	http_free(&r);
	ck_assert_int_eq(policy_version(form), 2);
	call("PUT", form, A.tok_admin, key(), "*", valid, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 3);
	http_free(&r);
}
END_TEST

/* cb-admin policy-set: the route's refusals in the route's words, and versions. */
START_TEST(cli_goes_through_the_same_code)
{
	struct http_resp r;
	char		 form[40], cmd[1024], out[2048], v[120];
	int		 rc;

	new_form(A.slug, 0, form);
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin policy-set %s set_field '#email,#ssn' 60 2>&1",
	    test_env("CB_BUILD"), form);
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(strstr(out, "selectors: '#ssn' is not a field of the form's current "
	    "version (1)") != NULL, "cb-admin said: %s", out);
	ck_assert_int_eq(policy_version(form), 0);
	/* The same proposal through the route: the same words. */
	call("PUT", form, A.tok_admin, key(), NULL, "{\"allowed_types\":[\"set_field\"],"
	    "\"selectors\":[\"#email\",\"#ssn\"],\"rate_per_minute\":60}", &r);
	expect_422(&r, "selectors", NULL, "selectors: '#ssn' is not a field of the form's current "
	    "version (1)");
	http_free(&r);
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin policy-set %s set_field,focus '#email' 7000 "
	    "2>&1", test_env("CB_BUILD"), form);
	ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "rate_per_minute: 7000 is outside 1..6000") != NULL, "%s", out);

	/* A valid one: version 1 with its history and audit rows, by the CLI's actor. */
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin policy-set %s set_field,focus '#email' 60 "
	    "set_field --max-in-flight 3 --approval-ttl 120 2>/dev/null", test_env("CB_BUILD"), form);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"version\":1"));
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
	ck_assert_int_eq(audit_rows(form), 1);
	testdb_one(NULL, v, sizeof(v), "SELECT changed_by || ' ' || max_in_flight || ' ' ||"
	    " approval_ttl_s FROM agent_policy_versions h JOIN agent_policies p USING (form_id,"
	    " version) WHERE form_id = $1::uuid", 1, (const char *[]){ form });
	ck_assert_msg(strncmp(v, "cli:", 4) == 0 && strstr(v, " 3 120") != NULL, "%s", v);
	/* Again: identical, no new version; the flags it omits keep their values. */
	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin policy-set %s focus,set_field '#email' 60 "
	    "set_field 2>/dev/null", test_env("CB_BUILD"), form);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"policy\":\"unchanged\""));
	ck_assert_int_eq(policy_version(form), 1);
	ck_assert_int_eq(history_rows(form), 1);
	/* Then the route takes it from there, If-Match on the CLI's version. */
	call("PUT", form, A.tok_admin, key(), "\"1\"", valid, &r);
	expect(&r, 200);
	ck_assert_int_eq(num(&r, "version"), 2);
	http_free(&r);
}
END_TEST

/*
 * The write is conditional on what the check read: a policy changed, or a
 * form version published, in between makes it write nothing (the route
 * answers 409), never a version checked against a state that is gone.
 */
START_TEST(stale_state_writes_nothing)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct policygov_result	 res;
	struct db		*db = testdb_open();
	char			 form[40], args[512], out[1024], path[512];

	new_form(A.slug, 0, form);
	snprintf(args, sizeof(args), "policy-set %s focus '#email' 60", form);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv("focus,set_field", &d.types);
	policygov_list_from_csv("#email", &d.selectors);
	d.rate_per_minute = 60;
	d.max_in_flight = 2;
	d.approval_ttl_s = 900;

	/* Loaded at version 1; someone makes version 2; the write finds it moved. */
	ck_assert_int_eq(policygov_load(db, NULL, form, &st), CB_OK);
	ck_assert_int_eq(st.version, 1);
	snprintf(args, sizeof(args), "policy-set %s focus '#email' 61", form);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_int_eq(policygov_write(db, &st, &d, "user:stale", &res), CB_ERR_CONFLICT);
	policygov_state_free(&st);
	ck_assert_int_eq(policy_version(form), 2);
	ck_assert_int_eq(history_rows(form), 2);
	ck_assert_int_eq(audit_rows(form), 2);

	/* Loaded against form version 1; version 2 is published; nothing written. */
	ck_assert_int_eq(policygov_load(db, NULL, form, &st), CB_OK);
	ck_assert_int_eq(st.form_version, 1);
	snprintf(path, sizeof(path), "%s/docs/examples/contact-form.json", test_env("CB_REPO"));
	ck_assert_int_eq(seed_publish(form, path), 0);
	ck_assert_int_eq(policygov_write(db, &st, &d, "user:stale", &res), CB_ERR_CONFLICT);
	ck_assert_int_eq(policy_version(form), 2);
	ck_assert_int_eq(history_rows(form), 2);
	ck_assert_int_eq(audit_rows(form), 2);

	/* Read again, the same change goes through. */
	policygov_state_free(&st);
	ck_assert_int_eq(policygov_load(db, NULL, form, &st), CB_OK);
	ck_assert_int_eq(policygov_write(db, &st, &d, "user:fresh", &res), CB_OK);
	ck_assert_int_eq(res.version, 3);
	ck_assert_int_eq(res.previous_version, 2);
	ck_assert_int_eq(history_rows(form), 3);
	ck_assert_int_eq(audit_rows(form), 3);
	policygov_state_free(&st);
	policygov_doc_free(&d);
	db_close(db);
}
END_TEST

/* Every type a policy may allow is a command the commands route accepts. */
START_TEST(every_known_type_is_a_command)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], body[300], auth[160];
	const char	*h[3] = { auth, "Content-Type: application/json", NULL };
	size_t		 i;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.api_key);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	for (i = 0; policygov_types[i]; i++) {
		const char *t = policygov_types[i];

		if (strcmp(t, "set_field") == 0)
			snprintf(body, sizeof(body), "{\"type\":\"%s\",\"selector\":\"#email\","
			    "\"value\":\"a@example.test\",\"nonce\":\"types-%zu-%ld\"}", t, i, (long)getpid());
		else if (strcmp(t, "show_message") == 0)
			snprintf(body, sizeof(body), "{\"type\":\"%s\",\"value\":\"hello\","
			    "\"nonce\":\"types-%zu-%ld\"}", t, i, (long)getpid());
		else
			snprintf(body, sizeof(body), "{\"type\":\"%s\",\"selector\":\"#email\","
			    "\"nonce\":\"types-%zu-%ld\"}", t, i, (long)getpid());
		http_do("POST", path, h, body, strlen(body), &r);
		ck_assert_msg(r.status == 202, "type %s: %ld %s", t, r.status, r.body);
		http_free(&r);
	}
}
END_TEST

static Suite *
policies_suite(void)
{
	Suite	*s = suite_create("policies");
	TCase	*tc = tcase_create("governance");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, change_makes_a_version);
	tcase_add_test(tc, identical_change_makes_no_version);
	tcase_add_loop_test(tc, schema_refusals, 0, (int)CU_NELEM(refused));
	tcase_add_test(tc, malformed_is_400);
	tcase_add_test(tc, governance_limits);
	tcase_add_test(tc, tenancy_roles_and_agents);
	tcase_add_test(tc, if_match_prevents_lost_updates);
	tcase_add_test(tc, cli_goes_through_the_same_code);
	tcase_add_test(tc, stale_state_writes_nothing);
	tcase_add_test(tc, every_known_type_is_a_command);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(policies_suite());
}
