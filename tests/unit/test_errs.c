/*
 * test_errs: the error table.  Every code has a name, a title, a problem
 * type under /problems/ and a status a client can act on; the codes a
 * client sees most map to the statuses the API documents; anything outside
 * the enum answers as an internal error; names are unique and a type always
 * carries the same title.
 */
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"

START_TEST(test_every_code_complete)
{
	int	 c = _i;

	ck_assert_ptr_nonnull(errs_name(c));
	ck_assert_ptr_nonnull(errs_title(c));
	ck_assert_ptr_nonnull(errs_type(c));
	ck_assert_msg(strncmp(errs_type(c), "/problems/", 10) == 0 &&
	    strlen(errs_type(c)) > 10, "code %d type \"%s\"", c, errs_type(c));
	ck_assert_msg(errs_status(c) >= 200 && errs_status(c) <= 599,
	    "code %d status %d", c, errs_status(c));
	ck_assert_msg(strlen(errs_title(c)) > 0, "code %d empty title", c);
	ck_assert_msg(strlen(errs_name(c)) > 0, "code %d empty name", c);
	/* Only success is a success. */
	if (c != CB_OK)
		ck_assert_msg(errs_status(c) >= 400, "error %s answers %d",
		    errs_name(c), errs_status(c));
	/* The reason phrase of every status the table uses is known. */
	ck_assert_str_ne(errs_reason(errs_status(c)), "Unknown");
}
END_TEST

START_TEST(test_names_unique)
{
	int	 a, b;

	for (a = 0; a < CB_ERR__COUNT; a++)
		for (b = a + 1; b < CB_ERR__COUNT; b++)
			ck_assert_msg(strcmp(errs_name(a), errs_name(b)) != 0,
			    "codes %d and %d share the name %s", a, b, errs_name(a));
}
END_TEST

START_TEST(test_type_has_one_title)
{
	int	 a, b;

	for (a = 0; a < CB_ERR__COUNT; a++)
		for (b = 0; b < CB_ERR__COUNT; b++)
			if (strcmp(errs_type(a), errs_type(b)) == 0) {
				ck_assert_msg(strcmp(errs_title(a), errs_title(b)) == 0,
				    "type %s has titles \"%s\" and \"%s\"",
				    errs_type(a), errs_title(a), errs_title(b));
				ck_assert_int_eq(errs_status(a), errs_status(b));
			}
}
END_TEST

static const struct {
	int		 code;
	int		 status;
	const char	*type;
	const char	*name;
} map_cases[] = {
	{ CB_OK,		 200, "/problems/ok", "OK" },
	{ CB_ERR_INTERNAL,	 500, "/problems/internal", "INTERNAL" },
	{ CB_ERR_NOMEM,		 500, "/problems/internal", "NOMEM" },
	{ CB_ERR_BAD_REQUEST,	 400, "/problems/bad-request", "BAD_REQUEST" },
	{ CB_ERR_BAD_JSON,	 400, "/problems/malformed-json", "BAD_JSON" },
	{ CB_ERR_VALIDATION,	 400, "/problems/validation", "VALIDATION" },
	{ CB_ERR_IDEM_MISSING,	 400, "/problems/idempotency-key-missing", "IDEM_MISSING" },
	{ CB_ERR_UNAUTHENTICATED, 401, "/problems/unauthenticated", "UNAUTHENTICATED" },
	{ CB_ERR_FORBIDDEN,	 403, "/problems/forbidden", "FORBIDDEN" },
	{ CB_ERR_POLICY,	 403, "/problems/policy-denied", "POLICY" },
	{ CB_ERR_TLS_REQUIRED,	 403, "/problems/https-required", "TLS_REQUIRED" },
	{ CB_ERR_NOT_FOUND,	 404, "/problems/not-found", "NOT_FOUND" },
	{ CB_ERR_METHOD,	 405, "/problems/method-not-allowed", "METHOD" },
	{ CB_ERR_CONFLICT,	 409, "/problems/conflict", "CONFLICT" },
	{ CB_ERR_DB_CONFLICT,	 409, "/problems/conflict", "DB_CONFLICT" },
	{ CB_ERR_IDEM_IN_FLIGHT, 409, "/problems/idempotency-key-in-flight", "IDEM_IN_FLIGHT" },
	{ CB_ERR_VERSION_STALE,	 409, "/problems/form-version-stale", "VERSION_STALE" },
	{ CB_ERR_GONE,		 410, "/problems/gone", "GONE" },
	{ CB_ERR_PRECONDITION,	 412, "/problems/precondition-failed", "PRECONDITION" },
	{ CB_ERR_ALTERED_REPLAY, 422, "/problems/altered-replay", "ALTERED_REPLAY" },
	{ CB_ERR_WEBHOOK_REUSED, 409, "/problems/webhook-id-reused", "WEBHOOK_REUSED" },
	{ CB_ERR_RESIDENCY, 422, "/problems/data-residency", "RESIDENCY" },
	{ CB_ERR_SUNSET,	 410, "/problems/route-sunset", "SUNSET" },
	{ CB_ERR_DUPLICATE,	 409, "/problems/duplicate-submission", "DUPLICATE" },
	{ CB_ERR_TOO_LARGE,	 413, "/problems/payload-too-large", "TOO_LARGE" },
	{ CB_ERR_MEDIA_TYPE,	 415, "/problems/unsupported-media-type", "MEDIA_TYPE" },
	{ CB_ERR_UNPROCESSABLE,	 422, "/problems/unprocessable", "UNPROCESSABLE" },
	{ CB_ERR_IDEM_MISMATCH,	 422, "/problems/idempotency-key-reused", "IDEM_MISMATCH" },
	{ CB_ERR_RATE_LIMITED,	 429, "/problems/rate-limited", "RATE_LIMITED" },
	{ CB_ERR_DB,		 500, "/problems/internal", "DB" },
	{ CB_ERR_KV,		 500, "/problems/internal", "KV" },
	{ CB_ERR_CONFIG,	 500, "/problems/internal", "CONFIG" },
	{ CB_ERR_IO,		 500, "/problems/internal", "IO" },
	{ CB_ERR_CRYPTO,	 500, "/problems/internal", "CRYPTO" },
	{ CB_ERR_UPSTREAM,	 502, "/problems/upstream-error", "UPSTREAM" },
	{ CB_ERR_UNAVAILABLE,	 503, "/problems/unavailable", "UNAVAILABLE" },
	{ CB_ERR_DB_DOWN,	 503, "/problems/unavailable", "DB_DOWN" },
	{ CB_ERR_KV_DOWN,	 503, "/problems/unavailable", "KV_DOWN" },
	{ CB_ERR_DB_BUSY,	 503, "/problems/unavailable", "DB_BUSY" },
	{ CB_ERR_TIMEOUT,	 504, "/problems/upstream-timeout", "TIMEOUT" },
};

