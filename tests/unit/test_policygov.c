/*
 * test_policygov: the governance of agent policy changes, in memory (the
 * validation touches no database).  A form with five fields whose policy is
 * at version 3; each proposal is refused with the field (and, for a
 * governance limit, the setting) named, or accepted with the number of
 * entries it changes.  The canonical text, which the history's SHA-256 and
 * migration 0015's backfill both rely on, is pinned byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "policygov.h"
#include "util.h"

static const char definition[] =
    "{\"title\":\"Contact\",\"fields\":["
    "{\"name\":\"full_name\",\"type\":\"string\",\"class\":\"confidential\"},"
    "{\"name\":\"email\",\"type\":\"email\",\"class\":\"confidential\"},"
    "{\"name\":\"topic\",\"type\":\"enum\",\"class\":\"public\",\"options\":[\"a\"]},"
    "{\"name\":\"message\",\"type\":\"string\",\"class\":\"confidential\"},"
    "{\"name\":\"subscribe\",\"type\":\"boolean\",\"class\":\"internal\"}]}";

static const struct policygov_limits limits = { 6, 4 };

/* The form at version 2, its policy at version 3: focus and set_field on #email. */
static void
state_init(struct policygov_state *st, int has_policy)
{
	memset(st, 0, sizeof(*st));
	util_strlcpy(st->form_id, "00000000-0000-4000-8000-000000000001", sizeof(st->form_id));
	util_strlcpy(st->org, "1", sizeof(st->org));
	st->form_version = 2;
	st->definition = cJSON_Parse(definition);
	ck_assert_ptr_nonnull(st->definition);
	st->has_policy = has_policy;
	st->version = has_policy ? 3 : 0;
	policygov_list_from_csv(has_policy ? "focus,set_field" : "", &st->current.types);
	policygov_list_from_csv(has_policy ? "#email" : "", &st->current.selectors);
	st->current.rate_per_minute = POLICYGOV_DEF_RATE;
	st->current.max_in_flight = POLICYGOV_DEF_INFLIGHT;
	st->current.approval_ttl_s = POLICYGOV_DEF_TTL;
}

