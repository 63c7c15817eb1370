/*
 * POST /api/v1/forms/{form_id}/submit
 *
 * Who: the browser tab holding the context (Authorization: Bearer tab_...).
 * Idempotency-Key: required ("quoted" per the IETF draft; a bare token is
 *   tolerated), scoped to the tab's context.
 * Body: {"data": {<field>: <value>, ...}} checked against the pinned version.
 * Answers: 201 {"submission_id","status":"accepted","form_version"}: the key
 *            (with this answer), the submission and its outbox row written
 *            by ONE autocommit statement: one round trip;
 *          the same key again: the stored answer, Idempotent-Replayed: true;
 *          same key, other body: 422; same key while the first runs: 409;
 *          no key: 400; data invalid: 400 naming data.<field>;
 *          a newer form version published: 409 form-version-stale (refresh);
 *          the same data from the same tab under a new key within
 *            CB_SUBMIT_DEDUPE_S: 409 duplicate-submission with the first
 *            submission's submission_id (nothing written, key not kept);
 *          a key whose CB_IDEM_TTL_S ran out: a new request;
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
#include "digest.h"
#include "errs.h"
#include "events.h"
#include "formdef.h"
#include "forms.h"
#include "log.h"
#include "reseal.h"
#include "route.h"
#include "seal.h"
#include "subject.h"
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
	if ((rc = formdef_validate(a->def, a->data, &err)) != CB_OK)
		return route_fail_field(r, rc, err.field, err.reason);
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

/*
 * The one statement of a submit (ROUTE_IDEM_ONE_STATEMENT): it claims the
 * Idempotency-Key storing the 201 it will answer (the submission id is made
 * here, so the answer is known before the statement), checks the pinned
 * version is current, claims the (context, data digest) pair when
 * de-duplication is on, and writes the submission, its outbox row and the
 * submission.created webhook events (lib/events.h: one row per subscribed
 * endpoint; for a tenant without any, one index probe).  It ends in one of:
 *   created  the key was claimed and everything was written;
 *   stored   another request holds the key: its stored answer (the holder
 *            may have committed while this statement waited on it);
 *   a raise  the key was claimed but the effect cannot happen (a newer
 *            version, the same data again, the form gone): the implicit
 *            transaction rolls the claim back too, nothing is written.
 * No row lock on the form: a publish that commits while this submit runs
 * has no meaningful order against it (the data was checked against the
 * version the tab pinned), and a lock would make every concurrent submit
 * write the same tuple.
 *
 *   $1 org  $2 form  $3 ctx  $4 version  $5 submission id  $6 data sealed
 *   $7 fields sealed  $8 scope  $9 key  $10 method  $11 path
 *   $12 fingerprint  $13 answer  $14 key lifetime (s)  $15 data digest
 *   (NULL: no de-duplication)  $16 de-duplication window (s)
 *   $17 the request's traceparent (NULL: tracing off), kept on the outbox rows
 *   $18 the submission's blind-index entries (lib/subject.h), NULL for none
 */
