/*
 * GET /.well-known/jwks.json
 *
 * Who: anyone (public keys only).
 * Idempotency-Key: not applicable.
 * Answers: 200 {"keys":[{"kty":"OKP","crv":"Ed25519","kid","use":"sig",
 *          "alg":"Ed25519","x"}…]}: the next, active and retiring keys
 *          (lib/signkeys.h), Cache-Control: public, max-age=300, so a key
 *          is listed at least one cache lifetime before it signs and until
 *          every token it signed has expired; 503 when the keys cannot be
 *          read; 405 for other methods.
 */
#include <stdio.h>

#include "errs.h"
#include "log.h"
#include "route.h"
#include "signkeys.h"

static int
jwks_get(struct req *r, const void *args)
{
	cJSON	*doc = NULL;
	char	 cc[48];
	int	 rc;

	(void)args;
	if ((rc = signkeys_jwks(r->app, &doc)) != CB_OK)
		return rc;
	snprintf(cc, sizeof(cc), "public, max-age=%d", SIGNKEYS_JWKS_MAX_AGE_S);
	resp_header(r, "Cache-Control", cc);
	resp_json(r, 200, doc);
	cJSON_Delete(doc);
	return CB_OK;
}

static const struct route jwks_routes[] = {
	{ .method = "GET", .pattern = "/.well-known/jwks.json", .act = jwks_get },
};

ROUTE_MAIN("jwks", jwks_routes,
    .init = signkeys_responder_init, .fini = signkeys_responder_fini)
