/* slackpay: Slack's interactivity body (slackpay.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "formenc.h"
#include "jsonv.h"
#include "slackpay.h"
#include "util.h"

/* The form body: one field. */
struct sp_form {
	const char	*payload;
};

static const struct fe_field form_fields[] = {
	{ "payload", FORMENC_REQUIRED, SLACKPAY_BODY_MAX, offsetof(struct sp_form, payload) },
};

/* block_actions, as CONTRACTS §4.2 lists its members. */
struct sp_payload {
	const char	*type;
	const cJSON	*user;
	const cJSON	*actions;
	const char	*response_url;
	const cJSON	*ignored;
};

static int
sp_type_ok(const cJSON *v, const char **why)
{
	if (strcmp(v->valuestring, "block_actions") != 0) {
		*why = "only block_actions is handled";
		return -1;
	}
	return 0;
}

#define SP_ANY(n)	{ n, JV_ANY, JV_NULLABLE, 0, 0, offsetof(struct sp_payload, ignored), NULL }
static const struct jv_field payload_fields[] = {
	{ "type", JV_STRING, JV_REQUIRED, 1, 32, offsetof(struct sp_payload, type), sp_type_ok },
	{ "user", JV_OBJECT, JV_REQUIRED, 1, 16, offsetof(struct sp_payload, user), NULL },
	{ "actions", JV_ARRAY, JV_REQUIRED, 1, 1, offsetof(struct sp_payload, actions), NULL },
	{ "response_url", JV_STRING, JV_REQUIRED, 10, 512,
	  offsetof(struct sp_payload, response_url), NULL },
	SP_ANY("team"), SP_ANY("api_app_id"), SP_ANY("container"), SP_ANY("trigger_id"),
	SP_ANY("channel"), SP_ANY("message"), SP_ANY("view"), SP_ANY("state"),
	SP_ANY("token"), SP_ANY("enterprise"), SP_ANY("is_enterprise_install"),
};

struct sp_user {
	const char	*id;
	const cJSON	*ignored;
};

#define SU_ANY(n)	{ n, JV_ANY, JV_NULLABLE, 0, 0, offsetof(struct sp_user, ignored), NULL }
static const struct jv_field user_fields[] = {
	{ "id", JV_STRING, JV_REQUIRED, 2, 32, offsetof(struct sp_user, id), NULL },
	SU_ANY("username"), SU_ANY("name"), SU_ANY("team_id"),
};

struct sp_action {
	const char	*action_id;
	const char	*value;
	const cJSON	*ignored;
};

#define SA_ANY(n)	{ n, JV_ANY, JV_NULLABLE, 0, 0, offsetof(struct sp_action, ignored), NULL }
static const struct jv_field action_fields[] = {
	{ "action_id", JV_STRING, JV_REQUIRED, 1, 255, offsetof(struct sp_action, action_id),
	  NULL },
	{ "value", JV_STRING, JV_REQUIRED, 1, 2000, offsetof(struct sp_action, value), NULL },
	SA_ANY("block_id"), SA_ANY("type"), SA_ANY("action_ts"), SA_ANY("text"), SA_ANY("style"),
};

#define NF(t)	(sizeof(t) / sizeof((t)[0]))

static int
sp_fail(const char **field, const char **why, const char *f, const char *w)
{
	*field = f;
	*why = w;
	return CB_ERR_VALIDATION;
}

int
slackpay_parse(const char *body, size_t len, struct slackpay *p, const char **field,
    const char **why)
{
	struct sp_form		 form;
	struct sp_payload	 pl;
	struct sp_user		 u;
	struct sp_action	 act;
	struct fe_error		 fe;
	struct jv_error		 je;
	const cJSON		*a0;
	char			*colon;

	memset(p, 0, sizeof(*p));
	memset(&form, 0, sizeof(form));
	if (formenc_parse(body, len, form_fields, NF(form_fields), &form, &p->arena, &fe) != CB_OK) {
		util_strlcpy(p->err_field, fe.field, sizeof(p->err_field));
		return sp_fail(field, why, p->err_field[0] ? p->err_field : NULL, fe.reason);
	}
	if (jv_parse(form.payload, strlen(form.payload), &p->doc, &je) != CB_OK ||
	    !cJSON_IsObject(p->doc))
		return sp_fail(field, why, "payload", "must be a JSON object");
	memset(&pl, 0, sizeof(pl));
	if (jv_validate(p->doc, payload_fields, NF(payload_fields), &pl, &je) != CB_OK) {
		util_strlcpy(p->err_field, je.field, sizeof(p->err_field));
		util_strlcpy(p->err_why, je.reason, sizeof(p->err_why));
		return sp_fail(field, why, p->err_field, p->err_why);
	}
	memset(&u, 0, sizeof(u));
	if (jv_validate(pl.user, user_fields, NF(user_fields), &u, &je) != CB_OK) {
		util_strlcpy(p->err_why, je.reason, sizeof(p->err_why));
		return sp_fail(field, why, "user", p->err_why);
	}
	memset(&act, 0, sizeof(act));
	if (!cJSON_IsObject(a0 = cJSON_GetArrayItem(pl.actions, 0)) ||
	    jv_validate(a0, action_fields, NF(action_fields), &act, &je) != CB_OK)
		return sp_fail(field, why, "actions", "one action with action_id and value");
	if (strcmp(act.action_id, "approve") == 0)
		p->verdict = APPROVAL_APPROVE;
	else if (strcmp(act.action_id, "deny") == 0)
		p->verdict = APPROVAL_DENY;
	else
		return sp_fail(field, why, "actions", "action_id must be approve or deny");
	/* "<approval id>:<hash>" */
	if ((colon = strchr(act.value, ':')) == NULL || colon - act.value != 36 ||
	    strlen(colon + 1) != APPROVAL_HASH_HEX)
		return sp_fail(field, why, "actions", "value must be <approval id>:<hash>");
	*colon = '\0';
	if (!util_uuid_ok(act.value))
		return sp_fail(field, why, "actions", "not an approval id");
	p->approval = act.value;
	util_strlcpy(p->hash, colon + 1, sizeof(p->hash));
	p->slack_user = u.id;
	p->response_url = pl.response_url;
	return CB_OK;
}

void
slackpay_free(struct slackpay *p)
{
	free(p->arena);
	cJSON_Delete(p->doc);
	p->arena = NULL;
	p->doc = NULL;
}
