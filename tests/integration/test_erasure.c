/*
 * Erasure of a data subject (POST /api/v1/admin/erasures, docs/erasure.md),
 * through the real stack:
 *   - refusals: 401 without a person, 403 for every role but admin, 400
 *     naming the field for a malformed email or phone or an unknown member,
 *     422 for both or neither, 400 without an Idempotency-Key, 404 for
 *     another tenant's erasure id;
 *   - an email spelt otherwise and a phone number spelt otherwise find the
 *     submission, the command and the call event that hold them; a replay
 *     of the same key answers the stored 202 and erases nothing more;
 *   - each Salesforce record the broker wrote for them is deleted exactly
 *     once (the fake's DELETE counters), another subject's is not;
 *   - no trace: a pg_dump of the database and a snapshot of Redis hold
 *     neither the email nor the number in any spelling (each search first
 *     proven to find a value that is there), the contact cache's entry of
 *     the number is gone, and the run's log scan fails on any log line
 *     holding them (test_record_personal);
 *   - a 401 on a DELETE mints a token and sends it again at once; a
 *     permanent refusal dead-letters it and the erasure says failed;
 *   - an upsert in flight when the erasure commits lands first, then the
 *     delete;
 *   - rows older than the index get their entries from cb-admin
 *     subject-index (the backfill), once, and --rewrite drops entries
 *     under another key; rows whose upsert rows were
 *     purged still have their Salesforce records deleted;
 *   - a voice platform retrying an erased call's message is told it arrived
 *     (200, event_id null) and nothing is written again;
 *   - under faults (last: it restarts this suite's Postgres): ten erasures,
 *     each retried with its key until answered, while Postgres crashes and
 *     starts again, every worker duty is killed with SIGKILL twice (the
 *     first deletions slowed by the fake, so some are in flight) and Redis
 *     is frozen: one erasure and one subject.erased audit row per subject,
 *     each one done, each Salesforce record deleted exactly once (a DELETE
 *     sent again after a kill finds the record absent: 404, done, never a
 *     second deletion), and no submission, blind-index entry or outbox row
 *     of a subject left.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "fakehooks.h"
#include "fakesf.h"
#include "http.h"
#include "kv.h"
#include "outbox.h"
#include "people.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define ERASURES	"/api/v1/admin/erasures"

static void
erase(const char *tok, const char *key, const char *body, struct http_resp *r)
{
	http_as("POST", ERASURES, tok, key, body, r);
}

static void
expect_field(struct http_resp *r, long status, const char *type, const char *field)
{
	http_expect_problem(r, status, type);
	if (field != NULL)
		ck_assert_str_eq(http_json_str(r, "field"), field);
	http_free(r);
}

static long
member(cJSON *o, const char *a, const char *b)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	ck_assert_msg(cJSON_IsNumber(v), "%s.%s missing", a, b ? b : "");
	return (long)v->valuedouble;
}

/*
 * An erasure that must be taken: its counts checked (found submissions,
 * call events, commands; Salesforce deletions enqueued), its id into id.
 */
