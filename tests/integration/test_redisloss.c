/*
 * Redis holds nothing that cannot be lost (docs/runbook.md, "Restore"):
 * limiters' buckets, short replay windows, caches and wake-ups, never a
 * fact.  Proved under load: clients in their own processes send submits
 * (each under its own Idempotency-Key) and agent commands (each with its
 * own nonce), retrying any that did not get its answer with the same key
 * or nonce, while the test empties Redis (FLUSHALL on the stack's socket)
 * in the middle of the run.  Afterwards:
 *   - every submit was answered with one submission id per key, and each
 *     submission reaches the fake Salesforce exactly once (one record,
 *     upserted once);
 *   - every command was answered, and Postgres holds exactly one command
 *     per nonce;
 *   - Redis was really emptied mid-load (writes before and after the flush).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

#define CLIENTS		3	/* of each kind */
#define PER_CLIENT	40	/* requests each: 240 in all */
#define GIVE_UP_S	30.0
#define NSUBS		(CLIENTS * PER_CLIENT)

static struct seed	 s;
static char		 run[24];

/* POST until a 2xx; its id member into id_out ("" on giving up). */
static void
post_until_done(const char *path, const char *const *h, const char *body, const char *member,
    char id_out[40])
{
	struct http_resp r;
	double		 t0 = test_now_s();

	id_out[0] = '\0';
	while (test_now_s() - t0 < GIVE_UP_S) {
		memset(&r, 0, sizeof(r));
		if (http_do("POST", path, h, body, strlen(body), &r) == 0 && r.status >= 200 &&
		    r.status < 300 && http_json_str(&r, member) != NULL) {
			util_strlcpy(id_out, http_json_str(&r, member), 40);
			http_free(&r);
			return;
		}
		http_free(&r);
		test_sleep_ms(50);
	}
}

/* A tab of the form: its context and token. */
static void
new_tab(char ctx[40], char tok[64])
{
	struct http_resp r;
	char		 body[128];
	const char	*h[] = { "Content-Type: application/json", NULL };

	snprintf(body, sizeof(body), "{\"form_id\":\"%s\"}", s.form_id);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(http_do("POST", "/api/v1/contexts", h, body, strlen(body), &r), 0);
	ck_assert_int_eq(r.status, 201);
	util_strlcpy(ctx, http_json_str(&r, "ctx_ref"), 40);
	util_strlcpy(tok, http_json_str(&r, "tab_token"), 64);
	test_record_secret(tok);
	http_free(&r);
}

/* One client: "<key> <id>" a line into its file; exits 1 if any request gave up. */
static void
client(int c, int submits, const char *ctx, const char *tok, FILE *out)
{
	char		 path[160], a[128], k[96], key[64], body[256], id[40];
	const char	*h[] = { "Content-Type: application/json", a, k, NULL };
	int		 i, bad = 0;

	if (submits) {
		snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
		snprintf(a, sizeof(a), "Authorization: Bearer %.63s", tok);
	} else {
		snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
		snprintf(a, sizeof(a), "Authorization: Bearer %s", s.api_key);
		h[2] = NULL;
	}
	for (i = 0; i < PER_CLIENT; i++) {
		snprintf(key, sizeof(key), "%s-%c%d-%03d", run, submits ? 's' : 'c', c, i);
		if (submits) {
			snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
			snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Flush %d\","
			    "\"email\":\"flush%d@example.com\",\"message\":\"%s\"}}", c, i, key);
			post_until_done(path, h, body, "submission_id", id);
		} else {
			snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#message\","
			    "\"value\":\"%s\",\"nonce\":\"%s\"}", key, key);
			post_until_done(path, h, body, "id", id);
		}
		fprintf(out, "%s %s\n", key, id[0] ? id : "gave-up");
		bad |= id[0] == '\0';
		test_sleep_ms(15);
	}
	fflush(out);
	_exit(bad);
}

