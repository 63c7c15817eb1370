/*
 * cb-fake-sf: a fake Salesforce that speaks the real wire format, for tests.
 *
 * One loopback HTTP/1.1 server (tests/fakes/common/fakehttpd, on GNU
 * libmicrohttpd) is both the login host (the OAuth 2.0 JWT bearer token
 * endpoint, CONTRACTS §3.1) and the instance: upsert, read and delete by external ID (§3.3; a delete is
 * 204 with no body, or the 404 NOT_FOUND of a record not there), the sObject
 * Collections upsert (§3.4), the real error array of §3.5, and a
 * Sforce-Limit-Info header on every REST answer counted as an org counts
 * (§3.2: one per authenticated REST call, a Collections call is one call
 * whatever its size, token calls are free; past the daily allocation every
 * call is a 403 REQUEST_LIMIT_EXCEEDED).  Assertions are verified for real:
 * RS256 against the certificate's public key, alg, iss, sub (prn wins), aud
 * and exp in seconds.  A control plane under /__fake/ (no auth: the server
 * binds 127.0.0.1, or --bind's address on a test's private network) lists
 * records and counters, resets, revokes
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
 * This file holds the configuration, the dispatch and the call faults; the
 * parts are in tests/fakes/sf/: token.c (the token endpoint, the app's
 * certificates), store.c (records, per-record faults), sobject.c (REST
 * routing, single-record upsert, read, delete), collections.c, query.c,
 * control.c (the control plane); fk.h is what they share.
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

#include "sf/fk.h"


/* ---- configuration and state (fk.h) --------------------------------------- */

struct fk_cfg	 cfg;
struct fk_state	 fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .fq = FP_QUEUE(fk.faults) };

/* ---- answers ---------------------------------------------------------- */

/* Salesforce's single-resource error: [{"message","errorCode","fields"}]. */
void
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
void
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
int
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


static void
fk_parse_args(int argc, char **argv, struct fh_config *hc)
{
	const char	*why;
	long long	 v;
	int		 i, r;

	for (i = 1; i < argc; i += 2) {
		const char	*o = argv[i], *val = argv[i + 1];

		if (val == NULL)
			fk_usage("every option takes a value");
		if ((r = fh_option(hc, o, val, &why)) < 0)
			fk_usage(why);
		else if (r > 0)
			continue;
		if (strcmp(o, "--cert") == 0)
			cfg.cert_file = val;
		else if (strcmp(o, "--client-id") == 0)
			cfg.client_id = val;
		else if (strcmp(o, "--username") == 0)
			cfg.username = val;
		else if (strcmp(o, "--audience") == 0)
			cfg.audience = val;
		else if (strcmp(o, "--objects") == 0) {
			if (fk_parse_objects(val) != 0)
				fk_usage("--objects wants API names, "
				    "comma-separated, at most 16");
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
	cfg.port = hc->port;
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

	memset(&hc, 0, sizeof(hc));
	cfg.audience = SF_DEFAULT_AUDIENCE;
	cfg.api_limit = FK_API_LIMIT;
	cfg.max_records = FK_RECORDS_DEFAULT;
	fk_parse_objects("Form_Submission__c,Call_Activity__c");
	fk_parse_args(argc, argv, &hc);
	log_init("cb-fake-sf", LOG_LVL_INFO);
	if (sodium_init() < 0)
		goto out;
	if ((fk.certs[0] = fk_load_cert(cfg.cert_file)) == NULL)
		goto out;
	fk.ncerts = 1;
	/* The instance URL the token answer names: where the fake listens. */
	snprintf(cfg.base_url, sizeof(cfg.base_url), "http://%s:%d",
	    hc.bind != NULL ? hc.bind : "127.0.0.1", cfg.port);
	fk.api_limit = cfg.api_limit;
	/* Load factor at most one half: probes stay short. */
	for (fk.index_cap = 1024; fk.index_cap <= 2 * cfg.max_records;
	    fk.index_cap *= 2)
		;
	fk.index = util_calloc(fk.index_cap, sizeof(*fk.index));

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
