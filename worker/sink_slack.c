/*
 * sink_slack: operators' alerts (outbox rows of kind "slack.alert", raised
 * by lib/alert) into Slack, one message per row; the message asking a
 * person to decide on an approval (kind "slack.approval", Block Kit with
 * Approve and Deny buttons: slk_approval_message) the same way; and the
 * update of that message after its decision (kind "slack.respond": see
 * slk_respond), through an incoming
 * webhook (CB_SLACK_WEBHOOK_URL: 200 and a plain "ok") or the Web API's
 * chat.postMessage with a bot token (CB_SLACK_BOT_TOKEN and
 * CB_SLACK_CHANNEL: 200 and {"ok":true|false,"error":...}), CONTRACTS §4.
 *
 * A 429 pauses the sink for every worker for Retry-After (Slack limits
 * posting per channel, not per message); 5xx and transport errors retry on
 * the schedule; Slack's refusals of the request itself (invalid_payload,
 * channel_not_found, invalid_auth, no_service, ...) are dead letters: a
 * revoked hook will not start working by being asked again.  With neither
 * setting an alert is only logged (alert_raise logs every alert) and the
 * row is done with outcome "not_configured".  Slack must answer within
 * CB_SLACK_TIMEOUT_MS; a timeout is retried like a 5xx.
 *
 * Once, not twice: chat.postMessage has no idempotency key, and a worker
 * that dies (or times out) after Slack took a message but before the row
 * was marked done would post it again.  A message is posted on a
 * connection of its own (libcurl sends a request again, unasked, when a
 * kept connection closes before any byte of the answer).  A Web API
 * message carries the
 * row's id as message metadata (event_type "cb_outbox_row", event_payload
 * {"outbox_id": ...}), and a row on its second attempt or later first
 * reads the channel's history since the row was written
 * (conversations.history with include_all_metadata; the bot needs
 * channels:history, or groups:history for a private channel): a message
 * with its id there means it was posted, and the row is done without
 * posting again.  That needs CB_SLACK_CHANNEL to be a channel id (C…, G…):
 * the history is read by id only.  With a channel name, with Slack
 * refusing the read (missing_scope, not_in_channel, ...), or through an
 * incoming webhook (which can post but never read), a retried message is
 * posted again: at least once, and the log says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "sink.h"
#include "slackhist.h"
#include "util.h"

#define SLK_BODY_MAX	(64u * 1024u)
#define SLK_PAUSE_DEFAULT_S	30

struct slk_call {
	struct sink_env_state	*k;
	struct sink_batch	*b;
	int			 web_api;
	int			 respond;	/* a slack.respond row: a response_url */
	/*
	 * The post (chat.postMessage, the incoming webhook or a response_url),
	 * its URL when built here, its Authorization line and body.  A retried
	 * Web API message reads the channel's history first, then maybe this.
	 */
	struct httpc_req	 post;
	struct buf		 url, auth, body;
};

/* The URL (a response_url is a capability) and the token are wiped. */
static void
slk_call_free(struct slk_call *c)
{
	buf_wipe(&c->url);
	buf_wipe(&c->auth);
	buf_free(&c->body);
	free(c);
}

