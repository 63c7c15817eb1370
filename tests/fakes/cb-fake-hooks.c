/*
 * cb-fake-hooks: webhook receivers and a fake Slack, for tests.
 *
 * Two roles on one loopback HTTP/1.1 server (tests/fakes/common/fakehttpd):
 *
 *  - Standard Webhooks 1.0 receivers (CONTRACTS §2.1): POST /hooks/{name}
 *    checks webhook-id, webhook-timestamp (integer seconds, ±300 s) and
 *    webhook-signature (space-separated "v1,<base64>"; HMAC-SHA256 keyed
 *    with the base64 after "whsec_", over "{id}.{timestamp}.{raw body}";
 *    any listed signature may match any registered secret; constant-time
 *    compare) and records every delivery: id, timestamp, the payload's type,
 *    verified or not and why, which secret matched, whether the webhook-id
 *    was seen before, the answer, the raw body.  2xx when verified, 401 when
 *    not, 400 without the headers, 404 for an unknown endpoint.
 *  - A fake Slack (§4.3, §4.4): POST /actions/… (a message's response_url,
 *    JSON: recorded as a message via "response_url"),
 *    POST /api/chat.postMessage (form or JSON,
 *    bot token checked, HTTP 200 {"ok":...} as Slack answers) and the
 *    incoming webhook POST /services/T.../B.../... (plain-text "ok", errors
 *    as plain text with Slack's statuses).
 *
 * A control plane under /__fake/ (no auth: loopback only) registers
 * endpoints and their secrets, lists deliveries and messages, queues faults
 * (status N times with Retry-After or Location, drop, latency, Slack
 * errors), shows counters and resets.
 *
 *   cb-fake-hooks --port N [--pidfile P] [--bind IPV4] [--io-timeout-ms MS]
 *                 [--slack-token xoxb-... | --slack-token-file PATH]
 *                 [--slack-webhook-path /services/T000/B000/XXXX |
 *                  --slack-webhook-secret-file PATH]
 *                 [--tolerance-s 300] [--max-stored 10000]
 *
 * Guarantees: those of fakehttpd; one mutex guards all state; at most
 * --max-stored deliveries and messages are kept (the oldest go first; the
 * counters and duplicate detection keep counting).  Logs are method, path
 * (the webhook URL's secret masked) and status: never a header value, a
 * body, a token or a secret; secrets are wiped when replaced.
 */
#include <errno.h>
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

#include "common/fakehttpd.h"
#include "common/fakeplane.h"

#define HK_ENDPOINTS_MAX	64
#define HK_SECRETS_MAX		4
#define HK_KEY_MAX		512	/* decoded secret bytes */
#define HK_NAME_MAX		64
#define HK_FAULTS_MAX		64
#define HK_STORED_DEFAULT	10000
#define HK_STORED_BYTES_MAX	(256u * 1024u * 1024u)	/* bodies kept, all told */
#define HK_TOLERANCE_S		300	/* CONTRACTS §2.1 */
#define HK_HEADER_MAX		1024	/* webhook-id, -timestamp, -signature */
#define HK_SIGS_MAX		16
#define HK_TOKEN_MAX		256
#define HK_WEBHOOK_PATH		"/services/T000/B000/XXXX"
#define HK_SLACK_JSON		"application/json; charset=utf-8"

/* ---- configuration (written by main before any thread starts) -------- */

static struct {
	int		 port;
	const char	*pidfile;
	const char	*bind;		/* NULL: 127.0.0.1 */
	long		 io_timeout_ms;
	long		 tolerance_s;
	size_t		 max_stored;
	char		 slack_token[HK_TOKEN_MAX];
	char		 webhook_path[256];
} cfg;

/* ---- state (all under hk.lock) ---------------------------------------- */

enum hk_target { HT_HOOK, HT_SLACK_API, HT_SLACK_WEBHOOK, HT_SLACK, HT_ANY };
enum hk_kind { HF_STATUS, HF_DROP, HF_LATENCY, HF_SLACK_ERROR };
/* What a request is, for faults. */
enum hk_call { HC_NONE, HC_HOOK, HC_SLACK_API, HC_SLACK_WEBHOOK };

