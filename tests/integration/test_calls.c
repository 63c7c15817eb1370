/*
 * Inbound call events through the real stack (nginx, the calls responder,
 * Postgres, Redis), signed here with HMAC-SHA256 exactly as a voice
 * platform would (tests/support/fakehooks.c signs independently of
 * lib/stdwh): a valid event is 202 and leaves one event and one
 * salesforce.upsert outbox row of the agreed shape whose sealed field map
 * opens with the keyring and holds the phones in E.164; the signature
 * matrix (forged, stale, future, missing headers, another tenant's secret,
 * a reused webhook-id with another body, an unknown source); rotation
 * (old and new both verify during the overlap, the old one not after);
 * three-part idempotency (a replay is 200 with no new row, an altered
 * replay 422 with one audit row and one Slack alert naming both hashes, a
 * second event type of the call its own row); schema refusals, each a
 * problem naming the field; the tenant's plan limit (429 + Retry-After)
 * while another tenant is served; and cb-admin's call-source commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "fakehooks.h"
#include "http.h"
#include "keyring.h"
#include "reseal.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

struct src {
	char	 slug[48];
	char	 org_id[24];
	char	 id[40];
	char	 secret[128];
};

/* ---- helpers ---------------------------------------------------------- */

/* A new tenant (plan: free, or the one named) with one call source. */
static void
new_source(struct src *s, const char *plan, const char *cc)
{
	char		 args[512], out[2048];
	static int	 n;

	memset(s, 0, sizeof(*s));
	snprintf(s->slug, sizeof(s->slug), "calls%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Calls tenant'", s->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	testdb_val(s->org_id, sizeof(s->org_id), "SELECT id::text FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ s->slug });
	if (plan != NULL) {
		snprintf(args, sizeof(args), "org-plan %s %s", s->slug, plan);
		ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	}
	snprintf(args, sizeof(args), "call-source-add %s voice%s%s", s->slug,
	    cc ? " --country-code " : "", cc ? cc : "");
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "source_id", s->id, sizeof(s->id));
	seed_take(out, "secret", s->secret, sizeof(s->secret));
	ck_assert(strncmp(s->secret, "whsec_", 6) == 0);
	test_record_secret(s->secret);
}

static void
new_msg_id(char *out, size_t outsz)
{
	char	 t[24];

	util_random_token(t, sizeof(t), 12);
	snprintf(out, outsz, "msg_%s", t);
}

/*
 * POST a body to source `path_src` with the given headers' values (NULL:
 * header left out).  sig NULL: signed with secrets (one or two), at ts.
 */
static void
post_raw(const char *path_src, const char *ctype, const char *id, const char *ts,
    const char *sig, const char *body, size_t len, struct http_resp *r)
{
	char		 path[160], hid[320], hts[64], hsig[4200], hct[96];
	const char	*h[5];
	int		 n = 0;

	snprintf(path, sizeof(path), "/api/v1/webhooks/calls/%s", path_src);
	if (ctype) {
		snprintf(hct, sizeof(hct), "Content-Type: %s", ctype);
		h[n++] = hct;
	}
	if (id) {
		snprintf(hid, sizeof(hid), "webhook-id: %s", id);
		h[n++] = hid;
	}
	if (ts) {
		snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
		h[n++] = hts;
	}
	if (sig) {
		snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
		h[n++] = hsig;
	}
	h[n] = NULL;
	http_do("POST", path, h, body, len, r);
}

/* Signed with `secret` (and `secret2` too, when given) at now + skew. */
static void
post_signed(const char *path_src, const char *secret, const char *secret2, long skew,
    const char *id, const char *body, struct http_resp *r)
{
	char	 ts[32], s1[128], s2[128], sig[300];

	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL) + skew);
	fakehooks_sign(secret, id, ts, body, strlen(body), s1, sizeof(s1));
	if (secret2) {
		fakehooks_sign(secret2, id, ts, body, strlen(body), s2, sizeof(s2));
		snprintf(sig, sizeof(sig), "%s %s", s1, s2);
	} else
		snprintf(sig, sizeof(sig), "%s", s1);
	post_raw(path_src, "application/json", id, ts, sig, body, strlen(body), r);
}

/* A signed post with a fresh webhook-id. */
static void
post(const struct src *s, const char *body, struct http_resp *r)
{
	char	 id[64];

	new_msg_id(id, sizeof(id));
	post_signed(s->id, s->secret, NULL, 0, id, body, r);
}

