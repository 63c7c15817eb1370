/*
 * POST /api/v1/forms/{form_id}/submit
 *
 * Who: the browser tab holding the context (Authorization: Bearer tab_...).
 * Idempotency-Key: required ("quoted" per the IETF draft; a bare token is
 *   tolerated), scoped to the tab's context.
 * Body: {"data": {<field>: <value>, ...}} checked against the pinned version.
 * Answers: 201 {"submission_id","status":"accepted","form_version"}: the key,
 *            the submission and its outbox row committed in ONE transaction;
 *          the same key again: the stored answer, Idempotent-Replayed: true;
 *          same key, other body: 422; same key while the first runs: 409;
 *          no key: 400; data invalid: 400 naming data.<field>;
 *          a newer form version published: 409 form-version-stale (refresh);
 *          401 bad tab token; 404 another form; 503 + Retry-After when
 *          Postgres is down or the seal keyring cannot be loaded (nothing
 *          was recorded: retry with the same key).
 *
 * Personal data is sealed at rest (lib/reseal.h): the submission's data in
 * submissions.data_sealed (PII, AAD "submissions:<id>:data"; `data` stays
 * NULL) and the Salesforce field map in outbox.payload_sealed (PII, AAD
 * "outbox:<submission id>:fields"); the clear outbox payload holds only
 * sobject, ext_field and ext_value.  The tenant's submission.created
 * webhook events (ids only) are written by the same statement.  The submission id is made here so both
 * AADs are known before the one INSERT that writes both rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "events.h"
#include "formdef.h"
#include "forms.h"
#include "reseal.h"
#include "route.h"
#include "seal.h"
#include "tab.h"
#include "util.h"

struct submit_args {
	const cJSON	*data;
	cJSON		*def;		/* the pinned definition, owned by the request */
	struct seal_keyring *keys;	/* taken before the transaction begins */
};

/* The text format of a sealed 64 KiB body, with room to spare. */
#define SUBMIT_SEALED_MAX	(4u * 65536u)

static const struct jv_field submit_fields[] = {
	{ "data", JV_OBJECT, JV_REQUIRED, 0, FORMDEF_MAX_FIELDS, offsetof(struct submit_args, data), NULL },
};

static void
submit_json_free(void *p)
{
	cJSON_Delete(p);
}

static int
submit_authorize(struct req *r)
{
	const struct tab_ctx	*t = r->auth;

	if (strcmp(req_param(r, "form_id"), t->form_id) != 0)
		return CB_ERR_NOT_FOUND;
	return CB_OK;
}

/* Validate the data against the version the context pinned. */
static int
submit_check(struct req *r, void *argp)
{
	struct submit_args	*a = argp;
	const struct tab_ctx	*t = r->auth;
	struct jv_error		 err;
	char			*text = NULL;
	int			 rc;

	if ((rc = forms_definition(r->app, t->org, t->form_id, t->form_version, &text)) != CB_OK)
		return rc;
	a->def = cJSON_Parse(text);
	free(text);
	if (a->def == NULL)
		return CB_ERR_INTERNAL;
	req_own(r, a->def, submit_json_free);
	if ((rc = formdef_validate(a->def, a->data, &err)) != CB_OK) {
		route_field_problem(r, rc, err.field, err.reason);
		return CB_OK;
	}
	/*
	 * The keyring may have to be (re)loaded from data_keys: do it here,
	 * outside the idempotency transaction.  Without it nothing may be
	 * written: 503, and the client retries with the same key.
	 */
	if ((a->keys = app_keys(r->app)) == NULL)
		return CB_ERR_UNAVAILABLE;
	return CB_OK;
}