struct hk_fault {
	long	 count;		/* first: uses left (fakeplane's queue) */
	int	 target;
	char	 endpoint[HK_NAME_MAX + 1];	/* HT_HOOK: "" = any endpoint */
	int	 kind;
	int	 status;
	long	 latency_ms;
	long	 retry_after_s;
	char	 location[256];
	char	 error[64];
};

struct hk_endpoint {
	char		 name[HK_NAME_MAX + 1];
	unsigned char	 keys[HK_SECRETS_MAX][HK_KEY_MAX];
	size_t		 keylen[HK_SECRETS_MAX];
	size_t		 nkeys;
	int		 status;	/* the answer to a verified delivery */
	long		 received;
};

struct hk_delivery {
	long	 seq;
	char	 endpoint[HK_NAME_MAX + 1];
	char	*id;
	char	*timestamp;
	char	*type;
	char	*body;
	size_t	 body_len;
	int	 known;
	int	 verified;
	int	 secret_index;
	int	 duplicate;
	int	 status;	/* 0: dropped */
	char	 reason[40];
	char	 fault[16];
	char	 received_at[40];
};

struct hk_message {
	long	 seq;
	char	 via[24];
	char	*channel;
	char	*text;
	cJSON	*blocks;
	char	 ts[32];
	int	 ok;
	char	 error[64];
	int	 status;
	char	 received_at[40];
};

static struct {
	pthread_mutex_t	 lock;
	struct hk_endpoint endpoints[HK_ENDPOINTS_MAX];
	size_t		 nendpoints;
	struct hk_fault	 faults[HK_FAULTS_MAX];
	struct fp_queue	 fq;
	struct hk_delivery *deliveries;
	size_t		 ndeliveries, stored_bytes;
	struct hk_message *messages;
	size_t		 nmessages;
	char		**seen;		/* "endpoint\nid", open addressing */
	size_t		 seen_cap, nseen;
	long		 seq, ts_counter;
	long		 deliveries_total, verified, rejected, duplicates;
	long		 unknown_endpoint;
	long		 slack_api_calls, slack_webhook_calls, slack_posted;
	long		 slack_errors;
} hk = { .lock = PTHREAD_MUTEX_INITIALIZER, .fq = FP_QUEUE(hk.faults) };

/* ---- small helpers ------------------------------------------------------ */

static char *
hk_strndup_or_null(const char *s, size_t n)
{
	return s == NULL ? NULL : util_strndup(s, n);
}

/* Endpoint names: [A-Za-z0-9_-]{1,64}. */
static int
hk_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > HK_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") == n;
}

/* Caller holds the lock. */
static struct hk_endpoint *
hk_endpoint_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < hk.nendpoints; i++)
		if (strcmp(hk.endpoints[i].name, name) == 0)
			return &hk.endpoints[i];
	return NULL;
}

/* The call a fault may hit: its kind and, for a receiver, the endpoint. */
struct hk_call_of {
	int		 call;
	const char	*endpoint;
};

static int
hk_target_hits(const void *fault, const void *arg)
{
	const struct hk_fault	*f = fault;
	const struct hk_call_of	*c = arg;

	switch (f->target) {
	case HT_ANY:		return c->call != HC_NONE;
	case HT_HOOK:		return c->call == HC_HOOK && (f->endpoint[0] == '\0' ||
				    (c->endpoint != NULL &&
				    strcmp(f->endpoint, c->endpoint) == 0));
	case HT_SLACK_API:	return c->call == HC_SLACK_API;
	case HT_SLACK_WEBHOOK:	return c->call == HC_SLACK_WEBHOOK;
	case HT_SLACK:		return c->call == HC_SLACK_API ||
				    c->call == HC_SLACK_WEBHOOK;
	default:		return 0;
	}
}

static int
hk_take_fault(int call, const char *endpoint, struct hk_fault *out)
{
	struct hk_call_of	 c = { call, endpoint };
	int			 hit;

	pthread_mutex_lock(&hk.lock);
	hit = fp_take(&hk.fq, hk_target_hits, &c, out);
	pthread_mutex_unlock(&hk.lock);
	return hit;
}

