/*
 * test_sf: the Salesforce client (lib/sf) against the fake Salesforce
 * (tests/fakes/cb-fake-sf), and the fake's own wire format.
 *
 * main() makes a private directory with a 2048-bit RSA key and its
 * self-signed certificate (the connected app's), plus the wrong keys the
 * configuration tests need.  Each test case starts cb-fake-sf from this
 * binary's build tree (../../bin/cb-fake-sf) on a free loopback port in an
 * unchecked fixture, every test starts from POST /__fake/reset, and the fake
 * is stopped by its pid afterwards.  The fake also dies with this process
 * (PR_SET_PDEATHSIG), so a crash leaves nothing running.
 *
 * Assertions for the raw token-endpoint checks are crafted here with a
 * separate small RS256 signer, so the fake is verified against something
 * other than the client it is meant to test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../support/check_util.h"
#include "buf.h"
#include "errs.h"
#include "httpc.h"
#include "log.h"
#include "sf.h"
#include "sf_int.h"
#include "util.h"

#define T_CLIENT_ID	"3MVG9fake.consumer.key_TEST"
#define T_USERNAME	"integration@example.com"
#define T_OBJ		"Form_Submission__c"
#define T_EXT		"Submission_Id__c"
#define T_API		"v60.0"
#define T_TOKEN_MARK	"00Dxx0000001gPL!"	/* every fake token starts so */
#define T_JWT_MARK	"eyJhbGciOiJSUzI1NiJ9"	/* b64url({"alg":"RS256"}) */
#define T_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static char	 t_dir[64];
static char	 t_key[128], t_cert[128], t_wrong_key[128], t_small_key[128];
static char	 t_ec_key[128], t_enc_key[128], t_fake_log[128];
static char	 t_client_log[128], t_pidfile[128];
static char	 t_fake_bin[PATH_MAX];
static EVP_PKEY	*t_pkey, *t_wrong_pkey;
static pid_t	 t_fake_pid;
static int	 t_harness_failed;	/* set in the parent: fails the run */
static char	 t_base[64];

/* ---- set-up helpers (run in main, outside any test) --------------------- */

static void __attribute__((noreturn))
t_die(const char *what)
{
	fprintf(stderr, "test_sf: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
t_write_key(const char *path, EVP_PKEY *k, int encrypted)
{
	FILE	*fp = fopen(path, "w");

	if (fp == NULL)
		t_die(path);
	fchmod(fileno(fp), 0600);
	if (PEM_write_PrivateKey(fp, k, encrypted ? EVP_aes_256_cbc() : NULL,
	    encrypted ? (const unsigned char *)"passphrase" : NULL,
	    encrypted ? 10 : 0, NULL, NULL) != 1)
		t_die("PEM_write_PrivateKey");
	fclose(fp);
}

static void
t_write_cert(const char *path, EVP_PKEY *k)
{
	X509		*x = X509_new();
	X509_NAME	*n;
	FILE		*fp;

	if (x == NULL)
		t_die("X509_new");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"cb-test-connected-app", -1, -1, 0);
	X509_set_issuer_name(x, n);
	if (X509_sign(x, k, EVP_sha256()) == 0)
		t_die("X509_sign");
	if ((fp = fopen(path, "w")) == NULL)
		t_die(path);
	PEM_write_X509(fp, x);
	fclose(fp);
	X509_free(x);
}

static void
t_make_keys(void)
{
	EVP_PKEY	*small, *ec;

	util_strlcpy(t_dir, "/tmp/test_sf.XXXXXX", sizeof(t_dir));
	if (mkdtemp(t_dir) == NULL)
		t_die("mkdtemp");
	snprintf(t_key, sizeof(t_key), "%s/key.pem", t_dir);
	snprintf(t_cert, sizeof(t_cert), "%s/cert.pem", t_dir);
	snprintf(t_wrong_key, sizeof(t_wrong_key), "%s/wrong.pem", t_dir);
	snprintf(t_small_key, sizeof(t_small_key), "%s/small.pem", t_dir);
	snprintf(t_ec_key, sizeof(t_ec_key), "%s/ec.pem", t_dir);
	snprintf(t_enc_key, sizeof(t_enc_key), "%s/enc.pem", t_dir);
	snprintf(t_fake_log, sizeof(t_fake_log), "%s/fake.log", t_dir);
	snprintf(t_client_log, sizeof(t_client_log), "%s/client.log", t_dir);
	snprintf(t_pidfile, sizeof(t_pidfile), "%s/fake.pid", t_dir);
	if ((t_pkey = EVP_RSA_gen(2048)) == NULL ||
	    (t_wrong_pkey = EVP_RSA_gen(2048)) == NULL ||
	    (small = EVP_RSA_gen(1024)) == NULL ||
	    (ec = EVP_EC_gen("P-256")) == NULL)
		t_die("key generation");
	t_write_key(t_key, t_pkey, 0);
	t_write_cert(t_cert, t_pkey);
	t_write_key(t_wrong_key, t_wrong_pkey, 0);
	t_write_key(t_small_key, small, 0);
	t_write_key(t_ec_key, ec, 0);
	t_write_key(t_enc_key, t_pkey, 1);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
}

static void
t_remove_dir(void)
{
	const char	*files[] = { t_key, t_cert, t_wrong_key, t_small_key,
			    t_ec_key, t_enc_key, t_fake_log, t_client_log,
			    t_pidfile };
	size_t		 i;

	for (i = 0; i < T_NELEM(files); i++)
		unlink(files[i]);
	rmdir(t_dir);
}

/* ../../bin/cb-fake-sf relative to this binary: the same build tree. */
static void
t_find_fake(void)
{
	char	 self[PATH_MAX];
	ssize_t	 n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char	*slash;

	if (n <= 0)
		t_die("readlink /proc/self/exe");
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		t_die("no directory in /proc/self/exe");
	*slash = '\0';
	if ((size_t)snprintf(t_fake_bin, sizeof(t_fake_bin),
	    "%.*s/../../bin/cb-fake-sf", (int)(sizeof(t_fake_bin) - 32), self)
	    >= sizeof(t_fake_bin))
		t_die("path too long");
	if (access(t_fake_bin, X_OK) != 0)
		t_die(t_fake_bin);
}

/* ---- HTTP helpers --------------------------------------------------------- */

struct t_resp {
	long		 status;
	CURLcode	 cc;
	struct buf	 body;
	char		 limit[128];
	char		 retry_after[32];
	cJSON		*json;
};

static size_t
t_write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct t_resp	*r = ud;

	return buf_append(&r->body, p, sz * n) == CB_OK ? sz * n : 0;
}

static void
t_header_value(const char *p, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t	 nl = strlen(name), i, j = 0;

	if (len <= nl || p[nl] != ':' || strncasecmp(p, name, nl) != 0)
		return;
	for (i = nl + 1; i < len && p[i] == ' '; i++)
		;
	for (; i < len && p[i] != '\r' && p[i] != '\n' && j + 1 < outsz; i++)
		out[j++] = p[i];
	out[j] = '\0';
}

static size_t
t_header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct t_resp	*r = ud;

	t_header_value(p, sz * n, "Sforce-Limit-Info", r->limit,
	    sizeof(r->limit));
	t_header_value(p, sz * n, "Retry-After", r->retry_after,
	    sizeof(r->retry_after));
	return sz * n;
}

/* One request to the fake; `auth` is the whole Authorization value. */
static long
t_http(const char *method, const char *path, const char *ctype,
    const char *auth, const char *body, struct t_resp *r)
{
	CURL			*e = curl_easy_init();
	struct curl_slist	*h = NULL;
	struct buf		 line, url;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 64u * 1024u * 1024u);
	buf_init(&line, 8192);
	buf_init(&url, 8192);
	if (e == NULL)
		return -1;
	buf_printf(&url, "%s%s", t_base, path);
	if (ctype != NULL) {
		buf_printf(&line, "Content-Type: %s", ctype);
		h = curl_slist_append(h, line.data);
	}
	if (auth != NULL) {
		buf_reset(&line);
		buf_printf(&line, "Authorization: %s", auth);
		h = curl_slist_append(h, line.data);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, url.data);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, t_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, t_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	}
	r->cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->body.len > 0)
		r->json = cJSON_ParseWithLength(r->body.data, r->body.len);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	buf_free(&line);
	buf_free(&url);
	return r->status;
}

static void
t_resp_free(struct t_resp *r)
{
	cJSON_Delete(r->json);
	buf_free(&r->body);
}

/* errorCode of the first entry of a Salesforce error array. */
static const char *
t_err_code(const struct t_resp *r)
{
	const cJSON	*first = cJSON_GetArrayItem(r->json, 0);
	const cJSON	*c = cJSON_GetObjectItemCaseSensitive(first, "errorCode");

	return cJSON_IsString(c) ? c->valuestring : "";
}

