/*
 * cb-fake-hooks' control plane, under /__fake/ (no auth: loopback only):
 * register endpoints and their secrets, list deliveries and messages,
 * queue, list and clear faults (status N times with Retry-After or
 * Location, drop, latency, Slack errors), counters, reset.
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

/* ---- control plane ------------------------------------------------------ */

struct endpoint_in {
	const char	*name;
	const cJSON	*secrets;
	long long	 status;
};

static int
hk_name_check(const cJSON *v, const char **why)
{
	if (hk_name_ok(v->valuestring))
		return 0;
	*why = "must be 1 to 64 of A-Z a-z 0-9 _ -";
	return -1;
}

static const struct jv_field endpoint_fields[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, HK_NAME_MAX, offsetof(struct endpoint_in, name), hk_name_check },
	{ "secrets", JV_ARRAY, JV_REQUIRED, 1, HK_SECRETS_MAX, offsetof(struct endpoint_in, secrets), NULL },
	{ "status", JV_INT, 0, 200, 299, offsetof(struct endpoint_in, status), NULL },
};

/* POST /__fake/endpoints: register or replace (secret rotation) one. */
static void
hk_add_endpoint(struct fh_req *rq, struct fh_resp *rs)
{
	struct endpoint_in	 in;
	struct hk_endpoint	 ep, *old;
	const cJSON		*s;
	cJSON			*doc = NULL, *res;
	const char		*v;

	memset(&in, 0, sizeof(in));
	memset(&ep, 0, sizeof(ep));
	if (fp_body(rq, endpoint_fields, sizeof(endpoint_fields) /
	    sizeof(endpoint_fields[0]), &in, &doc, rs) != 0)
		goto out;
	util_strlcpy(ep.name, in.name, sizeof(ep.name));
	ep.status = in.status ? (int)in.status : 200;
	cJSON_ArrayForEach(s, in.secrets) {
		v = cJSON_IsString(s) ? s->valuestring : "";
		if (strncmp(v, "whsec_", 6) != 0 || hk_b64_decode(v + 6,
		    strlen(v + 6), ep.keys[ep.nkeys], HK_KEY_MAX,
		    &ep.keylen[ep.nkeys]) != 0) {
			fh_resp_error(rs, 400, "secrets: each must be whsec_ "
			    "and base64 of 1 to 512 bytes");
			goto out;
		}
		ep.nkeys++;
	}
	pthread_mutex_lock(&hk.lock);
	if ((old = hk_endpoint_find(ep.name)) != NULL) {
		ep.received = old->received;
		*old = ep;
	} else if (hk.nendpoints < HK_ENDPOINTS_MAX)
		hk.endpoints[hk.nendpoints++] = ep;
	else {
		pthread_mutex_unlock(&hk.lock);
		fh_resp_error(rs, 400, "too many endpoints");
		goto out;
	}
	pthread_mutex_unlock(&hk.lock);
	res = fp_obj();
	fp_add_str(res, "name", ep.name);
	fp_add_num(res, "secrets", (double)ep.nkeys);
	fp_add_num(res, "status", ep.status);
	fp_json(rs, 201, NULL, res);
out:
	sodium_memzero(&ep, sizeof(ep));
	if (doc != NULL) {
		/* The request's copy of the secrets goes too. */
		cJSON_ArrayForEach(s, in.secrets)
			if (cJSON_IsString(s))
				sodium_memzero(s->valuestring,
				    strlen(s->valuestring));
		cJSON_Delete(doc);
	}
}

static void
hk_list_endpoints(struct fh_resp *rs)
{
	cJSON	*doc = fp_obj(), *arr, *o;
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "endpoints")) == NULL)
		util_oom();
	pthread_mutex_lock(&hk.lock);
	for (i = 0; i < hk.nendpoints; i++) {
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		fp_add_str(o, "name", hk.endpoints[i].name);
		fp_add_num(o, "secrets", (double)hk.endpoints[i].nkeys);
		fp_add_num(o, "status", hk.endpoints[i].status);
		fp_add_num(o, "received", (double)hk.endpoints[i].received);
	}
	pthread_mutex_unlock(&hk.lock);
	fp_json(rs, 200, NULL, doc);
}

