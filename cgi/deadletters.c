/*
 * Dead letters: what the outbox could not deliver, handled by an operator
 * without SQL.  The domain (queries, states, the audit line) is
 * lib/deadletter.h, shared with `cb-admin dead-letters`.
 *
 * GET  /api/v1/admin/dead-letters?kind=&cursor=&limit=   -> 200 {dead_letters, next_cursor}
 *        newest first; limit 1..200 (default 50); cursor is the previous
 *        page's next_cursor (null on the last page)
 * GET  /api/v1/admin/dead-letters/{id}                   -> 200 one dead letter
 * POST /api/v1/admin/dead-letters/{id}/replay            -> 202 now pending; the worker is woken
 * POST /api/v1/admin/dead-letters/{id}/discard           -> 200 now discarded (never delivered)
 *
 * Who: a person with role admin or operator (Authorization: Bearer <access
 * JWT>); a viewer gets 403 naming the roles.  Tenant-scoped: another
 * organisation's id, a malformed id, or a row that never was a dead letter
 * answers 404.  A replay or discard writes its audit_log row (actor
 * "user:<id>") in the statement that moves the row; a 409 writes none.
 * No Idempotency-Key: a replay or discard only moves a row
 * out of state dead, so a repeated one answers 409 and never delivers
 * twice.  Nothing shown or logged holds the payload or its field values;
 * last_error is shown, never logged.
 * Errors: 400 (a query parameter unknown, repeated or out of bounds: named),
 * 401, 403, 404, 409 (not dead now: the detail says its state), 413, 503.
 */
#include <stdio.h>
#include <string.h>

#include "deadletter.h"
#include "errs.h"
#include "kv.h"
#include "route.h"
#include "userauth.h"

struct list_args {
	const char	*kind;
	const char	*cursor;
	long long	 limit;
};

static const struct jv_field list_query[] = {
	{ "kind", JV_STRING, 0, 1, DEADLETTER_KIND_MAX, offsetof(struct list_args, kind), NULL,
	  .text_ok = deadletter_kind_ok, .why = "must be an outbox kind such as salesforce.upsert" },
	{ "cursor", JV_STRING, 0, 1, 19, offsetof(struct list_args, cursor), NULL,
	  .text_ok = deadletter_cursor_ok, .why = "must be the next_cursor of a previous page" },
	{ "limit", JV_INT, 0, 1, DEADLETTER_LIMIT_MAX, offsetof(struct list_args, limit), NULL },
};

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

static void
answer(struct req *r, int status, cJSON *o)
{
	resp_json_nostore(r, status, o);
}

static int
dl_list(struct req *r, const void *argp)
{
	const struct list_args	*a = argp;
	struct deadletter_page	 page;
	int			 rc;

	rc = deadletter_list(r->app->db, caller(r)->org, a->kind, a->cursor,
	    a->limit ? a->limit : DEADLETTER_LIMIT_DEFAULT, &page);
	if (rc != CB_OK)
		return rc;
	answer(r, 200, deadletter_page_json(&page));
	deadletter_page_free(&page);
	return CB_OK;
}

static int
dl_show(struct req *r, const void *argp)
{
	struct deadletter	 d;
	int			 rc;

	(void)argp;
	if ((rc = deadletter_show(r->app->db, caller(r)->org, req_param(r, "id"), &d)) != CB_OK)
		return rc;
	answer(r, 200, deadletter_json(&d));
	return CB_OK;
}

/* A replay or discard: the row after it, the audit line, or 409 saying why. */
static int
dl_move(struct req *r, int (*move)(struct db *, const char *, const char *, const char *,
    struct deadletter *), const char *event, int status)
{
	struct deadletter	 d;
	char			 actor[48], detail[96];
	int			 rc;

	snprintf(actor, sizeof(actor), "user:%s", caller(r)->user_id);
	rc = move(r->app->db, caller(r)->org, req_param(r, "id"), actor, &d);
	if (rc == CB_ERR_CONFLICT) {
		snprintf(detail, sizeof(detail), "dead letter %s is %s, not dead", d.id, d.state);
		return route_fail(r, rc, detail);
	}
	if (rc != CB_OK)
		return rc;
	deadletter_audit(event, &d, actor);
	answer(r, status, deadletter_json(&d));
	return CB_OK;
}

static int
dl_replay(struct req *r, const void *argp)
{
	(void)argp;
	return dl_move(r, deadletter_replay, "dead_letter_replayed", 202);
}

static int
dl_discard(struct req *r, const void *argp)
{
	(void)argp;
	return dl_move(r, deadletter_discard, "dead_letter_discarded", 200);
}

/*
 * After a replay committed: wake the outbox workers.  Only a hint: a lost
 * one delays the delivery until the workers' sweep.
 */
static void
dl_wake(struct req *r)
{
	kv_publish(r->app->kv, DEADLETTER_WAKE_CHANNEL, DEADLETTER_WAKE_MESSAGE);
}

/* Who: a person with role admin or operator. */
#define OPS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator")

static const struct route deadletters_routes[] = {
	{ .method = "GET", .pattern = "/api/v1/admin/dead-letters", OPS,
	  .query = list_query, .nquery = ROUTE_NELEM(list_query),
	  .args_size = sizeof(struct list_args), .act = dl_list },
	{ .method = "GET", .pattern = "/api/v1/admin/dead-letters/{id}", OPS, .act = dl_show },
	{ .method = "POST", .pattern = "/api/v1/admin/dead-letters/{id}/replay", OPS,
	  .act = dl_replay, .after = dl_wake },
	{ .method = "POST", .pattern = "/api/v1/admin/dead-letters/{id}/discard", OPS,
	  .act = dl_discard },
};

ROUTE_MAIN("deadletters", deadletters_routes)
