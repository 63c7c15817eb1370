/*
 * Tokens for people and agents through nginx: login, the rejection matrix
 * of access tokens, refresh-token rotation with reuse detection and the
 * overlap, logout, the operator's sessions-revoke, agent tokens, the JWKS
 * and signing-key rotation under load.
 *
 * Tenants and users are made with cb-admin (the password on stdin).  Bad
 * tokens are built here: with a throwaway key (unknown kid), by editing
 * real tokens, and, for the cases only a trusted key can express (expired,
 * not yet valid, wrong aud/iss/typ), signed with the stack's active key
 * through lib/signkeys, opened with the stack's root key file.
 *
 * Some states are reached by moving time in the database instead of
 * waiting for it (a refresh token rotated a minute ago, a retiring key's
 * grace over): each such step says so.  Login rate-limit buckets are reset
 * in Redis before the logins a case makes, since every test logs in from
 * 127.0.0.1.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "apikey.h"
#include "b64.h"
#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "http.h"
#include "people.h"
#include "pwhash.h"
#include "jwt.h"
#include "keyring.h"
#include "log.h"
#include "kv.h"
#include "refresh.h"
#include "route.h"
#include "seed.h"
#include "signkeys.h"
#include "userauth.h"
#include "users.h"
#include "util.h"

#define JSON_CT		"Content-Type: application/json"
#define TOKSZ		JWT_TOKEN_BUFSZ


/* ------------------------------------------------------------ helpers */

static struct db *
tdb(void)
{
	struct db	*db = db_open(test_env("CB_PG_DSN"));

	ck_assert_msg(db_connect(db) == CB_OK, "db: %s", db_errmsg(db));
	return db;
}

/* Run one statement with up to 2 text parameters; its first value, if any, into out. */
static void
sql(const char *q, const char *p1, const char *p2, char *out, size_t outsz)
{
	struct db	*db = tdb();
	struct db_res	*res = NULL;
	const char	*p[2] = { p1, p2 };
	int		 rc;

	rc = db_query(db, &res, q, p2 ? 2 : p1 ? 1 : 0, p);
	ck_assert_msg(rc == CB_OK, "%s: %s", q, db_errmsg(db));
	if (out) {
		ck_assert_msg(db_rows(res) >= 1, "%s: no row", q);
		util_strlcpy(out, db_val(res, 0, 0) ? db_val(res, 0, 0) : "", outsz);
	}
	db_res_free(res);
	db_close(db);
}




static void
post(const char *path, const char *body, struct http_resp *r)
{
	const char	*h[] = { JSON_CT, NULL };

	http_do("POST", path, h, body, strlen(body), r);
}



static void
with_token(const char *method, const char *path, const char *auth_header, struct http_resp *r)
{
	const char	*h[2] = { auth_header, NULL };

	http_do(method, path, auth_header ? h : NULL, NULL, 0, r);
}

/* GET /api/v1/auth/me with a bearer token (NULL: no Authorization). */
static long
me(const char *token, struct http_resp *r)
{
	char	 a[TOKSZ + 64];

	if (token == NULL) {
		with_token("GET", "/api/v1/auth/me", NULL, r);
		return r->status;
	}
	snprintf(a, sizeof(a), "Authorization: Bearer %s", token);
	with_token("GET", "/api/v1/auth/me", a, r);
	return r->status;
}

static long
me_status(const char *token)
{
	struct http_resp r;
	long		 st = me(token, &r);

	http_free(&r);
	return st;
}

static void
token_call(const char *path, const char *token, struct http_resp *r)
{
	char	 body[TOKSZ + 64];

	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
	post(path, body, r);
}

/* POST /auth/refresh: the status; on 200 the new pair into access/refresh. */
static long
do_refresh(const char *token, char *access, char *refresh)
{
	struct http_resp r;
	long		 st;

	token_call("/api/v1/auth/refresh", token, &r);
	st = r.status;
	if (st == 200) {
		if (access)
			util_strlcpy(access, http_json_str(&r, "access_token"), TOKSZ);
		if (refresh)
			util_strlcpy(refresh, http_json_str(&r, "refresh_token"), 80);
		test_record_secret(http_json_str(&r, "refresh_token"));
		test_record_secret(http_json_str(&r, "access_token"));
	} else
		ck_assert_str_eq(http_json_str(&r, "type"), "/problems/unauthenticated");
	http_free(&r);
	return st;
}

static void
assert_401(struct http_resp *r, int with_error)
{
	const char	*wa;

	http_expect_problem(r, 401, "/problems/unauthenticated");
	wa = http_header(r, "WWW-Authenticate");
	ck_assert_ptr_nonnull(wa);
	ck_assert_int_eq(strncmp(wa, "Bearer realm=\"context-broker\"", 29), 0);
	ck_assert_int_eq(strstr(wa, "error=\"invalid_token\"") != NULL, with_error);
}

static int
fcntl_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* The process's own app, to sign with the stack's key (lib/signkeys). */
static struct app	 tapp;

static struct app *
tapp_open(void)
{
	struct stat	 st;
	char		 err[512] = "";
	uid_t		 euid;
	int		 rc;

	memset(&tapp, 0, sizeof(tapp));
	ck_assert_msg(settings_load(&tapp.settings, err, sizeof(err)) == CB_OK, "%s", err);
	tapp.db = db_open(tapp.settings.pg_dsn);
	/*
	 * The root key file may be read only by its owner, the service user:
	 * act as that user while opening it, as cb-admin does, then come back.
	 */
	ck_assert_int_eq(stat(tapp.settings.seal_root_key_file, &st), 0);
	euid = geteuid();
	if (euid == 0 && st.st_uid != 0)
		ck_assert_int_eq(seteuid(st.st_uid), 0);
	rc = keyring_open(&tapp.keys, tapp.db, tapp.settings.seal_root_key_file, err, sizeof(err));
	if (euid != geteuid())
		ck_assert_int_eq(seteuid(euid), 0);
	ck_assert_msg(rc == CB_OK, "keyring: %s", err);
	return &tapp;
}

static void
tapp_close(void)
{
	signkeys_forget();
	keyring_close(&tapp.keys);
	db_close(tapp.db);
	settings_free(&tapp.settings);
	memset(&tapp, 0, sizeof(tapp));
}

/* ----------------------------------------------------- JWT surgery */

struct jparts {
	char	 h[1024], p[4096], s[256];
};

static void
jsplit(const char *tok, struct jparts *j)
{
	const char	*d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	ck_assert_ptr_nonnull(d2);
	ck_assert_uint_lt((size_t)(d1 - tok), sizeof(j->h));
	ck_assert_uint_lt((size_t)(d2 - d1 - 1), sizeof(j->p));
	memcpy(j->h, tok, (size_t)(d1 - tok));
	j->h[d1 - tok] = '\0';
	memcpy(j->p, d1 + 1, (size_t)(d2 - d1 - 1));
	j->p[d2 - d1 - 1] = '\0';
	util_strlcpy(j->s, d2 + 1, sizeof(j->s));
}

static cJSON *
jdecode(const char *seg)
{
	unsigned char	 raw[4096];
	size_t		 n = 0;
	cJSON		*o;

	ck_assert_int_eq(b64url_decode(raw, sizeof(raw) - 1, &n, seg, strlen(seg)), CB_OK);
	raw[n] = '\0';
	o = cJSON_Parse((const char *)raw);
	ck_assert_ptr_nonnull(o);
	return o;
}

