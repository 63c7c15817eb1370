/*
 * cb-admin's form commands: form-create, form-publish and policy-set
 * (usage: tools/cb-admin.c).  A definition is checked as form-validate
 * checks it before anything is written; the writes are lib/forms.h's and
 * lib/policygov.h's, the ones the API uses, each with its audit row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "errs.h"
#include "formdef.h"
#include "forms.h"
#include "jsonv.h"
#include "kv.h"
#include "orgs.h"
#include "policygov.h"
#include "util.h"

/* What publishing takes: formdef_check, as form-validate runs it (admin/validate.h). */
int
admin_check_definition(const char *text)
{
	struct jv_error	 e;
	char		 why[400];

	if (formdef_check_text(text, strlen(text), &e) == CB_OK)
		return 0;
	formdef_error_text(text, &e, why, sizeof(why));
	return fail("definition refused: %s", why);
}

/* Every publish (form-create, form-publish, demo-seed) is checked here first. */
int
admin_publish(struct admin *a, const char *form_id, const char *def, char *ver, size_t versz)
{
	int	 rc;

	if (admin_check_definition(def))
		return 1;
	/* All or nothing: lib/forms.h. */
	if ((rc = forms_publish(a->db, form_id, def, a->actor, ver, versz)) != CB_OK)
		return admin_db_fail(a, rc);
	return 0;
}

int
cmd_form_create(struct admin *a, int argc, char **argv)
{
	char	*def = NULL, org[32], id[40], ver[16];
	int	 rc = 1, err;

	if (argc != 3 && argc != 5)
		return fail("usage: form-create ORG_SLUG NAME DEFINITION.json [SOBJECT EXT_FIELD]");
	if (admin_command_file(a, argv[2], &def) || admin_check_definition(def))
		goto out;
	if ((err = orgs_by_slug(a->db, argv[0], org, sizeof(org))) != CB_OK ||
	    (err = forms_create(a->db, org, argv[1], argc == 5 ? argv[3] : NULL,
	    argc == 5 ? argv[4] : NULL, a->actor, id, sizeof(id))) != CB_OK) {
		admin_db_fail(a, err);
		goto out;
	}
	if (admin_publish(a, id, def, ver, sizeof(ver)))
		goto out;
	printf("{\"form_id\":\"%s\",\"version\":%s}\n", id, ver);
	rc = 0;
out:
	free(def);
	return rc;
}

int
cmd_form_publish(struct admin *a, int argc, char **argv)
{
	char	*def = NULL, ver[16];
	int	 rc = 1;

	if (argc != 2 || !util_uuid_ok(argv[0]))
		return fail("usage: form-publish FORM_ID DEFINITION.json");
	if (admin_command_file(a, argv[1], &def) ||
	    admin_publish(a, argv[0], def, ver, sizeof(ver)))
		goto out;
	/* Responders cache the current version briefly; tell them now. */
	{
		struct kv	*kv = kv_open(a->s.redis_host, (int)a->s.redis_port,
		    a->s.redis_password, (int)a->s.redis_timeout_ms);

		forms_invalidate(kv, argv[0]);
		kv_close(kv);
	}
	printf("{\"form_id\":\"%s\",\"version\":%s}\n", argv[0], ver);
	rc = 0;
out:
	free(def);
	return rc;
}

/*
 * A form's policy through lib/policygov.h, as the admin route sets it: the
 * same schema, the same governance limits (CB_POLICY_MAX_*), a new version
 * with its history and audit rows (actor "cli:<unix user>").  A refusal
 * exits 1 with the route's 422 detail (and the limit it names) on stderr.
 * `print`: print the result line (demo-seed prints its own).
 */
int
admin_policy_apply(struct admin *a, struct policygov_state *st, struct policygov_doc *d, int print)
{
	struct policygov_limits	 lim = { a->s.policy_max_changes, a->s.policy_max_list };
	struct policygov_verdict v;
	struct policygov_result	 res;
	int			 rc;

	if ((rc = policygov_validate(d, st, &lim, &v)) == CB_ERR_UNPROCESSABLE) {
		if (v.limit[0])
			return fail("policy refused (422, limit %s): %s", v.limit, v.detail);
		return fail("policy refused (422): %s", v.detail);
	}
	if (rc != CB_OK)
		return fail("policy: %s", errs_name(rc));
	if (v.identical) {
		if (print)
			printf("{\"form_id\":\"%s\",\"policy\":\"unchanged\",\"version\":%d,"
			    "\"policy_sha256\":\"%s\"}\n", st->form_id, st->version, st->sha256);
		return 0;
	}
	rc = policygov_write(a->db, st, d, a->actor, &res);
	if (rc == CB_ERR_CONFLICT)
		return fail("the policy or its form changed meanwhile: run the command again");
	if (rc != CB_OK)
		return fail("policy: %s %s", errs_name(rc), db_errmsg(a->db));
	if (print)
		printf("{\"form_id\":\"%s\",\"policy\":\"set\",\"version\":%d,"
		    "\"previous_version\":%d,\"policy_sha256\":\"%s\"}\n", st->form_id, res.version,
		    res.previous_version, res.sha256);
	return 0;
}

#define POLICY_SET_USAGE "usage: policy-set FORM_ID TYPES SELECTORS RATE_PER_MINUTE " \
	"[APPROVAL_TYPES] [--max-in-flight N] [--approval-ttl SECONDS]"

/*
 * The lists and the rate are the policy's; --max-in-flight and
 * --approval-ttl keep their current values (or the defaults) when absent.
 */
int
cmd_policy_set(struct admin *a, int argc, char **argv)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	const char		*pos[5];
	long long		 rate, mif = 0, ttl = 0;
	int			 npos = 0, has_mif = 0, has_ttl = 0, i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--max-in-flight") == 0 && i + 1 < argc) {
			if (util_parse_ll(argv[++i], -2147483647LL, 2147483647LL, &mif) != CB_OK)
				return fail(POLICY_SET_USAGE);
			has_mif = 1;
		} else if (strcmp(argv[i], "--approval-ttl") == 0 && i + 1 < argc) {
			if (util_parse_ll(argv[++i], -2147483647LL, 2147483647LL, &ttl) != CB_OK)
				return fail(POLICY_SET_USAGE);
			has_ttl = 1;
		} else if (strncmp(argv[i], "--", 2) == 0 || npos == 5)
			return fail(POLICY_SET_USAGE);
		else
			pos[npos++] = argv[i];
	}
	if ((npos != 4 && npos != 5) || !util_uuid_ok(pos[0]) ||
	    util_parse_ll(pos[3], -2147483647LL, 2147483647LL, &rate) != CB_OK)
		return fail(POLICY_SET_USAGE);
	if ((rc = policygov_load(a->db, NULL, pos[0], &st)) == CB_ERR_NOT_FOUND)
		return fail("no form %s", pos[0]);
	if (rc != CB_OK)
		return fail("policy-set: %s %s", errs_name(rc), db_errmsg(a->db));
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv(pos[1], &d.types);
	policygov_list_from_csv(pos[2], &d.selectors);
	policygov_list_from_csv(npos == 5 ? pos[4] : "", &d.approval);
	d.rate_per_minute = rate;
	d.max_in_flight = has_mif ? mif : st.current.max_in_flight;
	d.approval_ttl_s = has_ttl ? ttl : st.current.approval_ttl_s;
	rc = admin_policy_apply(a, &st, &d, 1);
	policygov_doc_free(&d);
	policygov_state_free(&st);
	return rc;
}
