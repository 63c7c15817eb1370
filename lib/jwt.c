/*
 * jwt: see jwt.h.  The token is split and decoded once into fixed-size
 * buffers; the header and the claims go through jsonv's field tables, so an
 * unknown, duplicate or mistyped member is refused rather than ignored (a
 * header with "jku", "jwk", "x5u" or "crit" never gets near a key).  The
 * signature is checked over the bytes exactly as received; nothing is
 * re-serialised before verification.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "b64.h"
#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "jwt.h"
#include "util.h"

/* Largest decoded header or payload a JWT_MAX_TOKEN token can carry. */
#define JWT_SEG_MAX	B64URL_DECODED_LEN(JWT_MAX_TOKEN)
/*
 * Signatures are decoded into room for any algorithm's (RS256 is 256
 * bytes), so that a foreign alg is refused by the alg check, which says
 * so, rather than by the decoder; only 64 bytes are ever verified.
 */
#define JWT_SIG_MAX	512u
#define JWT_SIG_B64LEN	B64URL_ENCODED_LEN(JWT_SIGBYTES)	/* 86 */

/* The longest string a claim field of struct jwt_claims can hold. */
#define CLAIM_MAX(f)	((long long)sizeof(((struct jwt_claims *)NULL)->f) - 1)

struct jwt_parts {
	size_t		 input_len;	/* bytes of "header.payload" */
	unsigned char	 hdr[JWT_SEG_MAX];
	size_t		 hdr_len;
	unsigned char	 pl[JWT_SEG_MAX];
	size_t		 pl_len;
	unsigned char	 sig[JWT_SIG_MAX];
	size_t		 sig_len;
};

/* The JOSE header: exactly these members, all required. */
struct jwt_hdr {
	const char	*alg;
	const char	*typ;
	const char	*kid;
};

static const struct jv_field jwt_hdr_fields[] = {
	{ "alg", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct jwt_hdr, alg), NULL },
	{ "typ", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct jwt_hdr, typ), NULL },
	{ "kid", JV_STRING, JV_REQUIRED, 1, JWT_KID_MAX, offsetof(struct jwt_hdr, kid), NULL },
};

/* The claims as parsed, before the checks; strings point into the tree. */
struct jwt_payload {
	const char	*iss, *sub, *org, *role, *jti, *typ, *scope;
	const cJSON	*aud;
	long long	 iat, nbf, exp;
};

static int	jwt_aud_shape(const cJSON *, const char **);

static const struct jv_field jwt_payload_fields[] = {
	{ "iss", JV_STRING, JV_REQUIRED, 1, CLAIM_MAX(iss), offsetof(struct jwt_payload, iss), NULL },
	{ "sub", JV_STRING, JV_REQUIRED, 1, CLAIM_MAX(sub), offsetof(struct jwt_payload, sub), NULL },
	{ "aud", JV_ANY, JV_REQUIRED, 0, 0, offsetof(struct jwt_payload, aud), jwt_aud_shape },
	{ "org", JV_STRING, 0, 1, CLAIM_MAX(org), offsetof(struct jwt_payload, org), NULL },
	{ "role", JV_STRING, 0, 1, CLAIM_MAX(role), offsetof(struct jwt_payload, role), NULL },
	{ "jti", JV_STRING, 0, 1, CLAIM_MAX(jti), offsetof(struct jwt_payload, jti), NULL },
	{ "typ", JV_STRING, JV_REQUIRED, 1, CLAIM_MAX(typ), offsetof(struct jwt_payload, typ), NULL },
	{ "scope", JV_STRING, 0, 1, CLAIM_MAX(scope), offsetof(struct jwt_payload, scope), NULL },
	{ "iat", JV_INT, JV_REQUIRED, 0, JWT_TIME_MAX, offsetof(struct jwt_payload, iat), NULL },
	{ "nbf", JV_INT, 0, 0, JWT_TIME_MAX, offsetof(struct jwt_payload, nbf), NULL },
	{ "exp", JV_INT, JV_REQUIRED, 0, JWT_TIME_MAX, offsetof(struct jwt_payload, exp), NULL },
};

