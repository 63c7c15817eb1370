/*
 * test_jwt: our Ed25519 access tokens and the strict base64url under them.
 *
 * Round trip; every claim check at its exact boundary; alg pinning (none,
 * EdDSA, HS256 keyed with the public key, RS256); kid handling; tampering
 * (a flipped bit, a header of one token with the payload of another, the
 * payload re-encoded with other whitespace); non-canonical base64url; size;
 * the JWK helpers; and RFC 8037 Appendix A.4/A.5 as an outside vector.
 * Every rejection also asserts the reason, so each case proves which check
 * fired, not merely that something failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "b64.h"
#include "errs.h"
#include "jwt.h"
#include "util.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* Room for a token plus what the damage cases append. */
#define TOKSZ		(JWT_TOKEN_BUFSZ + 16)

#define T0		INT64_C(1767225600)	/* 2026-01-01T00:00:00Z: iat */
#define TTL		INT64_C(900)		/* exp = T0 + 900 */
#define ISS		"https://broker.example"
#define AUD		"cb-api"
#define TYP		"access"

/* A header and a payload that pass every check (now = T0 + 60). */
#define HDR_OK	"{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}"
#define PL_HEAD	"{\"iss\":\"" ISS "\",\"sub\":\"user-42\","
#define PL_TIME	"\"iat\":1767225600,\"exp\":1767226500}"
#define PL_OK	PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\"," PL_TIME

/* RFC 8037 Appendix A.1 (key) and A.4 (JWS). */
#define RFC_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC_IN	"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define RFC_JWS	RFC_IN ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

/* Two signing keys from fixed seeds; k1 and k2 are known to the verifier. */
static unsigned char pk1[crypto_sign_PUBLICKEYBYTES], sk1[crypto_sign_SECRETKEYBYTES];
static unsigned char pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];

/* Bounded copy and append (the house bans strcpy and strcat). */
static void
cpy(char *dst, size_t sz, const char *src)
{
	ck_assert_uint_lt(util_strlcpy(dst, src, sz), sz);
}

static void
cat(char *dst, size_t sz, const char *src)
{
	size_t	 n = strlen(dst);

	ck_assert_uint_lt(util_strlcpy(dst + n, src, sz - n), sz - n);
}

static void
keys_setup(void)
{
	unsigned char	 seed[crypto_sign_SEEDBYTES];

	ck_assert_int_ge(sodium_init(), 0);
	memset(seed, 0x11, sizeof(seed));
	crypto_sign_seed_keypair(pk1, sk1, seed);
	memset(seed, 0x22, sizeof(seed));
	crypto_sign_seed_keypair(pk2, sk2, seed);
}

static int
lookup(const char *kid, unsigned char pk[crypto_sign_PUBLICKEYBYTES], void *ud)
{
	int	*calls = ud;

	if (calls != NULL)
		(*calls)++;
	if (strcmp(kid, "k1") == 0) {
		memcpy(pk, pk1, sizeof(pk1));
		return 0;
	}
	if (strcmp(kid, "k2") == 0) {
		memcpy(pk, pk2, sizeof(pk2));
		return 0;
	}
	return -1;
}

static void
base_claims(struct jwt_claims *c)
{
	memset(c, 0, sizeof(*c));
	cpy(c->iss, sizeof(c->iss), ISS);	/* test code: fixed literals that fit */
	cpy(c->aud, sizeof(c->aud), AUD);
	cpy(c->sub, sizeof(c->sub), "user-42");
	cpy(c->org, sizeof(c->org), "org-7");
	cpy(c->role, sizeof(c->role), "admin");
	cpy(c->jti, sizeof(c->jti), "jti-0001");
	cpy(c->typ, sizeof(c->typ), TYP);
	c->iat = T0;
	c->exp = T0 + TTL;
}

static struct jwt_verify_opts
base_opts(const char **why)
{
	struct jwt_verify_opts	 o;

	memset(&o, 0, sizeof(o));
	o.iss = ISS;
	o.aud = AUD;
	o.typ = TYP;
	o.leeway = 30;
	o.now = T0 + 60;
	o.key_for_kid = lookup;
	o.reason = why;
	return o;
}

static void
mint(const struct jwt_claims *c, const char *kid, const unsigned char *sk,
    char *tok, size_t toksz)
{
	ck_assert_int_eq(jwt_sign(c, kid, sk, tok, toksz), CB_OK);
}

/* "b64(hdr).b64(pl)" from two JSON texts. */
static void
signing_input(const char *hdr, const char *pl, char *out, size_t outsz)
{
	char	 h[JWT_TOKEN_BUFSZ], p[JWT_TOKEN_BUFSZ];

	ck_assert_int_eq(b64url_encode(h, sizeof(h), (const unsigned char *)hdr,
	    strlen(hdr)), CB_OK);
	ck_assert_int_eq(b64url_encode(p, sizeof(p), (const unsigned char *)pl,
	    strlen(pl)), CB_OK);
	ck_assert_int_lt(snprintf(out, outsz, "%s.%s", h, p), (int)outsz);
}

/* input "." b64(sig) */
static void
with_sig(const char *input, const unsigned char *sig, size_t n, char *out, size_t outsz)
{
	char	 s[1024];

	ck_assert_int_eq(b64url_encode(s, sizeof(s), sig, n), CB_OK);
	ck_assert_int_lt(snprintf(out, outsz, "%s.%s", input, s), (int)outsz);
}

static void
expect_fail(const char *tok, struct jwt_verify_opts *o, const char *why_want)
{
	struct jwt_claims	 c;
	const char		*why = NULL;
	int			 rc;

	o->reason = &why;
	memset(&c, 0x5a, sizeof(c));
	rc = jwt_verify(tok, o, &c);
	ck_assert_msg(rc == CB_ERR_UNAUTHENTICATED, "rc %d, want UNAUTHENTICATED (%s)",
	    rc, why_want);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, why_want);
	/* Nothing of a rejected token reaches the caller. */
	ck_assert_int_eq(c.sub[0], '\0');
	ck_assert_int_eq(c.exp, 0);
}

/* ---------------------------------------------------------------- b64url */

static const struct {
	const char	*bin;
	size_t		 n;
	const char	*txt;
} b64_good[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\x00\x00\x00", 3, "AAAA" },
};

