/*
 * test_routespec: one source for a route.  The comparison that holds
 * routes.tab and the responders' descriptors together is shown to fail on
 * each kind of disagreement (a route missing on either side, another body
 * cap, another rate class, a malformed line); the rate class a descriptor
 * reports follows from how it authenticates unless declared; the check
 * that every /api/ route but the public ones declares who may call it, and
 * every admin route a person's roles, fails on each kind of omission; and the
 * problem+json answers nginx makes itself (nginx/nginx.conf.in) carry the
 * same `type` and `title` as lib/errs.c for the same status, each with its
 * documentation page, Retry-After on 429 and 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "../support/routespec.h"
#include "errs.h"
#include "route.h"

static const char table[] =
    "# method path binary procs body_max rate_class\n"
    "GET  /api/health              health 2 0    anonymous\n"
    "POST /api/v1/things/{id}/poke things 2 1024 agent   # a comment\n"
    "\n"
    "GET  /api/v1/things/{id}      things 2 0    agent\n";

static const char health_ok[] = "GET /api/health 0 anonymous none -\n";
static const char things_ok[] =
    "POST /api/v1/things/{id}/poke 1024 agent agent things:write\n"
    "GET /api/v1/things/{id} 0 agent agent -\n";

static int
compare(const char *tab, const char *health, const char *things, char **report)
{
	struct routespec_bin	 bins[2] = { { "health", health }, { "things", things } };
	struct buf		 b;
	int			 n;

	buf_init(&b, 65536);
	n = routespec_compare(tab, bins, 2, &b);
	*report = strdup(buf_cstr(&b));
	buf_free(&b);
	return n;
}

START_TEST(test_agreement_passes)
{
	char	*rep;

	ck_assert_int_eq(compare(table, health_ok, things_ok, &rep), 0);
	ck_assert_str_eq(rep, "");
	free(rep);
}
END_TEST

/* Each deliberate mismatch is found, once, and named. */
static const struct {
	const char	*tab;
	const char	*things;
	int		 count;
	const char	*says;
} bad[] = {
	/* another body cap in the descriptor */
	{ table, "POST /api/v1/things/{id}/poke 2048 agent agent -\n"
	  "GET /api/v1/things/{id} 0 agent agent -\n", 1,
	  "POST /api/v1/things/{id}/poke: body_max 1024 in routes.tab, 2048 in the descriptor" },
	/* another rate class */
	{ table, "POST /api/v1/things/{id}/poke 1024 tab tab -\n"
	  "GET /api/v1/things/{id} 0 agent agent -\n", 1,
	  "POST /api/v1/things/{id}/poke: rate_class agent in routes.tab, tab in the descriptor" },
	/* a route only the table has */
	{ table, "GET /api/v1/things/{id} 0 agent agent -\n", 1,
	  "POST /api/v1/things/{id}/poke: in routes.tab, not declared by things" },
	/* a route only the descriptors have */
	{ table, "POST /api/v1/things/{id}/poke 1024 agent agent -\n"
	  "GET /api/v1/things/{id} 0 agent agent -\nDELETE /api/v1/things/{id} 0 agent agent -\n", 1,
	  "DELETE /api/v1/things/{id}: declared by things, missing from routes.tab" },
	/* the same method and path, but listed under another binary */
	{ "GET /api/health health 2 0 anonymous\n"
	  "POST /api/v1/things/{id}/poke health 2 1024 agent\n"
	  "GET /api/v1/things/{id} things 2 0 agent\n", things_ok, 2,
	  "POST /api/v1/things/{id}/poke: in routes.tab, not declared by health" },
	/* a table line without its rate class (the old 5-column format) */
	{ "GET /api/health health 2 0\n"
	  "POST /api/v1/things/{id}/poke things 2 1024 agent\n"
	  "GET /api/v1/things/{id} things 2 0 agent\n", things_ok, 2,
	  "routes.tab line 1: expected 6 " },
	/* a descriptor the responder printed wrongly */
	{ table, "POST /api/v1/things/{id}/poke 1024 agent\nGET /api/v1/things/{id} 0 agent agent -\n",
	  2, "things line 1: expected 6 " },
	/* a column past the traits (lib/route.h) */
	{ table, "POST /api/v1/things/{id}/poke 1024 agent agent - deprecated=1,sunset=2 x\n"
	  "GET /api/v1/things/{id} 0 agent agent -\n", 2, "things line 1: expected 6 " },
};

