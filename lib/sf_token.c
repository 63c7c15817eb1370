/*
 * sf_token: the OAuth 2.0 JWT bearer flow of the Salesforce client (see
 * sf.h): the RSA key, the RS256-signed assertion (libcrypto, used for
 * nothing else in the broker), the mint at {login_url}/services/oauth2/
 * token, the in-memory token cache with its hold-down after an OAuth error,
 * and the hook and seed of an external cache.
 *
 * Secrets handled here: the RSA key (kept in an EVP_PKEY), the assertion
 * (valid for two minutes, so treated like a password), the access token and
 * the Authorization header built from it.  Each lives in memory that is
 * wiped before it is freed (httpc wipes its own copies of request bodies,
 * headers and response bodies), and none is ever passed to the logger.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "httpc.h"
#include "jsonv.h"
#include "log.h"
#include "sf.h"
#include "sf_int.h"
#include "util.h"

/*
 * CONTRACTS §3.1 allows at most 180 s.  We stay well below so that our clock
 * running up to a minute ahead of Salesforce's still yields an accepted exp.
 */
#define SF_JWT_LIFETIME_S	120
#define SF_GRANT_TYPE		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SF_TOKEN_PATH		"/services/oauth2/token"
#define SF_KEY_FILE_MAX		(64L * 1024L)
/*
 * After an OAuth error we answer SF_CONFIG from memory for this long instead
 * of asking again: a worker looping over many jobs must not hammer the login
 * endpoint, which locks users out after repeated failures.
 */
#define SF_OAUTH_HOLDDOWN_MS	30000.0

/* ---- the key ----------------------------------------------------------- */

/*
 * OpenSSL would prompt on the terminal for an encrypted key; a daemon must
 * fail instead, so the callback refuses to supply a passphrase.
 */