START_TEST(test_b64_good)
{
	char		 txt[64];
	unsigned char	 bin[64];
	size_t		 n = 99;

	ck_assert_int_eq(b64url_encode(txt, sizeof(txt),
	    (const unsigned char *)b64_good[_i].bin, b64_good[_i].n), CB_OK);
	ck_assert_str_eq(txt, b64_good[_i].txt);
	ck_assert_uint_eq(strlen(txt), B64URL_ENCODED_LEN(b64_good[_i].n));
	ck_assert_int_eq(b64url_decode(bin, sizeof(bin), &n, b64_good[_i].txt,
	    strlen(b64_good[_i].txt)), CB_OK);
	ck_assert_uint_eq(n, b64_good[_i].n);
	ck_assert_int_eq(memcmp(bin, b64_good[_i].bin, n), 0);
}
END_TEST

static const struct {
	const char	*what;
	const char	*txt;
} b64_bad[] = {
	{ "padding", "Zg==" },
	{ "one pad", "Zm8=" },
	{ "full-block padding", "Zm9v====" },
	{ "standard alphabet +", "-_8+" },
	{ "standard alphabet /", "ab/c" },
	{ "space inside", "Zm 9v" },
	{ "trailing newline", "Zm9v\n" },
	{ "leading space", " Zm9v" },
	{ "CR LF", "Zm9v\r\n" },
	{ "length 1 mod 4", "Zm9vY" },
	{ "single char", "Z" },
	{ "non-canonical, 2 chars", "Zh" },
	{ "non-canonical, 3 chars", "Zm9" },
	{ "dot", "Zm.v" },
	{ "high byte", "Zm\xc3\xa9" },
	{ "percent-encoding", "Zm9%3D" },
};

