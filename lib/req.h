/*
 * req: one HTTP request as FastCGI hands it over, and the response being
 * built for it.  It does not touch libfcgi: the serving loop hands in the
 * parameter array and an I/O pair, so tests can drive it from memory.
 *
 * Ownership: a request owns every allocation made through req_alloc/
 * req_strdup/req_own, and req_free releases them all in one call.
 */
#ifndef CB_REQ_H
#define CB_REQ_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "trace.h"

#define REQ_MAX_PARAMS	8
/* The realm of every Bearer challenge this service sends (RFC 6750). */
#define REQ_AUTH_REALM	"context-broker"
#define REQ_RESP_MAX	(8u * 1024u * 1024u)

struct app;
struct idem;

/* How the pipeline reads the body and writes the response. */
struct req_io {
	/* Read up to n bytes; returns bytes read, 0 at end, <0 on error. */
	long	(*read)(void *h, char *buf, size_t n);
	/* Write all n bytes; returns 0 on success. */
	int	(*write)(void *h, const char *buf, size_t n);
	void	 *h;
};

struct req_param {
	const char	*name;
	const char	*value;
};

struct req_owned {
	void		 *ptr;
	void		(*fn)(void *);
};

#define REQ_NKNOWN	13	/* req.c: the parameters found in req_init's one pass */

struct req {
	char *const	*env;
	struct app	*app;
	struct req_io	 io;

	const char	*method;
	const char	*uri;		/* path only, decoded by nginx */
	const char	*query;
	const char	*route;		/* CB_ROUTE: the table pattern nginx matched */
	const char	*allow;		/* CB_ALLOW: every method of that path */
	const char	*request_id;
	/*
	 * The request's trace (req_trace_begin): the trace id nginx passed
	 * (TRACEPARENT when the client sent one, else the one nginx started:
	 * REQUEST_ID) and a span of this responder's own; traceparent is its
	 * header form, "" with tracing off.
	 */
	struct trace	 trace;
	char		 traceparent[TRACE_HEADER_LEN + 1];
	const char	*content_type;
	const char	*remote_addr;
	/*
	 * The parameters every request reads (req.c's table, TRACEPARENT and
	 * the Authorization and Idempotency-Key lines among them), found in
	 * one pass: the first value of each, and how many times it came.
	 */
	const char	*known[REQ_NKNOWN];
	unsigned	 known_n[REQ_NKNOWN];
	long long	 content_length;	/* -1 when absent */
	int		 head;		/* HEAD: answer as GET without a body */

	char		*body;
	size_t		 body_len;
	cJSON		*json;

	struct req_param params[REQ_MAX_PARAMS];
	size_t		 nparams;

	void		*auth;		/* the authenticated caller, set by authenticate */
	/*
	 * Who pays, set by the authenticate hooks with req->auth: the caller's
	 * organisation (its id as text) and, for an agent, its API key and that
	 * key's commands-a-minute cap (0: the setting's default).
	 */
	char		 org[24];
	char		 key_id[37];
	long long	 key_commands_per_min;
	/*
	 * What a route's earlier hook hands on to its act (command accept's
	 * .bucket: the policy it loaded), owned through req_own.
	 */
	void		*route_data;

	int		 status;
	struct buf	 headers;
	struct buf	 out;
	/*
	 * A success answer, or the stored answer of an earlier request, is
	 * set (resp_body, resp_json).  An error is never "responded": it is
	 * recorded below and rendered by the pipeline.
	 */
	int		 responded;
	/*
	 * The error a hook or act() recorded with route_fail (lib/fail.h):
	 * its code, detail and problem extensions, owned by the request.  The
	 * pipeline renders them when the code it is handed back is fail_code.
	 */
	int		 fail_code;
	const char	*fail_detail;
	cJSON		*fail_ext;
	/*
	 * What an idempotent route stores for replays when it must differ from
	 * the answer (a secret shown once is never stored): NULL = the answer.
	 */
	char		*idem_stored;
	/* ROUTE_IDEM_ONE_STATEMENT: the checked key, for act's one statement. */
	struct idem	*idem;

