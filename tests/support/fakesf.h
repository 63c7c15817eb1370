/*
 * fakesf: integration-test helpers around delivery: the bundled fake
 * Salesforce's control endpoints (CB_FAKESF_URL) and waiting for an outbox
 * row to reach a state.
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
/* POST /__fake/api-usage: the org's API calls used so far (and, when > 0, its limit). */
void	 fakesf_api_usage(long used, long limit);
/*
 * Wait up to ms for the outbox row with this ref_id to reach `state`;
 * its attempts and last_error on success.  1 if it did.
 */
int	 outbox_wait(const char *ref, const char *state, int ms, long *attempts,
	    char *err, size_t errsz);

#endif
