/*
 * Sealed at rest, through the real stack: submissions reach Postgres only
 * sealed (no name or email in any submissions or outbox row, "v1." values)
 * yet reach the fake Salesforce intact; a sealed value copied onto another
 * row does not open (CB_ERR_CRYPTO), and an outbox row carrying another
 * row's sealed payload is dead-lettered, never delivered; a data-key
 * rotation followed by a re-seal leaves every value readable and under the
 * new key ids while the service runs on; the Salesforce token is cached
 * sealed and survives a worker restart without a new mint; a responder and
 * the worker refuse to start with a wrong root key (exit status 2, a message
 * naming CB_SEAL_ROOT_KEY_FILE).
 *
 * The test process opens its own keyring with the stack's root key file
 * (CB_SEAL_ROOT_KEY_FILE; it runs as root, which may read the service's
 * key), as an operator tool would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "buf.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "fakesf.h"
#include "http.h"
#include "keyring.h"
#include "outbox.h"
#include "reseal.h"
#include "seal.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"
#include "ws.h"

static struct seed	 s;
static char		 ctx[40], tabtok[64];

/* ---- helpers -------------------------------------------------------- */

static void
setup(void)
{
	fakesf_clear();
	seed_tenant(&s);
	seed_context(s.form_id, ctx, tabtok);
}

/* Submit a name and email once; the submission id into out. */
static void
submit(const char *key, const char *name, const char *email, char out[40])
{
	char	 body[512];

	snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"%s\",\"email\":\"%s\","
	    "\"topic\":\"support\",\"message\":\"sealed at rest\"}}", name, email);
	submit_form(s.form_id, tabtok, key, body, out);
}

/* One value of a one-row query (copied; "" for NULL); fails unless one row. */
static void
q1(struct db *db, const char *sql, int n, const char *const *p, char *out, size_t outsz)
{
	testdb_one(db, out, outsz, sql, n, p);
}


/* A unique, recognisable name and email for one test. */
static void
person(char *name, size_t namesz, char *email, size_t emailsz)
{
	char	 tag[16];
	size_t	 i;

	util_random_token(tag, sizeof(tag), 6);
	for (i = 0; tag[i]; i++)
		if (tag[i] == '-' || tag[i] == '_')
			tag[i] = 'x';
	snprintf(name, namesz, "Zelda Sealwright%s", tag);
	snprintf(email, emailsz, "zelda.%s@example.org", tag);
}

/* 1 if the file contains needle. */
static int
file_has(const char *path, const char *needle)
{
	FILE	*f = fopen(path, "r");
	char	 line[8192];
	int	 found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* ---- at rest -------------------------------------------------------- */

START_TEST(submission_sealed_at_rest_delivered_intact)
{
	struct db	*db;
	struct keyring	 k;
	struct buf	 plain;
	char		 sub[40], name[64], email[64], v[8192], obid[24], fields[4096], log[600];
	unsigned long	 kid = 0;
	long		 att = 0;

	person(name, sizeof(name), email, sizeof(email));
	submit("sealed-1", name, email, sub);
	db = testdb_open();
	/* The submission: data NULL, data_sealed a v1 value; nothing personal in the row. */
	q1(db, "SELECT (data IS NULL)::text FROM submissions WHERE id = $1::uuid", 1,
	    (const char *[]){ sub }, v, sizeof(v));
	ck_assert_str_eq(v, "true");
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1,
	    (const char *[]){ sub }, v, sizeof(v));
	ck_assert_msg(strncmp(v, "v1.", 3) == 0, "data_sealed: %.40s", v);
	q1(db, "SELECT row_to_json(s)::text FROM submissions s WHERE id = $1::uuid", 1,
	    (const char *[]){ sub }, v, sizeof(v));
	ck_assert_msg(strstr(v, email) == NULL && strstr(v, name) == NULL &&
	    strstr(v, "Sealwright") == NULL, "plaintext in submissions: %s", v);
	/* The outbox row: only sobject, ext_field, ext_value in the clear. */
	q1(db, "SELECT row_to_json(o)::text FROM outbox o WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub }, v, sizeof(v));
	ck_assert_msg(strstr(v, email) == NULL && strstr(v, name) == NULL &&
	    strstr(v, "Sealwright") == NULL, "plaintext in outbox: %s", v);
	q1(db, "SELECT (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(payload) k)"
	    " FROM outbox WHERE ref_id = $1::uuid", 1, (const char *[]){ sub }, v, sizeof(v));
	ck_assert_str_eq(v, "ext_field,ext_value,sobject");
	q1(db, "SELECT payload_sealed FROM outbox WHERE ref_id = $1::uuid", 1,
	    (const char *[]){ sub }, v, sizeof(v));
	ck_assert_msg(strncmp(v, "v1.", 3) == 0, "payload_sealed: %.40s", v);
	q1(db, "SELECT id::text FROM outbox WHERE ref_id = $1::uuid", 1, (const char *[]){ sub },
	    obid, sizeof(obid));

	/* Delivered, with every field intact. */
	ck_assert_msg(outbox_wait(sub, "done", 10000, &att, NULL, 0), "not delivered");
	ck_assert_int_eq(att, 1);
	ck_assert_int_eq(fakesf_record_fields(sub, fields, sizeof(fields)), 1);
	ck_assert_msg(strstr(fields, email) && strstr(fields, name) &&
	    strstr(fields, "sealed at rest") && strstr(fields, "support"), "fields: %s", fields);

	/* Both values open with the keyring and their own row. */
	testdb_keys_open(&k, db);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_read(db, &k, "submissions", sub, &plain, &kid), CB_OK);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&plain), email));
	ck_assert_uint_gt(kid, 0);
	buf_wipe(&plain);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_read(db, &k, "outbox", obid, &plain, NULL), CB_OK);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&plain), email));
	buf_wipe(&plain);
	testdb_keys_close(&k);
	db_close(db);

	/* Nor did the submit responder or the worker log them. */
	snprintf(log, sizeof(log), "%s/submit.log", test_env("CB_LOG_DIR"));
	ck_assert(!file_has(log, email) && !file_has(log, name));
	snprintf(log, sizeof(log), "%s/cb-worker.log", test_env("CB_LOG_DIR"));
	ck_assert(!file_has(log, email) && !file_has(log, name));
}
END_TEST

