/*
 * test_formenc: the strict form-encoded reader.  Slack's interactivity
 * body (payload=<percent-encoded JSON>) decodes to the JSON it carries;
 * '+' and %XX decode; every refusal of formenc.h is met with the field and
 * the reason, and after a failure every slot is NULL (nothing half-read
 * is left to use).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "formenc.h"

struct args {
	char	*payload;
	char	*note;
};

static const struct fe_field fields[] = {
	{ "payload", FORMENC_REQUIRED, 64, offsetof(struct args, payload) },
	{ "note", 0, 8, offsetof(struct args, note) },
};

static int
parse(const char *body, struct args *a, struct fe_error *e)
{
	char	*arena = NULL;
	int	 rc;

	rc = formenc_parse(body, strlen(body), fields, CU_NELEM(fields), a, &arena, e);
	/* The test keeps the values: copy them out, free the arena. */
	if (a->payload)
		a->payload = strdup(a->payload);
	if (a->note)
		a->note = strdup(a->note);
	free(arena);
	return rc;
}

static void
args_free(struct args *a)
{
	free(a->payload);
	free(a->note);
}

START_TEST(test_slack_payload)
{
	struct args	 a;
	struct fe_error	 e;

	ck_assert_int_eq(parse("payload=%7B%22type%22%3A%22block_actions%22%2C%22x%22%3A1%7D",
	    &a, &e), CB_OK);
	ck_assert_str_eq(a.payload, "{\"type\":\"block_actions\",\"x\":1}");
	ck_assert_ptr_null(a.note);
	args_free(&a);
}
END_TEST

START_TEST(test_plus_percent_and_order)
{
	struct args	 a;
	struct fe_error	 e;

	ck_assert_int_eq(parse("note=a+b%2Bc&payload=caf%C3%A9+%25", &a, &e), CB_OK);
	ck_assert_str_eq(a.note, "a b+c");
	ck_assert_str_eq(a.payload, "caf\xc3\xa9 %");
	args_free(&a);
	/* An empty value is a value. */
	ck_assert_int_eq(parse("payload=", &a, &e), CB_OK);
	ck_assert_str_eq(a.payload, "");
	args_free(&a);
	/* Percent-encoded names are names. */
	ck_assert_int_eq(parse("p%61yload=x", &a, &e), CB_OK);
	ck_assert_str_eq(a.payload, "x");
	args_free(&a);
}
END_TEST

static const struct {
	const char	*body;
	const char	*field;
	const char	*reason;
} bad[] = {
	{ "", "payload", "required" },
	{ "note=x", "payload", "required" },
	{ "payload=1&", "", "an empty pair ('&&', or '&' at an end)" },
	{ "&payload=1", "", "an empty pair ('&&', or '&' at an end)" },
	{ "payload=1&&note=2", "", "an empty pair ('&&', or '&' at an end)" },
	{ "payload", "payload", "a pair without '='" },
	{ "=1", "", "a pair without a name" },
	{ "payload=1&payload=2", "payload", "given more than once" },
	{ "payload=1&pay%6Coad=2", "payload", "given more than once" },
	{ "payload=1&other=2", "other", "unknown field" },
	{ "payload=%", "payload", "a '%' must be followed by two hex digits" },
	{ "payload=%4", "payload", "a '%' must be followed by two hex digits" },
	{ "payload=%G1", "payload", "a '%' must be followed by two hex digits" },
	{ "payload=a%00b", "payload", "a NUL byte is not accepted" },
	{ "payload=%C3", "payload", "not valid UTF-8" },
	{ "payload=%C0%AF", "payload", "not valid UTF-8" },
	{ "payload=%ED%A0%80", "payload", "not valid UTF-8" },
	{ "payload=%F4%90%80%80", "payload", "not valid UTF-8" },
	{ "payload=%FF", "payload", "not valid UTF-8" },
	{ "payload=1&note=123456789", "note", "too long" },
	{ "payload=1&note=%31%32%33%34%35%36%37%38%39", "note", "too long" },
};

START_TEST(test_refusals)
{
	struct args	 a;
	struct fe_error	 e;

	ck_assert_int_eq(parse(bad[_i].body, &a, &e), CB_ERR_VALIDATION);
	ck_assert_ptr_null(a.payload);
	ck_assert_ptr_null(a.note);
	ck_assert_str_eq(e.field, bad[_i].field);
	ck_assert_str_eq(e.reason, bad[_i].reason);
	args_free(&a);
}
END_TEST

/* Exactly at the cap is accepted (decoded bytes count, not encoded ones). */
START_TEST(test_cap_counts_decoded_bytes)
{
	struct args	 a;
	struct fe_error	 e;

	ck_assert_int_eq(parse("payload=1&note=%31%32%33%34%35%36%37%38", &a, &e), CB_OK);
	ck_assert_str_eq(a.note, "12345678");
	args_free(&a);
}
END_TEST

/* A body with an embedded NUL byte (length given, not strlen). */
START_TEST(test_raw_nul)
{
	static const char	 body[] = "payload=a\0b";
	struct args		 a;
	struct fe_error		 e;
	char			*arena = NULL;

	ck_assert_int_eq(formenc_parse(body, sizeof(body) - 1, fields, CU_NELEM(fields), &a,
	    &arena, &e), CB_ERR_VALIDATION);
	ck_assert_str_eq(e.reason, "a NUL byte is not accepted");
	free(arena);
}
END_TEST

static Suite *
formenc_suite(void)
{
	Suite	*s = suite_create("formenc");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_slack_payload);
	tcase_add_test(tc, test_plus_percent_and_order);
	tcase_add_loop_test(tc, test_refusals, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_cap_counts_decoded_bytes);
	tcase_add_test(tc, test_raw_nul);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(formenc_suite());
}
