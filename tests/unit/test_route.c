/*
 * test_route: the request pipeline through route_handle(), with a test
 * responder declared here and the in-memory req_io.  `app` is NULL: the
 * hooks and act() below touch neither Postgres nor Redis.  Each test checks
 * the serialized CGI response as nginx would receive it: status line,
 * headers, problem+json body naming the failing field, and, for the body
 * cap, that not a single read happened before the 413.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "idem.h"
#include "route.h"

/*
 * The test routes:
 *   POST   /t/items/{id}    JSON {name (1..16, required), count (0..100), flag}
 *   GET    /t/items/{id}    no body
 *   DELETE /t/items/{id}    the authorize hook refuses (401) unless "Bearer good"
 *   PUT    /t/items/{id}    authorize refuses with 403
 *   POST   /t/fail          act sets a Location header, then fails with 409
 *   POST   /t/raw           body up to 8 bytes, not JSON
 *   GET    /t/list          query {q (1..8), n (integer 1..10)}
 *   POST   /t/secret        body up to 8 bytes, HTTPS only (ROUTE_TLS_ONLY)
 *   POST   /t/busy          act fails with the pipeline's 429 (route_too_many)
 *   POST   /t/said          act answers 200, then fails with a recorded 409, detail
 *                           and extension member
 *   POST   /t/other         act records a 409 but returns 500
 *   POST   /t/checked       check refuses the field "name" (route_fail_field)
 *   GET    /t/confused      roles declared on a route that admits anyone
 *   POST   /t/idem          ROUTE_IDEMPOTENT one statement: act answers from a
 *                           "stored" row (201, or 422 when the body differs)
 *   GET    /t/old           deprecated, sunset in 2100, Link to its own page
 *   POST   /t/old           deprecated, sunset in 2100, act fails with a 409
 *   GET    /t/retired       deprecated, sunset in 2001: always 410
 *   GET    /t/announced     deprecation announced for 2100, no sunset
 */
struct item_args {
	const char	*name;
	long long	 count;
	int		 flag;
};

static const struct jv_field item_fields[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct item_args, name), NULL },
	{ "count", JV_INT, 0, 0, 100, offsetof(struct item_args, count), NULL },
	{ "flag", JV_BOOL, 0, 0, 0, offsetof(struct item_args, flag), NULL },
};

struct list_args {
	const char	*q;
	long long	 n;
};

static const struct jv_field list_query[] = {
	{ "q", JV_STRING, 0, 1, 8, offsetof(struct list_args, q), NULL },
	{ "n", JV_INT, 0, 1, 10, offsetof(struct list_args, n), NULL },
};

static int	acts, auths, afters;

