/*
 * calls: see calls.h.  One fixed statement per operation; secrets are
 * sealed and opened here only and wiped as soon as they are used; phone
 * numbers live in the sealed field map only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alert.h"
#include "audit.h"
#include "buf.h"
#include "calls.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "reseal.h"
#include "seal.h"
#include "subject.h"
#include "util.h"
#include "whsecret.h"

#define CALLS_SEALED_MAX	1024u
/* The field map: eleven short members, two phones, a 512-byte reference. */
#define CALLS_FIELDS_SEALED_MAX	8192u

/* The table whose rows hold the sources' sealed secrets (the AAD's first part). */
#define CALLS_TABLE	"call_sources"

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- sealing ---------------------------------------------------------- */

/* ---- sources ---------------------------------------------------------- */

int
calls_cc_ok(const char *cc)
{
	size_t	 n;

	if (cc == NULL || (n = strlen(cc)) == 0 || n > 3 || cc[0] == '0')
		return 0;
	return strspn(cc, "0123456789") == n;
}

int
calls_source_create(struct db *db, const struct seal_keyring *kr, const char *org,
    const char *name, const char *cc, char id[37], char secret[STDWH_SECRET_BUFSZ])
{
	struct db_res	*res = NULL;
	struct buf	 sealed;
	size_t		 n;
	int		 rc;

	id[0] = '\0';
	secret[0] = '\0';
	if (cc != NULL && *cc == '\0')
		cc = NULL;
	if (name == NULL || (n = strlen(name)) == 0 || n > CALLS_NAME_MAX ||
	    !jv_utf8_ok(name, n) || (cc != NULL && !calls_cc_ok(cc)))
		return CB_ERR_VALIDATION;
	buf_init(&sealed, CALLS_SEALED_MAX);
	util_uuid_v4(id);
	stdwh_secret_new(secret);
	if ((rc = whsecret_seal(kr, CALLS_TABLE, id, "secret", secret, &sealed)) != CB_OK)
		goto out;
	rc = db_query(db, &res, "INSERT INTO call_sources (id, org_id, name, country_code,"
	    " secret_sealed) SELECT $1::uuid, o.id, $3, $4, $5 FROM orgs o"
	    " WHERE o.slug = $2 OR o.id::text = $2 RETURNING id", 5,
	    (const char *[]){ id, org, name, cc, buf_cstr(&sealed) });
	if (rc == CB_ERR_DB_CONFLICT)
		rc = CB_ERR_CONFLICT;
	else if (rc == CB_OK && db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
out:
	if (rc != CB_OK) {
		sodium_memzero(secret, STDWH_SECRET_BUFSZ);
		id[0] = '\0';
	}
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

int
calls_source_rotate(struct db *db, const struct seal_keyring *kr, const char *id,
    long long overlap_s, char secret[STDWH_SECRET_BUFSZ], char prev_until[32])
{
	struct db_res	*res = NULL;
	struct buf	 prev, sealed;
	char		 ov[24];
	int		 rc;

	secret[0] = '\0';
	prev_until[0] = '\0';
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	buf_init(&prev, CALLS_SEALED_MAX);
	buf_init(&sealed, CALLS_SEALED_MAX);
	if ((rc = db_begin(db)) != CB_OK)
		goto out;
	/* Locked: two rotations at once cannot both keep "the previous" secret. */
	rc = db_query_row(db, &res, "SELECT secret_sealed FROM call_sources WHERE id = $1::uuid"
	    " FOR UPDATE", 1, (const char *[]){ id });
	if (rc != CB_OK)
		goto out;
	if ((rc = whsecret_rotate(kr, CALLS_TABLE, id, db_val(res, 0, 0), overlap_s > 0, secret,
	    &sealed, &prev)) != CB_OK)
		goto out;
	db_res_free(res);
	res = NULL;
	snprintf(ov, sizeof(ov), "%lld", overlap_s > 0 ? overlap_s : 0);
	rc = db_query(db, &res, "UPDATE call_sources SET secret_sealed = $2,"
	    " secret_prev_sealed = $3, rotated_at = now(),"
	    " prev_until = CASE WHEN $3::text IS NULL THEN NULL"
	    "   ELSE now() + make_interval(secs => $4::int) END"
	    " WHERE id = $1::uuid RETURNING coalesce(" TS("prev_until") ", '')", 4,
	    (const char *[]){ id, buf_cstr(&sealed), overlap_s > 0 ? buf_cstr(&prev) : NULL, ov });
	if (rc == CB_OK && db_rows(res) == 1)
		util_strlcpy(prev_until, db_val(res, 0, 0), 32);
	if (rc == CB_OK)
		rc = db_commit(db);
out:
	if (rc != CB_OK) {
		if (db_in_tx(db))
			db_rollback(db);
		sodium_memzero(secret, STDWH_SECRET_BUFSZ);
		prev_until[0] = '\0';
	}
	buf_free(&prev);
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

static void
calls_add_str(cJSON *o, const char *k, const struct db_res *res, size_t i, int col)
{
	if ((db_isnull(res, i, col) ? cJSON_AddNullToObject(o, k) :
	    cJSON_AddStringToObject(o, k, db_val(res, i, col))) == NULL)
		util_oom();
}

int
calls_source_list(struct db *db, const char *org, cJSON **view)
{
	/* The view's names, in the order of the SELECT's columns. */
	static const char *const names[] = { "id", "name", "country_code", "created_at",
	    "rotated_at", "previous_secret_valid_until" };
	struct db_res	*res = NULL;
	cJSON		*arr, *o;
	size_t		 i;
	int		 c;
	int		 rc;

	*view = NULL;
	rc = db_query(db, &res, "SELECT s.id, s.name, s.country_code, " TS("s.created_at") ","
	    " " TS("s.rotated_at") ", CASE WHEN s.prev_until > now() THEN " TS("s.prev_until")
	    " END FROM call_sources s JOIN orgs o ON o.id = s.org_id"
	    " WHERE o.slug = $1 OR o.id::text = $1 ORDER BY s.created_at, s.id LIMIT 1000", 1,
	    (const char *[]){ org });
	if (rc != CB_OK)
		return rc;
	if ((*view = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(*view, "call_sources")) == NULL)
		util_oom();
	for (i = 0; i < db_rows(res); i++) {
		if ((o = cJSON_CreateObject()) == NULL)
			util_oom();
		for (c = 0; c < (int)(sizeof(names) / sizeof(names[0])); c++)
			calls_add_str(o, names[c], res, i, c);
		cJSON_AddItemToArray(arr, o);
	}
	db_res_free(res);
	return CB_OK;
}

void
calls_source_wipe(struct calls_source *s)
{
	sodium_memzero(s, sizeof(*s));
}

int
calls_source_load(struct db *db, const struct seal_keyring *kr, const char *id,
    struct calls_source *s)
{
	struct db_res	*res = NULL;
	int		 rc;

	memset(s, 0, sizeof(*s));
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	/* The previous secret only while its overlap lasts: after, never. */
	rc = db_query_row(db, &res, "SELECT s.id, s.org_id, o.slug, coalesce(s.country_code, ''),"
	    " s.secret_sealed, CASE WHEN s.prev_until > now() THEN s.secret_prev_sealed END"
	    " FROM call_sources s JOIN orgs o ON o.id = s.org_id WHERE s.id = $1::uuid", 1,
	    (const char *[]){ id });
	if (rc != CB_OK)
		goto out;
	util_strlcpy(s->id, db_val(res, 0, 0), sizeof(s->id));
	util_strlcpy(s->org, db_val(res, 0, 1), sizeof(s->org));
	util_strlcpy(s->org_slug, db_val(res, 0, 2), sizeof(s->org_slug));
	util_strlcpy(s->country_code, db_val(res, 0, 3), sizeof(s->country_code));
	rc = whsecret_load(kr, CALLS_TABLE, s->id, db_val(res, 0, 4), db_val(res, 0, 5), s->keys,
	    &s->nkeys);
out:
	if (rc != CB_OK)
		calls_source_wipe(s);
	db_res_free(res);
	return rc;
}

/* ---- the event's schema ----------------------------------------------- */

static int
calls_bad(const char **why, const char *reason)
{
	*why = reason;
	return 1;
}

static int
calls_check_corr(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring;
	size_t		 n = strlen(s);

	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return calls_bad(why, "letters, digits, '_', '.' and '-' only");
	return 0;
}

static const char *const calls_types[] = {
	"call_started", "call_ended", "transfer_initiated", "disposition_set", "timeout", NULL
};

static int
calls_check_type(const cJSON *v, const char **why)
{
	size_t	 i;

	for (i = 0; calls_types[i] != NULL; i++)
		if (strcmp(v->valuestring, calls_types[i]) == 0)
			return 0;
	return calls_bad(why, "one of call_started, call_ended, transfer_initiated, "
	    "disposition_set, timeout");
}

/* n digits at p, as a number within lo..hi. */
static int
calls_digits(const char *p, int n, int lo, int hi)
{
	int	 i, v = 0;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v >= lo && v <= hi;
}

/* RFC 3339 date-time: 2025-10-18T14:03:07(.123)?(Z|+02:00). */
static int
calls_check_time(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring, *p;

	if (strlen(s) < 20 || !calls_digits(s, 4, 1, 9999) || s[4] != '-' ||
	    !calls_digits(s + 5, 2, 1, 12) || s[7] != '-' || !calls_digits(s + 8, 2, 1, 31) ||
	    (s[10] != 'T' && s[10] != 't') || !calls_digits(s + 11, 2, 0, 23) || s[13] != ':' ||
	    !calls_digits(s + 14, 2, 0, 59) || s[16] != ':' || !calls_digits(s + 17, 2, 0, 60))
		return calls_bad(why, "an RFC 3339 date-time, e.g. 2025-10-18T14:03:07Z");
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return calls_bad(why, "an RFC 3339 date-time, e.g. 2025-10-18T14:03:07Z");
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
		return 0;
	if ((p[0] == '+' || p[0] == '-') && calls_digits(p + 1, 2, 0, 23) && p[3] == ':' &&
	    calls_digits(p + 4, 2, 0, 59) && p[6] == '\0')
		return 0;
	return calls_bad(why, "an RFC 3339 date-time, e.g. 2025-10-18T14:03:07Z");
}

#define F(m)	offsetof(struct calls_event, m)
const struct jv_field calls_event_fields[CALLS_EVENT_NFIELDS] = {
	{ "correlation_id", JV_STRING, JV_REQUIRED, 1, CALLS_CORR_MAX, F(correlation_id),
	  calls_check_corr },
	{ "event_type", JV_STRING, JV_REQUIRED, 1, 32, F(event_type), calls_check_type },
	{ "from", JV_STRING, JV_NULLABLE, 1, PHONE_IN_MAX, F(from), NULL },
	{ "to", JV_STRING, JV_NULLABLE, 1, PHONE_IN_MAX, F(to), NULL },
	{ "started_at", JV_STRING, JV_NULLABLE, 20, 40, F(started_at), calls_check_time },
	{ "ended_at", JV_STRING, JV_NULLABLE, 20, 40, F(ended_at), calls_check_time },
	{ "duration_s", JV_INT, JV_NULLABLE, 0, 86400, F(duration_s), NULL },
	{ "disposition", JV_STRING, JV_NULLABLE, 1, 64, F(disposition), NULL },
	{ "transcript_ref", JV_STRING, JV_NULLABLE, 1, 512, F(transcript_ref), NULL },
};
#undef F

int
calls_event_normalise(struct calls_event *e, const char *cc, const char **field,
    const char **why)
{
	const char	*use = cc != NULL && *cc != '\0' ? cc : NULL;

	*field = NULL;
	*why = NULL;
	if (e->from != NULL && phone_e164(e->from, use, e->from_e164) != CB_OK) {
		*field = "from";
		*why = use ? "a phone number (international, or national for this source's "
		    "country code)" : "an international phone number (+ and the country code: "
		    "this source has no default country code)";
		return CB_ERR_VALIDATION;
	}
	if (e->to != NULL && phone_e164(e->to, use, e->to_e164) != CB_OK) {
		*field = "to";
		*why = use ? "a phone number (international, or national for this source's "
		    "country code)" : "an international phone number (+ and the country code: "
		    "this source has no default country code)";
		return CB_ERR_VALIDATION;
	}
	return CB_OK;
}

static void
calls_put(cJSON *o, const char *k, const char *v)
{
	if (v != NULL && *v != '\0' && cJSON_AddStringToObject(o, k, v) == NULL)
		util_oom();
}

char *
calls_event_sf_fields(const struct calls_event *e, const char *sha_hex)
{
	cJSON	*o;
	char	 key[CALLS_CORR_MAX + 40];

	snprintf(key, sizeof(key), "%s:%s", e->correlation_id, e->event_type);
	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	calls_put(o, CALLS_EXT_FIELD, key);
	calls_put(o, "Correlation_Id__c", e->correlation_id);
	calls_put(o, "Event_Type__c", e->event_type);
	calls_put(o, "Payload_SHA256__c", sha_hex);
	calls_put(o, "Caller_Phone__c", e->from ? e->from_e164 : NULL);
	calls_put(o, "Called_Phone__c", e->to ? e->to_e164 : NULL);
	calls_put(o, "Started_At__c", e->started_at);
	calls_put(o, "Ended_At__c", e->ended_at);
	if (e->duration_s >= 0 &&
	    cJSON_AddNumberToObject(o, "Duration_S__c", (double)e->duration_s) == NULL)
		util_oom();
	calls_put(o, "Disposition__c", e->disposition);
	calls_put(o, "Transcript_Ref__c", e->transcript_ref);
	return jv_take_text(o);
}

void
calls_sha256_hex(const void *p, size_t n, char out[CALLS_SHA_HEX])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, p, n);
	util_hex(out, h, sizeof(h));
}

/* ---- ingest ----------------------------------------------------------- */

/*
 * The clear outbox payload: what the Salesforce sink needs to upsert the
 * activity by its composite external id and link its contact by the
 * caller's phone, which it reads from the sealed field map.
 */
static char *
calls_payload(const struct calls_event *e)
{
	cJSON	*o, *l;
	char	 key[CALLS_CORR_MAX + 40];

	snprintf(key, sizeof(key), "%s:%s", e->correlation_id, e->event_type);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "sobject", CALLS_SOBJECT) == NULL ||
	    cJSON_AddStringToObject(o, "ext_field", CALLS_EXT_FIELD) == NULL ||
	    cJSON_AddStringToObject(o, "ext_value", key) == NULL ||
	    (l = cJSON_AddObjectToObject(o, "lookup")) == NULL ||
	    cJSON_AddStringToObject(l, "object", "Contact") == NULL ||
	    cJSON_AddStringToObject(l, "by", "Phone") == NULL ||
	    cJSON_AddStringToObject(l, "from_field", "Caller_Phone__c") == NULL ||
	    cJSON_AddStringToObject(l, "set_field", "Contact__c") == NULL)
		util_oom();
	return jv_take_text(o);
}

