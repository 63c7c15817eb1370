/*
 * The migration runner against the real Postgres of the private stack, in a
 * scratch database: up, down one step, up again, "up to date", refusal when
 * an applied file changed, a failing migration leaving no trace, and a
 * migration without its down file refused; 0024's down step refuses while
 * a sealed command value may still be delivered.  As in production: the scratch
 * database is made by the superuser for the owner role, and the migrations
 * run as the owner (CB_PG_OWNER_DSN).  A database from before the owner
 * role (cb_app owned everything) is upgraded in place: 0013_roles refuses
 * to run as cb_app, scripts/db-roles.sql hands every object to cb_owner,
 * the migrations then finish as the owner, and cb_app keeps its row access
 * but can no longer change the audit trail or its trigger; db-roles.sql run
 * again changes nothing.
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
	struct db	*db = db_open(test_env("CB_PG_SUPER_DSN"));
	char		 sql[128], cmd[600], out[256];
	char		 tmpl[] = "/tmp/cbmig-XXXXXX";

	snprintf(scratch, sizeof(scratch), "cb_migtest_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER cb_owner", scratch);
	ck_assert_int_eq(db_exec(db, sql, 0, NULL), CB_OK);
	db_close(db);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s", tmpl);
	snprintf(cmd, sizeof(cmd), "cp %s/sql/*.sql %s/", test_env("CB_REPO"), dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	/* In a conninfo string the last dbname wins. */
	snprintf(dsn, sizeof(dsn), "%s dbname=%s", test_env("CB_PG_OWNER_DSN"), scratch);
}

static void
teardown(void)
{
	struct db	*db = db_open(test_env("CB_PG_SUPER_DSN"));
	char		 sql[128], cmd[300], out[64];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
	db_exec(db, sql, 0, NULL);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	test_run(cmd, out, sizeof(out));
}

static int
migrate_as(const char *as, const char *verb, char *out, size_t outsz)
{
	char	 cmd[2048];

	snprintf(cmd, sizeof(cmd), "CB_CONFIG_FILE= CB_PG_OWNER_DSN='%s' %s/bin/cb-migrate --dir %s %s 2>&1",
	    as, test_env("CB_BUILD"), dir, verb);
	return test_run(cmd, out, outsz);
}

