/*
 * Fuzz target: Standard Webhooks verification (lib/stdwh), which reads the
 * webhook-id, webhook-timestamp and webhook-signature headers and body of
 * every call event a voice platform posts.  The input is
 * "<id>\n<timestamp>\n<signature header>\n<body>", verified at a fixed
 * "now" with one fixed key.  Whatever the input: verification refuses
 * saying why, or accepts only when the header lists the signature
 * stdwh_sign makes for that id, timestamp and body; and a header made by
 * stdwh_header for the same message always verifies (signer and verifier
 * agree).  Seeds: tests/fuzz/corpus/stdwh/ (key: SECRET below; now:
 * NOW; their signatures were made with them).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "stdwh.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define NOW	1700000000

/* The next line of [*p, end) into a NUL-terminated copy (NULL past the end). */
static char *
next_line(const char **p, const char *end)
{
	const char	*nl;
	char		*s;

	if (*p > end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL)
		nl = end;
	s = util_strndup(*p, (size_t)(nl - *p));
	*p = nl + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data, *end = p + size, *why = NULL;
	const struct stdwh_key	*keys[1];
	struct stdwh_key	 k;
	struct buf		 h;
	char			*id, *ts, *sig, sig1[STDWH_SIG_BUFSZ], canon[24];
	long long		 t;
	int			 rc;

	if (size > 4096 || stdwh_key_parse(SECRET, &k) != CB_OK)
		return 0;
	keys[0] = &k;
	id = next_line(&p, end);
	ts = next_line(&p, end);
	sig = next_line(&p, end);
	if (id && ts && sig) {
		const char	*body = p <= end ? p : end;
		size_t		 blen = (size_t)(end - body);

		rc = stdwh_verify(keys, 1, id, ts, sig, body, blen, NOW, NULL, &why);
		if (why == NULL)
			abort();
		if (rc == CB_OK) {
			if (util_parse_ll(ts, 0, INT64_MAX, &t) != CB_OK ||
			    stdwh_sign(&k, id, t, body, blen, sig1) != CB_OK || strstr(sig, sig1) == NULL)
				abort();
		}
		/*
		 * Signed here, for the same message: it verifies.  (Only for a
		 * timestamp in its canonical spelling: what is signed is the
		 * header's text, "0017..." and "17..." are two messages.)
		 */
		if (util_parse_ll(ts, NOW - 60, NOW + 60, &t) == CB_OK &&
		    snprintf(canon, sizeof(canon), "%lld", t) > 0 && strcmp(canon, ts) == 0) {
			buf_init(&h, 4096);
			if (stdwh_header(keys, 1, id, t, body, blen, &h) == CB_OK &&
			    stdwh_verify(keys, 1, id, ts, h.data, body, blen, NOW, NULL, &why) != CB_OK)
				abort();
			buf_free(&h);
		}
	}
	free(id);
	free(ts);
	free(sig);
	stdwh_key_wipe(&k);
	return 0;
}