START_TEST(flushall_under_load_loses_nothing_doubles_nothing)
{
	char	 ctx[CLIENTS][40], tok[CLIENTS][64], files[2 * CLIENTS][256], line[256];
	char	 key[64], id[40], cmd[512], out[1024], like[64], want[64], got[64];
	char	 (*subs)[40] = calloc(NSUBS, 40);
	pid_t	 pids[2 * CLIENTS];
	FILE	*f;
	long	 before;
	int	 i, st, nsubs = 0, ncmds = 0, missing = -1, dupes = -1, again = -1;

	ck_assert_ptr_nonnull(subs);
	snprintf(run, sizeof(run), "rl%ld", (long)getpid());
	seed_tenant(&s);
	fakesf_clear();
	for (i = 0; i < CLIENTS; i++)
		new_tab(ctx[i], tok[i]);
	for (i = 0; i < 2 * CLIENTS; i++) {
		snprintf(files[i], sizeof(files[i]), "%s/redisloss-%s-%d.txt", test_env("CB_STATE"),
		    run, i);
		ck_assert_ptr_nonnull(f = fopen(files[i], "w"));
		fflush(NULL);
		if ((pids[i] = fork()) == 0)
			client(i % CLIENTS, i < CLIENTS, ctx[i % CLIENTS], tok[i % CLIENTS], f);
		ck_assert_int_gt(pids[i], 0);
		fclose(f);
	}
	/* Mid-load: once a third of the submits are in, Redis loses everything. */
	snprintf(like, sizeof(like), "%s-%%", run);
	for (i = 0; i < 300; i++) {
		before = testdb_long("SELECT count(*) FROM submissions s JOIN orgs g ON g.id = s.org_id"
		    " WHERE g.slug = $1", 1, (const char *[]){ s.slug });
		if (before >= NSUBS / 3)
			break;
		test_sleep_ms(50);
	}
	ck_assert_int_ge(before, NSUBS / 3);
	snprintf(cmd, sizeof(cmd), "REDISCLI_AUTH=\"$CB_REDIS_PASSWORD\" redis-cli -s \"$CB_REDIS_HOST\""
	    " FLUSHALL 2>&1");
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strncmp(out, "OK", 2) == 0, "FLUSHALL: %s", out);
	before = testdb_long("SELECT count(*) FROM submissions s JOIN orgs g ON g.id = s.org_id"
	    " WHERE g.slug = $1", 1, (const char *[]){ s.slug });

	for (i = 0; i < 2 * CLIENTS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d gave up", i);
	}
	/* The flush fell inside the load: requests answered on both sides of it. */
	ck_assert_int_lt(before, NSUBS);
	for (i = 0; i < 2 * CLIENTS; i++) {
		ck_assert_ptr_nonnull(f = fopen(files[i], "r"));
		while (fgets(line, sizeof(line), f)) {
			ck_assert_int_eq(sscanf(line, "%63s %39s", key, id), 2);
			ck_assert_str_ne(id, "gave-up");
			if (i < CLIENTS)
				util_strlcpy(subs[nsubs++], id, 40);
			else
				ncmds++;
		}
		fclose(f);
		unlink(files[i]);
	}
	ck_assert_int_eq(nsubs, NSUBS);
	ck_assert_int_eq(ncmds, CLIENTS * PER_CLIENT);

	/* Postgres: one submission per key, one command per nonce. */
	snprintf(want, sizeof(want), "%d/%d", NSUBS, NSUBS);
	testdb_val(got, sizeof(got), "SELECT count(*) || '/' || count(DISTINCT s.id)"
	    " FROM submissions s JOIN orgs g ON g.id = s.org_id WHERE g.slug = $1", 1,
	    (const char *[]){ s.slug });
	ck_assert_str_eq(got, want);
	testdb_val(got, sizeof(got), "SELECT count(*) || '/' || count(DISTINCT nonce)"
	    " FROM commands WHERE nonce LIKE $1", 1, (const char *[]){ like });
	ck_assert_str_eq(got, want);

	/* The fake Salesforce: every submission once, none twice. */
	for (i = 0; i < NSUBS; i++)
		ck_assert_msg(outbox_wait(subs[i], "done", 30000, NULL, NULL, 0),
		    "submission %d not delivered", i);
	fakesf_count_once(subs, NSUBS, &missing, &dupes, &again);
	ck_assert_int_eq(missing, 0);
	ck_assert_int_eq(dupes, 0);
	ck_assert_int_eq(again, 0);
	fprintf(stderr, "redis flushed with %ld of %d submits in: %d submits and %d commands,"
	    " each stored once, each submission delivered once\n", before, NSUBS, nsubs, ncmds);
	free(subs);
}
END_TEST

static Suite *
redisloss_suite(void)
{
	Suite	*su = suite_create("redisloss");
	TCase	*tc = tcase_create("flush");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, flushall_under_load_loses_nothing_doubles_nothing);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(redisloss_suite());
}
