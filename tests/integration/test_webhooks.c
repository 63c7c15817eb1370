/*
 * Tenants' webhooks through the real stack: endpoints managed over the
 * admin routes (the secret shown once, never listed, never replayed;
 * tenant-scoped, role-gated, every bad input a problem naming its field),
 * and events delivered by the worker to the bundled fake receivers, which
 * verify every Standard Webhooks signature independently: submission.created
 * and .delivered, command.applied and .failed; the same webhook-id on a
 * retry; Retry-After honoured; both signatures during a rotation's overlap
 * and only the new one after it; 410 Gone and a failure clock that ran out
 * disable the endpoint (alert raised, later rows dead "endpoint disabled");
 * an internal destination refused at creation, and, forced into the table,
 * refused by the egress guard with nothing sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "events.h"
#include "fakehooks.h"
#include "http.h"
#include "outbox.h"
#include "people.h"
#include "seed.h"
#include "stdwh.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"
#include "ws.h"

#define CREATED		"[\"submission.created\"]"
#define WAIT_MS		15000

struct org {
	struct seed	 s;
	char		 org_id[24];
	struct tuser	 admin, op, viewer;
	char		 tok_admin[TOKSZ], tok_op[TOKSZ], tok_viewer[TOKSZ];
};

static struct org A, B;

/* ---- helpers ---------------------------------------------------------- */

static void
call(const char *method, const char *path, const char *token, const char *key,
    const char *body, struct http_resp *r)
{
	http_as(method, path, token, key, body, r);
}

static void
unique(char *out, size_t outsz, const char *prefix)
{
	fakehooks_unique(out, outsz, prefix);
}

static void
create_body(char *out, size_t outsz, const char *url, const char *types)
{
	snprintf(out, outsz, "{\"url\":\"%s\",\"event_types\":%s,\"description\":\"test\"}", url,
	    types);
}

/* An endpoint of org o at a new receiver of the fake, registered there with its secret. */
static void
new_hook(struct org *o, struct fakehooks_hook *h, const char *types)
{
	fakehooks_new_hook(o->tok_admin, types, h);
}

/* A submission from a new tab; its id into out. */
static void
submit(struct org *o, char out[40])
{
	char	 key[40];

	unique(key, sizeof(key), "sub-");
	submit_form_new_tab(o->s.form_id, key,
	    "{\"data\":{\"full_name\":\"Jane Hook\",\"email\":\"jane.hook@example.com\"}}", out);
}

/* One value of a one-row query (NULL -> ""), into out. */
static void
sql_val(const char *sql, const char *a1, const char *a2, char *out, size_t outsz)
{
	testdb_one(NULL, out, outsz, sql, a2 ? 2 : 1, (const char *[]){ a1, a2 });
}

/*
 * Wait for the webhook row of (submission or command ref, endpoint) to reach
 * state; its last_error into err.  1 if it did.
 */
static int
row_wait(const char *ref, const char *endpoint, const char *state, char *err, size_t errsz)
{
	struct outbox_sel	 sel = { .ref = ref, .kind = "webhook.deliver", .endpoint = endpoint };
	struct outbox_row	 row;

	if (!outbox_wait_sel(&sel, state, 0, WAIT_MS, &row))
		return 0;
	if (err != NULL)
		util_strlcpy(err, row.error, errsz);
	return 1;
}

