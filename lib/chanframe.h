/*
 * chanframe: what a tab (or a call feed) says over the channel, parsed
 * once at the boundary against field tables (docs/channel.md), as a pure
 * function: bytes in, a frame or the reason it is bad out.  The worker's
 * channel (worker/chan_msg.c) acts on the frame; the fuzz target
 * (tests/fuzz/chanframe.c) holds the parser to its rules.
 *
 *   ping     {"type":"ping"}                         any time
 *   auth     {"type":"auth","token":…,"last_seq":N}  a tab's first frame
 *   receipt  {"type":"receipt","seq":N,"status":"applied"|"failed","reason":…}
 *            a tab's, once it is authenticated
 *   other    any other type on a call feed: the feed reads root and type
 *
 * Before auth a tab's bad frame ends its connection, after it only gets an
 * error frame: the caller decides, from chanframe's why.  A frame holding
 * a tab token is wiped when it is freed.
 */
#ifndef CB_CHANFRAME_H
#define CB_CHANFRAME_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "jsonv.h"

#define CHANFRAME_REASON_MAX	200			/* receipt reason, bytes */
#define CHANFRAME_SEQ_MAX	9007199254740991LL	/* 2^53 - 1 */

/* Who is speaking: a tab before or after auth, or a call feed. */
enum chanframe_mode {
	CHANFRAME_TAB_NEW = 0,
	CHANFRAME_TAB_AUTHED,
	CHANFRAME_FEED
};

enum chanframe_kind {
	CHANFRAME_BAD = 0,
	CHANFRAME_PING,
	CHANFRAME_AUTH,
	CHANFRAME_RECEIPT,
	CHANFRAME_OTHER		/* a call feed's: root and type */
};

struct chanframe {
	enum chanframe_kind	 kind;
	cJSON			*root;		/* owned: chanframe_free */
	const char		*type;
	struct {
		const char	*token;
		long long	 last_seq;
	} auth;
	struct {
		long long	 seq;
		const char	*status;
		const char	*reason;	/* NULL when absent */
	} receipt;
	char			 why[256];	/* CHANFRAME_BAD: "field: reason" or a reason */
};

/* Parse one frame (binary: a binary WebSocket frame); the kind is returned. */
enum chanframe_kind chanframe_parse(const char *data, size_t len, int binary,
	    enum chanframe_mode, struct chanframe *);
/* Wipe a token the tree may hold, then free it. */
void	 chanframe_free(struct chanframe *);

#endif
