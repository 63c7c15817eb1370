/*
 * cb-fake-sf: a fake Salesforce that speaks the real wire format, for tests.
 *
 * One loopback HTTP/1.1 server is both the login host (the OAuth 2.0 JWT
 * bearer token endpoint, CONTRACTS §3.1) and the instance (upsert and read by
 * external ID, §3.3, with the real error array of §3.5 and a
 * Sforce-Limit-Info header on every REST answer, §3.2).  Assertions are
 * verified for real: RS256 against the certificate's public key, alg, iss,
 * sub (prn wins), aud and exp in seconds.  A control plane under /__fake/
 * (no auth: the server binds 127.0.0.1 only) lists records and counters,
 * resets, revokes tokens and queues faults (status, drop, latency).
 *
 *   cb-fake-sf --port N --cert PEM_CERT --client-id ID --username USER
 *              [--audience AUD] [--pidfile P]
 *              [--objects Form_Submission__c,Call_Activity__c]
 *              [--io-timeout-ms 10000]
 *
 * Guarantees: request line and headers at most 16 KiB (431), body at most
 * 1 MiB (413), every read and write bounded by the per-connection I/O
 * timeout (a slow or silent client is answered 408 or dropped, and never
 * holds a thread longer than that), at most 64 connections at once.  One
 * thread per connection; one mutex guards all state.  Logs are JSON lines on
 * stderr, one per request (method, path with the external ID value masked,
 * status); tokens, assertions and bodies are never logged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

#define FK_HEAD_MAX		(16 * 1024)
#define FK_BODY_MAX		(1024 * 1024)
#define FK_IN_MAX		(FK_HEAD_MAX + FK_BODY_MAX + 8192)
#define FK_OUT_MAX		(64u * 1024u * 1024u)
#define FK_AUTH_MAX		4096
#define FK_CONN_MAX		64
#define FK_RECORDS_MAX		10000
#define FK_TOKENS_MAX		256
#define FK_FAULTS_MAX		64
#define FK_OBJECTS_MAX		16
#define FK_ASSERTION_MAX	16384
#define FK_API_LIMIT		15000
#define FK_EXP_MAX_S		180	/* CONTRACTS §3.1: within 3 minutes */
#define FK_EXP_SKEW_S		5	/* clock leeway we grant the caller */
#define FK_SLICE_MS		200	/* how often blocked threads look at the stop flag */
#define FK_ORG_ID		"00Dxx0000001gPLEA0"
#define FK_USER_ID		"005xx000001SwiUAAS"
#define FK_TOKEN_PREFIX		"00Dxx0000001gPL!"
#define FK_GRANT_TYPE		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define FK_MSG_NOT_FOUND	"The requested resource does not exist"
#define FK_MSG_SESSION		"Session expired or invalid"

/* ---- configuration (written by main before any thread starts) -------- */

static struct {
	int		 port;
	const char	*cert_file;
	const char	*client_id;
	const char	*username;
	const char	*audience;
	const char	*pidfile;
	long		 io_timeout_ms;
	char		 objects[FK_OBJECTS_MAX][84];
	size_t		 nobjects;
	EVP_PKEY	*pub;
	char		 base_url[64];
} cfg;

static atomic_int fk_stop;

/* ---- state (all under fk.lock) ---------------------------------------- */

enum fault_target { FT_UPSERT, FT_TOKEN, FT_ANY };
enum fault_kind { FAULT_STATUS, FAULT_DROP, FAULT_LATENCY };

struct fk_fault {
	int	 target;
	int	 kind;
	int	 status;
	long	 count;
	long	 latency_ms;
	long	 retry_after_s;
	char	 error_code[64];
	char	 message[256];
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
};

static struct {
	pthread_mutex_t	 lock;
	struct fk_record *records;
	size_t		 nrecords, records_cap;
	char		 tokens[FK_TOKENS_MAX][96];
	size_t		 ntokens, next_token;
	struct fk_fault	 faults[FK_FAULTS_MAX];
	size_t		 nfaults;
	long		 token_requests, token_failures, upserts, faults_served;
	long		 api_usage;
	unsigned long	 id_counter;
	int		 conns;
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- one request and its answer -------------------------------------- */

struct fk_req {
	char	 method[16];
	char	 path[FK_HEAD_MAX];	/* without the query */
	int	 close;
	int	 has_length;
	long long content_length;
	int	 expect_continue;
	int	 auth_seen;
	int	 auth_too_long;
	char	 auth[FK_AUTH_MAX];
	char	 ctype[256];
	char	*body;
	size_t	 body_len;
};

struct fk_resp {
	int		 status;
	struct buf	 body;
	int		 rest;		/* send Sforce-Limit-Info */
	long		 api_usage;
	long		 retry_after_s;
	int		 close;
	int		 drop;		/* close without answering */
};

struct fk_conn {
	int		 fd;
	struct buf	 in;
};

static const char *
fk_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 300: return "Multiple Choices";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default:  return errs_reason(status);
	}
}

