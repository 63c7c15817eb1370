/*
 * test_jsonv: the boundary parser and the field-table validator.  jv_parse
 * refuses anything that is not exactly one JSON value in valid UTF-8 (no NUL
 * bytes, no \u0000, no overlong or surrogate sequences, bounded nesting);
 * jv_validate refuses unknown, duplicate, missing, mistyped and
 * out-of-bounds fields, always naming the field, and writes typed values at
 * their offsets on success.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "errs.h"
#include "jsonv.h"

static const struct {
	const char	*what;
	const char	*body;
	size_t		 len;
	int		 ok;
} parse_cases[] = {
	{ "empty object",		CU_LIT("{}"), 1 },
	{ "surrounding whitespace",	CU_LIT(" \t\r\n{\"a\":[1,2,{}]}\n "), 1 },
	{ "scalar",			CU_LIT("42"), 1 },
	{ "string",			CU_LIT("\"x\""), 1 },
	{ "two-byte UTF-8",		CU_LIT("{\"a\":\"caf\xc3\xa9\"}"), 1 },
	{ "three-byte UTF-8",		CU_LIT("{\"a\":\"\xe2\x82\xac \xef\xbf\xbd\"}"), 1 },
	{ "four-byte UTF-8",
	  CU_LIT("{\"a\":\"\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}"), 1 },
	{ "UTF-8 in a key",		CU_LIT("{\"\xc3\xa9t\xc3\xa9\":1}"), 1 },
	{ "escaped surrogate pair",	CU_LIT("\"\\ud83d\\ude00\""), 1 },
	{ "escaped control \\n",	CU_LIT("\"a\\nb\""), 1 },
	{ "empty body",			CU_LIT(""), 0 },
	{ "only whitespace",		CU_LIT("  \n"), 0 },
	{ "trailing garbage",		CU_LIT("{} x"), 0 },
	{ "two values",			CU_LIT("{}{}"), 0 },
	{ "trailing comma",		CU_LIT("[1,]"), 0 },
	{ "unterminated",		CU_LIT("{\"a\":1"), 0 },
	{ "NUL after the value",	CU_LIT("{}\0"), 0 },
	{ "NUL inside a string",	CU_LIT("{\"a\":\"x\0y\"}"), 0 },
	{ "NUL in the middle",		CU_LIT("{\0}"), 0 },
	{ "overlong 2-byte /",		CU_LIT("\"\xc0\xaf\""), 0 },
	{ "overlong 2-byte C1",		CU_LIT("\"\xc1\xbf\""), 0 },
	{ "overlong 3-byte",		CU_LIT("\"\xe0\x80\xaf\""), 0 },
	{ "overlong 4-byte",		CU_LIT("\"\xf0\x80\x80\xaf\""), 0 },
	{ "UTF-16 surrogate D800",	CU_LIT("\"\xed\xa0\x80\""), 0 },
	{ "UTF-16 surrogate DFFF",	CU_LIT("\"\xed\xbf\xbf\""), 0 },
	{ "past U+10FFFF",		CU_LIT("\"\xf4\x90\x80\x80\""), 0 },
	{ "F5 lead byte",		CU_LIT("\"\xf5\x80\x80\x80\""), 0 },
	{ "FF byte",			CU_LIT("\"\xff\""), 0 },
	{ "lone continuation",		CU_LIT("\"\x80\""), 0 },
	{ "truncated 2-byte",		CU_LIT("\"\xc3\""), 0 },
	{ "truncated 3-byte",		CU_LIT("\"\xe2\x82\""), 0 },
	{ "truncated 4-byte",		CU_LIT("\"\xf0\x9f\x98\""), 0 },
	{ "truncated at end of body",	CU_LIT("\"ab\xe2\x82"), 0 },
	{ "raw control byte",		CU_LIT("\"a\x01" "b\""), 0 },
	{ "escaped control \\u0001",	CU_LIT("\"\\u0001\""), 0 },
	{ "lone escaped surrogate",	CU_LIT("\"\\ud800\""), 0 },
	{ "lone escaped low surrogate",	CU_LIT("\"\\udc00\""), 0 },
	/*
	 * BUG: "\u0000" escapes are accepted.  cJSON decodes \u0000 to a NUL
	 * byte, and jv_strings_ok (lib/jsonv.c:86-88) checks only strlen() bytes
	 * of the decoded string, so it never sees the NUL it was written to
	 * refuse: "a\u0000b" is accepted and silently becomes "a" (in a key
	 * too, so {"nam\u0000e":1} is validated as field "nam").  Expected
	 * CB_ERR_BAD_JSON.
	 */
	{ "escaped NUL in a string",	CU_LIT("{\"a\":\"x\\u0000y\"}"), 0 },
	{ "escaped NUL alone",		CU_LIT("\"\\u0000\""), 0 },
	{ "escaped NUL in a key",	CU_LIT("{\"a\\u0000b\":1}"), 0 },
};

