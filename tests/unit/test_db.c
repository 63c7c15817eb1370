/*
 * test_db: the Postgres wrapper against a live server (CB_PG_DSN; the
 * suite fails, never skips, when it is unset).  Parameters travel apart
 * from the SQL (quotes and SQL NULL included), transactions roll back and
 * commit, errors map to the documented codes with their SQLSTATE, an
 * unreachable server is CB_ERR_DB_DOWN, and a connection killed from the
 * server side is replaced transparently outside a transaction and reported
 * inside one; session timeouts are set on every connection, and a
 * statement or lock wait past them is CB_ERR_DB_BUSY, never retried.
 * Tables are temporary or uniquely named and dropped.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "db.h"
#include "errs.h"
#include "util.h"

static struct db *
open_db(void)
{
	struct db	*db = db_open(cu_env_required("CB_PG_DSN"));

	ck_assert_msg(db_connect(db) == CB_OK, "cannot connect to CB_PG_DSN: %s",
	    db_errmsg(db));
	return db;
}

/* The single value of a one-row, one-column query, copied. */
static char *
scalar(struct db *db, const char *sql, int n, const char *const *params)
{
	struct db_res	*res = NULL;
	char		*v;
	int		 rc;

	rc = db_query(db, &res, sql, n, params);
	ck_assert_msg(rc == CB_OK, "%s: %s (%s)", sql, errs_name(rc), db_errmsg(db));
	ck_assert_uint_eq(db_rows(res), 1);
	ck_assert_ptr_nonnull(db_val(res, 0, 0));
	v = strdup(db_val(res, 0, 0));
	db_res_free(res);
	return v;
}

static void
assert_scalar(struct db *db, const char *sql, int n, const char *const *params,
    const char *want)
{
	char	*v = scalar(db, sql, n, params);

	ck_assert_msg(strcmp(v, want) == 0, "%s: got \"%s\", want \"%s\"", sql, v, want);
	free(v);
}

START_TEST(test_connect_ping)
{
	struct db	*db = open_db();
	double		 ms = -1;

	ck_assert_int_eq(db_ping(db, &ms), CB_OK);
	ck_assert(ms >= 0);
	ck_assert_int_eq(db_in_tx(db), 0);
	ck_assert_str_eq(db_sqlstate(db), "");
	ck_assert_int_ge(db_socket(db), 0);
	db_close(db);
}
END_TEST

START_TEST(test_params_and_null)
{
	static const char *const p[] = {
		"it's \"quoted\"; DROP TABLE pg_class; --", NULL, "41", "\xc3\xa9t\xc3\xa9",
	};
	struct db	*db = open_db();
	struct db_res	*res = NULL;

	ck_assert_int_eq(db_query(db, &res,
	    "SELECT $1::text, $2::text, $2::text IS NULL, $3::int + 1, length($4::text)",
	    4, p), CB_OK);
	ck_assert_uint_eq(db_rows(res), 1);
	ck_assert_str_eq(db_val(res, 0, 0), p[0]);
	ck_assert_ptr_null(db_val(res, 0, 1));
	ck_assert_int_eq(db_isnull(res, 0, 1), 1);
	ck_assert_int_eq(db_isnull(res, 0, 0), 0);
	ck_assert_str_eq(db_val(res, 0, 2), "t");
	ck_assert_str_eq(db_val(res, 0, 3), "42");
	ck_assert_str_eq(db_val(res, 0, 4), "3");
	/* Out of range is NULL, not a crash. */
	ck_assert_ptr_null(db_val(res, 1, 0));
	ck_assert_ptr_null(db_val(res, 0, 5));
	ck_assert_int_eq(db_isnull(res, 7, 0), 1);
	db_res_free(res);
	/* An empty result. */
	ck_assert_int_eq(db_query(db, &res, "SELECT 1 WHERE false", 0, NULL), CB_OK);
	ck_assert_uint_eq(db_rows(res), 0);
	ck_assert_ptr_null(db_val(res, 0, 0));
	db_res_free(res);
	ck_assert_uint_eq(db_rows(NULL), 0);
	db_res_free(NULL);
	db_close(db);
}
END_TEST

