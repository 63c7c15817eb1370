/*
 * test_util: strict number parsing (the whole string, decimal, no sign but
 * '-', no whitespace, within bounds), constant-time string equality, random
 * tokens (length and URL-safe alphabet), and the small string helpers.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "util.h"

static const struct {
	const char	*in;
	long long	 min, max;
	int		 ok;
	long long	 want;
} ll_cases[] = {
	{ "0",		0, 10, 1, 0 },
	{ "10",		0, 10, 1, 10 },
	{ "-5",		-5, 5, 1, -5 },
	{ "-0",		0, 0, 1, 0 },
	{ "007",	0, 10, 1, 7 },
	{ "9223372036854775807", LLONG_MIN, LLONG_MAX, 1, LLONG_MAX },
	{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, 1, LLONG_MIN },
	{ "",		0, 10, 0, 0 },
	{ " 1",		0, 10, 0, 0 },
	{ "1 ",		0, 10, 0, 0 },
	{ "+1",		0, 10, 0, 0 },
	{ "1x",		0, 10, 0, 0 },
	{ "x1",		0, 10, 0, 0 },
	{ "0x10",	0, 100, 0, 0 },
	{ "1.0",	0, 10, 0, 0 },
	{ "1e2",	0, 1000, 0, 0 },
	{ "-",		-10, 10, 0, 0 },
	{ "--1",	-10, 10, 0, 0 },
	{ "-+1",	-10, 10, 0, 0 },
	{ "11",		0, 10, 0, 0 },
	{ "-1",		0, 10, 0, 0 },
	{ "-6",		-5, 5, 0, 0 },
	{ "9223372036854775808", LLONG_MIN, LLONG_MAX, 0, 0 },
	{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, 0, 0 },
	{ "99999999999999999999999", LLONG_MIN, LLONG_MAX, 0, 0 },
	/*
	 * BUG: util_parse_ll (lib/util.c:72-75) refuses only a leading ' ' and
	 * '+', then hands the string to strtoll, which skips any other
	 * leading whitespace: "\t1", "\n1", "\r1", "\v1", "\f1" and "\t+1"
	 * parse as 1 although util.h promises a whole-string decimal parse
	 * that fails "on any junk".
	 */
	{ "\t1",	0, 10, 0, 0 },
	{ "\n1",	0, 10, 0, 0 },
	{ "\t+1",	0, 10, 0, 0 },
};

START_TEST(test_parse_ll)
{
	long long	 v = 12345;
	char		 vis[64];
	int		 rc;

	rc = util_parse_ll(ll_cases[_i].in, ll_cases[_i].min, ll_cases[_i].max, &v);
	if (ll_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "\"%s\" in [%lld, %lld] refused",
		    cu_visible(ll_cases[_i].in, vis, sizeof(vis)),
		    ll_cases[_i].min, ll_cases[_i].max);
		ck_assert_int_eq(v, ll_cases[_i].want);
	} else {
		ck_assert_msg(rc == CB_ERR_VALIDATION,
		    "\"%s\" in [%lld, %lld] accepted as %lld",
		    cu_visible(ll_cases[_i].in, vis, sizeof(vis)),
		    ll_cases[_i].min, ll_cases[_i].max, v);
		/* A refusal never writes the output. */
		ck_assert_int_eq(v, 12345);
	}
}
END_TEST

START_TEST(test_parse_ll_null)
{
	long long	 v = 1;

	ck_assert_int_eq(util_parse_ll(NULL, 0, 10, &v), CB_ERR_VALIDATION);
	ck_assert_int_eq(v, 1);
}
END_TEST

static const struct {
	const char	*a, *b;
	int		 eq;
} streq_cases[] = {
	{ "", "", 1 },
	{ "abc", "abc", 1 },
	{ "abc", "abd", 0 },
	{ "abc", "ab", 0 },
	{ "ab", "abc", 0 },
	{ "", "a", 0 },
	{ "Secret-Token", "secret-token", 0 },
	{ "a long token with spaces and \xc3\xa9", "a long token with spaces and \xc3\xa9", 1 },
};

