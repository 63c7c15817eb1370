/*
 * users: see users.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "pwhash.h"
#include "route.h"
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

	while (*in == ' ' || *in == '\t')
		in++;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
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
users_email_index(const char *pepper_hex, const char *email, char out[2 + 64 + 1])
{
	unsigned char	 pepper[32], key[32], h[32];
	char		 norm[USERS_EMAIL_MAX + 1];
	size_t		 n = 0;
	int		 rc;

	if ((rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK)
		return rc;
	if (pepper_hex == NULL || sodium_hex2bin(pepper, sizeof(pepper), pepper_hex,
	    strlen(pepper_hex), NULL, &n, NULL) != 0 || n != sizeof(pepper))
		return CB_ERR_CONFIG;
	/* A key of its own for this index, derived from the pepper. */
	crypto_generichash(key, sizeof(key), (const unsigned char *)"cb:email-index:v1", 17,
	    pepper, sizeof(pepper));
	crypto_generichash(h, sizeof(h), (const unsigned char *)norm, strlen(norm), key, sizeof(key));
	sodium_memzero(pepper, sizeof(pepper));
	sodium_memzero(key, sizeof(key));
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
	return CB_OK;
}

int
users_create(struct app *a, const char *org, const char *email, const char *password,
    size_t pwlen, const char *role, char id_out[37])
{
	struct seal_keyring	*kr;
	struct buf		 sealed;
	char			 idx[2 + 64 + 1], norm[USERS_EMAIL_MAX + 1], hash[PWHASH_STRBYTES];
	char			 aad[64];
	int			 rc;

	if (!users_role_ok(role))
		return CB_ERR_VALIDATION;
	if ((rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK ||
	    (rc = users_email_index(a->settings.api_key_pepper, email, idx)) != CB_OK)
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
	 * ON CONFLICT DO NOTHING: a taken email is an answer (409), not an
	 * error that would abort the caller's transaction (an idempotent
	 * route stores that answer in the same transaction).
	 */
	rc = db_exec(a->db, "INSERT INTO users (id, org_id, email_hash, email_sealed, password_hash, role)"
	    " VALUES ($1, $2, $3::bytea, $4, $5, $6) ON CONFLICT (email_hash) DO NOTHING", 6,
	    (const char *[]){ id_out, org, idx, buf_cstr(&sealed), hash, role });
	if (rc == CB_OK && db_affected(a->db) == 0)
		rc = CB_ERR_DB_CONFLICT;
out:
	buf_free(&sealed);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
users_find_by_email(struct app *a, const char *email, struct user *u)
{
	struct db_res	*res = NULL;
	char		 idx[2 + 64 + 1];
	int		 rc;

	memset(u, 0, sizeof(*u));
	if ((rc = users_email_index(a->settings.api_key_pepper, email, idx)) != CB_OK)
		return rc == CB_ERR_VALIDATION ? CB_ERR_NOT_FOUND : rc;
	rc = db_query(a->db, &res, "SELECT id, org_id, role, password_hash, disabled_at IS NOT NULL"
	    " FROM users WHERE email_hash = $1::bytea", 1, (const char *[]){ idx });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	util_strlcpy(u->id, db_val(res, 0, 0), sizeof(u->id));
	util_strlcpy(u->org, db_val(res, 0, 1), sizeof(u->org));
	util_strlcpy(u->role, db_val(res, 0, 2), sizeof(u->role));
	util_strlcpy(u->password_hash, db_val(res, 0, 3), sizeof(u->password_hash));
	u->disabled = strcmp(db_val(res, 0, 4), "t") == 0;
	db_res_free(res);
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
