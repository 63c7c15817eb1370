/*
 * slackpay: the body Slack posts to POST /api/v1/slack/interactions when a
 * person clicks an approval message's button (CONTRACTS §4.2), parsed
 * once, strictly, against field tables: the form (application/
 * x-www-form-urlencoded, the one field `payload`), then the block_actions
 * payload (docs/approvals.md lists its members), its user and its one
 * action.  A member outside the tables, a missing one or a malformed one
 * is refused, named.  No request, no database: the route (cgi/slack.c)
 * and the fuzz target (tests/fuzz/slack_payload.c) call the same code.
 */
#ifndef CB_SLACKPAY_H
#define CB_SLACKPAY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "approval.h"

#define SLACKPAY_BODY_MAX	65536

struct slackpay {
	const char		*approval;	/* the approval id (a UUID) */
	char			 hash[APPROVAL_HASH_HEX + 1];
	const char		*slack_user;	/* the clicking Slack member */
	const char		*response_url;	/* not checked against a prefix here */
	enum approval_verdict	 verdict;
	/* What the strings point into: slackpay_free releases them. */
	char			*arena;
	cJSON			*doc;
	/* A refusal's field and reason, when they are not static text. */
	char			 err_field[64];
	char			 err_why[160];
};

/*
 * Parse `body` into *p.  CB_OK; else CB_ERR_VALIDATION with *field (the
 * member at fault, may be NULL) and *why.  Either way slackpay_free(p)
 * releases what was kept.
 */
int	 slackpay_parse(const char *body, size_t len, struct slackpay *p, const char **field,
	    const char **why) __attribute__((warn_unused_result));
void	 slackpay_free(struct slackpay *);

#endif
