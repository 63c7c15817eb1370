/*
 * test_stdwh: Standard Webhooks 1.0, symmetric scheme.  The signature of
 * the spec's published vector (standard-webhooks libraries' test suites:
 * msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330, {"test": 2432232314}) is
 * reproduced byte for byte; what was signed verifies; one flipped bit of
 * the body, another id, a timestamp a second outside the tolerance either
 * way, another key each fail; in a list of signatures any valid one
 * suffices, also behind other schemes; malformed headers are refused as
 * malformed, never as a mismatch; secrets must be 24..64 bytes.
 */
#include <string.h>

#include <sodium.h>

#include "../support/check_util.h"
#include "buf.h"
#include "errs.h"
#include "stdwh.h"

#define V_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define V_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define V_TS		1614265330
#define V_TS_TEXT	"1614265330"
#define V_BODY		"{\"test\": 2432232314}"
#define V_SIG		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static struct stdwh_key	 vkey;

static void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_int_eq(stdwh_key_parse(V_SECRET, &vkey), CB_OK);
}

static void
teardown(void)
{
	stdwh_key_wipe(&vkey);
}

static int
verify1(const struct stdwh_key *k, const char *id, const char *ts, const char *sig,
    const char *body, size_t len, int64_t now, const char **why)
{
	const struct stdwh_key	*keys[] = { k };

	return stdwh_verify(keys, 1, id, ts, sig, body, len, now, NULL, why);
}

START_TEST(test_published_vector_signs_byte_for_byte)
{
	char	 sig[STDWH_SIG_BUFSZ];

	ck_assert_uint_eq(vkey.len, 24);
	ck_assert_int_eq(stdwh_sign(&vkey, V_ID, V_TS, CU_LIT(V_BODY), sig), CB_OK);
	ck_assert_str_eq(sig, V_SIG);
}
END_TEST

START_TEST(test_published_vector_verifies)
{
	const char	*why = NULL;

	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, V_SIG, CU_LIT(V_BODY), V_TS, &why), CB_OK);
	ck_assert_str_eq(why, "verified");
	/* The vector's invalid signature: the last base64 character changed. */
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", CU_LIT(V_BODY), V_TS, &why),
	    CB_ERR_CRYPTO);
	ck_assert_str_eq(why, "no_matching_signature");
}
END_TEST

START_TEST(test_every_body_bit_matters)
{
	char		 body[] = V_BODY;
	size_t		 i;
	int		 bit;

	for (i = 0; i < sizeof(body) - 1; i++)
		for (bit = 0; bit < 8; bit++) {
			body[i] ^= (char)(1 << bit);
			ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, V_SIG, body,
			    sizeof(body) - 1, V_TS, NULL), CB_ERR_CRYPTO);
			body[i] ^= (char)(1 << bit);
		}
	/* A byte more or less, too. */
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, V_SIG, V_BODY " ", sizeof(V_BODY),
	    V_TS, NULL), CB_ERR_CRYPTO);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, V_SIG, V_BODY, sizeof(V_BODY) - 2,
	    V_TS, NULL), CB_ERR_CRYPTO);
}
END_TEST

START_TEST(test_other_id_fails)
{
	ck_assert_int_eq(verify1(&vkey, "msg_p5jXN8AQM9LWM0D4loKWxJeK", V_TS_TEXT, V_SIG,
	    CU_LIT(V_BODY), V_TS, NULL), CB_ERR_CRYPTO);
}
END_TEST

/* The timestamp is signed: a replay with a fresh timestamp does not verify. */
START_TEST(test_other_timestamp_fails)
{
	ck_assert_int_eq(verify1(&vkey, V_ID, "1614265331", V_SIG, CU_LIT(V_BODY), V_TS, NULL),
	    CB_ERR_CRYPTO);
}
END_TEST

START_TEST(test_tolerance_is_300_s_either_way)
{
	char		 sig[STDWH_SIG_BUFSZ];
	const char	*why;

	ck_assert_int_eq(stdwh_sign(&vkey, V_ID, V_TS, CU_LIT(V_BODY), sig), CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sig, CU_LIT(V_BODY), V_TS + 300, NULL),
	    CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sig, CU_LIT(V_BODY), V_TS - 300, NULL),
	    CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sig, CU_LIT(V_BODY), V_TS + 301, &why),
	    CB_ERR_CRYPTO);
	ck_assert_str_eq(why, "timestamp_too_old");
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sig, CU_LIT(V_BODY), V_TS - 301, &why),
	    CB_ERR_CRYPTO);
	ck_assert_str_eq(why, "timestamp_too_new");
}
END_TEST

