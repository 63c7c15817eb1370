/*
 * Data classes of form fields, through the real stack and cb-admin:
 *   - publishing refuses a definition without a class (or with any error
 *     the one validator finds), naming the JSON pointer and the field, and
 *     writes nothing: no form, no version, no audit row;
 *   - cb-admin form-validate and mapping-validate run with no
 *     configuration at all (a tenant's CI), exit 0 / 1 with the pointer;
 *   - confidential and restricted values are sealed at rest and never
 *     logged (each is noted with test_record_personal: scripts/test.sh
 *     fails the run if any log holds one), yet reach Salesforce intact;
 *   - nothing an agent may read back carries a value it set: GET
 *     /api/v1/commands/{id} and the list show no value of a confidential
 *     field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "outbox.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "util.h"

/* Run cb-admin with stderr captured too; its exit status. */
static int
admin(const char *args, char *out, size_t outsz)
{
	return seed_admin_all(args, out, outsz);
}

static void
fixture(char *path, size_t pathsz, const char *rel)
{
	snprintf(path, pathsz, "%s/%s", test_env("CB_REPO"), rel);
}

/* A unique marker for one value (letters only: no masking rule keeps any of it). */
static void
marker(char *out, size_t outsz, const char *prefix)
{
	char	 tag[16];
	size_t	 i;

	util_random_token(tag, sizeof(tag), 6);
	for (i = 0; tag[i]; i++)
		if (tag[i] == '-' || tag[i] == '_')
			tag[i] = 'q';
	snprintf(out, outsz, "%s%s", prefix, tag);
}

START_TEST(publish_refuses_a_field_without_class)
{
	char	 slug[48], args[1024], out[2048], path[600], form[40], v[64];
	long	 audits;

	cu_random_name(slug, sizeof(slug), "cls");
	snprintf(args, sizeof(args), "org-create %s 'Classes'", slug);
	ck_assert_msg(admin(args, out, sizeof(out)) == 0, "%s", out);

	/* form-create: refused, the field named, and no form row left behind. */
	fixture(path, sizeof(path), "tests/fixtures/forms/invalid/missing-class.json");
	snprintf(args, sizeof(args), "form-create %s 'Unclassified' %s", slug, path);
	ck_assert_int_eq(admin(args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "/fields/1/class (field \"topic\"): is required") != NULL,
	    "%s", out);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM forms f JOIN orgs o ON o.id = f.org_id"
	    " WHERE o.slug = $1", 1, (const char *[]){ slug }), 0);

	/* A classified form is taken; a bad next version is not, and nothing moves. */
	fixture(path, sizeof(path), "docs/examples/forms/support-case.json");
	snprintf(args, sizeof(args), "form-create %s 'Support' %s", slug, path);
	ck_assert_msg(admin(args, out, sizeof(out)) == 0, "%s", out);
	seed_take(out, "form_id", form, sizeof(form));
	audits = testdb_long("SELECT count(*) FROM audit_log WHERE action = 'form.published'"
	    " AND subject = $1", 1, (const char *[]){ form });
	ck_assert_int_eq(audits, 1);
	fixture(path, sizeof(path), "tests/fixtures/forms/invalid/unknown-class.json");
	ck_assert_int_eq(seed_publish(form, path), 1);
	snprintf(args, sizeof(args), "form-publish %s %s", form, path);
	ck_assert_int_eq(admin(args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "/fields/3/class (field \"ssn\"): must be one of public, internal,"
	    " confidential, restricted") != NULL, "%s", out);
	fixture(path, sizeof(path), "tests/fixtures/forms/invalid/pii-internal.json");
	snprintf(args, sizeof(args), "form-publish %s %s", form, path);
	ck_assert_int_eq(admin(args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "/fields/0/pii") != NULL, "%s", out);
	testdb_val(v, sizeof(v), "SELECT current_version::text || '/' || (SELECT count(*)"
	    " FROM form_versions WHERE form_id = $1::uuid) FROM forms WHERE id = $1::uuid", 1,
	    (const char *[]){ form });
	ck_assert_str_eq(v, "1/1");
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'form.published'"
	    " AND subject = $1", 1, (const char *[]){ form }), audits);

	/* The same file, fixed, is version 2. */
	fixture(path, sizeof(path), "docs/examples/forms/lead.json");
	snprintf(args, sizeof(args), "form-publish %s %s", form, path);
	ck_assert_msg(admin(args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"version\":2"));
}
END_TEST

