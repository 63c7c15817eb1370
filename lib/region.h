/*
 * region: data residency (docs/residency.md).  A fixed table of regions a
 * tenant can be pinned to, and the explicit map from a URL's host to a
 * region (CB_REGION_HOSTS): nothing is inferred from a host's name or
 * address, so a host no entry claims is in no region.
 *
 * The rule (region_url_check): for a tenant pinned to a region, every
 * destination it configures (its Salesforce login, audience and instance
 * URLs, its webhook endpoints) must map to that same region; anything else,
 * a host no entry claims included, is refused at configuration time
 * (CB_ERR_RESIDENCY, 422).  A tenant with no region is not pinned: its
 * destinations are tagged with the region their host maps to (or none) and
 * nothing is refused.
 */
#ifndef CB_REGION_H
#define CB_REGION_H

#include <stddef.h>

/* Longest region name, and the buffer that holds one. */
#define REGION_NAME_MAX	2
#define REGION_BUFSZ	(REGION_NAME_MAX + 1)
/* The rule's name, as problem details and docs name it. */
#define REGION_RULE	"data-residency"

/* 1 if name is one of the fixed regions (us, ca, eu, uk, ap, au, jp). */
int	 region_ok(const char *name);
/* The regions, comma-separated, for messages. */
const char *region_list(void);

/*
 * CB_REGION_HOSTS: comma-separated "suffix=region" entries.  A suffix
 * matches a host equal to it or ending in "." + it; one starting with "."
 * matches only hosts below it.  The longest matching suffix wins.  CB_OK, or
 * CB_ERR_CONFIG with a reason in *why (static text).
 */
int	 region_hosts_check(const char *map, const char **why);

/*
 * The region url's host maps to under map, into out (REGION_BUFSZ); "" when
 * no entry claims it.  CB_ERR_VALIDATION when url is not http(s)://host...
 */
int	 region_of_url(const char *map, const char *url, char out[REGION_BUFSZ]);

/*
 * The rule for one destination of a tenant pinned to `pinned` (NULL or "":
 * not pinned, nothing refused).  The url's region goes to out either way.
 * CB_OK, or CB_ERR_RESIDENCY with a reason (naming the rule, the host's
 * region and the tenant's) in why.
 */
int	 region_url_check(const char *map, const char *pinned, const char *url,
	    char out[REGION_BUFSZ], char *why, size_t whysz);

#endif
