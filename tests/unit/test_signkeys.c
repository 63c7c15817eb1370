/*
 * test_signkeys: the signing-key state machine (lib/signkeys) against a
 * live Postgres, plus the pure helpers of lib/refresh and lib/userauth.
 *
 * The key cases run on a session-private copy of signing_keys: a
 * temporary table of the same shape (indexes and checks included) shadows
 * the real one for this connection, so the stack's keys are never touched.
 * The seal keyring is the stack's (CB_SEAL_ROOT_KEY_FILE), opened as the
 * file's owner.  Time is moved in the table (created_at, retire_after)
 * instead of waited for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "db.h"
#include "errs.h"
#include "jwt.h"
#include "keyring.h"
#include "log.h"
#include "refresh.h"
#include "route.h"
#include "signkeys.h"
#include "userauth.h"
#include "util.h"

static struct app	 app;

static void
app_up(void)
{
	struct stat	 st;
	char		 err[512] = "";
	uid_t		 euid = geteuid();
	int		 rc;

	memset(&app, 0, sizeof(app));
	ck_assert_msg(settings_load(&app.settings, err, sizeof(err)) == CB_OK, "%s", err);
	app.db = db_open(app.settings.pg_dsn);
	ck_assert_msg(db_connect(app.db) == CB_OK, "%s", db_errmsg(app.db));
	/* The root key file is readable by its owner only: act as it meanwhile. */
	ck_assert_int_eq(stat(app.settings.seal_root_key_file, &st), 0);
	if (euid == 0 && st.st_uid != 0)
		ck_assert_int_eq(seteuid(st.st_uid), 0);
	rc = keyring_open(&app.keys, app.db, app.settings.seal_root_key_file, err, sizeof(err));
	if (euid != geteuid())
		ck_assert_int_eq(seteuid(euid), 0);
	ck_assert_msg(rc == CB_OK, "keyring: %s", err);
	ck_assert_int_eq(db_exec(app.db, "CREATE TEMP TABLE signing_keys"
	    " (LIKE public.signing_keys INCLUDING ALL)", 0, NULL), CB_OK);
	signkeys_forget();
}

static void
app_down(void)
{
	ck_assert_int_eq(db_exec(app.db, "DROP TABLE pg_temp.signing_keys", 0, NULL), CB_OK);
	signkeys_forget();
	keyring_close(&app.keys);
	db_close(app.db);
	settings_free(&app.settings);
}

static void
val(const char *sql, const char *p1, char *out, size_t outsz)
{
	struct db_res	*res = NULL;
	int		 rc;

	rc = db_query(app.db, &res, sql, p1 ? 1 : 0, (const char *[]){ p1 });
	ck_assert_msg(rc == CB_OK, "%s: %s", sql, db_errmsg(app.db));
	ck_assert_uint_eq(db_rows(res), 1);
	util_strlcpy(out, db_val(res, 0, 0) ? db_val(res, 0, 0) : "", outsz);
	db_res_free(res);
}

static void
exec1(const char *sql, const char *p1)
{
	int	 rc = db_exec(app.db, sql, p1 ? 1 : 0, (const char *[]){ p1 });

	ck_assert_msg(rc == CB_OK, "%s: %s", sql, db_errmsg(app.db));
}

static void
state_of(const char *kid, char *st, size_t stsz)
{
	val("SELECT state FROM signing_keys WHERE kid = $1", kid, st, stsz);
}

/* Pretend the next key was published a minute ago. */
static void
age_next(void)
{
	exec1("UPDATE signing_keys SET created_at = now() - interval '60 seconds'"
	    " WHERE state = 'next'", NULL);
}

