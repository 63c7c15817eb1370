/*
 * db: see db.h.  The only file that calls libpq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/*
 * Statements are prepared once per connection and executed by name: the
 * server parses and plans each one once, not on every request.  The SQL
 * texts are the program's own constants, so the cache is small and fixed.
 */
#define DB_PREPARED_MAX	96

struct db_stmt {
	const char	*sql;		/* identity: the caller's constant */
	unsigned long	 hash;
	char		 name[12];
};

struct db {
	char		*dsn;
	PGconn		*conn;
	struct db_stmt	 stmts[DB_PREPARED_MAX];
	int		 nstmts;
	int		 in_tx;
	unsigned long	 generation;	/* connections made so far */
	long		 statement_ms;	/* session statement_timeout, 0 = server default */
	long		 lock_ms;	/* session lock_timeout, 0 = server default */
	long long	 affected;
	PGresult	*pending;	/* db_poll: a result read, its end not yet */
	char		 sqlstate[6];
	char		 errmsg[256];
};

struct db_res {
	PGresult	*res;
};

static void
db_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
	/* Notices (e.g. "relation already exists, skipping") are not errors. */
}

struct db *
db_open(const char *dsn)
{
	struct db	*db = util_calloc(1, sizeof(*db));

	db->dsn = util_strdup(dsn);
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQclear(db->pending);
	if (db->conn)
		PQfinish(db->conn);
	sodium_memzero(db->dsn, strlen(db->dsn));
	free(db->dsn);
	free(db);
}

static void
db_seterr(struct db *db, const char *state, const char *msg)
{
	util_strlcpy(db->sqlstate, state ? state : "", sizeof(db->sqlstate));
	util_strlcpy(db->errmsg, msg ? msg : "", sizeof(db->errmsg));
	/* Class 08 (connection) and 57 (timeouts, shutdown): the server, not the statement. */
	if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0))
		metrics_add(MF_PG_ERRORS, 0, 0, 1);
	/* libpq messages end with a newline; logs want one line. */
	db->errmsg[strcspn(db->errmsg, "\n")] = '\0';
}

/* The connection is no longer usable: say why (msg is copied first) and drop it. */
static int
db_lost(struct db *db, const char *msg)
{
	db_seterr(db, "08006", msg);
	db_disconnect(db);
	return CB_ERR_DB_DOWN;
}

void
db_set_timeouts(struct db *db, long statement_ms, long lock_ms)
{
	db->statement_ms = statement_ms > 0 ? statement_ms : 0;
	db->lock_ms = lock_ms > 0 ? lock_ms : 0;
	/* A connection already open gets them on its next reconnect: drop it. */
	if (db->conn && !db->in_tx) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
}

/*
 * The session's timeouts, once per connection (one round trip, then never
 * again): parameters, not text pasted into SQL.  "0" is the server's
 * default (no timeout).
 */
static int
db_session_setup(struct db *db)
{
	char		 st[24], lk[24];
	const char	*p[2] = { st, lk };
	PGresult	*res;
	int		 ok;

	if (db->statement_ms == 0 && db->lock_ms == 0)
		return CB_OK;
	snprintf(st, sizeof(st), "%ld", db->statement_ms);
	snprintf(lk, sizeof(lk), "%ld", db->lock_ms);
	res = PQexecParams(db->conn, "SELECT set_config('statement_timeout', $1, false),"
	    " set_config('lock_timeout', $2, false)", 2, NULL, p, NULL, NULL, 0);
	ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		db_seterr(db, "08006", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	PQclear(res);
	return ok ? CB_OK : CB_ERR_DB_DOWN;
}

int
db_connect(struct db *db)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return CB_OK;
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	db->in_tx = 0;
	PQclear(db->pending);
	db->pending = NULL;
	db->nstmts = 0;		/* a new connection has no prepared statements */
	db->conn = PQconnectdb(db->dsn);
	if (db->conn == NULL)
		util_oom();
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* The message can name host and user but never the password. */
		db_seterr(db, "08001", PQerrorMessage(db->conn));
		log_kv(LOG_LVL_WARN, "db_connect_failed", "error", db->errmsg, NULL);
		PQfinish(db->conn);
		db->conn = NULL;
		return CB_ERR_DB_DOWN;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	if (db_session_setup(db) != CB_OK) {
		log_kv(LOG_LVL_WARN, "db_session_setup_failed", "error", db->errmsg, NULL);
		PQfinish(db->conn);
		db->conn = NULL;
		return CB_ERR_DB_DOWN;
	}
	db->generation++;
	return CB_OK;
}

