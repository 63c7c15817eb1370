/*
 * sf: see sf.h.  The Salesforce client: JWT bearer token minting (RS256 with
 * libcrypto, the only thing libcrypto is used for), the upsert call and the
 * classification of every outcome into one enum sf_kind.
 *
 * Secrets handled here: the RSA key (kept in an EVP_PKEY), the assertion
 * (valid for two minutes, so treated like a password), the access token and
 * the Authorization header built from it.  Each lives in memory that is
 * wiped before it is freed, and none is ever passed to the logger.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "sf.h"
#include "util.h"

/*
 * CONTRACTS §3.1 allows at most 180 s.  We stay well below so that our clock
 * running up to a minute ahead of Salesforce's still yields an accepted exp.
 */
#define SF_JWT_LIFETIME_S	120
#define SF_GRANT_TYPE		"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SF_TOKEN_PATH		"/services/oauth2/token"
/* Real tokens are ~112 characters; anything far longer is not a token. */
#define SF_TOKEN_MAX		2048u
#define SF_URL_MAX		512u
#define SF_CONF_STR_MAX		512u
#define SF_KEY_FILE_MAX		(64L * 1024L)
#define SF_TIMEOUT_CAP_MS	600000L	/* Salesforce's own call limit: 10 min */
/*
 * After an OAuth error we answer SF_CONFIG from memory for this long instead
 * of asking again: a worker looping over many jobs must not hammer the login
 * endpoint, which locks users out after repeated failures.
 */
#define SF_OAUTH_HOLDDOWN_MS	30000.0

struct sf_client {
	char		*login_url;	/* no trailing slash */
	char		*audience;
	char		*client_id;
	char		*username;
	char		*api_version;
	long		 connect_timeout_ms;
	long		 timeout_ms;
	int		 login_plain;	/* login_url is plain http (loopback only) */
	EVP_PKEY	*pkey;
	CURL		*curl;
	char		*token;		/* secret; wiped when dropped */
	char		*instance_url;	/* no trailing slash */
	int		 oauth_failed;
	double		 oauth_failed_at;
	struct sf_result oauth_failure;
	sf_token_hook	 on_token;	/* after a mint: the external cache */
	void		*on_token_ud;
};

/* What one HTTP exchange brought back. */
struct sf_http {
	struct buf	 body;
	long		 status;
	CURLcode	 cc;
	int		 too_large;
	long		 retry_after_s;
	char		 limit_info[128];
	char		 errbuf[CURL_ERROR_SIZE];
};

const char *
sf_kind_name(int kind)
{
	switch (kind) {
	case SF_CREATED:	return "created";
	case SF_UPDATED:	return "updated";
	case SF_RETRY:		return "retry";
	case SF_PERMANENT:	return "permanent";
	case SF_CONFIG:		return "config";
	default:		return "none";
	}
}

static int
sf_is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
sf_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

int
sf_api_name_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || !sf_is_alpha((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= 80)
			return 0;
		if (!sf_is_alpha((unsigned char)s[i]) &&
		    !sf_is_digit((unsigned char)s[i]) && s[i] != '_')
			return 0;
	}
	return 1;
}

/*
 * Copy text for a result field, cutting only between UTF-8 sequences so a
 * truncated message is still valid text for the database and the logs.
 */
static void
sf_copy_text(char *out, size_t outsz, const char *in)
{
	size_t	 n = strlen(in), k;

	if (n < outsz) {
		memcpy(out, in, n + 1);
		return;
	}
	k = outsz - 1;
	while (k > 0 && ((unsigned char)in[k] & 0xc0) == 0x80)
		k--;
	memcpy(out, in, k);
	out[k] = '\0';
}

/* An error code is an identifier: keep [A-Za-z0-9_] so it is safe anywhere. */
static void
sf_copy_code(char *out, size_t outsz, const char *in)
{
	size_t	 i, j = 0;

	for (i = 0; in[i] != '\0' && j + 1 < outsz; i++)
		if (sf_is_alpha((unsigned char)in[i]) ||
		    sf_is_digit((unsigned char)in[i]) || in[i] == '_')
			out[j++] = in[i];
	out[j] = '\0';
}

static void
sf_set(struct sf_result *r, int kind, int status, const char *code,
    const char *msg)
{
	r->kind = kind;
	r->http_status = status;
	sf_copy_code(r->error_code, sizeof(r->error_code), code ? code : "");
	sf_copy_text(r->message, sizeof(r->message), msg ? msg : "");
}

