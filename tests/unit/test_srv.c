/*
 * test_srv: how the FastCGI serving loop (lib/srv) ends a connection.  A
 * test process plays nginx over the unix socket of a one-child srv_run:
 *
 * - a request whose input was read to its end (a GET) frees the child at
 *   once, while the client still holds its side open: a second connection
 *   is answered without waiting for the first to close (libfcgi's careful
 *   close would hold the child up to 2 s for it);
 * - a body the handler never read still meets the careful close: every
 *   byte of a body far over the drain's bound is taken (no write of the
 *   client's fails) and the answer arrives whole.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "srv.h"
#include "util.h"

#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6

static char	 sock_dir[64];
static char	 sock_path[128];
static pid_t	 master;

static const char *
env_of(char *const *env, const char *name)
{
	size_t	 n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return "";
}

/* The handler: answers "ok"; reads its input first only when asked to. */
static void
handle(char *const *env, const struct req_io *io, void *ud)
{
	static const char	 ans[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok";
	char			 buf[4096];

	(void)ud;
	if (strcmp(env_of(env, "READ_BODY"), "1") == 0)
		while (io->read(io->h, buf, sizeof(buf)) > 0)
			;
	(void)io->write(io->h, ans, sizeof(ans) - 1);
}

static void
start(void)
{
	struct srv_opts		 o;
	static struct srv_hooks	 h = { .handle = handle };
	int			 i;

	util_strlcpy(sock_dir, "/tmp/cb-test-srv-XXXXXX", sizeof(sock_dir));
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", sock_dir);
	memset(&o, 0, sizeof(o));
	o.socket = sock_path;
	o.procs = 1;
	o.backlog = 16;
	o.grace_s = 2;
	master = fork();
	ck_assert_int_ge(master, 0);
	if (master == 0)
		_exit(srv_run(&o, &h));
	for (i = 0; i < 200 && access(sock_path, F_OK) != 0; i++)
		usleep(20000);
	ck_assert_int_eq(access(sock_path, F_OK), 0);
	usleep(100000);		/* the child is forked and waiting */
}

static void
stop(void)
{
	int	 st;

	kill(master, SIGTERM);
	ck_assert_int_eq(waitpid(master, &st, 0), master);
	unlink(sock_path);
	rmdir(sock_dir);
}

static int
dial(void)
{
	struct sockaddr_un	 a;
	int			 fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	util_strlcpy(a.sun_path, sock_path, sizeof(a.sun_path));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}


static int
record(int fd, int type, const void *body, size_t n)
{
	unsigned char	 h[8] = { 1, (unsigned char)type, 0, 1,
	    (unsigned char)(n >> 8), (unsigned char)(n & 0xff), 0, 0 };

	if (cu_send_all(fd, h, sizeof(h)) != 0)
		return -1;
	return n > 0 ? cu_send_all(fd, body, n) : 0;
}

/* BEGIN_REQUEST and the parameters (names and values under 128 bytes). */
static void
begin(int fd, const char *method, int read_body)
{
	static const unsigned char	 role[8] = { 0, 1, 0 };
	const char			*kv[][2] = { { "REQUEST_METHOD", method },
	    { "DOCUMENT_URI", "/t" }, { "READ_BODY", read_body ? "1" : "0" } };
	unsigned char			 p[512];
	size_t				 n = 0, i, kl, vl;

	ck_assert_int_eq(record(fd, FCGI_BEGIN_REQUEST, role, sizeof(role)), 0);
	for (i = 0; i < CU_NELEM(kv); i++) {
		kl = strlen(kv[i][0]);
		vl = strlen(kv[i][1]);
		p[n++] = (unsigned char)kl;
		p[n++] = (unsigned char)vl;
		memcpy(p + n, kv[i][0], kl);
		memcpy(p + n + kl, kv[i][1], vl);
		n += kl + vl;
	}
	ck_assert_int_eq(record(fd, FCGI_PARAMS, p, n), 0);
	ck_assert_int_eq(record(fd, FCGI_PARAMS, NULL, 0), 0);
}

/* Read records up to END_REQUEST: 1 when the stdout carried "ok". */
static int
answer(int fd)
{
	unsigned char	 h[8], body[65536 + 256];
	size_t		 got, n;
	ssize_t		 r;
	int		 ok = 0;

	for (;;) {
		for (got = 0; got < sizeof(h); got += (size_t)r)
			if ((r = read(fd, h + got, sizeof(h) - got)) <= 0)
				return -1;
		n = (size_t)h[4] << 8 | h[5];
		n += h[6];
		for (got = 0; got < n; got += (size_t)r)
			if ((r = read(fd, body + got, n - got)) <= 0)
				return -1;
		if (h[1] == FCGI_STDOUT && n >= 2 && memmem(body, n, "\r\n\r\nok", 6) != NULL)
			ok = 1;
		if (h[1] == FCGI_END_REQUEST)
			return ok;
	}
}

START_TEST(test_read_input_frees_the_child)
{
	int	 a, b;
	double	 t0, took;

	start();
	a = dial();
	begin(a, "GET", 0);
	ck_assert_int_eq(record(a, FCGI_STDIN, NULL, 0), 0);
	ck_assert_int_eq(answer(a), 1);
	/* a stays open, as a busy nginx leaves it a while. */
	t0 = util_now_ms();
	b = dial();
	begin(b, "GET", 0);
	ck_assert_int_eq(record(b, FCGI_STDIN, NULL, 0), 0);
	ck_assert_int_eq(answer(b), 1);
	took = util_now_ms() - t0;
	ck_assert_msg(took < 1000, "the second connection waited %.0f ms for the first", took);
	close(a);
	close(b);
	stop();
}
END_TEST

START_TEST(test_unread_body_closes_carefully)
{
	static char	 chunk[32768];
	int		 a, i;

	memset(chunk, 'x', sizeof(chunk));
	start();
	a = dial();
	begin(a, "POST", 0);
	/* 512 KiB the handler never reads: far over the drain's bound. */
	for (i = 0; i < 16; i++)
		ck_assert_msg(record(a, FCGI_STDIN, chunk, sizeof(chunk)) == 0,
		    "writing the body failed at chunk %d: %s", i, strerror(errno));
	ck_assert_int_eq(record(a, FCGI_STDIN, NULL, 0), 0);
	ck_assert_int_eq(answer(a), 1);
	close(a);
	/* The child serves on. */
	a = dial();
	begin(a, "POST", 1);
	ck_assert_int_eq(record(a, FCGI_STDIN, chunk, 100), 0);
	ck_assert_int_eq(record(a, FCGI_STDIN, NULL, 0), 0);
	ck_assert_int_eq(answer(a), 1);
	close(a);
	stop();
}
END_TEST

static Suite *
srv_suite(void)
{
	Suite	*s = suite_create("srv");
	TCase	*tc = tcase_create("close");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_read_input_frees_the_child);
	tcase_add_test(tc, test_unread_body_closes_carefully);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(srv_suite());
}
