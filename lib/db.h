/*
 * db: the Postgres wrapper.  One persistent connection per process, opened
 * lazily and re-opened after a failure; parameterized statements only (text
 * parameters, NULL for SQL NULL); explicit transactions.
 *
 * A statement that fails because the connection broke outside a transaction
 * is retried once on a fresh connection; inside a transaction the error goes
 * back to the caller, who rolls back and may retry the whole transaction.
 * Hence: a non-idempotent write belongs inside a transaction, so that a
 * broken connection can never apply it twice.
 * Errors: CB_ERR_DB_DOWN (unreachable), CB_ERR_DB_CONFLICT (unique violation,
 * serialization failure, deadlock), CB_ERR_DB_BUSY (the server gave up
 * waiting: statement_timeout 57014 or lock_timeout 55P03; never retried
 * here, since waiting again would double the cost of a hung dependency),
 * CB_ERR_DB (anything else).
 */
#ifndef CB_DB_H
#define CB_DB_H

#include <stddef.h>

/* A timestamp column as the API writes it: UTC, seconds, "Z". */
#define DB_TS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct db;
struct db_res;

struct db	*db_open(const char *dsn);
void		 db_close(struct db *);
/*
 * Session timeouts, in milliseconds (0 = the server's default), set on
 * every connection this handle makes, right after it connects: a statement
 * running longer than statement_ms, or waiting for a lock longer than
 * lock_ms, fails with CB_ERR_DB_BUSY instead of holding its caller.  A
 * transaction may still raise or lower them with SET LOCAL.
 */
void		 db_set_timeouts(struct db *, long statement_ms, long lock_ms);
/* Connect now (or check the connection); CB_ERR_DB_DOWN if unreachable. */
int		 db_connect(struct db *);
int		 db_ping(struct db *, double *ms);

int	 db_query(struct db *, struct db_res **, const char *sql,
	    int nparams, const char *const *params);
int	 db_exec(struct db *, const char *sql, int nparams,
	    const char *const *params);
/*
 * The first column of the first row of a statement, copied into `out` (a
 * NULL or "" value counts as none): CB_ERR_NOT_FOUND when there is none.
 */
int	 db_value(struct db *, const char *sql, int nparams, const char *const *params,
	    char *out, size_t outsz);
/*
 * A statement that answers one row or none: CB_ERR_NOT_FOUND (and *out
 * NULL) when it answered none, the row in *out otherwise.
 */
int	 db_query_row(struct db *, struct db_res **out, const char *sql, int nparams,
	    const char *const *params);
/* Rows affected by the last db_exec. */
long long db_affected(const struct db *);
/*
 * Run a trusted multi-statement script (migrations only: it takes no
 * parameters and must never carry outside input).
 */
int	 db_exec_script(struct db *, const char *sql);

int	 db_begin(struct db *);
/* BEGIN followed by trusted SET LOCAL statements, in one round trip. */
int	 db_begin_with(struct db *, const char *setup);
/*
 * One parameterized statement and COMMIT sent together (libpq pipeline
 * mode): one round trip.  On any failure the transaction is rolled back.
 */
int	 db_exec_commit(struct db *, const char *sql, int nparams, const char *const *params);
/*
 * A single statement run at most once: never retried on a broken
 * connection, so a non-idempotent write outside a transaction is safe (a
 * single statement is its own transaction).
 */
int	 db_query_once(struct db *, struct db_res **, const char *sql,
	    int nparams, const char *const *params);
/*
 * A trusted setup statement (e.g. SELECT set_config('lock_timeout',
 * '300ms', true)) and one parameterised statement sent together in
 * pipeline mode: one round trip, one implicit transaction (the setup's
 * transaction-local settings hold for the statement; a failure of either
 * rolls both back).  Run at most once, like db_query_once.  Outside an
 * explicit transaction only.
 */
int	 db_query_setup_once(struct db *, const char *setup, struct db_res **,
	    const char *sql, int nparams, const char *const *params);
int	 db_commit(struct db *);
int	 db_rollback(struct db *);
int	 db_in_tx(const struct db *);
/*
 * How many connections this handle has made: a change tells a caller that
 * the session (its advisory locks, its backend pid) is a new one.
 */
unsigned long db_generation(const struct db *);

/* LISTEN support: the socket to poll, and draining pending notifications. */
/*
 * Asynchronous use, for an event loop (the tab channel): one statement at a
 * time, on a connection db_connect made.  db_send sends it and returns at
 * once (unprepared: one Parse per run; the write itself waits only while
 * the server's receive buffer is full) and never reconnects: on a broken
 * connection it answers CB_ERR_DB_DOWN and drops it.  db_poll reads what
 * the socket holds: *ready 0 while the answer is incomplete (wait for the
 * socket to be readable, call again); *ready 1 with the statement's result
 * code (lib/errs, as db_query's) and, on CB_OK, its rows in *out.  A
 * connection with a statement outstanding takes no other call but
 * db_poll, db_close and db_socket.
 */
int	 db_send(struct db *, const char *sql, int nparams, const char *const *params);
/*
 * Prepare sql on the connection now (one round trip, waited for), so
 * db_send runs it by name; CB_OK also when the cache is full (it then
 * runs unprepared).
 */
int	 db_prepare(struct db *, const char *sql, int nparams);
/* Drop the connection (whatever it was doing); the next use reconnects. */
void	 db_disconnect(struct db *);
int	 db_poll(struct db *, int *ready, struct db_res **out);

int	 db_socket(struct db *);
int	 db_notifies(struct db *, void (*)(const char *chan, const char *payload, void *), void *);

/* SQLSTATE and message of the last failure ("" when none). */
const char *db_sqlstate(const struct db *);
const char *db_errmsg(const struct db *);

size_t	 db_rows(const struct db_res *);
const char *db_val(const struct db_res *, size_t row, int col);
int	 db_isnull(const struct db_res *, size_t row, int col);
void	 db_res_free(struct db_res *);

#endif
