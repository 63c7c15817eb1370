/*
 * test_trace: the W3C traceparent parser (lib/trace).  The specification's
 * example parses to its parts; every way a header can be wrong is refused
 * (not a traceparent: the caller starts a new trace), one character at a
 * time where it matters; a started trace and a child span are valid
 * headers that parse back to themselves, a child keeps the trace id and
 * never the parent's span.
 */
#include <string.h>

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

static Suite *
trace_suite(void)
{
	Suite	*s = suite_create("trace");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_spec_example);
	tcase_add_loop_test(tc, test_malformed, 0, (int)CU_NELEM(bad));
	tcase_add_test(tc, test_every_position_checked);
	tcase_add_test(tc, test_start_and_child);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(trace_suite());
}
