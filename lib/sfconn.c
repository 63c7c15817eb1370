/*
 * sfconn: see sfconn.h.  One fixed statement per operation; the keys are
 * sealed and opened here only, and every plain copy is wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "audit.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "region.h"
#include "seal.h"
#include "settings.h"
#include "sf.h"
#include "sfconn.h"
#include "util.h"

#define SFC_SEALED_MAX	(4u * SFCONN_PEM_MAX)

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define AGE(col) "floor(extract(epoch FROM now() - " col ") / 86400)::bigint"
/* $1: CB_SF_KEY_OVERLAP_S. */
#define SFC_COLS "c.org_id::text, g.slug, coalesce(c.region, ''), c.login_url, c.audience," \
	" c.instance_url, c.client_id, c.username, c.mapping::text, c.key_sha256, " \
	TS("c.key_at") ", " AGE("c.key_at") ", c.next_key_sha256, " TS("c.next_key_at") ", " \
	AGE("c.next_key_at") ", " TS("(c.next_key_at + make_interval(secs => $1::int))") "," \
	" c.version::text, " TS("c.updated_at") ", coalesce(g.region, '')" \
	" FROM sf_connections c JOIN orgs g ON g.id = c.org_id"

/* ---- checks --------------------------------------------------------- */


/* https://host[:port][/path], or http:// to a loopback host (the fake). */
static int
sfc_url_ok(const char *url, const char **why)
{
	const char	*a, *e;
	size_t		 i, n;
	char		 region[REGION_BUFSZ];

	if (!util_text_ok(url, SFCONN_URL_MAX) || strlen(url) < 8) {
		*why = "must be a URL of 8 to 512 characters";
		return 0;
	}
	for (i = 0, n = strlen(url); i < n; i++)
		if (url[i] == ' ' || strchr("\"<>\\^`{|}?#@", url[i]) != NULL) {
			*why = "must be http(s)://host[:port][/path], without spaces, a query, a "
			    "fragment or user information";
			return 0;
		}
	if (region_of_url("", url, region) != CB_OK) {
		*why = "must be an https URL";
		return 0;
	}
	if (strncasecmp(url, "http://", 7) == 0) {
		a = url + 7;
		e = a + strcspn(a, ":/");
		n = (size_t)(e - a);
		if (!((n == 9 && strncasecmp(a, "127.0.0.1", 9) == 0) ||
		    (n == 9 && strncasecmp(a, "localhost", 9) == 0) ||
		    (n == 5 && strncmp(a, "[::1]", 5) == 0))) {
			*why = "must use https (plain http only to a loopback test server)";
			return 0;
		}
	}
	return 1;
}

static int
sfc_fields_check(const cJSON *f, char *ptr, size_t ptrsz, const char **why)
{
	const cJSON	*e;
	char		 base[SFCONN_PTR_BUFSZ];

	if (!cJSON_IsObject(f)) {
		*why = "mapping: \"fields\" must be an object of broker field: org field";
		return -1;
	}
	if (cJSON_GetArraySize(f) > SFCONN_MAP_FIELDS) {
		*why = "mapping: at most 64 fields per object";
		return -1;
	}
	util_strlcpy(base, ptr, sizeof(base));
	cJSON_ArrayForEach(e, f) {
		jv_pointer(ptr, ptrsz, base, e->string);
		if (!sf_api_name_ok(e->string) || !cJSON_IsString(e) ||
		    !sf_api_name_ok(e->valuestring)) {
			*why = "mapping: every field and its target must be an API name";
			return -1;
		}
	}
	util_strlcpy(ptr, base, ptrsz);
	return 0;
}

int
sfconn_mapping_check(const cJSON *m, const char **why)
{
	char	 ptr[SFCONN_PTR_BUFSZ];

	return sfconn_mapping_check_at(m, ptr, sizeof(ptr), why);
}