START_TEST(kid_format)
{
	char	 a[JWT_KID_BUFSZ], b[JWT_KID_BUFSZ];
	int	 i;

	signkeys_kid_new(a);
	signkeys_kid_new(b);
	ck_assert_uint_eq(strlen(a), SIGNKEYS_KID_LEN);
	ck_assert(jwt_kid_ok(a));
	ck_assert_int_eq(strncmp(a, "k-20", 4), 0);
	ck_assert_int_eq(a[10], '-');
	for (i = 2; i < 10; i++)
		ck_assert(a[i] >= '0' && a[i] <= '9');
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(refresh_token_shapes)
{
	static const struct {
		const char	*tok;
		int		 ok;
	} cases[] = {
		{ "cbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1 },
		{ "cbr_abc-_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab", 1 },
		{ "cbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },	/* short */
		{ "cbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },	/* long */
		{ "cbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },	/* prefix */
		{ "cbr_AAAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAA", 0 },	/* alphabet */
		{ "cbr_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA", 0 },
		{ "", 0 },
	};
	size_t	 i;

	for (i = 0; i < CU_NELEM(cases); i++)
		ck_assert_msg(refresh_token_ok(cases[i].tok) == cases[i].ok, "case %zu", i);
	ck_assert(!refresh_token_ok(NULL));
}
END_TEST

START_TEST(bootstrap_then_rotate)
{
	struct signkeys_rotation res;
	struct jwt_verify_opts	 o;
	struct jwt_claims	 c, out;
	unsigned char		 pk[JWT_PUBLICKEYBYTES];
	char			 active[JWT_KID_BUFSZ], next[JWT_KID_BUFSZ], n[64], tok[JWT_TOKEN_BUFSZ];
	struct seal_keyring	*kr;

	app_up();
	kr = app_keys(&app);
	ck_assert_ptr_nonnull(kr);
	/* A fresh table: one active key, one next key; a second call adds nothing. */
	ck_assert_int_eq(signkeys_ensure(&app), CB_OK);
	ck_assert_int_eq(signkeys_ensure(&app), CB_OK);
	val("SELECT count(*) FROM signing_keys", NULL, n, sizeof(n));
	ck_assert_str_eq(n, "2");
	val("SELECT kid FROM signing_keys WHERE state = 'active'", NULL, active, sizeof(active));
	val("SELECT kid FROM signing_keys WHERE state = 'next'", NULL, next, sizeof(next));
	val("SELECT count(*) FROM signing_keys WHERE private_sealed LIKE 'v1.%'"
	    " AND activated_at IS NOT NULL", NULL, n, sizeof(n));
	ck_assert_str_eq(n, "1");

	/* Bounds. */
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 900, SIGNKEYS_LEAD_MIN_S - 1, &res),
	    CB_ERR_VALIDATION);
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 0, SIGNKEYS_LEAD_S, &res), CB_ERR_VALIDATION);
	/* The next key was just published: not yet. */
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 900, SIGNKEYS_LEAD_MIN_S, &res), CB_ERR_CONFLICT);
	ck_assert_int_ge(res.wait_s, 1);
	ck_assert_int_le(res.wait_s, SIGNKEYS_LEAD_MIN_S);
	ck_assert_str_eq(res.next, next);
	state_of(active, n, sizeof(n));
	ck_assert_str_eq(n, "active");
	/* The default lead is one JWKS lifetime: a minute is not enough. */
	age_next();
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 900, SIGNKEYS_LEAD_S, &res), CB_ERR_CONFLICT);
	ck_assert_int_ge(res.wait_s, SIGNKEYS_LEAD_S - 61);

	/* Aged enough for the short lead: next -> active -> retiring, a new next. */
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 900, SIGNKEYS_LEAD_MIN_S, &res), CB_OK);
	ck_assert_str_eq(res.retiring, active);
	ck_assert_str_eq(res.active, next);
	ck_assert_str_ne(res.next, next);
	ck_assert_int_eq(res.retired, 0);
	ck_assert_uint_eq(strlen(res.retire_after), 20);
	state_of(active, n, sizeof(n));
	ck_assert_str_eq(n, "retiring");
	state_of(next, n, sizeof(n));
	ck_assert_str_eq(n, "active");
	state_of(res.next, n, sizeof(n));
	ck_assert_str_eq(n, "next");
	val("SELECT round(extract(epoch FROM retire_after - retiring_at))::int FROM signing_keys"
	    " WHERE kid = $1", active, n, sizeof(n));
	ck_assert_int_eq((int)strtol(n, NULL, 10), 900 + SIGNKEYS_SKEW_S);

	/* The process signs with the new active key; the retiring one still verifies. */
	memset(&c, 0, sizeof(c));
	util_strlcpy(c.iss, "https://issuer.test", sizeof(c.iss));
	util_strlcpy(c.aud, USERAUTH_AUDIENCE, sizeof(c.aud));
	util_strlcpy(c.sub, "someone", sizeof(c.sub));
	util_strlcpy(c.typ, "access", sizeof(c.typ));
	c.iat = util_now_s();
	c.exp = c.iat + 60;
	ck_assert_int_eq(signkeys_sign(&app, &c, tok, sizeof(tok)), CB_OK);
	memset(&o, 0, sizeof(o));
	o.iss = c.iss;
	o.aud = c.aud;
	o.typ = c.typ;
	o.leeway = USERAUTH_LEEWAY_S;
	o.key_for_kid = signkeys_key_for_kid;
	o.ud = &app;
	ck_assert_int_eq(jwt_verify(tok, &o, &out), CB_OK);
	ck_assert_int_eq(signkeys_key_for_kid(next, pk, &app), 0);
	ck_assert_int_eq(signkeys_key_for_kid(active, pk, &app), 0);
	ck_assert_int_eq(signkeys_key_for_kid(res.next, pk, &app), 0);
	ck_assert_int_ne(signkeys_key_for_kid("k-19700101-nothere", pk, &app), 0);
	{
		cJSON		*doc = NULL;
		const cJSON	*k;
		char		 kid[JWT_KID_BUFSZ];
		int		 keys = 0;

		ck_assert_int_eq(signkeys_jwks(&app, &doc), CB_OK);
		cJSON_ArrayForEach(k, cJSON_GetObjectItem(doc, "keys")) {
			ck_assert_int_eq(jwt_jwk_parse_public(k, kid, sizeof(kid), pk), CB_OK);
			keys++;
		}
		ck_assert_int_eq(keys, 3);
		cJSON_Delete(doc);
	}

	/* Its grace over (moved in time), the next rotation retires it. */
	exec1("UPDATE signing_keys SET retire_after = now() - interval '1 second' WHERE kid = $1",
	    active);
	age_next();
	ck_assert_int_eq(signkeys_rotate(app.db, kr, 900, SIGNKEYS_LEAD_MIN_S, &res), CB_OK);
	ck_assert_int_eq(res.retired, 1);
	state_of(active, n, sizeof(n));
	ck_assert_str_eq(n, "retired");
	signkeys_forget();
	ck_assert_int_ne(signkeys_key_for_kid(active, pk, &app), 0);
	val("SELECT count(*) FROM signing_keys WHERE state = 'active'", NULL, n, sizeof(n));
	ck_assert_str_eq(n, "1");
	app_down();
}
END_TEST

