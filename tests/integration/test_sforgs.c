/*
 * One Salesforce org per tenant, through the real stack: tenant A delivers
 * through the deployment's default connection (the stack's fake org), B
 * through its own (a second cb-fake-sf this suite runs on CB_PORT_FAKESF2,
 * an org of its own: records, tokens, faults, certificates).  Each
 * tenant's submissions and call events (and B's contact lookup) reach only
 * its org; a rate-limit pause of either org holds only that tenant's rows.
 * The admin route PUT/GET /api/v1/admin/salesforce refuses every bad input
 * with a problem naming it, never shows a key, and the key is sealed in the
 * database.  Residency: a connection or webhook endpoint outside a pinned
 * tenant's region is refused (422 data-residency) by the route and by
 * cb-admin.  Certificate rotation: during the overlap a mint uses the next
 * key, falls back to the current one while the fake's app refuses it, and
 * after the overlap (CB_SF_KEY_OVERLAP_S, 5 s here) only the promoted key
 * is used; cb-admin shows key ages and warns past CB_SF_KEY_WARN_DAYS.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "fakectl.h"
#include "fakehooks.h"
#include "fakesf.h"
#include "http.h"
#include "keyring.h"
#include "outbox.h"
#include "people.h"
#include "reseal.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define WAIT_MS		15000
#define FAKE2		"CB_FAKESF2_URL"
#define B_CLIENT	"org-b-connected-app"
#define B_USER		"integration@org-b.test"

struct tenant {
	struct seed	 s;
	char		 org[24];
	struct tuser	 admin, op;
	char		 tok[TOKSZ], tok_op[TOKSZ];
	char		 src[40], src_secret[128];
};

static struct tenant	 A, B, P;
static pid_t		 fake2;
static char		 dir[256], fake2_url[64];

/* ---- the second org ------------------------------------------------------ */

/* A key and its self-signed certificate: dir/<name>-key.pem, dir/<name>-cert.pem. */
static void
keygen(const char *name)
{
	char	 cmd[1024], out[256];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -sha256 -days 2 -nodes"
	    " -keyout %s/%s-key.pem -out %s/%s-cert.pem -subj /CN=%s >/dev/null 2>&1", dir, name,
	    dir, name, name);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
}

/* A file of dir as text (the caller frees it). */
static char *
slurp(const char *name)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return cu_slurp(path);
}

/* The key's second line: what the log scan and the answers are searched for. */
static void
record_key(const char *name)
{
	char	*pem = slurp(name), *l1, *l2;

	l1 = strchr(pem, '\n');
	ck_assert_ptr_nonnull(l1);
	l2 = strchr(l1 + 1, '\n');
	*l2 = '\0';
	test_record_secret(l1 + 1);
	free(pem);
}

static int
key_line_in(const char *name, const char *text)
{
	char	*pem = slurp(name), *l1, *l2;
	int	 in;

	l1 = strchr(pem, '\n');
	l2 = strchr(l1 + 1, '\n');
	*l2 = '\0';
	in = text != NULL && strstr(text, l1 + 1) != NULL;
	free(pem);
	return in;
}

