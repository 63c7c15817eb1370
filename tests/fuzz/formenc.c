/*
 * Fuzz target: the form-urlencoded reader (lib/formenc) driven by a field
 * table of three fields (one required), as Slack's callbacks are read.
 * Whatever the body: a refusal leaves every slot NULL and says why; an
 * accepted body gives the required field, each value within its field's
 * length, and the values encoded again (every byte %XX) read back the same.
 * Seeds: tests/fuzz/corpus/formenc/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "formenc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct args {
	char	*a, *b, *c;
};

static const struct fe_field fields[] = {
	{ "a", FORMENC_REQUIRED, 16, offsetof(struct args, a) },
	{ "b", 0, 64, offsetof(struct args, b) },
	{ "c", 0, 4, offsetof(struct args, c) },
};
#define NF	(sizeof(fields) / sizeof(fields[0]))

/* name=%XX%XX... for one value, appended at out[*n]. */
static void
encode(char *out, size_t *n, const char *name, const char *v)
{
	*n += (size_t)snprintf(out + *n, 8, "%s", name);
	for (; *v; v++)
		*n += (size_t)snprintf(out + *n, 4, "%%%02X", (unsigned char)*v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct args	 x, y;
	struct fe_error	 e;
	char		*arena = NULL, *arena2 = NULL, again[1024];
	size_t		 n = 0;
	int		 rc;

	if (size > 512)
		return 0;
	memset(&x, 0x55, sizeof(x));
	rc = formenc_parse((const char *)data, size, fields, NF, &x, &arena, &e);
	if (rc != CB_OK) {
		if (x.a != NULL || x.b != NULL || x.c != NULL || e.reason == NULL)
			abort();
	} else {
		if (x.a == NULL || strlen(x.a) > 16 || (x.b && strlen(x.b) > 64) ||
		    (x.c && strlen(x.c) > 4))
			abort();
		encode(again, &n, "a=", x.a);
		if (x.b)
			encode(again, &n, "&b=", x.b);
		if (x.c)
			encode(again, &n, "&c=", x.c);
		if (formenc_parse(again, n, fields, NF, &y, &arena2, &e) != CB_OK ||
		    strcmp(y.a, x.a) != 0 || (x.b == NULL) != (y.b == NULL) ||
		    (x.b && strcmp(x.b, y.b) != 0) || (x.c == NULL) != (y.c == NULL) ||
		    (x.c && strcmp(x.c, y.c) != 0))
			abort();
	}
	free(arena);
	free(arena2);
	return 0;
}
