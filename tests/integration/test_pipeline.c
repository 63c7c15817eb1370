/*
 * test_pipeline: the write routes through nginx against the real stack.
 *
 * Submit: one statement claims the key, writes the effect and stores the
 * answer, so a refusal (a stale version, the same data again, a reused key)
 * writes nothing at all, not even the key; concurrent requests with one key
 * make one submission, concurrent copies under several keys make one too;
 * an expired key is a new request; the same data under a new key within
 * CB_SUBMIT_DEDUPE_S is 409 duplicate-submission naming the first
 * submission, while a replay of the first key still replays its 201.
 *
 * Commands: a retried nonce (same command) answers the original command,
 * a reused one (another command) 409; an id's case does not make another
 * context or another rate bucket; the dead-commands list is the tenant's
 * own, newest first, bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"
#include "kv.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

#define JSON_CT	"Content-Type: application/json"
#define BODY_A	"{\"data\":{\"full_name\":\"Ada Pipeline\",\"email\":\"ada@example.com\"," \
		"\"topic\":\"sales\"}}"
/* BODY_A's data in another member order and spacing: the same content. */
#define BODY_A2	"{\"data\":{ \"topic\":\"sales\", \"email\":\"ada@example.com\"," \
		"\"full_name\":\"Ada Pipeline\"}}"
#define BODY_B	"{\"data\":{\"full_name\":\"Bob Pipeline\",\"email\":\"bob@example.com\"}}"

static long
count1(const char *sql, const char *arg)
{
	return testdb_long(sql, 1, (const char *[]){ arg });
}

static void
post(const char *path, const char *auth, const char *key, const char *body,
    struct http_resp *r)
{
	char		 a[160], k[300];
	const char	*h[4];
	int		 n = 0;

	h[n++] = JSON_CT;
	if (auth) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
		h[n++] = a;
	}
	if (key) {
		snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
		h[n++] = k;
	}
	h[n] = NULL;
	http_do("POST", path, h, body, strlen(body), r);
}

static void
get(const char *path, const char *auth, struct http_resp *r)
{
	char		 a[160];
	const char	*h[2] = { a, NULL };

	snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
	http_do("GET", path, h, NULL, 0, r);
}

static void
submit_path(const struct seed *s, char *out, size_t outsz)
{
	snprintf(out, outsz, "/api/v1/forms/%s/submit", s->form_id);
}

/* Rows a context has anywhere a submit writes. */
static long
ctx_rows(const char *ctx)
{
	return count1("SELECT (SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid)"
	    " + (SELECT count(*) FROM outbox o JOIN submissions s ON s.id = o.ref_id"
	    "    WHERE s.ctx_id = $1::uuid)"
	    " + (SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1)"
	    " + (SELECT count(*) FROM submission_digests WHERE ctx_id = $1::uuid)", ctx);
}

/* ---- submit ---------------------------------------------------------- */

