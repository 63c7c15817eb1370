/*
 * approvals: the worker's approvals duty.  Every CB_APPROVAL_SWEEP_MS it
 * ends the approvals nobody decided before their expires_at: the approval
 * expired, its command denied ("approval expired"), an audit row each, and
 * the tab woken so the commands held behind it go on (lib/approval.h).
 * CB_APPROVAL_EXPIRE_BATCH a statement; a full batch is followed at once
 * by the next.  Several workers may run it: rows another holds are
 * skipped.  One log line per batch that expired some (approvals_expired,
 * the count), never a command's content.
 */
#include <stdio.h>

#include "approval.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "worker.h"

int
approvals_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct db		*db;
	struct kv		*kv;
	long long		 n;
	char			 v[24];
	int			 rc, warned = 0;

	duty_signals();

	db = db_open(s->pg_dsn);
	kv = kv_open(s->redis_host, (int)s->redis_port, s->redis_password,
	    (int)s->redis_timeout_ms);
	log_kv(LOG_LVL_INFO, "approvals_started", NULL);
	while (!worker_stop) {
		rc = approval_expire(db, kv, (int)s->approval_expire_batch, &n);
		if (rc != CB_OK) {
			/* Once per outage, not once per tick. */
			if (!warned)
				log_kv(LOG_LVL_WARN, "approvals_expire_failed", "error", errs_name(rc),
				    "sqlstate", db_sqlstate(db), NULL);
			warned = 1;
		} else {
			warned = 0;
			if (n > 0) {
				snprintf(v, sizeof(v), "%lld", n);
				log_kv(LOG_LVL_INFO, "approvals_expired", "count", v, NULL);
			}
			if (n >= s->approval_expire_batch)
				continue;
		}
		duty_sleep(s->approval_sweep_ms);
	}
	kv_close(kv);
	db_close(db);
	log_kv(LOG_LVL_INFO, "approvals_stopped", NULL);
	return 0;
}
