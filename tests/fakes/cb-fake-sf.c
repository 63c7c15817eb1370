/*
 * cb-fake-sf: a fake Salesforce that speaks the real wire format, for tests.
 *
 * One loopback HTTP/1.1 server (tests/fakes/common/fakehttpd) is both the
 * login host (the OAuth 2.0 JWT bearer token endpoint, CONTRACTS §3.1) and
 * the instance: upsert, read and delete by external ID (§3.3; a delete is
 * 204 with no body, or the 404 NOT_FOUND of a record not there), the sObject
 * Collections upsert (§3.4), the real error array of §3.5, and a
 * Sforce-Limit-Info header on every REST answer counted as an org counts
 * (§3.2: one per authenticated REST call, a Collections call is one call
 * whatever its size, token calls are free; past the daily allocation every
 * call is a 403 REQUEST_LIMIT_EXCEEDED).  Assertions are verified for real:
 * RS256 against the certificate's public key, alg, iss, sub (prn wins), aud
 * and exp in seconds.  A control plane under /__fake/ (no auth: the server
 * binds 127.0.0.1 only) lists records and counters, resets, revokes
 * tokens, sets the API usage and queues faults: per call (status, drop,
 * latency) and per record (an error for the records whose external ID or
 * field value matches).
 *
 * One instance is one org (its records, tokens, instance URL, faults and
 * counters): tests that need two orgs run a second instance on another
 * port.  The connected app may hold several certificates at once, as a
 * real one does during a key rotation: --cert gives the first, POST
 * /__fake/certs (a PEM certificate as the body) adds one; an assertion
 * verifying under any of them mints, and GET /__fake/stats counts the mints
 * per certificate ("mints_by_cert", in the order they were added).
 *
 * The query resource (GET /services/data/vXX.X/query?q=SOQL) answers the
 * subset of tests/fakes/common/fakesoql.h over Contacts a test seeds (POST
 * /__fake/contacts {"Id"?, "Phone", "Name"?}): SELECT Id[, Phone, Name]
 * FROM Contact WHERE Id|Phone|Name = '<literal>' [LIMIT n], in the real
 * answer shape {"totalSize","done","records":[{"attributes":{"type","url"},
 * "Id",...}]}; anything else is the real 400 (MALFORMED_QUERY,
 * INVALID_TYPE, INVALID_FIELD).  Each query is one API call.  GET
 * /__fake/queries lists the SOQL received (decoded), newest last.
 *
 *   cb-fake-sf --port N --cert PEM_CERT --client-id ID --username USER
 *              [--audience AUD] [--pidfile P] [--bind 127.0.0.1]
 *              [--objects Form_Submission__c,Call_Activity__c]
 *              [--io-timeout-ms 10000] [--api-limit 15000]
 *              [--max-records 10000]
 *
 * Guarantees: those of fakehttpd (caps, timeouts, keep-alive, chunked
 * bodies); one mutex guards all state; a record is found by a hash of
 * (object, external ID field, value), so 50,000 records cost no more per
 * call than ten.  The log masks the external ID value in paths; tokens,
 * assertions and bodies are never logged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "sf.h"
#include "util.h"

#include "common/fakehttpd.h"
#include "common/fakeplane.h"
#include "common/fakesoql.h"

#define FK_AUTH_MAX		4096
#define FK_RECORDS_DEFAULT	10000
#define FK_RECORDS_LIMIT	1000000
#define FK_COLLECTION_MAX	200	/* CONTRACTS §3.4 */
#define FK_TOKENS_MAX		256
#define FK_FAULTS_MAX		64
#define FK_OBJECTS_MAX		16
#define FK_ASSERTION_MAX	16384
#define FK_API_LIMIT		15000
#define FK_CONTACTS_MAX		1000
#define FK_QUERY_LOG		32	/* SOQL texts kept for /__fake/queries */
#define FK_CERTS_MAX		8	/* certificates of the connected app (rotation) */
#define FK_EXP_MAX_S		180	/* CONTRACTS §3.1: within 3 minutes */
#define FK_EXP_SKEW_S		5	/* clock leeway we grant the caller */
#define FK_ORG_ID		"00Dxx0000001gPLEA0"
#define FK_USER_ID		"005xx000001SwiUAAS"
#define FK_TOKEN_PREFIX		"00Dxx0000001gPL!"
#define FK_GRANT_TYPE		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define FK_MSG_NOT_FOUND	"The requested resource does not exist"
#define FK_MSG_SESSION		"Session expired or invalid"
#define FK_MSG_LIMIT		"TotalRequests Limit exceeded."
#define FK_MSG_ROLLED_BACK	"Record rolled back because not all records " \
				"were valid and the request was using AllOrNone header"

/* ---- configuration (written by main before any thread starts) -------- */

static struct {
	int		 port;
	const char	*cert_file;
	const char	*client_id;
	const char	*username;
	const char	*audience;
	const char	*pidfile;
	const char	*bind;		/* NULL: 127.0.0.1 */
	long		 io_timeout_ms;
	long		 api_limit;
	size_t		 max_records;
	char		 objects[FK_OBJECTS_MAX][84];
	size_t		 nobjects;
	char		 base_url[64];
} cfg;

/* ---- state (all under fk.lock) ---------------------------------------- */

/* What a request is, for faults and counting. */
enum fk_call { CALL_NONE, CALL_TOKEN, CALL_SINGLE, CALL_COLLECTIONS, CALL_REST, CALL_QUERY,
	CALL_DELETE };
/* Which calls a fault hits.  "upsert" is either kind of upsert. */
enum fault_target { FT_UPSERT, FT_TOKEN, FT_ANY, FT_SINGLE, FT_COLLECTIONS, FT_QUERY,
	FT_DELETE };
enum fault_kind { FAULT_STATUS, FAULT_DROP, FAULT_LATENCY, FAULT_RECORD };

struct fk_fault {
	long	 count;		/* first: uses left (fakeplane's queue) */
	int	 target;
	int	 kind;
	int	 status;
	long	 latency_ms;
	long	 retry_after_s;
	char	 error_code[64];
	char	 message[256];
	char	 match[256];	/* FAULT_RECORD: the value that triggers it */
	char	 field[84];	/* FAULT_RECORD: "" = the external ID */
};

struct fk_record {
	size_t	 object;	/* index into cfg.objects */
	char	 ext_field[84];	/* as first sent */
	char	*ext_value;
	char	 id[19];
	cJSON	*fields;
	long	 upserts;
	char	 created_at[40];
	char	 updated_at[40];
	int	 deleted;	/* a tombstone: no longer found, not listed */
};

/* A Contact the query resource finds (seeded by a test). */
struct fk_contact {
	char	 id[19];
	char	*phone;
	char	*name;
};

static struct {
	pthread_mutex_t	 lock;
	struct fk_record *records;
	size_t		 nrecords, records_cap;
	uint32_t	*index;		/* open addressing: record index + 1 */
	size_t		 index_cap;	/* a power of two, > 2 * max_records */
	char		 tokens[FK_TOKENS_MAX][96];
	size_t		 ntokens, next_token;
	struct fk_fault	 faults[FK_FAULTS_MAX];
	struct fp_queue	 fq;
	long		 token_requests, token_failures, token_mints;
	long		 upserts, upsert_calls, collections_calls;
	long		 delete_calls, deletes;	/* DELETE calls, records deleted */
	long		 records_created, records_updated, record_failures;
	long		 api_usage, api_limit;
	unsigned long	 id_counter;
	struct fk_contact contacts[FK_CONTACTS_MAX];
	size_t		 ncontacts;
	long		 queries;	/* query calls answered (any status) */
	char		*query_log[FK_QUERY_LOG];
	long		 query_matches[FK_QUERY_LOG];
	size_t		 query_next;
	/* The connected app's certificates: --cert, then POST /__fake/certs. */
	EVP_PKEY	*certs[FK_CERTS_MAX];
	long		 cert_mints[FK_CERTS_MAX];
	size_t		 ncerts;
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .fq = FP_QUEUE(fk.faults) };

static EVP_PKEY	*fk_cert_key(X509 *, const char *);
static void	 fk_add_cert(struct fh_req *, struct fh_resp *);

/* ---- answers ---------------------------------------------------------- */

/* Salesforce's single-resource error: [{"message","errorCode","fields"}]. */
static void
fk_sf_error(struct fh_resp *rs, int status, const char *code, const char *msg,
    const char *field)
{
	rs->status = status;
	buf_reset(&rs->body);
	buf_puts(&rs->body, "[{\"message\":");
	buf_json_str(&rs->body, msg);
	buf_puts(&rs->body, ",\"errorCode\":");
	buf_json_str(&rs->body, code);
	if (field != NULL) {
		buf_puts(&rs->body, ",\"fields\":[");
		buf_json_str(&rs->body, field);
		buf_putc(&rs->body, ']');
	}
	buf_puts(&rs->body, "}]");
}

/* The OAuth error shape of the token endpoint. */
static void
fk_oauth_error(struct fh_resp *rs, int status, const char *error,
    const char *desc)
{
	rs->status = status;
	buf_reset(&rs->body);
	buf_puts(&rs->body, "{\"error\":");
	buf_json_str(&rs->body, error);
	buf_puts(&rs->body, ",\"error_description\":");
	buf_json_str(&rs->body, desc);
	buf_putc(&rs->body, '}');
}

