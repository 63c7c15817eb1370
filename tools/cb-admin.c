/*
 * cb-admin: the operator CLI.  Bootstraps and administers a deployment
 * without SQL.  Every command prints one JSON object on stdout (secrets that
 * are shown once, such as API keys, appear only there) and exits non-zero
 * with a message on stderr on failure.
 *
 *   cb-admin org-create SLUG NAME
 *   cb-admin org-plan ORG free|team|enterprise   (a slug or an id)
 *   cb-admin form-create ORG_SLUG NAME DEFINITION.json [SOBJECT EXT_FIELD]
 *   cb-admin form-publish FORM_ID DEFINITION.json
 *   cb-admin form-validate FILE      (no configuration, no database:
 *   cb-admin mapping-validate FILE    admin/validate.h, for a tenant's CI)
 *   cb-admin policy-set FORM_ID TYPES SELECTORS RATE_PER_MINUTE [APPROVAL_TYPES]
 *            [--max-in-flight N] [--approval-ttl SECONDS]
 *   cb-admin agent-create ORG_SLUG NAME
 *   cb-admin key-create AGENT_ID [SCOPES] [EXPIRES_DAYS]
 *   cb-admin agent-mtls AGENT_ID [--subject DN] [--sha256 FP[,FP...]] | --clear
 *   cb-admin key-mtls KEY_ID [--subject DN] [--sha256 FP[,FP...]] | --clear
 *   cb-admin demo-seed
 *   cb-admin user-create ORG_SLUG EMAIL ROLE   (password: see below)
 *   cb-admin user-slack USER_ID SLACK_USER_ID|-   (approvals clicked in Slack)
 *   cb-admin signing-key-rotate [--lead SECONDS] [--wait]
 *   cb-admin sessions-revoke USER_ID
 *   cb-admin data-key-rotate pii|tokens
 *   cb-admin reseal [BATCH]    (progress lines on stderr)
 *   cb-admin subject-index [--rewrite] [BATCH]   (the erasure blind index)
 *   cb-admin dead-letters list ORG [--kind KIND] [--cursor CURSOR] [--limit N]
 *   cb-admin dead-letters show|replay|discard ORG ID
 *   cb-admin call-source-add ORG NAME [--country-code CC]
 *   cb-admin call-source-rotate SOURCE_ID
 *   cb-admin call-source-list ORG
 *   cb-admin sf-contact-forget ORG PHONE   (a contact event: see below)
 *   cb-admin capacity --calls-per-hour N --events-per-call M [--allocation A]
 *            [--batch B] [--call-seconds S] [--inbound-rate R]   (no database)
 *   cb-admin sf-connect ORG KEY.pem LOGIN_URL CLIENT_ID USERNAME [--audience URL]
 *            [--instance-url URL] [--mapping JSON]
 *   cb-admin sf-rotate ORG NEXT_KEY.pem
 *   cb-admin sf-list | sf-show ORG
 *   cb-admin org-region ORG REGION|-
 *   cb-admin backup [--type full|incr|diff]   (runs scripts/backup.sh: pgBackRest)
 *   cb-admin config [--defaults]  (the values in effect and their source;
 *                                  --defaults: every setting, default, help)
 *   cb-admin help | COMMAND --help
 *
 * Lists (TYPES, SELECTORS, SCOPES) are comma-separated.  Configuration as
 * for every process: CB_PG_DSN, CB_API_KEY_PEPPER, ... (see `config`).
 *
 * user-create never takes the password from the command line (it would
 * show in ps and shell history): it reads the first line of the file named
 * by CB_ADMIN_PASSWORD_FILE, else the first line of stdin (without echo on
 * a terminal).  ROLE is admin, operator, viewer or approver (decides approvals only).
 *
 * signing-key-rotate promotes the next signing key once it has been
 * published for --lead seconds (default SIGNKEYS_LEAD_S: the JWKS cache
 * lifetime plus margin; at least SIGNKEYS_LEAD_MIN_S), makes a new next key
 * and retires keys whose grace has passed (lib/signkeys.h).  If the next
 * key is younger it fails saying how long to wait, or with --wait waits.
 *
 * sessions-revoke revokes every refresh-token family of a user; the access
 * tokens of those sessions stop working at once (lib/userauth.h).
 *
 * data-key-rotate makes a new current data key for one purpose while the
 * service runs; reseal then moves every sealed value onto the current keys
 * in batches, with a progress line per batch, and seals the finished
 * commands' values still clear from before sealing (lib/reseal.h).
 *
 * dead-letters: the outbox's dead letters of one organisation (ORG is its
 * slug or id), through lib/deadletter.h as the admin routes do: list
 * (newest first; next_cursor pages on), show, replay (back to pending,
 * the worker woken) and discard (kept, never delivered).  Replay and
 * discard write the audit line (dead_letter_replayed / _discarded) on
 * stderr with actor "cli:<unix user>", the user who ran cb-admin.
 *
 * agent-mtls makes an agent present a client certificate over mutual TLS
 * (lib/mtls.h): its exact subject DN (RFC 2253, as `openssl x509 -noout
 * -subject -nameopt RFC2253` prints it) and/or up to 8 pinned SHA-256
 * fingerprints (`openssl x509 -noout -fingerprint -sha256`); both given,
 * both must hold.  Setting replaces what was set; --clear removes the
 * requirement.  The change and its audit row commit together.
 *
 * Audit: every change writes its audit_log row (lib/audit.h) in the
 * statement or transaction of the change, with actor "operator" and the
 * unix user who ran cb-admin in the detail (cli_user): org.created,
 * org.plan_set, form.created, form.published (version and the SHA-256 of
 * the stored definition), agent.created, api_key.created (agent, public
 * prefix, scopes, expiry; never the key), api_key.revoked (demo-seed's old
 * keys), user.created (role; never the email or password),
 * dead_letter.replayed and dead_letter.discarded.  policy-set is audited
 * by the policy governance code.
 *
 * call-source-*: the voice platform's signed senders of call events
 * (lib/calls.h, docs/calls.md).  add prints the source id and its whsec_
 * secret, once; rotate prints the new secret, the previous one verifying
 * until CB_CALL_SECRET_OVERLAP_S has passed (previous_secret_valid_until).
 *
 * sf-contact-forget drops the contact cache's entry for one number of one
 * tenant (lib/ccache.h), so the next call activity from it is linked by a
 * fresh Salesforce query.
 *
 * sf-*: a tenant's own Salesforce connection (lib/sfconn.h, shared with
 * PUT /api/v1/admin/salesforce; docs/salesforce.md): sf-connect sets it
 * (the key file read as the caller, sealed, never printed), sf-rotate
 * installs the next key, sf-list and sf-show print connections with each
 * key's public-key SHA-256 and age, and warn on stderr about a key older
 * than CB_SF_KEY_WARN_DAYS.  org-region pins a tenant to this deployment's
 * region (docs/residency.md).  Audited: salesforce.connected, .updated,
 * .key_installed, org.region_set.
 *
 * capacity prints what a volume of calls costs (lib/capacity.h, docs/calls.md):
 * events a second and a day, Salesforce API calls a day with and without
 * Collections batching (contact lookups and token mints counted, the
 * assumptions listed), the share of the daily allocation and the headroom
 * against the measured inbound throughput.  A bad option exits 2.
 *
 * Run as root, cb-admin switches to the owner of CB_SEAL_ROOT_KEY_FILE (the
 * service user) before doing anything.
 *
 * This file is the dispatch: the table of commands, usage, and the setup
 * every command shares (who ran it, the switch of user, the settings, the
 * database).  Each command family lives in tools/admin/ (admin.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#include "admin/admin.h"
#include "admin/validate.h"

struct admin_cmd {
	const char	*name;
	int		(*fn)(struct admin *, int, char **);
	const char	*args;		/* the usage after the name */
	const char	*what;		/* one line for `cb-admin help` */
	int		 file_arg;	/* 1-based argument naming a file, 0: none */
	int		 nodb;		/* arithmetic only: no database connection */
	const char	*script;	/* run this script of scripts/ instead (exec) */
	/* Needs no configuration either (a tenant's CI): run before it loads. */
	int		(*standalone)(int, char **);
};

