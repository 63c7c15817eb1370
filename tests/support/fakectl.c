/*
 * fakectl: see fakectl.h.
 */
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "fakectl.h"
#include "fakesf.h"

void
fakectl_fault(const char *json)
{
	struct http_resp r;

	fakesf_call("POST", "/__fake/faults", json, &r);
	ck_assert_msg(r.status >= 200 && r.status < 300, "fault: %ld %s", r.status, r.body);
	http_free(&r);
}

void
fakectl_clear(void)
{
	struct http_resp r;

	fakesf_call("DELETE", "/__fake/faults", NULL, &r);
	ck_assert_msg(r.status >= 200 && r.status < 300, "clear faults: %ld %s", r.status, r.body);
	http_free(&r);
}

int
fakectl_records(const char *ext, long *upserts)
{
	struct http_resp r;
	const cJSON	*rec, *v;
	int		 n = 0;

	fakesf_call("GET", "/__fake/records", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	cJSON_ArrayForEach(rec, cJSON_GetObjectItem(http_json(&r), "records")) {
		v = cJSON_GetObjectItem(rec, "ext_value");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, ext) != 0)
			continue;
		n++;
		if (upserts && cJSON_IsNumber(v = cJSON_GetObjectItem(rec, "upserts")))
			*upserts = (long)v->valuedouble;
	}
	http_free(&r);
	return n;
}