/* Deliveries to `name` after seq `since`, once there are at least n (asserted). */
static cJSON *
deliveries(const char *name, long since, int n)
{
	return fakehooks_deliveries_wait(name, since, n, WAIT_MS);
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long
jnum(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
	return (long)v->valuedouble;
}

static int
jtrue(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The delivery of `type` in arr (NULL if none). */
static const cJSON *
of_type(const cJSON *arr, const char *type)
{
	const cJSON	*d;

	cJSON_ArrayForEach(d, arr)
		if (jstr(d, "type") && strcmp(jstr(d, "type"), type) == 0)
			return d;
	return NULL;
}

static void
get_hook(struct org *o, const char *id, struct http_resp *r)
{
	char	 path[160];

	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s", id);
	call("GET", path, o->tok_op, NULL, NULL, r);
	ck_assert_msg(r->status == 200, "get: %ld %s", r->status, r->body);
}

static void
org_setup(struct org *o)
{
	char	 refresh[80];

	seed_tenant(&o->s);
	new_user(o->s.slug, "admin", &o->admin);
	new_user(o->s.slug, "operator", &o->op);
	new_user(o->s.slug, "viewer", &o->viewer);
	util_strlcpy(o->org_id, o->admin.org, sizeof(o->org_id));
	reset_limits(NULL, NULL);
	login_ok(&o->admin, o->tok_admin, refresh);
	login_ok(&o->op, o->tok_op, refresh);
	login_ok(&o->viewer, o->tok_viewer, refresh);
}

static void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	org_setup(&A);
	org_setup(&B);
}

/* ---- the admin routes ------------------------------------------------ */

START_TEST(create_shows_secret_once_and_replay_hides_it)
{
	struct http_resp r;
	struct stdwh_key k;
	char		 url[256], body[512], key[48], id[40];

	fakehooks_hook_url("create-once", url, sizeof(url));
	create_body(body, sizeof(body), url, "[\"submission.created\",\"command.failed\"]");
	unique(key, sizeof(key), "create-");
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, key, body, &r);
	ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	test_record_secret(http_json_str(&r, "secret"));
	ck_assert_int_eq(stdwh_key_parse(http_json_str(&r, "secret"), &k), CB_OK);
	ck_assert_uint_eq(k.len, 32);
	stdwh_key_wipe(&k);
	ck_assert_str_eq(http_json_str(&r, "url"), url);
	ck_assert_str_eq(http_json_str(&r, "description"), "test");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "event_types")), 2);
	ck_assert(jtrue(http_json(&r), "enabled"));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "prev_until")));
	util_strlcpy(id, http_json_str(&r, "id"), sizeof(id));
	http_free(&r);

	/* The same key again: the stored answer, without the secret. */
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, key, body, &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "id"), id);
	ck_assert_ptr_null(cJSON_GetObjectItem(http_json(&r), "secret"));
	ck_assert_ptr_null(strstr(r.body, "whsec_"));
	http_free(&r);

	/* At rest: sealed, bound to its row. */
	sql_val("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1::uuid", id, NULL, body,
	    sizeof(body));
	ck_assert_int_eq(strncmp(body, "v1.", 3), 0);
	ck_assert_ptr_null(strstr(body, "whsec_"));
	/* No receiver stands behind it: off, before other tests submit. */
	snprintf(url, sizeof(url), "/api/v1/admin/webhooks/%s/disable", id);
	call("POST", url, A.tok_admin, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "disabled_reason"), "disabled by an admin");
	http_free(&r);
}
END_TEST

START_TEST(list_and_get_never_show_secrets)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 path[160];

	new_hook(&A, &h, CREATED);
	call("GET", "/api/v1/admin/webhooks", A.tok_op, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "list: %ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, h.id));
	ck_assert_ptr_null(strstr(r.body, "whsec_"));
	ck_assert_ptr_null(strstr(r.body, "secret\""));
	http_free(&r);
	get_hook(&A, h.id, &r);
	ck_assert_str_eq(http_json_str(&r, "id"), h.id);
	ck_assert(jtrue(http_json(&r), "enabled"));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "disabled_reason")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "failing_since")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "prev_until")));
	ck_assert_ptr_null(strstr(r.body, "whsec_"));
	http_free(&r);
	/* An admin reads too; B does not see A's endpoint. */
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s", h.id);
	call("GET", path, A.tok_admin, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	call("GET", "/api/v1/admin/webhooks", B.tok_admin, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, h.id));
	http_free(&r);
}
END_TEST

static const char *const id_actions[] = { "", "/rotate-secret", "/disable", "/enable" };

