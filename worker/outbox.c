/*
 * outbox: the outbox duty.  Placeholder until the end-to-end issue
 * lands the WebSocket protocol: it only waits for the stop signal so the
 * supervision, start and stop paths can be exercised.
 */
#include <signal.h>
#include <unistd.h>

#include "errs.h"
#include "log.h"
#include "worker.h"

static void
outbox_on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

int
outbox_run(const struct settings *s)
{
	(void)s;
	signal(SIGTERM, outbox_on_term);
	signal(SIGINT, outbox_on_term);
	log_kv(LOG_LVL_INFO, "outbox_idle", NULL);
	while (!worker_stop)
		pause();
	return CB_OK;
}