static const struct pcase {
	const char	*name;
	const char	*types, *selectors, *approval;
	long long	 rate, inflight, ttl;
	int		 rc;
	const char	*field;		/* refused: the field named */
	const char	*limit;		/* refused by a governance limit: the setting */
	const char	*says;		/* refused: a piece of the detail */
	long long	 changes;	/* accepted: entries changed */
} cases[] = {
	{ "the same policy in another order is identical", "set_field,focus", "#email", "",
	  60, 2, 900, CB_OK, NULL, NULL, NULL, 0 },
	{ "a selector added is one change", "focus,set_field", "#email,#topic", "",
	  60, 2, 900, CB_OK, NULL, NULL, NULL, 1 },
	{ "a command type the broker does not know", "focus,submit", "#email", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "allowed_types", NULL,
	  "'submit' is not a command type the broker knows", 0 },
	{ "a type listed twice", "focus,focus", "#email", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "allowed_types", NULL, "'focus' is listed twice", 0 },
	{ "an empty entry", "focus,,set_field", "#email", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "allowed_types", NULL, "entry 2 must be 1 to", 0 },
	{ "a selector that is not #<field>", "focus", "email", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "selectors", NULL, "'email' is not a field selector", 0 },
	{ "a selector naming no field of the current version", "focus", "#email,#nope", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "selectors", NULL,
	  "'#nope' is not a field of the form's current version (2)", 0 },
	{ "a selector with a control character", "focus", "#em\tail", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "selectors", NULL, "without control characters", 0 },
	{ "a selector listed twice", "focus", "#email,#email", "",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "selectors", NULL, "'#email' is listed twice", 0 },
	{ "rate 0", "focus,set_field", "#email", "", 0, 2, 900,
	  CB_ERR_UNPROCESSABLE, "rate_per_minute", NULL, "rate_per_minute: 0 is outside 1..6000", 0 },
	{ "rate 6001", "focus,set_field", "#email", "", 6001, 2, 900,
	  CB_ERR_UNPROCESSABLE, "rate_per_minute", NULL, "6001 is outside 1..6000", 0 },
	{ "rate 6000 is the most", "focus,set_field", "#email", "", 6000, 2, 900,
	  CB_OK, NULL, NULL, NULL, 1 },
	{ "max_in_flight 17", "focus,set_field", "#email", "", 60, 17, 900,
	  CB_ERR_UNPROCESSABLE, "max_in_flight", NULL, "17 is outside 1..16", 0 },
	{ "max_in_flight 0", "focus,set_field", "#email", "", 60, 0, 900,
	  CB_ERR_UNPROCESSABLE, "max_in_flight", NULL, "0 is outside 1..16", 0 },
	{ "max_in_flight 16 is the most", "focus,set_field", "#email", "", 60, 16, 900,
	  CB_OK, NULL, NULL, NULL, 1 },
	{ "approval_ttl_s 29", "focus,set_field", "#email", "", 60, 2, 29,
	  CB_ERR_UNPROCESSABLE, "approval_ttl_s", NULL, "29 is outside 30..86400", 0 },
	{ "approval_ttl_s 86401", "focus,set_field", "#email", "", 60, 2, 86401,
	  CB_ERR_UNPROCESSABLE, "approval_ttl_s", NULL, "86401 is outside 30..86400", 0 },
	{ "approval_ttl_s 30 is the least", "focus,set_field", "#email", "", 60, 2, 30,
	  CB_OK, NULL, NULL, NULL, 1 },
	{ "an approval type that is not allowed", "focus,set_field", "#email", "highlight",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "approval_types", NULL,
	  "'highlight' is not in allowed_types", 0 },
	{ "an approval type the broker does not know", "focus,set_field", "#email", "submit",
	  60, 2, 900, CB_ERR_UNPROCESSABLE, "approval_types", NULL,
	  "'submit' is not a command type the broker knows", 0 },
	{ "an allowed type held for approval", "focus,set_field", "#email", "set_field",
	  60, 2, 900, CB_OK, NULL, NULL, NULL, 1 },
	{ "a list longer than CB_POLICY_MAX_LIST, whatever it holds", "focus",
	  "#email,#topic,#message,#subscribe,#nope", "", 60, 2, 900, CB_ERR_UNPROCESSABLE,
	  "selectors", "CB_POLICY_MAX_LIST", "5 entries, more than CB_POLICY_MAX_LIST (4)", 0 },
	{ "a list of CB_POLICY_MAX_LIST entries", "focus,set_field",
	  "#email,#topic,#message,#subscribe", "", 60, 2, 900, CB_OK, NULL, NULL, NULL, 3 },
	{ "seven entries changed, more than CB_POLICY_MAX_CHANGES", "highlight,show_message",
	  "#topic", "", 61, 2, 900, CB_ERR_UNPROCESSABLE, "", "CB_POLICY_MAX_CHANGES",
	  "the change touches 7 entries, more than CB_POLICY_MAX_CHANGES (6)", 0 },
	{ "six entries changed, as many as CB_POLICY_MAX_CHANGES allows", "highlight,show_message",
	  "#topic", "", 60, 2, 900, CB_OK, NULL, NULL, NULL, 6 },
	{ "every number changed is one change each", "focus,set_field", "#email", "",
	  61, 3, 901, CB_OK, NULL, NULL, NULL, 3 },
};

START_TEST(test_proposals)
{
	const struct pcase	*c = &cases[_i];
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct policygov_verdict v;
	int			 rc;

	state_init(&st, 1);
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv(c->types, &d.types);
	policygov_list_from_csv(c->selectors, &d.selectors);
	policygov_list_from_csv(c->approval, &d.approval);
	d.rate_per_minute = c->rate;
	d.max_in_flight = c->inflight;
	d.approval_ttl_s = c->ttl;
	rc = policygov_validate(&d, &st, &limits, &v);
	ck_assert_msg(rc == c->rc, "%s: rc %d (%s), want %d", c->name, rc, v.detail, c->rc);
	if (rc == CB_OK) {
		ck_assert_msg(v.changes == c->changes, "%s: %lld changes, want %lld", c->name,
		    v.changes, c->changes);
		ck_assert_int_eq(v.identical, c->changes == 0);
	} else {
		ck_assert_msg(strcmp(v.field, c->field) == 0, "%s: field '%s'", c->name, v.field);
		ck_assert_msg(strcmp(v.limit, c->limit ? c->limit : "") == 0, "%s: limit '%s'",
		    c->name, v.limit);
		ck_assert_msg(strstr(v.detail, c->says) != NULL, "%s: detail '%s'", c->name,
		    v.detail);
		/* The detail names the field it refuses. */
		if (c->field[0])
			ck_assert_int_eq(strncmp(v.detail, c->field, strlen(c->field)), 0);
	}
	policygov_doc_free(&d);
	policygov_state_free(&st);
}
END_TEST

