/*
 * keyring: see keyring.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "keyring.h"
#include "log.h"
#include "seal.h"
#include "util.h"

static const char *const keyring_names[SEAL_PURPOSE__COUNT] = {
	[SEAL_PURPOSE_TOKENS] = "tokens",
	[SEAL_PURPOSE_PII] = "pii",
};

int
keyring_purpose(const char *name)
{
	int	 i;

	for (i = 0; i < SEAL_PURPOSE__COUNT; i++)
		if (keyring_names[i] && strcmp(keyring_names[i], name) == 0)
			return i;
	return -1;
}

/* The rows' signature: reload when it changes. */
static int
keyring_sig(struct db *db, char *out, size_t outsz)
{
	struct db_res	*res = NULL;
	int		 rc;

	rc = db_query(db, &res, "SELECT coalesce(string_agg(purpose || ':' || id || ':' || state,"
	    " ',' ORDER BY purpose, id), '') FROM data_keys", 0, NULL);
	if (rc != CB_OK)
		return rc;
	util_strlcpy(out, db_val(res, 0, 0), outsz);
	db_res_free(res);
	return CB_OK;
}

/* A new wrapped key as (purpose, next id), current if `current`. */
static int
keyring_insert(struct seal_keyring *kr, struct db *db, int purpose, int *idout)
{
	struct db_res	*res = NULL;
	unsigned char	 dk[SEAL_KEYBYTES], wrapped[SEAL_WRAPPED_BYTES];
	char		 hex[2 + 2 * SEAL_WRAPPED_BYTES + 1], idtxt[16];
	long long	 id = 1;
	int		 rc;

	rc = db_query(db, &res, "SELECT coalesce(max(id), 0) + 1 FROM data_keys WHERE purpose = $1", 1,
	    (const char *[]){ keyring_names[purpose] });
	if (rc != CB_OK)
		return rc;
	(void)util_parse_ll(db_val(res, 0, 0), 1, SEAL_KEY_ID_MAX, &id);
	db_res_free(res);
	seal_key_generate(dk);
	rc = seal_wrap_key(kr, purpose, (uint32_t)id, dk, wrapped);
	sodium_memzero(dk, sizeof(dk));
	if (rc != CB_OK)
		return rc;
	hex[0] = '\\';
	hex[1] = 'x';
	util_hex(hex + 2, wrapped, sizeof(wrapped));
	snprintf(idtxt, sizeof(idtxt), "%lld", id);
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	rc = db_exec(db, "UPDATE data_keys SET state = 'active' WHERE purpose = $1 AND state = 'current'",
	    1, (const char *[]){ keyring_names[purpose] });
	if (rc == CB_OK)
		rc = db_exec(db, "INSERT INTO data_keys (purpose, id, wrapped, state)"
		    " VALUES ($1, $2, $3::bytea, 'current')", 3,
		    (const char *[]){ keyring_names[purpose], idtxt, hex });
	if (rc == CB_OK)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == CB_OK && idout)
		*idout = (int)id;
	return rc;
}

