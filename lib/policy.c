/*
 * policy: see policy.h.  Arrays come out of Postgres as JSON
 * (array_to_json) so selectors with quotes or commas need no text[] parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "memo.h"
#include "policy.h"
#include "util.h"

static int
policy_list(const char *json, char **out, size_t *n)
{
	cJSON	*a = cJSON_Parse(json), *v;

	*n = 0;
	if (!cJSON_IsArray(a)) {
		cJSON_Delete(a);
		return CB_ERR_INTERNAL;
	}
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v) || *n == POLICY_MAX_ITEMS)
			continue;
		out[(*n)++] = util_strdup(v->valuestring);
	}
	cJSON_Delete(a);
	return CB_OK;
}

/* Fill from columns types, selectors, approval, rate, max_in_flight at `c`. */
static int
policy_fill(struct db_res *res, int c, struct policy *p)
{
	long long	 v = 0;
	int		 rc;

	if ((rc = policy_list(db_val(res, 0, c), p->types, &p->ntypes)) == CB_OK &&
	    (rc = policy_list(db_val(res, 0, c + 1), p->selectors, &p->nselectors)) == CB_OK)
		rc = policy_list(db_val(res, 0, c + 2), p->approval, &p->napproval);
	(void)util_parse_ll(db_val(res, 0, c + 3), 1, 100000, &v);
	p->rate_per_minute = (long)v;
	(void)util_parse_ll(db_val(res, 0, c + 4), 1, 100, &v);
	p->max_in_flight = (long)v;
	if (rc != CB_OK)
		policy_free(p);
	return rc;
}

#define POLICY_COLS "array_to_json(p.allowed_types), array_to_json(p.selectors)," \
		    " array_to_json(p.approval_types), p.rate_per_minute, p.max_in_flight"

/* p emptied, then the one statement that loads it (two parameters). */
static int
policy_query(struct db *db, struct policy *p, struct db_res **res, const char *sql,
    const char *p1, const char *p2)
{
	memset(p, 0, sizeof(*p));
	return db_query(db, res, sql, 2, (const char *[]){ p1, p2 });
}

int
policy_load(struct db *db, const char *org, const char *form_id, struct policy *p)
{
	struct db_res	*res = NULL;
	int		 rc;

	if ((rc = policy_query(db, p, &res, "SELECT " POLICY_COLS " FROM agent_policies p"
	    " WHERE p.org_id = $1 AND p.form_id = $2", org, form_id)) != CB_OK)
		return rc;
	rc = db_rows(res) == 1 ? policy_fill(res, 0, p) : CB_ERR_POLICY;
	db_res_free(res);
	return rc;
}

int
policy_load_ctx(struct db *db, const char *org, const char *ctx_id, struct policy *p)
{
	struct db_res	*res = NULL;
	int		 rc;

	if ((rc = policy_query(db, p, &res, "SELECT p.form_id IS NOT NULL, " POLICY_COLS
	    " FROM contexts c"
	    " LEFT JOIN agent_policies p ON p.form_id = c.form_id AND p.org_id = c.org_id"
	    " WHERE c.id = $1 AND c.org_id = $2 AND c.expires_at > now()", ctx_id, org)) != CB_OK)
		return rc;
	if (db_rows(res) != 1)
		rc = CB_ERR_NOT_FOUND;
	else if (strcmp(db_val(res, 0, 0), "t") != 0)
		rc = CB_ERR_POLICY;
	else
		rc = policy_fill(res, 1, p);
	db_res_free(res);
	return rc;
}

/*
 * The memo's text of a policy: its five columns joined by newlines (the
 * JSON arrays escape any newline of a selector), or "-" for none.
 */
