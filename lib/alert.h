/*
 * alert: raise an operators' alert.  One row in alerts, keyed by a dedupe
 * key, and one outbox row of kind "slack.alert" that the slack sink posts,
 * both in one statement: an alert whose key exists already inserts nothing,
 * so an incident makes one message, not a storm.  The key carries the
 * window (a day, an hour) that makes a later incident a new alert.
 *
 * text is what operators read: it must not hold personal data or secrets
 * (ids, counts, codes and the action to take).
 */
#ifndef CB_ALERT_H
#define CB_ALERT_H

#include "db.h"

/*
 * org_id: the tenant's id, or NULL for an alert about the broker itself.
 * detail_json: a JSON object (or NULL).  CB_OK whether or not it was new;
 * *raised (may be NULL) says whether it was.
 */
int	 alert_raise(struct db *, const char *org_id, const char *kind,
	    const char *dedupe_key, const char *text, const char *detail_json,
	    int *raised);

#endif