START_TEST(test_parse)
{
	cJSON		*v = (cJSON *)&v;	/* must be reset to NULL on failure */
	struct jv_error	 err;
	int		 rc;

	memset(&err, 0, sizeof(err));
	rc = jv_parse(parse_cases[_i].body, parse_cases[_i].len, &v, &err);
	if (parse_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "%s: refused (%s)", parse_cases[_i].what, err.reason);
		ck_assert_ptr_nonnull(v);
		cJSON_Delete(v);
	} else {
		ck_assert_msg(rc == CB_ERR_BAD_JSON, "%s: accepted", parse_cases[_i].what);
		ck_assert_ptr_null(v);
		ck_assert_msg(err.reason[0] != '\0', "%s: no reason", parse_cases[_i].what);
		cJSON_Delete(v);
	}
}
END_TEST

/* `n` nested arrays, the innermost holding `inner` (may be ""). */
static char *
nested(int n, const char *inner)
{
	size_t	 len = (size_t)n * 2 + strlen(inner) + 1;
	char	*s = malloc(len);
	int	 i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		s[i] = '[';
	memcpy(s + n, inner, strlen(inner));
	for (i = 0; i < n; i++)
		s[(size_t)n + strlen(inner) + (size_t)i] = ']';
	s[len - 1] = '\0';
	return s;
}

static const struct {
	int		 depth;
	const char	*inner;
	int		 ok;
} depth_cases[] = {
	{ 1, "1", 1 },
	{ 31, "1", 1 },
	{ 32, "1", 1 },
	{ 32, "", 1 },
	{ 33, "1", 0 },
	{ 100, "1", 0 },
	{ 2000, "", 0 },
	/*
	 * BUG: the depth check (jv_depth_ok, lib/jsonv.c:71) counts values,
	 * not containers: 33 nested arrays around a scalar are refused but
	 * 33 nested *empty* arrays (or objects) are accepted, so the "nesting
	 * at most 32" of jsonv.h holds only when the innermost container is
	 * non-empty.  Expected CB_ERR_BAD_JSON for depth 33 either way.
	 */
	{ 33, "", 0 },
};

START_TEST(test_depth)
{
	char		*body = nested(depth_cases[_i].depth, depth_cases[_i].inner);
	cJSON		*v = NULL;
	struct jv_error	 err;
	int		 rc;

	rc = jv_parse(body, strlen(body), &v, &err);
	ck_assert_msg((rc == CB_OK) == depth_cases[_i].ok, "depth %d around \"%s\": rc %d",
	    depth_cases[_i].depth, depth_cases[_i].inner, rc);
	cJSON_Delete(v);
	free(body);
}
END_TEST

START_TEST(test_depth_objects)
{
	char		 body[512];
	size_t		 o = 0;
	cJSON		*v = NULL;
	struct jv_error	 err;
	int		 i;

	/* 32 nested objects holding a number: accepted; 33: refused. */
	for (i = 0; i < 32; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "{\"a\":");
	o += (size_t)snprintf(body + o, sizeof(body) - o, "1");
	for (i = 0; i < 32; i++)
		body[o++] = '}';
	body[o] = '\0';
	ck_assert_int_eq(jv_parse(body, o, &v, &err), CB_OK);
	cJSON_Delete(v);
	o = 0;
	for (i = 0; i < 33; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "{\"a\":");
	o += (size_t)snprintf(body + o, sizeof(body) - o, "1");
	for (i = 0; i < 33; i++)
		body[o++] = '}';
	body[o] = '\0';
	ck_assert_int_eq(jv_parse(body, o, &v, &err), CB_ERR_BAD_JSON);
	ck_assert_ptr_null(v);
}
END_TEST