static void
fk_sleep_ms(long ms)
{
	struct timespec	 ts;
	long		 step;

	/* In slices, so a stopping server does not wait out a latency fault. */
	while (ms > 0 && !atomic_load(&fk_stop)) {
		step = ms > FK_SLICE_MS ? FK_SLICE_MS : ms;
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* ---- answers ---------------------------------------------------------- */

/* Salesforce's single-resource error: [{"message","errorCode","fields"}]. */
static void
fk_sf_error(struct fk_resp *rs, int status, const char *code, const char *msg,
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
fk_oauth_error(struct fk_resp *rs, int status, const char *error,
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

/* Control-plane messages: {"error":"…"} */
static void
fk_plain_error(struct fk_resp *rs, int status, const char *msg)
{
	rs->status = status;
	buf_reset(&rs->body);
	buf_puts(&rs->body, "{\"error\":");
	buf_json_str(&rs->body, msg);
	buf_putc(&rs->body, '}');
}

/* Print and free doc into the answer. */
static void
fk_json(struct fk_resp *rs, int status, cJSON *doc)
{
	char	*s = cJSON_PrintUnformatted(doc);

	if (s == NULL)
		util_oom();
	buf_reset(&rs->body);
	if (buf_puts(&rs->body, s) != CB_OK)
		fk_plain_error(rs, 500, "answer too large");
	else
		rs->status = status;
	free(s);
	cJSON_Delete(doc);
}

static cJSON *
fk_obj(void)
{
	cJSON	*o = cJSON_CreateObject();

	if (o == NULL)
		util_oom();
	return o;
}

static void
fk_add_str(cJSON *o, const char *k, const char *v)
{
	if (cJSON_AddStringToObject(o, k, v) == NULL)
		util_oom();
}

static void
fk_add_num(cJSON *o, const char *k, double v)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		util_oom();
}

/* Count a REST call and stamp the answer with the usage header. */
static void
fk_count_api(struct fk_resp *rs)
{
	pthread_mutex_lock(&fk.lock);
	rs->api_usage = ++fk.api_usage;
	pthread_mutex_unlock(&fk.lock);
	rs->rest = 1;
}

/* ---- small parsers ----------------------------------------------------- */

static int
fk_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode n bytes into out; form bodies also turn '+' into ' '. */
static int
fk_pct_decode(const char *s, size_t n, int form, struct buf *out)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = fk_hexval((unsigned char)s[i + 1]);
			lo = fk_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && form)
			c = ' ';
		if (buf_putc(out, c) != CB_OK)
			return -1;
	}
	return 0;
}

/*
 * The decoded value of `key` in an x-www-form-urlencoded body.  1 found,
 * 0 absent, -1 malformed, repeated or over out's cap.
 */
static int
fk_form_get(const char *body, size_t len, const char *key, struct buf *out)
{
	struct buf	 k;
	size_t		 i = 0, j, eq;
	int		 found = 0, rc = 0;

	buf_init(&k, 256);
	while (i < len && rc == 0) {
		for (j = i; j < len && body[j] != '&'; j++)
			;
		for (eq = i; eq < j && body[eq] != '='; eq++)
			;
		buf_reset(&k);
		if (fk_pct_decode(body + i, eq - i, 1, &k) != 0)
			rc = -1;
		else if (strcmp(buf_cstr(&k), key) == 0) {
			if (found++)
				rc = -1;
			else if (eq < j &&
			    fk_pct_decode(body + eq + 1, j - eq - 1, 1, out) != 0)
				rc = -1;
		}
		i = j + 1;
	}
	buf_free(&k);
	return rc < 0 ? -1 : found;
}

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
fk_jwt_check(const char *a, size_t n)
{
	const char	*d1, *d2, *why = "invalid assertion";
	cJSON		*hdr = NULL, *claims = NULL;
	const cJSON	*alg, *iss, *sub, *prn, *exp;
	struct buf	 sig;
	EVP_MD_CTX	*md = NULL;
	long long	 now = (long long)util_now_s();
	double		 e;

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
	if ((md = EVP_MD_CTX_new()) == NULL)
		util_oom();
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, cfg.pub) != 1 ||
	    EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
	    (const unsigned char *)a, (size_t)(d2 - a)) != 1) {
		ERR_clear_error();
		goto out;
	}
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

static int
fk_ctype_is(const struct fk_req *rq, const char *want)
{
	size_t	 n = strlen(want);

	return strncasecmp(rq->ctype, want, n) == 0 &&
	    (rq->ctype[n] == '\0' || rq->ctype[n] == ';' || rq->ctype[n] == ' ');
}

