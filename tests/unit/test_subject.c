/*
 * test_subject: the erasure's blind index (lib/subject.h).  One person has
 * one entry whatever the spelling (an email's case and spaces, a number's
 * separators and its "00" prefix); email and phone entries differ from each
 * other, from the login index of the same address and under another pepper;
 * a submission yields entries for its confidential and restricted email and
 * string fields only; malformed input adds nothing; a bad pepper is an error.
 */
#include <stdio.h>
#include <string.h>

#include "../support/check_util.h"
#include "buf.h"
#include "errs.h"
#include "subject.h"
#include "users.h"

#define PEPPER_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PEPPER_B "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

START_TEST(test_one_entry_per_person)
{
	char	 a[DIGEST_TEXT], b[DIGEST_TEXT], c[DIGEST_TEXT], p1[DIGEST_TEXT];
	char	 p2[DIGEST_TEXT], p3[DIGEST_TEXT], login[DIGEST_TEXT];

	ck_assert_int_eq(subject_email(PEPPER_A, "Jane.Doe@Example.COM", a), CB_OK);
	ck_assert_int_eq(subject_email(PEPPER_A, "  jane.doe@example.com\t", b), CB_OK);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(subject_email(PEPPER_B, "jane.doe@example.com", c), CB_OK);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(users_email_index(PEPPER_A, "jane.doe@example.com", login), CB_OK);
	ck_assert_str_ne(a, login);

	ck_assert_int_eq(subject_phone(PEPPER_A, "+1 (415) 555-2671", NULL, p1), CB_OK);
	ck_assert_int_eq(subject_phone(PEPPER_A, "0014155552671", NULL, p2), CB_OK);
	ck_assert_int_eq(subject_phone(PEPPER_A, "415.555.2671", "1", p3), CB_OK);
	ck_assert_str_eq(p1, p2);
	ck_assert_str_eq(p1, p3);
	ck_assert_int_eq(subject_e164(PEPPER_A, "+14155552671", p2), CB_OK);
	ck_assert_str_eq(p1, p2);
	ck_assert_str_ne(p1, a);

	ck_assert_int_eq(subject_email(PEPPER_A, "not an email", a), CB_ERR_VALIDATION);
	ck_assert_int_eq(subject_phone(PEPPER_A, "555-2671", NULL, a), CB_ERR_VALIDATION);
	ck_assert_int_eq(subject_email("00", "jane@example.com", a), CB_ERR_CONFIG);
}
END_TEST

START_TEST(test_values_and_data)
{
	struct buf	 l;
	char		 e[DIGEST_TEXT], p[DIGEST_TEXT], want[200];
	cJSON		*def, *data;

	buf_init(&l, 4096);
	ck_assert_int_eq(subject_add_value(&l, PEPPER_A, "just words"), CB_OK);
	ck_assert_int_eq(subject_add_value(&l, PEPPER_A, "(415) 555-2671"), CB_OK);
	ck_assert_int_eq(subject_add_value(&l, PEPPER_A, NULL), CB_OK);
	ck_assert_uint_eq(l.len, 0);
	ck_assert_int_eq(subject_add_value(&l, PEPPER_A, "Jane@Example.com"), CB_OK);
	ck_assert_int_eq(subject_add_value(&l, PEPPER_A, "+44 20 7946 0958"), CB_OK);
	ck_assert_int_eq(subject_email(PEPPER_A, "jane@example.com", e), CB_OK);
	ck_assert_int_eq(subject_e164(PEPPER_A, "+442079460958", p), CB_OK);
	/* The list form: hex without "\x", comma-separated. */
	snprintf(want, sizeof(want), "%s,%s", e + 2, p + 2);
	ck_assert_str_eq(buf_cstr(&l), want);
	ck_assert_int_eq(subject_add_value(&l, "00", "jane@example.com"), CB_ERR_CONFIG);
	buf_free(&l);

	def = cJSON_Parse("{\"fields\":["
	    "{\"name\":\"email\",\"type\":\"email\",\"class\":\"confidential\"},"
	    "{\"name\":\"work\",\"type\":\"email\",\"class\":\"internal\"},"
	    "{\"name\":\"note\",\"type\":\"string\",\"class\":\"restricted\"},"
	    "{\"name\":\"topic\",\"type\":\"string\",\"class\":\"public\"},"
	    "{\"name\":\"age\",\"type\":\"integer\",\"class\":\"confidential\"}]}");
	data = cJSON_Parse("{\"email\":\"Jane@Example.com\",\"work\":\"desk@example.org\","
	    "\"note\":\"+44 20 7946 0958\",\"topic\":\"+1 415 555 2671\",\"age\":41}");
	buf_init(&l, 4096);
	ck_assert_int_eq(subject_of_data(&l, PEPPER_A, def, data), CB_OK);
	ck_assert_str_eq(buf_cstr(&l), want);
	buf_free(&l);
	cJSON_Delete(def);
	cJSON_Delete(data);
}
END_TEST

static Suite *
subject_suite(void)
{
	Suite	*s = suite_create("subject");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_one_entry_per_person);
	tcase_add_test(tc, test_values_and_data);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(subject_suite());
}
