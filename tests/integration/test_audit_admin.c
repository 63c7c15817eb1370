/*
 * Audit rows of admin changes, through nginx and through cb-admin.
 *
 * Each change writes exactly one audit_log row in its own transaction:
 * actor "user:<id>" of the admin who called the route (or "operator" with
 * cli_user for cb-admin), the action, the subject's id, and a detail that
 * holds ids, names and hashes, never an email, a password, an API key, a
 * webhook secret or URL.  A replayed Idempotency-Key writes no second row;
 * a refusal (409 email taken, 422 disabling oneself, 404, 409 a dead
 * letter no longer dead) and a no-op (disabling what is disabled, revoking
 * what is revoked) write none.
 *
 * Covered: user.created, user.disabled, agent.created, api_key.created,
 * api_key.revoked, webhook.created, webhook.secret_rotated,
 * webhook.disabled, webhook.enabled, dead_letter.replayed and
 * dead_letter.discarded through the routes; org.created, org.plan_set,
 * form.created, form.published (with the SHA-256 of the stored definition),
 * agent.created, api_key.created, user.created and dead_letter.discarded
 * through cb-admin.
 */
#include <stdarg.h>
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

static char		 slug[64], org[24], actor[64];
static struct tuser	 admin;
static char		 tok[TOKSZ];