/*
 * Stamp the usage header; with count, charge the call first as the org
 * does.  -1 (answered 403 REQUEST_LIMIT_EXCEEDED, nothing charged) once
 * the daily allocation is used up.
 */
static int
fk_api_call(struct fh_resp *rs, int count)
{
	long	 used, limit;
	int	 over = 0;

	pthread_mutex_lock(&fk.lock);
	limit = fk.api_limit;
	if (count && fk.api_usage >= limit)
		over = 1;
	else if (count)
		fk.api_usage++;
	used = fk.api_usage;
	pthread_mutex_unlock(&fk.lock);
	fh_resp_header(rs, "Sforce-Limit-Info", "api-usage=%ld/%ld", used, limit);
	if (over) {
		fk_sf_error(rs, 403, "REQUEST_LIMIT_EXCEEDED", FK_MSG_LIMIT, NULL);
		return -1;
	}
	return 0;
}

/* ---- the token endpoint ----------------------------------------------- */

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

/* ---- the token endpoint ----------------------------------------------- */

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

static void
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

/* Salesforce's 15-to-18 suffix: one letter per 5 chars flags the capitals. */
static void
fk_make_id(size_t object, char out[19])
{
	static const char map[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	unsigned long	 n;
	int		 i, j, flags;

	/* "a" + 2-digit object number + "xx" (pod) + 10-digit counter. */
	n = ++fk.id_counter;
	out[0] = 'a';
	out[1] = (char)('0' + (object + 1) / 10 % 10);
	out[2] = (char)('0' + (object + 1) % 10);
	out[3] = out[4] = 'x';
	for (i = 14; i >= 5; i--) {
		out[i] = (char)('0' + n % 10);
		n /= 10;
	}
	for (i = 0; i < 3; i++) {
		flags = 0;
		for (j = 0; j < 5; j++)
			if (out[i * 5 + j] >= 'A' && out[i * 5 + j] <= 'Z')
				flags |= 1 << j;
		out[15 + i] = map[flags];
	}
	out[18] = '\0';
}

/* ---- the record store --------------------------------------------------- */

/* FNV-1a over the object, the field name folded to lower case, the value. */
static size_t
fk_hash(size_t object, const char *ext_field, const char *value)
{
	uint64_t	 h = 1469598103934665603ULL;
	const char	*p;

	h = (h ^ (uint64_t)object) * 1099511628211ULL;
	for (p = ext_field; *p != '\0'; p++)
		h = (h ^ (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) *
		    1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (p = value; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)h;
}

/* Caller holds the lock.  Field names are case-insensitive, as in Salesforce. */
static struct fk_record *
fk_find(size_t object, const char *ext_field, const char *value)
{
	size_t			 i, mask = fk.index_cap - 1;
	struct fk_record	*r;

	for (i = fk_hash(object, ext_field, value) & mask; fk.index[i] != 0;
	    i = (i + 1) & mask) {
		r = &fk.records[fk.index[i] - 1];
		if (!r->deleted && r->object == object && strcasecmp(r->ext_field, ext_field) == 0 &&
		    strcmp(r->ext_value, value) == 0)
			return r;
	}
	return NULL;
}

/* Caller holds the lock. */
static void
fk_clear_records(void)
{
	size_t	 i;

	for (i = 0; i < fk.nrecords; i++) {
		free(fk.records[i].ext_value);
		cJSON_Delete(fk.records[i].fields);
	}
	fk.nrecords = 0;
	if (fk.index != NULL)
		memset(fk.index, 0, fk.index_cap * sizeof(*fk.index));
}

/* Merge fields into r, leaving out "attributes" and the external ID. */
static void
fk_merge(struct fk_record *r, const cJSON *fields, const char *ext_field)
{
	const cJSON	*f;
	cJSON		*dup;

	cJSON_ArrayForEach(f, fields) {
		if (strcasecmp(f->string, "attributes") == 0 ||
		    strcasecmp(f->string, ext_field) == 0)
			continue;
		if ((dup = cJSON_Duplicate(f, 1)) == NULL)
			util_oom();
		if (cJSON_GetObjectItem(r->fields, f->string) != NULL)
			cJSON_ReplaceItemInObject(r->fields, f->string, dup);
		else
			cJSON_AddItemToObject(r->fields, f->string, dup);
	}
}

/*
 * Upsert one record; caller holds the lock and has checked there is room
 * for a new one (fk_room).  Counts it.
 */
static struct fk_record *
fk_store_put(size_t object, const char *ext_field, const char *value,
    const cJSON *fields, int *created)
{
	struct fk_record	*r;
	size_t			 i, mask = fk.index_cap - 1;

	if ((r = fk_find(object, ext_field, value)) != NULL) {
		*created = 0;
		fk_merge(r, fields, ext_field);
		util_iso8601(r->updated_at, sizeof(r->updated_at));
		fk.records_updated++;
	} else {
		if (fk.nrecords == fk.records_cap) {
			size_t	 nc = fk.records_cap ? fk.records_cap * 2 : 64;
			void	*p = realloc(fk.records, nc * sizeof(*fk.records));

			if (p == NULL)
				util_oom();
			fk.records = p;
			fk.records_cap = nc;
		}
		*created = 1;
		r = &fk.records[fk.nrecords++];
		memset(r, 0, sizeof(*r));
		r->object = object;
		util_strlcpy(r->ext_field, ext_field, sizeof(r->ext_field));
		r->ext_value = util_strdup(value);
		fk_make_id(object, r->id);
		r->fields = fp_obj();
		fk_merge(r, fields, ext_field);
		util_iso8601(r->created_at, sizeof(r->created_at));
		memcpy(r->updated_at, r->created_at, sizeof(r->updated_at));
		for (i = fk_hash(object, ext_field, value) & mask; fk.index[i] != 0;
		    i = (i + 1) & mask)
			;
		fk.index[i] = (uint32_t)fk.nrecords;
		fk.records_created++;
	}
	r->upserts++;
	fk.upserts++;
	return r;
}

/* Caller holds the lock: may `extra` more records be created? */
static int
fk_room(size_t extra)
{
	return fk.nrecords + extra < cfg.max_records;
}

/* ---- per-record faults ------------------------------------------------- */

static int
fk_target_hits(int target, int call)
{
	switch (target) {
	case FT_ANY:		return call != CALL_NONE;
	case FT_TOKEN:		return call == CALL_TOKEN;
	case FT_UPSERT:		return call == CALL_SINGLE || call == CALL_COLLECTIONS;
	case FT_SINGLE:		return call == CALL_SINGLE;
	case FT_COLLECTIONS:	return call == CALL_COLLECTIONS;
	case FT_QUERY:		return call == CALL_QUERY;
	case FT_DELETE:		return call == CALL_DELETE;
	default:		return 0;
	}
}

/* A record a per-record fault may hit. */
struct fk_record_of {
	int		 call;
	const char	*ext_field;
	const char	*value;
	const cJSON	*fields;
};

/* The external ID value, or the named field's string value, matches. */
static int
fk_record_hits(const void *fault, const void *arg)
{
	const struct fk_fault		*f = fault;
	const struct fk_record_of	*r = arg;
	const cJSON			*v;
	const char			*have = NULL;

	if (f->kind != FAULT_RECORD || !fk_target_hits(f->target, r->call))
		return 0;
	if (f->field[0] == '\0' || strcasecmp(f->field, r->ext_field) == 0)
		have = r->value;
	else if (cJSON_IsString(v = cJSON_GetObjectItem(r->fields, f->field)))
		have = v->valuestring;
	return have != NULL && strcmp(have, f->match) == 0;
}

/* The first record fault that hits this record.  Caller holds the lock. */
static int
fk_record_fault(int call, const char *ext_field, const char *value,
    const cJSON *fields, struct fk_fault *out)
{
	struct fk_record_of	 r = { call, ext_field, value, fields };

	return fp_take(&fk.fq, fk_record_hits, &r, out);
}

/* The real message of a Salesforce error code, for injected errors. */
static const char *
fk_code_message(const char *code)
{
	static const struct {
		const char	*code;
		const char	*msg;
	} msgs[] = {
		{ "INVALID_SESSION_ID", FK_MSG_SESSION },
		{ "REQUEST_LIMIT_EXCEEDED", FK_MSG_LIMIT },
		{ "NOT_FOUND", FK_MSG_NOT_FOUND },
		{ "SERVER_UNAVAILABLE", "Server temporarily unavailable, please "
		    "try again later." },
		{ "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to "
		    "this record or 1 records: a01xx0000000001AAA" },
		{ "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please "
		    "include this ErrorId if you contact support: "
		    "1234567890-12345 (-1234567890)" },
		{ "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Record failed a "
		    "validation rule (fault injected by cb-fake-sf)" },
		{ "DUPLICATE_VALUE", "duplicate value found: an external ID "
		    "already in use" },
		{ "REQUIRED_FIELD_MISSING", "Required fields are missing" },
		{ "STORAGE_LIMIT_EXCEEDED", "storage limit exceeded" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].code, code) == 0)
			return msgs[i].msg;
	return "fault injected by cb-fake-sf";
}

/* ---- single-record upsert and read ------------------------------------- */

static int
fk_token_valid(const struct fh_req *rq)
{
	const char	*auth = fh_header(rq, "Authorization"), *t;
	size_t		 i;
	int		 ok = 0;

	if (auth == NULL || strlen(auth) >= FK_AUTH_MAX)
		return 0;
	/* Salesforce takes both the standard scheme and its legacy "OAuth". */
	if (strncasecmp(auth, "Bearer ", 7) == 0)
		t = auth + 7;
	else if (strncasecmp(auth, "OAuth ", 6) == 0)
		t = auth + 6;
	else
		return 0;
	while (*t == ' ')
		t++;
	if (*t == '\0')
		return 0;
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.ntokens; i++)
		ok |= util_streq_ct(fk.tokens[i], t);
	pthread_mutex_unlock(&fk.lock);
	return ok;
}

