/*
 * test_mtls: the decision lib/mtls.c makes from what nginx reported.
 * A certificate's SHA-256 is the one openssl prints, whatever the PEM's
 * line breaks; no certificate, an unverified one, another subject or an
 * unpinned one is refused with the detail a client is told; a pinned or
 * matching one passes, and with both rules both must hold.  Pin lists are
 * normalised from openssl's colon form and refused when malformed,
 * repeated or too many.
 */
#include <stdio.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "mtls.h"

/* A self-signed EC certificate made with openssl for this test. */
static const char pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBnDCCAUOgAwIBAgIUfwfopMRm6sLDRK8qiIHfl2jRYccwCgYIKoZIzj0EAwIw\n"
    "JDENMAsGA1UECgwEVW5pdDETMBEGA1UEAwwKdW5pdC1hZ2VudDAeFw0yNjEyMDEw\n"
    "MjMxMTNaFw0zNjExMjgwMjMxMTNaMCQxDTALBgNVBAoMBFVuaXQxEzARBgNVBAMM\n"
    "CnVuaXQtYWdlbnQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQhDEVUiU3KuYyJ\n"
    "U+ziK8aPkgQifj6hmekYb7AJLNYLbEcQuBh+lzjK6Foz8Apj9Ba+M/kYluLaFEE3\n"
    "rNUtQRkmo1MwUTAdBgNVHQ4EFgQUEIhEvDsB0k/iTBwAt+n5oZMF2a8wHwYDVR0j\n"
    "BBgwFoAUEIhEvDsB0k/iTBwAt+n5oZMF2a8wDwYDVR0TAQH/BAUwAwEB/zAKBggq\n"
    "hkjOPQQDAgNHADBEAiAPG4aW+qOJcOMAGgifxtP/x22aGk7+aMDUXgPjCzEI5gIg\n"
    "fWsGTfeU/pCU1i2YXhC3YwomgZpYVHhxu4JDllA8gc0=\n"
    "-----END CERTIFICATE-----\n";
/* `openssl x509 -noout -fingerprint -sha256` of it. */
static const char fp_colons[] = "1D:09:64:DC:2A:C4:2A:DE:7B:28:78:31:9F:3A:2B:8A:"
    "79:81:8D:26:BA:AC:1F:E2:CA:D9:43:F0:C2:72:AD:AF";