/* The cb_err code that goes with a finished result (see sf.h). */
static int
sf_rc(const struct sf_result *r)
{
	switch (r->kind) {
	case SF_CREATED:
	case SF_UPDATED:
		return CB_OK;
	case SF_RETRY:
		return strcmp(r->error_code, "CB_TIMEOUT") == 0 ?
		    CB_ERR_TIMEOUT : CB_ERR_UNAVAILABLE;
	case SF_PERMANENT:
		return strcmp(r->error_code, "CB_BAD_ARGUMENT") == 0 ?
		    CB_ERR_VALIDATION : CB_ERR_UPSTREAM;
	case SF_CONFIG:
		return CB_ERR_CONFIG;
	default:
		return CB_ERR_INTERNAL;
	}
}

/*
 * A base URL we are willing to send a credential to: http(s)://host[:port]
 * with an optional plain path, no userinfo, query, fragment or odd bytes.
 * Writes the copy without a trailing slash.  *plain and *loopback describe it.
 */
static int
sf_base_url(const char *u, char **out, int *plain, int *loopback)
{
	const char	*host, *p;
	size_t		 n, hostlen;

	*out = NULL;
	if (u == NULL || (n = strlen(u)) == 0 || n > SF_URL_MAX)
		return CB_ERR_CONFIG;
	if (strncmp(u, "https://", 8) == 0) {
		*plain = 0;
		host = u + 8;
	} else if (strncmp(u, "http://", 7) == 0) {
		*plain = 1;
		host = u + 7;
	} else
		return CB_ERR_CONFIG;
	for (p = host; *p != '\0' && *p != '/'; p++)
		if (!sf_is_alpha((unsigned char)*p) && !sf_is_digit((unsigned char)*p) &&
		    *p != '.' && *p != '-' && *p != ':' && *p != '[' && *p != ']')
			return CB_ERR_CONFIG;
	hostlen = (size_t)(p - host);
	if (hostlen == 0)
		return CB_ERR_CONFIG;
	for (; *p != '\0'; p++)
		if (!sf_is_alpha((unsigned char)*p) && !sf_is_digit((unsigned char)*p) &&
		    *p != '.' && *p != '-' && *p != '_' && *p != '~' && *p != '/')
			return CB_ERR_CONFIG;
	*loopback =
	    (hostlen >= 9 && strncmp(host, "127.0.0.1", 9) == 0 &&
	     (hostlen == 9 || host[9] == ':')) ||
	    (hostlen >= 9 && strncmp(host, "localhost", 9) == 0 &&
	     (hostlen == 9 || host[9] == ':')) ||
	    (hostlen >= 5 && strncmp(host, "[::1]", 5) == 0 &&
	     (hostlen == 5 || host[5] == ':'));
	while (n > 0 && u[n - 1] == '/')
		n--;
	*out = util_strndup(u, n);
	return CB_OK;
}

/* A configuration string: present, bounded, no control characters. */
static int
sf_conf_str(const char *s, const char *what, char *err, size_t errsz)
{
	size_t	 i;

	if (s == NULL || s[0] == '\0') {
		snprintf(err, errsz, "salesforce: %s is not set", what);
		return CB_ERR_CONFIG;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SF_CONF_STR_MAX || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f) {
			snprintf(err, errsz, "salesforce: %s is too long or has "
			    "control characters", what);
			return CB_ERR_CONFIG;
		}
	return CB_OK;
}

/* "vNN.N" (two or three digits), the form every REST path uses. */
static int
sf_api_version_ok(const char *v)
{
	size_t	 i = 1, d = 0;

	if (v == NULL || v[0] != 'v')
		return 0;
	while (sf_is_digit((unsigned char)v[i])) {
		i++;
		d++;
	}
	if (d < 2 || d > 3 || v[i] != '.' || !sf_is_digit((unsigned char)v[i + 1]))
		return 0;
	return v[i + 2] == '\0';
}

/*
 * OpenSSL would prompt on the terminal for an encrypted key; a daemon must
 * fail instead, so the callback refuses to supply a passphrase.
 */
