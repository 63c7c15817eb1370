/*
 * settings: see settings.h.
 */
#include <stddef.h>
#include <stdio.h>

#include <sodium.h>

#include "errs.h"
#include "region.h"
#include "seal.h"
#include "util.h"

#include "settings.h"

#define S(f)	offsetof(struct settings, f)

const struct conf_var settings_vars[] = {
	{ "CB_PG_DSN", CONF_STR, CONF_REQUIRED | CONF_SECRET, NULL, 1, 1024, S(pg_dsn),
	  "libpq connection string of the broker's database (holds a password: secret)" },
	{ "CB_REDIS_HOST", CONF_STR, 0, "127.0.0.1", 1, 255, S(redis_host),
	  "Redis host, or the path of its unix socket (starting with /)" },
	{ "CB_REDIS_PORT", CONF_INT, 0, "6379", 1, 65535, S(redis_port),
	  "Redis port" },
	{ "CB_REDIS_PASSWORD", CONF_STR, CONF_SECRET, NULL, 0, 512, S(redis_password),
	  "Redis AUTH password (requirepass)" },
	{ "CB_REDIS_TIMEOUT_MS", CONF_INT, 0, "500", 10, 60000, S(redis_timeout_ms),
	  "Redis connect and command timeout in milliseconds" },
	{ "CB_LOG_LEVEL", CONF_STR, 0, "info", 1, 8, S(log_level),
	  "minimum log level: debug, info, warn, error" },
	{ "CB_PORT_WS", CONF_INT, 0, "8090", 1, 65535, S(ws_port),
	  "the worker's WebSocket port on 127.0.0.1 (nginx proxies /ws/ to it)" },
	{ "CB_PUBLIC_URL", CONF_STR, 0, "https://127.0.0.1:8443", 1, 512, S(public_url),
	  "the externally visible base URL, used in links and the JWT issuer" },
	{ "CB_API_KEY_PEPPER", CONF_STR, CONF_REQUIRED | CONF_SECRET, NULL, 64, 64, S(api_key_pepper),
	  "64 hex characters (32 random bytes) keying the hashes of agent API keys; "
	  "changing it invalidates every key" },
	{ "CB_CONTEXT_TTL_S", CONF_INT, 0, "43200", 60, 604800, S(context_ttl_s),
	  "lifetime of a tab context and its token, in seconds" },
	{ "CB_IDEM_TTL_S", CONF_INT, 0, "86400", 60, 31536000, S(idem_ttl_s),
	  "an Idempotency-Key's stored answer is replayed for this long (expires_at); after it "
	  "the same key is a new request, and the row may be purged" },
	{ "CB_SUBMIT_DEDUPE_S", CONF_INT, 0, "600", 0, 604800, S(submit_dedupe_s),
	  "the same tab submitting the same data again under a new Idempotency-Key within this "
	  "many seconds gets 409 duplicate-submission with the first submission's id; 0 = off" },
	{ "CB_SF_LOGIN_URL", CONF_STR, 0, "https://login.salesforce.com", 1, 512, S(sf_login_url),
	  "Salesforce login host for the OAuth JWT bearer token request" },
	{ "CB_SF_AUDIENCE", CONF_STR, 0, "https://login.salesforce.com", 1, 512, S(sf_audience),
	  "the JWT aud claim: https://login.salesforce.com, https://test.salesforce.com or a site URL" },
	{ "CB_SF_CLIENT_ID", CONF_STR, 0, NULL, 1, 256, S(sf_client_id),
	  "the connected app's consumer key (JWT iss); unset = no Salesforce delivery" },
	{ "CB_SF_USERNAME", CONF_STR, 0, NULL, 1, 256, S(sf_username),
	  "the integration user's username (JWT sub)" },
	{ "CB_SF_PRIVATE_KEY_FILE", CONF_STR, 0, NULL, 1, 1024, S(sf_private_key_file),
	  "PEM RSA private key whose certificate is uploaded to the connected app" },
	{ "CB_SF_API_VERSION", CONF_STR, 0, "v60.0", 5, 8, S(sf_api_version),
	  "REST API version, e.g. v60.0" },
	{ "CB_SF_TIMEOUT_MS", CONF_INT, 0, "30000", 100, 600000, S(sf_timeout_ms),
	  "timeout of one Salesforce call, in milliseconds" },
	{ "CB_OUTBOX_CONCURRENCY", CONF_INT, 0, "16", 1, 256, S(outbox_concurrency),
	  "delivery calls (batches) in flight at once in one outbox process" },
	{ "CB_OUTBOX_LEASE_S", CONF_INT, 0, "60", 2, 3600, S(outbox_lease_s),
	  "lease of a row being delivered; renewed every third of it while its process is "
	  "alive, taken back at once when the process or its connection is gone" },
	{ "CB_OUTBOX_SCHEDULE", CONF_STR, 0, "0s,5s,5m,30m,2h,5h,10h,10h", 1, 512, S(outbox_schedule),
	  "delay before each attempt (ms, s, m, h suffixes), first attempt first; its length is "
	  "the number of attempts before a row is dead-lettered; +-10% jitter; Retry-After wins "
	  "when longer" },
	{ "CB_EGRESS_PRIVATE_ALLOW", CONF_STR, 0, "", 0, 1024, S(egress_private_allow),
	  "host:port destinations that may resolve to loopback or private addresses and may use "
	  "plain http (the bundled fakes, an internal proxy); every other internal destination "
	  "is refused" },
	{ "CB_SF_BATCH", CONF_INT, 0, "200", 1, 200, S(sf_batch),
	  "records per sObject Collections upsert call (Salesforce allows 200)" },
	{ "CB_SF_SESSION_S", CONF_INT, 0, "7200", 300, 86400, S(sf_session_s),
	  "how long a minted Salesforce token is trusted (the org's session timeout)" },
	{ "CB_SF_REFRESH_MARGIN_S", CONF_INT, 0, "600", 0, 3600, S(sf_refresh_margin_s),
	  "a token is minted again this long before CB_SF_SESSION_S runs out" },
	{ "CB_SF_PROBE_S", CONF_INT, 0, "60", 1, 3600, S(sf_probe_s),
	  "while a configuration error (invalid_grant) pauses the sink, try again this often" },
	{ "CB_SF_LIMIT_SLOW_PCT", CONF_INT, 0, "80", 1, 100, S(sf_limit_slow_pct),
	  "past this share of the org's daily API allocation (Sforce-Limit-Info), one call at a time" },
	{ "CB_SF_LIMIT_PAUSE_PCT", CONF_INT, 0, "95", 1, 100, S(sf_limit_pause_pct),
	  "past this share of the daily API allocation the sink pauses (rows wait, none is charged)" },
	{ "CB_SF_KEY_OVERLAP_S", CONF_INT, 0, "86400", 1, 604800, S(sf_key_overlap_s),
	  "after cb-admin sf-rotate installs a tenant's next Salesforce key, mints try it first and "
	  "fall back to the current key for this long; then the next key becomes the current one" },
	{ "CB_SF_KEY_WARN_DAYS", CONF_INT, 0, "90", 1, 3650, S(sf_key_warn_days),
	  "cb-admin sf-list and sf-show warn about a tenant's Salesforce key older than this (days)" },
	{ "CB_KEY_WARN_DAYS", CONF_INT, 0, "90", 1, 3650, S(key_warn_days),
	  "cb-admin key-ages warns about a data key or signing key in use for longer than this "
	  "(days; the KeyRotationDue alert fires past 90)" },
	{ "CB_REGION", CONF_STR, 0, "", 0, 2, S(region),
	  "the data region of this deployment (its database and data keys): us, ca, eu, uk, ap, "
	  "au or jp; empty = none; new data keys are tagged with it, and a tenant can be pinned "
	  "only to it (docs/residency.md)" },
	{ "CB_REGION_HOSTS", CONF_STR, 0, "", 0, 4096, S(region_hosts),
	  "comma-separated suffix=region entries mapping a destination host to its region "
	  "(e.g. .my.salesforce.com=us,eu.example.com=eu); a pinned tenant's Salesforce and "
	  "webhook hosts must map to its region" },
	{ "CB_SF_CONTACT_TTL_S", CONF_INT, 0, "300", 1, 86400, S(sf_contact_ttl_s),
	  "a contact found by phone (the call activity's link) is cached in Redis this long, "
	  "per tenant, under a keyed hash of the number; cb-admin sf-contact-forget drops it" },
	{ "CB_SF_CONTACT_MISS_TTL_S", CONF_INT, 0, "60", 1, 3600, S(sf_contact_miss_ttl_s),
	  "a phone number no contact has is remembered as a miss this long (shorter: a new "
	  "contact is linked soon without a forget)" },
	{ "CB_WEBHOOK_TIMEOUT_MS", CONF_INT, 0, "15000", 1000, 30000, S(webhook_timeout_ms),
	  "a webhook receiver must answer 2xx within this long" },
	{ "CB_WEBHOOK_DISABLE_AFTER_S", CONF_INT, 0, "432000", 60, 2592000, S(webhook_disable_after_s),
	  "an endpoint failing every attempt for this long is disabled, with an alert (5 days)" },
	{ "CB_WEBHOOK_ROTATION_OVERLAP_S", CONF_INT, 0, "86400", 0, 2592000, S(webhook_rotation_overlap_s),
	  "after a webhook secret rotation the previous secret still signs (both signatures "
	  "are sent) for this long; 0 drops it at once" },
	{ "CB_SLACK_WEBHOOK_URL", CONF_STR, CONF_SECRET, NULL, 10, 512, S(slack_webhook_url),
	  "operators' alerts: a Slack incoming-webhook URL (holds a secret)" },
	{ "CB_SLACK_BOT_TOKEN", CONF_STR, CONF_SECRET, NULL, 10, 256, S(slack_bot_token),
	  "operators' alerts through chat.postMessage: a bot token xoxb-..., with CB_SLACK_CHANNEL" },
	{ "CB_SLACK_CHANNEL", CONF_STR, 0, NULL, 1, 80, S(slack_channel),
	  "channel id (C..., G...) for messages posted with the bot token; an id, not a"
	  " name, lets a retry find a message already posted (conversations.history)" },
	{ "CB_SLACK_API_URL", CONF_STR, 0, "https://slack.com/api", 8, 512, S(slack_api_url),
	  "Slack Web API base URL" },
	{ "CB_SLACK_TIMEOUT_MS", CONF_INT, 0, "10000", 1000, 30000, S(slack_timeout_ms),
	  "Slack must answer an alert's post within this long, in milliseconds" },
	{ "CB_ALERT_DEAD_LETTERS", CONF_INT, 0, "3", 1, 10000, S(alert_dead_letters),
	  "dead letters of one organisation within 24 h that raise an alert" },
	{ "CB_ALERT_OAUTH_FAILURES", CONF_INT, 0, "5", 1, 10000, S(alert_oauth_failures),
	  "OAuth failures within an hour that raise an alert (invalid_grant alerts at once)" },
	{ "CB_RECEIPT_TIMEOUT_S", CONF_INT, 0, "30", 1, 3600, S(receipt_timeout_s),
	  "how long a tab has to send a command's receipt before it is sent again" },
	{ "CB_WS_MAX_PER_CTX", CONF_INT, 0, "4", 1, 64, S(ws_max_per_ctx),
	  "open WebSockets one tab context may hold; one more is refused with 429 and Retry-After" },
	{ "CB_WS_MAX_PER_ADDR", CONF_INT, 0, "256", 1, 100000, S(ws_max_per_addr),
	  "open WebSockets from one client address (as nginx forwards it); one more is refused "
	  "with 429 and Retry-After" },
	{ "CB_WS_MAX_FEEDS_PER_ORG", CONF_INT, 0, "16", 1, 1024, S(ws_max_feeds_per_org),
	  "open call feeds (/ws/calls, docs/channel.md) per tenant in one worker; one more is "
	  "refused at its auth (close 1013)" },
	{ "CB_CHANNEL_SWEEP_MS", CONF_INT, 0, "250", 20, 60000, S(channel_sweep_ms),
	  "how often the channel looks in Postgres for commands a lost wake-up did not announce "
	  "(one query for every connected tab), in milliseconds" },
	{ "CB_CHANNEL_EXPIRE_BATCH", CONF_INT, 0, "200", 1, 10000, S(channel_expire_batch),
	  "commands past their expires_at the channel marks expired per sweep statement" },
	{ "CB_CHANNEL_LOCK_TIMEOUT_MS", CONF_INT, 0, "200", 10, 60000, S(channel_lock_timeout_ms),
	  "lock_timeout of the channel's Postgres session: a row another session holds locked "
	  "costs the statement waiting for it no more than this, and never the event loop" },
	{ "CB_SEAL_ROOT_KEY_FILE", CONF_STR, CONF_REQUIRED, NULL, 1, 1024, S(seal_root_key_file),
	  "file with the 32-byte root key (64 hex characters), mode 0600/0400, owned by the "
	  "service: it wraps the data keys that seal tokens and personal data" },
	{ "CB_BLIND_INDEX_KEY_FILE", CONF_STR, CONF_REQUIRED, NULL, 1, 1024, S(blind_index_key_file),
	  "file with the 32-byte key (64 hex characters, mode 0600/0400, owned by the service) of "
	  "the blind indexes of personal data: the users' email index, the login buckets, the "
	  "contact cache's phone keys, the submission dedupe digests; apart from "
	  "CB_API_KEY_PEPPER, so rotating either leaves the other's data working (after a "
	  "change, `cb-admin reindex` rewrites the email index)" },
	{ "CB_BLIND_INDEX_KEY_PREVIOUS_FILE", CONF_STR, 0, NULL, 1, 1024,
	  S(blind_index_key_previous_file),
	  "while the blind index key is rotated: the previous key's file (same format); logins "
	  "and the users' email uniqueness also consult the email index under it until "
	  "`cb-admin reindex` has moved every row, so no login fails meanwhile; unset it then" },
	{ "CB_CORS_ORIGINS", CONF_STR, 0, "", 0, 4096, S(cors_origins),
	  "comma-separated origins allowed to call the API from a browser (exact match); "
	  "empty = same-origin only" },
	{ "CB_ACCESS_TTL_S", CONF_INT, 0, "900", 60, 3600, S(access_ttl_s),
	  "lifetime of an access token (JWT), in seconds" },
	{ "CB_REFRESH_TTL_S", CONF_INT, 0, "2592000", 3600, 31536000, S(refresh_ttl_s),
	  "absolute lifetime of a refresh-token family, in seconds (30 days)" },
	{ "CB_REFRESH_IDLE_S", CONF_INT, 0, "604800", 600, 31536000, S(refresh_idle_s),
	  "a refresh token unused for this long expires (idle expiry), in seconds" },
	{ "CB_REFRESH_OVERLAP_S", CONF_INT, 0, "10", 0, 120, S(refresh_overlap_s),
	  "the immediately previous refresh token is still accepted this long after "
	  "rotation, to absorb concurrent refreshes" },
	{ "CB_PG_STATEMENT_TIMEOUT_MS", CONF_INT, 0, "5000", 100, 600000, S(pg_statement_timeout_ms),
	  "a responder's Postgres statement running longer than this is cancelled and the "
	  "request answers 503 with Retry-After (the worker's duties are not bound by it)" },
	{ "CB_PG_LOCK_TIMEOUT_MS", CONF_INT, 0, "2000", 10, 600000, S(pg_lock_timeout_ms),
	  "a responder's Postgres statement waiting longer than this for a lock fails and the "
	  "request answers 503 with Retry-After (an Idempotency-Key claim waits 300 ms and "
	  "answers 409)" },
	{ "CB_KV_BREAKER_FAILURES", CONF_INT, 0, "3", 1, 1000, S(kv_breaker_failures),
	  "consecutive failed Redis calls (timeout, I/O error, refused) after which a process "
	  "stops calling Redis for CB_KV_BREAKER_COOLOFF_MS: calls fail at once" },
	{ "CB_KV_BREAKER_COOLOFF_MS", CONF_INT, 0, "5000", 100, 600000, S(kv_breaker_cooloff_ms),
	  "how long an open Redis circuit breaker fails calls at once before one probe call "
	  "is let through (its success closes it)" },
	{ "CB_AUDIT_SEAL_MS", CONF_INT, 0, "1000", 10, 60000, S(audit_seal_ms),
	  "the worker's audit duty seals new audit rows onto the hash chain this often (a row "
	  "stays unsealed, so not yet covered by cb-admin audit verify, about this long)" },
	{ "CB_AUDIT_SEAL_BATCH", CONF_INT, 0, "500", 1, 10000, S(audit_seal_batch),
	  "audit rows one sealing statement chains at most (a full batch is followed at once "
	  "by the next)" },
	{ "CB_APPROVAL_SWEEP_MS", CONF_INT, 0, "5000", 100, 60000, S(approval_sweep_ms),
	  "the worker's approvals duty ends approvals nobody decided before their expires_at "
	  "this often (expired; their commands denied and their tabs released): an approval "
	  "outlives its expiry by at most about this long" },
	{ "CB_APPROVAL_EXPIRE_BATCH", CONF_INT, 0, "100", 1, 10000, S(approval_expire_batch),
	  "approvals one expiry statement ends at most (a full batch is followed at once by "
	  "the next)" },
	{ "CB_SLACK_SIGNING_SECRET", CONF_STR, CONF_SECRET, NULL, 16, 256, S(slack_signing_secret),
	  "the Slack app's signing secret: POST /api/v1/slack/interactions verifies every "
	  "click's v0 signature with it (unset: that route answers 503)" },
	{ "CB_SLACK_RESPONSE_URL_PREFIX", CONF_STR, 0, "https://hooks.slack.com/actions/", 8, 256,
	  S(slack_response_url_prefix),
	  "a click's response_url must start with this to be called back (the message "
	  "update); anything else is refused 400" },
	{ "CB_RETAIN_INTERVAL_S", CONF_INT, 0, "300", 1, 86400, S(retain_interval_s),
	  "the worker's retention duty starts a purge round this often" },
	{ "CB_RETAIN_BATCH", CONF_INT, 0, "500", 10, 10000, S(retain_batch),
	  "rows one purge statement deletes at most (rows locked by others are skipped)" },
	{ "CB_RETAIN_PAUSE_MS", CONF_INT, 0, "50", 0, 10000, S(retain_pause_ms),
	  "pause between two purge batches, leaving Postgres to the traffic" },
	{ "CB_RETAIN_TIMEOUT_MS", CONF_INT, 0, "2000", 100, 60000, S(retain_timeout_ms),
	  "statement_timeout and lock_timeout of the retention duty's Postgres session: a "
	  "batch that would wait or run longer is given up until the next round" },
	{ "CB_RETAIN_CLASS_BATCH", CONF_INT, 0, "50", 1, 1000, S(retain_class_batch),
	  "rows one batch of the retention by data class handles at most: submissions it "
	  "opens, strips and re-seals, command values it clears, call events it deletes" },
	{ "CB_RETAIN_CLOCK_S", CONF_INT, 0, "0", 0, 315360000, S(retain_clock_s),
	  "tests only: the retention duty acts as if it were this many seconds later (its "
	  "clock moved, the rows left as they are); 0 in production, logged when not" },
	{ "CB_RETAIN_CONTEXTS_S", CONF_INT, 0, "604800", 0, 315360000, S(retain_contexts_s),
	  "a tab context is purged this long after it expired, with its commands and its "
	  "submissions once their deliveries are done or discarded (7 days)" },
	{ "CB_RETAIN_COMMANDS_S", CONF_INT, 0, "86400", 0, 315360000, S(retain_commands_s),
	  "a finished command (applied, failed, timeout, dead, denied) of an expired context is "
	  "purged this long after it finished (1 day)" },
	{ "CB_RETAIN_OUTBOX_S", CONF_INT, 0, "604800", 0, 315360000, S(retain_outbox_s),
	  "an outbox row delivered (done) or discarded is purged this long after; pending, "
	  "running and dead rows are never purged (7 days)" },
	{ "CB_RETAIN_REFRESH_S", CONF_INT, 0, "604800", 0, 315360000, S(retain_refresh_s),
	  "a refresh-token family is purged this long after it expired or was revoked (7 days)" },
	{ "CB_PLAIN_HTTP_CREDENTIALS", CONF_BOOL, 0, "false", 0, 1, S(plain_http_credentials),
	  "let credential routes (auth, admin) answer over plain HTTP; local development "
	  "only: otherwise they answer 403 https-required there" },
	{ "CB_QUOTA_FREE_SUBMITS_PER_MIN", CONF_INT, 0, "60", 1, 100000000,
	  S(quota_free_submits_per_min), "form submits a minute of a tenant on the free plan" },
	{ "CB_QUOTA_FREE_COMMANDS_PER_MIN", CONF_INT, 0, "300", 1, 100000000,
	  S(quota_free_commands_per_min), "agent commands a minute of a tenant on the free plan" },
	{ "CB_QUOTA_TEAM_SUBMITS_PER_MIN", CONF_INT, 0, "600", 1, 100000000,
	  S(quota_team_submits_per_min), "form submits a minute of a tenant on the team plan" },
	{ "CB_QUOTA_TEAM_COMMANDS_PER_MIN", CONF_INT, 0, "3000", 1, 100000000,
	  S(quota_team_commands_per_min), "agent commands a minute of a tenant on the team plan" },
	{ "CB_QUOTA_ENTERPRISE_SUBMITS_PER_MIN", CONF_INT, 0, "6000", 1, 100000000,
	  S(quota_enterprise_submits_per_min),
	  "form submits a minute of a tenant on the enterprise plan" },
	{ "CB_QUOTA_ENTERPRISE_COMMANDS_PER_MIN", CONF_INT, 0, "30000", 1, 100000000,
	  S(quota_enterprise_commands_per_min),
	  "agent commands a minute of a tenant on the enterprise plan" },
	{ "CB_QUOTA_KEY_COMMANDS_PER_MIN", CONF_INT, 0, "600", 1, 100000000,
	  S(quota_key_commands_per_min),
	  "agent commands a minute of one API key whose own commands_per_min is unset" },
	{ "CB_QUOTA_FREE_CALL_EVENTS_PER_MIN", CONF_INT, 0, "120", 1, 100000000,
	  S(quota_free_call_events_per_min),
	  "inbound call events a minute of a tenant on the free plan (429 beyond)" },
	{ "CB_QUOTA_TEAM_CALL_EVENTS_PER_MIN", CONF_INT, 0, "1200", 1, 100000000,
	  S(quota_team_call_events_per_min),
	  "inbound call events a minute of a tenant on the team plan (429 beyond)" },
	{ "CB_QUOTA_ENTERPRISE_CALL_EVENTS_PER_MIN", CONF_INT, 0, "12000", 1, 100000000,
	  S(quota_enterprise_call_events_per_min),
	  "inbound call events a minute of a tenant on the enterprise plan (429 beyond)" },
	{ "CB_CALL_SECRET_OVERLAP_S", CONF_INT, 0, "86400", 0, 2592000, S(call_secret_overlap_s),
	  "after cb-admin call-source-rotate the previous secret of a call source still "
	  "verifies for this long (24 h); then only the new one" },
	{ "CB_POLICY_MAX_CHANGES", CONF_INT, 0, "50", 1, 1000, S(policy_max_changes),
	  "entries one agent policy change may touch at once (list entries added or removed, "
	  "plus each number changed); a larger change is refused 422 naming this setting" },
	{ "CB_POLICY_MAX_LIST", CONF_INT, 0, "200", 1, 256, S(policy_max_list),
	  "entries one list of an agent policy (allowed_types, selectors, approval_types) may "
	  "hold; a longer list is refused 422 naming this setting" },
	{ "CB_METRICS_DIR", CONF_STR, 0, "", 0, 400, S(metrics_dir),
	  "directory of the processes' shared-memory metrics segments (a run directory of the "
	  "service user); the responders and the worker count into it and GET /metrics on the "
	  "operator listener reads every segment in it; empty = no metrics" },
	{ "CB_TRACE", CONF_BOOL, 0, "on", 0, 1, S(trace),
	  "W3C trace context (docs/tracing.md): on = every request's traceparent (the client's, "
	  "else one nginx starts) is logged as trace_id, stored with its outbox rows and "
	  "commands, sent upstream and in command frames; off = none of it (the benchmark's "
	  "comparison); scripts/stack.sh also leaves nginx's part out when off" },
	{ "CB_METRICS_TOKEN", CONF_STR, CONF_SECRET, NULL, 16, 256, S(metrics_token),
	  "bearer token GET /metrics requires (Authorization: Bearer ...); unset = the operator "
	  "listener's loopback bind is the only guard" },
};