/* `config` is the one command without a database: it is handled in main(). */
static const struct admin_cmd admin_cmds[] = {
	{ "org-create", cmd_org_create, "SLUG NAME", "create a tenant (organisation)" },
	{ "org-plan", cmd_org_plan, "ORG free|team|enterprise",
	  "set the plan tier (quotas) of a tenant" },
	{ "form-create", cmd_form_create, "ORG_SLUG NAME DEFINITION.json [SOBJECT EXT_FIELD]",
	  "create a form and publish its version 1", 3 },
	{ "form-publish", cmd_form_publish, "FORM_ID DEFINITION.json",
	  "publish the next version of a form", 2 },
	{ "form-validate", NULL, ADMIN_VALIDATE_ARGS, ADMIN_FORM_VALIDATE_WHAT, 0, 1, NULL,
	  admin_form_validate },
	{ "mapping-validate", NULL, ADMIN_VALIDATE_ARGS, ADMIN_MAPPING_VALIDATE_WHAT, 0, 1, NULL,
	  admin_mapping_validate },
	{ "policy-set", cmd_policy_set,
	  "FORM_ID TYPES SELECTORS RATE_PER_MINUTE [APPROVAL_TYPES] [--max-in-flight N] "
	  "[--approval-ttl SECONDS]",
	  "set the agent policy of a form (comma-separated lists): checked and versioned as "
	  "PUT /api/v1/admin/forms/{id}/policy does" },
	{ "agent-create", cmd_agent_create, "ORG_SLUG NAME", "create an agent of a tenant" },
	{ "key-create", cmd_key_create, "AGENT_ID [SCOPES] [EXPIRES_DAYS]",
	  "issue an API key for an agent (shown once)" },
	{ "agent-mtls", cmd_agent_mtls, "AGENT_ID [--subject DN] [--sha256 FP[,FP...]] | --clear",
	  "require (or no longer) a client certificate of an agent over mutual TLS" },
	{ "key-mtls", cmd_key_mtls, "KEY_ID [--subject DN] [--sha256 FP[,FP...]] | --clear",
	  "require (or no longer) a client certificate with one API key, even when its agent does"
	  " not (both must then be met)" },
	{ "demo-seed", cmd_demo_seed, "", "seed the demo tenant, form, policy, agent and key" },
	{ "data-key-rotate", cmd_data_key_rotate, "pii|tokens",
	  "make a new current data key for one purpose" },
	{ "key-ages", cmd_key_ages, "",
	  "every data and signing key in use and its age; exit 3 when one is older than "
	  "CB_KEY_WARN_DAYS" },
	{ "subject-index", cmd_subject_index, "[--rewrite] [BATCH]",
	  "write the erasure blind index of rows older than it (idempotent), or rewrite it "
	  "all after the blind index key was rotated (docs/erasure.md)" },
	{ "reseal", cmd_reseal, "[BATCH]",
	  "move every sealed value onto the current data keys (and seal finished commands' values"
	  " still clear from before sealing), then retire the keys no value needs" },
	{ "user-create", cmd_user_create, "ORG_SLUG EMAIL ROLE",
	  "create a console user of one tenant, who signs in naming ORG_SLUG (password from "
	  "CB_ADMIN_PASSWORD_FILE or stdin)" },
	{ "reindex", cmd_reindex, "",
	  "rewrite the users' email index under the current CB_BLIND_INDEX_KEY_FILE (after it "
	  "changed, or after upgrading from a release that keyed it with CB_API_KEY_PEPPER)" },
	{ "user-slack", cmd_user_slack, "USER_ID SLACK_USER_ID|-",
	  "the Slack member id a person clicks approval buttons as (- clears it)" },
	{ "signing-key-rotate", cmd_signing_key_rotate, "[--lead SECONDS] [--wait]",
	  "promote the next JWT signing key" },
	{ "sessions-revoke", cmd_sessions_revoke, "USER_ID",
	  "revoke every refresh-token family of a user" },
	{ "audit", cmd_audit, "verify",
	  "walk the audit trail's hash chain; name the first row altered, removed or moved" },
	{ "call-source-add", cmd_call_source_add, "ORG NAME [--country-code CC]",
	  "register a voice platform's sender of call events; prints its id and secret once" },
	{ "call-source-rotate", cmd_call_source_rotate, "SOURCE_ID",
	  "a new secret for a call source (the old one verifies until CB_CALL_SECRET_OVERLAP_S)" },
	{ "call-source-list", cmd_call_source_list, "ORG", "list a tenant's call sources" },
	{ "dead-letters", cmd_dead_letters,
	  "list ORG [--kind KIND] [--cursor CURSOR] [--limit N] | show|replay|discard ORG ID",
	  "list, show, replay or discard a tenant's dead letters" },
	{ "sf-connect", cmd_sf_connect, "ORG KEY.pem LOGIN_URL CLIENT_ID USERNAME [--audience URL] "
	  "[--instance-url URL] [--mapping JSON]", "give a tenant its own Salesforce connection", 2 },
	{ "sf-rotate", cmd_sf_rotate, "ORG NEXT_KEY.pem",
	  "install a tenant's next Salesforce key (tried first, the current one the fallback, "
	  "for CB_SF_KEY_OVERLAP_S; then current)", 2 },
	{ "sf-list", cmd_sf_list, "", "every tenant's own Salesforce connection, keys' ages" },
	{ "sf-show", cmd_sf_show, "ORG", "a tenant's own Salesforce connection, keys' ages" },
	{ "org-region", cmd_org_region, "ORG REGION|-",
	  "pin a tenant to this deployment's data region (CB_REGION), or unpin it" },
	{ "sf-contact-forget", cmd_sf_contact_forget, "ORG PHONE",
	  "a contact event: drop the cached Salesforce contact of a phone number" },
	{ "capacity", cmd_capacity, "--calls-per-hour N --events-per-call M "
	  "[--allocation DAILY_API_CALLS] [--batch B] [--call-seconds S] [--inbound-rate EVENTS_PER_S]",
	  "plan call volume: event rate, Salesforce API calls a day, allocation share, headroom",
	  0, 1 },
	{ "backup", NULL, "[--type full|incr|diff]",
	  "back up the Postgres cluster with pgBackRest (scripts/backup.sh): prints the backup's "
	  "label, size and duration", 0, 1, "backup.sh" },
};

