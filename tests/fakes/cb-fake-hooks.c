/*
 * cb-fake-hooks: webhook receivers and a fake Slack, for tests.
 *
 * Two roles on one loopback HTTP/1.1 server (tests/fakes/common/fakehttpd,
 * on GNU libmicrohttpd):
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
 *    bot token checked, HTTP 200 {"ok":...} as Slack answers),
 *    conversations.history (GET or form POST: a channel's posted messages,
 *    newest first, with their metadata when asked) and the
 *    incoming webhook POST /services/T.../B.../... (plain-text "ok", errors
 *    as plain text with Slack's statuses).
 *
 * A control plane under /__fake/ (no auth: loopback only) registers
 * endpoints and their secrets, lists deliveries and messages, queues faults
 * (status N times with Retry-After or Location, drop, latency, Slack
 * errors, a posted message's answer lost), shows counters and resets.
 *
 *   cb-fake-hooks --port N [--pidfile P] [--bind IPV4] [--io-timeout-ms MS]
 *                 [--slack-token xoxb-... | --slack-token-file PATH]
 *                 [--slack-webhook-path /services/T000/B000/XXXX |
 *                  --slack-webhook-secret-file PATH]
 *                 [--tolerance-s 300] [--max-stored 10000]
 *
 * This file holds the configuration, the fault queue, the dispatch and
 * start-up; the parts are in tests/fakes/hooks/: receiver.c (Standard
 * Webhooks), slack.c, store.c (deliveries, messages, duplicates),
 * control.c (the control plane); hk.h is what they share.
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

#include "hooks/hk.h"

/* ---- configuration and state (hooks/hk.h) -------------------------------- */

struct hk_cfg	 cfg;
struct hk_state	 hk = { .lock = PTHREAD_MUTEX_INITIALIZER, .fq = FP_QUEUE(hk.faults) };

/* ---- small helpers ------------------------------------------------------ */

char *
hk_strndup_or_null(const char *s, size_t n)
{
	return s == NULL ? NULL : util_strndup(s, n);
}

/* Endpoint names: [A-Za-z0-9_-]{1,64}. */
int
hk_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > HK_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") == n;
}

/* Caller holds the lock. */
struct hk_endpoint *
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

int
hk_take_fault(int call, const char *endpoint, struct hk_fault *out)
{
	struct hk_call_of	 c = { call, endpoint };
	int			 hit;

	pthread_mutex_lock(&hk.lock);
	hit = fp_take(&hk.fq, hk_target_hits, &c, out);
	pthread_mutex_unlock(&hk.lock);
	return hit;
}

const char *const kind_names[HF__COUNT] = {
	[HF_STATUS] = "status", [HF_DROP] = "drop", [HF_LATENCY] = "latency",
	[HF_SLACK_ERROR] = "error", [HF_LOST_ANSWER] = "lost_answer",
};
const char *const target_names[HT_ANY + 1] = {
	[HT_HOOK] = "hook", [HT_SLACK_API] = "slack_api",
	[HT_SLACK_WEBHOOK] = "slack_webhook", [HT_SLACK] = "slack",
	[HT_ANY] = "any",
};


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
		if (strcmp(p + 5, "conversations.history") == 0)
			hk_history(rq, rs);
		else if (strcmp(p + 5, "chat.postMessage") != 0) {
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
	const char		*token_file = NULL, *hook_file = NULL, *why;
	char			 secret[128];
	long long		 v;
	int			 i, r, rc = 1;

	memset(&hc, 0, sizeof(hc));
	cfg.tolerance_s = HK_TOLERANCE_S;
	cfg.max_stored = HK_STORED_DEFAULT;
	util_strlcpy(cfg.webhook_path, HK_WEBHOOK_PATH, sizeof(cfg.webhook_path));
	for (i = 1; i < argc; i += 2) {
		const char	*o = argv[i], *val = argv[i + 1];

		if (val == NULL)
			hk_usage("every option takes a value");
		if ((r = fh_option(&hc, o, val, &why)) < 0)
			hk_usage(why);
		else if (r > 0)
			continue;
		if (strcmp(o, "--slack-token") == 0) {
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
	if ((cfg.port = hc.port) == 0)
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
