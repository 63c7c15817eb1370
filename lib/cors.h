/*
 * cors: cross-origin access from an allowlist (CB_CORS_ORIGINS, exact
 * match of scheme://host[:port]).
 *
 * A listed origin gets Access-Control-Allow-Origin echoing it (never "*"),
 * Access-Control-Allow-Credentials and Vary: Origin; an unlisted origin gets
 * no CORS header at all, so the browser keeps the response from the page.
 * Preflights (OPTIONS with Access-Control-Request-Method) are answered by
 * the pipeline for every route: 204 for a listed origin asking for a method
 * the path has, 403 problem+json otherwise.
 */
#ifndef CB_CORS_H
#define CB_CORS_H

struct req;
struct responder;

/* 1 if `origin` is in the comma-separated allowlist. */
int	 cors_allowed(const char *allowlist, const char *origin);
/* Add the CORS headers an actual response needs (if any). */
void	 cors_apply(struct req *);
/*
 * Answer an OPTIONS preflight for a path whose methods are `allow`: CB_OK
 * with the 204, or CB_ERR_FORBIDDEN recorded (route_fail) for the pipeline.
 */
int	 cors_preflight(struct req *, const char *allow);

#endif
