/*
 * people: see people.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "errs.h"
#include "kv.h"
#include "people.h"
#include "seed.h"
#include "testdb.h"
#include "users.h"
#include "util.h"

void
new_org(char *slug, size_t slugsz)
{
	static int	 n;
	char		 args[160], out[512];

	snprintf(slug, slugsz, "auth-%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Auth test'", slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
}

/* A user made with `cb-admin user-create`, the password on stdin. */
void
new_user(const char *slug, const char *role, struct tuser *u)
{
	static int	 n;
	char		 cmd[1024], out[1024], pw[40], id[40];
	cJSON		*j;

	memset(u, 0, sizeof(*u));
	util_strlcpy(u->slug, slug, sizeof(u->slug));
	snprintf(u->email, sizeof(u->email), "User%ld.%d@Example.test", (long)getpid(), n++);
	util_random_token(pw, sizeof(pw), 18);
	snprintf(u->password, sizeof(u->password), "pw-%s", pw);
	test_record_secret(u->password);
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | %s/bin/cb-admin user-create %s '%s' %s"
	    " 2>&1", u->password, test_env("CB_BUILD"), slug, u->email, role);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "user-create: %s", out);
	ck_assert_ptr_null(strstr(out, u->password));
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "user-create printed %s", out);
	util_strlcpy(id, cJSON_GetStringValue(cJSON_GetObjectItem(j, "user_id")), sizeof(id));
	util_strlcpy(u->id, id, sizeof(u->id));
	snprintf(u->org, sizeof(u->org), "%d",
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "org_id")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "role")), role);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "org")), slug);
	cJSON_Delete(j);
	ck_assert(util_uuid_ok(u->id));
}

/* Empty the login buckets of this client address and of (`slug`, `email`). */
void
reset_limits(const char *slug, const char *email)
{
	struct kv	*kv = testdb_kv_open();
	char		 idx[DIGEST_TEXT], acct[128];
	const char	*argv[3] = { "DEL", "cb:rl:login:ip:127.0.0.1", acct };

	snprintf(acct, sizeof(acct), "cb:rl:login:acct:none");
	if (slug && email && users_login_bucket(test_blind_key(), slug, email, idx) == CB_OK)
		snprintf(acct, sizeof(acct), "cb:rl:login:acct:%s", idx + 2);
	ck_assert_int_eq(kv_cmd(kv, NULL, 3, argv, NULL), CB_OK);
	kv_close(kv);
}

void
login(const char *slug, const char *email, const char *password, struct http_resp *r)
{
	cJSON	*o = cJSON_CreateObject();
	char	*body;

	if (slug != NULL)
		cJSON_AddStringToObject(o, "org", slug);
	cJSON_AddStringToObject(o, "email", email);
	cJSON_AddStringToObject(o, "password", password);
	body = cJSON_PrintUnformatted(o);
	{
		const char	*h[] = { "Content-Type: application/json", NULL };

		http_do("POST", "/api/v1/auth/login", h, body, strlen(body), r);
	}
	free(body);
	cJSON_Delete(o);
}

/* A successful login: its access and refresh tokens. */
void
login_ok(const struct tuser *u, char access[TOKSZ], char refresh[80])
{
	struct http_resp r;

	reset_limits(u->slug, u->email);
	login(u->slug, u->email, u->password, &r);
	ck_assert_msg(r.status == 200, "login: %ld %s", r.status, r.body);
	util_strlcpy(access, http_json_str(&r, "access_token"), TOKSZ);
	util_strlcpy(refresh, http_json_str(&r, "refresh_token"), 80);
	test_record_secret(access);
	test_record_secret(refresh);
	http_free(&r);
}

void
new_staff(const char *slug, const char *const *roles, struct tuser *users, char (*access)[TOKSZ])
{
	char	 refresh[80];
	size_t	 i;

	for (i = 0; roles[i] != NULL; i++)
		new_user(slug, roles[i], &users[i]);
	reset_limits(NULL, NULL);
	for (i = 0; roles[i] != NULL; i++)
		login_ok(&users[i], access[i], refresh);
}

double
login_refused_ms(const char *slug, const char *email, const char *password)
{
	struct http_resp r;
	double		 t0, t;

	reset_limits(slug, email);
	t0 = util_now_ms();
	login(slug, email, password, &r);
	t = util_now_ms() - t0;
	ck_assert_msg(r.status == 401, "%ld %s", r.status, r.body);
	http_free(&r);
	return t;
}

double
test_median(double *v, int n)
{
	int	 i, j;
	double	 t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
