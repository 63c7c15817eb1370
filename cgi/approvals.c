/*
 * POST /api/v1/approvals/{id}/decision
 *
 * Who: a person (access JWT) of the approval's tenant whose role is
 *   approver or admin.  An agent never decides: its valid API key or agent
 *   JWT is refused 403 (ROUTE_AUTH_PERSON_ONLY).  Commands are issued only
 *   by agents, and no person is an agent, so "no one decides on a command
 *   they issued" holds by that refusal (docs/approvals.md).
 * Idempotency-Key: not used; a decision is single use, so a repeat is
 *   answered 409 "already decided" and changes nothing.
 * Body: {"decision":"approve"|"deny","hash":"<64 hex>","reason":"..."}
 *   hash: the SHA-256 of the command's canonical form the person was shown.
 * Answers: 200 {"approval","state","command":{"id","state"}}: approved (the
 *   command is queued and its tab woken) or denied (the command ends
 *   denied with the reason); 400 bad body (field named), 401, 403 (an
 *   agent, or a role other than approver/admin), 404 no such approval in
 *   this tenant, 409 already decided or (approve) the command changed
 *   since it was asked, 410 expired, 422 the hash is not the approval's.
 */
#include <stdio.h>
#include <string.h>

#include "approval.h"
#include "decision.h"
#include "errs.h"
#include "route.h"
#include "userauth.h"
#include "util.h"

struct decision_args {
	const char	*decision;
	const char	*hash;
	const char	*reason;
};

static const char *const decisions[] = { "approve", "deny", NULL };

static const struct jv_field decision_fields[] = {
	{ "decision", JV_STRING, JV_REQUIRED, 4, 7, offsetof(struct decision_args, decision),
	  NULL, .one_of = decisions, .why = "must be approve or deny" },
	{ "hash", JV_STRING, JV_REQUIRED, APPROVAL_HASH_HEX, APPROVAL_HASH_HEX,
	  offsetof(struct decision_args, hash), NULL },
	{ "reason", JV_STRING, JV_NULLABLE, 1, APPROVAL_REASON_MAX,
	  offsetof(struct decision_args, reason), NULL },
};

static int
decision_act(struct req *r, const void *argp)
{
	const struct decision_args	*a = argp;
	const struct user_auth		*u = r->auth;
	struct approval_ask		 q;
	struct approval_result		 res;
	char				 actor[64];
	cJSON				*o, *c;
	int				 rc;

	snprintf(actor, sizeof(actor), "user:%s", u->user_id);
	memset(&q, 0, sizeof(q));
	q.org = u->org;
	q.id = req_param(r, "id");
	q.actor = actor;
	q.verdict = strcmp(a->decision, "approve") == 0 ? APPROVAL_APPROVE : APPROVAL_DENY;
	q.hash = a->hash;
	q.reason = a->reason;
	q.via = "api";
	/* The tab is woken once the answer is out (the after hook). */
	if ((rc = decision_take(r, &q, &res)) != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "approval", q.id);
	cJSON_AddStringToObject(o, "state", res.state);
	c = cJSON_AddObjectToObject(o, "command");
	cJSON_AddStringToObject(c, "id", res.command_id);
	cJSON_AddStringToObject(c, "state", res.command_state);
	resp_json_nostore(r, 200, o);
	return CB_OK;
}

static const struct route approval_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/approvals/{id}/decision", .body_max = 1024,
	  .flags = ROUTE_JSON, .fields = decision_fields,
	  .nfields = ROUTE_NELEM(decision_fields),
	  .args_size = sizeof(struct decision_args),
	  .auth = ROUTE_AUTH_PERSON_ONLY, .roles = ROLES("approver", "admin"),
	  .act = decision_act, .after = decision_wake },
};

ROUTE_MAIN("approvals", approval_routes)
