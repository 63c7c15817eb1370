/*
 * sink_sf_token: the Salesforce sink's connections, their tokens and their
 * trouble (see sink_salesforce.c for the whole story).  A tenant with its
 * own connection (lib/sfconn.h) delivers through it, any other through the
 * default (CB_SF_*); each connection has its own token name, pause and
 * status (sink_sf.h).  During a key rotation's overlap a tenant's mint
 * tries the next key first and falls back to the current one when the
 * next is refused (invalid_grant: its certificate is not in the connected
 * app yet).  One mint per token lifetime for
 * every process and node: the token is cached sealed in sf_tokens (bound
 * to "sf_tokens:<name>:token"); a process that needs one takes a
 * transaction-scoped advisory lock on the name, looks again, and mints only
 * if what it finds is missing, older than CB_SF_SESSION_S -
 * CB_SF_REFRESH_MARGIN_S, or the very token that just answered 401.  A
 * configuration error pauses the sink for every worker; invalid_grant and
 * repeated OAuth failures raise alerts.  The token is never logged and
 * every plain copy is wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alert.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "keyring.h"
#include "log.h"
#include "metrics.h"
#include "region.h"
#include "reseal.h"
#include "sf.h"
#include "sfconn.h"
#include "sink.h"
#include "sink_sf.h"
#include "util.h"

#define SFK_TOKEN_SEALED_MAX	16384u

/* ---- the token ------------------------------------------------------- */

/*
 * sf_tokens.name: "jwt:" + a hash of who logs in where, and for a tenant's
 * own connection of the tenant and its keys too: a new key set (a
 * rotation, a promotion) mints afresh.
 */
static void
sfk_name(struct sfc *c, const char *login, const char *aud, const char *client,
    const char *user)
{
	crypto_generichash_state st;
	unsigned char		 h[16];
	const char		*parts[7];
	size_t			 i;

	parts[0] = login ? login : "";
	parts[1] = aud ? aud : "";
	parts[2] = client ? client : "";
	parts[3] = user ? user : "";
	parts[4] = c->org;
	parts[5] = c->cur_sha;
	parts[6] = c->nxt_sha;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	/* The default connection's name stays what it was before tenants had their own. */
	for (i = 0; i < (c->org[0] ? 7u : 4u); i++)
		crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(c->name, "jwt:", 4);
	util_hex(c->name + 4, h, sizeof(h));
}