START_TEST(copied_value_does_not_open)
{
	struct db	*db;
	struct keyring	 k;
	struct buf	 plain;
	char		 a[40], b[40], name[64], email[64], va[4096], vb[4096];

	person(name, sizeof(name), email, sizeof(email));
	submit("copy-a", name, email, a);
	person(name, sizeof(name), email, sizeof(email));
	submit("copy-b", name, email, b);
	ck_assert(outbox_wait(a, "done", 10000, NULL, NULL, 0));
	ck_assert(outbox_wait(b, "done", 10000, NULL, NULL, 0));
	db = testdb_open();
	testdb_keys_open(&k, db);
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1, (const char *[]){ a },
	    va, sizeof(va));
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1, (const char *[]){ b },
	    vb, sizeof(vb));
	/* A's sealed data onto B's row: a perfectly well-formed value, for A. */
	ck_assert_int_eq(db_exec(db, "UPDATE submissions SET data_sealed = $2 WHERE id = $1::uuid",
	    2, (const char *[]){ b, va }), CB_OK);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_read(db, &k, "submissions", b, &plain, NULL), CB_ERR_CRYPTO);
	ck_assert_uint_eq(plain.len, 0);
	ck_assert_int_eq(reseal_read(db, &k, "submissions", a, &plain, NULL), CB_OK);
	buf_wipe(&plain);
	/* Put B back, so later re-seals of this database find nothing broken. */
	ck_assert_int_eq(db_exec(db, "UPDATE submissions SET data_sealed = $2 WHERE id = $1::uuid",
	    2, (const char *[]){ b, vb }), CB_OK);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_read(db, &k, "submissions", b, &plain, NULL), CB_OK);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&plain), email));
	buf_wipe(&plain);
	testdb_keys_close(&k);
	db_close(db);
}
END_TEST

START_TEST(swapped_outbox_payload_is_dead_lettered)
{
	struct db	*db;
	char		 a[40], c[40], name[64], email[64], fields[4096], err[400], obid[24];
	long		 att = 0, upserts;

	person(name, sizeof(name), email, sizeof(email));
	submit("swap-a", name, email, a);
	ck_assert(outbox_wait(a, "done", 10000, NULL, NULL, 0));
	upserts = fakesf_stat("upserts");
	/*
	 * A new row for another submission id (c) carrying a's sealed field
	 * map: it is bound to "outbox:<a>:fields", so it must not open as c's.
	 */
	util_uuid_v4(c);
	db = testdb_open();
	q1(db, "INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed)"
	    " SELECT org_id, kind, $2::uuid, jsonb_set(payload, '{ext_value}', to_jsonb($2::text)),"
	    "   payload_sealed FROM outbox WHERE ref_id = $1::uuid RETURNING id::text", 2,
	    (const char *[]){ a, c }, obid, sizeof(obid));
	ck_assert_msg(outbox_wait(c, "dead", 10000, &att, err, sizeof(err)), "not dead-lettered");
	ck_assert_int_eq(att, 1);
	ck_assert_msg(strstr(err, "SEALED_PAYLOAD") && strstr(err, "does not open"),
	    "last_error: %s", err);
	ck_assert_int_eq(fakesf_record_fields(c, fields, sizeof(fields)), 0);
	ck_assert_int_eq(fakesf_stat("upserts"), upserts);
	/* The dead row goes: later re-seals of this database must find nothing broken. */
	ck_assert_int_eq(db_exec(db, "DELETE FROM outbox WHERE id = $1::bigint", 1,
	    (const char *[]){ obid }), CB_OK);
	db_close(db);
}
END_TEST

