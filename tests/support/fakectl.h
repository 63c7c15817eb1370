/*
 * fakectl: the client side of the control plane both bundled fakes share
 * (tests/fakes: cb-fake-sf at CB_FAKESF_URL, cb-fake-hooks at
 * CB_FAKEHOOKS_URL): requests under /__fake/, counters, and the fault
 * queue.  fakesf.h and fakehooks.h wrap it per fake.
 */
#ifndef CB_TEST_FAKECTL_H
#define CB_TEST_FAKECTL_H

#include "http.h"

/* A request to the fake whose base URL is in the environment variable `env`. */
void	 fakectl_call(const char *env, const char *method, const char *path, const char *body,
	    struct http_resp *);
/* One counter of GET /__fake/stats. */
long	 fakectl_stat(const char *env, const char *name);
/* POST /__fake/faults with a fault as JSON; asserts 201. */
void	 fakectl_fault(const char *env, const char *json);
/* DELETE /__fake/faults: every queued fault gone (asserts 2xx). */
void	 fakectl_clear(const char *env);
/* POST `path` with `body`; asserts 200. */
void	 fakectl_post(const char *env, const char *path, const char *body);

#endif
