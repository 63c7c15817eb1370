/*
 * The backup and restore drill, on the lane's own stack: pgBackRest with
 * WAL archiving (scripts/stack.sh), `cb-admin backup`, scripts/restore.sh.
 *
 * With the worker stopped (nothing is delivered, so outbox rows stay
 * pending): write (contexts and submissions through the HTTP API, so
 * outbox rows; audit rows through cb-admin), back up, write more, note the
 * row counts and the time T, write more still, then destroy the cluster
 * (Postgres stopped, its data directory deleted) and restore it to T.
 * Then:
 *   - the row counts are those at T: every write before T is back, every
 *     write after it is gone;
 *   - `cb-admin audit verify` passes (the chain, sealed once the worker is
 *     back);
 *   - an outbox row pending at backup time is delivered exactly once after
 *     the restore (the fake Salesforce holds one record, upserted once),
 *     and so is every other restored row; the lost writes never reach it;
 *   - the stack is left as found: every service up on the same ports.
 * It prints the RPO at the target and the RTO (restore.sh's rto_s: from
 * the start of the restore to the first 200 of GET /api/health).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <cjson/cJSON.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

#define PER_BATCH	6	/* submissions (each from its own tab) a batch */

static struct seed	 s;

/* The stack as the lane runs it: Postgres and the worker up again, whatever failed. */
static void
leave_as_found(void)
{
	char	 cmd[512], out[4096];

	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh start-postgres 2>&1", test_env("CB_REPO"));
	if (test_run(cmd, out, sizeof(out)) != 0) {
		/* The drill failed with the cluster gone: the archive's end, for the suites after. */
		snprintf(cmd, sizeof(cmd), "%s/scripts/restore.sh --latest 2>&1", test_env("CB_REPO"));
		if (test_run(cmd, out, sizeof(out)) != 0)
			fprintf(stderr, "drill: the lane's cluster is lost: %s\n", out);
	}
	test_stack("start-worker");
}

/* One batch of writes: PER_BATCH submissions from new tabs, and one audit row (an agent). */
static void
write_batch(const char *name, char ids[PER_BATCH][40])
{
	char	 key[64], args[256], out[1024];
	int	 i;

	for (i = 0; i < PER_BATCH; i++) {
		snprintf(key, sizeof(key), "%s-%ld-%d", name, (long)getpid(), i);
		submit_form_new_tab(s.form_id, key, NULL, ids[i]);
	}
	snprintf(args, sizeof(args), "agent-create %s drill-%s", s.slug, name);
	ck_assert_msg(seed_admin(args, out, sizeof(out)) == 0, "agent-create: %s", out);
}

/* Rows of the tables the drill writes, as one string. */
static void
counts(char *out, size_t outsz)
{
	testdb_val(out, outsz, "SELECT (SELECT count(*) FROM contexts) || ' contexts, ' ||"
	    " (SELECT count(*) FROM submissions) || ' submissions, ' ||"
	    " (SELECT count(*) FROM outbox) || ' outbox rows, ' ||"
	    " (SELECT count(*) FROM agents) || ' agents, ' ||"
	    " (SELECT count(*) FROM audit_log) || ' audit rows'", 0, NULL);
}

/* One value of a statement run as the cluster's superuser (pg_switch_wal). */
static void
super_sql(const char *sql, char *out, size_t outsz)
{
	char	 cmd[512];
	size_t	 n;

	snprintf(cmd, sizeof(cmd), "/usr/lib/postgresql/15/bin/psql -XqAt \"$CB_PG_SUPER_DSN\""
	    " -c \"%s\" 2>&1", sql);
	ck_assert_msg(test_run(cmd, out, outsz) == 0, "%s: %s", sql, out);
	n = strcspn(out, "\n");
	out[n] = '\0';
}

static double
json_num(const char *json, const char *member)
{
	cJSON		*j = cJSON_Parse(json);
	const cJSON	*v = j ? cJSON_GetObjectItem(j, member) : NULL;
	double		 d;

	ck_assert_msg(cJSON_IsNumber(v), "no number %s in %s", member, json);
	d = v->valuedouble;
	cJSON_Delete(j);
	return d;
}