/* 0 if the content type is JSON, else answered 415. */
static int
fk_need_json(const struct fh_req *rq, struct fh_resp *rs)
{
	const char	*ct = fh_header(rq, "Content-Type");
	char		 msg[512];

	if (fh_ctype_is(rq, "application/json"))
		return 0;
	snprintf(msg, sizeof(msg), "MediaType of '%.200s' is not supported "
	    "by this resource", ct != NULL && ct[0] ? ct : "(none)");
	fk_sf_error(rs, 415, "UNSUPPORTED_MEDIA_TYPE", msg, NULL);
	return -1;
}

/*
 * The field map of one record: no duplicate names (case-insensitive), only
 * API names, and (single upserts) neither Id nor the external ID.  0, or
 * answered 400.
 */
static int
fk_check_fields(const cJSON *doc, size_t object, const char *ext_field,
    int single, struct fh_resp *rs)
{
	const cJSON	*f, *g;
	char		 msg[512];

	cJSON_ArrayForEach(f, doc) {
		for (g = doc->child; g != f; g = g->next)
			if (strcasecmp(g->string, f->string) == 0) {
				snprintf(msg, sizeof(msg), "Duplicate field "
				    "'%.100s'", f->string);
				fk_sf_error(rs, 400, "JSON_PARSER_ERROR", msg, NULL);
				return -1;
			}
		/* CONTRACTS §3.3: neither Id nor the external ID in the body. */
		if (single && (strcasecmp(f->string, "Id") == 0 ||
		    strcasecmp(f->string, ext_field) == 0)) {
			snprintf(msg, sizeof(msg), "Unable to create/update fields: "
			    "%.100s. Please check the security settings of this "
			    "field and verify that it is read/write for your "
			    "profile or permission set.", f->string);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, f->string);
			return -1;
		}
		if (!sf_api_name_ok(f->string)) {
			snprintf(msg, sizeof(msg), "No such column '%.100s' on "
			    "sobject of type %s", f->string, cfg.objects[object]);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, f->string);
			return -1;
		}
	}
	return 0;
}

static void
fk_upsert(struct fh_req *rq, struct fh_resp *rs, size_t object,
    const char *ext_field, const char *value)
{
	cJSON		*doc = NULL, *res;
	struct fk_record *r;
	struct fk_fault	 f;
	struct jv_error	 je;
	char		 msg[512], id[19];
	int		 created;

	if (fk_need_json(rq, rs) != 0)
		goto out;
	if (rq->body_len == 0 ||
	    jv_parse(rq->body, rq->body_len, &doc, &je) != CB_OK) {
		fk_sf_error(rs, 400, "JSON_PARSER_ERROR", rq->body_len ?
		    je.reason : "No content to map due to end-of-input", NULL);
		goto out;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(msg, sizeof(msg), "Cannot deserialize instance of %s "
		    "from a value that is not an object", cfg.objects[object]);
		fk_sf_error(rs, 400, "JSON_PARSER_ERROR", msg, NULL);
		goto out;
	}
	if (fk_check_fields(doc, object, ext_field, 1, rs) != 0)
		goto out;
	pthread_mutex_lock(&fk.lock);
	if (fk_record_fault(CALL_SINGLE, ext_field, value, doc, &f)) {
		fk.record_failures++;
		pthread_mutex_unlock(&fk.lock);
		fk_sf_error(rs, f.status ? f.status : 400, f.error_code,
		    f.message[0] ? f.message : fk_code_message(f.error_code),
		    f.field[0] ? f.field : NULL);
		goto out;
	}
	if (fk_find(object, ext_field, value) == NULL && !fk_room(0)) {
		fk.record_failures++;
		pthread_mutex_unlock(&fk.lock);
		fk_sf_error(rs, 400, "STORAGE_LIMIT_EXCEEDED",
		    "storage limit exceeded", NULL);
		goto out;
	}
	r = fk_store_put(object, ext_field, value, doc, &created);
	memcpy(id, r->id, sizeof(id));
	pthread_mutex_unlock(&fk.lock);
	res = fp_obj();
	fp_add_str(res, "id", id);
	if (cJSON_AddTrueToObject(res, "success") == NULL ||
	    cJSON_AddArrayToObject(res, "errors") == NULL)
		util_oom();
	fp_add_bool(res, "created", created);
	fp_json(rs, created ? 201 : 200, NULL, res);
out:
	cJSON_Delete(doc);
}

static void
fk_get(struct fh_resp *rs, size_t object, const char *ver,
    const char *ext_field, const char *value)
{
	struct fk_record *r;
	const cJSON	*f;
	cJSON		*doc, *attr, *dup;
	char		 url[256];

	pthread_mutex_lock(&fk.lock);
	if ((r = fk_find(object, ext_field, value)) == NULL) {
		pthread_mutex_unlock(&fk.lock);
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		return;
	}
	doc = fp_obj();
	attr = fp_obj();
	cJSON_AddItemToObject(doc, "attributes", attr);
	fp_add_str(attr, "type", cfg.objects[object]);
	snprintf(url, sizeof(url), "/services/data/%s/sobjects/%s/%s", ver,
	    cfg.objects[object], r->id);
	fp_add_str(attr, "url", url);
	fp_add_str(doc, "Id", r->id);
	fp_add_str(doc, r->ext_field, r->ext_value);
	cJSON_ArrayForEach(f, r->fields) {
		if ((dup = cJSON_Duplicate(f, 1)) == NULL)
			util_oom();
		cJSON_AddItemToObject(doc, f->string, dup);
	}
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, doc);
}

/* DELETE by external ID: 204 with no body, or 404 when no record has it. */
static void
fk_delete(struct fh_resp *rs, size_t object, const char *ext_field, const char *value)
{
	struct fk_record *r;

	pthread_mutex_lock(&fk.lock);
	fk.delete_calls++;
	if ((r = fk_find(object, ext_field, value)) == NULL) {
		pthread_mutex_unlock(&fk.lock);
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		return;
	}
	r->deleted = 1;
	fk.deletes++;
	pthread_mutex_unlock(&fk.lock);
	rs->status = 204;
}

/* ---- sObject Collections upsert (CONTRACTS §3.4) ------------------------ */

/* One record of a Collections call and its outcome. */
struct fk_item {
	const cJSON	*rec;
	char		 value[SF_EXT_VALUE_MAX + 32];
	char		 code[64];	/* "" = no error (yet) */
	char		 msg[512];
	char		 field[84];
	char		 id[19];
	int		 created;
};

static void
fk_item_fail(struct fk_item *it, const char *code, const char *msg,
    const char *field)
{
	util_strlcpy(it->code, code, sizeof(it->code));
	util_strlcpy(it->msg, msg, sizeof(it->msg));
	util_strlcpy(it->field, field ? field : "", sizeof(it->field));
}

/*
 * The request-level checks: the shape, at most 200 records, each an object
 * of the URL's type with API-name fields.  0, or answered 400.
 */
static int
fk_coll_parse(const cJSON *doc, size_t object, const char *ext_field,
    int *all_or_none, const cJSON **records, struct fh_resp *rs)
{
	const cJSON	*f, *rec, *attr, *type;
	char		 msg[512];

	if (!cJSON_IsObject(doc)) {
		fk_sf_error(rs, 400, "JSON_PARSER_ERROR", "Cannot deserialize "
		    "instance of the request from a value that is not an object",
		    NULL);
		return -1;
	}
	*records = NULL;
	*all_or_none = 0;
	cJSON_ArrayForEach(f, doc) {
		if (strcmp(f->string, "allOrNone") == 0 && cJSON_IsBool(f))
			*all_or_none = cJSON_IsTrue(f);
		else if (strcmp(f->string, "records") == 0 && cJSON_IsArray(f))
			*records = f;
		else {
			snprintf(msg, sizeof(msg), "Unrecognized field or wrong "
			    "type: \"%.100s\"", f->string);
			fk_sf_error(rs, 400, "JSON_PARSER_ERROR", msg, NULL);
			return -1;
		}
	}
	if (*records == NULL) {
		fk_sf_error(rs, 400, "INVALID_FIELD", "records: a list of "
		    "sObjects is required", NULL);
		return -1;
	}
	if (cJSON_GetArraySize(*records) > FK_COLLECTION_MAX) {
		fk_sf_error(rs, 400, "EXCEEDED_ID_LIMIT", "record limit reached. "
		    "cannot submit more than 200 records into this call", NULL);
		return -1;
	}
	cJSON_ArrayForEach(rec, *records) {
		if (!cJSON_IsObject(rec)) {
			fk_sf_error(rs, 400, "JSON_PARSER_ERROR", "Cannot "
			    "deserialize instance of SObject from a value that is "
			    "not an object", NULL);
			return -1;
		}
		attr = cJSON_GetObjectItemCaseSensitive(rec, "attributes");
		type = cJSON_GetObjectItemCaseSensitive(attr, "type");
		if (!cJSON_IsObject(attr) || !cJSON_IsString(type)) {
			fk_sf_error(rs, 400, "INVALID_TYPE", "Must send a concrete "
			    "entity type.", NULL);
			return -1;
		}
		if (strcasecmp(type->valuestring, cfg.objects[object]) != 0) {
			snprintf(msg, sizeof(msg), "Record type %.84s does not "
			    "match the sObject type %s of the request",
			    type->valuestring, cfg.objects[object]);
			fk_sf_error(rs, 400, "INVALID_TYPE", msg, NULL);
			return -1;
		}
		if (fk_check_fields(rec, object, ext_field, 0, rs) != 0)
			return -1;
	}
	return 0;
}

