/*
 * A hung dependency costs little, through the real stack.
 *
 * Postgres: a session holding a context row's lock (BEGIN; SELECT ... FOR
 * UPDATE) makes a command accept on that context answer 503 with
 * Retry-After after about CB_PG_LOCK_TIMEOUT_MS (2 s, the default) instead
 * of hanging, while commands to other contexts answer 202 meanwhile; once
 * the lock is gone the context takes commands again.
 *
 * Redis: frozen with SIGSTOP (it accepts connections and answers nothing),
 * command accepts (the rate limiter needs Redis and fails closed) answer
 * 503 with Retry-After; the first ones wait out CB_REDIS_TIMEOUT_MS
 * (500 ms), no process more than the breaker's threshold (3) times, and
 * once every process's breaker has opened, 20 answers in a row each come
 * without waiting for Redis.  Commands go in bursts, each from its own
 * client process at once: a responder child takes a connection only when
 * the ones before it are busy (EPOLLEXCLUSIVE wakes the first idle one),
 * so requests one after another could leave a child untouched, and its
 * breaker closed, until the second phase.  The children's log tells what
 * each did: a wait for Redis is a kv_io_error, kv_auth_failed or
 * kv_connect_failed line, an opened breaker a kv_breaker_open line, each
 * with the child's pid; the bursts go on until every child has opened.
 * (Answers' times cannot tell it in a burst: an answer queued behind a
 * waiting one is slow without waiting itself.)  In the second phase,
 * one request after another, an answer that took close to the timeout
 * (WAITED_MS) waited for Redis; a loaded machine slows a fast answer, but
 * not to that.  Only answers that start before a probe could come (the
 * cool-off after the first burst began) are judged: a machine slow enough
 * to stretch the run past it is told so, not blamed on the breaker.
 * After Redis thaws, the breaker's probe closes it and commands are
 * accepted again.
 *
 * Postgres stopped while the responders start afresh (no signing key read
 * yet): an operator's good token is answered 503, not 401 (the keys could
 * not be read; the token was not found wrong), and once Postgres is back
 * the same token is taken again.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "stacklog.h"
#include "testdb.h"
#include "util.h"

/* The commands responder's processes (routes.tab) and the breaker's threshold. */
#define PROCS		4
#define THRESHOLD	3
/* Each burst keeps every child busy while its breaker is closed. */
#define BURST		(2 * PROCS)
#define BURSTS_MAX	20
#define REQUESTS	20
/* An answer this slow waited out CB_REDIS_TIMEOUT_MS (500 ms). */
#define WAITED_MS	450

static struct seed	 s;

/* POST a command; the status into *st, the time it took in ms returned. */
static double
command(const char *ctx, const char *nonce, struct http_resp *r)
{
	char		 path[160], a[128], body[256];
	const char	*h[] = { "Content-Type: application/json", a, NULL };
	double		 t0 = test_now_s();

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", s.api_key);
	snprintf(body, sizeof(body), "{\"type\":\"focus\",\"selector\":\"#email\",\"nonce\":\"%s\"}",
	    nonce);
	http_do("POST", path, h, body, strlen(body), r);
	return (test_now_s() - t0) * 1000.0;
}

static void
expect_503(struct http_resp *r)
{
	long long	 ra = 0;

	http_expect_problem(r, 503, "/problems/unavailable");
	ck_assert_ptr_nonnull(http_header(r, "Retry-After"));
	ck_assert_int_eq(util_parse_ll(http_header(r, "Retry-After"), 1, 86400, &ra), CB_OK);
	ck_assert_int_gt(ra, 0);
}

struct shot {
	double	 ms;
	long	 status;
	int	 retry_after;
};

/*
 * BURST commands at once, each from its own process; their answers into
 * shot[] in the order they came back.  How many came back (no assertion:
 * Redis may be frozen, and the caller thaws it before asserting).
 */