static const struct {
	const char	*s;
	size_t		 len;
	int		 ok;
} utf8_cases[] = {
	{ CU_LIT("plain\ttab\r\n"), 1 },
	{ CU_LIT(""), 1 },
	{ CU_LIT("\xc2\x80\xdf\xbf\xe0\xa0\x80\xf0\x90\x80\x80"), 1 },
	{ CU_LIT("\x7f"), 1 },
	{ CU_LIT("a\0b"), 0 },
	{ CU_LIT("\x1b[31m"), 0 },
	{ CU_LIT("\xc0\x80"), 0 },
	{ CU_LIT("\xed\xb0\x80"), 0 },
	{ CU_LIT("\xe2\x82"), 0 },
};

START_TEST(test_utf8_ok)
{
	ck_assert_int_eq(jv_utf8_ok(utf8_cases[_i].s, utf8_cases[_i].len), utf8_cases[_i].ok);
}
END_TEST

/* The validation table: one field of every type. */
struct targs {
	const char	*s;
	long long	 i;
	int		 b;
	double		 n;
	const cJSON	*o;
	const cJSON	*a;
	const cJSON	*x;
	const char	*ns;
	const char	*c;
	long long	 u;
};

static int
refuse_bad(const cJSON *v, const char **why)
{
	if (strcmp(v->valuestring, "bad") == 0) {
		*why = "must not be bad";
		return 1;
	}
	return 0;
}

#define T(f)	offsetof(struct targs, f)

static const struct jv_field tfields[] = {
	{ "s",	JV_STRING, JV_REQUIRED, 2, 5, T(s), NULL },
	{ "i",	JV_INT, 0, -10, 10, T(i), NULL },
	{ "b",	JV_BOOL, 0, 0, 0, T(b), NULL },
	{ "n",	JV_NUMBER, 0, -1, 1, T(n), NULL },
	{ "o",	JV_OBJECT, 0, 0, 2, T(o), NULL },
	{ "a",	JV_ARRAY, 0, 1, 3, T(a), NULL },
	{ "x",	JV_ANY, 0, 0, 0, T(x), NULL },
	{ "ns",	JV_STRING, JV_NULLABLE, 0, 0, T(ns), NULL },
	{ "c",	JV_STRING, 0, 0, 0, T(c), refuse_bad },
	{ "u",	JV_INT, 0, 0, 0, T(u), NULL },
};

static const struct {
	const char	*json;
	int		 ok;
	const char	*field;		/* the field the error names */
} val_cases[] = {
	{ "{\"s\":\"abc\"}", 1, NULL },
	{ "{\"s\":\"ab\"}", 1, NULL },
	{ "{\"s\":\"abcde\"}", 1, NULL },
	{ "{\"s\":\"\xc3\xa9\xc3\xa9\"}", 1, NULL },
	{ "{\"s\":\"abc\",\"i\":-10,\"n\":-1}", 1, NULL },
	{ "{\"s\":\"abc\",\"i\":10,\"n\":1}", 1, NULL },
	{ "{\"s\":\"abc\",\"i\":1.0}", 1, NULL },
	{ "{\"s\":\"abc\",\"ns\":null}", 1, NULL },
	{ "{\"s\":\"abc\",\"x\":\"str\"}", 1, NULL },
	{ "{\"s\":\"abc\",\"x\":[1]}", 1, NULL },
	{ "{\"s\":\"abc\",\"x\":false}", 1, NULL },
	{ "{\"s\":\"abc\",\"o\":{}}", 1, NULL },
	{ "{\"s\":\"abc\",\"c\":\"good\"}", 1, NULL },
	{ "{\"s\":\"abc\",\"u\":-9007199254740991}", 1, NULL },
	/* unknown, duplicate, missing */
	{ "{\"s\":\"abc\",\"zz\":1}", 0, "zz" },
	{ "{\"zz\":1,\"s\":\"abc\"}", 0, "zz" },
	{ "{\"S\":\"abc\"}", 0, "S" },
	{ "{\"s\":\"abc\",\"i\":1,\"i\":2}", 0, "i" },
	{ "{\"s\":\"abc\",\"s\":\"abc\"}", 0, "s" },
	{ "{}", 0, "s" },
	{ "{\"i\":1}", 0, "s" },
	/* wrong type for each jv_type */
	{ "{\"s\":1}", 0, "s" },
	{ "{\"s\":[\"abc\"]}", 0, "s" },
	{ "{\"s\":\"abc\",\"i\":\"1\"}", 0, "i" },
	{ "{\"s\":\"abc\",\"i\":true}", 0, "i" },
	{ "{\"s\":\"abc\",\"b\":1}", 0, "b" },
	{ "{\"s\":\"abc\",\"b\":\"true\"}", 0, "b" },
	{ "{\"s\":\"abc\",\"n\":\"0.5\"}", 0, "n" },
	{ "{\"s\":\"abc\",\"o\":[]}", 0, "o" },
	{ "{\"s\":\"abc\",\"a\":{}}", 0, "a" },
	{ "{\"s\":\"abc\",\"a\":\"[1]\"}", 0, "a" },
	/* string length in bytes */
	{ "{\"s\":\"a\"}", 0, "s" },
	{ "{\"s\":\"\"}", 0, "s" },
	{ "{\"s\":\"abcdef\"}", 0, "s" },
	{ "{\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", 0, "s" },
	/* integer bounds and integrality */
	{ "{\"s\":\"abc\",\"i\":11}", 0, "i" },
	{ "{\"s\":\"abc\",\"i\":-11}", 0, "i" },
	{ "{\"s\":\"abc\",\"i\":1e2}", 0, "i" },
	{ "{\"s\":\"abc\",\"i\":1.5}", 0, "i" },
	{ "{\"s\":\"abc\",\"i\":0.1}", 0, "i" },
	{ "{\"s\":\"abc\",\"u\":9007199254740993}", 0, "u" },
	{ "{\"s\":\"abc\",\"u\":1e300}", 0, "u" },
	/* number bounds */
	{ "{\"s\":\"abc\",\"n\":1.5}", 0, "n" },
	{ "{\"s\":\"abc\",\"n\":-1.01}", 0, "n" },
	/* container sizes */
	{ "{\"s\":\"abc\",\"o\":{\"a\":1,\"b\":2,\"c\":3}}", 0, "o" },
	{ "{\"s\":\"abc\",\"a\":[]}", 0, "a" },
	{ "{\"s\":\"abc\",\"a\":[1,2,3,4]}", 0, "a" },
	/* null */
	{ "{\"s\":null}", 0, "s" },
	{ "{\"s\":\"abc\",\"i\":null}", 0, "i" },
	{ "{\"s\":\"abc\",\"x\":null}", 0, "x" },
	/* check callback */
	{ "{\"s\":\"abc\",\"c\":\"bad\"}", 0, "c" },
	/* not an object */
	{ "[]", 0, "" },
	{ "\"s\"", 0, "" },
	{ "null", 0, "" },
};

