/*
 * keyring: the process's seal keyring (lib/seal.h) kept in step with the
 * data_keys table.
 *
 * keyring_open reads the root key file and unwraps every data key row that
 * is not retired (reseal_retire retires a key only once no value needs it); a
 * key that does not unwrap means the root key is wrong, and the process
 * must refuse to start (CB_ERR_CRYPTO with a clear message).  On a fresh
 * database it creates key 1 of each purpose.  keyring_get reloads the rows
 * when they changed (at most every KEYRING_CHECK_MS), so a rotation reaches
 * every running process within seconds, without a restart.
 */
#ifndef CB_KEYRING_H
#define CB_KEYRING_H

#include <stddef.h>

struct db;
struct seal_keyring;

#define KEYRING_CHECK_MS	5000.0

struct keyring {
	struct seal_keyring	*kr;
	char			*root_file;
	char			 sig[512];	/* what the rows looked like at load */
	double			 checked_ms;
};

int	 keyring_open(struct keyring *, struct db *, const char *root_file, char *err, size_t errsz);
/* The current keyring (NULL if it could never be loaded: CB_ERR_UNAVAILABLE). */
struct seal_keyring *keyring_get(struct keyring *, struct db *);
/*
 * The same, checking the rows now whatever KEYRING_CHECK_MS says: for a
 * value that did not open, which another process may have sealed with a
 * key this one has not loaded yet.
 */
struct seal_keyring *keyring_recheck(struct keyring *, struct db *);
void	 keyring_close(struct keyring *);
/* Make a new current data key for purpose ("tokens" or "pii"); its id into *id. */
int	 keyring_rotate(struct keyring *, struct db *, const char *purpose, int *id);
/* Purpose name <-> SEAL_PURPOSE_*. */
int	 keyring_purpose(const char *name);

/*
 * The keys in use and their ages, one row each: kind ("data" or
 * "signing"), purpose ("pii", "tokens"; "jwt"), region ("" when none), key
 * id, age in seconds.  Read by GET /metrics (cb_key_age_seconds) and
 * `cb-admin key-ages`, which warns past CB_KEY_WARN_DAYS.
 */
#define KEYRING_AGES_SQL \
	"SELECT 'data', purpose, coalesce(region, ''), id::text," \
	" extract(epoch FROM now() - created_at)::float8" \
	" FROM data_keys WHERE state = 'current'" \
	" UNION ALL SELECT 'signing', 'jwt', '', kid," \
	" extract(epoch FROM now() - coalesce(activated_at, created_at))::float8" \
	" FROM signing_keys WHERE state = 'active' ORDER BY 1, 2, 3"

#endif
