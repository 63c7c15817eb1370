/*
 * reseal: see reseal.h.  One row of reseal_cols per sealed column: its
 * purpose, its AAD pieces and the four fixed statements the job runs on it
 * (written out in full, never assembled at run time).  The walk pages by
 * primary key ($1 = the last key seen, NULL for the first page), so a row
 * inserted or updated meanwhile never stalls it, and each write is one
 * autocommitted compare-and-set: a broken connection may retry it safely.
 *
 * The page statements alias their output columns (k, a, v) on purpose: an
 * output column named like the key ("id::text" is called "id") would make
 * ORDER BY id sort the text, not the key that "id > $1" compares, and the
 * walk would skip rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "keyring.h"
#include "log.h"
#include "reseal.h"
#include "seal.h"
#include "util.h"

enum reseal_key { RESEAL_KEY_UUID, RESEAL_KEY_BIGINT, RESEAL_KEY_TEXT };

struct reseal_col {
	const char	*table;
	int		 purpose;
	int		 key_type;	/* enum reseal_key: how a row key is checked */
	const char	*aad_suffix;	/* AAD = table ":" aad key ":" suffix */
	const char	*count_sql;	/* rows holding a value */
	const char	*page_sql;	/* $1 last key or NULL, $2 limit -> key, aad key, sealed */
	const char	*one_sql;	/* $1 key -> aad key, sealed */
	const char	*update_sql;	/* $1 key, $2 old sealed, $3 new sealed */
};

