/*
 * egress: see egress.h.  The address classifier, the host allowlist, the
 * private allowlist and Retry-After, moved out of lib/httpc so that the
 * rules can be read (and tested) apart from the libcurl plumbing that
 * applies them.  HTTP-dates are parsed here too, by hand: libcurl is
 * called only from lib/httpc.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "egress.h"
#include "errs.h"
#include "util.h"

/* ---- the address classifier ------------------------------------------ */

static int
egress_v4_public(const unsigned char *a)
{
	/* Everything not routable on the public internet, or not a unicast host. */
	static const struct {
		uint32_t	 net;
		int		 len;
	} internal[] = {
		{ 0x00000000u, 8 },	/* "this network" */
		{ 0x0a000000u, 8 },	/* RFC 1918 */
		{ 0x64400000u, 10 },	/* CGNAT, RFC 6598 */
		{ 0x7f000000u, 8 },	/* loopback */
		{ 0xa9fe0000u, 16 },	/* link-local, cloud metadata 169.254.169.254 */
		{ 0xac100000u, 12 },	/* RFC 1918 */
		{ 0xc0000000u, 24 },	/* IETF protocol assignments */
		{ 0xc0000200u, 24 },	/* TEST-NET-1 */
		{ 0xc0586300u, 24 },	/* 6to4 relay anycast (deprecated) */
		{ 0xc0a80000u, 16 },	/* RFC 1918 */
		{ 0xc6120000u, 15 },	/* benchmarking */
		{ 0xc6336400u, 24 },	/* TEST-NET-2 */
		{ 0xcb007100u, 24 },	/* TEST-NET-3 */
		{ 0xe0000000u, 4 },	/* multicast */
		{ 0xf0000000u, 4 },	/* reserved, and 255.255.255.255 */
	};
	uint32_t	 x, mask;
	size_t		 i;

	x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 |
	    (uint32_t)a[3];
	for (i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
		mask = 0xffffffffu << (32 - internal[i].len);
		if ((x & mask) == internal[i].net)
			return 0;
	}
	return 1;
}

static int
egress_v6_public(const unsigned char *a)
{
	static const unsigned char mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] =
	    { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

	/* Forms that carry an IPv4 address reach it: judge that address. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return egress_v4_public(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02)	/* 6to4 */
		return egress_v4_public(a + 2);
	/*
	 * Only global unicast 2000::/3 is public.  This one test refuses ::,
	 * ::1, IPv4-compatible ::/96, 100::/64, 64:ff9b:1::/48, fc00::/7,
	 * fe80::/10, fec0::/10 and ff00::/8.
	 */
	if ((a[0] & 0xe0) != 0x20)
		return 0;
	/* 2001::/23 IETF protocol assignments (Teredo, ORCHID, benchmarking). */
	if (a[0] == 0x20 && a[1] == 0x01 && (a[2] & 0xfe) == 0)
		return 0;
	/* Documentation: 2001:db8::/32 and 3fff::/20. */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return 0;
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)
		return 0;
	return 1;
}

int
egress_addr_public(const char *addr)
{
	unsigned char	 a[16];

	if (addr == NULL)
		return -1;
	if (strchr(addr, ':') != NULL) {
		if (inet_pton(AF_INET6, addr, a) != 1)
			return -1;
		return egress_v6_public(a);
	}
	if (inet_pton(AF_INET, addr, a) != 1)
		return -1;
	return egress_v4_public(a);
}

int
egress_sockaddr_public(const struct sockaddr *sa, socklen_t len, char *text,
    size_t textsz)
{
	struct sockaddr_in	 v4;
	struct sockaddr_in6	 v6;

	util_strlcpy(text, "?", textsz);
	if (sa->sa_family == AF_INET && (size_t)len >= sizeof(v4)) {
		memcpy(&v4, sa, sizeof(v4));
		inet_ntop(AF_INET, &v4.sin_addr, text, (socklen_t)textsz);
		return egress_v4_public((const unsigned char *)&v4.sin_addr);
	}
	if (sa->sa_family == AF_INET6 && (size_t)len >= sizeof(v6)) {
		memcpy(&v6, sa, sizeof(v6));
		inet_ntop(AF_INET6, &v6.sin6_addr, text, (socklen_t)textsz);
		return egress_v6_public(v6.sin6_addr.s6_addr);
	}
	/* Unix sockets and anything else: not a destination we know. */
	return 0;
}

