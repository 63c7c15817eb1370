/*
 * agents: see agents.h.  The audit row rides in the creating statement
 * (AUDIT_INSERT_SELECT over the inserted row), so there is no window in
 * which the agent exists unaudited.
 */
#include <stddef.h>

#include <sodium.h>

#include "agents.h"
#include "audit.h"
#include "db.h"
#include "errs.h"
#include "util.h"

int
agents_create(struct db *db, const char *org, const char *name, const char *actor,
    struct db_res **out)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);

	*out = NULL;
	return db_query_row(db, out, "WITH i AS (INSERT INTO agents (org_id, name)"
	    "   SELECT id, $2 FROM orgs WHERE id = $1::bigint"
	    "   RETURNING id, org_id, name, created_at, disabled_at),"
	    " l AS (" AUDIT_INSERT_SELECT("i.org_id", "$3", "'agent.created'", "i.id::text",
	    "jsonb_build_object('name', i.name) || " AUDIT_CLI_USER("$4"), "i") ")"
	    " SELECT " AGENTS_COLS " FROM i", 4, (const char *[]){ org, name, who, cli_user });
}

int
agents_find(struct db *db, const char *org, const char *name, char *id, size_t idsz)
{
	return db_value(db, "SELECT id FROM agents WHERE org_id = $1::bigint AND name = $2"
	    " ORDER BY created_at, id LIMIT 1", 2, (const char *[]){ org, name }, id, idsz);
}

int
agents_list(struct db *db, const char *org, struct db_res **out)
{
	*out = NULL;
	return db_query(db, out, "SELECT " AGENTS_COLS " FROM agents WHERE org_id = $1"
	    " ORDER BY created_at, id LIMIT 1000", 1, (const char *[]){ org });
}

int
agents_get(struct db *db, const char *org, const char *id, struct db_res **out)
{
	*out = NULL;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	return db_query_row(db, out, "SELECT " AGENTS_COLS " FROM agents"
	    " WHERE org_id = $1 AND id = $2", 2, (const char *[]){ org, id });
}

int
agents_key_issue(struct db *db, const char *pepper_hex, const char *org, const char *agent,
    const char *scopes_json, const char *days, const char *actor, char key[APIKEY_LEN + 1],
    struct db_res **out)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);
	char		 prefix[APIKEY_PREFIX_LEN + 1], hash[2 + 64 + 1];
	int		 rc;

	*out = NULL;
	if ((rc = apikey_new(pepper_hex, key, prefix, hash)) != CB_OK)
		return rc;
	rc = db_query_row(db, out, "WITH k AS (INSERT INTO api_keys (org_id, agent_id, prefix,"
	    "   key_hash, scopes, expires_at)"
	    "   SELECT a.org_id, a.id, $3, $4::bytea,"
	    "    CASE WHEN $5::json IS NULL THEN '" AGENTS_KEY_SCOPES_DEFAULT "'::text[]"
	    "         ELSE ARRAY(SELECT json_array_elements_text($5::json)) END,"
	    "    CASE WHEN $6::int > 0 THEN now() + make_interval(days => $6::int) END"
	    "   FROM agents a WHERE ($1::bigint IS NULL OR a.org_id = $1::bigint)"
	    "    AND a.id = $2::uuid AND a.disabled_at IS NULL"
	    "   RETURNING id, org_id, agent_id, prefix, scopes, expires_at, revoked_at, created_at),"
	    " l AS (" AUDIT_INSERT_SELECT("k.org_id", "$7", "'api_key.created'", "k.id::text",
	    "jsonb_build_object('agent_id', k.agent_id, 'prefix', k.prefix, 'scopes', k.scopes,"
	    "  'expires_at', " DB_TS("k.expires_at") ") || " AUDIT_CLI_USER("$8"), "k") ")"
	    " SELECT " AGENTS_KEY_COLS " FROM k", 8,
	    (const char *[]){ org, agent, prefix, hash, scopes_json, days, who, cli_user });
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int
agents_key_revoke(struct db *db, const char *org, const char *id, const char *actor,
    struct db_res **out)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);

	*out = NULL;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	/* Revoked already: the row as it is, no audit row (was_live false). */
	return db_query_row(db, out, "WITH was AS (SELECT id AS was_id,"
	    "   revoked_at IS NULL AS was_live FROM api_keys"
	    "   WHERE org_id = $1::bigint AND id = $2::uuid FOR UPDATE),"
	    " k AS (UPDATE api_keys u SET revoked_at = coalesce(u.revoked_at, now()) FROM was"
	    "   WHERE u.id = was.was_id RETURNING u.id, u.org_id, u.agent_id, u.prefix, u.scopes,"
	    "   u.expires_at, u.revoked_at, u.created_at, was.was_live),"
	    " l AS (" AUDIT_INSERT_SELECT("k.org_id", "$3", "'api_key.revoked'", "k.id::text",
	    "jsonb_build_object('agent_id', k.agent_id, 'prefix', k.prefix) || "
	    AUDIT_CLI_USER("$4"), "k WHERE k.was_live") ")"
	    " SELECT " AGENTS_KEY_COLS " FROM k", 4, (const char *[]){ org, id, who, cli_user });
}

int
agents_key_revoke_others(struct db *db, const char *agent, const char *keep, const char *actor,
    long long *n)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);
	struct db_res	*res = NULL;
	int		 rc;

	*n = 0;
	rc = db_query(db, &res, "WITH r AS (UPDATE api_keys SET revoked_at = now()"
	    "   WHERE agent_id = $1::uuid AND id <> $2::uuid AND revoked_at IS NULL"
	    "   RETURNING id, org_id, agent_id, prefix),"
	    " l AS (" AUDIT_INSERT_SELECT("r.org_id", "$3", "'api_key.revoked'", "r.id::text",
	    "jsonb_build_object('agent_id', r.agent_id, 'prefix', r.prefix) || "
	    AUDIT_CLI_USER("$4"), "r") ")"
	    " SELECT count(*) FROM r", 4, (const char *[]){ agent, keep, who, cli_user });
	if (rc == CB_OK)
		rc = util_parse_ll(db_val(res, 0, 0), 0, 1LL << 40, n);
	db_res_free(res);
	return rc;
}

int
agents_keys_list(struct db *db, const char *org, const char *agent, struct db_res **out)
{
	int	 rc;

	*out = NULL;
	if (!util_uuid_ok(agent))
		return CB_ERR_NOT_FOUND;
	rc = db_query(db, out, "SELECT " AGENTS_KEY_COLS ", a.id FROM agents a"
	    " LEFT JOIN api_keys k ON k.agent_id = a.id AND k.org_id = a.org_id"
	    " WHERE a.org_id = $1 AND a.id = $2 ORDER BY k.created_at, k.id", 2,
	    (const char *[]){ org, agent });
	if (rc == CB_OK && db_rows(*out) == 0)
		rc = CB_ERR_NOT_FOUND;	/* no such agent in this organisation */
	if (rc != CB_OK) {
		db_res_free(*out);
		*out = NULL;
	}
	return rc;
}