static int
list_get(struct req *r, const void *args)
{
	const struct list_args	*a = args;
	cJSON			*o = cJSON_CreateObject();

	acts++;
	if (a->q)
		cJSON_AddStringToObject(o, "q", a->q);
	cJSON_AddNumberToObject(o, "n", (double)a->n);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
item_post(struct req *r, const void *args)
{
	const struct item_args	*a = args;
	cJSON			*o = cJSON_CreateObject();

	acts++;
	cJSON_AddStringToObject(o, "id", req_param(r, "id"));
	cJSON_AddStringToObject(o, "name", a->name);
	cJSON_AddNumberToObject(o, "count", (double)a->count);
	cJSON_AddBoolToObject(o, "flag", a->flag);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
item_get(struct req *r, const void *args)
{
	cJSON	*o = cJSON_CreateObject();

	acts++;
	ck_assert_ptr_null(args);
	cJSON_AddStringToObject(o, "id", req_param(r, "id"));
	cJSON_AddStringToObject(o, "kind", "item");
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
plain_ok(struct req *r, const void *args)
{
	(void)args;
	acts++;
	resp_body(r, 200, "text/plain", r->body ? r->body : "", r->body_len);
	return CB_OK;
}

static int
item_get_plain(struct req *r, const void *args)
{
	(void)args;
	acts++;
	resp_body(r, 200, "text/plain", "ok", 2);
	return CB_OK;
}

static int
auth_bearer(struct req *r)
{
	const char	*h = req_header(r, "Authorization");

	auths++;
	if (h == NULL || strcmp(h, "Bearer good") != 0)
		return CB_ERR_UNAUTHENTICATED;
	return CB_OK;
}

static int
authz_deny(struct req *r)
{
	(void)r;
	return CB_ERR_FORBIDDEN;
}

static int
fail_late(struct req *r, const void *args)
{
	(void)args;
	acts++;
	resp_header(r, "Location", "/t/items/should-not-leak");
	return CB_ERR_CONFLICT;
}

static int
busy(struct req *r, const void *args)
{
	(void)args;
	acts++;
	return route_too_many(r, 2500, "the test's budget is used up");
}

static int
said(struct req *r, const void *args)
{
	cJSON	*ext = cJSON_CreateObject();

	(void)args;
	acts++;
	resp_body(r, 200, "text/plain", "half an answer", 14);
	cJSON_AddStringToObject(ext, "original_id", "o-1");
	return route_fail_ext(r, CB_ERR_CONFLICT, "already done", ext);
}

static int
other(struct req *r, const void *args)
{
	(void)args;
	acts++;
	(void)route_fail(r, CB_ERR_CONFLICT, "not this one");
	return CB_ERR_INTERNAL;
}

static int
check_refuses(struct req *r, void *args)
{
	(void)args;
	return route_fail_field(r, CB_ERR_VALIDATION, "name", "is not welcome here");
}

static int
idem_scope(struct req *r, char *org, size_t orgsz, char *scope, size_t scopesz)
{
	(void)r;
	snprintf(org, orgsz, "1");
	snprintf(scope, scopesz, "test");
	return CB_OK;
}

/* As submit's one statement would: the key's stored row, matching unless "other". */
static int
idem_act(struct req *r, const void *args)
{
	int	 rc;

	(void)args;
	acts++;
	rc = idem_stored_answer(r, r->body && strstr(r->body, "other") ? "f" : "t", "201",
	    "{\"id\":\"first\"}");
	r->idem->from_store = rc == CB_OK;
	return rc;
}

static void
after(struct req *r)
{
	(void)r;
	afters++;
}

static const struct route test_routes[] = {
	{ .method = "POST", .pattern = "/t/items/{id}", .body_max = 64,
	  .flags = ROUTE_JSON, .fields = item_fields, .nfields = CU_NELEM(item_fields),
	  .args_size = sizeof(struct item_args), .act = item_post },
	{ .method = "GET", .pattern = "/t/items/{id}", .act = item_get },
	{ .method = "DELETE", .pattern = "/t/items/{id}", .authorize = auth_bearer,
	  .act = plain_ok },
	{ .method = "PUT", .pattern = "/t/items/{id}", .authorize = authz_deny,
	  .act = plain_ok },
	{ .method = "POST", .pattern = "/t/fail", .act = fail_late },
	{ .method = "POST", .pattern = "/t/raw", .body_max = 8, .act = plain_ok },
	{ .method = "GET", .pattern = "/t/list", .query = list_query,
	  .nquery = CU_NELEM(list_query), .args_size = sizeof(struct list_args), .act = list_get },
	{ .method = "POST", .pattern = "/t/secret", .body_max = 8, .flags = ROUTE_TLS_ONLY,
	  .act = plain_ok },
	{ .method = "POST", .pattern = "/t/busy", .act = busy },
	{ .method = "POST", .pattern = "/t/said", .act = said },
	{ .method = "POST", .pattern = "/t/other", .act = other },
	{ .method = "POST", .pattern = "/t/checked", .check = check_refuses, .act = plain_ok },
	{ .method = "GET", .pattern = "/t/confused", .roles = ROLES("admin"), .act = plain_ok },
	{ .method = "POST", .pattern = "/t/idem", .body_max = 64,
	  .flags = ROUTE_IDEMPOTENT | ROUTE_IDEM_ONE_STATEMENT, .idem_scope = idem_scope,
	  .act = idem_act, .after = after },
	/* 2024-01-01, 2100-01-01, 2000-01-01, 2001-01-01 00:00:00 UTC. */
	{ .method = "GET", .pattern = "/t/old", .act = item_get_plain,
	  .deprecated_at = 1704067200, .sunset_at = 4102444800LL,
	  .deprecation_link = "/docs/old" },
	{ .method = "POST", .pattern = "/t/old", .act = fail_late,
	  .deprecated_at = 1704067200, .sunset_at = 4102444800LL,
	  .deprecation_link = "/docs/old" },
	{ .method = "GET", .pattern = "/t/retired", .act = item_get_plain,
	  .deprecated_at = 946684800, .sunset_at = 978307200 },
	{ .method = "GET", .pattern = "/t/announced", .act = item_get_plain,
	  .deprecated_at = 4102444800LL },
};

static const struct responder test_responder = {
	.name = "unit",
	.routes = test_routes,
	.nroutes = CU_NELEM(test_routes),
};

/* One request through route_handle; the response parsed into `cr`. */
static void
run(char **env, const char *body, size_t len, struct cu_io *io, struct cu_resp *cr)
{
	struct req_io	 rio;

	cu_io_init(io, body, len);
	cu_io_bind(io, &rio);
	route_handle(&test_responder, NULL, env, &rio);
	ck_assert_int_eq(io->writes, 1);
	ck_assert_msg(cu_resp_parse(io->out.data, io->out.len, cr) == 0,
	    "unparsable response: %s", buf_cstr(&io->out));
}

static char **
plain_env(const char *method, const char *uri)
{
	return cu_env("REQUEST_METHOD", method, "DOCUMENT_URI", uri, NULL);
}

static char **
json_env(const char *method, const char *uri, size_t len)
{
	char	 cl[32];

	snprintf(cl, sizeof(cl), "%zu", len);
	return cu_env("REQUEST_METHOD", method, "DOCUMENT_URI", uri,
	    "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", cl,
	    "REQUEST_ID", "rid-1", NULL);
}

static void
assert_problem(const struct cu_resp *cr, int status, const char *type)
{
	const cJSON	*st;

	ck_assert_int_eq(cr->status, status);
	ck_assert_pstr_eq(cu_resp_header(cr, "Content-Type"), "application/problem+json");
	ck_assert_ptr_nonnull(cr->json);
	ck_assert_pstr_eq(cu_resp_str(cr, "type"), type);
	st = cJSON_GetObjectItemCaseSensitive(cr->json, "status");
	ck_assert(cJSON_IsNumber(st));
	ck_assert_int_eq(st->valueint, status);
}

START_TEST(test_not_found)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/t/nothing",
	    "REQUEST_ID", "rid-404", NULL);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 404, "/problems/not-found");
	ck_assert_pstr_eq(cu_resp_str(&cr, "instance"), "/t/nothing");
	ck_assert_pstr_eq(cu_resp_str(&cr, "request_id"), "rid-404");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const char *const nf_uris[] = {
	"/t/items/", "/t/items", "/t/items/1/", "/t/items//", "/t/fail/x", "/", "",
};

START_TEST(test_not_found_uris)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("GET", nf_uris[_i]);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 404, "/problems/not-found");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_method_allow_computed)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "PATCH", "DOCUMENT_URI", "/t/items/7",
	    NULL);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 405, "/problems/method-not-allowed");
	ck_assert_pstr_eq(cu_resp_header(&cr, "Allow"), "POST, GET, HEAD, DELETE, PUT");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_method_allow_from_nginx)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/t/fail",
	    "CB_ALLOW", "POST, OPTIONS", NULL);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 405, "/problems/method-not-allowed");
	ck_assert_pstr_eq(cu_resp_header(&cr, "Allow"), "POST, OPTIONS");
	ck_assert_uint_eq(cu_resp_header_count(&cr, "Allow"), 1);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_head_on_post_only)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("HEAD", "/t/fail");

	run(env, NULL, 0, &io, &cr);
	ck_assert_int_eq(cr.status, 405);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Allow"), "POST");
	/* HEAD: no body, even for a problem. */
	ck_assert_uint_eq(cr.body_len, 0);
	ck_assert_ptr_nonnull(cu_resp_header(&cr, "Content-Length"));
	ck_assert_str_ne(cu_resp_header(&cr, "Content-Length"), "0");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const struct {
	const char	*cl;
	const char	*uri;
} large_cases[] = {
	{ "65", "/t/items/1" },
	{ "1099511627776", "/t/items/1" },
	{ "9", "/t/raw" },
	{ "1", "/t/fail" },	/* a route that takes no body at all */
};

