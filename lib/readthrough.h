/*
 * readthrough: one fact read the way a hot path reads what rarely changes:
 * this process's memo, then Redis, then Postgres, the truth.  What
 * Postgres answers is written back to Redis (with an expiry) and to the
 * memo; a cache that is away, or a write to it that fails, only costs the
 * next read a query, never a wrong answer.  Used for a tab's context
 * (lib/tab.c), a form's definition and current version (lib/forms.c) and a
 * tenant's plan tier (lib/quota.c, memo and Postgres only).
 *
 * A cache entry is text the caller makes from Postgres's one row and
 * takes back: `take` decides whether an entry (cached or just made) is
 * usable, e.g. that it belongs to the caller's tenant, and fills the
 * caller's answer from it; an entry it refuses sends the read on to the
 * next tier.  Only for facts whose staleness for the expiries given is
 * harmless: there is no invalidation across processes.
 */
#ifndef CB_READTHROUGH_H
#define CB_READTHROUGH_H

#include <stddef.h>

struct db;
struct db_res;
struct kv;
struct memo;

struct readthrough {
	const char		*key;		/* the cache key, in the memo and in Redis */
	const char		*sql;		/* the truth: a query of at most one row */
	int			 nparams;
	const char *const	*params;
	int			 missing;	/* the error when Postgres has no row */
	double			 memo_ms;	/* how long this process keeps an entry */
	long long		 kv_ttl_s;	/* how long Redis does */
	/*
	 * An entry, cached or just made from the row: 0 when it is usable
	 * (the caller's answer is filled from it, and the expiries above may
	 * be set from it before it is stored), else non-zero.
	 */
	int			(*take)(struct readthrough *, const char *entry, size_t len);
	/* The cache entry of Postgres's one row, allocated (freed here). */
	char			*(*entry)(struct readthrough *, const struct db_res *);
	void			*ud;		/* the caller's, for take and entry */
	int			 cached;	/* out: the answer came from the memo or Redis */
};

/*
 * Read rt->key through the memo and Redis (either may be NULL: skipped)
 * to Postgres.  CB_OK with the answer taken; rt->missing when Postgres
 * has no row; db_query's error; CB_ERR_INTERNAL when the entry made from
 * the row is refused.
 */
int	 readthrough_get(struct readthrough *, struct db *, struct kv *, struct memo *);

#endif
