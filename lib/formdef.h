/*
 * formdef: form definitions (the immutable JSON of a form version) and the
 * validation of submitted data against them.
 *
 * A definition:
 *   {"title":"Contact us","fields":[
 *     {"name":"email","label":"Email","type":"email","class":"confidential",
 *      "required":true,"max_length":254,"sf_field":"Email__c"}, ...]}
 * Types: string, email, integer, number, boolean, enum (with "options").
 * Bounds: max_length/min_length for strings, min/max for numbers.
 * Class (required to publish): public, internal, confidential, restricted
 * (docs/classification.md): it decides masking in logs, what an agent may
 * read back, sealing at rest and retention.
 *
 * formdef_check is THE validator of a definition: publishing (cb-admin
 * form-create, form-publish, demo-seed) and `cb-admin form-validate` call
 * it, and docs/schemas/form-definition.schema.json describes the same rules
 * (tests/scripts/schema-agree.sh holds the two together).  Its error names
 * the first offending place as a JSON pointer (RFC 6901) in err->field,
 * e.g. "/fields/3/class", with the reason in err->reason; "" is the whole
 * document.  An unknown member is an error, never ignored.
 *
 * "pii": true is the deprecated spelling of a personal field.  Versions
 * published before classes existed are immutable (their SHA-256 is in the
 * audit trail) and keep their bytes: for a field without "class",
 * formdef_field_class reads pii true as confidential and anything else as
 * internal.  A new definition may still carry "pii", but pii true needs
 * class confidential or restricted.
 *
 * Submitted data is an object: unknown keys, missing required fields, wrong
 * types and out-of-bounds values are errors naming the field.
 */
#ifndef CB_FORMDEF_H
#define CB_FORMDEF_H

#include <cjson/cJSON.h>

#include "jsonv.h"

#define FORMDEF_MAX_FIELDS	200
#define FORMDEF_MAX_OPTIONS	100
#define FORMDEF_MAX_LENGTH	65536

/* The data classes, in order of strictness. */
enum formdef_class {
	FORMDEF_PUBLIC = 0,
	FORMDEF_INTERNAL,
	FORMDEF_CONFIDENTIAL,
	FORMDEF_RESTRICTED
};
#define FORMDEF_CLASS_LIST	"public, internal, confidential, restricted"

/* Check a definition is well formed (the one validator publishing uses). */
int	 formdef_check(const cJSON *def, struct jv_error *);
/* The same for a text (a file): not JSON is an error at "". */
int	 formdef_check_text(const char *text, size_t len, struct jv_error *);
/*
 * An error of formdef_check_text on `text` as one line for a person:
 * "/fields/3/class (field \"email\"): is required" (the field's name when
 * the pointer is inside a field that has one).
 */
void	 formdef_error_text(const char *text, const struct jv_error *, char *out, size_t outsz);
/* "public" ... "restricted"; CB_OK or CB_ERR_VALIDATION. */
const char *formdef_class_name(enum formdef_class);
int	 formdef_class_parse(const char *, enum formdef_class *);
/*
 * The class of a field of a checked definition (the pii fallback above);
 * a name the form does not have is restricted (fail closed).
 */
enum formdef_class formdef_field_class(const cJSON *def, const char *name);
/*
 * What a log line may show of the value `v` of field `name`: public and
 * internal values as they are (cut to fit), confidential ones masked
 * (an email as j***@example.com, anything else its first character),
 * restricted ones never: "[restricted]".  Strings only shown; a number or
 * boolean of a confidential field is "***".
 */
void	 formdef_log_value(const cJSON *def, const char *name, const cJSON *v, char *out,
	    size_t outsz);
/* Check `data` against `def`; err->field is "data.<name>". */
int	 formdef_validate(const cJSON *def, const cJSON *data, struct jv_error *);
/* Map data to Salesforce fields by each field's sf_field (fields without one are skipped). */
cJSON	*formdef_to_sf(const cJSON *def, const cJSON *data);
/* 1 if the named field is confidential or restricted (personal data). */
int	 formdef_is_pii(const cJSON *def, const char *name);
/* 1 if the definition has a field of that name (a policy's selector names one). */
int	 formdef_has_field(const cJSON *def, const char *name);

#endif
