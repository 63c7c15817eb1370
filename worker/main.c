/*
 * cb-worker: the master process.  It runs one child per duty (worker.h)
 * under lib/supervise: a dead duty is respawned (throttled), SIGTERM lets
 * the duties finish what they hold, and a kill -9 of the master leaves no
 * duty behind (PR_SET_PDEATHSIG).
 *
 * Before any duty starts, the master loads the seal keyring once, as every
 * responder does (lib/app.c, app_keyring_start): a root key that does not
 * unwrap the data keys, or a root key file that is missing, malformed or
 * readable by others, stops the worker with exit status 2 and a message
 * naming CB_SEAL_ROOT_KEY_FILE.  The duties inherit that keyring across the
 * fork.  Postgres being away is not fatal: the keys load on first use.
 *
 * Usage: cb-worker [--pidfile PATH] [--only channel|outbox|retention|audit|approvals]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "app.h"
#include "errs.h"
#include "keyring.h"
#include "log.h"
#include "metrics.h"
#include "retry.h"
#include "util.h"
#include "supervise.h"
#include "worker.h"

volatile sig_atomic_t worker_stop;

struct duty {
	const char		*name;
	int			(*run)(struct worker *);
	struct worker		*w;
	unsigned		 slot;		/* its metrics slot (lib/metrics.h) */
};

static struct duty duties[] = {
	{ "channel", channel_run, NULL },
	{ "outbox", outbox_run, NULL },
	{ "retention", retention_run, NULL },
	{ "audit", audit_run, NULL },
	{ "approvals", approvals_run, NULL },
};

#define NDUTIES	(sizeof(duties) / sizeof(duties[0]))

/* A duty's process: its own log name, every signal unblocked, then its loop. */
static int
duty_main(void *ud)
{
	const struct duty	*d = ud;
	enum log_level		 lvl;
	sigset_t		 none;
	char			 svc[32];

	snprintf(svc, sizeof(svc), "worker-%s", d->name);
	log_init(svc, LOG_LVL_INFO);
	metrics_enter(d->slot);
	if (log_level_parse(d->w->s->log_level, &lvl) == 0)
		log_set_min(lvl);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return d->run(d->w);
}

int
main(int argc, char **argv)
{
	struct settings	 s;
	struct retry_schedule sched;
	struct worker	 w;
	struct sup_child kids[NDUTIES];
	const char	*pidfile = NULL, *only = NULL;
	char		 err[512];
	FILE		*f;
	size_t		 i, n;
	int		 a;
	enum log_level	 lvl;

	log_init("worker", LOG_LVL_INFO);
	util_no_core_dumps();
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--pidfile") == 0 && a + 1 < argc)
			pidfile = argv[++a];
		else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc)
			only = argv[++a];
		else {
			fprintf(stderr, "usage: cb-worker [--pidfile PATH]"
			    " [--only channel|outbox|retention|audit|approvals]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	if (settings_load(&s, err, sizeof(err)) != CB_OK) {
		fprintf(stderr, "cb-worker: %s\n", err);
		log_msg(LOG_LVL_ERROR, "config_invalid", "%s", err);
		return 2;
	}
	if (log_level_parse(s.log_level, &lvl) == 0)
		log_set_min(lvl);
	/* Settings only the worker reads: refuse now rather than respawn a duty. */
	if (retry_parse(s.outbox_schedule, &sched, err, sizeof(err)) != CB_OK) {
		fprintf(stderr, "cb-worker: CB_OUTBOX_SCHEDULE: %s\n", err);
		log_kv(LOG_LVL_ERROR, "config_invalid", "setting", "CB_OUTBOX_SCHEDULE", "error", err,
		    NULL);
		settings_free(&s);
		return 2;
	}
	w.s = &s;
	/*
	 * The keys are only checked here: the duty that seals and opens
	 * values (outbox) loads its own copy in its own process.
	 */
	if (app_keyring_start(&w.keys, &s, "cb-worker") != 0) {
		settings_free(&s);
		return 2;
	}
	if (pidfile) {
		if ((f = fopen(pidfile, "w")) == NULL) {
			fprintf(stderr, "cb-worker: %s: %s\n", pidfile, strerror(errno));
			return 1;
		}
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}

	for (n = 0, i = 0; i < NDUTIES; i++) {
		if (only != NULL && strcmp(only, duties[i].name) != 0)
			continue;
		duties[i].w = &w;
		duties[i].slot = (unsigned)n;
		memset(&kids[n], 0, sizeof(kids[n]));
		kids[n].name = duties[i].name;
		kids[n].run = duty_main;
		kids[n].ud = &duties[i];
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "cb-worker: no duty named %s\n", only);
		keyring_close(&w.keys);
		settings_free(&s);
		return 2;
	}
	/* One metrics slot per duty, made before the first fork. */
	if (metrics_open(s.metrics_dir, "cb-worker", (unsigned)n, NULL, 0, err, sizeof(err)) !=
	    CB_OK) {
		fprintf(stderr, "cb-worker: %s\n", err);
		log_msg(LOG_LVL_ERROR, "config_invalid", "%s", err);
		keyring_close(&w.keys);
		settings_free(&s);
		return 2;
	}
	log_kv(LOG_LVL_INFO, "worker_started", NULL);
	(void)sup_run(kids, n, 15);
	metrics_close();
	if (pidfile)
		unlink(pidfile);
	keyring_close(&w.keys);
	settings_free(&s);
	log_kv(LOG_LVL_INFO, "worker_stopped", NULL);
	return 0;
}
