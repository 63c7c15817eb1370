/*
 * b64: base64url without padding (RFC 4648 §5, as JOSE uses it), strict.
 *
 * Decoding accepts only the canonical form: the alphabet A-Z a-z 0-9 - _,
 * no padding, no whitespace, no length that is 1 modulo 4 and no non-zero
 * trailing bits, so every byte string has exactly one accepted encoding.
 * Both directions take an explicit output size and fail instead of writing
 * past it.  Built on libsodium's sodium_bin2base64 / sodium_base642bin.
 */
#ifndef CB_B64_H
#define CB_B64_H

#include <stddef.h>

struct buf;

/* Characters (without the NUL) that encode n bytes. */
#define B64URL_ENCODED_LEN(n)	(((n) / 3u) * 4u + (((n) % 3u) ? ((n) % 3u) + 1u : 0u))
/* Bytes an encoding of `len` characters decodes to (len must be valid). */
#define B64URL_DECODED_LEN(len)	(((len) / 4u) * 3u + (((len) % 4u) ? ((len) % 4u) - 1u : 0u))

/*
 * Encode n bytes into out as a NUL-terminated string.  outsz must be at
 * least B64URL_ENCODED_LEN(n) + 1, else CB_ERR_TOO_LARGE and out is "".
 */
int	 b64url_encode(char *out, size_t outsz, const unsigned char *in, size_t n)
	    __attribute__((warn_unused_result));
/* Append the encoding of n bytes to b (no NUL counted in b->len). */
int	 b64url_encode_buf(struct buf *b, const unsigned char *in, size_t n)
	    __attribute__((warn_unused_result));
/*
 * Decode exactly `len` characters of `in` (which need not be NUL-terminated)
 * into out.  CB_ERR_VALIDATION if the input is not canonical base64url;
 * CB_ERR_TOO_LARGE if the result would not fit in outsz.  *outlen gets the
 * decoded length on success and 0 otherwise.  An empty input decodes to
 * zero bytes.
 */
int	 b64url_decode(unsigned char *out, size_t outsz, size_t *outlen,
	    const char *in, size_t len)
	    __attribute__((warn_unused_result));

#endif
