/*
 * forms: see forms.h.  Both facts (a version's definition, a form's current
 * version) are read the same way: this process's memory, then Redis, then
 * Postgres, each cache value carrying its organisation ("org|value") so a
 * cache hit is still tenant-checked.
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

/* A published definition never changes; the current version moves on publish. */
#define FORMS_DEF_TTL		"3600"
#define FORMS_DEF_MEMO_MS	600000.0
#define FORMS_CUR_TTL		"30"
#define FORMS_CUR_MEMO_MS	2000.0	/* advisory: the submit checks the truth */

/* The value of a cache entry "org|value" if it belongs to org, copied. */
static char *
forms_value(const char *entry, size_t len, const char *org)
{
	size_t	 n = strlen(org);

	if (len <= n || strncmp(entry, org, n) != 0 || entry[n] != '|')
		return NULL;
	return util_strndup(entry + n + 1, len - n - 1);
}

static int
forms_fact(struct app *a, const char *org, const char *key, double memo_ms, const char *ttl,
    const char *sql, int n, const char *const *params, char **out)
{
	struct kv_reply	*r = NULL;
	struct db_res	*res = NULL;
	const char	*argv[5], *v;
	char		*entry;
	size_t		 len;
	int		 rc;

	*out = NULL;
	if (a->memo && (v = memo_get(a->memo, key)) != NULL &&
	    (*out = forms_value(v, strlen(v), org)) != NULL)
		return CB_OK;
	argv[0] = "GET";
	argv[1] = key;
	if (kv_cmd(a->kv, &r, 2, argv, NULL) == CB_OK && (v = kv_reply_str(r, &len)) != NULL &&
	    (*out = forms_value(v, len, org)) != NULL) {
		if (a->memo) {
			entry = util_strndup(v, len);
			memo_put(a->memo, key, entry, memo_ms);
			free(entry);
		}
		kv_reply_free(r);
		return CB_OK;
	}
	kv_reply_free(r);
	if ((rc = db_query(a->db, &res, sql, n, params)) != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_NOT_FOUND;
	}
	len = strlen(org) + strlen(db_val(res, 0, 0)) + 2;
	entry = util_malloc(len);
	snprintf(entry, len, "%s|%s", org, db_val(res, 0, 0));
	/* A cache write failure only costs the next read a query. */
	argv[0] = "SET";
	argv[2] = entry;
	argv[3] = "EX";
	argv[4] = ttl;
	(void)kv_cmd(a->kv, NULL, 5, argv, NULL);
	if (a->memo)
		memo_put(a->memo, key, entry, memo_ms);
	free(entry);
	*out = util_strdup(db_val(res, 0, 0));
	db_res_free(res);
	return CB_OK;
}

int
forms_definition(struct app *a, const char *org, const char *form_id, int version, char **out)
{
	char	 key[96], ver[16];

	snprintf(key, sizeof(key), "cb:formdef:%s:%d", form_id, version);
	snprintf(ver, sizeof(ver), "%d", version);
	return forms_fact(a, org, key, FORMS_DEF_MEMO_MS, FORMS_DEF_TTL,
	    "SELECT definition::text FROM form_versions"
	    " WHERE org_id = $1 AND form_id = $2 AND version = $3", 3,
	    (const char *[]){ org, form_id, ver }, out);
}

int
forms_current(struct app *a, const char *org, const char *form_id, int *version)
{
	char		 key[96], *v = NULL;
	long long	 x = 0;
	int		 rc;

	*version = 0;
	snprintf(key, sizeof(key), "cb:formcur:%s", form_id);
	rc = forms_fact(a, org, key, FORMS_CUR_MEMO_MS, FORMS_CUR_TTL,
	    "SELECT coalesce(current_version, 0)::text FROM forms WHERE org_id = $1 AND id = $2", 2,
	    (const char *[]){ org, form_id }, &v);
	if (rc == CB_OK && util_parse_ll(v, 0, 1 << 30, &x) != CB_OK)
		rc = CB_ERR_INTERNAL;
	free(v);
	*version = (int)x;
	return rc;
}

int
forms_load(struct app *a, const char *org, const char *form_id, int version,
    char **def, int *current)
{
	int	 rc;

	*current = 0;
	if ((rc = forms_definition(a, org, form_id, version, def)) != CB_OK)
		return rc;
	/* Not learning the latest version must not fail the load. */
	(void)forms_current(a, org, form_id, current);
	return CB_OK;
}

void
forms_invalidate(struct kv *kv, const char *form_id)
{
	char		 key[96];
	const char	*argv[2] = { "DEL", key };

	snprintf(key, sizeof(key), "cb:formcur:%s", form_id);
	(void)kv_cmd(kv, NULL, 2, argv, NULL);
}
