/*
 * chan: the tab channel's shared state, split in rooms:
 *   channel.c      the lws side of a connection: frames in and out,
 *                  opening and closing, timers, the run loop;
 *   chan_upgrade.c the door: the upgrade request read and refused
 *                  (path, subprotocol, caps) as problem+json;
 *   chan_adopt.c   the adopted Postgres and Redis sockets: (re)connect,
 *                  wake-ups;
 *   chan_msg.c     what a tab says: auth, receipts, pings, bad frames;
 *   chan_flight.c  the per-tab window: what is in flight on which socket;
 *   chan_pg.c      statements, asynchronously: queued with what to do with
 *                  the answer, read when the socket says so;
 *   chan_rows.c    the Postgres side of delivery: the round, every ready
 *                  tab's receipts, reads and state changes batched;
 *   chan_late.c    the single statements: a receipt outside the window,
 *                  the auth lookup, a receipt timeout's resend or give-up;
 *   chan_sweep.c   what is found without a wake-up: news, expiries;
 *   chan_feed.c    the call feed (/ws/calls): a tenant's accepted call
 *                  events, positioned, streamed, resumable.
 * This header shows lws types (struct chan holds the loop's timers) but only
 * channel.c, chan_upgrade.c and chan_adopt.c call lws.  Nothing here is
 * used outside worker/chan*.
 */
#ifndef CB_CHAN_H
#define CB_CHAN_H

#include <stddef.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "buf.h"
#include "keyring.h"
#include "log.h"
#include "settings.h"
#include "tab.h"

#define CHAN_UUID_LEN		36
#define CHAN_MAX_MSG		(16u * 1024u)	/* per frame, both directions */
#define CHAN_FLIGHT_MAX		16		/* agent_policies.max_in_flight bound */
#define CHAN_FLIGHT_DEFAULT	2		/* a form without an agent policy */
/*
 * A tab may send again, after ready, the receipts of the commands it
 * applied up to its resume position, at most this many below it (a whole
 * window): those a worker that died may not have stored.
 */
#define CHAN_RESENT_RECEIPTS	CHAN_FLIGHT_MAX
#define CHAN_MAX_ATTEMPTS	3		/* delivery rounds of a command, in all */
#define CHAN_READ_SLACK		4		/* rows read past the window, to skip */
#define CHAN_EXPIRE_ROUNDS	5		/* expiry batches per tick, at most */
#define CHAN_ADDR_MAX		64

/* The vhost's protocols: two WebSocket subprotocols, two adopted sockets. */
#define CHAN_PROTOCOL		"cb.tab.v1"
#define CHAN_FEED_PROTOCOL	"cb.calls.v1"	/* the call feed, /ws/calls (chan_feed.c) */
#define CHAN_FEED_PATH		"/ws/calls"
#define CHAN_PG_PROTOCOL	"cb-pg-listen"
#define CHAN_KV_PROTOCOL	"cb-kv-wake"
#define CHAN_PATH_PREFIX	"/ws/ctx/"

/* Close codes of docs/channel.md, and the RFC 6455 ones used here. */
#define CHAN_CLOSE_GOING_AWAY	1001
#define CHAN_CLOSE_POLICY	1008
#define CHAN_CLOSE_TOO_BIG	1009
#define CHAN_CLOSE_INTERNAL	1011
#define CHAN_CLOSE_TRY_LATER	1013
#define CHAN_CLOSE_RESYNC	4009
#define CHAN_CLOSE_BAD_MESSAGE	4400
#define CHAN_CLOSE_UNAUTHORIZED	4401
#define CHAN_CLOSE_AUTH_TIMEOUT	4408

struct chan_frame;
struct chan_job;
struct chan_rnd;

/* A command sent on this connection and not receipted yet. */
struct chan_flight {
	long long	 seq;
	char		 id[CHAN_UUID_LEN + 1];
	char		*frame;			/* the text, for re-sending */
	size_t		 len;
	int		 sends;			/* rounds it has been in (tab-wide) */
	double		 sent_ms;		/* its first frame left (wall ms): apply latency */
	double		 deadline;		/* receipt due (monotonic ms) */
	int		 rcpt;			/* a receipt waits to be stored */
	int		 timing;		/* its receipt timeout's statement is out */
	char		 rcpt_status[8];
	char		*rcpt_reason;
};

struct chan;