static void
fake2_start(void)
{
	char		 port[16], cert[300], pidf[300], logf[300], exe[300];
	struct http_resp r;
	int		 i;

	snprintf(port, sizeof(port), "%s", cu_env_required("CB_PORT_FAKESF2"));
	snprintf(cert, sizeof(cert), "%s/k1-cert.pem", dir);
	snprintf(pidf, sizeof(pidf), "%s/fake2.pid", dir);
	snprintf(logf, sizeof(logf), "%s/log/cb-fake-sf2.log", cu_env_required("CB_STATE"));
	snprintf(exe, sizeof(exe), "%s/bin/cb-fake-sf", test_env("CB_BUILD"));
	snprintf(fake2_url, sizeof(fake2_url), "http://127.0.0.1:%s", port);
	setenv(FAKE2, fake2_url, 1);
	if ((fake2 = fork()) == 0) {
		if (freopen(logf, "a", stdout) == NULL || freopen(logf, "a", stderr) == NULL)
			_exit(127);
		execl(exe, exe, "--port", port, "--cert", cert, "--client-id", B_CLIENT,
		    "--username", B_USER, "--pidfile", pidf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(fake2, 0);
	for (i = 0; i < 100; i++) {
		fakectl_call(FAKE2, "GET", "/__fake/stats", NULL, &r);
		if (r.status == 200) {
			http_free(&r);
			return;
		}
		http_free(&r);
		test_sleep_ms(50);
	}
	ck_abort_msg("the second fake Salesforce did not start (see %s)", logf);
}

/* The records of the org at env whose external id is ext: how many; the last one's fields. */
static int
records_in(const char *env, const char *ext, char *fields, size_t fieldsz)
{
	struct http_resp r;
	const cJSON	*rec;
	int		 n = 0;

	fakectl_call(env, "GET", "/__fake/records", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(http_json(&r), "records")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "ext_value");

		if (cJSON_IsString(v) && strcmp(v->valuestring, ext) == 0) {
			n++;
			if (fields != NULL) {
				char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(rec,
				    "fields"));

				util_strlcpy(fields, t, fieldsz);
				free(t);
			}
		}
	}
	http_free(&r);
	return n;
}

/* The fake2 certificate's mints: mints_by_cert[i]. */
static long
mints(int i)
{
	struct http_resp r;
	const cJSON	*m;
	long		 n;

	fakectl_call(FAKE2, "GET", "/__fake/stats", NULL, &r);
	m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(http_json(&r), "mints_by_cert"), i);
	ck_assert_msg(cJSON_IsNumber(m), "no mints_by_cert[%d]: %s", i, r.body);
	n = (long)m->valuedouble;
	http_free(&r);
	return n;
}

/* ---- tenants ------------------------------------------------------------ */

static void
admin_ok(const char *args, char *out, size_t outsz)
{
	ck_assert_msg(seed_admin(args, out, outsz) == 0, "cb-admin %s failed: %s", args, out);
}

static void
take(const char *json, const char *member, char *dst, size_t dstsz)
{
	cJSON	*j = cJSON_Parse(json);
	cJSON	*v = cJSON_GetObjectItem(j, member);

	ck_assert_msg(cJSON_IsString(v), "no %s in %s", member, json);
	util_strlcpy(dst, v->valuestring, dstsz);
	cJSON_Delete(j);
}

/*
 * A tenant and its admin; with `full`, a form, an operator and a call
 * source too (cb-admin is slow under the sanitizers: only what is used).
 */
static void
tenant(struct tenant *t, int full)
{
	char		 refresh[80], args[512], out[2048];
	static int	 n;

	snprintf(t->s.slug, sizeof(t->s.slug), "sfo%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Org tenant'", t->s.slug);
	admin_ok(args, out, sizeof(out));
	new_user(t->s.slug, "admin", &t->admin);
	util_strlcpy(t->org, t->admin.org, sizeof(t->org));
	reset_limits(NULL, NULL);
	login_ok(&t->admin, t->tok, refresh);
	if (!full)
		return;
	snprintf(args, sizeof(args), "form-create %s 'Contact us' %s/docs/examples/contact-form.json",
	    t->s.slug, test_env("CB_REPO"));
	admin_ok(args, out, sizeof(out));
	take(out, "form_id", t->s.form_id, sizeof(t->s.form_id));
	new_user(t->s.slug, "operator", &t->op);
	login_ok(&t->op, t->tok_op, refresh);
	snprintf(args, sizeof(args), "call-source-add %s voice", t->s.slug);
	admin_ok(args, out, sizeof(out));
	take(out, "source_id", t->src, sizeof(t->src));
	take(out, "secret", t->src_secret, sizeof(t->src_secret));
	test_record_secret(t->src_secret);
}

