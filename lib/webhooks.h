/*
 * webhooks: the tenants' outbound webhook endpoints (Standard Webhooks 1.0),
 * shared by the admin routes (cgi/webhooks.c), the delivery sink
 * (worker/sink_webhook.c) and, later, the operator CLI: no statement on
 * webhook_endpoints is written twice.
 *
 * Tenant-scoped: every statement filters on org_id, so another
 * organisation's endpoint is "not found".
 *
 * Secrets.  An endpoint's signing secret ("whsec_" + base64 of 32 random
 * bytes, lib/stdwh.h) is made here, handed to the caller once, and kept
 * only sealed (lib/seal.h, purpose tokens) with the AAD
 * "webhook_endpoints:<id>:secret", or ":secret_prev" for the one a
 * rotation replaced: a sealed value copied to another row or column does
 * not open.  A rotation keeps the previous secret valid (both signatures
 * are sent) until prev_until = now + overlap; after that it is dropped from
 * the row the next time the endpoint is loaded.  No view (webhooks_view and
 * its callers) ever holds a secret, and nothing here logs one, nor an URL
 * (an URL may carry a token).
 *
 * Destinations.  webhooks_url_check is the creation-time rule: https, or
 * http only to a host:port on the private allowlist (CB_EGRESS_PRIVATE_ALLOW);
 * no user information, fragment, space or control character; at most
 * WEBHOOKS_URL_MAX bytes; a literal internal address (loopback, RFC 1918,
 * link-local, ... as httpc_addr_public judges), "localhost" or a
 * single-label name is refused unless its host:port is on the allowlist.
 * The egress guard of lib/httpc still checks every delivery after DNS.
 */
#ifndef CB_WEBHOOKS_H
#define CB_WEBHOOKS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "stdwh.h"

struct db;
struct seal_keyring;

#define WEBHOOKS_URL_MIN	10
#define WEBHOOKS_URL_MAX	2048
#define WEBHOOKS_TYPES_MAX	16
#define WEBHOOKS_DESC_MAX	200
#define WEBHOOKS_LIST_MAX	1000
#define WEBHOOKS_TABLE		"webhook_endpoints"

/*
 * Is url an acceptable destination?  CB_OK, or CB_ERR_VALIDATION with a
 * reason in *why (static text, safe to show the caller).
 */
int	 webhooks_url_check(const char *url, const char *private_allow, const char **why);
/* event_types: a JSON array of 1..16 distinct known types (lib/events.h). */
int	 webhooks_types_check(const cJSON *types, const char **why);

/*
 * Create an endpoint of org: its secret into `secret` (wipe it after
 * answering), the view into *view (the caller frees it).  url, types and
 * description must have been checked.  The endpoint is tagged with the
 * region its host maps to under region_hosts (CB_REGION_HOSTS, lib/region.h);
 * for a tenant pinned to a region, a host in another region or in none is
 * refused: CB_ERR_RESIDENCY with the rule named in why.  CB_ERR_UNAVAILABLE
 * when the seal keyring has no current key.
 */
int	 webhooks_create(struct db *, const struct seal_keyring *, const char *org,
	    const char *url, const cJSON *types, const char *description,
	    const char *region_hosts, char secret[STDWH_SECRET_BUFSZ], cJSON **view,
	    char *why, size_t whysz)
	    __attribute__((warn_unused_result));
/* {"webhooks":[view...]}, oldest first. */
int	 webhooks_list(struct db *, const char *org, cJSON **view)
	    __attribute__((warn_unused_result));
/* One endpoint's view; CB_ERR_NOT_FOUND for a malformed or foreign id. */
int	 webhooks_get(struct db *, const char *org, const char *id, cJSON **view)
	    __attribute__((warn_unused_result));
/*
 * A new secret; the current one becomes the previous one, valid for
 * overlap_s more seconds (0: not at all).  Runs in the caller's
 * transaction when there is one (the row is locked), else in its own.
 * CB_ERR_NOT_FOUND, CB_ERR_CRYPTO (the stored secret does not open).
 */
int	 webhooks_rotate(struct db *, const struct seal_keyring *, const char *org,
	    const char *id, long long overlap_s, char secret[STDWH_SECRET_BUFSZ], cJSON **view)
	    __attribute__((warn_unused_result));
/*
 * Enable (clears disabled_reason, disabled_at and failing_since) or
 * disable with a reason (an endpoint disabled already keeps its first
 * reason).  *changed (may be NULL): whether the state moved.
 */
int	 webhooks_set_enabled(struct db *, const char *org, const char *id, int enabled,
	    const char *reason, int *changed, cJSON **view)
	    __attribute__((warn_unused_result));

/* ---- for the delivery sink ------------------------------------------ */

struct webhooks_target {
	char			 url[WEBHOOKS_URL_MAX + 1];
	int			 enabled;
	char			 disabled_reason[128];
	struct stdwh_key	 keys[2];	/* current, then previous while valid */
	size_t			 nkeys;
};

/*
 * Load an endpoint for a delivery: its URL, state and (when enabled) its
 * open secrets.  CB_ERR_NOT_FOUND, CB_ERR_CRYPTO (a secret does not open).
 * Wipe with webhooks_target_wipe.
 */
int	 webhooks_load(struct db *, const struct seal_keyring *, const char *org,
	    const char *id, struct webhooks_target *)
	    __attribute__((warn_unused_result));
void	 webhooks_target_wipe(struct webhooks_target *);
/* A 2xx: the endpoint is healthy again (failing_since cleared). */
int	 webhooks_note_ok(struct db *, const char *id);
/*
 * A failed attempt: failing_since is set if it was not.  When the endpoint
 * has been failing for more than disable_after_s it is disabled with a
 * reason; *disabled says so (the caller raises the alert).
 */
int	 webhooks_note_failure(struct db *, const char *id, long long disable_after_s,
	    int *disabled)
	    __attribute__((warn_unused_result));

#endif
