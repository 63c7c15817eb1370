/*
 * cb-bench-tabs' tabs: a context and an authenticated WebSocket each, as a
 * browser opens them; every command frame is answered "applied" at once
 * and its arrival recorded by seq.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "slackclick.h"
#include "tabs.h"
#include "util.h"
#include "ws.h"

void
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

void
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
void
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
