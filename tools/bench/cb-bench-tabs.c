/*
 * cb-bench-tabs: agent-to-tab latency under load, for `make bench`.
 *
 *   cb-bench-tabs --form FORM_ID --key API_KEY [--tabs 100] [--rate 2000]
 *                 [--seconds 10] [--senders 64] [--idle 200] [--idle-gap-ms 5]
 *                 [--drain-ms 10000] [--window 2]
 *
 * Everything goes through nginx at CB_HTTP_URL (plain http://host:port),
 * as a browser and an agent would.  It opens --tabs contexts
 * (POST /api/v1/contexts) and one WebSocket per tab on /ws/ctx/{ctx_ref}
 * (tests/support/ws.c), authenticates each (auth frame, waits for ready),
 * then runs two phases (--window: the policy's max_in_flight, the channel's
 * window per tab, used only to tell when a command queued behind it):
 *
 *   idle   --idle commands one at a time, each sent --idle-gap-ms after the
 *          previous one's 202 and frame have both arrived, round robin over
 *          the tabs: the latency of a channel with nothing queued (first,
 *          so that nothing of the load phase is still being worked off).
 *   load   commands offered open-loop at --rate per second for --seconds,
 *          round robin over the tabs: command i is due at t0 + i/rate
 *          whatever happened to the earlier ones, and goes out on the first
 *          idle one of --senders keep-alive HTTP connections
 *          (POST /api/v1/contexts/{ctx}/commands, Bearer API key).  When
 *          every sender is busy it waits: its send lag (send - due) is
 *          reported, so an offered rate the client could not hold shows.
 *
 * Each tab answers every command frame at once with an "applied" receipt,
 * as the browser does, so the channel's window keeps moving.  For each
 * command it records the send, the 202 (its seq) and the frame of that seq
 * on its tab; the latency reported as the target is 202 -> frame (a frame
 * that beats its 202 counts as 0 and is counted as "early"); send -> frame
 * is reported beside it.  A command still without a frame --drain-ms after
 * the last 202 is "missing", and counts in the percentiles as later than
 * any frame that came (printed "lost" when a percentile falls on one).
 * When the stack cannot take the offered rate, the load phase stops
 * offering 30 s after its last due time: the rest are "unsent".
 *
 * --approve 1 runs, instead of both, a third phase on a form whose policy
 * holds set_field for a person's approval (docs/approvals.md):
 *
 *   approve  commands offered open-loop at --rate for --seconds as in load,
 *          each answered 202 pending_approval; a poller reads the fake
 *          Slack's messages (GET CB_FAKEHOOKS_URL/__fake/messages?since=,
 *          every --poll-ms) and, for each approval message, clicks Approve
 *          as Slack does: the button's value, signed with
 *          CB_SLACK_SIGNING_SECRET as Slack member --slack-user
 *          (tests/support/slackclick), POST /api/v1/slack/interactions on a
 *          free sender.  Reported: the accept (send -> 202: the approval row
 *          exists, it commits with the command), the creation (send -> the
 *          message's arrival at the fake, its received_at, both wall clock)
 *          and the decision (the click's send -> the command's frame on the
 *          tab), each p50/p95/p99/max.
 *
 * Output: key=value lines on stdout (what scripts/bench.sh parses), the
 * progress and any failure on stderr.  Exit 0 when the phases ran (whatever
 * the figures), 1 when the setup failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "util.h"
#include "ws.h"

#define TABS_MAX	1000
#define SENDERS_MAX	512
#define HTTP_IN_MAX	65536
/* The approve phase's poller reads many Slack messages at once. */
#define POLL_IN_MAX	(8u << 20)
#define HTTP_OUT_MAX	(SLACKCLICK_BODY_MAX + 1024)
#define SETUP_MS	10000
/* The load phase stops offering this long after its last due time. */
#define LOAD_OVERRUN_MS	30000.0
/* status of a command the load phase gave up sending */
#define CMD_UNSENT	(-3)

struct cmd {
	double		 t_due, t_sent, t_202, t_frame;
	long long	 seq;		/* from the 202; 0 until then */
	int		 status;	/* HTTP status; 0 unanswered, -1 I/O error */
	int		 tab;
	int		 window_wait;	/* 2+ earlier commands of its tab not framed at its 202 */
	/* The approve phase: */
	char		 id[40];	/* the command's id (the 202) */
	char		 value[112];	/* its message's button value, "<approval>:<hash>" */
	double		 w_sent, w_msg;	/* wall clock ms: sent, its message at the fake */
	double		 t_click, t_clicked;
	int		 click_status;	/* 0 unanswered, -1 I/O error */
};

struct tab {
	struct ws	 w;
	char		 ctx[40];
	char		 token[160];
	int		 dead;
	/* By seq: the command that got it, and when its frame came. */
	struct cmd	**cmd_at;
	double		*frame_at;
	size_t		 nseq;
	long long	 accepted, framed;
};

enum snd_kind { SND_COMMAND, SND_CLICK, SND_POLL };

struct sender {
	int		 fd;
	const char	*host;
	int		 port;
	struct cmd	*c;		/* in flight, or NULL */
	enum snd_kind	 kind;		/* of what is in flight */
	int		 busy;		/* the poller: a request in flight */
	char		 out[HTTP_OUT_MAX];
	size_t		 out_len, out_off;
	char		*in;		/* in_cap + 1 bytes */
	size_t		 in_len, in_cap;
	int		 reconnects;
};

