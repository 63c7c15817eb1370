/*
 * POST /api/v1/webhooks/calls/{source}
 *
 * Who: a voice platform, signing each message to Standard Webhooks 1.0
 *   with its call source's secret (webhook-id, webhook-timestamp within
 *   5 minutes either way, webhook-signature: one or more "v1,<base64>");
 *   {source} is the source's id (cb-admin call-source-add), which names its
 *   tenant.  During a rotation's overlap the previous secret verifies too.
 * Idempotency: no Idempotency-Key; the event itself is the key (lib/calls.h):
 *   (tenant, correlation_id, event_type, SHA-256 of the raw body).
 * Body: one call event, checked against calls_event_fields (docs/calls.md).
 * Answers: 202 {"event_id"}: the replay cache's row, the event and its
 *            outbox row for Salesforce written in one transaction (no call
 *            to Salesforce here: the worker delivers it);
 *          the same event again (same triple): 200 {"event_id"} with
 *            Idempotent-Replayed: true, nothing written; the same message
 *            (webhook-id and body) again after its event was deleted (an
 *            erasure, retention): 200 {"event_id":null}, the same header;
 *          the same correlation id and type with another body: 422
 *            altered-replay (an audit row and one Slack alert, naming both
 *            hashes);
 *          a webhook-id this source used before with another body: 409
 *            webhook-id-reused;
 *          401 missing or malformed signature headers, a timestamp out of
 *            tolerance, no matching signature; 404 an unknown source;
 *          400 a malformed body, an unknown field, a wrong type, a bad time
 *            or phone number (naming the field); 413 over 16 KiB; 415 not
 *            JSON; 429 + Retry-After over the tenant's plan's call events a
 *            minute (CB_QUOTA_<TIER>_CALL_EVENTS_PER_MIN); 503 when
 *            Postgres or the seal keyring is away (nothing was recorded:
 *            the sender retries).
 *
 * Nothing logs a phone number, the body or a secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calls.h"
#include "errs.h"
#include "log.h"
#include "route.h"
#include "seal.h"
#include "subject.h"
#include "util.h"

#define CALLS_BODY_MAX	16384

/* The source's secrets open only for this request, wiped at its end. */
static void
calls_source_free(void *p)
{
	calls_source_wipe(p);
	free(p);
}

/*
 * Authentication (ROUTE_AUTH_SIGNED): the source's secrets against the
 * signature over the raw body.  The tenant is the source's.
 */
static int
calls_authorize(struct req *r)
{
	struct calls_source	*src;
	struct seal_keyring	*kr;
	const struct stdwh_key	*keys[2];
	const char		*why = NULL;
	char			 detail[120];
	int			 rc;

	if ((kr = app_keys(r->app)) == NULL)
		return CB_ERR_UNAVAILABLE;
	src = util_malloc(sizeof(*src));
	req_own(r, src, calls_source_free);
	if ((rc = calls_source_load(r->app->db, kr, req_param(r, "source"), src)) != CB_OK) {
		if (rc == CB_ERR_NOT_FOUND)
			return route_fail(r, rc, "no such call source");
		if (rc == CB_ERR_CRYPTO)
			log_kv(LOG_LVL_ERROR, "call_source_unreadable", "source", src->id, NULL);
		return rc == CB_ERR_CRYPTO ? CB_ERR_INTERNAL : rc;
	}
	keys[0] = &src->keys[0];
	keys[1] = &src->keys[1];
	rc = stdwh_verify(keys, src->nkeys, req_header(r, "webhook-id"),
	    req_header(r, "webhook-timestamp"), req_header(r, "webhook-signature"),
	    r->body ? r->body : "", r->body_len, (int64_t)time(NULL), NULL, &why);
	if (rc != CB_OK) {
		log_kv(LOG_LVL_WARN, "call_event_unverified", "source", src->id, "why", why, NULL);
		snprintf(detail, sizeof(detail), "the Standard Webhooks signature does not verify:"
		    " %s", why ? why : "refused");
		resp_header(r, "WWW-Authenticate", "webhook-signature");
		return route_fail(r, CB_ERR_UNAUTHENTICATED, detail);
	}
	r->auth = src;
	util_strlcpy(r->org, src->org, sizeof(r->org));
	return CB_OK;
}

