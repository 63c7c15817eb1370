/*
 * audit: the worker's audit duty.  Every CB_AUDIT_SEAL_MS it seals the
 * audit rows committed since onto the hash chain (lib/audit.h,
 * cb_audit_seal in sql/0010_audit.up.sql), CB_AUDIT_SEAL_BATCH at a time; a
 * full batch is followed at once by the next.  Two workers may run it: the
 * chain head's row lock makes them take turns.  One log line per batch
 * that sealed rows (audit_sealed, with the count), never a row's content.
 */
#include <stdio.h>

#include "audit.h"
#include "db.h"
#include "errs.h"
#include "log.h"
#include "worker.h"

int
audit_run(struct worker *w)
{
	const struct settings	*s = w->s;
	struct db		*db;
	long long		 n;
	char			 v[24];
	int			 rc, warned = 0;

	duty_signals();

	db = db_open(s->pg_dsn);
	log_kv(LOG_LVL_INFO, "audit_started", NULL);
	while (!worker_stop) {
		rc = audit_seal(db, (int)s->audit_seal_batch, &n);
		if (rc != CB_OK) {
			/* Once per outage, not once per tick. */
			if (!warned)
				log_kv(LOG_LVL_WARN, "audit_seal_failed", "error", errs_name(rc),
				    "sqlstate", db_sqlstate(db), NULL);
			warned = 1;
		} else {
			warned = 0;
			if (n > 0) {
				snprintf(v, sizeof(v), "%lld", n);
				log_kv(LOG_LVL_INFO, "audit_sealed", "rows", v, NULL);
			}
			if (n >= s->audit_seal_batch)
				continue;
		}
		duty_sleep(s->audit_seal_ms);
	}
	db_close(db);
	log_kv(LOG_LVL_INFO, "audit_stopped", NULL);
	return 0;
}
