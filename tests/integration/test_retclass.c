/*
 * Retention by data class through the real stack (docs/classification.md,
 * "Retention by class"): PUT/GET /api/v1/admin/retention and the worker's
 * retention duty, which runs every second here.  The clock is moved the
 * way every retention suite moves it: the rows' timestamps go back, and
 * the duty's now() does the rest; and once the other way, the duty's own
 * clock moved on (CB_RETAIN_CLOCK_S) with the rows left as written.
 *
 *   - a tenant's periods: the fields of the expired classes leave its
 *     submission (sealed data and Salesforce field map) and nothing else
 *     does; another tenant's rows of the same age, under the defaults,
 *     keep everything; a submission whose delivery is pending keeps
 *     everything; a finished command's confidential value goes; a call
 *     event past the confidential period goes; the audit chain verifies;
 *   - batches: CB_RETAIN_CLASS_BATCH (3 on the test stack) submissions a
 *     batch at most, so ten take at least four;
 *   - under faults (the duty killed with SIGKILL, Postgres crashed and
 *     started again, while it strips thirty submissions): every one ends
 *     stripped exactly, and every one still opens;
 *   - cb_field_class, the SQL twin of formdef_field_class, agrees with it
 *     (classes, the deprecated pii flag, a selector naming no field);
 *   - the route: 400 naming the field for a value out of bounds, mistyped
 *     or unknown, 422 when a stricter class would outlive a laxer one,
 *     403 for another role, all problem+json.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "check_util.h"
#include "errs.h"
#include "formdef.h"
#include "http.h"
#include "keyring.h"
#include "people.h"
#include "reseal.h"
#include "seed.h"
#include "stacklog.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define RETENTION	"/api/v1/admin/retention"
/* Rounds run every second: what is due is done well within this. */
#define DUE_MS		30000

struct tenant {
	struct seed	 s;
	struct tuser	 adm;
	char		 org[24];
	char		 acc[TOKSZ];
};

static void
tenant_open(struct tenant *t)
{
	char	 refresh[80], path[512];

	seed_tenant(&t->s);
	testdb_val(t->org, sizeof(t->org), "SELECT id::text FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ t->s.slug });
	new_user(t->s.slug, "admin", &t->adm);
	login_ok(&t->adm, t->acc, refresh);
	/* A form with a field of every class. */
	snprintf(path, sizeof(path), "%s/docs/examples/forms/support-case.json",
	    test_env("CB_REPO"));
	ck_assert_int_eq(seed_publish(t->s.form_id, path), 0);
}

static void
put_periods(const struct tenant *t, const char *key, const char *body, struct http_resp *r)
{
	http_as("PUT", RETENTION, t->acc, key, body, r);
}

/* One support case with a value of every class; its submission id. */
static void
submit_case(const struct tenant *t, const char *key, char sub[40])
{
	char	 body[512];

	snprintf(body, sizeof(body), "{\"data\":{\"email\":\"case-%s@example.org\","
	    "\"account_number\":\"AC%s\",\"product\":\"api\",\"priority\":\"high\","
	    "\"subject\":\"It broke\",\"description\":\"Details %s\",\"affected_users\":3}}",
	    key, key, key);
	submit_form_new_tab(t->s.form_id, key, body, sub);
}

/* Wait until the query (one parameter) counts n; 1 if it did within ms. */
static int
wait_count(const char *sql, const char *id, long n, int ms)
{
	int	 waited;

	for (waited = 0; waited <= ms; waited += 200) {
		if (testdb_long(sql, 1, (const char *[]){ id }) == n)
			return 1;
		test_sleep_ms(200);
	}
	return 0;
}

/* A sealed column opened: the submission's data or its upsert row's field map. */
static cJSON *
opened(const char *table, const char *sub)
{
	if (strcmp(table, "submissions") == 0)
		return testdb_unseal_json(table, sub, "SELECT data_sealed FROM submissions"
		    " WHERE id = $1::uuid");
	return testdb_unseal_json(table, sub, "SELECT payload_sealed FROM outbox"
	    " WHERE ref_id = $1::uuid AND kind = 'salesforce.upsert'");
}

/* The members of an object, sorted, comma-separated. */
static void
members(const cJSON *o, char *out, size_t outsz)
{
	const char	*names[32];
	const cJSON	*m;
	size_t		 n = 0, i, j, len;
	const char	*t;

	cJSON_ArrayForEach(m, o)
		if (n < 32)
			names[n++] = m->string;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		len = strlen(out);
		snprintf(out + len, outsz - len, "%s%s", i ? "," : "", names[i]);
	}
}

