/*
 * test_allocfail: every allocation fails in turn, as curl's torture test
 * does (lib/alloc: run once counting the allocations, then once per
 * allocation with that one failing), and the failure paths hold the
 * policy of docs/allocation.md:
 *
 *   - the JSON reader (jv_parse), fed outside input, answers CB_ERR_NOMEM
 *     for every failed allocation: never an abort, never "malformed", and
 *     nothing left allocated (LeakSanitizer, valgrind);
 *   - one route's whole pipeline (route_handle with an in-memory request,
 *     as tests/unit/test_route drives it) either answers as it would have,
 *     or answers a problem+json 500, or ends in util_oom's clean abort
 *     (SIGABRT after the "oom" log line) with nothing written: never a
 *     crash, a sanitizer report, a leak, a partial or a second write.
 *
 * Each pipeline run is its own process (fork), so an abort is seen from
 * outside, as the supervisor would see it; a leak makes LeakSanitizer end
 * that process with a non-zero status, which fails the case.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "alloc.h"
#include "errs.h"
#include "jsonv.h"
#include "route.h"

/* Bodies the reader sees from outside: every JSON shape cJSON allocates for. */
static const char *const reader_bodies[] = {
	"{\"name\":\"Jane\",\"count\":3,\"flag\":true,\"tags\":[\"a\",\"b\",{\"k\":null}]}",
	"[1,2.5,-3e2,\"x\\u00e9\\n\",[],{},[[[[\"deep\"]]]]]",
	"\"a lone string with an escape \\\" and \\u263a\"",
	"{\"a\":{\"b\":{\"c\":{\"d\":[true,false,null,1,{\"e\":\"f\"}]}}}}",
	"{\"name\":\"unterminated",	/* malformed: the failure comes first or not at all */
};

START_TEST(test_reader_every_allocation)
{
	const char	*body = reader_bodies[_i];
	struct jv_error	 err;
	cJSON		*v = NULL;
	unsigned long	 n, i;
	int		 rc0, rc;

	memset(&err, 0, sizeof(err));
	alloc_torture(0);
	rc0 = jv_parse(body, strlen(body), &v, &err);
	n = alloc_torture_count();
	alloc_torture_off();
	cJSON_Delete(v);
	ck_assert_msg(n > 0, "the reader allocated nothing for %s", body);
	printf("allocfail: reader body %d: %lu allocations, each failed in turn\n", _i, n);
	for (i = 1; i <= n; i++) {
		alloc_torture(i);
		rc = jv_parse(body, strlen(body), &v, &err);
		ck_assert_uint_eq(alloc_torture_failed(), 1);
		alloc_torture_off();
		/* A failed allocation is never the sender's fault, nor "malformed". */
		ck_assert_msg(rc == CB_ERR_NOMEM, "allocation %lu of %lu (alone %s): %s (%s)", i, n,
		    errs_name(rc0), errs_name(rc), err.reason);
		ck_assert_ptr_null(v);
	}
}
END_TEST

/*
 * The route tortured: POST /t/items/{id} with a checked JSON body, whose
 * act builds a JSON answer; a valid body answers 200, one with an unknown
 * field a 400 problem (so both the answer and the problem paths fail).
 */
struct item_args {
	const char	*name;
	long long	 count;
	int		 flag;
};

static const struct jv_field item_fields[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct item_args, name), NULL },
	{ "count", JV_INT, 0, 0, 100, offsetof(struct item_args, count), NULL },
	{ "flag", JV_BOOL, 0, 0, 0, offsetof(struct item_args, flag), NULL },
};

static int
item_post(struct req *r, const void *args)
{
	const struct item_args	*a = args;
	cJSON			*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", req_param(r, "id"));
	cJSON_AddStringToObject(o, "name", a->name);
	cJSON_AddNumberToObject(o, "count", (double)a->count);
	cJSON_AddBoolToObject(o, "flag", a->flag);
	resp_header(r, "Location", "/t/items/7");
	resp_json(r, 201, o);
	cJSON_Delete(o);
	return CB_OK;
}