static const struct reseal_col reseal_cols[] = {
	{ "users", SEAL_PURPOSE_PII, RESEAL_KEY_UUID, "email",
	  "SELECT count(*) FROM users WHERE email_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, email_sealed AS v FROM users"
	  " WHERE email_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, email_sealed FROM users WHERE id = $1::uuid",
	  "UPDATE users SET email_sealed = $3 WHERE id = $1::uuid AND email_sealed = $2" },
	{ "refresh_tokens", SEAL_PURPOSE_TOKENS, RESEAL_KEY_UUID, "meta",
	  "SELECT count(*) FROM refresh_tokens WHERE meta_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, meta_sealed AS v FROM refresh_tokens"
	  " WHERE meta_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, meta_sealed FROM refresh_tokens WHERE id = $1::uuid",
	  "UPDATE refresh_tokens SET meta_sealed = $3 WHERE id = $1::uuid AND meta_sealed = $2" },
	{ "signing_keys", SEAL_PURPOSE_TOKENS, RESEAL_KEY_TEXT, "private",
	  "SELECT count(*) FROM signing_keys WHERE private_sealed IS NOT NULL",
	  "SELECT kid AS k, kid AS a, private_sealed AS v FROM signing_keys"
	  " WHERE private_sealed IS NOT NULL AND ($1::text IS NULL OR kid > $1::text)"
	  " ORDER BY kid LIMIT $2::int",
	  "SELECT kid, private_sealed FROM signing_keys WHERE kid = $1",
	  "UPDATE signing_keys SET private_sealed = $3 WHERE kid = $1 AND private_sealed = $2" },
	{ "submissions", SEAL_PURPOSE_PII, RESEAL_KEY_UUID, "data",
	  "SELECT count(*) FROM submissions WHERE data_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, data_sealed AS v FROM submissions"
	  " WHERE data_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, data_sealed FROM submissions WHERE id = $1::uuid",
	  "UPDATE submissions SET data_sealed = $3 WHERE id = $1::uuid AND data_sealed = $2" },
	{ "outbox", SEAL_PURPOSE_PII, RESEAL_KEY_BIGINT, "fields",
	  "SELECT count(*) FROM outbox WHERE payload_sealed IS NOT NULL",
	  "SELECT id::text AS k, coalesce(ref_id::text, '') AS a, payload_sealed AS v FROM outbox"
	  " WHERE payload_sealed IS NOT NULL AND ($1::bigint IS NULL OR id > $1::bigint)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT coalesce(ref_id::text, ''), payload_sealed FROM outbox WHERE id = $1::bigint",
	  "UPDATE outbox SET payload_sealed = $3 WHERE id = $1::bigint AND payload_sealed = $2" },
	{ "commands", SEAL_PURPOSE_PII, RESEAL_KEY_UUID, "value",
	  "SELECT count(*) FROM commands WHERE value_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, value_sealed AS v FROM commands"
	  " WHERE value_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, value_sealed FROM commands WHERE id = $1::uuid",
	  "UPDATE commands SET value_sealed = $3 WHERE id = $1::uuid AND value_sealed = $2" },
	{ "sf_tokens", SEAL_PURPOSE_TOKENS, RESEAL_KEY_TEXT, "token",
	  "SELECT count(*) FROM sf_tokens WHERE token_sealed IS NOT NULL",
	  "SELECT name AS k, name AS a, token_sealed AS v FROM sf_tokens"
	  " WHERE token_sealed IS NOT NULL AND ($1::text IS NULL OR name > $1::text)"
	  " ORDER BY name LIMIT $2::int",
	  "SELECT name, token_sealed FROM sf_tokens WHERE name = $1",
	  "UPDATE sf_tokens SET token_sealed = $3 WHERE name = $1 AND token_sealed = $2" },
	/* Two columns of one table: looked up by table, the first is found;
	 * lib/webhooks seals both itself with the same AAD convention. */
	{ "webhook_endpoints", SEAL_PURPOSE_TOKENS, RESEAL_KEY_UUID, "secret",
	  "SELECT count(*) FROM webhook_endpoints",
	  "SELECT id::text AS k, id::text AS a, secret_sealed AS v FROM webhook_endpoints"
	  " WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2::int",
	  "SELECT id::text, secret_sealed FROM webhook_endpoints WHERE id = $1::uuid",
	  "UPDATE webhook_endpoints SET secret_sealed = $3 WHERE id = $1::uuid AND secret_sealed = $2" },
	{ "webhook_endpoints", SEAL_PURPOSE_TOKENS, RESEAL_KEY_UUID, "secret_prev",
	  "SELECT count(*) FROM webhook_endpoints WHERE secret_prev_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, secret_prev_sealed AS v FROM webhook_endpoints"
	  " WHERE secret_prev_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, secret_prev_sealed FROM webhook_endpoints WHERE id = $1::uuid",
	  "UPDATE webhook_endpoints SET secret_prev_sealed = $3 WHERE id = $1::uuid"
	  " AND secret_prev_sealed = $2" },
	/* The same for call sources: lib/calls seals both with this convention. */
	{ "call_sources", SEAL_PURPOSE_TOKENS, RESEAL_KEY_UUID, "secret",
	  "SELECT count(*) FROM call_sources",
	  "SELECT id::text AS k, id::text AS a, secret_sealed AS v FROM call_sources"
	  " WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2::int",
	  "SELECT id::text, secret_sealed FROM call_sources WHERE id = $1::uuid",
	  "UPDATE call_sources SET secret_sealed = $3 WHERE id = $1::uuid AND secret_sealed = $2" },
	{ "call_sources", SEAL_PURPOSE_TOKENS, RESEAL_KEY_UUID, "secret_prev",
	  "SELECT count(*) FROM call_sources WHERE secret_prev_sealed IS NOT NULL",
	  "SELECT id::text AS k, id::text AS a, secret_prev_sealed AS v FROM call_sources"
	  " WHERE secret_prev_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)"
	  " ORDER BY id LIMIT $2::int",
	  "SELECT id::text, secret_prev_sealed FROM call_sources WHERE id = $1::uuid",
	  "UPDATE call_sources SET secret_prev_sealed = $3 WHERE id = $1::uuid"
	  " AND secret_prev_sealed = $2" },
	/* A tenant's Salesforce keys: both slots share the AAD (a promotion moves the text). */
	{ "sf_connections", SEAL_PURPOSE_TOKENS, RESEAL_KEY_BIGINT, "key",
	  "SELECT count(*) FROM sf_connections",
	  "SELECT org_id::text AS k, org_id::text AS a, key_sealed AS v FROM sf_connections"
	  " WHERE ($1::bigint IS NULL OR org_id > $1::bigint) ORDER BY org_id LIMIT $2::int",
	  "SELECT org_id::text, key_sealed FROM sf_connections WHERE org_id = $1::bigint",
	  "UPDATE sf_connections SET key_sealed = $3 WHERE org_id = $1::bigint AND key_sealed = $2" },
	{ "sf_connections", SEAL_PURPOSE_TOKENS, RESEAL_KEY_BIGINT, "key",
	  "SELECT count(*) FROM sf_connections WHERE next_key_sealed IS NOT NULL",
	  "SELECT org_id::text AS k, org_id::text AS a, next_key_sealed AS v FROM sf_connections"
	  " WHERE next_key_sealed IS NOT NULL AND ($1::bigint IS NULL OR org_id > $1::bigint)"
	  " ORDER BY org_id LIMIT $2::int",
	  "SELECT org_id::text, next_key_sealed FROM sf_connections WHERE org_id = $1::bigint",
	  "UPDATE sf_connections SET next_key_sealed = $3 WHERE org_id = $1::bigint"
	  " AND next_key_sealed = $2" },
};

