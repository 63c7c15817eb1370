/*
 * The fakes themselves: what the delivery engine's tests lean on must speak
 * the real wire format.
 *
 * Salesforce cases run against a private cb-fake-sf that this binary starts
 * on a free port (--api-limit 20) with the stack's connected-app
 * certificate, so the worker's own calls cannot move the usage counter
 * under the test; the stack's instance is only checked to answer.  Webhook
 * and Slack cases run against the stack's cb-fake-hooks (CB_FAKEHOOKS_URL,
 * CB_SLACK_WEBHOOK_URL), reset before every test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "buf.h"
#include "check_util.h"
#include "errs.h"
#include "fakehooks.h"
#include "fakesf.h"
#include "http.h"
#include "sf.h"
#include "util.h"

#define T_OBJ		"Form_Submission__c"
#define T_EXT		"Submission_Id__c"
#define T_LIMIT		20

static pid_t	 sf_pid = -1;
static int	 sf_port;
static char	 sf_base[64];
static char	 sf_auth[512];	/* "Authorization: Bearer ..." */

/* ---- raw sockets ------------------------------------------------------------- */

static int
raw_connect(int port)
{
	struct sockaddr_in	 sa;
	int			 fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}


/* Read into b until the peer closes (1) or ms pass (0). */
static int
raw_read(int fd, struct buf *b, int ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 tmp[8192];
	double		 end = util_now_ms() + ms;
	ssize_t		 n;

	while (util_now_ms() < end) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((n = recv(fd, tmp, sizeof(tmp), 0)) <= 0)
			return n == 0;
		buf_append(b, tmp, (size_t)n);
	}
	return 0;
}

/* Send req on a new connection to port and read until the peer closes (1) or 5 s pass. */
static int
raw_exchange(int port, const char *req, size_t n, struct buf *out)
{
	int	 fd = raw_connect(port), closed;

	ck_assert_int_eq(cu_send_all(fd, req, n), 0);
	closed = raw_read(fd, out, 5000);
	close(fd);
	return closed;
}

/* How many times needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int	 n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* ---- the private fake Salesforce ------------------------------------------------ */

static int
free_port(void)
{
	struct sockaddr_in	 sa;
	socklen_t		 len = sizeof(sa);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		abort();
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
sf_req(const char *method, const char *path, const char *ctype, const char *body,
    struct http_resp *r)
{
	char		 url[512], ct[128];
	const char	*h[3] = { NULL, NULL, NULL };
	int		 n = 0;

	snprintf(url, sizeof(url), "%s%s", sf_base, path);
	if (sf_auth[0] != '\0')
		h[n++] = sf_auth;
	if (ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h[n] = ct;
	}
	http_do(method, url, h, body, body ? strlen(body) : 0, r);
}

static void
sf_control(const char *method, const char *path, const char *body)
{
	struct http_resp r;

	sf_req(method, path, "application/json", body, &r);
	ck_assert_msg(r.status >= 200 && r.status < 300, "%s %s: %ld %s", method,
	    path, r.status, r.body);
	http_free(&r);
}

static void
keep_token(const char *token, const char *instance_url, void *ud)
{
	(void)instance_url;
	(void)ud;
	snprintf(sf_auth, sizeof(sf_auth), "Authorization: Bearer %s", token);
}

/* A token from the private fake, minted the real way by lib/sf. */
static void
sf_mint(void)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	struct sf_result	 res;
	char			 err[256];

	memset(&conf, 0, sizeof(conf));
	conf.login_url = sf_base;
	conf.audience = test_env("CB_SF_AUDIENCE");
	conf.client_id = test_env("CB_SF_CLIENT_ID");
	conf.username = test_env("CB_SF_USERNAME");
	conf.private_key_file = test_env("CB_SF_PRIVATE_KEY_FILE");
	conf.api_version = "v60.0";
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "sf client: %s", err);
	sf_set_token_hook(c, keep_token, NULL);
	ck_assert_int_eq(sf_authenticate(c, &res), CB_OK);
	sf_client_free(c);
	ck_assert(strncmp(sf_auth, "Authorization: Bearer ", 22) == 0);
	test_record_secret(sf_auth + 22);
}

