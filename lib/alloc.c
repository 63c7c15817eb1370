/*
 * alloc: see alloc.h.  A failure injected by the torture switch looks to
 * the caller exactly as the C library's own NULL would.
 */
#include <stdlib.h>

#include "alloc.h"

static int		 armed;
static unsigned long	 counted, fail_at, failed;

/* 1 when this allocation is the one a test asked to fail. */
static int
alloc_fails_now(void)
{
	if (!armed)
		return 0;
	if (++counted != fail_at)
		return 0;
	failed++;
	return 1;
}

void *
alloc_try(size_t n)
{
	return alloc_fails_now() ? NULL : malloc(n ? n : 1);
}

void *
alloc_try_calloc(size_t n, size_t sz)
{
	return alloc_fails_now() ? NULL : calloc(n ? n : 1, sz ? sz : 1);
}

void *
alloc_try_realloc(void *p, size_t n)
{
	return alloc_fails_now() ? NULL : realloc(p, n ? n : 1);
}

void
alloc_torture(unsigned long at)
{
	armed = 1;
	counted = failed = 0;
	fail_at = at;
}

void
alloc_torture_off(void)
{
	armed = 0;
	fail_at = 0;
}

unsigned long
alloc_torture_count(void)
{
	return counted;
}

unsigned long
alloc_torture_failed(void)
{
	return failed;
}