static void
jencode_str(const char *s, char *out, size_t outsz)
{
	ck_assert_int_eq(b64url_encode(out, outsz, (const unsigned char *)s, strlen(s)), CB_OK);
}

static void
jencode(const cJSON *o, char *out, size_t outsz)
{
	char	*s = cJSON_PrintUnformatted(o);

	jencode_str(s, out, outsz);
	free(s);
}

static const char *
jstr(const cJSON *o, const char *name)
{
	const char	*v = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));

	return v ? v : "";
}

/* The claims of a real token, as struct jwt_claims. */
static void
jclaims(const char *tok, struct jwt_claims *c)
{
	struct jparts	 j;
	cJSON		*o;

	jsplit(tok, &j);
	o = jdecode(j.p);
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->iss, jstr(o, "iss"), sizeof(c->iss));
	util_strlcpy(c->aud, jstr(o, "aud"), sizeof(c->aud));
	util_strlcpy(c->sub, jstr(o, "sub"), sizeof(c->sub));
	util_strlcpy(c->org, jstr(o, "org"), sizeof(c->org));
	util_strlcpy(c->role, jstr(o, "role"), sizeof(c->role));
	util_strlcpy(c->jti, jstr(o, "jti"), sizeof(c->jti));
	util_strlcpy(c->typ, jstr(o, "typ"), sizeof(c->typ));
	c->iat = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "iat"));
	c->nbf = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "nbf"));
	c->exp = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "exp"));
	cJSON_Delete(o);
}

static char *
jkid(const char *tok, char kid[JWT_KID_BUFSZ])
{
	struct jparts	 j;
	cJSON		*o;

	jsplit(tok, &j);
	o = jdecode(j.h);
	util_strlcpy(kid, cJSON_GetStringValue(cJSON_GetObjectItem(o, "kid")), JWT_KID_BUFSZ);
	cJSON_Delete(o);
	return kid;
}

/* The JWKS as served, and whether it lists `kid` (x into pk if asked). */
static int
jwks_has(const char *kid, unsigned char pk[32])
{
	struct http_resp r;
	const cJSON	*k;
	size_t		 n = 0;
	int		 found = 0;

	http_do("GET", "/.well-known/jwks.json", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	cJSON_ArrayForEach(k, cJSON_GetObjectItem(http_json(&r), "keys")) {
		const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(k, "x"));

		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(k, "kid")), kid) != 0)
			continue;
		found = 1;
		if (pk)
			ck_assert_int_eq(b64url_decode(pk, 32, &n, x, strlen(x)), CB_OK);
	}
	http_free(&r);
	return found;
}

/* ----------------------------------------------------------- login */

/* A hash made with weaker parameters is replaced at the next login. */
START_TEST(rehash_on_login)
{
	struct tuser	 u;
	char		 slug[64], access[TOKSZ], refresh[80], weak[crypto_pwhash_STRBYTES];
	char		 stored[256];

	new_org(slug, sizeof(slug));
	new_user(slug, "viewer", &u);
	/* As if the account predated today's limits: t=1, 8 MiB. */
	ck_assert_int_eq(crypto_pwhash_str_alg(weak, u.password, strlen(u.password), 1,
	    8u * 1024u * 1024u, crypto_pwhash_ALG_ARGON2ID13), 0);
	sql("UPDATE users SET password_hash = $2 WHERE id = $1::uuid", u.id, weak, NULL, 0);
	ck_assert_int_eq(pwhash_needs_rehash(weak), 1);

	login_ok(&u, access, refresh);
	sql("SELECT password_hash FROM users WHERE id = $1::uuid", u.id, NULL, stored, sizeof(stored));
	ck_assert_str_ne(stored, weak);
	ck_assert_int_eq(pwhash_needs_rehash(stored), 0);
	ck_assert_int_eq(pwhash_verify(stored, u.password, strlen(u.password)), CB_OK);
	/* And the password still works. */
	login_ok(&u, access, refresh);
}
END_TEST

/* Bad input on every auth route: RFC 9457 answers, the field named. */
static const struct {
	const char	*path;
	const char	*body;
	long		 status;
	const char	*type;
	const char	*field;
} auth_bad[] = {
	{ "/api/v1/auth/login", "{\"email\":", 400, "/problems/malformed-json", NULL },
	{ "/api/v1/auth/login", "[]", 400, "/problems/validation", NULL },
	{ "/api/v1/auth/login", "{\"org\":\"acme\",\"email\":7,\"password\":\"x\"}", 400,
	  "/problems/validation", "email" },
	{ "/api/v1/auth/login", "{\"org\":\"acme\",\"email\":\"a@b.test\",\"password\":\"x\",\"x\":1}",
	  400, "/problems/validation", "x" },
	/* Users belong to one tenant: a login names it. */
	{ "/api/v1/auth/login", "{\"email\":\"a@b.test\",\"password\":\"x\"}", 400,
	  "/problems/validation", "org" },
	{ "/api/v1/auth/login", "{\"org\":7,\"email\":\"a@b.test\",\"password\":\"x\"}", 400,
	  "/problems/validation", "org" },
	{ "/api/v1/auth/refresh", "{\"refresh_token\":", 400, "/problems/malformed-json", NULL },
	{ "/api/v1/auth/refresh", "{\"refresh_token\":true}", 400, "/problems/validation", "refresh_token" },
	{ "/api/v1/auth/refresh", "{}", 400, "/problems/validation", "refresh_token" },
	{ "/api/v1/auth/logout", "{\"refresh_token\":null}", 400, "/problems/validation", "refresh_token" },
	{ "/api/v1/auth/agent-token", "", 401, "/problems/unauthenticated", NULL },
};

START_TEST(auth_bad_input)
{
	struct http_resp r;
	const char	*h[] = { "Content-Type: application/json", NULL };
	const char	*body = auth_bad[_i].body;

	http_do("POST", auth_bad[_i].path, h, body, strlen(body), &r);
	http_expect_problem(&r, auth_bad[_i].status, auth_bad[_i].type);
	if (auth_bad[_i].field)
		ck_assert_str_eq(http_json_str(&r, "field"), auth_bad[_i].field);
	http_free(&r);
}
END_TEST

START_TEST(auth_oversized_body)
{
	struct http_resp r;
	const char	*h[] = { "Content-Type: application/json", NULL };
	size_t		 n = 64 * 1024;
	char		*big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	http_do("POST", "/api/v1/auth/login", h, big, n, &r);
	free(big);
	http_expect_problem(&r, 413, "/problems/payload-too-large");
	http_free(&r);
}
END_TEST