START_TEST(destroy_and_restore_to_a_point_in_time)
{
	char	 b1[PER_BATCH][40], b2[PER_BATCH][40], b3[PER_BATCH][40];
	char	 out[8192], cmd[1024], label[64], at_t[256], after[256], target[64], st[16];
	char	 newest[64], last_before[64], seg[64];
	double	 rto;
	int	 i;

	seed_tenant(&s);
	fakesf_clear();
	/* Hold delivery: an outbox row pending at backup time stays pending. */
	test_stack("stop-worker");
	write_batch("b1", b1);
	testdb_val(st, sizeof(st), "SELECT state FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ b1[0] });
	ck_assert_str_eq(st, "pending");

	ck_assert_msg(seed_admin_all("backup --type full", out, sizeof(out)) == 0, "backup: %s", out);
	seed_take(strrchr(out, '{') ? strrchr(out, '{') : out, "label", label, sizeof(label));
	fprintf(stderr, "backup: %s", strrchr(out, '{'));

	write_batch("b2", b2);
	counts(at_t, sizeof(at_t));
	testdb_val(last_before, sizeof(last_before), "SELECT created_at FROM submissions"
	    " WHERE id = $1::uuid", 1, (const char *[]){ b2[PER_BATCH - 1] });
	/* T: after every commit of batch 2, before any of batch 3 (clock_timestamp moves on). */
	test_sleep_ms(20);
	testdb_val(target, sizeof(target), "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD HH24:MI:SS.US') || '+00'", 0, NULL);
	test_sleep_ms(20);
	write_batch("b3", b3);
	counts(after, sizeof(after));
	ck_assert_str_ne(after, at_t);
	/*
	 * The segment holding batch 3 to the archive now, as archive_timeout
	 * would within its 60 s: recovery to T must see a commit past T, and
	 * the segments up to it are all a lost disk leaves.
	 */
	super_sql("SELECT pg_walfile_name(pg_switch_wal())", seg, sizeof(seg));
	for (i = 0; i < 100; i++) {
		super_sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
		    out, sizeof(out));
		if (strcmp(out, seg) >= 0)
			break;
		test_sleep_ms(100);
	}
	ck_assert_msg(strcmp(out, seg) >= 0, "segment %s not archived (last: %s)", seg, out);

	/* The disaster: Postgres stopped, its data directory gone. */
	test_stack("stop-postgres");
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s/pg' 2>&1", test_env("CB_STATE"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);

	/*
	 * From the backup taken (pgBackRest picks the newest backup that
	 * stopped before the target, in whole seconds: this one may have
	 * stopped within T's second).
	 */
	snprintf(cmd, sizeof(cmd), "%s/scripts/restore.sh --target-time '%s' --set %s 2>&1",
	    test_env("CB_REPO"), target, label);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "restore.sh: %s", out);
	ck_assert_ptr_nonnull(strrchr(out, '{'));
	rto = json_num(strrchr(out, '{'), "rto_s");
	fprintf(stderr, "restore: %s", strrchr(out, '{'));

	/* What was there at T, no more, no less. */
	counts(after, sizeof(after));
	ck_assert_str_eq(after, at_t);
	testdb_val(newest, sizeof(newest), "SELECT max(created_at) FROM submissions", 0, NULL);
	ck_assert_str_eq(newest, last_before);
	for (i = 0; i < PER_BATCH; i++)
		ck_assert_int_eq(testdb_long("SELECT count(*) FROM submissions WHERE id = $1::uuid",
		    1, (const char *[]){ b3[i] }), 0);
	testdb_val(st, sizeof(st), "SELECT state FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ b1[0] });
	ck_assert_str_eq(st, "pending");

	/* Delivery resumes: each restored row once, the lost ones never. */
	test_stack("start-worker");
	for (i = 0; i < PER_BATCH; i++) {
		long	 up = 0;

		ck_assert_msg(outbox_wait(b1[i], "done", 20000, NULL, NULL, 0), "b1 %d not delivered", i);
		ck_assert_msg(outbox_wait(b2[i], "done", 20000, NULL, NULL, 0), "b2 %d not delivered", i);
		ck_assert_int_eq(fakesf_records(b1[i], &up), 1);
		ck_assert_int_eq(up, 1);
		ck_assert_int_eq(fakesf_records(b2[i], &up), 1);
		ck_assert_int_eq(up, 1);
	}
	test_sleep_ms(300);
	for (i = 0; i < PER_BATCH; i++)
		ck_assert_int_eq(fakesf_records(b3[i], NULL), 0);
	ck_assert_int_eq(fakesf_records(b1[0], NULL), 1);

	/* The audit chain verifies over the restored rows, sealed by the worker. */
	for (i = 0; i < 100 && testdb_long("SELECT count(*) FROM audit_log WHERE hash IS NULL",
	    0, NULL) > 0; i++)
		test_sleep_ms(100);
	ck_assert_msg(seed_admin_all("audit verify", out, sizeof(out)) == 0, "audit verify: %s", out);

	/* Every service up, on the ports it had. */
	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh status 2>&1", test_env("CB_REPO"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "stack.sh status: %s", out);

	fprintf(stderr, "drill: backup %s; target %s; at the target and after the restore: %s\n"
	    "drill: RPO 0 s at the target (the newest restored write, %s, is the last one"
	    " committed before it; the %d after it are gone); without the archive's segment"
	    " switch a lost disk loses up to archive_timeout (60 s) of commits\n"
	    "drill: RTO %.2f s (restore start to GET /api/health 200)\n",
	    label, target, at_t, newest, PER_BATCH, rto);
}
END_TEST

static Suite *
backup_suite(void)
{
	Suite	*su = suite_create("backup");
	TCase	*tc = tcase_create("drill");

	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, NULL, leave_as_found);
	tcase_add_test(tc, destroy_and_restore_to_a_point_in_time);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(backup_suite());
}
