/*
 * events: the tenants' webhook events, turned into outbox rows in the
 * transaction (or the very statement) that caused them.
 *
 * One event makes one outbox row of kind "webhook.deliver" per enabled
 * endpoint of its organisation subscribed to its type, none when there is
 * none, in one INSERT ... SELECT.  Each row's clear payload is
 *
 *   {"endpoint_id":"<uuid>","msg_id":"msg_<32 hex>","type":"<type>",
 *    "timestamp":"<RFC 3339 UTC, ms>","data":{...ids only...}}
 *
 * msg_id (the webhook-id) is the first 32 hex digits of
 * sha256(type || ':' || source_id), computed in SQL: emitting the same
 * event again (a re-recorded outcome, a replayed statement) gives the same
 * webhook-id, which receivers deduplicate on.  source_id names the fact
 * that makes the event unique: the submission id for submission.created,
 * the salesforce.upsert outbox row for submission.delivered/.dead_lettered
 * (written by worker/outbox.c with this same shape), the command id for
 * command.applied/.failed/.timeout.  ref_id is the submission or command id.
 *
 * Payloads are thin: ids, versions and states, never personal data.  The
 * caller wakes the worker after commit (kv_publish "cb:outbox") where it
 * already does; otherwise the worker's one-second sweep finds the rows.
 *
 * Callers that change state in one statement put EVENTS_INSERT_FROM(src)
 * in a data-modifying CTE, src being a relation with the columns
 * (org_id bigint, type text, ref_id uuid, source_id text, data jsonb,
 * trace text): trace is the traceparent the delivery row keeps (NULL: none;
 * docs/tracing.md), the request's or the command's.
 */
#ifndef CB_EVENTS_H
#define CB_EVENTS_H

#include <stddef.h>

struct db;

#define EVENTS_SUBMISSION_CREATED	"submission.created"
#define EVENTS_SUBMISSION_DELIVERED	"submission.delivered"
#define EVENTS_SUBMISSION_DEAD		"submission.dead_lettered"
#define EVENTS_COMMAND_APPLIED		"command.applied"
#define EVENTS_COMMAND_FAILED		"command.failed"
#define EVENTS_COMMAND_TIMEOUT		"command.timeout"
#define EVENTS_TYPE_MAX			63	/* bytes of a type name */
#define EVENTS_KIND			"webhook.deliver"

/* Every known type, NULL-terminated; events_types_n without the NULL. */
extern const char *const events_types[];
extern const size_t events_types_n;

/* 1 if `type` is one of events_types. */
int	 events_type_known(const char *type);

/* RFC 3339 UTC with milliseconds, as every payload's "timestamp". */
#define EVENTS_TS_SQL \
	"to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The webhook-id of the event in relation alias e. */
#define EVENTS_MSG_ID_SQL \
	"'msg_' || left(encode(sha256(convert_to(e.type || ':' || e.source_id, 'UTF8')), 'hex'), 32)"

/* The deliveries of the events in `src` (see above): one INSERT ... SELECT. */
#define EVENTS_INSERT_FROM(src) \
	"INSERT INTO outbox (org_id, kind, ref_id, payload, trace)" \
	" SELECT e.org_id, '" EVENTS_KIND "', e.ref_id, jsonb_build_object(" \
	"   'endpoint_id', w.id, 'msg_id', " EVENTS_MSG_ID_SQL "," \
	"   'type', e.type, 'timestamp', " EVENTS_TS_SQL ", 'data', e.data), e.trace" \
	" FROM " src " e JOIN webhook_endpoints w ON w.org_id = e.org_id AND w.enabled" \
	"   AND e.type = ANY (w.event_types)"

/*
 * A command that reached a final state, from a relation with the columns
 * id, org_id, ctx_id, seq, type, state, trace of commands (an UPDATE's RETURNING):
 * command.<state> with {command_id, ctx_ref, seq, command}.  States other
 * than applied, failed and timeout make no event.
 */
#define EVENTS_COMMAND_SRC(rel) \
	"(SELECT c.org_id, 'command.' || c.state AS type, c.id AS ref_id," \
	"   c.id::text AS source_id, jsonb_build_object('command_id', c.id," \
	"   'ctx_ref', c.ctx_id, 'seq', c.seq, 'command', c.type) AS data, c.trace" \
	" FROM " rel " c WHERE c.state IN ('applied', 'failed', 'timeout'))"

/*
 * Emit one event in the caller's transaction.  data_json: a JSON object
 * (NULL: {}).  *n (may be NULL) gets the rows written (0 when no endpoint
 * wants the type).  CB_ERR_VALIDATION for an unknown type or a missing
 * org, ref or source; else db_query's result.
 */
int	 events_emit(struct db *, const char *org_id, const char *type, const char *ref_id,
	    const char *source_id, const char *data_json, long long *n)
	    __attribute__((warn_unused_result));

#endif