/* A route with traits has a 7th column; the comparison takes it. */
START_TEST(test_deprecation_column_agrees)
{
	char	*rep;

	ck_assert_int_eq(compare(table, health_ok, "POST /api/v1/things/{id}/poke 1024 agent agent "
	    "things:write idempotent,deprecated=1704067200,sunset=4102444800\n"
	    "GET /api/v1/things/{id} 0 agent agent -\n", &rep), 0);
	ck_assert_str_eq(rep, "");
	free(rep);
}
END_TEST

START_TEST(test_disagreement_found)
{
	char	*rep;
	int	 n = compare(bad[_i].tab, health_ok, bad[_i].things, &rep);

	ck_assert_msg(n == bad[_i].count, "case %d: %d disagreements, want %d:\n%s", _i, n,
	    bad[_i].count, rep);
	ck_assert_msg(strstr(rep, bad[_i].says) != NULL, "case %d: report lacks \"%s\":\n%s",
	    _i, bad[_i].says, rep);
	free(rep);
}
END_TEST

/* --------------------------------------------- who may call each route */

/* The routes a check is told are public on purpose. */
static const char *const public_routes[] = { "GET /api/health", "POST /api/v1/login", NULL };

static int
check_auth(const char *printed, char **report)
{
	struct routespec_bin	 bin = { "things", printed };
	struct buf		 b;
	int			 n;

	buf_init(&b, 65536);
	n = routespec_check_auth(&bin, 1, public_routes, &b);
	*report = strdup(buf_cstr(&b));
	buf_free(&b);
	return n;
}

START_TEST(test_auth_declared_passes)
{
	char	*rep;

	ck_assert_int_eq(check_auth("GET /api/health 0 anonymous none -\n"
	    "POST /api/v1/login 0 anonymous none -\n"
	    "GET /.well-known/jwks.json 0 anonymous none -\n"
	    "GET /api/v1/things/{id} 0 agent agent things:read\n"
	    "POST /api/v1/forms/{id}/submit 0 tab tab -\n"
	    "GET /api/v1/admin/users 0 admin person admin,operator\n", &rep), 0);
	ck_assert_str_eq(rep, "");
	free(rep);
}
END_TEST

/* Each omission is found, once, and named. */
static const struct {
	const char	*printed;
	const char	*says;
} auth_bad[] = {
	/* an /api/ route that admits anyone, not on the public list */
	{ "POST /api/v1/things 0 anonymous none -\n",
	  "POST /api/v1/things: declares no authentication" },
	/* a public path, but another method */
	{ "DELETE /api/health 0 anonymous none -\n",
	  "DELETE /api/health: declares no authentication" },
	/* an admin route for any person */
	{ "GET /api/v1/admin/users 0 admin person -\n",
	  "GET /api/v1/admin/users: an admin route declares no roles" },
	/* an admin route for an agent */
	{ "GET /api/v1/admin/users 0 agent agent commands:read\n",
	  "GET /api/v1/admin/users: an admin route must authenticate a person (agent)" },
	/* an authentication kind the check does not know */
	{ "GET /api/v1/things 0 unset unknown -\n",
	  "GET /api/v1/things: unknown authentication \"unknown\"" },
};

START_TEST(test_auth_omission_found)
{
	char	*rep;
	int	 n = check_auth(auth_bad[_i].printed, &rep);

	ck_assert_msg(n == 1, "case %d: %d findings, want 1:\n%s", _i, n, rep);
	ck_assert_msg(strstr(rep, auth_bad[_i].says) != NULL, "case %d: report lacks \"%s\":\n%s",
	    _i, auth_bad[_i].says, rep);
	free(rep);
}
END_TEST

/* ------------------------------------------------ descriptors' classes */

static int
no_act(struct req *r, const void *a)
{
	(void)r;
	(void)a;
	return CB_OK;
}

static int
own_check(struct req *r)
{
	(void)r;
	return CB_OK;
}