/* No CB_* at all, no database: what a tenant's CI has. */
START_TEST(validate_needs_no_configuration)
{
	char	 cmd[1400], out[2048], path[600];
	int	 rc;

	fixture(path, sizeof(path), "docs/examples/forms/lead.json");
	snprintf(cmd, sizeof(cmd), "env -i %s/bin/cb-admin form-validate %s 2>&1",
	    test_env("CB_BUILD"), path);
	rc = test_run(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "%d %s", rc, out);
	ck_assert_msg(strstr(out, "\"classes\":{\"public\":2,\"internal\":3,\"confidential\":4,"
	    "\"restricted\":0}") != NULL, "%s", out);
	fixture(path, sizeof(path), "tests/fixtures/forms/invalid/enum-no-options.json");
	snprintf(cmd, sizeof(cmd), "env -i %s/bin/cb-admin form-validate %s 2>&1",
	    test_env("CB_BUILD"), path);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, ": /fields/0/options (field \"topic\"): is required for type enum")
	    != NULL, "%s", out);
	fixture(path, sizeof(path), "tests/fixtures/mappings/invalid/bad-target.json");
	snprintf(cmd, sizeof(cmd), "env -i %s/bin/cb-admin mapping-validate %s 2>&1",
	    test_env("CB_BUILD"), path);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, ": /Form_Submission__c/fields/Full_Name__c: ") != NULL, "%s", out);
	snprintf(cmd, sizeof(cmd), "env -i %s/bin/cb-admin form-validate 2>&1", test_env("CB_BUILD"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 2);
}
END_TEST

/*
 * The support case form: a restricted account number, a confidential email
 * and description.  Sealed at rest, never logged (the run's log scan), and
 * delivered intact.
 */
START_TEST(confidential_and_restricted_sealed_never_logged)
{
	struct seed	 s;
	char		 ctx[40], tok[64], path[600], body[1024], sub[40], v[8192], fields[4096];
	char		 acct[32], desc[64], tag[48], email[80];
	long		 att = 0;

	fakesf_clear();
	seed_tenant(&s);
	fixture(path, sizeof(path), "docs/examples/forms/support-case.json");
	ck_assert_int_eq(seed_publish(s.form_id, path), 0);
	seed_context(s.form_id, ctx, tok);
	marker(acct, sizeof(acct), "ACCT");
	marker(desc, sizeof(desc), "Descriptionmarker");
	marker(tag, sizeof(tag), "case.");
	snprintf(email, sizeof(email), "%s@example.org", tag);
	test_record_personal(acct);
	test_record_personal(desc);
	test_record_personal(email);
	snprintf(body, sizeof(body), "{\"data\":{\"email\":\"%s\",\"account_number\":\"%s\","
	    "\"product\":\"api\",\"subject\":\"It broke\",\"description\":\"%s\"}}",
	    email, acct, desc);
	submit_form(s.form_id, tok, "classes-1", body, sub);

	testdb_val(v, sizeof(v), "SELECT row_to_json(s)::text FROM submissions s"
	    " WHERE id = $1::uuid", 1, (const char *[]){ sub });
	ck_assert_msg(strstr(v, acct) == NULL && strstr(v, desc) == NULL &&
	    strstr(v, email) == NULL && strstr(v, "\"data_sealed\":\"v1.") != NULL,
	    "submissions: %s", v);
	testdb_val(v, sizeof(v), "SELECT string_agg(row_to_json(o)::text, ',') FROM outbox o"
	    " WHERE ref_id = $1::uuid", 1, (const char *[]){ sub });
	ck_assert_msg(strstr(v, acct) == NULL && strstr(v, desc) == NULL &&
	    strstr(v, email) == NULL, "outbox: %s", v);

	ck_assert_msg(outbox_wait(sub, "done", 10000, &att, NULL, 0), "not delivered");
	ck_assert_int_eq(fakesf_record_fields(sub, fields, sizeof(fields)), 1);
	ck_assert_msg(strstr(fields, acct) && strstr(fields, desc) && strstr(fields, email),
	    "fields: %s", fields);
}
END_TEST

/* An agent sets a confidential field; reading its commands back shows no value. */
START_TEST(agent_reads_back_no_values)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], path[200], body[400], auth[128], name[48], id[40];
	const char	*h[] = { "Content-Type: application/json", auth, NULL };

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.api_key);
	marker(name, sizeof(name), "Agentvalue");
	test_record_personal(name);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#full_name\","
	    "\"value\":\"%s\",\"nonce\":\"classes-%s\"}", name, name);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	ck_assert_msg(strstr(r.body, name) == NULL, "%s", r.body);
	util_strlcpy(id, http_json_str(&r, "id"), sizeof(id));
	http_free(&r);

	snprintf(path, sizeof(path), "/api/v1/commands/%s", id);
	http_do("GET", path, h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, name) == NULL && strstr(r.body, "\"value\"") == NULL,
	    "%s", r.body);
	http_free(&r);
	snprintf(path, sizeof(path), "/api/v1/commands?state=queued&ctx_ref=%s", ctx);
	http_do("GET", path, h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, id) != NULL, "%s", r.body);
	ck_assert_msg(strstr(r.body, name) == NULL, "%s", r.body);
	http_free(&r);
}
END_TEST

static Suite *
classify_suite(void)
{
	Suite	*s = suite_create("classify");
	TCase	*tc = tcase_create("classes");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, publish_refuses_a_field_without_class);
	tcase_add_test(tc, validate_needs_no_configuration);
	tcase_add_test(tc, confidential_and_restricted_sealed_never_logged);
	tcase_add_test(tc, agent_reads_back_no_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(classify_suite());
}
