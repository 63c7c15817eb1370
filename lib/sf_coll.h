/*
 * sf_coll: the sObject Collections upsert (CONTRACTS §3.4), the call the
 * delivery engine makes: PATCH {base}/composite/sobjects/{SObject}/{ExtId}
 * with {"allOrNone":false,"records":[...]} (up to 200 records of one
 * object), answered 200 with one result per record, in request order, even
 * when some records failed.  This module builds the body and reads the
 * answer; the transfer itself is the caller's (lib/httpc).
 *
 * Each record is the field map with "attributes":{"type":SObject} and the
 * external id field set to its value (unlike the single-record upsert, the
 * collection carries the external id in the body).  An "Id" in the map is
 * dropped: the external id decides which record is written.
 *
 * Per-record errors carry statusCode (not errorCode).  UNABLE_TO_LOCK_ROW
 * and the other transient codes are SF_RETRY; everything else is
 * SF_PERMANENT for that record only.  Field values may echo personal data:
 * the bodies built here are wiped by the caller (buf_wipe).
 */
#ifndef CB_SF_COLL_H
#define CB_SF_COLL_H

#include <stddef.h>

#include "buf.h"
#include "sf.h"

#define SF_COLL_MAX	200	/* records per call: Salesforce's limit */

/* Start a body: {"allOrNone":false,"records":[ */
int	 sf_coll_begin(struct buf *body);
/*
 * Append one record.  CB_ERR_VALIDATION if fields_json is not a JSON object
 * or a name is not an API name (nothing appended then).
 */
int	 sf_coll_add(struct buf *body, const char *sobject, const char *ext_field,
	    const char *ext_value, const char *fields_json);
/* Close the body after `n` records. */
int	 sf_coll_end(struct buf *body);

/*
 * The results of a 200 answer into out[0..n-1]: kind SF_CREATED/SF_UPDATED
 * with id, or SF_RETRY/SF_PERMANENT with error_code (statusCode) and message.
 * CB_ERR_UPSTREAM if the answer is not an array of exactly n results (then
 * out is untouched: the caller retries the whole call).
 */
int	 sf_coll_results(const char *body, size_t len, struct sf_result *out, size_t n);

/* SF_RETRY for a transient per-record statusCode, else SF_PERMANENT. */
int	 sf_coll_error_kind(const char *status_code);

/*
 * A whole-call answer other than 200 into r: 5xx, 408, 429 and
 * REQUEST_LIMIT_EXCEEDED (403) are SF_RETRY; 401 is SF_RETRY with
 * error_code INVALID_SESSION_ID (re-mint); other statuses SF_PERMANENT.
 * error_code and message from the error array when there is one.
 */
void	 sf_coll_call_error(long status, const char *body, size_t len, struct sf_result *r);

#endif