START_TEST(test_validate)
{
	cJSON		*v = NULL;
	struct jv_error	 err;
	struct targs	 t;
	int		 rc;

	memset(&t, 0, sizeof(t));
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(jv_parse(val_cases[_i].json, strlen(val_cases[_i].json), &v, &err),
	    CB_OK);
	rc = jv_validate(v, tfields, CU_NELEM(tfields), &t, &err);
	if (val_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "%s: refused: %s: %s", val_cases[_i].json,
		    err.field, err.reason);
	} else {
		ck_assert_msg(rc == CB_ERR_VALIDATION, "%s: rc %d", val_cases[_i].json, rc);
		ck_assert_msg(strcmp(err.field, val_cases[_i].field) == 0,
		    "%s: error names \"%s\" (%s), want \"%s\"", val_cases[_i].json,
		    err.field, err.reason, val_cases[_i].field);
		ck_assert_msg(err.reason[0] != '\0', "%s: no reason", val_cases[_i].json);
	}
	cJSON_Delete(v);
}
END_TEST

START_TEST(test_validate_values)
{
	static const char body[] =
	    "{\"s\":\"h\xc3\xa9ll\",\"i\":-7,\"b\":true,\"n\":0.25,"
	    "\"o\":{\"k\":\"v\"},\"a\":[1,2],\"x\":{\"any\":[null]},\"c\":\"fine\","
	    "\"u\":123456789012}";
	cJSON		*v = NULL;
	struct jv_error	 err;
	struct targs	 t;

	memset(&t, 0, sizeof(t));
	t.ns = "untouched";
	ck_assert_int_eq(jv_parse(body, sizeof(body) - 1, &v, &err), CB_OK);
	ck_assert_int_eq(jv_validate(v, tfields, CU_NELEM(tfields), &t, &err), CB_OK);
	ck_assert_str_eq(t.s, "h\xc3\xa9ll");
	ck_assert_int_eq(t.i, -7);
	ck_assert_int_eq(t.b, 1);
	ck_assert(t.n == 0.25);
	ck_assert(cJSON_IsObject(t.o));
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(t.o, "k")->valuestring, "v");
	ck_assert(cJSON_IsArray(t.a));
	ck_assert_int_eq(cJSON_GetArraySize(t.a), 2);
	ck_assert(cJSON_IsObject(t.x));
	ck_assert_str_eq(t.c, "fine");
	ck_assert_int_eq(t.u, 123456789012LL);
	/* Absent optional fields stay as initialised. */
	ck_assert_str_eq(t.ns, "untouched");
	/* Values point into the tree. */
	ck_assert_ptr_eq(t.s, cJSON_GetObjectItemCaseSensitive(v, "s")->valuestring);
	cJSON_Delete(v);
}
END_TEST

