/*
 * app: the per-process resources a responder (and the CLI, for the library
 * calls that take one) runs with: settings, one Postgres and one Redis
 * connection, the seal keyring, this process's memo.  Its own header so that
 * a module needing the app (r->app) does not include the pipeline
 * (route.h) to reach it.
 *
 * Starting on a bad keyring is refused in one place (app_keyring_start),
 * for every responder and the worker alike: a root key that does not
 * unwrap the data keys, or a root key file that is missing, malformed or
 * readable by others, stops the process with a message naming
 * CB_SEAL_ROOT_KEY_FILE.  Postgres being away is not fatal: the keys load
 * on first use.
 */
#ifndef CB_APP_H
#define CB_APP_H

#include "keyring.h"
#include "settings.h"

struct db;
struct kv;
struct memo;

/* Per-process resources, opened in each child after fork. */
struct app {
	struct settings	 settings;
	struct db	*db;
	struct kv	*kv;
	struct keyring	 keys;		/* the seal keyring, kept in step with data_keys */
	struct memo	*memo;		/* immutable facts cached in this process */
	void		*ud;		/* the responder's own per-process state */
};

/* The seal keyring for this request (NULL if it cannot be loaded). */
struct seal_keyring *app_keys(struct app *);
/*
 * Load the settings' keyring, refusing a wrong root key: returns non-zero
 * (and logs why) when the process must not start.  Postgres being away is
 * not fatal: the keys load on first use.
 */
int	 app_keys_open(struct app *, const char *who);
/*
 * The same for a keyring outside an app (the worker's master): non-zero,
 * logged and told on stderr as "<who>: refusing to start: ...", the
 * keyring closed, when the process must not start.
 */
int	 app_keyring_start(struct keyring *, const struct settings *, const char *who);

#endif