struct bench {
	const char	*form, *key;
	char		 host[64];
	int		 port;
	int		 ntabs, nsenders, rate, seconds, nidle, idle_gap_ms, drain_ms, window;
	struct tab	*tabs;
	struct sender	*snd;
	long long	 nonce;
	long long	 frames_unknown, channel_errors, http_errors, reconnects;
	/* The running phase: commands answered, and those finished (framed or refused). */
	int		 answered, finished;
	/* --approve: the fake Slack, the signing secret, the clicking member. */
	int		 approve, poll_ms;
	char		 fhost[64];
	int		 fport;
	const char	*fake_url, *secret, *slack_user;
	struct sender	 poll;
	long long	 msg_since, clicks_failed, msgs_unknown;
	double		 poll_at;
	struct cmd	**clickq;	/* messages seen, not clicked yet */
	int		 nclickq;
	struct cmd	*cmds;		/* the running phase's */
	int		 ncmds;
};

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("cb-bench-tabs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ------------------------------------------------------------ HTTP senders */

static int
snd_connect(struct bench *b, struct sender *s)
{
	struct sockaddr_in	 sa;
	int			 one = 1;

	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)(s->port ? s->port : b->port));
	if (inet_pton(AF_INET, s->host ? s->host : b->host, &sa.sin_addr) != 1 ||
	    connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	s->in_len = 0;
	s->out_len = s->out_off = 0;
	return 0;
}

static void
snd_close(struct sender *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * Queue one request (headers: whole lines, each ended by CRLF; NULL for a
 * JSON body with no credentials); 0, or -1 when it does not fit.
 */
static int
snd_request_h(struct sender *s, const char *method, const char *path, const char *headers,
    const char *body)
{
	int	 n;

	n = snprintf(s->out, sizeof(s->out), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "%sContent-Length: %zu\r\n\r\n%s", method, path,
	    headers ? headers : "Content-Type: application/json\r\n", strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(s->out))
		return -1;
	s->out_len = (size_t)n;
	s->out_off = 0;
	return 0;
}

/* A JSON request, with the agent's API key when auth is not NULL. */
static int
snd_request(struct sender *s, const char *method, const char *path, const char *auth,
    const char *body)
{
	char	 h[512];

	if (auth == NULL)
		return snd_request_h(s, method, path, NULL, body);
	if ((size_t)snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n"
	    "Content-Type: application/json\r\n", auth) >= sizeof(h))
		return -1;
	return snd_request_h(s, method, path, h, body);
}

/* Write what the socket takes: 0 (maybe partly), -1 on error. */
static int
snd_flush(struct sender *s)
{
	ssize_t	 w;

	while (s->out_off < s->out_len) {
		w = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		s->out_off += (size_t)w;
	}
	return 0;
}

/*
 * One complete response at the start of s->in?  1 with *status, *body,
 * *blen and *used (its bytes, head included); 0 when more bytes are needed;
 * -1 when it cannot be parsed (no Content-Length, too large).  *close is
 * set when the server said Connection: close.
 */
static int
http_parse(struct sender *s, int *status, char **body, size_t *blen, size_t *used,
    int *close_)
{
	char		*end, *p, *line;
	long		 clen = -1;
	size_t		 hlen;

	s->in[s->in_len] = '\0';
	if ((end = strstr(s->in, "\r\n\r\n")) == NULL)
		return s->in_len >= s->in_cap ? -1 : 0;
	hlen = (size_t)(end - s->in) + 4;
	if (sscanf(s->in, "HTTP/1.%*d %d", status) != 1)
		return -1;
	*close_ = 0;
	for (line = strstr(s->in, "\r\n") + 2; line < end; line = p + 2) {
		p = strstr(line, "\r\n");
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close") != NULL &&
		    strstr(line, "close") < p)
			*close_ = 1;
	}
	if (clen < 0 || (size_t)clen > s->in_cap - hlen)
		return -1;
	if (s->in_len < hlen + (size_t)clen)
		return 0;
	*body = s->in + hlen;
	*blen = (size_t)clen;
	*used = hlen + (size_t)clen;
	return 1;
}

static void
snd_consume(struct sender *s, size_t n)
{
	memmove(s->in, s->in + n, s->in_len - n);
	s->in_len -= n;
}

/* Read what is there: 0, or -1 on EOF/error. */
static int
snd_read(struct sender *s)
{
	ssize_t	 r;

	for (;;) {
		if (s->in_len >= s->in_cap)
			return -1;
		r = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -1;
		s->in_len += (size_t)r;
	}
}

/* A blocking round trip for the setup: the status, the body (caller frees). */
static int
http_once(struct bench *b, struct sender *s, const char *method, const char *path,
    const char *auth, const char *body, char **out)
{
	struct pollfd	 pfd;
	double		 deadline = util_now_ms() + SETUP_MS;
	char		*rb;
	size_t		 used, blen;
	int		 st, cl, rc;

	*out = NULL;
	if (s->fd < 0 && snd_connect(b, s) != 0)
		return -1;
	if (snd_request(s, method, path, auth, body) != 0)
		return -1;
	for (;;) {
		if (snd_flush(s) != 0)
			return -1;
		if ((rc = http_parse(s, &st, &rb, &blen, &used, &cl)) < 0)
			return -1;
		if (rc == 1)
			break;
		pfd.fd = s->fd;
		pfd.events = POLLIN | (s->out_off < s->out_len ? POLLOUT : 0);
		pfd.revents = 0;
		if (util_now_ms() > deadline || poll(&pfd, 1, 100) < 0 ||
		    ((pfd.revents & POLLIN) && snd_read(s) != 0))
			return -1;
	}
	*out = util_strndup(rb, blen);
	snd_consume(s, used);
	if (cl)
		snd_close(s);
	return st;
}

/* ------------------------------------------------------------ tabs */

