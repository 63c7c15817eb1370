/*
 * httpc: see httpc.h.  One libcurl multi handle per struct httpc; one easy
 * handle per transfer, so no option can leak from one request to the next,
 * while the multi handle's connection cache keeps connections (and the
 * share handle TLS sessions) alive across transfers.
 *
 * The rules (internal addresses, allowlists, Retry-After) are lib/egress;
 * this file and httpc_setup.c (one transfer's options and callbacks) apply
 * them, and are the only ones that call libcurl.
 *
 * What this file guarantees beyond the header: a transfer's done callback
 * never runs inside httpc_start (a refusal found at start is queued and
 * delivered by the next httpc_run) nor inside httpc_do, runs exactly once,
 * and sees a response that lives only for the call; the guard looks at the
 * URL libcurl will actually use (the parsed CURLU is handed to the easy
 * handle), at every address libcurl opens a socket to, and once more at
 * the peer of the connection a request is about to be sent on (new or
 * reused); proxies named in the environment are ignored, since a proxy
 * would make the resolved address the proxy's and not the destination's.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "buf.h"
#include "egress.h"
#include "errs.h"
#include "httpc.h"
#include "httpc_int.h"
#include "log.h"
#include "util.h"

void
httpc_trace(struct httpc *h, const struct trace *t)
{
	if (t != NULL && trace_set(t))
		h->trace = *t;
	else
		memset(&h->trace, 0, sizeof(h->trace));
}

const char *
httpc_err_name(int err)
{
	switch (err) {
	case HTTPC_OK:		return "ok";
	case HTTPC_TIMEOUT:	return "timeout";
	case HTTPC_CONNECT:	return "connect";
	case HTTPC_DROPPED:	return "dropped";
	case HTTPC_TLS:		return "tls";
	case HTTPC_TOO_LARGE:	return "too_large";
	case HTTPC_EGRESS:	return "egress";
	case HTTPC_BAD_URL:	return "bad_url";
	case HTTPC_ABORTED:	return "aborted";
	default:		return "unknown";
	}
}

/* ---- the client ------------------------------------------------------- */

