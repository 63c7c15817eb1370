/*
 * errs: the one error enum of the project and the table that maps each code
 * to an HTTP status, a stable problem+json `type` and a title (RFC 9457).
 *
 * Zero is success.  Codes only ever grow: never renumber or reuse one, since
 * they reach logs and metrics.  Every function in lib/ that can fail returns
 * an `int` holding one of these.
 */
#ifndef CB_ERRS_H
#define CB_ERRS_H

enum cb_err {
	CB_OK = 0,
	CB_ERR_INTERNAL,	/* broken invariant we survived: 500 */
	CB_ERR_NOMEM,		/* allocation failed: 500 */
	CB_ERR_BAD_REQUEST,	/* request line, headers or query malformed: 400 */
	CB_ERR_BAD_JSON,	/* body is not one well-formed JSON object: 400 */
	CB_ERR_VALIDATION,	/* a field is unknown, duplicate, missing, mistyped, out of bounds: 400 */
	CB_ERR_UNAUTHENTICATED,	/* no or bad credentials: 401 */
	CB_ERR_FORBIDDEN,	/* known caller, not allowed: 403 */
	CB_ERR_NOT_FOUND,	/* no such resource (or another tenant's): 404 */
	CB_ERR_METHOD,		/* method not allowed on this path: 405 */
	CB_ERR_CONFLICT,	/* state conflict: 409 */
	CB_ERR_TOO_LARGE,	/* body over the route's cap: 413 */
	CB_ERR_MEDIA_TYPE,	/* wrong Content-Type: 415 */
	CB_ERR_UNPROCESSABLE,	/* well-formed but semantically refused: 422 */
	CB_ERR_RATE_LIMITED,	/* 429 */
	CB_ERR_UNAVAILABLE,	/* a dependency is down: 503 */
	CB_ERR_DB,		/* Postgres refused a statement: 500 */
	CB_ERR_DB_DOWN,		/* Postgres unreachable: 503 */
	CB_ERR_DB_CONFLICT,	/* unique violation / serialization failure: 409 */
	CB_ERR_KV,		/* Redis refused a command: 500 */
	CB_ERR_KV_DOWN,		/* Redis unreachable: 503 */
	CB_ERR_IDEM_MISSING,	/* Idempotency-Key required but absent or malformed: 400 */
	CB_ERR_IDEM_MISMATCH,	/* key reused with another payload: 422 */
	CB_ERR_IDEM_IN_FLIGHT,	/* key's first request still running: 409 */
	CB_ERR_VERSION_STALE,	/* pinned form version is no longer current: 409 */
	CB_ERR_CONFIG,		/* configuration invalid (start-up only) */
	CB_ERR_IO,		/* file or socket I/O failed */
	CB_ERR_CRYPTO,		/* a seal failed to open, a signature failed */
	CB_ERR_UPSTREAM,	/* an upstream answered badly: 502 */
	CB_ERR_TIMEOUT,		/* an upstream or lock timed out: 504 */
	CB_ERR_POLICY,		/* the agent policy forbids it: 403 */
	CB_ERR_GONE,		/* 410 */
	CB_ERR_DUPLICATE,	/* the same submission again under a new key: 409 */
	CB_ERR_DB_BUSY,		/* Postgres gave up waiting (statement or lock timeout): 503 */
	CB_ERR_TLS_REQUIRED,	/* a credential route asked over plain HTTP: 403 */
	CB_ERR_PRECONDITION,	/* If-Match names another version than the current: 412 */
	CB_ERR_ALTERED_REPLAY,	/* a call event's (correlation id, type) again with another body: 422 */
	CB_ERR_WEBHOOK_REUSED,	/* a webhook-id used before with another body: 409 */
	CB_ERR_RESIDENCY,	/* a destination outside the tenant's data region: 422 */
	CB_ERR_SUNSET,		/* a deprecated route past its sunset (docs/versioning.md): 410 */
	CB_ERR__COUNT
};

/* The HTTP status for a code; 500 for anything unknown. */
int		 errs_status(int code);
/* The problem `type` URI reference, e.g. "/problems/validation". */
const char	*errs_type(int code);
/* The short title for the type; it never changes between occurrences. */
const char	*errs_title(int code);
/* The enum's name without the prefix, e.g. "VALIDATION", for logs. */
const char	*errs_name(int code);
/* The reason phrase for an HTTP status ("Not Found"), "Unknown" otherwise. */
const char	*errs_reason(int status);

#endif
