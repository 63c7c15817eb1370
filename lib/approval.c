/*
 * approval: see approval.h.  Each operation is one statement, so the
 * approval, its command and the audit row commit together or not at all.
 */
#include <stdio.h>
#include <string.h>

#include "approval.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/*
 * The decision.  `a` reads the approval of this tenant with its command,
 * both locked (a concurrent decision or the expiry duty waits, then sees
 * what this one did), and the hash of the command's current canonical
 * form.  `d` changes the approval only while it is pending, unexpired, its
 * command still pending_approval, the presented hash its own and, to
 * approve, the current form still hashing to it.  `m` moves the command;
 * `au` records the decision.  The last SELECT says what it found, so a
 * refusal is named without a second read.
 * `ob` asks the outbox to update the Slack message the decision came from
 * (its response_url, when there is one).
 *   $1 id  $2 org  $3 approve|deny  $4 presented hash  $5 reason  $6 actor  $7 via
 *   $8 response_url or NULL  $9 the deciding request's traceparent or NULL
 */
static const char decide_sql[] =
    "WITH a AS (SELECT x.id, x.command_id, x.ctx_id, x.state, x.cmd_hash, x.deliver_ms,"
    "   x.expires_at <= now() AS late, m.state AS cstate,"
    "   cb_command_hash(m.ctx_id, m.seq, m.type, m.selector,"
    "     " APPROVAL_HASH_VALUE_SQL("m.value", "m.value_sealed", "m.fingerprint") ", c.form_version,"
    "     coalesce(p.version, 0)) AS now_hash"
    "   FROM approvals x JOIN commands m ON m.id = x.command_id"
    "   JOIN contexts c ON c.id = m.ctx_id LEFT JOIN agent_policies p ON p.form_id = c.form_id"
    "   WHERE x.id = $1::uuid AND x.org_id = $2::bigint FOR UPDATE OF x, m),"
    " d AS (UPDATE approvals x"
    "     SET state = CASE $3 WHEN 'approve' THEN 'approved' ELSE 'denied' END,"
    "     decided_by = $6, decided_at = now(), reason = $5"
    "   FROM a WHERE x.id = a.id AND x.state = 'pending' AND NOT a.late"
    "   AND a.cstate = 'pending_approval' AND x.cmd_hash = $4"
    "   AND ($3 = 'deny' OR a.now_hash = x.cmd_hash)"
    "   RETURNING x.id, x.command_id, x.ctx_id, x.state, x.cmd_hash, x.deliver_ms),"
    " m AS (UPDATE commands y SET"
    "     state = CASE d.state WHEN 'approved' THEN 'queued' ELSE 'denied' END,"
    "     reason = CASE d.state WHEN 'approved' THEN NULL"
    "       ELSE coalesce($5, 'denied by an approver') END,"
    "     finished_at = CASE d.state WHEN 'approved' THEN NULL ELSE now() END,"
    "     expires_at = CASE d.state WHEN 'approved'"
    "       THEN now() + make_interval(secs => d.deliver_ms / 1000.0) ELSE y.expires_at END"
    "   FROM d WHERE y.id = d.command_id AND y.state = 'pending_approval'"
    "   RETURNING y.state),"
    " au AS (INSERT INTO audit_log (org_id, actor, action, subject, detail)"
    "   SELECT $2::bigint, $6, 'approval.decided', d.id::text,"
    "     jsonb_build_object('approval', d.id, 'command', d.command_id, 'decision', d.state,"
    "     'sha256', d.cmd_hash, 'via', $7::text) FROM d),"
    " ob AS (INSERT INTO outbox (org_id, kind, ref_id, payload, trace)"
    "   SELECT $2::bigint, 'slack.respond', d.id, jsonb_build_object('url', $8::text,"
    "     'approval', d.id, 'command', d.command_id, 'decision', d.state), $9::text"
    "   FROM d WHERE $8::text IS NOT NULL)"
    " SELECT coalesce((SELECT state FROM d), ''), coalesce((SELECT state FROM m), ''),"
    "   a.state, a.late, a.cstate, a.cmd_hash = $4, a.now_hash = a.cmd_hash,"
    "   a.command_id, a.ctx_id FROM a";

