/*
 * routespec: does routes.tab say what the responders declare?
 *
 * routes.tab gives each route "method path binary procs body_max
 * rate_class"; each responder prints its descriptors with `--routes` as
 * "METHOD PATTERN BODY_MAX RATE_CLASS" lines (lib/route.h).  The comparison
 * reports, one line each: a table route that its binary does not declare, a
 * declared route the table lacks, and a route whose body cap or rate class
 * differ.  Malformed lines on either side are disagreements too.
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

#endif
