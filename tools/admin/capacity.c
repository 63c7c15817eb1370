/*
 * cb-admin capacity (usage: tools/cb-admin.c): the planner's arithmetic
 * of lib/capacity.h, no database.  Input errors exit 2 with the option
 * named; the figures are one JSON object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "capacity.h"
#include "errs.h"
#include "util.h"

struct capacity_opt {
	const char	*name;
	long long	 min, max;
	long long	*to;
	int		 seen;
};

static double
round2(double v)
{
	return (double)(long long)(v * 100.0 + 0.5) / 100.0;
}

static void
add_num(cJSON *o, const char *k, double v)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		util_oom();
}

int
cmd_capacity(struct admin *a, int argc, char **argv)
{
	struct capacity_in	 in;
	struct capacity_out	 r;
	long long		 calls = 0, events = 0, rate = CAPACITY_INBOUND_EPS;
	struct capacity_opt	 opts[] = {
		{ "--calls-per-hour", 1, CAPACITY_CALLS_MAX, &calls, 0 },
		{ "--events-per-call", 1, CAPACITY_EVENTS_MAX, &events, 0 },
		{ "--allocation", 1, CAPACITY_ALLOCATION_MAX, &in.allocation, 0 },
		{ "--batch", 1, 200, &in.batch, 0 },
		{ "--call-seconds", 0, 86400, &in.call_s, 0 },
		{ "--inbound-rate", 1, 10000000, &rate, 0 },
	};
	const size_t		 nopts = sizeof(opts) / sizeof(opts[0]);
	cJSON			*o, *sf, *al, *ib, *as;
	char			 src[160];
	size_t			 j;
	int			 i;

	memset(&in, 0, sizeof(in));
	in.allocation = CAPACITY_ALLOCATION_DEFAULT;
	in.batch = a->s.sf_batch;
	for (i = 0; i < argc; i += 2) {
		for (j = 0; j < nopts && strcmp(argv[i], opts[j].name) != 0; j++)
			;
		if (j == nopts) {
			fail("capacity: unknown option %.64s", argv[i]);
			return 2;
		}
		if (opts[j].seen++) {
			fail("capacity: %s given twice", opts[j].name);
			return 2;
		}
		if (i + 1 >= argc || util_parse_ll(argv[i + 1], opts[j].min, opts[j].max,
		    opts[j].to) != CB_OK) {
			fail("capacity: %s takes a whole number from %lld to %lld%s", opts[j].name,
			    opts[j].min, opts[j].max, j == 1 ? " (a call's distinct event types: "
			    "call_started, call_ended, transfer_initiated, disposition_set, timeout)" :
			    "");
			return 2;
		}
	}
	if (!opts[0].seen || !opts[1].seen) {
		fail("usage: capacity --calls-per-hour N --events-per-call M "
		    "[--allocation DAILY_API_CALLS] [--batch B] [--call-seconds S] "
		    "[--inbound-rate EVENTS_PER_S]");
		return 2;
	}
	in.calls_per_hour = calls;
	in.events_per_call = events;
	in.contact_ttl_s = a->s.sf_contact_ttl_s;
	in.token_life_s = a->s.sf_session_s - a->s.sf_refresh_margin_s;
	in.inbound_eps = (double)rate;
	capacity_plan(&in, &r);

	if ((o = cJSON_CreateObject()) == NULL || (sf = cJSON_CreateObject()) == NULL ||
	    (al = cJSON_CreateObject()) == NULL || (ib = cJSON_CreateObject()) == NULL ||
	    (as = cJSON_CreateArray()) == NULL)
		util_oom();
	add_num(o, "calls_per_hour", (double)calls);
	add_num(o, "events_per_call", (double)events);
	add_num(o, "events_per_hour", (double)r.events_per_hour);
	add_num(o, "events_per_second", round2(r.events_per_second));
	add_num(o, "events_per_day", (double)r.events_per_day);
	add_num(sf, "batch", (double)in.batch);
	add_num(sf, "upsert_calls_unbatched", (double)r.upserts_unbatched);
	add_num(sf, "upsert_calls_batched", (double)r.upserts_batched);
	add_num(sf, "contact_ttl_s", (double)in.contact_ttl_s);
	add_num(sf, "contact_lookups_per_call", (double)r.lookups_per_call);
	add_num(sf, "contact_lookups", (double)r.lookups);
	add_num(sf, "token_mints", (double)r.token_mints);
	add_num(sf, "api_calls_unbatched", (double)r.total_unbatched);
	add_num(sf, "api_calls_batched", (double)r.total_batched);
	cJSON_AddItemToObject(o, "salesforce_per_day", sf);
	add_num(al, "daily_api_calls", (double)in.allocation);
	if (cJSON_AddStringToObject(al, "source", opts[2].seen ? "--allocation" :
	    "default: 100,000, the base of the allocation formula (Enterprise adds 1,000 a "
	    "licence)") == NULL)
		util_oom();
	add_num(al, "share_unbatched_pct", round2(r.share_unbatched_pct));
	add_num(al, "share_batched_pct", round2(r.share_batched_pct));
	if (cJSON_AddBoolToObject(al, "fits_batched", r.total_batched <= in.allocation) == NULL ||
	    cJSON_AddBoolToObject(al, "fits_unbatched", r.total_unbatched <= in.allocation) == NULL)
		util_oom();
	cJSON_AddItemToObject(o, "allocation", al);
	add_num(ib, "events_per_second", (double)rate);
	snprintf(src, sizeof(src), "%s", opts[5].seen ? "--inbound-rate" :
	    "measured " CAPACITY_INBOUND_MEASURED);
	if (cJSON_AddStringToObject(ib, "source", src) == NULL)
		util_oom();
	add_num(ib, "headroom", round2(r.headroom));
	cJSON_AddItemToObject(o, "inbound", ib);
	cJSON_AddItemToObject(o, "assumptions", as);
	cJSON_AddItemToArray(as, cJSON_CreateString("one Salesforce record per event; batched "
	    "means full Collections calls (a busy outbox): an idle one sends smaller batches, up "
	    "to one call per event"));
	cJSON_AddItemToArray(as, cJSON_CreateString("every call's caller is new (no repeat "
	    "callers); the contact cache answers a call's later events until CB_SF_CONTACT_TTL_S "
	    "lapses (--call-seconds: the call's length; 0: within it)"));
	cJSON_AddItemToArray(as, cJSON_CreateString("a token is minted every CB_SF_SESSION_S "
	    "less CB_SF_REFRESH_MARGIN_S; OAuth token requests are not charged to the daily REST "
	    "allocation, so they are listed and not added"));
	cJSON_AddItemToArray(as, cJSON_CreateString("headroom: the broker's inbound throughput "
	    "over the event rate, for an even rate (a peak hour needs its own figure)"));
	admin_print_json(o);
	return 0;
}
