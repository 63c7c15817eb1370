/*
 * ws: a minimal RFC 6455 client for the integration tests, over a plain TCP
 * socket to nginx (the host and port of CB_HTTP_URL).
 *
 * It does the opening handshake (random Sec-WebSocket-Key, the 101 status
 * and Sec-WebSocket-Accept checked), sends masked frames, reads unmasked
 * ones (text, continuation, close; a ping is answered with a pong as it is
 * read), waits with a timeout (poll), and can drop the connection abruptly
 * (no close frame), which is what a crashed tab or a lost network does.
 * Messages are capped (WS_MAX_MSG); everything is malloc'd and freed by
 * ws_free, so the tests stay clean under LeakSanitizer.
 */
#ifndef CB_TEST_WS_H
#define CB_TEST_WS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define WS_MAX_MSG	(1u << 20)

/* ws_recv results. */
#define WS_MSG		0	/* a text message arrived */
#define WS_TIMEOUT	1	/* nothing within the time given */
#define WS_CLOSED	2	/* a close frame arrived, or the socket closed */
#define WS_ERROR	(-1)	/* protocol or I/O error */

/* Close code recorded when the socket ends without a close frame. */
#define WS_CODE_ABNORMAL	1006

struct ws {
	int		 fd;
	int		 http_status;	/* status of the handshake answer */
	char		 protocol[64];	/* Sec-WebSocket-Protocol answered */
	unsigned char	*in;		/* bytes read, not yet parsed */
	size_t		 in_len, in_cap;
	char		*msg;		/* message being reassembled */
	size_t		 msg_len;
	int		 msg_open;
	int		 closed;	/* no more frames will come */
	int		 close_code;	/* from the peer's close frame, or 1006 */
	char		 close_reason[128];
};

/*
 * Open a WebSocket to `path` through nginx (CB_HTTP_URL) offering the
 * cb.tab.v1 subprotocol (cb.calls.v1 on /ws/calls, the call feed).  0 on a 101 answer with a valid Accept; otherwise
 * -1 with w->http_status set to the status seen (0 if none) and the socket
 * closed.  `extra` is a NULL-terminated list of "Name: value" header lines.
 */
int	 ws_open(struct ws *, const char *path, const char *const *extra);
/* ws_open until it succeeds or `ms` have passed (for restarts). */
int	 ws_open_retry(struct ws *, const char *path, int ms);

/* One frame, masked; fin 0 starts or continues a fragmented message. */
int	 ws_send_frame(struct ws *, int opcode, int fin, const void *, size_t);
int	 ws_send_text(struct ws *, const char *);
int	 ws_send_textn(struct ws *, const char *, size_t);
/* printf into a text frame. */
int	 ws_sendf(struct ws *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Wait up to `timeout_ms` for the next text message; on WS_MSG, *msg (NUL
 * terminated, the caller frees it) and *len are set.
 */
int	 ws_recv(struct ws *, int timeout_ms, char **msg, size_t *len);
/* The next text message as JSON, NULL on timeout, close or junk. */
cJSON	*ws_next(struct ws *, int timeout_ms);
/* The next message whose "type" is `type`, skipping others; NULL if none in time. */
cJSON	*ws_next_type(struct ws *, const char *type, int timeout_ms);
/* Read until the peer's close (answered) or the socket's end; the code, or -1 on timeout. */
int	 ws_wait_close(struct ws *, int timeout_ms);

/* A graceful close: send a close frame with `code`, then end the socket. */
void	 ws_close(struct ws *, int code);
/* An abrupt end: the socket goes away without a close frame. */
void	 ws_drop(struct ws *);
/* Release everything (drops the socket if still open). */
void	 ws_free(struct ws *);

/* Members of a message: a string (NULL if absent), a number (-1 if absent). */
const char *ws_str(const cJSON *, const char *member);
long long ws_num(const cJSON *, const char *member);

#endif