/* The record-level checks that need no state: Id, the external ID value. */
static void
fk_coll_check_item(struct fk_item *it, const char *ext_field)
{
	const cJSON	*v;
	char		 msg[300];

	if (cJSON_GetObjectItem(it->rec, "Id") != NULL) {
		fk_item_fail(it, "INVALID_FIELD", "Id is not allowed in an upsert "
		    "by external ID: use the external ID field", "Id");
		return;
	}
	v = cJSON_GetObjectItem(it->rec, ext_field);
	if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
		snprintf(it->value, sizeof(it->value), "%lld",
		    (long long)v->valuedouble);
	else if (cJSON_IsString(v))
		util_strlcpy(it->value, v->valuestring, sizeof(it->value));
	else if (v != NULL && !cJSON_IsNull(v)) {
		snprintf(msg, sizeof(msg), "%.84s: invalid value for an "
		    "external ID", ext_field);
		fk_item_fail(it, "INVALID_FIELD", msg, ext_field);
		return;
	}
	if (it->value[0] == '\0') {
		snprintf(msg, sizeof(msg), "%.84s not specified", ext_field);
		fk_item_fail(it, "MISSING_ARGUMENT", msg, NULL);
	} else if (strlen(it->value) > SF_EXT_VALUE_MAX) {
		snprintf(msg, sizeof(msg), "%.84s: data value too large",
		    ext_field);
		fk_item_fail(it, "STRING_TOO_LONG", msg, ext_field);
	}
}

static cJSON *
fk_coll_results(const struct fk_item *items, size_t n)
{
	cJSON	*arr = cJSON_CreateArray(), *o, *errs, *e, *fields;
	size_t	 i;

	if (arr == NULL)
		util_oom();
	for (i = 0; i < n; i++) {
		const struct fk_item	*it = &items[i];

		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		if (it->code[0] == '\0') {
			fp_add_str(o, "id", it->id);
			fp_add_bool(o, "success", 1);
			if (cJSON_AddArrayToObject(o, "errors") == NULL)
				util_oom();
			fp_add_bool(o, "created", it->created);
			continue;
		}
		/* A failed record has no id (the API leaves null out). */
		fp_add_bool(o, "success", 0);
		if ((errs = cJSON_AddArrayToObject(o, "errors")) == NULL)
			util_oom();
		e = fp_obj();
		cJSON_AddItemToArray(errs, e);
		fp_add_str(e, "statusCode", it->code);
		fp_add_str(e, "message", it->msg);
		if ((fields = cJSON_AddArrayToObject(e, "fields")) == NULL)
			util_oom();
		if (it->field[0] != '\0') {
			cJSON	*s = cJSON_CreateString(it->field);

			if (s == NULL)
				util_oom();
			cJSON_AddItemToArray(fields, s);
		}
	}
	return arr;
}

/*
 * PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExtIdField}:
 * 200 with one UpsertResult per record in request order, even when some
 * fail; 400 only for a malformed request; allOrNone:true writes nothing
 * unless every record succeeds.
 */
static void
fk_collections(struct fh_req *rq, struct fh_resp *rs, size_t object,
    const char *ext_field)
{
	const cJSON	*records, *rec;
	cJSON		*doc = NULL;
	struct fk_item	*items = NULL;
	struct fk_record *r;
	struct fk_fault	 f;
	struct jv_error	 je;
	size_t		 n, i, j, creates = 0, nfail = 0;
	int		 all_or_none;
	char		 msg[512];

	if (fk_need_json(rq, rs) != 0)
		goto out;
	if (rq->body_len == 0 ||
	    jv_parse(rq->body, rq->body_len, &doc, &je) != CB_OK) {
		fk_sf_error(rs, 400, "JSON_PARSER_ERROR", rq->body_len ?
		    je.reason : "No content to map due to end-of-input", NULL);
		goto out;
	}
	if (fk_coll_parse(doc, object, ext_field, &all_or_none, &records,
	    rs) != 0)
		goto out;
	n = (size_t)cJSON_GetArraySize(records);
	items = util_calloc(n ? n : 1, sizeof(*items));
	i = 0;
	cJSON_ArrayForEach(rec, records) {
		items[i].rec = rec;
		fk_coll_check_item(&items[i++], ext_field);
	}
	/* One record per external ID: a value sent twice fails both times. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (items[i].value[0] != '\0' &&
			    strcmp(items[i].value, items[j].value) == 0) {
				snprintf(msg, sizeof(msg), "Duplicate external id "
				    "specified: %.255s", items[i].value);
				if (items[i].code[0] == '\0')
					fk_item_fail(&items[i], "DUPLICATE_VALUE",
					    msg, NULL);
				if (items[j].code[0] == '\0')
					fk_item_fail(&items[j], "DUPLICATE_VALUE",
					    msg, NULL);
			}
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < n; i++) {
		struct fk_item	*it = &items[i];

		if (it->code[0] != '\0')
			continue;
		if (fk_record_fault(CALL_COLLECTIONS, ext_field, it->value,
		    it->rec, &f))
			fk_item_fail(it, f.error_code, f.message[0] ? f.message :
			    fk_code_message(f.error_code), f.field[0] ?
			    f.field : NULL);
		else if (fk_find(object, ext_field, it->value) == NULL) {
			if (fk_room(creates))
				creates++;
			else
				fk_item_fail(it, "STORAGE_LIMIT_EXCEEDED",
				    "storage limit exceeded", NULL);
		}
	}
	for (i = 0; i < n; i++)
		nfail += items[i].code[0] != '\0';
	for (i = 0; i < n; i++) {
		struct fk_item	*it = &items[i];

		if (it->code[0] != '\0')
			continue;
		if (all_or_none && nfail > 0) {
			fk_item_fail(it, "ALL_OR_NONE_OPERATION_ROLLED_BACK",
			    FK_MSG_ROLLED_BACK, NULL);
			continue;
		}
		r = fk_store_put(object, ext_field, it->value, it->rec,
		    &it->created);
		memcpy(it->id, r->id, sizeof(it->id));
	}
	for (i = 0; i < n; i++)
		fk.record_failures += items[i].code[0] != '\0';
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, fk_coll_results(items, n));
out:
	free(items);
	cJSON_Delete(doc);
}

/* ---- the query resource and its Contacts -------------------------------- */

/* The Contact fields the query resource knows, in their canonical case. */
static const char *const contact_fields[] = { "Id", "Phone", "Name" };

static const char *
fk_contact_field(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(contact_fields) / sizeof(contact_fields[0]); i++)
		if (strcasecmp(contact_fields[i], name) == 0)
			return contact_fields[i];
	return NULL;
}

static const char *
fk_contact_value(const struct fk_contact *c, const char *field)
{
	if (strcmp(field, "Id") == 0)
		return c->id;
	if (strcmp(field, "Phone") == 0)
		return c->phone;
	return c->name;
}

/* Caller holds the lock.  The SOQL as received, for /__fake/queries. */
static void
fk_query_note(const char *soql, long matches)
{
	size_t	 i = fk.query_next++ % FK_QUERY_LOG;

	free(fk.query_log[i]);
	fk.query_log[i] = util_strdup(soql);
	fk.query_matches[i] = matches;
}