START_TEST(login_and_me)
{
	struct tuser	 u[3];
	struct http_resp r;
	const char	*roles[] = { "admin", "operator", "viewer" };
	char		 slug[64], access[TOKSZ], refresh[80], kid[JWT_KID_BUFSZ];
	struct jwt_claims c;
	cJSON		*j;
	int		 i;

	new_org(slug, sizeof(slug));
	for (i = 0; i < 3; i++)
		new_user(slug, roles[i], &u[i]);

	reset_limits(u[0].slug, u[0].email);
	login(u[0].slug, u[0].email, u[0].password, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	j = http_json(&r);
	ck_assert_str_eq(http_json_str(&r, "token_type"), "Bearer");
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "expires_in")), 900);
	util_strlcpy(access, http_json_str(&r, "access_token"), sizeof(access));
	util_strlcpy(refresh, http_json_str(&r, "refresh_token"), sizeof(refresh));
	test_record_secret(access);
	test_record_secret(refresh);
	ck_assert_int_eq(cJSON_GetArraySize(j), 4);
	http_free(&r);
	ck_assert(refresh_token_ok(refresh));

	/* The access token: our claims, a published kid. */
	jclaims(access, &c);
	ck_assert_str_eq(c.iss, test_env("CB_PUBLIC_URL"));
	ck_assert_str_eq(c.aud, "context-broker");
	ck_assert_str_eq(c.sub, u[0].id);
	ck_assert_str_eq(c.org, u[0].org);
	ck_assert_str_eq(c.role, "admin");
	ck_assert_str_eq(c.typ, "access");
	ck_assert_int_eq(c.exp - c.iat, 900);
	ck_assert_int_eq(c.nbf, c.iat);
	ck_assert_uint_ge(strlen(c.jti), 40);
	ck_assert(jwks_has(jkid(access, kid), NULL));
	ck_assert_int_eq(strncmp(kid, "k-", 2), 0);

	ck_assert_int_eq(me(access, &r), 200);
	ck_assert_str_eq(http_json_str(&r, "sub"), u[0].id);
	ck_assert_str_eq(http_json_str(&r, "org"), u[0].org);
	ck_assert_str_eq(http_json_str(&r, "role"), "admin");
	ck_assert_int_eq((long long)cJSON_GetNumberValue(cJSON_GetObjectItem(http_json(&r), "exp")),
	    c.exp);
	http_free(&r);

	/* The role gate of /auth/me: open to every role. */
	for (i = 1; i < 3; i++) {
		login_ok(&u[i], access, refresh);
		ck_assert_int_eq(me(access, &r), 200);
		ck_assert_str_eq(http_json_str(&r, "role"), roles[i]);
		http_free(&r);
	}

	/* The email is matched after normalising it (trim, lower case). */
	reset_limits(u[1].slug, u[1].email);
	{
		char e[128];

		snprintf(e, sizeof(e), "  %s ", u[1].email);
		for (i = 0; e[i]; i++)
			if (e[i] >= 'a' && e[i] <= 'z')
				e[i] = (char)(e[i] - 'a' + 'A');
		login(slug, e, u[1].password, &r);
		ck_assert_int_eq(r.status, 200);
		test_record_secret(http_json_str(&r, "access_token"));
		test_record_secret(http_json_str(&r, "refresh_token"));
		http_free(&r);
	}

	/* A hash with older parameters is upgraded at the next login. */
	{
		char h[crypto_pwhash_STRBYTES], got[160];

		ck_assert_int_eq(crypto_pwhash_str_alg(h, u[2].password, strlen(u[2].password), 3,
		    8u * 1024u * 1024u, crypto_pwhash_ALG_ARGON2ID13), 0);
		sql("UPDATE users SET password_hash = $2 WHERE id = $1::uuid", u[2].id, h, NULL, 0);
		login_ok(&u[2], access, refresh);
		sql("SELECT password_hash FROM users WHERE id = $1::uuid", u[2].id, NULL, got,
		    sizeof(got));
		ck_assert_msg(strncmp(got, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0, "%s", got);
		login_ok(&u[2], access, refresh);
	}

	/* Bad bodies: field named, or the usual 415. */
	post("/api/v1/auth/login", "{\"org\":\"acme\",\"email\":\"a@b.test\"}", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(http_json_str(&r, "field"), "password");
	http_free(&r);
	post("/api/v1/auth/login", "{\"org\":\"acme\",\"email\":\"a@b.test\",\"password\":\"x\",\"otp\":1}",
	    &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(http_json_str(&r, "field"), "otp");
	http_free(&r);
	{
		const char *h[] = { "Content-Type: text/plain", NULL };

		http_do("POST", "/api/v1/auth/login", h, "{}", 2, &r);
		ck_assert_int_eq(r.status, 415);
		http_free(&r);
	}
	http_do("GET", "/api/v1/auth/login", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	http_free(&r);
	/* A duplicate email is refused by the CLI. */
	{
		char cmd[1024], out[512];

		snprintf(cmd, sizeof(cmd), "printf 'another-password\\n' | %s/bin/cb-admin user-create"
		    " %s '%s' viewer 2>&1", test_env("CB_BUILD"), slug, u[0].email);
		ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
		ck_assert_ptr_nonnull(strstr(out, "already exists"));
	}
}
END_TEST

/* Unknown user, wrong password, disabled user: one answer, one cost. */
START_TEST(login_refusals_are_identical)
{
	struct tuser	 u, d;
	struct http_resp r;
	char		 slug[64], body0[1024] = "", detail0[256] = "", wa0[256] = "", email[96];
	double		 t_wrong[5], t_unknown[5], mw, mu;
	int		 i, k;

	new_org(slug, sizeof(slug));
	new_user(slug, "operator", &u);
	new_user(slug, "viewer", &d);
	sql("UPDATE users SET disabled_at = now() WHERE id = $1::uuid", d.id, NULL, NULL, 0);

	for (k = 0; k < 5; k++) {
		const char *em = k == 0 ? u.email : k == 1 ? "nobody-here@example.test" :
		    k == 2 ? d.email : k == 3 ? "not-an-email" : u.email;
		const char *pw = k == 2 ? d.password : k == 4 ? "short" : "wrong-password-123";

		reset_limits(slug, em);
		login(slug, em, pw, &r);
		assert_401(&r, 0);
		if (k == 0) {
			util_strlcpy(detail0, http_json_str(&r, "detail"), sizeof(detail0));
			util_strlcpy(wa0, http_header(&r, "WWW-Authenticate"), sizeof(wa0));
			ck_assert_ptr_nonnull(strstr(detail0, "wrong"));
			util_strlcpy(body0, http_json_str(&r, "title"), sizeof(body0));
		} else {
			ck_assert_str_eq(http_json_str(&r, "detail"), detail0);
			ck_assert_str_eq(http_header(&r, "WWW-Authenticate"), wa0);
			ck_assert_str_eq(http_json_str(&r, "title"), body0);
		}
		/*
		 * Same members, nothing that tells the cases apart: type, title,
		 * status, detail, instance, and the request's own request_id and
		 * trace_id.
		 */
		ck_assert_int_eq(cJSON_GetArraySize(http_json(&r)), 7);
		ck_assert_ptr_nonnull(cJSON_GetObjectItem(http_json(&r), "trace_id"));
		http_free(&r);
	}

	/* Timing: the unknown-user path does the same argon2id work. */
	for (i = 0; i < 5; i++) {
		t_wrong[i] = login_refused_ms(u.slug, u.email, "wrong-password-123");
		snprintf(email, sizeof(email), "ghost-%d-%ld@example.test", i, (long)getpid());
		t_unknown[i] = login_refused_ms(slug, email, "wrong-password-123");
	}
	mw = test_median(t_wrong, 5);
	mu = test_median(t_unknown, 5);
	fprintf(stderr, "login refusal timing: wrong password median %.1f ms, unknown user %.1f ms\n",
	    mw, mu);
	ck_assert_msg(mu >= 0.3 * mw && mu <= 3.0 * mw,
	    "unknown user %.1f ms vs wrong password %.1f ms", mu, mw);
	/* And the disabled user's right password is refused like a wrong one. */
	reset_limits(d.slug, d.email);
	login(d.slug, d.email, d.password, &r);
	assert_401(&r, 0);
	ck_assert_str_eq(http_json_str(&r, "detail"), detail0);
	http_free(&r);
	reset_limits(NULL, NULL);
}
END_TEST

START_TEST(login_rate_limits)
{
	struct tuser	 u;
	struct http_resp r;
	char		 slug[64], email[96];
	long		 ra;
	double		 t0;
	int		 i;

	new_org(slug, sizeof(slug));
	new_user(slug, "viewer", &u);

	/* Per account: 5 a minute, then 429 with Retry-After, even for the right password. */
	reset_limits(u.slug, u.email);
	for (i = 0; i < 5; i++) {
		login(u.slug, u.email, "wrong-password-123", &r);
		ck_assert_int_eq(r.status, 401);
		http_free(&r);
	}
	login(u.slug, u.email, u.password, &r);
	ck_assert_msg(r.status == 429, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "type"), "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	ra = strtol(http_header(&r, "Retry-After"), NULL, 10);
	ck_assert_int_ge(ra, 1);
	ck_assert_int_le(ra, 60);
	http_free(&r);
	/* Another account from the same address is not affected. */
	reset_limits(NULL, NULL);
	login(slug, "someone-else@example.test", "wrong-password-123", &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);

	/*
	 * Per client address: 30 a minute across accounts.  The bucket refills
	 * continuously (one every 2 s) while the attempts run, so the refusal
	 * comes at attempt 31 or later, never before, and no later than the
	 * refills the elapsed time allows (a loaded machine makes each login
	 * slower, so more refills happen).
	 */
	reset_limits(NULL, NULL);
	t0 = test_now_s();
	for (i = 0; i < 200; i++) {
		snprintf(email, sizeof(email), "spray-%d-%ld@example.test", i, (long)getpid());
		login(slug, email, "wrong-password-123", &r);
		if (r.status == 429)
			break;
		ck_assert_msg(r.status == 401, "attempt %d: %ld", i, r.status);
		http_free(&r);
		if (i > 30 + (int)((test_now_s() - t0) / 2.0) + 3)
			break;
	}
	ck_assert_msg(i >= 30 && i <= 30 + (int)((test_now_s() - t0) / 2.0) + 3,
	    "refused at attempt %d after %.1f s", i + 1, test_now_s() - t0);
	ck_assert_int_eq(r.status, 429);
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	http_free(&r);
	reset_limits(u.slug, u.email);
	login(u.slug, u.email, u.password, &r);
	ck_assert_int_eq(r.status, 200);
	test_record_secret(http_json_str(&r, "access_token"));
	test_record_secret(http_json_str(&r, "refresh_token"));
	http_free(&r);
	reset_limits(NULL, NULL);
}
END_TEST

START_TEST(login_latency)
{
	struct tuser	 u;
	struct http_resp r;
	char		 slug[64];
	double		 t[20], t0, m;
	int		 i;

	new_org(slug, sizeof(slug));
	new_user(slug, "viewer", &u);
	for (i = 0; i < 20; i++) {
		reset_limits(u.slug, u.email);
		t0 = util_now_ms();
		login(u.slug, u.email, u.password, &r);
		t[i] = util_now_ms() - t0;
		ck_assert_int_eq(r.status, 200);
		test_record_secret(http_json_str(&r, "access_token"));
		test_record_secret(http_json_str(&r, "refresh_token"));
		http_free(&r);
	}
	m = test_median(t, 20);
	fprintf(stderr, "login latency through nginx: median of 20 = %.1f ms (min %.1f, max %.1f)\n",
	    m, t[0], t[19]);
	ck_assert_msg(m < 3000, "median login %.1f ms", m);
	reset_limits(NULL, NULL);
}
END_TEST

/* ------------------------------------------------ rejection matrix */

START_TEST(token_rejection_matrix)
{
	struct app	*a = tapp_open();
	struct tuser	 u;
	struct http_resp r;
	struct jwt_claims c, base;
	struct jparts	 ja, jb;
	unsigned char	 pk[32], sk[64], mac[32], sig[64];
	char		 slug[64], access[TOKSZ], access2[TOKSZ], refresh[80], tok[TOKSZ];
	char		 hdr[512], seg[256], input[TOKSZ], kid[JWT_KID_BUFSZ], big[6000];
	int64_t		 now = util_now_s();
	size_t		 n;
	cJSON		*o;

	new_org(slug, sizeof(slug));
	new_user(slug, "operator", &u);
	login_ok(&u, access, refresh);
	login_ok(&u, access2, refresh);
	ck_assert_int_eq(me_status(access), 200);
	jclaims(access, &base);
	jkid(access, kid);

	/* Control: the same claims signed again with the stack's key pass. */
	c = base;
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 200);

	/* Expired (past the 30 s leeway). */
	c = base;
	c.iat = now - 2000;
	c.nbf = c.iat;
	c.exp = now - 120;
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me(tok, &r), 401);
	assert_401(&r, 1);
	http_free(&r);
	/* Not yet valid. */
	c = base;
	c.iat = now;
	c.nbf = now + 300;
	c.exp = now + 900;
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);
	/* Wrong audience, wrong issuer, wrong token kind. */
	c = base;
	util_strlcpy(c.aud, "another-service", sizeof(c.aud));
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);
	c = base;
	util_strlcpy(c.iss, "https://evil.example", sizeof(c.iss));
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);
	c = base;
	util_strlcpy(c.typ, "agent", sizeof(c.typ));
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);
	/* Validly signed but naming a session that does not exist. */
	c = base;
	snprintf(c.jti, sizeof(c.jti), "00000000-0000-4000-8000-000000000000.abcdefgh");
	ck_assert_int_eq(signkeys_sign(a, &c, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);

	/* Unknown kid: a throwaway key, otherwise perfect claims. */
	crypto_sign_keypair(pk, sk);
	ck_assert_int_eq(jwt_sign(&base, "k-19700101-unknown1", sk, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me(tok, &r), 401);
	assert_401(&r, 1);
	http_free(&r);
	/* The real kid with the throwaway key: a bad signature. */
	ck_assert_int_eq(jwt_sign(&base, kid, sk, tok, sizeof(tok)), CB_OK);
	ck_assert_int_eq(me_status(tok), 401);
	sodium_memzero(sk, sizeof(sk));

	/* alg none, with and without a signature. */
	jsplit(access, &ja);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
	jencode_str(hdr, seg, sizeof(seg));
	snprintf(tok, sizeof(tok), "%s.%s.", seg, ja.p);
	ck_assert_int_eq(me_status(tok), 401);
	snprintf(tok, sizeof(tok), "%s.%s.%s", seg, ja.p, ja.s);
	ck_assert_int_eq(me_status(tok), 401);
	/* HS256 keyed with the public key (the classic confusion). */
	ck_assert(jwks_has(kid, pk));
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
	jencode_str(hdr, seg, sizeof(seg));
	snprintf(input, sizeof(input), "%s.%s", seg, ja.p);
	crypto_auth_hmacsha256(mac, (const unsigned char *)input, strlen(input), pk);
	ck_assert_int_eq(b64url_encode(seg, sizeof(seg), mac, sizeof(mac)), CB_OK);
	snprintf(tok, sizeof(tok), "%s.%s", input, seg);
	ck_assert_int_eq(me_status(tok), 401);
	/* EdDSA (the polymorphic name we do not accept), same signature. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
	jencode_str(hdr, seg, sizeof(seg));
	snprintf(tok, sizeof(tok), "%s.%s.%s", seg, ja.p, ja.s);
	ck_assert_int_eq(me_status(tok), 401);

	/* One signature bit flipped. */
	ck_assert_int_eq(b64url_decode(sig, sizeof(sig), &n, ja.s, strlen(ja.s)), CB_OK);
	ck_assert_uint_eq(n, 64);
	sig[10] ^= 0x01;
	ck_assert_int_eq(b64url_encode(seg, sizeof(seg), sig, sizeof(sig)), CB_OK);
	snprintf(tok, sizeof(tok), "%s.%s.%s", ja.h, ja.p, seg);
	ck_assert_int_eq(me_status(tok), 401);
	/* The header and signature of one real token with the payload of another. */
	jsplit(access2, &jb);
	ck_assert_str_ne(ja.p, jb.p);
	snprintf(tok, sizeof(tok), "%s.%s.%s", ja.h, jb.p, ja.s);
	ck_assert_int_eq(me_status(tok), 401);
	/* A claim edited without signing again (viewer -> admin). */
	o = jdecode(ja.p);
	cJSON_ReplaceItemInObject(o, "role", cJSON_CreateString("admin"));
	jencode(o, input, sizeof(input));
	cJSON_Delete(o);
	snprintf(tok, sizeof(tok), "%s.%s.%s", ja.h, input, ja.s);
	ck_assert_int_eq(me_status(tok), 401);

	/* Garbage, in several shapes. */
	ck_assert_int_eq(me_status("garbage"), 401);
	ck_assert_int_eq(me_status("a.b.c"), 401);
	ck_assert_int_eq(me_status(".."), 401);
	snprintf(tok, sizeof(tok), "%s.%s", ja.h, ja.p);
	ck_assert_int_eq(me_status(tok), 401);
	snprintf(tok, sizeof(tok), "%s.%s.%s.%s", ja.h, ja.p, ja.s, ja.s);
	ck_assert_int_eq(me_status(tok), 401);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(me_status(big), 401);
	/* A refresh token is not an access token. */
	ck_assert_int_eq(me_status(refresh), 401);

	/* Missing, another scheme, an empty bearer. */
	ck_assert_int_eq(me(NULL, &r), 401);
	assert_401(&r, 0);
	http_free(&r);
	with_token("GET", "/api/v1/auth/me", "Authorization: Basic dXNlcjpwYXNz", &r);
	assert_401(&r, 0);
	http_free(&r);
	with_token("GET", "/api/v1/auth/me", "Authorization: Bearer ", &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);

	/* Through it all the real tokens kept working. */
	ck_assert_int_eq(me_status(access), 200);
	ck_assert_int_eq(me_status(access2), 200);
	tapp_close();
}
END_TEST

/* ------------------------------------------------- refresh rotation */

static long
live_tokens(const char *family)
{
	char	 n[24];

	sql("SELECT count(*) FROM refresh_tokens WHERE family_id = $1::uuid"
	    " AND superseded_at IS NULL AND revoked_at IS NULL", family, NULL, n, sizeof(n));
	return strtol(n, NULL, 10);
}

static void
family_of(const char *access, char family[40])
{
	struct jwt_claims c;

	jclaims(access, &c);
	memcpy(family, c.jti, 36);
	family[36] = '\0';
}

START_TEST(refresh_rotation_and_reuse)
{
	struct tuser	 u;
	char		 slug[64], a0[TOKSZ], r0[80], a1[TOKSZ], r1[80], a2[TOKSZ], r2[80];
	char		 fam[40], fam2[40], n[24];

	new_org(slug, sizeof(slug));
	new_user(slug, "admin", &u);

	/* r0 -> r1 -> r2: each pair works, the family has one live token. */
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	ck_assert_int_eq(do_refresh(r0, a1, r1), 200);
	ck_assert_str_ne(r0, r1);
	ck_assert_int_eq(me_status(a1), 200);
	ck_assert_int_eq(do_refresh(r1, a2, r2), 200);
	ck_assert_int_eq(me_status(a2), 200);
	ck_assert_int_eq(live_tokens(fam), 1);
	family_of(a2, fam2);
	ck_assert_str_eq(fam, fam2);
	sql("SELECT count(*) FROM refresh_tokens WHERE family_id = $1::uuid", fam, NULL, n, sizeof(n));
	ck_assert_str_eq(n, "3");
	/* Only hashes are stored; the metadata is sealed. */
	sql("SELECT count(*) FROM refresh_tokens WHERE family_id = $1::uuid AND meta_sealed LIKE 'v1.%'"
	    " AND length(token_hash) = 32", fam, NULL, n, sizeof(n));
	ck_assert_str_eq(n, "3");

	/* r0 again: not the immediately previous token of the newest: reuse. */
	ck_assert_int_eq(do_refresh(r0, NULL, NULL), 401);
	ck_assert_int_eq(live_tokens(fam), 0);
	sql("SELECT count(*) FROM refresh_tokens WHERE family_id = $1::uuid AND revoked_at IS NULL",
	    fam, NULL, n, sizeof(n));
	ck_assert_str_eq(n, "0");
	/* The family is gone: the current refresh token and every access token. */
	ck_assert_int_eq(do_refresh(r2, NULL, NULL), 401);
	ck_assert_int_eq(me_status(a2), 401);
	ck_assert_int_eq(me_status(a0), 401);

	/* The immediately previous token outside the overlap is reuse too. */
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	ck_assert_int_eq(do_refresh(r0, a1, r1), 200);
	/* Time moved in the database: r0 was rotated a minute ago. */
	sql("UPDATE refresh_tokens SET superseded_at = superseded_at - interval '60 seconds'"
	    " WHERE family_id = $1::uuid AND superseded_at IS NOT NULL", fam, NULL, NULL, 0);
	ck_assert_int_eq(do_refresh(r0, NULL, NULL), 401);
	ck_assert_int_eq(do_refresh(r1, NULL, NULL), 401);
	ck_assert_int_eq(me_status(a1), 401);

	/* Within the overlap the immediately previous token gets a fresh pair. */
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	ck_assert_int_eq(do_refresh(r0, a1, r1), 200);
	ck_assert_int_eq(do_refresh(r0, a2, r2), 200);
	ck_assert_str_ne(r1, r2);
	ck_assert_int_eq(live_tokens(fam), 2);
	/* Using one collapses the family back to one live token. */
	ck_assert_int_eq(do_refresh(r2, a2, r2), 200);
	ck_assert_int_eq(live_tokens(fam), 1);
	ck_assert_int_eq(me_status(a2), 200);

	/* Expiry: idle, then absolute (moved in the database). */
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	sql("UPDATE refresh_tokens SET idle_expires_at = now() - interval '1 second'"
	    " WHERE family_id = $1::uuid", fam, NULL, NULL, 0);
	ck_assert_int_eq(do_refresh(r0, NULL, NULL), 401);
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	sql("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"
	    " WHERE family_id = $1::uuid", fam, NULL, NULL, 0);
	ck_assert_int_eq(do_refresh(r0, NULL, NULL), 401);

	/* Malformed and unknown tokens. */
	ck_assert_int_eq(do_refresh("cbr_nope", NULL, NULL), 401);
	ck_assert_int_eq(do_refresh("cbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL), 401);
	/* An access token is not a refresh token (and longer than one may be). */
	{
		struct http_resp r;

		token_call("/api/v1/auth/refresh", a0, &r);
		ck_assert_int_eq(r.status, 400);
		ck_assert_str_eq(http_json_str(&r, "field"), "refresh_token");
		http_free(&r);
	}
	reset_limits(NULL, NULL);
}
END_TEST

START_TEST(refresh_concurrent_overlap)
{
	struct tuser	 u;
	char		 slug[64], a0[TOKSZ], r0[80], fam[40];
	char		 got[2][80];
	long		 st[2];
	int		 go[2], res[2], i, status;
	pid_t		 kid[2];

	new_org(slug, sizeof(slug));
	new_user(slug, "operator", &u);
	login_ok(&u, a0, r0);
	family_of(a0, fam);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(res), 0);
	for (i = 0; i < 2; i++) {
		if ((kid[i] = fork()) == 0) {
			struct http_resp r;
			char		 rec[96], b;

			close(go[1]);
			if (read(go[0], &b, 1) != 1)
				_exit(2);
			token_call("/api/v1/auth/refresh", r0, &r);
			memset(rec, 0, sizeof(rec));
			snprintf(rec, sizeof(rec), "%d %ld %s", i, r.status,
			    r.status == 200 ? http_json_str(&r, "refresh_token") : "-");
			http_free(&r);
			if (write(res[1], rec, sizeof(rec)) != (ssize_t)sizeof(rec))
				_exit(3);
			_exit(0);
		}
		ck_assert_int_gt(kid[i], 0);
	}
	/* Both go at once. */
	ck_assert_int_eq(write(go[1], "xx", 2), 2);
	for (i = 0; i < 2; i++) {
		char	 rec[96], tok[80];
		int	 who;
		long	 s;

		ck_assert_int_eq(read(res[0], rec, sizeof(rec)), (ssize_t)sizeof(rec));
		ck_assert_int_eq(sscanf(rec, "%d %ld %79s", &who, &s, tok), 3);
		ck_assert(who == 0 || who == 1);
		st[who] = s;
		util_strlcpy(got[who], tok, sizeof(got[who]));
		test_record_secret(tok);
	}
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kid[i], &status, 0), kid[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(go[0]);
	close(go[1]);
	close(res[0]);
	close(res[1]);
	/* Exactly once each: two answers, two different tokens, one family. */
	ck_assert_int_eq(st[0], 200);
	ck_assert_int_eq(st[1], 200);
	ck_assert_str_ne(got[0], got[1]);
	ck_assert_int_eq(live_tokens(fam), 2);
	/* The client goes on with one of them; the family has one live token again. */
	ck_assert_int_eq(do_refresh(got[1], NULL, NULL), 200);
	ck_assert_int_eq(live_tokens(fam), 1);
	reset_limits(NULL, NULL);
}
END_TEST

START_TEST(logout_revokes)
{
	struct tuser	 u;
	struct http_resp r;
	char		 slug[64], a0[TOKSZ], r0[80], a1[TOKSZ], r1[80], other_a[TOKSZ], other_r[80];

	new_org(slug, sizeof(slug));
	new_user(slug, "viewer", &u);
	login_ok(&u, a0, r0);
	login_ok(&u, other_a, other_r);
	ck_assert_int_eq(do_refresh(r0, a1, r1), 200);

	/* Any token of the family logs it out, here the superseded one. */
	token_call("/api/v1/auth/logout", r0, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "no-store");
	http_free(&r);
	ck_assert_int_eq(me_status(a1), 401);
	ck_assert_int_eq(me_status(a0), 401);
	ck_assert_int_eq(do_refresh(r1, NULL, NULL), 401);
	/* Idempotent; unknown and malformed tokens answer the same. */
	token_call("/api/v1/auth/logout", r1, &r);
	ck_assert_int_eq(r.status, 204);
	http_free(&r);
	token_call("/api/v1/auth/logout", "cbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
	ck_assert_int_eq(r.status, 204);
	http_free(&r);
	token_call("/api/v1/auth/logout", "whatever", &r);
	ck_assert_int_eq(r.status, 204);
	http_free(&r);
	post("/api/v1/auth/logout", "{}", &r);
	ck_assert_int_eq(r.status, 400);
	http_free(&r);
	/* The user's other session is untouched. */
	ck_assert_int_eq(me_status(other_a), 200);
	ck_assert_int_eq(do_refresh(other_r, NULL, NULL), 200);
	reset_limits(NULL, NULL);
}
END_TEST

START_TEST(sessions_revoke_and_disable)
{
	struct tuser	 u, v;
	char		 slug[64], a0[TOKSZ], r0[80], a1[TOKSZ], r1[80], args[128], out[512];
	struct http_resp r;

	new_org(slug, sizeof(slug));
	new_user(slug, "admin", &u);
	new_user(slug, "viewer", &v);
	login_ok(&u, a0, r0);
	login_ok(&u, a1, r1);
	ck_assert_int_eq(me_status(a0), 200);

	snprintf(args, sizeof(args), "sessions-revoke %s", u.id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"sessions_revoked\":2") != NULL, "%s", out);
	/* Access tokens stop at once, not at their expiry; refresh tokens too. */
	ck_assert_int_eq(me_status(a0), 401);
	ck_assert_int_eq(me_status(a1), 401);
	ck_assert_int_eq(do_refresh(r0, NULL, NULL), 401);
	ck_assert_int_eq(do_refresh(r1, NULL, NULL), 401);
	/* A new login is a new session. */
	login_ok(&u, a0, r0);
	ck_assert_int_eq(me_status(a0), 200);
	ck_assert_int_ne(seed_admin("sessions-revoke 00000000-0000-4000-8000-000000000000", out,
	    sizeof(out)), 0);
	ck_assert_int_ne(seed_admin("sessions-revoke not-a-uuid", out, sizeof(out)), 0);

	/* A disabled user: tokens refused on the next request, no login. */
	login_ok(&v, a1, r1);
	ck_assert_int_eq(me_status(a1), 200);
	sql("UPDATE users SET disabled_at = now() WHERE id = $1::uuid", v.id, NULL, NULL, 0);
	ck_assert_int_eq(me(a1, &r), 401);
	assert_401(&r, 1);
	http_free(&r);
	ck_assert_int_eq(do_refresh(r1, NULL, NULL), 401);
	reset_limits(v.slug, v.email);
	login(v.slug, v.email, v.password, &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);
	/* A demotion takes effect on the next request (the row's role is used). */
	sql("UPDATE users SET role = 'viewer' WHERE id = $1::uuid", u.id, NULL, NULL, 0);
	ck_assert_int_eq(me(a0, &r), 200);
	ck_assert_str_eq(http_json_str(&r, "role"), "viewer");
	http_free(&r);
	reset_limits(NULL, NULL);
}
END_TEST

/* ------------------------------------------------------------ agents */

static int
agent_echo(struct req *r, const void *args)
{
	const struct agent_auth	*ag = r->auth;
	cJSON			*o = cJSON_CreateObject();

	(void)args;
	cJSON_AddStringToObject(o, "agent_id", ag->agent_id);
	cJSON_AddStringToObject(o, "org", ag->org);
	cJSON_AddStringToObject(o, "key_id", ag->key_id);
	cJSON_AddStringToObject(o, "scopes", ag->scopes);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static const struct route probe_routes[] = {
	{ .method = "GET", .pattern = "/t/agent", .auth = ROUTE_AUTH_AGENT, .act = agent_echo },
	{ .method = "GET", .pattern = "/t/admin", .auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin"),
	  .act = agent_echo },
};

static const struct responder probe = {
	.name = "probe", .routes = probe_routes, .nroutes = 2,
};

/* One request through the real pipeline in this process, as over TLS. */
static void
probe_call(struct app *a, const char *path, const char *auth, struct cu_resp *out)
{
	struct cu_io	 io;
	struct req_io	 rio;
	char		 h[TOKSZ + 32], **env;

	if (auth)
		snprintf(h, sizeof(h), "Bearer %s", auth);
	env = auth ? cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", path, "HTTPS", "on",
	    "HTTP_AUTHORIZATION", h, NULL) :
	    cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", path, "HTTPS", "on", NULL);
	cu_io_init(&io, NULL, 0);
	cu_io_bind(&io, &rio);
	route_handle(&probe, a, env, &rio);
	ck_assert_int_eq(cu_resp_parse(io.out.data, io.out.len, out), 0);
	cu_io_free(&io);
	cu_env_free(env);
}

START_TEST(agent_tokens)
{
	struct app	*a = tapp_open();
	struct seed	 s;
	struct tuser	 u, v;
	struct http_resp r;
	struct cu_resp	 pr;
	struct jwt_claims c;
	char		 h[TOKSZ + 64], tok[TOKSZ], access[TOKSZ], refresh[80], slug[64], key_id[40];

	seed_tenant(&s);
	snprintf(h, sizeof(h), "Authorization: Bearer %s", s.api_key);
	with_token("POST", "/api/v1/auth/agent-token", h, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "token_type"), "Bearer");
	ck_assert_str_eq(http_json_str(&r, "scope"), "commands:write commands:read");
	ck_assert_int_le((int)cJSON_GetNumberValue(cJSON_GetObjectItem(http_json(&r), "expires_in")),
	    300);
	util_strlcpy(tok, http_json_str(&r, "access_token"), sizeof(tok));
	test_record_secret(tok);
	http_free(&r);
	jclaims(tok, &c);
	ck_assert_str_eq(c.typ, "agent");
	ck_assert_str_eq(c.sub, s.agent_id);
	/* X-Api-Key works too; a bad key, no key, or an agent token do not. */
	snprintf(h, sizeof(h), "X-Api-Key: %s", s.api_key);
	with_token("POST", "/api/v1/auth/agent-token", h, &r);
	ck_assert_int_eq(r.status, 200);
	test_record_secret(http_json_str(&r, "access_token"));
	http_free(&r);
	with_token("POST", "/api/v1/auth/agent-token", NULL, &r);
	assert_401(&r, 0);
	http_free(&r);
	with_token("POST", "/api/v1/auth/agent-token",
	    "Authorization: Bearer cbk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
	assert_401(&r, 1);
	http_free(&r);
	snprintf(h, sizeof(h), "Authorization: Bearer %s", tok);
	with_token("POST", "/api/v1/auth/agent-token", h, &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);
	/* An agent token is not a person's. */
	ck_assert_int_eq(me_status(tok), 401);

	/* userauth_authenticate_agent: the JWT or the key, the same agent_auth. */
	probe_call(a, "/t/agent", tok, &pr);
	ck_assert_msg(pr.status == 200, "%d %s", pr.status, pr.body);
	ck_assert_str_eq(cu_resp_str(&pr, "agent_id"), s.agent_id);
	ck_assert_str_eq(cu_resp_str(&pr, "scopes"), "{commands:write,commands:read}");
	util_strlcpy(key_id, cu_resp_str(&pr, "key_id"), sizeof(key_id));
	cu_resp_free(&pr);
	probe_call(a, "/t/agent", s.api_key, &pr);
	ck_assert_int_eq(pr.status, 200);
	ck_assert_str_eq(cu_resp_str(&pr, "key_id"), key_id);
	cu_resp_free(&pr);
	probe_call(a, "/t/agent", NULL, &pr);
	ck_assert_int_eq(pr.status, 401);
	ck_assert_ptr_nonnull(cu_resp_header(&pr, "WWW-Authenticate"));
	cu_resp_free(&pr);
	/* A person's access token is not an agent's. */
	new_org(slug, sizeof(slug));
	new_user(slug, "admin", &u);
	login_ok(&u, access, refresh);
	probe_call(a, "/t/agent", access, &pr);
	ck_assert_int_eq(pr.status, 401);
	cu_resp_free(&pr);
	/* Revoking the key stops its JWTs at once. */
	sql("UPDATE api_keys SET revoked_at = now() WHERE id = $1::uuid", key_id, NULL, NULL, 0);
	probe_call(a, "/t/agent", tok, &pr);
	ck_assert_int_eq(pr.status, 401);
	cu_resp_free(&pr);

	/* userauth_require_role: admin passes, a viewer gets 403. */
	probe_call(a, "/t/admin", access, &pr);
	ck_assert_int_eq(pr.status, 200);
	cu_resp_free(&pr);
	new_user(slug, "viewer", &v);
	login_ok(&v, access, refresh);
	probe_call(a, "/t/admin", access, &pr);
	ck_assert_int_eq(pr.status, 403);
	ck_assert_str_eq(cu_resp_str(&pr, "type"), "/problems/forbidden");
	cu_resp_free(&pr);
	tapp_close();
	reset_limits(NULL, NULL);
}
END_TEST

/*
 * Redis away: login fails closed (503 + Retry-After: an unmetered login is
 * an unmetered password guesser); tokens already issued keep working,
 * since verifying and refreshing never touch Redis.
 */
START_TEST(login_fails_closed_without_redis)
{
	struct tuser	 u;
	struct http_resp r;
	char		 slug[64], a0[TOKSZ], r0[80], cmd[1024], out[4096];

	new_org(slug, sizeof(slug));
	new_user(slug, "viewer", &u);
	login_ok(&u, a0, r0);

	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh stop-redis 2>&1", test_env("CB_REPO"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	login(u.slug, u.email, u.password, &r);
	ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "type"), "/problems/unavailable");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	ck_assert_ptr_null(http_json_str(&r, "access_token"));
	http_free(&r);
	ck_assert_int_eq(me_status(a0), 200);
	ck_assert_int_eq(do_refresh(r0, a0, r0), 200);
	ck_assert_int_eq(me_status(a0), 200);

	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh start-redis 2>&1", test_env("CB_REPO"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(http_wait_status("/api/health", 200, 10000), "health did not recover");
	login(u.slug, u.email, u.password, &r);
	ck_assert_int_eq(r.status, 200);
	test_record_secret(http_json_str(&r, "access_token"));
	test_record_secret(http_json_str(&r, "refresh_token"));
	http_free(&r);
	reset_limits(NULL, NULL);
}
END_TEST

