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
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/*
 * The audit row of a change the caller made, in the change's transaction:
 * detail from (key, value) pairs ended by NULL (lib/audit.h).
 */
static int
audit_person(struct req *r, const char *action, const char *subject, const char *key, ...)
{
	va_list	 ap;
	char	*detail;
	int	 rc;

	va_start(ap, key);
	detail = audit_detailv(key, ap);
	va_end(ap);
	rc = userauth_audit(r, action, subject, detail);
	free(detail);
	return rc;
}

typedef cJSON *(*row_json_fn)(struct req *, struct db_res *, size_t);

/*
 * GET of one resource of the caller's organisation by {id}: 404 for a
 * malformed id, another organisation's id or none at all.
 */
static int
get_one(struct req *r, const char *sql, row_json_fn to_json)
{
	struct db_res	*res = NULL;
	const char	*id = req_param(r, "id");
	cJSON		*o;
	int		 rc;

	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	rc = db_query(r->app->db, &res, sql, 2, (const char *[]){ caller(r)->org, id });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	o = to_json(r, res, 0);
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, 200, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

/* A list of the caller's organisation's resources under `member`. */
static int
list_all(struct req *r, const char *sql, const char *member, row_json_fn to_json)
{
	struct db_res	*res = NULL;
	cJSON		*o, *arr;
	size_t		 i;
	int		 rc;

	rc = db_query(r->app->db, &res, sql, 1, (const char *[]){ caller(r)->org });
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, member);
	for (i = 0; i < db_rows(res); i++)
		cJSON_AddItemToArray(arr, to_json(r, res, i));
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, 200, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- users ---------------------------------------------------------- */

struct user_args {
	const char	*email;
	const char	*password;
	const char	*role;
};

static int
check_role(const cJSON *v, const char **why)
{
	if (!users_role_ok(v->valuestring)) {
		*why = "must be admin, operator, viewer or approver";
		return -1;
	}
	return 0;
}

static const struct jv_field user_fields[] = {
	{ "email", JV_STRING, JV_REQUIRED, 3, 254, offsetof(struct user_args, email), NULL },
	{ "password", JV_STRING, JV_REQUIRED, 8, 1024, offsetof(struct user_args, password), NULL },
	{ "role", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct user_args, role), check_role },
};

static cJSON *
user_json(struct req *r, struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();
	char	 email[260] = "";

	add_str(o, "id", db_val(res, i, 0));
	if (users_email(r->app, db_val(res, i, 0), db_val(res, i, 1), email, sizeof(email)) == CB_OK)
		add_str(o, "email", email);
	else
		add_str(o, "email", NULL);
	add_str(o, "role", db_val(res, i, 2));
	add_str(o, "created_at", db_val(res, i, 3));
	cJSON_AddBoolToObject(o, "disabled", db_val(res, i, 4) != NULL);
	sodium_memzero(email, sizeof(email));
	return o;
}

#define USER_COLS "id, email_sealed, role, " TS("created_at") ", " TS("disabled_at")

