/* phone: E.164 normalisation (phone.h). */
#include <string.h>

#include "errs.h"
#include "phone.h"

static int
is_sep(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '/';
}

/* 1..3 digits, not starting with 0. */
static int
cc_ok(const char *cc)
{
	size_t	 i, n = cc ? strlen(cc) : 0;

	if (n < 1 || n > 3 || cc[0] == '0')
		return 0;
	for (i = 0; i < n; i++)
		if (cc[i] < '0' || cc[i] > '9')
			return 0;
	return 1;
}

int
phone_e164(const char *in, const char *default_cc, char out[PHONE_E164_BUFSZ])
{
	char		 d[PHONE_IN_MAX + 1];
	size_t		 i, n = 0, len;
	int		 intl = 0, parens = 0, open = 0;
	const char	*p = in;

	out[0] = '\0';
	if (in == NULL || (len = strlen(in)) == 0 || len > PHONE_IN_MAX)
		return CB_ERR_VALIDATION;
	while (*p == ' ')
		p++;
	if (*p == '+') {
		intl = 1;
		p++;
	}
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			d[n++] = *p;
		else if (*p == '(' && !open && !parens) {
			open = 1;
		} else if (*p == ')' && open) {
			open = 0;
			parens = 1;
		} else if (!is_sep(*p))
			return CB_ERR_VALIDATION;
	}
	if (open || n == 0)
		return CB_ERR_VALIDATION;
	d[n] = '\0';
	/* "00" is the international prefix written out. */
	if (!intl && n > 2 && d[0] == '0' && d[1] == '0') {
		memmove(d, d + 2, n - 1);
		n -= 2;
		intl = 1;
	}
	if (intl) {
		if (d[0] == '0' || n < 8 || n > 15)
			return CB_ERR_VALIDATION;
		out[0] = '+';
		memcpy(out + 1, d, n + 1);
		return CB_OK;
	}
	if (!cc_ok(default_cc))
		return CB_ERR_VALIDATION;
	if (strcmp(default_cc, "1") == 0) {
		/* NANP: ten digits, or eleven with the leading 1. */
		if (n == 11 && d[0] == '1') {
			memmove(d, d + 1, n);
			n--;
		}
		if (n != 10 || d[0] == '0' || d[0] == '1')
			return CB_ERR_VALIDATION;
	} else if (d[0] == '0') {
		/* One trunk prefix. */
		memmove(d, d + 1, n);
		n--;
	}
	if (n == 0 || d[0] == '0' || strlen(default_cc) + n < 8 || strlen(default_cc) + n > 15)
		return CB_ERR_VALIDATION;
	out[0] = '+';
	i = strlen(default_cc);
	memcpy(out + 1, default_cc, i);
	memcpy(out + 1 + i, d, n + 1);
	return CB_OK;
}

void
phone_mask(const char *e164, char out[PHONE_E164_BUFSZ])
{
	size_t	 n, i, keep;

	out[0] = '\0';
	if (e164 == NULL || e164[0] != '+' || (n = strlen(e164 + 1)) == 0 || n > PHONE_E164_MAX - 1)
		return;
	keep = n > 4 ? 4 : 0;
	out[0] = '+';
	for (i = 0; i < n - keep; i++)
		out[1 + i] = '*';
	memcpy(out + 1 + n - keep, e164 + 1 + n - keep, keep + 1);
}
