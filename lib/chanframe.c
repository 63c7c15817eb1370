/*
 * chanframe: see chanframe.h.  The messages and their rules are those of
 * docs/channel.md; every refusal's text is what the tab is told.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chanframe.h"
#include "errs.h"
#include "util.h"

struct cf_auth {
	const char	*type;
	const char	*token;
	long long	 last_seq;
};

struct cf_receipt {
	const char	*type;
	long long	 seq;
	const char	*status;
	const char	*reason;
};

struct cf_ping {
	const char	*type;
};

static const char *const cf_statuses[] = { "applied", "failed", NULL };

static const struct jv_field cf_auth_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct cf_auth, type), NULL },
	{ "token", JV_STRING, JV_REQUIRED, 1, 128, offsetof(struct cf_auth, token), NULL },
	{ "last_seq", JV_INT, 0, 0, CHANFRAME_SEQ_MAX, offsetof(struct cf_auth, last_seq), NULL },
};

static const struct jv_field cf_receipt_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct cf_receipt, type), NULL },
	{ "seq", JV_INT, JV_REQUIRED, 1, CHANFRAME_SEQ_MAX, offsetof(struct cf_receipt, seq), NULL },
	{ "status", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct cf_receipt, status),
	  NULL, .one_of = cf_statuses, .why = "must be \"applied\" or \"failed\"" },
	{ "reason", JV_STRING, 0, 0, CHANFRAME_REASON_MAX, offsetof(struct cf_receipt, reason),
	  NULL },
};

static const struct jv_field cf_ping_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct cf_ping, type), NULL },
};

#define CF_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static enum chanframe_kind
cf_bad(struct chanframe *f, const char *why)
{
	util_strlcpy(f->why, why, sizeof(f->why));
	return f->kind = CHANFRAME_BAD;
}

static enum chanframe_kind
cf_bad_field(struct chanframe *f, const struct jv_error *e)
{
	if (e->field[0])
		snprintf(f->why, sizeof(f->why), "%s: %s", e->field, e->reason);
	else
		util_strlcpy(f->why, e->reason, sizeof(f->why));
	return f->kind = CHANFRAME_BAD;
}

enum chanframe_kind
chanframe_parse(const char *data, size_t len, int binary, enum chanframe_mode mode,
    struct chanframe *f)
{
	struct jv_error	 e;
	const cJSON	*t;

	memset(f, 0, sizeof(*f));
	memset(&e, 0, sizeof(e));
	if (binary)
		return cf_bad(f, "frames must be JSON text");
	if (jv_parse(data ? data : "", len, &f->root, &e) != CB_OK)
		return cf_bad_field(f, &e);
	t = cJSON_GetObjectItemCaseSensitive(f->root, "type");
	if (!cJSON_IsObject(f->root) || !cJSON_IsString(t))
		return cf_bad(f, "a message is an object with a string \"type\"");
	f->type = t->valuestring;
	if (strcmp(f->type, "ping") == 0) {
		struct cf_ping	 m = { 0 };

		if (jv_validate(f->root, cf_ping_fields, CF_NELEM(cf_ping_fields), &m, &e) != CB_OK)
			return cf_bad_field(f, &e);
		return f->kind = CHANFRAME_PING;
	}
	if (mode == CHANFRAME_FEED)
		return f->kind = CHANFRAME_OTHER;
	if (mode == CHANFRAME_TAB_NEW) {
		struct cf_auth	 m = { 0 };

		if (strcmp(f->type, "auth") != 0)
			return cf_bad(f, "the first message must be auth");
		if (jv_validate(f->root, cf_auth_fields, CF_NELEM(cf_auth_fields), &m, &e) != CB_OK)
			return cf_bad_field(f, &e);
		f->auth.token = m.token;
		f->auth.last_seq = m.last_seq;
		return f->kind = CHANFRAME_AUTH;
	}
	if (strcmp(f->type, "receipt") == 0) {
		struct cf_receipt m = { 0 };

		if (jv_validate(f->root, cf_receipt_fields, CF_NELEM(cf_receipt_fields), &m,
		    &e) != CB_OK)
			return cf_bad_field(f, &e);
		f->receipt.seq = m.seq;
		f->receipt.status = m.status;
		f->receipt.reason = m.reason;
		return f->kind = CHANFRAME_RECEIPT;
	}
	if (strcmp(f->type, "auth") == 0)
		return cf_bad(f, "already authenticated");
	return cf_bad(f, "unknown message type");
}

void
chanframe_free(struct chanframe *f)
{
	cJSON	*t;

	if (f->root != NULL) {
		/* The tree may hold the tab token: wipe it before it is freed. */
		t = cJSON_GetObjectItemCaseSensitive(f->root, "token");
		if (cJSON_IsString(t) && t->valuestring)
			sodium_memzero(t->valuestring, strlen(t->valuestring));
		cJSON_Delete(f->root);
	}
	memset(f, 0, sizeof(*f));
}
