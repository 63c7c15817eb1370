/*
 * test_retry: the delivery schedule.  The default is the schedule the
 * established webhook services use, eight attempts over about 27.6 h; a
 * schedule that does not parse is refused with the entry named; the delay
 * after attempt k is entry k with jitter within +-10%; Retry-After wins when
 * longer; the row's own max_attempts can only shorten the schedule.
 */
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "retry.h"

START_TEST(test_default_schedule_is_the_webhook_services_one)
{
	struct retry_schedule	 rs;
	char			 err[128];
	long long		 total = 0;
	size_t			 i;
	const long long		 want[] = { 0, 5000, 300000, 1800000, 7200000, 18000000,
	    36000000, 36000000 };

	ck_assert_int_eq(retry_parse("0s,5s,5m,30m,2h,5h,10h,10h", &rs, err, sizeof(err)), CB_OK);
	ck_assert_uint_eq(rs.n, 8);
	for (i = 0; i < rs.n; i++) {
		ck_assert_int_eq(rs.delay_ms[i], want[i]);
		total += rs.delay_ms[i];
	}
	/* Last attempt 27 h 35 m 5 s after the first. */
	ck_assert_int_eq(total, (27LL * 3600 + 35 * 60 + 5) * 1000);
	ck_assert_int_eq(retry_attempts(&rs, 8), 8);
	ck_assert_int_eq(retry_attempts(&rs, 3), 3);
	ck_assert_int_eq(retry_attempts(&rs, 100), 8);
}
END_TEST

static const struct {
	const char	*text;
	const char	*why;
} bad[] = {
	{ "", "empty" },
	{ "5", "unit" },
	{ "0,7", "unit" },
	{ "5x", "unit" },
	{ "s", "number" },
	{ "-5s", "number" },
	{ "5s;10s", "commas" },
	{ "5s,,10s", "number" },
	{ "5s,", "number" },
	{ "169h", "week" },
	{ "99999999999999999s", "number" },
	{ "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,"
	  "1s,1s,1s,1s,1s", "entries" },
};

START_TEST(test_bad_schedule_refused_with_reason)
{
	struct retry_schedule	 rs;
	char			 err[128] = "";

	ck_assert_int_eq(retry_parse(bad[_i].text, &rs, err, sizeof(err)), CB_ERR_VALIDATION);
	ck_assert_msg(strstr(err, bad[_i].why) != NULL, "\"%s\": %s", bad[_i].text, err);
}
END_TEST

START_TEST(test_units_and_spaces)
{
	struct retry_schedule	 rs;
	char			 err[128];

	ck_assert_int_eq(retry_parse(" 0ms , 250ms,2s , 3m,1h ", &rs, err, sizeof(err)), CB_OK);
	ck_assert_uint_eq(rs.n, 5);
	ck_assert_int_eq(rs.delay_ms[1], 250);
	ck_assert_int_eq(rs.delay_ms[2], 2000);
	ck_assert_int_eq(rs.delay_ms[3], 180000);
	ck_assert_int_eq(rs.delay_ms[4], 3600000);
	/* A bare zero needs no unit. */
	ck_assert_int_eq(retry_parse("0,100ms", &rs, err, sizeof(err)), CB_OK);
	ck_assert_uint_eq(rs.n, 2);
	ck_assert_int_eq(rs.delay_ms[0], 0);
	ck_assert_int_eq(retry_parse("0 ,0", &rs, err, sizeof(err)), CB_OK);
	ck_assert_uint_eq(rs.n, 2);
}
END_TEST

START_TEST(test_delay_follows_schedule_with_jitter)
{
	struct retry_schedule	 rs;
	char			 err[128];

	ck_assert_int_eq(retry_parse("0s,5s,5m,30m", &rs, err, sizeof(err)), CB_OK);
	/* After attempt 1 comes entry 1 (5 s), jitter at both ends. */
	ck_assert_int_eq(retry_delay_ms(&rs, 1, 0, 0.0), 4500);
	ck_assert_int_eq(retry_delay_ms(&rs, 1, 0, 0.5), 5000);
	ck_assert_int_eq(retry_delay_ms(&rs, 1, 0, 1.0), 5500);
	ck_assert_int_eq(retry_delay_ms(&rs, 2, 0, 0.5), 300000);
	/* Past the end the last entry repeats. */
	ck_assert_int_eq(retry_delay_ms(&rs, 9, 0, 0.5), 1800000);
	/* Out-of-range randomness is clamped. */
	ck_assert_int_eq(retry_delay_ms(&rs, 1, 0, 7.0), 5500);
}
END_TEST

START_TEST(test_retry_after_wins_when_longer)
{
	struct retry_schedule	 rs;
	char			 err[128];

	ck_assert_int_eq(retry_parse("0s,5s,5m", &rs, err, sizeof(err)), CB_OK);
	ck_assert_int_eq(retry_delay_ms(&rs, 1, 60, 0.5), 60000);
	/* Shorter than the schedule: the schedule stands. */
	ck_assert_int_eq(retry_delay_ms(&rs, 2, 60, 0.5), 300000);
}
END_TEST

static Suite *
retry_suite(void)
{
	Suite	*s = suite_create("retry");
	TCase	*tc = tcase_create("schedule");

	tcase_add_test(tc, test_default_schedule_is_the_webhook_services_one);
	tcase_add_loop_test(tc, test_bad_schedule_refused_with_reason, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_units_and_spaces);
	tcase_add_test(tc, test_delay_follows_schedule_with_jitter);
	tcase_add_test(tc, test_retry_after_wins_when_longer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(retry_suite());
}