static void
sf_up(void)
{
	char		 port[16], cert[512], log[512], bin[512];
	pid_t		 parent = getpid();
	struct http_resp r;
	int		 i, fd;

	snprintf(cert, sizeof(cert), "%s/sf-jwt-cert.pem", test_env("CB_SECRETS_DIR"));
	snprintf(log, sizeof(log), "%s/test-fakes-sf.log", test_env("CB_LOG_DIR"));
	sf_port = free_port();
	snprintf(port, sizeof(port), "%d", sf_port);
	snprintf(sf_base, sizeof(sf_base), "http://127.0.0.1:%d", sf_port);
	snprintf(bin, sizeof(bin), "%s/bin/cb-fake-sf", test_env("CB_BUILD"));
	if ((sf_pid = fork()) == 0) {
		/* Die with this runner, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
		execl(bin, "cb-fake-sf", "--port", port, "--cert", cert,
		    "--client-id", test_env("CB_SF_CLIENT_ID"),
		    "--username", test_env("CB_SF_USERNAME"),
		    "--audience", test_env("CB_SF_AUDIENCE"),
		    "--api-limit", "20", "--io-timeout-ms", "2000", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 300; i++) {
		if (http_do("GET", sf_base, NULL, NULL, 0, &r) == 0) {
			http_free(&r);
			return;
		}
		http_free(&r);
		test_sleep_ms(20);
	}
	fprintf(stderr, "private cb-fake-sf did not start (see %s)\n", log);
	abort();
}

static void
sf_down(void)
{
	if (sf_pid > 0) {
		kill(sf_pid, SIGTERM);
		waitpid(sf_pid, NULL, 0);
		sf_pid = -1;
	}
}

static void
sf_reset(void)
{
	sf_auth[0] = '\0';
	sf_control("POST", "/__fake/reset", "{}");
	sf_mint();
}

/* The record results of a Collections upsert of these external ids. */
static long
sf_collections(const char *const *ext, int all_or_none, struct http_resp *r)
{
	struct buf	 b;
	char		 path[256];

	buf_init(&b, 1u << 20);
	buf_printf(&b, "{\"allOrNone\":%s,\"records\":[", all_or_none ? "true" : "false");
	for (; *ext != NULL; ext++)
		buf_printf(&b, "{\"attributes\":{\"type\":\"" T_OBJ "\"},\"" T_EXT
		    "\":\"%s\",\"Name__c\":\"n-%s\"}%s", *ext, *ext, ext[1] ? "," : "");
	buf_puts(&b, "]}");
	snprintf(path, sizeof(path), "/services/data/v60.0/composite/sobjects/%s/%s",
	    T_OBJ, T_EXT);
	sf_req("PATCH", path, "application/json", buf_cstr(&b), r);
	buf_free(&b);
	return r->status;
}

static const cJSON *
result_at(struct http_resp *r, int i)
{
	const cJSON	*arr = http_json(r);

	ck_assert_msg(cJSON_IsArray(arr), "not an array: %s", r->body);
	return cJSON_GetArrayItem(arr, i);
}

static const char *
first_status_code(const cJSON *item)
{
	const cJSON	*e = cJSON_GetArrayItem(cJSON_GetObjectItem(item, "errors"), 0);

	ck_assert_ptr_nonnull(e);
	return cJSON_GetStringValue(cJSON_GetObjectItem(e, "statusCode"));
}

/* ---- tests: the fake Salesforce ---------------------------------------------------- */

START_TEST(sf_stack_instance_answers)
{
	ck_assert_int_ge(fakesf_stat("api_limit"), 1);
}
END_TEST

START_TEST(sf_chunked_patch_accepted)
{
	static const char bad[] = "POST /__fake/faults HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nzz\r\n";
	struct buf	 b, req;
	int		 fd;

	buf_init(&b, 1u << 20);
	buf_init(&req, 1u << 20);
	/* Three chunks, an extension and a trailer, as a streaming client sends. */
	buf_printf(&req, "PATCH /services/data/v60.0/sobjects/" T_OBJ "/" T_EXT "/chunked-1 "
	    "HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	    "5;note=1\r\n{\"Nam\r\n" "7\r\ne__c\":\"\r\n" "3\r\nok\"\r\n" "1\r\n}\r\n"
	    "0\r\nX-Checksum: none\r\n\r\n", sf_auth);
	fd = raw_connect(sf_port);
	ck_assert_int_eq(cu_send_all(fd, req.data, req.len), 0);
	ck_assert_int_eq(raw_read(fd, &b, 5000), 1);
	close(fd);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 201 ", 13) == 0, "got %.200s", b.data);
	ck_assert(strstr(b.data, "\"created\":true") != NULL);
	/* Malformed chunking is a 400. */
	buf_reset(&b);
	fd = raw_connect(sf_port);
	ck_assert_int_eq(cu_send_all(fd, bad, strlen(bad)), 0);
	raw_read(fd, &b, 5000);
	close(fd);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 400 ", 13) == 0, "got %.200s", b.data);
	buf_free(&b);
	buf_free(&req);
}
END_TEST

static size_t
discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

START_TEST(sf_keep_alive)
{
	static const char close_req[] = "GET /__fake/stats HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	CURL		*c = curl_easy_init();
	char		 url[128];
	long		 status = 0, connects = -1;
	struct buf	 b;
	int		 fd;

	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "%s/__fake/stats", sf_base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	ck_assert_int_eq(connects, 1);
	/* The second request rides the same connection. */
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(connects, 0);
	curl_easy_cleanup(c);
	/* Connection: close is honoured: the answer, then EOF. */
	buf_init(&b, 1u << 20);
	fd = raw_connect(sf_port);
	ck_assert_int_eq(cu_send_all(fd, close_req, strlen(close_req)), 0);
	ck_assert_int_eq(raw_read(fd, &b, 3000), 1);
	close(fd);
	ck_assert(strncmp(buf_cstr(&b), "HTTP/1.1 200 ", 13) == 0);
	ck_assert(strstr(b.data, "Connection: close\r\n") != NULL);
	buf_free(&b);
}
END_TEST

/* A counter of the private fake. */
static long
sf_stat(const char *name)
{
	struct http_resp r;
	long		 v;

	sf_req("GET", "/__fake/stats", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	v = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(http_json(&r), name));
	http_free(&r);
	return v;
}

/* Two requests in one write: two answers, in order, on the one connection. */
START_TEST(sf_pipelined)
{
	static const char two[] = "GET /__fake/stats HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /__fake/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct buf	 b;
	const char	*second;

	buf_init(&b, 1u << 20);
	ck_assert_int_eq(raw_exchange(sf_port, two, strlen(two), &b), 1);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 200 ", 13) == 0, "got %.200s", b.data);
	second = strstr(b.data + 1, "HTTP/1.1 ");
	ck_assert_ptr_nonnull(second);
	ck_assert_msg(strncmp(second, "HTTP/1.1 404 ", 13) == 0, "got %.200s", second);
	ck_assert_int_eq(count_of(b.data, "HTTP/1.1 "), 2);
	buf_free(&b);
}
END_TEST

/* A drop fault reads the request and hangs up: not one byte comes back. */
START_TEST(sf_drop_fault_hangs_up)
{
	struct buf	 b, req;

	sf_control("POST", "/__fake/faults", "{\"target\":\"single\",\"kind\":\"drop\"}");
	buf_init(&b, 1u << 20);
	buf_init(&req, 1u << 20);
	buf_printf(&req, "PATCH /services/data/v60.0/sobjects/" T_OBJ "/" T_EXT "/drop-1 HTTP/1.1\r\n"
	    "Host: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}", sf_auth);
	ck_assert_int_eq(raw_exchange(sf_port, req.data, req.len, &b), 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(sf_stat("faults_served"), 1);
	/* The fault is spent: the same call now lands. */
	buf_reset(&b);
	ck_assert_int_eq(raw_exchange(sf_port, req.data, req.len, &b), 1);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 201 ", 13) == 0, "got %.200s", b.data);
	buf_free(&b);
	buf_free(&req);
}
END_TEST

/* A latency fault longer than the I/O timeout (2 s here) still answers: the wait is the fake's. */
START_TEST(sf_latency_outlasts_io_timeout)
{
	struct http_resp r;
	double		 t0;

	sf_control("POST", "/__fake/faults", "{\"target\":\"single\",\"kind\":\"latency\","
	    "\"latency_ms\":2600}");
	t0 = util_now_ms();
	sf_req("PATCH", "/services/data/v60.0/sobjects/" T_OBJ "/" T_EXT "/slow-1",
	    "application/json", "{}", &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert(util_now_ms() - t0 >= 2500);
	http_free(&r);
}
END_TEST

START_TEST(sf_collections_record_fault)
{
	const char	*two[] = { "good-1", "bad-1", NULL };
	const char	*again[] = { "good-2", "bad-1", NULL };
	struct http_resp r;
	const cJSON	*ok, *bad;

	sf_control("POST", "/__fake/faults", "{\"target\":\"collections\",\"kind\":\"record\","
	    "\"match\":\"bad-1\",\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\","
	    "\"count\":2}");
	ck_assert_int_eq(sf_collections(two, 0, &r), 200);
	ok = result_at(&r, 0);
	bad = result_at(&r, 1);
	ck_assert_int_eq(cJSON_GetArraySize(http_json(&r)), 2);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ok, "success")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ok, "created")));
	ck_assert_int_eq(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(ok, "id"))), 18);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(bad, "success")));
	ck_assert_str_eq(first_status_code(bad), "FIELD_CUSTOM_VALIDATION_EXCEPTION");
	http_free(&r);
	/* allOrNone: one failure and nothing is written. */
	ck_assert_int_eq(sf_collections(again, 1, &r), 200);
	ck_assert_str_eq(first_status_code(result_at(&r, 0)), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
	ck_assert_str_eq(first_status_code(result_at(&r, 1)), "FIELD_CUSTOM_VALIDATION_EXCEPTION");
	http_free(&r);
	/* The fault is used up: both go through; good-1 was kept, good-2 was not. */
	ck_assert_int_eq(sf_collections(two, 0, &r), 200);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(result_at(&r, 0), "created")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(result_at(&r, 1), "created")));
	http_free(&r);
	sf_req("GET", "/__fake/stats", NULL, NULL, &r);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(http_json(&r), "records")), 2);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(http_json(&r),
	    "collections_calls")), 3);
	http_free(&r);
}
END_TEST

