/*
 * cb-fake-sf's login host: the OAuth 2.0 JWT bearer token endpoint
 * (CONTRACTS §3.1), verifying assertions as Salesforce does (RS256 against
 * any certificate the connected app holds, alg, iss, sub or prn, aud, exp
 * in whole seconds within 3 minutes), and the loading of those
 * certificates.  Tokens and assertions are never logged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>
#include <errno.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "sf.h"
#include "util.h"

#include "fk.h"

/* ---- assertions ------------------------------------------------------ */

static int
fk_b64url_decode(const char *s, size_t n, struct buf *out)
{
	const char	*end = NULL;
	size_t		 cap = n * 3 / 4 + 3, got = 0;
	unsigned char	*tmp;
	int		 rc = -1;

	if (n == 0 || n > FK_ASSERTION_MAX)
		return -1;
	tmp = util_malloc(cap);
	if (sodium_base642bin(tmp, cap, s, n, NULL, &got, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && end == s + n &&
	    buf_append(out, tmp, got) == CB_OK)
		rc = 0;
	free(tmp);
	return rc;
}

static int
fk_json_part(const char *s, size_t n, cJSON **doc)
{
	struct buf	 raw;
	struct jv_error	 je;
	int		 rc = -1;

	*doc = NULL;
	buf_init(&raw, FK_ASSERTION_MAX);
	if (fk_b64url_decode(s, n, &raw) == 0 &&
	    jv_parse(raw.data, raw.len, doc, &je) == CB_OK) {
		if (cJSON_IsObject(*doc))
			rc = 0;
		else {
			cJSON_Delete(*doc);
			*doc = NULL;
		}
	}
	buf_free(&raw);
	return rc;
}

static int
fk_aud_ok(const cJSON *aud)
{
	const cJSON	*a;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, cfg.audience) == 0;
	/* RFC 7519 allows an array of audiences. */
	if (cJSON_IsArray(aud))
		cJSON_ArrayForEach(a, aud)
			if (cJSON_IsString(a) &&
			    strcmp(a->valuestring, cfg.audience) == 0)
				return 1;
	return 0;
}

/*
 * Verify an assertion like Salesforce does; NULL if good, else the
 * error_description Salesforce gives for that failure.  The app is found
 * by iss before its certificate is used, hence the order.
 */
static const char *
fk_jwt_check(const char *a, size_t n, size_t *cert)
{
	const char	*d1, *d2, *why = "invalid assertion";
	cJSON		*hdr = NULL, *claims = NULL;
	const cJSON	*alg, *iss, *sub, *prn, *exp;
	struct buf	 sig;
	EVP_MD_CTX	*md = NULL;
	EVP_PKEY	*certs[FK_CERTS_MAX];
	long long	 now = (long long)util_now_s();
	double		 e;
	size_t		 nc, i;

	buf_init(&sig, 4096);
	if ((d1 = memchr(a, '.', n)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - a))) == NULL ||
	    memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - a)) != NULL)
		goto out;
	if (fk_json_part(a, (size_t)(d1 - a), &hdr) != 0 ||
	    fk_json_part(d1 + 1, (size_t)(d2 - d1 - 1), &claims) != 0 ||
	    fk_b64url_decode(d2 + 1, n - (size_t)(d2 + 1 - a), &sig) != 0)
		goto out;
	alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
		goto out;
	iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
	if (!cJSON_IsString(iss) || strcmp(iss->valuestring, cfg.client_id) != 0) {
		why = "invalid client credentials";
		goto out;
	}
	/* Any certificate of the app verifies (both during a rotation's overlap). */
	pthread_mutex_lock(&fk.lock);
	nc = fk.ncerts;
	memcpy(certs, fk.certs, sizeof(certs));
	pthread_mutex_unlock(&fk.lock);
	for (i = 0; i < nc; i++) {
		if ((md = EVP_MD_CTX_new()) == NULL)
			util_oom();
		if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, certs[i]) == 1 &&
		    EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
		    (const unsigned char *)a, (size_t)(d2 - a)) == 1)
			break;
		EVP_MD_CTX_free(md);
		md = NULL;
		ERR_clear_error();
	}
	if (i == nc)
		goto out;
	*cert = i;
	if (!fk_aud_ok(cJSON_GetObjectItemCaseSensitive(claims, "aud"))) {
		why = "audience is invalid";
		goto out;
	}
	/* Whole seconds, in the future, within 3 minutes: ms values fail here. */
	exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	e = cJSON_IsNumber(exp) ? exp->valuedouble : -1.0;
	if (!cJSON_IsNumber(exp) || e != (double)(long long)e ||
	    (long long)e <= now || (long long)e > now + FK_EXP_MAX_S + FK_EXP_SKEW_S) {
		why = "expired authorization code";
		goto out;
	}
	/* prn is the legacy name; when both are present it wins. */
	prn = cJSON_GetObjectItemCaseSensitive(claims, "prn");
	sub = prn != NULL ? prn : cJSON_GetObjectItemCaseSensitive(claims, "sub");
	if (!cJSON_IsString(sub) || strcmp(sub->valuestring, cfg.username) != 0) {
		why = "user hasn't approved this consumer";
		goto out;
	}
	why = NULL;
