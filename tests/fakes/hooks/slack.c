/*
 * cb-fake-hooks' fake Slack (CONTRACTS §4.3, §4.4): chat.postMessage
 * (form or JSON, bot token checked, HTTP 200 {"ok":...}, message metadata
 * kept), conversations.history (a channel's posted messages, newest
 * first, their metadata with include_all_metadata), the incoming webhook
 * (plain-text "ok", errors as plain text with Slack's statuses) and a
 * message's response_url.  Every posting call is recorded as a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#include "hk.h"

/* ---- the fake Slack -------------------------------------------------------- */

/* HTTP status of an incoming-webhook error (CONTRACTS §4.3). */
static int
hk_webhook_status(const char *error)
{
	static const struct {
		const char	*error;
		int		 status;
	} map[] = {
		{ "invalid_payload", 400 }, { "user_not_found", 400 },
		{ "no_text", 400 }, { "invalid_blocks", 400 },
		{ "action_prohibited", 403 }, { "invalid_token", 403 },
		{ "channel_not_found", 404 }, { "no_team", 404 },
		{ "no_service", 404 }, { "no_active_hooks", 404 },
		{ "channel_is_archived", 410 }, { "rollup_error", 500 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].error, error) == 0)
			return map[i].status;
	return 400;
}

/* Channel ids (C…, G…, D…) or "#name". */
static int
hk_channel_ok(const char *c)
{
	size_t	 n = strlen(c);

	if (n >= 2 && n <= 81 && c[0] == '#')
		return strspn(c + 1, "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    n - 1;
	return n >= 3 && n <= 24 && strchr("CGD", c[0]) != NULL &&
	    strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

/*
 * Message metadata: an object with a string event_type and an object
 * event_payload, as Slack takes it; NULL, or Slack's error string.
 */
static const char *
hk_take_metadata(const cJSON *v, struct hk_message *m)
{
	const cJSON	*t = cJSON_GetObjectItemCaseSensitive(v, "event_type");
	const cJSON	*p = cJSON_GetObjectItemCaseSensitive(v, "event_payload");

	if (!cJSON_IsObject(v))
		return "invalid_metadata_format";
	if (!cJSON_IsString(t) || t->valuestring[0] == '\0' || !cJSON_IsObject(p))
		return "invalid_metadata_schema";
	if ((m->metadata = cJSON_Duplicate(v, 1)) == NULL)
		util_oom();
	return NULL;
}

/* The message fields of a JSON body; NULL, or Slack's error string. */
static const char *
hk_parse_json_msg(const char *body, size_t len, struct hk_message *m,
    const char *bad_json)
{
	struct jv_error	 je;
	cJSON		*doc = NULL;
	const cJSON	*v;
	const char	*err = NULL;

	if (jv_parse(body, len, &doc, &je) != CB_OK || !cJSON_IsObject(doc)) {
		err = bad_json;
		goto out;
	}
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(doc, "channel")))
		m->channel = util_strdup(v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(doc, "text")))
		m->text = util_strdup(v->valuestring);
	if ((v = cJSON_GetObjectItemCaseSensitive(doc, "blocks")) != NULL) {
		if (!cJSON_IsArray(v))
			err = "invalid_blocks";
		else if ((m->blocks = cJSON_Duplicate(v, 1)) == NULL)
			util_oom();
	}
	if (err == NULL && (v = cJSON_GetObjectItemCaseSensitive(doc, "metadata")) != NULL)
		err = hk_take_metadata(v, m);
out:
	cJSON_Delete(doc);
	return err;
}

/* The message fields of a form body; NULL, or Slack's error string. */
static const char *
hk_parse_form_msg(const char *body, size_t len, struct hk_message *m,
    struct buf *token)
{
	struct buf	 v;
	struct jv_error	 je;
	const char	*err = NULL;
	int		 r;

