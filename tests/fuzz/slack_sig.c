/*
 * Fuzz target: Slack's signature headers (lib/slacksig, their field
 * table).  The input is "<X-Slack-Request-Timestamp>\n<X-Slack-Signature>\n<body>":
 * verification must refuse (saying why) or accept without reading out of
 * bounds, and an accepted signature must be the one slacksig_sign makes
 * for the same timestamp and body (the parser and the signer agree).  Seeds:
 * tests/fuzz/corpus/slack_sig/ (their secret: FUZZ_SECRET below).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errs.h"
#include "slacksig.h"

#define FUZZ_SECRET	"fuzz-signing-secret-0123456789ab"
#define FUZZ_NOW	1764547200	/* 2025-12-01: the seeds' timestamps are near it */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slacksig_secret	 sec = { FUZZ_SECRET, sizeof(FUZZ_SECRET) - 1 };
	char			*in, *ts, *sig, *body, *nl, mine[SLACKSIG_SIG_BUFSZ];
	const char		*why = NULL;
	int64_t			 t = 0;
	size_t			 blen;

	if (size > 4096 || (in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	ts = in;
	if ((nl = memchr(ts, '\n', size)) == NULL)
		goto out;
	*nl = '\0';
	sig = nl + 1;
	if ((nl = memchr(sig, '\n', size - (size_t)(sig - in))) == NULL)
		goto out;
	*nl = '\0';
	body = nl + 1;
	blen = size - (size_t)(body - in);
	if (slacksig_verify(&sec, 1, ts, sig, body, blen, FUZZ_NOW, &t, &why) == CB_OK) {
		/* Accepted: the signer makes the same signature. */
		if (slacksig_sign(&sec, t, body, blen, mine) != CB_OK ||
		    strcasecmp(mine, sig) != 0)
			abort();
	} else if (why == NULL)
		abort();
out:
	free(in);
	return 0;
}
