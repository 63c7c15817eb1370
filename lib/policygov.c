/*
 * policygov: see policygov.h.  Lists come out of Postgres as JSON
 * (array_to_json) and go back in the same way, so no text[] is parsed
 * here; the canonical text is built by jv_canonical from sorted lists.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "errs.h"
#include "formdef.h"
#include "jsonv.h"
#include "policygov.h"
#include "util.h"

/*
 * The command types UI commands may have (cgi/commands.c checks each
 * one's arguments; test_policies proves every type listed here is one it
 * accepts).
 */
const char *const policygov_types[] = { "set_field", "focus", "highlight", "show_message", NULL };

#define PG_TYPES_TEXT	"set_field, focus, highlight, show_message"

void
policygov_list_free(struct policygov_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
policygov_doc_free(struct policygov_doc *d)
{
	policygov_list_free(&d->types);
	policygov_list_free(&d->selectors);
	policygov_list_free(&d->approval);
}

static void
pg_list_push(struct policygov_list *l, const char *s, size_t len)
{
	l->v = util_realloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = util_strndup(s, len);
}

int
policygov_list_from_json(const cJSON *a, struct policygov_list *l)
{
	const cJSON	*v;

	l->v = NULL;
	l->n = 0;
	if (a == NULL || cJSON_IsNull(a))
		return CB_OK;
	if (!cJSON_IsArray(a))
		return CB_ERR_VALIDATION;
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v)) {
			policygov_list_free(l);
			return CB_ERR_VALIDATION;
		}
		pg_list_push(l, v->valuestring, strlen(v->valuestring));
	}
	return CB_OK;
}

void
policygov_list_from_csv(const char *s, struct policygov_list *l)
{
	const char	*c;

	l->v = NULL;
	l->n = 0;
	if (s == NULL || *s == '\0')
		return;
	for (;;) {
		c = strchr(s, ',');
		pg_list_push(l, s, c ? (size_t)(c - s) : strlen(s));
		if (c == NULL)
			break;
		s = c + 1;
	}
}

static void
pg_list_copy(struct policygov_list *dst, const struct policygov_list *src)
{
	size_t	 i;

	dst->v = NULL;
	dst->n = 0;
	for (i = 0; i < src->n; i++)
		pg_list_push(dst, src->v[i], strlen(src->v[i]));
}

void
policygov_doc_copy(struct policygov_doc *dst, const struct policygov_doc *src)
{
	*dst = *src;
	pg_list_copy(&dst->types, &src->types);
	pg_list_copy(&dst->selectors, &src->selectors);
	pg_list_copy(&dst->approval, &src->approval);
}

static int
pg_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
pg_sort(struct policygov_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), pg_cmp);
}

/* Entries in one sorted list and not the other, both ways. */
static long long
pg_diff(const struct policygov_list *a, const struct policygov_list *b)
{
	size_t		 i = 0, j = 0;
	long long	 n = 0;
	int		 c;

	while (i < a->n || j < b->n) {
		c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
		n += c != 0;
		i += c <= 0;
		j += c >= 0;
	}
	return n;
}

/* ---- the document as JSON ---------------------------------------------- */

