/*
 * check_util: see check_util.h.  Test scaffolding only: failures to set up
 * (a temporary file that cannot be made, a pipe that cannot be read) abort
 * the test with a message rather than let it pass on a broken fixture.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sodium.h>

#include "check_util.h"
#include "errs.h"
#include "util.h"

static long
cu_io_read(void *h, char *out, size_t n)
{
	struct cu_io	*io = h;
	size_t		 left = io->len - io->pos;

	io->reads++;
	if (n > left)
		n = left;
	if (io->chunk && n > io->chunk)
		n = io->chunk;
	if (n)
		memcpy(out, io->body + io->pos, n);
	io->pos += n;
	return (long)n;
}

static int
cu_io_write(void *h, const char *p, size_t n)
{
	struct cu_io	*io = h;

	io->writes++;
	return buf_append(&io->out, p, n) == CB_OK ? 0 : -1;
}

void
cu_io_init(struct cu_io *io, const char *body, size_t len)
{
	memset(io, 0, sizeof(*io));
	io->body = body ? body : "";
	io->len = body ? len : 0;
	buf_init(&io->out, REQ_RESP_MAX + 65536);
}

void
cu_io_bind(struct cu_io *io, struct req_io *rio)
{
	rio->read = cu_io_read;
	rio->write = cu_io_write;
	rio->h = io;
}

void
cu_io_free(struct cu_io *io)
{
	buf_free(&io->out);
}

char **
cu_env(const char *name, ...)
{
	va_list		 ap;
	const char	*k, *v;
	char		**env;
	size_t		 n = 0, i;

	va_start(ap, name);
	for (k = name; k != NULL; k = va_arg(ap, const char *)) {
		(void)va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	env = util_calloc(n + 1, sizeof(*env));
	va_start(ap, name);
	for (i = 0, k = name; k != NULL; k = va_arg(ap, const char *), i++) {
		struct buf	 b;

		v = va_arg(ap, const char *);
		buf_init(&b, 0);
		buf_printf(&b, "%s=%s", k, v ? v : "");
		env[i] = util_strdup(buf_cstr(&b));
		buf_free(&b);
	}
	va_end(ap);
	env[n] = NULL;
	return env;
}

void
cu_env_free(char **env)
{
	size_t	 i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

static const char *
cu_find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

int
cu_resp_parse(const char *raw, size_t len, struct cu_resp *r)
{
	const char	*p = raw, *end = raw + len, *eol, *colon, *sp, *ct;
	long long	 st;
	char		*line;

	memset(r, 0, sizeof(*r));
	if ((eol = cu_find_crlf(p, end)) == NULL || strncmp(p, "Status: ", 8) != 0)
		return -1;
	line = util_strndup(p + 8, (size_t)(eol - p - 8));
	sp = strchr(line, ' ');
	if (sp == NULL) {
		free(line);
		return -1;
	}
	r->reason = util_strdup(sp + 1);
	line[sp - line] = '\0';
	if (util_parse_ll(line, 100, 599, &st) != CB_OK) {
		free(line);
		cu_resp_free(r);
		return -1;
	}
	free(line);
	r->status = (int)st;
	p = eol + 2;
	for (;;) {
		if ((eol = cu_find_crlf(p, end)) == NULL) {
			cu_resp_free(r);
			return -1;
		}
		if (eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon[1] != ' ') {
			cu_resp_free(r);
			return -1;
		}
		r->headers = realloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
		if (r->headers == NULL)
			util_oom();
		r->headers[r->nheaders].name = util_strndup(p, (size_t)(colon - p));
		r->headers[r->nheaders].value = util_strndup(colon + 2,
		    (size_t)(eol - colon - 2));
		r->nheaders++;
		p = eol + 2;
	}
	p = eol + 2;
	r->body_len = (size_t)(end - p);
	r->body = util_malloc(r->body_len + 1);
	memcpy(r->body, p, r->body_len);
	r->body[r->body_len] = '\0';
	ct = cu_resp_header(r, "Content-Type");
	if (ct && strstr(ct, "json") && r->body_len > 0)
		r->json = cJSON_ParseWithLength(r->body, r->body_len);
	return 0;
}

const char *
cu_resp_header(const struct cu_resp *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

size_t
cu_resp_header_count(const struct cu_resp *r, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			n++;
	return n;
}

const char *
cu_resp_str(const struct cu_resp *r, const char *member)
{
	const cJSON	*v;

	if (r->json == NULL)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(r->json, member);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
cu_resp_free(struct cu_resp *r)
{
	size_t	 i;

	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->reason);
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

static int	 cu_saved_stderr = -1;
static FILE	*cu_capture;

void
cu_stderr_begin(void)
{
	ck_assert_msg(cu_saved_stderr == -1, "stderr capture already running");
	fflush(stderr);
	cu_capture = tmpfile();
	ck_assert_msg(cu_capture != NULL, "tmpfile: %s", strerror(errno));
	cu_saved_stderr = dup(STDERR_FILENO);
	ck_assert_msg(cu_saved_stderr >= 0, "dup: %s", strerror(errno));
	ck_assert_msg(dup2(fileno(cu_capture), STDERR_FILENO) == STDERR_FILENO,
	    "dup2: %s", strerror(errno));
}

char *
cu_stderr_end(void)
{
	struct buf	 b;
	char		 chunk[4096];
	size_t		 n;
	char		*s;

	ck_assert_msg(cu_saved_stderr >= 0, "stderr capture not running");
	fflush(stderr);
	dup2(cu_saved_stderr, STDERR_FILENO);
	close(cu_saved_stderr);
	cu_saved_stderr = -1;
	buf_init(&b, 0);
	rewind(cu_capture);
	while ((n = fread(chunk, 1, sizeof(chunk), cu_capture)) > 0)
		ck_assert(buf_append(&b, chunk, n) == CB_OK);
	fclose(cu_capture);
	cu_capture = NULL;
	s = util_strndup(buf_cstr(&b), b.len);
	buf_free(&b);
	return s;
}

int
cu_send_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = send(fd, c, n, MSG_NOSIGNAL)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void
cu_tmpfile(const char *content, char *path, size_t pathsz)
{
	size_t	 len = strlen(content), off = 0;
	ssize_t	 n;
	int	 fd;

	ck_assert_msg(util_strlcpy(path, "/tmp/cb-unit-XXXXXX", pathsz) < pathsz,
	    "path buffer too small");
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	while (off < len) {
		n = write(fd, content + off, len - off);
		ck_assert_msg(n > 0, "write %s: %s", path, strerror(errno));
		off += (size_t)n;
	}
	close(fd);
}

const char *
cu_env_required(const char *name)
{
	const char	*v = getenv(name);

	ck_assert_msg(v != NULL,
	    "%s is not set: this suite needs a live server (see scripts/stack.sh "
	    "or start one and export %s)", name, name);
	return v;
}

char *
cu_slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*s;
	long	 n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	s = util_calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

void
cu_random_name(char *out, size_t outsz, const char *prefix)
{
	char	 tok[32];
	size_t	 i;

	util_random_token(tok, sizeof(tok), 9);
	/* Identifiers stay lower-case alphanumeric: safe as SQL or key names. */
	for (i = 0; tok[i]; i++)
		if (!isalnum((unsigned char)tok[i]))
			tok[i] = 'x';
		else
			tok[i] = (char)tolower((unsigned char)tok[i]);
	snprintf(out, outsz, "%s%s", prefix, tok);
}

const char *
cu_visible(const char *in, char *out, size_t outsz)
{
	size_t	 o = 0;

	if (outsz == 0)
		return out;
	for (; in && *in && o + 5 < outsz; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

int
cu_run(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 2;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