START_TEST(test_too_large_before_read)
{
	static const char body[] = "{\"name\":\"this body is never read\"}";
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST",
	    "DOCUMENT_URI", large_cases[_i].uri, "CONTENT_TYPE", "application/json",
	    "CONTENT_LENGTH", large_cases[_i].cl, NULL);

	run(env, body, sizeof(body) - 1, &io, &cr);
	assert_problem(&cr, 413, "/problems/payload-too-large");
	ck_assert_int_eq(io.reads, 0);
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_body_at_cap_read_in_chunks)
{
	char		 body[65];
	struct cu_io	 io;
	struct cu_resp	 cr;
	struct req_io	 rio;
	char		**env;
	int		 n;

	/* Exactly body_max bytes, delivered 5 bytes per read. */
	n = snprintf(body, sizeof(body), "{\"name\":\"%s\",\"count\":100}",
	    "0123456789abcdef");
	memset(body + n, ' ', (size_t)(64 - n));
	body[64] = '\0';
	env = json_env("POST", "/t/items/abc", 64);
	cu_io_init(&io, body, 64);
	io.chunk = 5;
	cu_io_bind(&io, &rio);
	route_handle(&test_responder, NULL, env, &rio);
	ck_assert_int_eq(cu_resp_parse(io.out.data, io.out.len, &cr), 0);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_int_ge(io.reads, 13);
	ck_assert_pstr_eq(cu_resp_str(&cr, "name"), "0123456789abcdef");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_short_body)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = json_env("POST", "/t/items/1", 40);

	/* The client promised 40 bytes and sent 10. */
	run(env, CU_LIT("{\"name\":1}"), &io, &cr);
	assert_problem(&cr, 400, "/problems/bad-request");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_bad_content_length)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/items/1",
	    "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "12abc", NULL);

	run(env, CU_LIT("{\"name\":\"x\"}"), &io, &cr);
	assert_problem(&cr, 400, "/problems/bad-request");
	ck_assert_int_eq(io.reads, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const struct {
	const char	*ctype;		/* NULL: absent */
	int		 ok;
} ctype_cases[] = {
	{ "application/json", 1 },
	{ "Application/JSON", 1 },
	{ "application/json; charset=utf-8", 1 },
	{ "application/json;charset=UTF-8", 1 },
	{ "application/json; charset=\"utf-8\"", 1 },
	{ "application/json ; Charset=\"UTF-8\" ", 1 },
	{ "application/json; charset=\"latin1\"", 0 },
	{ "application/json; charset=\"utf-8", 0 },
	{ "application/json; charset=utf-8; q=1", 0 },
	{ "application/json; boundary=x", 0 },
	{ "text/plain", 0 },
	{ "application/jsonp", 0 },
	{ "application/json; charset=latin1", 0 },
	{ "application/x-www-form-urlencoded", 0 },
	{ "", 0 },
	{ NULL, 0 },
};

START_TEST(test_content_type)
{
	static const char body[] = "{\"name\":\"n\"}";
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env;

	if (ctype_cases[_i].ctype)
		env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/items/1",
		    "CONTENT_TYPE", ctype_cases[_i].ctype, "CONTENT_LENGTH", "12", NULL);
	else
		env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/items/1",
		    "CONTENT_LENGTH", "12", NULL);
	run(env, body, sizeof(body) - 1, &io, &cr);
	if (ctype_cases[_i].ok)
		ck_assert_int_eq(cr.status, 200);
	else {
		assert_problem(&cr, 415, "/problems/unsupported-media-type");
		ck_assert_int_eq(acts, 0);
	}
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const char *const bad_json[] = {
	"{\"name\":",
	"{\"name\":\"x\"} trailing",
	"not json",
	"{\"name\":\"\xc3\x28\"}",
	"",
};

