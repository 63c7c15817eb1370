/*
 * forms, the administrator's side (forms.h): creating a form, publishing a
 * version and finding a form by name, for cb-admin.  Each change and its
 * audit row are one statement (a publish one transaction), so they commit
 * together; reads through the caches stay in forms.c.
 */
#include <stddef.h>

#include "audit.h"
#include "db.h"
#include "errs.h"
#include "forms.h"

int
forms_create(struct db *db, const char *org, const char *name, const char *sf_object,
    const char *sf_ext_field, const char *actor, char *id, size_t idsz)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);

	return db_value(db, "WITH i AS (INSERT INTO forms (org_id, name, sf_object, sf_ext_field)"
	    "   SELECT id, $2, coalesce($3, 'Form_Submission__c'),"
	    "   coalesce($4, 'Broker_Submission_Id__c') FROM orgs WHERE id = $1::bigint"
	    "   RETURNING id, org_id, name, sf_object),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$5", "'form.created'", "i.id::text",
	    "jsonb_build_object('name', i.name, 'sf_object', i.sf_object) || "
	    AUDIT_CLI_USER("$6"), "i") ")"
	    " SELECT id FROM i", 6,
	    (const char *[]){ org, name, sf_object, sf_ext_field, who, cli_user }, id, idsz);
}

int
forms_publish(struct db *db, const char *form_id, const char *def, const char *actor,
    char *ver, size_t versz)
{
	const char	*cli_user, *who = audit_actor(actor, &cli_user);
	int		 rc;

	/*
	 * The next version, the definition, the pointer and the audit row
	 * (the SHA-256 of the definition as stored: the row can be checked
	 * against form_versions) move together.
	 */
	if ((rc = db_begin(db)) != CB_OK)
		return rc;
	rc = db_value(db, "WITH n AS (SELECT coalesce(max(version), 0) + 1 AS v FROM form_versions"
	    "   WHERE form_id = $1),"
	    " i AS (INSERT INTO form_versions (form_id, version, org_id, definition)"
	    "   SELECT $1, n.v, f.org_id, $2::jsonb FROM n, forms f WHERE f.id = $1"
	    "   RETURNING form_id, version, org_id, definition),"
	    " a AS (" AUDIT_INSERT_SELECT("i.org_id", "$3", "'form.published'", "i.form_id::text",
	    "jsonb_build_object('version', i.version, 'definition_sha256',"
	    "   encode(sha256(convert_to(i.definition::text, 'UTF8')), 'hex')) || "
	    AUDIT_CLI_USER("$4"), "i") ")"
	    " UPDATE forms SET current_version = (SELECT version FROM i) WHERE id = $1"
	    " RETURNING current_version", 4, (const char *[]){ form_id, def, who, cli_user }, ver,
	    versz);
	if (rc == CB_OK)
		rc = db_commit(db);
	if (rc != CB_OK)
		db_rollback(db);
	return rc;
}

int
forms_find(struct db *db, const char *org, const char *name, char *id, size_t idsz)
{
	return db_value(db, "SELECT id FROM forms WHERE org_id = $1::bigint AND name = $2"
	    " ORDER BY created_at, id LIMIT 1", 2, (const char *[]){ org, name }, id, idsz);
}