static const char fp[] = "1d0964dc2ac42ade7b2878319f3a2b8a79818d26baac1fe2cad943f0c272adaf";
static const char other[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const char dn[] = "CN=unit-agent,O=Unit";

START_TEST(test_sha256_of_pem)
{
	char	 hex[MTLS_SHA256_HEX + 1], crlf[sizeof(pem) + 64];
	size_t	 i, o = 0;

	ck_assert_int_eq(mtls_cert_sha256(pem, hex), CB_OK);
	ck_assert_str_eq(hex, fp);
	/* CRLF line breaks: the same certificate. */
	for (i = 0; pem[i]; i++) {
		if (pem[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = pem[i];
	}
	crlf[o] = '\0';
	ck_assert_int_eq(mtls_cert_sha256(crlf, hex), CB_OK);
	ck_assert_str_eq(hex, fp);
	ck_assert_int_eq(mtls_cert_sha256("", hex), CB_ERR_VALIDATION);
	ck_assert_int_eq(mtls_cert_sha256(NULL, hex), CB_ERR_VALIDATION);
	ck_assert_int_eq(mtls_cert_sha256("-----BEGIN CERTIFICATE-----\n!!!\n"
	    "-----END CERTIFICATE-----\n", hex), CB_ERR_VALIDATION);
	ck_assert_int_eq(mtls_cert_sha256("-----BEGIN CERTIFICATE-----\nMIIB\n", hex),
	    CB_ERR_VALIDATION);
}
END_TEST

static const struct {
	const char	*verify, *s_dn, *cert, *want_subject, *want_pins;
	int		 rc;
	const char	*why;		/* a part of the detail */
} cases[] = {
	/* No certificate: plain HTTP (NULL, empty) or none sent. */
	{ NULL, NULL, NULL, dn, "", CB_ERR_UNAUTHENTICATED, "requires a client certificate" },
	{ "", "", "", dn, "", CB_ERR_UNAUTHENTICATED, "requires a client certificate" },
	{ "NONE", "", "", "", fp, CB_ERR_UNAUTHENTICATED, "requires a client certificate" },
	/* Not verified by the trusted CA. */
	{ "FAILED:unable to verify the first certificate", dn, pem, dn, "",
	  CB_ERR_UNAUTHENTICATED, "not verified" },
	{ "success", dn, pem, dn, "", CB_ERR_UNAUTHENTICATED, "not verified" },
	/* Subject: exact. */
	{ "SUCCESS", dn, pem, dn, "", CB_OK, NULL },
	{ "SUCCESS", "CN=unit-agent,O=Unit2", pem, dn, "", CB_ERR_UNAUTHENTICATED, "subject" },
	{ "SUCCESS", "cn=unit-agent,O=Unit", pem, dn, "", CB_ERR_UNAUTHENTICATED, "subject" },
	{ "SUCCESS", NULL, pem, dn, "", CB_ERR_UNAUTHENTICATED, "subject" },
	/* Pins: one of the list. */
	{ "SUCCESS", dn, pem, "", fp, CB_OK, NULL },
	{ "SUCCESS", dn, pem, "", "0000000000000000000000000000000000000000000000000000000000000000,"
	  "1d0964dc2ac42ade7b2878319f3a2b8a79818d26baac1fe2cad943f0c272adaf", CB_OK, NULL },
	{ "SUCCESS", dn, pem, "", other, CB_ERR_UNAUTHENTICATED, "pinned" },
	{ "SUCCESS", dn, NULL, "", fp, CB_ERR_UNAUTHENTICATED, "pinned" },
	/* Both: both must hold. */
	{ "SUCCESS", dn, pem, dn, fp, CB_OK, NULL },
	{ "SUCCESS", "CN=x,O=Unit", pem, dn, fp, CB_ERR_UNAUTHENTICATED, "subject" },
	{ "SUCCESS", dn, pem, dn, other, CB_ERR_UNAUTHENTICATED, "pinned" },
};

START_TEST(test_match)
{
	const char	*why = NULL;

	ck_assert_int_eq(mtls_match(cases[_i].verify, cases[_i].s_dn, cases[_i].cert,
	    cases[_i].want_subject, cases[_i].want_pins, &why), cases[_i].rc);
	if (cases[_i].why)
		ck_assert_msg(why && strstr(why, cases[_i].why), "case %d: %s", _i, why);
	else
		ck_assert_ptr_null(why);
}
END_TEST

START_TEST(test_pins_normalise)
{
	char		 out[MTLS_PINS_BUFSZ], in[1200], want[MTLS_PINS_BUFSZ];
	const char	*why;
	size_t		 o;
	int		 i;

	ck_assert_int_eq(mtls_pins_normalise(fp_colons, out, &why), CB_OK);
	ck_assert_str_eq(out, fp);
	ck_assert_int_eq(mtls_pins_normalise("", out, &why), CB_OK);
	ck_assert_str_eq(out, "");
	snprintf(in, sizeof(in), "%s,%s", other, fp_colons);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_OK);
	snprintf(want, sizeof(want), "%s,%s", other, fp);
	ck_assert_str_eq(out, want);

	ck_assert_int_eq(mtls_pins_normalise("abcd", out, &why), CB_ERR_VALIDATION);
	ck_assert_ptr_nonnull(strstr(why, "64 hex digits"));
	snprintf(in, sizeof(in), "%s0", fp);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_ERR_VALIDATION);
	snprintf(in, sizeof(in), "%s,", fp);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_ERR_VALIDATION);
	snprintf(in, sizeof(in), "%s,,%s", fp, other);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_ERR_VALIDATION);
	snprintf(in, sizeof(in), "g%s", fp + 1);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_ERR_VALIDATION);
	snprintf(in, sizeof(in), "%s,%s", fp, fp_colons);
	ck_assert_int_eq(mtls_pins_normalise(in, out, &why), CB_ERR_VALIDATION);
	ck_assert_ptr_nonnull(strstr(why, "twice"));

	/* Eight distinct pins fit; a ninth is refused. */
	for (i = 0, o = 0; i < 9; i++) {
		char	 pin[MTLS_SHA256_HEX + 1];

		memset(pin, 'a', MTLS_SHA256_HEX);
		pin[0] = "012345678"[i];
		pin[MTLS_SHA256_HEX] = '\0';
		o += (size_t)snprintf(in + o, sizeof(in) - o, "%s%s", i ? "," : "", pin);
		ck_assert_int_eq(mtls_pins_normalise(in, out, &why),
		    i < MTLS_PINS_MAX ? CB_OK : CB_ERR_VALIDATION);
	}
	ck_assert_ptr_nonnull(strstr(why, "at most 8"));
}
END_TEST

static Suite *
mtls_suite(void)
{
	Suite	*s = suite_create("mtls");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_sha256_of_pem);
	tcase_add_loop_test(tc, test_match, 0, (int)CU_NELEM(cases));
	tcase_add_test(tc, test_pins_normalise);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(mtls_suite());
}
