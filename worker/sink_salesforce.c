/*
 * sink_salesforce: outbox rows of kind "salesforce.upsert" into Salesforce,
 * up to CB_SF_BATCH (200) records of one sObject and external-id field per
 * sObject Collections call (lib/sf_coll), allOrNone false, so each record's
 * own result decides its row: one bad record is dead-lettered alone,
 * UNABLE_TO_LOCK_ROW is retried alone, the rest are done.
 *
 * Rows go through their tenant's connection (sink_sf.h): its own org when
 * it has one (lib/sfconn.h), else the default (CB_SF_*).  A batch is one
 * tenant's rows of one object, so one connection's; the tenant's object
 * and field mapping is applied as the Collections body is built.  Token,
 * pauses and the API allocation below are each connection's own.
 *
 * A row's payload is {sobject, ext_field, ext_value}; its field map is
 * sealed in payload_sealed (PII, bound to "outbox:<ref_id>:fields").  A
 * value that does not open is dead at once with a reason: never delivered
 * half-empty.  No keyring at all is not the row's fault: given back.
 *
 * The token: one mint per token lifetime for every process and node.  The
 * token is cached sealed in sf_tokens (bound to "sf_tokens:<name>:token");
 * a process that needs one takes a transaction-scoped advisory lock on the
 * name, looks again, and mints only if what it finds is missing, older
 * than CB_SF_SESSION_S - CB_SF_REFRESH_MARGIN_S, or the very token that
 * just answered 401.  Everyone else waits on the lock and reads the new
 * token.  A 401 re-mints once and resends the call once.  The token and
 * the trouble it can bring (pauses, alerts) live in sink_sf_token.c.
 *
 * A row whose payload carries "lookup" has its contact found by phone first
 * (worker/sink_sf_lookup.c: cache, then one query per number, all in
 * flight at once); the upsert stays one Collections call for the batch.
 *
 * Rows of kind "salesforce.delete" (an erasure, cgi/erasures.c) carry
 * {sobject, ext_field, ext_value} and nothing sealed: each is one DELETE of
 * the record by its external id (Salesforce has no Collections delete by
 * external id), the batch's rows one after the other.  204 is done, and so
 * is 404: the record is not there (never created, or deleted already).
 *
 * invalid_grant (and every other OAuth or TLS configuration error) pauses
 * the sink for every worker: its rows wait uncharged, an alert is raised at
 * once, and a probe every CB_SF_PROBE_S (the pause) resumes delivery as
 * soon as the configuration works.  REQUEST_LIMIT_EXCEEDED pauses the sink
 * too; Sforce-Limit-Info past CB_SF_LIMIT_SLOW_PCT slows it to one call at
 * a time and past CB_SF_LIMIT_PAUSE_PCT pauses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alert.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "keyring.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "reseal.h"
#include "seal.h"
#include "sf.h"
#include "sf_coll.h"
#include "sink.h"
#include "sink_sf.h"
#include "sink_sf_lookup.h"
#include "util.h"

#define SFK_BODY_MAX		(8u * 1024u * 1024u)

struct sfk_call {
	struct sfk		*k;
	struct sfc		*conn;		/* the tenant's connection (or the default) */
	struct sink_batch	*b;
	size_t			*idx;		/* rows in the call -> batch index */
	size_t			 n;
	char			 sobject[84], ext_field[84];
	char			 sent_ver[64];	/* the token version the call carried */
	struct buf		 body;
	int			 resent;	/* after a 401 */
	cJSON			**maps;		/* per row: its opened field map, or NULL */
	struct sfl		*lk;		/* the contact lookups */
};

/* ---- rows and calls -------------------------------------------------- */

/* Outcome of one record from its sf_result. */
static void
sfk_row_result(struct sink_row *row, const struct sf_result *r)
{
	char	 msg[400];

	if (r->kind == SF_CREATED || r->kind == SF_UPDATED) {
		row->outcome = SINK_DONE;
		snprintf(row->result, sizeof(row->result),
		    "{\"outcome\":\"%s\",\"record_id\":\"%s\",\"http_status\":%d}",
		    sf_kind_name(r->kind), r->id, r->http_status);
		return;
	}
	if (r->http_status)
		snprintf(msg, sizeof(msg), "HTTP %d %s: %s", r->http_status, r->error_code, r->message);
	else
		snprintf(msg, sizeof(msg), "%s: %s", r->error_code, r->message);
	sink_row_set(row, r->kind == SF_RETRY ? SINK_RETRY : r->kind == SF_CONFIG ? SINK_GIVE_BACK :
	    SINK_DEAD, r->error_code, msg);
	row->retry_after_s = r->retry_after_s;
}