	buf_init(&v, FH_BODY_MAX);
	if (fh_form_get(body, len, "token", token) < 0)
		err = "invalid_form_data";
	if ((r = fh_form_get(body, len, "channel", &v)) < 0)
		err = "invalid_form_data";
	else if (r > 0)
		m->channel = util_strdup(buf_cstr(&v));
	buf_reset(&v);
	if ((r = fh_form_get(body, len, "text", &v)) < 0)
		err = "invalid_form_data";
	else if (r > 0)
		m->text = util_strdup(buf_cstr(&v));
	buf_reset(&v);
	if ((r = fh_form_get(body, len, "blocks", &v)) < 0)
		err = "invalid_form_data";
	else if (r > 0 && (jv_parse(v.data, v.len, &m->blocks, &je) != CB_OK ||
	    !cJSON_IsArray(m->blocks)))
		err = "invalid_blocks";
	buf_reset(&v);
	if ((r = fh_form_get(body, len, "metadata", &v)) < 0)
		err = "invalid_form_data";
	else if (r > 0 && err == NULL) {
		cJSON	*md = NULL;

		if (jv_parse(v.data, v.len, &md, &je) != CB_OK)
			err = "invalid_metadata_format";
		else
			err = hk_take_metadata(md, m);
		cJSON_Delete(md);
	}
	buf_free(&v);
	return err;
}

/* Bearer token of the header, else the form's; NULL, or the auth error. */
static const char *
hk_slack_auth(const struct fh_req *rq, const struct buf *form_token)
{
	const char	*auth = fh_header(rq, "Authorization"), *t = NULL;

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		t = auth + 7;
	else if (form_token->len > 0)
		t = form_token->data;
	if (t == NULL || *t == '\0')
		return "not_authed";
	if (cfg.slack_token[0] == '\0' || strlen(t) >= HK_TOKEN_MAX ||
	    !util_streq_ct(t, cfg.slack_token))
		return "invalid_auth";
	return NULL;
}

/* A message ts: seconds, a dot, six digits; unique within this process. */
static void
hk_make_ts(char *out, size_t outsz)
{
	long	 n;

	pthread_mutex_lock(&hk.lock);
	n = ++hk.ts_counter;
	pthread_mutex_unlock(&hk.lock);
	snprintf(out, outsz, "%lld.%06ld", (long long)util_now_s(),
	    n % 1000000);
}

static void
hk_record_message(struct hk_message *m, const char *via, const char *error,
    int status)
{
	util_strlcpy(m->via, via, sizeof(m->via));
	m->ok = error == NULL;
	util_strlcpy(m->error, error ? error : "", sizeof(m->error));
	m->status = status;
	pthread_mutex_lock(&hk.lock);
	if (error == NULL)
		hk.slack_posted++;
	else
		hk.slack_errors++;
	hk_store_message(m);
	pthread_mutex_unlock(&hk.lock);
}

static void
hk_slack_error(struct fh_resp *rs, const char *error)
{
	cJSON	*doc = fp_obj();

	fp_add_bool(doc, "ok", 0);
	fp_add_str(doc, "error", error);
	/* The Web API answers its errors with HTTP 200. */
	fp_json(rs, 200, HK_SLACK_JSON, doc);
}

/* A channel's id: "#name" gets one, as Slack answers with ids. */
static void
hk_channel_id(const char *c, char *out, size_t outsz)
{
	if (c[0] == '#')
		snprintf(out, outsz, "C%010llX",
		    (unsigned long long)hk_hash(c) % 0xFFFFFFFFFFULL);
	else
		util_strlcpy(out, c, outsz);
}

