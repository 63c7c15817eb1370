/*
 * ratelimit: token buckets in Redis, one Lua script, Redis's own clock (so
 * responders with skewed clocks agree).  A bucket holds `per_minute` tokens
 * and refills continuously.
 */
#ifndef CB_RATELIMIT_H
#define CB_RATELIMIT_H

struct kv;

/*
 * Take one token from bucket `key`.  CB_OK when allowed; CB_ERR_RATE_LIMITED
 * with *retry_after_ms set when not; CB_ERR_KV_DOWN when Redis is away (the
 * caller decides whether to fail open or closed).
 */
int	 ratelimit_take(struct kv *, const char *key, long per_minute, long *retry_after_ms);

#define RATELIMIT_MAX_BUCKETS	4

/*
 * One token from each of n buckets (1..RATELIMIT_MAX_BUCKETS), all or none,
 * in one script call: a caller charged by several budgets (an API key's and
 * its tenant's) pays one round trip, and a refusal by one budget spends
 * nothing from the others.  CB_ERR_RATE_LIMITED: *which is the index of the
 * first empty bucket and *retry_after_ms its wait.  Errors as
 * ratelimit_take; CB_ERR_VALIDATION for a bad n.
 */
int	 ratelimit_take_all(struct kv *, const char *const *keys, const long *per_minute,
	    int n, long *retry_after_ms, int *which);

#endif
