/*
 * deadletter: see deadletter.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "deadletter.h"
#include "errs.h"
#include "log.h"
#include "util.h"

#define DL_TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * The columns an operator may see, in deadletter_row's order.  Never
 * payload, payload_sealed or result.  The current worker stamps a dead row
 * with done_at, the delivery engine with dead_at: either one is "dead at".
 * last_error is cut at 500 characters (at most 2000 bytes).
 */
#define DL_COLS \
	"o.id, o.org_id, o.kind, coalesce(o.ref_id::text, '') AS ref_id, o.state," \
	" o.attempts, o.max_attempts, o.replays, coalesce(left(o.last_error, 500), '') AS err," \
	" " DL_TS("o.created_at") " AS created," \
	" coalesce(" DL_TS("CASE WHEN o.state IN ('dead', 'discarded')" \
	"  THEN coalesce(o.dead_at, o.done_at) END") ", '') AS dead"

/* Is, or once was, a dead letter: anything else is not this module's. */
#define DL_VISIBLE	"(o.state IN ('dead', 'discarded') OR o.replays > 0)"

int
deadletter_id_ok(const char *s)
{
	long long	 v;
	size_t		 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 19 || s[0] == '0')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return util_parse_ll(s, 1, LLONG_MAX, &v) == CB_OK;
}

int
deadletter_cursor_ok(const char *s)
{
	/* The cursor is the id of the last row of the previous page. */
	return deadletter_id_ok(s);
}

int
deadletter_kind_ok(const char *s)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DEADLETTER_KIND_MAX)
		return 0;
	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static long long
dl_num(const struct db_res *res, size_t i, int col)
{
	long long	 v = 0;

	(void)util_parse_ll(db_val(res, i, col), LLONG_MIN, LLONG_MAX, &v);
	return v;
}

static void
dl_str(char *out, size_t outsz, const struct db_res *res, size_t i, int col)
{
	const char	*v = db_val(res, i, col);

	util_strlcpy(out, v ? v : "", outsz);
}

/* Row i of a result whose columns start with DL_COLS at `col`. */
static void
deadletter_row(const struct db_res *res, size_t i, int col, struct deadletter *d)
{
	memset(d, 0, sizeof(*d));
	dl_str(d->id, sizeof(d->id), res, i, col + 0);
	dl_str(d->org, sizeof(d->org), res, i, col + 1);
	dl_str(d->kind, sizeof(d->kind), res, i, col + 2);
	dl_str(d->ref_id, sizeof(d->ref_id), res, i, col + 3);
	dl_str(d->state, sizeof(d->state), res, i, col + 4);
	d->attempts = dl_num(res, i, col + 5);
	d->max_attempts = dl_num(res, i, col + 6);
	d->replays = dl_num(res, i, col + 7);
	dl_str(d->last_error, sizeof(d->last_error), res, i, col + 8);
	dl_str(d->created_at, sizeof(d->created_at), res, i, col + 9);
	dl_str(d->dead_at, sizeof(d->dead_at), res, i, col + 10);
}

int
deadletter_list(struct db *db, const char *org, const char *kind, const char *cursor,
    long long limit, struct deadletter_page *page)
{
	struct db_res	*res = NULL;
	char		 lim[24];
	size_t		 i, n;
	int		 rc;

	memset(page, 0, sizeof(*page));
	if (cursor && *cursor == '\0')
		cursor = NULL;
	if (limit < 1 || limit > DEADLETTER_LIMIT_MAX || (cursor && !deadletter_cursor_ok(cursor)) ||
	    (kind && !deadletter_kind_ok(kind)))
		return CB_ERR_VALIDATION;
	/* One row more than asked says whether there is a next page. */
	snprintf(lim, sizeof(lim), "%lld", limit + 1);
	rc = db_query(db, &res, "SELECT " DL_COLS " FROM outbox o"
	    " WHERE o.org_id = $1::bigint AND o.state = 'dead'"
	    "  AND ($2::bigint IS NULL OR o.id < $2::bigint)"
	    "  AND ($3::text IS NULL OR o.kind = $3::text)"
	    " ORDER BY o.id DESC LIMIT $4::int", 4,
	    (const char *[]){ org, cursor, kind, lim });
	if (rc != CB_OK)
		return rc;
	n = db_rows(res);
	if (n > (size_t)limit)
		n = (size_t)limit;
	page->items = util_calloc(n ? n : 1, sizeof(*page->items));
	for (i = 0; i < n; i++)
		deadletter_row(res, i, 0, &page->items[i]);
	page->n = n;
	if (db_rows(res) > n)
		util_strlcpy(page->next_cursor, page->items[n - 1].id, sizeof(page->next_cursor));
	db_res_free(res);
	return CB_OK;
}

void
deadletter_page_free(struct deadletter_page *page)
{
	free(page->items);
	memset(page, 0, sizeof(*page));
}

