/*
 * route: see route.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "apikey.h"
#include "cors.h"
#include "errs.h"
#include "log.h"
#include "metrics.h"
#include "mtls.h"
#include "quota.h"
#include "route.h"
#include "srv.h"
#include "tab.h"
#include "userauth.h"
#include "util.h"

static const char *const route_rate_names[RATE__COUNT] = {
	[RATE_UNSET] = "unset",
	[RATE_ANONYMOUS] = "anonymous",
	[RATE_TAB] = "tab",
	[RATE_AGENT] = "agent",
	[RATE_ADMIN] = "admin",
	[RATE_WEBHOOK] = "webhook",
	[RATE_OPERATOR] = "operator",
};

static void
route_json_free(void *p)
{
	cJSON_Delete(p);
}

const char *
route_rate_name(enum route_rate_class c)
{
	return (unsigned)c < RATE__COUNT ? route_rate_names[c] : "unset";
}

/*
 * The authentication kinds: what the pipeline runs for each, the rate class
 * of the callers it admits, and whether the caller is an agent (whose key
 * holds scopes) or a person (who has a role).
 */
static const struct {
	const char		*name;
	int			(*authenticate)(struct req *);
	enum route_rate_class	 rate_class;
	int			 agent;
} route_auths[ROUTE_AUTH__COUNT] = {
	[ROUTE_AUTH_NONE] = { "none", NULL, RATE_ANONYMOUS, 0 },
	[ROUTE_AUTH_TAB] = { "tab", tab_authenticate, RATE_TAB, 0 },
	[ROUTE_AUTH_AGENT] = { "agent", userauth_authenticate_agent, RATE_AGENT, 1 },
	[ROUTE_AUTH_AGENT_MEMO] = { "agent-memo", userauth_authenticate_agent_memo, RATE_AGENT, 1 },
	[ROUTE_AUTH_AGENT_KEY] = { "agent-key", userauth_authenticate_agent_key, RATE_AGENT, 1 },
	[ROUTE_AUTH_PERSON] = { "person", userauth_authenticate, RATE_ADMIN, 0 },
	[ROUTE_AUTH_PERSON_ONLY] = { "person-only", userauth_authenticate_person_only, RATE_ADMIN,
	    0 },
	[ROUTE_AUTH_SIGNED] = { "signed", NULL, RATE_WEBHOOK, 0 },
};

/* A person authenticates (and has a role) on these kinds. */
static int
route_auth_person(enum route_auth a)
{
	return a == ROUTE_AUTH_PERSON || a == ROUTE_AUTH_PERSON_ONLY;
}

const char *
route_auth_name(enum route_auth a)
{
	return (unsigned)a < ROUTE_AUTH__COUNT ? route_auths[a].name : "unknown";
}

enum route_rate_class
route_rate_class(const struct responder *resp, const struct route *rt)
{
	if (rt->rate_class != RATE_UNSET)
		return rt->rate_class;
	if (resp->rate_class != RATE_UNSET)
		return resp->rate_class;
	/* Who calls it follows from how it authenticates its caller. */
	if ((unsigned)rt->auth < ROUTE_AUTH__COUNT)
		return route_auths[rt->auth].rate_class;
	return RATE_UNSET;
}

/* "admin,operator", the scope, or "-": what the caller must hold. */
static void
route_grant(const struct route *rt, char *out, size_t outsz)
{
	size_t	 i, off = 0;

	util_strlcpy(out, "-", outsz);
	if (rt->scope)
		util_strlcpy(out, rt->scope, outsz);
	for (i = 0; rt->roles && rt->roles[i] && off < outsz; i++)
		off += (size_t)snprintf(out + off, outsz - off, "%s%s", i ? "," : "", rt->roles[i]);
}

/* The 7th --routes column, when the route has a trait to tell (route.h). */
static void
route_print_traits(const struct route *rt, FILE *f)
{
	const char	*sep = " ";

	if (rt->flags & ROUTE_IDEMPOTENT) {
		fprintf(f, "%sidempotent", sep);
		sep = ",";
	}
	if (rt->deprecated_at > 0 || rt->sunset_at > 0)
		fprintf(f, "%sdeprecated=%lld,sunset=%lld", sep, rt->deprecated_at, rt->sunset_at);
}

