/*
 * Foundation, through nginx against the private stack started by
 * scripts/test.sh: health, dependency failure and recovery, edge errors as
 * problem+json, 405 with Allow, and a responder child killed with SIGKILL
 * being respawned.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"

START_TEST(health_ok_http_and_https)
{
	struct http_resp r;
	char		 url[256];
	cJSON		*c;

	http_do("GET", "/api/health", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "status"), "ok");
	c = cJSON_GetObjectItem(http_json(&r), "checks");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "postgres"), "status")->valuestring, "up");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "redis"), "status")->valuestring, "up");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "redis"), "latency_ms")));
	ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id"));
	http_free(&r);

	snprintf(url, sizeof(url), "%s/api/health", https_base());
	http_do("GET", url, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
}
END_TEST

static const struct { const char *path; long status; } component_cases[] = {
	{ "/api/health/postgres", 200 },
	{ "/api/health/redis", 200 },
	{ "/api/health/nosuch", 404 },
};

START_TEST(health_components)
{
	struct http_resp r;

	http_do("GET", component_cases[_i].path, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, component_cases[_i].status);
	if (r.status == 404)
		http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
}
END_TEST

START_TEST(health_redis_down_and_back)
{
	struct http_resp r;
	char		 cmd[1024], out[4096];
	cJSON		*failing;

	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh stop-redis 2>&1", test_env("CB_REPO"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);

	http_do("GET", "/api/health", NULL, NULL, 0, &r);
	http_expect_problem(&r, 503, "/problems/unavailable");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	failing = cJSON_GetObjectItem(http_json(&r), "failing");
	ck_assert_int_eq(cJSON_GetArraySize(failing), 1);
	ck_assert_str_eq(cJSON_GetArrayItem(failing, 0)->valuestring, "redis");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "redis"));
	http_free(&r);

	http_do("GET", "/api/health/redis", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	http_free(&r);
	http_do("GET", "/api/health/postgres", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);

	snprintf(cmd, sizeof(cmd), "%s/scripts/stack.sh start-redis 2>&1", test_env("CB_REPO"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(http_wait_status("/api/health", 200, 10000), "health did not recover");
}
END_TEST

START_TEST(body_over_cap_is_413_from_nginx)
{
	struct http_resp r;
	size_t		 n = 2u * 1024u * 1024u;
	char		*big = malloc(n), cmd[1024], out[8192];
	const char	*hdrs[] = { "Content-Type: application/json", NULL };
	const char	*rid;

	memset(big, 'a', n);
	http_do("POST", "/api/health", hdrs, big, n, &r);
	free(big);
	http_expect_problem(&r, 413, "/problems/payload-too-large");
	rid = http_header(&r, "X-Request-Id");
	ck_assert_ptr_nonnull(rid);
	/* The access log proves no upstream (responder) was involved. */
	test_sleep_ms(200);
	snprintf(cmd, sizeof(cmd), "grep -F '\"%s\"' %s/nginx-access.log", rid,
	    test_env("CB_LOG_DIR"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"status\":413"));
	ck_assert_ptr_nonnull(strstr(out, "\"upstream_status\":\"\""));
	http_free(&r);
}
END_TEST

