/*
 * seal: see seal.h.  The keyring is one fixed-size allocation, locked in
 * memory where the system allows it and wiped when freed; keys never leave
 * it except through seal_unwrap_key, whose caller asked for the raw key.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "b64.h"
#include "buf.h"
#include "errs.h"
#include "seal.h"
#include "util.h"

#define SEAL_ROOT_HEXLEN	(SEAL_KEYBYTES * 2u)	/* 64 */
#define SEAL_KEK_SUBKEY_ID	1u
#define SEAL_TEXT_PREFIX_LEN	(sizeof(SEAL_TEXT_PREFIX) - 1u)
/* The associated data: header, purpose byte, caller's AAD. */
#define SEAL_AD_MAX		(SEAL_HEADERBYTES + 1u + SEAL_MAX_AAD)

/*
 * crypto_kdf contexts (exactly crypto_kdf_CONTEXTBYTES = 8 characters),
 * one per purpose and role, so no two keys are ever the same subkey.
 */
static const char seal_dk_ctx[SEAL_PURPOSE__COUNT][crypto_kdf_CONTEXTBYTES + 1] = {
	[SEAL_PURPOSE_TOKENS] = "cbDKtokn",
	[SEAL_PURPOSE_PII] = "cbDKpii_",
};
static const char seal_kek_ctx[SEAL_PURPOSE__COUNT][crypto_kdf_CONTEXTBYTES + 1] = {
	[SEAL_PURPOSE_TOKENS] = "cbKEKtok",
	[SEAL_PURPOSE_PII] = "cbKEKpii",
};

_Static_assert(SEAL_KEYBYTES == crypto_kdf_KEYBYTES, "root key is a kdf key");
_Static_assert(SEAL_KEYBYTES >= crypto_kdf_BYTES_MIN &&
    SEAL_KEYBYTES <= crypto_kdf_BYTES_MAX, "data keys are kdf subkeys");

struct seal_key {
	uint32_t	 id;
	int		 purpose;
	unsigned char	 k[SEAL_KEYBYTES];
};

struct seal_keyring {
	unsigned char	 root[SEAL_KEYBYTES];
	struct seal_key	 keys[SEAL_MAX_KEYS];
	size_t		 nkeys;
	uint32_t	 current[SEAL_PURPOSE__COUNT];	/* 0: none */
};

static void seal_seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
seal_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int
seal_purpose_ok(int purpose)
{
	return purpose >= 0 && purpose < SEAL_PURPOSE__COUNT;
}

static int
seal_id_ok(uint32_t id)
{
	return id >= 1 && id <= SEAL_KEY_ID_MAX;
}

static void
seal_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
seal_get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static const struct seal_key *
seal_find(const struct seal_keyring *kr, int purpose, uint32_t id)
{
	size_t	 i;

	for (i = 0; i < kr->nkeys; i++)
		if (kr->keys[i].purpose == purpose && kr->keys[i].id == id)
			return &kr->keys[i];
	return NULL;
}

