/*
 * Fuzz target: the JSON reader and its field tables (lib/jsonv), which
 * every JSON body of every route goes through.  The table below has one
 * field of each type, bounds set.  Whatever the body: jv_parse takes it
 * or names a reason; jv_validate over a taken object fills only fields
 * within their bounds or refuses naming a field; the canonical text of a
 * taken value parses again to the same canonical text (member order and
 * spacing never make two texts of one value).  Seeds: tests/fuzz/corpus/jsonv/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "errs.h"
#include "jsonv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct target {
	const char	*s;
	long long	 i;
	int		 b;
	double		 d;
	const cJSON	*o, *a, *any;
	const char	*u;
};

static const struct jv_field fields[] = {
	{ "s", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct target, s), NULL },
	{ "i", JV_INT, 0, -5, 1000, offsetof(struct target, i), NULL },
	{ "b", JV_BOOL, JV_NULLABLE, 0, 0, offsetof(struct target, b), NULL },
	{ "d", JV_NUMBER, 0, 0, 1, offsetof(struct target, d), NULL },
	{ "o", JV_OBJECT, 0, 0, 3, offsetof(struct target, o), NULL },
	{ "a", JV_ARRAY, 0, 1, 4, offsetof(struct target, a), NULL },
	{ "any", JV_ANY, 0, 0, 0, offsetof(struct target, any), NULL },
	{ "u", JV_UUID, 0, 0, 0, offsetof(struct target, u), NULL },
};
#define NF	(sizeof(fields) / sizeof(fields[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target	 t;
	struct jv_error	 e;
	cJSON		*v = NULL, *w = NULL;
	char		*c1, *c2;
	size_t		 n;

	if (size > 4096)
		return 0;
	memset(&e, 0, sizeof(e));
	if (jv_parse((const char *)data, size, &v, &e) != CB_OK) {
		if (v != NULL || e.reason[0] == '\0')
			abort();
		return 0;
	}
	if ((c1 = jv_canonical(v)) == NULL)
		abort();
	memset(&e, 0, sizeof(e));
	if (jv_parse(c1, strlen(c1), &w, &e) != CB_OK || (c2 = jv_canonical(w)) == NULL ||
	    strcmp(c1, c2) != 0)
		abort();
	free(c2);
	free(c1);
	cJSON_Delete(w);
	if (cJSON_IsObject(v)) {
		memset(&t, 0, sizeof(t));
		t.i = 7;
		memset(&e, 0, sizeof(e));
		if (jv_validate(v, fields, NF, &t, &e) == CB_OK) {
			n = t.s ? strlen(t.s) : 0;
			if (n < 1 || n > 32 || t.i < -5 || t.i > 1000 || t.d < 0 || t.d > 1 ||
			    (t.o && cJSON_GetArraySize(t.o) > 3) ||
			    (t.a && (cJSON_GetArraySize(t.a) < 1 || cJSON_GetArraySize(t.a) > 4)) ||
			    (t.u && strlen(t.u) != 36))
				abort();
		} else if (e.field[0] == '\0' && e.reason[0] == '\0')
			abort();
	}
	cJSON_Delete(v);
	return 0;
}
