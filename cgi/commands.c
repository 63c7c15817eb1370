/*
 * POST /api/v1/contexts/{ctx_ref}/commands
 * GET  /api/v1/commands/{id}
 * GET  /api/v1/commands?state=dead[&ctx_ref=][&limit=]
 *
 * Who: an agent with an API key (Authorization: Bearer cbk_...) or an agent
 *   JWT from POST /api/v1/auth/agent-token, holding
 *   commands:write (POST) or commands:read (GET), in the context's tenant.
 * Idempotency-Key: not used; replay protection is the command's nonce,
 *   unique per context: the same nonce with the same command (type,
 *   selector, value, expires_in_ms) is a retry and answers 200 with the
 *   original command; with another command, 409 (nothing stored).
 * POST body: {"type","selector","value","nonce","expires_in_ms"}
 *   type: set_field | focus | highlight | show_message
 * Answers (POST): 202 {"id","seq","state"} + Location: checked against the
 *   form's agent policy (cached: policy.h) and stored with the next dense
 *   per-tab seq by one statement, the only Postgres round trip in the
 *   steady state; then `PUBLISH cb:cmd <ctx_ref>` wakes the channel;
 *   400 bad body (field named), 401 bad key, 403 policy (reason named) or
 *   missing scope, 404 unknown context (or another tenant's), 409 nonce
 *   replayed, 429 + Retry-After over the policy's rate, 503 when the rate
 *   limiter (Redis) is down: fail closed, the agent retries; 503 too when
 *   the seal keyring cannot be loaded: a value is never stored in clear.
 * At rest: the value is sealed (commands.value_sealed, sql/0024); the
 *   nonce's fingerprint is keyed (lib/digest.h), so neither lets a value be
 *   read or confirmed from the database.
 * Answers (GET one): 200 the command's delivery state; 404 otherwise.
 * Answers (GET list): 200 {"commands":[...]} of the tenant in that state,
 *   newest first, at most limit (default 50, at most 100); 400 naming a
 *   bad, unknown or repeated query parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "app.h"
#include "approval.h"
#include "audit.h"
#include "digest.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "reseal.h"
#include "route.h"
#include "subject.h"
#include "userauth.h"
#include "util.h"

/* A sealed value of at most 4 KiB in the text format, with room to spare. */
#define CMD_SEALED_MAX	16384u

struct cmd_args {
	const char	*type;
	const char	*selector;
	const cJSON	*value;
	const char	*nonce;
	long long	 expires_in_ms;
};

static const struct jv_field cmd_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct cmd_args, type), NULL },
	{ "selector", JV_STRING, JV_NULLABLE, 1, 256, offsetof(struct cmd_args, selector), NULL },
	{ "value", JV_ANY, JV_NULLABLE, 0, 0, offsetof(struct cmd_args, value), NULL },
	{ "nonce", JV_STRING, JV_REQUIRED, 8, 128, offsetof(struct cmd_args, nonce), NULL },
	{ "expires_in_ms", JV_INT, 0, 1000, 600000, offsetof(struct cmd_args, expires_in_ms), NULL },
};

/* The argument schema of each command type. */
struct cmd_kind {
	const char	*type;
	int		 needs_selector;
	int		 value;		/* 0 none, 1 scalar (string/number/bool), 2 message string */
};

static const struct cmd_kind cmd_kinds[] = {
	{ "set_field", 1, 1 },
	{ "focus", 1, 0 },
	{ "highlight", 1, 0 },
	{ "show_message", 0, 2 },
};