static int
seal_is_hex(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

int
seal_key_file_read(const char *path, const char *what, int root_may_read,
    unsigned char key[SEAL_KEYBYTES], char *err, size_t errsz)
{
	struct stat		 st;
	char			 hex[SEAL_ROOT_HEXLEN + 2];
	size_t			 len = 0, binlen = 0;
	ssize_t			 r;
	int			 fd = -1, rc = CB_ERR_CONFIG;

	seal_seterr(err, errsz, "%s", "");
	if (path == NULL || *path == '\0') {
		seal_seterr(err, errsz, "no %s configured", what);
		goto out;
	}
	/* O_NONBLOCK: a FIFO in its place must not hang start-up. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		seal_seterr(err, errsz, "%s %s: cannot open: %s",
		    what, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		seal_seterr(err, errsz, "%s %s: cannot stat: %s",
		    what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		seal_seterr(err, errsz, "%s %s: not a regular file", what, path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0 && !(root_may_read && geteuid() == 0)) {
		seal_seterr(err, errsz, "%s %s: owned by uid %u, "
		    "not by this service (uid %u) or root", what, path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		seal_seterr(err, errsz, "%s %s: mode %04o lets group "
		    "or other access it; it must be readable by the service "
		    "only (chmod 0600 or 0400)", what, path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size != (off_t)SEAL_ROOT_HEXLEN &&
	    st.st_size != (off_t)SEAL_ROOT_HEXLEN + 1) {
		seal_seterr(err, errsz, "%s %s: %lld bytes; expected "
		    "exactly 64 hexadecimal characters (32 bytes), optionally "
		    "followed by one newline", what, path, (long long)st.st_size);
		goto out;
	}
	/* Read one byte more than allowed to notice a file that grew. */
	while (len < sizeof(hex)) {
		r = read(fd, hex + len, sizeof(hex) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			seal_seterr(err, errsz, "%s %s: read failed: %s",
			    what, path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!(len == SEAL_ROOT_HEXLEN ||
	    (len == SEAL_ROOT_HEXLEN + 1 && hex[SEAL_ROOT_HEXLEN] == '\n')) ||
	    !seal_is_hex(hex, SEAL_ROOT_HEXLEN)) {
		seal_seterr(err, errsz, "%s %s: expected exactly 64 "
		    "hexadecimal characters (32 bytes), optionally followed by "
		    "one newline", what, path);
		goto out;
	}
	if (sodium_hex2bin(key, SEAL_KEYBYTES, hex, SEAL_ROOT_HEXLEN,
	    NULL, &binlen, NULL) != 0 || binlen != SEAL_KEYBYTES) {
		seal_seterr(err, errsz, "%s %s: not hexadecimal", what, path);
		goto out;
	}
	if (sodium_is_zero(key, SEAL_KEYBYTES)) {
		seal_seterr(err, errsz, "%s %s: the key is all zeros", what, path);
		goto out;
	}
	rc = CB_OK;
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(hex, sizeof(hex));
	if (rc != CB_OK)
		sodium_memzero(key, SEAL_KEYBYTES);
	return rc;
}

int
seal_keyring_load(struct seal_keyring **out, const char *path, char *err,
    size_t errsz)
{
	struct seal_keyring	*kr;
	int			 rc;

	*out = NULL;
	if (sodium_init() < 0) {
		seal_seterr(err, errsz, "libsodium failed to initialise");
		return CB_ERR_CONFIG;
	}
	kr = util_calloc(1, sizeof(*kr));
	/* Best effort: RLIMIT_MEMLOCK may forbid it, and that is not fatal. */
	(void)sodium_mlock(kr, sizeof(*kr));
	if ((rc = seal_key_file_read(path, "root key file", 0, kr->root, err, errsz)) != CB_OK) {
		seal_keyring_free(kr);
		return rc;
	}
	*out = kr;
	return CB_OK;
}

void
seal_keyring_free(struct seal_keyring *kr)
{
	if (kr == NULL)
		return;
	/* sodium_munlock wipes the memory whether or not it was locked. */
	(void)sodium_munlock(kr, sizeof(*kr));
	sodium_memzero(kr, sizeof(*kr));
	free(kr);
}

/* Check (purpose, id) can be added; returns the free slot. */
static int
seal_slot(struct seal_keyring *kr, int purpose, uint32_t id, struct seal_key **slot)
{
	*slot = NULL;
	if (kr == NULL || !seal_purpose_ok(purpose) || !seal_id_ok(id))
		return CB_ERR_VALIDATION;
	if (seal_find(kr, purpose, id) != NULL)
		return CB_ERR_CONFLICT;
	if (kr->nkeys >= SEAL_MAX_KEYS)
		return CB_ERR_TOO_LARGE;
	*slot = &kr->keys[kr->nkeys];
	return CB_OK;
}

/* The slot seal_slot gave, its key now filled in, becomes the keyring's. */
static int
seal_slot_take(struct seal_keyring *kr, struct seal_key *k, int purpose, uint32_t id)
{
	k->id = id;
	k->purpose = purpose;
	kr->nkeys++;
	return CB_OK;
}

int
seal_keyring_add_derived(struct seal_keyring *kr, int purpose, uint32_t id)
{
	struct seal_key	*k;
	int		 rc;

	if ((rc = seal_slot(kr, purpose, id, &k)) != CB_OK)
		return rc;
	if (crypto_kdf_derive_from_key(k->k, sizeof(k->k), (uint64_t)id,
	    seal_dk_ctx[purpose], kr->root) != 0) {
		sodium_memzero(k, sizeof(*k));
		return CB_ERR_INTERNAL;
	}
	return seal_slot_take(kr, k, purpose, id);
}

int
seal_keyring_add_wrapped(struct seal_keyring *kr, int purpose, uint32_t id,
    const unsigned char *wrapped, size_t n)
{
	struct seal_key	*k;
	int		 rc;

	if ((rc = seal_slot(kr, purpose, id, &k)) != CB_OK)
		return rc;
	if ((rc = seal_unwrap_key(kr, purpose, id, wrapped, n, k->k)) != CB_OK)
		return rc;
	return seal_slot_take(kr, k, purpose, id);
}

int
seal_keyring_set_current(struct seal_keyring *kr, int purpose, uint32_t id)
{
	if (kr == NULL || !seal_purpose_ok(purpose) || !seal_id_ok(id))
		return CB_ERR_VALIDATION;
	if (seal_find(kr, purpose, id) == NULL)
		return CB_ERR_CONFIG;
	kr->current[purpose] = id;
	return CB_OK;
}

int
seal_keyring_current(const struct seal_keyring *kr, int purpose, uint32_t *id)
{
	*id = 0;
	if (kr == NULL || !seal_purpose_ok(purpose))
		return CB_ERR_VALIDATION;
	if (kr->current[purpose] == 0)
		return CB_ERR_CONFIG;
	*id = kr->current[purpose];
	return CB_OK;
}

void
seal_key_generate(unsigned char dk[SEAL_KEYBYTES])
{
	crypto_aead_xchacha20poly1305_ietf_keygen(dk);
}

/* The wrap AD: version, purpose, id: a wrapped key is valid for one row. */
static void
seal_wrap_ad(unsigned char ad[6], int purpose, uint32_t id)
{
	ad[0] = SEAL_VERSION;
	ad[1] = (unsigned char)purpose;
	seal_put32(ad + 2, id);
}

static int
seal_kek(const struct seal_keyring *kr, int purpose, unsigned char kek[SEAL_KEYBYTES])
{
	if (crypto_kdf_derive_from_key(kek, SEAL_KEYBYTES, SEAL_KEK_SUBKEY_ID,
	    seal_kek_ctx[purpose], kr->root) != 0)
		return CB_ERR_INTERNAL;
	return CB_OK;
}

int
seal_wrap_key(const struct seal_keyring *kr, int purpose, uint32_t id,
    const unsigned char dk[SEAL_KEYBYTES], unsigned char wrapped[SEAL_WRAPPED_BYTES])
{
	unsigned char	 kek[SEAL_KEYBYTES], ad[6];
	int		 rc;

	if (kr == NULL || dk == NULL || wrapped == NULL ||
	    !seal_purpose_ok(purpose) || !seal_id_ok(id))
		return CB_ERR_VALIDATION;
	if ((rc = seal_kek(kr, purpose, kek)) != CB_OK)
		goto out;
	seal_wrap_ad(ad, purpose, id);
	wrapped[0] = SEAL_VERSION;
	randombytes_buf(wrapped + 1, SEAL_NONCEBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 1 + SEAL_NONCEBYTES,
	    NULL, dk, SEAL_KEYBYTES, ad, sizeof(ad), NULL, wrapped + 1, kek);
	rc = CB_OK;
out:
	sodium_memzero(kek, sizeof(kek));
	return rc;
}

int
seal_unwrap_key(const struct seal_keyring *kr, int purpose, uint32_t id,
    const unsigned char *wrapped, size_t n, unsigned char dk[SEAL_KEYBYTES])
{
	unsigned char	 kek[SEAL_KEYBYTES], ad[6];
	int		 rc = CB_ERR_CRYPTO;

	if (dk == NULL)
		return CB_ERR_VALIDATION;
	sodium_memzero(dk, SEAL_KEYBYTES);
	if (kr == NULL || !seal_purpose_ok(purpose) || !seal_id_ok(id))
		return CB_ERR_VALIDATION;
	if (wrapped == NULL || n != SEAL_WRAPPED_BYTES || wrapped[0] != SEAL_VERSION)
		return CB_ERR_CRYPTO;
	if ((rc = seal_kek(kr, purpose, kek)) != CB_OK)
		goto out;
	seal_wrap_ad(ad, purpose, id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dk, NULL, NULL,
	    wrapped + 1 + SEAL_NONCEBYTES, SEAL_KEYBYTES + SEAL_TAGBYTES,
	    ad, sizeof(ad), wrapped + 1, kek) != 0) {
		sodium_memzero(dk, SEAL_KEYBYTES);
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	rc = CB_OK;
out:
	sodium_memzero(kek, sizeof(kek));
	return rc;
}

/* AD = header (5 bytes) || purpose || aad; returns its length. */
static size_t
seal_ad(unsigned char ad[SEAL_AD_MAX], const unsigned char hdr[SEAL_HEADERBYTES],
    int purpose, const char *aad, size_t alen)
{
	memcpy(ad, hdr, SEAL_HEADERBYTES);
	ad[SEAL_HEADERBYTES] = (unsigned char)purpose;
	memcpy(ad + SEAL_HEADERBYTES + 1, aad, alen);
	return SEAL_HEADERBYTES + 1 + alen;
}

/* The caller's AAD: present, 1..SEAL_MAX_AAD bytes. */
static int
seal_aad_ok(const char *aad, size_t *alen)
{
	if (aad == NULL)
		return 0;
	*alen = strnlen(aad, SEAL_MAX_AAD + 1);
	return *alen >= 1 && *alen <= SEAL_MAX_AAD;
}

/* What sealing and opening both need: a keyring, a purpose, the AAD. */
static int
seal_args_ok(const struct seal_keyring *kr, int purpose, const char *aad, size_t *alen)
{
	return kr != NULL && seal_purpose_ok(purpose) && seal_aad_ok(aad, alen);
}

int
seal_seal(const struct seal_keyring *kr, int purpose, const unsigned char *plain,
    size_t n, const char *aad, struct buf *out)
{
	const struct seal_key	*k;
	unsigned char		 ad[SEAL_AD_MAX];
	unsigned char		*blob = NULL;
	size_t			 alen = 0, adlen;
	int			 rc;

	if (out == NULL || (plain == NULL && n > 0) || !seal_args_ok(kr, purpose, aad, &alen))
		return CB_ERR_VALIDATION;
	if (n > SEAL_MAX_PLAIN)
		return CB_ERR_TOO_LARGE;
	if (kr->current[purpose] == 0 ||
	    (k = seal_find(kr, purpose, kr->current[purpose])) == NULL)
		return CB_ERR_CONFIG;

	blob = util_malloc(SEAL_OVERHEAD + n);
	blob[0] = SEAL_VERSION;
	seal_put32(blob + 1, k->id);
	randombytes_buf(blob + SEAL_HEADERBYTES, SEAL_NONCEBYTES);
	adlen = seal_ad(ad, blob, purpose, aad, alen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    blob + SEAL_HEADERBYTES + SEAL_NONCEBYTES, NULL,
	    plain, n, ad, adlen, NULL, blob + SEAL_HEADERBYTES, k->k);
	rc = buf_append(out, blob, SEAL_OVERHEAD + n);
	free(blob);
	return rc;
}

int
seal_open(const struct seal_keyring *kr, int purpose, const unsigned char *sealed,
    size_t n, const char *aad, struct buf *plain)
{
	const struct seal_key	*k;
	unsigned char		 ad[SEAL_AD_MAX];
	unsigned char		*m = NULL;
	size_t			 alen = 0, adlen, mlen;
	int			 rc;

	if (plain == NULL || !seal_args_ok(kr, purpose, aad, &alen))
		return CB_ERR_VALIDATION;
	if (sealed == NULL || n < SEAL_OVERHEAD || n - SEAL_OVERHEAD > SEAL_MAX_PLAIN ||
	    sealed[0] != SEAL_VERSION)
		return CB_ERR_CRYPTO;
	if ((k = seal_find(kr, purpose, seal_get32(sealed + 1))) == NULL)
		return CB_ERR_CRYPTO;
	mlen = n - SEAL_OVERHEAD;
	m = util_malloc(mlen);
	adlen = seal_ad(ad, sealed, purpose, aad, alen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL,
	    sealed + SEAL_HEADERBYTES + SEAL_NONCEBYTES,
	    n - SEAL_HEADERBYTES - SEAL_NONCEBYTES, ad, adlen,
	    sealed + SEAL_HEADERBYTES, k->k) != 0) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	rc = buf_append(plain, m, mlen);
out:
	sodium_memzero(m, mlen ? mlen : 1);
	free(m);
	return rc;
}

int
seal_seal_text(const struct seal_keyring *kr, int purpose,
    const unsigned char *plain, size_t n, const char *aad, struct buf *out)
{
	struct buf	 bin;
	size_t		 start;
	int		 rc;

	if (out == NULL)
		return CB_ERR_VALIDATION;
	buf_init(&bin, SEAL_MAX_PLAIN + SEAL_OVERHEAD);
	start = out->len;
	if ((rc = seal_seal(kr, purpose, plain, n, aad, &bin)) != CB_OK)
		goto out;
	if ((rc = buf_puts(out, SEAL_TEXT_PREFIX)) != CB_OK ||
	    (rc = b64url_encode_buf(out, (const unsigned char *)bin.data, bin.len)) != CB_OK) {
		/* No half-written value. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
out:
	buf_free(&bin);
	return rc;
}

/* Decode the base64url part of a text value into a new buffer. */
static int
seal_text_decode(const char *text, unsigned char **bin, size_t *n)
{
	size_t	 len, cap;

	*bin = NULL;
	*n = 0;
	if (text == NULL || strncmp(text, SEAL_TEXT_PREFIX, SEAL_TEXT_PREFIX_LEN) != 0)
		return CB_ERR_CRYPTO;
	text += SEAL_TEXT_PREFIX_LEN;
	len = strnlen(text, B64URL_ENCODED_LEN(SEAL_MAX_PLAIN + SEAL_OVERHEAD) + 1);
	if (len < B64URL_ENCODED_LEN(SEAL_OVERHEAD) ||
	    len > B64URL_ENCODED_LEN(SEAL_MAX_PLAIN + SEAL_OVERHEAD))
		return CB_ERR_CRYPTO;
	cap = B64URL_DECODED_LEN(len) + 1;
	*bin = util_malloc(cap);
	if (b64url_decode(*bin, cap, n, text, len) != CB_OK) {
		free(*bin);
		*bin = NULL;
		return CB_ERR_CRYPTO;
	}
	return CB_OK;
}

int
seal_open_text(const struct seal_keyring *kr, int purpose, const char *text,
    const char *aad, struct buf *plain)
{
	unsigned char	*bin = NULL;
	size_t		 n = 0;
	int		 rc;

	if ((rc = seal_text_decode(text, &bin, &n)) != CB_OK)
		return rc;
	rc = seal_open(kr, purpose, bin, n, aad, plain);
	free(bin);
	return rc;
}

int
seal_key_id(const unsigned char *sealed, size_t n, uint32_t *id)
{
	uint32_t	 v;

	*id = 0;
	if (sealed == NULL || n < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION)
		return CB_ERR_CRYPTO;
	v = seal_get32(sealed + 1);
	if (!seal_id_ok(v))
		return CB_ERR_CRYPTO;
	*id = v;
	return CB_OK;
}

int
seal_key_id_text(const char *text, uint32_t *id)
{
	unsigned char	*bin = NULL;
	size_t		 n = 0;
	int		 rc;

	*id = 0;
	if ((rc = seal_text_decode(text, &bin, &n)) != CB_OK)
		return rc;
	rc = seal_key_id(bin, n, id);
	free(bin);
	return rc;
}