static int
db_classify(struct db *db, PGresult *res)
{
	const char	*state;

	if (res == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_seterr(db, "08006", db->conn ? PQerrorMessage(db->conn) : "no connection");
		return CB_ERR_DB_DOWN;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	db_seterr(db, state, PQresultErrorMessage(res));
	if (state && (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0))
		return CB_ERR_DB_CONFLICT;
	/* statement_timeout (or a cancel) and lock_timeout: the server gave up waiting. */
	if (state && (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0))
		return CB_ERR_DB_BUSY;
	if (state && strncmp(state, "08", 2) == 0)
		return CB_ERR_DB_DOWN;
	/* 57P01 admin shutdown, 57P02/57P03 crash/cannot connect now. */
	if (state && strncmp(state, "57P", 3) == 0)
		return CB_ERR_DB_DOWN;
	return CB_ERR_DB;
}

static unsigned long
db_hash(const char *s)
{
	unsigned long	 h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The name of sql's prepared statement on this connection, if it has one. */
static const char *
db_prepared_name(const struct db *db, const char *sql)
{
	unsigned long	 h = db_hash(sql);
	int		 i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].hash == h && (db->stmts[i].sql == sql ||
		    strcmp(db->stmts[i].sql, sql) == 0))
			return db->stmts[i].name;
	return NULL;
}

/*
 * The name of sql's prepared statement on this connection, preparing it on
 * first use; NULL (run it unprepared) when the cache is full or PREPARE
 * failed (the unprepared run then reports the real error).
 */
static const char *
db_prepared(struct db *db, const char *sql, int n)
{
	unsigned long	 h = db_hash(sql);
	PGresult	*res;
	const char	*name;

	if ((name = db_prepared_name(db, sql)) != NULL)
		return name;
	if (db->nstmts == DB_PREPARED_MAX || db->conn == NULL)
		return NULL;
	snprintf(db->stmts[db->nstmts].name, sizeof(db->stmts[0].name), "cb%d", db->nstmts);
	res = PQprepare(db->conn, db->stmts[db->nstmts].name, sql, n, NULL);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts].hash = h;
	return db->stmts[db->nstmts++].name;
}

static PGresult *
db_execute(struct db *db, const char *sql, int n, const char *const *params)
{
	const char	*name;

	/* Inside a failed transaction PREPARE would fail too: run it plainly. */
	if (PQtransactionStatus(db->conn) != PQTRANS_INERROR &&
	    (name = db_prepared(db, sql, n)) != NULL)
		return PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
	return PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* A statement's result that succeeded: its row count kept, the last error cleared. */
static int
db_succeeded(struct db *db, PGresult *res)
{
	ExecStatusType	 st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return 0;
	db->affected = 0;
	if (PQcmdTuples(res)[0] != '\0')
		(void)util_parse_ll(PQcmdTuples(res), 0, 1LL << 62, &db->affected);
	db->sqlstate[0] = db->errmsg[0] = '\0';
	return 1;
}

/* After CB_ERR_DB_DOWN, a broken connection is closed, its transaction with it. */
static void
db_drop_broken(struct db *db, int rc)
{
	if (rc == CB_ERR_DB_DOWN && db->conn && PQstatus(db->conn) != CONNECTION_OK) {
		PQfinish(db->conn);
		db->conn = NULL;
		db->in_tx = 0;
	}
}

static int
db_run(struct db *db, PGresult **out, const char *sql, int n,
    const char *const *params, int tries)
{
	PGresult	*res;
	int		 rc = CB_ERR_DB_DOWN, attempt;

	*out = NULL;
	for (attempt = 0; attempt < tries; attempt++) {
		if ((rc = db_connect(db)) != CB_OK)
			return rc;
		res = db_execute(db, sql, n, params);
		if (db_succeeded(db, res)) {
			*out = res;
			return CB_OK;
		}
		rc = db_classify(db, res);
		PQclear(res);
		if (rc != CB_ERR_DB_DOWN || db->in_tx || attempt + 1 == tries)
			break;
		/* The connection broke outside a transaction: one retry. */
		PQfinish(db->conn);
		db->conn = NULL;
	}
	db_drop_broken(db, rc);
	return rc;
}

/* db_run wrapped as a result the caller owns. */
static int
db_query_tries(struct db *db, struct db_res **out, const char *sql, int n,
    const char *const *params, int tries)
{
	PGresult	*res;
	int		 rc;

	*out = NULL;
	if ((rc = db_run(db, &res, sql, n, params, tries)) != CB_OK)
		return rc;
	*out = util_malloc(sizeof(**out));
	(*out)->res = res;
	return CB_OK;
}

int
db_query(struct db *db, struct db_res **out, const char *sql, int n,
    const char *const *params)
{
	return db_query_tries(db, out, sql, n, params, 2);
}

int
db_exec(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	int		 rc;

	if ((rc = db_run(db, &res, sql, n, params, 2)) != CB_OK)
		return rc;
	PQclear(res);
	return CB_OK;
}

long long
db_affected(const struct db *db)
{
	return db->affected;
}

int
db_exec_script(struct db *db, const char *sql)
{
	PGresult	*res;
	int		 rc;

	if ((rc = db_connect(db)) != CB_OK)
		return rc;
	res = PQexec(db->conn, sql);
	if (res && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_EMPTY_QUERY)) {
		PQclear(res);
		return CB_OK;
	}
	rc = db_classify(db, res);
	PQclear(res);
	return rc;
}