static const struct route torture_routes[] = {
	{ .method = "POST", .pattern = "/t/items/{id}", .body_max = 256,
	  .flags = ROUTE_JSON, .fields = item_fields, .nfields = CU_NELEM(item_fields),
	  .args_size = sizeof(struct item_args), .act = item_post },
};

static const struct responder torture_responder = {
	.name = "allocfail",
	.routes = torture_routes,
	.nroutes = CU_NELEM(torture_routes),
};

/* The request: its body from memory, its answer straight to a file (no allocation). */
struct fd_io {
	const char	*body;
	size_t		 len, pos;
	int		 fd;
	int		 writes;
};

static long
fd_read(void *h, char *out, size_t n)
{
	struct fd_io	*io = h;

	if (n > io->len - io->pos)
		n = io->len - io->pos;
	memcpy(out, io->body + io->pos, n);
	io->pos += n;
	return (long)n;
}

/* A regular file takes a small write whole. */
static int
fd_write(void *h, const char *p, size_t n)
{
	struct fd_io	*io = h;

	io->writes++;
	return write(io->fd, p, n) == (ssize_t)n ? 0 : -1;
}

/* One request through the pipeline; the answer goes to `fd`.  Returns the writes made. */
static int
pipeline_once(const char *body, int fd)
{
	char		 cl[24], **env;
	struct fd_io	 io = { .body = body, .len = strlen(body), .fd = fd };
	struct req_io	 rio = { fd_read, fd_write, &io };

	snprintf(cl, sizeof(cl), "%zu", io.len);
	env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/items/7",
	    "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", cl,
	    "REQUEST_ID", "rid-torture", NULL);
	route_handle(&torture_responder, NULL, env, &rio);
	cu_env_free(env);
	return io.writes;
}

