/*
 * buf: see buf.h.  Growth doubles up to the cap; the cap is checked before
 * any allocation so a hostile length never causes a large malloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "buf.h"
#include "errs.h"
#include "util.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : BUF_DEFAULT_MAX;
}

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 need, ncap;
	char	*p;

	if (extra > b->max || b->len > b->max - extra)
		return CB_ERR_TOO_LARGE;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return CB_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = alloc_try_realloc(b->data, ncap);
	if (p == NULL)
		util_oom();
	b->data = p;
	b->cap = ncap;
	return CB_OK;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int	 rc;

	if ((rc = buf_reserve(b, n)) != CB_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CB_OK;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 cp;
	int	 n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return CB_ERR_INTERNAL;
	if ((rc = buf_reserve(b, (size_t)n)) != CB_OK)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return CB_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
buf_json_strn(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, start = b->len;
	int		 rc = CB_OK;
	unsigned char	 c;
	char		 esc[7];

	if ((rc = buf_putc(b, '"')) != CB_OK)
		return rc;
	for (i = 0; i < n && rc == CB_OK; i++) {
		c = (unsigned char)s[i];
		switch (c) {
		case '"':  rc = buf_append(b, "\\\"", 2); break;
		case '\\': rc = buf_append(b, "\\\\", 2); break;
		case '\n': rc = buf_append(b, "\\n", 2); break;
		case '\r': rc = buf_append(b, "\\r", 2); break;
		case '\t': rc = buf_append(b, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
				esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf]; esc[6] = '\0';
				rc = buf_append(b, esc, 6);
			} else
				rc = buf_putc(b, (char)c);
		}
	}
	if (rc == CB_OK)
		rc = buf_putc(b, '"');
	if (rc != CB_OK) {
		/* Leave the buffer as it was: no half-written literal. */
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
	}
	return rc;
}

int
buf_json_str(struct buf *b, const char *s)
{
	return buf_json_strn(b, s ? s : "", s ? strlen(s) : 0);
}

const char *
buf_cstr(struct buf *b)
{
	if (b->data == NULL) {
		if (buf_reserve(b, 0) != CB_OK)
			return "";
		b->data[0] = '\0';
	}
	return b->data;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_wipe(struct buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	buf_free(b);
}
