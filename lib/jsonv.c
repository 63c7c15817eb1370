/*
 * jsonv: see jsonv.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "errs.h"
#include "jsonv.h"
#include "util.h"

#define JV_MAX_DEPTH	32
#define JV_STR_CAP	65536

/*
 * cJSON allocates through lib/alloc (so the torture test reaches it).
 * While jv_parse reads outside input, a failed allocation is handed back
 * to cJSON, which unwinds and frees its partial tree, and jv_parse answers
 * CB_ERR_NOMEM; anywhere else (trees the broker builds, text it prints)
 * it aborts like every other allocation: callers never see a half-built
 * tree.  The hooks are installed before main() runs.
 */
static int	jv_reading, jv_read_nomem;

static void *
jv_alloc(size_t n)
{
	void	*p = alloc_try(n);

	if (p == NULL) {
		if (!jv_reading)
			util_oom();
		jv_read_nomem = 1;
	}
	return p;
}

__attribute__((constructor)) static void
jv_hooks(void)
{
	cJSON_Hooks	 h = { jv_alloc, free };

	cJSON_InitHooks(&h);
}

static void jv_seterr(struct jv_error *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
jv_seterr(struct jv_error *e, const char *field, const char *fmt, ...)
{
	va_list	 ap;

	if (e == NULL)
		return;
	util_strlcpy(e->field, field ? field : "", sizeof(e->field));
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

int
jv_utf8_ok(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k, need;
	unsigned int		 cp;

	while (i < n) {
		unsigned char c = p[i];

		if (c < 0x80) {
			if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
		else return 0;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlongs, surrogates and values past U+10FFFF. */
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Depth counts containers: the root object or array is depth 1. */
static int
jv_depth_ok(const cJSON *v, int depth)
{
	const cJSON	*c;

	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		depth++;
	if (depth > JV_MAX_DEPTH)
		return 0;
	for (c = v->child; c != NULL; c = c->next)
		if (!jv_depth_ok(c, depth))
			return 0;
	return 1;
}

/*
 * cJSON decodes "\u0000" to a NUL that silently truncates a key or value,
 * so such escapes are found in the raw text (inside strings, honouring
 * escaped backslashes) and refused.
 */
static int
jv_has_nul_escape(const char *s, size_t n)
{
	size_t	 i;
	int	 in_str = 0;

	for (i = 0; i < n; i++) {
		if (!in_str) {
			if (s[i] == '"')
				in_str = 1;
			continue;
		}
		if (s[i] == '"')
			in_str = 0;
		else if (s[i] == '\\' && i + 1 < n) {
			if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' &&
			    s[i + 4] == '0' && s[i + 5] == '0')
				return 1;
			i++;	/* skip the escaped character */
		}
	}
	return 0;
}

static int
jv_strings_ok(const cJSON *v)
{
	const cJSON	*c;

	/* \u0000 escapes decode to an early NUL: refuse them (and bad UTF-8). */
	if (cJSON_IsString(v) && v->valuestring &&
	    !jv_utf8_ok(v->valuestring, strlen(v->valuestring)))
		return 0;
	if (v->string && !jv_utf8_ok(v->string, strlen(v->string)))
		return 0;
	for (c = v->child; c != NULL; c = c->next)
		if (!jv_strings_ok(c))
			return 0;
	return 1;
}

int
jv_parse(const char *body, size_t len, cJSON **out, struct jv_error *err)
{
	const char	*end = NULL;
	cJSON		*v;
	size_t		 i;

	*out = NULL;
	if (len == 0) {
		jv_seterr(err, "", "empty body");
		return CB_ERR_BAD_JSON;
	}
	if (memchr(body, '\0', len) != NULL) {
		jv_seterr(err, "", "NUL byte in body");
		return CB_ERR_BAD_JSON;
	}
	if (!jv_utf8_ok(body, len)) {
		jv_seterr(err, "", "body is not valid UTF-8");
		return CB_ERR_BAD_JSON;
	}
	if (jv_has_nul_escape(body, len)) {
		jv_seterr(err, "", "\\u0000 escapes are not accepted");
		return CB_ERR_BAD_JSON;
	}
	jv_reading = 1;
	jv_read_nomem = 0;
	v = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	jv_reading = 0;
	if (jv_read_nomem) {
		/* Not the sender's fault: a 500, and the partial tree is gone. */
		cJSON_Delete(v);
		jv_seterr(err, "", "out of memory reading the JSON body");
		return CB_ERR_NOMEM;
	}
	if (v == NULL) {
		size_t off = end && end >= body ? (size_t)(end - body) : 0;
		char msg[32];

		snprintf(msg, sizeof(msg), "%zu", off);
		jv_seterr(err, "", "malformed JSON near byte %s", msg);
		return CB_ERR_BAD_JSON;
	}
	for (i = (size_t)(end - body); i < len; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' && body[i] != '\r') {
			cJSON_Delete(v);
			jv_seterr(err, "", "trailing bytes after the JSON value");
			return CB_ERR_BAD_JSON;
		}
	if (!jv_depth_ok(v, 0)) {
		cJSON_Delete(v);
		jv_seterr(err, "", "JSON nested too deeply");
		return CB_ERR_BAD_JSON;
	}
	if (!jv_strings_ok(v)) {
		cJSON_Delete(v);
		jv_seterr(err, "", "string with a NUL, a control character or invalid UTF-8");
		return CB_ERR_BAD_JSON;
	}
	*out = v;
	return CB_OK;
}

static int
jv_count(const cJSON *v)
{
	const cJSON	*c;
	int		 n = 0;

	for (c = v->child; c != NULL; c = c->next)
		n++;
	return n;
}

static int
jv_bounded(const struct jv_field *f, long long v)
{
	if (f->min == 0 && f->max == 0)
		return 1;
	return v >= f->min && v <= f->max;
}

/* A string field's one_of and text_ok (struct jv_field): 1 when it passes both. */
static int
jv_text_allowed(const struct jv_field *f, const char *s)
{
	const char *const	*o;

	if (f->text_ok != NULL && !f->text_ok(s))
		return 0;
	if (f->one_of == NULL)
		return 1;
	for (o = f->one_of; *o != NULL; o++)
		if (strcmp(*o, s) == 0)
			return 1;
	return 0;
}

static int
jv_one(const struct jv_field *f, const cJSON *v, char *base, struct jv_error *err)
{
	const char	*why = NULL;
	char		 lim[64];
	double		 d;
	size_t		 len;

	if (cJSON_IsNull(v)) {
		if (f->flags & JV_NULLABLE)
			return CB_OK;
		jv_seterr(err, f->name, "must not be null");
		return CB_ERR_VALIDATION;
	}
	switch (f->type) {
	case JV_STRING:
		if (!cJSON_IsString(v)) {
			jv_seterr(err, f->name, "must be a string");
			return CB_ERR_VALIDATION;
		}
		len = strlen(v->valuestring);
		if (len > JV_STR_CAP || !jv_bounded(f, (long long)len)) {
			snprintf(lim, sizeof(lim), "%lld and %lld", f->min, f->max ? f->max : JV_STR_CAP);
			jv_seterr(err, f->name, "length must be between %s bytes", lim);
			return CB_ERR_VALIDATION;
		}
		*(const char **)(void *)(base + f->off) = v->valuestring;
		break;
	case JV_INT:
		d = v->valuedouble;
		if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9007199254740991.0) {
			jv_seterr(err, f->name, "must be an integer");
			return CB_ERR_VALIDATION;
		}
		if (!jv_bounded(f, (long long)d)) {
			snprintf(lim, sizeof(lim), "%lld and %lld", f->min, f->max);
			jv_seterr(err, f->name, "must be between %s", lim);
			return CB_ERR_VALIDATION;
		}
		*(long long *)(void *)(base + f->off) = (long long)d;
		break;
	case JV_NUMBER:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
			jv_seterr(err, f->name, "must be a number");
			return CB_ERR_VALIDATION;
		}
		if ((f->min || f->max) && (v->valuedouble < (double)f->min ||
		    v->valuedouble > (double)f->max)) {
			snprintf(lim, sizeof(lim), "%lld and %lld", f->min, f->max);
			jv_seterr(err, f->name, "must be between %s", lim);
			return CB_ERR_VALIDATION;
		}
		*(double *)(void *)(base + f->off) = v->valuedouble;
		break;
	case JV_BOOL:
		if (!cJSON_IsBool(v)) {
			jv_seterr(err, f->name, "must be true or false");
			return CB_ERR_VALIDATION;
		}
		*(int *)(void *)(base + f->off) = cJSON_IsTrue(v);
		break;
	case JV_OBJECT:
	case JV_ARRAY:
		if ((f->type == JV_OBJECT && !cJSON_IsObject(v)) ||
		    (f->type == JV_ARRAY && !cJSON_IsArray(v))) {
			jv_seterr(err, f->name, f->type == JV_OBJECT ?
			    "must be an object" : "must be an array");
			return CB_ERR_VALIDATION;
		}
		if (!jv_bounded(f, jv_count(v))) {
			snprintf(lim, sizeof(lim), "%lld and %lld", f->min, f->max);
			jv_seterr(err, f->name, "must have between %s entries", lim);
			return CB_ERR_VALIDATION;
		}
		*(const cJSON **)(void *)(base + f->off) = v;
		break;
	case JV_ANY:
		*(const cJSON **)(void *)(base + f->off) = v;
		break;
	case JV_UUID:
		if (!cJSON_IsString(v) || !util_uuid_ok(v->valuestring)) {
			jv_seterr(err, f->name, "must be a UUID");
			return CB_ERR_VALIDATION;
		}
		/* The tree belongs to the request: its one spelling from here on. */
		for (len = 0; len < 36; len++)
			if (v->valuestring[len] >= 'A' && v->valuestring[len] <= 'F')
				v->valuestring[len] = (char)(v->valuestring[len] - 'A' + 'a');
		*(const char **)(void *)(base + f->off) = v->valuestring;
		break;
	}
	if (f->check && f->check(v, &why) != 0) {
		jv_seterr(err, f->name, "%s", why ? why : "is invalid");
		return CB_ERR_VALIDATION;
	}
	if (cJSON_IsString(v) && !jv_text_allowed(f, v->valuestring)) {
		jv_seterr(err, f->name, "%s", f->why ? f->why : "is invalid");
		return CB_ERR_VALIDATION;
	}
	return CB_OK;
}

static int
jv_name_cmp(const void *a, const void *b)
{
	const cJSON *const	*x = a, *const *y = b;

	return strcmp((*x)->string, (*y)->string);
}

static cJSON *
jv_sorted(const cJSON *v)
{
	const cJSON	*c, **kids;
	cJSON		*o;
	size_t		 n = 0, i;

	if (cJSON_IsArray(v)) {
		if ((o = cJSON_CreateArray()) == NULL)
			util_oom();
		for (c = v->child; c != NULL; c = c->next)
			cJSON_AddItemToArray(o, jv_sorted(c));
		return o;
	}
	if (!cJSON_IsObject(v)) {
		if ((o = cJSON_Duplicate(v, 0)) == NULL)
			util_oom();
		return o;
	}
	for (c = v->child; c != NULL; c = c->next)
		n++;
	kids = util_calloc(n ? n : 1, sizeof(*kids));
	for (i = 0, c = v->child; c != NULL; c = c->next)
		kids[i++] = c;
	qsort(kids, n, sizeof(*kids), jv_name_cmp);
	if ((o = cJSON_CreateObject()) == NULL)
		util_oom();
	for (i = 0; i < n; i++)
		cJSON_AddItemToObject(o, kids[i]->string, jv_sorted(kids[i]));
	free(kids);
	return o;
}

cJSON *
jv_add_str_or_null(cJSON *o, const char *k, const char *v)
{
	return v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k);
}

char *
jv_take_text(cJSON *v)
{
	char	*s = cJSON_PrintUnformatted(v);

	cJSON_Delete(v);
	if (s == NULL)
		util_oom();
	return s;
}

char *
jv_canonical(const cJSON *v)
{
	return jv_take_text(jv_sorted(v));
}

int
jv_validate(const cJSON *obj, const struct jv_field *fields, size_t n,
    void *target, struct jv_error *err)
{
	const cJSON	*c, *d;
	size_t		 i;
	int		 rc;
	unsigned char	 seen[64];

	if (!cJSON_IsObject(obj)) {
		jv_seterr(err, "", "body must be a JSON object");
		return CB_ERR_VALIDATION;
	}
	if (n > sizeof(seen))
		return CB_ERR_INTERNAL;
	memset(seen, 0, sizeof(seen));
	for (c = obj->child; c != NULL; c = c->next) {
		for (d = obj->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0) {
				jv_seterr(err, c->string, "duplicate field");
				return CB_ERR_VALIDATION;
			}
		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, c->string) == 0)
				break;
		if (i == n) {
			jv_seterr(err, c->string, "unknown field");
			return CB_ERR_VALIDATION;
		}
		seen[i] = 1;
		if ((rc = jv_one(&fields[i], c, target, err)) != CB_OK)
			return rc;
	}
	for (i = 0; i < n; i++)
		if ((fields[i].flags & JV_REQUIRED) && !seen[i]) {
			jv_seterr(err, fields[i].name, "required field is missing");
			return CB_ERR_VALIDATION;
		}
	return CB_OK;
}

void
jv_pointer(char *ptr, size_t ptrsz, const char *base, const char *name)
{
	size_t	 n;

	if (ptrsz == 0)
		return;
	snprintf(ptr, ptrsz, "%s/", base);
	n = strlen(ptr);
	for (; name != NULL && *name != '\0' && n + 3 < ptrsz; name++) {
		if (*name == '~' || *name == '/') {
			ptr[n++] = '~';
			ptr[n++] = *name == '~' ? '0' : '1';
		} else
			ptr[n++] = *name;
	}
	ptr[n] = '\0';
}

static void
jv_wipe_strings(cJSON *v)
{
	cJSON	*e;

	cJSON_ArrayForEach(e, v) {
		if (cJSON_IsString(e) && e->valuestring != NULL)
			sodium_memzero(e->valuestring, strlen(e->valuestring));
		else if (cJSON_IsObject(e) || cJSON_IsArray(e))
			jv_wipe_strings(e);
	}
}

void
jv_wipe(cJSON *v)
{
	if (v == NULL)
		return;
	jv_wipe_strings(v);
	cJSON_Delete(v);
}