START_TEST(duplicate_content_under_new_key)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], first[40], body1[512];

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	submit_path(&s, path, sizeof(path));

	post(path, tok, "dup-1", BODY_A, &r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	util_strlcpy(first, http_json_str(&r, "submission_id"), sizeof(first));
	util_strlcpy(body1, r.body, sizeof(body1));
	http_free(&r);

	/* The same content (other order and spacing) under a new key: 409 naming the first. */
	post(path, tok, "dup-2", BODY_A2, &r);
	http_expect_problem(&r, 409, "/problems/duplicate-submission");
	ck_assert_str_eq(http_json_str(&r, "submission_id"), first);
	http_free(&r);
	/* The refused key was not kept: it is free for other data. */
	ck_assert_int_eq(count1("SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1",
	    ctx), 1);

	/* A replay of the first key is still a replay of its 201, not a duplicate. */
	post(path, tok, "dup-1", BODY_A, &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(r.body, body1);
	http_free(&r);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid", ctx), 1);

	/* Other data under the refused key: a new submission. */
	post(path, tok, "dup-2", BODY_B, &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);

	/* Another tab may send the same content: de-duplication is per tab. */
	{
		char	 ctx2[40], tok2[64];

		seed_context(s.form_id, ctx2, tok2);
		post(path, tok2, "dup-1", BODY_A, &r);
		ck_assert_int_eq(r.status, 201);
		ck_assert_str_ne(http_json_str(&r, "submission_id"), first);
		http_free(&r);
	}

	/* Past the window (the first made to look old), the same content is new again. */
	testdb_exec("UPDATE submission_digests SET created_at = now() - interval '1 day'"
	    " WHERE ctx_id = $1::uuid", 1, (const char *[]){ ctx });
	post(path, tok, "dup-3", BODY_A, &r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	ck_assert_str_ne(http_json_str(&r, "submission_id"), first);
	http_free(&r);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid", ctx), 3);
	/* The digest is keyed: the data is nowhere in clear. */
	ck_assert_int_eq(count1("SELECT count(*) FROM submission_digests WHERE ctx_id = $1::uuid"
	    " AND position(convert_to('ada@example.com', 'UTF8') IN digest) > 0", ctx), 0);
}
END_TEST

START_TEST(expired_key_is_a_new_request)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], first[40];

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	submit_path(&s, path, sizeof(path));
	post(path, tok, "expiring", BODY_A, &r);
	ck_assert_int_eq(r.status, 201);
	util_strlcpy(first, http_json_str(&r, "submission_id"), sizeof(first));
	http_free(&r);
	/* The key's lifetime is CB_IDEM_TTL_S (one day by default). */
	ck_assert_int_eq(count1("SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1"
	    " AND expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'",
	    ctx), 1);

	/* Before expiry another body is a reused key. */
	post(path, tok, "expiring", BODY_B, &r);
	http_expect_problem(&r, 422, "/problems/idempotency-key-reused");
	http_free(&r);

	testdb_exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
	    " WHERE scope = 'ctx:' || $1", 1, (const char *[]){ ctx });
	post(path, tok, "expiring", BODY_B, &r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	ck_assert_ptr_null(http_header(&r, "Idempotent-Replayed"));
	ck_assert_str_ne(http_json_str(&r, "submission_id"), first);
	http_free(&r);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid", ctx), 2);
	ck_assert_int_eq(count1("SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1"
	    " AND expires_at > now()", ctx), 1);
}
END_TEST

START_TEST(refusals_write_nothing)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], def[300];
	long		 before;
	cJSON		*j;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	submit_path(&s, path, sizeof(path));

	/* A reused key (other body): 422 and not one row more. */
	post(path, tok, "reused", BODY_A, &r);
	ck_assert_int_eq(r.status, 201);
	http_free(&r);
	before = ctx_rows(ctx);
	ck_assert_int_eq(before, 4);	/* submission, outbox row, key, digest */
	post(path, tok, "reused", BODY_B, &r);
	http_expect_problem(&r, 422, "/problems/idempotency-key-reused");
	http_free(&r);
	ck_assert_int_eq(ctx_rows(ctx), before);

	/* A newer version published: 409 stale, and nothing at all is written. */
	snprintf(def, sizeof(def), "%s/docs/examples/contact-form.json", test_env("CB_REPO"));
	ck_assert_int_eq(seed_publish(s.form_id, def), 0);
	post(path, tok, "stale-1", BODY_B, &r);
	http_expect_problem(&r, 409, "/problems/form-version-stale");
	j = http_json(&r);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "refresh")));
	ck_assert_int_eq((int)cJSON_GetObjectItem(j, "current_version")->valuedouble, 2);
	ck_assert_int_eq((int)cJSON_GetObjectItem(j, "form_version")->valuedouble, 1);
	http_free(&r);
	ck_assert_int_eq(ctx_rows(ctx), before);
	ck_assert_int_eq(count1("SELECT count(*) FROM idempotency_keys WHERE idem_key = 'stale-1'"
	    " AND scope = 'ctx:' || $1", ctx), 0);

	/* Invalid data: 400, nothing written. */
	post(path, tok, "bad-data", "{\"data\":{\"full_name\":\"X\",\"email\":\"nope\"}}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	http_free(&r);
	ck_assert_int_eq(ctx_rows(ctx), before);
}
END_TEST

