/*
 * The contact lookup of call activities, through the real worker, Redis and
 * the fake Salesforce.  Outbox rows are written as the inbound call route
 * writes them: kind salesforce.upsert, a clear payload {sobject
 * Call_Activity__c, ext_field Call_Event_Key__c, ext_value
 * "<correlation>:<event>", lookup {Contact, Phone, Caller_Phone__c ->
 * Contact__c}} and the field map sealed to "outbox:<ref_id>:fields" with
 * this process's own keyring (the stack's root key, as test_sealing does).
 *
 * Proven: a seeded contact is linked (Contact__c is its Id); no match
 * leaves the activity unlinked; a phone holding SOQL syntax is never
 * queried through the worker, and through lib/sf_query the fake receives
 * exactly the escaped literal and finds nothing, while a contact whose
 * Phone is that very text is found (the literal round-trips); the fake
 * answers its real errors for what is outside its subset; the cache: a
 * second event within the TTL makes no second query, cb-admin
 * sf-contact-forget (a contact event) makes the next one query again, and
 * the Redis entry lives no longer than CB_SF_CONTACT_TTL_S (a match) or
 * CB_SF_CONTACT_MISS_TTL_S (a miss) and never names the number;
 * call_started and call_ended of one call are two records, and in one
 * batch they share one query; a query answered 401 is minted again once
 * and resent within the same attempt; a query that fails transiently
 * retries the row, which is then linked.  And the demo's whole path: the
 * signed event scripts/demo.sh prints a command for reaches the route,
 * the worker's lookup and the fake, linked to the contact demo.sh seeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "ccache.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "fakectl.h"
#include "fakesf.h"
#include "http.h"
#include "keyring.h"
#include "kv.h"
#include "outbox.h"
#include "reseal.h"
#include "seal.h"
#include "seed.h"
#include "sf.h"
#include "sf_query.h"
#include "stacklog.h"
#include "testdb.h"
#include "util.h"

#define LOOKUP	"{\"object\":\"Contact\",\"by\":\"Phone\",\"from_field\":\"Caller_Phone__c\"," \
		"\"set_field\":\"Contact__c\"}"

static char	 slug[48], org[24];

/* ---- helpers -------------------------------------------------------- */


