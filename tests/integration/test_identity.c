/*
 * Identities do not leak across tenants (docs/identity.md), through the
 * real stack: users belong to one organisation, named at login.
 *
 *   - The same email made a user of two tenants by each tenant's admin:
 *     both are created, and the answer for an email another tenant holds
 *     has the status, members and headers of a fresh one.
 *   - Each logs in to its own tenant only, with its own password; a login
 *     naming another tenant, a tenant without that user or no tenant at all
 *     is refused exactly as a wrong password is (status, members, detail,
 *     challenge; the same argon2id work, timed).
 *   - Nothing one tenant does blocks the other: disabling its user, or
 *     failing logins until its bucket is empty, leaves the other's login.
 *   - The email index is keyed apart from the API-key pepper: another
 *     pepper finds the same users.  Rows left by the release before (their
 *     index derived from the pepper) are refused, found again with the
 *     pepper as CB_BLIND_INDEX_KEY_PREVIOUS_FILE's key (their emails still
 *     taken), and moved by `cb-admin reindex`.
 *     The same through the running stack: its pepper rotated (API keys
 *     end, logins work), its index key rotated (logins work again after
 *     `cb-admin reindex`), and rotated back with the previous key named
 *     (no login fails at all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "http.h"
#include "keyring.h"
#include "people.h"
#include "route.h"
#include "seed.h"
#include "settings.h"
#include "testdb.h"
#include "users.h"
#include "util.h"

struct tenant {
	char		 slug[64];
	struct tuser	 admin;
	char		 tok[TOKSZ];
};

static struct tenant	 A, B, C;

static void
tenant_setup(struct tenant *t)
{
	const char	*roles[] = { "admin", NULL };

	new_org(t->slug, sizeof(t->slug));
	new_staff(t->slug, roles, &t->admin, &t->tok);
}

static void
setup(void)
{
	tenant_setup(&A);
	tenant_setup(&B);
	tenant_setup(&C);
}

/* POST /api/v1/admin/users as the tenant's admin. */
static void
create_user(const struct tenant *t, const char *email, const char *password,
    struct http_resp *r)
{
	char		 auth[TOKSZ + 32], key[80], body[512];
	const char	*h[] = { auth, key, "Content-Type: application/json", NULL };
	static int	 n;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->tok);
	snprintf(key, sizeof(key), "Idempotency-Key: \"identity-%ld-%d\"", (long)getpid(), n++);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"role\":\"viewer\"}",
	    email, password);
	http_do("POST", "/api/v1/admin/users", h, body, strlen(body), r);
}

/* The header names of an answer, in order, one a line (values differ by nature). */
static void
header_names(const struct http_resp *r, char *out, size_t outsz)
{
	const char	*p = r->headers;
	size_t		 o = 0;

	out[0] = '\0';
	while (p && *p) {
		const char *eol = strchr(p, '\n'), *colon = strchr(p, ':');

		if (colon && (eol == NULL || colon < eol) && o + (size_t)(colon - p) + 2 < outsz) {
			memcpy(out + o, p, (size_t)(colon - p));
			o += (size_t)(colon - p);
			out[o++] = '\n';
			out[o] = '\0';
		}
		p = eol ? eol + 1 : NULL;
	}
}

/* The member names of a JSON answer, in order, comma-separated. */
static void
member_names(struct http_resp *r, char *out, size_t outsz)
{
	cJSON	*it;

	out[0] = '\0';
	cJSON_ArrayForEach(it, http_json(r)) {
		strncat(out, it->string, outsz - strlen(out) - 2);
		strncat(out, ",", outsz - strlen(out) - 1);
	}
}