static const char submit_sql[] =
    "WITH " IDEM_CLAIM_CTE("$1", "$8", "$9", "$10", "$11", "$12", "201", "$13", "$14") ","
    " f AS (SELECT f.sf_object, f.sf_ext_field FROM forms f"
    "       WHERE f.org_id = $1 AND f.id = $2 AND f.current_version = $4::int"
    "       AND EXISTS (SELECT 1 FROM k)),"
    " d AS (INSERT INTO submission_digests AS x (ctx_id, digest, org_id, submission_id)"
    "       SELECT $3, $15::bytea, $1, $5::uuid FROM f WHERE $15::bytea IS NOT NULL"
    "       ON CONFLICT (ctx_id, digest) DO UPDATE SET submission_id = EXCLUDED.submission_id,"
    "         created_at = now()"
    "       WHERE x.created_at < now() - make_interval(secs => $16::int) RETURNING 1),"
    " g AS (SELECT 1 FROM f WHERE $15::bytea IS NULL UNION ALL SELECT 1 FROM d),"
    " s AS (INSERT INTO submissions (id, org_id, ctx_id, form_id, form_version, data_sealed)"
    "       SELECT $5::uuid, $1, $3, $2, $4::int, $6 FROM g RETURNING id),"
    " si AS (" SUBJECT_INSERT_FROM("$1", "'submission'", "s.id", "$18", "s, ") "),"
    " ev AS (" EVENTS_INSERT_FROM("(SELECT $1::bigint AS org_id,"
    "   '" EVENTS_SUBMISSION_CREATED "'::text AS type, s.id AS ref_id, s.id::text AS source_id,"
    "   jsonb_build_object('submission_id', s.id, 'form_id', $2::uuid,"
    "   'form_version', $4::int) AS data, $17::text AS trace FROM s)") "),"
    " o AS (INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed, trace)"
    "       SELECT $1, 'salesforce.upsert', s.id, jsonb_build_object('sobject', f.sf_object,"
    "         'ext_field', f.sf_ext_field, 'ext_value', s.id::text), $7, $17"
    "       FROM s, f RETURNING ref_id)"
    " SELECT 'created', NULL::boolean, NULL::integer, NULL::text FROM o"
    " UNION ALL"
    " SELECT 'stored', x.matches, x.status, x.response"
    "   FROM " IDEM_STORED_SQL("$1", "$8", "$9", "$12", "$10", "$11") " x"
    "   WHERE NOT EXISTS (SELECT 1 FROM k)"
    " UNION ALL"
    " SELECT cb_submit_refuse(CASE WHEN EXISTS (SELECT 1 FROM f) THEN 'duplicate'"
    "   ELSE 'stale' END, $1, $2, $3, $15::bytea), NULL, NULL, NULL"
    "   WHERE EXISTS (SELECT 1 FROM k) AND NOT EXISTS (SELECT 1 FROM o)";

/* The answer to a refusal raised by cb_submit_refuse (sql/0005_pipeline.up.sql). */
static int
submit_refused(struct req *r, const char *msg)
{
	const struct tab_ctx	*t = r->auth;
	const char		*p = strstr(msg, "cb_submit:");
	long long		 cur = 0;
	char			 id[37];
	cJSON			*o;

	if (p == NULL)
		return CB_ERR_DB;
	p += strlen("cb_submit:");
	if (strncmp(p, "duplicate:", 10) == 0) {
		util_strlcpy(id, p + 10, sizeof(id));
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "submission_id", id);
		return route_fail_ext(r, CB_ERR_DUPLICATE, "this tab already submitted the same data:"
		    " the first submission stands", o);
	}
	if (strncmp(p, "stale:", 6) == 0) {
		(void)util_parse_ll(p + 6, 0, 1 << 30, &cur);
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "form_version", t->form_version);
		cJSON_AddNumberToObject(o, "current_version", (double)cur);
		cJSON_AddBoolToObject(o, "refresh", 1);
		return route_fail_ext(r, CB_ERR_VERSION_STALE,
		    "a newer version of this form was published: reload the page", o);
	}
	return CB_ERR_NOT_FOUND;
}

