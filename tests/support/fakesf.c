/*
 * fakesf: see fakesf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "fakectl.h"
#include "fakesf.h"

#define FAKESF	"CB_FAKESF_URL"

void
fakesf_call(const char *method, const char *path, const char *body, struct http_resp *r)
{
	fakectl_call(FAKESF, method, path, body, r);
}

long
fakesf_stat(const char *name)
{
	return fakectl_stat(FAKESF, name);
}

void
fakesf_fault(const char *json)
{
	fakectl_fault(FAKESF, json);
}

void
fakesf_clear(void)
{
	fakectl_clear(FAKESF);
}

void
fakesf_api_usage(long used, long limit)
{
	char	 body[96];

	if (limit > 0)
		snprintf(body, sizeof(body), "{\"used\":%ld,\"limit\":%ld}", used, limit);
	else
		snprintf(body, sizeof(body), "{\"used\":%ld}", used);
	fakectl_post(FAKESF, "/__fake/api-usage", body);
}

void
fakesf_revoke_tokens(void)
{
	fakectl_post(FAKESF, "/__fake/revoke-tokens", "{}");
}

/* GET /__fake/records; the caller walks "records" and frees r. */
static const cJSON *
fakesf_list(struct http_resp *r)
{
	fakesf_call("GET", "/__fake/records", NULL, r);
	ck_assert_int_eq(r->status, 200);
	return cJSON_GetObjectItem(http_json(r), "records");
}

static const char *
fakesf_ext(const cJSON *rec)
{
	const cJSON	*v = cJSON_GetObjectItem(rec, "ext_value");

	ck_assert_msg(cJSON_IsString(v), "a record without ext_value");
	return v->valuestring;
}

int
fakesf_records(const char *ext, long *upserts)
{
	struct http_resp r;
	const cJSON	*recs, *rec, *v;
	int		 n = 0;

	recs = fakesf_list(&r);
	cJSON_ArrayForEach(rec, recs) {
		if (strcmp(fakesf_ext(rec), ext) != 0)
			continue;
		n++;
		if (upserts && cJSON_IsNumber(v = cJSON_GetObjectItem(rec, "upserts")))
			*upserts = (long)v->valuedouble;
	}
	http_free(&r);
	return n;
}

int
fakesf_record_fields(const char *ext, char *fields, size_t fieldsz)
{
	struct http_resp r;
	const cJSON	*recs, *rec;
	char		*t;
	int		 n = 0;

	fields[0] = '\0';
	recs = fakesf_list(&r);
	cJSON_ArrayForEach(rec, recs) {
		if (strcmp(fakesf_ext(rec), ext) != 0)
			continue;
		n++;
		t = cJSON_PrintUnformatted(cJSON_GetObjectItem(rec, "fields"));
		snprintf(fields, fieldsz, "%s", t ? t : "");
		free(t);
	}
	http_free(&r);
	return n;
}

void
fakesf_count_once(char (*ids)[40], int n, int *missing, int *dupes, int *reupserted)
{
	struct http_resp r;
	const cJSON	*recs, *rec, *up;
	int		*seen = calloc((size_t)n, sizeof(int)), *again = calloc((size_t)n, sizeof(int)), i;

	ck_assert_ptr_nonnull(seen);
	ck_assert_ptr_nonnull(again);
	recs = fakesf_list(&r);
	cJSON_ArrayForEach(rec, recs) {
		const char *v = fakesf_ext(rec);

		for (i = 0; i < n; i++)
			if (strcmp(ids[i], v) == 0) {
				seen[i]++;
				up = cJSON_GetObjectItem(rec, "upserts");
				if (!cJSON_IsNumber(up) || up->valuedouble != 1)
					again[i] = 1;
				break;
			}
	}
	http_free(&r);
	*missing = *dupes = 0;
	if (reupserted)
		*reupserted = 0;
	for (i = 0; i < n; i++) {
		if (seen[i] == 0)
			(*missing)++;
		if (seen[i] > 1)
			(*dupes)++;
		if (reupserted && again[i])
			(*reupserted)++;
	}
	free(seen);
	free(again);
}

void
fakesf_count(char (*ids)[40], int n, int *missing, int *dupes)
{
	fakesf_count_once(ids, n, missing, dupes, NULL);
}