static const char *const kind_names[] = {
	[HF_STATUS] = "status", [HF_DROP] = "drop", [HF_LATENCY] = "latency",
	[HF_SLACK_ERROR] = "error",
};
static const char *const target_names[] = {
	[HT_HOOK] = "hook", [HT_SLACK_API] = "slack_api",
	[HT_SLACK_WEBHOOK] = "slack_webhook", [HT_SLACK] = "slack",
	[HT_ANY] = "any",
};

/* ---- the store ------------------------------------------------------------ */

static size_t
hk_hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Caller holds the lock: 1 if "endpoint\nid" was seen before (and note it). */
static int
hk_seen_before(const char *endpoint, const char *id)
{
	struct buf	 k;
	size_t		 i, mask;
	char		**old;
	size_t		 oldcap, j;
	int		 seen = 0;

	if (hk.nseen * 2 >= hk.seen_cap) {
		old = hk.seen;
		oldcap = hk.seen_cap;
		hk.seen_cap = oldcap ? oldcap * 2 : 1024;
		hk.seen = util_calloc(hk.seen_cap, sizeof(*hk.seen));
		mask = hk.seen_cap - 1;
		for (j = 0; j < oldcap; j++) {
			if (old[j] == NULL)
				continue;
			for (i = hk_hash(old[j]) & mask; hk.seen[i] != NULL;
			    i = (i + 1) & mask)
				;
			hk.seen[i] = old[j];
		}
		free(old);
	}
	buf_init(&k, 0);
	if (buf_printf(&k, "%s\n%s", endpoint, id) != CB_OK)
		util_oom();
	mask = hk.seen_cap - 1;
	for (i = hk_hash(k.data) & mask; hk.seen[i] != NULL; i = (i + 1) & mask)
		if (strcmp(hk.seen[i], k.data) == 0) {
			seen = 1;
			break;
		}
	if (!seen) {
		hk.seen[i] = util_strdup(k.data);
		hk.nseen++;
	}
	buf_free(&k);
	return seen;
}

static void
hk_delivery_free(struct hk_delivery *d)
{
	free(d->id);
	free(d->timestamp);
	free(d->type);
	free(d->body);
}

static void
hk_message_free(struct hk_message *m)
{
	free(m->channel);
	free(m->text);
	cJSON_Delete(m->blocks);
}

/* Caller holds the lock; d is moved into the store. */
static void
hk_store_delivery(struct hk_delivery *d)
{
	if (hk.deliveries == NULL)
		hk.deliveries = util_calloc(cfg.max_stored, sizeof(*hk.deliveries));
	/* The oldest go first, by count and by the bytes of their bodies. */
	while (hk.ndeliveries > 0 && (hk.ndeliveries == cfg.max_stored ||
	    hk.stored_bytes + d->body_len > HK_STORED_BYTES_MAX)) {
		hk.stored_bytes -= hk.deliveries[0].body_len;
		hk_delivery_free(&hk.deliveries[0]);
		memmove(hk.deliveries, hk.deliveries + 1,
		    (hk.ndeliveries - 1) * sizeof(*hk.deliveries));
		hk.ndeliveries--;
	}
	d->seq = ++hk.seq;
	hk.stored_bytes += d->body_len;
	hk.deliveries[hk.ndeliveries++] = *d;
	memset(d, 0, sizeof(*d));
}

/* Caller holds the lock; m is moved into the store. */
static void
hk_store_message(struct hk_message *m)
{
	if (hk.messages == NULL)
		hk.messages = util_calloc(cfg.max_stored, sizeof(*hk.messages));
	if (hk.nmessages == cfg.max_stored) {
		hk_message_free(&hk.messages[0]);
		memmove(hk.messages, hk.messages + 1,
		    (hk.nmessages - 1) * sizeof(*hk.messages));
		hk.nmessages--;
	}
	m->seq = ++hk.seq;
	util_iso8601(m->received_at, sizeof(m->received_at));
	hk.messages[hk.nmessages++] = *m;
	memset(m, 0, sizeof(*m));
}

