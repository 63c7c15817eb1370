/*
 * approval: a human's decision on a command its form's agent policy holds
 * for approval (sql/0012_approvals.up.sql, docs/approvals.md).
 *
 * Command accept (cgi/commands.c) creates the approval in its own
 * statement (APPROVAL_CREATE_CTE).  Everything after that is here, shared
 * by every way a decision arrives (POST /api/v1/approvals/{id}/decision,
 * POST /api/v1/slack/interactions) and by the worker's expiry duty:
 *
 *   approval_decide   one statement: only a pending approval of the
 *                     caller's tenant, not expired, whose stored hash is
 *                     the one presented, changes; approving also needs
 *                     the command's current canonical form to hash to it
 *                     (a changed command, or one whose policy changed,
 *                     is not approved).  The approval and the command
 *                     change together, with the audit row.  Single use: a
 *                     second decision finds it decided and changes
 *                     nothing.
 *   approval_expire   ends up to `batch` approvals past their expiry as
 *                     expired, their commands denied ("approval
 *                     expired"), with audit rows.
 *   approval_wake     the tab's wake-up after either (the command route's
 *                     PUBLISH): only a hint, the channel's sweep finds it
 *                     anyway.
 *
 * Nothing here logs a command's value or a decision's reason.
 */
#ifndef CB_APPROVAL_H
#define CB_APPROVAL_H

#include <stddef.h>

struct db;
struct kv;

#define APPROVAL_HASH_HEX	64
#define APPROVAL_REASON_MAX	500
/* The reason a command ends with when nobody decided in time. */
#define APPROVAL_EXPIRED_REASON	"approval expired"

/*
 * A command's value as the approval message shows it: personal data
 * masked.  A string is shown as its length only, a number as ***, a
 * boolean as it is, none as null.
 */
#define APPROVAL_MASKED_SQL(v) \
	"CASE WHEN " v " IS NULL THEN NULL" \
	" WHEN jsonb_typeof(" v ") = 'boolean' THEN " v " #>> '{}'" \
	" WHEN jsonb_typeof(" v ") = 'string' THEN '*** (' || length(" v " #>> '{}') || ' characters)'" \
	" ELSE '***' END"

/*
 * The value a command's approval hash covers (sql/0012's cb_command_hash,
 * sql/0024): the clear value of a row written before sealing, else, for a
 * sealed value, the JSON string "sealed:" and the hex of the command's
 * fingerprint (a keyed digest of its type, selector, value and window,
 * written with the row): a key rotation re-seals the value, the hash stays.
 */
#define APPROVAL_HASH_VALUE_SQL(clear, sealed, fp) \
	"CASE WHEN " sealed " IS NULL THEN " clear \
	" ELSE to_jsonb('sealed:' || encode(" fp ", 'hex')) END"

/*
 * The CTE that command accept's statement adds (sql/0012's function and
 * table): when the inserted command (CTE `i`, columns id, seq, state) is
 * pending_approval, its approval with the hash of its canonical form, the
 * policy's expiry, the audit row approval.requested and the outbox row
 * slack.approval (the message with Approve and Deny buttons, the value
 * masked: worker/sink_slack.c).  Placeholders:
 *   $1 ctx  $2 org  $3 agent  $4 type  $5 selector  $6 value (jsonb text)
 *   $9 the command's delivery window in ms  $10 its fingerprint (bytea text)
 *   $12 the traceparent (text, may be NULL)  $14 the sealed value (NULL: none)
 * It yields CTEs `ap` (id, cmd_hash, command_id, expires_at), `apa` (the
 * audit insert) and `apo` (the outbox insert).
 */
#define APPROVAL_CREATE_CTE \
	" ap AS (INSERT INTO approvals (org_id, command_id, ctx_id, agent_id, cmd_hash," \
	"         form_version, policy_version, deliver_ms, expires_at, value_masked)" \
	"       SELECT $2, i.id, $1, $3," \
	"         cb_command_hash($1, i.seq, $4, $5, " \
	APPROVAL_HASH_VALUE_SQL("$6::jsonb", "$14::text", "$10::bytea") "," \
	"         c.form_version, p.version)," \
	"         c.form_version, p.version, $9::int, now() + make_interval(secs => p.approval_ttl_s)," \
	"         " APPROVAL_MASKED_SQL("$6::jsonb") \
	"       FROM i JOIN contexts c ON c.id = $1 JOIN agent_policies p ON p.form_id = c.form_id" \
	"       WHERE i.state = 'pending_approval'" \
	"       RETURNING id, cmd_hash, command_id, expires_at)," \
	" apa AS (INSERT INTO audit_log (org_id, actor, action, subject, detail)" \
	"       SELECT $2::bigint, 'agent:' || $3, 'approval.requested', ap.id::text," \
	"         jsonb_build_object('approval', ap.id, 'command', ap.command_id, 'ctx', $1::text," \
	"         'sha256', ap.cmd_hash) FROM ap)," \
	" apo AS (INSERT INTO outbox (org_id, kind, ref_id, payload, trace)" \
	"       SELECT $2::bigint, 'slack.approval', ap.id, jsonb_build_object('approval', ap.id," \
	"         'hash', ap.cmd_hash, 'command', ap.command_id, 'ctx', $1::text, 'type', $4::text," \
	"         'selector', $5::text, 'value', " APPROVAL_MASKED_SQL("$6::jsonb") "," \
	"         'expires_at', to_char(ap.expires_at AT TIME ZONE 'UTC'," \
	"         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')), $12::text FROM ap)"

enum approval_verdict {
	APPROVAL_APPROVE = 1,
	APPROVAL_DENY
};

struct approval_ask {
	const char		*org;		/* the decider's tenant */
	const char		*id;		/* the approval id (a uuid) */
	const char		*actor;		/* "user:<id>": who decides */
	enum approval_verdict	 verdict;
	const char		*hash;		/* the hash the decider was shown */
	const char		*reason;	/* may be NULL */
	const char		*via;		/* "api" or "slack", for the audit row */
	/*
	 * Slack's response_url of the message the click came from, or NULL:
	 * a decision writes an outbox row (kind slack.respond) that updates
	 * that message, in the same statement.
	 */
	const char		*response_url;
	/* The deciding request's traceparent, kept on that outbox row (NULL: none). */
	const char		*trace;
};

struct approval_result {
	char	 command_id[37];
	char	 ctx_id[37];
	char	 state[16];		/* the approval's, now: approved or denied */
	char	 command_state[24];	/* queued or denied */
};

/*
 * Decide.  CB_OK and *res filled; otherwise, with a detail in why:
 *   CB_ERR_NOT_FOUND	no such approval in that tenant
 *   CB_ERR_CONFLICT	already decided (approved or denied), or the
 *			command changed since it was asked (approve only)
 *   CB_ERR_GONE	expired (by the clock or by the duty), or its
 *			command can no longer be delivered
 *   CB_ERR_UNPROCESSABLE the presented hash is not the approval's
 * or a database error.
 */
int	 approval_decide(struct db *, const struct approval_ask *, struct approval_result *res,
	    char *why, size_t whysz) __attribute__((warn_unused_result));

/*
 * Expire up to `batch` approvals past expires_at (rows another session
 * holds are skipped), their commands denied.  The tabs concerned are
 * woken on kv (may be NULL).  *n gets how many expired.
 */
int	 approval_expire(struct db *, struct kv *, int batch, long long *n);

/* Wake a tab's channel for its commands (the command route's PUBLISH). */
void	 approval_wake(struct kv *, const char *ctx_id);

#endif
