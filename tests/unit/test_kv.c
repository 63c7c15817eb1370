/*
 * test_kv: the Redis wrapper against a live server (CB_REDIS_HOST,
 * CB_REDIS_PORT, CB_REDIS_PASSWORD; the suite fails, never skips, when one
 * is unset; the password may be empty).  Binary-safe arguments and replies,
 * every reply type, error replies kept for the caller, scripts by SHA that
 * survive SCRIPT FLUSH, and the two ways Redis can be down.  The circuit
 * breaker's state machine on its own (closed, open, half-open, with a
 * clock the test drives), then on a handle: an unreachable Redis stops
 * being called, a live one closes it again.  Keys carry a random prefix and
 * are deleted.
 */
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "errs.h"
#include "kv.h"
#include "util.h"

static int
redis_port(void)
{
	long long	 port;

	ck_assert_msg(util_parse_ll(cu_env_required("CB_REDIS_PORT"), 1, 65535, &port) == CB_OK,
	    "CB_REDIS_PORT is not a port");
	return (int)port;
}

static struct kv *
open_kv(void)
{
	struct kv	*kv;

	kv = kv_open(cu_env_required("CB_REDIS_HOST"), redis_port(),
	    cu_env_required("CB_REDIS_PASSWORD"), 2000);
	ck_assert_msg(kv_connect(kv) == CB_OK,
	    "cannot reach Redis at CB_REDIS_HOST:CB_REDIS_PORT");
	return kv;
}

/* A command from a NULL-terminated list of strings; the reply (caller frees). */
static struct kv_reply *
cmd(struct kv *kv, int want_rc, const char *arg0, ...) __attribute__((sentinel));

static struct kv_reply *
cmd(struct kv *kv, int want_rc, const char *arg0, ...)
{
	const char	*argv[16];
	struct kv_reply	*r = NULL;
	va_list		 ap;
	int		 argc = 0, rc;

	va_start(ap, arg0);
	for (argv[argc] = arg0; argv[argc] != NULL; argv[argc] = va_arg(ap, const char *))
		ck_assert_int_lt(++argc, 16);
	va_end(ap);
	rc = kv_cmd(kv, &r, argc, argv, NULL);
	ck_assert_msg(rc == want_rc, "%s: %s, want %s", arg0, errs_name(rc), errs_name(want_rc));
	return r;
}

static void
del_key(struct kv *kv, const char *key)
{
	kv_reply_free(cmd(kv, CB_OK, "DEL", key, NULL));
}

START_TEST(test_env_present)
{
	cu_env_required("CB_REDIS_HOST");
	cu_env_required("CB_REDIS_PORT");
	cu_env_required("CB_REDIS_PASSWORD");
}
END_TEST

START_TEST(test_ping)
{
	struct kv	*kv = open_kv();
	double		 ms = -1;

	ck_assert_int_eq(kv_ping(kv, &ms), CB_OK);
	ck_assert(ms >= 0);
	kv_close(kv);
}
END_TEST

