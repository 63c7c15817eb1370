/*
 * apikey: see apikey.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "app.h"
#include "db.h"
#include "errs.h"
#include "memo.h"
#include "req.h"
#include "util.h"

static int
apikey_pepper(const char *hex, unsigned char out[32])
{
	size_t	 n = 0;

	if (hex == NULL || strlen(hex) != 64 ||
	    sodium_hex2bin(out, 32, hex, 64, NULL, &n, NULL) != 0 || n != 32)
		return CB_ERR_CONFIG;
	return CB_OK;
}

static void
apikey_hash(const unsigned char pepper[32], const char *key, char out[2 + 64 + 1])
{
	unsigned char	 h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), pepper, 32);
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
}

int
apikey_new(const char *pepper_hex, char key[APIKEY_LEN + 1],
    char prefix[APIKEY_PREFIX_LEN + 1], char hash_bytea[2 + 64 + 1])
{
	unsigned char	 pepper[32];
	char		 p[24], s[48];

	if (apikey_pepper(pepper_hex, pepper) != CB_OK)
		return CB_ERR_CONFIG;
	util_random_token(p, sizeof(p), 9);	/* 9 bytes -> 12 characters */
	util_random_token(s, sizeof(s), 32);	/* 32 bytes -> 43 characters */
	memcpy(prefix, p, APIKEY_PREFIX_LEN);
	prefix[APIKEY_PREFIX_LEN] = '\0';
	snprintf(key, APIKEY_LEN + 1, "cbk_%s_%s", prefix, s);
	apikey_hash(pepper, key, hash_bytea);
	sodium_memzero(s, sizeof(s));
	sodium_memzero(pepper, sizeof(pepper));
	return CB_OK;
}