/* The first policy of a form is a change even when it equals the defaults. */
START_TEST(test_first_policy_is_never_identical)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct policygov_verdict v;

	state_init(&st, 0);
	memset(&d, 0, sizeof(d));
	d.rate_per_minute = POLICYGOV_DEF_RATE;
	d.max_in_flight = POLICYGOV_DEF_INFLIGHT;
	d.approval_ttl_s = POLICYGOV_DEF_TTL;
	ck_assert_int_eq(policygov_validate(&d, &st, &limits, &v), CB_OK);
	ck_assert_int_eq(v.identical, 0);
	ck_assert_int_eq(v.changes, 0);
	policygov_doc_free(&d);
	policygov_state_free(&st);
}
END_TEST

/* A form with no published version has no fields a selector could name. */
START_TEST(test_no_definition_no_selectors)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct policygov_verdict v;

	state_init(&st, 0);
	cJSON_Delete(st.definition);
	st.definition = NULL;
	st.form_version = 0;
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv("focus", &d.types);
	policygov_list_from_csv("#email", &d.selectors);
	d.rate_per_minute = 60;
	d.max_in_flight = 2;
	d.approval_ttl_s = 900;
	ck_assert_int_eq(policygov_validate(&d, &st, &limits, &v), CB_ERR_UNPROCESSABLE);
	ck_assert_str_eq(v.field, "selectors");
	ck_assert_ptr_nonnull(strstr(v.detail, "no published version"));
	policygov_doc_free(&d);
	policygov_state_free(&st);
}
END_TEST

/* Members by name, lists sorted by bytes, no whitespace: what 0015 rebuilds in SQL. */
START_TEST(test_canonical_text)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct policygov_verdict v;
	char			*t;

	state_init(&st, 1);
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv("set_field,focus", &d.types);
	policygov_list_from_csv("#topic,#email", &d.selectors);
	policygov_list_from_csv("set_field", &d.approval);
	d.rate_per_minute = 600;
	d.max_in_flight = 2;
	d.approval_ttl_s = 900;
	ck_assert_int_eq(policygov_validate(&d, &st, &limits, &v), CB_OK);
	t = policygov_canonical(&d);
	ck_assert_str_eq(t, "{\"allowed_types\":[\"focus\",\"set_field\"],\"approval_ttl_s\":900,"
	    "\"approval_types\":[\"set_field\"],\"max_in_flight\":2,\"rate_per_minute\":600,"
	    "\"selectors\":[\"#email\",\"#topic\"]}");
	free(t);
	policygov_doc_free(&d);
	policygov_state_free(&st);
}
END_TEST

/* Lists from JSON: strings only; null or absent is the empty list. */
START_TEST(test_list_from_json)
{
	struct policygov_list	 l;
	cJSON			*a = cJSON_Parse("[\"a\",1]"), *b = cJSON_Parse("[\"x\",\"y\"]");

	ck_assert_int_eq(policygov_list_from_json(a, &l), CB_ERR_VALIDATION);
	ck_assert_int_eq((int)l.n, 0);
	ck_assert_int_eq(policygov_list_from_json(b, &l), CB_OK);
	ck_assert_int_eq((int)l.n, 2);
	ck_assert_str_eq(l.v[1], "y");
	policygov_list_free(&l);
	ck_assert_int_eq(policygov_list_from_json(NULL, &l), CB_OK);
	ck_assert_int_eq((int)l.n, 0);
	policygov_list_from_csv("", &l);
	ck_assert_int_eq((int)l.n, 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

static Suite *
policygov_suite(void)
{
	Suite	*s = suite_create("policygov");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_proposals, 0, (int)CU_NELEM(cases));
	tcase_add_test(tc, test_first_policy_is_never_identical);
	tcase_add_test(tc, test_no_definition_no_selectors);
	tcase_add_test(tc, test_canonical_text);
	tcase_add_test(tc, test_list_from_json);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(policygov_suite());
}
