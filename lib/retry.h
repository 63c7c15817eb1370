/*
 * retry: the delivery schedule.  CB_OUTBOX_SCHEDULE lists the delay before
 * each attempt ("0s,5s,5m,30m,2h,5h,10h,10h", the schedule the established
 * webhook services use): its length is the number of attempts.  A retry
 * waits the next entry, with +-10% jitter so that rows that failed together
 * do not come back together, and never less than the upstream's
 * Retry-After.
 */
#ifndef CB_RETRY_H
#define CB_RETRY_H

#include <stddef.h>

#define RETRY_STEPS_MAX	32
#define RETRY_DELAY_MAX_MS	(7LL * 24 * 3600 * 1000)	/* one entry: a week at most */

struct retry_schedule {
	long long	 delay_ms[RETRY_STEPS_MAX];	/* before attempt i+1 */
	size_t		 n;
};

/*
 * Parse "0s,5s,5m,..." (entries: an integer with ms, s, m or h, or a bare
 * 0; spaces allowed around commas).  CB_OK, or CB_ERR_VALIDATION with a reason in err.
 */
int		 retry_parse(const char *text, struct retry_schedule *,
		    char *err, size_t errsz);

/*
 * Milliseconds to wait after failed attempt `attempt` (1-based) before the
 * next: the schedule's next entry (the last one repeats past the end),
 * scaled by jitter in [0.9, 1.1] (u is uniform in [0, 1]), at least
 * retry_after_s seconds.
 */
long long	 retry_delay_ms(const struct retry_schedule *, int attempt,
		    long retry_after_s, double u);

/* Attempts the schedule allows (its length), capped by the row's own max. */
int		 retry_attempts(const struct retry_schedule *, int row_max);

#endif