#define ADMIN_NCMDS	(sizeof(admin_cmds) / sizeof(admin_cmds[0]))
#define ADMIN_CONFIG_ARGS "[--defaults]"
#define ADMIN_CONFIG_WHAT "show each setting's value in effect and where it came from " \
	"(--defaults: the table with defaults and help)"

static int
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

/* Every command with its usage: on stdout when asked for, stderr on a mistake. */
static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: cb-admin COMMAND [ARGS]   (cb-admin COMMAND --help for one)\n\n");
	for (i = 0; i < ADMIN_NCMDS; i++)
		fprintf(f, "  %-19s %s\n  %-19s   %s\n", admin_cmds[i].name, admin_cmds[i].args,
		    "", admin_cmds[i].what);
	fprintf(f, "  %-19s %s\n  %-19s   %s\n", "config", ADMIN_CONFIG_ARGS, "",
	    ADMIN_CONFIG_WHAT);
}

static void
usage_one(const char *name, const char *args, const char *what)
{
	printf("usage: cb-admin %s %s\n  %s\n", name, args, what);
}

/*
 * A command that is a script (backup: pgBackRest runs as the cluster's
 * owner, which the script becomes): scripts/NAME beside the tree that
 * holds this binary, bin/../scripts in an installed tree, or
 * build/bin/../../scripts in a repository.  Only returns on failure.
 */
