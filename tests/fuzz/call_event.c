/*
 * Fuzz target: a voice platform's call event as the calls route reads it
 * (lib/calls: the body against calls_event_fields, the phones normalised
 * with the source's country code, then the Salesforce field map).
 * Whatever the body: a refusal names a field; an accepted event has its
 * phones in E.164 or empty, and its field map is one JSON object that
 * names no phone as sent, only as normalised.  Seeds:
 * tests/fuzz/corpus/call_event/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "calls.h"
#include "errs.h"
#include "jsonv.h"
#include "phone.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
e164_or_empty(const char *s)
{
	size_t	 n = strlen(s);

	return n == 0 || (s[0] == '+' && n >= 9 && n <= PHONE_E164_MAX &&
	    strspn(s + 1, "0123456789") == n - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 sha[] = "0000000000000000000000000000000000000000000000000000000000000000";
	struct calls_event	 ev;
	struct jv_error		 e;
	const char		*field = NULL, *why = NULL;
	cJSON			*doc = NULL, *map = NULL;
	char			*fields;

	if (size > 16384)
		return 0;
	if (jv_parse((const char *)data, size, &doc, &e) != CB_OK || !cJSON_IsObject(doc))
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.duration_s = -1;
	memset(&e, 0, sizeof(e));
	if (jv_validate(doc, calls_event_fields, CALLS_EVENT_NFIELDS, &ev, &e) != CB_OK) {
		if (e.field[0] == '\0' && e.reason[0] == '\0')
			abort();
		goto out;
	}
	if (calls_event_normalise(&ev, "1", &field, &why) != CB_OK) {
		if (field == NULL || why == NULL)
			abort();
		goto out;
	}
	if (!e164_or_empty(ev.from_e164) || !e164_or_empty(ev.to_e164))
		abort();
	if ((fields = calls_event_sf_fields(&ev, sha)) == NULL)
		abort();
	if (jv_parse(fields, strlen(fields), &map, &e) != CB_OK || !cJSON_IsObject(map))
		abort();
	/* A phone as sent, when it is not its E.164 form, never reaches Salesforce. */
	if (ev.from && strcmp(ev.from, ev.from_e164) != 0 && strlen(ev.from) > 6 &&
	    strstr(fields, ev.from) != NULL)
		abort();
	cJSON_Delete(map);
	free(fields);
out:
	cJSON_Delete(doc);
	return 0;
}
