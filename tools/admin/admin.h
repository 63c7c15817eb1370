/*
 * cb-admin's shared parts: the state every command runs with, the helpers
 * the command families share (tools/admin/common.c) and each family's
 * commands, which tools/cb-admin.c's dispatch table names.  One file a
 * family: tenants.c (organisations, users), agents.c (agents, API keys,
 * mutual TLS), forms.c (forms, publishing, policies), demo.c, keys.c (data
 * and signing keys, resealing, the erasure index, the audit chain),
 * deadletters.c, calls.c (call sources, the contact cache), salesforce.c,
 * capacity.c; validate.c needs none of this (validate.h).
 *
 * Every command prints one JSON object on stdout and returns 0, or writes
 * "cb-admin: <why>" on stderr and returns non-zero (fail); what changes
 * data goes through the library, as the API's routes do, so the CLI and the
 * API write the same rows and audit them alike (actor "cli:<unix user>",
 * lib/audit.h's audit_actor).
 */
#ifndef CB_ADMIN_ADMIN_H
#define CB_ADMIN_ADMIN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "apikey.h"
#include "db.h"
#include "settings.h"

struct app;
struct keyring;
struct seal_keyring;

struct admin {
	struct settings	 s;
	struct db	*db;
	char		 actor[80];	/* "cli:<unix user>", who ran the command */
	char		*file;		/* the command's file, read as the caller */
};

/* "cb-admin: <message>" on stderr; returns 1, a command's failure. */
int	 fail(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * A library call's failure as the CLI has always said it: "not found" for
 * CB_ERR_NOT_FOUND, else Postgres's message.  Returns 1.
 */
int	 admin_db_fail(struct admin *, int rc);
/* A file whole (at most 1 MiB), NUL-ended; the caller frees it. */
int	 admin_read_file(const char *path, char **out);
/* The file a command names, read as the caller before the switch of user. */
int	 admin_command_file(struct admin *, const char *path, char **out);
/* "a,b,c" -> a JSON array text (the caller frees it). */
char	*admin_list_json(const char *csv);
/* ORG as a slug or an id -> the org id; a slug wins over an id. */
int	 admin_org_resolve(struct admin *, const char *org, char *id, size_t idsz);
/* Print a JSON object on one line and free it. */
void	 admin_print_json(cJSON *);
/* The same for an answer holding a secret: the printed text is wiped. */
void	 admin_print_secret(cJSON *);
/* An app around the CLI's connection and settings, the seal keyring loaded. */
int	 admin_app_open(struct admin *, struct app *);
void	 admin_app_close(struct app *);
/* The data keys, for a command that seals or opens a secret. */
struct seal_keyring *admin_keys(struct admin *, struct keyring *);

/* Shared between families (forms.c, agents.c, tenants.c for demo.c). */
int	 admin_check_definition(const char *text);
int	 admin_publish(struct admin *, const char *form_id, const char *def, char *ver,
	    size_t versz);
struct policygov_state;
struct policygov_doc;
int	 admin_policy_apply(struct admin *, struct policygov_state *, struct policygov_doc *,
	    int print);
int	 admin_key_create(struct admin *, const char *agent, const char *scopes, const char *days,
	    char key[APIKEY_LEN + 1], char *id, size_t idsz);
int	 admin_user_create(struct admin *, struct app *, const char *org, const char *email,
	    const char *pw, size_t pwlen, const char *role, char id[37]);

/* The commands: (state, arguments after the command's name). */
#define ADMIN_CMD(name)	int name(struct admin *, int, char **)
ADMIN_CMD(cmd_org_create);
ADMIN_CMD(cmd_org_plan);
ADMIN_CMD(cmd_org_region);
ADMIN_CMD(cmd_user_create);
ADMIN_CMD(cmd_reindex);
ADMIN_CMD(cmd_user_slack);
ADMIN_CMD(cmd_sessions_revoke);
ADMIN_CMD(cmd_form_create);
ADMIN_CMD(cmd_form_publish);
ADMIN_CMD(cmd_policy_set);
ADMIN_CMD(cmd_agent_create);
ADMIN_CMD(cmd_key_create);
ADMIN_CMD(cmd_agent_mtls);
ADMIN_CMD(cmd_key_mtls);
ADMIN_CMD(cmd_demo_seed);
ADMIN_CMD(cmd_signing_key_rotate);
ADMIN_CMD(cmd_data_key_rotate);
ADMIN_CMD(cmd_key_ages);
ADMIN_CMD(cmd_reseal);
ADMIN_CMD(cmd_subject_index);
ADMIN_CMD(cmd_audit);
ADMIN_CMD(cmd_dead_letters);
ADMIN_CMD(cmd_call_source_add);
ADMIN_CMD(cmd_call_source_rotate);
ADMIN_CMD(cmd_call_source_list);
ADMIN_CMD(cmd_sf_contact_forget);
ADMIN_CMD(cmd_sf_connect);
ADMIN_CMD(cmd_sf_rotate);
ADMIN_CMD(cmd_sf_list);
ADMIN_CMD(cmd_sf_show);
ADMIN_CMD(cmd_capacity);

#endif
