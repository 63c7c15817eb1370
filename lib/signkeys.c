/*
 * signkeys: see signkeys.h.  The private half of a key is its 32-byte
 * Ed25519 seed, sealed; on opening, the key pair is derived again and its
 * public half must equal the row's public_key, so a row whose columns were
 * mixed up can never sign.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jwt.h"
#include "log.h"
#include "seal.h"
#include "signkeys.h"
#include "util.h"

#define SIGNKEYS_SEEDBYTES	crypto_sign_SEEDBYTES	/* 32 */

/* Every writer of signing_keys takes this lock for its transaction. */
static const char signkeys_lock_sql[] =
    "SELECT pg_advisory_xact_lock(hashtext('cb:signing_keys'))";

/* The keys verifiers trust: next, active, retiring before retire_after. */
static const char signkeys_trusted_sql[] =
    "SELECT kid, state, encode(public_key, 'hex') FROM signing_keys"
    " WHERE " SIGNKEYS_TRUSTED_WHERE
    " ORDER BY created_at DESC, kid LIMIT 16";

struct signkeys_key {
	char		 kid[JWT_KID_BUFSZ];
	char		 state[12];
	unsigned char	 pk[JWT_PUBLICKEYBYTES];
};

/* This process's cache (see the header for why it lives here). */
static struct {
	struct signkeys_key	 keys[SIGNKEYS_MAX];
	size_t			 n;
	char			 signer[JWT_KID_BUFSZ];	/* the kid sk belongs to */
	unsigned char		 sk[JWT_SECRETKEYBYTES];
	int			 have_sk;
	int			 loaded;
	double			 loaded_ms;
	int			 missed;
	double			 miss_ms;
} signkeys_cache;

void
signkeys_kid_new(char kid[JWT_KID_BUFSZ])
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 day[16], rnd[16];

	if (gmtime_r(&now, &tm) == NULL || strftime(day, sizeof(day), "%Y%m%d", &tm) != 8)
		util_strlcpy(day, "00000000", sizeof(day));
	util_random_token(rnd, sizeof(rnd), 6);		/* 6 bytes -> 8 characters */
	snprintf(kid, JWT_KID_BUFSZ, "k-%s-%s", day, rnd);
}

static void
signkeys_aad(const char *kid, char *aad, size_t aadsz)
{
	snprintf(aad, aadsz, "signing_keys:%s:private", kid);
}

/* Insert a new key in `state` ("active" or "next"); the caller holds the lock. */
static int
signkeys_create(struct db *db, const struct seal_keyring *kr, const char *state,
    char kid[JWT_KID_BUFSZ])
{
	unsigned char	 seed[SIGNKEYS_SEEDBYTES], pk[JWT_PUBLICKEYBYTES];
	unsigned char	 sk[JWT_SECRETKEYBYTES];
	char		 aad[JWT_KID_BUFSZ + 32], pkhex[2 + 2 * JWT_PUBLICKEYBYTES + 1];
	struct buf	 sealed;
	int		 rc;

	buf_init(&sealed, 4096);
	signkeys_kid_new(kid);
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	signkeys_aad(kid, aad, sizeof(aad));
	if ((rc = seal_seal_text(kr, SEAL_PURPOSE_TOKENS, seed, sizeof(seed), aad,
	    &sealed)) != CB_OK)
		goto out;
	pkhex[0] = '\\';
	pkhex[1] = 'x';
	util_hex(pkhex + 2, pk, sizeof(pk));
	rc = db_exec(db, "INSERT INTO signing_keys (kid, state, public_key, private_sealed,"
	    " activated_at) VALUES ($1, $2, $3::bytea, $4,"
	    " CASE WHEN $2 = 'active' THEN now() END)", 4,
	    (const char *[]){ kid, state, pkhex, buf_cstr(&sealed) });
out:
	sodium_memzero(seed, sizeof(seed));
	buf_free(&sealed);
	return rc;
}

/* Kids of the active and the oldest next key ("" if none), and its age. */
static int
signkeys_current(struct db *db, char active[JWT_KID_BUFSZ], char next[JWT_KID_BUFSZ],
    long long *next_age_s)
{
	struct db_res	*res = NULL;
	size_t		 i;
	int		 rc;

	active[0] = next[0] = '\0';
	*next_age_s = 0;
	rc = db_query(db, &res, "SELECT kid, state,"
	    " floor(extract(epoch FROM now() - created_at))::bigint"
	    " FROM signing_keys WHERE state IN ('active', 'next') ORDER BY created_at", 0, NULL);
	if (rc != CB_OK)
		return rc;
	for (i = 0; i < db_rows(res); i++) {
		if (strcmp(db_val(res, i, 1), "active") == 0)
			util_strlcpy(active, db_val(res, i, 0), JWT_KID_BUFSZ);
		else if (next[0] == '\0') {
			util_strlcpy(next, db_val(res, i, 0), JWT_KID_BUFSZ);
			if (util_parse_ll(db_val(res, i, 2), -86400, 1LL << 40, next_age_s) != CB_OK)
				*next_age_s = 0;
		}
	}
	db_res_free(res);
	return CB_OK;
}