static int
sf_no_passphrase(char *pw, int size, int rwflag, void *u)
{
	(void)pw;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
sf_ossl_reason(char *out, size_t outsz)
{
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		util_strlcpy(out, "no detail", outsz);
	else
		ERR_error_string_n(e, out, outsz);
	ERR_clear_error();
}

static int
sf_load_key(const char *path, EVP_PKEY **out, char *err, size_t errsz)
{
	struct stat	 st;
	FILE		*fp = NULL;
	EVP_PKEY	*pk = NULL;
	char		 why[160];
	int		 rc = CB_ERR_CONFIG, bits;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "salesforce: cannot open private key %s: %s",
		    path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > SF_KEY_FILE_MAX) {
		snprintf(err, errsz, "salesforce: private key %s is not a regular "
		    "file of at most %ld bytes", path, SF_KEY_FILE_MAX);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_kv(LOG_LVL_WARN, "sf_key_permissions", "path", path,
		    "hint", "the private key should be readable by its owner only",
		    NULL);
	pk = PEM_read_PrivateKey(fp, NULL, sf_no_passphrase, NULL);
	if (pk == NULL) {
		sf_ossl_reason(why, sizeof(why));
		snprintf(err, errsz, "salesforce: %s holds no unencrypted PEM "
		    "private key (%s)", path, why);
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		snprintf(err, errsz, "salesforce: %s is not an RSA key; the JWT "
		    "bearer flow accepts RS256 only", path);
		goto out;
	}
	if ((bits = EVP_PKEY_get_bits(pk)) < 2048) {
		snprintf(err, errsz, "salesforce: %s is a %d-bit RSA key; at least "
		    "2048 bits are required", path, bits);
		goto out;
	}
	*out = pk;
	pk = NULL;
	rc = CB_OK;
out:
	EVP_PKEY_free(pk);
	if (fp != NULL)
		fclose(fp);
	return rc;
}

struct sf_client *
sf_client_new(const struct sf_conf *conf, char *err, size_t errsz)
{
	struct sf_client	*c = NULL;
	int			 plain = 0, loop = 0, ok = 0;
	const char		*aud;
	char			*tmp = NULL;

	if (errsz > 0)
		err[0] = '\0';
	if (conf == NULL) {
		snprintf(err, errsz, "salesforce: no configuration");
		return NULL;
	}
	if (sodium_init() < 0) {
		snprintf(err, errsz, "salesforce: libsodium failed to initialise");
		return NULL;
	}
	c = util_calloc(1, sizeof(*c));
	if (sf_conf_str(conf->login_url, "login_url", err, errsz) ||
	    sf_conf_str(conf->client_id, "client_id", err, errsz) ||
	    sf_conf_str(conf->username, "username", err, errsz) ||
	    sf_conf_str(conf->private_key_file, "private_key_file", err, errsz) ||
	    sf_conf_str(conf->api_version, "api_version", err, errsz))
		goto out;
	if (sf_base_url(conf->login_url, &c->login_url, &plain, &loop) != CB_OK) {
		snprintf(err, errsz, "salesforce: login_url must be http(s)://host"
		    "[:port][/path] with nothing else");
		goto out;
	}
	/* The assertion is a credential: plain http only to a local fake. */
	if (plain && !loop) {
		snprintf(err, errsz, "salesforce: login_url must use https "
		    "(plain http is allowed for loopback test servers only)");
		goto out;
	}
	c->login_plain = plain;
	aud = conf->audience && conf->audience[0] ? conf->audience :
	    SF_DEFAULT_AUDIENCE;
	if (sf_base_url(aud, &tmp, &plain, &loop) != CB_OK) {
		snprintf(err, errsz, "salesforce: audience must be a URL such as "
		    "%s", SF_DEFAULT_AUDIENCE);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (!sf_api_version_ok(conf->api_version)) {
		snprintf(err, errsz, "salesforce: api_version must look like "
		    "\"v60.0\"");
		goto out;
	}
	c->audience = util_strdup(aud);
	c->client_id = util_strdup(conf->client_id);
	c->username = util_strdup(conf->username);
	c->api_version = util_strdup(conf->api_version);
	c->connect_timeout_ms = conf->connect_timeout_ms > 0 ?
	    conf->connect_timeout_ms : SF_DEFAULT_CONNECT_MS;
	c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms :
	    SF_DEFAULT_TIMEOUT_MS;
	if (c->connect_timeout_ms > SF_TIMEOUT_CAP_MS)
		c->connect_timeout_ms = SF_TIMEOUT_CAP_MS;
	if (c->timeout_ms > SF_TIMEOUT_CAP_MS)
		c->timeout_ms = SF_TIMEOUT_CAP_MS;
	if (sf_load_key(conf->private_key_file, &c->pkey, err, errsz) != CB_OK)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errsz, "salesforce: libcurl failed to initialise");
		goto out;
	}
	if ((c->curl = curl_easy_init()) == NULL) {
		curl_global_cleanup();
		snprintf(err, errsz, "salesforce: libcurl handle allocation failed");
		goto out;
	}
	ok = 1;
out:
	free(tmp);
	if (!ok) {
		sf_client_free(c);
		return NULL;
	}
	return c;
}