static void
fk_query(struct fh_req *rq, struct fh_resp *rs, const char *ver)
{
	struct fs_query	*q = util_calloc(1, sizeof(*q));
	struct buf	 soql;
	cJSON		*doc, *recs, *rec, *attr;
	const char	*field, *want, *have;
	char		 msg[400], url[128];
	size_t		 i, j;
	long		 n = 0;
	int		 got;

	buf_init(&soql, FS_QUERY_MAX);
	pthread_mutex_lock(&fk.lock);
	fk.queries++;
	pthread_mutex_unlock(&fk.lock);
	got = fh_form_get(rq->query, strlen(rq->query), "q", &soql);
	if (got != 1) {
		fk_sf_error(rs, 400, "MALFORMED_QUERY", got == 0 ?
		    "A query string has to be specified" : "the q parameter is malformed", NULL);
		goto out;
	}
	pthread_mutex_lock(&fk.lock);
	fk_query_note(buf_cstr(&soql), -1);
	pthread_mutex_unlock(&fk.lock);
	if (fs_parse(buf_cstr(&soql), q, msg, sizeof(msg)) != 0) {
		fk_sf_error(rs, 400, "MALFORMED_QUERY", msg, NULL);
		goto out;
	}
	/* Salesforce looks at the object before the fields. */
	if (strcasecmp(q->object, "Contact") != 0) {
		snprintf(msg, sizeof(msg), "sObject type '%.80s' is not supported. If you are "
		    "attempting to use a custom object, be sure to append the '__c' after the "
		    "entity name. Please reference your WSDL or the describe call for the "
		    "appropriate names.", q->object);
		fk_sf_error(rs, 400, "INVALID_TYPE", msg, NULL);
		goto out;
	}
	for (i = 0; i <= q->nfields; i++) {
		field = i < q->nfields ? q->fields[i] : q->where;
		if (fk_contact_field(field) == NULL) {
			snprintf(msg, sizeof(msg), "No such column '%.80s' on entity 'Contact'. If "
			    "you are attempting to use a custom field, be sure to append the '__c' "
			    "after the custom field name. Please reference your WSDL or the "
			    "describe call for the appropriate names.", field);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, NULL);
			goto out;
		}
	}
	doc = fp_obj();
	if ((recs = cJSON_CreateArray()) == NULL)
		util_oom();
	want = fk_contact_field(q->where);
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.ncontacts && (q->limit < 0 || n < q->limit); i++) {
		const struct fk_contact *c = &fk.contacts[i];

		/* Text comparison in SOQL ignores case. */
		if ((have = fk_contact_value(c, want)) == NULL || strcasecmp(have, q->value) != 0)
			continue;
		rec = fp_obj();
		attr = fp_obj();
		cJSON_AddItemToObject(rec, "attributes", attr);
		fp_add_str(attr, "type", "Contact");
		snprintf(url, sizeof(url), "/services/data/%s/sobjects/Contact/%s", ver, c->id);
		fp_add_str(attr, "url", url);
		for (j = 0; j < q->nfields; j++) {
			field = fk_contact_field(q->fields[j]);
			if (cJSON_GetObjectItemCaseSensitive(rec, field) == NULL)
				fp_add_str(rec, field, fk_contact_value(c, field));
		}
		cJSON_AddItemToArray(recs, rec);
		n++;
	}
	fk_query_note(buf_cstr(&soql), n);
	pthread_mutex_unlock(&fk.lock);
	fp_add_num(doc, "totalSize", (double)n);
	fp_add_bool(doc, "done", 1);
	cJSON_AddItemToObject(doc, "records", recs);
	fp_json(rs, 200, NULL, doc);
out:
	buf_free(&soql);
	free(q);
}

/* Caller holds the lock. */
static void
fk_clear_contacts(void)
{
	size_t	 i;

	for (i = 0; i < fk.ncontacts; i++) {
		free(fk.contacts[i].phone);
		free(fk.contacts[i].name);
	}
	fk.ncontacts = 0;
	for (i = 0; i < FK_QUERY_LOG; i++) {
		free(fk.query_log[i]);
		fk.query_log[i] = NULL;
	}
	fk.query_next = 0;
}

struct contact_in {
	const char	*id;
	const char	*phone;
	const char	*name;
};

static int
fk_sfid_check(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring;
	size_t		 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z')))
			break;
	if (i == n && (n == 15 || n == 18))
		return 0;
	*why = "must be 15 or 18 letters and digits";
	return -1;
}

static const struct jv_field contact_in_fields[] = {
	{ "Id", JV_STRING, 0, 15, 18, offsetof(struct contact_in, id), fk_sfid_check },
	{ "Phone", JV_STRING, JV_REQUIRED, 1, 255, offsetof(struct contact_in, phone), NULL },
	{ "Name", JV_STRING, 0, 1, 255, offsetof(struct contact_in, name), NULL },
};

/* POST /__fake/contacts: seed one; GET: list them. */
static void
fk_contacts(struct fh_req *rq, struct fh_resp *rs)
{
	struct contact_in	 in;
	struct fk_contact	*c;
	cJSON			*doc = NULL, *res, *arr, *o;
	size_t			 i;
	char			 id[19];

	if (strcmp(rq->method, "GET") == 0) {
		res = fp_obj();
		if ((arr = cJSON_AddArrayToObject(res, "contacts")) == NULL)
			util_oom();
		pthread_mutex_lock(&fk.lock);
		for (i = 0; i < fk.ncontacts; i++) {
			o = fp_obj();
			fp_add_str(o, "Id", fk.contacts[i].id);
			fp_add_str(o, "Phone", fk.contacts[i].phone);
			fp_add_str(o, "Name", fk.contacts[i].name);
			cJSON_AddItemToArray(arr, o);
		}
		pthread_mutex_unlock(&fk.lock);
		fp_json(rs, 200, NULL, res);
		return;
	}
	memset(&in, 0, sizeof(in));
	if (fp_body(rq, contact_in_fields, sizeof(contact_in_fields) /
	    sizeof(contact_in_fields[0]), &in, &doc, rs) != 0)
		goto out;
	pthread_mutex_lock(&fk.lock);
	if (fk.ncontacts == FK_CONTACTS_MAX) {
		pthread_mutex_unlock(&fk.lock);
		fh_resp_error(rs, 400, "too many contacts");
		goto out;
	}
	c = &fk.contacts[fk.ncontacts++];
	if (in.id != NULL)
		util_strlcpy(c->id, in.id, sizeof(c->id));
	else {
		/* A Contact Id starts 003: the object's key prefix. */
		fk_make_id(0, c->id);
		c->id[0] = '0';
		c->id[1] = '0';
		c->id[2] = '3';
	}
	c->phone = util_strdup(in.phone);
	c->name = util_strdup(in.name != NULL ? in.name : "");
	memcpy(id, c->id, sizeof(id));
	pthread_mutex_unlock(&fk.lock);
	res = fp_obj();
	fp_add_str(res, "id", id);
	fp_json(rs, 201, NULL, res);
out:
	cJSON_Delete(doc);
}

/* GET /__fake/queries: the SOQL received, oldest first, with its match count (-1: refused). */
static void
fk_queries(struct fh_resp *rs)
{
	cJSON	*res = fp_obj(), *arr, *o;
	size_t	 i, k, n;

	if ((arr = cJSON_AddArrayToObject(res, "queries")) == NULL)
		util_oom();
	pthread_mutex_lock(&fk.lock);
	n = fk.query_next < FK_QUERY_LOG ? fk.query_next : FK_QUERY_LOG;
	for (k = 0; k < n; k++) {
		i = (fk.query_next - n + k) % FK_QUERY_LOG;
		o = fp_obj();
		fp_add_str(o, "q", fk.query_log[i]);
		fp_add_num(o, "matches", (double)fk.query_matches[i]);
		cJSON_AddItemToArray(arr, o);
	}
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, res);
}

/* ---- REST --------------------------------------------------------------- */

/* "vNN.N" with two or three digits before the dot. */
static int
fk_version_ok(const char *v, size_t n)
{
	size_t	 i = 1;

	if (n < 5 || n > 6 || v[0] != 'v')
		return 0;
	while (i < n && v[i] >= '0' && v[i] <= '9')
		i++;
	return (i == 3 || i == 4) && i + 2 == n && v[i] == '.' &&
	    v[i + 1] >= '0' && v[i + 1] <= '9';
}

static int
fk_seg_is(const char *seg, size_t len, const char *want)
{
	return strlen(want) == len && strncmp(seg, want, len) == 0;
}

/* The configured object named by a path segment; cfg.nobjects if none. */
static size_t
fk_object_of(const char *seg, size_t len)
{
	size_t	 obj;

	for (obj = 0; obj < cfg.nobjects; obj++)
		if (strlen(cfg.objects[obj]) == len &&
		    strncasecmp(cfg.objects[obj], seg, len) == 0)
			break;
	return obj;
}

/* The external ID field of a path segment; 0, or answered 404. */
static int
fk_ext_field_of(const char *seg, size_t len, char field[84],
    struct fh_resp *rs)
{
	char	 msg[200];

	if (len >= 84)
		len = 83;
	memcpy(field, seg, len);
	field[len] = '\0';
	if (sf_api_name_ok(field))
		return 0;
	snprintf(msg, sizeof(msg), "Provided external ID field does not "
	    "exist or is not accessible: %.80s", field);
	fk_sf_error(rs, 404, "NOT_FOUND", msg, NULL);
	return -1;
}

static void
fk_method_not_allowed(struct fh_resp *rs, const char *method,
    const char *allowed)
{
	char	 msg[200];

	snprintf(msg, sizeof(msg), "HTTP Method '%.16s' not allowed. "
	    "Allowed are %s", method, allowed);
	fk_sf_error(rs, 405, "METHOD_NOT_ALLOWED", msg, NULL);
}

