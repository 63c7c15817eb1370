/*
 * formdef: see formdef.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "formdef.h"
#include "log.h"
#include "sf.h"
#include "util.h"

static const char *const formdef_types[] = {
	"string", "email", "integer", "number", "boolean", "enum"
};

/* Indexed by enum formdef_class: the order is the order of strictness. */
static const char *const formdef_classes[] = {
	[FORMDEF_PUBLIC] = "public",
	[FORMDEF_INTERNAL] = "internal",
	[FORMDEF_CONFIDENTIAL] = "confidential",
	[FORMDEF_RESTRICTED] = "restricted",
};

#define FD_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
fd_err(struct jv_error *e, const char *field, const char *reason)
{
	if (e == NULL)
		return;
	snprintf(e->field, sizeof(e->field), "%s", field);
	util_strlcpy(e->reason, reason, sizeof(e->reason));
}

/* jsonv's reason, in the words of a definition. */
static const char *
fd_reason(const char *jv_reason)
{
	if (strcmp(jv_reason, "required field is missing") == 0)
		return "is required";
	if (strcmp(jv_reason, "unknown field") == 0)
		return "unknown member";
	if (strcmp(jv_reason, "duplicate field") == 0)
		return "member given twice";
	return jv_reason;
}

/* The error at /fields/<i>/<member> ("" member: the field itself). */
static int
fd_ferr(struct jv_error *e, size_t i, const char *member, const char *reason)
{
	char	 base[24], ptr[sizeof(e->field)];

	snprintf(base, sizeof(base), "/fields/%zu", i);
	if (member[0] == '\0')
		fd_err(e, base, reason);
	else {
		jv_pointer(ptr, sizeof(ptr), base, member);
		fd_err(e, ptr, reason);
	}
	return CB_ERR_VALIDATION;
}

static int
fd_name_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || (i > 0 && s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

const char *
formdef_class_name(enum formdef_class c)
{
	return c >= FORMDEF_PUBLIC && c <= FORMDEF_RESTRICTED ? formdef_classes[c] : "unknown";
}

int
formdef_class_parse(const char *s, enum formdef_class *out)
{
	size_t	 i;

	for (i = 0; s != NULL && i < FD_NELEM(formdef_classes); i++)
		if (strcmp(s, formdef_classes[i]) == 0) {
			*out = (enum formdef_class)i;
			return CB_OK;
		}
	return CB_ERR_VALIDATION;
}

/* The member hooks of the field table (jsonv.h): 0, or -1 with *why. */
static int
fd_check_name(const cJSON *v, const char **why)
{
	if (fd_name_ok(v->valuestring))
		return 0;
	*why = "must be 1 to 64 of [A-Za-z0-9_], not starting with a capital";
	return -1;
}

static int
fd_check_type(const cJSON *v, const char **why)
{
	size_t	 i;

	for (i = 0; i < FD_NELEM(formdef_types); i++)
		if (strcmp(v->valuestring, formdef_types[i]) == 0)
			return 0;
	*why = "must be one of string, email, integer, number, boolean, enum";
	return -1;
}

static int
fd_check_class(const cJSON *v, const char **why)
{
	enum formdef_class	 c;

	if (formdef_class_parse(v->valuestring, &c) == CB_OK)
		return 0;
	*why = "must be one of " FORMDEF_CLASS_LIST;
	return -1;
}

static int
fd_check_sf_field(const cJSON *v, const char **why)
{
	if (sf_api_name_ok(v->valuestring))
		return 0;
	*why = "must be a Salesforce API name: a letter, then letters, digits or _ (at most 80)";
	return -1;
}

static int
fd_check_options(const cJSON *v, const char **why)
{
	const cJSON	*o, *p;

	cJSON_ArrayForEach(o, v) {
		if (!cJSON_IsString(o) || o->valuestring[0] == '\0' || strlen(o->valuestring) > 200) {
			*why = "each option must be a string of 1 to 200 bytes";
			return -1;
		}
		for (p = v->child; p != o; p = p->next)
			if (strcmp(p->valuestring, o->valuestring) == 0) {
				*why = "options must be unique";
				return -1;
			}
	}
	return 0;
}

/* A field's members as the table reads them (only what a cross-check needs). */
struct fd_field_args {
	const char	*name, *label, *type, *class, *sf_field;
	int		 required, pii;
	long long	 max_length, min_length;
	double		 min, max;
	const cJSON	*options;
};

/*
 * The members a field may have: any other is an error (docs/schemas/
 * form-definition.schema.json says the same, and tests/scripts/
 * schema-agree.sh holds the two to it).
 */
static const struct jv_field fd_field_table[] = {
	{ "name", JV_STRING, JV_REQUIRED, 1, 64, offsetof(struct fd_field_args, name),
	  fd_check_name },
	{ "label", JV_STRING, 0, 1, 200, offsetof(struct fd_field_args, label), NULL },
	{ "type", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fd_field_args, type),
	  fd_check_type },
	{ "class", JV_STRING, JV_REQUIRED, 1, 16, offsetof(struct fd_field_args, class),
	  fd_check_class },
	{ "required", JV_BOOL, 0, 0, 0, offsetof(struct fd_field_args, required), NULL },
	{ "max_length", JV_INT, 0, 0, FORMDEF_MAX_LENGTH,
	  offsetof(struct fd_field_args, max_length), NULL },
	{ "min_length", JV_INT, 0, 0, FORMDEF_MAX_LENGTH,
	  offsetof(struct fd_field_args, min_length), NULL },
	{ "min", JV_NUMBER, 0, 0, 0, offsetof(struct fd_field_args, min), NULL },
	{ "max", JV_NUMBER, 0, 0, 0, offsetof(struct fd_field_args, max), NULL },
	{ "options", JV_ARRAY, 0, 1, FORMDEF_MAX_OPTIONS, offsetof(struct fd_field_args, options),
	  fd_check_options },
	{ "sf_field", JV_STRING, 0, 1, 80, offsetof(struct fd_field_args, sf_field),
	  fd_check_sf_field },
	/* Deprecated: "class" decides; kept readable so old definitions still parse. */
	{ "pii", JV_BOOL, 0, 0, 0, offsetof(struct fd_field_args, pii), NULL },
};