/* A public JWK: exactly these members. */
struct jwt_jwk {
	const char	*kty, *crv, *kid, *use, *alg, *x;
};

static const struct jv_field jwt_jwk_fields[] = {
	{ "kty", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct jwt_jwk, kty), NULL },
	{ "crv", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct jwt_jwk, crv), NULL },
	{ "kid", JV_STRING, JV_REQUIRED, 1, JWT_KID_MAX, offsetof(struct jwt_jwk, kid), NULL },
	{ "use", JV_STRING, 0, 1, 16, offsetof(struct jwt_jwk, use), NULL },
	{ "alg", JV_STRING, 0, 1, 32, offsetof(struct jwt_jwk, alg), NULL },
	{ "x", JV_STRING, JV_REQUIRED, B64URL_ENCODED_LEN(JWT_PUBLICKEYBYTES),
	    B64URL_ENCODED_LEN(JWT_PUBLICKEYBYTES), offsetof(struct jwt_jwk, x), NULL },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
jwt_kid_ok(const char *kid)
{
	size_t	 i;

	if (kid == NULL)
		return 0;
	for (i = 0; kid[i] != '\0'; i++) {
		unsigned char c = (unsigned char)kid[i];

		if (i >= JWT_KID_MAX)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

static int
jwt_aud_str_ok(const cJSON *v)
{
	size_t	 n;

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return 0;
	n = strlen(v->valuestring);
	return n >= 1 && n <= (size_t)CLAIM_MAX(aud);
}

/* aud is a string, or an array of 1..JWT_AUD_MAX strings (RFC 7519 §4.1.3). */
static int
jwt_aud_shape(const cJSON *v, const char **why)
{
	const cJSON	*e;
	int		 n = 0;

	if (cJSON_IsString(v)) {
		if (jwt_aud_str_ok(v))
			return 0;
		*why = "must be 1..255 bytes";
		return -1;
	}
	if (!cJSON_IsArray(v)) {
		*why = "must be a string or an array of strings";
		return -1;
	}
	for (e = v->child; e != NULL; e = e->next)
		if (++n > JWT_AUD_MAX || !jwt_aud_str_ok(e)) {
			*why = "array must hold 1..16 strings of 1..255 bytes";
			return -1;
		}
	if (n == 0) {
		*why = "array must not be empty";
		return -1;
	}
	return 0;
}

static int
jwt_aud_has(const cJSON *aud, const char *want)
{
	const cJSON	*e;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	for (e = aud->child; e != NULL; e = e->next)
		if (strcmp(e->valuestring, want) == 0)
			return 1;
	return 0;
}

/* One segment is non-empty canonical base64url. */
static int
jwt_seg_ok(const char *s, size_t len)
{
	unsigned char	 tmp[JWT_SEG_MAX];
	size_t		 n;

	if (len == 0 || len > JWT_MAX_TOKEN)
		return 0;
	return b64url_decode(tmp, sizeof(tmp), &n, s, len) == CB_OK;
}

/*
 * Shape, size and encoding: three non-empty segments, at most
 * JWT_MAX_TOKEN bytes, each segment canonical base64url.
 */
static int
jwt_split(const char *token, struct jwt_parts *p, const char **why)
{
	const char	*d1 = NULL, *d2 = NULL;
	size_t		 n, i, ndots = 0, hlen, plen, slen;

	p->input_len = p->hdr_len = p->pl_len = p->sig_len = 0;
	if (token == NULL || *token == '\0') {
		*why = "no token";
		return CB_ERR_UNAUTHENTICATED;
	}
	/* Never look further than one byte past the cap. */
	n = strnlen(token, JWT_MAX_TOKEN + 1);
	for (i = 0; i < n; i++)
		if (token[i] == '.') {
			if (ndots == 0)
				d1 = token + i;
			else if (ndots == 1)
				d2 = token + i;
			ndots++;
		}
	if (ndots != 2) {
		*why = "not three segments";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (n > JWT_MAX_TOKEN) {
		*why = "token too large";
		return CB_ERR_UNAUTHENTICATED;
	}
	hlen = (size_t)(d1 - token);
	plen = (size_t)(d2 - d1) - 1;
	slen = n - (size_t)(d2 - token) - 1;
	if (hlen == 0 || plen == 0 || slen == 0) {
		*why = "empty segment";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (b64url_decode(p->hdr, sizeof(p->hdr), &p->hdr_len, token, hlen) != CB_OK) {
		*why = "header is not base64url";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (b64url_decode(p->pl, sizeof(p->pl), &p->pl_len, d1 + 1, plen) != CB_OK) {
		*why = "payload is not base64url";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (b64url_decode(p->sig, sizeof(p->sig), &p->sig_len, d2 + 1, slen) != CB_OK) {
		*why = "signature is not base64url";
		return CB_ERR_UNAUTHENTICATED;
	}
	p->input_len = (size_t)(d2 - token);
	return CB_OK;
}

/*
 * cJSON decodes "\u0000" to a NUL, which would silently cut a string short
 * ("user-42\u0000admin" read as "user-42"); jv_parse does not refuse it
 * yet (test_jsonv records the bug), so refuse it here.  Every backslash in
 * JSON starts an escape, so skipping the escaped character keeps "\\u0000"
 * (a backslash, then text) apart from a real \u0000.
 */
static int
jwt_has_nul_escape(const unsigned char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\')
			continue;
		if (i + 5 < n && s[i + 1] == 'u' && s[i + 2] == '0' &&
		    s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
			return 1;
		i++;
	}
	return 0;
}

/* Exactly one JSON object, through the project's boundary parser. */
static int
jwt_parse_object(const unsigned char *s, size_t n, cJSON **out)
{
	*out = NULL;
	if (jwt_has_nul_escape(s, n) ||
	    jv_parse((const char *)s, n, out, NULL) != CB_OK)
		return 0;
	return cJSON_IsObject(*out);
}

static int
jwt_sig_ok(const char *token, const struct jwt_parts *p,
    const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	if (p->sig_len != JWT_SIGBYTES)
		return 0;
	return crypto_sign_verify_detached(p->sig, (const unsigned char *)token,
	    p->input_len, pk) == 0;
}

static int
jwt_opts_ok(const struct jwt_verify_opts *o)
{
	return o->iss != NULL && *o->iss != '\0' &&
	    o->aud != NULL && *o->aud != '\0' &&
	    o->typ != NULL && *o->typ != '\0' &&
	    o->key_for_kid != NULL &&
	    o->leeway >= 0 && o->leeway <= JWT_LEEWAY_MAX &&
	    o->now >= 0 && o->now <= JWT_TIME_MAX;
}

int
jwt_verify(const char *token, const struct jwt_verify_opts *o,
    struct jwt_claims *out)
{
	struct jwt_parts	 p;
	struct jwt_hdr		 h;
	struct jwt_payload	 pl;
	const cJSON		*alg;
	cJSON			*hj = NULL, *pj = NULL;
	const char		*why = NULL;
	unsigned char		 pk[crypto_sign_PUBLICKEYBYTES];
	int64_t			 now;
	int			 rc = CB_ERR_UNAUTHENTICATED, kr;

	if (out == NULL || o == NULL)
		return CB_ERR_CONFIG;
	memset(out, 0, sizeof(*out));
	if (!jwt_opts_ok(o)) {
		why = "verifier options invalid";
		rc = CB_ERR_CONFIG;
		goto out;
	}
	now = o->now != 0 ? o->now : util_now_s();

	if (jwt_split(token, &p, &why) != CB_OK)
		goto out;

	/* The header, before any key is touched. */
	if (!jwt_parse_object(p.hdr, p.hdr_len, &hj)) {
		why = "header is not a well-formed JSON object";
		goto out;
	}
	alg = cJSON_GetObjectItemCaseSensitive(hj, "alg");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, JWT_ALG) != 0) {
		why = "alg not allowed";
		goto out;
	}
	memset(&h, 0, sizeof(h));
	if (jv_validate(hj, jwt_hdr_fields, NELEM(jwt_hdr_fields), &h, NULL) != CB_OK) {
		why = "header has missing, unknown or duplicate members";
		goto out;
	}
	/* A duplicate "alg" would have failed above; this one is the only one. */
	if (strcmp(h.typ, JWT_HEADER_TYP) != 0) {
		why = "header typ not allowed";
		goto out;
	}
	if (!jwt_kid_ok(h.kid)) {
		why = "kid malformed";
		goto out;
	}
	/* Zeroed first: a callback that "succeeds" without a key verifies nothing. */
	memset(pk, 0, sizeof(pk));
	if ((kr = o->key_for_kid(h.kid, pk, o->ud)) != 0) {
		why = "unknown kid";
		if (kr == JWT_KEY_UNAVAILABLE) {
			why = "signing keys unavailable";
			rc = CB_ERR_UNAVAILABLE;
		}
		goto out;
	}
	if (!jwt_sig_ok(token, &p, pk)) {
		why = "bad signature";
		goto out;
	}

	/* Signed by us: now the claims. */
	if (!jwt_parse_object(p.pl, p.pl_len, &pj)) {
		why = "payload is not a well-formed JSON object";
		goto out;
	}
	memset(&pl, 0, sizeof(pl));
	pl.nbf = -1;
	if (jv_validate(pj, jwt_payload_fields, NELEM(jwt_payload_fields), &pl, NULL) != CB_OK) {
		why = "claims missing, unknown, duplicate or mistyped";
		goto out;
	}
	if ((int64_t)pl.exp <= now - o->leeway) {
		why = "token expired";
		goto out;
	}
	if (pl.nbf >= 0 && (int64_t)pl.nbf > now + o->leeway) {
		why = "token not yet valid";
		goto out;
	}
	if ((int64_t)pl.iat > now + o->leeway || pl.iat > pl.exp) {
		why = "iat in the future or after exp";
		goto out;
	}
	if (strcmp(pl.iss, o->iss) != 0) {
		why = "wrong issuer";
		goto out;
	}
	if (!jwt_aud_has(pl.aud, o->aud)) {
		why = "wrong audience";
		goto out;
	}
	if (strcmp(pl.typ, o->typ) != 0) {
		why = "wrong token type";
		goto out;
	}

	/* Lengths were bounded by the table to fit each field. */
	util_strlcpy(out->iss, pl.iss, sizeof(out->iss));
	util_strlcpy(out->aud, o->aud, sizeof(out->aud));
	util_strlcpy(out->sub, pl.sub, sizeof(out->sub));
	util_strlcpy(out->typ, pl.typ, sizeof(out->typ));
	if (pl.org)
		util_strlcpy(out->org, pl.org, sizeof(out->org));
	if (pl.role)
		util_strlcpy(out->role, pl.role, sizeof(out->role));
	if (pl.jti)
		util_strlcpy(out->jti, pl.jti, sizeof(out->jti));
	if (pl.scope)
		util_strlcpy(out->scope, pl.scope, sizeof(out->scope));
	out->iat = (int64_t)pl.iat;
	out->nbf = pl.nbf >= 0 ? (int64_t)pl.nbf : 0;
	out->exp = (int64_t)pl.exp;
	rc = CB_OK;
out:
	cJSON_Delete(hj);
	cJSON_Delete(pj);
	if (rc != CB_OK) {
		memset(out, 0, sizeof(*out));
		if (o->reason != NULL)
			*o->reason = why;
	} else if (o->reason != NULL)
		*o->reason = NULL;
	return rc;
}

int
jwt_verify_signature(const char *token,
    const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	struct jwt_parts	 p;
	const char		*why = NULL;

	if (pk == NULL || jwt_split(token, &p, &why) != CB_OK)
		return CB_ERR_UNAUTHENTICATED;
	return jwt_sig_ok(token, &p, pk) ? CB_OK : CB_ERR_UNAUTHENTICATED;
}

int
jwt_sign_input(const char *input, size_t n,
    const unsigned char sk[crypto_sign_SECRETKEYBYTES], char *out, size_t outsz)
{
	unsigned char	 sig[JWT_SIGBYTES];
	const char	*dot;
	size_t		 hlen, total;
	int		 rc;

	if (out == NULL || outsz == 0)
		return CB_ERR_TOO_LARGE;
	out[0] = '\0';
	if (input == NULL || sk == NULL || n == 0 || n > JWT_MAX_TOKEN ||
	    memchr(input, '\0', n) != NULL)
		return CB_ERR_VALIDATION;
	/* Exactly "segment.segment", both canonical base64url. */
	if ((dot = memchr(input, '.', n)) == NULL)
		return CB_ERR_VALIDATION;
	hlen = (size_t)(dot - input);
	if (memchr(dot + 1, '.', n - hlen - 1) != NULL ||
	    !jwt_seg_ok(input, hlen) || !jwt_seg_ok(dot + 1, n - hlen - 1))
		return CB_ERR_VALIDATION;
	total = n + 1 + JWT_SIG_B64LEN;
	if (total > JWT_MAX_TOKEN || total + 1 > outsz)
		return CB_ERR_TOO_LARGE;
	crypto_sign_detached(sig, NULL, (const unsigned char *)input, n, sk);
	memcpy(out, input, n);
	out[n] = '.';
	if ((rc = b64url_encode(out + n + 1, outsz - n - 1, sig, sizeof(sig))) != CB_OK)
		out[0] = '\0';
	return rc;
}

/* A NUL-terminated, UTF-8 string field of the claims; `required`: non-empty. */
static int
jwt_field_ok(const char *s, size_t sz, int required)
{
	const char	*nul = memchr(s, '\0', sz);

	if (nul == NULL)
		return 0;
	if (required && nul == s)
		return 0;
	return jv_utf8_ok(s, (size_t)(nul - s));
}

static int
jwt_claims_ok(const struct jwt_claims *c)
{
	if (!jwt_field_ok(c->iss, sizeof(c->iss), 1) ||
	    !jwt_field_ok(c->aud, sizeof(c->aud), 1) ||
	    !jwt_field_ok(c->sub, sizeof(c->sub), 1) ||
	    !jwt_field_ok(c->typ, sizeof(c->typ), 1) ||
	    !jwt_field_ok(c->org, sizeof(c->org), 0) ||
	    !jwt_field_ok(c->role, sizeof(c->role), 0) ||
	    !jwt_field_ok(c->jti, sizeof(c->jti), 0) ||
	    !jwt_field_ok(c->scope, sizeof(c->scope), 0))
		return 0;
	if (c->iat < 0 || c->iat > JWT_TIME_MAX ||
	    c->exp <= c->iat || c->exp > JWT_TIME_MAX ||
	    c->nbf < 0 || c->nbf > JWT_TIME_MAX)
		return 0;
	return 1;
}

/* Append `,"name":"value"` (or without the comma first); empty values skipped. */
static int
jwt_put_str(struct buf *b, const char *name, const char *val)
{
	int	 rc;

	if (*val == '\0')
		return CB_OK;
	if (b->len > 1 && (rc = buf_putc(b, ',')) != CB_OK)
		return rc;
	if ((rc = buf_json_str(b, name)) != CB_OK ||
	    (rc = buf_putc(b, ':')) != CB_OK)
		return rc;
	return buf_json_str(b, val);
}

static int
jwt_put_int(struct buf *b, const char *name, int64_t v)
{
	return buf_printf(b, ",\"%s\":%" PRId64, name, v);
}

int
jwt_sign(const struct jwt_claims *c, const char *kid,
    const unsigned char sk[crypto_sign_SECRETKEYBYTES], char *out, size_t outsz)
{
	struct buf	 hj, pj, in;
	int		 rc;

	buf_init(&hj, JWT_MAX_TOKEN);
	buf_init(&pj, JWT_MAX_TOKEN);
	buf_init(&in, JWT_MAX_TOKEN);
	if (out == NULL || outsz == 0) {
		rc = CB_ERR_TOO_LARGE;
		goto out;
	}
	out[0] = '\0';
	if (c == NULL || sk == NULL || !jwt_kid_ok(kid) || !jwt_claims_ok(c)) {
		rc = CB_ERR_VALIDATION;
		goto out;
	}

	if ((rc = buf_putc(&hj, '{')) != CB_OK ||
	    (rc = jwt_put_str(&hj, "alg", JWT_ALG)) != CB_OK ||
	    (rc = jwt_put_str(&hj, "typ", JWT_HEADER_TYP)) != CB_OK ||
	    (rc = jwt_put_str(&hj, "kid", kid)) != CB_OK ||
	    (rc = buf_putc(&hj, '}')) != CB_OK)
		goto out;

	if ((rc = buf_putc(&pj, '{')) != CB_OK ||
	    (rc = jwt_put_str(&pj, "iss", c->iss)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "sub", c->sub)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "aud", c->aud)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "org", c->org)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "role", c->role)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "scope", c->scope)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "typ", c->typ)) != CB_OK ||
	    (rc = jwt_put_str(&pj, "jti", c->jti)) != CB_OK ||
	    (rc = jwt_put_int(&pj, "iat", c->iat)) != CB_OK ||
	    (c->nbf != 0 && (rc = jwt_put_int(&pj, "nbf", c->nbf)) != CB_OK) ||
	    (rc = jwt_put_int(&pj, "exp", c->exp)) != CB_OK ||
	    (rc = buf_putc(&pj, '}')) != CB_OK)
		goto out;

	if ((rc = b64url_encode_buf(&in, (const unsigned char *)hj.data, hj.len)) != CB_OK ||
	    (rc = buf_putc(&in, '.')) != CB_OK ||
	    (rc = b64url_encode_buf(&in, (const unsigned char *)pj.data, pj.len)) != CB_OK)
		goto out;
	rc = jwt_sign_input(in.data, in.len, sk, out, outsz);