START_TEST(test_streq_ct)
{
	ck_assert_int_eq(util_streq_ct(streq_cases[_i].a, streq_cases[_i].b),
	    streq_cases[_i].eq);
	ck_assert_int_eq(util_streq_ct(streq_cases[_i].b, streq_cases[_i].a),
	    streq_cases[_i].eq);
}
END_TEST

static const struct {
	size_t	 nbytes;
	size_t	 chars;
} token_cases[] = {
	{ 1, 2 }, { 2, 3 }, { 3, 4 }, { 16, 22 }, { 32, 43 }, { 64, 86 },
};

START_TEST(test_random_token)
{
	char	 a[128], b[128];
	size_t	 i;

	memset(a, '#', sizeof(a));
	util_random_token(a, sizeof(a), token_cases[_i].nbytes);
	ck_assert_uint_eq(strlen(a), token_cases[_i].chars);
	for (i = 0; a[i]; i++)
		ck_assert_msg((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') ||
		    (a[i] >= '0' && a[i] <= '9') || a[i] == '-' || a[i] == '_',
		    "byte 0x%02x outside the URL-safe alphabet", (unsigned char)a[i]);
	if (token_cases[_i].nbytes >= 16) {
		util_random_token(b, sizeof(b), token_cases[_i].nbytes);
		ck_assert_str_ne(a, b);
	}
}
END_TEST

START_TEST(test_random_token_alphabet_used)
{
	char	 t[100];
	int	 seen[256] = { 0 }, distinct = 0;
	size_t	 i, k;

	/* 200 tokens of 64 bytes: every one of the 64 symbols shows up. */
	for (k = 0; k < 200; k++) {
		util_random_token(t, sizeof(t), 64);
		for (i = 0; t[i]; i++)
			if (seen[(unsigned char)t[i]]++ == 0)
				distinct++;
	}
	ck_assert_int_eq(distinct, 64);
	ck_assert_int_eq(seen['+'] + seen['/'] + seen['='], 0);
}
END_TEST

START_TEST(test_strlcpy)
{
	char	 out[4];

	ck_assert_uint_eq(util_strlcpy(out, "abcdef", sizeof(out)), 6);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(util_strlcpy(out, "ab", sizeof(out)), 2);
	ck_assert_str_eq(out, "ab");
	out[0] = 'z';
	ck_assert_uint_eq(util_strlcpy(out, "q", 0), 1);
	ck_assert_int_eq(out[0], 'z');
}
END_TEST

START_TEST(test_hex)
{
	static const unsigned char in[] = { 0x00, 0x01, 0xab, 0xff };
	char	 out[9];

	util_hex(out, in, sizeof(in));
	ck_assert_str_eq(out, "0001abff");
}
END_TEST

START_TEST(test_clocks)
{
	double	 a, b;
	char	 ts[40];

	a = util_now_ms();
	b = util_now_ms();
	ck_assert(b >= a);
	ck_assert(util_now_s() > 1600000000);
	util_iso8601(ts, sizeof(ts));
	/* 2024-01-02T03:04:05.678Z */
	ck_assert_uint_eq(strlen(ts), 24);
	ck_assert_int_eq(ts[4], '-');
	ck_assert_int_eq(ts[10], 'T');
	ck_assert_int_eq(ts[19], '.');
	ck_assert_int_eq(ts[23], 'Z');
}
END_TEST

START_TEST(test_alloc_helpers)
{
	char	*p, *q;
	int	*z;

	p = util_strdup("hello");
	q = util_strndup("hello", 3);
	z = util_calloc(4, sizeof(*z));
	ck_assert_str_eq(p, "hello");
	ck_assert_str_eq(q, "hel");
	ck_assert_int_eq(z[0] | z[1] | z[2] | z[3], 0);
	free(p);
	free(q);
	free(z);
	p = util_malloc(0);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc;

	tc = tcase_create("parse_ll");
	tcase_add_loop_test(tc, test_parse_ll, 0, (int)CU_NELEM(ll_cases));
	tcase_add_test(tc, test_parse_ll_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_loop_test(tc, test_streq_ct, 0, (int)CU_NELEM(streq_cases));
	tcase_add_loop_test(tc, test_random_token, 0, (int)CU_NELEM(token_cases));
	tcase_add_test(tc, test_random_token_alphabet_used);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_strlcpy);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_clocks);
	tcase_add_test(tc, test_alloc_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(util_suite());
}