/* A fresh tenant per test, and an empty fake org. */
static void
setup(void)
{
	char	 args[256], out[1024];
	static int n;

	fakesf_clear();
	fakectl_post("CB_FAKESF_URL", "/__fake/reset", "{}");
	snprintf(slug, sizeof(slug), "sfq%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Call tenant'", slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	testdb_val(org, sizeof(org), "SELECT id::text FROM orgs WHERE slug = $1", 1,
	    (const char *[]){ slug });
}

/* A phone number no other test uses: +1 415 55x xxxx. */
static void
fresh_phone(char out[16])
{
	unsigned	 r = randombytes_uniform(1000000u);

	snprintf(out, 16, "+1415%07u", 5000000u + r);
}

/* Seed a contact in the fake org; its Id into id. */
static void
seed_contact(const char *phone, const char *name, char id[19])
{
	struct http_resp r;
	cJSON		*body = cJSON_CreateObject();
	char		*text;
	const char	*v;

	cJSON_AddStringToObject(body, "Phone", phone);
	cJSON_AddStringToObject(body, "Name", name);
	text = cJSON_PrintUnformatted(body);
	fakesf_call("POST", "/__fake/contacts", text, &r);
	ck_assert_int_eq(r.status, 201);
	v = http_json_str(&r, "id");
	ck_assert_ptr_nonnull(v);
	util_strlcpy(id, v, 19);
	http_free(&r);
	free(text);
	cJSON_Delete(body);
}

/*
 * One call event's outbox row, as the call route writes it.  The ref id
 * into ref (for outbox_wait); the external id is "<corr>:<event>".
 */
static void
event_row(const char *corr, const char *event, const char *phone, const char *lookup,
    char ref[40])
{
	struct db		*db = testdb_open();
	struct keyring		 k;
	struct buf		 sealed;
	cJSON			*fields = cJSON_CreateObject(), *payload = cJSON_CreateObject();
	char			*ftext, *ptext, ext[128];
	unsigned char		 h[32];
	char			 hex[65];

	testdb_one(db, ref, 40, "SELECT gen_random_uuid()::text", 0, NULL);
	snprintf(ext, sizeof(ext), "%s:%s", corr, event);
	crypto_hash_sha256(h, (const unsigned char *)ext, strlen(ext));
	util_hex(hex, h, sizeof(h));
	cJSON_AddStringToObject(fields, "Caller_Phone__c", phone);
	cJSON_AddStringToObject(fields, "Call_Event_Key__c", ext);
	cJSON_AddStringToObject(fields, "Correlation_Id__c", corr);
	cJSON_AddStringToObject(fields, "Event_Type__c", event);
	cJSON_AddStringToObject(fields, "Payload_SHA256__c", hex);
	ftext = cJSON_PrintUnformatted(fields);
	cJSON_AddStringToObject(payload, "sobject", "Call_Activity__c");
	cJSON_AddStringToObject(payload, "ext_field", "Call_Event_Key__c");
	cJSON_AddStringToObject(payload, "ext_value", ext);
	cJSON_AddRawToObject(payload, "lookup", lookup ? lookup : LOOKUP);
	ptext = cJSON_PrintUnformatted(payload);
	testdb_keys_open(&k, db);
	buf_init(&sealed, 1 << 20);
	ck_assert_int_eq(reseal_seal_value(keyring_get(&k, db), "outbox", ref, ftext,
	    strlen(ftext), &sealed), CB_OK);
	ck_assert_int_eq(db_exec(db, "INSERT INTO outbox (org_id, kind, ref_id, payload,"
	    " payload_sealed) VALUES ($1::bigint, 'salesforce.upsert', $2::uuid, $3::jsonb, $4)", 4,
	    (const char *[]){ org, ref, ptext, buf_cstr(&sealed) }), CB_OK);
	buf_free(&sealed);
	testdb_keys_close(&k);
	free(ftext);
	free(ptext);
	cJSON_Delete(fields);
	cJSON_Delete(payload);
	db_close(db);
}

/* The record of corr:event in the fake org: its fields as JSON (asserts exactly one). */
static cJSON *
record_of(const char *corr, const char *event)
{
	char	 ext[128], fields[8192];
	cJSON	*doc;

	snprintf(ext, sizeof(ext), "%s:%s", corr, event);
	ck_assert_int_eq(fakesf_record_fields(ext, fields, sizeof(fields)), 1);
	doc = cJSON_Parse(fields);
	ck_assert_ptr_nonnull(doc);
	return doc;
}

static void
delivered(const char *ref)
{
	char	 err[512] = "";

	ck_assert_msg(outbox_wait(ref, "done", 15000, NULL, err, sizeof(err)),
	    "not delivered: %s", err);
}

static const char *
str_of(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}


/* The remaining lifetime of the cache entry of (org, phone), in ms; -2: none. */
static long long
cache_pttl(const char *phone, char *key, size_t keysz)
{
	return testdb_ccache_pttl(org, phone, key, keysz);
}

static long long
setting(const char *name)
{
	return strtoll(test_env(name), NULL, 10);
}

/* ---- through the worker ----------------------------------------------- */

START_TEST(seeded_contact_is_linked)
{
	char	 phone[16], id[19], ref[40], corr[64], key[CCACHE_KEY_MAX];
	long	 q0 = fakesf_stat("queries");
	long long ttl;
	cJSON	*rec;

	fresh_phone(phone);
	seed_contact(phone, "Ada Caller", id);
	snprintf(corr, sizeof(corr), "run-%s-1", slug);
	event_row(corr, "call_started", phone, NULL, ref);
	delivered(ref);
	rec = record_of(corr, "call_started");
	ck_assert_str_eq(str_of(rec, "Contact__c"), id);
	ck_assert_str_eq(str_of(rec, "Caller_Phone__c"), phone);
	ck_assert_ptr_nonnull(str_of(rec, "Payload_SHA256__c"));
	cJSON_Delete(rec);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 1);
	/* Cached as a match: no longer than CB_SF_CONTACT_TTL_S, longer than a miss. */
	ttl = cache_pttl(phone, key, sizeof(key));
	ck_assert_msg(ttl > setting("CB_SF_CONTACT_MISS_TTL_S") * 1000 &&
	    ttl <= setting("CB_SF_CONTACT_TTL_S") * 1000, "pttl %lld", ttl);
	ck_assert_ptr_null(strstr(key, phone + 1));
	ck_assert_ptr_null(strstr(key, phone + 5));
}
END_TEST