START_TEST(test_b64_bad)
{
	unsigned char	 bin[64];
	size_t		 n = 99;

	ck_assert_msg(b64url_decode(bin, sizeof(bin), &n, b64_bad[_i].txt,
	    strlen(b64_bad[_i].txt)) == CB_ERR_VALIDATION, "%s accepted",
	    b64_bad[_i].what);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_b64_caps)
{
	char		 txt[8];
	unsigned char	 bin[8];
	size_t		 n;

	/* "foob" needs 6 characters + NUL. */
	ck_assert_int_eq(b64url_encode(txt, 7, (const unsigned char *)"foob", 4), CB_OK);
	ck_assert_str_eq(txt, "Zm9vYg");
	ck_assert_int_eq(b64url_encode(txt, 6, (const unsigned char *)"foob", 4), CB_ERR_TOO_LARGE);
	ck_assert_str_eq(txt, "");
	ck_assert_int_eq(b64url_decode(bin, 4, &n, "Zm9vYg", 6), CB_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(b64url_decode(bin, 3, &n, "Zm9vYg", 6), CB_ERR_TOO_LARGE);
	ck_assert_uint_eq(n, 0);
	/* Only `len` characters are read: the rest of the string is ignored. */
	ck_assert_int_eq(b64url_decode(bin, sizeof(bin), &n, "Zm9v.junk", 4), CB_OK);
	ck_assert_uint_eq(n, 3);
}
END_TEST

/* ---------------------------------------------------------- round trip */

START_TEST(test_round_trip)
{
	struct jwt_claims	 in, out;
	struct jwt_verify_opts	 o;
	const char		*why = "unset";
	char			 tok[JWT_TOKEN_BUFSZ];
	int			 calls = 0;

	base_claims(&in);
	cpy(in.scope, sizeof(in.scope), "contexts:write commands:read");
	in.nbf = T0;
	mint(&in, "k1", sk1, tok, sizeof(tok));
	ck_assert_uint_lt(strlen(tok), JWT_MAX_TOKEN);

	o = base_opts(&why);
	o.ud = &calls;
	ck_assert_int_eq(jwt_verify(tok, &o, &out), CB_OK);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(out.iss, ISS);
	ck_assert_str_eq(out.aud, AUD);
	ck_assert_str_eq(out.sub, "user-42");
	ck_assert_str_eq(out.org, "org-7");
	ck_assert_str_eq(out.role, "admin");
	ck_assert_str_eq(out.jti, "jti-0001");
	ck_assert_str_eq(out.typ, TYP);
	ck_assert_str_eq(out.scope, "contexts:write commands:read");
	ck_assert_int_eq(out.iat, T0);
	ck_assert_int_eq(out.nbf, T0);
	ck_assert_int_eq(out.exp, T0 + TTL);

	/* Signing is deterministic: the same claims give the same token. */
	{
		char	 again[JWT_TOKEN_BUFSZ];

		mint(&in, "k1", sk1, again, sizeof(again));
		ck_assert_str_eq(tok, again);
	}
}
END_TEST

/* The exact bytes we emit, so other services can rely on them. */
START_TEST(test_sign_format)
{
	struct jwt_claims	 c;
	char			 tok[JWT_TOKEN_BUFSZ], *d1, *d2;
	unsigned char		 raw[JWT_TOKEN_BUFSZ];
	size_t			 n;

	memset(&c, 0, sizeof(c));
	cpy(c.iss, sizeof(c.iss), ISS);
	cpy(c.aud, sizeof(c.aud), AUD);
	cpy(c.sub, sizeof(c.sub), "u\"1");
	cpy(c.typ, sizeof(c.typ), TYP);
	c.iat = T0;
	c.exp = T0 + TTL;
	mint(&c, "2026-01", sk1, tok, sizeof(tok));
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	ck_assert_int_eq(b64url_decode(raw, sizeof(raw), &n, tok, (size_t)(d1 - tok)), CB_OK);
	raw[n] = '\0';
	ck_assert_str_eq((char *)raw, "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"2026-01\"}");
	ck_assert_int_eq(b64url_decode(raw, sizeof(raw), &n, d1 + 1, (size_t)(d2 - d1 - 1)), CB_OK);
	raw[n] = '\0';
	/* Empty optional claims and a zero nbf are left out. */
	ck_assert_str_eq((char *)raw, "{\"iss\":\"" ISS "\",\"sub\":\"u\\\"1\",\"aud\":\"" AUD
	    "\",\"typ\":\"" TYP "\",\"iat\":1767225600,\"exp\":1767226500}");
	ck_assert_uint_eq(strlen(d2 + 1), 86);
}
END_TEST

/* ---------------------------------------------- claims at the boundaries */

static const struct {
	const char	*what;
	int64_t		 iat, exp;	/* offsets from T0 */
	int		 has_nbf;
	int64_t		 nbf;		/* offset from T0 */
	int64_t		 now;		/* offset from T0 */
	int64_t		 leeway;
	const char	*iss, *aud, *typ, *kid;	/* NULL: the defaults */
	const char	*why;		/* NULL: accepted */
} claim_cases[] = {
	{ "fresh token", 0, TTL, 0, 0, 60, 30, NULL, NULL, NULL, NULL, NULL },
	{ "exp: last second inside leeway", 0, TTL, 0, 0, TTL + 29, 30, NULL, NULL, NULL, NULL, NULL },
	{ "exp: exactly exp + leeway", 0, TTL, 0, 0, TTL + 30, 30, NULL, NULL, NULL, NULL, "token expired" },
	{ "exp: long expired", 0, TTL, 0, 0, TTL + 86400, 30, NULL, NULL, NULL, NULL, "token expired" },
	{ "exp: no leeway, one second before", 0, TTL, 0, 0, TTL - 1, 0, NULL, NULL, NULL, NULL, NULL },
	{ "exp: no leeway, at exp", 0, TTL, 0, 0, TTL, 0, NULL, NULL, NULL, NULL, "token expired" },
	{ "nbf: equal to now", 0, TTL, 1, 60, 60, 0, NULL, NULL, NULL, NULL, NULL },
	{ "nbf: exactly now + leeway", 0, TTL, 1, 120, 90, 30, NULL, NULL, NULL, NULL, NULL },
	{ "nbf: one past now + leeway", 0, TTL, 1, 121, 90, 30, NULL, NULL, NULL, NULL, "token not yet valid" },
	{ "nbf: no leeway, one second ahead", 0, TTL, 1, 61, 60, 0, NULL, NULL, NULL, NULL, "token not yet valid" },
	{ "iat: exactly now + leeway", 90, TTL, 0, 0, 60, 30, NULL, NULL, NULL, NULL, NULL },
	{ "iat: in the future", 91, TTL, 0, 0, 60, 30, NULL, NULL, NULL, NULL, "iat in the future or after exp" },
	{ "wrong audience", 0, TTL, 0, 0, 60, 30, NULL, "other-api", NULL, NULL, "wrong audience" },
	{ "audience differs in case", 0, TTL, 0, 0, 60, 30, NULL, "CB-API", NULL, NULL, "wrong audience" },
	{ "wrong issuer", 0, TTL, 0, 0, 60, 30, "https://evil.example", NULL, NULL, NULL, "wrong issuer" },
	{ "issuer with trailing slash", 0, TTL, 0, 0, 60, 30, ISS "/", NULL, NULL, NULL, "wrong issuer" },
	{ "wrong token type", 0, TTL, 0, 0, 60, 30, NULL, NULL, "agent", NULL, "wrong token type" },
	{ "unknown kid", 0, TTL, 0, 0, 60, 30, NULL, NULL, NULL, "k9", "unknown kid" },
	{ "second known kid", 0, TTL, 0, 0, 60, 30, NULL, NULL, NULL, "k2", NULL },
};

START_TEST(test_claims)
{
	struct jwt_claims	 c, out;
	struct jwt_verify_opts	 o;
	const char		*why = NULL;
	char			 tok[JWT_TOKEN_BUFSZ];
	const char		*kid = claim_cases[_i].kid ? claim_cases[_i].kid : "k1";

	base_claims(&c);
	c.iat = T0 + claim_cases[_i].iat;
	c.exp = T0 + claim_cases[_i].exp;
	if (claim_cases[_i].has_nbf)
		c.nbf = T0 + claim_cases[_i].nbf;
	/* A kid the verifier does not know is still signed with a real key. */
	mint(&c, kid, strcmp(kid, "k2") == 0 ? sk2 : sk1, tok, sizeof(tok));

	o = base_opts(&why);
	o.now = T0 + claim_cases[_i].now;
	o.leeway = claim_cases[_i].leeway;
	if (claim_cases[_i].iss)
		o.iss = claim_cases[_i].iss;
	if (claim_cases[_i].aud)
		o.aud = claim_cases[_i].aud;
	if (claim_cases[_i].typ)
		o.typ = claim_cases[_i].typ;
	if (claim_cases[_i].why == NULL) {
		ck_assert_msg(jwt_verify(tok, &o, &out) == CB_OK, "%s: refused (%s)",
		    claim_cases[_i].what, why ? why : "?");
		ck_assert_str_eq(out.sub, "user-42");
	} else
		expect_fail(tok, &o, claim_cases[_i].why);
}
END_TEST

/* --------------------------- hand-made tokens, validly signed by a key */

static const struct {
	const char	*what;
	const char	*hdr, *pl;
	int		 signer;	/* 1: k1's key, 2: k2's key */
	const char	*why;		/* NULL: accepted */
} forge_cases[] = {
	{ "control: well-formed", HDR_OK, PL_OK, 1, NULL },
	{ "control: members in another order",
	  "{\"kid\":\"k1\",\"typ\":\"at+jwt\",\"alg\":\"Ed25519\"}", PL_OK, 1, NULL },
	{ "control: whitespace, signed as sent",
	  "{ \"alg\" : \"Ed25519\", \"typ\":\"at+jwt\", \"kid\":\"k1\" }",
	  "{ \"iss\":\"" ISS "\", \"sub\":\"user-42\", \"aud\":\"" AUD "\", \"typ\":\"" TYP "\", "
	  "\"iat\":1767225600, \"exp\":1767226500 }", 1, NULL },
	/* alg pinning */
	{ "alg none", "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg EdDSA (RFC 8037 name)", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg in lower case", "{\"alg\":\"ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg with trailing space", "{\"alg\":\"Ed25519 \",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg Ed448", "{\"alg\":\"Ed448\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg missing", "{\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg not a string", "{\"alg\":1,\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "alg as an array", "{\"alg\":[\"Ed25519\"],\"typ\":\"at+jwt\",\"kid\":\"k1\"}", PL_OK, 1, "alg not allowed" },
	{ "duplicate alg", "{\"alg\":\"Ed25519\",\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
	  PL_OK, 1, "header has missing, unknown or duplicate members" },
	/* typ and kid */
	{ "header typ JWT", "{\"alg\":\"Ed25519\",\"typ\":\"JWT\",\"kid\":\"k1\"}", PL_OK, 1, "header typ not allowed" },
	{ "header typ missing", "{\"alg\":\"Ed25519\",\"kid\":\"k1\"}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "kid missing", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\"}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "kid empty", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"\"}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "kid a number", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":1}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "kid with a path", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"../k1\"}", PL_OK, 1, "kid malformed" },
	{ "kid unknown", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k3\"}", PL_OK, 1, "unknown kid" },
	{ "signed with k2 under kid k1", HDR_OK, PL_OK, 2, "bad signature" },
	/* header members that must never be honoured */
	{ "jku", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\",\"jku\":\"https://evil/\"}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "embedded jwk", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\",\"jwk\":{\"kty\":\"OKP\"}}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "crit", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\",\"crit\":[\"b64\"],\"b64\":false}", PL_OK, 1,
	  "header has missing, unknown or duplicate members" },
	{ "header an array", "[\"Ed25519\"]", PL_OK, 1, "header is not a well-formed JSON object" },
	{ "header not JSON", "alg=Ed25519", PL_OK, 1, "header is not a well-formed JSON object" },
	{ "header with trailing bytes", HDR_OK "x", PL_OK, 1, "header is not a well-formed JSON object" },
	/* aud */
	{ "aud array containing ours", HDR_OK,
	  PL_HEAD "\"aud\":[\"other\",\"" AUD "\"],\"typ\":\"" TYP "\"," PL_TIME, 1, NULL },
	{ "aud array without ours", HDR_OK,
	  PL_HEAD "\"aud\":[\"other\",\"cb-api2\"],\"typ\":\"" TYP "\"," PL_TIME, 1, "wrong audience" },
	{ "aud array with a number", HDR_OK,
	  PL_HEAD "\"aud\":[\"" AUD "\",1],\"typ\":\"" TYP "\"," PL_TIME, 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "aud empty array", HDR_OK,
	  PL_HEAD "\"aud\":[],\"typ\":\"" TYP "\"," PL_TIME, 1, "claims missing, unknown, duplicate or mistyped" },
	{ "aud an object", HDR_OK,
	  PL_HEAD "\"aud\":{\"a\":\"" AUD "\"},\"typ\":\"" TYP "\"," PL_TIME, 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "aud missing", HDR_OK,
	  PL_HEAD "\"typ\":\"" TYP "\"," PL_TIME, 1, "claims missing, unknown, duplicate or mistyped" },
	/* claim shapes */
	{ "unknown claim", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"admin\":true,\"typ\":\"" TYP "\"," PL_TIME, 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "duplicate sub", HDR_OK,
	  PL_HEAD "\"sub\":\"root\",\"aud\":\"" AUD "\",\"typ\":\"" TYP "\"," PL_TIME, 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "exp missing", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"iat\":1767225600}", 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "exp a string", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"iat\":1767225600,\"exp\":\"1767226500\"}", 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "exp fractional", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"iat\":1767225600,\"exp\":1767226500.5}", 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "exp past year 9999", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"iat\":1767225600,\"exp\":253402300800}", 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "typ claim missing", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\"," PL_TIME, 1, "claims missing, unknown, duplicate or mistyped" },
	{ "iat missing", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"exp\":1767226500}", 1,
	  "claims missing, unknown, duplicate or mistyped" },
	{ "iat after exp", HDR_OK,
	  PL_HEAD "\"aud\":\"" AUD "\",\"typ\":\"" TYP "\",\"iat\":1767225600,\"exp\":1767225599}", 1,
	  "token expired" },
	{ "sub with an escaped NUL", HDR_OK,
	  "{\"iss\":\"" ISS "\",\"sub\":\"user-42\\u0000admin\",\"aud\":\"" AUD "\",\"typ\":\"" TYP "\"," PL_TIME, 1,
	  "payload is not a well-formed JSON object" },
	{ "a backslash then u0000 is text, not a NUL", HDR_OK,
	  "{\"iss\":\"" ISS "\",\"sub\":\"a\\\\u0000b\",\"aud\":\"" AUD "\",\"typ\":\"" TYP "\"," PL_TIME, 1, NULL },
	{ "kid with an escaped NUL", "{\"alg\":\"Ed25519\",\"typ\":\"at+jwt\",\"kid\":\"k1\\u0000x\"}", PL_OK, 1,
	  "header is not a well-formed JSON object" },
	{ "payload an array", HDR_OK, "[1767226500]", 1, "payload is not a well-formed JSON object" },
	{ "payload a string", HDR_OK, "\"hello\"", 1, "payload is not a well-formed JSON object" },
};

START_TEST(test_forged)
{
	struct jwt_verify_opts	 o;
	struct jwt_claims	 out;
	const char		*why = NULL;
	char			 in[JWT_TOKEN_BUFSZ], tok[JWT_TOKEN_BUFSZ];

	signing_input(forge_cases[_i].hdr, forge_cases[_i].pl, in, sizeof(in));
	ck_assert_int_eq(jwt_sign_input(in, strlen(in),
	    forge_cases[_i].signer == 2 ? sk2 : sk1, tok, sizeof(tok)), CB_OK);
	o = base_opts(&why);
	if (forge_cases[_i].why == NULL)
		ck_assert_msg(jwt_verify(tok, &o, &out) == CB_OK, "%s: refused (%s)",
		    forge_cases[_i].what, why ? why : "?");
	else
		expect_fail(tok, &o, forge_cases[_i].why);
}
END_TEST

/* ----------------------- other algorithms: signatures that are not ours */

enum sigkind { SIG_EMPTY, SIG_ZERO64, SIG_HMAC_PK, SIG_HMAC_X, SIG_HMAC_JWK, SIG_RAND256 };

static const struct {
	const char	*what;
	const char	*alg;
	enum sigkind	 sig;
	const char	*why;
} alg_cases[] = {
	{ "none, no signature", "none", SIG_EMPTY, "empty segment" },
	{ "none, 64 zero bytes", "none", SIG_ZERO64, "alg not allowed" },
	{ "HS256 keyed with the raw public key", "HS256", SIG_HMAC_PK, "alg not allowed" },
	{ "HS256 keyed with the JWK x text", "HS256", SIG_HMAC_X, "alg not allowed" },
	{ "HS256 keyed with the whole JWK", "HS256", SIG_HMAC_JWK, "alg not allowed" },
	{ "HS512 keyed with the raw public key", "HS512", SIG_HMAC_PK, "alg not allowed" },
	{ "RS256 with a 256-byte signature", "RS256", SIG_RAND256, "alg not allowed" },
	{ "ES256 with 64 zero bytes", "ES256", SIG_ZERO64, "alg not allowed" },
	/* Ed25519 named correctly but the signature is an HMAC: refused too. */
	{ "Ed25519 header, HMAC signature", "Ed25519", SIG_HMAC_PK, "bad signature" },
	{ "Ed25519 header, zero signature", "Ed25519", SIG_ZERO64, "bad signature" },
};

static void
hmac_sha256(unsigned char out[32], const unsigned char *key, size_t keylen,
    const char *msg)
{
	crypto_auth_hmacsha256_state	 st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
}

START_TEST(test_other_algs)
{
	struct jwt_verify_opts	 o;
	const char		*why = NULL;
	char			 hdr[128], in[JWT_TOKEN_BUFSZ], tok[JWT_TOKEN_BUFSZ];
	char			 x[64], *jwk_text = NULL;
	unsigned char		 sig[256];
	size_t			 siglen = 0;
	cJSON			*jwk = NULL;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
	    alg_cases[_i].alg);
	signing_input(hdr, PL_OK, in, sizeof(in));
	memset(sig, 0, sizeof(sig));
	switch (alg_cases[_i].sig) {
	case SIG_EMPTY:
		siglen = 0;
		break;
	case SIG_ZERO64:
		siglen = 64;
		break;
	case SIG_HMAC_PK:
		hmac_sha256(sig, pk1, sizeof(pk1), in);
		siglen = 32;
		break;
	case SIG_HMAC_X:
		ck_assert_int_eq(b64url_encode(x, sizeof(x), pk1, sizeof(pk1)), CB_OK);
		hmac_sha256(sig, (const unsigned char *)x, strlen(x), in);
		siglen = 32;
		break;
	case SIG_HMAC_JWK:
		ck_assert_int_eq(jwt_jwk_public("k1", pk1, &jwk), CB_OK);
		jwk_text = cJSON_PrintUnformatted(jwk);
		hmac_sha256(sig, (const unsigned char *)jwk_text, strlen(jwk_text), in);
		siglen = 32;
		break;
	case SIG_RAND256:
		randombytes_buf(sig, 256);
		siglen = 256;
		break;
	}
	if (siglen == 0)
		ck_assert_int_lt(snprintf(tok, sizeof(tok), "%s.", in), (int)sizeof(tok));
	else
		with_sig(in, sig, siglen, tok, sizeof(tok));
	o = base_opts(&why);
	expect_fail(tok, &o, alg_cases[_i].why);
	cJSON_Delete(jwk);
	free(jwk_text);
}
END_TEST

/* -------------------------------------- damage done to a valid token */

static char good[JWT_TOKEN_BUFSZ];

static void
good_setup(void)
{
	struct jwt_claims	 c;

	keys_setup();
	base_claims(&c);
	mint(&c, "k1", sk1, good, sizeof(good));
}

static char *
seg(char *tok, int n)
{
	char	*p = tok;

	while (n-- > 0)
		p = strchr(p, '.') + 1;
	return p;
}

static void
m_append_eq(char *t)
{
	cat(t, TOKSZ, "=");
}

static void
m_append_eqeq(char *t)
{
	cat(t, TOKSZ, "==");
}

static void
m_append_nl(char *t)
{
	cat(t, TOKSZ, "\n");
}

static void
m_header_pad(char *t)
{
	char	 rest[JWT_TOKEN_BUFSZ], *d = strchr(t, '.');

	cpy(rest, sizeof(rest), d);
	cpy(d, TOKSZ - (size_t)(d - t), "=");
	cat(t, TOKSZ, rest);
}

static void
m_payload_plus(char *t)
{
	seg(t, 1)[3] = '+';
}

static void
m_sig_slash(char *t)
{
	seg(t, 2)[5] = '/';
}

static void
m_payload_space(char *t)
{
	seg(t, 1)[4] = ' ';
}

/* Same bytes for a lax decoder: the last character's unused bits set. */
static void
m_sig_noncanonical(char *t)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char	*last = t + strlen(t) - 1;
	int	 v = (int)(strchr(alpha, *last) - alpha);

	ck_assert_int_eq(v & 0x0f, 0);
	*last = alpha[v | 1];
}