static int
migrate(const char *verb, char *out, size_t outsz)
{
	return migrate_as(dsn, verb, out, outsz);
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

/* A count in the database of `conn`. */
static long
count_in(const char *conn, const char *sql)
{
	struct db	*db = db_open(conn);
	struct db_res	*res = NULL;
	long		 n;

	ck_assert_msg(db_query(db, &res, sql, 0, NULL) == CB_OK, "%s: %s", sql, db_errmsg(db));
	n = strtol(db_val(res, 0, 0), NULL, 10);
	db_res_free(res);
	db_close(db);
	return n;
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

/* The scratch database, schema and data (not the runner's own rows), into dir/NAME.sql. */
static void
dump(const char *name)
{
	char	 cmd[2048], out[512];
	int	 rc;

	/* (\restrict and \unrestrict lines carry a key new each dump.) */
	snprintf(cmd, sizeof(cmd), "pg_dump --exclude-table-data=schema_migrations -d '%s dbname=%s'"
	    " -f %s/%s.sql 2>&1 && sed -i -e '/^.restrict /d' -e '/^.unrestrict /d' %s/%s.sql",
	    test_env("CB_PG_SUPER_DSN"), scratch, dir, name, dir, name);
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "pg_dump: %s", out);
}

/*
 * The two dumps are the same; else the first lines that differ.  With
 * `privileges`, grants and default privileges do not count (a down step
 * that keeps them says so: "-- down-keeps: privileges").
 */
static void
same_dump(const char *a, const char *b, int step, const char *what, int privileges)
{
	char	 cmd[2400], out[4096];
	const char *drop = "grep -vE '^(--|GRANT |REVOKE |ALTER DEFAULT PRIVILEGES )'";

	if (privileges)
		snprintf(cmd, sizeof(cmd), "%s %s/%s.sql > %s/a.sql; %s %s/%s.sql > %s/b.sql;"
		    " diff -B %s/a.sql %s/b.sql | head -n 20", drop, dir, a, dir, drop, dir, b, dir,
		    dir, dir);
	else
		snprintf(cmd, sizeof(cmd), "diff %s/%s.sql %s/%s.sql | head -n 20", dir, a, dir, b);
	test_run(cmd, out, sizeof(out));
	ck_assert_msg(out[0] == '\0', "step %d: %s:\n%s", step, what, out);
}

/*
 * Every migration both ways, in order: up to step k, down (the database is
 * again what it was before step k: schema, grants and seeded rows, as
 * pg_dump sees them), up again (what it was after step k).
 */
START_TEST(every_step_down_and_up)
{
	char	 out[8192], cmd[600], to[300], before[16], after[16];
	long	 n = file_count(), k;
	int	 v[1000], i = 0, keeps;
	FILE	*f;

	snprintf(cmd, sizeof(cmd), "cd %s && ls *.up.sql | cut -c1-4 > versions", dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	snprintf(to, sizeof(to), "%s/versions", dir);
	ck_assert_ptr_nonnull(f = fopen(to, "r"));
	while (i < 1000 && fscanf(f, "%d", &v[i]) == 1)
		i++;
	fclose(f);
	ck_assert_int_eq(i, n);
	/* Before step 1: the runner's own table, nothing else. */
	ck_assert_int_eq(migrate("status", out, sizeof(out)), 0);
	dump("s0");
	for (k = 1; k <= n; k++) {
		snprintf(before, sizeof(before), "s%ld", k - 1);
		snprintf(after, sizeof(after), "s%ld", k);
		snprintf(to, sizeof(to), "up --to %d", v[k - 1]);
		ck_assert_msg(migrate(to, out, sizeof(out)) == 0, "step %ld: %s", k, out);
		ck_assert_int_eq(applied_count(), k);
		dump(after);
		ck_assert_msg(migrate("down", out, sizeof(out)) == 0, "step %ld down: %s", k, out);
		ck_assert_int_eq(applied_count(), k - 1);
		dump("down");
		snprintf(cmd, sizeof(cmd), "grep -qx -- '-- down-keeps: privileges' %s/%04d_*.down.sql",
		    dir, v[k - 1]);
		keeps = test_run(cmd, out, sizeof(out)) == 0;
		same_dump(before, "down", (int)k, "its down step left the database changed", keeps);
		ck_assert_msg(migrate(to, out, sizeof(out)) == 0, "step %ld again: %s", k, out);
		dump("again");
		same_dump(after, "again", (int)k, "up after down made another database", 0);
	}
	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "up to date"));
	/* --to belongs to up alone. */
	ck_assert_int_eq(migrate("down --to 1", out, sizeof(out)), 2);
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

/*
 * 0024's down step cannot open sealed command values: it refuses while a
 * command that may still be delivered holds one, and once it finished
 * drops the value with the column, keeping the command.
 */
START_TEST(sealed_command_values_step_down)
{
	struct db	*db;
	char		 out[8192], super[1400];

	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	/* Later migrations stepped down first: the next down is 0024's. */
	while (count_in(dsn, "SELECT max(version) FROM schema_migrations") > 24)
		ck_assert_msg(migrate("down", out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(count_in(dsn, "SELECT max(version) FROM schema_migrations"), 24);
	/* A bare row (no tenant or context behind it): the superuser skips the keys. */
	snprintf(super, sizeof(super), "%s dbname=%s", test_env("CB_PG_SUPER_DSN"), scratch);
	db = db_open(super);
	ck_assert_int_eq(db_exec(db, "SET session_replication_role = replica", 0, NULL), CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO commands (org_id, ctx_id, seq, type, selector,"
	    " value_sealed, state) VALUES (1, gen_random_uuid(), 1, 'set_field', '#email',"
	    " 'v1.AQAAAAE', 'queued')", 0, NULL), CB_OK);
	db_close(db);
	ck_assert_int_ne(migrate("down", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "still waiting for delivery") != NULL, "%s", out);
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM commands WHERE value_sealed IS NOT NULL"),
	    1);
	ck_assert_int_eq(count_in(dsn, "SELECT max(version) FROM schema_migrations"), 24);
	db = db_open(super);
	ck_assert_int_eq(db_exec(db, "UPDATE commands SET state = 'applied', finished_at = now()",
	    0, NULL), CB_OK);
	db_close(db);
	ck_assert_msg(migrate("down", out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM commands WHERE state = 'applied'"
	    " AND value IS NULL"), 1);
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'commands' AND column_name = 'value_sealed'"), 0);
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

/* The superuser runs scripts/db-roles.sql in the scratch database. */
static int
db_roles(char *out, size_t outsz)
{
	char	 cmd[2048];

	snprintf(cmd, sizeof(cmd), "psql -X -q -1 -v ON_ERROR_STOP=1 -v owner=cb_owner -v app=cb_app"
	    " -d '%s dbname=%s' -f %s/scripts/db-roles.sql 2>&1", test_env("CB_PG_SUPER_DSN"),
	    scratch, test_env("CB_REPO"));
	return test_run(cmd, out, outsz);
}

/* One statement as cb_app in the scratch database: its SQLSTATE ("" if it ran). */
static void
as_app(const char *sql, char *state, size_t statesz)
{
	char		 app[1400];
	struct db	*db;
	struct db_res	*res = NULL;

	snprintf(app, sizeof(app), "%s dbname=%s", test_env("CB_PG_DSN"), scratch);
	db = db_open(app);
	if (db_query(db, &res, sql, 0, NULL) == CB_OK)
		state[0] = '\0';
	else
		snprintf(state, statesz, "%s", db_sqlstate(db) ? db_sqlstate(db) : "?");
	db_res_free(res);
	db_close(db);
}

START_TEST(legacy_layout_upgrades_in_place)
{
	struct db	*su = db_open(test_env("CB_PG_SUPER_DSN"));
	char		 out[8192], cmd[900], sql[256], app[1400], st[16];

	/* The old layout: cb_app owns the database and migrates it up to 0012. */
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s OWNER TO cb_app", scratch);
	ck_assert_int_eq(db_exec(su, sql, 0, NULL), CB_OK);
	db_close(su);
	/* Every migration from 0013 on waits aside (later ones would leave a gap). */
	snprintf(cmd, sizeof(cmd), "mkdir %s/later && cd %s && for f in [0-9][0-9][0-9][0-9]_*.sql;"
	    " do if expr \"${f%%%%_*}\" \\>= 13 >/dev/null; then mv \"$f\" later/; fi; done",
	    dir, dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	snprintf(app, sizeof(app), "%s dbname=%s", test_env("CB_PG_DSN"), scratch);
	ck_assert_msg(migrate_as(app, "up", out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(count_in(app, "SELECT count(*) FROM pg_class"
	    " WHERE relowner = 'cb_app'::regrole AND relname = 'audit_log'"), 1);
	snprintf(cmd, sizeof(cmd), "mv %s/later/* %s/ && rmdir %s/later", dir, dir, dir);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	/* 0013 will not run as the application's role. */
	ck_assert_int_ne(migrate_as(app, "up", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "not as cb_app") != NULL, "%s", out);

	/* The upgrade: ownership handed over, then the migrations as the owner. */
	ck_assert_msg(db_roles(out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "handing them to the owner role") != NULL, "%s", out);
	ck_assert_msg(migrate("up", out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "applied 0013_roles"));
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM pg_class"
	    " WHERE relowner = 'cb_app'::regrole"), 0);
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM pg_database"
	    " WHERE datname = current_database() AND datdba = 'cb_owner'::regrole"), 1);

	/* cb_app: rows yes, the audit trail append-only, its rules out of reach. */
	as_app("INSERT INTO orgs (slug, name) VALUES ('upgraded', 'Upgraded')", st, sizeof(st));
	ck_assert_str_eq(st, "");
	as_app("INSERT INTO audit_log (actor, action) VALUES ('operator', 'test.upgraded')", st,
	    sizeof(st));
	ck_assert_str_eq(st, "");
	as_app("UPDATE audit_log SET detail = '{}'", st, sizeof(st));
	ck_assert_str_eq(st, "42501");
	as_app("DELETE FROM audit_log", st, sizeof(st));
	ck_assert_str_eq(st, "42501");
	as_app("ALTER TABLE audit_log DISABLE TRIGGER audit_append_only", st, sizeof(st));
	ck_assert_str_eq(st, "42501");
	as_app("CREATE TABLE mine (x int)", st, sizeof(st));
	ck_assert_str_eq(st, "42501");
	as_app("SELECT cb_audit_seal(10)", st, sizeof(st));
	ck_assert_str_eq(st, "");
	ck_assert_int_eq(count_in(dsn, "SELECT count(*) FROM audit_log"
	    " WHERE action = 'test.upgraded' AND chain_seq IS NOT NULL"), 1);

	/* Again: nothing left to hand over, nothing changes. */
	ck_assert_msg(db_roles(out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_null(strstr(out, "handing"));
	ck_assert_int_eq(migrate("up", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "up to date"));
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
	tcase_add_test(tc, every_step_down_and_up);
	tcase_add_test(tc, changed_file_is_refused);
	tcase_add_test(tc, failed_migration_leaves_no_trace);
	tcase_add_test(tc, sealed_command_values_step_down);
	tcase_add_test(tc, missing_down_file_is_refused);
	tcase_add_test(tc, legacy_layout_upgrades_in_place);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(migrate_suite());
}
