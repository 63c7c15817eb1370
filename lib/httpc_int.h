/*
 * httpc_int: what the two files of the HTTP client share, and nothing else
 * may include (outside lib/httpc*.c, use httpc.h).
 *
 *   httpc.c		the client: the multi handle, starting, driving and
 *			ending transfers, each done callback run exactly once
 *   httpc_setup.c	one transfer's easy handle: the request checked, the
 *			URL parsed, the options, the callbacks and the guard
 */
#ifndef CB_HTTPC_INT_H
#define CB_HTTPC_INT_H

#include <netinet/in.h>

#include <curl/curl.h>

#include "egress.h"
#include "httpc.h"
#include "trace.h"

#define HTTPC_URL_MAX		8192u
#define HTTPC_HEADERS_IN_MAX	(256u * 1024u)	/* response header bytes */
#define HTTPC_USER_AGENT	"context-broker/1"

struct httpc_xfer {
	struct trace		 trace;		/* the caller's at start (httpc_trace) */
	struct httpc		*h;
	struct httpc_xfer	*prev, *next;	/* active list, or the done queue */
	CURL			*easy;		/* NULL when refused before libcurl */
	CURLU			*url;		/* must outlive easy: libcurl reads it */
	struct curl_slist	*hdrs;		/* may hold secrets: wiped */
	char			*body;		/* may hold secrets: wiped */
	size_t			 bodylen;
	char			*capture[HTTPC_CAPTURE_MAX];
	char			 hostport[EGRESS_HOSTPORT_MAX];
	char			 refused_addr[INET6_ADDRSTRLEN];
	int			 private_ok;
	int			 egress_refused;
	int			 too_large;
	size_t			 hdr_bytes;
	httpc_done_fn		 done;
	void			*ud;
	struct httpc_resp	*sink;		/* httpc_do: the result moves here */
	int			*sink_done;
	double			 t0;
	struct httpc_resp	 resp;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct httpc {
	CURLM			*multi;
	CURLSH			*share;
	struct egress_private	 priv;		/* "host:port", canonical */
	char			*user_agent;
	struct httpc_xfer	*active;	/* in libcurl */
	struct httpc_xfer	*done_head, *done_tail;	/* ended, callback not run */
	size_t			 nactive, ndone;
	int			 closing;	/* aborting: no new transfer starts */
	struct trace		 trace;		/* httpc_trace: sent as traceparent */
};

/* Only printable ASCII reaches a message: it goes to logs. */
void	 httpc_message(struct httpc_resp *, const char *msg);
/* The request is one httpc may start (method, URL, headers, captures). */
int	 httpc_check_req(const struct httpc_req *);
/* Parse the URL into x->url and check its scheme and host: HTTPC_OK or why not. */
int	 httpc_target(struct httpc_xfer *, const struct httpc_req *);
/* Every option of x->easy for r. */
CURLcode httpc_setup(struct httpc_xfer *, const struct httpc_req *);

#endif
