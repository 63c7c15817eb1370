/*
 * decision: an approval decided by a request, written once for the two
 * routes that take decisions (cgi/approvals.c, a person through the API;
 * cgi/slack.c, a person's click in Slack).  The decision itself is
 * lib/approval.h's; this is what a route does around it: the request's
 * traceparent goes with it, its refusals are recorded on the request with
 * the reason approval_decide gives (the one way to fail, fail.h), and the
 * decided command's tab is kept for the route's after hook to wake.
 */
#ifndef CB_DECISION_H
#define CB_DECISION_H

#include "approval.h"
#include "req.h"

/*
 * approval_decide for `r` (q->trace is set to its traceparent).  CB_OK with
 * *res filled and r->route_data the command's tab (its ctx id); a refusal
 * (CB_ERR_NOT_FOUND, CB_ERR_CONFLICT, CB_ERR_GONE, CB_ERR_UNPROCESSABLE)
 * recorded with route_fail and returned; any other error returned bare.
 */
int	 decision_take(struct req *r, struct approval_ask *q, struct approval_result *res)
	    __attribute__((warn_unused_result));
/* The after hook's wake-up: the tab of the decision decision_take took, if any. */
void	 decision_wake(struct req *r);

#endif
