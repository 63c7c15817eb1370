/*
 * req: see req.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errs.h"
#include "jsonv.h"
#include "req.h"
#include "util.h"

static const char *
env_get(char *const *env, const char *name)
{
	size_t	 n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/*
 * The parameters every request reads, found in one pass over them: a
 * lookup each would scan them again, all of them for one that is absent,
 * and the headers (HTTP_*) come last.  The first of a name counts, as in
 * env_get.
 */
enum {
	RP_METHOD, RP_DOCURI, RP_SCRIPT, RP_QUERY, RP_ROUTE, RP_ALLOW, RP_REQID,
	RP_CTYPE, RP_CLEN, RP_ADDR, RP_TRACE, RP_AUTH, RP_IDEM, RP_N
};

static const struct {
	const char	*name;
	size_t		 len;
} req_known[RP_N] = {
	[RP_METHOD]	= { "REQUEST_METHOD", 14 },
	[RP_DOCURI]	= { "DOCUMENT_URI", 12 },
	[RP_SCRIPT]	= { "SCRIPT_NAME", 11 },
	[RP_QUERY]	= { "QUERY_STRING", 12 },
	[RP_ROUTE]	= { "CB_ROUTE", 8 },
	[RP_ALLOW]	= { "CB_ALLOW", 8 },
	[RP_REQID]	= { "REQUEST_ID", 10 },
	[RP_CTYPE]	= { "CONTENT_TYPE", 12 },
	[RP_CLEN]	= { "CONTENT_LENGTH", 14 },
	[RP_ADDR]	= { "REMOTE_ADDR", 11 },
	[RP_TRACE]	= { "TRACEPARENT", 11 },
	[RP_AUTH]	= { "HTTP_AUTHORIZATION", 18 },
	[RP_IDEM]	= { "HTTP_IDEMPOTENCY_KEY", 20 },
};
_Static_assert(RP_N == REQ_NKNOWN, "REQ_NKNOWN: the entries of req_known");