/* A row written before sealing (fields in the clear payload) is still delivered. */
START_TEST(legacy_clear_payload_still_delivered)
{
	struct db	*db;
	char		 a[40], c[40], name[64], email[64], fields[4096], obid[24];

	person(name, sizeof(name), email, sizeof(email));
	submit("legacy-a", name, email, a);
	ck_assert(outbox_wait(a, "done", 10000, NULL, NULL, 0));
	util_uuid_v4(c);
	db = testdb_open();
	q1(db, "INSERT INTO outbox (org_id, kind, ref_id, payload)"
	    " SELECT org_id, kind, $2::uuid, payload || jsonb_build_object('ext_value', $2::text,"
	    "   'fields', jsonb_build_object('Email__c', 'legacy@example.org'))"
	    " FROM outbox WHERE ref_id = $1::uuid RETURNING id::text", 2,
	    (const char *[]){ a, c }, obid, sizeof(obid));
	ck_assert_msg(outbox_wait(c, "done", 10000, NULL, NULL, 0), "legacy row not delivered");
	ck_assert_int_eq(fakesf_record_fields(c, fields, sizeof(fields)), 1);
	ck_assert_ptr_nonnull(strstr(fields, "legacy@example.org"));
	/* It held personal data in the clear: it goes. */
	ck_assert_int_eq(db_exec(db, "DELETE FROM outbox WHERE id = $1::bigint", 1,
	    (const char *[]){ obid }), CB_OK);
	db_close(db);
}
END_TEST

/* ---- command values --------------------------------------------------- */

/*
 * A tab of the test's context, authenticated from the start (the
 * channel's cb.tab.v1 protocol, docs/channel.md).
 */
static void
tab_open(struct ws *w)
{
	char	 path[96];
	cJSON	*j;

	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_int_eq(ws_open(w, path, NULL), 0);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}",
	    tabtok), 0);
	j = ws_next(w, 5000);
	ck_assert_msg(j != NULL && strcmp(ws_str(j, "type"), "ready") == 0,
	    "no ready message (close %d)", w->close_code);
	cJSON_Delete(j);
}

/*
 * An agent sets #email (confidential) to `email`: the value is sealed in
 * the command's row, nothing of it in clear, and the tab receives it in
 * clear as command seq (its receipt sent).  The command id into out.
 */
static void
command_sealed_delivered(struct ws *w, long long seq, const char *email, char out[40])
{
	char	 nonce[32];
	cJSON	*j;

	snprintf(nonce, sizeof(nonce), "sealed-%lld", seq);
	submit_set_field(s.api_key, ctx, "#email", email, nonce, out);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands c WHERE id = $1::uuid"
	    " AND value IS NULL AND value_sealed LIKE 'v1.%' AND strpos(c::text, $2) = 0", 2,
	    (const char *[]){ out, email }), 1);
	j = ws_next_type(w, "command", 10000);
	ck_assert_msg(j != NULL, "command %lld did not arrive (close %d)", seq, w->close_code);
	ck_assert_int_eq(ws_num(j, "seq"), seq);
	ck_assert_str_eq(ws_str(j, "value"), email);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"receipt\",\"seq\":%lld,"
	    "\"status\":\"applied\"}", seq), 0);
}

/* ---- re-seal while running ------------------------------------------ */

struct progress {
	struct buf	 lines;
};

static void
on_progress(const char *table, long done, long total, void *ud)
{
	struct progress	*p = ud;

	(void)buf_printf(&p->lines, "reseal: %s %ld/%ld\n", table, done, total);
}

