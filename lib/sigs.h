/*
 * sigs: how every process of the broker sets a signal's disposition, one
 * way.  A handler only sets a flag (the loop reads it); none is installed
 * with SA_RESTART, so a poll, a sleep or a sigsuspend returns when the
 * signal arrives and the loop sees the flag at once.
 */
#ifndef CB_SIGS_H
#define CB_SIGS_H

/* `handler` (or SIG_DFL, SIG_IGN) for `sig`, nothing blocked while it runs. */
void	 sigs_set(int sig, void (*handler)(int));
/* The stop request: SIGTERM and SIGINT to `handler`. */
void	 sigs_on_stop(void (*handler)(int));

#endif