static const struct route spec_routes[] = {
	{ .method = "GET", .pattern = "/a", .act = no_act },
	{ .method = "POST", .pattern = "/b", .body_max = 64, .auth = ROUTE_AUTH_TAB, .act = no_act },
	{ .method = "POST", .pattern = "/c", .auth = ROUTE_AUTH_AGENT, .scope = "commands:write",
	  .act = no_act },
	{ .method = "GET", .pattern = "/d", .auth = ROUTE_AUTH_AGENT_KEY, .act = no_act },
	{ .method = "GET", .pattern = "/e", .auth = ROUTE_AUTH_PERSON,
	  .roles = ROLES("admin", "operator"), .act = no_act },
	{ .method = "POST", .pattern = "/f", .auth = ROUTE_AUTH_AGENT_MEMO, .act = no_act },
	{ .method = "POST", .pattern = "/g", .authorize = own_check, .rate_class = RATE_WEBHOOK,
	  .act = no_act },
	{ .method = "POST", .pattern = "/h", .auth = ROUTE_AUTH_TAB, .rate_class = RATE_ANONYMOUS,
	  .act = no_act },
	{ .method = "POST", .pattern = "/i", .auth = (enum route_auth)99, .act = no_act },
};

START_TEST(test_print_spec_classes)
{
	const struct responder	 resp = { .name = "spec", .routes = spec_routes,
	    .nroutes = CU_NELEM(spec_routes) };
	char			*out = NULL;
	size_t			 len = 0;
	FILE			*f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	route_print_spec(&resp, f);
	fclose(f);
	ck_assert_str_eq(out,
	    "GET /a 0 anonymous none -\n"
	    "POST /b 64 tab tab -\n"
	    "POST /c 0 agent agent commands:write\n"
	    "GET /d 0 agent agent-key -\n"
	    "GET /e 0 admin person admin,operator\n"
	    "POST /f 0 agent agent-memo -\n"
	    "POST /g 0 webhook none -\n"
	    "POST /h 0 anonymous tab -\n"
	    "POST /i 0 unset unknown -\n");	/* no such kind: both checks fail it */
	free(out);
}
END_TEST

START_TEST(test_responder_default_class)
{
	const struct responder	 resp = { .name = "spec", .routes = spec_routes,
	    .nroutes = CU_NELEM(spec_routes), .rate_class = RATE_ADMIN };

	ck_assert_int_eq(route_rate_class(&resp, &spec_routes[0]), RATE_ADMIN);
	ck_assert_int_eq(route_rate_class(&resp, &spec_routes[5]), RATE_ADMIN);
	ck_assert_int_eq(route_rate_class(&resp, &spec_routes[8]), RATE_ADMIN);
	/* A route's own class wins over its responder's. */
	ck_assert_int_eq(route_rate_class(&resp, &spec_routes[6]), RATE_WEBHOOK);
}
END_TEST

START_TEST(test_tls_only_routes)
{
	ck_assert_int_eq(route_tls_only(&spec_routes[4]), 1);	/* a person's route */
	ck_assert_int_eq(route_tls_only(&spec_routes[1]), 0);
	ck_assert_int_eq(route_tls_only(&(struct route){ .flags = ROUTE_TLS_ONLY }), 1);
}
END_TEST

/* ------------------------------------------- nginx's own problem answers */

/* The code whose status nginx answers with its own page. */
static const struct {
	int	 status;
	int	 code;		/* CB_OK: the app has none (414) */
	int	 retry_after;
} nginx_pages[] = {
	{ 400, CB_ERR_BAD_REQUEST, 0 },
	{ 401, CB_ERR_UNAUTHENTICATED, 0 },	/* from nginx's 495 (mutual TLS) */
	{ 404, CB_ERR_NOT_FOUND, 0 },
	{ 405, CB_ERR_METHOD, 0 },
	{ 413, CB_ERR_TOO_LARGE, 0 },
	{ 414, CB_OK, 0 },
	{ 429, CB_ERR_RATE_LIMITED, 1 },
	{ 500, CB_ERR_INTERNAL, 0 },
	{ 502, CB_ERR_UPSTREAM, 0 },
	{ 503, CB_ERR_UNAVAILABLE, 1 },
	{ 504, CB_ERR_TIMEOUT, 0 },
};