const size_t settings_nvars = sizeof(settings_vars) / sizeof(settings_vars[0]);

/* A blind index key file, read once, kept as hex beside the pepper it parallels. */
static int
settings_blind_key(const char *name, const char *path, char hex[65], char *err, size_t errsz)
{
	unsigned char	 key[SEAL_KEYBYTES];
	char		 why[512];
	int		 rc;

	rc = seal_key_file_read(path, "blind index key file", 1, key, why, sizeof(why));
	if (rc != CB_OK) {
		snprintf(err, errsz, "%s: %s", name, why);
		return rc;
	}
	util_hex(hex, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	return CB_OK;
}

int
settings_load(struct settings *s, char *err, size_t errsz)
{
	const char	*why = NULL;
	int		 rc;

	*s = (struct settings){ 0 };
	if ((rc = conf_load(settings_vars, settings_nvars, s, NULL, err, errsz)) != CB_OK)
		return rc;
	if ((rc = settings_blind_key("CB_BLIND_INDEX_KEY_FILE", s->blind_index_key_file,
	    s->blind_index_key, err, errsz)) != CB_OK ||
	    (s->blind_index_key_previous_file != NULL &&
	    (rc = settings_blind_key("CB_BLIND_INDEX_KEY_PREVIOUS_FILE",
	    s->blind_index_key_previous_file, s->blind_index_key_previous, err, errsz)) != CB_OK)) {
		settings_free(s);
		return rc;
	}
	/* The residency settings are tables of their own: checked whole here. */
	if (s->region != NULL && s->region[0] != '\0' && !region_ok(s->region)) {
		snprintf(err, errsz, "CB_REGION: one of %s, or empty", region_list());
		rc = CB_ERR_CONFIG;
	} else if (region_hosts_check(s->region_hosts, &why) != CB_OK) {
		snprintf(err, errsz, "CB_REGION_HOSTS: %s", why);
		rc = CB_ERR_CONFIG;
	}
	if (rc != CB_OK)
		settings_free(s);
	return rc;
}

void
settings_free(struct settings *s)
{
	conf_free(settings_vars, settings_nvars, s);
	sodium_memzero(s->blind_index_key, sizeof(s->blind_index_key));
	sodium_memzero(s->blind_index_key_previous, sizeof(s->blind_index_key_previous));
}
