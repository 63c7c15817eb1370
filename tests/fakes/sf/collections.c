/*
 * cb-fake-sf's sObject Collections upsert (CONTRACTS §3.4): up to 200
 * records of one object by external ID, one UpsertResult per record in
 * request order, allOrNone rolling back every record when one fails.
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
void
fk_collections(struct fh_req *rq, struct fh_resp *rs, size_t object,
    const char *ext_field)
{
	const cJSON	*records, *rec;
	cJSON		*doc = NULL;
	struct fk_item	*items = NULL;
	struct fk_record *r;
	struct fk_fault	 f;
	size_t		 n, i, j, creates = 0, nfail = 0;
	int		 all_or_none;
	char		 msg[512];

	if (fk_json_body(rq, rs, &doc) != 0)
		goto out;
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