static int
users_post(struct req *r, const void *argp)
{
	const struct user_args	*a = argp;
	char			 id[37];
	cJSON			*o;
	int			 rc;

	rc = users_create(r->app, caller(r)->org, a->email, a->password, strlen(a->password),
	    a->role, id);
	/* Refusals the key remembers (route.h): a replay answers them again. */
	if (rc == CB_ERR_DB_CONFLICT)
		return route_fail(r, CB_ERR_CONFLICT, "a user with this email exists in this organisation");
	if (rc == CB_ERR_VALIDATION)
		return route_fail_field(r, rc, "email", "must be an email address");
	if (rc == CB_OK)
		rc = audit_person(r, "user.created", id, "role", a->role, NULL);
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	add_str(o, "id", id);
	add_str(o, "role", a->role);
	resp_json(r, 201, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
users_list(struct req *r, const void *argp)
{
	(void)argp;
	return list_all(r, "SELECT " USER_COLS " FROM users WHERE org_id = $1"
	    " ORDER BY created_at, id LIMIT 1000", "users", user_json);
}

static int
users_get(struct req *r, const void *argp)
{
	(void)argp;
	return get_one(r, "SELECT " USER_COLS " FROM users WHERE org_id = $1 AND id = $2", user_json);
}

static int
users_disable(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	const char	*id = req_param(r, "id");
	cJSON		*o;
	int		 rc;

	(void)argp;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	if (strcmp(id, caller(r)->user_id) == 0)
		return route_fail(r, CB_ERR_UNPROCESSABLE, "an admin cannot disable their own account");
	if ((rc = db_begin(r->app->db)) != CB_OK)
		return rc;
	/* Disabling also revokes every session of the user. */
	rc = db_query(r->app->db, &res, "WITH was AS (SELECT id AS was_id, disabled_at IS NULL AS"
	    "   was_on FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE)"
	    " UPDATE users u SET disabled_at = coalesce(u.disabled_at, now()) FROM was"
	    " WHERE u.id = was.was_id RETURNING u.id, " TS("u.disabled_at") ", was.was_on", 2,
	    (const char *[]){ caller(r)->org, id });
	if (rc == CB_OK && db_rows(res) == 1)
		rc = db_exec(r->app->db, "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())"
		    " WHERE org_id = $1 AND user_id = $2", 2, (const char *[]){ caller(r)->org, id });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc == CB_OK && strcmp(db_val(res, 0, 2), "t") == 0)
		rc = audit_person(r, "user.disabled", id, NULL);
	if (rc == CB_OK)
		rc = db_commit(r->app->db);
	if (rc != CB_OK) {
		db_rollback(r->app->db);
		db_res_free(res);
		return rc;
	}
	o = cJSON_CreateObject();
	add_str(o, "id", db_val(res, 0, 0));
	add_str(o, "disabled_at", db_val(res, 0, 1));
	resp_json(r, 200, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

/* ---- agents --------------------------------------------------------- */

struct agent_args {
	const char	*name;
};

static const struct jv_field agent_fields[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, 200, offsetof(struct agent_args, name), NULL },
};

#define AGENT_COLS "id, name, " TS("created_at") ", " TS("disabled_at")

static cJSON *
agent_json(struct req *r, struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();

	(void)r;
	add_str(o, "id", db_val(res, i, 0));
	add_str(o, "name", db_val(res, i, 1));
	add_str(o, "created_at", db_val(res, i, 2));
	cJSON_AddBoolToObject(o, "disabled", db_val(res, i, 3) != NULL);
	return o;
}

static int
agents_post(struct req *r, const void *argp)
{
	const struct agent_args	*a = argp;
	struct db_res		*res = NULL;
	cJSON			*o;
	int			 rc;

	rc = db_query(r->app->db, &res, "INSERT INTO agents (org_id, name) VALUES ($1, $2)"
	    " RETURNING " AGENT_COLS, 2, (const char *[]){ caller(r)->org, a->name });
	if (rc == CB_OK)
		rc = audit_person(r, "agent.created", db_val(res, 0, 0), "name", a->name, NULL);
	if (rc != CB_OK) {
		db_res_free(res);
		return rc;
	}
	o = agent_json(r, res, 0);
	resp_json(r, 201, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

static int
agents_list(struct req *r, const void *argp)
{
	(void)argp;
	return list_all(r, "SELECT " AGENT_COLS " FROM agents WHERE org_id = $1"
	    " ORDER BY created_at, id LIMIT 1000", "agents", agent_json);
}

static int
agents_get(struct req *r, const void *argp)
{
	(void)argp;
	return get_one(r, "SELECT " AGENT_COLS " FROM agents WHERE org_id = $1 AND id = $2", agent_json);
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

#define KEY_COLS "k.id, k.prefix, array_to_json(k.scopes)::text, " TS("k.expires_at") ", " \
		 TS("k.revoked_at") ", " TS("k.created_at") ", k.agent_id"

static cJSON *
key_json(struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject();

	add_str(o, "id", db_val(res, i, 0));
	add_str(o, "prefix", db_val(res, i, 1));
	cJSON_AddItemToObject(o, "scopes", cJSON_Parse(db_val(res, i, 2)));
	add_str(o, "expires_at", db_val(res, i, 3));
	add_str(o, "revoked_at", db_val(res, i, 4));
	add_str(o, "created_at", db_val(res, i, 5));
	add_str(o, "agent_id", db_val(res, i, 6));
	return o;
}

static int
keys_post(struct req *r, const void *argp)
{
	const struct key_args	*a = argp;
	const char		*agent = req_param(r, "id");
	struct db_res		*res = NULL;
	char			 key[APIKEY_LEN + 1], prefix[APIKEY_PREFIX_LEN + 1], hash[2 + 64 + 1];
	char			 days[24], *scopes = NULL, *stored;
	cJSON			*o;
	int			 rc;

	if (!util_uuid_ok(agent))
		return CB_ERR_NOT_FOUND;
	if ((rc = apikey_new(r->app->settings.api_key_pepper, key, prefix, hash)) != CB_OK)
		return rc;
	if (a->scopes && (scopes = cJSON_PrintUnformatted(a->scopes)) == NULL)
		util_oom();
	snprintf(days, sizeof(days), "%lld", a->expires_in_days ? a->expires_in_days : 90);
	rc = db_query(r->app->db, &res,
	    "INSERT INTO api_keys (org_id, agent_id, prefix, key_hash, scopes, expires_at)"
	    " SELECT a.org_id, a.id, $3, $4::bytea,"
	    "  CASE WHEN $5::json IS NULL THEN '{commands:write,commands:read}'::text[]"
	    "       ELSE ARRAY(SELECT json_array_elements_text($5::json)) END,"
	    "  now() + make_interval(days => $6::int)"
	    " FROM agents a WHERE a.org_id = $1 AND a.id = $2 AND a.disabled_at IS NULL"
	    " RETURNING id, prefix, array_to_json(scopes)::text, " TS("expires_at") ", NULL::text, "
	    TS("created_at") ", agent_id", 6,
	    (const char *[]){ caller(r)->org, agent, prefix, hash, scopes, days });
	free(scopes);
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	if ((rc = audit_person(r, "api_key.created", db_val(res, 0, 0), "agent_id", agent,
	    "prefix", db_val(res, 0, 1), "scopes", db_val(res, 0, 2), "expires_at",
	    db_val(res, 0, 3), NULL)) != CB_OK)
		goto out;
	o = key_json(res, 0);
	/* The stored copy for replays never holds the key. */
	cJSON_AddStringToObject(o, "api_key", "(shown once: create a new key if it was lost)");
	if ((stored = cJSON_PrintUnformatted(o)) == NULL)
		util_oom();
	r->idem_stored = stored;
	req_own(r, stored, NULL);
	cJSON_ReplaceItemInObject(o, "api_key", cJSON_CreateString(key));
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, 201, o);
	cJSON_Delete(o);
out:
	sodium_memzero(key, sizeof(key));
	db_res_free(res);
	return rc;
}

static int
keys_list(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	const char	*agent = req_param(r, "id");
	cJSON		*o, *arr;
	size_t		 i;
	int		 rc;

	(void)argp;
	if (!util_uuid_ok(agent))
		return CB_ERR_NOT_FOUND;
	rc = db_query(r->app->db, &res, "SELECT " KEY_COLS ", a.id FROM agents a"
	    " LEFT JOIN api_keys k ON k.agent_id = a.id AND k.org_id = a.org_id"
	    " WHERE a.org_id = $1 AND a.id = $2 ORDER BY k.created_at, k.id", 2,
	    (const char *[]){ caller(r)->org, agent });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) == 0) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;	/* no such agent in this organisation */
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "keys");
	for (i = 0; i < db_rows(res); i++)
		if (db_val(res, i, 0) != NULL)
			cJSON_AddItemToArray(arr, key_json(res, i));
	resp_json(r, 200, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

static int
keys_revoke(struct req *r, const void *argp)
{
	struct db_res	*res = NULL;
	const char	*id = req_param(r, "id");
	cJSON		*o;
	int		 rc;

	(void)argp;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	if ((rc = db_begin(r->app->db)) != CB_OK)
		return rc;
	rc = db_query(r->app->db, &res, "WITH was AS (SELECT id AS was_id, revoked_at IS NULL AS"
	    "   was_live FROM api_keys WHERE org_id = $1 AND id = $2 FOR UPDATE)"
	    " UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) FROM was"
	    " WHERE k.id = was.was_id RETURNING " KEY_COLS ", was.was_live", 2,
	    (const char *[]){ caller(r)->org, id });
	if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	if (rc == CB_OK && strcmp(db_val(res, 0, 7), "t") == 0)
		rc = audit_person(r, "api_key.revoked", id, "agent_id", db_val(res, 0, 6), "prefix",
		    db_val(res, 0, 1), NULL);
	if (rc == CB_OK)
		rc = db_commit(r->app->db);
	if (rc != CB_OK) {
		db_rollback(r->app->db);
		db_res_free(res);
		return rc;
	}
	o = key_json(res, 0);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	db_res_free(res);
	return CB_OK;
}

/* Who: a person; writes need an admin, reads an admin or an operator. */
#define ADMINS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin")
#define READERS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator")

static const struct route admin_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/admin/users", .body_max = 4096,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = user_fields, .nfields = 3,
	  .args_size = sizeof(struct user_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = users_post },
	{ .method = "GET", .pattern = "/api/v1/admin/users", READERS, .act = users_list },
	{ .method = "GET", .pattern = "/api/v1/admin/users/{id}", READERS, .act = users_get },
	{ .method = "POST", .pattern = "/api/v1/admin/users/{id}/disable", ADMINS,
	  .act = users_disable },
	{ .method = "POST", .pattern = "/api/v1/admin/agents", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = agent_fields, .nfields = 1,
	  .args_size = sizeof(struct agent_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = agents_post },
	{ .method = "GET", .pattern = "/api/v1/admin/agents", READERS, .act = agents_list },
	{ .method = "GET", .pattern = "/api/v1/admin/agents/{id}", READERS, .act = agents_get },
	{ .method = "POST", .pattern = "/api/v1/admin/agents/{id}/keys", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = key_fields, .nfields = 2,
	  .args_size = sizeof(struct key_args), ADMINS,
	  .idem_scope = userauth_idem_scope, .act = keys_post },
	{ .method = "GET", .pattern = "/api/v1/admin/agents/{id}/keys", READERS,
	  .act = keys_list },
	{ .method = "POST", .pattern = "/api/v1/admin/keys/{id}/revoke", ADMINS,
	  .act = keys_revoke },
};

static const struct responder admin = {
	.name = "admin",
	.routes = admin_routes,
	.nroutes = sizeof(admin_routes) / sizeof(admin_routes[0]),
};

int
main(int argc, char **argv)
{
	return route_main(argc, argv, &admin);
}
