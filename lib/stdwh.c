/*
 * stdwh: see stdwh.h.  libsodium's HMAC-SHA256 (any key length) and its
 * base64 codec (the standard alphabet, as the spec's libraries use).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "stdwh.h"
#include "util.h"

/* The standard base64 alphabet and its padding: nothing else is decoded. */
#define STDWH_B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

#define STDWH_TS_DIGITS_MAX	12	/* integer seconds up to the year 33658 */

void
stdwh_key_wipe(struct stdwh_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

void
stdwh_secret_new(char out[STDWH_SECRET_BUFSZ])
{
	unsigned char	 key[STDWH_KEY_NEW];

	randombytes_buf(key, sizeof(key));
	memcpy(out, STDWH_PREFIX, STDWH_PREFIX_LEN);
	sodium_bin2base64(out + STDWH_PREFIX_LEN, STDWH_SECRET_BUFSZ - STDWH_PREFIX_LEN, key,
	    sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
}

int
stdwh_key_parse(const char *secret, struct stdwh_key *k)
{
	const char	*b64;
	size_t		 n;

	memset(k, 0, sizeof(*k));
	if (secret == NULL || strncmp(secret, STDWH_PREFIX, STDWH_PREFIX_LEN) != 0)
		return CB_ERR_VALIDATION;
	b64 = secret + STDWH_PREFIX_LEN;
	n = strlen(b64);
	/* Padded or not: both forms are in use for the same keys. */
	if (n == 0 || strspn(b64, STDWH_B64_CHARS) != n || n > sodium_base64_ENCODED_LEN(STDWH_KEY_MAX,
	    sodium_base64_VARIANT_ORIGINAL) ||
	    (sodium_base642bin(k->k, sizeof(k->k), b64, n, NULL, &k->len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(k->k, sizeof(k->k), b64, n, NULL, &k->len, NULL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) ||
	    k->len < STDWH_KEY_MIN || k->len > STDWH_KEY_MAX) {
		stdwh_key_wipe(k);
		return CB_ERR_VALIDATION;
	}
	return CB_OK;
}

static int
stdwh_id_ok(const char *id)
{
	size_t	 n;

	if (id == NULL || (n = strlen(id)) == 0 || n > STDWH_ID_MAX || strchr(id, '.') != NULL)
		return 0;
	return 1;
}

/* HMAC-SHA256 of {id}.{ts}.{body}; ts is the decimal text as sent. */
static void
stdwh_mac(const struct stdwh_key *k, const char *id, const char *ts, const void *body,
    size_t len, unsigned char mac[STDWH_MAC_BYTES])
{
	const struct util_part	 parts[] = {
		{ id, strlen(id) }, { ".", 1 }, { ts, strlen(ts) }, { ".", 1 }, { body, len }
	};

	util_hmac_sha256(k->k, k->len, parts, 5, mac);
}

int
stdwh_sign(const struct stdwh_key *k, const char *msg_id, int64_t ts, const void *body,
    size_t len, char out[STDWH_SIG_BUFSZ])
{
	unsigned char	 mac[STDWH_MAC_BYTES];
	char		 t[24];

	out[0] = '\0';
	if (!stdwh_id_ok(msg_id) || ts < 0 || k->len < STDWH_KEY_MIN || (body == NULL && len > 0))
		return CB_ERR_VALIDATION;
	snprintf(t, sizeof(t), "%lld", (long long)ts);
	stdwh_mac(k, msg_id, t, body, len, mac);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, STDWH_SIG_BUFSZ - 3, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(mac, sizeof(mac));
	return CB_OK;
}

int
stdwh_header(const struct stdwh_key *const *keys, size_t nkeys, const char *msg_id,
    int64_t ts, const void *body, size_t len, struct buf *out)
{
	char	 sig[STDWH_SIG_BUFSZ];
	size_t	 i;
	int	 rc;

	if (nkeys == 0 || nkeys > STDWH_SIGS_MAX)
		return CB_ERR_VALIDATION;
	for (i = 0; i < nkeys; i++) {
		if ((rc = stdwh_sign(keys[i], msg_id, ts, body, len, sig)) != CB_OK)
			return rc;
		if ((i > 0 && (rc = buf_putc(out, ' ')) != CB_OK) ||
		    (rc = buf_puts(out, sig)) != CB_OK)
			return rc;
	}
	return CB_OK;
}

static int
stdwh_fail(int rc, const char *reason, const char **why)
{
	if (why != NULL)
		*why = reason;
	return rc;
}

int
stdwh_verify(const struct stdwh_key *const *keys, size_t nkeys, const char *msg_id,
    const char *ts_header, const char *sig_header, const void *body, size_t len,
    int64_t now, int *matched, const char **why)
{
	unsigned char	 got[STDWH_SIGS_MAX][STDWH_MAC_BYTES], mac[STDWH_MAC_BYTES];
	unsigned char	 tmp[STDWH_MAC_BYTES + 3];
	const char	*p, *e, *comma;
	size_t		 ngot = 0, nent = 0, n, dlen, i, j;
	long long	 ts;
	int		 match = -1;

	if (matched != NULL)
		*matched = -1;
	if (nkeys == 0 || nkeys > STDWH_SIGS_MAX || (body == NULL && len > 0))
		return stdwh_fail(CB_ERR_VALIDATION, "no_keys", why);
	if (!stdwh_id_ok(msg_id))
		return stdwh_fail(CB_ERR_VALIDATION, "bad_id", why);
	if (ts_header == NULL || (n = strlen(ts_header)) == 0 || n > STDWH_TS_DIGITS_MAX ||
	    strspn(ts_header, "0123456789") != n ||
	    util_parse_ll(ts_header, 0, 999999999999LL, &ts) != CB_OK)
		return stdwh_fail(CB_ERR_VALIDATION, "bad_timestamp", why);
	if (sig_header == NULL || strlen(sig_header) > STDWH_HEADER_MAX)
		return stdwh_fail(CB_ERR_VALIDATION, "bad_signature_header", why);
	for (p = sig_header; *p != '\0'; p = e) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		comma = memchr(p, ',', n);
		if (comma == NULL || comma == p || ++nent > STDWH_SIGS_MAX)
			return stdwh_fail(CB_ERR_VALIDATION, "bad_signature_header", why);
		/* Another scheme (v1a, a later version) is not ours to check. */
		if (comma - p != 2 || strncmp(p, "v1", 2) != 0)
			continue;
		/*
		 * Only the alphabet's own characters: libsodium's decoder maps
		 * some bytes outside it to a value (the fuzzer found a byte
		 * 0xff standing in for a letter of a valid signature).
		 */
		if (strspn(comma + 1, STDWH_B64_CHARS) >= (size_t)(e - comma - 1) &&
		    sodium_base642bin(tmp, sizeof(tmp), comma + 1, (size_t)(e - comma - 1), NULL,
		    &dlen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 && dlen == STDWH_MAC_BYTES)
			memcpy(got[ngot++], tmp, STDWH_MAC_BYTES);
	}
	if (nent == 0)
		return stdwh_fail(CB_ERR_VALIDATION, "bad_signature_header", why);
	if (ts < now - STDWH_TOLERANCE_S)
		return stdwh_fail(CB_ERR_CRYPTO, "timestamp_too_old", why);
	if (ts > now + STDWH_TOLERANCE_S)
		return stdwh_fail(CB_ERR_CRYPTO, "timestamp_too_new", why);
	/* Every key against every signature: no early exit on a match. */
	for (i = 0; i < nkeys; i++) {
		stdwh_mac(keys[i], msg_id, ts_header, body, len, mac);
		for (j = 0; j < ngot; j++)
			if (sodium_memcmp(mac, got[j], STDWH_MAC_BYTES) == 0 && match < 0)
				match = (int)i;
	}
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(tmp, sizeof(tmp));
	if (match < 0)
		return stdwh_fail(CB_ERR_CRYPTO, "no_matching_signature", why);
	if (matched != NULL)
		*matched = match;
	return stdwh_fail(CB_OK, "verified", why);
}
