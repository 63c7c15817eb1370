/*
 * GET /api/health
 * GET /api/health/{component}      component: postgres | redis
 *
 * Who: anyone (no credentials; it reveals only up/down and latency).
 * Idempotency-Key: not applicable (read-only).
 * Answers: 200 {"status":"ok","checks":{...}} when every dependency is up;
 *          503 problem+json naming the failing parts, with the same checks;
 *          404 for an unknown component; 405 for any method but GET/HEAD.
 */
#include <stdio.h>
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
		resp_problem_ext(r, CB_ERR_UNAVAILABLE, detail, o);
		cJSON_Delete(o);
		return CB_OK;
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

static int
health_one(struct req *r, const void *args)
{
	(void)args;
	return health_run(r, req_param(r, "component"));
}

static const struct route health_routes[] = {
	{ .method = "GET", .pattern = "/api/health", .act = health_all },
	{ .method = "GET", .pattern = "/api/health/{component}", .act = health_one },
};

static const struct responder health = {
	.name = "health",
	.routes = health_routes,
	.nroutes = sizeof(health_routes) / sizeof(health_routes[0]),
};

int
main(int argc, char **argv)
{
	return route_main(argc, argv, &health);
}