/*
 * n children POST at once (released together by closing a pipe); each
 * writes "<status> <submission_id or problem type>\n" back.
 */
static void
concurrent_submits(const char *path, const char *tok, int n, int same_key, char (*out)[96])
{
	int	 go[2], res[2], i;
	char	 buf[8192];
	size_t	 got = 0;
	ssize_t	 k;
	char	*line, *save = NULL;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(res), 0);
	for (i = 0; i < n; i++) {
		pid_t	 p = fork();

		ck_assert_int_ge(p, 0);
		if (p == 0) {
			struct http_resp r;
			char		 key[32], line1[96], c;
			const char	*v;

			close(go[1]);
			close(res[0]);
			if (read(go[0], &c, 1) < 0)	/* EOF: everyone goes */
				_exit(1);
			snprintf(key, sizeof(key), same_key ? "race-one" : "race-%d", i);
			post(path, tok, key, BODY_A, &r);
			v = r.status == 201 ? http_json_str(&r, "submission_id") :
			    http_json_str(&r, "type");
			snprintf(line1, sizeof(line1), "%ld %s\n", r.status, v ? v : "-");
			if (write(res[1], line1, strlen(line1)) < 0)
				_exit(1);
			http_free(&r);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	close(go[1]);
	for (i = 0; i < n; i++)
		(void)wait(NULL);
	while ((k = read(res[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)k;
	close(res[0]);
	buf[got] = '\0';
	for (i = 0, line = strtok_r(buf, "\n", &save); line && i < n;
	    line = strtok_r(NULL, "\n", &save), i++)
		util_strlcpy(out[i], line, sizeof(out[0]));
	ck_assert_int_eq(i, n);
}

START_TEST(concurrent_same_key_one_submission)
{
	struct seed	 s;
	char		 ctx[40], tok[64], path[160], res[8][96], first[96] = "";
	int		 i, created = 0;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	submit_path(&s, path, sizeof(path));
	concurrent_submits(path, tok, 8, 1, res);
	for (i = 0; i < 8; i++) {
		/* 201 (the first, or a replay of it) or 409 in flight; never two ids. */
		if (strncmp(res[i], "201 ", 4) == 0) {
			if (first[0] == '\0')
				util_strlcpy(first, res[i], sizeof(first));
			ck_assert_str_eq(res[i], first);
			created++;
		} else
			ck_assert_str_eq(res[i], "409 /problems/idempotency-key-in-flight");
	}
	ck_assert_int_ge(created, 1);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid", ctx), 1);
	ck_assert_int_eq(count1("SELECT count(*) FROM outbox o JOIN submissions s ON s.id = o.ref_id"
	    " WHERE s.ctx_id = $1::uuid", ctx), 1);
}
END_TEST

START_TEST(concurrent_copies_one_submission)
{
	struct seed	 s;
	char		 ctx[40], tok[64], path[160], res[8][96], sub[40] = "";
	int		 i, created = 0, dup = 0;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	submit_path(&s, path, sizeof(path));
	concurrent_submits(path, tok, 8, 0, res);
	for (i = 0; i < 8; i++) {
		if (strncmp(res[i], "201 ", 4) == 0) {
			util_strlcpy(sub, res[i] + 4, sizeof(sub));
			created++;
		} else {
			ck_assert_str_eq(res[i], "409 /problems/duplicate-submission");
			dup++;
		}
	}
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(dup, 7);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE ctx_id = $1::uuid", ctx), 1);
	ck_assert_int_eq(count1("SELECT count(*) FROM submissions WHERE id = $1::uuid", sub), 1);
	ck_assert_int_eq(count1("SELECT count(*) FROM idempotency_keys WHERE scope = 'ctx:' || $1",
	    ctx), 1);
}
END_TEST

/* ---- commands -------------------------------------------------------- */

static void
send_cmd(const char *key, const char *ctx, const char *body, struct http_resp *r)
{
	char	 path[160];

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	post(path, key, NULL, body, r);
}

static void
upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
}

START_TEST(nonce_retry_returns_original)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], id[40], loc[200], body[300], up[40];

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"a@example.com\",\"nonce\":\"retry-nonce-1\",\"expires_in_ms\":30000}");
	send_cmd(s.api_key, ctx, body, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	util_strlcpy(id, http_json_str(&r, "id"), sizeof(id));
	util_strlcpy(loc, http_header(&r, "Location"), sizeof(loc));
	ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, 1);
	http_free(&r);

	/* The same command again (member order changed, ctx_ref upper-case): the original. */
	util_strlcpy(up, ctx, sizeof(up));
	upper(up);
	send_cmd(s.api_key, up, "{\"nonce\":\"retry-nonce-1\",\"expires_in_ms\":30000,"
	    "\"value\":\"a@example.com\",\"selector\":\"#email\",\"type\":\"set_field\"}", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "id"), id);
	ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, 1);
	ck_assert_ptr_nonnull(http_json_str(&r, "state"));
	ck_assert_str_eq(http_header(&r, "Location"), loc);
	http_free(&r);

	/* The nonce with another command: 409, nothing stored. */
	send_cmd(s.api_key, ctx, "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"b@example.com\",\"nonce\":\"retry-nonce-1\",\"expires_in_ms\":30000}", &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "nonce reused with a different command"));
	http_free(&r);
	send_cmd(s.api_key, ctx, "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"a@example.com\",\"nonce\":\"retry-nonce-1\",\"expires_in_ms\":40000}", &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	http_free(&r);
	ck_assert_int_eq(count1("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid", ctx), 1);

	/* The seq stayed dense: the next command is 2. */
	send_cmd(s.api_key, ctx, "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"retry-nonce-2\"}", &r);
	ck_assert_int_eq(r.status, 202);
	ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, 2);
	http_free(&r);
}
END_TEST

