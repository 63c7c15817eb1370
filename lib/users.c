/*
 * users: see users.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "buf.h"
#include "db.h"
#include "digest.h"
#include "errs.h"
#include "pwhash.h"
#include "seal.h"
#include "users.h"
#include "util.h"

int
users_role_ok(const char *r)
{
	return r && (strcmp(r, "admin") == 0 || strcmp(r, "operator") == 0 ||
	    strcmp(r, "viewer") == 0 || strcmp(r, "approver") == 0);
}

int
users_email_normalise(const char *in, char *out, size_t outsz)
{
	size_t	 n, i, o = 0;
	const char *at;

	n = util_trim_ows(&in);
	if (n == 0 || n > USERS_EMAIL_MAX || n >= outsz)
		return CB_ERR_VALIDATION;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= 0x20 || c == 0x7f)
			return CB_ERR_VALIDATION;
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
	at = strchr(out, '@');
	if (at == NULL || at == out || strchr(at + 1, '@') || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || out[o - 1] == '.')
		return CB_ERR_VALIDATION;
	return CB_OK;
}

int
users_email_index(const char *key_hex, const char *email, char out[2 + 64 + 1])
{
	unsigned char	 base[32], key[32], h[32];
	char		 norm[USERS_EMAIL_MAX + 1];
	size_t		 n = 0;
	int		 rc;

	if ((rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK)
		return rc;
	if (key_hex == NULL || sodium_hex2bin(base, sizeof(base), key_hex,
	    strlen(key_hex), NULL, &n, NULL) != 0 || n != sizeof(base))
		return CB_ERR_CONFIG;
	/* A key of its own for this index, derived from the blind index key. */
	crypto_generichash(key, sizeof(key), (const unsigned char *)"cb:email-index:v1", 17,
	    base, sizeof(base));
	crypto_generichash(h, sizeof(h), (const unsigned char *)norm, strlen(norm), key, sizeof(key));
	sodium_memzero(base, sizeof(base));
	sodium_memzero(key, sizeof(key));
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
	return CB_OK;
}

/*
 * The email's index under the current key, and under the previous key while
 * one is configured (a rotation in progress), else the current one again.
 */
static int
users_email_indexes(const struct app *a, const char *email, char cur[2 + 64 + 1],
    char prev[2 + 64 + 1])
{
	int	 rc;

	if ((rc = users_email_index(a->settings.blind_index_key, email, cur)) != CB_OK)
		return rc;
	if (a->settings.blind_index_key_previous[0] == '\0') {
		memcpy(prev, cur, 2 + 64 + 1);
		return CB_OK;
	}
	return users_email_index(a->settings.blind_index_key_previous, email, prev);
}

