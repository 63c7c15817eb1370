/* audit: the hash-chained audit trail (audit.h, sql/0010_audit.up.sql). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <sodium.h>

#include "audit.h"
#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "util.h"

#define AUDIT_WALK_BATCH	"1000"
#define AUDIT_HASH_BYTES	32

/*
 * The table's own constraints are the rules (sql/0010_audit.up.sql): a row
 * they refuse (23502 not null, 23514 check, 22P02 not JSON) is the
 * caller's mistake, CB_ERR_VALIDATION, and nothing is written.
 */
int
audit_append(struct db *db, const char *org, const char *actor, const char *action,
    const char *subject, const char *detail_json)
{
	const char	*st;
	int		 rc;

	rc = db_exec(db, AUDIT_INSERT("$1", "$2", "$3", "$4", "coalesce($5, '{}')"), 5,
	    (const char *[]){ org, actor, action, subject, detail_json });
	if (rc == CB_ERR_DB && (st = db_sqlstate(db)) != NULL && (strcmp(st, "23502") == 0 ||
	    strcmp(st, "23514") == 0 || strcmp(st, "22P02") == 0))
		return CB_ERR_VALIDATION;
	return rc;
}

const char *
audit_actor(const char *who, const char **cli_user)
{
	*cli_user = NULL;
	if (who == NULL || strncmp(who, "cli:", 4) != 0)
		return who;
	*cli_user = who;
	return AUDIT_ACTOR_OPERATOR;
}

char *
audit_detailv(const char *key, va_list ap)
{
	const char	*k, *v;
	cJSON		*o;

	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	for (k = key; k != NULL; k = va_arg(ap, const char *)) {
		v = va_arg(ap, const char *);
		if ((v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k)) == NULL)
			util_oom();
	}
	return jv_take_text(o);
}

char *
audit_detail(const char *key, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, key);
	text = audit_detailv(key, ap);
	va_end(ap);
	return text;
}

int
audit_seal(struct db *db, int batch, long long *sealed)
{
	struct db_res	*res = NULL;
	char		 lim[24];
	int		 rc;

	*sealed = 0;
	snprintf(lim, sizeof(lim), "%d", batch > 0 ? batch : 1);
	if ((rc = db_query(db, &res, "SELECT cb_audit_seal($1::int)", 1,
	    (const char *[]){ lim })) == CB_OK && db_rows(res) == 1)
		(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 40, sealed);
	db_res_free(res);
	return rc;
}

/* "<len>:<value>" as cb_audit_text writes a free-text field. */
static void
field(struct buf *b, const char *v)
{
	buf_printf(b, "\n%zu:%s", strlen(v), v);
}

static int
unhex(const char *h, unsigned char out[AUDIT_HASH_BYTES])
{
	size_t	 bin = 0;

	return h != NULL && strlen(h) == 2 * AUDIT_HASH_BYTES &&
	    sodium_hex2bin(out, AUDIT_HASH_BYTES, h, strlen(h), NULL, &bin, NULL) == 0 &&
	    bin == AUDIT_HASH_BYTES ? 0 : -1;
}

static int
broken(struct audit_report *r, long long seq, long long id, const char *why)
{
	r->bad_seq = seq;
	r->bad_id = id;
	util_strlcpy(r->why, why, sizeof(r->why));
	return CB_ERR_CRYPTO;
}

/* The columns of a row as the walk reads them, in chain order after $1. */
static const char walk_sql[] =
    "SELECT chain_seq, id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " coalesce(org_id::text, '-'), actor, action, subject, detail::text,"
    " encode(prev_hash, 'hex'), encode(hash, 'hex')"
    " FROM audit_log WHERE chain_seq > $1::bigint ORDER BY chain_seq LIMIT " AUDIT_WALK_BATCH;

