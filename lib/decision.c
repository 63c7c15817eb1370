/*
 * decision: see decision.h.
 */
#include "decision.h"

#include "app.h"
#include "errs.h"
#include "fail.h"

int
decision_take(struct req *r, struct approval_ask *q, struct approval_result *res)
{
	char	 why[200];
	int	 rc;

	q->trace = req_traceparent(r);
	rc = approval_decide(r->app->db, q, res, why, sizeof(why));
	if (rc == CB_ERR_NOT_FOUND || rc == CB_ERR_CONFLICT || rc == CB_ERR_GONE ||
	    rc == CB_ERR_UNPROCESSABLE)
		return route_fail(r, rc, why);
	if (rc == CB_OK)
		r->route_data = req_strdup(r, res->ctx_id);
	return rc;
}

void
decision_wake(struct req *r)
{
	if (r->route_data)
		approval_wake(r->app->kv, r->route_data);
}
