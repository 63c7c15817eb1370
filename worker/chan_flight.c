/*
 * chan_flight: the tab's window.  A command sent and not receipted is an
 * entry of its connection's flight list; the window belongs to the tab, so
 * the limit (the form's max_in_flight) counts the entries of every
 * connection of that context in this process.  A slot that comes free
 * marks every connection of the tab, so whichever may send next does.
 *
 * A delivery attempt is a round, not a socket: the sockets of one tab (in
 * this process) that carry a command at the same time share its attempt,
 * its send count and its receipt deadline, so three sockets open for one
 * tab spend one attempt, not three, and are re-sent to together.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "util.h"

int
chan_tab_inflight(const struct chan *ch, const char *ctx_id)
{
	const struct chan_conn	*c;
	int			 n = 0;

	for (c = ch->conns; c != NULL; c = c->next)
		if (c->authed && strcmp(c->tab.ctx_id, ctx_id) == 0)
			n += c->nfl;
	return n;
}

void
chan_tab_dirty(struct chan *ch, const char *ctx_id)
{
	struct chan_conn	*c;

	for (c = ch->conns; c != NULL; c = c->next)
		if (c->authed && strcmp(c->tab.ctx_id, ctx_id) == 0)
			c->dirty = 1;
}

void
chan_flight_drop(struct chan_conn *c, int i)
{
	struct chan_flight	*f = &c->fl[i];

	free(f->frame);
	free(f->rcpt_reason);
	memmove(&c->fl[i], &c->fl[i + 1], (size_t)(c->nfl - i - 1) * sizeof(c->fl[0]));
	c->nfl--;
	memset(&c->fl[c->nfl], 0, sizeof(c->fl[0]));
}

int
chan_flight_find(const struct chan_conn *c, long long seq)
{
	int	 i;

	for (i = 0; i < c->nfl; i++)
		if (c->fl[i].seq == seq)
			return i;
	return -1;
}

struct chan_flight *
chan_flight_sibling(const struct chan *ch, const struct chan_conn *self, long long seq)
{
	struct chan_conn	*c;
	int			 i;

	for (c = ch->conns; c != NULL; c = c->next) {
		if (c == self || !c->authed || c->closing ||
		    strcmp(c->tab.ctx_id, self->tab.ctx_id) != 0)
			continue;
		if ((i = chan_flight_find(c, seq)) >= 0)
			return &c->fl[i];
	}
	return NULL;
}

double
chan_receipt_due(const struct chan_conn *c, int sends)
{
	int	 shift = sends > 1 ? sends - 1 : 0;

	if (shift > 10)
		shift = 10;
	return util_now_ms() + (double)(c->ch->receipt_timeout_ms << shift);
}

void
chan_flight_add(struct chan_conn *c, long long seq, const char *id, char *frame, size_t len)
{
	struct chan_flight	*f;

	if (c->nfl >= CHAN_FLIGHT_MAX)
		abort();	/* the round never takes more than the room */
	f = &c->fl[c->nfl++];
	memset(f, 0, sizeof(*f));
	f->seq = seq;
	util_strlcpy(f->id, id, sizeof(f->id));
	f->frame = frame;
	f->len = len;
	f->sends = 1;
	f->sent_ms = util_now_ms();
	f->deadline = chan_receipt_due(c, 1);
}

void
chan_flight_join(struct chan_conn *c, const struct chan_flight *round)
{
	struct chan_flight	*f = &c->fl[c->nfl - 1];

	f->sends = round->sends;
	f->sent_ms = round->sent_ms;
	f->deadline = round->deadline;
}

void
chan_log_seq(enum log_level lvl, const char *event, const struct chan_conn *c,
    long long seq, const char *k, const char *v)
{
	char	 s[24];

	chan_lld(s, sizeof(s), seq);
	log_kv(lvl, event, "ctx", c->tab.ctx_id, "seq", s, k, v, NULL);
}