int
sfconn_mapping_check_at(const cJSON *m, char *ptr, size_t ptrsz, const char **why)
{
	const cJSON	*o, *e;
	char		 obj[SFCONN_PTR_BUFSZ];

	util_strlcpy(ptr, "", ptrsz);
	if (!cJSON_IsObject(m)) {
		*why = "must be an object";
		return -1;
	}
	if (cJSON_GetArraySize(m) > SFCONN_MAP_OBJECTS) {
		*why = "at most 16 objects";
		return -1;
	}
	cJSON_ArrayForEach(o, m) {
		jv_pointer(ptr, ptrsz, "", o->string);
		if (!sf_api_name_ok(o->string) || !cJSON_IsObject(o)) {
			*why = "each member is an object's API name mapped to {object, ext_field, fields}";
			return -1;
		}
		util_strlcpy(obj, ptr, sizeof(obj));
		cJSON_ArrayForEach(e, o) {
			jv_pointer(ptr, ptrsz, obj, e->string);
			if (strcmp(e->string, "object") == 0 || strcmp(e->string, "ext_field") == 0) {
				if (!cJSON_IsString(e) || !sf_api_name_ok(e->valuestring)) {
					*why = "\"object\" and \"ext_field\" must be API names";
					return -1;
				}
			} else if (strcmp(e->string, "fields") == 0) {
				if (sfc_fields_check(e, ptr, ptrsz, why) != 0)
					return -1;
			} else {
				*why = "unknown member: an object maps only object, ext_field and fields";
				return -1;
			}
		}
	}
	util_strlcpy(ptr, "", ptrsz);
	return 0;
}

static int
sfc_bad(const char **field, const char *name, char *why, size_t whysz, const char *reason)
{
	*field = name;
	util_strlcpy(why, reason, whysz);
	return CB_ERR_VALIDATION;
}

int
sfconn_validate(const struct sfconn_in *in, char key_sha[SFCONN_SHA_BUFSZ], const char **field,
    char *why, size_t whysz)
{
	const char	*w = NULL;
	char		 err[256];

	key_sha[0] = '\0';
	if (!sfc_url_ok(in->login_url, &w))
		return sfc_bad(field, "login_url", why, whysz, w);
	if (in->audience != NULL && !sfc_url_ok(in->audience, &w))
		return sfc_bad(field, "audience", why, whysz, w);
	if (in->instance_url != NULL && !sfc_url_ok(in->instance_url, &w))
		return sfc_bad(field, "instance_url", why, whysz, w);
	if (!util_text_ok(in->client_id, SFCONN_NAME_MAX))
		return sfc_bad(field, "client_id", why, whysz,
		    "must be 1 to 256 characters without control characters");
	if (!util_text_ok(in->username, SFCONN_NAME_MAX))
		return sfc_bad(field, "username", why, whysz,
		    "must be 1 to 256 characters without control characters");
	if (in->mapping != NULL && sfconn_mapping_check(in->mapping, &w) != 0)
		return sfc_bad(field, "mapping", why, whysz, w);
	if (in->private_key != NULL && sf_key_pem_check(in->private_key,
	    strlen(in->private_key), key_sha, err, sizeof(err)) != CB_OK)
		return sfc_bad(field, "private_key", why, whysz,
		    "must be an unencrypted PEM RSA private key of at least 2048 bits");
	return CB_OK;
}

/* ---- sealing -------------------------------------------------------- */

static void
sfc_aad(const char *org, char *out, size_t outsz)
{
	snprintf(out, outsz, "sf_connections:%s:key", org);
}

static int
sfc_seal(const struct seal_keyring *kr, const char *org, const char *pem, struct buf *out)
{
	char	 aad[64];
	int	 rc;

	sfc_aad(org, aad, sizeof(aad));
	rc = seal_seal_text(kr, SEAL_PURPOSE_TOKENS, (const unsigned char *)pem, strlen(pem), aad,
	    out);
	return rc == CB_ERR_CONFIG ? CB_ERR_UNAVAILABLE : rc;
}

static int
sfc_open(const struct seal_keyring *kr, const char *org, const char *text, char **pem)
{
	struct buf	 plain;
	char		 aad[64];
	int		 rc;

	*pem = NULL;
	sfc_aad(org, aad, sizeof(aad));
	buf_init(&plain, SFCONN_PEM_MAX + 1);
	if ((rc = seal_open_text(kr, SEAL_PURPOSE_TOKENS, text, aad, &plain)) == CB_OK)
		*pem = util_strndup(plain.data, plain.len);
	buf_wipe(&plain);
	return rc;
}

