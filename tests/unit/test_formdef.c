/*
 * test_formdef: the one validator of form definitions (formdef_check, what
 * publishing and `cb-admin form-validate` run), each rule with the JSON
 * pointer of its error; the class of a field (and the deprecated pii
 * flag's reading); what a log line may show of a value, by class.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "formdef.h"

/* A field that passes: each case changes one thing. */
#define OK_F	"{\"name\":\"a\",\"type\":\"string\",\"class\":\"public\"}"
#define DOC(f)	"{\"title\":\"T\",\"fields\":[" OK_F "," f "]}"

static const struct {
	const char	*what;
	const char	*doc;
	const char	*pointer;	/* NULL: valid */
	const char	*reason;	/* a part of the reason */
} cases[] = {
	{ "every member", DOC("{\"name\":\"b\",\"label\":\"B\",\"type\":\"enum\","
	  "\"class\":\"restricted\",\"required\":true,\"options\":[\"x\",\"y\"],"
	  "\"sf_field\":\"B__c\",\"pii\":true}"), NULL, NULL },
	{ "numbers", DOC("{\"name\":\"n\",\"type\":\"number\",\"class\":\"internal\","
	  "\"min\":-1.5,\"max\":9}"), NULL, NULL },
	{ "lengths", DOC("{\"name\":\"s\",\"type\":\"email\",\"class\":\"confidential\","
	  "\"min_length\":3,\"max_length\":254}"), NULL, NULL },
	{ "no title", "{\"fields\":[" OK_F "]}", NULL, NULL },
	{ "not JSON", "{\"fields\":", "", "not valid JSON" },
	{ "not an object", "[1]", "", "must be a JSON object" },
	{ "no fields", "{\"title\":\"T\"}", "/fields", "is required" },
	{ "empty fields", "{\"fields\":[]}", "/fields", "between 1 and 200" },
	{ "fields not an array", "{\"fields\":{}}", "/fields", "must be an array" },
	{ "unknown top member", "{\"fields\":[" OK_F "],\"steps\":1}", "/steps", "unknown" },
	{ "title not a string", "{\"title\":3,\"fields\":[" OK_F "]}", "/title", "string" },
	{ "field not an object", DOC("7"), "/fields/1", "must be an object" },
	{ "no class", DOC("{\"name\":\"b\",\"type\":\"string\"}"), "/fields/1/class",
	  "is required" },
	{ "unknown class", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"secret\"}"),
	  "/fields/1/class", "must be one of public, internal, confidential, restricted" },
	{ "class not a string", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":1}"),
	  "/fields/1/class", "string" },
	{ "no name", DOC("{\"type\":\"string\",\"class\":\"public\"}"), "/fields/1/name",
	  "is required" },
	{ "bad name", DOC("{\"name\":\"Bad\",\"type\":\"string\",\"class\":\"public\"}"),
	  "/fields/1/name", "A-Za-z0-9_" },
	{ "duplicate name", DOC("{\"name\":\"a\",\"type\":\"string\",\"class\":\"public\"}"),
	  "/fields/1/name", "duplicate field name" },
	{ "no type", DOC("{\"name\":\"b\",\"class\":\"public\"}"), "/fields/1/type",
	  "is required" },
	{ "unknown type", DOC("{\"name\":\"b\",\"type\":\"date\",\"class\":\"public\"}"),
	  "/fields/1/type", "must be one of string" },
	{ "unknown member", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"placeholder\":\"x\"}"), "/fields/1/placeholder", "unknown" },
	{ "member name escaped", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"a/b~c\":1}"), "/fields/1/a~1b~0c", "unknown member" },
	{ "member twice", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"class\":\"restricted\"}"), "/fields/1/class", "given twice" },
	{ "required not a boolean", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"required\":\"yes\"}"), "/fields/1/required", "true or false" },
	{ "negative max_length", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"max_length\":-1}"), "/fields/1/max_length", "between 0 and 65536" },
	{ "fractional min_length", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"min_length\":1.5}"), "/fields/1/min_length", "integer" },
	{ "min not a number", DOC("{\"name\":\"b\",\"type\":\"number\",\"class\":\"public\","
	  "\"min\":\"0\"}"), "/fields/1/min", "number" },
	{ "enum without options", DOC("{\"name\":\"b\",\"type\":\"enum\",\"class\":\"public\"}"),
	  "/fields/1/options", "is required for type enum" },
	{ "options on a string", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"options\":[\"x\"]}"), "/fields/1/options", "only a field of type enum" },
	{ "empty options", DOC("{\"name\":\"b\",\"type\":\"enum\",\"class\":\"public\","
	  "\"options\":[]}"), "/fields/1/options", "between 1 and 100" },
	{ "option not a string", DOC("{\"name\":\"b\",\"type\":\"enum\",\"class\":\"public\","
	  "\"options\":[\"x\",2]}"), "/fields/1/options", "each option" },
	{ "options repeated", DOC("{\"name\":\"b\",\"type\":\"enum\",\"class\":\"public\","
	  "\"options\":[\"x\",\"x\"]}"), "/fields/1/options", "unique" },
	{ "bad sf_field", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"public\","
	  "\"sf_field\":\"1x\"}"), "/fields/1/sf_field", "API name" },
	{ "pii on an internal field", DOC("{\"name\":\"b\",\"type\":\"string\","
	  "\"class\":\"internal\",\"pii\":true}"), "/fields/1/pii",
	  "needs class confidential or restricted" },
	{ "pii false on a public field", DOC("{\"name\":\"b\",\"type\":\"string\","
	  "\"class\":\"public\",\"pii\":false}"), NULL, NULL },
	{ "pii not a boolean", DOC("{\"name\":\"b\",\"type\":\"string\",\"class\":\"restricted\","
	  "\"pii\":1}"), "/fields/1/pii", "true or false" },
	{ "first error wins", "{\"fields\":[{\"name\":\"a\",\"type\":\"string\"},"
	  "{\"name\":\"b\",\"type\":\"x\"}]}", "/fields/0/class", "is required" },
};