START_TEST(test_binary_set_get)
{
	static const char value[] = "a\0b\r\n\xff\x00z";
	struct kv	*kv = open_kv();
	struct kv_reply	*r = NULL;
	char		 key[64];
	const char	*argv[3];
	size_t		 lens[3], len = 0;
	const char	*s;

	cu_random_name(key, sizeof(key), "cbut:bin:");
	/* A key with an embedded NUL too: both travel by length. */
	memcpy(key + strlen(key), "\0k", 3);
	argv[0] = "SET"; lens[0] = 3;
	argv[1] = key; lens[1] = strlen(key) + 2;
	argv[2] = value; lens[2] = sizeof(value) - 1;
	ck_assert_int_eq(kv_cmd(kv, &r, 3, argv, lens), CB_OK);
	ck_assert_int_eq(kv_reply_type(r), KV_STR);
	ck_assert_str_eq(kv_reply_str(r, NULL), "OK");
	kv_reply_free(r);
	argv[0] = "GET";
	ck_assert_int_eq(kv_cmd(kv, &r, 2, argv, lens), CB_OK);
	ck_assert_int_eq(kv_reply_type(r), KV_STR);
	s = kv_reply_str(r, &len);
	ck_assert_uint_eq(len, sizeof(value) - 1);
	ck_assert_int_eq(memcmp(s, value, len), 0);
	kv_reply_free(r);
	/* The key without its tail is another key. */
	argv[0] = "EXISTS";
	lens[0] = 6;
	lens[1] = strlen(key);
	ck_assert_int_eq(kv_cmd(kv, &r, 2, argv, lens), CB_OK);
	ck_assert_int_eq(kv_reply_int(r), 0);
	kv_reply_free(r);
	argv[0] = "DEL";
	lens[0] = 3;
	lens[1] = strlen(key) + 2;
	ck_assert_int_eq(kv_cmd(kv, &r, 2, argv, lens), CB_OK);
	ck_assert_int_eq(kv_reply_int(r), 1);
	kv_reply_free(r);
	kv_close(kv);
}
END_TEST

START_TEST(test_nil_and_status)
{
	struct kv	*kv = open_kv();
	struct kv_reply	*r;
	char		 key[64];
	size_t		 len = 99;

	cu_random_name(key, sizeof(key), "cbut:nil:");
	r = cmd(kv, CB_OK, "GET", key, NULL);
	ck_assert_int_eq(kv_reply_type(r), KV_NIL);
	ck_assert_ptr_null(kv_reply_str(r, &len));
	ck_assert_uint_eq(len, 99);
	ck_assert_int_eq(kv_reply_int(r), 0);
	ck_assert_uint_eq(kv_reply_len(r), 0);
	kv_reply_free(r);
	r = cmd(kv, CB_OK, "PING", NULL);
	ck_assert_int_eq(kv_reply_type(r), KV_STR);
	ck_assert_str_eq(kv_reply_str(r, NULL), "PONG");
	kv_reply_free(r);
	/* No reply wanted: nothing to free. */
	ck_assert_int_eq(kv_cmd(kv, NULL, 1, (const char *const[]){ "PING" }, NULL), CB_OK);
	ck_assert_int_eq(kv_reply_type(NULL), KV_NIL);
	kv_reply_free(NULL);
	kv_close(kv);
}
END_TEST

START_TEST(test_integers)
{
	struct kv	*kv = open_kv();
	struct kv_reply	*r;
	char		 key[64];

	cu_random_name(key, sizeof(key), "cbut:int:");
	r = cmd(kv, CB_OK, "INCRBY", key, "5", NULL);
	ck_assert_int_eq(kv_reply_type(r), KV_INT);
	ck_assert_int_eq(kv_reply_int(r), 5);
	ck_assert_ptr_null(kv_reply_str(r, NULL));
	kv_reply_free(r);
	r = cmd(kv, CB_OK, "INCRBY", key, "-9000000000", NULL);
	ck_assert_int_eq(kv_reply_int(r), -8999999995LL);
	kv_reply_free(r);
	r = cmd(kv, CB_OK, "PEXPIRE", key, "60000", NULL);
	ck_assert_int_eq(kv_reply_int(r), 1);
	kv_reply_free(r);
	del_key(kv, key);
	kv_close(kv);
}
END_TEST

