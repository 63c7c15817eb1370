/*
 * sf_query: see sf_query.h.  The contact lookup's SOQL, its URL, the
 * checking of the query resource's answer against field tables, and the
 * whole call for callers that may wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errs.h"
#include "httpc.h"
#include "jsonv.h"
#include "log.h"
#include "phone.h"
#include "sf.h"
#include "sf_int.h"
#include "sf_query.h"
#include "soql.h"
#include "util.h"

#define SFQ_URL_MAX	(SF_URL_MAX + 3 * (SOQL_VALUE_MAX * 2 + 128) + 64)

int
sf_contact_soql(struct buf *b, const char *value)
{
	struct buf	 t;
	int		 rc;

	buf_init(&t, 2 * SOQL_VALUE_MAX + 128);
	if ((rc = buf_puts(&t, "SELECT Id FROM Contact WHERE Phone = ")) == CB_OK &&
	    (rc = soql_quote(&t, value, 0)) == CB_OK)
		rc = buf_printf(&t, " LIMIT %d", SF_QUERY_LIMIT);
	if (rc == CB_OK)
		rc = buf_append(b, t.data, t.len) == 0 ? CB_OK : CB_ERR_TOO_LARGE;
	buf_wipe(&t);
	return rc;
}

int
sf_query_url(struct buf *b, const char *base, const char *soql)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*s = (const unsigned char *)soql;
	int			 rc;

	if ((rc = buf_puts(b, base)) != CB_OK || (rc = buf_puts(b, "/query?q=")) != CB_OK)
		return rc;
	/* RFC 3986 unreserved bytes as they are, every other byte encoded. */
	for (; *s != '\0' && rc == CB_OK; s++) {
		if (sf_is_alpha(*s) || sf_is_digit(*s) || *s == '-' || *s == '.' ||
		    *s == '_' || *s == '~')
			rc = buf_putc(b, (char)*s);
		else if ((rc = buf_putc(b, '%')) == CB_OK &&
		    (rc = buf_putc(b, hex[*s >> 4])) == CB_OK)
			rc = buf_putc(b, hex[*s & 0x0f]);
	}
	return rc;
}

/* ---- the answer ------------------------------------------------------- */

struct sfq_answer {
	long long	 total;
	int		 done;
	const cJSON	*records;
	const char	*next;
};

struct sfq_record {
	const cJSON	*attributes;
	const char	*id;
};

struct sfq_attr {
	const char	*type;
	const char	*url;
};

static int
sfq_id_check(const cJSON *v, const char **why)
{
	const char	*s = v->valuestring;
	size_t		 n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!sf_is_alpha((unsigned char)s[i]) && !sf_is_digit((unsigned char)s[i])) {
			*why = "must be alphanumeric";
			return -1;
		}
	if (n != 15 && n != 18) {
		*why = "must be 15 or 18 characters";
		return -1;
	}
	return 0;
}

static const struct jv_field answer_fields[] = {
	{ "totalSize", JV_INT, JV_REQUIRED, 0, 2000000000LL, offsetof(struct sfq_answer, total), NULL },
	{ "done", JV_BOOL, JV_REQUIRED, 0, 0, offsetof(struct sfq_answer, done), NULL },
	{ "records", JV_ARRAY, JV_REQUIRED, 0, SF_QUERY_RECORDS_MAX,
	  offsetof(struct sfq_answer, records), NULL },
	{ "nextRecordsUrl", JV_STRING, 0, 1, 512, offsetof(struct sfq_answer, next), NULL },
};

static const struct jv_field record_fields[] = {
	{ "attributes", JV_OBJECT, JV_REQUIRED, 1, 2, offsetof(struct sfq_record, attributes), NULL },
	{ "Id", JV_STRING, JV_REQUIRED, 15, 18, offsetof(struct sfq_record, id), sfq_id_check },
};

static const struct jv_field attr_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 80, offsetof(struct sfq_attr, type), NULL },
	{ "url", JV_STRING, 0, 1, 512, offsetof(struct sfq_attr, url), NULL },
};

#define NF(t)	(sizeof(t) / sizeof((t)[0]))

