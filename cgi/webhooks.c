/*
 * Tenants' outbound webhook endpoints (Standard Webhooks 1.0).  The domain
 * (statements, sealing, the URL rule) is lib/webhooks.h; the events they
 * receive are lib/events.h; the deliveries worker/sink_webhook.c.
 *
 * POST /api/v1/admin/webhooks                      admin   {url, event_types, description?}
 *        -> 201 the endpoint and its secret "whsec_..." (in this answer only)
 * GET  /api/v1/admin/webhooks                      admin, operator -> 200 {webhooks:[...]}
 * GET  /api/v1/admin/webhooks/{id}                 admin, operator -> 200 | 404
 * POST /api/v1/admin/webhooks/{id}/rotate-secret   admin   -> 200 the endpoint and its new
 *        secret (in this answer only); the previous one still signs until prev_until
 *        (CB_WEBHOOK_ROTATION_OVERLAP_S)
 * POST /api/v1/admin/webhooks/{id}/disable         admin   -> 200 | 404
 * POST /api/v1/admin/webhooks/{id}/enable          admin   -> 200 | 404 (clears
 *        disabled_reason and failing_since)
 *
 * Who: a person (Authorization: Bearer <access JWT>); a viewer, or an
 * operator on a write, gets 403 naming the roles.  Tenant-scoped: another
 * organisation's id, or a malformed one, answers 404.
 * Idempotency-Key: required on create and rotate-secret (scoped to the
 * calling user); a replay answers the stored status and body, which never
 * hold the secret.  Disable and enable are idempotent by nature.
 * No view holds a secret; nothing is logged but ids and the actor.
 * Audit: each change writes its audit_log row (actor "user:<id>") in the
 * change's transaction: webhook.created (event types, the URL's SHA-256:
 * a URL may carry a token), webhook.secret_rotated, webhook.disabled,
 * webhook.enabled (only when the state changed).  Never a secret or a URL.
 * Errors: 400 (field named: url, event_types, description, an unknown
 * field), 401, 403, 404, 409/422 (Idempotency-Key), 413, 415, 422
 * data-residency (the tenant is pinned to a region and the URL's host is in
 * another or in none: docs/residency.md), 503 (the seal keyring cannot be
 * loaded: nothing was written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "errs.h"
#include "log.h"
#include "route.h"
#include "stdwh.h"
#include "userauth.h"
#include "util.h"
#include "webhooks.h"

struct create_args {
	const char		*url;
	const cJSON		*event_types;
	const char		*description;
	struct seal_keyring	*keys;		/* taken before the transaction */
};

struct rotate_args {
	struct seal_keyring	*keys;
};

static int
check_types(const cJSON *v, const char **why)
{
	return webhooks_types_check(v, why) == CB_OK ? 0 : -1;
}

static const struct jv_field create_fields[] = {
	{ "url", JV_STRING, JV_REQUIRED, WEBHOOKS_URL_MIN, WEBHOOKS_URL_MAX,
	  offsetof(struct create_args, url), NULL },
	{ "event_types", JV_ARRAY, JV_REQUIRED, 1, WEBHOOKS_TYPES_MAX,
	  offsetof(struct create_args, event_types), check_types },
	{ "description", JV_STRING, JV_NULLABLE, 0, WEBHOOKS_DESC_MAX,
	  offsetof(struct create_args, description), NULL },
};

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

/* The keyring may load from data_keys: outside the idempotency transaction. */
static int
take_keys(struct req *r, struct seal_keyring **keys)
{
	if ((*keys = app_keys(r->app)) == NULL)
		return route_fail(r, CB_ERR_UNAVAILABLE, "the seal keyring cannot be loaded");
	return CB_OK;
}

/* The URL rule needs this process's private allowlist: a check, not a field hook. */
static int
create_check(struct req *r, void *argp)
{
	struct create_args	*a = argp;
	const char		*why = NULL;

	if (webhooks_url_check(a->url, r->app->settings.egress_private_allow, &why) != CB_OK)
		return route_fail_field(r, CB_ERR_VALIDATION, "url", why);
	return take_keys(r, &a->keys);
}

static int
rotate_check(struct req *r, void *argp)
{
	struct rotate_args	*a = argp;

	return take_keys(r, &a->keys);
}

static void
audit(const struct req *r, const char *event, const char *id)
{
	char	 actor[48];

	snprintf(actor, sizeof(actor), "user:%s", caller(r)->user_id);
	log_kv(LOG_LVL_INFO, event, "webhook_id", id, "org", caller(r)->org, "actor", actor, NULL);
}

/* webhook.created's detail: the event types (comma-separated), the URL's hash. */
static char *
created_detail(const cJSON *view, const char *url)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 hex[2 * sizeof(h) + 1], types[WEBHOOKS_TYPES_MAX * 64];
	const cJSON	*t;
	size_t		 off = 0;

	types[0] = '\0';
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(view, "event_types"))
		if (cJSON_IsString(t) && off < sizeof(types))
			off += (size_t)snprintf(types + off, sizeof(types) - off, "%s%s",
			    off ? "," : "", t->valuestring);
	crypto_hash_sha256(h, (const unsigned char *)url, strlen(url));
	util_hex(hex, h, sizeof(h));
	return audit_detail("event_types", types, "url_sha256", hex, NULL);
}

static void
answer(struct req *r, int status, const cJSON *o)
{
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, status, o);
}

/*
 * Answer the view with its secret, and store it for replays without: the
 * secret is in this one answer and nowhere else.
 */
