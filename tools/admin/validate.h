/*
 * cb-admin's metadata checks: they need neither the broker's configuration
 * nor its database, so a tenant's CI can run them on a checkout of its
 * definitions (docs/classification.md).
 *
 *   cb-admin form-validate FILE       a form definition (lib/formdef.h's
 *                                     formdef_check, what publishing runs)
 *   cb-admin mapping-validate FILE    Salesforce mapping rules (lib/sfconn.h's
 *                                     sfconn_mapping_check, what sf-connect
 *                                     and PUT /api/v1/admin/salesforce run)
 *
 *   exit 0: the file would be taken (stdout: one JSON object);
 *   exit 1: it would be refused: the first error on stderr as
 *     "cb-admin: FILE: <JSON pointer>: <reason>", e.g.
 *     "cb-admin: form.json: /fields/3/class (field \"ssn\"): must be one of
 *     public, internal, confidential, restricted";
 *   exit 2: a usage error or a file that cannot be read.
 *
 * The JSON Schemas in docs/schemas/ describe the same rules
 * (tests/scripts/schema-agree.sh).
 */
#ifndef CB_ADMIN_VALIDATE_H
#define CB_ADMIN_VALIDATE_H

#define ADMIN_VALIDATE_ARGS	"FILE"
#define ADMIN_FORM_VALIDATE_WHAT	"check a form definition as publishing would (no " \
	"configuration or database: for a tenant's CI); exit 0 valid, 1 the first error " \
	"with its JSON pointer, 2 usage"
#define ADMIN_MAPPING_VALIDATE_WHAT	"check Salesforce mapping rules as sf-connect would " \
	"(no configuration or database); exits as form-validate"

int	 admin_form_validate(int argc, char **argv);
int	 admin_mapping_validate(int argc, char **argv);

#endif
