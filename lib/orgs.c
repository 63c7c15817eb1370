/*
 * orgs: see orgs.h.  Each function is one statement answering one value
 * (db_value).
 */
#include <stddef.h>

#include "audit.h"
#include "db.h"
#include "errs.h"
#include "orgs.h"

/* A change of two parameters, audited as `actor` ($3, $4): its one value. */
static int
orgs_change(struct db *db, const char *sql, const char *p1, const char *p2, const char *actor,
    char *id, size_t idsz)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);

	return db_value(db, sql, 4, (const char *[]){ p1, p2, who, cli_user }, id, idsz);
}

int
orgs_create(struct db *db, const char *slug, const char *name, const char *actor, char *id,
    size_t idsz)
{
	/* An existing slug answers its id, unchanged and not audited. */
	return orgs_change(db, "WITH i AS (INSERT INTO orgs (slug, name) VALUES ($1, $2)"
	    "   ON CONFLICT (slug) DO NOTHING RETURNING id, slug, name),"
	    " a AS (" AUDIT_INSERT_SELECT("i.id", "$3", "'org.created'", "i.id::text",
	    "jsonb_build_object('slug', i.slug, 'name', i.name) || " AUDIT_CLI_USER("$4"), "i") ")"
	    " SELECT id FROM i UNION ALL SELECT id FROM orgs WHERE slug = $1", slug, name, actor,
	    id, idsz);
}

int
orgs_set_plan(struct db *db, const char *ref, const char *plan, const char *actor, char *id,
    size_t idsz)
{
	return orgs_change(db, "WITH u AS (UPDATE orgs SET plan = $2 WHERE slug = $1 OR id::text = $1"
	    "   RETURNING id, plan),"
	    " a AS (" AUDIT_INSERT_SELECT("u.id", "$3", "'org.plan_set'", "u.id::text",
	    "jsonb_build_object('plan', u.plan) || " AUDIT_CLI_USER("$4"), "u") ")"
	    " SELECT id FROM u", ref, plan, actor, id, idsz);
}

int
orgs_by_slug(struct db *db, const char *slug, char *id, size_t idsz)
{
	return db_value(db, "SELECT id FROM orgs WHERE slug = $1", 1, (const char *[]){ slug },
	    id, idsz);
}

int
orgs_resolve(struct db *db, const char *ref, char *id, size_t idsz)
{
	return db_value(db, "SELECT id FROM orgs WHERE slug = $1 OR id::text = $1"
	    " ORDER BY slug = $1 DESC LIMIT 1", 1, (const char *[]){ ref }, id, idsz);
}
