/*
 * POST /api/v1/contexts
 *
 * Who: a browser tab (no credentials: the form must be published).
 * Idempotency-Key: not needed; a retry opens another context, which is harmless.
 * Body: {"form_id": "<uuid>"}
 * Answers: 201 {"ctx_ref","tab_token","form_id","form_version","expires_at"}
 *          pinning the form's current published version; the tab token is
 *          shown once and stored only as a hash.
 *          400 malformed/invalid body, 404 no such published form,
 *          415 wrong Content-Type, 413 body over 1 KiB.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "route.h"
#include "tab.h"
#include "util.h"

struct contexts_args {
	const char	*form_id;
};

static const struct jv_field contexts_fields[] = {
	{ "form_id", JV_UUID, JV_REQUIRED, 0, 0, offsetof(struct contexts_args, form_id), NULL },
};

static int
contexts_create(struct req *r, const void *argp)
{
	const struct contexts_args *a = argp;
	struct db_res	*res = NULL;
	char		 token[TAB_TOKEN_LEN + 1], hash[2 + TAB_HASH_HEX], ttl[24];
	cJSON		*o;
	int		 rc;

	snprintf(ttl, sizeof(ttl), "%lld", r->app->settings.context_ttl_s);
	tab_token_new(token, hash);
	/* One statement: the form must be published; the version is pinned now. */
	rc = db_query(r->app->db, &res,
	    "INSERT INTO contexts (org_id, form_id, form_version, tab_token_hash, expires_at)"
	    " SELECT f.org_id, f.id, f.current_version, $2::bytea, now() + make_interval(secs => $3::int)"
	    " FROM forms f WHERE f.id = $1 AND f.current_version IS NOT NULL"
	    " RETURNING id, form_version, to_char(expires_at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 3,
	    (const char *[]){ a->form_id, hash, ttl });
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ctx_ref", db_val(res, 0, 0));
	cJSON_AddStringToObject(o, "tab_token", token);
	cJSON_AddStringToObject(o, "form_id", a->form_id);
	cJSON_AddNumberToObject(o, "form_version", strtol(db_val(res, 0, 1), NULL, 10));
	cJSON_AddStringToObject(o, "expires_at", db_val(res, 0, 2));
	resp_json_nostore(r, 201, o);
out:
	sodium_memzero(token, sizeof(token));
	db_res_free(res);
	return rc;
}

static const struct route contexts_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/contexts", .body_max = 1024, .flags = ROUTE_JSON,
	  .fields = contexts_fields, .nfields = 1, .args_size = sizeof(struct contexts_args),
	  .act = contexts_create },
};

ROUTE_MAIN("contexts", contexts_routes)