void
route_print_spec(const struct responder *resp, FILE *f)
{
	const struct route	*rt;
	char			 grant[256];
	size_t			 i;

	for (i = 0; i < resp->nroutes; i++) {
		rt = &resp->routes[i];
		route_grant(rt, grant, sizeof(grant));
		fprintf(f, "%s %s %zu %s %s %s", rt->method, rt->pattern, rt->body_max,
		    route_rate_name(route_rate_class(resp, rt)), route_auth_name(rt->auth), grant);
		route_print_traits(rt, f);
		fputc('\n', f);
	}
}

void
route_deprecation_headers(struct req *r, const struct route *rt)
{
	char		 v[512];
	struct tm	 tm;
	time_t		 t;

	if (rt->deprecated_at <= 0 && rt->sunset_at <= 0)
		return;
	if (rt->deprecated_at > 0) {
		snprintf(v, sizeof(v), "@%lld", rt->deprecated_at);
		resp_header(r, "Deprecation", v);
	}
	t = (time_t)rt->sunset_at;
	/* The IMF-fixdate of RFC 9110 5.6.7, in English whatever the locale. */
	if (rt->sunset_at > 0 && gmtime_r(&t, &tm) != NULL) {
		static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
		    "Sat" };
		static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

		snprintf(v, sizeof(v), "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
		    tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		resp_header(r, "Sunset", v);
	}
	snprintf(v, sizeof(v), "<%s>; rel=\"deprecation\"",
	    rt->deprecation_link ? rt->deprecation_link : ROUTE_DEPRECATION_LINK);
	resp_header(r, "Link", v);
}

int
route_tls_only(const struct route *rt)
{
	return (rt->flags & ROUTE_TLS_ONLY) || route_auth_person(rt->auth);
}

/* The one problem+json answer of a failed request: what was recorded for rc, else rc's own. */
static void
route_render(struct req *r, int rc)
{
	if (r->fail_code == rc)
		resp_problem_ext(r, rc, r->fail_detail, r->fail_ext);
	else
		resp_problem(r, rc, NULL);
}

/* Plain HTTP: nginx passes HTTPS=on only on its TLS listener. */
static int
route_over_tls(const struct req *r)
{
	const char	*h = req_env(r, "HTTPS");

	return h != NULL && strcmp(h, "on") == 0;
}

struct route_ctx {
	const struct responder	*resp;
	struct app		 app;
};

/*
 * The query string against the route's `query` table, the way a body is
 * checked against `fields`: decoded once (req_query_object), JV_INT
 * parameters turned into numbers, then jv_validate refuses what is unknown,
 * repeated or out of bounds.  The tree lives as long as the request, since
 * string values in args point into it.
 */
static int
route_query(struct req *r, const struct route *rt, void *args, struct jv_error *err)
{
	cJSON		*o, *c, *num;
	long long	 v;
	size_t		 i;

	if (args == NULL)
		return CB_ERR_INTERNAL;		/* a query table needs .args_size */
	if (req_query_object(r, &o) != CB_OK) {
		err->field[0] = '\0';
		util_strlcpy(err->reason, "the query string is malformed", sizeof(err->reason));
		return CB_ERR_BAD_REQUEST;
	}
	req_own(r, o, route_json_free);
	for (c = o->child; c != NULL; c = c->next) {
		for (i = 0; i < rt->nquery; i++)
			if (strcmp(rt->query[i].name, c->string) == 0)
				break;
		if (i == rt->nquery || rt->query[i].type != JV_INT)
			continue;
		if (util_parse_ll(c->valuestring, -9007199254740991LL, 9007199254740991LL,
		    &v) != CB_OK) {
			util_strlcpy(err->field, c->string, sizeof(err->field));
			util_strlcpy(err->reason, "must be an integer", sizeof(err->reason));
			return CB_ERR_VALIDATION;
		}
		if ((num = cJSON_CreateNumber((double)v)) == NULL)
			util_oom();
		/* The name moves to the number: ReplaceItemViaPointer keeps none. */
		num->string = c->string;
		c->string = NULL;
		cJSON_ReplaceItemViaPointer(o, c, num);
		c = num;
	}
	return jv_validate(o, rt->query, rt->nquery, args, err);
}

/*
 * application/json, with at most one parameter, charset=utf-8: names and
 * the charset value are case-insensitive and the value may be a quoted
 * string (RFC 9110 8.3.1, 5.6.4), so `charset="UTF-8"` is the same.  JSON
 * is UTF-8 (RFC 8259): any other charset or parameter is refused.
 */
