/*
 * test_seal: sealed values at rest.  Round trip per purpose; the AAD binds a
 * value to its row; any altered byte, another purpose, an unknown key id or
 * another root key fails with CB_ERR_CRYPTO; rotation keeps old values
 * readable and re-seals under the new id; the root key file is refused when
 * others may read it or it is not 64 hex characters, with a message that
 * says why; wrapped data keys round-trip and detect tampering.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "seal.h"
#include "util.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define ROOT_A	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define ROOT_B	"F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF"

static char	 dir[64];
static char	 path_a[128], path_b[128];
static struct seal_keyring *kr_a, *kr_b;

static void
write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int	 fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	/* fchmod, not the open mode: the umask must not soften the test. */
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void
path_in_dir(char *out, size_t outsz, const char *name)
{
	ck_assert_int_lt(snprintf(out, outsz, "%s/%s", dir, name), (int)outsz);
}

static struct seal_keyring *
load_ok(const char *path)
{
	struct seal_keyring	*kr = NULL;
	char			 err[256];

	ck_assert_msg(seal_keyring_load(&kr, path, err, sizeof(err)) == CB_OK,
	    "load %s: %s", path, err);
	ck_assert_ptr_nonnull(kr);
	return kr;
}

static void
setup(void)
{
	int	 p;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_uint_lt(util_strlcpy(dir, "/tmp/cb-seal-XXXXXX", sizeof(dir)), sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	path_in_dir(path_a, sizeof(path_a), "root-a.key");
	path_in_dir(path_b, sizeof(path_b), "root-b.key");
	write_file(path_a, ROOT_A "\n", 65, 0600);
	write_file(path_b, ROOT_B, 64, 0400);
	kr_a = load_ok(path_a);
	kr_b = load_ok(path_b);
	for (p = 0; p < SEAL_PURPOSE__COUNT; p++) {
		ck_assert_int_eq(seal_keyring_add_derived(kr_a, p, 1), CB_OK);
		ck_assert_int_eq(seal_keyring_set_current(kr_a, p, 1), CB_OK);
		ck_assert_int_eq(seal_keyring_add_derived(kr_b, p, 1), CB_OK);
		ck_assert_int_eq(seal_keyring_set_current(kr_b, p, 1), CB_OK);
	}
}

static void
teardown(void)
{
	static const char *const names[] = { "root-a.key", "root-b.key",
	    "case.key", "foreign.key", "fifo.key" };
	char	 path[128];
	size_t	 i;

	seal_keyring_free(kr_a);
	seal_keyring_free(kr_b);
	kr_a = kr_b = NULL;
	for (i = 0; i < NELEM(names); i++) {
		path_in_dir(path, sizeof(path), names[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static void
seal_ok(const struct seal_keyring *kr, int purpose, const char *msg,
    const char *aad, struct buf *out)
{
	buf_init(out, 0);
	ck_assert_int_eq(seal_seal(kr, purpose, (const unsigned char *)msg,
	    strlen(msg), aad, out), CB_OK);
}

static void
open_ok(const struct seal_keyring *kr, int purpose, const struct buf *sealed,
    const char *aad, const char *want)
{
	struct buf	 plain;

	buf_init(&plain, 0);
	ck_assert_int_eq(seal_open(kr, purpose, (const unsigned char *)sealed->data,
	    sealed->len, aad, &plain), CB_OK);
	ck_assert_uint_eq(plain.len, strlen(want));
	ck_assert_int_eq(memcmp(buf_cstr(&plain), want, plain.len), 0);
	buf_wipe(&plain);
}

static void
open_fails(const struct seal_keyring *kr, int purpose, const unsigned char *s,
    size_t n, const char *aad)
{
	struct buf	 plain;

	buf_init(&plain, 0);
	ck_assert_int_eq(buf_puts(&plain, "kept"), CB_OK);
	ck_assert_int_eq(seal_open(kr, purpose, s, n, aad, &plain), CB_ERR_CRYPTO);
	/* Nothing was appended. */
	ck_assert_str_eq(buf_cstr(&plain), "kept");
	buf_free(&plain);
}

/* ------------------------------------------------------------ sealing */

START_TEST(test_round_trip)
{
	static const char *const msgs[] = { "jane.doe@example.com", "", "x",
	    "a longer value with\nnewlines and \xc3\xa9 and a NUL-free tail" };
	struct buf	 s, s2;
	uint32_t	 id = 0;
	size_t		 i;
	int		 purpose = _i;

	for (i = 0; i < NELEM(msgs); i++) {
		seal_ok(kr_a, purpose, msgs[i], "users:42:email", &s);
		ck_assert_uint_eq(s.len, SEAL_OVERHEAD + strlen(msgs[i]));
		ck_assert_int_eq((unsigned char)s.data[0], SEAL_VERSION);
		ck_assert_int_eq(seal_key_id((const unsigned char *)s.data, s.len, &id), CB_OK);
		ck_assert_uint_eq(id, 1);
		open_ok(kr_a, purpose, &s, "users:42:email", msgs[i]);
		/* A fresh nonce every time: equal plaintexts do not show. */
		seal_ok(kr_a, purpose, msgs[i], "users:42:email", &s2);
		ck_assert_int_ne(memcmp(s.data, s2.data, s.len), 0);
		buf_free(&s);
		buf_free(&s2);
	}
}
END_TEST

START_TEST(test_aad_binds_row)
{
	struct buf	 s;

	seal_ok(kr_a, SEAL_PURPOSE_TOKENS, "family=7;parent=3", "refresh_tokens:1:meta", &s);
	open_ok(kr_a, SEAL_PURPOSE_TOKENS, &s, "refresh_tokens:1:meta", "family=7;parent=3");
	open_fails(kr_a, SEAL_PURPOSE_TOKENS, (const unsigned char *)s.data, s.len,
	    "refresh_tokens:2:meta");
	open_fails(kr_a, SEAL_PURPOSE_TOKENS, (const unsigned char *)s.data, s.len,
	    "refresh_tokens:1:met");
	open_fails(kr_a, SEAL_PURPOSE_TOKENS, (const unsigned char *)s.data, s.len,
	    "refresh_tokens:1:meta ");
	buf_free(&s);
}
END_TEST

START_TEST(test_every_byte_flipped)
{
	struct buf	 s;
	unsigned char	*copy;
	size_t		 i;
	int		 bit;

	seal_ok(kr_a, SEAL_PURPOSE_PII, "+44 20 7946 0000", "users:9:phone", &s);
	copy = malloc(s.len);
	ck_assert_ptr_nonnull(copy);
	for (i = 0; i < s.len; i++)
		for (bit = 0; bit < 8; bit += 7) {
			memcpy(copy, s.data, s.len);
			copy[i] ^= (unsigned char)(1u << bit);
			open_fails(kr_a, SEAL_PURPOSE_PII, copy, s.len, "users:9:phone");
		}
	/* Truncated or extended. */
	open_fails(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)s.data, s.len - 1,
	    "users:9:phone");
	open_fails(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)s.data,
	    SEAL_OVERHEAD - 1, "users:9:phone");
	open_fails(kr_a, SEAL_PURPOSE_PII, NULL, 0, "users:9:phone");
	free(copy);
	buf_free(&s);
}
END_TEST

START_TEST(test_purpose_separation)
{
	struct buf	 s;

	/* Both purposes have a key with id 1; they are different keys. */
	seal_ok(kr_a, SEAL_PURPOSE_TOKENS, "secret", "api_keys:5:hash", &s);
	open_fails(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)s.data, s.len,
	    "api_keys:5:hash");
	buf_free(&s);
	seal_ok(kr_a, SEAL_PURPOSE_PII, "Jane", "users:5:name", &s);
	open_fails(kr_a, SEAL_PURPOSE_TOKENS, (const unsigned char *)s.data, s.len,
	    "users:5:name");
	buf_free(&s);
}
END_TEST

START_TEST(test_unknown_key_id)
{
	struct seal_keyring	*kr;
	struct buf		 s;
	unsigned char		*copy;

	/* Sealed under id 2, which a keyring with only id 1 does not hold. */
	ck_assert_int_eq(seal_keyring_add_derived(kr_a, SEAL_PURPOSE_PII, 2), CB_OK);
	ck_assert_int_eq(seal_keyring_set_current(kr_a, SEAL_PURPOSE_PII, 2), CB_OK);
	seal_ok(kr_a, SEAL_PURPOSE_PII, "Jane", "users:1:name", &s);
	kr = load_ok(path_a);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 1), CB_OK);
	open_fails(kr, SEAL_PURPOSE_PII, (const unsigned char *)s.data, s.len, "users:1:name");
	/* Once it learns id 2 (same root, so the same derived key) it opens. */
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 2), CB_OK);
	open_ok(kr, SEAL_PURPOSE_PII, &s, "users:1:name", "Jane");
	/* A header naming an id nobody has. */
	copy = malloc(s.len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s.data, s.len);
	copy[4] = 9;
	open_fails(kr, SEAL_PURPOSE_PII, copy, s.len, "users:1:name");
	free(copy);
	seal_keyring_free(kr);
	buf_free(&s);
}
END_TEST

