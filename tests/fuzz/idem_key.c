/*
 * Fuzz target: the Idempotency-Key header parser (lib/idem, idem_parse),
 * which reads a header every writing client sends.  Whatever the input:
 * an accepted key is 1 to 255 visible ASCII characters without a quote or
 * backslash (sf-string escapes are not taken, so no key needs one), and
 * sent again as an sf-string ("key") it parses to itself.  The fuzzer's
 * first find: a bare token with a backslash was taken, the same key
 * quoted was not (corpus/idem_key/regress-bare-backslash).
 * Seeds: tests/fuzz/corpus/idem_key/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "idem.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*in, key[256], quoted[600], again[256];
	size_t	 i, j = 0, n;

	if (size > 600 || (in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (idem_parse(in, key, sizeof(key)) == CB_OK) {
		n = strlen(key);
		if (n < 1 || n > 255)
			abort();
		for (i = 0; i < n; i++)
			if (key[i] < 0x21 || key[i] > 0x7e || key[i] == '"' || key[i] == '\\')
				abort();
		quoted[j++] = '"';
		for (i = 0; i < n; i++)
			quoted[j++] = key[i];
		quoted[j++] = '"';
		quoted[j] = '\0';
		if (idem_parse(quoted, again, sizeof(again)) != CB_OK || strcmp(again, key) != 0)
			abort();
	}
	free(in);
	return 0;
}
