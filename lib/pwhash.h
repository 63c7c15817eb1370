/*
 * pwhash: password hashing with Argon2id (libsodium crypto_pwhash, algorithm
 * crypto_pwhash_ALG_ARGON2ID13), stored in the PHC string format
 * ("$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>") that carries its own
 * salt and parameters.
 *
 * Parameters: opslimit (t) = 2 passes, memlimit (m) = 64 MiB (67108864
 * bytes), parallelism 1: libsodium's OPSLIMIT_INTERACTIVE and
 * MEMLIMIT_INTERACTIVE for Argon2id, which the .c asserts.  They suit a
 * login on a request path; raise them here when the hardware allows, and
 * pwhash_needs_rehash will flag every older hash for an upgrade at the
 * user's next successful login.
 *
 * Passwords are byte strings of PWHASH_PASSWORD_MIN..PWHASH_PASSWORD_MAX
 * bytes without NUL (length in bytes, not characters; no normalisation).
 * Verification is constant time by construction (libsodium recomputes the
 * hash and compares in constant time).  pwhash_dummy_verify spends the same
 * time as a real verification, for logins naming no account, so timing does
 * not reveal which accounts exist.  This module keeps no copy of a password.
 */
#ifndef CB_PWHASH_H
#define CB_PWHASH_H

#include <stddef.h>

#include <sodium.h>

#define PWHASH_OPSLIMIT		2			/* passes (t) */
#define PWHASH_MEMLIMIT_KIB	65536			/* m, in KiB: 64 MiB */
#define PWHASH_MEMLIMIT		((size_t)PWHASH_MEMLIMIT_KIB * 1024u)
#define PWHASH_STRBYTES		crypto_pwhash_STRBYTES	/* 128, NUL included */
#define PWHASH_PASSWORD_MIN	8u
#define PWHASH_PASSWORD_MAX	1024u

/*
 * Hash `pw` (pwlen bytes) into out, a NUL-terminated PHC string.
 * CB_ERR_VALIDATION if the password is out of bounds or contains a NUL.
 */
int	 pwhash_hash(const char *pw, size_t pwlen, char out[PWHASH_STRBYTES])
	    __attribute__((warn_unused_result));
/*
 * CB_OK if `pw` matches `hash`, else CB_ERR_UNAUTHENTICATED (wrong
 * password, password out of bounds, malformed hash).
 */
int	 pwhash_verify(const char *hash, const char *pw, size_t pwlen)
	    __attribute__((warn_unused_result));
/*
 * 1 if `hash` should be replaced (other parameters, another algorithm than
 * Argon2id, or unreadable), 0 if it is current.
 */
int	 pwhash_needs_rehash(const char *hash)
	    __attribute__((warn_unused_result));
/*
 * Spend the time of one pwhash_verify with the current parameters and fail:
 * always returns CB_ERR_UNAUTHENTICATED, so a login can write
 *   rc = found ? pwhash_verify(h, pw, n) : pwhash_dummy_verify();
 */
int	 pwhash_dummy_verify(void)
	    __attribute__((warn_unused_result));

#endif