static int
admin_exec_script(const char *name, int argc, char **argv)
{
	char	 exe[PATH_MAX], path[PATH_MAX + 64], *slash, **args;
	ssize_t	 n;
	int	 i, up;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return fail("cannot find this binary's directory: %s", strerror(errno));
	exe[n] = '\0';
	if ((args = calloc((size_t)argc + 2, sizeof(*args))) == NULL)
		abort();
	for (up = 1; up <= 2; up++) {
		if ((slash = strrchr(exe, '/')) == NULL)
			break;
		*slash = '\0';	/* bin/, then the build directory */
		snprintf(path, sizeof(path), "%s/../scripts/%s", exe, name);
		if (access(path, X_OK) != 0)
			continue;
		args[0] = path;
		for (i = 0; i < argc; i++)
			args[i + 1] = argv[i];
		fflush(NULL);
		execv(path, args);
		fprintf(stderr, "cb-admin: %s: %s\n", path, strerror(errno));
		free(args);
		return 1;
	}
	free(args);
	fprintf(stderr, "cb-admin: scripts/%s not found beside %s\n", name, exe);
	return 1;
}

/*
 * Run as the service, not as root: an operator typing `cb-admin` as root
 * acts as the owner of the seal root key (the service user), which is also
 * the only identity the key file may belong to (lib/seal.h).
 */