struct fd_doc_args {
	const char	*title;
	const cJSON	*fields;
};

static const struct jv_field fd_doc_table[] = {
	{ "title", JV_STRING, 0, 1, 200, offsetof(struct fd_doc_args, title), NULL },
	{ "fields", JV_ARRAY, JV_REQUIRED, 1, FORMDEF_MAX_FIELDS,
	  offsetof(struct fd_doc_args, fields), NULL },
};

/* One field, the i-th: its table, then what spans members. */
static int
fd_check_field(const cJSON *fields, const cJSON *f, size_t i, struct jv_error *e)
{
	struct fd_field_args	 a;
	struct jv_error		 je;
	enum formdef_class	 c = FORMDEF_PUBLIC;
	const cJSON		*g, *gn;

	if (!cJSON_IsObject(f))
		return fd_ferr(e, i, "", "must be an object");
	memset(&a, 0, sizeof(a));
	if (jv_validate(f, fd_field_table, FD_NELEM(fd_field_table), &a, &je) != CB_OK)
		return fd_ferr(e, i, je.field, fd_reason(je.reason));
	for (g = fields->child; g != f; g = g->next) {
		gn = cJSON_GetObjectItemCaseSensitive(g, "name");
		if (cJSON_IsString(gn) && strcmp(gn->valuestring, a.name) == 0)
			return fd_ferr(e, i, "name", "duplicate field name");
	}
	if (strcmp(a.type, "enum") == 0 && a.options == NULL)
		return fd_ferr(e, i, "options", "is required for type enum");
	if (strcmp(a.type, "enum") != 0 && a.options != NULL)
		return fd_ferr(e, i, "options", "only a field of type enum has options");
	(void)formdef_class_parse(a.class, &c);
	if (a.pii && c < FORMDEF_CONFIDENTIAL)
		return fd_ferr(e, i, "pii", "true needs class confidential or restricted"
		    " (pii is deprecated: class decides)");
	return CB_OK;
}

int
formdef_check(const cJSON *def, struct jv_error *e)
{
	struct fd_doc_args	 a;
	struct jv_error		 je;
	const cJSON		*f;
	size_t			 i = 0;
	int			 rc;

	if (!cJSON_IsObject(def)) {
		fd_err(e, "", "the definition must be a JSON object");
		return CB_ERR_VALIDATION;
	}
	memset(&a, 0, sizeof(a));
	if (jv_validate(def, fd_doc_table, FD_NELEM(fd_doc_table), &a, &je) != CB_OK) {
		char	 ptr[sizeof(je.field)];

		jv_pointer(ptr, sizeof(ptr), "", je.field);
		fd_err(e, ptr, fd_reason(je.reason));
		return CB_ERR_VALIDATION;
	}
	cJSON_ArrayForEach(f, a.fields) {
		if ((rc = fd_check_field(a.fields, f, i, e)) != CB_OK)
			return rc;
		i++;
	}
	return CB_OK;
}