/* ---- views ---------------------------------------------------------- */

static void
sfc_str(cJSON *o, const char *k, const struct db_res *res, size_t i, int col)
{
	if ((db_isnull(res, i, col) || db_val(res, i, col)[0] == '\0' ?
	    cJSON_AddNullToObject(o, k) : cJSON_AddStringToObject(o, k, db_val(res, i, col))) == NULL)
		util_oom();
}

static cJSON *
sfc_key_view(const struct db_res *res, size_t i, int col, long long warn_days, int next)
{
	cJSON		*k;
	long long	 age = 0;

	if (db_isnull(res, i, col))
		return cJSON_CreateNull();
	if ((k = cJSON_CreateObject()) == NULL)
		util_oom();
	sfc_str(k, "public_key_sha256", res, i, col);
	sfc_str(k, "installed_at", res, i, col + 1);
	(void)util_parse_ll(db_val(res, i, col + 2), -1000000, 1000000, &age);
	cJSON_AddNumberToObject(k, "age_days", (double)age);
	cJSON_AddBoolToObject(k, "rotation_due", age >= warn_days);
	if (next)
		sfc_str(k, "overlap_until", res, i, col + 3);
	return k;
}

/* A row of SFC_COLS: never a key. */
static cJSON *
sfc_view(const struct db_res *res, size_t i, const struct settings *s)
{
	cJSON		*o = cJSON_CreateObject(), *m, *w;
	long long	 v = 0;
	char		 msg[160];

	if (o == NULL)
		util_oom();
	sfc_str(o, "org_id", res, i, 0);
	sfc_str(o, "org", res, i, 1);
	sfc_str(o, "org_region", res, i, 18);
	sfc_str(o, "region", res, i, 2);
	sfc_str(o, "login_url", res, i, 3);
	sfc_str(o, "audience", res, i, 4);
	sfc_str(o, "instance_url", res, i, 5);
	sfc_str(o, "client_id", res, i, 6);
	sfc_str(o, "username", res, i, 7);
	if ((m = cJSON_Parse(db_val(res, i, 8))) == NULL)
		m = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "mapping", m);
	cJSON_AddItemToObject(o, "key", sfc_key_view(res, i, 9, s->sf_key_warn_days, 0));
	cJSON_AddItemToObject(o, "next_key", sfc_key_view(res, i, 12, s->sf_key_warn_days, 1));
	(void)util_parse_ll(db_val(res, i, 16), 0, 1LL << 62, &v);
	cJSON_AddNumberToObject(o, "version", (double)v);
	sfc_str(o, "updated_at", res, i, 17);
	if ((w = cJSON_AddArrayToObject(o, "warnings")) == NULL)
		util_oom();
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "key"),
	    "rotation_due"))) {
		snprintf(msg, sizeof(msg), "the current key is %s days old: rotate it "
		    "(CB_SF_KEY_WARN_DAYS %lld; cb-admin sf-rotate)", db_val(res, i, 11),
		    s->sf_key_warn_days);
		cJSON_AddItemToArray(w, cJSON_CreateString(msg));
	}
	return o;
}

int
sfconn_get(struct db *db, const struct settings *s, const char *org, cJSON **view)
{
	struct db_res	*res = NULL;
	char		 ov[24];
	int		 rc;

	*view = NULL;
	snprintf(ov, sizeof(ov), "%lld", s->sf_key_overlap_s);
	rc = db_query(db, &res, "SELECT " SFC_COLS " WHERE c.org_id = $2::bigint", 2,
	    (const char *[]){ ov, org });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc == CB_OK)
		*view = sfc_view(res, 0, s);
	db_res_free(res);
	return rc;
}

