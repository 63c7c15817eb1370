/*
 * retention_class: the retention duty's purge by data class (issue 12,
 * item 3; docs/classification.md, "Retention by class").  Each tenant has
 * a period per class of form field (retention_effective: its own
 * retention_periods row over the documented defaults); past it, what the
 * broker holds of that class goes, whatever else of the same row stays:
 *
 *   submissions  the fields of the expired classes are taken out of the
 *                sealed data (strip and re-seal under the row's own AAD),
 *                and so are the Salesforce field maps of its delivered,
 *                discarded and dead upsert rows (rebuilt from what is
 *                left, as the submit built them); the blind-index entries
 *                of what was taken go; classes_purged records the classes
 *                done, so a row is handled once per class;
 *   commands     a finished command's value goes (value and value_sealed
 *                NULL) once its field's class expired (cb_field_class: its
 *                selector's field in the context's form version), with its
 *                blind-index entries;
 *   call events  an event goes whole, with its Salesforce outbox rows (the
 *                sealed numbers), once the tenant's confidential period
 *                passed: a call's numbers are personal data.
 *
 * What never loses data here: a submission or call event whose delivery
 * is pending or running keeps everything until that delivery is done (the
 * worker sending it needs the whole field map; the row is picked up by a
 * later round), and an unfinished command keeps its value (the tab has not
 * applied it).  A dead delivery does not hold data past its class's period:
 * a replay then delivers what is left.  Audit rows are never touched (they
 * hold hashes only).
 *
 * Batches: at most CB_RETAIN_CLASS_BATCH rows a statement (commands, call
 * events: FOR UPDATE SKIP LOCKED) or a batch (submissions: each opened and
 * re-sealed here, written back with a compare-and-set on the sealed text so
 * that a concurrent writer always wins).  A submission that does not open
 * is logged (its id only) and left as it is.  One retention_class_batch
 * log line per batch with its count, never a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "buf.h"
#include "db.h"
#include "errs.h"
#include "formdef.h"
#include "log.h"
#include "reseal.h"
#include "subject.h"
#include "util.h"
#include "worker.h"
#include "retention_class.h"

/* A submission's sealed text at most (a 64 KiB body, sealed, with room). */
#define RC_SEALED_MAX	(256u * 1024u)

/*
 * A batch of submissions with something due: an expired class not yet in
 * classes_purged.  Keyset order on the id within a round ($1, "" at
 * first), so a row that cannot be handled is not picked again and again.
 *   $1 the last id of the previous batch  $2 the batch size
 *   $3 seconds the duty's clock is moved on (CB_RETAIN_CLOCK_S, tests only)
 */
static const char rc_sub_pick[] =
    "SELECT s.id::text, s.data_sealed, v.definition::text,"
    "  array_to_string(ARRAY(SELECT e.class FROM retention_effective e"
    "    WHERE e.org_id = s.org_id AND s.created_at < (now() + make_interval(secs => $3::int)) - make_interval(days => e.days)"
    "    ORDER BY e.class), ',')"
    " FROM submissions s JOIN form_versions v"
    "   ON v.form_id = s.form_id AND v.version = s.form_version"
    " WHERE s.data_sealed IS NOT NULL"
    "   AND ($1 = '' OR s.id > $1::uuid)"
    "   AND s.created_at < (now() + make_interval(secs => $3::int)) - make_interval(days =>"
    "     (SELECT min(days) FROM retention_effective))"
    "   AND EXISTS (SELECT 1 FROM retention_effective e WHERE e.org_id = s.org_id"
    "     AND s.created_at < (now() + make_interval(secs => $3::int)) - make_interval(days => e.days)"
    "     AND e.class <> ALL (s.classes_purged))"
    "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = s.id"
    "     AND o.state IN ('pending', 'running'))"
    " ORDER BY s.id LIMIT $2::int";

/*
 * One submission written back: only if its sealed text is still the one
 * read and no delivery of it started meanwhile (a replay of a dead row).
 *   $1 id  $2 the sealed text read  $3 the new sealed data  $4 the classes
 *   done (comma-separated)  $5 the new sealed field map  $6 the blind-index
 *   entries that stay (comma-separated hex)
 */
static const char rc_sub_write[] =
    "WITH s AS (UPDATE submissions SET data_sealed = $3,"
    "   classes_purged = ARRAY(SELECT DISTINCT c FROM"
    "     unnest(classes_purged || string_to_array($4, ',')) c ORDER BY 1)"
    "   WHERE id = $1::uuid AND data_sealed = $2"
    "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = $1::uuid"
    "     AND o.state IN ('pending', 'running'))"
    "   RETURNING id),"
    " o AS (UPDATE outbox SET payload_sealed = $5"
    "   WHERE ref_id IN (SELECT id FROM s) AND kind = 'salesforce.upsert'"
    "   AND payload_sealed IS NOT NULL AND state NOT IN ('pending', 'running') RETURNING 1),"
    " x AS (DELETE FROM subject_index WHERE kind = 'submission'"
    "   AND ref_id IN (SELECT id FROM s)"
    "   AND encode(digest, 'hex') <> ALL (string_to_array($6, ',')) RETURNING 1)"
    " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM o), (SELECT count(*) FROM x)";

