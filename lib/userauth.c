/*
 * userauth: see userauth.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "app.h"
#include "audit.h"
#include "db.h"
#include "errs.h"
#include "fail.h"
#include "jwt.h"
#include "log.h"
#include "memo.h"
#include "req.h"
#include "signkeys.h"
#include "userauth.h"
#include "util.h"

#define USERAUTH_NONCE_BYTES	12	/* -> 16 characters */

/*
 * A retiring key stays trusted SIGNKEYS_SKEW_S past the access TTL: that
 * must cover how long a process may still sign with it after a rotation
 * (its cache period) plus the leeway a verifier grants.
 */
_Static_assert(USERAUTH_LEEWAY_S + (int)SIGNKEYS_REFRESH_MS / 1000 < SIGNKEYS_SKEW_S,
    "retire grace shorter than signer lag plus verifier leeway");

void
userauth_challenge(struct req *r, const char *error)
{
	char	 v[128];

	if (error)
		snprintf(v, sizeof(v), "Bearer realm=\"%s\", error=\"%s\"", USERAUTH_REALM, error);
	else
		snprintf(v, sizeof(v), "Bearer realm=\"%s\"", USERAUTH_REALM);
	(void)resp_header(r, "WWW-Authenticate", v);
}

/* Split a jti "<uuid>.<nonce>" and return the uuid part; 0 if malformed. */
int
userauth_jti_ref(const char *jti, char ref[37])
{
	if (strlen(jti) < 38 || jti[36] != '.')
		return 0;
	memcpy(ref, jti, 36);
	ref[36] = '\0';
	return util_uuid_ok(ref);
}

static int
userauth_verify(struct req *r, const char *token, const char *typ, struct jwt_claims *c)
{
	struct jwt_verify_opts	 o;
	const char		*why = NULL;
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.iss = r->app->settings.public_url;
	o.aud = USERAUTH_AUDIENCE;
	o.typ = typ;
	o.leeway = USERAUTH_LEEWAY_S;
	o.key_for_kid = signkeys_key_for_kid;
	o.ud = r->app;
	o.reason = &why;
	if ((rc = jwt_verify(token, &o, c)) == CB_ERR_UNAVAILABLE) {
		/* The keys could not be read: the store is down, not the token bad. */
		log_kv(LOG_LVL_WARN, "token_unverifiable", "typ", typ, "reason", why ? why : "-", NULL);
		return rc;
	}
	if (rc != CB_OK) {
		log_kv(LOG_LVL_INFO, "token_refused", "typ", typ, "reason", why ? why : "invalid", NULL);
		return CB_ERR_UNAUTHENTICATED;
	}
	return CB_OK;
}

static int
userauth_refuse(struct req *r, const char *event, const char *who)
{
	log_kv(LOG_LVL_INFO, "token_refused", "reason", event, "sub", who, NULL);
	userauth_challenge(r, "invalid_token");
	return CB_ERR_UNAUTHENTICATED;
}