int
sfconn_list(struct db *db, const struct settings *s, cJSON **view)
{
	struct db_res	*res = NULL;
	cJSON		*arr;
	char		 ov[24];
	size_t		 i;
	int		 rc;

	*view = NULL;
	snprintf(ov, sizeof(ov), "%lld", s->sf_key_overlap_s);
	if ((rc = db_query(db, &res, "SELECT " SFC_COLS " ORDER BY c.org_id LIMIT 10000", 1,
	    (const char *[]){ ov })) != CB_OK)
		return rc;
	if ((*view = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(*view, "connections")) == NULL)
		util_oom();
	for (i = 0; i < db_rows(res); i++)
		cJSON_AddItemToArray(arr, sfc_view(res, i, s));
	db_res_free(res);
	return CB_OK;
}

/* ---- writes --------------------------------------------------------- */

/* The SHA-256 of what the connection says besides its key (for the audit row). */
static void
sfc_config_sha(const struct sfconn_in *in, const char *mapping, char hex[SFCONN_SHA_BUFSZ])
{
	crypto_hash_sha256_state	 st;
	unsigned char			 h[crypto_hash_sha256_BYTES];
	const char			*parts[6];
	size_t				 i;

	parts[0] = in->login_url;
	parts[1] = in->audience ? in->audience : "";
	parts[2] = in->instance_url ? in->instance_url : "";
	parts[3] = in->client_id;
	parts[4] = in->username;
	parts[5] = mapping;
	crypto_hash_sha256_init(&st);
	for (i = 0; i < 6; i++)
		crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
	crypto_hash_sha256_final(&st, h);
	util_hex(hex, h, sizeof(h));
}

/* The tenant's pin ("" none) into pin; CB_ERR_NOT_FOUND if there is no such tenant. */
static int
sfc_org_region(struct db *db, const char *org, char pin[REGION_BUFSZ])
{
	struct db_res	*res = NULL;
	int		 rc;

	pin[0] = '\0';
	rc = db_query(db, &res, "SELECT coalesce(region, '') FROM orgs WHERE id = $1::bigint", 1,
	    (const char *[]){ org });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc == CB_OK)
		util_strlcpy(pin, db_val(res, 0, 0), REGION_BUFSZ);
	db_res_free(res);
	return rc;
}

