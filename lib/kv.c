/*
 * kv: see kv.h.  The only file that calls hiredis.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "errs.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

struct kv {
	char		*host;
	int		 port;
	char		*password;
	int		 timeout_ms;
	redisContext	*c;
	struct kv_breaker br;
	int		 pipe_ignored;	/* SIGPIPE ignored when it connected */
};

/*
 * Writing to a connection Redis has closed raises SIGPIPE (at once on a
 * unix socket), which would kill a process that does not ignore it.  The
 * library does not rely on its caller's signal setup: SIGPIPE is blocked
 * around our socket I/O and a pending one is consumed.  A process that
 * ignores SIGPIPE (every responder child does, lib/srv.c) is spared those
 * three system calls per command: the disposition is looked at when the
 * connection is made, so a caller that changes it does so before
 * connecting (kv_drop makes the next call connect again).
 */
static int
kv_pipe_ignored(void)
{
	struct sigaction	 sa;

	return sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
	    sa.sa_handler == SIG_IGN;
}

static void
kv_pipe_block(const struct kv *kv, sigset_t *old)
{
	sigset_t	 s;

	if (kv->pipe_ignored)
		return;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	sigprocmask(SIG_BLOCK, &s, old);
}

static void
kv_pipe_restore(const struct kv *kv, const sigset_t *old)
{
	sigset_t		 s, pending;
	struct timespec		 zero = { 0, 0 };

	if (kv->pipe_ignored)
		return;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (!sigismember(old, SIGPIPE) && sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE))
		(void)sigtimedwait(&s, NULL, &zero);
	sigprocmask(SIG_SETMASK, old, NULL);
}

struct kv *
kv_open(const char *host, int port, const char *password, int timeout_ms)
{
	struct kv	*kv = util_calloc(1, sizeof(*kv));

	kv->host = util_strdup(host);
	kv->port = port;
	kv->password = password && *password ? util_strdup(password) : NULL;
	kv->timeout_ms = timeout_ms > 0 ? timeout_ms : 500;
	kv_breaker_init(&kv->br, KV_BREAKER_FAILURES, KV_BREAKER_COOLOFF_MS);
	return kv;
}

void
kv_set_breaker(struct kv *kv, int threshold, int cooloff_ms)
{
	kv_breaker_init(&kv->br, threshold, cooloff_ms);
}

void
kv_breaker_init(struct kv_breaker *b, int threshold, int cooloff_ms)
{
	memset(b, 0, sizeof(*b));
	b->threshold = threshold > 0 ? threshold : 0;
	b->cooloff_ms = cooloff_ms > 0 ? cooloff_ms : 0;
	b->state = KV_BREAKER_CLOSED;
}

int
kv_breaker_allow(struct kv_breaker *b, double now_ms)
{
	switch (b->state) {
	case KV_BREAKER_CLOSED:
		return 1;
	case KV_BREAKER_OPEN:
		if (now_ms < b->open_until)
			return 0;
		b->state = KV_BREAKER_HALF_OPEN;	/* this call is the probe */
		return 1;
	case KV_BREAKER_HALF_OPEN:
		return 0;			/* the probe is still out */
	}
	return 0;
}

enum kv_breaker_state
kv_breaker_record(struct kv_breaker *b, int ok, double now_ms)
{
	if (ok || b->threshold == 0) {
		b->failures = 0;
		b->state = KV_BREAKER_CLOSED;
		return b->state;
	}
	/* A failed probe opens it again at once; a closed one counts. */
	if (b->state == KV_BREAKER_HALF_OPEN || ++b->failures >= b->threshold) {
		b->state = KV_BREAKER_OPEN;
		b->open_until = now_ms + b->cooloff_ms;
		b->failures = 0;
	}
	return b->state;
}

enum kv_breaker_state
kv_breaker_state(const struct kv *kv)
{
	return kv->br.state;
}

static void
kv_drop(struct kv *kv)
{
	if (kv->c) {
		redisFree(kv->c);
		kv->c = NULL;
	}
}

void
kv_close(struct kv *kv)
{
	if (kv == NULL)
		return;
	kv_drop(kv);
	free(kv->host);
	if (kv->password) {
		sodium_memzero(kv->password, strlen(kv->password));
		free(kv->password);
	}
	free(kv);
}

int
kv_connect(struct kv *kv)
{
	struct timeval	 tv;
	redisReply	*r;

	if (kv->c && kv->c->err == 0)
		return CB_OK;
	kv_drop(kv);
	kv->pipe_ignored = kv_pipe_ignored();
	tv.tv_sec = kv->timeout_ms / 1000;
	tv.tv_usec = (kv->timeout_ms % 1000) * 1000;
	/* A host that is a path is a unix socket. */
	if (kv->host[0] == '/')
		kv->c = redisConnectUnixWithTimeout(kv->host, tv);
	else
		kv->c = redisConnectWithTimeout(kv->host, kv->port, tv);
	if (kv->c == NULL)
		util_oom();
	if (kv->c->err) {
		log_kv(LOG_LVL_WARN, "kv_connect_failed", "error", kv->c->errstr, NULL);
		kv_drop(kv);
		return CB_ERR_KV_DOWN;
	}
	redisSetTimeout(kv->c, tv);
	if (kv->password) {
		sigset_t	 old;

		kv_pipe_block(kv, &old);
		r = redisCommand(kv->c, "AUTH %s", kv->password);
		kv_pipe_restore(kv, &old);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			log_kv(LOG_LVL_ERROR, "kv_auth_failed", NULL);
			if (r)
				freeReplyObject(r);
			kv_drop(kv);
			return CB_ERR_KV_DOWN;
		}
		freeReplyObject(r);
	}
	return CB_OK;
}

