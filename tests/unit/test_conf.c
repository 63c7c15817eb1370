/*
 * test_conf: the declarative configuration loader, on a small table of its
 * own (required and optional strings, an int with bounds, a bool, secrets)
 * and on the project's settings table.  The environment is set per test
 * (each test runs in its own forked process), files are made with mkstemp.
 * A failed load names the variable and never prints a secret's value.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "../support/check_util.h"
#include "conf.h"
#include "errs.h"
#include "settings.h"
#include "util.h"

struct tconf {
	char		*name;
	char		*opt;
	long long	 port;
	int		 debug;
	char		*secret;
	long long	 pin;
};

#define O(f)	offsetof(struct tconf, f)

static const struct conf_var tvars[] = {
	{ "CBUT_NAME", CONF_STR, CONF_REQUIRED, NULL, 1, 16, O(name), "the instance name" },
	{ "CBUT_OPT", CONF_STR, 0, "dflt", 0, 0, O(opt), "an optional string" },
	{ "CBUT_PORT", CONF_INT, 0, "8080", 1, 65535, O(port), "a port" },
	{ "CBUT_DEBUG", CONF_BOOL, 0, "false", 0, 0, O(debug), "debug switch" },
	{ "CBUT_SECRET", CONF_STR, CONF_SECRET, NULL, 0, 16, O(secret), "a password" },
	{ "CBUT_PIN", CONF_INT, CONF_SECRET, "4321", 0, 9999, O(pin), "a secret number" },
};

#define NTVARS	CU_NELEM(tvars)

static void
clean_env(void)
{
	size_t	 i;

	for (i = 0; i < NTVARS; i++)
		unsetenv(tvars[i].name);
	unsetenv("CB_CONFIG_FILE");
}

static int
load(struct tconf *t, const char *file, char *err, size_t errsz)
{
	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	return conf_load(tvars, NTVARS, t, file, err, errsz);
}

START_TEST(test_defaults)
{
	struct tconf	 t;
	char		 err[256];

	setenv("CBUT_NAME", "alpha", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.name, "alpha");
	ck_assert_str_eq(t.opt, "dflt");
	ck_assert_int_eq(t.port, 8080);
	ck_assert_int_eq(t.debug, 0);
	ck_assert_ptr_null(t.secret);
	ck_assert_int_eq(t.pin, 4321);
	conf_free(tvars, NTVARS, &t);
	ck_assert_ptr_null(t.name);
	ck_assert_ptr_null(t.opt);
}
END_TEST

START_TEST(test_empty_env_means_default)
{
	struct tconf	 t;
	char		 err[256];

	setenv("CBUT_NAME", "alpha", 1);
	setenv("CBUT_PORT", "", 1);
	setenv("CBUT_OPT", "", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_OK);
	ck_assert_int_eq(t.port, 8080);
	ck_assert_str_eq(t.opt, "dflt");
	conf_free(tvars, NTVARS, &t);
}
END_TEST

START_TEST(test_missing_required)
{
	struct tconf	 t;
	char		 err[256];

	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CBUT_NAME") != NULL, "err: %s", err);
	ck_assert_ptr_null(t.opt);
	/* An empty value is no value. */
	setenv("CBUT_NAME", "", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CBUT_NAME") != NULL, "err: %s", err);
}
END_TEST

static const struct {
	const char	*v;
	int		 ok;
	long long	 want;
} port_cases[] = {
	{ "1", 1, 1 }, { "65535", 1, 65535 }, { "443", 1, 443 },
	{ "0", 0, 0 }, { "65536", 0, 0 }, { "-1", 0, 0 }, { "80x", 0, 0 },
	{ "eighty", 0, 0 }, { " 80", 0, 0 }, { "+80", 0, 0 }, { "1e3", 0, 0 },
};