/* sf-connect ORG KEY to the second org; 0 or cb-admin's exit code (its output in out). */
static int
connect_b(const char *slug, const char *key, const char *url, char *out, size_t outsz)
{
	char	 args[1024];

	snprintf(args, sizeof(args), "sf-connect %s %s/%s-key.pem %s %s %s", slug, dir, key, url,
	    B_CLIENT, B_USER);
	return seed_admin_all(args, out, outsz);
}

static void
setup(void)
{
	char	 tmpl[] = "/tmp/cb-sforgs-XXXXXX", out[8192];

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	util_strlcpy(dir, tmpl, sizeof(dir));
	keygen("k1");
	keygen("k2");
	record_key("k1-key.pem");
	record_key("k2-key.pem");
	fake2_start();
	tenant(&A, 1);
	tenant(&B, 1);
	tenant(&P, 0);
	ck_assert_msg(connect_b(B.s.slug, "k1", fake2_url, out, sizeof(out)) == 0, "%s", out);
}

static void
teardown(void)
{
	char	 cmd[600], out[64];

	if (fake2 > 0) {
		kill(fake2, SIGTERM);
		(void)waitpid(fake2, NULL, 0);
	}
	/* Pauses this suite caused must not hold the suites after it. */
	outbox_pause("salesforce", 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)test_run(cmd, out, sizeof(out));
}

/* ---- helpers ------------------------------------------------------------ */

static void
call(const char *method, const char *token, const char *key, const char *body,
    struct http_resp *r)
{
	http_as(method, "/api/v1/admin/salesforce", token, key, body, r);
}

static void
new_key(char *out, size_t outsz)
{
	cu_random_name(out, outsz, "sfc-");
}

/* A submission of t from a new tab; its id into id. */
static void
submit(const struct tenant *t, char id[40])
{
	char	 key[40];

	new_key(key, sizeof(key));
	submit_form_new_tab(t->s.form_id, key,
	    "{\"data\":{\"full_name\":\"Ada Org\",\"email\":\"ada.org@example.com\"}}", id);
}

static void
delivered(const char *ref)
{
	char	 err[512] = "";

	ck_assert_msg(outbox_wait(ref, "done", WAIT_MS, NULL, err, sizeof(err)),
	    "not delivered: %s", err);
}

/* A signed call_started of t from phone; the event id into id, the correlation id into corr. */
static void
call_event(const struct tenant *t, const char *phone, char corr[40], char id[40])
{
	char		 body[256], mid[64];
	struct http_resp r;

	cu_random_name(corr, 40, "run-");
	cu_random_name(mid, sizeof(mid), "msg_");
	snprintf(body, sizeof(body), "{\"correlation_id\":\"%s\",\"event_type\":\"call_started\","
	    "\"from\":\"%s\"}", corr, phone);
	fakehooks_post_call(t->src_secret, t->src, mid, body, &r);
	ck_assert_msg(r.status == 202, "call event: %ld %s", r.status, r.body);
	util_strlcpy(id, http_json_str(&r, "event_id"), 40);
	http_free(&r);
}

/* Wait until a connection's pause is on (asserted). */
static void
pause_wait(const char *scope)
{
	double	 end = test_now_s() + WAIT_MS / 1000.0;

	while (outbox_pause_left_ms(scope) == 0 && test_now_s() < end)
		test_sleep_ms(50);
	ck_assert_msg(outbox_pause_left_ms(scope) > 0, "%s was not paused", scope);
}

/* ---- two tenants, two orgs --------------------------------------------- */

