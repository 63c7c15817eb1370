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
 * guessed key cannot reach another caller's stored response.
 */
#ifndef CB_IDEM_H
#define CB_IDEM_H

#include <stddef.h>

struct req;

#define IDEM_KEY_MAX	255

struct idem {
	char	 key[IDEM_KEY_MAX + 1];
	char	 org[24];
	char	 scope[80];
	char	 fp[2 + 64 + 1];	/* "\\x" + hex SHA-256 */
	int	 replayed;
};

/*
 * Parse the header value: an RFC 8941 sf-string ("...") as the draft
 * requires, or a bare token tolerated.  1..255 printable ASCII characters.
 */
int	 idem_parse(const char *header, char *out, size_t outsz);
int	 idem_begin(struct req *, struct idem *, const char *org, const char *scope);
int	 idem_finish(struct req *, struct idem *);
void	 idem_abort(struct req *, struct idem *);

#endif
