/*
 * sink_webhook: tenants' webhook events (outbox rows of kind
 * "webhook.deliver", written by lib/events and the engine) to their
 * endpoints, the Standard Webhooks 1.0 way (CONTRACTS §2.1, §2.2), one
 * request per row.
 *
 * The row's payload names the endpoint, the webhook-id (msg_id), the type,
 * the event's timestamp and its data.  The body is
 * {"type":...,"timestamp":...,"data":...}; the headers webhook-id (the
 * same on every attempt), webhook-timestamp (integer Unix seconds of this
 * attempt) and webhook-signature ("v1,..." with the current secret, then
 * "v1,..." with the previous one while a rotation's overlap lasts).
 *
 * Outcomes: 2xx is done (the endpoint's failing_since cleared).  410 Gone
 * disables the endpoint and the row is dead.  Any other answer (3xx
 * included: redirects are never followed), a timeout or a dropped
 * connection is retried on the schedule, Retry-After honoured (429, 503,
 * 502, 504 throttle that way).  A destination the egress guard refuses (it
 * resolves inside, or plain http off the allowlist) is dead at once: asking
 * again will not change where it points.  A disabled endpoint's rows are
 * dead with "endpoint disabled".  The first failure starts the endpoint's
 * failing_since; an endpoint still failing CB_WEBHOOK_DISABLE_AFTER_S later
 * is disabled, with an alert to operators.
 *
 * Never logged: bodies, secrets, URLs (an URL may carry a token).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "buf.h"
#include "errs.h"
#include "events.h"
#include "keyring.h"
#include "log.h"
#include "sink.h"
#include "stdwh.h"
#include "util.h"
#include "webhooks.h"

#define WHS_BODY_MAX		(64u * 1024u)
#define WHS_RESPONSE_MAX	(16u * 1024u)	/* we read only the status */

struct whs_call {
	struct sink_env_state	*k;
	struct sink_batch	*b;
	char			 endpoint[37];
};

/* An endpoint just disabled: operators hear of it once a day per endpoint. */
static void
whs_alert(struct sink_env_state *k, const struct sink_row *row, const char *endpoint,
    const char *why)
{
	char	 key[128], text[512], day[32];

	util_iso8601(day, sizeof(day));
	day[10] = '\0';	/* YYYY-MM-DD */
	snprintf(key, sizeof(key), "webhook_disabled:%s:%s", endpoint, day);
	snprintf(text, sizeof(text), ":warning: Webhook endpoint %s of org %s was disabled (%s). "
	    "Its pending events will not be delivered. Action: have the tenant fix the "
	    "receiver, then POST /api/v1/admin/webhooks/%s/enable and replay the dead letters.",
	    endpoint, row->org_id, why, endpoint);
	(void)alert_raise(k->env->db, row->org_id, "webhook_disabled", key, text, NULL, NULL);
	log_kv(LOG_LVL_WARN, "webhook_endpoint_disabled", "webhook_id", endpoint,
	    "org", row->org_id, "reason", why, NULL);
}

/* A failed attempt: the endpoint's failure clock, and the disable when it ran out. */
static void
whs_failed(struct whs_call *c, struct sink_row *row)
{
	const struct settings	*s = c->k->env->s;
	char			 why[64];
	int			 disabled = 0;

	if (webhooks_note_failure(c->k->env->db, c->endpoint, s->webhook_disable_after_s,
	    &disabled) != CB_OK || !disabled)
		return;
	snprintf(why, sizeof(why), "failing for more than %lld s", s->webhook_disable_after_s);
	whs_alert(c->k, row, c->endpoint, why);
	sink_row_set(row, SINK_DEAD, "ENDPOINT_DISABLED", "endpoint disabled: failing too long");
}