/* Finished commands whose field's class expired: their values go.  $1 batch, $2 clock moved. */
static const char rc_cmd_sql[] =
    "WITH m AS (SELECT m.id FROM commands m"
    "   JOIN contexts c ON c.id = m.ctx_id"
    "   JOIN form_versions v ON v.form_id = c.form_id AND v.version = c.form_version"
    "   JOIN retention_effective e ON e.org_id = m.org_id"
    "     AND e.class = cb_field_class(v.definition, m.selector)"
    "   WHERE (m.value IS NOT NULL OR m.value_sealed IS NOT NULL)"
    "   AND m.state IN ('applied', 'failed', 'timeout', 'dead', 'denied')"
    "   AND m.created_at < (now() + make_interval(secs => $2::int)) - make_interval(days => e.days)"
    "   ORDER BY m.created_at LIMIT $1::int FOR UPDATE OF m SKIP LOCKED),"
    " u AS (UPDATE commands SET value = NULL, value_sealed = NULL"
    "   WHERE id IN (SELECT id FROM m) RETURNING id),"
    " x AS (DELETE FROM subject_index WHERE kind = 'command'"
    "   AND ref_id IN (SELECT id FROM u) RETURNING 1)"
    " SELECT count(*) FROM u";

/*
 * Call events past the tenant's confidential period, with their outbox
 * rows; never one whose delivery is pending or running, nor one the feed
 * has not numbered yet.  $1 batch, $2 the clock moved (seconds).
 */
static const char rc_call_sql[] =
    "WITH e AS (SELECT ev.id FROM call_events ev"
    "   JOIN retention_effective r ON r.org_id = ev.org_id AND r.class = 'confidential'"
    "   WHERE ev.created_at < (now() + make_interval(secs => $2::int)) - make_interval(days => r.days)"
    "   AND ev.feed_seq IS NOT NULL"
    "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = ev.id"
    "     AND o.state IN ('pending', 'running'))"
    "   ORDER BY ev.created_at LIMIT $1::int FOR UPDATE OF ev SKIP LOCKED),"
    " o AS (DELETE FROM outbox WHERE ref_id IN (SELECT id FROM e)"
    "   AND state NOT IN ('pending', 'running') RETURNING 1),"
    " d AS (DELETE FROM call_events WHERE id IN (SELECT id FROM e) RETURNING 1)"
    " SELECT count(*) FROM d";

static void
rc_batch_log(const char *what, long long n)
{
	char	 v[24];

	snprintf(v, sizeof(v), "%lld", n);
	log_kv(LOG_LVL_INFO, "retention_class_batch", "target", what, "rows", v, NULL);
}