START_TEST(no_match_leaves_unlinked)
{
	char	 phone[16], other[16], id[19], ref[40], corr[64];
	long long ttl;
	cJSON	*rec;

	fresh_phone(phone);
	do
		fresh_phone(other);
	while (strcmp(other, phone) == 0);
	seed_contact(other, "Someone Else", id);
	snprintf(corr, sizeof(corr), "run-%s-2", slug);
	event_row(corr, "call_started", phone, NULL, ref);
	delivered(ref);
	rec = record_of(corr, "call_started");
	ck_assert_ptr_null(cJSON_GetObjectItem(rec, "Contact__c"));
	ck_assert_str_eq(str_of(rec, "Caller_Phone__c"), phone);
	cJSON_Delete(rec);
	/* A miss is remembered, for no longer than CB_SF_CONTACT_MISS_TTL_S. */
	ttl = cache_pttl(phone, NULL, 0);
	ck_assert_msg(ttl > 0 && ttl <= setting("CB_SF_CONTACT_MISS_TTL_S") * 1000, "pttl %lld", ttl);
}
END_TEST

START_TEST(hostile_phone_is_not_queried)
{
	char	 id[19], ref[40], corr[64], path[600], *line = NULL;
	long	 q0;
	cJSON	*rec;

	/* A contact every injection would like to reach. */
	seed_contact("+14155550000", "Victim", id);
	q0 = fakesf_stat("queries");
	snprintf(corr, sizeof(corr), "run-%s-3", slug);
	event_row(corr, "call_started", "+1415' OR Phone != '", NULL, ref);
	delivered(ref);
	rec = record_of(corr, "call_started");
	ck_assert_ptr_null(cJSON_GetObjectItem(rec, "Contact__c"));
	cJSON_Delete(rec);
	/* Not E.164: refused before any query, delivered unlinked. */
	ck_assert_int_eq(fakesf_stat("queries"), q0);
	/* Logged with the reason, the phone masked. */
	stacklog_path("cb-worker", path, sizeof(path));
	ck_assert_int_ge(stacklog_lines(path, "sf_contact_lookup", "CB_BAD_PHONE", &line), 1);
	ck_assert_ptr_null(strstr(line, "OR Phone"));
	ck_assert_ptr_null(strstr(line, "1415"));
	free(line);
}
END_TEST

START_TEST(cache_and_forget)
{
	char	 phone[16], id[19], ref[40], corr[64], args[256], out[512];
	long	 q0 = fakesf_stat("queries");
	cJSON	*a, *b, *c;

	fresh_phone(phone);
	seed_contact(phone, "Grace Repeat", id);
	snprintf(corr, sizeof(corr), "run-%s-4", slug);
	event_row(corr, "call_started", phone, NULL, ref);
	delivered(ref);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 1);
	/* The same number again within the TTL: from the cache, no query. */
	event_row(corr, "call_ended", phone, NULL, ref);
	delivered(ref);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 1);
	/* call_started and call_ended of one call: two records, both linked. */
	a = record_of(corr, "call_started");
	b = record_of(corr, "call_ended");
	ck_assert_str_eq(str_of(a, "Contact__c"), id);
	ck_assert_str_eq(str_of(b, "Contact__c"), id);
	ck_assert_str_eq(str_of(a, "Event_Type__c"), "call_started");
	ck_assert_str_eq(str_of(b, "Event_Type__c"), "call_ended");
	/* A contact event: the entry is dropped and the next event queries again. */
	snprintf(args, sizeof(args), "sf-contact-forget %s '%s'", slug, phone);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_ptr_null(strstr(out, phone + 1));
	ck_assert_int_eq(cache_pttl(phone, NULL, 0), -2);
	event_row(corr, "disposition_set", phone, NULL, ref);
	delivered(ref);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 2);
	c = record_of(corr, "disposition_set");
	ck_assert_str_eq(str_of(c, "Contact__c"), id);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
	/* The CLI refuses what is not a number, naming the rule. */
	snprintf(args, sizeof(args), "sf-contact-forget %s 'abc'", slug);
	ck_assert_int_ne(seed_admin(args, out, sizeof(out)), 0);
}
END_TEST