static void
fk_rest(struct fh_req *rq, struct fh_resp *rs)
{
	const char	*seg[6], *p, *e;
	size_t		 len[6], nseg = 0, obj;
	char		 ver[8], field[84];
	struct buf	 value;
	int		 coll;

	buf_init(&value, SF_EXT_VALUE_MAX);
	/* The value's own slashes arrive as %2F, so '/' splits cleanly. */
	p = rq->path + strlen("/services/data/");
	while (nseg < 6) {
		e = strchr(p, '/');
		seg[nseg] = p;
		len[nseg] = e ? (size_t)(e - p) : strlen(p);
		nseg++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	/* Unauthenticated answers carry the header but are not charged. */
	if (!fk_version_ok(seg[0], len[0])) {
		fk_api_call(rs, 0);
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	memcpy(ver, seg[0], len[0]);
	ver[len[0]] = '\0';
	/* Salesforce checks the session before it looks at the resource. */
	if (!fk_token_valid(rq)) {
		fk_api_call(rs, 0);
		fk_sf_error(rs, 401, "INVALID_SESSION_ID", FK_MSG_SESSION, NULL);
		goto out;
	}
	if (fk_api_call(rs, 1) != 0)
		goto out;
	if ((nseg == 2 || (nseg == 3 && len[2] == 0)) && fk_seg_is(seg[1], len[1], "query")) {
		if (strcmp(rq->method, "GET") != 0)
			fk_method_not_allowed(rs, rq->method, "GET,HEAD");
		else
			fk_query(rq, rs, ver);
		goto out;
	}
	coll = nseg == 5 && fk_seg_is(seg[1], len[1], "composite") &&
	    fk_seg_is(seg[2], len[2], "sobjects");
	if (!coll && (nseg != 5 || !fk_seg_is(seg[1], len[1], "sobjects") ||
	    len[4] == 0)) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	if ((obj = fk_object_of(seg[coll ? 3 : 2], len[coll ? 3 : 2])) ==
	    cfg.nobjects) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	if (fk_ext_field_of(seg[coll ? 4 : 3], len[coll ? 4 : 3], field, rs) != 0)
		goto out;
	if (coll) {
		if (strcmp(rq->method, "PATCH") != 0) {
			fk_method_not_allowed(rs, rq->method, "PATCH");
			goto out;
		}
		pthread_mutex_lock(&fk.lock);
		fk.collections_calls++;
		pthread_mutex_unlock(&fk.lock);
		fk_collections(rq, rs, obj, field);
		goto out;
	}
	if (fh_pct_decode(seg[4], len[4], 0, &value) != 0 ||
	    !jv_utf8_ok(buf_cstr(&value), value.len)) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	if (strcmp(rq->method, "PATCH") == 0) {
		pthread_mutex_lock(&fk.lock);
		fk.upsert_calls++;
		pthread_mutex_unlock(&fk.lock);
		fk_upsert(rq, rs, obj, field, value.data);
	} else if (strcmp(rq->method, "GET") == 0)
		fk_get(rs, obj, ver, field, value.data);
	else if (strcmp(rq->method, "DELETE") == 0)
		fk_delete(rs, obj, field, value.data);
	else
		fk_method_not_allowed(rs, rq->method, "DELETE,GET,PATCH");
out:
	buf_free(&value);
}

/* ---- call faults --------------------------------------------------------- */

static int
fk_call_hits(const void *fault, const void *arg)
{
	const struct fk_fault	*f = fault;

	return f->kind != FAULT_RECORD && fk_target_hits(f->target, *(const int *)arg);
}

static int
fk_take_fault(int call, struct fk_fault *out)
{
	int	 hit;

	pthread_mutex_lock(&fk.lock);
	hit = fp_take(&fk.fq, fk_call_hits, &call, out);
	pthread_mutex_unlock(&fk.lock);
	return hit;
}

/* The real error body for an injected status. */
static void
fk_fault_answer(const struct fk_fault *f, int is_token, struct fh_resp *rs)
{
	const char	*code;
	int		 s = f->status;

	if (f->retry_after_s > 0)
		fh_resp_header(rs, "Retry-After", "%ld", f->retry_after_s);
	if (is_token) {
		code = f->error_code[0] ? f->error_code :
		    s >= 500 ? "unknown_error" : "invalid_grant";
		fk_oauth_error(rs, s, code, f->message[0] ? f->message :
		    "fault injected by cb-fake-sf");
		return;
	}
	if (s == 300 && f->error_code[0] == '\0') {
		/* Several matches: the list of the matching records' URLs. */
		rs->status = 300;
		buf_reset(&rs->body);
		buf_puts(&rs->body, "[\"/services/data/v60.0/sobjects/"
		    "Form_Submission__c/a01xx0000000001AAA\",\"/services/data/"
		    "v60.0/sobjects/Form_Submission__c/a01xx0000000002AAA\"]");
		return;
	}
	if (f->error_code[0])
		code = f->error_code;
	else if (s == 401)
		code = "INVALID_SESSION_ID";
	else if (s == 403)
		code = "REQUEST_LIMIT_EXCEEDED";
	else if (s == 404)
		code = "NOT_FOUND";
	else if (s == 500)
		code = "UNKNOWN_EXCEPTION";
	else if (s >= 500)
		code = "SERVER_UNAVAILABLE";
	else if (s == 400)
		code = "INVALID_FIELD";
	else
		code = "UNKNOWN_EXCEPTION";
	fk_sf_error(rs, s, code, f->message[0] ? f->message :
	    fk_code_message(code), NULL);
}

/* ---- control plane ------------------------------------------------------ */

struct fault_in {
	const char	*target;
	const char	*kind;
	const char	*error_code;
	const char	*message;
	const char	*match;
	const char	*field;
	long long	 status;
	long long	 count;
	long long	 latency_ms;
	long long	 retry_after_s;
};

static int
fk_code_check(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring;

	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_')) {
			*why = "must be letters, digits and underscores";
			return -1;
		}
	return 0;
}

static int
fk_field_check(const cJSON *v, const char **why)
{
	if (sf_api_name_ok(v->valuestring))
		return 0;
	*why = "must be an API name";
	return -1;
}

static const struct jv_field fault_fields[] = {
	{ "target", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, target), NULL },
	{ "kind", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, kind), NULL },
	{ "status", JV_INT, 0, 300, 599, offsetof(struct fault_in, status), NULL },
	{ "error_code", JV_STRING, 0, 1, 63, offsetof(struct fault_in, error_code), fk_code_check },
	{ "message", JV_STRING, 0, 1, 255, offsetof(struct fault_in, message), NULL },
	{ "match", JV_STRING, 0, 1, 255, offsetof(struct fault_in, match), NULL },
	{ "field", JV_STRING, 0, 1, 83, offsetof(struct fault_in, field), fk_field_check },
	{ "count", JV_INT, 0, 1, 1000000, offsetof(struct fault_in, count), NULL },
	{ "latency_ms", JV_INT, 0, 1, 60000, offsetof(struct fault_in, latency_ms), NULL },
	{ "retry_after_s", JV_INT, 0, 1, 86400, offsetof(struct fault_in, retry_after_s), NULL },
};

static const char *const target_names[] = {
	[FT_UPSERT] = "upsert", [FT_TOKEN] = "token", [FT_ANY] = "any",
	[FT_SINGLE] = "single", [FT_COLLECTIONS] = "collections", [FT_QUERY] = "query",
	[FT_DELETE] = "delete",
};
static const char *const kind_names[] = {
	[FAULT_STATUS] = "status", [FAULT_DROP] = "drop",
	[FAULT_LATENCY] = "latency", [FAULT_RECORD] = "record",
};

static void
fk_add_fault(struct fh_req *rq, struct fh_resp *rs)
{
	struct fault_in	 in;
	struct fk_fault	 f;
	cJSON		*doc = NULL;
	int		 t, k;

	memset(&in, 0, sizeof(in));
	memset(&f, 0, sizeof(f));
	if (fp_body(rq, fault_fields, sizeof(fault_fields) /
	    sizeof(fault_fields[0]), &in, &doc, rs) != 0)
		goto out;
	if ((t = fp_name_index(target_names, sizeof(target_names) /
	    sizeof(target_names[0]), in.target)) < 0) {
		fh_resp_error(rs, 400, "target: must be upsert, single, "
		    "collections, query, delete, token or any");
		goto out;
	}
	k = fp_name_index(kind_names, sizeof(kind_names) /
	    sizeof(kind_names[0]), in.kind);
	if (!((k == FAULT_STATUS && in.status != 0) || k == FAULT_DROP ||
	    (k == FAULT_LATENCY && in.latency_ms != 0) ||
	    (k == FAULT_RECORD && in.match != NULL && in.error_code != NULL &&
	    t != FT_TOKEN))) {
		fh_resp_error(rs, 400, "kind: must be status (with status), "
		    "drop, latency (with latency_ms), or record (with match and "
		    "error_code, not for token)");
		goto out;
	}
	f.target = t;
	f.kind = k;
	f.status = (int)in.status;
	f.count = in.count ? (long)in.count : 1;
	f.latency_ms = (long)in.latency_ms;
	f.retry_after_s = (long)in.retry_after_s;
	util_strlcpy(f.error_code, in.error_code ? in.error_code : "",
	    sizeof(f.error_code));
	util_strlcpy(f.message, in.message ? in.message : "", sizeof(f.message));
	util_strlcpy(f.match, in.match ? in.match : "", sizeof(f.match));
	util_strlcpy(f.field, in.field ? in.field : "", sizeof(f.field));
	fp_answer_add(rs, &fk.lock, &fk.fq, &f);
out:
	cJSON_Delete(doc);
}

