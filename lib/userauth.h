/*
 * userauth: who is calling, from a bearer JWT signed by lib/signkeys.
 *
 * People.  `Authorization: Bearer <JWT>` with payload typ "access", our
 * issuer (CB_PUBLIC_URL) and audience USERAUTH_AUDIENCE, alg pinned to
 * Ed25519 and the kid looked up in signkeys' cache, USERAUTH_LEEWAY_S of
 * clock skew.  An access token's jti is "<session id>.<nonce>", the
 * session being the refresh-token family the login started (lib/refresh.h).
 *
 * Revocation is checked on every request, in one indexed query: the user
 * row must exist, be enabled (disabled_at NULL) and belong to the token's
 * org, and the token's session must still hold an unrevoked refresh token.
 * So a disabled user, a logout, a refresh-token reuse (family revoked) and
 * an operator's `cb-admin sessions-revoke` stop every access token of
 * that session at once, not at its expiry.  The role used is the one in
 * the row now (a demotion takes effect at once), not the token's claim.
 * Postgres away means the check cannot be made: 503, never a pass.
 *
 * Agents.  POST /api/v1/auth/agent-token exchanges an API key for a JWT of
 * typ "agent" (sub = agent id, org, scope = the key's scopes, jti =
 * "<api key id>.<nonce>", USERAUTH_AGENT_TTL_S).  Each request re-checks
 * that the key is live and the agent enabled, and takes the key's current
 * scopes.  userauth_authenticate_agent accepts either form.
 *
 * Every failure is CB_ERR_UNAUTHENTICATED (401) with a WWW-Authenticate
 * challenge (RFC 6750 §3): `Bearer realm="context-broker",
 * error="invalid_token"` when a token was presented, without the error
 * when none was (as §3.1 asks).
 */
#ifndef CB_USERAUTH_H
#define CB_USERAUTH_H

#include <stddef.h>
#include <stdint.h>

struct agent_auth;
struct app;
struct req;

#define USERAUTH_AUDIENCE	"context-broker"
#define USERAUTH_REALM		REQ_AUTH_REALM
#define USERAUTH_TYP_ACCESS	"access"
#define USERAUTH_TYP_AGENT	"agent"
#define USERAUTH_LEEWAY_S	30
#define USERAUTH_AGENT_TTL_S	300

/* req->auth after userauth_authenticate. */
struct user_auth {
	char		 user_id[37];
	char		 org[24];	/* org id as text */
	char		 role[16];	/* admin, operator, viewer, approver: the row's, now */
	char		 session_id[37];	/* the refresh-token family */
	char		 jti[64];
	int64_t		 iat, exp;
};

/*
 * The uuid a token's jti starts with ("<uuid>.<nonce>": a person's session,
 * an agent's API key id) into ref; 1 if there is one, else 0.
 */
int	 userauth_jti_ref(const char *jti, char ref[37]);

/* The pipeline hook for people: fills req->auth with a struct user_auth. */
int	 userauth_authenticate(struct req *);

/*
 * An audit row (lib/audit.h) for a change the calling person made: actor
 * "user:<id>", their organisation, in the request's connection, so inside
 * the transaction of the change when one is open.  Only for a route whose
 * .auth is ROUTE_AUTH_PERSON (req->auth a struct user_auth).
 */
/*
 * The Idempotency-Key scope of a person's write (a route's idem_scope): the
 * caller's tenant, and "user:<id>" so two people's keys never meet.
 */
int	 userauth_idem_scope(struct req *, char *org, size_t orgsz, char *scope,
	    size_t scopesz);
int	 userauth_audit(struct req *, const char *action, const char *subject,
	    const char *detail_json) __attribute__((warn_unused_result));

/*
 * Authorize a person already authenticated: CB_OK if their role is one of
 * `roles` (NULL-terminated), else CB_ERR_FORBIDDEN recorded (route_fail)
 * with a detail that names the roles required ("required_roles" member
 * too).  CB_ERR_UNAUTHENTICATED when req->auth is not a person.  The
 * pipeline calls it for a route's .roles (lib/route.h).
 */
int	 userauth_require_role(struct req *, const char *const roles[]);

/*
 * The pipeline hook for agents: an API key (delegated to
 * apikey_authenticate) or an agent JWT; either way req->auth is a struct
 * agent_auth (lib/apikey.h) with the key's current scopes.
 */
int	 userauth_authenticate_agent(struct req *);
/*
 * The same, the key's row remembered in the process for APIKEY_MEMO_MS: only
 * for a route whose one statement checks again that the key is live
 * (APIKEY_LIVE_SQL in apikey.h), so a revoked key still fails at once.
 */
int	 userauth_authenticate_agent_memo(struct req *);
/*
 * An API key only (Bearer cbk_... or X-Api-Key), never an agent JWT: the
 * route that exchanges a key for an agent JWT.  req->auth as above.
 */
int	 userauth_authenticate_agent_key(struct req *);

/*
 * A person, as userauth_authenticate, on a route no agent may ever use (an
 * approval's decision): a request carrying an agent's credentials that
 * are valid (a live API key, Bearer cbk_... or X-Api-Key, or an agent JWT)
 * is refused with CB_ERR_FORBIDDEN recorded (403, WWW-Authenticate
 * error="insufficient_scope"), not answered as a bad person's token;
 * invalid ones get the 401 they would get anywhere.
 */
int	 userauth_authenticate_person_only(struct req *);

/*
 * Sign an access token for a session; *exp gets its expiry (epoch s).
 * out should hold JWT_TOKEN_BUFSZ bytes.
 */
int	 userauth_issue_access(struct app *, const char *user_id, const char *org,
	    const char *role, const char *session_id, char *out, size_t outsz, int64_t *exp)
	    __attribute__((warn_unused_result));

/*
 * Sign an agent token for an authenticated API key; its space-separated
 * scope goes to `scope` (at least 256 bytes).
 */
int	 userauth_issue_agent(struct app *, const struct agent_auth *, char *out, size_t outsz,
	    int64_t *exp, char *scope, size_t scopesz)
	    __attribute__((warn_unused_result));

/* Set the WWW-Authenticate challenge; error NULL when no token was sent. */
void	 userauth_challenge(struct req *, const char *error);

#endif