/* POST /api/chat.postMessage */
void
hk_post_message(struct fh_req *rq, struct fh_resp *rs)
{
	struct hk_message	 m;
	struct hk_fault		 f;
	struct buf		 token;
	const char		*perr = NULL, *err;
	cJSON			*doc, *msg;
	int			 lost = 0;

	memset(&m, 0, sizeof(m));
	buf_init(&token, HK_TOKEN_MAX);
	if (hk_take_fault(HC_SLACK_API, NULL, &f)) {
		if (f.kind == HF_DROP) {
			rs->drop = 1;
			goto out;
		}
		if (f.kind == HF_STATUS) {
			hk_apply_fault(&f, HC_SLACK_API, NULL, rs);
			hk_record_message(&m, "chat.postMessage", f.status == 429 ?
			    "ratelimited" : "fatal_error", f.status);
			goto out;
		}
		if (f.kind == HF_SLACK_ERROR) {
			hk_slack_error(rs, f.error);
			hk_record_message(&m, "chat.postMessage", f.error, 200);
			goto out;
		}
		lost = f.kind == HF_LOST_ANSWER;
		if (!lost)
			fh_sleep_ms(f.latency_ms);
	}
	if (fh_ctype_is(rq, "application/json"))
		perr = hk_parse_json_msg(rq->body, rq->body_len, &m,
		    "invalid_json");
	else if (fh_ctype_is(rq, "application/x-www-form-urlencoded") ||
	    fh_header(rq, "Content-Type") == NULL)
		perr = hk_parse_form_msg(rq->body, rq->body_len, &m, &token);
	else
		perr = "invalid_form_data";
	if ((err = hk_slack_auth(rq, &token)) == NULL && (err = perr) == NULL) {
		if (m.channel == NULL || !hk_channel_ok(m.channel))
			err = "channel_not_found";
		else if ((m.text == NULL || m.text[0] == '\0') &&
		    (m.blocks == NULL || cJSON_GetArraySize(m.blocks) == 0))
			err = "no_text";
	}
	if (err != NULL) {
		hk_slack_error(rs, err);
		hk_record_message(&m, "chat.postMessage", err, 200);
		goto out;
	}
	hk_make_ts(m.ts, sizeof(m.ts));
	hk_channel_id(m.channel, m.chan_id, sizeof(m.chan_id));
	doc = fp_obj();
	fp_add_bool(doc, "ok", 1);
	fp_add_str(doc, "channel", m.chan_id);
	fp_add_str(doc, "ts", m.ts);
	msg = fp_obj();
	cJSON_AddItemToObject(doc, "message", msg);
	fp_add_str(msg, "user", "U0FAKEBOT01");
	fp_add_str(msg, "type", "message");
	fp_add_str(msg, "ts", m.ts);
	fp_add_str(msg, "bot_id", "B0FAKEBOT01");
	fp_add_str(msg, "app_id", "A0FAKEAPP01");
	fp_add_str(msg, "text", m.text ? m.text : "");
	fp_add_str(msg, "team", "T000");
	if (m.blocks != NULL)
		fp_add_copy(msg, "blocks", m.blocks);
	fp_json(rs, 200, HK_SLACK_JSON, doc);
	hk_record_message(&m, "chat.postMessage", NULL, 200);
	/* Posted and kept; the answer never leaves (a while later, if asked). */
	if (lost) {
		if (f.latency_ms > 0)
			fh_sleep_ms(f.latency_ms);
		rs->drop = 1;
	}
out:
	hk_message_free(&m);
	buf_wipe(&token);
}

/* The request's parameters: the query of a GET, the form body of a POST. */
static const char *
hk_params(const struct fh_req *rq, size_t *len)
{
	if (strcmp(rq->method, "GET") == 0) {
		*len = strlen(rq->query);
		return rq->query;
	}
	*len = rq->body_len;
	return rq->body;
}

/* channel, limit, oldest and include_all_metadata; NULL, or Slack's error. */
static const char *
hk_history_args(const char *src, size_t len, struct buf *chan, long long *limit,
    double *oldest, int *meta)
{
	struct buf	 v;
	const char	*err = NULL;
	char		*end;

	buf_init(&v, 64);
	if (chan->len == 0 || chan->data[0] == '#' || !hk_channel_ok(buf_cstr(chan)))
		err = "channel_not_found";
	else if (fh_form_get(src, len, "limit", &v) > 0 &&
	    util_parse_ll(buf_cstr(&v), 1, 999, limit) != CB_OK)
		err = "invalid_limit";
	buf_reset(&v);
	if (err == NULL && fh_form_get(src, len, "oldest", &v) > 0) {
		*oldest = strtod(buf_cstr(&v), &end);
		if (v.len == 0 || *end != '\0' || !(*oldest >= 0 && *oldest < 1e12))
			err = "invalid_ts_oldest";
	}
	buf_reset(&v);
	if (err == NULL && fh_form_get(src, len, "include_all_metadata", &v) > 0)
		*meta = strcmp(buf_cstr(&v), "true") == 0 || strcmp(buf_cstr(&v), "1") == 0;
	buf_free(&v);
	return err;
}