static void
erase_ok(const char *tok, const char *key, const char *body, const long want[4], char id[40])
{
	struct http_resp r;
	cJSON		*j;

	erase(tok, key, body, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	j = http_json(&r);
	ck_assert_int_eq(member(j, "found", "submissions"), want[0]);
	ck_assert_int_eq(member(j, "found", "call_events"), want[1]);
	ck_assert_int_eq(member(j, "found", "commands"), want[2]);
	ck_assert_int_eq(member(j, "salesforce", "enqueued"), want[3]);
	util_strlcpy(id, http_json_str(&r, "id"), 40);
	http_free(&r);
}

START_TEST(refusals)
{
	const char *const roles[] = { "admin", "operator", "viewer", "approver", NULL };
	struct tuser	 u[4], o[1];
	char		 acc[4][TOKSZ], oacc[1][TOKSZ], slug[48], slug2[48], id[40], path[120];
	struct http_resp r;
	int		 i;
	static const struct {
		const char	*body;
		long		 status;
		const char	*type;
		const char	*field;
	} bad[] = {
		{ "{\"email\":\"not an email\"}", 400, "/problems/validation", "email" },
		{ "{\"email\":\"a@b\"}", 400, "/problems/validation", "email" },
		{ "{\"email\":42}", 400, "/problems/validation", "email" },
		{ "{\"phone\":\"555-2671\"}", 400, "/problems/validation", "phone" },
		{ "{\"phone\":\"+1 800 FLOWERS\"}", 400, "/problems/validation", "phone" },
		{ "{\"name\":\"Jane\"}", 400, "/problems/validation", "name" },
		{ "{\"email\":\"a@example.org\",\"phone\":\"+14155552671\"}", 422,
		  "/problems/unprocessable", NULL },
		{ "{}", 422, "/problems/unprocessable", NULL },
	};

	new_org(slug, sizeof(slug));
	new_staff(slug, roles, u, acc);
	new_org(slug2, sizeof(slug2));
	new_staff(slug2, (const char *const []){ "admin", NULL }, o, oacc);

	erase(NULL, "er-1", "{\"email\":\"a@example.org\"}", &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);
	for (i = 1; i < 4; i++) {
		erase(acc[i], "er-1", "{\"email\":\"a@example.org\"}", &r);
		expect_field(&r, 403, "/problems/forbidden", NULL);
	}
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		char key[32];

		snprintf(key, sizeof(key), "er-bad-%d", i);
		erase(acc[0], key, bad[i].body, &r);
		expect_field(&r, bad[i].status, bad[i].type, bad[i].field);
	}
	erase(acc[0], NULL, "{\"email\":\"a@example.org\"}", &r);
	expect_field(&r, 400, "/problems/idempotency-key-missing", NULL);

	/* A subject the tenant never saw: nothing found, nothing to delete. */
	erase(acc[0], "er-ok", "{\"email\":\"nobody@example.org\"}", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	util_strlcpy(id, http_json_str(&r, "id"), sizeof(id));
	ck_assert_str_eq(http_json_str(&r, "status"), "done");
	ck_assert_int_eq(member(http_json(&r), "found", "submissions"), 0);
	ck_assert_int_eq(member(http_json(&r), "salesforce", "enqueued"), 0);
	http_free(&r);

	/* The same key with another body: refused, nothing run. */
	erase(acc[0], "er-ok", "{\"email\":\"somebody@example.org\"}", &r);
	expect_field(&r, 422, "/problems/idempotency-key-reused", NULL);

	snprintf(path, sizeof(path), ERASURES "/%s", id);
	http_as("GET", path, acc[0], NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "id"), id);
	ck_assert_str_eq(http_json_str(&r, "subject_kind"), "email");
	http_free(&r);
	http_as("GET", path, acc[1], NULL, NULL, &r);
	expect_field(&r, 403, "/problems/forbidden", NULL);
	/* Another tenant's admin: as if it did not exist. */
	http_as("GET", path, oacc[0], NULL, NULL, &r);
	expect_field(&r, 404, "/problems/not-found", NULL);
	http_as("GET", ERASURES "/3f0c8a52-3d7e-4b8e-9c61-0d1c2b3a4f5e", acc[0], NULL, NULL, &r);
	expect_field(&r, 404, "/problems/not-found", NULL);
	http_as("GET", ERASURES "/not-a-uuid", acc[0], NULL, NULL, &r);
	expect_field(&r, 404, "/problems/not-found", NULL);
}
END_TEST

/*
 * A signed call event from `from` for the source under webhook-id `id`;
 * the answer in r (the caller frees it).
 */
static void
call_post(const char *source, const char *secret, const char *corr, const char *from,
    const char *id, struct http_resp *r)
{
	char		 body[512], path[160], ts[32], sig[128], hid[96], hts[64], hsig[200];
	const char	*h[5];

	snprintf(body, sizeof(body), "{\"correlation_id\":\"%s\",\"event_type\":\"call_started\","
	    "\"from\":\"%s\",\"started_at\":\"2025-10-18T14:03:07Z\"}", corr, from);
	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
	fakehooks_sign(secret, id, ts, body, strlen(body), sig, sizeof(sig));
	snprintf(hid, sizeof(hid), "webhook-id: %s", id);
	snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
	h[0] = "Content-Type: application/json";
	h[1] = hid;
	h[2] = hts;
	h[3] = hsig;
	h[4] = NULL;
	snprintf(path, sizeof(path), "/api/v1/webhooks/calls/%s", source);
	http_do("POST", path, h, body, strlen(body), r);
}

/* A tenant with an admin logged in, and a random tag for the subject's values. */
struct tcase {
	struct seed	 s;
	struct tuser	 adm;
	char		 org[24];
	char		 acc[TOKSZ];
	char		 tag[16];
};