/* Every sealed value of the stack's database is under the given ids. */
static void
assert_all_under(struct db *db, uint32_t pii, uint32_t tokens, long *n)
{
	static const struct { const char *sql; int purpose; } cols[] = {
		{ "SELECT email_sealed FROM users", SEAL_PURPOSE_PII },
		{ "SELECT meta_sealed FROM refresh_tokens WHERE meta_sealed IS NOT NULL", SEAL_PURPOSE_TOKENS },
		{ "SELECT private_sealed FROM signing_keys", SEAL_PURPOSE_TOKENS },
		{ "SELECT data_sealed FROM submissions WHERE data_sealed IS NOT NULL", SEAL_PURPOSE_PII },
		{ "SELECT payload_sealed FROM outbox WHERE payload_sealed IS NOT NULL", SEAL_PURPOSE_PII },
		{ "SELECT value_sealed FROM commands WHERE value_sealed IS NOT NULL", SEAL_PURPOSE_PII },
		{ "SELECT token_sealed FROM sf_tokens", SEAL_PURPOSE_TOKENS },
		{ "SELECT key_sealed FROM sf_connections UNION ALL SELECT next_key_sealed FROM"
		  " sf_connections WHERE next_key_sealed IS NOT NULL", SEAL_PURPOSE_TOKENS },
	};
	struct db_res	*res = NULL;
	uint32_t	 id;
	size_t		 i, j;

	*n = 0;
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		ck_assert_int_eq(db_query(db, &res, cols[i].sql, 0, NULL), CB_OK);
		for (j = 0; j < db_rows(res); j++, (*n)++) {
			ck_assert_int_eq(seal_key_id_text(db_val(res, j, 0), &id), CB_OK);
			ck_assert_msg(id == (cols[i].purpose == SEAL_PURPOSE_PII ? pii : tokens),
			    "%s: row %zu under key %u", cols[i].sql, j, id);
		}
		db_res_free(res);
		res = NULL;
	}
}