/* Caller holds the lock. */
static void
hk_clear_all(void)
{
	size_t	 i;

	for (i = 0; i < hk.ndeliveries; i++)
		hk_delivery_free(&hk.deliveries[i]);
	for (i = 0; i < hk.nmessages; i++)
		hk_message_free(&hk.messages[i]);
	for (i = 0; i < hk.seen_cap; i++)
		free(hk.seen[i]);
	free(hk.seen);
	free(hk.deliveries);
	free(hk.messages);
	hk.seen = NULL;
	hk.deliveries = NULL;
	hk.messages = NULL;
	hk.seen_cap = hk.nseen = hk.ndeliveries = hk.nmessages = 0;
	hk.stored_bytes = 0;
	sodium_memzero(hk.endpoints, sizeof(hk.endpoints));
	hk.nendpoints = 0;
	(void)fp_clear(&hk.fq);
	hk.fq.served = 0;
	hk.deliveries_total = hk.verified = hk.rejected = hk.duplicates = 0;
	hk.unknown_endpoint = 0;
	hk.slack_api_calls = hk.slack_webhook_calls = hk.slack_posted = 0;
	hk.slack_errors = 0;
}

/* ---- Standard Webhooks receivers ----------------------------------------- */

/* Standard base64, padded or not; 0 and the length, or -1. */
static int
hk_b64_decode(const char *s, size_t n, unsigned char *out, size_t outsz,
    size_t *len)
{
	const char	*end = NULL;

	if (n == 0)
		return -1;
	if (sodium_base642bin(out, outsz, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && end == s + n)
		return 0;
	if (sodium_base642bin(out, outsz, s, n, NULL, len, &end,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 && end == s + n)
		return 0;
	return -1;
}

static void
hk_hmac(const unsigned char *key, size_t keylen, const char *id,
    const char *ts, const char *body, size_t body_len,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state	 st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/*
 * Which registered secret signed this delivery: its index, or -1.  Every
 * "v1," signature of the header is tried against every secret; the compare
 * is constant-time and does not stop at the first match.
 */
static int
hk_verify_sig(const struct hk_endpoint *ep, const char *id, const char *ts,
    const char *sigs, const char *body, size_t body_len)
{
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	unsigned char	 got[HK_SIGS_MAX][crypto_auth_hmacsha256_BYTES + 8];
	size_t		 ngot = 0, i, j, n, len;
	const char	*p = sigs, *e;
	int		 match = -1;

	while (*p != '\0' && ngot < HK_SIGS_MAX) {
		while (*p == ' ')
			p++;
		e = strchr(p, ' ');
		n = e ? (size_t)(e - p) : strlen(p);
		/* Other schemes (v1a, ed25519) are not ours to check. */
		if (n > 3 && strncmp(p, "v1,", 3) == 0 &&
		    hk_b64_decode(p + 3, n - 3, got[ngot], sizeof(got[0]),
		    &len) == 0 && len == crypto_auth_hmacsha256_BYTES)
			ngot++;
		p += n;
	}
	for (i = 0; i < ep->nkeys; i++) {
		hk_hmac(ep->keys[i], ep->keylen[i], id, ts, body, body_len, mac);
		for (j = 0; j < ngot; j++)
			if (sodium_memcmp(mac, got[j], sizeof(mac)) == 0 &&
			    match < 0)
				match = (int)i;
	}
	sodium_memzero(mac, sizeof(mac));
	return match;
}

/* Integer Unix seconds within the tolerance either way. */
static const char *
hk_check_timestamp(const char *ts)
{
	long long	 t, now = (long long)util_now_s();

	if (util_parse_ll(ts, 0, 99999999999LL, &t) != CB_OK)
		return "bad_timestamp";
	if (t < now - cfg.tolerance_s)
		return "timestamp_too_old";
	if (t > now + cfg.tolerance_s)
		return "timestamp_too_new";
	return NULL;
}

/* The payload's "type", when the body is a JSON object that has one. */
static char *
hk_payload_type(const char *body, size_t len)
{
	struct jv_error	 je;
	cJSON		*doc = NULL;
	const cJSON	*t;
	char		*type = NULL;

	if (len > 0 && jv_parse(body, len, &doc, &je) == CB_OK &&
	    cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(doc, "type")))
		type = util_strdup(t->valuestring);
	cJSON_Delete(doc);
	return type;
}

static void
hk_apply_fault(const struct hk_fault *f, int call, const char *endpoint,
    struct fh_resp *rs)
{
	if (f->retry_after_s > 0)
		fh_resp_header(rs, "Retry-After", "%ld", f->retry_after_s);
	if (f->status >= 300 && f->status < 400) {
		if (f->location[0] != '\0')
			fh_resp_header(rs, "Location", "%s", f->location);
		else
			fh_resp_header(rs, "Location", "http://127.0.0.1:%d/hooks/"
			    "%s-moved", cfg.port, endpoint ? endpoint : "x");
	}
	if (call == HC_SLACK_API)
		fh_resp_set(rs, f->status, HK_SLACK_JSON, f->status == 429 ?
		    "{\"ok\":false,\"error\":\"ratelimited\"}" :
		    "{\"ok\":false,\"error\":\"fatal_error\"}");
	else if (call == HC_SLACK_WEBHOOK)
		fh_resp_set(rs, f->status, "text/html", f->status == 429 ?
		    "rate_limited" : "rollup_error");
	else
		fh_resp_error(rs, f->status, "fault injected by cb-fake-hooks");
}

/* POST /hooks/{name} */
static void
hk_hook(struct fh_req *rq, struct fh_resp *rs, const char *name)
{
	struct hk_endpoint	*ep, copy;
	struct hk_delivery	 d;
	struct hk_fault		 f;
	const char		*id, *ts, *sig, *why = NULL;
	int			 faulted, known, rejected = 0;

	memset(&d, 0, sizeof(d));
	memset(&copy, 0, sizeof(copy));
	if (strcmp(rq->method, "POST") != 0) {
		fh_resp_error(rs, 405, "method not allowed: POST");
		return;
	}
	faulted = hk_take_fault(HC_HOOK, name, &f);
	pthread_mutex_lock(&hk.lock);
	if ((ep = hk_endpoint_find(name)) != NULL)
		copy = *ep;	/* verify outside the lock */
	known = ep != NULL;
	pthread_mutex_unlock(&hk.lock);
	id = fh_header(rq, "webhook-id");
	ts = fh_header(rq, "webhook-timestamp");
	sig = fh_header(rq, "webhook-signature");
	util_strlcpy(d.endpoint, name, sizeof(d.endpoint));
	d.known = known;
	d.secret_index = -1;
	d.id = hk_strndup_or_null(id, HK_HEADER_MAX);
	d.timestamp = hk_strndup_or_null(ts, HK_HEADER_MAX);
	d.type = hk_payload_type(rq->body, rq->body_len);
	if (!known) {
		why = "unknown_endpoint";
		fh_resp_error(rs, 404, "no such endpoint");
	} else if (id == NULL || ts == NULL || sig == NULL || id[0] == '\0') {
		why = "missing_headers";
		fh_resp_error(rs, 400, "webhook-id, webhook-timestamp and "
		    "webhook-signature are required");
	} else if ((why = hk_check_timestamp(ts)) != NULL) {
		rejected = 1;
		fh_resp_error(rs, 401, "timestamp outside the tolerance");
	} else if ((d.secret_index = hk_verify_sig(&copy, id, ts, sig, rq->body,
	    rq->body_len)) < 0) {
		rejected = 1;
		why = "no_matching_signature";
		fh_resp_error(rs, 401, "no matching signature");
	} else {
		d.verified = 1;
		fh_resp_set(rs, copy.status, NULL, copy.status == 204 ? NULL :
		    "{\"ok\":true}");
	}
	sodium_memzero(&copy, sizeof(copy));
	util_strlcpy(d.reason, why ? why : "", sizeof(d.reason));
	if (faulted && f.kind == HF_STATUS)
		hk_apply_fault(&f, HC_HOOK, name, rs);
	if (faulted && f.kind == HF_DROP)
		rs->drop = 1;
	if (faulted)
		util_strlcpy(d.fault, kind_names[f.kind], sizeof(d.fault));
	d.status = rs->drop ? 0 : rs->status;
	d.body = util_malloc(rq->body_len + 1);
	memcpy(d.body, rq->body, rq->body_len + 1);
	d.body_len = rq->body_len;
	util_iso8601(d.received_at, sizeof(d.received_at));
	pthread_mutex_lock(&hk.lock);
	hk.deliveries_total++;
	if (!known)
		hk.unknown_endpoint++;
	else if ((ep = hk_endpoint_find(name)) != NULL)
		ep->received++;
	hk.verified += d.verified;
	hk.rejected += rejected;
	if (d.id != NULL && (d.duplicate = hk_seen_before(name, d.id)))
		hk.duplicates++;
	hk_store_delivery(&d);
	pthread_mutex_unlock(&hk.lock);
	if (faulted && f.kind == HF_LATENCY)
		fh_sleep_ms(f.latency_ms);
}

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

/* POST /api/chat.postMessage */
static void
hk_post_message(struct fh_req *rq, struct fh_resp *rs)
{
	struct hk_message	 m;
	struct hk_fault		 f;
	struct buf		 token;
	const char		*perr = NULL, *err;
	cJSON			*doc, *msg, *dup;
	char			 chan[24];

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
	/* A "#name" gets a channel id, as Slack answers with ids. */
	if (m.channel[0] == '#')
		snprintf(chan, sizeof(chan), "C%010llX",
		    (unsigned long long)hk_hash(m.channel) % 0xFFFFFFFFFFULL);
	else
		util_strlcpy(chan, m.channel, sizeof(chan));
	doc = fp_obj();
	fp_add_bool(doc, "ok", 1);
	fp_add_str(doc, "channel", chan);
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
	if (m.blocks != NULL) {
		if ((dup = cJSON_Duplicate(m.blocks, 1)) == NULL)
			util_oom();
		cJSON_AddItemToObject(msg, "blocks", dup);
	}
	fp_json(rs, 200, HK_SLACK_JSON, doc);
	hk_record_message(&m, "chat.postMessage", NULL, 200);
out:
	hk_message_free(&m);
	buf_wipe(&token);
}

/* The n-th '/'-separated segment of a path (from 0, after the leading '/'). */
static size_t
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
static void
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
static void
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
	cJSON	*doc = fp_obj(), *arr, *o, *dup;
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
		if (m->blocks != NULL) {
			if ((dup = cJSON_Duplicate(m->blocks, 1)) == NULL)
				util_oom();
			cJSON_AddItemToObject(o, "blocks", dup);
		} else
			fp_add_str(o, "blocks", NULL);
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
	    t == HT_SLACK_WEBHOOK || t == HT_SLACK)))) {
		fh_resp_error(rs, 400, "kind: must be status (with status), "
		    "drop, latency (with latency_ms), or error (with error, "
		    "Slack targets only)");
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
	fp_add_num(doc, "stored_deliveries", (double)hk.ndeliveries);
	fp_add_num(doc, "stored_messages", (double)hk.nmessages);
	pthread_mutex_unlock(&hk.lock);
	fp_json(rs, 200, NULL, doc);
}

