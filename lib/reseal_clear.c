/*
 * reseal_clear: see reseal.h (reseal_clear_commands).  Command values
 * written in clear before sealing existed (sql/0024) are sealed the way
 * command accept seals a new one: the canonical JSON of the value
 * (jv_canonical), purpose pii, AAD "commands:<id>:value", into
 * value_sealed, with `value` set to NULL in the same statement (a row
 * never holds both).
 *
 * Only a finished command's value: a command still pending approval,
 * queued or delivered keeps its clear value, since its approval's hash
 * was computed from that value (sql/0012's cb_command_hash) and a sealed
 * value would change it under a person's decision.  Commands finish
 * within minutes: a later run seals it.
 *
 * Each write is a compare-and-set on the clear text and the state, so a
 * command that changed meanwhile (finished, erased, cleared by retention)
 * is left to whoever changed it.  Plaintext is wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "jsonv.h"
#include "keyring.h"
#include "log.h"
#include "reseal.h"
#include "seal.h"
#include "util.h"

#define CLEAR_LIVE	"('pending_approval', 'queued', 'delivered')"

#define CLEAR_COUNT_SQL \
	"SELECT count(*) FROM commands WHERE value IS NOT NULL AND state NOT IN " CLEAR_LIVE

#define CLEAR_PAGE_SQL \
	"SELECT id::text AS k, value::text AS v FROM commands" \
	" WHERE value IS NOT NULL AND state NOT IN " CLEAR_LIVE \
	" AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2::int"

#define CLEAR_UPDATE_SQL \
	"UPDATE commands SET value = NULL, value_sealed = $3" \
	" WHERE id = $1::uuid AND value_sealed IS NULL AND value::text = $2" \
	" AND state NOT IN " CLEAR_LIVE

struct clear_walk {
	struct db	*db;
	struct keyring	*k;
	long		 sealed, raced;
};

/* Seal one clear value (res row i: its id, its JSON text). */
static int
clear_one(const struct db_res *res, size_t i, void *arg)
{
	struct clear_walk	*w = arg;
	const char		*id = db_val(res, i, 0), *text = db_val(res, i, 1);
	struct seal_keyring	*kr;
	struct jv_error		 je;
	struct buf		 out;
	cJSON			*v = NULL;
	char			*canon = NULL;
	int			 rc;

	buf_init(&out, RESEAL_TEXT_MAX);
	if ((kr = keyring_get(w->k, w->db)) == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	/* Postgres wrote it from jsonb: it parses; anything else is a bug to stop on. */
	if ((rc = jv_parse(text, strlen(text), &v, &je)) != CB_OK)
		goto out;
	canon = jv_canonical(v);
	if ((rc = reseal_seal_value(kr, "commands", id, canon, strlen(canon), &out)) != CB_OK)
		goto out;
	if ((rc = db_exec(w->db, CLEAR_UPDATE_SQL, 3,
	    (const char *[]){ id, text, buf_cstr(&out) })) != CB_OK)
		goto out;
	if (db_affected(w->db) == 1)
		w->sealed++;
	else
		w->raced++;
out:
	if (canon != NULL) {
		sodium_memzero(canon, strlen(canon));
		free(canon);
	}
	cJSON_Delete(v);
	buf_free(&out);
	return rc;
}

int
reseal_clear_commands(struct db *db, struct keyring *k, int batch, reseal_progress_fn progress,
    void *ud, long *sealed)
{
	struct clear_walk	 w = { db, k, 0, 0 };
	char			 num[2][24];
	long			 done = 0;
	int			 rc;

	rc = reseal_walk(db, CLEAR_COUNT_SQL, CLEAR_PAGE_SQL, batch, "commands (clear values)",
	    progress, ud, clear_one, &w, &done);
	*sealed = w.sealed;
	if (rc != CB_OK)
		return rc;
	snprintf(num[0], sizeof(num[0]), "%ld", w.sealed);
	snprintf(num[1], sizeof(num[1]), "%ld", w.raced);
	log_kv(LOG_LVL_INFO, "reseal_clear", "table", "commands", "sealed", num[0], "raced", num[1],
	    NULL);
	return CB_OK;
}