static void
whs_done(const struct httpc_resp *h, void *ud)
{
	struct whs_call	*c = ud;
	struct sink_row	*row = &c->b->rows[0];
	char		 code[32], msg[320];
	int		 changed = 0;

	if (h->err == HTTPC_ABORTED) {
		sink_row_set(row, SINK_GIVE_BACK, "aborted", "the worker stopped");
		goto out;
	}
	if (h->err == HTTPC_EGRESS || h->err == HTTPC_BAD_URL) {
		snprintf(msg, sizeof(msg), "refused by the egress guard, nothing sent: %s",
		    h->message);
		sink_row_set(row, SINK_DEAD, h->err == HTTPC_EGRESS ? "EGRESS_REFUSED" : "BAD_URL", msg);
		goto out;
	}
	/* Only the status matters: an answer whose body is over our cap is an answer. */
	if (h->err != HTTPC_OK && !(h->err == HTTPC_TOO_LARGE && h->status >= 200)) {
		snprintf(msg, sizeof(msg), "%s: %s", httpc_err_name(h->err), h->message);
		sink_row_set(row, SINK_RETRY, httpc_err_name(h->err), msg);
		whs_failed(c, row);
		goto out;
	}
	if (h->status >= 200 && h->status < 300) {
		row->outcome = SINK_DONE;
		snprintf(row->result, sizeof(row->result), "{\"status\":%ld}", h->status);
		(void)webhooks_note_ok(c->k->env->db, c->endpoint);
		goto out;
	}
	snprintf(code, sizeof(code), "HTTP_%ld", h->status);
	if (h->status == 410) {
		/* The receiver says it is gone for good: stop sending to it. */
		if (webhooks_set_enabled(c->k->env->db, row->org_id, c->endpoint, 0, "410 Gone",
		    &changed, NULL) == CB_OK && changed)
			whs_alert(c->k, row, c->endpoint, "410 Gone");
		sink_row_set(row, SINK_DEAD, code, "the receiver answered 410 Gone: endpoint disabled");
		goto out;
	}
	snprintf(msg, sizeof(msg), "the receiver answered HTTP %ld%s", h->status,
	    h->status >= 300 && h->status < 400 ? " (redirects are not followed)" : "");
	sink_row_set(row, SINK_RETRY, code, msg);
	row->retry_after_s = h->retry_after_s > 0 ? h->retry_after_s : 0;
	whs_failed(c, row);
out:
	sink_batch_done(c->b);
	free(c);
}

/* {"type":..,"timestamp":..,"data":..} from the row's payload, into body. */
static int
whs_body(const cJSON *type, const cJSON *ts, const cJSON *data, struct buf *body)
{
	char	*d;
	int	 rc;

	if ((d = cJSON_PrintUnformatted(data)) == NULL)
		util_oom();
	if ((rc = buf_puts(body, "{\"type\":")) == CB_OK &&
	    (rc = buf_json_str(body, type->valuestring)) == CB_OK &&
	    (rc = buf_puts(body, ",\"timestamp\":")) == CB_OK &&
	    (rc = buf_json_str(body, ts->valuestring)) == CB_OK &&
	    (rc = buf_puts(body, ",\"data\":")) == CB_OK &&
	    (rc = buf_puts(body, d)) == CB_OK)
		rc = buf_putc(body, '}');
	free(d);
	return rc;
}