/* Everything written to a temporary file, from its start. */
static char *
file_text(FILE *f, size_t *len)
{
	long	 n;
	char	*s;

	fflush(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_ge(n = ftell(f), 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	*len = (size_t)n;
	return s;
}

/*
 * Run the request in a child with allocation `at` failing (0: none fails).
 * The child's exit: 0, or 3 when allocation `at` never came (the runs are
 * not alike), or 4 when it wrote more than once; a signal when it died.
 */
static int
pipeline_child(const char *body, unsigned long at, char **out, size_t *outlen, char **errtxt)
{
	FILE	*o = tmpfile(), *e = tmpfile();
	pid_t	 pid;
	int	 st, writes;
	size_t	 elen;

	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(e);
	fflush(NULL);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		dup2(fileno(e), STDERR_FILENO);
		alloc_torture(at);
		writes = pipeline_once(body, fileno(o));
		alloc_torture_off();
		if (at > 0 && alloc_torture_failed() != 1)
			_exit(3);
		/* exit, not _exit: LeakSanitizer looks for leaks on the way out. */
		exit(writes == 1 ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	*out = file_text(o, outlen);
	*errtxt = file_text(e, &elen);
	fclose(o);
	fclose(e);
	return st;
}

/* A complete answer: the status line, headers, and exactly Content-Length bytes of body. */
static void
parse_whole(const char *raw, size_t len, struct cu_resp *cr, unsigned long at)
{
	const char	*cl;

	ck_assert_msg(cu_resp_parse(raw, len, cr) == 0, "allocation %lu: unparsable answer %s",
	    at, raw);
	ck_assert_ptr_nonnull(cl = cu_resp_header(cr, "Content-Length"));
	ck_assert_msg(strtoul(cl, NULL, 10) == cr->body_len, "allocation %lu: a torn body", at);
}

/* The same answer, but for the trace id each process draws at random. */
static int
same_answer(struct cu_resp *a, struct cu_resp *b)
{
	if (a->json == NULL || b->json == NULL)
		return a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0;
	cJSON_DeleteItemFromObjectCaseSensitive(a->json, "trace_id");
	cJSON_DeleteItemFromObjectCaseSensitive(b->json, "trace_id");
	return cJSON_Compare(a->json, b->json, 1);
}

static const char *const pipeline_bodies[] = {
	"{\"name\":\"Jane Doe\",\"count\":42,\"flag\":true}",
	"{\"name\":\"Jane Doe\",\"colour\":\"blue\"}",
};

START_TEST(test_pipeline_every_allocation)
{
	const char	*body = pipeline_bodies[_i];
	struct cu_resp	 base, cr;
	char		*raw, *err, *braw;
	size_t		 len, blen;
	unsigned long	 n, i, aborted = 0, reader500 = 0, other500 = 0;
	FILE		*sink = tmpfile();
	int		 st;

	ck_assert_ptr_nonnull(sink);
	/* A first run pays for what a process does once (its caches, its log setup). */
	pipeline_once(body, fileno(sink));
	alloc_torture(0);
	ck_assert_int_eq(pipeline_once(body, fileno(sink)), 1);
	n = alloc_torture_count();
	alloc_torture_off();
	fclose(sink);
	ck_assert_msg(n >= 10, "only %lu allocations counted", n);

	st = pipeline_child(body, 0, &braw, &blen, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the run without failures: %d %s",
	    st, err);
	free(err);
	parse_whole(braw, blen, &base, 0);
	ck_assert_int_eq(base.status, _i == 0 ? 201 : 400);

	for (i = 1; i <= n; i++) {
		st = pipeline_child(body, i, &raw, &len, &err);
		if (WIFSIGNALED(st)) {
			/* util_oom's abort, announced, and the answer written whole or not at all. */
			ck_assert_msg(WTERMSIG(st) == SIGABRT, "allocation %lu of %lu: signal %d %s",
			    i, n, WTERMSIG(st), err);
			ck_assert_msg(strstr(err, "\"event\":\"oom\"") != NULL,
			    "allocation %lu: an abort without the oom line: %s", i, err);
			aborted++;
		} else {
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "allocation %lu of %lu: exit %d %s", i, n, WEXITSTATUS(st), err);
			ck_assert_uint_gt(len, 0);
		}
		if (len > 0) {
			parse_whole(raw, len, &cr, i);
			if (cr.status == base.status)
				ck_assert_msg(same_answer(&cr, &base), "allocation %lu: another answer %s",
				    i, cr.body);
			else {
				ck_assert_msg(cr.status == 500, "allocation %lu: status %d", i, cr.status);
				ck_assert_pstr_eq(cu_resp_header(&cr, "Content-Type"),
				    "application/problem+json");
				ck_assert_pstr_eq(cu_resp_str(&cr, "type"), "/problems/internal");
				if (strstr(cr.body, "out of memory reading the JSON body") != NULL)
					reader500++;
				else
					other500++;
			}
			cu_resp_free(&cr);
		}
		free(raw);
		free(err);
	}
	/*
	 * Every path was taken: the body's allocation (a 500 without the
	 * reader's detail), the reader's (a 500 with it), and the aborts.
	 */
	printf("allocfail: pipeline body %d: %lu allocations; %lu failures answered 500 "
	    "(%lu by the reader), %lu aborted, %lu answered as before\n", _i, n,
	    reader500 + other500, reader500, aborted, n - reader500 - other500 - aborted);
	ck_assert_uint_gt(reader500, 0);
	ck_assert_uint_gt(other500, 0);
	ck_assert_uint_gt(aborted, 0);
	cu_resp_free(&base);
	free(braw);
}
END_TEST

static Suite *
allocfail_suite(void)
{
	Suite	*s = suite_create("allocfail");
	TCase	*tc = tcase_create("reader");

	tcase_add_loop_test(tc, test_reader_every_allocation, 0, (int)CU_NELEM(reader_bodies));
	suite_add_tcase(s, tc);
	tc = tcase_create("pipeline");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_pipeline_every_allocation, 0, (int)CU_NELEM(pipeline_bodies));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(allocfail_suite());
}