START_TEST(reseal_after_rotation)
{
	struct db	*db;
	struct keyring	 k;
	struct progress	 p;
	struct buf	 plain;
	struct db_res	*res = NULL;
	char		 sub[40], name[64], email[64], fields[4096], v[4096];
	uint32_t	 pii0 = 0, tok0 = 0, id;
	int		 pii = 0, tok = 0;
	long		 n = 0, retired = 0, stale = 0;
	size_t		 i;
	char		 idtxt[16], state[16], old_sealed[4096], new_sealed[4096], cmd[40];
	char		 json[96];
	struct ws	 w;

	/*
	 * Values of every kind the running stack writes: a submission, a
	 * token, an agent's command value (delivered to its tab in clear).
	 */
	tab_open(&w);
	person(name, sizeof(name), email, sizeof(email));
	submit("reseal-before", name, email, sub);
	command_sealed_delivered(&w, 1, email, cmd);
	ck_assert(outbox_wait(sub, "done", 10000, NULL, NULL, 0));
	db = testdb_open();
	testdb_keys_open(&k, db);
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1, (const char *[]){ sub },
	    old_sealed, sizeof(old_sealed));
	ck_assert_int_eq(seal_keyring_current(keyring_get(&k, db), SEAL_PURPOSE_PII, &pii0), CB_OK);
	ck_assert_int_eq(seal_keyring_current(keyring_get(&k, db), SEAL_PURPOSE_TOKENS, &tok0), CB_OK);
	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &pii), CB_OK);
	ck_assert_int_eq(keyring_rotate(&k, db, "tokens", &tok), CB_OK);
	ck_assert_int_gt(pii, (int)pii0);
	ck_assert_int_gt(tok, (int)tok0);
	/* Every running process picks the new keys up within KEYRING_CHECK_MS. */
	test_sleep_ms((long)KEYRING_CHECK_MS + 1000);

	memset(&p, 0, sizeof(p));
	buf_init(&p.lines, 1024 * 1024);
	ck_assert_int_eq(reseal_run(db, &k, 3, on_progress, &p), CB_OK);
	ck_assert_msg(strstr(buf_cstr(&p.lines), "reseal: submissions ") != NULL &&
	    strstr(buf_cstr(&p.lines), "reseal: outbox ") != NULL &&
	    strstr(buf_cstr(&p.lines), "reseal: sf_tokens ") != NULL &&
	    strstr(buf_cstr(&p.lines), "reseal: users ") != NULL &&
	    strstr(buf_cstr(&p.lines), "reseal: commands ") != NULL, "progress:\n%s",
	    buf_cstr(&p.lines));
	buf_free(&p.lines);
	assert_all_under(db, (uint32_t)pii, (uint32_t)tok, &n);
	ck_assert_int_ge(n, 4);

	/* Nothing needs the old keys: retired, and never loaded again. */
	ck_assert_int_eq(reseal_retire(db, &k, &retired, &stale), CB_OK);
	ck_assert_int_eq(stale, 0);
	ck_assert_int_ge(retired, 2);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM data_keys WHERE state = 'active'", 0,
	    NULL), 0);
	snprintf(idtxt, sizeof(idtxt), "%u", pii0);
	q1(db, "SELECT state FROM data_keys WHERE purpose = 'pii' AND id = $1::int", 1,
	    (const char *[]){ idtxt }, state, sizeof(state));
	ck_assert_str_eq(state, "retired");
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1, (const char *[]){ sub },
	    new_sealed, sizeof(new_sealed));
	ck_assert_str_ne(old_sealed, new_sealed);

	/* Every submission and outbox value still opens (in a fresh keyring too). */
	keyring_close(&k);
	testdb_keys_open(&k, db);
	ck_assert_int_eq(db_query(db, &res, "SELECT 'submissions', id::text FROM submissions"
	    " WHERE data_sealed IS NOT NULL UNION ALL SELECT 'outbox', id::text FROM outbox"
	    " WHERE payload_sealed IS NOT NULL UNION ALL SELECT 'sf_tokens', name FROM sf_tokens"
	    " UNION ALL SELECT 'commands', id::text FROM commands WHERE value_sealed IS NOT NULL",
	    0, NULL), CB_OK);
	snprintf(json, sizeof(json), "\"%s\"", email);
	for (i = 0; i < db_rows(res); i++) {
		unsigned long kid = 0;
		int rc;

		buf_init(&plain, 65536);
		rc = reseal_read(db, &k, db_val(res, i, 0), db_val(res, i, 1), &plain, &kid);
		ck_assert_msg(rc == CB_OK, "%s %s: %s", db_val(res, i, 0), db_val(res, i, 1),
		    errs_name(rc));
		if (strcmp(db_val(res, i, 1), sub) == 0)
			ck_assert_ptr_nonnull(strstr(buf_cstr(&plain), email));
		if (strcmp(db_val(res, i, 1), cmd) == 0)
			ck_assert_str_eq(buf_cstr(&plain), json);
		buf_wipe(&plain);
	}
	db_res_free(res);
	/* A value under a retired key no longer opens: the key is really gone. */
	buf_init(&plain, 65536);
	ck_assert_int_eq(db_exec(db, "UPDATE submissions SET data_sealed = $2 WHERE id = $1::uuid",
	    2, (const char *[]){ sub, old_sealed }), CB_OK);
	ck_assert_int_eq(reseal_read(db, &k, "submissions", sub, &plain, NULL), CB_ERR_CRYPTO);
	buf_wipe(&plain);
	ck_assert_int_eq(db_exec(db, "UPDATE submissions SET data_sealed = $2 WHERE id = $1::uuid",
	    2, (const char *[]){ sub, new_sealed }), CB_OK);

	/* The running service seals new values under the new key and delivers them. */
	person(name, sizeof(name), email, sizeof(email));
	submit("reseal-after", name, email, sub);
	q1(db, "SELECT data_sealed FROM submissions WHERE id = $1::uuid", 1, (const char *[]){ sub },
	    v, sizeof(v));
	ck_assert_int_eq(seal_key_id_text(v, &id), CB_OK);
	ck_assert_uint_eq(id, (uint32_t)pii);
	ck_assert_msg(outbox_wait(sub, "done", 10000, NULL, NULL, 0), "not delivered after rotation");
	ck_assert_int_eq(fakesf_record_fields(sub, fields, sizeof(fields)), 1);
	ck_assert_ptr_nonnull(strstr(fields, email));
	/* And a command value sealed under the new key still reaches the tab. */
	command_sealed_delivered(&w, 2, email, cmd);
	q1(db, "SELECT value_sealed FROM commands WHERE id = $1::uuid", 1, (const char *[]){ cmd },
	    v, sizeof(v));
	ck_assert_int_eq(seal_key_id_text(v, &id), CB_OK);
	ck_assert_uint_eq(id, (uint32_t)pii);
	ws_free(&w);
	testdb_keys_close(&k);
	db_close(db);
}
END_TEST

/* ---- the Salesforce token cache -------------------------------------- */

/*
 * Command values written in clear before sealing (sql/0024): reseal_run
 * seals a finished command's, as command accept seals a new one (the
 * canonical JSON of the value, "commands:<id>:value"), and leaves a live
 * command's clear (its approval's hash reads it).
 */