static void
expect_members(const char *table, const char *sub, const char *want)
{
	cJSON	*j = opened(table, sub);
	char	 got[512];

	members(j, got, sizeof(got));
	cJSON_Delete(j);
	ck_assert_msg(strcmp(got, want) == 0, "%s %s: {%s}, want {%s}", table, sub, got, want);
}

#define ALL_DATA	"account_number,affected_users,description,email,priority,product,subject"
#define ALL_MAP		"Account_Number__c,Affected_Users__c,Description,Priority,Product__c," \
			"Subject,SuppliedEmail"
#define UNDONE_N	"SELECT count(*) FROM outbox WHERE ref_id = $1::uuid AND state <> 'done'"

/* A finished set_field of #email, its value `v`; its id. */
static void
set_email(const struct tenant *t, const char *v, char cmd[40])
{
	char		 ctx[40], tok[64], nonce[48];

	seed_context(t->s.form_id, ctx, tok);
	snprintf(nonce, sizeof(nonce), "rc-%s", ctx);
	submit_set_field(t->s.api_key, ctx, "#email", v, nonce, cmd);
	testdb_exec("UPDATE commands SET state = 'applied', finished_at = now(),"
	    " created_at = now() - interval '3 days' WHERE id = $1::uuid", 1,
	    (const char *[]){ cmd });
}

/*
 * A call event of the tenant, 3 days old (a source of its own); its id.
 * The source's secret is sealed as lib/calls seals one, so that a later
 * suite's re-seal on the same stack (test_sealing) opens every row.
 */
static void
call_event(const struct tenant *t, char ev[40])
{
	struct db	*db = testdb_open();
	struct keyring	 k;
	struct buf	 sealed;
	char		 src[40];

	util_uuid_v4(src);
	buf_init(&sealed, 4096);
	testdb_keys_open(&k, db);
	ck_assert_int_eq(reseal_seal_value(keyring_get(&k, db), "call_sources", src, "rc-secret",
	    9, &sealed), CB_OK);
	testdb_keys_close(&k);
	db_close(db);
	testdb_exec("INSERT INTO call_sources (id, org_id, name, secret_sealed)"
	    " VALUES ($2::uuid, $1::bigint, 'rc-' || gen_random_uuid(), $3)", 3,
	    (const char *[]){ t->org, src, buf_cstr(&sealed) });
	buf_free(&sealed);
	testdb_val(ev, 40, "INSERT INTO call_events (id, org_id, source_id, correlation_id,"
	    " event_type, body_sha256, webhook_id, created_at, feed_seq)"
	    " VALUES (gen_random_uuid(), $1::bigint, $2::uuid, 'rc-corr', 'call_ended',"
	    " sha256('x'), 'msg_rc', now() - interval '3 days',"
	    " (SELECT coalesce(max(feed_seq), 0) + 1 FROM call_events WHERE org_id = $1::bigint))"
	    " RETURNING id::text", 2, (const char *[]){ t->org, src });
}

/* The delivery of sub done, then made old (and kept pending when `hold`). */
static void
age_submission(const char *sub, int hold)
{
	ck_assert_msg(wait_count(UNDONE_N, sub, 0, DUE_MS), "%s not delivered", sub);
	/* Pending before it is old: a round in between would strip it. */
	if (hold)
		testdb_exec("UPDATE outbox SET state = 'pending', done_at = NULL,"
		    " run_after = now() + interval '1 day' WHERE ref_id = $1::uuid", 1,
		    (const char *[]){ sub });
	testdb_exec("UPDATE submissions SET created_at = now() - interval '3 days'"
	    " WHERE id = $1::uuid", 1, (const char *[]){ sub });
}

