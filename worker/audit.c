/*
 * audit: the worker's audit duty.  Every CB_AUDIT_SEAL_MS it seals the
 * audit rows committed since onto the hash chain (lib/audit.h,
 * cb_audit_seal in sql/0010_audit.up.sql), CB_AUDIT_SEAL_BATCH at a time; a
 * full batch is followed at once by the next.  Two workers may run it: the
 * chain head's row lock makes them take turns.  One log line per batch
 * that sealed rows (audit_sealed, with the count), never a row's content.
 */
#include "audit.h"
#include "db.h"
#include "errs.h"
#include "worker.h"

struct audit_duty {
	struct db	*db;
	int		 batch;
};

static int
audit_step(void *arg, long long *n)
{
	struct audit_duty	*a = arg;

	return audit_seal(a->db, a->batch, n);
}

int
audit_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct audit_duty	 a;
	struct duty_batch	 d = { audit_step, NULL, s->audit_seal_batch, s->audit_seal_ms,
				    "audit_sealed", "rows", "audit_seal_failed", "audit_started",
				    "audit_stopped" };

	a.batch = (int)s->audit_seal_batch;
	duty_batch_run(&d, &a, &a.db, s->pg_dsn);
	return 0;
}