static void
event_body(char *out, size_t outsz, const char *corr, const char *type, const char *extra)
{
	snprintf(out, outsz, "{\"correlation_id\":\"%s\",\"event_type\":\"%s\"%s%s}", corr, type,
	    extra && *extra ? "," : "", extra ? extra : "");
}

static void
new_corr(char *out, size_t outsz)
{
	char	 t[24];

	util_random_token(t, sizeof(t), 9);
	snprintf(out, outsz, "run-%s", t);
}

static long
events_of(const char *org, const char *corr)
{
	return testdb_long("SELECT count(*) FROM call_events WHERE org_id = $1::bigint"
	    " AND correlation_id = $2", 2, (const char *[]){ org, corr });
}

static long
outbox_of(const char *org, const char *corr)
{
	return testdb_long("SELECT count(*) FROM outbox o JOIN call_events e ON e.id = o.ref_id"
	    " WHERE e.org_id = $1::bigint AND e.correlation_id = $2"
	    " AND o.kind = 'salesforce.upsert'", 2, (const char *[]){ org, corr });
}

static void
expect_status(struct http_resp *r, long status)
{
	ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status,
	    r->body ? r->body : "");
}

/* ---- the sealed field map, opened as an operator tool would ----------- */



/* The event's field map, opened: the caller frees it. */
static cJSON *
open_fields(const char *event_id)
{
	return testdb_unseal_json("outbox", event_id, "SELECT payload_sealed FROM outbox"
	    " WHERE ref_id = $1::uuid AND kind = 'salesforce.upsert'");
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_event_accepted_and_sealed)
{
	struct src	 s;
	struct http_resp r;
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 corr[48], body[1024], ev[40], sha[65], v[2048], expect[600];
	cJSON		*f;

	new_source(&s, NULL, "1");
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_started", "\"from\":\"(415) 555-2671\","
	    "\"to\":\"+44 20 7946 0958\",\"started_at\":\"2025-10-18T14:03:07Z\","
	    "\"duration_s\":0,\"transcript_ref\":\"tr-77\"");
	post(&s, body, &r);
	expect_status(&r, 202);
	ck_assert_ptr_null(http_header(&r, "Idempotent-Replayed"));
	ck_assert_ptr_nonnull(http_json_str(&r, "event_id"));
	util_strlcpy(ev, http_json_str(&r, "event_id"), sizeof(ev));
	ck_assert(util_uuid_ok(ev));
	http_free(&r);
	ck_assert_int_eq(events_of(s.org_id, corr), 1);
	ck_assert_int_eq(outbox_of(s.org_id, corr), 1);

	/* The clear payload, exactly the agreed shape; no phone anywhere in the row. */
	snprintf(expect, sizeof(expect), "{\"sobject\":\"Call_Activity__c\",\"ext_field\":"
	    "\"Call_Event_Key__c\",\"ext_value\":\"%s:call_started\",\"lookup\":{\"object\":"
	    "\"Contact\",\"by\":\"Phone\",\"from_field\":\"Caller_Phone__c\",\"set_field\":"
	    "\"Contact__c\"}}", corr);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE ref_id = $1::uuid"
	    " AND org_id = $2::bigint AND payload = $3::jsonb AND state IN ('pending', 'running',"
	    " 'done', 'dead')", 3, (const char *[]){ ev, s.org_id, expect }), 1);
	testdb_val(v, sizeof(v), "SELECT row_to_json(o)::text FROM outbox o WHERE ref_id = $1::uuid",
	    1, (const char *[]){ ev });
	ck_assert_msg(strstr(v, "4155552671") == NULL && strstr(v, "2079460958") == NULL &&
	    strstr(v, "555-2671") == NULL, "a phone in clear: %s", v);
	/* The event row: the phones masked only (as the call feed shows them), the times. */
	testdb_val(v, sizeof(v), "SELECT row_to_json(e)::text FROM call_events e WHERE id = $1::uuid",
	    1, (const char *[]){ ev });
	ck_assert_msg(strstr(v, "4155552671") == NULL && strstr(v, "2079460958") == NULL &&
	    strstr(v, "555-2671") == NULL, "a phone in clear: %s", v);
	ck_assert_msg(strstr(v, "\"from_masked\":\"+*******2671\"") != NULL &&
	    strstr(v, "\"to_masked\":\"+********0958\"") != NULL &&
	    strstr(v, "\"duration_s\":0") != NULL && strstr(v, "\"ended_at\":null") != NULL &&
	    strstr(v, "\"started_at\":\"2025-10-18T14:03:07") != NULL, "%s", v);

	/* The sealed field map: phones in E.164, the raw body's SHA-256. */
	crypto_hash_sha256(h, (const unsigned char *)body, strlen(body));
	util_hex(sha, h, sizeof(h));
	f = open_fields(ev);
	snprintf(v, sizeof(v), "%s:call_started", corr);
	ck_assert_str_eq(jstr(f, "Call_Event_Key__c"), v);
	ck_assert_str_eq(jstr(f, "Correlation_Id__c"), corr);
	ck_assert_str_eq(jstr(f, "Event_Type__c"), "call_started");
	ck_assert_str_eq(jstr(f, "Payload_SHA256__c"), sha);
	ck_assert_str_eq(jstr(f, "Caller_Phone__c"), "+14155552671");
	ck_assert_str_eq(jstr(f, "Called_Phone__c"), "+442079460958");
	ck_assert_str_eq(jstr(f, "Started_At__c"), "2025-10-18T14:03:07Z");
	ck_assert_str_eq(jstr(f, "Transcript_Ref__c"), "tr-77");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(f, "Duration_S__c")));
	ck_assert_int_eq((long)cJSON_GetObjectItem(f, "Duration_S__c")->valuedouble, 0);
	/* Absent fields are left out, not sent empty. */
	ck_assert_ptr_null(cJSON_GetObjectItem(f, "Ended_At__c"));
	ck_assert_ptr_null(cJSON_GetObjectItem(f, "Disposition__c"));
	cJSON_Delete(f);
}
END_TEST