static void
fk_fault_json(cJSON *o, const void *fault)
{
	const struct fk_fault	*f = fault;

	fp_add_str(o, "target", target_names[f->target]);
	fp_add_str(o, "kind", kind_names[f->kind]);
	fp_add_num(o, "status", f->status);
	fp_add_str(o, "error_code", f->error_code);
	fp_add_num(o, "count", (double)f->count);
	fp_add_num(o, "latency_ms", (double)f->latency_ms);
	if (f->kind == FAULT_RECORD) {
		fp_add_str(o, "match", f->match);
		fp_add_str(o, "field", f->field);
	}
}

static void
fk_list_records(struct fh_resp *rs)
{
	cJSON	*doc = fp_obj(), *arr, *o, *dup;
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "records")) == NULL)
		util_oom();
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.nrecords; i++) {
		const struct fk_record	*r = &fk.records[i];

		if (r->deleted)
			continue;
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		fp_add_str(o, "object", cfg.objects[r->object]);
		fp_add_str(o, "ext_field", r->ext_field);
		fp_add_str(o, "ext_value", r->ext_value);
		fp_add_str(o, "id", r->id);
		if ((dup = cJSON_Duplicate(r->fields, 1)) == NULL)
			util_oom();
		cJSON_AddItemToObject(o, "fields", dup);
		fp_add_num(o, "upserts", (double)r->upserts);
		fp_add_str(o, "created_at", r->created_at);
		fp_add_str(o, "updated_at", r->updated_at);
	}
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, doc);
}

static void
fk_stats(struct fh_resp *rs)
{
	cJSON	*doc = fp_obj();

	pthread_mutex_lock(&fk.lock);
	fp_add_num(doc, "token_requests", (double)fk.token_requests);
	fp_add_num(doc, "token_failures", (double)fk.token_failures);
	fp_add_num(doc, "token_mints", (double)fk.token_mints);
	fp_add_num(doc, "upserts", (double)fk.upserts);
	fp_add_num(doc, "upsert_calls", (double)fk.upsert_calls);
	fp_add_num(doc, "collections_calls", (double)fk.collections_calls);
	fp_add_num(doc, "delete_calls", (double)fk.delete_calls);
	fp_add_num(doc, "deletes", (double)fk.deletes);
	fp_add_num(doc, "queries", (double)fk.queries);
	fp_add_num(doc, "contacts", (double)fk.ncontacts);
	fp_add_num(doc, "records_created", (double)fk.records_created);
	fp_add_num(doc, "records_updated", (double)fk.records_updated);
	fp_add_num(doc, "record_failures", (double)fk.record_failures);
	fp_add_num(doc, "faults_served", (double)fk.fq.served);
	fp_add_num(doc, "api_usage", (double)fk.api_usage);
	fp_add_num(doc, "api_limit", (double)fk.api_limit);
	fp_add_num(doc, "records", (double)fk.nrecords);
	fp_add_num(doc, "tokens", (double)fk.ntokens);
	fp_add_num(doc, "faults_queued", (double)fk.fq.n);
	fp_add_num(doc, "certs", (double)fk.ncerts);
	{
		cJSON	*m = cJSON_AddArrayToObject(doc, "mints_by_cert");
		size_t	 i;

		if (m == NULL)
			util_oom();
		for (i = 0; i < fk.ncerts; i++)
			cJSON_AddItemToArray(m, cJSON_CreateNumber((double)fk.cert_mints[i]));
	}
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, doc);
}

/* Caller holds the lock. */
static size_t
fk_clear_tokens(void)
{
	size_t	 n = fk.ntokens;

	sodium_memzero(fk.tokens, sizeof(fk.tokens));
	fk.ntokens = fk.next_token = 0;
	return n;
}

struct usage_in {
	long long	 used;
	long long	 limit;
};

static const struct jv_field usage_fields[] = {
	{ "used", JV_INT, 0, 0, 1000000000000LL, offsetof(struct usage_in, used), NULL },
	{ "limit", JV_INT, 0, 1, 1000000000000LL, offsetof(struct usage_in, limit), NULL },
};

/* GET or POST /__fake/api-usage {"used":N,"limit":M}: either may be left out. */
static void
fk_api_usage(struct fh_req *rq, struct fh_resp *rs)
{
	struct usage_in	 in = { -1, -1 };
	cJSON		*doc = NULL, *res;

	if (strcmp(rq->method, "POST") == 0 && fp_body(rq, usage_fields,
	    sizeof(usage_fields) / sizeof(usage_fields[0]), &in, &doc, rs) != 0)
		goto out;
	res = fp_obj();
	pthread_mutex_lock(&fk.lock);
	if (in.used >= 0)
		fk.api_usage = (long)in.used;
	if (in.limit > 0)
		fk.api_limit = (long)in.limit;
	fp_add_num(res, "used", (double)fk.api_usage);
	fp_add_num(res, "limit", (double)fk.api_limit);
	pthread_mutex_unlock(&fk.lock);
	fp_json(rs, 200, NULL, res);
out:
	cJSON_Delete(doc);
}

static void
fk_reset(struct fh_resp *rs)
{
	cJSON	*doc;

	pthread_mutex_lock(&fk.lock);
	fk_clear_records();
	fk_clear_contacts();
	fk_clear_tokens();
	(void)fp_clear(&fk.fq);
	fk.token_requests = fk.token_failures = fk.token_mints = 0;
	fk.upserts = fk.upsert_calls = fk.collections_calls = fk.queries = 0;
	fk.delete_calls = fk.deletes = 0;
	fk.records_created = fk.records_updated = fk.record_failures = 0;
	fk.fq.served = fk.api_usage = 0;
	fk.api_limit = cfg.api_limit;
	memset(fk.cert_mints, 0, sizeof(fk.cert_mints));
	pthread_mutex_unlock(&fk.lock);
	doc = fp_obj();
	if (cJSON_AddTrueToObject(doc, "reset") == NULL)
		util_oom();
	fp_json(rs, 200, NULL, doc);
}

static void
fk_control(struct fh_req *rq, struct fh_resp *rs)
{
	static const struct {
		const char	*path;
		const char	*methods;	/* the ones allowed, '|'-joined */
	} routes[] = {
		{ "records", "GET" }, { "stats", "GET" }, { "reset", "POST" },
		{ "revoke-tokens", "POST" }, { "faults", "GET|POST|DELETE" },
		{ "api-usage", "GET|POST" }, { "contacts", "GET|POST" },
		{ "queries", "GET" }, { "certs", "POST" },
	};
	const char	*p = rq->path + strlen("/__fake/"), *m = rq->method;
	cJSON		*doc;
	size_t		 i, n;
	char		 want[24], allowed[40];

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(p, routes[i].path) == 0)
			break;
	if (i == sizeof(routes) / sizeof(routes[0])) {
		fh_resp_error(rs, 404, "no such control endpoint");
		return;
	}
	snprintf(want, sizeof(want), "|%s|", m);
	snprintf(allowed, sizeof(allowed), "|%s|", routes[i].methods);
	if (strstr(allowed, want) == NULL) {
		fh_resp_error(rs, 405, "method not allowed");
		return;
	}
	if (strcmp(p, "records") == 0)
		fk_list_records(rs);
	else if (strcmp(p, "stats") == 0)
		fk_stats(rs);
	else if (strcmp(p, "reset") == 0)
		fk_reset(rs);
	else if (strcmp(p, "revoke-tokens") == 0) {
		pthread_mutex_lock(&fk.lock);
		n = fk_clear_tokens();
		pthread_mutex_unlock(&fk.lock);
		doc = fp_obj();
		fp_add_num(doc, "revoked", (double)n);
		fp_json(rs, 200, NULL, doc);
	} else if (strcmp(p, "api-usage") == 0)
		fk_api_usage(rq, rs);
	else if (strcmp(p, "contacts") == 0)
		fk_contacts(rq, rs);
	else if (strcmp(p, "queries") == 0)
		fk_queries(rs);
	else if (strcmp(p, "certs") == 0)
		fk_add_cert(rq, rs);
	else if (strcmp(m, "POST") == 0)
		fk_add_fault(rq, rs);
	else if (strcmp(m, "GET") == 0)
		fp_answer_list(rs, &fk.lock, &fk.fq, fk_fault_json);
	else
		fp_answer_clear(rs, &fk.lock, &fk.fq);
}

/* ---- dispatch -------------------------------------------------------------- */

static int
fk_call_of(const struct fh_req *rq)
{
	if (strcmp(rq->path, "/services/oauth2/token") == 0)
		return CALL_TOKEN;
	if (strncmp(rq->path, "/services/data/", 15) != 0)
		return CALL_NONE;
	if (strcmp(rq->method, "DELETE") == 0)
		return CALL_DELETE;
	if (strcmp(rq->method, "PATCH") != 0) {
		const char *q = strchr(rq->path + 15, '/');

		return q != NULL && (strcmp(q, "/query") == 0 || strcmp(q, "/query/") == 0) ?
		    CALL_QUERY : CALL_REST;
	}
	return strstr(rq->path, "/composite/sobjects/") != NULL ?
	    CALL_COLLECTIONS : CALL_SINGLE;
}