static int
burst(const char *ctx, int round, struct shot *shot)
{
	struct http_resp r;
	struct shot	 one;
	char		 nonce[48];
	pid_t		 pid[BURST];
	int		 fd[2], i, n = 0, st, bad = 0;

	ck_assert_int_eq(pipe(fd), 0);
	fflush(NULL);
	for (i = 0; i < BURST; i++) {
		ck_assert_int_ge(pid[i] = fork(), 0);
		if (pid[i] > 0)
			continue;
		close(fd[0]);
		snprintf(nonce, sizeof(nonce), "ff-redis-%02d-%d", round, i);
		one.ms = command(ctx, nonce, &r);
		one.status = r.status;
		one.retry_after = http_header(&r, "Retry-After") != NULL;
		_exit(write(fd[1], &one, sizeof(one)) == (ssize_t)sizeof(one) ? 0 : 1);
	}
	close(fd[1]);
	/* Records this small are written whole (PIPE_BUF). */
	while (n < BURST && read(fd[0], &shot[n], sizeof(shot[n])) == (ssize_t)sizeof(shot[n]))
		n++;
	close(fd[0]);
	for (i = 0; i < BURST; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	return bad ? 0 : n;
}

/* What the commands responder's children logged from line `from` on. */
struct tally {
	int	 lines;			/* the log's lines in all */
	int	 npid;
	long	 pid[32];
	int	 waits[32];		/* waited for Redis: no answer in time */
	int	 opened[32];		/* logged its breaker open */
};

static int
tally_slot(struct tally *t, long pid)
{
	int	 i;

	for (i = 0; i < t->npid; i++)
		if (t->pid[i] == pid)
			return i;
	if (t->npid == 32)
		return -1;
	t->pid[t->npid] = pid;
	t->waits[t->npid] = t->opened[t->npid] = 0;
	return t->npid++;
}

/* 0, or -1 when the log cannot be read or names too many processes (no assertion: Redis may be frozen). */
static int
tally_log(const char *path, int from, struct tally *t)
{
	/* A timeout, or a connect or AUTH that got no answer: each one wait. */
	static const char *const waited[] = { "\"event\":\"kv_io_error\"",
	    "\"event\":\"kv_auth_failed\"", "\"event\":\"kv_connect_failed\"" };
	FILE		*f = fopen(path, "r");
	char		*buf = NULL, *p;
	size_t		 cap = 0, k;
	int		 i, rc = 0;

	memset(t, 0, sizeof(*t));
	if (f == NULL)
		return -1;
	while (getline(&buf, &cap, f) > 0) {
		if (t->lines++ < from || (p = strstr(buf, "\"pid\":")) == NULL)
			continue;
		if ((i = tally_slot(t, strtol(p + 6, NULL, 10))) < 0) {
			rc = -1;
			break;
		}
		for (k = 0; k < sizeof(waited) / sizeof(waited[0]); k++)
			if (strstr(buf, waited[k]) != NULL)
				t->waits[i]++;
		if (strstr(buf, "\"event\":\"kv_breaker_open\"") != NULL)
			t->opened[i] = 1;
	}
	free(buf);
	fclose(f);
	return rc;
}

static int
tally_opened(const struct tally *t)
{
	int	 i, n = 0;

	for (i = 0; i < t->npid; i++)
		n += t->opened[i];
	return n;
}

static void
setup(void)
{
	seed_tenant(&s);
}

START_TEST(locked_context_answers_503_others_202)
{
	struct db	*holder = testdb_open();
	struct http_resp r;
	char		 locked[40], other[40], tok[64];
	double		 ms;

	seed_context(s.form_id, locked, tok);
	seed_context(s.form_id, other, tok);
	ck_assert_int_eq(db_begin(holder), CB_OK);
	ck_assert_int_eq(db_exec(holder, "SELECT id FROM contexts WHERE id = $1::uuid FOR UPDATE",
	    1, (const char *[]){ locked }), CB_OK);

	ms = command(locked, "ff-lock-0001", &r);
	expect_503(&r);
	http_free(&r);
	fprintf(stderr, "failfast: command on a locked context answered 503 in %.0f ms\n", ms);
	/* About the lock timeout (2 s): waited for it, then gave up. */
	ck_assert_msg(ms >= 1500 && ms < 6000, "answered in %.0f ms", ms);

	/* Meanwhile another context is not held up. */
	ms = command(other, "ff-lock-0002", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	ck_assert_msg(ms < 1500, "the other context took %.0f ms", ms);

	ck_assert_int_eq(db_rollback(holder), CB_OK);
	ms = command(locked, "ff-lock-0003", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	db_close(holder);
}
END_TEST

START_TEST(frozen_redis_fails_fast)
{
	struct http_resp r;
	struct shot	 shot[BURST];
	struct tally	 ty;
	char		 ctx[40], tok[64], nonce[48], logf[512], why[160] = "";
	double		 ms, first = 0, worst = 0, waited, t, opened = 0, window, phase1 = 0;
	long long	 cooloff;
	int		 i, k, n, ok = 0, worst_i = 0, judged = 0, from, most = 0;

	/*
	 * No breaker probes Redis before CB_KV_BREAKER_COOLOFF_MS after it
	 * opened, and none opened before the first burst started: what starts
	 * before that plus the cool-off is judged (a slow machine may stretch
	 * the run past it; what starts later may be a probe, which waits for
	 * Redis by design).
	 */
	ck_assert_int_eq(util_parse_ll(test_env("CB_KV_BREAKER_COOLOFF_MS"), 100, 600000, &cooloff),
	    CB_OK);
	window = (double)cooloff / 1000.0 - 0.5;
	seed_context(s.form_id, ctx, tok);
	(void)command(ctx, "ff-redis-warm", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	stacklog_path("commands", logf, sizeof(logf));
	ck_assert_int_eq(tally_log(logf, 0, &ty), 0);
	from = ty.lines;

	test_stack("pause-redis");
	/* Bursts until every child has logged its breaker open, or a bound. */
	memset(&ty, 0, sizeof(ty));
	for (n = 0; n < BURSTS_MAX && tally_opened(&ty) < PROCS && why[0] == 0; n++) {
		if (opened == 0)
			opened = test_now_s();
		if ((k = burst(ctx, n, shot)) < BURST)
			snprintf(why, sizeof(why), "burst %d: %d of %d clients answered", n, k, BURST);
		for (k = 0; k < BURST && why[0] == 0; k++) {
			if (shot[k].status != 503 || !shot[k].retry_after)
				snprintf(why, sizeof(why), "burst %d: %ld, Retry-After %s", n,
				    shot[k].status, shot[k].retry_after ? "set" : "missing");
			if (n == 0 && (k == 0 || shot[k].ms < first))
				first = shot[k].ms;	/* the fastest of the first burst */
		}
		if (why[0] == 0 && tally_log(logf, from, &ty) != 0)
			snprintf(why, sizeof(why), "the commands log: unreadable, or over 32 processes");
	}
	phase1 = test_now_s();
	for (i = 0; i < ty.npid; i++)
		most = ty.waits[i] > most ? ty.waits[i] : most;
	/* Every breaker is open now: REQUESTS more answers, each at once. */
	for (i = 0; i < REQUESTS && why[0] == 0; i++) {
		snprintf(nonce, sizeof(nonce), "ff-redis-open-%04d", i);
		t = test_now_s();
		ms = command(ctx, nonce, &r);
		if (r.status != 503 || http_header(&r, "Retry-After") == NULL)
			snprintf(why, sizeof(why), "answer %d: %ld %s", i + 1, r.status, r.body);
		http_free(&r);
		if (t >= opened + window)
			continue;
		judged++;
		if (ms > worst) {
			worst = ms;
			worst_i = i + 1;
		}
	}
	/* Thaw before asserting: the cases after this one need Redis. */
	test_stack("resume-redis");
	fprintf(stderr, "failfast: Redis frozen: the first burst's fastest answer in %.0f ms; %d of"
	    " %d breakers opened in %d bursts of %d, a process waited for Redis at most %d times;"
	    " then %d answers judged of %d, the slowest in %.0f ms\n", first, tally_opened(&ty),
	    PROCS, n, BURST, most, judged, REQUESTS, worst);
	ck_assert_msg(why[0] == 0, "%s", why);
	/* The first burst waited for Redis (every breaker was closed)... */
	ck_assert_msg(first >= 400, "the first burst's fastest answer took %.0f ms", first);
	/* ...every process's breaker opened... */
	ck_assert_msg(tally_opened(&ty) >= PROCS, "%d of %d breakers opened in %d bursts",
	    tally_opened(&ty), PROCS, n);
	/* ...and none waited for Redis more than the threshold (no probe yet). */
	ck_assert_msg(phase1 < opened + window, "the bursts took %.1f s: the machine is too slow"
	    " for this case", phase1 - opened);
	ck_assert_msg(most <= THRESHOLD, "a process waited for Redis %d times", most);
	ck_assert_msg(judged >= REQUESTS / 2, "only %d answers before the first probe could come:"
	    " the machine is too slow for this case", judged);
	/* Each answer at once: none waited for Redis (within 40 ms when measured, quiet). */
	ck_assert_msg(worst < WAITED_MS, "answer %d with the breakers open took %.0f ms", worst_i, worst);

	/* Redis is back: each breaker's probe closes it, commands are taken again. */
	for (waited = 0; waited < 40000 && ok < 8; waited += 250) {
		snprintf(nonce, sizeof(nonce), "ff-back-%05.0f", waited);
		(void)command(ctx, nonce, &r);
		ok = r.status == 202 ? ok + 1 : 0;
		http_free(&r);
		test_sleep_ms(250);
	}
	ck_assert_msg(ok >= 8, "commands were not accepted again after Redis came back");
}
END_TEST

START_TEST(keys_unreadable_is_503_not_401)
{
	struct tuser	 u;
	struct http_resp r;
	char		 slug[64], access[TOKSZ], refresh[80], a[TOKSZ + 32];
	const char	*h[] = { a, NULL };
	int		 waited, st = 0;

	new_org(slug, sizeof(slug));
	new_user(slug, "operator", &u);
	login_ok(&u, access, refresh);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", access);
	http_do("GET", "/api/v1/admin/outbox", h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	http_free(&r);

	test_stack("stop-postgres");
	test_stack("restart-edge");
	http_do("GET", "/api/v1/admin/outbox", h, NULL, 0, &r);
	http_expect_problem(&r, 503, "/problems/unavailable");
	ck_assert_ptr_null(http_header(&r, "WWW-Authenticate"));
	http_free(&r);

	test_stack("start-postgres");
	for (waited = 0; waited < 30000 && st != 200; waited += 250) {
		http_do("GET", "/api/v1/admin/outbox", h, NULL, 0, &r);
		st = r.status;
		ck_assert_msg(st == 200 || st == 503, "answered %d while Postgres came back", st);
		http_free(&r);
		if (st != 200)
			test_sleep_ms(250);
	}
	ck_assert_int_eq(st, 200);
}
END_TEST

/* Whatever a case left behind (a failed assertion before its thaw): Redis and Postgres run. */
static void
thaw_dependencies(void)
{
	test_stack("resume-redis");
	test_stack("start-postgres");
}

static Suite *
failfast_suite(void)
{
	Suite	*su = suite_create("failfast");
	TCase	*tc = tcase_create("dependencies");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_unchecked_fixture(tc, NULL, thaw_dependencies);
	tcase_add_test(tc, locked_context_answers_503_others_202);
	tcase_add_test(tc, frozen_redis_fails_fast);
	tcase_add_test(tc, keys_unreadable_is_503_not_401);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(failfast_suite());
}
