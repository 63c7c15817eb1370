/*
 * jwt: our own access tokens as compact JWS signed with Ed25519 (RFC 7515,
 * RFC 7519, RFC 8037, RFC 9864), and the JWK form of our public keys.
 *
 * Algorithm name.  We emit and accept exactly `"alg":"Ed25519"`, the
 * fully-specified identifier RFC 9864 registers; it deprecates the
 * polymorphic `EdDSA` of RFC 8037, whose meaning depends on the key.  Only
 * our own services verify these tokens, so there is no older verifier to
 * accommodate, and a set of one name leaves nothing to confuse.  `EdDSA`,
 * `none`, `HS*`, `RS*` and every other name are refused before the key is
 * even looked up.  The key type is fixed too: keys are raw 32-byte Ed25519
 * public keys, and JWKs must say kty "OKP" and crv "Ed25519".
 *
 * Tokens look like  {"alg":"Ed25519","typ":"at+jwt","kid":"2026-01"} .
 * {"iss":…,"sub":…,"aud":…,…,"typ":…,"iat":…,"exp":…} . signature.
 * The header `typ` is always "at+jwt" (RFC 9068 explicit typing); the
 * payload `typ` claim says which of our token kinds it is (for example
 * "access" or "agent") and the verifier requires the one it expects, so a
 * token minted for one purpose is never accepted for another.
 *
 * jwt_verify checks, in this order, and stops at the first failure: three
 * segments; at most JWT_MAX_TOKEN bytes; strict base64url in every segment;
 * the header is one JSON object with only alg/typ/kid, alg exactly
 * JWT_ALG, typ exactly JWT_HEADER_TYP, kid well-formed and known to the
 * caller's key lookup; the Ed25519 signature over the exact received
 * `header.payload` bytes; then the claims: only known claims, each of the
 * right type, exp required and after now-leeway, nbf (if any) not after
 * now+leeway, iat not after now+leeway nor after exp, iss equal, aud equal
 * (a string, or an array containing ours), typ equal.  Every failure about
 * the token returns CB_ERR_UNAUTHENTICATED and, if asked, a short fixed
 * reason for logs that never contains any part of the token.
 *
 * Rotation (CONTRACTS §7.2): publish the next public key in the JWKS before
 * signing with it; keep an old key in the lookup until the last token it
 * signed has expired (token TTL + cache TTL + leeway).
 */
#ifndef CB_JWT_H
#define CB_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define JWT_ALG			"Ed25519"
#define JWT_HEADER_TYP		"at+jwt"
#define JWT_MAX_TOKEN		8192u	/* bytes, without the NUL */
#define JWT_TOKEN_BUFSZ		(JWT_MAX_TOKEN + 1u)
#define JWT_KID_MAX		63u	/* kid: 1..63 of [A-Za-z0-9._-] */
#define JWT_KID_BUFSZ		(JWT_KID_MAX + 1u)
#define JWT_PUBLICKEYBYTES	crypto_sign_PUBLICKEYBYTES	/* 32 */
#define JWT_SECRETKEYBYTES	crypto_sign_SECRETKEYBYTES	/* 64 */
#define JWT_SIGBYTES		crypto_sign_BYTES		/* 64 */
#define JWT_LEEWAY_MAX		600	/* seconds; opts->leeway must not exceed it */
#define JWT_TIME_MAX		INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define JWT_AUD_MAX		16	/* entries when aud is an array */

/*
 * The claims we sign and accept.  Strings are NUL-terminated UTF-8; an
 * empty optional string (org, role, jti, scope) is left out of the token.
 * nbf 0 means "no nbf claim".
 */
struct jwt_claims {
	char	 iss[256];
	char	 aud[256];	/* on verify: the audience that matched */
	char	 sub[128];
	char	 org[64];
	char	 role[32];
	char	 jti[64];
	char	 typ[32];	/* our token kind, e.g. "access", "agent" */
	char	 scope[256];	/* agent scope: space-separated (RFC 8693 §4.2) */
	int64_t	 iat, nbf, exp;
};