/* ---- the host allowlist ------------------------------------------------ */

int
egress_host_allowed(const char *host, const char *const *allow)
{
	size_t	 hl, pl, i;
	int	 literal;

	if (host == NULL || (hl = strlen(host)) == 0)
		return 0;
	if (allow == NULL || allow[0] == NULL)
		return 1;
	/* "api.example.com." names the same host as "api.example.com". */
	if (hl > 1 && host[hl - 1] == '.')
		hl--;
	/* An address literal is one host: "*.0.0.1" must not match 127.0.0.1. */
	literal = host[0] == '[' || strspn(host, "0123456789.") == strlen(host);
	for (i = 0; allow[i] != NULL; i++) {
		pl = strlen(allow[i]);
		if (pl > 2 && allow[i][0] == '*' && allow[i][1] == '.') {
			if (literal)
				continue;
			/* The dot is compared too: "*.b.com" never matches "xb.com". */
			if (hl > pl - 1 && strncasecmp(host + hl - (pl - 1),
			    allow[i] + 1, pl - 1) == 0)
				return 1;
		} else if (pl == hl && pl > 0 && allow[i][0] != '*' &&
		    strncasecmp(host, allow[i], hl) == 0)
			return 1;
	}
	return 0;
}

/* ---- the private allowlist --------------------------------------------- */

static int
egress_host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

int
egress_hostport(const char *tok, size_t n, char *out, size_t outsz)
{
	char		 port[8];
	const char	*colon = NULL;
	size_t		 i, hl;
	long long	 p;

	for (i = 0; i < n; i++)
		if (tok[i] == ':')
			colon = tok + i;
	if (colon == NULL || (hl = (size_t)(colon - tok)) == 0 ||
	    n - hl - 1 == 0 || n - hl - 1 >= sizeof(port) || hl + 8 > outsz)
		return CB_ERR_CONFIG;
	memcpy(port, colon + 1, n - hl - 1);
	port[n - hl - 1] = '\0';
	if (util_parse_ll(port, 1, 65535, &p) != CB_OK)
		return CB_ERR_CONFIG;
	if (tok[0] == '[') {
		if (hl < 3 || tok[hl - 1] != ']')
			return CB_ERR_CONFIG;
		for (i = 1; i + 1 < hl; i++)
			if (!egress_host_char((unsigned char)tok[i]) && tok[i] != ':')
				return CB_ERR_CONFIG;
	} else
		for (i = 0; i < hl; i++)
			if (!egress_host_char((unsigned char)tok[i]))
				return CB_ERR_CONFIG;
	for (i = 0; i < hl; i++)
		out[i] = (tok[i] >= 'A' && tok[i] <= 'Z') ? (char)(tok[i] + 32) : tok[i];
	snprintf(out + hl, outsz - hl, ":%lld", p);
	return CB_OK;
}