static const char *
t_str(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static long
t_stat(const char *name)
{
	struct t_resp	 r;
	const cJSON	*v;
	long		 n = -1;

	if (t_http("GET", "/__fake/stats", NULL, NULL, NULL, &r) == 200 &&
	    (v = cJSON_GetObjectItemCaseSensitive(r.json, name)) != NULL &&
	    cJSON_IsNumber(v))
		n = (long)v->valuedouble;
	t_resp_free(&r);
	return n;
}

static void
t_fault(const char *json)
{
	struct t_resp	 r;
	long		 s = t_http("POST", "/__fake/faults", "application/json",
			    NULL, json, &r);

	ck_assert_msg(s == 201, "fault %s: HTTP %ld %s", json, s,
	    buf_cstr(&r.body));
	t_resp_free(&r);
}

static void
t_sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the fake's lifecycle -------------------------------------------------- */

static int
t_free_port(void)
{
	struct sockaddr_in	 sa;
	socklen_t		 len = sizeof(sa);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		t_die("free port");
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Start a fake on a free port; its pid, or -1.  base gets its URL. */
static pid_t
t_spawn_fake(const char *pidfile, const char *logfile, char *base,
    size_t basesz)
{
	struct t_resp	 r;
	char		 port[16];
	pid_t		 parent = getpid(), pid;
	int		 tries, i, st, fd, p;
	char		 saved[64];

	util_strlcpy(saved, t_base, sizeof(saved));
	for (tries = 0; tries < 5; tries++) {
		p = t_free_port();
		snprintf(port, sizeof(port), "%d", p);
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			/* Die with whoever started us, even if it crashes. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(1);
			if ((fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND,
			    0600)) >= 0) {
				dup2(fd, STDERR_FILENO);
				dup2(fd, STDOUT_FILENO);
				close(fd);
			}
			execl(t_fake_bin, "cb-fake-sf", "--port", port,
			    "--cert", t_cert, "--client-id", T_CLIENT_ID,
			    "--username", T_USERNAME, "--pidfile", pidfile,
			    "--io-timeout-ms", "2000", (char *)NULL);
			_exit(127);
		}
		snprintf(t_base, sizeof(t_base), "http://127.0.0.1:%d", p);
		for (i = 0; i < 500; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;		/* lost the port race: retry */
			if (t_http("GET", "/__fake/stats", NULL, NULL, NULL,
			    &r) == 200) {
				t_resp_free(&r);
				util_strlcpy(base, t_base, basesz);
				util_strlcpy(t_base, saved, sizeof(t_base));
				return pid;
			}
			t_resp_free(&r);
			t_sleep_ms(20);
		}
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	util_strlcpy(t_base, saved, sizeof(t_base));
	return -1;
}

/* SIGTERM, wait up to 5 s, then SIGKILL; the wait status. */
static int
t_stop_fake(pid_t pid)
{
	int	 st = -1, i;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		t_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return st;
}

/* Unchecked fixture (parent process): one fake per test case. */
static void
t_fake_up(void)
{
	char	 base[64];

	if ((t_fake_pid = t_spawn_fake(t_pidfile, t_fake_log, base,
	    sizeof(base))) < 0) {
		fprintf(stderr, "test_sf: cannot start %s\n", t_fake_bin);
		exit(2);
	}
	util_strlcpy(t_base, base, sizeof(t_base));
}

/*
 * A fake that does not exit cleanly on SIGTERM (a sanitizer report, a
 * crash) fails the run; its log is kept for the post-mortem.
 */
static void
t_fake_down(void)
{
	int	 st = t_stop_fake(t_fake_pid);

	t_fake_pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "test_sf: cb-fake-sf ended with wait status %d; "
		    "see %s\n", st, t_fake_log);
		t_harness_failed = 1;
	}
}

/* Checked fixture (each test's child): a clean fake. */
static void
t_reset(void)
{
	struct t_resp	 r;

	ck_assert_int_eq(t_http("POST", "/__fake/reset", NULL, NULL, "", &r),
	    200);
	t_resp_free(&r);
}

/* ---- clients ------------------------------------------------------------------ */

struct t_cli {
	const char	*client_id;
	const char	*key;
	const char	*audience;
	const char	*username;
	long		 timeout_ms;
};

static struct sf_client *
t_client_with(const struct t_cli *o)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	char			 err[512];

	memset(&conf, 0, sizeof(conf));
	conf.login_url = t_base;
	conf.audience = o->audience;
	conf.client_id = o->client_id ? o->client_id : T_CLIENT_ID;
	conf.username = o->username ? o->username : T_USERNAME;
	conf.private_key_file = o->key ? o->key : t_key;
	conf.api_version = T_API;
	conf.connect_timeout_ms = 2000;
	conf.timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "sf_client_new: %s", err);
	return c;
}

static struct sf_client *
t_client(void)
{
	struct t_cli	 o;

	memset(&o, 0, sizeof(o));
	return t_client_with(&o);
}

static int
t_upsert(struct sf_client *c, const char *ext_value, const char *fields,
    struct sf_result *r)
{
	return sf_upsert(c, T_OBJ, T_EXT, ext_value, fields, r);
}

static void
t_expect(const struct sf_result *r, int kind, int status, const char *code)
{
	ck_assert_msg(r->kind == kind, "kind %s (want %s), HTTP %d, %s: %s",
	    sf_kind_name(r->kind), sf_kind_name(kind), r->http_status,
	    r->error_code, r->message);
	ck_assert_int_eq(r->http_status, status);
	if (code != NULL)
		ck_assert_str_eq(r->error_code, code);
}

/* ---- crafting assertions (independent of lib/sf) ----------------------------- */

static void
t_b64url(struct buf *b, const void *p, size_t n)
{
	char	*tmp;
	size_t	 need = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	tmp = util_malloc(need);
	sodium_bin2base64(tmp, need, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	buf_puts(b, tmp);
	free(tmp);
}

/*
 * header.claims.RS256(key) into out.  With key NULL the signature is left
 * empty; with `tamper` the claims are re-encoded with a trailing space
 * after signing, so the bytes no longer match the signature.
 */
static void
t_assertion(struct buf *out, const char *header, const char *claims,
    EVP_PKEY *key, int tamper)
{
	EVP_MD_CTX	*md;
	unsigned char	 sig[1024];
	size_t		 siglen = sizeof(sig), dot;
	struct buf	 t;

	t_b64url(out, header, strlen(header));
	buf_putc(out, '.');
	dot = out->len;
	t_b64url(out, claims, strlen(claims));
	buf_putc(out, '.');
	if (key == NULL)
		return;
	md = EVP_MD_CTX_new();
	ck_assert(md != NULL);
	ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen,
	    (const unsigned char *)out->data, out->len - 1), 1);
	EVP_MD_CTX_free(md);
	if (tamper) {
		buf_init(&t, 8192);
		buf_printf(&t, "%s ", claims);
		out->len = dot;
		t_b64url(out, t.data, t.len);
		buf_putc(out, '.');
		buf_free(&t);
	}
	t_b64url(out, sig, siglen);
}

static long
t_token_request(const char *assertion, struct t_resp *r)
{
	struct buf	 form;
	long		 s;

	buf_init(&form, 65536);
	buf_printf(&form, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3A"
	    "grant-type%%3Ajwt-bearer&assertion=%s", assertion);
	s = t_http("POST", "/services/oauth2/token",
	    "application/x-www-form-urlencoded", NULL, form.data, r);
	buf_free(&form);
	return s;
}

static void
t_claims(struct buf *b, long long exp)
{
	buf_printf(b, "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\","
	    "\"exp\":%lld}", T_CLIENT_ID, T_USERNAME, SF_DEFAULT_AUDIENCE, exp);
}

/* A fresh access token, minted with a hand-made assertion. */
static void
t_mint(char *out, size_t outsz)
{
	struct buf	 claims, a;
	struct t_resp	 r;

	buf_init(&claims, 4096);
	buf_init(&a, 16384);
	t_claims(&claims, (long long)util_now_s() + 60);
	t_assertion(&a, "{\"alg\":\"RS256\"}", claims.data, t_pkey, 0);
	ck_assert_int_eq(t_token_request(a.data, &r), 200);
	util_strlcpy(out, t_str(r.json, "access_token"), outsz);
	ck_assert(strncmp(out, T_TOKEN_MARK, strlen(T_TOKEN_MARK)) == 0);
	t_resp_free(&r);
	buf_free(&a);
	buf_free(&claims);
}

/* ---- raw sockets, for what libcurl will not send ------------------------------ */

static int
t_raw_connect(void)
{
	struct sockaddr_in	 sa;
	int			 fd = socket(AF_INET, SOCK_STREAM, 0);
	long long		 port;
	const char		*colon = strrchr(t_base, ':');

	ck_assert(fd >= 0 && colon != NULL);
	ck_assert_int_eq(util_parse_ll(colon + 1, 1, 65535, &port), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}


/*
 * Read into b until EOF (returns 1), until b holds `until` when that is not
 * NULL (returns 2), or until the timeout (returns 0).
 */
static int
t_raw_read_until(int fd, struct buf *b, const char *until, long timeout_ms)
{
	double		 end = util_now_ms() + (double)timeout_ms;
	struct pollfd	 p;
	char		 tmp[4096];
	ssize_t		 n;

	for (;;) {
		double	 left = end - util_now_ms();

		if (until != NULL && strstr(buf_cstr(b), until) != NULL)
			return 2;
		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, (int)left + 1) <= 0)
			continue;
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n <= 0)
			return 1;
		buf_append(b, tmp, (size_t)n);
	}
}

static int
t_raw_read(int fd, struct buf *b, long timeout_ms)
{
	return t_raw_read_until(fd, b, NULL, timeout_ms);
}

/* ---- tests: configuration and local checks (no network) ------------------------ */

struct t_bad_conf {
	const char	*login_url;
	const char	*audience;
	const char	*client_id;
	const char	*key;		/* "K" good, "S" small, "E" EC, "X" encrypted,
					   "C" the certificate, "M" missing */
	const char	*api_version;
	const char	*want;		/* substring of the error */
};