/* The altered replay's record: an audit row and one alert, no body. */
static int
calls_altered(struct db *db, const struct calls_source *src, const struct calls_event *e,
    const char *stored, const char *got)
{
	cJSON	*d;
	char	*detail, text[600], dedupe[400], actor[64], subject[CALLS_CORR_MAX + 40];
	int	 rc;

	if ((d = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(d, "tenant", src->org_slug) == NULL ||
	    cJSON_AddStringToObject(d, "source_id", src->id) == NULL ||
	    cJSON_AddStringToObject(d, "correlation_id", e->correlation_id) == NULL ||
	    cJSON_AddStringToObject(d, "event_type", e->event_type) == NULL ||
	    cJSON_AddStringToObject(d, "stored_sha256", stored) == NULL ||
	    cJSON_AddStringToObject(d, "received_sha256", got) == NULL)
		util_oom();
	detail = jv_take_text(d);
	snprintf(actor, sizeof(actor), "call_source:%s", src->id);
	snprintf(subject, sizeof(subject), "%s:%s", e->correlation_id, e->event_type);
	rc = db_exec(db, AUDIT_INSERT("$1", "$2", "'call_event.altered_replay'", "$3", "$4"), 4,
	    (const char *[]){ src->org, actor, subject, detail });
	if (rc == CB_OK) {
		snprintf(text, sizeof(text), "Altered replay refused: tenant %s, correlation id %s,"
		    " event %s: stored body SHA-256 %s, received %s. The first event stands;"
		    " check the voice platform for a sender that changes sent events.",
		    src->org_slug, e->correlation_id, e->event_type, stored, got);
		/* One alert per altered body: a sender's retries of it add none. */
		snprintf(dedupe, sizeof(dedupe), "call_event.altered_replay:%s:%s:%s:%s",
		    src->org, e->correlation_id, e->event_type, got);
		rc = alert_raise(db, src->org, "call_event.altered_replay", dedupe, text, detail,
		    NULL);
	}
	free(detail);
	return rc;
}

/*
 * The common case in ONE statement, its own transaction: the webhook-id
 * (the replay cache), the event and its outbox row, all or nothing.  The
 * event is inserted only when the webhook-id is new, and not when the
 * (tenant, correlation id, event type) is known already.  The event's
 * place in its tenant's call feed (feed_seq) is given after the commit,
 * by the channel (worker/chan_feed.c): nothing here waits for another
 * event's commit.  Answers whether the webhook-id was new and the event's
 * id when it was written.
 *   $1 id  $2 org  $3 source  $4 corr  $5 type  $6 sha  $7 webhook id
 *   $8 payload  $9 sealed fields  $10 started_at  $11 ended_at
 *   $12 duration_s  $13 from, masked  $14 to, masked  $15 traceparent or NULL
 *   $16 the blind-index entries of its numbers (lib/subject.h) or NULL
 */
static const char calls_insert_sql[] =
    "WITH w AS (INSERT INTO call_webhook_ids (source_id, webhook_id, body_sha256)"
    "   VALUES ($3::uuid, $7, decode($6, 'hex'))"
    "   ON CONFLICT (source_id, webhook_id) DO NOTHING RETURNING 1),"
    " e AS (INSERT INTO call_events (id, org_id, source_id, correlation_id, event_type,"
    "   body_sha256, webhook_id, started_at, ended_at, duration_s, from_masked, to_masked)"
    "   SELECT $1::uuid, $2::bigint, $3::uuid, $4, $5, decode($6, 'hex'), $7,"
    "     $10::timestamptz, $11::timestamptz, $12::integer, $13, $14 FROM w"
    "   ON CONFLICT (org_id, correlation_id, event_type) DO NOTHING RETURNING id, org_id),"
    " o AS (INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed, trace)"
    "   SELECT e.org_id, 'salesforce.upsert', e.id, $8::jsonb, $9, $15::text FROM e"
    "   RETURNING ref_id),"
    " si AS (" SUBJECT_INSERT_FROM("e.org_id", "'call_event'", "e.id", "$16", "e, ") ")"
    " SELECT (SELECT count(*) FROM w), (SELECT ref_id::text FROM o)";

/*
 * Not written: the webhook-id came before (the same message again, or
 * another under its id), or the (tenant, correlation id, type) is known
 * (the same body again, or an altered one: its audit row and alert).
 */
static int
calls_known(struct db *db, const struct calls_source *src, const char *webhook_id,
    const struct calls_event *e, const char *sha, int id_new, struct calls_result *out)
{
	struct db_res	*res = NULL;
	int		 rc;

	if (!id_new) {
		/* A new statement sees the row the conflict waited for. */
		rc = db_query(db, &res, "SELECT body_sha256 = decode($3, 'hex') FROM call_webhook_ids"
		    " WHERE source_id = $1::uuid AND webhook_id = $2", 3,
		    (const char *[]){ src->id, webhook_id, sha });
		if (rc != CB_OK)
			return rc;
		if (db_rows(res) != 1 || strcmp(db_val(res, 0, 0), "t") != 0) {
			out->outcome = CALLS_ID_REUSED;
			db_res_free(res);
			return CB_OK;
		}
		db_res_free(res);
		res = NULL;
	}
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	rc = db_query(db, &res, "SELECT id::text, encode(body_sha256, 'hex') FROM call_events"
	    " WHERE org_id = $1::bigint AND correlation_id = $2 AND event_type = $3", 3,
	    (const char *[]){ src->org, e->correlation_id, e->event_type });
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		/*
		 * The same message again, but its event is gone: erased
		 * (cgi/erasures.c) or purged.  A retry, never a new event: the
		 * sender is told it arrived, and nothing is written again.
		 */
		if (!id_new) {
			out->outcome = CALLS_REPLAYED;
			rc = db_commit(db);
			goto out;
		}
		rc = CB_ERR_DB_CONFLICT;	/* it went between the two statements */
		goto out;
	}
	util_strlcpy(out->event_id, db_val(res, 0, 0), sizeof(out->event_id));
	util_strlcpy(out->stored_sha, db_val(res, 0, 1), sizeof(out->stored_sha));
	if (strcmp(out->stored_sha, sha) == 0) {
		out->outcome = CALLS_REPLAYED;
		rc = db_commit(db);
		goto out;
	}
	out->outcome = CALLS_ALTERED;
	if ((rc = calls_altered(db, src, e, out->stored_sha, sha)) == CB_OK)
		rc = db_commit(db);
	if (rc == CB_OK)
		log_kv(LOG_LVL_WARN, "call_event_altered_replay", "org", src->org, "source",
		    src->id, "stored_sha256", out->stored_sha, "received_sha256", sha, NULL);
out:
	if (rc != CB_OK && db_in_tx(db))
		db_rollback(db);
	db_res_free(res);
	return rc;
}

