/*
 * test_keyring: the process keyring (lib/keyring) and the re-seal job
 * (lib/reseal) against a live Postgres (CB_PG_DSN), each test in its own
 * scratch database migrated with the real cb-migrate ($CB_BUILD/bin,
 * $CB_REPO/sql) and with its own root key file (0600, random).
 *
 * Covered: the first open bootstraps exactly one current key per purpose
 * (and a second open adds none); a rotation makes a new current key while
 * values sealed before still open, in this process and in a fresh one; a
 * wrong root key is CB_ERR_CRYPTO naming CB_SEAL_ROOT_KEY_FILE, a root key
 * file readable by others CB_ERR_CONFIG, neither message holding key
 * material; re-seal after rotating both purposes moves every sealed column
 * onto the new ids, reports progress per table, leaves a copied value alone
 * (CB_ERR_CRYPTO for that row only), and loses no concurrent write (the
 * compare-and-set: a writer that commits while the job waits on its row
 * wins).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "../support/check_util.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "http.h"
#include "keyring.h"
#include "reseal.h"
#include "seal.h"
#include "util.h"

static char	 scratch[64];
static char	 dsn[1400];
static char	 keydir[512];
static char	 rootfile[560];	/* the deployment's root key */
static char	 roothex[65];

/* A fresh root key file (64 hex + newline) at path with mode; its hex into hex. */
static void
write_root_key(const char *path, mode_t mode, char hex[65])
{
	unsigned char	 k[32];
	char		 line[66];
	int		 fd;

	randombytes_buf(k, sizeof(k));
	util_hex(hex, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	snprintf(line, sizeof(line), "%s\n", hex);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, line, 65), 65);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void
setup(void)
{
	struct db	*db = db_open(cu_env_required("CB_PG_SUPER_DSN"));
	char		 sql[128], cmd[2200], out[4096], tmpl[512];
	const char	*state = getenv("CB_STATE");

	snprintf(scratch, sizeof(scratch), "cb_keyringtest_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
	(void)db_exec(db, sql, 0, NULL);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER cb_owner", scratch);
	ck_assert_msg(db_exec(db, sql, 0, NULL) == CB_OK, "create database: %s", db_errmsg(db));
	db_close(db);
	/* In a conninfo string the last dbname wins. */
	snprintf(dsn, sizeof(dsn), "%s dbname=%s", cu_env_required("CB_PG_DSN"), scratch);
	/* Migrated by the owner role, used by the application's (as deployed). */
	snprintf(cmd, sizeof(cmd), "CB_CONFIG_FILE= CB_PG_OWNER_DSN='%s dbname=%s' %s/bin/cb-migrate"
	    " --dir %s/sql up 2>&1", cu_env_required("CB_PG_OWNER_DSN"), scratch,
	    test_env("CB_BUILD"), test_env("CB_REPO"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "cb-migrate: %s", out);
	/* Under the stack's state directory when there is one: gone with it. */
	snprintf(tmpl, sizeof(tmpl), "%s/cbkr-XXXXXX", state && state[0] == '/' ? state : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_uint_lt(strlen(tmpl), sizeof(keydir));
	snprintf(keydir, sizeof(keydir), "%s", tmpl);
	snprintf(rootfile, sizeof(rootfile), "%s/root.key", keydir);
	write_root_key(rootfile, 0600, roothex);
}

static void
teardown(void)
{
	struct db	*db = db_open(cu_env_required("CB_PG_SUPER_DSN"));
	char		 sql[128], cmd[600], out[64];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
	(void)db_exec(db, sql, 0, NULL);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	(void)test_run(cmd, out, sizeof(out));
}

static struct db *
scratch_db(void)
{
	struct db	*db = db_open(dsn);

	ck_assert_msg(db_connect(db) == CB_OK, "scratch db: %s", db_errmsg(db));
	return db;
}

/* One value of one row of a query on the scratch database, copied. */
static void
q1(struct db *db, const char *sql, int n, const char *const *p, char *out, size_t outsz)
{
	struct db_res	*res = NULL;

	ck_assert_msg(db_query(db, &res, sql, n, p) == CB_OK, "%s: %s", sql, db_errmsg(db));
	ck_assert_msg(db_rows(res) == 1, "%s: %zu rows", sql, db_rows(res));
	snprintf(out, outsz, "%s", db_isnull(res, 0, 0) ? "" : db_val(res, 0, 0));
	db_res_free(res);
}

static long
count(struct db *db, const char *sql)
{
	char	 v[32];

	q1(db, sql, 0, NULL, v, sizeof(v));
	return strtol(v, NULL, 10);
}

static void
open_ok(struct keyring *k, struct db *db, const char *root)
{
	char	 err[512];
	int	 rc;

	rc = keyring_open(k, db, root, err, sizeof(err));
	ck_assert_msg(rc == CB_OK, "keyring_open: %s (%s)", errs_name(rc), err);
}

static uint32_t
current(struct keyring *k, struct db *db, int purpose)
{
	uint32_t	 id = 0;

	ck_assert_int_eq(seal_keyring_current(keyring_get(k, db), purpose, &id), CB_OK);
	return id;
}

START_TEST(bootstrap_one_current_per_purpose)
{
	struct db	*db = scratch_db();
	struct keyring	 k, k2;

	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys"), 0);
	open_ok(&k, db, rootfile);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys"), 2);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys WHERE purpose = 'tokens'"
	    " AND state = 'current' AND id = 1"), 1);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys WHERE purpose = 'pii'"
	    " AND state = 'current' AND id = 1"), 1);
	ck_assert_uint_eq(current(&k, db, SEAL_PURPOSE_TOKENS), 1);
	ck_assert_uint_eq(current(&k, db, SEAL_PURPOSE_PII), 1);
	/* Another process starting later loads them and adds none. */
	open_ok(&k2, db, rootfile);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys"), 2);
	ck_assert_uint_eq(current(&k2, db, SEAL_PURPOSE_PII), 1);
	keyring_close(&k2);
	keyring_close(&k);
	db_close(db);
}
END_TEST