START_TEST(test_arrays)
{
	struct kv		*kv = open_kv();
	struct kv_reply		*r;
	const struct kv_reply	*e;
	char			 key[64], missing[64];

	cu_random_name(key, sizeof(key), "cbut:list:");
	cu_random_name(missing, sizeof(missing), "cbut:missing:");
	r = cmd(kv, CB_OK, "RPUSH", key, "a", "", "c", NULL);
	ck_assert_int_eq(kv_reply_int(r), 3);
	kv_reply_free(r);
	r = cmd(kv, CB_OK, "LRANGE", key, "0", "-1", NULL);
	ck_assert_int_eq(kv_reply_type(r), KV_ARR);
	ck_assert_uint_eq(kv_reply_len(r), 3);
	ck_assert_str_eq(kv_reply_str(kv_reply_elem(r, 0), NULL), "a");
	ck_assert_str_eq(kv_reply_str(kv_reply_elem(r, 1), NULL), "");
	ck_assert_str_eq(kv_reply_str(kv_reply_elem(r, 2), NULL), "c");
	ck_assert_ptr_null(kv_reply_elem(r, 3));
	ck_assert_ptr_null(kv_reply_str(r, NULL));
	kv_reply_free(r);
	/* Mixed elements: a nil inside an array. */
	r = cmd(kv, CB_OK, "MGET", missing, missing, NULL);
	ck_assert_uint_eq(kv_reply_len(r), 2);
	e = kv_reply_elem(r, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(kv_reply_type(e), KV_NIL);
	kv_reply_free(r);
	/* An empty array. */
	r = cmd(kv, CB_OK, "LRANGE", missing, "0", "-1", NULL);
	ck_assert_int_eq(kv_reply_type(r), KV_ARR);
	ck_assert_uint_eq(kv_reply_len(r), 0);
	ck_assert_ptr_null(kv_reply_elem(r, 0));
	kv_reply_free(r);
	del_key(kv, key);
	kv_close(kv);
}
END_TEST

START_TEST(test_error_reply)
{
	struct kv	*kv = open_kv();
	struct kv_reply	*r;
	char		 key[64], *logged;
	const char	*msg;
	size_t		 len = 0;

	cu_random_name(key, sizeof(key), "cbut:err:");
	kv_reply_free(cmd(kv, CB_OK, "SET", key, "not a number", NULL));
	cu_stderr_begin();
	r = cmd(kv, CB_ERR_KV, "INCR", key, NULL);
	logged = cu_stderr_end();
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(kv_reply_type(r), KV_ERR);
	msg = kv_reply_str(r, &len);
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strncmp(msg, "ERR", 3) == 0, "error reply \"%s\"", msg);
	ck_assert_uint_eq(len, strlen(msg));
	ck_assert_ptr_nonnull(strstr(logged, "kv_error"));
	free(logged);
	kv_reply_free(r);
	cu_stderr_begin();
	r = cmd(kv, CB_ERR_KV, "CB_NO_SUCH_COMMAND", "x", NULL);
	free(cu_stderr_end());
	ck_assert_int_eq(kv_reply_type(r), KV_ERR);
	kv_reply_free(r);
	/* Without an out pointer the error reply is freed for us. */
	cu_stderr_begin();
	ck_assert_int_eq(kv_cmd(kv, NULL, 2, (const char *const[]){ "INCR", key }, NULL),
	    CB_ERR_KV);
	free(cu_stderr_end());
	/* The connection is still good. */
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	del_key(kv, key);
	kv_close(kv);
}
END_TEST

