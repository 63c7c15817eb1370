/*
 * sink: one outbound destination of the delivery engine (worker/outbox.c).
 *
 * An outbox row's kind is "<sink>.<verb>" ("salesforce.upsert",
 * "webhook.deliver", "slack.alert"); the engine leases rows fairly across
 * tenants, groups them into batches the sink accepts (rows with the same
 * group key, at most batch_max of them), starts up to CB_OUTBOX_CONCURRENCY
 * batches at once over one struct httpc, and records each row's outcome:
 *
 *   SINK_DONE       delivered; result (a JSON object) is kept on the row
 *   SINK_RETRY      try again on the schedule (CB_OUTBOX_SCHEDULE), not
 *                   before retry_after_s; dead-lettered when out of attempts
 *   SINK_DEAD       permanent: dead-lettered now, with error
 *   SINK_GIVE_BACK  not the row's fault (sink paused, configuration broken):
 *                   back to pending, the attempt not charged
 *
 * A sink never retries on its own and never writes the outbox: the engine
 * owns every row's state.  error may echo record data: it is stored on the
 * row and never logged; code is short, safe to log and to alert on.
 *
 * Adding a sink: one file worker/sink_<name>.c defining a struct sink, and
 * one line in the table in worker/sinks.c.
 */
#ifndef CB_SINK_H
#define CB_SINK_H

#include <stddef.h>

#include "db.h"
#include "httpc.h"
#include "keyring.h"
#include "settings.h"

enum sink_outcome {
	SINK_UNSET = 0,
	SINK_DONE,
	SINK_RETRY,
	SINK_DEAD,
	SINK_GIVE_BACK
};

struct sink_row {
	char		 id[24];	/* outbox.id */
	char		 org_id[24];
	const char	*kind;
	const char	*ref_id;	/* "" when the row has none */
	const char	*payload;	/* the clear payload, JSON object text */
	const char	*sealed;	/* payload_sealed, or NULL */
	/* The traceparent of the request that wrote the row, "" if none. */
	char		 trace[TRACE_HEADER_LEN + 1];
	int		 attempt;	/* this attempt, 1-based */
	long long	 created_s;	/* when the row was written, Unix seconds */
	int		 max_attempts;
	/* Filled by the sink. */
	int		 outcome;	/* enum sink_outcome */
	long		 retry_after_s;
	char		 code[64];
	char		 error[400];
	char		 result[256];
};

/* What the engine lends its sinks; all of it lives as long as the duty. */
struct sink_env {
	const struct settings	*s;
	struct db		*db;	/* the engine's connection: use between calls only */
	struct httpc		*http;
	struct keyring		*keys;
	const char		*me;	/* this process's delivery_workers.id */
};

struct sink_batch {
	const struct sink	*sink;
	void			*state;	/* the sink's, from open */
	struct sink_row		*rows;
	size_t			 n;
	void			*call;	/* the sink's, for this call */
	void			*engine;/* the engine's, do not touch */
};

struct sink {
	const char	*name;		/* ^[a-z][a-z0-9_]{0,31}$ */
	size_t		 batch_max;	/* rows one call carries (1: a row per call) */
	/* Rows with equal keys may share a call; NULL: all rows of the sink may. */
	void		(*group_key)(const struct sink_row *, char *key, size_t keysz);
	/* At duty start.  A sink that cannot work yet still opens: its rows
	 * are given back until it can. */
	int		(*open)(struct sink_env *, void **state);
	void		(*close)(void *state);
	/* Rows one call carries now, <= batch_max (a setting); NULL: batch_max. */
	size_t		(*max_rows)(void *state);
	/* How many more calls may start now (>= 0); NULL: no limit of its own. */
	int		(*room)(void *state);
	/* Start one call for the batch.  Every row gets an outcome, and then
	 * sink_batch_done() is called exactly once, possibly before start returns. */
	void		(*start)(void *state, struct sink_batch *);
	/* About once a second: token refresh, probes of a paused upstream. */
	void		(*tick)(void *state);
};

/*
 * The state of a sink that keeps nothing of its own but the environment
 * (slack, webhook): sink_env_open and sink_env_close are its open and close.
 */
struct sink_env_state {
	struct sink_env	*env;
};
int	 sink_env_open(struct sink_env *, void **state);
void	 sink_env_close(void *state);

/* The engine's side, for the sinks. */
void	 sink_batch_done(struct sink_batch *);
/* Give every row of the batch the same outcome. */
/* One row's outcome, its code and message. */
void	 sink_row_set(struct sink_row *, int outcome, const char *code, const char *msg);
void	 sink_batch_fail(struct sink_batch *, int outcome, long retry_after_s,
	    const char *code, const char *error);
/* Pause the sink for every worker (sink_pauses) for secs; its rows wait,
 * and the pause ends by itself (the next lease after it probes the sink). */
void	 sink_pause(struct sink_env *, const char *sink, long secs, const char *reason);
/* Record an outcome in sink_status (and a failure in sink_failures). */
void	 sink_note(struct sink_env *, const char *sink, const char *outcome,
	    const char *code);

extern const struct sink *const sinks[];
extern const size_t sinks_n;

#endif