START_TEST(sf_collections_over_200)
{
	const char	*ext[202];
	char		 names[201][16];
	struct http_resp r;
	int		 i;

	for (i = 0; i < 201; i++) {
		snprintf(names[i], sizeof(names[i]), "r-%d", i);
		ext[i] = names[i];
	}
	ext[201] = NULL;
	ck_assert_int_eq(sf_collections(ext, 0, &r), 400);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(&r, 0), "errorCode")),
	    "EXCEEDED_ID_LIMIT");
	http_free(&r);
	/* 200 is fine. */
	ext[200] = NULL;
	ck_assert_int_eq(sf_collections(ext, 0, &r), 200);
	ck_assert_int_eq(cJSON_GetArraySize(http_json(&r)), 200);
	http_free(&r);
}
END_TEST

START_TEST(sf_limit_header_counts_calls)
{
	const char	*two[] = { "a-1", "a-2", NULL };
	struct http_resp r;

	/* The token was minted after the reset: token calls are free. */
	sf_req("GET", "/services/data/v60.0/sobjects/" T_OBJ "/" T_EXT "/none", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(http_header(&r, "sforce-limit-info"), "api-usage=1/20");
	http_free(&r);
	/* One Collections call is one call, whatever its records. */
	sf_collections(two, 0, &r);
	ck_assert_str_eq(http_header(&r, "sforce-limit-info"), "api-usage=2/20");
	http_free(&r);
	sf_mint();
	sf_req("PATCH", "/services/data/v60.0/sobjects/" T_OBJ "/" T_EXT "/a-3",
	    "application/json", "{}", &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "sforce-limit-info"), "api-usage=3/20");
	http_free(&r);
}
END_TEST

