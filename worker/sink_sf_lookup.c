/*
 * sink_sf_lookup: the contact lookup of the Salesforce sink's rows (see
 * sink_sf_lookup.h).  The SOQL, the URL and the reading of the answer are
 * lib/sf_query's; the cache is lib/ccache's; this file decides what each
 * outcome does to its row.  The phone never reaches a log unmasked, the
 * cache key never holds it, and every copy of it is wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "ccache.h"
#include "errs.h"
#include "httpc.h"
#include "jsonv.h"
#include "kv.h"
#include "log.h"
#include "phone.h"
#include "sf.h"
#include "sf_query.h"
#include "sink_sf_lookup.h"
#include "util.h"

#define SFL_URL_MAX	8192u
#define SFL_PAUSE_LIMIT_S	900	/* as the sink's own pause on REQUEST_LIMIT_EXCEEDED */

struct sfl_item {
	struct sfl	*l;
	struct sink_row	*row;
	cJSON		*fields;	/* borrowed */
	char		 set_field[84];
	char		 e164[PHONE_E164_BUFSZ];
	char		 key[CCACHE_KEY_MAX];	/* "" when the answer is not cached */
	int		 waiting;	/* a query is due or in flight */
	struct sfl_item	*same;		/* an earlier row's query answers this one too */
	int		 unauthorized;	/* its answer was a 401 */
	int		 resent;
};

struct sfl {
	struct sink_env	*env;
	struct kv	*kv;
	const char	*scope;		/* the connection's pause: "salesforce[:<org>]" */
	struct sfl_item	*items;
	size_t		 n, cap;
	size_t		 flying;
	int		 reauthed;
	struct buf	 auth, base;	/* auth is a secret: wiped */
	sfl_reauth_fn	 reauth;
	sfl_done_fn	 done;
	void		*ud;
};

/* The lookup spec of the payload (a field table: nothing else accepted). */
struct sfl_spec {
	const char	*object;
	const char	*by;
	const char	*from_field;
	const char	*set_field;
};

static int
sfl_api_name(const cJSON *v, const char **why)
{
	if (sf_api_name_ok(v->valuestring))
		return 0;
	*why = "must be an API name";
	return -1;
}

static const struct jv_field spec_fields[] = {
	{ "object", JV_STRING, JV_REQUIRED, 1, 80, offsetof(struct sfl_spec, object), NULL },
	{ "by", JV_STRING, JV_REQUIRED, 1, 80, offsetof(struct sfl_spec, by), NULL },
	{ "from_field", JV_STRING, JV_REQUIRED, 1, 80, offsetof(struct sfl_spec, from_field),
	  sfl_api_name },
	{ "set_field", JV_STRING, JV_REQUIRED, 1, 80, offsetof(struct sfl_spec, set_field),
	  sfl_api_name },
};

struct sfl *
sfl_new(struct sink_env *env, struct kv *kv, const char *scope, size_t rows)
{
	struct sfl	*l = util_calloc(1, sizeof(*l));

	l->scope = scope;
	l->env = env;
	l->cap = rows > 0 ? rows : 1;
	l->items = util_calloc(l->cap, sizeof(*l->items));
	l->kv = kv;
	buf_init(&l->auth, 4096);
	buf_init(&l->base, 1024);
	return l;
}

void
sfl_free(struct sfl *l)
{
	if (l == NULL)
		return;
	sodium_memzero(l->items, l->cap * sizeof(*l->items));
	free(l->items);
	buf_wipe(&l->auth);
	buf_free(&l->base);
	free(l);
}

size_t
sfl_pending(const struct sfl *l)
{
	size_t	 i, n = 0;

	for (i = 0; i < l->n; i++)
		n += l->items[i].waiting != 0;
	return n;
}

/* The phone as logs may show it: the first character only. */
static void
sfl_log(const struct sfl_item *it, const char *phone, const char *what, const char *code)
{
	char	 masked[32];

	log_mask(phone != NULL ? phone : "", masked, sizeof(masked));
	log_kv(LOG_LVL_WARN, "sf_contact_lookup", "outbox_id", it->row->id, "org",
	    it->row->org_id, "phone", masked, "outcome", what, "error", code, NULL);
}

/* The answer into the map: set_field is the Contact's Id, or absent. */
static void
sfl_apply(struct sfl_item *it, const char *id)
{
	cJSON_DeleteItemFromObjectCaseSensitive(it->fields, it->set_field);
	if (id != NULL && id[0] != '\0' &&
	    cJSON_AddStringToObject(it->fields, it->set_field, id) == NULL)
		util_oom();
}

static void
sfl_row_fail(struct sink_row *row, int outcome, const struct sf_result *r)
{
	row->outcome = outcome;
	row->retry_after_s = r->retry_after_s;
	util_strlcpy(row->code, r->error_code[0] ? r->error_code : "CB_LOOKUP",
	    sizeof(row->code));
	snprintf(row->error, sizeof(row->error), "contact lookup: %s %s (HTTP %d)",
	    sf_kind_name(r->kind), r->error_code, r->http_status);
}