out:
	buf_free(&hj);
	buf_free(&pj);
	buf_free(&in);
	return rc;
}

int
jwt_jwk_public(const char *kid, const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
    cJSON **out)
{
	cJSON	*o = NULL;
	char	 x[B64URL_ENCODED_LEN(JWT_PUBLICKEYBYTES) + 1];
	int	 rc;

	*out = NULL;
	if (pk == NULL || !jwt_kid_ok(kid))
		return CB_ERR_VALIDATION;
	if ((rc = b64url_encode(x, sizeof(x), pk, JWT_PUBLICKEYBYTES)) != CB_OK)
		return rc;
	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	if (cJSON_AddStringToObject(o, "kty", "OKP") == NULL ||
	    cJSON_AddStringToObject(o, "crv", "Ed25519") == NULL ||
	    cJSON_AddStringToObject(o, "kid", kid) == NULL ||
	    cJSON_AddStringToObject(o, "use", "sig") == NULL ||
	    cJSON_AddStringToObject(o, "alg", JWT_ALG) == NULL ||
	    cJSON_AddStringToObject(o, "x", x) == NULL)
		util_oom();
	*out = o;
	return CB_OK;
}

int
jwt_jwk_parse_public(const cJSON *jwk, char *kid, size_t kidsz,
    unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	struct jwt_jwk	 k;
	unsigned char	 raw[JWT_PUBLICKEYBYTES];
	size_t		 n;

	if (jwk == NULL || kid == NULL || pk == NULL || !cJSON_IsObject(jwk))
		return CB_ERR_VALIDATION;
	/* A private key where a public one belongs is an operator mistake. */
	if (cJSON_GetObjectItemCaseSensitive(jwk, "d") != NULL)
		return CB_ERR_VALIDATION;
	memset(&k, 0, sizeof(k));
	if (jv_validate(jwk, jwt_jwk_fields, NELEM(jwt_jwk_fields), &k, NULL) != CB_OK)
		return CB_ERR_VALIDATION;
	if (strcmp(k.kty, "OKP") != 0 || strcmp(k.crv, "Ed25519") != 0 ||
	    (k.use != NULL && strcmp(k.use, "sig") != 0) ||
	    (k.alg != NULL && strcmp(k.alg, JWT_ALG) != 0) ||
	    !jwt_kid_ok(k.kid) || strlen(k.kid) >= kidsz)
		return CB_ERR_VALIDATION;
	if (b64url_decode(raw, sizeof(raw), &n, k.x, strlen(k.x)) != CB_OK ||
	    n != JWT_PUBLICKEYBYTES ||
	    crypto_core_ed25519_is_valid_point(raw) != 1)
		return CB_ERR_VALIDATION;
	util_strlcpy(kid, k.kid, kidsz);
	memcpy(pk, raw, sizeof(raw));
	return CB_OK;
}
