/*
 * routespec: does routes.tab say what the responders declare?
 *
 * routes.tab gives each route "method path binary procs body_max
 * rate_class"; each responder prints its descriptors with `--routes` as
 * "METHOD PATTERN BODY_MAX RATE_CLASS AUTH GRANT" lines (lib/route.h).  The
 * comparison reports, one line each: a table route that its binary does not
 * declare, a declared route the table lacks, and a route whose body cap or
 * rate class differ.  Malformed lines on either side are disagreements too.
 *
 * The auth check reads the descriptors alone: every route under /api/
 * declares who may call it unless it is on the caller's list of public
 * routes, every route under /api/v1/admin/ authenticates a person and
 * names the roles it needs, and no route names a kind lib/route.c lacks.
 */
#ifndef CB_TEST_ROUTESPEC_H
#define CB_TEST_ROUTESPEC_H

#include <stddef.h>

#include "buf.h"

/* One responder's --routes output. */
struct routespec_bin {
	const char	*binary;
	const char	*printed;
};

/* The number of disagreements; each is a line appended to `report`. */
int	 routespec_compare(const char *table, const struct routespec_bin *, size_t nbins,
	    struct buf *report);

/*
 * The number of routes that break the auth rules above, each a line in
 * `report`.  public_routes: "METHOD PATTERN" strings, NULL-terminated.
 */
int	 routespec_check_auth(const struct routespec_bin *, size_t nbins,
	    const char *const *public_routes, struct buf *report);

#endif
