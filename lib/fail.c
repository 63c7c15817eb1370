/*
 * fail: see fail.h.
 */
#include <stdio.h>

#include "errs.h"
#include "fail.h"
#include "req.h"
#include "util.h"

static void
fail_json_free(void *p)
{
	cJSON_Delete(p);
}

int
route_fail_ext(struct req *r, int code, const char *detail, cJSON *ext)
{
	r->fail_code = code;
	r->fail_detail = detail ? req_strdup(r, detail) : NULL;
	r->fail_ext = ext;
	req_own(r, ext, fail_json_free);
	return code;
}

int
route_fail(struct req *r, int code, const char *detail)
{
	return route_fail_ext(r, code, detail, NULL);
}

int
route_fail_field(struct req *r, int code, const char *field, const char *reason)
{
	cJSON	*ext = NULL;
	char	 detail[300];

	if (field && *field) {
		if ((ext = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(ext, "field", field) == NULL)
			util_oom();
		snprintf(detail, sizeof(detail), "%s: %s", field, reason);
	} else
		snprintf(detail, sizeof(detail), "%s", reason);
	return route_fail_ext(r, code, detail, ext);
}

int
route_too_many(struct req *r, long retry_after_ms, const char *detail)
{
	char	 v[24];
	long	 s = (retry_after_ms + 999) / 1000;

	snprintf(v, sizeof(v), "%ld", s < 1 ? 1 : s);
	resp_header(r, "Retry-After", v);
	return route_fail(r, CB_ERR_RATE_LIMITED, detail);
}
