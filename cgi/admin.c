/*
 * Tenant administration.  Every route: Authorization: Bearer <access JWT>
 * of a user; every query is filtered by the caller's organisation, so an id
 * from another organisation answers 404 (existence does not leak); roles
 * gate each route (403 naming the role needed for a known caller lacking it).
 *
 * POST /api/v1/admin/users                 admin     {email,password,role} -> 201
 * GET  /api/v1/admin/users                 admin, operator               -> 200 list
 * GET  /api/v1/admin/users/{id}            admin, operator               -> 200 | 404
 * POST /api/v1/admin/users/{id}/disable    admin                          -> 200 | 404
 * POST /api/v1/admin/agents                admin     {name}               -> 201
 * GET  /api/v1/admin/agents                admin, operator               -> 200 list
 * GET  /api/v1/admin/agents/{id}           admin, operator               -> 200 | 404
 * POST /api/v1/admin/agents/{id}/keys      admin     {scopes,expires_in_days} -> 201
 *        (the key is in this answer only; a replay of the same
 *         Idempotency-Key answers 201 without it)
 * GET  /api/v1/admin/agents/{id}/keys      admin, operator               -> 200 list
 * POST /api/v1/admin/keys/{id}/revoke      admin                          -> 200 | 404
 *
 * Idempotency-Key: required on the three creating POSTs (scoped to the
 * calling user); revoke and disable are idempotent by nature.
 * Audit: every change writes its audit_log row (actor "user:<id>") in the
 * change's transaction: user.created, user.disabled, agent.created,
 * api_key.created, api_key.revoked, with ids, names, role, scopes and the
 * key's public prefix; never an email, a password or a key.  A refusal, or
 * a disable or revoke of what already was, writes none.
 * Errors: 400 field named, 401, 403, 404, 409 (email taken in the caller's
 * tenant; other tenants' users are never consulted), 413, 415, 422.
 * The statements are the library's, shared with cb-admin: lib/users.h
 * (users_*) and lib/agents.h (agents_*, agents_key_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents.h"
#include "apikey.h"
#include "audit.h"
#include "errs.h"
#include "route.h"
#include "userauth.h"
#include "users.h"
#include "util.h"

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

/* The caller as an audit actor ("user:<id>"), for the lib's writes. */
static const char *
actor_of(const struct req *r, char actor[48])
{
	snprintf(actor, 48, "user:%s", caller(r)->user_id);
	return actor;
}

typedef cJSON *(*row_json_fn)(struct req *, struct db_res *, size_t);
typedef int (*get_fn)(struct db *, const char *org, const char *id, struct db_res **);
typedef int (*list_fn)(struct db *, const char *org, struct db_res **);

/* Answer `o` with `status` (not for caches when `nostore`); both freed. */
static int
send_json(struct req *r, int status, cJSON *o, struct db_res *res, int nostore)
{
	if (nostore)
		resp_header(r, "Cache-Control", "no-store");
	resp_json(r, status, o);
	db_res_free(res);
	cJSON_Delete(o);
	return CB_OK;
}

/* The answer of a lib call that yields one row, or its error. */
static int
answer_row(struct req *r, int rc, struct db_res *res, row_json_fn to_json, int status,
    int nostore)
{
	if (rc != CB_OK)
		return rc;
	return send_json(r, status, to_json(r, res, 0), res, nostore);
}

/*
 * GET of one resource of the caller's organisation by {id}: 404 for a
 * malformed id, another organisation's id or none at all.
 */
static int
get_one(struct req *r, get_fn get, row_json_fn to_json)
{
	struct db_res	*res = NULL;
	int		 rc;

	rc = get(r->app->db, caller(r)->org, req_param(r, "id"), &res);
	return answer_row(r, rc, res, to_json, 200, 1);
}

/* A list of the caller's organisation's resources under `member`. */
static int
list_all(struct req *r, list_fn list, const char *member, row_json_fn to_json)
{
	struct db_res	*res = NULL;
	cJSON		*o, *arr;
	size_t		 i;
	int		 rc;

	rc = list(r->app->db, caller(r)->org, &res);
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, member);
	for (i = 0; i < db_rows(res); i++)
		cJSON_AddItemToArray(arr, to_json(r, res, i));
	return send_json(r, 200, o, res, 1);
}

/* ---- users ---------------------------------------------------------- */

struct user_args {
	const char	*email;
	const char	*password;
	const char	*role;
};

static const struct jv_field user_fields[] = {
	{ "email", JV_STRING, JV_REQUIRED, 3, 254, offsetof(struct user_args, email), NULL },
	{ "password", JV_STRING, JV_REQUIRED, 8, 1024, offsetof(struct user_args, password), NULL },
	{ "role", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct user_args, role), NULL,
	  .text_ok = users_role_ok, .why = "must be admin, operator, viewer or approver" },
};