/* Slack's own error text, printable and short. */
static void
slk_text_code(const struct buf *body, char *out, size_t outsz)
{
	size_t	 i, j = 0;

	for (i = 0; i < body->len && j + 1 < outsz; i++) {
		char c = body->data[i];

		if (c == '\n' || c == '\r')
			break;
		out[j++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[j] = '\0';
}

/* Slack's transient answers; every other error is about the request. */
static int
slk_transient(const char *code)
{
	static const char *const transient[] = { "ratelimited", "internal_error", "fatal_error",
	    "service_unavailable", "request_timeout" };
	size_t			 i;

	for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(code, transient[i]) == 0)
			return 1;
	return 0;
}

/* A 429: the sink pauses for every worker for Retry-After, the row waits uncharged. */
static int
slk_rate_limited(struct slk_call *c, const struct httpc_resp *h)
{
	struct sink_row	*row = &c->b->rows[0];
	long		 secs;

	if (h->status != 429)
		return 0;
	secs = h->retry_after_s > 0 ? h->retry_after_s : SLK_PAUSE_DEFAULT_S;
	sink_pause(c->k->env, "slack", secs, "429 rate limited");
	sink_row_set(row, SINK_GIVE_BACK, "ratelimited", "Slack answered 429");
	row->retry_after_s = secs;
	return 1;
}

static void
slk_done(const struct httpc_resp *h, void *ud)
{
	struct slk_call	*c = ud;
	struct sink_row	*row = &c->b->rows[0];
	char		 code[64] = "", msg[300];
	cJSON		*doc = NULL;
	struct jv_error	 je;
	const cJSON	*ok, *err;

	if (h->err != HTTPC_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", httpc_err_name(h->err), h->message);
		sink_row_set(row, h->err == HTTPC_ABORTED ? SINK_GIVE_BACK : h->err == HTTPC_EGRESS ||
		    h->err == HTTPC_BAD_URL || h->err == HTTPC_TLS ? SINK_DEAD : SINK_RETRY,
		    httpc_err_name(h->err), msg);
		goto out;
	}
	if (slk_rate_limited(c, h))
		goto out;
	if (c->web_api && h->status == 200) {
		if (jv_parse(h->body.data, h->body.len, &doc, &je) != CB_OK || !cJSON_IsObject(doc)) {
			sink_row_set(row, SINK_RETRY, "CB_BAD_RESPONSE", "chat.postMessage answer is not JSON");
			goto out;
		}
		ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
		err = cJSON_GetObjectItemCaseSensitive(doc, "error");
		if (cJSON_IsTrue(ok)) {
			row->outcome = SINK_DONE;
			util_strlcpy(row->result, "{\"outcome\":\"posted\",\"via\":\"chat.postMessage\"}",
			    sizeof(row->result));
			goto out;
		}
		util_strlcpy(code, cJSON_IsString(err) ? err->valuestring : "unknown_error",
		    sizeof(code));
		snprintf(msg, sizeof(msg), "chat.postMessage: %s", code);
		sink_row_set(row, slk_transient(code) ? SINK_RETRY : SINK_DEAD, code, msg);
		goto out;
	}
	if (c->respond && h->status == 200) {
		row->outcome = SINK_DONE;
		util_strlcpy(row->result, "{\"outcome\":\"message_updated\",\"via\":\"response_url\"}",
		    sizeof(row->result));
		goto out;
	}
	if (!c->web_api && h->status == 200) {
		row->outcome = SINK_DONE;
		util_strlcpy(row->result, "{\"outcome\":\"posted\",\"via\":\"incoming_webhook\"}",
		    sizeof(row->result));
		goto out;
	}
	slk_text_code(&h->body, code, sizeof(code));
	if (code[0] == '\0')
		snprintf(code, sizeof(code), "HTTP_%ld", h->status);
	snprintf(msg, sizeof(msg), "HTTP %ld %s", h->status, code);
	sink_row_set(row, h->status >= 500 || h->status == 408 ? SINK_RETRY : SINK_DEAD, code, msg);
	row->retry_after_s = h->retry_after_s > 0 ? h->retry_after_s : 0;
out:
	cJSON_Delete(doc);
	sink_note(c->k->env, "slack", row->outcome == SINK_DONE ? "ok" :
	    row->outcome == SINK_DEAD ? "permanent" : "retry", row->code);
	sink_batch_done(c->b);
	slk_call_free(c);
}

/* A call of the batch b: its post a JSON POST with Slack's timeout, URL and body to come. */
static struct slk_call *
slk_call_new(struct sink_env_state *k, struct sink_batch *b)
{
	struct slk_call	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		util_oom();
	c->k = k;
	c->b = b;
	buf_init(&c->url, 1024);
	buf_init(&c->auth, 512);
	buf_init(&c->body, SLK_BODY_MAX);
	c->post.method = "POST";
	c->post.headers[0] = "Content-Type: application/json; charset=utf-8";
	c->post.timeout_ms = (long)k->env->s->slack_timeout_ms;
	return c;
}

/* Start q, done to answer it; a call that cannot even start is retried later. */
static void
slk_send(struct slk_call *c, const struct httpc_req *q, httpc_done_fn done)
{
	struct sink_batch	*b = c->b;

	if (httpc_start(c->k->env->http, q, done, c) != CB_OK) {
		slk_call_free(c);
		sink_row_set(&b->rows[0], SINK_RETRY, "CB_BAD_REQUEST", "the call could not be started");
		sink_batch_done(b);
	}
}

/* The call's post, with its body. */
static void
slk_post(struct slk_call *c)
{
	c->post.body = c->body.data;
	c->post.bodylen = c->body.len;
	slk_send(c, &c->post, slk_done);
}

/*
 * A slack.respond row (lib/approval.c): the decision taken on an approval
 * message replaces that message, through the click's response_url (usable
 * 5 times within 30 minutes: a row still failing after that is dead).
 * The URL comes from a signature-checked click and was matched against
 * CB_SLACK_RESPONSE_URL_PREFIX by the route; it is a capability, never
 * logged.
 */
static void
slk_respond(struct sink_env_state *k, struct sink_batch *b, const cJSON *p)
{
	const struct settings	*s = k->env->s;
	struct sink_row		*row = &b->rows[0];
	const cJSON		*url = cJSON_GetObjectItemCaseSensitive(p, "url");
	const cJSON		*dec = cJSON_GetObjectItemCaseSensitive(p, "decision");
	const cJSON		*cmd = cJSON_GetObjectItemCaseSensitive(p, "command");
	struct slk_call		*c;
	char			 text[200];

	if (!cJSON_IsString(url) || !cJSON_IsString(dec) || !cJSON_IsString(cmd) ||
	    s->slack_response_url_prefix == NULL ||
	    strncmp(url->valuestring, s->slack_response_url_prefix,
	    strlen(s->slack_response_url_prefix)) != 0) {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "no response_url of Slack's");
		sink_batch_done(b);
		return;
	}
	c = slk_call_new(k, b);
	c->respond = 1;
	snprintf(text, sizeof(text), "Command %.40s was %.16s.", cmd->valuestring,
	    dec->valuestring);
	(void)buf_puts(&c->body, "{\"replace_original\":true,\"text\":");
	(void)buf_json_str(&c->body, text);
	(void)buf_putc(&c->body, '}');
	(void)buf_puts(&c->url, url->valuestring);
	c->post.url = buf_cstr(&c->url);
	slk_post(c);
}