START_TEST(rotate_new_current_old_values_open)
{
	struct db	*db = scratch_db();
	struct keyring	 k, k2;
	struct buf	 v1, v2, plain;
	uint32_t	 id;
	int		 nid = 0;
	static const char secret[] = "jane@example.com";

	buf_init(&v1, 4096);
	buf_init(&v2, 4096);
	buf_init(&plain, 4096);
	open_ok(&k, db, rootfile);
	ck_assert_int_eq(seal_seal_text(keyring_get(&k, db), SEAL_PURPOSE_PII,
	    (const unsigned char *)secret, strlen(secret), "users:u1:email", &v1), CB_OK);
	ck_assert_int_eq(seal_key_id_text(buf_cstr(&v1), &id), CB_OK);
	ck_assert_uint_eq(id, 1);

	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &nid), CB_OK);
	ck_assert_int_eq(nid, 2);
	ck_assert_uint_eq(current(&k, db, SEAL_PURPOSE_PII), 2);
	ck_assert_uint_eq(current(&k, db, SEAL_PURPOSE_TOKENS), 1);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys WHERE state = 'current'"), 2);
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys WHERE purpose = 'pii'"
	    " AND id = 1 AND state = 'active'"), 1);
	ck_assert_int_eq(keyring_rotate(&k, db, "no-such-purpose", &nid), CB_ERR_VALIDATION);

	/* New values go under the new key; the old value still opens. */
	ck_assert_int_eq(seal_seal_text(keyring_get(&k, db), SEAL_PURPOSE_PII,
	    (const unsigned char *)secret, strlen(secret), "users:u2:email", &v2), CB_OK);
	ck_assert_int_eq(seal_key_id_text(buf_cstr(&v2), &id), CB_OK);
	ck_assert_uint_eq(id, 2);
	ck_assert_int_eq(seal_open_text(keyring_get(&k, db), SEAL_PURPOSE_PII, buf_cstr(&v1),
	    "users:u1:email", &plain), CB_OK);
	ck_assert_str_eq(buf_cstr(&plain), secret);
	buf_wipe(&plain);

	/* So do both in a process that starts after the rotation. */
	open_ok(&k2, db, rootfile);
	ck_assert_uint_eq(current(&k2, db, SEAL_PURPOSE_PII), 2);
	buf_init(&plain, 4096);
	ck_assert_int_eq(seal_open_text(keyring_get(&k2, db), SEAL_PURPOSE_PII, buf_cstr(&v1),
	    "users:u1:email", &plain), CB_OK);
	buf_wipe(&plain);
	buf_init(&plain, 4096);
	ck_assert_int_eq(seal_open_text(keyring_get(&k2, db), SEAL_PURPOSE_PII, buf_cstr(&v2),
	    "users:u2:email", &plain), CB_OK);
	/* Bound to its row: not as another row's value, not as a token. */
	ck_assert_int_eq(seal_open_text(keyring_get(&k2, db), SEAL_PURPOSE_PII, buf_cstr(&v2),
	    "users:u1:email", &plain), CB_ERR_CRYPTO);
	ck_assert_int_eq(seal_open_text(keyring_get(&k2, db), SEAL_PURPOSE_TOKENS, buf_cstr(&v2),
	    "users:u2:email", &plain), CB_ERR_CRYPTO);
	buf_wipe(&plain);
	keyring_close(&k2);
	keyring_close(&k);
	buf_free(&v1);
	buf_free(&v2);
	db_close(db);
}
END_TEST

