/*
 * stdwh: the symmetric scheme of Standard Webhooks 1.0 (CONTRACTS §2.1).
 *
 * A secret is "whsec_" followed by standard base64 (padding optional) of
 * STDWH_KEY_MIN..STDWH_KEY_MAX random bytes; new ones carry STDWH_KEY_NEW.
 * A signature is "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
 * over the raw body bytes; the webhook-signature header lists one or more
 * of them separated by single spaces, so a rotation can sign with the old
 * and the new key at once.
 *
 * Guarantees: verification accepts a message when ANY listed v1 signature
 * matches ANY given key, compares in constant time and does not stop at the
 * first match, and refuses a timestamp more than STDWH_TOLERANCE_S away
 * from `now` either way; other schemes in the header (v1a, ...) are
 * skipped.  Ids and timestamps containing '.' are refused (the signed
 * content would be ambiguous).  Keys live in struct stdwh_key, wiped by
 * stdwh_key_wipe; nothing here logs.
 */
#ifndef CB_STDWH_H
#define CB_STDWH_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define STDWH_PREFIX		"whsec_"
#define STDWH_PREFIX_LEN	6u
#define STDWH_KEY_MIN		24u	/* 192 bits */
#define STDWH_KEY_MAX		64u
#define STDWH_KEY_NEW		32u
#define STDWH_TOLERANCE_S	300
#define STDWH_MAC_BYTES		32u
/* "whsec_" + base64 of STDWH_KEY_MAX bytes (88) + NUL, rounded up. */
#define STDWH_SECRET_BUFSZ	128u
/* "v1," + base64 of 32 bytes (44) + NUL. */
#define STDWH_SIG_BUFSZ		48u
#define STDWH_ID_MAX		255u	/* webhook-id bytes */
#define STDWH_HEADER_MAX	4096u	/* webhook-signature bytes accepted */
#define STDWH_SIGS_MAX		16	/* signatures per header */

struct stdwh_key {
	unsigned char	 k[STDWH_KEY_MAX];
	size_t		 len;
};

/* A fresh secret: "whsec_" + base64 of STDWH_KEY_NEW random bytes. */
void	 stdwh_secret_new(char out[STDWH_SECRET_BUFSZ]);
/*
 * Parse a "whsec_..." secret into its key.  CB_ERR_VALIDATION (key zeroed)
 * without the prefix, for base64 that does not decode, or for a key
 * outside STDWH_KEY_MIN..STDWH_KEY_MAX bytes.
 */
int	 stdwh_key_parse(const char *secret, struct stdwh_key *)
	    __attribute__((warn_unused_result));
void	 stdwh_key_wipe(struct stdwh_key *);

/*
 * One signature "v1,<base64>" of {msg_id}.{ts}.{body}.  CB_ERR_VALIDATION
 * for an empty or over-long id, an id with '.', a negative timestamp.
 */
int	 stdwh_sign(const struct stdwh_key *, const char *msg_id, int64_t ts,
	    const void *body, size_t len, char out[STDWH_SIG_BUFSZ])
	    __attribute__((warn_unused_result));
/*
 * The webhook-signature header value: one signature per key (1..
 * STDWH_SIGS_MAX keys), space-separated, appended to out.
 */
int	 stdwh_header(const struct stdwh_key *const *keys, size_t nkeys,
	    const char *msg_id, int64_t ts, const void *body, size_t len, struct buf *out)
	    __attribute__((warn_unused_result));

/*
 * Verify a received message against keys (1..STDWH_SIGS_MAX of them).
 *   CB_OK               some listed v1 signature matches some key;
 *                       *matched (may be NULL) gets that key's index
 *   CB_ERR_VALIDATION   a header missing or malformed: an empty id or one
 *                       with '.', a timestamp that is not integer seconds,
 *                       a signature list that is empty, over-long or has
 *                       an entry without "<version>,"
 *   CB_ERR_CRYPTO       the timestamp is outside the tolerance, or no
 *                       signature matches
 * *why (may be NULL) gets a short static reason in every case.
 */
int	 stdwh_verify(const struct stdwh_key *const *keys, size_t nkeys,
	    const char *msg_id, const char *ts_header, const char *sig_header,
	    const void *body, size_t len, int64_t now, int *matched, const char **why)
	    __attribute__((warn_unused_result));

#endif
