/*
 * util: the few helpers every module needs: abort on out-of-memory, checked
 * allocation, strict number parsing (the house style bans atoi), monotonic
 * and wall clocks, and constant-time string comparison.
 */
#ifndef CB_UTIL_H
#define CB_UTIL_H

#include <stddef.h>
#include <stdint.h>

__attribute__((noreturn)) void util_oom(void);
void	*util_malloc(size_t);
void	*util_calloc(size_t, size_t);
void	*util_realloc(void *, size_t);
char	*util_strdup(const char *);
char	*util_strndup(const char *, size_t);

/* Whole-string decimal parse with bounds; CB_ERR_VALIDATION on any junk. */
int	 util_parse_ll(const char *, long long min, long long max, long long *out);
/* Milliseconds on the monotonic clock. */
double	 util_now_ms(void);
/* Seconds since the epoch (wall clock). */
int64_t	 util_now_s(void);
/* RFC 3339 UTC timestamp with milliseconds into out (at least 25 bytes). */
void	 util_iso8601(char *out, size_t outsz);
/* Constant-time equality of two NUL-terminated strings of any length. */
int	 util_streq_ct(const char *, const char *);
/* 1 if s is one of the n strings of v (byte for byte), else 0. */
int	 util_str_in(char *const *v, size_t n, const char *s);
/* Copy at most outsz-1 bytes and NUL terminate; returns the source length. */
size_t	 util_strlcpy(char *out, const char *in, size_t outsz);
/*
 * *s past its leading spaces and tabs; returns its length without the
 * trailing ones (a header value's optional white space, RFC 9110 5.6.3).
 */
size_t	 util_trim_ows(const char **s);
/* 1 when s is 1..max bytes with no control character (C0 or DEL). */
int	 util_text_ok(const char *s, size_t max);
/*
 * A process that holds secrets (keys, tokens, personal data in memory)
 * never writes a core file and cannot be attached to or read through
 * /proc by another process of its user: RLIMIT_CORE 0 and not dumpable.
 */
void	 util_no_core_dumps(void);
/* n bytes at p (p may be NULL when n is 0): one piece of a message. */
struct util_part {
	const void	*p;
	size_t		 n;
};
#define UTIL_HMAC_BYTES	32u
/* HMAC-SHA256 under key of the parts one after another; the state is wiped after. */
void	 util_hmac_sha256(const unsigned char *key, size_t keylen,
	    const struct util_part *parts, size_t nparts, unsigned char mac[UTIL_HMAC_BYTES]);
/* Hex-encode n bytes into out (2n+1 bytes). */
void	 util_hex(char *out, const unsigned char *in, size_t n);
/* The value of one hex digit (either case), or -1. */
int	 util_hexval(int c);
/*
 * The length of the well-formed UTF-8 sequence at s (of at most n bytes,
 * n >= 1): 1 to 4, or 0 for an invalid one (a stray continuation byte, an
 * overlong form, a surrogate, past U+10FFFF, cut short).
 */
size_t	 util_utf8_seq(const unsigned char *s, size_t n);
/* Fill `out` with n random bytes, URL-safe base64 without padding. */
void	 util_random_token(char *out, size_t outsz, size_t nbytes);



/* 1 if s is a canonical UUID text (8-4-4-4-12 hex digits). */
int	 util_uuid_ok(const char *s);
/* A random (version 4) UUID in canonical text form. */
void	 util_uuid_v4(char out[37]);

#endif