START_TEST(test_each_tenant_reaches_only_its_org)
{
	char		 a1[40], b1[40], a2[40], b2[40], ca[40], cb[40], ea[40], eb[40], ext[96];
	char		 fields[4096], body[256], cid[40];
	struct http_resp r;

	fakesf_clear();
	fakectl_clear(FAKE2);
	/* B's caller is a contact of B's org only. */
	snprintf(body, sizeof(body), "{\"Phone\":\"+14155550142\",\"Name\":\"Bea\"}");
	fakectl_call(FAKE2, "POST", "/__fake/contacts", body, &r);
	ck_assert_int_eq(r.status, 201);
	util_strlcpy(cid, http_json_str(&r, "id"), sizeof(cid));
	http_free(&r);
	submit(&A, a1);
	submit(&B, b1);
	call_event(&A, "+14155550141", ca, ea);
	call_event(&B, "+14155550142", cb, eb);
	delivered(a1);
	delivered(b1);
	delivered(ea);
	delivered(eb);
	ck_assert_int_eq(fakesf_records(a1, NULL), 1);
	ck_assert_int_eq(records_in(FAKE2, a1, NULL, 0), 0);
	ck_assert_int_eq(records_in(FAKE2, b1, NULL, 0), 1);
	ck_assert_int_eq(fakesf_records(b1, NULL), 0);
	snprintf(ext, sizeof(ext), "%s:call_started", ca);
	ck_assert_int_eq(fakesf_records(ext, NULL), 1);
	ck_assert_int_eq(records_in(FAKE2, ext, NULL, 0), 0);
	snprintf(ext, sizeof(ext), "%s:call_started", cb);
	ck_assert_int_eq(records_in(FAKE2, ext, fields, sizeof(fields)), 1);
	ck_assert_int_eq(fakesf_records(ext, NULL), 0);
	/* The lookup asked B's org, with B's token: the contact is linked. */
	ck_assert_msg(strstr(fields, cid) != NULL, "B's activity not linked to %s: %s", cid, fields);
	ck_assert_int_ge(fakectl_stat(FAKE2, "queries"), 1);

	/* A's org out of API calls: A waits, B is delivered. */
	fakesf_fault("{\"target\":\"collections\",\"kind\":\"status\",\"status\":403,\"count\":1}");
	submit(&A, a2);
	pause_wait("salesforce");
	submit(&B, b2);
	delivered(b2);
	ck_assert_int_eq(fakesf_records(a2, NULL), 0);
	outbox_pause("salesforce", 0);
	delivered(a2);
	ck_assert_int_eq(fakesf_records(a2, NULL), 1);

	/* B's org out of API calls: B waits under its own pause, A is delivered. */
	{
		char	 scope[48];

		snprintf(scope, sizeof(scope), "salesforce:%s", B.org);
		fakectl_fault(FAKE2, "{\"target\":\"collections\",\"kind\":\"status\",\"status\":403,"
		    "\"count\":1}");
		submit(&B, b2);
		pause_wait(scope);
		submit(&A, a2);
		delivered(a2);
		ck_assert_int_eq(outbox_pause_left_ms("salesforce"), 0);
		ck_assert_int_eq(records_in(FAKE2, b2, NULL, 0), 0);
		outbox_pause(scope, 0);
		delivered(b2);
		ck_assert_int_eq(records_in(FAKE2, b2, NULL, 0), 1);
	}
}
END_TEST

/* ---- the admin route ----------------------------------------------------- */

/* A PUT body with this key file's PEM (NULL: none) and these extra members. */
static char *
put_body(const char *url, const char *keyfile, const char *extra)
{
	cJSON	*o = cJSON_CreateObject();
	char	*pem = keyfile ? slurp(keyfile) : NULL, *t;

	cJSON_AddStringToObject(o, "login_url", url);
	cJSON_AddStringToObject(o, "client_id", B_CLIENT);
	cJSON_AddStringToObject(o, "username", B_USER);
	if (pem != NULL)
		cJSON_AddStringToObject(o, "private_key", pem);
	t = cJSON_PrintUnformatted(o);
	if (extra != NULL) {
		/* "...}" + ",extra}" */
		char *u = malloc(strlen(t) + strlen(extra) + 2);

		memcpy(u, t, strlen(t) - 1);
		snprintf(u + strlen(t) - 1, strlen(extra) + 3, ",%s}", extra);
		free(t);
		t = u;
	}
	free(pem);
	cJSON_Delete(o);
	return t;
}

