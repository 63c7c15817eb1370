/*
 * The migration runner against the real Postgres of the private stack, in a
 * scratch database: up, down one step, up again, "up to date", refusal when
 * an applied file changed, a failing migration leaving no trace, and a
 * migration without its down file refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "http.h"

static char	 scratch[64];
static char	 dir[256];
static char	 dsn[1400];

static void
setup(void)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));
	char		 sql[128], cmd[600], out[256];
	char		 tmpl[] = "/tmp/cbmig-XXXXXX";

	snprintf(scratch, sizeof(scratch), "cb_migtest_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", scratch);
	ck_assert_int_eq(db_exec(db, sql, 0, NULL), CB_OK);
	db_close(db);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(cmd, sizeof(cmd), "cp %s/sql/*.sql %s/", test_env("CB_REPO"), dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	/* In a conninfo string the last dbname wins. */
	snprintf(dsn, sizeof(dsn), "%s dbname=%s", test_env("CB_PG_DSN"), scratch);
}

static void
teardown(void)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));
	char		 sql[128], cmd[300], out[64];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
	db_exec(db, sql, 0, NULL);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	test_run(cmd, out, sizeof(out));
}

static int
migrate(const char *verb, char *out, size_t outsz)
{
	char	 cmd[2048];

	snprintf(cmd, sizeof(cmd), "CB_CONFIG_FILE= CB_PG_DSN='%s' %s/bin/cb-migrate --dir %s %s 2>&1",
	    dsn, test_env("CB_BUILD"), dir, verb);
	return test_run(cmd, out, outsz);
}

/* 1 if the relation exists in the scratch database. */
static int
has_table(const char *name)
{
	struct db	*db = db_open(dsn);
	struct db_res	*res = NULL;
	const char	*p[1] = { name };
	int		 yes;

	ck_assert_int_eq(db_query(db, &res, "SELECT to_regclass($1) IS NOT NULL", 1, p), CB_OK);
	yes = strcmp(db_val(res, 0, 0), "t") == 0;
	db_res_free(res);
	db_close(db);
	return yes;
}

static long
applied_count(void)
{
	struct db	*db = db_open(dsn);
	struct db_res	*res = NULL;
	long		 n;

	ck_assert_int_eq(db_query(db, &res, "SELECT count(*) FROM schema_migrations", 0, NULL), CB_OK);
	n = strtol(db_val(res, 0, 0), NULL, 10);
	db_res_free(res);
	db_close(db);
	return n;
}

static long
file_count(void)
{
	char	 cmd[300], out[64];

	snprintf(cmd, sizeof(cmd), "ls %s/*.up.sql | wc -l", dir);
	test_run(cmd, out, sizeof(out));
	return strtol(out, NULL, 10);
}

START_TEST(up_down_up)
{
	char	 out[8192];
	long	 n = file_count();

	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "applied 0001_core"));
	ck_assert(has_table("outbox"));
	ck_assert_int_eq(applied_count(), n);

	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "up to date"));

	ck_assert_int_eq(migrate("down", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "rolled back"));
	ck_assert_int_eq(applied_count(), n - 1);
	if (n == 1)
		ck_assert(!has_table("outbox"));

	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "applied"));
	ck_assert_int_eq(applied_count(), n);
	ck_assert(has_table("outbox"));

	ck_assert_int_eq(migrate("status", out, sizeof(out)), 0);
	ck_assert_ptr_null(strstr(out, "pending"));
}
END_TEST

START_TEST(changed_file_is_refused)
{
	char	 out[8192], cmd[600];

	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "echo '-- edited after applying' >> %s/0001_core.up.sql", dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_int_ne(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "0001_core changed after it was applied"));
	ck_assert_int_ne(migrate("down", out, sizeof(out)), 0);
	ck_assert_int_ne(migrate("status", out, sizeof(out)), 0);
}
END_TEST

START_TEST(failed_migration_leaves_no_trace)
{
	char	 out[8192], cmd[900];
	long	 before;

	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	before = applied_count();
	snprintf(cmd, sizeof(cmd),
	    "printf 'CREATE TABLE half_done (id int);\\nSELECT no_such_function();\\n' > %s/9999_broken.up.sql &&"
	    " printf 'DROP TABLE half_done;\\n' > %s/9999_broken.down.sql", dir, dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_int_ne(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "9999_broken up failed"));
	ck_assert(!has_table("half_done"));
	ck_assert_int_eq(applied_count(), before);
}
END_TEST

START_TEST(missing_down_file_is_refused)
{
	char	 out[8192], cmd[600];

	snprintf(cmd, sizeof(cmd), "printf 'SELECT 1;\\n' > %s/9998_nodown.up.sql", dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_int_ne(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "has no 9998_nodown.down.sql"));
	ck_assert(!has_table("outbox"));
}
END_TEST

static Suite *
migrate_suite(void)
{
	Suite	*s = suite_create("migrate");
	TCase	*tc = tcase_create("runner");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, up_down_up);
	tcase_add_test(tc, changed_file_is_refused);
	tcase_add_test(tc, failed_migration_leaves_no_trace);
	tcase_add_test(tc, missing_down_file_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(migrate_suite());
}
