/*
 * cb-bench-fixed: the bare FastCGI reference of `make bench`.
 *
 *   cb-bench-fixed --socket PATH --procs N --pidfile PATH
 *
 * The floor any read route stands on: preforked processes in a blocking
 * FCGX_Accept_r loop that answer every request with the same bytes, a fixed
 * JSON body, and do nothing else (no routing, no authentication, no cache,
 * no log line).  scripts/bench.sh serves it behind the bench stack's own
 * nginx, in a location that exists on the bench stack only, and compares
 * the form load route against it.
 *
 * The body is the file named by CB_BENCH_FIXED_BODY, read by each process
 * on its first request and kept (the bench writes it after seeding, from the
 * form load answer itself, so both routes send the same number of bytes);
 * until the file exists the answer is a 503.  The arguments are those
 * scripts/stack.sh gives every responder, so the stack starts and stops it
 * like one.  Not for production: it is built for the bench only.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "sigs.h"

#define FIXED_MAX_PROCS	64
#define FIXED_BODY_MAX	(1u << 20)

static volatile sig_atomic_t	fixed_stop;

static void
fixed_on_term(int sig)
{
	(void)sig;
	fixed_stop = 1;
}

/* The whole file, or NULL (missing, empty, too large). */
static char *
fixed_load(const char *path, size_t *len)
{
	FILE	*f;
	char	*b;
	size_t	 n;

	if (path == NULL || (f = fopen(path, "rb")) == NULL)
		return NULL;
	if ((b = malloc(FIXED_BODY_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(b, 1, FIXED_BODY_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > FIXED_BODY_MAX) {
		free(b);
		return NULL;
	}
	*len = n;
	return b;
}

static void
fixed_child(int lfd)
{
	FCGX_Request	 r;
	const char	*path = getenv("CB_BENCH_FIXED_BODY");
	char		 head[160];
	char		*body = NULL;
	size_t		 len = 0;
	int		 hl;

	sigs_set(SIGTERM, SIG_DFL);
	sigs_set(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, lfd, 0) != 0)
		_exit(3);
	while (FCGX_Accept_r(&r) >= 0) {
		if (body == NULL)
			body = fixed_load(path, &len);
		if (body == NULL) {
			FCGX_PutS("Status: 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", r.out);
		} else {
			hl = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
			    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", len);
			FCGX_PutStr(head, hl, r.out);
			FCGX_PutStr(body, (int)len, r.out);
		}
		FCGX_Finish_r(&r);
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	const char	*sock = NULL, *pidfile = NULL;
	pid_t		 kids[FIXED_MAX_PROCS];
	sigset_t	 block, oldmask;
	FILE		*f;
	long		 procs = 2;
	int		 i, lfd;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--socket") == 0)
			sock = argv[i + 1];
		else if (strcmp(argv[i], "--pidfile") == 0)
			pidfile = argv[i + 1];
		else if (strcmp(argv[i], "--procs") == 0)
			procs = strtol(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i != argc || sock == NULL || procs < 1 || procs > FIXED_MAX_PROCS) {
		fprintf(stderr, "usage: cb-bench-fixed --socket PATH --procs 1..%d [--pidfile PATH]\n",
		    FIXED_MAX_PROCS);
		return 2;
	}
	(void)unlink(sock);
	if ((lfd = FCGX_OpenSocket(sock, 1024)) < 0) {
		fprintf(stderr, "cb-bench-fixed: cannot listen on %s: %s\n", sock, strerror(errno));
		return 1;
	}
	(void)chmod(sock, 0660);
	if (pidfile != NULL && (f = fopen(pidfile, "w")) != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}

	/* TERM is only taken in sigsuspend: no race between the check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	sigs_on_stop(fixed_on_term);
	for (i = 0; i < procs; i++) {
		if ((kids[i] = fork()) == 0) {
			sigprocmask(SIG_SETMASK, &oldmask, NULL);
			fixed_child(lfd);
		}
		if (kids[i] < 0) {
			procs = i;
			fixed_stop = 1;
			break;
		}
	}
	while (!fixed_stop)
		sigsuspend(&oldmask);
	for (i = 0; i < procs; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < procs; i++)
		(void)waitpid(kids[i], NULL, 0);
	(void)unlink(sock);
	if (pidfile != NULL)
		(void)unlink(pidfile);
	return 0;
}