START_TEST(wrong_root_key_is_crypto)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	char		 other[560], otherhex[65], err[512];

	open_ok(&k, db, rootfile);	/* the keys now exist under rootfile */
	keyring_close(&k);
	snprintf(other, sizeof(other), "%s/other.key", keydir);
	write_root_key(other, 0600, otherhex);
	ck_assert_int_eq(keyring_open(&k, db, other, err, sizeof(err)), CB_ERR_CRYPTO);
	ck_assert_msg(strstr(err, "CB_SEAL_ROOT_KEY_FILE") != NULL, "message: %s", err);
	ck_assert_ptr_null(strstr(err, otherhex));
	ck_assert_ptr_null(strstr(err, roothex));
	ck_assert_ptr_null(keyring_get(&k, db));
	keyring_close(&k);
	/* Nothing was added or changed by the refused open. */
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys"), 2);
	db_close(db);
}
END_TEST

START_TEST(root_key_mode_0644_is_config)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	char		 loose[560], hex[65], err[512];

	snprintf(loose, sizeof(loose), "%s/loose.key", keydir);
	write_root_key(loose, 0644, hex);
	ck_assert_int_eq(keyring_open(&k, db, loose, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "0644") != NULL, "message: %s", err);
	ck_assert_ptr_null(strstr(err, hex));
	keyring_close(&k);
	/* Refused before touching the database. */
	ck_assert_int_eq(count(db, "SELECT count(*) FROM data_keys"), 0);
	snprintf(loose, sizeof(loose), "%s/missing.key", keydir);
	ck_assert_int_eq(keyring_open(&k, db, loose, err, sizeof(err)), CB_ERR_CONFIG);
	keyring_close(&k);
	db_close(db);
}
END_TEST

/* ---- re-seal -------------------------------------------------------- */

struct rows {
	char	 org[24];
	char	 user[40];
	char	 rtok[40];
	char	 sub[40];
	char	 outbox[24];
};

/* Seal `plain` for table/key and return the text (static buffer per call site). */
static void
seal_for(struct keyring *k, struct db *db, const char *table, const char *key,
    const char *plain, char *out, size_t outsz)
{
	struct buf	 b;

	buf_init(&b, 65536);
	ck_assert_int_eq(reseal_seal_value(keyring_get(k, db), table, key, plain, strlen(plain),
	    &b), CB_OK);
	ck_assert_uint_lt(b.len, outsz);
	snprintf(out, outsz, "%s", buf_cstr(&b));
	buf_free(&b);
}