static int
cmd_check(struct req *r, void *argp)
{
	struct cmd_args		*a = argp;
	const struct cmd_kind	*k = NULL;
	size_t			 i;

	for (i = 0; i < sizeof(cmd_kinds) / sizeof(cmd_kinds[0]); i++)
		if (strcmp(cmd_kinds[i].type, a->type) == 0)
			k = &cmd_kinds[i];
	if (k == NULL)
		return route_fail_field(r, CB_ERR_VALIDATION, "type",
		    "must be one of set_field, focus, highlight, show_message");
	if (k->needs_selector && a->selector == NULL)
		return route_fail_field(r, CB_ERR_VALIDATION, "selector", "required for this type");
	if (k->value == 0 && a->value)
		return route_fail_field(r, CB_ERR_VALIDATION, "value", "not accepted for this type");
	if (k->value == 1 && (a->value == NULL || !(cJSON_IsString(a->value) ||
	    cJSON_IsNumber(a->value) || cJSON_IsBool(a->value)) ||
	    (cJSON_IsString(a->value) && strlen(a->value->valuestring) > 4096)))
		return route_fail_field(r, CB_ERR_VALIDATION, "value",
		    "must be a string (at most 4096 bytes), a number or a boolean");
	if (k->value == 2 && (!cJSON_IsString(a->value) ||
	    strlen(a->value->valuestring) == 0 || strlen(a->value->valuestring) > 500))
		return route_fail_field(r, CB_ERR_VALIDATION, "value",
		    "must be a message of 1 to 500 bytes");
	if (a->expires_in_ms == 0)
		a->expires_in_ms = 60000;
	return CB_OK;
}

/*
 * The one statement of a command: the nonce's earlier command if any (p),
 * else the seq bump and the insert, which commit together so seqs stay
 * dense.  A live context of this tenant only: an expired one or another
 * tenant's bumps nothing and answers no row (404).  The caller's API key
 * ($11) must still be live: authentication may have come from this
 * process's memo (userauth_authenticate_agent_memo), so a key revoked since
 * is refused here, in the same round trip, and nothing is written.
 * The audit row command.accepted commits with the command; a command the
 * policy holds for a human gets its approval (lib/approval.h) and the row
 * approval.requested in the same statement, and waits past its own
 * delivery window by the policy's approval_ttl_s (the approvals duty
 * denies it when nobody decided: the channel's expiry never comes first).
 *   $1 ctx  $2 org  $3 agent  $4 type  $5 selector  $6 value  $7 nonce
 *   $8 state  $9 expires_in_ms  $10 fingerprint  $11 key id
 *   $12 the request's traceparent (NULL: tracing off): the command's trace,
 *   which its frame to the tab and its outbox rows carry
 *   $13 the blind-index entries of its value (lib/subject.h), NULL for none
 *   $14 its value sealed (lib/reseal.h: "commands:<id>:value"), NULL for none:
 *   the clear value ($6) is never stored, it only feeds the approval's mask
 *   $15 the command's id, made here since the seal's AAD names it
 */
static const char cmd_insert_sql[] =
    "WITH k AS (SELECT " APIKEY_LIVE_SQL("$11") " AS live),"
    " p AS (SELECT id, seq, state, fingerprint = $10::bytea AS same FROM commands, k"
    "       WHERE ctx_id = $1 AND nonce = $7 AND org_id = $2 AND k.live),"
    " s AS (UPDATE contexts SET last_seq = last_seq + 1 FROM k"
    "       WHERE id = $1 AND org_id = $2 AND expires_at > now() AND k.live"
    "       AND NOT EXISTS (SELECT 1 FROM p) RETURNING last_seq),"
    " i AS (INSERT INTO commands (id, org_id, ctx_id, seq, agent_id, type, selector,"
    "         value_sealed, nonce, state, expires_at, fingerprint, trace)"
    "       SELECT $15::uuid, $2, $1, s.last_seq, $3, $4, $5, $14::text, $7, $8,"
    "         now() + make_interval(secs => $9::float8 / 1000) + CASE $8"
    "           WHEN 'pending_approval' THEN (SELECT make_interval(secs => p.approval_ttl_s)"
    "             FROM contexts c JOIN agent_policies p ON p.form_id = c.form_id WHERE c.id = $1)"
    "           ELSE interval '0' END, $10::bytea, $12::text FROM s"
    "       RETURNING id, seq, state),"
    " si AS (" SUBJECT_INSERT_FROM("$2", "'command'", "i.id", "$13", "i, ") "),"
    " ia AS (INSERT INTO audit_log (org_id, actor, action, subject, detail)"
    "       SELECT $2::bigint, 'agent:' || $3, 'command.accepted', i.id::text,"
    "         jsonb_build_object('ctx', $1::text, 'seq', i.seq, 'type', $4::text,"
    "         'state', i.state, 'fingerprint', encode($10::bytea, 'hex')) FROM i),"
    APPROVAL_CREATE_CTE
    " SELECT 'created', id, seq, state FROM i"
    " UNION ALL"
    " SELECT CASE WHEN same THEN 'retry' ELSE 'reused' END, id, seq, state FROM p";