void
sfl_plan(struct sfl *l, struct sink_row *row, const cJSON *lookup, cJSON *fields)
{
	struct sfl_spec	 sp;
	struct sfl_item	*it;
	struct jv_error	 je;
	const cJSON	*ph;
	char		 id[CCACHE_ID_BUFSZ];
	size_t		 i;
	int		 hit = 0;

	memset(&sp, 0, sizeof(sp));
	memset(&je, 0, sizeof(je));
	if (!cJSON_IsObject(lookup) ||
	    jv_validate(lookup, spec_fields, sizeof(spec_fields) / sizeof(spec_fields[0]), &sp,
	    &je) != CB_OK || strcmp(sp.object, "Contact") != 0 || strcmp(sp.by, "Phone") != 0) {
		row->outcome = SINK_DEAD;
		util_strlcpy(row->code, "BAD_PAYLOAD", sizeof(row->code));
		snprintf(row->error, sizeof(row->error), "payload.lookup must be {object:"
		    "\"Contact\", by:\"Phone\", from_field, set_field} with API names%s%s",
		    je.field[0] ? ": " : "", je.field);
		return;
	}
	if (l->n == l->cap)
		util_oom();	/* one item per row of the batch: never */
	it = &l->items[l->n++];
	memset(it, 0, sizeof(*it));
	it->l = l;
	it->row = row;
	it->fields = fields;
	util_strlcpy(it->set_field, sp.set_field, sizeof(it->set_field));
	ph = cJSON_GetObjectItemCaseSensitive(fields, sp.from_field);
	if (!cJSON_IsString(ph) || phone_e164(ph->valuestring, NULL, it->e164) != CB_OK) {
		/* Nothing to look up with: the activity goes in unlinked. */
		sfl_apply(it, NULL);
		sfl_log(it, cJSON_IsString(ph) ? ph->valuestring : NULL, "unlinked",
		    cJSON_IsString(ph) ? "CB_BAD_PHONE" : "CB_NO_PHONE");
		return;
	}
	/* Cached (a hit or a known miss), else a query; Redis down: a query. */
	if (ccache_key(it->key, l->env->s->blind_index_key, row->org_id, it->e164) != CB_OK)
		it->key[0] = '\0';
	else if (ccache_get(l->kv, it->key, id, &hit) == CB_OK && hit) {
		sfl_apply(it, id);
		return;
	}
	/* The same number earlier in the batch: one query answers both. */
	for (i = 0; i + 1 < l->n; i++)
		if (l->items[i].waiting && strcmp(l->items[i].e164, it->e164) == 0 &&
		    strcmp(l->items[i].row->org_id, row->org_id) == 0) {
			it->same = &l->items[i];
			return;
		}
	it->waiting = 1;
}

static void	sfl_start(struct sfl_item *);

/* Rows that shared a query take its outcome. */
static void
sfl_share(struct sfl *l)
{
	struct sfl_item	*it, *lead;
	size_t		 i;
	const cJSON	*v;

	for (i = 0; i < l->n; i++) {
		if ((lead = (it = &l->items[i])->same) == NULL)
			continue;
		if (lead->row->outcome != SINK_UNSET) {
			it->row->outcome = lead->row->outcome;
			it->row->retry_after_s = lead->row->retry_after_s;
			util_strlcpy(it->row->code, lead->row->code, sizeof(it->row->code));
			util_strlcpy(it->row->error, lead->row->error, sizeof(it->row->error));
			continue;
		}
		v = cJSON_GetObjectItemCaseSensitive(lead->fields, lead->set_field);
		sfl_apply(it, cJSON_IsString(v) ? v->valuestring : NULL);
	}
}

/* Every query has ended: resend the 401s once with a new token, or finish. */
static void
sfl_settle(struct sfl *l)
{
	struct sf_result r;
	size_t		 i, resend = 0;

	for (i = 0; i < l->n; i++)
		resend += l->items[i].unauthorized && !l->items[i].resent;
	if (resend > 0 && !l->reauthed) {
		l->reauthed = 1;
		buf_wipe(&l->auth);
		buf_init(&l->auth, 4096);
		buf_reset(&l->base);
		if (l->reauth(l->ud, &l->auth, &l->base) == 0) {
			for (i = 0; i < l->n; i++)
				if (l->items[i].unauthorized && !l->items[i].resent) {
					l->items[i].resent = 1;
					l->items[i].unauthorized = 0;
					sfl_start(&l->items[i]);
				}
			if (l->flying > 0)
				return;
		}
	}
	/* Still refused: the row waits for its next attempt. */
	memset(&r, 0, sizeof(r));
	r.kind = SF_RETRY;
	r.http_status = 401;
	util_strlcpy(r.error_code, "INVALID_SESSION_ID", sizeof(r.error_code));
	for (i = 0; i < l->n; i++)
		if (l->items[i].unauthorized && l->items[i].row->outcome == SINK_UNSET)
			sfl_row_fail(l->items[i].row, SINK_RETRY, &r);
	sfl_share(l);
	l->done(l->ud);
}