START_TEST(test_no_injection)
{
	static const char *const evil[] = {
		"x'); DROP TABLE ut_names; --",
		"' OR '1'='1",
		"\\'; SELECT 1; --",
	};
	struct db	*db = open_db();
	struct db_res	*res = NULL;
	const char	*p[1];
	size_t		 i;

	ck_assert_int_eq(db_exec(db, "CREATE TEMP TABLE ut_names (id serial PRIMARY KEY, "
	    "name text NOT NULL)", 0, NULL), CB_OK);
	for (i = 0; i < CU_NELEM(evil); i++) {
		p[0] = evil[i];
		ck_assert_int_eq(db_exec(db, "INSERT INTO ut_names (name) VALUES ($1)", 1, p),
		    CB_OK);
		ck_assert_int_eq(db_affected(db), 1);
	}
	/* The table survived and holds the strings verbatim. */
	assert_scalar(db, "SELECT count(*) FROM ut_names", 0, NULL, "3");
	for (i = 0; i < CU_NELEM(evil); i++) {
		p[0] = evil[i];
		ck_assert_int_eq(db_query(db, &res, "SELECT name FROM ut_names WHERE name = $1",
		    1, p), CB_OK);
		ck_assert_uint_eq(db_rows(res), 1);
		ck_assert_str_eq(db_val(res, 0, 0), evil[i]);
		db_res_free(res);
	}
	/* A tautology as a parameter matches nothing. */
	p[0] = "nobody' OR '1'='1";
	ck_assert_int_eq(db_query(db, &res, "SELECT name FROM ut_names WHERE name = $1", 1, p),
	    CB_OK);
	ck_assert_uint_eq(db_rows(res), 0);
	db_res_free(res);
	/* A second statement in one call is refused, not run. */
	ck_assert_int_eq(db_exec(db, "SELECT 1; DROP TABLE ut_names", 0, NULL), CB_ERR_DB);
	ck_assert_str_eq(db_sqlstate(db), "42601");
	assert_scalar(db, "SELECT count(*) FROM ut_names", 0, NULL, "3");
	db_close(db);
}
END_TEST

START_TEST(test_tx_rollback)
{
	struct db	*db = open_db();
	const char	*p[1] = { "rolled back" };

	ck_assert_int_eq(db_exec(db, "CREATE TEMP TABLE ut_tx (v text)", 0, NULL), CB_OK);
	ck_assert_int_eq(db_begin(db), CB_OK);
	ck_assert_int_eq(db_in_tx(db), 1);
	ck_assert_int_eq(db_begin(db), CB_ERR_INTERNAL);
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_tx VALUES ($1)", 1, p), CB_OK);
	assert_scalar(db, "SELECT count(*) FROM ut_tx", 0, NULL, "1");
	ck_assert_int_eq(db_rollback(db), CB_OK);
	ck_assert_int_eq(db_in_tx(db), 0);
	assert_scalar(db, "SELECT count(*) FROM ut_tx", 0, NULL, "0");
	/* Rolling back outside a transaction is harmless. */
	ck_assert_int_eq(db_rollback(db), CB_OK);
	db_close(db);
}
END_TEST

