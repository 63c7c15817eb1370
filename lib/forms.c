/*
 * forms: see forms.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "errs.h"
#include "forms.h"
#include "kv.h"
#include "memo.h"
#include "route.h"
#include "util.h"

#define FORMS_DEF_TTL	"3600"
#define FORMS_CUR_TTL	"30"
#define FORMS_MEMO_DEF_MS	600000.0
#define FORMS_MEMO_CUR_MS	2000.0

static char *
forms_cache_get(struct kv *kv, const char *key)
{
	struct kv_reply	*r = NULL;
	const char	*argv[2] = { "GET", key }, *s;
	size_t		 len;
	char		*out = NULL;

	if (kv_cmd(kv, &r, 2, argv, NULL) == CB_OK && (s = kv_reply_str(r, &len)) != NULL)
		out = util_strndup(s, len);
	kv_reply_free(r);
	return out;
}

static void
forms_cache_set(struct kv *kv, const char *key, const char *val, const char *ttl)
{
	const char	*argv[5] = { "SET", key, val, "EX", ttl };

	(void)kv_cmd(kv, NULL, 5, argv, NULL);
}

/* The definition from a cache value "org|json", if it belongs to org. */
static char *
forms_def_from_cache(const char *v, size_t len, const char *org)
{
	size_t	 n = strlen(org);

	if (len <= n || strncmp(v, org, n) != 0 || v[n] != '|')
		return NULL;
	return util_strndup(v + n + 1, len - n - 1);
}

int
forms_definition(struct app *a, const char *org, const char *form_id, int version, char **out)
{
	struct db_res	*res = NULL;
	char		 key[96], ver[16];
	const char	*v;
	int		 rc;

	*out = NULL;
	snprintf(key, sizeof(key), "cb:formdef:%s:%d", form_id, version);
	/* This process's own memory first: a published version never changes. */
	if (a->memo && (v = memo_get(a->memo, key)) != NULL &&
	    (*out = forms_def_from_cache(v, strlen(v), org)) != NULL)
		return CB_OK;
	/* The cache value carries the org so a cache hit is still tenant-checked. */
	if ((*out = forms_cache_get(a->kv, key)) != NULL) {
		size_t n = strlen(org);

		if (strncmp(*out, org, n) == 0 && (*out)[n] == '|') {
			if (a->memo)
				memo_put(a->memo, key, *out, FORMS_MEMO_DEF_MS);
			memmove(*out, *out + n + 1, strlen(*out + n + 1) + 1);
			return CB_OK;
		}
		free(*out);
		*out = NULL;
	}
	snprintf(ver, sizeof(ver), "%d", version);
	rc = db_query(a->db, &res, "SELECT definition::text FROM form_versions"
	    " WHERE org_id = $1 AND form_id = $2 AND version = $3", 3,
	    (const char *[]){ org, form_id, ver });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	{
		const char	*def = db_val(res, 0, 0);
		size_t		 n = strlen(org) + 1 + strlen(def) + 1;
		char		*cv = util_malloc(n);

		snprintf(cv, n, "%s|%s", org, def);
		forms_cache_set(a->kv, key, cv, FORMS_DEF_TTL);
		if (a->memo)
			memo_put(a->memo, key, cv, FORMS_MEMO_DEF_MS);
		free(cv);
		*out = util_strdup(def);
	}
	db_res_free(res);
	return CB_OK;
}