static void
sf_drop_token(struct sf_client *c)
{
	if (c->token != NULL) {
		sodium_memzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
	free(c->instance_url);
	c->instance_url = NULL;
}

void
sf_invalidate_token(struct sf_client *c)
{
	if (c == NULL)
		return;
	sf_drop_token(c);
	c->oauth_failed = 0;
}

void
sf_client_free(struct sf_client *c)
{
	if (c == NULL)
		return;
	sf_drop_token(c);
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	EVP_PKEY_free(c->pkey);
	free(c->login_url);
	free(c->audience);
	free(c->client_id);
	free(c->username);
	free(c->api_version);
	free(c);
}

/* ---- HTTP ------------------------------------------------------------ */

static size_t
sf_write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct sf_http	*h = ud;

	/* libcurl passes sz == 1; returning short aborts with a write error. */
	if (buf_append(&h->body, p, sz * n) != CB_OK) {
		h->too_large = 1;
		return 0;
	}
	return sz * n;
}

/* The value of header line p (len bytes) if its name is `name`, trimmed. */
static int
sf_header_value(const char *p, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t	 nl = strlen(name), i, j = 0;

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return 0;
	for (i = nl + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (; i < len && p[i] != '\r' && p[i] != '\n' && j + 1 < outsz; i++)
		/* Only printable ASCII reaches our logs. */
		out[j++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == '\t'))
		j--;
	out[j] = '\0';
	return 1;
}

static size_t
sf_header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct sf_http	*h = ud;
	size_t		 len = sz * n;
	char		 v[32];
	long long	 secs;

	/* A new status line (after a 100 Continue, say) starts a new answer. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		h->limit_info[0] = '\0';
		h->retry_after_s = 0;
		return len;
	}
	if (sf_header_value(p, len, "Sforce-Limit-Info", h->limit_info,
	    sizeof(h->limit_info)))
		return len;
	/* Salesforce sends none today; honour delay-seconds if it ever does. */
	if (sf_header_value(p, len, "Retry-After", v, sizeof(v)) &&
	    util_parse_ll(v, 0, 86400, &secs) == CB_OK)
		h->retry_after_s = (long)secs;
	return len;
}

/* Headers we put secrets in: wipe the copies libcurl made, then free. */
static void
sf_slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist	*i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static struct curl_slist *
sf_slist_add(struct curl_slist *l, const char *h)
{
	struct curl_slist	*n = curl_slist_append(l, h);

	if (n == NULL)
		util_oom();
	return n;
}

static void
sf_http_init(struct sf_http *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->body, SF_RESPONSE_MAX);
}

/*
 * One request on the client's handle.  The handle is reset first so no
 * option leaks from the previous call, but its connection cache survives,
 * which keeps TLS sessions to the instance alive between upserts.
 */
static void
sf_http_do(struct sf_client *c, const char *method, const char *url,
    struct curl_slist *hdrs, const char *body, size_t bodylen,
    struct sf_http *h)
{
	CURL	*e = c->curl;

	curl_easy_reset(e);
	h->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	h->cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	h->cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (h->cc != CURLE_OK)
		return;
	/* Never follow a redirect: it would carry the token elsewhere. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "context-broker-sf/1");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sf_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, sf_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)SF_RESPONSE_MAX);
	if (strcmp(method, "GET") != 0) {
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)bodylen);
	}
	h->cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);
	/* The list is freed by the caller: leave no pointer to it behind. */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
	if (h->limit_info[0] != '\0')
		log_kv(LOG_LVL_DEBUG, "sf_limit_info", "value", h->limit_info,
		    NULL);
}

/* No usable HTTP answer: decide from libcurl's code.  Returns 1 if so. */
static int
sf_transport_failed(const struct sf_client *c, const struct sf_http *h,
    struct sf_result *r)
{
	char	 msg[160];

	if (h->too_large || h->cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(msg, sizeof(msg), "response body over %u bytes",
		    SF_RESPONSE_MAX);
		sf_set(r, SF_RETRY, (int)h->status, "CB_RESPONSE_TOO_LARGE", msg);
		return 1;
	}
	if (h->cc == CURLE_OK)
		return 0;
	switch (h->cc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, sizeof(msg), "no complete answer within %ld ms",
		    c->timeout_ms);
		sf_set(r, SF_RETRY, 0, "CB_TIMEOUT", msg);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		/* A certificate we refuse will not fix itself: tell an operator. */
		sf_set(r, SF_CONFIG, 0, "CB_TLS", h->errbuf[0] ? h->errbuf :
		    curl_easy_strerror(h->cc));
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		/* Includes a libcurl that cannot restrict protocols: refuse. */
		sf_set(r, SF_CONFIG, 0, "CB_BAD_URL", h->errbuf[0] ? h->errbuf :
		    curl_easy_strerror(h->cc));
		break;
	default:
		/* Refused, reset, dropped, DNS: the next attempt may succeed. */
		sf_set(r, SF_RETRY, 0, "CB_TRANSPORT", h->errbuf[0] ? h->errbuf :
		    curl_easy_strerror(h->cc));
		break;
	}
	return 1;
}

