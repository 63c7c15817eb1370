/*
 * duty: what the worker's simple duties (retention, audit, approvals) share: stop on
 * SIGTERM or SIGINT, and sleep in a way that wakes for it.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "worker.h"

static void
duty_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

void
duty_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = duty_on_term;	/* no SA_RESTART: a sleep must wake up */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void
duty_sleep(long long ms)
{
	while (ms > 0 && !worker_stop) {
		int	 step = ms > 200 ? 200 : (int)ms;

		(void)poll(NULL, 0, step);
		ms -= step;
	}
}