static void
put_expect(const char *token, const char *body, long status, const char *type,
    const char *field)
{
	struct http_resp r;
	char		 key[40];
	const char	*f;

	new_key(key, sizeof(key));
	call("PUT", token, key, body, &r);
	http_expect_problem(&r, status, type);
	if (field != NULL) {
		f = http_json_str(&r, "field");
		ck_assert_msg(f != NULL && strcmp(f, field) == 0, "field %s expected: %s", field,
		    r.body);
	}
	ck_assert(!key_line_in("k1-key.pem", r.body));
	http_free(&r);
}

START_TEST(test_route_inputs_and_secrets)
{
	struct http_resp r;
	char		*ok = put_body(fake2_url, "k1-key.pem", NULL), *b, big[20000], key[40];
	char		 sealed[16384], mapping[300];

	/* A's admin gives A its own connection; B's admin sees only B's. */
	new_key(key, sizeof(key));
	snprintf(mapping, sizeof(mapping), "\"mapping\":{\"Form_Submission__c\":{\"fields\":"
	    "{\"Full_Name__c\":\"Name__c\"}}}");
	b = put_body(fake2_url, "k1-key.pem", mapping);
	call("PUT", A.tok, key, b, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert(!key_line_in("k1-key.pem", r.body));
	ck_assert(strstr(r.body, "PRIVATE KEY") == NULL);
	ck_assert_str_eq(http_json_str(&r, "org_id"), A.org);
	ck_assert_str_eq(http_json_str(&r, "region"), "us");
	http_free(&r);
	free(b);
	call("GET", B.tok, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "org_id"), B.org);
	http_free(&r);
	/* Sealed at rest: not the PEM, and bound to the tenant. */
	testdb_val(sealed, sizeof(sealed), "SELECT key_sealed FROM sf_connections WHERE org_id ="
	    " $1::bigint", 1, (const char *[]){ A.org });
	ck_assert(strncmp(sealed, "v1.", 3) == 0);
	ck_assert(strstr(sealed, "PRIVATE") == NULL && !key_line_in("k1-key.pem", sealed));
	/* The re-seal job knows the column: it opens it as sfconn sealed it. */
	{
		struct db	*db = testdb_open();
		struct keyring	 k;
		struct buf	 plain;

		testdb_keys_open(&k, db);
		buf_init(&plain, 16384);
		ck_assert_int_eq(reseal_read(db, &k, "sf_connections", A.org, &plain, NULL), CB_OK);
		ck_assert(key_line_in("k1-key.pem", buf_cstr(&plain)));
		buf_wipe(&plain);
		testdb_keys_close(&k);
		db_close(db);
	}
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint AND"
	    " action = 'salesforce.connected' AND detail ? 'key_sha256'"
	    " AND detail::text NOT LIKE '%PRIVATE%'", 1, (const char *[]){ A.org }), 1);
	/* A's mapping renames the field in A's records (A now delivers to the second org). */
	{
		char id[40], fields[4096];

		submit(&A, id);
		delivered(id);
		ck_assert_int_eq(records_in(FAKE2, id, fields, sizeof(fields)), 1);
		ck_assert_msg(strstr(fields, "\"Name__c\"") && !strstr(fields, "Full_Name__c"),
		    "mapping not applied: %s", fields);
	}

	/* Every bad input. */
	call("PUT", NULL, "k-noauth", ok, &r);
	http_expect_problem(&r, 401, NULL);
	http_free(&r);
	put_expect(A.tok_op, ok, 403, NULL, NULL);
	call("GET", A.tok_op, NULL, NULL, &r);
	http_expect_problem(&r, 403, NULL);
	http_free(&r);
	call("PUT", A.tok, NULL, ok, &r);
	http_expect_problem(&r, 400, NULL);
	http_free(&r);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"login_url\":\"", 14);
	put_expect(A.tok, big, 413, NULL, NULL);
	put_expect(A.tok, "{\"login_url\":", 400, NULL, NULL);
	b = put_body(fake2_url, "k1-key.pem", "\"colour\":\"blue\"");
	put_expect(A.tok, b, 400, NULL, "colour");
	free(b);
	put_expect(A.tok, "{\"login_url\":5,\"client_id\":\"x\",\"username\":\"y\"}", 400, NULL,
	    "login_url");
	b = put_body(fake2_url, "k1-key.pem", "\"mapping\":[1]");
	put_expect(A.tok, b, 400, NULL, "mapping");
	free(b);
	b = put_body(fake2_url, "k1-key.pem", "\"mapping\":{\"Form_Submission__c\":{\"shape\":1}}");
	put_expect(A.tok, b, 400, NULL, "mapping");
	free(b);
	b = put_body("http://login.us.example.test", "k1-key.pem", NULL);
	put_expect(A.tok, b, 400, NULL, "login_url");
	free(b);
	b = put_body(fake2_url, "k1-cert.pem", NULL);
	put_expect(A.tok, b, 400, NULL, "private_key");
	free(b);
	put_expect(A.tok, "{\"login_url\":\"https://login.us.example.test\",\"client_id\":\"x\","
	    "\"username\":\"y\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nnope\\n\"}", 400,
	    NULL, "private_key");
	/* No key for a tenant that has no connection yet. */
	b = put_body(fake2_url, NULL, NULL);
	put_expect(P.tok, b, 400, NULL, "private_key");
	free(b);
	call("GET", P.tok, NULL, NULL, &r);
	http_expect_problem(&r, 404, NULL);
	http_free(&r);
	/* A's update without a key keeps A's key. */
	new_key(key, sizeof(key));
	b = put_body(fake2_url, NULL, NULL);
	call("PUT", A.tok, key, b, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	http_free(&r);
	free(b);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint AND"
	    " action = 'salesforce.updated' AND detail->>'key_replaced' = 'false'", 1,
	    (const char *[]){ A.org }), 1);
	/* A token whose instance is not the connection's instance_url is never used. */
	{
		char	 scope[48], id[40], reason[64];

		snprintf(scope, sizeof(scope), "salesforce:%s", A.org);
		new_key(key, sizeof(key));
		b = put_body(fake2_url, NULL, "\"instance_url\":\"http://127.0.0.1:9\"");
		call("PUT", A.tok, key, b, &r);
		ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
		http_free(&r);
		free(b);
		submit(&A, id);
		pause_wait(scope);
		outbox_pause_reason(scope, reason, sizeof(reason));
		ck_assert_str_eq(reason, "INSTANCE_MISMATCH");
		ck_assert_int_eq(records_in(FAKE2, id, NULL, 0), 0);
		new_key(key, sizeof(key));
		b = put_body(fake2_url, NULL, NULL);
		call("PUT", A.tok, key, b, &r);
		ck_assert_int_eq(r.status, 200);
		http_free(&r);
		free(b);
		outbox_pause(scope, 0);
		delivered(id);
		ck_assert_int_eq(records_in(FAKE2, id, NULL, 0), 1);
	}
	free(ok);
}
END_TEST

