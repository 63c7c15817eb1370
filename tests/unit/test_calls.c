/*
 * test_calls: the pure half of lib/calls.  The call event's field table
 * accepts the documented shapes and refuses each bad one naming the field
 * (times that are not RFC 3339, correlation ids outside their alphabet,
 * unknown event types, fractions, unknown members); phones normalise with
 * the source's country code and are refused without one; the Salesforce
 * field map holds exactly the present fields with E.164 phones; the
 * country-code rule and the SHA-256 of the raw bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "calls.h"
#include "errs.h"
#include "jsonv.h"

/* Validate a body into e (the tree into *tree, freed by the caller). */
static int
check_body(const char *body, struct calls_event *e, cJSON **tree, struct jv_error *err)
{
	int	 rc;

	memset(e, 0, sizeof(*e));
	*tree = NULL;
	if ((rc = jv_parse(body, strlen(body), tree, err)) != CB_OK)
		return rc;
	return jv_validate(*tree, calls_event_fields, CALLS_EVENT_NFIELDS, e, err);
}

static const char *const good[] = {
	"{\"correlation_id\":\"run-1\",\"event_type\":\"call_started\"}",
	"{\"correlation_id\":\"Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6\",\"event_type\":\"call_ended\","
	"\"from\":\"+14155552671\",\"to\":null,\"started_at\":\"2025-10-18T14:03:07Z\","
	"\"ended_at\":\"2025-10-18T14:04:08.123+02:00\",\"duration_s\":61,"
	"\"disposition\":\"resolved\",\"transcript_ref\":\"s3://t/1\"}",
	"{\"correlation_id\":\"a.b_c-d\",\"event_type\":\"transfer_initiated\","
	"\"started_at\":\"2025-10-18t14:03:07z\"}",
	"{\"correlation_id\":\"x\",\"event_type\":\"disposition_set\",\"duration_s\":0}",
	"{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"duration_s\":86400,"
	"\"ended_at\":\"2025-12-31T23:59:60-11:30\"}",
};

START_TEST(test_schema_accepts)
{
	struct calls_event	 e;
	struct jv_error		 err;
	cJSON			*t;

	ck_assert_msg(check_body(good[_i], &e, &t, &err) == CB_OK, "case %d: %s: %s", _i,
	    err.field, err.reason);
	ck_assert_ptr_nonnull(e.correlation_id);
	ck_assert_ptr_nonnull(e.event_type);
	cJSON_Delete(t);
}
END_TEST

static const struct {
	const char	*body;
	int		 rc;
	const char	*field;
} bad[] = {
	{ "{\"event_type\":\"call_started\"}", CB_ERR_VALIDATION, "correlation_id" },
	{ "{\"correlation_id\":\"x\"}", CB_ERR_VALIDATION, "event_type" },
	{ "{\"correlation_id\":\"\",\"event_type\":\"timeout\"}", CB_ERR_VALIDATION,
	  "correlation_id" },
	{ "{\"correlation_id\":\"a:b\",\"event_type\":\"timeout\"}", CB_ERR_VALIDATION,
	  "correlation_id" },
	{ "{\"correlation_id\":\"a/b\",\"event_type\":\"timeout\"}", CB_ERR_VALIDATION,
	  "correlation_id" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"call_analyzed\"}", CB_ERR_VALIDATION,
	  "event_type" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"Call_Started\"}", CB_ERR_VALIDATION,
	  "event_type" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"extra\":1}", CB_ERR_VALIDATION,
	  "extra" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"duration_s\":1.5}",
	  CB_ERR_VALIDATION, "duration_s" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"duration_s\":86401}",
	  CB_ERR_VALIDATION, "duration_s" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"duration_s\":\"5\"}",
	  CB_ERR_VALIDATION, "duration_s" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"from\":4155552671}",
	  CB_ERR_VALIDATION, "from" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"started_at\":"
	  "\"2025-10-18T14:03:07\"}", CB_ERR_VALIDATION, "started_at" },	/* no offset */
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"started_at\":"
	  "\"2025-10-18 14:03:07Z\"}", CB_ERR_VALIDATION, "started_at" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"started_at\":"
	  "\"2025-02-30T24:00:00Z\"}", CB_ERR_VALIDATION, "started_at" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"ended_at\":"
	  "\"2025-10-18T14:03:07.Z\"}", CB_ERR_VALIDATION, "ended_at" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"ended_at\":"
	  "\"2025-10-18T14:03:07+0200\"}", CB_ERR_VALIDATION, "ended_at" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"ended_at\":"
	  "\"1760796187\"}", CB_ERR_VALIDATION, "ended_at" },
	{ "{\"correlation_id\":\"x\",\"event_type\":\"timeout\",\"disposition\":\"\"}",
	  CB_ERR_VALIDATION, "disposition" },
	{ "{\"correlation_id\":\"x\",\"correlation_id\":\"y\",\"event_type\":\"timeout\"}",
	  CB_ERR_VALIDATION, "correlation_id" },
};

