/*
 * test_trace: the W3C traceparent parser (lib/trace).  The specification's
 * example parses to its parts; every way a header can be wrong is refused
 * (not a traceparent: the caller starts a new trace), one character at a
 * time where it matters; a started trace and a child span are valid
 * headers that parse back to themselves, a child keeps the trace id and
 * never the parent's span.  Span ids come from a per-process pool: a
 * forked child never hands out its parent's next ids.
 */
#include <sys/wait.h>

#include <string.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "errs.h"
#include "trace.h"

#define EX	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

START_TEST(test_spec_example)
{
	struct trace	 t;
	char		 out[TRACE_HEADER_LEN + 1];

	ck_assert_int_eq(trace_parse(EX, &t), CB_OK);
	ck_assert_str_eq(t.id, "4bf92f3577b34da6a3ce929d0e0e4736");
	ck_assert_str_eq(t.span, "00f067aa0ba902b7");
	ck_assert_uint_eq(t.flags, 1);
	trace_format(&t, out);
	ck_assert_str_eq(out, EX);
	ck_assert_int_eq(trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
	    &t), CB_OK);
	ck_assert_uint_eq(t.flags, 0);
}
END_TEST

static const char *const bad[] = {
	"",
	"00",
	EX "-",					/* a longer later version's tail: not version 00 */
	EX " ",
	" " EX,
	"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* version 01 */
	"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* forbidden version */
	"00-00000000000000000000000000000000-00f067aa0ba902b7-01",	/* zero trace id */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",	/* zero parent id */
	"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",	/* upper case */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0X",
	"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",	/* dash moved */
	"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
	"00-4bf92f3577b34da6a3ce929d0e0e47g6-00f067aa0ba902b7-01",	/* not hex */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",	/* short flags */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",	/* short parent */
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\x01",
};

START_TEST(test_malformed)
{
	struct trace	 t;

	ck_assert_int_eq(trace_parse(bad[_i], &t), CB_ERR_VALIDATION);
	ck_assert_str_eq(t.id, "");
	ck_assert_int_eq(trace_set(&t), 0);
}
END_TEST

START_TEST(test_every_position_checked)
{
	struct trace	 t;
	char		 s[sizeof(EX)];
	size_t		 i;

	/* Any one character replaced by one outside its part's alphabet. */
	for (i = 0; i < TRACE_HEADER_LEN; i++) {
		memcpy(s, EX, sizeof(EX));
		s[i] = (s[i] == '-') ? '0' : 'z';
		ck_assert_msg(trace_parse(s, &t) == CB_ERR_VALIDATION, "accepted %s", s);
	}
	ck_assert_int_eq(trace_parse(NULL, &t), CB_ERR_VALIDATION);
}
END_TEST

/* nginx's $request_id as the trace it started: id and nginx's span, or nothing. */
START_TEST(test_from_request_id)
{
	static const char *const no[] = {
		"4bf92f3577b34da6a3ce929d0e0e473",	/* 31 digits */
		"4bf92f3577b34da6a3ce929d0e0e47360",	/* 33 */
		"4BF92F3577B34DA6A3CE929D0E0E4736",	/* upper case */
		"4bf92f3577b34da6a3ce929d0e0e473g",
		"00000000000000000000000000000000",
		"4bf92f3577b34da60000000000000000",	/* nginx's span all zeros */
		"",
	};
	struct trace	 t;
	size_t		 i;

	ck_assert_int_eq(trace_from_request_id("4bf92f3577b34da6a3ce929d0e0e4736", &t), CB_OK);
	ck_assert_str_eq(t.id, "4bf92f3577b34da6a3ce929d0e0e4736");
	ck_assert_str_eq(t.span, "a3ce929d0e0e4736");
	ck_assert_uint_eq(t.flags, TRACE_FLAG_SAMPLED);
	for (i = 0; i < CU_NELEM(no); i++) {
		ck_assert_msg(trace_from_request_id(no[i], &t) == CB_ERR_VALIDATION, "took %s", no[i]);
		ck_assert_int_eq(trace_set(&t), 0);
	}
	ck_assert_int_eq(trace_from_request_id(NULL, &t), CB_ERR_VALIDATION);
}
END_TEST

START_TEST(test_start_and_child)
{
	struct trace	 a, b, c, p;
	char		 h[TRACE_HEADER_LEN + 1];

	trace_start(&a);
	trace_start(&b);
	ck_assert_int_eq(trace_set(&a), 1);
	ck_assert_str_ne(a.id, b.id);
	trace_format(&a, h);
	ck_assert_uint_eq(strlen(h), TRACE_HEADER_LEN);
	ck_assert_int_eq(trace_parse(h, &p), CB_OK);
	ck_assert_str_eq(p.id, a.id);
	ck_assert_str_eq(p.span, a.span);
	ck_assert_uint_eq(p.flags, TRACE_FLAG_SAMPLED);
	trace_child(&a, &c);
	ck_assert_str_eq(c.id, a.id);
	ck_assert_str_ne(c.span, a.span);
	ck_assert_uint_eq(c.flags, a.flags);
	memset(&p, 0, sizeof(p));
	trace_format(&p, h);
	ck_assert_str_eq(h, "");
}
END_TEST

/*
 * The responders prefork: a child that inherited its parent's pool of
 * random bytes would hand out the very span ids its parent and siblings
 * hand out next.  The parent draws first (filling its pool), then two
 * children and the parent each start a trace: three different ids.
 */
START_TEST(test_fork_draws_anew)
{
	struct trace	 t;
	char		 got[2][TRACE_ID_HEX + TRACE_SPAN_HEX + 1];
	int		 fd[2][2], i, st;
	pid_t		 pid[2];

	trace_start(&t);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pipe(fd[i]), 0);
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			trace_start(&t);
			memcpy(got[i], t.id, TRACE_ID_HEX);
			memcpy(got[i] + TRACE_ID_HEX, t.span, TRACE_SPAN_HEX);
			_exit(write(fd[i][1], got[i], TRACE_ID_HEX + TRACE_SPAN_HEX) !=
			    TRACE_ID_HEX + TRACE_SPAN_HEX);
		}
		close(fd[i][1]);
		memset(got[i], 0, sizeof(got[i]));
		ck_assert_int_eq(read(fd[i][0], got[i], TRACE_ID_HEX + TRACE_SPAN_HEX),
		    TRACE_ID_HEX + TRACE_SPAN_HEX);
		close(fd[i][0]);
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	trace_start(&t);
	ck_assert_str_ne(got[0], got[1]);
	ck_assert_int_ne(strncmp(got[0], t.id, TRACE_ID_HEX), 0);
	ck_assert_int_ne(strncmp(got[1], t.id, TRACE_ID_HEX), 0);
	ck_assert_int_ne(strncmp(got[0] + TRACE_ID_HEX, t.span, TRACE_SPAN_HEX), 0);
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite	*s = suite_create("trace");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_spec_example);
	tcase_add_loop_test(tc, test_malformed, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_every_position_checked);
	tcase_add_test(tc, test_from_request_id);
	tcase_add_test(tc, test_start_and_child);
	tcase_add_test(tc, test_fork_draws_anew);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(trace_suite());
}