START_TEST(test_mapping)
{
	int	 c = map_cases[_i].code;

	ck_assert_int_eq(errs_status(c), map_cases[_i].status);
	ck_assert_str_eq(errs_type(c), map_cases[_i].type);
	ck_assert_str_eq(errs_name(c), map_cases[_i].name);
}
END_TEST

START_TEST(test_mapping_covers_enum)
{
	int	 c;
	size_t	 i;

	/* A new code must get a row in map_cases too. */
	for (c = 0; c < CB_ERR__COUNT; c++) {
		for (i = 0; i < CU_NELEM(map_cases); i++)
			if (map_cases[i].code == c)
				break;
		ck_assert_msg(i < CU_NELEM(map_cases), "code %d (%s) has no mapping case",
		    c, errs_name(c));
	}
}
END_TEST

static const int unknown_codes[] = { -1, -1000, CB_ERR__COUNT, CB_ERR__COUNT + 1, 1 << 30 };

START_TEST(test_unknown_code)
{
	int	 c = unknown_codes[_i];

	ck_assert_int_eq(errs_status(c), 500);
	ck_assert_str_eq(errs_type(c), "/problems/internal");
	ck_assert_str_eq(errs_title(c), errs_title(CB_ERR_INTERNAL));
	ck_assert_ptr_nonnull(errs_name(c));
}
END_TEST

static const struct {
	int		 status;
	const char	*reason;
} reason_cases[] = {
	{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 409, "Conflict" },
	{ 413, "Content Too Large" }, { 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
	{ 500, "Internal Server Error" }, { 503, "Service Unavailable" },
	{ 0, "Unknown" }, { 299, "Unknown" }, { 999, "Unknown" }, { -1, "Unknown" },
};

START_TEST(test_reason)
{
	ck_assert_str_eq(errs_reason(reason_cases[_i].status), reason_cases[_i].reason);
}
END_TEST

static Suite *
errs_suite(void)
{
	Suite	*s = suite_create("errs");
	TCase	*tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_every_code_complete, CB_OK, CB_ERR__COUNT);
	tcase_add_test(tc, test_names_unique);
	tcase_add_test(tc, test_type_has_one_title);
	suite_add_tcase(s, tc);

	tc = tcase_create("mapping");
	tcase_add_loop_test(tc, test_mapping, 0, (int)CU_NELEM(map_cases));
	tcase_add_test(tc, test_mapping_covers_enum);
	tcase_add_loop_test(tc, test_unknown_code, 0, (int)CU_NELEM(unknown_codes));
	tcase_add_loop_test(tc, test_reason, 0, (int)CU_NELEM(reason_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(errs_suite());
}