static void
fk_token(struct fk_req *rq, struct fk_resp *rs)
{
	struct buf	 gt, assertion;
	const char	*why = NULL;
	char		 tok[96], rnd[80], sig[64], ms[32];
	unsigned char	 raw[32];
	cJSON		*doc;
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
	g = fk_ctype_is(rq, "application/x-www-form-urlencoded") ?
	    fk_form_get(rq->body, rq->body_len, "grant_type", &gt) : -1;
	if (g <= 0 || strcmp(buf_cstr(&gt), FK_GRANT_TYPE) != 0) {
		fk_oauth_error(rs, 400, "unsupported_grant_type",
		    "grant type not supported");
		goto fail;
	}
	a = fk_form_get(rq->body, rq->body_len, "assertion", &assertion);
	if (a <= 0)
		why = "invalid assertion";
	else
		why = fk_jwt_check(assertion.data, assertion.len);
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
	pthread_mutex_unlock(&fk.lock);
	/* Real "signature" is an HMAC keyed with the consumer secret. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(sig, sizeof(sig), raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(ms, sizeof(ms), "%lld", (long long)util_now_s() * 1000LL);
	doc = fk_obj();
	fk_add_str(doc, "access_token", tok);
	fk_add_str(doc, "scope", "api");
	fk_add_str(doc, "instance_url", cfg.base_url);
	{
		char	 id[160];

		snprintf(id, sizeof(id), "%s/id/%s/%s", cfg.base_url, FK_ORG_ID,
		    FK_USER_ID);
		fk_add_str(doc, "id", id);
	}
	fk_add_str(doc, "token_type", "Bearer");
	fk_add_str(doc, "issued_at", ms);
	fk_add_str(doc, "signature", sig);
	fk_json(rs, 200, doc);
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

/* ---- REST --------------------------------------------------------------- */

static int
fk_token_valid(const struct fk_req *rq)
{
	const char	*t;
	size_t		 i;
	int		 ok = 0;

	if (!rq->auth_seen || rq->auth_too_long)
		return 0;
	/* Salesforce takes both the standard scheme and its legacy "OAuth". */
	if (strncasecmp(rq->auth, "Bearer ", 7) == 0)
		t = rq->auth + 7;
	else if (strncasecmp(rq->auth, "OAuth ", 6) == 0)
		t = rq->auth + 6;
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

static struct fk_record *
fk_find(size_t object, const char *ext_field, const char *value)
{
	size_t	 i;

	for (i = 0; i < fk.nrecords; i++)
		if (fk.records[i].object == object &&
		    strcasecmp(fk.records[i].ext_field, ext_field) == 0 &&
		    strcmp(fk.records[i].ext_value, value) == 0)
			return &fk.records[i];
	return NULL;
}

static void
fk_upsert(struct fk_req *rq, struct fk_resp *rs, size_t object,
    const char *ext_field, const char *value)
{
	cJSON		*doc = NULL, *res;
	const cJSON	*f, *g;
	struct fk_record *r;
	struct jv_error	 je;
	char		 msg[512];
	int		 created;

	if (!fk_ctype_is(rq, "application/json")) {
		snprintf(msg, sizeof(msg), "MediaType of '%.200s' is not supported "
		    "by this resource", rq->ctype[0] ? rq->ctype : "(none)");
		fk_sf_error(rs, 415, "UNSUPPORTED_MEDIA_TYPE", msg, NULL);
		goto out;
	}
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
	cJSON_ArrayForEach(f, doc) {
		for (g = doc->child; g != f; g = g->next)
			if (strcasecmp(g->string, f->string) == 0) {
				snprintf(msg, sizeof(msg), "Duplicate field "
				    "'%.100s'", f->string);
				fk_sf_error(rs, 400, "JSON_PARSER_ERROR", msg, NULL);
				goto out;
			}
		/* CONTRACTS §3.3: neither Id nor the external ID in the body. */
		if (strcasecmp(f->string, "Id") == 0 ||
		    strcasecmp(f->string, ext_field) == 0) {
			snprintf(msg, sizeof(msg), "Unable to create/update fields: "
			    "%.100s. Please check the security settings of this "
			    "field and verify that it is read/write for your "
			    "profile or permission set.", f->string);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, f->string);
			goto out;
		}
		if (!sf_api_name_ok(f->string)) {
			snprintf(msg, sizeof(msg), "No such column '%.100s' on "
			    "sobject of type %s", f->string, cfg.objects[object]);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, f->string);
			goto out;
		}
	}
	pthread_mutex_lock(&fk.lock);
	if ((r = fk_find(object, ext_field, value)) != NULL) {
		created = 0;
		cJSON_ArrayForEach(f, doc) {
			cJSON	*dup = cJSON_Duplicate(f, 1);

			if (dup == NULL)
				util_oom();
			/* Field names are case-insensitive, as in Salesforce. */
			if (cJSON_GetObjectItem(r->fields, f->string) != NULL)
				cJSON_ReplaceItemInObject(r->fields, f->string, dup);
			else
				cJSON_AddItemToObject(r->fields, f->string, dup);
		}
		util_iso8601(r->updated_at, sizeof(r->updated_at));
	} else {
		if (fk.nrecords >= FK_RECORDS_MAX) {
			pthread_mutex_unlock(&fk.lock);
			fk_sf_error(rs, 400, "STORAGE_LIMIT_EXCEEDED",
			    "storage limit exceeded", NULL);
			goto out;
		}
		if (fk.nrecords == fk.records_cap) {
			size_t	 nc = fk.records_cap ? fk.records_cap * 2 : 64;
			void	*p = realloc(fk.records, nc * sizeof(*fk.records));

			if (p == NULL)
				util_oom();
			fk.records = p;
			fk.records_cap = nc;
		}
		created = 1;
		r = &fk.records[fk.nrecords++];
		memset(r, 0, sizeof(*r));
		r->object = object;
		util_strlcpy(r->ext_field, ext_field, sizeof(r->ext_field));
		r->ext_value = util_strdup(value);
		fk_make_id(object, r->id);
		r->fields = doc;
		doc = NULL;
		util_iso8601(r->created_at, sizeof(r->created_at));
		memcpy(r->updated_at, r->created_at, sizeof(r->updated_at));
	}
	r->upserts++;
	fk.upserts++;
	res = fk_obj();
	fk_add_str(res, "id", r->id);
	pthread_mutex_unlock(&fk.lock);
	if (cJSON_AddTrueToObject(res, "success") == NULL ||
	    cJSON_AddArrayToObject(res, "errors") == NULL ||
	    cJSON_AddBoolToObject(res, "created", created) == NULL)
		util_oom();
	fk_json(rs, created ? 201 : 200, res);
out:
	cJSON_Delete(doc);
}

static void
fk_get(struct fk_resp *rs, size_t object, const char *ver,
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
	doc = fk_obj();
	attr = fk_obj();
	cJSON_AddItemToObject(doc, "attributes", attr);
	fk_add_str(attr, "type", cfg.objects[object]);
	snprintf(url, sizeof(url), "/services/data/%s/sobjects/%s/%s", ver,
	    cfg.objects[object], r->id);
	fk_add_str(attr, "url", url);
	fk_add_str(doc, "Id", r->id);
	fk_add_str(doc, r->ext_field, r->ext_value);
	cJSON_ArrayForEach(f, r->fields) {
		if ((dup = cJSON_Duplicate(f, 1)) == NULL)
			util_oom();
		cJSON_AddItemToObject(doc, f->string, dup);
	}
	pthread_mutex_unlock(&fk.lock);
	fk_json(rs, 200, doc);
}

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