START_TEST(test_rotation)
{
	struct buf	 old, plain, again;
	uint32_t	 id = 0;

	seal_ok(kr_a, SEAL_PURPOSE_PII, "jane.doe@example.com", "users:3:email", &old);
	ck_assert_int_eq(seal_key_id((const unsigned char *)old.data, old.len, &id), CB_OK);
	ck_assert_uint_eq(id, 1);

	ck_assert_int_eq(seal_keyring_add_derived(kr_a, SEAL_PURPOSE_PII, 2), CB_OK);
	ck_assert_int_eq(seal_keyring_set_current(kr_a, SEAL_PURPOSE_PII, 2), CB_OK);
	ck_assert_int_eq(seal_keyring_current(kr_a, SEAL_PURPOSE_PII, &id), CB_OK);
	ck_assert_uint_eq(id, 2);
	/* The other purpose is untouched. */
	ck_assert_int_eq(seal_keyring_current(kr_a, SEAL_PURPOSE_TOKENS, &id), CB_OK);
	ck_assert_uint_eq(id, 1);

	/* The old value still opens; the re-seal job moves it to id 2. */
	buf_init(&plain, 0);
	ck_assert_int_eq(seal_open(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)old.data,
	    old.len, "users:3:email", &plain), CB_OK);
	buf_init(&again, 0);
	ck_assert_int_eq(seal_seal(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)plain.data,
	    plain.len, "users:3:email", &again), CB_OK);
	ck_assert_int_eq(seal_key_id((const unsigned char *)again.data, again.len, &id), CB_OK);
	ck_assert_uint_eq(id, 2);
	open_ok(kr_a, SEAL_PURPOSE_PII, &again, "users:3:email", "jane.doe@example.com");
	open_ok(kr_a, SEAL_PURPOSE_PII, &old, "users:3:email", "jane.doe@example.com");

	buf_wipe(&plain);
	buf_free(&again);
	buf_free(&old);
}
END_TEST

