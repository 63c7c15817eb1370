/*
 * fakectl: see fakectl.h.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "fakectl.h"

void
fakectl_call(const char *env, const char *method, const char *path, const char *body,
    struct http_resp *r)
{
	char		 url[512];
	const char	*h[] = { "Content-Type: application/json", NULL };

	snprintf(url, sizeof(url), "%s%s", test_env(env), path);
	http_do(method, url, h, body, body ? strlen(body) : 0, r);
}

long
fakectl_stat(const char *env, const char *name)
{
	struct http_resp r;
	cJSON		*v;
	long		 n;

	fakectl_call(env, "GET", "/__fake/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = cJSON_GetObjectItem(http_json(&r), name);
	ck_assert_msg(cJSON_IsNumber(v), "no stat %s", name);
	n = (long)v->valuedouble;
	http_free(&r);
	return n;
}

void
fakectl_fault(const char *env, const char *json)
{
	struct http_resp r;

	fakectl_call(env, "POST", "/__fake/faults", json, &r);
	ck_assert_msg(r.status == 201, "fault: %ld %s", r.status, r.body);
	http_free(&r);
}

void
fakectl_clear(const char *env)
{
	struct http_resp r;

	fakectl_call(env, "DELETE", "/__fake/faults", NULL, &r);
	ck_assert_msg(r.status >= 200 && r.status < 300, "clear faults: %ld %s", r.status, r.body);
	http_free(&r);
}

void
fakectl_post(const char *env, const char *path, const char *body)
{
	struct http_resp r;

	fakectl_call(env, "POST", path, body, &r);
	ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
	http_free(&r);
}