START_TEST(unknown_route_is_404)
{
	struct http_resp r;

	http_do("GET", "/api/v1/no-such-route", NULL, NULL, 0, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	http_do("POST", "/api/nope", NULL, "{}", 2, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow)
{
	struct http_resp r;

	http_do("DELETE", "/api/health", NULL, NULL, 0, &r);
	http_expect_problem(&r, 405, "/problems/method-not-allowed");
	ck_assert_ptr_nonnull(http_header(&r, "Allow"));
	ck_assert_str_eq(http_header(&r, "Allow"), "GET, HEAD");
	http_free(&r);
}
END_TEST

START_TEST(head_has_no_body)
{
	struct http_resp r;

	http_do("HEAD", "/api/health", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 0);
	http_free(&r);
}
END_TEST

START_TEST(killed_child_is_respawned)
{
	char		 pidfile[512];
	long		 master, before[64], after[64], victim;
	int		 nb, na, i, tries, gone;

	snprintf(pidfile, sizeof(pidfile), "%s/health.pid", test_env("CB_RUN_DIR"));
	master = test_pidfile(pidfile);
	ck_assert_int_gt(master, 0);
	nb = test_children(master, before, 64);
	ck_assert_int_ge(nb, 1);
	victim = before[0];
	ck_assert_int_eq(kill((pid_t)victim, SIGKILL), 0);

	/* Within seconds a new child replaces it and the route answers. */
	for (tries = 0; tries < 50; tries++) {
		test_sleep_ms(100);
		na = test_children(master, after, 64);
		for (gone = 1, i = 0; i < na; i++)
			if (after[i] == victim)
				gone = 0;
		if (gone && na == nb)
			break;
	}
	ck_assert_int_eq(na, nb);
	ck_assert_msg(gone, "the killed child is still listed");
	ck_assert(http_wait_status("/api/health", 200, 5000));
	/* Every process serves: hit it enough times to reach each child. */
	for (i = 0; i < 20; i++)
		ck_assert(http_wait_status("/api/health", 200, 1000));
}
END_TEST

/* 1 if /proc/PID/limits gives core files a limit of 0 (soft and hard). */
static int
no_core_limit(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	int	 ok = 0;

	snprintf(path, sizeof(path), "/proc/%ld/limits", pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max core file size", 18) == 0)
			ok = strstr(line, " 0 ") != NULL && strstr(line, "unlimited") == NULL;
	fclose(f);
	return ok;
}

/*
 * The processes that hold secrets write no core file and are not dumpable:
 * /proc/PID/environ of a process not dumpable belongs to root, not to the
 * service user the process runs as.
 */
START_TEST(no_core_dumps)
{
	static const char *const pidfiles[] = { "cb-worker.pid", "submit.pid", "auth.pid" };
	char		 pidfile[512], path[64];
	long		 pid, kids[64];
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(pidfiles) / sizeof(pidfiles[0]); i++) {
		snprintf(pidfile, sizeof(pidfile), "%s/%s", test_env("CB_RUN_DIR"), pidfiles[i]);
		pid = test_pidfile(pidfile);
		ck_assert_int_gt(pid, 0);
		/* A responder's children serve the requests: they hold the secrets. */
		if (test_children(pid, kids, 64) > 0 && strcmp(pidfiles[i], "cb-worker.pid") != 0)
			pid = kids[0];
		ck_assert_msg(no_core_limit(pid), "%s: core files allowed", pidfiles[i]);
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_msg(st.st_uid == 0, "%s: dumpable (environ owned by %u)", pidfiles[i],
		    (unsigned)st.st_uid);
	}
}
END_TEST

/* Every problem type the library can answer with is documented (RFC 9457). */
START_TEST(problem_types_are_documented)
{
	struct http_resp r;
	int		 code;

	for (code = 1; code < CB_ERR__COUNT; code++) {
		http_do("GET", errs_type(code), NULL, NULL, 0, &r);
		ck_assert_msg(r.status == 200, "%s: %ld", errs_type(code), r.status);
		ck_assert_ptr_nonnull(strstr(http_header(&r, "Content-Type"), "text/html"));
		http_free(&r);
	}
}
END_TEST

static Suite *
foundation_suite(void)
{
	Suite	*s = suite_create("foundation");
	TCase	*tc = tcase_create("through-nginx");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, health_ok_http_and_https);
	tcase_add_loop_test(tc, health_components, 0,
	    sizeof(component_cases) / sizeof(component_cases[0]));
	tcase_add_test(tc, health_redis_down_and_back);
	tcase_add_test(tc, body_over_cap_is_413_from_nginx);
	tcase_add_test(tc, unknown_route_is_404);
	tcase_add_test(tc, wrong_method_is_405_with_allow);
	tcase_add_test(tc, head_has_no_body);
	tcase_add_test(tc, killed_child_is_respawned);
	tcase_add_test(tc, no_core_dumps);
	tcase_add_test(tc, problem_types_are_documented);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(foundation_suite());
}