START_TEST(sf_over_the_limit)
{
	const char	*one[] = { "l-1", NULL };
	struct http_resp r;

	sf_control("POST", "/__fake/api-usage", "{\"used\":19}");
	ck_assert_int_eq(sf_collections(one, 0, &r), 200);
	ck_assert_str_eq(http_header(&r, "sforce-limit-info"), "api-usage=20/20");
	http_free(&r);
	ck_assert_int_eq(sf_collections(one, 0, &r), 403);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(&r, 0), "errorCode")),
	    "REQUEST_LIMIT_EXCEEDED");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_at(&r, 0), "message")),
	    "TotalRequests Limit exceeded.");
	ck_assert_str_eq(http_header(&r, "sforce-limit-info"), "api-usage=20/20");
	http_free(&r);
}
END_TEST

/* ---- tests: webhook receivers ----------------------------------------------------- */

/* POST a delivery signed with these signatures; the status. */
static long
deliver(const char *name, const char *id, const char *ts, const char *sigs, const char *body)
{
	struct http_resp r;
	char		 url[256], hid[128], hts[64], hsig[1024];
	const char	*h[] = { "Content-Type: application/json", hid, hts, hsig, NULL };
	long		 st;

	fakehooks_hook_url(name, url, sizeof(url));
	snprintf(hid, sizeof(hid), "webhook-id: %s", id);
	snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sigs);
	http_do("POST", url, h, body, strlen(body), &r);
	st = r.status;
	http_free(&r);
	return st;
}