START_TEST(other_tenant_and_bad_ids_are_404)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 path[200];
	const char	*m = _i == 0 ? "GET" : "POST";

	new_hook(&A, &h, CREATED);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s%s", h.id, id_actions[_i]);
	call(m, path, B.tok_admin, _i == 1 ? "rot-b" : NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/not-a-uuid%s", id_actions[_i]);
	call(m, path, A.tok_admin, _i == 1 ? "rot-x" : NULL, NULL, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	/* A's endpoint is untouched. */
	get_hook(&A, h.id, &r);
	ck_assert(jtrue(http_json(&r), "enabled"));
	http_free(&r);
}
END_TEST

START_TEST(roles_and_authentication)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 path[200], body[300];

	new_hook(&A, &h, CREATED);
	create_body(body, sizeof(body), "https://hooks.example.com/x", CREATED);
	/* A viewer reads nothing; an operator reads but writes nothing. */
	call("GET", "/api/v1/admin/webhooks", A.tok_viewer, NULL, NULL, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	ck_assert_ptr_nonnull(strstr(r.body, "operator"));
	http_free(&r);
	call("POST", "/api/v1/admin/webhooks", A.tok_op, "op-create", body, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	ck_assert_ptr_nonnull(strstr(r.body, "admin"));
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/disable", h.id);
	call("POST", path, A.tok_op, NULL, NULL, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/rotate-secret", h.id);
	call("POST", path, A.tok_viewer, "viewer-rot", NULL, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	/* Nobody at all. */
	call("GET", "/api/v1/admin/webhooks", NULL, NULL, NULL, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	call("POST", "/api/v1/admin/webhooks", NULL, "anon", body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

static const struct {
	const char	*body;
	const char	*field;		/* NULL: no field named */
} bad[] = {
	{ "{\"url\":\"ftp://hooks.example.com/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"http://hooks.example.com/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://user:pw@hooks.example.com/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://127.0.0.1/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://10.1.2.3/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://169.254.169.254/latest\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://[::1]:8443/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://[::ffff:127.0.0.1]/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://localhost/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://127.1/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://2130706433/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://hooks.example.com/x#frag\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://hooks.example.com/a b\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://hooks.example.com:99999/x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://x\",\"event_types\":" CREATED "}", "url" },
	{ "{\"event_types\":" CREATED "}", "url" },
	{ "{\"url\":\"https://hooks.example.com/x\"}", "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":[]}", "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":[\"submission.nope\"]}",
	  "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":[\"submission.created\","
	  "\"submission.created\"]}", "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":[1]}", "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":\"submission.created\"}",
	  "event_types" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":" CREATED ",\"secret\":\"x\"}",
	  "secret" },
	{ "{\"url\":\"https://hooks.example.com/x\",\"event_types\":" CREATED
	  ",\"description\":7}", "description" },
	{ "{\"url\":", NULL },
};

START_TEST(bad_input_is_400_naming_the_field)
{
	struct http_resp r;
	const cJSON	*f;

	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "bad-input", bad[_i].body, &r);
	http_expect_problem(&r, 400, NULL);
	f = cJSON_GetObjectItem(http_json(&r), "field");
	if (bad[_i].field != NULL) {
		ck_assert_msg(cJSON_IsString(f) && strcmp(f->valuestring, bad[_i].field) == 0,
		    "%s: %s", bad[_i].body, r.body);
		ck_assert_str_eq(http_json_str(&r, "type"), "/problems/validation");
	}
	http_free(&r);
}
END_TEST

/* Too long a URL or description, too many types, too big a body, no key. */
START_TEST(oversized_and_keyless_input)
{
	struct http_resp r;
	struct buf	 b;
	int		 i;

	buf_init(&b, 64 * 1024);
	(void)buf_puts(&b, "{\"url\":\"https://hooks.example.com/");
	for (i = 0; i < 2030; i++)
		(void)buf_putc(&b, 'a');
	(void)buf_puts(&b, "\",\"event_types\":" CREATED "}");
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "too-long-url", buf_cstr(&b), &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "url");
	http_free(&r);
	buf_reset(&b);
	(void)buf_puts(&b, "{\"url\":\"https://hooks.example.com/x\",\"event_types\":" CREATED
	    ",\"description\":\"");
	for (i = 0; i < 201; i++)
		(void)buf_putc(&b, 'd');
	(void)buf_puts(&b, "\"}");
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "too-long-desc", buf_cstr(&b), &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "description");
	http_free(&r);
	buf_reset(&b);
	(void)buf_puts(&b, "{\"url\":\"https://hooks.example.com/x\",\"event_types\":[");
	for (i = 0; i < 17; i++)
		(void)buf_puts(&b, i ? ",\"command.failed\"" : "\"command.failed\"");
	(void)buf_puts(&b, "]}");
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "too-many", buf_cstr(&b), &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "event_types");
	http_free(&r);
	buf_reset(&b);
	(void)buf_puts(&b, "{\"url\":\"https://hooks.example.com/x\",\"event_types\":" CREATED
	    ",\"description\":\"");
	for (i = 0; i < 9000; i++)
		(void)buf_putc(&b, 'd');
	(void)buf_puts(&b, "\"}");
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "too-big", buf_cstr(&b), &r);
	http_expect_problem(&r, 413, NULL);
	http_free(&r);
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, NULL,
	    "{\"url\":\"https://hooks.example.com/x\",\"event_types\":" CREATED "}", &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	buf_free(&b);
}
END_TEST

/* ---- deliveries ------------------------------------------------------ */

START_TEST(submission_events_are_signed_and_delivered)
{
	struct fakehooks_hook h;
	char		 sub[40];
	cJSON		*arr, *body;
	const cJSON	*d, *created, *delivered;

	new_hook(&A, &h, "[\"submission.created\",\"submission.delivered\"]");
	submit(&A, sub);
	arr = deliveries(h.name, 0, 2);
	created = of_type(arr, "submission.created");
	delivered = of_type(arr, "submission.delivered");
	ck_assert_ptr_nonnull(created);
	ck_assert_ptr_nonnull(delivered);
	cJSON_ArrayForEach(d, arr) {
		ck_assert_msg(jtrue(d, "verified"), "not verified: %s", jstr(d, "reason"));
		ck_assert_int_eq(jnum(d, "secret_index"), 0);
		ck_assert_int_eq(jnum(d, "status"), 200);
		ck_assert_int_eq(strncmp(jstr(d, "id"), "msg_", 4), 0);
		ck_assert_uint_eq(strlen(jstr(d, "id")), 4 + 32);
	}
	ck_assert_str_ne(jstr(created, "id"), jstr(delivered, "id"));
	/* The body: type, timestamp, thin data (ids, no personal data). */
	body = cJSON_Parse(jstr(created, "body"));
	ck_assert_ptr_nonnull(body);
	ck_assert_str_eq(jstr(body, "type"), "submission.created");
	ck_assert_ptr_nonnull(jstr(body, "timestamp"));
	ck_assert_str_eq(jstr(cJSON_GetObjectItem(body, "data"), "submission_id"), sub);
	ck_assert_str_eq(jstr(cJSON_GetObjectItem(body, "data"), "form_id"), A.s.form_id);
	ck_assert_ptr_null(strstr(jstr(created, "body"), "Jane"));
	ck_assert_ptr_null(strstr(jstr(delivered, "body"), "jane.hook"));
	cJSON_Delete(body);
	ck_assert(row_wait(sub, h.id, "done", NULL, 0));
	cJSON_Delete(arr);
}
END_TEST

START_TEST(retry_keeps_the_webhook_id)
{
	struct fakehooks_hook h;
	char		 sub[40], fault[256];
	cJSON		*arr;
	const cJSON	*first, *second;

	new_hook(&A, &h, CREATED);
	snprintf(fault, sizeof(fault), "{\"target\":\"hook\",\"endpoint\":\"%s\",\"kind\":\"status\","
	    "\"status\":500,\"count\":1}", h.name);
	fakehooks_fault(fault);
	submit(&A, sub);
	arr = deliveries(h.name, 0, 2);
	first = cJSON_GetArrayItem(arr, 0);
	second = cJSON_GetArrayItem(arr, 1);
	ck_assert_int_eq(jnum(first, "status"), 500);
	ck_assert_int_eq(jnum(second, "status"), 200);
	ck_assert(jtrue(first, "verified") && jtrue(second, "verified"));
	ck_assert_str_eq(jstr(first, "id"), jstr(second, "id"));
	ck_assert(!jtrue(first, "duplicate"));
	ck_assert(jtrue(second, "duplicate"));
	ck_assert(row_wait(sub, h.id, "done", NULL, 0));
	cJSON_Delete(arr);
}
END_TEST

START_TEST(retry_after_is_honoured)
{
	struct fakehooks_hook h;
	char		 sub[40], fault[256];
	long long	 t1, t2;
	cJSON		*arr;

	new_hook(&A, &h, CREATED);
	snprintf(fault, sizeof(fault), "{\"target\":\"hook\",\"endpoint\":\"%s\",\"kind\":\"status\","
	    "\"status\":429,\"retry_after_s\":3,\"count\":1}", h.name);
	fakehooks_fault(fault);
	submit(&A, sub);
	arr = deliveries(h.name, 0, 2);
	ck_assert_int_eq(jnum(cJSON_GetArrayItem(arr, 0), "status"), 429);
	ck_assert_int_eq(jnum(cJSON_GetArrayItem(arr, 1), "status"), 200);
	/* The schedule says 100 ms; Retry-After says 3 s, and wins. */
	ck_assert_int_eq(util_parse_ll(jstr(cJSON_GetArrayItem(arr, 0), "timestamp"), 0, 1LL << 40,
	    &t1), CB_OK);
	ck_assert_int_eq(util_parse_ll(jstr(cJSON_GetArrayItem(arr, 1), "timestamp"), 0, 1LL << 40,
	    &t2), CB_OK);
	ck_assert_msg(t2 - t1 >= 2, "retried after %lld s", t2 - t1);
	cJSON_Delete(arr);
}
END_TEST

START_TEST(rotation_signs_with_both_secrets_during_the_overlap)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 path[200], key[48], fresh[STDWH_SECRET_BUFSZ], sub[40], sealed[8];
	const char	*only[2] = { NULL, NULL };
	long		 since;
	cJSON		*arr;
	const cJSON	*d;

	new_hook(&A, &h, CREATED);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/rotate-secret", h.id);
	unique(key, sizeof(key), "rot-");
	call("POST", path, A.tok_admin, key, NULL, &r);
	ck_assert_msg(r.status == 200, "rotate: %ld %s", r.status, r.body);
	util_strlcpy(fresh, http_json_str(&r, "secret"), sizeof(fresh));
	test_record_secret(fresh);
	ck_assert_str_ne(fresh, h.secret);
	ck_assert_ptr_nonnull(http_json_str(&r, "prev_until"));
	http_free(&r);
	call("POST", path, A.tok_admin, key, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_ptr_null(strstr(r.body, "whsec_"));
	http_free(&r);

	/* A receiver that knows only the new secret, then one that knows only the old. */
	only[0] = fresh;
	fakehooks_endpoint(h.name, only);
	since = fakehooks_last_delivery(h.name);
	submit(&A, sub);
	arr = deliveries(h.name, since, 1);
	d = cJSON_GetArrayItem(arr, 0);
	ck_assert_msg(jtrue(d, "verified"), "new secret: %s", jstr(d, "reason"));
	cJSON_Delete(arr);
	only[0] = h.secret;
	fakehooks_endpoint(h.name, only);
	since = fakehooks_last_delivery(h.name);
	submit(&A, sub);
	arr = deliveries(h.name, since, 1);
	d = cJSON_GetArrayItem(arr, 0);
	ck_assert_msg(jtrue(d, "verified"), "old secret in the overlap: %s", jstr(d, "reason"));
	cJSON_Delete(arr);

	/* The overlap over: the old secret no longer signs, and leaves the row. */
	sql_val("UPDATE webhook_endpoints SET prev_until = now() - interval '1 second'"
	    " WHERE id = $1::uuid RETURNING 'ok'", h.id, NULL, sealed, sizeof(sealed));
	since = fakehooks_last_delivery(h.name);
	submit(&A, sub);
	arr = deliveries(h.name, since, 1);
	d = cJSON_GetArrayItem(arr, 0);
	ck_assert(!jtrue(d, "verified"));
	ck_assert_str_eq(jstr(d, "reason"), "no_matching_signature");
	cJSON_Delete(arr);
	sql_val("SELECT (secret_prev_sealed IS NULL)::text FROM webhook_endpoints WHERE id = $1::uuid",
	    h.id, NULL, sealed, sizeof(sealed));
	ck_assert_str_eq(sealed, "true");
	sodium_memzero(fresh, sizeof(fresh));
}
END_TEST

START_TEST(gone_disables_the_endpoint)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 sub[40], sub2[40], fault[256], err[512], oid[24], path[200], n[16];

	new_hook(&A, &h, CREATED);
	snprintf(fault, sizeof(fault), "{\"target\":\"hook\",\"endpoint\":\"%s\",\"kind\":\"status\","
	    "\"status\":410,\"count\":1}", h.name);
	fakehooks_fault(fault);
	submit(&A, sub);
	ck_assert(row_wait(sub, h.id, "dead", err, sizeof(err)));
	ck_assert_msg(strstr(err, "410") != NULL, "last_error: %s", err);
	get_hook(&A, h.id, &r);
	ck_assert(!jtrue(http_json(&r), "enabled"));
	ck_assert_str_eq(http_json_str(&r, "disabled_reason"), "410 Gone");
	ck_assert_ptr_nonnull(http_json_str(&r, "disabled_at"));
	http_free(&r);
	sql_val("SELECT count(*) FROM alerts WHERE kind = 'webhook_disabled' AND org_id = $1::bigint"
	    " AND dedupe_key LIKE 'webhook_disabled:' || $2 || ':%'", A.org_id, h.id, n, sizeof(n));
	ck_assert_str_eq(n, "1");

	/* Its dead letter replayed: dead again, "endpoint disabled", nothing sent. */
	sql_val("SELECT id FROM outbox WHERE kind = 'webhook.deliver' AND ref_id = $1::uuid"
	    " AND payload->>'endpoint_id' = $2", sub, h.id, oid, sizeof(oid));
	snprintf(path, sizeof(path), "/api/v1/admin/dead-letters/%s/replay", oid);
	call("POST", path, A.tok_op, NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "replay: %ld %s", r.status, r.body);
	http_free(&r);
	test_sleep_ms(300);
	ck_assert(row_wait(sub, h.id, "dead", err, sizeof(err)));
	ck_assert_msg(strstr(err, "endpoint disabled") != NULL, "last_error: %s", err);
	ck_assert_int_eq(fakehooks_wait_deliveries(h.name, 2, 500), 1);
	/* A disabled endpoint gets no new events at all. */
	submit(&A, sub2);
	test_sleep_ms(300);
	sql_val("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid AND payload->>'endpoint_id' = $2",
	    sub2, h.id, n, sizeof(n));
	ck_assert_str_eq(n, "0");
	/* Enabled again: clean. */
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/enable", h.id);
	call("POST", path, A.tok_admin, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "enable: %ld %s", r.status, r.body);
	ck_assert(jtrue(http_json(&r), "enabled"));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "disabled_reason")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "failing_since")));
	http_free(&r);
}
END_TEST

