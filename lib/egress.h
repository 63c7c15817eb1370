/*
 * egress: the policy half of outbound HTTP, with no I/O and no libcurl.
 * Which addresses count as internal, which host names a request's
 * allowlist admits, how a private allowlist of "host:port" entries is
 * written, and what a Retry-After value means.  lib/httpc enforces these
 * rules on every transfer; lib/webhooks and lib/sf check their inputs
 * against the same rules, so a URL accepted at the edge is judged exactly
 * as the transfer will judge it.
 *
 * It also says what a request may carry (a method, a header line) and
 * reads one response header line, so a header is parsed one way only.
 *
 * Guarantees: every function here is pure (apart from the allocation of
 * a parsed allowlist), bounded in the input it reads, and never logs.
 */
#ifndef CB_EGRESS_H
#define CB_EGRESS_H

#include <stddef.h>
#include <sys/socket.h>

#define EGRESS_PRIVATE_MAX	64	/* entries in a private allowlist */
#define EGRESS_HOSTPORT_MAX	300u	/* "[v6]:port", or a 253-byte name and port */
#define EGRESS_RETRY_AFTER_MAX	86400L	/* Retry-After is capped at one day */
#define EGRESS_METHOD_MAX	16u	/* bytes of a request method */
#define EGRESS_HEADER_LINE_MAX	8192u	/* bytes of one request header line */

/*
 * 1 if the address (an IPv4 or IPv6 literal) is public, 0 if it is
 * internal, -1 if it is not an address.  Internal: loopback, RFC 1918,
 * CGNAT 100.64/10, link-local (169.254/16, fe80::/10, which holds the
 * cloud metadata address), unique-local fc00::/7, 0.0.0.0/8, multicast,
 * documentation and reserved ranges, and the IPv4-mapped, NAT64 and 6to4
 * forms of every internal IPv4 address.
 */
int	 egress_addr_public(const char *addr);

/*
 * The same judgement for a socket address (AF_INET or AF_INET6; anything
 * else is internal).  The address as text goes to text either way ("?" if
 * it has none).
 */
int	 egress_sockaddr_public(const struct sockaddr *, socklen_t len,
	    char *text, size_t textsz);

/*
 * 1 if host matches one of the patterns (exact, or "*.suffix"), case-
 * insensitive.  "*.suffix" matches subdomains only, never the bare suffix,
 * and never an address literal (127.0.0.1 only matches "127.0.0.1").  A
 * trailing dot on host is ignored.  NULL or an empty list allows any host.
 */
int	 egress_host_allowed(const char *host, const char *const *allow);

/*
 * A private allowlist: "host:port" entries that may resolve to internal
 * addresses and may be spoken to in plain http.  Entries are kept in
 * canonical form: host in lower case (an IPv6 literal in brackets), port
 * in decimal without leading zeros.
 */
struct egress_private {
	char	*entry[EGRESS_PRIVATE_MAX];
	size_t	 n;
};

/*
 * One entry of n bytes (not NUL-terminated) into its canonical form.
 * CB_OK, or CB_ERR_CONFIG if it is not host:port with a port of 1-65535
 * and a host of letters, digits, '.', '-', '_' (or a bracketed IPv6
 * literal), or does not fit outsz.
 */
int	 egress_hostport(const char *tok, size_t n, char *out, size_t outsz);

/*
 * Parse a list of entries separated by commas, spaces or tabs (NULL or ""
 * is an empty list) into p, which the caller zeroes first and releases
 * with egress_private_free.  CB_ERR_CONFIG for a malformed entry or more
 * than EGRESS_PRIVATE_MAX of them, the offending entry (cut short) copied
 * to bad; p then holds nothing.
 */
int	 egress_private_parse(struct egress_private *p, const char *list,
	    char *bad, size_t badsz);
void	 egress_private_free(struct egress_private *p);

/* 1 if hostport (canonical form, as a transfer's URL gives it) is listed. */
int	 egress_private_has(const struct egress_private *p, const char *hostport);

/* 1 if m is a request method: 1 to 16 capital letters. */
int	 egress_method_ok(const char *m);

/*
 * 1 if hd is one request header line: "Name: value" (or libcurl's "Name;"
 * for an empty value), a name before the separator, no CR or LF, at most
 * EGRESS_HEADER_LINE_MAX bytes.  Anything else could smuggle a header.
 */
int	 egress_header_line_ok(const char *hd);

/*
 * If the response header line p (len bytes, CRLF included or not) is named
 * name (case-insensitive), its value, trimmed, into out with every byte
 * that is not printable ASCII replaced by '?', and 1; else 0.
 */
int	 egress_header_value(const char *p, size_t len, const char *name,
	    char *out, size_t outsz);

/*
 * A Retry-After value: delay-seconds, or an HTTP-date (RFC 9110 §5.6.7:
 * IMF-fixdate and the obsolete RFC 850 and asctime forms) turned into
 * seconds from now_s (0 if past).  -1 if malformed.  Capped at one day.
 */
long	 egress_retry_after(const char *value, double now_s);

#endif
