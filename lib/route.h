/*
 * route: the request pipeline every responder runs, written once.
 *
 *   parse -> authenticate -> authorize -> validate -> idempotency begin
 *         -> act -> respond -> idempotency finish
 *
 * A responder file declares its routes (method, path pattern, body cap,
 * field table, hooks) and calls route_main() from main().  Everything that
 * is not the route's own business (method and path matching, 405 with
 * Allow, the body cap checked before reading, Content-Type, JSON parsing,
 * field validation, problem+json for every failure, the access log line)
 * happens here.
 */
#ifndef CB_ROUTE_H
#define CB_ROUTE_H

#include <stddef.h>

#include "db.h"
#include "errs.h"
#include "idem.h"
#include "jsonv.h"
#include "keyring.h"
#include "kv.h"
#include "memo.h"
#include "req.h"
#include "settings.h"

/* Per-process resources, opened in each child after fork. */
struct app {
	struct settings	 settings;
	struct db	*db;
	struct kv	*kv;
	struct keyring	 keys;		/* the seal keyring, kept in step with data_keys */
	struct memo	*memo;		/* immutable facts cached in this process */
	void		*ud;		/* the responder's own per-process state */
};

/* The seal keyring for this request (NULL if it cannot be loaded). */
struct seal_keyring *app_keys(struct app *);
/*
 * Load the settings' keyring, refusing a wrong root key: returns non-zero
 * (and logs why) when the process must not start.  Postgres being away is
 * not fatal: the keys load on first use.
 */
int	 app_keys_open(struct app *, const char *who);

#define ROUTE_JSON	0x01u	/* body: one JSON object checked against `fields` */
#define ROUTE_IDEMPOTENT 0x02u	/* Idempotency-Key required; act runs in its transaction */
/*
 * With ROUTE_IDEMPOTENT: act claims the key itself, in the one statement
 * that writes its effect and stores its answer (idem.h: IDEM_CLAIM_CTE,
 * IDEM_STORED_SQL), reading the checked key from r->idem, and sets
 * r->idem->replayed when it answered from a stored row.  No transaction is
 * opened around it: one autocommit statement, one round trip.
 */
#define ROUTE_IDEM_ONE_STATEMENT 0x04u

struct route {
	const char		*method;
	const char		*pattern;	/* as in routes.tab, e.g. "/api/v1/forms/{form_id}" */
	size_t			 body_max;	/* bytes; 0 = no body accepted */
	unsigned		 flags;
	const struct jv_field	*fields;
	size_t			 nfields;
	size_t			 args_size;	/* size of the struct the fields fill */
	/* Each hook returns CB_OK or an error code (the pipeline answers). */
	int			(*authenticate)(struct req *);
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
};

struct responder {
	const char		*name;
	const struct route	*routes;
	size_t			 nroutes;
	int			(*init)(struct app *);	/* per child, optional */
	void			(*fini)(struct app *);
};

/* main() of every responder. */
int	 route_main(int argc, char **argv, const struct responder *);
/* One request through the pipeline (exposed for tests). */
void	 route_handle(const struct responder *, struct app *, char *const *env,
	    const struct req_io *);
/* Answer a field validation failure: 400 naming the field. */
void	 route_field_problem(struct req *, int code, const char *field, const char *reason);
/*
 * The one way for a hook or act() to fail with a detail: answers the
 * problem for `code` and returns `code`, as in
 *   return route_fail(r, CB_ERR_CONFLICT, "the dead letter is not dead");
 * (the pipeline keeps an answer that matches the error it is handed).
 */
int	 route_fail(struct req *, int code, const char *detail);

#endif
