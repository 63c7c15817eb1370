/*
 * test_sf_query: the contact lookup's pure parts.  The SOQL is the one fixed
 * statement with the value quoted by soql_quote, so quotes, backslashes and
 * SOQL syntax in a phone stay inside the literal, and what cannot be quoted
 * is refused; the URL encodes every reserved byte; only a number in E.164
 * is looked up, refused before any network; the query answer is read
 * strictly (one Contact links, none or two link nothing, any other shape
 * is a retryable garbled answer); errors sort as every Salesforce call's;
 * the contact cache's key never holds the number and is per tenant.
 */
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "buf.h"
#include "ccache.h"
#include "errs.h"
#include "httpc.h"
#include "sf.h"
#include "sf_query.h"

#define PEPPER "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const struct {
	const char	*value;
	const char	*want;
} soql_good[] = {
	{ "+14155550100", "SELECT Id FROM Contact WHERE Phone = '+14155550100' LIMIT 2" },
	{ "O'Brien", "SELECT Id FROM Contact WHERE Phone = 'O\\'Brien' LIMIT 2" },
	{ "' OR Phone != '", "SELECT Id FROM Contact WHERE Phone = '\\' OR Phone != \\'' LIMIT 2" },
	{ "+1\\' OR Name LIKE '%", "SELECT Id FROM Contact WHERE Phone = '+1\\\\\\' OR Name LIKE \\'%' LIMIT 2" },
	{ "a\\", "SELECT Id FROM Contact WHERE Phone = 'a\\\\' LIMIT 2" },
	{ "x' LIMIT 1) --\n", "SELECT Id FROM Contact WHERE Phone = 'x\\' LIMIT 1) --\\n' LIMIT 2" },
};

START_TEST(test_soql_quoted)
{
	struct buf	 b;

	buf_init(&b, 65536);
	ck_assert_int_eq(sf_contact_soql(&b, soql_good[_i].value), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), soql_good[_i].want);
	buf_free(&b);
}
END_TEST

static const char *const soql_bad[] = { "+1415\x01", "\xff", "\x1b[0m" };

START_TEST(test_soql_refused)
{
	struct buf	 b;

	buf_init(&b, 65536);
	buf_puts(&b, "kept");
	ck_assert_int_eq(sf_contact_soql(&b, soql_bad[_i]), CB_ERR_VALIDATION);
	ck_assert_str_eq(buf_cstr(&b), "kept");
	ck_assert_int_ne(sf_contact_soql(&b, NULL), CB_OK);
	buf_free(&b);
}
END_TEST

START_TEST(test_url_encoded)
{
	struct buf	 b;

	buf_init(&b, 65536);
	ck_assert_int_eq(sf_query_url(&b, "http://127.0.0.1:1/services/data/v60.0",
	    "SELECT Id FROM Contact WHERE Phone = '+1 \\'&x=y#' LIMIT 2"), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "http://127.0.0.1:1/services/data/v60.0/query?q="
	    "SELECT%20Id%20FROM%20Contact%20WHERE%20Phone%20%3D%20%27%2B1%20%5C%27%26x%3Dy%23%27"
	    "%20LIMIT%202");
	buf_free(&b);
}
END_TEST

/* Not E.164: refused before the client is even looked at. */
static const char *const phones_bad[] = {
	"4155550100", "+1 415 555 0100", "+1415555' OR Phone != '", "+14155550100\\", "",
	"(415) 555-0100", "+0123456789",
};

START_TEST(test_phone_refused)
{
	struct sf_result r;

	ck_assert_int_eq(sf_contact_by_phone(NULL, phones_bad[_i], &r), CB_ERR_VALIDATION);
	ck_assert_int_eq(r.kind, SF_PERMANENT);
	ck_assert_str_eq(r.error_code, "CB_BAD_PHONE");
	ck_assert_int_eq(r.http_status, 0);
}
END_TEST

/* ---- answers ---- */