/* ---- the JWT bearer assertion ---------------------------------------- */

static int
sf_b64url_append(struct buf *b, const unsigned char *in, size_t n)
{
	size_t	 need = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char	*tmp = util_malloc(need);
	int	 rc;

	sodium_bin2base64(tmp, need, in, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	rc = buf_puts(b, tmp);
	sodium_memzero(tmp, need);
	free(tmp);
	return rc;
}

/* b64url({"alg":"RS256"}) . b64url(claims) . b64url(RS256 signature) */
static int
sf_jwt(struct sf_client *c, struct buf *jwt)
{
	static const char	 header[] = "{\"alg\":\"RS256\"}";
	struct buf		 claims;
	EVP_MD_CTX		*md = NULL;
	unsigned char		*sig = NULL;
	size_t			 siglen = 0;
	int			 rc;

	buf_init(&claims, 4 * SF_CONF_STR_MAX);
	/* exp is whole seconds since the epoch: never milliseconds. */
	if ((rc = buf_puts(&claims, "{\"iss\":")) ||
	    (rc = buf_json_str(&claims, c->client_id)) ||
	    (rc = buf_puts(&claims, ",\"sub\":")) ||
	    (rc = buf_json_str(&claims, c->username)) ||
	    (rc = buf_puts(&claims, ",\"aud\":")) ||
	    (rc = buf_json_str(&claims, c->audience)) ||
	    (rc = buf_printf(&claims, ",\"exp\":%lld}",
	    (long long)(util_now_s() + SF_JWT_LIFETIME_S))))
		goto out;
	if ((rc = sf_b64url_append(jwt, (const unsigned char *)header,
	    sizeof(header) - 1)) ||
	    (rc = buf_putc(jwt, '.')) ||
	    (rc = sf_b64url_append(jwt, (const unsigned char *)claims.data,
	    claims.len)))
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL)
		util_oom();
	/* RSA keys default to PKCS#1 v1.5 padding: exactly RS256. */
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)jwt->data,
	    jwt->len) != 1) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	sig = util_malloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)jwt->data,
	    jwt->len) != 1) {
		rc = CB_ERR_CRYPTO;
		goto out;
	}
	if ((rc = buf_putc(jwt, '.')) ||
	    (rc = sf_b64url_append(jwt, sig, siglen)))
		goto out;
out:
	if (rc == CB_ERR_CRYPTO)
		ERR_clear_error();
	free(sig);
	EVP_MD_CTX_free(md);
	buf_free(&claims);
	return rc;
}

/* The token must be safe to put in a header line: visible ASCII only. */
static int
sf_token_ok(const char *t)
{
	size_t	 i;

	for (i = 0; t[i] != '\0'; i++)
		if (i >= SF_TOKEN_MAX || t[i] < 0x21 || t[i] > 0x7e)
			return 0;
	return i > 0;
}

/* Take access_token and instance_url from a 200 token answer. */
static int
sf_take_token(struct sf_client *c, const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*at, *iu, *tt;
	struct jv_error	 je;
	char		*inst = NULL;
	int		 plain = 0, loop = 0, rc = CB_ERR_UPSTREAM;

	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token endpoint answered 200 without a JSON object");
		goto out;
	}
	/*
	 * Salesforce adds members over time (api_instance_url, ...): read the
	 * ones we use strictly and ignore the rest.
	 */
	at = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	iu = cJSON_GetObjectItemCaseSensitive(doc, "instance_url");
	tt = cJSON_GetObjectItemCaseSensitive(doc, "token_type");
	if (!cJSON_IsString(at) || !sf_token_ok(at->valuestring)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has no usable access_token");
		goto out;
	}
	if (tt != NULL && (!cJSON_IsString(tt) ||
	    strcasecmp(tt->valuestring, "Bearer") != 0)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has a token_type other than Bearer");
		goto out;
	}
	/* The token goes wherever instance_url points: hold it to our rules. */
	if (!cJSON_IsString(iu) ||
	    sf_base_url(iu->valuestring, &inst, &plain, &loop) != CB_OK ||
	    (plain && !c->login_plain)) {
		sf_set(r, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "token answer has no usable instance_url");
		goto out;
	}
	sf_drop_token(c);
	c->token = util_strdup(at->valuestring);
	c->instance_url = inst;
	inst = NULL;
	rc = CB_OK;
out:
	free(inst);
	if (doc != NULL) {
		/* The tree holds the token in cJSON's own allocation. */
		if (cJSON_IsObject(doc) && (at = cJSON_GetObjectItemCaseSensitive(doc,
		    "access_token")) != NULL && cJSON_IsString(at))
			sodium_memzero(at->valuestring, strlen(at->valuestring));
		cJSON_Delete(doc);
	}
	return rc;
}