static void
m_sig_bitflip(char *t)
{
	unsigned char	 s[64];
	size_t		 n;
	char		*p = seg(t, 2);

	ck_assert_int_eq(b64url_decode(s, sizeof(s), &n, p, strlen(p)), CB_OK);
	s[17] ^= 0x01;
	ck_assert_int_eq(b64url_encode(p, 100, s, n), CB_OK);
}

static void
m_sig_short(char *t)
{
	unsigned char	 s[64];
	size_t		 n;
	char		*p = seg(t, 2);

	ck_assert_int_eq(b64url_decode(s, sizeof(s), &n, p, strlen(p)), CB_OK);
	ck_assert_int_eq(b64url_encode(p, 100, s, n - 1), CB_OK);
}

static void
m_sig_long(char *t)
{
	unsigned char	 s[65];
	size_t		 n;
	char		*p = seg(t, 2);

	ck_assert_int_eq(b64url_decode(s, sizeof(s), &n, p, strlen(p)), CB_OK);
	s[64] = 0;
	ck_assert_int_eq(b64url_encode(p, 100, s, 65), CB_OK);
}

/* The same claims, re-encoded with a space: a different signing input. */
static void
m_payload_whitespace(char *t)
{
	unsigned char	 pl[JWT_TOKEN_BUFSZ];
	char		 json[JWT_TOKEN_BUFSZ], sig[128], *p = seg(t, 1), *d;
	size_t		 n;

	d = strchr(p, '.');
	cpy(sig, sizeof(sig), d);
	ck_assert_int_eq(b64url_decode(pl, sizeof(pl), &n, p, (size_t)(d - p)), CB_OK);
	ck_assert_int_eq(pl[0], '{');
	json[0] = '{';
	json[1] = ' ';
	memcpy(json + 2, pl + 1, n - 1);
	json[n + 1] = '\0';
	ck_assert_int_eq(b64url_encode(p, TOKSZ - (size_t)(p - t),
	    (const unsigned char *)json, n + 1), CB_OK);
	cat(t, TOKSZ, sig);
}