START_TEST(test_malformed_json)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	size_t		 len = strlen(bad_json[_i]);
	char		**env = json_env("POST", "/t/items/1", len);

	run(env, bad_json[_i], len, &io, &cr);
	assert_problem(&cr, 400, "/problems/malformed-json");
	ck_assert_ptr_nonnull(cu_resp_str(&cr, "detail"));
	ck_assert(!cJSON_HasObjectItem(cr.json, "field"));
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const struct {
	const char	*body;
	const char	*field;
} field_cases[] = {
	{ "{\"name\":\"x\",\"extra\":1}", "extra" },
	{ "{\"count\":1}", "name" },
	{ "{}", "name" },
	{ "{\"name\":7}", "name" },
	{ "{\"name\":\"\"}", "name" },
	{ "{\"name\":\"x\",\"count\":\"1\"}", "count" },
	{ "{\"name\":\"x\",\"count\":101}", "count" },
	{ "{\"name\":\"x\",\"count\":2.5}", "count" },
	{ "{\"name\":\"x\",\"flag\":\"yes\"}", "flag" },
	{ "{\"name\":\"x\",\"name\":\"y\"}", "name" },
	{ "{\"name\":null}", "name" },
	{ "[]", NULL },
};

START_TEST(test_field_problem)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	size_t		 len = strlen(field_cases[_i].body);
	char		**env = json_env("POST", "/t/items/1", len);
	const char	*detail;

	run(env, field_cases[_i].body, len, &io, &cr);
	assert_problem(&cr, 400, "/problems/validation");
	ck_assert_pstr_eq(cu_resp_str(&cr, "field"), field_cases[_i].field);
	detail = cu_resp_str(&cr, "detail");
	ck_assert_ptr_nonnull(detail);
	if (field_cases[_i].field)
		ck_assert_msg(strncmp(detail, field_cases[_i].field,
		    strlen(field_cases[_i].field)) == 0, "detail \"%s\"", detail);
	ck_assert_pstr_eq(cu_resp_str(&cr, "request_id"), "rid-1");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* The query string is checked like a body: every refusal names the parameter. */
