/*
 * Erasures under faults, counted (docs/erasure.md): an admin erases ten
 * data subjects, one after another, retrying each request that did not get
 * its answer with the same Idempotency-Key as a client should, while the
 * test crashes Postgres and starts it again, kills every duty of the worker
 * with SIGKILL (twice: the delivery engine dies with deletions leased or
 * in flight) and freezes Redis.  Then it counts:
 *   - each erasure completed: one erasures row and one subject.erased audit
 *     row per subject, whatever the retries, and each one's status "done";
 *   - each Salesforce record deleted exactly once: the fake deleted ten
 *     records (a DELETE the worker sent again after a kill, its first
 *     answer lost, finds the record absent: 404, counted as done, never a
 *     second deletion), and none of the ten is left there;
 *   - nothing of a subject remains: no submission, no blind-index entry, no
 *     upsert outbox row.
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
#include "people.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define ERASURES	"/api/v1/admin/erasures"
#define SUBJECTS	10
#define GIVE_UP_S	90.0	/* one erasure's retries, at most */

/* SIGKILL to every duty of the worker (its master starts them again). */
static void
kill_duties(void)
{
	char	 pidfile[512];
	long	 master, kids[16];
	int	 n, i;

	snprintf(pidfile, sizeof(pidfile), "%s/cb-worker.pid", test_env("CB_RUN_DIR"));
	master = test_pidfile(pidfile);
	ck_assert_int_gt(master, 0);
	n = test_children(master, kids, 16);
	for (i = 0; i < n; i++)
		(void)kill((pid_t)kids[i], SIGKILL);
}

/* The faults, in a process of their own while the erasures go on. */
static void
faults(void)
{
	test_sleep_ms(300);
	test_stack("restart-postgres");
	test_sleep_ms(400);
	kill_duties();
	test_sleep_ms(500);
	test_stack("pause-redis");
	test_sleep_ms(1500);
	test_stack("resume-redis");
	test_sleep_ms(300);
	kill_duties();
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

/* Wait until the erasure says done: every deletion delivered. */
static void
wait_done(const char *acc, const char *id)
{
	struct http_resp r;
	char		 path[120], status[32] = "";
	double		 until = test_now_s() + 60;

	snprintf(path, sizeof(path), ERASURES "/%s", id);
	do {
		http_as("GET", path, acc, NULL, NULL, &r);
		if (r.status == 200)
			util_strlcpy(status, http_json_str(&r, "status"), sizeof(status));
		http_free(&r);
		if (strcmp(status, "done") == 0)
			return;
		test_sleep_ms(200);
	} while (test_now_s() < until);
	ck_abort_msg("erasure %s: \"%s\" after 60 s", id, status);
}

START_TEST(erasures_survive_faults_counted)
{
	struct seed	 s;
	struct tuser	 adm;
	char		 org[24], acc[TOKSZ], refresh[80], tag[16], email[SUBJECTS][96];
	char		 subs[SUBJECTS][40], ids[SUBJECTS][40], key[64], body[512];
	long		 dels0, calls0, dels, calls;
	int		 i, st, tries, retried = 0;
	pid_t		 pid;

	seed_tenant(&s);
	testdb_val(org, sizeof(org), "SELECT id::text FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ s.slug });
	new_user(s.slug, "admin", &adm);
	login_ok(&adm, acc, refresh);
	util_random_token(tag, sizeof(tag), 6);
	for (i = 0; tag[i]; i++)
		if (tag[i] == '-' || tag[i] == '_')
			tag[i] = 'q';
	/* Ten subjects, each with a submission delivered to Salesforce. */
	for (i = 0; i < SUBJECTS; i++) {
		snprintf(email[i], sizeof(email[i]), "fault.%s.%d@example.org", tag, i);
		test_record_personal(email[i]);
		snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Fault Person\","
		    "\"email\":\"%s\"}}", email[i]);
		snprintf(key, sizeof(key), "ef-sub-%s-%d", tag, i);
		submit_form_new_tab(s.form_id, key, body, subs[i]);
	}
	for (i = 0; i < SUBJECTS; i++) {
		ck_assert_msg(outbox_wait(subs[i], "done", 30000, NULL, NULL, 0), "not delivered");
		ck_assert_int_eq(fakesf_records(subs[i], NULL), 1);
	}
	dels0 = fakesf_stat("deletes");
	calls0 = fakesf_stat("delete_calls");

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
		char	 again[40];

		snprintf(key, sizeof(key), "ef-erase-%s-%d", tag, i);
		snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email[i]);
		(void)erase_until_taken(acc, key, body, again);
		ck_assert_str_eq(again, ids[i]);
	}
	for (i = 0; i < SUBJECTS; i++)
		wait_done(acc, ids[i]);
	dels = fakesf_stat("deletes") - dels0;
	calls = fakesf_stat("delete_calls") - calls0;
	fprintf(stderr, "erasefault: %d of %d erasures retried after a fault; %ld records"
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
erasefault_suite(void)
{
	Suite	*su = suite_create("erasefault");
	TCase	*tc = tcase_create("faults");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, erasures_survive_faults_counted);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(erasefault_suite());
}