static cJSON *
user_json(struct req *r, struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();
	char	 email[260] = "";

	jv_add_str_or_null(o, "id", db_val(res, i, USERS_ID));
	if (users_email(r->app, db_val(res, i, USERS_ID), db_val(res, i, USERS_EMAIL_SEALED), email,
	    sizeof(email)) == CB_OK)
		jv_add_str_or_null(o, "email", email);
	else
		jv_add_str_or_null(o, "email", NULL);
	jv_add_str_or_null(o, "role", db_val(res, i, USERS_ROLE));
	jv_add_str_or_null(o, "created_at", db_val(res, i, USERS_CREATED_AT));
	cJSON_AddBoolToObject(o, "disabled", db_val(res, i, USERS_DISABLED_AT) != NULL);
	sodium_memzero(email, sizeof(email));
	return o;
}

static int
users_post(struct req *r, const void *argp)
{
	const struct user_args	*a = argp;
	char			 id[37], *detail;
	cJSON			*o;
	int			 rc;

	rc = users_create(r->app, caller(r)->org, a->email, a->password, strlen(a->password),
	    a->role, id);
	/* Refusals the key remembers (route.h): a replay answers them again. */
	if (rc == CB_ERR_DB_CONFLICT)
		return route_fail(r, CB_ERR_CONFLICT, "a user with this email exists in this organisation");
	if (rc == CB_ERR_VALIDATION)
		return route_fail_field(r, rc, "email", "must be an email address");
	if (rc == CB_OK) {
		/* In the request's transaction: the user and its row commit together. */
		detail = audit_detail("role", a->role, NULL);
		rc = userauth_audit(r, "user.created", id, detail);
		free(detail);
	}
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	jv_add_str_or_null(o, "id", id);
	jv_add_str_or_null(o, "role", a->role);
	return send_json(r, 201, o, NULL, 0);
}

static int
users_list_get(struct req *r, const void *argp)
{
	(void)argp;
	return list_all(r, users_list, "users", user_json);
}

static int
users_get_one(struct req *r, const void *argp)
{
	(void)argp;
	return get_one(r, users_get, user_json);
}

static cJSON *
disabled_json(struct req *r, struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();

	(void)r;
	jv_add_str_or_null(o, "id", db_val(res, i, 0));
	jv_add_str_or_null(o, "disabled_at", db_val(res, i, 1));
	return o;
}

static int
users_disable_post(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	const char	*id = req_param(r, "id");
	char		 actor[48];
	int		 rc;

	(void)argp;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	if (strcmp(id, caller(r)->user_id) == 0)
		return route_fail(r, CB_ERR_UNPROCESSABLE, "an admin cannot disable their own account");
	rc = users_disable(r->app->db, caller(r)->org, id, actor_of(r, actor), &res);
	return answer_row(r, rc, res, disabled_json, 200, 0);
}

/* ---- agents --------------------------------------------------------- */

struct agent_args {
	const char	*name;
};

static const struct jv_field agent_fields[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, 200, offsetof(struct agent_args, name), NULL },
};

static cJSON *
agent_json(struct req *r, struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();

	(void)r;
	jv_add_str_or_null(o, "id", db_val(res, i, AGENTS_ID));
	jv_add_str_or_null(o, "name", db_val(res, i, AGENTS_NAME));
	jv_add_str_or_null(o, "created_at", db_val(res, i, AGENTS_CREATED_AT));
	cJSON_AddBoolToObject(o, "disabled", db_val(res, i, AGENTS_DISABLED_AT) != NULL);
	return o;
}

static int
agents_post(struct req *r, const void *argp)
{
	const struct agent_args	*a = argp;
	struct db_res		*res = NULL;
	char			 actor[48];
	int			 rc;

	rc = agents_create(r->app->db, caller(r)->org, a->name, actor_of(r, actor), &res);
	return answer_row(r, rc, res, agent_json, 201, 0);
}

static int
agents_list_get(struct req *r, const void *argp)
{
	(void)argp;
	return list_all(r, agents_list, "agents", agent_json);
}

static int
agents_get_one(struct req *r, const void *argp)
{
	(void)argp;
	return get_one(r, agents_get, agent_json);
}

/* ---- API keys ------------------------------------------------------- */

struct key_args {
	const cJSON	*scopes;
	long long	 expires_in_days;
};

/* calls:read: the tenant's call feed on the channel (docs/channel.md). */
static const char *const known_scopes[] = { "commands:write", "commands:read", "calls:read",
	NULL };

static int
check_scopes(const cJSON *v, const char **why)
{
	const cJSON	*s;
	size_t		 i;
	int		 ok;

	cJSON_ArrayForEach(s, v) {
		ok = 0;
		for (i = 0; cJSON_IsString(s) && known_scopes[i]; i++)
			ok |= strcmp(known_scopes[i], s->valuestring) == 0;
		if (!ok) {
			*why = "scopes are commands:write, commands:read and calls:read";
			return -1;
		}
	}
	return 0;
}

