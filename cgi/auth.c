/*
 * POST /api/v1/auth/login        {"org","email","password"}
 * POST /api/v1/auth/refresh      {"refresh_token"}
 * POST /api/v1/auth/logout       {"refresh_token"}
 * GET  /api/v1/auth/me           (Authorization: Bearer <access token>)
 * POST /api/v1/auth/agent-token  (an agent's API key; no body)
 *
 * Who: login, refresh and logout: anyone holding the credential they
 *   carry; me: any person with an access token (every role); agent-token:
 *   an agent with a live API key.
 * Transport: HTTPS only (ROUTE_TLS_ONLY, and me as a person's route): over
 *   plain HTTP every route answers 403 https-required before reading the
 *   body, unless CB_PLAIN_HTTP_CREDENTIALS (local development) allows it.
 * Idempotency-Key: not used.  A retried login or agent-token opens another
 *   session or token, which is harmless; a retried refresh is absorbed by
 *   the rotation overlap (lib/refresh.h); logout is idempotent.
 * Answers:
 *   login    200 {"access_token","token_type":"Bearer","expires_in",
 *            "refresh_token"}; 401 for an unknown org, an unknown user, a
 *            user of another org, a wrong password and a disabled user
 *            alike (same type, title and detail; the same argon2id work is
 *            spent in each case); users belong to one org, named by its slug
 *            (docs/identity.md); 429 + Retry-After past
 *            AUTH_LOGIN_PER_ACCOUNT a minute for one (org, email) or
 *            AUTH_LOGIN_PER_IP for one client address; 503 when the rate
 *            limiter (Redis) is down: fail closed, since an unmetered login
 *            is an unmetered password guesser; 400, 413, 415 as every route.
 *   refresh  200 a new pair (same shape); 401 for an unknown, expired,
 *            revoked or reused token (reuse revokes the whole family).
 *   logout   204 always (also for an unknown token): the token's family is
 *            revoked, its access tokens stop working at once.
 *   me       200 {"sub","org","role","exp"}; 401 + WWW-Authenticate.
 *   agent-token 200 {"access_token","token_type":"Bearer","expires_in",
 *            "scope"}: a JWT of typ "agent" for lib/userauth's
 *            userauth_authenticate_agent; 401 bad key.
 * Every answer carrying a credential is Cache-Control: no-store.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "db.h"
#include "errs.h"
#include "jwt.h"
#include "log.h"
#include "pwhash.h"
#include "ratelimit.h"
#include "refresh.h"
#include "route.h"
#include "signkeys.h"
#include "userauth.h"
#include "users.h"
#include "util.h"

#define AUTH_LOGIN_PER_ACCOUNT	5	/* attempts a minute for one (org, email) */
#define AUTH_LOGIN_PER_IP	30	/* attempts a minute from one REMOTE_ADDR */
#define AUTH_LOGIN_REFUSED	"the organisation, the email or the password is wrong"
#define AUTH_REFRESH_REFUSED	"the refresh token is invalid, expired or revoked"

struct login_args {
	const char	*org;
	const char	*email;
	const char	*password;
};

static const struct jv_field login_fields[] = {
	{ "org", JV_STRING, JV_REQUIRED, 1, 63, offsetof(struct login_args, org), NULL },
	{ "email", JV_STRING, JV_REQUIRED, 1, 320, offsetof(struct login_args, email), NULL },
	{ "password", JV_STRING, JV_REQUIRED, 1, PWHASH_PASSWORD_MAX,
	  offsetof(struct login_args, password), NULL },
};

struct token_args {
	const char	*refresh_token;
};

static const struct jv_field token_fields[] = {
	{ "refresh_token", JV_STRING, JV_REQUIRED, 1, 256,
	  offsetof(struct token_args, refresh_token), NULL },
};

static void
auth_no_store(struct req *r)
{
	resp_header(r, "Cache-Control", "no-store");
	resp_header(r, "Pragma", "no-cache");
}

/*
 * The login buckets: the client address first (so a flood from one place
 * does not also drain the accounts it names), then the account, (org,
 * email), by a keyed digest (never the address itself): failures against
 * one tenant never lock out the same address in another.
 * CB_ERR_RATE_LIMITED (the 429 of route_too_many); CB_ERR_UNAVAILABLE when
 * Redis cannot be asked.
 */