static void
tcase_open(struct tcase *t)
{
	char	 refresh[80];
	size_t	 i;

	seed_tenant(&t->s);
	testdb_val(t->org, sizeof(t->org), "SELECT id::text FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ t->s.slug });
	new_user(t->s.slug, "admin", &t->adm);
	login_ok(&t->adm, t->acc, refresh);
	util_random_token(t->tag, sizeof(t->tag), 6);
	for (i = 0; t->tag[i]; i++)
		if (t->tag[i] == '-' || t->tag[i] == '_')
			t->tag[i] = 'q';
}

/* The tenant's agent sets #email to `value` in context ctx; the command's id. */
static void
set_email(const struct tcase *t, const char *ctx, const char *value, char cmd[40])
{
	struct http_resp r;
	char		 path[160], body[512], auth[128];
	const char	*h[] = { "Content-Type: application/json", auth, NULL };

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->s.api_key);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"%s\",\"nonce\":\"erase-%s\"}", value, t->tag);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	util_strlcpy(cmd, http_json_str(&r, "id"), 40);
	http_free(&r);
}

/* A message of a call source: enough to send it again as its sender would. */
struct tcall {
	char	 source[40];
	char	 secret[128];
	char	 corr[48];
	char	 id[64];
	char	 from[40];
};