int
audit_verify(struct db *db, struct audit_report *r)
{
	unsigned char	 prev[AUDIT_HASH_BYTES], got_prev[AUDIT_HASH_BYTES];
	unsigned char	 stored[AUDIT_HASH_BYTES], calc[AUDIT_HASH_BYTES];
	unsigned char	 head[AUDIT_HASH_BYTES];
	struct db_res	*res = NULL;
	struct buf	 t;
	char		 after[24];
	long long	 seq = 0, want, id;
	size_t		 i, n;
	int		 rc;

	memset(r, 0, sizeof(*r));
	memset(prev, 0, sizeof(prev));
	if ((rc = db_query(db, &res, "SELECT chain_seq, encode(hash, 'hex'),"
	    " (SELECT count(*) FROM audit_log WHERE chain_seq IS NULL) FROM audit_head", 0,
	    NULL)) != CB_OK)
		return rc;
	if (db_rows(res) != 1 || unhex(db_val(res, 0, 1), head) != 0) {
		db_res_free(res);
		return broken(r, 0, 0, "the chain's head row is missing or malformed");
	}
	(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 62, &r->head_seq);
	util_strlcpy(r->head_hash, db_val(res, 0, 1), sizeof(r->head_hash));
	(void)util_parse_ll(db_val(res, 0, 2), 0, 1LL << 62, &r->unsealed);
	db_res_free(res);
	res = NULL;

	buf_init(&t, 1024);
	for (;;) {
		snprintf(after, sizeof(after), "%lld", seq);
		if ((rc = db_query(db, &res, walk_sql, 1, (const char *[]){ after })) != CB_OK)
			break;
		if ((n = db_rows(res)) == 0)
			break;
		for (i = 0; i < n; i++) {
			want = seq + 1;
			(void)util_parse_ll(db_val(res, i, 0), 0, 1LL << 62, &seq);
			(void)util_parse_ll(db_val(res, i, 1), 0, 1LL << 62, &id);
			if (seq != want) {
				rc = broken(r, seq, id, seq > want ? "rows are missing before this"
				    " one (removed from the chain)" : "chain_seq out of order");
				goto out;
			}
			if (unhex(db_val(res, i, 8), got_prev) != 0 ||
			    unhex(db_val(res, i, 9), stored) != 0) {
				rc = broken(r, seq, id, "its hashes are malformed");
				goto out;
			}
			if (sodium_memcmp(got_prev, prev, sizeof(prev)) != 0) {
				rc = broken(r, seq, id, "it does not follow the row before it"
				    " (moved, or the row before was altered or removed)");
				goto out;
			}
			buf_reset(&t);
			buf_printf(&t, "cb-audit-v1\n%lld\n%lld\n%s\n%s", seq, id, db_val(res, i, 2),
			    db_val(res, i, 3));
			field(&t, db_val(res, i, 4));
			field(&t, db_val(res, i, 5));
			field(&t, db_val(res, i, 6));
			field(&t, db_val(res, i, 7));
			{
				crypto_hash_sha256_state st;

				crypto_hash_sha256_init(&st);
				crypto_hash_sha256_update(&st, prev, sizeof(prev));
				crypto_hash_sha256_update(&st, (const unsigned char *)t.data, t.len);
				crypto_hash_sha256_final(&st, calc);
			}
			if (sodium_memcmp(calc, stored, sizeof(calc)) != 0) {
				rc = broken(r, seq, id, "altered: its content does not match its hash");
				goto out;
			}
			memcpy(prev, stored, sizeof(prev));
			r->rows++;
		}
		db_res_free(res);
		res = NULL;
	}
	if (rc == CB_OK && seq != r->head_seq)
		rc = broken(r, seq + 1, 0, seq < r->head_seq ? "rows are missing at the end of"
		    " the chain (the head is further on)" : "the head is behind the chain");
	else if (rc == CB_OK && sodium_memcmp(prev, head, sizeof(head)) != 0)
		rc = broken(r, 0, 0, "the head's hash is not the last row's");
out:
	db_res_free(res);
	buf_free(&t);
	return rc;
}