out:
	EVP_MD_CTX_free(md);
	buf_free(&sig);
	cJSON_Delete(hdr);
	cJSON_Delete(claims);
	return why;
}

void
fk_token(struct fh_req *rq, struct fh_resp *rs)
{
	struct buf	 gt, assertion;
	const char	*why = NULL;
	char		 tok[96], rnd[80], sig[64], ms[32];
	unsigned char	 raw[32];
	cJSON		*doc;
	size_t		 cert = 0;
	int		 g, a;

	buf_init(&gt, 128);
	buf_init(&assertion, FK_ASSERTION_MAX);
	pthread_mutex_lock(&fk.lock);
	fk.token_requests++;
	pthread_mutex_unlock(&fk.lock);
	if (strcmp(rq->method, "POST") != 0) {
		fk_oauth_error(rs, 405, "invalid_request", "must use HTTP POST");
		goto fail;
	}
	g = fh_ctype_is(rq, "application/x-www-form-urlencoded") ?
	    fh_form_get(rq->body, rq->body_len, "grant_type", &gt) : -1;
	if (g <= 0 || strcmp(buf_cstr(&gt), FK_GRANT_TYPE) != 0) {
		fk_oauth_error(rs, 400, "unsupported_grant_type",
		    "grant type not supported");
		goto fail;
	}
	a = fh_form_get(rq->body, rq->body_len, "assertion", &assertion);
	if (a <= 0)
		why = "invalid assertion";
	else
		why = fk_jwt_check(assertion.data, assertion.len, &cert);
	if (why != NULL) {
		fk_oauth_error(rs, 400, "invalid_grant", why);
		goto fail;
	}
	util_random_token(rnd, sizeof(rnd), 48);
	snprintf(tok, sizeof(tok), "%s%s", FK_TOKEN_PREFIX, rnd);
	pthread_mutex_lock(&fk.lock);
	util_strlcpy(fk.tokens[fk.next_token], tok, sizeof(fk.tokens[0]));
	fk.next_token = (fk.next_token + 1) % FK_TOKENS_MAX;
	if (fk.ntokens < FK_TOKENS_MAX)
		fk.ntokens++;
	fk.token_mints++;
	fk.cert_mints[cert]++;
	pthread_mutex_unlock(&fk.lock);
	/* Real "signature" is an HMAC keyed with the consumer secret. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(sig, sizeof(sig), raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(ms, sizeof(ms), "%lld", (long long)util_now_s() * 1000LL);
	doc = fp_obj();
	fp_add_str(doc, "access_token", tok);
	fp_add_str(doc, "scope", "api");
	fp_add_str(doc, "instance_url", cfg.base_url);
	{
		char	 id[160];

		snprintf(id, sizeof(id), "%s/id/%s/%s", cfg.base_url, FK_ORG_ID,
		    FK_USER_ID);
		fp_add_str(doc, "id", id);
	}
	fp_add_str(doc, "token_type", "Bearer");
	fp_add_str(doc, "issued_at", ms);
	fp_add_str(doc, "signature", sig);
	fp_json(rs, 200, NULL, doc);
	sodium_memzero(tok, sizeof(tok));
	sodium_memzero(rnd, sizeof(rnd));
	goto out;
fail:
	pthread_mutex_lock(&fk.lock);
	fk.token_failures++;
	pthread_mutex_unlock(&fk.lock);
out:
	buf_wipe(&assertion);
	buf_free(&gt);
}


EVP_PKEY *
fk_load_cert(const char *path)
{
	FILE		*fp;
	X509		*x = NULL;

	if ((fp = fopen(path, "re")) == NULL) {
		log_kv(LOG_LVL_ERROR, "cert_unreadable", "path", path,
		    "error", strerror(errno), NULL);
		return NULL;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	return fk_cert_key(x, path);
}

/* The RSA key of a certificate (x is freed), or NULL and why in the log. */
EVP_PKEY *
fk_cert_key(X509 *x, const char *what)
{
	EVP_PKEY	*k = NULL;

	if (x == NULL ||
	    (k = X509_get_pubkey(x)) == NULL ||
	    EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k) < 2048) {
		log_kv(LOG_LVL_ERROR, "cert_invalid", "path", what, "error",
		    "need a PEM X.509 certificate with an RSA key of at least "
		    "2048 bits", NULL);
		EVP_PKEY_free(k);
		k = NULL;
	}
	X509_free(x);
	ERR_clear_error();
	return k;
}
