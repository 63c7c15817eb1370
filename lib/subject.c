/* subject: the blind index of data subjects (subject.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "errs.h"
#include "formdef.h"
#include "jsonv.h"
#include "reseal.h"
#include "seal.h"
#include "phone.h"
#include "subject.h"
#include "users.h"
#include "util.h"

#define SUBJECT_LABEL	"cb:subject-index:v1"

static int
subject_digest(const char *key_hex, const char *kind, const char *norm,
    char out[DIGEST_TEXT])
{
	const char	*parts[2] = { kind, norm };

	return digest_keyed(key_hex, SUBJECT_LABEL, parts, 2, out);
}

int
subject_email(const char *key_hex, const char *email, char out[DIGEST_TEXT])
{
	char	 norm[USERS_EMAIL_MAX + 1];
	int	 rc;

	if (email == NULL || (rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK)
		return CB_ERR_VALIDATION;
	rc = subject_digest(key_hex, "email", norm, out);
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
subject_e164(const char *key_hex, const char *e164, char out[DIGEST_TEXT])
{
	return subject_digest(key_hex, "phone", e164, out);
}

int
subject_phone(const char *key_hex, const char *phone, const char *default_cc,
    char out[DIGEST_TEXT])
{
	char	 e164[PHONE_E164_BUFSZ];
	int	 rc;

	if (phone == NULL || phone_e164(phone, default_cc, e164) != CB_OK)
		return CB_ERR_VALIDATION;
	rc = subject_e164(key_hex, e164, out);
	sodium_memzero(e164, sizeof(e164));
	return rc;
}

/* Append a digest's hex (without "\x") to the list. */
static void
subject_append(struct buf *list, const char *d)
{
	if (list->len > 0)
		buf_puts(list, ",");
	buf_puts(list, d + 2);
}

int
subject_add_value(struct buf *list, const char *key_hex, const char *value)
{
	char	 d[DIGEST_TEXT];
	int	 rc;

	if (value == NULL)
		return CB_OK;
	rc = subject_email(key_hex, value, d);
	/* An international number only: a national one has no country to read it in. */
	if (rc == CB_ERR_VALIDATION)
		rc = subject_phone(key_hex, value, NULL, d);
	if (rc == CB_ERR_VALIDATION)
		return CB_OK;
	if (rc != CB_OK)
		return rc;
	subject_append(list, d);
	return CB_OK;
}

int
subject_of_data(struct buf *list, const char *key_hex, const cJSON *def, const cJSON *data)
{
	const cJSON	*f, *name, *type, *v;
	int		 rc;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
		name = cJSON_GetObjectItemCaseSensitive(f, "name");
		type = cJSON_GetObjectItemCaseSensitive(f, "type");
		if (!cJSON_IsString(name) || !cJSON_IsString(type))
			continue;
		v = cJSON_GetObjectItemCaseSensitive(data, name->valuestring);
		if (!cJSON_IsString(v) || !formdef_is_pii(def, name->valuestring))
			continue;
		if (strcmp(type->valuestring, "email") != 0 &&
		    strcmp(type->valuestring, "string") != 0)
			continue;
		if ((rc = subject_add_value(list, key_hex, v->valuestring)) != CB_OK)
			return rc;
	}
	return CB_OK;
}

/* ---- the backfill ------------------------------------------------------- */

/*
 * Write one row's entries (the list may be empty).  rewrite: its entries
 * are replaced (a rotated key's are dropped), in one transaction.
 */
static int
subject_write(struct db *db, const char *org, const char *kind, const char *ref,
    struct buf *list, int rewrite, long *entries)
{
	struct db_res	*res = NULL;
	long long	 n = 0;
	int		 rc = CB_OK;

	if (list->len == 0 && !rewrite)
		return CB_OK;
	if (rewrite && ((rc = db_begin(db)) != CB_OK ||
	    (rc = db_exec(db, "DELETE FROM subject_index WHERE kind = $1 AND ref_id = $2::uuid",
	    2, (const char *[]){ kind, ref })) != CB_OK))
		goto out;
	if (list->len > 0) {
		rc = db_query(db, &res, "WITH i AS (" SUBJECT_INSERT_FROM("$1", "$2", "$3", "$4", "")
		    " RETURNING 1) SELECT count(*) FROM i", 4,
		    (const char *[]){ org, kind, ref, buf_cstr(list) });
		if (rc == CB_OK && db_rows(res) == 1 &&
		    util_parse_ll(db_val(res, 0, 0), 0, SUBJECT_MAX_ENTRIES, &n) == CB_OK)
			*entries += (long)n;
	}
	if (rc == CB_OK && rewrite)
		rc = db_commit(db);
out:
	if (rc != CB_OK && db_in_tx(db))
		db_rollback(db);
	db_res_free(res);
	return rc;
}

/* One sealed JSON value of `table`, opened and parsed (NULL: it does not open). */
static cJSON *
subject_open_json(const struct seal_keyring *kr, const char *table, const char *key,
    const char *sealed)
{
	struct buf	 plain;
	cJSON		*j = NULL;

	buf_init(&plain, SEAL_MAX_PLAIN);
	if (reseal_open_value(kr, table, key, sealed, &plain) == CB_OK)
		j = cJSON_ParseWithLength(plain.data, plain.len);
	buf_wipe(&plain);
	return j;
}

