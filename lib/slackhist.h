/*
 * slackhist: Slack's answer to conversations.history, read for one thing:
 * does a message in it carry the metadata the slack sink posts a message
 * with (worker/sink_slack.c: event_type SLACKHIST_EVENT_TYPE, and
 * event_payload.outbox_id the outbox row's id)?
 *
 * No field table: Slack adds members to its answers and messages freely
 * (blocks, team, bot_profile, ...), and a strict table would refuse a
 * good answer.  Only the members named here are read, each checked for
 * its type; everything else is ignored.  At most SLACKHIST_MESSAGES_MAX
 * messages are looked at: the sink asks for that many (limit), so more
 * is not Slack's answer to it.  The fuzz target is tests/fuzz/slack_history.c.
 */
#ifndef CB_SLACKHIST_H
#define CB_SLACKHIST_H

#include <stddef.h>

#define SLACKHIST_EVENT_TYPE	"cb_outbox_row"
/* Messages one history read asks for and looks at, back to the row's creation. */
#define SLACKHIST_MESSAGES_MAX	200
/* Slack's error codes are short snake_case words. */
#define SLACKHIST_ERROR_MAX	64

enum slackhist_outcome {
	SLACKHIST_FOUND,	/* {"ok":true}, and a message with that id */
	SLACKHIST_ABSENT,	/* {"ok":true}, and none */
	SLACKHIST_REFUSED,	/* {"ok":false,"error":...}: error holds it */
	SLACKHIST_BAD		/* not JSON, not an object, no boolean ok */
};

/*
 * Sort the answer body (len bytes, not NUL-terminated) for the row
 * outbox_id.  With SLACKHIST_REFUSED, error (at least SLACKHIST_ERROR_MAX
 * bytes) holds Slack's code: [a-z0-9_] only, "unknown_error" for anything
 * else or none.  error is "" otherwise.
 */
int	 slackhist_find(const char *body, size_t len, const char *outbox_id, char *error);

#endif