static void
tab_grow(struct tab *t, long long seq)
{
	size_t	 n = t->nseq ? t->nseq : 256;

	while ((long long)n <= seq)
		n *= 2;
	if (n == t->nseq)
		return;
	t->cmd_at = realloc(t->cmd_at, n * sizeof(*t->cmd_at));
	t->frame_at = realloc(t->frame_at, n * sizeof(*t->frame_at));
	if (t->cmd_at == NULL || t->frame_at == NULL)
		util_oom();
	memset(t->cmd_at + t->nseq, 0, (n - t->nseq) * sizeof(*t->cmd_at));
	memset(t->frame_at + t->nseq, 0, (n - t->nseq) * sizeof(*t->frame_at));
	t->nseq = n;
}

static void
tabs_open(struct bench *b)
{
	char		 body[256], path[128], *resp = NULL;
	struct sender	*s = &b->snd[0];
	const char	*v;
	cJSON		*j;
	int		 i, st;

	snprintf(body, sizeof(body), "{\"form_id\":\"%s\"}", b->form);
	for (i = 0; i < b->ntabs; i++) {
		struct tab *t = &b->tabs[i];

		st = http_once(b, s, "POST", "/api/v1/contexts", NULL, body, &resp);
		if (st != 201 || (j = cJSON_Parse(resp)) == NULL)
			die("POST /api/v1/contexts answered %d: %.200s", st, resp ? resp : "");
		if ((v = ws_str(j, "ctx_ref")) == NULL || strlen(v) >= sizeof(t->ctx))
			die("no ctx_ref in %.200s", resp);
		util_strlcpy(t->ctx, v, sizeof(t->ctx));
		if ((v = ws_str(j, "tab_token")) == NULL || strlen(v) >= sizeof(t->token))
			die("no tab_token in %.200s", resp);
		util_strlcpy(t->token, v, sizeof(t->token));
		cJSON_Delete(j);
		free(resp);
		resp = NULL;
	}
	for (i = 0; i < b->ntabs; i++) {
		struct tab *t = &b->tabs[i];

		snprintf(path, sizeof(path), "/ws/ctx/%s", t->ctx);
		if (ws_open(&t->w, path, NULL) != 0)
			die("tab %d: WebSocket upgrade answered %d", i, t->w.http_status);
		if (ws_sendf(&t->w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", t->token) != 0)
			die("tab %d: cannot send auth", i);
	}
	for (i = 0; i < b->ntabs; i++) {
		if ((j = ws_next_type(&b->tabs[i].w, "ready", SETUP_MS)) == NULL)
			die("tab %d: no ready frame after auth", i);
		cJSON_Delete(j);
		tab_grow(&b->tabs[i], 1);
	}
}

/* A command frame of seq on tab t arrived at `now`. */
static void
tab_frame(struct bench *b, struct tab *t, long long seq, double now)
{
	struct cmd	*c;

	if (seq <= 0 || seq > (1LL << 24)) {
		b->frames_unknown++;
		return;
	}
	tab_grow(t, seq);
	if (t->frame_at[seq] != 0)
		return;			/* a resend: the first arrival counts */
	t->frame_at[seq] = now;
	t->framed++;
	if ((c = t->cmd_at[seq]) != NULL && c->t_frame == 0) {
		c->t_frame = now;
		b->finished++;
	}
}

/*
 * Is there something for ws_recv to return without waiting: a whole frame
 * already buffered, or bytes on the socket?  (ws_recv with no time left
 * still polls for a millisecond; a loop over a hundred tabs must not.)
 */
static int
tab_ready(struct tab *t)
{
	const unsigned char	*p = t->w.in;
	struct pollfd		 pfd = { t->w.fd, POLLIN, 0 };
	size_t			 h = 2, i;
	unsigned long long	 len;

	if (t->w.in_len >= 2) {
		len = p[1] & 0x7f;
		if (len == 126) {
			h = 4;
			len = t->w.in_len >= 4 ? (unsigned long long)p[2] << 8 | p[3] : ~0ULL;
		} else if (len == 127) {
			h = 10;
			if (t->w.in_len >= 10)
				for (len = 0, i = 0; i < 8; i++)
					len = len << 8 | p[2 + i];
			else
				len = ~0ULL;
		}
		if (len != ~0ULL && t->w.in_len >= h + len)
			return 1;
	}
	return poll(&pfd, 1, 0) > 0;
}

/* Everything the tab's socket holds; receipts go back at once. */
static void
tab_read(struct bench *b, struct tab *t)
{
	char		*m;
	size_t		 n;
	const char	*type;
	long long	 seq;
	double		 now;
	cJSON		*j;
	int		 rc;

	for (;;) {
		if (t->w.fd < 0 || !tab_ready(t))
			return;
		rc = ws_recv(&t->w, 0, &m, &n);
		if (rc == WS_TIMEOUT)
			return;
		if (rc != WS_MSG) {
			if (!t->dead)
				fprintf(stderr, "cb-bench-tabs: tab %s: channel closed (%d)\n",
				    t->ctx, t->w.close_code);
			t->dead = 1;
			b->channel_errors++;
			return;
		}
		now = util_now_ms();
		j = cJSON_ParseWithLength(m, n);
		free(m);
		type = j ? ws_str(j, "type") : NULL;
		if (type != NULL && strcmp(type, "command") == 0) {
			seq = ws_num(j, "seq");
			(void)ws_sendf(&t->w, "{\"type\":\"receipt\",\"seq\":%lld,\"status\":\"applied\"}", seq);
			tab_frame(b, t, seq, now);
		} else if (type == NULL || strcmp(type, "pong") != 0) {
			b->channel_errors++;
			fprintf(stderr, "cb-bench-tabs: tab %s: unexpected frame %.200s\n", t->ctx,
			    type ? type : "(not JSON)");
		}
		cJSON_Delete(j);
	}
}

/* ------------------------------------------------------------ one phase */

struct phase {
	const char	*name;
	struct cmd	*cmds;
	int		 n;
	int		 open_loop;	/* load: due times fixed in advance */
};

static void	cmd_failed(struct bench *, struct cmd *, double);

/* Wall-clock milliseconds (the fake stamps what it receives with this clock). */
static double
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
cmd_send(struct bench *b, struct sender *s, struct cmd *c, double now)
{
	char	 path[128], body[256];

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", b->tabs[c->tab].ctx);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"bench@example.com\",\"nonce\":\"tabs-%ld-%lld\"}", (long)getpid(), ++b->nonce);
	if (s->fd < 0 && snd_connect(b, s) != 0)
		die("cannot connect to %s:%d", b->host, b->port);
	(void)snd_request(s, "POST", path, b->key, body);
	c->t_sent = now;
	c->w_sent = wall_ms();
	s->c = c;
	s->kind = SND_COMMAND;
	if (snd_flush(s) != 0) {
		cmd_failed(b, c, now);
		s->c = NULL;
		snd_close(s);
	}
}

/* The 202 (or another answer) of s's command. */
static void
cmd_answered(struct bench *b, struct cmd *c, int status, const char *body, size_t blen,
    double now)
{
	struct tab	*t = &b->tabs[c->tab];
	cJSON		*j;
	long long	 seq;

	c->t_202 = now;
	c->status = status;
	b->answered++;
	if (status != 202) {
		b->finished++;
		return;
	}
	j = cJSON_ParseWithLength(body, blen);
	seq = j ? ws_num(j, "seq") : -1;
	if (b->approve && j != NULL && ws_str(j, "id") != NULL)
		util_strlcpy(c->id, ws_str(j, "id"), sizeof(c->id));
	if (b->approve && (j == NULL || ws_str(j, "state") == NULL ||
	    strcmp(ws_str(j, "state"), "pending_approval") != 0))
		seq = -1;	/* the policy did not hold it: counted as another answer */
	cJSON_Delete(j);
	if (seq <= 0 || seq > (1LL << 24)) {
		c->status = -2;
		b->finished++;
		return;
	}
	c->seq = seq;
	tab_grow(t, seq);
	t->cmd_at[seq] = c;
	t->accepted++;
	if (t->frame_at[seq] != 0) {
		c->t_frame = t->frame_at[seq];
		b->finished++;
	} else if ((seq - 1) - t->framed >= b->window) {
		/*
		 * Frames come in seq order on a fresh context, so seq - 1 - framed
		 * earlier commands are still queued or in flight: the window is
		 * full and this one waits for a receipt.
		 */
		c->window_wait = 1;
	}
}

/* A command that will get no answer (its connection broke). */
static void
cmd_failed(struct bench *b, struct cmd *c, double now)
{
	c->status = -1;
	c->t_202 = now;
	b->answered++;
	b->finished++;
	b->http_errors++;
}

/* ------------------------------------------------------------ approve */

/* The answer to a click: 200 decided; anything else, the command never frames. */
static void
click_answered(struct bench *b, struct cmd *c, int status, const char *body, size_t blen,
    double now)
{
	c->t_clicked = now;
	c->click_status = status;
	if (status == 200)
		return;
	if (b->clicks_failed++ == 0)
		fprintf(stderr, "cb-bench-tabs: a click answered %d: %.*s\n", status,
		    (int)(blen > 300 ? 300 : blen), body);
	if (c->t_frame == 0)
		b->finished++;
}

/* Click Approve on c's message, on sender s. */
static void
click_send(struct bench *b, struct sender *s, struct cmd *c, double now)
{
	char	 body[SLACKCLICK_BODY_MAX], h1[SLACKCLICK_HDR_MAX], h2[SLACKCLICK_HDR_MAX];
	char	 hdrs[3 * SLACKCLICK_HDR_MAX + 64];

	if (slackclick_body(b->slack_user, "approve", c->value, b->fake_url, NULL,
	    body, sizeof(body)) != 0 || slackclick_headers(b->secret, (long long)time(NULL), body,
	    strlen(body), h1, h2) != 0)
		die("cannot build a click (is CB_SLACK_SIGNING_SECRET usable?)");
	snprintf(hdrs, sizeof(hdrs), "%s\r\n%s\r\nContent-Type: application/x-www-form-urlencoded\r\n",
	    h1, h2);
	if (s->fd < 0 && snd_connect(b, s) != 0)
		die("cannot connect to %s:%d", b->host, b->port);
	if (snd_request_h(s, "POST", "/api/v1/slack/interactions", hdrs, body) != 0)
		die("a click does not fit in a request");
	c->t_click = now;
	s->c = c;
	s->kind = SND_CLICK;
	if (snd_flush(s) != 0) {
		click_answered(b, c, -1, "", 0, now);
		s->c = NULL;
		snd_close(s);
	}
}

/* "2026-12-01T05:40:00.123Z" as wall-clock ms; 0 when it is not that. */
static double
iso_ms(const char *v)
{
	struct tm	 tm;
	int		 ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (v == NULL || sscanf(v, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000.0 + ms;
}

/*
 * One message seen at the fake: an approval message is queued for a click
 * once (1); 0 for any other message or one already queued; -1 for an
 * approval message whose command's 202 has not been read yet (the worker
 * may post it before this process reads the answer): the poller asks for
 * it again.
 */
static int
poll_message(struct bench *b, const cJSON *m)
{
	static const char	 pfx[] = "Approval needed: command ";
	const char		*text = ws_str(m, "text"), *value;
	int			 i;

	if (text == NULL || strncmp(text, pfx, sizeof(pfx) - 1) != 0)
		return 0;		/* a decision's update, an alert */
	text += sizeof(pfx) - 1;
	for (i = 0; i < b->ncmds; i++) {
		struct cmd *c = &b->cmds[i];

		if (c->id[0] != '\0' && strncmp(c->id, text, 36) == 0)
			break;
	}
	if (i == b->ncmds)
		return -1;
	if (b->cmds[i].w_msg != 0)
		return 0;
	value = slackclick_button_value(cJSON_GetObjectItemCaseSensitive(m, "blocks"));
	if (value == NULL || strlen(value) >= sizeof(b->cmds[i].value))
		return -1;
	b->cmds[i].w_msg = iso_ms(ws_str(m, "received_at"));
	util_strlcpy(b->cmds[i].value, value, sizeof(b->cmds[i].value));
	b->clickq[b->nclickq++] = &b->cmds[i];
	return 1;
}

/* The poller: ask for the messages since the last one seen, when it is time. */
static void
poll_send(struct bench *b, double now)
{
	char		 path[96];
	struct sender	*s = &b->poll;

	if (!b->approve || s->busy || now < b->poll_at)
		return;
	if (s->fd < 0 && snd_connect(b, s) != 0)
		die("cannot connect to the fake Slack at %s:%d", b->fhost, b->fport);
	snprintf(path, sizeof(path), "/__fake/messages?since=%lld", b->msg_since);
	(void)snd_request_h(s, "GET", path, "", "");
	s->busy = 1;
	if (snd_flush(s) != 0) {
		snd_close(s);
		s->busy = 0;
	}
}

static void
poll_event(struct bench *b, double now)
{
	struct sender	*s = &b->poll;
	const cJSON	*m;
	cJSON		*j;
	char		*body;
	size_t		 used, blen;
	int		 st, cl, rc;
	long long	 seq, hold, unknown;

	if (snd_flush(s) != 0 || snd_read(s) != 0)
		goto broken;
	if ((rc = http_parse(s, &st, &body, &blen, &used, &cl)) == 0)
		return;
	if (rc < 0 || st != 200 || (j = cJSON_ParseWithLength(body, blen)) == NULL)
		die("GET /__fake/messages failed (%d)", rc < 0 ? rc : st);
	/* The next poll starts at the first message not yet matched to a command. */
	hold = -1;
	unknown = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "messages")) {
		seq = ws_num(m, "seq");
		if (poll_message(b, m) < 0) {
			unknown++;
			if (hold < 0 || seq - 1 < hold)
				hold = seq - 1;
		}
		if (seq > b->msg_since)
			b->msg_since = seq;
	}
	if (hold >= 0 && hold < b->msg_since)
		b->msg_since = hold;
	b->msgs_unknown = unknown;
	cJSON_Delete(j);
	snd_consume(s, used);
	if (cl)
		snd_close(s);
	s->busy = 0;
	b->poll_at = now + b->poll_ms;
	return;
broken:
	snd_close(s);
	s->busy = 0;
}

static void
snd_event(struct bench *b, struct sender *s, double now)
{
	char	*body;
	size_t	 used, blen;
	int	 st, cl, rc;

	if (snd_flush(s) != 0 || snd_read(s) != 0)
		goto broken;
	if (s->c == NULL && s->in_len == 0)
		return;
	if ((rc = http_parse(s, &st, &body, &blen, &used, &cl)) == 0)
		return;
	if (rc < 0 || s->c == NULL)
		goto broken;
	if (s->kind == SND_CLICK)
		click_answered(b, s->c, st, body, blen, now);
	else
		cmd_answered(b, s->c, st, body, blen, now);
	s->c = NULL;
	snd_consume(s, used);
	if (cl) {
		snd_close(s);
		b->reconnects++;
	}
	return;
broken:
	if (s->c != NULL && s->kind == SND_CLICK)
		click_answered(b, s->c, -1, "", 0, now);
	else if (s->c != NULL)
		cmd_failed(b, s->c, now);
	s->c = NULL;
	snd_close(s);
	b->reconnects++;
}

static int
cmd_done(const struct cmd *c)
{
	return c->status != 0 && (c->status != 202 || c->t_frame != 0 ||
	    (c->click_status != 0 && c->click_status != 200));
}

static void
phase_run(struct bench *b, struct phase *p)
{
	struct pollfd	*pfd;
	struct timespec	 ts;
	double		 now, wait_ms, last_answer = 0, gap_until = 0;
	long		 ns;
	int		 next = 0, blocked, i, n, k;
	int		 nfds = b->ntabs + b->nsenders + 1;

	pfd = util_calloc((size_t)nfds, sizeof(*pfd));
	b->answered = b->finished = 0;
	b->cmds = p->cmds;
	b->ncmds = p->n;
	if (p->open_loop) {
		now = util_now_ms() + 20;
		for (i = 0; i < p->n; i++)
			p->cmds[i].t_due = now + (double)i * 1000.0 / b->rate;
	}
	for (k = 0;;) {
		now = util_now_ms();
		if (p->open_loop && next < p->n && now > p->cmds[p->n - 1].t_due + LOAD_OVERRUN_MS) {
			fprintf(stderr, "cb-bench-tabs: %s: %d commands not sent %.0f s after the last was due\n",
			    p->name, p->n - next, LOAD_OVERRUN_MS / 1000);
			for (; next < p->n; next++) {
				p->cmds[next].status = CMD_UNSENT;
				b->answered++;
				b->finished++;
			}
		}
		/* Clicks first (their messages are there), then what is due, each on an idle sender. */
		poll_send(b, now);
		while (b->nclickq > 0) {
			for (i = 0; i < b->nsenders && b->snd[(k + i) % b->nsenders].c != NULL; i++)
				;
			if (i == b->nsenders)
				break;
			k = (k + i) % b->nsenders;
			click_send(b, &b->snd[k], b->clickq[0], now);
			memmove(b->clickq, b->clickq + 1, (size_t)--b->nclickq * sizeof(*b->clickq));
			k = (k + 1) % b->nsenders;
		}
		blocked = 0;
		while (next < p->n) {
			struct cmd *c = &p->cmds[next];

			if (!p->open_loop) {
				/* One at a time: the previous one answered and framed, then the gap. */
				if (next > 0 && !cmd_done(&p->cmds[next - 1]))
					break;
				if (next > 0 && gap_until == 0)
					gap_until = now + b->idle_gap_ms;
				if (now < gap_until)
					break;
				c->t_due = now;
				gap_until = 0;
			} else if (c->t_due > now)
				break;
			/* Round robin from the last one used, so every connection stays warm. */
			for (i = 0; i < b->nsenders && b->snd[(k + i) % b->nsenders].c != NULL; i++)
				;
			if (i == b->nsenders) {
				blocked = 1;
				break;
			}
			k = (k + i) % b->nsenders;
			cmd_send(b, &b->snd[k], c, now);
			k = (k + 1) % b->nsenders;
			next++;
		}
		if (next == p->n && b->answered == p->n) {
			if (last_answer == 0)
				last_answer = now;
			if (b->finished == p->n || now - last_answer > b->drain_ms)
				break;
		}
		/* Sleep until the next due time or gap end, or an event. */
		wait_ms = 50;
		if (next < p->n && !blocked && p->open_loop)
			wait_ms = p->cmds[next].t_due - now;
		else if (next < p->n && !blocked && gap_until > 0)
			wait_ms = gap_until - now;
		if (wait_ms < 0)
			wait_ms = 0;
		if (b->approve && !b->poll.busy && b->poll_at - now < wait_ms)
			wait_ms = b->poll_at - now;
		if (wait_ms < 0)
			wait_ms = 0;
		if (wait_ms > 50)
			wait_ms = 50;
		for (n = 0, i = 0; i < b->ntabs; i++) {
			pfd[n].fd = b->tabs[i].dead ? -1 : b->tabs[i].w.fd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		for (i = 0; i < b->nsenders; i++) {
			struct sender *s = &b->snd[i];

			pfd[n].fd = s->fd;
			pfd[n].events = POLLIN | (s->out_off < s->out_len ? POLLOUT : 0);
			pfd[n++].revents = 0;
		}
		pfd[n].fd = b->poll.busy ? b->poll.fd : -1;
		pfd[n].events = POLLIN | (b->poll.out_off < b->poll.out_len ? POLLOUT : 0);
		pfd[n++].revents = 0;
		ns = (long)(wait_ms * 1e6);
		ts.tv_sec = ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		if (ppoll(pfd, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		now = util_now_ms();
		for (i = 0; i < b->ntabs; i++)
			if (pfd[i].revents)
				tab_read(b, &b->tabs[i]);
		for (i = 0; i < b->nsenders; i++)
			if (pfd[b->ntabs + i].revents && b->snd[i].fd >= 0)
				snd_event(b, &b->snd[i], now);
		if (pfd[b->ntabs + b->nsenders].revents && b->poll.fd >= 0)
			poll_event(b, now);
	}
	free(pfd);
}

/* ------------------------------------------------------------ report */

static int
dbl_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, int n, double p)
{
	int	 i;

	if (n == 0)
		return -1;
	i = (int)((p / 100.0) * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void
print_dist(const char *phase, const char *name, double *v, int n)
{
	static const double	 at[] = { 50, 95, 99, 100 };
	static const char *const tag[] = { "p50", "p95", "p99", "max" };
	double			 x;
	size_t			 i;

	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		x = pct(v, n, at[i]);
		if (isinf(x))
			printf("%s.%s_%s=lost\n", phase, name, tag[i]);
		else
			printf("%s.%s_%s=%.2f\n", phase, name, tag[i], x);
	}
}

static void
phase_report(const struct phase *p)
{
	double		*lat202, *latsend, *lag, first = 0, last = 0;
	int		 n202 = 0, nsend = 0, nlag = 0, i;
	long long	 acc = 0, r429 = 0, other = 0, err = 0, early = 0, missing = 0, waits = 0;
	long long	 unsent = 0;

	lat202 = util_calloc((size_t)p->n + 1, sizeof(double));
	latsend = util_calloc((size_t)p->n + 1, sizeof(double));
	lag = util_calloc((size_t)p->n + 1, sizeof(double));
	for (i = 0; i < p->n; i++) {
		const struct cmd *c = &p->cmds[i];

		if (c->t_sent != 0) {
			lag[nlag++] = c->t_sent - c->t_due;
			if (first == 0 || c->t_sent < first)
				first = c->t_sent;
			if (c->t_sent > last)
				last = c->t_sent;
		}
		if (c->status == 202)
			acc++;
		else if (c->status == 429)
			r429++;
		else if (c->status > 0)
			other++;
		else if (c->status == CMD_UNSENT)
			unsent++;
		else
			err++;
		if (c->status != 202)
			continue;
		waits += c->window_wait;
		if (c->t_frame == 0) {
			missing++;
			lat202[n202++] = INFINITY;
			latsend[nsend++] = INFINITY;
			continue;
		}
		if (c->t_frame < c->t_202)
			early++;
		lat202[n202++] = c->t_frame > c->t_202 ? c->t_frame - c->t_202 : 0;
		latsend[nsend++] = c->t_frame - c->t_sent;
	}
	printf("%s.offered=%d\n%s.accepted=%lld\n%s.refused_429=%lld\n%s.other_status=%lld\n"
	    "%s.errors=%lld\n%s.unsent=%lld\n%s.frames=%lld\n%s.missing=%lld\n%s.early=%lld\n"
	    "%s.window_waits=%lld\n",
	    p->name, p->n, p->name, acc, p->name, r429, p->name, other, p->name, err,
	    p->name, unsent, p->name, (long long)n202 - missing, p->name, missing, p->name, early,
	    p->name, waits);
	if (p->open_loop)
		printf("%s.sent_rate=%.0f\n", p->name,
		    last > first ? (double)(nlag - 1) * 1000.0 / (last - first) : 0.0);
	print_dist(p->name, "lat202", lat202, n202);
	print_dist(p->name, "latsend", latsend, nsend);
	print_dist(p->name, "sendlag", lag, nlag);
	free(lat202);
	free(latsend);
	free(lag);
}

/* The approve phase's own figures (after phase_report's). */
static void
approve_report(const struct bench *b, const struct phase *p)
{
	double		*acc, *made, *dec, *clk;
	int		 na = 0, nm = 0, nd = 0, nc = 0, i;
	long long	 msgs = 0, ok = 0;

	acc = util_calloc((size_t)p->n + 1, sizeof(double));
	made = util_calloc((size_t)p->n + 1, sizeof(double));
	dec = util_calloc((size_t)p->n + 1, sizeof(double));
	clk = util_calloc((size_t)p->n + 1, sizeof(double));
	for (i = 0; i < p->n; i++) {
		const struct cmd *c = &p->cmds[i];

		if (c->status != 202)
			continue;
		acc[na++] = c->t_202 - c->t_sent;
		msgs += c->w_msg != 0;
		made[nm++] = c->w_msg != 0 ? c->w_msg - c->w_sent : INFINITY;
		if (c->t_click == 0)
			continue;
		clk[nc++] = c->click_status != 0 ? c->t_clicked - c->t_click : INFINITY;
		if (c->click_status != 200)
			continue;
		ok++;
		dec[nd++] = c->t_frame != 0 ? c->t_frame - c->t_click : INFINITY;
	}
	printf("approve.messages=%lld\napprove.messages_unknown=%lld\napprove.clicks=%d\n"
	    "approve.clicks_ok=%lld\napprove.clicks_failed=%lld\n", msgs, b->msgs_unknown, nc, ok,
	    b->clicks_failed);
	print_dist(p->name, "accept", acc, na);
	print_dist(p->name, "created", made, nm);
	print_dist(p->name, "click200", clk, nc);
	print_dist(p->name, "decide", dec, nd);
	free(acc);
	free(made);
	free(dec);
	free(clk);
}

/* ------------------------------------------------------------ main */

static int
arg_int(const char *name, const char *v, int lo, int hi)
{
	long long	 x;

	if (v == NULL || util_parse_ll(v, lo, hi, &x) != 0) {
		fprintf(stderr, "cb-bench-tabs: %s must be %d..%d\n", name, lo, hi);
		exit(2);
	}
	return (int)x;
}

/* The numeric host and the port of the http:// URL in environment variable var. */
static void
parse_url(const char *var, char host[64], int *port)
{
	const char	*u = getenv(var), *h, *c;
	size_t		 hl;

	if (u == NULL || strncmp(u, "http://", 7) != 0)
		die("%s must be set to http://host:port", var);
	h = u + 7;
	if ((c = strchr(h, ':')) == NULL || (hl = (size_t)(c - h)) >= 64)
		die("%s must name a numeric host and a port", var);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = arg_int(var, c + 1, 1, 65535);
}

int
main(int argc, char **argv)
{
	struct bench	 b;
	struct phase	 load, idle, appr;
	int		 i;

	memset(&b, 0, sizeof(b));
	b.ntabs = 100;
	b.rate = 2000;
	b.seconds = 10;
	b.nsenders = 64;
	b.nidle = 200;
	b.idle_gap_ms = 5;
	b.drain_ms = 10000;
	b.window = 2;
	b.poll_ms = 2;
	b.slack_user = "U0BENCH01";
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			break;
		if (strcmp(a, "--form") == 0)
			b.form = v;
		else if (strcmp(a, "--key") == 0)
			b.key = v;
		else if (strcmp(a, "--tabs") == 0)
			b.ntabs = arg_int(a, v, 1, TABS_MAX);
		else if (strcmp(a, "--rate") == 0)
			b.rate = arg_int(a, v, 1, 100000);
		else if (strcmp(a, "--seconds") == 0)
			b.seconds = arg_int(a, v, 1, 3600);
		else if (strcmp(a, "--senders") == 0)
			b.nsenders = arg_int(a, v, 1, SENDERS_MAX);
		else if (strcmp(a, "--idle") == 0)
			b.nidle = arg_int(a, v, 0, 100000);
		else if (strcmp(a, "--idle-gap-ms") == 0)
			b.idle_gap_ms = arg_int(a, v, 0, 10000);
		else if (strcmp(a, "--drain-ms") == 0)
			b.drain_ms = arg_int(a, v, 100, 600000);
		else if (strcmp(a, "--window") == 0)
			b.window = arg_int(a, v, 1, 1000);
		else if (strcmp(a, "--approve") == 0)
			b.approve = arg_int(a, v, 0, 1);
		else if (strcmp(a, "--poll-ms") == 0)
			b.poll_ms = arg_int(a, v, 1, 1000);
		else if (strcmp(a, "--slack-user") == 0)
			b.slack_user = v;
		else
			break;
	}
	if (i != argc || b.form == NULL || b.key == NULL || !util_uuid_ok(b.form)) {
		fprintf(stderr, "usage: cb-bench-tabs --form FORM_ID --key API_KEY [--tabs N] "
		    "[--rate PER_S] [--seconds N] [--senders N] [--idle N] [--idle-gap-ms N] "
		    "[--drain-ms N] [--window N] [--approve 1 [--poll-ms N] [--slack-user ID]]   "
		    "(CB_HTTP_URL names nginx; --approve: CB_FAKEHOOKS_URL, CB_SLACK_SIGNING_SECRET)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	parse_url("CB_HTTP_URL", b.host, &b.port);
	b.tabs = util_calloc((size_t)b.ntabs, sizeof(*b.tabs));
	b.snd = util_calloc((size_t)b.nsenders, sizeof(*b.snd));
	for (i = 0; i < b.nsenders; i++) {
		b.snd[i].fd = -1;
		b.snd[i].in_cap = HTTP_IN_MAX;
		b.snd[i].in = util_malloc(HTTP_IN_MAX + 1);
	}
	b.poll.fd = -1;
	if (b.approve) {
		parse_url("CB_FAKEHOOKS_URL", b.fhost, &b.fport);
		b.fake_url = getenv("CB_FAKEHOOKS_URL");
		if ((b.secret = getenv("CB_SLACK_SIGNING_SECRET")) == NULL)
			die("--approve needs CB_SLACK_SIGNING_SECRET");
		b.poll.host = b.fhost;
		b.poll.port = b.fport;
		b.poll.in_cap = POLL_IN_MAX;
		b.poll.in = util_malloc(POLL_IN_MAX + 1);
	}

	fprintf(stderr, "cb-bench-tabs: opening %d tabs\n", b.ntabs);
	tabs_open(&b);
	for (i = 0; i < b.nsenders; i++)
		if (b.snd[i].fd < 0 && snd_connect(&b, &b.snd[i]) != 0)
			die("cannot connect to %s:%d", b.host, b.port);

	if (b.approve) {
		appr.name = "approve";
		appr.n = b.rate * b.seconds;
		appr.open_loop = 1;
		appr.cmds = util_calloc((size_t)appr.n, sizeof(*appr.cmds));
		b.clickq = util_calloc((size_t)appr.n, sizeof(*b.clickq));
		for (i = 0; i < appr.n; i++)
			appr.cmds[i].tab = i % b.ntabs;
		fprintf(stderr, "cb-bench-tabs: approve: %d commands at %d/s over %d tabs, each "
		    "approved by a signed click\n", appr.n, b.rate, b.ntabs);
		phase_run(&b, &appr);
		printf("tabs=%d\nrate=%d\nseconds=%d\nsenders=%d\n", b.ntabs, b.rate, b.seconds,
		    b.nsenders);
		phase_report(&appr);
		approve_report(&b, &appr);
		printf("channel_errors=%lld\nhttp_errors=%lld\nreconnects=%lld\n",
		    b.channel_errors, b.http_errors, b.reconnects);
		free(appr.cmds);
		free(b.clickq);
		idle.n = load.n = 0;
		idle.cmds = load.cmds = NULL;
		goto out;
	}
	/* The idle channel first, while nothing else has run on it. */
	idle.name = "idle";
	idle.n = b.nidle;
	idle.open_loop = 0;
	idle.cmds = util_calloc((size_t)idle.n + 1, sizeof(*idle.cmds));
	for (i = 0; i < idle.n; i++)
		idle.cmds[i].tab = i % b.ntabs;
	fprintf(stderr, "cb-bench-tabs: idle: %d commands one at a time\n", idle.n);
	if (idle.n > 0)
		phase_run(&b, &idle);

	load.name = "load";
	load.n = b.rate * b.seconds;
	load.open_loop = 1;
	load.cmds = util_calloc((size_t)load.n, sizeof(*load.cmds));
	for (i = 0; i < load.n; i++)
		load.cmds[i].tab = i % b.ntabs;
	fprintf(stderr, "cb-bench-tabs: load: %d commands at %d/s over %d tabs, %d senders\n",
	    load.n, b.rate, b.ntabs, b.nsenders);
	phase_run(&b, &load);

	printf("tabs=%d\nrate=%d\nseconds=%d\nsenders=%d\nwindow=%d\n", b.ntabs, b.rate, b.seconds,
	    b.nsenders, b.window);
	phase_report(&load);
	if (idle.n > 0)
		phase_report(&idle);
	printf("channel_errors=%lld\nhttp_errors=%lld\nreconnects=%lld\nframes_unknown=%lld\n",
	    b.channel_errors, b.http_errors, b.reconnects, b.frames_unknown);
out:
	for (i = 0; i < b.ntabs; i++) {
		ws_close(&b.tabs[i].w, 1000);
		ws_free(&b.tabs[i].w);
		free(b.tabs[i].cmd_at);
		free(b.tabs[i].frame_at);
	}
	for (i = 0; i < b.nsenders; i++) {
		snd_close(&b.snd[i]);
		free(b.snd[i].in);
	}
	snd_close(&b.poll);
	free(b.poll.in);
	free(load.cmds);
	free(idle.cmds);
	free(b.tabs);
	free(b.snd);
	return 0;
}
