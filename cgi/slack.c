/*
 * POST /api/v1/slack/interactions
 *
 * Who: Slack, posting a click on an approval message's Approve or Deny
 *   button (CONTRACTS §4.2).  No bearer credentials: the request is
 *   authenticated by Slack's v0 signature over "v0:{timestamp}:{raw body}"
 *   with CB_SLACK_SIGNING_SECRET (lib/slacksig: timestamp within 300 s,
 *   constant-time compare), then accepted once: the signature is kept in
 *   Redis (SET NX, 600 s, longer than the window both ways), so the same
 *   request again is a replay.  Redis away: 503, never an unchecked pass.
 * Body: application/x-www-form-urlencoded, one field `payload` (lib/formenc),
 *   a block_actions JSON payload (field table below: a member Slack's
 *   contract does not list is refused) with one action: action_id approve
 *   or deny, value "<approval id>:<hash>".
 * The clicking Slack user must be a person of the approval's tenant
 *   (users.slack_user_id, set by `cb-admin user-slack`) with the approver or
 *   admin role; the decision is then the decision route's
 *   (lib/approval.h), via "slack", and the original message is updated
 *   through response_url by an outbox row (kind slack.respond) written in
 *   the decision's statement.
 * Answers: 200 {"response_type":"ephemeral","replace_original":false,"text"}
 *   within Slack's 3 s (one statement: the message update is the
 *   outbox's); 400 malformed body or payload (field named); 401 forged
 *   signature, missing headers or a timestamp outside the window; 403 an
 *   unknown Slack user, another tenant's, or one without the role; 404 no
 *   such approval; 409 a replayed request, or an approval already decided
 *   (or, to approve, its command changed); 410 expired; 422 the hash is not
 *   the approval's; 503 no signing secret configured or Redis away.
 *   Slack shows only "failed" for a 4xx: the refusals are meant for the
 *   logs and tests, and a person who clicks twice sees the message already
 *   updated by the first click.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "decision.h"
#include "errs.h"
#include "kv.h"
#include "log.h"
#include "route.h"
#include "slackpay.h"
#include "slacksig.h"
#include "util.h"

#define SLACK_BODY_MAX		SLACKPAY_BODY_MAX
#define SLACK_REPLAY_TTL_S	"600"

struct slack_args {
	const char	*approval;	/* from the action's value */
	char		 hash[APPROVAL_HASH_HEX + 1];
	const char	*slack_user;
	const char	*response_url;
	enum approval_verdict verdict;
};

/* Only Slack's own response URLs (CB_SLACK_RESPONSE_URL_PREFIX) are called back. */
static int
slack_url_ok(const struct req *r, const char *url)
{
	const char	*p = r->app->settings.slack_response_url_prefix;

	return p != NULL && strncmp(url, p, strlen(p)) == 0 && strchr(url, ' ') == NULL;
}

/*
 * Authentication: the signature, the window, then once only.  The secret
 * is copied out of the settings only for the call.
 */
static int
slack_authorize(struct req *r)
{
	const struct settings	*s = &r->app->settings;
	struct slacksig_secret	 sec;
	struct kv_reply		*rep = NULL;
	const char		*why = NULL, *sig = req_header(r, "X-Slack-Signature");
	char			 key[96];
	int			 rc;

	if (s->slack_signing_secret == NULL)
		return route_fail(r, CB_ERR_UNAVAILABLE, "Slack interactivity is not configured"
		    " (CB_SLACK_SIGNING_SECRET)");
	sec.s = s->slack_signing_secret;
	sec.len = strlen(s->slack_signing_secret);
	rc = slacksig_verify(&sec, 1, req_header(r, "X-Slack-Request-Timestamp"), sig,
	    r->body ? r->body : "", r->body_len, (int64_t)util_now_s(), NULL, &why);
	if (rc != CB_OK) {
		log_kv(LOG_LVL_WARN, "slack_signature_refused", "reason", why ? why : "-", NULL);
		return route_fail(r, CB_ERR_UNAUTHENTICATED, why ? why : "bad signature");
	}
	/* A verified signature names its request: keep it for longer than the window. */
	snprintf(key, sizeof(key), "cb:slack:seen:%.70s", sig);
	rc = kv_cmd(r->app->kv, &rep, 6, (const char *[]){ "SET", key, "1", "NX", "EX",
	    SLACK_REPLAY_TTL_S }, NULL);
	if (rc != CB_OK) {
		kv_reply_free(rep);
		return route_fail(r, CB_ERR_UNAVAILABLE, "the replay cache cannot be reached");
	}
	if (kv_reply_type(rep) == KV_NIL) {
		kv_reply_free(rep);
		log_kv(LOG_LVL_WARN, "slack_replay_refused", NULL);
		return route_fail(r, CB_ERR_CONFLICT, "this request was already received (replay)");
	}
	kv_reply_free(rep);
	return CB_OK;
}