/* The field map of a row into fields.  CB_OK, or the row's outcome is set. */
static int
sfk_open_fields(struct sfk *k, struct sink_row *row, const cJSON *legacy, struct buf *fields)
{
	struct seal_keyring	*kr;
	char			*text;
	int			 rc;

	if (row->sealed == NULL) {
		/* A row written before sealing: its map is in the clear payload. */
		if (!cJSON_IsObject(legacy)) {
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "neither payload_sealed nor payload.fields");
			return CB_ERR_VALIDATION;
		}
		if ((text = cJSON_PrintUnformatted(legacy)) == NULL)
			util_oom();
		rc = buf_puts(fields, text);
		sodium_memzero(text, strlen(text));
		free(text);
		if (rc != CB_OK)
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "payload.fields too large");
		return rc;
	}
	if ((kr = keyring_get(k->env->keys, k->env->db)) == NULL) {
		sink_row_set(row, SINK_GIVE_BACK, "KEYRING_UNAVAILABLE",
		    "the seal keyring could not be loaded from data_keys");
		return CB_ERR_UNAVAILABLE;
	}
	rc = reseal_open_value(kr, "outbox", row->ref_id, row->sealed, fields);
	if (rc == CB_ERR_CRYPTO) {
		/* Perhaps sealed under a key made since we last looked. */
		if ((kr = keyring_recheck(k->env->keys, k->env->db)) != NULL)
			rc = reseal_open_value(kr, "outbox", row->ref_id, row->sealed, fields);
	}
	if (rc != CB_OK) {
		sink_row_set(row, SINK_DEAD, "SEALED_PAYLOAD",
		    "payload_sealed does not open for this row (copied from another row,"
		    " altered, or under an unknown data key): not delivered");
		return rc;
	}
	return CB_OK;
}

/* A batch is one tenant's (so one connection's), one object's and one field's. */
static void
sfk_group(const struct sink_row *row, char *key, size_t keysz)
{
	cJSON		*p = cJSON_Parse(row->payload);
	const cJSON	*o = cJSON_GetObjectItemCaseSensitive(p, "sobject");
	const cJSON	*f = cJSON_GetObjectItemCaseSensitive(p, "ext_field");

	snprintf(key, keysz, "%s/%s/%s/%s", row->org_id, cJSON_IsString(o) ? o->valuestring : "",
	    cJSON_IsString(f) ? f->valuestring : "", row->kind);
	cJSON_Delete(p);
}

static void	sfk_send(struct sfk_call *);

static void
sfk_maps_free(struct sfk_call *c)
{
	size_t	 i;

	if (c->maps == NULL)
		return;
	for (i = 0; i < c->b->n; i++)
		jv_wipe(c->maps[i]);
	free(c->maps);
	c->maps = NULL;
}

static void
sfk_call_end(struct sfk_call *c)
{
	struct sink_batch	*b = c->b;

	if (c->conn != NULL)
		c->conn->in_flight--;
	sfk_maps_free(c);
	sfl_free(c->lk);
	buf_wipe(&c->body);
	free(c->idx);
	free(c);
	sink_batch_done(b);
}

/* "api-usage=18/15000" -> used, limit. */
static void
sfk_limits(struct sfc *k, const char *v)
{
	const char	*p = strstr(v, "api-usage=");
	long long	 used, lim;
	char		 a[24], b[24];
	char		*end;

	if (p == NULL)
		return;
	used = strtoll(p + 10, &end, 10);
	if (*end != '/')
		return;
	lim = strtoll(end + 1, NULL, 10);
	if (used < 0 || lim <= 0)
		return;
	k->used = used;
	k->limit = lim;
	snprintf(a, sizeof(a), "%lld", used);
	snprintf(b, sizeof(b), "%lld", lim);
	(void)db_exec(k->k->env->db, "INSERT INTO sink_status (sink, limit_used, limit_max)"
	    " VALUES ($3, $1, $2) ON CONFLICT (sink) DO UPDATE SET"
	    " limit_used = EXCLUDED.limit_used, limit_max = EXCLUDED.limit_max", 3,
	    (const char *[]){ a, b, k->scope });
	if (used * 100 >= lim * k->k->env->s->sf_limit_pause_pct)
		sink_pause(k->k->env, k->scope, SFK_PAUSE_LIMIT_S, "API allocation nearly spent");
}