static int
sf_no_passphrase(char *pw, int size, int rwflag, void *u)
{
	(void)pw;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
sf_ossl_reason(char *out, size_t outsz)
{
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		util_strlcpy(out, "no detail", outsz);
	else
		ERR_error_string_n(e, out, outsz);
	ERR_clear_error();
}

/* An RSA key of at least 2048 bits, or err says why (what: how to name it). */
static int
sf_key_usable(EVP_PKEY *pk, const char *what, char *err, size_t errsz)
{
	char	 why[160];
	int	 bits;

	if (pk == NULL) {
		sf_ossl_reason(why, sizeof(why));
		snprintf(err, errsz, "salesforce: %s holds no unencrypted PEM private key (%s)",
		    what, why);
		return CB_ERR_CONFIG;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		snprintf(err, errsz, "salesforce: %s is not an RSA key; the JWT bearer flow "
		    "accepts RS256 only", what);
		return CB_ERR_CONFIG;
	}
	if ((bits = EVP_PKEY_get_bits(pk)) < 2048) {
		snprintf(err, errsz, "salesforce: %s is a %d-bit RSA key; at least 2048 bits are "
		    "required", what, bits);
		return CB_ERR_CONFIG;
	}
	return CB_OK;
}

int
sf_key_load(const char *path, EVP_PKEY **out, char *err, size_t errsz)
{
	struct stat	 st;
	FILE		*fp = NULL;
	EVP_PKEY	*pk = NULL;
	int		 rc = CB_ERR_CONFIG;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "salesforce: cannot open private key %s: %s",
		    path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > SF_KEY_FILE_MAX) {
		snprintf(err, errsz, "salesforce: private key %s is not a regular "
		    "file of at most %ld bytes", path, SF_KEY_FILE_MAX);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_kv(LOG_LVL_WARN, "sf_key_permissions", "path", path,
		    "hint", "the private key should be readable by its owner only",
		    NULL);
	pk = PEM_read_PrivateKey(fp, NULL, sf_no_passphrase, NULL);
	if ((rc = sf_key_usable(pk, path, err, errsz)) != CB_OK)
		goto out;
	*out = pk;
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	if (fp != NULL)
		fclose(fp);
	return rc;
}

/* The same from PEM text in memory (a tenant's key, opened from its seal). */
int
sf_key_load_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errsz)
{
	BIO		*bio;
	EVP_PKEY	*pk = NULL;
	int		 rc;

	*out = NULL;
	if (pem == NULL || len == 0 || len > (size_t)SF_KEY_FILE_MAX) {
		snprintf(err, errsz, "salesforce: the private key is empty or over %ld bytes",
		    SF_KEY_FILE_MAX);
		return CB_ERR_CONFIG;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		util_oom();
	pk = PEM_read_bio_PrivateKey(bio, NULL, sf_no_passphrase, NULL);
	BIO_free(bio);
	if ((rc = sf_key_usable(pk, "the private key", err, errsz)) != CB_OK) {
		EVP_PKEY_free(pk);
		return rc;
	}
	*out = pk;
	return CB_OK;
}

int
sf_key_pem_check(const char *pem, size_t len, char sha_hex[65], char *err, size_t errsz)
{
	EVP_PKEY	*pk = NULL;
	unsigned char	*der = NULL, h[crypto_hash_sha256_BYTES];
	int		 n, rc;

	sha_hex[0] = '\0';
	if ((rc = sf_key_load_pem(pem, len, &pk, err, errsz)) != CB_OK)
		return CB_ERR_VALIDATION;
	/* The public half is what the connected app's certificate holds. */
	if ((n = i2d_PUBKEY(pk, &der)) <= 0) {
		snprintf(err, errsz, "salesforce: the key's public half cannot be encoded");
		EVP_PKEY_free(pk);
		return CB_ERR_VALIDATION;
	}
	crypto_hash_sha256(h, der, (unsigned long long)n);
	util_hex(sha_hex, h, sizeof(h));
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	return CB_OK;
}

void
sf_key_free(EVP_PKEY *pk)
{
	EVP_PKEY_free(pk);
}

/* ---- the JWT bearer assertion ---------------------------------------- */

static int
sf_b64url_append(struct buf *b, const unsigned char *in, size_t n)
{
	size_t	 need = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char	*tmp = util_malloc(need);
	int	 rc;

	sodium_bin2base64(tmp, need, in, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	rc = buf_puts(b, tmp);
	sodium_memzero(tmp, need);
	free(tmp);
	return rc;
}

/* b64url({"alg":"RS256"}) . b64url(claims) . b64url(RS256 signature) */
static int
sf_jwt(struct sf_client *c, struct buf *jwt)
{
	static const char	 header[] = "{\"alg\":\"RS256\"}";
	struct buf		 claims;
	EVP_MD_CTX		*md = NULL;
	unsigned char		*sig = NULL;
	size_t			 siglen = 0;
	int			 rc;

	buf_init(&claims, 4 * SF_CONF_STR_MAX);
	/* exp is whole seconds since the epoch: never milliseconds. */
	if ((rc = buf_puts(&claims, "{\"iss\":")) ||
	    (rc = buf_json_str(&claims, c->client_id)) ||
	    (rc = buf_puts(&claims, ",\"sub\":")) ||
	    (rc = buf_json_str(&claims, c->username)) ||
	    (rc = buf_puts(&claims, ",\"aud\":")) ||
	    (rc = buf_json_str(&claims, c->audience)) ||
	    (rc = buf_printf(&claims, ",\"exp\":%lld}",
	    (long long)(util_now_s() + SF_JWT_LIFETIME_S))))
		goto out;
	if ((rc = sf_b64url_append(jwt, (const unsigned char *)header,
	    sizeof(header) - 1)) ||
	    (rc = buf_putc(jwt, '.')) ||
	    (rc = sf_b64url_append(jwt, (const unsigned char *)claims.data,
	    claims.len)))
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL)
		util_oom();
	/* RSA keys default to PKCS#1 v1.5 padding: exactly RS256. */
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)jwt->data,
	    jwt->len) != 1) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	sig = util_malloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)jwt->data,
	    jwt->len) != 1) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	if ((rc = buf_putc(jwt, '.')) ||
	    (rc = sf_b64url_append(jwt, sig, siglen)))
		goto out;
