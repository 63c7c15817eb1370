/*
 * kv: the Redis wrapper.  One persistent connection per process with connect
 * and command timeouts (a dead Redis must never hang a responder), re-opened
 * after any I/O error.  Lua scripts run by SHA (EVALSHA), loaded on first use
 * and reloaded after NOSCRIPT, so a Redis restart is invisible to callers.
 *
 * Redis is an accelerator: callers treat CB_ERR_KV_DOWN as "degrade", never
 * as "lose or duplicate an effect".
 *
 * A circuit breaker keeps a hung Redis (one that accepts connections and
 * answers nothing) from costing every request its timeout: after
 * `threshold` consecutive failed calls (connect failure, I/O error,
 * timeout) the breaker opens and every call fails at once with
 * CB_ERR_KV_DOWN for `cooloff_ms`; then one call goes through as a probe
 * (half-open): its success closes the breaker, its failure opens it for
 * another cool-off.  An error reply from Redis is an answer, not a failure.
 * A timed-out call is not retried (a retry would double the wait); a
 * connection found closed (Redis restarted) is retried once at once.
 */
#ifndef CB_KV_H
#define CB_KV_H

#include <stddef.h>

struct kv;
struct kv_reply;

enum kv_type {
	KV_NIL,
	KV_INT,
	KV_STR,		/* bulk or status string */
	KV_ARR,
	KV_ERR
};

/* A Lua script, its SHA filled on first use. */
struct kv_script {
	const char	*lua;
	char		 sha[41];
};

struct kv	*kv_open(const char *host, int port, const char *password, int timeout_ms);
void		 kv_close(struct kv *);
/*
 * The breaker of this handle (see above); kv_open's defaults are
 * KV_BREAKER_FAILURES and KV_BREAKER_COOLOFF_MS.  threshold 0 disables it.
 */
void		 kv_set_breaker(struct kv *, int threshold, int cooloff_ms);
int		 kv_connect(struct kv *);
int		 kv_ping(struct kv *, double *ms);

/* A command from an argv of strings (binary safe with lens; lens NULL = strlen). */
int	 kv_cmd(struct kv *, struct kv_reply **, int argc, const char *const *argv,
	    const size_t *lens);
/* EVALSHA with NOSCRIPT recovery. */
int	 kv_eval(struct kv *, struct kv_script *, struct kv_reply **,
	    int nkeys, int argc, const char *const *argv);

/*
 * A subscription (Redis pub/sub) for wake-ups: its own connection, a
 * socket to poll, and a drain that never blocks.  A lost connection shows
 * as CB_ERR_KV_DOWN from kv_sub_drain; open a new one.
 */
struct kv_sub;

struct kv_sub	*kv_sub_open(const char *host, int port, const char *password, int timeout_ms,
		    const char *channel);
int		 kv_sub_fd(const struct kv_sub *);
/* Read what arrived: the number of messages, or CB_ERR_KV_DOWN (negative as -code). */
int		 kv_sub_drain(struct kv_sub *);
/*
 * The same, handing each message's payload to fn (NULL-terminated; a
 * payload holding a NUL is cut there): for wake-ups that name what woke.
 */
int		 kv_sub_read(struct kv_sub *, void (*fn)(const char *message, void *arg),
		    void *arg);
void		 kv_sub_close(struct kv_sub *);
/* PUBLISH, fire and forget: wake-ups are hints, Postgres is the truth. */
void		 kv_publish(struct kv *, const char *channel, const char *message);

/*
 * The breaker's state machine, on its own so that it can be specified
 * without a Redis: kv_breaker_allow says whether a call may go out at
 * now_ms (an open breaker past its cool-off lets exactly one probe out and
 * becomes half-open), kv_breaker_record takes the call's outcome.
 */
#define KV_BREAKER_FAILURES	3
#define KV_BREAKER_COOLOFF_MS	5000

enum kv_breaker_state {
	KV_BREAKER_CLOSED,
	KV_BREAKER_OPEN,
	KV_BREAKER_HALF_OPEN
};

struct kv_breaker {
	int			 threshold;	/* consecutive failures that open it; 0 = never */
	double			 cooloff_ms;
	int			 failures;	/* consecutive, while closed */
	enum kv_breaker_state	 state;
	double			 open_until;	/* ms, while open */
};

void	 kv_breaker_init(struct kv_breaker *, int threshold, int cooloff_ms);
int	 kv_breaker_allow(struct kv_breaker *, double now_ms);
/* ok: the call got an answer.  Returns the state after the outcome. */
enum kv_breaker_state kv_breaker_record(struct kv_breaker *, int ok, double now_ms);
/* The state of a handle's breaker (for health and tests). */
enum kv_breaker_state kv_breaker_state(const struct kv *);

enum kv_type	 kv_reply_type(const struct kv_reply *);
long long	 kv_reply_int(const struct kv_reply *);
const char	*kv_reply_str(const struct kv_reply *, size_t *len);
size_t		 kv_reply_len(const struct kv_reply *);
const struct kv_reply *kv_reply_elem(const struct kv_reply *, size_t);
void		 kv_reply_free(struct kv_reply *);

#endif