/* A 200 answer: CB_OK with out->id set or left "", else CB_ERR_BAD_JSON. */
static int
sfq_parse(const struct buf *body, struct sf_result *out, int *matches)
{
	cJSON		*doc = NULL;
	const cJSON	*rec;
	struct sfq_answer a;
	struct sfq_record r;
	struct sfq_attr	 at;
	struct jv_error	 je;
	int		 rc = CB_ERR_BAD_JSON, n = 0;

	memset(&a, 0, sizeof(a));
	if (body->len == 0 || jv_parse(body->data, body->len, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc) ||
	    jv_validate(doc, answer_fields, NF(answer_fields), &a, &je) != CB_OK)
		goto out;
	cJSON_ArrayForEach(rec, a.records) {
		memset(&r, 0, sizeof(r));
		memset(&at, 0, sizeof(at));
		if (!cJSON_IsObject(rec) ||
		    jv_validate(rec, record_fields, NF(record_fields), &r, &je) != CB_OK ||
		    jv_validate(r.attributes, attr_fields, NF(attr_fields), &at, &je) != CB_OK ||
		    strcmp(at.type, "Contact") != 0)
			goto out;
		if (n++ == 0)
			util_strlcpy(out->id, r.id, sizeof(out->id));
	}
	/* The count must agree with what came: LIMIT keeps it whole. */
	if ((long long)n == a.total && a.done) {
		*matches = n;
		rc = CB_OK;
	}
out:
	cJSON_Delete(doc);
	return rc;
}

int
sf_query_answer(const struct httpc_resp *h, struct sf_result *out)
{
	int	 matches = 0;

	memset(out, 0, sizeof(*out));
	if (sf_transport_failed(NULL, h, out))
		return sf_rc(out);
	if (h->status != 200) {
		sf_classify_error(h, out);
		return sf_rc(out);
	}
	if (sfq_parse(&h->body, out, &matches) != CB_OK) {
		out->id[0] = '\0';
		sf_set(out, SF_RETRY, 200, "CB_BAD_RESPONSE",
		    "the query answer is not {totalSize, done, records} of Contact Ids");
		return sf_rc(out);
	}
	out->kind = SF_FOUND;
	out->http_status = 200;
	if (matches > 1) {
		/* Two people share the number: link neither. */
		out->id[0] = '\0';
		util_strlcpy(out->error_code, "CB_AMBIGUOUS", sizeof(out->error_code));
	}
	return CB_OK;
}

/* ---- the whole call ---------------------------------------------------- */

int
sf_contact_by_value(struct sf_client *c, const char *value, struct sf_result *out)
{
	const char		*hdrs[3];
	struct buf		 soql, base, url, auth;
	struct httpc_resp	 h;
	int			 attempt, rc;

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
	buf_init(&h.body, 0);
	buf_init(&soql, 2 * SOQL_VALUE_MAX + 128);
	buf_init(&base, SF_URL_MAX + 64);
	buf_init(&url, SFQ_URL_MAX);
	buf_init(&auth, SF_TOKEN_MAX + 64);
	if (c == NULL) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "no client");
		goto out;
	}
	if (sf_contact_soql(&soql, value) != CB_OK) {
		sf_set(out, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "the value cannot be a SOQL string literal");
		goto out;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		buf_wipe(&auth);
		buf_init(&auth, SF_TOKEN_MAX + 64);
		buf_reset(&base);
		buf_reset(&url);
		if (sf_bearer(c, &auth, &base, out) != CB_OK)
			goto out;
		if (sf_query_url(&url, buf_cstr(&base), buf_cstr(&soql)) != CB_OK) {
			sf_set(out, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
			    "the query URL does not fit its buffer");
			goto out;
		}
		hdrs[0] = auth.data;
		hdrs[1] = "Accept: application/json";
		hdrs[2] = NULL;
		httpc_resp_free(&h);
		sf_http(c, "GET", url.data, hdrs, NULL, 0, &h);
		if (h.err == HTTPC_OK && h.status == 401 && attempt == 0) {
			/* CONTRACTS §3.1: a dead session is minted again, once. */
			sf_invalidate_token(c);
			continue;
		}
		(void)sf_query_answer(&h, out);
		break;
	}
out:
	rc = sf_rc(out);
	/* The value and the answer are personal data: only the outcome. */
	log_kv(rc == CB_OK ? LOG_LVL_DEBUG : LOG_LVL_WARN, "sf_contact_query",
	    "kind", sf_kind_name(out->kind), "error", out->error_code,
	    "linked", out->id[0] ? "1" : "0", NULL);
	httpc_resp_free(&h);
	buf_wipe(&auth);
	buf_free(&base);
	buf_wipe(&url);
	buf_wipe(&soql);
	return rc;
}

int
sf_contact_by_phone(struct sf_client *c, const char *phone, struct sf_result *out)
{
	char	 e164[PHONE_E164_BUFSZ];

	memset(out, 0, sizeof(*out));
	if (phone == NULL || phone_e164(phone, NULL, e164) != CB_OK ||
	    strcmp(e164, phone) != 0) {
		sf_set(out, SF_PERMANENT, 0, "CB_BAD_PHONE",
		    "the number is not in E.164 (+ and 8 to 15 digits)");
		return sf_rc(out);
	}
	return sf_contact_by_value(c, phone, out);
}
