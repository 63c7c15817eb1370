/*
 * srv: see srv.h.  The only file, with req.c's I/O adapters here, that calls
 * libfcgi.  Signal handlers only set flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "errs.h"
#include "log.h"
#include "metrics.h"
#include "sigs.h"
#include "srv.h"
#include "supervise.h"
#include "util.h"

#define SRV_MAX_PROCS	256

/* The child's own stop flag, set by its SIGTERM handler. */
static volatile sig_atomic_t	srv_stop;

static void
srv_on_term(int sig)
{
	(void)sig;
	srv_stop = 1;
}

int
srv_parse_args(int argc, char **argv, struct srv_opts *o, char *err, size_t errsz)
{
	long long	 v;
	int		 i;

	o->socket = NULL;
	o->pidfile = NULL;
	o->procs = 2;
	o->backlog = 1024;
	o->grace_s = 10;
	o->print_routes = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--socket") == 0 && val) {
			o->socket = val;
			i++;
		} else if (strcmp(a, "--routes") == 0) {
			o->print_routes = 1;
		} else if (strcmp(a, "--pidfile") == 0 && val) {
			o->pidfile = val;
			i++;
		} else if (strcmp(a, "--procs") == 0 && val) {
			if (util_parse_ll(val, 1, SRV_MAX_PROCS, &v) != CB_OK) {
				snprintf(err, errsz, "--procs must be 1..%d", SRV_MAX_PROCS);
				return CB_ERR_CONFIG;
			}
			o->procs = (int)v;
			i++;
		} else if (strcmp(a, "--backlog") == 0 && val) {
			if (util_parse_ll(val, 1, 65535, &v) != CB_OK) {
				snprintf(err, errsz, "--backlog must be 1..65535");
				return CB_ERR_CONFIG;
			}
			o->backlog = (int)v;
			i++;
		} else {
			snprintf(err, errsz, "unknown argument %.64s (usage: --socket PATH "
			    "--procs N --pidfile PATH --backlog N, or --routes)", a);
			return CB_ERR_CONFIG;
		}
	}
	return CB_OK;
}

/* Adapters between req_io and FCGX streams. */
static long
srv_read(void *h, char *buf, size_t n)
{
	FCGX_Request	*r = h;
	int		 want = n > (1u << 30) ? (1 << 30) : (int)n;

	return FCGX_GetStr(buf, want, r->in);
}

static int
srv_write(void *h, const char *buf, size_t n)
{
	FCGX_Request	*r = h;

	while (n > 0) {
		int chunk = n > (1u << 20) ? (1 << 20) : (int)n;

		if (FCGX_PutStr(buf, chunk, r->out) != chunk)
			return -1;
		buf += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

/*
 * End the request's connection.  libfcgi's close shuts its side down and
 * then reads until nginx closes its own (for up to 2 s), so that input
 * still in flight cannot make the close reset nginx's side before nginx has
 * read the answer.  Meanwhile the child serves no one: it waits for as long
 * as nginx takes to get round to the close, on a busy machine a large part
 * of the child's time, and more so the more nginx has to do per request.
 * Once the input has been read to its end nothing can be in flight, so the
 * connection is closed at once (FCGX_Detach: libfcgi's close without the
 * shutdown).  A GET's input is the empty record nginx sends with the
 * parameters; a body the route read whole leaves only that record.  Input
 * still unread after a bounded drain (a body refused unread) keeps
 * libfcgi's careful close.
 */
#define SRV_DRAIN_MAX	65536

static void
srv_finish(FCGX_Request *r)
{
	char	 sink[4096];
	size_t	 drained = 0;
	int	 n;

	while (drained < SRV_DRAIN_MAX && !FCGX_HasSeenEOF(r->in)) {
		if ((n = FCGX_GetStr(sink, (int)sizeof(sink), r->in)) <= 0)
			break;
		drained += (size_t)n;
	}
	if (FCGX_HasSeenEOF(r->in) == EOF && FCGX_GetError(r->in) == 0)
		(void)FCGX_Detach(r);
	FCGX_Finish_r(r);
}

/* One child's place: its index is its metrics slot (lib/metrics.h), kept across respawns. */
struct srv_slot {
	int			 lfd;
	int			 index;
	const struct srv_hooks	*h;
};

static void
srv_child(int lfd, int index, const struct srv_hooks *h)
{
	FCGX_Request	 r;
	sigset_t	 waitmask;
	struct epoll_event ev;
	struct req_io	 io;
	int		 ep;

	sigs_on_stop(srv_on_term);
	sigs_set(SIGCHLD, SIG_DFL);
	sigs_set(SIGPIPE, SIG_IGN);
	sigemptyset(&waitmask);

	metrics_enter((unsigned)index);
	if (h->child_init && h->child_init(h->ud) != 0)
		_exit(3);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, lfd, 0) != 0) {
		log_msg(LOG_LVL_ERROR, "fcgi_init_failed", "FCGX_Init failed");
		_exit(3);
	}
	io.read = srv_read;
	io.write = srv_write;
	io.h = &r;
	/*
	 * EPOLLEXCLUSIVE: a new connection wakes one waiting child, not all of
	 * them (no thundering herd on the shared listening socket).
	 */
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_msg(LOG_LVL_ERROR, "epoll_failed", "%s", strerror(errno));
		_exit(3);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		log_msg(LOG_LVL_ERROR, "epoll_failed", "%s", strerror(errno));
		_exit(3);
	}
	while (!srv_stop) {
		/* The only place termination signals are delivered (atomically). */
		if (epoll_pwait(ep, &ev, 1, -1, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_LVL_ERROR, "epoll_wait_failed", "%s", strerror(errno));
			break;
		}
		if (srv_stop)
			break;
		/* Another child may have taken it: EAGAIN on the non-blocking socket. */
		if (FCGX_Accept_r(&r) < 0)
			continue;
		h->handle(r.envp, &io, h->ud);
		srv_finish(&r);
	}
	close(ep);
	if (h->child_fini)
		h->child_fini(h->ud);
	FCGX_Free(&r, 1);
	exit(0);
}

