/*
 * CORS through nginx: the stack runs with CB_CORS_ORIGINS listing
 * https://app.example.test and https://admin.example.test (scripts/test.sh).
 * Listed origins are echoed (never "*"), with credentials; others get no
 * CORS header; preflights are answered for listed origins only.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "http.h"

static const struct {
	const char	*origin;
	int		 allowed;
} origins[] = {
	{ "https://app.example.test", 1 },
	{ "https://admin.example.test", 1 },
	{ "https://evil.example.test", 0 },
	{ "https://app.example.test.evil.test", 0 },
	{ "http://app.example.test", 0 },
	{ "null", 0 },
};

START_TEST(actual_request)
{
	struct http_resp r;
	char		 h[160];
	const char	*hdrs[] = { h, NULL };

	snprintf(h, sizeof(h), "Origin: %s", origins[_i].origin);
	http_do("GET", "/api/health", hdrs, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	if (origins[_i].allowed) {
		ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), origins[_i].origin);
		ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Credentials"), "true");
		ck_assert_ptr_nonnull(strstr(http_header(&r, "Vary"), "Origin"));
	} else {
		ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin"));
		ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Credentials"));
	}
	http_free(&r);
}
END_TEST

START_TEST(preflight)
{
	struct http_resp r;
	char		 h[160];
	const char	*hdrs[] = { h, "Access-Control-Request-Method: POST",
	    "Access-Control-Request-Headers: content-type, idempotency-key", NULL };

	snprintf(h, sizeof(h), "Origin: %s", origins[_i].origin);
	http_do("OPTIONS", "/api/v1/contexts", hdrs, NULL, 0, &r);
	if (origins[_i].allowed) {
		ck_assert_int_eq(r.status, 204);
		ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), origins[_i].origin);
		ck_assert_ptr_nonnull(strstr(http_header(&r, "Access-Control-Allow-Methods"), "POST"));
		ck_assert_ptr_nonnull(strstr(http_header(&r, "Access-Control-Allow-Headers"),
		    "Idempotency-Key"));
		ck_assert_ptr_nonnull(http_header(&r, "Access-Control-Max-Age"));
	} else {
		ck_assert_int_eq(r.status, 403);
		ck_assert_str_eq(http_header(&r, "Content-Type"), "application/problem+json");
		ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin"));
	}
	http_free(&r);
}
END_TEST

START_TEST(preflight_for_a_method_the_path_lacks)
{
	struct http_resp r;
	const char	*hdrs[] = { "Origin: https://app.example.test",
	    "Access-Control-Request-Method: DELETE", NULL };

	http_do("OPTIONS", "/api/v1/contexts", hdrs, NULL, 0, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin"));
	http_free(&r);
}
END_TEST

START_TEST(never_a_wildcard)
{
	struct http_resp r;
	const char	*hdrs[] = { "Origin: *", NULL };

	http_do("GET", "/api/health", hdrs, NULL, 0, &r);
	ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin"));
	http_free(&r);
}
END_TEST

START_TEST(plain_options_lists_methods)
{
	struct http_resp r;

	http_do("OPTIONS", "/api/v1/contexts", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert_ptr_nonnull(strstr(http_header(&r, "Allow"), "POST"));
	http_free(&r);
}
END_TEST

static Suite *
cors_suite(void)
{
	Suite	*s = suite_create("cors");
	TCase	*tc = tcase_create("allowlist");
	int	 n = sizeof(origins) / sizeof(origins[0]);

	tcase_add_loop_test(tc, actual_request, 0, n);
	tcase_add_loop_test(tc, preflight, 0, n);
	tcase_add_test(tc, preflight_for_a_method_the_path_lacks);
	tcase_add_test(tc, never_a_wildcard);
	tcase_add_test(tc, plain_options_lists_methods);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(cors_suite());
}