START_TEST(test_schema_refuses)
{
	struct calls_event	 e;
	struct jv_error		 err;
	cJSON			*t;
	int			 rc;

	memset(&err, 0, sizeof(err));
	rc = check_body(bad[_i].body, &e, &t, &err);
	ck_assert_msg(rc == bad[_i].rc, "case %d: %s", _i, errs_name(rc));
	ck_assert_msg(strcmp(err.field, bad[_i].field) == 0, "case %d: field %s, want %s", _i,
	    err.field, bad[_i].field);
	ck_assert(err.reason[0] != '\0');
	cJSON_Delete(t);
}
END_TEST

START_TEST(test_phones)
{
	struct calls_event	 e;
	const char		*field, *why;

	memset(&e, 0, sizeof(e));
	e.from = "(415) 555-2671";
	e.to = "+44 20 7946 0958";
	ck_assert_int_eq(calls_event_normalise(&e, "1", &field, &why), CB_OK);
	ck_assert_str_eq(e.from_e164, "+14155552671");
	ck_assert_str_eq(e.to_e164, "+442079460958");
	/* A national number without the source's country code. */
	ck_assert_int_eq(calls_event_normalise(&e, "", &field, &why), CB_ERR_VALIDATION);
	ck_assert_str_eq(field, "from");
	ck_assert_ptr_nonnull(strstr(why, "country code"));
	e.from = "+14155552671";
	e.to = "1-800-FLOWERS";
	ck_assert_int_eq(calls_event_normalise(&e, "1", &field, &why), CB_ERR_VALIDATION);
	ck_assert_str_eq(field, "to");
	/* Absent phones are fine. */
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(calls_event_normalise(&e, NULL, &field, &why), CB_OK);
}
END_TEST

START_TEST(test_sf_fields)
{
	struct calls_event	 e;
	const char		*field, *why;
	char			*text;
	cJSON			*j;

	memset(&e, 0, sizeof(e));
	e.correlation_id = "run-9";
	e.event_type = "call_ended";
	e.from = "020 7946 0958";
	e.ended_at = "2025-10-18T14:04:08Z";
	e.duration_s = 0;
	e.disposition = "resolved";
	ck_assert_int_eq(calls_event_normalise(&e, "44", &field, &why), CB_OK);
	text = calls_event_sf_fields(&e, "ab12");
	j = cJSON_Parse(text);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Call_Event_Key__c")->valuestring,
	    "run-9:call_ended");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Correlation_Id__c")->valuestring, "run-9");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Event_Type__c")->valuestring, "call_ended");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Payload_SHA256__c")->valuestring, "ab12");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Caller_Phone__c")->valuestring, "+442079460958");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Ended_At__c")->valuestring,
	    "2025-10-18T14:04:08Z");
	ck_assert_int_eq((int)cJSON_GetObjectItem(j, "Duration_S__c")->valuedouble, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "Disposition__c")->valuestring, "resolved");
	/* Absent fields are left out; a duration of -1 means none. */
	ck_assert_int_eq(cJSON_GetArraySize(j), 8);
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "Called_Phone__c"));
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "Started_At__c"));
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "Transcript_Ref__c"));
	cJSON_Delete(j);
	free(text);
	e.duration_s = -1;
	text = calls_event_sf_fields(&e, "ab12");
	ck_assert_ptr_null(strstr(text, "Duration_S__c"));
	free(text);
}
END_TEST

START_TEST(test_cc_and_sha)
{
	char	 h[CALLS_SHA_HEX];

	ck_assert(calls_cc_ok("1"));
	ck_assert(calls_cc_ok("44"));
	ck_assert(calls_cc_ok("358"));
	ck_assert(!calls_cc_ok(""));
	ck_assert(!calls_cc_ok(NULL));
	ck_assert(!calls_cc_ok("0"));
	ck_assert(!calls_cc_ok("1234"));
	ck_assert(!calls_cc_ok("+1"));
	ck_assert(!calls_cc_ok("4a"));
	calls_sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	calls_sha256_hex("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

static Suite *
calls_suite(void)
{
	Suite	*s = suite_create("calls");
	TCase	*tc = tcase_create("schema");

	tcase_add_loop_test(tc, test_schema_accepts, 0, (int)CU_NELEM(good));
	tcase_add_loop_test(tc, test_schema_refuses, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_phones);
	tcase_add_test(tc, test_sf_fields);
	tcase_add_test(tc, test_cc_and_sha);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(calls_suite());
}