int
sfconn_put(struct db *db, const struct seal_keyring *kr, const struct settings *s,
    const char *org, const struct sfconn_in *in, const char *key_sha, const char *actor,
    const char *cli_user, cJSON **view, const char **field, char *why, size_t whysz)
{
	struct db_res	*res = NULL;
	struct buf	 sealed;
	char		 pin[REGION_BUFSZ], reg[REGION_BUFSZ], ireg[REGION_BUFSZ];
	char		 cfg[SFCONN_SHA_BUFSZ], *mapping = NULL;
	const char	*aud = in->audience ? in->audience : SF_DEFAULT_AUDIENCE;
	int		 rc;

	*view = NULL;
	why[0] = '\0';
	buf_init(&sealed, SFC_SEALED_MAX);
	if ((rc = sfc_org_region(db, org, pin)) != CB_OK)
		goto out;
	/* Residency: where the key is presented and where the data goes. */
	if ((rc = region_url_check(s->region_hosts, pin, in->login_url, reg, why, whysz)) != CB_OK) {
		*field = "login_url";
		goto out;
	}
	if (in->instance_url != NULL && (rc = region_url_check(s->region_hosts, pin,
	    in->instance_url, ireg, why, whysz)) != CB_OK) {
		*field = "instance_url";
		goto out;
	}
	if (in->private_key == NULL) {
		rc = db_query(db, &res, "SELECT 1 FROM sf_connections WHERE org_id = $1::bigint", 1,
		    (const char *[]){ org });
		if (rc == CB_OK && db_rows(res) != 1) {
			*field = "private_key";
			util_strlcpy(why, "required: the tenant has no Salesforce connection yet", whysz);
			rc = CB_ERR_VALIDATION;
		}
		db_res_free(res);
		res = NULL;
		if (rc != CB_OK)
			goto out;
	} else if ((rc = sfc_seal(kr, org, in->private_key, &sealed)) != CB_OK)
		goto out;
	if ((mapping = in->mapping ? cJSON_PrintUnformatted(in->mapping) :
	    util_strdup("{}")) == NULL)
		util_oom();
	sfc_config_sha(in, mapping, cfg);
	rc = db_query(db, &res,
	    "WITH u AS (INSERT INTO sf_connections AS c (org_id, region, login_url, audience,"
	    "   instance_url, client_id, username, mapping, key_sealed, key_sha256)"
	    " VALUES ($1::bigint, nullif($2, ''), $3, $4, $5, $6, $7, $8::jsonb,"
	    "   coalesce($9, (SELECT key_sealed FROM sf_connections WHERE org_id = $1::bigint)),"
	    "   coalesce($10, (SELECT key_sha256 FROM sf_connections WHERE org_id = $1::bigint)))"
	    " ON CONFLICT (org_id) DO UPDATE SET region = EXCLUDED.region,"
	    "   login_url = EXCLUDED.login_url, audience = EXCLUDED.audience,"
	    "   instance_url = EXCLUDED.instance_url, client_id = EXCLUDED.client_id,"
	    "   username = EXCLUDED.username, mapping = EXCLUDED.mapping,"
	    "   key_sealed = EXCLUDED.key_sealed, key_sha256 = EXCLUDED.key_sha256,"
	    "   key_at = CASE WHEN $9::text IS NULL THEN c.key_at ELSE now() END,"
	    "   next_key_sealed = CASE WHEN $9::text IS NULL THEN c.next_key_sealed END,"
	    "   next_key_sha256 = CASE WHEN $9::text IS NULL THEN c.next_key_sha256 END,"
	    "   next_key_at = CASE WHEN $9::text IS NULL THEN c.next_key_at END,"
	    "   version = c.version + 1, updated_at = now()"
	    " RETURNING org_id, region, key_sha256, version),"
	    " a AS (" AUDIT_INSERT_SELECT("u.org_id", "$11",
	    "CASE WHEN u.version = 1 THEN 'salesforce.connected' ELSE 'salesforce.updated' END",
	    "u.org_id::text", "jsonb_build_object('region', u.region, 'key_sha256', u.key_sha256,"
	    " 'key_replaced', $9::text IS NOT NULL, 'config_sha256', $12::text,"
	    " 'cli_user', $13::text)", "u") ")"
	    " SELECT org_id::text FROM u", 13,
	    (const char *[]){ org, reg, in->login_url, aud, in->instance_url, in->client_id,
	    in->username, mapping, in->private_key ? buf_cstr(&sealed) : NULL,
	    in->private_key ? key_sha : NULL, actor, cfg, cli_user });
	db_res_free(res);
	if (rc == CB_OK)
		rc = sfconn_get(db, s, org, view);
out:
	free(mapping);
	buf_free(&sealed);
	return rc;
}

int
sfconn_rotate(struct db *db, const struct seal_keyring *kr, const struct settings *s,
    const char *org, const char *pem, const char *actor, const char *cli_user, cJSON **view,
    char *why, size_t whysz)
{
	struct db_res	*res = NULL;
	struct buf	 sealed;
	char		 sha[SFCONN_SHA_BUFSZ], err[256];
	int		 rc;

	*view = NULL;
	why[0] = '\0';
	buf_init(&sealed, SFC_SEALED_MAX);
	if (pem == NULL || sf_key_pem_check(pem, strlen(pem), sha, err, sizeof(err)) != CB_OK) {
		util_strlcpy(why, "the next key must be an unencrypted PEM RSA private key of at "
		    "least 2048 bits", whysz);
		rc = CB_ERR_VALIDATION;
		goto out;
	}
	if ((rc = sfc_seal(kr, org, pem, &sealed)) != CB_OK)
		goto out;
	rc = db_query(db, &res,
	    "WITH u AS (UPDATE sf_connections SET next_key_sealed = $2, next_key_sha256 = $3,"
	    "   next_key_at = now(), version = version + 1, updated_at = now()"
	    " WHERE org_id = $1::bigint AND key_sha256 <> $3"
	    " RETURNING org_id, key_sha256, next_key_sha256),"
	    " a AS (" AUDIT_INSERT_SELECT("u.org_id", "$4", "'salesforce.key_installed'",
	    "u.org_id::text", "jsonb_build_object('key_sha256', u.key_sha256,"
	    " 'next_key_sha256', u.next_key_sha256, 'cli_user', $5::text)", "u") ")"
	    " SELECT org_id::text FROM u UNION ALL"
	    " SELECT 'same' FROM sf_connections WHERE org_id = $1::bigint AND key_sha256 = $3", 5,
	    (const char *[]){ org, buf_cstr(&sealed), sha, actor, cli_user });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	else if (rc == CB_OK && strcmp(db_val(res, 0, 0), "same") == 0) {
		util_strlcpy(why, "the next key is the current key", whysz);
		rc = CB_ERR_VALIDATION;
	}
	db_res_free(res);
	if (rc == CB_OK)
		rc = sfconn_get(db, s, org, view);
out:
	buf_free(&sealed);
	return rc;
}