/* Rotating an empty table only bootstraps; a lost next key is replaced and must age. */
START_TEST(rotate_bootstraps_and_replaces_next)
{
	struct signkeys_rotation res;
	char			 n[64], active[JWT_KID_BUFSZ];

	app_up();
	ck_assert_int_eq(signkeys_rotate(app.db, app_keys(&app), 900, SIGNKEYS_LEAD_MIN_S, &res),
	    CB_OK);
	ck_assert_int_eq(res.bootstrapped, 1);
	ck_assert_str_eq(res.retiring, "");
	val("SELECT kid FROM signing_keys WHERE state = 'active'", NULL, active, sizeof(active));
	ck_assert_str_eq(res.active, active);
	exec1("DELETE FROM signing_keys WHERE state = 'next'", NULL);
	ck_assert_int_eq(signkeys_rotate(app.db, app_keys(&app), 900, SIGNKEYS_LEAD_MIN_S, &res),
	    CB_ERR_CONFLICT);
	ck_assert_int_eq(res.bootstrapped, 0);
	ck_assert_int_eq(res.wait_s, SIGNKEYS_LEAD_MIN_S);
	val("SELECT count(*) FROM signing_keys WHERE state = 'next'", NULL, n, sizeof(n));
	ck_assert_str_eq(n, "1");
	state_of(active, n, sizeof(n));
	ck_assert_str_eq(n, "active");
	app_down();
}
END_TEST

