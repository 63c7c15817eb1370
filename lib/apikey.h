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

#include "mtls.h"

struct db;
struct db_res;
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
	/*
	 * The identity the agent must present over mutual TLS (lib/mtls.h):
	 * an exact subject DN and/or "sha256,sha256" pins; both "" = none.
	 */
	char		 mtls_subject[MTLS_SUBJECT_MAX + 1];
	char		 mtls_sha256[MTLS_PINS_BUFSZ];
	/* The key's own (sql/0019_key_mtls): met as well as the agent's. */
	char		 key_mtls_subject[MTLS_SUBJECT_MAX + 1];
	char		 key_mtls_sha256[MTLS_PINS_BUFSZ];
};

/*
 * The agent's and the key's mTLS columns every query that authenticates an
 * agent selects (agents aliased `a`, api_keys `k`), in this order, for
 * apikey_mtls_from_row.
 */
#define APIKEY_MTLS_COLS \
	"coalesce(a.mtls_subject, ''), coalesce(array_to_string(a.mtls_sha256, ','), '')," \
	" coalesce(k.mtls_subject, ''), coalesce(array_to_string(k.mtls_sha256, ','), '')"
/* Copy those four columns of a row (the first at `col`) into `out`. */
void	 apikey_mtls_from_row(struct agent_auth *out, struct db_res *, int row, int col);
/*
 * A verified principal as the process memo keeps it, and back (-1 when the
 * value is not one): every field, the mTLS identity included, so a memo
 * hit carries the requirement.
 */
int	 apikey_memo_encode(const struct agent_auth *, char *out, size_t outsz);
int	 apikey_memo_decode(const char *v, struct agent_auth *);

/* A new key, its prefix and the "\\x..." bytea of its keyed hash. */
int	 apikey_new(const char *pepper_hex, char key[APIKEY_LEN + 1],
	    char prefix[APIKEY_PREFIX_LEN + 1], char hash_bytea[2 + 64 + 1]);
/*
 * For a caller that runs its own (asynchronous) statement: a presented
 * key's prefix, to find its row, and the keyed hash the row must hold
 * ("\\x..." as the row's key_hash reads with '\\x' || encode(.., 'hex')).
 * CB_ERR_UNAUTHENTICATED for a key of the wrong shape, CB_ERR_CONFIG for
 * a bad pepper.  apikey_hash_eq compares the two in constant time.
 */
int	 apikey_lookup(const char *pepper_hex, const char *key,
	    char prefix[APIKEY_PREFIX_LEN + 1], char hash_bytea[2 + 64 + 1]);
int	 apikey_hash_eq(const char *stored, const char *want);
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
/*
 * The same with this process's memo in front (apikey_verify_memo): only for
 * a route whose statement checks again that the key is live.
 */
int	 apikey_authenticate_memo(struct req *);
/* Make `a` the request's caller: req->auth, and who pays (org, key). */
void	 apikey_set_payer(struct req *, struct agent_auth *);
/* 1 if the authenticated agent holds `scope`. */
int	 apikey_has_scope(const struct agent_auth *, const char *scope);

#endif
