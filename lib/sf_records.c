/*
 * sf_records: sf_upsert(), the single-record upsert by external id
 * (CONTRACTS §3.3), and the sorting of its answer into one enum sf_kind
 * (CONTRACTS §3.5).  Arguments are checked here before any network use;
 * the token comes from sf_token.c, the transfer from sf.c.
 *
 * Field values and the external id may be personal data: neither is ever
 * logged, and the Authorization header built here is wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "errs.h"
#include "httpc.h"
#include "jsonv.h"
#include "log.h"
#include "sf.h"
#include "sf_int.h"
#include "util.h"

/* A record id is 15 or 18 alphanumerics. */
static void
sf_take_id(const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*id;
	struct jv_error	 je;
	size_t		 i, n;

	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK)
		return;
	id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (!cJSON_IsString(id))
		goto out;
	n = strlen(id->valuestring);
	if (n != 15 && n != 18)
		goto out;
	for (i = 0; i < n; i++)
		if (!sf_is_alpha((unsigned char)id->valuestring[i]) &&
		    !sf_is_digit((unsigned char)id->valuestring[i]))
			goto out;
	memcpy(r->id, id->valuestring, n + 1);
out:
	cJSON_Delete(doc);
}

/* The first entry of [{"message","errorCode","fields"}] into r. */
static void
sf_take_errors(const struct buf *body, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*first, *code, *msg, *fields, *f;
	struct jv_error	 je;
	struct buf	 m;
	int		 nf = 0;

	buf_init(&m, sizeof(r->message) * 2);
	if (body->len == 0 ||
	    jv_parse(body->data, body->len, &doc, &je) != CB_OK)
		goto out;
	first = cJSON_IsArray(doc) ? cJSON_GetArrayItem(doc, 0) : doc;
	if (!cJSON_IsObject(first))
		goto out;
	code = cJSON_GetObjectItemCaseSensitive(first, "errorCode");
	if (!cJSON_IsString(code))	/* the collections spelling */
		code = cJSON_GetObjectItemCaseSensitive(first, "statusCode");
	msg = cJSON_GetObjectItemCaseSensitive(first, "message");
	fields = cJSON_GetObjectItemCaseSensitive(first, "fields");
	if (cJSON_IsString(code))
		sf_copy_code(r->error_code, sizeof(r->error_code),
		    code->valuestring);
	if (cJSON_IsString(msg)) {
		char	 masked[sizeof(r->message)];

		/* What Salesforce echoed of the record stays out (sf_int.h). */
		sf_mask_message(masked, sizeof(masked), msg->valuestring);
		buf_puts(&m, masked);
	}
	if (!cJSON_IsArray(fields))
		fields = NULL;
	cJSON_ArrayForEach(f, fields) {
		if (!cJSON_IsString(f))
			continue;
		buf_puts(&m, nf++ ? ", " : " [fields: ");
		buf_puts(&m, f->valuestring);
	}
	if (nf > 0)
		buf_putc(&m, ']');
	if (m.len > 0)
		sf_copy_text(r->message, sizeof(r->message), m.data);
out:
	buf_free(&m);
	cJSON_Delete(doc);
}

/* Sort an HTTP answer to the upsert into a kind (CONTRACTS §3.3, §3.5). */
static void
sf_classify(const struct httpc_resp *h, struct sf_result *r)
{
	int	 s = (int)h->status;

	r->http_status = s;
	/* httpc says -1 when there was none; we say 0. */
	r->retry_after_s = h->retry_after_s > 0 ? h->retry_after_s : 0;
	if (s == 201) {
		r->kind = SF_CREATED;
		sf_take_id(&h->body, r);
		return;
	}
	if (s == 200 || s == 204) {
		r->kind = SF_UPDATED;
		sf_take_id(&h->body, r);
		return;
	}
	if (s == 300) {
		sf_set(r, SF_PERMANENT, s, "CB_MULTIPLE_MATCHES",
		    "the external ID matches several records; nothing was written");
		return;
	}
	sf_classify_error(h, r);
}

void
sf_classify_error(const struct httpc_resp *h, struct sf_result *r)
{
	int	 s = (int)h->status;
	char	 msg[64];

	r->http_status = s;
	r->retry_after_s = h->retry_after_s > 0 ? h->retry_after_s : 0;
	snprintf(msg, sizeof(msg), "HTTP %d %s", s, errs_reason(s));
	sf_set(r, SF_PERMANENT, s, "", msg);
	sf_take_errors(&h->body, r);
	if (s >= 500 ||
	    s == 401 ||		/* still refused with a fresh token */
	    s == 408 || s == 429 ||
	    (s == 403 && strcmp(r->error_code, "REQUEST_LIMIT_EXCEEDED") == 0) ||
	    strcmp(r->error_code, "UNABLE_TO_LOCK_ROW") == 0 ||
	    strcmp(r->error_code, "SERVER_UNAVAILABLE") == 0)
		r->kind = SF_RETRY;
}

