/*
 * cb-bench-tabs' approve phase: a poller reads the fake Slack's messages
 * and clicks Approve on each command's message, signed as Slack signs
 * (tests/support/slackclick); the click's answer is recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs.h"
#include "util.h"
#include "ws.h"

/* The answer to a click: 200 decided; anything else, the command never frames. */
void
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
void
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
void
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

void
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