#define RESEAL_NCOLS	(sizeof(reseal_cols) / sizeof(reseal_cols[0]))
#define RESEAL_KEY_MAX	255u

static const struct reseal_col *
reseal_col(const char *table)
{
	size_t	 i;

	if (table == NULL)
		return NULL;
	for (i = 0; i < RESEAL_NCOLS; i++)
		if (strcmp(reseal_cols[i].table, table) == 0)
			return &reseal_cols[i];
	return NULL;
}

int
reseal_purpose(const char *table)
{
	const struct reseal_col	*c = reseal_col(table);

	return c ? c->purpose : -1;
}

static int
reseal_col_aad(const struct reseal_col *c, const char *key, char *out, size_t outsz)
{
	int	 n;

	if (key == NULL || key[0] == '\0' || outsz == 0)
		return CB_ERR_VALIDATION;
	n = snprintf(out, outsz, "%s:%s:%s", c->table, key, c->aad_suffix);
	if (n < 0 || (size_t)n >= outsz || (size_t)n > SEAL_MAX_AAD)
		return CB_ERR_VALIDATION;
	return CB_OK;
}

int
reseal_aad(const char *table, const char *key, char *out, size_t outsz)
{
	const struct reseal_col	*c = reseal_col(table);

	if (c == NULL)
		return CB_ERR_VALIDATION;
	return reseal_col_aad(c, key, out, outsz);
}

/*
 * Seal and open by column: a table with two sealed columns (a secret and
 * the one a rotation kept) binds each to its own AAD suffix.
 */
static int
reseal_col_seal(const struct seal_keyring *kr, const struct reseal_col *c, const char *key,
    const void *plain, size_t n, struct buf *out)
{
	char	 aad[SEAL_MAX_AAD + 1];
	int	 rc;

	if ((rc = reseal_col_aad(c, key, aad, sizeof(aad))) != CB_OK)
		return rc;
	return seal_seal_text(kr, c->purpose, plain, n, aad, out);
}

static int
reseal_col_open(const struct seal_keyring *kr, const struct reseal_col *c, const char *key,
    const char *text, struct buf *plain)
{
	char	 aad[SEAL_MAX_AAD + 1];
	int	 rc;

	if ((rc = reseal_col_aad(c, key, aad, sizeof(aad))) != CB_OK)
		return rc;
	if (text == NULL)
		return CB_ERR_CRYPTO;
	return seal_open_text(kr, c->purpose, text, aad, plain);
}

int
reseal_seal_value(const struct seal_keyring *kr, const char *table, const char *key,
    const void *plain, size_t n, struct buf *out)
{
	const struct reseal_col	*c = reseal_col(table);

	if (c == NULL)
		return CB_ERR_VALIDATION;
	return reseal_col_seal(kr, c, key, plain, n, out);
}

int
reseal_open_value(const struct seal_keyring *kr, const char *table, const char *key,
    const char *text, struct buf *plain)
{
	const struct reseal_col	*c = reseal_col(table);

	if (c == NULL)
		return CB_ERR_VALIDATION;
	return reseal_col_open(kr, c, key, text, plain);
}

/* A row key of the column's type, so a typo never reaches SQL as a cast error. */
static int
reseal_key_ok(const struct reseal_col *c, const char *key)
{
	long long	 v;

	if (key == NULL || key[0] == '\0' || strlen(key) > RESEAL_KEY_MAX)
		return 0;
	switch (c->key_type) {
	case RESEAL_KEY_UUID:
		return util_uuid_ok(key);
	case RESEAL_KEY_BIGINT:
		return util_parse_ll(key, 1, INT64_MAX, &v) == CB_OK;
	default:
		return 1;
	}
}

int
reseal_read(struct db *db, struct keyring *k, const char *table, const char *key,
    struct buf *plain, unsigned long *key_id)
{
	const struct reseal_col	*c = reseal_col(table);
	struct seal_keyring	*kr;
	struct db_res		*res = NULL;
	uint32_t		 id;
	int			 rc;