START_TEST(test_check)
{
	struct jv_error	 e;
	int		 rc;

	memset(&e, 0, sizeof(e));
	rc = formdef_check_text(cases[_i].doc, strlen(cases[_i].doc), &e);
	if (cases[_i].pointer == NULL) {
		ck_assert_msg(rc == CB_OK, "%s: refused at %s: %s", cases[_i].what, e.field, e.reason);
		return;
	}
	ck_assert_msg(rc == CB_ERR_VALIDATION, "%s: accepted", cases[_i].what);
	ck_assert_msg(strcmp(e.field, cases[_i].pointer) == 0, "%s: pointer %s, not %s",
	    cases[_i].what, e.field, cases[_i].pointer);
	ck_assert_msg(strstr(e.reason, cases[_i].reason) != NULL, "%s: reason '%s' lacks '%s'",
	    cases[_i].what, e.reason, cases[_i].reason);
}
END_TEST

/* More than FORMDEF_MAX_FIELDS fields: the array's bound, at /fields. */
START_TEST(test_too_many_fields)
{
	char		*doc = malloc(64 * (FORMDEF_MAX_FIELDS + 2));
	size_t		 off;
	int		 i;
	struct jv_error	 e;

	ck_assert_ptr_nonnull(doc);
	off = (size_t)snprintf(doc, 16, "{\"fields\":[");
	for (i = 0; i <= FORMDEF_MAX_FIELDS; i++)
		off += (size_t)snprintf(doc + off, 64, "%s{\"name\":\"f%d\",\"type\":\"string\","
		    "\"class\":\"public\"}", i ? "," : "", i);
	snprintf(doc + off, 8, "]}");
	ck_assert_int_eq(formdef_check_text(doc, strlen(doc), &e), CB_ERR_VALIDATION);
	ck_assert_str_eq(e.field, "/fields");
	free(doc);
}
END_TEST