/* One row with a sealed value in every sealed column. */
static void
seed_rows(struct keyring *k, struct db *db, struct rows *r)
{
	char	 v[4096], form[40], ctx[40];

	q1(db, "INSERT INTO orgs (slug, name) VALUES ('kr-test', 'Keyring test') RETURNING id",
	    0, NULL, r->org, sizeof(r->org));
	util_uuid_v4(r->user);
	seal_for(k, db, "users", r->user, "jane@example.com", v, sizeof(v));
	ck_assert_int_eq(db_exec(db, "INSERT INTO users (id, org_id, email_hash, email_sealed,"
	    " password_hash, role) VALUES ($1, $2, '\\x01', $3, 'x', 'admin')", 3,
	    (const char *[]){ r->user, r->org, v }), CB_OK);
	util_uuid_v4(r->rtok);
	seal_for(k, db, "refresh_tokens", r->rtok, "{\"ua\":\"test\",\"ip\":\"127.0.0.1\"}", v,
	    sizeof(v));
	ck_assert_int_eq(db_exec(db, "INSERT INTO refresh_tokens (id, org_id, user_id, family_id,"
	    " token_hash, meta_sealed, expires_at, idle_expires_at) VALUES ($1, $2, $3,"
	    " gen_random_uuid(), '\\x02', $4, now() + interval '1 day', now() + interval '1 day')", 4,
	    (const char *[]){ r->rtok, r->org, r->user, v }), CB_OK);
	seal_for(k, db, "signing_keys", "kid-1", "private key bytes", v, sizeof(v));
	ck_assert_int_eq(db_exec(db, "INSERT INTO signing_keys (kid, state, public_key,"
	    " private_sealed) VALUES ('kid-1', 'active', decode(repeat('ab', 32), 'hex'), $1)", 1,
	    (const char *[]){ v }), CB_OK);
	seal_for(k, db, "sf_tokens", "jwt:test", "{\"access_token\":\"00Dxx!t\"}", v, sizeof(v));
	ck_assert_int_eq(db_exec(db, "INSERT INTO sf_tokens (name, instance_url, token_sealed)"
	    " VALUES ('jwt:test', 'https://example.my.salesforce.com', $1)", 1,
	    (const char *[]){ v }), CB_OK);
	/* A form, its version and a context, for a submission and its outbox row. */
	q1(db, "INSERT INTO forms (org_id, name) VALUES ($1, 'f') RETURNING id", 1,
	    (const char *[]){ r->org }, form, sizeof(form));
	ck_assert_int_eq(db_exec(db, "INSERT INTO form_versions (form_id, version, org_id, definition)"
	    " VALUES ($1, 1, $2, '{}')", 2, (const char *[]){ form, r->org }), CB_OK);
	q1(db, "INSERT INTO contexts (org_id, form_id, form_version, tab_token_hash, expires_at)"
	    " VALUES ($1, $2, 1, '\\x03', now() + interval '1 hour') RETURNING id", 2,
	    (const char *[]){ r->org, form }, ctx, sizeof(ctx));
	util_uuid_v4(r->sub);
	seal_for(k, db, "submissions", r->sub, "{\"email\":\"jane@example.com\"}", v, sizeof(v));
	ck_assert_int_eq(db_exec(db, "INSERT INTO submissions (id, org_id, ctx_id, form_id,"
	    " form_version, data_sealed) VALUES ($1, $2, $3, $4, 1, $5)", 5,
	    (const char *[]){ r->sub, r->org, ctx, form, v }), CB_OK);
	seal_for(k, db, "outbox", r->sub, "{\"Email__c\":\"jane@example.com\"}", v, sizeof(v));
	q1(db, "INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed)"
	    " VALUES ($1, 'salesforce.upsert', $2, '{}', $3) RETURNING id", 3,
	    (const char *[]){ r->org, r->sub, v }, r->outbox, sizeof(r->outbox));
}

struct progress {
	struct buf	 lines;
	int		 calls;
};

static void
on_progress(const char *table, long done, long total, void *ud)
{
	struct progress	*p = ud;

	p->calls++;
	ck_assert_int_le(done, total);
	(void)buf_printf(&p->lines, "reseal: %s %ld/%ld\n", table, done, total);
}

/* The key id of every sealed value of the scratch database, checked against want. */
static void
assert_all_under(struct db *db, uint32_t pii, uint32_t tokens)
{
	static const struct { const char *sql; int purpose; } cols[] = {
		{ "SELECT email_sealed FROM users", SEAL_PURPOSE_PII },
		{ "SELECT meta_sealed FROM refresh_tokens WHERE meta_sealed IS NOT NULL", SEAL_PURPOSE_TOKENS },
		{ "SELECT private_sealed FROM signing_keys", SEAL_PURPOSE_TOKENS },
		{ "SELECT data_sealed FROM submissions WHERE data_sealed IS NOT NULL", SEAL_PURPOSE_PII },
		{ "SELECT payload_sealed FROM outbox WHERE payload_sealed IS NOT NULL", SEAL_PURPOSE_PII },
		{ "SELECT token_sealed FROM sf_tokens", SEAL_PURPOSE_TOKENS },
	};
	struct db_res	*res = NULL;
	uint32_t	 id;
	size_t		 i, j;

	for (i = 0; i < CU_NELEM(cols); i++) {
		ck_assert_int_eq(db_query(db, &res, cols[i].sql, 0, NULL), CB_OK);
		ck_assert_uint_ge(db_rows(res), 1);
		for (j = 0; j < db_rows(res); j++) {
			ck_assert_int_eq(seal_key_id_text(db_val(res, j, 0), &id), CB_OK);
			ck_assert_msg(id == (cols[i].purpose == SEAL_PURPOSE_PII ? pii : tokens),
			    "%s: row %zu under key %u", cols[i].sql, j, id);
		}
		db_res_free(res);
		res = NULL;
	}
}