int
db_begin(struct db *db)
{
	int	 rc;

	if (db->in_tx)
		return CB_ERR_INTERNAL;
	if ((rc = db_exec(db, "BEGIN", 0, NULL)) == CB_OK)
		db->in_tx = 1;
	return rc;
}

int
db_begin_with(struct db *db, const char *setup)
{
	char	 sql[512];
	int	 rc;

	if (db->in_tx)
		return CB_ERR_INTERNAL;
	if (snprintf(sql, sizeof(sql), "BEGIN; %s", setup) >= (int)sizeof(sql))
		return CB_ERR_INTERNAL;
	if ((rc = db_exec_script(db, sql)) != CB_OK) {
		/* The BEGIN may have succeeded before the setup failed. */
		if (db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
			PGresult *r = PQexec(db->conn, "ROLLBACK");

			PQclear(r);
		}
		return rc;
	}
	db->in_tx = 1;
	return CB_OK;
}

/*
 * The answers to two pipelined statements (each result list ends with
 * NULL): the first error is classified into *rc, and the second
 * statement's result is kept in *second when nothing failed.  Returns
 * whether a statement failed.
 */
static int
db_pipeline_read(struct db *db, PGresult **second, int *rc)
{
	PGresult	*res;
	int		 i, failed = 0;

	*second = NULL;
	for (i = 0; i < 2; i++) {
		while ((res = PQgetResult(db->conn)) != NULL) {
			ExecStatusType st = PQresultStatus(res);

			if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
				if (!failed) {
					*rc = db_classify(db, res);
					failed = 1;
				}
			} else if (i == 1 && !failed && *second == NULL &&
			    (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
				*second = res;
				continue;
			}
			PQclear(res);
		}
	}
	return failed;
}

/*
 * Then the sync point itself (no NULL follows it: stop there), and out of
 * pipeline mode.  Returns whether the sync point answered.
 */
