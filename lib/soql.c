/* soql: SOQL string literals (soql.h). */
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "soql.h"

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t		 need, k;
	unsigned	 cp, min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 1; cp = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 2; cp = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 3; cp = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	if (need >= n)
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

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
		if (s[i] < 0x20 || s[i] == 0x7f || (k = utf8_seq(s + i, n - i)) == 0) {
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
