/* slacksig: Slack's v0 request signatures (slacksig.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "slacksig.h"
#include "util.h"

static int
secret_ok(const struct slacksig_secret *k)
{
	return k != NULL && k->s != NULL && k->len >= SLACKSIG_SECRET_MIN &&
	    k->len <= SLACKSIG_SECRET_MAX;
}

/* HMAC-SHA256(secret, "v0:" ts ":" body); ts is the header's own digits. */
static void
slacksig_mac(const struct slacksig_secret *k, const char *ts, size_t tslen,
    const void *body, size_t len, unsigned char mac[SLACKSIG_MAC_BYTES])
{
	const struct util_part	 parts[] = { { "v0:", 3 }, { ts, tslen }, { ":", 1 }, { body, len } };

	util_hmac_sha256((const unsigned char *)k->s, k->len, parts, 4, mac);
}

int
slacksig_sign(const struct slacksig_secret *k, int64_t ts, const void *body, size_t len,
    char out[SLACKSIG_SIG_BUFSZ])
{
	unsigned char	 mac[SLACKSIG_MAC_BYTES];
	char		 t[24];
	int		 n;

	out[0] = '\0';
	if (!secret_ok(k) || ts < 0)
		return CB_ERR_VALIDATION;
	n = snprintf(t, sizeof(t), "%lld", (long long)ts);
	slacksig_mac(k, t, (size_t)n, body, len, mac);
	memcpy(out, "v0=", 3);
	sodium_bin2hex(out + 3, SLACKSIG_SIG_BUFSZ - 3, mac, sizeof(mac));
	return CB_OK;
}

/*
 * The two headers Slack signs with, as a field table: the prefix, the
 * characters allowed after it and their count, and what a refusal says.
 * sig_header_ok checks a value against its row; parse_ts and parse_sig
 * then read the value that passed.
 */
enum { SIG_TS, SIG_SIG };
static const struct {
	const char	*name;
	const char	*prefix;
	const char	*chars;
	size_t		 min, max;	/* characters after the prefix */
	const char	*why;
} sig_headers[] = {
	[SIG_TS] = { "X-Slack-Request-Timestamp", "", "0123456789", 1, SLACKSIG_TS_MAX,
	    "X-Slack-Request-Timestamp must be whole seconds" },
	[SIG_SIG] = { "X-Slack-Signature", "v0=", "0123456789abcdefABCDEF",
	    2 * SLACKSIG_MAC_BYTES, 2 * SLACKSIG_MAC_BYTES,
	    "X-Slack-Signature must be v0= and 64 hex digits" },
};

static int
sig_header_ok(int which, const char *v)
{
	size_t	 plen = strlen(sig_headers[which].prefix), n;

	if (strncmp(v, sig_headers[which].prefix, plen) != 0)
		return 0;
	n = strlen(v + plen);
	return n >= sig_headers[which].min && n <= sig_headers[which].max &&
	    strspn(v + plen, sig_headers[which].chars) == n;
}

/* "v0=" + exactly 64 hex digits into mac; -1 if it is anything else. */
static int
parse_sig(const char *h, unsigned char mac[SLACKSIG_MAC_BYTES])
{
	size_t	 i;
	int	 hi, lo;

	if (strncmp(h, "v0=", 3) != 0 || strlen(h) != 3 + 2 * SLACKSIG_MAC_BYTES)
		return -1;
	for (i = 0; i < SLACKSIG_MAC_BYTES; i++) {
		if ((hi = util_hexval(h[3 + 2 * i])) < 0 || (lo = util_hexval(h[4 + 2 * i])) < 0)
			return -1;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Decimal seconds, digits only, no sign, no leading zero but "0". */
static int
parse_ts(const char *h, int64_t *ts)
{
	size_t	 i, n = strlen(h);
	int64_t	 v = 0;

	if (n == 0 || n > SLACKSIG_TS_MAX || (n > 1 && h[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (h[i] < '0' || h[i] > '9' || v > (INT64_MAX - (h[i] - '0')) / 10)
			return -1;
		v = v * 10 + (h[i] - '0');
	}
	*ts = v;
	return 0;
}

int
slacksig_verify(const struct slacksig_secret *secrets, size_t nsecrets, const char *ts_header,
    const char *sig_header, const void *body, size_t len, int64_t now, int64_t *ts_out,
    const char **why)
{
	unsigned char	 want[SLACKSIG_MAC_BYTES], got[SLACKSIG_MAC_BYTES];
	const char	*dummy;
	int64_t		 ts;
	size_t		 i;
	int		 match = 0;

	if (why == NULL)
		why = &dummy;
	if (nsecrets == 0 || nsecrets > SLACKSIG_SECRETS_MAX) {
		*why = "no signing secret is configured";
		return CB_ERR_VALIDATION;
	}
	for (i = 0; i < nsecrets; i++)
		if (!secret_ok(&secrets[i])) {
			*why = "a signing secret is not usable";
			return CB_ERR_VALIDATION;
		}
	if (ts_header == NULL || sig_header == NULL) {
		*why = "X-Slack-Request-Timestamp and X-Slack-Signature are required";
		return CB_ERR_VALIDATION;
	}
	if (!sig_header_ok(SIG_TS, ts_header) || parse_ts(ts_header, &ts) != 0) {
		*why = sig_headers[SIG_TS].why;
		return CB_ERR_VALIDATION;
	}
	if (!sig_header_ok(SIG_SIG, sig_header) || parse_sig(sig_header, got) != 0) {
		*why = sig_headers[SIG_SIG].why;
		return CB_ERR_VALIDATION;
	}
	if ((now > ts ? now - ts : ts - now) > SLACKSIG_TOLERANCE_S) {
		*why = "the request timestamp is too far from now";
		return CB_ERR_CRYPTO;
	}
	/* Every secret is tried: the time taken does not say which matched. */
	for (i = 0; i < nsecrets; i++) {
		slacksig_mac(&secrets[i], ts_header, strlen(ts_header), body, len, want);
		match |= sodium_memcmp(want, got, sizeof(want)) == 0;
	}
	sodium_memzero(want, sizeof(want));
	if (!match) {
		*why = "the signature does not match";
		return CB_ERR_CRYPTO;
	}
	if (ts_out)
		*ts_out = ts;
	*why = "signature verified";
	return CB_OK;
}
