/*
 * The agent policy of a tenant's form, changed under governance (seed
 * 004).  The domain (schema, governance limits, versions, history, audit)
 * is lib/policygov.h, shared with `cb-admin policy-set`.
 *
 * GET /api/v1/admin/forms/{form_id}/policy   admin, operator
 *        -> 200 the policy, its version, policy_sha256; ETag: "<version>"
 * PUT /api/v1/admin/forms/{form_id}/policy   admin
 *        {allowed_types, selectors, rate_per_minute, max_in_flight?,
 *         approval_types?, approval_ttl_s?}
 *        -> 200 {version, previous_version, changed, policy_sha256, ...}
 *   The body is the whole policy: an omitted optional field takes its
 *   default (max_in_flight 2, approval_types [], approval_ttl_s 900), not
 *   the current value.  A change makes version n+1 with its history row and
 *   its audit row (policy.changed); a body identical to the current policy
 *   makes none and answers changed:false with the current version.
 *   Idempotency-Key required (scoped to the user).  If-Match: "<version>"
 *   (the ETag of GET) or *, optional: another version is 412, nothing
 *   written.
 *
 * Who: a person (Authorization: Bearer <access JWT>); a viewer, or an
 * operator writing, gets 403 naming the roles.  Tenant-scoped: another
 * organisation's form, a malformed id or no such form answers 404, as does
 * GET of a form that has no policy yet.
 * Errors: 400 (a field unknown, duplicate, mistyped, a list entry that is
 * not a string; If-Match malformed), 401, 403, 404, 409 (the policy or the
 * form changed while the change was checked), 412, 413, 415, 422 (the
 * schema or a governance limit: detail, "field", and "limit" naming the
 * setting).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "policygov.h"
#include "route.h"
#include "userauth.h"
#include "util.h"

struct put_args {
	const cJSON	*allowed_types;
	const cJSON	*selectors;
	long long	 rate_per_minute;
	long long	 max_in_flight;
	const cJSON	*approval_types;
	long long	 approval_ttl_s;
	/* What check hands to act. */
	struct policygov_state	*st;
	struct policygov_doc	*doc;
	struct policygov_verdict v;
	long long	 if_match;	/* -1: none, 0: *, else the version */
};

static int
check_strings(const cJSON *v, const char **why)
{
	const cJSON	*s;

	cJSON_ArrayForEach(s, v)
		if (!cJSON_IsString(s)) {
			*why = "must be an array of strings";
			return -1;
		}
	return 0;
}

/*
 * Types only: the bounds are the schema's (lib/policygov.c), answered 422
 * naming the value, the same words cb-admin prints.
 */
static const struct jv_field put_fields[] = {
	{ "allowed_types", JV_ARRAY, JV_REQUIRED, 0, 1024, offsetof(struct put_args, allowed_types),
	  check_strings },
	{ "selectors", JV_ARRAY, JV_REQUIRED, 0, 1024, offsetof(struct put_args, selectors),
	  check_strings },
	{ "rate_per_minute", JV_INT, JV_REQUIRED, 0, 0, offsetof(struct put_args, rate_per_minute),
	  NULL },
	{ "max_in_flight", JV_INT, 0, 0, 0, offsetof(struct put_args, max_in_flight), NULL },
	{ "approval_types", JV_ARRAY, 0, 0, 1024, offsetof(struct put_args, approval_types),
	  check_strings },
	{ "approval_ttl_s", JV_INT, 0, 0, 0, offsetof(struct put_args, approval_ttl_s), NULL },
};

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

static void
state_free(void *p)
{
	policygov_state_free(p);
	free(p);
}

static void
doc_free(void *p)
{
	policygov_doc_free(p);
	free(p);
}

/* The form's state, owned by the request; 404 for none of this tenant's. */
static struct policygov_state *
load(struct req *r, int *rc)
{
	struct policygov_state	*st = util_calloc(1, sizeof(*st));

	req_own(r, st, state_free);
	*rc = policygov_load(r->app->db, caller(r)->org, req_param(r, "form_id"), st);
	return st;
}

static void
answer(struct req *r, const struct policygov_state *st, const struct policygov_doc *d,
    int version, const char *sha, cJSON *extra)
{
	cJSON	*o = policygov_json(d), *c;
	char	 etag[24];

	cJSON_AddStringToObject(o, "form_id", st->form_id);
	cJSON_AddNumberToObject(o, "form_version", st->form_version);
	cJSON_AddNumberToObject(o, "version", version);
	cJSON_AddStringToObject(o, "policy_sha256", sha);
	while (extra && (c = extra->child) != NULL)
		cJSON_AddItemToObject(o, c->string, cJSON_DetachItemViaPointer(extra, c));
	cJSON_Delete(extra);
	snprintf(etag, sizeof(etag), "\"%d\"", version);
	resp_header(r, "ETag", etag);
	resp_json_nostore(r, 200, o);
}

static int
get_act(struct req *r, const void *argp)
{
	struct policygov_state	*st;
	cJSON			*extra;
	int			 rc;

	(void)argp;
	st = load(r, &rc);
	if (rc != CB_OK)
		return rc;
	if (!st->has_policy)
		return route_fail(r, CB_ERR_NOT_FOUND, "this form has no agent policy yet: PUT one");
	if ((extra = cJSON_CreateObject()) == NULL)
		util_oom();
	cJSON_AddStringToObject(extra, "updated_at", st->updated_at);
	answer(r, st, &st->current, st->version, st->sha256, extra);
	return CB_OK;
}

