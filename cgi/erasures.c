/*
 * Erasure of a data subject (docs/erasure.md).
 *
 * POST /api/v1/admin/erasures        admin   {"email"} or {"phone"} -> 202
 * GET  /api/v1/admin/erasures/{id}   admin                          -> 200 | 404
 *
 * Who: a person with the admin role (Authorization: Bearer <access JWT>);
 *   every query is filtered by the caller's tenant, so another tenant's
 *   erasure id answers 404.
 * Idempotency-Key: required on the POST, scoped to the calling user; the
 *   same key again answers the stored 202 (Idempotent-Replayed: true) and
 *   erases nothing more.
 * Body: exactly one of "email" (an address, trimmed and lower-cased) or
 *   "phone" (an international number, "+" or "00" and the country code,
 *   normalised to E.164).  Malformed: 400 naming the field; both or
 *   neither: 422; an unknown member: 400.
 *
 * What the POST does, in the request's one transaction: it finds the
 * subject's submissions, call events and commands of the caller's tenant
 * through the blind index (lib/subject.h: the keyed digest of the
 * normalised identifier, never the identifier), deletes them (their index
 * entries go with them, by trigger), deletes the Salesforce outbox rows of
 * those submissions and call events (their sealed field maps) and enqueues
 * one salesforce.delete outbox row per Salesforce record the broker wrote
 * for them (by external id: worker/sink_salesforce.c; a record whose upsert
 * a worker is sending now waits twice CB_SF_TIMEOUT_MS, so the delete
 * comes after it), writes the erasure
 * row (counts and the subject's digest) and the audit row
 * subject.erased (counts and the digest: hashes only).  After the commit,
 * the contact cache's entry of a phone number is dropped (lib/ccache.h).
 * Nothing logs the identifier.
 *
 * Answer (POST and GET): {"id","subject_kind","created_at","found":
 * {"submissions","call_events","commands"},"deleted":true,"salesforce":
 * {"enqueued","pending","done","failed"},"status"}; status is
 * "salesforce_pending" while a deletion waits, "failed" when one is dead
 * (see /api/v1/admin/dead-letters), else "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "calls.h"
#include "ccache.h"
#include "errs.h"
#include "phone.h"
#include "route.h"
#include "subject.h"
#include "userauth.h"
#include "users.h"
#include "util.h"

struct erasure_args {
	const char	*email;
	const char	*phone;
	/* Filled by the check: the subject's kind and blind-index entry. */
	const char	*kind;
	char		 digest[DIGEST_TEXT];
	/* Under the previous blind index key while it is rotated, else "". */
	char		 digest_prev[DIGEST_TEXT];
	char		 e164[PHONE_E164_BUFSZ];
};

static int
check_email(const cJSON *v, const char **why)
{
	char	 norm[USERS_EMAIL_MAX + 1];
	int	 rc;

	rc = users_email_normalise(v->valuestring, norm, sizeof(norm));
	sodium_memzero(norm, sizeof(norm));
	if (rc != CB_OK) {
		*why = "must be an email address";
		return -1;
	}
	return 0;
}

static int
check_phone(const cJSON *v, const char **why)
{
	char	 e164[PHONE_E164_BUFSZ];
	int	 rc;

	rc = phone_e164(v->valuestring, NULL, e164);
	sodium_memzero(e164, sizeof(e164));
	if (rc != CB_OK) {
		*why = "must be an international phone number (\"+\" and the country code)";
		return -1;
	}
	return 0;
}

static const struct jv_field erasure_fields[] = {
	{ "email", JV_STRING, 0, 3, USERS_EMAIL_MAX, offsetof(struct erasure_args, email),
	  check_email },
	{ "phone", JV_STRING, 0, 1, PHONE_IN_MAX, offsetof(struct erasure_args, phone),
	  check_phone },
};

/* The subject's blind-index entry under one key. */
static int
erasure_digest(const struct erasure_args *a, const char *key, char out[DIGEST_TEXT])
{
	if (a->email != NULL)
		return subject_email(key, a->email, out);
	return subject_e164(key, a->e164, out);
}