/*
 * A call Salesforce answered with an error: its outcome for the call's rows
 * in *call.  1 when the call must be sent again now (a 401: the token was
 * minted again, once per call).
 */
static int
sfk_call_failed(struct sfk_call *c, const struct httpc_resp *h, struct sf_result *call)
{
	struct sfc	*k = c->conn;
	struct sink_env	*env = c->k->env;

	sf_coll_call_error(h->status, h->body.data, h->body.len, call);
	call->retry_after_s = h->retry_after_s > 0 ? h->retry_after_s : 0;
	if (h->status == 401 && !c->resent) {
		/* The token we hold is dead: mint once (single flight), resend once. */
		c->resent = 1;
		if (sfk_token(k, c->sent_ver, call) == CB_OK)
			return 1;
		if (strcmp(call->error_code, "CB_DB_DOWN") != 0)
			sfk_trouble(k, call, 1);
	}
	if (h->status == 403 && strcmp(call->error_code, "REQUEST_LIMIT_EXCEEDED") == 0) {
		/* The whole org is out of API calls: the sink waits, not one row. */
		sink_pause(env, k->scope, SFK_PAUSE_LIMIT_S, "REQUEST_LIMIT_EXCEEDED");
		call->kind = SF_CONFIG;
	}
	sink_note(env, k->scope, call->kind == SF_PERMANENT ? "permanent" : "retry",
	    call->error_code);
	return 0;
}

static void
sfk_done(const struct httpc_resp *h, void *ud)
{
	struct sfk_call		*c = ud;
	struct sfc		*k = c->conn;
	struct sink_env		*env = c->k->env;
	struct sf_result	*rs, call;
	size_t			 i;
	char			 msg[320];

	metrics_observe(MH_SF_CALL, h->elapsed_ms / 1000.0);
	if (h->captured[0][0] != '\0')
		sfk_limits(k, h->captured[0]);
	if (h->err != HTTPC_OK) {
		int out = SINK_RETRY;

		snprintf(msg, sizeof(msg), "%s: %s", httpc_err_name(h->err), h->message);
		if (h->err == HTTPC_TLS || h->err == HTTPC_EGRESS || h->err == HTTPC_BAD_URL) {
			memset(&call, 0, sizeof(call));
			call.kind = SF_CONFIG;
			util_strlcpy(call.error_code, httpc_err_name(h->err), sizeof(call.error_code));
			util_strlcpy(call.message, h->message, sizeof(call.message));
			sfk_trouble(k, &call, 0);
			out = SINK_GIVE_BACK;
		} else if (h->err == HTTPC_ABORTED)
			out = SINK_GIVE_BACK;
		else
			sink_note(env, k->scope, "retry", httpc_err_name(h->err));
		sink_batch_fail(c->b, out, 0, httpc_err_name(h->err), msg);
		sfk_call_end(c);
		return;
	}
	if (h->status == 200) {
		if ((rs = calloc(c->n, sizeof(*rs))) == NULL)
			util_oom();
		if (sf_coll_results(h->body.data, h->body.len, rs, c->n) != CB_OK) {
			sink_batch_fail(c->b, SINK_RETRY, 0, "CB_BAD_RESPONSE",
			    "the Collections answer is not one result per record");
			sink_note(env, k->scope, "retry", "CB_BAD_RESPONSE");
		} else {
			for (i = 0; i < c->n; i++)
				sfk_row_result(&c->b->rows[c->idx[i]], &rs[i]);
			sink_note(env, k->scope, "ok", NULL);
		}
		free(rs);
		sfk_call_end(c);
		return;
	}
	if (sfk_call_failed(c, h, &call)) {
		sfk_send(c);
		return;
	}
	for (i = 0; i < c->n; i++)
		sfk_row_result(&c->b->rows[c->idx[i]], &call);
	sfk_call_end(c);
}