START_TEST(test_signature_matrix)
{
	struct src	 a, b;
	struct http_resp r;
	char		 corr[48], body[512], body2[512], id[64], other[128], ts[32], sig[128];
	char		 path[48];

	new_source(&a, NULL, NULL);
	new_source(&b, NULL, NULL);
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_started", "\"from\":\"+14155552671\"");

	/* Forged: a secret that is nobody's. */
	fakehooks_new_secret(other, sizeof(other));
	new_msg_id(id, sizeof(id));
	post_signed(a.id, other, NULL, 0, id, body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "no_matching_signature"));
	http_free(&r);
	/* The other tenant's secret on this tenant's source. */
	new_msg_id(id, sizeof(id));
	post_signed(a.id, b.secret, NULL, 0, id, body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	/* Stale and future timestamps, even correctly signed. */
	new_msg_id(id, sizeof(id));
	post_signed(a.id, a.secret, NULL, -400, id, body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "timestamp_too_old"));
	http_free(&r);
	new_msg_id(id, sizeof(id));
	post_signed(a.id, a.secret, NULL, 400, id, body, &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "timestamp_too_new"));
	http_free(&r);
	/* Headers missing: each one in turn. */
	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
	new_msg_id(id, sizeof(id));
	fakehooks_sign(a.secret, id, ts, body, strlen(body), sig, sizeof(sig));
	post_raw(a.id, "application/json", NULL, ts, sig, body, strlen(body), &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	post_raw(a.id, "application/json", id, NULL, sig, body, strlen(body), &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	post_raw(a.id, "application/json", id, ts, NULL, body, strlen(body), &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	/* Nothing of the refused attempts was recorded. */
	ck_assert_int_eq(events_of(a.org_id, corr), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_webhook_ids WHERE source_id ="
	    " $1::uuid", 1, (const char *[]){ a.id }), 0);

	/* Valid; then its webhook-id again with another body is refused. */
	post_raw(a.id, "application/json", id, ts, sig, body, strlen(body), &r);
	expect_status(&r, 202);
	http_free(&r);
	event_body(body2, sizeof(body2), corr, "call_ended", "\"duration_s\":42");
	post_signed(a.id, a.secret, NULL, 0, id, body2, &r);
	http_expect_problem(&r, 409, "/problems/webhook-id-reused");
	http_free(&r);
	ck_assert_int_eq(events_of(a.org_id, corr), 1);
	/* The same message again (a sender's retry): the stored answer, no effect. */
	post_raw(a.id, "application/json", id, ts, sig, body, strlen(body), &r);
	expect_status(&r, 200);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	http_free(&r);
	ck_assert_int_eq(events_of(a.org_id, corr), 1);
	ck_assert_int_eq(outbox_of(a.org_id, corr), 1);
	/* The same webhook-id is another source's own business. */
	post_signed(b.id, b.secret, NULL, 0, id, body2, &r);
	expect_status(&r, 202);
	http_free(&r);

	/* A source that does not exist, and a malformed one. */
	post_signed("0b7c6c4e-2f1c-4d1e-9a43-7f0e5f1d2c3b", a.secret, NULL, 0, "msg_x", body, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	snprintf(path, sizeof(path), "%s", "not-a-uuid");
	post_signed(path, a.secret, NULL, 0, "msg_y", body, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
}
END_TEST

START_TEST(test_rotation_overlap)
{
	struct src	 s;
	struct http_resp r;
	char		 args[128], out[1024], fresh[128], until[64], corr[48], body[512];
	int		 i;

	new_source(&s, NULL, NULL);
	snprintf(args, sizeof(args), "call-source-rotate %s", s.id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "secret", fresh, sizeof(fresh));
	seed_take(out, "previous_secret_valid_until", until, sizeof(until));
	test_record_secret(fresh);
	ck_assert_str_ne(fresh, s.secret);
	/* The overlap is CB_CALL_SECRET_OVERLAP_S (scripts/test.sh: 7200 s, not the day's default). */
	ck_assert_int_eq(testdb_long("SELECT (abs(extract(epoch FROM prev_until - now()) - 7200)"
	    " < 60)::int FROM call_sources WHERE id = $1::uuid", 1, (const char *[]){ s.id }), 1);
	/* During the overlap: the old, the new, and both at once. */
	for (i = 0; i < 3; i++) {
		char id[64];

		new_corr(corr, sizeof(corr));
		event_body(body, sizeof(body), corr, "call_started", NULL);
		new_msg_id(id, sizeof(id));
		post_signed(s.id, i == 1 ? fresh : s.secret, i == 2 ? fresh : NULL, 0, id, body, &r);
		expect_status(&r, 202);
		http_free(&r);
	}
	/* The overlap ends (moved into the past): only the new secret. */
	testdb_exec("UPDATE call_sources SET prev_until = now() - interval '1 second'"
	    " WHERE id = $1::uuid", 1, (const char *[]){ s.id });
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_started", NULL);
	{
		char id[64];

		new_msg_id(id, sizeof(id));
		post_signed(s.id, s.secret, NULL, 0, id, body, &r);
		http_expect_problem(&r, 401, "/problems/unauthenticated");
		http_free(&r);
		new_msg_id(id, sizeof(id));
		post_signed(s.id, fresh, NULL, 0, id, body, &r);
		expect_status(&r, 202);
		http_free(&r);
	}
	/* The list shows the source, never a secret. */
	snprintf(args, sizeof(args), "call-source-list %s", s.slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, s.id));
	ck_assert_ptr_null(strstr(out, "whsec_"));
	ck_assert_ptr_null(strstr(out, "\"secret\""));
	/* A rotation of nothing fails. */
	ck_assert_int_ne(seed_admin("call-source-rotate 0b7c6c4e-2f1c-4d1e-9a43-7f0e5f1d2c3b",
	    out, sizeof(out)), 0);
	ck_assert_int_ne(seed_admin("call-source-add no-such-org-calls x", out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_idempotency_three_part)
{
	struct src	 s;
	struct http_resp r;
	char		 corr[48], body[512], altered[512], ev[40], v[4096];
	char		 sha1[65], sha2[65];
	unsigned char	 h[crypto_hash_sha256_BYTES];
	long		 alerts0;

	new_source(&s, NULL, "44");
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_ended", "\"from\":\"020 7946 0958\","
	    "\"disposition\":\"resolved\",\"duration_s\":61");
	post(&s, body, &r);
	expect_status(&r, 202);
	util_strlcpy(ev, http_json_str(&r, "event_id"), sizeof(ev));
	http_free(&r);

	/* The same triple under a new webhook-id: 200, the stored answer, nothing new. */
	post(&s, body, &r);
	expect_status(&r, 200);
	ck_assert_str_eq(http_header(&r, "Idempotent-Replayed"), "true");
	ck_assert_str_eq(http_json_str(&r, "event_id"), ev);
	http_free(&r);
	ck_assert_int_eq(events_of(s.org_id, corr), 1);
	ck_assert_int_eq(outbox_of(s.org_id, corr), 1);

	/* Altered: same correlation id and type, another body. */
	alerts0 = testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.alert'"
	    " AND org_id = $1::bigint", 1, (const char *[]){ s.org_id });
	ck_assert_int_eq(alerts0, 0);
	event_body(altered, sizeof(altered), corr, "call_ended", "\"from\":\"020 7946 0958\","
	    "\"disposition\":\"escalated\",\"duration_s\":61");
	post(&s, altered, &r);
	http_expect_problem(&r, 422, "/problems/altered-replay");
	crypto_hash_sha256(h, (const unsigned char *)body, strlen(body));
	util_hex(sha1, h, sizeof(h));
	crypto_hash_sha256(h, (const unsigned char *)altered, strlen(altered));
	util_hex(sha2, h, sizeof(h));
	ck_assert_str_eq(http_json_str(&r, "stored_sha256"), sha1);
	ck_assert_str_eq(http_json_str(&r, "received_sha256"), sha2);
	http_free(&r);
	ck_assert_int_eq(events_of(s.org_id, corr), 1);
	ck_assert_int_eq(outbox_of(s.org_id, corr), 1);
	/* One audit row with both hashes, never the body. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'call_event.altered_replay'", 1, (const char *[]){ s.org_id }), 1);
	testdb_val(v, sizeof(v), "SELECT detail::text FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'call_event.altered_replay'", 1, (const char *[]){ s.org_id });
	ck_assert_ptr_nonnull(strstr(v, sha1));
	ck_assert_ptr_nonnull(strstr(v, sha2));
	ck_assert_ptr_nonnull(strstr(v, corr));
	ck_assert_ptr_nonnull(strstr(v, s.slug));
	ck_assert(strstr(v, "escalated") == NULL && strstr(v, "7946") == NULL);
	/* One Slack alert naming the tenant, the correlation id and both hashes. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.alert'"
	    " AND org_id = $1::bigint", 1, (const char *[]){ s.org_id }), 1);
	testdb_val(v, sizeof(v), "SELECT payload->>'text' FROM outbox WHERE kind = 'slack.alert'"
	    " AND org_id = $1::bigint", 1, (const char *[]){ s.org_id });
	ck_assert_ptr_nonnull(strstr(v, s.slug));
	ck_assert_ptr_nonnull(strstr(v, corr));
	ck_assert_ptr_nonnull(strstr(v, sha1));
	ck_assert_ptr_nonnull(strstr(v, sha2));
	ck_assert(strstr(v, "7946") == NULL);
	/* The sender retrying the altered body: refused again, no second alert. */
	post(&s, altered, &r);
	http_expect_problem(&r, 422, "/problems/altered-replay");
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.alert'"
	    " AND org_id = $1::bigint", 1, (const char *[]){ s.org_id }), 1);

	/* Another event type of the same call: its own record, its own key. */
	event_body(body, sizeof(body), corr, "call_started", "\"from\":\"020 7946 0958\"");
	post(&s, body, &r);
	expect_status(&r, 202);
	http_free(&r);
	ck_assert_int_eq(events_of(s.org_id, corr), 2);
	ck_assert_int_eq(outbox_of(s.org_id, corr), 2);
	ck_assert_int_eq(testdb_long("SELECT count(DISTINCT o.payload->>'ext_value') FROM outbox o"
	    " JOIN call_events e ON e.id = o.ref_id WHERE e.org_id = $1::bigint"
	    " AND e.correlation_id = $2", 2, (const char *[]){ s.org_id, corr }), 2);
	/* The same correlation id in another tenant is that tenant's own event. */
	{
		struct src t;

		new_source(&t, NULL, "44");
		post(&t, altered, &r);
		expect_status(&r, 202);
		http_free(&r);
		ck_assert_int_eq(events_of(t.org_id, corr), 1);
	}
}
END_TEST