static const struct t_bad_conf bad_confs[] = {
	{ NULL, NULL, NULL, "M", NULL, "cannot open private key" },
	{ NULL, NULL, NULL, "S", NULL, "at least 2048 bits" },
	{ NULL, NULL, NULL, "E", NULL, "is not an RSA key" },
	{ NULL, NULL, NULL, "X", NULL, "no unencrypted PEM private key" },
	{ NULL, NULL, NULL, "C", NULL, "no unencrypted PEM private key" },
	{ NULL, NULL, "", "K", NULL, "client_id is not set" },
	{ "ftp://login.salesforce.com", NULL, NULL, "K", NULL, "login_url must be" },
	{ "http://login.example.com", NULL, NULL, "K", NULL, "must use https" },
	{ "https://user@login.salesforce.com", NULL, NULL, "K", NULL, "login_url must be" },
	{ "https://login.salesforce.com?x=1", NULL, NULL, "K", NULL, "login_url must be" },
	{ NULL, "not a url", NULL, "K", NULL, "audience must be" },
	{ NULL, NULL, NULL, "K", "60.0", "api_version" },
	{ NULL, NULL, NULL, "K", "v60", "api_version" },
};

START_TEST(test_new_rejects)
{
	const struct t_bad_conf	*b = &bad_confs[_i];
	struct sf_conf		 conf;
	struct sf_client	*c;
	char			 err[512], missing[160];

	snprintf(missing, sizeof(missing), "%s/absent.pem", t_dir);
	memset(&conf, 0, sizeof(conf));
	conf.login_url = b->login_url ? b->login_url : "https://login.salesforce.com";
	conf.audience = b->audience;
	conf.client_id = b->client_id ? b->client_id : T_CLIENT_ID;
	conf.username = T_USERNAME;
	conf.api_version = b->api_version ? b->api_version : T_API;
	switch (b->key[0]) {
	case 'S': conf.private_key_file = t_small_key; break;
	case 'E': conf.private_key_file = t_ec_key; break;
	case 'X': conf.private_key_file = t_enc_key; break;
	case 'C': conf.private_key_file = t_cert; break;
	case 'M': conf.private_key_file = missing; break;
	default:  conf.private_key_file = t_key; break;
	}
	err[0] = '\0';
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c == NULL, "case %d accepted", _i);
	ck_assert_msg(strstr(err, b->want) != NULL, "case %d: \"%s\" lacks \"%s\"",
	    _i, err, b->want);
	/* The message names the problem, never key material. */
	ck_assert(strstr(err, "BEGIN") == NULL);
}
END_TEST

/* A complete configuration with this login URL and the test key. */
static void
t_conf(struct sf_conf *conf, const char *login_url)
{
	memset(conf, 0, sizeof(*conf));
	conf->login_url = login_url;
	conf->client_id = T_CLIENT_ID;
	conf->username = T_USERNAME;
	conf->private_key_file = t_key;
	conf->api_version = "v60.0";
}

START_TEST(test_new_accepts)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	char			 err[512];

	t_conf(&conf, "https://login.salesforce.com/");
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	sf_invalidate_token(c);
	sf_client_free(c);
	sf_client_free(NULL);
	sf_invalidate_token(NULL);
}
END_TEST

/*
 * A plain-http login at a private address is taken only with the caller's
 * own client, whose private allowlist then decides each transfer: the fake
 * a second node reaches over its network (docs/scale-out.md).
 */
START_TEST(test_new_private_plain_needs_callers_client)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	struct sf_result	 r;
	struct httpc		*h = httpc_new("10.231.7.1:8095", "test");
	char			 err[512];

	ck_assert_ptr_nonnull(h);
	t_conf(&conf, "http://10.231.7.1:8095");
	ck_assert_ptr_null(sf_client_new(&conf, err, sizeof(err)));
	ck_assert_msg(strstr(err, "must use https") != NULL, "%s", err);
	conf.http = h;
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	sf_client_free(c);
	/* Another private address is still refused, by the guard. */
	conf.login_url = "http://10.231.7.2:8095";
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_CONFIG);
	t_expect(&r, SF_CONFIG, 0, "CB_EGRESS");
	sf_client_free(c);
	httpc_free(h);
}
END_TEST

START_TEST(test_api_names)
{
	static const struct {
		const char	*s;
		int		 ok;
	} cases[] = {
		{ "Form_Submission__c", 1 }, { "Account", 1 }, { "a", 1 },
		{ "x2_", 1 }, { "", 0 }, { "1abc", 0 }, { "_x", 0 },
		{ "Form Submission", 0 }, { "Name/..", 0 }, { "Näme", 0 },
		{ "a?b", 0 }, { "Name%2F", 0 },
	};
	char	 long80[81], long81[82];
	size_t	 i;

	memset(long80, 'a', 80);
	long80[80] = '\0';
	memset(long81, 'a', 81);
	long81[81] = '\0';
	for (i = 0; i < T_NELEM(cases); i++)
		ck_assert_msg(sf_api_name_ok(cases[i].s) == cases[i].ok, "%s",
		    cases[i].s);
	ck_assert(sf_api_name_ok(long80));
	ck_assert(!sf_api_name_ok(long81));
	ck_assert(!sf_api_name_ok(NULL));
	ck_assert_str_eq(sf_kind_name(SF_RETRY), "retry");
	ck_assert_str_eq(sf_kind_name(99), "none");
}
END_TEST

/* Bad arguments never reach the network: no token, no REST call. */
START_TEST(test_local_argument_checks)
{
	static const struct {
		const char	*obj, *ext, *value, *fields;
	} cases[] = {
		{ "Form Submission", T_EXT, "v", "{}" },
		{ "1abc", T_EXT, "v", "{}" },
		{ T_OBJ, "Ext/../x", "v", "{}" },
		{ T_OBJ, T_EXT, "", "{}" },
		{ T_OBJ, T_EXT, "\xff\xfe", "{}" },
		{ T_OBJ, T_EXT, "v", "not json" },
		{ T_OBJ, T_EXT, "v", "[1,2]" },
		{ T_OBJ, T_EXT, "v", "{\"a\":1} trailing" },
		{ T_OBJ, T_EXT, "v", "{\"Id\":\"a01xx0000000001AAA\"}" },
		{ T_OBJ, T_EXT, "v", "{\"submission_id__c\":\"v\"}" },
		{ T_OBJ, T_EXT, NULL, "{}" },
		{ T_OBJ, T_EXT, "v", NULL },
	};
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	char			 big[300];
	size_t			 i;

	for (i = 0; i < T_NELEM(cases); i++) {
		ck_assert_int_eq(sf_upsert(c, cases[i].obj, cases[i].ext,
		    cases[i].value, cases[i].fields, &r), CB_ERR_VALIDATION);
		t_expect(&r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT");
	}
	memset(big, 'x', 256);
	big[256] = '\0';
	ck_assert_int_eq(t_upsert(c, big, "{}", &r), CB_ERR_VALIDATION);
	ck_assert_int_eq(sf_upsert(NULL, T_OBJ, T_EXT, "v", "{}", &r),
	    CB_ERR_CONFIG);
	ck_assert_int_eq(t_stat("token_requests"), 0);
	ck_assert_int_eq(t_stat("api_usage"), 0);
	sf_client_free(c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct t_cli		 o;
	struct sf_client	*c;
	struct sf_result	 r;
	char			 saved[64];

	util_strlcpy(saved, t_base, sizeof(saved));
	snprintf(t_base, sizeof(t_base), "http://127.0.0.1:%d", t_free_port());
	memset(&o, 0, sizeof(o));
	c = t_client_with(&o);
	util_strlcpy(t_base, saved, sizeof(t_base));
	ck_assert_int_eq(t_upsert(c, "v", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 0, "CB_TRANSPORT");
	/* A transport failure is not remembered: the next call tries again. */
	ck_assert_int_eq(sf_authenticate(c, &r), CB_ERR_UNAVAILABLE);
	sf_client_free(c);
}
END_TEST

/* ---- tests: the client against the fake ----------------------------------------- */

START_TEST(test_token_minted_once_and_cached)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	char			 v[16];
	int			 i;

	for (i = 0; i < 3; i++) {
		snprintf(v, sizeof(v), "sub-%d", i);
		ck_assert_int_eq(t_upsert(c, v, "{\"Name__c\":\"x\"}", &r), CB_OK);
		t_expect(&r, SF_CREATED, 201, "");
	}
	ck_assert_int_eq(t_stat("token_requests"), 1);
	ck_assert_int_eq(t_stat("upserts"), 3);
	ck_assert_int_eq(t_stat("records"), 3);
	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	ck_assert_int_eq(r.kind, SF_NONE);
	ck_assert_int_eq(t_stat("token_requests"), 1);
	sf_client_free(c);
}
END_TEST

START_TEST(test_create_then_update)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r1, r2;
	struct t_resp		 rr;
	const cJSON		*recs, *rec, *fields;
	char			 tok[256], auth[300];

	ck_assert_int_eq(t_upsert(c, "sub-42",
	    "{\"Name__c\":\"Jane\",\"Score__c\":1}", &r1), CB_OK);
	t_expect(&r1, SF_CREATED, 201, "");
	ck_assert_uint_eq(strlen(r1.id), 18);
	ck_assert_int_eq(t_upsert(c, "sub-42", "{\"Score__c\":2}", &r2), CB_OK);
	t_expect(&r2, SF_UPDATED, 200, "");
	ck_assert_str_eq(r1.id, r2.id);

	ck_assert_int_eq(t_http("GET", "/__fake/records", NULL, NULL, NULL, &rr),
	    200);
	recs = cJSON_GetObjectItemCaseSensitive(rr.json, "records");
	ck_assert_int_eq(cJSON_GetArraySize(recs), 1);
	rec = cJSON_GetArrayItem(recs, 0);
	ck_assert_str_eq(t_str(rec, "object"), T_OBJ);
	ck_assert_str_eq(t_str(rec, "ext_field"), T_EXT);
	ck_assert_str_eq(t_str(rec, "ext_value"), "sub-42");
	ck_assert_str_eq(t_str(rec, "id"), r1.id);
	ck_assert_int_eq((int)cJSON_GetObjectItem(rec, "upserts")->valuedouble, 2);
	fields = cJSON_GetObjectItemCaseSensitive(rec, "fields");
	ck_assert_str_eq(t_str(fields, "Name__c"), "Jane");
	ck_assert_int_eq((int)cJSON_GetObjectItem(fields, "Score__c")->valuedouble,
	    2);
	t_resp_free(&rr);

	/* The instance answers a read by external ID with Id and fields. */
	t_mint(tok, sizeof(tok));
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	ck_assert_int_eq(t_http("GET", "/services/data/v60.0/sobjects/"
	    T_OBJ "/" T_EXT "/sub-42", NULL, auth, NULL, &rr), 200);
	ck_assert_str_eq(t_str(rr.json, "Id"), r1.id);
	ck_assert_str_eq(t_str(rr.json, T_EXT), "sub-42");
	ck_assert_str_eq(t_str(rr.json, "Name__c"), "Jane");
	t_resp_free(&rr);
	sf_client_free(c);
}
END_TEST

START_TEST(test_503_twice_then_success)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	t_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,"
	    "\"count\":2}");
	/* The client reports; retrying is the worker's job. */
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 503, "SERVER_UNAVAILABLE");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 503, "SERVER_UNAVAILABLE");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_CREATED, 201, "");
	ck_assert_int_eq(t_stat("faults_served"), 2);
	ck_assert_int_eq(t_stat("token_requests"), 1);
	sf_client_free(c);
}
END_TEST

