/*
 * fakehooks: integration-test helpers around the bundled fake webhook
 * receivers and fake Slack (tests/fakes/cb-fake-hooks, CB_FAKEHOOKS_URL):
 * its control endpoints, signing a delivery the Standard Webhooks way, and
 * waiting for deliveries or Slack messages to arrive.
 */
#ifndef CB_TEST_FAKEHOOKS_H
#define CB_TEST_FAKEHOOKS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "stdwh.h"

/* A tenant's webhook endpoint and the fake receiver behind it. */
struct fakehooks_hook {
	char	 name[48];			/* the receiver: /hooks/<name> */
	char	 id[40];			/* the endpoint's id */
	char	 secret[STDWH_SECRET_BUFSZ];	/* shown once at creation */
};

/* A request to the fake (path like "/__fake/stats"); JSON body or NULL. */
void	 fakehooks_call(const char *method, const char *path, const char *body, struct http_resp *);
/* One counter of GET /__fake/stats. */
long	 fakehooks_stat(const char *name);
/* POST /__fake/reset: no endpoints, deliveries, messages, faults or counts. */
void	 fakehooks_reset(void);
/* Register (or re-register, for rotation) an endpoint; NULL-ended secrets. */
void	 fakehooks_endpoint(const char *name, const char *const *secrets);
/* Queue a fault, e.g. {"target":"hook","endpoint":"a","kind":"status","status":410}. */
void	 fakehooks_fault(const char *json);
/* DELETE /__fake/faults: every queued fault gone (asserts 2xx). */
void	 fakehooks_clear(void);
/*
 * Create a webhook endpoint through the admin route (an admin's access
 * token) for event types `types` (a JSON array), at a new receiver of the
 * fake that knows its secret.  Asserts the 201.
 */
void	 fakehooks_new_hook(const char *admin_token, const char *types, struct fakehooks_hook *);
/* A unique name: prefix and 12 random hex digits. */
void	 fakehooks_unique(char *out, size_t outsz, const char *prefix);
/* The receiver URL of an endpoint: $CB_FAKEHOOKS_URL/hooks/<name>. */
void	 fakehooks_hook_url(const char *name, char *out, size_t outsz);
/* A fresh random secret "whsec_" + base64 of 32 bytes. */
void	 fakehooks_new_secret(char *out, size_t outsz);
/* "v1,<base64 HMAC-SHA256>" of {id}.{ts}.{body} with a whsec_ secret. */
void	 fakehooks_sign(const char *secret, const char *id, const char *ts,
	    const char *body, size_t len, char *out, size_t outsz);
/*
 * A call event as the voice platform sends it: POST body (JSON) to
 * /api/v1/webhooks/calls/<source> with webhook-id msg_id, the timestamp now
 * and its signature with secret; the answer in r (http_free it).
 */
struct http_resp;
void	 fakehooks_post_call(const char *secret, const char *source, const char *msg_id,
	    const char *body, struct http_resp *r);
/*
 * The deliveries (a JSON array the caller frees with cJSON_Delete) to one
 * endpoint (NULL: all) with a sequence number above `since` (0: all).
 */
cJSON	*fakehooks_deliveries(const char *endpoint, long since);
/* The Slack messages (chat.postMessage and incoming webhook) after `since`. */
cJSON	*fakehooks_messages(long since);
/* Wait up to ms until there are at least n of them; the count seen. */
int	 fakehooks_wait_deliveries(const char *endpoint, int n, int ms);
int	 fakehooks_wait_messages(int n, int ms);
/*
 * The deliveries to `endpoint` after `since` once there are at least n
 * (asserted, waiting up to ms); the caller frees the array.
 */
cJSON	*fakehooks_deliveries_wait(const char *endpoint, long since, int n, int ms);
/* The highest seq of the deliveries to `endpoint` (NULL: all), or of the messages; 0: none. */
long	 fakehooks_last_delivery(const char *endpoint);
long	 fakehooks_last_message(void);
/* How many messages after `since` have a text containing needle. */
int	 fakehooks_messages_with(long since, const char *needle);
/* Wait up to ms until at least n do; the count seen. */
int	 fakehooks_wait_messages_with(long since, const char *needle, int n, int ms);
/*
 * Restart the stack's worker posting to Slack through the fake's Web API
 * (chat.postMessage with its bot token, to `channel`: an id or "#name"),
 * or through its incoming webhook again (the stack's default).
 */
void	 fakehooks_worker_web_api(const char *channel);
void	 fakehooks_worker_webhook(void);
/* The Web API to FAKEHOOKS_WEB_CHANNEL: an unchecked fixture's setup. */
#define FAKEHOOKS_WEB_CHANNEL	"C0ALERTS01"
void	 fakehooks_worker_web_api_default(void);

#endif