static int
apikey_shape_ok(const char *key)
{
	size_t	 i;

	if (strlen(key) != APIKEY_LEN || strncmp(key, "cbk_", 4) != 0 ||
	    key[4 + APIKEY_PREFIX_LEN] != '_')
		return 0;
	for (i = 4; i < APIKEY_LEN; i++) {
		char c = key[i];

		if (i == 4 + APIKEY_PREFIX_LEN)
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int
apikey_lookup(const char *pepper_hex, const char *key, char prefix[APIKEY_PREFIX_LEN + 1],
    char hash_bytea[2 + 64 + 1])
{
	unsigned char	 pepper[32];

	if (key == NULL || !apikey_shape_ok(key))
		return CB_ERR_UNAUTHENTICATED;
	if (apikey_pepper(pepper_hex, pepper) != CB_OK)
		return CB_ERR_CONFIG;
	memcpy(prefix, key + 4, APIKEY_PREFIX_LEN);
	prefix[APIKEY_PREFIX_LEN] = '\0';
	apikey_hash(pepper, key, hash_bytea);
	sodium_memzero(pepper, sizeof(pepper));
	return CB_OK;
}

int
apikey_hash_eq(const char *stored, const char *want)
{
	return stored != NULL && strlen(stored) == strlen(want) &&
	    sodium_memcmp(stored, want, strlen(want)) == 0;
}

int
apikey_verify(struct db *db, const char *pepper_hex, const char *key, struct agent_auth *out)
{
	char		 prefix[APIKEY_PREFIX_LEN + 1], want[2 + 64 + 1];
	struct db_res	*res = NULL;
	const char	*p[1];
	int		 rc;

	memset(out, 0, sizeof(*out));
	if ((rc = apikey_lookup(pepper_hex, key, prefix, want)) != CB_OK)
		return rc;
	p[0] = prefix;
	rc = db_query(db, &res, "SELECT k.id, k.org_id, k.agent_id, '\\x' || encode(k.key_hash, 'hex'),"
	    " k.scopes, coalesce(k.commands_per_min, 0), " APIKEY_MTLS_COLS
	    " FROM api_keys k JOIN agents a ON a.id = k.agent_id AND a.org_id = k.org_id"
	    " WHERE k.prefix = $1 AND k.revoked_at IS NULL"
	    " AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.disabled_at IS NULL", 1, p);
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1 || !apikey_hash_eq(db_val(res, 0, 3), want)) {
		db_res_free(res);
		return CB_ERR_UNAUTHENTICATED;
	}
	util_strlcpy(out->key_id, db_val(res, 0, 0), sizeof(out->key_id));
	util_strlcpy(out->org, db_val(res, 0, 1), sizeof(out->org));
	util_strlcpy(out->agent_id, db_val(res, 0, 2), sizeof(out->agent_id));
	util_strlcpy(out->scopes, db_val(res, 0, 4), sizeof(out->scopes));
	(void)util_parse_ll(db_val(res, 0, 5), 0, 100000000, &out->commands_per_min);
	apikey_mtls_from_row(out, res, 0, 6);
	db_res_free(res);
	return CB_OK;
}

void
apikey_mtls_from_row(struct agent_auth *out, struct db_res *res, int row, int col)
{
	util_strlcpy(out->mtls_subject, db_val(res, row, col), sizeof(out->mtls_subject));
	util_strlcpy(out->mtls_sha256, db_val(res, row, col + 1), sizeof(out->mtls_sha256));
	util_strlcpy(out->key_mtls_subject, db_val(res, row, col + 2),
	    sizeof(out->key_mtls_subject));
	util_strlcpy(out->key_mtls_sha256, db_val(res, row, col + 3),
	    sizeof(out->key_mtls_sha256));
}

/*
 * Memo format: "key_id|org|agent_id|commands_per_min|mtls_sha256|scopes|
 * key_mtls_sha256|key_mtls_subject|mtls_subject"; only the agent's subject,
 * last, may hold a '|' (a key's may not: sql/0019_key_mtls).
 */
#define APIKEY_MEMO_FIELDS	9

int
apikey_memo_encode(const struct agent_auth *a, char *out, size_t outsz)
{
	size_t	 n = (size_t)snprintf(out, outsz, "%s|%s|%s|%lld|%s|%s|%s|%s|%s", a->key_id, a->org,
	    a->agent_id, a->commands_per_min, a->mtls_sha256, a->scopes, a->key_mtls_sha256,
	    a->key_mtls_subject, a->mtls_subject);

	return n < outsz ? 0 : -1;
}

int
apikey_memo_decode(const char *v, struct agent_auth *out)
{
	char		 tmp[sizeof(*out) + 64], *f[APIKEY_MEMO_FIELDS], *p;
	long long	 cpm;
	int		 i;

	if (strlen(v) >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, strlen(v) + 1);
	for (p = tmp, i = 0; i < APIKEY_MEMO_FIELDS; i++) {
		f[i] = p;
		if (i < APIKEY_MEMO_FIELDS - 1) {
			if ((p = strchr(p, '|')) == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	if (util_parse_ll(f[3], 0, 100000000, &cpm) != CB_OK)
		return -1;
	memset(out, 0, sizeof(*out));
	util_strlcpy(out->key_id, f[0], sizeof(out->key_id));
	util_strlcpy(out->org, f[1], sizeof(out->org));
	util_strlcpy(out->agent_id, f[2], sizeof(out->agent_id));
	out->commands_per_min = cpm;
	util_strlcpy(out->mtls_sha256, f[4], sizeof(out->mtls_sha256));
	util_strlcpy(out->scopes, f[5], sizeof(out->scopes));
	util_strlcpy(out->key_mtls_sha256, f[6], sizeof(out->key_mtls_sha256));
	util_strlcpy(out->key_mtls_subject, f[7], sizeof(out->key_mtls_subject));
	util_strlcpy(out->mtls_subject, f[8], sizeof(out->mtls_subject));
	return 0;
}

int
apikey_verify_memo(struct db *db, struct memo *memo, const char *pepper_hex, const char *key,
    struct agent_auth *out)
{
	unsigned char	 pepper[32];
	char		 want[2 + 64 + 1], mkey[80], val[sizeof(*out) + 64];
	const char	*v;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (memo == NULL)
		return apikey_verify(db, pepper_hex, key, out);
	if (key == NULL || !apikey_shape_ok(key))
		return CB_ERR_UNAUTHENTICATED;
	if (apikey_pepper(pepper_hex, pepper) != CB_OK)
		return CB_ERR_CONFIG;
	/* The keyed hash names the key in memory, never the key itself. */
	apikey_hash(pepper, key, want);
	sodium_memzero(pepper, sizeof(pepper));
	snprintf(mkey, sizeof(mkey), "cb:ak:%s", want + 2);
	if ((v = memo_get(memo, mkey)) != NULL && apikey_memo_decode(v, out) == 0)
		return CB_OK;
	if ((rc = apikey_verify(db, pepper_hex, key, out)) != CB_OK)
		return rc;
	if (apikey_memo_encode(out, val, sizeof(val)) == 0)
		memo_put(memo, mkey, val, APIKEY_MEMO_MS);
	return CB_OK;
}

/*
 * The key presented ("Authorization: Bearer cbk_...", else X-Api-Key),
 * checked with `memo` in front when there is one.
 */
static int
apikey_auth(struct req *r, struct memo *memo)
{
	const char		*key = req_bearer(r);
	struct agent_auth	*a;
	int			 rc;

	if (key == NULL && (key = req_header(r, "X-Api-Key")) == NULL)
		return CB_ERR_UNAUTHENTICATED;
	a = req_alloc(r, sizeof(*a));
	if ((rc = apikey_verify_memo(r->app->db, memo, r->app->settings.api_key_pepper, key,
	    a)) != CB_OK)
		return rc;
	apikey_set_payer(r, a);
	return CB_OK;
}

int
apikey_authenticate(struct req *r)
{
	return apikey_auth(r, NULL);
}

int
apikey_authenticate_memo(struct req *r)
{
	return apikey_auth(r, r->app->memo);
}

void
apikey_set_payer(struct req *r, struct agent_auth *a)
{
	r->auth = a;
	util_strlcpy(r->org, a->org, sizeof(r->org));
	util_strlcpy(r->key_id, a->key_id, sizeof(r->key_id));
	r->key_commands_per_min = a->commands_per_min;
}

int
apikey_has_scope(const struct agent_auth *a, const char *scope)
{
	const char	*p = a->scopes;
	size_t		 n = strlen(scope);

	/* scopes is a text[] literal: {a,b,c} */
	while ((p = strstr(p, scope)) != NULL) {
		if ((p[-1] == '{' || p[-1] == ',') && (p[n] == ',' || p[n] == '}'))
			return 1;
		p += n;
	}
	return 0;
}
