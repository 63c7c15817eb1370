/*
 * util: see util.h.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "errs.h"
#include "util.h"

void
util_oom(void)
{
	static const char msg[] = "{\"level\":\"error\",\"event\":\"oom\"}\n";

	/* Nothing sensible is left to do: let the supervisor restart us. */
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* Every allocation through lib/alloc, so a test can fail any one of them. */
void *
util_malloc(size_t n)
{
	void	*p = alloc_try(n);

	if (p == NULL)
		util_oom();
	return p;
}

void *
util_calloc(size_t n, size_t sz)
{
	void	*p = alloc_try_calloc(n, sz);

	if (p == NULL)
		util_oom();
	return p;
}

void *
util_realloc(void *old, size_t n)
{
	void	*p = alloc_try_realloc(old, n);

	if (p == NULL)
		util_oom();
	return p;
}

char *
util_strdup(const char *s)
{
	return util_strndup(s, strlen(s));
}

char *
util_strndup(const char *s, size_t n)
{
	size_t	 len = strnlen(s, n);
	char	*p = util_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int
util_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	/* strtoll would skip any leading white space and accept '+'. */
	if (s == NULL || !((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return CB_ERR_VALIDATION;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return CB_ERR_VALIDATION;
	*out = v;
	return CB_OK;
}

double
util_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int64_t
util_now_s(void)
{
	return (int64_t)time(NULL);
}

void
util_iso8601(char *out, size_t outsz)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 tmp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%03ldZ", tmp, ts.tv_nsec / 1000000L);
}

int
util_streq_ct(const char *a, const char *b)
{
	unsigned char	 ha[32], hb[32];

	/* Hash first so the comparison time does not depend on lengths. */
	crypto_generichash(ha, sizeof(ha), (const unsigned char *)a, strlen(a), NULL, 0);
	crypto_generichash(hb, sizeof(hb), (const unsigned char *)b, strlen(b), NULL, 0);
	return sodium_memcmp(ha, hb, sizeof(ha)) == 0;
}

int
util_str_in(char *const *v, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

size_t
util_strlcpy(char *out, const char *in, size_t outsz)
{
	size_t	 n = strlen(in);

	if (outsz) {
		size_t	 c = n < outsz - 1 ? n : outsz - 1;

		memcpy(out, in, c);
		out[c] = '\0';
	}
	return n;
}

size_t
util_trim_ows(const char **s)
{
	const char	*p = *s;
	size_t		 n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*s = p;
	return n;
}

void
util_hmac_sha256(const unsigned char *key, size_t keylen, const struct util_part *parts,
    size_t nparts, unsigned char mac[UTIL_HMAC_BYTES])
{
	crypto_auth_hmacsha256_state	 st;
	size_t				 i;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (i = 0; i < nparts; i++)
		if (parts[i].n > 0)
			crypto_auth_hmacsha256_update(&st, parts[i].p, parts[i].n);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

void
util_hex(char *out, const unsigned char *in, size_t n)
{
	sodium_bin2hex(out, n * 2 + 1, in, n);
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
util_utf8_seq(const unsigned char *s, size_t n)
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

void
util_random_token(char *out, size_t outsz, size_t nbytes)
{
	unsigned char	 raw[64];

	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	randombytes_buf(raw, nbytes);
	sodium_bin2base64(out, outsz, raw, nbytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int
util_uuid_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return 1;
}

void
util_uuid_v4(char out[37])
{
	unsigned char	 b[16];
	char		 hex[33];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	util_hex(hex, b, sizeof(b));
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

int
util_text_ok(const char *s, size_t max)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

void
util_no_core_dumps(void)
{
	struct rlimit	 none = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
