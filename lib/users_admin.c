/*
 * users, the administrator's side (users.h): listing, reading, disabling a
 * tenant's users and linking one to Slack, for the admin routes and
 * cb-admin alike.  Reads are filtered by the organisation given; a disable,
 * the revocation of the user's sessions and its audit row are one statement.
 */
#include <stddef.h>

#include "audit.h"
#include "db.h"
#include "errs.h"
#include "users.h"
#include "util.h"

int
users_list(struct db *db, const char *org, struct db_res **out)
{
	*out = NULL;
	return db_query(db, out, "SELECT " USERS_COLS " FROM users WHERE org_id = $1"
	    " ORDER BY created_at, id LIMIT 1000", 1, (const char *[]){ org });
}

int
users_get(struct db *db, const char *org, const char *id, struct db_res **out)
{
	*out = NULL;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	return db_query_row(db, out, "SELECT " USERS_COLS " FROM users"
	    " WHERE org_id = $1 AND id = $2", 2, (const char *[]){ org, id });
}

int
users_disable(struct db *db, const char *org, const char *id, const char *actor,
    struct db_res **out)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);

	*out = NULL;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	/* Disabling also revokes every session of the user. */
	return db_query_row(db, out, "WITH was AS (SELECT id AS was_id,"
	    "   disabled_at IS NULL AS was_on FROM users"
	    "   WHERE org_id = $1::bigint AND id = $2::uuid FOR UPDATE),"
	    " u AS (UPDATE users d SET disabled_at = coalesce(d.disabled_at, now()) FROM was"
	    "   WHERE d.id = was.was_id RETURNING d.id, d.org_id, d.disabled_at, was.was_on),"
	    " t AS (UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())"
	    "   WHERE org_id = $1::bigint AND user_id IN (SELECT id FROM u)),"
	    " l AS (" AUDIT_INSERT_SELECT("u.org_id", "$3", "'user.disabled'", "u.id::text",
	    AUDIT_CLI_USER("$4"), "u WHERE u.was_on") ")"
	    " SELECT u.id, " DB_TS("u.disabled_at") " FROM u", 4,
	    (const char *[]){ org, id, who, cli_user });
}

int
users_set_slack(struct db *db, const char *id, const char *slack_user, char got[37])
{
	return db_value(db, "UPDATE users SET slack_user_id = $2 WHERE id = $1::uuid RETURNING id",
	    2, (const char *[]){ id, slack_user }, got, 37);
}

int
users_find_by_slack(struct db *db, const char *org, const char *slack_user, char id[37])
{
	return db_value(db, "SELECT id FROM users WHERE org_id = $1::bigint AND slack_user_id = $2"
	    " LIMIT 1", 2, (const char *[]){ org, slack_user }, id, 37);
}