/* ?since=SEQ (only later entries) and a string filter from the query. */
static long
hk_query_since(const struct fh_req *rq)
{
	struct buf	 v;
	long long	 since = 0;

	buf_init(&v, 32);
	if (fh_form_get(rq->query, strlen(rq->query), "since", &v) > 0 &&
	    util_parse_ll(buf_cstr(&v), 0, 999999999999LL, &since) != CB_OK)
		since = 0;
	buf_free(&v);
	return (long)since;
}

/* GET /__fake/deliveries[?endpoint=NAME][&since=SEQ] */
static void
hk_list_deliveries(struct fh_req *rq, struct fh_resp *rs)
{
	cJSON		*doc = fp_obj(), *arr, *o;
	struct buf	 name;
	long		 since = hk_query_since(rq);
	size_t		 i;
	int		 filter;

	buf_init(&name, HK_NAME_MAX + 1);
	filter = fh_form_get(rq->query, strlen(rq->query), "endpoint", &name) > 0;
	if ((arr = cJSON_AddArrayToObject(doc, "deliveries")) == NULL)
		util_oom();
	pthread_mutex_lock(&hk.lock);
	for (i = 0; i < hk.ndeliveries; i++) {
		const struct hk_delivery	*d = &hk.deliveries[i];

		if (d->seq <= since ||
		    (filter && strcmp(d->endpoint, buf_cstr(&name)) != 0))
			continue;
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		fp_add_num(o, "seq", (double)d->seq);
		fp_add_str(o, "endpoint", d->endpoint);
		fp_add_str(o, "id", d->id);
		fp_add_str(o, "timestamp", d->timestamp);
		fp_add_str(o, "type", d->type);
		fp_add_bool(o, "known", d->known);
		fp_add_bool(o, "verified", d->verified);
		fp_add_num(o, "secret_index", d->secret_index);
		fp_add_bool(o, "duplicate", d->duplicate);
		fp_add_num(o, "status", d->status);
		fp_add_str(o, "reason", d->reason);
		fp_add_str(o, "fault", d->fault);
		fp_add_str(o, "received_at", d->received_at);
		/* Bytes that are not UTF-8 text cannot be a JSON string. */
		fp_add_str(o, "body", jv_utf8_ok(d->body, d->body_len) ?
		    d->body : NULL);
		fp_add_num(o, "body_len", (double)d->body_len);
	}
	pthread_mutex_unlock(&hk.lock);
	buf_free(&name);
	fp_json(rs, 200, NULL, doc);
}

/* GET /__fake/messages[?since=SEQ] */
static void
hk_list_messages(struct fh_req *rq, struct fh_resp *rs)
{
	cJSON	*doc = fp_obj(), *arr, *o;
	long	 since = hk_query_since(rq);
	size_t	 i;

	if ((arr = cJSON_AddArrayToObject(doc, "messages")) == NULL)
		util_oom();
	pthread_mutex_lock(&hk.lock);
	for (i = 0; i < hk.nmessages; i++) {
		const struct hk_message	*m = &hk.messages[i];

		if (m->seq <= since)
			continue;
		o = fp_obj();
		cJSON_AddItemToArray(arr, o);
		fp_add_num(o, "seq", (double)m->seq);
		fp_add_str(o, "via", m->via);
		fp_add_str(o, "channel", m->channel);
		fp_add_str(o, "text", m->text);
		fp_add_copy(o, "blocks", m->blocks);
		fp_add_copy(o, "metadata", m->metadata);
		fp_add_str(o, "ts", m->ts[0] ? m->ts : NULL);
		fp_add_bool(o, "ok", m->ok);
		fp_add_str(o, "error", m->ok ? NULL : m->error);
		fp_add_num(o, "status", m->status);
		fp_add_str(o, "received_at", m->received_at);
	}
	pthread_mutex_unlock(&hk.lock);
	fp_json(rs, 200, NULL, doc);
}

