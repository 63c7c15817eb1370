/*
 * cb-admin's tenant commands: org-create, org-plan, org-region, user-create,
 * reindex, user-slack and sessions-revoke (usage: tools/cb-admin.c).  The
 * rows are written by the library the API uses too (lib/orgs.h,
 * lib/users.h, lib/refresh.h, lib/sfconn.h), each change with its audit
 * row; a password is never taken from the command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "audit.h"
#include "errs.h"
#include "orgs.h"
#include "pwhash.h"
#include "refresh.h"
#include "region.h"
#include "route.h"
#include "sfconn.h"
#include "users.h"
#include "util.h"

/* An org command's answer: {"org_id":ID,"KEY":"VALUE"}, or the database's error. */
static int
org_answer(struct admin *a, int rc, const char *id, const char *key, const char *value)
{
	if (rc != CB_OK)
		return admin_db_fail(a, rc);
	printf("{\"org_id\":%s,\"%s\":\"%s\"}\n", id, key, value);
	return 0;
}

int
cmd_org_create(struct admin *a, int argc, char **argv)
{
	char	 id[32];
	int	 rc;

	if (argc != 2)
		return fail("usage: org-create SLUG NAME");
	/* An existing slug answers its id, unchanged and not audited. */
	rc = orgs_create(a->db, argv[0], argv[1], a->actor, id, sizeof(id));
	return org_answer(a, rc, id, "slug", argv[0]);
}

/* A tenant's plan tier: its submits and commands a minute (lib/quota.h). */
int
cmd_org_plan(struct admin *a, int argc, char **argv)
{
	char	 id[32];
	int	 rc;

	if (argc != 2 || (strcmp(argv[1], "free") != 0 && strcmp(argv[1], "team") != 0 &&
	    strcmp(argv[1], "enterprise") != 0))
		return fail("usage: org-plan ORG free|team|enterprise");
	rc = orgs_set_plan(a->db, argv[0], argv[1], a->actor, id, sizeof(id));
	return org_answer(a, rc, id, "plan", argv[1]);
}

/* A user and its audit row user.created, committed together. */
int
admin_user_create(struct admin *a, struct app *app, const char *org, const char *email,
    const char *pw, size_t pwlen, const char *role, char id[37])
{
	char	*detail;
	int	 rc;

	if ((rc = db_begin(a->db)) == CB_OK &&
	    (rc = users_create(app, org, email, pw, pwlen, role, id)) == CB_OK) {
		detail = audit_detail("role", role, "cli_user", a->actor, NULL);
		rc = audit_append(a->db, org, AUDIT_ACTOR_OPERATOR, "user.created", id, detail);
		free(detail);
	}
	if (rc == CB_OK)
		rc = db_commit(a->db);
	else if (db_in_tx(a->db))
		db_rollback(a->db);
	return rc;
}

/*
 * The password: the first line of CB_ADMIN_PASSWORD_FILE, else of stdin
 * (echo off on a terminal).  Never argv.  Returns its length, or -1.
 */
static long
read_password(char *pw, size_t pwsz)
{
	const char	*path = getenv("CB_ADMIN_PASSWORD_FILE");
	struct termios	 old, quiet;
	FILE		*f = stdin;
	int		 tty = 0;
	size_t		 n;

	if (path && *path && (f = fopen(path, "r")) == NULL) {
		fail("CB_ADMIN_PASSWORD_FILE %s: %s", path, strerror(errno));
		return -1;
	}
	if (f == stdin && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tty = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		fprintf(stderr, "password: ");
	}
	if (fgets(pw, (int)pwsz, f) == NULL)
		pw[0] = '\0';
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (f != stdin)
		fclose(f);
	n = strlen(pw);
	if (n > 0 && pw[n - 1] != '\n' && n + 1 == pwsz) {
		sodium_memzero(pw, pwsz);
		fail("the password is longer than %u bytes", PWHASH_PASSWORD_MAX);
		return -1;
	}
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	if (n < PWHASH_PASSWORD_MIN) {
		sodium_memzero(pw, pwsz);
		fail("the password must be %u to %u bytes (one line on stdin or in "
		    "CB_ADMIN_PASSWORD_FILE)", PWHASH_PASSWORD_MIN, PWHASH_PASSWORD_MAX);
		return -1;
	}
	return (long)n;
}

