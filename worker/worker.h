/*
 * The worker: the one long-running daemon operators restart with systemd.
 *
 * A small master supervises one child per duty so that a slow Salesforce can
 * never stall the tabs' WebSockets and a crash in one duty never takes the
 * other down:
 *   channel  the tab channel: WebSockets (libwebsockets) behind nginx's /ws/,
 *            commands down in seq order, receipts up, resume on reconnect;
 *   outbox   drains the transactional outbox: leases rows with FOR UPDATE
 *            SKIP LOCKED, delivers (Salesforce upsert, webhooks), retries with
 *            backoff and jitter, dead-letters after the maximum attempts;
 *   retention purges operational data past its lifetime in small batches
 *            that skip locked rows (retention.c);
 *   audit    seals new audit rows onto the hash chain (audit.c);
 *   approvals ends approvals nobody decided in time, their commands
 *            denied and their tabs released (approvals.c).
 * Postgres is the truth; LISTEN/NOTIFY only wakes a duty up.
 */
#ifndef CB_WORKER_H
#define CB_WORKER_H

#include <signal.h>

#include "keyring.h"
#include "settings.h"

extern volatile sig_atomic_t worker_stop;

/*
 * What the master prepared for its duties, inherited across fork: the
 * settings and the seal keyring (opened and checked once, at start).
 */
struct worker {
	const struct settings	*s;
	struct keyring		 keys;
};

int	 channel_run(struct worker *);
int	 outbox_run(struct worker *);
int	 retention_run(struct worker *);
int	 audit_run(struct worker *);
int	 approvals_run(struct worker *);

/* duty.c: a duty stops on SIGTERM or SIGINT; its sleeps wake for that. */
void	 duty_signals(void);
void	 duty_sleep(long long ms);
/*
 * A duty that works in batches: step(arg, &n) until the worker stops; a
 * full batch (n >= batch) is followed at once by the next, anything less
 * by sleep_ms.  A batch that did something logs done_event with its count
 * under count_key; a failure logs failed_event once per outage (with db's
 * SQLSTATE).
 */
struct db;
struct duty_batch {
	int		(*step)(void *arg, long long *n);
	struct db	*db;
	long long	 batch;
	long long	 sleep_ms;
	const char	*done_event;
	const char	*count_key;
	const char	*failed_event;
	const char	*started_event;	/* duty_batch_run's first log line */
	const char	*stopped_event;	/* and its last */
};
void	 duty_batches(const struct duty_batch *, void *arg);
/*
 * A whole duty of batches: the stop signals, its own connection (*db and
 * d->db, closed at the end), started_event, duty_batches, stopped_event.
 */
void	 duty_batch_run(struct duty_batch *, void *arg, struct db **db, const char *dsn);

#endif