static const struct {
	const char	*query;
	int		 status;
	const char	*type;
	const char	*field;		/* the field named, or the echoed q */
	long long	 n;		/* the echoed n on success */
} query_cases[] = {
	{ "", 200, NULL, NULL, 0 },
	{ "n=5&q=ab", 200, NULL, "ab", 5 },
	{ "q=a+b%21", 200, NULL, "a b!", 0 },
	{ "&&n=10&", 200, NULL, NULL, 10 },
	{ "n=0", 400, "/problems/validation", "n", 0 },
	{ "n=11", 400, "/problems/validation", "n", 0 },
	{ "n=abc", 400, "/problems/validation", "n", 0 },
	{ "n=2.5", 400, "/problems/validation", "n", 0 },
	{ "n=+5", 400, "/problems/validation", "n", 0 },
	{ "n", 400, "/problems/validation", "n", 0 },
	{ "n=1&n=2", 400, "/problems/validation", "n", 0 },
	{ "q=", 400, "/problems/validation", "q", 0 },
	{ "q=123456789", 400, "/problems/validation", "q", 0 },
	{ "x=1", 400, "/problems/validation", "x", 0 },
	{ "n=1&Q=a", 400, "/problems/validation", "Q", 0 },
	{ "q=%zz", 400, "/problems/bad-request", NULL, 0 },
	{ "q=%00", 400, "/problems/bad-request", NULL, 0 },
	{ "q=%ff", 400, "/problems/bad-request", NULL, 0 },
	{ "=1", 400, "/problems/bad-request", NULL, 0 },
};

START_TEST(test_query_fields)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/t/list",
	    "QUERY_STRING", query_cases[_i].query, NULL);
	const cJSON	*v;

	run(env, NULL, 0, &io, &cr);
	if (query_cases[_i].status == 200) {
		ck_assert_int_eq(cr.status, 200);
		ck_assert_pstr_eq(cu_resp_str(&cr, "q"), query_cases[_i].field);
		v = cJSON_GetObjectItemCaseSensitive(cr.json, "n");
		ck_assert(cJSON_IsNumber(v) && (long long)v->valuedouble == query_cases[_i].n);
		ck_assert_int_eq(acts, 1);
	} else {
		assert_problem(&cr, query_cases[_i].status, query_cases[_i].type);
		ck_assert_pstr_eq(cu_resp_str(&cr, "field"), query_cases[_i].field);
		ck_assert_int_eq(acts, 0);
	}
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_success_echo)
{
	static const char body[] =
	    "{\"name\":\"caf\xc3\xa9 \\\"x\\\"\",\"count\":42,\"flag\":true}";
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = json_env("POST", "/t/items/it-9", sizeof(body) - 1);
	const cJSON	*v;
	char		 cl[32];

	run(env, body, sizeof(body) - 1, &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_str_eq(cr.reason, "OK");
	ck_assert_pstr_eq(cu_resp_header(&cr, "Content-Type"), "application/json");
	snprintf(cl, sizeof(cl), "%zu", cr.body_len);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Content-Length"), cl);
	ck_assert_pstr_eq(cu_resp_str(&cr, "id"), "it-9");
	ck_assert_pstr_eq(cu_resp_str(&cr, "name"), "caf\xc3\xa9 \"x\"");
	v = cJSON_GetObjectItemCaseSensitive(cr.json, "count");
	ck_assert(cJSON_IsNumber(v) && v->valueint == 42);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cr.json, "flag")));
	ck_assert_int_eq(acts, 1);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_success_defaults)
{
	static const char body[] = "{\"name\":\"n\"}";
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = json_env("POST", "/t/items/d", sizeof(body) - 1);
	const cJSON	*v;

	run(env, body, sizeof(body) - 1, &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	v = cJSON_GetObjectItemCaseSensitive(cr.json, "count");
	ck_assert(cJSON_IsNumber(v) && v->valueint == 0);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cr.json, "flag")));
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_authenticate_refuses)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "DELETE",
	    "DOCUMENT_URI", "/t/items/1", "HTTP_AUTHORIZATION", "Bearer bad", NULL);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 401, "/problems/unauthenticated");
	/* Every 401 challenges (RFC 9110 11.6.1); credentials were sent: invalid_token. */
	ck_assert_pstr_eq(cu_resp_header(&cr, "WWW-Authenticate"),
	    "Bearer realm=\"context-broker\", error=\"invalid_token\"");
	ck_assert_int_eq(auths, 1);
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_401_without_credentials_challenges)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "DELETE", "DOCUMENT_URI", "/t/items/1", NULL);

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 401, "/problems/unauthenticated");
	ck_assert_pstr_eq(cu_resp_header(&cr, "WWW-Authenticate"), "Bearer realm=\"context-broker\"");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* nginx hands a repeated header over as repeated parameters: refused, never the first taken. */
