/*
 * console: see console.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "console.h"
#include "db.h"
#include "errs.h"
#include "metrics.h"
#include "util.h"

#define CS_TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char *const console_states[] = { "pending", "approved", "denied", "expired" };

int
console_approval_state_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s && i < sizeof(console_states) / sizeof(console_states[0]); i++)
		if (strcmp(s, console_states[i]) == 0)
			return 1;
	return 0;
}

static void
cs_str(cJSON *o, const char *k, const struct db_res *res, size_t i, int col)
{
	if (db_isnull(res, i, col))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddStringToObject(o, k, db_val(res, i, col));
}

static void
cs_num(cJSON *o, const char *k, const struct db_res *res, size_t i, int col)
{
	long long	 v = 0;

	if (db_isnull(res, i, col))
		cJSON_AddNullToObject(o, k);
	else {
		(void)util_parse_ll(db_val(res, i, col), LLONG_MIN, LLONG_MAX, &v);
		cJSON_AddNumberToObject(o, k, (double)v);
	}
}

/* A result's columns, in order, as the members of each row's object. */
struct cs_col {
	const char	*name;
	int		 num;		/* 1: a number, else a string (both may be null) */
};

static void
cs_rows(cJSON *arr, const struct db_res *res, const struct cs_col *cols, size_t ncols)
{
	cJSON	*o;
	size_t	 i, c;

	for (i = 0; i < db_rows(res); i++) {
		if ((o = cJSON_CreateObject()) == NULL)
			util_oom();
		for (c = 0; c < ncols; c++)
			(cols[c].num ? cs_num : cs_str)(o, cols[c].name, res, i, (int)c);
		cJSON_AddItemToArray(arr, o);
	}
}

#define CS_NCOLS(t)	(sizeof(t) / sizeof((t)[0]))

static const struct cs_col depth_cols[] = {
	{ "sink", 0 }, { "state", 0 }, { "rows", 1 }, { "oldest_age_s", 1 },
};

static const struct cs_col failure_cols[] = {
	{ "id", 0 }, { "kind", 0 }, { "state", 0 }, { "attempts", 1 }, { "max_attempts", 1 },
	{ "last_error", 0 }, { "created_at", 0 }, { "run_after", 0 },
};

static const struct cs_col approval_cols[] = {
	{ "id", 0 }, { "command_id", 0 }, { "ctx_id", 0 }, { "agent_id", 0 }, { "type", 0 },
	{ "selector", 0 }, { "value", 0 }, { "state", 0 }, { "created_at", 0 },
	{ "expires_at", 0 }, { "decided_by", 0 }, { "decided_at", 0 },
};

/*
 * Unfinished rows by sink and state.  Each state's partial index leads:
 * done and discarded rows, the bulk of the table, are never read.
 */
static const char console_depth_sql[] =
    "SELECT split_part(kind, '.', 1), state, count(*),"
    " floor(extract(epoch FROM now() - min(created_at)))::bigint"
    " FROM outbox WHERE org_id = $1::bigint AND state IN ('pending', 'running', 'dead')"
    " GROUP BY 1, 2 ORDER BY 1, 2";

/*
 * The latest failures: unfinished rows whose last attempt failed (a
 * delivered row has its last_error cleared).  Never the payload.
 */
static const char console_failures_sql[] =
    "SELECT id, kind, state, attempts, max_attempts, left(last_error, 500), "
    CS_TS("created_at") ", " CS_TS("run_after")
    " FROM outbox WHERE org_id = $1::bigint AND state IN ('pending', 'running', 'dead')"
    "  AND last_error IS NOT NULL"
    " ORDER BY id DESC LIMIT $2::int";

int
console_outbox(struct db *db, const char *org, long long failures, cJSON **out)
{
	struct db_res	*res = NULL;
	cJSON		*o = NULL, *arr;
	char		 lim[24];
	int		 rc;

	*out = NULL;
	if (failures < 1 || failures > CONSOLE_FAILURES_MAX)
		return CB_ERR_VALIDATION;
	if ((rc = db_query(db, &res, console_depth_sql, 1, (const char *[]){ org })) != CB_OK)
		goto out;
	if ((o = cJSON_CreateObject()) == NULL || (arr = cJSON_AddArrayToObject(o, "sinks")) == NULL)
		util_oom();
	cs_rows(arr, res, depth_cols, CS_NCOLS(depth_cols));
	db_res_free(res);
	res = NULL;
	snprintf(lim, sizeof(lim), "%lld", failures);
	if ((rc = db_query(db, &res, console_failures_sql, 2, (const char *[]){ org, lim })) !=
	    CB_OK)
		goto out;
	if ((arr = cJSON_AddArrayToObject(o, "failures")) == NULL)
		util_oom();
	cs_rows(arr, res, failure_cols, CS_NCOLS(failure_cols));
	*out = o;
	o = NULL;
out:
	cJSON_Delete(o);
	db_res_free(res);
	return rc;
}

/*
 * One state's approvals with their commands, newest first.  A pending one
 * past expires_at is as good as expired: not offered as pending.  The
 * value is the mask the approval kept when it was made (its command's
 * value is sealed, sql/0024), or for an older one its command's own.
 */
static const char console_approvals_sql[] =
    "SELECT a.id, a.command_id, a.ctx_id, a.agent_id, c.type, c.selector,"
    " coalesce(a.value_masked, " APPROVAL_MASKED_SQL("c.value") "), a.state, " CS_TS("a.created_at") ","
    " " CS_TS("a.expires_at") ", a.decided_by, " CS_TS("a.decided_at")
    " FROM approvals a JOIN commands c ON c.id = a.command_id AND c.org_id = a.org_id"
    " WHERE a.org_id = $1::bigint AND a.state = $2"
    "  AND (a.state <> 'pending' OR a.expires_at > now())"
    " ORDER BY a.created_at DESC, a.id LIMIT $3::int";

int
console_approvals(struct db *db, const char *org, const char *state, long long limit,
    cJSON **out)
{
	struct db_res	*res = NULL;
	cJSON		*o, *arr;
	char		 lim[24];
	int		 rc;

	*out = NULL;
	if (!console_approval_state_ok(state) || limit < 1 || limit > CONSOLE_APPROVALS_MAX)
		return CB_ERR_VALIDATION;
	snprintf(lim, sizeof(lim), "%lld", limit);
	if ((rc = db_query(db, &res, console_approvals_sql, 3,
	    (const char *[]){ org, state, lim })) != CB_OK)
		return rc;
	if ((o = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "approvals")) == NULL)
		util_oom();
	cs_rows(arr, res, approval_cols, CS_NCOLS(approval_cols));
	db_res_free(res);
	*out = o;
	return CB_OK;
}

cJSON *
console_live(const char *metrics_dir)
{
	struct metrics_view	*v = metrics_collect(metrics_dir);
	cJSON			*o = cJSON_CreateObject();
	size_t			 nseg = metrics_view_segments(v);

	if (o == NULL)
		util_oom();
	if (nseg == 0)
		cJSON_AddNullToObject(o, "ws_connections");
	else
		cJSON_AddNumberToObject(o, "ws_connections",
		    (double)metrics_view_total(v, MF_WS_OPEN));
	cJSON_AddStringToObject(o, "scope", "node");
	cJSON_AddNumberToObject(o, "segments", (double)nseg);
	metrics_view_free(v);
	return o;
}
