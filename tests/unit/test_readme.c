/*
 * test_readme: the route example of README.md ("Adding a route") as a
 * newcomer would paste it.  The Makefile cuts the C block out of the README
 * into readme_route.c; it is compiled here with its main() renamed, and
 * its responder answers through the real pipeline (route_handle) from
 * memory: if the README's example stops compiling or answering, this fails.
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
	route_handle(&ping_responder, NULL, env, &rio);
	ck_assert_int_eq(io->writes, 1);
	ck_assert_msg(cu_resp_parse(io->out.data, io->out.len, cr) == 0,
	    "unparsable response: %s", buf_cstr(&io->out));
}

START_TEST(example_answers_pong)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/api/v1/ping/bob",
	    NULL);

	run(env, &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_pstr_eq(cu_resp_str(&cr, "pong"), "bob");
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
	tcase_add_test(tc, example_refuses_other_methods);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
