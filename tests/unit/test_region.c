/*
 * test_region: data residency's host map (lib/region.h) and a tenant's
 * Salesforce connection's shape checks (lib/sfconn.h).  A host is in the
 * region of its longest matching suffix and in none when no entry claims
 * it (nothing guessed from its name); a malformed map is refused whole;
 * a pinned tenant's destination elsewhere is CB_ERR_RESIDENCY naming the
 * rule, an unpinned one is tagged and accepted.  Connections: https only
 * (plain http to loopback), names without control characters, a mapping
 * of API names of the fixed shape; each refusal names its field.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../support/check_util.h"
#include "errs.h"
#include "region.h"
#include "sfconn.h"

#define MAP	"my.salesforce.com=us, eu.my.salesforce.com=eu,.hooks.example=eu,127.0.0.1=us"

static const struct {
	const char	*url;
	const char	*want;
} urls[] = {
	{ "https://acme.my.salesforce.com", "us" },
	{ "https://my.salesforce.com/x", "us" },
	{ "https://acme.eu.my.salesforce.com:443/services", "eu" },
	{ "HTTPS://ACME.EU.MY.SALESFORCE.COM", "eu" },
	{ "https://acme.eu.my.salesforce.com.", "eu" },
	{ "https://a.hooks.example/in", "eu" },
	{ "https://hooks.example/in", "" },		/* ".suffix": below it only */
	{ "https://notmy.salesforce.com", "" },		/* a suffix matches whole labels */
	{ "https://salesforce.com", "" },
	{ "http://127.0.0.1:8095", "us" },
	{ "https://login.salesforce.com", "" },
	{ "https://[::1]:9", "" },
};

START_TEST(test_url_regions)
{
	char	 r[REGION_BUFSZ];

	ck_assert_int_eq(region_of_url(MAP, urls[_i].url, r), CB_OK);
	ck_assert_msg(strcmp(r, urls[_i].want) == 0, "%s: %s, want %s", urls[_i].url, r,
	    urls[_i].want);
}
END_TEST

static const char *const bad_maps[] = {
	"example.com", "example.com=", "example.com=mars", "=us", "exa mple.com=us",
	"ex/ample.com=us", ".=us", "a.com=us,b.com=usa",
};

START_TEST(test_bad_maps)
{
	const char	*why = NULL;

	ck_assert_int_eq(region_hosts_check(bad_maps[_i], &why), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_rule)
{
	char	 r[REGION_BUFSZ], why[300];

	ck_assert_int_eq(region_hosts_check(MAP, &(const char *){ NULL }), CB_OK);
	ck_assert_int_eq(region_hosts_check("", &(const char *){ NULL }), CB_OK);
	/* Not pinned: tagged, accepted. */
	ck_assert_int_eq(region_url_check(MAP, NULL, "https://a.eu.my.salesforce.com", r, why,
	    sizeof(why)), CB_OK);
	ck_assert_str_eq(r, "eu");
	ck_assert_int_eq(region_url_check(MAP, "", "https://nowhere.test", r, why, sizeof(why)),
	    CB_OK);
	ck_assert_str_eq(r, "");
	/* Pinned: the same region only. */
	ck_assert_int_eq(region_url_check(MAP, "eu", "https://a.eu.my.salesforce.com", r, why,
	    sizeof(why)), CB_OK);
	ck_assert_int_eq(region_url_check(MAP, "eu", "https://a.my.salesforce.com", r, why,
	    sizeof(why)), CB_ERR_RESIDENCY);
	ck_assert_msg(strstr(why, REGION_RULE) && strstr(why, "region us") &&
	    strstr(why, "pinned to region eu"), "%s", why);
	ck_assert_int_eq(region_url_check(MAP, "eu", "https://nowhere.test", r, why,
	    sizeof(why)), CB_ERR_RESIDENCY);
	ck_assert_msg(strstr(why, "in no region"), "%s", why);
	ck_assert_int_eq(region_url_check(MAP, "eu", "ftp://x", r, why, sizeof(why)),
	    CB_ERR_VALIDATION);
	ck_assert(region_ok("jp") && !region_ok("EU") && !region_ok("") && !region_ok(NULL));
}
END_TEST

static const struct {
	const char	*login, *instance, *client, *mapping;
	const char	*field;		/* NULL: valid */
} conns[] = {
	{ "https://acme.my.salesforce.com", NULL, "3MVG9", NULL, NULL },
	{ "http://127.0.0.1:8095", "http://localhost:9", "c", "{}", NULL },
	{ "https://a.test", NULL, "c", "{\"Form_Submission__c\":{\"object\":\"Lead\","
	  "\"ext_field\":\"Ext__c\",\"fields\":{\"A__c\":\"B__c\"}}}", NULL },
	{ "http://acme.my.salesforce.com", NULL, "c", NULL, "login_url" },
	{ "https://user:pw@acme.test", NULL, "c", NULL, "login_url" },
	{ "https://acme.test/?q=1", NULL, "c", NULL, "login_url" },
	{ "ftp://acme.test", NULL, "c", NULL, "login_url" },
	{ "https://a.test", "https://b.test#x", "c", NULL, "instance_url" },
	{ "https://a.test", NULL, "", NULL, "client_id" },
	{ "https://a.test", NULL, "c\n", NULL, "client_id" },
	{ "https://a.test", NULL, "c", "[]", "mapping" },
	{ "https://a.test", NULL, "c", "{\"bad name\":{}}", "mapping" },
	{ "https://a.test", NULL, "c", "{\"A__c\":{\"object\":\"x y\"}}", "mapping" },
	{ "https://a.test", NULL, "c", "{\"A__c\":{\"fields\":{\"A__c\":1}}}", "mapping" },
	{ "https://a.test", NULL, "c", "{\"A__c\":{\"extra\":\"B\"}}", "mapping" },
};

START_TEST(test_connection_shapes)
{
	struct sfconn_in	 in;
	cJSON			*m = conns[_i].mapping ? cJSON_Parse(conns[_i].mapping) : NULL;
	const char		*field = NULL;
	char			 sha[SFCONN_SHA_BUFSZ], why[256];
	int			 rc;

	memset(&in, 0, sizeof(in));
	in.login_url = conns[_i].login;
	in.instance_url = conns[_i].instance;
	in.client_id = conns[_i].client;
	in.username = "int@acme.test";
	in.mapping = m;
	rc = sfconn_validate(&in, sha, &field, why, sizeof(why));
	if (conns[_i].field == NULL)
		ck_assert_msg(rc == CB_OK, "%d refused: %s %s", _i, field, why);
	else {
		ck_assert_int_eq(rc, CB_ERR_VALIDATION);
		ck_assert_str_eq(field, conns[_i].field);
	}
	ck_assert_str_eq(sha, "");
	cJSON_Delete(m);
}
END_TEST

static Suite *
region_suite(void)
{
	Suite	*s = suite_create("region");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_url_regions, 0, (int)CU_NELEM(urls));
	tcase_add_loop_test(tc, test_bad_maps, 0, (int)CU_NELEM(bad_maps));
	tcase_add_test(tc, test_rule);
	tcase_add_loop_test(tc, test_connection_shapes, 0, (int)CU_NELEM(conns));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(region_suite());
}