/*
 * Returns 0 and fills pk when `kid` names a key this verifier trusts,
 * JWT_KEY_UNAVAILABLE when the keys could not be read (jwt_verify then
 * answers CB_ERR_UNAVAILABLE: the token may be good, the verifier cannot
 * tell), any other non-zero value when the key is not one it trusts.
 * `kid` has already been checked to be 1..63 of [A-Za-z0-9._-].
 */
#define JWT_KEY_UNAVAILABLE	2
typedef int (*jwt_key_for_kid_fn)(const char *kid,
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], void *ud);

struct jwt_verify_opts {
	const char		*iss;		/* required */
	const char		*aud;		/* required */
	const char		*typ;		/* required: expected payload "typ" */
	int64_t			 leeway;	/* seconds of clock skew, 0..JWT_LEEWAY_MAX */
	int64_t			 now;		/* 0: the current time (tests pin it) */
	jwt_key_for_kid_fn	 key_for_kid;	/* required */
	void			*ud;		/* passed to key_for_kid */
	const char		**reason;	/* optional out: why it failed */
};

/*
 * Sign `c` with sk under `kid` into out (NUL-terminated).  CB_ERR_VALIDATION
 * when a claim is malformed (required iss, aud, sub, typ missing; a string
 * not terminated or not UTF-8; exp not after iat), CB_ERR_TOO_LARGE when the
 * token would exceed outsz or JWT_MAX_TOKEN.
 */
int	 jwt_sign(const struct jwt_claims *c, const char *kid,
	    const unsigned char sk[crypto_sign_SECRETKEYBYTES],
	    char *out, size_t outsz)
	    __attribute__((warn_unused_result));

/*
 * Verify `token` as described above and fill `out` (zeroed on failure).
 * CB_OK, CB_ERR_UNAUTHENTICATED for any problem with the token, or
 * CB_ERR_CONFIG when `opts` itself is unusable (a caller bug).
 */
int	 jwt_verify(const char *token, const struct jwt_verify_opts *opts,
	    struct jwt_claims *out)
	    __attribute__((warn_unused_result));

/*
 * The JWS layer alone, for test vectors and tools.  jwt_sign_input signs
 * `input` ("b64url.b64url", n bytes) and writes "input.b64url(signature)".
 * jwt_verify_signature checks the shape (three non-empty segments, size,
 * strict base64url, 64-byte signature) and the Ed25519 signature over the
 * first two segments with pk, and nothing else: it does not read the
 * header or the claims, so it is NOT a token validation.  The algorithm is
 * fixed by the API (an Ed25519 key), never taken from the header.
 */
int	 jwt_sign_input(const char *input, size_t n,
	    const unsigned char sk[crypto_sign_SECRETKEYBYTES],
	    char *out, size_t outsz)
	    __attribute__((warn_unused_result));
int	 jwt_verify_signature(const char *token,
	    const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
	    __attribute__((warn_unused_result));

/*
 * JWK for a public key: {"kty":"OKP","crv":"Ed25519","kid":…,"use":"sig",
 * "alg":"Ed25519","x":…}.  The caller owns *out (cJSON_Delete).
 * CB_ERR_VALIDATION for a malformed kid.
 */
int	 jwt_jwk_public(const char *kid,
	    const unsigned char pk[crypto_sign_PUBLICKEYBYTES], cJSON **out)
	    __attribute__((warn_unused_result));

/*
 * Read a public JWK: kty must be "OKP" and crv "Ed25519"; kid is required;
 * use, if present, "sig"; alg, if present, JWT_ALG; x must be 32 bytes that
 * encode a valid Ed25519 point.  Private material ("d") and any other member
 * are refused.  CB_ERR_VALIDATION on any problem (kid too long for kidsz
 * included); kid and pk are written only on success.
 */
int	 jwt_jwk_parse_public(const cJSON *jwk, char *kid, size_t kidsz,
	    unsigned char pk[crypto_sign_PUBLICKEYBYTES])
	    __attribute__((warn_unused_result));

/* 1 if `kid` is 1..JWT_KID_MAX characters of [A-Za-z0-9._-], else 0. */
int	 jwt_kid_ok(const char *kid);

#endif