/* A call from `from` to the tenant (a new call source); the event's id. */
static void
call_from(const struct tcase *t, const char *from, struct tcall *c, char ev[40])
{
	struct http_resp r;
	char		 args[256], out[2048], tok[24];

	snprintf(args, sizeof(args), "call-source-add %s voice --country-code 1", t->s.slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "source_id", c->source, sizeof(c->source));
	seed_take(out, "secret", c->secret, sizeof(c->secret));
	test_record_secret(c->secret);
	snprintf(c->corr, sizeof(c->corr), "erase-%s", t->tag);
	util_random_token(tok, sizeof(tok), 12);
	snprintf(c->id, sizeof(c->id), "msg_%s", tok);
	util_strlcpy(c->from, from, sizeof(c->from));
	call_post(c->source, c->secret, c->corr, c->from, c->id, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	util_strlcpy(ev, http_json_str(&r, "event_id"), 40);
	http_free(&r);
}

/* Wait until the erasure's status is `want` (done: no deletion waits). */
static void
erasure_wait(const char *tok, const char *id, const char *want)
{
	struct http_resp r;
	char		 path[120], status[32] = "";
	double		 until = test_now_s() + 60;

	snprintf(path, sizeof(path), ERASURES "/%s", id);
	do {
		http_as("GET", path, tok, NULL, NULL, &r);
		ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
		util_strlcpy(status, http_json_str(&r, "status"), sizeof(status));
		http_free(&r);
		if (strcmp(status, want) == 0)
			return;
		test_sleep_ms(100);
	} while (test_now_s() < until);
	ck_abort_msg("erasure %s: %s after 60 s, not %s", id, status, want);
}

/* How many lines of `file` hold any of the needles (case-insensitive). */
static long
grep_count(const char *file, const char *const *needles)
{
	char	 cmd[2048], out[64];
	size_t	 n;
	int	 i;

	n = (size_t)snprintf(cmd, sizeof(cmd), "grep -a -i -c -F");
	for (i = 0; needles[i] != NULL; i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " -e '%s'", needles[i]);
	snprintf(cmd + n, sizeof(cmd) - n, " '%s'", file);
	(void)test_run(cmd, out, sizeof(out));
	return strtol(out, NULL, 10);
}

/* pg_dump of the stack's database into dir/name.sql. */
static void
dump_db(const char *dir, const char *name)
{
	char	 sh[1200], out[1024];

	snprintf(sh, sizeof(sh), "mkdir -p '%s' && pg_dump -d '%s dbname=cbroker' -f '%s/%s.sql'"
	    " 2>&1", dir, test_env("CB_PG_SUPER_DSN"), dir, name);
	ck_assert_msg(test_run(sh, out, sizeof(out)) == 0, "pg_dump: %s", out);
}

START_TEST(erasure_leaves_no_trace)
{
	struct tcase	 t;
	struct http_resp r;
	char		 email[96], spelt[120], lower[96], digits[8], e164[20], national[24];
	char		 spelt_phone[32], args[256], out[2048], ctx[40], tok[64], body[1024];
	char		 subA[40], subB[40], ev[40], cmd[40], e1[40], e2[40], dir[300], sh[1400];
	char		 other[96], ext[96], file[320];
	const char	*tag = t.tag, *org = t.org, *acc = t.acc;
	struct tcall	 call;
	long		 dels, calls;
	size_t		 i;

	tcase_open(&t);

	/* The subject: an email, and a number no other test uses. */
	snprintf(email, sizeof(email), "Erase.%s@Example.ORG", tag);
	snprintf(lower, sizeof(lower), "erase.%s@example.org", tag);
	for (i = 0; i < 7; i++)
		digits[i] = (char)('0' + (tag[i % 6] + (int)i) % 10);
	digits[7] = '\0';
	snprintf(e164, sizeof(e164), "+1628%s", digits);
	snprintf(national, sizeof(national), "628%s", digits);
	snprintf(spelt_phone, sizeof(spelt_phone), "+1 (628) %.3s-%s", digits, digits + 3);
	test_record_personal(email);
	test_record_personal(lower);
	test_record_personal(e164);
	test_record_personal(national);
	snprintf(other, sizeof(other), "keep.%s@example.org", tag);

	/* What holds it: a submission (email, and the number in its message) ... */
	seed_context(t.s.form_id, ctx, tok);
	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Erasable Person\",\"email\":\"%s\","
	    "\"topic\":\"sales\",\"message\":\"%s\"}}", email, spelt_phone);
	submit_form(t.s.form_id, tok, "erase-a", body, subA);
	/* ... another subject's, which stays ... */
	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Kept Person\",\"email\":\"%s\"}}",
	    other);
	submit_form_new_tab(t.s.form_id, "erase-b", body, subB);
	/* ... an agent's command setting the email ... */
	set_email(&t, ctx, email, cmd);
	/* ... and a call from the number, in its national spelling. */
	snprintf(args, sizeof(args), "(628) %.3s-%s", digits, digits + 3);
	call_from(&t, args, &call, ev);

	ck_assert_msg(outbox_wait(subA, "done", 15000, NULL, NULL, 0), "submission A not delivered");
	ck_assert_msg(outbox_wait(subB, "done", 15000, NULL, NULL, 0), "submission B not delivered");
	ck_assert_msg(outbox_wait(ev, "done", 15000, NULL, NULL, 0), "call event not delivered");
	snprintf(ext, sizeof(ext), "erase-%s:call_started", tag);
	ck_assert_int_eq(fakesf_records(subA, NULL), 1);
	ck_assert_int_eq(fakesf_records(ext, NULL), 1);
	ck_assert_msg(testdb_ccache_pttl(org, e164, NULL, 0) > 0, "the contact lookup cached nothing");
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM subject_index WHERE org_id = $1::bigint"
	    " AND ref_id IN ($2::uuid, $3::uuid, $4::uuid)", 4,
	    (const char *[]){ org, subA, cmd, ev }), 4);	/* A: email and number */
	dels = fakesf_stat("deletes");
	calls = fakesf_stat("delete_calls");
	/*
	 * Before: the dump holds the email nowhere in clear, the command's
	 * value included (sealed since sql/0024); the erasure finds every row
	 * by its blind index alone.
	 */
	snprintf(dir, sizeof(dir), "%s/erasure-%s", test_env("CB_STATE"), tag);
	dump_db(dir, "before");
	snprintf(file, sizeof(file), "%s/before.sql", dir);
	ck_assert_int_eq(grep_count(file, (const char *[]){ email, lower, NULL }), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands WHERE id = $1::uuid"
	    " AND value IS NULL AND value_sealed LIKE 'v1.%'", 1, (const char *[]){ cmd }), 1);

	/* The email, spelt otherwise: the submission and the command. */
	snprintf(spelt, sizeof(spelt), "{\"email\":\"  %s \"}", lower);
	erase_ok(acc, "erase-email", spelt, (const long []){ 1, 0, 1, 1 }, e1);
	/* The same key again: the stored answer, nothing erased twice. */
	erase(acc, "erase-email", spelt, &r);
	ck_assert_int_eq(r.status, 202);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "id"), e1);
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM erasures WHERE org_id = $1::bigint", 1,
	    (const char *[]){ org }), 1);

	/* The number, spelt internationally: the call event (the submission is gone). */
	snprintf(body, sizeof(body), "{\"phone\":\"001 628 %s\"}", digits);
	erase_ok(acc, "erase-phone", body, (const long []){ 0, 1, 0, 1 }, e2);

	/* Salesforce: each record deleted exactly once, the other subject's kept. */
	erasure_wait(acc, e1, "done");
	erasure_wait(acc, e2, "done");
	ck_assert_int_eq(fakesf_stat("deletes") - dels, 2);
	ck_assert_int_eq(fakesf_stat("delete_calls") - calls, 2);
	ck_assert_int_eq(fakesf_records(subA, NULL), 0);
	ck_assert_int_eq(fakesf_records(ext, NULL), 0);
	ck_assert_int_eq(fakesf_records(subB, NULL), 1);

	/* Postgres: the rows are gone, the other subject's stay, the audit holds hashes. */
	ck_assert_int_eq(testdb_long("SELECT (SELECT count(*) FROM submissions WHERE id = $1::uuid)"
	    " + (SELECT count(*) FROM commands WHERE id = $2::uuid)"
	    " + (SELECT count(*) FROM call_events WHERE id = $3::uuid)"
	    " + (SELECT count(*) FROM subject_index WHERE ref_id IN ($1::uuid, $2::uuid, $3::uuid))"
	    " + (SELECT count(*) FROM outbox WHERE ref_id IN ($1::uuid, $3::uuid))", 3,
	    (const char *[]){ subA, cmd, ev }), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM submissions WHERE id = $1::uuid", 1,
	    (const char *[]){ subB }), 1);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log a JOIN erasures e"
	    " ON e.id::text = a.subject AND e.org_id = a.org_id WHERE a.org_id = $1::bigint"
	    " AND a.action = 'subject.erased' AND a.subject IN ($2, $3)"
	    " AND a.actor = 'user:' || e.requested_by"
	    " AND a.detail->>'subject_digest' = encode(e.subject_digest, 'hex')", 3,
	    (const char *[]){ org, e1, e2 }), 2);

	/* pg_dump: no spelling of the subject; the search finds what is there. */
	dump_db(dir, "after");
	snprintf(file, sizeof(file), "%s/after.sql", dir);
	ck_assert_int_ge(grep_count(file, (const char *[]){ t.s.slug, NULL }), 1);
	ck_assert_int_eq(grep_count(file, (const char *[]){ email, lower, e164, national,
	    NULL }), 0);

	/* Redis: the number's cache entry is gone; a snapshot holds no spelling. */
	ck_assert_int_eq(testdb_ccache_pttl(org, e164, NULL, 0), -2);
	snprintf(sh, sizeof(sh), "R=\"redis-cli -s %s -a %s --no-auth-warning\";"
	    " $R SET cb:test:erasure-canary:%s here >/dev/null &&"
	    " $R CONFIG SET rdbcompression no >/dev/null &&"
	    " $R --rdb '%s/redis.rdb' >/dev/null 2>&1; rc=$?;"
	    " $R CONFIG SET rdbcompression yes >/dev/null; $R DEL cb:test:erasure-canary:%s"
	    " >/dev/null; exit $rc", test_env("CB_REDIS_HOST"), test_env("CB_REDIS_PASSWORD"), tag,
	    dir, tag);
	ck_assert_msg(test_run(sh, out, sizeof(out)) == 0, "redis snapshot: %s", out);
	snprintf(file, sizeof(file), "%s/redis.rdb", dir);
	snprintf(args, sizeof(args), "erasure-canary:%s", tag);
	ck_assert_int_ge(grep_count(file, (const char *[]){ args, NULL }), 1);
	ck_assert_int_eq(grep_count(file, (const char *[]){ email, lower, e164, national,
	    NULL }), 0);
	snprintf(sh, sizeof(sh), "rm -rf '%s'", dir);
	(void)test_run(sh, out, sizeof(out));
}
END_TEST