static void
m_four_segments(char *t)
{
	cat(t, TOKSZ, ".AAAA");
}

static void
m_two_segments(char *t)
{
	*strrchr(t, '.') = '\0';
}

static void
m_empty_payload(char *t)
{
	char	 rest[JWT_TOKEN_BUFSZ], *p = seg(t, 1);

	cpy(rest, sizeof(rest), strchr(p, '.'));
	cpy(p, TOKSZ - (size_t)(p - t), rest);
}

static void
m_empty(char *t)
{
	t[0] = '\0';
}

static void
m_dots_only(char *t)
{
	cpy(t, TOKSZ, "..");
}

static const struct {
	const char	*what;
	void		(*mutate)(char *);
	const char	*why;
} damage_cases[] = {
	{ "signature padded with =", m_append_eq, "signature is not base64url" },
	{ "signature padded with ==", m_append_eqeq, "signature is not base64url" },
	{ "trailing newline", m_append_nl, "signature is not base64url" },
	{ "header padded with =", m_header_pad, "header is not base64url" },
	{ "+ in the payload", m_payload_plus, "payload is not base64url" },
	{ "/ in the signature", m_sig_slash, "signature is not base64url" },
	{ "space in the payload", m_payload_space, "payload is not base64url" },
	{ "non-canonical last character", m_sig_noncanonical, "signature is not base64url" },
	{ "one signature bit flipped", m_sig_bitflip, "bad signature" },
	{ "signature one byte short", m_sig_short, "bad signature" },
	{ "signature one byte long", m_sig_long, "bad signature" },
	{ "payload re-encoded with whitespace", m_payload_whitespace, "bad signature" },
	{ "four segments", m_four_segments, "not three segments" },
	{ "two segments", m_two_segments, "not three segments" },
	{ "empty payload segment", m_empty_payload, "empty segment" },
	{ "empty string", m_empty, "no token" },
	{ "only dots", m_dots_only, "empty segment" },
};