START_TEST(test_tx_commit_persists)
{
	struct db	*db = open_db(), *other = open_db();
	struct db	*owner = db_open(cu_env_required("CB_PG_OWNER_DSN"));
	char		 table[40], sql[160];
	const char	*p[2] = { "a", "b" };

	/* The owner role creates tables; the application's role may use them. */
	cu_random_name(table, sizeof(table), "cb_ut_");
	snprintf(sql, sizeof(sql), "CREATE TABLE %s (v text PRIMARY KEY)", table);
	ck_assert_int_eq(db_exec(owner, sql, 0, NULL), CB_OK);
	ck_assert_int_eq(db_begin(db), CB_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES ($1), ($2)", table);
	ck_assert_int_eq(db_exec(db, sql, 2, p), CB_OK);
	ck_assert_int_eq(db_affected(db), 2);
	/* Not visible to another session before COMMIT... */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_scalar(other, sql, 0, NULL, "0");
	ck_assert_int_eq(db_commit(db), CB_OK);
	ck_assert_int_eq(db_in_tx(db), 0);
	/* ...and visible after it. */
	assert_scalar(other, sql, 0, NULL, "2");
	snprintf(sql, sizeof(sql), "DROP TABLE %s", table);
	ck_assert_int_eq(db_exec(owner, sql, 0, NULL), CB_OK);
	db_close(owner);
	db_close(other);
	db_close(db);
}
END_TEST

START_TEST(test_unique_violation)
{
	struct db	*db = open_db();
	const char	*p[1] = { "dup" };

	ck_assert_int_eq(db_exec(db, "CREATE TEMP TABLE ut_u (v text PRIMARY KEY)", 0, NULL),
	    CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_u VALUES ($1)", 1, p), CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_u VALUES ($1)", 1, p), CB_ERR_DB_CONFLICT);
	ck_assert_str_eq(db_sqlstate(db), "23505");
	ck_assert_str_ne(db_errmsg(db), "");
	ck_assert_ptr_null(strchr(db_errmsg(db), '\n'));
	/* The connection is fine afterwards, and the error is cleared. */
	assert_scalar(db, "SELECT count(*) FROM ut_u", 0, NULL, "1");
	ck_assert_str_eq(db_sqlstate(db), "");
	ck_assert_str_eq(db_errmsg(db), "");
	db_close(db);
}
END_TEST

/*
 * BUG: db_commit (lib/db.c:216-222) returns CB_OK for a transaction that
 * Postgres rolled back.  After a failed statement the transaction is
 * aborted and COMMIT answers "ROLLBACK" with a success status, which db_run
 * takes as success: the caller is told its earlier inserts were committed
 * when none were.  Expected a non-CB_OK code from db_commit.
 */
