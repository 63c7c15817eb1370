/*
 * test_buf: the capped buffer.  Growth across many reallocations keeps the
 * contents intact and NUL terminated; the cap is exact (max bytes fit, one
 * more fails with CB_ERR_TOO_LARGE) and a refused append of any kind leaves
 * the buffer byte for byte as it was; JSON string escaping covers every
 * byte that must be escaped.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "../support/check_util.h"
#include "errs.h"

START_TEST(test_init_empty)
{
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_uint_eq(b.max, BUF_DEFAULT_MAX);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(buf_cstr(&b), "");
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	buf_init(&b, 10);
	ck_assert_uint_eq(b.max, 10);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_growth)
{
	struct buf	 b;
	char		 expect[5000];
	size_t		 i;

	buf_init(&b, 0);
	for (i = 0; i < sizeof(expect) - 1; i++) {
		expect[i] = (char)('a' + i % 26);
		ck_assert_int_eq(buf_putc(&b, expect[i]), CB_OK);
	}
	expect[sizeof(expect) - 1] = '\0';
	ck_assert_uint_eq(b.len, sizeof(expect) - 1);
	ck_assert_uint_ge(b.cap, b.len + 1);
	ck_assert_str_eq(buf_cstr(&b), expect);
	ck_assert_int_eq(buf_append(&b, "\0z", 2), CB_OK);
	ck_assert_uint_eq(b.len, sizeof(expect) + 1);
	ck_assert_int_eq(b.data[b.len - 2], '\0');
	ck_assert_int_eq(b.data[b.len - 1], 'z');
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_int_eq(buf_append(&b, NULL, 0), CB_OK);
	ck_assert_uint_eq(b.len, sizeof(expect) + 1);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_growth)
{
	struct buf	 b;
	char		 big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "%d-%s", 42, "abc"), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "42-abc");
	ck_assert_int_eq(buf_printf(&b, "[%s]", big), CB_OK);
	ck_assert_uint_eq(b.len, 6 + 2 + sizeof(big) - 1);
	ck_assert_int_eq(memcmp(b.data, "42-abc[xxx", 10), 0);
	ck_assert_int_eq(b.data[b.len - 1], ']');
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_int_eq(buf_puts(&b, "!"), CB_OK);
	ck_assert_int_eq(b.data[b.len - 1], '!');
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(buf_cstr(&b), "");
	buf_free(&b);
}
END_TEST

START_TEST(test_cap_exact)
{
	struct buf	 b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "0123456789", 10), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "0123456789");
	ck_assert_int_eq(buf_putc(&b, 'x'), CB_ERR_TOO_LARGE);
	ck_assert_int_eq(buf_puts(&b, "x"), CB_ERR_TOO_LARGE);
	ck_assert_int_eq(buf_printf(&b, "%d", 1), CB_ERR_TOO_LARGE);
	ck_assert_int_eq(buf_json_str(&b, ""), CB_ERR_TOO_LARGE);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(buf_cstr(&b), "0123456789");
	/* An empty append still fits a full buffer. */
	ck_assert_int_eq(buf_append(&b, "", 0), CB_OK);
	buf_free(&b);
}
END_TEST

/* Each refused append, from a buffer holding "abc" with a cap of 8. */
static const struct {
	const char	*what;
	int		 kind;	/* 0 append, 1 printf, 2 json, 3 huge length */
	const char	*arg;
} cap_cases[] = {
	{ "append 6 bytes",		0, "defghi" },
	{ "printf 6 bytes",		1, "defghi" },
	{ "json that grows past cap",	2, "defg" },
	{ "json escapes past cap",	2, "\x01" },
	{ "SIZE_MAX length",		3, "" },
};