/* After a mint (inside our locked transaction): keep the token sealed. */
static void
sfk_token_store(const char *token, const char *instance_url, void *ud)
{
	struct sfc		*k = ud;
	struct seal_keyring	*kr = keyring_get(k->k->env->keys, k->k->env->db);
	struct buf		 plain, sealed;
	int			 rc;

	buf_init(&plain, SFK_TOKEN_SEALED_MAX);
	buf_init(&sealed, SFK_TOKEN_SEALED_MAX);
	if (kr == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	if ((rc = buf_puts(&plain, "{\"access_token\":")) != CB_OK ||
	    (rc = buf_json_str(&plain, token)) != CB_OK ||
	    (rc = buf_puts(&plain, ",\"instance_url\":")) != CB_OK ||
	    (rc = buf_json_str(&plain, instance_url)) != CB_OK ||
	    (rc = buf_putc(&plain, '}')) != CB_OK)
		goto out;
	if ((rc = reseal_seal_value(kr, "sf_tokens", k->name, plain.data, plain.len,
	    &sealed)) != CB_OK)
		goto out;
	util_strlcpy(k->minted_instance, instance_url, sizeof(k->minted_instance));
	rc = db_exec(k->k->env->db, "INSERT INTO sf_tokens (name, instance_url, token_sealed)"
	    " VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET instance_url = EXCLUDED.instance_url,"
	    " token_sealed = EXCLUDED.token_sealed, updated_at = now()", 3,
	    (const char *[]){ k->name, instance_url, buf_cstr(&sealed) });
out:
	if (rc == CB_OK)
		log_kv(LOG_LVL_INFO, "sf_token_stored", "name", k->name, NULL);
	else
		log_kv(LOG_LVL_WARN, "sf_token_store_failed", "name", k->name,
		    "error", errs_name(rc), NULL);
	buf_wipe(&plain);
	buf_free(&sealed);
}

static int	sfk_instance_ok(struct sfc *, struct sf_result *);

/* Seed the client with a sealed token text.  CB_OK or why not. */
static int
sfk_token_open(struct sfc *k, const char *sealed_text)
{
	struct sf_result	 why;
	struct seal_keyring	*kr;
	struct buf		 plain;
	struct jv_error		 je;
	cJSON			*doc = NULL;
	cJSON			*at = NULL, *iu;
	int			 rc = CB_ERR_VALIDATION;

	buf_init(&plain, SFK_TOKEN_SEALED_MAX);
	if ((kr = keyring_get(k->k->env->keys, k->k->env->db)) == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	if (reseal_open_value(kr, "sf_tokens", k->name, sealed_text, &plain) != CB_OK)
		goto out;
	if (jv_parse(plain.data, plain.len, &doc, &je) != CB_OK || !cJSON_IsObject(doc))
		goto out;
	at = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	iu = cJSON_GetObjectItemCaseSensitive(doc, "instance_url");
	if (!cJSON_IsString(at) || !cJSON_IsString(iu))
		goto out;
	/* A token cached for another instance (the connection changed) is not used. */
	util_strlcpy(k->minted_instance, iu->valuestring, sizeof(k->minted_instance));
	if (sfk_instance_ok(k, &why) != CB_OK)
		goto out;
	rc = sf_set_token(k->sf, at->valuestring, iu->valuestring);
out:
	if (cJSON_IsString(at))
		sodium_memzero(at->valuestring, strlen(at->valuestring));
	cJSON_Delete(doc);
	buf_wipe(&plain);
	return rc;
}

static void
sfk_conf_fail(struct sf_result *res, const char *code, const char *msg)
{
	memset(res, 0, sizeof(*res));
	res->kind = SF_CONFIG;
	util_strlcpy(res->error_code, code, sizeof(res->error_code));
	util_strlcpy(res->message, msg, sizeof(res->message));
}

/* The default connection's client, from the settings. */
static int
sfk_client(struct sfc *k, struct sf_result *res)
{
	const struct settings	*s = k->k->env->s;
	struct sf_conf		 c;
	char			 err[256];

	if (k->sf != NULL)
		return CB_OK;
	if (s->sf_client_id == NULL || s->sf_username == NULL || s->sf_private_key_file == NULL) {
		sfk_conf_fail(res, "NOT_CONFIGURED", "CB_SF_CLIENT_ID, CB_SF_USERNAME and "
		    "CB_SF_PRIVATE_KEY_FILE must be set");
		return CB_ERR_CONFIG;
	}
	memset(&c, 0, sizeof(c));
	c.login_url = s->sf_login_url;
	c.audience = s->sf_audience;
	c.client_id = s->sf_client_id;
	c.username = s->sf_username;
	c.private_key_file = s->sf_private_key_file;
	c.api_version = s->sf_api_version;
	c.timeout_ms = (long)s->sf_timeout_ms;
	c.http = k->k->env->http;
	if ((k->sf = sf_client_new(&c, err, sizeof(err))) == NULL) {
		sfk_conf_fail(res, "CLIENT", err);
		return CB_ERR_CONFIG;
	}
	sf_set_token_hook(k->sf, sfk_token_store, k);
	return CB_OK;
}

static void
sfc_clear(struct sfc *c)
{
	if (c->nxt != NULL && c->nxt != c->cur)
		sf_client_free(c->nxt);
	sf_client_free(c->cur);
	if (c->sf != c->cur && c->sf != c->nxt)
		sf_client_free(c->sf);
	cJSON_Delete(c->mapping);
	c->sf = c->cur = c->nxt = NULL;
	c->mapping = NULL;
	c->token_ver[0] = '\0';
	c->cur_sha[0] = c->nxt_sha[0] = '\0';
	c->broken = 0;
}

/* One key's client of a tenant's connection (pem: wiped by the caller). */
static struct sf_client *
sfc_client_new(struct sfc *k, const struct sfconn *t, const char *pem, char *err, size_t errsz)
{
	struct sf_conf		 c;
	struct sf_client	*sf;

	memset(&c, 0, sizeof(c));
	c.login_url = t->login_url;
	c.audience = t->audience;
	c.client_id = t->client_id;
	c.username = t->username;
	c.private_key_pem = pem;
	c.api_version = k->k->env->s->sf_api_version;
	c.timeout_ms = (long)k->k->env->s->sf_timeout_ms;
	c.http = k->k->env->http;
	if ((sf = sf_client_new(&c, err, errsz)) != NULL)
		sf_set_token_hook(sf, sfk_token_store, k);
	return sf;
}

/* (Re)build a tenant's connection from its row: both keys' clients. */
static void
sfc_build(struct sfc *k, const struct sfconn *t)
{
	char	 err[256] = "";

	sfc_clear(k);
	k->version = t->version;
	util_strlcpy(k->pin, t->region, sizeof(k->pin));
	util_strlcpy(k->want_instance, t->instance_url ? t->instance_url : "",
	    sizeof(k->want_instance));
	util_strlcpy(k->cur_sha, t->key_sha, sizeof(k->cur_sha));
	util_strlcpy(k->nxt_sha, t->next_pem ? t->next_sha : "", sizeof(k->nxt_sha));
	k->mapping = cJSON_Duplicate(t->mapping, 1);
	sfk_name(k, t->login_url, t->audience, t->client_id, t->username);
	k->cur = sfc_client_new(k, t, t->key_pem, err, sizeof(err));
	if (t->next_pem != NULL && k->cur != NULL)
		k->nxt = sfc_client_new(k, t, t->next_pem, err, sizeof(err));
	k->sf = k->nxt ? k->nxt : k->cur;
	if (k->cur == NULL || (t->next_pem != NULL && k->nxt == NULL)) {
		log_kv(LOG_LVL_ERROR, "sf_connection_unusable", "org", k->org, "error", err, NULL);
		k->broken = 1;
	}
	log_kv(LOG_LVL_INFO, "sf_connection_loaded", "org", k->org, "name", k->name,
	    "keys", t->next_pem ? "current+next" : "current", NULL);
}

struct sfc *
sfk_conn(struct sfk *k, const char *org)
{
	struct sfc		*c;
	struct seal_keyring	*kr;
	struct sfconn		 t;
	long long		 v;
	int			 rc;

	if (org == NULL || org[0] == '\0' ||
	    sfconn_version(k->env->db, k->env->s, org, &v) != CB_OK)
		return org == NULL || org[0] == '\0' ? &k->dflt : NULL;
	if (v == 0)
		return &k->dflt;
	for (c = k->conns; c != NULL; c = c->next)
		if (strcmp(c->org, org) == 0)
			break;
	if (c == NULL) {
		c = util_calloc(1, sizeof(*c));
		c->k = k;
		util_strlcpy(c->org, org, sizeof(c->org));
		snprintf(c->scope, sizeof(c->scope), "salesforce:%s", org);
		c->next = k->conns;
		k->conns = c;
	}
	if (c->version == v && (c->cur != NULL || c->broken))
		return c;
	if ((kr = keyring_get(k->env->keys, k->env->db)) == NULL)
		return NULL;
	rc = sfconn_load(k->env->db, kr, k->env->s, org, &t);
	/* Sealed with a data key newer than this process has loaded: load it now. */
	if (rc == CB_ERR_CRYPTO && (kr = keyring_recheck(k->env->keys, k->env->db)) != NULL)
		rc = sfconn_load(k->env->db, kr, k->env->s, org, &t);
	if (rc != CB_OK) {
		if (rc == CB_ERR_NOT_FOUND)
			return &k->dflt;
		if (rc != CB_ERR_CRYPTO)
			return NULL;
		/* A key that does not open is broken configuration: paused, alerted. */
		sfc_clear(c);
		c->version = v;
		c->broken = 1;
		log_kv(LOG_LVL_ERROR, "sf_connection_unusable", "org", org,
		    "error", "a sealed key does not open", NULL);
		return c;
	}
	sfc_build(c, &t);
	sfconn_free(&t);
	return c;
}

void
sfk_default_init(struct sfk *k)
{
	const struct settings	*s = k->env->s;

	k->dflt.k = k;
	util_strlcpy(k->dflt.scope, "salesforce", sizeof(k->dflt.scope));
	sfk_name(&k->dflt, s->sf_login_url, s->sf_audience, s->sf_client_id, s->sf_username);
}

void
sfk_conns_free(struct sfk *k)
{
	struct sfc	*c, *n;

	for (c = k->conns; c != NULL; c = n) {
		n = c->next;
		sfc_clear(c);
		free(c);
	}
	k->conns = NULL;
	sf_client_free(k->dflt.sf);
	k->dflt.sf = NULL;
}

/*
 * Where a tenant's fresh token sends its records: the connection's
 * instance_url when one is set, and for a pinned tenant a host in its region
 * (docs/residency.md).  Anything else is refused before any call is made
 * with the token: a configuration error (the connection pauses).
 */
static int
sfk_instance_ok(struct sfc *k, struct sf_result *res)
{
	char	 reg[REGION_BUFSZ], why[256];
	size_t	 n = strlen(k->want_instance);

	if (k->org[0] == '\0')
		return CB_OK;
	if (n > 0 && (strncmp(k->want_instance, k->minted_instance, n) != 0 ||
	    (k->minted_instance[n] != '\0' && strcmp(k->minted_instance + n, "/") != 0))) {
		sfk_conf_fail(res, "INSTANCE_MISMATCH", "the token's instance_url is not the "
		    "connection's instance_url: nothing was sent");
		return CB_ERR_CONFIG;
	}
	if (region_url_check(k->k->env->s->region_hosts, k->pin, k->minted_instance, reg, why,
	    sizeof(why)) != CB_OK) {
		sfk_conf_fail(res, "RESIDENCY", why);
		return CB_ERR_CONFIG;
	}
	return CB_OK;
}

/*
 * Mint with the connection's keys: during a rotation's overlap the next
 * key first, the current one when the next is refused; the client that
 * minted holds the token.
 */
static int
sfk_mint(struct sfc *k, struct sf_result *res)
{
	int	 rc;

	if (k->nxt == NULL) {
		sf_invalidate_token(k->sf);
		return sf_authenticate(k->sf, res);
	}
	sf_invalidate_token(k->nxt);
	if ((rc = sf_authenticate(k->nxt, res)) == CB_OK || res->kind != SF_CONFIG) {
		k->sf = k->nxt;
		if (rc == CB_OK)
			log_kv(LOG_LVL_INFO, "sf_mint_next_key", "org", k->org, NULL);
		return rc;
	}
	log_kv(LOG_LVL_WARN, "sf_next_key_refused", "org", k->org, "error", res->error_code,
	    "fallback", "current key", NULL);
	k->sf = k->cur;
	sf_invalidate_token(k->cur);
	return sf_authenticate(k->cur, res);
}

/*
 * A usable token in the client.  stale: the version (sf_tokens.updated_at)
 * of the token that just answered 401, or NULL.  Single flight: see the
 * file comment.  Several calls of this process may come here with the same
 * stale version: the first mints, the others find a newer one.  CB_OK, or
 * res filled.
 */
int
sfk_token(struct sfc *k, const char *stale, struct sf_result *res)
{
	struct db	*db = k->k->env->db;
	struct db_res	*r = NULL;
	double		 fresh_s = (double)(k->k->env->s->sf_session_s -
			    k->k->env->s->sf_refresh_margin_s);
	double		 now_s = (double)time(NULL), epoch = 0;
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (k->org[0] == '\0' && (rc = sfk_client(k, res)) != CB_OK)
		return rc;
	if (k->org[0] != '\0' && (k->broken || k->sf == NULL)) {
		sfk_conf_fail(res, "CONNECTION", "the tenant's Salesforce connection cannot be used "
		    "(a key does not open or load): set it again");
		return CB_ERR_CONFIG;
	}
	/* Ours is fresh, and not the one that failed (or a newer one already). */
	if (k->token_ver[0] != '\0' && now_s - k->token_epoch < fresh_s &&
	    (stale == NULL || strcmp(stale, k->token_ver) != 0)) {
		metrics_add(MF_SF_TOKEN_HITS, 0, 0, 1);
		return CB_OK;
	}
	if ((rc = db_begin(db)) != CB_OK)
		goto down;
	if ((rc = db_exec(db, "SELECT pg_advisory_xact_lock(hashtextextended($1, 7426))", 1,
	    (const char *[]){ k->name })) != CB_OK ||
	    (rc = db_query(db, &r, "SELECT token_sealed, extract(epoch FROM updated_at)::float8,"
	    " updated_at::text FROM sf_tokens WHERE name = $1", 1,
	    (const char *[]){ k->name })) != CB_OK) {
		(void)db_rollback(db);
		goto down;
	}
	if (db_rows(r) == 1) {
		epoch = strtod(db_val(r, 0, 1), NULL);
		/* A fresh token other than the one that failed: someone minted it. */
		if ((stale == NULL || strcmp(db_val(r, 0, 2), stale) != 0) &&
		    now_s - epoch < fresh_s && sfk_token_open(k, db_val(r, 0, 0)) == CB_OK) {
			util_strlcpy(k->token_ver, db_val(r, 0, 2), sizeof(k->token_ver));
			k->token_epoch = epoch;
			db_res_free(r);
			(void)db_commit(db);
			log_kv(LOG_LVL_INFO, "sf_token_loaded", "name", k->name, NULL);
			metrics_add(MF_SF_TOKEN_HITS, 0, 0, 1);
			return CB_OK;
		}
	}
	db_res_free(r);
	r = NULL;
	/* Ours to mint; the hook stores it inside this transaction. */
	k->minted_instance[0] = '\0';
	if ((rc = sfk_mint(k, res)) == CB_OK && (rc = sfk_instance_ok(k, res)) != CB_OK)
		sf_invalidate_token(k->sf);
	if (rc != CB_OK) {
		/* No token now: the next call goes through this lock again. */
		k->token_ver[0] = '\0';
		(void)db_rollback(db);
		return rc;
	}
	if (db_query(db, &r, "SELECT updated_at::text, extract(epoch FROM updated_at)::float8"
	    " FROM sf_tokens WHERE name = $1", 1, (const char *[]){ k->name }) == CB_OK &&
	    db_rows(r) == 1) {
		util_strlcpy(k->token_ver, db_val(r, 0, 0), sizeof(k->token_ver));
		k->token_epoch = strtod(db_val(r, 0, 1), NULL);
	} else {
		util_strlcpy(k->token_ver, "unstored", sizeof(k->token_ver));
		k->token_epoch = now_s;
	}
	db_res_free(r);
	metrics_add(MF_SF_TOKEN_MINTS, 0, 0, 1);
	(void)db_exec(db, "INSERT INTO sink_status (sink, last_mint_at, mints) VALUES"
	    " ($1, now(), 1) ON CONFLICT (sink) DO UPDATE SET last_mint_at = now(),"
	    " mints = sink_status.mints + 1", 1, (const char *[]){ k->scope });
	if (db_commit(db) != CB_OK) {
		/* The token works; only its cache row is lost. */
		log_kv(LOG_LVL_WARN, "sf_token_commit_failed", "name", k->name, NULL);
	}
	return CB_OK;
down:
	res->kind = SF_RETRY;
	util_strlcpy(res->error_code, "CB_DB_DOWN", sizeof(res->error_code));
	util_strlcpy(res->message, "the token cache could not be read", sizeof(res->message));
	return CB_ERR_DB_DOWN;
}

/*
 * A failed mint or a refused configuration.  oauth: it came from the token
 * endpoint (counted for the OAuth-failures alert).  A configuration error
 * (SF_CONFIG) pauses the sink for everyone; invalid_grant alerts at once.
 */
void
sfk_trouble(struct sfc *c, const struct sf_result *res, int oauth)
{
	struct sfk	*k = c->k;
	struct db_res	*r = NULL;
	char		 key[128], text[512], code[80];
	int		 grant = strcmp(res->error_code, "invalid_grant") == 0;

	if (res->kind == SF_CONFIG) {
		sink_pause(k->env, c->scope, (long)k->env->s->sf_probe_s, res->error_code);
		sink_note(k->env, c->scope, "config_error", res->error_code);
	}
	if (!oauth)
		return;
	snprintf(code, sizeof(code), "oauth:%s", res->error_code);
	(void)db_exec(k->env->db, "INSERT INTO sink_failures (sink, code) VALUES ($1, $2)",
	    2, (const char *[]){ c->scope, code });
	if (db_query(k->env->db, &r, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24'),"
	    " (SELECT count(*) FROM sink_failures WHERE sink = $1 AND code LIKE 'oauth:%'"
	    "   AND at > now() - interval '1 hour')", 1, (const char *[]){ c->scope }) != CB_OK ||
	    db_rows(r) != 1) {
		db_res_free(r);
		return;
	}
	if (grant) {
		snprintf(key, sizeof(key), "%s:invalid_grant:%.10s", c->scope, db_val(r, 0, 0));
		snprintf(text, sizeof(text), ":no_entry: Salesforce refused the JWT bearer grant "
		    "(invalid_grant: %.120s). Deliveries to Salesforce are paused; nothing is "
		    "dead-lettered. Action: pre-authorize the connected app for the integration "
		    "user (or fix CB_SF_CLIENT_ID, CB_SF_USERNAME, CB_SF_AUDIENCE, the certificate); "
		    "delivery resumes by itself within %lld s of the fix.", res->message,
		    k->env->s->sf_probe_s);
		(void)alert_raise(k->env->db, c->org[0] ? c->org : NULL, "salesforce_invalid_grant", key,
		    text, NULL, NULL);
	}
	if (strtol(db_val(r, 0, 1), NULL, 10) >= k->env->s->alert_oauth_failures) {
		snprintf(key, sizeof(key), "%s:oauth_failures:%s", c->scope, db_val(r, 0, 0));
		snprintf(text, sizeof(text), ":warning: %s Salesforce OAuth failures in the last hour "
		    "(latest: %.60s). Action: check the connected app and "
		    "`GET /api/health/salesforce`.", db_val(r, 0, 1), res->error_code);
		(void)alert_raise(k->env->db, c->org[0] ? c->org : NULL, "salesforce_oauth_failures", key,
		    text, NULL, NULL);
	}
	db_res_free(r);
}
