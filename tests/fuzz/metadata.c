/*
 * Fuzz target: tenants' metadata files as `cb-admin form-validate` and
 * `mapping-validate` read them (lib/formdef: formdef_check_text, the
 * validator publishing runs; lib/sfconn: sfconn_mapping_check_at).  Any
 * input must end in CB_OK or a refusal whose place is a JSON pointer ("" or
 * starting with "/") and whose reason is not empty; an accepted definition
 * gives every field a class.  Seeds: tests/fuzz/corpus/metadata/ (the forms
 * and mappings of the schema fixtures).  Built and run by `make fuzz` and
 * tests/scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "formdef.h"
#include "jsonv.h"
#include "sfconn.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jv_error	 e, pe;
	const cJSON	*f;
	const char	*why = NULL;
	char		 ptr[SFCONN_PTR_BUFSZ], line[400], *text;
	cJSON		*d = NULL;
	int		 ok, c;

	if (size > 65536 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&e, 0, sizeof(e));
	ok = formdef_check_text(text, size, &e) == CB_OK;
	if (jv_parse(text, size, &d, &pe) != CB_OK) {
		/* Not JSON: refused, at the whole document. */
		if (ok || e.field[0] != '\0')
			abort();
	} else if (!ok) {
		if ((e.field[0] != '\0' && e.field[0] != '/') || e.reason[0] == '\0')
			abort();
		formdef_error_text(text, &e, line, sizeof(line));
		if (sfconn_mapping_check_at(d, ptr, sizeof(ptr), &why) != 0 &&
		    ((ptr[0] != '\0' && ptr[0] != '/') || why == NULL))
			abort();
	} else {
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(d, "fields")) {
			c = (int)formdef_field_class(d,
			    cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring);
			if (c < FORMDEF_PUBLIC || c > FORMDEF_RESTRICTED)
				abort();
		}
	}
	cJSON_Delete(d);
	free(text);
	return 0;
}