/* A nonce that raced another request with the same nonce (it won): its command. */
static const char cmd_nonce_sql[] =
    "SELECT CASE WHEN fingerprint = $4::bytea THEN 'retry' ELSE 'reused' END, id, seq, state"
    " FROM commands WHERE ctx_id = $1 AND nonce = $2 AND org_id = $3";

/* The rare path after a statement that wrote nothing: is the caller's key still live? */
static int
cmd_key_gone(struct req *r, const struct agent_auth *ag)
{
	struct db_res	*res = NULL;
	int		 gone = 0;

	if (db_query(r->app->db, &res, "SELECT " APIKEY_LIVE_SQL("$1"), 1,
	    (const char *[]){ ag->key_id }) == CB_OK && db_rows(res) == 1)
		gone = strcmp(db_val(res, 0, 0), "t") != 0;
	db_res_free(res);
	if (gone)
		userauth_challenge(r, "invalid_token");
	return gone;
}

/* The context's policy as cmd_bucket loaded it, for cmd_create (req->route_data). */
struct cmd_policy {
	int		 rc;		/* of policy_load_ctx_memo */
	struct policy	 pol;		/* when rc is CB_OK */
	int		 held;		/* cmd_create stored a command held for approval */
};

static void
cmd_policy_free(void *p)
{
	struct cmd_policy	*c = p;

	if (c->rc == CB_OK)
		policy_free(&c->pol);
	free(c);
}

/*
 * The tab's command rate (its policy's rate_per_minute), charged by the
 * pipeline in the same Redis call as the tenant's and the key's quotas:
 * one round trip, and a refusal by any of them spends nothing from the
 * others.  Keyed by the context id the database holds (req_match
 * lowercased it).  The policy is loaded here, once, and handed to
 * cmd_create; no policy or no such context: no bucket, and cmd_create
 * answers 403 or 404.
 */
static int
cmd_bucket(struct req *r, struct quota_bucket *b)
{
	const struct agent_auth	*ag = r->auth;
	const char		*ctx = req_param(r, "ctx_ref");
	struct cmd_policy	*c;

	if (!util_uuid_ok(ctx))
		return CB_OK;
	c = util_calloc(1, sizeof(*c));
	req_own(r, c, cmd_policy_free);
	r->route_data = c;
	c->rc = policy_load_ctx_memo(r->app->db, r->app->memo, ag->org, ctx, &c->pol);
	if (c->rc == CB_ERR_POLICY || c->rc == CB_ERR_NOT_FOUND)
		return CB_OK;
	if (c->rc != CB_OK)
		return c->rc;
	snprintf(b->key, sizeof(b->key), "cb:rl:cmd:%s", ctx);
	b->per_minute = c->pol.rate_per_minute;
	util_strlcpy(b->detail, "this tab's command rate is exhausted", sizeof(b->detail));
	return CB_OK;
}

/*
 * The audit row of a command the policy refused, naming the rule (the
 * refusal's reason); its own statement, as nothing else is written.  A
 * failure to write it is logged: the command is refused all the same.
 */
static void
cmd_blocked(struct req *r, const struct cmd_args *a, const char *rule)
{
	const struct agent_auth	*ag = r->auth;
	char			 actor[64], *detail;
	cJSON			*d = cJSON_CreateObject();
	int			 rc;

	if (d == NULL)
		util_oom();
	cJSON_AddStringToObject(d, "ctx", req_param(r, "ctx_ref"));
	cJSON_AddStringToObject(d, "key", ag->key_id);
	cJSON_AddStringToObject(d, "type", a->type);
	cJSON_AddStringToObject(d, "rule", rule);
	if ((detail = cJSON_PrintUnformatted(d)) == NULL)
		util_oom();
	cJSON_Delete(d);
	snprintf(actor, sizeof(actor), "agent:%s", ag->agent_id);
	rc = audit_append(r->app->db, ag->org, actor, "command.blocked",
	    req_param(r, "ctx_ref"), detail);
	if (rc != CB_OK)
		log_kv(LOG_LVL_WARN, "audit_append_failed", "action", "command.blocked",
		    "error", errs_name(rc), NULL);
	free(detail);
}