static void
answer_secret(struct req *r, int status, cJSON *view, const char *secret)
{
	char	*stored;

	if ((stored = cJSON_PrintUnformatted(view)) == NULL)
		util_oom();
	r->idem_stored = stored;
	req_own(r, stored, NULL);
	cJSON_AddStringToObject(view, "secret", secret);
	answer(r, status, view);
	/* The tree's copy of the secret goes before the tree does. */
	sodium_memzero(cJSON_GetObjectItemCaseSensitive(view, "secret")->valuestring,
	    strlen(secret));
}

static int
wh_create(struct req *r, const void *argp)
{
	const struct create_args	*a = argp;
	char				 secret[STDWH_SECRET_BUFSZ], why[400];
	cJSON				*view = NULL;
	int				 rc;

	rc = webhooks_create(r->app->db, a->keys, caller(r)->org, a->url, a->event_types,
	    a->description, r->app->settings.region_hosts, secret, &view, why, sizeof(why));
	if (rc == CB_ERR_RESIDENCY)
		rc = route_fail_field(r, rc, "url", why);
	if (rc == CB_OK) {
		char	*detail = created_detail(view, a->url);

		rc = userauth_audit(r, "webhook.created",
		    cJSON_GetObjectItemCaseSensitive(view, "id")->valuestring, detail);
		free(detail);
	}
	if (rc == CB_OK) {
		answer_secret(r, 201, view, secret);
		audit(r, "webhook_endpoint_created",
		    cJSON_GetObjectItemCaseSensitive(view, "id")->valuestring);
	}
	sodium_memzero(secret, sizeof(secret));
	cJSON_Delete(view);
	return rc;
}

/* A read's answer: the view when `rc` says it was read; freed either way. */
static int
answer_read(struct req *r, int rc, cJSON **view)
{
	if (rc == CB_OK)
		answer(r, 200, *view);
	cJSON_Delete(*view);
	return rc;
}

static int
wh_list(struct req *r, const void *argp)
{
	cJSON	*view = NULL;

	(void)argp;
	return answer_read(r, webhooks_list(r->app->db, caller(r)->org, &view), &view);
}

static int
wh_get(struct req *r, const void *argp)
{
	cJSON	*view = NULL;

	(void)argp;
	return answer_read(r, webhooks_get(r->app->db, caller(r)->org, req_param(r, "id"), &view),
	    &view);
}

static int
wh_rotate(struct req *r, const void *argp)
{
	const struct rotate_args	*a = argp;
	char				 secret[STDWH_SECRET_BUFSZ];
	cJSON				*view = NULL;
	int				 rc;

	rc = webhooks_rotate(r->app->db, a->keys, caller(r)->org, req_param(r, "id"),
	    r->app->settings.webhook_rotation_overlap_s, secret, &view);
	if (rc == CB_ERR_CRYPTO)
		rc = route_fail(r, CB_ERR_INTERNAL, "the stored secret does not open");
	if (rc == CB_OK)
		rc = userauth_audit(r, "webhook.secret_rotated", req_param(r, "id"), NULL);
	if (rc == CB_OK) {
		answer_secret(r, 200, view, secret);
		audit(r, "webhook_secret_rotated", req_param(r, "id"));
	}
	sodium_memzero(secret, sizeof(secret));
	cJSON_Delete(view);
	return rc;
}

static int
wh_switch(struct req *r, int enabled)
{
	cJSON	*view = NULL;
	int	 rc, changed = 0;

	/* The change and its audit row commit together. */
	if ((rc = db_begin(r->app->db)) != CB_OK)
		return rc;
	rc = webhooks_set_enabled(r->app->db, caller(r)->org, req_param(r, "id"), enabled,
	    "disabled by an admin", &changed, &view);
	if (rc == CB_OK && changed)
		rc = userauth_audit(r, enabled ? "webhook.enabled" : "webhook.disabled",
		    req_param(r, "id"), NULL);
	if (rc == CB_OK)
		rc = db_commit(r->app->db);
	else
		db_rollback(r->app->db);
	if (rc == CB_OK) {
		answer(r, 200, view);
		if (changed)
			audit(r, enabled ? "webhook_endpoint_enabled" : "webhook_endpoint_disabled",
			    req_param(r, "id"));
	}
	cJSON_Delete(view);
	return rc;
}

static int
wh_disable(struct req *r, const void *argp)
{
	(void)argp;
	return wh_switch(r, 0);
}

static int
wh_enable(struct req *r, const void *argp)
{
	(void)argp;
	return wh_switch(r, 1);
}

/* Who: a person; writes need an admin, reads an admin or an operator. */
#define ADMINS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin")
#define READERS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin", "operator")

static const struct route webhooks_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/admin/webhooks", .body_max = 8192,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = create_fields,
	  .nfields = ROUTE_NELEM(create_fields),
	  .args_size = sizeof(struct create_args), ADMINS,
	  .check = create_check, .idem_scope = userauth_idem_scope, .act = wh_create },
	{ .method = "GET", .pattern = "/api/v1/admin/webhooks", READERS, .act = wh_list },
	{ .method = "GET", .pattern = "/api/v1/admin/webhooks/{id}", READERS, .act = wh_get },
	{ .method = "POST", .pattern = "/api/v1/admin/webhooks/{id}/rotate-secret",
	  .flags = ROUTE_IDEMPOTENT, .args_size = sizeof(struct rotate_args), ADMINS,
	  .check = rotate_check, .idem_scope = userauth_idem_scope, .act = wh_rotate },
	{ .method = "POST", .pattern = "/api/v1/admin/webhooks/{id}/disable", ADMINS,
	  .act = wh_disable },
	{ .method = "POST", .pattern = "/api/v1/admin/webhooks/{id}/enable", ADMINS,
	  .act = wh_enable },
};

ROUTE_MAIN("webhooks", webhooks_routes)