static const struct {
	const char	*body;
	long		 status;
	const char	*type;
	const char	*field;
} schema_bad[] = {
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"caller\":\"x\"}", 400,
	  "/problems/validation", "caller" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"duration_s\":\"10\"}", 400,
	  "/problems/validation", "duration_s" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"duration_s\":1.5}", 400,
	  "/problems/validation", "duration_s" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"duration_s\":-1}", 400,
	  "/problems/validation", "duration_s" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_analyzed\"}", 400,
	  "/problems/validation", "event_type" },
	{ "{\"event_type\":\"call_started\"}", 400, "/problems/validation", "correlation_id" },
	{ "{\"correlation_id\":\"c 1\",\"event_type\":\"call_started\"}", 400,
	  "/problems/validation", "correlation_id" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"started_at\":"
	  "\"2025-10-18 14:03\"}", 400, "/problems/validation", "started_at" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"ended_at\":"
	  "\"2025-13-18T14:03:07Z\"}", 400, "/problems/validation", "ended_at" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"from\":\"1-800-FLOWERS\"}",
	  400, "/problems/validation", "from" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"to\":\"(415) 555-2671\"}",
	  400, "/problems/validation", "to" },	/* national, and this source has no country code */
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\",\"from\":15}", 400,
	  "/problems/validation", "from" },
	{ "{\"correlation_id\":\"c1\",\"event_type\":\"call_started\"", 400,
	  "/problems/malformed-json", NULL },
	{ "[]", 400, NULL, NULL },
};