/* ------------------------------------------------------ keys, JWKS */

START_TEST(jwks_document)
{
	struct http_resp r;
	const cJSON	*k;
	char		 active[JWT_KID_BUFSZ], next[JWT_KID_BUFSZ], kid[JWT_KID_BUFSZ];
	unsigned char	 pk[32];
	int		 n = 0;

	http_do("GET", "/.well-known/jwks.json", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Cache-Control"), "public, max-age=300");
	ck_assert_str_eq(http_header(&r, "Content-Type"), "application/json");
	cJSON_ArrayForEach(k, cJSON_GetObjectItem(http_json(&r), "keys")) {
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(k, "kty")), "OKP");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(k, "crv")), "Ed25519");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(k, "alg")), "Ed25519");
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(k, "use")), "sig");
		ck_assert_ptr_null(cJSON_GetObjectItem(k, "d"));
		ck_assert_int_eq(jwt_jwk_parse_public(k, kid, sizeof(kid), pk), CB_OK);
		ck_assert_int_eq(strncmp(kid, "k-", 2), 0);
		n++;
	}
	ck_assert_int_ge(n, 2);
	http_free(&r);
	sql("SELECT kid FROM signing_keys WHERE state = 'active'", NULL, NULL, active, sizeof(active));
	sql("SELECT kid FROM signing_keys WHERE state = 'next'", NULL, NULL, next, sizeof(next));
	ck_assert(jwks_has(active, NULL));
	ck_assert(jwks_has(next, NULL));
	/* Every responder child bootstrapped at once: still one next key. */
	sql("SELECT count(*) FROM signing_keys WHERE state = 'next'", NULL, NULL, kid, sizeof(kid));
	ck_assert_str_eq(kid, "1");
	/* The private halves are sealed, never stored in clear. */
	sql("SELECT count(*) FROM signing_keys WHERE private_sealed NOT LIKE 'v1.%'", NULL, NULL,
	    kid, sizeof(kid));
	ck_assert_str_eq(kid, "0");
	http_do("HEAD", "/.well-known/jwks.json", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	http_do("POST", "/.well-known/jwks.json", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	http_free(&r);
}
END_TEST

/* Requests until told to stop: each /me with `old` and, every 5th, a new login. */
static void
load_loop(int stop_fd, const struct tuser *u, const char *old, int out_fd)
{
	long	 reqs = 0, fails = 0, logins = 0;
	char	 rec[128], b;

	for (;;) {
		struct http_resp r;
		char		 a[TOKSZ];

		if (read(stop_fd, &b, 1) == 1)
			break;
		if (me_status(old) != 200)
			fails++;
		reqs++;
		if (reqs % 5 == 0) {
			reset_limits(u->slug, u->email);
			login(u->slug, u->email, u->password, &r);
			if (r.status == 200) {
				util_strlcpy(a, http_json_str(&r, "access_token"), sizeof(a));
				test_record_secret(a);
				test_record_secret(http_json_str(&r, "refresh_token"));
				if (me_status(a) != 200)
					fails++;
				logins++;
			} else
				fails++;
			http_free(&r);
		}
	}
	snprintf(rec, sizeof(rec), "%ld %ld %ld", reqs, logins, fails);
	if (write(out_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		_exit(3);
}

static void
rotate(char *out, size_t outsz)
{
	char	 cmd[512];
	int	 rc;

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin signing-key-rotate --lead 10 --wait 2>/dev/null",
	    test_env("CB_BUILD"));
	rc = test_run(cmd, out, outsz);
	ck_assert_msg(rc == 0, "signing-key-rotate: %d %s", rc, out);
}

START_TEST(key_rotation_under_load)
{
	struct tuser	 u;
	char		 slug[64], old[TOKSZ], refresh[80], k1[JWT_KID_BUFSZ], out[1024], st[24];
	char		 rec[128];
	int		 stop[2], res[2], i, status, gone;
	long		 reqs = 0, logins = 0, fails = -1;
	pid_t		 pid;
	cJSON		*j;

	new_org(slug, sizeof(slug));
	new_user(slug, "operator", &u);
	login_ok(&u, old, refresh);
	jkid(old, k1);

	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(res), 0);
	ck_assert_int_eq(fcntl_nonblock(stop[0]), 0);
	if ((pid = fork()) == 0) {
		close(stop[1]);
		load_loop(stop[0], &u, old, res[1]);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	/*
	 * Two rotations while the load runs (k1 -> retiring, then older still);
	 * each after its next key's lead (10 s, two cache periods).
	 */
	for (i = 0; i < 2; i++) {
		rotate(out, sizeof(out));
		j = cJSON_Parse(out);
		ck_assert_msg(j != NULL, "%s", out);
		if (i == 0)
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "retiring")), k1);
		ck_assert_str_ne(cJSON_GetStringValue(cJSON_GetObjectItem(j, "active")), k1);
		cJSON_Delete(j);
		test_sleep_ms(1000);
	}
	ck_assert_int_eq(write(stop[1], "s", 1), 1);
	ck_assert_int_eq(read(res[0], rec, sizeof(rec)), (ssize_t)sizeof(rec));
	ck_assert_int_eq(sscanf(rec, "%ld %ld %ld", &reqs, &logins, &fails), 3);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(stop[0]);
	close(stop[1]);
	close(res[0]);
	close(res[1]);
	fprintf(stderr, "rotation under load: %ld requests with the old token, %ld logins, %ld failures\n",
	    reqs, logins, fails);
	ck_assert_int_eq(fails, 0);
	ck_assert_int_gt(reqs, 20);
	ck_assert_int_gt(logins, 3);

	/* The old key is retiring: still published, its token still good. */
	sql("SELECT state FROM signing_keys WHERE kid = $1", k1, NULL, st, sizeof(st));
	ck_assert_str_eq(st, "retiring");
	ck_assert(jwks_has(k1, NULL));
	ck_assert_int_eq(me_status(old), 200);

	/* Time moved in the database: k1's grace (TTL + skew) is over. */
	sql("UPDATE signing_keys SET retire_after = now() - interval '1 second' WHERE kid = $1",
	    k1, NULL, NULL, 0);
	rotate(out, sizeof(out));
	ck_assert_ptr_null(strstr(out, "\"retired\":0,"));
	sql("SELECT state FROM signing_keys WHERE kid = $1", k1, NULL, st, sizeof(st));
	ck_assert_str_eq(st, "retired");
	/* Caches re-read within SIGNKEYS_REFRESH_MS: then k1 is gone everywhere. */
	for (gone = 0, i = 0; i < 40 && !gone; i++) {
		gone = !jwks_has(k1, NULL) && me_status(old) == 401;
		if (!gone)
			test_sleep_ms(250);
	}
	ck_assert_msg(gone, "the retired key is still published or trusted");
	reset_limits(NULL, NULL);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc = tcase_create("http");
	TCase	*rot = tcase_create("rotation");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, login_and_me);
	tcase_add_test(tc, rehash_on_login);
	tcase_add_loop_test(tc, auth_bad_input, 0, sizeof(auth_bad) / sizeof(auth_bad[0]));
	tcase_add_test(tc, auth_oversized_body);
	tcase_add_test(tc, login_refusals_are_identical);
	tcase_add_test(tc, login_rate_limits);
	tcase_add_test(tc, login_latency);
	tcase_add_test(tc, token_rejection_matrix);
	tcase_add_test(tc, refresh_rotation_and_reuse);
	tcase_add_test(tc, refresh_concurrent_overlap);
	tcase_add_test(tc, logout_revokes);
	tcase_add_test(tc, sessions_revoke_and_disable);
	tcase_add_test(tc, agent_tokens);
	tcase_add_test(tc, login_fails_closed_without_redis);
	tcase_add_test(tc, jwks_document);
	suite_add_tcase(s, tc);
	tcase_set_timeout(rot, 240);
	tcase_add_test(rot, key_rotation_under_load);
	suite_add_tcase(s, rot);
	return s;
}

int
main(void)
{
	log_init("test_auth", LOG_LVL_WARN);
	return cu_run(auth_suite());
}