int
deadletter_show(struct db *db, const char *org, const char *id, struct deadletter *d)
{
	struct db_res	*res = NULL;
	int		 rc;

	memset(d, 0, sizeof(*d));
	if (!deadletter_id_ok(id))
		return CB_ERR_NOT_FOUND;
	rc = db_query_row(db, &res, "SELECT " DL_COLS " FROM outbox o"
	    " WHERE o.org_id = $1::bigint AND o.id = $2::bigint AND " DL_VISIBLE, 2,
	    (const char *[]){ org, id });
	if (rc == CB_OK)
		deadletter_row(res, 0, 0, d);
	db_res_free(res);
	return rc;
}

/*
 * Move one dead letter out of state dead with `set`, in one statement: the
 * row is locked first (FOR UPDATE re-reads it if a concurrent move
 * committed meanwhile), moved only if it is dead then, and returned either
 * way with a flag saying whether it moved, and the move's audit row
 * (actor, action) written by the same statement, so only a row that moved
 * has one.  Run once, never retried: a
 * retry after a lost answer would find its own effect and say "conflict".
 */
static int
deadletter_move(struct db *db, const char *org, const char *id, const char *actor,
    const char *action, const char *sql, struct deadletter *d)
{
	struct db_res	*res = NULL;
	int		 rc;

	memset(d, 0, sizeof(*d));
	if (!deadletter_id_ok(id))
		return CB_ERR_NOT_FOUND;
	if ((rc = db_query_once(db, &res, sql, 4, (const char *[]){ org, id, actor, action })) !=
	    CB_OK)
		return rc;
	if (db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	else {
		deadletter_row(res, 0, 1, d);
		if (strcmp(db_val(res, 0, 0), "t") != 0)
			rc = CB_ERR_CONFLICT;
	}
	db_res_free(res);
	return rc;
}

#define DL_MOVE(set) \
	"WITH cur AS (SELECT " DL_COLS " FROM outbox o" \
	"   WHERE o.org_id = $1::bigint AND o.id = $2::bigint AND " DL_VISIBLE " FOR UPDATE)," \
	" upd AS (UPDATE outbox o SET " set ", locked_by = NULL, locked_until = NULL" \
	"   FROM cur WHERE o.id = cur.id AND o.org_id = $1::bigint AND cur.state = 'dead'" \
	"   RETURNING " DL_COLS ")," \
	" aud AS (" AUDIT_INSERT_SELECT("$1", "$3", "$4", "upd.id::text", \
	"jsonb_build_object('outbox_id', upd.id, 'kind', upd.kind," \
	"   'ref_id', nullif(upd.ref_id, ''), 'replays', upd.replays)", "upd") ")" \
	" SELECT true, * FROM upd" \
	" UNION ALL SELECT false, * FROM cur WHERE NOT EXISTS (SELECT 1 FROM upd)"

int
deadletter_replay(struct db *db, const char *org, const char *id, const char *actor,
    struct deadletter *d)
{
	return deadletter_move(db, org, id, actor, "dead_letter.replayed", DL_MOVE("state = 'pending', attempts = 0,"
	    " run_after = now(), last_error = NULL, replays = o.replays + 1, dead_at = NULL,"
	    " done_at = NULL"), d);
}

int
deadletter_discard(struct db *db, const char *org, const char *id, const char *actor,
    struct deadletter *d)
{
	return deadletter_move(db, org, id, actor, "dead_letter.discarded", DL_MOVE("state = 'discarded',"
	    " dead_at = coalesce(o.dead_at, o.done_at, now()), done_at = now()"), d);
}

static void
dl_add_str(cJSON *o, const char *k, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *
deadletter_json(const struct deadletter *d)
{
	cJSON	*o = cJSON_CreateObject();

	if (o == NULL)
		util_oom();
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "kind", d->kind);
	dl_add_str(o, "ref_id", d->ref_id);
	cJSON_AddStringToObject(o, "state", d->state);
	cJSON_AddNumberToObject(o, "attempts", (double)d->attempts);
	cJSON_AddNumberToObject(o, "max_attempts", (double)d->max_attempts);
	cJSON_AddNumberToObject(o, "replays", (double)d->replays);
	dl_add_str(o, "last_error", d->last_error);
	cJSON_AddStringToObject(o, "created_at", d->created_at);
	dl_add_str(o, "dead_at", d->dead_at);
	return o;
}

cJSON *
deadletter_page_json(const struct deadletter_page *page)
{
	cJSON	*o = cJSON_CreateObject(), *arr;
	size_t	 i;

	if (o == NULL || (arr = cJSON_AddArrayToObject(o, "dead_letters")) == NULL)
		util_oom();
	for (i = 0; i < page->n; i++)
		cJSON_AddItemToArray(arr, deadletter_json(&page->items[i]));
	dl_add_str(o, "next_cursor", page->next_cursor);
	return o;
}

void
deadletter_audit(const char *event, const struct deadletter *d, const char *actor)
{
	log_kv(LOG_LVL_INFO, event, "outbox_id", d->id, "org", d->org, "actor", actor,
	    "kind", d->kind, NULL);
}
