/*
 * Fuzz target: the W3C traceparent parser (lib/trace), which reads a
 * header every client may send.  Whatever the input, the parser must not
 * read past it, and an accepted header must be one the formatter writes
 * back byte for byte (strict: no other spelling of the same trace is
 * accepted), with a trace id and span that are not all zeros.  Seeds:
 * tests/fuzz/corpus/traceparent/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "trace.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace	 t, c;
	char		*in, out[TRACE_HEADER_LEN + 1];

	if (size > 256 || (in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (trace_parse(in, &t) == CB_OK) {
		trace_format(&t, out);
		if (strcmp(out, in) != 0 || strspn(t.id, "0") == TRACE_ID_HEX ||
		    strspn(t.span, "0") == TRACE_SPAN_HEX)
			abort();
		trace_child(&t, &c);
		if (strcmp(c.id, t.id) != 0 || strcmp(c.span, t.span) == 0)
			abort();
	} else if (trace_set(&t))
		abort();
	free(in);
	return 0;
}
