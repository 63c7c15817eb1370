/*
 * b64: see b64.h.  libsodium does the conversion; this file adds the checks
 * that make the API hard to misuse: output sizes are verified before
 * libsodium is called (sodium_bin2base64 aborts on a short buffer), and the
 * input is checked for canonical form here as well, so strictness does not
 * depend on details of one libsodium version.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "buf.h"
#include "errs.h"
#include "util.h"

#define B64_VARIANT	sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* The 6-bit value of an alphabet character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
b64url_encode(char *out, size_t outsz, const unsigned char *in, size_t n)
{
	size_t	 need;

	if (outsz == 0)
		return CB_ERR_TOO_LARGE;
	out[0] = '\0';
	/* Overflow guard for the length formula below. */
	if (n > (SIZE_MAX / 4u) * 3u - 3u)
		return CB_ERR_TOO_LARGE;
	need = B64URL_ENCODED_LEN(n) + 1;
	if (outsz < need)
		return CB_ERR_TOO_LARGE;
	/* sodium_base64_ENCODED_LEN for this variant equals `need`. */
	sodium_bin2base64(out, need, in, n, B64_VARIANT);
	return CB_OK;
}

int
b64url_encode_buf(struct buf *b, const unsigned char *in, size_t n)
{
	char	*tmp = NULL;
	size_t	 need;
	int	 rc;

	if (n > (SIZE_MAX / 4u) * 3u - 3u || n > b->max)
		return CB_ERR_TOO_LARGE;
	need = B64URL_ENCODED_LEN(n) + 1;
	tmp = util_malloc(need);
	if ((rc = b64url_encode(tmp, need, in, n)) != CB_OK)
		goto out;
	rc = buf_append(b, tmp, need - 1);
out:
	free(tmp);
	return rc;
}

int
b64url_decode(unsigned char *out, size_t outsz, size_t *outlen,
    const char *in, size_t len)
{
	size_t	 i, need, bin_len = 0;
	int	 v = 0;

	*outlen = 0;
	if (len == 0)
		return CB_OK;
	/* A single leftover character cannot carry a whole byte. */
	if (len % 4u == 1u)
		return CB_ERR_VALIDATION;
	for (i = 0; i < len; i++)
		if ((v = b64_value((unsigned char)in[i])) < 0)
			return CB_ERR_VALIDATION;
	/*
	 * Canonical form: the bits of the last character that do not reach
	 * a whole byte must be zero ("QQ" is "A", "QR" is refused).
	 */
	if (len % 4u == 2u && (v & 0x0f) != 0)
		return CB_ERR_VALIDATION;
	if (len % 4u == 3u && (v & 0x03) != 0)
		return CB_ERR_VALIDATION;
	need = B64URL_DECODED_LEN(len);
	if (need > outsz)
		return CB_ERR_TOO_LARGE;
	/* No ignore set and no end pointer: every character must be used. */
	if (sodium_base642bin(out, outsz, in, len, NULL, &bin_len, NULL,
	    B64_VARIANT) != 0 || bin_len != need) {
		sodium_memzero(out, outsz);
		return CB_ERR_VALIDATION;
	}
	*outlen = bin_len;
	return CB_OK;
}
