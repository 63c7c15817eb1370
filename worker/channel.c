/*
 * channel: the tab channel duty.  Placeholder until the end-to-end issue
 * lands the WebSocket protocol: it only waits for the stop signal so the
 * supervision, start and stop paths can be exercised.
 */
#include <signal.h>
#include <unistd.h>

#include "errs.h"
#include "log.h"
#include "worker.h"

static void
channel_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

int
channel_run(const struct settings *s)
{
	(void)s;
	signal(SIGTERM, channel_on_term);
	signal(SIGINT, channel_on_term);
	log_kv(LOG_LVL_INFO, "channel_idle", NULL);
	while (!worker_stop)
		pause();
	return CB_OK;
}
