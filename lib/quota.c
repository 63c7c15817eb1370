/*
 * quota: see quota.h.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "quota.h"
#include "ratelimit.h"
#include "readthrough.h"
#include "req.h"
#include "util.h"

long long
quota_tier_limit(const struct settings *s, const char *tier, enum route_quota q)
{
	int	 cmd = q == QUOTA_COMMAND;

	if (q == QUOTA_CALL_EVENT) {
		if (strcmp(tier, "free") == 0)
			return s->quota_free_call_events_per_min;
		if (strcmp(tier, "team") == 0)
			return s->quota_team_call_events_per_min;
		if (strcmp(tier, "enterprise") == 0)
			return s->quota_enterprise_call_events_per_min;
		return -1;
	}
	if (strcmp(tier, "free") == 0)
		return cmd ? s->quota_free_commands_per_min : s->quota_free_submits_per_min;
	if (strcmp(tier, "team") == 0)
		return cmd ? s->quota_team_commands_per_min : s->quota_team_submits_per_min;
	if (strcmp(tier, "enterprise") == 0)
		return cmd ? s->quota_enterprise_commands_per_min :
		    s->quota_enterprise_submits_per_min;
	return -1;
}

/* Where quota_tier puts the tier. */
struct quota_tier_out {
	char	*tier;
	size_t	 tiersz;
};

static int
quota_tier_take(struct readthrough *rt, const char *entry, size_t len)
{
	struct quota_tier_out	*o = rt->ud;

	(void)len;
	util_strlcpy(o->tier, entry, o->tiersz);
	return 0;
}

static char *
quota_tier_entry(struct readthrough *rt, const struct db_res *res)
{
	(void)rt;
	return util_strdup(db_val(res, 0, 0));
}

/* The tenant's tier: this process's memo, else Postgres (lib/readthrough.h, no Redis). */
static int
quota_tier(struct req *r, char *tier, size_t tiersz)
{
	struct quota_tier_out	 o = { tier, tiersz };
	const char		*p[1] = { r->org };
	char			 key[48];
	struct readthrough	 rt = {
		.key = key, .nparams = 1, .params = p,
		.sql = "SELECT plan FROM orgs WHERE id = $1::bigint",
		.missing = CB_ERR_INTERNAL,	/* an authenticated caller has an org */
		.memo_ms = QUOTA_PLAN_MEMO_MS,
		.take = quota_tier_take, .entry = quota_tier_entry, .ud = &o,
	};

	snprintf(key, sizeof(key), "cb:plan:%s", r->org);
	return readthrough_get(&rt, r->app->db, NULL, r->app->memo);
}

int
quota_take(struct req *r, enum route_quota q, const struct quota_bucket *own,
    long *retry_after_ms, char *detail, size_t detailsz)
{
	const struct settings	*s = &r->app->settings;
	const char		*what = q == QUOTA_COMMAND ? "commands" :
				    q == QUOTA_CALL_EVENT ? "call events" : "submits";
	const char		*kwhat = q == QUOTA_CALL_EVENT ? "call_events" : what;
	const char		*keys[3];
	char			 tier[24] = "", kkey[96], okey[96];
	long			 caps[3];
	long long		 lim = 0, klim = 0;
	int			 rc, n = 0, which = -1, own_at = -1, key_at = -1;

	*retry_after_ms = 0;
	if (own != NULL && own->per_minute > 0) {
		own_at = n;
		keys[n] = own->key;
		caps[n++] = own->per_minute;
	}
	if (q != QUOTA_NONE) {
		if (r->org[0] == '\0')
			return CB_ERR_INTERNAL;	/* a quota needs an authenticated tenant */
		if ((rc = quota_tier(r, tier, sizeof(tier))) != CB_OK)
			return rc;
		if ((lim = quota_tier_limit(s, tier, q)) < 0)
			return CB_ERR_INTERNAL;
		/*
		 * The key's own budget and its tenant's, in the same call, all
		 * or none: a key over its budget does not spend its tenant's,
		 * and a tenant over its quota does not spend the key's.
		 */
		if (q == QUOTA_COMMAND && r->key_id[0] != '\0') {
			klim = r->key_commands_per_min > 0 ? r->key_commands_per_min :
			    s->quota_key_commands_per_min;
			snprintf(kkey, sizeof(kkey), "cb:quota:key:%s:commands", r->key_id);
			key_at = n;
			keys[n] = kkey;
			caps[n++] = (long)klim;
		}
		snprintf(okey, sizeof(okey), "cb:quota:org:%s:%s", r->org, kwhat);
		keys[n] = okey;
		caps[n++] = (long)lim;
	}
	if (n == 0)
		return CB_OK;
	rc = ratelimit_take_all(r->app->kv, keys, caps, n, retry_after_ms, &which);
	if (rc == CB_ERR_RATE_LIMITED) {
		/* Inbound events refused are counted in the log (docs/calls.md). */
		if (q == QUOTA_CALL_EVENT && which != own_at)
			log_kv(LOG_LVL_INFO, "call_events_limited", "org", r->org, "plan", tier, NULL);
		if (which == own_at)
			util_strlcpy(detail, own->detail, detailsz);
		else if (which == key_at)
			snprintf(detail, detailsz, "this API key's quota of %lld commands a "
			    "minute is used up", klim);
		else
			snprintf(detail, detailsz, "the %s plan's quota of %lld %s a minute is used up",
			    tier, lim, what);
		return rc;
	}
	if (rc != CB_OK && own_at >= 0) {
		/* No limiter, no request: the route's own limit fails closed. */
		log_kv(LOG_LVL_WARN, "rate_unchecked", "bucket", own->key, "error", errs_name(rc),
		    NULL);
		return CB_ERR_UNAVAILABLE;
	}
	/* Redis cannot count: the quota is not enforced for now (quota.h). */
	if (rc != CB_OK)
		log_kv(LOG_LVL_WARN, "quota_unchecked", "bucket", okey, "error", errs_name(rc),
		    NULL);
	return CB_OK;
}