	if (c == NULL || !reseal_key_ok(c, key))
		return CB_ERR_VALIDATION;
	if ((rc = db_query(db, &res, c->one_sql, 1, (const char *[]){ key })) != CB_OK)
		return rc;
	if (db_rows(res) != 1 || db_isnull(res, 0, 1)) {
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	if (key_id != NULL && seal_key_id_text(db_val(res, 0, 1), &id) == CB_OK)
		*key_id = id;
	if ((kr = keyring_get(k, db)) == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	rc = reseal_open_value(kr, c->table, db_val(res, 0, 0), db_val(res, 0, 1), plain);
	/* A key id this process has not loaded yet: look once more, then judge. */
	if (rc == CB_ERR_CRYPTO) {
		if ((kr = keyring_recheck(k, db)) != NULL)
			rc = reseal_open_value(kr, c->table, db_val(res, 0, 0), db_val(res, 0, 1),
			    plain);
	}
out:
	db_res_free(res);
	return rc;
}

struct reseal_tally {
	long	 done;		/* rows walked */
	long	 resealed;	/* written under the current key */
	long	 current;	/* already under the current key */
	long	 raced;		/* changed by someone else meanwhile: theirs kept */
	long	 failed;	/* did not open: left as they are */
};

/*
 * One row: skip it if it is under the current key, else open, seal under the
 * current key and compare-and-set.  A value that does not open gets one
 * forced look at data_keys first (a key made moments ago elsewhere).
 */
static int
reseal_one(struct db *db, struct keyring *k, const struct reseal_col *c, const char *key,
    const char *aadkey, const char *old, struct reseal_tally *t)
{
	struct seal_keyring	*kr;
	struct buf		 plain, fresh;
	uint32_t		 cur, id;
	int			 rc, tries;

	buf_init(&plain, SEAL_MAX_PLAIN);
	buf_init(&fresh, RESEAL_TEXT_MAX);
	for (tries = 0; ; tries++) {
		/* Cheap: the keyring looks at data_keys at most every few seconds. */
		if ((kr = keyring_get(k, db)) == NULL) {
			rc = CB_ERR_UNAVAILABLE;
			goto out;
		}
		if ((rc = seal_keyring_current(kr, c->purpose, &cur)) != CB_OK)
			goto out;
		if (seal_key_id_text(old, &id) == CB_OK && id == cur) {
			t->current++;
			goto out;
		}
		if (reseal_col_open(kr, c, aadkey, old, &plain) == CB_OK)
			break;
		if (tries > 0) {
			/* The key only, never the value: it is the operator's lead. */
			log_kv(LOG_LVL_ERROR, "reseal_unopenable", "table", c->table, "key", key,
			    NULL);
			t->failed++;
			goto out;
		}
		k->checked_ms = 0;
	}
	if ((rc = reseal_col_seal(kr, c, aadkey, plain.data, plain.len, &fresh)) != CB_OK)
		goto out;
	rc = db_exec(db, c->update_sql, 3, (const char *[]){ key, old, buf_cstr(&fresh) });
	if (rc != CB_OK)
		goto out;
	if (db_affected(db) == 1)
		t->resealed++;
	else
		t->raced++;
out:
	buf_wipe(&plain);
	buf_free(&fresh);
	return rc;
}

int
reseal_walk(struct db *db, const char *count_sql, const char *page_sql, int batch,
    const char *label, reseal_progress_fn progress, void *ud, reseal_row_fn fn, void *arg,
    long *done)
{
	struct db_res	*res = NULL;
	char		 lim[16], *last = NULL;
	long long	 total = 0;
	size_t		 i, n;
	int		 rc;

	snprintf(lim, sizeof(lim), "%d", batch);
	if ((rc = db_query(db, &res, count_sql, 0, NULL)) != CB_OK)
		goto out;
	(void)util_parse_ll(db_val(res, 0, 0), 0, INT64_MAX, &total);
	db_res_free(res);
	res = NULL;
	for (;;) {
		if ((rc = db_query(db, &res, page_sql, 2, (const char *[]){ last, lim })) != CB_OK)
			goto out;
		for (i = 0, n = db_rows(res); i < n; i++) {
			(*done)++;
			if ((rc = fn(res, i, arg)) != CB_OK)
				goto out;
		}
		if (n > 0) {
			free(last);
			last = util_strdup(db_val(res, n - 1, 0));
		}
		db_res_free(res);
		res = NULL;
		if (progress)
			progress(label, *done, *done > total ? *done : (long)total, ud);
		if (n < (size_t)batch)
			break;
	}
out:
	db_res_free(res);
	free(last);
	return rc;
}

struct reseal_walk_arg {
	struct db		*db;
	struct keyring		*k;
	const struct reseal_col	*c;
	struct reseal_tally	*t;
};

static int
reseal_row(const struct db_res *res, size_t i, void *arg)
{
	struct reseal_walk_arg	*w = arg;

	return reseal_one(w->db, w->k, w->c, db_val(res, i, 0), db_val(res, i, 1),
	    db_val(res, i, 2), w->t);
}

static int
reseal_table(struct db *db, struct keyring *k, const struct reseal_col *c, int batch,
    reseal_progress_fn progress, void *ud, struct reseal_tally *t)
{
	struct reseal_walk_arg	 w = { db, k, c, t };
	char			 num[4][24];
	int			 rc;

	if ((rc = reseal_walk(db, c->count_sql, c->page_sql, batch, c->table, progress, ud,
	    reseal_row, &w, &t->done)) != CB_OK)
		return rc;
	snprintf(num[0], sizeof(num[0]), "%ld", t->resealed);
	snprintf(num[1], sizeof(num[1]), "%ld", t->current);
	snprintf(num[2], sizeof(num[2]), "%ld", t->raced);
	snprintf(num[3], sizeof(num[3]), "%ld", t->failed);
	log_kv(t->failed ? LOG_LVL_WARN : LOG_LVL_INFO, "reseal_table", "table", c->table,
	    "resealed", num[0], "current", num[1], "raced", num[2], "failed", num[3], NULL);
	return CB_OK;
}

int
reseal_run(struct db *db, struct keyring *k, int batch, reseal_progress_fn progress, void *ud)
{
	struct reseal_tally	 t;
	size_t			 i;
	long			 failed = 0, sealed = 0;
	int			 rc;

	if (batch <= 0)
		batch = RESEAL_BATCH_DEFAULT;
	if (batch > RESEAL_BATCH_MAX)
		batch = RESEAL_BATCH_MAX;
	for (i = 0; i < RESEAL_NCOLS; i++) {
		memset(&t, 0, sizeof(t));
		rc = reseal_table(db, k, &reseal_cols[i], batch, progress, ud, &t);
		failed += t.failed;
		if (rc != CB_OK)
			return rc;
	}
	/* What predates sealing: sealed now, under the current key. */
	if ((rc = reseal_clear_commands(db, k, batch, progress, ud, &sealed)) != CB_OK)
		return rc;
	return failed > 0 ? CB_ERR_CRYPTO : CB_OK;
}

/* The values of one column not under `cur`, walked like reseal_table. */
static int
reseal_count_stale(struct db *db, const struct reseal_col *c, uint32_t cur, long *stale)
{
	struct db_res	*res = NULL;
	char		*last = NULL, lim[16];
	uint32_t	 id;
	size_t		 i, n;
	int		 rc;

	snprintf(lim, sizeof(lim), "%d", RESEAL_BATCH_MAX);
	for (;;) {
		if ((rc = db_query(db, &res, c->page_sql, 2, (const char *[]){ last, lim })) != CB_OK)
			break;
		for (i = 0, n = db_rows(res); i < n; i++)
			if (seal_key_id_text(db_val(res, i, 2), &id) != CB_OK || id != cur)
				(*stale)++;
		if (n > 0) {
			free(last);
			last = util_strdup(db_val(res, n - 1, 0));
		}
		db_res_free(res);
		res = NULL;
		if (n < (size_t)RESEAL_BATCH_MAX)
			break;
	}
	free(last);
	return rc;
}

int
reseal_retire(struct db *db, struct keyring *k, long *retired, long *stale)
{
	static const char *const names[SEAL_PURPOSE__COUNT] = {
		[SEAL_PURPOSE_TOKENS] = "tokens", [SEAL_PURPOSE_PII] = "pii" };
	struct seal_keyring	*kr;
	uint32_t		 cur[SEAL_PURPOSE__COUNT];
	long			 left[SEAL_PURPOSE__COUNT] = { 0 };
	char			 num[12];
	size_t			 i;
	int			 p, rc;

	*retired = 0;
	*stale = 0;
	if ((kr = keyring_recheck(k, db)) == NULL)
		return CB_ERR_UNAVAILABLE;
	for (p = 0; p < SEAL_PURPOSE__COUNT; p++)
		if ((rc = seal_keyring_current(kr, p, &cur[p])) != CB_OK)
			return rc;
	for (i = 0; i < RESEAL_NCOLS; i++)
		if ((rc = reseal_count_stale(db, &reseal_cols[i], cur[reseal_cols[i].purpose],
		    &left[reseal_cols[i].purpose])) != CB_OK)
			return rc;
	for (p = 0; p < SEAL_PURPOSE__COUNT; p++) {
		*stale += left[p];
		if (left[p] > 0 || names[p] == NULL)
			continue;
		/* Only keys older than the one every value was found under. */
		snprintf(num, sizeof(num), "%u", cur[p]);
		if ((rc = db_exec(db, "UPDATE data_keys SET state = 'retired'"
		    " WHERE purpose = $1 AND state = 'active' AND id < $2::int", 2,
		    (const char *[]){ names[p], num })) != CB_OK)
			return rc;
		*retired += db_affected(db);
	}
	return CB_OK;
}
