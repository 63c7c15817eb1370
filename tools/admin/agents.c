/*
 * cb-admin's agent commands: agent-create, key-create, agent-mtls and
 * key-mtls (usage: tools/cb-admin.c).  Agents and keys are written by
 * lib/agents.h, mutual TLS by lib/mtls.h: the code the admin routes run,
 * with the same audit rows.  A key is printed once and never stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "agents.h"
#include "errs.h"
#include "mtls.h"
#include "orgs.h"
#include "util.h"

int
cmd_agent_create(struct admin *a, int argc, char **argv)
{
	struct db_res	*res = NULL;
	char		 org[32];
	int		 rc;

	if (argc != 2)
		return fail("usage: agent-create ORG_SLUG NAME");
	if ((rc = orgs_by_slug(a->db, argv[0], org, sizeof(org))) != CB_OK ||
	    (rc = agents_create(a->db, org, argv[1], a->actor, &res)) != CB_OK)
		return admin_db_fail(a, rc);
	printf("{\"agent_id\":\"%s\"}\n", db_val(res, 0, AGENTS_ID));
	db_res_free(res);
	return 0;
}

/*
 * A key of any organisation's agent (scopes "a,b", days "0": never
 * expires), through lib/agents.h as the API issues one; its id in `id`.
 */
int
admin_key_create(struct admin *a, const char *agent, const char *scopes, const char *days,
    char key[APIKEY_LEN + 1], char *id, size_t idsz)
{
	struct db_res	*res = NULL;
	char		*sc = admin_list_json(scopes);
	int		 rc;

	rc = agents_key_issue(a->db, a->s.api_key_pepper, NULL, agent, sc, days, a->actor, key,
	    &res);
	free(sc);
	if (rc == CB_ERR_CONFIG)
		return fail("CB_API_KEY_PEPPER must be 64 hex characters");
	if (rc != CB_OK)
		return admin_db_fail(a, rc);
	util_strlcpy(id, db_val(res, 0, AGENTS_KEY_ID), idsz);
	db_res_free(res);
	return 0;
}

int
cmd_key_create(struct admin *a, int argc, char **argv)
{
	char	 key[APIKEY_LEN + 1], id[40];

	if (argc < 1 || argc > 3 || !util_uuid_ok(argv[0]))
		return fail("usage: key-create AGENT_ID [SCOPES] [EXPIRES_DAYS]");
	if (admin_key_create(a, argv[0], argc > 1 ? argv[1] : "commands:write,commands:read",
	    argc > 2 ? argv[2] : "0", key, id, sizeof(id)))
		return 1;
	printf("{\"key_id\":\"%s\",\"api_key\":\"%s\"}\n", id, key);
	sodium_memzero(key, sizeof(key));
	return 0;
}

/* agent-mtls and key-mtls: the same arguments, lib/mtls.c's same code. */
static int
mtls_cmd(struct admin *a, int argc, char **argv, int key)
{
	const char	*subject = NULL, *pins = NULL, *why = NULL;
	const char	*cmd = key ? "key-mtls" : "agent-mtls", *what = key ? "key" : "agent";
	int		 i, clear = 0, rc;

	if (argc < 2 || !util_uuid_ok(argv[0]))
		goto usage;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--clear") == 0 && !clear)
			clear = 1;
		else if (strcmp(argv[i], "--subject") == 0 && i + 1 < argc && subject == NULL)
			subject = argv[++i];
		else if (strcmp(argv[i], "--sha256") == 0 && i + 1 < argc && pins == NULL)
			pins = argv[++i];
		else
			goto usage;
	}
	if (clear == (subject != NULL || pins != NULL))
		goto usage;
	if (!clear && (subject == NULL || subject[0] == '\0') && (pins == NULL || pins[0] == '\0'))
		return fail("%s: give a subject or a pin (or --clear)", cmd);
	rc = (key ? mtls_set_key : mtls_set)(a->db, NULL, argv[0], subject, pins, a->actor, &why);
	if (rc == CB_ERR_VALIDATION)
		return fail("%s: %s", cmd, why);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("%s: no %s %s", cmd, what, argv[0]);
	if (rc != CB_OK)
		return fail("%s: %s", cmd, db_errmsg(a->db));
	printf("{\"%s_id\":\"%s\",\"mtls\":\"%s\"}\n", what, argv[0], clear ? "cleared" : "set");
	return 0;
usage:
	return fail("usage: %s %s_ID [--subject DN] [--sha256 FP[,FP...]] | --clear", cmd,
	    key ? "KEY" : "AGENT");
}

int
cmd_agent_mtls(struct admin *a, int argc, char **argv)
{
	return mtls_cmd(a, argc, argv, 0);
}

int
cmd_key_mtls(struct admin *a, int argc, char **argv)
{
	return mtls_cmd(a, argc, argv, 1);
}
