/*
 * ratelimit: see ratelimit.h.
 */
#include <stdio.h>

#include "errs.h"
#include "kv.h"
#include "ratelimit.h"

/*
 * Every bucket refilled to now first; if one lacks a whole token, nothing is
 * written and its index and wait come back.  Else one token leaves each.
 * ARGV[i] is bucket i's capacity (tokens a minute).
 */
static struct kv_script ratelimit_lua = {
	.lua =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local toks = {}\n"
	"for i = 1, #KEYS do\n"
	"  local cap = tonumber(ARGV[i])\n"
	"  local rate = cap / 60000.0\n"
	"  local b = redis.call('HMGET', KEYS[i], 'tok', 'ts')\n"
	"  local tok = tonumber(b[1])\n"
	"  local ts = tonumber(b[2])\n"
	"  if tok == nil or ts == nil then tok = cap; ts = now end\n"
	"  tok = math.min(cap, tok + math.max(0, now - ts) * rate)\n"
	"  if tok < 1 then return {0, math.ceil((1 - tok) / rate), i - 1} end\n"
	"  toks[i] = tok\n"
	"end\n"
	"for i = 1, #KEYS do\n"
	"  local cap = tonumber(ARGV[i])\n"
	"  redis.call('HSET', KEYS[i], 'tok', tostring(toks[i] - 1), 'ts', tostring(now))\n"
	"  redis.call('PEXPIRE', KEYS[i], 60000 + 1000)\n"
	"end\n"
	"return {1, 0, -1}\n",
};

int
ratelimit_take_all(struct kv *kv, const char *const *keys, const long *per_minute, int n,
    long *retry_after_ms, int *which)
{
	struct kv_reply	*r = NULL;
	char		 cap[RATELIMIT_MAX_BUCKETS][24];
	const char	*argv[2 * RATELIMIT_MAX_BUCKETS];
	int		 i, rc;

	*retry_after_ms = 0;
	*which = -1;
	if (n < 1 || n > RATELIMIT_MAX_BUCKETS)
		return CB_ERR_VALIDATION;
	for (i = 0; i < n; i++) {
		snprintf(cap[i], sizeof(cap[i]), "%ld", per_minute[i] > 0 ? per_minute[i] : 1);
		argv[i] = keys[i];
		argv[n + i] = cap[i];
	}
	if ((rc = kv_eval(kv, &ratelimit_lua, &r, n, 2 * n, argv)) != CB_OK)
		return rc;
	if (kv_reply_type(r) != KV_ARR || kv_reply_len(r) != 3) {
		kv_reply_free(r);
		return CB_ERR_KV;
	}
	if (kv_reply_int(kv_reply_elem(r, 0)) == 1)
		rc = CB_OK;
	else {
		*retry_after_ms = (long)kv_reply_int(kv_reply_elem(r, 1));
		*which = (int)kv_reply_int(kv_reply_elem(r, 2));
		rc = CB_ERR_RATE_LIMITED;
	}
	kv_reply_free(r);
	return rc;
}

int
ratelimit_take(struct kv *kv, const char *key, long per_minute, long *retry_after_ms)
{
	int	 which;

	return ratelimit_take_all(kv, &key, &per_minute, 1, retry_after_ms, &which);
}
