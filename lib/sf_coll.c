/*
 * sf_coll: see sf_coll.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "errs.h"
#include "jsonv.h"
#include "sf_coll.h"
#include "sf_int.h"
#include "util.h"

int
sf_coll_begin(struct buf *body)
{
	return buf_puts(body, "{\"allOrNone\":false,\"records\":[");
}

int
sf_coll_add(struct buf *body, const char *sobject, const char *ext_field, const char *ext_value,
    const char *fields_json)
{
	cJSON		*doc = NULL, *rec = NULL, *attr, *it;
	struct jv_error	 je;
	char		*text = NULL;
	int		 rc = CB_ERR_VALIDATION;

	if (!sf_api_name_ok(sobject) || !sf_api_name_ok(ext_field) || ext_value == NULL ||
	    strlen(ext_value) == 0 || strlen(ext_value) > SF_EXT_VALUE_MAX)
		goto out;
	if (jv_parse(fields_json, strlen(fields_json), &doc, &je) != CB_OK || !cJSON_IsObject(doc))
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "attributes");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "Id");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, ext_field);
	/* attributes first, as Salesforce's own examples write it */
	if ((rec = cJSON_CreateObject()) == NULL || (attr = cJSON_AddObjectToObject(rec,
	    "attributes")) == NULL || cJSON_AddStringToObject(attr, "type", sobject) == NULL)
		util_oom();
	while ((it = doc->child) != NULL) {
		cJSON_DetachItemViaPointer(doc, it);
		cJSON_AddItemToObject(rec, it->string, it);
	}
	if (cJSON_AddStringToObject(rec, ext_field, ext_value) == NULL ||
	    (text = cJSON_PrintUnformatted(rec)) == NULL)
		util_oom();
	if (body->len > 0 && body->data[body->len - 1] != '[' &&
	    (rc = buf_putc(body, ',')) != CB_OK)
		goto out;
	rc = buf_puts(body, text);
out:
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	cJSON_Delete(rec);
	cJSON_Delete(doc);
	return rc;
}

int
sf_coll_end(struct buf *body)
{
	return buf_puts(body, "]}");
}

int
sf_coll_error_kind(const char *code)
{
	static const char *const transient[] = {
		"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED",
		"REQUEST_RUNNING_TOO_LONG", "QUERY_TIMEOUT", "DUPLICATE_VALUE", NULL
	};
	size_t	 i;

	/* DUPLICATE_VALUE: two upserts racing to create one external id (§3.5). */
	for (i = 0; code != NULL && transient[i] != NULL; i++)
		if (strcmp(code, transient[i]) == 0)
			return SF_RETRY;
	return SF_PERMANENT;
}

static void
sf_coll_copy(char *out, size_t outsz, const char *in)
{
	size_t	 i, j = 0;

	/* Printable ASCII only: these land in last_error and log codes. */
	for (i = 0; in[i] != '\0' && j + 1 < outsz; i++)
		out[j++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[j] = '\0';
}

static void
sf_coll_take_error(const cJSON *errs, const char *codekey, struct sf_result *r)
{
	const cJSON	*first = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	const cJSON	*code, *msg;

	if (!cJSON_IsObject(first))
		return;
	code = cJSON_GetObjectItemCaseSensitive(first, codekey);
	msg = cJSON_GetObjectItemCaseSensitive(first, "message");
	if (cJSON_IsString(code))
		sf_coll_copy(r->error_code, sizeof(r->error_code), code->valuestring);
	if (cJSON_IsString(msg)) {
		char	 masked[sizeof(r->message)];

		/* What Salesforce echoed of the record stays out (sf_int.h). */
		sf_mask_message(masked, sizeof(masked), msg->valuestring);
		sf_coll_copy(r->message, sizeof(r->message), masked);
	}
}

int
sf_coll_results(const char *body, size_t len, struct sf_result *out, size_t n)
{
	cJSON		*doc = NULL;
	const cJSON	*it, *ok, *id, *created;
	struct jv_error	 je;
	size_t		 i = 0, idl;
	int		 rc = CB_ERR_UPSTREAM;

	if (len == 0 || jv_parse(body, len, &doc, &je) != CB_OK || !cJSON_IsArray(doc) ||
	    (size_t)cJSON_GetArraySize(doc) != n)
		goto out;
	cJSON_ArrayForEach(it, doc)
		if (!cJSON_IsObject(it) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(it, "success")))
			goto out;
	cJSON_ArrayForEach(it, doc) {
		struct sf_result *r = &out[i++];

		memset(r, 0, sizeof(*r));
		r->http_status = 200;
		ok = cJSON_GetObjectItemCaseSensitive(it, "success");
		if (cJSON_IsTrue(ok)) {
			created = cJSON_GetObjectItemCaseSensitive(it, "created");
			r->kind = cJSON_IsTrue(created) ? SF_CREATED : SF_UPDATED;
			id = cJSON_GetObjectItemCaseSensitive(it, "id");
			if (cJSON_IsString(id) && ((idl = strlen(id->valuestring)) == 15 || idl == 18))
				sf_coll_copy(r->id, sizeof(r->id), id->valuestring);
			continue;
		}
		sf_coll_take_error(cJSON_GetObjectItemCaseSensitive(it, "errors"), "statusCode", r);
		if (r->error_code[0] == '\0')
			util_strlcpy(r->error_code, "CB_NO_STATUS_CODE", sizeof(r->error_code));
		r->kind = sf_coll_error_kind(r->error_code);
	}
	rc = CB_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

void
sf_coll_call_error(long status, const char *body, size_t len, struct sf_result *r)
{
	cJSON		*doc = NULL;
	struct jv_error	 je;

	memset(r, 0, sizeof(*r));
	r->http_status = (int)status;
	if (len > 0 && jv_parse(body, len, &doc, &je) == CB_OK)
		sf_coll_take_error(doc, "errorCode", r);
	cJSON_Delete(doc);
	if (status == 401) {
		r->kind = SF_RETRY;
		util_strlcpy(r->error_code, "INVALID_SESSION_ID", sizeof(r->error_code));
	} else if (status >= 500 || status == 408 || status == 429 ||
	    (status == 403 && strcmp(r->error_code, "REQUEST_LIMIT_EXCEEDED") == 0))
		r->kind = SF_RETRY;
	else
		r->kind = SF_PERMANENT;
	if (r->error_code[0] == '\0')
		snprintf(r->error_code, sizeof(r->error_code), "HTTP_%ld", status);
}
