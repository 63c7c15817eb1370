/*
 * Protocol edges through nginx, as the RFCs say: a quoted media-type
 * parameter (`charset="UTF-8"`, RFC 9110 5.6.4) is the same as a bare one;
 * a repeated Idempotency-Key or Authorization line is a 400, never served
 * with the first one (nginx hands repeated headers over as repeated
 * FastCGI parameters); every 401, on the tab-token routes too, carries a
 * WWW-Authenticate challenge; a WebSocket upgrade with a wrong subprotocol
 * or a malformed /ws/ path gets an HTTP refusal with a problem+json body
 * from the worker (RFC 9457), never a 502 or an HTML page.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "http.h"
#include "seed.h"
#include "testdb.h"

static struct seed	 S;
static char		 ctx[40], tok[64];

static void
setup(void)
{
	static int	 done;

	if (done)
		return;
	seed_tenant(&S);
	seed_context(S.form_id, ctx, tok);
	done = 1;
}

static void
submit(const char *ctype, const char *key1, const char *key2, const char *auth2,
    struct http_resp *r)
{
	char		 path[128], a[96], k1[96], k2[96], ct[96];
	const char	*h[6];
	int		 n = 0;
	static const char body[] =
	    "{\"data\":{\"full_name\":\"Jane Edge\",\"email\":\"jane.edge@example.com\"}}";

	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", S.form_id);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	h[n++] = a;
	h[n++] = ct;
	if (key1) {
		snprintf(k1, sizeof(k1), "Idempotency-Key: \"%s\"", key1);
		h[n++] = k1;
	}
	if (key2) {
		snprintf(k2, sizeof(k2), "Idempotency-Key: \"%s\"", key2);
		h[n++] = k2;
	}
	if (auth2)
		h[n++] = auth2;
	h[n] = NULL;
	ck_assert_int_eq(http_do("POST", path, h, body, sizeof(body) - 1, r), 0);
}

static long
submissions_of_ctx(void)
{
	return testdb_long("SELECT count(*) FROM submissions WHERE ctx_id = $1", 1,
	    (const char *[]){ ctx });
}

START_TEST(quoted_charset_is_accepted)
{
	struct http_resp	 r;
	char			 key[64];

	setup();
	snprintf(key, sizeof(key), "edge-quoted-%ld", (long)(test_now_s() * 1000));
	submit("application/json; charset=\"UTF-8\"", key, NULL, NULL, &r);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	http_free(&r);
	submit("application/json; charset=\"latin1\"", "edge-latin1", NULL, NULL, &r);
	http_expect_problem(&r, 415, "/problems/unsupported-media-type");
	http_free(&r);
}
END_TEST

START_TEST(repeated_idempotency_key_is_400)
{
	struct http_resp	 r;
	long			 before;
	char			 a2[96];

	setup();
	before = submissions_of_ctx();
	submit("application/json", "edge-dup-1", "edge-dup-2", NULL, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "once"));
	http_free(&r);
	/* The same key twice is still two lines. */
	submit("application/json", "edge-dup-3", "edge-dup-3", NULL, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	/*
	 * A backslash, bare or quoted (no sf-string escape is taken, so no
	 * key may need one: the fuzzer found the bare one taken).
	 */
	submit("application/json", "edge\\key", NULL, NULL, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	submit("application/json", "\"edge\\key\"", NULL, NULL, &r);
	http_expect_problem(&r, 400, "/problems/idempotency-key-missing");
	http_free(&r);
	snprintf(a2, sizeof(a2), "Authorization: Bearer %s", tok);
	submit("application/json", "edge-dup-4", NULL, a2, &r);
	http_expect_problem(&r, 400, "/problems/bad-request");
	http_free(&r);
	ck_assert_int_eq(submissions_of_ctx(), before);
}
END_TEST

START_TEST(every_401_challenges)
{
	struct http_resp	 r;
	char			 path[128];
	const char		*bad[] = { "Authorization: Bearer tab_nope", NULL };
	const char		*w;

	setup();
	snprintf(path, sizeof(path), "/api/v1/forms/%s", S.form_id);
	/* A tab-token route without a token, then with a wrong one. */
	ck_assert_int_eq(http_do("GET", path, NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	w = http_header(&r, "www-authenticate");
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w, "Bearer realm=\"context-broker\"");
	http_free(&r);
	ck_assert_int_eq(http_do("GET", path, bad, NULL, 0, &r), 0);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	w = http_header(&r, "www-authenticate");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(strstr(w, "error=\"invalid_token\""));
	http_free(&r);
	/* An agent route. */
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	ck_assert_int_eq(http_do("POST", path, (const char *[]){ "Content-Type: application/json",
	    NULL }, "{}", 2, &r), 0);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(http_header(&r, "www-authenticate"));
	http_free(&r);
}
END_TEST

/* An upgrade request through nginx, as a browser makes it. */
static void
upgrade(const char *path, const char *protocol, struct http_resp *r)
{
	char		 proto[160];
	const char	*h[7];
	int		 n = 0;

	h[n++] = "Upgrade: websocket";
	h[n++] = "Connection: Upgrade";
	h[n++] = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
	h[n++] = "Sec-WebSocket-Version: 13";
	if (protocol) {
		snprintf(proto, sizeof(proto), "Sec-WebSocket-Protocol: %s", protocol);
		h[n++] = proto;
	}
	h[n] = NULL;
	ck_assert_int_eq(http_do("GET", path, h, NULL, 0, r), 0);
}

#define WS_CTX	"/ws/ctx/00000000-0000-4000-8000-000000000000"

static const struct { const char *path, *protocol; long status; const char *type; } ws_cases[] = {
	{ WS_CTX, "chat", 400, "/problems/bad-request" },
	{ WS_CTX, "cb.tab.v2", 400, "/problems/bad-request" },
	/* The worker's internal protocols are never bound by a client. */
	{ WS_CTX, "cb-pg-listen", 400, "/problems/bad-request" },
	{ WS_CTX, "cb-kv-wake, cb.tab.v1", 400, "/problems/bad-request" },
	{ "/ws/nope", "cb.tab.v1", 404, "/problems/not-found" },
	{ "/ws/", "cb.tab.v1", 404, "/problems/not-found" },
	{ "/ws/ctx/not-a-uuid", "cb.tab.v1", 400, "/problems/bad-request" },
	{ "/ws/ctx/", "cb.tab.v1", 400, "/problems/bad-request" },
	{ WS_CTX "/x", "cb.tab.v1", 404, "/problems/not-found" },
	{ WS_CTX "?token=tab_x", "cb.tab.v1", 400, "/problems/bad-request" },
	{ "/ws/ctx/not-a-uuid", "chat", 400, "/problems/bad-request" },
};

START_TEST(websocket_refusals_are_problems)
{
	struct http_resp	 r;

	upgrade(ws_cases[_i].path, ws_cases[_i].protocol, &r);
	ck_assert_msg(r.status == ws_cases[_i].status, "%s [%s]: %ld %s", ws_cases[_i].path,
	    ws_cases[_i].protocol, r.status, r.body ? r.body : "");
	http_expect_problem(&r, ws_cases[_i].status, ws_cases[_i].type);
	ck_assert_ptr_nonnull(http_json_str(&r, "detail"));
	ck_assert_ptr_null(strstr(r.body, "<html"));
	http_free(&r);
}
END_TEST

/* Plain HTTP to the channel (no upgrade): refused the same way. */
START_TEST(plain_http_to_channel_is_problem)
{
	struct http_resp	 r;

	ck_assert_int_eq(http_do("GET", WS_CTX, NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 400, "/problems/bad-request");
	http_free(&r);
	ck_assert_int_eq(http_do("GET", "/ws/nope", NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("edges");
	TCase	*tc = tcase_create("edges");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, quoted_charset_is_accepted);
	tcase_add_test(tc, repeated_idempotency_key_is_400);
	tcase_add_test(tc, every_401_challenges);
	tcase_add_loop_test(tc, websocket_refusals_are_problems, 0, (int)CU_NELEM(ws_cases));
	tcase_add_test(tc, plain_http_to_channel_is_problem);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