/*
 * Salesforce trouble on a deletion: a 401 mints a token and sends the same
 * DELETE again at once (one attempt); a permanent refusal dead-letters it
 * and the erasure says failed; a 503 is retried on the schedule.
 */
START_TEST(salesforce_delete_trouble)
{
	struct tcase	 t;
	struct http_resp r;
	char		 email[3][96], body[512], sub[3][40], id[3][40], path[120];
	long		 calls = fakesf_stat("delete_calls"), dels = fakesf_stat("deletes");
	long		 mints = fakesf_stat("token_mints"), att = 0;
	long		 served = fakesf_stat("faults_served");
	int		 i;

	tcase_open(&t);
	for (i = 0; i < 3; i++) {
		char key[24];

		snprintf(email[i], sizeof(email[i]), "trouble%d.%s@example.org", i, t.tag);
		test_record_personal(email[i]);
		snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Trouble\","
		    "\"email\":\"%s\"}}", email[i]);
		snprintf(key, sizeof(key), "trouble-%d", i);
		submit_form_new_tab(t.s.form_id, key, body, sub[i]);
		ck_assert_msg(outbox_wait(sub[i], "done", 15000, NULL, NULL, 0), "not delivered");
	}

	fakesf_fault("{\"target\":\"delete\",\"kind\":\"status\",\"status\":401,"
	    "\"error_code\":\"INVALID_SESSION_ID\",\"message\":\"Session expired\"}");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[0]);
	erase_ok(t.acc, "trouble-a", body, (const long []){ 1, 0, 0, 1 }, id[0]);
	erasure_wait(t.acc, id[0], "done");
	/* The faulted call never reaches the records: one DELETE counted, one fault. */
	ck_assert_int_eq(fakesf_stat("faults_served") - served, 1);
	ck_assert_int_eq(fakesf_stat("delete_calls") - calls, 1);
	ck_assert_int_eq(fakesf_stat("deletes") - dels, 1);
	ck_assert_int_ge(fakesf_stat("token_mints") - mints, 1);
	att = testdb_long("SELECT attempts FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ id[0] });
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_records(sub[0], NULL), 0);

	fakesf_fault("{\"target\":\"delete\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"INVALID_FIELD\",\"message\":\"No such column\"}");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[1]);
	erase_ok(t.acc, "trouble-b", body, (const long []){ 1, 0, 0, 1 }, id[1]);
	erasure_wait(t.acc, id[1], "failed");
	snprintf(path, sizeof(path), ERASURES "/%s", id[1]);
	http_as("GET", path, t.acc, NULL, NULL, &r);
	ck_assert_int_eq(member(http_json(&r), "salesforce", "failed"), 1);
	ck_assert_int_eq(member(http_json(&r), "salesforce", "done"), 0);
	http_free(&r);
	ck_assert_int_eq(fakesf_records(sub[1], NULL), 1);
	ck_assert_int_eq(fakesf_stat("faults_served") - served, 2);
	ck_assert_int_eq(fakesf_stat("delete_calls") - calls, 1);

	/* A 503: retried on the schedule, then done (two attempts). */
	fakesf_fault("{\"target\":\"delete\",\"kind\":\"status\",\"status\":503}");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[2]);
	erase_ok(t.acc, "trouble-c", body, (const long []){ 1, 0, 0, 1 }, id[2]);
	erasure_wait(t.acc, id[2], "done");
	ck_assert_int_eq(testdb_long("SELECT attempts FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ id[2] }), 2);
	ck_assert_int_eq(fakesf_stat("faults_served") - served, 3);
	ck_assert_int_eq(fakesf_stat("delete_calls") - calls, 2);
	ck_assert_int_eq(fakesf_records(sub[2], NULL), 0);
}
END_TEST

/*
 * An upsert in flight when the erasure commits (a latency fault holds it):
 * the deletion waits twice CB_SF_TIMEOUT_MS, so it reaches Salesforce after
 * the upsert and the record is gone in the end.
 */
START_TEST(upsert_in_flight_deleted_after)
{
	struct tcase	 t;
	char		 email[96], body[512], sub[40], id[40];
	long		 dels = fakesf_stat("deletes");
	double		 until;

	tcase_open(&t);
	snprintf(email, sizeof(email), "flight.%s@example.org", t.tag);
	test_record_personal(email);
	fakesf_fault("{\"target\":\"upsert\",\"kind\":\"latency\",\"latency_ms\":1500}");
	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"In Flight\",\"email\":\"%s\"}}",
	    email);
	submit_form_new_tab(t.s.form_id, "flight-a", body, sub);
	until = test_now_s() + 10;
	while (testdb_long("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid"
	    " AND state = 'running'", 1, (const char *[]){ sub }) == 0) {
		ck_assert_msg(test_now_s() < until, "the upsert never ran");
		test_sleep_ms(20);
	}
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
	erase_ok(t.acc, "flight-a", body, (const long []){ 1, 0, 0, 1 }, id);
	/* CB_SF_TIMEOUT_MS is 2000 in the suite: the deletion waits about 4 s. */
	ck_assert_int_eq(testdb_long("SELECT (run_after > now() + interval '2 seconds')::int"
	    " FROM outbox WHERE ref_id = $1::uuid AND kind = 'salesforce.delete'", 1,
	    (const char *[]){ id }), 1);
	erasure_wait(t.acc, id, "done");
	ck_assert_int_eq(fakesf_stat("deletes") - dels, 1);
	ck_assert_int_eq(fakesf_records(sub, NULL), 0);
}
END_TEST