/* A string cJSON printed, wiped before it is freed: it holds personal data. */
static void
submit_text_free(char *p)
{
	if (p != NULL) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

static int
submit_scope(struct req *r, char *org, size_t orgsz, char *scope, size_t scopesz)
{
	const struct tab_ctx	*t = r->auth;

	util_strlcpy(org, t->org, orgsz);
	snprintf(scope, scopesz, "ctx:%s", t->ctx_id);
	return CB_OK;
}

static int
submit_act(struct req *r, const void *argp)
{
	const struct submit_args *a = argp;
	const struct tab_ctx	*t = r->auth;
	struct db		*db = r->app->db;
	struct db_res		*res = NULL;
	struct buf		 data_sealed, fields_sealed;
	char			 ver[16], id[37], *data = NULL, *fields = NULL;
	cJSON			*sf = NULL, *o;
	long long		 cur = 0;
	int			 rc;

	buf_init(&data_sealed, SUBMIT_SEALED_MAX);
	buf_init(&fields_sealed, SUBMIT_SEALED_MAX);

	snprintf(ver, sizeof(ver), "%d", t->form_version);
	util_uuid_v4(id);
	data = cJSON_PrintUnformatted(a->data);
	sf = formdef_to_sf(a->def, a->data);
	fields = cJSON_PrintUnformatted(sf);
	if (data == NULL || fields == NULL)
		util_oom();
	if ((rc = reseal_seal_value(a->keys, "submissions", id, data, strlen(data),
	    &data_sealed)) != CB_OK ||
	    (rc = reseal_seal_value(a->keys, "outbox", id, fields, strlen(fields),
	    &fields_sealed)) != CB_OK) {
		/* No current key (CB_ERR_CONFIG) is the keyring's state, not the client's. */
		if (rc == CB_ERR_CONFIG)
			rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	/*
	 * One statement: the version check, the submission, its outbox row and
	 * the submission.created webhook events (lib/events.h: one row per
	 * subscribed endpoint; for a tenant without any, one index probe).
	 * No row back means the pinned version is no longer current.  No row
	 * lock on the form: a publish that commits while this submit runs has
	 * no meaningful order against it (the data was checked against the
	 * version the tab pinned), and a lock would make every concurrent
	 * submit write the same tuple.
	 */
	rc = db_query(db, &res,
	    "WITH f AS (SELECT sf_object, sf_ext_field FROM forms"
	    "           WHERE org_id = $1 AND id = $2 AND current_version = $4::int),"
	    " s AS (INSERT INTO submissions (id, org_id, ctx_id, form_id, form_version, data_sealed)"
	    "       SELECT $5::uuid, $1, $3, $2, $4::int, $6 FROM f RETURNING id),"
	    " ev AS (" EVENTS_INSERT_FROM("(SELECT $1::bigint AS org_id,"
	    "   '" EVENTS_SUBMISSION_CREATED "'::text AS type, s.id AS ref_id, s.id::text AS source_id,"
	    "   jsonb_build_object('submission_id', s.id, 'form_id', $2::uuid,"
	    "   'form_version', $4::int) AS data FROM s)") ")"
	    " INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed)"
	    " SELECT $1, 'salesforce.upsert', s.id, jsonb_build_object('sobject', f.sf_object,"
	    "   'ext_field', f.sf_ext_field, 'ext_value', s.id::text), $7"
	    " FROM s, f RETURNING ref_id", 7,
	    (const char *[]){ t->org, t->form_id, t->ctx_id, ver, id, buf_cstr(&data_sealed),
	    buf_cstr(&fields_sealed) });
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		db_res_free(res);
		res = NULL;
		rc = db_query(db, &res, "SELECT coalesce(current_version, 0) FROM forms"
		    " WHERE org_id = $1 AND id = $2", 2, (const char *[]){ t->org, t->form_id });
		if (rc != CB_OK)
			goto out;
		if (db_rows(res) != 1) {
			rc = CB_ERR_NOT_FOUND;
			goto out;
		}
		(void)util_parse_ll(db_val(res, 0, 0), 0, 1 << 30, &cur);
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "form_version", t->form_version);
		cJSON_AddNumberToObject(o, "current_version", (double)cur);
		cJSON_AddBoolToObject(o, "refresh", 1);
		resp_problem_ext(r, CB_ERR_VERSION_STALE,
		    "a newer version of this form was published: reload the page", o);
		cJSON_Delete(o);
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "submission_id", db_val(res, 0, 0));
	cJSON_AddStringToObject(o, "status", "accepted");
	cJSON_AddNumberToObject(o, "form_version", t->form_version);
	resp_json(r, 201, o);
	cJSON_Delete(o);
out:
	cJSON_Delete(sf);
	submit_text_free(data);
	submit_text_free(fields);
	buf_free(&data_sealed);
	buf_free(&fields_sealed);
	db_res_free(res);
	return rc;
}

/*
 * Wake the outbox workers (Redis pub/sub).  Only a hint: if it is lost,
 * the workers' fallback sweep finds the row within a second.
 */
static void
submit_wake(struct req *r)
{
	kv_publish(r->app->kv, "cb:outbox", "submission");
}

static const struct route submit_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/forms/{form_id}/submit", .body_max = 65536,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = submit_fields, .nfields = 1,
	  .args_size = sizeof(struct submit_args), .authenticate = tab_authenticate,
	  .authorize = submit_authorize, .check = submit_check, .idem_scope = submit_scope,
	  .quota = QUOTA_SUBMIT,
	  .act = submit_act, .after = submit_wake },
};

static const struct responder submit = {
	.name = "submit",
	.routes = submit_routes,
	.nroutes = 1,
};

int
main(int argc, char **argv)
{
	return route_main(argc, argv, &submit);
}
