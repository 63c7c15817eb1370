/*
 * duty: what the worker's simple duties (retention, audit, approvals) share: stop on
 * SIGTERM or SIGINT, sleep in a way that wakes for it, and the loop of a
 * duty that works in batches.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "errs.h"
#include "log.h"
#include "sigs.h"
#include "worker.h"

static void
duty_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

void
duty_signals(void)
{
	sigs_on_stop(duty_on_term);	/* no SA_RESTART: a sleep must wake up */
}

void
duty_sleep(long long ms)
{
	while (ms > 0 && !worker_stop) {
		int	 step = ms > 200 ? 200 : (int)ms;

		(void)poll(NULL, 0, step);
		ms -= step;
	}
}

void
duty_batches(const struct duty_batch *d, void *arg)
{
	long long	 n;
	char		 v[24];
	int		 rc, warned = 0;

	while (!worker_stop) {
		rc = d->step(arg, &n);
		if (rc != CB_OK) {
			/* Once per outage, not once per tick. */
			if (!warned)
				log_kv(LOG_LVL_WARN, d->failed_event, "error", errs_name(rc),
				    "sqlstate", db_sqlstate(d->db), NULL);
			warned = 1;
		} else {
			warned = 0;
			if (n > 0) {
				snprintf(v, sizeof(v), "%lld", n);
				log_kv(LOG_LVL_INFO, d->done_event, d->count_key, v, NULL);
			}
			if (n >= d->batch)
				continue;	/* a full batch: the next at once */
		}
		duty_sleep(d->sleep_ms);
	}
}

void
duty_batch_run(struct duty_batch *d, void *arg, struct db **db, const char *dsn)
{
	duty_signals();
	*db = d->db = db_open(dsn);
	log_kv(LOG_LVL_INFO, d->started_event, NULL);
	duty_batches(d, arg);
	db_close(*db);
	*db = d->db = NULL;
	log_kv(LOG_LVL_INFO, d->stopped_event, NULL);
}