START_TEST(reseal_seals_clear_command_values)
{
	struct db	*db;
	struct keyring	 k;
	struct buf	 plain;
	char		 c2[40], t2[64], done[40], live[40], v[64];
	const char	*p[2];
	long		 before;

	/* A context of its own: the other cases count this one's seqs. */
	seed_context(s.form_id, c2, t2);
	db = testdb_open();
	testdb_keys_open(&k, db);
	p[0] = c2;
	p[1] = "applied";
	q1(db, "WITH x AS (UPDATE contexts SET last_seq = last_seq + 1 WHERE id = $1::uuid"
	    " RETURNING org_id, last_seq)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state, finished_at)"
	    " SELECT org_id, $1::uuid, last_seq, 'set_field', '#email',"
	    " '{\"b\": [1, 2], \"a\": \"old@example.org\"}'::jsonb, $2, now() FROM x"
	    " RETURNING id::text", 2, p, done, sizeof(done));
	p[1] = "pending_approval";
	q1(db, "WITH x AS (UPDATE contexts SET last_seq = last_seq + 1 WHERE id = $1::uuid"
	    " RETURNING org_id, last_seq)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state)"
	    " SELECT org_id, $1::uuid, last_seq, 'set_field', '#email', '\"live@example.org\"'::jsonb,"
	    " $2 FROM x RETURNING id::text", 2, p, live, sizeof(live));
	before = testdb_long("SELECT count(*) FROM commands WHERE value IS NOT NULL", 0, NULL);

	ck_assert_int_eq(reseal_run(db, &k, 2, NULL, NULL), CB_OK);
	/* The finished one: no clear value left, and the sealed one opens to it. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands c WHERE id = $1::uuid"
	    " AND value IS NULL AND value_sealed LIKE 'v1.%' AND strpos(c::text, 'old@') = 0", 1,
	    (const char *[]){ done }), 1);
	buf_init(&plain, 4096);
	ck_assert_int_eq(reseal_read(db, &k, "commands", done, &plain, NULL), CB_OK);
	ck_assert_str_eq(buf_cstr(&plain), "{\"a\":\"old@example.org\",\"b\":[1,2]}");
	buf_wipe(&plain);
	/* The live one keeps its clear value; nothing else that was clear stays so. */
	q1(db, "SELECT value #>> '{}' FROM commands WHERE id = $1::uuid AND value_sealed IS NULL", 1,
	    (const char *[]){ live }, v, sizeof(v));
	ck_assert_str_eq(v, "live@example.org");
	ck_assert_int_lt(testdb_long("SELECT count(*) FROM commands WHERE value IS NOT NULL", 0, NULL),
	    before);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands WHERE value IS NOT NULL AND state"
	    " NOT IN ('pending_approval', 'queued', 'delivered')", 0, NULL), 0);
	/* Run again: nothing left to seal, and the sealed value is untouched. */
	ck_assert_int_eq(reseal_run(db, &k, 2, NULL, NULL), CB_OK);
	ck_assert_int_eq(reseal_read(db, &k, "commands", done, &plain, NULL), CB_OK);
	buf_wipe(&plain);
	testdb_exec("DELETE FROM commands WHERE id = $1::uuid", 1, (const char *[]){ live });
	testdb_keys_close(&k);
	db_close(db);
}
END_TEST

