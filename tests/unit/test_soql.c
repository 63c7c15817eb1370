/*
 * test_soql: values as SOQL string literals.  Quotes, backslashes and the
 * five named control characters are escaped; an injection attempt stays
 * inside its literal; LIKE metacharacters are escaped only when asked;
 * other control characters, invalid UTF-8 and over-long values are refused
 * and append nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "buf.h"
#include "errs.h"
#include "soql.h"

static const struct {
	const char	*in;
	unsigned	 flags;
	const char	*want;
} good[] = {
	{ "+14155552671", 0, "'+14155552671'" },
	{ "", 0, "''" },
	{ "O'Brien", 0, "'O\\'Brien'" },
	{ "' OR Phone != '", 0, "'\\' OR Phone != \\''" },
	{ "a\\b", 0, "'a\\\\b'" },
	{ "say \"hi\"", 0, "'say \\\"hi\\\"'" },
	{ "l1\nl2\rl3\tx\by\fz", 0, "'l1\\nl2\\rl3\\tx\\by\\fz'" },
	{ "50%_off", 0, "'50%_off'" },
	{ "50%_off", SOQL_LIKE, "'50\\%\\_off'" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e", 0, "'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e'" },
};

START_TEST(test_quoted)
{
	struct buf	 b;

	buf_init(&b, 65536);
	buf_puts(&b, "WHERE Phone = ");
	ck_assert_int_eq(soql_quote(&b, good[_i].in, good[_i].flags), CB_OK);
	ck_assert_str_eq(buf_cstr(&b) + strlen("WHERE Phone = "), good[_i].want);
	buf_free(&b);
}
END_TEST

static const char *const bad[] = {
	"a\x01" "b", "a\x1b[0m", "del\x7f", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xff", "ok\x80",
};

START_TEST(test_refused)
{
	struct buf	 b;

	buf_init(&b, 65536);
	buf_puts(&b, "WHERE Phone = ");
	ck_assert_int_eq(soql_quote(&b, bad[_i], 0), CB_ERR_VALIDATION);
	ck_assert_str_eq(buf_cstr(&b), "WHERE Phone = ");
	buf_free(&b);
}
END_TEST

START_TEST(test_limits)
{
	struct buf	 b, small;
	char		*v = malloc(SOQL_VALUE_MAX + 2);

	ck_assert_ptr_nonnull(v);
	memset(v, '7', SOQL_VALUE_MAX + 1);
	v[SOQL_VALUE_MAX + 1] = '\0';
	buf_init(&b, 65536);
	ck_assert_int_eq(soql_quote(&b, v, 0), CB_ERR_VALIDATION);
	ck_assert_int_eq(soql_quote(&b, NULL, 0), CB_ERR_VALIDATION);
	ck_assert_uint_eq(b.len, 0);
	v[SOQL_VALUE_MAX] = '\0';
	ck_assert_int_eq(soql_quote(&b, v, 0), CB_OK);
	ck_assert_uint_eq(b.len, SOQL_VALUE_MAX + 2);
	/* A destination too small for it: refused, not cut. */
	buf_init(&small, 8);
	ck_assert_int_ne(soql_quote(&small, "0123456789", 0), CB_OK);
	ck_assert_uint_eq(small.len, 0);
	buf_free(&small);
	buf_free(&b);
	free(v);
}
END_TEST

static Suite *
soql_suite(void)
{
	Suite	*s = suite_create("soql");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_quoted, 0, (int)CU_NELEM(good));
	tcase_add_loop_test(tc, test_refused, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(soql_suite());
}
