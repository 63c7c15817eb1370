/*
 * agents: a tenant's agents and their API keys as stored: the one place
 * that creates an agent, issues a key, revokes keys and reads them, for the
 * admin routes (cgi/admin.c) and cb-admin alike.  Presenting a key is
 * lib/apikey.h's (apikey_verify); the key's text is made there too.
 *
 * Guarantees: reads and a revoke are filtered by the organisation given, so
 * another tenant's id reads as none; every change and its audit row
 * (agent.created {name}, api_key.created {agent_id, prefix, scopes,
 * expires_at}, api_key.revoked {agent_id, prefix}, each with "cli_user" for
 * cb-admin: lib/audit.h's audit_actor) are one statement, so they commit
 * together or not at all; a revoke of a revoked key writes no row.  The
 * key itself is never stored nor audited: only its prefix and keyed hash.
 */
#ifndef CB_AGENTS_H
#define CB_AGENTS_H

#include "apikey.h"
#include "db.h"

/* The columns every answer below has, in this order. */
#define AGENTS_COLS	"id, name, " DB_TS("created_at") ", " DB_TS("disabled_at")
enum { AGENTS_ID, AGENTS_NAME, AGENTS_CREATED_AT, AGENTS_DISABLED_AT };

/*
 * A new agent `name` of organisation `org` (its id), audited as `actor`
 * ("user:<id>" or "cli:<unix user>"); its row (AGENTS_COLS) in *out.
 * CB_ERR_NOT_FOUND: no such organisation.
 */
int	 agents_create(struct db *, const char *org, const char *name, const char *actor,
	    struct db_res **out);
/* The oldest agent `name` of organisation `org`: its id, or CB_ERR_NOT_FOUND. */
int	 agents_find(struct db *, const char *org, const char *name, char *id, size_t idsz);
/* The organisation's agents, oldest first, at most 1000. */
int	 agents_list(struct db *, const char *org, struct db_res **out);
/* One agent of the organisation: CB_ERR_NOT_FOUND for none (or a malformed id). */
int	 agents_get(struct db *, const char *org, const char *id, struct db_res **out);

/* An API key's columns in every answer below, in this order. */
#define AGENTS_KEY_COLS	"k.id, k.prefix, array_to_json(k.scopes)::text, " \
	DB_TS("k.expires_at") ", " DB_TS("k.revoked_at") ", " DB_TS("k.created_at") ", k.agent_id"
enum { AGENTS_KEY_ID, AGENTS_KEY_PREFIX, AGENTS_KEY_SCOPES, AGENTS_KEY_EXPIRES_AT,
	AGENTS_KEY_REVOKED_AT, AGENTS_KEY_CREATED_AT, AGENTS_KEY_AGENT_ID };

/* The scopes a key holds when none are asked for. */
#define AGENTS_KEY_SCOPES_DEFAULT	"{commands:write,commands:read}"

/*
 * A new API key of enabled agent `agent` (of organisation `org`; NULL: any),
 * with `scopes_json` (a JSON array of scope names; NULL: the default) and
 * expiring after `days` days ("0": never), audited as `actor`.  The key's
 * text in `key` (shown once, never stored), its row (AGENTS_KEY_COLS) in
 * *out.  CB_ERR_CONFIG: the pepper is not 64 hex characters;
 * CB_ERR_NOT_FOUND: no such enabled agent.
 */
int	 agents_key_issue(struct db *, const char *pepper_hex, const char *org, const char *agent,
	    const char *scopes_json, const char *days, const char *actor,
	    char key[APIKEY_LEN + 1], struct db_res **out);
/*
 * Revoke key `id` of organisation `org` (idempotent: revoked_at kept), audited
 * as `actor` when it was live; its row (AGENTS_KEY_COLS) in *out.
 * CB_ERR_NOT_FOUND: no such key in the organisation.
 */
int	 agents_key_revoke(struct db *, const char *org, const char *id, const char *actor,
	    struct db_res **out);
/* Revoke every live key of `agent` but `keep`, each audited; how many in *n. */
int	 agents_key_revoke_others(struct db *, const char *agent, const char *keep,
	    const char *actor, long long *n);
/*
 * The keys of agent `agent` of the organisation, oldest first, as
 * AGENTS_KEY_COLS and the agent's id: one row with a NULL key id for an
 * agent without keys.  CB_ERR_NOT_FOUND: no such agent.
 */
int	 agents_keys_list(struct db *, const char *org, const char *agent, struct db_res **out);

#endif