/* The entry of req_known named name, or -1. */
static int
req_known_index(const char *name)
{
	size_t	 i;

	for (i = 0; i < RP_N; i++)
		if (strcmp(req_known[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Each known parameter's first value into v, and how many times it came into count. */
static void
req_scan(char *const *env, const char *v[RP_N], unsigned count[RP_N])
{
	const char	*eq;
	size_t		 i, n;

	for (; env && *env; env++) {
		if ((eq = strchr(*env, '=')) == NULL)
			continue;
		n = (size_t)(eq - *env);
		for (i = 0; i < RP_N; i++)
			if (req_known[i].len == n && memcmp(*env, req_known[i].name, n) == 0) {
				if (count[i]++ == 0)
					v[i] = eq + 1;
				break;
			}
	}
}

void
req_trace_begin(struct req *r, int on)
{
	struct trace	 in;

	memset(&r->trace, 0, sizeof(r->trace));
	r->traceparent[0] = '\0';
	if (!on)
		return;
	/*
	 * nginx's TRACEPARENT is empty unless the client sent one (the common
	 * request has none, and nginx then builds no value at all); then the
	 * trace it started is its REQUEST_ID (nginx/trace.conf).
	 */
	if (trace_parse(r->known[RP_TRACE], &in) == CB_OK ||
	    trace_from_request_id(r->request_id, &in) == CB_OK)
		trace_child(&in, &r->trace);
	else
		trace_start(&r->trace);
	trace_format(&r->trace, r->traceparent);
}

const char *
req_traceparent(const struct req *r)
{
	return r->traceparent[0] ? r->traceparent : NULL;
}

void
req_init(struct req *r, char *const *env, struct app *app, const struct req_io *io)
{
	const char	*cl, *const *v = r->known;
	long long	 ll;

	memset(r, 0, sizeof(*r));
	r->env = env;
	r->app = app;
	if (io)
		r->io = *io;
	req_scan(env, r->known, r->known_n);
	r->method = v[RP_METHOD];
	r->uri = v[RP_DOCURI] ? v[RP_DOCURI] : v[RP_SCRIPT];
	r->query = v[RP_QUERY];
	r->route = v[RP_ROUTE];
	r->allow = v[RP_ALLOW];
	r->request_id = v[RP_REQID];
	r->content_type = v[RP_CTYPE];
	r->remote_addr = v[RP_ADDR];
	cl = v[RP_CLEN];
	if (r->method == NULL)
		r->method = "";
	if (r->uri == NULL)
		r->uri = "";
	if (r->request_id == NULL)
		r->request_id = "";
	r->content_length = -1;
	if (cl && *cl && util_parse_ll(cl, 0, (1LL << 40), &ll) == CB_OK)
		r->content_length = ll;
	else if (cl && *cl)
		r->content_length = -2;	/* present but malformed */
	r->head = strcmp(r->method, "HEAD") == 0;
	r->status = 200;
	buf_init(&r->headers, 16384);
	buf_init(&r->out, REQ_RESP_MAX);
}

void
req_free(struct req *r)
{
	size_t	 i;

	for (i = r->nowned; i > 0; i--)
		r->owned[i - 1].fn(r->owned[i - 1].ptr);
	free(r->owned);
	if (r->json)
		cJSON_Delete(r->json);
	free(r->body);
	buf_free(&r->headers);
	buf_free(&r->out);
	memset(r, 0, sizeof(*r));
}

const char *
req_env(const struct req *r, const char *name)
{
	return env_get(r->env, name);
}

/* The FastCGI parameter name of an HTTP header ("Idempotency-Key" -> HTTP_IDEMPOTENCY_KEY). */
static int
req_header_key(const char *name, char *key, size_t keysz)
{
	size_t	 i, n = strlen(name);

	if (n + 6 > keysz)
		return -1;
	memcpy(key, "HTTP_", 5);
	for (i = 0; i < n; i++)
		key[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	key[5 + n] = '\0';
	return 0;
}

const char *
req_header(const struct req *r, const char *name)
{
	char	 key[96];
	int	 i;

	if (req_header_key(name, key, sizeof(key)) != 0)
		return NULL;
	/* FastCGI passes Content-Type and Content-Length without HTTP_. */
	if (strcmp(key, "HTTP_CONTENT_TYPE") == 0 || strcmp(key, "HTTP_CONTENT_LENGTH") == 0)
		memmove(key, key + 5, strlen(key + 5) + 1);
	if ((i = req_known_index(key)) >= 0)
		return r->known[i];
	return env_get(r->env, key);
}

size_t
req_header_count(const struct req *r, const char *name)
{
	char		 key[96];
	size_t		 n = 0, len;
	char *const	*e;
	int		 i;

	if (r->env == NULL || req_header_key(name, key, sizeof(key)) != 0)
		return 0;
	/* Counted already by req_init's one pass. */
	if ((i = req_known_index(key)) >= 0)
		return r->known_n[i];
	len = strlen(key);
	for (e = r->env; *e != NULL; e++)
		if (strncmp(*e, key, len) == 0 && (*e)[len] == '=')
			n++;
	return n;
}

const char *
req_bearer(const struct req *r)
{
	const char	*h = req_header(r, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

const char *
req_param(const struct req *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode [s, end) into out (at least end - s + 1 bytes), '+' as a
 * space; -1 on a malformed escape or an encoded NUL.
 */
static long
req_pct_decode(const char *s, const char *end, char *out)
{
	size_t	 o = 0;
	int	 h, l;
	char	 c;

	for (; s < end; s++) {
		c = *s;
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (end - s < 3 || (h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0)
				return -1;
			c = (char)(h * 16 + l);
			s += 2;
			if (c == '\0')
				return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

const char *
req_query(struct req *r, const char *name)
{
	const char	*q = r->query, *p, *amp, *eq;
	size_t		 n = strlen(name);
	char		*out;

	if (q == NULL)
		return NULL;
	for (p = q; *p; p = *amp ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL || (size_t)(eq - p) != n || strncmp(p, name, n) != 0)
			continue;
		out = req_alloc(r, (size_t)(amp - eq));
		return req_pct_decode(eq + 1, amp, out) < 0 ? NULL : out;
	}
	return NULL;
}

int
req_query_object(struct req *r, cJSON **out)
{
	const char	*p, *amp, *eq, *c;
	cJSON		*o;
	char		*name, *val;
	long		 n;

	*out = NULL;
	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	for (p = r->query ? r->query : ""; *p; p = *amp ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		/* Names are taken as sent (as req_query does): printable ASCII only. */
		for (c = p; c < eq; c++)
			if (*c <= 0x20 || *c >= 0x7f)
				goto bad;
		if (eq == p)
			goto bad;
		name = req_alloc(r, (size_t)(eq - p) + 1);
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		val = req_alloc(r, (size_t)(amp - eq) + 1);
		if (eq == amp)
			val[0] = '\0';
		else if ((n = req_pct_decode(eq + 1, amp, val)) < 0 || !jv_utf8_ok(val, (size_t)n))
			goto bad;
		cJSON_AddItemToObject(o, name, cJSON_CreateString(val));
	}
	*out = o;
	return CB_OK;
bad:
	cJSON_Delete(o);
	return CB_ERR_BAD_REQUEST;
}

/*
 * Ids reach routes in one spelling: a UUID in any case is lowercased here,
 * once, so "ABC..." and "abc..." name the same context in Postgres, in the
 * memo and in a Redis rate bucket alike.  Other values are left as sent
 * (a malformed id is the route's 404).
 */
static void
req_canonical_id(char *v)
{
	size_t	 i;

	if (!util_uuid_ok(v))
		return;
	for (i = 0; v[i]; i++)
		if (v[i] >= 'A' && v[i] <= 'F')
			v[i] = (char)(v[i] - 'A' + 'a');
}

int
req_match(struct req *r, const char *pattern, const char *uri)
{
	const char	*p = pattern, *u = uri, *pe, *ue;
	size_t		 np = 0;
	struct req_param tmp[REQ_MAX_PARAMS];
	char		*nm, *val;

	while (*p && *u) {
		if (*p != '/' || *u != '/')
			return 0;
		p++, u++;
		pe = strchr(p, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		ue = strchr(u, '/');
		if (ue == NULL)
			ue = u + strlen(u);
		if (*p == '{') {
			if (ue == u || np == REQ_MAX_PARAMS || pe - p < 3 || pe[-1] != '}')
				return 0;
			nm = req_alloc(r, (size_t)(pe - p - 1));
			val = req_alloc(r, (size_t)(ue - u) + 1);
			memcpy(nm, p + 1, (size_t)(pe - p - 2));
			memcpy(val, u, (size_t)(ue - u));
			req_canonical_id(val);
			tmp[np].name = nm;
			tmp[np].value = val;
			np++;
		} else if (pe - p != ue - u || strncmp(p, u, (size_t)(pe - p)) != 0)
			return 0;
		p = pe;
		u = ue;
	}
	if (*p || *u)
		return 0;
	memcpy(r->params, tmp, np * sizeof(tmp[0]));
	r->nparams = np;
	return 1;
}

static void
req_free_ptr(void *p)
{
	free(p);
}

void
req_own(struct req *r, void *p, void (*fn)(void *))
{
	if (p == NULL)
		return;
	if (r->nowned == r->capowned) {
		size_t ncap = r->capowned ? r->capowned * 2 : 16;
		r->owned = util_realloc(r->owned, ncap * sizeof(*r->owned));
		r->capowned = ncap;
	}
	r->owned[r->nowned].ptr = p;
	r->owned[r->nowned].fn = fn ? fn : req_free_ptr;
	r->nowned++;
}

void *
req_alloc(struct req *r, size_t n)
{
	void	*p = util_calloc(1, n);

	req_own(r, p, req_free_ptr);
	return p;
}

char *
req_strdup(struct req *r, const char *s)
{
	char	*p = util_strdup(s);

	req_own(r, p, req_free_ptr);
	return p;
}

static int
hdr_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || (unsigned char)*s < 0x20)
			return 0;
	return 1;
}

/* Remove any earlier header of that name: a response sets each once. */
static void
resp_header_drop(struct req *r, const char *name)
{
	size_t	 n = strlen(name), i = 0, e;
	char	*d = r->headers.data;

	while (d && i < r->headers.len) {
		e = i;
		while (e < r->headers.len && d[e] != '\n')
			e++;
		e = e < r->headers.len ? e + 1 : e;
		if (e - i > n && d[i + n] == ':' && strncasecmp(d + i, name, n) == 0) {
			memmove(d + i, d + e, r->headers.len - e + 1);
			r->headers.len -= e - i;
			continue;
		}
		i = e;
	}
}

int
resp_header(struct req *r, const char *name, const char *value)
{
	if (!hdr_ok(name) || !hdr_ok(value) || strchr(name, ':'))
		return CB_ERR_INTERNAL;
	resp_header_drop(r, name);
	return buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

static void
resp_set(struct req *r, int status, const char *ctype, const char *body, size_t len)
{
	r->status = status;
	buf_reset(&r->out);
	if (ctype)
		resp_header(r, "Content-Type", ctype);
	if (buf_append(&r->out, body, len) != CB_OK) {
		/* Our own output over the cap is a bug: answer 500, not a torn body. */
		buf_reset(&r->out);
		r->status = 500;
	}
}

void
resp_body(struct req *r, int status, const char *ctype, const char *body, size_t len)
{
	resp_set(r, status, ctype, body, len);
	r->responded = 1;
}

void
resp_json(struct req *r, int status, const cJSON *v)
{
	char	*s = cJSON_PrintUnformatted(v);

	if (s == NULL)
		util_oom();
	resp_body(r, status, "application/json", s, strlen(s));
	free(s);
}

void
resp_json_nostore(struct req *r, int status, cJSON *v)
{
	resp_header(r, "Cache-Control", "no-store");
	resp_json(r, status, v);
	cJSON_Delete(v);
}

static void
resp_headers_keep(struct req *r, const char *const *keep)
{
	struct buf	 nb;
	const char	*d = buf_cstr(&r->headers), *e;
	size_t		 i, n;

	buf_init(&nb, 16384);
	while (*d) {
		e = strchr(d, '\n');
		e = e ? e + 1 : d + strlen(d);
		for (i = 0; keep[i]; i++) {
			n = strlen(keep[i]);
			if (strncasecmp(d, keep[i], n) == 0 && d[n] == ':')
				buf_append(&nb, d, (size_t)(e - d));
		}
		d = e;
	}
	buf_free(&r->headers);
	r->headers = nb;
}

void
resp_problem_ext(struct req *r, int code, const char *detail, const cJSON *ext)
{
	cJSON		*o;
	const cJSON	*c;
	int		 status = errs_status(code);

	o = cJSON_CreateObject();
	if (o == NULL)
		util_oom();
	cJSON_AddStringToObject(o, "type", errs_type(code));
	cJSON_AddStringToObject(o, "title", errs_title(code));
	cJSON_AddNumberToObject(o, "status", status);
	if (detail)
		cJSON_AddStringToObject(o, "detail", detail);
	if (r->uri && *r->uri)
		cJSON_AddStringToObject(o, "instance", r->uri);
	if (r->request_id && *r->request_id)
		cJSON_AddStringToObject(o, "request_id", r->request_id);
	if (r->trace.id[0])
		cJSON_AddStringToObject(o, "trace_id", r->trace.id);
	if (ext)
		for (c = ext->child; c; c = c->next)
			if (c->string && !cJSON_HasObjectItem(o, c->string))
				cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, 1));
	/* Drop headers a handler set before failing (Location...): keep the
	 * ones that describe this answer. */
	resp_headers_keep(r, (const char *const []){ "Allow", "Retry-After",
	    "WWW-Authenticate", "Idempotent-Replayed", NULL });
	if (status == 401 && strstr(buf_cstr(&r->headers), "WWW-Authenticate:") == NULL)
		resp_header(r, "WWW-Authenticate", req_header(r, "Authorization") ?
		    "Bearer realm=\"" REQ_AUTH_REALM "\", error=\"invalid_token\"" :
		    "Bearer realm=\"" REQ_AUTH_REALM "\"");
	if (status == 503 || status == 429) {
		if (strstr(buf_cstr(&r->headers), "Retry-After:") == NULL)
			resp_header(r, "Retry-After", status == 503 ? "5" : "1");
	}
	resp_header(r, "Cache-Control", "no-store");
	{
		char *s = cJSON_PrintUnformatted(o);

		if (s == NULL)
			util_oom();
		/* A problem is rendered, never "responded" (req.h). */
		resp_set(r, status, "application/problem+json", s, strlen(s));
		r->responded = 0;
		free(s);
	}
	cJSON_Delete(o);
}

void
resp_problem(struct req *r, int code, const char *detail)
{
	resp_problem_ext(r, code, detail, NULL);
}

int
resp_serialize(struct req *r, struct buf *o)
{
	int	 rc;

	rc = buf_printf(o, "Status: %d %s\r\n", r->status, errs_reason(r->status));
	if (rc == CB_OK)
		rc = buf_append(o, r->headers.data ? r->headers.data : "", r->headers.len);
	if (rc == CB_OK && strcasestr(buf_cstr(&r->headers), "content-type:") == NULL &&
	    r->out.len > 0)
		rc = buf_puts(o, "Content-Type: application/octet-stream\r\n");
	if (rc == CB_OK)
		rc = buf_printf(o, "Content-Length: %zu\r\n\r\n", r->out.len);
	if (rc == CB_OK && !r->head && r->out.len)
		rc = buf_append(o, r->out.data, r->out.len);
	return rc;
}
