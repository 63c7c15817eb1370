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
 * in batches, with a progress line per batch (lib/reseal.h).
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
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "apikey.h"
#include "audit.h"
#include "buf.h"
#include "calls.h"
#include "capacity.h"
#include "ccache.h"
#include "db.h"
#include "deadletter.h"
#include "errs.h"
#include "formdef.h"
#include "forms.h"
#include "kv.h"
#include "mtls.h"
#include "keyring.h"
#include "log.h"
#include "phone.h"
#include "policygov.h"
#include "pwhash.h"
#include "refresh.h"
#include "reseal.h"
#include "route.h"
#include "region.h"
#include "settings.h"
#include "sfconn.h"
#include "signkeys.h"
#include "subject.h"
#include "users.h"
#include "util.h"

#include "admin/validate.h"

struct admin {
	struct settings	 s;
	struct db	*db;
	char		 actor[80];	/* "cli:<unix user>", who ran the command */
	char		*file;		/* the command's file, read as the caller */
};

static int fail(const char *, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "cb-admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int
read_file(const char *path, char **out)
{
	struct buf	 b;
	FILE		*f;
	char		 chunk[4096];
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return fail("%s: %s", path, strerror(errno));
	buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) != CB_OK) {
			fclose(f);
			buf_free(&b);
			return fail("%s: larger than 1 MiB", path);
		}
	fclose(f);
	*out = util_strdup(buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/*
 * The file a command names, read before the switch to the service user (as
 * the caller who named it: a definition in a clone under /root is readable
 * by root, not by cbroker); the command takes ownership.
 */
static int
command_file(struct admin *a, const char *path, char **out)
{
	if (a->file == NULL)
		return read_file(path, out);
	*out = a->file;
	a->file = NULL;
	return 0;
}

/* "a,b,c" -> a JSON array text, for Postgres: SELECT ARRAY(SELECT json_array_elements_text(...)) */
static char *
list_json(const char *csv)
{
	cJSON	*a = cJSON_CreateArray();
	char	*copy = util_strdup(csv), *p = copy, *c, *out;

	while (p && *p) {
		c = strchr(p, ',');
		if (c)
			*c++ = '\0';
		if (*p)
			cJSON_AddItemToArray(a, cJSON_CreateString(p));
		p = c;
	}
	out = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	free(copy);
	return out;
}

/* What publishing takes: formdef_check, as form-validate runs it (admin/forms.h). */
static int
check_definition(const char *text)
{
	struct jv_error	 e;
	char		 why[400];

	if (formdef_check_text(text, strlen(text), &e) == CB_OK)
		return 0;
	formdef_error_text(text, &e, why, sizeof(why));
	return fail("definition refused: %s", why);
}

static int
q1(struct admin *a, const char *sql, int n, const char *const *p, char *out, size_t outsz)
{
	struct db_res	*res = NULL;
	int		 rc;

	rc = db_query(a->db, &res, sql, n, p);
	if (rc != CB_OK) {
		fprintf(stderr, "cb-admin: %s\n", db_errmsg(a->db));
		return 1;
	}
	if (db_rows(res) < 1) {
		db_res_free(res);
		fprintf(stderr, "cb-admin: not found\n");
		return 1;
	}
	if (out)
		util_strlcpy(out, db_val(res, 0, 0) ? db_val(res, 0, 0) : "", outsz);
	db_res_free(res);
	return 0;
}

static int
cmd_org_create(struct admin *a, int argc, char **argv)
{
	char	 id[32];

	if (argc != 2)
		return fail("usage: org-create SLUG NAME");
	/* An existing slug answers its id, unchanged and not audited. */
	if (q1(a, "WITH i AS (INSERT INTO orgs (slug, name) VALUES ($1, $2)"
	    "   ON CONFLICT (slug) DO NOTHING RETURNING id, slug, name),"
	    " a AS (" AUDIT_INSERT_SELECT("i.id", "$3", "'org.created'", "i.id::text",
	    "jsonb_build_object('slug', i.slug, 'name', i.name, 'cli_user', $4::text)", "i") ")"
	    " SELECT id FROM i UNION ALL SELECT id FROM orgs WHERE slug = $1", 4,
	    (const char *[]){ argv[0], argv[1], AUDIT_ACTOR_OPERATOR, a->actor }, id, sizeof(id)))
		return 1;
	printf("{\"org_id\":%s,\"slug\":\"%s\"}\n", id, argv[0]);
	return 0;
}

/* A tenant's plan tier: its submits and commands a minute (lib/quota.h). */
static int
cmd_org_plan(struct admin *a, int argc, char **argv)
{
	char	 id[32];

	if (argc != 2 || (strcmp(argv[1], "free") != 0 && strcmp(argv[1], "team") != 0 &&
	    strcmp(argv[1], "enterprise") != 0))
		return fail("usage: org-plan ORG free|team|enterprise");
	if (q1(a, "WITH u AS (UPDATE orgs SET plan = $2 WHERE slug = $1 OR id::text = $1"
	    "   RETURNING id, plan),"
	    " a AS (" AUDIT_INSERT_SELECT("u.id", "$3", "'org.plan_set'", "u.id::text",
	    "jsonb_build_object('plan', u.plan, 'cli_user', $4::text)", "u") ")"
	    " SELECT id FROM u", 4, (const char *[]){ argv[0], argv[1], AUDIT_ACTOR_OPERATOR,
	    a->actor }, id, sizeof(id)))
		return 1;
	if (id[0] == '\0')
		return fail("org-plan: no such organisation");
	printf("{\"org_id\":%s,\"plan\":\"%s\"}\n", id, argv[1]);
	return 0;
}

/* Every publish (form-create, form-publish, demo-seed) is checked here first. */
static int
publish(struct admin *a, const char *form_id, const char *def, char *ver, size_t versz)
{
	if (check_definition(def))
		return 1;
	/*
	 * The next version, the definition, the pointer and the audit row
	 * (the SHA-256 of the definition as stored: the row can be checked
	 * against form_versions) move together.
	 */
	if (db_begin(a->db) != CB_OK ||
	    q1(a, "WITH n AS (SELECT coalesce(max(version), 0) + 1 AS v FROM form_versions"
	    "   WHERE form_id = $1),"
	    " i AS (INSERT INTO form_versions (form_id, version, org_id, definition)"
	    "   SELECT $1, n.v, f.org_id, $2::jsonb FROM n, forms f WHERE f.id = $1"
	    "   RETURNING form_id, version, org_id, definition),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$3", "'form.published'", "i.form_id::text",
	    "jsonb_build_object('version', i.version, 'definition_sha256',"
	    "   encode(sha256(convert_to(i.definition::text, 'UTF8')), 'hex'), 'cli_user', $4::text)",
	    "i") ")"
	    " UPDATE forms SET current_version = (SELECT version FROM i) WHERE id = $1"
	    " RETURNING current_version", 4, (const char *[]){ form_id, def, AUDIT_ACTOR_OPERATOR,
	    a->actor }, ver, versz) ||
	    db_commit(a->db) != CB_OK) {
		db_rollback(a->db);
		return 1;
	}
	return 0;
}

