/*
 * idem: Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) backed
 * by Postgres, in the same transaction as the effect.
 *
 * idem_begin opens a transaction and claims (org, scope, key) with a unique
 * insert.  A concurrent request holding the same key makes the insert wait
 * on the row lock; after a short lock_timeout it answers 409 (in flight).
 * A committed key with the same fingerprint replays the stored status and
 * body with `Idempotent-Replayed: true`; a different fingerprint (method,
 * path and body bytes) answers 422.  idem_finish stores the response and
 * commits; idem_abort rolls everything back so the client may retry.
 *
 * The key is scoped by the caller (scope, e.g. the tab's context) so a
 * guessed key cannot reach another caller's stored response.  A key lives
 * CB_IDEM_TTL_S (expires_at); an expired key that is not purged yet is a
 * new request: the claim takes its row over.
 *
 * A route whose effect is one statement can do without the transaction
 * (ROUTE_IDEM_ONE_STATEMENT): idem_prepare checks the header and computes
 * the fingerprint, and the route's statement claims the key, writes the
 * effect and stores its answer at once, with IDEM_CLAIM_CTE and
 * IDEM_STORED_SQL below; idem_stored_answer then turns a stored row into
 * the replay (or the 422).
 */
#ifndef CB_IDEM_H
#define CB_IDEM_H

#include <stddef.h>

struct db;
struct req;

#define IDEM_KEY_MAX	255

struct idem {
	char	 key[IDEM_KEY_MAX + 1];
	char	 org[24];
	char	 scope[80];
	char	 fp[2 + 64 + 1];	/* "\\x" + hex SHA-256 */
	/*
	 * The answer set is the stored one of an earlier request with this
	 * key (so the route's `after` hook, its wake-ups, are not run again).
	 */
	int	 from_store;
};

/*
 * Parse the header value: an RFC 8941 sf-string ("...") as the draft
 * requires, or a bare token tolerated.  1..255 printable ASCII characters.
 */
int	 idem_parse(const char *header, char *out, size_t outsz);
/*
 * Parse the header and fingerprint the request, touching no database.
 * A missing or malformed key fails (route_fail) with CB_ERR_IDEM_MISSING.
 */
int	 idem_prepare(struct req *, struct idem *, const char *org, const char *scope);
/*
 * Claim the key in a new transaction: CB_OK with the key held (the effect
 * follows in the transaction), or CB_OK with id->from_store and the stored
 * answer set (the transaction is over), or an error: CB_ERR_IDEM_MISMATCH
 * (422), CB_ERR_IDEM_IN_FLIGHT (409), the key's own failures.
 */
int	 idem_begin(struct req *, struct idem *, const char *org, const char *scope);
int	 idem_finish(struct req *, struct idem *);
void	 idem_abort(struct req *, struct idem *);
/*
 * After idem_abort: claim the key anew with the refusal now rendered in
 * the request (status and body), in one autocommit statement, so a replay
 * answers it again.  A key another request claimed meanwhile keeps its
 * own; a failure only costs the client a re-run of its retry (logged).
 */
void	 idem_remember(struct req *, struct idem *);
/*
 * Answer from a stored key's row (columns matches, status, response as
 * IDEM_STORED_SQL gives them): the replay with Idempotent-Replayed: true
 * (CB_OK; the caller sets id->from_store), or CB_ERR_IDEM_MISMATCH (422,
 * recorded with route_fail) when the fingerprint differs.
 */
int	 idem_stored_answer(struct req *, const char *matches, const char *status,
	    const char *response);
/* 1 when the last statement failed waiting for the key's holder (55P03). */
int	 idem_lock_timed_out(const struct db *);

/*
 * The claim as a data-modifying CTE named k (one row when this request
 * holds the key now, none when another request holds it), given the
 * parameter numbers of org, scope, key, method, path, fingerprint (text
 * bytea), status, response and the lifetime in seconds.  The row stores
 * the answer it is claimed with: the statement that claims it must write
 * the effect too, or raise.
 */
#define IDEM_CLAIM_CTE(org, scope, key, method, path, fp, status, resp, ttl) \
	"k AS (INSERT INTO idempotency_keys AS i (org_id, scope, idem_key, method, path," \
	"   fingerprint, status, response, created_at, expires_at)" \
	" VALUES (" org ", " scope ", " key ", " method ", " path ", " fp "::bytea, " \
	    status "::int, " resp ", now(), now() + make_interval(secs => " ttl "::int))" \
	" ON CONFLICT (org_id, scope, idem_key) DO UPDATE SET method = EXCLUDED.method," \
	"   path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status," \
	"   response = EXCLUDED.response, created_at = EXCLUDED.created_at," \
	"   expires_at = EXCLUDED.expires_at" \
	" WHERE i.expires_at < now() RETURNING 1 AS claimed)"
/*
 * The stored answer (matches, status, response) of a key another request
 * holds, read with a snapshot of its own (sql/0005_pipeline.up.sql), so
 * a holder that committed while this statement waited is seen.
 */
#define IDEM_STORED_SQL(org, scope, key, fp, method, path) \
	"cb_idem_stored(" org ", " scope ", " key ", " fp "::bytea, " method ", " path ")"

/* Lock wait bound for a key's holder, set per statement (55P03 after it). */
#define IDEM_LOCK_SETUP	"SELECT set_config('lock_timeout', '300ms', true)"

#endif
