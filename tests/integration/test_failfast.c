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
 * without waiting for Redis.  An answer "waited for Redis" when it took
 * close to the timeout (WAITED_MS); a loaded machine slows a fast answer,
 * but not to that, so load can neither end the first phase early (a
 * process not yet open would pay its wait in the second) nor fail the
 * second.  Only answers that start before a probe could come (the
 * cool-off after the first answer that waited) are judged: a machine slow
 * enough to stretch the run past it is told so, not blamed on the breaker.
 * After Redis thaws, the breaker's probe closes it and commands are
 * accepted again.
 *
 * Postgres stopped while the responders start afresh (no signing key read
 * yet): an operator's good token is answered 503, not 401 (the keys could
 * not be read; the token was not found wrong), and once Postgres is back
 * the same token is taken again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_util.h"
#include "errs.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

/* The commands responder's processes (routes.tab) times the breaker's threshold. */
#define SLOW_MAX	(4 * 3)
#define PHASE1_MAX	200
#define STREAK		50
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
	char		 ctx[40], tok[64], nonce[48];
	double		 ms, first = 0, worst = 0, waited, t, opened = 0, window;
	long long	 cooloff;
	int		 i, n = 0, slow = 0, ok = 0, worst_i = 0, last_slow = 0, judged = 0;

	/*
	 * No breaker probes Redis before CB_KV_BREAKER_COOLOFF_MS after it
	 * opened, and none opened before the first answer that waited: an
	 * answer that starts before that answer plus the cool-off is judged
	 * (a slow machine may stretch the run past it; what starts later may
	 * be a probe, which waits for Redis by design).
	 */
	ck_assert_int_eq(util_parse_ll(test_env("CB_KV_BREAKER_COOLOFF_MS"), 100, 600000, &cooloff),
	    CB_OK);
	window = (double)cooloff / 1000.0 - 0.5;
	seed_context(s.form_id, ctx, tok);
	(void)command(ctx, "ff-redis-warm", &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);

	test_stack("pause-redis");
	/*
	 * Until every process has paid its threshold (SLOW_MAX slow answers in
	 * all: no process can pay more), or STREAK answers in a row came at
	 * once (every process that takes requests has opened), or a bound.
	 * Which process takes a request is nginx's choice, so the count of
	 * requests varies.
	 */
	for (n = 0; n < PHASE1_MAX && slow < SLOW_MAX && n - last_slow <= STREAK; n++) {
		snprintf(nonce, sizeof(nonce), "ff-redis-%04d", n);
		t = test_now_s();
		ms = command(ctx, nonce, &r);
		expect_503(&r);
		http_free(&r);
		if (n == 0)
			first = ms;
		if (ms >= WAITED_MS && (opened == 0 || t < opened + window)) {
			if (opened == 0)
				opened = t;
			slow++;
			last_slow = n;
		}
	}
	/* Every breaker is open now: REQUESTS more answers, each at once. */
	for (i = 0; i < REQUESTS; i++) {
		snprintf(nonce, sizeof(nonce), "ff-redis-open-%04d", i);
		t = test_now_s();
		ms = command(ctx, nonce, &r);
		expect_503(&r);
		http_free(&r);
		if (opened > 0 && t >= opened + window)
			continue;
		judged++;
		if (ms > worst) {
			worst = ms;
			worst_i = i + 1;
		}
		if (ms >= WAITED_MS)
			slow++;
	}
	/* Thaw before asserting: the cases after this one need Redis. */
	test_stack("resume-redis");
	fprintf(stderr, "failfast: Redis frozen: the first answer in %.0f ms; %d answers waited for"
	    " Redis in the first %d requests; then %d answers judged of %d, the slowest in"
	    " %.0f ms\n", first, slow, n, judged, REQUESTS, worst);
	ck_assert_msg(judged >= REQUESTS / 2, "only %d answers before the first probe could come:"
	    " the machine is too slow for this case", judged);
	/* Each answer at once: none waited for Redis (within 40 ms when measured, quiet). */
	ck_assert_msg(worst < WAITED_MS, "answer %d with the breakers open took %.0f ms", worst_i, worst);
	/* The first one waited for Redis (the breaker was closed)... */
	ck_assert_msg(first >= 400, "the first answer took %.0f ms", first);
	/* ...and no process paid more than the threshold. */
	ck_assert_msg(slow <= SLOW_MAX, "%d answers waited for Redis", slow);

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