int
userauth_authenticate(struct req *r)
{
	struct jwt_claims	 c;
	struct user_auth	*u;
	struct db_res		*res = NULL;
	const char		*tok = req_bearer(r);
	char			 session[37];
	int			 rc;

	if (tok == NULL) {
		userauth_challenge(r, NULL);
		return CB_ERR_UNAUTHENTICATED;
	}
	if ((rc = userauth_verify(r, tok, USERAUTH_TYP_ACCESS, &c)) != CB_OK) {
		if (rc != CB_ERR_UNAVAILABLE)
			userauth_challenge(r, "invalid_token");
		return rc;
	}
	if (!util_uuid_ok(c.sub) || !userauth_jti_ref(c.jti, session))
		return userauth_refuse(r, "claims_malformed", "-");
	/* Revocation: the user enabled, in that org, the session not revoked. */
	rc = db_query(r->app->db, &res, "SELECT u.org_id::text, u.role, u.disabled_at IS NULL,"
	    " EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = $2::uuid"
	    "   AND t.user_id = u.id AND t.revoked_at IS NULL)"
	    " FROM users u WHERE u.id = $1::uuid", 2, (const char *[]){ c.sub, session });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1 || strcmp(db_val(res, 0, 2), "t") != 0 ||
	    strcmp(db_val(res, 0, 0), c.org) != 0 || strcmp(db_val(res, 0, 3), "t") != 0) {
		db_res_free(res);
		return userauth_refuse(r, "session_revoked_or_user_disabled", c.sub);
	}
	u = req_alloc(r, sizeof(*u));
	util_strlcpy(u->user_id, c.sub, sizeof(u->user_id));
	util_strlcpy(u->org, db_val(res, 0, 0), sizeof(u->org));
	util_strlcpy(u->role, db_val(res, 0, 1), sizeof(u->role));
	util_strlcpy(u->session_id, session, sizeof(u->session_id));
	util_strlcpy(u->jti, c.jti, sizeof(u->jti));
	u->iat = c.iat;
	u->exp = c.exp;
	db_res_free(res);
	r->auth = u;
	util_strlcpy(r->org, u->org, sizeof(r->org));
	return CB_OK;
}

int
userauth_require_role(struct req *r, const char *const roles[])
{
	const struct user_auth	*u = r->auth;
	cJSON			*ext, *arr;
	char			 detail[160];
	size_t			 i, off;

	if (u == NULL)
		return CB_ERR_UNAUTHENTICATED;
	for (i = 0; roles && roles[i]; i++)
		if (strcmp(u->role, roles[i]) == 0)
			return CB_OK;
	if ((ext = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(ext, "required_roles")) == NULL)
		util_oom();
	off = (size_t)snprintf(detail, sizeof(detail), "this requires the role");
	for (i = 0; roles && roles[i]; i++) {
		cJSON_AddItemToArray(arr, cJSON_CreateString(roles[i]));
		if (off < sizeof(detail))
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%s%s",
			    i == 0 ? " " : (roles[i + 1] ? ", " : " or "), roles[i]);
	}
	return route_fail_ext(r, CB_ERR_FORBIDDEN, detail, ext);
}

/* "{a,b}" (a Postgres text[] of plain scopes) -> "a b". */
static int
userauth_scope_text(const char *lit, char *out, size_t outsz)
{
	size_t	 n = strlen(lit), i, o = 0;

	if (n < 2 || lit[0] != '{' || lit[n - 1] != '}' || outsz == 0)
		return CB_ERR_VALIDATION;
	for (i = 1; i + 1 < n; i++) {
		char ch = lit[i];

		/* Quoted elements would hold characters a scope may not have. */
		if (ch == '"' || ch == '\\' || ch == ' ' || o + 1 >= outsz)
			return CB_ERR_VALIDATION;
		out[o++] = ch == ',' ? ' ' : ch;
	}
	out[o] = '\0';
	return CB_OK;
}

/*
 * Both kinds of agent credential.  With `memo`, the key's row is taken from
 * this process's memo for APIKEY_MEMO_MS: only for a route whose statement
 * checks again that the key is live (apikey.h, APIKEY_LIVE_SQL).
 */
