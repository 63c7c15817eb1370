/*
 * digest: fingerprints of a few strings, as Postgres bytea text ("\x" and
 * 64 hex digits), for rows that must recognise the same request again
 * without holding it in clear.
 *
 * Every part is framed by its length, so ("ab", "c") and ("a", "bc")
 * differ; a NULL part differs from "" too.
 */
#ifndef CB_DIGEST_H
#define CB_DIGEST_H

#include <stddef.h>

#define DIGEST_TEXT	(2 + 64 + 1)

/* SHA-256 of the parts: a fingerprint of data that is not secret. */
void	 digest_parts(const char *const *parts, size_t n, char out[DIGEST_TEXT]);
/*
 * BLAKE2b-256 of the parts keyed with a key of `label`'s own, derived from
 * a server key (64 hex characters; for personal data the blind index key,
 * CB_BLIND_INDEX_KEY_FILE): a digest that cannot be confirmed by guessing
 * without that key.  CB_ERR_CONFIG when the key is malformed.
 */
int	 digest_keyed(const char *pepper_hex, const char *label, const char *const *parts,
	    size_t n, char out[DIGEST_TEXT]);

#endif
