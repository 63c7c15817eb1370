/*
 * outbox_int: what the delivery engine's files share (worker/outbox.c, the
 * loop and its batches; worker/outbox_rows.c, its Postgres side;
 * worker/sinks.c, its services to the sinks).  Not for sinks: they see
 * only worker/sink.h.
 */
#ifndef CB_OUTBOX_INT_H
#define CB_OUTBOX_INT_H

#include <stddef.h>

#include "db.h"
#include "httpc.h"
#include "kv.h"
#include "retry.h"
#include "sink.h"
#include "worker.h"

#define ENGINE_SINKS_MAX	8
#define ENGINE_SWEEP_MS		1000	/* look for due rows at least this often */
#define ENGINE_TICK_MS		1000
#define ENGINE_RECLAIM_MS	1000
#define ENGINE_STOP_GRACE_MS	10000
#define ENGINE_DOWN_MAX_MS	2000
#define ENGINE_GROUP_MAX	160
#define ENGINE_LEASE_CAP	4000	/* rows in one lease statement */

struct eng_sink {
	const struct sink	*sink;
	void			*state;
	int			 in_flight;
	int			 blocked;	/* room() said 0 this round */
};

struct eng_batch {
	struct sink_batch	 b;
	struct eng_sink		*es;
	char			 group[ENGINE_GROUP_MAX];
	size_t			 cap;
	int			 started;
	int			 finished;
	struct eng_batch	*next;
};

struct engine {
	const struct settings	*s;
	struct worker		*w;
	struct db		*db;
	struct httpc		*http;
	struct kv_sub		*sub;
	struct sink_env		 env;
	struct retry_schedule	 sched;
	struct eng_sink		 sinks[ENGINE_SINKS_MAX];
	size_t			 nsinks;
	struct eng_batch	*queued;	/* leased, not started */
	struct eng_batch	*flying;	/* started */
	struct eng_batch	*unrecorded;	/* finished, outcome not yet written */
	int			 in_flight;
	unsigned long		 gen;		/* db generation we registered on */
	double			 next_renew, next_tick, next_reclaim;
	double			 next_retry;	/* earliest retry we scheduled */
	char			 me[128];
};

double		 eng_now_ms(void);
struct eng_sink	*eng_sink_for(struct engine *, const char *kind);
/* Stamp b's trace on the log lines and the upstream calls; NULL clears it. */
void		 eng_trace(struct engine *, const struct sink_batch *b);
/* A leased row (a lease statement's result row) into a queued batch. */
void		 eng_enqueue(struct engine *, struct eng_sink *, const struct db_res *, size_t row);

/* outbox_rows.c */
int		 eng_register(struct engine *);
void		 eng_reclaim(struct engine *);
void		 eng_renew(struct engine *);
int		 eng_lease(struct engine *, struct eng_sink *, int want);
int		 eng_record(struct engine *, struct eng_batch *);

#endif