/* A sealed seed copied onto another row does not open there. */
START_TEST(private_half_bound_to_its_row)
{
	struct jwt_claims	 c;
	char			 tok[JWT_TOKEN_BUFSZ], *err;

	app_up();
	ck_assert_int_eq(signkeys_ensure(&app), CB_OK);
	exec1("UPDATE signing_keys SET private_sealed = (SELECT private_sealed FROM signing_keys"
	    " WHERE state = 'next') WHERE state = 'active'", NULL);
	memset(&c, 0, sizeof(c));
	util_strlcpy(c.iss, "https://issuer.test", sizeof(c.iss));
	util_strlcpy(c.aud, USERAUTH_AUDIENCE, sizeof(c.aud));
	util_strlcpy(c.sub, "someone", sizeof(c.sub));
	util_strlcpy(c.typ, "access", sizeof(c.typ));
	c.iat = util_now_s();
	c.exp = c.iat + 60;
	cu_stderr_begin();
	ck_assert_int_eq(signkeys_sign(&app, &c, tok, sizeof(tok)), CB_ERR_UNAVAILABLE);
	err = cu_stderr_end();
	ck_assert_ptr_nonnull(strstr(err, "signing_key_unusable"));
	free(err);
	app_down();
}
END_TEST

/*
 * A refused role is recorded for the pipeline to render (route_fail_ext):
 * the detail and the members name the roles; nothing is answered here.
 */
START_TEST(require_role_names_the_roles)
{
	static const char *const staff[] = { "admin", "operator", NULL };
	struct user_auth	 u;
	struct req		 r;
	char			**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/x", NULL);
	const cJSON		*roles;

	req_init(&r, env, NULL, NULL);
	ck_assert_int_eq(userauth_require_role(&r, staff), CB_ERR_UNAUTHENTICATED);
	memset(&u, 0, sizeof(u));
	util_strlcpy(u.role, "operator", sizeof(u.role));
	r.auth = &u;
	ck_assert_int_eq(userauth_require_role(&r, staff), CB_OK);
	ck_assert_int_eq(r.fail_code, CB_OK);
	util_strlcpy(u.role, "viewer", sizeof(u.role));
	ck_assert_int_eq(userauth_require_role(&r, staff), CB_ERR_FORBIDDEN);
	ck_assert_int_eq(r.responded, 0);
	ck_assert_int_eq(r.fail_code, CB_ERR_FORBIDDEN);
	ck_assert_str_eq(r.fail_detail, "this requires the role admin or operator");
	roles = cJSON_GetObjectItem(r.fail_ext, "required_roles");
	ck_assert_int_eq(cJSON_GetArraySize(roles), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(roles, 1)->valuestring, "operator");
	r.auth = NULL;
	req_free(&r);
	cu_env_free(env);
}
END_TEST

static Suite *
signkeys_suite(void)
{
	Suite	*s = suite_create("signkeys");
	TCase	*pure = tcase_create("pure");
	TCase	*db = tcase_create("db");

	tcase_add_test(pure, kid_format);
	tcase_add_test(pure, refresh_token_shapes);
	tcase_add_test(pure, require_role_names_the_roles);
	suite_add_tcase(s, pure);
	tcase_set_timeout(db, 30);
	tcase_add_test(db, bootstrap_then_rotate);
	tcase_add_test(db, rotate_bootstraps_and_replaces_next);
	tcase_add_test(db, private_half_bound_to_its_row);
	suite_add_tcase(s, db);
	return s;
}

int
main(void)
{
	log_init("test_signkeys", LOG_LVL_WARN);
	return cu_run(signkeys_suite());
}