START_TEST(test_schema_refusals)
{
	struct src		 s;
	struct http_resp	 r;
	const char		*f;

	new_source(&s, NULL, NULL);
	post(&s, schema_bad[_i].body, &r);
	http_expect_problem(&r, schema_bad[_i].status, schema_bad[_i].type);
	if (schema_bad[_i].field) {
		f = http_json_str(&r, "field");
		ck_assert_msg(f != NULL && strcmp(f, schema_bad[_i].field) == 0,
		    "case %d: field %s, expected %s: %s", _i, f ? f : "(none)",
		    schema_bad[_i].field, r.body);
	}
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_events WHERE org_id = $1::bigint",
	    1, (const char *[]){ s.org_id }), 0);
}
END_TEST

START_TEST(test_body_cap_and_type)
{
	struct src	 s;
	struct http_resp r;
	char		 id[64], ts[32], sig[128], body[256], *big;
	size_t		 n = 20000;

	new_source(&s, NULL, NULL);
	event_body(body, sizeof(body), "c2", "timeout", NULL);
	snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
	new_msg_id(id, sizeof(id));
	fakehooks_sign(s.secret, id, ts, body, strlen(body), sig, sizeof(sig));
	post_raw(s.id, "text/plain", id, ts, sig, body, strlen(body), &r);
	http_expect_problem(&r, 415, "/problems/unsupported-media-type");
	http_free(&r);
	big = util_malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, body, strlen(body));
	big[n] = '\0';
	fakehooks_sign(s.secret, id, ts, big, n, sig, sizeof(sig));
	post_raw(s.id, "application/json", id, ts, sig, big, n, &r);
	http_expect_problem(&r, 413, NULL);
	http_free(&r);
	free(big);
	/* Unsigned, within the cap: refused; signed: accepted. */
	post_raw(s.id, "application/json", id, ts, NULL, body, strlen(body), &r);
	http_expect_problem(&r, 401, "/problems/unauthenticated");
	http_free(&r);
	post(&s, body, &r);
	expect_status(&r, 202);
	http_free(&r);
}
END_TEST