static const struct jv_field key_fields[] = {
	{ "scopes", JV_ARRAY, 0, 1, 8, offsetof(struct key_args, scopes), check_scopes },
	{ "expires_in_days", JV_INT, 0, 1, 3650, offsetof(struct key_args, expires_in_days), NULL },
};

static cJSON *
key_json(struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();

	jv_add_str_or_null(o, "id", db_val(res, i, AGENTS_KEY_ID));
	jv_add_str_or_null(o, "prefix", db_val(res, i, AGENTS_KEY_PREFIX));
	cJSON_AddItemToObject(o, "scopes", cJSON_Parse(db_val(res, i, AGENTS_KEY_SCOPES)));
	jv_add_str_or_null(o, "expires_at", db_val(res, i, AGENTS_KEY_EXPIRES_AT));
	jv_add_str_or_null(o, "revoked_at", db_val(res, i, AGENTS_KEY_REVOKED_AT));
	jv_add_str_or_null(o, "created_at", db_val(res, i, AGENTS_KEY_CREATED_AT));
	jv_add_str_or_null(o, "agent_id", db_val(res, i, AGENTS_KEY_AGENT_ID));
	return o;
}

static cJSON *
key_row_json(struct req *r, struct db_res *res, size_t i)
{
	(void)r;
	return key_json(res, i);
}

static int
keys_post(struct req *r, const void *argp)
{
	const struct key_args	*a = argp;
	const char		*agent = req_param(r, "id");
	struct db_res		*res = NULL;
	char			 key[APIKEY_LEN + 1], days[24], actor[48], *scopes = NULL, *stored;
	cJSON			*o;
	int			 rc;

	if (!util_uuid_ok(agent))
		return CB_ERR_NOT_FOUND;
	if (a->scopes && (scopes = cJSON_PrintUnformatted(a->scopes)) == NULL)
		util_oom();
	snprintf(days, sizeof(days), "%lld", a->expires_in_days ? a->expires_in_days : 90);
	rc = agents_key_issue(r->app->db, r->app->settings.api_key_pepper, caller(r)->org, agent,
	    scopes, days, actor_of(r, actor), key, &res);
	free(scopes);
	if (rc != CB_OK)
		goto out;
	o = key_json(res, 0);
	/* The stored copy for replays never holds the key. */
	cJSON_AddStringToObject(o, "api_key", "(shown once: create a new key if it was lost)");
	if ((stored = cJSON_PrintUnformatted(o)) == NULL)
		util_oom();
	r->idem_stored = stored;
	req_own(r, stored, NULL);
	cJSON_ReplaceItemInObject(o, "api_key", cJSON_CreateString(key));
	resp_json_nostore(r, 201, o);
out:
	sodium_memzero(key, sizeof(key));
	db_res_free(res);
	return rc;
}

static int
keys_list(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	cJSON		*o, *arr;
	size_t		 i;
	int		 rc;

	(void)argp;
	rc = agents_keys_list(r->app->db, caller(r)->org, req_param(r, "id"), &res);
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "keys");
	for (i = 0; i < db_rows(res); i++)
		if (db_val(res, i, AGENTS_KEY_ID) != NULL)
			cJSON_AddItemToArray(arr, key_json(res, i));
	return send_json(r, 200, o, res, 0);
}

static int
keys_revoke(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	char		 actor[48];
	int		 rc;

	(void)argp;
	rc = agents_key_revoke(r->app->db, caller(r)->org, req_param(r, "id"), actor_of(r, actor),
	    &res);
	return answer_row(r, rc, res, key_row_json, 200, 0);
}

/* Who: a person; writes need an admin, reads an admin or an operator. */
#define ADMINS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin")
#define READERS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator")

static const struct route admin_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/admin/users", .body_max = 4096,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = user_fields, .nfields = 3,
	  .args_size = sizeof(struct user_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = users_post },
	{ .method = "GET", .pattern = "/api/v1/admin/users", READERS, .act = users_list_get },
	{ .method = "GET", .pattern = "/api/v1/admin/users/{id}", READERS, .act = users_get_one },
	{ .method = "POST", .pattern = "/api/v1/admin/users/{id}/disable", ADMINS,
	  .act = users_disable_post },
	{ .method = "POST", .pattern = "/api/v1/admin/agents", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = agent_fields, .nfields = 1,
	  .args_size = sizeof(struct agent_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = agents_post },
	{ .method = "GET", .pattern = "/api/v1/admin/agents", READERS, .act = agents_list_get },
	{ .method = "GET", .pattern = "/api/v1/admin/agents/{id}", READERS, .act = agents_get_one },
	{ .method = "POST", .pattern = "/api/v1/admin/agents/{id}/keys", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = key_fields, .nfields = 2,
	  .args_size = sizeof(struct key_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = keys_post },
	{ .method = "GET", .pattern = "/api/v1/admin/agents/{id}/keys", READERS,
	  .act = keys_list },
	{ .method = "POST", .pattern = "/api/v1/admin/keys/{id}/revoke", ADMINS,
	  .act = keys_revoke },
};

ROUTE_MAIN("admin", admin_routes)