static void
read_ok(struct db *db, struct keyring *k, const char *table, const char *key, const char *want)
{
	struct buf	 plain;
	unsigned long	 kid = 0;
	int		 rc;

	buf_init(&plain, 65536);
	rc = reseal_read(db, k, table, key, &plain, &kid);
	ck_assert_msg(rc == CB_OK, "%s %s: %s", table, key, errs_name(rc));
	ck_assert_str_eq(buf_cstr(&plain), want);
	ck_assert_uint_gt(kid, 0);
	buf_wipe(&plain);
}

START_TEST(reseal_moves_every_column)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	struct rows	 r;
	struct progress	 p;
	int		 pii = 0, tok = 0;
	static const char *const tables[] = {
		"users", "refresh_tokens", "signing_keys", "submissions", "outbox", "sf_tokens",
	};
	char		 line[96];
	size_t		 i;

	open_ok(&k, db, rootfile);
	seed_rows(&k, db, &r);
	assert_all_under(db, 1, 1);
	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &pii), CB_OK);
	ck_assert_int_eq(keyring_rotate(&k, db, "tokens", &tok), CB_OK);
	ck_assert_int_eq(keyring_rotate(&k, db, "tokens", &tok), CB_OK);
	ck_assert_int_eq(pii, 2);
	ck_assert_int_eq(tok, 3);

	memset(&p, 0, sizeof(p));
	buf_init(&p.lines, 65536);
	ck_assert_int_eq(reseal_run(db, &k, 1, on_progress, &p), CB_OK);
	for (i = 0; i < CU_NELEM(tables); i++) {
		snprintf(line, sizeof(line), "reseal: %s 1/1\n", tables[i]);
		ck_assert_msg(strstr(buf_cstr(&p.lines), line) != NULL, "no \"%s\" in:\n%s",
		    line, buf_cstr(&p.lines));
	}
	assert_all_under(db, 2, 3);
	/* Every value still opens, in a process that starts afresh too. */
	keyring_close(&k);
	open_ok(&k, db, rootfile);
	read_ok(db, &k, "users", r.user, "jane@example.com");
	read_ok(db, &k, "refresh_tokens", r.rtok, "{\"ua\":\"test\",\"ip\":\"127.0.0.1\"}");
	read_ok(db, &k, "signing_keys", "kid-1", "private key bytes");
	read_ok(db, &k, "submissions", r.sub, "{\"email\":\"jane@example.com\"}");
	read_ok(db, &k, "outbox", r.outbox, "{\"Email__c\":\"jane@example.com\"}");
	read_ok(db, &k, "sf_tokens", "jwt:test", "{\"access_token\":\"00Dxx!t\"}");
	/* A second run finds nothing stale. */
	buf_reset(&p.lines);
	ck_assert_int_eq(reseal_run(db, &k, 0, on_progress, &p), CB_OK);
	assert_all_under(db, 2, 3);
	buf_free(&p.lines);
	keyring_close(&k);
	db_close(db);
}
END_TEST