/* Load root + rows into a fresh keyring; bootstrap missing purposes once. */
static int
keyring_load(struct keyring *k, struct db *db, struct seal_keyring **out, char *sig,
    size_t sigsz, char *err, size_t errsz)
{
	struct seal_keyring *kr = NULL;
	struct db_res	*res = NULL;
	unsigned char	 wrapped[SEAL_WRAPPED_BYTES];
	size_t		 i, n, len;
	long long	 id;
	int		 rc, p, have[SEAL_PURPOSE__COUNT], boot, pass;

	for (pass = 0; pass < 2; pass++) {
		if ((rc = seal_keyring_load(&kr, k->root_file, err, errsz)) != CB_OK)
			return rc;
		if ((rc = keyring_sig(db, sig, sigsz)) != CB_OK)
			goto fail;
		/* A retired key is needed by no value (reseal_retire): never loaded. */
		rc = db_query(db, &res, "SELECT purpose, id, encode(wrapped, 'hex'), state"
		    " FROM data_keys WHERE state <> 'retired' ORDER BY purpose, id", 0, NULL);
		if (rc != CB_OK)
			goto fail;
		memset(have, 0, sizeof(have));
		for (i = 0, n = db_rows(res); i < n; i++) {
			if ((p = keyring_purpose(db_val(res, i, 0))) < 0)
				continue;
			(void)util_parse_ll(db_val(res, i, 1), 1, SEAL_KEY_ID_MAX, &id);
			if (sodium_hex2bin(wrapped, sizeof(wrapped), db_val(res, i, 2),
			    strlen(db_val(res, i, 2)), NULL, &len, NULL) != 0 || len != sizeof(wrapped) ||
			    (rc = seal_keyring_add_wrapped(kr, p, (uint32_t)id, wrapped, len)) != CB_OK) {
				snprintf(err, errsz, "data key %s/%lld does not open with the root key in %s:"
				    " wrong CB_SEAL_ROOT_KEY_FILE?", db_val(res, i, 0), id, k->root_file);
				rc = CB_ERR_CRYPTO;
				goto fail;
			}
			if (strcmp(db_val(res, i, 3), "current") == 0) {
				if ((rc = seal_keyring_set_current(kr, p, (uint32_t)id)) != CB_OK)
					goto fail;
				have[p] = 1;
			}
		}
		db_res_free(res);
		res = NULL;
		for (boot = 0, p = 0; p < SEAL_PURPOSE__COUNT; p++)
			if (!have[p]) {
				/* A fresh database: the first key of this purpose. */
				rc = keyring_insert(kr, db, p, NULL);
				if (rc != CB_OK && rc != CB_ERR_DB_CONFLICT)
					goto fail;
				boot = 1;
			}
		if (!boot) {
			*out = kr;
			return CB_OK;
		}
		seal_keyring_free(kr);
		kr = NULL;
	}
	snprintf(err, errsz, "data keys could not be bootstrapped");
	return CB_ERR_INTERNAL;
fail:
	db_res_free(res);
	seal_keyring_free(kr);
	if (rc != CB_ERR_CRYPTO && rc != CB_ERR_CONFIG && err[0] == '\0')
		snprintf(err, errsz, "cannot load data keys: %s", db_errmsg(db));
	return rc;
}

int
keyring_open(struct keyring *k, struct db *db, const char *root_file, char *err, size_t errsz)
{
	struct seal_keyring	*probe = NULL;
	int			 rc;

	memset(k, 0, sizeof(*k));
	err[0] = '\0';
	k->root_file = util_strdup(root_file);
	/* The root key file itself is checked even when Postgres is away. */
	if ((rc = seal_keyring_load(&probe, root_file, err, errsz)) != CB_OK)
		return rc;
	seal_keyring_free(probe);
	rc = keyring_load(k, db, &k->kr, k->sig, sizeof(k->sig), err, errsz);
	k->checked_ms = util_now_ms();
	return rc;
}

struct seal_keyring *
keyring_get(struct keyring *k, struct db *db)
{
	struct seal_keyring	*kr;
	char			 sig[sizeof(k->sig)], err[256] = "";

	if (k->kr && util_now_ms() - k->checked_ms < KEYRING_CHECK_MS)
		return k->kr;
	k->checked_ms = util_now_ms();
	if (k->kr && (keyring_sig(db, sig, sizeof(sig)) != CB_OK || strcmp(sig, k->sig) == 0))
		return k->kr;		/* unchanged, or cannot tell: keep what we have */
	if (keyring_load(k, db, &kr, sig, sizeof(sig), err, sizeof(err)) != CB_OK) {
		log_kv(LOG_LVL_ERROR, "keyring_reload_failed", "error", err, NULL);
		return k->kr;
	}
	seal_keyring_free(k->kr);
	k->kr = kr;
	util_strlcpy(k->sig, sig, sizeof(k->sig));
	log_kv(LOG_LVL_INFO, "keyring_reloaded", "keys", sig, NULL);
	return k->kr;
}

struct seal_keyring *
keyring_recheck(struct keyring *k, struct db *db)
{
	k->checked_ms = 0;
	return keyring_get(k, db);
}

void
keyring_close(struct keyring *k)
{
	seal_keyring_free(k->kr);
	free(k->root_file);
	memset(k, 0, sizeof(*k));
}

int
keyring_rotate(struct keyring *k, struct db *db, const char *purpose, int *id)
{
	struct seal_keyring	*kr = keyring_get(k, db);
	int			 p = keyring_purpose(purpose), rc;

	if (p < 0)
		return CB_ERR_VALIDATION;
	if (kr == NULL)
		return CB_ERR_UNAVAILABLE;
	if ((rc = keyring_insert(kr, db, p, id)) != CB_OK)
		return rc;
	(void)keyring_recheck(k, db);
	return CB_OK;
}
