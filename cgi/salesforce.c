/*
 * A tenant's own Salesforce connection (docs/salesforce.md, "One org per
 * tenant").  The domain (checks, sealing, residency, audit) is
 * lib/sfconn.h, shared with `cb-admin sf-connect`.
 *
 * PUT /api/v1/admin/salesforce   admin
 *        {login_url, audience?, instance_url?, client_id, username,
 *         private_key?, mapping?}
 *        -> 200 the connection (never a key): its region, each key's
 *           public-key SHA-256, installation time and age
 *   The body is the whole connection: an omitted optional field takes its
 *   default, not the current value, except private_key, which an update
 *   may omit to keep the keys (a new connection needs one; a new key
 *   replaces the current and any next key).  Idempotency-Key required
 *   (scoped to the user).  The change and its audit row (salesforce.
 *   connected or salesforce.updated: region and hashes, never a key) are
 *   one statement.
 * GET /api/v1/admin/salesforce   admin -> 200 the connection | 404 (the
 *        tenant delivers through the deployment's default connection)
 *
 * Who: a person (Authorization: Bearer <access JWT>) who is an admin of
 * the tenant; an operator or viewer gets 403 naming the role.  The tenant
 * is the caller's: there is no other tenant's connection to name.
 * Errors: 400 (a field unknown, duplicate, mistyped, out of bounds; a URL
 * that is not https, a key that is not an unencrypted RSA PEM of 2048 bits
 * or more, a mapping of the wrong shape: "field" names it), 401, 403, 413,
 * 415, 422 data-residency (the tenant is pinned to a region and the login
 * or instance URL's host is in another or in none: docs/residency.md),
 * 409/422 (Idempotency-Key), 503 (the seal keyring cannot be loaded).
 */
#include <stdio.h>
#include <string.h>

#include "errs.h"
#include "log.h"
#include "route.h"
#include "sfconn.h"
#include "util.h"
#include "userauth.h"

struct put_args {
	struct sfconn_in	 in;
	char			 key_sha[SFCONN_SHA_BUFSZ];
	struct seal_keyring	*keys;		/* taken before the transaction */
};

#define A(f)	offsetof(struct put_args, in.f)
static const struct jv_field put_fields[] = {
	{ "login_url", JV_STRING, JV_REQUIRED, 8, SFCONN_URL_MAX, A(login_url), NULL },
	{ "audience", JV_STRING, JV_NULLABLE, 8, SFCONN_URL_MAX, A(audience), NULL },
	{ "instance_url", JV_STRING, JV_NULLABLE, 8, SFCONN_URL_MAX, A(instance_url), NULL },
	{ "client_id", JV_STRING, JV_REQUIRED, 1, SFCONN_NAME_MAX, A(client_id), NULL },
	{ "username", JV_STRING, JV_REQUIRED, 1, SFCONN_NAME_MAX, A(username), NULL },
	{ "private_key", JV_STRING, JV_NULLABLE, 1, SFCONN_PEM_MAX, A(private_key), NULL },
	{ "mapping", JV_OBJECT, JV_NULLABLE, 0, SFCONN_MAP_OBJECTS, A(mapping), sfconn_mapping_check },
};
#undef A

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

static void
answer(struct req *r, const cJSON *view)
{
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, 200, view);
}

/* The shapes, and the keyring (it may load from data_keys: outside the transaction). */
static int
put_check(struct req *r, void *argp)
{
	struct put_args	*a = argp;
	const char	*field = NULL;
	char		 why[256];

	if (sfconn_validate(&a->in, a->key_sha, &field, why, sizeof(why)) != CB_OK)
		return route_fail_field(r, CB_ERR_VALIDATION, field, why);
	if ((a->keys = app_keys(r->app)) == NULL)
		return route_fail(r, CB_ERR_UNAVAILABLE, "the seal keyring cannot be loaded");
	return CB_OK;
}

static int
put_act(struct req *r, const void *argp)
{
	const struct put_args	*a = argp;
	const char		*field = NULL;
	char			 actor[48], why[400];
	cJSON			*view = NULL;
	int			 rc;

	snprintf(actor, sizeof(actor), "user:%s", caller(r)->user_id);
	rc = sfconn_put(r->app->db, a->keys, &r->app->settings, caller(r)->org, &a->in, a->key_sha,
	    actor, NULL, &view, &field, why, sizeof(why));
	if (rc == CB_ERR_RESIDENCY || rc == CB_ERR_VALIDATION)
		return route_fail_field(r, rc, field, why);
	if (rc == CB_OK) {
		answer(r, view);
		log_kv(LOG_LVL_INFO, "sf_connection_set", "org", caller(r)->org, "actor", actor,
		    NULL);
	}
	cJSON_Delete(view);
	return rc;
}

static int
get_act(struct req *r, const void *argp)
{
	cJSON	*view = NULL;
	int	 rc;

	(void)argp;
	rc = sfconn_get(r->app->db, &r->app->settings, caller(r)->org, &view);
	if (rc == CB_ERR_NOT_FOUND)
		return route_fail(r, rc, "the tenant has no Salesforce connection of its own: it "
		    "delivers through the deployment's default connection");
	if (rc == CB_OK)
		answer(r, view);
	cJSON_Delete(view);
	return rc;
}

static const struct route salesforce_routes[] = {
	{ .method = "PUT", .pattern = "/api/v1/admin/salesforce", .body_max = 16384,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = put_fields,
	  .nfields = ROUTE_NELEM(put_fields),
	  .args_size = sizeof(struct put_args), .auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin"),
	  .check = put_check, .idem_scope = userauth_idem_scope, .act = put_act },
	{ .method = "GET", .pattern = "/api/v1/admin/salesforce", .auth = ROUTE_AUTH_PERSON,
	  .roles = ROLES("admin"), .act = get_act },
};

ROUTE_MAIN("salesforce", salesforce_routes)
