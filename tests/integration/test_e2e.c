/*
 * The end-to-end path over HTTP through nginx: tab contexts, form load
 * pinned to a version, agent commands checked against the policy, and the
 * exactly-once submit (Idempotency-Key).  The WebSocket half is in
 * test_channel, delivery to Salesforce in test_delivery.
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
#include "kv.h"
#include "seed.h"
#include "testdb.h"

#define JSON_CT	"Content-Type: application/json"

static long
count_rows(const char *sql, const char *arg)
{
	return testdb_long(sql, 1, (const char *[]){ arg });
}

static void
post_json(const char *path, const char *auth, const char *extra, const char *body,
    struct http_resp *r)
{
	char		 a[160];
	const char	*h[4];
	int		 n = 0;

	h[n++] = JSON_CT;
	if (auth) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
		h[n++] = a;
	}
	if (extra)
		h[n++] = extra;
	h[n] = NULL;
	http_do("POST", path, h, body, strlen(body), r);
}

static void
get_auth(const char *path, const char *auth, struct http_resp *r)
{
	char		 a[160];
	const char	*h[2] = { a, NULL };

	if (auth == NULL) {
		http_do("GET", path, NULL, NULL, 0, r);
		return;
	}
	snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
	http_do("GET", path, h, NULL, 0, r);
}

START_TEST(context_and_form_load)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], body[160], *first;
	cJSON		*def;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	ck_assert_int_eq(strncmp(tok, "tab_", 4), 0);

	snprintf(path, sizeof(path), "/api/v1/forms/%s", s.form_id);
	get_auth(path, tok, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Form-Version"), "1");
	def = cJSON_GetObjectItem(http_json(&r), "definition");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(def, "fields")), 5);
	ck_assert_ptr_null(http_header(&r, "Form-Version-Latest"));

	/*
	 * The definition is now in the Redis cache, and a load is served from
	 * it, not from Postgres.  A responder may also answer from its own
	 * memory (lib/memo) what it loaded itself, so the proof takes a version
	 * no responder has loaded: version 2 is published, a tab pinned to it,
	 * its Redis entry replaced by a marked copy before its first load
	 * (Postgres keeps the real one: a published version cannot change
	 * there), and that load must answer the marked copy.
	 */
	{
		struct kv	*kv = testdb_kv_open();
		struct kv_reply	*rep = NULL;
		char		 key[96], org[40], marker[40], fdef[300], ctx2[40], tok2[64], *marked;
		struct buf	 entry;
		cJSON		*cached;
		size_t		 len = 0;
		const char	*v;

		snprintf(key, sizeof(key), "cb:formdef:%s:1", s.form_id);
		ck_assert_int_eq(kv_cmd(kv, &rep, 2, (const char *[]){ "GET", key }, NULL), CB_OK);
		/* "<the form's organisation id>|<definition>" */
		ck_assert_ptr_nonnull(v = kv_reply_str(rep, &len));
		testdb_val(org, sizeof(org), "SELECT org_id FROM forms WHERE id = $1::uuid", 1,
		    (const char *[]){ s.form_id });
		ck_assert_msg(len > strlen(org) && strncmp(v, org, strlen(org)) == 0 &&
		    v[strlen(org)] == '|', "cache entry %.*s", (int)len, v);
		ck_assert_ptr_nonnull(cached = cJSON_ParseWithLength(v + strlen(org) + 1,
		    len - strlen(org) - 1));
		ck_assert_msg(cJSON_Compare(cached, def, 1), "the cached definition differs");
		kv_reply_free(rep);
		ck_assert_ptr_nonnull(first = strdup(r.body));
		http_free(&r);
		/* Served again the same (from this cache or a responder's memory). */
		get_auth(path, tok, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, first);
		http_free(&r);
		free(first);

		snprintf(fdef, sizeof(fdef), "%s/docs/examples/contact-form.json", test_env("CB_REPO"));
		ck_assert_int_eq(seed_publish(s.form_id, fdef), 0);
		seed_context(s.form_id, ctx2, tok2);
		snprintf(key, sizeof(key), "cb:formdef:%s:2", s.form_id);
		snprintf(marker, sizeof(marker), "redis-%ld", (long)getpid());
		cJSON_AddStringToObject(cached, "served_from", marker);
		ck_assert_ptr_nonnull(marked = cJSON_PrintUnformatted(cached));
		buf_init(&entry, 0);
		ck_assert_int_eq(buf_printf(&entry, "%s|%s", org, marked), CB_OK);
		ck_assert_int_eq(kv_cmd(kv, NULL, 5,
		    (const char *[]){ "SET", key, buf_cstr(&entry), "EX", "600" }, NULL), CB_OK);
		get_auth(path, tok2, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(http_header(&r, "Form-Version"), "2");
		ck_assert_msg(cJSON_Compare(cJSON_GetObjectItem(http_json(&r), "definition"), cached, 1),
		    "version 2 was not served from its Redis entry: %s", r.body);
		http_free(&r);
		buf_free(&entry);
		cJSON_free(marked);
		cJSON_Delete(cached);
		kv_close(kv);
	}

	get_auth(path, NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	get_auth(path, "tab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	/* A form the context did not pin: 404, whoever owns it. */
	get_auth("/api/v1/forms/00000000-0000-4000-8000-000000000000", tok, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);

	post_json("/api/v1/contexts", NULL, NULL, "{\"form_id\":", &r);
	http_expect_problem(&r, 400, "/problems/malformed-json");
	http_free(&r);
	snprintf(body, sizeof(body), "{\"form_id\":\"%s\",\"extra\":1}", s.form_id);
	post_json("/api/v1/contexts", NULL, NULL, body, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "extra");
	http_free(&r);
	post_json("/api/v1/contexts", NULL, NULL, "{\"form_id\":\"not-a-uuid\"}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "form_id");
	http_free(&r);
	post_json("/api/v1/contexts", NULL, NULL, "{\"form_id\":42}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	http_free(&r);
	post_json("/api/v1/contexts", NULL, NULL,
	    "{\"form_id\":\"00000000-0000-4000-8000-000000000000\"}", &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	{
		const char *h[] = { "Content-Type: text/plain", NULL };

		http_do("POST", "/api/v1/contexts", h, "{}", 2, &r);
		http_expect_problem(&r, 415, "/problems/unsupported-media-type");
		http_free(&r);
	}
}
END_TEST

static void
send_cmd(const char *key, const char *ctx, const char *type, const char *sel,
    const char *value_json, const char *nonce, struct http_resp *r)
{
	char	 path[160], body[512];

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"%s\",\"selector\":%s%s%s,%s%s%s\"nonce\":\"%s\"}",
	    type, sel ? "\"" : "", sel ? sel : "null", sel ? "\"" : "",
	    value_json ? "\"value\":" : "", value_json ? value_json : "", value_json ? "," : "", nonce);
	post_json(path, key, NULL, body, r);
}

START_TEST(commands_policy_and_tenancy)
{
	struct seed	 s, other;
	struct http_resp r;
	char		 ctx[40], tok[64], id[40], path[160], nonce[32];
	int		 i;

	seed_tenant(&s);
	seed_tenant(&other);
	seed_context(s.form_id, ctx, tok);

	for (i = 1; i <= 3; i++) {
		snprintf(nonce, sizeof(nonce), "nonce-%08d", i);
		send_cmd(s.api_key, ctx, "set_field", "#email", "\"jane@example.com\"", nonce, &r);
		ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
		ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, i);
		ck_assert_str_eq(http_json_str(&r, "state"), "queued");
		snprintf(id, sizeof(id), "%s", http_json_str(&r, "id"));
		ck_assert_ptr_nonnull(http_header(&r, "Location"));
		http_free(&r);
	}
	snprintf(path, sizeof(path), "/api/v1/commands/%s", id);
	get_auth(path, s.api_key, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, 3);
	ck_assert_str_eq(http_json_str(&r, "ctx_ref"), ctx);
	http_free(&r);

	/* Off-list selector and a type the policy does not allow: 403, nothing stored. */
	send_cmd(s.api_key, ctx, "set_field", "#password", "\"x\"", "nonce-off-list", &r);
	http_expect_problem(&r, 403, "/problems/policy-denied");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "#password"));
	http_free(&r);
	{
		char args[256], out[512];

		snprintf(args, sizeof(args), "policy-set %s set_field '#email' 600", s.form_id);
		ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
		/* Responders cache a policy for POLICY_MEMO_MS (1 s): past it, the new one holds. */
		test_sleep_ms(1500);
	}
	send_cmd(s.api_key, ctx, "show_message", NULL, "\"hello\"", "nonce-forbidden", &r);
	http_expect_problem(&r, 403, "/problems/policy-denied");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "show_message"));
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM commands WHERE ctx_id = $1", ctx), 3);

	/* Replay of a nonce. */
	send_cmd(s.api_key, ctx, "set_field", "#email", "\"x@example.com\"", "nonce-00000001", &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM commands WHERE ctx_id = $1", ctx), 3);

	/* Bad bodies. */
	send_cmd(s.api_key, ctx, "teleport", "#email", NULL, "nonce-bad-type", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "type");
	http_free(&r);
	send_cmd(s.api_key, ctx, "set_field", NULL, "\"x\"", "nonce-no-sel", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "selector");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	post_json(path, s.api_key, NULL, "{\"type\":\"focus\",\"selector\":\"#email\"}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "nonce");
	http_free(&r);

	/* Credentials. */
	send_cmd(NULL, ctx, "focus", "#email", NULL, "nonce-no-key1", &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	send_cmd("cbk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ctx, "focus",
	    "#email", NULL, "nonce-bad-key1", &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);

	/* Another tenant's agent: the context and the command do not exist for it. */
	send_cmd(other.api_key, ctx, "set_field", "#email", "\"x\"", "nonce-other-1", &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	/* Its listing of this context's commands is empty, while the owner's is not. */
	snprintf(path, sizeof(path), "/api/v1/commands?state=queued&ctx_ref=%s", ctx);
	get_auth(path, other.api_key, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "commands")), 0);
	http_free(&r);
	get_auth(path, s.api_key, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "commands")), 0);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/commands/%s", id);
	get_auth(path, other.api_key, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM commands WHERE ctx_id = $1", ctx), 3);
}
END_TEST