struct chan_conn {
	struct chan_conn	*next, *prev;
	struct chan		*ch;
	struct lws		*wsi;
	char			 ctx_ref[CHAN_UUID_LEN + 1];	/* from the URL */
	char			 request_id[64];
	double			 opened;
	int			 counted;	/* in the open-connections gauge */
	int			 authed;
	struct tab_ctx		 tab;
	long long		 position;	/* presented last_seq */
	long long		 cursor;	/* highest seq passed on this connection */
	struct chan_flight	 fl[CHAN_FLIGHT_MAX];
	int			 nfl;
	int			 max_in_flight;	/* the tab's, across its connections */
	char			 addr[CHAN_ADDR_MAX];	/* client address, for the cap */
	int			 dirty;		/* Postgres may hold news for it */
	int			 blocked;	/* waiting on a pending_approval */
	int			 want;		/* a round's share of the tab's window */
	int			 held;		/* a round stopped for it */
	struct chan_frame	*qhead, *qtail;
	size_t			 qcount, qbytes;
	struct buf		 rx;		/* the message being reassembled */
	int			 rx_open;	/* inside a fragmented message */
	int			 rx_binary;
	int			 closing;
	int			 close_code;
	char			 close_reason[64];
	double			 closing_at;
	int			 peer_code;	/* close code the peer sent, for the log */
	int			 authing;	/* its auth statement is out */
	/* A call feed (/ws/calls, chan_feed.c) instead of a tab: authed stays 0. */
	int			 feed;
	int			 feed_authed;
	int			 feed_reading;	/* its read statement is out */
	int			 feed_more;	/* a full page came: read on when the queue drains */
	char			 feed_org[24];
	char			 feed_hash[2 + 64 + 1];	/* the presented key's, until its answer */
	int			 refs;		/* statements whose answer names it */
	int			 gone;		/* closed while refs held: freed at 0 */
};

struct chan {
	struct lws_context	*ctx;
	struct lws_vhost	*vh;
	struct db		*db;
	/*
	 * The worker's seal keyring, to open command values (sql/0024), and
	 * a connection of its own to keep it in step with data_keys: looked
	 * at only while opening a value, at most every KEYRING_CHECK_MS (or
	 * once a second for a value that does not open).
	 */
	struct keyring		*keys;
	struct db		*kdb;
	struct lws		*pg_wsi;	/* the adopted dup of the libpq socket */
	struct chan_job		*jobs;		/* statements: the head is sent when job_sent */
	int			 njobs;
	int			 job_sent;
	struct chan_rnd		*round;		/* the delivery round under way, or NULL */
	int			 round_again;	/* news arrived during it */
	int			 sweeping;	/* the expiry sweep's statement is out */
	int			 pg_up;
	int			 pg_backoff_ms;
	lws_sorted_usec_list_t	 sul_tick;
	lws_sorted_usec_list_t	 sul_pg;
	lws_sorted_usec_list_t	 sul_settle;
	struct chan_conn	*conns;
	const struct settings	*s;
	struct kv_sub		*kv_sub;	/* Redis wake-ups (cb:cmd) */
	struct lws		*kv_wsi;	/* the adopted dup of its socket */
	int			 kv_warned;
	lws_sorted_usec_list_t	 sul_kv;
	lws_sorted_usec_list_t	 sul_sweep;
	long long		 receipt_timeout_ms;
	int			 stopping;
	int			 settling;
	int			 feed_seq_due;	/* the call feed's sequencer should run */
	int			 feed_sequencing;	/* its statement is out */
};

/* channel.c: frames out, closes, and statements through the one connection. */
int	 chan_send(struct chan_conn *, const char *text, size_t len);
int	 chan_send_buf(struct chan_conn *, struct buf *);
void	 chan_fail(struct chan_conn *, const char *code, const char *detail, int close_code);
void	 chan_resync(struct chan_conn *, const char *reason, long long last_seq);
struct db_res;
void	 chan_lld(char *out, size_t outsz, long long v);
void	 chan_send_error(struct chan_conn *, const char *code, const char *detail);
/* The Postgres connection went away: answer every statement, reconnect later. */
void	 chan_pg_lost(struct chan *, const char *why);
/* A statement's answer names c: keep it allocated until chan_conn_release. */
void	 chan_conn_hold(struct chan_conn *);
void	 chan_conn_release(struct chan_conn *);
/* Run a delivery round soon (after the loop has read what is ready). */
void	 chan_settle_soon(struct chan *);
/* A delivery round now, and the call feeds' (while Postgres is up). */
void	 chan_settle(struct chan *);

/* chan_upgrade.c: the upgrade request. */
/* The path's ctx_ref (or CHAN_FEED_REF): 0, else the HTTP status refusing it. */
int	 chan_request_status(struct lws *, char ref[CHAN_UUID_LEN + 1]);
void	 chan_request_id(struct lws *, char *out, size_t outsz);
void	 chan_trace_id(struct lws *, int on, char *out, size_t outsz);
void	 chan_client_addr(struct lws *, char *out, size_t outsz);
/* The lws callback's answers to HTTP_CONFIRM_UPGRADE and to plain HTTP. */
int	 chan_upgrade_confirm(struct chan *, struct lws *);
int	 chan_upgrade_plain(struct lws *);

