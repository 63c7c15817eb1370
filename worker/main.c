/*
 * cb-worker: the master process.  It forks one child per duty (worker.h),
 * respawns a child that dies (throttled), forwards SIGTERM and waits for the
 * children to finish what they hold, then exits.  Children exit if the
 * master dies (PR_SET_PDEATHSIG), so a kill -9 of the master leaves nothing.
 *
 * Before any duty starts, the master loads the seal keyring once, as every
 * responder does (lib/route.c, app_keys_open): a root key that does not
 * unwrap the data keys, or a root key file that is missing, malformed or
 * readable by others, stops the worker with exit status 2 and a message
 * naming CB_SEAL_ROOT_KEY_FILE.  Postgres being away is not fatal: the
 * duties load the keys when it comes back.
 *
 * Usage: cb-worker [--pidfile PATH] [--only channel|outbox]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "keyring.h"
#include "log.h"
#include "util.h"
#include "worker.h"

volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_chld;

struct duty {
	const char	*name;
	int		(*run)(const struct settings *);
	pid_t		 pid;
	double		 born;
};

static struct duty duties[] = {
	{ "channel", channel_run, 0, 0 },
	{ "outbox", outbox_run, 0, 0 },
};

#define NDUTIES	(sizeof(duties) / sizeof(duties[0]))

static void
on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
on_chld(int sig)
{
	(void)sig;
	worker_chld = 1;
}

/*
 * Refuse to start on a wrong or unusable root key (non-zero), exactly as a
 * responder does.  The keys are only checked here: the duty that seals and
 * opens values (outbox) loads its own copy in its own process.
 */
static int
keys_check(const struct settings *s)
{
	struct keyring	 k;
	struct db	*db = db_open(s->pg_dsn);
	char		 err[512] = "";
	int		 rc;

	rc = keyring_open(&k, db, s->seal_root_key_file, err, sizeof(err));
	keyring_close(&k);
	db_close(db);
	if (rc == CB_ERR_CRYPTO || rc == CB_ERR_CONFIG) {
		log_msg(LOG_LVL_ERROR, "keyring_refused", "%s", err);
		/* Name the setting to fix, whatever part of it was wrong. */
		fprintf(stderr, "cb-worker: refusing to start: %s%s\n", err,
		    strstr(err, "CB_SEAL_ROOT_KEY_FILE") ? "" : " (check CB_SEAL_ROOT_KEY_FILE)");
		return 1;
	}
	if (rc != CB_OK)
		log_msg(LOG_LVL_WARN, "keyring_deferred", "%s (will retry on first use)", err);
	return 0;
}

static pid_t
spawn(struct duty *d, const struct settings *s)
{
	pid_t	 master = getpid(), pid;
	sigset_t none;
	char	 svc[32];

	pid = fork();
	if (pid != 0) {
		if (pid < 0)
			log_msg(LOG_LVL_ERROR, "fork_failed", "%s", strerror(errno));
		d->born = util_now_ms();
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	snprintf(svc, sizeof(svc), "worker-%s", d->name);
	log_init(svc, LOG_LVL_INFO);
	{
		enum log_level lvl;

		if (log_level_parse(s->log_level, &lvl) == 0)
			log_set_min(lvl);
	}
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exit(d->run(s));
}

int
main(int argc, char **argv)
{
	struct settings	 s;
	struct sigaction sa;
	sigset_t	 block, empty;
	const char	*pidfile = NULL, *only = NULL;
	char		 err[512], why[64];
	FILE		*f;
	size_t		 i;
	int		 a, status, alive;
	pid_t		 pid;
	double		 deadline;
	enum log_level	 lvl;

	log_init("worker", LOG_LVL_INFO);
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--pidfile") == 0 && a + 1 < argc)
			pidfile = argv[++a];
		else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc)
			only = argv[++a];
		else {
			fprintf(stderr, "usage: cb-worker [--pidfile PATH] [--only channel|outbox]\n");
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
	if (keys_check(&s) != 0) {
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

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);

	for (i = 0; i < NDUTIES; i++)
		if (only == NULL || strcmp(only, duties[i].name) == 0)
			duties[i].pid = spawn(&duties[i], &s);
	log_kv(LOG_LVL_INFO, "worker_started", NULL);

	while (!worker_stop) {
		sigsuspend(&empty);
		if (!worker_chld)
			continue;
		worker_chld = 0;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < NDUTIES; i++)
				if (duties[i].pid == pid)
					break;
			if (i == NDUTIES)
				continue;
			duties[i].pid = 0;
			if (worker_stop)
				continue;
			if (WIFSIGNALED(status))
				snprintf(why, sizeof(why), "signal %d", WTERMSIG(status));
			else
				snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
			log_kv(LOG_LVL_WARN, "duty_died", "duty", duties[i].name, "why", why, NULL);
			/* A duty that dies at once is crash-looping: slow down. */
			if (util_now_ms() - duties[i].born < 1000) {
				struct timespec ts = { 1, 0 };

				nanosleep(&ts, NULL);
			}
			duties[i].pid = spawn(&duties[i], &s);
		}
	}

	for (i = 0; i < NDUTIES; i++)
		if (duties[i].pid > 0)
			kill(duties[i].pid, SIGTERM);
	deadline = util_now_ms() + 15000;
	for (;;) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < NDUTIES; i++)
				if (duties[i].pid == pid)
					duties[i].pid = 0;
		for (alive = 0, i = 0; i < NDUTIES; i++)
			alive += duties[i].pid > 0;
		if (alive == 0)
			break;
		if (util_now_ms() > deadline)
			for (i = 0; i < NDUTIES; i++)
				if (duties[i].pid > 0)
					kill(duties[i].pid, SIGKILL);
		{
			struct timespec ts = { 0, 20000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (pidfile)
		unlink(pidfile);
	settings_free(&s);
	log_kv(LOG_LVL_INFO, "worker_stopped", NULL);
	return 0;
}
