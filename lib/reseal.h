/*
 * reseal: the catalogue of sealed columns, and the job that moves every
 * sealed value onto its purpose's current data key while the service runs.
 *
 * Every sealed value at rest is bound by its AAD to its table, its row and
 * its column (lib/seal.h); this table is the one place the conventions live:
 *
 *   table           column          purpose  AAD
 *   users           email_sealed    pii      users:<id>:email
 *   refresh_tokens  meta_sealed     tokens   refresh_tokens:<id>:meta
 *   signing_keys    private_sealed  tokens   signing_keys:<kid>:private
 *   submissions     data_sealed     pii      submissions:<id>:data
 *   outbox          payload_sealed  pii      outbox:<ref_id>:fields
 *   commands        value_sealed    pii      commands:<id>:value
 *   sf_tokens       token_sealed    tokens   sf_tokens:<name>:token
 *   call_sources    secret_sealed   tokens   call_sources:<id>:secret
 *                   secret_prev_sealed       call_sources:<id>:secret_prev
 *
 * The outbox is the one table whose values are bound to another column
 * than its primary key: to the submission id (ref_id), known before the
 * row's own identity is.  Text format everywhere ("v1." + base64url).
 *
 * Guarantees of reseal_run: it walks each table in primary-key order in
 * batches (keyset pagination, no long transaction, no lock held between
 * statements), re-seals only values whose key id is not the purpose's
 * current id, and writes each one back with a compare-and-set on the old
 * sealed text, so a concurrent writer always wins and nothing is lost (its
 * value, sealed under whatever key it used, is picked up by a later run).
 * A value that does not open (copied from another row, altered, or under
 * a key that is not loaded) is left untouched, logged with its table and
 * row key (never its content), and makes the run end with CB_ERR_CRYPTO
 * after every other row was handled.  Plaintext is wiped after use.
 */
#ifndef CB_RESEAL_H
#define CB_RESEAL_H

#include <stddef.h>

#include "seal.h"

struct buf;
struct db;
struct db_res;
struct keyring;
struct seal_keyring;

/* A sealed value of SEAL_MAX_PLAIN bytes in the text format, with room. */
#define RESEAL_TEXT_MAX		(2u * SEAL_MAX_PLAIN + 256u)
#define RESEAL_BATCH_DEFAULT	100
#define RESEAL_BATCH_MAX	10000

/* Progress after each batch of a table: rows walked so far, rows at start. */
typedef void	(*reseal_progress_fn)(const char *table, long done, long total, void *ud);

/*
 * Re-seal every stale value of every sealed column (the table above, in
 * that order).  batch <= 0 means RESEAL_BATCH_DEFAULT; larger than
 * RESEAL_BATCH_MAX is capped.  progress may be NULL.  Returns CB_OK,
 * CB_ERR_CRYPTO when some values did not open (the rest is done), or the
 * error that stopped it (CB_ERR_DB_DOWN, CB_ERR_DB, CB_ERR_UNAVAILABLE when
 * the keyring cannot be loaded, CB_ERR_CONFIG when a purpose has no current
 * key).
 */
int	 reseal_run(struct db *, struct keyring *, int batch, reseal_progress_fn progress,
	    void *ud)
	    __attribute__((warn_unused_result));

/* One row of a walk (its columns in res, row i); CB_OK to go on. */
typedef int	(*reseal_row_fn)(const struct db_res *res, size_t i, void *arg);

/*
 * The walk reseal_run makes of each column: the rows count_sql counts
 * (one number, for progress) and page_sql pages ($1 the last key seen or
 * NULL, $2 the batch; the key in column 0), in key order, fn on each; a
 * progress call under `label` after each batch; *done counts the rows.
 * Stops at fn's first error, or the database's.
 */
int	 reseal_walk(struct db *, const char *count_sql, const char *page_sql, int batch,
	    const char *label, reseal_progress_fn progress, void *ud, reseal_row_fn fn,
	    void *arg, long *done)
	    __attribute__((warn_unused_result));

/*
 * Part of reseal_run, after the catalogue: seal the command values written
 * in clear before sealing existed (sql/0024), of finished commands only
 * (lib/reseal_clear.c says why); *sealed counts them.  Errors as
 * reseal_run's.
 */
int	 reseal_clear_commands(struct db *, struct keyring *, int batch,
	    reseal_progress_fn progress, void *ud, long *sealed)
	    __attribute__((warn_unused_result));

/*
 * The AAD of `table`'s sealed column for the row whose AAD key is `key`
 * (the primary key; for the outbox, the submission id).  CB_ERR_VALIDATION
 * for an unknown table, an empty key or an AAD longer than outsz - 1.
 */
int	 reseal_aad(const char *table, const char *key, char *out, size_t outsz)
	    __attribute__((warn_unused_result));
/* The seal purpose of `table`'s sealed column; -1 for an unknown table. */
int	 reseal_purpose(const char *table);

/*
 * Seal plaintext for `table`'s column of row `key` (purpose and AAD from
 * the table), appending the text format to out; and open such a value,
 * appending the plaintext to `plain` (wipe it with buf_wipe).  Errors as
 * seal_seal_text / seal_open_text, plus CB_ERR_VALIDATION as reseal_aad.
 * For a table with more than one sealed column (webhook_endpoints: secret
 * and secret_prev) these name its first; reseal itself binds each column
 * to its own AAD.
 */
int	 reseal_seal_value(const struct seal_keyring *, const char *table, const char *key,
	    const void *plain, size_t n, struct buf *out)
	    __attribute__((warn_unused_result));
int	 reseal_open_value(const struct seal_keyring *, const char *table, const char *key,
	    const char *text, struct buf *plain)
	    __attribute__((warn_unused_result));

/*
 * Read and open the sealed value of one row, by its primary key (for the
 * outbox: its id; the AAD key is read from the row).  CB_ERR_NOT_FOUND if
 * there is no such row or its value is NULL, CB_ERR_VALIDATION for an
 * unknown table or a malformed key, CB_ERR_CRYPTO if it does not open,
 * CB_ERR_UNAVAILABLE if the keyring cannot be loaded.  *key_id (optional)
 * receives the key id the value names, when it is well-formed.
 */
int	 reseal_read(struct db *, struct keyring *, const char *table, const char *key,
	    struct buf *plain, unsigned long *key_id)
	    __attribute__((warn_unused_result));

/*
 * Retire the data keys nothing needs any more, after a reseal_run that
 * ended CB_OK.  Every sealed value of every column is looked at (its key
 * id only; nothing is opened); for each purpose whose values are all under
 * its current key, the purpose's other keys become `retired`, and no
 * keyring loads a retired key again (lib/keyring.h), so their material
 * leaves every process within KEYRING_CHECK_MS.  A purpose with a value
 * still under an older key (a writer that raced the reseal) keeps its keys:
 * *stale counts those values, and a second reseal then retire finishes.
 * *retired counts the keys retired.
 */
int	 reseal_retire(struct db *, struct keyring *, long *retired, long *stale)
	    __attribute__((warn_unused_result));

#endif