/* Is `cls` one of the comma-separated classes in `list`? */
static int
rc_listed(const char *list, const char *cls)
{
	size_t	 n = strlen(cls);
	const char *p;

	for (p = list; (p = strstr(p, cls)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

/*
 * The data without the fields of the expired classes, sealed again, with
 * its field map and the blind-index entries of what is left.
 */
static int
rc_strip(const struct seal_keyring *kr, const char *key_hex, const char *id,
    const char *deftext, const char *expired, const struct buf *plain,
    struct buf *data_out, struct buf *map_out, struct buf *subjects)
{
	cJSON		*def = NULL, *data = NULL, *f, *next, *sf = NULL;
	char		*text = NULL, *map = NULL;
	int		 rc = CB_ERR_VALIDATION;

	def = cJSON_Parse(deftext);
	data = cJSON_ParseWithLength(plain->data, plain->len);
	if (def == NULL || !cJSON_IsObject(data))
		goto out;
	for (f = data->child; f != NULL; f = next) {
		next = f->next;
		if (rc_listed(expired, formdef_class_name(formdef_field_class(def, f->string))))
			cJSON_Delete(cJSON_DetachItemViaPointer(data, f));
	}
	sf = formdef_to_sf(def, data);
	text = cJSON_PrintUnformatted(data);
	map = cJSON_PrintUnformatted(sf);
	if (text == NULL || map == NULL)
		util_oom();
	if ((rc = reseal_seal_value(kr, "submissions", id, text, strlen(text), data_out)) != CB_OK ||
	    (rc = reseal_seal_value(kr, "outbox", id, map, strlen(map), map_out)) != CB_OK ||
	    (rc = subject_of_data(subjects, key_hex, def, data)) != CB_OK)
		goto out;
out:
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	if (map != NULL) {
		sodium_memzero(map, strlen(map));
		free(map);
	}
	cJSON_Delete(sf);
	cJSON_Delete(data);
	cJSON_Delete(def);
	return rc;
}

/* One picked submission: open, strip, re-seal, write back.  *done 1 if written. */
static int
rc_sub_one(struct db *db, struct keyring *keys, const struct settings *s, struct db_res *res,
    size_t i, int *done)
{
	struct seal_keyring	*kr;
	struct db_res		*w = NULL;
	struct buf		 plain, data_out, map_out, subjects;
	const char		*id = db_val(res, i, 0), *sealed = db_val(res, i, 1);
	int			 rc;

	*done = 0;
	buf_init(&plain, RC_SEALED_MAX);
	buf_init(&data_out, RC_SEALED_MAX);
	buf_init(&map_out, RC_SEALED_MAX);
	buf_init(&subjects, SUBJECT_MAX_ENTRIES * 65u);
	if ((kr = keyring_get(keys, db)) == NULL) {
		rc = CB_ERR_UNAVAILABLE;
		goto out;
	}
	rc = reseal_open_value(kr, "submissions", id, sealed, &plain);
	/* Perhaps sealed under a key made since the keyring was last read. */
	if (rc == CB_ERR_CRYPTO && (kr = keyring_recheck(keys, db)) != NULL)
		rc = reseal_open_value(kr, "submissions", id, sealed, &plain);
	if (rc != CB_OK) {
		log_kv(LOG_LVL_WARN, "retention_class_unopened", "submission", id,
		    "error", errs_name(rc), NULL);
		rc = CB_OK;	/* the others go on; this row stays as it is */
		goto out;
	}
	if ((rc = rc_strip(kr, s->blind_index_key, id, db_val(res, i, 2), db_val(res, i, 3),
	    &plain, &data_out, &map_out, &subjects)) != CB_OK) {
		log_kv(LOG_LVL_WARN, "retention_class_unstripped", "submission", id,
		    "error", errs_name(rc), NULL);
		rc = CB_OK;
		goto out;
	}
	rc = db_query(db, &w, rc_sub_write, 6, (const char *[]){ id, sealed,
	    buf_cstr(&data_out), db_val(res, i, 3), buf_cstr(&map_out), buf_cstr(&subjects) });
	if (rc == CB_OK)
		*done = strcmp(db_val(w, 0, 0), "1") == 0;
out:
	db_res_free(w);
	buf_wipe(&plain);
	buf_free(&data_out);
	buf_free(&map_out);
	buf_free(&subjects);
	return rc;
}

/* Every due submission, a batch at a time; *n counts those written. */
static int
rc_submissions(struct db *db, struct keyring *keys, const struct settings *s, long long *n)
{
	struct db_res	*res = NULL;
	char		 last[37] = "", lim[24], moved[24];
	size_t		 i, rows;
	long long	 batch;
	int		 rc = CB_OK, done;

	snprintf(lim, sizeof(lim), "%lld", s->retain_class_batch);
	snprintf(moved, sizeof(moved), "%lld", s->retain_clock_s);
	while (!worker_stop) {
		if ((rc = db_query(db, &res, rc_sub_pick, 3, (const char *[]){ last, lim, moved })) !=
		    CB_OK)
			break;
		rows = db_rows(res);
		batch = 0;
		for (i = 0; i < rows && rc == CB_OK; i++) {
			rc = rc_sub_one(db, keys, s, res, i, &done);
			batch += done;
		}
		if (rows > 0)
			util_strlcpy(last, db_val(res, rows - 1, 0), sizeof(last));
		db_res_free(res);
		res = NULL;
		*n += batch;
		if (batch > 0)
			rc_batch_log("submissions", batch);
		if (rc != CB_OK || (long long)rows < s->retain_class_batch)
			break;
		duty_sleep(s->retain_pause_ms);
	}
	return rc;
}

/* One statement-per-batch target (commands, call events) until a batch is short. */
static int
rc_statements(struct db *db, const struct settings *s, const char *what, const char *sql,
    long long *n)
{
	struct db_res	*res = NULL;
	char		 lim[24], moved[24];
	long long	 got;
	int		 rc = CB_OK;

	snprintf(lim, sizeof(lim), "%lld", s->retain_class_batch);
	snprintf(moved, sizeof(moved), "%lld", s->retain_clock_s);
	while (!worker_stop) {
		if ((rc = db_query(db, &res, sql, 2, (const char *[]){ lim, moved })) != CB_OK)
			break;
		got = 0;
		(void)util_parse_ll(db_val(res, 0, 0), 0, 1LL << 62, &got);
		db_res_free(res);
		res = NULL;
		*n += got;
		if (got > 0)
			rc_batch_log(what, got);
		if (got < s->retain_class_batch)
			break;
		duty_sleep(s->retain_pause_ms);
	}
	return rc;
}

int
retention_class_purge(struct db *db, struct keyring *keys, const struct settings *s,
    long long n[RC_NTARGETS], const char **failed)
{
	int	 rc;

	*failed = NULL;
	if ((rc = rc_submissions(db, keys, s, &n[RC_SUBMISSIONS])) != CB_OK) {
		*failed = "submissions";
		return rc;
	}
	if ((rc = rc_statements(db, s, "command_values", rc_cmd_sql, &n[RC_COMMANDS])) != CB_OK) {
		*failed = "command_values";
		return rc;
	}
	if ((rc = rc_statements(db, s, "call_events", rc_call_sql, &n[RC_CALL_EVENTS])) != CB_OK)
		*failed = "call_events";
	return rc;
}