/* ---- residency ------------------------------------------------------------ */

START_TEST(test_residency_refused)
{
	struct tenant	 p = P;
	struct http_resp r;
	char		 args[512], out[8192], key[40], *b;
	/* Pinned only to this deployment's region (CB_REGION=us), on data keys tagged with it. */
	snprintf(args, sizeof(args), "org-region %s eu", p.s.slug);
	ck_assert_int_ne(seed_admin_all(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "data-residency") && strstr(out, "CB_REGION"), "%s", out);
	if (testdb_long("SELECT count(*) FROM data_keys WHERE state = 'current'"
	    " AND region IS DISTINCT FROM 'us'", 0, NULL) > 0) {
		snprintf(args, sizeof(args), "org-region %s us", p.s.slug);
		ck_assert_int_ne(seed_admin_all(args, out, sizeof(out)), 0);
		ck_assert_msg(strstr(out, "data-residency") && strstr(out, "data-key-rotate"), "%s",
		    out);
		admin_ok("data-key-rotate pii", out, sizeof(out));
		ck_assert_msg(strstr(out, "\"region\":\"us\""), "%s", out);
		admin_ok("data-key-rotate tokens", out, sizeof(out));
	}
	snprintf(args, sizeof(args), "org-region %s us", p.s.slug);
	admin_ok(args, out, sizeof(out));

	/* The admin route: a login host in eu, and one in no region. */
	new_key(key, sizeof(key));
	b = put_body("http://localhost:9", "k1-key.pem", NULL);
	call("PUT", p.tok, key, b, &r);
	http_expect_problem(&r, 422, "/problems/data-residency");
	ck_assert_str_eq(http_json_str(&r, "field"), "login_url");
	ck_assert_msg(strstr(http_json_str(&r, "detail"), "data-residency") &&
	    strstr(http_json_str(&r, "detail"), "region eu"), "%s", r.body);
	http_free(&r);
	free(b);
	b = put_body("https://login.elsewhere.test", "k1-key.pem",
	    "\"instance_url\":\"https://x.eu.example.test\"");
	put_expect(p.tok, b, 422, "/problems/data-residency", "login_url");
	free(b);
	b = put_body(fake2_url, "k1-key.pem", "\"instance_url\":\"https://x.eu.example.test\"");
	put_expect(p.tok, b, 422, "/problems/data-residency", "instance_url");
	free(b);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM sf_connections WHERE org_id ="
	    " (SELECT id FROM orgs WHERE slug = $1)", 1, (const char *[]){ p.s.slug }), 0);
	/* cb-admin: the same rule. */
	ck_assert_int_ne(connect_b(p.s.slug, "k1", "http://localhost:9", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "data-residency") && strstr(out, "region eu"), "%s", out);
	ck_assert(!key_line_in("k1-key.pem", out));
	/* A webhook endpoint in eu. */
	new_key(key, sizeof(key));
	{
		http_as("POST", "/api/v1/admin/webhooks", p.tok, key, "{\"url\":"
		    "\"https://hooks.eu.example.test/in\",\"event_types\":[\"submission.created\"]}",
		    &r);
		http_expect_problem(&r, 422, "/problems/data-residency");
		ck_assert_str_eq(http_json_str(&r, "field"), "url");
		http_free(&r);
		/* In its region: created, tagged. */
		new_key(key, sizeof(key));
		http_as("POST", "/api/v1/admin/webhooks", p.tok, key, "{\"url\":"
		    "\"https://hooks.us.example.test/in\",\"event_types\":[\"submission.created\"]}",
		    &r);
		ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
		ck_assert_str_eq(http_json_str(&r, "region"), "us");
		http_free(&r);
	}
	/* In its region: accepted and tagged. */
	ck_assert_msg(connect_b(p.s.slug, "k1", fake2_url, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"region\":\"us\""), "%s", out);
	snprintf(args, sizeof(args), "org-region %s -", p.s.slug);
	admin_ok(args, out, sizeof(out));
}
END_TEST

