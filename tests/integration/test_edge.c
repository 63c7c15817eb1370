/*
 * test_edge: abuse controls and edge hygiene, through the real nginx.
 *
 * The stack exempts 127.0.0.1 from the edge limits (every other suite talks
 * from there); these tests talk from other loopback addresses (http_source)
 * and so see the limits scripts/test.sh configures: the production rates,
 * a WebSocket cap of CB_EDGE_WS_PER_ADDR.  Each test uses its own address,
 * so no test inherits another's spent budget.
 *
 *   - a burst past an address's rate for a class answers nginx's 429
 *     problem+json with Retry-After, for that address and class only;
 *   - requests in progress past the cap per address answer 429;
 *   - WebSockets past the cap per address are refused, the open ones keep
 *     receiving commands, and a closed one frees its slot;
 *   - HSTS on the TLS listener only; the CSP's connect-src names the
 *     broker's own origin and its wss:// form, nothing wider;
 *   - credential routes refuse plain HTTP with 403 https-required;
 *   - quotas: a tenant's submits a minute by its plan tier, an API key's own
 *     commands a minute, and one tenant over its quota leaves another's
 *     submits alone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "../support/http.h"
#include "../support/seed.h"
#include "../support/submit.h"
#include "../support/testdb.h"
#include "../support/ws.h"
#include "util.h"

#define HSTS	"max-age=31536000; includeSubDomains"

static long
env_long(const char *name)
{
	long long	 v;

	ck_assert_msg(util_parse_ll(test_env(name), 1, 100000, &v) == 0, "%s", name);
	return (long)v;
}

/* ------------------------------------------------------------ rate limits */