/* The message a person reads names the field as well as the pointer. */
START_TEST(test_error_text)
{
	const char	*doc = DOC("{\"name\":\"email\",\"type\":\"email\"}");
	struct jv_error	 e;
	char		 out[400];

	ck_assert_int_eq(formdef_check_text(doc, strlen(doc), &e), CB_ERR_VALIDATION);
	formdef_error_text(doc, &e, out, sizeof(out));
	ck_assert_str_eq(out, "/fields/1/class (field \"email\"): is required");
	ck_assert_int_eq(formdef_check_text("[", 1, &e), CB_ERR_VALIDATION);
	formdef_error_text("[", &e, out, sizeof(out));
	ck_assert_msg(strncmp(out, "not valid JSON", 14) == 0, "%s", out);
}
END_TEST

/* class decides; a definition published before classes reads pii; unknown: restricted. */
START_TEST(test_field_class)
{
	cJSON	*d = cJSON_Parse("{\"fields\":["
	    "{\"name\":\"p\",\"type\":\"string\",\"class\":\"public\"},"
	    "{\"name\":\"r\",\"type\":\"string\",\"class\":\"restricted\"},"
	    "{\"name\":\"old_pii\",\"type\":\"string\",\"pii\":true},"
	    "{\"name\":\"old\",\"type\":\"string\"}]}");

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(formdef_field_class(d, "p"), FORMDEF_PUBLIC);
	ck_assert_int_eq(formdef_field_class(d, "r"), FORMDEF_RESTRICTED);
	ck_assert_int_eq(formdef_field_class(d, "old_pii"), FORMDEF_CONFIDENTIAL);
	ck_assert_int_eq(formdef_field_class(d, "old"), FORMDEF_INTERNAL);
	ck_assert_int_eq(formdef_field_class(d, "nope"), FORMDEF_RESTRICTED);
	ck_assert_int_eq(formdef_is_pii(d, "old_pii"), 1);
	ck_assert_int_eq(formdef_is_pii(d, "r"), 1);
	ck_assert_int_eq(formdef_is_pii(d, "old"), 0);
	ck_assert_str_eq(formdef_class_name(FORMDEF_CONFIDENTIAL), "confidential");
	cJSON_Delete(d);
}
END_TEST

/* A log line sees public and internal values, confidential masked, restricted never. */
static const struct {
	const char	*field;
	const char	*value;		/* JSON */
	const char	*logged;
} log_cases[] = {
	{ "topic", "\"sales\"", "sales" },
	{ "count", "42", "42" },
	{ "email", "\"jane.doe@example.com\"", "j***@example.com" },
	{ "full_name", "\"Jane Doe\"", "J***" },
	{ "age", "51", "***" },
	{ "ssn", "\"078-05-1120\"", "[restricted]" },
	{ "ssn", "12", "[restricted]" },
	{ "unknown", "\"anything\"", "[restricted]" },
};

START_TEST(test_log_value)
{
	cJSON	*d = cJSON_Parse("{\"fields\":["
	    "{\"name\":\"topic\",\"type\":\"string\",\"class\":\"public\"},"
	    "{\"name\":\"count\",\"type\":\"integer\",\"class\":\"internal\"},"
	    "{\"name\":\"email\",\"type\":\"email\",\"class\":\"confidential\"},"
	    "{\"name\":\"full_name\",\"type\":\"string\",\"class\":\"confidential\"},"
	    "{\"name\":\"age\",\"type\":\"integer\",\"class\":\"confidential\"},"
	    "{\"name\":\"ssn\",\"type\":\"string\",\"class\":\"restricted\"}]}");
	cJSON	*v = cJSON_Parse(log_cases[_i].value);
	char	 out[64];

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(v);
	formdef_log_value(d, log_cases[_i].field, v, out, sizeof(out));
	ck_assert_str_eq(out, log_cases[_i].logged);
	cJSON_Delete(v);
	cJSON_Delete(d);
}
END_TEST

static Suite *
formdef_suite(void)
{
	Suite	*s = suite_create("formdef");
	TCase	*tc = tcase_create("check");

	tcase_add_loop_test(tc, test_check, 0, (int)CU_NELEM(cases));
	tcase_add_test(tc, test_too_many_fields);
	tcase_add_test(tc, test_error_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("class");
	tcase_add_test(tc, test_field_class);
	tcase_add_loop_test(tc, test_log_value, 0, (int)CU_NELEM(log_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(formdef_suite());
}
