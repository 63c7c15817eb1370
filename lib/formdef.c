/*
 * formdef: see formdef.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errs.h"
#include "formdef.h"
#include "util.h"

static const char *const formdef_types[] = {
	"string", "email", "integer", "number", "boolean", "enum"
};

static void
fd_err(struct jv_error *e, const char *field, const char *reason)
{
	if (e == NULL)
		return;
	snprintf(e->field, sizeof(e->field), "%s", field);
	util_strlcpy(e->reason, reason, sizeof(e->reason));
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

static int
fd_api_name_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 80 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int
formdef_check(const cJSON *def, struct jv_error *e)
{
	const cJSON	*fields, *f, *g, *t, *n, *sf;
	size_t		 i, count = 0;
	int		 known;

	if (!cJSON_IsObject(def)) {
		fd_err(e, "definition", "must be an object");
		return CB_ERR_VALIDATION;
	}
	fields = cJSON_GetObjectItemCaseSensitive(def, "fields");
	if (!cJSON_IsArray(fields)) {
		fd_err(e, "definition.fields", "must be an array");
		return CB_ERR_VALIDATION;
	}
	cJSON_ArrayForEach(f, fields) {
		if (++count > FORMDEF_MAX_FIELDS) {
			fd_err(e, "definition.fields", "too many fields");
			return CB_ERR_VALIDATION;
		}
		n = cJSON_GetObjectItemCaseSensitive(f, "name");
		t = cJSON_GetObjectItemCaseSensitive(f, "type");
		if (!cJSON_IsObject(f) || !cJSON_IsString(n) || !fd_name_ok(n->valuestring)) {
			fd_err(e, "definition.fields", "each field needs a name of [a-z0-9_]");
			return CB_ERR_VALIDATION;
		}
		for (g = fields->child; g != f; g = g->next)
			if (strcmp(cJSON_GetObjectItemCaseSensitive(g, "name")->valuestring,
			    n->valuestring) == 0) {
				fd_err(e, n->valuestring, "duplicate field name");
				return CB_ERR_VALIDATION;
			}
		known = 0;
		for (i = 0; cJSON_IsString(t) && i < sizeof(formdef_types) / sizeof(formdef_types[0]); i++)
			known |= strcmp(t->valuestring, formdef_types[i]) == 0;
		if (!known) {
			fd_err(e, n->valuestring, "unknown field type");
			return CB_ERR_VALIDATION;
		}
		if (strcmp(t->valuestring, "enum") == 0 &&
		    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(f, "options"))) {
			fd_err(e, n->valuestring, "an enum needs options");
			return CB_ERR_VALIDATION;
		}
		sf = cJSON_GetObjectItemCaseSensitive(f, "sf_field");
		if (sf && (!cJSON_IsString(sf) || !fd_api_name_ok(sf->valuestring))) {
			fd_err(e, n->valuestring, "sf_field must be a Salesforce API name");
			return CB_ERR_VALIDATION;
		}
	}
	return CB_OK;
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

int
formdef_is_pii(const cJSON *def, const char *name)
{
	const cJSON	*f;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields"))
		if (strcmp(cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring, name) == 0)
			return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "pii"));
	return 0;
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