START_TEST(test_nginx_problems_match_errs)
{
	const char	*repo = cu_env_required("CB_REPO");
	char		 path[512], loc[32], ret[32], *conf, *p, *end, *body;
	cJSON		*j;
	int		 st = nginx_pages[_i].status;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/nginx/nginx.conf.in", repo);
	conf = cu_slurp(path);
	snprintf(loc, sizeof(loc), "location = /_problem/%d {", st);
	p = strstr(conf, loc);
	ck_assert_msg(p != NULL, "no %s in nginx.conf.in", loc);
	end = strstr(p, "\n        }");
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	ck_assert_ptr_nonnull(strstr(p, "internal;"));
	ck_assert_msg((strstr(p, "add_header Retry-After") != NULL) == nginx_pages[_i].retry_after,
	    "@e%d: Retry-After %s", st, nginx_pages[_i].retry_after ? "missing" : "unexpected");
	ck_assert_ptr_nonnull(strstr(p, "default_type application/problem+json;"));
	snprintf(ret, sizeof(ret), "return %d '", st);
	ck_assert_msg((p = strstr(p, ret)) != NULL, "@e%d does not answer %d", st, st);
	p += strlen(ret);
	end = strstr(p, "';");
	ck_assert_ptr_nonnull(end);
	body = strndup(p, (size_t)(end - p));
	/* nginx's \' is a quote inside its string: JSON has none to escape. */
	while ((p = strstr(body, "\\'")) != NULL)
		memmove(p, p + 1, strlen(p));
	j = cJSON_Parse(body);
	ck_assert_msg(j != NULL, "@e%d: not JSON: %s", st, body);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "status")->valueint, st);
	if (nginx_pages[_i].code != CB_OK) {
		ck_assert_str_eq(cJSON_GetObjectItem(j, "type")->valuestring,
		    errs_type(nginx_pages[_i].code));
		ck_assert_str_eq(cJSON_GetObjectItem(j, "title")->valuestring,
		    errs_title(nginx_pages[_i].code));
	}
	ck_assert_str_eq(cJSON_GetObjectItem(j, "request_id")->valuestring, "$request_id");
	/* Its type is documented: /problems/<slug> -> web/problems/<slug>.html */
	snprintf(path, sizeof(path), "%s/web%s.html", repo,
	    cJSON_GetObjectItem(j, "type")->valuestring);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "no documentation page %s", path);
	fclose(f);
	cJSON_Delete(j);
	free(body);
	free(conf);
}
END_TEST

/* Every status nginx may answer itself has its page (problem-pages.conf). */
START_TEST(test_nginx_error_pages_listed)
{
	const char	*repo = cu_env_required("CB_REPO");
	char		 path[512], want[64], *conf;

	snprintf(path, sizeof(path), "%s/nginx/problem-pages.conf", repo);
	conf = cu_slurp(path);
	/* 401: nginx's 495, a client certificate the CA did not verify. */
	if (nginx_pages[_i].status == 401)
		snprintf(want, sizeof(want), "error_page 495 =401 /_problem/401;");
	else
		snprintf(want, sizeof(want), "error_page %d /_problem/%d;", nginx_pages[_i].status,
		    nginx_pages[_i].status);
	if (nginx_pages[_i].status != 404)	/* 404: only under /api/ and /.well-known/ */
		ck_assert_msg(strstr(conf, want) != NULL, "problem-pages.conf lacks %s", want);
	free(conf);
}
END_TEST

static Suite *
routespec_suite(void)
{
	Suite	*s = suite_create("routespec");
	TCase	*tc;

	tc = tcase_create("compare");
	tcase_add_test(tc, test_agreement_passes);
	tcase_add_test(tc, test_deprecation_column_agrees);
	tcase_add_loop_test(tc, test_disagreement_found, 0, (int)CU_NELEM(bad));
	suite_add_tcase(s, tc);

	tc = tcase_create("auth");
	tcase_add_test(tc, test_auth_declared_passes);
	tcase_add_loop_test(tc, test_auth_omission_found, 0, (int)CU_NELEM(auth_bad));
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptors");
	tcase_add_test(tc, test_print_spec_classes);
	tcase_add_test(tc, test_responder_default_class);
	tcase_add_test(tc, test_tls_only_routes);
	suite_add_tcase(s, tc);

	tc = tcase_create("nginx");
	tcase_add_loop_test(tc, test_nginx_problems_match_errs, 0, (int)CU_NELEM(nginx_pages));
	tcase_add_loop_test(tc, test_nginx_error_pages_listed, 0, (int)CU_NELEM(nginx_pages));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(routespec_suite());
}
