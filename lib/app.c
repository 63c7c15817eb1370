/*
 * app: see app.h.  The one refusal to start on a bad keyring.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db.h"
#include "errs.h"
#include "log.h"

struct seal_keyring *
app_keys(struct app *a)
{
	return keyring_get(&a->keys, a->db);
}

int
app_keyring_start(struct keyring *k, const struct settings *s, const char *who)
{
	struct db	*db = db_open(s->pg_dsn);
	char		 err[512] = "";
	int		 rc;

	rc = keyring_open(k, db, s->seal_root_key_file, err, sizeof(err));
	db_close(db);
	if (rc == CB_ERR_CRYPTO || rc == CB_ERR_CONFIG) {
		log_msg(LOG_LVL_ERROR, "keyring_refused", "%s", err);
		/* Name the setting to fix, whatever part of it was wrong. */
		fprintf(stderr, "%s: refusing to start: %s%s\n", who, err,
		    strstr(err, "CB_SEAL_ROOT_KEY_FILE") ? "" : " (check CB_SEAL_ROOT_KEY_FILE)");
		keyring_close(k);
		return 1;
	}
	if (rc != CB_OK)
		log_msg(LOG_LVL_WARN, "keyring_deferred", "%s (will retry on first use)", err);
	return 0;
}

int
app_keys_open(struct app *a, const char *who)
{
	return app_keyring_start(&a->keys, &a->settings, who);
}
