/*
 * The operator console's reads (web/console/, docs/console.md): one
 * tenant's outbox, approvals and the node's live connections.  The domain
 * (queries, masking) is lib/console.h; the dead letters the console
 * replays and discards are cgi/deadletters.c's.
 *
 * GET /api/v1/admin/outbox?failures=       -> 200 {sinks, failures}
 *        unfinished rows by sink and state with the oldest's age, and the
 *        latest failures (1..100, default 20)
 * GET /api/v1/admin/approvals?state=&limit= -> 200 {approvals}
 *        state pending (default), approved, denied or expired; limit
 *        1..200 (default 50); newest first, values masked
 * GET /api/v1/admin/live                    -> 200 {ws_connections, scope, segments}
 *        the node's open WebSockets now (the worker's metrics gauge)
 *
 * Who: a person with role admin or operator (Authorization: Bearer <access
 * JWT>); a viewer or an approver gets 403 naming the roles; no or a bad
 * token 401.  Tenant-scoped: only the caller's organisation's rows.
 * Idempotency-Key: not needed (reads).  Cache-Control: no-store.
 * Errors: 400 (a query parameter unknown, repeated or out of bounds:
 * named), 401, 403, 503.
 */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "errs.h"
#include "route.h"
#include "userauth.h"

struct outbox_args {
	long long	 failures;
};

static const struct jv_field outbox_query[] = {
	{ "failures", JV_INT, 0, 1, CONSOLE_FAILURES_MAX, offsetof(struct outbox_args, failures),
	  NULL },
};

struct approvals_args {
	const char	*state;
	long long	 limit;
};

static const struct jv_field approvals_query[] = {
	{ "state", JV_STRING, 0, 1, 16, offsetof(struct approvals_args, state), NULL,
	  .text_ok = console_approval_state_ok, .why = "must be pending, approved, denied or expired" },
	{ "limit", JV_INT, 0, 1, CONSOLE_APPROVALS_MAX, offsetof(struct approvals_args, limit),
	  NULL },
};

static const char *
caller_org(const struct req *r)
{
	const struct user_auth	*u = r->auth;

	return u->org;
}

/* A read's answer, no-store: `o` when `rc` says it was read (then freed). */
static int
answer(struct req *r, int rc, cJSON *o)
{
	if (rc == CB_OK)
		resp_json_nostore(r, 200, o);
	return rc;
}

static int
outbox_show(struct req *r, const void *argp)
{
	const struct outbox_args	*a = argp;
	cJSON				*o = NULL;
	int				 rc;

	rc = console_outbox(r->app->db, caller_org(r),
	    a->failures ? a->failures : CONSOLE_FAILURES_DEFAULT, &o);
	return answer(r, rc, o);
}

static int
approvals_list(struct req *r, const void *argp)
{
	const struct approvals_args	*a = argp;
	cJSON				*o = NULL;
	int				 rc;

	rc = console_approvals(r->app->db, caller_org(r), a->state ? a->state : "pending",
	    a->limit ? a->limit : CONSOLE_APPROVALS_DEFAULT, &o);
	return answer(r, rc, o);
}

static int
live_show(struct req *r, const void *argp)
{
	(void)argp;
	return answer(r, CB_OK, console_live(r->app->settings.metrics_dir));
}

/* Who: a person with role admin or operator. */
#define OPS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator")

static const struct route console_routes[] = {
	{ .method = "GET", .pattern = "/api/v1/admin/outbox", OPS,
	  .query = outbox_query, .nquery = ROUTE_NELEM(outbox_query),
	  .args_size = sizeof(struct outbox_args), .act = outbox_show },
	{ .method = "GET", .pattern = "/api/v1/admin/approvals", OPS,
	  .query = approvals_query, .nquery = ROUTE_NELEM(approvals_query),
	  .args_size = sizeof(struct approvals_args), .act = approvals_list },
	{ .method = "GET", .pattern = "/api/v1/admin/live", OPS, .act = live_show },
};

ROUTE_MAIN("console", console_routes)