int
formdef_check_text(const char *text, size_t len, struct jv_error *e)
{
	struct jv_error	 je;
	cJSON		*d = NULL;
	int		 rc;

	if (jv_parse(text, len, &d, &je) != CB_OK) {
		fd_err(e, "", "not valid JSON");
		if (e != NULL && je.reason[0])
			snprintf(e->reason, sizeof(e->reason), "not valid JSON: %.140s", je.reason);
		return CB_ERR_VALIDATION;
	}
	rc = formdef_check(d, e);
	cJSON_Delete(d);
	return rc;
}

static double
fd_num(const cJSON *f, const char *k, double def)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(f, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static int
fd_email_ok(const char *s)
{
	const char	*at = strchr(s, '@');

	if (at == NULL || at == s || strchr(at + 1, '@') || strchr(s, ' ') ||
	    strchr(at + 1, '.') == NULL || at[1] == '.' || s[strlen(s) - 1] == '.')
		return 0;
	return 1;
}

static int
fd_one(const cJSON *f, const cJSON *v, char *fname, struct jv_error *e)
{
	const char	*type = cJSON_GetObjectItemCaseSensitive(f, "type")->valuestring;
	const cJSON	*o;
	double		 d;
	size_t		 len;
	int		 found;

	if (strcmp(type, "string") == 0 || strcmp(type, "email") == 0 ||
	    strcmp(type, "enum") == 0) {
		if (!cJSON_IsString(v)) {
			fd_err(e, fname, "must be a string");
			return CB_ERR_VALIDATION;
		}
		len = strlen(v->valuestring);
		if ((double)len > fd_num(f, "max_length", 4096) ||
		    (double)len < fd_num(f, "min_length", 0)) {
			fd_err(e, fname, "length is out of bounds");
			return CB_ERR_VALIDATION;
		}
		if (strcmp(type, "email") == 0 && !fd_email_ok(v->valuestring)) {
			fd_err(e, fname, "must be an email address");
			return CB_ERR_VALIDATION;
		}
		if (strcmp(type, "enum") == 0) {
			found = 0;
			cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(f, "options"))
				found |= cJSON_IsString(o) && strcmp(o->valuestring, v->valuestring) == 0;
			if (!found) {
				fd_err(e, fname, "is not one of the options");
				return CB_ERR_VALIDATION;
			}
		}
		return CB_OK;
	}
	if (strcmp(type, "boolean") == 0) {
		if (!cJSON_IsBool(v)) {
			fd_err(e, fname, "must be true or false");
			return CB_ERR_VALIDATION;
		}
		return CB_OK;
	}
	/* integer or number */
	d = v->valuedouble;
	if (!cJSON_IsNumber(v) || !isfinite(d) ||
	    (strcmp(type, "integer") == 0 && (d != floor(d) || fabs(d) > 9007199254740991.0))) {
		fd_err(e, fname, strcmp(type, "integer") == 0 ? "must be an integer" : "must be a number");
		return CB_ERR_VALIDATION;
	}
	if (d < fd_num(f, "min", -1e300) || d > fd_num(f, "max", 1e300)) {
		fd_err(e, fname, "is out of bounds");
		return CB_ERR_VALIDATION;
	}
	return CB_OK;
}

int
formdef_validate(const cJSON *def, const cJSON *data, struct jv_error *e)
{
	const cJSON	*fields = cJSON_GetObjectItemCaseSensitive(def, "fields"), *f, *v, *d2;
	char		 fname[64];
	int		 rc, known;

	if (!cJSON_IsObject(data)) {
		fd_err(e, "data", "must be an object");
		return CB_ERR_VALIDATION;
	}
	for (v = data->child; v; v = v->next) {
		snprintf(fname, sizeof(fname), "data.%.50s", v->string);
		for (d2 = data->child; d2 != v; d2 = d2->next)
			if (strcmp(d2->string, v->string) == 0) {
				fd_err(e, fname, "duplicate field");
				return CB_ERR_VALIDATION;
			}
		known = 0;
		cJSON_ArrayForEach(f, fields)
			known |= strcmp(cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring,
			    v->string) == 0;
		if (!known) {
			fd_err(e, fname, "unknown field");
			return CB_ERR_VALIDATION;
		}
	}
	cJSON_ArrayForEach(f, fields) {
		const char *name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;

		snprintf(fname, sizeof(fname), "data.%.50s", name);
		v = cJSON_GetObjectItemCaseSensitive(data, name);
		if (v == NULL || cJSON_IsNull(v)) {
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "required"))) {
				fd_err(e, fname, "required field is missing");
				return CB_ERR_VALIDATION;
			}
			continue;
		}
		if ((rc = fd_one(f, v, fname, e)) != CB_OK)
			return rc;
	}
	return CB_OK;
}

