/*
 * The audit trail against the real stack's Postgres and worker.
 *
 * Rows appended by the application's role are sealed onto the hash chain
 * by the worker's audit duty within seconds, and `cb-admin audit verify`
 * passes.  The application's role owns nothing (sql/0013_roles.up.sql): its
 * UPDATE, DELETE and TRUNCATE of the table, a row it would place in the
 * chain itself, a change of the head, and disabling or dropping the
 * trigger are refused by privilege (42501 "permission denied" / "must be
 * owner", not the trigger's message), nothing changed; sealing still works
 * because cb_audit_seal runs as the owner.  The database superuser
 * can, bypassing triggers: altering one row, deleting one, or swapping two
 * makes `audit verify` fail (exit 1) naming that row's chain_seq and id;
 * each tampering is then undone and the chain verifies again (the suites
 * after this one share the database).  Refusals of audit_append: an action,
 * actor or detail the table would refuse writes nothing.  The duty's two
 * settings hold (scripts/test.sh sets CB_AUDIT_SEAL_BATCH=4 and
 * CB_AUDIT_SEAL_MS=400): ten rows committed at once are sealed 4, 4, 2 in
 * batches that follow each other at once, and a row committed right after
 * a batch that was not full waits the interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "audit.h"
#include "check_util.h"
#include "db.h"
#include "stacklog.h"
#include "errs.h"
#include "http.h"
#include "testdb.h"
#include "util.h"

#define ROWS		6
#define SEAL_WAIT_MS	8000

static char		 tag[32];
static long long	 ids[ROWS];

/* The superuser on the broker's database (CB_PG_SUPER_DSN names postgres). */
static struct db *
super_db(void)
{
	char		 dsn[1024], *p;
	struct db	*db;
	struct db_res	*r = NULL;

	util_strlcpy(dsn, test_env("CB_PG_SUPER_DSN"), sizeof(dsn));
	ck_assert_ptr_nonnull(p = strstr(dsn, "dbname=postgres"));
	memcpy(p, "dbname=cbroker ", 15);
	db = db_open(dsn);
	ck_assert_int_eq(db_connect(db), CB_OK);
	/* A superuser's session that fires no triggers: what an intruder would do. */
	ck_assert_int_eq(db_query(db, &r, "SET session_replication_role = replica", 0, NULL),
	    CB_OK);
	db_res_free(r);
	return db;
}

static void
su_exec(struct db *db, const char *sql, int n, const char *const *p)
{
	struct db_res	*r = NULL;

	ck_assert_msg(db_query(db, &r, sql, n, p) == CB_OK, "%s: %s", sql, db_errmsg(db));
	db_res_free(r);
}

/* cb-admin audit verify: its exit status, stdout and stderr in out. */
static int
verify(char *out, size_t outsz)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin audit verify 2>&1", test_env("CB_BUILD"));
	return test_run(cmd, out, outsz);
}

static void
expect_broken_at(long long id, const char *why)
{
	char	 out[4096], seq[24], want[160];
	int	 rc;

	testdb_val(seq, sizeof(seq), "SELECT chain_seq FROM audit_log WHERE id = $1::bigint", 1,
	    (const char *[]){ (snprintf(want, sizeof(want), "%lld", id), want) });
	rc = verify(out, sizeof(out));
	ck_assert_msg(rc != 0, "verify passed a tampered chain: %s", out);
	snprintf(want, sizeof(want), "chain_seq %s (row id %lld)", seq, id);
	ck_assert_msg(strstr(out, want) != NULL, "want \"%s\" in: %s", want, out);
	ck_assert_msg(strstr(out, why) != NULL, "want \"%s\" in: %s", why, out);
}

static void
expect_sound(void)
{
	char	 out[4096];

	ck_assert_msg(verify(out, sizeof(out)) == 0, "verify failed: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"verified\":true"));
}