static const struct {
	const char	*name;
	const char	*type;
} repeated_cases[] = {
	{ "HTTP_IDEMPOTENCY_KEY", "/problems/idempotency-key-missing" },
	{ "HTTP_AUTHORIZATION", "/problems/bad-request" },
};

START_TEST(test_repeated_single_header)
{
	static const char body[] = "{\"name\":\"n\"}";
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/items/1",
	    "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "12",
	    repeated_cases[_i].name, "\"k1\"", repeated_cases[_i].name, "\"k2\"", NULL);

	run(env, body, sizeof(body) - 1, &io, &cr);
	assert_problem(&cr, 400, repeated_cases[_i].type);
	ck_assert_ptr_nonnull(strstr(cu_resp_str(&cr, "detail"), "must be sent once"));
	ck_assert_int_eq(acts, 0);
	ck_assert_int_eq(io.reads, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_authenticate_accepts)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "DELETE",
	    "DOCUMENT_URI", "/t/items/1", "HTTP_AUTHORIZATION", "Bearer good", NULL);

	run(env, NULL, 0, &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_int_eq(auths, 1);
	ck_assert_int_eq(acts, 1);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_authorize_refuses)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("PUT", "/t/items/1");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 403, "/problems/forbidden");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_raw_body_route)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/raw",
	    "CONTENT_LENGTH", "8", "CONTENT_TYPE", "text/plain", NULL);

	run(env, CU_LIT("12345678"), &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_str_eq(cr.body, "12345678");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_head_matches_get)
{
	struct cu_io	 gio, hio;
	struct cu_resp	 g, h;
	char		**genv = plain_env("GET", "/t/items/x1");
	char		**henv = plain_env("HEAD", "/t/items/x1");

	run(genv, NULL, 0, &gio, &g);
	run(henv, NULL, 0, &hio, &h);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(h.status, 200);
	ck_assert_uint_gt(g.body_len, 0);
	ck_assert_uint_eq(h.body_len, 0);
	/* HEAD announces the length GET would send. */
	ck_assert_pstr_eq(cu_resp_header(&h, "Content-Length"),
	    cu_resp_header(&g, "Content-Length"));
	ck_assert_pstr_eq(cu_resp_header(&h, "Content-Type"), cu_resp_header(&g, "Content-Type"));
	ck_assert_pstr_eq(cu_resp_str(&g, "id"), "x1");
	cu_resp_free(&g);
	cu_resp_free(&h);
	cu_io_free(&gio);
	cu_io_free(&hio);
	cu_env_free(genv);
	cu_env_free(henv);
}
END_TEST

START_TEST(test_cb_route_filters)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/t/items/1",
	    "CB_ROUTE", "/t/other/{id}", NULL);

	/* nginx said which table pattern matched: no other route may answer. */
	run(env, NULL, 0, &io, &cr);
	ck_assert_int_eq(cr.status, 404);
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_act_error_wins)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("POST", "/t/fail");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 409, "/problems/conflict");
	ck_assert_int_eq(acts, 1);
	/*
	 * BUG: a header the handler set before failing survives into the
	 * problem response: "Location: /t/items/should-not-leak" is sent
	 * with the 409.  resp_problem_ext (lib/req.c:335) says "Drop headers
	 * a handler may have set before failing, keep Allow etc." but drops
	 * nothing.  Expected: no Location header on the problem.
	 */
	ck_assert_ptr_null(cu_resp_header(&cr, "Location"));
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_no_writer)
{
	struct req_io	 rio = { NULL, NULL, NULL };
	char		**env = plain_env("GET", "/t/items/1");

	/* Without a writer the request is still handled and freed. */
	route_handle(&test_responder, NULL, env, &rio);
	ck_assert_int_eq(acts, 1);
	cu_env_free(env);
}
END_TEST

static void
reset_counters(void)
{
	acts = 0;
	auths = 0;
	afters = 0;
}

/* A credential route over plain HTTP: refused before a byte is read. */
START_TEST(test_tls_only_refuses_plain)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/secret",
	    "CONTENT_LENGTH", "6", NULL);

	run(env, CU_LIT("hunter"), &io, &cr);
	assert_problem(&cr, 403, "/problems/https-required");
	ck_assert_int_eq(io.reads, 0);
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* The same over TLS (nginx passes HTTPS=on) goes through. */
START_TEST(test_tls_only_accepts_https)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/secret",
	    "CONTENT_LENGTH", "6", "HTTPS", "on", NULL);

	run(env, CU_LIT("hunter"), &io, &cr);
	ck_assert_int_eq(cr.status, 200);
	ck_assert_int_eq(acts, 1);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* The one 429: Retry-After in whole seconds, rounded up, and the problem. */