int
forms_current(struct app *a, const char *org, const char *form_id, int *version)
{
	struct db_res	*res = NULL;
	char		 key[96], *c, val[64];
	long long	 v = 0;
	int		 rc;

	*version = 0;
	snprintf(key, sizeof(key), "cb:formcur:%s", form_id);
	if ((c = forms_cache_get(a->kv, key)) != NULL) {
		char	*bar = strchr(c, '|');

		if (bar && (size_t)(bar - c) == strlen(org) && strncmp(c, org, strlen(org)) == 0 &&
		    util_parse_ll(bar + 1, 0, 1 << 30, &v) == CB_OK) {
			free(c);
			*version = (int)v;
			return CB_OK;
		}
		free(c);
	}
	rc = db_query(a->db, &res, "SELECT coalesce(current_version, 0) FROM forms"
	    " WHERE org_id = $1 AND id = $2", 2, (const char *[]){ org, form_id });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	(void)util_parse_ll(db_val(res, 0, 0), 0, 1 << 30, &v);
	db_res_free(res);
	*version = (int)v;
	snprintf(val, sizeof(val), "%s|%lld", org, v);
	forms_cache_set(a->kv, key, val, FORMS_CUR_TTL);
	return CB_OK;
}


/* The version from a cache value "org|N", if it belongs to org; -1 otherwise. */
static int
forms_cur_from_cache(const char *v, size_t len, const char *org)
{
	char		 tmp[64];
	size_t		 n = strlen(org);
	long long	 x;

	if (len >= sizeof(tmp) || len <= n || strncmp(v, org, n) != 0 || v[n] != '|')
		return -1;
	memcpy(tmp, v + n + 1, len - n - 1);
	tmp[len - n - 1] = '\0';
	return util_parse_ll(tmp, 0, 1 << 30, &x) == CB_OK ? (int)x : -1;
}

int
forms_load(struct app *a, const char *org, const char *form_id, int version,
    char **def, int *current)
{
	char		 kdef[96], kcur[96];
	const char	*argv[3] = { "MGET", kdef, kcur }, *v;
	struct kv_reply	*r = NULL;
	size_t		 len;
	int		 cur = -1;

	*def = NULL;
	*current = 0;
	snprintf(kdef, sizeof(kdef), "cb:formdef:%s:%d", form_id, version);
	snprintf(kcur, sizeof(kcur), "cb:formcur:%s", form_id);
	/*
	 * A published version never changes: this process may remember it.
	 * The current version may lag a publish by FORMS_MEMO_CUR_MS here; it
	 * is advisory (the submit checks the truth in Postgres).
	 */
	if (a->memo && (v = memo_get(a->memo, kdef)) != NULL &&
	    (*def = forms_def_from_cache(v, strlen(v), org)) != NULL &&
	    (v = memo_get(a->memo, kcur)) != NULL &&
	    (cur = forms_cur_from_cache(v, strlen(v), org)) >= 0) {
		*current = cur;
		return CB_OK;
	}
	free(*def);
	*def = NULL;
	if (kv_cmd(a->kv, &r, 3, argv, NULL) == CB_OK && kv_reply_len(r) == 2) {
		if ((v = kv_reply_str(kv_reply_elem(r, 0), &len)) != NULL)
			*def = forms_def_from_cache(v, len, org);
		if ((v = kv_reply_str(kv_reply_elem(r, 1), &len)) != NULL)
			cur = forms_cur_from_cache(v, len, org);
	}
	kv_reply_free(r);
	if (*def == NULL) {
		int rc = forms_definition(a, org, form_id, version, def);

		if (rc != CB_OK)
			return rc;
	}
	if (cur < 0)
		(void)forms_current(a, org, form_id, &cur);
	*current = cur > 0 ? cur : 0;
	if (a->memo) {
		size_t	 n = strlen(org) + strlen(*def) + 2;
		char	*val = util_malloc(n), cv[64];

		snprintf(val, n, "%s|%s", org, *def);
		memo_put(a->memo, kdef, val, FORMS_MEMO_DEF_MS);
		free(val);
		snprintf(cv, sizeof(cv), "%s|%d", org, *current);
		memo_put(a->memo, kcur, cv, FORMS_MEMO_CUR_MS);
	}
	return CB_OK;
}

void
forms_invalidate(struct app *a, const char *form_id)
{
	char		 key[96];
	const char	*argv[2] = { "DEL", key };

	snprintf(key, sizeof(key), "cb:formcur:%s", form_id);
	(void)kv_cmd(a->kv, NULL, 2, argv, NULL);
}
