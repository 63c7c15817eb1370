/*
 * cb-fake-sf's record store: records found by a hash of (object, external
 * ID field folded to lower case, value), so 50,000 records cost no more per
 * call than ten; Salesforce-shaped 18-character ids; and the per-record
 * faults (an error for the records whose external ID or a field matches).
 * Every function here runs under fk.lock.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "sf.h"
#include "util.h"

#include "fk.h"

void
fk_make_id(size_t object, char out[19])
{
	static const char map[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	unsigned long	 n;
	int		 i, j, flags;

	/* "a" + 2-digit object number + "xx" (pod) + 10-digit counter. */
	n = ++fk.id_counter;
	out[0] = 'a';
	out[1] = (char)('0' + (object + 1) / 10 % 10);
	out[2] = (char)('0' + (object + 1) % 10);
	out[3] = out[4] = 'x';
	for (i = 14; i >= 5; i--) {
		out[i] = (char)('0' + n % 10);
		n /= 10;
	}
	for (i = 0; i < 3; i++) {
		flags = 0;
		for (j = 0; j < 5; j++)
			if (out[i * 5 + j] >= 'A' && out[i * 5 + j] <= 'Z')
				flags |= 1 << j;
		out[15 + i] = map[flags];
	}
	out[18] = '\0';
}

/* ---- the record store --------------------------------------------------- */

