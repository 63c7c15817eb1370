/*
 * sink_sf_lookup: the contact-lookup step of the Salesforce sink
 * (worker/sink_salesforce.c), run on a batch's rows before their
 * Collections upsert is built.  Only that sink includes it.
 *
 * A row whose clear payload carries
 *   "lookup": {"object":"Contact","by":"Phone",
 *              "from_field":"Caller_Phone__c","set_field":"Contact__c"}
 * has the phone in its sealed field map at from_field.  The step finds the
 * Contact with that Phone (the contact cache, lib/ccache.h, first; then one
 * query per number and tenant over the sink's shared httpc, all of a
 * batch's queries in flight at once, rows of the batch with the same number
 * sharing one) and sets set_field to its Id, or leaves set_field out of the
 * map when no contact (or more than one) has the number.  An org out of
 * API calls (REQUEST_LIMIT_EXCEEDED) pauses the sink, as an upsert does.
 *
 * What a failed lookup does to its row:
 *   retryable (5xx, timeout, REQUEST_LIMIT_EXCEEDED, a garbled answer,
 *   401 after one re-authentication)   the row is retried, not upserted
 *   configuration (TLS, egress)         the row is given back
 *   permanent (a phone that is not E.164, a missing or non-text from_field,
 *   MALFORMED_QUERY, INVALID_FIELD, other 4xx)
 *                                       the record is delivered unlinked and
 *                                       the reason logged (phone masked)
 * A lookup spec that is not the shape above is the producer's bug: the row
 * is dead-lettered with the reason.
 */
#ifndef CB_SINK_SF_LOOKUP_H
#define CB_SINK_SF_LOOKUP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "sink.h"

struct kv;
struct sfl;

/* After a 401: a fresh token into auth ("Authorization: ...") and base.  0 or -1. */
typedef int	(*sfl_reauth_fn)(void *ud, struct buf *auth, struct buf *base);
/* Every lookup of the batch has ended; the rows' maps are final. */
typedef void	(*sfl_done_fn)(void *ud);

/* For a batch of at most rows rows; scope: the connection's pause and status
 * name ("salesforce" or "salesforce:<org>"), living as long as the sfl. */
struct sfl	*sfl_new(struct sink_env *, struct kv *, const char *scope, size_t rows);
void		 sfl_free(struct sfl *);

/*
 * Plan the lookup of one row: lookup is the payload's "lookup" member,
 * fields the row's opened field map (borrowed until done; the step edits
 * set_field in it).  A cache hit or a permanent failure is applied at
 * once; a spec that is not valid sets the row's outcome (dead).
 */
void		 sfl_plan(struct sfl *, struct sink_row *, const cJSON *lookup,
		    cJSON *fields);
/* Lookups planned that need a query. */
size_t		 sfl_pending(const struct sfl *);
/*
 * Start every pending query with this bearer header and REST base; done
 * runs once when all have ended: from an httpc callback, or from inside
 * sfl_run when none could start.
 */
void		 sfl_run(struct sfl *, const char *auth, const char *base,
		    sfl_reauth_fn, sfl_done_fn, void *ud);

#endif