START_TEST(test_too_many_retry_after)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("POST", "/t/busy");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 429, "/problems/rate-limited");
	ck_assert_pstr_eq(cu_resp_header(&cr, "Retry-After"), "3");
	ck_assert_pstr_eq(cu_resp_str(&cr, "detail"), "the test's budget is used up");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* The recorded error is the answer: its detail and members, never the half-set 200. */
START_TEST(test_recorded_error_rendered)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("POST", "/t/said");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 409, "/problems/conflict");
	ck_assert_pstr_eq(cu_resp_str(&cr, "detail"), "already done");
	ck_assert_pstr_eq(cu_resp_str(&cr, "original_id"), "o-1");
	ck_assert_ptr_null(strstr(cr.body, "half an answer"));
	ck_assert_pstr_eq(cu_resp_header(&cr, "Cache-Control"), "no-store");
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* A record for another code than the one returned is not that error's detail. */
START_TEST(test_other_code_generic)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("POST", "/t/other");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 500, "/problems/internal");
	ck_assert_ptr_null(cu_resp_str(&cr, "detail"));
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

START_TEST(test_check_refuses_field)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("POST", "/t/checked");

	run(env, NULL, 0, &io, &cr);
	assert_problem(&cr, 400, "/problems/validation");
	ck_assert_pstr_eq(cu_resp_str(&cr, "field"), "name");
	ck_assert_pstr_eq(cu_resp_str(&cr, "detail"), "name: is not welcome here");
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* Roles on a route nobody authenticates cannot be meant: 500, never a pass. */
START_TEST(test_roles_without_person)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env("GET", "/t/confused");

	run(env, NULL, 0, &io, &cr);
	ck_assert_int_eq(cr.status, 500);
	ck_assert_int_eq(acts, 0);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

static const struct {
	const char	*key;		/* NULL: no header */
	const char	*body;
	int		 status;
	const char	*type;		/* NULL: the stored answer */
	int		 acts, afters;
} idem_cases[] = {
	{ NULL, "{}", 400, "/problems/idempotency-key-missing", 0, 0 },
	{ "\"bad key\"", "{}", 400, "/problems/idempotency-key-missing", 0, 0 },
	{ "\"k1\"", "{}", 201, NULL, 1, 0 },
	{ "\"k1\"", "{\"other\":1}", 422, "/problems/idempotency-key-reused", 1, 0 },
};

/* A missing key and a mismatch are errors; a stored answer skips `after`. */
START_TEST(test_idempotency_errors)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		 cl[32];
	char		**env;

	snprintf(cl, sizeof(cl), "%zu", strlen(idem_cases[_i].body));
	env = idem_cases[_i].key ? cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/idem",
	    "CONTENT_LENGTH", cl, "HTTP_IDEMPOTENCY_KEY", idem_cases[_i].key, NULL) :
	    cu_env("REQUEST_METHOD", "POST", "DOCUMENT_URI", "/t/idem", "CONTENT_LENGTH", cl, NULL);
	run(env, idem_cases[_i].body, strlen(idem_cases[_i].body), &io, &cr);
	if (idem_cases[_i].type)
		assert_problem(&cr, idem_cases[_i].status, idem_cases[_i].type);
	else {
		ck_assert_int_eq(cr.status, idem_cases[_i].status);
		ck_assert_pstr_eq(cu_resp_header(&cr, "Idempotent-Replayed"), "true");
		ck_assert_pstr_eq(cu_resp_str(&cr, "id"), "first");
	}
	ck_assert_int_eq(acts, idem_cases[_i].acts);
	ck_assert_int_eq(afters, idem_cases[_i].afters);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/*
 * A deprecated route says so on every answer, a success and a problem
 * alike; past its sunset it is a 410 that never reaches act(); a route
 * without a deprecation sends none of the headers.
 */
static const struct {
	const char	*method, *uri;
	int		 status, acts;
	const char	*deprecation, *sunset, *link;
} deprecation_cases[] = {
	{ "GET", "/t/old", 200, 1, "@1704067200", "Fri, 01 Jan 2100 00:00:00 GMT",
	  "</docs/old>; rel=\"deprecation\"" },
	{ "POST", "/t/old", 409, 1, "@1704067200", "Fri, 01 Jan 2100 00:00:00 GMT",
	  "</docs/old>; rel=\"deprecation\"" },
	{ "GET", "/t/retired", 410, 0, "@946684800", "Mon, 01 Jan 2001 00:00:00 GMT",
	  "<" ROUTE_DEPRECATION_LINK ">; rel=\"deprecation\"" },
	{ "GET", "/t/announced", 200, 1, "@4102444800", NULL,
	  "<" ROUTE_DEPRECATION_LINK ">; rel=\"deprecation\"" },
	{ "GET", "/t/items/x", 200, 1, NULL, NULL, NULL },
};

