/*
 * test_pwhash: Argon2id password hashes.  Hash and verify, a wrong
 * password, the length bounds (and NUL), malformed stored hashes, rehash
 * detection for weaker parameters or another algorithm, and the dummy
 * verification for unknown users: it must cost about what a real one costs
 * (median of three runs each, within 0.5x..2x), so a login's timing does
 * not tell whether the account exists.  The measured times are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "errs.h"
#include "pwhash.h"
#include "util.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define PW		"correct horse battery staple"
#define PREFIX		"$argon2id$v=19$m=65536,t=2,p=1$"

START_TEST(test_hash_verify)
{
	char	 h1[PWHASH_STRBYTES], h2[PWHASH_STRBYTES];

	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), h1), CB_OK);
	ck_assert_int_eq(strncmp(h1, PREFIX, strlen(PREFIX)), 0);
	ck_assert_uint_lt(strlen(h1), PWHASH_STRBYTES);
	ck_assert_int_eq(pwhash_verify(h1, PW, strlen(PW)), CB_OK);
	ck_assert_int_eq(pwhash_needs_rehash(h1), 0);

	/* Wrong passwords, including a prefix and one byte more. */
	ck_assert_int_eq(pwhash_verify(h1, "correct horse battery stapler", 29),
	    CB_ERR_UNAUTHENTICATED);
	ck_assert_int_eq(pwhash_verify(h1, "Correct horse battery staple", 28),
	    CB_ERR_UNAUTHENTICATED);
	ck_assert_int_eq(pwhash_verify(h1, PW, strlen(PW) - 1), CB_ERR_UNAUTHENTICATED);

	/* A fresh salt every time. */
	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), h2), CB_OK);
	ck_assert_str_ne(h1, h2);
	ck_assert_int_eq(pwhash_verify(h2, PW, strlen(PW)), CB_OK);
}
END_TEST

static const struct {
	const char	*what;
	const char	*pw;
	size_t		 len;	/* 0: repeat 'p' `rep` times */
	size_t		 rep;
	int		 ok;
} bounds[] = {
	{ "7 bytes", "1234567", 7, 0, 0 },
	{ "8 bytes", "12345678", 8, 0, 1 },
	{ "empty", "", 0, 0, 0 },
	{ "NUL inside", "1234\0" "5678", 9, 0, 0 },
	{ "NUL at the end", "12345678\0", 9, 0, 0 },
	{ "1024 bytes", NULL, 0, 1024, 1 },
	{ "1025 bytes", NULL, 0, 1025, 0 },
	{ "8 bytes of UTF-8 (4 characters)", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 0, 1 },
};

START_TEST(test_bounds)
{
	char	 h[PWHASH_STRBYTES], good[PWHASH_STRBYTES];
	char	*buf = NULL;
	const char *pw = bounds[_i].pw;
	size_t	 len = bounds[_i].len;
	int	 rc;

	if (pw == NULL) {
		buf = malloc(bounds[_i].rep);
		ck_assert_ptr_nonnull(buf);
		memset(buf, 'p', bounds[_i].rep);
		pw = buf;
		len = bounds[_i].rep;
	}
	rc = pwhash_hash(pw, len, h);
	if (bounds[_i].ok) {
		ck_assert_msg(rc == CB_OK, "%s: refused", bounds[_i].what);
		ck_assert_int_eq(pwhash_verify(h, pw, len), CB_OK);
	} else {
		ck_assert_msg(rc == CB_ERR_VALIDATION, "%s: hashed", bounds[_i].what);
		/* No hash is left behind in the output. */
		ck_assert_str_eq(h, "");
		/* Verification refuses it without looking further. */
		ck_assert_int_eq(pwhash_hash(PW, strlen(PW), good), CB_OK);
		ck_assert_int_eq(pwhash_verify(good, pw, len), CB_ERR_UNAUTHENTICATED);
	}
	free(buf);
}
END_TEST

START_TEST(test_null_args)
{
	char	 h[PWHASH_STRBYTES];

	ck_assert_int_eq(pwhash_hash(NULL, 10, h), CB_ERR_VALIDATION);
	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), NULL), CB_ERR_VALIDATION);
	ck_assert_int_eq(pwhash_verify(NULL, PW, strlen(PW)), CB_ERR_UNAUTHENTICATED);
	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), h), CB_OK);
	ck_assert_int_eq(pwhash_verify(h, NULL, 10), CB_ERR_UNAUTHENTICATED);
}
END_TEST

