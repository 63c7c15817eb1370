/*
 * fail: the one way for a hook, act() or a module the pipeline calls
 * (authentication, idempotency, CORS, mTLS) to fail a request: record the
 * error (code, detail, problem extensions) on the request and return the
 * code.  The pipeline (route.h) renders the one problem+json answer from
 * what was recorded; nothing answers an error itself and returns CB_OK.
 * Its own header so that those modules record a failure without including
 * the pipeline; the names keep the route_ prefix every responder knows.
 */
#ifndef CB_FAIL_H
#define CB_FAIL_H

#include <cjson/cJSON.h>

struct req;

/*
 * Record the error and return `code`, as in
 *   return route_fail(r, CB_ERR_CONFLICT, "the dead letter is not dead");
 * The pipeline renders the problem+json answer from the record when the
 * code it is handed back is that code; a bare `return CB_ERR_...;` gets
 * the generic answer for the code.  Headers that describe the answer
 * (WWW-Authenticate, Allow, Retry-After) may be set before; any other
 * header and any success answer already set give way to the problem.
 *
 * In a ROUTE_IDEMPOTENT route that runs in a transaction, a refusal act()
 * records with a 4xx code is the request's answer: the effect is rolled
 * back and the key remembers the refusal (a replay gets it again, with
 * Idempotent-Replayed).  A bare code or a 5xx leaves the key unclaimed
 * for the client to retry.
 */
int	 route_fail(struct req *, int code, const char *detail);
/* The same with problem extension members; takes ownership of `ext`. */
int	 route_fail_ext(struct req *, int code, const char *detail, cJSON *ext);
/* A field's failure: detail "field: reason" and the "field" member. */
int	 route_fail_field(struct req *, int code, const char *field, const char *reason);
/*
 * The one 429: Retry-After (whole seconds, at least 1) and the
 * rate-limited problem; returns CB_ERR_RATE_LIMITED.
 */
int	 route_too_many(struct req *, long retry_after_ms, const char *detail);

#endif