START_TEST(test_wrong_root)
{
	struct buf	 s;

	seal_ok(kr_a, SEAL_PURPOSE_PII, "Jane", "users:1:name", &s);
	open_fails(kr_b, SEAL_PURPOSE_PII, (const unsigned char *)s.data, s.len, "users:1:name");
	buf_free(&s);
}
END_TEST

/* Derived keys come from the root alone: another process, same root, opens. */
START_TEST(test_derivation_is_stable)
{
	struct seal_keyring	*kr;
	struct buf		 s;

	seal_ok(kr_a, SEAL_PURPOSE_TOKENS, "meta", "refresh_tokens:9:meta", &s);
	kr = load_ok(path_a);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_TOKENS, 1), CB_OK);
	open_ok(kr, SEAL_PURPOSE_TOKENS, &s, "refresh_tokens:9:meta", "meta");
	seal_keyring_free(kr);
	buf_free(&s);
}
END_TEST

START_TEST(test_text_form)
{
	struct buf	 t, plain;
	uint32_t	 id = 0;
	char		*bad;
	size_t		 n;

	buf_init(&t, 0);
	ck_assert_int_eq(seal_seal_text(kr_a, SEAL_PURPOSE_PII,
	    (const unsigned char *)"Jane Doe", 8, "users:4:name", &t), CB_OK);
	ck_assert_int_eq(strncmp(t.data, "v1.", 3), 0);
	ck_assert_uint_eq(t.len, 3 + (4 * (SEAL_OVERHEAD + 8) + 2) / 3);
	ck_assert_ptr_null(strpbrk(t.data + 3, "+/=. \n"));
	ck_assert_int_eq(seal_key_id_text(t.data, &id), CB_OK);
	ck_assert_uint_eq(id, 1);

	buf_init(&plain, 0);
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, t.data, "users:4:name",
	    &plain), CB_OK);
	ck_assert_str_eq(buf_cstr(&plain), "Jane Doe");
	buf_reset(&plain);
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, t.data, "users:5:name",
	    &plain), CB_ERR_CRYPTO);

	n = t.len + 4;
	bad = malloc(n);
	ck_assert_ptr_nonnull(bad);
	/* Another version prefix. */
	ck_assert_uint_lt(util_strlcpy(bad, t.data, n), n);
	bad[1] = '2';
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, bad, "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	ck_assert_int_eq(seal_key_id_text(bad, &id), CB_ERR_CRYPTO);
	/* Padding, truncation, a changed character. */
	ck_assert_uint_lt(util_strlcpy(bad, t.data, n), n);
	bad[t.len] = '=';
	bad[t.len + 1] = '\0';
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, bad, "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	bad[t.len - 1] = '\0';
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, bad, "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	ck_assert_uint_lt(util_strlcpy(bad, t.data, n), n);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, bad, "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, "v1.", "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	ck_assert_int_eq(seal_open_text(kr_a, SEAL_PURPOSE_PII, NULL, "users:4:name", &plain),
	    CB_ERR_CRYPTO);
	ck_assert_uint_eq(plain.len, 0);
	free(bad);
	buf_wipe(&plain);
	buf_free(&t);
}
END_TEST