/* Append ROWS rows, wait until the worker sealed them all. */
static void
setup(void)
{
	struct db	*db = testdb_open();
	char		 subj[64], detail[128], v[32];
	double		 t0 = test_now_s();
	int		 i;

	snprintf(tag, sizeof(tag), "t%ld", (long)getpid());
	for (i = 0; i < ROWS; i++) {
		snprintf(subj, sizeof(subj), "%s-%d", tag, i);
		snprintf(detail, sizeof(detail), "{\"n\":%d,\"sha256\":\"%064d\"}", i, i);
		ck_assert_int_eq(audit_append(db, NULL, "operator", "test.audit_row", subj, detail),
		    CB_OK);
	}
	for (i = 0; i < ROWS; i++) {
		snprintf(subj, sizeof(subj), "%s-%d", tag, i);
		testdb_one(db, v, sizeof(v), "SELECT id FROM audit_log WHERE subject = $1", 1,
		    (const char *[]){ subj });
		ck_assert_int_eq(util_parse_ll(v, 1, 1LL << 62, &ids[i]), CB_OK);
	}
	for (;;) {
		testdb_one(db, v, sizeof(v), "SELECT count(*) FROM audit_log"
		    " WHERE subject LIKE $1 || '-%' AND chain_seq IS NULL", 1,
		    (const char *[]){ tag });
		if (strcmp(v, "0") == 0)
			break;
		ck_assert_msg(test_now_s() - t0 < SEAL_WAIT_MS / 1000.0,
		    "the worker did not seal the rows within %d ms", SEAL_WAIT_MS);
		test_sleep_ms(100);
	}
	db_close(db);
}

START_TEST(sealed_and_verified)
{
	char	 a[24], b[24];

	expect_sound();
	/* Consecutive rows, chained: each one's prev_hash is the one before's hash. */
	snprintf(a, sizeof(a), "%lld", ids[0]);
	snprintf(b, sizeof(b), "%lld", ids[1]);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log x JOIN audit_log y"
	    " ON y.chain_seq = x.chain_seq + 1 AND y.prev_hash = x.hash"
	    " WHERE x.id = $1::bigint AND y.id = $2::bigint", 2, (const char *[]){ a, b }), 1);
}
END_TEST

START_TEST(app_role_cannot_change_it)
{
	/*
	 * Each refused by privilege (42501, before any trigger runs: the role
	 * owns nothing); the fourth would move a sealed row, the fifth place a
	 * row in the chain itself.
	 */
	static const struct {
		const char	*sql;
		int		 nparams;
		const char	*why;
	} refused[] = {
		{ "UPDATE audit_log SET detail = '{}' WHERE id = $1::bigint", 1, "permission denied" },
		{ "DELETE FROM audit_log WHERE id = $1::bigint", 1, "permission denied" },
		{ "TRUNCATE audit_log", 0, "permission denied" },
		{ "UPDATE audit_log SET chain_seq = chain_seq WHERE id = $1::bigint", 1,
		  "permission denied" },
		{ "INSERT INTO audit_log (actor, action, chain_seq, prev_hash, hash)"
		  " SELECT 'operator', 'test.forged', $1::bigint + 1000000, hash, hash"
		  " FROM audit_log WHERE hash IS NOT NULL LIMIT 1", 1, "permission denied" },
		{ "UPDATE audit_head SET chain_seq = chain_seq", 0, "permission denied" },
		{ "ALTER TABLE audit_log DISABLE TRIGGER audit_append_only", 0, "must be owner" },
		{ "DROP TRIGGER audit_append_only ON audit_log", 0, "must be owner" },
		{ "ALTER FUNCTION cb_audit_seal(integer) SECURITY INVOKER", 0, "must be owner" },
	};
	struct db	*db = testdb_open();
	struct db_res	*r = NULL;
	char		 id[24], before[256], after[256];
	size_t		 i;

	snprintf(id, sizeof(id), "%lld", ids[2]);
	testdb_one(db, before, sizeof(before), "SELECT detail::text || hash::text FROM audit_log"
	    " WHERE id = $1::bigint", 1, (const char *[]){ id });
	for (i = 0; i < CU_NELEM(refused); i++) {
		ck_assert_msg(db_query(db, &r, refused[i].sql, refused[i].nparams,
		    refused[i].nparams ? (const char *[]){ id } : NULL) != CB_OK, "%s: allowed",
		    refused[i].sql);
		ck_assert_msg(strcmp(db_sqlstate(db), "42501") == 0, "%s: %s %s", refused[i].sql,
		    db_sqlstate(db), db_errmsg(db));
		ck_assert_msg(strstr(db_errmsg(db), refused[i].why) != NULL, "%s: %s",
		    refused[i].sql, db_errmsg(db));
		db_res_free(r);
		r = NULL;
	}
	testdb_one(db, after, sizeof(after), "SELECT detail::text || hash::text FROM audit_log"
	    " WHERE id = $1::bigint", 1, (const char *[]){ id });
	ck_assert_str_eq(before, after);
	db_close(db);
	expect_sound();
}
END_TEST

