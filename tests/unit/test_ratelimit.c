/*
 * test_ratelimit: token buckets against a live Redis (CB_REDIS_HOST,
 * CB_REDIS_PORT, CB_REDIS_PASSWORD; the suite fails, never skips, when one
 * is unset).  A bucket gives its capacity, then refuses with the wait to the
 * next token; several buckets are charged all or none in one call, and the
 * one that refused is named while the others keep their tokens.  Keys carry
 * a random prefix and are deleted.
 */
#include <stdio.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "kv.h"
#include "ratelimit.h"
#include "util.h"

static struct kv	*kv;
static char		 pfx[40];

static void
setup(void)
{
	long long	 port;
	char		 rnd[17];

	ck_assert_int_eq(util_parse_ll(cu_env_required("CB_REDIS_PORT"), 1, 65535, &port),
	    CB_OK);
	kv = kv_open(cu_env_required("CB_REDIS_HOST"), (int)port,
	    cu_env_required("CB_REDIS_PASSWORD"), 2000);
	ck_assert_msg(kv_connect(kv) == CB_OK, "cannot reach Redis");
	util_random_token(rnd, sizeof(rnd), 8);
	snprintf(pfx, sizeof(pfx), "test:rl:%s", rnd);
}

static void
teardown(void)
{
	const char	*argv[4];
	char		 k[3][64];
	int		 i;

	argv[0] = "DEL";
	for (i = 0; i < 3; i++) {
		snprintf(k[i], sizeof(k[i]), "%s:%d", pfx, i);
		argv[i + 1] = k[i];
	}
	(void)kv_cmd(kv, NULL, 4, argv, NULL);
	kv_close(kv);
}

/* Tokens left in bucket i (its stored count, as the script wrote it). */
static double
tokens(int i)
{
	struct kv_reply	*r = NULL;
	const char	*argv[3], *s;
	char		 k[64], v[32];
	size_t		 len;
	double		 d;

	snprintf(k, sizeof(k), "%s:%d", pfx, i);
	argv[0] = "HGET";
	argv[1] = k;
	argv[2] = "tok";
	ck_assert_int_eq(kv_cmd(kv, &r, 3, argv, NULL), CB_OK);
	s = kv_reply_str(r, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_lt(len, sizeof(v));
	memcpy(v, s, len);
	v[len] = '\0';
	kv_reply_free(r);
	ck_assert_int_eq(sscanf(v, "%lf", &d), 1);
	return d;
}

START_TEST(one_bucket_gives_its_capacity_then_waits)
{
	char	 k[64];
	long	 wait = -1;
	int	 i;

	snprintf(k, sizeof(k), "%s:0", pfx);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ratelimit_take(kv, k, 3, &wait), CB_OK);
	ck_assert_int_eq(ratelimit_take(kv, k, 3, &wait), CB_ERR_RATE_LIMITED);
	/* 3 a minute: the next token in at most 20 s, and some of it is still to come. */
	ck_assert_int_gt(wait, 0);
	ck_assert_int_le(wait, 20000);
}
END_TEST

START_TEST(several_buckets_all_or_none)
{
	char		 k[3][64];
	const char	*keys[3] = { k[0], k[1], k[2] };
	long		 caps[3] = { 100, 2, 100 }, wait = -1;
	int		 i, which = 7;

	for (i = 0; i < 3; i++)
		snprintf(k[i], sizeof(k[i]), "%s:%d", pfx, i);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(ratelimit_take_all(kv, keys, caps, 3, &wait, &which), CB_OK);
		ck_assert_int_eq(which, -1);
	}
	ck_assert(tokens(0) < 98.5 && tokens(0) >= 97.9);
	/* The second bucket is empty: refused, named, and nobody pays. */
	ck_assert_int_eq(ratelimit_take_all(kv, keys, caps, 3, &wait, &which),
	    CB_ERR_RATE_LIMITED);
	ck_assert_int_eq(which, 1);
	ck_assert_int_gt(wait, 0);
	ck_assert_msg(tokens(0) >= 97.9 && tokens(2) >= 97.9, "a refused call spent tokens: %f %f",
	    tokens(0), tokens(2));
	ck_assert_int_eq(ratelimit_take_all(kv, keys, caps, 0, &wait, &which), CB_ERR_VALIDATION);
	ck_assert_int_eq(ratelimit_take_all(kv, keys, caps, RATELIMIT_MAX_BUCKETS + 1, &wait,
	    &which), CB_ERR_VALIDATION);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("ratelimit");
	TCase	*tc = tcase_create("ratelimit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_bucket_gives_its_capacity_then_waits);
	tcase_add_test(tc, several_buckets_all_or_none);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