/*
 * Rows written before the index (their entries deleted here): cb-admin
 * subject-index writes them again from the sealed data, the command's
 * value and the call event's sealed outbox row; a second run writes none.
 */
START_TEST(backfill_indexes_older_rows)
{
	struct tcase	 t;
	char		 email[96], ctx[40], tok[64], body[512], sub[40], cmd[40], ev[40];
	char		 out[2048], id[40];
	struct tcall	 call;
	struct http_resp r;
	cJSON		*j;

	tcase_open(&t);
	snprintf(email, sizeof(email), "old.%s@example.org", t.tag);
	test_record_personal(email);
	seed_context(t.s.form_id, ctx, tok);
	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Older Row\",\"email\":\"%s\"}}",
	    email);
	submit_form(t.s.form_id, tok, "backfill-a", body, sub);
	set_email(&t, ctx, email, cmd);
	call_from(&t, "+442079460958", &call, ev);

	testdb_exec("DELETE FROM subject_index WHERE ref_id IN ($1::uuid, $2::uuid, $3::uuid)", 3,
	    (const char *[]){ sub, cmd, ev });
	ck_assert_int_eq(seed_admin("subject-index 7", out, sizeof(out)), 0);
	j = cJSON_Parse(out);
	ck_assert_msg(member(j, "entries", NULL) >= 3, "%s", out);
	ck_assert_int_eq(member(j, "undecryptable", NULL), 0);
	cJSON_Delete(j);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM subject_index WHERE ref_id IN"
	    " ($1::uuid, $2::uuid, $3::uuid)", 3, (const char *[]){ sub, cmd, ev }), 3);
	ck_assert_int_eq(seed_admin("subject-index", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"entries\":0") != NULL, "%s", out);
	/*
	 * After a key rotation (an entry under another key stands in for the
	 * old key's): --rewrite replaces each row's entries, the stale one goes.
	 */
	testdb_exec("UPDATE subject_index SET digest = sha256(digest) WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub });
	ck_assert_int_eq(seed_admin("subject-index --rewrite", out, sizeof(out)), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM subject_index WHERE ref_id IN"
	    " ($1::uuid, $2::uuid, $3::uuid)", 3, (const char *[]){ sub, cmd, ev }), 3);

	/*
	 * Their upsert rows purged, as retention does once delivered: the
	 * records to delete are still known, from the rows themselves.
	 */
	testdb_exec("DELETE FROM outbox WHERE ref_id IN ($1::uuid, $2::uuid)", 2,
	    (const char *[]){ sub, ev });
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
	erase_ok(t.acc, "backfill-email", body, (const long []){ 1, 0, 1, 1 }, id);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid"
	    " AND payload->>'ext_value' = $2", 2, (const char *[]){ id, sub }), 1);
	erase_ok(t.acc, "backfill-phone", "{\"phone\":\"+44 20 7946 0958\"}",
	    (const long []){ 0, 1, 0, 1 }, id);
	snprintf(body, sizeof(body), "%s:call_started", call.corr);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid"
	    " AND payload = jsonb_build_object('sobject', 'Call_Activity__c', 'ext_field',"
	    " 'Call_Event_Key__c', 'ext_value', $2::text)", 2, (const char *[]){ id, body }), 1);

	/* The sender retries the erased call's message: told it arrived, nothing written. */
	call_post(call.source, call.secret, call.corr, call.from, call.id, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(http_json(&r), "event_id")),
	    "%s", r.body);
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_events WHERE org_id = $1::bigint"
	    " AND correlation_id = $2", 2, (const char *[]){ t.org, call.corr }), 0);
}
END_TEST

