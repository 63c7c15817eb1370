/*
 * Fuzz target: Salesforce's answer to the contact lookup query
 * (lib/sf_query: sf_query_answer sorts the status and JSON body into a
 * result).  The first byte picks the status (200, 400, 401, 404, 429, 500,
 * 503 or 302), the rest is the body.  Whatever the answer: a found
 * contact's id is a Salesforce id (15 or 18 letters and digits), nothing
 * found or several found leave it empty, the error code is [A-Za-z0-9_]
 * only, and the message holds no control character.  Seeds:
 * tests/fuzz/corpus/sf_query/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "httpc.h"
#include "sf.h"
#include "sf_query.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long	 statuses[] = { 200, 400, 401, 404, 429, 500, 503, 302 };
	struct httpc_resp	 h;
	struct sf_result	 r;
	size_t			 n, i;
	int			 rc;

	if (size < 1 || size > 65536)
		return 0;
	memset(&h, 0, sizeof(h));
	h.status = statuses[data[0] % 8];
	h.retry_after_s = -1;
	buf_init(&h.body, 1 << 20);
	if (buf_append(&h.body, data + 1, size - 1) != CB_OK)
		abort();
	memset(&r, 0, sizeof(r));
	rc = sf_query_answer(&h, &r);
	n = strlen(r.id);
	if (rc == CB_OK && n != 0 && n != 15 && n != 18)
		abort();
	if (rc == CB_OK && strspn(r.id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != n)
		abort();
	if (rc != CB_OK && n != 0)
		abort();
	if (strspn(r.error_code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(r.error_code))
		abort();
	for (i = 0; r.message[i] != '\0'; i++)
		if ((unsigned char)r.message[i] < 0x20)
			abort();
	buf_free(&h.body);
	return 0;
}