START_TEST(id_case_shares_context_and_bucket)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], up[40], tok[64], args[256], out[512], body[200];
	int		 i, ok = 0, limited = 0;

	seed_tenant(&s);
	snprintf(args, sizeof(args), "policy-set %s focus '#email' 4", s.form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_context(s.form_id, ctx, tok);
	util_strlcpy(up, ctx, sizeof(up));
	upper(up);
	ck_assert_str_ne(up, ctx);
	/* Lower and upper case alternately: one tab, one bucket of 4 a minute. */
	for (i = 0; i < 8; i++) {
		snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\","
		    "\"nonce\":\"case-%08d\"}", i);
		send_cmd(s.api_key, i % 2 ? up : ctx, body, &r);
		if (r.status == 202) {
			ok++;
			ck_assert_int_eq((int)cJSON_GetObjectItem(http_json(&r), "seq")->valuedouble, ok);
		} else {
			http_expect_problem(&r, 429, "/problems/rate-limited");
			limited++;
		}
		http_free(&r);
	}
	/* The bucket refills 4 a minute: on a slow machine one more may pass. */
	ck_assert_int_ge(ok, 4);
	ck_assert_int_le(ok, 5);
	ck_assert_int_eq(ok + limited, 8);
	ck_assert_int_eq(count1("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid", ctx), ok);
	/* The bucket is the id as the database holds it (lowercase). */
	{
		struct kv	*kv = testdb_kv_open();
		struct kv_reply	*rep = NULL;
		char		 k1[80], k2[80];


		snprintf(k1, sizeof(k1), "cb:rl:cmd:%s", ctx);
		snprintf(k2, sizeof(k2), "cb:rl:cmd:%s", up);
		ck_assert_int_eq(kv_cmd(kv, &rep, 3, (const char *[]){ "EXISTS", k1, k2 }, NULL),
		    CB_OK);
		ck_assert_int_eq(kv_reply_int(rep), 1);
		kv_reply_free(rep);
		kv_close(kv);
	}
	/* The form id's case does not matter either. */
	{
		char	 path[160], fup[40];

		util_strlcpy(fup, s.form_id, sizeof(fup));
		upper(fup);
		snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", fup);
		post(path, tok, "case-submit", BODY_A, &r);
		ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
		http_free(&r);
	}
	/* A body's id too (JV_UUID): an upper-case form_id opens a context of the form. */
	{
		char	 fup[40], body2[120];

		util_strlcpy(fup, s.form_id, sizeof(fup));
		upper(fup);
		snprintf(body2, sizeof(body2), "{\"form_id\":\"%s\"}", fup);
		post("/api/v1/contexts", NULL, NULL, body2, &r);
		ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
		ck_assert_str_eq(http_json_str(&r, "form_id"), s.form_id);
		test_record_secret(http_json_str(&r, "tab_token"));
		http_free(&r);
	}
	/* A malformed id is still 404. */
	send_cmd(s.api_key, "not-a-uuid", "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"case-bad-1\"}", &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
}
END_TEST