static void
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

/* ---- dispatch ------------------------------------------------------------ */

static void
hk_handle(struct fh_req *rq, struct fh_resp *rs, void *arg)
{
	const char	*p = rq->path;

	(void)arg;
	if (strncmp(p, "/__fake/", 8) == 0)
		hk_control(rq, rs);
	else if (strncmp(p, "/hooks/", 7) == 0 && hk_name_ok(p + 7))
		hk_hook(rq, rs, p + 7);
	else if (strncmp(p, "/api/", 5) == 0) {
		pthread_mutex_lock(&hk.lock);
		hk.slack_api_calls++;
		pthread_mutex_unlock(&hk.lock);
		if (strcmp(p + 5, "chat.postMessage") != 0) {
			fh_resp_set(rs, 404, HK_SLACK_JSON,
			    "{\"ok\":false,\"error\":\"unknown_method\"}");
		} else if (strcmp(rq->method, "POST") != 0)
			fh_resp_error(rs, 405, "method not allowed: POST");
		else
			hk_post_message(rq, rs);
	} else if (strncmp(p, "/actions/", 9) == 0) {
		if (strcmp(rq->method, "POST") != 0)
			fh_resp_error(rs, 405, "method not allowed: POST");
		else
			hk_response_url(rq, rs);
	} else if (strncmp(p, "/services/", 10) == 0) {
		pthread_mutex_lock(&hk.lock);
		hk.slack_webhook_calls++;
		pthread_mutex_unlock(&hk.lock);
		if (strcmp(rq->method, "POST") != 0)
			fh_resp_set(rs, 405, "text/html", "invalid_request");
		else
			hk_incoming_webhook(rq, rs);
	} else
		fh_resp_error(rs, 404, "not found");
}