START_TEST(test_damage)
{
	struct jwt_verify_opts	 o;
	struct jwt_claims	 out;
	const char		*why = NULL;
	char			 tok[TOKSZ];

	/* The undamaged token passes, so each failure is the damage's. */
	o = base_opts(&why);
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_OK);
	cpy(tok, sizeof(tok), good);
	damage_cases[_i].mutate(tok);
	ck_assert_str_ne(tok, good);
	expect_fail(tok, &o, damage_cases[_i].why);
}
END_TEST

START_TEST(test_null_token)
{
	struct jwt_verify_opts	 o;
	const char		*why = NULL;

	o = base_opts(&why);
	expect_fail(NULL, &o, "no token");
}
END_TEST

/* Header of A (kid k1) with the payload of B (kid k2): both validly signed. */
START_TEST(test_splice)
{
	struct jwt_claims	 a, b;
	struct jwt_verify_opts	 o;
	struct jwt_claims	 out;
	const char		*why = NULL;
	char			 ta[JWT_TOKEN_BUFSZ], tb[JWT_TOKEN_BUFSZ];
	char			 mix[2 * JWT_TOKEN_BUFSZ];
	int			 ha, pb_start, pb_len;

	base_claims(&a);
	base_claims(&b);
	cpy(b.sub, sizeof(b.sub), "user-43");
	cpy(b.role, sizeof(b.role), "owner");
	mint(&a, "k1", sk1, ta, sizeof(ta));
	mint(&b, "k2", sk2, tb, sizeof(tb));
	o = base_opts(&why);
	ck_assert_int_eq(jwt_verify(ta, &o, &out), CB_OK);
	ck_assert_int_eq(jwt_verify(tb, &o, &out), CB_OK);
	ck_assert_str_eq(out.sub, "user-43");

	ha = (int)(strchr(ta, '.') - ta);
	pb_start = (int)(strchr(tb, '.') - tb) + 1;
	pb_len = (int)(strrchr(tb, '.') - tb) - pb_start;
	/* A's header, B's payload, A's signature. */
	snprintf(mix, sizeof(mix), "%.*s.%.*s%s", ha, ta, pb_len, tb + pb_start,
	    strrchr(ta, '.'));
	expect_fail(mix, &o, "bad signature");
	/* A's header, B's payload, B's signature. */
	snprintf(mix, sizeof(mix), "%.*s.%.*s%s", ha, ta, pb_len, tb + pb_start,
	    strrchr(tb, '.'));
	expect_fail(mix, &o, "bad signature");
}
END_TEST

START_TEST(test_oversized)
{
	struct jwt_verify_opts	 o;
	struct jwt_claims	 c;
	char			*tok;
	char			 small[64];
	size_t			 n;

	/* One byte over the cap: refused for its size alone. */
	n = JWT_MAX_TOKEN + 1;
	tok = malloc(n + 1);
	ck_assert_ptr_nonnull(tok);
	memset(tok, 'A', n);
	tok[100] = '.';
	tok[200] = '.';
	tok[n] = '\0';
	o = base_opts(NULL);
	expect_fail(tok, &o, "token too large");
	/* Far over it, and without a NUL for a long way: still refused. */
	free(tok);
	n = 1024 * 1024;
	tok = malloc(n + 1);
	ck_assert_ptr_nonnull(tok);
	memset(tok, 'A', n);
	tok[100] = '.';
	tok[200] = '.';
	tok[n] = '\0';
	expect_fail(tok, &o, "token too large");
	/* Exactly at the cap: passes the size check, fails later (zero bytes). */
	tok[JWT_MAX_TOKEN] = '\0';
	tok[100] = 'A';
	tok[200] = 'A';
	tok[4000] = '.';
	tok[8000] = '.';
	expect_fail(tok, &o, "header is not a well-formed JSON object");
	free(tok);

	/* The signer refuses to produce what the verifier would refuse. */
	base_claims(&c);
	ck_assert_int_eq(jwt_sign(&c, "k1", sk1, small, sizeof(small)), CB_ERR_TOO_LARGE);
	ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_bad_opts)
{
	struct jwt_verify_opts	 o;
	struct jwt_claims	 out;
	const char		*why = NULL;

	o = base_opts(&why);
	o.key_for_kid = NULL;
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_ERR_CONFIG);
	ck_assert_str_eq(why, "verifier options invalid");
	o = base_opts(&why);
	o.aud = "";
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_ERR_CONFIG);
	o = base_opts(&why);
	o.leeway = JWT_LEEWAY_MAX + 1;
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_ERR_CONFIG);
	o = base_opts(&why);
	o.leeway = -1;
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_ERR_CONFIG);
	o = base_opts(&why);
	ck_assert_int_eq(jwt_verify(good, NULL, &out), CB_ERR_CONFIG);
	ck_assert_int_eq(jwt_verify(good, &o, NULL), CB_ERR_CONFIG);
	/* now = 0 means the wall clock: T0 + 900 is long past (or far ahead). */
	o = base_opts(&why);
	o.now = 0;
	ck_assert_int_eq(jwt_verify(good, &o, &out), CB_ERR_UNAUTHENTICATED);
}
END_TEST

/* ------------------------------------------------------- signing inputs */

static void
c_no_iss(struct jwt_claims *c)
{
	c->iss[0] = '\0';
}

static void
c_no_aud(struct jwt_claims *c)
{
	c->aud[0] = '\0';
}

static void
c_no_sub(struct jwt_claims *c)
{
	c->sub[0] = '\0';
}