static int
cmd_create(struct req *r, const void *argp)
{
	const struct cmd_args	*a = argp;
	const struct agent_auth	*ag = r->auth;
	const char		*ctx = req_param(r, "ctx_ref"), *fp_parts[4];
	struct db		*db = r->app->db;
	struct db_res		*res = NULL;
	struct cmd_policy	*cp = r->route_data;
	const struct policy	*pol;
	const struct seal_keyring *kr;
	char			 why[200], key[96], exp[24], fp[DIGEST_TEXT], id[37];
	char			*value = NULL;
	struct buf		 subjects, sealed;
	cJSON			*o;
	int			 rc, retry;

	buf_init(&subjects, DIGEST_TEXT);
	buf_init(&sealed, CMD_SEALED_MAX);
	/* req_match gave the id its one (lowercase) spelling: the bucket's too. */
	if (!util_uuid_ok(ctx))
		return CB_ERR_NOT_FOUND;
	/* Loaded by cmd_bucket, which the pipeline ran before. */
	if (cp == NULL)
		return CB_ERR_INTERNAL;
	if (cp->rc == CB_ERR_POLICY) {
		cmd_blocked(r, a, "this form has no agent policy: agents may not drive it");
		return route_fail(r, cp->rc, "this form has no agent policy: agents may not drive it");
	}
	if (cp->rc != CB_OK)
		return cp->rc;
	pol = &cp->pol;
	if (policy_check(pol, a->type, a->selector, why, sizeof(why)) != CB_OK) {
		log_kv(LOG_LVL_WARN, "command_blocked", "ctx", ctx, "agent", ag->agent_id,
		    "type", a->type, "reason", why, NULL);
		cmd_blocked(r, a, why);
		rc = route_fail(r, CB_ERR_POLICY, why);
		goto out;
	}
	/* The tab's rate was charged with the quotas (cmd_bucket). */
	/* What the command asks, so a retried nonce is told from a reused one. */
	if (a->value)
		value = jv_canonical(a->value);
	snprintf(exp, sizeof(exp), "%lld", a->expires_in_ms);
	fp_parts[0] = a->type;
	fp_parts[1] = a->selector;
	fp_parts[2] = value;
	fp_parts[3] = exp;
	/* Keyed: it stays in the row, and must not let a guessed value be confirmed. */
	if ((rc = digest_keyed(r->app->settings.blind_index_key, "command", fp_parts, 4,
	    fp)) != CB_OK)
		goto out;
	/* Every value is sealed (docs/classification.md); no keyring, nothing written. */
	util_uuid_v4(id);
	if (value != NULL) {
		if ((kr = app_keys(r->app)) == NULL) {
			rc = CB_ERR_UNAVAILABLE;
			goto out;
		}
		if ((rc = reseal_seal_value(kr, "commands", id, value, strlen(value),
		    &sealed)) != CB_OK)
			goto out;
	}
	/* A value that names a person: its blind index, for an erasure (lib/subject.h). */
	if (cJSON_IsString(a->value) && (rc = subject_add_value(&subjects,
	    r->app->settings.blind_index_key, a->value->valuestring)) != CB_OK)
		goto out;
	/* Run once: a broken connection is the agent's to retry, never a silent second insert. */
	rc = db_query_once(db, &res, cmd_insert_sql, 15,
	    (const char *[]){ ctx, ag->org, ag->agent_id, a->type, a->selector, value, a->nonce,
	    policy_needs_approval(pol, a->type) ? "pending_approval" : "queued", exp, fp,
	    ag->key_id, req_traceparent(r), subjects.len > 0 ? buf_cstr(&subjects) : NULL,
	    sealed.len > 0 ? buf_cstr(&sealed) : NULL, id });
	if (rc == CB_ERR_DB_CONFLICT) {
		/* The same nonce committed meanwhile by a concurrent request. */
		rc = db_query(db, &res, cmd_nonce_sql, 4,
		    (const char *[]){ ctx, a->nonce, ag->org, fp });
	}
	if (rc != CB_OK)
		goto out;
	if (db_rows(res) != 1) {
		/* No row: the key died since it was remembered (401), or no live context (404). */
		rc = cmd_key_gone(r, ag) ? CB_ERR_UNAUTHENTICATED : CB_ERR_NOT_FOUND;
		goto out;
	}
	if (strcmp(db_val(res, 0, 0), "reused") == 0) {
		rc = route_fail(r, CB_ERR_CONFLICT, "nonce reused with a different command");
		goto out;
	}
	retry = strcmp(db_val(res, 0, 0), "retry") == 0;
	cp->held = !retry && strcmp(db_val(res, 0, 3), "pending_approval") == 0;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", db_val(res, 0, 1));
	cJSON_AddNumberToObject(o, "seq", strtod(db_val(res, 0, 2), NULL));
	cJSON_AddStringToObject(o, "state", db_val(res, 0, 3));
	snprintf(key, sizeof(key), "/api/v1/commands/%s", db_val(res, 0, 1));
	resp_header(r, "Location", key);
	resp_json(r, retry ? 200 : 202, o);
	if (!retry)
		metrics_add(MF_COMMANDS, strcmp(db_val(res, 0, 3), "pending_approval") == 0 ?
		    MC_PENDING_APPROVAL : MC_QUEUED, 0, 1);
	cJSON_Delete(o);
out:
	if (value != NULL)
		sodium_memzero(value, strlen(value));
	free(value);
	buf_free(&subjects);
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

/*
 * Wake the channel (Redis pub/sub) once the command committed, and the
 * outbox when the command is held for approval (its Slack message waits
 * there).  Only hints: a lost one is found by the channel's own sweep, or
 * the outbox's sweep a second later.
 */
static void
cmd_wake(struct req *r)
{
	const struct cmd_policy	*cp = r->route_data;

	kv_publish(r->app->kv, "cb:cmd", req_param(r, "ctx_ref"));
	if (cp != NULL && cp->held)
		kv_publish(r->app->kv, "cb:outbox", "slack.approval");
}

static int
cmd_get(struct req *r, const void *argp)
{
	const struct agent_auth	*ag = r->auth;
	const char		*id = req_param(r, "id");
	struct db_res		*res = NULL;
	cJSON			*o;
	int			 rc;

	(void)argp;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	rc = db_query(r->app->db, &res, "SELECT id, ctx_id, seq, type, selector, state, attempts,"
	    " reason, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    " FROM commands WHERE id = $1 AND org_id = $2", 2, (const char *[]){ id, ag->org });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	o = cJSON_CreateObject();
	jv_add_str_or_null(o, "id", db_val(res, 0, 0));
	jv_add_str_or_null(o, "ctx_ref", db_val(res, 0, 1));
	cJSON_AddNumberToObject(o, "seq", strtod(db_val(res, 0, 2), NULL));
	jv_add_str_or_null(o, "type", db_val(res, 0, 3));
	jv_add_str_or_null(o, "selector", db_val(res, 0, 4));
	jv_add_str_or_null(o, "state", db_val(res, 0, 5));
	cJSON_AddNumberToObject(o, "attempts", strtod(db_val(res, 0, 6), NULL));
	jv_add_str_or_null(o, "reason", db_val(res, 0, 7));
	jv_add_str_or_null(o, "created_at", db_val(res, 0, 8));
	jv_add_str_or_null(o, "delivered_at", db_val(res, 0, 9));
	jv_add_str_or_null(o, "finished_at", db_val(res, 0, 10));
	resp_json_nostore(r, 200, o);
	db_res_free(res);
	return CB_OK;
}

/*
 * GET /api/v1/commands?state=<state>[&ctx_ref=<uuid>][&limit=<1..100>]
 * The tenant's commands in one state (e.g. dead: for an operator or the
 * agent to see what never reached its tab), newest first.
 */
struct list_args {
	const char	*state;
	const char	*ctx_ref;
	long long	 limit;
};

#define CMD_LIST_DEFAULT	50
#define CMD_LIST_MAX		100

/* The states of commands (sql/0001, 0006 and 0012's CHECK). */
static const char *const cmd_states[] = {
	"pending_approval", "queued", "delivered", "applied", "failed", "timeout", "expired", "dead",
	"denied",
};

static int
cmd_state_ok(const cJSON *v, const char **why)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmd_states) / sizeof(cmd_states[0]); i++)
		if (strcmp(v->valuestring, cmd_states[i]) == 0)
			return 0;
	*why = "must be one of pending_approval, queued, delivered, applied, failed, timeout,"
	    " expired, dead, denied";
	return -1;
}