/* ---- the worker's side ---------------------------------------------- */

int
sfconn_version(struct db *db, const struct settings *s, const char *org, long long *version)
{
	struct db_res	*res = NULL;
	char		 ov[24];
	int		 rc;

	*version = 0;
	snprintf(ov, sizeof(ov), "%lld", s->sf_key_overlap_s);
	/* After the overlap the next key is the current one: promoted once, audited. */
	rc = db_query(db, &res,
	    "WITH p AS (UPDATE sf_connections SET key_sealed = next_key_sealed,"
	    "   key_sha256 = next_key_sha256, key_at = next_key_at, next_key_sealed = NULL,"
	    "   next_key_sha256 = NULL, next_key_at = NULL, version = version + 1,"
	    "   updated_at = now()"
	    " WHERE org_id = $1::bigint AND next_key_at <= now() - make_interval(secs => $2::int)"
	    " RETURNING org_id, key_sha256, version),"
	    " a AS (" AUDIT_INSERT_SELECT("p.org_id", "'system'", "'salesforce.key_promoted'",
	    "p.org_id::text", "jsonb_build_object('key_sha256', p.key_sha256)", "p") ")"
	    " SELECT coalesce((SELECT version FROM p),"
	    "   (SELECT version FROM sf_connections WHERE org_id = $1::bigint), 0)::text", 2,
	    (const char *[]){ org, ov });
	if (rc == CB_OK && db_rows(res) == 1)
		(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 62, version);
	db_res_free(res);
	return rc;
}

int
sfconn_load(struct db *db, const struct seal_keyring *kr, const struct settings *s,
    const char *org, struct sfconn *c)
{
	struct db_res	*res = NULL;
	long long	 v;
	int		 rc;

	memset(c, 0, sizeof(*c));
	if ((rc = sfconn_version(db, s, org, &v)) != CB_OK)
		return rc;
	if (v == 0)
		return CB_ERR_NOT_FOUND;
	rc = db_query(db, &res, "SELECT c.version::text, coalesce(g.region, ''), c.login_url,"
	    " c.audience, c.instance_url, c.client_id, c.username, c.mapping::text, c.key_sealed,"
	    " c.key_sha256, c.next_key_sealed, c.next_key_sha256"
	    " FROM sf_connections c JOIN orgs g ON g.id = c.org_id WHERE c.org_id = $1::bigint", 1,
	    (const char *[]){ org });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc != CB_OK)
		goto out;
	util_strlcpy(c->org, org, sizeof(c->org));
	(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 62, &c->version);
	util_strlcpy(c->region, db_val(res, 0, 1), sizeof(c->region));
	c->login_url = util_strdup(db_val(res, 0, 2));
	c->audience = util_strdup(db_val(res, 0, 3));
	c->instance_url = db_isnull(res, 0, 4) ? NULL : util_strdup(db_val(res, 0, 4));
	c->client_id = util_strdup(db_val(res, 0, 5));
	c->username = util_strdup(db_val(res, 0, 6));
	if ((c->mapping = cJSON_Parse(db_val(res, 0, 7))) == NULL)
		c->mapping = cJSON_CreateObject();
	util_strlcpy(c->key_sha, db_val(res, 0, 9), sizeof(c->key_sha));
	if ((rc = sfc_open(kr, org, db_val(res, 0, 8), &c->key_pem)) != CB_OK)
		goto out;
	if (!db_isnull(res, 0, 10)) {
		util_strlcpy(c->next_sha, db_val(res, 0, 11), sizeof(c->next_sha));
		rc = sfc_open(kr, org, db_val(res, 0, 10), &c->next_pem);
	}
