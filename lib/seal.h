/*
 * seal: values sealed at rest (XChaCha20-Poly1305-IETF) under a keyring.
 *
 * Guarantees.  A sealed value opens only with the key it was sealed under,
 * only for the purpose it was sealed for, and only with the same AAD, which
 * callers use to bind the value to its row and column, e.g.
 * "refresh_tokens:<id>:meta": a value copied into another row, or altered
 * in any byte, fails with CB_ERR_CRYPTO.  Tokens and personal data use
 * separate keys, so a token-purpose value never opens as PII.
 *
 * Root key.  One 32-byte root key per deployment, in a file the service
 * alone can read.  Format: exactly 64 hexadecimal characters, optionally
 * followed by one "\n" (so `openssl rand -hex 32 > root.key` works; upper
 * or lower case).  The file must be a regular file owned by the service
 * user (or root) with no group or other permission bits (0600 or 0400).
 *
 * Data keys.  Keys are named (purpose, id); ids are 1..SEAL_KEY_ID_MAX (they
 * fit a Postgres integer).  A data key is either
 *   - derived: crypto_kdf(root, subkey id = id, context per purpose), added
 *     with seal_keyring_add_derived; nothing is stored, or
 *   - wrapped: a random key stored in the database sealed under the
 *     purpose's key-encryption key (itself derived from the root with its
 *     own context), added with seal_keyring_add_wrapped.
 * Intended flow for wrapped keys (an operator command):
 *   1. seal_key_generate(dk); seal_wrap_key(kr, purpose, id, dk, wrapped);
 *      sodium_memzero(dk) — store the row (id, purpose, wrapped);
 *   2. at start every process loads every row with seal_keyring_add_wrapped
 *      and marks the configured id current with seal_keyring_set_current;
 *   3. rotate: insert a new row, make its id current (config, restart or
 *      reload); old ids stay loaded so old values still open; a re-seal job
 *      finds rows whose seal_key_id differs from seal_keyring_current, opens
 *      them and seals them again; an id is removed only when no row uses it.
 * The root key never changes in this flow; changing it means re-wrapping
 * every data key.
 *
 * Binary format (v1):  0x01 || key id (4 bytes, big endian) || nonce (24)
 * || ciphertext || tag (16).  The AEAD's associated data is the first five
 * bytes, the purpose and the caller's AAD, so none of them can be swapped.
 * Text format for TEXT columns: "v1." followed by base64url (no padding) of
 * the binary format.
 */
#ifndef CB_SEAL_H
#define CB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

struct buf;
struct seal_keyring;

enum seal_purpose {
	SEAL_PURPOSE_TOKENS = 0,	/* refresh-token metadata, API key material */
	SEAL_PURPOSE_PII,		/* personal data of data subjects */
	SEAL_PURPOSE__COUNT
};

#define SEAL_VERSION		1u
#define SEAL_KEYBYTES		crypto_aead_xchacha20poly1305_ietf_KEYBYTES	/* 32 */
#define SEAL_NONCEBYTES		crypto_aead_xchacha20poly1305_ietf_NPUBBYTES	/* 24 */
#define SEAL_TAGBYTES		crypto_aead_xchacha20poly1305_ietf_ABYTES	/* 16 */
#define SEAL_HEADERBYTES	5u	/* version + key id */
#define SEAL_OVERHEAD		(SEAL_HEADERBYTES + SEAL_NONCEBYTES + SEAL_TAGBYTES)	/* 45 */
#define SEAL_MAX_PLAIN		(1024u * 1024u)
#define SEAL_MAX_AAD		1024u
#define SEAL_KEY_ID_MAX		UINT32_C(2147483647)
#define SEAL_MAX_KEYS		64	/* all purposes together */
#define SEAL_TEXT_PREFIX	"v1."
/* A wrapped data key: version || nonce || sealed key || tag. */
#define SEAL_WRAPPED_BYTES	(1u + SEAL_NONCEBYTES + SEAL_KEYBYTES + SEAL_TAGBYTES)	/* 73 */

/*
 * Read the root key file and return a keyring holding no data keys yet.
 * CB_ERR_CONFIG with a reason in err (which never contains key material)
 * when the file is missing, not a regular file, owned by someone else,
 * accessible to group or other, or not in the format above.
 */
int	 seal_keyring_load(struct seal_keyring **, const char *root_key_file,
	    char *err, size_t errsz)
	    __attribute__((warn_unused_result));
