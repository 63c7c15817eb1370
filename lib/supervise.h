/*
 * supervise: the master process of a preforked service, written once.
 *
 * It forks one process per child slot, respawns a slot whose process dies
 * (a crash loop is throttled: a slot that dies within a second of its birth
 * waits a second before the next fork), and on SIGTERM or SIGINT sends
 * SIGTERM to every child, waits up to the grace period for them to finish
 * what they hold, then SIGKILLs the rest.  Signal handlers only set flags.
 *
 * A child starts with SIGTERM, SIGINT and SIGCHLD blocked and SIGCHLD's
 * disposition reset; it exits if the master dies (PR_SET_PDEATHSIG), so a
 * kill -9 of the master leaves no orphan serving on.  `run` never returns
 * to the supervisor: its return value is the child's exit status.
 */
#ifndef CB_SUPERVISE_H
#define CB_SUPERVISE_H

#include <sys/types.h>

struct sup_child {
	const char	*name;			/* for logs */
	int		(*run)(void *ud);	/* the child's whole life */
	void		*ud;
	pid_t		 pid;			/* set by the supervisor */
	double		 born;
};

/* 1 once a termination signal reached the supervisor (or a child's copy). */
int	 sup_stopping(void);
/* Supervise until stopped; returns 0 when every child is gone. */
int	 sup_run(struct sup_child *, size_t n, int grace_s);

#endif
