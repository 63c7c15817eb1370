/*
 * cb-fake-sf's query resource: the SOQL subset of common/fakesoql.h over
 * the Contacts a test seeds, in the real answer shape
 * {"totalSize","done","records":[...]} and the real 400s (MALFORMED_QUERY,
 * INVALID_TYPE, INVALID_FIELD).  Each query is one API call.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <cjson/cJSON.h>

#include "../common/fakesoql.h"

#include "buf.h"
#include "errs.h"
#include "jsonv.h"
#include "sf.h"
#include "util.h"

#include "fk.h"

/* ---- the query resource and its Contacts -------------------------------- */

/* The Contact fields the query resource knows, in their canonical case. */
static const char *const contact_fields[] = { "Id", "Phone", "Name" };

static const char *
fk_contact_field(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(contact_fields) / sizeof(contact_fields[0]); i++)
		if (strcasecmp(contact_fields[i], name) == 0)
			return contact_fields[i];
	return NULL;
}

static const char *
fk_contact_value(const struct fk_contact *c, const char *field)
{
	if (strcmp(field, "Id") == 0)
		return c->id;
	if (strcmp(field, "Phone") == 0)
		return c->phone;
	return c->name;
}

/* Caller holds the lock.  The SOQL as received, for /__fake/queries. */
static void
fk_query_note(const char *soql, long matches)
{
	size_t	 i = fk.query_next++ % FK_QUERY_LOG;

	free(fk.query_log[i]);
	fk.query_log[i] = util_strdup(soql);
	fk.query_matches[i] = matches;
}

void
fk_query(struct fh_req *rq, struct fh_resp *rs, const char *ver)
{
	struct fs_query	*q = util_calloc(1, sizeof(*q));
	struct buf	 soql;
	cJSON		*doc, *recs, *rec, *attr;
	const char	*field, *want, *have;
	char		 msg[400], url[128];
	size_t		 i, j;
	long		 n = 0;
	int		 got;

	buf_init(&soql, FS_QUERY_MAX);
	pthread_mutex_lock(&fk.lock);
	fk.queries++;
	pthread_mutex_unlock(&fk.lock);
	got = fh_form_get(rq->query, strlen(rq->query), "q", &soql);
	if (got != 1) {
		fk_sf_error(rs, 400, "MALFORMED_QUERY", got == 0 ?
		    "A query string has to be specified" : "the q parameter is malformed", NULL);
		goto out;
	}
	pthread_mutex_lock(&fk.lock);
	fk_query_note(buf_cstr(&soql), -1);
	pthread_mutex_unlock(&fk.lock);
	if (fs_parse(buf_cstr(&soql), q, msg, sizeof(msg)) != 0) {
		fk_sf_error(rs, 400, "MALFORMED_QUERY", msg, NULL);
		goto out;
	}
	/* Salesforce looks at the object before the fields. */
	if (strcasecmp(q->object, "Contact") != 0) {
		snprintf(msg, sizeof(msg), "sObject type '%.80s' is not supported. If you are "
		    "attempting to use a custom object, be sure to append the '__c' after the "
		    "entity name. Please reference your WSDL or the describe call for the "
		    "appropriate names.", q->object);
		fk_sf_error(rs, 400, "INVALID_TYPE", msg, NULL);
		goto out;
	}
	for (i = 0; i <= q->nfields; i++) {
		field = i < q->nfields ? q->fields[i] : q->where;
		if (fk_contact_field(field) == NULL) {
			snprintf(msg, sizeof(msg), "No such column '%.80s' on entity 'Contact'. If "
			    "you are attempting to use a custom field, be sure to append the '__c' "
			    "after the custom field name. Please reference your WSDL or the "
			    "describe call for the appropriate names.", field);
			fk_sf_error(rs, 400, "INVALID_FIELD", msg, NULL);
			goto out;
		}
	}
	doc = fp_obj();
	if ((recs = cJSON_CreateArray()) == NULL)
		util_oom();
	want = fk_contact_field(q->where);
	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < fk.ncontacts && (q->limit < 0 || n < q->limit); i++) {
		const struct fk_contact *c = &fk.contacts[i];

		/* Text comparison in SOQL ignores case. */
		if ((have = fk_contact_value(c, want)) == NULL || strcasecmp(have, q->value) != 0)
			continue;
		rec = fp_obj();
		attr = fp_obj();
		cJSON_AddItemToObject(rec, "attributes", attr);
		fp_add_str(attr, "type", "Contact");
		snprintf(url, sizeof(url), "/services/data/%s/sobjects/Contact/%s", ver, c->id);
		fp_add_str(attr, "url", url);
		for (j = 0; j < q->nfields; j++) {
			field = fk_contact_field(q->fields[j]);
			if (cJSON_GetObjectItemCaseSensitive(rec, field) == NULL)
				fp_add_str(rec, field, fk_contact_value(c, field));
		}
		cJSON_AddItemToArray(recs, rec);
		n++;
	}
	fk_query_note(buf_cstr(&soql), n);
	pthread_mutex_unlock(&fk.lock);
	fp_add_num(doc, "totalSize", (double)n);
	fp_add_bool(doc, "done", 1);
	cJSON_AddItemToObject(doc, "records", recs);
	fp_json(rs, 200, NULL, doc);
out:
	buf_free(&soql);
	free(q);
}

/* Caller holds the lock. */
void
fk_clear_contacts(void)
{
	size_t	 i;

	for (i = 0; i < fk.ncontacts; i++) {
		free(fk.contacts[i].phone);
		free(fk.contacts[i].name);
	}
	fk.ncontacts = 0;
	for (i = 0; i < FK_QUERY_LOG; i++) {
		free(fk.query_log[i]);
		fk.query_log[i] = NULL;
	}
	fk.query_next = 0;
}