#define REC(id) "{\"attributes\":{\"type\":\"Contact\",\"url\":\"/services/data/v60.0/" \
	"sobjects/Contact/" id "\"},\"Id\":\"" id "\"}"

static const struct {
	long		 status;
	const char	*body;
	int		 kind;
	const char	*id;
	const char	*code;
} answers[] = {
	{ 200, "{\"totalSize\":1,\"done\":true,\"records\":[" REC("003xx0000000001AAA") "]}",
	  SF_FOUND, "003xx0000000001AAA", "" },
	{ 200, "{\"totalSize\":0,\"done\":true,\"records\":[]}", SF_FOUND, "", "" },
	{ 200, "{\"totalSize\":2,\"done\":true,\"records\":[" REC("003xx0000000001AAA") ","
	  REC("003xx0000000002AAA") "]}", SF_FOUND, "", "CB_AMBIGUOUS" },
	/* Shapes that are not a query answer of Contact Ids. */
	{ 200, "{\"totalSize\":1,\"done\":true,\"records\":[{\"attributes\":{\"type\":\"Lead\"},"
	  "\"Id\":\"00Qxx0000000001AAA\"}]}", SF_RETRY, "", "CB_BAD_RESPONSE" },
	{ 200, "{\"totalSize\":1,\"done\":true,\"records\":[{\"attributes\":{\"type\":\"Contact\"},"
	  "\"Id\":\"003xx0000000001AAA\",\"Phone\":\"+1\"}]}", SF_RETRY, "", "CB_BAD_RESPONSE" },
	{ 200, "{\"totalSize\":1,\"done\":true,\"records\":[{\"attributes\":{\"type\":\"Contact\"},"
	  "\"Id\":\"003xx'0000001AAA\"}]}", SF_RETRY, "", "CB_BAD_RESPONSE" },
	{ 200, "{\"totalSize\":3,\"done\":true,\"records\":[" REC("003xx0000000001AAA") "]}",
	  SF_RETRY, "", "CB_BAD_RESPONSE" },
	{ 200, "{\"totalSize\":0,\"done\":true,\"records\":[],\"extra\":1}", SF_RETRY, "",
	  "CB_BAD_RESPONSE" },
	{ 200, "[]", SF_RETRY, "", "CB_BAD_RESPONSE" },
	{ 200, "", SF_RETRY, "", "CB_BAD_RESPONSE" },
	/* Salesforce's errors (CONTRACTS §3.5). */
	{ 400, "[{\"message\":\"unexpected token: 'OR'\",\"errorCode\":\"MALFORMED_QUERY\"}]",
	  SF_PERMANENT, "", "MALFORMED_QUERY" },
	{ 400, "[{\"message\":\"No such column\",\"errorCode\":\"INVALID_FIELD\"}]",
	  SF_PERMANENT, "", "INVALID_FIELD" },
	{ 400, "[{\"message\":\"sObject type\",\"errorCode\":\"INVALID_TYPE\"}]",
	  SF_PERMANENT, "", "INVALID_TYPE" },
	{ 403, "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":"
	  "\"REQUEST_LIMIT_EXCEEDED\"}]", SF_RETRY, "", "REQUEST_LIMIT_EXCEEDED" },
	{ 503, "[{\"message\":\"down\",\"errorCode\":\"SERVER_UNAVAILABLE\"}]", SF_RETRY, "",
	  "SERVER_UNAVAILABLE" },
	{ 401, "[{\"message\":\"Session expired or invalid\",\"errorCode\":"
	  "\"INVALID_SESSION_ID\"}]", SF_RETRY, "", "INVALID_SESSION_ID" },
};

START_TEST(test_answer)
{
	struct httpc_resp	 h;
	struct sf_result	 r;
	int			 rc;

	memset(&h, 0, sizeof(h));
	buf_init(&h.body, 65536);
	buf_puts(&h.body, answers[_i].body);
	h.status = answers[_i].status;
	h.retry_after_s = -1;
	rc = sf_query_answer(&h, &r);
	ck_assert_msg(r.kind == answers[_i].kind, "case %d: kind %s", _i, sf_kind_name(r.kind));
	ck_assert_int_eq(rc == CB_OK, answers[_i].kind == SF_FOUND);
	ck_assert_str_eq(r.id, answers[_i].id);
	ck_assert_str_eq(r.error_code, answers[_i].code);
	buf_free(&h.body);
}
END_TEST