/* The phones in E.164 with the source's country code. */
static int
calls_check(struct req *r, void *argp)
{
	struct calls_event		*e = argp;
	const struct calls_source	*src = r->auth;
	const cJSON			*d;
	const char			*field, *why;

	/* Absent and null leave 0, a valid duration: mark them. */
	d = cJSON_GetObjectItemCaseSensitive(r->json, "duration_s");
	if (d == NULL || cJSON_IsNull(d))
		e->duration_s = -1;
	if (calls_event_normalise(e, src->country_code, &field, &why) != CB_OK)
		return route_fail_field(r, CB_ERR_VALIDATION, field, why);
	return CB_OK;
}

/* {"event_id"}: null for a retry of an event deleted since (lib/calls.h). */
static void
calls_answer(struct req *r, int status, const char *event_id)
{
	char	 body[80];

	if (event_id[0] == '\0')
		snprintf(body, sizeof(body), "{\"event_id\":null}");
	else
		snprintf(body, sizeof(body), "{\"event_id\":\"%s\"}", event_id);
	resp_body(r, status, "application/json", body, strlen(body));
}

static int
calls_act(struct req *r, const void *argp)
{
	const struct calls_event	*e = argp;
	const struct calls_source	*src = r->auth;
	struct seal_keyring		*kr;
	struct calls_result		 res;
	struct buf			 subjects;
	cJSON				*ext;
	char				 sha[CALLS_SHA_HEX];
	int				 rc;

	if ((kr = app_keys(r->app)) == NULL)
		return CB_ERR_UNAVAILABLE;
	/* The raw bytes as received, never a re-serialisation (CONTRACTS 1.4). */
	calls_sha256_hex(r->body ? r->body : "", r->body_len, sha);
	/* The blind index of its numbers, for an erasure (lib/subject.h). */
	buf_init(&subjects, 2 * DIGEST_TEXT);
	if ((e->from != NULL && (rc = subject_add_value(&subjects,
	    r->app->settings.blind_index_key, e->from_e164)) != CB_OK) ||
	    (e->to != NULL && (rc = subject_add_value(&subjects,
	    r->app->settings.blind_index_key, e->to_e164)) != CB_OK)) {
		buf_free(&subjects);
		return rc;
	}
	rc = calls_ingest(r->app->db, kr, src, req_header(r, "webhook-id"), e, sha,
	    req_traceparent(r), subjects.len > 0 ? buf_cstr(&subjects) : NULL, &res);
	buf_free(&subjects);
	if (rc != CB_OK)
		return rc;
	switch (res.outcome) {
	case CALLS_CREATED:
		calls_answer(r, 202, res.event_id);
		return CB_OK;
	case CALLS_REPLAYED:
		resp_header(r, "Idempotent-Replayed", "true");
		calls_answer(r, 200, res.event_id);
		return CB_OK;
	case CALLS_ALTERED:
		if ((ext = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(ext, "correlation_id", e->correlation_id) == NULL ||
		    cJSON_AddStringToObject(ext, "event_type", e->event_type) == NULL ||
		    cJSON_AddStringToObject(ext, "stored_sha256", res.stored_sha) == NULL ||
		    cJSON_AddStringToObject(ext, "received_sha256", sha) == NULL)
			util_oom();
		return route_fail_ext(r, CB_ERR_ALTERED_REPLAY, "this correlation_id and "
		    "event_type were accepted with another body: the first event stands", ext);
	case CALLS_ID_REUSED:
		return route_fail(r, CB_ERR_WEBHOOK_REUSED, "this webhook-id came before with "
		    "another body: a new message needs a new webhook-id");
	}
	return CB_ERR_INTERNAL;
}

/*
 * Wake the outbox workers and the tenant's call feeds (the channel's
 * "calls:<org>" on cb:cmd, docs/channel.md): hints, the sweeps find the
 * rows anyway.
 */
static void
calls_wake(struct req *r)
{
	char	 feed[40];

	if (r->status != 202)
		return;
	kv_publish(r->app->kv, "cb:outbox", "call_event");
	snprintf(feed, sizeof(feed), "calls:%s", r->org);
	kv_publish(r->app->kv, "cb:cmd", feed);
}

static const struct route calls_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/webhooks/calls/{source}",
	  .body_max = CALLS_BODY_MAX, .flags = ROUTE_JSON,
	  .fields = calls_event_fields, .nfields = CALLS_EVENT_NFIELDS,
	  .args_size = sizeof(struct calls_event),
	  .auth = ROUTE_AUTH_SIGNED, .authorize = calls_authorize, .quota = QUOTA_CALL_EVENT,
	  .check = calls_check, .act = calls_act, .after = calls_wake,
	  .rate_class = RATE_WEBHOOK },
};

ROUTE_MAIN("calls", calls_routes)