START_TEST(failing_too_long_disables_with_an_alert)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 sub[40], fault[256], err[512], n[16], path[200];

	new_hook(&A, &h, CREATED);
	/* Failing for ten days already (the limit is CB_WEBHOOK_DISABLE_AFTER_S, 5 days). */
	sql_val("UPDATE webhook_endpoints SET failing_since = now() - interval '10 days'"
	    " WHERE id = $1::uuid RETURNING 'ok'", h.id, NULL, n, sizeof(n));
	snprintf(fault, sizeof(fault), "{\"target\":\"hook\",\"endpoint\":\"%s\",\"kind\":\"status\","
	    "\"status\":503,\"count\":1}", h.name);
	fakehooks_fault(fault);
	submit(&A, sub);
	ck_assert(row_wait(sub, h.id, "dead", err, sizeof(err)));
	ck_assert_msg(strstr(err, "endpoint disabled") != NULL, "last_error: %s", err);
	get_hook(&A, h.id, &r);
	ck_assert(!jtrue(http_json(&r), "enabled"));
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "disabled_reason"), "failing for more than"));
	ck_assert_ptr_nonnull(http_json_str(&r, "failing_since"));
	http_free(&r);
	sql_val("SELECT count(*) FROM alerts WHERE kind = 'webhook_disabled' AND org_id = $1::bigint"
	    " AND dedupe_key LIKE 'webhook_disabled:' || $2 || ':%'", A.org_id, h.id, n, sizeof(n));
	ck_assert_str_eq(n, "1");
	/* Disable is idempotent and keeps the first reason; enable clears the clock. */
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/disable", h.id);
	call("POST", path, A.tok_admin, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "disabled_reason"), "failing for more than"));
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/admin/webhooks/%s/enable", h.id);
	call("POST", path, A.tok_admin, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "failing_since")));
	http_free(&r);
}
END_TEST

