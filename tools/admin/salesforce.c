/*
 * cb-admin's Salesforce commands: sf-connect, sf-rotate, sf-list, sf-show
 * (lib/sfconn.h, shared with PUT /api/v1/admin/salesforce): a key file is
 * read as the caller, sealed, never printed; a key older than
 * CB_SF_KEY_WARN_DAYS is warned about on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "audit.h"
#include "errs.h"
#include "jsonv.h"
#include "keyring.h"
#include "sfconn.h"
#include "util.h"

/* ---- Salesforce connections (lib/sfconn.h) --------------------------- */

/* A connection's warnings (a key due for rotation) on stderr. */
static void
sf_warn(const cJSON *c)
{
	const cJSON	*w;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(c, "warnings"))
		fprintf(stderr, "cb-admin: warning: %s: %s\n",
		    cJSON_GetObjectItemCaseSensitive(c, "org")->valuestring, w->valuestring);
}

/* Print a connection view (or a list of them), warnings on stderr. */
static void
sf_print(cJSON *view)
{
	const cJSON	*arr = cJSON_GetObjectItemCaseSensitive(view, "connections"), *c;

	if (arr == NULL)
		sf_warn(view);
	cJSON_ArrayForEach(c, arr)
		sf_warn(c);
	admin_print_json(view);
}

/* A command's answer: its view printed, or the error's name after "CMD: ". */
static int
sf_answer(const char *cmd, int rc, cJSON *view)
{
	if (rc != CB_OK)
		return fail("%s: %s", cmd, errs_name(rc));
	sf_print(view);
	return 0;
}

/* The key file's text, owned (wipe it): read as the caller before the drop. */
static void
sf_key_wipe(char *pem)
{
	if (pem != NULL) {
		sodium_memzero(pem, strlen(pem));
		free(pem);
	}
}

/*
 * sf-connect ORG KEY.pem LOGIN_URL CLIENT_ID USERNAME [--audience URL]
 * [--instance-url URL] [--mapping JSON]: the tenant's own connection.
 */
int
cmd_sf_connect(struct admin *a, int argc, char **argv)
{
	struct sfconn_in	 in;
	struct seal_keyring	*kr;
	struct keyring		 k;
	struct jv_error		 je;
	cJSON			*mapping = NULL, *view = NULL;
	const char		*field = NULL;
	char			 org[32], sha[SFCONN_SHA_BUFSZ], why[400], *pem = NULL;
	int			 i, rc = 1;

	memset(&in, 0, sizeof(in));
	memset(&k, 0, sizeof(k));
	if (argc < 5 || (argc - 5) % 2 != 0)
		return fail("usage: sf-connect ORG KEY.pem LOGIN_URL CLIENT_ID USERNAME "
		    "[--audience URL] [--instance-url URL] [--mapping JSON]");
	in.login_url = argv[2];
	in.client_id = argv[3];
	in.username = argv[4];
	for (i = 5; i < argc; i += 2) {
		if (strcmp(argv[i], "--audience") == 0)
			in.audience = argv[i + 1];
		else if (strcmp(argv[i], "--instance-url") == 0)
			in.instance_url = argv[i + 1];
		else if (strcmp(argv[i], "--mapping") == 0 && mapping == NULL) {
			if (jv_parse(argv[i + 1], strlen(argv[i + 1]), &mapping, &je) != CB_OK)
				return fail("sf-connect: --mapping: not one JSON object (%s)", je.reason);
			in.mapping = mapping;
		} else {
			cJSON_Delete(mapping);
			return fail("sf-connect: unknown option %.40s", argv[i]);
		}
	}
	if (admin_command_file(a, argv[1], &pem) != 0)
		goto out;
	in.private_key = pem;
	if (admin_org_resolve(a, argv[0], org, sizeof(org)))
		goto out;
	if (sfconn_validate(&in, sha, &field, why, sizeof(why)) != CB_OK) {
		fail("sf-connect: %s: %s", field, why);
		goto out;
	}
	if ((kr = admin_keys(a, &k)) == NULL)
		goto out;
	rc = sfconn_put(a->db, kr, &a->s, org, &in, sha, AUDIT_ACTOR_OPERATOR, a->actor, &view,
	    &field, why, sizeof(why));
	if (rc == CB_ERR_RESIDENCY || rc == CB_ERR_VALIDATION)
		rc = fail("sf-connect: %s (%s): %s", errs_title(rc), field, why);
	else
		rc = sf_answer("sf-connect", rc, view);
out:
	keyring_close(&k);
	sf_key_wipe(pem);
	cJSON_Delete(mapping);
	return rc;
}

/* sf-rotate ORG NEXT_KEY.pem: the next key, tried first during the overlap. */
int
cmd_sf_rotate(struct admin *a, int argc, char **argv)
{
	struct seal_keyring	*kr;
	struct keyring		 k;
	cJSON			*view = NULL;
	char			 org[32], why[400], *pem = NULL;
	int			 rc = 1;

	memset(&k, 0, sizeof(k));
	if (argc != 2)
		return fail("usage: sf-rotate ORG NEXT_KEY.pem");
	if (admin_command_file(a, argv[1], &pem) != 0 ||
	    admin_org_resolve(a, argv[0], org, sizeof(org)) ||
	    (kr = admin_keys(a, &k)) == NULL)
		goto out;
	rc = sfconn_rotate(a->db, kr, &a->s, org, pem, AUDIT_ACTOR_OPERATOR, a->actor, &view,
	    why, sizeof(why));
	if (rc == CB_ERR_NOT_FOUND)
		rc = fail("sf-rotate: the tenant has no Salesforce connection of its own");
	else if (rc == CB_ERR_VALIDATION)
		rc = fail("sf-rotate: %s", why);
	else
		rc = sf_answer("sf-rotate", rc, view);
out:
	keyring_close(&k);
	sf_key_wipe(pem);
	return rc;
}

/* sf-list | sf-show ORG: never a key; each key's age, and a warning when due. */
int
cmd_sf_list(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	int	 rc;

	(void)argv;
	if (argc != 0)
		return fail("usage: sf-list");
	rc = sfconn_list(a->db, &a->s, &view);
	return sf_answer("sf-list", rc, view);
}

int
cmd_sf_show(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	char	 org[32];
	int	 rc;

	if (argc != 1)
		return fail("usage: sf-show ORG");
	if (admin_org_resolve(a, argv[0], org, sizeof(org)))
		return 1;
	if ((rc = sfconn_get(a->db, &a->s, org, &view)) == CB_ERR_NOT_FOUND)
		return fail("sf-show: %s has no Salesforce connection of its own (it delivers "
		    "through the default CB_SF_* connection)", argv[0]);
	return sf_answer("sf-show", rc, view);
}