/* A REST call of c: the bearer header, JSON answers, the limit header captured. */
static void
sfk_req(struct httpc_req *q, const struct sfk_call *c, const char *method, const char *url,
    const char *auth)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->url = url;
	q->headers[0] = auth;
	q->headers[1] = "Accept: application/json";
	q->timeout_ms = (long)c->k->env->s->sf_timeout_ms;
	q->capture[0] = "Sforce-Limit-Info";
}

static void
sfk_send(struct sfk_call *c)
{
	struct sfc		*k = c->conn;
	struct httpc_req	 q;
	struct buf		 auth, base, url;
	struct sf_result	 res;

	buf_init(&auth, 4096);
	buf_init(&base, 1024);
	buf_init(&url, 1200);
	util_strlcpy(c->sent_ver, k->token_ver, sizeof(c->sent_ver));
	if (sf_bearer(k->sf, &auth, &base, &res) != CB_OK ||
	    buf_printf(&url, "%s/composite/sobjects/%s/%s", buf_cstr(&base), c->sobject,
	    c->ext_field) != CB_OK) {
		size_t i;

		for (i = 0; i < c->n; i++)
			sfk_row_result(&c->b->rows[c->idx[i]], &res);
		sfk_call_end(c);
		goto out;
	}
	sfk_req(&q, c, "PATCH", buf_cstr(&url), buf_cstr(&auth));
	q.headers[2] = "Content-Type: application/json";
	q.body = c->body.data;
	q.bodylen = c->body.len;
	if (httpc_start(c->k->env->http, &q, sfk_done, c) != CB_OK) {
		sink_batch_fail(c->b, SINK_RETRY, 0, "CB_BAD_REQUEST", "the call could not be started");
		sfk_call_end(c);
	}
out:
	buf_wipe(&auth);
	buf_free(&base);
	buf_free(&url);
}

/* After a 401 on a lookup: the token again (single flight), its header and base. */
static int
sfk_lookup_reauth(void *ud, struct buf *auth, struct buf *base)
{
	struct sfk_call		*c = ud;
	struct sf_result	 res;

	if (sfk_token(c->conn, c->sent_ver, &res) != CB_OK)
		return -1;
	util_strlcpy(c->sent_ver, c->conn->token_ver, sizeof(c->sent_ver));
	return sf_bearer(c->conn->sf, auth, base, &res) == CB_OK ? 0 : -1;
}

/*
 * The tenant's mapping for a row of object o, ext field f (lib/sfconn.h):
 * the object and field it goes to, and its fields renamed in map.
 */
static void
sfk_map_apply(const struct sfc *conn, const char **o, const char **f, cJSON *map)
{
	const cJSON	*m, *v, *e;
	cJSON		*item;

	if (conn->mapping == NULL ||
	    (m = cJSON_GetObjectItemCaseSensitive(conn->mapping, *o)) == NULL)
		return;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(m, "fields"))
		if (cJSON_IsString(e) && (item = cJSON_DetachItemFromObjectCaseSensitive(map,
		    e->string)) != NULL) {
			cJSON_DeleteItemFromObjectCaseSensitive(map, e->valuestring);
			cJSON_AddItemToObject(map, e->valuestring, item);
		}
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(m, "object")))
		*o = v->valuestring;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(m, "ext_field")))
		*f = v->valuestring;
}