START_TEST(test_commit_of_aborted_tx)
{
	struct db	*db = open_db();
	const char	*a[1] = { "a" }, *b[1] = { "b" };
	int		 rc;

	ck_assert_int_eq(db_exec(db, "CREATE TEMP TABLE ut_ab (v text PRIMARY KEY)", 0, NULL),
	    CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_ab VALUES ($1)", 1, a), CB_OK);
	ck_assert_int_eq(db_begin(db), CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_ab VALUES ($1)", 1, b), CB_OK);
	/* A caller that treats the conflict as "already there, fine"... */
	ck_assert_int_eq(db_exec(db, "INSERT INTO ut_ab VALUES ($1)", 1, a), CB_ERR_DB_CONFLICT);
	rc = db_commit(db);
	ck_assert_int_eq(db_in_tx(db), 0);
	/* ...must not be told "b" was committed: it was not. */
	assert_scalar(db, "SELECT count(*) FROM ut_ab WHERE v = 'b'", 0, NULL, "0");
	ck_assert_msg(rc != CB_OK, "db_commit returned CB_OK but Postgres rolled back");
	db_close(db);
}
END_TEST

START_TEST(test_syntax_error)
{
	struct db	*db = open_db();
	struct db_res	*res = (struct db_res *)&db;

	ck_assert_int_eq(db_query(db, &res, "SELEC 1", 0, NULL), CB_ERR_DB);
	ck_assert_ptr_null(res);
	ck_assert_str_eq(db_sqlstate(db), "42601");
	ck_assert_ptr_nonnull(strstr(db_errmsg(db), "syntax"));
	/* Other refusals are CB_ERR_DB too, each with its SQLSTATE. */
	ck_assert_int_eq(db_exec(db, "SELECT * FROM ut_no_such_table", 0, NULL), CB_ERR_DB);
	ck_assert_str_eq(db_sqlstate(db), "42P01");
	ck_assert_int_eq(db_exec(db, "SELECT 1/0", 0, NULL), CB_ERR_DB);
	ck_assert_str_eq(db_sqlstate(db), "22012");
	ck_assert_int_eq(db_ping(db, NULL), CB_OK);
	db_close(db);
}
END_TEST

START_TEST(test_error_inside_tx)
{
	struct db	*db = open_db();

	ck_assert_int_eq(db_begin(db), CB_OK);
	ck_assert_int_eq(db_exec(db, "SELEC 1", 0, NULL), CB_ERR_DB);
	/* The transaction is aborted: the caller rolls back. */
	ck_assert_int_eq(db_in_tx(db), 1);
	ck_assert_int_eq(db_exec(db, "SELECT 1", 0, NULL), CB_ERR_DB);
	ck_assert_str_eq(db_sqlstate(db), "25P02");
	ck_assert_int_eq(db_rollback(db), CB_OK);
	ck_assert_int_eq(db_exec(db, "SELECT 1", 0, NULL), CB_OK);
	db_close(db);
}
END_TEST

static const char *const down_dsns[] = {
	"host=127.0.0.1 port=1 dbname=postgres user=cbroker password=sekrit-pw connect_timeout=3",
	"host=127.0.0.1 port=65534 connect_timeout=3",
	"this is not a connection string",
	"host=/nonexistent/socket/dir connect_timeout=3",
};

START_TEST(test_down)
{
	struct db	*db;
	struct db_res	*res = NULL;
	char		*logged;
	int		 rc1, rc2, rc3, fd;

	cu_env_required("CB_PG_DSN");
	db = db_open(down_dsns[_i]);
	cu_stderr_begin();
	rc1 = db_connect(db);
	rc2 = db_query(db, &res, "SELECT 1", 0, NULL);
	rc3 = db_ping(db, NULL);
	fd = db_socket(db);
	logged = cu_stderr_end();
	ck_assert_int_eq(rc1, CB_ERR_DB_DOWN);
	ck_assert_int_eq(rc2, CB_ERR_DB_DOWN);
	ck_assert_int_eq(rc3, CB_ERR_DB_DOWN);
	ck_assert_ptr_null(res);
	ck_assert_str_eq(db_sqlstate(db), "08001");
	ck_assert_ptr_null(strstr(db_errmsg(db), "sekrit"));
	ck_assert_ptr_null(strstr(logged, "sekrit"));
	ck_assert_int_eq(fd, -1);
	/* Each attempt is logged, without the password. */
	ck_assert_ptr_nonnull(strstr(logged, "db_connect_failed"));
	free(logged);
	db_close(db);
}
END_TEST

START_TEST(test_wrong_database)
{
	struct db	*db;
	char		 dsn[512];
	int		 rc;

	snprintf(dsn, sizeof(dsn), "%s dbname=cb_ut_no_such_database",
	    cu_env_required("CB_PG_DSN"));
	db = db_open(dsn);
	cu_stderr_begin();
	rc = db_connect(db);
	free(cu_stderr_end());
	ck_assert_int_eq(rc, CB_ERR_DB_DOWN);
	ck_assert_str_ne(db_errmsg(db), "");
	db_close(db);
}
END_TEST

static void
terminate(struct db *killer, const char *pid)
{
	const char	*p[1] = { pid };

	/* Wait (up to 5 s) until the backend is really gone. */
	assert_scalar(killer, "SELECT pg_terminate_backend($1::int, 5000)", 1, p, "t");
}

START_TEST(test_reconnect_outside_tx)
{
	struct db	*db = open_db(), *killer = open_db();
	char		*pid1, *pid2;

	pid1 = scalar(db, "SELECT pg_backend_pid()", 0, NULL);
	terminate(killer, pid1);
	/* The next statement runs on a fresh connection, transparently. */
	pid2 = scalar(db, "SELECT pg_backend_pid()", 0, NULL);
	ck_assert_str_ne(pid1, pid2);
	ck_assert_int_eq(db_ping(db, NULL), CB_OK);
	free(pid1);
	free(pid2);
	db_close(killer);
	db_close(db);
}
END_TEST

START_TEST(test_broken_inside_tx)
{
	struct db	*db = open_db(), *killer = open_db();
	char		*pid;
	int		 rc;

	pid = scalar(db, "SELECT pg_backend_pid()", 0, NULL);
	ck_assert_int_eq(db_begin(db), CB_OK);
	terminate(killer, pid);
	cu_stderr_begin();
	rc = db_exec(db, "SELECT 1", 0, NULL);
	free(cu_stderr_end());
	/* Never retried inside a transaction: the caller must know. */
	ck_assert_int_eq(rc, CB_ERR_DB_DOWN);
	ck_assert_int_eq(db_in_tx(db), 0);
	ck_assert_int_eq(db_rollback(db), CB_OK);
	/* And the next statement reconnects. */
	ck_assert_int_eq(db_exec(db, "SELECT 1", 0, NULL), CB_OK);
	free(pid);
	db_close(killer);
	db_close(db);
}
END_TEST

START_TEST(test_exec_script)
{
	struct db	*db = open_db();

	ck_assert_int_eq(db_exec_script(db,
	    "CREATE TEMP TABLE ut_s (x int);\n"
	    "INSERT INTO ut_s VALUES (1), (2);\n"
	    "-- a comment\n"
	    "INSERT INTO ut_s VALUES (3);\n"
	    "CREATE TEMP TABLE IF NOT EXISTS ut_s (x int);\n"), CB_OK);
	assert_scalar(db, "SELECT sum(x) FROM ut_s", 0, NULL, "6");
	/* A failing statement: the script is one implicit transaction. */
	ck_assert_int_eq(db_exec_script(db,
	    "INSERT INTO ut_s VALUES (100);\n"
	    "INSERT INTO ut_s VALUES ('not a number');\n"), CB_ERR_DB);
	ck_assert_str_eq(db_sqlstate(db), "22P02");
	assert_scalar(db, "SELECT sum(x) FROM ut_s", 0, NULL, "6");
	ck_assert_int_eq(db_exec_script(db, ""), CB_OK);
	ck_assert_int_eq(db_exec_script(db, "-- nothing but a comment\n"), CB_OK);
	db_close(db);
}
END_TEST

struct notes {
	int	 n;
	char	 chan[64];
	char	 payload[64];
};

static void
on_notify(const char *chan, const char *payload, void *arg)
{
	struct notes	*ns = arg;

	ns->n++;
	snprintf(ns->chan, sizeof(ns->chan), "%s", chan);
	snprintf(ns->payload, sizeof(ns->payload), "%s", payload);
}

START_TEST(test_listen_notify)
{
	struct db	*db = open_db(), *other = open_db();
	const char	*p[2] = { "ut_chan", "hello 'there'" };
	struct notes	 ns;
	struct pollfd	 pfd;
	int		 tries;

	memset(&ns, 0, sizeof(ns));
	ck_assert_int_eq(db_exec(db, "LISTEN ut_chan", 0, NULL), CB_OK);
	ck_assert_int_eq(db_exec(other, "SELECT pg_notify($1, $2)", 2, p), CB_OK);
	for (tries = 0; tries < 50 && ns.n == 0; tries++) {
		pfd.fd = db_socket(db);
		pfd.events = POLLIN;
		ck_assert_int_ge(pfd.fd, 0);
		(void)poll(&pfd, 1, 100);
		ck_assert_int_eq(db_notifies(db, on_notify, &ns), CB_OK);
	}
	ck_assert_int_eq(ns.n, 1);
	ck_assert_str_eq(ns.chan, "ut_chan");
	ck_assert_str_eq(ns.payload, "hello 'there'");
	db_close(other);
	db_close(db);
}
END_TEST

START_TEST(test_env_present)
{
	/* Fails (never skips) with a clear message when no server is configured. */
	ck_assert_ptr_nonnull(cu_env_required("CB_PG_DSN"));
}
END_TEST

START_TEST(test_timeouts_on_every_connection)
{
	struct db	*db = db_open(cu_env_required("CB_PG_DSN")), *killer = open_db();
	char		*pid;

	db_set_timeouts(db, 1500, 250);
	assert_scalar(db, "SELECT current_setting('statement_timeout')", 0, NULL, "1500ms");
	assert_scalar(db, "SELECT current_setting('lock_timeout')", 0, NULL, "250ms");
	/* A new session (the old one killed) gets them again. */
	pid = scalar(db, "SELECT pg_backend_pid()", 0, NULL);
	terminate(killer, pid);
	cu_stderr_begin();
	assert_scalar(db, "SELECT current_setting('lock_timeout')", 0, NULL, "250ms");
	free(cu_stderr_end());
	/* A transaction may still change them for itself. */
	ck_assert_int_eq(db_begin_with(db, "SET LOCAL lock_timeout = '300ms'"), CB_OK);
	assert_scalar(db, "SELECT current_setting('lock_timeout')", 0, NULL, "300ms");
	ck_assert_int_eq(db_rollback(db), CB_OK);
	assert_scalar(db, "SELECT current_setting('lock_timeout')", 0, NULL, "250ms");
	/* 0: the server's default. */
	db_set_timeouts(db, 0, 0);
	assert_scalar(db, "SELECT current_setting('statement_timeout')", 0, NULL, "0");
	free(pid);
	db_close(killer);
	db_close(db);
}
END_TEST

START_TEST(test_statement_timeout_is_busy)
{
	struct db	*db = db_open(cu_env_required("CB_PG_DSN"));
	double		 t0;
	int		 rc;

	db_set_timeouts(db, 200, 0);
	t0 = util_now_ms();
	rc = db_exec(db, "SELECT pg_sleep(5)", 0, NULL);
	ck_assert_int_eq(rc, CB_ERR_DB_BUSY);
	ck_assert_str_eq(db_sqlstate(db), "57014");
	/* Given up after the timeout, once: not retried on a new connection. */
	ck_assert_msg(util_now_ms() - t0 < 3000, "took %.0f ms", util_now_ms() - t0);
	ck_assert_int_eq(errs_status(rc), 503);
	ck_assert_int_eq(db_exec(db, "SELECT 1", 0, NULL), CB_OK);
	db_close(db);
}
END_TEST

START_TEST(test_lock_timeout_is_busy)
{
	struct db	*holder = open_db(), *db = db_open(cu_env_required("CB_PG_DSN"));
	char		 key[24];
	double		 t0, took;
	int		 rc;

	/* An advisory lock is a heavyweight lock: lock_timeout bounds the wait. */
	snprintf(key, sizeof(key), "%ld", 7426100L + (long)getpid());
	ck_assert_int_eq(db_exec(holder, "SELECT pg_advisory_lock($1::bigint)", 1,
	    (const char *[]){ key }), CB_OK);
	db_set_timeouts(db, 0, 300);
	t0 = util_now_ms();
	rc = db_exec(db, "SELECT pg_advisory_lock($1::bigint)", 1, (const char *[]){ key });
	took = util_now_ms() - t0;
	ck_assert_int_eq(rc, CB_ERR_DB_BUSY);
	ck_assert_str_eq(db_sqlstate(db), "55P03");
	ck_assert_msg(took >= 250 && took < 3000, "took %.0f ms", took);
	ck_assert_int_eq(db_exec(holder, "SELECT pg_advisory_unlock($1::bigint)", 1,
	    (const char *[]){ key }), CB_OK);
	db_close(db);
	db_close(holder);
}
END_TEST

static Suite *
db_suite(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc;

	tc = tcase_create("queries");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_env_present);
	tcase_add_test(tc, test_connect_ping);
	tcase_add_test(tc, test_params_and_null);
	tcase_add_test(tc, test_no_injection);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_unique_violation);
	tcase_add_test(tc, test_exec_script);
	tcase_add_test(tc, test_listen_notify);
	suite_add_tcase(s, tc);

	tc = tcase_create("transactions");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tx_rollback);
	tcase_add_test(tc, test_tx_commit_persists);
	tcase_add_test(tc, test_error_inside_tx);
	tcase_add_test(tc, test_commit_of_aborted_tx);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_down, 0, (int)CU_NELEM(down_dsns));
	tcase_add_test(tc, test_wrong_database);
	tcase_add_test(tc, test_reconnect_outside_tx);
	tcase_add_test(tc, test_broken_inside_tx);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timeouts_on_every_connection);
	tcase_add_test(tc, test_statement_timeout_is_busy);
	tcase_add_test(tc, test_lock_timeout_is_busy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(db_suite());
}
