/*
 * chan_sql: the SQL pieces the tab channel's statements share (chan_rows.c,
 * chan_late.c): how a command is finished, with its webhook event and its
 * audit row, in the same statement as its state change.  Text only: every
 * value travels as a parameter.
 */
#ifndef CB_CHAN_SQL_H
#define CB_CHAN_SQL_H

#include "events.h"

/*
 * A command's final state and its webhook events (command.applied, .failed:
 * lib/events.h) in one statement: `upd` is an UPDATE of commands returning
 * CHAN_FINISHED_COLS; the statement answers how many it moved.
 */
#define CHAN_FINISHED_COLS	" RETURNING id, org_id, ctx_id, seq, type, state, trace"

/*
 * The audit row of every command the channel finishes (issue: every agent
 * command, accepted to applied or failed): action command.<state>, the
 * actor the tab that reported it ("tab:<ctx>") or the channel itself
 * ("system"), ids only.  `rel` has CHAN_FINISHED_COLS.
 */
#define CHAN_AUDIT_FROM(rel, actor) \
	"INSERT INTO audit_log (org_id, actor, action, subject, detail)" \
	" SELECT a.org_id, " actor ", 'command.' || a.state, a.id::text," \
	" jsonb_build_object('ctx', a.ctx_id, 'seq', a.seq, 'type', a.type) FROM " rel " a"
#define CHAN_BY_TAB	"'tab:' || a.ctx_id"
#define CHAN_BY_SYSTEM	"'system'"

/*
 * Inside a longer statement, the CTEs that finish commands by the channel
 * itself: `rel` (the UPDATE of commands `upd`), then <rel>ev (the events
 * from `src`, built on rel) and <rel>au (the audit rows).
 */
#define CHAN_FINISH_CTES(rel, upd, src) \
	" " rel " AS (" upd CHAN_FINISHED_COLS ")," \
	" " rel "ev AS (" EVENTS_INSERT_FROM(src) ")," \
	" " rel "au AS (" CHAN_AUDIT_FROM(rel, CHAN_BY_SYSTEM) ")"

#define CHAN_FINISH(upd, actor) \
	"WITH u AS (" upd CHAN_FINISHED_COLS ")," \
	" ev AS (" EVENTS_INSERT_FROM(EVENTS_COMMAND_SRC("u")) ")," \
	" au AS (" CHAN_AUDIT_FROM("u", actor) ")" \
	" SELECT count(*) FROM u"

/*
 * A command whose delivery attempts ran out ends `dead`; its webhook event
 * keeps the documented name command.timeout (docs/webhooks.md: the tab never
 * reported it), with the payload shape of EVENTS_COMMAND_SRC.
 */
#define CHAN_DEAD_SRC(rel) \
	"(SELECT c.org_id, '" EVENTS_COMMAND_TIMEOUT "' AS type, c.id AS ref_id," \
	"   c.id::text AS source_id, jsonb_build_object('command_id', c.id," \
	"   'ctx_ref', c.ctx_id, 'seq', c.seq, 'command', c.type) AS data, c.trace" \
	" FROM " rel " c WHERE c.state = 'dead')"
#define CHAN_FINISH_DEAD(upd) \
	"WITH u AS (" upd CHAN_FINISHED_COLS ")," \
	" ev AS (" EVENTS_INSERT_FROM(CHAN_DEAD_SRC("u")) ")," \
	" au AS (" CHAN_AUDIT_FROM("u", CHAN_BY_SYSTEM) ")" \
	" SELECT count(*) FROM u"

/*
 * The auth lookup (chan_late.c), prepared with the round's statements on
 * every new connection (chan_rows_prepare).
 */
#define CHAN_AUTH_SQL \
	"SELECT c.id, c.org_id, c.form_id, c.form_version," \
	" extract(epoch FROM c.expires_at)::bigint, c.last_seq," \
	" (SELECT count(*) FROM commands m WHERE m.ctx_id = c.id" \
	"  AND m.org_id = c.org_id AND m.seq > $2::bigint AND m.seq <= c.last_seq)," \
	" (SELECT p.max_in_flight FROM agent_policies p WHERE p.form_id = c.form_id" \
	"  AND p.org_id = c.org_id)" \
	" FROM contexts c WHERE c.tab_token_hash = $1::bytea AND c.expires_at > now()"

#endif