struct httpc *
httpc_new(const char *private_allow, const char *user_agent)
{
	struct httpc	*h = NULL;
	char		 bad[64];
	int		 ok = 0, global = 0;

	h = util_calloc(1, sizeof(*h));
	if (egress_private_parse(&h->priv, private_allow, bad, sizeof(bad))
	    != CB_OK) {
		log_kv(LOG_LVL_ERROR, "httpc_private_allow_invalid",
		    "entry", bad, "hint", "host:port, at most 64 entries",
		    NULL);
		goto out;
	}
	h->user_agent = util_strdup(user_agent && user_agent[0] ?
	    user_agent : HTTPC_USER_AGENT);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	global = 1;
	if ((h->multi = curl_multi_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL)
		util_oom();
	/* One thread owns the handle, so the share needs no lock callbacks. */
	if (curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		goto out;
	ok = 1;
out:
	if (!ok) {
		if (h->share != NULL)
			curl_share_cleanup(h->share);
		if (h->multi != NULL)
			curl_multi_cleanup(h->multi);
		if (global)
			curl_global_cleanup();
		egress_private_free(&h->priv);
		free(h->user_agent);
		free(h);
		return NULL;
	}
	return h;
}

static void
httpc_xfer_free(struct httpc_xfer *x)
{
	struct curl_slist	*i;
	size_t			 k;

	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	if (x->url != NULL)
		curl_url_cleanup(x->url);
	for (i = x->hdrs; i != NULL; i = i->next)
		if (i->data != NULL)
			sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(x->hdrs);
	if (x->body != NULL) {
		sodium_memzero(x->body, x->bodylen + 1);
		free(x->body);
	}
	for (k = 0; k < HTTPC_CAPTURE_MAX; k++)
		free(x->capture[k]);
	buf_wipe(&x->resp.body);
	free(x);
}

static void
httpc_unlink_active(struct httpc *h, struct httpc_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		h->active = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	h->nactive--;
}

/* An ended transfer: httpc_do's moves to its caller, the rest are queued. */
static void
httpc_queue_done(struct httpc *h, struct httpc_xfer *x)
{
	x->prev = x->next = NULL;
	if (x->sink != NULL) {
		/* Never NULL for the caller, even for an empty or failed answer. */
		buf_cstr(&x->resp.body);
		*x->sink = x->resp;
		buf_init(&x->resp.body, 0);	/* moved, not shared */
		*x->sink_done = 1;
		httpc_xfer_free(x);
		return;
	}
	if (h->done_tail != NULL)
		h->done_tail->next = x;
	else
		h->done_head = x;
	h->done_tail = x;
	h->ndone++;
}

/* Only printable ASCII reaches a message: it goes to logs. */
void
httpc_message(struct httpc_resp *r, const char *msg)
{
	size_t	 i;

	util_strlcpy(r->message, msg, sizeof(r->message));
	for (i = 0; r->message[i] != '\0'; i++)
		if ((unsigned char)r->message[i] < 0x20 ||
		    (unsigned char)r->message[i] >= 0x7f)
			r->message[i] = '?';
}

/* End a transfer without a usable answer: whatever was read is dropped. */
static void
httpc_fail(struct httpc_xfer *x, int err, const char *msg)
{
	x->resp.err = err;
	buf_wipe(&x->resp.body);
	httpc_message(&x->resp, msg);
	x->resp.elapsed_ms = util_now_ms() - x->t0;
}

static int
httpc_map(const struct httpc_xfer *x, CURLcode cc)
{
	if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED)
		return HTTPC_TOO_LARGE;
	if (x->egress_refused && (cc == CURLE_COULDNT_CONNECT ||
	    cc == CURLE_ABORTED_BY_CALLBACK))
		return HTTPC_EGRESS;
	switch (cc) {
	case CURLE_OK:
		return HTTPC_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTPC_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTPC_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return HTTPC_TLS;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return HTTPC_BAD_URL;
	default:
		/*
		 * RECV_ERROR, SEND_ERROR, GOT_NOTHING, PARTIAL_FILE, a weird
		 * reply, an HTTP/2 stream reset, and anything new: no usable
		 * answer came back, and another attempt may get one.
		 */
		return HTTPC_DROPPED;
	}
}

static void
httpc_finish(struct httpc_xfer *x, CURLcode cc)
{
	char	 msg[sizeof(x->resp.message)];
	long	 status = 0;
	int	 err;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	x->resp.status = status;
	/* A certificate refused, ours or theirs: no retry will fix it. */
	x->resp.tls_cert = cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
	    cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
	if ((err = httpc_map(x, cc)) == HTTPC_OK) {
		x->resp.err = HTTPC_OK;
		x->resp.elapsed_ms = util_now_ms() - x->t0;
		return;
	}
	if (err == HTTPC_EGRESS)
		snprintf(msg, sizeof(msg), "egress: %.160s resolved to the internal "
		    "address %s", x->hostport, x->refused_addr);
	else if (err == HTTPC_TOO_LARGE)
		snprintf(msg, sizeof(msg), "response over its cap of %zu bytes",
		    x->resp.body.max);
	else
		/* libcurl's messages name hosts and ports, never headers. */
		util_strlcpy(msg, x->errbuf[0] ? x->errbuf :
		    curl_easy_strerror(cc), sizeof(msg));
	httpc_fail(x, err, msg);
}

static int
httpc_start_x(struct httpc *h, const struct httpc_req *r, httpc_done_fn done,
    void *ud, struct httpc_resp *sink, int *sink_done)
{
	struct httpc_xfer	*x;
	CURLcode		 cc;
	CURLMcode		 mc;
	size_t			 i;
	int			 err;

	if (h == NULL || h->closing)
		return CB_ERR_UNAVAILABLE;
	if (httpc_check_req(r) != CB_OK)
		return CB_ERR_VALIDATION;
	x = util_calloc(1, sizeof(*x));
	x->h = h;
	x->trace = h->trace;
	x->done = done;
	x->ud = ud;
	x->sink = sink;
	x->sink_done = sink_done;
	x->t0 = util_now_ms();
	x->resp.retry_after_s = -1;
	buf_init(&x->resp.body, r->response_max ? r->response_max :
	    HTTPC_DEFAULT_RESPONSE_MAX);
	for (i = 0; r->capture[i] != NULL; i++)
		x->capture[i] = util_strdup(r->capture[i]);
	if ((err = httpc_target(x, r)) != HTTPC_OK) {
		x->resp.err = err;
		x->resp.elapsed_ms = util_now_ms() - x->t0;
		httpc_queue_done(h, x);
		return CB_OK;
	}
	if ((x->easy = curl_easy_init()) == NULL)
		util_oom();
	if ((cc = httpc_setup(x, r)) != CURLE_OK) {
		if (cc == CURLE_OUT_OF_MEMORY)
			util_oom();
		/* A libcurl that cannot restrict protocols, say: refuse. */
		httpc_fail(x, HTTPC_BAD_URL, curl_easy_strerror(cc));
		httpc_queue_done(h, x);
		return CB_OK;
	}
	if ((mc = curl_multi_add_handle(h->multi, x->easy)) != CURLM_OK) {
		if (mc == CURLM_OUT_OF_MEMORY)
			util_oom();
		/* Called from inside a libcurl callback: a bug of ours. */
		abort();
	}
	x->next = h->active;
	if (h->active != NULL)
		h->active->prev = x;
	h->active = x;
	h->nactive++;
	return CB_OK;
}

int
httpc_start(struct httpc *h, const struct httpc_req *r, httpc_done_fn done,
    void *ud)
{
	return httpc_start_x(h, r, done, ud, NULL, NULL);
}

/* ---- driving ---------------------------------------------------------- */

static void
httpc_collect(struct httpc *h)
{
	struct httpc_xfer	*x;
	CURLMsg			*m;
	CURL			*e;
	CURLcode		 cc;
	char			*p;
	int			 left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m dies with curl_multi_remove_handle: read it first. */
		e = m->easy_handle;
		cc = m->data.result;
		p = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &p);
		x = (struct httpc_xfer *)(void *)p;
		curl_multi_remove_handle(h->multi, e);
		httpc_unlink_active(h, x);
		httpc_finish(x, cc);
		httpc_queue_done(h, x);
	}
}

