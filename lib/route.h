/*
 * route: the request pipeline every responder runs, written once.
 *
 *   parse -> transport (HTTPS for credential routes) -> authenticate
 *         -> authorize (roles, scope, then the route's own hook) -> quota
 *         -> validate -> idempotency begin -> act -> respond
 *         -> idempotency finish
 *
 * A responder file declares its routes (method, path pattern, body cap,
 * who may call it, field table, hooks) and calls route_main() from main().
 * Everything that is not the route's own business (method and path
 * matching, 405 with Allow, the body cap checked before reading,
 * Content-Type, JSON parsing, authentication and the roles or scope the
 * route declares, field validation, problem+json for every failure, the
 * access log line) happens here.
 *
 * One way to fail: a hook or act() ends a request with an error only by
 * returning it, with its detail recorded by route_fail() and friends
 * (fail.h).  The pipeline renders the one problem+json answer from what was
 * recorded; nothing answers an error itself and returns CB_OK.
 */
#ifndef CB_ROUTE_H
#define CB_ROUTE_H

#include <stddef.h>
#include <stdio.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "fail.h"
#include "idem.h"
#include "jsonv.h"
#include "keyring.h"
#include "kv.h"
#include "memo.h"
#include "quota.h"
#include "req.h"
#include "settings.h"

#define ROUTE_JSON	0x01u	/* body: one JSON object checked against `fields` */
#define ROUTE_IDEMPOTENT 0x02u	/* Idempotency-Key required; act runs in its transaction */
/*
 * With ROUTE_IDEMPOTENT: act claims the key itself, in the one statement
 * that writes its effect and stores its answer (idem.h: IDEM_CLAIM_CTE,
 * IDEM_STORED_SQL), reading the checked key from r->idem, and sets
 * r->idem->from_store when its answer is the stored one of an earlier
 * request (so the `after` hook is skipped).  No transaction is opened
 * around it: one autocommit statement, one round trip.
 */
#define ROUTE_IDEM_ONE_STATEMENT 0x04u
/*
 * Credentials travel in the request (a password, a refresh token, an API
 * key being exchanged): refused (403) over plain HTTP unless
 * CB_PLAIN_HTTP_CREDENTIALS allows it.  Routes that authenticate a person
 * (ROUTE_AUTH_PERSON) are treated so without the flag.
 */
#define ROUTE_TLS_ONLY	0x08u

/*
 * Who may call a route, declared on it (.auth); the pipeline runs the
 * matching authentication, which fills req->auth or fails 401 with a
 * challenge:
 */
enum route_auth {
	ROUTE_AUTH_NONE = 0,	/* anyone: no credentials (health, login, a new context) */
	ROUTE_AUTH_TAB,		/* a browser tab's token (tab_authenticate): struct tab_ctx */
	ROUTE_AUTH_AGENT,	/* an agent: API key or agent JWT (userauth_authenticate_agent) */
	/*
	 * The same, the key's row remembered in this process for
	 * APIKEY_MEMO_MS (userauth_authenticate_agent_memo): only for a route
	 * whose one statement checks again that the key is live.
	 */
	ROUTE_AUTH_AGENT_MEMO,
	/* An API key only, never an agent JWT: the exchange for an agent JWT. */
	ROUTE_AUTH_AGENT_KEY,
	ROUTE_AUTH_PERSON,	/* a person's access JWT (userauth_authenticate): struct user_auth */
	/*
	 * The same, for a decision only a person may take: an agent's own
	 * valid credentials (API key or agent JWT) are recognised and refused
	 * with 403, not taken for a person's bad token
	 * (userauth_authenticate_person_only).
	 */
	ROUTE_AUTH_PERSON_ONLY,
	/*
	 * A signed message from a registered sender (an inbound webhook): the
	 * route's .authorize hook verifies the signature over the raw body and
	 * sets req->auth and req->org, or fails 401; a route of this kind
	 * without the hook is a 500, never a pass.
	 */
	ROUTE_AUTH_SIGNED,
	ROUTE_AUTH__COUNT
};

/* A NULL-terminated role list for .roles: ROLES("admin", "operator"). */
#define ROLES(...)	((const char *const []){ __VA_ARGS__, NULL })

/*
 * Rate classes: who calls a route.  routes.tab names one per route and nginx
 * limits each per client address.  A route that leaves .rate_class unset
 * takes its responder's, else the class of the caller it authenticates (tab
 * token: tab; agent kinds: agent; person: admin; none: anonymous).
 */
enum route_rate_class {
	RATE_UNSET = 0,
	RATE_ANONYMOUS,
	RATE_TAB,
	RATE_AGENT,
	RATE_ADMIN,
	RATE_WEBHOOK,
	RATE_OPERATOR,		/* the operator's listener only (nginx: ops-routes.conf) */
	RATE__COUNT
};

