/*
 * sigs: see sigs.h.
 */
#include <signal.h>
#include <string.h>

#include "sigs.h"

void
sigs_set(int sig, void (*handler)(int))
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handler;	/* no SA_RESTART: a waiting call must wake up */
	(void)sigaction(sig, &sa, NULL);
}

void
sigs_on_stop(void (*handler)(int))
{
	sigs_set(SIGTERM, handler);
	sigs_set(SIGINT, handler);
}