static int
kv_send(struct kv *kv, redisReply **out, int argc, const char **argv, const size_t *lens)
{
	redisReply	*r;
	sigset_t	 old;
	int		 rc = CB_ERR_KV_DOWN, attempt, err, timed_out;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = kv_connect(kv)) != CB_OK)
			return rc;
		kv_pipe_block(kv, &old);
		errno = 0;
		r = redisCommandArgv(kv->c, argc, argv, lens);
		err = errno;
		kv_pipe_restore(kv, &old);
		if (r != NULL) {
			*out = r;
			return CB_OK;
		}
		/* I/O error or timeout: the context is unusable now. */
		timed_out = kv->c->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK);
		log_kv(LOG_LVL_WARN, "kv_io_error", "error", timed_out ? "timeout" : kv->c->errstr,
		    NULL);
		kv_drop(kv);
		rc = CB_ERR_KV_DOWN;
		/*
		 * Retry once only when the connection was stale (a restart):
		 * a timeout would just double the wait.
		 */
		if (timed_out)
			break;
	}
	return rc;
}

static int
kv_run(struct kv *kv, redisReply **out, int argc, const char **argv, const size_t *lens)
{
	enum kv_breaker_state	 before = kv->br.state, after;
	char			 ms[24];
	int			 rc;

	*out = NULL;
	if (!kv_breaker_allow(&kv->br, util_now_ms())) {
		metrics_add(MF_REDIS_ERRORS, 0, 0, 1);
		return CB_ERR_KV_DOWN;		/* open: no wait at all */
	}
	rc = kv_send(kv, out, argc, argv, lens);
	if (rc == CB_ERR_KV_DOWN)
		metrics_add(MF_REDIS_ERRORS, 0, 0, 1);
	after = kv_breaker_record(&kv->br, rc == CB_OK, util_now_ms());
	if (after == KV_BREAKER_OPEN) {
		snprintf(ms, sizeof(ms), "%.0f", kv->br.cooloff_ms);
		log_kv(LOG_LVL_WARN, "kv_breaker_open", "cooloff_ms", ms, NULL);
	} else if (after == KV_BREAKER_CLOSED && before != KV_BREAKER_CLOSED)
		log_kv(LOG_LVL_INFO, "kv_breaker_closed", NULL);
	return rc;
}

int
kv_cmd(struct kv *kv, struct kv_reply **out, int argc, const char *const *argv,
    const size_t *lens)
{
	redisReply	*r;
	size_t		*l = NULL;
	int		 i, rc;

	if (out)
		*out = NULL;
	if (lens == NULL) {
		l = util_calloc((size_t)argc, sizeof(*l));
		for (i = 0; i < argc; i++)
			l[i] = strlen(argv[i]);
	}
	rc = kv_run(kv, &r, argc, (const char **)(uintptr_t)argv, lens ? lens : l);
	free(l);
	if (rc != CB_OK)
		return rc;
	if (r->type == REDIS_REPLY_ERROR) {
		log_kv(LOG_LVL_WARN, "kv_error", "error", r->str, NULL);
		if (out)
			*out = (struct kv_reply *)r;
		else
			freeReplyObject(r);
		return CB_ERR_KV;
	}
	if (out)
		*out = (struct kv_reply *)r;
	else
		freeReplyObject(r);
	return CB_OK;
}

static int
kv_load(struct kv *kv, struct kv_script *s)
{
	const char	*argv[3] = { "SCRIPT", "LOAD", s->lua };
	struct kv_reply	*r;
	const char	*sha;
	size_t		 len;
	int		 rc;

	if ((rc = kv_cmd(kv, &r, 3, argv, NULL)) != CB_OK) {
		kv_reply_free(r);
		return rc;
	}
	sha = kv_reply_str(r, &len);
	if (sha == NULL || len != 40) {
		kv_reply_free(r);
		return CB_ERR_KV;
	}
	memcpy(s->sha, sha, 40);
	s->sha[40] = '\0';
	kv_reply_free(r);
	return CB_OK;
}

