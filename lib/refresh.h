/*
 * refresh: rotating refresh tokens with reuse detection (CONTRACTS §7.3,
 * RFC 9700 §4.14.2), stored in refresh_tokens.
 *
 * A token reads "cbr_" + base64url(32 random bytes).  Only its BLAKE2b-256
 * hash is stored (the token has 256 bits of entropy: an unkeyed hash
 * cannot be reversed by guessing).  Each login starts a family (a session:
 * family_id is the id of its first token); each refresh supersedes the
 * presented token and issues a child in the same family, whose absolute
 * expiry stays the family's (login + CB_REFRESH_TTL_S) and whose idle
 * expiry is min(now + CB_REFRESH_IDLE_S, family expiry).  The client's
 * address and User-Agent are kept sealed (purpose tokens, AAD
 * "refresh_tokens:<id>:meta").
 *
 * Every change to a family happens in one transaction that first locks the
 * family's first row (FOR UPDATE), so rotations, overlap answers and
 * revocations of one family are serialised; the presented row is then
 * superseded with a compare-and-set on superseded_at IS NULL.
 *
 * Presenting a token T:
 *   unknown, revoked, or its user disabled          -> REFRESH_INVALID
 *   live (not superseded), expired (absolute/idle)  -> REFRESH_INVALID
 *   live, valid                                     -> REFRESH_ROTATED:
 *        T and any other live token of the family are superseded (so
 *        after a rotation a family has exactly one live token) and a child
 *        of T is issued;
 *   superseded, and T is the immediately previous token of the family's
 *   newest (T has a live child), T was rotated at most CB_REFRESH_OVERLAP_S
 *   ago, the family has not expired and T has fewer than
 *   1 + REFRESH_OVERLAP_MAX children                -> REFRESH_OVERLAP:
 *        another child of T is issued (a sibling of the live one); both
 *        stay live until either is rotated, which supersedes the other.
 *        This absorbs concurrent refreshes and lost responses; the family
 *        never holds more than 1 + REFRESH_OVERLAP_MAX live tokens, only
 *        within the overlap, and collapses back to one at the next
 *        rotation;
 *   superseded otherwise                            -> REFRESH_REUSE:
 *        the whole family is revoked, committed on its own before the
 *        request answers 401 (nothing the failing request does can undo
 *        it).  Its access tokens stop working too (lib/userauth.h).
 */
#ifndef CB_REFRESH_H
#define CB_REFRESH_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct db;

#define REFRESH_PREFIX		"cbr_"
#define REFRESH_TOKEN_BYTES	32
#define REFRESH_TOKEN_LEN	(4 + 43)	/* prefix + base64url(32) */
#define REFRESH_OVERLAP_MAX	3		/* overlap answers per superseded token */
#define REFRESH_UA_MAX		512		/* bytes of User-Agent kept */

enum refresh_outcome {
	REFRESH_INVALID = 0,
	REFRESH_ROTATED,
	REFRESH_OVERLAP,
	REFRESH_REUSE
};

/* Who presented the token: sealed into the new row's metadata. */
struct refresh_client {
	const char	*ip;		/* REMOTE_ADDR; may be NULL */
	const char	*user_agent;	/* may be NULL */
};

/* A token just issued, and the session it belongs to. */
struct refresh_grant {
	char		 token[REFRESH_TOKEN_LEN + 1];	/* secret: shown once, wipe after */
	char		 id[37];
	char		 family_id[37];
	char		 user_id[37];
	char		 org[24];
	char		 role[16];
	int		 outcome;	/* enum refresh_outcome */
};

/* 1 if `token` has the shape of a refresh token (prefix, length, alphabet). */
int	 refresh_token_ok(const char *token);

/*
 * Start a family for a user who just logged in.  CB_ERR_UNAVAILABLE when
 * the seal keyring is away; database errors as lib/db.h.
 */
int	 refresh_start(struct app *, const char *user_id, const char *org, const char *role,
	    const struct refresh_client *, struct refresh_grant *out)
	    __attribute__((warn_unused_result));

/*
 * Present a token, as described above.  CB_OK with out->outcome ROTATED or
 * OVERLAP and a new token; CB_ERR_UNAUTHENTICATED with out->outcome
 * INVALID or REUSE (the family then already revoked and committed);
 * database errors as lib/db.h (nothing changed).
 */
int	 refresh_rotate(struct app *, const char *presented, const struct refresh_client *,
	    struct refresh_grant *out)
	    __attribute__((warn_unused_result));

/*
 * Revoke the family of `presented` (any token of it, superseded or not).
 * CB_OK also when the token is unknown or malformed (logout is
 * idempotent); *revoked gets the number of rows revoked (may be NULL).
 */
int	 refresh_revoke_family(struct app *, const char *presented, long long *revoked)
	    __attribute__((warn_unused_result));

/*
 * Revoke every family of a user (an operator's sessions-revoke).  *families
 * gets how many families had a live token.  CB_ERR_NOT_FOUND for an unknown
 * user.
 */
int	 refresh_revoke_user(struct db *, const char *user_id, long long *families)
	    __attribute__((warn_unused_result));

#endif
