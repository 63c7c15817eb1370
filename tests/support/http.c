/*
 * http: see http.h.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <check.h>
#include <curl/curl.h>

#include "buf.h"
#include "http.h"
#include "jwt.h"
#include "util.h"

static size_t
http_collect(char *p, size_t sz, size_t n, void *ud)
{
	struct buf	*b = ud;

	if (buf_append(b, p, sz * n) != 0)
		return 0;
	return sz * n;
}

static size_t
http_collect_hdr(char *p, size_t sz, size_t n, void *ud)
{
	struct buf	*b = ud;
	size_t		 i, len = sz * n;

	/* Lower-case the name so lookups are case-insensitive. */
	for (i = 0; i < len && p[i] != ':'; i++)
		buf_putc(b, (char)tolower((unsigned char)p[i]));
	if (i < len)
		buf_append(b, p + i, len - i);
	return len;
}

const char *
test_env(const char *name)
{
	const char	*v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "missing environment variable %s: run through scripts/test.sh\n", name);
		abort();
	}
	return v;
}

const char *
test_blind_key(void)
{
	static char	 hex[80];
	FILE		*f = fopen(test_env("CB_BLIND_INDEX_KEY_FILE"), "r");
	size_t		 n;

	if (f == NULL) {
		fprintf(stderr, "cannot read CB_BLIND_INDEX_KEY_FILE\n");
		abort();
	}
	n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	hex[n] = '\0';
	return hex;
}

const char *
http_base(void)
{
	return test_env("CB_HTTP_URL");
}

const char *
https_base(void)
{
	return test_env("CB_HTTPS_URL");
}

/* The source address of later requests and WebSockets (NULL: any). */
static const char	*http_src;

void
http_source(const char *addr)
{
	http_src = addr;
}

const char *
http_source_addr(void)
{
	return http_src;
}

/* The client certificate of later requests over TLS (NULL: none). */
static const char	*http_cert, *http_key;

void
http_client_cert(const char *cert_pem_file, const char *key_pem_file)
{
	http_cert = cert_pem_file;
	http_key = key_pem_file;
}

/*
 * Credential routes answer only over TLS (lib/route.h, ROUTE_TLS_ONLY):
 * their paths go to the HTTPS listener, every other one to plain HTTP.
 */
const char *
http_base_for(const char *path)
{
	if (strncmp(path, "/api/v1/auth/", 13) == 0 || strncmp(path, "/api/v1/admin/", 14) == 0 ||
	    strncmp(path, "/api/v1/approvals/", 18) == 0)
		return https_base();
	return http_base();
}

/* The full_name a submit body carries, noted as personal data. */
static void
http_note_submit(const char *url, const char *body, size_t len)
{
	size_t	 n = strlen(url);
	cJSON	*j, *v;

	if (body == NULL || n < 7 || strcmp(url + n - 7, "/submit") != 0 ||
	    (j = cJSON_ParseWithLength(body, len)) == NULL)
		return;
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "full_name");
	if (cJSON_IsString(v))
		test_record_personal(v->valuestring);
	cJSON_Delete(j);
}

int
http_do(const char *method, const char *url, const char *const *hdrs,
    const char *body, size_t body_len, struct http_resp *r)
{
	CURL			*c;
	struct curl_slist	*sl = NULL;
	struct buf		 b, h;
	char			 full[2048];
	CURLcode		 cc;

	memset(r, 0, sizeof(*r));
	http_note_submit(url, body, body_len);
	if (url[0] == '/')
		snprintf(full, sizeof(full), "%s%s", http_base_for(url), url);
	else
		snprintf(full, sizeof(full), "%s", url);
	buf_init(&b, 64u * 1024u * 1024u);
	buf_init(&h, 1024u * 1024u);
	c = curl_easy_init();
	if (c == NULL)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_collect_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* The development certificate is self-signed. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	/* HTTP/1.1 on both listeners, as before TLS carried the credential routes. */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (http_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, http_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, http_key);
	}
	if (http_src) {
		char	 iface[80];

		snprintf(iface, sizeof(iface), "host!%s", http_src);
		curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
	}
	sl = curl_slist_append(sl, "Expect:");
	for (; hdrs && *hdrs; hdrs++)
		sl = curl_slist_append(sl, *hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -1;
	curl_slist_free_all(sl);
	curl_easy_cleanup(c);
	r->body = util_strdup(buf_cstr(&b));
	r->body_len = b.len;
	r->headers = util_strdup(buf_cstr(&h));
	buf_free(&b);
	buf_free(&h);
	return cc == CURLE_OK ? 0 : -1;
}