static void
fk_rest(struct fk_req *rq, struct fk_resp *rs)
{
	const char	*seg[6], *p, *e;
	size_t		 len[6], nseg = 0, obj;
	char		 ver[8], field[84], msg[200];
	struct buf	 value;

	buf_init(&value, SF_EXT_VALUE_MAX);
	fk_count_api(rs);
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
	if (!fk_version_ok(seg[0], len[0])) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	memcpy(ver, seg[0], len[0]);
	ver[len[0]] = '\0';
	/* Salesforce checks the session before it looks at the resource. */
	if (!fk_token_valid(rq)) {
		fk_sf_error(rs, 401, "INVALID_SESSION_ID", FK_MSG_SESSION, NULL);
		goto out;
	}
	if (nseg != 5 || len[1] != 8 || strncmp(seg[1], "sobjects", 8) != 0 ||
	    len[4] == 0) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	for (obj = 0; obj < cfg.nobjects; obj++)
		if (strlen(cfg.objects[obj]) == len[2] &&
		    strncasecmp(cfg.objects[obj], seg[2], len[2]) == 0)
			break;
	if (obj == cfg.nobjects) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	if (len[3] >= sizeof(field))
		len[3] = sizeof(field) - 1;
	memcpy(field, seg[3], len[3]);
	field[len[3]] = '\0';
	if (!sf_api_name_ok(field)) {
		snprintf(msg, sizeof(msg), "Provided external ID field does not "
		    "exist or is not accessible: %.80s", field);
		fk_sf_error(rs, 404, "NOT_FOUND", msg, NULL);
		goto out;
	}
	if (fk_pct_decode(seg[4], len[4], 0, &value) != 0 ||
	    !jv_utf8_ok(buf_cstr(&value), value.len)) {
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
		goto out;
	}
	if (strcmp(rq->method, "PATCH") == 0)
		fk_upsert(rq, rs, obj, field, value.data);
	else if (strcmp(rq->method, "GET") == 0)
		fk_get(rs, obj, ver, field, value.data);
	else {
		snprintf(msg, sizeof(msg), "HTTP Method '%.16s' not allowed. "
		    "Allowed are GET,PATCH", rq->method);
		fk_sf_error(rs, 405, "METHOD_NOT_ALLOWED", msg, NULL);
	}
out:
	buf_free(&value);
}

/* ---- faults ------------------------------------------------------------ */

static int
fk_take_fault(int is_token, int is_upsert, struct fk_fault *out)
{
	size_t	 i;
	int	 hit = 0;

	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.nfaults; i++) {
		struct fk_fault	*f = &fk.faults[i];

		if (f->target == FT_ANY || (f->target == FT_TOKEN && is_token) ||
		    (f->target == FT_UPSERT && is_upsert)) {
			*out = *f;
			if (--f->count <= 0) {
				memmove(f, f + 1,
				    (fk.nfaults - i - 1) * sizeof(*f));
				fk.nfaults--;
			}
			fk.faults_served++;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&fk.lock);
	return hit;
}

/* The real error body for an injected status. */
static void
fk_fault_answer(const struct fk_fault *f, int is_token, struct fk_resp *rs)
{
	static const struct {
		const char	*code;
		const char	*msg;
	} msgs[] = {
		{ "INVALID_SESSION_ID", FK_MSG_SESSION },
		{ "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded." },
		{ "NOT_FOUND", FK_MSG_NOT_FOUND },
		{ "SERVER_UNAVAILABLE", "Server temporarily unavailable, please "
		    "try again later." },
		{ "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to "
		    "this record or 1 records: a01xx0000000001AAA" },
		{ "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please "
		    "include this ErrorId if you contact support: "
		    "1234567890-12345 (-1234567890)" },
	};
	const char	*code, *msg = NULL;
	size_t		 i;
	int		 s = f->status;

	rs->retry_after_s = f->retry_after_s;
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
	if (f->message[0])
		msg = f->message;
	for (i = 0; msg == NULL && i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].code, code) == 0)
			msg = msgs[i].msg;
	fk_sf_error(rs, s, code, msg ? msg : "fault injected by cb-fake-sf",
	    NULL);
}

/* ---- control plane ------------------------------------------------------ */

struct fault_in {
	const char	*target;
	const char	*kind;
	const char	*error_code;
	const char	*message;
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

static const struct jv_field fault_fields[] = {
	{ "target", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, target), NULL },
	{ "kind", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, kind), NULL },
	{ "status", JV_INT, 0, 300, 599, offsetof(struct fault_in, status), NULL },
	{ "error_code", JV_STRING, 0, 1, 63, offsetof(struct fault_in, error_code), fk_code_check },
	{ "message", JV_STRING, 0, 1, 255, offsetof(struct fault_in, message), NULL },
	{ "count", JV_INT, 0, 1, 1000, offsetof(struct fault_in, count), NULL },
	{ "latency_ms", JV_INT, 0, 1, 60000, offsetof(struct fault_in, latency_ms), NULL },
	{ "retry_after_s", JV_INT, 0, 1, 86400, offsetof(struct fault_in, retry_after_s), NULL },
};

static void
fk_add_fault(struct fk_req *rq, struct fk_resp *rs)
{
	struct fault_in	 in;
	struct fk_fault	 f;
	struct jv_error	 je;
	cJSON		*doc = NULL, *res;
	char		 msg[300];
	size_t		 n;

	memset(&in, 0, sizeof(in));
	memset(&f, 0, sizeof(f));
	if (rq->body_len == 0 ||
	    jv_parse(rq->body, rq->body_len, &doc, &je) != CB_OK ||
	    jv_validate(doc, fault_fields, sizeof(fault_fields) /
	    sizeof(fault_fields[0]), &in, &je) != CB_OK) {
		snprintf(msg, sizeof(msg), "%s%s%s", je.field, je.field[0] ?
		    ": " : "", je.reason);
		fk_plain_error(rs, 400, msg);
		goto out;
	}
	if (strcmp(in.target, "upsert") == 0)
		f.target = FT_UPSERT;
	else if (strcmp(in.target, "token") == 0)
		f.target = FT_TOKEN;
	else if (strcmp(in.target, "any") == 0)
		f.target = FT_ANY;
	else {
		fk_plain_error(rs, 400, "target: must be upsert, token or any");
		goto out;
	}
	if (strcmp(in.kind, "status") == 0 && in.status != 0)
		f.kind = FAULT_STATUS;
	else if (strcmp(in.kind, "drop") == 0)
		f.kind = FAULT_DROP;
	else if (strcmp(in.kind, "latency") == 0 && in.latency_ms != 0)
		f.kind = FAULT_LATENCY;
	else {
		fk_plain_error(rs, 400, "kind: must be status (with status), "
		    "drop, or latency (with latency_ms)");
		goto out;
	}
	f.status = (int)in.status;
	f.count = in.count ? (long)in.count : 1;
	f.latency_ms = (long)in.latency_ms;
	f.retry_after_s = (long)in.retry_after_s;
	util_strlcpy(f.error_code, in.error_code ? in.error_code : "",
	    sizeof(f.error_code));
	util_strlcpy(f.message, in.message ? in.message : "",
	    sizeof(f.message));
	pthread_mutex_lock(&fk.lock);
	if (fk.nfaults >= FK_FAULTS_MAX) {
		pthread_mutex_unlock(&fk.lock);
		fk_plain_error(rs, 400, "too many queued faults");
		goto out;
	}
	fk.faults[fk.nfaults++] = f;
	n = fk.nfaults;
	pthread_mutex_unlock(&fk.lock);
	res = fk_obj();
	fk_add_num(res, "faults", (double)n);
	fk_json(rs, 201, res);
out:
	cJSON_Delete(doc);
}