/* The incoming-webhook path ends in a secret: keep it out of the log. */
static void
hk_log_path(const struct fh_req *rq, char *path, size_t pathsz)
{
	if (strncmp(rq->path, "/services/", 10) == 0)
		util_strlcpy(path, "/services/***", pathsz);
	else
		util_strlcpy(path, rq->path, pathsz);
}

/* ---- start-up ----------------------------------------------------------- */

static void __attribute__((noreturn))
hk_usage(const char *why)
{
	fprintf(stderr, "cb-fake-hooks: %s\n"
	    "usage: cb-fake-hooks --port N [--pidfile P] [--bind IPV4] [--io-timeout-ms MS]\n"
	    "                     [--slack-token xoxb-... | --slack-token-file F]\n"
	    "                     [--slack-webhook-path /services/T.../B.../... |\n"
	    "                      --slack-webhook-secret-file F]\n"
	    "                     [--tolerance-s 300] [--max-stored 10000]\n", why);
	exit(2);
}

/*
 * A secret from a file (so it is not on the command line): one word,
 * trailing white space dropped.  0, or -1 (logged, without the content).
 */
static int
hk_read_secret(const char *path, char *out, size_t outsz)
{
	FILE	*fp;
	size_t	 n;
	int	 rc = -1;

	if ((fp = fopen(path, "re")) == NULL) {
		log_kv(LOG_LVL_ERROR, "secret_file_unreadable", "path", path,
		    "error", strerror(errno), NULL);
		return -1;
	}
	n = fread(out, 1, outsz - 1, fp);
	out[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", out[n - 1]) != NULL)
		out[--n] = '\0';
	if (n > 0 && strpbrk(out, " \t\r\n") == NULL && fgetc(fp) == EOF)
		rc = 0;
	else
		log_kv(LOG_LVL_ERROR, "secret_file_invalid", "path", path, NULL);
	fclose(fp);
	return rc;
}

/* "/services/" and three non-empty segments of [A-Za-z0-9]. */
static int
hk_webhook_path_ok(const char *p)
{
	const char	*seg;
	size_t		 n;
	int		 i;

	if (strncmp(p, "/services/", 10) != 0)
		return 0;
	for (i = 1; i <= 3; i++) {
		n = hk_segment(p, i, &seg);
		if (n == 0 || strspn(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789") != n)
			return 0;
	}
	return hk_segment(p, 4, &seg) == 0 && seg[0] == '\0';
}

int
main(int argc, char **argv)
{
	struct fh_config	 hc;
	const char		*token_file = NULL, *hook_file = NULL;
	char			 secret[128];
	long long		 v;
	int			 i, rc = 1;

	cfg.io_timeout_ms = 10000;
	cfg.tolerance_s = HK_TOLERANCE_S;
	cfg.max_stored = HK_STORED_DEFAULT;
	util_strlcpy(cfg.webhook_path, HK_WEBHOOK_PATH, sizeof(cfg.webhook_path));
	for (i = 1; i < argc; i += 2) {
		const char	*o = argv[i], *val = argv[i + 1];

		if (val == NULL)
			hk_usage("every option takes a value");
		if (strcmp(o, "--port") == 0) {
			if (util_parse_ll(val, 1, 65535, &v) != CB_OK)
				hk_usage("--port must be 1..65535");
			cfg.port = (int)v;
		} else if (strcmp(o, "--pidfile") == 0)
			cfg.pidfile = val;
		else if (strcmp(o, "--bind") == 0) {
			if (!fh_ipv4_ok(val))
				hk_usage("--bind wants an IPv4 address");
			cfg.bind = val;
		} else if (strcmp(o, "--io-timeout-ms") == 0) {
			if (util_parse_ll(val, 100, 600000, &v) != CB_OK)
				hk_usage("--io-timeout-ms must be 100..600000");
			cfg.io_timeout_ms = (long)v;
		} else if (strcmp(o, "--slack-token") == 0) {
			if (strlen(val) < 6 || strlen(val) >= HK_TOKEN_MAX ||
			    strpbrk(val, " \t\r\n") != NULL)
				hk_usage("--slack-token: one word, 6..255 bytes");
			util_strlcpy(cfg.slack_token, val, sizeof(cfg.slack_token));
		} else if (strcmp(o, "--slack-token-file") == 0)
			token_file = val;
		else if (strcmp(o, "--slack-webhook-path") == 0) {
			if (strlen(val) >= sizeof(cfg.webhook_path) ||
			    !hk_webhook_path_ok(val))
				hk_usage("--slack-webhook-path: "
				    "/services/T.../B.../SECRET, letters and digits");
			util_strlcpy(cfg.webhook_path, val,
			    sizeof(cfg.webhook_path));
		} else if (strcmp(o, "--slack-webhook-secret-file") == 0)
			hook_file = val;
		else if (strcmp(o, "--tolerance-s") == 0) {
			if (util_parse_ll(val, 1, 86400, &v) != CB_OK)
				hk_usage("--tolerance-s must be 1..86400");
			cfg.tolerance_s = (long)v;
		} else if (strcmp(o, "--max-stored") == 0) {
			if (util_parse_ll(val, 1, 1000000, &v) != CB_OK)
				hk_usage("--max-stored must be 1..1000000");
			cfg.max_stored = (size_t)v;
		} else
			hk_usage("unknown option");
	}
	if (cfg.port == 0)
		hk_usage("--port is required");
	log_init("cb-fake-hooks", LOG_LVL_INFO);
	if (sodium_init() < 0)
		goto out;
	if (token_file != NULL && hk_read_secret(token_file, cfg.slack_token,
	    sizeof(cfg.slack_token)) != 0)
		goto out;
	if (hook_file != NULL) {
		if (hk_read_secret(hook_file, secret, sizeof(secret)) != 0)
			goto out;
		snprintf(cfg.webhook_path, sizeof(cfg.webhook_path),
		    "/services/T000/B000/%s", secret);
		sodium_memzero(secret, sizeof(secret));
		if (!hk_webhook_path_ok(cfg.webhook_path)) {
			log_kv(LOG_LVL_ERROR, "secret_file_invalid", "path",
			    hook_file, NULL);
			goto out;
		}
	}

	memset(&hc, 0, sizeof(hc));
	hc.port = cfg.port;
	hc.bind = cfg.bind;
	hc.io_timeout_ms = cfg.io_timeout_ms;
	hc.pidfile = cfg.pidfile;
	hc.handler = hk_handle;
	hc.log_path = hk_log_path;
	rc = fh_serve(&hc);
	if (rc == 0) {
		/* Every connection is gone: nothing else uses the state. */
		pthread_mutex_lock(&hk.lock);
		hk_clear_all();
		pthread_mutex_unlock(&hk.lock);
	}
	rc = rc == 1 ? 1 : 0;
out:
	sodium_memzero(cfg.slack_token, sizeof(cfg.slack_token));
	sodium_memzero(cfg.webhook_path, sizeof(cfg.webhook_path));
	return rc;
}
