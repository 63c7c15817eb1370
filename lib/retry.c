/*
 * retry: see retry.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "errs.h"
#include "retry.h"

int
retry_parse(const char *text, struct retry_schedule *rs, char *err, size_t errsz)
{
	const char	*p = text;
	long long	 v, mult;
	size_t		 digits;

	memset(rs, 0, sizeof(*rs));
	if (text == NULL || *text == '\0') {
		snprintf(err, errsz, "empty schedule");
		return CB_ERR_VALIDATION;
	}
	for (;;) {
		while (*p == ' ')
			p++;
		for (v = 0, digits = 0; isdigit((unsigned char)*p) && digits < 12; p++, digits++)
			v = v * 10 + (*p - '0');
		if (digits == 0 || isdigit((unsigned char)*p)) {
			snprintf(err, errsz, "entry %zu: expected a number of ms, s, m or h",
			    rs->n + 1);
			return CB_ERR_VALIDATION;
		}
		if (v == 0 && (*p == ',' || *p == ' ' || *p == '\0')) {
			mult = 1;	/* zero needs no unit */
		} else if (p[0] == 'm' && p[1] == 's') {
			mult = 1;
			p += 2;
		} else if (*p == 's' || *p == 'm' || *p == 'h') {
			mult = *p == 's' ? 1000 : *p == 'm' ? 60000 : 3600000;
			p++;
		} else {
			snprintf(err, errsz, "entry %zu: a unit (ms, s, m, h) is required",
			    rs->n + 1);
			return CB_ERR_VALIDATION;
		}
		if (v > RETRY_DELAY_MAX_MS / mult) {
			snprintf(err, errsz, "entry %zu: longer than a week", rs->n + 1);
			return CB_ERR_VALIDATION;
		}
		if (rs->n == RETRY_STEPS_MAX) {
			snprintf(err, errsz, "more than %d entries", RETRY_STEPS_MAX);
			return CB_ERR_VALIDATION;
		}
		rs->delay_ms[rs->n++] = v * mult;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return CB_OK;
		if (*p++ != ',') {
			snprintf(err, errsz, "entry %zu: entries are separated by commas", rs->n);
			return CB_ERR_VALIDATION;
		}
	}
}

long long
retry_delay_ms(const struct retry_schedule *rs, int attempt, long retry_after_s, double u)
{
	size_t		 i;
	double		 ms;

	if (rs->n == 0)
		return retry_after_s > 0 ? retry_after_s * 1000LL : 0;
	/* Entry i is the wait before attempt i+1; after attempt k comes entry k. */
	i = attempt < 1 ? 1 : (size_t)attempt;
	if (i >= rs->n)
		i = rs->n - 1;
	if (u < 0.0)
		u = 0.0;
	if (u > 1.0)
		u = 1.0;
	ms = (double)rs->delay_ms[i] * (0.9 + 0.2 * u);
	if (retry_after_s > 0 && ms < (double)retry_after_s * 1000.0)
		ms = (double)retry_after_s * 1000.0;
	return (long long)ms;
}

int
retry_attempts(const struct retry_schedule *rs, int row_max)
{
	int	 n = (int)rs->n;

	return row_max > 0 && row_max < n ? row_max : n;
}
