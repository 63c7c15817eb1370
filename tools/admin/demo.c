/*
 * cb-admin demo-seed (usage: tools/cb-admin.c): a demo tenant, form,
 * policy, approver and agent key, made through the same library calls as
 * the other commands (each write audited as theirs are).  It reuses what
 * exists, so it can run again: each run prints a new key and revokes the
 * demo agent's older ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "agents.h"
#include "errs.h"
#include "forms.h"
#include "orgs.h"
#include "policygov.h"
#include "route.h"
#include "users.h"
#include "util.h"

/* The demo form: docs/examples/contact-form.json, with the same classes. */
static const char demo_definition[] =
    "{\"title\":\"Contact us\",\"fields\":["
    "{\"name\":\"full_name\",\"label\":\"Full name\",\"type\":\"string\","
    "\"class\":\"confidential\",\"required\":true,\"max_length\":120,"
    "\"sf_field\":\"Full_Name__c\"},"
    "{\"name\":\"email\",\"label\":\"Email\",\"type\":\"email\",\"class\":\"confidential\","
    "\"required\":true,\"max_length\":254,\"sf_field\":\"Email__c\"},"
    "{\"name\":\"topic\",\"label\":\"Topic\",\"type\":\"enum\",\"class\":\"public\","
    "\"options\":[\"sales\",\"support\",\"billing\"],\"sf_field\":\"Topic__c\"},"
    "{\"name\":\"message\",\"label\":\"Message\",\"type\":\"string\",\"class\":\"confidential\","
    "\"max_length\":2000,\"sf_field\":\"Message__c\"},"
    "{\"name\":\"subscribe\",\"label\":\"Send me news\",\"type\":\"boolean\","
    "\"class\":\"internal\",\"sf_field\":\"Subscribe__c\"}]}";

/* The Slack member the demo approver clicks as (scripts/slack-click.sh's default). */
#define DEMO_SLACK_USER	"U0DEMO01"

static int	demo_approver(struct admin *, const char *org, char id[40]);

/*
 * A demo tenant, form, policy (set_field held for a person's approval) and
 * agent key, and an approver linked to Slack member DEMO_SLACK_USER; reuses
 * what exists and revokes the demo agent's older keys (each run prints a
 * new one).
 */
int
cmd_demo_seed(struct admin *a, int argc, char **argv)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	struct db_res		*res = NULL;
	char			 form[40] = "", agent[40] = "", key[APIKEY_LEN + 1], kid[40], ver[16];
	char			 approver[40] = "", org[32];
	long long		 revoked = 0;
	int			 rc;

	(void)argv;
	if (argc != 0)
		return fail("usage: demo-seed");
	if ((rc = orgs_create(a->db, "demo", "Demo tenant", a->actor, org, sizeof(org))) != CB_OK)
		return admin_db_fail(a, rc);
	if ((rc = forms_find(a->db, org, "Contact us", form, sizeof(form))) != CB_OK &&
	    rc != CB_ERR_NOT_FOUND)
		return admin_db_fail(a, rc);
	if (rc == CB_ERR_NOT_FOUND) {
		if ((rc = forms_create(a->db, org, "Contact us", NULL, NULL, a->actor, form,
		    sizeof(form))) != CB_OK)
			return admin_db_fail(a, rc);
		if (admin_publish(a, form, demo_definition, ver, sizeof(ver)))
			return 1;
	}
	/* Its policy: these lists, the rest as it is (600 a minute at first). */
	if (policygov_load(a->db, NULL, form, &st) != CB_OK)
		return fail("cannot read the demo form's policy: %s", db_errmsg(a->db));
	memset(&d, 0, sizeof(d));
	policygov_list_from_csv("set_field,focus,highlight,show_message", &d.types);
	policygov_list_from_csv("#full_name,#email,#topic,#message,#subscribe", &d.selectors);
	/* A person approves what the agent types into a field (docs/approvals.md). */
	policygov_list_from_csv("set_field", &d.approval);
	d.rate_per_minute = st.has_policy ? st.current.rate_per_minute : 600;
	d.max_in_flight = st.current.max_in_flight;
	d.approval_ttl_s = st.current.approval_ttl_s;
	rc = admin_policy_apply(a, &st, &d, 0);
	policygov_doc_free(&d);
	policygov_state_free(&st);
	if (rc != 0 || demo_approver(a, org, approver))
		return 1;
	if ((rc = agents_find(a->db, org, "demo-agent", agent, sizeof(agent))) != CB_OK &&
	    rc != CB_ERR_NOT_FOUND)
		return admin_db_fail(a, rc);
	if (rc == CB_ERR_NOT_FOUND) {
		if ((rc = agents_create(a->db, org, "demo-agent", a->actor, &res)) != CB_OK)
			return admin_db_fail(a, rc);
		util_strlcpy(agent, db_val(res, 0, AGENTS_ID), sizeof(agent));
		db_res_free(res);
	}
	if (admin_key_create(a, agent, "commands:write,commands:read", "30", key, kid, sizeof(kid)))
		return 1;
	/*
	 * A key is shown once, so the previous run's cannot be handed out
	 * again: it is revoked instead, and only the key printed now works.
	 */
	if ((rc = agents_key_revoke_others(a->db, agent, kid, a->actor, &revoked)) != CB_OK) {
		sodium_memzero(key, sizeof(key));
		return admin_db_fail(a, rc);
	}
	printf("{\"org\":\"demo\",\"form_id\":\"%s\",\"agent_id\":\"%s\",\"api_key\":\"%s\","
	    "\"revoked_keys\":%lld,\"approver_id\":\"%s\",\"approver_slack\":\"%s\"}\n", form,
	    agent, key, revoked, approver, DEMO_SLACK_USER);
	sodium_memzero(key, sizeof(key));
	return 0;
}

/*
 * The demo tenant's approver: the person linked to DEMO_SLACK_USER, made
 * once (approver@demo.example, a random password nobody is told: this
 * person decides from Slack only) in organisation `org`.  Its id in `id`.
 */
static int
demo_approver(struct admin *a, const char *org, char id[40])
{
	struct app	 app;
	char		 pw[48];
	int		 rc;

	if ((rc = users_find_by_slack(a->db, org, DEMO_SLACK_USER, id)) == CB_OK)
		return 0;
	if (rc != CB_ERR_NOT_FOUND)
		return admin_db_fail(a, rc);
	if (admin_app_open(a, &app))
		return 1;
	util_random_token(pw, sizeof(pw), 24);
	rc = admin_user_create(a, &app, org, "approver@demo.example", pw, strlen(pw), "approver",
	    id);
	sodium_memzero(pw, sizeof(pw));
	admin_app_close(&app);
	if (rc == CB_ERR_DB_CONFLICT)
		return fail("approver@demo.example exists but is not linked to Slack member "
		    DEMO_SLACK_USER ": cb-admin user-slack USER_ID " DEMO_SLACK_USER);
	if (rc != CB_OK)
		return fail("cannot create the demo approver: %s %s", errs_name(rc), db_errmsg(a->db));
	if ((rc = users_set_slack(a->db, id, DEMO_SLACK_USER, id)) != CB_OK)
		return admin_db_fail(a, rc);
	return 0;
}
