/*
 * supervise: see supervise.h.
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

#include "log.h"
#include "sigs.h"
#include "supervise.h"
#include "util.h"

static volatile sig_atomic_t	sup_stop;
static volatile sig_atomic_t	sup_child_died;

static void
sup_on_term(int sig)
{
	(void)sig;
	sup_stop = 1;
}

static void
sup_on_chld(int sig)
{
	(void)sig;
	sup_child_died = 1;
}

int
sup_stopping(void)
{
	return sup_stop != 0;
}

static void
sup_sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
sup_spawn(struct sup_child *c)
{
	pid_t			 master = getpid();

	c->born = util_now_ms();
	c->pid = fork();
	if (c->pid < 0) {
		log_msg(LOG_LVL_ERROR, "fork_failed", "%s: %s", c->name, strerror(errno));
		c->pid = 0;
		return;
	}
	if (c->pid > 0)
		return;
	/* The child: leave with the master, even if it dies by SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	sigs_set(SIGCHLD, SIG_DFL);
	exit(c->run(c->ud));
}

/* Reap what died; returns how many slots were freed. */
static void
sup_reap(struct sup_child *kids, size_t n, int respawn)
{
	char	 why[64];
	int	 status;
	pid_t	 pid;
	size_t	 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++)
			if (kids[i].pid == pid)
				break;
		if (i == n)
			continue;
		kids[i].pid = 0;
		if (!respawn)
			continue;
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
		log_kv(LOG_LVL_WARN, "child_died", "child", kids[i].name, "why", why, NULL);
		/* Dying at once means a crash loop: do not fork-bomb. */
		if (util_now_ms() - kids[i].born < 1000)
			sup_sleep_ms(1000);
		if (!sup_stop)
			sup_spawn(&kids[i]);
	}
}

int
sup_run(struct sup_child *kids, size_t n, int grace_s)
{
	sigset_t	 block, empty;
	double		 deadline;
	size_t		 i, alive;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	sigs_on_stop(sup_on_term);
	sigs_set(SIGCHLD, sup_on_chld);
	sigs_set(SIGPIPE, SIG_IGN);

	for (i = 0; i < n; i++)
		sup_spawn(&kids[i]);
	while (!sup_stop) {
		/* Signals arrive only here, atomically with the wait. */
		sigsuspend(&empty);
		if (sup_child_died) {
			sup_child_died = 0;
			sup_reap(kids, n, 1);
		}
	}

	for (i = 0; i < n; i++)
		if (kids[i].pid > 0)
			kill(kids[i].pid, SIGTERM);
	deadline = util_now_ms() + grace_s * 1000.0;
	for (;;) {
		sup_reap(kids, n, 0);
		for (alive = 0, i = 0; i < n; i++)
			alive += kids[i].pid > 0;
		if (alive == 0)
			break;
		if (util_now_ms() > deadline) {
			for (i = 0; i < n; i++)
				if (kids[i].pid > 0)
					kill(kids[i].pid, SIGKILL);
			deadline = util_now_ms() + 5000;
		}
		sup_sleep_ms(20);
	}
	return 0;
}