int
sf_set_token(struct sf_client *c, const char *token, const char *instance_url)
{
	char	*inst = NULL;
	int	 plain = 0, loop = 0;

	if (c == NULL || token == NULL || !sf_token_ok(token) ||
	    sf_base_url(instance_url, &inst, &plain, &loop) != CB_OK)
		return CB_ERR_VALIDATION;
	/* The same rule as for a token answer: plain http only to a fake. */
	if (plain && !c->login_plain) {
		free(inst);
		return CB_ERR_VALIDATION;
	}
	sf_drop_token(c);
	c->token = util_strdup(token);
	c->instance_url = inst;
	return CB_OK;
}

void
sf_set_token_hook(struct sf_client *c, sf_token_hook fn, void *ud)
{
	if (c == NULL)
		return;
	c->on_token = fn;
	c->on_token_ud = ud;
}

/* An OAuth error answer: {"error":"…","error_description":"…"}. */
static void
sf_oauth_error(const struct sf_http *h, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*e, *d;
	struct jv_error	 je;
	char		 msg[64];
	int		 status = (int)h->status;
	int		 kind;

	/* 5xx, 408 and 429 are the login service struggling, not our setup. */
	kind = (status >= 500 || status == 408 || status == 429) ?
	    SF_RETRY : SF_CONFIG;
	snprintf(msg, sizeof(msg), "token endpoint answered HTTP %d", status);
	sf_set(r, kind, status, "", msg);
	if (h->body.len == 0 ||
	    jv_parse(h->body.data, h->body.len, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc))
		goto out;
	e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	d = cJSON_GetObjectItemCaseSensitive(doc, "error_description");
	if (cJSON_IsString(e))
		sf_copy_code(r->error_code, sizeof(r->error_code), e->valuestring);
	if (cJSON_IsString(d))
		sf_copy_text(r->message, sizeof(r->message), d->valuestring);
out:
	cJSON_Delete(doc);
}

/* Mint a token into the cache.  CB_OK, or r filled and its rc returned. */
static int
sf_mint(struct sf_client *c, struct sf_result *r)
{
	struct buf		 jwt, form, url;
	struct curl_slist	*hdrs = NULL;
	struct sf_http		 h;
	double			 t0 = util_now_ms();
	char			 ms[32], st[16];
	int			 rc;

	buf_init(&jwt, 16384);
	buf_init(&form, 16384);
	buf_init(&url, SF_URL_MAX + 64);
	sf_http_init(&h);
	if (c->oauth_failed &&
	    t0 - c->oauth_failed_at < SF_OAUTH_HOLDDOWN_MS) {
		*r = c->oauth_failure;
		rc = sf_rc(r);
		goto out;
	}
	c->oauth_failed = 0;
	if ((rc = sf_jwt(c, &jwt)) != CB_OK) {
		sf_set(r, SF_CONFIG, 0, "CB_CRYPTO",
		    "signing the JWT assertion failed");
		rc = sf_rc(r);
		goto out;
	}
	/*
	 * The assertion is base64url and dots only, all unreserved in a form
	 * body, so it needs no escaping; the grant type is sent as CONTRACTS
	 * §3.1 spells it.
	 */
	if ((rc = buf_puts(&form, "grant_type=" SF_GRANT_TYPE "&assertion=")) ||
	    (rc = buf_append(&form, jwt.data, jwt.len)) ||
	    (rc = buf_printf(&url, "%s%s", c->login_url, SF_TOKEN_PATH))) {
		sf_set(r, SF_CONFIG, 0, "CB_BAD_ARGUMENT",
		    "token request does not fit its buffer");
		rc = sf_rc(r);
		goto out;
	}
	hdrs = sf_slist_add(hdrs,
	    "Content-Type: application/x-www-form-urlencoded");
	hdrs = sf_slist_add(hdrs, "Accept: application/json");
	hdrs = sf_slist_add(hdrs, "Expect:");
	sf_http_do(c, "POST", url.data, hdrs, form.data, form.len, &h);
	if (sf_transport_failed(c, &h, r)) {
		rc = sf_rc(r);
	} else if (h.status == 200) {
		rc = sf_take_token(c, &h.body, r);
		if (rc != CB_OK)
			rc = sf_rc(r);
	} else {
		sf_oauth_error(&h, r);
		rc = sf_rc(r);
	}
	snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
	snprintf(st, sizeof(st), "%ld", h.status);
	if (rc == CB_OK) {
		log_kv(LOG_LVL_INFO, "sf_token", "status", st, "ms", ms, NULL);
		if (c->on_token != NULL)
			c->on_token(c->token, c->instance_url, c->on_token_ud);
	} else {
		log_kv(r->kind == SF_CONFIG ? LOG_LVL_ERROR : LOG_LVL_WARN,
		    "sf_token_failed", "status", st, "kind", sf_kind_name(r->kind),
		    "error", r->error_code, "description", r->message, "ms", ms,
		    NULL);
		if (r->kind == SF_CONFIG) {
			c->oauth_failed = 1;
			c->oauth_failed_at = util_now_ms();
			c->oauth_failure = *r;
		}
	}
out:
	sf_slist_wipe_free(hdrs);
	buf_wipe(&h.body);
	buf_wipe(&form);
	buf_wipe(&jwt);
	buf_free(&url);
	return rc;
}