START_TEST(reseal_leaves_copied_value)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	struct rows	 r;
	struct buf	 plain;
	char		 u2[40], v[4096], copied[4096];
	unsigned long	 kid = 0;
	int		 id = 0;

	open_ok(&k, db, rootfile);
	seed_rows(&k, db, &r);
	/* A second user whose email_sealed is a copy of the first one's. */
	util_uuid_v4(u2);
	q1(db, "SELECT email_sealed FROM users WHERE id = $1", 1, (const char *[]){ r.user },
	    copied, sizeof(copied));
	ck_assert_int_eq(db_exec(db, "INSERT INTO users (id, org_id, email_hash, email_sealed,"
	    " password_hash, role) VALUES ($1, $2, '\\x09', $3, 'x', 'viewer')", 3,
	    (const char *[]){ u2, r.org, copied }), CB_OK);
	buf_init(&plain, 4096);
	ck_assert_int_eq(reseal_read(db, &k, "users", u2, &plain, &kid), CB_ERR_CRYPTO);
	ck_assert_uint_eq(kid, 1);
	ck_assert_uint_eq(plain.len, 0);
	ck_assert_int_eq(reseal_read(db, &k, "users", "not-a-uuid", &plain, NULL), CB_ERR_VALIDATION);
	ck_assert_int_eq(reseal_read(db, &k, "nope", u2, &plain, NULL), CB_ERR_VALIDATION);
	util_uuid_v4(v);
	ck_assert_int_eq(reseal_read(db, &k, "users", v, &plain, NULL), CB_ERR_NOT_FOUND);
	buf_free(&plain);

	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &id), CB_OK);
	ck_assert_int_eq(reseal_run(db, &k, 100, NULL, NULL), CB_ERR_CRYPTO);
	/* The copy is left exactly as it was; everything else moved. */
	q1(db, "SELECT email_sealed FROM users WHERE id = $1", 1, (const char *[]){ u2 }, v,
	    sizeof(v));
	ck_assert_str_eq(v, copied);
	ck_assert_int_eq(db_exec(db, "DELETE FROM users WHERE id = $1", 1, (const char *[]){ u2 }),
	    CB_OK);
	assert_all_under(db, 2, 1);
	read_ok(db, &k, "users", r.user, "jane@example.com");
	keyring_close(&k);
	db_close(db);
}
END_TEST

/*
 * The writer child's copy of its parent's connection: kept reachable for
 * memcheck (a forked child is leak-checked too) and never used or closed
 * there, since closing it would end the parent's session.
 */
static struct db *volatile parents_db;

START_TEST(reseal_concurrent_writer_wins)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	struct rows	 r;
	char		 theirs[4096], now[4096], c;
	int		 fds[2], status, id = 0;
	pid_t		 pid;

	open_ok(&k, db, rootfile);
	seed_rows(&k, db, &r);
	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &id), CB_OK);
	/* The writer's new value, sealed under the (new) current key. */
	seal_for(&k, db, "users", r.user, "new@example.com", theirs, sizeof(theirs));
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The writer: update the row, hold the lock a while, commit. */
		struct db *w = db_open(dsn);
		int	 rc;

		parents_db = db;
		close(fds[0]);
		if (db_begin(w) != CB_OK || db_exec(w, "UPDATE users SET email_sealed = $2"
		    " WHERE id = $1", 2, (const char *[]){ r.user, theirs }) != CB_OK)
			_exit(1);
		if (write(fds[1], "u", 1) != 1)
			_exit(1);
		test_sleep_ms(1500);
		rc = db_commit(w);
		db_close(w);
		_exit(rc == CB_OK ? 0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	/* Reads the old value, blocks on the writer's lock, then loses the CAS. */
	ck_assert_int_eq(reseal_run(db, &k, 10, NULL, NULL), CB_OK);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	q1(db, "SELECT email_sealed FROM users WHERE id = $1", 1, (const char *[]){ r.user }, now,
	    sizeof(now));
	ck_assert_str_eq(now, theirs);
	read_ok(db, &k, "users", r.user, "new@example.com");
	assert_all_under(db, 2, 1);
	keyring_close(&k);
	db_close(db);
}
END_TEST

/*
 * Regression: the page statement once sorted the key's text ("10" < "2")
 * while paging on its value, and skipped rows.  Twelve outbox rows, pages
 * of two: every one must be visited.
 */