/*
 * Run the callbacks of ended transfers, each taken off the queue first so
 * a callback may start new transfers or drive the handle again.
 */
static void
httpc_dispatch(struct httpc *h)
{
	struct httpc_xfer	*x;

	while ((x = h->done_head) != NULL) {
		h->done_head = x->next;
		if (h->done_head == NULL)
			h->done_tail = NULL;
		h->ndone--;
		x->next = NULL;
		/* Never NULL for the callee, even for an empty or failed answer. */
		buf_cstr(&x->resp.body);
		if (x->done != NULL) {
			/*
			 * The callback works for the transfer's trace: what it
			 * logs and the calls it starts (a resend, the next step)
			 * carry it, then the caller's trace is back.
			 */
			struct trace	 saved = h->trace;

			httpc_trace(h, &x->trace);
			log_set_trace(x->trace.id);
			x->done(&x->resp, x->ud);
			httpc_trace(h, &saved);
			log_set_trace(saved.id);
		}
		httpc_xfer_free(x);
	}
}

static int
httpc_fd_ready(int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };

	/* A hung-up or invalid fd counts: the caller has to look at it. */
	return poll(&p, 1, 0) > 0 &&
	    (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static void
httpc_perform(struct httpc *h)
{
	int	 running;

	if (curl_multi_perform(h->multi, &running) == CURLM_OUT_OF_MEMORY)
		util_oom();
	httpc_collect(h);
}

int
httpc_run(struct httpc *h, int timeout_ms, int extra_fd, int *extra_ready)
{
	struct curl_waitfd	 w;
	double			 deadline, left;
	int			 ready = 0, nfds;

	if (extra_ready != NULL)
		*extra_ready = 0;
	if (h == NULL)
		return 0;
	deadline = util_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		httpc_perform(h);
		if (h->done_head != NULL || ready)
			break;
		if (h->nactive == 0 && extra_fd < 0)
			break;
		if ((left = deadline - util_now_ms()) <= 0)
			break;
		memset(&w, 0, sizeof(w));
		w.fd = extra_fd;
		w.events = CURL_WAIT_POLLIN;
		if (curl_multi_poll(h->multi, extra_fd >= 0 ? &w : NULL,
		    extra_fd >= 0 ? 1 : 0, (int)left + 1, &nfds) ==
		    CURLM_OUT_OF_MEMORY)
			util_oom();
		if (extra_fd >= 0 && httpc_fd_ready(extra_fd))
			ready = 1;
	}
	httpc_dispatch(h);
	if (extra_ready != NULL)
		*extra_ready = ready;
	return (int)(h->nactive + h->ndone);
}

size_t
httpc_in_flight(const struct httpc *h)
{
	return h != NULL ? h->nactive + h->ndone : 0;
}

void
httpc_abort_all(struct httpc *h)
{
	struct httpc_xfer	*x;

	if (h == NULL)
		return;
	h->closing = 1;
	while ((x = h->active) != NULL) {
		curl_multi_remove_handle(h->multi, x->easy);
		httpc_unlink_active(h, x);
		httpc_fail(x, HTTPC_ABORTED, "aborted before it ended");
		httpc_queue_done(h, x);
	}
	httpc_dispatch(h);
	h->closing = 0;
}

void
httpc_free(struct httpc *h)
{
	if (h == NULL)
		return;
	httpc_abort_all(h);
	/* Every easy handle is gone: the share and the multi may go too. */
	curl_multi_cleanup(h->multi);
	curl_share_cleanup(h->share);
	curl_global_cleanup();
	egress_private_free(&h->priv);
	free(h->user_agent);
	free(h);
}

void
httpc_do(struct httpc *h, const struct httpc_req *r, struct httpc_resp *out)
{
	int	 ended = 0, rc;

	memset(out, 0, sizeof(*out));
	buf_init(&out->body, 0);
	out->retry_after_s = -1;
	if ((rc = httpc_start_x(h, r, NULL, NULL, out, &ended)) != CB_OK) {
		out->err = HTTPC_BAD_URL;
		buf_cstr(&out->body);
		httpc_message(out, rc == CB_ERR_VALIDATION ?
		    "request refused before start: method, URL or headers" :
		    "no client, or the client is shutting down");
		return;
	}
	/*
	 * Drive all, dispatch none: a caller inside a callback (the engine
	 * minting on a 401, in a transaction) must not have a third transfer's
	 * callback run under its feet.  Those stay queued for the dispatch.
	 */
	while (!ended) {
		httpc_perform(h);
		if (!ended && curl_multi_poll(h->multi, NULL, 0, 1000, NULL) ==
		    CURLM_OUT_OF_MEMORY)
			util_oom();
	}
}

void
httpc_resp_free(struct httpc_resp *r)
{
	if (r == NULL)
		return;
	buf_wipe(&r->body);
}
