/*
 * testdb: one-line SQL for integration suites, straight against the
 * stack's Postgres (CB_PG_DSN) as the application's role.  Every call
 * asserts that its statement ran; values come back as text ("" for SQL
 * NULL).  A connection per call unless the caller holds one.
 */
#ifndef CB_TEST_TESTDB_H
#define CB_TEST_TESTDB_H

#include <stddef.h>

#include "db.h"

/* A connection, connected now (fails the test if it cannot be). */
struct db *testdb_open(void);
/* Run one statement, result ignored. */
void	 testdb_exec(const char *q, int n, const char *const *params);
/* The first value of the first row into out; "" when NULL or no row at all. */
void	 testdb_val(char *out, size_t outsz, const char *q, int n, const char *const *params);
/* The same as a number (0 when "" or no row). */
long	 testdb_long(const char *q, int n, const char *const *params);
/*
 * Exactly one row (asserted), its first value into out ("" when NULL), on
 * db, or on a connection of its own when db is NULL.
 */
void	 testdb_one(struct db *db, char *out, size_t outsz, const char *q, int n,
	    const char *const *params);

/*
 * The stack's keyring, opened by the test (root) from a root-owned copy of
 * the root key made under the stack's state directory (the service's file
 * belongs to the service user); testdb_keys_close closes it and removes
 * the copy.  One open at a time per test process.
 */
struct keyring;
void	 testdb_keys_open(struct keyring *, struct db *);
void	 testdb_keys_close(struct keyring *);
/*
 * The sealed value of `table` that `sql` (one parameter: key) reads, opened
 * for the row whose AAD key is `key` and parsed as JSON: the caller frees it.
 */
struct cJSON;
struct cJSON *testdb_unseal_json(const char *table, const char *key, const char *sql);

/* A client of the stack's Redis (CB_REDIS_HOST, _PORT, _PASSWORD); kv_close it. */
struct kv;
struct kv *testdb_kv_open(void);
/*
 * The remaining lifetime in ms of the contact cache's entry of (org, an
 * E.164 number) (lib/ccache.h), -2 when there is none; its key into key
 * when key is not NULL.
 */
long long testdb_ccache_pttl(const char *org, const char *e164, char *key, size_t keysz);

#endif