START_TEST(reseal_pages_in_key_order)
{
	struct db	*db = scratch_db();
	struct keyring	 k;
	struct progress	 p;
	char		 org[24], ref[40], v[4096];
	int		 i, id = 0;

	open_ok(&k, db, rootfile);
	q1(db, "INSERT INTO orgs (slug, name) VALUES ('kr-pages', 'Pages') RETURNING id", 0, NULL,
	    org, sizeof(org));
	for (i = 0; i < 12; i++) {
		util_uuid_v4(ref);
		seal_for(&k, db, "outbox", ref, "{\"Email__c\":\"x@example.com\"}", v, sizeof(v));
		ck_assert_int_eq(db_exec(db, "INSERT INTO outbox (org_id, kind, ref_id, payload,"
		    " payload_sealed) VALUES ($1, 'salesforce.upsert', $2, '{}', $3)", 3,
		    (const char *[]){ org, ref, v }), CB_OK);
	}
	ck_assert_int_eq(keyring_rotate(&k, db, "pii", &id), CB_OK);
	memset(&p, 0, sizeof(p));
	buf_init(&p.lines, 65536);
	ck_assert_int_eq(reseal_run(db, &k, 2, on_progress, &p), CB_OK);
	ck_assert_msg(strstr(buf_cstr(&p.lines), "reseal: outbox 12/12\n") != NULL, "%s",
	    buf_cstr(&p.lines));
	ck_assert_int_eq(count(db, "SELECT count(*) FROM outbox WHERE payload_sealed LIKE 'v1.%'"), 12);
	buf_free(&p.lines);
	/* All twelve now under key 2 (the other columns hold nothing here). */
	{
		struct db_res	*res = NULL;
		uint32_t	 kid;
		size_t		 j;

		ck_assert_int_eq(db_query(db, &res, "SELECT payload_sealed FROM outbox", 0, NULL),
		    CB_OK);
		ck_assert_uint_eq(db_rows(res), 12);
		for (j = 0; j < db_rows(res); j++) {
			ck_assert_int_eq(seal_key_id_text(db_val(res, j, 0), &kid), CB_OK);
			ck_assert_uint_eq(kid, 2);
		}
		db_res_free(res);
	}
	keyring_close(&k);
	db_close(db);
}
END_TEST

START_TEST(aad_conventions)
{
	static const struct { const char *table, *key, *aad; int purpose; } cases[] = {
		{ "users", "u", "users:u:email", SEAL_PURPOSE_PII },
		{ "refresh_tokens", "r", "refresh_tokens:r:meta", SEAL_PURPOSE_TOKENS },
		{ "signing_keys", "k", "signing_keys:k:private", SEAL_PURPOSE_TOKENS },
		{ "submissions", "s", "submissions:s:data", SEAL_PURPOSE_PII },
		{ "outbox", "s", "outbox:s:fields", SEAL_PURPOSE_PII },
		{ "sf_tokens", "n", "sf_tokens:n:token", SEAL_PURPOSE_TOKENS },
	};
	char	 aad[64];
	size_t	 i;

	for (i = 0; i < CU_NELEM(cases); i++) {
		ck_assert_int_eq(reseal_aad(cases[i].table, cases[i].key, aad, sizeof(aad)), CB_OK);
		ck_assert_str_eq(aad, cases[i].aad);
		ck_assert_int_eq(reseal_purpose(cases[i].table), cases[i].purpose);
	}
	ck_assert_int_eq(reseal_aad("contexts", "x", aad, sizeof(aad)), CB_ERR_VALIDATION);
	ck_assert_int_eq(reseal_aad("users", "", aad, sizeof(aad)), CB_ERR_VALIDATION);
	ck_assert_int_eq(reseal_aad("users", "0123456789", aad, 12), CB_ERR_VALIDATION);
	ck_assert_int_eq(reseal_purpose("contexts"), -1);
}
END_TEST

static Suite *
keyring_suite(void)
{
	Suite	*s = suite_create("keyring");
	TCase	*tc = tcase_create("keyring");
	TCase	*rs = tcase_create("reseal");
	TCase	*pure = tcase_create("conventions");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bootstrap_one_current_per_purpose);
	tcase_add_test(tc, rotate_new_current_old_values_open);
	tcase_add_test(tc, wrong_root_key_is_crypto);
	tcase_add_test(tc, root_key_mode_0644_is_config);
	suite_add_tcase(s, tc);
	tcase_set_timeout(rs, 60);
	tcase_add_checked_fixture(rs, setup, teardown);
	tcase_add_test(rs, reseal_moves_every_column);
	tcase_add_test(rs, reseal_leaves_copied_value);
	tcase_add_test(rs, reseal_concurrent_writer_wins);
	tcase_add_test(rs, reseal_pages_in_key_order);
	suite_add_tcase(s, rs);
	tcase_add_test(pure, aad_conventions);
	suite_add_tcase(s, pure);
	return s;
}

int
main(void)
{
	return cu_run(keyring_suite());
}