/* Every row's map is final (lookups done): the Collections body, then the call. */
static void
sfk_assemble(void *ud)
{
	struct sfk_call		*c = ud;
	struct sink_batch	*b = c->b;
	char			*text;
	size_t			 i;

	(void)sf_coll_begin(&c->body);
	for (i = 0; i < b->n; i++) {
		struct sink_row	*row = &b->rows[i];
		cJSON		*p;
		const cJSON	*v;
		const char	*o, *f;

		if (c->maps[i] == NULL || row->outcome != SINK_UNSET)
			continue;
		p = cJSON_Parse(row->payload);
		o = cJSON_GetObjectItemCaseSensitive(p, "sobject")->valuestring;
		f = cJSON_GetObjectItemCaseSensitive(p, "ext_field")->valuestring;
		v = cJSON_GetObjectItemCaseSensitive(p, "ext_value");
		sfk_map_apply(c->conn, &o, &f, c->maps[i]);
		if ((text = cJSON_PrintUnformatted(c->maps[i])) == NULL)
			util_oom();
		if (c->n == 0) {
			util_strlcpy(c->sobject, o, sizeof(c->sobject));
			util_strlcpy(c->ext_field, f, sizeof(c->ext_field));
		}
		if (strcmp(c->sobject, o) != 0 || strcmp(c->ext_field, f) != 0 ||
		    strcmp(row->org_id, b->rows[0].org_id) != 0)
			sink_row_set(row, SINK_RETRY, "CB_GROUP", "batched with another object");
		else if (sf_coll_add(&c->body, o, f, v->valuestring, text) != CB_OK)
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD",
			    "the field map is not a JSON object, or a name is not an API name");
		else
			c->idx[c->n++] = i;
		sodium_memzero(text, strlen(text));
		free(text);
		cJSON_Delete(p);
	}
	(void)sf_coll_end(&c->body);
	sfk_maps_free(c);
	if (c->n == 0) {
		sfk_call_end(c);
		return;
	}
	sfk_send(c);
}

/* Open a row's field map into c->maps[i]; plan its lookup.  Else its outcome is set. */
static void
sfk_prepare(struct sfk_call *c, size_t i, struct buf *fields)
{
	struct sink_row	*row = &c->b->rows[i];
	cJSON		*p = cJSON_Parse(row->payload);
	const cJSON	*o = cJSON_GetObjectItemCaseSensitive(p, "sobject");
	const cJSON	*f = cJSON_GetObjectItemCaseSensitive(p, "ext_field");
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(p, "ext_value");
	const cJSON	*lookup = cJSON_GetObjectItemCaseSensitive(p, "lookup");
	struct jv_error	 je;

	if (!cJSON_IsString(o) || !cJSON_IsString(f) || !cJSON_IsString(v)) {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "sobject, ext_field or ext_value missing");
		goto out;
	}
	if (sfk_open_fields(c->k, row, cJSON_GetObjectItemCaseSensitive(p, "fields"),
	    fields) != CB_OK)
		goto out;
	if (jv_parse(fields->data, fields->len, &c->maps[i], &je) != CB_OK ||
	    !cJSON_IsObject(c->maps[i])) {
		sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD", "the field map is not a JSON object");
		jv_wipe(c->maps[i]);
		c->maps[i] = NULL;
		goto out;
	}
	if (lookup != NULL)
		sfl_plan(c->lk, row, lookup, c->maps[i]);
out:
	cJSON_Delete(p);
}

/* ---- deletions by external id ------------------------------------------ */

static int
sfk_is_delete(const struct sink_row *row)
{
	return strcmp(row->kind, "salesforce.delete") == 0;
}

static void	sfk_del_next(struct sfk_call *);

/* The answer to the DELETE of row c->n. */
static void
sfk_del_done(const struct httpc_resp *h, void *ud)
{
	struct sfk_call		*c = ud;
	struct sink_row		*row = &c->b->rows[c->n];
	struct sfc		*k = c->conn;
	struct sink_env		*env = c->k->env;
	struct sf_result	 call;
	char			 msg[320];

	metrics_observe(MH_SF_CALL, h->elapsed_ms / 1000.0);
	if (h->captured[0][0] != '\0')
		sfk_limits(k, h->captured[0]);
	if (h->err != HTTPC_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", httpc_err_name(h->err), h->message);
		sink_row_set(row, h->err == HTTPC_ABORTED ? SINK_GIVE_BACK : SINK_RETRY,
		    httpc_err_name(h->err), msg);
		if (h->err != HTTPC_ABORTED)
			sink_note(env, k->scope, "retry", httpc_err_name(h->err));
	} else if (h->status == 200 || h->status == 204 || h->status == 404) {
		row->outcome = SINK_DONE;
		snprintf(row->result, sizeof(row->result), "{\"outcome\":\"%s\",\"http_status\":%ld}",
		    h->status == 404 ? "absent" : "deleted", (long)h->status);
		sink_note(env, k->scope, "ok", NULL);
	} else {
		if (sfk_call_failed(c, h, &call)) {
			sfk_del_next(c);	/* the same row again, with the new token */
			return;
		}
		sfk_row_result(row, &call);
	}
	c->n++;
	c->resent = 0;
	sfk_del_next(c);
}