START_TEST(test_burst_refused_per_address_and_class)
{
	struct http_resp r;
	long		 burst = env_long("CB_EDGE_BURST_ANONYMOUS");
	int		 i, ok = 0, limited = 0;

	http_source("127.0.0.2");
	/* Far more than rate + burst could admit in the time this takes. */
	for (i = 0; i < 4 * burst + 40 && limited == 0; i++) {
		ck_assert_int_eq(http_do("GET", "/api/health", NULL, NULL, 0, &r), 0);
		if (r.status == 200)
			ok++;
		else if (r.status == 429) {
			limited = 1;
			http_expect_problem(&r, 429, "/problems/rate-limited");
			ck_assert_pstr_eq(http_header(&r, "Retry-After"), "1");
			ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id"));
			ck_assert_pstr_eq(http_json_str(&r, "request_id"), http_header(&r, "X-Request-Id"));
			ck_assert_pstr_eq(http_header(&r, "X-Content-Type-Options"), "nosniff");
		} else
			ck_abort_msg("GET /api/health answered %ld: %s", r.status, r.body);
		http_free(&r);
	}
	ck_assert_msg(limited, "no 429 after %d requests", i);
	printf("edge burst: %d served, then 429 (burst %ld)\n", ok, burst);
	/* The burst itself is served: the limit is not tighter than configured. */
	ck_assert_msg(ok >= burst, "only %d requests served before the 429 (burst %ld)", ok, burst);

	/* The same address, another class (agent): its own budget. */
	ck_assert_int_eq(http_do("GET", "/api/v1/commands/00000000-0000-0000-0000-000000000000",
	    NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_free(&r);

	/* Another address: untouched. */
	http_source("127.0.0.3");
	ck_assert_int_eq(http_do("GET", "/api/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	/* The exempt address (every other suite's). */
	http_source(NULL);
	ck_assert_int_eq(http_do("GET", "/api/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
}
END_TEST

/*
 * Requests in progress per address: each of these sends its headers and
 * holds back the body it announced, so nginx counts it as in progress.
 */
static int
held_request(const char *src, const char *text)
{
	const char		*url = test_env("CB_HTTP_URL");
	struct sockaddr_in	 a, from;
	const char		*req = "POST /api/v1/contexts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
	long long		 port;
	int			 fd;

	ck_assert_int_eq(util_parse_ll(strrchr(url, ':') + 1, 1, 65535, &port), 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	inet_pton(AF_INET, src, &from.sin_addr);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (text == NULL)
		text = req;
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

START_TEST(test_requests_in_progress_capped)
{
	struct http_resp r;
	long		 cap = env_long("CB_EDGE_CONN_PER_ADDR"), i;
	int		*fds;

	ck_assert_int_le(cap, 64);
	fds = calloc((size_t)cap, sizeof(*fds));
	for (i = 0; i < cap; i++)
		fds[i] = held_request("127.0.0.6", NULL);
	/* Let nginx read every held request's headers. */
	test_sleep_ms(500);
	http_source("127.0.0.6");
	ck_assert_int_eq(http_do("GET", "/api/health", NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 429, "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	http_free(&r);
	/* Another address is not affected. */
	http_source("127.0.0.7");
	ck_assert_int_eq(http_do("GET", "/api/health", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
	for (i = 0; i < cap; i++)
		close(fds[i]);
	free(fds);
}
END_TEST

/* ------------------------------------------------------------- WebSockets */

static void
ws_ready(struct ws *w, const char *ctx, const char *tok)
{
	char	 path[96];
	cJSON	*j;

	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_msg(ws_open(w, path, NULL) == 0, "WebSocket open failed (status %d)",
	    w->http_status);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", tok), 0);
	j = ws_next(w, 10000);
	ck_assert_msg(j != NULL, "no ready message (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	cJSON_Delete(j);
}

static void
send_command(const char *key, const char *ctx, const char *nonce, struct http_resp *r)
{
	char		 path[160], a[160], body[256];
	const char	*h[] = { "Content-Type: application/json", a, NULL };

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", key);
	snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"%s\"}",
	    nonce);
	ck_assert_int_eq(http_do("POST", path, h, body, strlen(body), r), 0);
}

static void
expect_pushed(struct ws *w, const char *key, const char *ctx, const char *nonce)
{
	struct http_resp r;
	cJSON		*j;
	const char	*src = http_source_addr();

	http_source(NULL);
	send_command(key, ctx, nonce, &r);
	ck_assert_msg(r.status == 202, "command: %ld %s", r.status, r.body);
	http_free(&r);
	http_source(src);
	j = ws_next_type(w, "command", 10000);
	ck_assert_msg(j != NULL, "the open WebSocket got no command (close %d)", w->close_code);
	cJSON_Delete(j);
}

START_TEST(test_websocket_cap_per_address)
{
	struct seed	 s;
	struct ws	*w;
	struct http_resp r;
	long		 cap = env_long("CB_EDGE_WS_PER_ADDR"), i;
	char		(*ctx)[40], (*tok)[64], path[96];
	struct ws	 extra;
	double		 t0;
	int		 reopened = 0;

	ck_assert_int_le(cap, 32);
	seed_tenant(&s);
	w = calloc((size_t)cap + 1, sizeof(*w));
	ctx = calloc((size_t)cap + 1, sizeof(*ctx));
	tok = calloc((size_t)cap + 1, sizeof(*tok));
	for (i = 0; i <= cap; i++)
		seed_context(s.form_id, ctx[i], tok[i]);

	http_source("127.0.0.4");
	for (i = 0; i < cap; i++)
		ws_ready(&w[i], ctx[i], tok[i]);
	/* One more from the same address: refused at the edge, before the worker. */
	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx[cap]);
	ck_assert_int_eq(ws_open(&extra, path, NULL), -1);
	ck_assert_int_eq(extra.http_status, 429);
	ws_free(&extra);
	/* Its answer is the edge's problem+json. */
	ck_assert_int_eq(http_do("GET", path, NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 429, "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	http_free(&r);

	/* Another address is not affected by this one's sockets. */
	http_source("127.0.0.5");
	ws_ready(&extra, ctx[cap], tok[cap]);
	ws_close(&extra, 1000);
	ws_free(&extra);
	http_source("127.0.0.4");

	/* The open ones keep working. */
	expect_pushed(&w[0], s.api_key, ctx[0], "edge-ws-first-0001");
	expect_pushed(&w[cap - 1], s.api_key, ctx[cap - 1], "edge-ws-last-00001");

	/* A closed one frees its slot (nginx notices the close promptly). */
	ws_close(&w[0], 1000);
	ws_free(&w[0]);
	t0 = test_now_s();
	while (!reopened && test_now_s() - t0 < 15.0) {
		if (ws_open(&extra, path, NULL) == 0)
			reopened = 1;
		else {
			ws_free(&extra);
			test_sleep_ms(100);
		}
	}
	ck_assert_msg(reopened, "the slot of a closed WebSocket was not freed");
	ws_free(&extra);
	for (i = 1; i < cap; i++)
		ws_free(&w[i]);
	free(w);
	free(ctx);
	free(tok);
}
END_TEST

/* ------------------------------------------------------- headers, TLS */

START_TEST(test_hsts_on_tls_only)
{
	struct http_resp r;
	char		 url[512];

	snprintf(url, sizeof(url), "%s/api/health", https_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_pstr_eq(http_header(&r, "Strict-Transport-Security"), HSTS);
	http_free(&r);
	/* nginx's own error answers carry it too. */
	snprintf(url, sizeof(url), "%s/api/v1/no-such-route", https_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	http_expect_problem(&r, 404, "/problems/not-found");
	ck_assert_pstr_eq(http_header(&r, "Strict-Transport-Security"), HSTS);
	http_free(&r);

	snprintf(url, sizeof(url), "%s/api/health", http_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(http_header(&r, "Strict-Transport-Security"));
	http_free(&r);
	snprintf(url, sizeof(url), "%s/", http_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_ptr_null(http_header(&r, "Strict-Transport-Security"));
	http_free(&r);
}
END_TEST

START_TEST(test_csp_connect_src_is_own_origin)
{
	struct http_resp r;
	const char	*pub = test_env("CB_PUBLIC_URL"), *csp, *p;
	char		 want[640], got[640], host[256];
	size_t		 n;

	/* CB_PUBLIC_URL is https://host:port in the stack. */
	ck_assert(strncmp(pub, "https://", 8) == 0);
	util_strlcpy(host, pub + 8, sizeof(host));
	host[strcspn(host, "/")] = '\0';
	snprintf(want, sizeof(want), "connect-src 'self' https://%s wss://%s", host, host);
	ck_assert_int_eq(http_do("GET", "/", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(csp = http_header(&r, "Content-Security-Policy"));
	ck_assert_ptr_nonnull(p = strstr(csp, "connect-src "));
	n = strcspn(p, ";");
	ck_assert_uint_lt(n, sizeof(got));
	memcpy(got, p, n);
	got[n] = '\0';
	ck_assert_str_eq(got, want);
	/* No bare scheme source (any WebSocket host) anywhere in the policy. */
	{
		char	*copy = strdup(csp), *tok, *save = NULL;

		for (tok = strtok_r(copy, " ;", &save); tok; tok = strtok_r(NULL, " ;", &save))
			ck_assert_msg(strcmp(tok, "ws:") != 0 && strcmp(tok, "wss:") != 0 &&
			    strchr(tok, '*') == NULL, "CSP source %s in %s", tok, csp);
		free(copy);
	}
	http_free(&r);
}
END_TEST

static const struct {
	const char	*method;
	const char	*path;
	const char	*body;
} cred_routes[] = {
	{ "POST", "/api/v1/auth/login",
	  "{\"org\":\"acme\",\"email\":\"a@example.com\",\"password\":\"not-sent\"}" },
	{ "POST", "/api/v1/auth/refresh", "{\"refresh_token\":\"x\"}" },
	{ "POST", "/api/v1/auth/logout", "{\"refresh_token\":\"x\"}" },
	{ "POST", "/api/v1/auth/agent-token", NULL },
	{ "GET", "/api/v1/auth/me", NULL },
	{ "GET", "/api/v1/admin/users", NULL },
	{ "POST", "/api/v1/admin/agents", "{\"name\":\"x\"}" },
	{ "GET", "/api/v1/admin/dead-letters", NULL },
	{ "GET", "/api/v1/admin/webhooks", NULL },
};

START_TEST(test_credentials_refused_on_plain_http)
{
	struct http_resp r;
	char		 url[512];
	const char	*h[] = { "Content-Type: application/json", NULL };
	const char	*b = cred_routes[_i].body;

	snprintf(url, sizeof(url), "%s%s", http_base(), cred_routes[_i].path);
	ck_assert_int_eq(http_do(cred_routes[_i].method, url, h, b, b ? strlen(b) : 0, &r), 0);
	http_expect_problem(&r, 403, "/problems/https-required");
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "HTTPS"));
	http_free(&r);

	/* Over TLS the route answers as it always has (no credentials here). */
	snprintf(url, sizeof(url), "%s%s", https_base(), cred_routes[_i].path);
	ck_assert_int_eq(http_do(cred_routes[_i].method, url, h, b, b ? strlen(b) : 0, &r), 0);
	ck_assert_msg(r.status != 403 && r.status >= 200 && r.status < 500,
	    "%s %s over TLS: %ld %s", cred_routes[_i].method, cred_routes[_i].path, r.status, r.body);
	http_free(&r);
}
END_TEST

/* nginx's own refusals are problem+json with the app's types. */
START_TEST(test_nginx_refusals_are_problems)
{
	struct http_resp r;
	char		*url = malloc(20000);
	size_t		 n;
	const char	*h[] = { "Content-Type: application/json", NULL };
	char		 body[2048];

	/* A request line past nginx's 16 KiB header buffers (http_do caps URLs). */
	{
		char	*resp = calloc(1, 65536);
		size_t	 got = 0;
		ssize_t	 k;
		int	 fd = held_request("127.0.0.1", "");

		n = (size_t)snprintf(url, 20000, "GET /api/health?pad=");
		memset(url + n, 'a', 20000 - n);
		ck_assert_int_eq(write(fd, url, 20000), 20000);
		const char *tail = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

		ck_assert_int_eq(write(fd, tail, strlen(tail)), (ssize_t)strlen(tail));
		while (got < 65535 && (k = read(fd, resp + got, 65535 - got)) > 0)
			got += (size_t)k;
		close(fd);
		ck_assert_msg(strncmp(resp, "HTTP/1.1 414", 12) == 0, "%.200s", resp);
		ck_assert_ptr_nonnull(strstr(resp, "application/problem+json"));
		ck_assert_ptr_nonnull(strstr(resp, "\"type\":\"/problems/uri-too-long\""));
		free(resp);
	}
	free(url);
	/* Over the route's body cap (1024 for contexts), before the responder. */
	memset(body, ' ', sizeof(body));
	body[0] = '{';
	body[sizeof(body) - 1] = '}';
	ck_assert_int_eq(http_do("POST", "/api/v1/contexts", h, body, sizeof(body), &r), 0);
	http_expect_problem(&r, 413, "/problems/payload-too-large");
	ck_assert_pstr_eq(http_json_str(&r, "title"), "Payload too large");
	http_free(&r);
}
END_TEST

START_TEST(test_other_routes_on_plain_http)
{
	struct http_resp r;
	char		 url[512];

	snprintf(url, sizeof(url), "%s/.well-known/jwks.json", http_base());
	ck_assert_int_eq(http_do("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
}
END_TEST

/* ----------------------------------------------------------------- quotas */

static void
tenant_on(struct seed *s, const char *plan)
{
	char	 args[160], out[1024];

	seed_tenant(s);
	snprintf(args, sizeof(args), "org-plan %s %s", s->slug, plan);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
}

/* One submit on a new tab: its status; the 429's shape is checked here. */
static long
submit_once(const struct seed *s, const char *tag, int i, double *secs)
{
	struct http_resp r;
	char		 ctx[40], tok[64], path[160], a[128], k[160];
	const char	*h[] = { "Content-Type: application/json", a, k, NULL };
	double		 t0;
	long		 st;

	seed_context(s->form_id, ctx, tok);
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s->form_id);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(k, sizeof(k), "Idempotency-Key: \"edge-%s-%s-%d\"", tag, s->slug, i);
	t0 = test_now_s();
	ck_assert_int_eq(http_do("POST", path, h, SUBMIT_BODY, strlen(SUBMIT_BODY), &r), 0);
	if (secs)
		*secs = test_now_s() - t0;
	st = r.status;
	if (st == 429) {
		long long ra;

		http_expect_problem(&r, 429, "/problems/rate-limited");
		ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
		ck_assert_int_eq(util_parse_ll(http_header(&r, "Retry-After"), 1, 60, &ra), 0);
		ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "plan's quota"));
	} else
		ck_assert_msg(st == 201, "submit: %ld %s", st, r.body);
	http_free(&r);
	return st;
}

START_TEST(test_quota_per_tier_and_isolation)
{
	struct seed	 a, c, b;
	long		 team = env_long("CB_QUOTA_TEAM_SUBMITS_PER_MIN");
	long		 ent = env_long("CB_QUOTA_ENTERPRISE_SUBMITS_PER_MIN");
	double		 secs, worst = 0;
	int		 i;

	ck_assert_int_lt(team, ent);
	tenant_on(&a, "team");
	tenant_on(&c, "enterprise");
	seed_tenant(&b);		/* free: the suite's plan, never reached */
	for (i = 0; i < team; i++)
		ck_assert_int_eq(submit_once(&a, "a", i, NULL), 201);
	ck_assert_int_eq(submit_once(&a, "a", i, NULL), 429);
	ck_assert_int_eq(submit_once(&a, "a", i + 1, NULL), 429);
	/* Another tier, its own budget. */
	for (i = 0; i < ent; i++)
		ck_assert_int_eq(submit_once(&c, "c", i, NULL), 201);
	ck_assert_int_eq(submit_once(&c, "c", i, NULL), 429);
	/* Tenant A is over its quota; tenant B's submits go through, promptly. */
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(submit_once(&b, "b", i, &secs), 201);
		ck_assert_msg(secs < 5.0, "tenant B's submit took %.2f s", secs);
		worst = secs > worst ? secs : worst;
	}
	printf("quota isolation: tenant B's slowest submit while A is over quota: %.0f ms\n",
	    worst * 1000.0);
	/* And A stays refused: B's traffic did not refill it. */
	ck_assert_int_eq(submit_once(&a, "a", 100, NULL), 429);
}
END_TEST

START_TEST(test_quota_per_api_key)
{
	struct seed	 s;
	struct http_resp r;
	char		 ctx[40], tok[64], nonce[48], args[160], out[1024], key2[80];
	const char	*p[1];
	int		 i;

	seed_tenant(&s);
	seed_context(s.form_id, ctx, tok);
	p[0] = s.slug;
	testdb_exec("UPDATE api_keys SET commands_per_min = 3"
	    " WHERE org_id = (SELECT id FROM orgs WHERE slug = $1)", 1, p);
	for (i = 0; i < 3; i++) {
		snprintf(nonce, sizeof(nonce), "edge-key-%08d", i);
		send_command(s.api_key, ctx, nonce, &r);
		ck_assert_msg(r.status == 202, "command %d: %ld %s", i, r.status, r.body);
		http_free(&r);
	}
	send_command(s.api_key, ctx, "edge-key-over-0001", &r);
	http_expect_problem(&r, 429, "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	ck_assert_ptr_nonnull(strstr(http_json_str(&r, "detail"), "API key's quota of 3"));
	http_free(&r);
	/* Another key of the same agent and tenant has its own budget. */
	snprintf(args, sizeof(args), "key-create %s", s.agent_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	{
		cJSON *j = cJSON_Parse(out);

		ck_assert_ptr_nonnull(j);
		util_strlcpy(key2, cJSON_GetObjectItem(j, "api_key")->valuestring, sizeof(key2));
		cJSON_Delete(j);
	}
	test_record_secret(key2);
	send_command(key2, ctx, "edge-key-other-001", &r);
	ck_assert_msg(r.status == 202, "the other key: %ld %s", r.status, r.body);
	http_free(&r);
}
END_TEST

static Suite *
edge_suite(void)
{
	Suite	*s = suite_create("edge");
	TCase	*tc;

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_burst_refused_per_address_and_class);
	tcase_add_test(tc, test_requests_in_progress_capped);
	tcase_add_test(tc, test_websocket_cap_per_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("hygiene");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hsts_on_tls_only);
	tcase_add_test(tc, test_csp_connect_src_is_own_origin);
	tcase_add_loop_test(tc, test_credentials_refused_on_plain_http, 0,
	    (int)CU_NELEM(cred_routes));
	tcase_add_test(tc, test_other_routes_on_plain_http);
	tcase_add_test(tc, test_nginx_refusals_are_problems);
	suite_add_tcase(s, tc);

	tc = tcase_create("quotas");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_quota_per_tier_and_isolation);
	tcase_add_test(tc, test_quota_per_api_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(edge_suite());
}
