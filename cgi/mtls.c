/*
 * Mutual TLS requirements, set by a tenant's admin without the CLI: the
 * same lib code as `cb-admin agent-mtls` / `key-mtls` (lib/mtls.c), the
 * same audit rows, scoped to the caller's organisation.
 *
 * PUT    /api/v1/admin/agents/{id}/mtls   admin  {subject?, sha256?} -> 200 set
 * DELETE /api/v1/admin/agents/{id}/mtls   admin                      -> 200 cleared
 * PUT    /api/v1/admin/keys/{id}/mtls     admin  {subject?, sha256?} -> 200 set
 * DELETE /api/v1/admin/keys/{id}/mtls     admin                      -> 200 cleared
 *
 * subject: the client certificate's exact subject DN (RFC 2253, as nginx
 * reports it, 3..500 printable characters; no '|' for a key); sha256:
 * 1..8 pinned SHA-256 fingerprints of the whole certificate (64 hex
 * digits, colons allowed).  At least one of them; both: both must hold.
 * An agent's requirement binds every key of it; a key's binds that key
 * as well (sql/0019_key_mtls: a key narrows, never widens).
 * Who: a person with role admin (Authorization: Bearer <access JWT>);
 * others 403 naming the role.  Another organisation's id answers 404.
 * Audit: agent.mtls_set / agent.mtls_cleared, api_key.mtls_set /
 * api_key.mtls_cleared (actor "user:<id>"), in the change's statement;
 * detail: whether a subject is required and how many pins, never them.
 * No Idempotency-Key: setting the same requirement again is harmless.
 * Errors: 400 (a field unknown, malformed, or neither given: named), 401,
 * 403, 404, 413, 415, 503.
 */
#include <stdio.h>
#include <string.h>

#include "errs.h"
#include "mtls.h"
#include "route.h"
#include "userauth.h"
#include "util.h"

struct mtls_args {
	const char	*subject;
	const cJSON	*sha256;
};

/* Each pin a string: 64 hex digits, with colons (95 characters) at most. */
static int
check_pins(const cJSON *v, const char **why)
{
	const cJSON	*p;

	cJSON_ArrayForEach(p, v)
		if (!cJSON_IsString(p) || strlen(p->valuestring) < 64 ||
		    strlen(p->valuestring) > 95) {
			*why = "each pin is a SHA-256 fingerprint: 64 hex digits (colons allowed)";
			return -1;
		}
	return 0;
}

static const struct jv_field mtls_fields[] = {
	{ "subject", JV_STRING, 0, 3, MTLS_SUBJECT_MAX, offsetof(struct mtls_args, subject), NULL },
	{ "sha256", JV_ARRAY, 0, 1, MTLS_PINS_MAX, offsetof(struct mtls_args, sha256), check_pins },
};

/* Set (a != NULL) or clear the requirement of the agent or key {id}. */
static int
mtls_change(struct req *r, const struct mtls_args *a, int key)
{
	const struct user_auth	*u = r->auth;
	const cJSON		*p;
	char			 pins[MTLS_PINS_MAX * 96 + 1] = "", actor[48];
	const char		*id = req_param(r, "id"), *why = NULL;
	cJSON			*o;
	size_t			 n = 0;
	int			 rc;

	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	if (a != NULL && a->subject == NULL && a->sha256 == NULL)
		return route_fail(r, CB_ERR_VALIDATION, "give a subject, sha256 pins or both "
		    "(DELETE clears the requirement)");
	if (a != NULL && a->sha256 != NULL)
		cJSON_ArrayForEach(p, a->sha256)
			n += (size_t)snprintf(pins + n, sizeof(pins) - n, "%s%s", n ? "," : "",
			    p->valuestring);
	snprintf(actor, sizeof(actor), "user:%s", u->user_id);
	rc = (key ? mtls_set_key : mtls_set)(r->app->db, u->org, id, a ? a->subject : NULL,
	    a && pins[0] ? pins : NULL, actor, &why);
	if (rc == CB_ERR_VALIDATION)
		return route_fail(r, rc, why);
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, key ? "key_id" : "agent_id", id);
	cJSON_AddStringToObject(o, "mtls", a ? "set" : "cleared");
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

/* The PUT's body sets the requirement; a DELETE declares none (argp NULL) and clears it. */
static int
agent_mtls(struct req *r, const void *argp)
{
	return mtls_change(r, argp, 0);
}

static int
key_mtls(struct req *r, const void *argp)
{
	return mtls_change(r, argp, 1);
}

#define ADMINS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin")
#define PUT_BODY .body_max = 2048, .flags = ROUTE_JSON, .fields = mtls_fields, .nfields = 2, \
		 .args_size = sizeof(struct mtls_args)

static const struct route mtls_routes[] = {
	{ .method = "PUT", .pattern = "/api/v1/admin/agents/{id}/mtls", PUT_BODY, ADMINS,
	  .act = agent_mtls },
	{ .method = "DELETE", .pattern = "/api/v1/admin/agents/{id}/mtls", ADMINS,
	  .act = agent_mtls },
	{ .method = "PUT", .pattern = "/api/v1/admin/keys/{id}/mtls", PUT_BODY, ADMINS,
	  .act = key_mtls },
	{ .method = "DELETE", .pattern = "/api/v1/admin/keys/{id}/mtls", ADMINS,
	  .act = key_mtls },
};

ROUTE_MAIN("mtls", mtls_routes)