static int
route_ctype_json(const char *ct)
{
	size_t	 n = strlen("application/json"), len;

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (*ct == '\0')
		return 1;
	if (*ct++ != ';')
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "charset=", 8) != 0)
		return 0;
	ct += 8;
	len = strlen(ct);
	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
		len--;
	if (len >= 2 && ct[0] == '"' && ct[len - 1] == '"') {
		ct++;
		len -= 2;
	}
	return len == 5 && strncasecmp(ct, "utf-8", 5) == 0;
}

/*
 * Headers that mean one thing only once: a second Authorization or
 * Idempotency-Key line is ambiguous (which one did the client mean?), so
 * the request is refused rather than served with the first.
 */
static const char *const route_single_headers[] = { "Authorization", "Idempotency-Key" };

static const char *
route_repeated_header(const struct req *r)
{
	size_t	 i;

	for (i = 0; i < sizeof(route_single_headers) / sizeof(route_single_headers[0]); i++)
		if (req_header_count(r, route_single_headers[i]) > 1)
			return route_single_headers[i];
	return NULL;
}

static int
route_read_body(struct req *r, size_t max)
{
	size_t	 want, got = 0;
	long	 n;

	if (r->content_length == -2)
		return CB_ERR_BAD_REQUEST;
	if (r->content_length <= 0)
		return CB_OK;
	/* The cap is checked before a single byte is read. */
	if ((unsigned long long)r->content_length > max)
		return CB_ERR_TOO_LARGE;
	want = (size_t)r->content_length;
	/* Its size is the sender's choice (up to the cap): no abort for it. */
	if ((r->body = alloc_try(want + 1)) == NULL)
		return CB_ERR_NOMEM;
	while (got < want) {
		if (r->io.read == NULL || (n = r->io.read(r->io.h, r->body + got, want - got)) <= 0)
			return CB_ERR_BAD_REQUEST;
		got += (size_t)n;
	}
	r->body[got] = '\0';
	r->body_len = got;
	return CB_OK;
}

/* Every method of the request's path: nginx's CB_ALLOW, else our routes'. */
static void
route_methods(struct req *r, const struct responder *resp, struct buf *b)
{
	size_t		 i;

	if (r->allow && *r->allow) {
		buf_puts(b, r->allow);
		return;
	}
	for (i = 0; i < resp->nroutes; i++) {
		if (!req_match(r, resp->routes[i].pattern, r->uri))
			continue;
		if (b->len)
			buf_puts(b, ", ");
		buf_puts(b, resp->routes[i].method);
		if (strcmp(resp->routes[i].method, "GET") == 0)
			buf_puts(b, ", HEAD");
	}
}

static void
route_allow(struct req *r, const struct responder *resp)
{
	struct buf	 b;

	buf_init(&b, 256);
	route_methods(r, resp, &b);
	resp_header(r, "Allow", buf_cstr(&b));
	buf_free(&b);
}

static int
route_preflight(struct req *r, const struct responder *resp)
{
	struct buf	 b;
	int		 rc;

	buf_init(&b, 256);
	route_methods(r, resp, &b);
	if (req_header(r, "Origin") == NULL) {
		/* A plain OPTIONS (no CORS): which methods this path has. */
		resp_header(r, "Allow", buf_cstr(&b));
		resp_body(r, 204, NULL, "", 0);
		buf_free(&b);
		return CB_OK;
	}
	rc = cors_preflight(r, buf_cstr(&b));
	buf_free(&b);
	return rc;
}

/*
 * Idempotency begin -> act -> idempotency finish.  The key's row, the
 * effect and the stored response commit in one transaction; an act that
 * fails rolls all of it back, so nothing partial is ever written and the
 * client may retry with the same key.  A refusal act records (route_fail,
 * 4xx) is its answer: the effect is rolled back and the key remembers the
 * refusal (route.h).  A ROUTE_IDEM_ONE_STATEMENT route gets the same
 * guarantee from a single autocommit statement of its own (the key checked
 * here, the claim in its SQL): one round trip, not four.
 */