START_TEST(test_volume_limit_per_tenant)
{
	struct src	 a, b;
	struct http_resp r;
	const char	*lim = getenv("CB_QUOTA_TEAM_CALL_EVENTS_PER_MIN");
	long long	 n = 0, ra;
	char		 corr[48], body[256];
	int		 i;

	ck_assert_ptr_nonnull(lim);
	ck_assert_int_eq(util_parse_ll(lim, 1, 50, &n), 0);
	new_source(&a, "team", NULL);
	new_source(&b, NULL, NULL);
	for (i = 0; i < n; i++) {
		new_corr(corr, sizeof(corr));
		event_body(body, sizeof(body), corr, "call_started", NULL);
		post(&a, body, &r);
		expect_status(&r, 202);
		http_free(&r);
	}
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_started", NULL);
	post(&a, body, &r);
	http_expect_problem(&r, 429, "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	ck_assert_int_eq(util_parse_ll(http_header(&r, "Retry-After"), 1, 60, &ra), 0);
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "call events"));
	http_free(&r);
	ck_assert_int_eq(events_of(a.org_id, corr), 0);
	/* Another tenant is unaffected. */
	for (i = 0; i < n + 2; i++) {
		new_corr(corr, sizeof(corr));
		event_body(body, sizeof(body), corr, "call_started", NULL);
		post(&b, body, &r);
		expect_status(&r, 202);
		http_free(&r);
	}
	/* And the first stays refused. */
	post(&a, body, &r);
	http_expect_problem(&r, 429, "/problems/rate-limited");
	http_free(&r);
}
END_TEST