START_TEST(test_wrong_secret_fails)
{
	struct stdwh_key	 other;
	char			 secret[STDWH_SECRET_BUFSZ];

	stdwh_secret_new(secret);
	ck_assert_int_eq(stdwh_key_parse(secret, &other), CB_OK);
	ck_assert_int_eq(verify1(&other, V_ID, V_TS_TEXT, V_SIG, CU_LIT(V_BODY), V_TS, NULL),
	    CB_ERR_CRYPTO);
	stdwh_key_wipe(&other);
	sodium_memzero(secret, sizeof(secret));
}
END_TEST

/* Rotation: the header carries the old and the new signature; either key verifies. */
START_TEST(test_second_of_two_signatures_suffices)
{
	struct stdwh_key	 fresh;
	const struct stdwh_key	*both[2], *only_fresh[1], *only_old[1];
	char			 secret[STDWH_SECRET_BUFSZ];
	struct buf		 h;
	int			 matched;

	stdwh_secret_new(secret);
	ck_assert_int_eq(stdwh_key_parse(secret, &fresh), CB_OK);
	ck_assert_uint_eq(fresh.len, STDWH_KEY_NEW);
	both[0] = &fresh;
	both[1] = &vkey;
	only_fresh[0] = &fresh;
	only_old[0] = &vkey;
	buf_init(&h, 1024);
	ck_assert_int_eq(stdwh_header(both, 2, V_ID, V_TS, CU_LIT(V_BODY), &h), CB_OK);
	/* The old key's signature is the vector's, second in the list. */
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h), " " V_SIG));
	ck_assert_ptr_eq(strchr(buf_cstr(&h), ' '), strstr(buf_cstr(&h), " " V_SIG));
	ck_assert_int_eq(stdwh_verify(only_old, 1, V_ID, V_TS_TEXT, buf_cstr(&h), CU_LIT(V_BODY),
	    V_TS, &matched, NULL), CB_OK);
	ck_assert_int_eq(matched, 0);
	ck_assert_int_eq(stdwh_verify(only_fresh, 1, V_ID, V_TS_TEXT, buf_cstr(&h),
	    CU_LIT(V_BODY), V_TS, NULL, NULL), CB_OK);
	/* A verifier holding both keys reports the first that matches. */
	ck_assert_int_eq(stdwh_verify(both, 2, V_ID, V_TS_TEXT, V_SIG, CU_LIT(V_BODY), V_TS,
	    &matched, NULL), CB_OK);
	ck_assert_int_eq(matched, 1);
	buf_free(&h);
	stdwh_key_wipe(&fresh);
	sodium_memzero(secret, sizeof(secret));
}
END_TEST

/* The reference suite's list: junk v1, a v2, the valid one, junk again. */
START_TEST(test_valid_signature_among_others)
{
	const char	*sigs = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
	    "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " V_SIG
	    " v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";

	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sigs, CU_LIT(V_BODY), V_TS, NULL), CB_OK);
	/* Only other schemes: well-formed, but nothing of ours matches. */
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT,
	    "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", CU_LIT(V_BODY), V_TS, NULL),
	    CB_ERR_CRYPTO);
}
END_TEST

static const struct {
	const char	*id;
	const char	*ts;
	const char	*sig;
	const char	*why;
} malformed[] = {
	{ NULL, V_TS_TEXT, V_SIG, "bad_id" },
	{ "", V_TS_TEXT, V_SIG, "bad_id" },
	{ "msg.1", V_TS_TEXT, V_SIG, "bad_id" },
	{ V_ID, NULL, V_SIG, "bad_timestamp" },
	{ V_ID, "", V_SIG, "bad_timestamp" },
	{ V_ID, "hello", V_SIG, "bad_timestamp" },
	{ V_ID, "1614265330.5", V_SIG, "bad_timestamp" },
	{ V_ID, "-1614265330", V_SIG, "bad_timestamp" },
	{ V_ID, " 1614265330", V_SIG, "bad_timestamp" },
	{ V_ID, "1614265330000000", V_SIG, "bad_timestamp" },
	{ V_ID, V_TS_TEXT, NULL, "bad_signature_header" },
	{ V_ID, V_TS_TEXT, "", "bad_signature_header" },
	{ V_ID, V_TS_TEXT, "   ", "bad_signature_header" },
	{ V_ID, V_TS_TEXT, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "bad_signature_header" },
	{ V_ID, V_TS_TEXT, ",g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "bad_signature_header" },
	{ V_ID, V_TS_TEXT, V_SIG " junk", "bad_signature_header" },
};

START_TEST(test_malformed_headers_refused_as_malformed)
{
	const char	*why = NULL;

	ck_assert_int_eq(verify1(&vkey, malformed[_i].id, malformed[_i].ts, malformed[_i].sig,
	    CU_LIT(V_BODY), V_TS, &why), CB_ERR_VALIDATION);
	ck_assert_str_eq(why, malformed[_i].why);
}
END_TEST

START_TEST(test_signature_list_is_capped)
{
	struct buf	 h;
	int		 i;

	buf_init(&h, 8192);
	for (i = 0; i < STDWH_SIGS_MAX; i++)
		ck_assert_int_eq(buf_puts(&h, "v1,AAAA "), CB_OK);
	ck_assert_int_eq(buf_puts(&h, V_SIG), CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, buf_cstr(&h), CU_LIT(V_BODY), V_TS, NULL),
	    CB_ERR_VALIDATION);
	buf_free(&h);
}
END_TEST