static void
c_no_typ(struct jwt_claims *c)
{
	c->typ[0] = '\0';
}

static void
c_exp_eq_iat(struct jwt_claims *c)
{
	c->exp = c->iat;
}

static void
c_negative_iat(struct jwt_claims *c)
{
	c->iat = -5;
}

static void
c_unterminated(struct jwt_claims *c)
{
	memset(c->role, 'a', sizeof(c->role));
}

static void
c_bad_utf8(struct jwt_claims *c)
{
	cpy(c->sub, sizeof(c->sub), "user-\xc3");
}

static void
c_control(struct jwt_claims *c)
{
	cpy(c->sub, sizeof(c->sub), "user-\x01");
}

static const struct {
	const char	*what;
	void		(*mutate)(struct jwt_claims *);
	const char	*kid;
} sign_bad[] = {
	{ "no iss", c_no_iss, "k1" },
	{ "no aud", c_no_aud, "k1" },
	{ "no sub", c_no_sub, "k1" },
	{ "no typ", c_no_typ, "k1" },
	{ "exp equal to iat", c_exp_eq_iat, "k1" },
	{ "negative iat", c_negative_iat, "k1" },
	{ "unterminated string", c_unterminated, "k1" },
	{ "invalid UTF-8", c_bad_utf8, "k1" },
	{ "control character", c_control, "k1" },
	{ "empty kid", NULL, "" },
	{ "kid with a quote", NULL, "k\"1" },
	{ "kid with a slash", NULL, "a/b" },
	{ "kid of 64 characters", NULL,
	  "0123456789012345678901234567890123456789012345678901234567890123" },
};

START_TEST(test_sign_refuses)
{
	struct jwt_claims	 c;
	char			 tok[JWT_TOKEN_BUFSZ];

	base_claims(&c);
	if (sign_bad[_i].mutate)
		sign_bad[_i].mutate(&c);
	ck_assert_msg(jwt_sign(&c, sign_bad[_i].kid, sk1, tok, sizeof(tok)) ==
	    CB_ERR_VALIDATION, "%s: signed", sign_bad[_i].what);
	ck_assert_str_eq(tok, "");
}
END_TEST

START_TEST(test_kid_ok)
{
	ck_assert_int_eq(jwt_kid_ok("2026-01"), 1);
	ck_assert_int_eq(jwt_kid_ok("a.b_c-D9"), 1);
	ck_assert_int_eq(jwt_kid_ok(
	    "012345678901234567890123456789012345678901234567890123456789012"), 1);
	ck_assert_int_eq(jwt_kid_ok(
	    "0123456789012345678901234567890123456789012345678901234567890123"), 0);
	ck_assert_int_eq(jwt_kid_ok(""), 0);
	ck_assert_int_eq(jwt_kid_ok(NULL), 0);
	ck_assert_int_eq(jwt_kid_ok("k 1"), 0);
	ck_assert_int_eq(jwt_kid_ok("k\xc3\xa9"), 0);
}
END_TEST

/* ----------------------------------------------------------------- JWK */

START_TEST(test_jwk_round_trip)
{
	cJSON		*jwk = NULL, *v;
	char		 kid[JWT_KID_BUFSZ], x[64];
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];

	ck_assert_int_eq(jwt_jwk_public("2026-01", pk1, &jwk), CB_OK);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(jwk, "kty")->valuestring, "OKP");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(jwk, "crv")->valuestring, "Ed25519");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(jwk, "kid")->valuestring, "2026-01");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(jwk, "use")->valuestring, "sig");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(jwk, "alg")->valuestring, JWT_ALG);
	ck_assert_int_eq(b64url_encode(x, sizeof(x), pk1, sizeof(pk1)), CB_OK);
	v = cJSON_GetObjectItemCaseSensitive(jwk, "x");
	ck_assert_str_eq(v->valuestring, x);
	ck_assert_int_eq(cJSON_GetArraySize(jwk), 6);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(jwk, "d"));

	ck_assert_int_eq(jwt_jwk_parse_public(jwk, kid, sizeof(kid), pk), CB_OK);
	ck_assert_str_eq(kid, "2026-01");
	ck_assert_int_eq(memcmp(pk, pk1, sizeof(pk)), 0);
	/* kid buffer too small for the kid. */
	ck_assert_int_eq(jwt_jwk_parse_public(jwk, kid, 7, pk), CB_ERR_VALIDATION);
	cJSON_Delete(jwk);

	jwk = NULL;
	ck_assert_int_eq(jwt_jwk_public("bad kid", pk1, &jwk), CB_ERR_VALIDATION);
	ck_assert_ptr_null(jwk);
}
END_TEST

/* The identity point (y = 1): a valid encoding of a small-order point. */
#define X_SMALL	"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct {
	const char	*what;
	const char	*json;
	int		 ok;
} jwk_cases[] = {
	{ "RFC 8037 A.2 public key with a kid",
	  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 1 },
	{ "with use and alg",
	  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"use\":\"sig\",\"alg\":\"Ed25519\",\"x\":\"" RFC_X "\"}", 1 },
	{ "kty EC", "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "kty okp (case)", "{\"kty\":\"okp\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "crv X25519", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "crv Ed448", "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "crv missing", "{\"kty\":\"OKP\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "kid missing", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\"}", 0 },
	{ "kid malformed", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a b\",\"x\":\"" RFC_X "\"}", 0 },
	{ "use enc", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"use\":\"enc\",\"x\":\"" RFC_X "\"}", 0 },
	{ "alg EdDSA", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"alg\":\"EdDSA\",\"x\":\"" RFC_X "\"}", 0 },
	{ "private key included",
	  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "\",\"d\":\"" RFC_D "\"}", 0 },
	{ "unknown member", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x5u\":\"https://e/\",\"x\":\"" RFC_X "\"}", 0 },
	{ "x padded", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" RFC_X "=\"}", 0 },
	{ "x short", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}", 0 },
	{ "x standard alphabet", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}", 0 },
	{ "x a small-order point", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":\"" X_SMALL "\"}", 0 },
	{ "x a number", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc\",\"x\":5}", 0 },
	{ "not an object", "[\"OKP\"]", 0 },
};

START_TEST(test_jwk_parse)
{
	cJSON		*jwk = cJSON_Parse(jwk_cases[_i].json);
	char		 kid[JWT_KID_BUFSZ] = "untouched";
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES], want[crypto_sign_PUBLICKEYBYTES];
	size_t		 n;
	int		 rc;

	ck_assert_ptr_nonnull(jwk);
	rc = jwt_jwk_parse_public(jwk, kid, sizeof(kid), pk);
	if (jwk_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "%s: refused", jwk_cases[_i].what);
		ck_assert_str_eq(kid, "rfc");
		ck_assert_int_eq(b64url_decode(want, sizeof(want), &n, RFC_X,
		    strlen(RFC_X)), CB_OK);
		ck_assert_int_eq(memcmp(pk, want, sizeof(pk)), 0);
	} else {
		ck_assert_msg(rc == CB_ERR_VALIDATION, "%s: accepted", jwk_cases[_i].what);
		ck_assert_str_eq(kid, "untouched");
	}
	cJSON_Delete(jwk);
}
END_TEST