START_TEST(altered_row_is_named)
{
	struct db	*su = super_db();
	char		 id[24], orig[256];

	snprintf(id, sizeof(id), "%lld", ids[3]);
	testdb_val(orig, sizeof(orig), "SELECT detail::text FROM audit_log WHERE id = $1::bigint",
	    1, (const char *[]){ id });
	su_exec(su, "UPDATE audit_log SET detail = jsonb_set(detail, '{n}', '99')"
	    " WHERE id = $1::bigint", 1, (const char *[]){ id });
	expect_broken_at(ids[3], "altered");
	su_exec(su, "UPDATE audit_log SET detail = $2::jsonb WHERE id = $1::bigint", 2,
	    (const char *[]){ id, orig });
	db_close(su);
	expect_sound();
}
END_TEST

START_TEST(deleted_row_is_named)
{
	struct db	*su = super_db();
	char		 id[24], next[24];

	snprintf(id, sizeof(id), "%lld", ids[2]);
	snprintf(next, sizeof(next), "%lld", ids[3]);
	/* Keep a copy, delete it: the row after it is where the chain breaks. */
	su_exec(su, "CREATE TEMP TABLE kept (LIKE audit_log)", 0, NULL);
	su_exec(su, "INSERT INTO kept SELECT * FROM audit_log WHERE id = $1::bigint", 1,
	    (const char *[]){ id });
	su_exec(su, "DELETE FROM audit_log WHERE id = $1::bigint", 1, (const char *[]){ id });
	expect_broken_at(ids[3], "missing");
	su_exec(su, "INSERT INTO audit_log SELECT * FROM kept", 0, NULL);
	db_close(su);
	expect_sound();
}
END_TEST

START_TEST(swapped_rows_are_named)
{
	struct db	*su = super_db();
	char		 a[24], b[24];
	const char	*p[2];

	snprintf(a, sizeof(a), "%lld", ids[4]);
	snprintf(b, sizeof(b), "%lld", ids[5]);
	p[0] = a;
	p[1] = b;
	/* Exchange their places in the chain (through a free number: chain_seq is unique). */
	su_exec(su, "UPDATE audit_log SET chain_seq = 9000000000000000000 WHERE id = $1::bigint",
	    1, &p[0]);
	su_exec(su, "UPDATE audit_log SET chain_seq = chain_seq - 1 WHERE id = $1::bigint", 1, &p[1]);
	su_exec(su, "UPDATE audit_log SET chain_seq = (SELECT chain_seq + 1 FROM audit_log"
	    " WHERE id = $2::bigint) WHERE id = $1::bigint", 2, p);
	/* Now b sits where a was: it does not follow the row before. */
	expect_broken_at(ids[5], "does not follow");
	su_exec(su, "UPDATE audit_log SET chain_seq = 9000000000000000000 WHERE id = $1::bigint",
	    1, &p[0]);
	su_exec(su, "UPDATE audit_log SET chain_seq = chain_seq + 1 WHERE id = $1::bigint", 1, &p[1]);
	su_exec(su, "UPDATE audit_log SET chain_seq = (SELECT chain_seq - 1 FROM audit_log"
	    " WHERE id = $2::bigint) WHERE id = $1::bigint", 2, p);
	db_close(su);
	expect_sound();
}
END_TEST

START_TEST(append_refusals_write_nothing)
{
	struct db	*db = testdb_open();
	static const char *const bad_actions[] = { "", "Command.accepted", "command..x", "x.",
	    ".x", "command accepted", "1x" };
	char		 big[AUDIT_DETAIL_MAX + 64];
	long		 before, after;
	size_t		 i;

	before = testdb_long("SELECT count(*) FROM audit_log", 0, NULL);
	for (i = 0; i < CU_NELEM(bad_actions); i++)
		ck_assert_int_eq(audit_append(db, NULL, "operator", bad_actions[i], NULL, NULL),
		    CB_ERR_VALIDATION);
	ck_assert_int_eq(audit_append(db, NULL, "", "test.x", NULL, NULL), CB_ERR_VALIDATION);
	ck_assert_int_eq(audit_append(db, NULL, "operator", "test.x", NULL, "[1]"),
	    CB_ERR_VALIDATION);
	ck_assert_int_eq(audit_append(db, NULL, "operator", "test.x", NULL, "{bad"),
	    CB_ERR_VALIDATION);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"k\":\"", 6);
	memcpy(big + sizeof(big) - 3, "\"}", 2);
	ck_assert_int_eq(audit_append(db, NULL, "operator", "test.x", NULL, big),
	    CB_ERR_VALIDATION);
	after = testdb_long("SELECT count(*) FROM audit_log", 0, NULL);
	ck_assert_int_eq(after, before);
	db_close(db);
}
END_TEST

/*
 * The duty's audit_sealed lines after the first `skip`: how many, and (when
 * rows is not NULL) each one's row count and time of day in ms.
 */