struct t_status_case {
	const char	*fault;
	int		 kind;
	int		 status;
	const char	*code;
	const char	*message;	/* substring, or NULL */
	long		 retry_after;
};

static const struct t_status_case status_cases[] = {
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503}",
	    SF_RETRY, 503, "SERVER_UNAVAILABLE", NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":500}",
	    SF_RETRY, 500, "UNKNOWN_EXCEPTION", "ErrorId", 0 },
	{ "{\"target\":\"any\",\"kind\":\"status\",\"status\":502}",
	    SF_RETRY, 502, "SERVER_UNAVAILABLE", NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":403}",
	    SF_RETRY, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":403,"
	    "\"error_code\":\"INSUFFICIENT_ACCESS_OR_READONLY\"}",
	    SF_PERMANENT, 403, "INSUFFICIENT_ACCESS_OR_READONLY", NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"UNABLE_TO_LOCK_ROW\"}",
	    SF_RETRY, 400, "UNABLE_TO_LOCK_ROW", "exclusive access", 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\","
	    "\"message\":\"Score must be positive\"}",
	    SF_PERMANENT, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
	    "Score must be positive", 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"DUPLICATE_VALUE\"}",
	    SF_PERMANENT, 400, "DUPLICATE_VALUE", NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":404}",
	    SF_PERMANENT, 404, "NOT_FOUND", "does not exist", 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":300}",
	    SF_PERMANENT, 300, "CB_MULTIPLE_MATCHES", NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":429}",
	    SF_RETRY, 429, NULL, NULL, 0 },
	{ "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,"
	    "\"retry_after_s\":7}",
	    SF_RETRY, 503, "SERVER_UNAVAILABLE", NULL, 7 },
};

START_TEST(test_status_classification)
{
	const struct t_status_case	*tc = &status_cases[_i];
	struct sf_client		*c = t_client();
	struct sf_result		 r;
	int				 rc;

	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	t_fault(tc->fault);
	rc = t_upsert(c, "sub-1", "{\"Score__c\":1}", &r);
	t_expect(&r, tc->kind, tc->status, tc->code);
	ck_assert_int_eq(rc, tc->kind == SF_RETRY ? CB_ERR_UNAVAILABLE :
	    CB_ERR_UPSTREAM);
	if (tc->message != NULL)
		ck_assert_msg(strstr(r.message, tc->message) != NULL,
		    "message \"%s\"", r.message);
	ck_assert_int_eq(r.retry_after_s, tc->retry_after);
	ck_assert_int_eq(t_stat("faults_served"), 1);
	sf_client_free(c);
}
END_TEST

START_TEST(test_revoke_remints_once)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	struct t_resp		 rr;

	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	ck_assert_int_eq(t_http("POST", "/__fake/revoke-tokens", NULL, NULL, "",
	    &rr), 200);
	t_resp_free(&rr);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{\"A__c\":1}", &r), CB_OK);
	t_expect(&r, SF_UPDATED, 200, "");
	ck_assert_int_eq(t_stat("token_requests"), 2);
	ck_assert_int_eq(t_stat("upserts"), 2);
	/* The fresh token stays cached. */
	ck_assert_int_eq(t_upsert(c, "sub-2", "{}", &r), CB_OK);
	ck_assert_int_eq(t_stat("token_requests"), 2);
	sf_client_free(c);
}
END_TEST

START_TEST(test_401_twice_is_retry)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	t_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":401,"
	    "\"count\":2}");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 401, "INVALID_SESSION_ID");
	/* Exactly one re-mint, however many 401s. */
	ck_assert_int_eq(t_stat("token_requests"), 2);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	ck_assert_int_eq(t_stat("token_requests"), 2);
	sf_client_free(c);
}
END_TEST

START_TEST(test_invalidate_token)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	sf_invalidate_token(c);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	ck_assert_int_eq(t_stat("token_requests"), 2);
	sf_client_free(c);
}
END_TEST

START_TEST(test_drop_is_retry)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	struct t_resp		 rr;

	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	/*
	 * Two drops: libcurl itself resends once when a reused keep-alive
	 * connection dies before any answer, which is safe for an upsert.
	 */
	t_fault("{\"target\":\"upsert\",\"kind\":\"drop\",\"count\":2}");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 0, "CB_TRANSPORT");
	ck_assert_int_eq(t_http("DELETE", "/__fake/faults", NULL, NULL, NULL,
	    &rr), 200);
	t_resp_free(&rr);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	sf_client_free(c);
}
END_TEST

START_TEST(test_latency_beyond_timeout)
{
	struct t_cli		 o = { .timeout_ms = 700 };
	struct sf_client	*c = t_client_with(&o);
	struct sf_result	 r;
	double			 t0, dt;
	int			 i;

	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	t_fault("{\"target\":\"upsert\",\"kind\":\"latency\","
	    "\"latency_ms\":2500}");
	t0 = util_now_ms();
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_TIMEOUT);
	dt = util_now_ms() - t0;
	t_expect(&r, SF_RETRY, 0, "CB_TIMEOUT");
	ck_assert_msg(dt >= 600 && dt < 1600, "gave up after %.0f ms", dt);
	/* The slow answer still lands: upserts are idempotent, so that's fine. */
	for (i = 0; i < 200 && t_stat("upserts") < 1; i++)
		t_sleep_ms(25);
	ck_assert_int_eq(t_stat("upserts"), 1);
	sf_client_free(c);
}
END_TEST

START_TEST(test_latency_within_timeout)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	double			 t0;

	ck_assert_int_eq(sf_authenticate(c, &r), CB_OK);
	t_fault("{\"target\":\"upsert\",\"kind\":\"latency\",\"latency_ms\":300}");
	t0 = util_now_ms();
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	ck_assert(util_now_ms() - t0 >= 290);
	t_expect(&r, SF_CREATED, 201, "");
	sf_client_free(c);
}
END_TEST

START_TEST(test_token_endpoint_transient)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	struct t_resp		 rr;

	t_fault("{\"target\":\"token\",\"kind\":\"status\",\"status\":503}");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 503, NULL);
	t_fault("{\"target\":\"token\",\"kind\":\"drop\",\"count\":2}");
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_UNAVAILABLE);
	t_expect(&r, SF_RETRY, 0, "CB_TRANSPORT");
	ck_assert_int_eq(t_http("DELETE", "/__fake/faults", NULL, NULL, NULL,
	    &rr), 200);
	t_resp_free(&rr);
	/* Transient failures are not held against the next attempt. */
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	ck_assert_int_eq(t_stat("upserts"), 1);
	sf_client_free(c);
}
END_TEST

struct t_oauth_case {
	struct t_cli	 cli;
	const char	*description;
};

static const struct t_oauth_case oauth_cases[] = {
	{ { .client_id = "3MVG9wrong.consumer.key" }, "invalid client credentials" },
	{ { .key = t_wrong_key }, "invalid assertion" },
	{ { .audience = "https://test.salesforce.com" }, "audience is invalid" },
	{ { .username = "nobody@example.com" }, "user hasn't approved this consumer" },
};

START_TEST(test_oauth_config_errors)
{
	const struct t_oauth_case	*oc = &oauth_cases[_i];
	struct sf_client		*c = t_client_with(&oc->cli);
	struct sf_result		 r;

	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_CONFIG);
	t_expect(&r, SF_CONFIG, 400, "invalid_grant");
	ck_assert_str_eq(r.message, oc->description);
	ck_assert_int_eq(t_stat("token_failures"), 1);
	/* Not retried, and not asked again while the hold-down lasts. */
	ck_assert_int_eq(t_upsert(c, "sub-2", "{}", &r), CB_ERR_CONFIG);
	ck_assert_str_eq(r.message, oc->description);
	ck_assert_int_eq(sf_authenticate(c, &r), CB_ERR_CONFIG);
	ck_assert_int_eq(t_stat("token_requests"), 1);
	ck_assert_int_eq(t_stat("api_usage"), 0);
	/* An operator's invalidate asks again. */
	sf_invalidate_token(c);
	ck_assert_int_eq(t_upsert(c, "sub-3", "{}", &r), CB_ERR_CONFIG);
	ck_assert_int_eq(t_stat("token_requests"), 2);
	sf_client_free(c);
}
END_TEST