static int
route_idempotent(const struct route *rt, struct req *r, const void *args)
{
	struct idem	 id;
	char		 org[24], scope[80];
	int		 rc;

	if (rt->idem_scope == NULL)
		return CB_ERR_INTERNAL;
	if ((rc = rt->idem_scope(r, org, sizeof(org), scope, sizeof(scope))) != CB_OK)
		return rc;
	if (rt->flags & ROUTE_IDEM_ONE_STATEMENT) {
		if ((rc = idem_prepare(r, &id, org, scope)) != CB_OK)
			return rc;
		r->idem = &id;
		rc = rt->act(r, args);
		r->idem = NULL;
		if (rc == CB_OK && !r->responded)
			return CB_ERR_INTERNAL;
		if (rc == CB_OK && !id.from_store && rt->after && r->status < 300)
			rt->after(r);
		return rc;
	}
	if ((rc = idem_begin(r, &id, org, scope)) != CB_OK || id.from_store)
		return rc;
	rc = rt->act(r, args);
	if (rc != CB_OK && r->fail_code == rc && errs_status(rc) >= 400 && errs_status(rc) < 500) {
		idem_abort(r, &id);
		route_render(r, rc);
		idem_remember(r, &id);
		return rc;
	}
	if (rc != CB_OK || !r->responded) {
		idem_abort(r, &id);
		return rc != CB_OK ? rc : CB_ERR_INTERNAL;
	}
	if ((rc = idem_finish(r, &id)) == CB_OK && rt->after && r->status < 300)
		rt->after(r);
	return rc;
}

/*
 * Who is calling (.auth), then what they must hold (.roles for a person,
 * .scope for an agent), then the route's own check that needs the request
 * (.authorize).
 */
static int
route_authorize(const struct route *rt, struct req *r)
{
	int	 rc;

	if ((unsigned)rt->auth >= ROUTE_AUTH__COUNT ||
	    (rt->roles != NULL && !route_auth_person(rt->auth)) ||
	    (rt->scope != NULL && !route_auths[rt->auth].agent) ||
	    (rt->auth == ROUTE_AUTH_SIGNED && rt->authorize == NULL))
		return CB_ERR_INTERNAL;		/* a descriptor that cannot be meant */
	if (route_auths[rt->auth].authenticate &&
	    (rc = route_auths[rt->auth].authenticate(r)) != CB_OK)
		return rc;
	/* An agent that must present a client certificate (lib/mtls.h). */
	if (route_auths[rt->auth].agent && (rc = mtls_require(r)) != CB_OK)
		return rc;
	if (rt->roles && (rc = userauth_require_role(r, rt->roles)) != CB_OK)
		return rc;
	if (rt->scope && !apikey_has_scope(r->auth, rt->scope))
		return CB_ERR_FORBIDDEN;
	if (rt->authorize)
		return rt->authorize(r);
	return CB_OK;
}

