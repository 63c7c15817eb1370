/*
 * signkeys: the Ed25519 keys that sign our access tokens (lib/jwt.h), kept
 * in the signing_keys table with their private half sealed (purpose
 * tokens, AAD "signing_keys:<kid>:private"), and each process's cache of
 * them.
 *
 * Life of a key:  next -> active -> retiring -> retired.
 *   next      published (JWKS) and trusted by every verifier; signs nothing
 *             yet;
 *   active    the one key that signs (a unique index admits only one);
 *   retiring  signs nothing; still published and trusted until its
 *             retire_after = rotation + access TTL + SIGNKEYS_SKEW_S, by
 *             when every token it signed has expired;
 *   retired   neither published nor trusted (kept for the record).
 * A retiring key whose retire_after has passed is treated as retired at
 * once (JWKS and verifiers), even before a rotation marks it so.
 *
 * Publish before use (CONTRACTS §7.2).  signkeys_rotate promotes the next
 * key only once it has been published for at least `min_lead_s` seconds:
 * SIGNKEYS_LEAD_S by default, one JWKS cache lifetime (max-age) plus our
 * own refresh margin, so that every verifier, ours or one reading the
 * JWKS, already holds the key before the first token it signs.  Operators
 * may pass a shorter lead for a deployment whose only verifiers are the
 * broker's own processes, never shorter than SIGNKEYS_LEAD_MIN_S (two of
 * our cache periods).
 *
 * Cache.  Each process keeps the trusted public keys by kid and the key it
 * signs with (the private half opened once per activation, never logged,
 * wiped when replaced).  It re-reads the table at most every
 * SIGNKEYS_REFRESH_MS, and once more on an unknown kid, at most every
 * SIGNKEYS_MISS_MS (single-flight by construction: a process serves one
 * request at a time), so a forged kid cannot hammer Postgres.  Timeline of
 * a rotation at time R: verifiers knew the new key since before R - lead;
 * a process may still sign with the old key until R + SIGNKEYS_REFRESH_MS,
 * and those tokens verify until R + TTL + SIGNKEYS_SKEW_S, which covers
 * their lifetime plus the verifier's leeway.  No request fails during a
 * rotation.
 *
 * The cache is per process (this module's own state, like the log
 * context): every responder that authenticates needs it and struct app has
 * no slot for it.  Prefork children each load their own after fork.
 *
 * kids look like "k-20261123-Ab3_x9Qz": the creation day (UTC) and 48
 * random bits.
 */
#ifndef CB_SIGNKEYS_H
#define CB_SIGNKEYS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "jwt.h"

struct app;
struct db;
struct seal_keyring;

#define SIGNKEYS_SKEW_S		60	/* added to the access TTL before retiring */
#define SIGNKEYS_REFRESH_MS	5000.0	/* cache re-read period */
#define SIGNKEYS_MISS_MS	10000.0	/* at most one unknown-kid re-read per period */
#define SIGNKEYS_JWKS_MAX_AGE_S	300	/* Cache-Control max-age of the JWKS */
#define SIGNKEYS_LEAD_MIN_S	10	/* 2 x SIGNKEYS_REFRESH_MS */
#define SIGNKEYS_LEAD_S		(SIGNKEYS_JWKS_MAX_AGE_S + SIGNKEYS_LEAD_MIN_S)
#define SIGNKEYS_MAX		16	/* trusted keys a cache holds */
#define SIGNKEYS_KID_LEN	19	/* "k-" yyyymmdd "-" 8 chars */
/*
 * The signing_keys rows a verifier trusts: next, active, retiring before
 * retire_after (this cache's, and the channel's person feeds' lookup).
 */
#define SIGNKEYS_TRUSTED_WHERE \
	"(state IN ('next', 'active') OR (state = 'retiring' AND retire_after > now()))"

/* What a rotation did (kids empty when not applicable). */
struct signkeys_rotation {
	char		 active[JWT_KID_BUFSZ];		/* signs from now on */
	char		 retiring[JWT_KID_BUFSZ];	/* the previous active key */
	char		 next[JWT_KID_BUFSZ];		/* newly published */
	char		 retire_after[32];		/* RFC 3339, of `retiring` */
	long long	 retired;			/* keys marked retired by this run */
	int		 bootstrapped;			/* 1: the table was empty */
	int		 wait_s;			/* CB_ERR_CONFLICT: seconds to wait */
};

/*
 * Make sure there is an active and a next key, creating what is missing
 * (a fresh database).  Safe to call from many processes at once: creation
 * runs under a transaction-scoped advisory lock and the unique index on
 * the active state.  CB_OK when both exist afterwards.
 */
int	 signkeys_ensure(struct app *)
	    __attribute__((warn_unused_result));

/*
 * Rotate, in one transaction: mark retiring keys past retire_after as
 * retired; then, if the next key has been published for min_lead_s
 * (SIGNKEYS_LEAD_MIN_S .. 86400), the active key becomes retiring with
 * retire_after = now + access_ttl_s + SIGNKEYS_SKEW_S, the next key becomes
 * active and a new next key is created.  If the next key is younger,
 * nothing but the retired marks is committed and CB_ERR_CONFLICT is
 * returned with out->wait_s; a missing next key is created first (and must
 * then age like any other).  On a table without an active key it only
 * bootstraps (active and next, out->bootstrapped = 1) and returns CB_OK.
 * CB_ERR_VALIDATION for a min_lead_s or access_ttl_s out of bounds.
 */
int	 signkeys_rotate(struct db *, const struct seal_keyring *, long long access_ttl_s,
	    int min_lead_s, struct signkeys_rotation *out)
	    __attribute__((warn_unused_result));

/*
 * Sign `c` with the active key (header kid included) into out.  Refreshes
 * the cache if due and bootstraps keys on a fresh database.
 * CB_ERR_UNAVAILABLE when no signing key can be loaded, else as jwt_sign.
 */
int	 signkeys_sign(struct app *, const struct jwt_claims *c, char *out, size_t outsz)
	    __attribute__((warn_unused_result));

/*
 * A jwt_key_for_kid_fn: `ud` is the struct app *.  Trusts next, active and
 * retiring (before retire_after) keys; an unknown kid triggers one
 * throttled re-read.
 */
int	 signkeys_key_for_kid(const char *kid,
	    unsigned char pk[JWT_PUBLICKEYBYTES], void *ud);

/*
 * The JWKS document {"keys":[OKP JWK...]} of every trusted key.  The
 * caller owns *out.  CB_ERR_UNAVAILABLE when the keys cannot be read.
 */
int	 signkeys_jwks(struct app *, cJSON **out)
	    __attribute__((warn_unused_result));

/* A new kid ("k-<yyyymmdd>-<8 random base64url characters>"). */
void	 signkeys_kid_new(char kid[JWT_KID_BUFSZ]);

/* Wipe this process's cache (private key included). */
void	 signkeys_forget(void);

/*
 * A responder's init and fini hooks (struct responder) for the routes that
 * sign or publish keys: keys made on a fresh database at start (Postgres
 * away is not fatal: the first use retries), the cache wiped at the end.
 */
int	 signkeys_responder_init(struct app *);
void	 signkeys_responder_fini(struct app *);

#endif
