/*
 * Tenant administration through nginx: users, agents and API keys, scoped
 * to the caller's organisation (another organisation's ids answer 404),
 * gated by role (403 naming the role), idempotent creates (a key's secret
 * is never replayed), and revocations that take effect at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

struct org {
	char		 slug[64];
	struct tuser	 admin, operator_, viewer;
	char		 tok_admin[TOKSZ], tok_op[TOKSZ], tok_viewer[TOKSZ];
};

static struct org A, B;

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
	org_setup(&A);
	org_setup(&B);
}

static void
call(const char *method, const char *path, const char *token, const char *idem,
    const char *body, struct http_resp *r)
{
	char		 a[TOKSZ + 32], k[160];
	const char	*h[4];
	int		 n = 0;

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
	h[n] = NULL;
	http_do(method, path, h, body, body ? strlen(body) : 0, r);
}

static void
expect(struct http_resp *r, long status, const char *type)
{
	if (type)
		http_expect_problem(r, status, type);
	else
		ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status,
		    r->body);
}

START_TEST(users_lifecycle)
{
	struct http_resp r;
	struct tuser	 u;
	char		 body[512], id[40], path[160], acc[TOKSZ], refresh[80];
	cJSON		*list, *it;
	int		 found = 0;

	memset(&u, 0, sizeof(u));
	util_strlcpy(u.slug, A.slug, sizeof(u.slug));
	snprintf(u.email, sizeof(u.email), "new.%s@example.test", A.slug);
	util_random_token(u.password, sizeof(u.password), 24);
	test_record_secret(u.password);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"role\":\"viewer\"}",
	    u.email, u.password);
	call("POST", "/api/v1/admin/users", A.tok_admin, "create-user-1", body, &r);
	expect(&r, 201, NULL);
	snprintf(id, sizeof(id), "%s", http_json_str(&r, "id"));
	ck_assert(util_uuid_ok(id));
	http_free(&r);
	/* Replay: the same answer, no second user. */
	call("POST", "/api/v1/admin/users", A.tok_admin, "create-user-1", body, &r);
	expect(&r, 201, NULL);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "id"), id);
	http_free(&r);
	/* The same email again under a new key: 409. */
	call("POST", "/api/v1/admin/users", A.tok_admin, "create-user-2", body, &r);
	expect(&r, 409, "/problems/conflict");
	ck_assert_ptr_null(http_header(&r, "Idempotent-Replayed"));
	ck_assert_str_eq(http_json_str(&r, "detail"),
	    "a user with this email exists in this organisation");
	http_free(&r);
	/* That refusal is the key's answer: a replay gets it again, stored. */
	call("POST", "/api/v1/admin/users", A.tok_admin, "create-user-2", body, &r);
	expect(&r, 409, "/problems/conflict");
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "detail"),
	    "a user with this email exists in this organisation");
	http_free(&r);

	/* The new user logs in. */
	login_ok(&u, acc, refresh);

	/* Listed (email opened from its seal) for admin and operator. */
	call("GET", "/api/v1/admin/users", A.tok_op, NULL, NULL, &r);
	expect(&r, 200, NULL);
	list = cJSON_GetObjectItem(http_json(&r), "users");
	cJSON_ArrayForEach(it, list)
		if (strcmp(cJSON_GetObjectItem(it, "id")->valuestring, id) == 0) {
			found = 1;
			ck_assert_str_eq(cJSON_GetObjectItem(it, "email")->valuestring, u.email);
		}
	ck_assert(found);
	http_free(&r);

	/* Disabled: the user's token stops working at once. */
	snprintf(path, sizeof(path), "/api/v1/admin/users/%s/disable", id);
	call("POST", path, A.tok_admin, NULL, NULL, &r);
	expect(&r, 200, NULL);
	http_free(&r);
	call("GET", "/api/v1/auth/me", acc, NULL, NULL, &r);
	expect(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

START_TEST(bad_input)
{
	struct http_resp r;

	call("POST", "/api/v1/admin/users", A.tok_admin, "bad-1",
	    "{\"email\":\"x@example.test\",\"password\":\"long enough pw\",\"role\":\"root\"}", &r);
	expect(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "role");
	http_free(&r);
	call("POST", "/api/v1/admin/users", A.tok_admin, "bad-2",
	    "{\"email\":\"x@example.test\",\"password\":\"short\",\"role\":\"viewer\"}", &r);
	expect(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "password");
	http_free(&r);
	call("POST", "/api/v1/admin/agents", A.tok_admin, "bad-3", "{\"name\":\"a\",\"x\":1}", &r);
	expect(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "x");
	http_free(&r);
	call("POST", "/api/v1/admin/agents", A.tok_admin, NULL, "{\"name\":\"a\"}", &r);
	expect(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	call("POST", "/api/v1/admin/agents", NULL, "bad-4", "{\"name\":\"a\"}", &r);
	expect(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate"));
	http_free(&r);
	call("POST", "/api/v1/admin/agents", "not.a.jwt", "bad-5", "{\"name\":\"a\"}", &r);
	expect(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

/* Every admin route a viewer may not use: 403 naming the role. */
static const struct {
	const char	*method;
	const char	*path;
	const char	*body;
} viewer_denied[] = {
	{ "POST", "/api/v1/admin/users", "{\"email\":\"v@example.test\",\"password\":\"long enough pw\",\"role\":\"viewer\"}" },
	{ "GET", "/api/v1/admin/users", NULL },
	{ "GET", "/api/v1/admin/users/00000000-0000-4000-8000-000000000000", NULL },
	{ "POST", "/api/v1/admin/users/00000000-0000-4000-8000-000000000000/disable", NULL },
	{ "POST", "/api/v1/admin/agents", "{\"name\":\"x\"}" },
	{ "GET", "/api/v1/admin/agents", NULL },
	{ "GET", "/api/v1/admin/agents/00000000-0000-4000-8000-000000000000", NULL },
	{ "POST", "/api/v1/admin/agents/00000000-0000-4000-8000-000000000000/keys", "{}" },
	{ "GET", "/api/v1/admin/agents/00000000-0000-4000-8000-000000000000/keys", NULL },
	{ "POST", "/api/v1/admin/keys/00000000-0000-4000-8000-000000000000/revoke", NULL },
};

START_TEST(viewer_is_403)
{
	struct http_resp r;
	char		 key[32];

	snprintf(key, sizeof(key), "viewer-%d", _i);
	call(viewer_denied[_i].method, viewer_denied[_i].path, A.tok_viewer,
	    viewer_denied[_i].body ? key : NULL, viewer_denied[_i].body, &r);
	expect(&r, 403, "/problems/forbidden");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "admin"));
	http_free(&r);
}
END_TEST

START_TEST(operator_cannot_write)
{
	struct http_resp r;

	call("POST", "/api/v1/admin/agents", A.tok_op, "op-agent", "{\"name\":\"x\"}", &r);
	expect(&r, 403, "/problems/forbidden");
	http_free(&r);
	call("GET", "/api/v1/admin/agents", A.tok_op, NULL, NULL, &r);
	expect(&r, 200, NULL);
	http_free(&r);
}
END_TEST

/* A command with an agent credential, against a fresh context of org A's form. */
static long
command_with(const char *cred, const char *ctx, const char *nonce)
{
	struct http_resp r;
	char		 path[160], body[256];
	long		 st;

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"%s\"}", nonce);
	call("POST", path, cred, NULL, body, &r);
	st = r.status;
	http_free(&r);
	return st;
}

START_TEST(agents_and_keys)
{
	struct http_resp r;
	char		 agent[40], keyid[40], key[96], bkey[96], path[200], args[512], out[1024];
	char		 form[40], ctx[40], tok[64], agent_jwt[TOKSZ];
	const char	*ncmd = "SELECT count(*) FROM commands WHERE ctx_id = $1::uuid";
	cJSON		*j;

	/* A form with a policy in org A, and a tab on it. */
	snprintf(args, sizeof(args), "form-create %s 'Contact' %s/docs/examples/contact-form.json",
	    A.slug, test_env("CB_REPO"));
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	j = cJSON_Parse(out);
	util_strlcpy(form, cJSON_GetObjectItem(j, "form_id")->valuestring, sizeof(form));
	cJSON_Delete(j);
	snprintf(args, sizeof(args), "policy-set %s focus,set_field '#email' 600", form);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_context(form, ctx, tok);

	call("POST", "/api/v1/admin/agents", A.tok_admin, "agent-1", "{\"name\":\"support bot\"}", &r);
	expect(&r, 201, NULL);
	snprintf(agent, sizeof(agent), "%s", http_json_str(&r, "id"));
	http_free(&r);

	snprintf(path, sizeof(path), "/api/v1/admin/agents/%s/keys", agent);
	call("POST", path, A.tok_admin, "key-1", "{\"scopes\":[\"commands:write\",\"commands:read\"],"
	    "\"expires_in_days\":30}", &r);
	expect(&r, 201, NULL);
	snprintf(key, sizeof(key), "%s", http_json_str(&r, "api_key"));
	snprintf(keyid, sizeof(keyid), "%s", http_json_str(&r, "id"));
	ck_assert_int_eq(strncmp(key, "cbk_", 4), 0);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	test_record_secret(key);
	http_free(&r);

	/* A replay says the key exists but never shows the secret again. */
	call("POST", path, A.tok_admin, "key-1", "{\"scopes\":[\"commands:write\",\"commands:read\"],"
	    "\"expires_in_days\":30}", &r);
	expect(&r, 201, NULL);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "id"), keyid);
	ck_assert_ptr_null(strstr(r.body, key));
	http_free(&r);

	/* The key works on the command route, and so does an agent JWT. */
	ck_assert_int_eq(command_with(key, ctx, "admin-key-0001"), 202);
	{
		char a[128];
		const char *h[] = { a, NULL };

		snprintf(a, sizeof(a), "Authorization: Bearer %s", key);
		http_do("POST", "/api/v1/auth/agent-token", h, NULL, 0, &r);
		expect(&r, 200, NULL);
		util_strlcpy(agent_jwt, http_json_str(&r, "access_token"), sizeof(agent_jwt));
		test_record_secret(agent_jwt);
		http_free(&r);
	}
	ck_assert_int_eq(command_with(agent_jwt, ctx, "admin-jwt-0001"), 202);

	/* Listed with its prefix, never its secret. */
	call("GET", path, A.tok_op, NULL, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "keys")), 1);
	ck_assert_ptr_null(strstr(r.body, key + 18));
	http_free(&r);

	/* Another organisation sees none of it. */
	snprintf(path, sizeof(path), "/api/v1/admin/agents/%s", agent);
	call("GET", path, B.tok_admin, NULL, NULL, &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/agents/%s/keys", agent);
	call("GET", path, B.tok_admin, NULL, NULL, &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	call("POST", path, B.tok_admin, "b-key", "{}", &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/keys/%s/revoke", keyid);
	call("POST", path, B.tok_admin, NULL, NULL, &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/users/%s", A.viewer.id);
	call("GET", path, B.tok_admin, NULL, NULL, &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/users/%s/disable", A.viewer.id);
	call("POST", path, B.tok_admin, NULL, NULL, &r);
	expect(&r, 404, "/problems/not-found");
	http_free(&r);
	/* ...and B's agent key cannot drive A's tab (404: it does not exist for
	 * B), while A's own key still can. */
	call("POST", "/api/v1/admin/agents", B.tok_admin, "b-agent-1", "{\"name\":\"b bot\"}", &r);
	expect(&r, 201, NULL);
	snprintf(path, sizeof(path), "/api/v1/admin/agents/%s/keys", http_json_str(&r, "id"));
	http_free(&r);
	call("POST", path, B.tok_admin, "b-key-1", "{\"scopes\":[\"commands:write\"]}", &r);
	expect(&r, 201, NULL);
	util_strlcpy(bkey, http_json_str(&r, "api_key"), sizeof(bkey));
	test_record_secret(bkey);
	http_free(&r);
	ck_assert_int_eq(command_with(bkey, ctx, "admin-bkey-0001"), 404);
	ck_assert_int_eq(testdb_long(ncmd, 1, (const char *[]){ ctx }), 2);
	ck_assert_int_eq(command_with(key, ctx, "admin-key-0002"), 202);
	ck_assert_int_eq(testdb_long(ncmd, 1, (const char *[]){ ctx }), 3);

	/* Revoked: the key and the agent JWT made from it fail at once. */
	snprintf(path, sizeof(path), "/api/v1/admin/keys/%s/revoke", keyid);
	call("POST", path, A.tok_admin, NULL, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_ptr_nonnull(http_json_str(&r, "revoked_at"));
	http_free(&r);
	ck_assert_int_eq(command_with(key, ctx, "admin-key-0003"), 401);
	ck_assert_int_eq(command_with(agent_jwt, ctx, "admin-jwt-0002"), 401);
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite	*s = suite_create("admin");
	TCase	*tc = tcase_create("tenancy");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, users_lifecycle);
	tcase_add_test(tc, bad_input);
	tcase_add_loop_test(tc, viewer_is_403, 0, sizeof(viewer_denied) / sizeof(viewer_denied[0]));
	tcase_add_test(tc, operator_cannot_write);
	tcase_add_test(tc, agents_and_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(admin_suite());
}