static int
srv_listen(const struct srv_opts *o)
{
	int		 fd, on = 0;
	socklen_t	 len = sizeof(on);
	struct stat	 st;

	if (o->socket == NULL) {
		/* Handed over by a process manager on fd 0. */
		if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) {
			log_msg(LOG_LVL_ERROR, "no_listen_socket",
			    "fd 0 is not a listening socket and no --socket was given");
			return -1;
		}
		fd = 0;
	} else {
		if (lstat(o->socket, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				log_msg(LOG_LVL_ERROR, "socket_path_taken",
				    "%s exists and is not a socket", o->socket);
				return -1;
			}
			unlink(o->socket);
		}
		fd = FCGX_OpenSocket(o->socket, o->backlog);
		if (fd < 0) {
			log_msg(LOG_LVL_ERROR, "listen_failed", "%s: %s", o->socket, strerror(errno));
			return -1;
		}
		chmod(o->socket, 0660);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static int
srv_pidfile(const char *path)
{
	FILE	*f;

	if (path == NULL)
		return 0;
	if ((f = fopen(path, "w")) == NULL) {
		log_msg(LOG_LVL_ERROR, "pidfile_failed", "%s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

static int
srv_child_run(void *ud)
{
	const struct srv_slot	*slot = ud;

	srv_child(slot->lfd, slot->index, slot->h);
	return 0;
}

int
srv_run(const struct srv_opts *o, const struct srv_hooks *h)
{
	struct sup_child	*kids;
	struct srv_slot		*slots;
	int			 lfd, i;

	util_no_core_dumps();
	if ((lfd = srv_listen(o)) < 0)
		return 1;
	if (srv_pidfile(o->pidfile) != 0)
		return 1;
	kids = util_calloc((size_t)o->procs, sizeof(*kids));
	slots = util_calloc((size_t)o->procs, sizeof(*slots));
	for (i = 0; i < o->procs; i++) {
		slots[i].lfd = lfd;
		slots[i].index = i;
		slots[i].h = h;
		kids[i].name = "fcgi";
		kids[i].run = srv_child_run;
		kids[i].ud = &slots[i];
	}
	log_kv(LOG_LVL_INFO, "serving", "socket", o->socket ? o->socket : "fd:0", NULL);
	(void)sup_run(kids, (size_t)o->procs, o->grace_s);
	if (o->socket)
		unlink(o->socket);
	if (o->pidfile)
		unlink(o->pidfile);
	free(kids);
	free(slots);
	log_kv(LOG_LVL_INFO, "stopped", NULL);
	return 0;
}