#define SUBJECTS	10
#define GIVE_UP_S	90.0	/* one erasure's retries, at most */

/* The faults, in a process of their own while the erasures go on. */
static void
faults(void)
{
	test_sleep_ms(300);
	test_stack("restart-postgres");
	test_sleep_ms(400);
	test_kill_children("cb-worker");
	test_sleep_ms(500);
	test_stack("pause-redis");
	test_sleep_ms(1500);
	test_stack("resume-redis");
	test_sleep_ms(300);
	test_kill_children("cb-worker");
	_exit(0);
}

/* One erasure, asked again until it is answered 202; its id.  The tries. */
static int
erase_until_taken(const char *acc, const char *key, const char *body, char id[40])
{
	struct http_resp r;
	double		 until = test_now_s() + GIVE_UP_S;
	int		 tries = 0;

	for (;;) {
		tries++;
		http_as("POST", ERASURES, acc, key, body, &r);
		if (r.status == 202) {
			util_strlcpy(id, http_json_str(&r, "id"), 40);
			http_free(&r);
			return tries;
		}
		/* A fault: a dropped connection, 502 from nginx, 503, 409 in flight. */
		ck_assert_msg(r.status == -1 || r.status == 502 || r.status == 503 ||
		    r.status == 504 || r.status == 409, "erasure %s: %ld %s", key, r.status, r.body);
		http_free(&r);
		ck_assert_msg(test_now_s() < until, "erasure %s not taken in %.0f s", key, GIVE_UP_S);
		test_sleep_ms(200);
	}
}