int
kv_eval(struct kv *kv, struct kv_script *s, struct kv_reply **out, int nkeys,
    int argc, const char *const *argv)
{
	const char	**av;
	char		 nk[16];
	int		 i, rc, attempt;
	struct kv_reply	*r = NULL;
	size_t		 len;
	const char	*msg;

	*out = NULL;
	av = util_calloc((size_t)argc + 3, sizeof(*av));
	for (attempt = 0; attempt < 2; attempt++) {
		if (s->sha[0] == '\0' && (rc = kv_load(kv, s)) != CB_OK)
			goto out;
		snprintf(nk, sizeof(nk), "%d", nkeys);
		av[0] = "EVALSHA";
		av[1] = s->sha;
		av[2] = nk;
		for (i = 0; i < argc; i++)
			av[i + 3] = argv[i];
		rc = kv_cmd(kv, &r, argc + 3, av, NULL);
		if (rc == CB_ERR_KV && r && (msg = kv_reply_str(r, &len)) != NULL &&
		    strncmp(msg, "NOSCRIPT", 8) == 0) {
			/* Redis restarted or flushed its script cache. */
			kv_reply_free(r);
			r = NULL;
			s->sha[0] = '\0';
			continue;
		}
		break;
	}
	if (rc == CB_OK)
		*out = r;
	else
		kv_reply_free(r);
out:
	free(av);
	return rc;
}

int
kv_ping(struct kv *kv, double *ms)
{
	const char	*argv[1] = { "PING" };
	double		 t0 = util_now_ms();
	int		 rc;

	rc = kv_cmd(kv, NULL, 1, argv, NULL);
	if (ms)
		*ms = util_now_ms() - t0;
	return rc;
}

enum kv_type
kv_reply_type(const struct kv_reply *kr)
{
	const redisReply *r = (const redisReply *)kr;

	if (r == NULL)
		return KV_NIL;
	switch (r->type) {
	case REDIS_REPLY_INTEGER: return KV_INT;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:  return KV_STR;
	case REDIS_REPLY_ARRAY:   return KV_ARR;
	case REDIS_REPLY_ERROR:   return KV_ERR;
	default:                  return KV_NIL;
	}
}

long long
kv_reply_int(const struct kv_reply *kr)
{
	const redisReply *r = (const redisReply *)kr;

	return (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : 0;
}

const char *
kv_reply_str(const struct kv_reply *kr, size_t *len)
{
	const redisReply *r = (const redisReply *)kr;

	if (r == NULL || (r->type != REDIS_REPLY_STRING &&
	    r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_ERROR))
		return NULL;
	if (len)
		*len = r->len;
	return r->str;
}

size_t
kv_reply_len(const struct kv_reply *kr)
{
	const redisReply *r = (const redisReply *)kr;

	return (r && r->type == REDIS_REPLY_ARRAY) ? r->elements : 0;
}

const struct kv_reply *
kv_reply_elem(const struct kv_reply *kr, size_t i)
{
	const redisReply *r = (const redisReply *)kr;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return NULL;
	return (const struct kv_reply *)r->element[i];
}

void
kv_reply_free(struct kv_reply *kr)
{
	if (kr)
		freeReplyObject((redisReply *)kr);
}

struct kv_sub {
	struct kv	*kv;
};

struct kv_sub *
kv_sub_open(const char *host, int port, const char *password, int timeout_ms,
    const char *channel)
{
	struct kv_sub	*sub;
	redisReply	*r;

	sub = util_calloc(1, sizeof(*sub));
	sub->kv = kv_open(host, port, password, timeout_ms);
	if (kv_connect(sub->kv) != CB_OK)
		goto fail;
	{
		sigset_t	 old;

		kv_pipe_block(sub->kv, &old);
		r = redisCommand(sub->kv->c, "SUBSCRIBE %s", channel);
		kv_pipe_restore(sub->kv, &old);
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	return sub;
fail:
	kv_close(sub->kv);
	free(sub);
	return NULL;
}

int
kv_sub_fd(const struct kv_sub *sub)
{
	return sub && sub->kv->c ? sub->kv->c->fd : -1;
}

int
kv_sub_drain(struct kv_sub *sub)
{
	/* Called when the socket is readable: one read does not block. */
	return kv_sub_read(sub, NULL, NULL);
}

void
kv_sub_close(struct kv_sub *sub)
{
	if (sub == NULL)
		return;
	kv_close(sub->kv);
	free(sub);
}

void
kv_publish(struct kv *kv, const char *channel, const char *message)
{
	const char	*argv[3] = { "PUBLISH", channel, message };

	(void)kv_cmd(kv, NULL, 3, argv, NULL);
}

int
kv_sub_read(struct kv_sub *sub, void (*fn)(const char *message, void *arg), void *arg)
{
	redisReply	*r;
	void		*reply;
	int		 n = 0;

	if (redisBufferRead(sub->kv->c) != REDIS_OK)
		return -CB_ERR_KV_DOWN;
	for (;;) {
		if (redisGetReplyFromReader(sub->kv->c, &reply) != REDIS_OK)
			return -CB_ERR_KV_DOWN;
		if (reply == NULL)
			break;
		r = reply;
		/* ["message", channel, payload]; anything else is not a wake-up. */
		if (fn != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[0]->str, "message") == 0 &&
		    r->element[2]->type == REDIS_REPLY_STRING)
			fn(r->element[2]->str, arg);
		freeReplyObject(reply);
		n++;
	}
	return n;
}