static int
userauth_agent(struct req *r, int memo)
{
	struct jwt_claims	 c;
	struct agent_auth	*ag;
	struct db_res		*res = NULL;
	const char		*tok = req_bearer(r);
	char			 key_id[37], mkey[400];
	const char		*mv;
	int			 rc;

	/* API keys (Bearer cbk_… or X-Api-Key) go to their own module. */
	if (tok == NULL || strncmp(tok, "cbk_", 4) == 0) {
		if ((rc = memo ? apikey_authenticate_memo(r) : apikey_authenticate(r)) ==
		    CB_ERR_UNAUTHENTICATED)
			userauth_challenge(r, tok ? "invalid_token" : NULL);
		return rc;
	}
	if ((rc = userauth_verify(r, tok, USERAUTH_TYP_AGENT, &c)) != CB_OK) {
		if (rc != CB_ERR_UNAVAILABLE)
			userauth_challenge(r, "invalid_token");
		return rc;
	}
	if (!util_uuid_ok(c.sub) || !userauth_jti_ref(c.jti, key_id) || c.org[0] == '\0')
		return userauth_refuse(r, "claims_malformed", "-");
	/* The key must still be live and its agent enabled: no stale grant. */
	snprintf(mkey, sizeof(mkey), "cb:akj:%s:%s:%s", key_id, c.sub, c.org);
	if (memo && r->app->memo && (mv = memo_get(r->app->memo, mkey)) != NULL) {
		ag = req_alloc(r, sizeof(*ag));
		if (apikey_memo_decode(mv, ag) == 0) {
			apikey_set_payer(r, ag);
			return CB_OK;
		}
	}
	rc = db_query(r->app->db, &res, "SELECT k.scopes::text, coalesce(k.commands_per_min, 0),"
	    " " APIKEY_MTLS_COLS " FROM api_keys k"
	    " JOIN agents a ON a.id = k.agent_id AND a.org_id = k.org_id"
	    " WHERE k.id = $1::uuid AND k.agent_id = $2::uuid AND k.org_id::text = $3"
	    " AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
	    " AND a.disabled_at IS NULL", 3, (const char *[]){ key_id, c.sub, c.org });
	if (rc != CB_OK)
		return rc;
	if (db_rows(res) != 1) {
		db_res_free(res);
		return userauth_refuse(r, "agent_key_revoked", c.sub);
	}
	ag = req_alloc(r, sizeof(*ag));
	util_strlcpy(ag->org, c.org, sizeof(ag->org));
	util_strlcpy(ag->agent_id, c.sub, sizeof(ag->agent_id));
	util_strlcpy(ag->key_id, key_id, sizeof(ag->key_id));
	util_strlcpy(ag->scopes, db_val(res, 0, 0), sizeof(ag->scopes));
	(void)util_parse_ll(db_val(res, 0, 1), 0, 100000000, &ag->commands_per_min);
	apikey_mtls_from_row(ag, res, 0, 2);
	db_res_free(res);
	if (memo && r->app->memo) {
		char	 v[sizeof(*ag) + 64];

		if (apikey_memo_encode(ag, v, sizeof(v)) == 0)
			memo_put(r->app->memo, mkey, v, APIKEY_MEMO_MS);
	}
	apikey_set_payer(r, ag);
	return CB_OK;
}

int
userauth_authenticate_agent(struct req *r)
{
	return userauth_agent(r, 0);
}

int
userauth_authenticate_agent_memo(struct req *r)
{
	return userauth_agent(r, 1);
}

int
userauth_authenticate_agent_key(struct req *r)
{
	int	 rc;

	if ((rc = apikey_authenticate(r)) == CB_ERR_UNAUTHENTICATED)
		userauth_challenge(r, req_header(r, "Authorization") ||
		    req_header(r, "X-Api-Key") ? "invalid_token" : NULL);
	return rc;
}

/* Claims common to both kinds; jti = "<ref>.<nonce>". */
static int
userauth_claims(struct app *a, struct jwt_claims *c, const char *typ, const char *sub,
    const char *org, const char *ref, long long ttl)
{
	char	 nonce[24];

	memset(c, 0, sizeof(*c));
	util_random_token(nonce, sizeof(nonce), USERAUTH_NONCE_BYTES);
	if (util_strlcpy(c->iss, a->settings.public_url, sizeof(c->iss)) >= sizeof(c->iss) ||
	    util_strlcpy(c->sub, sub, sizeof(c->sub)) >= sizeof(c->sub) ||
	    util_strlcpy(c->org, org, sizeof(c->org)) >= sizeof(c->org) ||
	    (size_t)snprintf(c->jti, sizeof(c->jti), "%s.%s", ref, nonce) >= sizeof(c->jti))
		return CB_ERR_CONFIG;
	util_strlcpy(c->aud, USERAUTH_AUDIENCE, sizeof(c->aud));
	util_strlcpy(c->typ, typ, sizeof(c->typ));
	c->iat = util_now_s();
	c->nbf = c->iat;
	c->exp = c->iat + ttl;
	return CB_OK;
}

