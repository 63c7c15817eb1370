/*
 * fakesf: integration-test helpers around the bundled fake Salesforce
 * (tests/fakes/cb-fake-sf, CB_FAKESF_URL): its control endpoints (counters,
 * faults, API usage, token revocation) and the records it holds, for suites
 * that assert what was (or was not) delivered.  Faults are global to the
 * fake: set them, make the rows you need, clear them.
 */
#ifndef CB_TEST_FAKESF_H
#define CB_TEST_FAKESF_H

#include <stddef.h>

#include "http.h"

/* A request to the fake (path like "/__fake/stats"). */
void	 fakesf_call(const char *method, const char *path, const char *body, struct http_resp *);
/* One counter of GET /__fake/stats. */
long	 fakesf_stat(const char *name);
/* POST /__fake/faults with this JSON; asserts 201. */
void	 fakesf_fault(const char *json);
/* DELETE /__fake/faults: every fault gone (asserts 2xx). */
void	 fakesf_clear(void);
/* POST /__fake/api-usage: the org's API calls used so far (and, when > 0, its limit). */
void	 fakesf_api_usage(long used, long limit);
/* POST /__fake/revoke-tokens: every token the fake issued stops working. */
void	 fakesf_revoke_tokens(void);
/*
 * How many records the fake holds for this external id (a submission id),
 * and the upserts of the last one into *upserts (may be NULL).
 */
int	 fakesf_records(const char *ext, long *upserts);
/* The same, and the last one's fields as JSON text into fields ("" if none). */
int	 fakesf_record_fields(const char *ext, char *fields, size_t fieldsz);
/*
 * Of these external ids, how many have no record and how many more than
 * one (one listing for all of them).
 */
void	 fakesf_count(char (*ids)[40], int n, int *missing, int *dupes);
/*
 * The same, and in *reupserted how many of them have a record upserted
 * more than once: exactly-once in one listing, however many records the
 * fake holds from earlier suites.
 */
void	 fakesf_count_once(char (*ids)[40], int n, int *missing, int *dupes, int *reupserted);

#endif