static cJSON *
pg_list_json(const struct policygov_list *l)
{
	cJSON	*a = cJSON_CreateArray();
	size_t	 i;

	if (a == NULL)
		util_oom();
	for (i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	return a;
}

cJSON *
policygov_json(const struct policygov_doc *d)
{
	cJSON	*o = cJSON_CreateObject();

	if (o == NULL)
		util_oom();
	cJSON_AddItemToObject(o, "allowed_types", pg_list_json(&d->types));
	cJSON_AddItemToObject(o, "selectors", pg_list_json(&d->selectors));
	cJSON_AddNumberToObject(o, "rate_per_minute", (double)d->rate_per_minute);
	cJSON_AddNumberToObject(o, "max_in_flight", (double)d->max_in_flight);
	cJSON_AddItemToObject(o, "approval_types", pg_list_json(&d->approval));
	cJSON_AddNumberToObject(o, "approval_ttl_s", (double)d->approval_ttl_s);
	return o;
}

char *
policygov_canonical(const struct policygov_doc *d)
{
	cJSON	*o = policygov_json(d);
	char	*s = jv_canonical(o);

	cJSON_Delete(o);
	return s;
}

static char *
pg_list_text(const struct policygov_list *l)
{
	return jv_take_text(pg_list_json(l));
}

/* ---- validation (pure) -------------------------------------------------- */

static int
pg_refuse(struct policygov_verdict *v, const char *field, const char *limit,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
pg_refuse(struct policygov_verdict *v, const char *field, const char *limit,
    const char *fmt, ...)
{
	va_list	 ap;

	util_strlcpy(v->field, field ? field : "", sizeof(v->field));
	util_strlcpy(v->limit, limit ? limit : "", sizeof(v->limit));
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	return CB_ERR_UNPROCESSABLE;
}

static int
pg_type_known(const char *s)
{
	size_t	 i;

	for (i = 0; policygov_types[i]; i++)
		if (strcmp(policygov_types[i], s) == 0)
			return 1;
	return 0;
}

/* 1..POLICYGOV_ENTRY_MAX bytes, no control characters. */
static int
pg_entry_ok(const char *s)
{
	return util_text_ok(s, POLICYGOV_ENTRY_MAX) && jv_utf8_ok(s, strlen(s));
}

/* Every entry well formed and listed once; `known` (may be NULL) vets each. */
static int
pg_check_list(const struct policygov_list *l, const char *field,
    int (*known)(const char *), struct policygov_verdict *v)
{
	size_t	 i, j;

	for (i = 0; i < l->n; i++) {
		if (!pg_entry_ok(l->v[i]))
			return pg_refuse(v, field, NULL, "%s: entry %zu must be 1 to %d bytes of "
			    "text without control characters", field, i + 1, POLICYGOV_ENTRY_MAX);
		for (j = 0; j < i; j++)
			if (strcmp(l->v[i], l->v[j]) == 0)
				return pg_refuse(v, field, NULL, "%s: '%.80s' is listed twice",
				    field, l->v[i]);
		if (known && !known(l->v[i]))
			return pg_refuse(v, field, NULL, "%s: '%.40s' is not a command type "
			    "the broker knows (" PG_TYPES_TEXT ")", field, l->v[i]);
	}
	return CB_OK;
}

static int
pg_check_range(long long x, long long lo, long long hi, const char *field,
    struct policygov_verdict *v)
{
	if (x < lo || x > hi)
		return pg_refuse(v, field, NULL, "%s: %lld is outside %lld..%lld", field, x, lo, hi);
	return CB_OK;
}

/*
 * A selector is "#<field name>" (the tab gives every field that id) and
 * the field must be in the definition the form's new tabs are pinned to.
 */
static int
pg_check_selectors(const struct policygov_list *l, const struct policygov_state *st,
    struct policygov_verdict *v)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i][0] != '#' || l->v[i][1] == '\0')
			return pg_refuse(v, "selectors", NULL, "selectors: '%.80s' is not a field "
			    "selector: write #<field name>", l->v[i]);
		if (st->definition == NULL)
			return pg_refuse(v, "selectors", NULL, "selectors: the form has no "
			    "published version whose fields '%.80s' could name", l->v[i]);
		if (!formdef_has_field(st->definition, l->v[i] + 1))
			return pg_refuse(v, "selectors", NULL, "selectors: '%.80s' is not a field "
			    "of the form's current version (%d)", l->v[i], st->form_version);
	}
	return CB_OK;
}

