/*
 * ratelimit: see ratelimit.h.
 */
#include <stdio.h>

#include "errs.h"
#include "kv.h"
#include "ratelimit.h"

static struct kv_script ratelimit_lua = {
	.lua =
	"local cap = tonumber(ARGV[1])\n"
	"local rate = cap / 60000.0\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local b = redis.call('HMGET', KEYS[1], 'tok', 'ts')\n"
	"local tok = tonumber(b[1])\n"
	"local ts = tonumber(b[2])\n"
	"if tok == nil or ts == nil then tok = cap; ts = now end\n"
	"tok = math.min(cap, tok + math.max(0, now - ts) * rate)\n"
	"local ok, wait = 0, 0\n"
	"if tok >= 1 then tok = tok - 1; ok = 1 else wait = math.ceil((1 - tok) / rate) end\n"
	"redis.call('HSET', KEYS[1], 'tok', tostring(tok), 'ts', tostring(now))\n"
	"redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 1000)\n"
	"return {ok, wait}\n",
};

int
ratelimit_take(struct kv *kv, const char *key, long per_minute, long *retry_after_ms)
{
	struct kv_reply	*r = NULL;
	char		 cap[24];
	const char	*argv[2];
	int		 rc;

	*retry_after_ms = 0;
	snprintf(cap, sizeof(cap), "%ld", per_minute > 0 ? per_minute : 1);
	argv[0] = key;
	argv[1] = cap;
	if ((rc = kv_eval(kv, &ratelimit_lua, &r, 1, 2, argv)) != CB_OK)
		return rc;
	if (kv_reply_type(r) != KV_ARR || kv_reply_len(r) != 2) {
		kv_reply_free(r);
		return CB_ERR_KV;
	}
	if (kv_reply_int(kv_reply_elem(r, 0)) == 1)
		rc = CB_OK;
	else {
		*retry_after_ms = (long)kv_reply_int(kv_reply_elem(r, 1));
		rc = CB_ERR_RATE_LIMITED;
	}
	kv_reply_free(r);
	return rc;
}