/* If-Match: "<version>" or * (RFC 9110 13.1.1); a weak tag never matches. */
static int
parse_if_match(struct req *r, long long *out)
{
	const char	*h = req_header(r, "If-Match");
	char		 num[16];
	size_t		 n;

	*out = -1;
	if (h == NULL)
		return CB_OK;
	n = util_trim_ows(&h);
	if (n == 1 && h[0] == '*') {
		*out = 0;
		return CB_OK;
	}
	if (n >= 3 && n - 2 < sizeof(num) && h[0] == '"' && h[n - 1] == '"') {
		memcpy(num, h + 1, n - 2);
		num[n - 2] = '\0';
		if (util_parse_ll(num, 1, 2147483647LL, out) == CB_OK)
			return CB_OK;
	}
	*out = -1;
	return route_fail(r, CB_ERR_BAD_REQUEST, "If-Match must be \"<version>\" (the ETag of GET) "
	    "or *");
}

/* The proposal against the form and the limits, before the key is claimed. */
static int
put_check(struct req *r, void *argp)
{
	struct put_args		*a = argp;
	struct policygov_limits	 lim = { r->app->settings.policy_max_changes,
	    r->app->settings.policy_max_list };
	cJSON			*ext;
	int			 rc;

	if ((rc = parse_if_match(r, &a->if_match)) != CB_OK)
		return rc;
	a->st = load(r, &rc);
	if (rc != CB_OK)
		return rc;
	a->doc = util_calloc(1, sizeof(*a->doc));
	req_own(r, a->doc, doc_free);
	if (policygov_list_from_json(a->allowed_types, &a->doc->types) != CB_OK ||
	    policygov_list_from_json(a->selectors, &a->doc->selectors) != CB_OK ||
	    policygov_list_from_json(a->approval_types, &a->doc->approval) != CB_OK)
		return CB_ERR_INTERNAL;		/* the field table let a non-string through */
	a->doc->rate_per_minute = a->rate_per_minute;
	a->doc->max_in_flight = cJSON_GetObjectItemCaseSensitive(r->json, "max_in_flight") ?
	    a->max_in_flight : POLICYGOV_DEF_INFLIGHT;
	a->doc->approval_ttl_s = cJSON_GetObjectItemCaseSensitive(r->json, "approval_ttl_s") ?
	    a->approval_ttl_s : POLICYGOV_DEF_TTL;
	if ((rc = policygov_validate(a->doc, a->st, &lim, &a->v)) == CB_OK)
		return CB_OK;
	if (rc != CB_ERR_UNPROCESSABLE)
		return rc;
	if ((ext = cJSON_CreateObject()) == NULL)
		util_oom();
	if (a->v.field[0])
		cJSON_AddStringToObject(ext, "field", a->v.field);
	if (a->v.limit[0])
		cJSON_AddStringToObject(ext, "limit", a->v.limit);
	return route_fail_ext(r, rc, a->v.detail, ext);
}

static int
put_act(struct req *r, const void *argp)
{
	const struct put_args	*a = argp;
	struct policygov_result	 res;
	char			 actor[48], detail[160];
	cJSON			*extra;
	int			 rc;

	/* The precondition, once the key is held: a retry gets its stored answer. */
	if (a->if_match == 0 && !a->st->has_policy)
		return route_fail(r, CB_ERR_PRECONDITION, "If-Match: * needs a current policy, "
		    "and this form has none");
	if (a->if_match > 0 && a->if_match != a->st->version) {
		snprintf(detail, sizeof(detail), "the policy is at version %d, not %lld: read it "
		    "again and redo the change", a->st->version, a->if_match);
		if ((extra = cJSON_CreateObject()) == NULL)
			util_oom();
		cJSON_AddNumberToObject(extra, "version", a->st->version);
		return route_fail_ext(r, CB_ERR_PRECONDITION, detail, extra);
	}
	if ((extra = cJSON_CreateObject()) == NULL)
		util_oom();
	if (a->v.identical) {
		cJSON_AddNumberToObject(extra, "previous_version", a->st->version);
		cJSON_AddBoolToObject(extra, "changed", 0);
		cJSON_AddStringToObject(extra, "note", "identical to the current policy: no new "
		    "version was made");
		answer(r, a->st, a->doc, a->st->version, a->st->sha256, extra);
		return CB_OK;
	}
	snprintf(actor, sizeof(actor), "user:%s", caller(r)->user_id);
	rc = policygov_write(r->app->db, a->st, a->doc, actor, &res);
	if (rc == CB_ERR_CONFLICT) {
		cJSON_Delete(extra);
		return route_fail(r, rc, "the policy or its form changed while this change was "
		    "checked: read it again and send the change under a new Idempotency-Key");
	}
	if (rc != CB_OK) {
		cJSON_Delete(extra);
		return rc;
	}
	cJSON_AddNumberToObject(extra, "previous_version", res.previous_version);
	cJSON_AddBoolToObject(extra, "changed", 1);
	answer(r, a->st, a->doc, res.version, res.sha256, extra);
	return CB_OK;
}

static const struct route policy_routes[] = {
	{ .method = "GET", .pattern = "/api/v1/admin/forms/{form_id}/policy",
	  .auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator"), .act = get_act },
	{ .method = "PUT", .pattern = "/api/v1/admin/forms/{form_id}/policy", .body_max = 16384,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = put_fields,
	  .nfields = ROUTE_NELEM(put_fields),
	  .args_size = sizeof(struct put_args), .auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin"),
	  .check = put_check, .idem_scope = userauth_idem_scope, .act = put_act },
};

ROUTE_MAIN("policies", policy_routes)