START_TEST(test_misuse)
{
	struct seal_keyring	*kr;
	struct buf		 s, small;
	unsigned char		*big;
	uint32_t		 id = 7;

	buf_init(&s, 0);
	/* No current key: refuse rather than pick one. */
	kr = load_ok(path_a);
	ck_assert_int_eq(seal_keyring_current(kr, SEAL_PURPOSE_PII, &id), CB_ERR_CONFIG);
	ck_assert_uint_eq(id, 0);
	ck_assert_int_eq(seal_seal(kr, SEAL_PURPOSE_PII, (const unsigned char *)"x", 1,
	    "t:1:c", &s), CB_ERR_CONFIG);
	ck_assert_int_eq(seal_keyring_set_current(kr, SEAL_PURPOSE_PII, 1), CB_ERR_CONFIG);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 0), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII,
	    SEAL_KEY_ID_MAX + 1), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE__COUNT, 1), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_keyring_add_derived(kr, -1, 1), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 1), CB_OK);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 1), CB_ERR_CONFLICT);
	seal_keyring_free(kr);

	/* The AAD is required and bounded; the purpose must exist. */
	ck_assert_int_eq(seal_seal(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)"x", 1,
	    NULL, &s), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_seal(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)"x", 1,
	    "", &s), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_seal(kr_a, 2, (const unsigned char *)"x", 1,
	    "t:1:c", &s), CB_ERR_VALIDATION);
	ck_assert_int_eq(seal_open(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)"x", 1,
	    NULL, &s), CB_ERR_VALIDATION);
	ck_assert_uint_eq(s.len, 0);

	/* Size caps: the plaintext's and the output buffer's. */
	big = calloc(1, SEAL_MAX_PLAIN + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(seal_seal(kr_a, SEAL_PURPOSE_PII, big, SEAL_MAX_PLAIN + 1,
	    "t:1:c", &s), CB_ERR_TOO_LARGE);
	free(big);
	buf_init(&small, SEAL_OVERHEAD + 3);
	ck_assert_int_eq(seal_seal(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)"abcd", 4,
	    "t:1:c", &small), CB_ERR_TOO_LARGE);
	ck_assert_uint_eq(small.len, 0);
	ck_assert_int_eq(seal_seal_text(kr_a, SEAL_PURPOSE_PII, (const unsigned char *)"abcd", 4,
	    "t:1:c", &small), CB_ERR_TOO_LARGE);
	ck_assert_uint_eq(small.len, 0);
	buf_free(&small);

	ck_assert_int_eq(seal_key_id((const unsigned char *)"\x01\x00\x00\x00\x01", 5, &id),
	    CB_ERR_CRYPTO);
	ck_assert_uint_eq(id, 0);
	buf_free(&s);
}
END_TEST

