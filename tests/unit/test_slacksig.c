/*
 * test_slacksig: Slack's v0 signatures.  Slack's own published example
 * (secret, timestamp, slash-command body, signature) verifies byte for
 * byte; a signature made here verifies; every way a request can be wrong
 * is refused with the class the route maps to (malformed: 400, forged or
 * stale: 401): a changed body, timestamp or secret, a timestamp past the
 * window either way, malformed headers, no secret.  A rotated secret and
 * its successor are both accepted when both are given.
 */
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "slacksig.h"

/* Slack's documented example ("Verifying requests from Slack"). */
static const char ex_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char ex_body[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
static const char ex_sig[] =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
#define EX_TS		1531420618LL

static const struct slacksig_secret ex = { ex_secret, sizeof(ex_secret) - 1 };

static int
verify(const char *ts, const char *sig, const char *body, long long now, const char **why)
{
	return slacksig_verify(&ex, 1, ts, sig, body, strlen(body), now, NULL, why);
}

START_TEST(test_slack_example)
{
	char		 sig[SLACKSIG_SIG_BUFSZ];
	const char	*why = NULL;
	int64_t		 ts = 0;

	ck_assert_int_eq(slacksig_sign(&ex, EX_TS, ex_body, strlen(ex_body), sig), CB_OK);
	ck_assert_str_eq(sig, ex_sig);
	ck_assert_int_eq(slacksig_verify(&ex, 1, "1531420618", ex_sig, ex_body, strlen(ex_body),
	    EX_TS + 10, &ts, &why), CB_OK);
	ck_assert_int_eq(ts, EX_TS);
	ck_assert_str_eq(why, "signature verified");
}
END_TEST

START_TEST(test_upper_case_hex_accepted)
{
	char	 up[sizeof(ex_sig)];
	size_t	 i;

	memcpy(up, ex_sig, sizeof(ex_sig));
	for (i = 3; up[i]; i++)
		if (up[i] >= 'a' && up[i] <= 'f')
			up[i] = (char)(up[i] - 'a' + 'A');
	ck_assert_int_eq(verify("1531420618", up, ex_body, EX_TS, NULL), CB_OK);
}
END_TEST

/* Each changes one thing; all are forgeries (CB_ERR_CRYPTO). */
START_TEST(test_forgeries)
{
	char		 body[sizeof(ex_body)], sig[sizeof(ex_sig)];
	const char	*why;
	struct slacksig_secret other = { "8f742231b10e8888abcd99yyyzzz85a6", 32 };

	memcpy(body, ex_body, sizeof(body));
	body[6] = 'X';
	ck_assert_int_eq(verify("1531420618", ex_sig, body, EX_TS, &why), CB_ERR_CRYPTO);
	ck_assert_str_eq(why, "the signature does not match");
	/* The timestamp is signed. */
	ck_assert_int_eq(verify("1531420619", ex_sig, ex_body, EX_TS, NULL), CB_ERR_CRYPTO);
	/* One digit of the signature. */
	memcpy(sig, ex_sig, sizeof(sig));
	sig[10] = sig[10] == '0' ? '1' : '0';
	ck_assert_int_eq(verify("1531420618", sig, ex_body, EX_TS, NULL), CB_ERR_CRYPTO);
	/* Another secret. */
	ck_assert_int_eq(slacksig_verify(&other, 1, "1531420618", ex_sig, ex_body,
	    strlen(ex_body), EX_TS, NULL, NULL), CB_ERR_CRYPTO);
	/* An empty body is not the body. */
	ck_assert_int_eq(verify("1531420618", ex_sig, "", EX_TS, NULL), CB_ERR_CRYPTO);
}
END_TEST

START_TEST(test_window)
{
	const char	*why;

	ck_assert_int_eq(verify("1531420618", ex_sig, ex_body, EX_TS + 300, NULL), CB_OK);
	ck_assert_int_eq(verify("1531420618", ex_sig, ex_body, EX_TS - 300, NULL), CB_OK);
	ck_assert_int_eq(verify("1531420618", ex_sig, ex_body, EX_TS + 301, &why), CB_ERR_CRYPTO);
	ck_assert_str_eq(why, "the request timestamp is too far from now");
	ck_assert_int_eq(verify("1531420618", ex_sig, ex_body, EX_TS - 301, NULL), CB_ERR_CRYPTO);
}
END_TEST

static const char *const bad_ts[] = {
	"", "-1531420618", "+1531420618", " 1531420618", "1531420618 ", "1531420618.0",
	"01531420618", "15314206x8", "99999999999999999999", "0x5b4757ca",
};

START_TEST(test_malformed_timestamp)
{
	const char	*why;

	ck_assert_int_eq(verify(bad_ts[_i], ex_sig, ex_body, EX_TS, &why), CB_ERR_VALIDATION);
	ck_assert_str_eq(why, "X-Slack-Request-Timestamp must be whole seconds");
}
END_TEST

static const char *const bad_sig[] = {
	"", "v0=", "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
	"a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b50",
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5033",
	"v0=g2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
	"V0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503,"
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
};

START_TEST(test_malformed_signature)
{
	const char	*why;

	ck_assert_int_eq(verify("1531420618", bad_sig[_i], ex_body, EX_TS, &why),
	    CB_ERR_VALIDATION);
	ck_assert_str_eq(why, "X-Slack-Signature must be v0= and 64 hex digits");
}
END_TEST

START_TEST(test_missing_headers_and_secrets)
{
	struct slacksig_secret	 shorty = { "tooshort", 8 };
	const char		*why;

	ck_assert_int_eq(verify(NULL, ex_sig, ex_body, EX_TS, &why), CB_ERR_VALIDATION);
	ck_assert_int_eq(verify("1531420618", NULL, ex_body, EX_TS, NULL), CB_ERR_VALIDATION);
	ck_assert_int_eq(slacksig_verify(&ex, 0, "1531420618", ex_sig, ex_body,
	    strlen(ex_body), EX_TS, NULL, &why), CB_ERR_VALIDATION);
	ck_assert_str_eq(why, "no signing secret is configured");
	ck_assert_int_eq(slacksig_verify(&shorty, 1, "1531420618", ex_sig, ex_body,
	    strlen(ex_body), EX_TS, NULL, NULL), CB_ERR_VALIDATION);
	{
		char sig[SLACKSIG_SIG_BUFSZ];

		ck_assert_int_eq(slacksig_sign(&shorty, EX_TS, "", 0, sig), CB_ERR_VALIDATION);
		ck_assert_int_eq(slacksig_sign(&ex, -1, "", 0, sig), CB_ERR_VALIDATION);
	}
}
END_TEST

/* A rotation: the old and the new secret both verify; a third does not. */
START_TEST(test_rotation)
{
	struct slacksig_secret	 two[2] = {
		{ "11111111111111111111111111111111", 32 }, { ex_secret, sizeof(ex_secret) - 1 },
	};
	struct slacksig_secret	 none[2] = {
		{ "11111111111111111111111111111111", 32 }, { "22222222222222222222222222222222", 32 },
	};

	ck_assert_int_eq(slacksig_verify(two, 2, "1531420618", ex_sig, ex_body, strlen(ex_body),
	    EX_TS, NULL, NULL), CB_OK);
	ck_assert_int_eq(slacksig_verify(none, 2, "1531420618", ex_sig, ex_body,
	    strlen(ex_body), EX_TS, NULL, NULL), CB_ERR_CRYPTO);
}
END_TEST

static Suite *
slacksig_suite(void)
{
	Suite	*s = suite_create("slacksig");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_slack_example);
	tcase_add_test(tc, test_upper_case_hex_accepted);
	tcase_add_test(tc, test_forgeries);
	tcase_add_test(tc, test_window);
	tcase_add_loop_test(tc, test_malformed_timestamp, 0, (int)CU_NELEM(bad_ts));
	tcase_add_loop_test(tc, test_malformed_signature, 0, (int)CU_NELEM(bad_sig));
	tcase_add_test(tc, test_missing_headers_and_secrets);
	tcase_add_test(tc, test_rotation);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(slacksig_suite());
}
