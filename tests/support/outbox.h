/*
 * outbox: integration-test views of the delivery engine's state in
 * Postgres: waiting for an outbox row to reach a state, and pausing or
 * resuming a sink (sink_pauses) the way the engine does.  Polls every
 * 100 ms; never changes a row.
 */
#ifndef CB_TEST_OUTBOX_H
#define CB_TEST_OUTBOX_H

#include <stddef.h>

/*
 * Which rows.  Every member given must match: ref is the row's ref_id (a
 * submission or command id), kind its kind, endpoint the webhook endpoint
 * id of a webhook.deliver row, text the text of a slack.alert row.
 */
struct outbox_sel {
	const char	*ref;
	const char	*kind;
	const char	*endpoint;
	const char	*text;
};

/* What a wait saw last. */
struct outbox_row {
	char	 id[24];
	char	 state[16];
	long	 attempts;
	long	 run_after_ms;	/* run_after - now(), ms (negative: due) */
	long	 final_ms;	/* done_at or dead_at - created_at, ms; -1: neither */
	char	 error[512];	/* last_error, "" if none */
};

/*
 * Wait up to ms until the selected rows (at least one) are all in `state`,
 * each with at least min_attempts attempts charged; 1 if they were.  The
 * first of them (lowest id) goes to *out (may be NULL), also on a timeout
 * (state "" if there was none).
 */
int	 outbox_wait_sel(const struct outbox_sel *, const char *state, long min_attempts,
	    int ms, struct outbox_row *out);
/*
 * The same for the rows with this ref_id (one, unless webhook events
 * share it); the attempts and last_error of the first on success.
 */
int	 outbox_wait(const char *ref, const char *state, int ms, long *attempts,
	    char *err, size_t errsz);
/* Pause a sink for an hour (on) or lift its pause; sink NULL with !on: every sink's. */
void	 outbox_pause(const char *sink, int on);
/* The reason a sink is paused now ("" when not paused). */
void	 outbox_pause_reason(const char *sink, char *out, size_t outsz);
/* Until when a sink is paused, in ms from now (0 when not paused). */
long	 outbox_pause_left_ms(const char *sink);

#endif
