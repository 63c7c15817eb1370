/*
 * orgs: tenants (organisations) as stored, the one place that creates one,
 * sets its plan and finds one by what an operator types (cb-admin; the
 * demo seed).  Its region is lib/sfconn.h's (sfconn_set_region).
 *
 * Guarantees: a creation and its audit row org.created ({slug, name}), a
 * plan change and org.plan_set ({plan}), each with "cli_user" for cb-admin
 * (lib/audit.h's audit_actor), are one statement: they commit together.
 * Creating a slug that exists changes nothing, writes no row and answers
 * the existing id.
 */
#ifndef CB_ORGS_H
#define CB_ORGS_H

#include <stddef.h>

struct db;

/* The id (bigint as text) of organisation `slug`, made with `name` if none. */
int	 orgs_create(struct db *, const char *slug, const char *name, const char *actor,
	    char *id, size_t idsz);
/*
 * Set the plan of organisation `ref` (its slug or id) to `plan` (free, team,
 * enterprise: checked by the caller and the table).  CB_ERR_NOT_FOUND: none.
 */
int	 orgs_set_plan(struct db *, const char *ref, const char *plan, const char *actor,
	    char *id, size_t idsz);
/* The id of the organisation with this slug; CB_ERR_NOT_FOUND: none. */
int	 orgs_by_slug(struct db *, const char *slug, char *id, size_t idsz);
/* The id of organisation `ref`, a slug or an id (a slug wins); NOT_FOUND: none. */
int	 orgs_resolve(struct db *, const char *ref, char *id, size_t idsz);

#endif
