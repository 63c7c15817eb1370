/*
 * slackclick: a click on an approval message's button, as Slack sends it to
 * POST /api/v1/slack/interactions (CONTRACTS §4.2): a block_actions payload,
 * form-encoded as the one field `payload`, and the two signature headers
 * (lib/slacksig, v0).  Shared by the integration tests (test_approvals,
 * test_chaos) and the benchmark (tools/bench/cb-bench-tabs --approve), so
 * every client of the route builds the same bytes.  No Check calls: each
 * function reports running out of room, and the caller decides.
 */
#ifndef CB_TEST_SLACKCLICK_H
#define CB_TEST_SLACKCLICK_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Room for a click's body and for each of its two header lines. */
#define SLACKCLICK_BODY_MAX	8192u
#define SLACKCLICK_HDR_MAX	112u

/*
 * The form body "payload=<encoded JSON>" of user `slack_user` clicking
 * `action` (approve|deny) on the button whose value is `value` (the
 * message's "<approval id>:<hash>"), with the response_url
 * `<response_base>/actions/T000/1/<approval id>` and the action's
 * `action_ts` (NULL: "1.2"; a person clicking again makes another, so
 * another signature).  0, or -1 when it does not fit in outsz.
 */
int	 slackclick_body(const char *slack_user, const char *action, const char *value,
	    const char *response_base, const char *action_ts, char *out, size_t outsz);

/*
 * The headers "X-Slack-Request-Timestamp: <ts>" and "X-Slack-Signature:
 * v0=<hex>" for `body` sent at ts, signed with `secret`.  0, or -1 for a
 * secret slacksig refuses.
 */
int	 slackclick_headers(const char *secret, long long ts, const char *body, size_t len,
	    char ts_hdr[SLACKCLICK_HDR_MAX], char sig_hdr[SLACKCLICK_HDR_MAX]);

/*
 * The first string member "value" under j (a message's blocks: an
 * approval button's "<approval id>:<hash>"), or NULL.
 */
const char *slackclick_button_value(const cJSON *j);

#endif
