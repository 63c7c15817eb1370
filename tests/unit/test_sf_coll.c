/*
 * test_sf_coll: the sObject Collections upsert body and its answer.  A
 * record carries attributes.type first and its external id in the body;
 * an Id or a second copy of the external id in the map is dropped; bad
 * names and non-object maps are refused with nothing appended; the answer
 * must be one result per record or the whole call is retried; per-record
 * statusCodes sort into retry (lock contention, races) and permanent.
 */
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "sf_coll.h"

START_TEST(test_body_two_records)
{
	struct buf	 b;

	buf_init(&b, 65536);
	ck_assert_int_eq(sf_coll_begin(&b), CB_OK);
	ck_assert_int_eq(sf_coll_add(&b, "Form_Submission__c", "Ext__c", "a-1",
	    "{\"Name__c\":\"Jane\",\"Id\":\"001xx\",\"Ext__c\":\"forged\"}"), CB_OK);
	ck_assert_int_eq(sf_coll_add(&b, "Form_Submission__c", "Ext__c", "a-2", "{}"), CB_OK);
	ck_assert_int_eq(sf_coll_end(&b), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "{\"allOrNone\":false,\"records\":["
	    "{\"attributes\":{\"type\":\"Form_Submission__c\"},\"Name__c\":\"Jane\",\"Ext__c\":\"a-1\"},"
	    "{\"attributes\":{\"type\":\"Form_Submission__c\"},\"Ext__c\":\"a-2\"}]}");
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*sobject, *ext_field, *ext_value, *fields;
} bad_records[] = {
	{ "Bad Name", "Ext__c", "v", "{}" },
	{ "Obj__c", "1ext", "v", "{}" },
	{ "Obj__c", "Ext__c", "", "{}" },
	{ "Obj__c", "Ext__c", "v", "[]" },
	{ "Obj__c", "Ext__c", "v", "\"text\"" },
	{ "Obj__c", "Ext__c", "v", "{\"a\":" },
};

START_TEST(test_bad_record_appends_nothing)
{
	struct buf	 b;

	buf_init(&b, 4096);
	ck_assert_int_eq(sf_coll_begin(&b), CB_OK);
	ck_assert_int_eq(sf_coll_add(&b, bad_records[_i].sobject, bad_records[_i].ext_field,
	    bad_records[_i].ext_value, bad_records[_i].fields), CB_ERR_VALIDATION);
	ck_assert_str_eq(buf_cstr(&b), "{\"allOrNone\":false,\"records\":[");
	buf_free(&b);
}
END_TEST

START_TEST(test_results_in_order)
{
	const char *ans = "[{\"id\":\"a0Bxx0000000001AAA\",\"success\":true,\"errors\":[],\"created\":true},"
	    "{\"id\":\"a0Bxx0000000002AAA\",\"success\":true,\"errors\":[],\"created\":false},"
	    "{\"success\":false,\"errors\":[{\"statusCode\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\","
	    "\"message\":\"Email is required\",\"fields\":[\"Email__c\"]}]},"
	    "{\"success\":false,\"errors\":[{\"statusCode\":\"UNABLE_TO_LOCK_ROW\",\"message\":\"x\"}]}]";
	struct sf_result r[4];

	ck_assert_int_eq(sf_coll_results(ans, strlen(ans), r, 4), CB_OK);
	ck_assert_int_eq(r[0].kind, SF_CREATED);
	ck_assert_str_eq(r[0].id, "a0Bxx0000000001AAA");
	ck_assert_int_eq(r[1].kind, SF_UPDATED);
	ck_assert_int_eq(r[2].kind, SF_PERMANENT);
	ck_assert_str_eq(r[2].error_code, "FIELD_CUSTOM_VALIDATION_EXCEPTION");
	ck_assert_str_eq(r[2].message, "Email is required");
	ck_assert_int_eq(r[3].kind, SF_RETRY);
	ck_assert_str_eq(r[3].error_code, "UNABLE_TO_LOCK_ROW");
}
END_TEST

static const char *const bad_answers[] = {
	"",
	"{}",
	"[]",
	"[{\"success\":true}]",		/* one result for two records */
	"[{\"success\":true},{\"ok\":true}]",
	"[{\"success\":true},7]",
	"not json",
};

START_TEST(test_answer_not_one_per_record_is_refused)
{
	struct sf_result r[2];

	memset(r, 0x5a, sizeof(r));
	ck_assert_int_eq(sf_coll_results(bad_answers[_i], strlen(bad_answers[_i]), r, 2),
	    CB_ERR_UPSTREAM);
	/* Untouched: the caller retries every row of the call. */
	ck_assert_int_eq(((unsigned char *)r)[0], 0x5a);
}
END_TEST

static const struct {
	long		 status;
	const char	*body;
	int		 kind;
	const char	*code;
} calls[] = {
	{ 503, "", SF_RETRY, "HTTP_503" },
	{ 500, "[{\"message\":\"boom\",\"errorCode\":\"UNKNOWN_EXCEPTION\"}]", SF_RETRY, "UNKNOWN_EXCEPTION" },
	{ 429, "", SF_RETRY, "HTTP_429" },
	{ 401, "[{\"message\":\"Session expired\",\"errorCode\":\"INVALID_SESSION_ID\"}]", SF_RETRY,
	  "INVALID_SESSION_ID" },
	{ 403, "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]",
	  SF_RETRY, "REQUEST_LIMIT_EXCEEDED" },
	{ 403, "[{\"message\":\"no\",\"errorCode\":\"INSUFFICIENT_ACCESS\"}]", SF_PERMANENT,
	  "INSUFFICIENT_ACCESS" },
	{ 400, "[{\"message\":\"too many\",\"errorCode\":\"EXCEEDED_ID_LIMIT\"}]", SF_PERMANENT,
	  "EXCEEDED_ID_LIMIT" },
	{ 404, "garbage", SF_PERMANENT, "HTTP_404" },
	{ 302, "", SF_PERMANENT, "HTTP_302" },
};

START_TEST(test_call_errors_classified)
{
	struct sf_result r;

	sf_coll_call_error(calls[_i].status, calls[_i].body, strlen(calls[_i].body), &r);
	ck_assert_int_eq(r.kind, calls[_i].kind);
	ck_assert_str_eq(r.error_code, calls[_i].code);
	ck_assert_int_eq(r.http_status, calls[_i].status);
}
END_TEST

START_TEST(test_transient_record_codes)
{
	ck_assert_int_eq(sf_coll_error_kind("UNABLE_TO_LOCK_ROW"), SF_RETRY);
	ck_assert_int_eq(sf_coll_error_kind("DUPLICATE_VALUE"), SF_RETRY);
	ck_assert_int_eq(sf_coll_error_kind("REQUIRED_FIELD_MISSING"), SF_PERMANENT);
	ck_assert_int_eq(sf_coll_error_kind(NULL), SF_PERMANENT);
}
END_TEST

static Suite *
sf_coll_suite(void)
{
	Suite	*s = suite_create("sf_coll");
	TCase	*tc = tcase_create("collections");

	tcase_add_test(tc, test_body_two_records);
	tcase_add_loop_test(tc, test_bad_record_appends_nothing, 0, (int)CU_NELEM(bad_records));
	tcase_add_test(tc, test_results_in_order);
	tcase_add_loop_test(tc, test_answer_not_one_per_record_is_refused, 0,
	    (int)CU_NELEM(bad_answers));
	tcase_add_loop_test(tc, test_call_errors_classified, 0, (int)CU_NELEM(calls));
	tcase_add_test(tc, test_transient_record_codes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(sf_coll_suite());
}