/* FNV-1a over the object, the field name folded to lower case, the value. */
static size_t
fk_hash(size_t object, const char *ext_field, const char *value)
{
	uint64_t	 h = 1469598103934665603ULL;
	const char	*p;

	h = (h ^ (uint64_t)object) * 1099511628211ULL;
	for (p = ext_field; *p != '\0'; p++)
		h = (h ^ (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) *
		    1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (p = value; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)h;
}

/* Caller holds the lock.  Field names are case-insensitive, as in Salesforce. */
struct fk_record *
fk_find(size_t object, const char *ext_field, const char *value)
{
	size_t			 i, mask = fk.index_cap - 1;
	struct fk_record	*r;

	for (i = fk_hash(object, ext_field, value) & mask; fk.index[i] != 0;
	    i = (i + 1) & mask) {
		r = &fk.records[fk.index[i] - 1];
		if (!r->deleted && r->object == object && strcasecmp(r->ext_field, ext_field) == 0 &&
		    strcmp(r->ext_value, value) == 0)
			return r;
	}
	return NULL;
}

/* Caller holds the lock. */
void
fk_clear_records(void)
{
	size_t	 i;

	for (i = 0; i < fk.nrecords; i++) {
		free(fk.records[i].ext_value);
		cJSON_Delete(fk.records[i].fields);
	}
	fk.nrecords = 0;
	if (fk.index != NULL)
		memset(fk.index, 0, fk.index_cap * sizeof(*fk.index));
}

/* Merge fields into r, leaving out "attributes" and the external ID. */
static void
fk_merge(struct fk_record *r, const cJSON *fields, const char *ext_field)
{
	const cJSON	*f;
	cJSON		*dup;

	cJSON_ArrayForEach(f, fields) {
		if (strcasecmp(f->string, "attributes") == 0 ||
		    strcasecmp(f->string, ext_field) == 0)
			continue;
		if ((dup = cJSON_Duplicate(f, 1)) == NULL)
			util_oom();
		if (cJSON_GetObjectItem(r->fields, f->string) != NULL)
			cJSON_ReplaceItemInObject(r->fields, f->string, dup);
		else
			cJSON_AddItemToObject(r->fields, f->string, dup);
	}
}

/*
 * Upsert one record; caller holds the lock and has checked there is room
 * for a new one (fk_room).  Counts it.
 */
struct fk_record *
fk_store_put(size_t object, const char *ext_field, const char *value,
    const cJSON *fields, int *created)
{
	struct fk_record	*r;
	size_t			 i, mask = fk.index_cap - 1;

	if ((r = fk_find(object, ext_field, value)) != NULL) {
		*created = 0;
		fk_merge(r, fields, ext_field);
		util_iso8601(r->updated_at, sizeof(r->updated_at));
		fk.records_updated++;
	} else {
		if (fk.nrecords == fk.records_cap) {
			size_t	 nc = fk.records_cap ? fk.records_cap * 2 : 64;
			void	*p = realloc(fk.records, nc * sizeof(*fk.records));

			if (p == NULL)
				util_oom();
			fk.records = p;
			fk.records_cap = nc;
		}
		*created = 1;
		r = &fk.records[fk.nrecords++];
		memset(r, 0, sizeof(*r));
		r->object = object;
		util_strlcpy(r->ext_field, ext_field, sizeof(r->ext_field));
		r->ext_value = util_strdup(value);
		fk_make_id(object, r->id);
		r->fields = fp_obj();
		fk_merge(r, fields, ext_field);
		util_iso8601(r->created_at, sizeof(r->created_at));
		memcpy(r->updated_at, r->created_at, sizeof(r->updated_at));
		for (i = fk_hash(object, ext_field, value) & mask; fk.index[i] != 0;
		    i = (i + 1) & mask)
			;
		fk.index[i] = (uint32_t)fk.nrecords;
		fk.records_created++;
	}
	r->upserts++;
	fk.upserts++;
	return r;
}

/* Caller holds the lock: may `extra` more records be created? */
int
fk_room(size_t extra)
{
	return fk.nrecords + extra < cfg.max_records;
}

/* ---- per-record faults ------------------------------------------------- */

int
fk_target_hits(int target, int call)
{
	switch (target) {
	case FT_ANY:		return call != CALL_NONE;
	case FT_TOKEN:		return call == CALL_TOKEN;
	case FT_UPSERT:		return call == CALL_SINGLE || call == CALL_COLLECTIONS;
	case FT_SINGLE:		return call == CALL_SINGLE;
	case FT_COLLECTIONS:	return call == CALL_COLLECTIONS;
	case FT_QUERY:		return call == CALL_QUERY;
	case FT_DELETE:		return call == CALL_DELETE;
	default:		return 0;
	}
}

/* A record a per-record fault may hit. */
struct fk_record_of {
	int		 call;
	const char	*ext_field;
	const char	*value;
	const cJSON	*fields;
};

/* The external ID value, or the named field's string value, matches. */
static int
fk_record_hits(const void *fault, const void *arg)
{
	const struct fk_fault		*f = fault;
	const struct fk_record_of	*r = arg;
	const cJSON			*v;
	const char			*have = NULL;

	if (f->kind != FAULT_RECORD || !fk_target_hits(f->target, r->call))
		return 0;
	if (f->field[0] == '\0' || strcasecmp(f->field, r->ext_field) == 0)
		have = r->value;
	else if (cJSON_IsString(v = cJSON_GetObjectItem(r->fields, f->field)))
		have = v->valuestring;
	return have != NULL && strcmp(have, f->match) == 0;
}

/* The first record fault that hits this record.  Caller holds the lock. */
int
fk_record_fault(int call, const char *ext_field, const char *value,
    const cJSON *fields, struct fk_fault *out)
{
	struct fk_record_of	 r = { call, ext_field, value, fields };

	return fp_take(&fk.fq, fk_record_hits, &r, out);
}

/* The real message of a Salesforce error code, for injected errors. */
const char *
fk_code_message(const char *code)
{
	static const struct {
		const char	*code;
		const char	*msg;
	} msgs[] = {
		{ "INVALID_SESSION_ID", FK_MSG_SESSION },
		{ "REQUEST_LIMIT_EXCEEDED", FK_MSG_LIMIT },
		{ "NOT_FOUND", FK_MSG_NOT_FOUND },
		{ "SERVER_UNAVAILABLE", "Server temporarily unavailable, please "
		    "try again later." },
		{ "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to "
		    "this record or 1 records: a01xx0000000001AAA" },
		{ "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please "
		    "include this ErrorId if you contact support: "
		    "1234567890-12345 (-1234567890)" },
		{ "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Record failed a "
		    "validation rule (fault injected by cb-fake-sf)" },
		{ "DUPLICATE_VALUE", "duplicate value found: an external ID "
		    "already in use" },
		{ "REQUIRED_FIELD_MISSING", "Required fields are missing" },
		{ "STORAGE_LIMIT_EXCEEDED", "storage limit exceeded" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].code, code) == 0)
			return msgs[i].msg;
	return "fault injected by cb-fake-sf";
}