/* --------------------------------------------------------- wrapped keys */

START_TEST(test_wrap_round_trip)
{
	struct seal_keyring	*kr;
	unsigned char		 dk[SEAL_KEYBYTES], back[SEAL_KEYBYTES];
	unsigned char		 w[SEAL_WRAPPED_BYTES], w2[SEAL_WRAPPED_BYTES];
	struct buf		 s;

	seal_key_generate(dk);
	ck_assert_int_eq(sodium_is_zero(dk, sizeof(dk)), 0);
	ck_assert_int_eq(seal_wrap_key(kr_a, SEAL_PURPOSE_PII, 5, dk, w), CB_OK);
	ck_assert_int_eq(seal_unwrap_key(kr_a, SEAL_PURPOSE_PII, 5, w, sizeof(w), back), CB_OK);
	ck_assert_int_eq(sodium_memcmp(dk, back, sizeof(dk)), 0);
	/* Wrapping twice gives different bytes (fresh nonce), same key. */
	ck_assert_int_eq(seal_wrap_key(kr_a, SEAL_PURPOSE_PII, 5, dk, w2), CB_OK);
	ck_assert_int_ne(memcmp(w, w2, sizeof(w)), 0);

	/* The operator flow: the stored row is loaded by another process. */
	ck_assert_int_eq(seal_keyring_add_wrapped(kr_a, SEAL_PURPOSE_PII, 5, w, sizeof(w)), CB_OK);
	ck_assert_int_eq(seal_keyring_set_current(kr_a, SEAL_PURPOSE_PII, 5), CB_OK);
	seal_ok(kr_a, SEAL_PURPOSE_PII, "Jane", "users:1:name", &s);
	kr = load_ok(path_a);
	ck_assert_int_eq(seal_keyring_add_wrapped(kr, SEAL_PURPOSE_PII, 5, w2, sizeof(w2)), CB_OK);
	open_ok(kr, SEAL_PURPOSE_PII, &s, "users:1:name", "Jane");
	ck_assert_int_eq(seal_keyring_add_wrapped(kr, SEAL_PURPOSE_PII, 5, w2, sizeof(w2)),
	    CB_ERR_CONFLICT);
	/* A derived id 5 is a different key from the wrapped id 5. */
	seal_keyring_free(kr);
	kr = load_ok(path_a);
	ck_assert_int_eq(seal_keyring_add_derived(kr, SEAL_PURPOSE_PII, 5), CB_OK);
	open_fails(kr, SEAL_PURPOSE_PII, (const unsigned char *)s.data, s.len, "users:1:name");
	seal_keyring_free(kr);

	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(back, sizeof(back));
	buf_free(&s);
}
END_TEST

static void
unwrap_fails(const struct seal_keyring *kr, int purpose, uint32_t id,
    const unsigned char *w, size_t n)
{
	unsigned char	 dk[SEAL_KEYBYTES];

	memset(dk, 0xaa, sizeof(dk));
	ck_assert_int_eq(seal_unwrap_key(kr, purpose, id, w, n, dk), CB_ERR_CRYPTO);
	ck_assert_int_eq(sodium_is_zero(dk, sizeof(dk)), 1);
}