START_TEST(internal_destination_refused_and_guarded)
{
	struct http_resp r;
	struct fakehooks_hook h;
	char		 url[256], body[512], sub[40], err[512], ok[8], name[48];
	const char	*port = strrchr(test_env("CB_FAKEHOOKS_URL"), ':') + 1;
	long		 unknown;

	/* Loopback, but not the allowlisted 127.0.0.1: refused at creation. */
	unique(name, sizeof(name), "x-");
	snprintf(url, sizeof(url), "http://127.0.0.2:%s/hooks/%s", port, name);
	create_body(body, sizeof(body), url, CREATED);
	call("POST", "/api/v1/admin/webhooks", A.tok_admin, "internal-url", body, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "url");
	http_free(&r);

	/* Forced into the table: the egress guard refuses it, nothing is sent. */
	new_hook(&A, &h, "[\"command.timeout\"]");
	sql_val("UPDATE webhook_endpoints SET url = $2, event_types = '{submission.created}'"
	    " WHERE id = $1::uuid RETURNING 'ok'", h.id, url, ok, sizeof(ok));
	unknown = fakehooks_stat("unknown_endpoint");
	submit(&A, sub);
	ck_assert(row_wait(sub, h.id, "dead", err, sizeof(err)));
	ck_assert_msg(strstr(err, "EGRESS") != NULL && strstr(err, "egress") != NULL,
	    "last_error: %s", err);
	ck_assert_int_eq(fakehooks_stat("unknown_endpoint"), unknown);
	ck_assert_int_eq(fakehooks_wait_deliveries(name, 1, 0), 0);
}
END_TEST