/*
 * Register endpoint name with a new secret (s1, 80 bytes) and sign body as
 * webhook-id id at now (ts, 32 bytes; sig, 128 bytes).
 */
static void
signed_endpoint(const char *name, const char *id, const char *body, char *s1, char *ts, char *sig)
{
	const char	*secrets[] = { s1, NULL };

	fakehooks_new_secret(s1, 80);
	test_record_secret(s1);
	fakehooks_endpoint(name, secrets);
	snprintf(ts, 32, "%lld", (long long)util_now_s());
	fakehooks_sign(s1, id, ts, body, strlen(body), sig, 128);
}

static void
hooks_reset(void)
{
	fakehooks_reset();
}

START_TEST(hooks_signatures)
{
	const char	*body = "{\"type\":\"form.submitted\",\"timestamp\":\"2026-01-01T00:00:00Z\","
			    "\"data\":{\"id\":\"s1\"}}";
	char		 s1[80], s2[80], forged[80], ts[32], sig[128], sig2[128], both[300];
	const char	*secrets[] = { s1, s2, NULL };
	cJSON		*d;
	const cJSON	*x;

	fakehooks_new_secret(s1, sizeof(s1));
	fakehooks_new_secret(s2, sizeof(s2));
	fakehooks_new_secret(forged, sizeof(forged));
	test_record_secret(s1);
	test_record_secret(s2);
	fakehooks_endpoint("rx", secrets);
	snprintf(ts, sizeof(ts), "%lld", (long long)util_now_s());

	fakehooks_sign(s1, "msg_1", ts, body, strlen(body), sig, sizeof(sig));
	ck_assert_int_eq(deliver("rx", "msg_1", ts, sig, body), 200);
	fakehooks_sign(forged, "msg_2", ts, body, strlen(body), sig, sizeof(sig));
	ck_assert_int_eq(deliver("rx", "msg_2", ts, sig, body), 401);
	/* Rotation: an old signature first, the second secret's after it. */
	fakehooks_sign(forged, "msg_3", ts, body, strlen(body), sig, sizeof(sig));
	fakehooks_sign(s2, "msg_3", ts, body, strlen(body), sig2, sizeof(sig2));
	snprintf(both, sizeof(both), "%s %s", sig, sig2);
	ck_assert_int_eq(deliver("rx", "msg_3", ts, both, body), 200);
	/* The same webhook-id again is a duplicate, still accepted. */
	ck_assert_int_eq(deliver("rx", "msg_3", ts, both, body), 200);
	/* Outside ±300 s. */
	snprintf(ts, sizeof(ts), "%lld", (long long)util_now_s() - 301);
	fakehooks_sign(s1, "msg_4", ts, body, strlen(body), sig, sizeof(sig));
	ck_assert_int_eq(deliver("rx", "msg_4", ts, sig, body), 401);

	d = fakehooks_deliveries("rx", 0);
	ck_assert_int_eq(cJSON_GetArraySize(d), 5);
	x = cJSON_GetArrayItem(d, 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "verified")));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(x, "secret_index")), 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(x, "type")), "form.submitted");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(x, "body")), body);
	x = cJSON_GetArrayItem(d, 1);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(x, "verified")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(x, "reason")), "no_matching_signature");
	x = cJSON_GetArrayItem(d, 2);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "verified")));
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(x, "secret_index")), 1);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(x, "duplicate")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 3), "duplicate")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 4), "reason")),
	    "timestamp_too_old");
	cJSON_Delete(d);
	ck_assert_int_eq(fakehooks_stat("verified"), 3);
	ck_assert_int_eq(fakehooks_stat("rejected"), 2);
}
END_TEST