START_TEST(test_deprecation_headers)
{
	struct cu_io	 io;
	struct cu_resp	 cr;
	char		**env = plain_env(deprecation_cases[_i].method, deprecation_cases[_i].uri);

	run(env, NULL, 0, &io, &cr);
	ck_assert_int_eq(cr.status, deprecation_cases[_i].status);
	if (cr.status == 410)
		assert_problem(&cr, 410, "/problems/route-sunset");
	if (cr.status == 409)
		assert_problem(&cr, 409, "/problems/conflict");
	ck_assert_int_eq(acts, deprecation_cases[_i].acts);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Deprecation"), deprecation_cases[_i].deprecation);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Sunset"), deprecation_cases[_i].sunset);
	ck_assert_pstr_eq(cu_resp_header(&cr, "Link"), deprecation_cases[_i].link);
	cu_resp_free(&cr);
	cu_io_free(&io);
	cu_env_free(env);
}
END_TEST

/* --routes prints a route's traits as a 7th column, and only when it has one. */
START_TEST(test_deprecation_spec)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	route_print_spec(&test_responder, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(out, "GET /t/old 0 anonymous none - "
	    "deprecated=1704067200,sunset=4102444800\n"));
	ck_assert_ptr_nonnull(strstr(out, "GET /t/announced 0 anonymous none - "
	    "deprecated=4102444800,sunset=0\n"));
	ck_assert_ptr_nonnull(strstr(out, "GET /t/items/{id} 0 anonymous none -\n"));
	ck_assert_ptr_nonnull(strstr(out, "POST /t/idem 64 anonymous none - idempotent\n"));
	free(out);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite	*s = suite_create("route");
	TCase	*tc;

	tc = tcase_create("dispatch");
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_test(tc, test_not_found);
	tcase_add_loop_test(tc, test_not_found_uris, 0, (int)CU_NELEM(nf_uris));
	tcase_add_test(tc, test_method_allow_computed);
	tcase_add_test(tc, test_method_allow_from_nginx);
	tcase_add_test(tc, test_head_on_post_only);
	tcase_add_test(tc, test_head_matches_get);
	tcase_add_test(tc, test_cb_route_filters);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_loop_test(tc, test_too_large_before_read, 0, (int)CU_NELEM(large_cases));
	tcase_add_test(tc, test_body_at_cap_read_in_chunks);
	tcase_add_test(tc, test_short_body);
	tcase_add_test(tc, test_bad_content_length);
	tcase_add_loop_test(tc, test_content_type, 0, (int)CU_NELEM(ctype_cases));
	tcase_add_loop_test(tc, test_malformed_json, 0, (int)CU_NELEM(bad_json));
	tcase_add_loop_test(tc, test_field_problem, 0, (int)CU_NELEM(field_cases));
	tcase_add_test(tc, test_raw_body_route);
	tcase_add_loop_test(tc, test_query_fields, 0, (int)CU_NELEM(query_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("hooks");
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_test(tc, test_success_echo);
	tcase_add_test(tc, test_success_defaults);
	tcase_add_test(tc, test_authenticate_refuses);
	tcase_add_test(tc, test_authenticate_accepts);
	tcase_add_test(tc, test_401_without_credentials_challenges);
	tcase_add_loop_test(tc, test_repeated_single_header, 0, CU_NELEM(repeated_cases));
	tcase_add_test(tc, test_authorize_refuses);
	tcase_add_test(tc, test_act_error_wins);
	tcase_add_test(tc, test_no_writer);
	tcase_add_test(tc, test_tls_only_refuses_plain);
	tcase_add_test(tc, test_tls_only_accepts_https);
	tcase_add_test(tc, test_too_many_retry_after);
	suite_add_tcase(s, tc);

	tc = tcase_create("one way to fail");
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_test(tc, test_recorded_error_rendered);
	tcase_add_test(tc, test_other_code_generic);
	tcase_add_test(tc, test_check_refuses_field);
	tcase_add_test(tc, test_roles_without_person);
	tcase_add_loop_test(tc, test_idempotency_errors, 0, (int)CU_NELEM(idem_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("deprecation");
	tcase_add_checked_fixture(tc, reset_counters, NULL);
	tcase_add_loop_test(tc, test_deprecation_headers, 0, (int)CU_NELEM(deprecation_cases));
	tcase_add_test(tc, test_deprecation_spec);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(route_suite());
}