/* `cb-admin reseal 50` in a process of its own; its pid. */
static pid_t
reseal_start(void)
{
	char	 exe[512];
	pid_t	 pid;

	snprintf(exe, sizeof(exe), "%s/bin/cb-admin", test_env("CB_BUILD"));
	fflush(NULL);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		int	 fd = open("/dev/null", O_WRONLY);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(exe, exe, "reseal", "50", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* How many of the context's commands hold a sealed value. */
static long
sealed_of(const char *ctx_id)
{
	return testdb_long("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid"
	    " AND value_sealed IS NOT NULL", 1, (const char *[]){ ctx_id });
}

/* Wait (up to 20 s) until more than `than` of them are sealed; the count. */
static long
sealed_past(const char *ctx_id, long than)
{
	long	 n = 0;
	int	 i;

	for (i = 0; i < 2000 && (n = sealed_of(ctx_id)) <= than; i++)
		test_sleep_ms(10);
	return n;
}

/*
 * The clear values' sealing under faults, counted: CLEAR_ROWS finished
 * commands with clear values; a reseal killed (-9) midway, a second one
 * cut by a Postgres crash (immediate restart), a third to the end.  Then
 * every one of them is sealed, none holds its clear value, and each opens
 * to its own value: nothing lost, nothing sealed twice over another.
 * (Redis: the reseal does not use it.)
 */
#define CLEAR_ROWS	3000

START_TEST(clear_values_sealed_under_faults)
{
	struct db	*db;
	struct keyring	 k;
	struct buf	 plain;
	struct db_res	*res = NULL;
	char		 c3[40], t3[64], want[32], out[4096], rows[16];
	long		 first, second;
	pid_t		 pid;
	int		 st;
	size_t		 i;

	seed_context(s.form_id, c3, t3);
	snprintf(rows, sizeof(rows), "%d", CLEAR_ROWS);
	testdb_exec("WITH x AS (UPDATE contexts SET last_seq = $2::int WHERE id = $1::uuid"
	    " RETURNING org_id)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state, finished_at)"
	    " SELECT x.org_id, $1::uuid, g, 'set_field', '#email', to_jsonb('v-' || g), 'applied',"
	    " now() FROM x, generate_series(1, $2::int) g", 2, (const char *[]){ c3, rows });

	pid = reseal_start();
	first = sealed_past(c3, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st), "the first reseal ended before the kill (%ld sealed)", first);

	pid = reseal_start();
	second = sealed_past(c3, sealed_of(c3));
	test_stack("restart-postgres");
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0,
	    "the second reseal did not fail with Postgres gone (%ld sealed)", second);

	ck_assert_int_eq(seed_admin("reseal 50", out, sizeof(out)), 0);
	fprintf(stderr, "sealing: clear command values sealed under faults: %ld before kill -9,"
	    " %ld before the Postgres crash, %ld of %d at the end\n", first, second, sealed_of(c3),
	    CLEAR_ROWS);
	ck_assert_int_lt(first, CLEAR_ROWS);
	ck_assert_int_lt(second, CLEAR_ROWS);
	ck_assert_int_eq(sealed_of(c3), CLEAR_ROWS);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid"
	    " AND value IS NOT NULL", 1, (const char *[]){ c3 }), 0);
	db = testdb_open();
	testdb_keys_open(&k, db);
	ck_assert_int_eq(db_query(db, &res, "SELECT id::text, seq FROM commands"
	    " WHERE ctx_id = $1::uuid ORDER BY seq", 1, (const char *[]){ c3 }), CB_OK);
	ck_assert_uint_eq(db_rows(res), CLEAR_ROWS);
	buf_init(&plain, 256);
	for (i = 0; i < db_rows(res); i++) {
		snprintf(want, sizeof(want), "\"v-%s\"", db_val(res, i, 1));
		buf_reset(&plain);
		ck_assert_int_eq(reseal_read(db, &k, "commands", db_val(res, i, 0), &plain, NULL),
		    CB_OK);
		ck_assert_str_eq(buf_cstr(&plain), want);
	}
	buf_wipe(&plain);
	db_res_free(res);
	testdb_keys_close(&k);
	db_close(db);
}
END_TEST

START_TEST(token_cache_sealed_and_survives_restart)
{
	struct db	*db;
	struct keyring	 k;
	struct buf	 plain;
	struct db_res	*res = NULL;
	cJSON		*j;
	char		 sub[40], name[64], email[64], cmd[1024], out[4096], sealed[4096], log[600];
	const char	*at;
	long		 tokens;

	person(name, sizeof(name), email, sizeof(email));
	submit("token-1", name, email, sub);
	ck_assert(outbox_wait(sub, "done", 10000, NULL, NULL, 0));

	/* One sealed row per configuration; it opens as the token and its instance. */
	db = testdb_open();
	ck_assert_int_eq(db_query(db, &res, "SELECT name, instance_url, token_sealed FROM sf_tokens",
	    0, NULL), CB_OK);
	ck_assert_int_eq(db_rows(res), 1);
	ck_assert_str_eq(db_val(res, 0, 1), test_env("CB_FAKESF_URL"));
	snprintf(sealed, sizeof(sealed), "%s", db_val(res, 0, 2));
	ck_assert(strncmp(sealed, "v1.", 3) == 0);
	testdb_keys_open(&k, db);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_read(db, &k, "sf_tokens", db_val(res, 0, 0), &plain, NULL), CB_OK);
	db_res_free(res);
	j = cJSON_Parse(buf_cstr(&plain));
	ck_assert_ptr_nonnull(j);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "access_token")));
	at = cJSON_GetObjectItem(j, "access_token")->valuestring;
	ck_assert_uint_ge(strlen(at), 12);
	test_record_secret(at);		/* scripts/test.sh fails if any log has it */
	ck_assert_ptr_null(strstr(sealed, at));
	snprintf(log, sizeof(log), "%s/cb-worker.log", test_env("CB_LOG_DIR"));
	ck_assert(!file_has(log, at));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "instance_url")->valuestring,
	    test_env("CB_FAKESF_URL"));
	sodium_memzero(cJSON_GetObjectItem(j, "access_token")->valuestring, strlen(at));
	cJSON_Delete(j);
	buf_wipe(&plain);
	testdb_keys_close(&k);
	db_close(db);

	/* A restarted worker uses the stored token: no new mint. */
	tokens = fakesf_stat("token_requests");
	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh restart-worker 2>&1", test_env("CB_REPO"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "restart-worker: %s", out);
	person(name, sizeof(name), email, sizeof(email));
	submit("token-2", name, email, sub);
	ck_assert_msg(outbox_wait(sub, "done", 15000, NULL, NULL, 0), "not delivered after restart");
	ck_assert_int_eq(fakesf_stat("token_requests"), tokens);
	ck_assert(file_has(log, "\"sf_token_loaded\""));
}
END_TEST

