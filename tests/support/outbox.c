/*
 * outbox: see outbox.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "db.h"
#include "errs.h"
#include "http.h"
#include "outbox.h"
#include "testdb.h"

int
outbox_wait_sel(const struct outbox_sel *sel, const char *state, long min_attempts, int ms,
    struct outbox_row *out)
{
	struct db		*db = db_open(test_env("CB_PG_DSN"));
	struct db_res		*res = NULL;
	struct outbox_row	 row;
	const char		*p[4] = { sel->ref, sel->kind, sel->endpoint, sel->text };
	size_t			 i;
	int			 waited, ok = 0;

	memset(&row, 0, sizeof(row));
	for (waited = 0; waited <= ms && !ok; waited += 100) {
		ck_assert_int_eq(db_query(db, &res, "SELECT id::text, state, attempts::text,"
		    " (extract(epoch FROM run_after - now()) * 1000)::bigint::text,"
		    " coalesce(last_error, ''), coalesce((extract(epoch FROM coalesce(done_at, dead_at)"
		    " - created_at) * 1000)::bigint, -1)::text FROM outbox"
		    " WHERE ($1::uuid IS NULL OR ref_id = $1::uuid) AND ($2::text IS NULL OR kind = $2)"
		    " AND ($3::text IS NULL OR payload->>'endpoint_id' = $3)"
		    " AND ($4::text IS NULL OR payload->>'text' = $4) ORDER BY id", 4, p), CB_OK);
		memset(&row, 0, sizeof(row));
		ok = db_rows(res) > 0;
		for (i = 0; i < db_rows(res); i++)
			if (strcmp(db_val(res, i, 1), state) != 0 ||
			    strtol(db_val(res, i, 2), NULL, 10) < min_attempts)
				ok = 0;
		if (db_rows(res) > 0) {
			snprintf(row.id, sizeof(row.id), "%s", db_val(res, 0, 0));
			snprintf(row.state, sizeof(row.state), "%s", db_val(res, 0, 1));
			row.attempts = strtol(db_val(res, 0, 2), NULL, 10);
			row.run_after_ms = strtol(db_val(res, 0, 3), NULL, 10);
			snprintf(row.error, sizeof(row.error), "%s", db_val(res, 0, 4));
			row.final_ms = strtol(db_val(res, 0, 5), NULL, 10);
		}
		db_res_free(res);
		if (!ok && waited < ms)
			test_sleep_ms(100);
	}
	db_close(db);
	if (out != NULL)
		*out = row;
	return ok;
}

int
outbox_wait(const char *ref, const char *state, int ms, long *attempts, char *err, size_t errsz)
{
	struct outbox_sel	 sel = { .ref = ref };
	struct outbox_row	 row;

	if (!outbox_wait_sel(&sel, state, 0, ms, &row))
		return 0;
	if (attempts)
		*attempts = row.attempts;
	if (err)
		snprintf(err, errsz, "%s", row.error);
	return 1;
}

void
outbox_pause(const char *sink, int on)
{
	if (on)
		testdb_exec("INSERT INTO sink_pauses (sink, until, reason) VALUES"
		    " ($1, now() + interval '1 hour', 'test') ON CONFLICT (sink) DO UPDATE"
		    " SET until = EXCLUDED.until", 1, (const char *[]){ sink });
	else if (sink != NULL)
		testdb_exec("DELETE FROM sink_pauses WHERE sink = $1", 1, (const char *[]){ sink });
	else
		testdb_exec("DELETE FROM sink_pauses", 0, NULL);
}

void
outbox_pause_reason(const char *sink, char *out, size_t outsz)
{
	testdb_val(out, outsz, "SELECT reason FROM sink_pauses WHERE sink = $1 AND until > now()",
	    1, (const char *[]){ sink });
}

long
outbox_pause_left_ms(const char *sink)
{
	return testdb_long("SELECT greatest(0, (extract(epoch FROM until - now()) * 1000)::bigint)"
	    " FROM sink_pauses WHERE sink = $1", 1, (const char *[]){ sink });
}