/*
 * One batch of one kind after `after` (keyset order by id): the rows'
 * entries; *n the rows read, `after` the last id.
 *   submissions: id, org, sealed data, clear data (older rows), definition
 *   commands:    id, org, clear value (older rows), sealed value
 *   call events: id, org, the sealed field map of its outbox row
 */
static const char *const subject_batch_sql[] = {
	"SELECT s.id::text, s.org_id::text, s.data_sealed, s.data::text, v.definition::text"
	" FROM submissions s JOIN form_versions v ON v.form_id = s.form_id"
	"   AND v.version = s.form_version"
	" WHERE s.id > $1::uuid ORDER BY s.id LIMIT $2::int",
	"SELECT id::text, org_id::text, value #>> '{}', value_sealed FROM commands"
	" WHERE id > $1::uuid AND (jsonb_typeof(value) = 'string' OR value_sealed IS NOT NULL)"
	" ORDER BY id LIMIT $2::int",
	"SELECT e.id::text, e.org_id::text, o.payload_sealed FROM call_events e"
	" JOIN outbox o ON o.ref_id = e.id AND o.org_id = e.org_id"
	"   AND o.kind = 'salesforce.upsert' AND o.payload_sealed IS NOT NULL"
	" WHERE e.id > $1::uuid ORDER BY e.id LIMIT $2::int",
};
static const char *const subject_kinds[] = { "submission", "command", "call_event" };

static int
subject_backfill_row(struct db *db, const struct seal_keyring *kr, const char *key_hex,
    int kind, struct db_res *res, size_t i, int rewrite, struct subject_backfill *out)
{
	struct buf	 list;
	cJSON		*def = NULL, *data = NULL, *v;
	const char	*id = db_val(res, i, 0), *org = db_val(res, i, 1);
	int		 rc = CB_OK;
	long		 unopened = out->undecryptable;

	buf_init(&list, SUBJECT_MAX_ENTRIES * 65u);
	switch (kind) {
	case 0:
		def = cJSON_Parse(db_val(res, i, 4));
		data = db_isnull(res, i, 2) ? cJSON_Parse(db_val(res, i, 3)) :
		    subject_open_json(kr, "submissions", id, db_val(res, i, 2));
		if (data == NULL) {
			out->undecryptable++;
			break;
		}
		rc = subject_of_data(&list, key_hex, def, data);
		break;
	case 1:
		data = db_isnull(res, i, 3) ? cJSON_CreateString(db_val(res, i, 2)) :
		    subject_open_json(kr, "commands", id, db_val(res, i, 3));
		if (data == NULL) {
			out->undecryptable++;
			break;
		}
		/* Only a string can name a person (cgi/commands.c indexes the same). */
		if (cJSON_IsString(data))
			rc = subject_add_value(&list, key_hex, data->valuestring);
		break;
	default:
		if ((data = subject_open_json(kr, "outbox", id, db_val(res, i, 2))) == NULL) {
			out->undecryptable++;
			break;
		}
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(data, "Caller_Phone__c")))
			rc = subject_add_value(&list, key_hex, v->valuestring);
		if (rc == CB_OK &&
		    cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(data, "Called_Phone__c")))
			rc = subject_add_value(&list, key_hex, v->valuestring);
		break;
	}
	/* A value that does not open keeps the entries it has. */
	if (rc == CB_OK && out->undecryptable == unopened)
		rc = subject_write(db, org, subject_kinds[kind], id, &list, rewrite,
		    &out->entries);
	cJSON_Delete(def);
	jv_wipe(data);
	buf_wipe(&list);
	return rc;
}

int
subject_backfill(struct db *db, const struct seal_keyring *kr, const char *key_hex,
    int batch, int rewrite, struct subject_backfill *out)
{
	struct db_res	*res = NULL;
	char		 after[37], lim[16];
	long		*read[3];
	size_t		 i, n;
	int		 kind, rc = CB_OK;

	memset(out, 0, sizeof(*out));
	read[0] = &out->submissions;
	read[1] = &out->commands;
	read[2] = &out->call_events;
	snprintf(lim, sizeof(lim), "%d", batch);
	for (kind = 0; kind < 3 && rc == CB_OK; kind++) {
		util_strlcpy(after, "00000000-0000-0000-0000-000000000000", sizeof(after));
		do {
			rc = db_query(db, &res, subject_batch_sql[kind], 2,
			    (const char *[]){ after, lim });
			if (rc != CB_OK)
				break;
			n = db_rows(res);
			for (i = 0; i < n && rc == CB_OK; i++) {
				rc = subject_backfill_row(db, kr, key_hex, kind, res, i, rewrite,
				    out);
				(*read[kind])++;
			}
			if (n > 0)
				util_strlcpy(after, db_val(res, n - 1, 0), sizeof(after));
			db_res_free(res);
			res = NULL;
		} while (rc == CB_OK && n == (size_t)batch);
	}
	if (rc == CB_OK && out->undecryptable > 0)
		rc = CB_ERR_CRYPTO;
	return rc;
}
