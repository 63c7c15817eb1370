/*
 * GET /metrics
 *
 * Who: the operator's Prometheus, on the operator listener only (nginx
 * serves the `operator` rate class on its loopback operator port, never on
 * the public ones); with CB_METRICS_TOKEN set, only with
 * `Authorization: Bearer <that token>`.
 * Idempotency-Key: not needed (a read).
 * Answers: 200 text/plain; version=0.0.4: the Prometheus text exposition of
 *          every process of the node (lib/metrics.h: every segment of
 *          CB_METRICS_DIR, the slots of dead children included) and the
 *          outbox's depth read from Postgres now (one statement over the
 *          partial indexes of the unfinished states);
 *          401 without the token when one is configured; 405.
 *          Postgres away: the exposition without the outbox gauges, and
 *          cb_outbox_scrape_ok 0.
 */
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "keyring.h"
#include "metrics.h"
#include "route.h"
#include "util.h"

/* The configured token, compared in constant time; no token: the listener is the guard. */
static int
metrics_authorize(struct req *r)
{
	const char	*want = r->app->settings.metrics_token, *tok;

	if (want == NULL || *want == '\0')
		return CB_OK;
	if ((tok = req_bearer(r)) == NULL || !util_streq_ct(tok, want))
		return route_fail(r, CB_ERR_UNAUTHENTICATED, "send the metrics bearer token");
	return CB_OK;
}

/*
 * Unfinished outbox rows by sink (the kind's first part) and state, and the
 * age of each sink's oldest pending row: only pending, running and dead
 * rows are read (each state has its partial index), never the done ones.
 */
static void
metrics_outbox(struct req *r, struct buf *b)
{
	static const char *const states[] = { "pending", "running", "dead" };
	struct metrics_label	 lab[2];
	struct db_res		*res = NULL;
	size_t			 i, k;
	int			 ok;

	ok = db_query(r->app->db, &res,
	    "SELECT split_part(kind, '.', 1), state, count(*),"
	    " coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
	    " FROM outbox WHERE state IN ('pending', 'running', 'dead')"
	    " GROUP BY 1, 2 ORDER BY 1, 2", 0, NULL) == CB_OK;
	metrics_family_head(b, "cb_outbox_scrape_ok", "gauge",
	    "1 when the outbox gauges below were read from Postgres in this scrape.");
	metrics_sample(b, "cb_outbox_scrape_ok", NULL, 0, ok);
	metrics_family_head(b, "cb_outbox_rows", "gauge",
	    "Unfinished outbox rows now, by sink and state (pending, running, dead).");
	lab[0].name = "sink";
	lab[1].name = "state";
	/* Every sink and state, zero included: an alert can compare against 0. */
	for (k = 0; k < 3; k++) {
		static const char *const sinks[] = { "salesforce", "slack", "webhook" };
		size_t s;

		for (s = 0; s < 3; s++) {
			double n = 0;

			for (i = 0; ok && i < db_rows(res); i++)
				if (strcmp(db_val(res, i, 0), sinks[s]) == 0 &&
				    strcmp(db_val(res, i, 1), states[k]) == 0)
					n = strtod(db_val(res, i, 2), NULL);
			lab[0].value = sinks[s];
			lab[1].value = states[k];
			metrics_sample(b, "cb_outbox_rows", lab, 2, n);
		}
	}
	metrics_family_head(b, "cb_outbox_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest pending outbox row by sink, seconds (0 when none is pending).");
	for (i = 0; ok && i < db_rows(res); i++) {
		if (strcmp(db_val(res, i, 1), "pending") != 0)
			continue;
		lab[0].value = db_val(res, i, 0);
		metrics_sample(b, "cb_outbox_oldest_pending_age_seconds", lab, 1,
		    strtod(db_val(res, i, 3), NULL));
	}
	db_res_free(res);
}

/*
 * The age of each key in use: every purpose's current data key (sealing,
 * per region where keys are tagged with one) and the active JWT signing
 * key.  The KeyRotationDue alert (ops/prometheus) fires past 90 days;
 * `cb-admin key-ages` prints the same ages.
 */
static void
metrics_key_ages(struct req *r, struct buf *b)
{
	struct metrics_label	 lab[3];
	struct db_res		*res = NULL;
	size_t			 i;

	if (db_query(r->app->db, &res, KEYRING_AGES_SQL, 0, NULL) != CB_OK)
		return;
	metrics_family_head(b, "cb_key_age_seconds", "gauge",
	    "Age of each key in use, seconds: the current data key of each purpose (and region),"
	    " and the active signing key.");
	lab[0].name = "kind";
	lab[1].name = "purpose";
	lab[2].name = "region";
	for (i = 0; i < db_rows(res); i++) {
		lab[0].value = db_val(res, i, 0);
		lab[1].value = db_val(res, i, 1);
		lab[2].value = db_val(res, i, 2);
		metrics_sample(b, "cb_key_age_seconds", lab, 3, strtod(db_val(res, i, 4), NULL));
	}
	db_res_free(res);
}

static int
metrics_get(struct req *r, const void *args)
{
	struct metrics_view	*v;
	struct buf		 b;

	(void)args;
	buf_init(&b, REQ_RESP_MAX - 65536);
	v = metrics_collect(r->app->settings.metrics_dir);
	metrics_expose(&b, v);
	metrics_view_free(v);
	metrics_outbox(r, &b);
	metrics_key_ages(r, &b);
	resp_header(r, "Cache-Control", "no-store");
	resp_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_free(&b);
	return CB_OK;
}

static const struct route metrics_routes[] = {
	{ .method = "GET", .pattern = "/metrics", .act = metrics_get,
	  .authorize = metrics_authorize },
};

ROUTE_MAIN("metrics", metrics_routes, .rate_class = RATE_OPERATOR)
