/*
 * sf_query: the contact lookup by phone through Salesforce's query resource
 * (GET {instance}/services/data/{version}/query?q=<SOQL>), for linking a call
 * activity to the contact who called.
 *
 * The SOQL is one fixed statement, SELECT Id FROM Contact WHERE Phone =
 * '<value>' LIMIT 2, and the value enters it only through soql_quote
 * (lib/soql.h): quotes, backslashes and control characters are escaped or
 * refused, so no phone text can change the statement.  The lookup itself
 * takes the number in E.164 (lib/phone.h): anything else is refused before
 * any network use (SF_PERMANENT, CB_BAD_PHONE).
 *
 * The answer is checked against field tables ({totalSize, done, records}, a
 * record {attributes {type, url}, Id}); anything else is CB_BAD_RESPONSE
 * (SF_RETRY, as a garbled Collections answer is).  One match gives its Id;
 * none or two (an ambiguous number: the broker never guesses which person
 * called) give "" with kind SF_FOUND.  Errors sort as every Salesforce call
 * does (sf.h): retryable, permanent (MALFORMED_QUERY, INVALID_FIELD,
 * INVALID_TYPE, other 4xx), configuration.
 *
 * The phone and the answer are personal data: neither is ever logged.
 */
#ifndef CB_SF_QUERY_H
#define CB_SF_QUERY_H

#include <stddef.h>

struct buf;
struct httpc_resp;
struct sf_client;
struct sf_result;

/* How many matches the lookup asks for: two tell "one" from "several". */
#define SF_QUERY_LIMIT		2
/* The query resource's records a lookup answer may carry at most. */
#define SF_QUERY_RECORDS_MAX	SF_QUERY_LIMIT

/* The SOQL for a contact whose Phone is exactly value (quoted). */
int	 sf_contact_soql(struct buf *, const char *value)
	    __attribute__((warn_unused_result));

/* base ("{instance}/services/data/{version}") + "/query?q=" + soql, encoded. */
int	 sf_query_url(struct buf *, const char *base, const char *soql)
	    __attribute__((warn_unused_result));

/*
 * Sort an answer of the query resource into out: SF_FOUND with the one
 * match's Id in out->id ("" for no match or several; error_code
 * CB_AMBIGUOUS for several), or an error kind as sf.h says.  Returns the
 * cb_err code that goes with it (CB_OK for SF_FOUND).
 */
int	 sf_query_answer(const struct httpc_resp *, struct sf_result *out);

/*
 * The whole lookup of one number through the client (its token, one
 * re-authentication on a 401): phone must already be E.164; a value that
 * is not is SF_PERMANENT CB_BAD_PHONE with nothing sent.  For callers that
 * may wait (the CLI, tests); the worker drives the same request itself over
 * its shared httpc (sf_bearer, sf_contact_soql, sf_query_url,
 * sf_query_answer).
 */
int	 sf_contact_by_phone(struct sf_client *, const char *phone,
	    struct sf_result *out);

/*
 * The lookup of an exact Phone value, whatever it holds (quoted, never
 * checked as a number): what sf_contact_by_phone sends after its check.
 * For tests that prove the quoting end to end.
 */
int	 sf_contact_by_value(struct sf_client *, const char *value,
	    struct sf_result *out);

#endif