int
policygov_validate(struct policygov_doc *p, const struct policygov_state *st,
    const struct policygov_limits *lim, struct policygov_verdict *v)
{
	const struct {
		const char		*field;
		struct policygov_list	*list;
	} lists[] = {
		{ "allowed_types", &p->types },
		{ "selectors", &p->selectors },
		{ "approval_types", &p->approval },
	};
	const struct policygov_doc	*cur = &st->current;
	size_t				 i;
	int				 rc;

	memset(v, 0, sizeof(*v));
	/* The governance limit on size first: a list too long is not read. */
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if ((long long)lists[i].list->n > lim->max_list)
			return pg_refuse(v, lists[i].field, "CB_POLICY_MAX_LIST", "%s: %zu entries, "
			    "more than CB_POLICY_MAX_LIST (%lld) allows in one list", lists[i].field,
			    lists[i].list->n, lim->max_list);
	if ((rc = pg_check_list(&p->types, "allowed_types", pg_type_known, v)) != CB_OK ||
	    (rc = pg_check_list(&p->selectors, "selectors", NULL, v)) != CB_OK ||
	    (rc = pg_check_selectors(&p->selectors, st, v)) != CB_OK ||
	    (rc = pg_check_range(p->rate_per_minute, POLICYGOV_RATE_MIN, POLICYGOV_RATE_MAX,
	    "rate_per_minute", v)) != CB_OK ||
	    (rc = pg_check_range(p->max_in_flight, POLICYGOV_INFLIGHT_MIN, POLICYGOV_INFLIGHT_MAX,
	    "max_in_flight", v)) != CB_OK ||
	    (rc = pg_check_list(&p->approval, "approval_types", pg_type_known, v)) != CB_OK ||
	    (rc = pg_check_range(p->approval_ttl_s, POLICYGOV_TTL_MIN, POLICYGOV_TTL_MAX,
	    "approval_ttl_s", v)) != CB_OK)
		return rc;
	for (i = 0; i < p->approval.n; i++)
		if (!util_str_in(p->types.v, p->types.n, p->approval.v[i]))
			return pg_refuse(v, "approval_types", NULL, "approval_types: '%.40s' is not "
			    "in allowed_types: only an allowed command can wait for approval",
			    p->approval.v[i]);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		pg_sort(lists[i].list);
	/* What changes: entries added or removed, and each number that differs. */
	v->changes = pg_diff(&p->types, &cur->types) + pg_diff(&p->selectors, &cur->selectors) +
	    pg_diff(&p->approval, &cur->approval) +
	    (p->rate_per_minute != cur->rate_per_minute) +
	    (p->max_in_flight != cur->max_in_flight) +
	    (p->approval_ttl_s != cur->approval_ttl_s);
	v->identical = st->has_policy && v->changes == 0;
	if (v->changes > lim->max_changes)
		return pg_refuse(v, "", "CB_POLICY_MAX_CHANGES", "the change touches %lld entries, "
		    "more than CB_POLICY_MAX_CHANGES (%lld) allows at once: make it in smaller "
		    "steps", v->changes, lim->max_changes);
	return CB_OK;
}

/* ---- Postgres ----------------------------------------------------------- */

#define PG_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static int
pg_list_col(struct db_res *res, int c, struct policygov_list *l)
{
	cJSON	*a;
	int	 rc;

	l->v = NULL;
	l->n = 0;
	if (db_isnull(res, 0, c))
		return CB_OK;
	a = cJSON_Parse(db_val(res, 0, c));
	rc = policygov_list_from_json(a, l);
	cJSON_Delete(a);
	if (rc == CB_OK)
		pg_sort(l);
	return rc == CB_OK ? CB_OK : CB_ERR_INTERNAL;
}

static long long
pg_ll(struct db_res *res, int c, long long def)
{
	long long	 v;

	if (db_isnull(res, 0, c) || util_parse_ll(db_val(res, 0, c), -2147483648LL,
	    2147483647LL, &v) != CB_OK)
		return def;
	return v;
}