static const char *
fk_target_name(int t)
{
	return t == FT_UPSERT ? "upsert" : t == FT_TOKEN ? "token" : "any";
}

static const char *
fk_kind_name(int k)
{
	return k == FAULT_STATUS ? "status" : k == FAULT_DROP ? "drop" : "latency";
}

static void
fk_list_faults(struct fk_resp *rs)
{
	cJSON	*doc = fk_obj(), *arr, *o;
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "faults")) == NULL)
		util_oom();
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.nfaults; i++) {
		const struct fk_fault	*f = &fk.faults[i];

		o = fk_obj();
		cJSON_AddItemToArray(arr, o);
		fk_add_str(o, "target", fk_target_name(f->target));
		fk_add_str(o, "kind", fk_kind_name(f->kind));
		fk_add_num(o, "status", f->status);
		fk_add_str(o, "error_code", f->error_code);
		fk_add_num(o, "count", (double)f->count);
		fk_add_num(o, "latency_ms", (double)f->latency_ms);
	}
	pthread_mutex_unlock(&fk.lock);
	fk_json(rs, 200, doc);
}

static void
fk_list_records(struct fk_resp *rs)
{
	cJSON	*doc = fk_obj(), *arr, *o, *dup;
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "records")) == NULL)
		util_oom();
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.nrecords; i++) {
		const struct fk_record	*r = &fk.records[i];

		o = fk_obj();
		cJSON_AddItemToArray(arr, o);
		fk_add_str(o, "object", cfg.objects[r->object]);
		fk_add_str(o, "ext_field", r->ext_field);
		fk_add_str(o, "ext_value", r->ext_value);
		fk_add_str(o, "id", r->id);
		if ((dup = cJSON_Duplicate(r->fields, 1)) == NULL)
			util_oom();
		cJSON_AddItemToObject(o, "fields", dup);
		fk_add_num(o, "upserts", (double)r->upserts);
		fk_add_str(o, "created_at", r->created_at);
		fk_add_str(o, "updated_at", r->updated_at);
	}
	pthread_mutex_unlock(&fk.lock);
	fk_json(rs, 200, doc);
}

static void
fk_stats(struct fk_resp *rs)
{
	cJSON	*doc = fk_obj();

	pthread_mutex_lock(&fk.lock);
	fk_add_num(doc, "token_requests", (double)fk.token_requests);
	fk_add_num(doc, "token_failures", (double)fk.token_failures);
	fk_add_num(doc, "upserts", (double)fk.upserts);
	fk_add_num(doc, "faults_served", (double)fk.faults_served);
	fk_add_num(doc, "api_usage", (double)fk.api_usage);
	fk_add_num(doc, "records", (double)fk.nrecords);
	fk_add_num(doc, "tokens", (double)fk.ntokens);
	fk_add_num(doc, "faults_queued", (double)fk.nfaults);
	pthread_mutex_unlock(&fk.lock);
	fk_json(rs, 200, doc);
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

static void
fk_control(struct fk_req *rq, struct fk_resp *rs)
{
	const char	*p = rq->path + strlen("/__fake/");
	const char	*m = rq->method;
	cJSON		*doc;
	size_t		 n;

	if (strcmp(p, "records") == 0 && strcmp(m, "GET") == 0)
		fk_list_records(rs);
	else if (strcmp(p, "stats") == 0 && strcmp(m, "GET") == 0)
		fk_stats(rs);
	else if (strcmp(p, "reset") == 0 && strcmp(m, "POST") == 0) {
		pthread_mutex_lock(&fk.lock);
		fk_clear_records();
		fk_clear_tokens();
		fk.nfaults = 0;
		fk.token_requests = fk.token_failures = 0;
		fk.upserts = fk.faults_served = fk.api_usage = 0;
		pthread_mutex_unlock(&fk.lock);
		doc = fk_obj();
		if (cJSON_AddTrueToObject(doc, "reset") == NULL)
			util_oom();
		fk_json(rs, 200, doc);
	} else if (strcmp(p, "revoke-tokens") == 0 && strcmp(m, "POST") == 0) {
		pthread_mutex_lock(&fk.lock);
		n = fk_clear_tokens();
		pthread_mutex_unlock(&fk.lock);
		doc = fk_obj();
		fk_add_num(doc, "revoked", (double)n);
		fk_json(rs, 200, doc);
	} else if (strcmp(p, "faults") == 0 && strcmp(m, "POST") == 0)
		fk_add_fault(rq, rs);
	else if (strcmp(p, "faults") == 0 && strcmp(m, "GET") == 0)
		fk_list_faults(rs);
	else if (strcmp(p, "faults") == 0 && strcmp(m, "DELETE") == 0) {
		pthread_mutex_lock(&fk.lock);
		n = fk.nfaults;
		fk.nfaults = 0;
		pthread_mutex_unlock(&fk.lock);
		doc = fk_obj();
		fk_add_num(doc, "cleared", (double)n);
		fk_json(rs, 200, doc);
	} else if (strcmp(p, "records") == 0 || strcmp(p, "stats") == 0 ||
	    strcmp(p, "reset") == 0 || strcmp(p, "revoke-tokens") == 0 ||
	    strcmp(p, "faults") == 0)
		fk_plain_error(rs, 405, "method not allowed");
	else
		fk_plain_error(rs, 404, "no such control endpoint");
}

/* ---- dispatch ------------------------------------------------------------ */

static void
fk_handle(struct fk_req *rq, struct fk_resp *rs)
{
	const char	*p = rq->path;
	int		 is_token, is_rest, is_upsert;
	struct fk_fault	 f;

	if (strncmp(p, "/__fake/", 8) == 0) {
		fk_control(rq, rs);
		return;
	}
	is_token = strcmp(p, "/services/oauth2/token") == 0;
	is_rest = strncmp(p, "/services/data/", 15) == 0;
	is_upsert = is_rest && strcmp(rq->method, "PATCH") == 0;
	if ((is_token || is_rest) && fk_take_fault(is_token, is_upsert, &f)) {
		switch (f.kind) {
		case FAULT_DROP:
			rs->drop = 1;
			return;
		case FAULT_LATENCY:
			fk_sleep_ms(f.latency_ms);
			break;
		default:
			if (is_rest)
				fk_count_api(rs);
			fk_fault_answer(&f, is_token, rs);
			return;
		}
	}
	if (is_token)
		fk_token(rq, rs);
	else if (is_rest)
		fk_rest(rq, rs);
	else
		fk_sf_error(rs, 404, "NOT_FOUND", FK_MSG_NOT_FOUND, NULL);
}

/* ---- HTTP/1.1 on one connection ------------------------------------------- */

/* 1 ready, 0 deadline passed or stopping, -1 error. */
static int
fk_wait(int fd, short ev, double deadline)
{
	struct pollfd	 pfd;
	double		 left;
	int		 n, slice;

	for (;;) {
		left = deadline - util_now_ms();
		if (left <= 0 || atomic_load(&fk_stop))
			return 0;
		slice = left > FK_SLICE_MS ? FK_SLICE_MS : (int)left + 1;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, slice);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			return 1;
	}
}