START_TEST(test_validate_nullable_keeps_initial)
{
	cJSON		*v = NULL;
	struct jv_error	 err;
	struct targs	 t;

	memset(&t, 0, sizeof(t));
	t.ns = "initial";
	t.b = 7;
	ck_assert_int_eq(jv_parse(CU_LIT("{\"s\":\"abc\",\"ns\":null,\"b\":false}"), &v, &err),
	    CB_OK);
	ck_assert_int_eq(jv_validate(v, tfields, CU_NELEM(tfields), &t, &err), CB_OK);
	ck_assert_str_eq(t.ns, "initial");
	ck_assert_int_eq(t.b, 0);
	cJSON_Delete(v);
}
END_TEST

START_TEST(test_validate_check_reason)
{
	cJSON		*v = NULL;
	struct jv_error	 err;
	struct targs	 t;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(jv_parse(CU_LIT("{\"s\":\"abc\",\"c\":\"bad\"}"), &v, &err), CB_OK);
	ck_assert_int_eq(jv_validate(v, tfields, CU_NELEM(tfields), &t, &err),
	    CB_ERR_VALIDATION);
	ck_assert_str_eq(err.field, "c");
	ck_assert_str_eq(err.reason, "must not be bad");
	cJSON_Delete(v);
}
END_TEST

/* A string's one_of and text_ok: what passes, and the reason given when it does not. */
static int
starts_x(const char *s)
{
	return s[0] == 'x';
}

struct two {
	const char	*a, *b;
};

START_TEST(test_validate_one_of_text_ok)
{
	static const char *const colours[] = { "red", "green", NULL };
	static const struct jv_field f[] = {
		{ "c", JV_STRING, 0, 1, 16, offsetof(struct two, a), NULL,
		  .one_of = colours, .why = "must be red or green" },
		{ "x", JV_STRING, 0, 1, 16, offsetof(struct two, b), NULL,
		  .text_ok = starts_x, .why = "must start with x" },
		{ "n", JV_STRING, 0, 1, 16, offsetof(struct two, b), NULL, .text_ok = starts_x },
	};
	static const struct {
		const char	*body, *field, *reason;
	} cases[] = {
		{ "{\"c\":\"red\",\"x\":\"xy\"}", NULL, NULL },
		{ "{\"c\":\"green\"}", NULL, NULL },
		{ "{\"c\":\"blue\"}", "c", "must be red or green" },
		{ "{\"c\":\"reddish\"}", "c", "must be red or green" },
		{ "{\"x\":\"yx\"}", "x", "must start with x" },
		{ "{\"n\":\"no\"}", "n", "is invalid" },
		{ "{\"c\":7}", "c", NULL },
	};
	struct two	 t;
	struct jv_error	 err;
	cJSON		*v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < CU_NELEM(cases); i++) {
		memset(&t, 0, sizeof(t));
		ck_assert_int_eq(jv_parse(cases[i].body, strlen(cases[i].body), &v, &err), CB_OK);
		rc = jv_validate(v, f, CU_NELEM(f), &t, &err);
		if (cases[i].field == NULL) {
			ck_assert_msg(rc == CB_OK, "%s: %s", cases[i].body, err.reason);
		} else {
			ck_assert_msg(rc == CB_ERR_VALIDATION, "%s accepted", cases[i].body);
			ck_assert_str_eq(err.field, cases[i].field);
			if (cases[i].reason)
				ck_assert_str_eq(err.reason, cases[i].reason);
		}
		cJSON_Delete(v);
	}
}
END_TEST

