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

#endif
