/* formenc: strict application/x-www-form-urlencoded bodies (formenc.h). */
#include <string.h>

#include "errs.h"
#include "formenc.h"
#include "util.h"

/* Well-formed UTF-8 throughout. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t	 i, k;

	for (i = 0; i < n; i += k)
		if ((k = util_utf8_seq(s + i, n - i)) == 0)
			return 0;
	return 1;
}

/*
 * Decode src[0..n) into dst (at most n bytes); returns the decoded length,
 * or -1 with *why set.
 */
static long
decode(const char *src, size_t n, char *dst, const char **why)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		if (src[i] == '+')
			dst[o++] = ' ';
		else if (src[i] == '%') {
			if (n - i < 3 || (hi = util_hexval(src[i + 1])) < 0 ||
			    (lo = util_hexval(src[i + 2])) < 0) {
				*why = "a '%' must be followed by two hex digits";
				return -1;
			}
			if ((dst[o++] = (char)(hi << 4 | lo)) == '\0') {
				*why = "a NUL byte is not accepted";
				return -1;
			}
			i += 2;
		} else if (src[i] == '\0') {
			*why = "a NUL byte is not accepted";
			return -1;
		} else
			dst[o++] = src[i];
	}
	if (!utf8_ok((const unsigned char *)dst, o)) {
		*why = "not valid UTF-8";
		return -1;
	}
	return (long)o;
}

static int
fail(struct fe_error *err, const char *field, size_t flen, const char *why)
{
	if (flen >= sizeof(err->field))
		flen = sizeof(err->field) - 1;
	memcpy(err->field, field, flen);
	err->field[flen] = '\0';
	err->reason = why;
	return CB_ERR_VALIDATION;
}

static int
formenc_read(const char *body, size_t len, const struct fe_field *fields, size_t nfields,
    void *args, char **arena, struct fe_error *err)
{
	const char	*p = body, *end = body + len, *amp, *eq, *why = NULL;
	char		*out, *name, **slot;
	size_t		 i, used = 0;
	long		 nlen, vlen;

	memset(err, 0, sizeof(*err));
	/* Decoding never grows: twice the body (names and values) is enough. */
	*arena = out = util_malloc(2 * len + 2);
	for (i = 0; i < nfields; i++)
		*(char **)((char *)args + fields[i].off) = NULL;
	while (len > 0 && p <= end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p)
			return fail(err, "", 0, "an empty pair ('&&', or '&' at an end)");
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			return fail(err, p, (size_t)(amp - p), "a pair without '='");
		if (eq == p)
			return fail(err, "", 0, "a pair without a name");
		name = out + used;
		if ((nlen = decode(p, (size_t)(eq - p), name, &why)) < 0)
			return fail(err, p, (size_t)(eq - p), why);
		name[nlen] = '\0';
		for (i = 0; i < nfields; i++)
			if (strlen(fields[i].name) == (size_t)nlen &&
			    memcmp(fields[i].name, name, (size_t)nlen) == 0)
				break;
		if (i == nfields)
			return fail(err, name, (size_t)nlen, "unknown field");
		slot = (char **)((char *)args + fields[i].off);
		if (*slot != NULL)
			return fail(err, name, (size_t)nlen, "given more than once");
		used += (size_t)nlen + 1;
		if ((vlen = decode(eq + 1, (size_t)(amp - eq - 1), out + used, &why)) < 0)
			return fail(err, name, (size_t)nlen, why);
		if ((size_t)vlen > fields[i].max)
			return fail(err, name, (size_t)nlen, "too long");
		out[used + (size_t)vlen] = '\0';
		*slot = out + used;
		used += (size_t)vlen + 1;
		if (amp == end)
			break;
		p = amp + 1;
		if (p == end)
			return fail(err, "", 0, "an empty pair ('&&', or '&' at an end)");
	}
	for (i = 0; i < nfields; i++)
		if ((fields[i].flags & FORMENC_REQUIRED) &&
		    *(char **)((char *)args + fields[i].off) == NULL)
			return fail(err, fields[i].name, strlen(fields[i].name), "required");
	return CB_OK;
}

int
formenc_parse(const char *body, size_t len, const struct fe_field *fields, size_t nfields,
    void *args, char **arena, struct fe_error *err)
{
	size_t	 i;
	int	 rc;

	/* Nothing half-read is left for the caller to use by mistake. */
	if ((rc = formenc_read(body, len, fields, nfields, args, arena, err)) != CB_OK)
		for (i = 0; i < nfields; i++)
			*(char **)((char *)args + fields[i].off) = NULL;
	return rc;
}