/*
 * GET or POST /api/conversations.history: channel (an id, as Slack
 * wants), limit (1 to 999, 100 by default), oldest (a ts, inclusive),
 * include_all_metadata.  The messages chat.postMessage took for that
 * channel, newest first.
 */
void
hk_history(struct fh_req *rq, struct fh_resp *rs)
{
	struct hk_fault	 f;
	struct buf	 token, chan;
	const char	*src, *err = NULL;
	size_t		 len, i;
	long long	 limit = 100;
	double		 oldest = 0;
	int		 meta = 0, n = 0, more = 0;
	cJSON		*doc, *arr, *o;

	pthread_mutex_lock(&hk.lock);
	hk.slack_history_calls++;
	pthread_mutex_unlock(&hk.lock);
	if (hk_take_fault(HC_SLACK_API, NULL, &f)) {
		if (f.kind == HF_DROP || f.kind == HF_LOST_ANSWER) {
			rs->drop = 1;
			return;
		}
		if (f.kind == HF_STATUS) {
			hk_apply_fault(&f, HC_SLACK_API, NULL, rs);
			return;
		}
		if (f.kind == HF_SLACK_ERROR) {
			hk_slack_error(rs, f.error);
			return;
		}
		fh_sleep_ms(f.latency_ms);
	}
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0) {
		fh_resp_error(rs, 405, "method not allowed: GET, POST");
		return;
	}
	buf_init(&token, HK_TOKEN_MAX);
	buf_init(&chan, 128);
	src = hk_params(rq, &len);
	if (strcmp(rq->method, "POST") == 0 && fh_header(rq, "Content-Type") != NULL &&
	    !fh_ctype_is(rq, "application/x-www-form-urlencoded"))
		err = "invalid_form_data";
	else if (fh_form_get(src, len, "token", &token) < 0 ||
	    fh_form_get(src, len, "channel", &chan) < 0)
		err = "invalid_form_data";
	if (err == NULL && (err = hk_slack_auth(rq, &token)) == NULL)
		err = hk_history_args(src, len, &chan, &limit, &oldest, &meta);
	if (err != NULL) {
		hk_slack_error(rs, err);
		goto out;
	}
	doc = fp_obj();
	fp_add_bool(doc, "ok", 1);
	if ((arr = cJSON_AddArrayToObject(doc, "messages")) == NULL)
		util_oom();
	pthread_mutex_lock(&hk.lock);
	for (i = hk.nmessages; i-- > 0;) {
		const struct hk_message	*m = &hk.messages[i];

		if (!m->ok || strcmp(m->via, "chat.postMessage") != 0 ||
		    strcmp(m->chan_id, buf_cstr(&chan)) != 0 || strtod(m->ts, NULL) < oldest)
			continue;
		if (n == limit) {
			more = 1;
			break;
		}
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		fp_add_str(o, "type", "message");
		fp_add_str(o, "user", "U0FAKEBOT01");
		fp_add_str(o, "bot_id", "B0FAKEBOT01");
		fp_add_str(o, "text", m->text ? m->text : "");
		fp_add_str(o, "ts", m->ts);
		if (meta && m->metadata != NULL)
			fp_add_copy(o, "metadata", m->metadata);
		n++;
	}
	pthread_mutex_unlock(&hk.lock);
	fp_add_bool(doc, "has_more", more);
	fp_json(rs, 200, HK_SLACK_JSON, doc);
out:
	buf_wipe(&token);
	buf_free(&chan);
}

/* The n-th '/'-separated segment of a path (from 0, after the leading '/'). */
size_t
hk_segment(const char *path, int nth, const char **seg)
{
	const char	*p = path + 1, *e;

	for (; nth > 0 && (p = strchr(p, '/')) != NULL; nth--)
		p++;
	if (p == NULL) {
		*seg = "";
		return 0;
	}
	*seg = p;
	e = strchr(p, '/');
	return e ? (size_t)(e - p) : strlen(p);
}

