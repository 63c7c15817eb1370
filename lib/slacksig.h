/*
 * slacksig: Slack's request signing (CONTRACTS §4.1), for interactivity
 * callbacks (approval buttons) and anything else Slack posts to us.
 *
 * The signed text is "v0:" + X-Slack-Request-Timestamp + ":" + the raw
 * request body (for interactivity: the form-encoded bytes, before any
 * decoding); X-Slack-Signature is "v0=" + lowercase hex of
 * HMAC-SHA256(signing secret, that text).
 *
 * Guarantees: a timestamp more than SLACKSIG_TOLERANCE_S away from `now`
 * either way is refused before any MAC is computed; the MAC is compared in
 * constant time against every secret given (1..SLACKSIG_SECRETS_MAX, so a
 * rotated secret and its successor can both be accepted for an overlap),
 * without stopping at the first match; headers are parsed strictly (digits
 * only, exactly 64 hex digits; upper-case hex is accepted, as Slack's own
 * SDKs compare case-insensitively).  The replay cache is the caller's: a
 * signature may be presented once (lib/slacksig.c gives the key to keep).
 * Nothing here logs or keeps a secret beyond the call.
 */
#ifndef CB_SLACKSIG_H
#define CB_SLACKSIG_H

#include <stddef.h>
#include <stdint.h>

#define SLACKSIG_TOLERANCE_S	300
#define SLACKSIG_SECRETS_MAX	4
#define SLACKSIG_SECRET_MIN	16u	/* bytes; Slack's are 32 hex digits */
#define SLACKSIG_SECRET_MAX	256u
#define SLACKSIG_MAC_BYTES	32u
/* "v0=" + 64 hex digits + NUL. */
#define SLACKSIG_SIG_BUFSZ	68u
#define SLACKSIG_TS_MAX		19u	/* digits of a timestamp header */

/* A signing secret as Slack shows it (its bytes are the HMAC key). */
struct slacksig_secret {
	const char	*s;
	size_t		 len;
};

/*
 * The X-Slack-Signature value for a body sent at `ts`: "v0=<hex>".
 * CB_ERR_VALIDATION for a negative timestamp or a secret outside
 * SLACKSIG_SECRET_MIN..SLACKSIG_SECRET_MAX bytes.
 */
int	 slacksig_sign(const struct slacksig_secret *, int64_t ts, const void *body,
	    size_t len, char out[SLACKSIG_SIG_BUFSZ]) __attribute__((warn_unused_result));

/*
 * Verify a request.
 *   CB_OK               the signature matches one of the secrets; *ts_out
 *                       (may be NULL) gets the timestamp
 *   CB_ERR_VALIDATION   a header missing or malformed, or no usable secret
 *   CB_ERR_CRYPTO       the timestamp is outside the tolerance, or no
 *                       secret makes this signature
 * *why (may be NULL) gets a short static reason in every case, fit for a
 * problem detail (it names no secret and no signature).
 */
int	 slacksig_verify(const struct slacksig_secret *secrets, size_t nsecrets,
	    const char *ts_header, const char *sig_header, const void *body, size_t len,
	    int64_t now, int64_t *ts_out, const char **why) __attribute__((warn_unused_result));

#endif
