/*
 * Fuzz target: Slack's answer to conversations.history, as the slack sink
 * reads it before posting a retried message again (lib/slackhist).
 * Whatever the body: the outcome is one of the four; a refusal's code is
 * a short snake_case word and the error is empty otherwise; a message is
 * found only in a body that holds the row's id and the event type.  Seeds:
 * tests/fuzz/corpus/slack_history/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slackhist.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 error[SLACKHIST_ERROR_MAX], *copy;
	size_t	 n;
	int	 rc;

	if (size > 65536)
		return 0;
	rc = slackhist_find((const char *)data, size, "4711", error);
	n = strlen(error);
	if (rc < SLACKHIST_FOUND || rc > SLACKHIST_BAD || n >= SLACKHIST_ERROR_MAX)
		abort();
	if (rc == SLACKHIST_REFUSED &&
	    (n == 0 || strspn(error, "abcdefghijklmnopqrstuvwxyz0123456789_") != n))
		abort();
	if (rc != SLACKHIST_REFUSED && n != 0)
		abort();
	if (rc == SLACKHIST_FOUND) {
		if ((copy = malloc(size + 1)) == NULL)
			abort();
		memcpy(copy, data, size);
		copy[size] = '\0';
		/* A NUL inside would end the JSON first: the id is before it. */
		if (strstr(copy, "4711") == NULL || strstr(copy, SLACKHIST_EVENT_TYPE) == NULL)
			abort();
		free(copy);
	}
	return 0;
}
