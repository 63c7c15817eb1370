/*
 * events: see events.h.
 */
#include <string.h>

#include "db.h"
#include "errs.h"
#include "events.h"

const char *const events_types[] = {
	EVENTS_SUBMISSION_CREATED,
	EVENTS_SUBMISSION_DELIVERED,
	EVENTS_SUBMISSION_DEAD,
	EVENTS_COMMAND_APPLIED,
	EVENTS_COMMAND_FAILED,
	EVENTS_COMMAND_TIMEOUT,
	NULL
};

const size_t events_types_n = sizeof(events_types) / sizeof(events_types[0]) - 1;

int
events_type_known(const char *type)
{
	size_t	 i;

	if (type == NULL)
		return 0;
	for (i = 0; i < events_types_n; i++)
		if (strcmp(events_types[i], type) == 0)
			return 1;
	return 0;
}

int
events_emit(struct db *db, const char *org_id, const char *type, const char *ref_id,
    const char *source_id, const char *data_json, long long *n)
{
	int	 rc;

	if (n != NULL)
		*n = 0;
	if (!events_type_known(type) || org_id == NULL || *org_id == '\0' || ref_id == NULL ||
	    source_id == NULL || *source_id == '\0')
		return CB_ERR_VALIDATION;
	rc = db_exec(db, EVENTS_INSERT_FROM("(SELECT $1::bigint AS org_id, $2::text AS type,"
	    "   $3::uuid AS ref_id, $4::text AS source_id,"
	    "   coalesce($5::jsonb, '{}'::jsonb) AS data, NULL::text AS trace)"), 5,
	    (const char *[]){ org_id, type, ref_id, source_id, data_json });
	if (rc == CB_OK && n != NULL)
		*n = db_affected(db);
	return rc;
}