/* An agent's expires_in_ms is kept with no tab at all: the command reads expired. */
START_TEST(command_expires_without_a_tab)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], id[40], path[160];
	const char	*st = NULL;
	int		 waited;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	post_json(path, s.api_key, NULL, "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"jane@example.com\",\"nonce\":\"nonce-expiring-1\","
	    "\"expires_in_ms\":1000}", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	snprintf(id, sizeof(id), "%s", http_json_str(&r, "id"));
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/commands/%s", id);
	for (waited = 0; waited < 10000; waited += 250) {
		get_auth(path, s.api_key, &r);
		ck_assert_int_eq(r.status, 200);
		st = http_json_str(&r, "state");
		if (st != NULL && strcmp(st, "expired") == 0)
			break;
		ck_assert_str_eq(st, "queued");
		http_free(&r);
		test_sleep_ms(250);
	}
	ck_assert_msg(waited < 10000, "the command never read expired");
	ck_assert_str_eq(http_json_str(&r, "reason"), "expired before it could be sent");
	ck_assert_ptr_nonnull(http_json_str(&r, "finished_at"));
	ck_assert_ptr_null(http_json_str(&r, "delivered_at"));
	http_free(&r);
}
END_TEST

START_TEST(commands_rate_limited)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], nonce[32], args[256], out[512];
	int		 i, limited = 0;

	seed_tenant(&s);
	snprintf(args, sizeof(args), "policy-set %s set_field,focus '#email' 3", s.form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_context(s.form_id, ctx, tok);
	for (i = 0; i < 5; i++) {
		snprintf(nonce, sizeof(nonce), "rate-%08d", i);
		send_cmd(s.api_key, ctx, "focus", "#email", NULL, nonce, &r);
		if (r.status == 429) {
			limited++;
			http_expect_problem(&r, 429, "/problems/rate-limited");
			ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
			ck_assert_int_ge(strtol(http_header(&r, "Retry-After"), NULL, 10), 1);
		} else
			ck_assert_int_eq(r.status, 202);
		http_free(&r);
	}
	ck_assert_int_eq(limited, 2);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM commands WHERE ctx_id = $1", ctx), 3);
}
END_TEST