static void
setup(void)
{
	char	 refresh[80];

	new_org(slug, sizeof(slug));
	new_user(slug, "admin", &admin);
	login_ok(&admin, tok, refresh);
	testdb_val(org, sizeof(org), "SELECT id FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ slug });
	snprintf(actor, sizeof(actor), "user:%s", admin.id);
}

static void
call(const char *method, const char *path, const char *idem, const char *body,
    struct http_resp *r)
{
	char		 a[TOKSZ + 32], k[160];
	const char	*h[4];
	int		 n = 0;

	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	h[n++] = a;
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
expect_status(struct http_resp *r, long status)
{
	ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status, r->body);
}

/* Rows of `action` on `subject` (any actor) in organisation `o`. */
static long
rows(const char *o, const char *action, const char *subject)
{
	return testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = $2 AND subject = $3", 3, (const char *[]){ o, action, subject });
}

/*
 * The one row of `action` on `subject` by `who`: its detail, which must
 * not hold any of the NULL-ended `secrets`.
 */
static void
expect_row(const char *o, const char *who, const char *action, const char *subject,
    char *detail, size_t detailsz, ...)
{
	va_list		 ap;
	const char	*s;

	ck_assert_msg(rows(o, action, subject) == 1, "%s on %s: %ld rows, want 1", action,
	    subject, rows(o, action, subject));
	testdb_val(detail, detailsz, "SELECT actor || ' ' || detail::text FROM audit_log"
	    " WHERE org_id = $1::bigint AND action = $2 AND subject = $3", 3,
	    (const char *[]){ o, action, subject });
	ck_assert_msg(strncmp(detail, who, strlen(who)) == 0 && detail[strlen(who)] == ' ',
	    "%s: actor is not %s: %s", action, who, detail);
	va_start(ap, detailsz);
	while ((s = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(s[0] == '\0' || strstr(detail, s) == NULL,
		    "%s: the detail holds a secret: %s", action, detail);
	va_end(ap);
}

/* The secret part of an API key "cbk_<12-character prefix>_<secret>". */
static const char *
key_secret(const char *key)
{
	ck_assert_uint_gt(strlen(key), 4 + 12 + 1);
	return key + 4 + 12 + 1;
}

static void
unique(char *out, size_t outsz, const char *prefix)
{
	char	 r[16];

	util_random_token(r, sizeof(r), 8);
	snprintf(out, outsz, "%s%s", prefix, r);
}

START_TEST(users_created_and_disabled)
{
	struct http_resp r;
	char		 email[96], pw[32], body[512], key[40], id[40], path[128], d[4096];

	snprintf(email, sizeof(email), "audited.%s@example.test", slug);
	util_random_token(pw, sizeof(pw), 16);
	test_record_secret(pw);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"role\":\"viewer\"}",
	    email, pw);
	unique(key, sizeof(key), "u-");
	call("POST", "/api/v1/admin/users", key, body, &r);
	expect_status(&r, 201);
	util_strlcpy(id, http_json_str(&r, "id"), sizeof(id));
	http_free(&r);
	expect_row(org, actor, "user.created", id, d, sizeof(d), email, pw, "@", NULL);
	ck_assert_ptr_nonnull(strstr(d, "\"role\": \"viewer\""));
	/* The same key again: the stored answer, no second row. */
	call("POST", "/api/v1/admin/users", key, body, &r);
	expect_status(&r, 201);
	http_free(&r);
	ck_assert_int_eq(rows(org, "user.created", id), 1);
	/* The email taken (409): nothing written. */
	unique(key, sizeof(key), "u-");
	call("POST", "/api/v1/admin/users", key, body, &r);
	expect_status(&r, 409);
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'user.created' AND actor = $2", 2, (const char *[]){ org, actor }), 1);

	snprintf(path, sizeof(path), "/api/v1/admin/users/%s/disable", id);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	expect_row(org, actor, "user.disabled", id, d, sizeof(d), email, NULL);
	/* Disabled already: no change, no row. */
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	ck_assert_int_eq(rows(org, "user.disabled", id), 1);
	/* Disabling oneself is refused (422): no row. */
	snprintf(path, sizeof(path), "/api/v1/admin/users/%s/disable", admin.id);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 422);
	http_free(&r);
	ck_assert_int_eq(rows(org, "user.disabled", admin.id), 0);
}
END_TEST

START_TEST(agents_and_keys)
{
	struct http_resp r;
	char		 key[40], agent[40], kid[40], apikey[128], path[160], d[4096];

	unique(key, sizeof(key), "a-");
	call("POST", "/api/v1/admin/agents", key, "{\"name\":\"audited-agent\"}", &r);
	expect_status(&r, 201);
	util_strlcpy(agent, http_json_str(&r, "id"), sizeof(agent));
	http_free(&r);
	expect_row(org, actor, "agent.created", agent, d, sizeof(d), NULL);
	ck_assert_ptr_nonnull(strstr(d, "audited-agent"));

	unique(key, sizeof(key), "k-");
	snprintf(path, sizeof(path), "/api/v1/admin/agents/%s/keys", agent);
	call("POST", path, key, "{\"scopes\":[\"commands:read\"]}", &r);
	expect_status(&r, 201);
	util_strlcpy(kid, http_json_str(&r, "id"), sizeof(kid));
	util_strlcpy(apikey, http_json_str(&r, "api_key"), sizeof(apikey));
	test_record_secret(apikey);
	http_free(&r);
	/* The key's secret part never; its public prefix and scopes. */
	expect_row(org, actor, "api_key.created", kid, d, sizeof(d), apikey,
	    key_secret(apikey), NULL);
	ck_assert_ptr_nonnull(strstr(d, agent));
	ck_assert_ptr_nonnull(strstr(d, "commands:read"));
	/* The API and cb-admin write it alike (lib/agents.h): scopes an array, expiry UTC. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'api_key.created'"
	    " AND subject = $1 AND detail->'scopes' = '[\"commands:read\"]'::jsonb"
	    " AND detail->>'expires_at' LIKE '____-__-__T__:__:__Z'", 1, (const char *[]){ kid }), 1);
	/* A replay of the key's creation writes nothing more. */
	call("POST", path, key, "{\"scopes\":[\"commands:read\"]}", &r);
	expect_status(&r, 201);
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'api_key.created'", 1, (const char *[]){ org }), 1);

	snprintf(path, sizeof(path), "/api/v1/admin/keys/%s/revoke", kid);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	expect_row(org, actor, "api_key.revoked", kid, d, sizeof(d), apikey, NULL);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	ck_assert_int_eq(rows(org, "api_key.revoked", kid), 1);
	/* Another organisation's or no such key (404): nothing. */
	call("POST", "/api/v1/admin/keys/00000000-0000-4000-8000-000000000000/revoke", NULL,
	    NULL, &r);
	expect_status(&r, 404);
	http_free(&r);
	ck_assert_int_eq(rows(org, "api_key.revoked", "00000000-0000-4000-8000-000000000000"), 0);
}
END_TEST

START_TEST(webhook_endpoints)
{
	struct fakehooks_hook h;
	struct http_resp r;
	char		 url[256], key[40], path[160], secret[128], d[4096];

	fakehooks_new_hook(tok, "[\"submission.created\"]", &h);
	fakehooks_hook_url(h.name, url, sizeof(url));
	expect_row(org, actor, "webhook.created", h.id, d, sizeof(d), h.secret, url, h.name,
	    NULL);
	ck_assert_ptr_nonnull(strstr(d, "submission.created"));
	ck_assert_ptr_nonnull(strstr(d, "url_sha256"));

	unique(key, sizeof(key), "rot-");
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/rotate-secret", h.id);
	call("POST", path, key, NULL, &r);
	expect_status(&r, 200);
	util_strlcpy(secret, http_json_str(&r, "secret"), sizeof(secret));
	test_record_secret(secret);
	http_free(&r);
	expect_row(org, actor, "webhook.secret_rotated", h.id, d, sizeof(d), secret, h.secret,
	    NULL);
	call("POST", path, key, NULL, &r);	/* a replay */
	expect_status(&r, 200);
	http_free(&r);
	ck_assert_int_eq(rows(org, "webhook.secret_rotated", h.id), 1);

	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/disable", h.id);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	call("POST", path, NULL, NULL, &r);	/* already disabled: no change */
	expect_status(&r, 200);
	http_free(&r);
	expect_row(org, actor, "webhook.disabled", h.id, d, sizeof(d), NULL);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/enable", h.id);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 200);
	http_free(&r);
	expect_row(org, actor, "webhook.enabled", h.id, d, sizeof(d), NULL);
}
END_TEST

/* A dead letter of this organisation, of a kind no sink takes (left alone). */
static void
dead_letter(char *id, size_t idsz)
{
	testdb_val(id, idsz, "INSERT INTO outbox (org_id, kind, payload, state, dead_at,"
	    " last_error) VALUES ($1::bigint, 'test.audit_admin', '{\"x\":\"payload-value\"}',"
	    " 'dead', now(), 'boom') RETURNING id", 1, (const char *[]){ org });
}

START_TEST(dead_letters)
{
	struct http_resp r;
	char		 a[24], b[24], path[128], args[256], out[2048], d[4096];

	dead_letter(a, sizeof(a));
	dead_letter(b, sizeof(b));
	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters/%s/replay", a);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 202);
	http_free(&r);
	expect_row(org, actor, "dead_letter.replayed", a, d, sizeof(d), "payload-value", "boom",
	    NULL);
	ck_assert_ptr_nonnull(strstr(d, "test.audit_admin"));
	/* Not dead any more (409): nothing more. */
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 409);
	http_free(&r);
	ck_assert_int_eq(rows(org, "dead_letter.replayed", a), 1);
	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters/%s/discard", a);
	call("POST", path, NULL, NULL, &r);
	expect_status(&r, 409);
	http_free(&r);
	ck_assert_int_eq(rows(org, "dead_letter.discarded", a), 0);

	/* The CLI: actor operator. */
	snprintf(args, sizeof(args), "dead-letters discard %s %s", slug, b);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	expect_row(org, "operator", "dead_letter.discarded", b, d, sizeof(d), "payload-value",
	    NULL);
	testdb_exec("DELETE FROM outbox WHERE id IN ($1::bigint, $2::bigint)", 2,
	    (const char *[]){ a, b });
}
END_TEST

