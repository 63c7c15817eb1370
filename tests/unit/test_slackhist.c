/*
 * test_slackhist: Slack's conversations.history answer as the slack sink
 * reads it before posting a retried message again.  A message whose
 * metadata names the row is found (among others, whatever else Slack
 * adds); another row's id, a number for the id or another event type is
 * not; ok:false is a refusal with Slack's code, or unknown_error for one
 * that is not a snake_case word; anything that is not Slack's JSON is bad.
 */
#include <stdio.h>
#include <string.h>

#include "../support/check_util.h"
#include "slackhist.h"

static const struct {
	const char	*body;
	int		 want;
	const char	*error;
} cases[] = {
	{ "{\"ok\":true,\"messages\":[{\"type\":\"message\",\"blocks\":[],\"metadata\":"
	  "{\"event_type\":\"cb_outbox_row\",\"event_payload\":{\"outbox_id\":\"17\"}}}],"
	  "\"has_more\":false,\"pin_count\":0}", SLACKHIST_FOUND, "" },
	{ "{\"ok\":true,\"messages\":[{\"text\":\"a\"},{\"metadata\":{\"event_type\":"
	  "\"cb_outbox_row\",\"event_payload\":{\"outbox_id\":\"17\"}}}]}", SLACKHIST_FOUND, "" },
	{ "{\"ok\":true,\"messages\":[{\"metadata\":{\"event_type\":\"cb_outbox_row\","
	  "\"event_payload\":{\"outbox_id\":\"170\"}}}]}", SLACKHIST_ABSENT, "" },
	{ "{\"ok\":true,\"messages\":[{\"metadata\":{\"event_type\":\"cb_outbox_row\","
	  "\"event_payload\":{\"outbox_id\":17}}}]}", SLACKHIST_ABSENT, "" },
	{ "{\"ok\":true,\"messages\":[{\"metadata\":{\"event_type\":\"other\","
	  "\"event_payload\":{\"outbox_id\":\"17\"}}}]}", SLACKHIST_ABSENT, "" },
	{ "{\"ok\":true,\"messages\":[]}", SLACKHIST_ABSENT, "" },
	{ "{\"ok\":false,\"error\":\"missing_scope\",\"needed\":\"channels:history\"}",
	  SLACKHIST_REFUSED, "missing_scope" },
	{ "{\"ok\":false,\"error\":\"Not A Code\"}", SLACKHIST_REFUSED, "unknown_error" },
	{ "{\"ok\":false}", SLACKHIST_REFUSED, "unknown_error" },
	{ "{\"ok\":true}", SLACKHIST_BAD, "" },
	{ "{\"ok\":\"true\",\"messages\":[]}", SLACKHIST_BAD, "" },
	{ "[]", SLACKHIST_BAD, "" },
	{ "<html>502</html>", SLACKHIST_BAD, "" },
	{ "", SLACKHIST_BAD, "" },
};

START_TEST(test_answers)
{
	char	 error[SLACKHIST_ERROR_MAX];

	ck_assert_int_eq(slackhist_find(cases[_i].body, strlen(cases[_i].body), "17", error),
	    cases[_i].want);
	ck_assert_str_eq(error, cases[_i].error);
}
END_TEST

START_TEST(test_at_most_the_messages_asked_for)
{
	static char	 body[(SLACKHIST_MESSAGES_MAX + 8) * 3 + 256];
	char		 error[SLACKHIST_ERROR_MAX];
	size_t		 n;
	int		 i;

	/* The row's message after SLACKHIST_MESSAGES_MAX others is not looked at. */
	n = (size_t)snprintf(body, sizeof(body), "{\"ok\":true,\"messages\":[");
	for (i = 0; i < SLACKHIST_MESSAGES_MAX; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "{},");
	n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"metadata\":{\"event_type\":"
	    "\"cb_outbox_row\",\"event_payload\":{\"outbox_id\":\"17\"}}}]}");
	ck_assert_int_eq(slackhist_find(body, n, "17", error), SLACKHIST_ABSENT);
	/* One fewer before it ("{}," taken out after the array's "["): found. */
	memmove(body + 23, body + 26, n - 26);
	ck_assert_int_eq(slackhist_find(body, n - 3, "17", error), SLACKHIST_FOUND);
}
END_TEST

static Suite *
slackhist_suite(void)
{
	Suite	*s = suite_create("slackhist");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_answers, 0, (int)CU_NELEM(cases));
	tcase_add_test(tc, test_at_most_the_messages_asked_for);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(slackhist_suite());
}