START_TEST(test_eval_and_noscript)
{
	struct kv_script s = { "return redis.call('INCRBY', KEYS[1], ARGV[1])", "" };
	struct kv	*kv = open_kv();
	struct kv_reply	*r = NULL;
	char		 key[64];
	const char	*argv[2];
	size_t		 i;

	cu_random_name(key, sizeof(key), "cbut:eval:");
	argv[0] = key;
	argv[1] = "7";
	ck_assert_int_eq(kv_eval(kv, &s, &r, 1, 2, argv), CB_OK);
	ck_assert_int_eq(kv_reply_type(r), KV_INT);
	ck_assert_int_eq(kv_reply_int(r), 7);
	kv_reply_free(r);
	ck_assert_uint_eq(strlen(s.sha), 40);
	for (i = 0; i < 40; i++)
		ck_assert(strchr("0123456789abcdef", s.sha[i]) != NULL);
	/* The script cache is emptied (a restart, SCRIPT FLUSH)... */
	kv_reply_free(cmd(kv, CB_OK, "SCRIPT", "FLUSH", NULL));
	r = cmd(kv, CB_OK, "SCRIPT", "EXISTS", s.sha, NULL);
	ck_assert_int_eq(kv_reply_int(kv_reply_elem(r, 0)), 0);
	kv_reply_free(r);
	/* ...and kv_eval recovers from NOSCRIPT by loading it again. */
	cu_stderr_begin();
	ck_assert_int_eq(kv_eval(kv, &s, &r, 1, 2, argv), CB_OK);
	free(cu_stderr_end());
	ck_assert_int_eq(kv_reply_int(r), 14);
	kv_reply_free(r);
	r = cmd(kv, CB_OK, "SCRIPT", "EXISTS", s.sha, NULL);
	ck_assert_int_eq(kv_reply_int(kv_reply_elem(r, 0)), 1);
	kv_reply_free(r);
	/* Once more with the SHA known. */
	ck_assert_int_eq(kv_eval(kv, &s, &r, 1, 2, argv), CB_OK);
	ck_assert_int_eq(kv_reply_int(r), 21);
	kv_reply_free(r);
	del_key(kv, key);
	kv_close(kv);
}
END_TEST

START_TEST(test_eval_script_error)
{
	struct kv_script s = { "return redis.error_reply('cbut refused')", "" };
	struct kv_script bad = { "this is not lua", "" };
	struct kv	*kv = open_kv();
	struct kv_reply	*r = (struct kv_reply *)&s;

	cu_stderr_begin();
	ck_assert_int_eq(kv_eval(kv, &s, &r, 0, 0, NULL), CB_ERR_KV);
	ck_assert_ptr_null(r);
	r = (struct kv_reply *)&s;
	ck_assert_int_eq(kv_eval(kv, &bad, &r, 0, 0, NULL), CB_ERR_KV);
	ck_assert_ptr_null(r);
	free(cu_stderr_end());
	ck_assert_str_eq(bad.sha, "");
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	kv_close(kv);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct kv	*kv;
	struct kv_reply	*r = NULL;
	char		*logged;
	int		 rc1, rc2;

	kv = kv_open(cu_env_required("CB_REDIS_HOST"), redis_port(), "cbut-wrong-password", 1000);
	cu_stderr_begin();
	rc1 = kv_connect(kv);
	rc2 = kv_cmd(kv, &r, 1, (const char *const[]){ "PING" }, NULL);
	logged = cu_stderr_end();
	ck_assert_int_eq(rc1, CB_ERR_KV_DOWN);
	ck_assert_int_eq(rc2, CB_ERR_KV_DOWN);
	ck_assert_ptr_null(r);
	ck_assert_ptr_null(strstr(logged, "cbut-wrong-password"));
	free(logged);
	kv_close(kv);
}
END_TEST

static const struct {
	const char	*host;
	int		 port;
} down_cases[] = {
	{ "127.0.0.1", 1 },
	{ "127.0.0.1", 65534 },
	{ "127.0.0.2", 6379 },	/* nothing there, or a Redis that refuses "pw" */
};

START_TEST(test_nothing_listening)
{
	struct kv	*kv;
	struct kv_reply	*r = NULL;
	struct kv_script s = { "return 1", "" };
	double		 t0;
	int		 rc1, rc2, rc3;

	cu_env_required("CB_REDIS_HOST");
	kv = kv_open(down_cases[_i].host, down_cases[_i].port, "pw", 300);
	t0 = util_now_ms();
	cu_stderr_begin();
	rc1 = kv_connect(kv);
	rc2 = kv_ping(kv, NULL);
	rc3 = kv_eval(kv, &s, &r, 0, 0, NULL);
	free(cu_stderr_end());
	ck_assert_int_eq(rc1, CB_ERR_KV_DOWN);
	ck_assert_int_eq(rc2, CB_ERR_KV_DOWN);
	ck_assert_int_eq(rc3, CB_ERR_KV_DOWN);
	ck_assert_ptr_null(r);
	/* A dead Redis never hangs a responder. */
	ck_assert_msg(util_now_ms() - t0 < 3000, "took %.0f ms", util_now_ms() - t0);
	kv_close(kv);
}
END_TEST

