/*
 * fakesf: see fakesf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "db.h"
#include "errs.h"
#include "fakesf.h"

void
fakesf_call(const char *method, const char *path, const char *body, struct http_resp *r)
{
	char		 url[256];
	const char	*h[] = { "Content-Type: application/json", NULL };

	snprintf(url, sizeof(url), "%s%s", test_env("CB_FAKESF_URL"), path);
	http_do(method, url, h, body, body ? strlen(body) : 0, r);
}

long
fakesf_stat(const char *name)
{
	struct http_resp r;
	cJSON		*v;
	long		 n;

	fakesf_call("GET", "/__fake/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = cJSON_GetObjectItem(http_json(&r), name);
	ck_assert_msg(cJSON_IsNumber(v), "no stat %s", name);
	n = (long)v->valuedouble;
	http_free(&r);
	return n;
}

void
fakesf_fault(const char *json)
{
	struct http_resp r;

	fakesf_call("POST", "/__fake/faults", json, &r);
	ck_assert_msg(r.status == 201, "fault: %ld %s", r.status, r.body);
	http_free(&r);
}

void
fakesf_api_usage(long used, long limit)
{
	struct http_resp r;
	char		 body[96];

	if (limit > 0)
		snprintf(body, sizeof(body), "{\"used\":%ld,\"limit\":%ld}", used, limit);
	else
		snprintf(body, sizeof(body), "{\"used\":%ld}", used);
	fakesf_call("POST", "/__fake/api-usage", body, &r);
	ck_assert_msg(r.status == 200, "api-usage: %ld %s", r.status, r.body);
	http_free(&r);
}

int
outbox_wait(const char *ref, const char *state, int ms, long *attempts, char *err, size_t errsz)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));
	struct db_res	*res = NULL;
	int		 waited, ok = 0;

	for (waited = 0; waited <= ms && !ok; waited += 100) {
		ck_assert_int_eq(db_query(db, &res, "SELECT state, attempts, coalesce(last_error, '')"
		    " FROM outbox WHERE ref_id = $1::uuid", 1, (const char *[]){ ref }), CB_OK);
		if (db_rows(res) == 1 && strcmp(db_val(res, 0, 0), state) == 0) {
			ok = 1;
			if (attempts)
				*attempts = strtol(db_val(res, 0, 1), NULL, 10);
			if (err)
				snprintf(err, errsz, "%s", db_val(res, 0, 2));
		}
		db_res_free(res);
		if (!ok)
			test_sleep_ms(100);
	}
	db_close(db);
	return ok;
}
