/*
 * apikey: agent API keys.
 *
 * A key reads "cbk_<prefix>_<secret>": the prefix (12 URL-safe characters)
 * is stored in clear to find the row; the whole key is stored only as a
 * BLAKE2b-256 hash keyed with a server-side pepper (CB_API_KEY_PEPPER), so a
 * database dump alone cannot be used to check guesses.  A key is shown once
 * at creation.  A revoked or expired key, or a disabled agent, fails at once:
 * apikey_verify has no cache to go stale.  apikey_verify_memo remembers a
 * verified key in the process for APIKEY_MEMO_MS, and is only for a route
 * whose one statement checks again that the key is live (APIKEY_LIVE_SQL),
 * so a revoked key still fails at once there, without a second query.
 */
#ifndef CB_APIKEY_H
#define CB_APIKEY_H

#include <stddef.h>

struct db;
struct memo;
struct req;

#define APIKEY_PREFIX_LEN	12
#define APIKEY_LEN		(4 + APIKEY_PREFIX_LEN + 1 + 43)

struct agent_auth {
	char		 org[24];
	char		 agent_id[37];
	char		 key_id[37];
	char		 scopes[512];	/* Postgres text[] literal, e.g. {commands:write} */
	long long	 commands_per_min;	/* the key's own quota; 0 = the default */
};

/* A new key, its prefix and the "\\x..." bytea of its keyed hash. */
int	 apikey_new(const char *pepper_hex, char key[APIKEY_LEN + 1],
	    char prefix[APIKEY_PREFIX_LEN + 1], char hash_bytea[2 + 64 + 1]);
/* Verify a presented key; fills `out` on success, else CB_ERR_UNAUTHENTICATED. */
int	 apikey_verify(struct db *, const char *pepper_hex, const char *key, struct agent_auth *);
/* apikey_verify with this process's memo in front (see above). */
int	 apikey_verify_memo(struct db *, struct memo *, const char *pepper_hex, const char *key,
	    struct agent_auth *);

#define APIKEY_MEMO_MS	2000.0
/*
 * A condition true while API key $K (a uuid) is live: not revoked, not
 * expired, its agent enabled.  Spliced into a statement with its parameter.
 */
#define APIKEY_LIVE_SQL(K) \
	"EXISTS (SELECT 1 FROM api_keys lk JOIN agents la ON la.id = lk.agent_id" \
	" AND la.org_id = lk.org_id WHERE lk.id = " K "::uuid AND lk.revoked_at IS NULL" \
	" AND (lk.expires_at IS NULL OR lk.expires_at > now()) AND la.disabled_at IS NULL)"

/* Authenticate "Authorization: Bearer cbk_..." (or X-Api-Key) into req->auth. */
int	 apikey_authenticate(struct req *);
/* Make `a` the request's caller: req->auth, and who pays (org, key). */
void	 apikey_set_payer(struct req *, struct agent_auth *);
/* 1 if the authenticated agent holds `scope`. */
int	 apikey_has_scope(const struct agent_auth *, const char *scope);

#endif
