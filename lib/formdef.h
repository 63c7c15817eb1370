/*
 * formdef: form definitions (the immutable JSON of a form version) and the
 * validation of submitted data against them.
 *
 * A definition:
 *   {"title":"Contact us","fields":[
 *     {"name":"email","label":"Email","type":"email","required":true,
 *      "max_length":254,"sf_field":"Email__c","pii":true}, ...]}
 * Types: string, email, integer, number, boolean, enum (with "options").
 * Bounds: max_length/min_length for strings, min/max for numbers.
 * Submitted data is an object: unknown keys, missing required fields, wrong
 * types and out-of-bounds values are errors naming the field.
 */
#ifndef CB_FORMDEF_H
#define CB_FORMDEF_H

#include <cjson/cJSON.h>

#include "jsonv.h"

#define FORMDEF_MAX_FIELDS	200

/* Check a definition is well formed (used when publishing). */
int	 formdef_check(const cJSON *def, struct jv_error *);
/* Check `data` against `def`; err->field is "data.<name>". */
int	 formdef_validate(const cJSON *def, const cJSON *data, struct jv_error *);
/* Map data to Salesforce fields by each field's sf_field (fields without one are skipped). */
cJSON	*formdef_to_sf(const cJSON *def, const cJSON *data);
/* 1 if the named field is marked personal data ("pii": true). */
int	 formdef_is_pii(const cJSON *def, const char *name);
/* 1 if the definition has a field of that name (a policy's selector names one). */
int	 formdef_has_field(const cJSON *def, const char *name);

#endif