START_TEST(expired_context_and_other_tenant_404)
{
	struct seed	 s, other;
	struct http_resp r;
	char		 ctx[40], tok[64];

	seed_tenant(&s);
	seed_tenant(&other);
	seed_context(s.form_id, ctx, tok);
	send_cmd(s.api_key, ctx, "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"live-00001\"}", &r);
	ck_assert_int_eq(r.status, 202);
	http_free(&r);
	/* Another tenant's agent: 404 (also with the first tenant's cache warm). */
	send_cmd(other.api_key, ctx, "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"other-00001\"}", &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	/* Expired while its form and policy are cached: the insert refuses it. */
	testdb_exec("UPDATE contexts SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
	    1, (const char *[]){ ctx });
	send_cmd(s.api_key, ctx, "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"late-00001\"}", &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	ck_assert_int_eq(count1("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid", ctx), 1);
	ck_assert_int_eq(count1("SELECT last_seq FROM contexts WHERE id = $1::uuid", ctx), 1);
}
END_TEST

START_TEST(dead_commands_list)
{
	struct seed	 s, other;
	struct http_resp r;
	char		 ctx[40], ctx2[40], tok[64], body[200], path[200], up[40];
	cJSON		*arr, *c;
	int		 i;

	seed_tenant(&s);
	seed_tenant(&other);
	seed_context(s.form_id, ctx, tok);
	seed_context(s.form_id, ctx2, tok);
	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\","
		    "\"nonce\":\"dead-%08d\"}", i);
		send_cmd(s.api_key, i < 3 ? ctx : ctx2, body, &r);
		ck_assert_int_eq(r.status, 202);
		http_free(&r);
	}
	/* Three dead (two of ctx, one of ctx2), with distinct ages. */
	testdb_exec("UPDATE commands SET state = 'dead', reason = 'no receipt',"
	    " created_at = now() - make_interval(secs => seq) WHERE ctx_id = $1::uuid AND seq <= 2",
	    1, (const char *[]){ ctx });
	testdb_exec("UPDATE commands SET state = 'dead', created_at = now() WHERE ctx_id = $1::uuid",
	    1, (const char *[]){ ctx2 });

	get("/api/v1/commands?state=dead", s.api_key, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	arr = cJSON_GetObjectItem(http_json(&r), "commands");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
	/* Newest first: ctx2's, then seq 1 (1 s old), then seq 2 (2 s old). */
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "ctx_ref")->valuestring, ctx2);
	c = cJSON_GetArrayItem(arr, 1);
	ck_assert_int_eq((int)cJSON_GetObjectItem(c, "seq")->valuedouble, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "state")->valuestring, "dead");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "reason")->valuestring, "no receipt");
	http_free(&r);

	/* One context (its id in any case), a bounded page. */
	util_strlcpy(up, ctx, sizeof(up));
	upper(up);
	snprintf(path, sizeof(path), "/api/v1/commands?state=dead&ctx_ref=%s&limit=1", up);
	get(path, s.api_key, &r);
	ck_assert_int_eq(r.status, 200);
	arr = cJSON_GetObjectItem(http_json(&r), "commands");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "ctx_ref")->valuestring, ctx);
	http_free(&r);

	/* Another tenant sees none of them. */
	get("/api/v1/commands?state=dead", other.api_key, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "commands")), 0);
	http_free(&r);

	/* Bad queries: 400 naming the parameter. */
	get("/api/v1/commands?state=zombie", s.api_key, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "state");
	http_free(&r);
	get("/api/v1/commands?state=dead&limit=101", s.api_key, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "limit");
	http_free(&r);
	get("/api/v1/commands?state=dead&ctx_ref=nope", s.api_key, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "ctx_ref");
	http_free(&r);
	get("/api/v1/commands", s.api_key, &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_str_eq(http_json_str(&r, "field"), "state");
	http_free(&r);
	http_do("GET", "/api/v1/commands?state=dead", NULL, NULL, 0, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
}
END_TEST

/* A command with any bearer credential (an agent JWT is longer than post() holds). */
static long
cmd_with(const char *cred, const char *ctx, const char *nonce)
{
	struct http_resp r;
	char		 path[160], a[2048], body[200];
	const char	*h[3] = { JSON_CT, a, NULL };
	long		 st;

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", cred);
	snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\","
	    "\"nonce\":\"%s\"}", nonce);
	http_do("POST", path, h, body, strlen(body), &r);
	st = r.status;
	if (st == 401)
		ck_assert_ptr_nonnull(http_header(&r, "www-authenticate"));
	http_free(&r);
	return st;
}