static void
slack_free_pay(void *p)
{
	slackpay_free(p);
	free(p);
}

/* Parse the form, then the payload, into args (lib/slackpay's field tables). */
static int
slack_check(struct req *r, void *argp)
{
	struct slack_args	*a = argp;
	struct slackpay		*p;
	const char		*field = NULL, *why = NULL;

	if (r->content_type == NULL ||
	    strncmp(r->content_type, "application/x-www-form-urlencoded", 33) != 0)
		return route_fail(r, CB_ERR_MEDIA_TYPE,
		    "send Content-Type: application/x-www-form-urlencoded");
	p = util_calloc(1, sizeof(*p));
	req_own(r, p, slack_free_pay);
	if (slackpay_parse(r->body ? r->body : "", r->body_len, p, &field, &why) != CB_OK)
		return route_fail_field(r, CB_ERR_VALIDATION, field, why);
	if (!slack_url_ok(r, p->response_url))
		return route_fail_field(r, CB_ERR_VALIDATION, "response_url", "not Slack's");
	a->approval = p->approval;
	util_strlcpy(a->hash, p->hash, sizeof(a->hash));
	a->slack_user = p->slack_user;
	a->response_url = p->response_url;
	a->verdict = p->verdict;
	return CB_OK;
}

/* The person behind a Slack user, in the approval's tenant only. */
static const char who_sql[] =
    "SELECT u.id, u.role, a.org_id FROM approvals a JOIN users u ON u.org_id = a.org_id"
    " WHERE a.id = $1::uuid AND u.slack_user_id = $2 AND u.disabled_at IS NULL";

static int
slack_act(struct req *r, const void *argp)
{
	const struct slack_args	*a = argp;
	struct db_res		*res = NULL;
	struct approval_ask	 q;
	struct approval_result	 out;
	char			 actor[64], org[24], text[300];
	cJSON			*o;
	int			 rc;

	rc = db_query(r->app->db, &res, who_sql, 2, (const char *[]){ a->approval, a->slack_user });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		/* Unknown approval and unknown person look alike: no tenant is told apart. */
		return route_fail(r, CB_ERR_FORBIDDEN, "this Slack user is no approver of the"
		    " approval's organisation");
	}
	if (strcmp(db_val(res, 0, 1), "approver") != 0 && strcmp(db_val(res, 0, 1), "admin") != 0) {
		db_res_free(res);
		return route_fail(r, CB_ERR_FORBIDDEN, "this person's role may not decide approvals");
	}
	snprintf(actor, sizeof(actor), "user:%s", db_val(res, 0, 0));
	util_strlcpy(org, db_val(res, 0, 2), sizeof(org));
	db_res_free(res);
	memset(&q, 0, sizeof(q));
	q.org = org;
	q.id = a->approval;
	q.actor = actor;
	q.verdict = a->verdict;
	q.hash = a->hash;
	q.via = "slack";
	q.response_url = a->response_url;
	if ((rc = decision_take(r, &q, &out)) != CB_OK)
		return rc;
	snprintf(text, sizeof(text), "Command %s: %s.", out.command_id,
	    strcmp(out.state, "approved") == 0 ? "approved" : "denied");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "response_type", "ephemeral");
	cJSON_AddBoolToObject(o, "replace_original", 0);
	cJSON_AddStringToObject(o, "text", text);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

/* The tab (an approved command goes out now) and the outbox (the message's update). */
static void
slack_wake(struct req *r)
{
	if (r->route_data) {
		decision_wake(r);
		kv_publish(r->app->kv, "cb:outbox", "slack.respond");
	}
}

static const struct route slack_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/slack/interactions", .body_max = SLACK_BODY_MAX,
	  .args_size = sizeof(struct slack_args), .rate_class = RATE_WEBHOOK,
	  .authorize = slack_authorize, .check = slack_check, .act = slack_act,
	  .after = slack_wake },
};

ROUTE_MAIN("slack", slack_routes)