static void
whs_start(void *state, struct sink_batch *b)
{
	struct sink_env_state	*k = state;
	struct sink_row		*row = &b->rows[0];
	struct whs_call		*c = NULL;
	struct webhooks_target	 t;
	struct seal_keyring	*kr;
	struct httpc_req	 q;
	struct buf		 body, sig, hid, hts, hsig;
	const struct stdwh_key	*keys[2];
	const cJSON		*ep, *id, *type, *ts, *data;
	cJSON			*p = cJSON_Parse(row->payload);
	int64_t			 now;
	size_t			 i;
	int			 rc;

	memset(&t, 0, sizeof(t));
	buf_init(&body, WHS_BODY_MAX);
	buf_init(&sig, 1024);
	buf_init(&hid, 512);
	buf_init(&hts, 64);
	buf_init(&hsig, 1200);
	ep = cJSON_GetObjectItemCaseSensitive(p, "endpoint_id");
	id = cJSON_GetObjectItemCaseSensitive(p, "msg_id");
	type = cJSON_GetObjectItemCaseSensitive(p, "type");
	ts = cJSON_GetObjectItemCaseSensitive(p, "timestamp");
	data = cJSON_GetObjectItemCaseSensitive(p, "data");
	if (!cJSON_IsString(ep) || !util_uuid_ok(ep->valuestring) || !cJSON_IsString(id) ||
	    !cJSON_IsString(type) || !events_type_known(type->valuestring) ||
	    !cJSON_IsString(ts) || !cJSON_IsObject(data)) {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "not a webhook event payload");
		goto done;
	}
	if ((kr = keyring_get(k->env->keys, k->env->db)) == NULL) {
		sink_row_set(row, SINK_GIVE_BACK, "KEYRING_UNAVAILABLE", "the seal keyring cannot be loaded");
		goto done;
	}
	rc = webhooks_load(k->env->db, kr, row->org_id, ep->valuestring, &t);
	if (rc == CB_ERR_NOT_FOUND) {
		sink_row_set(row, SINK_DEAD, "ENDPOINT_NOT_FOUND", "the endpoint does not exist");
		goto done;
	}
	if (rc == CB_ERR_CRYPTO) {
		sink_row_set(row, SINK_RETRY, "SECRET_UNREADABLE", "the endpoint's secret does not open");
		goto done;
	}
	if (rc != CB_OK) {
		sink_row_set(row, SINK_GIVE_BACK, errs_name(rc), "the endpoint could not be read");
		goto done;
	}
	if (!t.enabled) {
		char msg[200];

		snprintf(msg, sizeof(msg), "endpoint disabled (%s)", t.disabled_reason);
		sink_row_set(row, SINK_DEAD, "ENDPOINT_DISABLED", msg);
		goto done;
	}
	now = util_now_s();
	for (i = 0; i < t.nkeys; i++)
		keys[i] = &t.keys[i];
	if (whs_body(type, ts, data, &body) != CB_OK ||
	    stdwh_header(keys, t.nkeys, id->valuestring, now, body.data, body.len, &sig) != CB_OK ||
	    buf_printf(&hid, "webhook-id: %s", id->valuestring) != CB_OK ||
	    buf_printf(&hts, "webhook-timestamp: %lld", (long long)now) != CB_OK ||
	    buf_printf(&hsig, "webhook-signature: %s", buf_cstr(&sig)) != CB_OK) {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "the event cannot be signed or is too large");
		goto done;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		util_oom();
	c->k = k;
	c->b = b;
	util_strlcpy(c->endpoint, ep->valuestring, sizeof(c->endpoint));
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.url = t.url;
	q.headers[0] = "Content-Type: application/json";
	q.headers[1] = buf_cstr(&hid);
	q.headers[2] = buf_cstr(&hts);
	q.headers[3] = buf_cstr(&hsig);
	q.body = body.data;
	q.bodylen = body.len;
	q.timeout_ms = (long)k->env->s->webhook_timeout_ms;
	q.response_max = WHS_RESPONSE_MAX;
	if (httpc_start(k->env->http, &q, whs_done, c) != CB_OK) {
		free(c);
		sink_row_set(row, SINK_DEAD, "BAD_REQUEST", "the request could not be started");
		goto done;
	}
	goto out;
done:
	sink_batch_done(b);
out:
	webhooks_target_wipe(&t);
	cJSON_Delete(p);
	buf_free(&body);
	buf_wipe(&sig);
	buf_free(&hid);
	buf_free(&hts);
	buf_wipe(&hsig);
}

const struct sink sink_webhook = {
	.name = "webhook",
	.batch_max = 1,
	.open = sink_env_open,
	.close = sink_env_close,
	.start = whs_start,
};