START_TEST(one_query_per_number_in_a_batch)
{
	char	 phone[16], id[19], ref1[40], ref2[40], corr[64];
	long	 q0 = fakesf_stat("queries"), c0 = fakesf_stat("collections_calls");
	cJSON	*a, *b;

	fresh_phone(phone);
	seed_contact(phone, "Both Events", id);
	snprintf(corr, sizeof(corr), "run-%s-7", slug);
	/* Held back, then leased together: one batch, one Collections call. */
	outbox_pause("salesforce", 1);
	event_row(corr, "call_started", phone, NULL, ref1);
	event_row(corr, "call_ended", phone, NULL, ref2);
	outbox_pause("salesforce", 0);
	delivered(ref1);
	delivered(ref2);
	ck_assert_int_eq(fakesf_stat("collections_calls"), c0 + 1);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 1);
	a = record_of(corr, "call_started");
	b = record_of(corr, "call_ended");
	ck_assert_str_eq(str_of(a, "Contact__c"), id);
	ck_assert_str_eq(str_of(b, "Contact__c"), id);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(revoked_token_is_minted_again_once)
{
	char	 phone[16], id[19], ref[40], corr[64];
	long	 att = 0, m0;
	cJSON	*rec;

	fresh_phone(phone);
	seed_contact(phone, "Session Gone", id);
	/* The worker's token dies: its query answers 401, one mint, one resend. */
	fakesf_revoke_tokens();
	m0 = fakesf_stat("token_mints");
	snprintf(corr, sizeof(corr), "run-%s-8", slug);
	event_row(corr, "call_started", phone, NULL, ref);
	ck_assert(outbox_wait(ref, "done", 15000, &att, NULL, 0));
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_stat("token_mints"), m0 + 1);
	rec = record_of(corr, "call_started");
	ck_assert_str_eq(str_of(rec, "Contact__c"), id);
	cJSON_Delete(rec);
}
END_TEST

START_TEST(query_failure_retries_row)
{
	char	 phone[16], id[19], ref[40], corr[64], err[512];
	long	 att = 0;
	cJSON	*rec;

	fresh_phone(phone);
	seed_contact(phone, "Linus Later", id);
	fakesf_fault("{\"target\":\"query\",\"kind\":\"status\",\"status\":503,\"count\":1}");
	snprintf(corr, sizeof(corr), "run-%s-5", slug);
	event_row(corr, "call_started", phone, NULL, ref);
	ck_assert_msg(outbox_wait(ref, "done", 15000, &att, err, sizeof(err)), "%s", err);
	ck_assert_int_ge(att, 2);
	rec = record_of(corr, "call_started");
	ck_assert_str_eq(str_of(rec, "Contact__c"), id);
	cJSON_Delete(rec);
	fakesf_clear();
}
END_TEST

