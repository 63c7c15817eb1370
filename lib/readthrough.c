/*
 * readthrough: see readthrough.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "errs.h"
#include "kv.h"
#include "memo.h"
#include "readthrough.h"
#include "util.h"

/* Redis's entry, taken and remembered in the memo; 0 when it was usable. */
static int
readthrough_kv(struct readthrough *rt, struct kv *kv, struct memo *memo)
{
	const char	*argv[2] = { "GET", rt->key }, *v;
	struct kv_reply	*r = NULL;
	char		*entry;
	size_t		 len;
	int		 rc = -1;

	if (kv_cmd(kv, &r, 2, argv, NULL) == CB_OK && (v = kv_reply_str(r, &len)) != NULL &&
	    rt->take(rt, v, len) == 0) {
		if (memo) {
			entry = util_strndup(v, len);
			memo_put(memo, rt->key, entry, rt->memo_ms);
			free(entry);
		}
		rc = 0;
	}
	kv_reply_free(r);
	return rc;
}

int
readthrough_get(struct readthrough *rt, struct db *db, struct kv *kv, struct memo *memo)
{
	struct db_res	*res = NULL;
	const char	*argv[5], *v;
	char		*entry, ttl[24];
	int		 rc;

	rt->cached = 1;
	if (memo && (v = memo_get(memo, rt->key)) != NULL && rt->take(rt, v, strlen(v)) == 0)
		return CB_OK;
	if (kv && readthrough_kv(rt, kv, memo) == 0)
		return CB_OK;
	rt->cached = 0;
	if ((rc = db_query(db, &res, rt->sql, rt->nparams, rt->params)) != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return rt->missing;
	}
	entry = rt->entry(rt, res);
	db_res_free(res);
	if (rt->take(rt, entry, strlen(entry)) != 0) {
		free(entry);
		return CB_ERR_INTERNAL;
	}
	if (memo)
		memo_put(memo, rt->key, entry, rt->memo_ms);
	if (kv) {
		snprintf(ttl, sizeof(ttl), "%lld", rt->kv_ttl_s);
		argv[0] = "SET";
		argv[1] = rt->key;
		argv[2] = entry;
		argv[3] = "EX";
		argv[4] = ttl;
		/* A cache write failure only costs the next read a query. */
		(void)kv_cmd(kv, NULL, 5, argv, NULL);
	}
	free(entry);
	return CB_OK;
}