const char *
http_header(const struct http_resp *r, const char *name)
{
	static char	 val[1024];
	char		 key[128];
	const char	*p, *e;
	size_t		 i, n;

	n = strlen(name);
	if (n + 2 > sizeof(key) || r->headers == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[n] = ':';
	key[n + 1] = '\0';
	/* The last occurrence wins (after redirects or 100-continue). */
	p = NULL;
	for (e = r->headers; (e = strstr(e, key)) != NULL; e++)
		if (e == r->headers || e[-1] == '\n')
			p = e;
	if (p == NULL)
		return NULL;
	p += n + 1;
	while (*p == ' ')
		p++;
	e = p + strcspn(p, "\r\n");
	n = (size_t)(e - p) < sizeof(val) - 1 ? (size_t)(e - p) : sizeof(val) - 1;
	memcpy(val, p, n);
	val[n] = '\0';
	return val;
}

cJSON *
http_json(struct http_resp *r)
{
	if (r->json == NULL && r->body)
		r->json = cJSON_Parse(r->body);
	return r->json;
}

const char *
http_json_str(struct http_resp *r, const char *member)
{
	cJSON	*j = http_json(r), *v;

	if (j == NULL)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(j, member);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
http_free(struct http_resp *r)
{
	free(r->body);
	free(r->headers);
	if (r->json)
		cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

void
test_stack_env(const char *env, const char *cmd)
{
	char	 line[1024], out[8192];

	snprintf(line, sizeof(line), "%s '%s/scripts/stack.sh' %s 2>&1", env ? env : "",
	    test_env("CB_REPO"), cmd);
	ck_assert_msg(test_run(line, out, sizeof(out)) == 0, "%s: %s", line, out);
}

void
test_stack(const char *cmd)
{
	test_stack_env(NULL, cmd);
}

void
test_sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

double
test_now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
http_wait_status(const char *path, long status, int ms)
{
	struct http_resp r;
	int		 waited;

	for (waited = 0; waited <= ms; waited += 100) {
		http_do("GET", path, NULL, NULL, 0, &r);
		if (r.status == status) {
			http_free(&r);
			return 1;
		}
		http_free(&r);
		test_sleep_ms(100);
	}
	return 0;
}

long
test_pidfile(const char *path)
{
	FILE		*f = fopen(path, "r");
	char		 line[32] = "";
	long long	 v = 0;

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL)
		line[strcspn(line, "\n")] = '\0';
	fclose(f);
	if (util_parse_ll(line, 1, 1 << 30, &v) != 0)
		return 0;
	return (long)v;
}

int
test_children(long pid, long *out, int max)
{
	char		 path[64], buf[4096], *p, *sp;
	FILE		*f;
	int		 n = 0;
	long long	 v;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	for (p = buf; n < max && *p; p = sp) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		sp = p + strcspn(p, " \n");
		if (*sp)
			*sp++ = '\0';
		if (util_parse_ll(p, 1, 1 << 30, &v) == 0)
			out[n++] = (long)v;
	}
	return n;
}

void
test_kill_children(const char *name)
{
	char	 pidfile[512];
	long	 master, kids[64];
	int	 n, i;

	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", test_env("CB_RUN_DIR"), name);
	master = test_pidfile(pidfile);
	ck_assert_int_gt(master, 0);
	n = test_children(master, kids, 64);
	for (i = 0; i < n; i++)
		(void)kill((pid_t)kids[i], SIGKILL);
}

int
test_run(const char *cmd, char *out, size_t outsz)
{
	FILE	*p;
	size_t	 n = 0, r;
	int	 st;

	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (outsz > 1 && (r = fread(out + n, 1, outsz - 1 - n, p)) > 0)
		n += r;
	if (outsz)
		out[n] = '\0';
	/* Drain anything past the cap so the child never blocks. */
	{
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void
http_as(const char *method, const char *path, const char *token, const char *key,
    const char *body, struct http_resp *r)
{
	char		 a[JWT_TOKEN_BUFSZ + 32], k[160];
	const char	*h[4];
	int		 n = 0;

	if (body != NULL)
		h[n++] = "Content-Type: application/json";
	if (token != NULL) {
		snprintf(a, sizeof(a), "Authorization: Bearer %s", token);
		h[n++] = a;
	}
	if (key != NULL) {
		snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
		h[n++] = k;
	}
	h[n] = NULL;
	http_do(method, path, h, body, body ? strlen(body) : 0, r);
}

/* Append v to $CB_STATE/<file> when it is at least min bytes and one line. */
static void
test_record(const char *file, const char *v, size_t min)
{
	const char	*state = getenv("CB_STATE");
	char		 path[512];
	FILE		*f;

	if (state == NULL || v == NULL || strlen(v) < min || strchr(v, '\n'))
		return;
	snprintf(path, sizeof(path), "%s/%s", state, file);
	if ((f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%s\n", v);
	fclose(f);
}

void
test_record_secret(const char *secret)
{
	/* Short strings would match by accident; every real secret is longer. */
	test_record("test-secrets.txt", secret, 12);
}

void
test_record_personal(const char *v)
{
	/* A name shorter than this ("Fay") matches ordinary words. */
	test_record("test-personal.txt", v, 6);
}


void
http_expect_problem(struct http_resp *r, long status, const char *type)
{
	const char	*ct;
	cJSON		*j, *st;

	ck_assert_msg(r->status == status, "expected %ld, got %ld: %s", status, r->status,
	    r->body ? r->body : "");
	ct = http_header(r, "Content-Type");
	ck_assert_msg(ct != NULL && strcmp(ct, "application/problem+json") == 0,
	    "Content-Type %s, not application/problem+json", ct ? ct : "(none)");
	j = http_json(r);
	ck_assert_msg(cJSON_IsObject(j), "problem body is not a JSON object: %s", r->body);
	st = cJSON_GetObjectItem(j, "status");
	ck_assert(cJSON_IsNumber(st));
	ck_assert_int_eq((long)st->valuedouble, status);
	ck_assert_ptr_nonnull(http_json_str(r, "title"));
	if (type)
		ck_assert_str_eq(http_json_str(r, "type"), type);
}

void
http_urlencode(const char *s, char *out, size_t outsz)
{
	size_t	 o = 0;

	for (; *s && o + 4 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "%%%02X", c);
	}
	ck_assert_msg(*s == '\0', "http_urlencode: out of room");
	out[o] = '\0';
}