static const struct jv_field list_query[] = {
	{ "state", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct list_args, state), cmd_state_ok },
	{ "ctx_ref", JV_UUID, 0, 0, 0, offsetof(struct list_args, ctx_ref), NULL },
	{ "limit", JV_INT, 0, 1, CMD_LIST_MAX, offsetof(struct list_args, limit), NULL },
};

static int
cmd_list(struct req *r, const void *argp)
{
	const struct list_args	*a = argp;
	const struct agent_auth	*ag = r->auth;
	struct db_res		*res = NULL;
	char			 lim[24];
	cJSON			*o, *arr, *c;
	size_t			 i;
	int			 rc;

	snprintf(lim, sizeof(lim), "%lld", a->limit ? a->limit : CMD_LIST_DEFAULT);
	rc = db_query(r->app->db, &res, "SELECT id, ctx_id, seq, type, selector, state, attempts,"
	    " reason, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    " FROM commands WHERE org_id = $1 AND state = $2 AND ($3::uuid IS NULL OR ctx_id = $3)"
	    " ORDER BY created_at DESC, id DESC LIMIT $4::int", 4,
	    (const char *[]){ ag->org, a->state, a->ctx_ref, lim });
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "commands");
	for (i = 0; i < db_rows(res); i++) {
		c = cJSON_CreateObject();
		jv_add_str_or_null(c, "id", db_val(res, i, 0));
		jv_add_str_or_null(c, "ctx_ref", db_val(res, i, 1));
		cJSON_AddNumberToObject(c, "seq", strtod(db_val(res, i, 2), NULL));
		jv_add_str_or_null(c, "type", db_val(res, i, 3));
		jv_add_str_or_null(c, "selector", db_val(res, i, 4));
		jv_add_str_or_null(c, "state", db_val(res, i, 5));
		cJSON_AddNumberToObject(c, "attempts", strtod(db_val(res, i, 6), NULL));
		jv_add_str_or_null(c, "reason", db_val(res, i, 7));
		jv_add_str_or_null(c, "created_at", db_val(res, i, 8));
		jv_add_str_or_null(c, "finished_at", db_val(res, i, 9));
		cJSON_AddItemToArray(arr, c);
	}
	resp_json_nostore(r, 200, o);
	db_res_free(res);
	return CB_OK;
}

static const struct route cmd_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/contexts/{ctx_ref}/commands", .body_max = 8192,
	  .flags = ROUTE_JSON, .fields = cmd_fields,
	  .nfields = ROUTE_NELEM(cmd_fields), .args_size = sizeof(struct cmd_args),
	  .auth = ROUTE_AUTH_AGENT_MEMO, .scope = "commands:write", .check = cmd_check,
	  .quota = QUOTA_COMMAND, .bucket = cmd_bucket,
	  .act = cmd_create, .after = cmd_wake },
	{ .method = "GET", .pattern = "/api/v1/commands", .args_size = sizeof(struct list_args),
	  .auth = ROUTE_AUTH_AGENT, .scope = "commands:read", .act = cmd_list,
	  .query = list_query, .nquery = ROUTE_NELEM(list_query) },
	{ .method = "GET", .pattern = "/api/v1/commands/{id}",
	  .auth = ROUTE_AUTH_AGENT, .scope = "commands:read", .act = cmd_get },
};

ROUTE_MAIN("commands", cmd_routes)
