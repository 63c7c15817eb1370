/*
 * slackhist: see slackhist.h.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "errs.h"
#include "jsonv.h"
#include "slackhist.h"
#include "util.h"

/* Slack's code as it is when it is a short snake_case word. */
static void
slackhist_error(const cJSON *doc, char *error)
{
	const cJSON	*e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	size_t		 n;

	n = cJSON_IsString(e) ? strlen(e->valuestring) : 0;
	if (n == 0 || n >= SLACKHIST_ERROR_MAX ||
	    strspn(e->valuestring, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		util_strlcpy(error, "unknown_error", SLACKHIST_ERROR_MAX);
	else
		util_strlcpy(error, e->valuestring, SLACKHIST_ERROR_MAX);
}

/* Does this message's metadata name the row? */
static int
slackhist_names(const cJSON *m, const char *outbox_id)
{
	const cJSON	*md = cJSON_GetObjectItemCaseSensitive(m, "metadata");
	const cJSON	*t = cJSON_GetObjectItemCaseSensitive(md, "event_type");
	const cJSON	*pl = cJSON_GetObjectItemCaseSensitive(md, "event_payload");
	const cJSON	*id = cJSON_GetObjectItemCaseSensitive(pl, "outbox_id");

	return cJSON_IsObject(m) && cJSON_IsObject(md) && cJSON_IsObject(pl) &&
	    cJSON_IsString(t) && strcmp(t->valuestring, SLACKHIST_EVENT_TYPE) == 0 &&
	    cJSON_IsString(id) && strcmp(id->valuestring, outbox_id) == 0;
}

int
slackhist_find(const char *body, size_t len, const char *outbox_id, char *error)
{
	struct jv_error	 je;
	cJSON		*doc = NULL;
	const cJSON	*ok, *msgs, *m;
	int		 rc = SLACKHIST_BAD, n = 0;

	error[0] = '\0';
	if (len == 0 || jv_parse(body, len, &doc, &je) != CB_OK || !cJSON_IsObject(doc))
		goto out;
	ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
	if (cJSON_IsFalse(ok)) {
		slackhist_error(doc, error);
		rc = SLACKHIST_REFUSED;
		goto out;
	}
	if (!cJSON_IsTrue(ok))
		goto out;
	msgs = cJSON_GetObjectItemCaseSensitive(doc, "messages");
	if (!cJSON_IsArray(msgs))
		goto out;
	rc = SLACKHIST_ABSENT;
	cJSON_ArrayForEach(m, msgs) {
		if (n++ == SLACKHIST_MESSAGES_MAX)
			break;
		if (slackhist_names(m, outbox_id)) {
			rc = SLACKHIST_FOUND;
			break;
		}
	}
out:
	cJSON_Delete(doc);
	return rc;
}
