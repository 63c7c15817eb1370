/*
 * cb-admin's form commands that stand alone: they need neither the
 * broker's configuration nor its database, so a tenant's CI can run them
 * on a checkout of its definitions (docs/classification.md).
 *
 *   cb-admin form-validate FILE
 *     exit 0: FILE is a definition publishing would take (stdout: one
 *       JSON object, the fields per class);
 *     exit 1: it would be refused: the first error on stderr as
 *       "FILE: <JSON pointer>: <reason>", e.g.
 *       "form.json: /fields/3/class: must be one of public, internal,
 *       confidential, restricted";
 *     exit 2: a usage error or a file that cannot be read.
 *
 * The check is lib/formdef.h's formdef_check, the one publishing runs.
 */
#ifndef CB_ADMIN_FORMS_H
#define CB_ADMIN_FORMS_H

#define ADMIN_FORM_VALIDATE_ARGS	"FILE"
#define ADMIN_FORM_VALIDATE_WHAT	"check a form definition as publishing would (no " \
	"configuration or database: for a tenant's CI); exit 0 valid, 1 the first error " \
	"with its JSON pointer, 2 usage"

int	 admin_form_validate(int argc, char **argv);

#endif