START_TEST(bad_lookup_spec_is_dead)
{
	char	 phone[16], ref[40], corr[64], err[512];

	fresh_phone(phone);
	snprintf(corr, sizeof(corr), "run-%s-6", slug);
	event_row(corr, "call_started", phone, "{\"object\":\"Lead\",\"by\":\"Phone\","
	    "\"from_field\":\"Caller_Phone__c\",\"set_field\":\"Contact__c\"}", ref);
	ck_assert_msg(outbox_wait(ref, "dead", 15000, NULL, err, sizeof(err)), "not dead");
	ck_assert_msg(strstr(err, "lookup") != NULL, "%s", err);
	/* Not even an object. */
	event_row(corr, "call_ended", phone, "\"Contact\"", ref);
	ck_assert_msg(outbox_wait(ref, "dead", 15000, NULL, err, sizeof(err)), "not dead");
	ck_assert_msg(strstr(err, "lookup") != NULL, "%s", err);
	/* A from_field that is not an API name. */
	event_row(corr, "timeout", phone, "{\"object\":\"Contact\",\"by\":\"Phone\","
	    "\"from_field\":\"Caller Phone\",\"set_field\":\"Contact__c\"}", ref);
	ck_assert_msg(outbox_wait(ref, "dead", 15000, NULL, err, sizeof(err)), "not dead");
	ck_assert_msg(strstr(err, "from_field") != NULL, "%s", err);
}
END_TEST

/* ---- the query resource itself, through lib/sf_query ------------------- */

static char	 bearer[2200];

static void
keep_token(const char *token, const char *instance_url, void *ud)
{
	(void)instance_url;
	(void)ud;
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
	test_record_secret(token);
}

static struct sf_client *
client(void)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	char			 err[256];

	memset(&conf, 0, sizeof(conf));
	conf.login_url = test_env("CB_FAKESF_URL");
	conf.audience = test_env("CB_SF_AUDIENCE");
	conf.client_id = test_env("CB_SF_CLIENT_ID");
	conf.username = test_env("CB_SF_USERNAME");
	conf.private_key_file = test_env("CB_SF_PRIVATE_KEY_FILE");
	conf.api_version = "v60.0";
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "sf client: %s", err);
	sf_set_token_hook(c, keep_token, NULL);
	return c;
}

/* The last SOQL the fake received, and how many it matched. */
static void
last_query(char *q, size_t qsz, long *matches)
{
	struct http_resp r;
	const cJSON	*arr, *last;

	fakesf_call("GET", "/__fake/queries", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	arr = cJSON_GetObjectItem(http_json(&r), "queries");
	ck_assert_int_ge(cJSON_GetArraySize(arr), 1);
	last = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
	util_strlcpy(q, cJSON_GetObjectItem(last, "q")->valuestring, qsz);
	*matches = (long)cJSON_GetObjectItem(last, "matches")->valuedouble;
	http_free(&r);
}

START_TEST(escaped_literal_reaches_fake)
{
	struct sf_client	*c = client();
	struct sf_result	 res;
	char			 id[19], q[512];
	long			 m, q0;
	static const char	 hostile[] = "+1415' OR Phone != '";

	seed_contact("+14155550001", "Not Me", id);
	q0 = fakesf_stat("queries");
	ck_assert_int_eq(sf_contact_by_value(c, hostile, &res), CB_OK);
	ck_assert_int_eq(res.kind, SF_FOUND);
	ck_assert_str_eq(res.id, "");
	last_query(q, sizeof(q), &m);
	ck_assert_str_eq(q, "SELECT Id FROM Contact WHERE Phone = '+1415\\' OR Phone != \\'' LIMIT 2");
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 1);
	/* The literal round-trips: a contact whose Phone is that text is the one found. */
	seed_contact(hostile, "Bobby Tables", id);
	ck_assert_int_eq(sf_contact_by_value(c, hostile, &res), CB_OK);
	ck_assert_str_eq(res.id, id);
	ck_assert_int_eq(sf_contact_by_value(c, "back\\slash \"q\"", &res), CB_OK);
	ck_assert_str_eq(res.id, "");
	last_query(q, sizeof(q), &m);
	ck_assert_str_eq(q, "SELECT Id FROM Contact WHERE Phone = 'back\\\\slash \\\"q\\\"' LIMIT 2");
	/* The checked entry point refuses it before any query. */
	ck_assert_int_eq(sf_contact_by_phone(c, hostile, &res), CB_ERR_VALIDATION);
	ck_assert_str_eq(res.error_code, "CB_BAD_PHONE");
	ck_assert_int_eq(fakesf_stat("queries"), q0 + 3);
	/* A dead session is minted again once, and the query answered. */
	fakesf_revoke_tokens();
	ck_assert_int_eq(sf_contact_by_phone(c, "+14155550001", &res), CB_OK);
	ck_assert_str_ne(res.id, "");
	/* Two contacts share a number: neither is linked. */
	seed_contact("+14155550002", "Twin One", id);
	seed_contact("+14155550002", "Twin Two", id);
	ck_assert_int_eq(sf_contact_by_phone(c, "+14155550002", &res), CB_OK);
	ck_assert_str_eq(res.id, "");
	ck_assert_str_eq(res.error_code, "CB_AMBIGUOUS");
	sf_client_free(c);
}
END_TEST