int
policygov_load(struct db *db, const char *org, const char *form_id, struct policygov_state *st)
{
	struct db_res	*res = NULL;
	int		 rc;

	memset(st, 0, sizeof(*st));
	if (!util_uuid_ok(form_id))
		return CB_ERR_NOT_FOUND;
	rc = db_query_row(db, &res, "SELECT f.org_id, f.current_version, v.definition::text,"
	    " p.form_id IS NOT NULL, p.version, array_to_json(p.allowed_types),"
	    " array_to_json(p.selectors), array_to_json(p.approval_types), p.rate_per_minute,"
	    " p.max_in_flight, p.approval_ttl_s, encode(h.policy_sha256, 'hex'), "
	    PG_TS("p.updated_at")
	    " FROM forms f"
	    " LEFT JOIN form_versions v ON v.form_id = f.id AND v.version = f.current_version"
	    " LEFT JOIN agent_policies p ON p.form_id = f.id AND p.org_id = f.org_id"
	    " LEFT JOIN agent_policy_versions h ON h.form_id = p.form_id AND h.version = p.version"
	    " WHERE f.id = $1 AND ($2::bigint IS NULL OR f.org_id = $2::bigint)", 2,
	    (const char *[]){ form_id, org });
	if (rc != CB_OK)
		return rc;
	util_strlcpy(st->org, db_val(res, 0, 0), sizeof(st->org));
	util_strlcpy(st->form_id, form_id, sizeof(st->form_id));
	st->form_version = (int)pg_ll(res, 1, 0);
	if (!db_isnull(res, 0, 2) && (st->definition = cJSON_Parse(db_val(res, 0, 2))) == NULL)
		rc = CB_ERR_INTERNAL;
	st->has_policy = strcmp(db_val(res, 0, 3), "t") == 0;
	st->version = st->has_policy ? (int)pg_ll(res, 4, 1) : 0;
	if (rc == CB_OK && (rc = pg_list_col(res, 5, &st->current.types)) == CB_OK &&
	    (rc = pg_list_col(res, 6, &st->current.selectors)) == CB_OK)
		rc = pg_list_col(res, 7, &st->current.approval);
	st->current.rate_per_minute = pg_ll(res, 8, POLICYGOV_DEF_RATE);
	st->current.max_in_flight = pg_ll(res, 9, POLICYGOV_DEF_INFLIGHT);
	st->current.approval_ttl_s = pg_ll(res, 10, POLICYGOV_DEF_TTL);
	if (!db_isnull(res, 0, 11))
		util_strlcpy(st->sha256, db_val(res, 0, 11), sizeof(st->sha256));
	if (!db_isnull(res, 0, 12))
		util_strlcpy(st->updated_at, db_val(res, 0, 12), sizeof(st->updated_at));
	db_res_free(res);
	if (rc != CB_OK)
		policygov_state_free(st);
	return rc;
}

void
policygov_state_free(struct policygov_state *st)
{
	cJSON_Delete(st->definition);
	st->definition = NULL;
	policygov_doc_free(&st->current);
}

/*
 * The new version: the form must still be this organisation's with the
 * current version the selectors were checked against (FOR SHARE: a publish
 * waits for this statement, or this statement sees the publish and writes
 * nothing), and the policy still the version that was loaded.  The history
 * row is written from the policy row the statement wrote, so neither exists
 * without the other.
 */
#define PG_FORM_CTE \
	"f AS (SELECT id, org_id FROM forms WHERE id = $1 AND org_id = $2::bigint" \
	"  AND current_version IS NOT DISTINCT FROM $3::int FOR SHARE)"
#define PG_HISTORY_TAIL \
	", h AS (INSERT INTO agent_policy_versions (form_id, version, org_id, policy, policy_sha256," \
	"  changed_by) SELECT form_id, version, org_id, $11::text::jsonb, sha256(convert_to($11::text, 'UTF8'))," \
	"  $12 FROM w RETURNING version, encode(policy_sha256, 'hex'))" \
	" SELECT * FROM h"

