/*
 * alert: see alert.h.
 */
#include <stddef.h>

#include "alert.h"
#include "errs.h"
#include "log.h"

int
alert_raise(struct db *db, const char *org_id, const char *kind, const char *dedupe_key,
    const char *text, const char *detail_json, int *raised)
{
	struct db_res	*res = NULL;
	int		 rc;

	if (raised)
		*raised = 0;
	/* One statement: the alert and its message commit together or not at all. */
	rc = db_query_once(db, &res,
	    "WITH a AS (INSERT INTO alerts (org_id, kind, dedupe_key, detail)"
	    "   VALUES ($1::bigint, $2, $3, coalesce($5::jsonb, '{}'))"
	    "   ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, org_id)"
	    " INSERT INTO outbox (org_id, kind, payload)"
	    " SELECT a.org_id, 'slack.alert', jsonb_build_object('alert_id', a.id, 'kind', $2::text,"
	    "   'text', $4::text) FROM a RETURNING id", 5,
	    (const char *[]){ org_id, kind, dedupe_key, text, detail_json });
	if (rc != CB_OK) {
		log_kv(LOG_LVL_ERROR, "alert_failed", "kind", kind, "error", errs_name(rc), NULL);
		return rc;
	}
	if (db_rows(res) == 1) {
		if (raised)
			*raised = 1;
		log_kv(LOG_LVL_WARN, "alert_raised", "kind", kind, "dedupe_key", dedupe_key,
		    "outbox_id", db_val(res, 0, 0), NULL);
	}
	db_res_free(res);
	return CB_OK;
}