START_TEST(test_transport)
{
	struct httpc_resp	 h;
	struct sf_result	 r;

	memset(&h, 0, sizeof(h));
	buf_init(&h.body, 16);
	h.err = HTTPC_TIMEOUT;
	ck_assert_int_eq(sf_query_answer(&h, &r), CB_ERR_TIMEOUT);
	ck_assert_int_eq(r.kind, SF_RETRY);
	ck_assert_str_eq(sf_kind_name(SF_FOUND), "found");
	h.err = HTTPC_EGRESS;
	ck_assert_int_eq(sf_query_answer(&h, &r), CB_ERR_CONFIG);
	ck_assert_int_eq(r.kind, SF_CONFIG);
	buf_free(&h.body);
}
END_TEST

/* ---- the cache key ---- */

START_TEST(test_cache_key)
{
	char	 a[CCACHE_KEY_MAX], b[CCACHE_KEY_MAX], c[CCACHE_KEY_MAX], d[CCACHE_KEY_MAX];

	ck_assert_int_eq(ccache_key(a, PEPPER, "42", "+14155550100"), CB_OK);
	ck_assert_int_eq(ccache_key(b, PEPPER, "42", "+14155550100"), CB_OK);
	ck_assert_str_eq(a, b);
	ck_assert_msg(strncmp(a, "cb:sfcontact:42:", 16) == 0, "%s", a);
	ck_assert_uint_eq(strlen(a), 16 + 32);
	/* Neither the number nor its digits in the clear. */
	ck_assert_ptr_null(strstr(a, "4155550100"));
	ck_assert_ptr_null(strstr(a, "5550100"));
	/* Per tenant and per number; another pepper, another key. */
	ck_assert_int_eq(ccache_key(c, PEPPER, "43", "+14155550100"), CB_OK);
	ck_assert_str_ne(a, c);
	ck_assert_msg(strncmp(c, "cb:sfcontact:43:", 16) == 0, "%s", c);
	ck_assert_int_eq(ccache_key(d, PEPPER, "42", "+14155550101"), CB_OK);
	ck_assert_str_ne(a, d);
	ck_assert_int_eq(ccache_key(d, "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    "42", "+14155550100"), CB_OK);
	ck_assert_str_ne(a, d);
	/* Refused: not E.164, a bad org id, a bad pepper. */
	ck_assert_int_eq(ccache_key(d, PEPPER, "42", "4155550100"), CB_ERR_VALIDATION);
	ck_assert_int_eq(ccache_key(d, PEPPER, "42", "+1415555' OR '"), CB_ERR_VALIDATION);
	ck_assert_int_eq(ccache_key(d, PEPPER, "", "+14155550100"), CB_ERR_VALIDATION);
	ck_assert_int_eq(ccache_key(d, PEPPER, "4x", "+14155550100"), CB_ERR_VALIDATION);
	ck_assert_int_eq(ccache_key(d, "zz", "42", "+14155550100"), CB_ERR_VALIDATION);
}
END_TEST

static Suite *
sf_query_suite(void)
{
	Suite	*s = suite_create("sf_query");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_soql_quoted, 0, (int)CU_NELEM(soql_good));
	tcase_add_loop_test(tc, test_soql_refused, 0, (int)CU_NELEM(soql_bad));
	tcase_add_test(tc, test_url_encoded);
	tcase_add_loop_test(tc, test_phone_refused, 0, (int)CU_NELEM(phones_bad));
	tcase_add_loop_test(tc, test_answer, 0, (int)CU_NELEM(answers));
	tcase_add_test(tc, test_transport);
	tcase_add_test(tc, test_cache_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(sf_query_suite());
}