out:
	db_res_free(res);
	if (rc != CB_OK)
		sfconn_free(c);
	return rc;
}

static void
sfc_wipe(char **p)
{
	if (*p != NULL) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void
sfconn_free(struct sfconn *c)
{
	sfc_wipe(&c->key_pem);
	sfc_wipe(&c->next_pem);
	free(c->login_url);
	free(c->audience);
	free(c->instance_url);
	free(c->client_id);
	free(c->username);
	cJSON_Delete(c->mapping);
	memset(c, 0, sizeof(*c));
}

/* ---- pinning a tenant ----------------------------------------------- */

int
sfconn_org_region_set(struct db *db, const struct settings *s, const char *org,
    const char *region, const char *cli_user, char *why, size_t whysz)
{
	struct db_res	*res = NULL;
	const char	*r = region == NULL || strcmp(region, "-") == 0 ? NULL : region;
	int		 rc;

	why[0] = '\0';
	if (r != NULL && !region_ok(r)) {
		snprintf(why, whysz, "not a region: one of %s, or - to unpin", region_list());
		return CB_ERR_VALIDATION;
	}
	if (r != NULL && strcmp(s->region ? s->region : "", r) != 0) {
		snprintf(why, whysz, "%s: this deployment's database and data keys are in region "
		    "%s (CB_REGION): a tenant can be pinned only to it", REGION_RULE,
		    s->region && s->region[0] ? s->region : "none");
		return CB_ERR_RESIDENCY;
	}
	/* What the tenant already has must be in the region: counted, then refused. */
	rc = db_query(db, &res, "SELECT (SELECT count(*) FROM orgs WHERE id = $1::bigint),"
	    " (SELECT count(*) FROM data_keys WHERE state = 'current'"
	    "   AND region IS DISTINCT FROM $2),"
	    " (SELECT count(*) FROM sf_connections WHERE org_id = $1::bigint"
	    "   AND region IS DISTINCT FROM $2),"
	    " (SELECT count(*) FROM webhook_endpoints WHERE org_id = $1::bigint"
	    "   AND region IS DISTINCT FROM $2)", 2, (const char *[]){ org, r });
	if (rc != CB_OK)
		goto out;
	if (strcmp(db_val(res, 0, 0), "1") != 0) {
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	if (r != NULL && strcmp(db_val(res, 0, 1), "0") != 0) {
		snprintf(why, whysz, "%s: %s current data key(s) are not tagged with region %s: run "
		    "cb-admin data-key-rotate pii and tokens with CB_REGION=%s, then cb-admin reseal",
		    REGION_RULE, db_val(res, 0, 1), r, r);
		rc = CB_ERR_RESIDENCY;
	} else if (r != NULL && strcmp(db_val(res, 0, 2), "0") != 0) {
		snprintf(why, whysz, "%s: the tenant's Salesforce connection is not in region %s",
		    REGION_RULE, r);
		rc = CB_ERR_RESIDENCY;
	} else if (r != NULL && strcmp(db_val(res, 0, 3), "0") != 0) {
		snprintf(why, whysz, "%s: %s of the tenant's webhook endpoints are not in region %s",
		    REGION_RULE, db_val(res, 0, 3), r);
		rc = CB_ERR_RESIDENCY;
	}
	db_res_free(res);
	res = NULL;
	if (rc != CB_OK)
		goto out;
	rc = db_exec(db, "WITH u AS (UPDATE orgs SET region = $2 WHERE id = $1::bigint"
	    "   RETURNING id, region)"
	    " " AUDIT_INSERT_SELECT("u.id", "'" AUDIT_ACTOR_OPERATOR "'", "'org.region_set'",
	    "u.id::text", "jsonb_build_object('region', u.region, 'cli_user', $3::text)", "u"), 3,
	    (const char *[]){ org, r, cli_user });
out:
	db_res_free(res);
	return rc;
}