/* ---- certificate rotation ------------------------------------------------ */

START_TEST(test_rotation_overlap_fallback_promotion)
{
	char		 args[512], out[8192], id[40], k2sha[80];
	struct http_resp r;
	long		 m0, m1, t0;
	char		*cert;

	/* B's key k1 is the app's only certificate; k2 is installed as the next key. */
	m0 = mints(0);
	snprintf(args, sizeof(args), "sf-rotate %s %s/k2-key.pem", B.s.slug, dir);
	ck_assert_msg(seed_admin_all(args, out, sizeof(out)) == 0, "%s", out);
	ck_assert(!key_line_in("k2-key.pem", out));
	t0 = (long)time(NULL);
	{
		cJSON *v = cJSON_Parse(out), *n = cJSON_GetObjectItem(v, "next_key");

		ck_assert_msg(cJSON_IsObject(n), "%s", out);
		util_strlcpy(k2sha, cJSON_GetObjectItem(n, "public_key_sha256")->valuestring,
		    sizeof(k2sha));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(n, "overlap_until")));
		cJSON_Delete(v);
	}
	/* The next key is refused by the app (no certificate yet): the current one mints. */
	fakectl_post(FAKE2, "/__fake/revoke-tokens", "{}");
	submit(&B, id);
	delivered(id);
	ck_assert_int_ge(fakectl_stat(FAKE2, "token_failures"), 1);
	ck_assert_int_gt(mints(0), m0);
	/* The certificate uploaded: the next key mints. */
	cert = slurp("k2-cert.pem");
	fakectl_call(FAKE2, "POST", "/__fake/certs", cert, &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);
	free(cert);
	m0 = mints(0);
	fakectl_post(FAKE2, "/__fake/revoke-tokens", "{}");
	submit(&B, id);
	delivered(id);
	ck_assert_int_eq(mints(1), 1);
	ck_assert_int_eq(mints(0), m0);
	/* After the overlap (CB_SF_KEY_OVERLAP_S=5, not a day) k2 is the key, alone. */
	while ((long)time(NULL) < t0 + 6)
		test_sleep_ms(200);
	m0 = mints(0);
	m1 = mints(1);
	submit(&B, id);
	delivered(id);
	ck_assert_int_eq(mints(0), m0);
	ck_assert_int_eq(mints(1), m1 + 1);
	snprintf(args, sizeof(args), "sf-show %s", B.s.slug);
	ck_assert_int_eq(seed_admin_all(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"next_key\":null") && strstr(out, k2sha), "%s", out);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint AND"
	    " action = 'salesforce.key_promoted' AND detail->>'key_sha256' = $2", 2,
	    (const char *[]){ B.org, k2sha }), 1);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint AND"
	    " action = 'salesforce.key_installed'", 1, (const char *[]){ B.org }), 1);
}
END_TEST

