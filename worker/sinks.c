/*
 * sinks: the table of the delivery engine's destinations.  Adding a sink is
 * one file (worker/sink_<name>.c, see sink.h) and one line here.
 */
#include <stddef.h>

#include "sink.h"

extern const struct sink sink_salesforce;
extern const struct sink sink_slack;
extern const struct sink sink_webhook;

const struct sink *const sinks[] = {
	&sink_salesforce,
	&sink_slack,
	&sink_webhook,
};

const size_t sinks_n = sizeof(sinks) / sizeof(sinks[0]);