static void
sfl_answer(const struct httpc_resp *h, void *ud)
{
	struct sfl_item	*it = ud;
	struct sfl	*l = it->l;
	struct sf_result r;
	long long	 ttl;

	l->flying--;
	it->waiting = 0;
	if (h->err == HTTPC_OK && h->status == 401) {
		it->unauthorized = 1;
	} else if (h->err == HTTPC_ABORTED) {
		/* The process is stopping: not the row's fault. */
		it->row->outcome = SINK_GIVE_BACK;
		util_strlcpy(it->row->code, "ABORTED", sizeof(it->row->code));
		util_strlcpy(it->row->error, "contact lookup aborted", sizeof(it->row->error));
	} else {
		(void)sf_query_answer(h, &r);
		switch (r.kind) {
		case SF_FOUND:
			sfl_apply(it, r.id);
			ttl = r.id[0] ? l->env->s->sf_contact_ttl_s : l->env->s->sf_contact_miss_ttl_s;
			if (it->key[0] != '\0')
				(void)ccache_put(l->kv, it->key, r.id, ttl);
			if (r.error_code[0] != '\0')
				sfl_log(it, it->e164, "unlinked", r.error_code);
			break;
		case SF_RETRY:
			if (r.http_status == 403 &&
			    strcmp(r.error_code, "REQUEST_LIMIT_EXCEEDED") == 0) {
				/* The org is out of API calls: the sink waits, as for upserts. */
				sink_pause(l->env, l->scope, SFL_PAUSE_LIMIT_S,
				    "REQUEST_LIMIT_EXCEEDED");
				sfl_row_fail(it->row, SINK_GIVE_BACK, &r);
				break;
			}
			sfl_row_fail(it->row, SINK_RETRY, &r);
			sink_note(l->env, l->scope, "retry", r.error_code);
			break;
		case SF_CONFIG:
			sfl_row_fail(it->row, SINK_GIVE_BACK, &r);
			break;
		default:
			/* The org refused the query itself: deliver unlinked. */
			sfl_apply(it, NULL);
			sfl_log(it, it->e164, "unlinked", r.error_code[0] ? r.error_code : "CB_QUERY");
			break;
		}
	}
	if (l->flying == 0)
		sfl_settle(l);
}

static void
sfl_start(struct sfl_item *it)
{
	struct sfl		*l = it->l;
	struct httpc_req	 q;
	struct buf		 soql, url;
	struct sf_result	 r;

	buf_init(&soql, 2 * PHONE_E164_BUFSZ + 128);
	buf_init(&url, SFL_URL_MAX);
	memset(&r, 0, sizeof(r));
	if (sf_contact_soql(&soql, it->e164) != CB_OK ||
	    sf_query_url(&url, buf_cstr(&l->base), buf_cstr(&soql)) != CB_OK) {
		/* An E.164 number always quotes: a broken invariant, not the row. */
		r.kind = SF_RETRY;
		util_strlcpy(r.error_code, "CB_BAD_REQUEST", sizeof(r.error_code));
		sfl_row_fail(it->row, SINK_RETRY, &r);
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = buf_cstr(&url);
	q.headers[0] = buf_cstr(&l->auth);
	q.headers[1] = "Accept: application/json";
	q.timeout_ms = (long)l->env->s->sf_timeout_ms;
	if (httpc_start(l->env->http, &q, sfl_answer, it) != CB_OK) {
		r.kind = SF_RETRY;
		util_strlcpy(r.error_code, "CB_BAD_REQUEST", sizeof(r.error_code));
		sfl_row_fail(it->row, SINK_RETRY, &r);
		goto out;
	}
	it->waiting = 1;
	l->flying++;
out:
	buf_wipe(&url);
	buf_wipe(&soql);
}

void
sfl_run(struct sfl *l, const char *auth, const char *base, sfl_reauth_fn reauth,
    sfl_done_fn done, void *ud)
{
	size_t	 i;

	l->reauth = reauth;
	l->done = done;
	l->ud = ud;
	buf_reset(&l->auth);
	buf_reset(&l->base);
	if (buf_puts(&l->auth, auth) != CB_OK || buf_puts(&l->base, base) != CB_OK)
		util_oom();
	for (i = 0; i < l->n; i++) {
		if (!l->items[i].waiting)
			continue;
		l->items[i].waiting = 0;
		sfl_start(&l->items[i]);
	}
	if (l->flying == 0) {
		sfl_share(l);
		done(ud);
	}
}