int
sf_authenticate(struct sf_client *c, struct sf_result *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "no client");
		return sf_rc(out);
	}
	if (c->token != NULL)
		return CB_OK;
	return sf_mint(c, out);
}

/* ---- upsert ---------------------------------------------------------- */

/* A record id is 15 or 18 alphanumerics. */
static void
sf_take_id(const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*id;
	struct jv_error	 je;
	size_t		 i, n;

	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK)
		return;
	id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (!cJSON_IsString(id))
		goto out;
	n = strlen(id->valuestring);
	if (n != 15 && n != 18)
		goto out;
	for (i = 0; i < n; i++)
		if (!sf_is_alpha((unsigned char)id->valuestring[i]) &&
		    !sf_is_digit((unsigned char)id->valuestring[i]))
			goto out;
	memcpy(r->id, id->valuestring, n + 1);
out:
	cJSON_Delete(doc);
}

/* The first entry of [{"message","errorCode","fields"}] into r. */
static void
sf_take_errors(const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*first, *code, *msg, *fields, *f;
	struct jv_error	 je;
	struct buf	 m;
	int		 nf = 0;

	buf_init(&m, sizeof(r->message) * 2);
	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK)
		goto out;
	first = cJSON_IsArray(doc) ? cJSON_GetArrayItem(doc, 0) : doc;
	if (!cJSON_IsObject(first))
		goto out;
	code = cJSON_GetObjectItemCaseSensitive(first, "errorCode");
	if (!cJSON_IsString(code))	/* the collections spelling */
		code = cJSON_GetObjectItemCaseSensitive(first, "statusCode");
	msg = cJSON_GetObjectItemCaseSensitive(first, "message");
	fields = cJSON_GetObjectItemCaseSensitive(first, "fields");
	if (cJSON_IsString(code))
		sf_copy_code(r->error_code, sizeof(r->error_code),
		    code->valuestring);
	if (cJSON_IsString(msg))
		buf_puts(&m, msg->valuestring);
	if (!cJSON_IsArray(fields))
		fields = NULL;
	cJSON_ArrayForEach(f, fields) {
		if (!cJSON_IsString(f))
			continue;
		buf_puts(&m, nf++ ? ", " : " [fields: ");
		buf_puts(&m, f->valuestring);
	}
	if (nf > 0)
		buf_putc(&m, ']');
	if (m.len > 0)
		sf_copy_text(r->message, sizeof(r->message), m.data);
out:
	buf_free(&m);
	cJSON_Delete(doc);
}

/* Sort an HTTP answer to the upsert into a kind (CONTRACTS §3.3, §3.5). */
static void
sf_classify(const struct sf_http *h, struct sf_result *r)
{
	int	 s = (int)h->status;
	char	 msg[64];

	r->http_status = s;
	r->retry_after_s = h->retry_after_s;
	if (s == 201) {
		r->kind = SF_CREATED;
		sf_take_id(&h->body, r);
		return;
	}
	if (s == 200 || s == 204) {
		r->kind = SF_UPDATED;
		sf_take_id(&h->body, r);
		return;
	}
	if (s == 300) {
		sf_set(r, SF_PERMANENT, s, "CB_MULTIPLE_MATCHES",
		    "the external ID matches several records; nothing was written");
		return;
	}
	snprintf(msg, sizeof(msg), "HTTP %d %s", s, errs_reason(s));
	sf_set(r, SF_PERMANENT, s, "", msg);
	sf_take_errors(&h->body, r);
	if (s >= 500 ||
	    s == 401 ||		/* still refused with a fresh token */
	    s == 408 || s == 429 ||
	    (s == 403 && strcmp(r->error_code, "REQUEST_LIMIT_EXCEEDED") == 0) ||
	    strcmp(r->error_code, "UNABLE_TO_LOCK_ROW") == 0 ||
	    strcmp(r->error_code, "SERVER_UNAVAILABLE") == 0)
		r->kind = SF_RETRY;
}

