/*
 * sf: the Salesforce REST client the outbox worker delivers through.
 *
 * It authenticates with the OAuth 2.0 JWT bearer flow (CONTRACTS §3.1): an
 * RS256-signed assertion {iss=client_id, sub=username, aud=audience,
 * exp=now+120 s in seconds} is exchanged at {login_url}/services/oauth2/token
 * for an access token and the instance_url, both cached in memory (and, via
 * sf_set_token_hook and sf_set_token, in any external cache the caller
 * keeps).  Salesforce sends no expires_in, so the token is used until a call
 * answers 401; then it is minted again once and the call retried once.
 *
 * sf_upsert() performs one upsert by external ID (CONTRACTS §3.3) and sorts
 * the outcome into a small set of kinds the worker acts on (see enum
 * sf_kind).  The client never retries on its own apart from that single 401
 * re-authentication: backoff and give-up are the worker's job.
 *
 * Guarantees: the private key is loaded and checked (RSA, at least 2048 bits)
 * by sf_client_new() so a misconfiguration fails at start; the access token,
 * the assertion and the key are never logged and are wiped when dropped;
 * every response body read is capped (SF_RESPONSE_MAX); redirects are never
 * followed; only http and https are spoken, and plain http only to a loopback
 * login host (the fake).
 *
 * Every request goes through lib/httpc (so its egress guard applies too):
 * the caller's struct httpc when sf_conf.http is set, else one the client
 * makes for itself.  The client calls httpc_do, which runs no other
 * transfer's callback and may itself be called from one.
 *
 * One client belongs to one thread (the thread of its httpc).
 */
#ifndef CB_SF_H
#define CB_SF_H

#include <stddef.h>

struct httpc;

#define SF_DEFAULT_AUDIENCE	"https://login.salesforce.com"
#define SF_DEFAULT_CONNECT_MS	5000L
#define SF_DEFAULT_TIMEOUT_MS	30000L
/* Longest response body read from Salesforce; past it the call is SF_RETRY. */
#define SF_RESPONSE_MAX		(1024u * 1024u)
/* Largest JSON field map accepted by sf_upsert(). */
#define SF_BODY_MAX		(1024u * 1024u)
/* Salesforce text external IDs hold at most 255 characters. */
#define SF_EXT_VALUE_MAX	255u

struct sf_conf {
	const char	*login_url;	/* token endpoint base: https://login.salesforce.com, http://127.0.0.1:8095 */
	const char	*audience;	/* JWT aud; NULL or "" means SF_DEFAULT_AUDIENCE */
	const char	*client_id;	/* connected app consumer key (JWT iss) */
	const char	*username;	/* integration user (JWT sub) */
	const char	*private_key_file; /* PEM RSA key, unencrypted, >= 2048 bits */
	const char	*private_key_pem; /* or the PEM text itself (a tenant's key, opened
					     from its seal): used when private_key_file is NULL;
					     the client keeps only the parsed key */
	const char	*api_version;	/* "v60.0" */
	long		 connect_timeout_ms; /* <= 0: SF_DEFAULT_CONNECT_MS */
	long		 timeout_ms;	/* whole request; <= 0: SF_DEFAULT_TIMEOUT_MS */
	/*
	 * The HTTP layer to send through; it must outlive the client, which
	 * never frees it.  Its private allowlist decides which loopback or
	 * internal host:port (a fake) may be reached.  NULL: the client makes
	 * its own httpc, whose private allowlist is the login URL's host:port
	 * when that host is loopback (127.0.0.1, localhost, [::1]), plus the
	 * instance_url's host:port when that is loopback too; otherwise empty.
	 */
	struct httpc	*http;
};

enum sf_kind {
	SF_NONE = 0,	/* no outcome yet (never returned by a finished call) */
	SF_CREATED,	/* 201: record created; id set */
	SF_UPDATED,	/* 200 or 204: existing record updated; id set when sent */
	SF_RETRY,	/* transient: 5xx, 403 REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW,
			   408/429, refused/reset/dropped connection, timeout, 401 twice */
	SF_PERMANENT,	/* the request itself is wrong: other 4xx, 300, bad arguments */
	SF_CONFIG,	/* the setup is wrong: invalid_grant or another OAuth error,
			   TLS verification failure, a URL httpc refuses (malformed,
			   or an internal address off the private allowlist);
			   alert, do not retry blindly */
	SF_FOUND	/* a query answered (lib/sf_query.h): id is the one
			   match, "" when there was none */
};