static int
sealed_lines(int skip, long long *rows, double *ms, int max)
{
	char		 path[512], num[24], *text, *p, *e, *r, *t;
	int		 n = 0, seen = 0;
	unsigned	 hh, mm;
	double		 ss;
	size_t		 k;

	stacklog_path("cb-worker", path, sizeof(path));
	if ((text = cu_slurp(path)) == NULL)
		return 0;
	for (p = text; p != NULL && *p; p = e) {
		if ((e = strchr(p, '\n')) != NULL)
			*e++ = '\0';
		if (strstr(p, "\"event\":\"audit_sealed\"") == NULL || seen++ < skip)
			continue;
		if (rows != NULL) {
			ck_assert_int_lt(n, max);
			ck_assert_ptr_nonnull(r = strstr(p, "\"rows\":\""));
			ck_assert_ptr_nonnull(t = strstr(p, "\"ts\":\""));
			for (r += 8, k = 0; r[k] && r[k] != '"' && k + 1 < sizeof(num); k++)
				num[k] = r[k];
			num[k] = '\0';
			ck_assert_int_eq(util_parse_ll(num, 1, 1000000, &rows[n]), CB_OK);
			ck_assert_int_eq(sscanf(t + 6, "%*4u-%*2u-%*2uT%2u:%2u:%lf", &hh, &mm, &ss), 3);
			ms[n] = (hh * 3600.0 + mm * 60.0 + ss) * 1000.0;
		}
		n++;
	}
	free(text);
	return n;
}

static void
wait_sealed(const char *like)
{
	double	 t0 = test_now_s();

	while (testdb_long("SELECT count(*) FROM audit_log WHERE subject LIKE $1"
	    " AND chain_seq IS NULL", 1, (const char *[]){ like }) > 0) {
		ck_assert_msg(test_now_s() - t0 < SEAL_WAIT_MS / 1000.0, "not sealed in time");
		test_sleep_ms(20);
	}
}

/* A gap between two log times, across midnight too. */
static double
gap_ms(double a, double b)
{
	return b >= a ? b - a : b + 86400000.0 - a;
}

START_TEST(seal_batch_and_interval_hold)
{
	long long	 rows[16];
	double		 ms[16];
	char		 like[48], one[48];
	int		 before, n;

	before = sealed_lines(0, NULL, NULL, 0);
	snprintf(like, sizeof(like), "%s-batch-%%", tag);
	/* Ten rows in one commit: 4, 4, 2, one batch right after the other. */
	testdb_exec("INSERT INTO audit_log (actor, action, subject)"
	    " SELECT 'operator', 'test.audit_batch', $1 || '-batch-' || i"
	    " FROM generate_series(1, 10) i", 1, (const char *[]){ tag });
	wait_sealed(like);
	test_sleep_ms(100);	/* the last line is written after its commit */
	n = sealed_lines(before, rows, ms, 16);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(rows[0], 4);
	ck_assert_int_eq(rows[1], 4);
	ck_assert_int_eq(rows[2], 2);
	ck_assert_msg(gap_ms(ms[0], ms[1]) < 300 && gap_ms(ms[1], ms[2]) < 300,
	    "full batches waited: %.0f ms, %.0f ms", gap_ms(ms[0], ms[1]), gap_ms(ms[1], ms[2]));
	/* One row right after a batch that was not full: it waits the interval. */
	snprintf(one, sizeof(one), "%s-one", tag);
	testdb_exec("INSERT INTO audit_log (actor, action, subject)"
	    " VALUES ('operator', 'test.audit_one', $1)", 1, (const char *[]){ one });
	wait_sealed(one);
	test_sleep_ms(100);
	n = sealed_lines(before, rows, ms, 16);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(rows[3], 1);
	ck_assert_msg(gap_ms(ms[2], ms[3]) >= 390, "sealed %.0f ms after the batch before,"
	    " inside CB_AUDIT_SEAL_MS (400)", gap_ms(ms[2], ms[3]));
	expect_sound();
}
END_TEST

static Suite *
audit_suite(void)
{
	Suite	*s = suite_create("audit");
	TCase	*tc = tcase_create("chain");

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sealed_and_verified);
	tcase_add_test(tc, app_role_cannot_change_it);
	tcase_add_test(tc, altered_row_is_named);
	tcase_add_test(tc, deleted_row_is_named);
	tcase_add_test(tc, swapped_rows_are_named);
	tcase_add_test(tc, append_refusals_write_nothing);
	tcase_add_test(tc, seal_batch_and_interval_hold);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(audit_suite());
}