/* Local argument checks: an SF_PERMANENT result without any network. */
static int
sf_check_args(const char *sobject, const char *ext_field,
    const char *ext_value, const char *json_fields, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*f;
	struct jv_error	 je;
	size_t		 vlen, blen;
	char		 msg[160];
	int		 rc = CB_ERR_VALIDATION;

	if (!sf_api_name_ok(sobject) || !sf_api_name_ok(ext_field)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "sobject and ext_field must be API names");
		goto out;
	}
	if (ext_value == NULL || (vlen = strlen(ext_value)) == 0 ||
	    vlen > SF_EXT_VALUE_MAX || !jv_utf8_ok(ext_value, vlen)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "ext_value must be 1 to 255 bytes of UTF-8 text");
		goto out;
	}
	if (json_fields == NULL || (blen = strlen(json_fields)) > SF_BODY_MAX ||
	    jv_parse(json_fields, blen, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "json_fields must be one JSON object of at most 1 MiB");
		goto out;
	}
	/* CONTRACTS §3.3: neither Id nor the external-ID field in the body. */
	cJSON_ArrayForEach(f, doc) {
		if (strcasecmp(f->string, "Id") == 0 ||
		    strcasecmp(f->string, ext_field) == 0) {
			snprintf(msg, sizeof(msg), "json_fields must not contain "
			    "Id or the external-ID field (%s)", ext_field);
			sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT", msg);
			goto out;
		}
	}
	rc = CB_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

int
sf_upsert(struct sf_client *c, const char *sobject, const char *ext_field,
    const char *ext_value, const char *json_fields, struct sf_result *out)
{
	struct buf		 url, auth;
	struct curl_slist	*hdrs = NULL;
	struct sf_http		 h;
	char			*esc = NULL;
	char			 st[16], ms[32];
	double			 t0 = util_now_ms();
	int			 attempt, rc;

	memset(out, 0, sizeof(*out));
	buf_init(&url, SF_URL_MAX + 3 * SF_EXT_VALUE_MAX + 256);
	buf_init(&auth, SF_TOKEN_MAX + 64);
	sf_http_init(&h);
	if (c == NULL) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "no client");
		rc = sf_rc(out);
		goto out;
	}
	if ((rc = sf_check_args(sobject, ext_field, ext_value, json_fields,
	    out)) != CB_OK)
		goto out;
	if ((esc = curl_easy_escape(c->curl, ext_value, (int)strlen(ext_value)))
	    == NULL)
		util_oom();
	/* At most one re-authentication, on a 401, then one more try. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->token == NULL && (rc = sf_mint(c, out)) != CB_OK)
			goto out;
		buf_reset(&url);
		buf_wipe(&auth);
		buf_init(&auth, SF_TOKEN_MAX + 64);
		if (buf_printf(&url, "%s/services/data/%s/sobjects/%s/%s/%s",
		    c->instance_url, c->api_version, sobject, ext_field, esc) ||
		    buf_printf(&auth, "Authorization: Bearer %s", c->token)) {
			sf_set(out, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
			    "request URL does not fit its buffer");
			rc = sf_rc(out);
			goto out;
		}
		sf_slist_wipe_free(hdrs);
		hdrs = NULL;
		hdrs = sf_slist_add(hdrs, auth.data);
		hdrs = sf_slist_add(hdrs, "Content-Type: application/json");
		hdrs = sf_slist_add(hdrs, "Accept: application/json");
		hdrs = sf_slist_add(hdrs, "Expect:");
		buf_free(&h.body);
		sf_http_init(&h);
		sf_http_do(c, "PATCH", url.data, hdrs, json_fields,
		    strlen(json_fields), &h);
		if (sf_transport_failed(c, &h, out))
			break;
		if (h.status == 401 && attempt == 0) {
			/* Session expired or revoked: CONTRACTS §3.1 policy. */
			log_kv(LOG_LVL_INFO, "sf_session_expired", "sobject",
			    sobject, NULL);
			sf_drop_token(c);
			continue;
		}
		sf_classify(&h, out);
		break;
	}
	rc = sf_rc(out);
out:
	if (c != NULL && out->kind != SF_NONE) {
		snprintf(st, sizeof(st), "%d", out->http_status);
		snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
		/* ext_value and message can carry personal data: not logged. */
		log_kv(rc == CB_OK ? LOG_LVL_DEBUG : LOG_LVL_WARN, "sf_upsert",
		    "sobject", sf_api_name_ok(sobject) ? sobject : "?",
		    "status", st, "kind", sf_kind_name(out->kind),
		    "error", out->error_code, "ms", ms, NULL);
	}
	curl_free(esc);
	sf_slist_wipe_free(hdrs);
	buf_free(&h.body);
	buf_wipe(&auth);
	buf_free(&url);
	return rc;
}
