/*
 * Fuzz target: SOQL quoting (lib/soql, soql_quote), the one way a value
 * enters a Salesforce query.  Whatever the value: the quoted literal is
 * '...' with no quote, backslash or (with SOQL_LIKE) % or _ left
 * unescaped inside, nothing but the value's own bytes once the escapes are
 * undone, and no control character.  The first byte picks the flags.
 * Seeds: tests/fuzz/corpus/soql/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "soql.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	 flags;
	struct buf	 b;
	char		*in, *back;
	size_t		 i, k = 0;

	if (size < 1 || size > 4096 || (in = malloc(size)) == NULL)
		return 0;
	flags = (data[0] & 1) ? SOQL_LIKE : 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	buf_init(&b, 64 * 1024);
	if (soql_quote(&b, in, flags) == CB_OK) {
		if (b.len < 2 || b.data[0] != '\'' || b.data[b.len - 1] != '\'')
			abort();
		if ((back = malloc(b.len)) == NULL)
			abort();
		for (i = 1; i + 1 < b.len; i++) {
			unsigned char c = (unsigned char)b.data[i];

			if (c < 0x20 || c == 0x7f)
				abort();
			if (c == '\'' || c == '"' || ((flags & SOQL_LIKE) && (c == '%' || c == '_')))
				abort();	/* only ever escaped, never bare */
			if (c == '\\') {
				if (i + 2 >= b.len)
					abort();
				c = (unsigned char)b.data[++i];
				switch (c) {
				case 'n': c = '\n'; break;
				case 'r': c = '\r'; break;
				case 't': c = '\t'; break;
				case 'b': c = '\b'; break;
				case 'f': c = '\f'; break;
				case '\'': case '"': case '\\': break;
				case '%': case '_':
					if (!(flags & SOQL_LIKE))
						abort();
					break;
				default:
					abort();
				}
			}
			back[k++] = (char)c;
		}
		/* The escapes undone give the value back, byte for byte. */
		if (k != strlen(in) || memcmp(back, in, k) != 0)
			abort();
		free(back);
	}
	buf_free(&b);
	free(in);
	return 0;
}