/* A base64 signature that does not decode, or decodes to another length, just does not match. */
START_TEST(test_undecodable_v1_does_not_match)
{
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, "v1,!!!! " V_SIG, CU_LIT(V_BODY), V_TS,
	    NULL), CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, "v1,AAAA", CU_LIT(V_BODY), V_TS, NULL),
	    CB_ERR_CRYPTO);
}
END_TEST

static const struct {
	const char	*secret;
	int		 rc;
	size_t		 len;
} secrets[] = {
	{ V_SECRET, CB_OK, 24 },
	/* 32 bytes, padded and unpadded. */
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", CB_OK, 32 },
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", CB_OK, 32 },
	/* 64 bytes: the most. */
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
	  "PD0+Pw==", CB_OK, 64 },
	/* 65 bytes, 23 bytes: outside. */
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
	  "PD0+P0A=", CB_ERR_VALIDATION, 0 },
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", CB_OK, 24 },
	{ "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY=", CB_ERR_VALIDATION, 0 },
	{ "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CB_ERR_VALIDATION, 0 },
	{ "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CB_ERR_VALIDATION, 0 },
	{ "whsec_", CB_ERR_VALIDATION, 0 },
	{ "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", CB_ERR_VALIDATION, 0 },
	{ "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", CB_ERR_VALIDATION, 0 },
	{ NULL, CB_ERR_VALIDATION, 0 },
};

START_TEST(test_secret_parse)
{
	struct stdwh_key	 k;

	ck_assert_int_eq(stdwh_key_parse(secrets[_i].secret, &k), secrets[_i].rc);
	ck_assert_uint_eq(k.len, secrets[_i].len);
	stdwh_key_wipe(&k);
}
END_TEST

START_TEST(test_new_secrets_are_fresh_and_parse)
{
	char			 a[STDWH_SECRET_BUFSZ], b[STDWH_SECRET_BUFSZ];
	struct stdwh_key	 k;

	stdwh_secret_new(a);
	stdwh_secret_new(b);
	ck_assert_int_eq(strncmp(a, "whsec_", 6), 0);
	ck_assert_uint_eq(strlen(a), 6 + 44);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(stdwh_key_parse(a, &k), CB_OK);
	ck_assert_uint_eq(k.len, 32);
	stdwh_key_wipe(&k);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
}
END_TEST

START_TEST(test_sign_refuses_ambiguous_ids)
{
	char	 sig[STDWH_SIG_BUFSZ];

	ck_assert_int_eq(stdwh_sign(&vkey, "msg.1", V_TS, CU_LIT(V_BODY), sig), CB_ERR_VALIDATION);
	ck_assert_str_eq(sig, "");
	ck_assert_int_eq(stdwh_sign(&vkey, "", V_TS, CU_LIT(V_BODY), sig), CB_ERR_VALIDATION);
	ck_assert_int_eq(stdwh_sign(&vkey, V_ID, -1, CU_LIT(V_BODY), sig), CB_ERR_VALIDATION);
	/* An empty body is a body. */
	ck_assert_int_eq(stdwh_sign(&vkey, V_ID, V_TS, "", 0, sig), CB_OK);
	ck_assert_int_eq(verify1(&vkey, V_ID, V_TS_TEXT, sig, "", 0, V_TS, NULL), CB_OK);
}
END_TEST

static Suite *
stdwh_suite(void)
{
	Suite	*s = suite_create("stdwh");
	TCase	*tc = tcase_create("symmetric");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_published_vector_signs_byte_for_byte);
	tcase_add_test(tc, test_published_vector_verifies);
	tcase_add_test(tc, test_every_body_bit_matters);
	tcase_add_test(tc, test_other_id_fails);
	tcase_add_test(tc, test_other_timestamp_fails);
	tcase_add_test(tc, test_tolerance_is_300_s_either_way);
	tcase_add_test(tc, test_wrong_secret_fails);
	tcase_add_test(tc, test_second_of_two_signatures_suffices);
	tcase_add_test(tc, test_valid_signature_among_others);
	tcase_add_loop_test(tc, test_malformed_headers_refused_as_malformed, 0,
	    (int)CU_NELEM(malformed));
	tcase_add_test(tc, test_signature_list_is_capped);
	tcase_add_test(tc, test_undecodable_v1_does_not_match);
	tcase_add_loop_test(tc, test_secret_parse, 0, (int)CU_NELEM(secrets));
	tcase_add_test(tc, test_new_secrets_are_fresh_and_parse);
	tcase_add_test(tc, test_sign_refuses_ambiguous_ids);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(stdwh_suite());
}
