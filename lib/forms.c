/*
 * forms: see forms.h.  Both facts (a version's definition, a form's current
 * version) are read the same way (lib/readthrough.h): this process's
 * memory, then Redis, then Postgres, each cache value carrying its
 * organisation ("org|value") so a cache hit is still tenant-checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "forms.h"
#include "kv.h"
#include "readthrough.h"
#include "util.h"

/* A published definition never changes; the current version moves on publish. */
#define FORMS_DEF_TTL_S		3600
#define FORMS_DEF_MEMO_MS	600000.0
#define FORMS_CUR_TTL_S		30
#define FORMS_CUR_MEMO_MS	2000.0	/* advisory: the submit checks the truth */

/* What forms_fact reads for: the tenant, and the value taken. */
struct forms_read {
	const char	*org;
	char		*out;
};

/* A cache entry "org|value" is taken if it belongs to org: the value, copied. */
static int
forms_take(struct readthrough *rt, const char *entry, size_t len)
{
	struct forms_read	*fr = rt->ud;
	size_t			 n = strlen(fr->org);

	if (len <= n || strncmp(entry, fr->org, n) != 0 || entry[n] != '|')
		return -1;
	free(fr->out);
	fr->out = util_strndup(entry + n + 1, len - n - 1);
	return 0;
}

/* The entry of the row: "org|value". */
static char *
forms_entry(struct readthrough *rt, const struct db_res *res)
{
	const struct forms_read	*fr = rt->ud;
	size_t			 len = strlen(fr->org) + strlen(db_val(res, 0, 0)) + 2;
	char			*entry = util_malloc(len);

	snprintf(entry, len, "%s|%s", fr->org, db_val(res, 0, 0));
	return entry;
}

static int
forms_fact(struct app *a, const char *org, const char *key, double memo_ms, long long ttl_s,
    const char *sql, int n, const char *const *params, char **out)
{
	struct forms_read	 fr = { org, NULL };
	struct readthrough	 rt = {
		.key = key, .sql = sql, .nparams = n, .params = params,
		.missing = CB_ERR_NOT_FOUND, .memo_ms = memo_ms, .kv_ttl_s = ttl_s,
		.take = forms_take, .entry = forms_entry, .ud = &fr,
	};
	int			 rc;

	rc = readthrough_get(&rt, a->db, a->kv, a->memo);
	if (rc != CB_OK) {
		free(fr.out);
		fr.out = NULL;
	}
	*out = fr.out;
	return rc;
}

int
forms_definition(struct app *a, const char *org, const char *form_id, int version, char **out)
{
	char	 key[96], ver[16];

	snprintf(key, sizeof(key), "cb:formdef:%s:%d", form_id, version);
	snprintf(ver, sizeof(ver), "%d", version);
	return forms_fact(a, org, key, FORMS_DEF_MEMO_MS, FORMS_DEF_TTL_S,
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
	rc = forms_fact(a, org, key, FORMS_CUR_MEMO_MS, FORMS_CUR_TTL_S,
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