/* Raw GET of the query resource with SOQL text (encoded here). */
static void
raw_query(const char *soql, struct http_resp *r)
{
	struct buf	 base, url;

	buf_init(&base, 1024);
	buf_init(&url, 8192);
	buf_puts(&base, test_env("CB_FAKESF_URL"));
	buf_puts(&base, "/services/data/v60.0");
	ck_assert_int_eq(sf_query_url(&url, buf_cstr(&base), soql), CB_OK);
	ck_assert_int_eq(http_do("GET", buf_cstr(&url), (const char *const[]){ bearer, NULL },
	    NULL, 0, r), 0);
	buf_free(&url);
	buf_free(&base);
}

static const struct {
	const char	*soql;
	long		 status;
	const char	*code;
} fake_errors[] = {
	/* An unescaped injection is not a query at all. */
	{ "SELECT Id FROM Contact WHERE Phone = '+1415' OR Phone != ''", 400, "MALFORMED_QUERY" },
	{ "SELECT Id FROM Contact WHERE Phone = +14155550100", 400, "MALFORMED_QUERY" },
	{ "SELECT Id FROM Contact WHERE Phone = 'x\\q'", 400, "MALFORMED_QUERY" },
	{ "SELECT Id FROM Contact WHERE Phone = 'unterminated", 400, "MALFORMED_QUERY" },
	{ "SELECT Id FROM Contact WHERE Phone LIKE '%1'", 400, "MALFORMED_QUERY" },
	{ "DELETE FROM Contact", 400, "MALFORMED_QUERY" },
	{ "SELECT Id FROM Lead WHERE Phone = '+14155550100'", 400, "INVALID_TYPE" },
	{ "SELECT Id, Secret__c FROM Contact WHERE Phone = '+1'", 400, "INVALID_FIELD" },
	{ "SELECT Id FROM Contact WHERE Mobile = '+1'", 400, "INVALID_FIELD" },
};

START_TEST(fake_answers_real_errors)
{
	struct sf_client	*c = client();
	struct sf_result	 res;
	struct http_resp	 r;
	const cJSON		*first;
	char			 id[19];

	/* A token for raw calls, minted the real way. */
	ck_assert_int_eq(sf_authenticate(c, &res), CB_OK);
	seed_contact("+14155550003", "Only One", id);
	raw_query(fake_errors[_i].soql, &r);
	ck_assert_int_eq(r.status, fake_errors[_i].status);
	first = cJSON_GetArrayItem(http_json(&r), 0);
	ck_assert_ptr_nonnull(first);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "errorCode")->valuestring, fake_errors[_i].code);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(first, "message")));
	http_free(&r);
	/* More fields and LIMIT are in the subset. */
	raw_query("select Id, Phone, Name from Contact where Phone = '+14155550003' limit 1", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cJSON_GetObjectItem(http_json(&r), "totalSize")->valueint, 1);
	first = cJSON_GetArrayItem(cJSON_GetObjectItem(http_json(&r), "records"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "Id")->valuestring, id);
	ck_assert_str_eq(cJSON_GetObjectItem(first, "Name")->valuestring, "Only One");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "attributes"),
	    "type")->valuestring, "Contact");
	ck_assert_ptr_nonnull(http_header(&r, "sforce-limit-info"));
	http_free(&r);
	sf_client_free(c);
}
END_TEST

