/*
 * subject: the blind index of data subjects (sql/0021_erasure.up.sql), so
 * that an erasure finds every submission, call event and command holding a
 * person's email or phone number although their data is sealed.
 *
 * An entry is a keyed BLAKE2b-256 (lib/digest.h, label "cb:subject-index:v1")
 * of the identifier's kind and its normalised form: an email trimmed and
 * lower-cased (users_email_normalise), a phone number in E.164
 * (lib/phone.h).  The key is derived from the blind index key
 * (CB_BLIND_INDEX_KEY_FILE) under a label of its own, so no other digest of
 * the broker equals an entry, and a dump of the database cannot confirm an
 * address or a number without that key.
 *
 * What is indexed: the values of confidential and restricted fields of a
 * form that are of type email, or strings that read as an international
 * phone number ("+" or "00" and the country code); a call event's from and
 * to numbers; a set_field command's value when it reads as an email or an
 * international number.
 */
#ifndef CB_SUBJECT_H
#define CB_SUBJECT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "digest.h"

/* Entries of one row, at most (a form has at most 200 fields). */
#define SUBJECT_MAX_ENTRIES	256

/*
 * The entry of an email (raw, normalised here).  CB_ERR_VALIDATION when it
 * is not an email, CB_ERR_CONFIG for a malformed key.  out: bytea text.
 */
int	 subject_email(const char *key_hex, const char *email, char out[DIGEST_TEXT]);
/* The entry of a phone number, normalised with default_cc (may be NULL). */
int	 subject_phone(const char *key_hex, const char *phone, const char *default_cc,
	    char out[DIGEST_TEXT]);
/* The entry of a phone number already in E.164. */
int	 subject_e164(const char *key_hex, const char *e164, char out[DIGEST_TEXT]);

/*
 * Add the entry of one value to `list` (comma-separated hex digests, no
 * "\x", the form SUBJECT_INSERT_FROM reads) when it reads as an email or
 * as an international phone number; anything else adds nothing.
 */
int	 subject_add_value(struct buf *list, const char *key_hex, const char *value);
/*
 * The entries of a submission's data checked against its definition: the
 * confidential and restricted fields (see above) into `list`.
 */
int	 subject_of_data(struct buf *list, const char *key_hex, const cJSON *def,
	    const cJSON *data);

/*
 * The backfill of rows written before the index existed (cb-admin
 * subject-index): every submission (its sealed data opened with the
 * keyring, checked against its form version's definition), every command
 * whose value is a string, and every call event whose Salesforce outbox row
 * is still there (its numbers are kept nowhere else, sealed in that row's
 * field map).  Entries already there are left as they are, so it may run
 * again at any time; with `rewrite`, each row's entries are replaced by
 * those under key_hex (after a rotation of the blind index key: the old
 * key's go).  `batch` rows a statement; counts of rows read and of entries
 * written.  CB_ERR_CRYPTO when a sealed value does not open (the
 * others are done; undecryptable counts them).
 */
struct db;
struct seal_keyring;
struct subject_backfill {
	long	 submissions, commands, call_events;	/* rows read */
	long	 entries;				/* entries written */
	long	 undecryptable;
};
int	 subject_backfill(struct db *, const struct seal_keyring *, const char *key_hex,
	    int batch, int rewrite, struct subject_backfill *);

/*
 * SQL: the rows to insert into subject_index for one row (org, kind, ref
 * id) from a list of entries (a text parameter, NULL or "" for none); from:
 * the relations org and ref read from, each followed by ", " ("" for none).
 */
#define SUBJECT_INSERT_FROM(org, kind, ref, list, from)				\
	"INSERT INTO subject_index (org_id, digest, kind, ref_id)"			\
	" SELECT DISTINCT " org "::bigint, decode(x, 'hex'), " kind ", " ref "::uuid"	\
	" FROM " from "unnest(string_to_array(nullif(" list "::text, ''), ',')) x"	\
	" ON CONFLICT DO NOTHING"

#endif