out:
	if (rc == CB_ERR_CRYPTO)
		ERR_clear_error();
	free(sig);
	EVP_MD_CTX_free(md);
	buf_free(&claims);
	return rc;
}

/* ---- the token cache --------------------------------------------------- */

void
sf_drop_token(struct sf_client *c)
{
	if (c->token != NULL) {
		sodium_memzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
	free(c->instance_url);
	c->instance_url = NULL;
}

void
sf_invalidate_token(struct sf_client *c)
{
	if (c == NULL)
		return;
	sf_drop_token(c);
	c->oauth_failed = 0;
}

/* The token must be safe to put in a header line: visible ASCII only. */
static int
sf_token_ok(const char *t)
{
	size_t	 i;

	for (i = 0; t[i] != '\0'; i++)
		if (i >= SF_TOKEN_MAX || t[i] < 0x21 || t[i] > 0x7e)
			return 0;
	return i > 0;
}

/* Take access_token and instance_url from a 200 token answer. */
static int
sf_take_token(struct sf_client *c, const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*at, *iu, *tt;
	struct jv_error	 je;
	char		*inst = NULL;
	int		 rc = CB_ERR_UPSTREAM;

	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token endpoint answered 200 without a JSON object");
		goto out;
	}
	/*
	 * Salesforce adds members over time (api_instance_url, ...): read the
	 * ones we use strictly and ignore the rest.
	 */
	at = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	iu = cJSON_GetObjectItemCaseSensitive(doc, "instance_url");
	tt = cJSON_GetObjectItemCaseSensitive(doc, "token_type");
	if (!cJSON_IsString(at) || !sf_token_ok(at->valuestring)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has no usable access_token");
		goto out;
	}
	if (tt != NULL && (!cJSON_IsString(tt) ||
	    strcasecmp(tt->valuestring, "Bearer") != 0)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has a token_type other than Bearer");
		goto out;
	}
	/* The token goes wherever instance_url points: hold it to our rules. */
	if (!cJSON_IsString(iu) ||
	    sf_instance_take(c, iu->valuestring, &inst) != CB_OK) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has no usable instance_url");
		goto out;
	}
	sf_drop_token(c);
	c->token = util_strdup(at->valuestring);
	c->instance_url = inst;
	inst = NULL;
	rc = CB_OK;
out:
	free(inst);
	if (doc != NULL) {
		/* The tree holds the token in cJSON's own allocation. */
		if (cJSON_IsObject(doc) && (at = cJSON_GetObjectItemCaseSensitive(doc,
		    "access_token")) != NULL && cJSON_IsString(at))
			sodium_memzero(at->valuestring, strlen(at->valuestring));
		cJSON_Delete(doc);
	}
	return rc;
}

int
sf_set_token(struct sf_client *c, const char *token, const char *instance_url)
{
	char	*inst = NULL;

	/* The same rules as for a token answer: plain http only to a fake. */
	if (c == NULL || token == NULL || !sf_token_ok(token) ||
	    sf_instance_take(c, instance_url, &inst) != CB_OK)
		return CB_ERR_VALIDATION;
	sf_drop_token(c);
	c->token = util_strdup(token);
	c->instance_url = inst;
	return CB_OK;
}

void
sf_set_token_hook(struct sf_client *c, sf_token_hook fn, void *ud)
{
	if (c == NULL)
		return;
	c->on_token = fn;
	c->on_token_ud = ud;
}

/* ---- minting ----------------------------------------------------------- */

/* An OAuth error answer: {"error":"…","error_description":"…"}. */
static void
sf_oauth_error(const struct httpc_resp *h, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*e, *d;
	struct jv_error	 je;
	char		 msg[64];
	int		 status = (int)h->status;
	int		 kind;

	/* 5xx, 408 and 429 are the login service struggling, not our setup. */
	kind = (status >= 500 || status == 408 || status == 429) ?
	    SF_RETRY : SF_CONFIG;
	snprintf(msg, sizeof(msg), "token endpoint answered HTTP %d", status);
	sf_set(r, kind, status, "", msg);
	if (h->body.len == 0 ||
	    jv_parse(h->body.data, h->body.len, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc))
		goto out;
	e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	d = cJSON_GetObjectItemCaseSensitive(doc, "error_description");
	if (cJSON_IsString(e))
		sf_copy_code(r->error_code, sizeof(r->error_code), e->valuestring);
	if (cJSON_IsString(d))
		sf_copy_text(r->message, sizeof(r->message), d->valuestring);
out:
	cJSON_Delete(doc);
}