START_TEST(test_ext_value_url_encoding)
{
	static const char	 v[] = "Jane Doe/ü?&=#%+;.x";
	struct sf_client	*c = t_client();
	struct sf_result	 r1, r2;
	struct t_resp		 rr;
	const cJSON		*rec;

	ck_assert_int_eq(t_upsert(c, v, "{\"Name__c\":\"J\"}", &r1), CB_OK);
	t_expect(&r1, SF_CREATED, 201, "");
	ck_assert_int_eq(t_upsert(c, v, "{\"Name__c\":\"K\"}", &r2), CB_OK);
	t_expect(&r2, SF_UPDATED, 200, "");
	ck_assert_str_eq(r1.id, r2.id);
	ck_assert_int_eq(t_http("GET", "/__fake/records", NULL, NULL, NULL, &rr),
	    200);
	rec = cJSON_GetArrayItem(cJSON_GetObjectItem(rr.json, "records"), 0);
	ck_assert_str_eq(t_str(rec, "ext_value"), v);
	t_resp_free(&rr);
	sf_client_free(c);
}
END_TEST

/* A client on the caller's httpc, with the usual test settings. */
static struct sf_client *
t_client_on(struct httpc *h)
{
	struct sf_conf		 conf;
	struct sf_client	*c;
	char			 err[512];

	memset(&conf, 0, sizeof(conf));
	conf.login_url = t_base;
	conf.client_id = T_CLIENT_ID;
	conf.username = T_USERNAME;
	conf.private_key_file = t_key;
	conf.api_version = T_API;
	conf.connect_timeout_ms = 2000;
	conf.timeout_ms = 5000;
	conf.http = h;
	c = sf_client_new(&conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "sf_client_new: %s", err);
	return c;
}

START_TEST(test_caller_httpc_decides_what_is_private)
{
	struct httpc		*closed, *open;
	struct sf_client	*c1, *c2;
	struct sf_result	 r;

	/* t_base is http://127.0.0.1:port: the allowlist entry follows "//". */
	ck_assert_ptr_nonnull(closed = httpc_new(NULL, NULL));
	ck_assert_ptr_nonnull(open = httpc_new(t_base + 7, NULL));
	c1 = t_client_on(closed);
	c2 = t_client_on(open);
	/* The loopback fake is not on the caller's list: refused, nothing sent. */
	ck_assert_int_eq(t_upsert(c1, "sub-1", "{}", &r), CB_ERR_CONFIG);
	t_expect(&r, SF_CONFIG, 0, "CB_EGRESS");
	ck_assert_int_eq(t_stat("token_requests"), 0);
	ck_assert_int_eq(t_upsert(c2, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_CREATED, 201, "");
	ck_assert_int_eq(t_stat("token_requests"), 1);
	/* The httpc is the caller's: still usable after the clients go. */
	sf_client_free(c1);
	sf_client_free(c2);
	c2 = t_client_on(open);
	ck_assert_int_eq(t_upsert(c2, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_UPDATED, 200, "");
	sf_client_free(c2);
	httpc_free(open);
	httpc_free(closed);
}
END_TEST

/*
 * The client's own httpc admits a loopback instance beside the loopback
 * login (another name for the fake here), and nothing more.
 */
START_TEST(test_own_httpc_admits_a_loopback_instance)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;
	char			 tok[256], inst[64];

	t_mint(tok, sizeof(tok));
	snprintf(inst, sizeof(inst), "http://localhost:%s",
	    strrchr(t_base, ':') + 1);
	ck_assert_int_eq(sf_set_token(c, tok, inst), CB_OK);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_CREATED, 201, "");
	ck_assert_int_eq(sf_set_token(c, tok, t_base), CB_OK);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_UPDATED, 200, "");
	/* The seeded token was used throughout: no mint of our own. */
	ck_assert_int_eq(t_stat("token_requests"), 1);
	/* Plain http passes sf's rule (the login is plain) but not the guard. */
	ck_assert_int_eq(sf_set_token(c, tok, "http://example.com"), CB_OK);
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_ERR_CONFIG);
	t_expect(&r, SF_CONFIG, 0, "CB_EGRESS");
	sf_client_free(c);
}
END_TEST

START_TEST(test_unknown_object_is_permanent)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	ck_assert_int_eq(sf_upsert(c, "Nope__c", T_EXT, "v", "{}", &r),
	    CB_ERR_UPSTREAM);
	t_expect(&r, SF_PERMANENT, 404, "NOT_FOUND");
	ck_assert_str_eq(r.message, "The requested resource does not exist");
	sf_client_free(c);
}
END_TEST

START_TEST(test_invalid_field_message)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	/* A field name the fake refuses: errorCode and fields are parsed. */
	ck_assert_int_eq(t_upsert(c, "v", "{\"Bad-Name\":1}", &r),
	    CB_ERR_UPSTREAM);
	t_expect(&r, SF_PERMANENT, 400, "INVALID_FIELD");
	ck_assert_msg(strstr(r.message, "[fields: Bad-Name]") != NULL, "%s",
	    r.message);
	sf_client_free(c);
}
END_TEST

/* What Salesforce echoes of a record never reaches a stored or logged message. */
static const struct { const char *in, *out; } mask_cases[] = {
	{ "invalid email address: bob.smith@example.com",
	  "invalid email address: [value withheld]" },
	{ "Email: invalid email address: bob@example.com", "Email: [value withheld]" },
	{ "duplicate value found: Phone__c duplicates value on record with id: 003000000000001",
	  "duplicate value found: [value withheld]" },
	{ "Name: data value too large: Ana Lopez (max length=5)", "Name: [value withheld]" },
	{ "No such column 'Bad-Name' on sobject of type Contact",
	  "No such column 'Bad-Name' on sobject of type Contact" },
	{ "rejected bob@example.com for +1 (415) 555-0100",
	  "rejected *** for ***" },
	{ "call 415.555.0100 or (415) 555 0100 on id 003x00000012345AAA",
	  "call *** or *** on id ***" },
	{ "max length=80 (2 of 3)", "max length=80 (2 of 3)" },
	{ "unexpected\ttoken\nhere", "unexpected token here" },
	{ "caller 4155550100 refused", "caller *** refused" },
	{ "Required fields are missing:", "Required fields are missing:" },
	{ "ends with a colon: ", "ends with a colon: " },
	{ "", "" },
};

START_TEST(test_mask_message)
{
	char	 out[64];

	sf_mask_message(out, sizeof(out), mask_cases[_i].in);
	ck_assert_str_eq(out, mask_cases[_i].out);
}
END_TEST

/* Append a whole file to b (missing file: nothing). */
static void
t_read_file(const char *path, struct buf *b)
{
	char	 tmp[4096];
	ssize_t	 n;
	int	 fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(b, tmp, (size_t)n);
	close(fd);
}