struct fault_in {
	const char	*target;
	const char	*endpoint;
	const char	*kind;
	const char	*location;
	const char	*error;
	long long	 status;
	long long	 count;
	long long	 latency_ms;
	long long	 retry_after_s;
};

static int
hk_error_check(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring;

	if (strspn(s, "abcdefghijklmnopqrstuvwxyz_") == strlen(s))
		return 0;
	*why = "must be a Slack error string (a-z and _)";
	return -1;
}

static const struct jv_field fault_fields[] = {
	{ "target", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, target), NULL },
	{ "endpoint", JV_STRING, 0, 1, HK_NAME_MAX, offsetof(struct fault_in, endpoint), hk_name_check },
	{ "kind", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fault_in, kind), NULL },
	{ "status", JV_INT, 0, 300, 599, offsetof(struct fault_in, status), NULL },
	{ "count", JV_INT, 0, 1, 1000000, offsetof(struct fault_in, count), NULL },
	{ "latency_ms", JV_INT, 0, 1, 120000, offsetof(struct fault_in, latency_ms), NULL },
	{ "retry_after_s", JV_INT, 0, 1, 86400, offsetof(struct fault_in, retry_after_s), NULL },
	{ "location", JV_STRING, 0, 1, 255, offsetof(struct fault_in, location), NULL },
	{ "error", JV_STRING, 0, 1, 63, offsetof(struct fault_in, error), hk_error_check },
};

static void
hk_add_fault(struct fh_req *rq, struct fh_resp *rs)
{
	struct fault_in	 in;
	struct hk_fault	 f;
	cJSON		*doc = NULL;
	int		 t, k;

	memset(&in, 0, sizeof(in));
	memset(&f, 0, sizeof(f));
	if (fp_body(rq, fault_fields, sizeof(fault_fields) /
	    sizeof(fault_fields[0]), &in, &doc, rs) != 0)
		goto out;
	t = fp_name_index(target_names, sizeof(target_names) /
	    sizeof(target_names[0]), in.target);
	k = fp_name_index(kind_names, sizeof(kind_names) /
	    sizeof(kind_names[0]), in.kind);
	if (t < 0 || (in.endpoint != NULL && t != HT_HOOK)) {
		fh_resp_error(rs, 400, "target: must be hook (with an optional "
		    "endpoint), slack_api, slack_webhook, slack or any");
		goto out;
	}
	if (!((k == HF_STATUS && in.status != 0) || k == HF_DROP ||
	    (k == HF_LATENCY && in.latency_ms != 0) ||
	    (k == HF_SLACK_ERROR && in.error != NULL && (t == HT_SLACK_API ||
	    t == HT_SLACK_WEBHOOK || t == HT_SLACK)) ||
	    (k == HF_LOST_ANSWER && t == HT_SLACK_API))) {
		fh_resp_error(rs, 400, "kind: must be status (with status), "
		    "drop, latency (with latency_ms), error (with error, "
		    "Slack targets only) or lost_answer (slack_api only)");
		goto out;
	}
	f.target = t;
	f.kind = k;
	f.status = (int)in.status;
	f.count = in.count ? (long)in.count : 1;
	f.latency_ms = (long)in.latency_ms;
	f.retry_after_s = (long)in.retry_after_s;
	util_strlcpy(f.endpoint, in.endpoint ? in.endpoint : "",
	    sizeof(f.endpoint));
	util_strlcpy(f.location, in.location ? in.location : "",
	    sizeof(f.location));
	util_strlcpy(f.error, in.error ? in.error : "", sizeof(f.error));
	if (strpbrk(f.location, "\r\n") != NULL) {
		fh_resp_error(rs, 400, "location: no line breaks");
		goto out;
	}
	fp_answer_add(rs, &hk.lock, &hk.fq, &f);
out:
	cJSON_Delete(doc);
}