static int
cmd_form_create(struct admin *a, int argc, char **argv)
{
	char	*def = NULL, id[40], ver[16];
	int	 rc = 1;

	if (argc != 3 && argc != 5)
		return fail("usage: form-create ORG_SLUG NAME DEFINITION.json [SOBJECT EXT_FIELD]");
	if (command_file(a, argv[2], &def) || check_definition(def))
		goto out;
	if (q1(a, "WITH i AS (INSERT INTO forms (org_id, name, sf_object, sf_ext_field)"
	    "   SELECT id, $2, coalesce($3, 'Form_Submission__c'),"
	    "   coalesce($4, 'Broker_Submission_Id__c') FROM orgs WHERE slug = $1"
	    "   RETURNING id, org_id, name, sf_object),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$5", "'form.created'", "i.id::text",
	    "jsonb_build_object('name', i.name, 'sf_object', i.sf_object, 'cli_user', $6::text)",
	    "i") ")"
	    " SELECT id FROM i", 6,
	    (const char *[]){ argv[0], argv[1], argc == 5 ? argv[3] : NULL, argc == 5 ? argv[4] : NULL,
	    AUDIT_ACTOR_OPERATOR, a->actor }, id, sizeof(id)))
		goto out;
	if (publish(a, id, def, ver, sizeof(ver)))
		goto out;
	printf("{\"form_id\":\"%s\",\"version\":%s}\n", id, ver);
	rc = 0;
out:
	free(def);
	return rc;
}

static int
cmd_form_publish(struct admin *a, int argc, char **argv)
{
	char	*def = NULL, ver[16];
	int	 rc = 1;

	if (argc != 2 || !util_uuid_ok(argv[0]))
		return fail("usage: form-publish FORM_ID DEFINITION.json");
	if (command_file(a, argv[1], &def) ||
	    publish(a, argv[0], def, ver, sizeof(ver)))
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
static int
policy_apply(struct admin *a, struct policygov_state *st, struct policygov_doc *d, int print)
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
static int
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
	rc = policy_apply(a, &st, &d, 1);
	policygov_doc_free(&d);
	policygov_state_free(&st);
	return rc;
}

static int
cmd_agent_create(struct admin *a, int argc, char **argv)
{
	char	 id[40];

	if (argc != 2)
		return fail("usage: agent-create ORG_SLUG NAME");
	if (q1(a, "WITH i AS (INSERT INTO agents (org_id, name) SELECT id, $2 FROM orgs"
	    "   WHERE slug = $1 RETURNING id, org_id, name),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$3", "'agent.created'", "i.id::text",
	    "jsonb_build_object('name', i.name, 'cli_user', $4::text)", "i") ")"
	    " SELECT id FROM i", 4, (const char *[]){ argv[0], argv[1], AUDIT_ACTOR_OPERATOR,
	    a->actor }, id, sizeof(id)))
		return 1;
	printf("{\"agent_id\":\"%s\"}\n", id);
	return 0;
}

static int
key_create(struct admin *a, const char *agent, const char *scopes, const char *days,
    char key[APIKEY_LEN + 1], char *id, size_t idsz)
{
	char	 prefix[APIKEY_PREFIX_LEN + 1], hash[2 + 64 + 1], *sc;
	int	 rc;

	if (apikey_new(a->s.api_key_pepper, key, prefix, hash) != CB_OK)
		return fail("CB_API_KEY_PEPPER must be 64 hex characters");
	sc = list_json(scopes);
	rc = q1(a, "WITH i AS (INSERT INTO api_keys (org_id, agent_id, prefix, key_hash, scopes,"
	    "   expires_at)"
	    "   SELECT org_id, id, $2, $3::bytea, ARRAY(SELECT json_array_elements_text($4::json)),"
	    "   CASE WHEN $5::int > 0 THEN now() + make_interval(days => $5::int) END"
	    "   FROM agents WHERE id = $1 RETURNING id, org_id, agent_id, prefix, scopes, expires_at),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$6", "'api_key.created'", "i.id::text",
	    "jsonb_build_object('agent_id', i.agent_id, 'prefix', i.prefix, 'scopes', i.scopes,"
	    "   'expires_at', i.expires_at, 'cli_user', $7::text)", "i") ")"
	    " SELECT id FROM i", 7,
	    (const char *[]){ agent, prefix, hash, sc, days, AUDIT_ACTOR_OPERATOR, a->actor },
	    id, idsz);
	free(sc);
	return rc;
}