/* The text after `marker` in out up to the end of its line, into dst. */
static void
line_after(const char *out, const char *marker, char *dst, size_t dstsz)
{
	const char	*p = strstr(out, marker);
	size_t		 n;

	ck_assert_msg(p != NULL, "no %s in:\n%s", marker, out);
	n = strcspn(p, "\n");
	ck_assert_uint_lt(n, dstsz);
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/*
 * The demo's whole path, as `make run` shows it (scripts/demo.sh): the
 * printed one-line command (scripts/call-event.sh) posts a signed call
 * event through nginx, the route records it, the worker looks its caller
 * up and the activity lands in the fake Salesforce linked to the contact
 * demo.sh seeded with that phone.  demo.sh run again seeds no second
 * contact (two with one number would link neither).
 */
START_TEST(demo_call_event_links_the_demo_contact)
{
	struct http_resp r;
	const cJSON	*c;
	char		 cmd[2048], line[1024], out[16384], corr[64], event_id[40], id[24];
	int		 same = 0;
	cJSON		*rec;

	snprintf(cmd, sizeof(cmd), "%s/scripts/demo.sh 2>&1", test_env("CB_REPO"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	fakesf_call("GET", "/__fake/contacts", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(http_json(&r), "contacts"))
		if (strcmp(cJSON_GetObjectItem(c, "Phone")->valuestring, "+14155552671") == 0) {
			util_strlcpy(id, cJSON_GetObjectItem(c, "Id")->valuestring, sizeof(id));
			same++;
		}
	http_free(&r);
	ck_assert_int_eq(same, 1);
	line_after(out, "(Id ", line, sizeof(line));
	ck_assert_msg(strncmp(line + 4, id, strlen(id)) == 0, "demo.sh names %s, the fake %s",
	    line, id);
	ck_assert_ptr_nonnull(strstr(out, "/__fake/records"));

	/* The printed command, pasted as is (a correlation id of this test's own). */
	line_after(out, "scripts/call-event.sh ", line, sizeof(line));
	snprintf(corr, sizeof(corr), "demo-%s", slug);
	snprintf(cmd, sizeof(cmd), "cd %s && CALL_CORR=%s %s 2>&1", test_env("CB_REPO"), corr, line);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\n202") != NULL, "%s", out);
	line_after(out, "{\"event_id\":\"", line, sizeof(line));
	util_strlcpy(event_id, line + strlen("{\"event_id\":\""), 37);
	delivered(event_id);
	rec = record_of(corr, "call_started");
	ck_assert_str_eq(str_of(rec, "Contact__c"), id);
	ck_assert_str_eq(str_of(rec, "Caller_Phone__c"), "+14155552671");
	cJSON_Delete(rec);
}
END_TEST

static Suite *
sfquery_suite(void)
{
	Suite	*s = suite_create("sfquery");
	TCase	*tc = tcase_create("lookup");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, seeded_contact_is_linked);
	tcase_add_test(tc, no_match_leaves_unlinked);
	tcase_add_test(tc, hostile_phone_is_not_queried);
	tcase_add_test(tc, cache_and_forget);
	tcase_add_test(tc, one_query_per_number_in_a_batch);
	tcase_add_test(tc, revoked_token_is_minted_again_once);
	tcase_add_test(tc, query_failure_retries_row);
	tcase_add_test(tc, bad_lookup_spec_is_dead);
	tcase_add_test(tc, escaped_literal_reaches_fake);
	tcase_add_test(tc, demo_call_event_links_the_demo_contact);
	tcase_add_loop_test(tc, fake_answers_real_errors, 0, (int)CU_NELEM(fake_errors));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(sfquery_suite());
}