int
egress_private_parse(struct egress_private *pl, const char *list, char *bad,
    size_t badsz)
{
	const char	*p = list ? list : "";
	char		 entry[EGRESS_HOSTPORT_MAX];
	size_t		 n;

	if (badsz > 0)
		bad[0] = '\0';
	while (*p != '\0') {
		if (*p == ',' || *p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		n = strcspn(p, ", \t");
		if (pl->n == EGRESS_PRIVATE_MAX || n >= sizeof(entry) ||
		    egress_hostport(p, n, entry, sizeof(entry)) != CB_OK) {
			if (badsz > 0)
				util_strlcpy(bad, p, n + 1 < badsz ? n + 1 : badsz);
			egress_private_free(pl);
			return CB_ERR_CONFIG;
		}
		pl->entry[pl->n++] = util_strdup(entry);
		p += n;
	}
	return CB_OK;
}

void
egress_private_free(struct egress_private *pl)
{
	while (pl->n > 0) {
		free(pl->entry[--pl->n]);
		pl->entry[pl->n] = NULL;
	}
}

int
egress_private_has(const struct egress_private *pl, const char *hostport)
{
	return util_str_in(pl->entry, pl->n, hostport);
}

/* ---- what a request may carry ------------------------------------------ */

int
egress_method_ok(const char *m)
{
	size_t	 i;

	if (m == NULL)
		return 0;
	for (i = 0; m[i] != '\0'; i++)
		if (i >= EGRESS_METHOD_MAX || m[i] < 'A' || m[i] > 'Z')
			return 0;
	return i > 0;
}

int
egress_header_line_ok(const char *hd)
{
	size_t	 n;

	if (hd == NULL)
		return 0;
	n = strcspn(hd, ":;");
	if (n == 0 || hd[n] == '\0' || strlen(hd) > EGRESS_HEADER_LINE_MAX)
		return 0;
	return strpbrk(hd, "\r\n") == NULL;
}

int
egress_header_value(const char *p, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t	 nl = strlen(name), i, j = 0;

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return 0;
	for (i = nl + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (; i < len && p[i] != '\r' && p[i] != '\n' && j + 1 < outsz; i++)
		out[j++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == '\t'))
		j--;
	out[j] = '\0';
	return 1;
}

/* ---- Retry-After ------------------------------------------------------- */

static const char *const egress_days[7][2] = {
	{ "Mon", "Monday" }, { "Tue", "Tuesday" }, { "Wed", "Wednesday" },
	{ "Thu", "Thursday" }, { "Fri", "Friday" }, { "Sat", "Saturday" },
	{ "Sun", "Sunday" },
};

static const char *const egress_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Letters at *s into out (at most outsz - 1 of them).  Their count, 0 if too many. */
static size_t
egress_word(const char **s, char *out, size_t outsz)
{
	size_t	 n = 0;

	while (((**s >= 'A' && **s <= 'Z') || (**s >= 'a' && **s <= 'z'))) {
		if (n + 1 >= outsz)
			return 0;
		out[n++] = *(*s)++;
	}
	out[n] = '\0';
	return n;
}

/* minn to maxn digits at *s. */
static int
egress_num(const char **s, size_t minn, size_t maxn, int *out)
{
	size_t	 n = 0;
	int	 v = 0;

	while (**s >= '0' && **s <= '9') {
		if (++n > maxn)
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	if (n < minn)
		return -1;
	*out = v;
	return 0;
}

/*
 * A year of exactly four digits, or two (RFC 850): 70-99 are the 1900s,
 * the rest the 2000s.
 */
static int
egress_year(const char **s, int *out)
{
	const char	*p = *s;

	if (egress_num(s, 2, 4, out) || *s - p == 3)
		return -1;
	if (*s - p == 2)
		*out += *out >= 70 ? 1900 : 2000;
	return 0;
}

/* One or more spaces. */
static int
egress_sp(const char **s)
{
	if (**s != ' ')
		return -1;
	while (**s == ' ')
		(*s)++;
	return 0;
}

static int
egress_lit(const char **s, char c)
{
	if (**s != c)
		return -1;
	(*s)++;
	return 0;
}

static int
egress_month(const char **s)
{
	char	 w[8];
	int	 i;

	if (egress_word(s, w, sizeof(w)) != 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (strcasecmp(w, egress_months[i]) == 0)
			return i;
	return -1;
}

/* hh:mm:ss */
static int
egress_clock(const char **s, int *hh, int *mm, int *ss)
{
	return egress_num(s, 2, 2, hh) || egress_lit(s, ':') ||
	    egress_num(s, 2, 2, mm) || egress_lit(s, ':') ||
	    egress_num(s, 2, 2, ss) ? -1 : 0;
}

static int
egress_gmt(const char **s)
{
	char	 w[8];

	if (egress_word(s, w, sizeof(w)) == 0)
		return -1;
	return strcasecmp(w, "GMT") == 0 || strcasecmp(w, "UTC") == 0 ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
static long long
egress_days_from_civil(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
egress_mdays(int y, int m)
{
	static const int	 days[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m];
}

/*
 * An HTTP-date into seconds since the epoch:
 *   Sun, 06 Nov 1994 08:49:37 GMT	(IMF-fixdate)
 *   Sunday, 06-Nov-94 08:49:37 GMT	(RFC 850)
 *   Sun Nov  6 08:49:37 1994		(asctime)
 * The weekday is not checked against the date; "UTC" is taken for "GMT",
 * and a missing zone means GMT.  -1 if malformed.
 */
static int
egress_http_date(const char *s, long long *out)
{
	char	 w[16];
	int	 i, day, mon, year, hh, mm, ss, ok = 0;

	if (egress_word(&s, w, sizeof(w)) == 0)
		return -1;
	for (i = 0; i < 7; i++)
		if (strcasecmp(w, egress_days[i][0]) == 0 ||
		    strcasecmp(w, egress_days[i][1]) == 0)
			ok = 1;
	if (!ok)
		return -1;
	if (*s == ',') {
		s++;
		if (egress_sp(&s) || egress_num(&s, 1, 2, &day))
			return -1;
		if (*s == '-') {
			if (egress_lit(&s, '-') || (mon = egress_month(&s)) < 0 ||
			    egress_lit(&s, '-') || egress_year(&s, &year))
				return -1;
		} else if (egress_sp(&s) || (mon = egress_month(&s)) < 0 ||
		    egress_sp(&s) || egress_year(&s, &year))
			return -1;
		if (egress_sp(&s) || egress_clock(&s, &hh, &mm, &ss))
			return -1;
		/* The zone is GMT; a sender that leaves it out still means GMT. */
		if (*s != '\0' && (egress_sp(&s) || egress_gmt(&s)))
			return -1;
	} else {
		if (egress_sp(&s) || (mon = egress_month(&s)) < 0 ||
		    egress_sp(&s) || egress_num(&s, 1, 2, &day) ||
		    egress_sp(&s) || egress_clock(&s, &hh, &mm, &ss) ||
		    egress_sp(&s) || egress_num(&s, 4, 4, &year))
			return -1;
	}
	if (*s != '\0')
		return -1;
	if (day < 1 || day > egress_mdays(year, mon) || hh > 23 || mm > 59 ||
	    ss > 60)
		return -1;
	*out = egress_days_from_civil(year, mon + 1, day) * 86400LL +
	    hh * 3600LL + mm * 60LL + ss;
	return 0;
}

long
egress_retry_after(const char *value, double now_s)
{
	const char	*s, *e;
	char		 date[64];
	long		 v = 0;
	long long	 t;
	double		 d;

	if (value == NULL)
		return -1;
	for (s = value; *s == ' ' || *s == '\t'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if (e == s)
		return -1;
	if (*s >= '0' && *s <= '9') {
		/* delay-seconds: digits only; saturate instead of overflowing. */
		for (; s < e; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			if (v < EGRESS_RETRY_AFTER_MAX)
				v = v * 10 + (*s - '0');
		}
		return v > EGRESS_RETRY_AFTER_MAX ? EGRESS_RETRY_AFTER_MAX : v;
	}
	if ((size_t)(e - s) >= sizeof(date))
		return -1;
	memcpy(date, s, (size_t)(e - s));
	date[e - s] = '\0';
	if (egress_http_date(date, &t) != 0)
		return -1;
	d = (double)t - now_s;
	if (d <= 0)
		return 0;
	if (d >= (double)EGRESS_RETRY_AFTER_MAX)
		return EGRESS_RETRY_AFTER_MAX;
	v = (long)d;
	return (double)v < d ? v + 1 : v;
}
