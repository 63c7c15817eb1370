/*
 * Fuzz target: phone normalisation (lib/phone), which reads the numbers
 * voice platforms and forms send.  Whatever the input: an accepted number
 * is E.164 ("+", 8 to 15 digits, no leading zero), normalising it again
 * gives it back, and its masked form keeps only the last four digits.
 * The first byte picks the default country code (none, 1, 44 or 353).
 * Seeds: tests/fuzz/corpus/phone/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "phone.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cc[] = { NULL, "1", "44", "353" };
	char	*in, out[PHONE_E164_BUFSZ], again[PHONE_E164_BUFSZ], masked[PHONE_E164_BUFSZ];
	size_t	 n, i;

	if (size < 1 || size > 256 || (in = malloc(size)) == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (phone_e164(in, cc[data[0] % 4], out) == CB_OK) {
		n = strlen(out);
		if (out[0] != '+' || n < 9 || n > PHONE_E164_MAX || out[1] == '0' ||
		    strspn(out + 1, "0123456789") != n - 1)
			abort();
		if (phone_e164(out, NULL, again) != CB_OK || strcmp(again, out) != 0)
			abort();
		phone_mask(out, masked);
		if (strlen(masked) != n || strcmp(masked + n - 4, out + n - 4) != 0)
			abort();
		for (i = 1; i + 4 < n; i++)
			if (masked[i] != '*')
				abort();
	}
	free(in);
	return 0;
}