int
cmd_user_create(struct admin *a, int argc, char **argv)
{
	struct app	 app;
	char		 org[32], id[37], pw[PWHASH_PASSWORD_MAX + 2];
	long		 pwlen;
	int		 rc;

	if (argc != 3)
		return fail("usage: user-create ORG_SLUG EMAIL ROLE (password on stdin or in "
		    "CB_ADMIN_PASSWORD_FILE)");
	if (!users_role_ok(argv[2]))
		return fail("ROLE must be admin, operator, viewer or approver");
	if ((rc = orgs_by_slug(a->db, argv[0], org, sizeof(org))) == CB_ERR_NOT_FOUND)
		return fail("no organisation with slug %s", argv[0]);
	if (rc != CB_OK)
		return admin_db_fail(a, rc);
	if ((pwlen = read_password(pw, sizeof(pw))) < 0)
		return 1;
	if (admin_app_open(a, &app)) {
		sodium_memzero(pw, sizeof(pw));
		return 1;
	}
	rc = admin_user_create(a, &app, org, argv[1], pw, (size_t)pwlen, argv[2], id);
	sodium_memzero(pw, sizeof(pw));
	admin_app_close(&app);
	if (rc == CB_ERR_DB_CONFLICT)
		return fail("a user with that email already exists in %s", argv[0]);
	if (rc == CB_ERR_VALIDATION)
		return fail("invalid email, role or password");
	if (rc != CB_OK)
		return fail("cannot create the user: %s %s", errs_name(rc), db_errmsg(a->db));
	/* The slug too: the person names it at login (docs/identity.md). */
	printf("{\"user_id\":\"%s\",\"org_id\":%s,\"org\":\"%s\",\"role\":\"%s\"}\n", id, org,
	    argv[0], argv[2]);
	return 0;
}

/*
 * Every user's email index under the current blind index key
 * (CB_BLIND_INDEX_KEY_FILE), after the key changed or after the upgrade that
 * introduced it (the index was derived from CB_API_KEY_PEPPER before): the
 * sealed emails are opened and hashed again.  Idempotent: a second run
 * rewrites nothing.
 */
int
cmd_reindex(struct admin *a, int argc, char **argv)
{
	struct app	 app;
	long long	 changed = 0;
	int		 rc;

	(void)argv;
	if (argc != 0)
		return fail("usage: reindex");
	if (admin_app_open(a, &app))
		return 1;
	rc = users_reindex(&app, &changed);
	admin_app_close(&app);
	if (rc != CB_OK)
		return fail("reindex: %s %s (%lld rows rewritten before it)", errs_name(rc),
		    db_errmsg(a->db), changed);
	printf("{\"users_reindexed\":%lld}\n", changed);
	return 0;
}

/*
 * The Slack user a person clicks approval buttons as (Slack's member id,
 * e.g. U024BE7LH); "-" clears it.  Unique within the organisation.
 */
int
cmd_user_slack(struct admin *a, int argc, char **argv)
{
	const char	*slack;
	char		 id[40];
	size_t		 i, n;
	int		 rc;

	if (argc != 2 || !util_uuid_ok(argv[0]))
		return fail("usage: user-slack USER_ID SLACK_USER_ID|-");
	slack = strcmp(argv[1], "-") == 0 ? NULL : argv[1];
	n = slack ? strlen(slack) : 0;
	for (i = 0; i < n; i++)
		if (!((slack[i] >= 'A' && slack[i] <= 'Z') || (slack[i] >= '0' && slack[i] <= '9')))
			break;
	if (slack && (n < 3 || n > 20 || i != n || (slack[0] != 'U' && slack[0] != 'W')))
		return fail("SLACK_USER_ID must be a Slack member id (U or W, then A-Z 0-9)");
	if ((rc = users_set_slack(a->db, argv[0], slack, id)) != CB_OK)
		return admin_db_fail(a, rc);
	printf("{\"user_id\":\"%s\",\"slack_user_id\":%s%s%s}\n", id, slack ? "\"" : "",
	    slack ? slack : "null", slack ? "\"" : "");
	return 0;
}

int
cmd_sessions_revoke(struct admin *a, int argc, char **argv)
{
	long long	 n = 0;
	int		 rc;

	if (argc != 1 || !util_uuid_ok(argv[0]))
		return fail("usage: sessions-revoke USER_ID");
	rc = refresh_revoke_user(a->db, argv[0], &n);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("no user %s", argv[0]);
	if (rc != CB_OK)
		return fail("cannot revoke: %s %s", errs_name(rc), db_errmsg(a->db));
	printf("{\"user_id\":\"%s\",\"sessions_revoked\":%lld}\n", argv[0], n);
	return 0;
}

/* org-region ORG REGION|-: pin a tenant to this deployment's region, or unpin it. */
int
cmd_org_region(struct admin *a, int argc, char **argv)
{
	char	 org[32], why[400];
	int	 rc;

	if (argc != 2)
		return fail("usage: org-region ORG REGION|-   (REGION: %s)", region_list());
	if (admin_org_resolve(a, argv[0], org, sizeof(org)))
		return 1;
	rc = sfconn_org_region_set(a->db, &a->s, org, argv[1], a->actor, why, sizeof(why));
	if (rc == CB_ERR_RESIDENCY || rc == CB_ERR_VALIDATION)
		return fail("org-region: %s: %s", errs_title(rc), why);
	if (rc != CB_OK)
		return fail("org-region: %s", errs_name(rc));
	/* org is digits, the region one of the fixed table's (checked). */
	if (strcmp(argv[1], "-") == 0)
		printf("{\"org_id\":%s,\"region\":null}\n", org);
	else
		printf("{\"org_id\":%s,\"region\":\"%s\"}\n", org, argv[1]);
	return 0;
}
