/*
 * test_readme: the route example of README.md ("Adding a route") as a
 * newcomer would paste it.  The Makefile cuts the C block out of the README
 * into readme_route.c; it is compiled here with its main() renamed.  Its
 * responder answers through the real pipeline (route_handle) from memory
 * up to the agent's authentication, which needs Postgres: so its act() is
 * also called directly, as the pipeline would once the caller is known.
 * If the README's example stops compiling or answering, this fails.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../support/check_util.h"

#define main readme_route_main
int readme_route_main(int, char **);
#include "readme_route.c"
#undef main

static void
run(char **env, struct cu_io *io, struct cu_resp *cr)
{
	struct req_io	 rio;

	cu_io_init(io, NULL, 0);
	cu_io_bind(io, &rio);
	route_handle(&route_main_responder, NULL, env, &rio);
	ck_assert_int_eq(io->writes, 1);
	ck_assert_msg(cu_resp_parse(io->out.data, io->out.len, cr) == 0,
	    "unparsable response: %s", buf_cstr(&io->out));
}

/* The act of the example, as the pipeline calls it for GET /api/v1/ping/<name>. */
static int
act_for(const char *uri, struct req *r)
{
	char	**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", uri, NULL);
	int	  rc;

	req_init(r, env, NULL, NULL);
	ck_assert_int_eq(req_match(r, routes[0].pattern, r->uri), 1);
	rc = routes[0].act(r, NULL);
	cu_env_free(env);
	return rc;
}

START_TEST(example_answers_pong)
{
	struct req	 r;

	ck_assert_int_eq(act_for("/api/v1/ping/bob", &r), CB_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.out), "\"pong\":\"bob\""));
	req_free(&r);
}
END_TEST

START_TEST(example_fails_one_way)
{
	struct req	 r;

	ck_assert_int_eq(act_for("/api/v1/ping/0123456789012345678901234567890123456789", &r),
	    CB_ERR_BAD_REQUEST);
	ck_assert_int_eq(r.fail_code, CB_ERR_BAD_REQUEST);
	ck_assert_str_eq(r.fail_detail, "a name is at most 32 bytes");
	ck_assert_int_eq(r.responded, 0);
	req_free(&r);
}
END_TEST

/* Declared, not coded: an agent's credentials are asked for before act runs. */
START_TEST(example_wants_an_agent)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/api/v1/ping/bob",
	    NULL);

	run(env, &io, &cr);
	ck_assert_int_eq(cr.status, 401);
	ck_assert_pstr_eq(cu_resp_header(&cr, "WWW-Authenticate"), "Bearer realm=\"context-broker\"");
	ck_assert_str_eq(routes[0].scope, "commands:read");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(example_refuses_other_methods)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "DELETE", "DOCUMENT_URI", "/api/v1/ping/bob",
	    NULL);

	run(env, &io, &cr);
	ck_assert_int_eq(cr.status, 405);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Allow"), "GET, HEAD");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("readme");
	TCase	*tc = tcase_create("readme");

	tcase_add_test(tc, example_answers_pong);
	tcase_add_test(tc, example_fails_one_way);
	tcase_add_test(tc, example_wants_an_agent);
	tcase_add_test(tc, example_refuses_other_methods);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
