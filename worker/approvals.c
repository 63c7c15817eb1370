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
#include "approval.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "worker.h"

struct approvals_duty {
	struct db	*db;
	struct kv	*kv;
	int		 batch;
};

static int
approvals_step(void *arg, long long *n)
{
	struct approvals_duty	*a = arg;

	return approval_expire(a->db, a->kv, a->batch, n);
}

int
approvals_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct approvals_duty	 a;
	struct duty_batch	 d = { approvals_step, NULL, s->approval_expire_batch,
				    s->approval_sweep_ms, "approvals_expired", "count",
				    "approvals_expire_failed", "approvals_started",
				    "approvals_stopped" };

	a.kv = kv_open(s->redis_host, (int)s->redis_port, s->redis_password,
	    (int)s->redis_timeout_ms);
	a.batch = (int)s->approval_expire_batch;
	duty_batch_run(&d, &a, &a.db, s->pg_dsn);
	kv_close(a.kv);
	return 0;
}
