/*
 * Fuzz target: the channel's frames (lib/chanframe), what every tab and
 * call feed sends over its WebSocket.  The first byte picks who speaks (a
 * tab before auth, after it, a call feed) and whether the frame came as
 * binary.  Whatever the frame: a bad one says why; an auth only comes
 * from a tab before auth, with a token of 1 to 128 bytes and a position
 * within 0..2^53-1; a receipt only from a tab after auth, with a seq of
 * at least 1, "applied" or "failed", a reason of at most 200 bytes; a
 * feed's other messages only from a feed; nothing binary is taken.
 * Seeds: tests/fuzz/corpus/chanframe/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chanframe.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chanframe	 f;
	enum chanframe_mode	 mode;
	enum chanframe_kind	 k;
	int			 binary;
	size_t			 n;

	if (size < 1 || size > 8192)
		return 0;
	mode = (enum chanframe_mode)(data[0] % 3);
	binary = (data[0] & 0x80) != 0;
	k = chanframe_parse((const char *)data + 1, size - 1, binary, mode, &f);
	if (k != f.kind || (binary && k != CHANFRAME_BAD))
		abort();
	switch (k) {
	case CHANFRAME_BAD:
		if (f.why[0] == '\0')
			abort();
		break;
	case CHANFRAME_PING:
		break;
	case CHANFRAME_AUTH:
		n = f.auth.token ? strlen(f.auth.token) : 0;
		if (mode != CHANFRAME_TAB_NEW || n < 1 || n > 128 || f.auth.last_seq < 0 ||
		    f.auth.last_seq > CHANFRAME_SEQ_MAX)
			abort();
		break;
	case CHANFRAME_RECEIPT:
		if (mode != CHANFRAME_TAB_AUTHED || f.receipt.seq < 1 ||
		    f.receipt.seq > CHANFRAME_SEQ_MAX || f.receipt.status == NULL ||
		    (strcmp(f.receipt.status, "applied") != 0 && strcmp(f.receipt.status, "failed") != 0) ||
		    (f.receipt.reason && strlen(f.receipt.reason) > CHANFRAME_REASON_MAX))
			abort();
		break;
	case CHANFRAME_OTHER:
		if (mode != CHANFRAME_FEED || f.type == NULL || f.root == NULL)
			abort();
		break;
	default:
		abort();
	}
	chanframe_free(&f);
	return 0;
}