/* command.applied and command.failed, from receipts over the tab channel. */
START_TEST(command_events_from_receipts)
{
	struct http_resp r;
	struct fakehooks_hook h;
	struct ws	 w;
	char		 ctx[40], tok[64], path[160], ids[2][40], nonce[32];
	const char	*auth[] = { "Content-Type: application/json", path, NULL };
	cJSON		*arr, *j, *body;
	const cJSON	*applied, *failed;
	int		 i;

	new_hook(&A, &h, "[\"command.applied\",\"command.failed\"]");
	seed_context(A.s.form_id, ctx, tok);
	for (i = 0; i < 2; i++) {
		char	 cpath[160], b[256];

		snprintf(cpath, sizeof(cpath), "/api/v1/contexts/%s/commands", ctx);
		snprintf(path, sizeof(path), "Authorization: Bearer %s", A.s.api_key);
		unique(nonce, sizeof(nonce), "n-");
		snprintf(b, sizeof(b), "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"%s\"}",
		    nonce);
		http_do("POST", cpath, auth, b, strlen(b), &r);
		ck_assert_msg(r.status == 202, "command: %ld %s", r.status, r.body);
		util_strlcpy(ids[i], http_json_str(&r, "id"), sizeof(ids[i]));
		http_free(&r);
	}
	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_int_eq(ws_open(&w, path, NULL), 0);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", tok), 0);
	cJSON_Delete(ws_next_type(&w, "ready", 5000));
	for (i = 1; i <= 2; i++) {
		ck_assert_ptr_nonnull(j = ws_next_type(&w, "command", 5000));
		cJSON_Delete(j);
	}
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"receipt\",\"seq\":1,\"status\":\"applied\"}"), 0);
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"receipt\",\"seq\":2,\"status\":\"failed\","
	    "\"reason\":\"no such field on the page\"}"), 0);
	arr = deliveries(h.name, 0, 2);
	ws_close(&w, 1000);
	ws_free(&w);
	applied = of_type(arr, "command.applied");
	failed = of_type(arr, "command.failed");
	ck_assert_ptr_nonnull(applied);
	ck_assert_ptr_nonnull(failed);
	ck_assert(jtrue(applied, "verified") && jtrue(failed, "verified"));
	body = cJSON_Parse(jstr(applied, "body"));
	ck_assert_str_eq(jstr(cJSON_GetObjectItem(body, "data"), "command_id"), ids[0]);
	ck_assert_str_eq(jstr(cJSON_GetObjectItem(body, "data"), "ctx_ref"), ctx);
	cJSON_Delete(body);
	/* The tab's free-text reason stays home. */
	ck_assert_ptr_null(strstr(jstr(failed, "body"), "no such field"));
	cJSON_Delete(arr);
}
END_TEST