/*
 * Command accept remembers a verified key for a moment (its statement is
 * then its only query), and its statement checks again that the key is
 * live: a key revoked meanwhile is refused at once, by every process that
 * remembered it, for the key and for an agent JWT made from it, and no
 * command is written.
 */
START_TEST(revoked_key_refused_at_once_by_the_write)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], jwt[1800], nonce[48], auth[160];
	const char	*h[2] = { auth, NULL };
	int		 i;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.api_key);
	http_do("POST", "/api/v1/auth/agent-token", h, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	util_strlcpy(jwt, http_json_str(&r, "access_token"), sizeof(jwt));
	http_free(&r);
	test_record_secret(jwt);
	/* Enough commands that every commands process has remembered both. */
	for (i = 0; i < 12; i++) {
		snprintf(nonce, sizeof(nonce), "live-key-%d", i);
		ck_assert_int_eq(cmd_with(i % 2 ? jwt : s.api_key, ctx, nonce), 202);
	}
	testdb_exec("UPDATE api_keys SET revoked_at = now() WHERE agent_id = $1::uuid", 1,
	    (const char *[]){ s.agent_id });
	for (i = 0; i < 12; i++) {
		snprintf(nonce, sizeof(nonce), "dead-key-%d", i);
		ck_assert_int_eq(cmd_with(i % 2 ? jwt : s.api_key, ctx, nonce), 401);
	}
	/* A retried nonce of a live-key command is no way around it either. */
	ck_assert_int_eq(cmd_with(s.api_key, ctx, "live-key-0"), 401);
	ck_assert_int_eq(count1("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid", ctx), 12);
}
END_TEST

static Suite *
pipeline_suite(void)
{
	Suite	*s = suite_create("pipeline");
	TCase	*tc = tcase_create("http");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, duplicate_content_under_new_key);
	tcase_add_test(tc, expired_key_is_a_new_request);
	tcase_add_test(tc, refusals_write_nothing);
	tcase_add_test(tc, concurrent_same_key_one_submission);
	tcase_add_test(tc, concurrent_copies_one_submission);
	tcase_add_test(tc, nonce_retry_returns_original);
	tcase_add_test(tc, id_case_shares_context_and_bucket);
	tcase_add_test(tc, expired_context_and_other_tenant_404);
	tcase_add_test(tc, dead_commands_list);
	tcase_add_test(tc, revoked_key_refused_at_once_by_the_write);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(pipeline_suite());
}
