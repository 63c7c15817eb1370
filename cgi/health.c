/*
 * GET /api/health
 * GET /api/health/{component}      component: postgres | redis | salesforce
 *
 * salesforce is the delivery sink's view, from what the delivery engine
 * records (sink_status, sink_pauses): the last token mint, the last call's
 * outcome and error code, the org's API usage, and whether the sink is
 * paused (invalid_grant, the API allocation) — 503 while it is paused.
 *
 * Who: anyone (no credentials; it reveals only up/down and latency).
 * Idempotency-Key: not applicable (read-only).
 * Answers: 200 {"status":"ok","checks":{...}} when every dependency is up;
 *          503 problem+json naming the failing parts, with the same checks;
 *          404 for an unknown component; 405 for any method but GET/HEAD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "route.h"
#include "util.h"

struct health_check {
	const char	*name;
	int		(*probe)(struct app *, double *ms);
};

static int
health_pg(struct app *a, double *ms)
{
	return db_ping(a->db, ms);
}

static int
health_redis(struct app *a, double *ms)
{
	return kv_ping(a->kv, ms);
}

static const struct health_check health_checks[] = {
	{ "postgres", health_pg },
	{ "redis", health_redis },
};

#define NCHECKS	(sizeof(health_checks) / sizeof(health_checks[0]))

static int
health_run(struct req *r, const char *only)
{
	cJSON		*checks, *failing, *o, *c;
	double		 ms;
	size_t		 i, ran = 0;
	int		 rc, down = 0;
	char		 detail[128] = "";

	checks = cJSON_CreateObject();
	failing = cJSON_CreateArray();
	if (checks == NULL || failing == NULL)
		util_oom();
	for (i = 0; i < NCHECKS; i++) {
		if (only && strcmp(only, health_checks[i].name) != 0)
			continue;
		ran++;
		ms = 0;
		rc = health_checks[i].probe(r->app, &ms);
		c = cJSON_AddObjectToObject(checks, health_checks[i].name);
		cJSON_AddStringToObject(c, "status", rc == CB_OK ? "up" : "down");
		cJSON_AddNumberToObject(c, "latency_ms", (double)(long long)(ms * 1000) / 1000.0);
		if (rc != CB_OK) {
			cJSON_AddStringToObject(c, "error", errs_name(rc));
			cJSON_AddItemToArray(failing, cJSON_CreateString(health_checks[i].name));
			snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
			    "%s%s", down ? ", " : "", health_checks[i].name);
			down++;
		}
	}
	if (ran == 0) {
		cJSON_Delete(checks);
		cJSON_Delete(failing);
		return CB_ERR_NOT_FOUND;
	}
	resp_header(r, "Cache-Control", "no-store");
	if (down) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", "degraded");
		cJSON_AddItemToObject(o, "failing", failing);
		cJSON_AddItemToObject(o, "checks", checks);
		snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
		    " %s down", down > 1 ? "are" : "is");
		return route_fail_ext(r, CB_ERR_UNAVAILABLE, detail, o);
	}
	cJSON_Delete(failing);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddItemToObject(o, "checks", checks);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
health_all(struct req *r, const void *args)
{
	(void)args;
	return health_run(r, NULL);
}

static void
health_add_str(cJSON *o, const char *k, const struct db_res *res, int col)
{
	if (db_isnull(res, 0, col))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddStringToObject(o, k, db_val(res, 0, col));
}

static int
health_salesforce(struct req *r)
{
	struct db_res	*res = NULL;
	cJSON		*o, *p;
	int		 rc, paused;

	if ((rc = db_query(r->app->db, &res,
	    "SELECT to_char(s.last_mint_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), coalesce(s.mints, 0),"
	    "  s.last_outcome, s.last_error,"
	    "  to_char(s.last_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'),"
	    "  to_char(s.last_ok_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'),"
	    "  s.limit_used, s.limit_max, p.reason,"
	    "  to_char(p.until, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'),"
	    "  to_char(p.since, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), p.sink IS NOT NULL"
	    " FROM (SELECT 1) one"
	    " LEFT JOIN sink_status s ON s.sink = 'salesforce'"
	    " LEFT JOIN sink_pauses p ON p.sink = 'salesforce' AND p.until > now()", 0, NULL)) != CB_OK)
		return rc;
	paused = strcmp(db_val(res, 0, 11), "t") == 0;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", paused ? "paused" : "ok");
	health_add_str(o, "last_mint_at", res, 0);
	cJSON_AddNumberToObject(o, "mints", strtod(db_val(res, 0, 1), NULL));
	health_add_str(o, "last_outcome", res, 2);
	health_add_str(o, "last_error", res, 3);
	health_add_str(o, "last_at", res, 4);
	health_add_str(o, "last_ok_at", res, 5);
	if (!db_isnull(res, 0, 6) && !db_isnull(res, 0, 7)) {
		p = cJSON_AddObjectToObject(o, "api_usage");
		cJSON_AddNumberToObject(p, "used", strtod(db_val(res, 0, 6), NULL));
		cJSON_AddNumberToObject(p, "max", strtod(db_val(res, 0, 7), NULL));
	}
	cJSON_AddBoolToObject(o, "paused", paused);
	if (paused) {
		p = cJSON_AddObjectToObject(o, "pause");
		health_add_str(p, "reason", res, 8);
		health_add_str(p, "until", res, 9);
		health_add_str(p, "since", res, 10);
	}
	db_res_free(res);
	if (paused)
		return route_fail_ext(r, CB_ERR_UNAVAILABLE, "deliveries to Salesforce are paused", o);
	resp_json_nostore(r, 200, o);
	return CB_OK;
}

static int
health_one(struct req *r, const void *args)
{
	(void)args;
	if (strcmp(req_param(r, "component"), "salesforce") == 0)
		return health_salesforce(r);
	return health_run(r, req_param(r, "component"));
}

static const struct route health_routes[] = {
	{ .method = "GET", .pattern = "/api/health", .act = health_all },
	{ .method = "GET", .pattern = "/api/health/{component}", .act = health_one },
};

ROUTE_MAIN("health", health_routes)