static const char submit_body[] =
    "{\"data\":{\"full_name\":\"Jane Doe\",\"email\":\"jane@example.com\",\"topic\":\"sales\"}}";

START_TEST(submit_exactly_once)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], first[512], sub[40];

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);

	post_json(path, tok, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"", submit_body, &r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	snprintf(first, sizeof(first), "%s", r.body);
	snprintf(sub, sizeof(sub), "%s", http_json_str(&r, "submission_id"));
	ck_assert_ptr_null(http_header(&r, "Idempotent-Replayed"));
	http_free(&r);

	post_json(path, tok, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"", submit_body, &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(r.body, first);
	http_free(&r);

	post_json(path, tok, "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
	    "{\"data\":{\"full_name\":\"Someone Else\",\"email\":\"s@example.com\"}}", &r);
	http_expect_problem(&r, 422, "/problems/idempotency-key-reused");
	http_free(&r);

	post_json(path, tok, NULL, submit_body, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	post_json(path, tok, "Idempotency-Key: \"half-quoted", submit_body, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);

	ck_assert_int_eq(count_rows("SELECT count(*) FROM submissions WHERE ctx_id = $1", ctx), 1);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid", sub), 1);

	/* A bare token is tolerated: a second, distinct submission (other data). */
	post_json(path, tok, "Idempotency-Key: bare-token-key-2",
	    "{\"data\":{\"full_name\":\"Jane Doe\",\"email\":\"jane@example.com\",\"topic\":\"billing\"}}", &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM submissions WHERE ctx_id = $1", ctx), 2);

	/* Invalid data: 400 naming the field, and nothing written. */
	post_json(path, tok, "Idempotency-Key: \"bad-data-1\"",
	    "{\"data\":{\"full_name\":\"Jane\",\"email\":\"not-an-email\"}}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "data.email");
	http_free(&r);
	post_json(path, tok, "Idempotency-Key: \"bad-data-2\"", "{\"data\":{\"email\":\"j@example.com\"}}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "data.full_name");
	http_free(&r);
	post_json(path, tok, "Idempotency-Key: \"bad-data-3\"",
	    "{\"data\":{\"full_name\":\"J\",\"email\":\"j@example.com\",\"ssn\":\"1\"}}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "data.ssn");
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM submissions WHERE ctx_id = $1", ctx), 2);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1", ctx), 2);

	post_json(path, NULL, "Idempotency-Key: \"no-auth\"", submit_body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

START_TEST(submit_in_flight_is_409)
{
	struct seed	 s;
	struct http_resp r;
	struct db	*db;
	struct db_res	*res = NULL;
	char		 ctx[40], tok[64], path[160], scope[64], org[24];

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
	snprintf(scope, sizeof(scope), "ctx:%s", ctx);

	/* Hold the key the way a first, still-running request holds it. */
	db = db_open(test_env("CB_PG_DSN"));
	ck_assert_int_eq(db_query(db, &res, "SELECT org_id FROM contexts WHERE id = $1", 1,
	    (const char *[]){ ctx }), CB_OK);
	snprintf(org, sizeof(org), "%s", db_val(res, 0, 0));
	db_res_free(res);
	ck_assert_int_eq(db_begin(db), CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO idempotency_keys (org_id, scope, idem_key, method,"
	    " path, fingerprint, status, response) VALUES ($1, $2, 'in-flight-key', 'POST', $3,"
	    " '\\x00', 0, '')", 3, (const char *[]){ org, scope, path }), CB_OK);

	post_json(path, tok, "Idempotency-Key: \"in-flight-key\"", submit_body, &r);
	http_expect_problem(&r, 409, "/problems/idempotency-key-in-flight");
	http_free(&r);
	ck_assert_int_eq(db_rollback(db), CB_OK);
	db_close(db);

	/* The first request "failed": the key is free again. */
	post_json(path, tok, "Idempotency-Key: \"in-flight-key\"", submit_body, &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);
}
END_TEST

START_TEST(submit_old_version_is_409)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], ctx2[40], tok2[64], path[160], fpath[160], def[300];
	cJSON		*j;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(def, sizeof(def), "%s/docs/examples/contact-form.json", test_env("CB_REPO"));
	ck_assert_int_eq(seed_publish(s.form_id, def), 0);

	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
	post_json(path, tok, "Idempotency-Key: \"old-version-1\"", submit_body, &r);
	http_expect_problem(&r, 409, "/problems/form-version-stale");
	j = http_json(&r);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "refresh")));
	ck_assert_int_eq((int)cJSON_GetObjectItem(j, "current_version")->valuedouble, 2);
	http_free(&r);
	ck_assert_int_eq(count_rows("SELECT count(*) FROM submissions WHERE ctx_id = $1", ctx), 0);

	/* The old tab still reads the version it pinned, told a newer one exists. */
	snprintf(fpath, sizeof(fpath), "/api/v1/forms/%s", s.form_id);
	get_auth(fpath, tok, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Form-Version"), "1");
	ck_assert_str_eq(http_header(&r, "Form-Version-Latest"), "2");
	http_free(&r);

	/* A refreshed tab pins v2 and submits. */
	seed_context(s.form_id, ctx2, tok2);
	get_auth(fpath, tok2, &r);
	ck_assert_str_eq(http_header(&r, "Form-Version"), "2");
	http_free(&r);
	post_json(path, tok2, "Idempotency-Key: \"new-version-1\"", submit_body, &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);
}
END_TEST

static Suite *
e2e_suite(void)
{
	Suite	*s = suite_create("e2e");
	TCase	*tc = tcase_create("http");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, context_and_form_load);
	tcase_add_test(tc, commands_policy_and_tenancy);
	tcase_add_test(tc, commands_rate_limited);
	tcase_add_test(tc, command_expires_without_a_tab);
	tcase_add_test(tc, submit_exactly_once);
	tcase_add_test(tc, submit_in_flight_is_409);
	tcase_add_test(tc, submit_old_version_is_409);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(e2e_suite());
}