START_TEST(test_wrap_tamper)
{
	struct seal_keyring	*kr;
	unsigned char		 dk[SEAL_KEYBYTES], w[SEAL_WRAPPED_BYTES], c[SEAL_WRAPPED_BYTES + 1];
	size_t			 i;

	seal_key_generate(dk);
	ck_assert_int_eq(seal_wrap_key(kr_a, SEAL_PURPOSE_TOKENS, 3, dk, w), CB_OK);
	for (i = 0; i < sizeof(w); i++) {
		memcpy(c, w, sizeof(w));
		c[i] ^= 0x80;
		unwrap_fails(kr_a, SEAL_PURPOSE_TOKENS, 3, c, sizeof(w));
	}
	/* Copied to another row: another id, another purpose. */
	unwrap_fails(kr_a, SEAL_PURPOSE_TOKENS, 4, w, sizeof(w));
	unwrap_fails(kr_a, SEAL_PURPOSE_PII, 3, w, sizeof(w));
	/* Another root key. */
	unwrap_fails(kr_b, SEAL_PURPOSE_TOKENS, 3, w, sizeof(w));
	/* Wrong lengths. */
	unwrap_fails(kr_a, SEAL_PURPOSE_TOKENS, 3, w, sizeof(w) - 1);
	memcpy(c, w, sizeof(w));
	c[sizeof(w)] = 0;
	unwrap_fails(kr_a, SEAL_PURPOSE_TOKENS, 3, c, sizeof(c));
	/* And the keyring refuses to load such a row. */
	kr = load_ok(path_b);
	ck_assert_int_eq(seal_keyring_add_wrapped(kr, SEAL_PURPOSE_TOKENS, 3, w, sizeof(w)),
	    CB_ERR_CRYPTO);
	ck_assert_int_eq(seal_keyring_set_current(kr, SEAL_PURPOSE_TOKENS, 3), CB_ERR_CONFIG);
	seal_keyring_free(kr);
	sodium_memzero(dk, sizeof(dk));
}
END_TEST

/* ------------------------------------------------------- root key file */

#define HEX64	ROOT_A

static const struct {
	const char	*what;
	const char	*content;
	size_t		 len;
	mode_t		 mode;
	const char	*why;	/* NULL: loads; else a substring of the message */
} root_cases[] = {
	{ "0600 with newline", HEX64 "\n", 65, 0600, NULL },
	{ "0600 without newline", HEX64, 64, 0600, NULL },
	{ "0400", HEX64, 64, 0400, NULL },
	{ "upper case hex", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 64, 0600, NULL },
	{ "0644", HEX64, 64, 0644, "mode 0644 lets group or other access it" },
	{ "0640", HEX64, 64, 0640, "mode 0640 lets group or other access it" },
	{ "0604", HEX64, 64, 0604, "mode 0604 lets group or other access it" },
	{ "0620 (group may write)", HEX64, 64, 0620, "mode 0620" },
	{ "0602 (other may write)", HEX64, 64, 0602, "mode 0602" },
	{ "0610 (group may execute)", HEX64, 64, 0610, "mode 0610" },
	{ "63 hex characters", HEX64, 63, 0600, "63 bytes; expected exactly 64 hexadecimal" },
	{ "65 hex characters", HEX64 "0", 65, 0600, "expected exactly 64 hexadecimal" },
	{ "128 hex characters", HEX64 HEX64, 128, 0600, "128 bytes" },
	{ "CR LF", HEX64 "\r\n", 66, 0600, "66 bytes" },
	{ "two newlines", HEX64 "\n\n", 66, 0600, "66 bytes" },
	{ "leading space", " " HEX64, 65, 0600, "expected exactly 64 hexadecimal" },
	{ "not hex", "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64, 0600,
	  "expected exactly 64 hexadecimal" },
	{ "32 raw bytes", "\x9d\x61\xb1\x9d\xef\xfd\x5a\x60\xba\x84\x4a\xf4\x92\xec\x2c\xc4"
	  "\x44\x49\xc5\x69\x7b\x32\x69\x19\x70\x3b\xac\x03\x1c\xae\x7f\x60", 32, 0600, "case.key: 32 bytes;" },
	{ "empty", "", 0, 0600, "case.key: 0 bytes;" },
	{ "all zeros", "0000000000000000000000000000000000000000000000000000000000000000", 64, 0600,
	  "all zeros" },
};