START_TEST(test_malformed_hash)
{
	char	 h[PWHASH_STRBYTES], long_h[PWHASH_STRBYTES + 8];
	static const char *const bad[] = {
		"",
		"not a hash",
		"$argon2id$v=19$m=65536,t=2,p=1$",
		"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
		"$2b$12$abcdefghijklmnopqrstuuN5i0f1j6tHbO0s4Zt8J8y3e1n8zS0a2",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
	};
	size_t	 i;

	for (i = 0; i < NELEM(bad); i++) {
		ck_assert_int_eq(pwhash_verify(bad[i], PW, strlen(PW)), CB_ERR_UNAUTHENTICATED);
		ck_assert_int_eq(pwhash_needs_rehash(bad[i]), 1);
	}
	/* No terminating NUL within PWHASH_STRBYTES: never read past it. */
	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), h), CB_OK);
	memset(long_h, 'A', sizeof(long_h));
	memcpy(long_h, h, strlen(h));
	long_h[sizeof(long_h) - 1] = '\0';
	ck_assert_int_eq(pwhash_verify(long_h, PW, strlen(PW)), CB_ERR_UNAUTHENTICATED);
	ck_assert_int_eq(pwhash_needs_rehash(long_h), 1);
	ck_assert_int_eq(pwhash_needs_rehash(NULL), 1);
}
END_TEST

START_TEST(test_needs_rehash)
{
	char	 weak[PWHASH_STRBYTES], strong[PWHASH_STRBYTES];
	char	 other[PWHASH_STRBYTES], cur[PWHASH_STRBYTES];

	/* Weaker limits: still verifies, but must be upgraded. */
	ck_assert_int_eq(crypto_pwhash_str_alg(weak, PW, strlen(PW),
	    crypto_pwhash_argon2id_OPSLIMIT_MIN, 8u * 1024u * 1024u,
	    crypto_pwhash_ALG_ARGON2ID13), 0);
	ck_assert_int_eq(pwhash_verify(weak, PW, strlen(PW)), CB_OK);
	ck_assert_int_eq(pwhash_needs_rehash(weak), 1);
	/* Different (stronger) limits: also replaced, to keep one cost. */
	ck_assert_int_eq(crypto_pwhash_str_alg(strong, PW, strlen(PW),
	    PWHASH_OPSLIMIT + 1, PWHASH_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13), 0);
	ck_assert_int_eq(pwhash_needs_rehash(strong), 1);
	/* Argon2i: verifies, and is flagged for Argon2id. */
	ck_assert_int_eq(crypto_pwhash_str_alg(other, PW, strlen(PW),
	    crypto_pwhash_argon2i_OPSLIMIT_MIN, PWHASH_MEMLIMIT,
	    crypto_pwhash_ALG_ARGON2I13), 0);
	ck_assert_int_eq(strncmp(other, "$argon2i$", 9), 0);
	ck_assert_int_eq(pwhash_verify(other, PW, strlen(PW)), CB_OK);
	ck_assert_int_eq(pwhash_needs_rehash(other), 1);
	/* Ours: current. */
	ck_assert_int_eq(pwhash_hash(PW, strlen(PW), cur), CB_OK);
	ck_assert_int_eq(pwhash_needs_rehash(cur), 0);
}
END_TEST

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median3(double v[3])
{
	qsort(v, 3, sizeof(v[0]), cmp_double);
	return v[1];
}

START_TEST(test_dummy_timing)
{
	char	 h[PWHASH_STRBYTES];
	double	 hash_ms[3], real_ms[3], dummy_ms[3], t, real, dummy, ratio;
	int	 i;

	for (i = 0; i < 3; i++) {
		t = util_now_ms();
		ck_assert_int_eq(pwhash_hash(PW, strlen(PW), h), CB_OK);
		hash_ms[i] = util_now_ms() - t;
	}
	for (i = 0; i < 3; i++) {
		/* A wrong password: the case the dummy stands in for. */
		t = util_now_ms();
		ck_assert_int_eq(pwhash_verify(h, "wrong password!", 15), CB_ERR_UNAUTHENTICATED);
		real_ms[i] = util_now_ms() - t;
		t = util_now_ms();
		ck_assert_int_eq(pwhash_dummy_verify(), CB_ERR_UNAUTHENTICATED);
		dummy_ms[i] = util_now_ms() - t;
	}
	real = median3(real_ms);
	dummy = median3(dummy_ms);
	ratio = dummy / real;
	printf("pwhash (t=%d, m=%d KiB): hash %.1f ms, verify %.1f ms, "
	    "dummy verify %.1f ms (ratio %.2f)\n", PWHASH_OPSLIMIT,
	    PWHASH_MEMLIMIT_KIB, median3(hash_ms), real, dummy, ratio);
	fflush(stdout);
	/* A real Argon2id run at these parameters is not instantaneous. */
	ck_assert_msg(real > 5.0, "verify took only %.2f ms", real);
	ck_assert_msg(ratio >= 0.5 && ratio <= 2.0,
	    "dummy %.1f ms vs real %.1f ms: ratio %.2f outside 0.5..2", dummy, real, ratio);
}
END_TEST

static Suite *
pwhash_suite(void)
{
	Suite	*s = suite_create("pwhash");
	TCase	*tc;

	tc = tcase_create("pwhash");
	/* Each Argon2id run allocates 64 MiB and takes tens of milliseconds. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hash_verify);
	tcase_add_loop_test(tc, test_bounds, 0, (int)NELEM(bounds));
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_malformed_hash);
	tcase_add_test(tc, test_needs_rehash);
	tcase_add_test(tc, test_dummy_timing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	if (sodium_init() < 0)
		return 2;
	sr = srunner_create(pwhash_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
