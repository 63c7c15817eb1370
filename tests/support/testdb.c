/*
 * testdb: see testdb.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "ccache.h"
#include "errs.h"
#include "http.h"
#include "keyring.h"
#include "kv.h"
#include "reseal.h"
#include "testdb.h"
#include "util.h"

struct db *
testdb_open(void)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));

	ck_assert_msg(db_connect(db) == CB_OK, "postgres: %s", db_errmsg(db));
	return db;
}

void
testdb_exec(const char *q, int n, const char *const *params)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));

	ck_assert_msg(db_exec(db, q, n, params) == CB_OK, "%s: %s", q, db_errmsg(db));
	db_close(db);
}

void
testdb_val(char *out, size_t outsz, const char *q, int n, const char *const *params)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));
	struct db_res	*res = NULL;

	ck_assert_msg(db_query(db, &res, q, n, params) == CB_OK, "%s: %s", q, db_errmsg(db));
	snprintf(out, outsz, "%s", db_rows(res) > 0 && !db_isnull(res, 0, 0) ?
	    db_val(res, 0, 0) : "");
	db_res_free(res);
	db_close(db);
}

long
testdb_long(const char *q, int n, const char *const *params)
{
	char	 v[64];

	testdb_val(v, sizeof(v), q, n, params);
	return strtol(v, NULL, 10);
}

void
testdb_one(struct db *db, char *out, size_t outsz, const char *q, int n,
    const char *const *params)
{
	struct db	*own = db == NULL ? db_open(test_env("CB_PG_DSN")) : NULL;
	struct db_res	*res = NULL;

	if (own != NULL)
		db = own;
	ck_assert_msg(db_query(db, &res, q, n, params) == CB_OK, "%s: %s", q, db_errmsg(db));
	ck_assert_msg(db_rows(res) == 1, "%s: %zu rows", q, db_rows(res));
	snprintf(out, outsz, "%s", db_isnull(res, 0, 0) ? "" : db_val(res, 0, 0));
	db_res_free(res);
	if (own != NULL)
		db_close(own);
}

static char	 testdb_keydir[600], testdb_keyfile[640];

void
testdb_keys_open(struct keyring *k, struct db *db)
{
	char	 tmpl[560], cmd[1600], out[256], err[512];
	int	 rc;

	if (testdb_keydir[0] == '\0') {
		snprintf(tmpl, sizeof(tmpl), "%s/keytest-XXXXXX", test_env("CB_STATE"));
		ck_assert_ptr_nonnull(mkdtemp(tmpl));
		snprintf(testdb_keydir, sizeof(testdb_keydir), "%s", tmpl);
		snprintf(testdb_keyfile, sizeof(testdb_keyfile), "%s/root.key", testdb_keydir);
		snprintf(cmd, sizeof(cmd), "install -m 0600 -o root -g root %s %s 2>&1",
		    test_env("CB_SEAL_ROOT_KEY_FILE"), testdb_keyfile);
		ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "copy root key: %s", out);
	}
	rc = keyring_open(k, db, testdb_keyfile, err, sizeof(err));
	ck_assert_msg(rc == CB_OK, "keyring_open: %s %s", errs_name(rc), err);
}

void
testdb_keys_close(struct keyring *k)
{
	char	 cmd[700], out[64];

	keyring_close(k);
	if (testdb_keydir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", testdb_keydir);
		(void)test_run(cmd, out, sizeof(out));
		testdb_keydir[0] = '\0';
	}
}

cJSON *
testdb_unseal_json(const char *table, const char *key, const char *sql)
{
	struct keyring	 k;
	struct db	*db = testdb_open();
	struct buf	 plain;
	char		 sealed[16384];
	cJSON		*j;

	testdb_one(db, sealed, sizeof(sealed), sql, 1, (const char *[]){ key });
	ck_assert_msg(strncmp(sealed, "v1.", 3) == 0, "%s %s: not sealed", table, key);
	testdb_keys_open(&k, db);
	buf_init(&plain, 65536);
	ck_assert_int_eq(reseal_open_value(keyring_get(&k, db), table, key, sealed, &plain), CB_OK);
	j = cJSON_Parse(buf_cstr(&plain));
	ck_assert_ptr_nonnull(j);
	buf_wipe(&plain);
	testdb_keys_close(&k);
	db_close(db);
	return j;
}

struct kv *
testdb_kv_open(void)
{
	long long	 port = 0;
	struct kv	*kv;

	ck_assert_int_eq(util_parse_ll(test_env("CB_REDIS_PORT"), 1, 65535, &port), CB_OK);
	kv = kv_open(test_env("CB_REDIS_HOST"), (int)port, getenv("CB_REDIS_PASSWORD"), 2000);
	ck_assert_ptr_nonnull(kv);
	return kv;
}

long long
testdb_ccache_pttl(const char *org, const char *e164, char *key, size_t keysz)
{
	struct kv	*kv = testdb_kv_open();
	struct kv_reply	*r = NULL;
	char		 k[CCACHE_KEY_MAX];
	long long	 ms;

	ck_assert_int_eq(ccache_key(k, test_blind_key(), org, e164), CB_OK);
	ck_assert_int_eq(kv_cmd(kv, &r, 2, (const char *[]){ "PTTL", k }, NULL), CB_OK);
	ms = kv_reply_int(r);
	kv_reply_free(r);
	kv_close(kv);
	if (key != NULL)
		util_strlcpy(key, k, keysz);
	return ms;
}