START_TEST(test_root_file)
{
	struct seal_keyring	*kr = (struct seal_keyring *)1;
	char			 path[128], err[512];
	int			 rc;

	path_in_dir(path, sizeof(path), "case.key");
	write_file(path, root_cases[_i].content, root_cases[_i].len, root_cases[_i].mode);
	err[0] = 'x';
	rc = seal_keyring_load(&kr, path, err, sizeof(err));
	if (root_cases[_i].why == NULL) {
		ck_assert_msg(rc == CB_OK, "%s: %s", root_cases[_i].what, err);
		ck_assert_ptr_nonnull(kr);
		ck_assert_str_eq(err, "");
		seal_keyring_free(kr);
	} else {
		ck_assert_msg(rc == CB_ERR_CONFIG, "%s: loaded", root_cases[_i].what);
		ck_assert_ptr_null(kr);
		ck_assert_msg(strstr(err, root_cases[_i].why) != NULL,
		    "%s: message \"%s\" lacks \"%s\"", root_cases[_i].what, err,
		    root_cases[_i].why);
		/* The message names the file; it never echoes the content. */
		ck_assert_ptr_nonnull(strstr(err, path));
		ck_assert_ptr_null(strstr(err, "0102030405"));
	}
}
END_TEST

START_TEST(test_root_file_other)
{
	struct seal_keyring	*kr = NULL;
	char			 path[128], err[512];

	/* Missing. */
	path_in_dir(path, sizeof(path), "absent.key");
	ck_assert_int_eq(seal_keyring_load(&kr, path, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	/* A directory. */
	ck_assert_int_eq(seal_keyring_load(&kr, dir, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	/* A FIFO: refused at once, not waited on. */
	path_in_dir(path, sizeof(path), "fifo.key");
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(seal_keyring_load(&kr, path, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	/* Not configured. */
	ck_assert_int_eq(seal_keyring_load(&kr, "", err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "no root key file"));
	ck_assert_int_eq(seal_keyring_load(&kr, NULL, NULL, 0), CB_ERR_CONFIG);
	ck_assert_ptr_null(kr);
	/* Owned by someone else (only root can arrange that here). */
	if (geteuid() == 0) {
		path_in_dir(path, sizeof(path), "foreign.key");
		write_file(path, HEX64, 64, 0600);
		ck_assert_int_eq(chown(path, 4242, 4242), 0);
		ck_assert_int_eq(seal_keyring_load(&kr, path, err, sizeof(err)), CB_ERR_CONFIG);
		ck_assert_ptr_nonnull(strstr(err, "owned by uid 4242"));
		ck_assert_ptr_null(kr);
	}
}
END_TEST

static Suite *
seal_suite(void)
{
	Suite	*s = suite_create("seal");
	TCase	*tc;

	tc = tcase_create("seal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_round_trip, 0, SEAL_PURPOSE__COUNT);
	tcase_add_test(tc, test_aad_binds_row);
	tcase_add_test(tc, test_every_byte_flipped);
	tcase_add_test(tc, test_purpose_separation);
	tcase_add_test(tc, test_unknown_key_id);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_wrong_root);
	tcase_add_test(tc, test_derivation_is_stable);
	tcase_add_test(tc, test_text_form);
	tcase_add_test(tc, test_misuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("wrap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_wrap_round_trip);
	tcase_add_test(tc, test_wrap_tamper);
	suite_add_tcase(s, tc);

	tc = tcase_create("root_file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_root_file, 0, (int)NELEM(root_cases));
	tcase_add_test(tc, test_root_file_other);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	if (sodium_init() < 0)
		return 2;
	sr = srunner_create(seal_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
