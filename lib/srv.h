/*
 * srv: the FastCGI serving loop every responder shares.
 *
 * Standard conventions: the listening socket is fd 0 when a process manager
 * (spawn-fcgi, systemd socket activation) hands it over, or a unix socket
 * created at --socket PATH.  The master preforks --procs children, respawns
 * any child that dies (throttled, so a crash loop cannot fork-bomb), and on
 * SIGTERM or SIGINT lets every child finish the request it is serving, then
 * exits.  A child that loses its master exits too (PR_SET_PDEATHSIG).
 *
 * Children wait for connections in epoll_pwait() (EPOLLEXCLUSIVE: one child
 * woken per connection) with termination signals
 * unblocked only there, so a signal never interrupts a request half-way.
 * A connection whose input was read to its end is closed as soon as the
 * answer is written; one with input left unread gets libfcgi's careful
 * close (shut down, then read until nginx closes, up to 2 s).
 */
#ifndef CB_SRV_H
#define CB_SRV_H

#include "req.h"

struct srv_opts {
	const char	*socket;	/* NULL: listen on fd 0 */
	const char	*pidfile;
	int		 procs;
	int		 backlog;
	int		 grace_s;	/* how long children may finish on stop */
	int		 print_routes;	/* --routes: print the route table and exit */
};

struct srv_hooks {
	/* In each child after fork, before serving; non-zero exits the child. */
	int	(*child_init)(void *ud);
	/* One request: env is the FastCGI parameter array. */
	void	(*handle)(char *const *env, const struct req_io *io, void *ud);
	void	(*child_fini)(void *ud);
	void	 *ud;
};

/*
 * Parse --socket, --procs, --pidfile, --backlog, --routes; 0 or
 * CB_ERR_CONFIG with err set.
 */
int	 srv_parse_args(int argc, char **argv, struct srv_opts *, char *err, size_t errsz);
/* Run until stopped; returns the process exit status. */
int	 srv_run(const struct srv_opts *, const struct srv_hooks *);

#endif