static const char pg_insert_sql[] =
    "WITH " PG_FORM_CTE ","
    " w AS (INSERT INTO agent_policies (form_id, org_id, allowed_types, selectors,"
    "  rate_per_minute, max_in_flight, approval_types, approval_ttl_s, version, updated_at)"
    " SELECT f.id, f.org_id, ARRAY(SELECT json_array_elements_text($4::json)),"
    "  ARRAY(SELECT json_array_elements_text($5::json)), $6::int, $7::int,"
    "  ARRAY(SELECT json_array_elements_text($8::json)), $9::int, $10::int + 1, now() FROM f"
    " ON CONFLICT (form_id) DO NOTHING RETURNING form_id, org_id, version)"
    PG_HISTORY_TAIL;

static const char pg_update_sql[] =
    "WITH " PG_FORM_CTE ","
    " w AS (UPDATE agent_policies p SET allowed_types = ARRAY(SELECT"
    "  json_array_elements_text($4::json)), selectors = ARRAY(SELECT"
    "  json_array_elements_text($5::json)), rate_per_minute = $6::int, max_in_flight = $7::int,"
    "  approval_types = ARRAY(SELECT json_array_elements_text($8::json)),"
    "  approval_ttl_s = $9::int, version = p.version + 1, updated_at = now()"
    " FROM f WHERE p.form_id = f.id AND p.org_id = f.org_id AND p.version = $10::int"
    " RETURNING p.form_id, p.org_id, p.version)"
    PG_HISTORY_TAIL;

/* Text a JSON string may hold as it is: short, printable, no quote or backslash. */
static int
pg_json_safe(const char *s)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
			return 0;
	return n < 96;
}

static int
pg_write_one(struct db *db, const struct policygov_state *st, const struct policygov_doc *p,
    const char *actor, struct policygov_result *out)
{
	struct db_res	*res = NULL;
	char		 fv[16], rate[24], mif[24], ttl[24], ver[16], detail[384], who[128] = "";
	char		*types, *sels, *appr, *canon;
	const char	*cli;
	int		 rc;

	snprintf(fv, sizeof(fv), "%d", st->form_version);
	snprintf(rate, sizeof(rate), "%lld", p->rate_per_minute);
	snprintf(mif, sizeof(mif), "%lld", p->max_in_flight);
	snprintf(ttl, sizeof(ttl), "%lld", p->approval_ttl_s);
	snprintf(ver, sizeof(ver), "%d", st->version);
	types = pg_list_text(&p->types);
	sels = pg_list_text(&p->selectors);
	appr = pg_list_text(&p->approval);
	canon = policygov_canonical(p);
	rc = db_query(db, &res, st->has_policy ? pg_update_sql : pg_insert_sql, 12,
	    (const char *[]){ st->form_id, st->org, st->form_version ? fv : NULL, types, sels,
	    rate, mif, appr, ttl, ver, canon, actor });
	free(types);
	free(sels);
	free(appr);
	free(canon);
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return CB_ERR_CONFLICT;		/* the policy or the form moved */
	}
	out->version = (int)pg_ll(res, 0, 0);
	out->previous_version = st->version;
	util_strlcpy(out->sha256, db_val(res, 0, 1), sizeof(out->sha256));
	db_res_free(res);
	/* Hashes and versions, never the lists (audit.h); who ran cb-admin, if it did. */
	actor = audit_actor(actor, &cli);
	if (cli != NULL)
		snprintf(who, sizeof(who), ",\"cli_user\":\"%s\"", pg_json_safe(cli) ? cli : "cli:?");
	snprintf(detail, sizeof(detail), "{\"version\":%d,\"previous_version\":%d,"
	    "\"policy_sha256\":\"%s\",\"form_version\":%d%s}", out->version, out->previous_version,
	    out->sha256, st->form_version, who);
	return audit_append(db, st->org, actor, "policy.changed", st->form_id, detail);
}

int
policygov_write(struct db *db, const struct policygov_state *st,
    const struct policygov_doc *p, const char *actor, struct policygov_result *out)
{
	int	 own = !db_in_tx(db), rc;

	memset(out, 0, sizeof(*out));
	if (own && (rc = db_begin(db)) != CB_OK)
		return rc;
	rc = pg_write_one(db, st, p, actor, out);
	if (own) {
		if (rc == CB_OK)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	return rc;
}
