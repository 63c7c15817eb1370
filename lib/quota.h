/*
 * quota: what a tenant may do per minute by its plan tier, and what one API
 * key may do, counted where a route declares it (`.quota` in its
 * descriptor) after the caller is authenticated.
 *
 * Each tenant (orgs.plan: free, team or enterprise) has a submits and a
 * commands budget per minute from the settings (CB_QUOTA_<TIER>_*); an
 * agent's commands also count against its key's own budget
 * (api_keys.commands_per_min, NULL = CB_QUOTA_KEY_COMMANDS_PER_MIN).  The
 * buckets are per tenant and per key (lib/ratelimit.h), so one tenant over
 * its quota never touches another's.  A tenant's tier is remembered in the
 * process for QUOTA_PLAN_MEMO_MS: a change of plan applies within that.
 *
 * Redis away: the quota is not counted (logged), since quotas shape use and
 * are not a security boundary; the edge limits still hold.
 */
#ifndef CB_QUOTA_H
#define CB_QUOTA_H

#include <stddef.h>

struct req;
struct settings;

#define QUOTA_PLAN_MEMO_MS	30000.0

/*
 * A route's own rate bucket (its .bucket, route.h), charged in the same
 * script call as the quotas, all or none: command accept's per-tab rate.
 * Unlike a quota it is a limit the route promises, so it fails closed:
 * Redis away means 503, never an unmetered request.
 */
struct quota_bucket {
	char	 key[128];
	long	 per_minute;		/* 0: no bucket this time */
	char	 detail[120];		/* the 429's detail when this bucket ran out */
};

/*
 * Quotas of a tenant (by its plan tier) and of an API key, counted after
 * authentication in Redis token buckets; a route names one as its .quota.
 */
enum route_quota {
	QUOTA_NONE = 0,
	QUOTA_SUBMIT,		/* the tier's submits per minute */
	QUOTA_COMMAND,		/* the tier's commands per minute, and the key's */
	QUOTA_CALL_EVENT,	/* the tier's inbound call events per minute */
	QUOTA__COUNT
};

/*
 * Count one request of kind `q` for the request's tenant (r->org) and key
 * (r->key_id), and the route's own bucket when `own` has one, in one Redis
 * call.  CB_OK, or CB_ERR_RATE_LIMITED with *retry_after_ms and a detail
 * naming the budget that ran out (nothing is spent from the others);
 * CB_ERR_DB_DOWN when the tier cannot be read; CB_ERR_UNAVAILABLE when
 * Redis cannot count and `own` has a bucket.
 */
int	 quota_take(struct req *, enum route_quota q, const struct quota_bucket *own,
	    long *retry_after_ms, char *detail, size_t detailsz);
/* The per-minute budget of a tier for `q`; -1 for an unknown tier. */
long long quota_tier_limit(const struct settings *, const char *tier, enum route_quota q);

#endif
