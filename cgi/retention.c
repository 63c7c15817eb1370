/*
 * A tenant's retention periods by data class (docs/classification.md,
 * "Retention by class"; the worker's retention duty applies them).
 *
 * PUT /api/v1/admin/retention   admin
 *        {public_days?, internal_days?, confidential_days?, restricted_days?}
 *        -> 200 the periods in force
 *   Each member is a whole number of days, 1 to 3650; omitted or null
 *   takes the default (public and internal 365, confidential 90,
 *   restricted 30): the body is the whole setting, not a patch.  A
 *   stricter class may not be kept longer than a laxer one (restricted <=
 *   confidential <= internal <= public, defaults included): 422 naming the
 *   field.  Idempotency-Key required (scoped to the user).  The change and
 *   its audit row (retention.changed, the four periods) are one statement.
 * GET /api/v1/admin/retention   admin -> 200 the periods in force
 *
 * Answer: {"public_days","internal_days","confidential_days",
 * "restricted_days","defaults":{the same four},"updated_at" (null: the
 * tenant never set them)}.
 *
 * Who: a person (Authorization: Bearer <access JWT>) who is an admin of
 * the tenant; another role gets 403.  The tenant is the caller's.
 * Errors: 400 (a member unknown, duplicate, not an integer, out of
 * 1..3650: "field" names it), 401, 403, 413, 415, 422 (the order of the
 * classes above; Idempotency-Key reused), 409 (Idempotency-Key in flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "errs.h"
#include "log.h"
#include "route.h"
#include "userauth.h"
#include "util.h"

#define RET_DAYS_MAX	3650
#define RET_NCLASSES	4

/* The classes from the laxest to the strictest (the order periods must keep). */
static const char *const ret_names[RET_NCLASSES] = {
	"public_days", "internal_days", "confidential_days", "restricted_days"
};
/* The defaults, as the view retention_effective (sql/0023) gives them. */
static const long long ret_defaults[RET_NCLASSES] = { 365, 365, 90, 30 };

struct put_args {
	long long	 days[RET_NCLASSES];	/* 0: omitted or null, the default */
};

#define D(i)	offsetof(struct put_args, days) + (i) * sizeof(long long)
static const struct jv_field put_fields[] = {
	{ "public_days", JV_INT, JV_NULLABLE, 1, RET_DAYS_MAX, D(0), NULL },
	{ "internal_days", JV_INT, JV_NULLABLE, 1, RET_DAYS_MAX, D(1), NULL },
	{ "confidential_days", JV_INT, JV_NULLABLE, 1, RET_DAYS_MAX, D(2), NULL },
	{ "restricted_days", JV_INT, JV_NULLABLE, 1, RET_DAYS_MAX, D(3), NULL },
};
#undef D

/* The periods in force, and the defaults, for the caller's tenant. */
static const char get_sql[] =
    "SELECT max(days) FILTER (WHERE class = 'public'),"
    "  max(days) FILTER (WHERE class = 'internal'),"
    "  max(days) FILTER (WHERE class = 'confidential'),"
    "  max(days) FILTER (WHERE class = 'restricted'),"
    "  (SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "   FROM retention_periods WHERE org_id = $1::bigint)"
    " FROM retention_effective WHERE org_id = $1::bigint";

/*
 * The tenant's row replaced whole, and its audit row.
 *   $1 org  $2..$5 the periods ('' : the default)  $6 actor
 */
static const char put_sql[] =
    "WITH u AS (INSERT INTO retention_periods AS p (org_id, public_days, internal_days,"
    "   confidential_days, restricted_days)"
    "   VALUES ($1::bigint, nullif($2, '')::int, nullif($3, '')::int, nullif($4, '')::int,"
    "   nullif($5, '')::int)"
    "   ON CONFLICT (org_id) DO UPDATE SET public_days = EXCLUDED.public_days,"
    "   internal_days = EXCLUDED.internal_days, confidential_days = EXCLUDED.confidential_days,"
    "   restricted_days = EXCLUDED.restricted_days, updated_at = now() RETURNING p.org_id),"
    " a AS (" AUDIT_INSERT_SELECT("$1", "$6", "'retention.changed'", "NULL",
    "jsonb_build_object('public_days', nullif($2, '')::int, 'internal_days',"
    " nullif($3, '')::int, 'confidential_days', nullif($4, '')::int,"
    " 'restricted_days', nullif($5, '')::int)", "u") " RETURNING 1)"
    " SELECT count(*) FROM a";

