/*
 * test_digest: fingerprints as Postgres bytea text; parts are framed (a
 * different split of the same bytes, or NULL for "", is another digest);
 * keyed digests depend on the pepper and the label, and refuse a malformed
 * pepper.
 */
#include <string.h>

#include "../support/check_util.h"
#include "digest.h"
#include "errs.h"

#define PEPPER_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PEPPER_B "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

START_TEST(test_parts_framed)
{
	char	 d1[DIGEST_TEXT], d2[DIGEST_TEXT], d3[DIGEST_TEXT], d4[DIGEST_TEXT];

	digest_parts((const char *[]){ "ab", "c" }, 2, d1);
	digest_parts((const char *[]){ "a", "bc" }, 2, d2);
	digest_parts((const char *[]){ "ab", NULL }, 2, d3);
	digest_parts((const char *[]){ "ab", "" }, 2, d4);
	ck_assert_int_eq(strncmp(d1, "\\x", 2), 0);
	ck_assert_uint_eq(strlen(d1), DIGEST_TEXT - 1);
	ck_assert_str_ne(d1, d2);
	ck_assert_str_ne(d3, d4);
	digest_parts((const char *[]){ "a", "bc" }, 2, d1);
	ck_assert_str_eq(d1, d2);
}
END_TEST

START_TEST(test_keyed)
{
	char	 a[DIGEST_TEXT], b[DIGEST_TEXT], c[DIGEST_TEXT], plain[DIGEST_TEXT];
	const char *parts[] = { "ctx", "{\"a\":1}" };

	ck_assert_int_eq(digest_keyed(PEPPER_A, "l1", parts, 2, a), CB_OK);
	ck_assert_int_eq(digest_keyed(PEPPER_B, "l1", parts, 2, b), CB_OK);
	ck_assert_int_eq(digest_keyed(PEPPER_A, "l2", parts, 2, c), CB_OK);
	digest_parts(parts, 2, plain);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_str_ne(a, plain);
	ck_assert_int_eq(digest_keyed(PEPPER_A, "l1", parts, 2, b), CB_OK);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(digest_keyed("00", "l1", parts, 2, b), CB_ERR_CONFIG);
	ck_assert_int_eq(digest_keyed(NULL, "l1", parts, 2, b), CB_ERR_CONFIG);
}
END_TEST

static Suite *
digest_suite(void)
{
	Suite	*s = suite_create("digest");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_parts_framed);
	tcase_add_test(tc, test_keyed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(digest_suite());
}