cJSON *
formdef_to_sf(const cJSON *def, const cJSON *data)
{
	const cJSON	*f, *v, *sf;
	cJSON		*out = cJSON_CreateObject();

	if (out == NULL)
		util_oom();
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
		sf = cJSON_GetObjectItemCaseSensitive(f, "sf_field");
		v = cJSON_GetObjectItemCaseSensitive(data,
		    cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring);
		if (cJSON_IsString(sf) && v && !cJSON_IsNull(v))
			cJSON_AddItemToObject(out, sf->valuestring, cJSON_Duplicate(v, 1));
	}
	return out;
}

enum formdef_class
formdef_field_class(const cJSON *def, const char *name)
{
	const cJSON		*f, *n, *c;
	enum formdef_class	 out;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
		n = cJSON_GetObjectItemCaseSensitive(f, "name");
		if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
			continue;
		c = cJSON_GetObjectItemCaseSensitive(f, "class");
		if (cJSON_IsString(c) && formdef_class_parse(c->valuestring, &out) == CB_OK)
			return out;
		/* Published before classes (formdef.h): the deprecated flag decides. */
		return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "pii")) ?
		    FORMDEF_CONFIDENTIAL : FORMDEF_INTERNAL;
	}
	/* Not a field of this form: treated as the strictest class. */
	return FORMDEF_RESTRICTED;
}

int
formdef_is_pii(const cJSON *def, const char *name)
{
	return formdef_field_class(def, name) >= FORMDEF_CONFIDENTIAL;
}

int
formdef_has_field(const cJSON *def, const char *name)
{
	const cJSON	*f, *n;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
		n = cJSON_GetObjectItemCaseSensitive(f, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return 1;
	}
	return 0;
}

void
formdef_log_value(const cJSON *def, const char *name, const cJSON *v, char *out, size_t outsz)
{
	enum formdef_class	 c = formdef_field_class(def, name);
	const cJSON		*f, *t = NULL;
	char			*text;

	if (outsz == 0)
		return;
	if (c == FORMDEF_RESTRICTED) {
		util_strlcpy(out, "[restricted]", outsz);
		return;
	}
	if (c == FORMDEF_CONFIDENTIAL) {
		if (!cJSON_IsString(v)) {
			util_strlcpy(out, "***", outsz);
			return;
		}
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields"))
			if (strcmp(cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring, name) == 0)
				t = cJSON_GetObjectItemCaseSensitive(f, "type");
		if (cJSON_IsString(t) && strcmp(t->valuestring, "email") == 0)
			log_mask_email(v->valuestring, out, outsz);
		else
			log_mask(v->valuestring, out, outsz);
		return;
	}
	if (cJSON_IsString(v)) {
		util_strlcpy(out, v->valuestring, outsz);
		return;
	}
	if ((text = cJSON_PrintUnformatted(v)) == NULL)
		util_oom();
	util_strlcpy(out, text, outsz);
	free(text);
}

void
formdef_error_text(const char *text, const struct jv_error *e, char *out, size_t outsz)
{
	const cJSON	*f, *n;
	cJSON		*d;
	char		 name[80] = "";
	long		 i;
	char		*end;

	if (strncmp(e->field, "/fields/", 8) == 0 && (d = cJSON_Parse(text)) != NULL) {
		i = strtol(e->field + 8, &end, 10);
		if (end != e->field + 8 && i >= 0 &&
		    (f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "fields"), (int)i)) &&
		    cJSON_IsString(n = cJSON_GetObjectItemCaseSensitive(f, "name")))
			snprintf(name, sizeof(name), " (field \"%.64s\")", n->valuestring);
		cJSON_Delete(d);
	}
	snprintf(out, outsz, "%s%s%s%s", e->field, name, e->field[0] || name[0] ? ": " : "",
	    e->reason);
}
