/*
 * http: a small libcurl client for integration tests that talk to the real
 * stack through nginx.  Responses keep status, headers and body; JSON bodies
 * are parsed on demand.
 */
#ifndef CB_TEST_HTTP_H
#define CB_TEST_HTTP_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct http_resp {
	long	 status;
	char	*body;
	size_t	 body_len;
	char	*headers;	/* raw header block, lower-cased names */
	cJSON	*json;		/* parsed lazily by http_json */
};

/*
 * Make a request.  `url` may be a path ("/api/health"): it is joined to
 * http_base_for(path).  `hdrs` is a NULL-terminated list of "Name: value"
 * strings.
 */
int	 http_do(const char *method, const char *url, const char *const *hdrs,
	    const char *body, size_t body_len, struct http_resp *);
/* Send exactly `declared` as Content-Length but only `sent` bytes of body. */
const char *http_header(const struct http_resp *, const char *name);
cJSON	*http_json(struct http_resp *);
/*
 * Assert an RFC 9457 answer: the status, application/problem+json, a JSON
 * object whose `status` member matches, a title, and `type` when given.
 */
void	 http_expect_problem(struct http_resp *, long status, const char *type);
/* The string value of a top-level JSON member, or NULL. */
const char *http_json_str(struct http_resp *, const char *member);
void	 http_free(struct http_resp *);
/* Percent-encode s (RFC 3986 unreserved kept, the rest %XX); the test fails when out is too small. */
void	 http_urlencode(const char *s, char *out, size_t outsz);
/*
 * A person's (or anyone's) JSON request: Authorization: Bearer <token> when
 * token is given, Idempotency-Key: "<key>" when key is, and
 * Content-Type: application/json when there is a body.
 */
void	 http_as(const char *method, const char *path, const char *token, const char *key,
	    const char *body, struct http_resp *);
/* Base URLs from the environment written by scripts/stack.sh. */
const char *http_base(void);
const char *https_base(void);
/*
 * The base a path is joined to: CB_HTTPS_URL for the credential routes
 * (/api/v1/auth/, /api/v1/admin/, /api/v1/approvals/: refused over plain
 * HTTP), else CB_HTTP_URL.
 */
const char *http_base_for(const char *path);
/*
 * Send this process's later requests and WebSockets from `addr`, another
 * loopback address such as "127.0.0.2" (NULL: the default).  The stack's
 * edge limits exempt 127.0.0.1 (CB_EDGE_EXEMPT); other addresses see them.
 */
void	 http_source(const char *addr);
const char *http_source_addr(void);
/*
 * Present this client certificate (PEM files) on later requests over TLS
 * (mutual TLS, lib/mtls.h); NULL, NULL: none.
 */
void	 http_client_cert(const char *cert_pem_file, const char *key_pem_file);
/* Wait until GET path answers `status`, up to `ms`; returns 1 on success. */
int	 http_wait_status(const char *path, long status, int ms);

/* Environment helpers: fail the test (abort) when a variable is missing. */
const char *test_env(const char *name);
/* The blind index key (hex) from CB_BLIND_INDEX_KEY_FILE, read again at each call. */
const char *test_blind_key(void);
/* Read a pid file; 0 if unreadable. */
long	 test_pidfile(const char *path);
/* Children of a process (from /proc); returns the count written. */
int	 test_children(long pid, long *out, int max);
/*
 * SIGKILL to every child of the stack's process `name` (its pid file in
 * CB_RUN_DIR: a responder's master, "cb-worker"), which starts them again.
 */
void	 test_kill_children(const char *name);
/* Run a shell command, capturing stdout+stderr into out (capped); exit status. */
int	 test_run(const char *cmd, char *out, size_t outsz);
void	 test_sleep_ms(long ms);
/* Run `scripts/stack.sh CMD` on the suite's stack; fail the test if it fails. */
void	 test_stack(const char *cmd);
/*
 * The same with a shell prefix before stack.sh (e.g. "CB_X=1" or
 * "env -u CB_X"): the environment the processes it starts inherit.
 */
void	 test_stack_env(const char *env, const char *cmd);
/* Seconds on the monotonic clock, for measuring waits. */
double	 test_now_s(void);
/*
 * Note a secret a test used (password, token, key): scripts/test.sh fails
 * the run if any log of the stack contains one.
 */
void	 test_record_secret(const char *);
/*
 * Note personal data a test sent (a submitted name): scripts/test.sh fails
 * the run if any broker log contains it.  http_do notes the full_name of
 * every submit body itself; emails and phone numbers are found by shape.
 */
void	 test_record_personal(const char *);

#endif