static const struct user_auth *
caller(const struct req *r)
{
	return r->auth;
}

/* A stricter class kept no longer than a laxer one, defaults included. */
static int
put_check(struct req *r, void *argp)
{
	const struct put_args	*a = argp;
	long long		 prev = 0, d;
	char			 why[160];
	int			 i;

	for (i = 0; i < RET_NCLASSES; i++) {
		d = a->days[i] > 0 ? a->days[i] : ret_defaults[i];
		if (i > 0 && d > prev) {
			snprintf(why, sizeof(why), "%lld days is longer than %s (%lld): a stricter "
			    "class may not be kept longer than a laxer one", d, ret_names[i - 1], prev);
			return route_fail_field(r, CB_ERR_UNPROCESSABLE, ret_names[i], why);
		}
		prev = d;
	}
	return CB_OK;
}

static int
answer(struct req *r)
{
	struct db_res	*res = NULL;
	cJSON		*o, *defs;
	int		 rc, i;

	rc = db_query(r->app->db, &res, get_sql, 1, (const char *[]){ caller(r)->org });
	if (rc != CB_OK)
		return rc;
	o = cJSON_CreateObject();
	defs = cJSON_CreateObject();
	for (i = 0; i < RET_NCLASSES; i++) {
		cJSON_AddNumberToObject(o, ret_names[i], strtod(db_val(res, 0, i), NULL));
		cJSON_AddNumberToObject(defs, ret_names[i], (double)ret_defaults[i]);
	}
	cJSON_AddItemToObject(o, "defaults", defs);
	if (db_isnull(res, 0, 4))
		cJSON_AddNullToObject(o, "updated_at");
	else
		cJSON_AddStringToObject(o, "updated_at", db_val(res, 0, 4));
	resp_json_nostore(r, 200, o);
	db_res_free(res);
	return CB_OK;
}

static int
put_act(struct req *r, const void *argp)
{
	const struct put_args	*a = argp;
	struct db_res		*res = NULL;
	char			 d[RET_NCLASSES][24], actor[48];
	int			 rc, i;

	for (i = 0; i < RET_NCLASSES; i++) {
		d[i][0] = '\0';
		if (a->days[i] > 0)
			snprintf(d[i], sizeof(d[i]), "%lld", a->days[i]);
	}
	snprintf(actor, sizeof(actor), "user:%s", caller(r)->user_id);
	rc = db_query(r->app->db, &res, put_sql, 6,
	    (const char *[]){ caller(r)->org, d[0], d[1], d[2], d[3], actor });
	db_res_free(res);
	if (rc != CB_OK)
		return rc;
	log_kv(LOG_LVL_INFO, "retention_periods_set", "org", caller(r)->org, "actor", actor, NULL);
	return answer(r);
}

static int
get_act(struct req *r, const void *argp)
{
	(void)argp;
	return answer(r);
}

static const struct route retention_routes[] = {
	{ .method = "PUT", .pattern = "/api/v1/admin/retention", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_IDEMPOTENT, .fields = put_fields,
	  .nfields = ROUTE_NELEM(put_fields),
	  .args_size = sizeof(struct put_args), .auth = ROUTE_AUTH_PERSON, .roles = ROLES("admin"),
	  .check = put_check, .idem_scope = userauth_idem_scope, .act = put_act },
	{ .method = "GET", .pattern = "/api/v1/admin/retention", .auth = ROUTE_AUTH_PERSON,
	  .roles = ROLES("admin"), .act = get_act },
};

ROUTE_MAIN("retention", retention_routes)