static int
admin_drop_root(void)
{
	const char	*keyfile = getenv("CB_SEAL_ROOT_KEY_FILE");
	struct stat	 st;

	if (geteuid() != 0 || keyfile == NULL || stat(keyfile, &st) != 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
		fprintf(stderr, "cb-admin: cannot switch to the service user (uid %u)\n",
		    (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct admin	 a;
	char		 err[512];
	size_t		 i;
	int		 rc = 2;

	memset(&a, 0, sizeof(a));
	log_init("cb-admin", LOG_LVL_WARN);
	util_no_core_dumps();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < ADMIN_NCMDS; i++)
		if (strcmp(argv[1], admin_cmds[i].name) == 0)
			break;
	if (i == ADMIN_NCMDS && strcmp(argv[1], "config") != 0) {
		fprintf(stderr, "cb-admin: unknown command %.64s\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (argc > 2 && is_help(argv[2])) {
		if (i == ADMIN_NCMDS)
			usage_one("config", ADMIN_CONFIG_ARGS, ADMIN_CONFIG_WHAT);
		else
			usage_one(admin_cmds[i].name, admin_cmds[i].args, admin_cmds[i].what);
		return 0;
	}
	if (i < ADMIN_NCMDS && admin_cmds[i].standalone != NULL)
		return admin_cmds[i].standalone(argc - 2, argv + 2);
	if (i == ADMIN_NCMDS && argc == 3 && strcmp(argv[2], "--defaults") == 0) {
		conf_describe(settings_vars, settings_nvars, STDOUT_FILENO);
		return 0;
	}
	if (i == ADMIN_NCMDS && argc != 2) {
		usage_one("config", ADMIN_CONFIG_ARGS, ADMIN_CONFIG_WHAT);
		return 2;
	}
	if (i < ADMIN_NCMDS && admin_cmds[i].script != NULL)
		return admin_exec_script(admin_cmds[i].script, argc - 2, argv + 2);
	if (sodium_init() < 0)
		return 1;
	/* Who ran the command, for audit lines: before becoming the service. */
	{
		struct passwd	*pw = getpwuid(getuid());

		if (pw && pw->pw_name)
			snprintf(a.actor, sizeof(a.actor), "cli:%s", pw->pw_name);
		else
			snprintf(a.actor, sizeof(a.actor), "cli:uid-%u", (unsigned)getuid());
	}
	/* A file named on the command line is read as the caller. */
	if (i < ADMIN_NCMDS && admin_cmds[i].file_arg > 0 && argc - 2 >= admin_cmds[i].file_arg &&
	    admin_read_file(argv[1 + admin_cmds[i].file_arg], &a.file) != 0)
		return 1;
	if (admin_drop_root() != 0) {
		free(a.file);
		return 2;
	}
	if (settings_load(&a.s, err, sizeof(err)) != CB_OK) {
		fprintf(stderr, "cb-admin: %s\n", err);
		if (strstr(err, "Permission denied") != NULL && geteuid() != getuid())
			fprintf(stderr, "cb-admin: it runs as the service user (uid %u, the owner of "
			    "CB_SEAL_ROOT_KEY_FILE): make the file readable by that user\n",
			    (unsigned)geteuid());
		free(a.file);
		return 2;
	}
	if (i == ADMIN_NCMDS) {
		/* config: what this process would run with, secrets never shown. */
		conf_show(settings_vars, settings_nvars, &a.s, NULL, STDOUT_FILENO);
		settings_free(&a.s);
		return 0;
	}
	if (admin_cmds[i].nodb) {
		rc = admin_cmds[i].fn(&a, argc - 2, argv + 2);
		settings_free(&a.s);
		return rc;
	}
	a.db = db_open(a.s.pg_dsn);
	if (db_connect(a.db) != CB_OK)
		fprintf(stderr, "cb-admin: cannot connect: %s\n", db_errmsg(a.db));
	else
		rc = admin_cmds[i].fn(&a, argc - 2, argv + 2);
	db_close(a.db);
	settings_free(&a.s);
	free(a.file);
	return rc;
}
