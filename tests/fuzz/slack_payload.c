/*
 * Fuzz target: the body Slack posts when a person clicks an approval
 * button (lib/slackpay: the form-encoded `payload` field, then the
 * block_actions JSON against its field tables).  Any input must end in
 * CB_OK or a named refusal, with nothing leaked or overrun; an accepted
 * one must carry an approval UUID, a 64-character hash and a verdict.
 * Seeds: tests/fuzz/corpus/slack_payload/.  Built and run by `make fuzz`
 * and tests/scripts/fuzz.sh (the Makefile's pattern rule for tests/fuzz/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "slackpay.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slackpay	 p;
	const char	*field = NULL, *why = NULL;

	if (size > SLACKPAY_BODY_MAX)
		return 0;
	if (slackpay_parse((const char *)data, size, &p, &field, &why) == CB_OK) {
		if (!util_uuid_ok(p.approval) || strlen(p.hash) != APPROVAL_HASH_HEX ||
		    p.slack_user == NULL || p.response_url == NULL ||
		    (p.verdict != APPROVAL_APPROVE && p.verdict != APPROVAL_DENY))
			abort();
	} else if (why == NULL)
		abort();
	slackpay_free(&p);
	return 0;
}