static int
route_pipeline(const struct responder *resp, struct req *r, size_t *ri)
{
	const struct route	*rt = NULL;
	const char		*m;
	struct jv_error		 jerr;
	void			*args = NULL;
	size_t			 i;
	int			 rc, path_ok = 0;

	/* Parse: which route, by path then method. */
	m = r->head ? "GET" : r->method;
	for (i = 0; i < resp->nroutes; i++) {
		if (r->route && strcmp(r->route, resp->routes[i].pattern) != 0)
			continue;
		if (!req_match(r, resp->routes[i].pattern, r->uri))
			continue;
		path_ok = 1;
		if (strcmp(resp->routes[i].method, m) == 0) {
			rt = &resp->routes[i];
			*ri = i;
			break;
		}
	}
	if (!path_ok)
		return CB_ERR_NOT_FOUND;
	if (rt == NULL && strcmp(r->method, "OPTIONS") == 0)
		return route_preflight(r, resp);
	if (rt == NULL) {
		route_allow(r, resp);
		return route_fail(r, CB_ERR_METHOD, "this path does not accept that method");
	}
	/* Past its sunset a route serves nothing (its headers still say why). */
	if (rt->sunset_at > 0 && (long long)time(NULL) >= rt->sunset_at)
		return route_fail(r, CB_ERR_SUNSET, "this route was retired at its sunset: "
		    "use its successor (see the Link header)");
	if ((m = route_repeated_header(r)) != NULL) {
		char d[96];

		snprintf(d, sizeof(d), "the %s header must be sent once", m);
		return route_fail(r, strcmp(m, "Idempotency-Key") == 0 ? CB_ERR_IDEM_MISSING :
		    CB_ERR_BAD_REQUEST, d);
	}
	/* Before a byte of the body (a password, a token) is read. */
	if (route_tls_only(rt) && !route_over_tls(r) &&
	    (r->app == NULL || !r->app->settings.plain_http_credentials))
		return route_fail(r, CB_ERR_TLS_REQUIRED, "this route carries credentials: "
		    "use the HTTPS address");
	if ((rc = route_read_body(r, rt->body_max)) != CB_OK) {
		if (rc == CB_ERR_TOO_LARGE) {
			char d[96];

			snprintf(d, sizeof(d), "the body exceeds this route's limit of %zu bytes",
			    rt->body_max);
			return route_fail(r, rc, d);
		}
		return rc;
	}
	if (rt->flags & ROUTE_JSON) {
		if (!route_ctype_json(r->content_type))
			return route_fail(r, CB_ERR_MEDIA_TYPE, "send Content-Type: application/json");
		if ((rc = jv_parse(r->body ? r->body : "", r->body_len, &r->json, &jerr)) != CB_OK)
			return route_fail_field(r, rc, NULL, jerr.reason);
	} else if (r->body_len > 0 && rt->body_max == 0)
		return route_fail(r, CB_ERR_TOO_LARGE, "this route accepts no body");

	if ((rc = route_authorize(rt, r)) != CB_OK)
		return rc;
	if (rt->quota != QUOTA_NONE || rt->bucket) {
		struct quota_bucket	 own;
		char			 detail[160];
		long			 wait_ms;

		memset(&own, 0, sizeof(own));
		if (rt->bucket && (rc = rt->bucket(r, &own)) != CB_OK)
			return rc;
		if ((rc = quota_take(r, rt->quota, &own, &wait_ms, detail, sizeof(detail))) ==
		    CB_ERR_RATE_LIMITED)
			return route_too_many(r, wait_ms, detail);
		if (rc != CB_OK)
			return rc;
	}

	if (rt->args_size)
		args = req_alloc(r, rt->args_size);
	if ((rt->flags & ROUTE_JSON) &&
	    (rc = jv_validate(r->json, rt->fields, rt->nfields, args, &jerr)) != CB_OK)
		return route_fail_field(r, rc, jerr.field, jerr.reason);
	if (rt->query && (rc = route_query(r, rt, args, &jerr)) != CB_OK)
		return route_fail_field(r, rc, jerr.field, jerr.reason);
	if (rt->check && (rc = rt->check(r, args)) != CB_OK)
		return rc;
	if (!(rt->flags & ROUTE_IDEMPOTENT)) {
		if ((rc = rt->act(r, args)) == CB_OK && rt->after && r->status < 300)
			rt->after(r);
		return rc;
	}
	return route_idempotent(rt, r, args);
}

void
route_handle(const struct responder *resp, struct app *app, char *const *env,
    const struct req_io *io)
{
	struct req	 r;
	struct buf	 o;
	double		 t0 = util_now_ms(), took;
	char		 st[8], ms[32];
	size_t		 ri = (size_t)-1;
	int		 rc;

	req_init(&r, env, app, io);
	req_trace_begin(&r, app == NULL || app->settings.trace);
	log_set_context(r.route ? r.route : r.uri, r.request_id);
	log_set_trace(r.trace.id);
	rc = route_pipeline(resp, &r, &ri);
	if (rc != CB_OK) {
		if (app && app->db && db_in_tx(app->db))
			db_rollback(app->db);
		/* The one answer to an error, from what was recorded for it. */
		route_render(&r, rc);
		if (errs_status(rc) >= 500)
			log_kv(LOG_LVL_ERROR, "request_failed", "error", errs_name(rc), NULL);
	}
	/* After the answer is rendered: a problem keeps these too. */
	if (ri != (size_t)-1)
		route_deprecation_headers(&r, &resp->routes[ri]);
	cors_apply(&r);
	buf_init(&o, REQ_RESP_MAX + 65536);
	if (resp_serialize(&r, &o) == CB_OK && r.io.write)
		(void)r.io.write(r.io.h, o.data, o.len);
	took = util_now_ms() - t0;
	/* A path no route of ours matches is not a route's request (nginx sent it wrong). */
	if (ri != (size_t)-1) {
		metrics_request((unsigned)ri, r.status, took / 1000.0);
		if (r.status == 429)
			metrics_add(MF_REFUSALS, route_rate_class(resp, &resp->routes[ri]), 0, 1);
	}
	snprintf(st, sizeof(st), "%d", r.status);
	snprintf(ms, sizeof(ms), "%.2f", took);
	log_kv(LOG_LVL_DEBUG, "request", "method", r.method, "status", st, "ms", ms, NULL);
	buf_free(&o);
	req_free(&r);
	log_set_context(NULL, NULL);
	log_set_trace(NULL);
}