/* In the caller's transaction, under the lock: create what is missing. */
static int
signkeys_fill(struct db *db, const struct seal_keyring *kr, char active[JWT_KID_BUFSZ],
    char next[JWT_KID_BUFSZ], int *created)
{
	int	 rc;

	*created = 0;
	if (active[0] == '\0') {
		if ((rc = signkeys_create(db, kr, "active", active)) != CB_OK)
			return rc;
		*created = 1;
	}
	if (next[0] == '\0') {
		if ((rc = signkeys_create(db, kr, "next", next)) != CB_OK)
			return rc;
		*created = 1;
	}
	return CB_OK;
}

int
signkeys_ensure(struct app *a)
{
	struct seal_keyring	*kr;
	char			 active[JWT_KID_BUFSZ], next[JWT_KID_BUFSZ];
	long long		 age;
	int			 rc, created;

	/* The common case: both exist, no lock, no transaction. */
	if ((rc = signkeys_current(a->db, active, next, &age)) != CB_OK)
		return rc;
	if (active[0] && next[0])
		return CB_OK;
	if ((kr = app_keys(a)) == NULL)
		return CB_ERR_UNAVAILABLE;
	if ((rc = db_begin(a->db)) != CB_OK)
		return rc;
	if ((rc = db_exec(a->db, signkeys_lock_sql, 0, NULL)) != CB_OK ||
	    (rc = signkeys_current(a->db, active, next, &age)) != CB_OK ||
	    (rc = signkeys_fill(a->db, kr, active, next, &created)) != CB_OK ||
	    (rc = db_commit(a->db)) != CB_OK) {
		db_rollback(a->db);
		return rc;
	}
	if (created)
		log_kv(LOG_LVL_INFO, "signing_keys_bootstrapped", "active", active, "next", next, NULL);
	return CB_OK;
}