static int
submit_act(struct req *r, const void *argp)
{
	const struct submit_args *a = argp;
	const struct tab_ctx	*t = r->auth;
	struct idem		*id = r->idem;
	struct db		*db = r->app->db;
	struct db_res		*res = NULL;
	struct buf		 data_sealed, fields_sealed, subjects;
	char			 ver[16], sid[37], ttl[24], win[24], digest[DIGEST_TEXT];
	char			*data = NULL, *fields = NULL, *canon = NULL, *answer = NULL;
	const char		*parts[2];
	cJSON			*sf = NULL, *o;
	int			 rc, dedupe = r->app->settings.submit_dedupe_s > 0;

	buf_init(&data_sealed, SUBMIT_SEALED_MAX);
	buf_init(&fields_sealed, SUBMIT_SEALED_MAX);
	buf_init(&subjects, SUBJECT_MAX_ENTRIES * 65u);

	snprintf(ver, sizeof(ver), "%d", t->form_version);
	snprintf(ttl, sizeof(ttl), "%lld", r->app->settings.idem_ttl_s);
	snprintf(win, sizeof(win), "%lld", r->app->settings.submit_dedupe_s);
	util_uuid_v4(sid);
	data = cJSON_PrintUnformatted(a->data);
	sf = formdef_to_sf(a->def, a->data);
	fields = cJSON_PrintUnformatted(sf);
	if (data == NULL || fields == NULL)
		util_oom();
	if ((rc = reseal_seal_value(a->keys, "submissions", sid, data, strlen(data),
	    &data_sealed)) != CB_OK ||
	    (rc = reseal_seal_value(a->keys, "outbox", sid, fields, strlen(fields),
	    &fields_sealed)) != CB_OK) {
		/* No current key (CB_ERR_CONFIG) is the keyring's state, not the client's. */
		if (rc == CB_ERR_CONFIG)
			rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	/* The blind index of the subjects it names, for an erasure (lib/subject.h). */
	if ((rc = subject_of_data(&subjects, r->app->settings.blind_index_key, a->def,
	    a->data)) != CB_OK)
		goto out;
	if (dedupe) {
		/* Keyed, and keyed by the tab: the digest confirms no guess of the data. */
		canon = jv_canonical(a->data);
		parts[0] = t->ctx_id;
		parts[1] = canon;
		if ((rc = digest_keyed(r->app->settings.blind_index_key, "cb:submission-dedupe:v1",
		    parts, 2, digest)) != CB_OK)
			goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "submission_id", sid);
	cJSON_AddStringToObject(o, "status", "accepted");
	cJSON_AddNumberToObject(o, "form_version", t->form_version);
	answer = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (answer == NULL)
		util_oom();

	rc = db_query_setup_once(db, IDEM_LOCK_SETUP, &res, submit_sql, 18,
	    (const char *[]){ t->org, t->form_id, t->ctx_id, ver, sid, buf_cstr(&data_sealed),
	    buf_cstr(&fields_sealed), id->scope, id->key, r->method, r->uri, id->fp, answer, ttl,
	    dedupe ? digest : NULL, win, req_traceparent(r),
	    subjects.len > 0 ? buf_cstr(&subjects) : NULL });
	if (rc != CB_OK) {
		if (idem_lock_timed_out(db))
			rc = CB_ERR_IDEM_IN_FLIGHT;
		else if (strncmp(db_sqlstate(db), "CBS", 3) == 0)
			rc = submit_refused(r, db_errmsg(db));
		goto out;
	}
	if (db_rows(res) != 1) {
		rc = CB_ERR_IDEM_IN_FLIGHT;	/* the key's row went between claim and read */
		goto out;
	}
	if (strcmp(db_val(res, 0, 0), "stored") == 0) {
		rc = idem_stored_answer(r, db_val(res, 0, 1), db_val(res, 0, 2), db_val(res, 0, 3));
		id->from_store = rc == CB_OK;
		goto out;
	}
	resp_body(r, 201, "application/json", answer, strlen(answer));
	/* Ids only: the line that ties the request's trace to its outbox row. */
	log_kv(LOG_LVL_INFO, "submission_created", "submission_id", sid, "form", t->form_id, NULL);
out:
	cJSON_Delete(sf);
	submit_text_free(data);
	submit_text_free(fields);
	submit_text_free(canon);
	free(answer);
	buf_free(&data_sealed);
	buf_free(&fields_sealed);
	buf_free(&subjects);
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
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT | ROUTE_IDEM_ONE_STATEMENT,
	  .fields = submit_fields, .nfields = 1,
	  .args_size = sizeof(struct submit_args), .auth = ROUTE_AUTH_TAB,
	  .authorize = tab_form_authorize, .check = submit_check, .idem_scope = submit_scope,
	  .quota = QUOTA_SUBMIT,
	  .act = submit_act, .after = submit_wake },
};

ROUTE_MAIN("submit", submit_routes)