static char *
policy_memo_text(struct db_res *res, int c)
{
	struct buf	 b;
	char		*out;
	int		 i;

	buf_init(&b, 1024);
	for (i = 0; i < 5; i++) {
		if (i)
			buf_puts(&b, "\n");
		buf_puts(&b, db_val(res, 0, c + i) ? db_val(res, 0, c + i) : "");
	}
	out = util_strdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

static int
policy_from_memo(const char *v, struct policy *p)
{
	char		*copy, *col[5], *save = NULL, *t;
	long long	 n = 0;
	int		 i, rc = CB_OK;

	memset(p, 0, sizeof(*p));
	if (strcmp(v, "-") == 0)
		return CB_ERR_POLICY;
	copy = util_strdup(v);
	for (i = 0, t = strtok_r(copy, "\n", &save); i < 5 && t; i++, t = strtok_r(NULL, "\n", &save))
		col[i] = t;
	if (i != 5) {
		free(copy);
		return CB_ERR_INTERNAL;
	}
	if ((rc = policy_list(col[0], p->types, &p->ntypes)) == CB_OK &&
	    (rc = policy_list(col[1], p->selectors, &p->nselectors)) == CB_OK)
		rc = policy_list(col[2], p->approval, &p->napproval);
	(void)util_parse_ll(col[3], 1, 100000, &n);
	p->rate_per_minute = (long)n;
	(void)util_parse_ll(col[4], 1, 100, &n);
	p->max_in_flight = (long)n;
	free(copy);
	if (rc != CB_OK)
		policy_free(p);
	return rc;
}

int
policy_load_ctx_memo(struct db *db, struct memo *m, const char *org, const char *ctx_id,
    struct policy *p)
{
	struct db_res	*res = NULL;
	char		 ckey[128], pkey[128], *text;
	const char	*form, *v;
	int		 rc;

	memset(p, 0, sizeof(*p));
	snprintf(ckey, sizeof(ckey), "cmdctx:%s:%s", org, ctx_id);
	if (m && (form = memo_get(m, ckey)) != NULL) {
		snprintf(pkey, sizeof(pkey), "policy:%s:%s", org, form);
		if ((v = memo_get(m, pkey)) != NULL)
			return policy_from_memo(v, p);
	}
	/* One query: the context (live, this tenant's), its form and the policy. */
	rc = db_query_row(db, &res, "SELECT c.form_id, p.form_id IS NOT NULL, " POLICY_COLS
	    " FROM contexts c"
	    " LEFT JOIN agent_policies p ON p.form_id = c.form_id AND p.org_id = c.org_id"
	    " WHERE c.id = $1 AND c.org_id = $2 AND c.expires_at > now()", 2,
	    (const char *[]){ ctx_id, org });
	if (rc != CB_OK)
		return rc;	/* never cached: another tenant's stays a miss */
	snprintf(pkey, sizeof(pkey), "policy:%s:%s", org, db_val(res, 0, 0));
	text = strcmp(db_val(res, 0, 1), "t") == 0 ? policy_memo_text(res, 2) : util_strdup("-");
	if (m) {
		memo_put(m, ckey, db_val(res, 0, 0), POLICY_CTX_MEMO_MS);
		memo_put(m, pkey, text, POLICY_MEMO_MS);
	}
	db_res_free(res);
	rc = policy_from_memo(text, p);
	free(text);
	return rc;
}

void
policy_free(struct policy *p)
{
	size_t	 i;

	for (i = 0; i < p->ntypes; i++)
		free(p->types[i]);
	for (i = 0; i < p->nselectors; i++)
		free(p->selectors[i]);
	for (i = 0; i < p->napproval; i++)
		free(p->approval[i]);
	memset(p, 0, sizeof(*p));
}

int
policy_check(const struct policy *p, const char *type, const char *selector,
    char *why, size_t whysz)
{
	if (!util_str_in(p->types, p->ntypes, type)) {
		snprintf(why, whysz, "command type '%.40s' is not allowed by this form's policy", type);
		return CB_ERR_POLICY;
	}
	if (selector && !util_str_in(p->selectors, p->nselectors, selector)) {
		snprintf(why, whysz, "selector '%.80s' is not on this form's allowlist", selector);
		return CB_ERR_POLICY;
	}
	return CB_OK;
}

int
policy_needs_approval(const struct policy *p, const char *type)
{
	return util_str_in(p->approval, p->napproval, type);
}