/* Exactly one identifier; its blind-index entry (and under the previous key). */
static int
erasure_check(struct req *r, void *argp)
{
	struct erasure_args	*a = argp;
	const char		*key = r->app->settings.blind_index_key;
	const char		*prev = r->app->settings.blind_index_key_previous;
	int			 rc;

	r->route_data = a;	/* for the after hook: the number's cache entry */
	if ((a->email == NULL) == (a->phone == NULL))
		return route_fail(r, CB_ERR_UNPROCESSABLE,
		    "name exactly one of email and phone");
	if (a->phone != NULL && phone_e164(a->phone, NULL, a->e164) != CB_OK)
		return route_fail_field(r, CB_ERR_VALIDATION, "phone",
		    "must be an international phone number");
	a->kind = a->email != NULL ? "email" : "phone";
	rc = erasure_digest(a, key, a->digest);
	/* Rows indexed before a rotation of the key finish are found too. */
	if (rc == CB_OK && prev[0] != '\0')
		rc = erasure_digest(a, prev, a->digest_prev);
	return rc == CB_OK ? CB_OK : CB_ERR_CONFIG;
}

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * The erasure in one statement (in the request's transaction): the hits,
 * the Salesforce deletions, the deletes and the erasure row.  The records
 * to delete are those the rows' Salesforce outbox rows name, and those the
 * rows themselves name (a submission: its form's object and external-id
 * field, its id; a call event: lib/calls.h's, "<correlation id>:<type>"),
 * for a row whose upsert row retention already purged.
 *   $1 org  $2 digest  $3 erasure id  $4 user  $5 kind
 *   $6 how long a deletion waits when its record's upsert is being sent
 *      (ms): the upsert lands first, then the delete
 *   $7 the digest under the previous blind index key (NULL: none)
 */
static const char erase_sql[] =
    "WITH h AS (SELECT DISTINCT kind, ref_id FROM subject_index"
    "   WHERE org_id = $1::bigint AND (digest = $2::bytea OR digest = $7::bytea)),"
    " up AS (SELECT o.id, o.payload, o.state FROM outbox o"
    "   WHERE o.org_id = $1::bigint AND o.kind = 'salesforce.upsert'"
    "   AND o.ref_id IN (SELECT ref_id FROM h WHERE kind IN ('submission', 'call_event'))),"
    " rec AS (SELECT sobject, ext_field, ext_value, bool_or(busy) AS busy FROM ("
    "   SELECT payload->>'sobject' AS sobject, payload->>'ext_field' AS ext_field,"
    "     payload->>'ext_value' AS ext_value, state = 'running' AS busy FROM up"
    "   UNION ALL SELECT f.sf_object, f.sf_ext_field, s.id::text, false"
    "     FROM submissions s JOIN forms f ON f.id = s.form_id AND f.org_id = s.org_id"
    "     WHERE s.org_id = $1::bigint"
    "     AND s.id IN (SELECT ref_id FROM h WHERE kind = 'submission')"
    "   UNION ALL SELECT '" CALLS_SOBJECT "', '" CALLS_EXT_FIELD "',"
    "     e.correlation_id || ':' || e.event_type, false FROM call_events e"
    "     WHERE e.org_id = $1::bigint"
    "     AND e.id IN (SELECT ref_id FROM h WHERE kind = 'call_event')) x"
    "   WHERE sobject IS NOT NULL AND ext_field IS NOT NULL AND ext_value IS NOT NULL"
    "   GROUP BY 1, 2, 3),"
    " sfd AS (INSERT INTO outbox (org_id, kind, ref_id, payload, run_after)"
    "   SELECT $1::bigint, 'salesforce.delete', $3::uuid, jsonb_build_object('sobject', sobject,"
    "     'ext_field', ext_field, 'ext_value', ext_value),"
    "     now() + CASE WHEN busy THEN make_interval(secs => $6::float8 / 1000)"
    "       ELSE interval '0' END FROM rec RETURNING 1),"
    " du AS (DELETE FROM outbox WHERE id IN (SELECT id FROM up) RETURNING 1),"
    " ds AS (DELETE FROM submissions WHERE org_id = $1::bigint"
    "   AND id IN (SELECT ref_id FROM h WHERE kind = 'submission') RETURNING id),"
    " dd AS (DELETE FROM submission_digests WHERE org_id = $1::bigint"
    "   AND submission_id IN (SELECT id FROM ds) RETURNING 1),"
    " de AS (DELETE FROM call_events WHERE org_id = $1::bigint"
    "   AND id IN (SELECT ref_id FROM h WHERE kind = 'call_event') RETURNING id),"
    " dm AS (DELETE FROM commands WHERE org_id = $1::bigint"
    "   AND id IN (SELECT ref_id FROM h WHERE kind = 'command') RETURNING id)"
    " INSERT INTO erasures (id, org_id, requested_by, subject_kind, subject_digest,"
    "   submissions, call_events, commands, sf_deletions)"
    " SELECT $3::uuid, $1::bigint, $4::uuid, $5, $2::bytea, (SELECT count(*) FROM ds),"
    "   (SELECT count(*) FROM de), (SELECT count(*) FROM dm), (SELECT count(*) FROM sfd)"
    " RETURNING submissions, call_events, commands, sf_deletions,"
    "   (SELECT count(*) FROM du), (SELECT count(*) FROM dd)";

/* An erasure of the tenant and its Salesforce deletions' states. */
static const char erasure_get_sql[] =
    "SELECT e.id, e.subject_kind, " TS("e.created_at") ", e.submissions, e.call_events,"
    "  e.commands, e.sf_deletions,"
    "  (SELECT count(*) FROM outbox o WHERE o.org_id = e.org_id AND o.ref_id = e.id"
    "     AND o.kind = 'salesforce.delete' AND o.state IN ('pending', 'running')),"
    "  (SELECT count(*) FROM outbox o WHERE o.org_id = e.org_id AND o.ref_id = e.id"
    "     AND o.kind = 'salesforce.delete' AND o.state IN ('dead', 'discarded'))"
    " FROM erasures e WHERE e.org_id = $1::bigint AND e.id = $2::uuid";

static long long
num(const char *s)
{
	long long	 v = 0;

	(void)util_parse_ll(s, 0, 1LL << 40, &v);
	return v;
}

/* The answer of both routes from a row of erasure_get_sql. */
static cJSON *
erasure_json(struct db_res *res)
{
	cJSON		*o = cJSON_CreateObject(), *f, *sf;
	long long	 total = num(db_val(res, 0, 6)), pending = num(db_val(res, 0, 7));
	long long	 failed = num(db_val(res, 0, 8)), done = total - pending - failed;

	if (done < 0)
		done = 0;
	cJSON_AddStringToObject(o, "id", db_val(res, 0, 0));
	cJSON_AddStringToObject(o, "subject_kind", db_val(res, 0, 1));
	cJSON_AddStringToObject(o, "created_at", db_val(res, 0, 2));
	f = cJSON_AddObjectToObject(o, "found");
	cJSON_AddNumberToObject(f, "submissions", (double)num(db_val(res, 0, 3)));
	cJSON_AddNumberToObject(f, "call_events", (double)num(db_val(res, 0, 4)));
	cJSON_AddNumberToObject(f, "commands", (double)num(db_val(res, 0, 5)));
	cJSON_AddBoolToObject(o, "deleted", 1);
	sf = cJSON_AddObjectToObject(o, "salesforce");
	cJSON_AddNumberToObject(sf, "enqueued", (double)total);
	cJSON_AddNumberToObject(sf, "pending", (double)pending);
	cJSON_AddNumberToObject(sf, "done", (double)done);
	cJSON_AddNumberToObject(sf, "failed", (double)failed);
	cJSON_AddStringToObject(o, "status", pending > 0 ? "salesforce_pending" :
	    failed > 0 ? "failed" : "done");
	return o;
}

static int
erasure_answer(struct req *r, const char *id, int status)
{
	struct db_res	*res = NULL;
	cJSON		*o;
	int		 rc;

	rc = db_query(r->app->db, &res, erasure_get_sql, 2, (const char *[]){ r->org, id });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	o = erasure_json(res);
	resp_json_nostore(r, status, o);
	db_res_free(res);
	return CB_OK;
}

static int
erasure_post(struct req *r, const void *argp)
{
	const struct erasure_args	*a = argp;
	const struct user_auth		*u = r->auth;
	struct db_res			*res = NULL;
	char				 id[37], detail[512], wait[24];
	int				 rc;

	util_uuid_v4(id);
	snprintf(wait, sizeof(wait), "%lld", 2 * r->app->settings.sf_timeout_ms);
	rc = db_query(r->app->db, &res, erase_sql, 7,
	    (const char *[]){ u->org, a->digest, id, u->user_id, a->kind, wait,
	    a->digest_prev[0] != '\0' ? a->digest_prev : NULL });
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		rc = CB_ERR_INTERNAL;
		goto out;
	}
	/* Hashes and counts only: the digest is the blind index, never the identifier. */
	snprintf(detail, sizeof(detail), "{\"subject_kind\":\"%s\",\"subject_digest\":\"%s\","
	    "\"submissions\":%s,\"call_events\":%s,\"commands\":%s,\"sf_deletions\":%s}",
	    a->kind, a->digest + 2, db_val(res, 0, 0), db_val(res, 0, 1), db_val(res, 0, 2),
	    db_val(res, 0, 3));
	if ((rc = userauth_audit(r, "subject.erased", id, detail)) != CB_OK)
		goto out;
	rc = erasure_answer(r, id, 202);
out:
	db_res_free(res);
	return rc;
}

/*
 * After the commit: the contact cache's entry of the number, and the
 * outbox workers' wake-up for the deletions (both hints: the cache's
 * entry expires by itself, the workers sweep).
 */
static void
erasure_after(struct req *r)
{
	const struct erasure_args	*a = r->route_data;
	char				 key[CCACHE_KEY_MAX];

	if (r->status != 202)
		return;
	if (a != NULL && a->e164[0] != '\0' &&
	    ccache_key(key, r->app->settings.blind_index_key, r->org, a->e164) == CB_OK)
		(void)ccache_forget(r->app->kv, key);
	kv_publish(r->app->kv, "cb:outbox", "erasure");
}

static int
erasure_get(struct req *r, const void *argp)
{
	const char	*id = req_param(r, "id");

	(void)argp;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	return erasure_answer(r, id, 200);
}

#define ADMINS	.auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin")

static const struct route erasure_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/admin/erasures", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = erasure_fields, .nfields = 2,
	  .args_size = sizeof(struct erasure_args), ADMINS, .check = erasure_check,
	  .idem_scope = userauth_idem_scope, .act = erasure_post, .after = erasure_after },
	{ .method = "GET", .pattern = "/api/v1/admin/erasures/{id}", ADMINS,
	  .act = erasure_get },
};

ROUTE_MAIN("erasures", erasure_routes)