/* Does the path's hook (T…/B…/secret) match ours?  NULL, or the error. */
static const char *
hk_webhook_match(const char *path)
{
	const char	*a, *b;
	size_t		 na, nb;
	char		 want[256], got[256];

	na = hk_segment(path, 1, &a);
	nb = hk_segment(cfg.webhook_path, 1, &b);
	if (na != nb || strncmp(a, b, na) != 0)
		return "no_team";
	na = hk_segment(path, 2, &a);
	nb = hk_segment(cfg.webhook_path, 2, &b);
	if (na != nb || strncmp(a, b, na) != 0)
		return "no_service";
	na = hk_segment(path, 3, &a);
	nb = hk_segment(cfg.webhook_path, 3, &b);
	if (na >= sizeof(got) || a[na] != '\0')
		return "invalid_token";
	memcpy(got, a, na);
	got[na] = '\0';
	memcpy(want, b, nb);
	want[nb] = '\0';
	return util_streq_ct(got, want) ? NULL : "invalid_token";
}

/* POST /services/T…/B…/… : an incoming webhook. */
void
hk_incoming_webhook(struct fh_req *rq, struct fh_resp *rs)
{
	struct hk_message	 m;
	struct hk_fault		 f;
	struct buf		 payload;
	const char		*err;
	int			 r, st;

	memset(&m, 0, sizeof(m));
	buf_init(&payload, FH_BODY_MAX);
	if (hk_take_fault(HC_SLACK_WEBHOOK, NULL, &f)) {
		if (f.kind == HF_DROP) {
			rs->drop = 1;
			goto out;
		}
		if (f.kind == HF_STATUS) {
			hk_apply_fault(&f, HC_SLACK_WEBHOOK, NULL, rs);
			hk_record_message(&m, "incoming-webhook", buf_cstr(&rs->body),
			    f.status);
			goto out;
		}
		if (f.kind == HF_SLACK_ERROR) {
			st = hk_webhook_status(f.error);
			fh_resp_set(rs, st, "text/html", f.error);
			hk_record_message(&m, "incoming-webhook", f.error, st);
			goto out;
		}
		fh_sleep_ms(f.latency_ms);
	}
	if ((err = hk_webhook_match(rq->path)) == NULL) {
		/* JSON, or a form whose payload= holds the JSON. */
		if (fh_ctype_is(rq, "application/x-www-form-urlencoded")) {
			r = fh_form_get(rq->body, rq->body_len, "payload",
			    &payload);
			err = r <= 0 ? "invalid_payload" : hk_parse_json_msg(
			    payload.data, payload.len, &m, "invalid_payload");
		} else
			err = hk_parse_json_msg(rq->body, rq->body_len, &m,
			    "invalid_payload");
	}
	if (err == NULL && (m.text == NULL || m.text[0] == '\0') &&
	    (m.blocks == NULL || cJSON_GetArraySize(m.blocks) == 0))
		err = "no_text";
	st = err ? hk_webhook_status(err) : 200;
	fh_resp_set(rs, st, "text/html", err ? err : "ok");
	if (err == NULL)
		hk_make_ts(m.ts, sizeof(m.ts));
	hk_record_message(&m, "incoming-webhook", err, st);
out:
	hk_message_free(&m);
	buf_free(&payload);
}

/*
 * POST /actions/…: a message's response_url (Slack's interactivity): a JSON
 * body with text or blocks (replace_original, response_type as Slack
 * takes them) updates the message; recorded with via "response_url".
 */
void
hk_response_url(struct fh_req *rq, struct fh_resp *rs)
{
	struct hk_message	 m;
	const char		*err;

	memset(&m, 0, sizeof(m));
	err = fh_ctype_is(rq, "application/json") ? hk_parse_json_msg(rq->body, rq->body_len, &m,
	    "invalid_payload") : "invalid_payload";
	if (err == NULL && (m.text == NULL || m.text[0] == '\0') &&
	    (m.blocks == NULL || cJSON_GetArraySize(m.blocks) == 0))
		err = "no_text";
	if (err != NULL)
		fh_resp_set(rs, 400, HK_SLACK_JSON, "{\"ok\":false,\"error\":\"invalid_payload\"}");
	else {
		hk_make_ts(m.ts, sizeof(m.ts));
		fh_resp_set(rs, 200, HK_SLACK_JSON, "{\"ok\":true}");
	}
	hk_record_message(&m, "response_url", err, err ? 400 : 200);
	hk_message_free(&m);
}
