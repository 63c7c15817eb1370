/*
 * errs: one table, indexed by the error code, gives status, type and title.
 * The table is checked at start-up by the unit tests to cover every code.
 */
#include <stddef.h>

#include "errs.h"

struct errs_row {
	int		 status;
	const char	*name;
	const char	*type;
	const char	*title;
};

static const struct errs_row errs_table[CB_ERR__COUNT] = {
	[CB_OK]			= { 200, "OK", "/problems/ok", "OK" },
	[CB_ERR_INTERNAL]	= { 500, "INTERNAL", "/problems/internal", "Internal error" },
	[CB_ERR_NOMEM]		= { 500, "NOMEM", "/problems/internal", "Internal error" },
	[CB_ERR_BAD_REQUEST]	= { 400, "BAD_REQUEST", "/problems/bad-request", "Malformed request" },
	[CB_ERR_BAD_JSON]	= { 400, "BAD_JSON", "/problems/malformed-json", "Malformed JSON body" },
	[CB_ERR_VALIDATION]	= { 400, "VALIDATION", "/problems/validation", "Invalid field" },
	[CB_ERR_UNAUTHENTICATED] = { 401, "UNAUTHENTICATED", "/problems/unauthenticated", "Authentication required" },
	[CB_ERR_FORBIDDEN]	= { 403, "FORBIDDEN", "/problems/forbidden", "Forbidden" },
	[CB_ERR_NOT_FOUND]	= { 404, "NOT_FOUND", "/problems/not-found", "Not found" },
	[CB_ERR_METHOD]		= { 405, "METHOD", "/problems/method-not-allowed", "Method not allowed" },
	[CB_ERR_CONFLICT]	= { 409, "CONFLICT", "/problems/conflict", "Conflict" },
	[CB_ERR_TOO_LARGE]	= { 413, "TOO_LARGE", "/problems/payload-too-large", "Payload too large" },
	[CB_ERR_MEDIA_TYPE]	= { 415, "MEDIA_TYPE", "/problems/unsupported-media-type", "Unsupported media type" },
	[CB_ERR_UNPROCESSABLE]	= { 422, "UNPROCESSABLE", "/problems/unprocessable", "Unprocessable request" },
	[CB_ERR_RATE_LIMITED]	= { 429, "RATE_LIMITED", "/problems/rate-limited", "Too many requests" },
	[CB_ERR_UNAVAILABLE]	= { 503, "UNAVAILABLE", "/problems/unavailable", "Service unavailable" },
	[CB_ERR_DB]		= { 500, "DB", "/problems/internal", "Internal error" },
	[CB_ERR_DB_DOWN]	= { 503, "DB_DOWN", "/problems/unavailable", "Service unavailable" },
	[CB_ERR_DB_CONFLICT]	= { 409, "DB_CONFLICT", "/problems/conflict", "Conflict" },
	[CB_ERR_KV]		= { 500, "KV", "/problems/internal", "Internal error" },
	[CB_ERR_KV_DOWN]	= { 503, "KV_DOWN", "/problems/unavailable", "Service unavailable" },
	[CB_ERR_IDEM_MISSING]	= { 400, "IDEM_MISSING", "/problems/idempotency-key-missing", "Idempotency-Key required" },
	[CB_ERR_IDEM_MISMATCH]	= { 422, "IDEM_MISMATCH", "/problems/idempotency-key-reused", "Idempotency-Key is already used" },
	[CB_ERR_IDEM_IN_FLIGHT]	= { 409, "IDEM_IN_FLIGHT", "/problems/idempotency-key-in-flight", "A request is outstanding for this Idempotency-Key" },
	[CB_ERR_VERSION_STALE]	= { 409, "VERSION_STALE", "/problems/form-version-stale", "Form version is no longer current" },
	[CB_ERR_CONFIG]		= { 500, "CONFIG", "/problems/internal", "Internal error" },
	[CB_ERR_IO]		= { 500, "IO", "/problems/internal", "Internal error" },
	[CB_ERR_CRYPTO]		= { 500, "CRYPTO", "/problems/internal", "Internal error" },
	[CB_ERR_UPSTREAM]	= { 502, "UPSTREAM", "/problems/upstream-error", "Upstream error" },
	[CB_ERR_TIMEOUT]	= { 504, "TIMEOUT", "/problems/upstream-timeout", "Upstream timeout" },
	[CB_ERR_POLICY]		= { 403, "POLICY", "/problems/policy-denied", "Forbidden by policy" },
	[CB_ERR_GONE]		= { 410, "GONE", "/problems/gone", "Gone" },
	[CB_ERR_DUPLICATE]	= { 409, "DUPLICATE", "/problems/duplicate-submission", "Duplicate submission" },
	[CB_ERR_DB_BUSY]	= { 503, "DB_BUSY", "/problems/unavailable", "Service unavailable" },
	[CB_ERR_TLS_REQUIRED]	= { 403, "TLS_REQUIRED", "/problems/https-required", "HTTPS required" },
	[CB_ERR_PRECONDITION]	= { 412, "PRECONDITION", "/problems/precondition-failed", "Precondition failed" },
	[CB_ERR_ALTERED_REPLAY]	= { 422, "ALTERED_REPLAY", "/problems/altered-replay", "Altered replay of an event" },
	[CB_ERR_WEBHOOK_REUSED]	= { 409, "WEBHOOK_REUSED", "/problems/webhook-id-reused", "Webhook id already used" },
	[CB_ERR_RESIDENCY]	= { 422, "RESIDENCY", "/problems/data-residency", "Outside the tenant's data region" },
	[CB_ERR_SUNSET]		= { 410, "SUNSET", "/problems/route-sunset", "Route retired" },
};

static const struct errs_row *
errs_row(int code)
{
	if (code < 0 || code >= CB_ERR__COUNT || errs_table[code].name == NULL)
		return &errs_table[CB_ERR_INTERNAL];
	return &errs_table[code];
}

int
errs_status(int code)
{
	return errs_row(code)->status;
}

const char *
errs_type(int code)
{
	return errs_row(code)->type;
}

const char *
errs_title(int code)
{
	return errs_row(code)->title;
}

const char *
errs_name(int code)
{
	return errs_row(code)->name;
}

const char *
errs_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Unknown";
	}
}