	struct req_owned *owned;
	size_t		 nowned, capowned;
};

void	 req_init(struct req *, char *const *env, struct app *, const struct req_io *);
void	 req_free(struct req *);

/*
 * Take the request's trace from the TRACEPARENT parameter nginx sets
 * (strictly: lib/trace.h) under a new span of this responder; a missing or
 * malformed one starts a new trace (never a refusal).  on = 0 (CB_TRACE
 * off): no trace at all.
 */
void	 req_trace_begin(struct req *, int on);
/* The traceparent to store with what this request writes, or NULL (none). */
const char *req_traceparent(const struct req *);

const char *req_env(const struct req *, const char *name);
/* A request header by its HTTP name ("Idempotency-Key"). */
const char *req_header(const struct req *, const char *name);
/*
 * How many times a request header arrived: nginx hands a repeated header
 * to FastCGI as repeated parameters, and req_header sees only the first.
 */
size_t	 req_header_count(const struct req *, const char *name);
/*
 * The credentials of "Authorization: Bearer <token>" (RFC 6750; the scheme
 * case-insensitive, RFC 9110), or NULL when there are none: the one reading
 * of a bearer token, for tab tokens, API keys, JWTs and the metrics token.
 */
const char *req_bearer(const struct req *);
/* A path parameter captured by req_match ("{form_id}" -> "form_id"). */
const char *req_param(const struct req *, const char *name);
/* A query-string parameter, percent-decoded (NULL if absent or malformed). */
const char *req_query(struct req *, const char *name);
/*
 * Every query-string parameter as a JSON object of strings, in order (a
 * repeated name appears twice, for the field check to refuse): values
 * percent-decoded ('+' a space), names as sent; a pair without '=' has the
 * value "", empty pairs are skipped.  CB_ERR_BAD_REQUEST on a malformed
 * escape, an encoded NUL, a value that is not UTF-8 text, or an empty or
 * non-printable name.  The caller owns *out.
 */
int	 req_query_object(struct req *, cJSON **out);

/*
 * Match `uri` against a pattern like "/api/v1/forms/{form_id}/submit",
 * filling req->params.  Segments must be non-empty; returns 1 on match.
 * A parameter that is a UUID is lowercased (the one spelling of an id).
 */
int	 req_match(struct req *, const char *pattern, const char *uri);

void	*req_alloc(struct req *, size_t);
char	*req_strdup(struct req *, const char *);
void	 req_own(struct req *, void *, void (*)(void *));

/* Response building.  Header names and values must not carry CR or LF. */
int	 resp_header(struct req *, const char *name, const char *value);
void	 resp_body(struct req *, int status, const char *ctype, const char *, size_t);
void	 resp_json(struct req *, int status, const cJSON *);
/*
 * An answer no cache may keep (a credential, a live state): Cache-Control:
 * no-store, then v is freed.
 */
void	 resp_json_nostore(struct req *, int status, cJSON *v);
/*
 * The pipeline's renderer (lib/route.c), and nothing else's: a hook or act()
 * fails by returning route_fail(...) (lib/fail.h), which records the error
 * for the pipeline to render once; tests/scripts/one-way-to-fail.sh fails the
 * suite if a responder or another module calls these.
 *
 * RFC 9457 problem from an error code; detail may be NULL.  A 401 always
 * carries a WWW-Authenticate challenge (RFC 9110 11.6.1): the caller's own
 * if it set one, else `Bearer realm="context-broker"`, with
 * error="invalid_token" when credentials were sent (RFC 6750 3.1).  It
 * does not set `responded`.
 */
void	 resp_problem(struct req *, int code, const char *detail);
/* The same with extension members (ownership of `ext` stays with caller). */
void	 resp_problem_ext(struct req *, int code, const char *detail, const cJSON *ext);
/* Serialize the CGI response ("Status:", headers, blank line, body). */
int	 resp_serialize(struct req *, struct buf *);

#endif