/* The member `m` of cb-admin's JSON answer. */
static void
take(const char *json, const char *m, char *out, size_t outsz)
{
	cJSON	*j = cJSON_Parse(json), *v;

	ck_assert_msg(j != NULL, "no JSON: %s", json);
	v = cJSON_GetObjectItem(j, m);
	if (cJSON_IsString(v))
		util_strlcpy(out, v->valuestring, outsz);
	else if (cJSON_IsNumber(v))
		snprintf(out, outsz, "%.0f", v->valuedouble);
	else
		ck_abort_msg("no %s in %s", m, json);
	cJSON_Delete(j);
}

START_TEST(operator_cli)
{
	struct tuser	 u;
	char		 s2[64], o2[24], args[512], out[2048], form[40], agent[40], kid[40];
	char		 apikey[128], d[4096], sha[80];

	snprintf(s2, sizeof(s2), "aud-cli-%ld-%u", (long)getpid(), (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Audited CLI'", s2);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	take(out, "org_id", o2, sizeof(o2));
	expect_row(o2, "operator", "org.created", o2, d, sizeof(d), NULL);
	ck_assert_ptr_nonnull(strstr(d, "\"cli_user\": \"cli:"));
	/* Creating it again changes nothing: no second row. */
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_int_eq(rows(o2, "org.created", o2), 1);
	snprintf(args, sizeof(args), "org-plan %s team", s2);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	expect_row(o2, "operator", "org.plan_set", o2, d, sizeof(d), NULL);

	snprintf(args, sizeof(args), "form-create %s 'Audited form' %s/docs/examples/contact-form.json",
	    s2, test_env("CB_REPO"));
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	take(out, "form_id", form, sizeof(form));
	expect_row(o2, "operator", "form.created", form, d, sizeof(d), NULL);
	snprintf(args, sizeof(args), "form-publish %s %s/docs/examples/contact-form.json", form,
	    test_env("CB_REPO"));
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_int_eq(rows(o2, "form.published", form), 2);
	/* Version 2's row holds the hash of version 2's definition as stored. */
	testdb_val(sha, sizeof(sha), "SELECT encode(sha256(convert_to(definition::text, 'UTF8')),"
	    " 'hex') FROM form_versions WHERE form_id = $1 AND version = 2", 1,
	    (const char *[]){ form });
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'form.published'"
	    " AND subject = $1 AND detail->>'version' = '2' AND detail->>'definition_sha256' = $2"
	    " AND NOT detail ? 'definition'", 2, (const char *[]){ form, sha }), 1);

	snprintf(args, sizeof(args), "agent-create %s cli-agent", s2);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	take(out, "agent_id", agent, sizeof(agent));
	expect_row(o2, "operator", "agent.created", agent, d, sizeof(d), NULL);
	snprintf(args, sizeof(args), "key-create %s", agent);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	take(out, "key_id", kid, sizeof(kid));
	take(out, "api_key", apikey, sizeof(apikey));
	test_record_secret(apikey);
	expect_row(o2, "operator", "api_key.created", kid, d, sizeof(d), apikey,
	    key_secret(apikey), NULL);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'api_key.created'"
	    " AND subject = $1 AND detail->'scopes' = '[\"commands:write\", \"commands:read\"]'::jsonb"
	    " AND detail->'expires_at' = 'null'::jsonb", 1, (const char *[]){ kid }), 1);

	new_user(s2, "operator", &u);
	expect_row(o2, "operator", "user.created", u.id, d, sizeof(d), u.email, u.password, "@",
	    NULL);
	/*
	 * One actor form for every cb-admin row, through code the API shares
	 * too (lib/mtls.c, lib/policygov.c): "operator", who ran it in
	 * cli_user; never the runner as the actor.
	 */
	snprintf(args, sizeof(args), "agent-mtls %s --subject 'CN=cli-agent,O=Audit'", agent);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	expect_row(o2, "operator", "agent.mtls_set", agent, d, sizeof(d), NULL);
	ck_assert_ptr_nonnull(strstr(d, "\"cli_user\": \"cli:"));
	snprintf(args, sizeof(args), "key-mtls %s --subject 'CN=cli-key,O=Audit'", kid);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	expect_row(o2, "operator", "api_key.mtls_set", kid, d, sizeof(d), NULL);
	ck_assert_ptr_nonnull(strstr(d, "\"cli_user\": \"cli:"));
	snprintf(args, sizeof(args), "policy-set %s set_field '#email' 60", form);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	expect_row(o2, "operator", "policy.changed", form, d, sizeof(d), NULL);
	ck_assert_ptr_nonnull(strstr(d, "\"cli_user\": \"cli:"));
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND (actor LIKE 'cli:%' OR (actor = 'operator' AND NOT detail ? 'cli_user'))", 1,
	    (const char *[]){ o2 }), 0);
	/* A refused command (no such organisation) writes nothing. */
	snprintf(args, sizeof(args), "agent-create no-such-org-%s x", s2);
	ck_assert_int_ne(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'agent.created'"
	    " AND detail->>'name' = 'x' AND at > now() - interval '1 minute'", 0, NULL), 0);
}
END_TEST

static Suite *
audit_admin_suite(void)
{
	Suite	*s = suite_create("audit_admin");
	TCase	*tc = tcase_create("changes");

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, users_created_and_disabled);
	tcase_add_test(tc, agents_and_keys);
	tcase_add_test(tc, webhook_endpoints);
	tcase_add_test(tc, dead_letters);
	tcase_add_test(tc, operator_cli);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(audit_admin_suite());
}
