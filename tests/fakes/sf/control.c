/*
 * cb-fake-sf's control plane, under /__fake/ (no auth: the server binds
 * 127.0.0.1 only): list records, stats and queries; reset; revoke tokens;
 * set the API usage; seed Contacts; add a certificate to the connected app
 * (a key rotation); queue, list and clear faults.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>

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
	cJSON	*doc = fp_obj(), *arr, *o;
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
		fp_add_copy(o, "fields", r->fields);
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
size_t
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

void
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