START_TEST(test_cap_leaves_unchanged)
{
	struct buf	 b;
	size_t		 cap_before;
	int		 rc = CB_OK;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "abc"), CB_OK);
	cap_before = b.cap;
	switch (cap_cases[_i].kind) {
	case 0: rc = buf_puts(&b, cap_cases[_i].arg); break;
	case 1: rc = buf_printf(&b, "%s", cap_cases[_i].arg); break;
	case 2: rc = buf_json_str(&b, cap_cases[_i].arg); break;
	case 3: rc = buf_append(&b, "x", SIZE_MAX); break;
	}
	ck_assert_msg(rc == CB_ERR_TOO_LARGE, "%s: rc %d", cap_cases[_i].what, rc);
	ck_assert_msg(b.len == 3 && strcmp(b.data, "abc") == 0,
	    "%s: buffer changed to \"%s\" (len %zu)", cap_cases[_i].what, b.data, b.len);
	ck_assert_uint_le(b.cap, b.max + 1);
	ck_assert_uint_ge(b.cap, cap_before);
	/* Still usable after the refusal. */
	ck_assert_int_eq(buf_puts(&b, "de"), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "abcde");
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*in;
	size_t		 len;
	const char	*out;
} json_cases[] = {
	{ CU_LIT(""),			"\"\"" },
	{ CU_LIT("plain"),		"\"plain\"" },
	{ CU_LIT("a\"b"),		"\"a\\\"b\"" },
	{ CU_LIT("back\\slash"),	"\"back\\\\slash\"" },
	{ CU_LIT("\n\r\t"),		"\"\\n\\r\\t\"" },
	{ CU_LIT("\x01\x1f"),		"\"\\u0001\\u001f\"" },
	{ CU_LIT("\b\f"),		"\"\\u0008\\u000c\"" },
	{ CU_LIT("del\x7f"),		"\"del\\u007f\"" },
	{ CU_LIT("nul\0x"),		"\"nul\\u0000x\"" },
	{ CU_LIT("/ slash"),		"\"/ slash\"" },
	{ CU_LIT("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"" },
	{ CU_LIT("</script>"),		"\"</script>\"" },
};

START_TEST(test_json_escape)
{
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_puts(&b, "x="), CB_OK);
	ck_assert_int_eq(buf_json_strn(&b, json_cases[_i].in, json_cases[_i].len), CB_OK);
	ck_assert_str_eq(buf_cstr(&b) + 2, json_cases[_i].out);
	/* Without an embedded NUL, the C-string form says the same. */
	if (strlen(json_cases[_i].in) == json_cases[_i].len) {
		buf_reset(&b);
		ck_assert_int_eq(buf_json_str(&b, json_cases[_i].in), CB_OK);
		ck_assert_str_eq(buf_cstr(&b), json_cases[_i].out);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_json_roundtrip_all_bytes)
{
	struct buf	 b;
	char		 in[128];
	cJSON		*v;
	size_t		 i;

	/* Every ASCII byte but NUL must survive an escape and a parse. */
	for (i = 1; i < sizeof(in); i++)
		in[i - 1] = (char)i;
	in[sizeof(in) - 1] = '\0';
	buf_init(&b, 0);
	ck_assert_int_eq(buf_json_str(&b, in), CB_OK);
	for (i = 0; i < b.len; i++)
		ck_assert_msg((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f,
		    "raw control byte 0x%02x in output", (unsigned char)b.data[i]);
	v = cJSON_Parse(buf_cstr(&b));
	ck_assert_ptr_nonnull(v);
	ck_assert(cJSON_IsString(v));
	ck_assert_str_eq(v->valuestring, in);
	cJSON_Delete(v);
	buf_free(&b);
}
END_TEST

START_TEST(test_json_null_is_empty)
{
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_json_str(&b, NULL), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "\"\"");
	buf_free(&b);
}
END_TEST

START_TEST(test_wipe)
{
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_puts(&b, "secret"), CB_OK);
	buf_wipe(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* Reusable after a wipe. */
	ck_assert_int_eq(buf_puts(&b, "again"), CB_OK);
	ck_assert_str_eq(buf_cstr(&b), "again");
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc;

	tc = tcase_create("grow");
	tcase_add_test(tc, test_init_empty);
	tcase_add_test(tc, test_append_growth);
	tcase_add_test(tc, test_printf_growth);
	tcase_add_test(tc, test_wipe);
	suite_add_tcase(s, tc);

	tc = tcase_create("cap");
	tcase_add_test(tc, test_cap_exact);
	tcase_add_loop_test(tc, test_cap_leaves_unchanged, 0, (int)CU_NELEM(cap_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_loop_test(tc, test_json_escape, 0, (int)CU_NELEM(json_cases));
	tcase_add_test(tc, test_json_roundtrip_all_bytes);
	tcase_add_test(tc, test_json_null_is_empty);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(buf_suite());
}