START_TEST(hooks_faults)
{
	char		 s1[80], ts[32], sig[128], url[256], hid[64], hts[64], hsig[160];
	const char	*body = "{\"type\":\"t\"}";
	const char	*h[] = { hid, hts, hsig, NULL };
	struct http_resp r;

	signed_endpoint("gone", "m1", body, s1, ts, sig);
	fakehooks_fault("{\"target\":\"hook\",\"endpoint\":\"gone\",\"kind\":\"status\","
	    "\"status\":429,\"retry_after_s\":7}");
	fakehooks_fault("{\"target\":\"hook\",\"endpoint\":\"gone\",\"kind\":\"status\",\"status\":410}");
	fakehooks_hook_url("gone", url, sizeof(url));
	snprintf(hid, sizeof(hid), "webhook-id: m1");
	snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
	http_do("POST", url, h, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(http_header(&r, "retry-after"), "7");
	http_free(&r);
	http_do("POST", url, h, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 410);
	http_free(&r);
	http_do("POST", url, h, body, strlen(body), &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);
}
END_TEST

/* The stack's cb-fake-hooks port, from CB_FAKEHOOKS_URL. */
static int
hooks_port(void)
{
	const char	*u = strrchr(test_env("CB_FAKEHOOKS_URL"), ':');
	long long	 port;

	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(util_parse_ll(u + 1, 1, 65535, &port), CB_OK);
	return (int)port;
}

/* A receiver and the Slack webhook take a chunked body as a whole one. */
START_TEST(hooks_chunked_post_accepted)
{
	const char	*body = "{\"type\":\"form.submitted\",\"data\":{\"id\":\"c1\"}}";
	const char	*path = strstr(test_env("CB_SLACK_WEBHOOK_URL") + 7, "/");
	char		 s1[80], ts[32], sig[128];
	struct buf	 req, b;
	size_t		 half = strlen(body) / 2;
	cJSON		*d;

	test_record_secret(path);
	signed_endpoint("chunky", "msg_c1", body, s1, ts, sig);
	buf_init(&req, 1u << 20);
	buf_init(&b, 1u << 20);
	/* Two chunks, one with an extension, and a trailer. */
	buf_printf(&req, "POST /hooks/chunky HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	    "webhook-id: msg_c1\r\nwebhook-timestamp: %s\r\nwebhook-signature: %s\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	    "%zx;part=1\r\n%.*s\r\n%zx\r\n%s\r\n0\r\nX-Note: end\r\n\r\n",
	    ts, sig, half, (int)half, body, strlen(body) - half, body + half);
	ck_assert_int_eq(raw_exchange(hooks_port(), req.data, req.len, &b), 1);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 200 ", 13) == 0, "got %.200s", b.data);
	d = fakehooks_deliveries("chunky", 0);
	ck_assert_int_eq(cJSON_GetArraySize(d), 1);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "verified")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "body")),
	    body);
	cJSON_Delete(d);
	/* The Slack incoming webhook, chunked: plain-text "ok". */
	buf_reset(&req);
	buf_reset(&b);
	buf_printf(&req, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	    "4\r\n{\"te\r\ne\r\nxt\":\"chunked\"}\r\n0\r\n\r\n", path);
	ck_assert_int_eq(raw_exchange(hooks_port(), req.data, req.len, &b), 1);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 200 ", 13) == 0, "got %.200s", b.data);
	ck_assert(strstr(b.data, "\r\n\r\nok") != NULL);
	buf_free(&req);
	buf_free(&b);
}
END_TEST

/* A drop fault on a receiver: the delivery is read and recorded, and the connection hangs up. */
START_TEST(hooks_drop_fault_hangs_up)
{
	static const char req[] = "POST /hooks/dropme HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
	struct buf	 b;
	cJSON		*d;

	fakehooks_fault("{\"target\":\"hook\",\"endpoint\":\"dropme\",\"kind\":\"drop\"}");
	buf_init(&b, 1u << 20);
	ck_assert_int_eq(raw_exchange(hooks_port(), req, strlen(req), &b), 1);
	ck_assert_uint_eq(b.len, 0);
	d = fakehooks_deliveries("dropme", 0);
	ck_assert_int_eq(cJSON_GetArraySize(d), 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "fault")),
	    "drop");
	cJSON_Delete(d);
	buf_free(&b);
}
END_TEST

/* ---- tests: the fake Slack ---------------------------------------------------------- */

static long
slack_post(const char *auth, const char *ctype, const char *body, struct http_resp *r)
{
	char		 url[256], a[300], ct[128];
	const char	*h[3] = { NULL, NULL, NULL };
	int		 n = 0;

	snprintf(url, sizeof(url), "%s/api/chat.postMessage", test_env("CB_FAKEHOOKS_URL"));
	if (auth != NULL) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
		h[n++] = a;
	}
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	h[n] = ct;
	http_do("POST", url, h, body, strlen(body), r);
	return r->status;
}