START_TEST(erasures_survive_faults_counted)
{
	struct tcase	 t;
	char		 email[SUBJECTS][96], subs[SUBJECTS][40], ids[SUBJECTS][40], again[40];
	char		 key[64], body[1100];
	const char	*tag = t.tag, *org = t.org, *acc = t.acc;
	long		 dels0, calls0, dels, calls;
	int		 i, st, tries, retried = 0;
	pid_t		 pid;

	tcase_open(&t);
	/* Ten subjects, each with a submission delivered to Salesforce. */
	for (i = 0; i < SUBJECTS; i++) {
		snprintf(email[i], sizeof(email[i]), "fault.%s.%d@example.org", tag, i);
		test_record_personal(email[i]);
		snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Fault Person\","
		    "\"email\":\"%s\"}}", email[i]);
		snprintf(key, sizeof(key), "ef-sub-%s-%d", tag, i);
		submit_form_new_tab(t.s.form_id, key, body, subs[i]);
	}
	for (i = 0; i < SUBJECTS; i++) {
		ck_assert_msg(outbox_wait(subs[i], "done", 30000, NULL, NULL, 0), "not delivered");
		ck_assert_int_eq(fakesf_records(subs[i], NULL), 1);
	}
	dels0 = fakesf_stat("deletes");
	calls0 = fakesf_stat("delete_calls");
	/* The first deletions answered slowly: the kills find some in flight. */
	fakesf_fault("{\"target\":\"delete\",\"kind\":\"latency\",\"latency_ms\":1500,"
	    "\"count\":3}");

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		faults();
	for (i = 0; i < SUBJECTS; i++) {
		snprintf(key, sizeof(key), "ef-erase-%s-%d", tag, i);
		snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[i]);
		tries = erase_until_taken(acc, key, body, ids[i]);
		retried += tries > 1;
		test_sleep_ms(250);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The same keys again, after the faults: the stored answers, the same ids. */
	for (i = 0; i < SUBJECTS; i++) {
		snprintf(key, sizeof(key), "ef-erase-%s-%d", tag, i);
		snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[i]);
		(void)erase_until_taken(acc, key, body, again);
		ck_assert_str_eq(again, ids[i]);
	}
	for (i = 0; i < SUBJECTS; i++)
		erasure_wait(acc, ids[i], "done");
	dels = fakesf_stat("deletes") - dels0;
	calls = fakesf_stat("delete_calls") - calls0;
	fprintf(stderr, "erasures under faults: %d of %d retried after a fault; %ld records"
	    " deleted in %ld DELETE calls\n", retried, SUBJECTS, dels, calls);

	/* Each erasure once, each record deleted once, none left. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM erasures WHERE org_id = $1::bigint", 1,
	    (const char *[]){ org }), SUBJECTS);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'subject.erased'", 1, (const char *[]){ org }), SUBJECTS);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE org_id = $1::bigint"
	    " AND kind = 'salesforce.delete'", 1, (const char *[]){ org }), SUBJECTS);
	ck_assert_int_eq(dels, SUBJECTS);
	ck_assert_int_ge(calls, SUBJECTS);
	for (i = 0; i < SUBJECTS; i++) {
		ck_assert_int_eq(fakesf_records(subs[i], NULL), 0);
		ck_assert_int_eq(testdb_long("SELECT (SELECT count(*) FROM submissions"
		    "   WHERE id = $1::uuid)"
		    " + (SELECT count(*) FROM subject_index WHERE ref_id = $1::uuid)"
		    " + (SELECT count(*) FROM outbox WHERE ref_id = $1::uuid)", 1,
		    (const char *[]){ subs[i] }), 0);
	}
	/* The faults hit the erasures (else this proves nothing). */
	ck_assert_int_gt(retried, 0);
}
END_TEST

static Suite *
erasure_suite(void)
{
	Suite	*s = suite_create("erasure");
	TCase	*tc = tcase_create("erasure");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, erasure_leaves_no_trace);
	tcase_add_test(tc, salesforce_delete_trouble);
	tcase_add_test(tc, upsert_in_flight_deleted_after);
	tcase_add_test(tc, backfill_indexes_older_rows);
	/* Last: it restarts Postgres under the others' feet otherwise. */
	tcase_add_test(tc, erasures_survive_faults_counted);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(erasure_suite());
}
