/*
 * fakehooks: see fakehooks.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "fakehooks.h"

void
fakehooks_call(const char *method, const char *path, const char *body, struct http_resp *r)
{
	char		 url[512];
	const char	*h[] = { "Content-Type: application/json", NULL };

	snprintf(url, sizeof(url), "%s%s", test_env("CB_FAKEHOOKS_URL"), path);
	http_do(method, url, h, body, body ? strlen(body) : 0, r);
}

long
fakehooks_stat(const char *name)
{
	struct http_resp r;
	cJSON		*v;
	long		 n;

	fakehooks_call("GET", "/__fake/stats", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = cJSON_GetObjectItem(http_json(&r), name);
	ck_assert_msg(cJSON_IsNumber(v), "no stat %s", name);
	n = (long)v->valuedouble;
	http_free(&r);
	return n;
}

void
fakehooks_reset(void)
{
	struct http_resp r;

	fakehooks_call("POST", "/__fake/reset", "{}", &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
}

void
fakehooks_endpoint(const char *name, const char *const *secrets)
{
	struct http_resp r;
	cJSON		*doc = cJSON_CreateObject(), *arr;
	char		*body;

	cJSON_AddStringToObject(doc, "name", name);
	arr = cJSON_AddArrayToObject(doc, "secrets");
	for (; *secrets != NULL; secrets++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(*secrets));
	body = cJSON_PrintUnformatted(doc);
	ck_assert_ptr_nonnull(body);
	fakehooks_call("POST", "/__fake/endpoints", body, &r);
	ck_assert_msg(r.status == 201, "endpoint %s: %ld %s", name, r.status, r.body);
	http_free(&r);
	free(body);
	cJSON_Delete(doc);
}

void
fakehooks_fault(const char *json)
{
	struct http_resp r;

	fakehooks_call("POST", "/__fake/faults", json, &r);
	ck_assert_msg(r.status == 201, "fault: %ld %s", r.status, r.body);
	http_free(&r);
}

void
fakehooks_hook_url(const char *name, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/hooks/%s", test_env("CB_FAKEHOOKS_URL"), name);
}

void
fakehooks_new_secret(char *out, size_t outsz)
{
	unsigned char	 key[32];
	char		 b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, outsz, "whsec_%s", b64);
	sodium_memzero(key, sizeof(key));
}

void
fakehooks_sign(const char *secret, const char *id, const char *ts, const char *body,
    size_t len, char *out, size_t outsz)
{
	unsigned char			 key[512], mac[crypto_auth_hmacsha256_BYTES];
	char				 b64[sodium_base64_ENCODED_LEN(sizeof(mac),
					    sodium_base64_VARIANT_ORIGINAL)];
	crypto_auth_hmacsha256_state	 st;
	size_t				 klen = 0;

	ck_assert(strncmp(secret, "whsec_", 6) == 0);
	ck_assert_int_eq(sodium_base642bin(key, sizeof(key), secret + 6, strlen(secret + 6),
	    NULL, &klen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, outsz, "v1,%s", b64);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
}

/* GET a list and detach its array member. */
static cJSON *
fakehooks_list(const char *path, const char *member)
{
	struct http_resp r;
	cJSON		*arr;

	fakehooks_call("GET", path, NULL, &r);
	ck_assert_msg(r.status == 200, "%s: %ld", path, r.status);
	arr = cJSON_DetachItemFromObject(http_json(&r), member);
	ck_assert(cJSON_IsArray(arr));
	http_free(&r);
	return arr;
}

cJSON *
fakehooks_deliveries(const char *endpoint, long since)
{
	char	 path[256];

	if (endpoint != NULL)
		snprintf(path, sizeof(path), "/__fake/deliveries?endpoint=%s&since=%ld",
		    endpoint, since);
	else
		snprintf(path, sizeof(path), "/__fake/deliveries?since=%ld", since);
	return fakehooks_list(path, "deliveries");
}

cJSON *
fakehooks_messages(long since)
{
	char	 path[128];

	snprintf(path, sizeof(path), "/__fake/messages?since=%ld", since);
	return fakehooks_list(path, "messages");
}

int
fakehooks_wait_deliveries(const char *endpoint, int n, int ms)
{
	cJSON	*arr;
	int	 waited, have = 0;

	for (waited = 0; waited <= ms; waited += 100) {
		arr = fakehooks_deliveries(endpoint, 0);
		have = cJSON_GetArraySize(arr);
		cJSON_Delete(arr);
		if (have >= n)
			break;
		test_sleep_ms(100);
	}
	return have;
}

int
fakehooks_wait_messages(int n, int ms)
{
	cJSON	*arr;
	int	 waited, have = 0;

	for (waited = 0; waited <= ms; waited += 100) {
		arr = fakehooks_messages(0);
		have = cJSON_GetArraySize(arr);
		cJSON_Delete(arr);
		if (have >= n)
			break;
		test_sleep_ms(100);
	}
	return have;
}