START_TEST(test_reconnect_after_kill)
{
	struct kv	*kv = open_kv(), *killer = open_kv();
	struct kv_reply	*r;
	long long	 id1, id2;

	r = cmd(kv, CB_OK, "CLIENT", "ID", NULL);
	id1 = kv_reply_int(r);
	kv_reply_free(r);
	ck_assert_int_gt(id1, 0);
	/* Every normal client but the killer itself is disconnected. */
	r = cmd(killer, CB_OK, "CLIENT", "KILL", "TYPE", "normal", NULL);
	ck_assert_int_ge(kv_reply_int(r), 1);
	kv_reply_free(r);
	cu_stderr_begin();
	r = cmd(kv, CB_OK, "CLIENT", "ID", NULL);
	free(cu_stderr_end());
	id2 = kv_reply_int(r);
	kv_reply_free(r);
	ck_assert_int_ne(id1, id2);
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	kv_close(killer);
	kv_close(kv);
}
END_TEST

/*
 * Redis drops the connection while a large command is being written: the
 * write after the peer's reset raises SIGPIPE.  With SIGPIPE at its default
 * (the process would die) the wrapper blocks and consumes it; with SIGPIPE
 * ignored (as every responder child has it) it skips that and gets EPIPE.
 * Either way the call reconnects and the process lives on.
 */
static void (*const pipe_cases[])(int) = { SIG_DFL, SIG_IGN };

START_TEST(test_killed_mid_write)
{
	struct kv	*kv, *killer = open_kv();
	struct kv_reply	*r = NULL;
	const char	*argv[3];
	size_t		 lens[3], big = 8u * 1024u * 1024u;
	char		 key[64], *val = util_malloc(big);
	int		 rc;

	ck_assert_ptr_ne(signal(SIGPIPE, pipe_cases[_i]), SIG_ERR);
	kv = open_kv();
	memset(val, 'x', big);
	snprintf(key, sizeof(key), "cbtest:pipe:%d:%ld", _i, (long)getpid());
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = val;
	lens[0] = 3;
	lens[1] = strlen(key);
	lens[2] = big;
	kv_reply_free(cmd(killer, CB_OK, "CLIENT", "KILL", "TYPE", "normal", NULL));
	cu_stderr_begin();
	rc = kv_cmd(kv, &r, 3, argv, lens);
	free(cu_stderr_end());
	kv_reply_free(r);
	ck_assert_msg(rc == CB_OK || rc == CB_ERR_KV_DOWN, "SET after a kill: %s", errs_name(rc));
	/* Alive, and the handle works again. */
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	kv_close(killer);
	killer = open_kv();
	del_key(killer, key);
	kv_close(killer);
	kv_close(kv);
	free(val);
}
END_TEST

START_TEST(test_close_null)
{
	cu_env_required("CB_REDIS_HOST");
	kv_close(NULL);
	ck_assert_int_eq(kv_reply_len(NULL), 0);
}
END_TEST

/* ---- the circuit breaker ------------------------------------------------ */