int
signkeys_rotate(struct db *db, const struct seal_keyring *kr, long long access_ttl_s,
    int min_lead_s, struct signkeys_rotation *out)
{
	struct db_res	*res = NULL;
	char		 active[JWT_KID_BUFSZ], next[JWT_KID_BUFSZ], grace[24];
	long long	 age;
	int		 rc, created;

	memset(out, 0, sizeof(*out));
	if (min_lead_s < SIGNKEYS_LEAD_MIN_S || min_lead_s > 86400 ||
	    access_ttl_s < 1 || access_ttl_s > 86400)
		return CB_ERR_VALIDATION;
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	if ((rc = db_exec(db, signkeys_lock_sql, 0, NULL)) != CB_OK)
		goto fail;
	/* Keys whose grace has passed are retired, whatever else happens. */
	if ((rc = db_exec(db, "UPDATE signing_keys SET state = 'retired'"
	    " WHERE state = 'retiring' AND retire_after <= now()", 0, NULL)) != CB_OK)
		goto fail;
	out->retired = db_affected(db);
	if ((rc = signkeys_current(db, active, next, &age)) != CB_OK)
		goto fail;
	out->bootstrapped = active[0] == '\0';
	if ((rc = signkeys_fill(db, kr, active, next, &created)) != CB_OK)
		goto fail;
	if (out->bootstrapped) {
		/* A fresh table: the first keys are the whole of this run. */
		if ((rc = db_commit(db)) != CB_OK)
			goto fail;
		util_strlcpy(out->active, active, sizeof(out->active));
		util_strlcpy(out->next, next, sizeof(out->next));
		return CB_OK;
	}
	if (created)
		age = 0;
	if (age < min_lead_s) {
		/* Not published long enough: keep what was done, promote nothing. */
		if ((rc = db_commit(db)) != CB_OK)
			goto fail;
		util_strlcpy(out->active, active, sizeof(out->active));
		util_strlcpy(out->next, next, sizeof(out->next));
		out->wait_s = (int)(min_lead_s - (age < 0 ? 0 : age));
		return CB_ERR_CONFLICT;
	}
	snprintf(grace, sizeof(grace), "%lld", access_ttl_s + SIGNKEYS_SKEW_S);
	/* Old active first: the unique index admits one active row at a time. */
	if ((rc = db_query(db, &res, "UPDATE signing_keys SET state = 'retiring',"
	    " retiring_at = now(), retire_after = now() + make_interval(secs => $2::int)"
	    " WHERE kid = $1 AND state = 'active'"
	    " RETURNING to_char(retire_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	    2, (const char *[]){ active, grace })) != CB_OK)
		goto fail;
	if (db_rows(res) != 1) {
		rc = CB_ERR_CONFLICT;
		goto fail;
	}
	util_strlcpy(out->retire_after, db_val(res, 0, 0), sizeof(out->retire_after));
	db_res_free(res);
	res = NULL;
	if ((rc = db_exec(db, "UPDATE signing_keys SET state = 'active', activated_at = now()"
	    " WHERE kid = $1 AND state = 'next'", 1, (const char *[]){ next })) != CB_OK)
		goto fail;
	if (db_affected(db) != 1) {
		rc = CB_ERR_CONFLICT;
		goto fail;
	}
	util_strlcpy(out->retiring, active, sizeof(out->retiring));
	util_strlcpy(out->active, next, sizeof(out->active));
	if ((rc = signkeys_create(db, kr, "next", out->next)) != CB_OK ||
	    (rc = db_commit(db)) != CB_OK)
		goto fail;
	log_kv(LOG_LVL_INFO, "signing_key_rotated", "active", out->active,
	    "retiring", out->retiring, "next", out->next, NULL);
	return CB_OK;
fail:
	db_res_free(res);
	db_rollback(db);
	memset(out->active, 0, sizeof(out->active));
	memset(out->retiring, 0, sizeof(out->retiring));
	memset(out->next, 0, sizeof(out->next));
	return rc;
}

/* ------------------------------------------------------------------ cache */

static const struct signkeys_key *
signkeys_find(const char *kid)
{
	size_t	 i;

	for (i = 0; i < signkeys_cache.n; i++)
		if (strcmp(signkeys_cache.keys[i].kid, kid) == 0)
			return &signkeys_cache.keys[i];
	return NULL;
}

/* Open the sealed seed of `k` and check it derives k's public key. */
static int
signkeys_open_private(struct app *a, const struct signkeys_key *k,
    unsigned char sk[JWT_SECRETKEYBYTES])
{
	struct seal_keyring	*kr = app_keys(a);
	struct db_res		*res = NULL;
	struct buf		 plain;
	unsigned char		 pk[JWT_PUBLICKEYBYTES];
	char			 aad[JWT_KID_BUFSZ + 32];
	int			 rc;

	if (kr == NULL)
		return CB_ERR_UNAVAILABLE;
	buf_init(&plain, 256);
	rc = db_query(a->db, &res, "SELECT private_sealed FROM signing_keys WHERE kid = $1", 1,
	    (const char *[]){ k->kid });
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	signkeys_aad(k->kid, aad, sizeof(aad));
	if ((rc = seal_open_text(kr, SEAL_PURPOSE_TOKENS, db_val(res, 0, 0), aad, &plain)) != CB_OK)
		goto out;
	if (plain.len != SIGNKEYS_SEEDBYTES) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	crypto_sign_seed_keypair(pk, sk, (const unsigned char *)plain.data);
	if (sodium_memcmp(pk, k->pk, sizeof(pk)) != 0) {
		sodium_memzero(sk, JWT_SECRETKEYBYTES);
		rc = CB_ERR_CRYPTO;
	}
out:
	buf_wipe(&plain);
	db_res_free(res);
	return rc;
}

/* Re-read the trusted keys; open the active key's private half if it changed. */
static int
signkeys_load(struct app *a)
{
	struct signkeys_key	 keys[SIGNKEYS_MAX];
	const struct signkeys_key *active = NULL;
	struct db_res		*res = NULL;
	unsigned char		 sk[JWT_SECRETKEYBYTES];
	size_t			 i, n = 0, len;
	const char		*hex;
	int			 rc;

	if ((rc = db_query(a->db, &res, signkeys_trusted_sql, 0, NULL)) != CB_OK)
		return rc;
	for (i = 0; i < db_rows(res) && n < SIGNKEYS_MAX; i++) {
		hex = db_val(res, i, 2);
		if (!jwt_kid_ok(db_val(res, i, 0)) ||
		    sodium_hex2bin(keys[n].pk, sizeof(keys[n].pk), hex, strlen(hex), NULL, &len,
		    NULL) != 0 || len != JWT_PUBLICKEYBYTES)
			continue;
		util_strlcpy(keys[n].kid, db_val(res, i, 0), sizeof(keys[n].kid));
		util_strlcpy(keys[n].state, db_val(res, i, 1), sizeof(keys[n].state));
		if (strcmp(keys[n].state, "active") == 0)
			active = &keys[n];
		n++;
	}
	db_res_free(res);
	memcpy(signkeys_cache.keys, keys, n * sizeof(keys[0]));
	signkeys_cache.n = n;
	signkeys_cache.loaded = 1;
	if (active == NULL)
		return CB_ERR_NOT_FOUND;
	if (signkeys_cache.have_sk && strcmp(signkeys_cache.signer, active->kid) == 0)
		return CB_OK;
	/*
	 * A new active key.  Until its private half opens, keep signing with
	 * the one we have: it stays trusted for a TTL after the rotation.
	 */
	if ((rc = signkeys_open_private(a, active, sk)) != CB_OK) {
		log_kv(LOG_LVL_ERROR, "signing_key_unusable", "kid", active->kid,
		    "error", errs_name(rc), NULL);
		return rc;
	}
	memcpy(signkeys_cache.sk, sk, sizeof(sk));
	sodium_memzero(sk, sizeof(sk));
	util_strlcpy(signkeys_cache.signer, active->kid, sizeof(signkeys_cache.signer));
	signkeys_cache.have_sk = 1;
	return CB_OK;
}

/* Refresh the cache when due (or now, if `force`). */
static int
signkeys_refresh(struct app *a, int force)
{
	double	 now = util_now_ms();
	int	 rc;

	if (!force && signkeys_cache.loaded &&
	    now - signkeys_cache.loaded_ms < SIGNKEYS_REFRESH_MS)
		return CB_OK;
	/* Failures back off too: Postgres away is not retried per request. */
	signkeys_cache.loaded_ms = now;
	rc = signkeys_load(a);
	if (rc == CB_ERR_NOT_FOUND && signkeys_ensure(a) == CB_OK)
		rc = signkeys_load(a);
	if (rc != CB_OK && !signkeys_cache.loaded)
		signkeys_cache.loaded_ms = 0;
	return rc;
}

int
signkeys_key_for_kid(const char *kid, unsigned char pk[JWT_PUBLICKEYBYTES], void *ud)
{
	struct app			*a = ud;
	const struct signkeys_key	*k;
	double				 now;

	int				 rc;

	rc = signkeys_refresh(a, 0);
	/* Never read (Postgres away since the start): no verdict on any token. */
	if (!signkeys_cache.loaded)
		return rc != CB_OK ? JWT_KEY_UNAVAILABLE : 1;
	if ((k = signkeys_find(kid)) == NULL) {
		now = util_now_ms();
		if (signkeys_cache.missed && now - signkeys_cache.miss_ms < SIGNKEYS_MISS_MS)
			return 1;
		signkeys_cache.missed = 1;
		signkeys_cache.miss_ms = now;
		rc = signkeys_refresh(a, 1);
		/* A key newer than those held may be one that could not be read. */
		if ((k = signkeys_find(kid)) == NULL)
			return rc != CB_OK && rc != CB_ERR_NOT_FOUND ? JWT_KEY_UNAVAILABLE : 1;
	}
	memcpy(pk, k->pk, JWT_PUBLICKEYBYTES);
	return 0;
}

int
signkeys_sign(struct app *a, const struct jwt_claims *c, char *out, size_t outsz)
{
	(void)signkeys_refresh(a, 0);
	if (!signkeys_cache.have_sk)
		(void)signkeys_refresh(a, 1);
	/* Never sign with a key verifiers no longer trust. */
	if (!signkeys_cache.have_sk || signkeys_find(signkeys_cache.signer) == NULL)
		return CB_ERR_UNAVAILABLE;
	return jwt_sign(c, signkeys_cache.signer, signkeys_cache.sk, out, outsz);
}

int
signkeys_jwks(struct app *a, cJSON **out)
{
	cJSON	*doc, *arr, *jwk;
	size_t	 i;
	int	 rc;

	*out = NULL;
	(void)signkeys_refresh(a, 0);
	if (signkeys_cache.n == 0)
		return CB_ERR_UNAVAILABLE;
	if ((doc = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(doc, "keys")) == NULL)
		util_oom();
	for (i = 0; i < signkeys_cache.n; i++) {
		if ((rc = jwt_jwk_public(signkeys_cache.keys[i].kid, signkeys_cache.keys[i].pk,
		    &jwk)) != CB_OK) {
			cJSON_Delete(doc);
			return rc;
		}
		cJSON_AddItemToArray(arr, jwk);
	}
	*out = doc;
	return CB_OK;
}

int
signkeys_responder_init(struct app *a)
{
	int	 rc;

	if ((rc = signkeys_ensure(a)) != CB_OK)
		log_kv(LOG_LVL_WARN, "signing_keys_deferred", "error", errs_name(rc), NULL);
	return CB_OK;
}

void
signkeys_responder_fini(struct app *a)
{
	(void)a;
	signkeys_forget();
}

void
signkeys_forget(void)
{
	sodium_memzero(&signkeys_cache, sizeof(signkeys_cache));
}