struct route {
	const char		*method;
	const char		*pattern;	/* as in routes.tab, e.g. "/api/v1/forms/{form_id}" */
	size_t			 body_max;	/* bytes; 0 = no body accepted */
	unsigned		 flags;
	const struct jv_field	*fields;
	size_t			 nfields;
	size_t			 args_size;	/* size of the struct the fields fill; 0: hooks get NULL */
	/*
	 * Who may call it.  .roles (the person kinds only): the person's role
	 * must be one of them, else 403 naming them; NULL: any role.  .scope
	 * (the agent kinds only): the key must hold it, else 403; NULL: none
	 * needed.  A declaration that mixes them is a 500, never a pass.
	 */
	enum route_auth		 auth;
	const char *const	*roles;
	const char		*scope;
	/*
	 * Each hook returns CB_OK or an error code, recorded with route_fail
	 * when it has a detail to say (the pipeline answers).
	 *
	 * authorize: the escape hatch, after .auth, .roles and .scope passed,
	 * for a check that needs the request itself (a tab may reach only its
	 * own form: the path's id against the token's).  Roles and scopes are
	 * declared above, never coded here.
	 */
	int			(*authorize)(struct req *);
	/* Validation that needs state (e.g. data against a form version). */
	int			(*check)(struct req *, void *args);
	/* ROUTE_IDEMPOTENT: the tenant and caller scope the key belongs to. */
	int			(*idem_scope)(struct req *, char *org, size_t, char *scope, size_t);
	int			(*act)(struct req *, const void *args);
	/* After the effect committed and the answer is set (wake-ups). */
	void			(*after)(struct req *);
	/*
	 * Query parameters, checked like body fields into the same args
	 * struct (JV_STRING or JV_INT, decimal): an unknown, repeated,
	 * malformed or out-of-bounds one is a 400 naming it.  NULL: the
	 * route reads no query (and ignores one).
	 */
	const struct jv_field	*query;
	size_t			 nquery;
	enum route_rate_class	 rate_class;	/* must agree with routes.tab */
	enum route_quota	 quota;
	/*
	 * The route's own rate bucket (lib/quota.h), filled after the caller
	 * is authenticated and charged with .quota in one Redis call, all or
	 * none; leave per_minute 0 for none this time (act then answers).
	 */
	int			(*bucket)(struct req *, struct quota_bucket *);
	/*
	 * Deprecation (docs/versioning.md), Unix seconds, 0 for none.  Once
	 * declared (a time still ahead announces it), every answer of the
	 * route carries Deprecation (RFC 9745, "@<seconds>"), Sunset (RFC
	 * 8594, an HTTP-date) when .sunset_at is set, and
	 * Link: <.deprecation_link>; rel="deprecation"
	 * (ROUTE_DEPRECATION_LINK when NULL).  From .sunset_at on the route
	 * answers nothing but 410 /problems/route-sunset, with the same
	 * headers.  docs/openapi.yaml marks the operation `deprecated: true`
	 * (tests/scripts/openapi.sh checks it against --routes).
	 */
	long long		 deprecated_at;
	long long		 sunset_at;
	const char		*deprecation_link;
};

/* Where a deprecated route's Link points unless it names its own page. */
#define ROUTE_DEPRECATION_LINK	"/api/openapi.json"

struct responder {
	const char		*name;
	const struct route	*routes;
	size_t			 nroutes;
	enum route_rate_class	 rate_class;	/* default of its routes */
	int			(*init)(struct app *);	/* per child, optional */
	void			(*fini)(struct app *);
};

/*
 * main() of every responder.  `<responder> --routes` prints its routes, one
 * "METHOD PATTERN BODY_MAX RATE_CLASS AUTH GRANT [TRAITS]" line each and
 * exits (TRAITS, only when there is one, comma-separated: "idempotent" for
 * ROUTE_IDEMPOTENT, "deprecated=<unix seconds>,sunset=<unix seconds or 0>"
 * for a deprecated route; tests/scripts/openapi.sh holds docs/openapi.yaml
 * to them):
 * the first four as routes.tab has them (tests/integration/test_routespec.c
 * compares the two), AUTH the route_auth_name of .auth, GRANT the roles
 * joined by commas or the scope, "-" when none is required
 * (test_routespec also checks that every /api/ route but the public ones
 * declares an authentication, and every admin route a person's roles).
 */
int	 route_main(int argc, char **argv, const struct responder *);

/* The number of entries of a table (routes, fields, query parameters). */
#define ROUTE_NELEM(table)	(sizeof(table) / sizeof((table)[0]))

/*
 * The tail of every responder file, written once: its responder, named
 * `rname` and serving the route table that comes first in the rest, with
 * any other members of struct responder after the table, and the main()
 * that runs it through route_main():
 *
 *   ROUTE_MAIN("admin", admin_routes)
 *   ROUTE_MAIN("auth", auth_routes, .init = signkeys_responder_init,
 *       .fini = signkeys_responder_fini)
 *
 * (The table and the members that follow it initialise .routes onwards,
 * so that a call without extra members stays within ISO C11.)
 */
#define ROUTE_FIRST_(first, ...)	first
#define ROUTE_MAIN(rname, ...)						\
	static const struct responder route_main_responder = {		\
		.name = (rname),					\
		.nroutes = ROUTE_NELEM(ROUTE_FIRST_(__VA_ARGS__, ~)),	\
		.routes = __VA_ARGS__					\
	};								\
	int								\
	main(int argc, char **argv)					\
	{								\
		return route_main(argc, argv, &route_main_responder);	\
	}

/* The rate class a route is limited by, and its routes.tab name. */
enum route_rate_class route_rate_class(const struct responder *, const struct route *);
const char *route_rate_name(enum route_rate_class);
/* The --routes name of an authentication kind: none, tab, agent, agent-memo, ... */
const char *route_auth_name(enum route_auth);
/* Print the --routes lines. */
void	 route_print_spec(const struct responder *, FILE *);
/*
 * The Deprecation, Sunset and Link headers of a deprecated route (none for
 * another), set on `r` as they are on every answer of the route.
 */
void	 route_deprecation_headers(struct req *, const struct route *);
/* 1 if the route refuses plain HTTP (ROUTE_TLS_ONLY or a person's route). */
int	 route_tls_only(const struct route *);
/* One request through the pipeline (exposed for tests). */
void	 route_handle(const struct responder *, struct app *, char *const *env,
	    const struct req_io *);

#endif
