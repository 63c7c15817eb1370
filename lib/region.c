/*
 * region: see region.h.  Pure functions over the settings' text: no state.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "errs.h"
#include "region.h"
#include "util.h"

static const char *const regions[] = { "us", "ca", "eu", "uk", "ap", "au", "jp" };

#define REGION_HOST_MAX	253

int
region_ok(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
		if (strcmp(name, regions[i]) == 0)
			return 1;
	return 0;
}

const char *
region_list(void)
{
	return "us, ca, eu, uk, ap, au, jp";
}

/* The next "suffix=region" entry of *p: its parts' bounds; 0 at the end. */
static int
region_next(const char **p, const char **suf, size_t *sl, const char **reg, size_t *rl)
{
	const char	*e, *eq;

	*p += strspn(*p, ", \t");
	if (**p == '\0')
		return 0;
	e = *p + strcspn(*p, ", \t");
	eq = memchr(*p, '=', (size_t)(e - *p));
	*suf = *p;
	*sl = eq ? (size_t)(eq - *p) : (size_t)(e - *p);
	*reg = eq ? eq + 1 : e;
	*rl = eq ? (size_t)(e - eq - 1) : 0;
	*p = e;
	return 1;
}

int
region_hosts_check(const char *map, const char **why)
{
	const char	*p = map ? map : "", *suf, *reg;
	size_t		 sl, rl, i;
	char		 r[REGION_BUFSZ];

	while (region_next(&p, &suf, &sl, &reg, &rl)) {
		if (sl == 0 || sl > REGION_HOST_MAX || (sl == 1 && suf[0] == '.')) {
			*why = "each entry is suffix=region with a host suffix of 1 to 253 characters";
			return CB_ERR_CONFIG;
		}
		for (i = 0; i < sl; i++)
			if (!((suf[i] >= 'a' && suf[i] <= 'z') || (suf[i] >= 'A' && suf[i] <= 'Z') ||
			    (suf[i] >= '0' && suf[i] <= '9') || suf[i] == '.' || suf[i] == '-')) {
				*why = "a host suffix holds letters, digits, dots and dashes only";
				return CB_ERR_CONFIG;
			}
		if (rl == 0 || rl >= sizeof(r)) {
			*why = "each entry names a region: us, ca, eu, uk, ap, au or jp";
			return CB_ERR_CONFIG;
		}
		memcpy(r, reg, rl);
		r[rl] = '\0';
		if (!region_ok(r)) {
			*why = "each entry names a region: us, ca, eu, uk, ap, au or jp";
			return CB_ERR_CONFIG;
		}
	}
	return CB_OK;
}

/* The host of an http(s) URL, lower-cased, without port or brackets. */
static int
region_host(const char *url, char *host, size_t hostsz)
{
	const char	*a, *e;
	size_t		 n, i;

	if (url == NULL)
		return CB_ERR_VALIDATION;
	if (strncasecmp(url, "https://", 8) == 0)
		a = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		a = url + 7;
	else
		return CB_ERR_VALIDATION;
	if (*a == '[') {
		a++;
		e = strchr(a, ']');
		if (e == NULL)
			return CB_ERR_VALIDATION;
	} else {
		e = a + strcspn(a, ":/?#");
		if (memchr(a, '@', (size_t)(e - a)) != NULL)
			return CB_ERR_VALIDATION;
	}
	n = (size_t)(e - a);
	if (n == 0 || n >= hostsz)
		return CB_ERR_VALIDATION;
	for (i = 0; i < n; i++)
		host[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] + 32) : a[i];
	host[n] = '\0';
	/* A fully qualified name's trailing dot names the same host. */
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	return CB_OK;
}

int
region_of_url(const char *map, const char *url, char out[REGION_BUFSZ])
{
	const char	*p = map ? map : "", *suf, *reg;
	size_t		 sl, rl, hl, best = 0;
	char		 host[REGION_HOST_MAX + 3];
	int		 hit;

	out[0] = '\0';
	if (region_host(url, host, sizeof(host)) != CB_OK)
		return CB_ERR_VALIDATION;
	hl = strlen(host);
	while (region_next(&p, &suf, &sl, &reg, &rl)) {
		if (sl == 0 || rl == 0 || rl >= REGION_BUFSZ || sl > hl)
			continue;
		if (suf[0] == '.')
			hit = hl > sl && strncasecmp(host + hl - sl, suf, sl) == 0;
		else
			hit = strncasecmp(host + hl - sl, suf, sl) == 0 &&
			    (hl == sl || host[hl - sl - 1] == '.');
		if (hit && sl > best) {
			best = sl;
			memcpy(out, reg, rl);
			out[rl] = '\0';
		}
	}
	return CB_OK;
}

int
region_url_check(const char *map, const char *pinned, const char *url, char out[REGION_BUFSZ],
    char *why, size_t whysz)
{
	char	 host[REGION_HOST_MAX + 3];

	if (region_of_url(map, url, out) != CB_OK) {
		snprintf(why, whysz, "%s: not an http(s) URL", REGION_RULE);
		return CB_ERR_VALIDATION;
	}
	if (pinned == NULL || pinned[0] == '\0' || strcmp(out, pinned) == 0)
		return CB_OK;
	(void)region_host(url, host, sizeof(host));
	if (out[0] == '\0')
		snprintf(why, whysz, "%s: the tenant is pinned to region %s and the host %.120s is "
		    "in no region (CB_REGION_HOSTS claims it for none)", REGION_RULE, pinned, host);
	else
		snprintf(why, whysz, "%s: the tenant is pinned to region %s and the host %.120s is "
		    "in region %s (CB_REGION_HOSTS)", REGION_RULE, pinned, host, out);
	return CB_ERR_RESIDENCY;
}
