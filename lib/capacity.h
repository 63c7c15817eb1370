/*
 * capacity: what a volume of calls costs (seed 003 §7, docs/calls.md
 * "Capacity planning"), for `cb-admin capacity`.  Pure arithmetic over the
 * planner's inputs and the settings that decide the cost (the Collections
 * batch, the contact cache's lifetime, the token's life); no I/O, so the
 * same numbers come out anywhere.
 *
 * The model, stated so that it can be argued with:
 *  - every event is one record upserted into Salesforce: without batching
 *    one API call per event; with sObject Collections one call per `batch`
 *    events at best (full batches: a busy outbox; an idle one sends
 *    smaller batches, up to one call per event, so the truth lies between
 *    the two figures);
 *  - the contact lookup: the caller's number is taken as new every call
 *    (no repeat callers, the worst case); its first event queries, and the
 *    cached answer (CB_SF_CONTACT_TTL_S) serves the call's later events
 *    until it lapses: a call lasting call_s seconds costs
 *    min(events, 1 + call_s / ttl) queries (call_s 0: all of one call's
 *    events within the lifetime, one query);
 *  - a token is minted every session lifetime less the refresh margin;
 *    OAuth token requests are assumed not to be charged to the daily REST
 *    allocation (they are listed, not added);
 *  - headroom compares the event rate with the broker's measured inbound
 *    throughput (CAPACITY_INBOUND_EPS, recorded from the benchmark).
 */
#ifndef CB_CAPACITY_H
#define CB_CAPACITY_H

/* The benchmark's figure (scripts/bench.sh, section calls), and when it was taken. */
#define CAPACITY_INBOUND_EPS		319
#define CAPACITY_INBOUND_MEASURED	"2026-12-01 06:50 UTC, 2-core VM under load, BENCH_ONLY=calls"
#define CAPACITY_ALLOCATION_DEFAULT	100000LL	/* the formula's base (CONTRACTS 3.5) */
#define CAPACITY_CALLS_MAX		100000000LL	/* calls an hour */
#define CAPACITY_EVENTS_MAX		5		/* a call's distinct event types */
#define CAPACITY_ALLOCATION_MAX		1000000000LL

struct capacity_in {
	long long	 calls_per_hour;	/* 1..CAPACITY_CALLS_MAX */
	long long	 events_per_call;	/* 1..CAPACITY_EVENTS_MAX */
	long long	 allocation;		/* daily API calls, 1..CAPACITY_ALLOCATION_MAX */
	long long	 batch;			/* records per Collections call, 1..200 */
	long long	 call_s;		/* a call's length, 0..86400 (0: within the ttl) */
	long long	 contact_ttl_s;		/* CB_SF_CONTACT_TTL_S */
	long long	 token_life_s;		/* CB_SF_SESSION_S - CB_SF_REFRESH_MARGIN_S */
	double		 inbound_eps;		/* measured inbound events a second */
};

struct capacity_out {
	double		 events_per_second;
	long long	 events_per_hour;
	long long	 events_per_day;
	long long	 upserts_unbatched;	/* API calls a day */
	long long	 upserts_batched;
	long long	 lookups_per_call;
	long long	 lookups;
	long long	 token_mints;		/* not charged to the allocation */
	long long	 total_unbatched;	/* upserts + lookups */
	long long	 total_batched;
	double		 share_unbatched_pct;	/* of the allocation */
	double		 share_batched_pct;
	double		 headroom;		/* inbound_eps / events_per_second */
};

void	 capacity_plan(const struct capacity_in *, struct capacity_out *);

#endif