/*
 * Read a key file in the root key's format and with its checks (regular
 * file, owned by this user or root, no group or other bits, 64 hex
 * characters and an optional newline, not all zeros) into key.  `what`
 * names the file in err ("root key file").  root_may_read: a process
 * running as root may read a file another user owns (a key the tests and
 * the operator's tools use as well as the service).
 */
int	 seal_key_file_read(const char *path, const char *what, int root_may_read,
	    unsigned char key[SEAL_KEYBYTES], char *err, size_t errsz)
	    __attribute__((warn_unused_result));
/* Wipe and free; NULL is fine. */
void	 seal_keyring_free(struct seal_keyring *);

/*
 * Add a data key.  CB_ERR_VALIDATION for a bad purpose or id, CB_ERR_CONFLICT
 * if (purpose, id) is already loaded, CB_ERR_TOO_LARGE past SEAL_MAX_KEYS,
 * CB_ERR_CRYPTO if a wrapped key does not unwrap (wrong root, wrong row,
 * tampered).
 */
int	 seal_keyring_add_derived(struct seal_keyring *, int purpose, uint32_t id)
	    __attribute__((warn_unused_result));
int	 seal_keyring_add_wrapped(struct seal_keyring *, int purpose, uint32_t id,
	    const unsigned char *wrapped, size_t n)
	    __attribute__((warn_unused_result));
/* New values of `purpose` are sealed under `id`, which must be loaded. */
int	 seal_keyring_set_current(struct seal_keyring *, int purpose, uint32_t id)
	    __attribute__((warn_unused_result));
/* The current id of `purpose`; CB_ERR_CONFIG if none is set. */
int	 seal_keyring_current(const struct seal_keyring *, int purpose, uint32_t *id)
	    __attribute__((warn_unused_result));

/* A fresh random data key (wipe it once wrapped). */
void	 seal_key_generate(unsigned char dk[SEAL_KEYBYTES]);
/*
 * Wrap dk for storage as (purpose, id), and back.  The wrapping binds the
 * purpose and the id: a wrapped key copied to another row does not unwrap.
 * seal_unwrap_key returns CB_ERR_CRYPTO (dk zeroed) on any mismatch.
 */
int	 seal_wrap_key(const struct seal_keyring *, int purpose, uint32_t id,
	    const unsigned char dk[SEAL_KEYBYTES],
	    unsigned char wrapped[SEAL_WRAPPED_BYTES])
	    __attribute__((warn_unused_result));
int	 seal_unwrap_key(const struct seal_keyring *, int purpose, uint32_t id,
	    const unsigned char *wrapped, size_t n, unsigned char dk[SEAL_KEYBYTES])
	    __attribute__((warn_unused_result));

/*
 * Seal n bytes under the current key of `purpose`, bound to `aad` (required,
 * 1..SEAL_MAX_AAD bytes), appending the binary format to out.
 * CB_ERR_CONFIG if the purpose has no current key, CB_ERR_VALIDATION for a
 * bad purpose or aad, CB_ERR_TOO_LARGE past SEAL_MAX_PLAIN or out's cap.
 */
int	 seal_seal(const struct seal_keyring *, int purpose,
	    const unsigned char *plain, size_t n, const char *aad, struct buf *out)
	    __attribute__((warn_unused_result));
/*
 * Open a sealed value and append the plaintext to `plain` (wipe it with
 * buf_wipe when done).  CB_ERR_CRYPTO when the value is malformed, its key
 * id is not loaded for `purpose`, the AAD differs or any byte was altered;
 * `plain` is then unchanged.
 */
int	 seal_open(const struct seal_keyring *, int purpose,
	    const unsigned char *sealed, size_t n, const char *aad, struct buf *plain)
	    __attribute__((warn_unused_result));

/* The same in the text format ("v1." + base64url), for TEXT columns. */
int	 seal_seal_text(const struct seal_keyring *, int purpose,
	    const unsigned char *plain, size_t n, const char *aad, struct buf *out)
	    __attribute__((warn_unused_result));
int	 seal_open_text(const struct seal_keyring *, int purpose,
	    const char *text, const char *aad, struct buf *plain)
	    __attribute__((warn_unused_result));

/*
 * The key id a sealed value names (not authenticated: for finding rows to
 * re-seal, never for trusting them).  CB_ERR_CRYPTO if malformed.
 */
int	 seal_key_id(const unsigned char *sealed, size_t n, uint32_t *id)
	    __attribute__((warn_unused_result));
int	 seal_key_id_text(const char *text, uint32_t *id)
	    __attribute__((warn_unused_result));

#endif