static int
auth_login_limit(struct req *r, const char *org, const char *email)
{
	char	 key[160], idx[DIGEST_TEXT];
	long	 wait_ms = 0;
	int	 rc;

	snprintf(key, sizeof(key), "cb:rl:login:ip:%s",
	    r->remote_addr && *r->remote_addr ? r->remote_addr : "-");
	rc = ratelimit_take(r->app->kv, key, AUTH_LOGIN_PER_IP, &wait_ms);
	if (rc == CB_OK && users_login_bucket(r->app->settings.blind_index_key, org, email,
	    idx) == CB_OK) {
		snprintf(key, sizeof(key), "cb:rl:login:acct:%s", idx + 2);
		rc = ratelimit_take(r->app->kv, key, AUTH_LOGIN_PER_ACCOUNT, &wait_ms);
	}
	if (rc == CB_ERR_RATE_LIMITED)
		return route_too_many(r, wait_ms, "too many login attempts: retry later");
	if (rc != CB_OK) {
		log_kv(LOG_LVL_ERROR, "login_limiter_down", "error", errs_name(rc), NULL);
		return CB_ERR_UNAVAILABLE;
	}
	return CB_OK;
}

/*
 * A bearer token as the answer, no-store: access_token, token_type,
 * expires_in, then `name` (the refresh token, or the agent's scope).
 */
static void
auth_answer_token(struct req *r, const char *access, double expires_in, const char *name,
    const char *value)
{
	cJSON	*o;

	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	cJSON_AddStringToObject(o, "access_token", access);
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	cJSON_AddNumberToObject(o, "expires_in", expires_in);
	cJSON_AddStringToObject(o, name, value);
	auth_no_store(r);
	resp_json(r, 200, o);
	/* The serialized body is in r->out; wipe the tree's copies. */
	sodium_memzero(cJSON_GetObjectItem(o, "access_token")->valuestring, strlen(access));
	sodium_memzero(cJSON_GetObjectItem(o, name)->valuestring, strlen(value));
	cJSON_Delete(o);
}

/* A refresh grant and its access token, as the answer. */
static int
auth_answer_pair(struct req *r, struct refresh_grant *g)
{
	char	 access[JWT_TOKEN_BUFSZ];
	int64_t	 exp = 0;
	int	 rc;

	rc = userauth_issue_access(r->app, g->user_id, g->org, g->role, g->family_id,
	    access, sizeof(access), &exp);
	if (rc == CB_OK)
		auth_answer_token(r, access, (double)r->app->settings.access_ttl_s,
		    "refresh_token", g->token);
	sodium_memzero(access, sizeof(access));
	return rc;
}

static void
auth_client(struct req *r, struct refresh_client *c)
{
	c->ip = r->remote_addr;
	c->user_agent = req_header(r, "User-Agent");
}

static int
auth_login(struct req *r, const void *argp)
{
	const struct login_args	*a = argp;
	struct refresh_client	 client;
	struct refresh_grant	 g;
	struct user		 u;
	char			 masked[128], newhash[PWHASH_STRBYTES];
	size_t			 pwlen = strlen(a->password);
	const char		*why = NULL;
	int			 rc, found;

	memset(&g, 0, sizeof(g));
	if ((rc = auth_login_limit(r, a->org, a->email)) != CB_OK)
		return rc;
	rc = users_find_by_email(r->app, a->org, a->email, &u);
	if (rc != CB_OK && rc != CB_ERR_NOT_FOUND)
		goto out;
	found = rc == CB_OK;
	/*
	 * One argon2id computation on every path, the same for an unknown
	 * user, a password out of bounds, a wrong one and a disabled user.
	 */
	if (found && pwlen >= PWHASH_PASSWORD_MIN && pwlen <= PWHASH_PASSWORD_MAX)
		rc = pwhash_verify(u.password_hash, a->password, pwlen);
	else
		rc = pwhash_dummy_verify();
	if (!found)
		why = "unknown_user";
	else if (rc != CB_OK)
		why = "wrong_password";
	else if (u.disabled)
		why = "user_disabled";
	if (why) {
		log_mask_email(a->email, masked, sizeof(masked));
		log_kv(LOG_LVL_INFO, "login_failed", "email", masked, "reason", why, NULL);
		userauth_challenge(r, NULL);
		rc = route_fail(r, CB_ERR_UNAUTHENTICATED, AUTH_LOGIN_REFUSED);
		goto out;
	}
	/* Parameters raised since this hash was made: upgrade it now. */
	if (pwhash_needs_rehash(u.password_hash) &&
	    pwhash_hash(a->password, pwlen, newhash) == CB_OK) {
		if (db_exec(r->app->db, "UPDATE users SET password_hash = $2"
		    " WHERE id = $1::uuid AND password_hash = $3", 3,
		    (const char *[]){ u.id, newhash, u.password_hash }) == CB_OK)
			log_kv(LOG_LVL_INFO, "password_rehashed", "user", u.id, NULL);
		sodium_memzero(newhash, sizeof(newhash));
	}
	auth_client(r, &client);
	if ((rc = refresh_start(r->app, u.id, u.org, u.role, &client, &g)) != CB_OK)
		goto out;
	rc = auth_answer_pair(r, &g);
	if (rc == CB_OK)
		log_kv(LOG_LVL_INFO, "login", "user", u.id, "session", g.family_id, NULL);
out:
	sodium_memzero(&g, sizeof(g));
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	return rc;
}