/* events_emit: one row per subscribed endpoint, and the same webhook-id every time. */
START_TEST(events_emit_is_deterministic)
{
	struct fakehooks_hook h;
	struct db	*db = db_open(test_env("CB_PG_DSN"));
	struct db_res	*res = NULL;
	unsigned char	 md[32];
	char		 ref[37], hex[65], want[40];
	long long	 n;

	new_hook(&B, &h, "[\"command.applied\"]");
	util_uuid_v4(ref);
	ck_assert_int_eq(db_begin(db), CB_OK);
	ck_assert_int_eq(events_emit(db, B.org_id, "command.applied", ref, "src-1", "{\"x\":1}", &n),
	    CB_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(events_emit(db, B.org_id, "command.applied", ref, "src-1", NULL, &n), CB_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(events_emit(db, B.org_id, "command.timeout", ref, "src-1", NULL, &n), CB_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(events_emit(db, B.org_id, "command.nope", ref, "src-1", NULL, &n),
	    CB_ERR_VALIDATION);
	ck_assert_int_eq(db_query(db, &res, "SELECT DISTINCT payload->>'msg_id' FROM outbox"
	    " WHERE ref_id = $1::uuid", 1, (const char *[]){ ref }), CB_OK);
	ck_assert_int_eq(db_rows(res), 1);
	crypto_hash_sha256(md, (const unsigned char *)"command.applied:src-1", 21);
	util_hex(hex, md, sizeof(md));
	snprintf(want, sizeof(want), "msg_%.32s", hex);
	ck_assert_str_eq(db_val(res, 0, 0), want);
	db_res_free(res);
	ck_assert_int_eq(db_rollback(db), CB_OK);
	db_close(db);
}
END_TEST

static Suite *
webhooks_suite(void)
{
	Suite	*su = suite_create("webhooks");
	TCase	*tc = tcase_create("endpoints");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, create_shows_secret_once_and_replay_hides_it);
	tcase_add_test(tc, list_and_get_never_show_secrets);
	tcase_add_loop_test(tc, other_tenant_and_bad_ids_are_404, 0,
	    (int)(sizeof(id_actions) / sizeof(id_actions[0])));
	tcase_add_test(tc, roles_and_authentication);
	tcase_add_loop_test(tc, bad_input_is_400_naming_the_field, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, oversized_and_keyless_input);
	tcase_add_test(tc, submission_events_are_signed_and_delivered);
	tcase_add_test(tc, retry_keeps_the_webhook_id);
	tcase_add_test(tc, retry_after_is_honoured);
	tcase_add_test(tc, rotation_signs_with_both_secrets_during_the_overlap);
	tcase_add_test(tc, gone_disables_the_endpoint);
	tcase_add_test(tc, failing_too_long_disables_with_an_alert);
	tcase_add_test(tc, internal_destination_refused_and_guarded);
	tcase_add_test(tc, command_events_from_receipts);
	tcase_add_test(tc, events_emit_is_deterministic);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(webhooks_suite());
}