/* Local argument checks: an SF_PERMANENT result without any network. */
static int
sf_check_args(const char *sobject, const char *ext_field,
    const char *ext_value, const char *json_fields, struct sf_result *r)
{
	cJSON		*doc = NULL;
	const cJSON	*f;
	struct jv_error	 je;
	size_t		 vlen, blen;
	char		 msg[160];
	int		 rc = CB_ERR_VALIDATION;

	if (!sf_api_name_ok(sobject) || !sf_api_name_ok(ext_field)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "sobject and ext_field must be API names");
		goto out;
	}
	if (ext_value == NULL || (vlen = strlen(ext_value)) == 0 ||
	    vlen > SF_EXT_VALUE_MAX || !jv_utf8_ok(ext_value, vlen)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "ext_value must be 1 to 255 bytes of UTF-8 text");
		goto out;
	}
	if (json_fields == NULL || (blen = strlen(json_fields)) > SF_BODY_MAX ||
	    jv_parse(json_fields, blen, &doc, &je) != CB_OK ||
	    !cJSON_IsObject(doc)) {
		sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
		    "json_fields must be one JSON object of at most 1 MiB");
		goto out;
	}
	/* CONTRACTS §3.3: neither Id nor the external-ID field in the body. */
	cJSON_ArrayForEach(f, doc) {
		if (strcasecmp(f->string, "Id") == 0 ||
		    strcasecmp(f->string, ext_field) == 0) {
			snprintf(msg, sizeof(msg), "json_fields must not contain "
			    "Id or the external-ID field (%s)", ext_field);
			sf_set(r, SF_PERMANENT, 0, "CB_BAD_ARGUMENT", msg);
			goto out;
		}
	}
	rc = CB_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

/*
 * ext_value as one path segment: every byte but the unreserved ones
 * (RFC 3986: ALPHA DIGIT - . _ ~) percent-encoded, as libcurl's escape did.
 */
int
sf_escape(struct buf *b, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 ch;
	int			 rc = CB_OK;

	for (; *s != '\0' && rc == CB_OK; s++) {
		ch = (unsigned char)*s;
		if (sf_is_alpha(ch) || sf_is_digit(ch) || ch == '-' ||
		    ch == '.' || ch == '_' || ch == '~')
			rc = buf_putc(b, (char)ch);
		else if ((rc = buf_putc(b, '%')) == CB_OK &&
		    (rc = buf_putc(b, hex[ch >> 4])) == CB_OK)
			rc = buf_putc(b, hex[ch & 0x0f]);
	}
	return rc;
}

int
sf_upsert(struct sf_client *c, const char *sobject, const char *ext_field,
    const char *ext_value, const char *json_fields, struct sf_result *out)
{
	const char		*hdrs[4];
	struct buf		 url, auth, esc;
	struct httpc_resp	 h;
	char			 st[16], ms[32];
	double			 t0 = util_now_ms();
	int			 attempt, rc;

	memset(out, 0, sizeof(*out));
	buf_init(&url, SF_URL_MAX + 3 * SF_EXT_VALUE_MAX + 256);
	buf_init(&auth, SF_TOKEN_MAX + 64);
	buf_init(&esc, 3 * SF_EXT_VALUE_MAX + 1);
	memset(&h, 0, sizeof(h));
	buf_init(&h.body, 0);
	if (c == NULL) {
		sf_set(out, SF_CONFIG, 0, "CB_BAD_ARGUMENT", "no client");
		rc = sf_rc(out);
		goto out;
	}
	if ((rc = sf_check_args(sobject, ext_field, ext_value, json_fields,
	    out)) != CB_OK)
		goto out;
	if (sf_escape(&esc, ext_value) != CB_OK)
		util_oom();	/* 255 bytes escape to at most 765 */
	/* At most one re-authentication, on a 401, then one more try. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->token == NULL && (rc = sf_mint(c, out)) != CB_OK)
			goto out;
		buf_reset(&url);
		buf_wipe(&auth);
		buf_init(&auth, SF_TOKEN_MAX + 64);
		if (buf_printf(&url, "%s/services/data/%s/sobjects/%s/%s/%s",
		    c->instance_url, c->api_version, sobject, ext_field,
		    buf_cstr(&esc)) ||
		    buf_printf(&auth, "Authorization: Bearer %s", c->token)) {
			sf_set(out, SF_PERMANENT, 0, "CB_BAD_ARGUMENT",
			    "request URL does not fit its buffer");
			rc = sf_rc(out);
			goto out;
		}
		hdrs[0] = auth.data;
		hdrs[1] = "Content-Type: application/json";
		hdrs[2] = "Accept: application/json";
		hdrs[3] = NULL;
		httpc_resp_free(&h);
		sf_http(c, "PATCH", url.data, hdrs, json_fields,
		    strlen(json_fields), &h);
		if (sf_transport_failed(c, &h, out))
			break;
		if (h.status == 401 && attempt == 0) {
			/* Session expired or revoked: CONTRACTS §3.1 policy. */
			log_kv(LOG_LVL_INFO, "sf_session_expired", "sobject",
			    sobject, NULL);
			sf_drop_token(c);
			continue;
		}
		sf_classify(&h, out);
		break;
	}
	rc = sf_rc(out);
out:
	if (c != NULL && out->kind != SF_NONE) {
		snprintf(st, sizeof(st), "%d", out->http_status);
		snprintf(ms, sizeof(ms), "%.0f", util_now_ms() - t0);
		/* ext_value and message can carry personal data: not logged. */
		log_kv(rc == CB_OK ? LOG_LVL_DEBUG : LOG_LVL_WARN, "sf_upsert",
		    "sobject", sf_api_name_ok(sobject) ? sobject : "?",
		    "status", st, "kind", sf_kind_name(out->kind),
		    "error", out->error_code, "ms", ms, NULL);
	}
	httpc_resp_free(&h);
	buf_wipe(&esc);
	buf_wipe(&auth);
	buf_free(&url);
	return rc;
}