static int
cmd_key_create(struct admin *a, int argc, char **argv)
{
	char	 key[APIKEY_LEN + 1], id[40];

	if (argc < 1 || argc > 3 || !util_uuid_ok(argv[0]))
		return fail("usage: key-create AGENT_ID [SCOPES] [EXPIRES_DAYS]");
	if (key_create(a, argv[0], argc > 1 ? argv[1] : "commands:write,commands:read",
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

static int
cmd_agent_mtls(struct admin *a, int argc, char **argv)
{
	return mtls_cmd(a, argc, argv, 0);
}

static int
cmd_key_mtls(struct admin *a, int argc, char **argv)
{
	return mtls_cmd(a, argc, argv, 1);
}

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

static int	demo_approver(struct admin *, char id[40]);

/*
 * A demo tenant, form, policy (set_field held for a person's approval) and
 * agent key, and an approver linked to Slack member DEMO_SLACK_USER; reuses
 * what exists and revokes the demo agent's older keys (each run prints a
 * new one).
 */
static int
cmd_demo_seed(struct admin *a, int argc, char **argv)
{
	struct policygov_state	 st;
	struct policygov_doc	 d;
	char			 form[40] = "", agent[40] = "", key[APIKEY_LEN + 1], kid[40], ver[16];
	char			 approver[40] = "";
	int			 rc;

	(void)argv;
	if (argc != 0)
		return fail("usage: demo-seed");
	if (q1(a, "INSERT INTO orgs (slug, name) VALUES ('demo', 'Demo tenant')"
	    " ON CONFLICT (slug) DO UPDATE SET name = orgs.name RETURNING id", 0, NULL, ver, sizeof(ver)))
		return 1;
	if (q1(a, "SELECT coalesce((SELECT f.id::text FROM forms f JOIN orgs o ON o.id = f.org_id"
	    " WHERE o.slug = 'demo' AND f.name = 'Contact us' ORDER BY f.created_at LIMIT 1), '')",
	    0, NULL, form, sizeof(form)))
		return 1;
	if (form[0] == '\0') {
		if (q1(a, "INSERT INTO forms (org_id, name) SELECT id, 'Contact us' FROM orgs"
		    " WHERE slug = 'demo' RETURNING id", 0, NULL, form, sizeof(form)) ||
		    publish(a, form, demo_definition, ver, sizeof(ver)))
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
	rc = policy_apply(a, &st, &d, 0);
	policygov_doc_free(&d);
	policygov_state_free(&st);
	if (rc != 0 || demo_approver(a, approver))
		return 1;
	if (q1(a, "SELECT coalesce((SELECT a.id::text FROM agents a JOIN orgs o ON o.id = a.org_id"
	    " WHERE o.slug = 'demo' AND a.name = 'demo-agent' LIMIT 1), '')", 0, NULL, agent, sizeof(agent)))
		return 1;
	if (agent[0] == '\0' && q1(a, "INSERT INTO agents (org_id, name) SELECT id, 'demo-agent'"
	    " FROM orgs WHERE slug = 'demo' RETURNING id", 0, NULL, agent, sizeof(agent)))
		return 1;
	if (key_create(a, agent, "commands:write,commands:read", "30", key, kid, sizeof(kid)))
		return 1;
	/*
	 * A key is shown once, so the previous run's cannot be handed out
	 * again: it is revoked instead, and only the key printed now works.
	 */
	if (q1(a, "WITH r AS (UPDATE api_keys SET revoked_at = now() WHERE agent_id = $1"
	    "   AND id <> $2 AND revoked_at IS NULL RETURNING id, org_id, agent_id, prefix),"
	    " a AS (" AUDIT_INSERT_SELECT("r.org_id", "$3", "'api_key.revoked'", "r.id::text",
	    "jsonb_build_object('agent_id', r.agent_id, 'prefix', r.prefix, 'cli_user', $4::text)",
	    "r") ")"
	    " SELECT count(*) FROM r", 4,
	    (const char *[]){ agent, kid, AUDIT_ACTOR_OPERATOR, a->actor }, ver, sizeof(ver))) {
		sodium_memzero(key, sizeof(key));
		return 1;
	}
	printf("{\"org\":\"demo\",\"form_id\":\"%s\",\"agent_id\":\"%s\",\"api_key\":\"%s\","
	    "\"revoked_keys\":%s,\"approver_id\":\"%s\",\"approver_slack\":\"%s\"}\n", form, agent,
	    key, ver, approver, DEMO_SLACK_USER);
	sodium_memzero(key, sizeof(key));
	return 0;
}

/*
 * An app (lib/route.h) around the CLI's connection and settings, with the
 * seal keyring loaded, for the library calls that take one.  The settings
 * are borrowed: admin_app_close frees only what it opened.
 */
static int
admin_app_open(struct admin *a, struct app *app)
{
	char	 err[512] = "";
	int	 rc;

	memset(app, 0, sizeof(*app));
	app->settings = a->s;
	app->db = a->db;
	rc = keyring_open(&app->keys, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK || app_keys(app) == NULL) {
		keyring_close(&app->keys);
		memset(app, 0, sizeof(*app));
		return fail("cannot load the seal keyring: %s", err[0] ? err : errs_name(rc));
	}
	return 0;
}

static void
admin_app_close(struct app *app)
{
	keyring_close(&app->keys);
	memset(app, 0, sizeof(*app));
}

/* A user and its audit row user.created, committed together. */
static int
user_create_audited(struct admin *a, struct app *app, const char *org, const char *email,
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
 * The demo tenant's approver: the person linked to DEMO_SLACK_USER, made
 * once (approver@demo.example, a random password nobody is told: this
 * person decides from Slack only).  Its id in `id`.
 */
static int
demo_approver(struct admin *a, char id[40])
{
	struct app	 app;
	char		 org[32], pw[48];
	int		 rc;

	if (q1(a, "SELECT coalesce((SELECT u.id::text FROM users u JOIN orgs o ON o.id = u.org_id"
	    " WHERE o.slug = 'demo' AND u.slack_user_id = $1 LIMIT 1), '')", 1,
	    (const char *[]){ DEMO_SLACK_USER }, id, 40))
		return 1;
	if (id[0] != '\0')
		return 0;
	if (q1(a, "SELECT id::text FROM orgs WHERE slug = 'demo'", 0, NULL, org, sizeof(org)) ||
	    admin_app_open(a, &app))
		return 1;
	util_random_token(pw, sizeof(pw), 24);
	rc = user_create_audited(a, &app, org, "approver@demo.example", pw, strlen(pw), "approver",
	    id);
	sodium_memzero(pw, sizeof(pw));
	admin_app_close(&app);
	if (rc == CB_ERR_DB_CONFLICT)
		return fail("approver@demo.example exists but is not linked to Slack member "
		    DEMO_SLACK_USER ": cb-admin user-slack USER_ID " DEMO_SLACK_USER);
	if (rc != CB_OK)
		return fail("cannot create the demo approver: %s %s", errs_name(rc), db_errmsg(a->db));
	return q1(a, "UPDATE users SET slack_user_id = $2 WHERE id = $1::uuid RETURNING id", 2,
	    (const char *[]){ id, DEMO_SLACK_USER }, id, 40);
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

static int
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
	if (q1(a, "SELECT coalesce((SELECT id::text FROM orgs WHERE slug = $1), '')", 1,
	    (const char *[]){ argv[0] }, org, sizeof(org)))
		return 1;
	if (org[0] == '\0')
		return fail("no organisation with slug %s", argv[0]);
	if ((pwlen = read_password(pw, sizeof(pw))) < 0)
		return 1;
	if (admin_app_open(a, &app)) {
		sodium_memzero(pw, sizeof(pw));
		return 1;
	}
	rc = user_create_audited(a, &app, org, argv[1], pw, (size_t)pwlen, argv[2], id);
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
static int
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
static int
cmd_user_slack(struct admin *a, int argc, char **argv)
{
	const char	*slack;
	char		 id[40];
	size_t		 i, n;

	if (argc != 2 || !util_uuid_ok(argv[0]))
		return fail("usage: user-slack USER_ID SLACK_USER_ID|-");
	slack = strcmp(argv[1], "-") == 0 ? NULL : argv[1];
	n = slack ? strlen(slack) : 0;
	for (i = 0; i < n; i++)
		if (!((slack[i] >= 'A' && slack[i] <= 'Z') || (slack[i] >= '0' && slack[i] <= '9')))
			break;
	if (slack && (n < 3 || n > 20 || i != n || (slack[0] != 'U' && slack[0] != 'W')))
		return fail("SLACK_USER_ID must be a Slack member id (U or W, then A-Z 0-9)");
	if (q1(a, "UPDATE users SET slack_user_id = $2 WHERE id = $1::uuid RETURNING id", 2,
	    (const char *[]){ argv[0], slack }, id, sizeof(id)))
		return 1;
	printf("{\"user_id\":\"%s\",\"slack_user_id\":%s%s%s}\n", id, slack ? "\"" : "",
	    slack ? slack : "null", slack ? "\"" : "");
	return 0;
}

static int
cmd_signing_key_rotate(struct admin *a, int argc, char **argv)
{
	struct signkeys_rotation res;
	struct app		 app;
	long long		 lead = SIGNKEYS_LEAD_S, retired = 0;
	int			 i, rc, wait = 0, tries, waited = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if (strcmp(argv[i], "--lead") == 0 && i + 1 < argc &&
		    util_parse_ll(argv[i + 1], SIGNKEYS_LEAD_MIN_S, 86400, &lead) == CB_OK)
			i++;
		else
			return fail("usage: signing-key-rotate [--lead SECONDS (%d..86400)] [--wait]",
			    SIGNKEYS_LEAD_MIN_S);
	}
	if (admin_app_open(a, &app))
		return 1;
	for (tries = 0; ; tries++) {
		rc = signkeys_rotate(a->db, app_keys(&app), a->s.access_ttl_s, (int)lead, &res);
		retired += res.retired;
		if (rc != CB_ERR_CONFLICT || res.wait_s <= 0 || !wait || tries == 3)
			break;
		/* The next key is too young for verifiers' caches: let it age. */
		fprintf(stderr, "cb-admin: next key %s published less than %llds ago;"
		    " waiting %ds\n", res.next, lead, res.wait_s);
		sleep((unsigned)res.wait_s);
		waited += res.wait_s;
	}
	admin_app_close(&app);
	if (rc == CB_ERR_CONFLICT && res.wait_s > 0)
		return fail("the next key %s has been published for less than %llds: verifiers"
		    " may not hold it yet; retry in %ds (or pass --wait)", res.next, lead, res.wait_s);
	if (rc != CB_OK)
		return fail("rotation failed: %s %s", errs_name(rc), db_errmsg(a->db));
	if (res.bootstrapped) {
		printf("{\"bootstrapped\":true,\"active\":\"%s\",\"next\":\"%s\"}\n",
		    res.active, res.next);
		return 0;
	}
	printf("{\"active\":\"%s\",\"retiring\":\"%s\",\"retire_after\":\"%s\",\"next\":\"%s\","
	    "\"retired\":%lld,\"waited_s\":%d}\n", res.active, res.retiring, res.retire_after,
	    res.next, retired, waited);
	return 0;
}

static int
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

/*
 * data-key-rotate PURPOSE: a new current data key for "pii" or "tokens".
 * Old keys stay loadable, so every value still opens; running processes
 * seal new values under the new key within KEYRING_CHECK_MS.  Then run
 * `reseal` to move the existing values.
 */
static int
cmd_data_key_rotate(struct admin *a, int argc, char **argv)
{
	struct keyring	 k;
	char		 err[512] = "";
	int		 id = 0, rc;

	if (argc != 1 || keyring_purpose(argv[0]) < 0)
		return fail("usage: data-key-rotate pii|tokens");
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	rc = keyring_rotate(&k, a->db, argv[0], &id);
	keyring_close(&k);
	if (rc != CB_OK)
		return fail("data-key-rotate %s: %s", argv[0], errs_name(rc));
	/* The new key is tagged with this deployment's region (docs/residency.md). */
	snprintf(err, sizeof(err), "%d", id);
	if (a->s.region != NULL && a->s.region[0] != '\0' &&
	    db_exec(a->db, "UPDATE data_keys SET region = $3 WHERE purpose = $1 AND id = $2::int", 3,
	    (const char *[]){ argv[0], err, a->s.region }) != CB_OK)
		return fail("data-key-rotate %s: the key was made but not tagged with region %s: %s",
		    argv[0], a->s.region, db_errmsg(a->db));
	/* argv[0] is "pii" or "tokens" (checked above), the region one of the table's. */
	printf("{\"purpose\":\"%s\",\"key_id\":%d,\"state\":\"current\",\"region\":", argv[0],
	    id);
	if (a->s.region != NULL && a->s.region[0] != '\0')
		printf("\"%s\"}\n", a->s.region);
	else
		printf("null}\n");
	return 0;
}

/*
 * key-ages: every key in use and its age (KEYRING_AGES_SQL); a line names
 * each one older than CB_KEY_WARN_DAYS, and the exit status is 3 then, so
 * a scheduled job can raise it.  Rotation: data-key-rotate then reseal for
 * a data key, signing-key-rotate for the signing key (docs/runbook.md).
 */
static int
cmd_key_ages(struct admin *a, int argc, char **argv)
{
	struct db_res	*res = NULL;
	size_t		 i;
	double		 days;
	int		 old = 0, due;

	(void)argv;
	if (argc != 0)
		return fail("usage: key-ages");
	if (db_query(a->db, &res, KEYRING_AGES_SQL, 0, NULL) != CB_OK)
		return fail("key-ages: %s", db_errmsg(a->db));
	printf("%-8s %-8s %-7s %-24s %8s\n", "KIND", "PURPOSE", "REGION", "KEY", "AGE_DAYS");
	for (i = 0; i < db_rows(res); i++) {
		days = strtod(db_val(res, i, 4), NULL) / 86400.0;
		due = days > (double)a->s.key_warn_days;
		printf("%-8s %-8s %-7s %-24s %8.1f%s\n", db_val(res, i, 0), db_val(res, i, 1),
		    db_val(res, i, 2)[0] ? db_val(res, i, 2) : "-", db_val(res, i, 3), days,
		    due ? "  ROTATE" : "");
		old += due;
	}
	db_res_free(res);
	if (old > 0) {
		fprintf(stderr, "key-ages: %d key(s) older than %lld days (CB_KEY_WARN_DAYS): rotate"
		    " them (data-key-rotate and reseal; signing-key-rotate)\n", old,
		    a->s.key_warn_days);
		return 3;
	}
	return 0;
}

static void
reseal_progress(const char *table, long done, long total, void *ud)
{
	(void)ud;
	/* stdout carries the one JSON answer; progress goes to stderr. */
	fprintf(stderr, "reseal: %s %ld/%ld\n", table, done, total);
}

/*
 * reseal [BATCH]: move every sealed value onto its purpose's current data
 * key, BATCH rows at a time, while the service runs.  Safe to interrupt
 * and to run again.
 */
static int
cmd_reseal(struct admin *a, int argc, char **argv)
{
	struct keyring	 k;
	struct db_res	*res = NULL;
	char		 err[512] = "";
	long long	 batch = RESEAL_BATCH_DEFAULT, age_ms = 0;
	long		 retired = 0, stale = 0;
	int		 rc;

	if (argc > 1 || (argc == 1 &&
	    util_parse_ll(argv[0], 1, RESEAL_BATCH_MAX, &batch) != CB_OK))
		return fail("usage: reseal [BATCH]  (1..%d rows per batch)", RESEAL_BATCH_MAX);
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	/*
	 * Right after a rotation, running processes may still seal under the
	 * previous key for up to KEYRING_CHECK_MS: wait that out, so this run
	 * also catches what they wrote meanwhile.
	 */
	if (db_query(a->db, &res, "SELECT coalesce(floor(extract(epoch FROM now() - max(created_at))"
	    " * 1000), 1e9)::bigint FROM data_keys WHERE state = 'current'", 0, NULL) == CB_OK &&
	    db_rows(res) == 1)
		(void)util_parse_ll(db_val(res, 0, 0), -(1LL << 40), 1LL << 40, &age_ms);
	db_res_free(res);
	if (age_ms < (long long)KEYRING_CHECK_MS + 1000) {
		long long	 wait_ms = (long long)KEYRING_CHECK_MS + 1000 - age_ms;
		struct timespec	 ts = { (time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L };

		fprintf(stderr, "reseal: waiting %lld ms for running processes to load the new key\n",
		    wait_ms);
		nanosleep(&ts, NULL);
	}
	rc = reseal_run(a->db, &k, (int)batch, reseal_progress, NULL);
	if (rc == CB_OK)
		rc = reseal_retire(a->db, &k, &retired, &stale);
	keyring_close(&k);
	if (rc == CB_ERR_CRYPTO)
		return fail("reseal: some values do not open and were left as they are"
		    " (reseal_unopenable lines above name their table and key)");
	if (rc != CB_OK)
		return fail("reseal: %s", errs_name(rc));
	if (stale > 0)
		fprintf(stderr, "reseal: %ld values were written under an older key meanwhile;"
		    " run reseal again to retire it\n", stale);
	printf("{\"resealed\":true,\"retired_keys\":%ld,\"stale_values\":%ld}\n", retired, stale);
	return 0;
}

/*
 * audit verify: walk the audit trail's hash chain from its first row and
 * name the first row altered, removed or moved (exit 1), else print what
 * was verified (exit 0).  Rows not sealed yet are counted, not covered.
 */
static int
cmd_audit(struct admin *a, int argc, char **argv)
{
	struct audit_report	 r;
	int			 rc;

	if (argc != 1 || strcmp(argv[0], "verify") != 0)
		return fail("usage: audit verify");
	rc = audit_verify(a->db, &r);
	if (rc == CB_ERR_CRYPTO) {
		if (r.bad_id > 0)
			return fail("audit: the chain is broken at chain_seq %lld (row id %lld): %s",
			    r.bad_seq, r.bad_id, r.why);
		return fail("audit: the chain is broken at chain_seq %lld: %s", r.bad_seq, r.why);
	}
	if (rc != CB_OK)
		return fail("audit: cannot read the trail: %s", errs_name(rc));
	printf("{\"verified\":true,\"rows\":%lld,\"unsealed\":%lld,\"head_seq\":%lld,"
	    "\"head_hash\":\"%s\"}\n", r.rows, r.unsealed, r.head_seq, r.head_hash);
	return 0;
}

/* ORG as a slug or an id -> the org id; a slug wins over an id. */
static int
org_resolve(struct admin *a, const char *org, char *id, size_t idsz)
{
	if (q1(a, "SELECT coalesce((SELECT id::text FROM orgs WHERE slug = $1 OR id::text = $1"
	    " ORDER BY slug = $1 DESC LIMIT 1), '')", 1, (const char *[]){ org }, id, idsz))
		return 1;
	if (id[0] == '\0')
		return fail("no organisation %s", org);
	return 0;
}

static void
print_json(cJSON *o)
{
	char	*text = cJSON_PrintUnformatted(o);

	if (text == NULL)
		util_oom();
	printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static int
dead_letters_list(struct admin *a, const char *org, int argc, char **argv)
{
	struct deadletter_page	 page;
	const char		*kind = NULL, *cursor = NULL;
	long long		 limit = DEADLETTER_LIMIT_DEFAULT;
	int			 i, rc;

	for (i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--kind") == 0 && deadletter_kind_ok(argv[i + 1]))
			kind = argv[i + 1];
		else if (strcmp(argv[i], "--cursor") == 0 && deadletter_cursor_ok(argv[i + 1]))
			cursor = argv[i + 1];
		else if (strcmp(argv[i], "--limit") != 0 ||
		    util_parse_ll(argv[i + 1], 1, DEADLETTER_LIMIT_MAX, &limit) != CB_OK)
			break;
	}
	if (i != argc)
		return fail("usage: dead-letters list ORG [--kind KIND] [--cursor CURSOR]"
		    " [--limit 1..%d]", DEADLETTER_LIMIT_MAX);
	if ((rc = deadletter_list(a->db, org, kind, cursor, limit, &page)) != CB_OK)
		return fail("dead-letters list: %s %s", errs_name(rc), db_errmsg(a->db));
	print_json(deadletter_page_json(&page));
	deadletter_page_free(&page);
	return 0;
}

/*
 * dead-letters list|show|replay|discard ORG ...: see the top of the file.
 * Replay and discard are audited like the admin routes' (the configured
 * log level applies, so the audit line is not hidden by the CLI's quiet
 * default).
 */
static int
cmd_dead_letters(struct admin *a, int argc, char **argv)
{
	struct deadletter	 d;
	enum log_level		 lvl;
	const char		*event = NULL;
	char			 org[24];
	int			 rc;

	if (argc < 2)
		return fail("usage: dead-letters list ORG [--kind KIND] [--cursor CURSOR] [--limit N]"
		    " | dead-letters show|replay|discard ORG ID");
	if (org_resolve(a, argv[1], org, sizeof(org)))
		return 1;
	if (strcmp(argv[0], "list") == 0)
		return dead_letters_list(a, org, argc - 2, argv + 2);
	if (argc != 3)
		return fail("usage: dead-letters %s ORG ID", argv[0]);
	if (log_level_parse(a->s.log_level, &lvl) == 0)
		log_set_min(lvl);
	if (strcmp(argv[0], "show") == 0)
		rc = deadletter_show(a->db, org, argv[2], &d);
	else if (strcmp(argv[0], "replay") == 0) {
		rc = deadletter_replay(a->db, org, argv[2], AUDIT_ACTOR_OPERATOR, &d);
		event = "dead_letter_replayed";
	} else if (strcmp(argv[0], "discard") == 0) {
		rc = deadletter_discard(a->db, org, argv[2], AUDIT_ACTOR_OPERATOR, &d);
		event = "dead_letter_discarded";
	} else
		return fail("dead-letters: list, show, replay or discard");
	if (rc == CB_ERR_NOT_FOUND)
		return fail("no dead letter %s in organisation %s", argv[2], argv[1]);
	if (rc == CB_ERR_CONFLICT)
		return fail("dead letter %s is %s, not dead", d.id, d.state);
	if (rc != CB_OK)
		return fail("dead-letters %s: %s %s", argv[0], errs_name(rc), db_errmsg(a->db));
	if (event)
		deadletter_audit(event, &d, a->actor);
	if (strcmp(argv[0], "replay") == 0) {
		/* Wake the worker; a lost wake-up only waits for its sweep. */
		struct kv	*kv = kv_open(a->s.redis_host, (int)a->s.redis_port,
		    a->s.redis_password, (int)a->s.redis_timeout_ms);

		kv_publish(kv, DEADLETTER_WAKE_CHANNEL, DEADLETTER_WAKE_MESSAGE);
		kv_close(kv);
	}
	print_json(deadletter_json(&d));
	return 0;
}

/*
 * sf-contact-forget ORG PHONE: a contact event.  The cached answer to "which
 * Contact has this number" (lib/ccache.h) is dropped, so the next call
 * activity from the number is linked by a fresh query: run it after a
 * contact is created, renumbered, merged or deleted in the tenant's org.
 */
static int
cmd_sf_contact_forget(struct admin *a, int argc, char **argv)
{
	struct kv	*kv;
	char		 org[24], e164[PHONE_E164_BUFSZ], key[CCACHE_KEY_MAX];
	int		 rc;

	if (argc != 2)
		return fail("usage: sf-contact-forget ORG PHONE");
	if (phone_e164(argv[1], NULL, e164) != CB_OK)
		return fail("sf-contact-forget: PHONE must be an international number "
		    "(+ and the country code)");
	if (org_resolve(a, argv[0], org, sizeof(org)))
		return 1;
	if (ccache_key(key, a->s.blind_index_key, org, e164) != CB_OK)
		return fail("sf-contact-forget: the blind index key is not 64 hex characters");
	kv = kv_open(a->s.redis_host, (int)a->s.redis_port, a->s.redis_password,
	    (int)a->s.redis_timeout_ms);
	rc = ccache_forget(kv, key);
	kv_close(kv);
	sodium_memzero(e164, sizeof(e164));
	if (rc != CB_OK)
		return fail("sf-contact-forget: Redis: %s", errs_name(rc));
	/* The number is personal data: not echoed. */
	printf("{\"org_id\":%s,\"forgotten\":true}\n", org);
	return 0;
}

/*
 * capacity: the planner's arithmetic (lib/capacity.h), no database.  Input
 * errors exit 2 with the option named; the figures are one JSON object.
 */
struct capacity_opt {
	const char	*name;
	long long	 min, max;
	long long	*to;
	int		 seen;
};

static double
round2(double v)
{
	return (double)(long long)(v * 100.0 + 0.5) / 100.0;
}

static void
add_num(cJSON *o, const char *k, double v)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		util_oom();
}

static int
cmd_capacity(struct admin *a, int argc, char **argv)
{
	struct capacity_in	 in;
	struct capacity_out	 r;
	long long		 calls = 0, events = 0, rate = CAPACITY_INBOUND_EPS;
	struct capacity_opt	 opts[] = {
		{ "--calls-per-hour", 1, CAPACITY_CALLS_MAX, &calls, 0 },
		{ "--events-per-call", 1, CAPACITY_EVENTS_MAX, &events, 0 },
		{ "--allocation", 1, CAPACITY_ALLOCATION_MAX, &in.allocation, 0 },
		{ "--batch", 1, 200, &in.batch, 0 },
		{ "--call-seconds", 0, 86400, &in.call_s, 0 },
		{ "--inbound-rate", 1, 10000000, &rate, 0 },
	};
	const size_t		 nopts = sizeof(opts) / sizeof(opts[0]);
	cJSON			*o, *sf, *al, *ib, *as;
	char			*text, src[160];
	size_t			 j;
	int			 i;

	memset(&in, 0, sizeof(in));
	in.allocation = CAPACITY_ALLOCATION_DEFAULT;
	in.batch = a->s.sf_batch;
	for (i = 0; i < argc; i += 2) {
		for (j = 0; j < nopts && strcmp(argv[i], opts[j].name) != 0; j++)
			;
		if (j == nopts) {
			fail("capacity: unknown option %.64s", argv[i]);
			return 2;
		}
		if (opts[j].seen++) {
			fail("capacity: %s given twice", opts[j].name);
			return 2;
		}
		if (i + 1 >= argc || util_parse_ll(argv[i + 1], opts[j].min, opts[j].max,
		    opts[j].to) != CB_OK) {
			fail("capacity: %s takes a whole number from %lld to %lld%s", opts[j].name,
			    opts[j].min, opts[j].max, j == 1 ? " (a call's distinct event types: "
			    "call_started, call_ended, transfer_initiated, disposition_set, timeout)" :
			    "");
			return 2;
		}
	}
	if (!opts[0].seen || !opts[1].seen) {
		fail("usage: capacity --calls-per-hour N --events-per-call M "
		    "[--allocation DAILY_API_CALLS] [--batch B] [--call-seconds S] "
		    "[--inbound-rate EVENTS_PER_S]");
		return 2;
	}
	in.calls_per_hour = calls;
	in.events_per_call = events;
	in.contact_ttl_s = a->s.sf_contact_ttl_s;
	in.token_life_s = a->s.sf_session_s - a->s.sf_refresh_margin_s;
	in.inbound_eps = (double)rate;
	capacity_plan(&in, &r);

	if ((o = cJSON_CreateObject()) == NULL || (sf = cJSON_CreateObject()) == NULL ||
	    (al = cJSON_CreateObject()) == NULL || (ib = cJSON_CreateObject()) == NULL ||
	    (as = cJSON_CreateArray()) == NULL)
		util_oom();
	add_num(o, "calls_per_hour", (double)calls);
	add_num(o, "events_per_call", (double)events);
	add_num(o, "events_per_hour", (double)r.events_per_hour);
	add_num(o, "events_per_second", round2(r.events_per_second));
	add_num(o, "events_per_day", (double)r.events_per_day);
	add_num(sf, "batch", (double)in.batch);
	add_num(sf, "upsert_calls_unbatched", (double)r.upserts_unbatched);
	add_num(sf, "upsert_calls_batched", (double)r.upserts_batched);
	add_num(sf, "contact_ttl_s", (double)in.contact_ttl_s);
	add_num(sf, "contact_lookups_per_call", (double)r.lookups_per_call);
	add_num(sf, "contact_lookups", (double)r.lookups);
	add_num(sf, "token_mints", (double)r.token_mints);
	add_num(sf, "api_calls_unbatched", (double)r.total_unbatched);
	add_num(sf, "api_calls_batched", (double)r.total_batched);
	cJSON_AddItemToObject(o, "salesforce_per_day", sf);
	add_num(al, "daily_api_calls", (double)in.allocation);
	if (cJSON_AddStringToObject(al, "source", opts[2].seen ? "--allocation" :
	    "default: 100,000, the base of the allocation formula (Enterprise adds 1,000 a "
	    "licence)") == NULL)
		util_oom();
	add_num(al, "share_unbatched_pct", round2(r.share_unbatched_pct));
	add_num(al, "share_batched_pct", round2(r.share_batched_pct));
	if (cJSON_AddBoolToObject(al, "fits_batched", r.total_batched <= in.allocation) == NULL ||
	    cJSON_AddBoolToObject(al, "fits_unbatched", r.total_unbatched <= in.allocation) == NULL)
		util_oom();
	cJSON_AddItemToObject(o, "allocation", al);
	add_num(ib, "events_per_second", (double)rate);
	snprintf(src, sizeof(src), "%s", opts[5].seen ? "--inbound-rate" :
	    "measured " CAPACITY_INBOUND_MEASURED);
	if (cJSON_AddStringToObject(ib, "source", src) == NULL)
		util_oom();
	add_num(ib, "headroom", round2(r.headroom));
	cJSON_AddItemToObject(o, "inbound", ib);
	cJSON_AddItemToObject(o, "assumptions", as);
	cJSON_AddItemToArray(as, cJSON_CreateString("one Salesforce record per event; batched "
	    "means full Collections calls (a busy outbox): an idle one sends smaller batches, up "
	    "to one call per event"));
	cJSON_AddItemToArray(as, cJSON_CreateString("every call's caller is new (no repeat "
	    "callers); the contact cache answers a call's later events until CB_SF_CONTACT_TTL_S "
	    "lapses (--call-seconds: the call's length; 0: within it)"));
	cJSON_AddItemToArray(as, cJSON_CreateString("a token is minted every CB_SF_SESSION_S "
	    "less CB_SF_REFRESH_MARGIN_S; OAuth token requests are not charged to the daily REST "
	    "allocation, so they are listed and not added"));
	cJSON_AddItemToArray(as, cJSON_CreateString("headroom: the broker's inbound throughput "
	    "over the event rate, for an even rate (a peak hour needs its own figure)"));
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		util_oom();
	printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
	return 0;
}

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
/* The data keys, for a command that seals or opens a secret. */
static struct seal_keyring *
admin_keys(struct admin *a, struct keyring *k)
{
	struct seal_keyring	*kr;
	char			 err[512] = "";

	if (keyring_open(k, a->db, a->s.seal_root_key_file, err, sizeof(err)) != CB_OK ||
	    (kr = keyring_get(k, a->db)) == NULL) {
		fail("cannot load the data keys: %s", err[0] ? err : "keyring unavailable");
		return NULL;
	}
	return kr;
}

/* call-source-add ORG NAME [--country-code CC]: the secret is shown once. */
static int
cmd_call_source_add(struct admin *a, int argc, char **argv)
{
	struct seal_keyring	*kr;
	struct keyring		 k;
	char			 id[37], secret[STDWH_SECRET_BUFSZ];
	const char		*cc = NULL;
	cJSON			*o;
	char			*text;
	int			 rc;

	if (argc == 4 && strcmp(argv[2], "--country-code") == 0)
		cc = argv[3];
	else if (argc != 2)
		return fail("usage: call-source-add ORG NAME [--country-code CC]");
	if (cc != NULL && !calls_cc_ok(cc))
		return fail("--country-code: 1 to 3 digits, not starting with 0 (e.g. 1, 44)");
	memset(&k, 0, sizeof(k));
	if ((kr = admin_keys(a, &k)) == NULL) {
		keyring_close(&k);
		return 1;
	}
	rc = calls_source_create(a->db, kr, argv[0], argv[1], cc, id, secret);
	keyring_close(&k);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("call-source-add: no such organisation");
	if (rc == CB_ERR_CONFLICT)
		return fail("call-source-add: the organisation has a source of that name");
	if (rc == CB_ERR_VALIDATION)
		return fail("call-source-add: NAME must be 1 to %d bytes of UTF-8", CALLS_NAME_MAX);
	if (rc != CB_OK)
		return fail("call-source-add: %s", errs_name(rc));
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "source_id", id) == NULL ||
	    cJSON_AddStringToObject(o, "name", argv[1]) == NULL ||
	    (cc ? cJSON_AddStringToObject(o, "country_code", cc) :
	    cJSON_AddNullToObject(o, "country_code")) == NULL ||
	    cJSON_AddStringToObject(o, "secret", secret) == NULL ||
	    (text = cJSON_PrintUnformatted(o)) == NULL)
		util_oom();
	printf("%s\n", text);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(text, strlen(text));
	free(text);
	cJSON_Delete(o);
	return 0;
}

/* call-source-rotate SOURCE_ID: the new secret; the old one until the overlap ends. */
static int
cmd_call_source_rotate(struct admin *a, int argc, char **argv)
{
	struct seal_keyring	*kr;
	struct keyring		 k;
	char			 secret[STDWH_SECRET_BUFSZ], until[32];
	int			 rc;

	if (argc != 1 || !util_uuid_ok(argv[0]))
		return fail("usage: call-source-rotate SOURCE_ID");
	memset(&k, 0, sizeof(k));
	if ((kr = admin_keys(a, &k)) == NULL) {
		keyring_close(&k);
		return 1;
	}
	rc = calls_source_rotate(a->db, kr, argv[0], a->s.call_secret_overlap_s, secret, until);
	keyring_close(&k);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("call-source-rotate: no such call source");
	if (rc != CB_OK)
		return fail("call-source-rotate: %s", errs_name(rc));
	/* The id was checked as a uuid, the secret is base64, until is a timestamp. */
	printf("{\"source_id\":\"%s\",\"secret\":\"%s\",\"previous_secret_valid_until\":",
	    argv[0], secret);
	if (until[0] != '\0')
		printf("\"%s\"}\n", until);
	else
		printf("null}\n");
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

static int
cmd_call_source_list(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	char	*text;
	int	 rc;

	if (argc != 1)
		return fail("usage: call-source-list ORG");
	if ((rc = calls_source_list(a->db, argv[0], &view)) != CB_OK)
		return fail("call-source-list: %s", errs_name(rc));
	if ((text = cJSON_PrintUnformatted(view)) == NULL)
		util_oom();
	printf("%s\n", text);
	free(text);
	cJSON_Delete(view);
	return 0;
}


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
	print_json(view);
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
static int
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
	if (command_file(a, argv[1], &pem) != 0)
		goto out;
	in.private_key = pem;
	if (org_resolve(a, argv[0], org, sizeof(org)))
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
	else if (rc != CB_OK)
		rc = fail("sf-connect: %s", errs_name(rc));
	else
		sf_print(view);
out:
	keyring_close(&k);
	sf_key_wipe(pem);
	cJSON_Delete(mapping);
	return rc;
}

/* sf-rotate ORG NEXT_KEY.pem: the next key, tried first during the overlap. */
static int
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
	if (command_file(a, argv[1], &pem) != 0 || org_resolve(a, argv[0], org, sizeof(org)) ||
	    (kr = admin_keys(a, &k)) == NULL)
		goto out;
	rc = sfconn_rotate(a->db, kr, &a->s, org, pem, AUDIT_ACTOR_OPERATOR, a->actor, &view,
	    why, sizeof(why));
	if (rc == CB_ERR_NOT_FOUND)
		rc = fail("sf-rotate: the tenant has no Salesforce connection of its own");
	else if (rc == CB_ERR_VALIDATION)
		rc = fail("sf-rotate: %s", why);
	else if (rc != CB_OK)
		rc = fail("sf-rotate: %s", errs_name(rc));
	else
		sf_print(view);
out:
	keyring_close(&k);
	sf_key_wipe(pem);
	return rc;
}

/* sf-list | sf-show ORG: never a key; each key's age, and a warning when due. */
static int
cmd_sf_list(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	int	 rc;

	(void)argv;
	if (argc != 0)
		return fail("usage: sf-list");
	if ((rc = sfconn_list(a->db, &a->s, &view)) != CB_OK)
		return fail("sf-list: %s", errs_name(rc));
	sf_print(view);
	return 0;
}

static int
cmd_sf_show(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	char	 org[32];
	int	 rc;

	if (argc != 1)
		return fail("usage: sf-show ORG");
	if (org_resolve(a, argv[0], org, sizeof(org)))
		return 1;
	if ((rc = sfconn_get(a->db, &a->s, org, &view)) == CB_ERR_NOT_FOUND)
		return fail("sf-show: %s has no Salesforce connection of its own (it delivers "
		    "through the default CB_SF_* connection)", argv[0]);
	if (rc != CB_OK)
		return fail("sf-show: %s", errs_name(rc));
	sf_print(view);
	return 0;
}

/*
 * subject-index [--rewrite] [BATCH]: the blind-index entries of rows
 * written before migration 0021 (lib/subject.h), so an erasure finds them
 * too.  Entries already there stay: it may run again at any time.  After a
 * rotation of the blind index key, --rewrite replaces every row's entries
 * with those under the new key.
 */
static int
cmd_subject_index(struct admin *a, int argc, char **argv)
{
	struct keyring		 k;
	struct seal_keyring	*kr;
	struct subject_backfill	 out;
	char			 err[512] = "";
	long long		 batch = 500;
	int			 rc, rewrite = 0;

	if (argc > 0 && strcmp(argv[0], "--rewrite") == 0) {
		rewrite = 1;
		argc--;
		argv++;
	}
	if (argc > 1 || (argc == 1 && util_parse_ll(argv[0], 1, 10000, &batch) != CB_OK))
		return fail("usage: subject-index [--rewrite] [BATCH]  (1..10000 rows per statement)");
	rc = keyring_open(&k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc != CB_OK || (kr = keyring_get(&k, a->db)) == NULL) {
		keyring_close(&k);
		return fail("cannot load the data keys: %s", err[0] ? err : errs_name(rc));
	}
	rc = subject_backfill(a->db, kr, a->s.blind_index_key, (int)batch, rewrite, &out);
	keyring_close(&k);
	if (rc != CB_OK && rc != CB_ERR_CRYPTO)
		return fail("subject-index: %s", errs_name(rc));
	printf("{\"submissions\":%ld,\"commands\":%ld,\"call_events\":%ld,\"entries\":%ld,"
	    "\"undecryptable\":%ld}\n", out.submissions, out.commands, out.call_events,
	    out.entries, out.undecryptable);
	if (rc == CB_ERR_CRYPTO)
		return fail("subject-index: %ld sealed values do not open: they are not indexed",
		    out.undecryptable);
	return 0;
}

/* org-region ORG REGION|-: pin a tenant to this deployment's region, or unpin it. */
static int
cmd_org_region(struct admin *a, int argc, char **argv)
{
	char	 org[32], why[400];
	int	 rc;

	if (argc != 2)
		return fail("usage: org-region ORG REGION|-   (REGION: %s)", region_list());
	if (org_resolve(a, argv[0], org, sizeof(org)))
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
	  "move every sealed value onto the current data keys, then retire the keys no value needs" },
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
	    read_file(argv[1 + admin_cmds[i].file_arg], &a.file) != 0)
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
