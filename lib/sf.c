/*
 * sf: see sf.h.  The client and its configuration, the one door to the
 * outbound HTTP layer (lib/httpc: this client never touches libcurl), and
 * what every part of the client shares: the result helpers and the
 * classification of a transport failure.  The token lives in sf_token.c,
 * the upsert in sf_records.c, the struct they share in sf_int.h.
 *
 * Guarantees: every request carries the configured timeouts and the
 * SF_RESPONSE_MAX cap and is never redirected (httpc's rules); a client
 * that made its own httpc allows a loopback destination only for a
 * loopback login URL (the fake) and its loopback instance, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "egress.h"
#include "errs.h"
#include "httpc.h"
#include "log.h"
#include "sf.h"
#include "sf_int.h"
#include "util.h"

#define SF_TIMEOUT_CAP_MS	600000L	/* Salesforce's own call limit: 10 min */
#define SF_USER_AGENT		"User-Agent: context-broker-sf/1"

const char *
sf_kind_name(int kind)
{
	switch (kind) {
	case SF_CREATED:	return "created";
	case SF_UPDATED:	return "updated";
	case SF_RETRY:		return "retry";
	case SF_PERMANENT:	return "permanent";
	case SF_CONFIG:		return "config";
	case SF_FOUND:		return "found";
	default:		return "none";
	}
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
void
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

/* 1 for a character of a word as the masking sees one (not space or quote). */
static int
sf_mask_wordc(int c)
{
	return c != '\0' && c != ' ' && c != '\t' && c != '"' && c != '\'' && c != ',' &&
	    c != ';' && c != '(' && c != ')' && c != '[' && c != ']';
}

/* The length of a phone-shaped run at s (digits, + ( ) - . and spaces) with 6 digits or more; else 0. */
static size_t
sf_mask_phone(const char *s, const char *end)
{
	size_t	 n = 0, digits = 0, last = 0;

	if (!sf_is_digit((unsigned char)*s) && *s != '+' && *s != '(')
		return 0;
	for (; s + n < end && strchr("0123456789+()-. ", s[n]) != NULL; n++)
		if (sf_is_digit((unsigned char)s[n])) {
			digits++;
			last = n + 1;
		}
	return digits >= 6 ? last : 0;
}

void
sf_mask_message(char *out, size_t outsz, const char *in)
{
	static const char withheld[] = "[value withheld]";
	const char	*cut = strstr(in, ": "), *end, *w, *s;
	struct buf	 b;
	size_t		 digits, n;
	int		 at;

	buf_init(&b, 64 * 1024);
	end = cut ? cut + 2 : in + strlen(in);
	for (w = in; w < end; ) {
		/* A phone number, however it is spaced. */
		if ((w == in || !sf_mask_wordc((unsigned char)w[-1]) || w[-1] == '+') &&
		    (n = sf_mask_phone(w, end)) > 0) {
			buf_puts(&b, "***");
			w += n;
			continue;
		}
		if (!sf_mask_wordc((unsigned char)*w)) {
			buf_putc(&b, *w++);
			continue;
		}
		/* One word: masked whole when it holds an @ or six digits. */
		for (s = w, at = 0, digits = 0; w < end && sf_mask_wordc((unsigned char)*w); w++) {
			at |= *w == '@';
			digits += sf_is_digit((unsigned char)*w) ? 1 : 0;
		}
		if (at || digits >= 6)
			buf_puts(&b, "***");
		else
			buf_append(&b, s, (size_t)(w - s));
	}
	if (cut != NULL && end[0] != '\0')
		buf_puts(&b, withheld);
	buf_putc(&b, '\0');
	/* One line of text: a control character (a tab, a newline) is a space. */
	for (n = 0; b.data[n] != '\0'; n++)
		if ((unsigned char)b.data[n] < 0x20 || b.data[n] == 0x7f)
			b.data[n] = ' ';
	sf_copy_text(out, outsz, b.data);
	buf_free(&b);
}

void
sf_copy_code(char *out, size_t outsz, const char *in)
{
	size_t	 i, j = 0;

	for (i = 0; in[i] != '\0' && j + 1 < outsz; i++)
		if (sf_is_alpha((unsigned char)in[i]) ||
		    sf_is_digit((unsigned char)in[i]) || in[i] == '_')
			out[j++] = in[i];
	out[j] = '\0';
}

void
sf_set(struct sf_result *r, int kind, int status, const char *code,
    const char *msg)
{
	r->kind = kind;
	r->http_status = status;
	sf_copy_code(r->error_code, sizeof(r->error_code), code ? code : "");
	sf_copy_text(r->message, sizeof(r->message), msg ? msg : "");
}

int
sf_rc(const struct sf_result *r)
{
	switch (r->kind) {
	case SF_CREATED:
	case SF_UPDATED:
	case SF_FOUND:
		return CB_OK;
	case SF_RETRY:
		return strcmp(r->error_code, "CB_TIMEOUT") == 0 ?
		    CB_ERR_TIMEOUT : CB_ERR_UNAVAILABLE;
	case SF_PERMANENT:
		return strcmp(r->error_code, "CB_BAD_ARGUMENT") == 0 ||
		    strcmp(r->error_code, "CB_BAD_PHONE") == 0 ?
		    CB_ERR_VALIDATION : CB_ERR_UPSTREAM;
	case SF_CONFIG:
		return CB_ERR_CONFIG;
	default:
		return CB_ERR_INTERNAL;
	}
}

/*
 * The canonical "host:port" of the authority host (hostlen bytes, a port
 * after it or not) for a private allowlist, the scheme's port by default.
 * "" if it does not make one: then nothing is allowed for it, and httpc
 * refuses the malformed URL on its own.
 */
static void
sf_hostport(const char *host, size_t hostlen, int plain, char *hp, size_t hpsz)
{
	char		 tmp[EGRESS_HOSTPORT_MAX];
	const char	*end = host[0] == '[' ? memchr(host, ']', hostlen) : host;
	const char	*colon;

	hp[0] = '\0';
	if (end == NULL || hostlen + 8 > sizeof(tmp))
		return;
	colon = memchr(end, ':', hostlen - (size_t)(end - host));
	memcpy(tmp, host, hostlen);
	if (colon == NULL) {
		memcpy(tmp + hostlen, plain ? ":80" : ":443", plain ? 3 : 4);
		hostlen += plain ? 3 : 4;
	}
	if (egress_hostport(tmp, hostlen, hp, hpsz) != CB_OK)
		hp[0] = '\0';
}

/*
 * A base URL we are willing to send a credential to: http(s)://host[:port]
 * with an optional plain path, no userinfo, query, fragment or odd bytes.
 * Writes the copy without a trailing slash.  *plain and *loopback describe
 * it; hp (if not NULL) receives its host:port when it is loopback, else "".
 */
static int
sf_base_url(const char *u, char **out, int *plain, int *loopback, char *hp,
    size_t hpsz)
{
	const char	*host, *p;
	size_t		 n, hostlen;

	*out = NULL;
	if (hp != NULL)
		hp[0] = '\0';
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
	if (*loopback && hp != NULL)
		sf_hostport(host, hostlen, *plain, hp, hpsz);
	while (n > 0 && u[n - 1] == '/')
		n--;
	*out = util_strndup(u, n);
	return CB_OK;
}

/* Our own httpc: the loopback login and instance (a fake) may be private. */
static struct httpc *
sf_http_new(const char *login_hp, const char *inst_hp)
{
	char	 allow[2 * EGRESS_HOSTPORT_MAX + 2];

	snprintf(allow, sizeof(allow), "%s %s", login_hp, inst_hp);
	return httpc_new(allow, "context-broker-sf/1");
}

int
sf_instance_take(struct sf_client *c, const char *url, char **out)
{
	struct httpc	*h;
	char		*inst = NULL, hp[EGRESS_HOSTPORT_MAX];
	int		 plain = 0, loop = 0;

	*out = NULL;
	if (sf_base_url(url, &inst, &plain, &loop, hp, sizeof(hp)) != CB_OK)
		return CB_ERR_VALIDATION;
	/* The token goes wherever the instance is: plain http only to a fake. */
	if (plain && !c->login_plain)
		goto bad;
	/*
	 * A caller's httpc decides with its own private allowlist.  Ours
	 * admits a loopback instance only beside a loopback login, and is
	 * rebuilt for it: nothing is in flight between two of our calls.
	 */
	if (c->own_http && c->login_loop && loop && hp[0] != '\0' &&
	    strcmp(hp, c->login_hp) != 0 && strcmp(hp, c->inst_hp) != 0) {
		if ((h = sf_http_new(c->login_hp, hp)) == NULL)
			goto bad;
		httpc_free(c->http);
		c->http = h;
		util_strlcpy(c->inst_hp, hp, sizeof(c->inst_hp));
	}
	*out = inst;
	return CB_OK;
bad:
	free(inst);
	return CB_ERR_VALIDATION;
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
	    (conf->private_key_pem == NULL &&
	    sf_conf_str(conf->private_key_file, "private_key_file", err, errsz)) ||
	    sf_conf_str(conf->api_version, "api_version", err, errsz))
		goto out;
	if (sf_base_url(conf->login_url, &c->login_url, &plain, &loop,
	    c->login_hp, sizeof(c->login_hp)) != CB_OK) {
		snprintf(err, errsz, "salesforce: login_url must be http(s)://host"
		    "[:port][/path] with nothing else");
		goto out;
	}
	/*
	 * The assertion is a credential: plain http only to a local fake, on
	 * loopback, or at a private host:port the caller's own client admits
	 * (its CB_EGRESS_PRIVATE_ALLOW decides at every transfer: a fake on
	 * the private network of several nodes, docs/scale-out.md).
	 */
	if (plain && !loop && conf->http == NULL) {
		snprintf(err, errsz, "salesforce: login_url must use https "
		    "(plain http is allowed for loopback test servers only)");
		goto out;
	}
	c->login_plain = plain;
	c->login_loop = loop;
	aud = conf->audience && conf->audience[0] ? conf->audience :
	    SF_DEFAULT_AUDIENCE;
	if (sf_base_url(aud, &tmp, &plain, &loop, NULL, 0) != CB_OK) {
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
	if (conf->private_key_file != NULL ?
	    sf_key_load(conf->private_key_file, &c->pkey, err, errsz) != CB_OK :
	    sf_key_load_pem(conf->private_key_pem, strlen(conf->private_key_pem), &c->pkey, err,
	    errsz) != CB_OK)
		goto out;
	if (conf->http != NULL)
		c->http = conf->http;
	else if ((c->http = sf_http_new(c->login_loop ? c->login_hp : "",
	    "")) != NULL)
		c->own_http = 1;
	else {
		snprintf(err, errsz, "salesforce: the HTTP client failed to "
		    "initialise");
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

void
sf_client_free(struct sf_client *c)
{
	if (c == NULL)
		return;
	sf_drop_token(c);
	if (c->own_http)
		httpc_free(c->http);
	sf_key_free(c->pkey);
	free(c->login_url);
	free(c->audience);
	free(c->client_id);
	free(c->username);
	free(c->api_version);
	free(c);
}

/* ---- HTTP ------------------------------------------------------------ */

void
sf_http(struct sf_client *c, const char *method, const char *url,
    const char *const *headers, const char *body, size_t bodylen,
    struct httpc_resp *resp)
{
	struct httpc_req	 q;
	size_t			 i;

	memset(&q, 0, sizeof(q));
	q.method = method;
	q.url = url;
	for (i = 0; headers[i] != NULL && i + 1 < HTTPC_HEADERS_MAX; i++)
		q.headers[i] = headers[i];
	q.headers[i] = SF_USER_AGENT;
	q.body = body;
	q.bodylen = body != NULL ? bodylen : 0;
	q.connect_timeout_ms = c->connect_timeout_ms;
	q.timeout_ms = c->timeout_ms;
	q.response_max = SF_RESPONSE_MAX;
	q.capture[0] = "Sforce-Limit-Info";
	httpc_do(c->http, &q, resp);
	if (resp->captured[0][0] != '\0')
		log_kv(LOG_LVL_DEBUG, "sf_limit_info", "value", resp->captured[0],
		    NULL);
}

int
sf_transport_failed(const struct sf_client *c, const struct httpc_resp *h,
    struct sf_result *r)
{
	char	 msg[160];

	switch (h->err) {
	case HTTPC_OK:
		return 0;
	case HTTPC_TOO_LARGE:
		snprintf(msg, sizeof(msg), "response body over %u bytes",
		    SF_RESPONSE_MAX);
		sf_set(r, SF_RETRY, (int)h->status, "CB_RESPONSE_TOO_LARGE", msg);
		break;
	case HTTPC_TIMEOUT:
		if (c != NULL)
			snprintf(msg, sizeof(msg), "no complete answer within %ld ms",
			    c->timeout_ms);
		else
			snprintf(msg, sizeof(msg), "no complete answer in time");
		sf_set(r, SF_RETRY, 0, "CB_TIMEOUT", msg);
		break;
	case HTTPC_TLS:
		/* A certificate we refuse will not fix itself: tell an operator. */
		sf_set(r, h->tls_cert ? SF_CONFIG : SF_RETRY, 0,
		    h->tls_cert ? "CB_TLS" : "CB_TRANSPORT", h->message);
		break;
	case HTTPC_BAD_URL:
		/* Includes a libcurl that cannot restrict protocols: refuse. */
		sf_set(r, SF_CONFIG, 0, "CB_BAD_URL", h->message);
		break;
	case HTTPC_EGRESS:
		/* An internal address not on the private allowlist: setup. */
		sf_set(r, SF_CONFIG, 0, "CB_EGRESS", h->message);
		break;
	default:
		/* Refused, reset, dropped, DNS, aborted: the next try may work. */
		sf_set(r, SF_RETRY, 0, "CB_TRANSPORT", h->message);
		break;
	}
	return 1;
}
