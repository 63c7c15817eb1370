/*
 * capacity: see capacity.h.  Whole calls and events in long long (a day of
 * the largest input is 2.4e9 calls, 1.2e10 events: far inside), rates and
 * shares in double.
 */
#include "capacity.h"

static long long
capacity_ceil_div(long long a, long long b)
{
	return (a + b - 1) / b;
}

void
capacity_plan(const struct capacity_in *in, struct capacity_out *out)
{
	long long	 calls_per_day = in->calls_per_hour * 24;

	out->events_per_hour = in->calls_per_hour * in->events_per_call;
	out->events_per_day = out->events_per_hour * 24;
	out->events_per_second = (double)out->events_per_hour / 3600.0;
	out->upserts_unbatched = out->events_per_day;
	out->upserts_batched = capacity_ceil_div(out->events_per_day, in->batch);
	/* A call's first event misses; the rest hit the cache until it lapses. */
	out->lookups_per_call = 1 + in->call_s / in->contact_ttl_s;
	if (out->lookups_per_call > in->events_per_call)
		out->lookups_per_call = in->events_per_call;
	out->lookups = calls_per_day * out->lookups_per_call;
	out->token_mints = in->token_life_s > 0 ? capacity_ceil_div(86400, in->token_life_s) : 0;
	out->total_unbatched = out->upserts_unbatched + out->lookups;
	out->total_batched = out->upserts_batched + out->lookups;
	out->share_unbatched_pct = 100.0 * (double)out->total_unbatched / (double)in->allocation;
	out->share_batched_pct = 100.0 * (double)out->total_batched / (double)in->allocation;
	out->headroom = in->inbound_eps / out->events_per_second;
}
