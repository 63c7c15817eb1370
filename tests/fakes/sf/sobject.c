/*
 * cb-fake-sf's sObject REST: the routing of /services/data/vXX.X/...,
 * the session check before the resource, the Sforce-Limit-Info charge, and
 * upsert, read and delete of one record by external ID (CONTRACTS §3.3;
 * a delete is 204 with no body, or the 404 NOT_FOUND of a record not
 * there).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "sf.h"
#include "util.h"

#include "fk.h"

/* ---- single-record upsert and read ------------------------------------- */

int
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

/* The body of an upsert: JSON, readable; 0, or answered 415 or 400. */
int
fk_json_body(const struct fh_req *rq, struct fh_resp *rs, cJSON **doc)
{
	const char	*ct = fh_header(rq, "Content-Type");
	struct jv_error	 je;
	char		 msg[512];

	*doc = NULL;
	if (!fh_ctype_is(rq, "application/json")) {
		snprintf(msg, sizeof(msg), "MediaType of '%.200s' is not supported "
		    "by this resource", ct != NULL && ct[0] ? ct : "(none)");
		fk_sf_error(rs, 415, "UNSUPPORTED_MEDIA_TYPE", msg, NULL);
		return -1;
	}
	if (rq->body_len == 0 || jv_parse(rq->body, rq->body_len, doc, &je) != CB_OK) {
		fk_sf_error(rs, 400, "JSON_PARSER_ERROR", rq->body_len ?
		    je.reason : "No content to map due to end-of-input", NULL);
		return -1;
	}
	return 0;
}

/*
 * The field map of one record: no duplicate names (case-insensitive), only
 * API names, and (single upserts) neither Id nor the external ID.  0, or
 * answered 400.
 */
int
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
	char		 msg[512], id[19];
	int		 created;

	if (fk_json_body(rq, rs, &doc) != 0)
		goto out;
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
	cJSON		*doc, *attr;
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
	cJSON_ArrayForEach(f, r->fields)
		fp_add_copy(doc, f->string, f);
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

void
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