int
userauth_issue_access(struct app *a, const char *user_id, const char *org, const char *role,
    const char *session_id, char *out, size_t outsz, int64_t *exp)
{
	struct jwt_claims	 c;
	int			 rc;

	if ((rc = userauth_claims(a, &c, USERAUTH_TYP_ACCESS, user_id, org, session_id,
	    a->settings.access_ttl_s)) != CB_OK)
		return rc;
	if (util_strlcpy(c.role, role, sizeof(c.role)) >= sizeof(c.role))
		return CB_ERR_VALIDATION;
	if ((rc = signkeys_sign(a, &c, out, outsz)) == CB_OK && exp)
		*exp = c.exp;
	return rc;
}

int
userauth_issue_agent(struct app *a, const struct agent_auth *ag, char *out, size_t outsz,
    int64_t *exp, char *scope, size_t scopesz)
{
	struct jwt_claims	 c;
	long long		 ttl = USERAUTH_AGENT_TTL_S;
	int			 rc;

	if (ttl > a->settings.access_ttl_s)
		ttl = a->settings.access_ttl_s;
	if ((rc = userauth_claims(a, &c, USERAUTH_TYP_AGENT, ag->agent_id, ag->org, ag->key_id,
	    ttl)) != CB_OK)
		return rc;
	if ((rc = userauth_scope_text(ag->scopes, c.scope, sizeof(c.scope))) != CB_OK)
		return rc;
	util_strlcpy(scope, c.scope, scopesz);
	if ((rc = signkeys_sign(a, &c, out, outsz)) == CB_OK && exp)
		*exp = c.exp;
	return rc;
}

int
userauth_idem_scope(struct req *r, char *org, size_t orgsz, char *scope, size_t scopesz)
{
	const struct user_auth	*u = r->auth;

	if (u == NULL)
		return CB_ERR_INTERNAL;
	util_strlcpy(org, u->org, orgsz);
	snprintf(scope, scopesz, "user:%s", u->user_id);
	return CB_OK;
}

int
userauth_audit(struct req *r, const char *action, const char *subject, const char *detail_json)
{
	const struct user_auth	*u = r->auth;
	char			 actor[48];

	if (u == NULL)
		return CB_ERR_INTERNAL;
	snprintf(actor, sizeof(actor), "user:%s", u->user_id);
	return audit_append(r->app->db, u->org, actor, action, subject, detail_json);
}

int
userauth_authenticate_person_only(struct req *r)
{
	struct jwt_claims	 c;
	const char		*tok = req_bearer(r);
	char			 v[160];
	int			 rc;

	if (req_header(r, "X-Api-Key") == NULL &&
	    (tok == NULL || strncmp(tok, "cbk_", 4) != 0)) {
		rc = userauth_authenticate(r);
		/* Not a person's: perhaps an agent's token, which is refused otherwise. */
		if (rc != CB_ERR_UNAUTHENTICATED || tok == NULL ||
		    userauth_verify(r, tok, USERAUTH_TYP_AGENT, &c) != CB_OK)
			return rc;
	}
	if ((rc = userauth_authenticate_agent(r)) != CB_OK)
		return rc;
	r->auth = NULL;
	snprintf(v, sizeof(v), "Bearer realm=\"%s\", error=\"insufficient_scope\"",
	    USERAUTH_REALM);
	(void)resp_header(r, "WWW-Authenticate", v);
	return route_fail(r, CB_ERR_FORBIDDEN, "an agent may never take this decision: only a "
	    "person may");
}