int
users_create(struct app *a, const char *org, const char *email, const char *password,
    size_t pwlen, const char *role, char id_out[37])
{
	struct seal_keyring	*kr;
	struct buf		 sealed;
	char			 idx[2 + 64 + 1], prev[2 + 64 + 1], norm[USERS_EMAIL_MAX + 1];
	char			 hash[PWHASH_STRBYTES], aad[64];
	int			 rc;

	if (!users_role_ok(role))
		return CB_ERR_VALIDATION;
	if ((rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK ||
	    (rc = users_email_indexes(a, email, idx, prev)) != CB_OK)
		return rc;
	if ((kr = app_keys(a)) == NULL)
		return CB_ERR_UNAVAILABLE;
	if ((rc = pwhash_hash(password, pwlen, hash)) != CB_OK)
		return rc;
	util_uuid_v4(id_out);
	snprintf(aad, sizeof(aad), "users:%s:email", id_out);
	buf_init(&sealed, 4096);
	if ((rc = seal_seal_text(kr, SEAL_PURPOSE_PII, (const unsigned char *)norm, strlen(norm),
	    aad, &sealed)) != CB_OK)
		goto out;
	/*
	 * ON CONFLICT DO NOTHING: an email taken in this tenant is an answer
	 * (409), not an error that would abort the caller's transaction (an
	 * idempotent route stores that answer in the same transaction).  Other
	 * tenants' users never conflict (docs/identity.md).  While the index
	 * key is rotated, a row not yet reindexed holds the previous key's
	 * index: that counts as taken too.
	 */
	rc = db_exec(a->db, "INSERT INTO users (id, org_id, email_hash, email_sealed, password_hash, role)"
	    " SELECT $1::uuid, $2::bigint, $3::bytea, $4::text, $5::text, $6::text"
	    " WHERE NOT EXISTS (SELECT 1 FROM users WHERE org_id = $2 AND email_hash = $7::bytea)"
	    " ON CONFLICT (org_id, email_hash) DO NOTHING", 7,
	    (const char *[]){ id_out, org, idx, buf_cstr(&sealed), hash, role, prev });
	if (rc == CB_OK && db_affected(a->db) == 0)
		rc = CB_ERR_DB_CONFLICT;
out:
	buf_free(&sealed);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
users_find_by_email(struct app *a, const char *org_slug, const char *email, struct user *u)
{
	struct db_res	*res = NULL;
	char		 idx[2 + 64 + 1], prev[2 + 64 + 1];
	int		 rc;

	memset(u, 0, sizeof(*u));
	if ((rc = users_email_indexes(a, email, idx, prev)) != CB_OK)
		return rc == CB_ERR_VALIDATION ? CB_ERR_NOT_FOUND : rc;
	/* One statement whether or not a rotation is in progress: the same cost. */
	rc = db_query_row(a->db, &res, "SELECT u.id, u.org_id, u.role, u.password_hash,"
	    " u.disabled_at IS NOT NULL FROM users u JOIN orgs o ON o.id = u.org_id"
	    " WHERE o.slug = $1 AND u.email_hash IN ($2::bytea, $3::bytea)", 3,
	    (const char *[]){ org_slug, idx, prev });
	if (rc != CB_OK)
		return rc;
	util_strlcpy(u->id, db_val(res, 0, 0), sizeof(u->id));
	util_strlcpy(u->org, db_val(res, 0, 1), sizeof(u->org));
	util_strlcpy(u->role, db_val(res, 0, 2), sizeof(u->role));
	util_strlcpy(u->password_hash, db_val(res, 0, 3), sizeof(u->password_hash));
	u->disabled = strcmp(db_val(res, 0, 4), "t") == 0;
	db_res_free(res);
	return CB_OK;
}

int
users_login_bucket(const char *key_hex, const char *org_slug, const char *email,
    char out[DIGEST_TEXT])
{
	char		 idx[2 + 64 + 1];
	const char	*parts[2];
	int		 rc;

	if ((rc = users_email_index(key_hex, email, idx)) != CB_OK)
		return rc;
	parts[0] = org_slug;
	parts[1] = idx;
	return digest_keyed(key_hex, "cb:login-bucket:v1", parts, 2, out);
}

/*
 * One batch of the reindex: the rows whose index is not the current key's,
 * after `after` (uuid order), opened and hashed again.
 */
static int
users_reindex_batch(struct app *a, char after[37], long long *done, int *more)
{
	struct db_res	*res = NULL;
	char		 email[USERS_EMAIL_MAX + 1], idx[2 + 64 + 1];
	size_t		 i, n;
	int		 rc;

	*more = 0;
	rc = db_query(a->db, &res, "SELECT id, email_sealed, '\\x' || encode(email_hash, 'hex')"
	    " FROM users WHERE id > $1::uuid ORDER BY id LIMIT 500", 1, (const char *[]){ after });
	if (rc != CB_OK)
		return rc;
	n = db_rows(res);
	for (i = 0; i < n && rc == CB_OK; i++) {
		util_strlcpy(after, db_val(res, i, 0), 37);
		if ((rc = users_email(a, db_val(res, i, 0), db_val(res, i, 1), email,
		    sizeof(email))) != CB_OK)
			break;
		rc = users_email_index(a->settings.blind_index_key, email, idx);
		sodium_memzero(email, sizeof(email));
		if (rc != CB_OK || strcmp(idx, db_val(res, i, 2)) == 0)
			continue;
		rc = db_exec(a->db, "UPDATE users SET email_hash = $2::bytea WHERE id = $1::uuid", 2,
		    (const char *[]){ db_val(res, i, 0), idx });
		if (rc == CB_OK)
			(*done)++;
	}
	*more = n == 500;
	db_res_free(res);
	return rc;
}

int
users_reindex(struct app *a, long long *changed)
{
	char	 after[37] = "00000000-0000-0000-0000-000000000000";
	int	 rc, more = 1;

	*changed = 0;
	while (more)
		if ((rc = users_reindex_batch(a, after, changed, &more)) != CB_OK)
			return rc;
	return CB_OK;
}

int
users_email(struct app *a, const char *id, const char *sealed, char *out, size_t outsz)
{
	struct seal_keyring	*kr = app_keys(a);
	struct buf		 plain;
	char			 aad[64];
	int			 rc;

	if (kr == NULL)
		return CB_ERR_UNAVAILABLE;
	snprintf(aad, sizeof(aad), "users:%s:email", id);
	buf_init(&plain, 1024);
	if ((rc = seal_open_text(kr, SEAL_PURPOSE_PII, sealed, aad, &plain)) == CB_OK)
		util_strlcpy(out, buf_cstr(&plain), outsz);
	buf_wipe(&plain);
	return rc;
}