struct sf_result {
	int	 kind;		/* enum sf_kind */
	int	 http_status;	/* 0 when no HTTP answer (transport error, local check) */
	char	 id[32];	/* record id on SF_CREATED / SF_UPDATED */
	char	 error_code[64];/* Salesforce errorCode, OAuth error, or a local
				   code: CB_BAD_ARGUMENT, CB_TRANSPORT, CB_TIMEOUT,
				   CB_RESPONSE_TOO_LARGE, CB_BAD_RESPONSE, CB_TLS,
				   CB_BAD_URL, CB_EGRESS (SF_CONFIG: refused by
				   httpc's egress guard), CB_CRYPTO */
	char	 message[256];	/* Salesforce message or error_description
				   (may echo record data: do not log it) */
	long	 retry_after_s;	/* Retry-After (seconds or HTTP-date) if the
				   answer had one, else 0 */
};

struct sf_client;

/*
 * Check the configuration and load the key.  NULL on failure with a reason
 * in err (never containing key material).  Without conf->http it makes an
 * httpc, which initialises libcurl globally (reference counted), so call it
 * before starting other threads.
 */
struct sf_client *sf_client_new(const struct sf_conf *, char *err, size_t errsz);
void		 sf_client_free(struct sf_client *);

/*
 * Make sure a token is cached, minting one if needed.  Returns CB_OK (out
 * left zeroed, kind SF_NONE), or the error code matching out->kind (see
 * sf_upsert).  Lets the worker fail fast at start when the connected app is
 * misconfigured.
 *
 * After an OAuth error (SF_CONFIG) the client answers that same result from
 * memory for 30 s instead of asking again, so a worker looping over jobs
 * cannot hammer the login endpoint; sf_invalidate_token() ends the pause.
 */
int		 sf_authenticate(struct sf_client *, struct sf_result *out);

/*
 * PATCH {instance_url}/services/data/{api_version}/sobjects/{sobject}/
 * {ext_field}/{urlencoded ext_value} with json_fields (one JSON object that
 * contains neither Id nor ext_field).  sobject and ext_field must be API
 * names (^[A-Za-z][A-Za-z0-9_]{0,79}$).
 *
 * out is always filled.  Returns CB_OK for SF_CREATED/SF_UPDATED, else:
 * SF_RETRY -> CB_ERR_UNAVAILABLE (CB_ERR_TIMEOUT for a timeout),
 * SF_PERMANENT -> CB_ERR_UPSTREAM (CB_ERR_VALIDATION for a local argument
 * check), SF_CONFIG -> CB_ERR_CONFIG.
 */
int		 sf_upsert(struct sf_client *, const char *sobject,
		    const char *ext_field, const char *ext_value,
		    const char *json_fields, struct sf_result *out);

/*
 * For a call the caller makes itself (the delivery engine's Collections
 * upserts go over lib/httpc): "Authorization: Bearer <token>" into header
 * (a secret: buf_wipe it) and "{instance_url}/services/data/{version}" into
 * base, minting a token first if none is cached.  Errors as sf_authenticate.
 */
struct buf;
int		 sf_bearer(struct sf_client *, struct buf *header, struct buf *base,
		    struct sf_result *out);

/* Drop (and wipe) the cached token and any remembered OAuth failure. */
void		 sf_invalidate_token(struct sf_client *);

/*
 * An external token cache (the worker keeps the token sealed in Postgres,
 * so a restart does not mint again).
 *
 * sf_set_token() seeds the in-memory cache with a token minted earlier.  The
 * token and instance_url are held to the same rules as a token answer (a
 * header-safe token; an http(s) base URL, plain http only when the login
 * URL is plain too); CB_ERR_VALIDATION otherwise, and the cache is left as
 * it was.  A stale token is handled as always: 401, mint once, retry once.
 *
 * sf_set_token_hook() installs a callback run after every successful mint,
 * with the new token and instance_url.  The strings belong to the client
 * and live only for the call: copy what you keep and wipe the copy; never
 * log the token.  NULL removes the hook.
 */
typedef void	(*sf_token_hook)(const char *token, const char *instance_url, void *ud);

int		 sf_set_token(struct sf_client *, const char *token,
		    const char *instance_url)
		    __attribute__((warn_unused_result));
void		 sf_set_token_hook(struct sf_client *, sf_token_hook, void *ud);

/* "created", "updated", "retry", "permanent", "config", "found", "none". */
const char	*sf_kind_name(int kind);

/*
 * Check a PEM private key given as text (unencrypted RSA, >= 2048 bits)
 * and put the SHA-256 of its public half (SubjectPublicKeyInfo DER, what
 * the connected app's certificate holds) in sha_hex.  CB_ERR_VALIDATION
 * with a reason in err that never holds key material.
 */
int		 sf_key_pem_check(const char *pem, size_t len, char sha_hex[65],
		    char *err, size_t errsz);

/*
 * An external id's value as one URL path segment: every byte but the
 * unreserved ones (RFC 3986) percent-encoded, appended to b.
 */
struct buf;
int		 sf_escape(struct buf *b, const char *s);

/* 1 if s is a Salesforce API name: ^[A-Za-z][A-Za-z0-9_]{0,79}$ */
int		 sf_api_name_ok(const char *s);

#endif
