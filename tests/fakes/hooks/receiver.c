/*
 * cb-fake-hooks' Standard Webhooks 1.0 receivers (CONTRACTS §2.1): POST
 * /hooks/{name} checks webhook-id, webhook-timestamp (integer seconds
 * within the tolerance) and webhook-signature (any "v1,<base64>" of the
 * header against any registered secret, constant-time) and records the
 * delivery whatever the outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#include "hk.h"

/* ---- Standard Webhooks receivers ----------------------------------------- */

/* Standard base64, padded or not; 0 and the length, or -1. */
int
hk_b64_decode(const char *s, size_t n, unsigned char *out, size_t outsz,
    size_t *len)
{
	const char	*end = NULL;

	if (n == 0)
		return -1;
	if (sodium_base642bin(out, outsz, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && end == s + n)
		return 0;
	if (sodium_base642bin(out, outsz, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 && end == s + n)
		return 0;
	return -1;
}

static void
hk_hmac(const unsigned char *key, size_t keylen, const char *id,
    const char *ts, const char *body, size_t body_len,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state	 st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/*
 * Which registered secret signed this delivery: its index, or -1.  Every
 * "v1," signature of the header is tried against every secret; the compare
 * is constant-time and does not stop at the first match.
 */
static int
hk_verify_sig(const struct hk_endpoint *ep, const char *id, const char *ts,
    const char *sigs, const char *body, size_t body_len)
{
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	unsigned char	 got[HK_SIGS_MAX][crypto_auth_hmacsha256_BYTES + 8];
	size_t		 ngot = 0, i, j, n, len;
	const char	*p = sigs, *e;
	int		 match = -1;

	while (*p != '\0' && ngot < HK_SIGS_MAX) {
		while (*p == ' ')
			p++;
		e = strchr(p, ' ');
		n = e ? (size_t)(e - p) : strlen(p);
		/* Other schemes (v1a, ed25519) are not ours to check. */
		if (n > 3 && strncmp(p, "v1,", 3) == 0 &&
		    hk_b64_decode(p + 3, n - 3, got[ngot], sizeof(got[0]),
		    &len) == 0 && len == crypto_auth_hmacsha256_BYTES)
			ngot++;
		p += n;
	}
	for (i = 0; i < ep->nkeys; i++) {
		hk_hmac(ep->keys[i], ep->keylen[i], id, ts, body, body_len, mac);
		for (j = 0; j < ngot; j++)
			if (sodium_memcmp(mac, got[j], sizeof(mac)) == 0 &&
			    match < 0)
				match = (int)i;
	}
	sodium_memzero(mac, sizeof(mac));
	return match;
}

/* Integer Unix seconds within the tolerance either way. */
static const char *
hk_check_timestamp(const char *ts)
{
	long long	 t, now = (long long)util_now_s();

	if (util_parse_ll(ts, 0, 99999999999LL, &t) != CB_OK)
		return "bad_timestamp";
	if (t < now - cfg.tolerance_s)
		return "timestamp_too_old";
	if (t > now + cfg.tolerance_s)
		return "timestamp_too_new";
	return NULL;
}

/* The payload's "type", when the body is a JSON object that has one. */
static char *
hk_payload_type(const char *body, size_t len)
{
	struct jv_error	 je;
	cJSON		*doc = NULL;
	const cJSON	*t;
	char		*type = NULL;

	if (len > 0 && jv_parse(body, len, &doc, &je) == CB_OK &&
	    cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(doc, "type")))
		type = util_strdup(t->valuestring);
	cJSON_Delete(doc);
	return type;
}

void
hk_apply_fault(const struct hk_fault *f, int call, const char *endpoint,
    struct fh_resp *rs)
{
	if (f->retry_after_s > 0)
		fh_resp_header(rs, "Retry-After", "%ld", f->retry_after_s);
	if (f->status >= 300 && f->status < 400) {
		if (f->location[0] != '\0')
			fh_resp_header(rs, "Location", "%s", f->location);
		else
			fh_resp_header(rs, "Location", "http://127.0.0.1:%d/hooks/"
			    "%s-moved", cfg.port, endpoint ? endpoint : "x");
	}
	if (call == HC_SLACK_API)
		fh_resp_set(rs, f->status, HK_SLACK_JSON, f->status == 429 ?
		    "{\"ok\":false,\"error\":\"ratelimited\"}" :
		    "{\"ok\":false,\"error\":\"fatal_error\"}");
	else if (call == HC_SLACK_WEBHOOK)
		fh_resp_set(rs, f->status, "text/html", f->status == 429 ?
		    "rate_limited" : "rollup_error");
	else
		fh_resp_error(rs, f->status, "fault injected by cb-fake-hooks");
}

/* POST /hooks/{name} */
void
hk_hook(struct fh_req *rq, struct fh_resp *rs, const char *name)
{
	struct hk_endpoint	*ep, copy;
	struct hk_delivery	 d;
	struct hk_fault		 f;
	const char		*id, *ts, *sig, *why = NULL;
	int			 faulted, known, rejected = 0;

	memset(&d, 0, sizeof(d));
	memset(&copy, 0, sizeof(copy));
	if (strcmp(rq->method, "POST") != 0) {
		fh_resp_error(rs, 405, "method not allowed: POST");
		return;
	}
	faulted = hk_take_fault(HC_HOOK, name, &f);
	pthread_mutex_lock(&hk.lock);
	if ((ep = hk_endpoint_find(name)) != NULL)
		copy = *ep;	/* verify outside the lock */
	known = ep != NULL;
	pthread_mutex_unlock(&hk.lock);
	id = fh_header(rq, "webhook-id");
	ts = fh_header(rq, "webhook-timestamp");
	sig = fh_header(rq, "webhook-signature");
	util_strlcpy(d.endpoint, name, sizeof(d.endpoint));
	d.known = known;
	d.secret_index = -1;
	d.id = hk_strndup_or_null(id, HK_HEADER_MAX);
	d.timestamp = hk_strndup_or_null(ts, HK_HEADER_MAX);
	d.type = hk_payload_type(rq->body, rq->body_len);
	if (!known) {
		why = "unknown_endpoint";
		fh_resp_error(rs, 404, "no such endpoint");
	} else if (id == NULL || ts == NULL || sig == NULL || id[0] == '\0') {
		why = "missing_headers";
		fh_resp_error(rs, 400, "webhook-id, webhook-timestamp and "
		    "webhook-signature are required");
	} else if ((why = hk_check_timestamp(ts)) != NULL) {
		rejected = 1;
		fh_resp_error(rs, 401, "timestamp outside the tolerance");
	} else if ((d.secret_index = hk_verify_sig(&copy, id, ts, sig, rq->body,
	    rq->body_len)) < 0) {
		rejected = 1;
		why = "no_matching_signature";
		fh_resp_error(rs, 401, "no matching signature");
	} else {
		d.verified = 1;
		fh_resp_set(rs, copy.status, NULL, copy.status == 204 ? NULL :
		    "{\"ok\":true}");
	}
	sodium_memzero(&copy, sizeof(copy));
	util_strlcpy(d.reason, why ? why : "", sizeof(d.reason));
	if (faulted && f.kind == HF_STATUS)
		hk_apply_fault(&f, HC_HOOK, name, rs);
	if (faulted && f.kind == HF_DROP)
		rs->drop = 1;
	if (faulted)
		util_strlcpy(d.fault, kind_names[f.kind], sizeof(d.fault));
	d.status = rs->drop ? 0 : rs->status;
	d.body = util_malloc(rq->body_len + 1);
	memcpy(d.body, rq->body, rq->body_len + 1);
	d.body_len = rq->body_len;
	util_iso8601(d.received_at, sizeof(d.received_at));
	pthread_mutex_lock(&hk.lock);
	hk.deliveries_total++;
	if (!known)
		hk.unknown_endpoint++;
	else if ((ep = hk_endpoint_find(name)) != NULL)
		ep->received++;
	hk.verified += d.verified;
	hk.rejected += rejected;
	if (d.id != NULL && (d.duplicate = hk_seen_before(name, d.id)))
		hk.duplicates++;
	hk_store_delivery(&d);
	pthread_mutex_unlock(&hk.lock);
	if (faulted && f.kind == HF_LATENCY)
		fh_sleep_ms(f.latency_ms);
}