START_TEST(test_int_bounds)
{
	struct tconf	 t;
	char		 err[256];
	int		 rc;

	setenv("CBUT_NAME", "alpha", 1);
	setenv("CBUT_PORT", port_cases[_i].v, 1);
	rc = load(&t, NULL, err, sizeof(err));
	if (port_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "\"%s\": %s", port_cases[_i].v, err);
		ck_assert_int_eq(t.port, port_cases[_i].want);
		conf_free(tvars, NTVARS, &t);
	} else {
		ck_assert_msg(rc == CB_ERR_CONFIG, "\"%s\" accepted", port_cases[_i].v);
		ck_assert_msg(strstr(err, "CBUT_PORT") != NULL, "err: %s", err);
		/* Not a secret: the offending value is shown to help the operator. */
		ck_assert_msg(strstr(err, port_cases[_i].v) != NULL, "err: %s", err);
		/* A failed load leaves nothing allocated behind. */
		ck_assert_ptr_null(t.name);
	}
}
END_TEST

static const struct {
	const char	*v;
	int		 ok;
	int		 want;
} bool_cases[] = {
	{ "true", 1, 1 }, { "false", 1, 0 }, { "1", 1, 1 }, { "0", 1, 0 },
	{ "yes", 1, 1 }, { "no", 1, 0 }, { "on", 1, 1 }, { "off", 1, 0 },
	{ "TRUE", 1, 1 }, { "Off", 1, 0 },
	{ "2", 0, 0 }, { "maybe", 0, 0 }, { "tru", 0, 0 }, { "truee", 0, 0 },
	{ "y", 0, 0 }, { "-1", 0, 0 },
};

START_TEST(test_bool)
{
	struct tconf	 t;
	char		 err[256];
	int		 rc;

	setenv("CBUT_NAME", "alpha", 1);
	setenv("CBUT_DEBUG", bool_cases[_i].v, 1);
	rc = load(&t, NULL, err, sizeof(err));
	if (bool_cases[_i].ok) {
		ck_assert_msg(rc == CB_OK, "\"%s\": %s", bool_cases[_i].v, err);
		ck_assert_int_eq(t.debug, bool_cases[_i].want);
		conf_free(tvars, NTVARS, &t);
	} else {
		ck_assert_msg(rc == CB_ERR_CONFIG, "\"%s\" accepted", bool_cases[_i].v);
		ck_assert_msg(strstr(err, "CBUT_DEBUG") != NULL, "err: %s", err);
	}
}
END_TEST