/*
 * DELETE the next row's record, or end the call after the last.  A row
 * that cannot be sent gets its outcome here and the loop goes on.
 */
static void
sfk_del_next(struct sfk_call *c)
{
	struct sink_batch	*b = c->b;
	struct sink_row		*row;
	struct httpc_req	 q;
	struct buf		 auth, base, url;
	struct sf_result	 res;
	cJSON			*p, *none;
	const cJSON		*ov, *fv, *vv;
	const char		*o, *f;
	int			 sent;

	for (;; c->n++, c->resent = 0) {
		while (c->n < b->n && b->rows[c->n].outcome != SINK_UNSET)
			c->n++;
		if (c->n == b->n) {
			sfk_call_end(c);
			return;
		}
		row = &b->rows[c->n];
		sent = 0;
		buf_init(&auth, 4096);
		buf_init(&base, 1024);
		buf_init(&url, 2048);
		p = cJSON_Parse(row->payload);
		none = cJSON_CreateObject();
		ov = cJSON_GetObjectItemCaseSensitive(p, "sobject");
		fv = cJSON_GetObjectItemCaseSensitive(p, "ext_field");
		vv = cJSON_GetObjectItemCaseSensitive(p, "ext_value");
		o = cJSON_IsString(ov) ? ov->valuestring : NULL;
		f = cJSON_IsString(fv) ? fv->valuestring : NULL;
		if (o == NULL || f == NULL || !cJSON_IsString(vv) || vv->valuestring[0] == '\0') {
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD",
			    "sobject, ext_field or ext_value missing");
			goto next;
		}
		sfk_map_apply(c->conn, &o, &f, none);
		util_strlcpy(c->sent_ver, c->conn->token_ver, sizeof(c->sent_ver));
		if (sf_bearer(c->conn->sf, &auth, &base, &res) != CB_OK) {
			sfk_row_result(row, &res);
			goto next;
		}
		if (!sf_api_name_ok(o) || !sf_api_name_ok(f) ||
		    buf_printf(&url, "%s/sobjects/%s/%s/", buf_cstr(&base), o, f) != CB_OK ||
		    sf_escape(&url, vv->valuestring) != CB_OK) {
			sink_row_set(row, SINK_DEAD, "BAD_PAYLOAD",
			    "not an API name, or the value is too long");
			goto next;
		}
		sfk_req(&q, c, "DELETE", buf_cstr(&url), buf_cstr(&auth));
		if (httpc_start(c->k->env->http, &q, sfk_del_done, c) == CB_OK)
			sent = 1;
		else
			sink_row_set(row, SINK_RETRY, "CB_BAD_REQUEST", "the call could not be started");
next:
		buf_wipe(&auth);
		buf_free(&base);
		buf_free(&url);
		cJSON_Delete(none);
		cJSON_Delete(p);
		if (sent)
			return;
	}
}