START_TEST(test_no_secrets_in_logs)
{
	struct t_cli		 bad = { .audience = "https://test.salesforce.com" };
	struct sf_client	*c, *c2;
	struct sf_result	 r;
	struct t_resp		 rr;
	struct buf		 logb;
	int			 fd, saved;

	fd = open(t_client_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_min(LOG_LVL_DEBUG);
	c = t_client();
	c2 = t_client_with(&bad);
	t_upsert(c, "jane@example.com", "{\"Name__c\":\"Jane\"}", &r);
	t_http("POST", "/__fake/revoke-tokens", NULL, NULL, "", &rr);
	t_resp_free(&rr);
	t_upsert(c, "jane@example.com", "{\"Name__c\":\"Jane\"}", &r);
	t_fault("{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,"
	    "\"error_code\":\"FIELD_CUSTOM_VALIDATION_EXCEPTION\","
	    "\"message\":\"Jane is not allowed\"}");
	t_upsert(c, "jane@example.com", "{\"Name__c\":\"Jane\"}", &r);
	t_upsert(c2, "jane@example.com", "{}", &r);
	sf_client_free(c2);
	sf_client_free(c);
	log_set_min(LOG_LVL_ERROR);
	dup2(saved, STDERR_FILENO);
	close(saved);

	buf_init(&logb, 64u * 1024u * 1024u);
	t_read_file(t_client_log, &logb);
	/* It did log what matters... */
	ck_assert(strstr(buf_cstr(&logb), "\"sf_token\"") != NULL);
	ck_assert(strstr(buf_cstr(&logb), "\"sf_limit_info\"") != NULL);
	ck_assert(strstr(buf_cstr(&logb), "audience is invalid") != NULL);
	/* ...and nothing secret or personal. */
	ck_assert(strstr(buf_cstr(&logb), T_TOKEN_MARK) == NULL);
	ck_assert(strstr(buf_cstr(&logb), T_JWT_MARK) == NULL);
	ck_assert(strstr(buf_cstr(&logb), "Bearer") == NULL);
	ck_assert(strstr(buf_cstr(&logb), "jane@example.com") == NULL);
	ck_assert(strstr(buf_cstr(&logb), "is not allowed") == NULL);
	buf_reset(&logb);
	t_read_file(t_fake_log, &logb);
	ck_assert(strstr(buf_cstr(&logb), "\"request\"") != NULL);
	ck_assert(strstr(buf_cstr(&logb), T_TOKEN_MARK) == NULL);
	ck_assert(strstr(buf_cstr(&logb), T_JWT_MARK) == NULL);
	ck_assert(strstr(buf_cstr(&logb), "jane%40example.com") == NULL);
	buf_free(&logb);
}
END_TEST

/* ---- tests: the fake's token endpoint, with hand-made assertions ----------------- */

enum t_exp { EXP_OK, EXP_MS, EXP_PAST, EXP_FAR, EXP_STRING, EXP_FRACTION,
	EXP_NONE };

struct t_jwt_case {
	const char	*name;
	const char	*header;
	const char	*iss;
	const char	*sub;
	const char	*prn;		/* NULL: absent */
	const char	*aud_json;
	enum t_exp	 exp;
	int		 key;		/* 0 good, 1 wrong, 2 none */
	int		 tamper;
	const char	*want;		/* NULL: 200 */
};

#define T_AUD	"\"" SF_DEFAULT_AUDIENCE "\""
static const struct t_jwt_case jwt_cases[] = {
	{ "valid", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL, T_AUD,
	    EXP_OK, 0, 0, NULL },
	{ "typ allowed", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", T_CLIENT_ID,
	    T_USERNAME, NULL, T_AUD, EXP_OK, 0, 0, NULL },
	{ "aud array", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    "[\"x\"," T_AUD "]", EXP_OK, 0, 0, NULL },
	{ "exp in ms", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_MS, 0, 0, "expired authorization code" },
	{ "exp past", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_PAST, 0, 0, "expired authorization code" },
	{ "exp > 3 min", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_FAR, 0, 0, "expired authorization code" },
	{ "exp string", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_STRING, 0, 0, "expired authorization code" },
	{ "exp fraction", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_FRACTION, 0, 0, "expired authorization code" },
	{ "exp missing", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_NONE, 0, 0, "expired authorization code" },
	{ "alg HS256", "{\"alg\":\"HS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_OK, 0, 0, "invalid assertion" },
	{ "alg none", "{\"alg\":\"none\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_OK, 2, 0, "invalid assertion" },
	{ "tampered", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_OK, 0, 1, "invalid assertion" },
	{ "wrong key", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    T_AUD, EXP_OK, 1, 0, "invalid assertion" },
	{ "wrong iss", "{\"alg\":\"RS256\"}", "someone-else", T_USERNAME, NULL,
	    T_AUD, EXP_OK, 0, 0, "invalid client credentials" },
	{ "wrong aud", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME, NULL,
	    "\"https://test.salesforce.com\"", EXP_OK, 0, 0, "audience is invalid" },
	{ "unknown sub", "{\"alg\":\"RS256\"}", T_CLIENT_ID, "x@example.com",
	    NULL, T_AUD, EXP_OK, 0, 0, "user hasn't approved this consumer" },
	{ "prn wins (bad)", "{\"alg\":\"RS256\"}", T_CLIENT_ID, T_USERNAME,
	    "x@example.com", T_AUD, EXP_OK, 0, 0,
	    "user hasn't approved this consumer" },
	{ "prn wins (good)", "{\"alg\":\"RS256\"}", T_CLIENT_ID, "x@example.com",
	    T_USERNAME, T_AUD, EXP_OK, 0, 0, NULL },
};

START_TEST(test_fake_token_endpoint)
{
	const struct t_jwt_case	*jc = &jwt_cases[_i];
	struct buf		 claims, a;
	struct t_resp		 r;
	long long		 now = (long long)util_now_s();
	EVP_PKEY		*key = jc->key == 0 ? t_pkey :
				    jc->key == 1 ? t_wrong_pkey : NULL;
	long			 s;

	buf_init(&claims, 4096);
	buf_init(&a, 16384);
	buf_printf(&claims, "{\"iss\":\"%s\",\"sub\":\"%s\",", jc->iss, jc->sub);
	if (jc->prn)
		buf_printf(&claims, "\"prn\":\"%s\",", jc->prn);
	buf_printf(&claims, "\"aud\":%s", jc->aud_json);
	switch (jc->exp) {
	case EXP_OK:	  buf_printf(&claims, ",\"exp\":%lld", now + 120); break;
	case EXP_MS:	  buf_printf(&claims, ",\"exp\":%lld", (now + 120) * 1000); break;
	case EXP_PAST:	  buf_printf(&claims, ",\"exp\":%lld", now - 5); break;
	case EXP_FAR:	  buf_printf(&claims, ",\"exp\":%lld", now + 600); break;
	case EXP_STRING:  buf_printf(&claims, ",\"exp\":\"%lld\"", now + 60); break;
	case EXP_FRACTION: buf_printf(&claims, ",\"exp\":%lld.5", now + 60); break;
	case EXP_NONE:	  break;
	}
	buf_putc(&claims, '}');
	t_assertion(&a, jc->header, claims.data, key, jc->tamper);
	s = t_token_request(a.data, &r);
	if (jc->want == NULL) {
		ck_assert_msg(s == 200, "%s: HTTP %ld %s", jc->name, s,
		    buf_cstr(&r.body));
		ck_assert(strncmp(t_str(r.json, "access_token"), T_TOKEN_MARK,
		    strlen(T_TOKEN_MARK)) == 0);
		ck_assert_str_eq(t_str(r.json, "instance_url"), t_base);
		ck_assert_str_eq(t_str(r.json, "token_type"), "Bearer");
		ck_assert_str_eq(t_str(r.json, "scope"), "api");
		ck_assert(strstr(t_str(r.json, "id"), "/id/00D") != NULL);
		ck_assert(t_str(r.json, "issued_at")[0] != '\0');
		ck_assert(t_str(r.json, "signature")[0] != '\0');
		ck_assert(cJSON_GetObjectItem(r.json, "refresh_token") == NULL);
		ck_assert(cJSON_GetObjectItem(r.json, "expires_in") == NULL);
	} else {
		ck_assert_msg(s == 400, "%s: HTTP %ld", jc->name, s);
		ck_assert_str_eq(t_str(r.json, "error"), "invalid_grant");
		ck_assert_str_eq(t_str(r.json, "error_description"), jc->want);
		ck_assert_int_eq(t_stat("token_failures"), 1);
	}
	t_resp_free(&r);
	buf_free(&a);
	buf_free(&claims);
}
END_TEST

START_TEST(test_fake_token_request_shape)
{
	struct t_resp	 r;

	ck_assert_int_eq(t_http("POST", "/services/oauth2/token",
	    "application/x-www-form-urlencoded", NULL,
	    "grant_type=password&username=a&password=b", &r), 400);
	ck_assert_str_eq(t_str(r.json, "error"), "unsupported_grant_type");
	t_resp_free(&r);
	/* The grant type spelled with literal colons is accepted as well. */
	ck_assert_int_eq(t_http("POST", "/services/oauth2/token",
	    "application/x-www-form-urlencoded", NULL,
	    "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer", &r), 400);
	ck_assert_str_eq(t_str(r.json, "error"), "invalid_grant");
	ck_assert_str_eq(t_str(r.json, "error_description"), "invalid assertion");
	t_resp_free(&r);
	ck_assert_int_eq(t_http("POST", "/services/oauth2/token",
	    "application/json", NULL, "{}", &r), 400);
	t_resp_free(&r);
	ck_assert_int_eq(t_http("GET", "/services/oauth2/token", NULL, NULL,
	    NULL, &r), 405);
	t_resp_free(&r);
	ck_assert_int_eq(t_stat("token_requests"), 4);
	ck_assert_int_eq(t_stat("token_failures"), 4);
}
END_TEST

/* ---- tests: the fake's REST error bodies ------------------------------------------ */

struct t_rest_case {
	const char	*method;
	const char	*path;		/* after /services/data/ */
	const char	*ctype;
	int		 auth;		/* 0 none, 1 bogus, 2 good */
	const char	*body;
	long		 status;
	const char	*code;
	const char	*field;		/* fields[0], or NULL */
};

#define T_P	"v60.0/sobjects/" T_OBJ "/" T_EXT "/abc"
static const struct t_rest_case rest_cases[] = {
	{ "PATCH", T_P, "application/json", 0, "{}", 401, "INVALID_SESSION_ID", NULL },
	{ "PATCH", T_P, "application/json", 1, "{}", 401, "INVALID_SESSION_ID", NULL },
	{ "PATCH", T_P, "application/json", 2, "{\"Name__c\":", 400, "JSON_PARSER_ERROR", NULL },
	{ "PATCH", T_P, "application/json", 2, "", 400, "JSON_PARSER_ERROR", NULL },
	{ "PATCH", T_P, "application/json", 2, "[]", 400, "JSON_PARSER_ERROR", NULL },
	{ "PATCH", T_P, "application/json", 2, "{\"a__c\":1,\"A__c\":2}", 400, "JSON_PARSER_ERROR", NULL },
	{ "PATCH", T_P, "application/json", 2, "{\"Id\":\"a01xx0000000001AAA\"}", 400, "INVALID_FIELD", "Id" },
	{ "PATCH", T_P, "application/json", 2, "{\"" T_EXT "\":\"abc\"}", 400, "INVALID_FIELD", T_EXT },
	{ "PATCH", T_P, "application/json", 2, "{\"bad key\":1}", 400, "INVALID_FIELD", "bad key" },
	{ "PATCH", T_P, "text/plain", 2, "{}", 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "PATCH", "v60.0/sobjects/Account__x/" T_EXT "/abc", "application/json", 2, "{}", 404, "NOT_FOUND", NULL },
	{ "PATCH", "v60.0/sobjects/" T_OBJ "/Bad-Field/abc", "application/json", 2, "{}", 404, "NOT_FOUND", NULL },
	{ "PATCH", "v60.0/sobjects/" T_OBJ "/" T_EXT, "application/json", 2, "{}", 404, "NOT_FOUND", NULL },
	{ "PATCH", "v60.0/sobjects/" T_OBJ "/" T_EXT "/%zz", "application/json", 2, "{}", 404, "NOT_FOUND", NULL },
	{ "PATCH", "60.0/sobjects/" T_OBJ "/" T_EXT "/abc", "application/json", 2, "{}", 404, "NOT_FOUND", NULL },
	{ "PUT", T_P, "application/json", 2, "{}", 405, "METHOD_NOT_ALLOWED", NULL },
	{ "GET", T_P, NULL, 2, NULL, 404, "NOT_FOUND", NULL },
	{ "GET", T_P, NULL, 0, NULL, 401, "INVALID_SESSION_ID", NULL },
	{ "PATCH", T_P, "application/json; charset=UTF-8", 2, "{\"Name__c\":\"a\"}", 201, NULL, NULL },
};

START_TEST(test_fake_rest_errors)
{
	const struct t_rest_case	*rc = &rest_cases[_i];
	struct t_resp			 r;
	char				 tok[256], auth[300], path[512];
	const cJSON			*fields;
	long				 s;

	auth[0] = '\0';
	if (rc->auth == 1)
		util_strlcpy(auth, "Bearer " T_TOKEN_MARK "bogus", sizeof(auth));
	else if (rc->auth == 2) {
		t_mint(tok, sizeof(tok));
		snprintf(auth, sizeof(auth), "Bearer %s", tok);
	}
	snprintf(path, sizeof(path), "/services/data/%s", rc->path);
	s = t_http(rc->method, path, rc->ctype, auth[0] ? auth : NULL, rc->body,
	    &r);
	ck_assert_msg(s == rc->status, "case %d: HTTP %ld %s", _i, s,
	    buf_cstr(&r.body));
	/* CONTRACTS §3.2: every REST answer carries the usage header. */
	ck_assert_msg(strncmp(r.limit, "api-usage=", 10) == 0 &&
	    strstr(r.limit, "/15000") != NULL, "limit header \"%s\"", r.limit);
	if (rc->code != NULL) {
		ck_assert(cJSON_IsArray(r.json));
		ck_assert_str_eq(t_err_code(&r), rc->code);
		ck_assert(t_str(cJSON_GetArrayItem(r.json, 0), "message")[0]);
	}
	if (rc->field != NULL) {
		fields = cJSON_GetObjectItem(cJSON_GetArrayItem(r.json, 0),
		    "fields");
		ck_assert_str_eq(cJSON_GetArrayItem(fields, 0)->valuestring,
		    rc->field);
	}
	t_resp_free(&r);
}
END_TEST

START_TEST(test_fake_limit_header_counts)
{
	struct t_resp	 r;
	char		 tok[256], auth[300];

	t_mint(tok, sizeof(tok));
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	t_http("GET", "/services/data/" T_P, NULL, auth, NULL, &r);
	ck_assert_str_eq(r.limit, "api-usage=1/15000");
	t_resp_free(&r);
	t_http("GET", "/services/data/" T_P, NULL, auth, NULL, &r);
	ck_assert_str_eq(r.limit, "api-usage=2/15000");
	t_resp_free(&r);
	/* The token endpoint and the control plane are not REST calls. */
	t_http("GET", "/__fake/stats", NULL, NULL, NULL, &r);
	ck_assert_str_eq(r.limit, "");
	t_resp_free(&r);
}
END_TEST

/* ---- tests: the fake's HTTP hardening and control plane --------------------------- */

static void
t_raw_expect(const char *req, size_t len, const char *status_line)
{
	struct buf	 b;
	int		 fd = t_raw_connect();

	buf_init(&b, 1u << 20);
	(void)cu_send_all(fd, req, len);	/* the server may hang up early: fine */
	t_raw_read(fd, &b, 5000);
	close(fd);
	ck_assert_msg(strncmp(buf_cstr(&b), status_line, strlen(status_line)) == 0,
	    "want \"%s\", got \"%.60s\"", status_line, buf_cstr(&b));
	buf_free(&b);
}

START_TEST(test_fake_http_limits)
{
	struct buf	 big;
	/* Chunked bodies are read (an empty one is a 400 of the endpoint); other codings are not. */
	static const char chunked_empty[] = "POST /__fake/faults HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	static const char te[] = "POST /__fake/faults HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
	static const char huge_body[] = "POST /__fake/faults HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 1048577\r\n\r\n";
	static const char two_lengths[] = "POST /__fake/reset HTTP/1.1\r\n"
	    "Content-Length: 0\r\nContent-Length: 0\r\n\r\n";
	static const char folded[] = "GET /__fake/stats HTTP/1.1\r\n"
	    "X-A: 1\r\n continued\r\n\r\n";
	const char	*brew = "BREW /coffee HTCPCP/1.0\r\n\r\n";
	const char	*lower = "get / HTTP/1.1\r\n\r\n";
	const char	*bad_cl = "POST /__fake/reset HTTP/1.1\r\n"
	    "Content-Length: -1\r\n\r\n";

	t_raw_expect(chunked_empty, sizeof(chunked_empty) - 1, "HTTP/1.1 400 ");
	t_raw_expect(te, sizeof(te) - 1, "HTTP/1.1 501 ");
	t_raw_expect(huge_body, sizeof(huge_body) - 1, "HTTP/1.1 413 ");
	t_raw_expect(two_lengths, sizeof(two_lengths) - 1, "HTTP/1.1 400 ");
	/* An obsolete line folding is joined with a space (RFC 9112 5.2 allows either). */
	t_raw_expect(folded, sizeof(folded) - 1, "HTTP/1.1 200 ");
	t_raw_expect(brew, strlen(brew), "HTTP/1.1 400 ");
	/* Methods are case-sensitive: an unknown one is not implemented. */
	t_raw_expect(lower, strlen(lower), "HTTP/1.1 501 ");
	t_raw_expect(bad_cl, strlen(bad_cl), "HTTP/1.1 400 ");
	buf_init(&big, 1u << 20);
	buf_puts(&big, "GET /__fake/stats HTTP/1.1\r\nX-Big: ");
	/* Past the 32 KiB the fake reads a head into. */
	while (big.len < 33 * 1024)
		buf_puts(&big, "aaaaaaaaaaaaaaaa");
	buf_puts(&big, "\r\n\r\n");
	t_raw_expect(big.data, big.len, "HTTP/1.1 431 ");
	buf_free(&big);
}
END_TEST

START_TEST(test_fake_keepalive_pipelining_continue)
{
	static const char two[] = "GET /__fake/stats HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /__fake/faults HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char fault[] = "{\"target\":\"any\",\"kind\":\"drop\"}";
	char		 cont[256];
	struct buf	 b;
	const char	*second;
	int		 fd;

	buf_init(&b, 1u << 20);
	fd = t_raw_connect();
	(void)cu_send_all(fd, two, sizeof(two) - 1);
	ck_assert_int_eq(t_raw_read(fd, &b, 5000), 1);
	close(fd);
	ck_assert(strncmp(b.data, "HTTP/1.1 200 ", 13) == 0);
	second = strstr(b.data + 1, "HTTP/1.1 200 ");
	ck_assert_msg(second != NULL, "one answer only: %s", b.data);
	ck_assert(strstr(second, "\"faults\":[]") != NULL);
	ck_assert(strstr(second, "Connection: close") != NULL);

	buf_reset(&b);
	snprintf(cont, sizeof(cont), "POST /__fake/faults HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nExpect: 100-continue\r\n"
	    "Content-Length: %zu\r\n\r\n", sizeof(fault) - 1);
	fd = t_raw_connect();
	(void)cu_send_all(fd, cont, strlen(cont));
	/* The interim answer comes before we send the body. */
	ck_assert_int_eq(t_raw_read_until(fd, &b, "\r\n\r\n", 5000), 2);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 100 Continue\r\n\r\n", 25)
	    == 0, "got %s", buf_cstr(&b));
	buf_reset(&b);
	(void)cu_send_all(fd, fault, sizeof(fault) - 1);
	shutdown(fd, SHUT_WR);
	t_raw_read(fd, &b, 5000);
	close(fd);
	ck_assert_msg(strncmp(buf_cstr(&b), "HTTP/1.1 201 ", 13) == 0, "got %s",
	    buf_cstr(&b));
	ck_assert_int_eq(t_stat("faults_queued"), 1);
	buf_free(&b);
}
END_TEST

START_TEST(test_fake_slow_client_bounded)
{
	struct buf	 b;
	double		 t0;
	int		 slow, idle;

	buf_init(&b, 1u << 20);
	t0 = util_now_ms();
	slow = t_raw_connect();
	idle = t_raw_connect();
	(void)cu_send_all(slow, "GET /__fake/stats HTTP/1.1\r\nHost:", 33);
	/* Others are served meanwhile. */
	ck_assert_int_eq(t_stat("upserts"), 0);
	ck_assert(util_now_ms() - t0 < 1000);
	/* The fake runs with --io-timeout-ms 2000: a half-sent head is closed unanswered. */
	ck_assert_int_eq(t_raw_read(slow, &b, 6000), 1);
	ck_assert_msg(b.len == 0, "got %s", buf_cstr(&b));
	buf_reset(&b);
	ck_assert_int_eq(t_raw_read(idle, &b, 6000), 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_msg(util_now_ms() - t0 < 4500, "took %.0f ms",
	    util_now_ms() - t0);
	close(slow);
	close(idle);
	buf_free(&b);
}
END_TEST

START_TEST(test_fake_control_plane)
{
	static const struct {
		const char	*method, *path, *body;
		long		 status;
	} cases[] = {
		{ "POST", "/__fake/faults", "{", 400 },
		{ "POST", "/__fake/faults", "[]", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"status\"}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"latency\"}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"nope\",\"kind\":\"drop\"}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"drop\",\"extra\":1}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":200}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":503,\"count\":0}", 400 },
		{ "POST", "/__fake/faults", "{\"target\":\"upsert\",\"kind\":\"status\",\"status\":400,\"error_code\":\"A B\"}", 400 },
		{ "GET", "/__fake/reset", NULL, 405 },
		{ "GET", "/__fake/nothing", NULL, 404 },
		{ "GET", "/elsewhere", NULL, 404 },
		{ "POST", "/__fake/faults", "{\"target\":\"token\",\"kind\":\"status\",\"status\":503,\"count\":3}", 201 },
		{ "POST", "/__fake/faults", "{\"target\":\"any\",\"kind\":\"latency\",\"latency_ms\":5}", 201 },
	};
	struct t_resp	 r;
	size_t		 i;

	for (i = 0; i < T_NELEM(cases); i++) {
		ck_assert_msg(t_http(cases[i].method, cases[i].path,
		    "application/json", NULL, cases[i].body, &r) ==
		    cases[i].status, "case %zu: HTTP %ld %s", i, r.status,
		    buf_cstr(&r.body));
		t_resp_free(&r);
	}
	ck_assert_int_eq(t_http("GET", "/__fake/faults", NULL, NULL, NULL, &r),
	    200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json,
	    "faults")), 2);
	t_resp_free(&r);
	ck_assert_int_eq(t_http("DELETE", "/__fake/faults", NULL, NULL, NULL, &r),
	    200);
	ck_assert_int_eq((int)cJSON_GetObjectItem(r.json, "cleared")->valuedouble,
	    2);
	t_resp_free(&r);
	ck_assert_int_eq(t_stat("faults_queued"), 0);
}
END_TEST

START_TEST(test_fake_reset_clears)
{
	struct sf_client	*c = t_client();
	struct sf_result	 r;

	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	t_fault("{\"target\":\"upsert\",\"kind\":\"drop\"}");
	t_reset();
	ck_assert_int_eq(t_stat("records"), 0);
	ck_assert_int_eq(t_stat("token_requests"), 0);
	ck_assert_int_eq(t_stat("faults_queued"), 0);
	ck_assert_int_eq(t_stat("api_usage"), 0);
	/* Reset also forgets tokens: the client re-mints once and goes on. */
	ck_assert_int_eq(t_upsert(c, "sub-1", "{}", &r), CB_OK);
	t_expect(&r, SF_CREATED, 201, "");
	ck_assert_int_eq(t_stat("token_requests"), 1);
	sf_client_free(c);
}
END_TEST

START_TEST(test_fake_lifecycle)
{
	char		 pidfile[160], logfile[160], base[64], buf[32];
	pid_t		 pid;
	FILE		*fp;
	long long	 v;
	int		 st;

	snprintf(pidfile, sizeof(pidfile), "%s/own.pid", t_dir);
	snprintf(logfile, sizeof(logfile), "%s/own.log", t_dir);
	pid = t_spawn_fake(pidfile, logfile, base, sizeof(base));
	ck_assert(pid > 0);
	fp = fopen(pidfile, "r");
	ck_assert(fp != NULL);
	ck_assert(fgets(buf, sizeof(buf), fp) != NULL);
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	ck_assert_int_eq(util_parse_ll(buf, 1, INT_MAX, &v), 0);
	ck_assert_int_eq(v, pid);
	/* SIGTERM: a clean exit (LeakSanitizer finds nothing under SAN=1). */
	st = t_stop_fake(pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_eq(access(pidfile, F_OK), -1);
	unlink(logfile);
}
END_TEST

static int
t_run_fake(const char *const *args)
{
	char	*argv[16];
	pid_t	 pid;
	size_t	 i;
	int	 st = -1, fd;

	for (i = 0; args[i] != NULL && i + 1 < T_NELEM(argv); i++)
		argv[i] = util_strdup(args[i]);
	argv[i] = NULL;
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, STDERR_FILENO);
		execv(t_fake_bin, argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	return st;
}

START_TEST(test_fake_bad_arguments)
{
	const char	*none[] = { "cb-fake-sf", NULL };
	const char	*noval[] = { "cb-fake-sf", "--port", NULL };
	const char	*badport[] = { "cb-fake-sf", "--port", "70000", "--cert",
			    t_cert, "--client-id", "a", "--username", "b", NULL };
	const char	*badobj[] = { "cb-fake-sf", "--port", "1", "--cert", t_cert,
			    "--client-id", "a", "--username", "b", "--objects",
			    "Bad Name", NULL };
	const char	*nocert[] = { "cb-fake-sf", "--port", "1", "--cert",
			    "/nonexistent.pem", "--client-id", "a", "--username",
			    "b", NULL };
	const char	*keyascert[] = { "cb-fake-sf", "--port", "1", "--cert",
			    t_key, "--client-id", "a", "--username", "b", NULL };
	int		 st;

	st = t_run_fake(none);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = t_run_fake(noval);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = t_run_fake(badport);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = t_run_fake(badobj);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = t_run_fake(nocert);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	st = t_run_fake(keyascert);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}
END_TEST

static Suite *
t_suite(void)
{
	Suite	*s = suite_create("sf");
	TCase	*tc;

	tc = tcase_create("config");
	tcase_add_unchecked_fixture(tc, t_fake_up, t_fake_down);
	tcase_add_checked_fixture(tc, t_reset, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_new_rejects, 0, (int)T_NELEM(bad_confs));
	tcase_add_test(tc, test_new_accepts);
	tcase_add_test(tc, test_new_private_plain_needs_callers_client);
	tcase_add_test(tc, test_api_names);
	tcase_add_test(tc, test_local_argument_checks);
	tcase_add_test(tc, test_connection_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_unchecked_fixture(tc, t_fake_up, t_fake_down);
	tcase_add_checked_fixture(tc, t_reset, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_token_minted_once_and_cached);
	tcase_add_test(tc, test_create_then_update);
	tcase_add_test(tc, test_503_twice_then_success);
	tcase_add_loop_test(tc, test_status_classification, 0,
	    (int)T_NELEM(status_cases));
	tcase_add_test(tc, test_revoke_remints_once);
	tcase_add_test(tc, test_401_twice_is_retry);
	tcase_add_test(tc, test_invalidate_token);
	tcase_add_test(tc, test_drop_is_retry);
	tcase_add_test(tc, test_latency_beyond_timeout);
	tcase_add_test(tc, test_latency_within_timeout);
	tcase_add_test(tc, test_token_endpoint_transient);
	tcase_add_loop_test(tc, test_oauth_config_errors, 0,
	    (int)T_NELEM(oauth_cases));
	tcase_add_test(tc, test_ext_value_url_encoding);
	tcase_add_test(tc, test_caller_httpc_decides_what_is_private);
	tcase_add_test(tc, test_own_httpc_admits_a_loopback_instance);
	tcase_add_test(tc, test_unknown_object_is_permanent);
	tcase_add_test(tc, test_invalid_field_message);
	tcase_add_loop_test(tc, test_mask_message, 0, (int)(sizeof(mask_cases) / sizeof(mask_cases[0])));
	tcase_add_test(tc, test_no_secrets_in_logs);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake");
	tcase_add_unchecked_fixture(tc, t_fake_up, t_fake_down);
	tcase_add_checked_fixture(tc, t_reset, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_fake_token_endpoint, 0,
	    (int)T_NELEM(jwt_cases));
	tcase_add_test(tc, test_fake_token_request_shape);
	tcase_add_loop_test(tc, test_fake_rest_errors, 0,
	    (int)T_NELEM(rest_cases));
	tcase_add_test(tc, test_fake_limit_header_counts);
	tcase_add_test(tc, test_fake_http_limits);
	tcase_add_test(tc, test_fake_keepalive_pipelining_continue);
	tcase_add_test(tc, test_fake_slow_client_bounded);
	tcase_add_test(tc, test_fake_control_plane);
	tcase_add_test(tc, test_fake_reset_clears);
	tcase_add_test(tc, test_fake_lifecycle);
	tcase_add_test(tc, test_fake_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner		*sr;
	struct buf	 logb;
	int		 failed;

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "test_sf: library initialisation failed\n");
		return 2;
	}
	/* Failure paths log at warn and error; keep the run's output short. */
	log_init("test_sf", LOG_LVL_ERROR);
	t_find_fake();
	t_make_keys();
	sr = srunner_create(t_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* Across the whole run: the fake never logged a token or assertion. */
	buf_init(&logb, 256u * 1024u * 1024u);
	t_read_file(t_fake_log, &logb);
	if (strstr(buf_cstr(&logb), T_TOKEN_MARK) != NULL ||
	    strstr(buf_cstr(&logb), T_JWT_MARK) != NULL) {
		fprintf(stderr, "test_sf: a secret reached %s\n", t_fake_log);
		t_harness_failed = 1;
	}
	buf_free(&logb);
	EVP_PKEY_free(t_pkey);
	EVP_PKEY_free(t_wrong_pkey);
	if (!t_harness_failed)
		t_remove_dir();
	curl_global_cleanup();
	return failed == 0 && !t_harness_failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