START_TEST(slack_shapes)
{
	const char	*tok = test_env("CB_FAKEHOOKS_SLACK_TOKEN");
	const char	*jh[] = { "Content-Type: application/json", NULL };
	const cJSON	*j, *msg;
	struct http_resp r;
	cJSON		*m;

	test_record_secret(tok);
	test_record_secret(test_env("CB_SLACK_WEBHOOK_URL"));
	ck_assert_int_eq(slack_post(tok, "application/json; charset=utf-8",
	    "{\"channel\":\"C0ALERTS1\",\"text\":\"disk full\"}", &r), 200);
	j = http_json(&r);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "channel")), "C0ALERTS1");
	ck_assert_ptr_nonnull(strchr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "ts")), '.'));
	msg = cJSON_GetObjectItem(j, "message");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(msg, "text")), "disk full");
	http_free(&r);
	/* Form-encoded, token in the body. */
	ck_assert_int_eq(slack_post(NULL, "application/x-www-form-urlencoded",
	    "channel=C0ALERTS1&text=hi+there", &r), 200);
	ck_assert_str_eq(http_json_str(&r, "error"), "not_authed");
	http_free(&r);
	/* Errors are HTTP 200 with ok:false. */
	ck_assert_int_eq(slack_post("xoxb-wrong", "application/x-www-form-urlencoded",
	    "channel=C0ALERTS1&text=x", &r), 200);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(http_json(&r), "ok")));
	ck_assert_str_eq(http_json_str(&r, "error"), "invalid_auth");
	http_free(&r);
	ck_assert_int_eq(slack_post(tok, "application/json", "{\"channel\":\"nope nope\",\"text\":\"x\"}",
	    &r), 200);
	ck_assert_str_eq(http_json_str(&r, "error"), "channel_not_found");
	http_free(&r);
	/* The incoming webhook the stack's alerts go to: plain text "ok". */
	http_do("POST", test_env("CB_SLACK_WEBHOOK_URL"), jh, "{\"text\":\"alert\"}", 16, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok");
	http_free(&r);
	http_do("POST", test_env("CB_SLACK_WEBHOOK_URL"), jh, "{\"text\":", 8, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "invalid_payload");
	http_free(&r);
	/* Rate limited: 429 and Retry-After. */
	fakehooks_fault("{\"target\":\"slack_webhook\",\"kind\":\"status\",\"status\":429,"
	    "\"retry_after_s\":30}");
	http_do("POST", test_env("CB_SLACK_WEBHOOK_URL"), jh, "{\"text\":\"alert\"}", 16, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(http_header(&r, "retry-after"), "30");
	http_free(&r);
	m = fakehooks_messages(0);
	ck_assert_int_eq(cJSON_GetArraySize(m), 7);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 4), "ok")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 4), "via")),
	    "incoming-webhook");
	cJSON_Delete(m);
}
END_TEST

/* GET conversations.history with this query and token (NULL: none). */
static void
slack_history(const char *tok, const char *query, struct http_resp *r)
{
	char		 url[512], a[300];
	const char	*h[2] = { NULL, NULL };

	snprintf(url, sizeof(url), "%s/api/conversations.history?%s", test_env("CB_FAKEHOOKS_URL"),
	    query);
	if (tok != NULL) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
		h[0] = a;
	}
	http_do("GET", url, h, NULL, 0, r);
	ck_assert_int_eq(r->status, 200);
}

