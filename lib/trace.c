/*
 * trace: see trace.h.  The header is read against a field table (each
 * part's offset, length and whether all zeros is forbidden) before any of
 * it is copied; ids come from libsodium's generator, drawn a pool at a time.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "trace.h"
#include "util.h"

static const struct {
	const char	*name;
	size_t		 off, len;
	int		 nonzero;	/* all zeros is invalid */
} trace_fields[] = {
	{ "version", 0, 2, 0 },
	{ "trace-id", 3, TRACE_ID_HEX, 1 },
	{ "parent-id", 36, TRACE_SPAN_HEX, 1 },
	{ "trace-flags", 53, 2, 0 },
};

/*
 * What a byte is to the parser: 0 not a lower-case hex digit, 1 the digit
 * zero, 3 any other digit (bit 0: a digit, bit 1: not zero).  A table,
 * because every request runs the check (the trace nginx started is read
 * from its REQUEST_ID, 32 digits).
 */
static const unsigned char trace_digit[256] = {
	['0'] = 1, ['1'] = 3, ['2'] = 3, ['3'] = 3, ['4'] = 3, ['5'] = 3, ['6'] = 3,
	['7'] = 3, ['8'] = 3, ['9'] = 3, ['a'] = 3, ['b'] = 3, ['c'] = 3, ['d'] = 3,
	['e'] = 3, ['f'] = 3,
};

/* n lower-case hex digits at s, not all zeros when nonzero: 1, else 0. */
static int
trace_hexrun(const char *s, size_t n, int nonzero)
{
	unsigned	 all = 1, any = 0, d;
	size_t		 j;

	for (j = 0; j < n; j++) {
		d = trace_digit[(unsigned char)s[j]];
		all &= d;
		any |= d;
	}
	return (all & 1u) != 0 && (!nonzero || (any & 2u) != 0);
}

int
trace_parse(const char *s, struct trace *out)
{
	size_t	 i;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strnlen(s, TRACE_HEADER_LEN + 1) != TRACE_HEADER_LEN)
		return CB_ERR_VALIDATION;
	/* Version 00 only: its length is fixed, a later version may differ. */
	if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return CB_ERR_VALIDATION;
	for (i = 0; i < sizeof(trace_fields) / sizeof(trace_fields[0]); i++)
		if (!trace_hexrun(s + trace_fields[i].off, trace_fields[i].len,
		    trace_fields[i].nonzero))
			return CB_ERR_VALIDATION;
	memcpy(out->id, s + 3, TRACE_ID_HEX);
	memcpy(out->span, s + 36, TRACE_SPAN_HEX);
	out->flags = (unsigned)(util_hexval(s[53]) << 4 | util_hexval(s[54]));
	return CB_OK;
}

int
trace_from_request_id(const char *s, struct trace *out)
{
	memset(out, 0, sizeof(*out));
	/* The id's last 16 digits are nginx's span: both halves checked once. */
	if (s == NULL || strnlen(s, TRACE_ID_HEX + 1) != TRACE_ID_HEX ||
	    !trace_hexrun(s, TRACE_ID_HEX - TRACE_SPAN_HEX, 0) ||
	    !trace_hexrun(s + TRACE_ID_HEX - TRACE_SPAN_HEX, TRACE_SPAN_HEX, 1))
		return CB_ERR_VALIDATION;
	memcpy(out->id, s, TRACE_ID_HEX);
	memcpy(out->span, s + TRACE_ID_HEX - TRACE_SPAN_HEX, TRACE_SPAN_HEX);
	out->flags = TRACE_FLAG_SAMPLED;
	return CB_OK;
}

/*
 * Every request takes a span id (8 random bytes): one getrandom(2) for each
 * would be the larger part of what tracing costs a cheap request, so the
 * bytes are drawn from the kernel's generator a pool at a time.  A pool is
 * a process's own: a fork (the responders prefork) empties the child's, or
 * siblings would hand out the same ids.  Drawn bytes are wiped from the pool.
 */
#define TRACE_POOL	4096

static unsigned char	 trace_pool[TRACE_POOL];
static size_t		 trace_pool_left;
static pthread_once_t	 trace_pool_once = PTHREAD_ONCE_INIT;

static void
trace_pool_forget(void)
{
	sodium_memzero(trace_pool, sizeof(trace_pool));
	trace_pool_left = 0;
}

static void
trace_pool_init(void)
{
	(void)pthread_atfork(NULL, NULL, trace_pool_forget);
}

static void
trace_random(unsigned char *b, size_t n)
{
	unsigned char	*p;

	(void)pthread_once(&trace_pool_once, trace_pool_init);
	if (trace_pool_left < n) {
		randombytes_buf(trace_pool, sizeof(trace_pool));
		trace_pool_left = sizeof(trace_pool);
	}
	p = trace_pool + sizeof(trace_pool) - trace_pool_left;
	memcpy(b, p, n);
	sodium_memzero(p, n);
	trace_pool_left -= n;
}

static const char	 trace_hexdigits[] = "0123456789abcdef";

/* n random bytes as 2n hex digits, never all zeros. */
static void
trace_random_hex(char *out, size_t n)
{
	unsigned char	 b[TRACE_ID_HEX / 2];
	size_t		 i, nz;

	do {
		trace_random(b, n);
		for (i = 0, nz = 0; i < n; i++)
			nz |= b[i];
	} while (nz == 0);
	/* Not secret (it is sent on): no need of a constant-time encoder. */
	for (i = 0; i < n; i++) {
		out[2 * i] = trace_hexdigits[b[i] >> 4];
		out[2 * i + 1] = trace_hexdigits[b[i] & 0xfu];
	}
	out[2 * n] = '\0';
}

void
trace_start(struct trace *out)
{
	memset(out, 0, sizeof(*out));
	trace_random_hex(out->id, TRACE_ID_HEX / 2);
	trace_random_hex(out->span, TRACE_SPAN_HEX / 2);
	out->flags = TRACE_FLAG_SAMPLED;
}

void
trace_child(const struct trace *parent, struct trace *out)
{
	struct trace	 t = *parent;

	do
		trace_random_hex(t.span, TRACE_SPAN_HEX / 2);
	while (strcmp(t.span, parent->span) == 0);
	*out = t;
}

void
trace_format(const struct trace *t, char out[TRACE_HEADER_LEN + 1])
{
	if (!trace_set(t)) {
		out[0] = '\0';
		return;
	}
	memcpy(out, "00-", 3);
	memcpy(out + 3, t->id, TRACE_ID_HEX);
	out[35] = '-';
	memcpy(out + 36, t->span, TRACE_SPAN_HEX);
	out[52] = '-';
	out[53] = trace_hexdigits[(t->flags >> 4) & 0xfu];
	out[54] = trace_hexdigits[t->flags & 0xfu];
	out[55] = '\0';
}

int
trace_set(const struct trace *t)
{
	return t != NULL && strlen(t->id) == TRACE_ID_HEX && strlen(t->span) == TRACE_SPAN_HEX;
}