/* -------------------------------------------------- RFC 8037 A.4 / A.5 */

START_TEST(test_rfc8037)
{
	unsigned char	 x[64], d[64], pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES], raw[64];
	char		 out[JWT_TOKEN_BUFSZ], bad[sizeof(RFC_JWS)];
	size_t		 xn, dn, n;
	struct jwt_verify_opts o;
	struct jwt_claims c;

	ck_assert_int_eq(b64url_decode(x, sizeof(x), &xn, RFC_X, strlen(RFC_X)), CB_OK);
	ck_assert_int_eq(b64url_decode(d, sizeof(d), &dn, RFC_D, strlen(RFC_D)), CB_OK);
	ck_assert_uint_eq(xn, 32);
	ck_assert_uint_eq(dn, 32);
	/* d is the seed; the public key derived from it is x (A.1 / A.2). */
	crypto_sign_seed_keypair(pk, sk, d);
	ck_assert_int_eq(memcmp(pk, x, 32), 0);

	/* The protected header and payload as the RFC states them. */
	ck_assert_int_eq(b64url_decode(raw, sizeof(raw), &n, RFC_IN, 20), CB_OK);
	ck_assert_int_eq((int)n, 15);
	ck_assert_int_eq(memcmp(raw, "{\"alg\":\"EdDSA\"}", 15), 0);
	ck_assert_int_eq(b64url_decode(raw, sizeof(raw), &n, &RFC_IN[21],
	    strlen(RFC_IN) - 21), CB_OK);
	ck_assert_int_eq((int)n, 26);
	ck_assert_int_eq(memcmp(raw, "Example of Ed25519 signing", 26), 0);

	/* A.5: validation. */
	ck_assert_int_eq(jwt_verify_signature(RFC_JWS, x), CB_OK);
	/* A.4: signing reproduces the signature byte for byte. */
	ck_assert_int_eq(jwt_sign_input(RFC_IN, strlen(RFC_IN), sk, out, sizeof(out)), CB_OK);
	ck_assert_str_eq(out, RFC_JWS);

	/* Not under another key; not with a changed payload or signature. */
	ck_assert_int_eq(jwt_verify_signature(RFC_JWS, pk1), CB_ERR_UNAUTHENTICATED);
	cpy(bad, sizeof(bad), RFC_JWS);
	bad[25] = bad[25] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(jwt_verify_signature(bad, x), CB_ERR_UNAUTHENTICATED);
	cpy(bad, sizeof(bad), RFC_JWS);
	bad[60] = bad[60] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(jwt_verify_signature(bad, x), CB_ERR_UNAUTHENTICATED);
	ck_assert_int_eq(jwt_verify_signature(RFC_IN ".", x), CB_ERR_UNAUTHENTICATED);

	/* As an access token it is refused: alg EdDSA is not in our set. */
	{
		const char *why = NULL;

		o = base_opts(&why);
		ck_assert_int_eq(jwt_verify(RFC_JWS, &o, &c), CB_ERR_UNAUTHENTICATED);
		ck_assert_str_eq(why, "alg not allowed");
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(d, sizeof(d));
}
END_TEST

START_TEST(test_sign_input_refuses)
{
	char	 out[JWT_TOKEN_BUFSZ];

	ck_assert_int_eq(jwt_sign_input("abc", 3, sk1, out, sizeof(out)), CB_ERR_VALIDATION);
	ck_assert_int_eq(jwt_sign_input("ab.cd.ef", 8, sk1, out, sizeof(out)), CB_ERR_VALIDATION);
	ck_assert_int_eq(jwt_sign_input(".abcd", 5, sk1, out, sizeof(out)), CB_ERR_VALIDATION);
	ck_assert_int_eq(jwt_sign_input("abcd.", 5, sk1, out, sizeof(out)), CB_ERR_VALIDATION);
	ck_assert_int_eq(jwt_sign_input("ab=.cd", 6, sk1, out, sizeof(out)), CB_ERR_VALIDATION);
	ck_assert_int_eq(jwt_sign_input("abcd.efgh", 9, sk1, out, 20), CB_ERR_TOO_LARGE);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(jwt_sign_input("abcd.efgh", 9, sk1, out, sizeof(out)), CB_OK);
	ck_assert_uint_eq(strlen(out), 9 + 1 + 86);
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc;

	tc = tcase_create("b64url");
	tcase_add_loop_test(tc, test_b64_good, 0, (int)NELEM(b64_good));
	tcase_add_loop_test(tc, test_b64_bad, 0, (int)NELEM(b64_bad));
	tcase_add_test(tc, test_b64_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign_verify");
	tcase_add_checked_fixture(tc, good_setup, NULL);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_sign_format);
	tcase_add_loop_test(tc, test_claims, 0, (int)NELEM(claim_cases));
	tcase_add_loop_test(tc, test_forged, 0, (int)NELEM(forge_cases));
	tcase_add_loop_test(tc, test_other_algs, 0, (int)NELEM(alg_cases));
	tcase_add_loop_test(tc, test_damage, 0, (int)NELEM(damage_cases));
	tcase_add_test(tc, test_null_token);
	tcase_add_test(tc, test_splice);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_bad_opts);
	tcase_add_loop_test(tc, test_sign_refuses, 0, (int)NELEM(sign_bad));
	tcase_add_test(tc, test_kid_ok);
	tcase_add_test(tc, test_sign_input_refuses);
	suite_add_tcase(s, tc);

	tc = tcase_create("jwk");
	tcase_add_checked_fixture(tc, keys_setup, NULL);
	tcase_add_test(tc, test_jwk_round_trip);
	tcase_add_loop_test(tc, test_jwk_parse, 0, (int)NELEM(jwk_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc8037");
	tcase_add_checked_fixture(tc, keys_setup, NULL);
	tcase_add_test(tc, test_rfc8037);
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
	sr = srunner_create(jwt_suite());
	/* Each test in its own process: a crash is one failure, not the run. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
