/*
 * Fuzz target: JWT verification (lib/jwt), which reads every bearer token
 * a person or agent sends.  The first byte picks the mode:
 *   even: the rest is a token, verified at a fixed "now" against one
 *         Ed25519 key (kid "k1", seeded: SEED below).  Whatever the input,
 *         a refusal says why, and an accepted token is exactly what the
 *         signer makes of its first two segments (Ed25519 is
 *         deterministic): no other spelling of a valid token is taken.
 *   odd:  the rest gives a subject and a scope; what jwt_sign makes of them
 *         verifies, with the same claims back.
 * Seeds: tests/fuzz/corpus/jwt/ (tokens signed with that key).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW	INT64_C(1700000000)
static const unsigned char SEED[crypto_sign_SEEDBYTES] = "context-broker-fuzz-jwt-seed-32b";

static unsigned char	 pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

static int
key_for(const char *kid, unsigned char out[crypto_sign_PUBLICKEYBYTES], void *ud)
{
	(void)ud;
	if (strcmp(kid, "k1") != 0)
		return 1;
	memcpy(out, pk, sizeof(pk));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct jwt_verify_opts	 o;
	struct jwt_claims	 c, got;
	const char		*why = NULL, *dot2;
	char			*in, again[JWT_TOKEN_BUFSZ], tok[JWT_TOKEN_BUFSZ];
	size_t			 n;

	if (!ready) {
		if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, SEED) != 0)
			abort();
		ready = 1;
	}
	if (size < 1 || size > JWT_MAX_TOKEN || (in = malloc(size)) == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	memset(&o, 0, sizeof(o));
	o.iss = "https://broker.example";
	o.aud = "context-broker";
	o.typ = "access";
	o.leeway = 30;
	o.now = NOW;
	o.key_for_kid = key_for;
	o.reason = &why;
	if ((data[0] & 1) == 0) {
		if (jwt_verify(in, &o, &got) == CB_OK) {
			dot2 = strrchr(in, '.');
			n = dot2 ? (size_t)(dot2 - in) : 0;
			if (n == 0 || jwt_sign_input(in, n, sk, again, sizeof(again)) != CB_OK ||
			    strcmp(again, in) != 0)
				abort();
		} else if (why == NULL)
			abort();
	} else {
		memset(&c, 0, sizeof(c));
		snprintf(c.iss, sizeof(c.iss), "%s", o.iss);
		snprintf(c.aud, sizeof(c.aud), "%s", o.aud);
		snprintf(c.typ, sizeof(c.typ), "%s", o.typ);
		n = strcspn(in, "\n");
		snprintf(c.sub, sizeof(c.sub), "%.*s", (int)(n < 127 ? n : 127), in);
		if (in[n] == '\n')
			snprintf(c.scope, sizeof(c.scope), "%s", in + n + 1);
		c.iat = NOW - 10;
		c.exp = NOW + 600;
		if (jwt_sign(&c, "k1", sk, tok, sizeof(tok)) == CB_OK) {
			if (jwt_verify(tok, &o, &got) != CB_OK || strcmp(got.sub, c.sub) != 0 ||
			    strcmp(got.scope, c.scope) != 0 || got.exp != c.exp)
				abort();
		}
	}
	free(in);
	return 0;
}
