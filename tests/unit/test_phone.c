/*
 * test_phone: E.164 normalisation.  International numbers in their usual
 * spellings, national numbers with a default country code (the NANP's ten
 * digits, a trunk 0 elsewhere) give one spelling; everything phone.h
 * refuses is refused with nothing in the output.
 */
#include "../support/check_util.h"
#include "errs.h"
#include "phone.h"

static const struct {
	const char	*in, *cc, *want;
} good[] = {
	{ "+14155552671", NULL, "+14155552671" },
	{ "+1 (415) 555-2671", NULL, "+14155552671" },
	{ "  +44 20 7946 0958", NULL, "+442079460958" },
	{ "0044 20 7946 0958", NULL, "+442079460958" },
	{ "+49 30/1234-5678", "1", "+493012345678" },
	{ "(415) 555-2671", "1", "+14155552671" },
	{ "1-415-555-2671", "1", "+14155552671" },
	{ "415.555.2671", "1", "+14155552671" },
	{ "020 7946 0958", "44", "+442079460958" },
	{ "030 12345678", "49", "+493012345678" },
	{ "+123456789012345", NULL, "+123456789012345" },
};

START_TEST(test_normalised)
{
	char	 out[PHONE_E164_BUFSZ];

	ck_assert_int_eq(phone_e164(good[_i].in, good[_i].cc, out), CB_OK);
	ck_assert_str_eq(out, good[_i].want);
}
END_TEST

static const struct {
	const char	*in, *cc;
} bad[] = {
	{ "", "1" }, { NULL, "1" }, { "   ", "1" },
	{ "1-800-FLOWERS", "1" },		/* letters */
	{ "+1 415 555 2671 x12", NULL },	/* extension */
	{ "+1 415 555 2671;ext=12", NULL },
	{ "+0 415 555 2671", NULL },		/* country code 0 */
	{ "+1234567", NULL },			/* 7 digits */
	{ "+1234567890123456", NULL },		/* 16 digits */
	{ "4155552671", NULL },			/* national, no default */
	{ "4155552671", "0" },			/* bad default */
	{ "4155552671", "1234" },
	{ "4155552671", "1a" },
	{ "415555267", "1" },			/* NANP: nine digits */
	{ "24155552671", "1" },			/* eleven not starting with 1 */
	{ "0155552671", "1" },			/* area code starting 0 */
	{ "(415 555-2671", "1" },		/* unclosed */
	{ "(415) (555) 2671", "1" },		/* two pairs */
	{ "415) 555-2671", "1" },
	{ "+1 415 555 2671'", NULL },		/* quote */
	{ "+1\n4155552671", NULL },
	{ "++14155552671", NULL },
	{ "00", NULL },
	{ "0", "44" },
	{ "00 0 123 456 789", NULL },		/* 00 then 0 */
	{ "0000000000000000000000000000000000000000000000000000000000000000001", "1" },
};

START_TEST(test_refused)
{
	char	 out[PHONE_E164_BUFSZ] = "x";

	ck_assert_int_eq(phone_e164(bad[_i].in, bad[_i].cc, out), CB_ERR_VALIDATION);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Masked: the last four digits only; anything not E.164 shows nothing. */
START_TEST(test_masked)
{
	char	 out[PHONE_E164_BUFSZ];

	phone_mask("+14155552671", out);
	ck_assert_str_eq(out, "+*******2671");
	phone_mask("+442079460958", out);
	ck_assert_str_eq(out, "+********0958");
	phone_mask("+123456789012345", out);
	ck_assert_str_eq(out, "+***********2345");
	phone_mask("14155552671", out);
	ck_assert_str_eq(out, "");
	phone_mask("+1234567890123456", out);
	ck_assert_str_eq(out, "");
	phone_mask(NULL, out);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *
phone_suite(void)
{
	Suite	*s = suite_create("phone");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_normalised, 0, (int)CU_NELEM(good));
	tcase_add_loop_test(tc, test_refused, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_masked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(phone_suite());
}