int
calls_ingest(struct db *db, const struct seal_keyring *kr, const struct calls_source *src,
    const char *webhook_id, const struct calls_event *e, const char *sha,
    const char *trace, const char *subjects, struct calls_result *out)
{
	struct db_res	*res = NULL;
	struct buf	 sealed;
	char		 id[37], *fields = NULL, *payload = NULL, dur[24];
	char		 from[PHONE_E164_BUFSZ], to[PHONE_E164_BUFSZ];
	int		 rc;

	memset(out, 0, sizeof(*out));
	buf_init(&sealed, CALLS_FIELDS_SEALED_MAX);
	util_uuid_v4(id);
	fields = calls_event_sf_fields(e, sha);
	payload = calls_payload(e);
	/* Bound to the event's id, as submit binds its map to the submission's. */
	if ((rc = reseal_seal_value(kr, "outbox", id, fields, strlen(fields), &sealed)) != CB_OK) {
		if (rc == CB_ERR_CONFIG)
			rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	phone_mask(e->from ? e->from_e164 : NULL, from);
	phone_mask(e->to ? e->to_e164 : NULL, to);
	snprintf(dur, sizeof(dur), "%lld", e->duration_s);
	rc = db_query(db, &res, calls_insert_sql, 16, (const char *[]){ id, src->org, src->id,
	    e->correlation_id, e->event_type, sha, webhook_id, payload, buf_cstr(&sealed),
	    e->started_at, e->ended_at, e->duration_s >= 0 ? dur : NULL, from[0] ? from : NULL,
	    to[0] ? to : NULL, trace, subjects });
	if (rc != CB_OK)
		goto out;
	if (!db_isnull(res, 0, 1)) {
		out->outcome = CALLS_CREATED;
		util_strlcpy(out->event_id, id, sizeof(out->event_id));
		goto out;
	}
	rc = calls_known(db, src, webhook_id, e, sha, strcmp(db_val(res, 0, 0), "1") == 0, out);
out:
	if (fields != NULL) {
		sodium_memzero(fields, strlen(fields));
		free(fields);
	}
	free(payload);
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