START_TEST(test_breaker_opens_after_threshold)
{
	struct kv_breaker b;

	kv_breaker_init(&b, 3, 1000);
	ck_assert_int_eq(b.state, KV_BREAKER_CLOSED);
	ck_assert(kv_breaker_allow(&b, 0));
	ck_assert_int_eq(kv_breaker_record(&b, 0, 0), KV_BREAKER_CLOSED);
	ck_assert(kv_breaker_allow(&b, 1));
	ck_assert_int_eq(kv_breaker_record(&b, 0, 1), KV_BREAKER_CLOSED);
	ck_assert(kv_breaker_allow(&b, 2));
	ck_assert_int_eq(kv_breaker_record(&b, 0, 2), KV_BREAKER_OPEN);
	/* Open: nothing goes out for the whole cool-off. */
	ck_assert(!kv_breaker_allow(&b, 3));
	ck_assert(!kv_breaker_allow(&b, 1001));
	ck_assert_int_eq(b.state, KV_BREAKER_OPEN);
}
END_TEST

START_TEST(test_breaker_success_resets_the_count)
{
	struct kv_breaker b;

	kv_breaker_init(&b, 3, 1000);
	(void)kv_breaker_record(&b, 0, 0);
	(void)kv_breaker_record(&b, 0, 0);
	ck_assert_int_eq(kv_breaker_record(&b, 1, 0), KV_BREAKER_CLOSED);
	/* Consecutive failures only: two more do not open it. */
	(void)kv_breaker_record(&b, 0, 0);
	ck_assert_int_eq(kv_breaker_record(&b, 0, 0), KV_BREAKER_CLOSED);
	ck_assert(kv_breaker_allow(&b, 0));
}
END_TEST

START_TEST(test_breaker_half_open_one_probe)
{
	struct kv_breaker b;

	kv_breaker_init(&b, 1, 1000);
	ck_assert_int_eq(kv_breaker_record(&b, 0, 0), KV_BREAKER_OPEN);
	ck_assert(!kv_breaker_allow(&b, 999));
	/* After the cool-off exactly one call goes out: the probe. */
	ck_assert(kv_breaker_allow(&b, 1000));
	ck_assert_int_eq(b.state, KV_BREAKER_HALF_OPEN);
	ck_assert(!kv_breaker_allow(&b, 1000));
	ck_assert(!kv_breaker_allow(&b, 5000));
	/* It fails: open again for a whole cool-off from now. */
	ck_assert_int_eq(kv_breaker_record(&b, 0, 1200), KV_BREAKER_OPEN);
	ck_assert(!kv_breaker_allow(&b, 2199));
	ck_assert(kv_breaker_allow(&b, 2200));
	/* It succeeds: closed, every call goes out. */
	ck_assert_int_eq(kv_breaker_record(&b, 1, 2201), KV_BREAKER_CLOSED);
	ck_assert(kv_breaker_allow(&b, 2202));
	ck_assert(kv_breaker_allow(&b, 2203));
}
END_TEST

START_TEST(test_breaker_half_open_probe_fails_at_once)
{
	struct kv_breaker b;
	int		 i;

	/* A failed probe reopens it even when the threshold is higher than one. */
	kv_breaker_init(&b, 5, 100);
	for (i = 0; i < 5; i++)
		(void)kv_breaker_record(&b, 0, 0);
	ck_assert_int_eq(b.state, KV_BREAKER_OPEN);
	ck_assert(kv_breaker_allow(&b, 100));
	ck_assert_int_eq(kv_breaker_record(&b, 0, 100), KV_BREAKER_OPEN);
}
END_TEST

START_TEST(test_breaker_disabled)
{
	struct kv_breaker b;
	int		 i;

	kv_breaker_init(&b, 0, 1000);
	for (i = 0; i < 100; i++) {
		ck_assert(kv_breaker_allow(&b, i));
		ck_assert_int_eq(kv_breaker_record(&b, 0, i), KV_BREAKER_CLOSED);
	}
}
END_TEST

