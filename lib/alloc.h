/*
 * alloc: the one door through which the broker's own code asks the C
 * library for memory (util_malloc and its kin, lib/buf, lib/req, and cJSON
 * through the hooks lib/jsonv installs), so that a test can make any one
 * allocation fail, as curl's torture test does: run once counting, then
 * once per allocation with that one failing (tests/unit/test_allocfail).
 *
 * These calls never abort: they return NULL and let the caller decide.
 * The policy (docs/allocation.md): a caller that holds only its own,
 * bounded memory aborts through util_oom (the supervisor restarts the
 * process); the JSON reader (jv_parse) and the request body, whose size
 * an outsider chooses up to a route's cap, fail softly with CB_ERR_NOMEM.
 *
 * The torture switch is for tests only: nothing in the service arms it,
 * and unarmed it costs one branch.  Not thread-safe (no process of the
 * broker allocates from two threads).
 */
#ifndef CB_ALLOC_H
#define CB_ALLOC_H

#include <stddef.h>

void	*alloc_try(size_t);
void	*alloc_try_calloc(size_t, size_t);
void	*alloc_try_realloc(void *, size_t);

/*
 * Tests: from now on count every allocation made through this module;
 * with fail_at > 0, the fail_at-th (counted from 1) returns NULL, and only
 * that one.  alloc_torture_off() stops counting and failing.
 */
void		 alloc_torture(unsigned long fail_at);
void		 alloc_torture_off(void);
/* Allocations counted since alloc_torture(); how many of them failed. */
unsigned long	 alloc_torture_count(void);
unsigned long	 alloc_torture_failed(void);

#endif