/* The worker's retention duty drops webhook-ids a day old, and only those. */
START_TEST(test_replay_cache_retention)
{
	struct src	 s;
	const char	*p[1];
	int		 i;

	new_source(&s, NULL, NULL);
	p[0] = s.id;
	testdb_exec("INSERT INTO call_webhook_ids (source_id, webhook_id, body_sha256, seen_at)"
	    " VALUES ($1::uuid, 'msg_old', sha256('a'), now() - interval '25 hours'),"
	    " ($1::uuid, 'msg_recent', sha256('b'), now() - interval '23 hours')", 1, p);
	for (i = 0; i < 100 && testdb_long("SELECT count(*) FROM call_webhook_ids"
	    " WHERE source_id = $1::uuid AND webhook_id = 'msg_old'", 1, p) > 0; i++)
		test_sleep_ms(100);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_webhook_ids WHERE source_id ="
	    " $1::uuid AND webhook_id = 'msg_old'", 1, p), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM call_webhook_ids WHERE source_id ="
	    " $1::uuid AND webhook_id = 'msg_recent'", 1, p), 1);
}
END_TEST

/* The sample sender of the README (make run prints it): openssl and curl. */
START_TEST(test_sample_script)
{
	struct src	 s;
	char		 cmd[1200], out[2048], corr[48];

	new_source(&s, NULL, "1");
	new_corr(corr, sizeof(corr));
	snprintf(cmd, sizeof(cmd), "CALL_CORR=%s CALL_FROM='(415) 555-2671' sh %s/scripts/"
	    "call-event.sh %s %s %s 2>&1", corr, test_env("CB_REPO"), s.id, s.secret, http_base());
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "call-event.sh: %s", out);
	ck_assert_msg(strstr(out, "\n202") != NULL && strstr(out, "event_id") != NULL,
	    "call-event.sh: %s", out);
	ck_assert_int_eq(events_of(s.org_id, corr), 1);
	/* Misused: a usage line, a non-zero status. */
	snprintf(cmd, sizeof(cmd), "sh %s/scripts/call-event.sh %s 2>&1", test_env("CB_REPO"), s.id);
	ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage"));
}
END_TEST

/*
 * The same event from several senders at once (a platform's retries racing):
 * exactly one 202, the others 200 with the same id, one event, one row.
 */
START_TEST(test_concurrent_same_event)
{
	struct src	 s;
	char		 corr[48], body[256];
	int		 i, st, created = 0, replayed = 0, n = 8;
	pid_t		 kids[8];

	new_source(&s, NULL, NULL);
	new_corr(corr, sizeof(corr));
	event_body(body, sizeof(body), corr, "call_ended", "\"duration_s\":12");
	for (i = 0; i < n; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct http_resp r;

			post(&s, body, &r);
			_exit(r.status == 202 ? 0 : r.status == 200 ? 1 : 2);
		}
	}
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert(WIFEXITED(st));
		created += WEXITSTATUS(st) == 0;
		replayed += WEXITSTATUS(st) == 1;
	}
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(replayed, n - 1);
	ck_assert_int_eq(events_of(s.org_id, corr), 1);
	ck_assert_int_eq(outbox_of(s.org_id, corr), 1);
}
END_TEST

static Suite *
calls_suite(void)
{
	Suite	*s = suite_create("calls");
	TCase	*tc = tcase_create("inbound");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_event_accepted_and_sealed);
	tcase_add_test(tc, test_signature_matrix);
	tcase_add_test(tc, test_rotation_overlap);
	tcase_add_test(tc, test_idempotency_three_part);
	tcase_add_loop_test(tc, test_schema_refusals, 0, (int)CU_NELEM(schema_bad));
	tcase_add_test(tc, test_body_cap_and_type);
	tcase_add_test(tc, test_volume_limit_per_tenant);
	tcase_add_test(tc, test_replay_cache_retention);
	tcase_add_test(tc, test_sample_script);
	tcase_add_test(tc, test_concurrent_same_event);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	return cu_run(calls_suite());
}