/* An unreachable Redis: after the threshold, calls stop reaching the network. */
START_TEST(test_breaker_on_a_handle)
{
	struct kv	*kv;
	char		*logged;
	double		 t0, took;
	int		 i;

	cu_env_required("CB_REDIS_HOST");
	/* A TEST-NET-1 address: nothing answers, every connect waits its timeout. */
	kv = kv_open("192.0.2.1", 6379, NULL, 200);
	kv_set_breaker(kv, 2, 60000);
	cu_stderr_begin();
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(kv_ping(kv, NULL), CB_ERR_KV_DOWN);
	ck_assert_int_eq(kv_breaker_state(kv), KV_BREAKER_OPEN);
	t0 = util_now_ms();
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(kv_ping(kv, NULL), CB_ERR_KV_DOWN);
	took = util_now_ms() - t0;
	logged = cu_stderr_end();
	/* 50 calls that never touch the network, against 200 ms each. */
	ck_assert_msg(took < 100, "50 calls with the breaker open took %.0f ms", took);
	ck_assert_ptr_nonnull(strstr(logged, "kv_breaker_open"));
	free(logged);
	kv_close(kv);
}
END_TEST

/*
 * A live Redis that stops answering in time, then answers again: a timed-out
 * call opens the breaker (threshold 1) without a second try, and after the
 * cool-off the probe reaches the server and closes it.
 */
START_TEST(test_breaker_probe_closes)
{
	struct kv	*kv;
	char		*logged;
	double		 t0, took;

	kv = kv_open(cu_env_required("CB_REDIS_HOST"), redis_port(),
	    cu_env_required("CB_REDIS_PASSWORD"), 500);
	kv_set_breaker(kv, 1, 200);
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	ck_assert_int_eq(kv_breaker_state(kv), KV_BREAKER_CLOSED);
	cu_stderr_begin();
	/* BLPOP on an empty list blocks for 3 s: past the 500 ms timeout. */
	t0 = util_now_ms();
	ck_assert_int_eq(kv_cmd(kv, NULL, 3, (const char *const[]){ "BLPOP", "cbut:breaker:none",
	    "3" }, NULL), CB_ERR_KV_DOWN);
	took = util_now_ms() - t0;
	ck_assert_int_eq(kv_breaker_state(kv), KV_BREAKER_OPEN);
	ck_assert_int_eq(kv_ping(kv, NULL), CB_ERR_KV_DOWN);
	(void)poll(NULL, 0, 250);
	/* The probe reaches the live server: closed again. */
	ck_assert_int_eq(kv_ping(kv, NULL), CB_OK);
	logged = cu_stderr_end();
	/* One timeout, not two (a timed-out call is not retried: that would be >= 1000). */
	ck_assert_msg(took >= 450 && took < 990, "the timed-out call took %.0f ms", took);
	ck_assert_int_eq(kv_breaker_state(kv), KV_BREAKER_CLOSED);
	ck_assert_ptr_nonnull(strstr(logged, "kv_breaker_open"));
	ck_assert_ptr_nonnull(strstr(logged, "kv_breaker_closed"));
	free(logged);
	kv_close(kv);
}
END_TEST

static Suite *
kv_suite(void)
{
	Suite	*s = suite_create("kv");
	TCase	*tc;

	tc = tcase_create("commands");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_env_present);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_binary_set_get);
	tcase_add_test(tc, test_nil_and_status);
	tcase_add_test(tc, test_integers);
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_close_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("scripts");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_eval_and_noscript);
	tcase_add_test(tc, test_eval_script_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_loop_test(tc, test_nothing_listening, 0, (int)CU_NELEM(down_cases));
	tcase_add_test(tc, test_reconnect_after_kill);
	tcase_add_loop_test(tc, test_killed_mid_write, 0, (int)CU_NELEM(pipe_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("breaker");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_breaker_opens_after_threshold);
	tcase_add_test(tc, test_breaker_success_resets_the_count);
	tcase_add_test(tc, test_breaker_half_open_one_probe);
	tcase_add_test(tc, test_breaker_half_open_probe_fails_at_once);
	tcase_add_test(tc, test_breaker_disabled);
	tcase_add_test(tc, test_breaker_on_a_handle);
	tcase_add_test(tc, test_breaker_probe_closes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(kv_suite());
}
