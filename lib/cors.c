/*
 * cors: see cors.h.
 */
#include <string.h>
#include <strings.h>

#include "app.h"
#include "cors.h"
#include "errs.h"
#include "fail.h"
#include "req.h"

/* traceparent: a page may send its W3C trace context (docs/tracing.md). */
#define CORS_ALLOW_HEADERS	"Authorization, Content-Type, Idempotency-Key, traceparent"
#define CORS_EXPOSE_HEADERS	"Form-Version, Form-Version-Latest, Idempotent-Replayed, " \
				"Location, Retry-After, X-Request-Id, Deprecation, Sunset, Link, " \
				"X-Trace-Id"

int
cors_allowed(const char *list, const char *origin)
{
	const char	*p, *e;
	size_t		 n;

	if (list == NULL || origin == NULL || *origin == '\0' || strcmp(origin, "null") == 0)
		return 0;
	n = strlen(origin);
	for (p = list; *p; p = *e ? e + 1 : e) {
		while (*p == ' ')
			p++;
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		/* Trailing spaces before the comma are not part of the origin. */
		{
			const char *t = e;

			while (t > p && t[-1] == ' ')
				t--;
			if ((size_t)(t - p) == n && strncmp(p, origin, n) == 0)
				return 1;
		}
	}
	return 0;
}

static int
cors_origin(struct req *r, const char **origin)
{
	*origin = req_header(r, "Origin");
	return r->app && cors_allowed(r->app->settings.cors_origins, *origin);
}

void
cors_apply(struct req *r)
{
	const char	*origin;

	if (!cors_origin(r, &origin))
		return;
	/* A refused preflight grants nothing; an accepted one has its headers. */
	if (strcmp(r->method, "OPTIONS") == 0)
		return;
	resp_header(r, "Access-Control-Allow-Origin", origin);
	resp_header(r, "Access-Control-Allow-Credentials", "true");
	resp_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	resp_header(r, "Vary", "Origin");
}

int
cors_preflight(struct req *r, const char *allow)
{
	const char	*origin, *want = req_header(r, "Access-Control-Request-Method");
	const char	*p;
	size_t		 n;
	int		 ok = 0;

	if (want && allow) {
		n = strlen(want);
		for (p = allow; (p = strstr(p, want)) != NULL; p += n)
			if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
				ok = 1;
	}
	if (!cors_origin(r, &origin) || !ok)
		return route_fail(r, CB_ERR_FORBIDDEN, origin && *origin ?
		    "this origin may not call this route from a browser" :
		    "a preflight needs Origin and Access-Control-Request-Method");
	resp_header(r, "Access-Control-Allow-Origin", origin);
	resp_header(r, "Access-Control-Allow-Credentials", "true");
	resp_header(r, "Access-Control-Allow-Methods", allow);
	resp_header(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
	resp_header(r, "Access-Control-Max-Age", "600");
	resp_header(r, "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
	resp_body(r, 204, NULL, "", 0);
	return CB_OK;
}