static int
route_child_init(void *ud)
{
	struct route_ctx	*c = ud;
	struct settings		*s = &c->app.settings;

	c->app.db = db_open(s->pg_dsn);
	/* A hung Postgres or Redis costs a request little (settings.c). */
	db_set_timeouts(c->app.db, (long)s->pg_statement_timeout_ms, (long)s->pg_lock_timeout_ms);
	c->app.kv = kv_open(s->redis_host, (int)s->redis_port, s->redis_password,
	    (int)s->redis_timeout_ms);
	kv_set_breaker(c->app.kv, (int)s->kv_breaker_failures, (int)s->kv_breaker_cooloff_ms);
	/* 512 entries of at most 32 KiB: a bounded few MiB per process. */
	c->app.memo = memo_new(512, 32768);
	/* Connect eagerly but do not fail: a dependency may come back later. */
	(void)db_connect(c->app.db);
	if (c->resp->init && c->resp->init(&c->app) != CB_OK)
		return 1;
	return 0;
}

static void
route_child_handle(char *const *env, const struct req_io *io, void *ud)
{
	struct route_ctx	*c = ud;

	route_handle(c->resp, &c->app, env, io);
}

static void
route_child_fini(void *ud)
{
	struct route_ctx	*c = ud;

	if (c->resp->fini)
		c->resp->fini(&c->app);
	db_close(c->app.db);
	kv_close(c->app.kv);
	memo_free(c->app.memo);
	keyring_close(&c->app.keys);
	settings_free(&c->app.settings);
}

/*
 * The responder's metrics segment, one slot per preforked child, its route
 * labels in the responder's order (route_handle counts by that index).
 */
static int
route_metrics_open(const struct responder *resp, const struct settings *s,
    const struct srv_opts *o)
{
	struct metrics_route	 mr[METRICS_ROUTES_MAX];
	char			 err[512];
	size_t			 i, n = resp->nroutes;

	if (n > METRICS_ROUTES_MAX)
		n = METRICS_ROUTES_MAX;	/* the rest are served, not counted */
	memset(mr, 0, sizeof(mr));
	for (i = 0; i < n; i++) {
		util_strlcpy(mr[i].method, resp->routes[i].method, sizeof(mr[i].method));
		util_strlcpy(mr[i].pattern, resp->routes[i].pattern, sizeof(mr[i].pattern));
	}
	if (metrics_open(s->metrics_dir, resp->name, (unsigned)o->procs, mr, (unsigned)n, err,
	    sizeof(err)) != CB_OK) {
		log_msg(LOG_LVL_ERROR, "config_invalid", "%s", err);
		fprintf(stderr, "%s: %s\n", resp->name, err);
		return 1;
	}
	return 0;
}

int
route_main(int argc, char **argv, const struct responder *resp)
{
	struct route_ctx	 c;
	struct srv_opts		 o;
	struct srv_hooks	 h;
	enum log_level		 lvl;
	char			 err[512];
	int			 rc;

	memset(&c, 0, sizeof(c));
	c.resp = resp;
	log_init(resp->name, LOG_LVL_INFO);
	if (sodium_init() < 0) {
		log_msg(LOG_LVL_ERROR, "sodium_init_failed", "libsodium failed to initialise");
		return 1;
	}
	if (srv_parse_args(argc, argv, &o, err, sizeof(err)) == CB_OK && o.print_routes) {
		route_print_spec(resp, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (srv_parse_args(argc, argv, &o, err, sizeof(err)) != CB_OK ||
	    settings_load(&c.app.settings, err, sizeof(err)) != CB_OK) {
		log_msg(LOG_LVL_ERROR, "config_invalid", "%s", err);
		fprintf(stderr, "%s: %s\n", resp->name, err);
		return 2;
	}
	if (log_level_parse(c.app.settings.log_level, &lvl) == 0)
		log_set_min(lvl);
	if (app_keys_open(&c.app, resp->name) != 0) {
		settings_free(&c.app.settings);
		return 2;
	}
	if (route_metrics_open(resp, &c.app.settings, &o) != 0) {
		keyring_close(&c.app.keys);
		settings_free(&c.app.settings);
		return 2;
	}
	h.child_init = route_child_init;
	h.handle = route_child_handle;
	h.child_fini = route_child_fini;
	h.ud = &c;
	rc = srv_run(&o, &h);
	metrics_close();
	keyring_close(&c.app.keys);
	settings_free(&c.app.settings);
	return rc;
}
