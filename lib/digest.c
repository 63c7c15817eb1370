/*
 * digest: see digest.h.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "digest.h"
#include "errs.h"
#include "util.h"

/* Each part as its length (8 bytes, big-endian; all ones for NULL), then its bytes. */
static void
digest_frame(const char *p, unsigned char len[8], size_t *n)
{
	uint64_t	 v = p ? (uint64_t)strlen(p) : UINT64_MAX;
	int		 i;

	*n = p ? strlen(p) : 0;
	for (i = 7; i >= 0; i--, v >>= 8)
		len[i] = (unsigned char)(v & 0xff);
}

static void
digest_text(const unsigned char h[32], char out[DIGEST_TEXT])
{
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, 32);
}

void
digest_parts(const char *const *parts, size_t n, char out[DIGEST_TEXT])
{
	crypto_hash_sha256_state st;
	unsigned char		 h[crypto_hash_sha256_BYTES], len[8];
	size_t			 i, k;

	crypto_hash_sha256_init(&st);
	for (i = 0; i < n; i++) {
		digest_frame(parts[i], len, &k);
		crypto_hash_sha256_update(&st, len, sizeof(len));
		if (k)
			crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], k);
	}
	crypto_hash_sha256_final(&st, h);
	digest_text(h, out);
}

int
digest_keyed(const char *pepper_hex, const char *label, const char *const *parts, size_t n,
    char out[DIGEST_TEXT])
{
	crypto_generichash_state st;
	unsigned char		 pepper[32], key[32], h[32], len[8];
	size_t			 got = 0, i, k;

	if (pepper_hex == NULL || sodium_hex2bin(pepper, sizeof(pepper), pepper_hex,
	    strlen(pepper_hex), NULL, &got, NULL) != 0 || got != sizeof(pepper))
		return CB_ERR_CONFIG;
	/* A key of the label's own: no other use of the pepper yields the same digests. */
	crypto_generichash(key, sizeof(key), (const unsigned char *)label, strlen(label),
	    pepper, sizeof(pepper));
	crypto_generichash_init(&st, key, sizeof(key), sizeof(h));
	for (i = 0; i < n; i++) {
		digest_frame(parts[i], len, &k);
		crypto_generichash_update(&st, len, sizeof(len));
		if (k)
			crypto_generichash_update(&st, (const unsigned char *)parts[i], k);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_memzero(pepper, sizeof(pepper));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	digest_text(h, out);
	return CB_OK;
}