static const char *
slk_str(const cJSON *p, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(p, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * A slack.approval row (lib/approval.h: APPROVAL_CREATE_CTE): the message
 * asking a person to decide, as Block Kit: the command summarised (type,
 * selector, the value already masked by the row), and Approve and Deny
 * buttons whose value is "<approval id>:<hash>", which a click brings back
 * to POST /api/v1/slack/interactions.  The fallback text names the
 * command.  CB_ERR_VALIDATION when the row lacks a member.
 */
static int
slk_approval_message(const cJSON *p, char *text, size_t textsz, struct buf *blocks)
{
	const char	*id = slk_str(p, "approval"), *hash = slk_str(p, "hash");
	const char	*cmd = slk_str(p, "command"), *type = slk_str(p, "type");
	const char	*sel = slk_str(p, "selector"), *val = slk_str(p, "value");
	const char	*exp = slk_str(p, "expires_at");
	char		 summary[700], value[140];
	const char	*verb[2] = { "approve", "deny" }, *label[2] = { "Approve", "Deny" };
	const char	*style[2] = { "primary", "danger" };
	int		 i;

	if (id == NULL || hash == NULL || cmd == NULL || type == NULL || exp == NULL)
		return CB_ERR_VALIDATION;
	snprintf(text, textsz, "Approval needed: command %s (%s)", cmd, type);
	snprintf(summary, sizeof(summary), "An agent asks to run *%s*%s%s%s%s.\nCommand %s,"
	    " approval %s; undecided by %s it is denied.", type, sel ? " on `" : "",
	    sel ? sel : "", sel ? "`" : "", val ? (snprintf(value, sizeof(value),
	    " with the value %s", val), value) : "", cmd, id, exp);
	(void)buf_puts(blocks, "[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":");
	(void)buf_json_str(blocks, summary);
	(void)buf_puts(blocks, "}},{\"type\":\"actions\",\"block_id\":\"decide\",\"elements\":[");
	for (i = 0; i < 2; i++) {
		(void)buf_printf(blocks, "%s{\"type\":\"button\",\"action_id\":\"%s\","
		    "\"style\":\"%s\",\"text\":{\"type\":\"plain_text\",\"text\":\"%s\"},"
		    "\"value\":", i ? "," : "", verb[i], style[i], label[i]);
		(void)buf_printf(blocks, "\"%.36s:%.64s\"}", id, hash);
	}
	return buf_puts(blocks, "]}]");
}

/* A channel id (C…, G…): what conversations.history takes; a "#name" is not. */
static int
slk_channel_is_id(const char *c)
{
	size_t	 n = strlen(c);

	return n >= 3 && n <= 24 && (c[0] == 'C' || c[0] == 'G') &&
	    strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

/*
 * The history read of a retried message: found, the row is done; not
 * found, or Slack will not let us read, post it; a transient failure
 * retries the row (posting now could post twice).
 */
static void
slk_history_done(const struct httpc_resp *h, void *ud)
{
	struct slk_call	*c = ud;
	struct sink_row	*row = &c->b->rows[0];
	char		 code[SLACKHIST_ERROR_MAX] = "", msg[300];
	int		 found;

	if (h->err != HTTPC_OK || h->status >= 500 || h->status == 408) {
		if (h->err != HTTPC_OK)
			util_strlcpy(code, httpc_err_name(h->err), sizeof(code));
		else
			snprintf(code, sizeof(code), "HTTP_%ld", h->status);
		snprintf(msg, sizeof(msg), "conversations.history: %s", code);
		sink_row_set(row, h->err == HTTPC_ABORTED ? SINK_GIVE_BACK : SINK_RETRY, code, msg);
		goto done;
	}
	if (slk_rate_limited(c, h))
		goto done;
	found = h->status == 200 ? slackhist_find(h->body.data, h->body.len, row->id, code) :
	    SLACKHIST_REFUSED;
	if (found == SLACKHIST_FOUND) {
		row->outcome = SINK_DONE;
		util_strlcpy(row->result, "{\"outcome\":\"posted\",\"via\":\"chat.postMessage\","
		    "\"found\":\"conversations.history\"}", sizeof(row->result));
		log_kv(LOG_LVL_INFO, "slack_already_posted", "outbox_id", row->id, NULL);
		goto done;
	}
	if (found == SLACKHIST_ABSENT) {
		slk_post(c);
		return;
	}
	/* Not an answer of Slack's (a proxy's page): ask again later, do not post. */
	if (found == SLACKHIST_BAD) {
		sink_row_set(row, SINK_RETRY, "CB_BAD_RESPONSE",
		    "conversations.history answer is not Slack's JSON");
		goto done;
	}
	/* Slack refuses the read: say why, and post (at least once). */
	if (h->status != 200)
		snprintf(code, sizeof(code), "HTTP_%ld", h->status);
	if (slk_transient(code)) {
		snprintf(msg, sizeof(msg), "conversations.history: %s", code);
		sink_row_set(row, SINK_RETRY, code, msg);
		goto done;
	}
	log_kv(LOG_LVL_WARN, "slack_history_refused", "outbox_id", row->id, "error", code,
	    "then", "post again", NULL);
	slk_post(c);
	return;
done:
	sink_note(c->k->env, "slack", row->outcome == SINK_DONE ? "ok" : "retry", row->code);
	sink_batch_done(c->b);
	slk_call_free(c);
}

/* Read the channel's history since the row was written, then post or not. */
static void
slk_history_start(struct slk_call *c)
{
	const struct settings	*s = c->k->env->s;
	struct sink_row		*row = &c->b->rows[0];
	struct httpc_req	 q;
	struct buf		 url;

	buf_init(&url, 1024);
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.timeout_ms = (long)s->slack_timeout_ms;
	q.headers[0] = buf_cstr(&c->auth);
	(void)buf_printf(&url, "%s/conversations.history?channel=%s&oldest=%lld&limit=%d"
	    "&include_all_metadata=true", s->slack_api_url, s->slack_channel,
	    row->created_s > 0 ? row->created_s - 1 : 0, SLACKHIST_MESSAGES_MAX);
	q.url = buf_cstr(&url);
	slk_send(c, &q, slk_history_done);
	buf_free(&url);
}

static void
slk_start(void *state, struct sink_batch *b)
{
	struct sink_env_state	*k = state;
	const struct settings	*s = k->env->s;
	struct sink_row		*row = &b->rows[0];
	struct slk_call		*c;
	struct buf		 blocks;
	cJSON			*p = cJSON_Parse(row->payload);
	const cJSON		*text = cJSON_GetObjectItemCaseSensitive(p, "text");
	const char		*msg;
	char			 atext[200];

	buf_init(&blocks, SLK_BODY_MAX);
	if (strcmp(row->kind, "slack.respond") == 0) {
		slk_respond(k, b, p);
		goto out;
	}
	if (strcmp(row->kind, "slack.approval") == 0) {
		if (slk_approval_message(p, atext, sizeof(atext), &blocks) != CB_OK) {
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "not an approval");
			sink_batch_done(b);
			goto out;
		}
		msg = atext;
	} else if (cJSON_IsString(text))
		msg = text->valuestring;
	else {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "no text");
		sink_batch_done(b);
		goto out;
	}
	if (s->slack_webhook_url == NULL && (s->slack_bot_token == NULL || s->slack_channel == NULL)) {
		log_kv(LOG_LVL_WARN, "slack_not_configured", "outbox_id", row->id, NULL);
		row->outcome = SINK_DONE;
		util_strlcpy(row->result, "{\"outcome\":\"not_configured\"}", sizeof(row->result));
		sink_batch_done(b);
		goto out;
	}
	c = slk_call_new(k, b);
	c->post.fresh_connect = 1;	/* libcurl's own resend could post it twice */
	(void)buf_puts(&c->body, "{");
	if (s->slack_webhook_url != NULL) {
		c->post.url = s->slack_webhook_url;
	} else {
		c->web_api = 1;
		(void)buf_printf(&c->url, "%s/chat.postMessage", s->slack_api_url);
		c->post.url = buf_cstr(&c->url);
		(void)buf_printf(&c->auth, "Authorization: Bearer %s", s->slack_bot_token);
		c->post.headers[1] = buf_cstr(&c->auth);
		(void)buf_puts(&c->body, "\"channel\":");
		(void)buf_json_str(&c->body, s->slack_channel);
		/* The row's id, for the history read of a later attempt. */
		(void)buf_printf(&c->body, ",\"metadata\":{\"event_type\":\"" SLACKHIST_EVENT_TYPE "\","
		    "\"event_payload\":{\"outbox_id\":\"%s\"}},", row->id);
	}
	(void)buf_puts(&c->body, "\"text\":");
	if (buf_json_str(&c->body, msg) != CB_OK || (blocks.len > 0 &&
	    (buf_puts(&c->body, ",\"blocks\":") != CB_OK ||
	    buf_append(&c->body, blocks.data, blocks.len) != CB_OK)) ||
	    buf_putc(&c->body, '}') != CB_OK) {
		slk_call_free(c);
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "text too long");
		sink_batch_done(b);
		goto out;
	}
	if (c->web_api && row->attempt > 1) {
		if (slk_channel_is_id(s->slack_channel)) {
			slk_history_start(c);
			goto out;
		}
		log_kv(LOG_LVL_WARN, "slack_history_unchecked", "outbox_id", row->id, "why",
		    "CB_SLACK_CHANNEL is a name, not an id", "then", "post again", NULL);
	}
	slk_post(c);
out:
	cJSON_Delete(p);
	buf_free(&blocks);
}

const struct sink sink_slack = {
	.name = "slack",
	.batch_max = 1,
	.open = sink_env_open,
	.close = sink_env_close,
	.start = slk_start,
};