static int
db_pipeline_sync(struct db *db)
{
	PGresult	*res;
	int		 synced;

	while ((res = PQgetResult(db->conn)) != NULL &&
	    PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		PQclear(res);
	synced = res != NULL;
	PQclear(res);
	PQexitPipelineMode(db->conn);
	return synced;
}

int
db_exec_commit(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	int		 rc = CB_OK, failed = 0, committed = 0;
	const char	*name;

	if (!db->in_tx || db->conn == NULL)
		return CB_ERR_INTERNAL;
	/* Prepared before entering pipeline mode (PQprepare waits for its answer). */
	name = PQtransactionStatus(db->conn) == PQTRANS_INTRANS ? db_prepared(db, sql, n) : NULL;
	if (PQenterPipelineMode(db->conn) != 1)
		goto fallback;
	if ((name ? PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, 0) :
	    PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0)) != 1 ||
	    PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(db->conn) != 1)
		return db_lost(db, PQerrorMessage(db->conn));
	/* An aborted transaction "commits" as ROLLBACK: nothing was written. */
	if (!(failed = db_pipeline_read(db, &res, &rc)) && res != NULL) {
		if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
			db_seterr(db, "25P02", "the transaction was aborted and rolled back");
			rc = CB_ERR_DB;
			failed = 1;
		} else
			committed = 1;
	}
	PQclear(res);
	(void)db_pipeline_sync(db);
	db->in_tx = 0;
	if (!failed && !committed) {
		/* No answer to COMMIT: whether it committed is unknown, never a success. */
		db_seterr(db, "08006", "the connection ended before COMMIT answered");
		rc = CB_ERR_DB_DOWN;
		failed = 1;
	}
	db_drop_broken(db, rc);	/* in_tx is 0 already */
	if (failed && db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
	}
	return rc;
fallback:
	if ((rc = db_exec(db, sql, n, params)) != CB_OK) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db);
}

int
db_query_once(struct db *db, struct db_res **out, const char *sql, int n,
    const char *const *params)
{
	return db_query_tries(db, out, sql, n, params, 1);
}

int
db_query_setup_once(struct db *db, const char *setup, struct db_res **out, const char *sql,
    int n, const char *const *params)
{
	PGresult	*keep = NULL;
	const char	*name;
	int		 rc = CB_OK, failed = 0, synced = 0;

	*out = NULL;
	if (db->in_tx)
		return CB_ERR_INTERNAL;
	if ((rc = db_connect(db)) != CB_OK)
		return rc;
	/* Prepared before entering pipeline mode (PQprepare waits for its answer). */
	name = PQtransactionStatus(db->conn) == PQTRANS_IDLE ? db_prepared(db, sql, n) : NULL;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    PQsendQueryParams(db->conn, setup, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    (name ? PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, 0) :
	    PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0)) != 1 ||
	    PQpipelineSync(db->conn) != 1)
		return db_lost(db, PQerrorMessage(db->conn));
	failed = db_pipeline_read(db, &keep, &rc);
	/*
	 * The implicit transaction commits at the sync point: without its
	 * answer, whether the statement's effect was kept is unknown, and its
	 * rows are no answer.
	 */
	synced = db_pipeline_sync(db);
	if (!failed && !synced) {
		db_seterr(db, "08006", "the connection ended before the transaction's end answered");
		rc = CB_ERR_DB_DOWN;
		failed = 1;
	}
	db_drop_broken(db, rc);	/* in_tx is 0 already */
	if (failed || keep == NULL) {
		PQclear(keep);
		return failed ? rc : CB_ERR_DB;
	}
	db->sqlstate[0] = db->errmsg[0] = '\0';
	*out = util_malloc(sizeof(**out));
	(*out)->res = keep;
	return CB_OK;
}