static void
sfk_start(void *state, struct sink_batch *b)
{
	struct sfk		*k = state;
	struct sfk_call		*c;
	struct sfc		*conn;
	struct sf_result	 res;
	struct buf		 fields, auth, base;
	size_t			 i;
	int			 rc;

	if ((c = calloc(1, sizeof(*c))) == NULL || (c->idx = calloc(b->n, sizeof(*c->idx))) == NULL)
		util_oom();
	c->k = k;
	c->b = b;
	buf_init(&c->body, SFK_BODY_MAX);
	/* The tenant's connection: its own, or the default. */
	if ((c->conn = sfk_conn(k, b->rows[0].org_id)) == NULL) {
		sink_batch_fail(b, SINK_GIVE_BACK, 0, "CB_DB_DOWN",
		    "the tenant's Salesforce connection could not be read");
		sfk_call_end(c);
		return;
	}
	conn = c->conn;
	conn->in_flight++;
	/* The token first: without one no row is touched. */
	if ((rc = sfk_token(conn, NULL, &res)) != CB_OK) {
		char msg[340];

		snprintf(msg, sizeof(msg), "%s: %s", res.error_code, res.message);
		if (rc != CB_ERR_DB_DOWN)
			sfk_trouble(conn, &res, 1);
		if (res.kind != SF_CONFIG)
			sink_note(k->env, conn->scope, "retry", res.error_code);
		sink_batch_fail(b, res.kind == SF_CONFIG || rc == CB_ERR_DB_DOWN ? SINK_GIVE_BACK :
		    SINK_RETRY, res.retry_after_s, res.error_code, msg);
		sfk_call_end(c);
		return;
	}
	if (sfk_is_delete(&b->rows[0])) {
		/* A batch is one kind's (sfk_group): deletions, one call per row. */
		sfk_del_next(c);
		return;
	}
	c->maps = util_calloc(b->n, sizeof(*c->maps));
	c->lk = sfl_new(k->env, k->kv, conn->scope, b->n);
	for (i = 0; i < b->n; i++) {
		buf_init(&fields, SEAL_MAX_PLAIN);
		sfk_prepare(c, i, &fields);
		buf_wipe(&fields);
	}
	if (sfl_pending(c->lk) == 0) {
		sfk_assemble(c);
		return;
	}
	/* Contacts to look up: every query at once, then the one upsert call. */
	buf_init(&auth, 4096);
	buf_init(&base, 1024);
	util_strlcpy(c->sent_ver, conn->token_ver, sizeof(c->sent_ver));
	if (sf_bearer(conn->sf, &auth, &base, &res) != CB_OK) {
		for (i = 0; i < b->n; i++)
			if (b->rows[i].outcome == SINK_UNSET)
				sfk_row_result(&b->rows[i], &res);
		sfk_call_end(c);
	} else
		sfl_run(c->lk, buf_cstr(&auth), buf_cstr(&base), sfk_lookup_reauth, sfk_assemble, c);
	buf_wipe(&auth);
	buf_free(&base);
}

static size_t
sfk_max_rows(void *state)
{
	struct sfk	*k = state;

	return (size_t)k->env->s->sf_batch;
}

static int
sfk_room(void *state)
{
	struct sfk	*k = state;
	struct sfc	*c;

	/*
	 * Near an org's daily allocation: one call at a time for that org.
	 * The engine asks before it knows whose batch comes next, so an org in
	 * that state with a call in flight holds the start of others' calls
	 * only until its call ends (never its pause: that is per connection).
	 */
	for (c = &k->dflt; c != NULL; c = c == &k->dflt ? k->conns : c->next)
		if (c->limit > 0 && c->used * 100 >= c->limit * k->env->s->sf_limit_slow_pct &&
		    c->in_flight > 0)
			return 0;
	return 1;
}

static void
sfk_tick(void *state)
{
	struct sfk		*k = state;
	struct sfc		*c;
	struct sf_result	 res;
	double			 fresh_s = (double)(k->env->s->sf_session_s -
			    k->env->s->sf_refresh_margin_s);

	/* Refresh ahead of expiry, only while the token is in use. */
	for (c = &k->dflt; c != NULL; c = c == &k->dflt ? k->conns : c->next)
		if (c->sf != NULL && c->token_ver[0] != '\0' &&
		    (double)time(NULL) - c->token_epoch >= fresh_s)
			(void)sfk_token(c, NULL, &res);
}

static int
sfk_open(struct sink_env *env, void **state)
{
	struct sfk	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		util_oom();
	k->env = env;
	k->kv = kv_open(env->s->redis_host, (int)env->s->redis_port, env->s->redis_password,
	    (int)env->s->redis_timeout_ms);
	kv_set_breaker(k->kv, (int)env->s->kv_breaker_failures, (int)env->s->kv_breaker_cooloff_ms);
	sfk_default_init(k);
	*state = k;
	return CB_OK;
}

static void
sfk_close(void *state)
{
	struct sfk	*k = state;

	if (k == NULL)
		return;
	sfk_conns_free(k);
	kv_close(k->kv);
	free(k);
}

const struct sink sink_salesforce = {
	.name = "salesforce",
	.batch_max = SF_COLL_MAX,
	.group_key = sfk_group,
	.open = sfk_open,
	.close = sfk_close,
	.max_rows = sfk_max_rows,
	.room = sfk_room,
	.start = sfk_start,
	.tick = sfk_tick,
};