static void
hk_fault_json(cJSON *o, const void *fault)
{
	const struct hk_fault	*f = fault;

	fp_add_str(o, "target", target_names[f->target]);
	fp_add_str(o, "endpoint", f->endpoint[0] ? f->endpoint : NULL);
	fp_add_str(o, "kind", kind_names[f->kind]);
	fp_add_num(o, "status", f->status);
	fp_add_num(o, "count", (double)f->count);
	fp_add_num(o, "latency_ms", (double)f->latency_ms);
	fp_add_num(o, "retry_after_s", (double)f->retry_after_s);
	fp_add_str(o, "error", f->error[0] ? f->error : NULL);
}

static void
hk_stats(struct fh_resp *rs)
{
	cJSON	*doc = fp_obj();

	pthread_mutex_lock(&hk.lock);
	fp_add_num(doc, "deliveries", (double)hk.deliveries_total);
	fp_add_num(doc, "verified", (double)hk.verified);
	fp_add_num(doc, "rejected", (double)hk.rejected);
	fp_add_num(doc, "duplicates", (double)hk.duplicates);
	fp_add_num(doc, "unknown_endpoint", (double)hk.unknown_endpoint);
	fp_add_num(doc, "faults_served", (double)hk.fq.served);
	fp_add_num(doc, "faults_queued", (double)hk.fq.n);
	fp_add_num(doc, "endpoints", (double)hk.nendpoints);
	fp_add_num(doc, "slack_api_calls", (double)hk.slack_api_calls);
	fp_add_num(doc, "slack_webhook_calls", (double)hk.slack_webhook_calls);
	fp_add_num(doc, "slack_posted", (double)hk.slack_posted);
	fp_add_num(doc, "slack_errors", (double)hk.slack_errors);
	fp_add_num(doc, "slack_history_calls", (double)hk.slack_history_calls);
	fp_add_num(doc, "stored_deliveries", (double)hk.ndeliveries);
	fp_add_num(doc, "stored_messages", (double)hk.nmessages);
	pthread_mutex_unlock(&hk.lock);
	fp_json(rs, 200, NULL, doc);
}

void
hk_control(struct fh_req *rq, struct fh_resp *rs)
{
	const char	*p = rq->path + strlen("/__fake/"), *m = rq->method;
	cJSON		*doc;
	int		 get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;

	if (strcmp(p, "endpoints") == 0 && post)
		hk_add_endpoint(rq, rs);
	else if (strcmp(p, "endpoints") == 0 && get)
		hk_list_endpoints(rs);
	else if (strcmp(p, "deliveries") == 0 && get)
		hk_list_deliveries(rq, rs);
	else if (strcmp(p, "messages") == 0 && get)
		hk_list_messages(rq, rs);
	else if (strcmp(p, "stats") == 0 && get)
		hk_stats(rs);
	else if (strcmp(p, "faults") == 0 && post)
		hk_add_fault(rq, rs);
	else if (strcmp(p, "faults") == 0 && get)
		fp_answer_list(rs, &hk.lock, &hk.fq, hk_fault_json);
	else if (strcmp(p, "faults") == 0 && strcmp(m, "DELETE") == 0)
		fp_answer_clear(rs, &hk.lock, &hk.fq);
	else if (strcmp(p, "reset") == 0 && post) {
		pthread_mutex_lock(&hk.lock);
		hk_clear_all();
		pthread_mutex_unlock(&hk.lock);
		doc = fp_obj();
		if (cJSON_AddTrueToObject(doc, "reset") == NULL)
			util_oom();
		fp_json(rs, 200, NULL, doc);
	} else if (strcmp(p, "endpoints") == 0 || strcmp(p, "deliveries") == 0 ||
	    strcmp(p, "messages") == 0 || strcmp(p, "stats") == 0 ||
	    strcmp(p, "faults") == 0 || strcmp(p, "reset") == 0)
		fh_resp_error(rs, 405, "method not allowed");
	else
		fh_resp_error(rs, 404, "no such control endpoint");
}
