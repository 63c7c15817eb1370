/*
 * tab: see tab.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "kv.h"
#include "readthrough.h"
#include "req.h"
#include "tab.h"
#include "util.h"

#define TAB_CACHE_TTL	3600	/* Redis */
#define TAB_MEMO_TTL	60	/* this process */

void
tab_token_new(char token[TAB_TOKEN_LEN + 1], char hash_bytea[2 + TAB_HASH_HEX])
{
	memcpy(token, "tab_", 4);
	util_random_token(token + 4, TAB_TOKEN_LEN + 1 - 4, TAB_TOKEN_BYTES);
	(void)tab_token_hash(token, hash_bytea);
}

int
tab_token_hash(const char *token, char hash_bytea[2 + TAB_HASH_HEX])
{
	unsigned char	 h[32];
	size_t		 i;

	if (token == NULL || strlen(token) != TAB_TOKEN_LEN || strncmp(token, "tab_", 4) != 0)
		return CB_ERR_UNAUTHENTICATED;
	for (i = 4; i < TAB_TOKEN_LEN; i++) {
		char c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return CB_ERR_UNAUTHENTICATED;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)token, TAB_TOKEN_LEN, NULL, 0);
	hash_bytea[0] = '\\';
	hash_bytea[1] = 'x';
	util_hex(hash_bytea + 2, h, sizeof(h));
	return CB_OK;
}

int
tab_from_fields(struct tab_ctx *t, const char *id, const char *org, const char *form,
    const char *version, const char *expires)
{
	long long	 v;

	if (strlen(id) != 36 || strlen(form) != 36)
		return -1;
	memcpy(t->ctx_id, id, 37);
	memcpy(t->form_id, form, 37);
	if (util_parse_ll(org, 1, 1LL << 62, &t->org_id) != CB_OK ||
	    util_parse_ll(version, 1, 1 << 30, &v) != CB_OK)
		return -1;
	t->form_version = (int)v;
	if (util_parse_ll(expires, 0, 1LL << 40, &v) != CB_OK)
		return -1;
	t->expires_at = v;
	snprintf(t->org, sizeof(t->org), "%lld", t->org_id);
	return 0;
}

/* Cache format: "ctx_id|org_id|form_id|version|expires_at". */
static int
tab_from_cache(const char *s, size_t len, struct tab_ctx *t)
{
	char		 tmp[160], *f[5], *p;
	int		 i;

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	for (p = tmp, i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, '|');
		if (i < 4) {
			if (p == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	return tab_from_fields(t, f[0], f[1], f[2], f[3], f[4]);
}

/* How long a context may be remembered: its remaining life, capped. */
static long long
tab_ttl_s(const struct tab_ctx *t, long long cap)
{
	long long	 left = t->expires_at - util_now_s();

	return left < cap ? (left > 1 ? left : 1) : cap;
}

/* A cached or new entry: taken when it parses (the expiries follow its life). */
static int
tab_take(struct readthrough *rt, const char *entry, size_t len)
{
	struct tab_ctx	*t = rt->ud;

	if (tab_from_cache(entry, len, t) != 0)
		return -1;
	rt->memo_ms = (double)tab_ttl_s(t, TAB_MEMO_TTL) * 1000.0;
	rt->kv_ttl_s = tab_ttl_s(t, TAB_CACHE_TTL);
	return 0;
}

/* The entry of the context's row, in the cache format. */
static char *
tab_entry(struct readthrough *rt, const struct db_res *res)
{
	char	 val[160];

	(void)rt;
	snprintf(val, sizeof(val), "%s|%s|%s|%s|%s", db_val(res, 0, 0), db_val(res, 0, 1),
	    db_val(res, 0, 2), db_val(res, 0, 3), db_val(res, 0, 4));
	return util_strdup(val);
}

int
tab_lookup(struct db *db, struct kv *kv, struct memo *memo, const char *token,
    struct tab_ctx *t)
{
	char			 hash[2 + TAB_HASH_HEX], key[96];
	const char		*p[1] = { hash };
	struct readthrough	 rt = {
		.key = key, .nparams = 1, .params = p, .missing = CB_ERR_UNAUTHENTICATED,
		.take = tab_take, .entry = tab_entry, .ud = t,
		.sql = "SELECT id, org_id, form_id, form_version,"
		    " extract(epoch FROM expires_at)::bigint FROM contexts"
		    " WHERE tab_token_hash = $1::bytea AND expires_at > now()",
	};
	int			 rc;

	memset(t, 0, sizeof(*t));
	if ((rc = tab_token_hash(token, hash)) != CB_OK)
		return rc;
	snprintf(key, sizeof(key), "cb:tab:%s", hash + 2);
	/* A context never changes: this process may remember it briefly. */
	if ((rc = readthrough_get(&rt, db, kv, memo)) != CB_OK)
		return rc;
	/* A cached context may have expired since; Postgres only answers live ones. */
	return !rt.cached || t->expires_at > util_now_s() ? CB_OK : CB_ERR_UNAUTHENTICATED;
}

int
tab_authenticate(struct req *r)
{
	const char	*tok = req_bearer(r);
	struct tab_ctx	*t;
	int		 rc;

	if (tok == NULL)
		return CB_ERR_UNAUTHENTICATED;
	t = req_alloc(r, sizeof(*t));
	if ((rc = tab_lookup(r->app->db, r->app->kv, r->app->memo, tok, t)) != CB_OK)
		return rc;
	r->auth = t;
	util_strlcpy(r->org, t->org, sizeof(r->org));
	return CB_OK;
}

int
tab_form_authorize(struct req *r)
{
	const struct tab_ctx	*t = r->auth;

	if (strcmp(req_param(r, "form_id"), t->form_id) != 0)
		return CB_ERR_NOT_FOUND;
	return CB_OK;
}
