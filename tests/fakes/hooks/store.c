/*
 * cb-fake-hooks' store: the deliveries and messages kept (at most
 * --max-stored of each, the oldest going first, bodies 256 MiB all told),
 * the webhook-ids seen per endpoint (duplicate detection outlives the
 * stored deliveries), and the reset.  Every function here runs under
 * hk.lock.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "log.h"
#include "util.h"

#include "hk.h"

/* ---- the store ------------------------------------------------------------ */

size_t
hk_hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Caller holds the lock: 1 if "endpoint\nid" was seen before (and note it). */
int
hk_seen_before(const char *endpoint, const char *id)
{
	struct buf	 k;
	size_t		 i, mask;
	char		**old;
	size_t		 oldcap, j;
	int		 seen = 0;

	if (hk.nseen * 2 >= hk.seen_cap) {
		old = hk.seen;
		oldcap = hk.seen_cap;
		hk.seen_cap = oldcap ? oldcap * 2 : 1024;
		hk.seen = util_calloc(hk.seen_cap, sizeof(*hk.seen));
		mask = hk.seen_cap - 1;
		for (j = 0; j < oldcap; j++) {
			if (old[j] == NULL)
				continue;
			for (i = hk_hash(old[j]) & mask; hk.seen[i] != NULL;
			    i = (i + 1) & mask)
				;
			hk.seen[i] = old[j];
		}
		free(old);
	}
	buf_init(&k, 0);
	if (buf_printf(&k, "%s\n%s", endpoint, id) != CB_OK)
		util_oom();
	mask = hk.seen_cap - 1;
	for (i = hk_hash(k.data) & mask; hk.seen[i] != NULL; i = (i + 1) & mask)
		if (strcmp(hk.seen[i], k.data) == 0) {
			seen = 1;
			break;
		}
	if (!seen) {
		hk.seen[i] = util_strdup(k.data);
		hk.nseen++;
	}
	buf_free(&k);
	return seen;
}

void
hk_delivery_free(struct hk_delivery *d)
{
	free(d->id);
	free(d->timestamp);
	free(d->type);
	free(d->body);
}

void
hk_message_free(struct hk_message *m)
{
	free(m->channel);
	free(m->text);
	cJSON_Delete(m->blocks);
	cJSON_Delete(m->metadata);
}

/* Caller holds the lock; d is moved into the store. */
void
hk_store_delivery(struct hk_delivery *d)
{
	if (hk.deliveries == NULL)
		hk.deliveries = util_calloc(cfg.max_stored, sizeof(*hk.deliveries));
	/* The oldest go first, by count and by the bytes of their bodies. */
	while (hk.ndeliveries > 0 && (hk.ndeliveries == cfg.max_stored ||
	    hk.stored_bytes + d->body_len > HK_STORED_BYTES_MAX)) {
		hk.stored_bytes -= hk.deliveries[0].body_len;
		hk_delivery_free(&hk.deliveries[0]);
		memmove(hk.deliveries, hk.deliveries + 1,
		    (hk.ndeliveries - 1) * sizeof(*hk.deliveries));
		hk.ndeliveries--;
	}
	d->seq = ++hk.seq;
	hk.stored_bytes += d->body_len;
	hk.deliveries[hk.ndeliveries++] = *d;
	memset(d, 0, sizeof(*d));
}

/* Caller holds the lock; m is moved into the store. */
void
hk_store_message(struct hk_message *m)
{
	if (hk.messages == NULL)
		hk.messages = util_calloc(cfg.max_stored, sizeof(*hk.messages));
	if (hk.nmessages == cfg.max_stored) {
		hk_message_free(&hk.messages[0]);
		memmove(hk.messages, hk.messages + 1,
		    (hk.nmessages - 1) * sizeof(*hk.messages));
		hk.nmessages--;
	}
	m->seq = ++hk.seq;
	util_iso8601(m->received_at, sizeof(m->received_at));
	hk.messages[hk.nmessages++] = *m;
	memset(m, 0, sizeof(*m));
}

/* Caller holds the lock. */
void
hk_clear_all(void)
{
	size_t	 i;

	for (i = 0; i < hk.ndeliveries; i++)
		hk_delivery_free(&hk.deliveries[i]);
	for (i = 0; i < hk.nmessages; i++)
		hk_message_free(&hk.messages[i]);
	for (i = 0; i < hk.seen_cap; i++)
		free(hk.seen[i]);
	free(hk.seen);
	free(hk.deliveries);
	free(hk.messages);
	hk.seen = NULL;
	hk.deliveries = NULL;
	hk.messages = NULL;
	hk.seen_cap = hk.nseen = hk.ndeliveries = hk.nmessages = 0;
	hk.stored_bytes = 0;
	sodium_memzero(hk.endpoints, sizeof(hk.endpoints));
	hk.nendpoints = 0;
	(void)fp_clear(&hk.fq);
	hk.fq.served = 0;
	hk.deliveries_total = hk.verified = hk.rejected = hk.duplicates = 0;
	hk.unknown_endpoint = 0;
	hk.slack_api_calls = hk.slack_webhook_calls = hk.slack_posted = 0;
	hk.slack_errors = hk.slack_history_calls = 0;
}