int
db_commit(struct db *db)
{
	PGresult	*res;
	int		 rc;

	rc = db_run(db, &res, "COMMIT", 0, NULL, 1);
	db->in_tx = 0;
	if (rc != CB_OK)
		return rc;
	/* An aborted transaction "commits" as ROLLBACK: nothing was written. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		db_seterr(db, "25P02", "the transaction was aborted and rolled back");
		rc = CB_ERR_DB;
	}
	PQclear(res);
	return rc;
}

int
db_rollback(struct db *db)
{
	int	 rc;

	if (!db->in_tx)
		return CB_OK;
	rc = db_exec(db, "ROLLBACK", 0, NULL);
	db->in_tx = 0;
	return rc;
}

unsigned long
db_generation(const struct db *db)
{
	return db->generation;
}

int
db_in_tx(const struct db *db)
{
	return db->in_tx;
}

int
db_ping(struct db *db, double *ms)
{
	double	 t0 = util_now_ms();
	int	 rc;

	rc = db_exec(db, "SELECT 1", 0, NULL);
	if (ms)
		*ms = util_now_ms() - t0;
	return rc;
}

int
db_prepare(struct db *db, const char *sql, int n)
{
	int	 rc;

	if ((rc = db_connect(db)) != CB_OK)
		return rc;
	(void)db_prepared(db, sql, n);
	return PQstatus(db->conn) == CONNECTION_OK ? CB_OK : CB_ERR_DB_DOWN;
}

int
db_send(struct db *db, const char *sql, int n, const char *const *params)
{
	const char	*name;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return db_lost(db, db->conn ? PQerrorMessage(db->conn) : "no connection");
	if ((name = db_prepared_name(db, sql)) != NULL ?
	    PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, 0) != 1 :
	    PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0) != 1)
		return db_lost(db, PQerrorMessage(db->conn));
	return CB_OK;
}

void
db_disconnect(struct db *db)
{
	PQclear(db->pending);
	db->pending = NULL;
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	db->in_tx = 0;
}

int
db_poll(struct db *db, int *ready, struct db_res **out)
{
	PGresult	*res, *last;
	int		 rc;

	*ready = 1;
	*out = NULL;
	if (db->conn == NULL) {
		db_seterr(db, "08006", "no connection");
		return CB_ERR_DB_DOWN;
	}
	if (PQconsumeInput(db->conn) == 0)
		return db_lost(db, PQerrorMessage(db->conn));
	/*
	 * One statement gives one result (an error ends it too), then NULL
	 * once the server is ready again; never wait for either.
	 */
	for (;;) {
		if (PQisBusy(db->conn)) {
			*ready = 0;
			return CB_OK;
		}
		if ((res = PQgetResult(db->conn)) == NULL)
			break;
		PQclear(db->pending);
		db->pending = res;
	}
	last = db->pending;
	db->pending = NULL;
	if (db_succeeded(db, last)) {
		*out = util_malloc(sizeof(**out));
		(*out)->res = last;
		return CB_OK;
	}
	rc = db_classify(db, last);
	PQclear(last);
	db_drop_broken(db, rc);
	return rc;
}

int
db_socket(struct db *db)
{
	if (db_connect(db) != CB_OK)
		return -1;
	return PQsocket(db->conn);
}

int
db_notifies(struct db *db, void (*cb)(const char *, const char *, void *), void *arg)
{
	PGnotify	*n;

	if (db->conn == NULL)
		return CB_ERR_DB_DOWN;
	if (PQconsumeInput(db->conn) == 0) {
		db_seterr(db, "08006", PQerrorMessage(db->conn));
		PQfinish(db->conn);
		db->conn = NULL;
		return CB_ERR_DB_DOWN;
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		if (cb)
			cb(n->relname, n->extra, arg);
		PQfreemem(n);
	}
	return CB_OK;
}

const char *
db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

const char *
db_errmsg(const struct db *db)
{
	return db->errmsg;
}

size_t
db_rows(const struct db_res *r)
{
	return r ? (size_t)PQntuples(r->res) : 0;
}

const char *
db_val(const struct db_res *r, size_t row, int col)
{
	if (r == NULL || row >= (size_t)PQntuples(r->res) || col >= PQnfields(r->res))
		return NULL;
	if (PQgetisnull(r->res, (int)row, col))
		return NULL;
	return PQgetvalue(r->res, (int)row, col);
}

int
db_isnull(const struct db_res *r, size_t row, int col)
{
	return db_val(r, row, col) == NULL;
}

void
db_res_free(struct db_res *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}

int
db_value(struct db *db, const char *sql, int n, const char *const *p, char *out, size_t outsz)
{
	struct db_res	*res = NULL;
	int		 rc;

	if ((rc = db_query(db, &res, sql, n, p)) != CB_OK)
		return rc;
	if (db_rows(res) < 1 || db_val(res, 0, 0) == NULL || db_val(res, 0, 0)[0] == '\0')
		rc = CB_ERR_NOT_FOUND;
	else
		util_strlcpy(out, db_val(res, 0, 0), outsz);
	db_res_free(res);
	return rc;
}

int
db_query_row(struct db *db, struct db_res **out, const char *sql, int n, const char *const *p)
{
	int	 rc;

	*out = NULL;
	rc = db_query(db, out, sql, n, p);
	if (rc == CB_OK && db_rows(*out) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc != CB_OK) {
		db_res_free(*out);
		*out = NULL;
	}
	return rc;
}
