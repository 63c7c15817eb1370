/* soql: SOQL string literals (soql.h). */
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "soql.h"
#include "util.h"

int
soql_quote(struct buf *b, const char *value, unsigned flags)
{
	const unsigned char	*s = (const unsigned char *)value;
	size_t			 n, i, k;
	struct buf		 t;
	const char		*esc;

	if (value == NULL || (n = strlen(value)) > SOQL_VALUE_MAX)
		return CB_ERR_VALIDATION;
	/* Into a scratch buffer first: a refusal appends nothing. */
	buf_init(&t, 2 * n + 3);
	buf_putc(&t, '\'');
	for (i = 0; i < n; i += k) {
		k = 1;
		esc = NULL;
		switch (s[i]) {
		case '\'': esc = "\\'"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '%': esc = (flags & SOQL_LIKE) ? "\\%" : NULL; break;
		case '_': esc = (flags & SOQL_LIKE) ? "\\_" : NULL; break;
		default: break;
		}
		if (esc != NULL) {
			buf_puts(&t, esc);
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f || (k = util_utf8_seq(s + i, n - i)) == 0) {
			buf_free(&t);
			return CB_ERR_VALIDATION;
		}
		buf_append(&t, s + i, k);
	}
	buf_putc(&t, '\'');
	i = buf_append(b, t.data, t.len) == 0;
	buf_free(&t);
	return i ? CB_OK : CB_ERR_TOO_LARGE;
}
