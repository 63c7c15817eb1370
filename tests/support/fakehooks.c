/*
 * fakehooks: see fakehooks.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <sodium.h>

#include "fakectl.h"
#include "fakehooks.h"
#include "http.h"
#include "util.h"

#define FAKEHOOKS	"CB_FAKEHOOKS_URL"

void
fakehooks_call(const char *method, const char *path, const char *body, struct http_resp *r)
{
	fakectl_call(FAKEHOOKS, method, path, body, r);
}

long
fakehooks_stat(const char *name)
{
	return fakectl_stat(FAKEHOOKS, name);
}

void
fakehooks_reset(void)
{
	fakectl_post(FAKEHOOKS, "/__fake/reset", "{}");
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
	fakectl_fault(FAKEHOOKS, json);
}

void
fakehooks_clear(void)
{
	fakectl_clear(FAKEHOOKS);
}

void
fakehooks_unique(char *out, size_t outsz, const char *prefix)
{
	unsigned char	 rnd[6];
	char		 hex[13];

	randombytes_buf(rnd, sizeof(rnd));
	util_hex(hex, rnd, sizeof(rnd));
	snprintf(out, outsz, "%s%s", prefix, hex);
}

void
fakehooks_new_hook(const char *admin_token, const char *types, struct fakehooks_hook *h)
{
	struct http_resp r;
	char		 url[256], body[512], a[1200], k[160], key[48];
	const char	*hdrs[] = { "Content-Type: application/json", a, k, NULL };
	const char	*secrets[2] = { NULL, NULL };

	fakehooks_unique(h->name, sizeof(h->name), "wh-");
	fakehooks_unique(key, sizeof(key), "create-");
	fakehooks_hook_url(h->name, url, sizeof(url));
	snprintf(body, sizeof(body), "{\"url\":\"%s\",\"event_types\":%s,"
	    "\"description\":\"test\"}", url, types);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", admin_token);
	snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
	http_do("POST", "/api/v1/admin/webhooks", hdrs, body, strlen(body), &r);
	ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(http_json_str(&r, "id"));
	ck_assert_ptr_nonnull(http_json_str(&r, "secret"));
	util_strlcpy(h->id, http_json_str(&r, "id"), sizeof(h->id));
	util_strlcpy(h->secret, http_json_str(&r, "secret"), sizeof(h->secret));
	test_record_secret(h->secret);
	http_free(&r);
	secrets[0] = h->secret;
	fakehooks_endpoint(h->name, secrets);
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

/* Wait up to ms until a list (deliveries to endpoint, or messages) holds n. */
static int
fakehooks_wait_list(int messages, const char *endpoint, int n, int ms)
{
	cJSON	*arr;
	int	 waited, have = 0;

	for (waited = 0; waited <= ms; waited += 100) {
		arr = messages ? fakehooks_messages(0) : fakehooks_deliveries(endpoint, 0);
		have = cJSON_GetArraySize(arr);
		cJSON_Delete(arr);
		if (have >= n)
			break;
		test_sleep_ms(100);
	}
	return have;
}

int
fakehooks_wait_deliveries(const char *endpoint, int n, int ms)
{
	return fakehooks_wait_list(0, endpoint, n, ms);
}

int
fakehooks_wait_messages(int n, int ms)
{
	return fakehooks_wait_list(1, NULL, n, ms);
}

cJSON *
fakehooks_deliveries_wait(const char *endpoint, long since, int n, int ms)
{
	cJSON	*arr = NULL;
	int	 waited;

	for (waited = 0; waited <= ms; waited += 100) {
		cJSON_Delete(arr);
		arr = fakehooks_deliveries(endpoint, since);
		if (cJSON_GetArraySize(arr) >= n)
			break;
		test_sleep_ms(100);
	}
	ck_assert_msg(cJSON_GetArraySize(arr) >= n, "%d of %d deliveries to %s",
	    cJSON_GetArraySize(arr), n, endpoint ? endpoint : "any endpoint");
	return arr;
}

/* The highest "seq" in a list (0: empty). */
static long
fakehooks_max_seq(cJSON *arr)
{
	const cJSON	*it, *v;
	long		 seq = 0;

	cJSON_ArrayForEach(it, arr) {
		v = cJSON_GetObjectItem(it, "seq");
		ck_assert_msg(cJSON_IsNumber(v), "an entry without seq");
		if ((long)v->valuedouble > seq)
			seq = (long)v->valuedouble;
	}
	cJSON_Delete(arr);
	return seq;
}

long
fakehooks_last_delivery(const char *endpoint)
{
	return fakehooks_max_seq(fakehooks_deliveries(endpoint, 0));
}

long
fakehooks_last_message(void)
{
	return fakehooks_max_seq(fakehooks_messages(0));
}

int
fakehooks_messages_with(long since, const char *needle)
{
	cJSON		*arr = fakehooks_messages(since);
	const cJSON	*m, *t;
	int		 n = 0;

	cJSON_ArrayForEach(m, arr) {
		t = cJSON_GetObjectItem(m, "text");
		if (cJSON_IsString(t) && strstr(t->valuestring, needle) != NULL)
			n++;
	}
	cJSON_Delete(arr);
	return n;
}

int
fakehooks_wait_messages_with(long since, const char *needle, int n, int ms)
{
	int	 waited, got = 0;

	for (waited = 0; waited <= ms; waited += 200) {
		if ((got = fakehooks_messages_with(since, needle)) >= n)
			return got;
		test_sleep_ms(200);
	}
	return got;
}

void
fakehooks_post_call(const char *secret, const char *source, const char *msg_id,
    const char *body, struct http_resp *r)
{
	char	 path[160], ts[32], sig[160], hid[96], hts[64], hsig[200];

	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
	fakehooks_sign(secret, msg_id, ts, body, strlen(body), sig, sizeof(sig));
	snprintf(path, sizeof(path), "/api/v1/webhooks/calls/%s", source);
	snprintf(hid, sizeof(hid), "webhook-id: %s", msg_id);
	snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
	http_do("POST", path, (const char *[]){ "Content-Type: application/json", hid, hts,
	    hsig, NULL }, body, strlen(body), r);
}

void
fakehooks_worker_web_api(const char *channel)
{
	char	 env[256];

	/* The stack then names no hook: the bot token says the Web API. */
	snprintf(env, sizeof(env), "env -u CB_SLACK_WEBHOOK_URL"
	    " CB_SLACK_BOT_TOKEN=\"$CB_FAKEHOOKS_SLACK_TOKEN\" CB_SLACK_CHANNEL='%s'", channel);
	test_stack_env(env, "restart-worker");
}

void
fakehooks_worker_web_api_default(void)
{
	fakehooks_worker_web_api(FAKEHOOKS_WEB_CHANNEL);
}

void
fakehooks_worker_webhook(void)
{
	test_stack_env("env -u CB_SLACK_BOT_TOKEN -u CB_SLACK_CHANNEL", "restart-worker");
}