static void
fk_handle(struct fh_req *rq, struct fh_resp *rs, void *arg)
{
	struct fk_fault	 f;
	int		 call;

	(void)arg;
	if (strncmp(rq->path, "/__fake/", 8) == 0) {
		fk_control(rq, rs);
		return;
	}
	call = fk_call_of(rq);
	if (call != CALL_NONE && fk_take_fault(call, &f)) {
		switch (f.kind) {
		case FAULT_DROP:
			rs->drop = 1;
			return;
		case FAULT_LATENCY:
			fh_sleep_ms(f.latency_ms);
			break;
		default:
			/* The org answered: the call is charged. */
			if (call != CALL_TOKEN && fk_api_call(rs, 1) != 0)
				return;
			fk_fault_answer(&f, call == CALL_TOKEN, rs);
			return;
		}
	}
	if (call == CALL_TOKEN)
		fk_token(rq, rs);
	else if (call != CALL_NONE)
		fk_rest(rq, rs);
	else
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
}

/* The external ID value can be personal data: mask it in the log. */
static void
fk_log_path(const struct fh_req *rq, char *path, size_t pathsz)
{
	char	*so;
	size_t	 i;
	int	 slashes = 0;

	util_strlcpy(path, rq->path, pathsz);
	if ((so = strstr(path, "/sobjects/")) == NULL ||
	    strstr(path, "/composite/sobjects/") != NULL)
		return;
	for (i = (size_t)(so - path) + 10; path[i] != '\0'; i++)
		if (path[i] == '/' && ++slashes == 2) {
			util_strlcpy(path + i + 1, "***", pathsz - i - 1);
			break;
		}
}

/* ---- start-up ----------------------------------------------------------- */

static void __attribute__((noreturn))
fk_usage(const char *why)
{
	fprintf(stderr, "cb-fake-sf: %s\n"
	    "usage: cb-fake-sf --port N --cert PEM_CERT --client-id ID "
	    "--username USER\n"
	    "                  [--audience AUD] [--pidfile P] [--bind IPV4] "
	    "[--objects A__c,B__c] [--io-timeout-ms MS]\n"
	    "                  [--api-limit N] [--max-records N]\n", why);
	exit(2);
}

static int
fk_parse_objects(const char *list)
{
	const char	*p = list, *e;
	size_t		 n;

	cfg.nobjects = 0;
	while (*p != '\0') {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n >= sizeof(cfg.objects[0]) ||
		    cfg.nobjects >= FK_OBJECTS_MAX)
			return -1;
		memcpy(cfg.objects[cfg.nobjects], p, n);
		cfg.objects[cfg.nobjects][n] = '\0';
		if (!sf_api_name_ok(cfg.objects[cfg.nobjects]))
			return -1;
		cfg.nobjects++;
		p = e ? e + 1 : p + n;
	}
	return cfg.nobjects > 0 ? 0 : -1;
}

static EVP_PKEY *
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
static EVP_PKEY *
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

/*
 * POST /__fake/certs with a PEM certificate as the body: the connected app
 * now holds it too (the operator uploaded the rotation's next certificate).
 * 201 {"index": n}; 400 for anything but an RSA certificate of 2048 bits or
 * more; 409 when FK_CERTS_MAX are held.
 */
static void
fk_add_cert(struct fh_req *rq, struct fh_resp *rs)
{
	BIO		*bio;
	EVP_PKEY	*k;
	cJSON		*doc;
	size_t		 i;

	if (rq->body_len == 0 || rq->body_len > 65536) {
		fh_resp_error(rs, 400, "the body must be one PEM certificate");
		return;
	}
	if ((bio = BIO_new_mem_buf(rq->body, (int)rq->body_len)) == NULL)
		util_oom();
	k = fk_cert_key(PEM_read_bio_X509(bio, NULL, NULL, NULL), "POST /__fake/certs");
	BIO_free(bio);
	if (k == NULL) {
		fh_resp_error(rs, 400, "the body must be one PEM certificate of an RSA key of at "
		    "least 2048 bits");
		return;
	}
	pthread_mutex_lock(&fk.lock);
	i = fk.ncerts;
	if (i < FK_CERTS_MAX)
		fk.certs[fk.ncerts++] = k;
	pthread_mutex_unlock(&fk.lock);
	if (i == FK_CERTS_MAX) {
		EVP_PKEY_free(k);
		fh_resp_error(rs, 409, "the app holds as many certificates as the fake keeps");
		return;
	}
	doc = fp_obj();
	fp_add_num(doc, "index", (double)i);
	fp_json(rs, 201, NULL, doc);
}

static void
fk_parse_args(int argc, char **argv)
{
	long long	 v;
	int		 i;

	for (i = 1; i < argc; i += 2) {
		const char	*o = argv[i], *val = argv[i + 1];

		if (val == NULL)
			fk_usage("every option takes a value");
		if (strcmp(o, "--port") == 0) {
			if (util_parse_ll(val, 1, 65535, &v) != CB_OK)
				fk_usage("--port must be 1..65535");
			cfg.port = (int)v;
		} else if (strcmp(o, "--cert") == 0)
			cfg.cert_file = val;
		else if (strcmp(o, "--client-id") == 0)
			cfg.client_id = val;
		else if (strcmp(o, "--username") == 0)
			cfg.username = val;
		else if (strcmp(o, "--audience") == 0)
			cfg.audience = val;
		else if (strcmp(o, "--pidfile") == 0)
			cfg.pidfile = val;
		else if (strcmp(o, "--bind") == 0) {
			/* Also the instance URL the token answer names. */
			if (!fh_ipv4_ok(val))
				fk_usage("--bind wants an IPv4 address");
			cfg.bind = val;
		} else if (strcmp(o, "--objects") == 0) {
			if (fk_parse_objects(val) != 0)
				fk_usage("--objects wants API names, "
				    "comma-separated, at most 16");
		} else if (strcmp(o, "--io-timeout-ms") == 0) {
			if (util_parse_ll(val, 100, 600000, &v) != CB_OK)
				fk_usage("--io-timeout-ms must be 100..600000");
			cfg.io_timeout_ms = (long)v;
		} else if (strcmp(o, "--api-limit") == 0) {
			if (util_parse_ll(val, 1, 1000000000000LL, &v) != CB_OK)
				fk_usage("--api-limit must be 1..10^12");
			cfg.api_limit = (long)v;
		} else if (strcmp(o, "--max-records") == 0) {
			if (util_parse_ll(val, 1, FK_RECORDS_LIMIT, &v) != CB_OK)
				fk_usage("--max-records must be 1..1000000");
			cfg.max_records = (size_t)v;
		} else
			fk_usage("unknown option");
	}
	if (cfg.port == 0 || cfg.cert_file == NULL || cfg.client_id == NULL ||
	    cfg.username == NULL || cfg.client_id[0] == '\0' ||
	    cfg.username[0] == '\0' || cfg.audience[0] == '\0')
		fk_usage("--port, --cert, --client-id and --username are required");
}

int
main(int argc, char **argv)
{
	struct fh_config	 hc;
	int			 rc = 1;

	cfg.audience = SF_DEFAULT_AUDIENCE;
	cfg.io_timeout_ms = 10000;
	cfg.api_limit = FK_API_LIMIT;
	cfg.max_records = FK_RECORDS_DEFAULT;
	fk_parse_objects("Form_Submission__c,Call_Activity__c");
	fk_parse_args(argc, argv);
	log_init("cb-fake-sf", LOG_LVL_INFO);
	if (sodium_init() < 0)
		goto out;
	if ((fk.certs[0] = fk_load_cert(cfg.cert_file)) == NULL)
		goto out;
	fk.ncerts = 1;
	snprintf(cfg.base_url, sizeof(cfg.base_url), "http://%s:%d",
	    cfg.bind != NULL ? cfg.bind : "127.0.0.1", cfg.port);
	fk.api_limit = cfg.api_limit;
	/* Load factor at most one half: probes stay short. */
	for (fk.index_cap = 1024; fk.index_cap <= 2 * cfg.max_records;
	    fk.index_cap *= 2)
		;
	fk.index = util_calloc(fk.index_cap, sizeof(*fk.index));

	memset(&hc, 0, sizeof(hc));
	hc.port = cfg.port;
	hc.bind = cfg.bind;
	hc.io_timeout_ms = cfg.io_timeout_ms;
	hc.pidfile = cfg.pidfile;
	hc.handler = fk_handle;
	hc.log_path = fk_log_path;
	rc = fh_serve(&hc);
	if (rc == 0) {
		/* Every connection is gone: nothing else uses the state. */
		pthread_mutex_lock(&fk.lock);
		fk_clear_records();
		fk_clear_contacts();
		fk_clear_tokens();
		free(fk.records);
		free(fk.index);
		fk.records = NULL;
		fk.index = NULL;
		fk.records_cap = 0;
		pthread_mutex_unlock(&fk.lock);
	}
	rc = rc == 1 ? 1 : 0;
out:
	while (fk.ncerts > 0)
		EVP_PKEY_free(fk.certs[--fk.ncerts]);
	return rc;
}
