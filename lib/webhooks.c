/*
 * webhooks: see webhooks.h.  One fixed statement per operation; secrets
 * are sealed and opened here only, and wiped as soon as they are used.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "events.h"
#include "httpc.h"
#include "jsonv.h"
#include "region.h"
#include "seal.h"
#include "util.h"
#include "webhooks.h"
#include "whsecret.h"

#define WH_SEALED_MAX	1024u
#define WH_HOSTPORT_MAX	300u

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define WH_COLS	"id, url, array_to_json(event_types)::text, description, enabled," \
		" disabled_reason, " TS("disabled_at") ", " TS("failing_since") ", " \
		TS("prev_until") ", " TS("created_at") ", region"

/* ---- destinations --------------------------------------------------- */

/* Is "host:port" (lower case) one of the allowlist's entries? */
static int
wh_private(const char *hostport, const char *allow)
{
	const char	*p = allow ? allow : "", *e;
	size_t		 n, hl = strlen(hostport);

	while (*p != '\0') {
		p += strspn(p, ", \t");
		e = p + strcspn(p, ", \t");
		n = (size_t)(e - p);
		if (n == hl && n > 0 && strncasecmp(p, hostport, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

static int
wh_url_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"<>\\^`{|}", c) == NULL;
}

static int
wh_bad(const char **why, const char *reason)
{
	*why = reason;
	return CB_ERR_VALIDATION;
}

int
webhooks_url_check(const char *url, const char *private_allow, const char **why)
{
	char		 host[256], hostport[WH_HOSTPORT_MAX];
	unsigned char	 a4[4];
	const char	*auth, *end, *hp, *colon, *last;
	size_t		 n, i, hl;
	long long	 port;
	int		 plain, priv, v6 = 0;

	if (url == NULL || (n = strlen(url)) < WEBHOOKS_URL_MIN || n > WEBHOOKS_URL_MAX)
		return wh_bad(why, "must be 10 to 2048 characters");
	for (i = 0; i < n; i++)
		if (!wh_url_char((unsigned char)url[i]))
			return wh_bad(why, "must be a URL without spaces, quotes or control characters");
	if (strncasecmp(url, "https://", 8) == 0) {
		plain = 0;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		plain = 1;
		auth = url + 7;
	} else
		return wh_bad(why, "must be an https URL");
	if (strchr(url, '#') != NULL)
		return wh_bad(why, "must not have a fragment");
	end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return wh_bad(why, "must not carry user information (user:password@)");
	if (memchr(auth, '%', (size_t)(end - auth)) != NULL)
		return wh_bad(why, "must not percent-encode the host");
	/* Host: a name, a dotted quad or [an IPv6 literal]; then an optional port. */
	if (*auth == '[') {
		hp = memchr(auth, ']', (size_t)(end - auth));
		if (hp == NULL || hp == auth + 1)
			return wh_bad(why, "has a malformed IPv6 address");
		hl = (size_t)(hp - auth) + 1;
		colon = hp + 1 < end ? hp + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return wh_bad(why, "has a malformed IPv6 address");
		v6 = 1;
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		hl = (size_t)((colon ? colon : end) - auth);
	}
	if (hl == 0)
		return wh_bad(why, "has no host");
	if (hl >= sizeof(host))
		return wh_bad(why, "has a host name over 255 characters");
	for (i = 0; i < hl; i++) {
		char c = auth[i];

		host[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		if (!v6 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return wh_bad(why, "has a host that is not a valid name or address");
	}
	host[hl] = '\0';
	port = plain ? 80 : 443;
	if (colon != NULL) {
		char	 ps[8];
		size_t	 pl = (size_t)(end - colon - 1);

		if (pl == 0 || pl >= sizeof(ps) || strspn(colon + 1, "0123456789") < pl)
			return wh_bad(why, "has a malformed port");
		memcpy(ps, colon + 1, pl);
		ps[pl] = '\0';
		if (util_parse_ll(ps, 1, 65535, &port) != CB_OK)
			return wh_bad(why, "has a port outside 1..65535");
	}
	snprintf(hostport, sizeof(hostport), "%s:%lld", host, port);
	priv = wh_private(hostport, private_allow);
	if (plain && !priv)
		return wh_bad(why, "must be an https URL (plain http only to a destination on "
		    "CB_EGRESS_PRIVATE_ALLOW)");
	if (priv)
		return CB_OK;
	if (v6) {
		char inner[256];

		util_strlcpy(inner, host + 1, sizeof(inner));
		inner[hl - 2] = '\0';
		if (httpc_addr_public(inner) != 1)
			return wh_bad(why, httpc_addr_public(inner) < 0 ? "has a malformed IPv6 address"
			    : "points at an internal address (loopback, private, link-local, ...)");
		return CB_OK;
	}
	if (inet_pton(AF_INET, host, a4) == 1) {
		if (httpc_addr_public(host) != 1)
			return wh_bad(why, "points at an internal address (loopback, private, "
			    "link-local, ...)");
		return CB_OK;
	}
	/* A name's last label is never numeric: 127.1, 2130706433, 0x7f.1 are addresses. */
	last = strrchr(host, '.');
	last = last ? last + 1 : host;
	if (*last == '\0' || strspn(last, "0123456789") == strlen(last) ||
	    strncmp(last, "0x", 2) == 0)
		return wh_bad(why, "has a host that is not a valid name or address");
	if (strcmp(host, "localhost") == 0 || (hl > 10 && strcmp(host + hl - 10, ".localhost") == 0))
		return wh_bad(why, "points at an internal address (loopback, private, link-local, ...)");
	if (strchr(host, '.') == NULL)
		return wh_bad(why, "must name a fully qualified host");
	return CB_OK;
}

int
webhooks_types_check(const cJSON *types, const char **why)
{
	const cJSON	*t, *u;
	int		 n = 0;

	if (!cJSON_IsArray(types))
		return wh_bad(why, "must be an array of event types");
	cJSON_ArrayForEach(t, types) {
		if (++n > WEBHOOKS_TYPES_MAX)
			return wh_bad(why, "at most 16 event types");
		if (!cJSON_IsString(t) || !events_type_known(t->valuestring))
			return wh_bad(why, "unknown event type; known: submission.created, "
			    "submission.delivered, submission.dead_lettered, command.applied, "
			    "command.failed, command.timeout");
		for (u = types->child; u != t; u = u->next)
			if (strcmp(u->valuestring, t->valuestring) == 0)
				return wh_bad(why, "an event type is listed twice");
	}
	if (n == 0)
		return wh_bad(why, "at least one event type");
	return CB_OK;
}

/* ---- sealing -------------------------------------------------------- */

/* ---- views ---------------------------------------------------------- */

static void
wh_add_str(cJSON *o, const char *k, const char *v)
{
	if (jv_add_str_or_null(o, k, v) == NULL)
		util_oom();
}

/* A row of WH_COLS as the caller sees it: never a secret. */
static cJSON *
wh_view(const struct db_res *res, size_t i)
{
	cJSON	*o = cJSON_CreateObject(), *types;

	if (o == NULL)
		util_oom();
	wh_add_str(o, "id", db_val(res, i, 0));
	wh_add_str(o, "url", db_val(res, i, 1));
	if ((types = cJSON_Parse(db_val(res, i, 2))) == NULL)
		types = cJSON_CreateArray();
	cJSON_AddItemToObject(o, "event_types", types);
	wh_add_str(o, "description", db_isnull(res, i, 3) ? NULL : db_val(res, i, 3));
	cJSON_AddBoolToObject(o, "enabled", strcmp(db_val(res, i, 4), "t") == 0);
	wh_add_str(o, "disabled_reason", db_isnull(res, i, 5) ? NULL : db_val(res, i, 5));
	wh_add_str(o, "disabled_at", db_isnull(res, i, 6) ? NULL : db_val(res, i, 6));
	wh_add_str(o, "failing_since", db_isnull(res, i, 7) ? NULL : db_val(res, i, 7));
	wh_add_str(o, "prev_until", db_isnull(res, i, 8) ? NULL : db_val(res, i, 8));
	wh_add_str(o, "created_at", db_val(res, i, 9));
	wh_add_str(o, "region", db_isnull(res, i, 10) ? NULL : db_val(res, i, 10));
	return o;
}

/* The one row of res as *view, or CB_ERR_NOT_FOUND. */
static int
wh_one(struct db_res *res, cJSON **view)
{
	if (db_rows(res) != 1)
		return CB_ERR_NOT_FOUND;
	if (view != NULL)
		*view = wh_view(res, 0);
	return CB_OK;
}

/* ---- operations ----------------------------------------------------- */

int
webhooks_create(struct db *db, const struct seal_keyring *kr, const char *org, const char *url,
    const cJSON *types, const char *description, const char *region_hosts,
    char secret[STDWH_SECRET_BUFSZ], cJSON **view, char *why, size_t whysz)
{
	struct db_res	*res = NULL;
	struct buf	 sealed;
	char		 id[37], *tj = NULL, region[REGION_BUFSZ];
	int		 rc;

	*view = NULL;
	secret[0] = '\0';
	why[0] = '\0';
	buf_init(&sealed, WH_SEALED_MAX);
	/* Residency: the tenant's pin, and the region the URL's host is in. */
	if ((rc = db_query(db, &res, "SELECT region FROM orgs WHERE id = $1::bigint", 1,
	    (const char *[]){ org })) != CB_OK)
		goto out;
	rc = region_url_check(region_hosts, db_rows(res) == 1 && !db_isnull(res, 0, 0) ?
	    db_val(res, 0, 0) : NULL, url, region, why, whysz);
	db_res_free(res);
	res = NULL;
	if (rc != CB_OK)
		goto out;
	util_uuid_v4(id);
	stdwh_secret_new(secret);
	if ((rc = whsecret_seal(kr, WEBHOOKS_TABLE, id, "secret", secret, &sealed)) != CB_OK)
		goto out;
	if ((tj = cJSON_PrintUnformatted(types)) == NULL)
		util_oom();
	rc = db_query(db, &res,
	    "INSERT INTO webhook_endpoints (id, org_id, url, event_types, description, secret_sealed,"
	    "   region)"
	    " VALUES ($1::uuid, $2::bigint, $3, ARRAY(SELECT json_array_elements_text($4::json)),"
	    "   $5, $6, nullif($7, '')) RETURNING " WH_COLS, 7,
	    (const char *[]){ id, org, url, tj, description, buf_cstr(&sealed), region });
	if (rc == CB_OK)
		rc = wh_one(res, view);
out:
	if (rc != CB_OK)
		sodium_memzero(secret, STDWH_SECRET_BUFSZ);
	free(tj);
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

int
webhooks_list(struct db *db, const char *org, cJSON **view)
{
	struct db_res	*res = NULL;
	cJSON		*arr;
	size_t		 i;
	int		 rc;

	*view = NULL;
	rc = db_query(db, &res, "SELECT " WH_COLS " FROM webhook_endpoints WHERE org_id = $1::bigint"
	    " ORDER BY created_at, id LIMIT 1000", 1, (const char *[]){ org });
	if (rc != CB_OK)
		return rc;
	if ((*view = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(*view, "webhooks")) == NULL)
		util_oom();
	for (i = 0; i < db_rows(res); i++)
		cJSON_AddItemToArray(arr, wh_view(res, i));
	db_res_free(res);
	return CB_OK;
}

int
webhooks_get(struct db *db, const char *org, const char *id, cJSON **view)
{
	struct db_res	*res = NULL;
	int		 rc;

	*view = NULL;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	rc = db_query(db, &res, "SELECT " WH_COLS " FROM webhook_endpoints"
	    " WHERE org_id = $1::bigint AND id = $2::uuid", 2, (const char *[]){ org, id });
	if (rc == CB_OK)
		rc = wh_one(res, view);
	db_res_free(res);
	return rc;
}

int
webhooks_rotate(struct db *db, const struct seal_keyring *kr, const char *org, const char *id,
    long long overlap_s, char secret[STDWH_SECRET_BUFSZ], cJSON **view)
{
	struct db_res	*res = NULL;
	struct buf	 prev, sealed;
	char		 ov[24];
	int		 rc, own = 0;

	*view = NULL;
	secret[0] = '\0';
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	buf_init(&prev, WH_SEALED_MAX);
	buf_init(&sealed, WH_SEALED_MAX);
	if (!db_in_tx(db)) {
		if ((rc = db_begin(db)) != CB_OK)
			goto out;
		own = 1;
	}
	/* Locked: two rotations at once cannot both keep "the previous" secret. */
	rc = db_query_row(db, &res, "SELECT secret_sealed FROM webhook_endpoints"
	    " WHERE org_id = $1::bigint AND id = $2::uuid FOR UPDATE", 2, (const char *[]){ org, id });
	if (rc != CB_OK)
		goto out;
	if ((rc = whsecret_rotate(kr, WEBHOOKS_TABLE, id, db_val(res, 0, 0), overlap_s > 0,
	    secret, &sealed, &prev)) != CB_OK)
		goto out;
	db_res_free(res);
	res = NULL;
	snprintf(ov, sizeof(ov), "%lld", overlap_s > 0 ? overlap_s : 0);
	rc = db_query(db, &res, "UPDATE webhook_endpoints SET secret_sealed = $3,"
	    " secret_prev_sealed = $4,"
	    " prev_until = CASE WHEN $4::text IS NULL THEN NULL"
	    "   ELSE now() + make_interval(secs => $5::int) END"
	    " WHERE org_id = $1::bigint AND id = $2::uuid RETURNING " WH_COLS, 5,
	    (const char *[]){ org, id, buf_cstr(&sealed), overlap_s > 0 ? buf_cstr(&prev) : NULL,
	    ov });
	if (rc == CB_OK)
		rc = wh_one(res, view);
	if (rc == CB_OK && own)
		rc = db_commit(db);
out:
	if (rc != CB_OK) {
		if (own && db_in_tx(db))
			db_rollback(db);
		sodium_memzero(secret, STDWH_SECRET_BUFSZ);
		cJSON_Delete(*view);
		*view = NULL;
	}
	buf_free(&prev);
	buf_free(&sealed);
	db_res_free(res);
	return rc;
}

int
webhooks_set_enabled(struct db *db, const char *org, const char *id, int enabled,
    const char *reason, int *changed, cJSON **view)
{
	struct db_res	*res = NULL;
	int		 rc;

	if (view != NULL)
		*view = NULL;
	if (changed != NULL)
		*changed = 0;
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	/* The row before (was) and after, in one statement. */
	if (enabled)
		rc = db_query(db, &res, "WITH was AS (SELECT id AS was_id, enabled AS was_on"
		    "   FROM webhook_endpoints WHERE org_id = $1::bigint AND id = $2::uuid FOR UPDATE)"
		    " UPDATE webhook_endpoints w SET enabled = true, disabled_reason = NULL,"
		    "   disabled_at = NULL, failing_since = NULL FROM was WHERE w.id = was.was_id"
		    " RETURNING " WH_COLS ", NOT was.was_on", 2, (const char *[]){ org, id });
	else
		rc = db_query(db, &res, "WITH was AS (SELECT id AS was_id, enabled AS was_on"
		    "   FROM webhook_endpoints WHERE org_id = $1::bigint AND id = $2::uuid FOR UPDATE)"
		    " UPDATE webhook_endpoints w SET enabled = false,"
		    "   disabled_reason = CASE WHEN was.was_on THEN $3 ELSE w.disabled_reason END,"
		    "   disabled_at = CASE WHEN was.was_on THEN now() ELSE w.disabled_at END"
		    " FROM was WHERE w.id = was.was_id RETURNING " WH_COLS ", was.was_on", 3,
		    (const char *[]){ org, id, reason ? reason : "disabled" });
	if (rc == CB_OK && (rc = wh_one(res, view)) == CB_OK && changed != NULL)
		*changed = strcmp(db_val(res, 0, 11), "t") == 0;
	db_res_free(res);
	return rc;
}

/* ---- the sink's side ------------------------------------------------ */

void
webhooks_target_wipe(struct webhooks_target *t)
{
	sodium_memzero(t, sizeof(*t));
}

int
webhooks_load(struct db *db, const struct seal_keyring *kr, const char *org, const char *id,
    struct webhooks_target *t)
{
	struct db_res	*res = NULL;
	int		 rc;

	memset(t, 0, sizeof(*t));
	if (!util_uuid_ok(id))
		return CB_ERR_NOT_FOUND;
	rc = db_query_row(db, &res, "SELECT url, enabled, coalesce(disabled_reason, ''), secret_sealed,"
	    " CASE WHEN prev_until > now() THEN secret_prev_sealed END,"
	    " secret_prev_sealed IS NOT NULL AND NOT coalesce(prev_until > now(), false)"
	    " FROM webhook_endpoints WHERE id = $1::uuid AND org_id = $2::bigint", 2,
	    (const char *[]){ id, org });
	if (rc != CB_OK)
		goto out;
	util_strlcpy(t->url, db_val(res, 0, 0), sizeof(t->url));
	t->enabled = strcmp(db_val(res, 0, 1), "t") == 0;
	util_strlcpy(t->disabled_reason, db_val(res, 0, 2), sizeof(t->disabled_reason));
	if (!t->enabled)
		goto out;
	if ((rc = whsecret_load(kr, WEBHOOKS_TABLE, id, db_val(res, 0, 3), db_val(res, 0, 4),
	    t->keys, &t->nkeys)) != CB_OK)
		goto out;
	/* The overlap is over: the previous secret leaves the row too. */
	if (strcmp(db_val(res, 0, 5), "t") == 0)
		(void)db_exec(db, "UPDATE webhook_endpoints SET secret_prev_sealed = NULL"
		    " WHERE id = $1::uuid AND NOT coalesce(prev_until > now(), false)", 1,
		    (const char *[]){ id });
out:
	if (rc != CB_OK)
		webhooks_target_wipe(t);
	db_res_free(res);
	return rc;
}

int
webhooks_note_ok(struct db *db, const char *id)
{
	return db_exec(db, "UPDATE webhook_endpoints SET failing_since = NULL"
	    " WHERE id = $1::uuid AND failing_since IS NOT NULL", 1, (const char *[]){ id });
}

int
webhooks_note_failure(struct db *db, const char *id, long long disable_after_s, int *disabled)
{
	struct db_res	*res = NULL;
	char		 secs[24];
	int		 rc;

	*disabled = 0;
	snprintf(secs, sizeof(secs), "%lld", disable_after_s);
	/* Disabled only by the attempt that finds the clock already past the limit. */
	rc = db_query(db, &res, "WITH was AS (SELECT id, enabled, failing_since FROM webhook_endpoints"
	    "   WHERE id = $1::uuid FOR UPDATE),"
	    " dis AS (SELECT was.id AS dis_id, was.enabled AND was.failing_since IS NOT NULL"
	    "   AND now() - was.failing_since > make_interval(secs => $2::int) AS now_off FROM was)"
	    " UPDATE webhook_endpoints w SET failing_since = coalesce(w.failing_since, now()),"
	    "   enabled = CASE WHEN dis.now_off THEN false ELSE w.enabled END,"
	    "   disabled_reason = CASE WHEN dis.now_off"
	    "     THEN 'failing for more than ' || $2 || ' s' ELSE w.disabled_reason END,"
	    "   disabled_at = CASE WHEN dis.now_off THEN now() ELSE w.disabled_at END"
	    " FROM dis WHERE w.id = dis.dis_id RETURNING dis.now_off", 2,
	    (const char *[]){ id, secs });
	if (rc == CB_OK && db_rows(res) == 1)
		*disabled = strcmp(db_val(res, 0, 0), "t") == 0;
	db_res_free(res);
	return rc;
}