/* ---- refusal to start with a wrong root key ---------------------------- */

/* A fresh random root key file (64 hex), mode `mode`, under a new directory. */
static void
wrong_key(char *dir, size_t dirsz, char *path, size_t pathsz, mode_t mode)
{
	unsigned char	 k[32];
	char		 hex[65], tmpl[] = "/tmp/cbwrong-XXXXXX";
	int		 fd;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(dir, dirsz, "%s", tmpl);
	snprintf(path, pathsz, "%s/root.key", dir);
	randombytes_buf(k, sizeof(k));
	util_hex(hex, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	test_record_secret(hex);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, hex, 64), 64);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	sodium_memzero(hex, sizeof(hex));
}

static void
rm_dir(const char *dir)
{
	char	 cmd[200], out[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)test_run(cmd, out, sizeof(out));
}

START_TEST(responder_refuses_wrong_root_key)
{
	char	 dir[64], key[128], cmd[1024], out[4096];
	int	 rc;

	wrong_key(dir, sizeof(dir), key, sizeof(key), 0600);
	/*
	 * Leak checking is off for this one process: lib/route.c's refusal path
	 * returns without keyring_close (18 bytes, reported separately).
	 */
	snprintf(cmd, sizeof(cmd), "CB_SEAL_ROOT_KEY_FILE=%s"
	    " ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" timeout 20 %s/bin/health --socket %s/x.sock --procs 1 2>&1", key,
	    test_env("CB_BUILD"), dir);
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "CB_SEAL_ROOT_KEY_FILE") != NULL, "message: %s", out);
	ck_assert_msg(strstr(out, "refusing to start") != NULL, "message: %s", out);
	rm_dir(dir);
}
END_TEST

START_TEST(worker_refuses_wrong_root_key)
{
	char	 dir[64], key[128], cmd[1024], out[4096];
	int	 rc;

	wrong_key(dir, sizeof(dir), key, sizeof(key), 0600);
	snprintf(cmd, sizeof(cmd), "CB_SEAL_ROOT_KEY_FILE=%s timeout 20 %s/bin/cb-worker"
	    " --only outbox 2>&1", key, test_env("CB_BUILD"));
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "cb-worker: refusing to start") != NULL, "message: %s", out);
	ck_assert_msg(strstr(out, "CB_SEAL_ROOT_KEY_FILE") != NULL, "message: %s", out);
	rm_dir(dir);

	/* A root key file others can read: refused too, naming the setting. */
	wrong_key(dir, sizeof(dir), key, sizeof(key), 0644);
	snprintf(cmd, sizeof(cmd), "CB_SEAL_ROOT_KEY_FILE=%s timeout 20 %s/bin/cb-worker"
	    " --only outbox 2>&1", key, test_env("CB_BUILD"));
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "CB_SEAL_ROOT_KEY_FILE") != NULL && strstr(out, "0644") != NULL,
	    "message: %s", out);
	rm_dir(dir);
}
END_TEST

static Suite *
sealing_suite(void)
{
	Suite	*su = suite_create("sealing");
	TCase	*tc = tcase_create("at-rest");
	TCase	*st = tcase_create("start");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, submission_sealed_at_rest_delivered_intact);
	tcase_add_test(tc, copied_value_does_not_open);
	tcase_add_test(tc, swapped_outbox_payload_is_dead_lettered);
	tcase_add_test(tc, legacy_clear_payload_still_delivered);
	tcase_add_test(tc, token_cache_sealed_and_survives_restart);
	tcase_add_test(tc, reseal_after_rotation);
	tcase_add_test(tc, reseal_seals_clear_command_values);
	tcase_add_test(tc, clear_values_sealed_under_faults);
	suite_add_tcase(su, tc);
	tcase_set_timeout(st, 60);
	tcase_add_test(st, responder_refuses_wrong_root_key);
	tcase_add_test(st, worker_refuses_wrong_root_key);
	suite_add_tcase(su, st);
	return su;
}

int
main(void)
{
	return cu_run(sealing_suite());
}
