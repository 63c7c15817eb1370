/*
 * console: what the operator console (web/console/, docs/console.md) shows
 * of one tenant, read without SQL in the routes (cgi/console.c).
 *
 * Tenant-scoped: every statement filters on the caller's org_id, so
 * another organisation's rows (and the operators' own rows without a
 * tenant, the alerts) are never counted nor listed.
 *
 *   console_outbox     unfinished outbox rows by sink (the kind's first
 *                      part) and state (pending, running, dead): how many,
 *                      and the age of the oldest; and the most recent
 *                      failures (unfinished rows with a last_error, newest
 *                      first).
 *   console_approvals  the tenant's approvals in one state, newest first,
 *                      the command's value masked (APPROVAL_MASKED_SQL).
 *   console_live       the node's open WebSocket connections now, summed
 *                      over the worker's metrics segments (lib/metrics.h).
 *
 * Like the dead letters (lib/deadletter.h), nothing here carries a payload
 * or a field value: last_error is shown to the operator, never logged.
 */
#ifndef CB_CONSOLE_H
#define CB_CONSOLE_H

#include <cjson/cJSON.h>

struct db;

#define CONSOLE_FAILURES_DEFAULT	20
#define CONSOLE_FAILURES_MAX		100
#define CONSOLE_APPROVALS_DEFAULT	50
#define CONSOLE_APPROVALS_MAX		200

/* 1 if s is an approval state: pending, approved, denied, expired. */
int	 console_approval_state_ok(const char *s);

/*
 * {"sinks":[{"sink","state","rows","oldest_age_s"}...],
 *  "failures":[{"id","kind","state","attempts","max_attempts","last_error",
 *  "created_at","run_after"}...]}: every sink and state the tenant has
 * unfinished rows in, and at most `failures` (1..CONSOLE_FAILURES_MAX)
 * recent failures.  CB_ERR_VALIDATION on a bad argument.
 */
int	 console_outbox(struct db *, const char *org, long long failures, cJSON **out)
	    __attribute__((warn_unused_result));

/*
 * {"approvals":[{"id","command_id","ctx_id","agent_id","type","selector",
 *  "value","state","created_at","expires_at","decided_by","decided_at"}...]}:
 * at most `limit` (1..CONSOLE_APPROVALS_MAX) approvals of the tenant in
 * `state`, newest first; a pending one past its expiry (the worker's duty
 * has not ended it yet) is left out.  "value" is masked.
 */
int	 console_approvals(struct db *, const char *org, const char *state, long long limit,
	    cJSON **out) __attribute__((warn_unused_result));

/*
 * {"ws_connections": n, "scope": "node", "segments": k}: the open
 * WebSockets (tabs and call feeds) of every live process of this node,
 * read from the metrics segments under `metrics_dir`; n is null when
 * there is no segment to read (metrics off).
 */
cJSON	*console_live(const char *metrics_dir);

#endif