/* Read more into c->in: 1 got bytes, 0 peer closed, -1 error, -2 timeout. */
static int
fk_fill(struct fk_conn *c, double deadline)
{
	char	 tmp[8192];
	ssize_t	 n;
	int	 w;

	for (;;) {
		if ((w = fk_wait(c->fd, POLLIN, deadline)) <= 0)
			return w == 0 ? -2 : -1;
		n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (buf_append(&c->in, tmp, (size_t)n) != CB_OK)
			return -1;
		return 1;
	}
}

static int
fk_send_all(int fd, const char *p, size_t n, double deadline)
{
	ssize_t	 w;

	while (n > 0) {
		if (fk_wait(fd, POLLOUT, deadline) <= 0)
			return -1;
		/* MSG_NOSIGNAL: a client that hung up must not kill us. */
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fk_is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
fk_name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Does a comma-separated header value hold `tok` (case-insensitive)? */
static int
fk_has_token(const char *v, size_t n, const char *tok)
{
	size_t	 i = 0, j, k, tl = strlen(tok);

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (j = i; j < n && v[j] != ','; j++)
			;
		for (k = j; k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'); k--)
			;
		if (k - i == tl && strncasecmp(v + i, tok, tl) == 0)
			return 1;
		i = j;
	}
	return 0;
}

/*
 * Parse the head: hlen bytes ending in CRLF CRLF.  0, or the status to
 * answer before closing.
 */
static int
fk_parse_head(const char *h, size_t hlen, struct fk_req *rq)
{
	const char	*end = h + hlen - 2, *p = h, *eol, *sp1, *sp2, *q;
	const char	*colon, *v, *ve, *c;
	char		 num[24];
	size_t		 n, tl, vl;

	eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
	if ((sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (n = (size_t)(sp1 - p)) == 0 || n >= sizeof(rq->method))
		return 400;
	for (c = p; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return 400;
	memcpy(rq->method, p, n);
	rq->method[n] = '\0';
	if ((sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return 400;
	tl = (size_t)(sp2 - sp1 - 1);
	if (tl == 0 || sp1[1] != '/' || tl >= sizeof(rq->path))
		return 400;
	for (c = sp1 + 1; c < sp2; c++)
		if (*c < 0x21 || *c > 0x7e)
			return 400;
	/* Query strings carry nothing we act on. */
	q = memchr(sp1 + 1, '?', tl);
	n = q ? (size_t)(q - sp1 - 1) : tl;
	memcpy(rq->path, sp1 + 1, n);
	rq->path[n] = '\0';
	n = (size_t)(eol - sp2 - 1);
	if (n == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)
		;
	else if (n == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		rq->close = 1;		/* no keep-alive for 1.0 */
	else
		return 400;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (*p == ' ' || *p == '\t')
			return 400;	/* obsolete line folding */
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL ||
		    colon == p)
			return 400;
		for (c = p; c < colon; c++)
			if (!fk_is_tchar((unsigned char)*c))
				return 400;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		for (c = v; c < ve; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				return 400;
		vl = (size_t)(ve - v);
		n = (size_t)(colon - p);
		if (fk_name_is(p, n, "Content-Length")) {
			long long	 cl;

			if (rq->has_length || vl == 0 || vl >= sizeof(num))
				return 400;
			memcpy(num, v, vl);
			num[vl] = '\0';
			if (util_parse_ll(num, 0, 999999999999LL, &cl) != CB_OK)
				return 400;
			rq->content_length = cl;
			rq->has_length = 1;
		} else if (fk_name_is(p, n, "Transfer-Encoding"))
			return 501;
		else if (fk_name_is(p, n, "Authorization")) {
			if (rq->auth_seen)
				return 400;
			rq->auth_seen = 1;
			if (vl >= sizeof(rq->auth))
				rq->auth_too_long = 1;
			else {
				memcpy(rq->auth, v, vl);
				rq->auth[vl] = '\0';
			}
		} else if (fk_name_is(p, n, "Content-Type")) {
			if (vl >= sizeof(rq->ctype))
				vl = sizeof(rq->ctype) - 1;
			memcpy(rq->ctype, v, vl);
			rq->ctype[vl] = '\0';
		} else if (fk_name_is(p, n, "Connection")) {
			if (fk_has_token(v, vl, "close"))
				rq->close = 1;
		} else if (fk_name_is(p, n, "Expect")) {
			if (fk_has_token(v, vl, "100-continue"))
				rq->expect_continue = 1;
		}
	}
	return 0;
}

/* 0: a request is ready; 1: answer rs, then close; -1: close quietly. */
static int
fk_read_request(struct fk_conn *c, struct fk_req *rq, struct fk_resp *rs)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char		*end;
	double			 deadline;
	size_t			 hlen, total, cl;
	int			 r, st;

	/* Idle keep-alive and a slow request get the same bounded wait. */
	deadline = util_now_ms() + (double)cfg.io_timeout_ms;
	rs->close = 1;
	for (;;) {
		end = memmem(buf_cstr(&c->in), c->in.len, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if (c->in.len >= FK_HEAD_MAX) {
			fk_plain_error(rs, 431, "request line and headers "
			    "exceed 16 KiB");
			return 1;
		}
		if ((r = fk_fill(c, deadline)) == 1)
			continue;
		if (r == -2 && c->in.len > 0) {
			fk_plain_error(rs, 408, "request not received in time");
			return 1;
		}
		return -1;
	}
	hlen = (size_t)(end - c->in.data) + 4;
	if (hlen > FK_HEAD_MAX) {
		fk_plain_error(rs, 431, "request line and headers exceed 16 KiB");
		return 1;
	}
	if ((st = fk_parse_head(c->in.data, hlen, rq)) != 0) {
		fk_plain_error(rs, st, st == 501 ? "transfer codings are not "
		    "supported: send Content-Length" : "malformed request");
		return 1;
	}
	if (rq->content_length > FK_BODY_MAX) {
		fk_plain_error(rs, 413, "body exceeds 1 MiB");
		return 1;
	}
	cl = (size_t)rq->content_length;
	total = hlen + cl;
	if (rq->expect_continue && c->in.len < total &&
	    fk_send_all(c->fd, cont, sizeof(cont) - 1, deadline) != 0)
		return -1;
	while (c->in.len < total) {
		if ((r = fk_fill(c, deadline)) == 1)
			continue;
		if (r == -2) {
			fk_plain_error(rs, 408, "request body not received "
			    "in time");
			return 1;
		}
		return -1;
	}
	rq->body = util_malloc(cl + 1);
	memcpy(rq->body, c->in.data + hlen, cl);
	rq->body[cl] = '\0';
	rq->body_len = cl;
	/* Keep whatever follows: the next pipelined request. */
	memmove(c->in.data, c->in.data + total, c->in.len - total);
	c->in.len -= total;
	c->in.data[c->in.len] = '\0';
	rs->close = 0;
	return 0;
}

static void
fk_respond(struct fk_conn *c, const struct fk_req *rq, struct fk_resp *rs)
{
	struct buf	 out;
	int		 rc;

	buf_init(&out, FK_OUT_MAX + 1024);
	rc = buf_printf(&out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json;charset=UTF-8\r\n",
	    rs->status, fk_reason(rs->status));
	if (rc == CB_OK && rs->rest)
		rc = buf_printf(&out, "Sforce-Limit-Info: api-usage=%ld/%d\r\n",
		    rs->api_usage, FK_API_LIMIT);
	if (rc == CB_OK && rs->retry_after_s > 0)
		rc = buf_printf(&out, "Retry-After: %ld\r\n", rs->retry_after_s);
	if (rc == CB_OK)
		rc = buf_printf(&out, "Content-Length: %zu\r\n%s\r\n",
		    rs->body.len, rs->close || rq->close ?
		    "Connection: close\r\n" : "");
	if (rc == CB_OK)
		rc = buf_append(&out, buf_cstr(&rs->body), rs->body.len);
	if (rc != CB_OK || fk_send_all(c->fd, out.data, out.len,
	    util_now_ms() + (double)cfg.io_timeout_ms) != 0)
		rs->close = 1;
	buf_free(&out);
}

static void
fk_log(const struct fk_req *rq, const struct fk_resp *rs, double t0)
{
	char	 path[512], st[16], ms[32], *so;
	size_t	 i;
	int	 slashes = 0;

	util_strlcpy(path, rq->path[0] ? rq->path : "-", sizeof(path));
	/* The external ID value can be personal data: mask it. */
	if ((so = strstr(path, "/sobjects/")) != NULL)
		for (i = (size_t)(so - path) + 10; path[i] != '\0'; i++)
			if (path[i] == '/' && ++slashes == 2) {
				util_strlcpy(path + i + 1, "***",
				    sizeof(path) - i - 1);
				break;
			}
	if (rs->drop)
		util_strlcpy(st, "drop", sizeof(st));
	else
		snprintf(st, sizeof(st), "%d", rs->status);
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
	log_kv(LOG_LVL_INFO, "request", "method",
	    rq->method[0] ? rq->method : "-", "path", path, "status", st,
	    "ms", ms, NULL);
}

static void *
fk_conn_main(void *arg)
{
	struct fk_conn	*c = arg;
	struct fk_req	*rq = util_malloc(sizeof(*rq));
	struct fk_resp	 rs;
	double		 t0;
	int		 r, done = 0;

	buf_cstr(&c->in);
	while (!done && !atomic_load(&fk_stop)) {
		memset(rq, 0, sizeof(*rq));
		memset(&rs, 0, sizeof(rs));
		buf_init(&rs.body, FK_OUT_MAX);
		t0 = util_now_ms();
		r = fk_read_request(c, rq, &rs);
		if (r < 0) {
			buf_free(&rs.body);
			free(rq->body);
			break;
		}
		if (r == 0)
			fk_handle(rq, &rs);
		if (rs.drop) {
			/* The fault: read the request, then hang up unanswered. */
			fk_log(rq, &rs, t0);
			done = 1;
		} else {
			fk_respond(c, rq, &rs);
			fk_log(rq, &rs, t0);
			done = rs.close || rq->close;
		}
		free(rq->body);
		buf_free(&rs.body);
	}
	close(c->fd);
	buf_free(&c->in);
	free(c);
	free(rq);
	pthread_mutex_lock(&fk.lock);
	fk.conns--;
	pthread_mutex_unlock(&fk.lock);
	return NULL;
}

/* ---- start-up ----------------------------------------------------------- */

static void
fk_on_signal(int sig)
{
	(void)sig;
	atomic_store(&fk_stop, 1);
}

static void __attribute__((noreturn))
fk_usage(const char *why)
{
	fprintf(stderr, "cb-fake-sf: %s\n"
	    "usage: cb-fake-sf --port N --cert PEM_CERT --client-id ID "
	    "--username USER\n"
	    "                  [--audience AUD] [--pidfile P] "
	    "[--objects A__c,B__c] [--io-timeout-ms MS]\n", why);
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
	EVP_PKEY	*k = NULL;

	if ((fp = fopen(path, "re")) == NULL) {
		log_kv(LOG_LVL_ERROR, "cert_unreadable", "path", path,
		    "error", strerror(errno), NULL);
		return NULL;
	}
	if ((x = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL ||
	    (k = X509_get_pubkey(x)) == NULL ||
	    EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k) < 2048) {
		log_kv(LOG_LVL_ERROR, "cert_invalid", "path", path, "error",
		    "need a PEM X.509 certificate with an RSA key of at least "
		    "2048 bits", NULL);
		EVP_PKEY_free(k);
		k = NULL;
	}
	X509_free(x);
	fclose(fp);
	ERR_clear_error();
	return k;
}

static int
fk_write_pidfile(const char *path)
{
	char	 tmp[4096];
	FILE	*fp;
	int	 ok;

	/* Written whole and renamed, so a reader never sees half a pid. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
	    (fp = fopen(tmp, "we")) == NULL)
		return -1;
	ok = fprintf(fp, "%ld\n", (long)getpid()) > 0;
	ok = (fclose(fp) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sa;
	struct sigaction	 act;
	pthread_attr_t		 attr;
	pthread_t		 th;
	struct fk_conn		*c;
	struct pollfd		 pfd;
	struct timespec		 nap = { 0, 20 * 1000000L };
	long long		 v;
	double			 t;
	int			 lfd = -1, fd, one = 1, i, n, pid_written = 0;
	int			 rc = 1;

	cfg.audience = SF_DEFAULT_AUDIENCE;
	cfg.io_timeout_ms = 10000;
	fk_parse_objects("Form_Submission__c,Call_Activity__c");
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
		else if (strcmp(o, "--objects") == 0) {
			if (fk_parse_objects(val) != 0)
				fk_usage("--objects wants API names, "
				    "comma-separated, at most 16");
		} else if (strcmp(o, "--io-timeout-ms") == 0) {
			if (util_parse_ll(val, 100, 600000, &v) != CB_OK)
				fk_usage("--io-timeout-ms must be 100..600000");
			cfg.io_timeout_ms = (long)v;
		} else
			fk_usage("unknown option");
	}
	if (cfg.port == 0 || cfg.cert_file == NULL || cfg.client_id == NULL ||
	    cfg.username == NULL || cfg.client_id[0] == '\0' ||
	    cfg.username[0] == '\0' || cfg.audience[0] == '\0')
		fk_usage("--port, --cert, --client-id and --username are required");
	log_init("cb-fake-sf", LOG_LVL_INFO);
	if (sodium_init() < 0)
		goto out;
	if ((cfg.pub = fk_load_cert(cfg.cert_file)) == NULL)
		goto out;
	snprintf(cfg.base_url, sizeof(cfg.base_url), "http://127.0.0.1:%d",
	    cfg.port);

	memset(&act, 0, sizeof(act));
	sigemptyset(&act.sa_mask);
	act.sa_handler = fk_on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	act.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &act, NULL);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto out;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg.port);
	/* Loopback only: the control plane has no authentication. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 64) != 0) {
		log_kv(LOG_LVL_ERROR, "listen_failed", "url", cfg.base_url,
		    "error", strerror(errno), NULL);
		goto out;
	}
	if (cfg.pidfile != NULL) {
		if (fk_write_pidfile(cfg.pidfile) != 0) {
			log_kv(LOG_LVL_ERROR, "pidfile_failed", "path",
			    cfg.pidfile, NULL);
			goto out;
		}
		pid_written = 1;
	}
	log_kv(LOG_LVL_INFO, "listening", "url", cfg.base_url, NULL);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!atomic_load(&fk_stop)) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, FK_SLICE_MS) <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&fk.lock);
		if (fk.conns >= FK_CONN_MAX) {
			pthread_mutex_unlock(&fk.lock);
			close(fd);
			log_kv(LOG_LVL_WARN, "too_many_connections", NULL);
			continue;
		}
		fk.conns++;
		pthread_mutex_unlock(&fk.lock);
		c = util_calloc(1, sizeof(*c));
		c->fd = fd;
		buf_init(&c->in, FK_IN_MAX);
		if (pthread_create(&th, &attr, fk_conn_main, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&fk.lock);
			fk.conns--;
			pthread_mutex_unlock(&fk.lock);
		}
	}
	pthread_attr_destroy(&attr);
	log_kv(LOG_LVL_INFO, "stopping", NULL);
	close(lfd);
	lfd = -1;
	/* Threads see the flag within a slice; let them finish with the state. */
	t = util_now_ms();
	do {
		pthread_mutex_lock(&fk.lock);
		n = fk.conns;
		pthread_mutex_unlock(&fk.lock);
		if (n > 0)
			nanosleep(&nap, NULL);
	} while (n > 0 && util_now_ms() - t < 3000);
	if (n == 0) {
		pthread_mutex_lock(&fk.lock);
		fk_clear_records();
		fk_clear_tokens();
		free(fk.records);
		fk.records = NULL;
		fk.records_cap = 0;
		pthread_mutex_unlock(&fk.lock);
	}
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (pid_written)
		unlink(cfg.pidfile);
	EVP_PKEY_free(cfg.pub);
	return rc;
}
