/*
 * idem: see idem.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "fail.h"
#include "idem.h"
#include "log.h"
#include "req.h"
#include "util.h"

int
idem_parse(const char *h, char *out, size_t outsz)
{
	size_t	 n, i;

	if (h == NULL)
		return CB_ERR_IDEM_MISSING;
	n = util_trim_ows(&h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
		/* sf-string escapes (\" and \\) are not worth supporting in keys. */
		if (memchr(h, '\\', n) || memchr(h, '"', n))
			return CB_ERR_IDEM_MISSING;
	} else if (memchr(h, '"', n) || memchr(h, ',', n) || memchr(h, '\\', n))
		/* half-quoted, several keys, or a key its sf-string could not carry */
		return CB_ERR_IDEM_MISSING;
	if (n == 0 || n > IDEM_KEY_MAX || n >= outsz)
		return CB_ERR_IDEM_MISSING;
	for (i = 0; i < n; i++)
		if (h[i] < 0x21 || h[i] > 0x7e)
			return CB_ERR_IDEM_MISSING;
	memcpy(out, h, n);
	out[n] = '\0';
	return CB_OK;
}

static void
idem_fingerprint(const struct req *r, char out[2 + 64 + 1])
{
	crypto_hash_sha256_state st;
	unsigned char		 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)r->method, strlen(r->method) + 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)r->uri, strlen(r->uri) + 1);
	if (r->body_len)
		crypto_hash_sha256_update(&st, (const unsigned char *)r->body, r->body_len);
	crypto_hash_sha256_final(&st, h);
	out[0] = '\\';
	out[1] = 'x';
	util_hex(out + 2, h, sizeof(h));
}

int
idem_prepare(struct req *r, struct idem *id, const char *org, const char *scope)
{
	int	 rc;

	memset(id, 0, sizeof(*id));
	rc = idem_parse(req_header(r, "Idempotency-Key"), id->key, sizeof(id->key));
	if (rc != CB_OK)
		return route_fail(r, rc, req_header(r, "Idempotency-Key") ?
		    "Idempotency-Key must be a quoted string of 1 to 255 printable characters" :
		    "this request requires an Idempotency-Key header");
	util_strlcpy(id->org, org, sizeof(id->org));
	util_strlcpy(id->scope, scope, sizeof(id->scope));
	idem_fingerprint(r, id->fp);
	return CB_OK;
}

int
idem_lock_timed_out(const struct db *db)
{
	return strcmp(db_sqlstate(db), "55P03") == 0;
}

int
idem_stored_answer(struct req *r, const char *matches, const char *status, const char *response)
{
	long long	 st = 500;

	if (matches == NULL || strcmp(matches, "t") != 0)
		return route_fail(r, CB_ERR_IDEM_MISMATCH,
		    "this Idempotency-Key was already used with a different request");
	(void)util_parse_ll(status, 100, 599, &st);
	if (response == NULL)
		response = "";
	resp_header(r, "Idempotent-Replayed", "true");
	resp_body(r, (int)st, st < 400 ? "application/json" : "application/problem+json",
	    response, strlen(response));
	log_kv(LOG_LVL_INFO, "idempotent_replay", NULL);
	return CB_OK;
}

int
idem_begin(struct req *r, struct idem *id, const char *org, const char *scope)
{
	struct db	*db = r->app->db;
	struct db_res	*res = NULL;
	char		 ttl[24];
	int		 rc;

	if ((rc = idem_prepare(r, id, org, scope)) != CB_OK)
		return rc;
	snprintf(ttl, sizeof(ttl), "%lld", r->app->settings.idem_ttl_s);

	/* A request holding this key is still running: do not wait long. */
	if ((rc = db_begin_with(db, "SET LOCAL lock_timeout = '300ms'")) != CB_OK)
		return rc;
	rc = db_query(db, &res, "WITH " IDEM_CLAIM_CTE("$1", "$2", "$3", "$4", "$5", "$6",
	    "0", "''", "$7") " SELECT 1 FROM k", 7,
	    (const char *[]){ id->org, id->scope, id->key, r->method, r->uri, id->fp, ttl });
	if (rc != CB_OK) {
		if (idem_lock_timed_out(db))
			rc = CB_ERR_IDEM_IN_FLIGHT;
		goto fail;
	}
	if (db_rows(res) == 1) {
		db_res_free(res);
		return CB_OK;		/* claimed: the effect follows in this transaction */
	}
	db_res_free(res);
	res = NULL;

	/* The key was used before and that request committed. */
	rc = db_query(db, &res, "SELECT * FROM " IDEM_STORED_SQL("$1", "$2", "$3", "$4", "$5", "$6"),
	    6, (const char *[]){ id->org, id->scope, id->key, id->fp, r->method, r->uri });
	if (rc != CB_OK)
		goto fail;
	db_rollback(db);
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_IDEM_IN_FLIGHT;	/* purged between the two statements */
	}
	rc = idem_stored_answer(r, db_val(res, 0, 0), db_val(res, 0, 1), db_val(res, 0, 2));
	db_res_free(res);
	id->from_store = rc == CB_OK;
	return rc;
fail:
	db_res_free(res);
	db_rollback(db);
	return rc;
}

int
idem_finish(struct req *r, struct idem *id)
{
	struct db	*db = r->app->db;
	char		 st[8];
	int		 rc;

	snprintf(st, sizeof(st), "%d", r->status);
	/* The stored answer and the commit travel together: one round trip. */
	rc = db_exec_commit(db, "UPDATE idempotency_keys SET status = $4, response = $5"
	    " WHERE org_id = $1 AND scope = $2 AND idem_key = $3", 5,
	    (const char *[]){ id->org, id->scope, id->key, st,
	    r->idem_stored ? r->idem_stored : buf_cstr(&r->out) });
	if (rc != CB_OK) {
		/* Nothing was committed: the client's retry will do it again. */
		r->responded = 0;
		buf_reset(&r->out);
		buf_reset(&r->headers);
	}
	return rc;
}

void
idem_abort(struct req *r, struct idem *id)
{
	(void)id;
	db_rollback(r->app->db);
}

void
idem_remember(struct req *r, struct idem *id)
{
	char	 st[8], ttl[24];

	snprintf(st, sizeof(st), "%d", r->status);
	snprintf(ttl, sizeof(ttl), "%lld", r->app->settings.idem_ttl_s);
	if (db_exec(r->app->db, "WITH " IDEM_CLAIM_CTE("$1", "$2", "$3", "$4", "$5", "$6", "$7",
	    "$8", "$9") " SELECT 1 FROM k", 9, (const char *[]){ id->org, id->scope, id->key,
	    r->method, r->uri, id->fp, st, buf_cstr(&r->out), ttl }) != CB_OK)
		log_kv(LOG_LVL_WARN, "idempotent_refusal_not_kept", "status", st, NULL);
}