START_TEST(test_validate_string_cap)
{
	static const struct jv_field f[] = {
		{ "s", JV_STRING, 0, 0, 0, 0, NULL },
	};
	cJSON		*v;
	struct jv_error	 err;
	const char	*out = NULL;
	char		*big;

	/* Unbounded strings are still capped at 64 KiB. */
	big = malloc(70001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 70000);
	big[70000] = '\0';
	v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "s", big);
	ck_assert_int_eq(jv_validate(v, f, 1, &out, &err), CB_ERR_VALIDATION);
	ck_assert_str_eq(err.field, "s");
	big[65536] = '\0';
	cJSON_ReplaceItemInObject(v, "s", cJSON_CreateString(big));
	ck_assert_int_eq(jv_validate(v, f, 1, &out, &err), CB_OK);
	ck_assert_uint_eq(strlen(out), 65536);
	cJSON_Delete(v);
	free(big);
}
END_TEST

/* JV_UUID: any case in, the lowercase spelling out; anything else refused. */
START_TEST(test_validate_uuid)
{
	static const struct jv_field f[] = {
		{ "id", JV_UUID, JV_REQUIRED, 0, 0, 0, NULL },
	};
	static const char *const bad[] = {
		"{\"id\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0fabcdef1\"}",
		"{\"id\":\"0a1b2c3d4e5f4a6b8c7d9e0fabcdef12\"}",
		"{\"id\":\"{0a1b2c3d-4e5f-4a6b-8c7d-9e0fabcdef12}\"}",
		"{\"id\":\"0g1b2c3d-4e5f-4a6b-8c7d-9e0fabcdef12\"}",
		"{\"id\":42}",
	};
	const char	*body = "{\"id\":\"0A1B2C3D-4E5F-4A6B-8C7D-9E0FABCDEF12\"}", *out = NULL;
	struct jv_error	 err;
	cJSON		*v;
	size_t		 i;

	ck_assert_int_eq(jv_parse(body, strlen(body), &v, &err), CB_OK);
	ck_assert_int_eq(jv_validate(v, f, 1, &out, &err), CB_OK);
	ck_assert_str_eq(out, "0a1b2c3d-4e5f-4a6b-8c7d-9e0fabcdef12");
	cJSON_Delete(v);
	for (i = 0; i < CU_NELEM(bad); i++) {
		ck_assert_int_eq(jv_parse(bad[i], strlen(bad[i]), &v, &err), CB_OK);
		ck_assert_int_eq(jv_validate(v, f, 1, &out, &err), CB_ERR_VALIDATION);
		ck_assert_str_eq(err.field, "id");
		cJSON_Delete(v);
	}
}
END_TEST

static const struct {
	const char	*a, *b;
	int		 same;
} canon_cases[] = {
	{ "{\"b\":1,\"a\":[2,{\"y\":true,\"x\":null}]}",
	  "{ \"a\" : [ 2 , { \"x\":null, \"y\":true } ] , \"b\" : 1.0 }", 1 },
	{ "{\"a\":\"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}", 1 },
	{ "{\"a\":[1,2]}", "{\"a\":[2,1]}", 0 },
	{ "{\"a\":\"1\"}", "{\"a\":1}", 0 },
	{ "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":1,\"c\":1}}", 0 },
};

/* Member order and spacing do not change the canonical text; values do. */
START_TEST(test_canonical)
{
	struct jv_error	 err;
	cJSON		*a, *b;
	char		*ta, *tb;

	ck_assert_int_eq(jv_parse(canon_cases[_i].a, strlen(canon_cases[_i].a), &a, &err), CB_OK);
	ck_assert_int_eq(jv_parse(canon_cases[_i].b, strlen(canon_cases[_i].b), &b, &err), CB_OK);
	ta = jv_canonical(a);
	tb = jv_canonical(b);
	ck_assert_msg((strcmp(ta, tb) == 0) == canon_cases[_i].same, "%s vs %s", ta, tb);
	free(ta);
	free(tb);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

static Suite *
jsonv_suite(void)
{
	Suite	*s = suite_create("jsonv");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0, (int)CU_NELEM(parse_cases));
	tcase_add_loop_test(tc, test_depth, 0, (int)CU_NELEM(depth_cases));
	tcase_add_test(tc, test_depth_objects);
	tcase_add_loop_test(tc, test_utf8_ok, 0, (int)CU_NELEM(utf8_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_validate, 0, (int)CU_NELEM(val_cases));
	tcase_add_test(tc, test_validate_values);
	tcase_add_test(tc, test_validate_nullable_keeps_initial);
	tcase_add_test(tc, test_validate_check_reason);
	tcase_add_test(tc, test_validate_one_of_text_ok);
	tcase_add_test(tc, test_validate_string_cap);
	tcase_add_test(tc, test_validate_uuid);
	tcase_add_loop_test(tc, test_canonical, 0, (int)CU_NELEM(canon_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(jsonv_suite());
}
