/*
 * cb-bench-tabs' phase loop: commands offered (closed loop for idle,
 * open loop for load and approve) over the senders, their 202s and frames
 * matched, until every command is framed, refused or given up on.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs.h"
#include "util.h"
#include "ws.h"

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

void
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
