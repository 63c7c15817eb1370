/*
 * refresh: see refresh.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "refresh.h"
#include "seal.h"
#include "util.h"

#define REFRESH_HASH_BYTEA	(2 + 64 + 1)	/* "\\x" + hex(32) + NUL */

int
refresh_token_ok(const char *t)
{
	size_t	 i;

	if (t == NULL || strlen(t) != REFRESH_TOKEN_LEN ||
	    strncmp(t, REFRESH_PREFIX, strlen(REFRESH_PREFIX)) != 0)
		return 0;
	for (i = strlen(REFRESH_PREFIX); i < REFRESH_TOKEN_LEN; i++) {
		char c = t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static void
refresh_hash(const char *token, char out[REFRESH_HASH_BYTEA])
{
	unsigned char	 h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
}

/* The sealed metadata of row `id`: {"ip":…,"ua":…}. */
static int
refresh_meta(const struct seal_keyring *kr, const char *id, const struct refresh_client *c,
    struct buf *sealed)
{
	struct buf	 plain;
	char		 aad[80];
	const char	*ua = c && c->user_agent ? c->user_agent : "";
	size_t		 ualen = strnlen(ua, REFRESH_UA_MAX);
	int		 rc;

	buf_init(&plain, 4096);
	rc = buf_puts(&plain, "{\"ip\":");
	if (rc == CB_OK)
		rc = buf_json_str(&plain, c && c->ip ? c->ip : "");
	if (rc == CB_OK)
		rc = buf_puts(&plain, ",\"ua\":");
	if (rc == CB_OK)
		rc = buf_json_strn(&plain, ua, ualen);
	if (rc == CB_OK)
		rc = buf_putc(&plain, '}');
	snprintf(aad, sizeof(aad), "refresh_tokens:%s:meta", id);
	if (rc == CB_OK)
		rc = seal_seal_text(kr, SEAL_PURPOSE_TOKENS, (const unsigned char *)plain.data,
		    plain.len, aad, sealed);
	buf_wipe(&plain);
	return rc;
}

/*
 * Insert a token: the first of a new family (parent NULL: the family's id
 * is the token's, its expiry now + TTL) or a child of `parent` (same
 * family, the family's expiry).  Fills out->token, id, family_id.
 */
static int
refresh_insert(struct app *a, const struct seal_keyring *kr, const char *org,
    const char *user_id, const char *family, const char *parent,
    const struct refresh_client *c, struct refresh_grant *out)
{
	struct buf	 sealed;
	char		 hash[REFRESH_HASH_BYTEA], ttl[24], idle[24];
	int		 rc;

	buf_init(&sealed, 8192);
	memcpy(out->token, REFRESH_PREFIX, strlen(REFRESH_PREFIX));
	util_random_token(out->token + strlen(REFRESH_PREFIX),
	    sizeof(out->token) - strlen(REFRESH_PREFIX), REFRESH_TOKEN_BYTES);
	refresh_hash(out->token, hash);
	util_uuid_v4(out->id);
	util_strlcpy(out->family_id, family ? family : out->id, sizeof(out->family_id));
	snprintf(ttl, sizeof(ttl), "%lld", a->settings.refresh_ttl_s);
	snprintf(idle, sizeof(idle), "%lld", a->settings.refresh_idle_s);
	if ((rc = refresh_meta(kr, out->id, c, &sealed)) != CB_OK)
		goto out;
	rc = db_exec(a->db, "INSERT INTO refresh_tokens (id, org_id, user_id, family_id, parent_id,"
	    " token_hash, meta_sealed, expires_at, idle_expires_at)"
	    " SELECT $1::uuid, $2::bigint, $3::uuid, $4::uuid, $5::uuid, $6::bytea, $7, e.x,"
	    "  least(now() + make_interval(secs => $9::int), e.x)"
	    " FROM (SELECT CASE WHEN $5::uuid IS NULL THEN now() + make_interval(secs => $8::int)"
	    "  ELSE (SELECT p.expires_at FROM refresh_tokens p WHERE p.id = $5::uuid) END AS x) e",
	    9, (const char *[]){ out->id, org, user_id, out->family_id, parent, hash,
	    buf_cstr(&sealed), ttl, idle });
out:
	if (rc != CB_OK)
		sodium_memzero(out->token, sizeof(out->token));
	buf_free(&sealed);
	return rc;
}

int
refresh_start(struct app *a, const char *user_id, const char *org, const char *role,
    const struct refresh_client *c, struct refresh_grant *out)
{
	struct seal_keyring	*kr;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((kr = app_keys(a)) == NULL)
		return CB_ERR_UNAVAILABLE;
	if ((rc = refresh_insert(a, kr, org, user_id, NULL, NULL, c, out)) != CB_OK)
		return rc;
	util_strlcpy(out->user_id, user_id, sizeof(out->user_id));
	util_strlcpy(out->org, org, sizeof(out->org));
	util_strlcpy(out->role, role, sizeof(out->role));
	out->outcome = REFRESH_ROTATED;
	return CB_OK;
}

/* In a transaction: serialise every change to this family. */
static int
refresh_lock_family(struct db *db, const char *family)
{
	struct db_res	*res = NULL;
	int		 rc;

	rc = db_query(db, &res, "SELECT id FROM refresh_tokens WHERE family_id = $1::uuid"
	    " AND parent_id IS NULL FOR UPDATE", 1, (const char *[]){ family });
	db_res_free(res);
	return rc;
}

/* The id and family of a stored token (CB_ERR_NOT_FOUND if none). */
static int
refresh_find(struct db *db, const char *token, char id[37], char family[37])
{
	struct db_res	*res = NULL;
	char		 hash[REFRESH_HASH_BYTEA];
	int		 rc;

	refresh_hash(token, hash);
	rc = db_query(db, &res, "SELECT id, family_id FROM refresh_tokens WHERE token_hash = $1::bytea",
	    1, (const char *[]){ hash });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	else {
		util_strlcpy(id, db_val(res, 0, 0), 37);
		util_strlcpy(family, db_val(res, 0, 1), 37);
	}
	db_res_free(res);
	return rc;
}

static int
refresh_is_true(const struct db_res *res, int col)
{
	const char	*v = db_val(res, 0, col);

	return v != NULL && strcmp(v, "t") == 0;
}

/* Revoke every token of the family (in the caller's transaction). */
static int
refresh_revoke_rows(struct db *db, const char *family, long long *n)
{
	int	 rc;

	rc = db_exec(db, "UPDATE refresh_tokens SET revoked_at = now()"
	    " WHERE family_id = $1::uuid AND revoked_at IS NULL", 1, (const char *[]){ family });
	if (rc == CB_OK && n)
		*n = db_affected(db);
	return rc;
}

int
refresh_rotate(struct app *a, const char *presented, const struct refresh_client *c,
    struct refresh_grant *out)
{
	struct seal_keyring	*kr;
	struct db		*db = a->db;
	struct db_res		*res = NULL;
	char			 id[37], family[37], overlap[24], maxkids[24];
	int			 rc, superseded, revoked, alive, idle_ok, in_window, enabled;
	long long		 live_kids = 0, kids = 0;

	memset(out, 0, sizeof(*out));
	out->outcome = REFRESH_INVALID;
	if (!refresh_token_ok(presented))
		return CB_ERR_UNAUTHENTICATED;
	if ((kr = app_keys(a)) == NULL)
		return CB_ERR_UNAVAILABLE;
	if ((rc = refresh_find(db, presented, id, family)) != CB_OK)
		return rc == CB_ERR_NOT_FOUND ? CB_ERR_UNAUTHENTICATED : rc;
	snprintf(overlap, sizeof(overlap), "%lld", a->settings.refresh_overlap_s);
	snprintf(maxkids, sizeof(maxkids), "%d", 1 + REFRESH_OVERLAP_MAX);
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	if ((rc = refresh_lock_family(db, family)) != CB_OK)
		goto fail;
	/* Read T's state only now: every earlier change to the family has committed. */
	rc = db_query(db, &res, "SELECT t.superseded_at IS NOT NULL, t.revoked_at IS NOT NULL,"
	    " t.expires_at > now(), t.idle_expires_at > now(),"
	    " coalesce(t.superseded_at >= clock_timestamp() - make_interval(secs => $2::int), false),"
	    " (SELECT count(*) FROM refresh_tokens k WHERE k.parent_id = t.id"
	    "   AND k.superseded_at IS NULL AND k.revoked_at IS NULL),"
	    " (SELECT count(*) FROM refresh_tokens k WHERE k.parent_id = t.id),"
	    " t.user_id, t.org_id, u.role, u.disabled_at IS NULL"
	    " FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1::uuid",
	    2, (const char *[]){ id, overlap });
	if (rc != CB_OK)
		goto fail;
	if (db_rows(res) != 1) {
		rc = CB_ERR_UNAUTHENTICATED;
		goto fail;
	}
	superseded = refresh_is_true(res, 0);
	revoked = refresh_is_true(res, 1);
	alive = refresh_is_true(res, 2);
	idle_ok = refresh_is_true(res, 3);
	in_window = refresh_is_true(res, 4);
	(void)util_parse_ll(db_val(res, 0, 5), 0, 1LL << 40, &live_kids);
	(void)util_parse_ll(db_val(res, 0, 6), 0, 1LL << 40, &kids);
	enabled = refresh_is_true(res, 10);
	util_strlcpy(out->user_id, db_val(res, 0, 7), sizeof(out->user_id));
	util_strlcpy(out->org, db_val(res, 0, 8), sizeof(out->org));
	util_strlcpy(out->role, db_val(res, 0, 9), sizeof(out->role));
	db_res_free(res);
	res = NULL;

	if (revoked || !enabled) {
		rc = CB_ERR_UNAUTHENTICATED;
		goto fail;
	}
	if (superseded) {
		if (live_kids > 0 && in_window && alive && kids < 1 + REFRESH_OVERLAP_MAX) {
			/* The immediately previous token, within the overlap. */
			if ((rc = refresh_insert(a, kr, out->org, out->user_id, family, id, c,
			    out)) != CB_OK || (rc = db_commit(db)) != CB_OK)
				goto fail;
			out->outcome = REFRESH_OVERLAP;
			log_kv(LOG_LVL_INFO, "refresh_overlap", "family", family, "user",
			    out->user_id, NULL);
			return CB_OK;
		}
		/* Reuse: revoke the family and commit that on its own. */
		if ((rc = refresh_revoke_rows(db, family, NULL)) != CB_OK ||
		    (rc = db_commit(db)) != CB_OK)
			goto fail;
		out->outcome = REFRESH_REUSE;
		log_kv(LOG_LVL_WARN, "refresh_reuse_detected", "family", family, "user",
		    out->user_id, NULL);
		return CB_ERR_UNAUTHENTICATED;
	}
	if (!alive || !idle_ok) {
		rc = CB_ERR_UNAUTHENTICATED;
		goto fail;
	}
	/* Compare-and-set: T must still be live. */
	if ((rc = db_exec(db, "UPDATE refresh_tokens SET superseded_at = now() WHERE id = $1::uuid"
	    " AND superseded_at IS NULL AND revoked_at IS NULL", 1, (const char *[]){ id })) != CB_OK)
		goto fail;
	if (db_affected(db) != 1) {
		rc = CB_ERR_DB_CONFLICT;
		goto fail;
	}
	/* Overlap siblings of T's generation end here: one live token per family. */
	if ((rc = db_exec(db, "UPDATE refresh_tokens SET superseded_at = now()"
	    " WHERE family_id = $1::uuid AND superseded_at IS NULL AND revoked_at IS NULL"
	    " AND id <> $2::uuid", 2, (const char *[]){ family, id })) != CB_OK)
		goto fail;
	if ((rc = refresh_insert(a, kr, out->org, out->user_id, family, id, c, out)) != CB_OK ||
	    (rc = db_commit(db)) != CB_OK)
		goto fail;
	out->outcome = REFRESH_ROTATED;
	return CB_OK;
fail:
	db_res_free(res);
	db_rollback(db);
	sodium_memzero(out->token, sizeof(out->token));
	return rc;
}

int
refresh_revoke_family(struct app *a, const char *presented, long long *revoked)
{
	char	 id[37], family[37];
	int	 rc;

	if (revoked)
		*revoked = 0;
	if (!refresh_token_ok(presented))
		return CB_OK;
	if ((rc = refresh_find(a->db, presented, id, family)) != CB_OK)
		return rc == CB_ERR_NOT_FOUND ? CB_OK : rc;
	if ((rc = db_begin(a->db)) != CB_OK)
		return rc;
	if ((rc = refresh_lock_family(a->db, family)) != CB_OK ||
	    (rc = refresh_revoke_rows(a->db, family, revoked)) != CB_OK ||
	    (rc = db_commit(a->db)) != CB_OK) {
		db_rollback(a->db);
		return rc;
	}
	return CB_OK;
}

int
refresh_revoke_user(struct db *db, const char *user_id, long long *families)
{
	struct db_res	*res = NULL;
	int		 rc;

	*families = 0;
	if (!util_uuid_ok(user_id))
		return CB_ERR_NOT_FOUND;
	if ((rc = db_query(db, &res, "SELECT 1 FROM users WHERE id = $1::uuid", 1,
	    (const char *[]){ user_id })) != CB_OK)
		return rc;
	rc = db_rows(res) == 1 ? CB_OK : CB_ERR_NOT_FOUND;
	db_res_free(res);
	res = NULL;
	if (rc != CB_OK)
		return rc;
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	/* The same family locks as a rotation takes, in a fixed order. */
	if ((rc = db_query(db, &res, "SELECT id FROM refresh_tokens WHERE user_id = $1::uuid"
	    " AND parent_id IS NULL ORDER BY id FOR UPDATE", 1, (const char *[]){ user_id })) != CB_OK)
		goto fail;
	db_res_free(res);
	res = NULL;
	if ((rc = db_query(db, &res, "WITH r AS (UPDATE refresh_tokens SET revoked_at = now()"
	    " WHERE user_id = $1::uuid AND revoked_at IS NULL RETURNING family_id)"
	    " SELECT count(DISTINCT family_id) FROM r", 1, (const char *[]){ user_id })) != CB_OK)
		goto fail;
	(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 40, families);
	db_res_free(res);
	res = NULL;
	if ((rc = db_commit(db)) != CB_OK)
		goto fail;
	log_kv(LOG_LVL_INFO, "sessions_revoked", "user", user_id, NULL);
	return CB_OK;
fail:
	db_res_free(res);
	db_rollback(db);
	return rc;
}