START_TEST(test_string_length)
{
	struct tconf	 t;
	char		 err[256];

	setenv("CBUT_NAME", "0123456789abcdef", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.name, "0123456789abcdef");
	conf_free(tvars, NTVARS, &t);
	setenv("CBUT_NAME", "0123456789abcdefg", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CBUT_NAME") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_file_syntax)
{
	struct tconf	 t;
	char		 err[256], path[64];

	cu_tmpfile(
	    "# a comment line\n"
	    "\n"
	    "   \n"
	    "  # indented comment\n"
	    "CBUT_NAME = \"quoted name\"\n"
	    "CBUT_OPT='single'\n"
	    "\tCBUT_PORT=9090   \n"
	    "CBUT_DEBUG=yes\n"
	    "CBUT_SECRET=\"\"\n", path, sizeof(path));
	ck_assert_int_eq(load(&t, path, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.name, "quoted name");
	ck_assert_str_eq(t.opt, "single");
	ck_assert_int_eq(t.port, 9090);
	ck_assert_int_eq(t.debug, 1);
	/* An empty value falls back to the default (none here). */
	ck_assert_ptr_null(t.secret);
	conf_free(tvars, NTVARS, &t);
	unlink(path);
}
END_TEST

START_TEST(test_env_overrides_file)
{
	struct tconf	 t;
	char		 err[256], path[64];

	cu_tmpfile("CBUT_NAME=fromfile\nCBUT_PORT=1111\n", path, sizeof(path));
	setenv("CBUT_PORT", "2222", 1);
	ck_assert_int_eq(load(&t, path, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.name, "fromfile");
	ck_assert_int_eq(t.port, 2222);
	conf_free(tvars, NTVARS, &t);
	unlink(path);
}
END_TEST

START_TEST(test_config_file_variable)
{
	struct tconf	 t;
	char		 err[256], path[64];

	cu_tmpfile("CBUT_NAME=viaenv\n", path, sizeof(path));
	setenv("CB_CONFIG_FILE", path, 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.name, "viaenv");
	conf_free(tvars, NTVARS, &t);
	unlink(path);
}
END_TEST

static const struct {
	const char	*content;
	const char	*must;		/* the error names this */
} bad_files[] = {
	{ "CBUT_NAME=x\nCBUT_TYPO=1\n",	"CBUT_TYPO" },
	{ "CBUT_NAME=x\nnot a setting\n", ":2:" },
	{ "CBUT_NAME=x\nCBUT_PORT=99999\n", "CBUT_PORT" },
	{ "CBUT_NAME=x\nCBUT_DEBUG=perhaps\n", "CBUT_DEBUG" },
	{ "cbut_name=x\n", "cbut_name" },
};

START_TEST(test_bad_file)
{
	struct tconf	 t;
	char		 err[256], path[64];

	cu_tmpfile(bad_files[_i].content, path, sizeof(path));
	ck_assert_int_eq(load(&t, path, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, bad_files[_i].must) != NULL, "err \"%s\" lacks \"%s\"",
	    err, bad_files[_i].must);
	ck_assert_ptr_null(t.name);
	unlink(path);
}
END_TEST

START_TEST(test_missing_file)
{
	struct tconf	 t;
	char		 err[256];

	setenv("CBUT_NAME", "alpha", 1);
	ck_assert_int_eq(load(&t, "/nonexistent/cb-unit.conf", err, sizeof(err)),
	    CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cb-unit.conf"));
}
END_TEST

START_TEST(test_long_line)
{
	struct tconf	 t;
	char		 err[256], path[64], *content;

	content = malloc(6000);
	ck_assert_ptr_nonnull(content);
	memcpy(content, "CBUT_OPT=", 9);
	memset(content + 9, 'v', 5000);
	memcpy(content + 5009, "\n", 2);
	cu_tmpfile(content, path, sizeof(path));
	setenv("CBUT_NAME", "alpha", 1);
	ck_assert_int_eq(load(&t, path, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_ptr_null(strstr(err, "vvvv"));
	free(content);
	unlink(path);
}
END_TEST

/* Secret values that must never reach an error message. */
static const struct {
	const char	*name;
	const char	*value;
	int		 in_file;
} secret_cases[] = {
	{ "CBUT_SECRET", "hunter2-is-far-too-long-to-fit", 0 },
	{ "CBUT_SECRET", "hunter2-is-far-too-long-to-fit", 1 },
	{ "CBUT_PIN", "hunter2", 0 },
	{ "CBUT_PIN", "hunter2", 1 },
	{ "CBUT_PIN", "123456", 0 },
};

START_TEST(test_secret_not_in_error)
{
	struct tconf	 t;
	char		 err[512], path[64], content[256];

	setenv("CBUT_NAME", "alpha", 1);
	if (secret_cases[_i].in_file) {
		snprintf(content, sizeof(content), "%s=%s\n", secret_cases[_i].name,
		    secret_cases[_i].value);
		cu_tmpfile(content, path, sizeof(path));
		ck_assert_int_eq(load(&t, path, err, sizeof(err)), CB_ERR_CONFIG);
		unlink(path);
	} else {
		setenv(secret_cases[_i].name, secret_cases[_i].value, 1);
		ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_ERR_CONFIG);
	}
	ck_assert_msg(strstr(err, secret_cases[_i].name) != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, "hunter2") == NULL && strstr(err, "123456") == NULL,
	    "secret value in error: %s", err);
}
END_TEST

START_TEST(test_secret_loaded)
{
	struct tconf	 t;
	char		 err[256];

	setenv("CBUT_NAME", "alpha", 1);
	setenv("CBUT_SECRET", "pa ss=word", 1);
	setenv("CBUT_PIN", "0007", 1);
	ck_assert_int_eq(load(&t, NULL, err, sizeof(err)), CB_OK);
	ck_assert_str_eq(t.secret, "pa ss=word");
	ck_assert_int_eq(t.pin, 7);
	conf_free(tvars, NTVARS, &t);
	ck_assert_ptr_null(t.secret);
}
END_TEST

START_TEST(test_describe)
{
	char	*out;

	cu_stderr_begin();
	conf_describe(tvars, NTVARS, 2);
	out = cu_stderr_end();
	ck_assert_ptr_nonnull(strstr(out, "CBUT_NAME"));
	ck_assert_ptr_nonnull(strstr(out, "required"));
	ck_assert_ptr_nonnull(strstr(out, "the instance name"));
	ck_assert_ptr_nonnull(strstr(out, "default=8080"));
	ck_assert_ptr_nonnull(strstr(out, "(secret)"));
	/* The secret's default is not printed. */
	ck_assert_ptr_null(strstr(out, "4321"));
	free(out);
}
END_TEST

#define BLIND_HEX	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
static char	 blind_path[64];
static int	 blind_path_unlink;

/* Give every required setting of the project's table a valid value. */
static void
settings_required_env(void)
{
	char		 val[5000];
	size_t		 i, n;

	for (i = 0; i < settings_nvars; i++) {
		const struct conf_var *v = &settings_vars[i];

		if (!(v->flags & CONF_REQUIRED))
			continue;
		switch (v->type) {
		case CONF_STR:
			n = v->min > 0 ? (size_t)v->min : 1;
			ck_assert_uint_lt(n, sizeof(val));
			memset(val, 'k', n);
			val[n] = '\0';
			break;
		case CONF_INT:
			snprintf(val, sizeof(val), "%lld", v->min);
			break;
		case CONF_BOOL:
			snprintf(val, sizeof(val), "true");
			break;
		}
		setenv(v->name, val, 1);
	}
}

START_TEST(test_settings_table)
{
	struct settings	 s;
	char		 err[512];
	size_t		 i;

	for (i = 0; i < settings_nvars; i++)
		unsetenv(settings_vars[i].name);
	ck_assert_int_eq(settings_load(&s, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CB_PG_DSN") != NULL, "err: %s", err);
	/* With only the required settings given, every default must be valid. */
	settings_required_env();
	/* The blind index key file must exist and hold a key: it is read at load. */
	ck_assert_int_eq(settings_load(&s, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CB_BLIND_INDEX_KEY_FILE") != NULL, "err: %s", err);
	{
		char	 path[] = "/tmp/cb-blindkey-XXXXXX";
		int	 fd = mkstemp(path);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, BLIND_HEX "\n", 65), 65);
		close(fd);
		setenv("CB_BLIND_INDEX_KEY_FILE", path, 1);
		ck_assert_msg(settings_load(&s, err, sizeof(err)) == CB_OK, "err: %s", err);
		ck_assert_str_eq(s.blind_index_key, BLIND_HEX);
		ck_assert_str_eq(s.blind_index_key_previous, "");
		settings_free(&s);
		/* The previous key of a rotation, when named: read the same way. */
		setenv("CB_BLIND_INDEX_KEY_PREVIOUS_FILE", path, 1);
		ck_assert_msg(settings_load(&s, err, sizeof(err)) == CB_OK, "err: %s", err);
		ck_assert_str_eq(s.blind_index_key_previous, BLIND_HEX);
		settings_free(&s);
		setenv("CB_BLIND_INDEX_KEY_PREVIOUS_FILE", "/nonexistent/previous.key", 1);
		ck_assert_int_eq(settings_load(&s, err, sizeof(err)), CB_ERR_CONFIG);
		ck_assert_msg(strstr(err, "CB_BLIND_INDEX_KEY_PREVIOUS_FILE") != NULL, "err: %s", err);
		unsetenv("CB_BLIND_INDEX_KEY_PREVIOUS_FILE");
		ck_assert_int_eq(chmod(path, 0644), 0);
		ck_assert_int_eq(settings_load(&s, err, sizeof(err)), CB_ERR_CONFIG);
		ck_assert_msg(strstr(err, "blind index key file") && strstr(err, "0644"), "err: %s", err);
		ck_assert_int_eq(chmod(path, 0600), 0);
		blind_path_unlink = 1;
		util_strlcpy(blind_path, path, sizeof(blind_path));
	}
	setenv("CB_PG_DSN", "host=db password=topsecret", 1);
	setenv("CB_REDIS_PORT", "70000", 1);
	ck_assert_int_eq(settings_load(&s, err, sizeof(err)), CB_ERR_CONFIG);
	ck_assert_msg(strstr(err, "CB_REDIS_PORT") != NULL, "err: %s", err);
	ck_assert_ptr_null(strstr(err, "topsecret"));
	unsetenv("CB_REDIS_PORT");
	ck_assert_msg(settings_load(&s, err, sizeof(err)) == CB_OK, "err: %s", err);
	ck_assert_str_eq(s.pg_dsn, "host=db password=topsecret");
	ck_assert_str_eq(s.redis_host, "127.0.0.1");
	ck_assert_int_eq(s.redis_port, 6379);
	ck_assert_ptr_null(s.redis_password);
	ck_assert_str_eq(s.log_level, "info");
	settings_free(&s);
	ck_assert_ptr_null(s.pg_dsn);
	if (blind_path_unlink)
		unlink(blind_path);
}
END_TEST

START_TEST(test_settings_table_sane)
{
	size_t	 i, j;

	for (i = 0; i < settings_nvars; i++) {
		const struct conf_var *v = &settings_vars[i];

		ck_assert_msg(strncmp(v->name, "CB_", 3) == 0, "%s lacks the CB_ prefix", v->name);
		ck_assert_msg(v->help != NULL && v->help[0] != '\0', "%s has no help", v->name);
		/* A required setting with a default is never missing: a table bug. */
		ck_assert_msg(!((v->flags & CONF_REQUIRED) && v->def), "%s required with default",
		    v->name);
		if (v->type == CONF_INT)
			ck_assert_msg(v->min <= v->max, "%s bounds reversed", v->name);
		for (j = i + 1; j < settings_nvars; j++)
			ck_assert_msg(strcmp(v->name, settings_vars[j].name) != 0,
			    "%s listed twice", v->name);
	}
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("env");
	tcase_add_checked_fixture(tc, clean_env, NULL);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_env_means_default);
	tcase_add_test(tc, test_missing_required);
	tcase_add_loop_test(tc, test_int_bounds, 0, (int)CU_NELEM(port_cases));
	tcase_add_loop_test(tc, test_bool, 0, (int)CU_NELEM(bool_cases));
	tcase_add_test(tc, test_string_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, clean_env, NULL);
	tcase_add_test(tc, test_file_syntax);
	tcase_add_test(tc, test_env_overrides_file);
	tcase_add_test(tc, test_config_file_variable);
	tcase_add_loop_test(tc, test_bad_file, 0, (int)CU_NELEM(bad_files));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_long_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_checked_fixture(tc, clean_env, NULL);
	tcase_add_loop_test(tc, test_secret_not_in_error, 0, (int)CU_NELEM(secret_cases));
	tcase_add_test(tc, test_secret_loaded);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_settings_table);
	tcase_add_test(tc, test_settings_table_sane);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(conf_suite());
}