START_TEST(slack_history_and_lost_answer)
{
	const char	*tok = test_env("CB_FAKEHOOKS_SLACK_TOKEN");
	const cJSON	*msgs, *md;
	struct http_resp r;
	struct buf	 b;
	char		 body[512], req[1024];
	cJSON		*m;

	test_record_secret(tok);
	/* Metadata is kept as Slack takes it: an event_type and an object payload. */
	ck_assert_int_eq(slack_post(tok, "application/json", "{\"channel\":\"C0HIST01\","
	    "\"text\":\"first\",\"metadata\":{\"event_type\":\"cb_outbox_row\","
	    "\"event_payload\":{\"outbox_id\":\"41\"}}}", &r), 200);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(http_json(&r), "ok")));
	http_free(&r);
	ck_assert_int_eq(slack_post(tok, "application/json", "{\"channel\":\"C0HIST01\","
	    "\"text\":\"x\",\"metadata\":{\"event_type\":\"t\",\"event_payload\":3}}", &r), 200);
	ck_assert_str_eq(http_json_str(&r, "error"), "invalid_metadata_schema");
	http_free(&r);
	/* The answer lost: posted all the same (the history shows it), the connection closed. */
	fakehooks_fault("{\"target\":\"slack_api\",\"kind\":\"lost_answer\"}");
	snprintf(body, sizeof(body), "token=%s&channel=C0HIST01&text=second&metadata="
	    "%%7B%%22event_type%%22%%3A%%22cb_outbox_row%%22%%2C%%22event_payload%%22%%3A"
	    "%%7B%%22outbox_id%%22%%3A%%2242%%22%%7D%%7D", tok);
	snprintf(req, sizeof(req), "POST /api/chat.postMessage HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", strlen(body), body);
	buf_init(&b, 1u << 16);
	ck_assert_int_eq(raw_exchange(hooks_port(), req, strlen(req), &b), 1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	ck_assert_int_eq(slack_post(tok, "application/json",
	    "{\"channel\":\"C0OTHER1\",\"text\":\"elsewhere\"}", &r), 200);
	http_free(&r);

	/* Newest first, that channel only; metadata only when asked. */
	slack_history(tok, "channel=C0HIST01&include_all_metadata=true", &r);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(http_json(&r), "ok")));
	msgs = cJSON_GetObjectItem(http_json(&r), "messages");
	ck_assert_int_eq(cJSON_GetArraySize(msgs), 2);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "text")),
	    "second");
	md = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "metadata");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(md,
	    "event_payload"), "outbox_id")), "42");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(http_json(&r), "has_more")));
	http_free(&r);
	slack_history(tok, "channel=C0HIST01&limit=1", &r);
	msgs = cJSON_GetObjectItem(http_json(&r), "messages");
	ck_assert_int_eq(cJSON_GetArraySize(msgs), 1);
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "metadata"));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(http_json(&r), "has_more")));
	http_free(&r);
	/* oldest: nothing before it. */
	slack_history(tok, "channel=C0HIST01&oldest=99999999999", &r);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(http_json(&r), "messages")), 0);
	http_free(&r);
	/* Slack's refusals, HTTP 200 with ok:false. */
	slack_history(NULL, "channel=C0HIST01", &r);
	ck_assert_str_eq(http_json_str(&r, "error"), "not_authed");
	http_free(&r);
	slack_history("xoxb-wrong", "channel=C0HIST01", &r);
	ck_assert_str_eq(http_json_str(&r, "error"), "invalid_auth");
	http_free(&r);
	slack_history(tok, "channel=%23alerts", &r);
	ck_assert_str_eq(http_json_str(&r, "error"), "channel_not_found");
	http_free(&r);
	slack_history(tok, "channel=C0HIST01&limit=0", &r);
	ck_assert_str_eq(http_json_str(&r, "error"), "invalid_limit");
	http_free(&r);
	ck_assert_int_eq(fakehooks_stat("slack_history_calls"), 7);
	m = fakehooks_messages(0);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "metadata"));
	cJSON_Delete(m);
}
END_TEST

static Suite *
fakes_suite(void)
{
	Suite	*su = suite_create("fakes");
	TCase	*tc = tcase_create("salesforce");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, sf_up, sf_down);
	tcase_add_checked_fixture(tc, sf_reset, NULL);
	tcase_add_test(tc, sf_stack_instance_answers);
	tcase_add_test(tc, sf_chunked_patch_accepted);
	tcase_add_test(tc, sf_keep_alive);
	tcase_add_test(tc, sf_pipelined);
	tcase_add_test(tc, sf_drop_fault_hangs_up);
	tcase_add_test(tc, sf_latency_outlasts_io_timeout);
	tcase_add_test(tc, sf_collections_record_fault);
	tcase_add_test(tc, sf_collections_over_200);
	tcase_add_test(tc, sf_limit_header_counts_calls);
	tcase_add_test(tc, sf_over_the_limit);
	suite_add_tcase(su, tc);
	tc = tcase_create("hooks");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, hooks_reset, NULL);
	tcase_add_test(tc, hooks_signatures);
	tcase_add_test(tc, hooks_faults);
	tcase_add_test(tc, hooks_chunked_post_accepted);
	tcase_add_test(tc, hooks_drop_fault_hangs_up);
	tcase_add_test(tc, slack_shapes);
	tcase_add_test(tc, slack_history_and_lost_answer);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(fakes_suite());
}