static int
auth_refresh(struct req *r, const void *argp)
{
	const struct token_args	*a = argp;
	struct refresh_client	 client;
	struct refresh_grant	 g;
	int			 rc;

	auth_client(r, &client);
	rc = refresh_rotate(r->app, a->refresh_token, &client, &g);
	if (rc == CB_ERR_UNAUTHENTICATED) {
		userauth_challenge(r, "invalid_token");
		rc = route_fail(r, rc, AUTH_REFRESH_REFUSED);
	} else if (rc == CB_OK)
		rc = auth_answer_pair(r, &g);
	sodium_memzero(&g, sizeof(g));
	return rc;
}

static int
auth_logout(struct req *r, const void *argp)
{
	const struct token_args	*a = argp;
	long long		 n = 0;
	int			 rc;

	if ((rc = refresh_revoke_family(r->app, a->refresh_token, &n)) != CB_OK)
		return rc;
	if (n > 0)
		log_kv(LOG_LVL_INFO, "logout", NULL);
	auth_no_store(r);
	resp_body(r, 204, NULL, "", 0);
	return CB_OK;
}

static int
auth_me(struct req *r, const void *argp)
{
	const struct user_auth	*u = r->auth;
	cJSON			*o;

	(void)argp;
	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	cJSON_AddStringToObject(o, "sub", u->user_id);
	cJSON_AddStringToObject(o, "org", u->org);
	cJSON_AddStringToObject(o, "role", u->role);
	cJSON_AddNumberToObject(o, "exp", (double)u->exp);
	auth_no_store(r);
	resp_json(r, 200, o);
	cJSON_Delete(o);
	return CB_OK;
}

static int
auth_agent_token(struct req *r, const void *argp)
{
	const struct agent_auth	*ag = r->auth;
	char			 tok[JWT_TOKEN_BUFSZ], scope[256];
	int64_t			 exp = 0;
	int			 rc;

	(void)argp;
	rc = userauth_issue_agent(r->app, ag, tok, sizeof(tok), &exp, scope, sizeof(scope));
	if (rc == CB_OK) {
		auth_answer_token(r, tok, (double)(exp - util_now_s()), "scope", scope);
		log_kv(LOG_LVL_INFO, "agent_token", "agent", ag->agent_id, "key", ag->key_id, NULL);
	}
	sodium_memzero(tok, sizeof(tok));
	return rc;
}

static const struct route auth_routes[] = {
	{ .method = "POST", .pattern = "/api/v1/auth/login", .body_max = 4096,
	  .flags = ROUTE_JSON | ROUTE_TLS_ONLY,
	  .fields = login_fields, .nfields = ROUTE_NELEM(login_fields),
	  .args_size = sizeof(struct login_args), .act = auth_login },
	{ .method = "POST", .pattern = "/api/v1/auth/refresh", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_TLS_ONLY,
	  .fields = token_fields, .nfields = 1, .args_size = sizeof(struct token_args),
	  .act = auth_refresh },
	{ .method = "POST", .pattern = "/api/v1/auth/logout", .body_max = 1024,
	  .flags = ROUTE_JSON | ROUTE_TLS_ONLY,
	  .fields = token_fields, .nfields = 1, .args_size = sizeof(struct token_args),
	  .act = auth_logout },
	/* Any person, whatever the role. */
	{ .method = "GET", .pattern = "/api/v1/auth/me", .auth = ROUTE_AUTH_PERSON, .act = auth_me },
	/* Only an API key buys an agent token (never an agent token itself). */
	{ .method = "POST", .pattern = "/api/v1/auth/agent-token", .auth = ROUTE_AUTH_AGENT_KEY,
	  .flags = ROUTE_TLS_ONLY, .rate_class = RATE_AGENT, .act = auth_agent_token },
};

ROUTE_MAIN("auth", auth_routes,
    .init = signkeys_responder_init, .fini = signkeys_responder_fini)
