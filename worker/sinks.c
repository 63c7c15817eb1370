/*
 * sinks: the table of the delivery engine's destinations, and the engine's
 * services to them (sink.h).  Adding a sink is one file
 * (worker/sink_<name>.c, see sink.h) and one line in the table.
 */
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "errs.h"
#include "log.h"
#include "outbox_int.h"
#include "sink.h"
#include "util.h"

extern const struct sink sink_salesforce;
extern const struct sink sink_slack;
extern const struct sink sink_webhook;

const struct sink *const sinks[] = {
	&sink_salesforce,
	&sink_slack,
	&sink_webhook,
};

const size_t sinks_n = sizeof(sinks) / sizeof(sinks[0]);

void
sink_batch_done(struct sink_batch *b)
{
	struct eng_batch	*eb = b->engine;

	eb->finished = 1;
}

void
sink_row_set(struct sink_row *row, int outcome, const char *code, const char *msg)
{
	row->outcome = outcome;
	util_strlcpy(row->code, code, sizeof(row->code));
	util_strlcpy(row->error, msg, sizeof(row->error));
}

void
sink_batch_fail(struct sink_batch *b, int outcome, long retry_after_s, const char *code,
    const char *error)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		if (b->rows[i].outcome != SINK_UNSET)
			continue;
		sink_row_set(&b->rows[i], outcome, code, error);
		b->rows[i].retry_after_s = retry_after_s;
	}
}

void
sink_pause(struct sink_env *env, const char *sink, long secs, const char *reason)
{
	char	 s[24];

	snprintf(s, sizeof(s), "%ld", secs);
	(void)db_exec(env->db, "INSERT INTO sink_pauses (sink, until, reason)"
	    " VALUES ($1, now() + make_interval(secs => $2::int), $3)"
	    " ON CONFLICT (sink) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason,"
	    " since = CASE WHEN sink_pauses.until > now() THEN sink_pauses.since ELSE now() END",
	    3, (const char *[]){ sink, s, reason });
	log_kv(LOG_LVL_WARN, "sink_paused", "sink", sink, "seconds", s, "reason", reason, NULL);
}

void
sink_note(struct sink_env *env, const char *sink, const char *outcome, const char *code)
{
	int	 ok = strcmp(outcome, "ok") == 0;

	(void)db_exec(env->db, "INSERT INTO sink_status (sink, last_outcome, last_error, last_at,"
	    "   last_ok_at) VALUES ($1, $2, $3, now(), CASE WHEN $4 = '1' THEN now() END)"
	    " ON CONFLICT (sink) DO UPDATE SET last_outcome = EXCLUDED.last_outcome,"
	    "   last_error = EXCLUDED.last_error, last_at = now(),"
	    "   last_ok_at = coalesce(EXCLUDED.last_ok_at, sink_status.last_ok_at)", 4,
	    (const char *[]){ sink, outcome, ok ? NULL : code, ok ? "1" : "0" });
	if (!ok && code != NULL)
		(void)db_exec(env->db, "INSERT INTO sink_failures (sink, code) VALUES ($1, $2)", 2,
		    (const char *[]){ sink, code });
}

int
sink_env_open(struct sink_env *env, void **state)
{
	struct sink_env_state	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		util_oom();
	k->env = env;
	*state = k;
	return CB_OK;
}

void
sink_env_close(void *state)
{
	free(state);
}