int
sf_mint(struct sf_client *c, struct sf_result *r)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL
	};
	struct buf		 jwt, form, url;
	struct httpc_resp	 h;
	double			 t0 = util_now_ms();
	char			 ms[32], st[16];
	int			 rc;

	buf_init(&jwt, 16384);
	buf_init(&form, 16384);
	buf_init(&url, SF_URL_MAX + 64);
	memset(&h, 0, sizeof(h));
	buf_init(&h.body, 0);
	if (c->oauth_failed &&
	    t0 - c->oauth_failed_at < SF_OAUTH_HOLDDOWN_MS) {
		*r = c->oauth_failure;
		rc = sf_rc(r);
		goto out;
	}
	c->oauth_failed = 0;
	if ((rc = sf_jwt(c, &jwt)) != CB_OK) {
		sf_set(r, SF_CONFIG, 0, "CB_CRYPTO",
		    "signing the JWT assertion failed");
		rc = sf_rc(r);
		goto out;
	}
	/*
	 * The assertion is base64url and dots only, all unreserved in a form
	 * body, so it needs no escaping; the grant type is sent as CONTRACTS
	 * §3.1 spells it.
	 */
	if ((rc = buf_puts(&form, "grant_type=" SF_GRANT_TYPE "&assertion=")) ||
	    (rc = buf_append(&form, jwt.data, jwt.len)) ||
	    (rc = buf_printf(&url, "%s%s", c->login_url, SF_TOKEN_PATH))) {
		sf_set(r, SF_CONFIG, 0, "CB_BAD_ARGUMENT",
		    "token request does not fit its buffer");
		rc = sf_rc(r);
		goto out;
	}
	sf_http(c, "POST", url.data, hdrs, form.data, form.len, &h);
	if (sf_transport_failed(c, &h, r)) {
		rc = sf_rc(r);
	} else if (h.status == 200) {
		rc = sf_take_token(c, &h.body, r);
		if (rc != CB_OK)
			rc = sf_rc(r);
	} else {
		sf_oauth_error(&h, r);
		rc = sf_rc(r);
	}
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
	snprintf(st, sizeof(st), "%ld", h.status);
	if (rc == CB_OK) {
		log_kv(LOG_LVL_INFO, "sf_token", "status", st, "ms", ms, NULL);
		if (c->on_token != NULL)
			c->on_token(c->token, c->instance_url, c->on_token_ud);
	} else {
		log_kv(r->kind == SF_CONFIG ? LOG_LVL_ERROR : LOG_LVL_WARN,
		    "sf_token_failed", "status", st, "kind", sf_kind_name(r->kind),
		    "error", r->error_code, "description", r->message, "ms", ms,
		    NULL);
		if (r->kind == SF_CONFIG) {
			c->oauth_failed = 1;
			c->oauth_failed_at = util_now_ms();
			c->oauth_failure = *r;
		}
	}
out:
	httpc_resp_free(&h);	/* the answer held the token: wiped */
	buf_wipe(&form);
	buf_wipe(&jwt);
	buf_free(&url);
	return rc;
}

int
sf_authenticate(struct sf_client *c, struct sf_result *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "no client");
		return sf_rc(out);
	}
	if (c->token != NULL)
		return CB_OK;
	return sf_mint(c, out);
}

int
sf_bearer(struct sf_client *c, struct buf *header, struct buf *base, struct sf_result *out)
{
	int	 rc;

	if ((rc = sf_authenticate(c, out)) != CB_OK)
		return rc;
	if (buf_printf(header, "Authorization: Bearer %s", c->token) != CB_OK ||
	    buf_printf(base, "%s/services/data/%s", c->instance_url, c->api_version) != CB_OK) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "token or URL does not fit");
		return sf_rc(out);
	}
	return CB_OK;
}