START_TEST(expired_classes_go_nothing_else)
{
	struct tenant	 a, b;
	struct http_resp r;
	char		 key[40], sub_a[40], sub_b[40], sub_held[40], cmd_a[40], cmd_b[40];
	char		 ev_a[40], ev_b[40], out[4096];
	const char	*purged = "SELECT count(*) FROM submissions WHERE id = $1::uuid"
	    " AND classes_purged = '{confidential,restricted}'";

	tenant_open(&a);
	tenant_open(&b);
	/* A keeps confidential data 2 days and restricted data 1; B the defaults. */
	util_random_token(key, sizeof(key), 12);
	put_periods(&a, key, "{\"confidential_days\":2,\"restricted_days\":1}", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_int_eq(cJSON_GetObjectItem(http_json(&r), "confidential_days")->valueint, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(http_json(&r), "public_days")->valueint, 365);
	http_free(&r);
	http_as("GET", RETENTION, b.acc, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetObjectItem(http_json(&r), "confidential_days")->valueint, 90);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(http_json(&r), "updated_at")));
	http_free(&r);

	submit_case(&a, "rca1", sub_a);
	submit_case(&a, "rca2", sub_held);
	submit_case(&b, "rcb1", sub_b);
	/* All three 3 days old; the second of A's still waiting for its delivery. */
	age_submission(sub_a, 0);
	age_submission(sub_held, 1);
	age_submission(sub_b, 0);
	set_email(&a, "cmd-a@example.org", cmd_a);
	set_email(&b, "cmd-b@example.org", cmd_b);
	call_event(&a, ev_a);
	call_event(&b, ev_b);

	ck_assert_msg(wait_count(purged, sub_a, 1, DUE_MS), "A's submission not stripped");
	/* A: the public and internal fields stay, in the data and in the map. */
	expect_members("submissions", sub_a, "affected_users,priority,product,subject");
	expect_members("outbox", sub_a, "Affected_Users__c,Priority,Product__c,Subject");
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM subject_index WHERE ref_id = $1::uuid",
	    1, (const char *[]){ sub_a }), 0);
	/* A's command value and call event are gone. */
	ck_assert_msg(wait_count("SELECT count(*) FROM commands WHERE id = $1::uuid"
	    " AND value IS NULL AND value_sealed IS NULL", cmd_a, 1, DUE_MS),
	    "A's command value still there");
	ck_assert_msg(wait_count("SELECT count(*) FROM call_events WHERE id = $1::uuid", ev_a, 0,
	    DUE_MS), "A's call event still there");
	/* Two more rounds: what B or a pending delivery holds stays. */
	test_sleep_ms(2500);
	expect_members("submissions", sub_held, ALL_DATA);
	expect_members("outbox", sub_held, ALL_MAP);
	expect_members("submissions", sub_b, ALL_DATA);
	expect_members("outbox", sub_b, ALL_MAP);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM submissions WHERE id = ANY"
	    " (ARRAY[$1, $2]::uuid[]) AND classes_purged = '{}'", 2,
	    (const char *[]){ sub_held, sub_b }), 2);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM subject_index WHERE ref_id = $1::uuid",
	    1, (const char *[]){ sub_b }), 1);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands WHERE id = $1::uuid"
	    " AND value_sealed IS NOT NULL", 1, (const char *[]){ cmd_b }), 1);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_events WHERE id = $1::uuid",
	    1, (const char *[]){ ev_b }), 1);

	/* Once delivered, the held one goes the same way. */
	testdb_exec("UPDATE outbox SET state = 'done', done_at = now() WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub_held });
	ck_assert_msg(wait_count(purged, sub_held, 1, DUE_MS), "held submission not stripped");
	expect_members("submissions", sub_held, "affected_users,priority,product,subject");

	/* The change is audited, and the chain verifies. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'retention.changed'", 1, (const char *[]){ a.org }), 1);
	ck_assert_msg(seed_admin_all("audit verify", out, sizeof(out)) == 0, "%s", out);
}
END_TEST

/*
 * The clock override: a submission just made, its rows untouched, is
 * stripped of its confidential fields once the duty's clock is moved three
 * days on (the tenant keeps them two); with the clock back, a new one
 * keeps everything.
 */
START_TEST(clock_override_moves_the_duty)
{
	struct tenant	 t;
	struct http_resp r;
	char		 key[40], sub[40], fresh[40], path[512];
	const char	*purged = "SELECT count(*) FROM submissions WHERE id = $1::uuid"
	    " AND classes_purged = '{confidential,restricted}'";

	tenant_open(&t);
	util_random_token(key, sizeof(key), 12);
	put_periods(&t, key, "{\"confidential_days\":2,\"restricted_days\":2}", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	http_free(&r);
	submit_case(&t, "rcclk1", sub);
	ck_assert_msg(wait_count(UNDONE_N, sub, 0, DUE_MS), "%s not delivered", sub);
	/* Two more rounds at the true time: nothing is due. */
	test_sleep_ms(2500);
	expect_members("submissions", sub, ALL_DATA);

	test_stack_env("CB_RETAIN_CLOCK_S=259200", "restart-worker");
	ck_assert_msg(wait_count(purged, sub, 1, DUE_MS),
	    "not stripped with the clock moved 3 days on");
	expect_members("submissions", sub, "affected_users,priority,product,subject");
	ck_assert_int_ge(stacklog_lines(stacklog_path("cb-worker", path, sizeof(path)),
	    "retention_clock_moved", "\"259200\"", NULL), 1);

	test_stack_env("env -u CB_RETAIN_CLOCK_S", "restart-worker");
	submit_case(&t, "rcclk2", fresh);
	ck_assert_msg(wait_count(UNDONE_N, fresh, 0, DUE_MS), "%s not delivered", fresh);
	test_sleep_ms(2500);
	expect_members("submissions", fresh, ALL_DATA);
}
END_TEST

START_TEST(batches_are_small)
{
	struct tenant	 t;
	struct http_resp r;
	char		 key[40], subs[10][40], tag[16], path[512], buf[1024], *line = NULL;
	FILE		*f;
	long long	 batch, rows;
	int		 i, before, lines;
	const char	*p;

	ck_assert_int_eq(util_parse_ll(test_env("CB_RETAIN_CLASS_BATCH"), 1, 1000, &batch), CB_OK);
	ck_assert_msg(batch < 10, "CB_RETAIN_CLASS_BATCH %lld: the case needs fewer", batch);
	tenant_open(&t);
	util_random_token(key, sizeof(key), 12);
	put_periods(&t, key, "{\"restricted_days\":1}", &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	for (i = 0; i < 10; i++) {
		snprintf(tag, sizeof(tag), "rcbatch%d", i);
		submit_case(&t, tag, subs[i]);
	}
	for (i = 0; i < 10; i++)
		ck_assert_msg(wait_count(UNDONE_N, subs[i], 0, DUE_MS), "not delivered");
	stacklog_path("cb-worker", path, sizeof(path));
	before = stacklog_lines(path, "retention_class_batch", "\"submissions\"", NULL);
	/* All ten due at once: the duty sees them in one round. */
	testdb_exec("UPDATE submissions SET created_at = now() - interval '2 days'"
	    " WHERE org_id = $1::bigint", 1, (const char *[]){ t.org });
	ck_assert_msg(wait_count("SELECT count(*) FROM submissions WHERE org_id = $1::bigint"
	    " AND classes_purged = '{restricted}'", t.org, 10, DUE_MS), "not all stripped");
	test_sleep_ms(500);	/* the last batch's line is written after its commit */
	lines = stacklog_lines(path, "retention_class_batch", "\"submissions\"", &line);
	ck_assert_msg(lines - before >= (10 + batch - 1) / batch,
	    "%d batches for 10 rows of %lld at most", lines - before, batch);
	free(line);
	/* And no batch was larger than the setting. */
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strstr(buf, "retention_class_batch") == NULL ||
		    (p = strstr(buf, "\"rows\":\"")) == NULL)
			continue;
		rows = strtoll(p + 8, NULL, 10);
		ck_assert_msg(rows <= batch, "a batch of %lld rows: %s", rows, buf);
	}
	fclose(f);
}
END_TEST

static void
expect_refused(const struct tenant *t, const char *body, long status, const char *type,
    const char *field)
{
	struct http_resp r;
	char		 key[40];

	util_random_token(key, sizeof(key), 12);
	put_periods(t, key, body, &r);
	http_expect_problem(&r, status, type);
	if (field != NULL)
		ck_assert_str_eq(http_json_str(&r, "field"), field);
	http_free(&r);
}

START_TEST(bad_input_is_problem_json)
{
	struct tenant	 t;
	struct tuser	 v;
	struct http_resp r;
	char		 acc[TOKSZ], refresh[80];

	tenant_open(&t);
	expect_refused(&t, "{\"restricted_days\":0}", 400, "/problems/validation",
	    "restricted_days");
	expect_refused(&t, "{\"public_days\":3651}", 400, "/problems/validation", "public_days");
	expect_refused(&t, "{\"internal_days\":\"30\"}", 400, "/problems/validation",
	    "internal_days");
	expect_refused(&t, "{\"internal_days\":1.5}", 400, "/problems/validation", "internal_days");
	expect_refused(&t, "{\"secret_days\":3}", 400, "/problems/validation", "secret_days");
	/* Restricted data kept longer than confidential data (its default, 90). */
	expect_refused(&t, "{\"restricted_days\":100}", 422, "/problems/unprocessable",
	    "restricted_days");
	expect_refused(&t, "{\"public_days\":10,\"internal_days\":20}", 422,
	    "/problems/unprocessable", "internal_days");
	/* Nothing was written. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM retention_periods WHERE org_id ="
	    " $1::bigint", 1, (const char *[]){ t.org }), 0);
	/* Another role. */
	new_user(t.s.slug, "viewer", &v);
	login_ok(&v, acc, refresh);
	http_as("PUT", RETENTION, acc, "rc-viewer", "{}", &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	http_as("GET", RETENTION, acc, NULL, NULL, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
}
END_TEST

/* The SQL twin and the C rule give every field, and a stranger, one class. */
START_TEST(sql_class_agrees_with_formdef)
{
	static const char legacy[] = "{\"fields\":[{\"name\":\"a\",\"type\":\"string\","
	    "\"pii\":true},{\"name\":\"b\",\"type\":\"string\"},{\"name\":\"c\","
	    "\"type\":\"string\",\"pii\":false}]}";
	char		 path[512], got[32], sel[80], *text;
	const char	*defs[2], *names[] = { "email", "account_number", "product", "priority",
	    "subject", "description", "affected_users", "a", "b", "c", "nosuch" };
	cJSON		*def;
	FILE		*f;
	long		 n;
	size_t		 i, d;

	snprintf(path, sizeof(path), "%s/docs/examples/forms/support-case.json",
	    test_env("CB_REPO"));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	text = calloc(1, 65536);
	ck_assert_ptr_nonnull(text);
	n = (long)fread(text, 1, 65535, f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	defs[0] = text;
	defs[1] = legacy;
	for (d = 0; d < 2; d++) {
		ck_assert_ptr_nonnull(def = cJSON_Parse(defs[d]));
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(sel, sizeof(sel), "#%s", names[i]);
			testdb_val(got, sizeof(got), "SELECT cb_field_class($1::jsonb, $2)", 2,
			    (const char *[]){ defs[d], sel });
			ck_assert_msg(strcmp(got, formdef_class_name(formdef_field_class(def,
			    names[i]))) == 0, "def %zu field %s: SQL %s", d, names[i], got);
		}
		cJSON_Delete(def);
	}
	free(text);
}
END_TEST

#define FAULT_SUBS	30

START_TEST(stripping_survives_faults)
{
	struct tenant	 t;
	struct http_resp r;
	char		 key[40], subs[FAULT_SUBS][40], tag[24];
	int		 i;

	tenant_open(&t);
	util_random_token(key, sizeof(key), 12);
	put_periods(&t, key, "{\"confidential_days\":5,\"restricted_days\":1}", &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	for (i = 0; i < FAULT_SUBS; i++) {
		snprintf(tag, sizeof(tag), "rcfault%d", i);
		submit_case(&t, tag, subs[i]);
	}
	for (i = 0; i < FAULT_SUBS; i++)
		ck_assert_msg(wait_count(UNDONE_N, subs[i], 0, DUE_MS), "not delivered");
	/* All due at once, then the faults while the duty works through them. */
	testdb_exec("UPDATE submissions SET created_at = now() - interval '2 days'"
	    " WHERE org_id = $1::bigint", 1, (const char *[]){ t.org });
	test_sleep_ms(300);
	test_kill_children("cb-worker");
	test_sleep_ms(300);
	test_stack("restart-postgres");
	test_kill_children("cb-worker");
	ck_assert_msg(wait_count("SELECT count(*) FROM submissions WHERE org_id = $1::bigint"
	    " AND classes_purged = '{restricted}'", t.org, FAULT_SUBS, DUE_MS), "not all stripped");
	/* Each exactly: the restricted field out, the rest in, and it opens. */
	for (i = 0; i < FAULT_SUBS; i++) {
		expect_members("submissions", subs[i],
		    "affected_users,description,email,priority,product,subject");
		expect_members("outbox", subs[i], "Affected_Users__c,Description,Priority,"
		    "Product__c,Subject,SuppliedEmail");
	}
}
END_TEST

static Suite *
retclass_suite(void)
{
	Suite	*su = suite_create("retclass");
	TCase	*tc = tcase_create("class");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, bad_input_is_problem_json);
	tcase_add_test(tc, expired_classes_go_nothing_else);
	tcase_add_test(tc, clock_override_moves_the_duty);
	tcase_add_test(tc, batches_are_small);
	tcase_add_test(tc, sql_class_agrees_with_formdef);
	/* Last: it restarts Postgres. */
	tcase_add_test(tc, stripping_survives_faults);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(retclass_suite());
}