START_TEST(test_key_age_warning)
{
	char	 args[512], out[16384];

	/* 50 days: under CB_SF_KEY_WARN_DAYS (60); 70 days: over it (not over the default 90). */
	testdb_exec("UPDATE sf_connections SET key_at = now() - interval '50 days 1 hour'"
	    " WHERE org_id = $1::bigint", 1, (const char *[]){ B.org });
	snprintf(args, sizeof(args), "sf-show %s", B.s.slug);
	ck_assert_int_eq(seed_admin_all(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"age_days\":50") && !strstr(out, "cb-admin: warning"), "%s",
	    out);
	testdb_exec("UPDATE sf_connections SET key_at = now() - interval '70 days 1 hour'"
	    " WHERE org_id = $1::bigint", 1, (const char *[]){ B.org });
	ck_assert_int_eq(seed_admin_all("sf-list", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"age_days\":70") && strstr(out, "\"rotation_due\":true") &&
	    strstr(out, "cb-admin: warning:") && strstr(out, "70 days old"), "%s", out);
	ck_assert(!key_line_in("k1-key.pem", out) && !key_line_in("k2-key.pem", out));
}
END_TEST

static Suite *
sforgs_suite(void)
{
	Suite	*s = suite_create("sforgs");
	TCase	*tc = tcase_create("sforgs");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_each_tenant_reaches_only_its_org);
	tcase_add_test(tc, test_route_inputs_and_secrets);
	tcase_add_test(tc, test_residency_refused);
	tcase_add_test(tc, test_rotation_overlap_fallback_promotion);
	tcase_add_test(tc, test_key_age_warning);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(sforgs_suite());
}