/* A user created (201): its id, header names and member names. */
static void
created(const struct tenant *t, const char *email, const char *password, char id[40],
    char heads[1024], char members[256])
{
	struct http_resp r;

	create_user(t, email, password, &r);
	ck_assert_msg(r.status == 201, "%s in %s: %ld %s", email, t->slug, r.status, r.body);
	if (id != NULL)
		util_strlcpy(id, http_json_str(&r, "id"), 40);
	header_names(&r, heads, 1024);
	member_names(&r, members, 256);
	http_free(&r);
}

static void
new_password(char *out, size_t outsz)
{
	char	 t[40];

	util_random_token(t, sizeof(t), 18);
	snprintf(out, outsz, "pw-%s", t);
	test_record_secret(out);
}

START_TEST(same_email_in_two_tenants)
{
	struct http_resp r;
	struct tuser	 ua, ub;
	char		 email[96], fresh[96], pw3[48], ida[40], idb[40], acc[TOKSZ], ref[80];
	char		 h1[1024], h2[1024], h3[1024], m1[256], m2[256], m3[256];
	int		 k;

	snprintf(email, sizeof(email), "shared.%ld@example.test", (long)getpid());
	snprintf(fresh, sizeof(fresh), "fresh.%ld@example.test", (long)getpid());
	memset(&ua, 0, sizeof(ua));
	memset(&ub, 0, sizeof(ub));
	util_strlcpy(ua.slug, A.slug, sizeof(ua.slug));
	util_strlcpy(ub.slug, B.slug, sizeof(ub.slug));
	util_strlcpy(ua.email, email, sizeof(ua.email));
	util_strlcpy(ub.email, email, sizeof(ub.email));
	new_password(ua.password, sizeof(ua.password));
	new_password(ub.password, sizeof(ub.password));
	new_password(pw3, sizeof(pw3));

	/* A fresh email in A; the same email in B, which A holds; a fresh one in B. */
	created(&A, email, ua.password, ida, h1, m1);
	created(&B, email, ub.password, idb, h2, m2);
	created(&B, fresh, pw3, NULL, h3, m3);
	ck_assert_str_ne(ida, idb);
	ck_assert_str_eq(m2, m1);
	ck_assert_str_eq(m2, m3);
	ck_assert_str_eq(h2, h1);
	ck_assert_str_eq(h2, h3);
	/* Within one tenant the email stays unique. */
	create_user(&B, email, pw3, &r);
	http_expect_problem(&r, 409, "/problems/conflict");
	http_free(&r);

	/* Each logs in to its own tenant, as its own user. */
	login_ok(&ua, acc, ref);
	{
		const char	*h[] = { NULL, NULL };
		char		 auth[TOKSZ + 32];

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", acc);
		h[0] = auth;
		http_do("GET", "/api/v1/auth/me", h, NULL, 0, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(http_json_str(&r, "sub"), ida);
		http_free(&r);
		login_ok(&ub, acc, ref);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", acc);
		http_do("GET", "/api/v1/auth/me", h, NULL, 0, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(http_json_str(&r, "sub"), idb);
		http_free(&r);
	}
	/* A's password does not open B's account, nor B's A's. */
	reset_limits(B.slug, email);
	login(B.slug, email, ua.password, &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);
	reset_limits(A.slug, email);
	login(A.slug, email, ub.password, &r);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);

	/* Nothing A does blocks B: A disables its user, then A's bucket runs dry. */
	testdb_exec("UPDATE users SET disabled_at = now() WHERE id = $1::uuid", 1,
	    (const char *[]){ ida });
	login_ok(&ub, acc, ref);
	reset_limits(A.slug, email);
	for (k = 0; k < 6; k++) {
		login(A.slug, email, "wrong-password-123", &r);
		http_free(&r);
	}
	login(A.slug, email, ua.password, &r);
	ck_assert_msg(r.status == 429, "A's bucket: %ld", r.status);
	http_free(&r);
	reset_limits(NULL, NULL);	/* the address's bucket only: A's account stays dry */
	login(B.slug, email, ub.password, &r);
	ck_assert_msg(r.status == 200, "B's login while A's bucket is dry: %ld %s", r.status, r.body);
	test_record_secret(http_json_str(&r, "access_token"));
	test_record_secret(http_json_str(&r, "refresh_token"));
	http_free(&r);
	reset_limits(A.slug, email);
}
END_TEST

/* Wrong tenant, no tenant of that name, wrong password: one answer, one cost. */
START_TEST(wrong_tenant_is_a_wrong_password)
{
	struct http_resp r;
	struct tuser	 u;
	char		 h0[1024], m0[256], hk[1024], mk[256], detail0[256] = "", wa0[256] = "";
	double		 t_wrong[5], t_tenant[5], mw, mt;
	int		 i, k;

	new_user(A.slug, "viewer", &u);
	for (k = 0; k < 4; k++) {
		/* 0 wrong password; 1 a tenant without the user; 2 no such tenant; 3 its own
		 * password at a tenant without it. */
		const char *org = k == 0 ? A.slug : k == 1 ? C.slug : k == 2 ? "no-such-tenant-0" : C.slug;
		const char *pw = k == 3 ? u.password : "wrong-password-123";

		reset_limits(org, u.email);
		login(org, u.email, pw, &r);
		http_expect_problem(&r, 401, "/problems/unauthenticated");
		header_names(&r, k == 0 ? h0 : hk, sizeof(h0));
		member_names(&r, k == 0 ? m0 : mk, sizeof(m0));
		if (k == 0) {
			util_strlcpy(detail0, http_json_str(&r, "detail"), sizeof(detail0));
			util_strlcpy(wa0, http_header(&r, "WWW-Authenticate"), sizeof(wa0));
		} else {
			ck_assert_str_eq(http_json_str(&r, "detail"), detail0);
			ck_assert_str_eq(http_header(&r, "WWW-Authenticate"), wa0);
			ck_assert_str_eq(hk, h0);
			ck_assert_str_eq(mk, m0);
		}
		http_free(&r);
	}
	/* Timing: a wrong tenant costs what a wrong password costs. */
	for (i = 0; i < 5; i++) {
		t_wrong[i] = login_refused_ms(A.slug, u.email, "wrong-password-123");
		t_tenant[i] = login_refused_ms(C.slug, u.email, u.password);
	}
	mw = test_median(t_wrong, 5);
	mt = test_median(t_tenant, 5);
	fprintf(stderr, "login refusal timing: wrong password median %.1f ms, wrong tenant %.1f ms\n",
	    mw, mt);
	ck_assert_msg(mt >= 0.3 * mw && mt <= 3.0 * mw, "wrong tenant %.1f ms vs wrong password %.1f ms",
	    mt, mw);
	reset_limits(NULL, NULL);
}
END_TEST

/*
 * The blind index key, apart from the pepper.  In process, with the
 * stack's settings: users_find_by_email is what the login route asks.
 */
START_TEST(index_key_apart_from_pepper)
{
	struct app	 app;
	struct tuser	 u, v;
	struct user	 found;
	char		 err[512], stack_key[65], pepper[65], out[512], id[37];
	long long	 changed = 0;

	new_user(A.slug, "viewer", &u);
	new_user(B.slug, "operator", &v);
	memset(&app, 0, sizeof(app));
	ck_assert_msg(settings_load(&app.settings, err, sizeof(err)) == CB_OK, "%s", err);
	app.db = db_open(app.settings.pg_dsn);
	ck_assert_ptr_nonnull(app.db);
	testdb_keys_open(&app.keys, app.db);
	util_strlcpy(stack_key, app.settings.blind_index_key, sizeof(stack_key));
	ck_assert_str_eq(stack_key, test_blind_key());
	ck_assert_str_ne(stack_key, app.settings.api_key_pepper);
	ck_assert_int_eq(users_find_by_email(&app, u.slug, u.email, &found), CB_OK);
	ck_assert_str_eq(found.id, u.id);

	/* Another pepper: the same users are found (logins survive its rotation). */
	util_strlcpy(pepper, app.settings.api_key_pepper, sizeof(pepper));
	free(app.settings.api_key_pepper);
	app.settings.api_key_pepper =
	    strdup("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(users_find_by_email(&app, u.slug, u.email, &found), CB_OK);
	ck_assert_int_eq(users_find_by_email(&app, v.slug, v.email, &found), CB_OK);
	ck_assert_str_eq(found.id, v.id);

	/*
	 * The rows as the release before this key left them: indexed under the
	 * pepper (the index key then was derived from it).  The stack, on its
	 * own key with no previous one, refuses them.
	 */
	util_strlcpy(app.settings.blind_index_key, pepper, sizeof(app.settings.blind_index_key));
	ck_assert_int_eq(users_reindex(&app, &changed), CB_OK);
	ck_assert_int_ge(changed, 2);
	ck_assert_int_eq(users_reindex(&app, &changed), CB_OK);
	ck_assert_int_eq(changed, 0);	/* idempotent */
	reset_limits(u.slug, u.email);
	{
		struct http_resp r;

		login(u.slug, u.email, u.password, &r);
		ck_assert_int_eq(r.status, 401);
		http_free(&r);
	}
	/*
	 * The upgrade as a rotation: the new key current, the pepper the
	 * previous key.  The users are found and their emails stay taken.
	 */
	util_strlcpy(app.settings.blind_index_key, stack_key, sizeof(app.settings.blind_index_key));
	ck_assert_int_eq(users_find_by_email(&app, u.slug, u.email, &found), CB_ERR_NOT_FOUND);
	util_strlcpy(app.settings.blind_index_key_previous, pepper,
	    sizeof(app.settings.blind_index_key_previous));
	ck_assert_int_eq(users_find_by_email(&app, u.slug, u.email, &found), CB_OK);
	ck_assert_str_eq(found.id, u.id);
	ck_assert_int_eq(users_find_by_email(&app, v.slug, v.email, &found), CB_OK);
	ck_assert_str_eq(found.id, v.id);
	ck_assert_int_eq(users_create(&app, u.org, u.email, "another-password-1", 18, "viewer", id),
	    CB_ERR_DB_CONFLICT);
	/* `cb-admin reindex` moves every row under the stack's key: logins work again. */
	ck_assert_int_eq(seed_admin("reindex", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"users_reindexed\":") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"users_reindexed\":0") == NULL, "%s", out);
	{
		char	 acc[TOKSZ], ref[80];

		login_ok(&u, acc, ref);
		login_ok(&v, acc, ref);
	}
	app.settings.blind_index_key_previous[0] = '\0';
	ck_assert_int_eq(users_find_by_email(&app, u.slug, u.email, &found), CB_OK);
	free(app.settings.api_key_pepper);
	app.settings.api_key_pepper = strdup(pepper);
	testdb_keys_close(&app.keys);
	db_close(app.db);
	settings_free(&app.settings);
	reset_limits(NULL, NULL);
}
END_TEST

/* A secret file of the stack rewritten in place (owner and mode kept); its old text in old. */
static void
secret_swap(const char *name, const char *text, char *old, size_t oldsz)
{
	char	 path[600];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "%s/%s", test_env("CB_SECRETS_DIR"), name);
	if (old != NULL) {
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		n = fread(old, 1, oldsz - 1, f);
		old[n] = '\0';
		fclose(f);
	}
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* POST /api/v1/auth/agent-token with an API key: its status. */
static long
agent_token_status(const char *key)
{
	struct http_resp r;
	char		 h0[128];
	const char	*h[] = { h0, NULL };
	long		 st;

	snprintf(h0, sizeof(h0), "X-Api-Key: %s", key);
	http_do("POST", "/api/v1/auth/agent-token", h, NULL, 0, &r);
	st = r.status;
	if (st == 200)
		test_record_secret(http_json_str(&r, "access_token"));
	http_free(&r);
	return st;
}

static void
login_status(const struct tuser *u, long want)
{
	struct http_resp r;

	reset_limits(u->slug, u->email);
	login(u->slug, u->email, u->password, &r);
	ck_assert_msg(r.status == want, "login: %ld, expected %ld: %s", r.status, want, r.body);
	if (r.status == 200) {
		test_record_secret(http_json_str(&r, "access_token"));
		test_record_secret(http_json_str(&r, "refresh_token"));
	}
	http_free(&r);
}

/*
 * The documented rotations, through the running stack (README, "Blind
 * indexes"): a new pepper (the services restarted) ends every API key and
 * leaves logins working; a new blind index key stops logins until
 * `cb-admin reindex`.  Everything is put back the same way at the end.
 */
START_TEST(rotations_through_the_stack)
{
	struct seed	 s;
	struct tuser	 u;
	char		 old_pepper[128], old_index[128], out[512], prev[600], cmd[1600];

	seed_tenant(&s);
	test_record_secret(s.api_key);
	new_user(s.slug, "operator", &u);
	ck_assert_int_eq(agent_token_status(s.api_key), 200);
	login_status(&u, 200);

	secret_swap("api-key-pepper.hex",
	    "a1a2a3a4a5a6a7a8a9b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9d0d1d2\n",
	    old_pepper, sizeof(old_pepper));
	test_stack("restart-edge");
	ck_assert_int_eq(agent_token_status(s.api_key), 401);	/* the pepper did change */
	login_status(&u, 200);					/* logins did not notice */

	secret_swap("blind-index.key",
	    "e1e2e3e4e5e6e7e8e9f0f1f2f3f4f5f6f7f8f9a0a1a2a3a4a5a6a7a8a9b0b1b2\n",
	    old_index, sizeof(old_index));
	test_stack("restart-edge");
	login_status(&u, 401);
	ck_assert_int_eq(seed_admin("reindex", out, sizeof(out)), 0);
	login_status(&u, 200);

	/*
	 * Back with no failed login: the key now in use as the previous one
	 * (CB_BLIND_INDEX_KEY_PREVIOUS_FILE, passed on by stack.sh like every
	 * CB_* of its caller), the old key current again.
	 */
	snprintf(prev, sizeof(prev), "%s/blind-index.previous.key", test_env("CB_SECRETS_DIR"));
	snprintf(cmd, sizeof(cmd), "f=%s/blind-index.key; install -m 0600 -o $(stat -c %%u $f)"
	    " -g $(stat -c %%g $f) $f %s 2>&1", test_env("CB_SECRETS_DIR"), prev);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	setenv("CB_BLIND_INDEX_KEY_PREVIOUS_FILE", prev, 1);
	secret_swap("blind-index.key", old_index, NULL, 0);
	secret_swap("api-key-pepper.hex", old_pepper, NULL, 0);
	test_stack("restart-edge");
	login_status(&u, 200);					/* before any reindex */
	ck_assert_int_eq(seed_admin("reindex", out, sizeof(out)), 0);
	login_status(&u, 200);
	ck_assert_int_eq(agent_token_status(s.api_key), 200);
	unsetenv("CB_BLIND_INDEX_KEY_PREVIOUS_FILE");
	ck_assert_int_eq(unlink(prev), 0);
	test_stack("restart-edge");
	login_status(&u, 200);
	reset_limits(NULL, NULL);
}
END_TEST

static Suite *
identity_suite(void)
{
	Suite	*s = suite_create("identity");
	TCase	*tc = tcase_create("tenants");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_test(tc, same_email_in_two_tenants);
	tcase_add_test(tc, wrong_tenant_is_a_wrong_password);
	tcase_add_test(tc, index_key_apart_from_pepper);
	tcase_add_test(tc, rotations_through_the_stack);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(identity_suite());
}