static int
hash_ok(const char *h)
{
	size_t	 i;

	if (h == NULL || strlen(h) != APPROVAL_HASH_HEX)
		return 0;
	for (i = 0; i < APPROVAL_HASH_HEX; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}

int
approval_decide(struct db *db, const struct approval_ask *q, struct approval_result *res,
    char *why, size_t whysz)
{
	struct db_res	*r = NULL;
	const char	*p[9];
	int		 rc;

	memset(res, 0, sizeof(*res));
	why[0] = '\0';
	if (!util_uuid_ok(q->id)) {
		util_strlcpy(why, "no such approval", whysz);
		return CB_ERR_NOT_FOUND;
	}
	if (!hash_ok(q->hash)) {
		util_strlcpy(why, "hash: not this approval's (64 lowercase hex digits expected)",
		    whysz);
		return CB_ERR_UNPROCESSABLE;
	}
	p[0] = q->id;
	p[1] = q->org;
	p[2] = q->verdict == APPROVAL_APPROVE ? "approve" : "deny";
	p[3] = q->hash;
	p[4] = q->reason;
	p[5] = q->actor;
	p[6] = q->via;
	p[7] = q->response_url;
	p[8] = q->trace;
	/* Once: a decision is never sent twice behind the caller's back. */
	if ((rc = db_query_once(db, &r, decide_sql, 9, p)) != CB_OK)
		goto out;
	if (db_rows(r) != 1) {
		util_strlcpy(why, "no such approval", whysz);
		rc = CB_ERR_NOT_FOUND;
		goto out;
	}
	util_strlcpy(res->command_id, db_val(r, 0, 7), sizeof(res->command_id));
	util_strlcpy(res->ctx_id, db_val(r, 0, 8), sizeof(res->ctx_id));
	if (db_val(r, 0, 0)[0] != '\0') {
		util_strlcpy(res->state, db_val(r, 0, 0), sizeof(res->state));
		util_strlcpy(res->command_state, db_val(r, 0, 1), sizeof(res->command_state));
		log_kv(LOG_LVL_INFO, "approval_decided", "approval", q->id, "command",
		    res->command_id, "decision", res->state, "via", q->via, NULL);
		metrics_add(MF_APPROVALS, strcmp(res->state, "approved") == 0 ? MA_APPROVED :
		    MA_DENIED, 0, 1);
		rc = CB_OK;
		goto out;
	}
	/* Nothing changed: say why, in the order the statement checked. */
	if (strcmp(db_val(r, 0, 2), "expired") == 0) {
		util_strlcpy(why, "the approval expired: its command was denied", whysz);
		rc = CB_ERR_GONE;
	} else if (strcmp(db_val(r, 0, 2), "pending") != 0) {
		snprintf(why, whysz, "already decided (%s)", db_val(r, 0, 2));
		rc = CB_ERR_CONFLICT;
	} else if (strcmp(db_val(r, 0, 3), "t") == 0 ||
	    strcmp(db_val(r, 0, 4), "pending_approval") != 0) {
		util_strlcpy(why, "the approval expired: its command can no longer be sent", whysz);
		rc = CB_ERR_GONE;
	} else if (strcmp(db_val(r, 0, 5), "t") != 0) {
		util_strlcpy(why, "hash: not this approval's", whysz);
		rc = CB_ERR_UNPROCESSABLE;
	} else if (strcmp(db_val(r, 0, 6), "t") != 0) {
		util_strlcpy(why, "the command changed since its approval was asked (its canonical"
		    " form no longer has the approval's hash): it cannot be approved", whysz);
		rc = CB_ERR_CONFLICT;
	} else {
		util_strlcpy(why, "already decided", whysz);
		rc = CB_ERR_CONFLICT;
	}
	log_kv(LOG_LVL_INFO, "approval_refused", "approval", q->id, "error", errs_name(rc), NULL);
out:
	db_res_free(r);
	return rc;
}

/*
 * The expiry: approvals past expires_at, oldest first, skipping rows
 * another session holds; their commands denied while still waiting; one
 * audit row each.  Answers the tabs to wake.
 */
static const char expire_sql[] =
    "WITH e AS (SELECT id FROM approvals WHERE state = 'pending' AND expires_at <= now()"
    "   ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " d AS (UPDATE approvals a SET state = 'expired', decided_by = 'system',"
    "     decided_at = now(), reason = '" APPROVAL_EXPIRED_REASON "'"
    "   FROM e WHERE a.id = e.id"
    "   RETURNING a.id, a.org_id, a.command_id, a.ctx_id, a.cmd_hash),"
    " m AS (UPDATE commands y SET state = 'denied', reason = '" APPROVAL_EXPIRED_REASON "',"
    "     finished_at = now()"
    "   FROM d WHERE y.id = d.command_id AND y.state = 'pending_approval' RETURNING y.id),"
    " au AS (INSERT INTO audit_log (org_id, actor, action, subject, detail)"
    "   SELECT d.org_id, 'system', 'approval.expired', d.id::text,"
    "     jsonb_build_object('approval', d.id, 'command', d.command_id, 'sha256', d.cmd_hash)"
    "   FROM d)"
    " SELECT d.ctx_id, (SELECT count(*) FROM d) FROM d GROUP BY d.ctx_id";

int
approval_expire(struct db *db, struct kv *kv, int batch, long long *n)
{
	struct db_res	*r = NULL;
	char		 lim[24];
	size_t		 i;
	int		 rc;

	*n = 0;
	snprintf(lim, sizeof(lim), "%d", batch);
	if ((rc = db_query_once(db, &r, expire_sql, 1, (const char *[]){ lim })) != CB_OK)
		return rc;
	for (i = 0; i < db_rows(r); i++) {
		if (i == 0 && util_parse_ll(db_val(r, 0, 1), 0, 1LL << 40, n) != CB_OK)
			*n = 0;
		approval_wake(kv, db_val(r, i, 0));
	}
	db_res_free(r);
	metrics_add(MF_APPROVALS, MA_EXPIRED, 0, *n);
	return CB_OK;
}

void
approval_wake(struct kv *kv, const char *ctx_id)
{
	if (kv != NULL)
		kv_publish(kv, "cb:cmd", ctx_id);
}