/* chan_adopt.c: the Postgres and Redis sockets (lws timer callbacks). */
void	 chan_pg_connect(lws_sorted_usec_list_t *);
void	 chan_kv_connect(lws_sorted_usec_list_t *);
/* The lws callback of both (CHAN_PG_PROTOCOL, CHAN_KV_PROTOCOL). */
int	 chan_adopted_cb(struct lws *, enum lws_callback_reasons, void *user, void *in,
	    size_t len);

/*
 * chan_pg.c: statements, asynchronously.  done gets the answer: rc as
 * db_query's and, on CB_OK, the rows (freed after done returns); every
 * submitted statement is answered exactly once, CB_ERR_DB_DOWN when the
 * connection is lost first.  chan_submit copies the parameters; it
 * answers CB_ERR_DB_DOWN at once (done is not called) while Postgres is
 * away.
 */
typedef void (*chan_done_fn)(struct chan *, int rc, struct db_res *, void *arg);
int	 chan_submit(struct chan *, const char *sql, int n, const char *const *p,
	    chan_done_fn done, void *arg);
/*
 * sql with $1 an array literal of value(c) for every connection that has
 * one (not NULL; values that need no quoting: uuids, numbers), at most max
 * bytes; nothing is submitted when no connection has one.
 */
void	 chan_submit_each(struct chan *, const char *sql, size_t max,
	    const char *(*value)(const struct chan_conn *), chan_done_fn done);
/* The socket is readable: take the answer when it is complete. */
void	 chan_pg_readable(struct chan *);
/* Answer every queued statement CB_ERR_DB_DOWN (the connection is gone). */
void	 chan_pg_fail_all(struct chan *);

/* chan_msg.c: one complete message from the peer. */
void	 chan_message(struct chan_conn *);
/* An authentication lookup answered: 1 when its connection still wants the answer. */
int	 chan_auth_answered(struct chan_conn *);

/* chan_flight.c: the tab's window. */
int	 chan_tab_inflight(const struct chan *, const char *ctx_id);
void	 chan_tab_dirty(struct chan *, const char *ctx_id);
void	 chan_flight_drop(struct chan_conn *, int i);
int	 chan_flight_find(const struct chan_conn *, long long seq);
/* Take a sent frame into the window (the frame's text is owned from then). */
void	 chan_flight_add(struct chan_conn *, long long seq, const char *id, char *frame,
	    size_t len);
/*
 * The round a command is in on the tab's other sockets: another live
 * connection of the same tab holding seq in flight, or NULL.
 */
struct chan_flight *chan_flight_sibling(const struct chan *, const struct chan_conn *,
	    long long seq);
/* The entry just added joins that round: same send count and deadline. */
void	 chan_flight_join(struct chan_conn *, const struct chan_flight *round);
double	 chan_receipt_due(const struct chan_conn *, int sends);
void	 chan_log_seq(enum log_level, const char *event, const struct chan_conn *,
	    long long seq, const char *k, const char *v);

/* chan_rows.c: the delivery round. */
struct db;
/* Prepare the round's and auth's statements on a new connection (waits). */
int	 chan_rows_prepare(struct db *);
/* Start a round for every connection that may have news (one at a time). */
void	 chan_round(struct chan *);

/* chan_late.c: the single statements. */
/*
 * The auth statement: the token's context and, in the same snapshot, the
 * newest seq, the rows after pos, the policy's window.  done gets c (held).
 */
int	 chan_rows_auth(struct chan_conn *, const char *token_hash, long long pos,
	    chan_done_fn done);
/*
 * A receipt for a command no longer in this connection's window; resent:
 * one the tab sends again for a seq at or below its resume position,
 * taken only for a command that reached a tab and is still delivered (or
 * expired meanwhile).
 */
void	 chan_store_receipt(struct chan_conn *, long long seq, const char *status,
	    const char *reason, int resent);
/* Entry i's receipt is late: send again or give up (the answer decides). */
void	 chan_receipt_timeout(struct chan_conn *, int i);

/* chan_feed.c: the call feed. */
#define CHAN_FEED_REF		"calls"		/* ctx_ref of a /ws/calls connection */
struct cJSON;
/* A feed's message other than ping. */
void	 chan_feed_message(struct chan_conn *, const struct cJSON *root, const char *type);
/* Run the sequencer if due, read a page for every feed with news and room. */
void	 chan_feed_round(struct chan *);
/* "calls:<org>" on cb:cmd: an event was accepted. */
void	 chan_feed_wake(struct chan *, const char *org);
/* Every sweep: positions for what a wake-up missed, and the heads. */
void	 chan_feed_sweep(struct chan *);
/* Frames left the queue: a feed with more to read reads on. */
void	 chan_feed_drained(struct chan_conn *);

/* chan_sweep.c */
/* Mark the connections whose tab has news (one query for all of them). */
void	 chan_rows_sweep(struct chan *);
/* End expired commands, tab or no tab, in small batches. */
void	 chan_expire_sweep(struct chan *);

#endif
